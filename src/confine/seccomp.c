/* SPDX-License-Identifier: MIT */
/*
 * seccomp: policy rules + deny list -> classic BPF, through libseccomp.
 *
 * Two libseccomp 2.5.4 behaviours shape this file (both checked on the
 * real library, see tests/test_seccomp.c):
 *   1. Rules for one syscall are combined as a union with no defined
 *      precedence between actions: an unconditional rule silently swallows
 *      every conditional rule of the same syscall, whichever was added first
 *      (`ioctl: ALLOW` + `ioctl(arg1 == TIOCSTI): ERRNO` compiles to a plain
 *      ALLOW), and of two unconditional rules with different actions the
 *      first wins. So we never let an allowing rule overlap a denying one:
 *      for the restricted syscalls the denied argument values and the
 *      allowed ones are built as disjoint sets of masked comparisons.
 *   2. A rule may compare each argument at most once (-EINVAL otherwise),
 *      and there is no "masked not-equal": "low 32 bits not in {a, b}" has
 *      to be spelled as a union of masked-equal "cubes" (bit patterns).
 * Also: a rule whose action equals the default action is refused with
 * -EACCES; such a rule changes nothing, so it is skipped.
 */
#define _GNU_SOURCE
#include "confine/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Every namespace flag of clone(2)/unshare(2). */
#define BX_CLONE_NS_FLAGS                                                                          \
	((uint64_t)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |     \
		    CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME))

#define LOW32 0xffffffffULL

/* The most masked comparisons one restriction needs (personality: 62). */
#define BX_CUBES_MAX 64

static void scmp_ctx_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* ------------------------------------------------------------------ deny list */

/*
 * Syscalls no worker gets, whatever its policy, unless the policy lists the
 * name in override_deny. Each one opens kernel attack surface that a
 * confined worker has no business reaching, or undoes the confinement.
 */
static const struct {
	const char *name;
	int errno_value;
} deny_all[] = {
    /*
     * Namespaces expose code that was root-only to unprivileged users:
     * CVE-2022-0185 (fsconfig heap overflow), CVE-2022-0492 (cgroup v1
     * release_agent escape), CVE-2023-32233 (nf_tables), all reached
     * through a new user namespace. The worker's namespaces are set up
     * before the filter; it never needs to make or join one.
     */
    {"unshare", EPERM},
    {"setns", EPERM},
    /*
     * clone3 passes its flags in memory, which BPF cannot read, so it
     * cannot be checked like clone. ENOSYS (not EPERM) makes glibc >= 2.34
     * fall back to clone, whose flags are checked below (runc and Docker
     * do the same, moby/moby#42680).
     */
    {"clone3", ENOSYS},
    /*
     * Debugging other processes: CVE-2019-13272 (PTRACE_TRACEME credential
     * confusion); before Linux 4.8 a tracer could also rewrite a syscall
     * after the filter had passed it (seccomp(2), "BUGS").
     * process_vm_* read and write another process's memory the same way.
     */
    {"ptrace", EPERM},
    {"process_vm_readv", EPERM},
    {"process_vm_writev", EPERM},
    /* The eBPF verifier is a repeat LPE source: CVE-2021-3490, CVE-2022-23222. */
    {"bpf", EPERM},
    /* CVE-2013-2094 (perf_swevent_init), and a side channel on other processes. */
    {"perf_event_open", EPERM},
    /*
     * Lets a thread stall the kernel on a page fault, the standard way to
     * win kernel races in exploits; why vm.unprivileged_userfaultfd exists
     * (Linux 5.2).
     */
    {"userfaultfd", EPERM},
    /*
     * io_uring: CVE-2022-29582, CVE-2023-2598 and many more; Google reported
     * most of its 2022 kCTF kernel exploit submissions went through it and
     * turned it off on ChromeOS, Android apps and its production servers.
     */
    {"io_uring_setup", EPERM},
    {"io_uring_enter", EPERM},
    {"io_uring_register", EPERM},
    /* Kernel keyrings are not namespaced: CVE-2016-0728 (keyctl refcount overflow). */
    {"keyctl", EPERM},
    {"add_key", EPERM},
    {"request_key", EPERM},
    /* Replacing the kernel or loading code into it. */
    {"kexec_load", EPERM},
    {"kexec_file_load", EPERM},
    {"init_module", EPERM},
    {"finit_module", EPERM},
    {"delete_module", EPERM},
    /*
     * Changing the filesystem view the worker was given (CVE-2022-0492
     * mounts cgroupfs; the new mount API is where CVE-2022-0185 lives).
     */
    {"mount", EPERM},
    {"umount2", EPERM},
    {"pivot_root", EPERM},
    {"chroot", EPERM},
    {"fsopen", EPERM},
    {"fsmount", EPERM},
    {"fsconfig", EPERM},
    {"fspick", EPERM},
    {"move_mount", EPERM},
    {"open_tree", EPERM},
    {"mount_setattr", EPERM},
    /*
     * Opens any file of a mount by its handle, bypassing the path walk: the
     * 2014 "shocker" Docker breakout read the host's /etc/shadow with it.
     */
    {"open_by_handle_at", EPERM},
};

