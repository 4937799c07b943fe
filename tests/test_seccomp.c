/* SPDX-License-Identifier: MIT */
/*
 * Tests for the compiled filters (src/policy/compile.c, deny.c) and their
 * loading and hand-over (src/confine/seccomp.c). Every filter is loaded for real in a
 * forked child, which tries syscalls and sends {return value, errno}
 * records through a pipe; the parent asserts each one and how the child
 * ended. Children leave with a raw exit_group (ASan's _exit interceptor
 * would run the leak checker, which the filter forbids).
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine/seccomp.h"

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

#define MARK	   0x5eed /* "reached this point" record */
#define HI_GARBAGE 0xdeadbeef00000000ULL

/* ------------------------------------------------------------------ policy helpers */

/* A policy with default action def that allows what every child needs to report and leave. */
static struct bx_policy *policy_new(uint32_t def)
{
	static const char *const base[] = {"write", "exit_group", "exit", "rt_sigreturn"};
	struct bx_policy *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->default_action = def;
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		struct bx_sc_rule *r = &p->rules[p->nrules++];

		snprintf(r->name, sizeof(r->name), "%s", base[i]);
		r->action = SCMP_ACT_ALLOW;
	}
	return p;
}

static struct bx_sc_rule *rule(struct bx_policy *p, const char *name, uint32_t action)
{
	struct bx_sc_rule *r;

	assert_true(p->nrules < BX_POLICY_RULES_MAX);
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->action = action;
	return r;
}

static void allow(struct bx_policy *p, const char *name)
{
	rule(p, name, SCMP_ACT_ALLOW);
}

/* Allows name when (arg op value), one clause with one comparison. */
static void allow_if(struct bx_policy *p, const char *name, unsigned arg, enum bx_sc_op op,
		     uint64_t mask, uint64_t value)
{
	struct bx_sc_rule *r = rule(p, name, SCMP_ACT_ALLOW);

	r->nclauses = 1;
	r->clauses[0].ncmp = 1;
	r->clauses[0].cmp[0] =
	    (struct bx_sc_cmp){.arg = arg, .op = op, .mask = mask, .value = value};
}

static void override(struct bx_policy *p, const char *name)
{
	p->override_deny[p->noverride_deny++] = (char *)name;
}

static void compile_ok(const struct bx_policy *p, int exec_fd, struct bx_bpf *bpf)
{
	/* The policy alone: no runtime calls added (those are tested in test_policy.c). */
	struct bx_seccomp_extra extra = {.exec_fd = exec_fd, .runtime = BX_RUNTIME_NONE};
	bx_error err = {0};
	int r = bx_seccomp_compile(p, &extra, bpf, &err);

	if (r != 0)
		fail_msg("compile: %d %s", r, err.text);
	assert_true(bpf->nprogs > 0 && bpf->nprogs <= BX_BPF_PROGS_MAX);
	for (size_t i = 0; i < bpf->nprogs; i++) {
		assert_non_null(bpf->progs[i].insns);
		assert_true(bpf->progs[i].len > 0 && bpf->progs[i].len <= BPF_MAXINSNS);
	}
}

/* ------------------------------------------------------------------ child runner */

struct rec {
	int64_t ret;
	int32_t err;
	int32_t pad;
};

struct outcome {
	int status;
	size_t n;
	struct rec rec[128];
};

typedef void (*child_fn)(int out, void *arg);

static void child_exit(int code)
{
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

static void report(int out, long ret, int err)
{
	struct rec r = {.ret = ret, .err = ret < 0 ? err : 0};

	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		child_exit(102);
}

/* Records the result of a syscall expression with the errno it left. */
#define TRY(out, expr)                                                                             \
	do {                                                                                       \
		long try_r_ = (long)(expr);                                                        \
		report(out, try_r_, errno);                                                        \
	} while (0)

/* Runs fn in a child under bpf (after no_new_privs) and collects its records and status. */
static void run_child(const struct bx_bpf *bpf, child_fn fn, void *arg, struct outcome *o)
{
	int pfd[2];
	pid_t pid;
	size_t got = 0;

	memset(o, 0, sizeof(*o));
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			child_exit(100);
		if (bx_seccomp_load(bpf) < 0)
			child_exit(101);
		fn(pfd[1], arg);
		child_exit(0);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], (char *)o->rec + got, sizeof(o->rec) - got);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(pfd[0]);
	assert_int_equal(got % sizeof(struct rec), 0);
	o->n = got / sizeof(struct rec);
	assert_int_equal(waitpid(pid, &o->status, 0), pid);
}

static void assert_exited(const struct outcome *o, int code)
{
	if (!WIFEXITED(o->status) || WEXITSTATUS(o->status) != code)
		fail_msg("child status %#x, want exit %d", o->status, code);
}

static void assert_sigsys(const struct outcome *o)
{
	if (!WIFSIGNALED(o->status) || WTERMSIG(o->status) != SIGSYS)
		fail_msg("child status %#x, want killed by SIGSYS", o->status);
}

static void assert_rec(const struct outcome *o, size_t i, long ret, int err)
{
	assert_true(i < o->n);
	if (o->rec[i].ret != ret || o->rec[i].err != err)
		fail_msg("record %zu: ret %lld errno %d (%s), want ret %ld errno %d (%s)", i,
			 (long long)o->rec[i].ret, o->rec[i].err, strerror(o->rec[i].err), ret, err,
			 strerror(err));
}

/* ------------------------------------------------------------------ allowed vs default */

static void child_getpid_then_getppid(int out, void *arg)
{
	(void)arg;
	TRY(out, syscall(SYS_getpid));
	report(out, MARK, 0);
	TRY(out, syscall(SYS_getppid)); /* not in the policy: killed */
}

static void test_allowed_and_default_kill(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0};
	struct outcome o;

	(void)state;
	allow(p, "getpid");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_getpid_then_getppid, NULL, &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 2);
	assert_true(o.rec[0].ret > 1);
	assert_rec(&o, 1, MARK, 0);
	bx_bpf_free(&bpf);
	bx_bpf_free(&bpf); /* idempotent */
	free(p);
}

