/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes bx_policy_parse (src/policy/parse.c, clause.c) and
 * bx_seccomp_compile over the result. Threat: a policy file is written by
 * a service's author, copied from elsewhere (minijail .policy files), or
 * generated; a crash, a hang or an out-of-bounds read in the parser or the
 * clause algebra runs in the privileged parent. @include is resolved only
 * from the embedded policies (never the filesystem); the filter is compiled
 * with libseccomp but never loaded. Each accepted policy is also printed
 * and re-parsed: the printer's output must parse (it may exceed the clause
 * cap: it prints the expanded clauses, whose complement can be larger than
 * that of the expression as written).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "confine/seccomp.h"
#include "policy/policy_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bx_policy_parse_opts opts = {.include = bx_policy_read_embedded};
	struct bx_policy *p = NULL, *q = NULL;
	struct bx_bpf bpf = {0};
	char *text = NULL;
	size_t len = 0;
	bx_error err;
	FILE *f;

	bx_error_clear(&err);
	if (bx_policy_parse("fuzz.policy", (const char *)data, size, &opts, &p, &err) < 0)
		return 0;
	bx_error_clear(&err);
	if (bx_seccomp_compile(p, NULL, &bpf, &err) == 0)
		bx_bpf_free(&bpf);
	f = open_memstream(&text, &len);
	if (f) {
		bx_policy_print(p, f);
		fclose(f);
		int r = bx_policy_parse("printed", text, len, NULL, &q, &err);

		if (r < 0 && r != -E2BIG)
			abort(); /* the printer wrote something the parser refuses */
		bx_policy_free(q);
		free(text);
	}
	bx_policy_free(p);
	return 0;
}
