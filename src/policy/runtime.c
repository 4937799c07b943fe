/* SPDX-License-Identifier: MIT */
/*
 * The runtime's own calls: what beambox's code does after the filter is
 * loaded, which every policy gets without naming them (contract 1 of the
 * session plan: a policy names its service's calls only). They are written
 * as policy text, parsed once, and added to the policy's rules at compile
 * time (compile.c), chosen by struct bx_seccomp_extra's runtime field. Each
 * is restricted by its arguments where the runtime's use allows it.
 * SECURITY.md ("What every worker is granted by beambox itself") repeats
 * this list; tests/test_policy.c checks that both agree.
 *
 * To extend: add a line below (and to SECURITY.md), with the reason and the
 * call site; tests/test_runtime.c runs real workers and `beambox exec` under
 * policies that name none of these.
 */
#define _GNU_SOURCE
#include "policy/filter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse_internal.h"

/*
 * Sanitizer builds only (ASan, TSan): their runtimes intercept fork, wait and
 * exit and make calls of their own there (as the pid-namespace monitor
 * allows, src/confine/ns.c). Never in a release build.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BX_RUNTIME_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BX_RUNTIME_SANITIZER 1
#endif
#ifdef BX_RUNTIME_SANITIZER
#define SANITIZER_TEXT                                                                             \
	"sigaltstack: 1\n"                                                                         \
	"mmap: arg2 in ~PROT_EXEC\n"                                                               \
	"munmap: 1\n"                                                                              \
	"madvise: 1\n"
#else
#define SANITIZER_TEXT ""
#endif

/* A worker process after bx_confine_self: src/spawn.c worker_main, src/remote.c, src/beam.c. */
static const char worker_text[] =
    "# Beam frames on the main socket (fd 3) and on each job's channel (src/beam.c):\n"
    "# every send and receive uses exactly these flags.\n"
    "sendmsg: arg2 == MSG_NOSIGNAL || arg2 == MSG_NOSIGNAL|MSG_DONTWAIT\n"
    "recvmsg: arg2 == MSG_CMSG_CLOEXEC || arg2 == MSG_CMSG_CLOEXEC|MSG_DONTWAIT\n"
    "# Waiting for one socket to be ready (bx_beam_send, bx_beam_recv).\n"
    "poll: arg1 == 1\n"
    "# bx_beam_new checks that a job's channel is a unix stream socket.\n"
    "getsockopt: arg1 == SOL_SOCKET && arg2 == SO_DOMAIN || arg1 == SOL_SOCKET && arg2 == SO_TYPE\n"
    "# bx_beam_send keeps its own copy of an fd it sends, above 0-2.\n"
    "fcntl: arg1 == F_DUPFD_CLOEXEC\n"
    "# The original protocol's log pipes (src/remote.c make_log_pipes).\n"
    "pipe2: arg1 == O_CLOEXEC\n"
    "close: 1\n"
    "# As pid 1 of its namespace the worker reaps orphans between jobs: waitpid(-1, NULL,\n"
    "# WNOHANG) (-1 is compared on the low 32 bits, as an int).\n"
    "getpid: 1\n"
    "wait4: arg0 == -1 && arg2 == WNOHANG\n"
    "# Leaving, and returning from a signal handler.\n"
    "exit_group: 1\n"
    "exit: 1\n"
    "rt_sigreturn: 1\n"
    "# malloc and free: the heap, and mappings that are never executable.\n"
    "brk: 1\n"
    "mmap: arg2 in ~PROT_EXEC\n"
    "munmap: 1\n"
    "mremap: arg3 == MREMAP_MAYMOVE\n"
    "madvise: arg2 == MADV_DONTNEED\n"
    "# A fatal message on stderr (/dev/null unless the parent passed its own).\n"
    "write: arg0 == 2\n";

/*
 * `beambox exec` (src/exec.c): with a pid namespace, pid 1 stays a small init
 * that forks the program (glibc's fork: clone with exactly these flags),
 * waits for it and exits as it did; the close of the program's fd and its
 * execveat are added by number (compile.c). The program inherits the filter,
 * so it can fork this way too (bounded by rlimit.nproc and cgroup.pids).
 */
static const char exec_init_text[] =
    "getpid: 1\n"
    "clone: arg0 == CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD\n"
    "set_robust_list: 1\n"
    "wait4: arg0 == -1 && arg2 == 0\n"
    "exit_group: 1\n"
    "rt_sigreturn: 1\n"
    "write: arg0 == 2\n" SANITIZER_TEXT;

/* Without a pid namespace there is no init: only the error path before execveat. */
static const char exec_text[] = "exit_group: 1\n"
				"write: arg0 == 2\n" SANITIZER_TEXT;

enum { R_WORKER, R_EXEC_INIT, R_EXEC, R_COUNT };

static const char *const texts[R_COUNT] = {worker_text, exec_init_text, exec_text};
static const char *const names[R_COUNT] = {"runtime(worker)", "runtime(exec, init)",
					   "runtime(exec)"};
static struct bx_policy *parsed[R_COUNT];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void parse_all(void)
{
	for (int i = 0; i < R_COUNT; i++) {
		struct bx_policy *p = NULL;

		if (bx_policy_parse_core(names[i], texts[i], strlen(texts[i]), NULL, &p, NULL,
					 NULL) == 0)
			parsed[i] = p;
	}
}

static int index_of(enum bx_runtime rt, bool with_init)
{
	switch (rt) {
	case BX_RUNTIME_WORKER:
		return R_WORKER;
	case BX_RUNTIME_EXEC:
		return with_init ? R_EXEC_INIT : R_EXEC;
	default:
		return -1;
	}
}

const struct bx_policy *bx_runtime_rules(enum bx_runtime rt, bool with_init)
{
	int i = index_of(rt, with_init);

	if (i < 0)
		return NULL;
	pthread_once(&once, parse_all);
	return parsed[i];
}

const char *bx_runtime_text(enum bx_runtime rt, bool with_init)
{
	int i = index_of(rt, with_init);

	return i < 0 ? NULL : texts[i];
}
