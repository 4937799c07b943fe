/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/data.c, the beam message codec: the byte vectors of the
 * original Go encoder (shared/design/beam-vectors.txt), a table of malformed
 * inputs with the errno and offset each must be refused with, the map API,
 * caps, nesting, and a seeded random round trip.
 */
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <beambox/data.h>

/* ------------------------------------------------------------------ helpers */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_VALS      6
#define MAX_KEYS      3

struct bs {
	const char *p;
	size_t len;
};
#define S(x)                                                                                       \
	{                                                                                          \
		x, sizeof(x) - 1                                                                   \
	}

struct kv {
	struct bs key;
	size_t nv;
	struct bs v[MAX_VALS];
};

/* A map to build (in this key order) or to expect. */
struct map {
	size_t nkeys;
	struct kv keys[MAX_KEYS];
};

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	assert_true(strlen(hex) % 2 == 0 && n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned b;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
	return n;
}

static bx_msg *build(const struct map *spec)
{
	bx_msg *m = NULL;

	assert_int_equal(bx_msg_new(&m), 0);
	for (size_t i = 0; i < spec->nkeys; i++) {
		const struct kv *k = &spec->keys[i];

		if (k->nv == 0) {
			assert_int_equal(strlen(k->key.p), k->key.len);
			assert_int_equal(bx_msg_touch(m, k->key.p), 0);
		}
		for (size_t j = 0; j < k->nv; j++)
			assert_int_equal(
			    bx_msg_addn(m, k->key.p, k->key.len, k->v[j].p, k->v[j].len), 0);
	}
	return m;
}

/* m holds exactly the keys of spec (in any order), each with the same values in order. */
static void assert_map(const bx_msg *m, const struct map *spec)
{
	assert_int_equal(bx_msg_nkeys(m), spec->nkeys);
	for (size_t i = 0; i < spec->nkeys; i++) {
		const struct kv *k = &spec->keys[i];
		const bx_bytes *vals = NULL;
		size_t n = 99;

		assert_int_equal(bx_msg_getn(m, k->key.p, k->key.len, &vals, &n), 0);
		assert_int_equal(n, k->nv);
		for (size_t j = 0; j < n; j++) {
			assert_int_equal(vals[j].len, k->v[j].len);
			assert_memory_equal(vals[j].p, k->v[j].p, k->v[j].len);
			assert_int_equal(vals[j].p[vals[j].len], '\0');
		}
	}
}