/* ------------------------------------------------------------------ deny list */

struct deny_case {
	long nr;
	unsigned long a[6];
	int want;
};

/* Arguments chosen so that the call would fail harmlessly if the filter let it through. */
static const struct deny_case deny_cases[] = {
    {SYS_ptrace, {PTRACE_TRACEME}, EPERM},
    {SYS_process_vm_readv, {0}, EPERM},
    {SYS_process_vm_writev, {0}, EPERM},
    {SYS_bpf, {0}, EPERM},
    {SYS_perf_event_open, {0}, EPERM},
    {SYS_userfaultfd, {0}, EPERM},
    {SYS_io_uring_setup, {0}, EPERM},
    {SYS_io_uring_enter, {(unsigned long)-1}, EPERM},
    {SYS_io_uring_register, {(unsigned long)-1}, EPERM},
    {SYS_keyctl, {0}, EPERM},
    {SYS_add_key, {0}, EPERM},
    {SYS_request_key, {0}, EPERM},
    {SYS_kexec_load, {0, 0, 0, 0xffffffffUL}, EPERM},
    {SYS_kexec_file_load, {(unsigned long)-1, (unsigned long)-1, 0, 0, 0xffffffffUL}, EPERM},
    {SYS_init_module, {0}, EPERM},
    {SYS_finit_module, {(unsigned long)-1}, EPERM},
    {SYS_delete_module, {0}, EPERM},
    {SYS_mount, {0}, EPERM},
    {SYS_umount2, {0}, EPERM},
    {SYS_pivot_root, {0}, EPERM},
    {SYS_chroot, {0}, EPERM},
    {SYS_fsopen, {0}, EPERM},
    {SYS_fsmount, {(unsigned long)-1}, EPERM},
    {SYS_fsconfig, {(unsigned long)-1}, EPERM},
    {SYS_fspick, {(unsigned long)-1}, EPERM},
    {SYS_move_mount, {(unsigned long)-1}, EPERM},
    {SYS_open_tree, {(unsigned long)-1}, EPERM},
    {SYS_mount_setattr, {(unsigned long)-1}, EPERM},
    {SYS_open_by_handle_at, {(unsigned long)-1}, EPERM},
    {SYS_unshare, {0}, EPERM},
    {SYS_unshare, {CLONE_NEWUSER}, EPERM},
    {SYS_setns, {(unsigned long)-1, 0}, EPERM},
    {SYS_clone, {CLONE_NEWUSER | SIGCHLD}, EPERM},
    {SYS_clone3, {0, 0}, ENOSYS},
    {SYS_pidfd_getfd, {(unsigned long)-1, 0, 0}, EPERM},
    {SYS_process_madvise, {(unsigned long)-1, 0, 0, 0, 0}, EPERM},
    {SYS_socket, {AF_VSOCK, SOCK_STREAM, 0}, EAFNOSUPPORT},
    {SYS_socket, {HI_GARBAGE | AF_VSOCK, SOCK_STREAM, 0}, EAFNOSUPPORT},
    {467 /* open_tree_attr, Linux 6.15: known from the kernel's table */,
     {(unsigned long)-1},
     EPERM},
};

static void child_deny_cases(int out, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(deny_cases) / sizeof(deny_cases[0]); i++) {
		const struct deny_case *c = &deny_cases[i];

		errno = 0;
		TRY(out, syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]));
	}
}

/*
 * The deny list holds whatever the default action, even "allow everything",
 * and whatever the policy's rules: it is a filter of its own, under the
 * policy's.
 */
static void test_deny_list(void **state)
{
	static const uint32_t defaults[] = {SCMP_ACT_KILL_PROCESS, SCMP_ACT_ALLOW,
					    SCMP_ACT_ERRNO(EPERM), SCMP_ACT_ERRNO(EACCES)};

	(void)state;
	for (size_t d = 0; d < 2 * sizeof(defaults) / sizeof(defaults[0]); d++) {
		struct bx_policy *p = policy_new(defaults[d / 2]);
		struct bx_bpf bpf = {0};
		struct outcome o;

		if (d % 2) {
			/* The policy allows every one of them: still denied, with a warning at
			 * parse. */
			size_t n;
			const struct bx_deny_entry *e = bx_deny_entries(&n);

			for (size_t i = 0; i < n; i++)
				allow(p, e[i].name);
		}
		compile_ok(p, -1, &bpf);
		run_child(&bpf, child_deny_cases, NULL, &o);
		assert_exited(&o, 0);
		assert_int_equal(o.n, sizeof(deny_cases) / sizeof(deny_cases[0]));
		for (size_t i = 0; i < o.n; i++) {
			if (o.rec[i].ret != -1 || o.rec[i].err != deny_cases[i].want)
				fail_msg("default %#x, case %zu (nr %ld): ret %lld errno %d, want "
					 "errno %d",
					 defaults[d / 2], i, deny_cases[i].nr,
					 (long long)o.rec[i].ret, o.rec[i].err, deny_cases[i].want);
		}
		bx_bpf_free(&bpf);
		free(p);
	}
}

static void child_unshare0(int out, void *arg)
{
	(void)arg;
	TRY(out, syscall(SYS_unshare, 0));
	errno = 0;
	TRY(out, syscall(SYS_bpf, 0, 0, 0));
	errno = 0;
	TRY(out, syscall(SYS_setns, -1, 0));
}

/*
 * override_deny lifts the named entries only: unshare(0) (a no-op) then
 * reaches the kernel, while bpf and setns, allowed by the policy too, stay
 * denied. A policy that kills an overridden call still kills it.
 */
static void test_override_deny(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0};
	struct outcome o;

	(void)state;
	allow(p, "unshare");
	allow(p, "bpf");
	allow(p, "setns");
	override(p, "unshare");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_unshare0, NULL, &o);
	assert_exited(&o, 0);
	assert_rec(&o, 0, 0, 0);
	assert_rec(&o, 1, -1, EPERM);
	assert_rec(&o, 2, -1, EPERM);
	bx_bpf_free(&bpf);
	free(p);

	/* Overridden but not allowed: the policy's default (kill) decides. */
	p = policy_new(SCMP_ACT_KILL_PROCESS);
	override(p, "unshare");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_unshare0, NULL, &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 0);
	bx_bpf_free(&bpf);
	free(p);
}

