/* SPDX-License-Identifier: MIT */
/* The CLI's "policy" commands. */
#define _GNU_SOURCE
#include "cli/policy_cmd.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy/api.h"
#include "policy/filter.h"
#include "policy/policy_internal.h"
#include "spawn/dynuid.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Distinct syscalls with a rule. */
static size_t count_syscalls(const struct bx_policy *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nrules; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(p->rules[j].name, p->rules[i].name) == 0;
		n += !seen;
	}
	return n;
}

struct diag_ctx {
	FILE *errout;
	size_t errors, warnings;
};

/* Every error and warning of a file, as the parser finds them. */
static void diag(void *ctx, enum bx_policy_diag kind, const char *text)
{
	struct diag_ctx *d = ctx;

	fprintf(d->errout, "%s\n", text);
	if (kind == BX_POLICY_ERROR)
		d->errors++;
	else
		d->warnings++;
}

/*
 * Loads file (reporting every error, up to BX_POLICY_ERRORS_MAX, and every
 * warning on errout) and compiles it as a worker would get it.
 */
static int load_and_compile(const char *file, struct bx_policy **out, struct diag_ctx *d)
{
	static const struct bx_seccomp_extra worker = {.exec_fd = -1, .runtime = BX_RUNTIME_WORKER};
	struct bx_policy_parse_opts opts = {.diag = diag, .diag_ctx = d};
	struct bx_policy *p = NULL;
	struct bx_bpf bpf = {0};
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_policy_load_spec_opts(file, &opts, &p, &err);
	if (r < 0) {
		if (d->errors == 0)
			fprintf(d->errout, "%s\n", err.text);
		if (d->errors >= BX_POLICY_ERRORS_MAX)
			fprintf(d->errout, "%s: stopped after %d errors\n", file,
				BX_POLICY_ERRORS_MAX);
		return r;
	}
	r = bx_seccomp_compile(p, &worker, &bpf, &err);
	bx_bpf_free(&bpf);
	if (r < 0) {
		fprintf(d->errout, "%s: %s\n", file, err.text);
		bx_policy_free(p);
		return r;
	}
	*out = p;
	return 0;
}

int bx_cli_policy_check(int nfiles, char *const files[], FILE *out, FILE *errout)
{
	int status = 0;

	if (nfiles <= 0) {
		fprintf(errout, "policy check: no file\n");
		return 1;
	}
	for (int i = 0; i < nfiles; i++) {
		struct diag_ctx d = {.errout = errout};
		struct bx_policy *p = NULL;

		if (load_and_compile(files[i], &p, &d) < 0) {
			status = 1;
			continue;
		}
		fprintf(out, "%s: ok (%zu syscalls, %d namespaces, %zu binds", files[i],
			count_syscalls(p), __builtin_popcount(p->namespaces), p->nbinds);
		{
			char warning[256];
			size_t nwarn = p->nwarnings + p->warnings_dropped;

			if (bx_policy_uid_warning(p, warning, sizeof(warning))) {
				fprintf(errout, "%s: warning: %s\n", files[i], warning);
				nwarn++;
			}
			if (nwarn)
				fprintf(out, ", %zu warnings", nwarn);
			fputs(")\n", out);
		}
		bx_policy_free(p);
	}
	return status;
}

/* Writes a text as "# " comment lines. */
static void comment(const char *text, FILE *out)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(out, "#   %.*s\n", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

int bx_cli_policy_show(const char *file, FILE *out, FILE *errout)
{
	static const struct bx_seccomp_extra worker = {.exec_fd = -1, .runtime = BX_RUNTIME_WORKER};
	struct diag_ctx d = {.errout = errout};
	struct bx_policy *p = NULL;
	_cleanup_fd_ int fd = -1;
	bx_error err;
	char buf[4096];
	ssize_t n;
	int r;

	if (load_and_compile(file, &p, &d) < 0)
		return 1;
	fprintf(out, "# %s, resolved: includes and groups expanded\n", file);
	for (size_t i = 0; i < p->nwarnings; i++)
		fprintf(out, "# %s\n", p->warnings[i]);
	bx_policy_print(p, out);
	fputs("\n# beambox adds, for a worker's serving process, the calls of its own runtime\n"
	      "# (they need not be in any policy; src/policy/runtime.c, SECURITY.md):\n",
	      out);
	comment(bx_runtime_text(BX_RUNTIME_WORKER), out);
	fputs("#\n# for a program under `beambox exec` or a foreign worker, instead:\n", out);
	comment(bx_runtime_text(BX_RUNTIME_EXEC), out);
	comment(bx_runtime_by_number(BX_RUNTIME_EXEC), out);
	fputs("#\n# and pid 1 (init) loads a filter of its own, with nothing of the policy's:\n",
	      out);
	comment(bx_runtime_text(BX_RUNTIME_INIT), out);
	comment(bx_runtime_by_number(BX_RUNTIME_INIT), out);
	fputs("\n# The filters a worker loads, in order, in libseccomp's pseudo-code. The\n"
	      "# kernel runs them all and takes the most restrictive answer.\n",
	      out);
	fflush(out);
	fd = memfd_create("bx-pfc", MFD_CLOEXEC);
	if (fd < 0) {
		bx_policy_free(p);
		return 1;
	}
	bx_error_clear(&err);
	r = bx_seccomp_export_pfc(p, &worker, fd, &err);
	bx_policy_free(p);
	if (r < 0) {
		fprintf(errout, "%s: %s\n", file, err.text);
		return 1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	return n < 0 ? 1 : 0;
}

int bx_cli_policy_groups(FILE *out)
{
	size_t n;
	const struct bx_sc_group *g = bx_sc_groups(&n);

	for (size_t i = 0; i < n; i++) {
		size_t col;

		fprintf(out, "%s  # %s\n", g[i].name, g[i].description);
		col = 0;
		for (size_t k = 0; g[i].members[k]; k++) {
			size_t l = strlen(g[i].members[k]);

			if (col == 0) {
				fputs("    ", out);
				col = 4;
			} else if (col + l + 2 > 96) {
				fputs("\n    ", out);
				col = 4;
			} else {
				fputs(", ", out);
				col += 2;
			}
			fputs(g[i].members[k], out);
			col += l;
		}
		fputs("\n", out);
	}
	return 0;
}