static void assert_encodes_to(const bx_msg *m, const void *want, size_t want_len)
{
	char *enc = NULL;
	size_t len = 0;

	assert_int_equal(bx_msg_encode(m, &enc, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(enc, want, len);
	assert_int_equal(enc[len], '\0');
	free(enc);
}
#define ENCODES(m, lit) assert_encodes_to(m, lit, sizeof(lit) - 1)

/* Decodes buf (must succeed), checks it against spec, and checks re-encoding gives buf back. */
static void assert_decodes_to(const void *buf, size_t len, const struct map *spec)
{
	bx_msg *m = NULL;
	bx_error err;

	if (bx_msg_decode(buf, len, 0, &m, &err) != 0)
		fail_msg("decode failed at %zu: %s", err.offset, err.text);
	assert_map(m, spec);
	/* Decoding keeps the input's key order, so re-encoding is byte-identical. */
	assert_encodes_to(m, buf, len);
	bx_msg_free(m);
}

/* ------------------------------------------------------------------ vectors */

struct vector {
	const char *name;
	struct map map;	 /* built in this key order */
	const char *hex; /* the original Go encoder's bytes */
};

static const struct vector vectors[] = {
    {"E1 empty", {0, {{S(""), 0, {{0}}}}}, "3030303b"},
    {"E2 foo=[bar]", {1, {{S("foo"), 1, {S("bar")}}}}, "3030303b333a666f6f2c363a333a6261722c2c"},
    {"E3 foo=[bar,baz]",
     {1, {{S("foo"), 2, {S("bar"), S("baz")}}}},
     "3030303b333a666f6f2c31323a333a6261722c333a62617a2c2c"},
    {"E4 foo=[]", {1, {{S("foo"), 0, {{0}}}}}, "3030303b333a666f6f2c303a2c"},
    {"E5 foo=[\"\"]", {1, {{S("foo"), 1, {S("")}}}}, "3030303b333a666f6f2c333a303a2c2c"},
    {"E6 \"\"=[\"\"]", {1, {{S(""), 1, {S("")}}}}, "3030303b303a2c333a303a2c2c"},
    {"E7 binary values",
     {1, {{S("k"), 5, {S("a\0b"), S(","), S(":"), S("x:y,z"), S("\xff\n")}}}},
     "3030303b313a6b2c32373a333a6100622c313a2c2c313a3a2c353a783a792c7a2c323aff0a2c2c"},
    {"E8 binary key",
     {1, {{S("a,b:c\0"), 1, {S("v")}}}},
     "3030303b363a612c623a63002c343a313a762c2c"},
    {"E9.1 a,b",
     {2, {{S("a"), 1, {S("1")}}, {S("b"), 1, {S("2")}}}},
     "3030303b313a612c343a313a312c2c313a622c343a313a322c2c"},
    {"E9.2 b,a",
     {2, {{S("b"), 1, {S("2")}}, {S("a"), 1, {S("1")}}}},
     "3030303b313a622c343a313a322c2c313a612c343a313a312c2c"},
    {"M1 empty", {0, {{S(""), 0, {{0}}}}}, "3030303b"},
    {"M2 log stdout",
     {1, {{S("cmd"), 2, {S("log"), S("stdout")}}}},
     "3030303b333a636d642c31353a333a6c6f672c363a7374646f75742c2c"},
    {"M3 log stderr",
     {1, {{S("cmd"), 2, {S("log"), S("stderr")}}}},
     "3030303b333a636d642c31353a333a6c6f672c363a7374646572722c2c"},
    {"M4 log stdin",
     {1, {{S("cmd"), 2, {S("log"), S("stdin")}}}},
     "3030303b333a636d642c31343a333a6c6f672c353a737464696e2c2c"},
    {"M5 status 0",
     {1, {{S("cmd"), 2, {S("status"), S("0")}}}},
     "3030303b333a636d642c31333a363a7374617475732c313a302c2c"},
    {"M6 status 1",
     {1, {{S("cmd"), 2, {S("status"), S("1")}}}},
     "3030303b333a636d642c31333a363a7374617475732c313a312c2c"},
    {"M7 status 127",
     {1, {{S("cmd"), 2, {S("status"), S("127")}}}},
     "3030303b333a636d642c31353a363a7374617475732c333a3132372c2c"},
    {"M8.1 job cmd,env",
     {2, {{S("cmd"), 2, {S("echo"), S("hello")}}, {S("env"), 1, {S("000;3:FOO,6:3:bar,,")}}}},
     "3030303b333a636d642c31353a343a6563686f2c353a68656c6c6f2c2c333a656e762c32333a31393a3030"
     "303b333a464f4f2c363a333a6261722c2c2c2c"},
    {"M8.2 job env,cmd",
     {2, {{S("env"), 1, {S("000;3:FOO,6:3:bar,,")}}, {S("cmd"), 2, {S("echo"), S("hello")}}}},
     "3030303b333a656e762c32333a31393a3030303b333a464f4f2c363a333a6261722c2c2c2c333a636d642c"
     "31353a343a6563686f2c353a68656c6c6f2c2c"},
    {"M9 job with no env", {0, {{S(""), 0, {{0}}}}}, "3030303b"},
    {"issue example",
     {1, {{S("hello"), 2, {S("beautiful"), S("world")}}}},
     "3030303b353a68656c6c6f2c32303a393a62656175746966756c2c353a776f726c642c2c"},
};

static void test_vectors_encode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		uint8_t want[256];
		size_t n = unhex(vectors[i].hex, want, sizeof(want));
		bx_msg *m = build(&vectors[i].map);

		print_message("encode %s\n", vectors[i].name);
		assert_encodes_to(m, want, n);
		bx_msg_free(m);
	}
}

static void test_vectors_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		uint8_t in[256];
		size_t n = unhex(vectors[i].hex, in, sizeof(in));

		print_message("decode %s\n", vectors[i].name);
		assert_decodes_to(in, n, &vectors[i].map);
	}
}

