/* SPDX-License-Identifier: MIT */
/*
 * exec: run a program confined exactly as a worker is confined (what
 * `beambox exec` does).
 */
#ifndef BEAMBOX_EXEC_H
#define BEAMBOX_EXEC_H

#include <stdio.h>
#include <sys/types.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bx_policy;

/* Exit statuses of a confined execution, as `beambox exec` returns them. */
#define BX_EXEC_SETUP_FAILED 125 /* confinement could not be set up */
#define BX_EXEC_CANNOT_RUN   126 /* the program was found but could not be executed */
#define BX_EXEC_NOT_FOUND    127 /* the program was not found */
#define BX_EXEC_TIMED_OUT    124 /* bx_exec_opts.timeout_ms ran out: everything was killed */

/*
 * Runs prog confined with policy (NULL: the built-in default) exactly as
 * bx_exec_run does with no options, then exit(3)s with the program's status
 * (128+N if a signal N killed it). Returns only on failure: -errno, with err
 * saying which step failed; the caller should exit with
 * bx_exec_status_for(ret) after printing it.
 */
BX_API int bx_exec_confined(const struct bx_policy *policy, const char *prog, char *const argv[],
			    bx_error *err);

/*
 * Learning a policy: runs prog confined by base's settings (namespaces,
 * view, limits, landlock), but under a filter that lets every syscall
 * through (the deny list's excepted) and reports it to this process through
 * a seccomp user-notification listener. When the program is done, writes to
 * out a policy in the policy-file syntax: base's settings and exactly the
 * syscalls seen, grouped and commented. A learned policy is a starting point
 * to review, not a verdict: it knows only the paths this run took.
 * *status receives the program's exit status as beambox exec reports it.
 * Returns 0, or -errno with err saying what failed.
 */
BX_API int bx_exec_learn(const struct bx_policy *base, const char *prog, char *const argv[],
			 FILE *out, int *status, bx_error *err);

/*
 * Learning a service's workers (`beambox policy learn --worker`): runs prog,
 * an application of this library, UNconfined, with an environment that
 * puts its bx_spawn_init in learning mode (a socket to this process): each
 * worker it starts is confined by the policy the application gave it, but
 * its serving process reports every syscall to this process, which lets it
 * continue. When the program has ended (and its workers, within 10 s),
 * writes to out a policy: the first worker's settings and the union of the
 * syscalls all workers made (beambox's own runtime calls excepted). For
 * development only: SECURITY.md. *status receives the program's exit status
 * as beambox exec reports it. Returns 0, or -errno with err (-ECHILD: no
 * worker learned).
 */
BX_API int bx_exec_learn_workers(const char *prog, char *const argv[], FILE *out, int *status,
				 bx_error *err);

/* The exit status for a bx_exec_confined failure: 127 not found, 126 cannot run, 125 otherwise. */
BX_API int bx_exec_status_for(int ret, const bx_error *err);

/* ---------------------------------------------------------------- bx_exec_run */

/* A bind on top of the policy's (`--bind`, `--ro-bind`, `--bind-try`, `--ro-bind-try`). */
typedef struct bx_exec_bind {
	const char *src; /* host path; a relative one is taken from the current directory */
	const char *dst; /* absolute path inside the view, not "/" */
	int rw;		 /* 0: read-only */
	int optional;	 /* a missing src is skipped (reported) instead of refused */
} bx_exec_bind;

/* A change to the program's environment, applied in order after the policy's env-keep. */
typedef struct bx_exec_env {
	const char *name;  /* no '=' */
	const char *value; /* NULL: remove name */
} bx_exec_env;

#define BX_EXEC_STEPS_MAX 16

/* One confinement step as it ran in the confined process. */
typedef struct bx_exec_step {
	char name[16];	  /* "fds", "identity", "cgroup", "namespaces", "fs", "rlimits", ... */
	char result[384]; /* what the step reported, lines joined with "; " */
	unsigned long long usec;
} bx_exec_step;

/* How a confined execution went (bx_exec_run fills it in, also on failure). */
typedef struct bx_exec_result {
	/*
	 * The confined process as the caller sees it: the program itself, or,
	 * with a pid namespace, the namespace's init that runs it as pid 2.
	 * 0 if confinement did not get that far.
	 */
	pid_t pid;
	char policy[64];      /* the policy's name */
	char namespaces[128]; /* the namespaces in effect, space-separated */
	unsigned nsteps;
	bx_exec_step steps[BX_EXEC_STEPS_MAX];
	int status;    /* what `beambox exec` exits with (see BX_EXEC_* and 128+N) */
	int exit_code; /* the program's exit code, or -1 */
	int signal;    /* the signal that ended it, or 0 */
	int timed_out; /* 1: timeout_ms ran out and everything was killed */
	unsigned long long duration_us; /* from start to the last process reaped */
	/*
	 * The system call that the filter refused when that stopped the program
	 * (with a pid namespace: its init read it; see SECURITY.md, "How a
	 * refused call is named"): its name ("socket"; "" when unknown: no pid
	 * namespace, an explicit kill rule, another ABI), number (-1 when
	 * unknown) and arguments, the call as the policy reads it
	 * ("socket(AF_INET, SOCK_STREAM, 0)") and the whole sentence with the
	 * rule that would allow it ("socket(AF_INET, SOCK_STREAM, 0) is not
	 * allowed by default.policy; to allow it add 'socket: arg0 == AF_INET'").
	 */
	char syscall[64];
	char error[BX_ERROR_TEXT_MAX]; /* why it could not run ("" when it ran) */
	int syscall_nr;
	unsigned long long syscall_args[6];
	char call[160];
	char violation[BX_ERROR_TEXT_MAX];
} bx_exec_result;

