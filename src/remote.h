/* SPDX-License-Identifier: MIT */
/*
 * remote: jobs over beam. The parent's side is a proxy engine whose
 * catch-all forwards each job to the worker; the worker's side is a receive
 * loop that runs each job on a local engine. Internal: spawn.c wires it up.
 *
 * Vocabulary (Docker 1.0's engine/remote.go, extended where marked *):
 *   main socket, parent -> worker, one frame per job, with the job channel
 *   (one end of a fresh socketpair) attached:
 *     cmd=[NAME, ARGS...]  env=[encoded env map]  *fds=[stdin,stdout,stderr]
 *   * main socket, worker -> parent, once, before any job:
 *     cmd=[ready] pid=[PID] proto=[beambox/1] (jobs=[beambox/2])   or   cmd=[error, TEXT]
 *   * job channel, parent -> worker, before the request, one per name in fds:
 *     cmd=[fd, stdin|stdout|stderr] with that fd attached (the caller's own fd)
 *   job channel, worker -> parent:
 *     cmd=[log, stdout|stderr] + pipe read end, cmd=[log, stdin] + pipe write
 *     end (only for streams the parent did not pass), *cmd=[error, TEXT]
 *     errno=[N] (N: the failure's errno, 1..4095, omitted when unknown),
 *     then cmd=[status, N] (decimal 0..255), then EOF.
 *
 * A worker sends the extensions only to a parent that announced beambox (a
 * config frame, see spawn.c). To an original parent it is a Go worker: no
 * `ready`, and a failure is its text and a newline on the job's stderr (the
 * original's job.Errorf), then status 1.
 *
 * * beambox/2, one channel: offered by the parent in its config frame
 * (jobs=[beambox/2]) and accepted in the worker's hello (jobs=[beambox/2]).
 * Then everything travels on the main socket in beambox's framing
 * (bx_beam_set_multi_fds: a frame carries up to 3 fds, counted in its
 * header), with no job channel:
 *   parent -> worker, a request, its passed fds in the same message:
 *     cmd=[NAME, ARGS...] env=[encoded env map] id=[ID] fds=[NAMES...]
 *     (queued=[1])
 *   fds names the streams passed, in the order their fds ride (as many as
 *   the header counts; stdin, stdout, stderr each at most once); a stream
 *   not named is the worker's own /dev/null. ID is the parent's decimal
 *   job number (1..2^63). queued=[1]: the request was sent while another was
 *   in flight, so it may be withdrawn until the worker starts it:
 *     cmd=[withdraw] id=[ID]
 *   which the parent sends only when it knows the worker has not finished
 *   the job before it; a worker reads everything that has come before it
 *   starts a queued request, and skips a withdrawn one (no answer).
 *   worker -> parent, one frame per job, data only (the parent takes no fds
 *   at all: BX_BEAM_FDS_NONE, SO_PASSRIGHTS off):
 *     cmd=[status, N] id=[ID] (error=[TEXT] errno=[1..4095])
 *   An answer for an id not in flight (never asked, answered already,
 *   withdrawn), or anything else, is a protocol violation: the worker is
 *   killed and every job in flight on it fails.
 */
#ifndef BX_REMOTE_H
#define BX_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/beam.h>
#include <beambox/data.h>
#include <beambox/engine.h>

#define BX_REMOTE_PROTO "beambox/1"
/* The one-channel job protocol (top of this file). */
#define BX_REMOTE_PROTO2 "beambox/2"
/* beambox/2: requests sent and not answered yet, per worker (each with up to 3 fds). */
#define BX_REMOTE_INFLIGHT_MAX 4
/* beambox/2: a request bigger than this goes out only to an idle worker (it is never queued). */
#define BX_REMOTE_PIPELINE_REQ_MAX ((size_t)16 * 1024)
/* Job channel frames are tiny; anything bigger is hostile. */
#define BX_REMOTE_CHANNEL_LIMIT ((size_t)64 * 1024)
/* How long output pipes may stay open after the status arrived. */
#define BX_REMOTE_DRAIN_GRACE_MS 2000
/* How long to wait for the worker's exit after its channel closed without a status. */
#define BX_REMOTE_DEATH_GRACE_MS 2000
/* Largest job request a worker takes (bigger ones are refused as a job error). */
#define BX_REMOTE_REQUEST_MAX BX_BEAM_DEFAULT_LIMIT
/* Largest errno an `error` frame may carry (the kernel's MAX_ERRNO). */
#define BX_REMOTE_ERRNO_MAX 4095

