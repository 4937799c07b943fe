/* SPDX-License-Identifier: MIT */
/*
 * exec: run a program confined exactly as a worker is confined (what
 * `beambox exec` does).
 */
#ifndef BEAMBOX_EXEC_H
#define BEAMBOX_EXEC_H

#include <stdio.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bx_policy;

/* Exit statuses of a confined execution, as `beambox exec` returns them. */
#define BX_EXEC_SETUP_FAILED 125 /* confinement could not be set up */
#define BX_EXEC_CANNOT_RUN   126 /* the program was found but could not be executed */
#define BX_EXEC_NOT_FOUND    127 /* the program was not found */

/*
 * Runs prog confined, as `beambox exec` does, and waits for it. prog is
 * opened first (searched in $PATH when it has no '/'), before the sandbox's
 * filesystem view exists. This process stays outside: it starts the
 * sandbox's first process in new user and pid namespaces (writing its
 * uid/gid maps: a root caller's sandbox runs as the policy's uid, or a
 * dynamic one, and root owns its namespace), which confines itself with
 * policy (NULL: the built-in default) and runs the program as pid 2 under a
 * tiny init, from an fd placed at the policy's rlimit.nofile (so that the
 * program can never open another file at that number; a script's
 * interpreter can open /dev/fd/N). stdio is passed through, every other fd
 * closed, the environment is only the policy's env names.
 * Returns the program's exit status, 128+N if a signal N killed it (SIGSYS,
 * 159, when the filter did), or -errno with err saying which step failed
 * (bx_exec_status_for turns that into 125, 126 or 127). Call it from a
 * single-threaded process (the sandbox's first process goes on with this
 * process's code; it refuses otherwise).
 */
BX_API int bx_exec_run(const struct bx_policy *policy, const char *prog, char *const argv[],
		       bx_error *err);

/*
 * bx_exec_run, then exit(3) with the program's status: returns only on
 * failure (-errno, with err; the caller should exit with
 * bx_exec_status_for(ret) after printing it).
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

/* The exit status for a bx_exec_confined failure: 127 not found, 126 cannot run, 125 otherwise. */
BX_API int bx_exec_status_for(int ret, const bx_error *err);

#ifdef __cplusplus
}
#endif

#endif
