/* SPDX-License-Identifier: MIT */
/*
 * confine: applies a policy to the calling process, step by step, in one
 * ordered function (bx_confine_self). Used by workers right after re-exec and
 * by `beambox exec` before it executes the program.
 */
#ifndef BX_CONFINE_H
#define BX_CONFINE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/common.h>

#include "policy/filter.h"
#include "policy/policy.h"

struct bx_bpf; /* confine/seccomp.h */

#define BX_CONFINE_REPORT_MAX 2048

/*
 * Step 8 for a process that forks its serving process once confined (pid 1
 * of a pid namespace: spawn/init.h). Both filters are made before the fork;
 * after it each process loads exactly its own (bx_confine_load), so the
 * serving process never gets init's calls (reaping, the notes) nor init the
 * policy's. Both processes have every other step already, no_new_privs and
 * no capabilities included: the fork comes after step 7.
 */
struct bx_confine_filters {
	/* The serving process's: the policy's stack with its runtime and exec allowance. */
	struct bx_bpf serving;
	/* init's own: its runtime set, deny by default (bx_seccomp_compile_init). */
	struct bx_bpf init;
	/* Learning: serving's last filter gets a listener, sent over this socket; else -1. */
	int learn_sock;
	/*
	 * Violations (confine/notify.h): the serving process's filter notifies
	 * instead of killing by default, and its listener goes to init over this
	 * socketpair ([0] init's end, [1] the serving process's); {-1, -1}:
	 * none (then a notifying program is loaded as kill-process).
	 * violation_close: the serving process closes its listener and its end
	 * after the hand-over (a worker); a program's are close-on-exec.
	 */
	int violation_sock[2];
	bool violation_close;
};

/* Which process of the pair loads: the one that serves (pid 2) or init (pid 1). */
enum bx_confine_who { BX_CONFINE_SERVING = 1, BX_CONFINE_INIT };

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
	/*
	 * The notes pipe's write end (spawn/init.h); below 3: none. With
	 * exec_fd, the serving process's filter lets it write there (a failed
	 * execveat is reported on it); init's filter lets init write there.
	 */
	int note_fd;
	/* With split: the one fd init reads (the exec pipe, spawn/init.h); below 3: none. */
	int init_read_fd;
	/*
	 * Non-NULL: this process is pid 1 and forks its serving process once
	 * confined (spawn/init.h). Step 8 then makes both processes' filters in
	 * *split (free them with bx_confine_filters_free) instead of loading
	 * one, and each process loads its own right after the fork with
	 * bx_confine_load: still the last step of each.
	 */
	struct bx_confine_filters *split;
	/* A pre-compiled filter (sealed memfd from the parent), or -1 to compile here. */
	int bpf_fd;
	/* ... or already in memory (a zygote's child: imported once by the zygote), or NULL. */
	const struct bx_bpf *bpf;
	/*
	 * BX_NS_USER and/or BX_NS_PID: the namespaces this process was born in
	 * (bx_child_start's clone); the namespaces step skips them. A pid
	 * namespace must come from there: this process is then its pid 1.
	 */
	uint32_t cloned_ns;
	/*
	 * BX_NS_NET: this process was started in a network namespace a root
	 * application's zygote made for it (one made ahead for this worker
	 * alone, or its policy's shared one: `netns = shared`), which the
	 * namespaces step keeps instead of making one.
	 */
	uint32_t joined_ns;
	/*
	 * Step 2 switches to uid/gid (and no supplementary groups): the parent
	 * was root, this process is still its host uid 0 (not mapped inside its
	 * root-owned user namespace). Without it the ids stay as they are.
	 */
	bool become;
	uid_t uid;
	gid_t gid;
	/*
	 * >= 0: an fd whose other end the parent holds (a socket, or a pipe's
	 * write end): the parent's death closes that end. The credential change
	 * of `become` clears the parent-death signal; step 2 arms it again and
	 * then checks through this fd that the parent did not die in between.
	 */
	int parent_fd;
	/*
	 * Learning (`beambox policy learn`): >= 0 is a unix socket to a
	 * supervisor. Step 8 then loads a filter that hands every syscall (but
	 * the deny list's) to the supervisor through a seccomp user-notification
	 * listener, sent over this socket, instead of the policy's rules.
	 */
	int learn_sock;
	/*
	 * Working directory inside the view (`beambox exec --chdir`), entered
	 * right after step 3 builds it; NULL: "/". A missing directory fails.
	 */
	const char *chdir;
};

#define BX_CONFINE_STEPS_MAX 16

/* One step of the sequence as it ran: its name, what it reported, how long it took. */
struct bx_confine_step {
	char name[16]; /* "fds", "identity", "cgroup", "namespaces", "fs", ... */
	uint16_t off;  /* its lines in text[off, off + len) */
	uint16_t len;
	uint64_t usec; /* wall-clock duration (CLOCK_MONOTONIC) */
};

