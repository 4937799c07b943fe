/* SPDX-License-Identifier: MIT */
/*
 * Tests for the policy-file parser (src/policy/parse.c), the clause algebra
 * (clause.c) and the shipped policies. Compiled filters are checked with the
 * BPF simulator (bpf_sim.c) against tables of (arch, syscall, args) ->
 * action, without loading them.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "bpf_sim.h"
#include "cli/policy_cmd.h"
#include "confine/seccomp.h"
#include "policy/filter.h"
#include "policy/policy_internal.h"

#define POLICIES_DIR BX_TEST_DATA_DIR "/../../policies"
#ifndef BX_RANDOM_ITERS
#define BX_RANDOM_ITERS 40
#endif

#define R_ALLOW	 SECCOMP_RET_ALLOW
#define R_KILL	 SECCOMP_RET_KILL_PROCESS
#define R_KILLT	 SECCOMP_RET_KILL_THREAD
#define R_TRAP	 SECCOMP_RET_TRAP
#define R_LOG	 SECCOMP_RET_LOG
#define R_ERR(e) (SECCOMP_RET_ERRNO | (e))

static struct bx_policy *load(const char *path)
{
	struct bx_policy *p = NULL;
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_policy_load_file(path, &p, &err);
	if (r < 0)
		fail_msg("%s: %s", path, err.text);
	return p;
}

static void compile(const struct bx_policy *p, struct bx_bpf *bpf)
{
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_seccomp_compile(p, NULL, bpf, &err);
	if (r < 0)
		fail_msg("compile: %s", err.text);
}

/* Runs the whole stack of filters, as the kernel does. */
static uint32_t sim(const struct bx_bpf *bpf, uint32_t arch, int nr, const uint64_t args[6])
{
	struct seccomp_data d = {.nr = nr, .arch = arch};
	const struct sock_filter *progs[BX_BPF_PROGS_MAX];
	size_t lens[BX_BPF_PROGS_MAX];

	for (int i = 0; i < 6 && args; i++)
		d.args[i] = args[i];
	for (size_t i = 0; i < bpf->nprogs; i++) {
		progs[i] = bpf->progs[i].insns;
		lens[i] = bpf->progs[i].len;
	}
	return bx_bpf_sim_stack(progs, lens, bpf->nprogs, &d);
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

/* ------------------------------------------------------------------ shipped policies */

static void test_shipped_policies_parse(void **state)
{
	static const char *const files[] = {"default.policy", "untrusted.policy", "greet.policy"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512];
		struct bx_policy *p;
		struct bx_bpf bpf = {0};

		snprintf(path, sizeof(path), "%s/%s", POLICIES_DIR, files[i]);
		p = load(path);
		compile(p, &bpf);
		assert_true(bx_bpf_total_len(&bpf) > 10);
		bx_bpf_free(&bpf);
		bx_policy_free(p);
	}
}

/* The file translates the former C default faithfully (this list is that table). */
static void test_default_is_the_old_default(void **state)
{
	static const char *const old[] = {"read",
					  "write",
					  "readv",
					  "writev",
					  "pread64",
					  "pwrite64",
					  "preadv",
					  "pwritev",
					  "preadv2",
					  "pwritev2",
					  "lseek",
					  "close",
					  "close_range",
					  "dup",
					  "dup2",
					  "dup3",
					  "fcntl",
					  "ioctl",
					  "pipe",
					  "pipe2",
					  "poll",
					  "ppoll",
					  "select",
					  "pselect6",
					  "epoll_create1",
					  "epoll_ctl",
					  "epoll_wait",
					  "epoll_pwait",
					  "eventfd2",
					  "sendmsg",
					  "recvmsg",
					  "sendto",
					  "recvfrom",
					  "shutdown",
					  "getsockopt",
					  "sendfile",
					  "copy_file_range",
					  "splice",
					  "open",
					  "openat",
					  "stat",
					  "fstat",
					  "lstat",
					  "newfstatat",
					  "statx",
					  "access",
					  "faccessat",
					  "faccessat2",
					  "readlink",
					  "readlinkat",
					  "getdents64",
					  "getcwd",
					  "chdir",
					  "fchdir",
					  "fstatfs",
					  "statfs",
					  "fadvise64",
					  "mkdir",
					  "mkdirat",
					  "unlink",
					  "unlinkat",
					  "rename",
					  "renameat",
					  "renameat2",
					  "rmdir",
					  "ftruncate",
					  "truncate",
					  "fsync",
					  "fdatasync",
					  "umask",
					  "fchmod",
					  "utimensat",
					  "mmap",
					  "munmap",
					  "mprotect",
					  "mremap",
					  "madvise",
					  "brk",
					  "memfd_create",
					  "clone",
					  "fork",
					  "vfork",
					  "wait4",
					  "waitid",
					  "exit",
					  "exit_group",
					  "futex",
					  "set_robust_list",
					  "get_robust_list",
					  "rseq",
					  "set_tid_address",
					  "arch_prctl",
					  "sched_yield",
					  "sched_getaffinity",
					  "getrusage",
					  "times",
					  "prlimit64",
					  "getrlimit",
					  "prctl",
					  "rt_sigaction",
					  "rt_sigprocmask",
					  "rt_sigreturn",
					  "sigaltstack",
					  "rt_sigtimedwait",
					  "rt_sigsuspend",
					  "kill",
					  "tgkill",
					  "tkill",
					  "restart_syscall",
					  "pause",
					  "getpid",
					  "getppid",
					  "gettid",
					  "getuid",
					  "geteuid",
					  "getgid",
					  "getegid",
					  "getresuid",
					  "getresgid",
					  "getgroups",
					  "getpgrp",
					  "getsid",
					  "uname",
					  "getrandom",
					  "clock_gettime",
					  "clock_getres",
					  "clock_nanosleep",
					  "nanosleep",
					  "gettimeofday",
					  "time"};
	static const char *const binds[] = {"/usr", "/lib", "/lib64", "/bin", "/sbin"};
	struct bx_policy *p = NULL;

	(void)state;
	assert_int_equal(bx_policy_default(&p), 0);
	assert_int_equal(p->nrules, sizeof(old) / sizeof(old[0]));
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		bool found = false;

		for (size_t k = 0; k < p->nrules; k++) {
			if (strcmp(p->rules[k].name, old[i]) == 0) {
				found = true;
				/* #11 8: memfd pages escape RLIMIT_AS; the default refuses them. */
				assert_int_equal(p->rules[k].action,
						 strcmp(old[i], "memfd_create") == 0
						     ? SCMP_ACT_ERRNO(EPERM)
						     : SCMP_ACT_ALLOW);
				/* prctl is restricted to its harmless options (issue #11, item 3)
				 */
				assert_int_equal(p->rules[k].nclauses,
						 strcmp(old[i], "prctl") == 0 ? 12 : 0);
			}
		}
		if (!found)
			fail_msg("%s missing", old[i]);
	}
	assert_string_equal(p->name, "default");
	assert_int_equal(p->namespaces, BX_NS_ALL);
	assert_int_equal(p->namespaces_optional, BX_NS_TIME);
	assert_true(p->uid_dynamic);
	assert_string_equal(p->hostname, "beambox");
	assert_int_equal(p->nbinds, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(p->binds[i].src, binds[i]);
		assert_string_equal(p->binds[i].dst, binds[i]);
		assert_true(p->binds[i].optional);
		assert_false(p->binds[i].rw);
	}
	assert_int_equal(p->tmp_size, 16u << 20);
	assert_true(p->rlimits[RLIMIT_NOFILE].set && p->rlimits[RLIMIT_NOFILE].value == 256);
	assert_true(p->rlimits[RLIMIT_NPROC].set && p->rlimits[RLIMIT_NPROC].value == 64);
	assert_true(p->rlimits[RLIMIT_FSIZE].set && p->rlimits[RLIMIT_FSIZE].value == 64u << 20);
	assert_int_equal(p->cgroup, BX_NEED_OPTIONAL);
	assert_int_equal(p->cgroup_memory_max, 512u << 20);
	assert_int_equal(p->cgroup_pids_max, 64);
	assert_int_equal(p->landlock, BX_NEED_OPTIONAL);
	assert_int_equal(p->nenv_keep, 1);
	assert_string_equal(p->env_keep[0], "PATH");
	assert_int_equal(p->default_action, SCMP_ACT_KILL_PROCESS);
	bx_policy_free(p);
}

