/* SPDX-License-Identifier: MIT */
/*
 * child: starts the process that becomes a worker (or `beambox exec`'s
 * sandbox), born in its own user and pid namespaces, the one way every path
 * of beambox creates it (bx_spawn, foreign workers, `beambox exec`, a worker
 * started by an original Go parent; a later zygote too).
 *
 *   parent                                   child (raw system calls only)
 *   ------                                   -----------------------------
 *   clone3(CLONE_NEWUSER|CLONE_NEWPID|       PR_SET_PDEATHSIG(SIGKILL), first
 *          CLONE_PIDFD), signals blocked     signal handlers to default, unblocked
 *                                            own session
 *                                            fds to their numbers, every other fd
 *                                            really closed (no credential change yet)
 *   writes /proc/<child>/uid_map "D D 1",    waits on the sync pipe: EOF = the
 *   gid_map "G G 1" (setgroups "deny"        parent is gone (checks the race
 *   first unless the parent is root)         PDEATHSIG leaves) -> _exit
 *   [before_release hook]
 *   releases the child (one byte)   ------>  root parent: setgroups(0, NULL)
 *                                            ambient capabilities (valid only in
 *                                            its own namespace)
 *   waits for the exec (pidfd and a          [check_alive: the application still
 *   CLOEXEC error pipe, bounded)             holds its end, or _exit]
 *                                            execveat(exe, AT_EMPTY_PATH)
 *                                            or, in-process mode, returns
 *
 * The zygote (spawn/zygote.h) starts its children the same way, in
 * in-process mode and with CLONE_PARENT (`sibling`): the child is then the
 * application's, and sends the application a pidfd of itself (`birth`)
 * before anything else, so that the application can reap it whatever
 * happens to the zygote.
 *
 * A root parent's child stays host uid 0 (not mapped inside its namespace,
 * which root owns) until the worker's identity step, after exec, switches it
 * to D: no host process of uid D has any capability over it at any point
 * (see SECURITY.md). The child never changes "dumpable".
 */
#ifndef BX_SPAWN_CHILD_H
#define BX_SPAWN_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/common.h>

#define BX_CHILD_FDS_MAX 8

/* An fd the child gets at a fixed number. */
struct bx_fd_move {
	int src;      /* in the parent */
	int dst;      /* in the child */
	bool cloexec; /* closed by the child's exec (otherwise it survives it) */
};

struct bx_child_spec {
	/* CLONE_NEWUSER and/or CLONE_NEWPID: the namespaces the child is born in. */
	uint64_t ns_flags;
	/* Of those, the ones that may be dropped if the kernel refuses them. */
	uint64_t ns_optional;
	/* With CLONE_NEWUSER: the host ids mapped to themselves inside ("D D 1"). */
	uid_t uid;
	gid_t gid;
	/*
	 * Other maps, for an unprivileged application's zygote (see zygote.h):
	 * root_inside maps uid/gid to 0 inside ("0 D 1": the zygote's own
	 * namespace, in which it is root, so that its children's /proc files
	 * are its to write although they are not dumpable); root_outside maps
	 * them from 0 in this process's namespace ("D 0 1": the zygote's
	 * children, whose host ids are the zygote's root there).
	 */
	bool root_inside;
	bool root_outside;
	/*
	 * The parent is root: setgroups stays allowed in the new namespace and
	 * the child drops root's supplementary groups (raw setgroups(0, NULL)).
	 * Otherwise "deny" is written first, as the kernel requires.
	 */
	bool as_root;
	/*
	 * The child gets exactly these fds at these numbers, every other fd is
	 * closed before anything else changes. nfds 0 in in-process mode: the
	 * child keeps the caller's fds (`beambox exec` closes them itself).
	 */
	struct bx_fd_move fds[BX_CHILD_FDS_MAX];
	size_t nfds;
	/*
	 * >= 0 (exec mode): execveat(exec_fd, "", argv, envp, AT_EMPTY_PATH).
	 * BX_CHILD_EXEC_SELF (exec mode): the child copies /proc/self/exe (this
	 * program) into a sealed memfd and executes that copy.
	 * -1 (in-process mode): bx_child_start returns 1 in the child, which
	 * goes on with the caller's code. Only for a single-threaded caller
	 * (`beambox exec`, a freshly executed worker, the zygote): glibc's
	 * cached thread id is stale in such a child, and another thread's locks
	 * would stay held.
	 */
	int exec_fd;
	char *const *argv;
	char *const *envp;
	/* CAP_* numbers (bit n = capability n) carried across exec, with CLONE_NEWUSER only. */
	uint64_t ambient;
	/* How long the parent waits for the exec, in ms (exec mode). */
	int timeout_ms;
	/*
	 * Optional, called in the parent once the maps are written, before the
	 * child is released (e.g. to place it in a cgroup). Non-zero fails the
	 * start (the child is killed).
	 */
	int (*before_release)(pid_t pid, void *ctx);
	void *ctx;
	/*
	 * CLONE_PARENT: the child is a child of this process's parent, not of
	 * this process, and has this process's exit signal. In-process mode
	 * (the zygote).
	 */
	bool sibling;
	/*
	 * The zygote's children: link_fd is a number among fds[].dst, a unix
	 * socket whose other end the application holds. With `birth` the
	 * child's very first act after its fds are in place is to send on it
	 * one byte ('B') with a pidfd of itself (SCM_RIGHTS); with
	 * `check_alive` it exits after its release if that other end is closed
	 * (its parent-death signal covers what happens later, this what
	 * happened before it was armed).
	 */
	bool birth;
	bool check_alive;
	int link_fd;
	/* The caller knows it has one thread (in-process mode): skips the check. */
	bool single_threaded;
	/* Exec mode: return once the child is released, without waiting for its exec. */
	bool no_wait;
};

/* exec_fd: execute a sealed copy of this program that the child makes. */
#define BX_CHILD_EXEC_SELF (-2)

struct bx_child {
	pid_t pid;   /* as this process sees it */
	int pidfd;   /* owned by the caller */
	uint64_t ns; /* the namespaces the child was born in (ns_flags minus dropped ones) */
};

/*
 * Starts the child. In the parent returns 0 with *out filled (the caller
 * owns out->pidfd and must reap the child: waitid(P_PIDFD, ..., __WALL). It
 * is cloned with no exit signal, but an exec gives it SIGCHLD back (the
 * kernel resets it: de_thread), so a worker, a fresh execution or a child
 * of the zygote (itself one), is seen by the application's wait() like any
 * child); in the child (in-process mode) returns 1. On failure
 * returns -errno with err saying why; a child that was created is killed and
 * reaped first (a sibling only killed: its parent reaps it).
 */
int bx_child_start(const struct bx_child_spec *s, struct bx_child *out, bx_error *err)
    __attribute__((warn_unused_result));

/* Reaps a child started by bx_child_start (blocking); stores siginfo if si is not NULL. */
int bx_child_reap(int pidfd, void *siginfo);

/* Kills (SIGKILL through the pidfd) and reaps it. */
void bx_child_kill_and_reap(int pidfd);

/* Threads of this process (/proc/self/task), or -errno. In-process mode and a zygote need one. */
int bx_count_threads(void);

#endif
