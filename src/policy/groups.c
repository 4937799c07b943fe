/* SPDX-License-Identifier: MIT */
/*
 * Named syscall groups, in the spirit of systemd's SystemCallFilter= sets.
 * This table is the only definition of each group; `beambox policy groups`
 * lists it. A member is a line of the [syscalls] syntax; a bare name allows
 * the syscall. Keep members valid on x86_64 (tests check every one resolves).
 */
#include <string.h>

#include "policy/policy_internal.h"

#define G(...)                                                                                     \
	(const char *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

/*
 * prctl: naming threads and memory, and queries. Not PR_SET_PDEATHSIG (a
 * handler clearing it outlived its kill, issue #11), not PR_SET_DUMPABLE
 * (would open /proc/PID and ptrace to the worker's uid), nor the others.
 */
static const char prctl_harmless[] =
    "prctl: arg0 == PR_SET_NAME || arg0 == PR_GET_NAME || arg0 == PR_SET_VMA || "
    "arg0 == PR_GET_DUMPABLE || arg0 == PR_GET_NO_NEW_PRIVS || arg0 == PR_GET_SECCOMP || "
    "arg0 == PR_GET_KEEPCAPS || arg0 == PR_GET_PDEATHSIG || arg0 == PR_CAPBSET_READ || "
    "arg0 == PR_GET_TIMERSLACK || arg0 == PR_SET_TIMERSLACK || arg0 == PR_GET_SECUREBITS";

static const struct bx_sc_group groups[] = {
    {"@basic-io", "read, write, seek, close and copy on descriptors already open",
     G("read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
       "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "pipe",
       "pipe2", "sendfile", "copy_file_range", "splice")},
    {"@io-event", "waiting for descriptors: poll, select, epoll, eventfd",
     G("poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
       "epoll_pwait", "eventfd2")},
    {"@network-io", "messages on sockets already open (no new socket, no connect)",
     G("sendmsg", "recvmsg", "sendto", "recvfrom", "shutdown", "getsockopt")},
    {"@network-unix", "new AF_UNIX sockets and their setup (no other address family)",
     G("socket: arg0 == AF_UNIX", "socketpair: arg0 == AF_UNIX", "bind", "connect", "listen",
       "accept", "accept4", "getsockname", "getpeername", "setsockopt")},
    {"@file-read", "opening, reading and inspecting files and directories",
     G("open", "openat", "stat", "fstat", "lstat", "newfstatat", "statx", "access", "faccessat",
       "faccessat2", "readlink", "readlinkat", "getdents64", "getcwd", "chdir", "fchdir", "fstatfs",
       "statfs", "fadvise64")},
    {"@file-write", "creating, renaming, removing and changing files",
     G("mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir",
       "ftruncate", "truncate", "fsync", "fdatasync", "umask", "fchmod", "utimensat")},
    {"@memory", "mapping and releasing memory",
     G("mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "memfd_create")},
    {"@process",
     "threads and child processes, futexes, scheduling and limits queries, harmless prctl "
     "options",
     G("clone", "fork", "vfork", "wait4", "waitid", "exit", "exit_group", "futex",
       "set_robust_list", "get_robust_list", "rseq", "set_tid_address", "arch_prctl", "sched_yield",
       "sched_getaffinity", "getrusage", "times", "prlimit64", "getrlimit", prctl_harmless)},
    {"@exec", "running another program", G("execve", "execveat")},
    {"@signal", "signal handlers, masks and sending signals",
     G("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigtimedwait",
       "rt_sigsuspend", "kill", "tgkill", "tkill", "restart_syscall", "pause")},
    {"@identity", "reading (never changing) the process's ids and the system's name",
     G("getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
       "getresgid", "getgroups", "getpgrp", "getsid", "uname")},
    {"@time", "reading clocks and sleeping",
     G("clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time")},
    {"@random", "the kernel's random generator", G("getrandom")},
    {"@libc-startup", "what the dynamic loader and glibc's start-up code call",
     G("brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "mmap", "mprotect",
       "munmap", "openat", "read", "pread64", "close", "fstat", "newfstatat", "access", "prlimit64",
       "getrandom", "rt_sigaction", "rt_sigprocmask", "exit_group")},
};

const struct bx_sc_group *bx_sc_group_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strlen(groups[i].name) == len && memcmp(groups[i].name, name, len) == 0)
			return &groups[i];
	}
	return NULL;
}

const struct bx_sc_group *bx_sc_groups(size_t *n)
{
	*n = sizeof(groups) / sizeof(groups[0]);
	return groups;
}