/* The embedded copy is the file (the build regenerates it). */
static void test_embedded_matches_files(void **state)
{
	(void)state;
	assert_true(bx_embedded_policies_count >= 3);
	for (size_t i = 0; i < bx_embedded_policies_count; i++) {
		char path[512], *text = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", POLICIES_DIR, bx_embedded_policies[i].name);
		assert_int_equal(bx_policy_read_file(NULL, path, &text, &len, NULL), 0);
		assert_int_equal(len, bx_embedded_policies[i].len);
		assert_memory_equal(text, bx_embedded_policies[i].text, len);
		free(text);
	}
}

static void test_groups_resolve(void **state)
{
	size_t n;
	const struct bx_sc_group *g = bx_sc_groups(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char text[64];
		struct bx_policy *p = NULL;
		bx_error err;

		for (size_t k = 0; g[i].members[k]; k++) {
			char name[40];

			sscanf(g[i].members[k], "%39[a-z0-9_]", name);
			if (seccomp_syscall_resolve_name(name) < 0)
				fail_msg("%s: %s does not resolve", g[i].name, name);
		}
		snprintf(text, sizeof(text), "%s\n", g[i].name);
		bx_error_clear(&err);
		if (bx_policy_parse("g", text, strlen(text), NULL, &p, &err) < 0)
			fail_msg("%s: %s", g[i].name, err.text);
		bx_policy_free(p);
	}
}

/* ------------------------------------------------------------------ invalid fixtures */

static const struct {
	const char *file;
	const char *where; /* expected "file:line:col" (or "file:line" for whole-file checks) */
	int code;
} invalid[] = {
    {"invalid_bad_arg.policy", "invalid_bad_arg.policy:1:7: expected arg0..arg5", -EINVAL},
    {"invalid_bad_char.policy", "invalid_bad_char.policy:1:15: unexpected character '$'", -EINVAL},
    {"invalid_bad_number.policy", "invalid_bad_number.policy:1:15: bad number '0x'", -EINVAL},
    {"invalid_bad_operator.policy", "invalid_bad_operator.policy:1:13:", -EINVAL},
    {"invalid_bind_dotdot.policy", "invalid_bind_dotdot.policy:3:8:", -EINVAL},
    {"invalid_bind_no_mountns.policy", "need the mount namespace", -EINVAL},
    {"invalid_bind_relative.policy", "invalid_bind_relative.policy:3:8:", -EINVAL},
    {"invalid_bind_twice.policy", "invalid_bind_twice.policy:4:13: a second bind to '/usr'",
     -EINVAL},
    {"invalid_capabilities.policy", "invalid_capabilities.policy:2:16: beambox never keeps",
     -EINVAL},
    {"invalid_cgroup_off_limits.policy", "invalid_cgroup_off_limits.policy:3:1: cgroup limits",
     -EINVAL},
    {"invalid_allow_log_conflict.policy",
     "invalid_allow_log_conflict.policy:2:1: syscall 'getpid' cannot be both allow (at line "
     "1:1) and log",
     -EINVAL},
    {"invalid_continuation_eof.policy", "invalid_continuation_eof.policy:2:1: line continuation",
     -EINVAL},
    {"invalid_continued_error.policy",
     "invalid_continued_error.policy:4:16: unknown constant 'NO_SUCH_IOCTL'", -EINVAL},
    {"invalid_default_bare_return.policy",
     "invalid_default_bare_return.policy:1:10: the default action needs an errno after "
     "'return'",
     -EINVAL},
    {"invalid_default_permits.policy", "invalid_default_permits.policy:2:18:", -EINVAL},
    {"invalid_default_twice.policy", "invalid_default_twice.policy:4:10: duplicate default",
     -EINVAL},
    {"invalid_duplicate_key.policy", "invalid_duplicate_key.policy:3:1: duplicate key 'uid'",
     -EINVAL},
    {"invalid_else_allow.policy", "invalid_else_allow.policy:1:18:", -EINVAL},
    {"invalid_env_bad.policy", "invalid_env_bad.policy:2:12:", -EINVAL},
    {"invalid_errno_range.policy", "invalid_errno_range.policy:1:14:", -ERANGE},
    {"invalid_expr_too_big.policy",
     "invalid_expr_too_big.policy:1:7: expression expands to more than 2048 libseccomp clauses",
     -E2BIG},
    {"invalid_fallback_conflict.policy",
     "invalid_fallback_conflict.policy:2:1: syscall 'read': the calls no line allows cannot "
     "get both return EPERM (at line 1:1) and return EIO",
     -EINVAL},
    {"invalid_filter_list.policy", "invalid_filter_list.policy:1:7: unsupported filter list",
     -EINVAL},
    {"invalid_hostname_bad.policy", "invalid_hostname_bad.policy:3:20:", -EINVAL},
    {"invalid_include_colon.policy", "invalid_include_colon.policy:1:10: @include '", -ENOENT},
    {"invalid_include_cycle.policy", "invalid_include_cycle.policy:1:10: @include cycle", -ELOOP},
    {"invalid_include_missing.policy", "invalid_include_missing.policy:1:10: @include", -ENOENT},
    {"invalid_long_line.policy", "invalid_long_line.policy:1:65537: line longer than 65536",
     -E2BIG},
    {"invalid_many_errors.policy", "invalid_many_errors.policy:2:7: expected arg0..arg5", -EINVAL},
    {"invalid_metadata.policy", "invalid_metadata.policy:1:5: unsupported syscall metadata",
     -EINVAL},
    {"invalid_missing_colon.policy", "invalid_missing_colon.policy:1:6: expected ':'", -EINVAL},
    {"invalid_namespace_unknown.policy", "invalid_namespace_unknown.policy:2:19:", -EINVAL},
    {"invalid_nul_byte.policy", "invalid_nul_byte.policy:2:6: NUL byte", -EINVAL},
    {"invalid_number_overflow.policy", "invalid_number_overflow.policy:1:15:", -ERANGE},
    {"invalid_override_no_ack.policy", "invalid_override_no_ack.policy:2:1: override-deny-list",
     -EINVAL},
    {"invalid_override_not_denied.policy", "invalid_override_not_denied.policy:2:22:", -EINVAL},
    {"invalid_rlimit_unit.policy", "invalid_rlimit_unit.policy:2:13: bad value '12Q'", -EINVAL},
    {"invalid_rlimit_unknown.policy", "invalid_rlimit_unknown.policy:2:1: unknown key", -EINVAL},
    {"invalid_too_deep.policy", "d7.policy:1:10: @include nested deeper", -ELOOP},
    {"invalid_trailing.policy", "invalid_trailing.policy:1:9: unexpected '2'", -EINVAL},
    {"invalid_uid_range.policy", "invalid_uid_range.policy:2:7:", -ERANGE},
    {"invalid_dynamic_uid_gid.policy", "invalid_dynamic_uid_gid.policy:3:1: with uid = dynamic",
     -EINVAL},
    {"invalid_unclosed_brace.policy", "invalid_unclosed_brace.policy:1:1: unclosed brace", -EINVAL},
    {"invalid_unclosed_paren.policy", "invalid_unclosed_paren.policy:1:15: unclosed", -EINVAL},
    {"invalid_unknown_action.policy", "invalid_unknown_action.policy:1:7: unknown action", -EINVAL},
    {"invalid_unknown_constant.policy", "invalid_unknown_constant.policy:1:16: unknown constant",
     -EINVAL},
    {"invalid_unknown_group.policy", "invalid_unknown_group.policy:1:1: unknown syscall group",
     -EINVAL},
    {"invalid_unknown_key.policy", "invalid_unknown_key.policy:3:1: unknown key 'frobnicate'",
     -EINVAL},
    {"invalid_unknown_section.policy", "invalid_unknown_section.policy:1:2:", -EINVAL},
    {"invalid_unknown_syscall.policy", "invalid_unknown_syscall.policy:2:1: unknown syscall",
     -EINVAL},
};

static void test_invalid_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		char path[512];
		struct bx_policy *p = NULL;
		bx_error err;
		int r;

		snprintf(path, sizeof(path), "%s/%s", BX_TEST_DATA_DIR, invalid[i].file);
		bx_error_clear(&err);
		r = bx_policy_load_file(path, &p, &err);
		if (r >= 0)
			fail_msg("%s: parsed", invalid[i].file);
		if (!strstr(err.text, invalid[i].where) || r != invalid[i].code)
			fail_msg("%s: got %d '%s', want %d '%s'", invalid[i].file, r, err.text,
				 invalid[i].code, invalid[i].where);
	}
}