/* Both key orders of E9 and of M8 decode to the same map. */
static void test_key_order_variants(void **state)
{
	static const char *const pairs[][2] = {
	    {"000;1:a,4:1:1,,1:b,4:1:2,,", "000;1:b,4:1:2,,1:a,4:1:1,,"},
	    {"000;3:cmd,15:4:echo,5:hello,,3:env,23:19:000;3:FOO,6:"
	     "3:bar,,,,",
	     "000;3:env,23:19:000;3:FOO,6:3:bar,,,,3:cmd,15:4:echo,5:"
	     "hello,,"}};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		bx_msg *a = NULL, *b = NULL;
		bx_error err;

		assert_int_equal(bx_msg_decode(pairs[i][0], strlen(pairs[i][0]), 0, &a, &err), 0);
		assert_int_equal(bx_msg_decode(pairs[i][1], strlen(pairs[i][1]), 0, &b, &err), 0);
		assert_int_equal(bx_msg_nkeys(a), bx_msg_nkeys(b));
		for (size_t k = 0; k < bx_msg_nkeys(a); k++) {
			const bx_bytes *va, *vb;
			size_t na, nb;
			bx_bytes key;

			assert_int_equal(bx_msg_key_at(a, k, &key), 0);
			assert_int_equal(bx_msg_getn(a, key.p, key.len, &va, &na), 0);
			assert_int_equal(bx_msg_getn(b, key.p, key.len, &vb, &nb), 0);
			assert_int_equal(na, nb);
			for (size_t j = 0; j < na; j++) {
				assert_int_equal(va[j].len, vb[j].len);
				assert_memory_equal(va[j].p, vb[j].p, va[j].len);
			}
		}
		/* Insertion order follows the input. */
		assert_false(bx_msg_equal(a, b));
		bx_msg_free(a);
		bx_msg_free(b);
	}
}

/* E10: one value of 1000 'x'. */
static void test_vector_e10_long(void **state)
{
	/* want's sha256 is 2e6bb45c...6166a, as beam-vectors.txt records for the Go encoder. */
	char val[1000], want[1023];
	bx_msg *m = NULL;
	struct map spec = {1, {{S("long"), 1, {{val, sizeof(val)}}}}};
	(void)state;

	memset(val, 'x', sizeof(val));
	memcpy(want, "000;4:long,1006:1000:", 21);
	memcpy(want + 21, val, sizeof(val));
	memcpy(want + 1021, ",,", 2);
	m = build(&spec);
	assert_encodes_to(m, want, sizeof(want));
	bx_msg_free(m);
	assert_decodes_to(want, sizeof(want), &spec);
}

/* The same messages built with set, as engine/remote.go does. */
static void test_vectors_set(void **state)
{
	bx_msg *m = NULL;
	(void)state;

	assert_int_equal(bx_msg_new(&m), 0);
	assert_int_equal(bx_msg_set(m, "cmd", "log"), 0);
	assert_int_equal(bx_msg_add(m, "cmd", "stdout"), 0);
	ENCODES(m, "000;3:cmd,15:3:log,6:stdout,,");
	assert_int_equal(bx_msg_set(m, "cmd", "status"), 0);
	assert_int_equal(bx_msg_add(m, "cmd", "127"), 0);
	ENCODES(m, "000;3:cmd,15:6:status,3:127,,");
	bx_msg_free(m);
}

/* ------------------------------------------------------------------ bad inputs */

struct bad {
	const char *name;
	const char *in;
	size_t len;
	int code;
	size_t offset;
	const char *text; /* a substring the error text must contain, or NULL */
};
#define BAD(name, lit, code, off, text)                                                            \
	{                                                                                          \
		name, lit, sizeof(lit) - 1, code, off, text                                        \
	}

