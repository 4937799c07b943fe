/* SPDX-License-Identifier: MIT */
/*
 * compile: a policy -> its stack of classic-BPF filters (see filter.h for the
 * shape and the reasons), through libseccomp.
 *
 * Two libseccomp 2.5.4 behaviours shape this file (both checked on the real
 * library, see tests/test_seccomp.c and tests/test_policy.c):
 *   1. Rules for one syscall are combined as a union with no defined
 *      precedence between actions, and some overlapping sets of conditional
 *      rules with different actions are merged wrongly (or take minutes).
 *      So no filter here ever holds two actions for one syscall: the deny
 *      list is a filter of its own, and `expr; return E` becomes an ALLOW
 *      rule in a "fallback" filter whose default action is E.
 *   2. A rule may compare each argument at most once (-EINVAL otherwise):
 *      the parser writes clauses in that shape (clause.c).
 * Also: a rule whose action equals the default action is refused with
 * -EACCES; such a rule changes nothing, so it is skipped.
 */
#define _GNU_SOURCE
#include "policy/filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#define LOW32 0xffffffffULL
/* The kernel's limit on all filters a syscall runs through (MAX_INSNS_PER_PATH). */
#define BX_INSNS_PER_PATH 32768
/* Syscalls one fallback filter's prefix can dispatch (its jumps are 8-bit). */
#define BX_FALLBACK_SYSCALLS_MAX 200

static void scmp_ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static bool action_permits(uint32_t action)
{
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS:
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_TRAP:
	case SECCOMP_RET_ERRNO:
		return false;
	default:
		return true;
	}
}

/* ------------------------------------------------------------------ bx_bpf */

void bx_bpf_free(struct bx_bpf *bpf)
{
	if (!bpf)
		return;
	for (size_t i = 0; i < bpf->nprogs && i < BX_BPF_PROGS_MAX; i++)
		free(bpf->progs[i].insns);
	memset(bpf, 0, sizeof(*bpf));
}

size_t bx_bpf_total_len(const struct bx_bpf *bpf)
{
	size_t n = 0;

	for (size_t i = 0; bpf && i < bpf->nprogs && i < BX_BPF_PROGS_MAX; i++)
		n += bpf->progs[i].len;
	return n;
}

int bx_bpf_copy(const struct bx_bpf *from, struct bx_bpf *to)
{
	struct bx_bpf copy = {0};

	for (size_t i = 0; i < from->nprogs && i < BX_BPF_PROGS_MAX; i++) {
		size_t size = from->progs[i].len * sizeof(struct sock_filter);

		copy.progs[i].insns = malloc(size ? size : 1);
		if (!copy.progs[i].insns) {
			bx_bpf_free(&copy);
			return -ENOMEM;
		}
		memcpy(copy.progs[i].insns, from->progs[i].insns, size);
		copy.progs[i].len = from->progs[i].len;
		copy.nprogs = i + 1;
	}
	*to = copy;
	return 0;
}

static int bpf_push(struct bx_bpf *bpf, struct bx_bpf_prog *prog, bx_error *err)
{
	if (bpf->nprogs >= BX_BPF_PROGS_MAX) {
		free(prog->insns);
		prog->insns = NULL;
		return bx_fail(
		    err, -E2BIG, BX_NO_OFFSET,
		    "seccomp: more than %d filters (too many different fallback actions)",
		    BX_BPF_PROGS_MAX);
	}
	bpf->progs[bpf->nprogs++] = *prog;
	prog->insns = NULL;
	prog->len = 0;
	return 0;
}

/* ------------------------------------------------------------------ libseccomp helpers */

static struct scmp_arg_cmp to_scmp(const struct bx_sc_cmp *c)
{
	static const enum scmp_compare ops[] = {
	    [BX_SC_EQ] = SCMP_CMP_EQ,
	    [BX_SC_NE] = SCMP_CMP_NE,
	    [BX_SC_LT] = SCMP_CMP_LT,
	    [BX_SC_LE] = SCMP_CMP_LE,
	    [BX_SC_GT] = SCMP_CMP_GT,
	    [BX_SC_GE] = SCMP_CMP_GE,
	    [BX_SC_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};
	struct scmp_arg_cmp s = {.arg = c->arg, .op = ops[c->op]};

	if (c->op == BX_SC_MASKED_EQ) {
		s.datum_a = c->mask;
		s.datum_b = c->value;
	} else {
		s.datum_a = c->value;
	}
	return s;
}

/* Checks a clause's shape: counts, argument numbers, operators, one comparison per argument. */
static int check_clause(const char *name, const struct bx_sc_clause *cl, bx_error *err)
{
	unsigned seen = 0;

	if (cl->ncmp > BX_SC_ARGS_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule '%s': a clause of %zu comparisons",
			       name, cl->ncmp);
	for (size_t i = 0; i < cl->ncmp; i++) {
		const struct bx_sc_cmp *c = &cl->cmp[i];

		if (c->arg >= BX_SC_ARGS_MAX || c->op < BX_SC_EQ || c->op > BX_SC_MASKED_EQ)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s': bad comparison on arg %u", name, c->arg);
		/* libseccomp would mask the value too, matching more than the policy says. */
		if (c->op == BX_SC_MASKED_EQ && (c->value & ~c->mask) != 0)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s': masked value %#llx has bits outside mask %#llx",
				       name, (unsigned long long)c->value,
				       (unsigned long long)c->mask);
		if (seen & (1u << c->arg))
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s' compares arg %u twice in one clause (libseccomp "
				       "allows one comparison per argument; split it into two "
				       "clauses)",
				       name, c->arg);
		seen |= 1u << c->arg;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t def, uint32_t action, int nr, const char *name,
		    const struct bx_sc_clause *cl, bx_error *err);

/*
 * libseccomp 2.5.4 generates wrong BPF for some sets of 64-bit range
 * comparisons (<, <=, >, >=) over several rules of one syscall: seen by
 * test_random_expressions, e.g. `arg0 > A || arg2 < B && arg0 <= C || arg1
 * <= 2` let a call through that none of the three clauses allows (the
 * pseudo-code it prints is right; the BPF it loads is not). Every filter is
 * therefore checked against its rules (check_filter below); a syscall whose
 * check fails is compiled again with its ranges rewritten (*cube) as the
 * disjoint masked-equal "cubes" whose union each is (as many as the value's
 * bits set, or clear), which libseccomp compiles exactly but slowly, so at
 * most BX_CUBED_MAX rules per syscall. Returns 0 or -errno.
 */
