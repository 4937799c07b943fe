/* SPDX-License-Identifier: MIT */
/*
 * zygote: a clean process that forks workers on request, so that a worker
 * costs no exec, no dynamic loading and no policy parse.
 *
 *   application --clone3+exec (once)--> zygote: a fresh execution of the
 *     |                                 program's sealed copy, single-threaded,
 *     |  request (SOCK_SEQPACKET):      not dumpable, holding only its socket
 *     |  policy wire form, filter       and /dev/null; caches parsed policies
 *     |  memfd, beam socket end, note   and imported filters by content
 *     |  pipe end, stderr, cgroup fds      |
 *     |  ------------------------------>   | clone3(CLONE_PARENT | NEWUSER |
 *     |                                    |        NEWPID), in-process mode
 *     |  <--- reply (pid, namespaces) ---  | writes the child's maps, cgroup
 *     |                                    v
 *     +---- child of the application: the worker's pid 1 (as a cold one);
 *           sends the application a pidfd of itself first ("birth"), then
 *           confines itself exactly as a cold worker does, from its
 *           configuration already in memory, and serves.
 *
 * The zygote is started by bx_spawn_init when it is called early enough: on
 * the main thread of a process that has no other thread. Its workers are the
 * application's children (CLONE_PARENT), so the application polls, kills and
 * reaps them through their own pidfds exactly as cold workers, and a dead
 * zygote takes no worker with it. They die with the application's main
 * thread (their parent-death signal), as the zygote does.
 *
 * When the zygote is gone (killed, crashed, stuck past its reply bound), the
 * spawn that noticed it reaps it and falls back to a cold start; the next
 * spawn made on the main thread starts a new zygote, at most
 * BX_ZYGOTE_RESTARTS times per process (other threads start cold meanwhile:
 * a zygote started by another thread would tie every later worker's life to
 * that thread). See SECURITY.md for what the zygote's children share.
 */
#ifndef BX_SPAWN_ZYGOTE_H
#define BX_SPAWN_ZYGOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/common.h>
#include <beambox/engine.h>

#include "confine/confine.h"
#include "spawn/child.h"

/* The environment variable that, with ENGINESPAWN=1, marks the zygote. */
#define BX_ZYGOTE_MARKER "BEAMBOX_ZYGOTE"
/* Set (not empty) in a program's environment: bx_spawn_init starts no zygote. */
#define BX_ZYGOTE_OFF "BEAMBOX_NO_ZYGOTE"
/* How many times a process starts a new zygote after its first one died. */
#define BX_ZYGOTE_RESTARTS 3
/* Policies (wire form + filter) the zygote keeps parsed and imported. */
#define BX_ZYGOTE_SLOTS 8
/* The largest request: policy wire form plus environment. */
#define BX_ZYGOTE_MSG_MAX 65536u

/*
 * bx_spawn_init's part: starts the zygote if this process qualifies (the
 * main thread, no other thread). The zygote's exec runs on its own; the
 * first request waits for it. Returns 0, or -errno (then no zygote: every
 * spawn is cold).
 */
int bx_zygote_init(void) __attribute__((warn_unused_result));

/* The zygote's pid while there is one (tests), else -1. */
pid_t bx_zygote_pid(void);

/* What a zygote start needs; every fd is borrowed. */
struct bx_zygote_spawn {
	const char *wire; /* the policy's wire form (bx_policy_to_msg, encoded) */
	size_t wire_len;
	int bpf_fd;	      /* its compiled filter, a sealed memfd */
	uint64_t ns_flags;    /* CLONE_NEWUSER | CLONE_NEWPID */
	uint64_t ns_optional; /* of those, the ones the kernel may refuse */
	uid_t uid;
	gid_t gid;
	bool as_root;	   /* the application is root: the worker becomes uid/gid */
	char *const *envp; /* NAME=value, the worker's environment */
	/*
	 * The worker's end of its connection (its fd 3) and the write end of
	 * init's notes (its fd 4): closed here (and set to -1) once the request
	 * is sent, so that the application holds none of the child's ends (the
	 * end of a child that dies early must show as EOF).
	 */
	int *beam_fd;
	int *note_fd;
	int app_beam_fd; /* the application's end: the child's pidfd arrives there */
	int stderr_fd;	 /* its fd 2, or -1 for /dev/null */
	const struct bx_cgroup_leaf *cgroup; /* the child joins it before its release */
	int timeout_ms;			     /* the whole start's bound */
};

/*
 * Asks the zygote for a worker's first process. 0: *out holds its pid (as
 * this process sees it), a pidfd on it (this process's child) and the
 * namespaces it was born in. -EAGAIN: no zygote here now (none started,
 * this is a forked copy of the process that started it, or it died and
 * cannot be replaced from this thread): start cold, with new fds if
 * *beam_fd is -1 (the request went out). Any other -errno: the start failed,
 * err says why; no child is left behind either way.
 */
int bx_zygote_spawn(const struct bx_zygote_spawn *s, struct bx_child *out, bx_error *err)
    __attribute__((warn_unused_result));

/* In a process started as the zygote (ENGINESPAWN=1 BEAMBOX_ZYGOTE=1). Never returns. */
__attribute__((noreturn)) void bx_zygote_main(bx_installer_fn installer, void *ctx);

#endif