static void child_ptrace_then_mark(int out, void *arg)
{
	(void)arg;
	report(out, MARK, 0);
	TRY(out, syscall(SYS_ptrace, PTRACE_PEEKDATA, 1, 0, 0));
}

/* A deny-listed call that the policy kills is killed: the most restrictive filter wins. */
static void test_policy_kill_beats_deny(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_ERRNO(EACCES));
	struct bx_bpf bpf = {0};
	struct outcome o;

	(void)state;
	rule(p, "ptrace", SCMP_ACT_KILL_PROCESS);
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_ptrace_then_mark, NULL, &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 1);
	bx_bpf_free(&bpf);
	free(p);

	/* Two errnos: the filter loaded last (the policy's) answers. */
	p = policy_new(SCMP_ACT_KILL_PROCESS);
	rule(p, "ptrace", SCMP_ACT_ERRNO(EACCES));
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_ptrace_then_mark, NULL, &o);
	assert_exited(&o, 0);
	assert_rec(&o, 1, -1, EACCES);
	bx_bpf_free(&bpf);
	free(p);
}

/* ------------------------------------------------------------------ fallback filters */

static void child_fallback(int out, void *arg)
{
	int fd = *(int *)arg, n = 0;
	char c = 'x';

	errno = 0;
	TRY(out, syscall(SYS_ioctl, fd, FIONREAD, &n)); /* allowed */
	errno = 0;
	TRY(out, syscall(SYS_ioctl, fd, TCGETS, &c)); /* no rule: ENOTTY (fallback) */
	errno = 0;
	TRY(out, syscall(SYS_ioctl, fd, TIOCSTI, &c)); /* deny list EPERM, fallback ENOTTY */
	errno = 0;
	TRY(out, syscall(SYS_fcntl, fd, F_GETFD)); /* another fallback: EINVAL's filter */
	errno = 0;
	TRY(out, syscall(SYS_fcntl, fd, F_SETPIPE_SZ, 0)); /* refused: EINVAL */
	errno = 0;
	TRY(out, syscall(SYS_getpid) > 0 ? 0 : -1); /* no fallback: allowed by the policy */
	report(out, MARK, 0);
	TRY(out, syscall(SYS_getppid)); /* no rule, no fallback: the default (kill) */
}

/*
 * `expr; return E` compiles to an allow rule in a filter whose default is
 * E, stacked under the policy's: each syscall with a fallback gets its own
 * default, and other syscalls pass that filter untouched.
 */
static void test_fallback_filters(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_sc_rule *r;
	struct bx_bpf bpf = {0};
	struct outcome o;
	int pfd[2];

	(void)state;
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	r = rule(p, "ioctl", SCMP_ACT_ALLOW);
	r->nclauses = 1;
	r->clauses[0].ncmp = 1;
	r->clauses[0].cmp[0] = (struct bx_sc_cmp){.arg = 1, .op = BX_SC_EQ, .value = FIONREAD};
	r->has_else = true;
	r->else_action = SCMP_ACT_ERRNO(ENOTTY);
	r = rule(p, "fcntl", SCMP_ACT_ALLOW);
	r->nclauses = 1;
	r->clauses[0].ncmp = 1;
	r->clauses[0].cmp[0] = (struct bx_sc_cmp){.arg = 1, .op = BX_SC_EQ, .value = F_GETFD};
	r->has_else = true;
	r->else_action = SCMP_ACT_ERRNO(EINVAL);
	allow(p, "getpid");
	compile_ok(p, -1, &bpf);
	assert_int_equal(bpf.nprogs, 4); /* deny list, two fallbacks, the policy */
	run_child(&bpf, child_fallback, &pfd[0], &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 7);
	assert_rec(&o, 0, 0, 0);
	assert_rec(&o, 1, -1, ENOTTY);
	assert_rec(&o, 2, -1, ENOTTY); /* two errnos: the later filter's */
	assert_rec(&o, 3, FD_CLOEXEC, 0);
	assert_rec(&o, 4, -1, EINVAL);
	assert_rec(&o, 5, 0, 0);
	assert_rec(&o, 6, MARK, 0);
	bx_bpf_free(&bpf);
	free(p);
	close(pfd[0]);
	close(pfd[1]);
}

/* ------------------------------------------------------------------ clone */

static void child_clone(int out, void *arg)
{
	static const unsigned long ns[] = {CLONE_NEWNS,	    CLONE_NEWUTS, CLONE_NEWIPC,
					   CLONE_NEWUSER,   CLONE_NEWPID, CLONE_NEWNET,
					   CLONE_NEWCGROUP, CLONE_NEWTIME};
	bool plain_allowed = arg != NULL;
	struct clone_args ca = {.exit_signal = SIGCHLD};
	long pid;
	int st = 0;

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		TRY(out, syscall(SYS_clone, ns[i] | SIGCHLD, 0, 0, 0, 0));
	TRY(out,
	    syscall(SYS_clone, HI_GARBAGE | CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0));
	TRY(out, syscall(SYS_clone3, &ca, sizeof(ca)));
	report(out, MARK, 0);
	/* A plain fork through the raw syscall. */
	pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		child_exit(7);
	report(out, pid > 0 ? 1 : pid, errno);
	if (plain_allowed) {
		TRY(out, syscall(SYS_wait4, pid, &st, 0, 0) == pid ? 0 : -1);
		report(out, WIFEXITED(st) ? WEXITSTATUS(st) : -1000, 0);
	}
}

static void check_clone_denials(const struct outcome *o)
{
	for (size_t i = 0; i < 9; i++)
		assert_rec(o, i, -1, EPERM);
	assert_rec(o, 9, -1, ENOSYS);
	assert_rec(o, 10, MARK, 0);
}

