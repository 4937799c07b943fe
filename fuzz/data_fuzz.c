/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for bx_msg_decode (src/data.c), the parser of every beam
 * payload a peer sends: the job request {cmd, env}, the per-job log/status
 * messages, and each job's env, which is a map nested in a value.
 *
 * Threat: a hostile or broken peer (an original Go worker or parent, or a
 * compromised beambox worker) sends arbitrary bytes. The decoder must never
 * read out of bounds, allocate on a length it has not checked, leak, or
 * accept bytes it cannot reproduce: whatever decodes must re-encode to a map
 * that decodes equal, and encoding must be a fixed point after one round.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <beambox/data.h>

static bool bytes_eq(const bx_bytes *a, const bx_bytes *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0 && a->p[a->len] == '\0' &&
	       b->p[b->len] == '\0';
}

/* Same keys in the same order, each with the same values in the same order. */
static bool msgs_equal(const bx_msg *a, const bx_msg *b)
{
	if (bx_msg_nkeys(a) != bx_msg_nkeys(b))
		return false;
	for (size_t i = 0; i < bx_msg_nkeys(a); i++) {
		const bx_bytes *va, *vb;
		bx_bytes ka, kb;
		size_t na, nb;

		if (bx_msg_key_at(a, i, &ka) || bx_msg_key_at(b, i, &kb) || !bytes_eq(&ka, &kb) ||
		    bx_msg_getn(a, ka.p, ka.len, &va, &na) ||
		    bx_msg_getn(b, kb.p, kb.len, &vb, &nb) || na != nb)
			return false;
		for (size_t j = 0; j < na; j++) {
			if (!bytes_eq(&va[j], &vb[j]))
				return false;
		}
	}
	return true;
}

/* Tries every value of m as a map nested one level deeper; must only not crash or leak. */
static void decode_nested(const bx_msg *m)
{
	for (size_t i = 0; i < bx_msg_nkeys(m); i++) {
		const bx_bytes *vals;
		bx_bytes key;
		size_t n;

		if (bx_msg_key_at(m, i, &key) || bx_msg_getn(m, key.p, key.len, &vals, &n))
			abort();
		for (size_t j = 0; j < n; j++) {
			bx_msg *inner = NULL;
			bx_error err;

			if (bx_msg_decode(vals[j].p, vals[j].len, 1, &inner, &err) == 0)
				bx_msg_free(inner);
			else if (inner != NULL || err.code >= 0 || err.text[0] == '\0')
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bx_msg *m = NULL, *m2 = NULL;
	char *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	bx_error err;
	int r;

	r = bx_msg_decode(data, size, 0, &m, &err);
	if (r < 0) {
		/* A refusal names itself and points inside (or just past) the input. */
		if (m != NULL || err.code != r || err.text[0] == '\0' ||
		    (err.offset > size && r != -ENOMEM))
			abort();
		return 0;
	}
	if (bx_msg_encode(m, &enc, &len) < 0)
		abort();
	/* Canonical input: the decoder keeps key order, so the encoding is the input. */
	if (len != size || memcmp(enc, data, size) != 0)
		abort();
	if (bx_msg_decode(enc, len, 0, &m2, &err) < 0)
		abort();
	if (!msgs_equal(m, m2))
		abort();
	if (bx_msg_encode(m2, &enc2, &len2) < 0 || len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	decode_nested(m);
	free(enc2);
	free(enc);
	bx_msg_free(m2);
	bx_msg_free(m);
	return 0;
}