/* Every invalid_*.policy in tests/data has a row (so that none is forgotten). */
static void test_every_fixture_listed(void **state)
{
	char cmd[600], line[256];
	FILE *f;
	size_t n = 0;

	(void)state;
	snprintf(cmd, sizeof(cmd), "ls %s | grep '^invalid_.*\\.policy$'", BX_TEST_DATA_DIR);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		bool found = false;

		line[strcspn(line, "\n")] = '\0';
		for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
			found |= strcmp(invalid[i].file, line) == 0;
		if (!found)
			fail_msg("%s has no row in invalid[]", line);
		n++;
	}
	pclose(f);
	assert_int_equal(n, sizeof(invalid) / sizeof(invalid[0]));
	assert_true(n >= 25);
}

/* ------------------------------------------------------------------ filters, simulated */

#define X86_64	AUDIT_ARCH_X86_64
#define I386	AUDIT_ARCH_I386
#define X32(nr) ((nr) | 0x40000000)
#define A(...)	((const uint64_t[6]){__VA_ARGS__})

struct sim_case {
	const char *policy; /* under policies/ or tests/data/ ("data/...") */
	uint32_t arch;
	int nr;
	const uint64_t *args;
	uint32_t want;
};

static const struct sim_case sim_cases[] = {
    {"default.policy", X86_64, __NR_read, NULL, R_ALLOW},
    {"default.policy", X86_64, __NR_getpid, NULL, R_ALLOW},
    {"default.policy", X86_64, __NR_ptrace, NULL, R_ERR(EPERM)},
    {"default.policy", X86_64, __NR_clone3, NULL, R_ERR(ENOSYS)},
    {"default.policy", X86_64, __NR_socket, NULL, R_KILL},
    {"default.policy", X86_64, __NR_socket, A(AF_VSOCK, SOCK_STREAM), R_ERR(EAFNOSUPPORT)},
    {"default.policy", X86_64, __NR_prctl, A(PR_SET_NAME), R_ALLOW},
    {"default.policy", X86_64, __NR_prctl, A(PR_GET_DUMPABLE), R_ALLOW},
    {"default.policy", X86_64, __NR_prctl, A(PR_SET_PDEATHSIG), R_KILL},
    {"default.policy", X86_64, __NR_prctl, A(PR_SET_DUMPABLE, 1), R_KILL},
    {"default.policy", X86_64, __NR_pidfd_getfd, NULL, R_ERR(EPERM)},
    {"default.policy", X86_64, __NR_process_madvise, NULL, R_ERR(EPERM)},
    {"default.policy", X86_64, 467 /* open_tree_attr */, NULL, R_ERR(EPERM)},
    {"default.policy", X86_64, __NR_execve, NULL, R_KILL},
    {"default.policy", X86_64, __NR_ioctl, A(1, TIOCSTI), R_ERR(EPERM)},
    {"default.policy", X86_64, __NR_ioctl, A(1, TCGETS), R_ALLOW},
    {"default.policy", X86_64, __NR_clone, A(CLONE_NEWUSER), R_ERR(EPERM)},
    {"default.policy", X86_64, __NR_clone, A(CLONE_VM | CLONE_THREAD), R_ALLOW},
    {"default.policy", I386, 3 /* read */, NULL, R_KILL},
    {"default.policy", I386, 20 /* getpid */, NULL, R_KILL},
    {"default.policy", X86_64, X32(__NR_getpid), NULL, R_KILL},
    {"default.policy", X86_64, X32(__NR_read), NULL, R_KILL},
    {"untrusted.policy", X86_64, __NR_mmap,
     A(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), R_ALLOW},
    {"untrusted.policy", X86_64, __NR_mmap, A(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, 3),
     R_ALLOW},
    {"untrusted.policy", X86_64, __NR_mmap,
     A(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS), R_ERR(EPERM)},
    {"untrusted.policy", X86_64, __NR_mprotect, A(0, 4096, PROT_READ), R_ALLOW},
    {"untrusted.policy", X86_64, __NR_mprotect, A(0, 4096, PROT_READ | PROT_EXEC), R_ERR(EPERM)},
    {"untrusted.policy", X86_64, __NR_socket, A(AF_UNIX, SOCK_STREAM), R_ERR(EACCES)},
    {"untrusted.policy", X86_64, __NR_execve, NULL, R_KILL},
    {"untrusted.policy", X86_64, __NR_memfd_create, NULL, R_KILL},
    {"untrusted.policy", X86_64, __NR_bpf, NULL, R_ERR(EPERM)},
    {"greet.policy", X86_64, __NR_write, NULL, R_ALLOW},
    {"greet.policy", X86_64, __NR_connect, NULL, R_KILL},
    {"data/valid_minijail.policy", X86_64, __NR_read, NULL, R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_exit_group, NULL, R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_open, NULL, R_KILL},
    {"data/valid_minijail.policy", X86_64, __NR_mprotect, A(0, 0, PROT_READ | PROT_WRITE), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_mprotect, A(0, 0, PROT_EXEC), R_KILL},
    {"data/valid_minijail.policy", X86_64, __NR_ioctl, A(0, TCGETS), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_ioctl, A(0, TCSETS), R_ERR(ENOTTY)},
    /* deny list EPERM, the line's fallback ENOTTY: two errnos, the later filter's wins */
    {"data/valid_minijail.policy", X86_64, __NR_ioctl, A(0, TIOCSTI), R_ERR(ENOTTY)},
    {"data/valid_minijail.policy", X86_64, __NR_fcntl, A(3, F_SETFL, O_NONBLOCK), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_fcntl, A(3, F_SETFL, O_APPEND), R_KILL},
    {"data/valid_minijail.policy", X86_64, __NR_fcntl, A(3, F_GETFD), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_madvise, A(0, 0, MADV_DONTNEED), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_madvise, A(0, 0, MADV_FREE), R_ERR(EINVAL)},
    {"data/valid_minijail.policy", X86_64, __NR_kill, A(3, 9), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_kill, A(1, 9), R_ERR(EPERM)},
    {"data/valid_minijail.policy", X86_64, __NR_kill, A(3, 16), R_ERR(EPERM)},
    {"data/valid_minijail.policy", X86_64, __NR_kill, A(0x100000002ull, 1), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_socket, A(AF_UNIX), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_socket, A(AF_INET6), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_socket, A(AF_NETLINK), R_ERR(EAFNOSUPPORT)},
    {"data/valid_minijail.policy", X86_64, __NR_socket, A(AF_INET), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_lseek, A(3, 0x11, 0), R_ALLOW},
    {"data/valid_minijail.policy", X86_64, __NR_lseek, A(2, 0x11, 0), R_KILLT},
    {"data/valid_minijail.policy", X86_64, __NR_uname, NULL, R_TRAP},
    {"data/valid_minijail.policy", X86_64, __NR_getpid, NULL, R_LOG},
    {"data/valid_minijail.policy", X86_64, __NR_getppid, NULL, R_ERR(1)},
};

