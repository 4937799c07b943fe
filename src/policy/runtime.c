/* SPDX-License-Identifier: MIT */
/*
 * The runtime's own calls: what beambox's code does after the filter is
 * loaded, which every policy gets without naming them (contract 1 of the
 * session plan: a policy names its service's calls only). They are written
 * as policy text, parsed once, and added to the policy's rules at compile
 * time (compile.c), chosen by struct bx_seccomp_extra's runtime field: each
 * process gets its own set (a worker's serving process, a serving process
 * that executes a program, pid 1), never another's. Each is restricted by
 * its arguments where the runtime's use allows it.
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
 * Sanitizer builds only (ASan, UBSan, TSan): their runtimes, compiled into
 * beambox's own code there, make calls of their own: around fork, wait and
 * exit (alternate signal stacks, shadow memory), and in a worker when they
 * report (a thread id, a signal to itself, a write of the report, their
 * internal locks). Never in a release build: a program built with a
 * sanitizer then needs nothing in its policy for beambox's sake.
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
	"# Sanitizer builds only: their runtimes around fork, wait and exit.\n"                    \
	"sigaltstack: 1\n"                                                                         \
	"mmap: arg2 in ~PROT_EXEC\n"                                                               \
	"munmap: 1\n"                                                                              \
	"madvise: 1\n"
#define SANITIZER_WORKER_TEXT                                                                      \
	SANITIZER_TEXT                                                                             \
	"# ... and when they report, in a worker (formerly examples/parsers.c's own list).\n"      \
	"prctl: 1\n"                                                                               \
	"writev: 1\n"                                                                              \
	"mprotect: arg2 in ~PROT_EXEC\n"                                                           \
	"gettid: 1\n"                                                                              \
	"tgkill: 1\n"                                                                              \
	"rt_sigaction: 1\n"                                                                        \
	"rt_sigprocmask: 1\n"                                                                      \
	"sched_yield: 1\n"                                                                         \
	"futex: 1\n"
#else
#define SANITIZER_TEXT	      ""
#define SANITIZER_WORKER_TEXT ""
#endif

/*
 * A worker's serving process (pid 2 under its init, or the only process
 * without a pid namespace) once its filter is loaded: src/spawn.c
 * worker_main, the receive loop of src/remote.c, src/beam.c.
 */
static const char worker_text[] =
    "# Beam frames on the main socket (fd 3) and on each job's channel (src/beam.c):\n"
    "# every send uses these flags; a receive may peek first (the fd rule, beam.c).\n"
    "sendmsg: arg2 == MSG_NOSIGNAL || arg2 == MSG_NOSIGNAL|MSG_DONTWAIT\n"
    "recvmsg: arg2 == MSG_CMSG_CLOEXEC || arg2 == MSG_CMSG_CLOEXEC|MSG_PEEK || \\\n"
    "         arg2 == MSG_CMSG_CLOEXEC|MSG_DONTWAIT\n"
    "# Waiting for a socket to be ready; a frame that does not fit the socket waits in\n"
    "# beam's queue, and an eventfd (read and written 8 bytes at a time) wakes its\n"
    "# sender (bx_beam_send, bx_beam_shutdown_write).\n"
    "poll: arg1 == 1 || arg1 == 2\n"
    "eventfd2: arg1 == EFD_CLOEXEC|EFD_NONBLOCK\n"
    "read: arg2 == 8\n"
    "# bx_beam_new checks that a job's channel is a unix stream socket.\n"
    "getsockopt: arg1 == SOL_SOCKET && arg2 == SO_DOMAIN || arg1 == SOL_SOCKET && arg2 == SO_TYPE\n"
    "# bx_beam_send keeps its own copy of an fd it sends, above 0-2; a refused request's\n"
    "# channel is drained without blocking (src/remote.c drain_channel).\n"
    "fcntl: arg1 == F_DUPFD_CLOEXEC || arg1 == F_GETFL || \\\n"
    "       arg1 == F_SETFL && arg2 == O_RDWR || arg1 == F_SETFL && arg2 == O_RDWR|O_NONBLOCK\n"
    "# The original protocol's log pipes (src/remote.c send_log_pipes).\n"
    "pipe2: arg1 == O_CLOEXEC\n"
    "close: 1\n"
    "# beambox/2 (src/remote.c serve2_null): a stream the caller left unset reads and\n"
    "# writes the worker's own stdin/stdout when they are /dev/null (bx_spawn puts them\n"
    "# there): fstat of an fd it holds (glibc's fstat is newfstatat with AT_EMPTY_PATH).\n"
    "fstat: 1\n"
    "newfstatat: arg3 == AT_EMPTY_PATH\n"
    "# The receive loop asks whether it is pid 1 (src/remote.c).\n"
    "getpid: 1\n"
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
    "# A fatal message on stderr (/dev/null unless the parent passed its own), and\n"
    "# the eventfd's counter (above).\n"
    "write: arg0 == 2 || arg2 == 8\n" SANITIZER_WORKER_TEXT;

