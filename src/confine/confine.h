/* SPDX-License-Identifier: MIT */
/*
 * confine: applies a policy to the calling process, step by step, in one
 * ordered function (bx_confine_self). Used by workers right after re-exec and
 * by `beambox exec` before it executes the program.
 */
#ifndef BX_CONFINE_H
#define BX_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/common.h>

#include "policy/policy.h"

#define BX_CONFINE_REPORT_MAX 1024

struct bx_confine_opts {
	/* fds that survive step 1 besides 0-2 (-1: unused). */
	int keep_fds[6];
	/*
	 * >= 0: the filter also allows execveat(exec_fd, "", ..., AT_EMPTY_PATH),
	 * landlock lets the program be read and executed, and RLIMIT_NOFILE is
	 * lowered to at most exec_fd, so that no other file can ever get this
	 * number (callers place the program there: see bx_exec_fd_number).
	 */
	int exec_fd;
	/* A pre-compiled filter (sealed memfd from the parent), or -1 to compile here. */
	int bpf_fd;
	/*
	 * BX_NS_USER and/or BX_NS_PID: the namespaces this process was born in
	 * (bx_child_start's clone); the namespaces step skips them. A pid
	 * namespace must come from there: this process is then its pid 1.
	 */
	uint32_t cloned_ns;
	/*
	 * Step 2 switches to uid/gid (and no supplementary groups): the parent
	 * was root, this process is still its host uid 0 (not mapped inside its
	 * root-owned user namespace). Without it the ids stay as they are.
	 */
	bool become;
	uid_t uid;
	gid_t gid;
	/*
	 * Learning (`beambox policy learn`): >= 0 is a unix socket to a
	 * supervisor. Step 8 then loads a filter that hands every syscall (but
	 * the deny list's) to the supervisor through a seccomp user-notification
	 * listener, sent over this socket, instead of the policy's rules.
	 */
	int learn_sock;
};

/* What was applied: one "step: detail" line each, for logs and bx_worker_report. */
struct bx_confine_report {
	uint32_t namespaces; /* enum bx_ns bits in effect */
	int landlock_abi;    /* 0: not applied */
	bool cgroup;	     /* a cgroup leaf with limits is in effect */
	pid_t host_pid;	     /* this process's pid in the parent's pid namespace */
	char text[BX_CONFINE_REPORT_MAX];
};

/*
 * The whole sequence; see SECURITY.md "Confinement order". Returns 0 when
 * every required step is in effect. It never forks: with a pid namespace
 * (created by the clone that started this process, opts->cloned_ns) the
 * caller, pid 1, forks the serving process afterwards (spawn/init.h).
 * On failure returns -errno with err naming the step and the call.
 */
int bx_confine_self(const struct bx_policy *p, const struct bx_confine_opts *opts,
		    struct bx_confine_report *report, bx_error *err)
    __attribute__((warn_unused_result));

/*
 * The fd number for the program of `beambox exec` (or a foreign worker): the
 * policy's rlimit.nofile (or this process's soft limit if it sets none),
 * kept below the hard limit so that it can be placed. The confinement then
 * makes the program unable to open or dup anything at that number.
 */
int bx_exec_fd_number(const struct bx_policy *p);

/*
 * Removes the cgroup leaf that step 4 made for the process pid (named after
 * it, under the cgroup this process is in), once that process and its
 * children have exited. Best effort: there is nothing to do if there is none.
 */
void bx_cgroup_leaf_remove(pid_t pid);

#endif