static void test_clone(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0};
	struct outcome o;

	(void)state;
	/* Allowed by the policy: restricted to no namespace flags. */
	allow(p, "clone");
	allow(p, "wait4");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_clone, (void *)1, &o);
	assert_exited(&o, 0);
	check_clone_denials(&o);
	assert_rec(&o, 11, 1, 0);
	assert_rec(&o, 12, 0, 0);
	assert_rec(&o, 13, 7, 0);
	bx_bpf_free(&bpf);
	free(p);

	/* A clause on another argument gets the restriction ANDed in. */
	p = policy_new(SCMP_ACT_KILL_PROCESS);
	allow_if(p, "clone", 1, BX_SC_EQ, 0, 0);
	allow(p, "wait4");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_clone, (void *)1, &o);
	assert_exited(&o, 0);
	check_clone_denials(&o);
	assert_rec(&o, 11, 1, 0);
	assert_rec(&o, 13, 7, 0);
	bx_bpf_free(&bpf);
	free(p);

	/* Not in the policy: namespace flags still EPERM, a plain clone takes the default. */
	p = policy_new(SCMP_ACT_KILL_PROCESS);
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_clone, NULL, &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 11);
	check_clone_denials(&o);
	bx_bpf_free(&bpf);
	free(p);
}

/* ------------------------------------------------------------------ ioctl */

struct ioctl_case {
	unsigned long req;
	long ret;
	int err;
};

static const struct ioctl_case ioctl_cases[] = {
    {FIONREAD, 0, 0},
    {HI_GARBAGE | FIONREAD, 0, 0}, /* the kernel ignores the high half */
    {TIOCSTI, -1, EPERM},
    {HI_GARBAGE | TIOCSTI, -1, EPERM},
    {0xffffffff00000000ULL | TIOCSTI, -1, EPERM},
    {TIOCLINUX, -1, EPERM},
    {HI_GARBAGE | TIOCLINUX, -1, EPERM},
    /* Every neighbour on the bits where TIOCSTI and TIOCLINUX differ reaches the kernel. */
    {0x5410, -1, ENOTTY},
    {0x5414, -1, ENOTTY},
    {0x5416, -1, ENOTTY},
    {0x5418, -1, ENOTTY},
    {0x541A, -1, ENOTTY},
    {0x541E, -1, ENOTTY},
    {TIOCSTI ^ 0x1, -1, ENOTTY},
    {TIOCSTI ^ 0x80000000UL, -1, ENOTTY},
    {TCGETS, -1, ENOTTY},
};

static void child_ioctl(int out, void *arg)
{
	int fd = *(int *)arg;
	int n = -1;
	char c = 'x';

	for (size_t i = 0; i < sizeof(ioctl_cases) / sizeof(ioctl_cases[0]); i++) {
		void *argp = (ioctl_cases[i].req & 0xffffffffUL) == FIONREAD ? (void *)&n : &c;

		errno = 0;
		TRY(out, syscall(SYS_ioctl, fd, ioctl_cases[i].req, argp));
	}
}

static void test_ioctl(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0};
	struct outcome o;
	int pfd[2];

	(void)state;
	/* A pipe, not a terminal: TIOCSTI let through would get ENOTTY, never inject. */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	allow(p, "ioctl");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_ioctl, &pfd[0], &o);
	assert_exited(&o, 0);
	assert_int_equal(o.n, sizeof(ioctl_cases) / sizeof(ioctl_cases[0]));
	for (size_t i = 0; i < o.n; i++)
		assert_rec(&o, i, ioctl_cases[i].ret, ioctl_cases[i].err);
	bx_bpf_free(&bpf);
	free(p);

	/* ioctl not in the policy: the denied requests still get EPERM. */
	p = policy_new(SCMP_ACT_ERRNO(ENOSYS));
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_ioctl, &pfd[0], &o);
	assert_exited(&o, 0);
	assert_rec(&o, 0, -1, ENOSYS);
	assert_rec(&o, 2, -1, EPERM);
	assert_rec(&o, 3, -1, EPERM);
	assert_rec(&o, 6, -1, EPERM);
	assert_rec(&o, 7, -1, ENOSYS);
	bx_bpf_free(&bpf);
	free(p);
	close(pfd[0]);
	close(pfd[1]);
}

/* ------------------------------------------------------------------ personality */

static const struct ioctl_case persona_cases[] = {
    {0xffffffffUL, 0, 0}, /* query: returns the current persona, PER_LINUX */
    {0, 0, 0},
    {HI_GARBAGE, 0, 0},
    {HI_GARBAGE | 0xffffffffUL, 0, 0},
    {0x0006 /* PER_BSD */, -1, EPERM},
    {0x0008, -1, EPERM},
    {HI_GARBAGE | 0x0008, -1, EPERM},
    {1, -1, EPERM},
    {0x0040000 /* ADDR_NO_RANDOMIZE */, -1, EPERM},
    {0x0400000 /* READ_IMPLIES_EXEC */, -1, EPERM},
    {0x80000000UL, -1, EPERM},
    {0x7fffffffUL, -1, EPERM},
    {0xfffffffeUL, -1, EPERM},
    {0x0ffffffffULL + 1, 0, 0}, /* low half 0 */
};

static void child_personality(int out, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof(persona_cases) / sizeof(persona_cases[0]); i++) {
		errno = 0;
		TRY(out, syscall(SYS_personality, persona_cases[i].req));
	}
}

static void child_persona_query(int out, void *arg)
{
	(void)arg;
	TRY(out, syscall(SYS_personality, 0x0008));
	report(out, MARK, 0);
	TRY(out, syscall(SYS_personality, 0xffffffffUL));
}