/* How the proxy learns about and acts on the worker process (spawn.c). */
struct bx_remote_peer {
	/* Pollable fd that becomes readable when the worker exits (a pidfd), or -1. */
	int exit_fd;
	/*
	 * If the worker has exited: reaps it if needed, writes "worker 4242 killed
	 * by signal 31 (SIGSYS)" or "... exited with status 3" into buf, returns 1.
	 * Returns 0 if it is still running.
	 */
	int (*describe_exit)(void *ctx, char *buf, size_t len);
	/* Kills the worker (timeouts, cancellation, protocol violations). */
	void (*kill)(void *ctx);
	void *ctx;
	/* The worker said it is a beambox worker: it takes passed fds. */
	int takes_fds;
	/* It accepted beambox/2 (the parent offered it): jobs on the main socket. */
	int one_channel;
};

struct bx_remote;

/*
 * Makes a proxy engine whose catch-all forwards jobs over main (borrowed: it
 * must outlive the engine). peer may describe the worker process.
 */
int bx_remote_proxy_new(bx_beam *main, const struct bx_remote_peer *peer, bx_engine **out)
    __attribute__((warn_unused_result));
/* Frees a proxy engine made by bx_remote_proxy_new. */
void bx_remote_proxy_free(bx_engine *proxy);
/*
 * Frees only the proxy's own state (bx_engine_catchall_ctx of the engine), for
 * an engine freed by other means (bx_remote_attach's on-free hook). NULL is fine.
 */
void bx_remote_proxy_state_free(void *state);

/* How a worker talks to its parent. */
struct bx_remote_serve_opts {
	/*
	 * The parent announced beambox (bx_spawn sends a config frame first): it
	 * gets `error` frames with the errno. false: Docker 1.0's engine.NewSender,
	 * which gets the original's vocabulary only (see the top of this file).
	 */
	bool beambox_parent;
	/* The parent offered beambox/2 (bx_remote_config_take_offer): serve it. */
	bool one_channel;
};

/*
 * Worker side: serves jobs from main on eng until the parent closes main (an
 * EOF, or a reset: the parent closed with bytes unread). Returns 0 then, or
 * -errno when the main connection breaks. A request over
 * BX_REMOTE_REQUEST_MAX bytes or BX_JOB_ARGS_MAX arguments is refused as a
 * job error (-E2BIG) and the worker serves on. opts NULL: a beambox parent.
 */
int bx_remote_serve_with(bx_beam *main, bx_engine *eng, const struct bx_remote_serve_opts *opts)
    __attribute__((warn_unused_result));
/* bx_remote_serve_with(main, eng, NULL). */
int bx_remote_serve(bx_beam *main, bx_engine *eng) __attribute__((warn_unused_result));

/* What a worker says when it is ready (beambox extension of the original). */
struct bx_remote_hello {
	int takes_fds;	     /* it speaks beambox/1 and takes passed fds */
	int one_channel;     /* it serves beambox/2 (the parent offered it) */
	pid_t pid;	     /* the serving process, as the parent's /proc sees it (0: unknown) */
	uint32_t namespaces; /* enum bx_ns bits in effect */
	char report[2048];   /* what confinement was applied, one line a step */
};

/* Worker side: the ready message, and a setup failure report. */
int bx_remote_send_ready(bx_beam *main, const struct bx_remote_hello *hello)
    __attribute__((warn_unused_result));
int bx_remote_send_setup_error(bx_beam *main, const char *text) __attribute__((warn_unused_result));

/*
 * Parent side: reads the worker's first message. Returns 0 on ready (filling
 * *hello), -ECHILD with err holding the worker's own reason on an error
 * message, -EPROTO on anything else, EOF as -EPIPE, -EAGAIN if nothing is
 * there yet (non-blocking sockets: poll first).
 */
int bx_remote_read_hello(bx_beam *main, struct bx_remote_hello *hello, bx_error *err)
    __attribute__((warn_unused_result));

/*
 * beambox/2 negotiation in the config frame (spawn.c): the parent's side adds
 * the offer (jobs=[beambox/2]) unless bx_remote_offer_proto2 is false; the
 * worker's side takes the key out (the policy decoder refuses unknown keys)
 * and says whether beambox/2 was among the offers: 1 or 0.
 */
int bx_remote_config_offer(bx_msg *config) __attribute__((warn_unused_result));
int bx_remote_config_take_offer(bx_msg *config) __attribute__((warn_unused_result));
/* Whether bx_spawn offers beambox/2 (default true; tests turn it off to drive beambox/1). */
extern bool bx_remote_offer_proto2;

#endif