/* What was applied: one "step: detail" line each, for logs and bx_worker_report. */
struct bx_confine_report {
	uint32_t namespaces; /* enum bx_ns bits in effect */
	int landlock_abi;    /* 0: not applied */
	bool cgroup;	     /* a cgroup leaf with limits is in effect */
	pid_t host_pid;	     /* this process's pid in the parent's pid namespace (0 if pid 1) */
	char text[BX_CONFINE_REPORT_MAX];
	/* Each step that completed, in order (bx_report_step), and where the next one starts. */
	struct bx_confine_step steps[BX_CONFINE_STEPS_MAX];
	size_t nsteps;
	uint64_t mark_ns;
	size_t mark_off;
};

/*
 * Records the step that just completed: its name, the text lines it added
 * since the previous mark, and the time since then. The sequence calls it
 * after each step; the first mark is set when bx_confine_self starts.
 */
void bx_report_step(struct bx_confine_report *rep, const char *name);

/*
 * The whole sequence; see SECURITY.md "Confinement order". Returns 0 when
 * every required step is in effect (with opts->split, every step but the
 * loading of the filters, which each process does after the fork). It never
 * forks: with a pid namespace (created by the clone that started this
 * process, opts->cloned_ns) the caller, pid 1, forks the serving process
 * afterwards (spawn/init.h). On failure returns -errno with err naming the
 * step and the call.
 */
int bx_confine_self(const struct bx_policy *p, const struct bx_confine_opts *opts,
		    struct bx_confine_report *report, bx_error *err)
    __attribute__((warn_unused_result));

/*
 * Step 8 of one process of a split pair, its last: loads f's filter for who
 * (with TSYNC, as bx_confine_self would), and for a learning serving process
 * hands the listener over to f->learn_sock (and closes it). Returns 0 or
 * -errno with err.
 */
int bx_confine_load(struct bx_confine_filters *f, enum bx_confine_who who, bx_error *err)
    __attribute__((warn_unused_result));

/* Marks f as holding nothing, and frees what it holds. */
void bx_confine_filters_init(struct bx_confine_filters *f);
void bx_confine_filters_free(struct bx_confine_filters *f);

/*
 * The fd number for the program of `beambox exec` (or a foreign worker): the
 * policy's rlimit.nofile (or this process's soft limit if it sets none),
 * kept below the hard limit so that it can be placed. The confinement then
 * makes the program unable to open or dup anything at that number.
 */
int bx_exec_fd_number(const struct bx_policy *p);
/* How far below the hard nofile limit that number stays (see spawn/child.c). */
#define BX_EXEC_FD_HEADROOM 16

/*
 * A cgroup leaf made by the parent for one worker (see limits.c): a directory
 * per hierarchy that holds one of the policy's controllers (cgroup v2, or the
 * v1 memory and pids hierarchies), named beambox-<parent pid>-<n>, with the
 * policy's limits, under the cgroups the parent is in.
 */
#define BX_CGROUP_DIRS_MAX 3
struct bx_cgroup_leaf {
	bool made;
	size_t ndirs;
	int parent_fd[BX_CGROUP_DIRS_MAX]; /* the directory each leaf was made in */
	int procs_fd[BX_CGROUP_DIRS_MAX];  /* each leaf's cgroup.procs, open for writing */
	char name[48];
	char why[PATH_MAX / 8]; /* why none was made */
};

/* Marks l as holding nothing. */
void bx_cgroup_leaf_init(struct bx_cgroup_leaf *l);
/*
 * Reads where the cgroup hierarchies are mounted (/proc/self/mountinfo),
 * once per process; the functions below do it on first use. A zygote calls
 * it at its start, so that its children never read that file.
 */
void bx_cgroup_probe(void);
/*
 * In the parent, before the worker exists: makes the leaf for policy p (its
 * cgroup.memory and cgroup.pids). Returns 0, or -errno with l->why saying why
 * not (for example: not root on a cgroup v1 host, v2 not delegated).
 */
int bx_cgroup_leaf_make(const struct bx_policy *p, struct bx_cgroup_leaf *l)
    __attribute__((warn_unused_result));
/*
 * In the parent, before the worker-to-be runs any code of its own (it waits
 * to be released, see spawn/child.h): moves process pid (as this process
 * sees it) into the leaf, in every hierarchy. Returns 0 (also when none was
 * made), or -errno.
 */
int bx_cgroup_leaf_add(const struct bx_cgroup_leaf *l, pid_t pid)
    __attribute__((warn_unused_result));
/*
 * In the parent, once the worker is reaped: removes the leaf (retrying while
 * the namespace's last processes leave it) and closes its fds.
 */
void bx_cgroup_leaf_remove(struct bx_cgroup_leaf *l);

#endif