#define BX_CUBED_MAX 64
static int add_rule_cubed(scmp_filter_ctx ctx, uint32_t def, uint32_t action, int nr,
			  const char *name, const struct bx_sc_clause *cl, size_t *budget,
			  const bool *cube, bx_error *err)
{
	struct bx_sc_cmp cubes[65];
	size_t k, n;
	int r;

	for (k = 0; cl && k < cl->ncmp && *cube; k++) {
		enum bx_sc_op op = cl->cmp[k].op;

		if (op == BX_SC_LT || op == BX_SC_LE || op == BX_SC_GT || op == BX_SC_GE)
			break;
	}
	if (!cl || !*cube || k == cl->ncmp) {
		if (*cube) {
			if (*budget == 0)
				goto too_big;
			(*budget)--;
		}
		return add_rule(ctx, def, action, nr, name, cl, err);
	}
	n = bx_sc_cubes(&cl->cmp[k], cubes);
	for (size_t i = 0; i < n; i++) {
		struct bx_sc_clause one = *cl;

		one.cmp[k] = cubes[i];
		if (cubes[i].op == BX_SC_MASKED_EQ && cubes[i].mask == 0)
			one.cmp[k] = one.cmp[--one.ncmp]; /* holds for every value */
		r = add_rule_cubed(ctx, def, action, nr, name, &one, budget, cube, err);
		if (r < 0)
			return r;
	}
	return 0;
too_big:
	return bx_fail(err, -E2BIG, BX_NO_OFFSET,
		       "seccomp: libseccomp compiles the range comparisons (<, <=, >, >=) of "
		       "'%s' wrongly, and written as masked comparisons they need more than %d "
		       "rules: use fewer clauses or rounder bounds",
		       name, BX_CUBED_MAX);
}

static int add_rule(scmp_filter_ctx ctx, uint32_t def, uint32_t action, int nr, const char *name,
		    const struct bx_sc_clause *cl, bx_error *err)
{
	struct scmp_arg_cmp cmps[BX_SC_ARGS_MAX];
	unsigned n = cl ? (unsigned)cl->ncmp : 0;
	int r;

	if (action == def)
		return 0; /* no effect, and libseccomp refuses it with -EACCES */
	for (unsigned i = 0; i < n; i++)
		cmps[i] = to_scmp(&cl->cmp[i]);
	r = seccomp_rule_add_array(ctx, action, nr, n, n ? cmps : NULL);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_rule_add(%s, action %#x): %s", name,
			       action, strerror(-r));
	return 0;
}

/* A filter context: native architecture only (others kill), a binary tree over numbers. */
static int ctx_new(uint32_t def, scmp_filter_ctx *out, bx_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(def);
	int r;

	if (!ctx)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "seccomp_init: default action %#x is not valid", def);
	/*
	 * Any other ABI fails the arch check and takes the bad-arch action; on
	 * x86_64 libseccomp also sends every syscall number with the x32 bit
	 * (0x40000000) there, except -1 (tracer skip), before any rule.
	 */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0) {
		seccomp_release(ctx);
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_attr_set: %s", strerror(-r));
	}
	*out = ctx;
	return 0;
}