/* (arg & mask) == value, on the 64-bit argument; value has no bit outside mask. */
struct cube {
	uint64_t mask;
	uint64_t value;
};

/*
 * A syscall allowed only for some values of one argument. bad and good
 * partition all 2^64 values of the argument: bad values get ERRNO(EPERM)
 * always, and the policy's rules for the syscall are narrowed to good ones.
 */
struct restriction {
	const char *name;
	unsigned arg;
	size_t nbad, ngood;
	struct cube bad[BX_CUBES_MAX];
	struct cube good[BX_CUBES_MAX];
};

enum { R_CLONE, R_IOCTL, R_PERSONALITY, R_COUNT };

/*
 * Writes cubes whose union is "the low 32 bits are neither a nor b" (the
 * high 32 bits are free, as the kernel ignores them for int arguments).
 * x is neither a nor b iff it differs from both at a bit where a and b
 * agree, or, on the bits where they differ (where b is ~a), x is neither
 * all-equal to a nor all-opposite: then x is "mixed" on the pair made of
 * the first differing bit and some other differing bit j. Returns the
 * count: 32 + popcount(a ^ b) - 2 (at most 62).
 */
static size_t cubes_low32_not_in(uint32_t a, uint32_t b, struct cube *out)
{
	uint32_t diff = a ^ b, first = diff & -diff;
	size_t n = 0;

	for (unsigned i = 0; i < 32; i++) {
		uint32_t bit = 1u << i;

		if (!(diff & bit))
			out[n++] = (struct cube){bit, ~a & bit};
		else if (bit != first) {
			out[n++] = (struct cube){first | bit, (a & first) | (~a & bit)};
			out[n++] = (struct cube){first | bit, (~a & first) | (a & bit)};
		}
	}
	return n;
}

static void restrictions_init(struct restriction r[R_COUNT])
{
	static const uint64_t ns[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,	   CLONE_NEWUSER,
				      CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};

	memset(r, 0, sizeof(*r) * R_COUNT);

	/*
	 * clone(flags, ...): no namespace flag (reasons as for unshare above).
	 * The kernel reads the low 32 bits of flags; all ns flags live there.
	 */
	r[R_CLONE].name = "clone";
	r[R_CLONE].arg = 0;
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		r[R_CLONE].bad[r[R_CLONE].nbad++] = (struct cube){ns[i], ns[i]};
	r[R_CLONE].good[r[R_CLONE].ngood++] = (struct cube){BX_CLONE_NS_FLAGS, 0};

	/*
	 * ioctl(fd, request, ...): no TIOCSTI, which pushes input into a
	 * terminal shared with the outside (CVE-2017-5226 bubblewrap,
	 * CVE-2016-7545 SELinux sandbox), nor TIOCLINUX, whose console
	 * selection paste does the same (CVE-2023-1523 snapd). request is an
	 * unsigned int for the kernel: compared on its low 32 bits, so garbage
	 * in the high half does not slip past.
	 */
	r[R_IOCTL].name = "ioctl";
	r[R_IOCTL].arg = 1;
	r[R_IOCTL].bad[r[R_IOCTL].nbad++] = (struct cube){LOW32, TIOCSTI};
	r[R_IOCTL].bad[r[R_IOCTL].nbad++] = (struct cube){LOW32, TIOCLINUX};
	r[R_IOCTL].ngood = cubes_low32_not_in(TIOCSTI, TIOCLINUX, r[R_IOCTL].good);

	/*
	 * personality(persona): only 0 (PER_LINUX) and 0xffffffff (query).
	 * Other personas bring back old exploit aids: MMAP_PAGE_ZERO
	 * (CVE-2009-2692 sock_sendpage NULL dereference), READ_IMPLIES_EXEC,
	 * ADDR_NO_RANDOMIZE (ASLR off for the next exec).
	 */
	r[R_PERSONALITY].name = "personality";
	r[R_PERSONALITY].arg = 0;
	r[R_PERSONALITY].good[r[R_PERSONALITY].ngood++] = (struct cube){LOW32, 0};
	r[R_PERSONALITY].good[r[R_PERSONALITY].ngood++] = (struct cube){LOW32, LOW32};
	r[R_PERSONALITY].nbad = cubes_low32_not_in(0, 0xffffffffu, r[R_PERSONALITY].bad);
}

