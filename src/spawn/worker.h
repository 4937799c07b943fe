/* SPDX-License-Identifier: MIT */
/*
 * worker: the worker side of bx_spawn, the process that confines itself and
 * then serves jobs (or runs a foreign program). It is reached two ways:
 *  - a fresh execution of the program (ENGINESPAWN=1): bx_spawn's cold
 *    start, which sends a config frame first on fd 3, or an original Go
 *    parent, which sends none (bx_worker_side_main);
 *  - a child of the zygote (spawn/zygote.h), which has its configuration
 *    from the zygote's request already (bx_worker_side_serve).
 * From there on both run the same code: the confinement sequence, pid 1's
 * init, the installer, the ready message, the serve loop.
 */
#ifndef BX_SPAWN_WORKER_H
#define BX_SPAWN_WORKER_H

#include <linux/sched.h>
#include <stdbool.h>
#include <stdint.h>

#include <beambox/beam.h>
#include <beambox/engine.h>

#include "confine/seccomp.h"
#include "policy/policy.h"
#include "spawn/dynuid.h"

/* Set by bx_spawn: a config frame (policy + compiled filter) comes first on fd 3. */
#define BX_SPAWN_CONFIG_ENV "BEAMBOX_CONFIG"
/* Where a worker finds init's notes (write end), before its confinement. */
#define BX_SPAWN_NOTE_FD 4

/* enum bx_ns bits <-> clone flags, for the two namespaces a clone makes. */
static inline uint64_t bx_clone_flags_for(uint32_t ns)
{
	return ((ns & BX_NS_USER) ? (uint64_t)CLONE_NEWUSER : 0) |
	       ((ns & BX_NS_PID) ? (uint64_t)CLONE_NEWPID : 0);
}

static inline uint32_t bx_ns_for_clone_flags(uint64_t flags)
{
	return ((flags & CLONE_NEWUSER) ? (uint32_t)BX_NS_USER : 0) |
	       ((flags & CLONE_NEWPID) ? (uint32_t)BX_NS_PID : 0);
}

/* What the worker knows before it confines itself (besides fd 3, its connection). */
struct bx_worker_config {
	bool from_beambox;	  /* the parent is beambox (bx_spawn): it gets beambox's messages */
	bool one_channel;	  /* ... and it offered beambox/2 jobs (remote.h) */
	struct bx_policy *policy; /* owned */
	int bpf_fd;		  /* the compiled filter as a sealed memfd, or -1 */
	const struct bx_bpf *bpf; /* ... or already in memory (a zygote child), or NULL */
	uint32_t cloned;	  /* namespaces the clone made (enum bx_ns bits) */
	uint32_t joined;  /* a netns made for the policy, joined at the clone (the zygote) */
	bool become;	  /* switch to policy->uid/gid (the parent is root) */
	int note_fd;	  /* init's notes, or -1 */
	int exec_fd;	  /* a foreign worker: the program's fd, or -1 */
	int learn_fd;	  /* learning mode: the channel to the supervisor (spawn/learn.h), or -1 */
	char **exec_argv; /* ... its argv and environment */
	char **exec_envp;
	struct bx_dynuid uid; /* a worker started by a Go parent allocates its own */
};

/* The worker's entry after a fresh execution (ENGINESPAWN=1). Never returns. */
__attribute__((noreturn)) void bx_worker_side_main(bx_installer_fn installer, void *ctx);

/*
 * Everything after the configuration: confinement, init, installer, ready,
 * serving. main is the connection on fd 3. Never returns.
 */
__attribute__((noreturn)) void bx_worker_side_serve(struct bx_worker_config *c, bx_beam *main,
						    bx_installer_fn installer, void *ctx);

#endif