static void test_personality(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0};
	struct outcome o;

	(void)state;
	allow(p, "personality");
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_personality, NULL, &o);
	assert_exited(&o, 0);
	assert_int_equal(o.n, sizeof(persona_cases) / sizeof(persona_cases[0]));
	for (size_t i = 0; i < o.n; i++)
		assert_rec(&o, i, persona_cases[i].ret, persona_cases[i].err);
	bx_bpf_free(&bpf);
	free(p);

	/* Not in the policy: bad personas EPERM, the query takes the default (kill). */
	p = policy_new(SCMP_ACT_KILL_PROCESS);
	compile_ok(p, -1, &bpf);
	run_child(&bpf, child_persona_query, NULL, &o);
	assert_sigsys(&o);
	assert_int_equal(o.n, 2);
	assert_rec(&o, 0, -1, EPERM);
	bx_bpf_free(&bpf);
	free(p);
}

/* ------------------------------------------------------------------ other ABIs */

/* i386 getpid (20) through the 32-bit entry point. */
static long int80_getpid(void)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(20L)
			 : "memory", "cc", "r8", "r9", "r10", "r11");
	return ret;
}

static void child_int80(int out, void *arg)
{
	(void)arg;
	report(out, MARK, 0);
	report(out, int80_getpid(), 0);
}

static void child_x32(int out, void *arg)
{
	(void)arg;
	report(out, MARK, 0);
	TRY(out, syscall(__X32_SYSCALL_BIT | SYS_getpid));
}

/*
 * Foreign ABIs die even under a policy whose default is "allow": the arch
 * check (i386) and libseccomp's x32 check both lead to the bad-arch action.
 */
static void test_foreign_abi(void **state)
{
	static const uint32_t defaults[] = {SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(EPERM),
					    SCMP_ACT_KILL_PROCESS};
	struct bx_policy *p;
	struct outcome o;
	pid_t pid;
	int st;

	(void)state;
	/* Without a filter, what do these do here? (IA32 emulation may be off.) */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_exit(int80_getpid() == syscall(SYS_getpid) ? 0 : 1);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	print_message("unfiltered int 0x80 getpid: status %#x; x32 getpid: %ld (%s)\n", st,
		      syscall(__X32_SYSCALL_BIT | SYS_getpid), strerror(errno));

	for (size_t d = 0; d < sizeof(defaults) / sizeof(defaults[0]); d++) {
		struct bx_bpf bpf = {0};

		p = policy_new(defaults[d]);
		allow(p, "getpid");
		compile_ok(p, -1, &bpf);
		run_child(&bpf, child_x32, NULL, &o);
		assert_sigsys(&o);
		assert_int_equal(o.n, 1);
		assert_rec(&o, 0, MARK, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			run_child(&bpf, child_int80, NULL, &o);
			assert_sigsys(&o);
			assert_int_equal(o.n, 1);
			assert_rec(&o, 0, MARK, 0);
		} else {
			print_message("int 0x80 not available here; i386 part not exercised\n");
		}
		bx_bpf_free(&bpf);
		free(p);
	}
}

/* ------------------------------------------------------------------ exec fd */

struct exec_arg {
	int fd;
	int other_fd;
	int how;
};

static void child_exec(int out, void *arg)
{
	const struct exec_arg *a = arg;
	char *const argv[] = {(char *)"true", NULL};
	char *const envp[] = {NULL};

	report(out, MARK, 0);
	switch (a->how) {
	case 0:
		syscall(SYS_execveat, a->fd, "", argv, envp, AT_EMPTY_PATH);
		break;
	case 1:
		syscall(SYS_execve, "/bin/true", argv, envp);
		break;
	case 2:
		syscall(SYS_execveat, a->other_fd, "", argv, envp, AT_EMPTY_PATH);
		break;
	case 3:
		syscall(SYS_execveat, a->fd, "", argv, envp, 0);
		break;
	case 4:
		syscall(SYS_execveat, a->fd | (long)HI_GARBAGE, "", argv, envp,
			AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		break;
	}
	child_exit(50); /* exec failed without being killed */
}

static void test_exec_fd(void **state)
{
	/* What a dynamically linked /bin/true needs once it runs under the filter. */
	static const char *const ld_so[] = {
	    "access",	       "arch_prctl", "brk",	 "close",   "fstat",
	    "newfstatat",      "mmap",	     "mprotect", "munmap",  "openat",
	    "pread64",	       "prlimit64",  "read",	 "rseq",    "set_robust_list",
	    "set_tid_address", "getrandom",  "futex",	 "readlink"};
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0}, plain = {0};
	struct exec_arg a;
	struct outcome o;

	(void)state;
	for (size_t i = 0; i < sizeof(ld_so) / sizeof(ld_so[0]); i++)
		allow(p, ld_so[i]);
	a.fd = open("/bin/true", O_RDONLY | O_CLOEXEC);
	assert_true(a.fd >= 0);
	a.other_fd = fcntl(a.fd, F_DUPFD_CLOEXEC, 0);
	assert_true(a.other_fd >= 0);
	compile_ok(p, a.fd, &bpf);

	a.how = 0; /* exactly the allowed form: /bin/true runs and exits 0 */
	run_child(&bpf, child_exec, &a, &o);
	assert_exited(&o, 0);
	assert_rec(&o, 0, MARK, 0);
	a.how = 4; /* high garbage in the int fd, extra flags: still that fd with AT_EMPTY_PATH */
	run_child(&bpf, child_exec, &a, &o);
	assert_exited(&o, 0);
	for (a.how = 1; a.how <= 3; a.how++) { /* execve, another fd, no AT_EMPTY_PATH */
		run_child(&bpf, child_exec, &a, &o);
		assert_sigsys(&o);
		assert_int_equal(o.n, 1);
	}

	/* Without the extra, even the fd form is killed. */
	compile_ok(p, -1, &plain);
	a.how = 0;
	run_child(&plain, child_exec, &a, &o);
	assert_sigsys(&o);
	assert_true(bx_bpf_total_len(&plain) < bx_bpf_total_len(&bpf));

	bx_bpf_free(&plain);
	bx_bpf_free(&bpf);
	close(a.fd);
	close(a.other_fd);
	free(p);
}

/* ------------------------------------------------------------------ compile errors */

struct compile_case {
	const char *what;
	void (*build)(struct bx_policy *p);
	int ret;
	const char *text; /* substring of err.text */
};