/* The realistic minijail-style fixtures (tests/data/minijail), simulated. */
#define MJ(f) "data/minijail/" f
static const struct sim_case mj_cases[] = {
    {MJ("legacy-minijail.policy"), X86_64, __NR_open, NULL, R_ERR(ENOENT)},
    {MJ("legacy-minijail.policy"), X86_64, __NR_openat, A(3, 0, O_RDONLY | O_CLOEXEC), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_openat, A(3, 0, O_WRONLY), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_mkdirat, A(3, 0, 0700), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_mkdirat, A(3, 0, 04777), R_ERR(EACCES)},
    {MJ("legacy-minijail.policy"), X86_64, __NR_socket, A(AF_UNIX, SOCK_STREAM), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_socket, A(AF_INET, SOCK_STREAM),
     R_ERR(EAFNOSUPPORT)},
    {MJ("legacy-minijail.policy"), X86_64, __NR_ioctl, A(0, TCGETS), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_ioctl, A(0, FIONREAD), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_ioctl, A(0, TCSETS), R_ERR(ENOTTY)},
    {MJ("legacy-minijail.policy"), X86_64, __NR_fcntl, A(0, F_GETFL), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_fcntl, A(0, F_SETFL, O_NONBLOCK), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_fcntl, A(0, F_SETFL, O_DIRECT), R_KILL},
    {MJ("legacy-minijail.policy"), X86_64, __NR_fcntl, A(0, F_SETFD, 1), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_uname, A(0x1000), R_ALLOW},
    {MJ("legacy-minijail.policy"), X86_64, __NR_uname, A(0), R_KILL},	/* bare `; return` */
    {MJ("legacy-minijail.policy"), X86_64, __NR_setpgid, NULL, R_KILL}, /* bare `return` */
    {MJ("legacy-minijail.policy"), X86_64, __NR_sched_setaffinity, NULL, R_ERR(EPERM)},
    {MJ("legacy-minijail.policy"), X86_64, __NR_getppid, NULL, R_ALLOW}, /* include with ':' */
    {MJ("renderer.policy"), X86_64, __NR_madvise, A(0, 0, MADV_DONTNEED), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_madvise, A(0, 0, 102 /* MADV_GUARD_INSTALL */), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_madvise, A(0, 0, MADV_HUGEPAGE), R_ERR(EPERM)},
    {MJ("renderer.policy"), X86_64, __NR_kill, A(1, SIGTERM), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_kill, A(1, SIGHUP), R_ERR(EPERM)},
    {MJ("renderer.policy"), X86_64, 462 /* mseal */, NULL, R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_clone3, NULL, R_ERR(ENOSYS)},
    {MJ("renderer.policy"), X86_64, __NR_clone, A(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND),
     R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_clone, A(CLONE_THREAD), R_KILL},
    {MJ("renderer.policy"), X86_64, __NR_futex, A(0, FUTEX_WAIT_PRIVATE), R_ALLOW},
    /* combined with common/libc-basic.policy's `futex: 1` */
    {MJ("renderer.policy"), X86_64, __NR_futex, A(0, FUTEX_WAIT), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_prctl, A(PR_SET_VMA, PR_SET_VMA_ANON_NAME), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_prctl, A(PR_SET_PDEATHSIG, 0), R_ERR(EPERM)},
    {MJ("renderer.policy"), X86_64, __NR_getrandom, A(0, 0, GRND_NONBLOCK), R_ALLOW},
    {MJ("renderer.policy"), X86_64, __NR_getrandom, A(0, 0, 0x100), R_ERR(EINVAL)},
    {MJ("vm-device.policy"), X86_64, __NR_clone, A(CLONE_VM | CLONE_THREAD), R_ALLOW},
    {MJ("vm-device.policy"), X86_64, __NR_clone, A(CLONE_THREAD | CLONE_NEWUSER), R_ERR(EPERM)},
    {MJ("vm-device.policy"), X86_64, __NR_clone, A(SIGCHLD), R_KILL},
    {MJ("vm-device.policy"), X86_64, __NR_ioctl, A(0, 0xae80 /* KVM_RUN */), R_ALLOW},
    {MJ("coredump-collector.policy"), X86_64, __NR_ptrace, A(PTRACE_ATTACH), R_ERR(EPERM)},
    {MJ("coredump-collector.policy"), X86_64, __NR_pidfd_getfd, NULL, R_ERR(EPERM)},
    {MJ("coredump-collector.policy"), X86_64, __NR_process_vm_readv, NULL, R_ERR(EPERM)},
    {MJ("terminal.policy"), X86_64, __NR_ioctl, A(0, TIOCSWINSZ), R_ALLOW},
    {MJ("terminal.policy"), X86_64, __NR_ioctl, A(0, TIOCSTI), R_ERR(EPERM)},
    {MJ("terminal.policy"), X86_64, __NR_ioctl, A(0, TIOCLINUX), R_ERR(EPERM)},
    {MJ("terminal.policy"), X86_64, __NR_ioctl, A(0, TIOCEXCL), R_KILL},
    {MJ("long-ioctl-list.policy"), X86_64, __NR_ioctl, A(0, 0xae80 /* KVM_RUN */), R_ALLOW},
    {MJ("long-ioctl-list.policy"), X86_64, __NR_ioctl, A(0, TCGETS), R_ERR(ENOTTY)},
    {MJ("image-loader.policy"), X86_64, __NR_mount, NULL, R_ERR(EPERM)},
    {MJ("dns-proxy.policy"), X86_64, __NR_socket, A(AF_NETLINK, SOCK_RAW, 0 /* ROUTE */), R_ALLOW},
    {MJ("dns-proxy.policy"), X86_64, __NR_socket, A(AF_NETLINK, SOCK_RAW, 9 /* AUDIT */), R_KILL},
    /* not allowed by the policy, which names socket: its default (kill) beats the deny errno */
    {MJ("dns-proxy.policy"), X86_64, __NR_socket, A(AF_VSOCK, SOCK_STREAM), R_KILL},
    /* allowed by the policy (arg0 & ...): the deny list answers */
    {"data/valid_minijail.policy", X86_64, __NR_socket, A(AF_VSOCK), R_ERR(EAFNOSUPPORT)},
};

static void test_sim_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sim_cases) / sizeof(sim_cases[0]); i++) {
		const struct sim_case *c = &sim_cases[i];
		char path[512];
		struct bx_policy *p;
		struct bx_bpf bpf = {0};
		uint32_t got;

		if (strncmp(c->policy, "data/", 5) == 0)
			snprintf(path, sizeof(path), "%s/%s", BX_TEST_DATA_DIR, c->policy + 5);
		else
			snprintf(path, sizeof(path), "%s/%s", POLICIES_DIR, c->policy);
		p = load(path);
		compile(p, &bpf);
		got = sim(&bpf, c->arch, c->nr, c->args);
		if (got != c->want)
			fail_msg("row %zu: %s arch %#x nr %d: got %#x, want %#x", i, c->policy,
				 c->arch, c->nr, got, c->want);
		bx_bpf_free(&bpf);
		bx_policy_free(p);
	}
	for (size_t i = 0; i < sizeof(mj_cases) / sizeof(mj_cases[0]); i++) {
		const struct sim_case *c = &mj_cases[i];
		char path[512];
		struct bx_policy *p;
		struct bx_bpf bpf = {0};
		uint32_t got;

		snprintf(path, sizeof(path), "%s/%s", BX_TEST_DATA_DIR, c->policy + 5);
		p = load(path);
		compile(p, &bpf);
		got = sim(&bpf, c->arch, c->nr, c->args);
		if (got != c->want)
			fail_msg(
			    "minijail row %zu: %s nr %d arg0 %#llx arg1 %#llx: got %#x, want %#x",
			    i, c->policy, c->nr, (unsigned long long)(c->args ? c->args[0] : 0),
			    (unsigned long long)(c->args ? c->args[1] : 0), got, c->want);
		bx_bpf_free(&bpf);
		bx_policy_free(p);
	}
}

/* ------------------------------------------------------------------ random expressions */

struct atom {
	unsigned arg;
	int op; /* 0 == 1 != 2 < 3 <= 4 > 5 >= 6 in 7 & */
	uint64_t v;
};

static uint64_t rnd(void)
{
	return ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
}

/* Small values collide with each other and with the constants in the atoms. */
static uint64_t pick(const uint64_t *pool, size_t n)
{
	switch (random() % 4) {
	case 0:
		return rnd();
	case 1:
		return (uint64_t)(random() % 8);
	default:
		return pool[(size_t)random() % n] + (uint64_t)(random() % 3) - 1;
	}
}

static bool eval_atom(const struct atom *a, const uint64_t args[6])
{
	uint64_t x = args[a->arg];

	switch (a->op) {
	case 0:
		return x == a->v;
	case 1:
		return x != a->v;
	case 2:
		return x < a->v;
	case 3:
		return x <= a->v;
	case 4:
		return x > a->v;
	case 5:
		return x >= a->v;
	case 6:
		return (x & ~a->v) == 0;
	default:
		return (x & a->v) != 0;
	}
}

/*
 * Random minijail expressions with `; return EIO`, compiled through
 * libseccomp and simulated, against a direct evaluation: checks the DNF
 * expansion, the complement, and libseccomp's handling of both together.
 */
