/* SPDX-License-Identifier: MIT */
/*
 * learn: a service's workers in learning mode (`beambox policy learn
 * --worker`), the application's side. The supervisor starts the application
 * with BX_LEARN_FD_ENV (a SOCK_SEQPACKET unix socket to it) and
 * BX_LEARN_PID_ENV (its pid); bx_spawn_init reads and unsets both. While
 * learning, every bx_spawn starts its worker cold with a channel of its own
 * to the supervisor, over which the worker's serving process hands over its
 * seccomp listener at the last confinement step (confine.c).
 *
 * Fail closed: when the variable is set but the socket is not a seqpacket
 * unix socket created by that pid (SO_PEERCRED) under our uid or root, or
 * this build was made with BX_WORKER_LEARNING=OFF, every bx_spawn of the
 * process fails with the reason: no worker runs in a mode nobody asked for.
 */
#ifndef BX_SPAWN_LEARN_H
#define BX_SPAWN_LEARN_H

#include <beambox/common.h>

#include "policy/policy.h"

#define BX_LEARN_FD_ENV	 "BEAMBOX_LEARN_FD"
#define BX_LEARN_PID_ENV "BEAMBOX_LEARN_PID"
/* Where a learning worker finds its channel to the supervisor, before its confinement. */
#define BX_SPAWN_LEARN_FD 5
/* The announcement's key for `uid = dynamic`, which the policy's wire form leaves out. */
#define BX_LEARN_UID_DYNAMIC_KEY "learn_uid_dynamic"
/* The most a worker announcement may carry (the policy's settings, encoded). */
#define BX_LEARN_ANNOUNCE_MAX ((size_t)64 * 1024)

/*
 * In bx_spawn_init, in the application (not in a worker): reads and unsets
 * the variables. Returns 1 (learning), 0 (not asked), or -errno (asked but
 * refused: bx_learn_worker_channel then fails every time).
 */
int bx_learn_mode_init(void);

/* Whether workers are to learn: 1, 0, or the -errno of a refused request. */
int bx_learn_mode(void);

/*
 * For one worker about to start under policy p: a new channel to the
 * supervisor, announced to it with p's settings; the worker's end in *fd
 * (close-on-exec). Returns 0 or -errno with err.
 */
int bx_learn_worker_channel(const struct bx_policy *p, int *fd, bx_error *err)
    __attribute__((warn_unused_result));

#endif