/* ------------------------------------------------------------------ helpers */

/* Whether an action may let the syscall run (anything not a kill, trap or errno). */
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

static bool name_in(const char *name, char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i] && strcmp(list[i], name) == 0)
			return true;
	}
	return false;
}

/* Whether some value of the cube satisfies c (conservative: true when unsure). */
static bool cmp_may_hit(const struct bx_sc_cmp *c, const struct cube *k)
{
	uint64_t lo = k->value, hi = k->value | ~k->mask; /* the cube's extremes */
	uint64_t common = c->mask & k->mask;

	switch (c->op) {
	case BX_SC_EQ:
		return (c->value & k->mask) == k->value;
	case BX_SC_LT:
		return lo < c->value;
	case BX_SC_LE:
		return lo <= c->value;
	case BX_SC_GT:
		return hi > c->value;
	case BX_SC_GE:
		return hi >= c->value;
	case BX_SC_MASKED_EQ:
		return (c->value & common) == (k->value & common);
	case BX_SC_NE:
	default:
		return true;
	}
}

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
static int check_clause(const struct bx_sc_rule *rule, size_t ci, bx_error *err)
{
	const struct bx_sc_clause *cl = &rule->clauses[ci];
	unsigned seen = 0;

	if (cl->ncmp > BX_SC_ARGS_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule '%s' clause %zu: %zu comparisons",
			       rule->name, ci, cl->ncmp);
	for (size_t i = 0; i < cl->ncmp; i++) {
		const struct bx_sc_cmp *c = &cl->cmp[i];

		if (c->arg >= BX_SC_ARGS_MAX || c->op < BX_SC_EQ || c->op > BX_SC_MASKED_EQ)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s' clause %zu: bad comparison on arg %u", rule->name,
				       ci, c->arg);
		/* libseccomp would mask the value too, matching more than the policy says. */
		if (c->op == BX_SC_MASKED_EQ && (c->value & ~c->mask) != 0)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "rule '%s' clause %zu: masked value %#llx has bits outside "
				       "mask %#llx",
				       rule->name, ci, (unsigned long long)c->value,
				       (unsigned long long)c->mask);
		if (seen & (1u << c->arg))
			return bx_fail(
			    err, -EINVAL, BX_NO_OFFSET,
			    "rule '%s' clause %zu compares arg %u twice (libseccomp allows "
			    "one comparison per argument; split it into two clauses)",
			    rule->name, ci, c->arg);
		seen |= 1u << c->arg;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t def, uint32_t action, int nr, const char *name,
		    unsigned n, const struct scmp_arg_cmp *cmps, bx_error *err)
{
	int r;

	if (action == def)
		return 0; /* no effect, and libseccomp refuses it with -EACCES */
	r = seccomp_rule_add_array(ctx, action, nr, n, n ? cmps : NULL);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_rule_add(%s, action %#x): %s", name,
			       action, strerror(-r));
	return 0;
}

