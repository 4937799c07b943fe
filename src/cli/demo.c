/* SPDX-License-Identifier: MIT */
#include "cli/demo.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <beambox/data.h>

/* Prints p[0..n) quoted, with non-printable bytes as \xNN. */
static void print_escaped(FILE *out, const char *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch >= 0x20 && ch < 0x7f)
			fputc(ch, out);
		else
			fprintf(out, "\\x%02x", ch);
	}
	fputc('"', out);
}

static void print_map(FILE *out, const bx_msg *m)
{
	fputs("{", out);
	for (size_t i = 0; i < bx_msg_nkeys(m); i++) {
		const bx_bytes *vals = NULL;
		bx_bytes key;
		size_t n = 0;

		if (bx_msg_key_at(m, i, &key) < 0 || bx_msg_getn(m, key.p, key.len, &vals, &n) < 0)
			continue;
		fputs(i ? ", " : "", out);
		print_escaped(out, key.p, key.len);
		fputs(": [", out);
		for (size_t j = 0; j < n; j++) {
			fputs(j ? ", " : "", out);
			print_escaped(out, vals[j].p, vals[j].len);
		}
		fputs("]", out);
	}
	fputs("}\n", out);
}


int bx_cli_demo_codec(FILE *out)
{
	bx_msg *m = NULL, *back = NULL;
	char *enc = NULL;
	size_t len = 0;
	bx_error err;
	int ret = 1;

	if (bx_msg_new(&m) < 0 || bx_msg_add(m, "hello", "beautiful") < 0 ||
	    bx_msg_add(m, "hello", "world") < 0 || bx_msg_add(m, "cmd", "echo") < 0 ||
	    bx_msg_add(m, "cmd", "hi") < 0) {
		fputs("demo: cannot build the message\n", out);
		goto out;
	}
	fputs("message:  ", out);
	print_map(out, m);
	if (bx_msg_encode(m, &enc, &len) < 0) {
		fputs("demo: cannot encode the message\n", out);
		goto out;
	}
	fprintf(out, "encoded:  %zu bytes ", len);
	print_escaped(out, enc, len);
	fputc('\n', out);
	if (bx_msg_decode(enc, len, 0, &back, &err) < 0) {
		fprintf(out, "demo: decode failed at offset %zu: %s\n", err.offset, err.text);
		goto out;
	}
	fputs("decoded:  ", out);
	print_map(out, back);
	if (bx_msg_equal(m, back)) {
		fputs("round trip: equal\n", out);
		ret = 0;
	} else {
		fputs("round trip: DIFFERENT\n", out);
	}
out:
	bx_msg_free(back);
	bx_msg_free(m);
	free(enc);
	return ret;
}