static void b_unknown(struct bx_policy *p)
{
	allow(p, "no_such_syscall_x");
}
static void b_ptrace(struct bx_policy *p)
{
	allow(p, "ptrace");
}
static void b_ptrace_override(struct bx_policy *p)
{
	allow(p, "ptrace");
	override(p, "ptrace");
}
static void b_ptrace_errno(struct bx_policy *p)
{
	rule(p, "ptrace", SCMP_ACT_ERRNO(EACCES));
}
static void b_clone3(struct bx_policy *p)
{
	allow(p, "clone3");
}
static void b_io_uring_cond(struct bx_policy *p)
{
	allow_if(p, "io_uring_setup", 0, BX_SC_EQ, 0, 1);
}
static void b_ioctl_ge(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_GE, 0, 0);
}
static void b_ioctl_ne(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_NE, 0, FIONREAD);
}
static void b_ioctl_eq_sti(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_EQ, 0, HI_GARBAGE | TIOCSTI);
}
static void b_ioctl_masked(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_MASKED_EQ, 0xff00, 0x5400);
}
static void b_ioctl_eq_fionread(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_EQ, 0, FIONREAD);
}
static void b_ioctl_lt(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_LT, 0, 0x5400);
}
static void b_ioctl_gt_high(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_GT, 0, 0xffffffff0000541cULL);
}
static void b_ioctl_gt_low(struct bx_policy *p)
{
	allow_if(p, "ioctl", 1, BX_SC_GT, 0, 0xffffffff0000541bULL);
}
static void b_ioctl_kill_ge(struct bx_policy *p)
{
	rule(p, "ioctl", SCMP_ACT_KILL_PROCESS)->nclauses = 0;
	allow_if(p, "getpid", 0, BX_SC_GE, 0, 0);
}
static void b_clone_user(struct bx_policy *p)
{
	allow_if(p, "clone", 0, BX_SC_EQ, 0, CLONE_NEWUSER | SIGCHLD);
}
static void b_clone_masked(struct bx_policy *p)
{
	allow_if(p, "clone", 0, BX_SC_MASKED_EQ, BX_NS_ALL, 0);
}
static void b_clone_sigchld(struct bx_policy *p)
{
	allow_if(p, "clone", 0, BX_SC_EQ, 0, SIGCHLD);
}
static void b_clone_nsmask(struct bx_policy *p)
{
	allow_if(p, "clone", 0, BX_SC_MASKED_EQ, 0x7e0200ffULL, SIGCHLD);
}
static void b_persona_query(struct bx_policy *p)
{
	allow_if(p, "personality", 0, BX_SC_EQ, 0, 0xffffffffUL);
}
static void b_persona_le(struct bx_policy *p)
{
	allow_if(p, "personality", 0, BX_SC_LE, 0, 8);
}
static void b_dup_arg(struct bx_policy *p)
{
	struct bx_sc_rule *r = rule(p, "read", SCMP_ACT_ALLOW);

	r->nclauses = 1;
	r->clauses[0].ncmp = 2;
	r->clauses[0].cmp[0] = (struct bx_sc_cmp){.arg = 0, .op = BX_SC_EQ, .value = 1};
	r->clauses[0].cmp[1] = (struct bx_sc_cmp){.arg = 0, .op = BX_SC_EQ, .value = 2};
}
static void b_bad_op(struct bx_policy *p)
{
	struct bx_sc_rule *r = rule(p, "read", SCMP_ACT_ALLOW);

	r->nclauses = 1;
	r->clauses[0].ncmp = 1;
	r->clauses[0].cmp[0] = (struct bx_sc_cmp){.arg = 6, .op = BX_SC_EQ};
}
static void b_mask_outside(struct bx_policy *p)
{
	allow_if(p, "read", 0, BX_SC_MASKED_EQ, 0xff, 0x100);
}
static void b_bad_default(struct bx_policy *p)
{
	p->default_action = 0x12345678;
}
static void b_bad_action(struct bx_policy *p)
{
	rule(p, "read", 0x12345678);
}
static void b_many_clauses(struct bx_policy *p)
{
	rule(p, "read", SCMP_ACT_ALLOW)->nclauses = BX_SC_CLAUSES_MAX + 1;
}
static void b_cond_refusal(struct bx_policy *p)
{
	struct bx_sc_rule *r = rule(p, "read", SCMP_ACT_ERRNO(EIO));

	r->nclauses = 1;
	r->clauses[0].ncmp = 1;
	r->clauses[0].cmp[0] = (struct bx_sc_cmp){.arg = 0, .op = BX_SC_EQ, .value = 1};
}
static void b_fallbacks_disagree(struct bx_policy *p)
{
	rule(p, "read", SCMP_ACT_ERRNO(EIO));
	rule(p, "read", SCMP_ACT_ERRNO(EPERM));
}
static void b_socketcall(struct bx_policy *p)
{
	allow(p, "socketcall"); /* known to libseccomp, not an x86_64 syscall: no-op */
}

