/* SPDX-License-Identifier: MIT */
/*
 * data: the message codec of Docker 1.0's pkg/beam/data: a map from key to
 * a list of values, all binary-safe byte strings.
 *
 *   "000;" then, per key: netstring(key) netstring(concat(netstring(v) ...))
 *   netstring(s) = decimal-length ":" s ","
 *   {"hello": ["beautiful", "world"]} -> 000;5:hello,20:9:beautiful,5:world,,
 *
 * bx_msg keeps keys in insertion order and values in order, so encoding is
 * deterministic. The decoder is strict: see bx_msg_decode.
 */
#ifndef BEAMBOX_DATA_H
#define BEAMBOX_DATA_H

#include <stddef.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hard caps on what a decoder accepts (and an encoder produces). */
#define BX_MSG_KEYS_MAX	  256
#define BX_MSG_VALUES_MAX 65536 /* all keys together */
/* Nesting: a value that itself holds an encoded map (e.g. a job's env) is one level deeper. */
#define BX_MSG_DEPTH_MAX 4

typedef struct bx_msg bx_msg;

/* A byte string borrowed from a bx_msg; valid until the message changes or is freed. */
typedef struct bx_bytes {
	const char *p; /* NUL-terminated for convenience; may also contain NULs */
	size_t len;
} bx_bytes;

BX_API BX_MUST_CHECK int bx_msg_new(bx_msg **out);
BX_API void bx_msg_free(bx_msg *m);

/* Appends a value to key (creating the key at the end if new). */
BX_API BX_MUST_CHECK int bx_msg_add(bx_msg *m, const char *key, const char *value);
BX_API BX_MUST_CHECK int bx_msg_addn(bx_msg *m, const void *key, size_t klen, const void *value,
				     size_t vlen);
/* Makes key present with no values (encodes as "0:,"). */
BX_API BX_MUST_CHECK int bx_msg_touch(bx_msg *m, const char *key);
/* Replaces all of key's values with one value (the key keeps its position). */
BX_API BX_MUST_CHECK int bx_msg_set(bx_msg *m, const char *key, const char *value);
BX_API BX_MUST_CHECK int bx_msg_setn(bx_msg *m, const void *key, size_t klen, const void *value,
				     size_t vlen);
/* Removes key; returns 0 or -ENOENT. */
BX_API int bx_msg_del(bx_msg *m, const char *key);

/* Number of keys, and the i-th key in order. */
BX_API size_t bx_msg_nkeys(const bx_msg *m);
BX_API BX_MUST_CHECK int bx_msg_key_at(const bx_msg *m, size_t i, bx_bytes *key);

/*
 * The values of key: *values points into the message (count may be 0 for a
 * present key with no values). Returns 0, or -ENOENT if key is absent.
 */
BX_API BX_MUST_CHECK int bx_msg_get(const bx_msg *m, const char *key, const bx_bytes **values,
				    size_t *count);
BX_API BX_MUST_CHECK int bx_msg_getn(const bx_msg *m, const void *key, size_t klen,
				     const bx_bytes **values, size_t *count);
/*
 * Exactly one value: returns 0 and *value, -ENOENT if the key is absent, or
 * -EBADMSG if it has zero or several values (an ambiguous message is an error).
 */
BX_API BX_MUST_CHECK int bx_msg_get_one(const bx_msg *m, const char *key, bx_bytes *value);

/* 1 if a and b have the same keys in the same order, each with the same values in order; else 0. */
BX_API int bx_msg_equal(const bx_msg *a, const bx_msg *b);

/* Encodes into a new malloc'ed buffer (NUL-terminated; *len excludes the NUL). */
BX_API BX_MUST_CHECK int bx_msg_encode(const bx_msg *m, char **buf, size_t *len);

/*
 * Decodes buf[0..len). depth is how deeply this map is nested in an outer
 * message (0 for a frame's payload, 1 for a map inside one of its values...);
 * it is refused beyond BX_MSG_DEPTH_MAX. Rejects, with err naming what and the
 * byte offset: a type other than "000", a missing ';', non-digit, leading-zero
 * or overflowing lengths, lengths past the end (of the input or of the
 * enclosing value list), missing commas, trailing bytes, more than
 * BX_MSG_KEYS_MAX keys or BX_MSG_VALUES_MAX values, and duplicate keys (the
 * original let the last win; a message that says two things is refused).
 * Returns 0, -EBADMSG (malformed), -E2BIG (a cap), -ENOMEM.
 */
BX_API BX_MUST_CHECK int bx_msg_decode(const void *buf, size_t len, unsigned depth, bx_msg **out,
				       bx_error *err);

#ifdef __cplusplus
}
#endif

#endif