typedef struct bx_exec_opts {
	/* The policy; NULL: policy_name, and with neither, the built-in default. Borrowed. */
	const struct bx_policy *policy;
	/*
	 * A shipped policy's NAME ("tools", "untrusted", ...: the files under
	 * policies/, embedded in the library) or a FILE path (it has a '/' or
	 * ends in ".policy").
	 */
	const char *policy_name;
	/* Extra binds, after the policy's; at most the policy's bind capacity in all. */
	const bx_exec_bind *binds;
	size_t nbinds;
	/* Working directory inside the view (absolute); NULL: "/". */
	const char *chdir;
	/* Environment changes, applied in order to the policy's env-keep copy. */
	const bx_exec_env *env;
	size_t nenv;
	/*
	 * Wall-clock limit in milliseconds (0: none). When it runs out the
	 * program and everything it started are killed with SIGKILL (with a pid
	 * namespace: the whole namespace, through pid 1; without: the program's
	 * process group, which it leads) and the status is BX_EXEC_TIMED_OUT.
	 */
	unsigned timeout_ms;
	/*
	 * Non-zero: just before the program runs, the confined process writes
	 * one line per confinement step, with its duration, to its stderr (fd 2),
	 * in one write.
	 */
	int verbose;
	/* >= 0: when it is over, one JSON object (bx_exec_write_json) is written to this fd. */
	int json_status_fd;
	/*
	 * >= 0: JSON-lines audit records (beambox/audit.h) for this sandbox go
	 * to this fd: worker_spawned when it is confined (pid 1's pid, policy,
	 * each step's time, the report), violation when the filter stopped the
	 * program, worker_exited when it is over (spawn_failed instead when it
	 * could not be set up). -1 (default): the process-wide log, if any.
	 */
	int audit_fd;
	/*
	 * >= 0: an fd that becomes readable to stop the program early (e.g. a
	 * pipe a signal handler writes one byte, the signal number, to): the
	 * program and everything it started are killed as on a timeout, and the
	 * status is 128+that byte (or 128+SIGTERM when none was read).
	 */
	int cancel_fd;
} bx_exec_opts;

/* Fills opts with the defaults (no extras; fds -1). */
BX_API void bx_exec_opts_init(bx_exec_opts *opts);

/*
 * Runs prog confined, as `beambox exec` does, and waits for it. prog is
 * opened first (searched in $PATH when it has no '/'), before the sandbox's
 * filesystem view exists. This process stays outside, unconfined, as the
 * sandbox's map writer and supervisor: it starts the sandbox's first process
 * in new user and pid namespaces (writing its uid/gid maps: a root caller's
 * sandbox runs as the policy's uid, or a dynamic one, and root owns its
 * namespace), which confines itself with the policy and opts' extras and
 * runs the program as pid 2 under a tiny init, from an fd placed at the
 * policy's rlimit.nofile (so that the program can never open another file at
 * that number; a script's interpreter can open /dev/fd/N). stdio is passed
 * through, every other fd closed, the environment is the policy's env names
 * with opts' changes. This process enforces the timeout and cancel_fd
 * (killing pid 1 ends the whole namespace), and learns from the sandbox's
 * init how confinement went and the program's raw wait status.
 * Returns the status `beambox exec` exits with (0..255; res->status too:
 * the program's exit status, 128+N if a signal N killed it, SIGSYS = 159
 * when the filter did, BX_EXEC_TIMED_OUT), or -errno when the program could
 * not be run (then res->status is 125/126/127, as bx_exec_status_for says,
 * and err and res->error say why). res and err may be NULL. Call it from a
 * single-threaded process (the sandbox's first process goes on with a copy
 * of this process; it refuses otherwise).
 */
BX_API int bx_exec_run(const bx_exec_opts *opts, const char *prog, char *const argv[],
		       bx_exec_result *res, bx_error *err);

/*
 * Writes res as one JSON object and a newline to fd, in one write (json-c):
 * {"pid", "policy", "namespaces": [...], "steps": [{"name", "result",
 * "usec"}], "status", "exit_code", "signal", "signal_name", "timed_out",
 * "duration_us", "syscall", "syscall_nr", "syscall_args": [6], "call",
 * "violation", "error"}; "exit_code"/"signal"/"syscall"/"syscall_nr"/
 * "syscall_args"/"call"/"violation"/"error" are null when they do not apply.
 * Returns 0 or -errno.
 */
BX_API int bx_exec_write_json(int fd, const bx_exec_result *res);

#ifdef __cplusplus
}
#endif

#endif
