/* SPDX-License-Identifier: MIT */
/*
 * exec options (bx_exec_run, `beambox exec --bind/--chdir/--setenv/...`): a
 * layer over exec.c's confined execution. exec.c calls the hooks below at
 * four places, each marked "hook (exec_opts.c)" there; everything else lives
 * in exec_opts.c:
 *   1. where the environment is built:   envp = bx_exec_ext_env(x, envp);
 *   2. the confinement options:          .keep_fds[1] = status fd, .chdir = x->chdir
 *   3. right after bx_confine_self:      bx_exec_ext_confined(x, &rep);
 *   4. in the pid-1 init, program reaped: bx_exec_ext_exited(x, status);
 * Every hook accepts x == NULL (plain bx_exec_confined, policy learn).
 */
#ifndef BX_EXEC_OPTS_H
#define BX_EXEC_OPTS_H

#include <stdbool.h>

#include <beambox/exec.h>

#include "confine/confine.h"
#include "policy/policy.h"

/* What the supervised child passes down to exec.c. */
struct bx_exec_ext {
	const char *chdir;	/* working directory inside the view, or NULL */
	const bx_exec_env *env; /* environment changes, in order */
	size_t nenv;
	int status_fd; /* write end of the pipe to the supervisor (close-on-exec), or -1 */
	bool verbose;  /* write the steps to fd 2 before the program runs */
};

/*
 * Hook 1: applies x's environment changes to envp (NULL-terminated, every
 * string and the array malloc'ed), which it takes over; returns the new
 * array, or NULL (everything freed) when out of memory. NULL x: envp as is.
 */
char **bx_exec_ext_env(const struct bx_exec_ext *x, char **envp);

/* Hook 3: confinement is complete: tell the supervisor, print the steps if asked. */
void bx_exec_ext_confined(const struct bx_exec_ext *x, const struct bx_confine_report *rep);

/* Hook 4: the pid-1 init reaped the program with wait status wstatus. */
void bx_exec_ext_exited(const struct bx_exec_ext *x, int wstatus);

/*
 * exec.c's confined execution with the hooks' options (x may be NULL):
 * bx_exec_confined_learning with x.
 */
int bx_exec_confined_ext(const struct bx_policy *policy, const char *prog, char *const argv[],
			 int learn_sock, const struct bx_exec_ext *x, bx_error *err);

/*
 * Loads a policy by NAME (a shipped policy: policies/NAME.policy, embedded in
 * the library) or FILE (has a '/' or ends in ".policy"). NULL or "" name:
 * the built-in default.
 */
int bx_exec_policy_load(const char *name_or_file, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));


#endif