static const struct compile_case compile_cases[] = {
    {"unknown name", b_unknown, -EINVAL, "unknown syscall 'no_such_syscall_x'"},
    /*
     * The deny list is a filter of its own: a rule that it overrides compiles
     * (the parser warns at its line), and the denial holds at run time
     * (test_deny_list, test_clone, test_ioctl).
     */
    {"deny-listed", b_ptrace, 0, NULL},
    {"deny-listed, overridden", b_ptrace_override, 0, NULL},
    {"deny-listed, denying rule", b_ptrace_errno, 0, NULL},
    {"clone3", b_clone3, 0, NULL},
    {"deny-listed, conditional", b_io_uring_cond, 0, NULL},
    {"ioctl >= 0", b_ioctl_ge, 0, NULL},
    {"ioctl != FIONREAD", b_ioctl_ne, 0, NULL},
    {"ioctl == TIOCSTI+garbage", b_ioctl_eq_sti, 0, NULL},
    {"ioctl & 0xff00 == 0x5400", b_ioctl_masked, 0, NULL},
    {"ioctl == FIONREAD", b_ioctl_eq_fionread, 0, NULL},
    {"ioctl < 0x5400", b_ioctl_lt, 0, NULL},
    {"ioctl > the largest denied value", b_ioctl_gt_high, 0, NULL},
    {"ioctl > just below it", b_ioctl_gt_low, 0, NULL},
    {"ioctl kill", b_ioctl_kill_ge, 0, NULL},
    {"clone NEWUSER", b_clone_user, 0, NULL},
    {"clone masked low byte", b_clone_masked, 0, NULL},
    {"clone == SIGCHLD", b_clone_sigchld, 0, NULL},
    {"clone ns mask == SIGCHLD", b_clone_nsmask, 0, NULL},
    {"personality query", b_persona_query, 0, NULL},
    {"personality <= 8", b_persona_le, 0, NULL},
    {"conditional refusal", b_cond_refusal, -EINVAL, "a refusing action with argument"},
    {"fallbacks disagree", b_fallbacks_disagree, -EINVAL, "disagree"},
    {"arg compared twice", b_dup_arg, -EINVAL, "compares arg 0 twice"},
    {"masked value outside mask", b_mask_outside, -EINVAL, "bits outside mask 0xff"},
    {"arg 6", b_bad_op, -EINVAL, "bad comparison"},
    {"bad default action", b_bad_default, -EINVAL, "default action 0x12345678"},
    {"bad rule action", b_bad_action, -EINVAL, "seccomp_rule_add(read"},
    {"too many clauses", b_many_clauses, -EINVAL, "clauses"},
    {"socketcall", b_socketcall, 0, NULL},
};

static void test_compile_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(compile_cases) / sizeof(compile_cases[0]); i++) {
		const struct compile_case *c = &compile_cases[i];
		struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
		struct bx_bpf bpf = {0};
		bx_error err;
		int r;

		bx_error_clear(&err);
		c->build(p);
		r = bx_seccomp_compile(p, NULL, &bpf, &err);
		if (r != c->ret)
			fail_msg("case '%s': got %d (%s), want %d", c->what, r, err.text, c->ret);
		if (r < 0) {
			assert_int_equal(bpf.nprogs, 0); /* untouched on failure */
			assert_int_equal(err.code, r);
			if (!strstr(err.text, c->text))
				fail_msg("case '%s': error '%s' lacks '%s'", c->what, err.text,
					 c->text);
		}
		bx_bpf_free(&bpf);
		free(p);
	}
}

static void test_compile_args(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_seccomp_extra extra = {.exec_fd = -2};
	struct bx_bpf bpf = {0};

	(void)state;
	assert_int_equal(bx_seccomp_compile(NULL, NULL, &bpf, NULL), -EINVAL);
	assert_int_equal(bx_seccomp_compile(p, &extra, &bpf, NULL), -EINVAL);
	p->noverride_deny = 17;
	assert_int_equal(bx_seccomp_compile(p, NULL, &bpf, NULL), -EINVAL);
	p->noverride_deny = 0;
	p->nrules = BX_POLICY_RULES_MAX + 1;
	assert_int_equal(bx_seccomp_compile(p, NULL, &bpf, NULL), -EINVAL);
	assert_int_equal(bpf.nprogs, 0);
	assert_int_equal(bx_seccomp_load(&bpf), -EINVAL);
	assert_int_equal(bx_seccomp_export_fd(&bpf), -EINVAL);
	bx_bpf_free(NULL);
	free(p);
}

/* ------------------------------------------------------------------ export / import */