static const struct bad bad_inputs[] = {
    BAD("empty", "", -EBADMSG, 0, "too short"),
    BAD("short2", "00", -EBADMSG, 2, "too short"),
    BAD("short3", "000", -EBADMSG, 3, "too short"),
    BAD("type1", "001;", -EBADMSG, 0, "unknown message type 1"),
    BAD("type100", "100;", -EBADMSG, 0, "unknown message type 100"),
    BAD("type nondigit0", "a00;", -EBADMSG, 0, "three digits"),
    BAD("type nondigit1", "0a0;", -EBADMSG, 1, "three digits"),
    BAD("type nondigit2", "00a;", -EBADMSG, 2, "three digits"),
    BAD("type sign", "-00;", -EBADMSG, 0, "three digits"),
    BAD("type nul",
	"0\0"
	"0;",
	-EBADMSG, 1, "\\x00"),
    BAD("no semicolon", "000:", -EBADMSG, 3, "';'"),
    BAD("four digit type", "0000;", -EBADMSG, 3, "';'"),
    BAD("key len nondigit", "000;x:foo,0:,", -EBADMSG, 4, "expected a digit, got \"x\""),
    BAD("key len space", "000; 1:a,0:,", -EBADMSG, 4, "expected a digit"),
    BAD("key len plus", "000;+1:a,0:,", -EBADMSG, 4, "expected a digit"),
    BAD("key len nul", "000;\0", -EBADMSG, 4, "\"\\x00\""),
    BAD("key len high byte", "000;\x80", -EBADMSG, 4, "\"\\x80\""),
    BAD("key len leading zero", "000;03:foo,0:,", -EBADMSG, 4, "leading zero"),
    BAD("key len 00", "000;00:,0:,", -EBADMSG, 4, "leading zero"),
    BAD("key len zeros", "000;0000000001:a,0:,", -EBADMSG, 4, "leading zero"),
    BAD("key len 11 digits", "000;99999999999:x,", -EBADMSG, 4, "more than 10 digits"),
    BAD("key len u64 overflow", "000;18446744073709551616:", -EBADMSG, 4, "more than 10 digits"),
    BAD("key len 10 digits", "000;9999999999:x,", -EBADMSG, 4, "past the end of the message"),
    BAD("key len past end", "000;9:foo,0:,", -EBADMSG, 4, "past the end of the message"),
    BAD("key len no colon", "000;3foo,0:,", -EBADMSG, 5, "expected ':'"),
    BAD("key len then end", "000;3", -EBADMSG, 5, "expected ':'"),
    BAD("key zero len then end", "000;0", -EBADMSG, 5, "expected ':'"),
    BAD("key no comma at end", "000;3:foo", -EBADMSG, 9, "expected ','"),
    BAD("key high byte no comma", "000;1:\xff", -EBADMSG, 7, "expected ','"),
    BAD("key wrong terminator", "000;3:foo;0:,", -EBADMSG, 9, "got \";\""),
    BAD("key len too big", "000;4:foo,0:,", -EBADMSG, 10, "got \"0\""),
    BAD("key without list", "000;3:foo,", -EBADMSG, 10, "length of value list"),
    BAD("list len nondigit", "000;3:foo,x", -EBADMSG, 10, "expected a digit"),
    BAD("list no comma", "000;3:foo,0:x", -EBADMSG, 12, "expected ','"),
    BAD("list len past end", "000;3:foo,7:3:bar,,", -EBADMSG, 19, "expected ','"),
    BAD("list len leading zero", "000;1:a,01:x,", -EBADMSG, 8, "leading zero"),
    BAD("list one byte", "000;1:a,1:,", -EBADMSG, 11, "expected ','"),
    BAD("value truncated by list", "000;3:foo,5:3:bar,,", -EBADMSG, 17, "end of value list"),
    BAD("value past list end", "000;3:foo,4:9:b,,,,,,,,,,,,", -EBADMSG, 12,
	"past the end of the value list"),
    BAD("value junk in list", "000;3:foo,7:3:bar,x,", -EBADMSG, 18, "expected a digit"),
    BAD("value no comma", "000;1:a,3:0:x,", -EBADMSG, 12, "expected ','"),
    BAD("value leading zero", "000;1:a,5:01:x,,", -EBADMSG, 10, "leading zero"),
    BAD("value len nondigit", "000;1:a,3:x:,,", -EBADMSG, 10, "value 0 of key \"a\""),
    BAD("trailing digit", "000;1:a,0:,1", -EBADMSG, 12, "expected ':'"),
    BAD("trailing junk", "000;1:a,0:,x", -EBADMSG, 11, "expected a digit"),
    BAD("trailing key only", "000;1:a,0:,1:b,", -EBADMSG, 15, "value list"),
    BAD("trailing comma", "000;1:a,0:,,", -EBADMSG, 11, "expected a digit"),
    BAD("trailing newline", "000;1:a,0:,\n", -EBADMSG, 11, "\"\\x0a\""),
    BAD("duplicate key", "000;1:a,0:,1:a,0:,", -EBADMSG, 11, "duplicate key \"a\""),
    BAD("duplicate empty key", "000;0:,0:,0:,0:,", -EBADMSG, 10, "duplicate key \"\""),
    BAD("duplicate key values", "000;1:a,4:1:x,,1:a,4:1:y,,", -EBADMSG, 15, "duplicate key"),
    BAD("duplicate binary key",
	"000;2:\x01\""
	",0:,2:\x01\""
	",0:,",
	-EBADMSG, 12, "duplicate key \"\\x01\\\"\""),
};

