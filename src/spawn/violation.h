/* SPDX-License-Identifier: MIT */
/*
 * violation: naming the system call the filter refused (issue #13). The
 * serving process's policy filter returns SECCOMP_RET_USER_NOTIF where it
 * would have killed by default (policy/filter.h, extra.violations); the
 * serving process loads it with a listener and hands that to its init
 * (confine/notify.h). init, pid 1 of the namespace, blocks in
 * SECCOMP_IOCTL_NOTIF_RECV, so every refused call reaches it (as a
 * notification, or as ENOENT when a signal withdrew it first); it writes a
 * "V" note (the call: number, arch, thread, six arguments) to whoever
 * started the sandbox, kills everything else in its namespace (SIGKILL: the
 * refused call never returns) and reports the serving process's death as the
 * filter's, SIGSYS, as a kill-process default did. It learns of its
 * children's deaths through a SIGCHLD handler that reaps them (init blocks
 * in the ioctl, not in waitpid). SECURITY.md, "How a refused call is named",
 * has the reasons.
 *
 * The parent (bx_spawn's worker, the waiter of `beambox exec`) turns a V
 * note into text with the policy layer (policy/explain.h).
 */
#ifndef BX_SPAWN_VIOLATION_H
#define BX_SPAWN_VIOLATION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "confine/confine.h"
#include "policy/explain.h"
#include "spawn/init.h"

/* The V note's text: fixed size, checked field by field by the reader. */
struct bx_violation_note {
	uint32_t version; /* BX_VIOLATION_NOTE_VERSION */
	uint32_t flags;	  /* BX_VIOLATION_* */
	int32_t nr;	  /* the syscall number (-1 when withdrawn) */
	uint32_t arch;	  /* AUDIT_ARCH_* of the call */
	uint32_t pid;	  /* the calling thread, in the sandbox's pid namespace */
	uint32_t reserved;
	uint64_t args[6];
	uint64_t ip; /* the instruction pointer of the call */
};

#define BX_VIOLATION_NOTE_VERSION 1
/* The call was withdrawn (a signal interrupted it) before init could read it: no data. */
#define BX_VIOLATION_WITHDRAWN 1u
/* SECCOMP_IOCTL_NOTIF_ID_VALID said the caller was still waiting when init read it. */
#define BX_VIOLATION_PENDING 2u

/* A violation as the parent knows it (from the first V note). */
struct bx_violation {
	bool known;
	bool withdrawn;
	bool arch_ok; /* the native ABI (always, the arch check kills the others) */
	int nr;
	uint32_t pid;
	uint64_t args[6];
	char name[40];			/* "socket", "" when the number has no name */
	char call[BX_EXPLAIN_CALL_MAX]; /* "socket(AF_INET, SOCK_STREAM, 0)" */
	char text[BX_ERROR_TEXT_MAX];	/* "... is not allowed by ...; to allow it add ..." */
};

/*
 * A policy's label for the messages: its top file's base name
 * ("greet.policy"), or "policy 'NAME'" when it came from no file.
 */
void bx_violation_label(const struct bx_policy *p, char *buf, size_t len);

/*
 * Takes a V note into v unless v already holds one (the first is the call
 * that stopped the process). The note is hostile: its size, version, flags
 * and number are checked; nothing of it is printed but numbers and this
 * build's own names. Returns 1 if taken, 0 if v had one, -EPROTO.
 */
int bx_violation_take(struct bx_violation *v, const struct bx_note *n, const char *label);

/* ---------------------------------------------------------------- init's side */

/*
 * In init, right after the fork and before its own filter: takes the
 * listener the serving process sends over f's channel (waiting for it, or
 * for the channel's EOF: no listener), closes the channel, and when there
 * is a listener installs the SIGCHLD handler that reaps (init stops blocking
 * in waitpid). Returns 1 with a listener, 0 without one.
 */
int bx_violation_init_prepare(struct bx_confine_filters *f, int note_fd, pid_t server);

/*
 * In init, after its filter and its S note, when bx_violation_init_prepare
 * returned 1: reads refused calls until the serving process is gone. Never
 * returns (it exits as init_loop does: the serving process's status, or
 * 128+N; SIGSYS when it was stopped for a refused call).
 */
__attribute__((noreturn)) void bx_violation_serve(void);

#endif
