/* SPDX-License-Identifier: MIT */
/*
 * data: the message codec of Docker 1.0's pkg/beam/data (see beambox/data.h).
 *
 * A bx_msg is an ordered multimap: an array of keys in insertion order, each
 * with an array of values in order. Every key and value is its own
 * NUL-terminated heap copy, so bx_bytes handed out stay valid until that key
 * changes. Key lookup is a linear scan (at most BX_MSG_KEYS_MAX keys) that
 * compares a 64-bit hash before the bytes, so the duplicate check of the
 * decoder costs about one pass over the input, not one per key.
 *
 * The decoder walks the input with a bounded cursor; an inner cursor limited
 * to the enclosing netstring walks each value list, so a value can never
 * reach past its list. No allocation is sized by an untrusted length before
 * that length has been checked against the bytes actually present.
 */
#include <beambox/data.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cursor.h"
#include "util/error.h"
#include "util/intparse.h"

#define MSG_HEADER	"000;"
#define MSG_HEADER_LEN	4
#define MSG_TYPE_DIGITS 3
/* 10 digits reach 9999999999, beyond any frame (2^31 - 1): longer is refused. */
#define NETSTRING_DIGITS_MAX 10
/* How many untrusted bytes an error text shows (escaped). */
#define ERR_SHOW_MAX 32
#define ERR_ESC_SIZE (ERR_SHOW_MAX * 4 + 8)
#define NO_INDEX     SIZE_MAX

struct msg_key {
	char *name; /* NUL-terminated copy; may itself contain NULs */
	size_t nlen;
	uint64_t hash;
	bx_bytes *vals; /* each .p is its own NUL-terminated allocation */
	size_t nvals;
	size_t cap;
};

struct bx_msg {
	struct msg_key *keys;
	size_t nkeys;
	size_t cap;
	size_t nvalues; /* over all keys; never above BX_MSG_VALUES_MAX */
};

/* ------------------------------------------------------------------ helpers */