static void test_bad_inputs(void **state)
{
	(void)state;
	assert_true(ARRAY_SIZE(bad_inputs) >= 30);
	for (size_t i = 0; i < ARRAY_SIZE(bad_inputs); i++) {
		const struct bad *b = &bad_inputs[i];
		bx_msg *m = (bx_msg *)(uintptr_t)0x1; /* must stay untouched */
		bx_error err;
		int r = bx_msg_decode(b->in, b->len, 0, &m, &err);

		if (r != b->code || err.offset != b->offset || err.code != r ||
		    (b->text && !strstr(err.text, b->text)))
			fail_msg("%s: got %d at %zu (%s), want %d at %zu (%s)", b->name, r,
				 err.offset, err.text, b->code, b->offset, b->text ? b->text : "");
		assert_ptr_equal(m, (bx_msg *)(uintptr_t)0x1);
		/* Every shorter prefix of a bad input is refused too, and NULL err is fine. */
		for (size_t n = 0; n < b->len; n++) {
			bx_msg *p = NULL;

			if (bx_msg_decode(b->in, n, 0, &p, NULL) == 0)
				bx_msg_free(p);
		}
	}
}

/* Every tests/data/invalid_msg_*.bin fixture is refused. */
static void test_invalid_fixtures(void **state)
{
	DIR *d = opendir(BX_TEST_DATA_DIR);
	struct dirent *e;
	int seen = 0;
	(void)state;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[512], buf[4096];
		size_t n;
		bx_msg *m = NULL;
		bx_error err;
		FILE *f;
		int r;

		if (strncmp(e->d_name, "invalid_msg_", 12) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", BX_TEST_DATA_DIR, e->d_name);
		f = fopen(path, "rbe");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		r = bx_msg_decode(buf, n, 0, &m, &err);
		if (r != -EBADMSG && r != -E2BIG)
			fail_msg("%s: decode returned %d", e->d_name, r);
		assert_true(err.text[0] != '\0');
		seen++;
	}
	closedir(d);
	assert_true(seen >= 30);
}

/* ------------------------------------------------------------------ caps and nesting */

static void test_depth(void **state)
{
	static const char env[] = "000;3:FOO,6:3:bar,,";
	static const char m8[] = "000;3:cmd,15:4:echo,5:hello,,3:env,23:19:000;3:FOO,6:3:bar,,,,";
	bx_msg *m = NULL, *inner = NULL;
	bx_bytes v;
	bx_error err;
	(void)state;

	assert_int_equal(bx_msg_decode(m8, sizeof(m8) - 1, 0, &m, &err), 0);
	assert_int_equal(bx_msg_get_one(m, "env", &v), 0);
	assert_int_equal(bx_msg_decode(v.p, v.len, 1, &inner, &err), 0);
	assert_int_equal(bx_msg_get_one(inner, "FOO", &v), 0);
	assert_string_equal(v.p, "bar");
	bx_msg_free(inner);
	bx_msg_free(m);

	for (unsigned d = 0; d <= BX_MSG_DEPTH_MAX; d++) {
		assert_int_equal(bx_msg_decode(env, sizeof(env) - 1, d, &inner, &err), 0);
		bx_msg_free(inner);
	}
	inner = NULL;
	assert_int_equal(bx_msg_decode(env, sizeof(env) - 1, BX_MSG_DEPTH_MAX + 1, &inner, &err),
			 -E2BIG);
	assert_int_equal(err.code, -E2BIG);
	assert_int_equal(err.offset, 0);
	assert_non_null(strstr(err.text, "nested"));
	assert_null(inner);
	assert_int_equal(bx_msg_decode(env, sizeof(env) - 1, 1000, &inner, &err), -E2BIG);
}

/* Appends netstring(s) to buf at *w. */
static void put_ns(char *buf, size_t *w, const char *s, size_t n)
{
	*w += (size_t)sprintf(buf + *w, "%zu:", n);
	memcpy(buf + *w, s, n);
	*w += n;
	buf[(*w)++] = ',';
}