static void test_random_expressions(void **state)
{
	static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">=", "in", "&"};
	unsigned seed = 12345;
	int iters = BX_RANDOM_ITERS;

	(void)state;
	/*
	 * Opt-in (BX_POLICY_RANDOM=1, or =N for N iterations; and
	 * BX_POLICY_RANDOM_SEED): libseccomp 2.5.4 can take minutes to add some
	 * of these rule sets, a large set of overlapping masked comparisons on
	 * one argument (`arg2 > A && arg2 & 0xe`, which is a union of dozens of
	 * bit patterns). This test found a libseccomp mis-merge of allow and
	 * errno rules (gone with the fallback in a filter of its own,
	 * compile.c) and wrong BPF for ranges over several rules (caught by
	 * compile.c's check of every filter against its rules).
	 */
	if (!getenv("BX_POLICY_RANDOM"))
		bx_test_skip("random expressions: set BX_POLICY_RANDOM=1 (libseccomp 2.5.4 can "
			     "take minutes on some of these rule sets)");
	if (atoi(getenv("BX_POLICY_RANDOM")) > 1)
		iters = atoi(getenv("BX_POLICY_RANDOM"));
	if (getenv("BX_POLICY_RANDOM_SEED"))
		seed = (unsigned)atoi(getenv("BX_POLICY_RANDOM_SEED"));
	srandom(seed);
	for (int iter = 0; iter < iters; iter++) {
		struct atom atoms[3][3];
		size_t nclauses = 1 + (size_t)random() % 3, natoms[3];
		char text[1024];
		size_t o = 0;
		uint64_t pool[16];
		size_t npool = 0;
		struct bx_policy *p = NULL;
		struct bx_bpf bpf = {0};
		bx_error err;
		int r;

		o += (size_t)snprintf(text + o, sizeof(text) - o, "getpid: ");
		for (size_t c = 0; c < nclauses; c++) {
			natoms[c] = 1 + (size_t)random() % 3;
			for (size_t k = 0; k < natoms[c]; k++) {
				struct atom *a = &atoms[c][k];

				a->arg = (unsigned)random() % 3;
				a->op = (int)(random() % 8);
				a->v = random() % 2 ? (uint64_t)(random() % 16) : rnd();
				if (a->op == 7 || a->op == 6)
					a->v &= random() % 2 ? 0xf : 0xff00ff;
				pool[npool++] = a->v;
				o += (size_t)snprintf(text + o, sizeof(text) - o,
						      "%s%sarg%u %s 0x%llx", k ? " && " : "",
						      (k == 0 && c) ? " || " : "", a->arg,
						      ops[a->op], (unsigned long long)a->v);
			}
		}
		snprintf(text + o, sizeof(text) - o, "; return EIO\n");
		if (getenv("BX_POLICY_RANDOM_VERBOSE"))
			fprintf(stderr, "%d: %s", iter, text);
		bx_error_clear(&err);
		r = bx_policy_parse("random", text, strlen(text), NULL, &p, &err);
		if (r == -E2BIG)
			continue; /* too large for libseccomp-shaped clauses: refused, fine */
		if (r < 0)
			fail_msg("%s: %s", text, err.text);
		r = bx_seccomp_compile(p, NULL, &bpf, &err);
		if (r == -E2BIG) {
			bx_policy_free(p);
			continue; /* refused as too large once written for libseccomp: fine */
		}
		if (r < 0)
			fail_msg("%s: compile: %s", text, err.text);
		for (int t = 0; t < 200; t++) {
			uint64_t args[6] = {pick(pool, npool), pick(pool, npool),
					    pick(pool, npool)};
			bool want = false;
			uint32_t got;

			for (size_t c = 0; c < nclauses && !want; c++) {
				bool all = true;

				for (size_t k = 0; k < natoms[c]; k++)
					all &= eval_atom(&atoms[c][k], args);
				want = all;
			}
			got = sim(&bpf, X86_64, __NR_getpid, args);
			if (getenv("BX_SIM_STATS")) {
				static int bad_allow, bad_deny, wrong_deny;
				if (want && got != R_ALLOW)
					bad_deny++;
				else if (!want && got == R_ALLOW)
					bad_allow++;
				else if (!want && got != R_ERR(EIO))
					wrong_deny++;
				if (iter == iters - 1 && t == 199)
					fprintf(stderr,
						"allow-when-denied %d deny-when-allowed %d "
						"kill-not-eio %d\n",
						bad_allow, bad_deny, wrong_deny);
				continue;
			}
			if (got != (want ? R_ALLOW : R_ERR(EIO)))
				fail_msg("%s args %#llx %#llx %#llx: got %#x", text,
					 (unsigned long long)args[0], (unsigned long long)args[1],
					 (unsigned long long)args[2], got);
		}
		bx_bpf_free(&bpf);
		bx_policy_free(p);
	}
}

/* ------------------------------------------------------------------ printing, CLI */

/*
 * bind's options (fsview's W^X): rw binds are noexec and ro binds exec unless
 * marked; each option at most once; the printed policy says the same again.
 */
static void test_bind_options(void **state)
{
	static const struct {
		const char *options;
		bool ok, rw, optional, exec;
	} cases[] = {
	    {"", true, false, false, true},
	    {" ro", true, false, false, true},
	    {" rw", true, true, false, false},
	    {" rw exec", true, true, false, true},
	    {" exec rw optional", true, true, true, true},
	    {" ro noexec", true, false, false, false},
	    {" noexec", true, false, false, false},
	    {" rw noexec required", true, true, false, false},
	    {" exec noexec", false, false, false, false},
	    {" exec exec", false, false, false, false},
	    {" rw ro", false, false, false, false},
	    {" executable", false, false, false, false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256], *printed = NULL;
		size_t len = 0;
		struct bx_policy *p = NULL, *q = NULL;
		bx_error err;
		FILE *f;
		int r;

		snprintf(text, sizeof(text),
			 "[policy]\nname = b\nnamespaces = user mount\nbind = /srv /data%s\n",
			 cases[i].options);
		bx_error_clear(&err);
		r = bx_policy_parse("bind.policy", text, strlen(text), NULL, &p, &err);
		if (!cases[i].ok) {
			if (r != -EINVAL || !strstr(err.text, "bind.policy:4:"))
				fail_msg("'%s': %d '%s', want an error at line 4", cases[i].options,
					 r, err.text);
			continue;
		}
		if (r < 0)
			fail_msg("'%s': %s", cases[i].options, err.text);
		assert_int_equal(p->nbinds, 1);
		assert_int_equal(p->binds[0].rw, cases[i].rw);
		assert_int_equal(p->binds[0].optional, cases[i].optional);
		if (p->binds[0].exec != cases[i].exec)
			fail_msg("'%s': exec %d, want %d", cases[i].options, p->binds[0].exec,
				 cases[i].exec);
		f = open_memstream(&printed, &len);
		assert_non_null(f);
		bx_policy_print(p, f);
		fclose(f);
		if (bx_policy_parse("printed", printed, len, NULL, &q, &err) < 0)
			fail_msg("'%s' printed:\n%s\n%s", cases[i].options, printed, err.text);
		assert_int_equal(q->binds[0].rw, p->binds[0].rw);
		assert_int_equal(q->binds[0].optional, p->binds[0].optional);
		assert_int_equal(q->binds[0].exec, p->binds[0].exec);
		bx_policy_free(q);
		bx_policy_free(p);
		free(printed);
	}
}

/* show's policy text parses back to the same filter. */
static void test_print_round_trip(void **state)
{
	static const char *const files[] = {POLICIES_DIR "/default.policy",
					    POLICIES_DIR "/untrusted.policy",
					    BX_TEST_DATA_DIR "/valid_minijail.policy"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct bx_policy *p = load(files[i]), *q = NULL;
		struct bx_bpf a = {0}, b = {0};
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		bx_error err;

		assert_non_null(f);
		bx_policy_print(p, f);
		fclose(f);
		bx_error_clear(&err);
		if (bx_policy_parse("printed", text, len, NULL, &q, &err) < 0)
			fail_msg("%s printed:\n%s\n%s", files[i], text, err.text);
		compile(p, &a);
		compile(q, &b);
		assert_same_bpf(&a, &b);
		bx_bpf_free(&a);
		bx_bpf_free(&b);
		bx_policy_free(p);
		bx_policy_free(q);
		free(text);
	}
}

static void test_cli(void **state)
{
	char *const good[] = {POLICIES_DIR "/default.policy", POLICIES_DIR "/greet.policy"};
	char *const bad[] = {POLICIES_DIR "/default.policy",
			     BX_TEST_DATA_DIR "/invalid_unknown_key.policy"};
	char *out = NULL, *errs = NULL;
	size_t olen = 0, elen = 0;
	FILE *o, *e;

	(void)state;
	o = open_memstream(&out, &olen);
	e = open_memstream(&errs, &elen);
	assert_int_equal(bx_cli_policy_check(2, good, o, e), 0);
	assert_int_equal(bx_cli_policy_check(2, bad, o, e), 1);
	assert_int_equal(bx_cli_policy_groups(o), 0);
	assert_int_equal(bx_cli_policy_show(POLICIES_DIR "/untrusted.policy", o, e), 0);
	fclose(o);
	fclose(e);
	assert_non_null(strstr(out, "default.policy: ok (130 syscalls, 8 namespaces, 5 binds)"));
	assert_non_null(strstr(errs, "invalid_unknown_key.policy:3:1: unknown key 'frobnicate'"));
	assert_non_null(strstr(out, "@basic-io"));
	assert_non_null(strstr(out, "mmap: arg2 in"));
	assert_non_null(strstr(out, "# filter for syscall \"mmap\""));
	free(out);
	free(errs);
}