static int blob_fd(size_t size)
{
	int fd = memfd_create("test-blob", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

/* A hand-made export: header, lengths, then zeroed instructions (extra bytes appended). */
static int blob(const char magic[8], uint32_t nprogs, const uint32_t *lens, size_t nlens,
		size_t extra)
{
	uint8_t head[16] = {0};
	uint8_t l[64] = {0};
	size_t llen = (nlens * 4 + 7) / 8 * 8, total = 0;
	int fd;

	memcpy(head, magic, 8);
	memcpy(head + 8, &nprogs, 4);
	for (size_t i = 0; i < nlens; i++) {
		memcpy(l + 4 * i, &lens[i], 4);
		total += lens[i] * sizeof(struct sock_filter);
	}
	fd = blob_fd(sizeof(head) + llen + total + extra);
	assert_int_equal(pwrite(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	if (llen)
		assert_int_equal(pwrite(fd, l, llen, sizeof(head)), (ssize_t)llen);
	return fd;
}

static void child_getpid(int out, void *arg)
{
	(void)arg;
	TRY(out, syscall(SYS_getpid) > 1 ? 0 : -1);
}

static void assert_same_bpf(const struct bx_bpf *a, const struct bx_bpf *b)
{
	assert_int_equal(a->nprogs, b->nprogs);
	for (size_t i = 0; i < a->nprogs; i++) {
		assert_int_equal(a->progs[i].len, b->progs[i].len);
		assert_memory_equal(a->progs[i].insns, b->progs[i].insns,
				    a->progs[i].len * sizeof(struct sock_filter));
	}
}

static void test_export_import(void **state)
{
	static const char good[8] = {'B', 'X', 'B', 'P', 'F', 0, 0, 1};
	static const char bad_magic[8] = {'B', 'X', 'B', 'P', 'F', 0, 0, 2};
	struct bx_policy *p = policy_new(SCMP_ACT_KILL_PROCESS);
	struct bx_bpf bpf = {0}, back = {0}, again = {0};
	bx_error err;
	struct outcome o;
	char byte = 0;
	off_t off;
	int fd, bad;

	(void)state;
	allow(p, "getpid");
	allow(p, "ioctl");
	compile_ok(p, -1, &bpf);
	assert_true(bpf.nprogs >= 2); /* the deny list and the policy */
	fd = bx_seccomp_export_fd(&bpf);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fcntl(fd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	assert_int_equal(pwrite(fd, &byte, 1, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 8), -1);

	off = lseek(fd, 0, SEEK_CUR);
	assert_int_equal(bx_seccomp_import_fd(fd, &back, NULL), 0);
	assert_same_bpf(&back, &bpf);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), off); /* pread: offset left alone */
	assert_int_equal(bx_seccomp_import_fd(fd, &again, NULL), 0);
	assert_same_bpf(&again, &bpf);
	run_child(&back, child_getpid, NULL, &o);
	assert_exited(&o, 0);
	assert_rec(&o, 0, 0, 0);
	close(fd);

	/* Bad blobs: out stays untouched, the error says what was wrong. */
	{
		static const uint32_t one[] = {3}, zero[] = {0}, huge[] = {BPF_MAXINSNS + 1},
				      two[] = {3, 4};
		struct {
			int fd;
			const char *text;
		} cases[] = {
		    {blob_fd(0), "bytes"},
		    {blob_fd(12), "bytes"},
		    {blob(bad_magic, 1, one, 1, 0), "bad header"},
		    {blob(good, 0, NULL, 0, 0), "bad header"},
		    {blob(good, BX_BPF_PROGS_MAX + 1, one, 1, 0), "bad header"},
		    {blob(good, 1, zero, 1, 0), "0 instructions"},
		    {blob(good, 1, huge, 1, 0), "instructions"},
		    {blob(good, 1, one, 1, 1), "the header says"},
		    {blob(good, 2, two, 2, 8), "the header says"},
		    {blob(good, 2, two, 1, 0), "instructions"}, /* second length 0 */
		    {blob_fd((size_t)1 << 30), "bytes"},
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct bx_bpf none = {0};

			bx_error_clear(&err);
			assert_int_equal(bx_seccomp_import_fd(cases[i].fd, &none, &err), -EBADMSG);
			assert_int_equal(none.nprogs, 0);
			if (!strstr(err.text, cases[i].text))
				fail_msg("blob %zu: '%s' lacks '%s'", i, err.text, cases[i].text);
			close(cases[i].fd);
		}
	}
	/* The largest allowed program is accepted. */
	{
		static const uint32_t max[] = {BPF_MAXINSNS};
		struct bx_bpf big = {0};

		bad = blob(good, 1, max, 1, 0);
		assert_int_equal(bx_seccomp_import_fd(bad, &big, NULL), 0);
		assert_int_equal(big.nprogs, 1);
		assert_int_equal(big.progs[0].len, BPF_MAXINSNS);
		bx_bpf_free(&big);
		close(bad);
	}
	/* Not a regular file, and no fd. */
	{
		int pfd[2];
		struct bx_bpf none = {0};

		assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
		assert_int_equal(bx_seccomp_import_fd(pfd[0], &none, NULL), -EINVAL);
		assert_int_equal(bx_seccomp_import_fd(-1, &none, NULL), -EBADF);
		assert_int_equal(none.nprogs, 0);
		close(pfd[0]);
		close(pfd[1]);
	}
	bx_bpf_free(&again);
	bx_bpf_free(&back);
	bx_bpf_free(&bpf);
	free(p);
}

/* ------------------------------------------------------------------ TSYNC */

struct tsync {
	int ready[2];
	int go[2];
	int out;
};

static void *tsync_thread(void *arg)
{
	struct tsync *t = arg;
	char c;

	/*
	 * Fully started (glibc registers rseq etc. in the new thread) before
	 * the filter; runs its syscall after the main thread loaded it.
	 */
	if (write(t->ready[1], "r", 1) != 1 || read(t->go[0], &c, 1) != 1)
		child_exit(103);
	errno = 0;
	TRY(t->out, syscall(SYS_getppid));
	report(t->out, MARK, 0);
	for (;;)
		pause();
	return NULL;
}

static void test_tsync(void **state)
{
	struct bx_policy *p = policy_new(SCMP_ACT_ERRNO(EHWPOISON));
	struct bx_bpf bpf = {0};
	int pfd[2], st;
	pid_t pid;
	struct rec r[2];
	size_t got = 0;

	(void)state;
	allow(p, "read");
	allow(p, "pause");
	compile_ok(p, -1, &bpf);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tsync t = {.out = pfd[1]};
		pthread_t th;
		char c = 'g';

		close(pfd[0]);
		if (pipe2(t.go, O_CLOEXEC) < 0 || pipe2(t.ready, O_CLOEXEC) < 0 ||
		    pthread_create(&th, NULL, tsync_thread, &t) != 0 ||
		    read(t.ready[0], &c, 1) != 1)
			child_exit(110);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || bx_seccomp_load(&bpf) < 0)
			child_exit(111);
		/* The main thread is filtered too: getppid fails here as well. */
		errno = 0;
		if (syscall(SYS_getppid) != -1 || errno != EHWPOISON)
			child_exit(112);
		if (write(t.go[1], &c, 1) != 1)
			child_exit(113);
		/* The parent kills us once it has both records. */
		for (;;)
			pause();
	}
	close(pfd[1]);
	while (got < sizeof(r)) {
		ssize_t n = read(pfd[0], (char *)r + got, sizeof(r) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(pfd[0]);
	if (got != sizeof(r))
		fail_msg("got %zu bytes from the thread; child status %#x", got, st);
	assert_int_equal(r[0].ret, -1);
	assert_int_equal(r[0].err, EHWPOISON);
	assert_int_equal(r[1].ret, MARK);
	bx_bpf_free(&bpf);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_allowed_and_default_kill),
	    bx_fd_test(test_deny_list),
	    bx_fd_test(test_override_deny),
	    bx_fd_test(test_policy_kill_beats_deny),
	    bx_fd_test(test_fallback_filters),
	    bx_fd_test(test_clone),
	    bx_fd_test(test_ioctl),
	    bx_fd_test(test_personality),
	    bx_fd_test(test_foreign_abi),
	    bx_fd_test(test_exec_fd),
	    bx_fd_test(test_compile_table),
	    bx_fd_test(test_compile_args),
	    bx_fd_test(test_export_import),
	    bx_fd_test(test_tsync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