/* FNV-1a: only a fast "certainly different" test; equality is decided by memcmp. */
static uint64_t key_hash(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static char *dup_bytes(const void *p, size_t n)
{
	size_t sz;
	char *r;

	if (__builtin_add_overflow(n, 1, &sz))
		return NULL;
	r = malloc(sz);
	if (!r)
		return NULL;
	if (n)
		memcpy(r, p, n);
	r[n] = '\0';
	return r;
}

/* Quotes p[0..n) for an error text: at most ERR_SHOW_MAX bytes, non-printables as \xNN. */
static const char *esc(char out[ERR_ESC_SIZE], const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *b = p;
	size_t show = n < ERR_SHOW_MAX ? n : ERR_SHOW_MAX;
	size_t w = 0;

	out[w++] = '"';
	for (size_t i = 0; i < show; i++) {
		uint8_t ch = b[i];

		if (ch == '"' || ch == '\\') {
			out[w++] = '\\';
			out[w++] = (char)ch;
		} else if (ch >= 0x20 && ch < 0x7f) {
			out[w++] = (char)ch;
		} else {
			out[w++] = '\\';
			out[w++] = 'x';
			out[w++] = hex[ch >> 4];
			out[w++] = hex[ch & 0xf];
		}
	}
	out[w++] = '"';
	if (show < n) {
		memcpy(out + w, "...", 3);
		w += 3;
	}
	out[w] = '\0';
	return out;
}

static void key_clear_values(bx_msg *m, struct msg_key *k)
{
	for (size_t i = 0; i < k->nvals; i++)
		free((void *)k->vals[i].p);
	m->nvalues -= k->nvals;
	k->nvals = 0;
}

static void key_destroy(bx_msg *m, struct msg_key *k)
{
	key_clear_values(m, k);
	free(k->vals);
	free(k->name);
}

static struct msg_key *find_key(const bx_msg *m, const void *key, size_t klen, uint64_t h)
{
	for (size_t i = 0; i < m->nkeys; i++) {
		struct msg_key *k = &m->keys[i];

		if (k->hash == h && k->nlen == klen &&
		    (klen == 0 || memcmp(k->name, key, klen) == 0))
			return k;
	}
	return NULL;
}

/* Room for one more value in k (the caller has checked BX_MSG_VALUES_MAX). */
static int key_reserve_value(struct msg_key *k)
{
	size_t ncap, bytes;
	bx_bytes *nv;

	if (k->nvals < k->cap)
		return 0;
	ncap = k->cap ? k->cap * 2 : 4;
	if (ncap > BX_MSG_VALUES_MAX)
		ncap = BX_MSG_VALUES_MAX;
	if (ncap <= k->nvals)
		return -E2BIG;
	if (__builtin_mul_overflow(ncap, sizeof(*nv), &bytes))
		return -ENOMEM;
	nv = realloc(k->vals, bytes);
	if (!nv)
		return -ENOMEM;
	k->vals = nv;
	k->cap = ncap;
	return 0;
}

/*
 * Appends a new key with no values and returns it, or NULL (-ENOMEM). The
 * caller has checked that the key is absent and that BX_MSG_KEYS_MAX allows it.
 */
static struct msg_key *key_append(bx_msg *m, const void *key, size_t klen, uint64_t h)
{
	struct msg_key *k;
	char *name;

	if (m->nkeys == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;
		struct msg_key *nk;

		if (ncap > BX_MSG_KEYS_MAX)
			ncap = BX_MSG_KEYS_MAX;
		/* ncap * sizeof(*nk) cannot overflow: ncap <= BX_MSG_KEYS_MAX. */
		nk = realloc(m->keys, ncap * sizeof(*nk));
		if (!nk)
			return NULL;
		m->keys = nk;
		m->cap = ncap;
	}
	name = dup_bytes(key, klen);
	if (!name)
		return NULL;
	k = &m->keys[m->nkeys++];
	*k = (struct msg_key){.name = name, .nlen = klen, .hash = h};
	return k;
}

/* Removes the last key (used to undo key_append when a later step fails). */
static void key_pop(bx_msg *m)
{
	key_destroy(m, &m->keys[--m->nkeys]);
}

static bool bytes_ok(const void *p, size_t n)
{
	return p != NULL || n == 0;
}

/* ------------------------------------------------------------------ building */

BX_API int bx_msg_new(bx_msg **out)
{
	bx_msg *m;

	if (!out)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

BX_API void bx_msg_free(bx_msg *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nkeys; i++)
		key_destroy(m, &m->keys[i]);
	free(m->keys);
	free(m);
}

BX_API int bx_msg_addn(bx_msg *m, const void *key, size_t klen, const void *value, size_t vlen)
{
	uint64_t h;
	struct msg_key *k;
	bool created = false;
	char *v;
	int r;

	if (!m || !bytes_ok(key, klen) || !bytes_ok(value, vlen))
		return -EINVAL;
	h = key_hash(key, klen);
	k = find_key(m, key, klen, h);
	if (!k && m->nkeys >= BX_MSG_KEYS_MAX)
		return -E2BIG;
	if (m->nvalues >= BX_MSG_VALUES_MAX)
		return -E2BIG;
	v = dup_bytes(value, vlen);
	if (!v)
		return -ENOMEM;
	if (!k) {
		k = key_append(m, key, klen, h);
		if (!k) {
			free(v);
			return -ENOMEM;
		}
		created = true;
	}
	r = key_reserve_value(k);
	if (r < 0) {
		if (created)
			key_pop(m);
		free(v);
		return r;
	}
	k->vals[k->nvals++] = (bx_bytes){.p = v, .len = vlen};
	m->nvalues++;
	return 0;
}

BX_API int bx_msg_add(bx_msg *m, const char *key, const char *value)
{
	if (!key || !value)
		return -EINVAL;
	return bx_msg_addn(m, key, strlen(key), value, strlen(value));
}

BX_API int bx_msg_touch(bx_msg *m, const char *key)
{
	struct msg_key *k;
	size_t klen;
	uint64_t h;

	if (!m || !key)
		return -EINVAL;
	klen = strlen(key);
	h = key_hash(key, klen);
	k = find_key(m, key, klen, h);
	if (k) {
		key_clear_values(m, k);
		return 0;
	}
	if (m->nkeys >= BX_MSG_KEYS_MAX)
		return -E2BIG;
	return key_append(m, key, klen, h) ? 0 : -ENOMEM;
}

BX_API int bx_msg_setn(bx_msg *m, const void *key, size_t klen, const void *value, size_t vlen)
{
	uint64_t h;
	struct msg_key *k;
	bool created = false;
	size_t old;
	char *v;
	int r;

	if (!m || !bytes_ok(key, klen) || !bytes_ok(value, vlen))
		return -EINVAL;
	h = key_hash(key, klen);
	k = find_key(m, key, klen, h);
	if (!k && m->nkeys >= BX_MSG_KEYS_MAX)
		return -E2BIG;
	old = k ? k->nvals : 0;
	if (old == 0 && m->nvalues >= BX_MSG_VALUES_MAX)
		return -E2BIG;
	v = dup_bytes(value, vlen);
	if (!v)
		return -ENOMEM;
	if (!k) {
		k = key_append(m, key, klen, h);
		if (!k) {
			free(v);
			return -ENOMEM;
		}
		created = true;
	}
	r = key_reserve_value(k);
	if (r < 0) {
		if (created)
			key_pop(m);
		free(v);
		return r;
	}
	key_clear_values(m, k);
	k->vals[0] = (bx_bytes){.p = v, .len = vlen};
	k->nvals = 1;
	m->nvalues++;
	return 0;
}

BX_API int bx_msg_set(bx_msg *m, const char *key, const char *value)
{
	if (!key || !value)
		return -EINVAL;
	return bx_msg_setn(m, key, strlen(key), value, strlen(value));
}

BX_API int bx_msg_del(bx_msg *m, const char *key)
{
	struct msg_key *k;
	size_t klen, i;

	if (!m || !key)
		return -EINVAL;
	klen = strlen(key);
	k = find_key(m, key, klen, key_hash(key, klen));
	if (!k)
		return -ENOENT;
	i = (size_t)(k - m->keys);
	key_destroy(m, k);
	memmove(&m->keys[i], &m->keys[i + 1], (m->nkeys - i - 1) * sizeof(*k));
	m->nkeys--;
	return 0;
}

/* ------------------------------------------------------------------ reading */

BX_API size_t bx_msg_nkeys(const bx_msg *m)
{
	return m ? m->nkeys : 0;
}

BX_API int bx_msg_key_at(const bx_msg *m, size_t i, bx_bytes *key)
{
	if (!m || !key)
		return -EINVAL;
	if (i >= m->nkeys)
		return -ENOENT;
	*key = (bx_bytes){.p = m->keys[i].name, .len = m->keys[i].nlen};
	return 0;
}

BX_API int bx_msg_getn(const bx_msg *m, const void *key, size_t klen, const bx_bytes **values,
		       size_t *count)
{
	const struct msg_key *k;

	if (!m || !bytes_ok(key, klen) || !values || !count)
		return -EINVAL;
	k = find_key(m, key, klen, key_hash(key, klen));
	if (!k)
		return -ENOENT;
	*values = k->vals;
	*count = k->nvals;
	return 0;
}

BX_API int bx_msg_get(const bx_msg *m, const char *key, const bx_bytes **values, size_t *count)
{
	if (!key)
		return -EINVAL;
	return bx_msg_getn(m, key, strlen(key), values, count);
}

BX_API int bx_msg_get_one(const bx_msg *m, const char *key, bx_bytes *value)
{
	const bx_bytes *vals;
	size_t n;
	int r;

	if (!value)
		return -EINVAL;
	r = bx_msg_get(m, key, &vals, &n);
	if (r < 0)
		return r;
	if (n != 1)
		return -EBADMSG;
	*value = vals[0];
	return 0;
}

/* ------------------------------------------------------------------ encoding */

static size_t dec_digits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Adds the size of netstring(n bytes) to *total. */
static int add_netstring_size(size_t *total, size_t n)
{
	size_t ns;

	if (__builtin_add_overflow(n, dec_digits(n) + 2, &ns) ||
	    __builtin_add_overflow(*total, ns, total))
		return -EOVERFLOW;
	return 0;
}

/* Size of the concatenation of netstring(v) over k's values. */
static int list_size(const struct msg_key *k, size_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < k->nvals; i++) {
		if (add_netstring_size(&n, k->vals[i].len) < 0)
			return -EOVERFLOW;
	}
	*out = n;
	return 0;
}

