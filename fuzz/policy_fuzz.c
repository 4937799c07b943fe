/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the policy parser (src/policy/lexer.c, parse.c, parse_policy.c,
 * parse_syscalls.c, load.c, clause.c) with its error recovery (every error
 * reported, bounded) and the compiler (compile.c, deny.c, runtime.c,
 * bpf_check.c) over the result. Threat: a policy file is written by a
 * service's author, copied from elsewhere (minijail .policy files), or
 * generated; a crash, a hang or an out-of-bounds read in the parser or the
 * clause algebra runs in the privileged parent. @include is resolved only
 * from the embedded policies (never the filesystem); the filters are
 * compiled with libseccomp (as a worker's and as exec's) and handed through
 * the export/import format, but never loaded. Each accepted policy is also
 * printed and re-parsed: the printer's output must parse (it may exceed the
 * clause cap: it prints the expanded clauses).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine/seccomp.h"
#include "policy/filter.h"
#include "policy/policy_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *ctx, enum bx_policy_diag kind, const char *text)
{
	size_t *n = ctx;

	(void)kind;
	if (!text || !*text)
		abort(); /* every diagnostic has a text */
	(*n)++;
}

/*
 * libseccomp 2.5.4 can take minutes on some large overlapping clause sets of
 * one syscall (policies/README.md); the fuzzer compiles the policies that
 * stay clear of that shape, which every realistic policy does.
 */
static bool compile_friendly(const struct bx_policy *p)
{
	size_t total = 0;

	for (size_t i = 0; i < p->nrules; i++) {
		size_t mine = 0;

		total += p->rules[i].nclauses;
		for (size_t j = i; j < p->nrules; j++)
			if (strcmp(p->rules[j].name, p->rules[i].name) == 0)
				mine += p->rules[j].nclauses;
		if (mine > 24)
			return false;
	}
	return total <= 256;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bx_seccomp_extra worker = {.exec_fd = -1, .runtime = BX_RUNTIME_WORKER};
	static const struct bx_seccomp_extra exec = {
	    .exec_fd = 5, .runtime = BX_RUNTIME_EXEC, .note_fd = 4};
	size_t ndiag = 0;
	struct bx_policy_parse_opts opts = {
	    .include = bx_policy_read_embedded, .diag = count, .diag_ctx = &ndiag, .max_errors = 8};
	struct bx_policy *p = NULL, *q = NULL;
	struct bx_bpf bpf = {0}, back = {0};
	char *text = NULL;
	size_t len = 0;
	bx_error err;
	FILE *f;
	int r;

	bx_error_clear(&err);
	r = bx_policy_parse("fuzz.policy", (const char *)data, size, &opts, &p, &err);
	if (r < 0) {
		if (ndiag == 0 || ndiag > 8 + 64)
			abort(); /* an error reported, and the cap held */
		return 0;
	}
	if (compile_friendly(p)) {
		bx_error_clear(&err);
		if (bx_seccomp_compile(p, &worker, &bpf, &err) == 0) {
			int fd = bx_seccomp_export_fd(&bpf);

			if (fd >= 0) {
				if (bx_seccomp_import_fd(fd, &back, NULL) < 0 ||
				    back.nprogs != bpf.nprogs)
					abort(); /* what we export, we import */
				bx_bpf_free(&back);
				close(fd);
			}
			bx_bpf_free(&bpf);
		}
		if (bx_seccomp_compile(p, &exec, &bpf, &err) == 0)
			bx_bpf_free(&bpf);
	}
	f = open_memstream(&text, &len);
	if (f) {
		bx_policy_print(p, f);
		fclose(f);
		r = bx_policy_parse("printed", text, len, NULL, &q, &err);
		if (r < 0 && r != -E2BIG)
			abort(); /* the printer wrote something the parser refuses */
		bx_policy_free(q);
		free(text);
	}
	bx_policy_free(p);
	return 0;
}