/*
 * A serving process that executes a program (`beambox exec`, src/exec.c; a
 * foreign worker, src/spawn.c): between its filter and the program, only
 * the execveat of the program's fd and the report of its failure on the
 * notes fd (both added by number, compile.c), then exit. The program keeps
 * this filter: it gets these calls too, and nothing of init's.
 */
static const char exec_text[] = "exit_group: 1\n" SANITIZER_TEXT;

/*
 * pid 1 (src/spawn/init.c) once the serving process is forked: it reaps
 * every child (waitpid(-1, &status, 0)) and writes notes (the notes fd) and,
 * for a program, first reads whether the exec went through (the exec pipe);
 * both fds are added by number (compile.c). Nothing else: no policy, no
 * fork, no open, default kill.
 */
static const char init_text[] = "wait4: arg0 == -1 && arg2 == 0\n"
				"exit_group: 1\n" SANITIZER_TEXT;

enum { R_WORKER, R_EXEC, R_INIT, R_COUNT };

static const char *const texts[R_COUNT] = {worker_text, exec_text, init_text};
static const char *const names[R_COUNT] = {"runtime(worker)", "runtime(exec)", "runtime(init)"};
static const char *const by_number[R_COUNT] = {
    "",
    "execveat: arg0 == <the program's fd> && arg4 & AT_EMPTY_PATH\n"
    "write: arg0 == <the notes fd>\n",
    "write: arg0 == <the notes fd>\n"
    "read: arg0 == <the exec pipe> (a program's init only)\n",
};
static struct bx_policy *parsed[R_COUNT];
/*
 * Each set is parsed on its first use in a process, alone: a parse costs
 * ~270 us here (a policy is a large struct), and a worker's init needs
 * only its own set, once per spawn when nothing before it parsed it (a
 * zygote parses init's before it forks: spawn/zygote.c).
 */
static pthread_once_t once[R_COUNT] = {PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

static void parse_one(int i)
{
	struct bx_policy *p = NULL;

	if (bx_policy_parse_core(names[i], texts[i], strlen(texts[i]), NULL, &p, NULL, NULL) == 0)
		parsed[i] = p;
}

static void parse_worker(void)
{
	parse_one(R_WORKER);
}

static void parse_exec(void)
{
	parse_one(R_EXEC);
}

static void parse_init(void)
{
	parse_one(R_INIT);
}

static void (*const parsers[R_COUNT])(void) = {parse_worker, parse_exec, parse_init};

static int index_of(enum bx_runtime rt)
{
	switch (rt) {
	case BX_RUNTIME_WORKER:
		return R_WORKER;
	case BX_RUNTIME_EXEC:
		return R_EXEC;
	case BX_RUNTIME_INIT:
		return R_INIT;
	default:
		return -1;
	}
}

const struct bx_policy *bx_runtime_rules(enum bx_runtime rt)
{
	int i = index_of(rt);

	if (i < 0)
		return NULL;
	pthread_once(&once[i], parsers[i]);
	return parsed[i];
}

const char *bx_runtime_text(enum bx_runtime rt)
{
	int i = index_of(rt);

	return i < 0 ? NULL : texts[i];
}

const char *bx_runtime_by_number(enum bx_runtime rt)
{
	int i = index_of(rt);

	return i < 0 ? NULL : by_number[i];
}