/* Writes "<decimal n>:" at w and returns the position after it. */
static char *put_len(char *w, size_t n)
{
	char tmp[24];
	size_t d = 0;

	do {
		tmp[d++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (d)
		*w++ = tmp[--d];
	*w++ = ':';
	return w;
}

static char *put_netstring(char *w, const void *p, size_t n)
{
	w = put_len(w, n);
	if (n)
		memcpy(w, p, n);
	w += n;
	*w++ = ',';
	return w;
}

BX_API int bx_msg_encode(const bx_msg *m, char **buf, size_t *len)
{
	size_t total = MSG_HEADER_LEN, alloc;
	char *out, *w;

	if (!m || !buf || !len)
		return -EINVAL;
	for (size_t i = 0; i < m->nkeys; i++) {
		size_t inner;

		if (add_netstring_size(&total, m->keys[i].nlen) < 0 ||
		    list_size(&m->keys[i], &inner) < 0 || add_netstring_size(&total, inner) < 0)
			return -EOVERFLOW;
	}
	if (__builtin_add_overflow(total, 1, &alloc))
		return -EOVERFLOW;
	out = malloc(alloc);
	if (!out)
		return -ENOMEM;
	w = out;
	memcpy(w, MSG_HEADER, MSG_HEADER_LEN);
	w += MSG_HEADER_LEN;
	for (size_t i = 0; i < m->nkeys; i++) {
		const struct msg_key *k = &m->keys[i];
		size_t inner = 0;

		(void)list_size(k, &inner); /* cannot fail: checked in the sizing pass */
		w = put_netstring(w, k->name, k->nlen);
		w = put_len(w, inner);
		for (size_t j = 0; j < k->nvals; j++)
			w = put_netstring(w, k->vals[j].p, k->vals[j].len);
		*w++ = ',';
	}
	*w = '\0';
	*buf = out;
	*len = (size_t)(w - out);
	return 0;
}

/* ------------------------------------------------------------------ decoding */

/* What a netstring being parsed is, for error texts (formatted only on failure). */
struct ns_ctx {
	const char *what;   /* "key", "value list", "value" */
	const char *scope;  /* "message" or "value list" */
	size_t index;	    /* key number, value number within the list, or NO_INDEX */
	const uint8_t *key; /* the key owning a value list or value, else NULL */
	size_t klen;
};

static const char *ns_describe(char *out, size_t outsz, const struct ns_ctx *x)
{
	char kbuf[ERR_ESC_SIZE], ibuf[24] = "";

	if (x->index != NO_INDEX)
		snprintf(ibuf, sizeof(ibuf), " %zu", x->index);
	if (x->key)
		snprintf(out, outsz, "%s%s of key %s", x->what, ibuf, esc(kbuf, x->key, x->klen));
	else
		snprintf(out, outsz, "%s%s", x->what, ibuf);
	return out;
}

/*
 * Takes one netstring "len:bytes," from c (whose len is the end of the
 * enclosing scope) into *data and *n, or fills err and returns -EBADMSG.
 */
static int take_netstring(struct bx_cursor *c, const struct ns_ctx *x, bx_error *err,
			  const uint8_t **data, size_t *n)
{
	char desc[ERR_ESC_SIZE + 64], got[ERR_ESC_SIZE];
	size_t start = c->off, digits = 0;
	uint64_t v;
	const uint8_t *p;
	int ch;

	/* Count the digits on a copy of the cursor, stopping one past the cap. */
	for (struct bx_cursor scan = *c; digits <= NETSTRING_DIGITS_MAX; digits++) {
		ch = bx_cursor_peek(&scan);
		if (ch < '0' || ch > '9')
			break;
		(void)bx_cursor_take(&scan, 1);
	}
	if (digits == 0) {
		if (bx_cursor_left(c) == 0)
			return bx_fail(err, -EBADMSG, c->off,
				       "unexpected end of %s: expected the length of %s", x->scope,
				       ns_describe(desc, sizeof(desc), x));
		return bx_fail(err, -EBADMSG, c->off, "length of %s: expected a digit, got %s",
			       ns_describe(desc, sizeof(desc), x), esc(got, c->p + c->off, 1));
	}
	if (digits > 1 && c->p[start] == '0')
		return bx_fail(err, -EBADMSG, start, "length of %s has a leading zero",
			       ns_describe(desc, sizeof(desc), x));
	if (digits > NETSTRING_DIGITS_MAX)
		return bx_fail(err, -EBADMSG, start, "length of %s has more than %d digits",
			       ns_describe(desc, sizeof(desc), x), NETSTRING_DIGITS_MAX);
	p = bx_cursor_take(c, digits);
	if (!p || bx_parse_u64((const char *)p, digits, UINT64_MAX, &v) < 0)
		return bx_fail(err, -EBADMSG, start, "length of %s: bad number",
			       ns_describe(desc, sizeof(desc), x));
	ch = bx_cursor_peek(c);
	if (ch < 0)
		return bx_fail(err, -EBADMSG, c->off,
			       "unexpected end of %s: expected ':' after the length of %s",
			       x->scope, ns_describe(desc, sizeof(desc), x));
	if (ch != ':')
		return bx_fail(err, -EBADMSG, c->off, "length of %s: expected ':', got %s",
			       ns_describe(desc, sizeof(desc), x), esc(got, c->p + c->off, 1));
	(void)bx_cursor_take(c, 1);
	if (v > bx_cursor_left(c))
		return bx_fail(err, -EBADMSG, start,
			       "length %llu of %s runs past the end of the %s (%zu bytes left)",
			       (unsigned long long)v, ns_describe(desc, sizeof(desc), x), x->scope,
			       bx_cursor_left(c));
	p = bx_cursor_take(c, (size_t)v);
	ch = bx_cursor_peek(c);
	if (ch < 0)
		return bx_fail(err, -EBADMSG, c->off, "unexpected end of %s: expected ',' after %s",
			       x->scope, ns_describe(desc, sizeof(desc), x));
	if (ch != ',')
		return bx_fail(err, -EBADMSG, c->off, "expected ',' after %s, got %s",
			       ns_describe(desc, sizeof(desc), x), esc(got, c->p + c->off, 1));
	(void)bx_cursor_take(c, 1);
	*data = p;
	*n = (size_t)v;
	return 0;
}

/* Parses the values of one list (the inner cursor spans exactly the list) into k. */
static int decode_values(bx_msg *m, struct msg_key *k, struct bx_cursor *lc, bx_error *err)
{
	struct ns_ctx x = {.what = "value",
			   .scope = "value list",
			   .key = (const uint8_t *)k->name,
			   .klen = k->nlen};

	while (bx_cursor_left(lc) > 0) {
		size_t voff = lc->off, vlen;
		const uint8_t *vp;
		char *v;
		int r;

		x.index = k->nvals;
		r = take_netstring(lc, &x, err, &vp, &vlen);
		if (r < 0)
			return r;
		if (m->nvalues >= BX_MSG_VALUES_MAX)
			return bx_fail(err, -E2BIG, voff, "more than %d values in the message",
				       BX_MSG_VALUES_MAX);
		r = key_reserve_value(k);
		if (r < 0)
			return bx_fail(err, r, voff, "cannot store value: %s",
				       r == -ENOMEM ? "out of memory" : "too many values");
		v = dup_bytes(vp, vlen);
		if (!v)
			return bx_fail(err, -ENOMEM, voff, "cannot store value: out of memory");
		k->vals[k->nvals++] = (bx_bytes){.p = v, .len = vlen};
		m->nvalues++;
	}
	return 0;
}

static int decode_header(const uint8_t *b, size_t len, bx_error *err)
{
	char got[ERR_ESC_SIZE];
	unsigned type = 0;

	if (len < MSG_HEADER_LEN)
		return bx_fail(err, -EBADMSG, len,
			       "message too short: %zu bytes, a message is at least 4 (\"000;\")",
			       len);
	for (size_t i = 0; i < MSG_TYPE_DIGITS; i++) {
		if (b[i] < '0' || b[i] > '9')
			return bx_fail(err, -EBADMSG, i,
				       "message type must be three digits, got %s",
				       esc(got, b, MSG_TYPE_DIGITS));
		type = type * 10 + (unsigned)(b[i] - '0');
	}
	if (type != 0)
		return bx_fail(err, -EBADMSG, 0, "unknown message type %u", type);
	if (b[MSG_TYPE_DIGITS] != ';')
		return bx_fail(err, -EBADMSG, MSG_TYPE_DIGITS,
			       "expected ';' after the message type, got %s",
			       esc(got, b + MSG_TYPE_DIGITS, 1));
	return 0;
}

/*
 * Error codes and offsets, beyond what beambox/data.h promises:
 *  -EINVAL  out is NULL, or buf is NULL with len > 0 (offset BX_NO_OFFSET);
 *  -E2BIG   depth > BX_MSG_DEPTH_MAX (offset 0, nothing read), more than
 *           BX_MSG_KEYS_MAX keys (offset of the first key too many) or
 *           BX_MSG_VALUES_MAX values (offset of the first value too many);
 *  -EBADMSG everything malformed: "too short" points at len (where bytes ran
 *           out), a bad length at its first digit, a missing separator at the
 *           byte found instead (or at the end of the input or value list),
 *           a duplicate key at the start of its second occurrence.
 */
BX_API int bx_msg_decode(const void *buf, size_t len, unsigned depth, bx_msg **out, bx_error *err)
{
	bx_msg *m = NULL;
	struct bx_cursor c;
	int r;

	bx_error_clear(err);
	if (!out || !bytes_ok(buf, len))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_msg_decode: invalid argument");
	if (depth > BX_MSG_DEPTH_MAX)
		return bx_fail(err, -E2BIG, 0, "message nested %u deep, more than %d", depth,
			       BX_MSG_DEPTH_MAX);
	r = decode_header(buf, len, err);
	if (r < 0)
		return r;
	r = bx_msg_new(&m);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "cannot allocate message: out of memory");
	c = bx_cursor_init(buf, len);
	(void)bx_cursor_take(&c, MSG_HEADER_LEN);
	while (bx_cursor_left(&c) > 0) {
		struct ns_ctx kx = {.what = "key", .scope = "message", .index = m->nkeys};
		struct ns_ctx lx = {.what = "value list", .scope = "message", .index = NO_INDEX};
		size_t koff = c.off, klen, llen;
		const uint8_t *kp, *lp;
		char kbuf[ERR_ESC_SIZE];
		struct bx_cursor lc;
		struct msg_key *k;
		uint64_t h;

		r = take_netstring(&c, &kx, err, &kp, &klen);
		if (r < 0)
			goto fail;
		h = key_hash(kp, klen);
		if (find_key(m, kp, klen, h)) {
			r = bx_fail(err, -EBADMSG, koff, "duplicate key %s", esc(kbuf, kp, klen));
			goto fail;
		}
		if (m->nkeys >= BX_MSG_KEYS_MAX) {
			r = bx_fail(err, -E2BIG, koff, "more than %d keys in the message",
				    BX_MSG_KEYS_MAX);
			goto fail;
		}
		lx.key = kp;
		lx.klen = klen;
		r = take_netstring(&c, &lx, err, &lp, &llen);
		if (r < 0)
			goto fail;
		k = key_append(m, kp, klen, h);
		if (!k) {
			r = bx_fail(err, -ENOMEM, koff, "cannot store key: out of memory");
			goto fail;
		}
		/* The inner cursor ends where the list ends; offsets stay absolute. */
		lc = (struct bx_cursor){
		    .p = c.p, .len = (size_t)(lp - c.p) + llen, .off = (size_t)(lp - c.p)};
		r = decode_values(m, k, &lc, err);
		if (r < 0)
			goto fail;
	}
	*out = m;
	return 0;
fail:
	bx_msg_free(m);
	return r;
}

static bool bytes_equal(const bx_bytes *a, const bx_bytes *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

BX_API int bx_msg_equal(const bx_msg *a, const bx_msg *b)
{
	if (!a || !b || bx_msg_nkeys(a) != bx_msg_nkeys(b))
		return 0;
	for (size_t i = 0; i < bx_msg_nkeys(a); i++) {
		const bx_bytes *va, *vb;
		bx_bytes ka, kb;
		size_t na, nb;

		if (bx_msg_key_at(a, i, &ka) < 0 || bx_msg_key_at(b, i, &kb) < 0 ||
		    !bytes_equal(&ka, &kb) || bx_msg_getn(a, ka.p, ka.len, &va, &na) < 0 ||
		    bx_msg_getn(b, kb.p, kb.len, &vb, &nb) < 0 || na != nb)
			return 0;
		for (size_t j = 0; j < na; j++)
			if (!bytes_equal(&va[j], &vb[j]))
				return 0;
	}
	return 1;
}