/* ------------------------------------------------------------------ clause algebra */

static void test_complement_exact(void **state)
{
	struct bx_sc_clause in[2] = {0}, out[256];
	int n;

	(void)state;
	in[0].ncmp = 2;
	in[0].cmp[0] = (struct bx_sc_cmp){.arg = 0, .op = BX_SC_NE, .value = 1};
	in[0].cmp[1] = (struct bx_sc_cmp){.arg = 1, .op = BX_SC_LT, .value = 10};
	in[1].ncmp = 1;
	in[1].cmp[0] =
	    (struct bx_sc_cmp){.arg = 0, .op = BX_SC_MASKED_EQ, .mask = 0xf0, .value = 0x30};
	n = bx_sc_complement(in, 2, out, 256);
	assert_true(n > 0);
	srandom(7);
	for (int t = 0; t < 20000; t++) {
		uint64_t args[6] = {(uint64_t)(random() % 0x100), (uint64_t)(random() % 20)};
		bool inside = bx_sc_clause_eval(&in[0], args) || bx_sc_clause_eval(&in[1], args);
		bool comp = false;

		for (int i = 0; i < n; i++)
			comp |= bx_sc_clause_eval(&out[i], args);
		assert_true(inside != comp);
	}
}

/*
 * Short inline policies, one per parser path: numbers in every base and
 * unit, each refusal of the expression grammar, and fallbacks of every
 * comparison. Valid ones must also compile.
 */
