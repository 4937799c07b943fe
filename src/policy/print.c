/* SPDX-License-Identifier: MIT */
/*
 * Writes a struct bx_policy back in the policy syntax (policies/README.md):
 * what `beambox policy show` prints. Includes and groups are already
 * expanded in the struct; expressions are printed from their clauses, so
 * that the output parses back to the same rules.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <seccomp.h>
#include <string.h>

#include "policy/policy_internal.h"

static const char *const ns_names[] = {"user", "mount", "pid",	  "net",
				       "ipc",  "uts",	"cgroup", "time"};

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS},		 {"core", RLIMIT_CORE},		{"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},	 {"fsize", RLIMIT_FSIZE},	{"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},	 {"nproc", RLIMIT_NPROC},	{"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},	 {"rttime", RLIMIT_RTTIME},	{"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

static const char *need_name(enum bx_need n)
{
	return n == BX_NEED_REQUIRED ? "required" : n == BX_NEED_OPTIONAL ? "optional" : "off";
}

void bx_policy_print_action(uint32_t a, FILE *out)
{
	if (a == SCMP_ACT_ALLOW)
		fputs("allow", out);
	else if (a == SCMP_ACT_KILL_PROCESS)
		fputs("kill-process", out);
	else if (a == SCMP_ACT_KILL_THREAD)
		fputs("kill-thread", out);
	else if (a == SCMP_ACT_TRAP)
		fputs("trap", out);
	else if (a == SCMP_ACT_LOG)
		fputs("log", out);
	else if ((a & 0xffff0000u) == SCMP_ACT_ERRNO(0)) {
		const char *n = bx_policy_errno_name(a & 0xffffu);

		if (n)
			fprintf(out, "return %s", n);
		else
			fprintf(out, "return %u", a & 0xffffu);
	} else
		fprintf(out, "0x%08x", a);
}

static void print_cmp(const struct bx_sc_cmp *c, FILE *out)
{
	static const char *const ops[] = {[BX_SC_EQ] = "==", [BX_SC_NE] = "!=", [BX_SC_LT] = "<",
					  [BX_SC_LE] = "<=", [BX_SC_GT] = ">",	[BX_SC_GE] = ">="};

	if (c->op != BX_SC_MASKED_EQ) {
		fprintf(out, "arg%u %s 0x%" PRIx64, c->arg, ops[c->op], c->value);
		return;
	}
	/*
	 * (arg & mask) == value: the bits of the mask outside value are 0
	 * (`in`), and each bit of value is set (`&`, one bit at a time).
	 */
	const char *sep = "";

	if (c->mask & ~c->value) {
		fprintf(out, "arg%u in 0x%" PRIx64, c->arg, ~(c->mask & ~c->value));
		sep = " && ";
	}
	for (unsigned b = 0; b < 64; b++) {
		if (c->value & (1ull << b)) {
			fprintf(out, "%sarg%u & 0x%llx", sep, c->arg, 1ull << b);
			sep = " && ";
		}
	}
	if (!*sep) /* an empty mask: always true */
		fprintf(out, "arg%u in 0xffffffffffffffff", c->arg);
}

static void print_rule(const struct bx_policy *p, size_t i, FILE *out)
{
	const struct bx_sc_rule *r = &p->rules[i];
	bool first = true;

	fprintf(out, "%s: ", r->name);
	if (r->nclauses == 0) {
		bx_policy_print_action(r->action, out);
		fputc('\n', out);
		return;
	}
	/* The primary rule and its continuations (same name and action, derived). */
	for (size_t k = i; k < p->nrules; k++) {
		const struct bx_sc_rule *c = &p->rules[k];

		if (k > i &&
		    (!c->derived || strcmp(c->name, r->name) != 0 || c->action != r->action))
			break;
		for (size_t ci = 0; ci < c->nclauses; ci++) {
			if (!first)
				fputs(" || ", out);
			first = false;
			for (size_t j = 0; j < c->clauses[ci].ncmp; j++) {
				if (j)
					fputs(" && ", out);
				print_cmp(&c->clauses[ci].cmp[j], out);
			}
		}
	}
	if (r->has_else) {
		/*
		 * minijail's C parser and its Python compiler read this line in
		 * opposite ways: say which meaning beambox gives it.
		 */
		fputs("; ", out);
		bx_policy_print_action(r->else_action, out);
		fputs("  # allowed when this holds; every other call: ", out);
		bx_policy_print_action(r->else_action, out);
	}
	fputc('\n', out);
}

void bx_policy_print(const struct bx_policy *p, FILE *out)
{
	fputs("[policy]\n", out);
	if (p->name[0])
		fprintf(out, "name = %s\n", p->name);
	fputs("namespaces =", out);
	if (!p->namespaces)
		fputs(" none", out);
	for (unsigned i = 0; i < 8; i++) {
		if (p->namespaces & (1u << i))
			fprintf(out, " %s%s", ns_names[i],
				p->namespaces_optional & (1u << i) ? "?" : "");
	}
	fputc('\n', out);
	if (p->uid_dynamic)
		fprintf(out, "uid = dynamic\n");
	else
		fprintf(out, "uid = %u\ngid = %u\n", (unsigned)p->uid, (unsigned)p->gid);
	if (p->hostname[0])
		fprintf(out, "hostname = %s\n", p->hostname);
	if (p->netns_shared)
		fprintf(out, "netns = shared\n");
	for (size_t i = 0; i < p->nbinds; i++) {
		const struct bx_bind *b = &p->binds[i];

		fprintf(out, "bind = %s", b->src);
		if (strcmp(b->src, b->dst) != 0)
			fprintf(out, " %s", b->dst);
		fprintf(out, " %s %s%s\n", b->rw ? "rw" : "ro",
			b->optional ? "optional" : "required",
			b->exec == b->rw ? (b->exec ? " exec" : " noexec") : "");
	}
	if (p->tmp_size)
		fprintf(out, "tmp-size = %" PRIu64 "\n", p->tmp_size);
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		int res = rlimit_names[i].resource;

		if (!p->rlimits[res].set)
			continue;
		if (p->rlimits[res].value == RLIM_INFINITY)
			fprintf(out, "rlimit.%s = unlimited\n", rlimit_names[i].name);
		else
			fprintf(out, "rlimit.%s = %llu\n", rlimit_names[i].name,
				(unsigned long long)p->rlimits[res].value);
	}
	fprintf(out, "cgroup = %s\n", need_name(p->cgroup));
	if (p->cgroup_memory_max)
		fprintf(out, "cgroup.memory = %" PRIu64 "\n", p->cgroup_memory_max);
	if (p->cgroup_pids_max)
		fprintf(out, "cgroup.pids = %" PRIu64 "\n", p->cgroup_pids_max);
	fprintf(out, "landlock = %s\n", need_name(p->landlock));
	if (p->nenv_keep) {
		fputs("env-keep =", out);
		for (size_t i = 0; i < p->nenv_keep; i++)
			fprintf(out, " %s", p->env_keep[i]);
		fputc('\n', out);
	}
	fputs("capabilities = none\n", out);
	fputs("default-action = ", out);
	bx_policy_print_action(p->default_action, out);
	fputc('\n', out);
	if (p->noverride_deny) {
		fputs("override-deny-list =", out);
		for (size_t i = 0; i < p->noverride_deny; i++)
			fprintf(out, " %s", p->override_deny[i]);
		fputs("\ni-understand-this-weakens-the-sandbox = yes\n", out);
	}
	fputs("\n[syscalls]\n", out);
	for (size_t i = 0; i < p->nrules; i++) {
		if (!p->rules[i].derived)
			print_rule(p, i, out);
	}
}
