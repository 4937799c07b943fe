/* SPDX-License-Identifier: MIT */
/* The CLI's "policy" commands. */
#define _GNU_SOURCE
#include "cli/policy_cmd.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "confine/seccomp.h"
#include "policy/api.h"
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

static int load_and_compile(const char *file, struct bx_policy **out, FILE *errout)
{
	struct bx_policy *p = NULL;
	struct bx_bpf bpf = {0};
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_policy_load_spec(file, &p, &err);
	if (r < 0) {
		fprintf(errout, "%s\n", err.text);
		return r;
	}
	r = bx_seccomp_compile(p, NULL, &bpf, &err);
	bx_bpf_free(&bpf);
	if (r < 0) {
		fprintf(errout, "%s: seccomp: %s\n", file, err.text);
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
		struct bx_policy *p = NULL;

		if (load_and_compile(files[i], &p, errout) < 0) {
			status = 1;
			continue;
		}
		fprintf(out, "%s: ok (%zu syscalls, %d namespaces, %zu binds)\n", files[i],
			count_syscalls(p), __builtin_popcount(p->namespaces), p->nbinds);
		{
			char warning[256];

			if (bx_policy_uid_warning(p, warning, sizeof(warning)))
				fprintf(errout, "%s: warning: %s\n", files[i], warning);
		}
		bx_policy_free(p);
	}
	return status;
}

static void scmp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/*
 * libseccomp prints pseudo-code only from a filter context, and
 * bx_seccomp_compile keeps its context private: rebuild the policy's rules
 * (without the deny list) for display. The BPF that workers load is the one
 * bx_seccomp_compile produces; this listing shows the policy's own part.
 */
static int show_pfc(const struct bx_policy *p, FILE *out, FILE *errout)
{
	_cleanup_(scmp_releasep) scmp_filter_ctx ctx = seccomp_init(p->default_action);
	_cleanup_fd_ int fd = -1;
	char buf[4096];
	ssize_t n;
	int r;

	if (!ctx)
		return -EINVAL;
	for (size_t i = 0; i < p->nrules; i++) {
		const struct bx_sc_rule *rule = &p->rules[i];
		int nr = seccomp_syscall_resolve_name(rule->name);

		if (rule->action == p->default_action || nr == __NR_SCMP_ERROR)
			continue;
		for (size_t c = 0; c < (rule->nclauses ? rule->nclauses : 1); c++) {
			struct scmp_arg_cmp cmps[BX_SC_ARGS_MAX];
			unsigned k = 0;

			for (size_t j = 0; rule->nclauses && j < rule->clauses[c].ncmp; j++) {
				const struct bx_sc_cmp *x = &rule->clauses[c].cmp[j];
				static const enum scmp_compare ops[] = {[BX_SC_EQ] = SCMP_CMP_EQ,
									[BX_SC_NE] = SCMP_CMP_NE,
									[BX_SC_LT] = SCMP_CMP_LT,
									[BX_SC_LE] = SCMP_CMP_LE,
									[BX_SC_GT] = SCMP_CMP_GT,
									[BX_SC_GE] = SCMP_CMP_GE,
									[BX_SC_MASKED_EQ] =
									    SCMP_CMP_MASKED_EQ};

				cmps[k++] = (struct scmp_arg_cmp){
				    .arg = x->arg,
				    .op = ops[x->op],
				    .datum_a = x->op == BX_SC_MASKED_EQ ? x->mask : x->value,
				    .datum_b = x->op == BX_SC_MASKED_EQ ? x->value : 0};
			}
			r = seccomp_rule_add_array(ctx, rule->action, nr, k, k ? cmps : NULL);
			if (r < 0 && r != -EEXIST) {
				fprintf(errout, "seccomp_rule_add(%s): %s\n", rule->name,
					strerror(-r));
				return r;
			}
		}
	}
	fd = memfd_create("bx-pfc", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = seccomp_export_pfc(ctx, fd);
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	return n < 0 ? -errno : 0;
}

int bx_cli_policy_show(const char *file, FILE *out, FILE *errout)
{
	struct bx_policy *p = NULL;
	int r;

	if (load_and_compile(file, &p, errout) < 0)
		return 1;
	fprintf(out, "# %s, resolved: includes and groups expanded\n", file);
	bx_policy_print(p, out);
	fputs("\n# The policy's rules in libseccomp's pseudo-code (the deny list, the\n"
	      "# restricted clone/ioctl/personality and the native-ABI check are added on\n"
	      "# top by bx_seccomp_compile; see src/confine/seccomp.h):\n",
	      out);
	r = show_pfc(p, out, errout);
	bx_policy_free(p);
	if (r < 0) {
		fprintf(errout, "%s: seccomp_export_pfc: %s\n", file, strerror(-r));
		return 1;
	}
	return 0;
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