static void test_inline_snippets(void **state)
{
	static const struct {
		const char *text;
		const char *err; /* NULL: valid */
	} cases[] = {
	    {"read: arg0 == -1\n", NULL},
	    {"read: arg0 == 017 || arg0 == 0xAF || arg0 == 0xaf\n", NULL},
	    {"read: arg0 < 5; return EPERM\n", NULL},
	    {"read: arg1 >= 7; return EIO\n", NULL},
	    {"read: arg0 <= 2 && arg1 > 3; return EBADF\n", NULL},
	    {"read: arg0 > 2 || arg1 < 3; return EBADF\n", NULL},
	    {"read: arg0 in ~(PROT_READ|PROT_WRITE)\n", NULL},
	    {"[policy]\nrlimit.fsize = 1K\nrlimit.as = 1T\n[syscalls]\nread: 1\n", NULL},
	    {"read: arg0 == 0x1g\n", "t:1:"},
	    {"read: arg0 == 09\n", "t:1:"},
	    {"read: arg0 == -0x8000000000000001\n", "t:1:"},
	    {"read: arg0 == ||\n", "t:1:"},
	    {"read: arg0 in ~~1\n", "double complement"},
	    {"read: arg0 in ~\n", "missing constant"},
	    {"read: arg0 == ((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))\n",
	     "nested too deep"},
	    {"read: arg0 == 1;\n", "missing action"},
	    {"read: return\n", NULL}, /* minijail's C parser: the default action */
	    {"read: arg0 == 1; return\n", NULL},
	    {"@default return\n", "needs an errno"},
	    {"read: trace\n", "t:1:"},
	    {"read: arg0\n", "missing operator"},
	    {"read: arg0 ==\n", "missing constant"},
	    {"read: arg0 <> 1\n", "t:1:"},
	    {"read: arg0 == 1 &&\n", "missing comparison"},
	    {"{read, 5}: 1\n", "t:1:8: unknown syscall '5'"},
	    {"{read: 1\n", "t:1:"},
	    {"{read, nosuch_call}: 1\n", "unknown syscall"},
	    {"5: 1\n", "t:1:1: unknown syscall '5'"},
	    {"{read,,}: 1\n", "t:1:"},
	    {": 1\n", "t:1:"},
	    {"read 1\n", "t:1:"},
	    {"read:\n", "missing filter"},
	    {"[policy]\nuid = 99999999999999999999\n", "t:2:"},
	    {"[policy]\nrlimit.fsize = 1Q\n", "t:2:"},
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_policy *p = NULL;
		bx_error err;
		int r;

		bx_error_clear(&err);
		r = bx_policy_parse("t", cases[i].text, strlen(cases[i].text), NULL, &p, &err);
		if (!cases[i].err) {
			struct bx_bpf bpf = {0};

			if (r < 0) {
				print_error("case %zu refused: %s\n", i, err.text);
				bad++;
				continue;
			}
			if (bx_seccomp_compile(p, NULL, &bpf, &err) < 0) {
				print_error("case %zu does not compile: %s\n", i, err.text);
				bad++;
			}
			bx_bpf_free(&bpf);
			bx_policy_free(p);
			continue;
		}
		if (r >= 0) {
			print_error("case %zu accepted: %s", i, cases[i].text);
			bx_policy_free(p);
			bad++;
		} else if (!strstr(err.text, cases[i].err)) {
			print_error("case %zu: '%s' does not say '%s'\n", i, err.text,
				    cases[i].err);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/*
 * Regression: libseccomp 2.5.4 merged this rule set wrongly when the
 * fallback rules were added after the allow rules (KILL where EIO is due,
 * reproduced with libseccomp alone). seccomp.c now adds fallbacks first.
 */
static void test_libseccomp_merge_regression(void **state)
{
	static const char text[] =
	    "getpid: arg2 == 0x48a5faf24a9dcec9 || arg1 > 0x30b113930b84c31c && arg2 >= 0xa && "
	    "arg0 != 0x5074904f8a2b324d; return EIO\n";
	static const uint64_t eio_args[6] = {0x5074904f8a2b324eULL, 0, 0x5074904f8a2b324cULL};
	static const uint64_t allow_args[6] = {0, 0, 0x48a5faf24a9dcec9ULL};
	struct bx_policy *p = NULL;
	struct bx_bpf bpf = {0};
	bx_error err;
	(void)state;

	assert_int_equal(bx_policy_parse("t", text, strlen(text), NULL, &p, &err), 0);
	compile(p, &bpf);
	assert_int_equal(sim(&bpf, AUDIT_ARCH_X86_64, SYS_getpid, eio_args), SCMP_ACT_ERRNO(EIO));
	assert_int_equal(sim(&bpf, AUDIT_ARCH_X86_64, SYS_getpid, allow_args), SCMP_ACT_ALLOW);
	bx_bpf_free(&bpf);
	bx_policy_free(p);
}

/* ------------------------------------------------------------------ diagnostics */

struct diags {
	char *text[128];
	int kind[128];
	size_t n;
};

static void collect(void *ctx, enum bx_policy_diag kind, const char *text)
{
	struct diags *d = ctx;

	if (d->n < 128) {
		d->kind[d->n] = (int)kind;
		d->text[d->n++] = strdup(text);
	}
}

static void diags_free(struct diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->text[i]);
	d->n = 0;
}

/* A rule that the deny list overrides is a warning at its line, with what happens at run time. */
static void test_deny_warnings(void **state)
{
	static const struct {
		const char *text;
		const char *warning; /* NULL: none */
	} cases[] = {
	    {"read: 1\nptrace: 1\n",
	     "t:2:1: warning: 'ptrace' is on beambox's deny list (debugging other processes: "
	     "CVE-2019-13272): at run time every call fails with EPERM"},
	    {"clone3: 1\n", "t:1:1: warning: 'clone3' is on beambox's deny list"},
	    {"clone: arg0 & CLONE_NEWUSER\n",
	     "t:1:1: warning: 'clone' with a namespace flag (CLONE_NEW*) is on beambox's deny "
	     "list (new namespaces, as unshare): at run time such calls fail with EPERM"},
	    {"ioctl: arg1 == TCGETS || \\\n arg1 == TIOCSTI\n",
	     "t:1:1: warning: 'ioctl' with TIOCSTI or TIOCLINUX"},
	    {"socket: arg0 == AF_VSOCK\n", "fail with EAFNOSUPPORT"},
	    {"pidfd_getfd: 1\n", "'pidfd_getfd' is on beambox's deny list"},
	    {"process_madvise: 1\n", "'process_madvise' is on beambox's deny list"},
	    {"open_tree_attr: 1\n", "'open_tree_attr' is on beambox's deny list"},
	    {"@basic-io\n", NULL},		/* ioctl: 1 is narrowed, not warned about */
	    {"clone: arg0 == SIGCHLD\n", NULL}, /* cannot take a namespace flag */
	    {"ioctl: arg1 == TCGETS\n", NULL},
	    {"ptrace: return EPERM\n", NULL}, /* refused anyway */
	    {"[policy]\noverride-deny-list = ptrace\ni-understand-this-weakens-the-sandbox = "
	     "yes\n[syscalls]\nptrace: 1\n",
	     NULL},
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diags d = {0};
		struct bx_policy_parse_opts opts = {.diag = collect, .diag_ctx = &d};
		struct bx_policy *p = NULL;
		bx_error err;

		bx_error_clear(&err);
		if (bx_policy_parse("t", cases[i].text, strlen(cases[i].text), &opts, &p, &err) <
		    0) {
			print_error("case %zu refused: %s\n", i, err.text);
			bad++;
			continue;
		}
		if (!cases[i].warning && (p->nwarnings || d.n)) {
			print_error("case %zu: unexpected warning %s\n", i, p->warnings[0]);
			bad++;
		} else if (cases[i].warning &&
			   (p->nwarnings != 1 || d.n != 1 || d.kind[0] != BX_POLICY_WARNING ||
			    !strstr(p->warnings[0], cases[i].warning))) {
			print_error("case %zu: %zu warnings, '%s', want '%s'\n", i, p->nwarnings,
				    p->nwarnings ? p->warnings[0] : "", cases[i].warning);
			bad++;
		}
		diags_free(&d);
		bx_policy_free(p);
	}
	assert_int_equal(bad, 0);
}

/* Every error of a file is reported (bounded), each with its file:line:col. */
static void test_every_error(void **state)
{
	static const char *const want[] = {
	    "invalid_many_errors.policy:2:7: expected arg0..arg5, got 'arg9'",
	    "invalid_many_errors.policy:3:16: unknown constant 'NO_SUCH_CONSTANT'",
	    "invalid_many_errors.policy:4:1: unknown syscall 'no_such_syscall'",
	    "invalid_many_errors.policy:5:8: unknown action 'frobnicate'",
	    "invalid_many_errors.policy:7:7: expected a decimal number, got '-1'",
	};
	struct diags d = {0};
	struct bx_policy_parse_opts opts = {.diag = collect, .diag_ctx = &d};
	struct bx_policy *p = NULL;
	char *text = NULL, *out = NULL, *errs = NULL;
	size_t olen = 0, elen = 0;
	FILE *o, *e;
	bx_error err;
	char *const files[] = {BX_TEST_DATA_DIR "/invalid_many_errors.policy"};

	(void)state;
	assert_int_equal(bx_policy_load_file_opts(BX_TEST_DATA_DIR "/invalid_many_errors.policy",
						  &opts, &p, &err),
			 -EINVAL);
	assert_null(p);
	assert_int_equal(d.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < d.n; i++) {
		if (!strstr(d.text[i], want[i]))
			fail_msg("error %zu: '%s', want '%s'", i, d.text[i], want[i]);
	}
	assert_non_null(strstr(err.text, want[0])); /* the first is the one returned */
	diags_free(&d);

	/* The CLI prints them all. */
	o = open_memstream(&out, &olen);
	e = open_memstream(&errs, &elen);
	assert_int_equal(bx_cli_policy_check(1, files, o, e), 1);
	fclose(o);
	fclose(e);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_non_null(strstr(errs, want[i]));
	free(out);
	free(errs);

	/* 80 bad lines: 50 reported, then it stops. */
	{
		FILE *f = open_memstream(&text, &olen);

		for (int i = 0; i < 80; i++)
			fprintf(f, "no_such_%d: 1\n", i);
		fclose(f);
		opts.max_errors = 0;
		assert_int_equal(bx_policy_parse("many", text, olen, &opts, &p, &err), -EINVAL);
		assert_int_equal(d.n, BX_POLICY_ERRORS_MAX);
		assert_non_null(strstr(d.text[49], "many:50:1: unknown syscall 'no_such_49'"));
		diags_free(&d);
		free(text);
	}
	/* Without a diagnostic callback, parsing stops at the first error. */
	assert_int_equal(
	    bx_policy_load_file(BX_TEST_DATA_DIR "/invalid_many_errors.policy", &p, &err), -EINVAL);
	assert_non_null(strstr(err.text, want[0]));
}

/* file:line:col stays whole under any path: the path is shortened in its middle. */
static void test_deep_path(void **state)
{
	char dir[1024], path[1200], cmd[2600];
	struct bx_policy *p = NULL;
	bx_error err;
	size_t n;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bx-deep-XXXXXX");
	assert_non_null(mkdtemp(dir));
	n = strlen(dir);
	for (int i = 0; i < 12; i++) {
		n += (size_t)snprintf(dir + n, sizeof(dir) - n,
				      "/a-rather-long-directory-name-%02d", i);
		assert_int_equal(mkdir(dir, 0755), 0);
	}
	snprintf(path, sizeof(path), "%s/invalid_unknown_key.policy", dir);
	snprintf(cmd, sizeof(cmd), "cp %s/invalid_unknown_key.policy %s", BX_TEST_DATA_DIR, path);
	assert_int_equal(system(cmd), 0);
	assert_true(strlen(path) > 400);
	bx_error_clear(&err);
	assert_int_equal(bx_policy_load_file(path, &p, &err), -EINVAL);
	if (!strstr(err.text, "/invalid_unknown_key.policy:3:1: unknown key 'frobnicate'") ||
	    strncmp(err.text, "/tmp/bx-deep-", 13) != 0 || !strstr(err.text, "..."))
		fail_msg("'%s'", err.text);
	assert_true(strlen(err.text) < BX_ERROR_TEXT_MAX - 1);
	snprintf(cmd, sizeof(cmd), "rm -rf %.20s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A file with no [policy] section (a minijail policy) gets the default's settings. */
static void test_syscalls_only_inherits_default(void **state)
{
	static const char minijail[] = "read: 1\n@default return EPERM\n";
	static const char own[] = "[policy]\nname = own\n[syscalls]\nread: 1\n";
	struct bx_policy *p = NULL, *d = NULL;
	bx_error err;

	(void)state;
	assert_int_equal(bx_policy_default(&d), 0);
	assert_int_equal(bx_policy_parse("m", minijail, strlen(minijail), NULL, &p, &err), 0);
	assert_int_equal(p->namespaces, d->namespaces);
	assert_int_equal(p->namespaces_optional, d->namespaces_optional);
	assert_int_equal(p->uid, d->uid);
	assert_string_equal(p->hostname, d->hostname);
	assert_int_equal(p->nbinds, d->nbinds);
	assert_string_equal(p->binds[0].src, d->binds[0].src);
	assert_int_equal(p->tmp_size, d->tmp_size);
	assert_int_equal(p->landlock, d->landlock);
	assert_int_equal(p->rlimits[RLIMIT_NOFILE].value, d->rlimits[RLIMIT_NOFILE].value);
	assert_int_equal(p->nenv_keep, d->nenv_keep);
	/* ...but its own rules and default action. */
	assert_int_equal(p->default_action, SCMP_ACT_ERRNO(EPERM));
	assert_int_equal(p->nrules, 1);
	bx_policy_free(p);
	/* A file that says anything in [policy] says everything itself. */
	assert_int_equal(bx_policy_parse("o", own, strlen(own), NULL, &p, &err), 0);
	assert_int_equal(p->namespaces, 0);
	assert_int_equal(p->nbinds, 0);
	bx_policy_free(p);
	bx_policy_free(d);
}

/* minijail's parser as the oracle: the divergences of issue #10, item 6, as rows. */
static void test_minijail_semantics(void **state)
{
	static const struct {
		const char *text;
		int nr;
		uint64_t arg; /* the compared argument's value */
		unsigned idx; /* which argument */
		uint32_t want;
	} cases[] = {
	    /* Several lines for one syscall combine (an identical repeat is harmless). */
	    {"read: arg0 == 1\nread: arg0 == 2\n", __NR_read, 1, 0, R_ALLOW},
	    {"read: arg0 == 1\nread: arg0 == 2\n", __NR_read, 2, 0, R_ALLOW},
	    {"read: arg0 == 1\nread: arg0 == 2\n", __NR_read, 3, 0, R_KILL},
	    {"read: 1\nread: 1\n", __NR_read, 3, 0, R_ALLOW},
	    {"read: arg0 == 1\nread: 1\n", __NR_read, 3, 0, R_ALLOW},
	    {"ioctl: arg1 == TCGETS\nioctl: arg1 == FIONREAD; return ENOTTY\n", __NR_ioctl, TCGETS,
	     1, R_ALLOW},
	    {"ioctl: arg1 == TCGETS\nioctl: arg1 == FIONREAD; return ENOTTY\n", __NR_ioctl, TCSETS,
	     1, R_ERR(ENOTTY)},
	    {"socket: return EACCES\nsocket: arg0 == AF_UNIX\n", __NR_socket, AF_UNIX, 0, R_ALLOW},
	    {"socket: return EACCES\nsocket: arg0 == AF_UNIX\n", __NR_socket, AF_INET, 0,
	     R_ERR(EACCES)},
	    /* `expr; return N`: allowed when expr holds (minijail's C parser), else N. */
	    {"read: arg0 == 1; return EIO\n", __NR_read, 1, 0, R_ALLOW},
	    {"read: arg0 == 1; return EIO\n", __NR_read, 2, 0, R_ERR(EIO)},
	    /* A bare `; return` and `return`: the default action. */
	    {"read: arg0 == 1; return\n", __NR_read, 2, 0, R_KILL},
	    {"read: return\n", __NR_read, 1, 0, R_KILL},
	    {"@default return EPERM\nread: arg0 == 1; return\n", __NR_read, 2, 0, R_ERR(EPERM)},
	    {"read: arg0 == 1; return\n@default return EPERM\n", __NR_read, 2, 0, R_ERR(EPERM)},
	    /* Never true: only the fallback remains. */
	    {"read: arg0 & 0; return EIO\n", __NR_read, 0, 0, R_ERR(EIO)},
	    /* Continuations join lines. */
	    {"read: arg0 == 1 || \\\n      arg0 == 2\n", __NR_read, 2, 0, R_ALLOW},
	    /* Syscalls newer than libseccomp 2.5.4, by the kernel's table. */
	    {"mseal: 1\n", 462, 0, 0, R_ALLOW},
	    {"listmount: arg3 == 0\n", 458, 0, 3, R_ALLOW},
	    {"listmount: arg3 == 0\n", 458, 1, 3, R_KILL},
	    /* pid -1 as glibc passes an int: both spellings match (low 32 bits). */
	    {"wait4: arg0 == -1\n", __NR_wait4, 0xffffffffULL, 0, R_ALLOW},
	    {"wait4: arg0 == -1\n", __NR_wait4, (uint64_t)-1, 0, R_ALLOW},
	    {"openat: arg0 == AT_FDCWD\n", __NR_openat, 0xffffff9cULL, 0, R_ALLOW},
	    {"openat: arg0 == AT_FDCWD\n", __NR_openat, 0x9c, 0, R_KILL},
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_policy *p = NULL;
		struct bx_bpf bpf = {0};
		uint64_t args[6] = {0};
		bx_error err;
		uint32_t got;

		bx_error_clear(&err);
		if (bx_policy_parse("t", cases[i].text, strlen(cases[i].text), NULL, &p, &err) <
		    0) {
			print_error("case %zu refused: %s\n", i, err.text);
			bad++;
			continue;
		}
		compile(p, &bpf);
		args[cases[i].idx] = cases[i].arg;
		got = sim(&bpf, X86_64, cases[i].nr, args);
		if (got != cases[i].want) {
			print_error("case %zu (%s): got %#x, want %#x\n", i, cases[i].text, got,
				    cases[i].want);
			bad++;
		}
		bx_bpf_free(&bpf);
		bx_policy_free(p);
	}
	assert_int_equal(bad, 0);
}

/* The realistic fixtures: each loads and compiles (as a worker's and as exec's), quickly. */
static void test_realistic_policies(void **state)
{
	static const struct {
		const char *file;
		size_t warnings;
	} files[] = {
	    {"audio-server.policy", 2},	      {"bluetooth.policy", 2},
	    {"camera-hal.policy", 2},	      {"codec-service.policy", 2},
	    {"coredump-collector.policy", 3}, {"dns-proxy.policy", 0},
	    {"fuse-daemon.policy", 3},	      {"gpu-process.policy", 2},
	    {"image-loader.policy", 2},	      {"input-daemon.policy", 0},
	    {"legacy-minijail.policy", 0},    {"long-ioctl-list.policy", 0},
	    {"metrics-daemon.policy", 0},     {"network-manager.policy", 0},
	    {"power-daemon.policy", 0},	      {"print-filter.policy", 0},
	    {"renderer.policy", 1},	      {"sensor-hub.policy", 0},
	    {"storage-daemon.policy", 1},     {"terminal.policy", 1},
	    {"tracing-agent.policy", 2},      {"true.policy", 0},
	    {"usb-guard.policy", 0},	      {"vm-device.policy", 2},
	};
	static const struct bx_seccomp_extra worker = {.exec_fd = -1, .runtime = BX_RUNTIME_WORKER};
	static const struct bx_seccomp_extra exec = {
	    .exec_fd = 9, .runtime = BX_RUNTIME_EXEC, .note_fd = 4};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[512];
		struct bx_policy *p;
		struct bx_bpf a = {0}, b = {0};
		struct timespec t0, t1;
		bx_error err;

		snprintf(path, sizeof(path), "%s/minijail/%s", BX_TEST_DATA_DIR, files[i].file);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		p = load(path);
		if (bx_seccomp_compile(p, &worker, &a, &err) < 0 ||
		    bx_seccomp_compile(p, &exec, &b, &err) < 0)
			fail_msg("%s: %s", files[i].file, err.text);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (p->nwarnings != files[i].warnings)
			fail_msg("%s: %zu warnings, want %zu (first: %s)", files[i].file,
				 p->nwarnings, files[i].warnings,
				 p->nwarnings ? p->warnings[0] : "");
		print_message("%-26s %3zu rules, %zu filters, %4zu + %4zu instructions, %.1f ms\n",
			      files[i].file, p->nrules, a.nprogs, bx_bpf_total_len(&a),
			      bx_bpf_total_len(&b),
			      (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		bx_bpf_free(&a);
		bx_bpf_free(&b);
		bx_policy_free(p);
	}
}

/* What beambox grants each process is written down in SECURITY.md, call by call. */
static void test_runtime_documented(void **state)
{
	static const enum bx_runtime rts[] = {BX_RUNTIME_WORKER, BX_RUNTIME_EXEC, BX_RUNTIME_INIT};
	char *doc = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(
	    bx_policy_read_file(NULL, BX_TEST_DATA_DIR "/../../SECURITY.md", &doc, &len, NULL), 0);
	for (size_t r = 0; r < sizeof(rts) / sizeof(rts[0]); r++) {
		const char *texts[2] = {bx_runtime_text(rts[r]), bx_runtime_by_number(rts[r])};

		assert_non_null(bx_runtime_rules(rts[r]));
		for (size_t t = 0; t < 2; t++) {
			for (const char *line = texts[t]; *line;) {
				size_t n = strcspn(line, "\n");
				char name[64], probe[80];

				if (line[0] != '#' && sscanf(line, "%63[a-z0-9_]:", name) == 1) {
					snprintf(probe, sizeof(probe), "`%s", name);
					if (!strstr(doc, probe))
						fail_msg(
						    "SECURITY.md does not list the runtime's %s",
						    name);
				}
				line += n + (line[n] == '\n');
			}
		}
	}
	assert_null(bx_runtime_rules(BX_RUNTIME_NONE));
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_policies_parse),
	    cmocka_unit_test(test_default_is_the_old_default),
	    cmocka_unit_test(test_embedded_matches_files),
	    cmocka_unit_test(test_groups_resolve),
	    cmocka_unit_test(test_invalid_fixtures),
	    cmocka_unit_test(test_every_fixture_listed),
	    cmocka_unit_test(test_sim_table),
	    cmocka_unit_test(test_random_expressions),
	    cmocka_unit_test(test_bind_options),
	    cmocka_unit_test(test_print_round_trip),
	    cmocka_unit_test(test_cli),
	    cmocka_unit_test(test_complement_exact),
	    cmocka_unit_test(test_inline_snippets),
	    cmocka_unit_test(test_libseccomp_merge_regression),
	    cmocka_unit_test(test_deny_warnings),
	    cmocka_unit_test(test_every_error),
	    cmocka_unit_test(test_deep_path),
	    cmocka_unit_test(test_syscalls_only_inherits_default),
	    cmocka_unit_test(test_minijail_semantics),
	    cmocka_unit_test(test_realistic_policies),
	    cmocka_unit_test(test_runtime_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
