/* SPDX-License-Identifier: MIT */
/*
 * exec options (bx_exec_run, `beambox exec --bind/--chdir/--setenv/...`): a
 * layer over exec.c's confined execution (bx_exec_supervised). exec.c calls
 * the hooks below at two places, each marked "hook (exec_opts.c)" there:
 *   1. where the environment is built:    envp = bx_exec_ext_env(x, envp);
 *   2. in pid 1, right after confinement: bx_exec_ext_confined(x, &rep);
 * exec.c's waiter fills the result with bx_exec_result_take_report. Every
 * hook accepts x == NULL (plain bx_exec_confined, policy learn).
 */
#ifndef BX_EXEC_OPTS_H
#define BX_EXEC_OPTS_H

#include <stdbool.h>

#include <beambox/exec.h>

#include "confine/confine.h"
#include "policy/policy.h"

/* What bx_exec_run passes down to exec.c. */
struct bx_exec_ext {
	const char *chdir;	/* working directory inside the view, or NULL */
	const bx_exec_env *env; /* environment changes, in order */
	size_t nenv;
	bool verbose;	     /* pid 1 writes the steps to fd 2 before the program runs */
	unsigned timeout_ms; /* 0: none; the waiter kills the sandbox when it runs out */
	int cancel_fd;	     /* -1: none; readable: the waiter kills the sandbox */
	int audit_fd;	     /* -1: the process-wide audit log (audit.h), if any */
};

/*
 * Hook 1: applies x's environment changes to envp (NULL-terminated, every
 * string and the array malloc'ed), which it takes over; returns the new
 * array, or NULL (everything freed) when out of memory. NULL x: envp as is.
 */
char **bx_exec_ext_env(const struct bx_exec_ext *x, char **envp);

/* Hook 2: confinement is complete (in pid 1): print the steps if asked. */
void bx_exec_ext_confined(const struct bx_exec_ext *x, const struct bx_confine_report *rep);

/*
 * In the waiter: fills res's pid, namespaces and steps from a report that
 * came from the sandbox (validated here: it crossed a process boundary).
 */
void bx_exec_result_take_report(bx_exec_result *res, struct bx_confine_report *rep);

/*
 * exec.c: runs prog confined (policy NULL: the built-in default) with x's
 * options (x may be NULL) and learn_sock (>= 0: learning, see confine.h;
 * taken over), waits for it and fills res (may be NULL). Returns the status
 * `beambox exec` exits with, or -errno with err (err->offset marks the stage
 * for bx_exec_status_for). Single-threaded callers only (the sandbox's
 * first process goes on with this process's code).
 */
int bx_exec_supervised(const struct bx_policy *policy, const char *prog, char *const argv[],
		       int learn_sock, const struct bx_exec_ext *x, bx_exec_result *res,
		       bx_error *err) __attribute__((warn_unused_result));

/*
 * Loads a policy by NAME (a shipped policy: policies/NAME.policy, embedded in
 * the library) or FILE (has a '/' or ends in ".policy"). NULL or "" name:
 * the built-in default.
 */
int bx_exec_policy_load(const char *name_or_file, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
