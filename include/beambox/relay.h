/* SPDX-License-Identifier: MIT */
/*
 * relay: keeping a process's terminal (or any of its stdio) out of the hands
 * of what it is about to run.
 *
 * A terminal handed to untrusted code lets it resize the terminal (SIGWINCH
 * to everyone on it), change its settings (ECHO off; VINTR set so that the
 * next key the user types signals the foreground process group; IXON) or
 * stop its output (TCOOFF), which freezes every writer. `beambox exec` passes
 * its stdio as is by default, like bwrap; bx_relay_stdio_fork is its opt-in
 * alternative (for jobs run by a worker, see bx_job_set_fd_mode in engine.h,
 * which relays terminals by default).
 */
#ifndef BEAMBOX_RELAY_H
#define BEAMBOX_RELAY_H

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BX_RELAY_STDIN	(1 << 0)
#define BX_RELAY_STDOUT (1 << 1)
#define BX_RELAY_STDERR (1 << 2)
#define BX_RELAY_STDIO	(BX_RELAY_STDIN | BX_RELAY_STDOUT | BX_RELAY_STDERR)
/* Of the fds selected, relay only those that are terminals (isatty). */
#define BX_RELAY_TTYS_ONLY (1 << 3)

/*
 * Puts pipes in place of the selected stdio fds (0, 1, 2) of a child process
 * and relays them from this one:
 *
 *   int status, r = bx_relay_stdio_fork(BX_RELAY_STDIO | BX_RELAY_TTYS_ONLY, &status, &err);
 *   if (r < 0) die(err.text);
 *   if (r == 1) return status;    // the relay: the child has exited
 *   // r == 0: go on (confine, exec...); fds 0-2 are pipes where they were selected
 *
 * Returns 0 in the process that goes on: the child, whose selected fds are
 * now pipes (or this very process, unforked, when nothing was selected, e.g.
 * BX_RELAY_TTYS_ONLY and no terminal). Returns 1 in the parent once the child
 * has exited and its output is delivered (at most 2 s after its exit: a
 * grandchild holding a pipe, or a stopped terminal, cannot hold the relay
 * longer), with *status the child's exit status, 128+N if a signal N killed
 * it. Meanwhile the parent copies between its own fds and the pipes without
 * ever blocking on either side (a terminal or pipe of its own is written
 * through a non-blocking reopening, so its flags stay untouched), forwards
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child, and stops reading its
 * stdin when the child is gone. The child dies with the parent
 * (PR_SET_PDEATHSIG). Returns -errno with err (may be NULL) saying why when
 * the relay cannot be set up (nothing forked then) or fails.
 *
 * Call it before starting threads: the child goes on from a fork.
 */
BX_API BX_MUST_CHECK int bx_relay_stdio_fork(int flags, int *status, bx_error *err);

#ifdef __cplusplus
}
#endif

#endif
