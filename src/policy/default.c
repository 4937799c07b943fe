/* SPDX-License-Identifier: MIT */
/*
 * The built-in strict default policy. Issue #5 replaces this C table by
 * policies/default.policy, embedded at build time; until then this is the
 * one source of truth for it.
 */
#define _GNU_SOURCE
#include "policy/policy.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BX_HAS_ASAN 1
#endif
#endif
#ifndef BX_HAS_ASAN
#define BX_HAS_ASAN 0
#endif

/* What a worker's serve loop and an ordinary C handler (or a dynamically linked program) need. */
static const char *const default_syscalls[] = {
	/* basic io */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
	"pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl",
	"pipe", "pipe2", "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "eventfd2", "sendmsg", "recvmsg", "sendto", "recvfrom",
	"shutdown", "getsockopt", "sendfile", "copy_file_range", "splice",
	/* file read (the view and landlock decide what exists) */
	"open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents64", "getcwd", "chdir", "fchdir",
	"fstatfs", "statfs", "fadvise64",
	/* file write (only where the policy binds rw, and /tmp) */
	"mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir",
	"ftruncate", "truncate", "fsync", "fdatasync", "umask", "fchmod", "utimensat",
	/* memory */
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "memfd_create",
	/* threads, processes (clone's namespace flags are refused by the deny list) */
	"clone", "fork", "vfork", "wait4", "waitid", "exit", "exit_group", "futex",
	"set_robust_list", "get_robust_list", "rseq", "set_tid_address", "arch_prctl",
	"sched_yield", "sched_getaffinity", "getrusage", "times", "prlimit64", "getrlimit",
	/* signals (the pid namespace and landlock scope them) */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigtimedwait",
	"rt_sigsuspend", "kill", "tgkill", "tkill", "restart_syscall", "pause",
	/* identity and time */
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "getpgrp", "getsid", "uname", "getrandom", "clock_gettime",
	"clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
};

int bx_policy_allow(struct bx_policy *p, const char *name)
{
	struct bx_sc_rule *r;

	if (p->nrules >= BX_POLICY_RULES_MAX)
		return -E2BIG;
	if (strlen(name) >= sizeof(p->rules[0].name))
		return -ENAMETOOLONG;
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	strcpy(r->name, name);
	r->action = SCMP_ACT_ALLOW;
	return 0;
}

static int add_bind(struct bx_policy *p, const char *path, bool optional)
{
	struct bx_bind *b = &p->binds[p->nbinds];

	if (p->nbinds >= BX_POLICY_BINDS_MAX)
		return -E2BIG;
	b->src = strdup(path);
	b->dst = strdup(path);
	b->optional = optional;
	b->rw = false;
	if (!b->src || !b->dst)
		return -ENOMEM;
	p->nbinds++;
	return 0;
}

int bx_policy_default(struct bx_policy **out)
{
	static const char *const binds[] = {"/usr", "/lib", "/lib64", "/bin", "/sbin"};
	struct bx_policy *p = calloc(1, sizeof(*p));
	int r = 0;

	if (!p)
		return -ENOMEM;
	strcpy(p->name, "default");
	p->namespaces = BX_NS_ALL;
	/* Kernels without time namespaces (before 5.6) still get the rest. */
	p->namespaces_optional = BX_NS_TIME;
	p->uid = 65534;
	p->gid = 65534;
	strcpy(p->hostname, "beambox");
	for (size_t i = 0; r == 0 && i < sizeof(binds) / sizeof(binds[0]); i++)
		r = add_bind(p, binds[i], true);
	p->tmp_size = 16u << 20;
#if !defined(__SANITIZE_ADDRESS__) && !BX_HAS_ASAN
	/* ASan reserves terabytes of shadow: an address-space limit would break sanitizer builds. */
	p->rlimits[RLIMIT_AS].set = true;
	p->rlimits[RLIMIT_AS].value = 1ull << 30;
#endif
	p->rlimits[RLIMIT_NOFILE].set = true;
	p->rlimits[RLIMIT_NOFILE].value = 256;
	p->rlimits[RLIMIT_NPROC].set = true;
	p->rlimits[RLIMIT_NPROC].value = 64;
	p->rlimits[RLIMIT_FSIZE].set = true;
	p->rlimits[RLIMIT_FSIZE].value = 64u << 20;
	p->cgroup = BX_NEED_OPTIONAL;
	p->cgroup_memory_max = 512u << 20;
	p->cgroup_pids_max = 64;
	p->landlock = BX_NEED_OPTIONAL;
	p->env_keep[p->nenv_keep] = strdup("PATH");
	if (!p->env_keep[p->nenv_keep++])
		r = -ENOMEM;
	p->default_action = SCMP_ACT_KILL_PROCESS;
	for (size_t i = 0; r == 0 && i < sizeof(default_syscalls) / sizeof(default_syscalls[0]); i++)
		r = bx_policy_allow(p, default_syscalls[i]);
	if (r < 0) {
		bx_policy_free(p);
		return r;
	}
	*out = p;
	return 0;
}

void bx_policy_free(struct bx_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nbinds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].dst);
	}
	for (size_t i = 0; i < p->nenv_keep; i++)
		free(p->env_keep[i]);
	for (size_t i = 0; i < p->noverride_deny; i++)
		free(p->override_deny[i]);
	free(p);
}