static int resolve(const char *name, int *nr, bx_error *err)
{
	int n = seccomp_syscall_resolve_name(name);

	if (n == __NR_SCMP_ERROR)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "unknown syscall '%.40s'", name);
	*nr = n;
	return 0;
}

int bx_seccomp_deny_errno(const char *name)
{
	static const char *const restricted[] = {"clone", "ioctl", "personality"};

	for (size_t i = 0; i < sizeof(deny_all) / sizeof(deny_all[0]); i++) {
		if (strcmp(name, deny_all[i].name) == 0)
			return deny_all[i].errno_value;
	}
	for (size_t i = 0; i < sizeof(restricted) / sizeof(restricted[0]); i++) {
		if (strcmp(name, restricted[i]) == 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ compile */

static int add_deny_list(scmp_filter_ctx ctx, const struct bx_policy *p,
			 const struct restriction *res, bx_error *err)
{
	int nr = __NR_SCMP_ERROR, r;

	for (size_t i = 0; i < sizeof(deny_all) / sizeof(deny_all[0]); i++) {
		if (name_in(deny_all[i].name, p->override_deny, p->noverride_deny))
			continue;
		r = resolve(deny_all[i].name, &nr, err);
		if (r < 0)
			return r;
		r = add_rule(ctx, p->default_action,
			     SCMP_ACT_ERRNO((uint32_t)deny_all[i].errno_value), nr,
			     deny_all[i].name, 0, NULL, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < R_COUNT; i++) {
		if (name_in(res[i].name, p->override_deny, p->noverride_deny))
			continue;
		r = resolve(res[i].name, &nr, err);
		if (r < 0)
			return r;
		for (size_t k = 0; k < res[i].nbad; k++) {
			struct scmp_arg_cmp c = SCMP_CMP64(res[i].arg, SCMP_CMP_MASKED_EQ,
							   res[i].bad[k].mask, res[i].bad[k].value);

			r = add_rule(ctx, p->default_action, SCMP_ACT_ERRNO(EPERM), nr, res[i].name,
				     1, &c, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Adds one clause of a policy rule for a restricted syscall, narrowed to the good values. */
static int add_restricted_clause(scmp_filter_ctx ctx, uint32_t def, const struct bx_sc_rule *rule,
				 int nr, const struct bx_sc_clause *cl,
				 const struct restriction *res, bx_error *err)
{
	struct scmp_arg_cmp cmps[BX_SC_ARGS_MAX];
	const struct bx_sc_cmp *on_arg = NULL;
	unsigned n = 0;

	for (size_t i = 0; i < cl->ncmp; i++) {
		if (cl->cmp[i].arg == res->arg)
			on_arg = &cl->cmp[i];
		cmps[n++] = to_scmp(&cl->cmp[i]);
	}
	if (on_arg) {
		/*
		 * The clause already compares the restricted argument and a rule
		 * may compare it only once: accept it if it cannot match a
		 * denied value (then it lies within the allowed ones).
		 */
		if (action_permits(rule->action)) {
			for (size_t k = 0; k < res->nbad; k++) {
				if (cmp_may_hit(on_arg, &res->bad[k]))
					return bx_fail(
					    err, -EINVAL, BX_NO_OFFSET,
					    "policy allows '%s' with an arg %u comparison "
					    "that may match a denied value (override it "
					    "explicitly with override-deny)",
					    rule->name, res->arg);
			}
		}
		return add_rule(ctx, def, rule->action, nr, rule->name, n, cmps, err);
	}
	/* One rule per allowed cube, each with the clause's own comparisons. */
	for (size_t k = 0; k < res->ngood; k++) {
		int r;

		cmps[n] =
		    SCMP_CMP64(res->arg, SCMP_CMP_MASKED_EQ, res->good[k].mask, res->good[k].value);
		r = add_rule(ctx, def, rule->action, nr, rule->name, n + 1, cmps, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_policy_rule(scmp_filter_ctx ctx, const struct bx_policy *p,
			   const struct bx_sc_rule *rule, const struct restriction *res,
			   bx_error *err)
{
	static const struct bx_sc_clause always = {0};
	const struct restriction *restricted = NULL;
	bool overridden;
	int nr = __NR_SCMP_ERROR, r;

	if (!memchr(rule->name, '\0', sizeof(rule->name)) || rule->name[0] == '\0')
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule with a bad syscall name");
	if (rule->nclauses > BX_SC_CLAUSES_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "rule '%s': %zu clauses", rule->name,
			       rule->nclauses);
	r = resolve(rule->name, &nr, err);
	if (r < 0)
		return r;
	for (size_t ci = 0; ci < rule->nclauses; ci++) {
		r = check_clause(rule, ci, err);
		if (r < 0)
			return r;
	}

	overridden = name_in(rule->name, p->override_deny, p->noverride_deny);
	for (size_t i = 0; i < sizeof(deny_all) / sizeof(deny_all[0]) && !overridden; i++) {
		if (strcmp(rule->name, deny_all[i].name) != 0)
			continue;
		if (action_permits(rule->action))
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "policy allows '%s', which is on the deny list (override it "
				       "explicitly with override-deny)",
				       rule->name);
		/* A stricter or equal policy rule: the deny list's ERRNO already covers it. */
		return 0;
	}
	for (size_t i = 0; i < R_COUNT && !overridden; i++) {
		if (strcmp(rule->name, res[i].name) == 0)
			restricted = &res[i];
	}

	if (!restricted && rule->nclauses == 0)
		return add_rule(ctx, p->default_action, rule->action, nr, rule->name, 0, NULL, err);
	for (size_t ci = 0; ci < (rule->nclauses ? rule->nclauses : 1); ci++) {
		const struct bx_sc_clause *cl = rule->nclauses ? &rule->clauses[ci] : &always;

		if (restricted) {
			r = add_restricted_clause(ctx, p->default_action, rule, nr, cl, restricted,
						  err);
		} else {
			struct scmp_arg_cmp cmps[BX_SC_ARGS_MAX];

			for (size_t i = 0; i < cl->ncmp; i++)
				cmps[i] = to_scmp(&cl->cmp[i]);
			r = add_rule(ctx, p->default_action, rule->action, nr, rule->name,
				     (unsigned)cl->ncmp, cmps, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* execveat(exec_fd, "", argv, envp, flags with AT_EMPTY_PATH); fd and flags are ints: low 32 bits.
 */
static int add_exec_fd(scmp_filter_ctx ctx, uint32_t def, int exec_fd, bx_error *err)
{
	struct scmp_arg_cmp cmps[] = {
	    SCMP_CMP64(0, SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)exec_fd),
	    SCMP_CMP64(4, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH),
	};
	int nr = __NR_SCMP_ERROR, r;

	r = resolve("execveat", &nr, err);
	if (r < 0)
		return r;
	return add_rule(ctx, def, SCMP_ACT_ALLOW, nr, "execveat", 2, cmps, err);
}

/* Reads a whole BPF program from fd (offset 0) into *out, with bounds. */
static int read_bpf(int fd, struct bx_bpf *out, bx_error *err)
{
	_cleanup_free_ struct sock_filter *insns = NULL;
	struct stat st;
	size_t size, done = 0;

	if (fstat(fd, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp filter: fstat: %m");
	if (!S_ISREG(st.st_mode))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp filter: not a regular file");
	if (st.st_size <= 0 || (uint64_t)st.st_size > BPF_MAXINSNS * sizeof(struct sock_filter) ||
	    (uint64_t)st.st_size % sizeof(struct sock_filter) != 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
			       "seccomp filter: %lld bytes is not 1..%d instructions",
			       (long long)st.st_size, BPF_MAXINSNS);
	size = (size_t)st.st_size;
	insns = malloc(size);
	if (!insns)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp filter: out of memory");
	while (done < size) {
		ssize_t n = pread(fd, (char *)insns + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp filter: pread: %m");
		if (n == 0)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "seccomp filter: truncated at %zu of %zu bytes", done, size);
		done += (size_t)n;
	}
	out->insns = bx_steal_ptr(&insns);
	out->len = size / sizeof(struct sock_filter);
	return 0;
}

int bx_seccomp_compile(const struct bx_policy *p, const struct bx_seccomp_extra *extra,
		       struct bx_bpf *out, bx_error *err)
{
	_cleanup_(scmp_ctx_releasep) scmp_filter_ctx ctx = NULL;
	_cleanup_free_ struct restriction *res = NULL;
	_cleanup_fd_ int fd = -1;
	int exec_fd = extra ? extra->exec_fd : -1;
	int r;

	if (!p || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: no policy");
	if (p->nrules > BX_POLICY_RULES_MAX ||
	    p->noverride_deny > sizeof(p->override_deny) / sizeof(p->override_deny[0]))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: policy counts out of range");
	if (exec_fd < -1)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp: bad exec fd %d", exec_fd);

	ctx = seccomp_init(p->default_action);
	if (!ctx)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "seccomp_init: default action %#x is not valid", p->default_action);
	/*
	 * Native architecture only (seccomp_init adds just that one). Any other
	 * ABI fails the arch check and takes the bad-arch action; on x86_64
	 * libseccomp also sends every syscall number with the x32 bit
	 * (0x40000000) there, except -1 (tracer skip), before any rule.
	 */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_attr_set(ACT_BADARCH): %s",
			       strerror(-r));
	/* A binary tree over syscall numbers instead of a linear list. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_attr_set(CTL_OPTIMIZE, 2): %s",
			       strerror(-r));

	res = malloc(sizeof(*res) * R_COUNT);
	if (!res)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: out of memory");
	restrictions_init(res);

	r = add_deny_list(ctx, p, res, err);
	if (r < 0)
		return r;
	if (exec_fd >= 0) {
		r = add_exec_fd(ctx, p->default_action, exec_fd, err);
		if (r < 0)
			return r;
	}
	/*
	 * Fallback rules (`expr; return ERRNO`) first: libseccomp 2.5.4 merges
	 * a conditional rule added after overlapping conditional rules of the
	 * same syscall wrongly in some shapes (found by test_random_expressions,
	 * reproduced with libseccomp alone); added first, they come out right.
	 */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->nrules; i++) {
			if (p->rules[i].derived != (pass == 0))
				continue;
			r = add_policy_rule(ctx, p, &p->rules[i], res, err);
			if (r < 0)
				return r;
		}

	/* libseccomp 2.5 exports only to an fd: go through an anonymous memfd. */
	fd = memfd_create("bx-seccomp-export", MFD_CLOEXEC);
	if (fd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp: memfd_create: %m");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_export_bpf: %s", strerror(-r));
	return read_bpf(fd, out, err);
}

void bx_bpf_free(struct bx_bpf *bpf)
{
	if (!bpf)
		return;
	free(bpf->insns);
	bpf->insns = NULL;
	bpf->len = 0;
}

int bx_seccomp_load(const struct bx_bpf *bpf)
{
	struct sock_fprog prog;
	long r;

	if (!bpf || !bpf->insns || bpf->len == 0 || bpf->len > BPF_MAXINSNS)
		return -EINVAL;
	prog.len = (unsigned short)bpf->len;
	prog.filter = bpf->insns;
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r < 0)
		return -errno;
	if (r > 0) {
		/* TSYNC: r is the id of a thread that could not take the filter. */
		bx_log(BX_LOG_ERROR, "seccomp: thread %ld could not be synchronised", r);
		return -EBUSY;
	}
	return 0;
}

int bx_seccomp_export_fd(const struct bx_bpf *bpf)
{
	_cleanup_fd_ int fd = -1;
	size_t size, done = 0;

	if (!bpf || !bpf->insns || bpf->len == 0 || bpf->len > BPF_MAXINSNS)
		return -EINVAL;
	size = bpf->len * sizeof(struct sock_filter);
	fd = memfd_create("bx-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	while (done < size) {
		ssize_t n = write(fd, (const char *)bpf->insns + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return bx_steal_fd(&fd);
}

int bx_seccomp_import_fd(int fd, struct bx_bpf *out, bx_error *err)
{
	if (fd < 0 || !out)
		return bx_fail(err, -EBADF, BX_NO_OFFSET, "seccomp filter: no fd");
	return read_bpf(fd, out, err);
}