/* Exports ctx as BPF into prog (libseccomp 2.5 exports only to an fd: a memfd). */
static int ctx_export(scmp_filter_ctx ctx, const char *what, struct bx_bpf_prog *prog,
		      bx_error *err)
{
	_cleanup_fd_ int fd = memfd_create("bx-seccomp-export", MFD_CLOEXEC);
	struct sock_filter *insns;
	struct stat st;
	size_t size, done = 0;
	int r;

	if (fd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp: memfd_create: %m");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_export_bpf: %s", strerror(-r));
	if (fstat(fd, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp: fstat: %m");
	size = (size_t)st.st_size;
	if (size == 0 || size % sizeof(struct sock_filter) != 0)
		return bx_fail(err, -EIO, BX_NO_OFFSET, "seccomp: exported %zu bytes", size);
	if (size / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET,
			       "seccomp: %s needs %zu BPF instructions; the kernel takes at most "
			       "%d per filter (shorten the longest expressions)",
			       what, size / sizeof(struct sock_filter), BPF_MAXINSNS);
	insns = malloc(size);
	if (!insns)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
	while (done < size) {
		ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			free(insns);
			return bx_fail(err, r, BX_NO_OFFSET, "seccomp: reading the export back");
		}
		done += (size_t)n;
	}
	prog->insns = insns;
	prog->len = size / sizeof(struct sock_filter);
	return 0;
}

/* Writes the pseudo-code of ctx to fd under a heading. */
static int ctx_pfc(scmp_filter_ctx ctx, const char *heading, int fd, bx_error *err)
{
	int r;

	if (dprintf(fd, "\n# %s\n", heading) < 0)
		return bx_fail(err, -EIO, BX_NO_OFFSET, "seccomp: writing the pseudo-code");
	r = seccomp_export_pfc(ctx, fd);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_export_pfc: %s", strerror(-r));
	return 0;
}

/* Where a filter goes: compiled into a bx_bpf, or printed as pseudo-code. */
struct sink {
	struct bx_bpf *bpf; /* NULL: pseudo-code to pfc_fd */
	int pfc_fd;
};

static int ctx_emit(scmp_filter_ctx ctx, const char *what, struct sink *sk,
		    struct bx_bpf_prog *prog, bx_error *err)
{
	if (!sk->bpf)
		return ctx_pfc(ctx, what, sk->pfc_fd, err);
	return ctx_export(ctx, what, prog, err);
}

/* ------------------------------------------------------------------ the deny list's filter */

/*
 * One deny-list entry as rules of ctx (whose default is def): the entry's
 * errno for the whole syscall, or for each of its argument's masked values.
 */
static int add_deny_entry(scmp_filter_ctx ctx, uint32_t def, int nr, const struct bx_deny_entry *e,
			  bx_error *err)
{
	uint32_t action = SCMP_ACT_ERRNO((uint32_t)e->errno_value);
	int r;

	if (e->arg < 0)
		return add_rule(ctx, def, action, nr, e->name, NULL, err);
	for (size_t k = 0; k < e->ncubes; k++) {
		struct bx_sc_clause cl = {.ncmp = 1};

		cl.cmp[0] = (struct bx_sc_cmp){.arg = (unsigned)e->arg,
					       .op = BX_SC_MASKED_EQ,
					       .mask = e->cubes[k].mask,
					       .value = e->cubes[k].value};
		r = add_rule(ctx, def, action, nr, e->name, &cl, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int deny_build(const struct bx_policy *p, struct sink *sk, struct bx_bpf_prog *prog,
		      bool *empty, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	const struct bx_deny_entry *e;
	size_t n;
	int r;

	*empty = true;
	r = ctx_new(SCMP_ACT_ALLOW, &ctx, err);
	if (r < 0)
		return r;
	e = bx_deny_entries(&n);
	for (size_t i = 0; i < n; i++) {
		int nr;

		if (p && bx_deny_overridden(p, e[i].name))
			continue;
		nr = bx_syscall_resolve(e[i].name);
		if (nr < 0)
			continue; /* not a syscall of this architecture, or unknown to this build */
		*empty = false;
		r = add_deny_entry(ctx, SCMP_ACT_ALLOW, nr, &e[i], err);
		if (r < 0)
			return r;
	}
	if (*empty)
		return 0;
	return ctx_emit(ctx,
			"beambox's deny list: its own filter, loaded first (SECURITY.md, \"The "
			"deny list\")",
			sk, prog, err);
}

/*
 * The deny list's filter depends only on the policy's overrides: compiled
 * once per set of overrides and kept (a handful of sets per process).
 */
#define DENY_CACHE 4
static pthread_mutex_t deny_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char key[1024];
	bool empty;
	struct bx_bpf_prog prog;
} deny_cache[DENY_CACHE];
static size_t deny_cache_next;

static void deny_key(const struct bx_policy *p, char *key, size_t len)
{
	size_t n;
	const struct bx_deny_entry *e = bx_deny_entries(&n);

	key[0] = '\0';
	/* In the list's own order, so that the order of the override line does not matter. */
	for (size_t i = 0; i < n; i++) {
		if (bx_deny_overridden(p, e[i].name)) {
			size_t used = strlen(key);

			snprintf(key + used, len - used, "%s,", e[i].name);
		}
	}
}

static int deny_compiled(const struct bx_policy *p, struct bx_bpf_prog *out, bool *empty,
			 bx_error *err)
{
	struct sink sk = {.bpf = &(struct bx_bpf){0}};
	struct bx_bpf_prog fresh = {0};
	char key[1024];
	int r;

	deny_key(p, key, sizeof(key));
	pthread_mutex_lock(&deny_lock);
	for (size_t i = 0; i < DENY_CACHE; i++) {
		if (deny_cache[i].prog.insns && strcmp(deny_cache[i].key, key) == 0) {
			size_t size = deny_cache[i].prog.len * sizeof(struct sock_filter);

			*empty = deny_cache[i].empty;
			out->insns = malloc(size);
			if (out->insns) {
				memcpy(out->insns, deny_cache[i].prog.insns, size);
				out->len = deny_cache[i].prog.len;
			}
			pthread_mutex_unlock(&deny_lock);
			return out->insns
				   ? 0
				   : bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
		}
	}
	pthread_mutex_unlock(&deny_lock);

	r = deny_build(p, &sk, &fresh, empty, err);
	if (r < 0)
		return r;
	if (*empty)
		return 0;
	out->insns = malloc(fresh.len * sizeof(struct sock_filter));
	if (!out->insns) {
		free(fresh.insns);
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
	}
	memcpy(out->insns, fresh.insns, fresh.len * sizeof(struct sock_filter));
	out->len = fresh.len;
	pthread_mutex_lock(&deny_lock);
	{
		size_t i = deny_cache_next++ % DENY_CACHE;

		free(deny_cache[i].prog.insns);
		snprintf(deny_cache[i].key, sizeof(deny_cache[i].key), "%s", key);
		deny_cache[i].empty = false;
		deny_cache[i].prog = fresh;
	}
	pthread_mutex_unlock(&deny_lock);
	return 0;
}

/* ------------------------------------------------------------------ per syscall */

/* What the policy (and the runtime) decide for one syscall. */
struct sysc {
	char name[BX_SYSCALL_NAME_MAX];
	int nr;
	uint32_t always; /* 0, or an allow-type action for every call */
	bool has_fallback;
	uint32_t fallback; /* for the calls no clause allows */
	struct bx_sc_clause *clauses;
	size_t nclauses, cap;
	bool cube; /* rewrite ranges as masked comparisons: libseccomp got them wrong */
};

struct plan {
	struct sysc *s;
	size_t n, cap;
	/*
	 * The policy filter's default: the policy's default action, or
	 * SCMP_ACT_NOTIFY in its place with extra->violations (a kill-process
	 * default only). Set by build(); a fallback equal to it is no fallback.
	 */
	uint32_t def;
};

static void plan_free(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->s[i].clauses);
	free(pl->s);
	memset(pl, 0, sizeof(*pl));
}

/* The entry for name (added if new): 0; 1 when name is not a native syscall; or -errno. */
static int plan_get(struct plan *pl, const char *name, struct sysc **out, bx_error *err)
{
	struct sysc *s;
	int nr;

	for (size_t i = 0; i < pl->n; i++) {
		if (strcmp(pl->s[i].name, name) == 0) {
			*out = &pl->s[i];
			return 0;
		}
	}
	nr = bx_syscall_resolve(name);
	if (nr == -EAFNOSUPPORT)
		return 1; /* a syscall of another architecture only (socketcall on x86_64): no rule
			   */
	if (nr < 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "unknown syscall '%.40s'", name);
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 64;
		struct sysc *grown = realloc(pl->s, cap * sizeof(*grown));

		if (!grown)
			return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
		pl->s = grown;
		pl->cap = cap;
	}
	s = &pl->s[pl->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->nr = nr;
	*out = s;
	return 0;
}

static int sysc_add_clause(struct sysc *s, const struct bx_sc_clause *cl, bx_error *err)
{
	int r = check_clause(s->name, cl, err);

	if (r < 0)
		return r;
	if (s->nclauses == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct bx_sc_clause *grown = realloc(s->clauses, cap * sizeof(*grown));

		if (!grown)
			return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
		s->clauses = grown;
		s->cap = cap;
	}
	s->clauses[s->nclauses++] = *cl;
	return 0;
}

static int set_fallback(struct sysc *s, uint32_t action, bx_error *err)
{
	if (s->has_fallback && s->fallback != action)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "rules for '%s' disagree on what refused calls get (%#x, %#x)",
			       s->name, s->fallback, action);
	s->has_fallback = true;
	s->fallback = action;
	return 0;
}

/* Adds p's rules to the plan (p may be a runtime's rules). */
static int plan_add_policy(struct plan *pl, const struct bx_policy *p, bx_error *err)
{
	if (p->nrules > BX_POLICY_RULES_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: policy counts out of range");
	for (size_t i = 0; i < p->nrules; i++) {
		const struct bx_sc_rule *rule = &p->rules[i];
		struct sysc *s = NULL;
		int r;

		if (!memchr(rule->name, '\0', sizeof(rule->name)) || rule->name[0] == '\0')
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule with a bad syscall name");
		if (rule->nclauses > BX_SC_CLAUSES_MAX)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule '%s': %zu clauses",
				       rule->name, rule->nclauses);
		r = plan_get(pl, rule->name, &s, err);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (rule->has_else) {
			if (action_permits(rule->else_action))
				return bx_fail(err, -EINVAL, BX_NO_OFFSET,
					       "rule '%s': the fallback must refuse", rule->name);
			r = set_fallback(s, rule->else_action, err);
			if (r < 0)
				return r;
		}
		if (!action_permits(rule->action)) {
			if (rule->nclauses)
				return bx_fail(
				    err, -EINVAL, BX_NO_OFFSET,
				    "rule '%s': a refusing action with argument "
				    "conditions (write the allowed calls, then `; return "
				    "E`)",
				    rule->name);
			r = set_fallback(s, rule->action, err);
			if (r < 0)
				return r;
			continue;
		}
		if (rule->nclauses == 0) {
			/* allow beats log when both are asked for every call */
			if (!s->always || rule->action == SCMP_ACT_ALLOW)
				s->always = rule->action;
			continue;
		}
		if (rule->action != SCMP_ACT_ALLOW)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s': only allow may have argument conditions",
				       rule->name);
		for (size_t c = 0; c < rule->nclauses; c++) {
			r = sysc_add_clause(s, &rule->clauses[c], err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Adds "name: argN == fd" (an int: its low 32 bits) to the plan. */
static int plan_add_fd_rule(struct plan *pl, const char *name, unsigned arg, int fd, bx_error *err)
{
	struct bx_sc_clause cl = {.ncmp = 1};
	struct sysc *s = NULL;
	int r;

	cl.cmp[0] = (struct bx_sc_cmp){
	    .arg = arg, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = (uint64_t)fd};
	r = plan_get(pl, name, &s, err);
	if (r == 0)
		r = sysc_add_clause(s, &cl, err);
	return r;
}

/*
 * extra's allowances: the runtime's rules, and for a serving process that
 * executes a program the one execveat and the write of its failure note.
 */
static int plan_add_extra(struct plan *pl, const struct bx_seccomp_extra *extra, bx_error *err)
{
	enum bx_runtime rt = extra ? extra->runtime : BX_RUNTIME_NONE;
	int exec_fd = extra ? extra->exec_fd : -1;
	struct sysc *s = NULL;
	int r;

	if (exec_fd < -1)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: bad exec fd %d", exec_fd);
	if (rt == BX_RUNTIME_AUTO)
		rt = exec_fd >= 0 ? BX_RUNTIME_EXEC : BX_RUNTIME_WORKER;
	if (rt == BX_RUNTIME_INIT)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "seccomp: init's filter has no policy (bx_seccomp_compile_init)");
	if (rt != BX_RUNTIME_NONE) {
		const struct bx_policy *rules = bx_runtime_rules(rt);

		if (!rules)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "seccomp: the runtime's rules do not parse");
		r = plan_add_policy(pl, rules, err);
		if (r < 0)
			return r;
	}
	/* A failed execveat is reported on the notes fd (spawn/init.h), nothing else. */
	if (rt == BX_RUNTIME_EXEC && extra->note_fd > 2) {
		r = plan_add_fd_rule(pl, "write", 0, extra->note_fd, err);
		if (r < 0)
			return r;
	}
	/*
	 * Violations: the serving process sends its listener to init on this fd
	 * (src/spawn/violation.c), with MSG_NOSIGNAL, before it executes the
	 * program; the fd is close-on-exec and above the program's own, where
	 * the program can never have a file.
	 */
	if (rt == BX_RUNTIME_EXEC && extra->violations && extra->violation_fd > 2) {
		struct bx_sc_clause cl = {.ncmp = 2};

		cl.cmp[0] = (struct bx_sc_cmp){.arg = 0,
					       .op = BX_SC_MASKED_EQ,
					       .mask = LOW32,
					       .value = (uint64_t)extra->violation_fd};
		cl.cmp[1] = (struct bx_sc_cmp){
		    .arg = 2, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = MSG_NOSIGNAL};
		r = plan_get(pl, "sendmsg", &s, err);
		if (r == 0)
			r = sysc_add_clause(s, &cl, err);
		if (r < 0)
			return r;
	}
	if (exec_fd >= 0) {
		/* execveat(exec_fd, "", argv, envp, flags with AT_EMPTY_PATH); fd and flags are
		 * ints. */
		struct bx_sc_clause cl = {.ncmp = 2};

		cl.cmp[0] = (struct bx_sc_cmp){
		    .arg = 0, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = (uint64_t)exec_fd};
		cl.cmp[1] = (struct bx_sc_cmp){
		    .arg = 4, .op = BX_SC_MASKED_EQ, .mask = AT_EMPTY_PATH, .value = AT_EMPTY_PATH};
		r = plan_get(pl, "execveat", &s, err);
		if (r == 0)
			r = sysc_add_clause(s, &cl, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * For the deny list's syscalls that the policy has no rule for, the policy's
 * filter gives the deny list's errno instead of its default action, so that
 * they fail with EPERM (ENOSYS, EAFNOSUPPORT) as documented rather than by
 * the default (a kill, or another errno that would win as the filter loaded
 * last). One action for each such syscall: nothing for libseccomp to merge.
 */
static int deny_unmentioned(scmp_filter_ctx ctx, const struct bx_policy *p, const struct plan *pl,
			    bx_error *err)
{
	const struct bx_deny_entry *e;
	size_t n;

	e = bx_deny_entries(&n);
	for (size_t i = 0; i < n; i++) {
		bool mentioned = false;
		int nr, r;

		if (bx_deny_overridden(p, e[i].name))
			continue;
		for (size_t k = 0; k < pl->n && !mentioned; k++)
			mentioned = strcmp(pl->s[k].name, e[i].name) == 0;
		nr = bx_syscall_resolve(e[i].name);
		if (mentioned || nr < 0)
			continue;
		r = add_deny_entry(ctx, pl->def, nr, &e[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ checking libseccomp's output
 */

#define CHECK_POINTS 4096

/* Whether libseccomp's output for s needs checking: several clauses with a range or a != in them.
 */
static bool needs_check(const struct sysc *s)
{
	if (s->nclauses < 2 || s->cube)
		return false;
	for (size_t c = 0; c < s->nclauses; c++)
		for (size_t k = 0; k < s->clauses[c].ncmp; k++)
			if (s->clauses[c].cmp[k].op != BX_SC_EQ &&
			    s->clauses[c].cmp[k].op != BX_SC_MASKED_EQ)
				return true;
	return false;
}

static uint64_t next_random(uint64_t *x)
{
	/* xorshift64: deterministic, so that a failing check is reproducible */
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Runs prog on the values around every constant s's clauses compare with
 * (on each argument: the constant, one below and above, a masked value with
 * its free bits set, 0 and all-ones; every combination, or CHECK_POINTS of
 * them) and compares with what the clauses decide: allow when one holds,
 * else want_else. Returns 0 when they agree, 1 when not, -errno.
 */
static int check_syscall(const struct bx_bpf_prog *prog, const struct sysc *s, uint32_t want_else)
{
	uint64_t cand[BX_SC_ARGS_MAX][64];
	size_t ncand[BX_SC_ARGS_MAX] = {0};
	struct seccomp_data d = {.nr = s->nr, .arch = seccomp_arch_native()};
	uint64_t total = 1, seed = 0x9e3779b97f4a7c15ULL;

	for (size_t c = 0; c < s->nclauses; c++) {
		for (size_t k = 0; k < s->clauses[c].ncmp; k++) {
			const struct bx_sc_cmp *m = &s->clauses[c].cmp[k];
			uint64_t vals[5] = {m->value, m->value - 1, m->value + 1, 0, ~(uint64_t)0};

			if (m->op == BX_SC_MASKED_EQ)
				vals[1] = m->value | ~m->mask;
			for (size_t v = 0; v < 5; v++) {
				bool dup = false;

				for (size_t j = 0; j < ncand[m->arg]; j++)
					dup |= cand[m->arg][j] == vals[v];
				if (!dup && ncand[m->arg] < 64)
					cand[m->arg][ncand[m->arg]++] = vals[v];
			}
		}
	}
	for (size_t a = 0; a < BX_SC_ARGS_MAX; a++) {
		if (!ncand[a])
			cand[a][ncand[a]++] = 0;
		total = total * ncand[a] > CHECK_POINTS ? CHECK_POINTS + 1 : total * ncand[a];
	}
	for (uint64_t i = 0; i < (total > CHECK_POINTS ? CHECK_POINTS : total); i++) {
		uint64_t rest = i, args[BX_SC_ARGS_MAX];
		bool want = false;
		uint32_t got;

		for (size_t a = 0; a < BX_SC_ARGS_MAX; a++) {
			size_t pick = total > CHECK_POINTS ? (size_t)(next_random(&seed) % ncand[a])
							   : (size_t)(rest % ncand[a]);

			rest /= ncand[a];
			d.args[a] = cand[a][pick];
		}
		for (size_t a = 0; a < BX_SC_ARGS_MAX; a++)
			args[a] = d.args[a];
		for (size_t c = 0; c < s->nclauses && !want; c++)
			want = bx_sc_clause_eval(&s->clauses[c], args);
		if (bx_bpf_run(prog->insns, prog->len, &d, &got) < 0)
			return -EIO;
		if (got != (want ? SCMP_ACT_ALLOW : want_else))
			return 1;
	}
	return 0;
}

static int policy_build_once(const struct bx_policy *p, const struct plan *pl, struct sink *sk,
			     struct bx_bpf_prog *prog, bx_error *err);

/*
 * The policy's filter (policy_build_once), checked against its rules: a
 * syscall libseccomp got wrong is compiled again with its ranges rewritten.
 */
static int policy_build(const struct bx_policy *p, struct plan *pl, struct sink *sk,
			struct bx_bpf_prog *prog, bx_error *err)
{
	uint32_t def = pl->def;

	for (;;) {
		bool again = false;
		int r = policy_build_once(p, pl, sk, prog, err);

		if (r < 0 || !sk->bpf)
			return r;
		for (size_t i = 0; i < pl->n && !again; i++) {
			struct sysc *s = &pl->s[i];

			if (s->always || (s->has_fallback && s->fallback != def) || !needs_check(s))
				continue;
			r = check_syscall(prog, s, def);
			if (r < 0)
				return bx_fail(err, r, BX_NO_OFFSET,
					       "seccomp: checking the filter");
			if (r > 0)
				again = s->cube = true;
		}
		if (!again)
			return 0;
		free(prog->insns);
		*prog = (struct bx_bpf_prog){0};
	}
}

static int fallback_build_once(const struct plan *pl, uint32_t def, uint32_t action, size_t first,
			       struct sink *sk, struct bx_bpf_prog *prog, size_t *next,
			       bool *has_seccomp, bx_error *err);

/* A fallback filter (see fallback_build_once), checked against its rules like the policy's. */
static int fallback_build(struct plan *pl, uint32_t def, uint32_t action, size_t first,
			  struct sink *sk, struct bx_bpf_prog *prog, size_t *next,
			  bool *has_seccomp, bx_error *err)
{
	for (;;) {
		bool again = false;
		int r =
		    fallback_build_once(pl, def, action, first, sk, prog, next, has_seccomp, err);

		if (r < 0 || !sk->bpf || !prog->insns)
			return r;
		for (size_t i = first; i < *next && !again; i++) {
			struct sysc *s = &pl->s[i];

			if (s->always || !s->has_fallback || s->fallback != action ||
			    s->nclauses == 0 || !needs_check(s))
				continue;
			r = check_syscall(prog, s, action);
			if (r < 0)
				return bx_fail(err, r, BX_NO_OFFSET,
					       "seccomp: checking the filter");
			if (r > 0)
				again = s->cube = true;
		}
		if (!again)
			return 0;
		free(prog->insns);
		*prog = (struct bx_bpf_prog){0};
	}
}

/* One build of the policy's filter; syscalls with a fallback of their own are left to those. */
static int policy_build_once(const struct bx_policy *p, const struct plan *pl, struct sink *sk,
			     struct bx_bpf_prog *prog, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	uint32_t def = pl->def;
	int r;

	r = ctx_new(def, &ctx, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pl->n; i++) {
		const struct sysc *s = &pl->s[i];
		uint32_t fallback = s->has_fallback ? s->fallback : def;

		if (s->always)
			r = add_rule(ctx, def, s->always, s->nr, s->name, NULL, err);
		else if (s->nclauses == 0)
			r = add_rule(ctx, def, fallback, s->nr, s->name, NULL, err);
		else if (fallback != def)
			/* Every call passes here; its fallback filter refuses the others. */
			r = add_rule(ctx, def, SCMP_ACT_ALLOW, s->nr, s->name, NULL, err);
		else {
			size_t budget = BX_CUBED_MAX;
			for (size_t c = 0; c < s->nclauses && r == 0; c++)
				r = add_rule_cubed(ctx, def, SCMP_ACT_ALLOW, s->nr, s->name,
						   &s->clauses[c], &budget, &s->cube, err);
		}
		if (r < 0)
			return r;
	}
	r = deny_unmentioned(ctx, p, pl, err);
	if (r < 0)
		return r;
	return ctx_emit(ctx, "the policy's filter, loaded last", sk, prog, err);
}

/* Whether s is decided by a fallback filter for action. */
static bool in_fallback(const struct sysc *s, uint32_t def, uint32_t action)
{
	return !s->always && s->nclauses > 0 && s->has_fallback && s->fallback != def &&
	       s->fallback == action;
}

/*
 * A fallback filter: for the syscalls whose refused calls get `action`,
 * allow what their clauses allow and give `action` to the rest; every other
 * syscall is allowed. libseccomp compiles the first part with `action` as
 * its default; a short prefix sends every other syscall number to "allow"
 * before it:
 *     ld [nr]; jeq #nr1, +n; jeq #nr2, +n-1; ...; ret ALLOW; <libseccomp's program>
 * A foreign ABI's number that happens to match goes on to libseccomp's arch
 * check (kill); one that does not is killed by the policy's filter anyway.
 */
static int fallback_build_once(const struct plan *pl, uint32_t def, uint32_t action, size_t first,
			       struct sink *sk, struct bx_bpf_prog *prog, size_t *next,
			       bool *has_seccomp, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	_cleanup_free_ struct sock_filter *insns = NULL;
	struct bx_bpf_prog body = {0};
	uint32_t nrs[BX_FALLBACK_SYSCALLS_MAX];
	size_t n = 0, i;
	char heading[160];
	int r;

	*has_seccomp = false;
	r = ctx_new(action, &ctx, err);
	if (r < 0)
		return r;
	for (i = first; i < pl->n && n < BX_FALLBACK_SYSCALLS_MAX; i++) {
		const struct sysc *s = &pl->s[i];

		if (!in_fallback(s, def, action))
			continue;
		size_t budget = BX_CUBED_MAX;
		nrs[n++] = (uint32_t)s->nr;
		*has_seccomp |= strcmp(s->name, "seccomp") == 0;
		for (size_t c = 0; c < s->nclauses; c++) {
			r = add_rule_cubed(ctx, action, SCMP_ACT_ALLOW, s->nr, s->name,
					   &s->clauses[c], &budget, &s->cube, err);
			if (r < 0)
				return r;
		}
	}
	*next = i;
	if (n == 0) {
		*next = pl->n;
		return 0;
	}
	snprintf(heading, sizeof(heading),
		 "a fallback filter: what the calls of %zu syscall(s) no rule allows get "
		 "(action %#x); every other syscall passes",
		 n, action);
	if (!sk->bpf) {
		if (dprintf(sk->pfc_fd, "\n# %s:", heading) < 0)
			return -EIO;
		for (size_t k = 0; k < pl->n; k++)
			if (k >= first && k < i && in_fallback(&pl->s[k], def, action))
				dprintf(sk->pfc_fd, " %s", pl->s[k].name);
		return ctx_pfc(ctx, "(its program, after the prefix that passes the others)",
			       sk->pfc_fd, err);
	}
	r = ctx_export(ctx, heading, &body, err);
	if (r < 0)
		return r;
	if (body.len + n + 2 > BPF_MAXINSNS) {
		free(body.insns);
		return bx_fail(err, -E2BIG, BX_NO_OFFSET,
			       "seccomp: a fallback filter needs %zu BPF instructions; the kernel "
			       "takes at most %d",
			       body.len + n + 2, BPF_MAXINSNS);
	}
	insns = malloc((body.len + n + 2) * sizeof(*insns));
	if (!insns) {
		free(body.insns);
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
	}
	insns[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						offsetof(struct seccomp_data, nr));
	for (size_t k = 0; k < n; k++)
		insns[1 + k] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[k],
							    (__u8)(n - k), 0);
	insns[1 + n] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	memcpy(insns + 2 + n, body.insns, body.len * sizeof(*insns));
	free(body.insns);
	prog->insns = bx_steal_ptr(&insns);
	prog->len = body.len + n + 2;
	return 0;
}

/* ------------------------------------------------------------------ violations and the deny list
 */

#define DENY_KILL_CLAUSES_MAX 64

/* Appends the clauses of "r AND every comparison of c" to out (0 when none). */
static int clause_and_all(const struct bx_sc_clause *r, const struct bx_sc_clause *c,
			  struct bx_sc_clause *out, size_t max)
{
	struct bx_sc_clause cur[DENY_KILL_CLAUSES_MAX], next[DENY_KILL_CLAUSES_MAX];
	size_t ncur = 1;

	cur[0] = *r;
	for (size_t k = 0; k < c->ncmp && ncur > 0; k++) {
		size_t nnext = 0;

		for (size_t i = 0; i < ncur; i++) {
			int n = bx_sc_and(&cur[i], &c->cmp[k], next + nnext,
					  DENY_KILL_CLAUSES_MAX - nnext);

			if (n < 0)
				return n;
			nnext += (size_t)n;
		}
		memcpy(cur, next, nnext * sizeof(cur[0]));
		ncur = nnext;
	}
	if (ncur > max)
		return -E2BIG;
	memcpy(out, cur, ncur * sizeof(cur[0]));
	return (int)ncur;
}

/*
 * set = set minus the calls clause c allows: each r that c touches becomes
 * the pieces "r AND NOT cmp" for each comparison of c. Returns 0 or -E2BIG.
 */
static int clauses_subtract(struct bx_sc_clause *set, size_t *n, const struct bx_sc_clause *c)
{
	struct bx_sc_clause out[DENY_KILL_CLAUSES_MAX] = {0}, tmp[DENY_KILL_CLAUSES_MAX];
	size_t nout = 0;

	for (size_t i = 0; i < *n; i++) {
		int hit = clause_and_all(&set[i], c, tmp, DENY_KILL_CLAUSES_MAX);

		if (hit < 0)
			return hit;
		if (hit == 0) { /* disjoint: kept whole */
			if (nout >= DENY_KILL_CLAUSES_MAX)
				return -E2BIG;
			out[nout++] = set[i];
			continue;
		}
		for (size_t k = 0; k < c->ncmp; k++) {
			struct bx_sc_cmp neg[64];
			size_t nneg = bx_sc_negate(&c->cmp[k], neg);

			for (size_t j = 0; j < nneg; j++) {
				int m = bx_sc_and(&set[i], &neg[j], out + nout,
						  DENY_KILL_CLAUSES_MAX - nout);

				if (m < 0)
					return m;
				nout += (size_t)m;
			}
		}
		/* c without comparisons allows everything: nothing of r is left */
	}
	memcpy(set, out, nout * sizeof(out[0]));
	*n = nout;
	return 0;
}

/*
 * With violations the policy's default is USER_NOTIF, which ranks below the
 * deny list's ERRNO: a deny-listed call that the policy does not allow would
 * return the errno where the kill-process default killed it. So, for each
 * syscall on the deny list that the policy names with conditions (and no
 * fallback of its own), its refused calls that the deny list denies stay
 * kills: a whole-syscall entry gets an explicit kill fallback (the
 * fallback filter with default kill, as `expr; kill` would), an entry by
 * argument gets kill rules for exactly "denied AND not allowed by the
 * policy" in a filter of their own (default allow; a kill wins wherever it
 * sits in the stack). Everything the deny list refused before still fails
 * the same way; only the calls the policy alone refused are named.
 */
static int deny_kills(const struct bx_policy *p, struct plan *pl, struct sink *sk,
		      struct bx_bpf_prog *prog, bool *any, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	*any = false;
	for (size_t i = 0; i < pl->n; i++) {
		struct sysc *s = &pl->s[i];
		const struct bx_deny_entry *e = bx_deny_find(s->name);
		struct bx_sc_clause set[DENY_KILL_CLAUSES_MAX];
		size_t n = 0, budget = BX_CUBED_MAX;
		bool cube = true; /* ranges from the policy's clauses: as masked comparisons */

		if (!e || bx_deny_overridden(p, e->name) || s->always || s->has_fallback ||
		    s->nclauses == 0)
			continue;
		if (e->arg < 0 || e->ncubes > DENY_KILL_CLAUSES_MAX)
			goto whole;
		for (size_t k = 0; k < e->ncubes; k++)
			set[n++] = (struct bx_sc_clause){.ncmp = 1,
							 .cmp = {{.arg = (unsigned)e->arg,
								  .op = BX_SC_MASKED_EQ,
								  .mask = e->cubes[k].mask,
								  .value = e->cubes[k].value}}};
		for (size_t c = 0; c < s->nclauses && n > 0; c++)
			if (clauses_subtract(set, &n, &s->clauses[c]) < 0)
				goto whole;
		if (n == 0)
			continue;
		if (!ctx) {
			r = ctx_new(SCMP_ACT_ALLOW, &ctx, err);
			if (r < 0)
				return r;
		}
		for (size_t k = 0; k < n; k++) {
			r = add_rule_cubed(ctx, SCMP_ACT_ALLOW, SCMP_ACT_KILL_PROCESS, s->nr,
					   s->name, &set[k], &budget, &cube, err);
			if (r == -E2BIG)
				goto whole;
			if (r < 0)
				return r;
		}
		*any = true;
		continue;
	whole:
		/* Too intricate to cut out: every refused call of it is a kill, as before. */
		s->has_fallback = true;
		s->fallback = SCMP_ACT_KILL_PROCESS;
	}
	if (!*any)
		return 0;
	return ctx_emit(ctx,
			"the deny list's calls the policy refuses stay kills (violations: the "
			"default is handed to init)",
			sk, prog, err);
}

/* Fills the sink with p's whole stack. */
static int build(const struct bx_policy *p, const struct bx_seccomp_extra *extra, struct sink *sk,
		 bx_error *err)
{
	struct plan pl = {0};
	struct bx_bpf_prog prog = {0};
	struct bx_bpf_prog late[BX_BPF_PROGS_MAX];
	size_t nlate = 0;
	uint32_t def = p->default_action;
	uint32_t done[BX_BPF_PROGS_MAX];
	size_t ndone = 0;
	bool empty = true;
	int r;

	if (p->noverride_deny > sizeof(p->override_deny) / sizeof(p->override_deny[0]))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: policy counts out of range");
	/*
	 * Violations: what would get the kill-process default is handed to the
	 * listener's holder instead, which names it and kills (see filter.h).
	 * An explicit kill (a rule, `expr; kill`) is a fallback of its own now,
	 * so it stays a kernel kill.
	 */
	if (extra && extra->violations && def == SCMP_ACT_KILL_PROCESS)
		def = SCMP_ACT_NOTIFY;
	pl.def = def;
	r = plan_add_policy(&pl, p, err);
	if (r == 0)
		r = plan_add_extra(&pl, extra, err);
	if (r < 0)
		goto out;

	/* 1. The deny list. */
	if (sk->bpf) {
		r = deny_compiled(p, &prog, &empty, err);
		if (r == 0 && !empty)
			r = bpf_push(sk->bpf, &prog, err);
		free(prog.insns); /* NULL once pushed */
		prog = (struct bx_bpf_prog){0};
	} else {
		r = deny_build(p, sk, &prog, &empty, err);
	}
	if (r < 0)
		goto out;
	/* 1b. Violations: the deny list's calls that the kill default killed stay kills. */
	if (def == SCMP_ACT_NOTIFY) {
		bool any = false;

		r = deny_kills(p, &pl, sk, &prog, &any, err);
		if (r == 0 && any && sk->bpf)
			r = bpf_push(sk->bpf, &prog, err);
		free(prog.insns);
		prog = (struct bx_bpf_prog){0};
		if (r < 0)
			goto out;
	}

	/*
	 * 2. A fallback filter per refusing action. One that refuses seccomp()
	 * itself comes after the policy's filter (which lets seccomp through
	 * for it), so that loading the next filter is not refused.
	 */
	for (size_t i = 0; i < pl.n; i++) {
		uint32_t action = pl.s[i].fallback;
		size_t next = 0, first = 0;
		bool seen = false;

		if (!in_fallback(&pl.s[i], def, action))
			continue;
		for (size_t k = 0; k < ndone; k++)
			seen |= done[k] == action;
		if (seen)
			continue;
		if (ndone >= BX_BPF_PROGS_MAX) {
			r = bx_fail(err, -E2BIG, BX_NO_OFFSET,
				    "seccomp: more than %d different fallback actions",
				    BX_BPF_PROGS_MAX);
			goto out;
		}
		done[ndone++] = action;
		for (first = 0; first < pl.n; first = next) {
			bool has_seccomp = false;

			r = fallback_build(&pl, def, action, first, sk, &prog, &next, &has_seccomp,
					   err);
			if (r < 0)
				goto out;
			if (!sk->bpf)
				continue;
			if (prog.len == 0)
				continue;
			if (has_seccomp && nlate < BX_BPF_PROGS_MAX) {
				late[nlate++] = prog;
				prog = (struct bx_bpf_prog){0};
			} else {
				r = bpf_push(sk->bpf, &prog, err);
				if (r < 0)
					goto out;
			}
		}
	}

	/* 3. The policy's filter. */
	r = policy_build(p, &pl, sk, &prog, err);
	if (r == 0 && sk->bpf)
		r = bpf_push(sk->bpf, &prog, err);
	for (size_t i = 0; i < nlate; i++) {
		if (r == 0 && sk->bpf)
			r = bpf_push(sk->bpf, &late[i], err);
		else
			free(late[i].insns);
	}
	nlate = 0;
	if (r == 0 && sk->bpf) {
		size_t total = 0;

		for (size_t i = 0; i < sk->bpf->nprogs; i++)
			total += sk->bpf->progs[i].len + 4;
		if (total > BX_INSNS_PER_PATH)
			r = bx_fail(err, -E2BIG, BX_NO_OFFSET,
				    "seccomp: the filters need %zu BPF instructions in all; the "
				    "kernel takes at most %d",
				    total, BX_INSNS_PER_PATH);
	}
out:
	for (size_t i = 0; i < nlate; i++)
		free(late[i].insns);
	free(prog.insns);
	plan_free(&pl);
	return r;
}

int bx_seccomp_compile(const struct bx_policy *p, const struct bx_seccomp_extra *extra,
		       struct bx_bpf *out, bx_error *err)
{
	struct bx_bpf bpf = {0};
	struct sink sk = {.bpf = &bpf, .pfc_fd = -1};
	int r;

	if (!p || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: no policy");
	r = build(p, extra, &sk, err);
	if (r < 0) {
		bx_bpf_free(&bpf);
		return r;
	}
	*out = bpf;
	return 0;
}

int bx_seccomp_export_pfc(const struct bx_policy *p, const struct bx_seccomp_extra *extra, int fd,
			  bx_error *err)
{
	struct sink sk = {.bpf = NULL, .pfc_fd = fd};

	if (!p || fd < 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: no policy");
	return build(p, extra, &sk, err);
}

/*
 * One filter of beambox's own (learning mode's, init's) from pl: its rules
 * allow, anything else gets def; pushed onto bpf. The rules are a handful
 * of equalities on the runtime's own arguments, so the cubed expansion needs
 * no check.
 */
static int plan_push_filter(const struct plan *pl, uint32_t def, const char *what,
			    struct bx_bpf *bpf, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	struct bx_bpf_prog prog = {0};
	int r = ctx_new(def, &ctx, err);

	for (size_t i = 0; i < pl->n && r == 0; i++) {
		const struct sysc *s = &pl->s[i];

		if (s->always)
			r = add_rule(ctx, def, s->always, s->nr, s->name, NULL, err);
		for (size_t c = 0; c < s->nclauses && r == 0 && !s->always; c++) {
			size_t budget = BX_CUBED_MAX;
			bool cube = true;

			r = add_rule_cubed(ctx, def, SCMP_ACT_ALLOW, s->nr, s->name, &s->clauses[c],
					   &budget, &cube, err);
		}
	}
	if (r == 0)
		r = ctx_export(ctx, what, &prog, err);
	if (r == 0)
		r = bpf_push(bpf, &prog, err);
	free(prog.insns); /* NULL once pushed */
	return r;
}

int bx_seccomp_compile_learning(const struct bx_policy *p, int learn_sock,
				const struct bx_seccomp_extra *extra, struct bx_bpf *out,
				bx_error *err)
{
	struct bx_bpf bpf = {0};
	struct bx_bpf_prog prog = {0};
	struct plan pl = {0};
	bool empty = true;
	int r;

	if (!p || !out || learn_sock < 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp (learn): bad arguments");
	r = deny_compiled(p, &prog, &empty, err);
	if (r == 0 && !empty)
		r = bpf_push(&bpf, &prog, err);
	free(prog.insns); /* NULL once pushed */
	prog = (struct bx_bpf_prog){0};
	/* The hand-over of the listener: sendmsg and close on learn_sock, before anything else. */
	for (int i = 0; i < 2 && r == 0; i++) {
		struct bx_sc_clause cl = {.ncmp = 1};
		struct sysc *s = NULL;

		cl.cmp[0] =
		    (struct bx_sc_cmp){.arg = 0, .op = BX_SC_EQ, .value = (uint64_t)learn_sock};
		r = plan_get(&pl, i == 0 ? "sendmsg" : "close", &s, err);
		if (r == 0)
			r = sysc_add_clause(s, &cl, err);
	}
	if (r == 0)
		r = plan_add_extra(&pl, extra, err);
	/* The runtime's calls and the hand-over only: all allowing, none recorded. */
	if (r == 0)
		r = plan_push_filter(&pl, SCMP_ACT_NOTIFY, "the learning filter", &bpf, err);
	plan_free(&pl);
	if (r < 0) {
		bx_bpf_free(&bpf);
		return r;
	}
	*out = bpf;
	return 0;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BX_INIT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define BX_INIT_TSAN 1
#endif

/*
 * What an init that holds the violation listener adds (bx_violation_serve,
 * src/spawn/violation.c): reading notifications and checking their ids,
 * killing everything else in its namespace, and its SIGCHLD handler's
 * reaping and return. The ioctl numbers are a header's function-like macros,
 * so by number; the text is runtime.c's by-number list for init.
 */
static int plan_add_init_violations(struct plan *pl, bx_error *err)
{
	struct bx_sc_clause cl = {.ncmp = 1};
	struct sysc *s = NULL;
	static const uint64_t requests[] = {SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_ID_VALID};
	int r;

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		cl.cmp[0] = (struct bx_sc_cmp){
		    .arg = 1, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = requests[i]};
		r = plan_get(pl, "ioctl", &s, err);
		if (r == 0)
			r = sysc_add_clause(s, &cl, err);
		if (r < 0)
			return r;
	}
	cl = (struct bx_sc_clause){.ncmp = 2};
	cl.cmp[0] = (struct bx_sc_cmp){
	    .arg = 0, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = (uint32_t)-1};
	cl.cmp[1] =
	    (struct bx_sc_cmp){.arg = 1, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = SIGKILL};
	r = plan_get(pl, "kill", &s, err);
	if (r == 0)
		r = sysc_add_clause(s, &cl, err);
	if (r < 0)
		return r;
	cl.cmp[1] =
	    (struct bx_sc_cmp){.arg = 2, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = WNOHANG};
	r = plan_get(pl, "wait4", &s, err);
	if (r == 0)
		r = sysc_add_clause(s, &cl, err);
	if (r < 0)
		return r;
	/* poll(&listener, 1, 0): whether the filter's processes are all gone (a hang-up). */
	cl = (struct bx_sc_clause){.ncmp = 2};
	cl.cmp[0] = (struct bx_sc_cmp){.arg = 1, .op = BX_SC_EQ, .value = 1};
	cl.cmp[1] = (struct bx_sc_cmp){.arg = 2, .op = BX_SC_MASKED_EQ, .mask = LOW32, .value = 0};
	r = plan_get(pl, "poll", &s, err);
	if (r == 0)
		r = sysc_add_clause(s, &cl, err);
	if (r < 0)
		return r;
	r = plan_get(pl, "rt_sigreturn", &s, err);
	if (r == 0)
		s->always = SCMP_ACT_ALLOW;
#ifdef BX_INIT_TSAN
	/*
	 * ThreadSanitizer delivers a signal to its handler later, at a safe
	 * point, around a sigprocmask of its own: the SIGCHLD handler needs it
	 * (TSan builds only, never a release build).
	 */
	if (r == 0)
		r = plan_get(pl, "rt_sigprocmask", &s, err);
	if (r == 0)
		s->always = SCMP_ACT_ALLOW;
#endif
	return r;
}

static int compile_init(int note_fd, int read_fd, bool violations, struct bx_bpf *out,
			bx_error *err);

int bx_seccomp_compile_init(int note_fd, int read_fd, struct bx_bpf *out, bx_error *err)
{
	return compile_init(note_fd, read_fd, false, out, err);
}

int bx_seccomp_compile_init_violations(int note_fd, int read_fd, struct bx_bpf *out, bx_error *err)
{
	return compile_init(note_fd, read_fd, true, out, err);
}

static int compile_init(int note_fd, int read_fd, bool violations, struct bx_bpf *out,
			bx_error *err)
{
	const struct bx_policy *rules = bx_runtime_rules(BX_RUNTIME_INIT);
	struct bx_bpf bpf = {0};
	struct plan pl = {0};
	int r;

	if (!out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp (init): bad arguments");
	if (!rules)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "seccomp (init): the runtime's rules do not parse");
	r = plan_add_policy(&pl, rules, err);
	if (r == 0 && note_fd > 2)
		r = plan_add_fd_rule(&pl, "write", 0, note_fd, err);
	if (r == 0 && read_fd > 2)
		r = plan_add_fd_rule(&pl, "read", 0, read_fd, err);
	if (r == 0 && violations)
		r = plan_add_init_violations(&pl, err);
	/* Deny by default: the kill covers the deny list's calls, and everything else. */
	if (r == 0)
		r = plan_push_filter(&pl, SCMP_ACT_KILL_PROCESS, "init's filter", &bpf, err);
	plan_free(&pl);
	if (r < 0) {
		bx_bpf_free(&bpf);
		return r;
	}
	*out = bpf;
	return 0;
}