static void test_caps_keys(void **state)
{
	char *buf = malloc(64 * 1024), *enc = NULL;
	size_t w = 0, off257 = 0, len;
	bx_msg *m = NULL, *d = NULL;
	bx_error err;
	(void)state;

	assert_non_null(buf);
	/* Encoder side: 256 keys fit, the 257th is refused and changes nothing. */
	assert_int_equal(bx_msg_new(&m), 0);
	for (int i = 0; i < BX_MSG_KEYS_MAX; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		assert_int_equal(i % 2 ? bx_msg_touch(m, k) : bx_msg_add(m, k, "v"), 0);
	}
	assert_int_equal(bx_msg_add(m, "extra", "v"), -E2BIG);
	assert_int_equal(bx_msg_touch(m, "extra"), -E2BIG);
	assert_int_equal(bx_msg_set(m, "extra", "v"), -E2BIG);
	assert_int_equal(bx_msg_nkeys(m), BX_MSG_KEYS_MAX);
	assert_int_equal(bx_msg_add(m, "k0", "w"), 0); /* existing keys still take values */
	/* What the encoder produces at the cap, the decoder takes. */
	assert_int_equal(bx_msg_encode(m, &enc, &len), 0);
	assert_int_equal(bx_msg_decode(enc, len, 0, &d, &err), 0);
	assert_true(bx_msg_equal(m, d));
	bx_msg_free(d);
	free(enc);
	bx_msg_free(m);

	/* Decoder side: the 257th key is refused with -E2BIG at its offset. */
	memcpy(buf, "000;", 4);
	w = 4;
	for (int i = 0; i <= BX_MSG_KEYS_MAX; i++) {
		char k[16];
		int n = snprintf(k, sizeof(k), "k%d", i);

		if (i == BX_MSG_KEYS_MAX)
			off257 = w;
		put_ns(buf, &w, k, (size_t)n);
		put_ns(buf, &w, "", 0);
	}
	d = NULL;
	assert_int_equal(bx_msg_decode(buf, w, 0, &d, &err), -E2BIG);
	assert_int_equal(err.offset, off257);
	assert_non_null(strstr(err.text, "keys"));
	assert_null(d);
	free(buf);
}

