/* SPDX-License-Identifier: MIT */
/*
 * notify (confinement side of "violations name the syscall", issue #13):
 * a serving process whose policy has a kill-process default gets that
 * default as SECCOMP_RET_USER_NOTIF (policy/filter.h, extra.violations), and
 * loads it with a listener, which it hands to its init over a socketpair
 * made before the fork; init reads the refused call, reports it and kills
 * (src/spawn/violation.c). Nothing here decides anything: it finds the
 * program that can notify, loads it with the listener, turns it back into
 * kill-process where no one could listen, and makes the hand-over channel.
 */
#ifndef BX_CONFINE_NOTIFY_H
#define BX_CONFINE_NOTIFY_H

#include <stdbool.h>

#include <beambox/common.h>

#include "policy/filter.h"

struct bx_confine_opts;

/* The index of bpf's program that can return SECCOMP_RET_USER_NOTIF, or -1. */
int bx_bpf_notify_prog(const struct bx_bpf *bpf);

/*
 * Every SECCOMP_RET_USER_NOTIF return becomes SECCOMP_RET_KILL_PROCESS: the
 * very filter the policy compiles to without violations. For a process that
 * has no one to hand a listener to (no pid namespace, no init).
 */
void bx_bpf_notify_to_kill(struct bx_bpf *bpf);

/*
 * Loads bpf, in order, as bx_seccomp_load does, the notifying program with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER (and WAIT_KILLABLE_RECV where the kernel
 * has it: once init has read a call, the caller waits for its kill, deaf to
 * other signals). Returns the listener (close-on-exec: the caller must hand
 * it over and close it before anything else runs); -EBUSY when no listener
 * could be made (a filter this process inherited has one already, one per
 * process; or the kernel has none): then the program was loaded as
 * kill-process (fail closed) and everything is loaded; or another
 * -errno (some programs may be loaded: the caller gives up).
 */
int bx_seccomp_load_notify(struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * Before the rlimits step of a process that will fork its serving process
 * (opts->split): the hand-over channel, a unix socketpair, in sv[0] (init's
 * end) and sv[1] (the serving process's). When the serving process will
 * execute a program (opts->exec_fd >= 0) its end is moved to exec_fd + 1,
 * above the program's fd, where the nofile limit keeps every other file;
 * its filter allows sendmsg on that number only (extra.violation_fd).
 * Returns 0 or -errno with err.
 */
int bx_notify_channel(const struct bx_confine_opts *opts, int sv[2], bx_error *err)
    __attribute__((warn_unused_result));

/* The fd number the serving process's end of the channel gets, for extra.violation_fd. */
int bx_notify_channel_fd(int exec_fd);

/* Sends fd over sock (SCM_RIGHTS, MSG_NOSIGNAL). 0 or -errno. */
int bx_notify_send_fd(int sock, int fd) __attribute__((warn_unused_result));

/* Receives one fd (close-on-exec) from sock: the fd, or -errno (-EPIPE at EOF). */
int bx_notify_recv_fd(int sock) __attribute__((warn_unused_result));

#endif