static void test_caps_values(void **state)
{
	size_t nvals = BX_MSG_VALUES_MAX + 1, w, len;
	char *buf = malloc(4 * nvals), *enc = NULL, *list;
	bx_msg *m = NULL, *d = NULL;
	const bx_bytes *vals;
	size_t n;
	bx_error err;
	(void)state;

	assert_non_null(buf);
	assert_int_equal(bx_msg_new(&m), 0);
	for (int i = 0; i < BX_MSG_VALUES_MAX; i++)
		assert_int_equal(bx_msg_add(m, i < 10 ? "a" : "b", ""), 0);
	assert_int_equal(bx_msg_add(m, "a", "x"), -E2BIG);
	assert_int_equal(bx_msg_add(m, "c", "x"), -E2BIG);
	assert_int_equal(bx_msg_nkeys(m), 2);
	assert_int_equal(bx_msg_touch(m, "c"), 0);	   /* a key with no values costs no value */
	assert_int_equal(bx_msg_set(m, "c", "x"), -E2BIG); /* ...but giving it one does */
	assert_int_equal(bx_msg_set(m, "a", "x"), 0);	   /* 10 values become 1 */
	assert_int_equal(bx_msg_get(m, "a", &vals, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bx_msg_set(m, "c", "x"), 0); /* room again */
	assert_int_equal(bx_msg_encode(m, &enc, &len), 0);
	assert_int_equal(bx_msg_decode(enc, len, 0, &d, &err), 0);
	assert_true(bx_msg_equal(m, d));
	bx_msg_free(d);
	free(enc);
	assert_int_equal(bx_msg_del(m, "b"), 0);
	assert_int_equal(bx_msg_add(m, "c", "y"), 0); /* del gives values back */
	bx_msg_free(m);

	/*
	 * Decoder: 65537 empty values, in one list and then spread over several
	 * keys; the last value is refused, at its offset (the last "0:," before
	 * the closing ',').
	 */
	list = malloc(3 * nvals);
	assert_non_null(list);
	for (size_t j = 0; j < nvals; j++)
		memcpy(list + 3 * j, "0:,", 3);
	for (size_t t = 0; t < 2; t++) {
		size_t per_key = t == 0 ? nvals : 1000;

		memcpy(buf, "000;", 4);
		w = 4;
		for (size_t done = 0, i = 0; done < nvals; i++) {
			size_t cnt = nvals - done < per_key ? nvals - done : per_key;
			char k[24];
			int kl = snprintf(k, sizeof(k), "k%zu", i);

			put_ns(buf, &w, k, (size_t)kl);
			put_ns(buf, &w, list, 3 * cnt);
			done += cnt;
		}
		d = NULL;
		assert_int_equal(bx_msg_decode(buf, w, 0, &d, &err), -E2BIG);
		assert_int_equal(err.offset, w - 4);
		assert_non_null(strstr(err.text, "values"));
		assert_null(d);
	}
	free(list);
	free(buf);
}

/* ------------------------------------------------------------------ map API */

static void test_api(void **state)
{
	bx_msg *m = NULL;
	const bx_bytes *vals = (const bx_bytes *)(uintptr_t)0x1;
	bx_bytes v = {"untouched", 9}, k;
	size_t n = 77;
	(void)state;

	assert_int_equal(bx_msg_new(NULL), -EINVAL);
	assert_int_equal(bx_msg_new(&m), 0);
	assert_int_equal(bx_msg_nkeys(m), 0);
	assert_int_equal(bx_msg_nkeys(NULL), 0);
	bx_msg_free(NULL);

	/* absent keys */
	assert_int_equal(bx_msg_get(m, "a", &vals, &n), -ENOENT);
	assert_int_equal(bx_msg_get_one(m, "a", &v), -ENOENT);
	assert_ptr_equal(vals, (const bx_bytes *)(uintptr_t)0x1);
	assert_int_equal(n, 77);
	assert_int_equal(v.len, 9);
	assert_int_equal(bx_msg_del(m, "a"), -ENOENT);
	assert_int_equal(bx_msg_key_at(m, 0, &k), -ENOENT);

	/* add keeps insertion order of keys and of values */
	assert_int_equal(bx_msg_add(m, "b", "1"), 0);
	assert_int_equal(bx_msg_add(m, "a", "2"), 0);
	assert_int_equal(bx_msg_add(m, "b", "3"), 0);
	assert_int_equal(bx_msg_nkeys(m), 2);
	assert_int_equal(bx_msg_key_at(m, 0, &k), 0);
	assert_string_equal(k.p, "b");
	assert_int_equal(bx_msg_key_at(m, 1, &k), 0);
	assert_string_equal(k.p, "a");
	assert_int_equal(bx_msg_key_at(m, 2, &k), -ENOENT);
	assert_int_equal(bx_msg_get(m, "b", &vals, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(vals[0].p, "1");
	assert_string_equal(vals[1].p, "3");
	ENCODES(m, "000;1:b,8:1:1,1:3,,1:a,4:1:2,,");

	/* get_one: exactly one value */
	assert_int_equal(bx_msg_get_one(m, "b", &v), -EBADMSG);
	assert_int_equal(v.len, 9);
	assert_int_equal(bx_msg_get_one(m, "a", &v), 0);
	assert_string_equal(v.p, "2");
	assert_int_equal(v.len, 1);

	/* touch: present with no values; on an existing key it drops the values in place */
	assert_int_equal(bx_msg_touch(m, "c"), 0);
	assert_int_equal(bx_msg_get(m, "c", &vals, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bx_msg_get_one(m, "c", &v), -EBADMSG);
	assert_int_equal(bx_msg_touch(m, "b"), 0);
	assert_int_equal(bx_msg_get(m, "b", &vals, &n), 0);
	assert_int_equal(n, 0);
	ENCODES(m, "000;1:b,0:,1:a,4:1:2,,1:c,0:,");

	/* set: one value, key keeps its position */
	assert_int_equal(bx_msg_add(m, "a", "x"), 0);
	assert_int_equal(bx_msg_set(m, "a", "y"), 0);
	assert_int_equal(bx_msg_get(m, "a", &vals, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(vals[0].p, "y");
	assert_int_equal(bx_msg_set(m, "d", "z"), 0);
	ENCODES(m, "000;1:b,0:,1:a,4:1:y,,1:c,0:,1:d,4:1:z,,");

	/* del keeps the order of the others */
	assert_int_equal(bx_msg_del(m, "a"), 0);
	assert_int_equal(bx_msg_del(m, "a"), -ENOENT);
	assert_int_equal(bx_msg_nkeys(m), 3);
	ENCODES(m, "000;1:b,0:,1:c,0:,1:d,4:1:z,,");
	assert_int_equal(bx_msg_del(m, "d"), 0);
	assert_int_equal(bx_msg_del(m, "b"), 0);
	assert_int_equal(bx_msg_del(m, "c"), 0);
	assert_int_equal(bx_msg_nkeys(m), 0);
	ENCODES(m, "000;");

	/* binary-safe keys and values, with the n variants; empty key and value */
	assert_int_equal(bx_msg_addn(m, "k\0ey", 4, "v\0al", 4), 0);
	assert_int_equal(bx_msg_addn(m, "k", 1, "", 0), 0);
	assert_int_equal(bx_msg_addn(m, "", 0, NULL, 0), 0);
	assert_int_equal(bx_msg_getn(m, "k\0ey", 4, &vals, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(vals[0].len, 4);
	assert_memory_equal(vals[0].p, "v\0al", 5);	    /* includes the terminating NUL */
	assert_int_equal(bx_msg_get(m, "k", &vals, &n), 0); /* "k" is not "k\0ey" */
	assert_int_equal(n, 1);
	assert_int_equal(vals[0].len, 0);
	assert_int_equal(bx_msg_get_one(m, "", &v), 0);
	assert_int_equal(v.len, 0);
	assert_string_equal(v.p, "");
	assert_int_equal(bx_msg_setn(m, "k\0ey", 4, "\xff", 1), 0);
	ENCODES(m, "000;4:k\0ey,4:1:\xff,,1:k,3:0:,,0:,3:0:,,");

	/* argument errors */
	assert_int_equal(bx_msg_add(NULL, "a", "b"), -EINVAL);
	assert_int_equal(bx_msg_add(m, NULL, "b"), -EINVAL);
	assert_int_equal(bx_msg_add(m, "a", NULL), -EINVAL);
	assert_int_equal(bx_msg_addn(m, NULL, 1, "b", 1), -EINVAL);
	assert_int_equal(bx_msg_setn(m, "a", 1, NULL, 1), -EINVAL);
	assert_int_equal(bx_msg_touch(m, NULL), -EINVAL);
	assert_int_equal(bx_msg_get(m, "a", NULL, &n), -EINVAL);
	assert_int_equal(bx_msg_get_one(m, "a", NULL), -EINVAL);
	assert_int_equal(bx_msg_key_at(m, 0, NULL), -EINVAL);
	assert_int_equal(bx_msg_encode(m, NULL, &n), -EINVAL);
	assert_int_equal(bx_msg_decode("000;", 4, 0, NULL, NULL), -EINVAL);
	assert_int_equal(bx_msg_decode(NULL, 4, 0, &m, NULL), -EINVAL);
	assert_int_equal(bx_msg_nkeys(m), 3);
	bx_msg_free(m);
}

/* ------------------------------------------------------------------ random round trip */

static uint64_t rng_state = 0x5eed0bea4b0c5ULL;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: deterministic across platforms */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static size_t rnd_bytes(char *buf, size_t max)
{
	static const char special[] = {'\0', ',', ':', ';', '0', '1', '9', '\xff', '\n', '"'};
	size_t n = rnd(4) == 0 ? 0 : rnd((uint32_t)max + 1);

	for (size_t i = 0; i < n; i++)
		buf[i] = rnd(2) ? special[rnd(sizeof(special))] : (char)rnd(256);
	return n;
}

static void test_random_round_trip(void **state)
{
	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		bx_msg *m = NULL, *d = NULL;
		char *enc = NULL, *enc2 = NULL;
		size_t len, len2, nk = rnd(9);
		bx_error err;

		assert_int_equal(bx_msg_new(&m), 0);
		for (size_t i = 0; i < nk; i++) {
			char key[16], val[64];
			size_t klen = rnd_bytes(key, sizeof(key) - 1), nv = rnd(6);

			key[klen] = '\0';
			if (nv == 0 && strlen(key) == klen)
				assert_int_equal(bx_msg_touch(m, key), 0);
			for (size_t j = 0; j < nv; j++) {
				size_t vlen = rnd_bytes(val, sizeof(val));

				if (rnd(8) == 0)
					assert_int_equal(bx_msg_setn(m, key, klen, val, vlen), 0);
				else
					assert_int_equal(bx_msg_addn(m, key, klen, val, vlen), 0);
			}
		}
		assert_int_equal(bx_msg_encode(m, &enc, &len), 0);
		if (bx_msg_decode(enc, len, 0, &d, &err) != 0)
			fail_msg("iteration %d: decode failed at %zu: %s", iter, err.offset,
				 err.text);
		assert_true(bx_msg_equal(m, d));
		assert_int_equal(bx_msg_encode(d, &enc2, &len2), 0);
		assert_int_equal(len, len2);
		assert_memory_equal(enc, enc2, len);
		/* Every strict prefix is refused (or, where it ends on a pair boundary, shorter).
		 */
		for (size_t cut = 0; cut < len && cut < 64; cut++) {
			bx_msg *p = NULL;

			if (bx_msg_decode(enc, cut, 0, &p, NULL) == 0) {
				assert_true(bx_msg_nkeys(p) < bx_msg_nkeys(m));
				bx_msg_free(p);
			}
		}
		free(enc);
		free(enc2);
		bx_msg_free(d);
		bx_msg_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors_encode),
	    cmocka_unit_test(test_vectors_decode),
	    cmocka_unit_test(test_key_order_variants),
	    cmocka_unit_test(test_vector_e10_long),
	    cmocka_unit_test(test_vectors_set),
	    cmocka_unit_test(test_bad_inputs),
	    cmocka_unit_test(test_invalid_fixtures),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_caps_keys),
	    cmocka_unit_test(test_caps_values),
	    cmocka_unit_test(test_api),
	    cmocka_unit_test(test_random_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
