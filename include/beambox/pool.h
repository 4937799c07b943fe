/* SPDX-License-Identifier: MIT */
/*
 * pool: N warm workers for one service (one policy, one set of spawn
 * options); each job goes to an idle one.
 *
 *   bx_pool_opts o;
 *   bx_pool_opts_init(&o);
 *   o.name = "resize";
 *   o.workers = 4;
 *   o.spawn.policy = policy;                       // borrowed: must outlive the pool
 *   bx_pool *pool;
 *   if (bx_pool_new(&o, &pool, &err) < 0) ...      // returns once all 4 are ready
 *
 *   bx_pool_job *pj;
 *   if (bx_pool_job_new(pool, "resize", 500, &pj, &err) < 0) ...  // -EBUSY, -ETIMEDOUT, ...
 *   bx_job *job = bx_pool_job_get(pj);             // set it up with the bx_job_* setters
 *   bx_job_add_arg(job, "800x600"); ...
 *   int status = bx_pool_job_run(pj, &err);        // as bx_job_run: 0..255 or -errno
 *   bx_pool_job_free(pj);                          // frees the job, gives the worker back
 *
 *   bx_pool_free(pool);                            // waits for the jobs still running
 *
 * A pool job is a lease of one worker. bx_pool_job_new takes an idle worker
 * and creates the job on that worker's engine; the bx_job belongs to the
 * lease and dies with it in bx_pool_job_free, which also gives the worker
 * back. The pool never hands out a worker or its engine, so no job can be
 * created on a worker outside a lease, nor outlive one. Never call
 * bx_job_free on bx_pool_job_get's job; pointers obtained from the job
 * (bx_job_output) are valid until bx_pool_job_free. One job per lease: a
 * worker holds no state a caller may count on from one job to the next (it
 * may be recycled or replaced at any time), so there is nothing to gain
 * from keeping one.
 *
 * Dispatch. An idle worker is checked to be alive (its pidfd) when it is
 * handed out. When every worker is busy, the caller waits in a FIFO queue
 * of at most opts.max_waiters callers, for at most wait_ms, and the next
 * worker given back goes to the first in line. Errors, each with err.text:
 *   -EBUSY       wait_ms was 0: "pool 'x': all 4 workers busy"; or the
 *                queue is full: "pool 'x': all 4 workers busy and 16 callers waiting"
 *   -ETIMEDOUT   "pool 'x': no worker free after 200 ms (4 workers busy)"
 *   -EAGAIN      no worker is up and the last 5 attempts to start one failed
 *                ("pool 'x': no worker available: starting one failed: ...")
 *   -ESHUTDOWN   "pool 'x' is shutting down"
 *
 * A job is never run twice. When a worker dies during a job, bx_pool_job_run
 * returns the worker's death as bx_job_run does ("worker 4242 killed by
 * signal 9 (SIGKILL)", never status 0); the handler may or may not have run.
 * The pool does not retry it: only the caller knows whether running it again
 * is safe (take a new pool job to do so).
 *
 * Workers are started, replaced and freed by one thread the pool owns, in
 * the background:
 *   - a worker that dies (crash, kill, exit) is replaced: an idle one as
 *     soon as its pidfd says so, a leased one when its job is freed;
 *   - a worker is retired after opts.max_jobs_per_worker jobs (recycling);
 *   - a worker whose job failed mid-way (timed out, cancelled, broke the
 *     protocol: anything but the handler's own status) is retired, since its
 *     state is unknown (the proxy engine has already killed it for a timeout,
 *     a cancel or a protocol error).
 * Why a thread of its own: a worker dies with the thread that spawned it
 * (PR_SET_PDEATHSIG follows the spawning thread, see bx_spawn), so no
 * caller's thread may be the one to spawn; and a spawn costs milliseconds
 * that no caller should pay on its job's path. The thread blocks every
 * signal. A replacement failure is retried with a back-off (10 ms doubling
 * up to 1 s) and counted in the statistics.
 *
 * Isolation. A worker runs many jobs in turn, so what one job leaves in it
 * (memory, /tmp) the next job there can see: keep one pool per trust
 * domain, or set max_jobs_per_worker to 1 for a fresh worker per job.
 *
 * Threads. Every function is thread-safe, with one rule: a bx_pool_job is
 * used by one thread at a time, except bx_job_cancel(bx_pool_job_get(pj)),
 * which may come from any thread while the job runs (it kills that worker,
 * which is then replaced). A child forked from a process must not use that
 * process's pools: the pool's thread is not in the child.
 *
 * Shutdown. bx_pool_shutdown refuses new jobs, fails the callers waiting,
 * frees idle workers, waits for the leased ones to be given back, and after
 * its deadline kills the workers still busy (their jobs then fail with the
 * worker's death) and waits a bounded grace for those leases to come back.
 * bx_pool_free shuts down without a deadline, then frees the pool.
 */
#ifndef BEAMBOX_POOL_H
#define BEAMBOX_POOL_H

#include <sys/types.h>

#include <beambox/common.h>
#include <beambox/engine.h>
#include <beambox/spawn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on the options. */
#define BX_POOL_WORKERS_MAX 1024
#define BX_POOL_WAITERS_MAX 1000000
#define BX_POOL_NAME_MAX    64
/* How long a forced shutdown waits for killed workers' leases to come back. */
#define BX_POOL_KILL_GRACE_MS 5000

typedef struct bx_pool bx_pool;
typedef struct bx_pool_job bx_pool_job;

typedef struct bx_pool_opts {
	/* Names the pool in error texts (copied; at most BX_POOL_NAME_MAX bytes). Default "pool".
	 */
	const char *name;
	/* Warm workers, 1..BX_POOL_WORKERS_MAX (default 2). */
	unsigned workers;
	/* Callers that may wait when every worker is busy, 0..BX_POOL_WAITERS_MAX (default 64). */
	unsigned max_waiters;
	/* Retire a worker after this many jobs; 0 (default): never. */
	unsigned max_jobs_per_worker;
	/*
	 * Timeout given to every pool job (bx_job_set_timeout may change it);
	 * 0 (default): none. A job that times out kills its worker, which the
	 * pool replaces.
	 */
	int job_timeout_ms;
	/*
	 * How every worker is spawned (bx_spawn_opts_init's defaults). Copied, but
	 * what it points to (policy, env_keep, stderr_fd) is borrowed and must
	 * outlive the pool.
	 */
	bx_spawn_opts spawn;
} bx_pool_opts;

/* Counters for tests, benchmarks and monitoring. */
typedef struct bx_pool_stats {
	/* Now. */
	unsigned workers;  /* configured */
	unsigned idle;	   /* ready and free */
	unsigned busy;	   /* leased to a pool job */
	unsigned starting; /* being started, replaced or freed */
	unsigned waiters;  /* callers queued for a worker */
	/* Since bx_pool_new. */
	unsigned long long spawned;	   /* workers started, the first N included */
	unsigned long long spawn_failures; /* bx_spawn calls that failed */
	/* Workers that died: crashed, killed, exited, or killed for breaking the protocol. */
	unsigned long long replaced;
	/* Retired alive after max_jobs_per_worker jobs. */
	unsigned long long recycled;
	/* Retired after a job timed out or was cancelled, or failed with the worker alive. */
	unsigned long long retired_failed;
	unsigned long long jobs_run;	  /* bx_pool_job_run calls that ran */
	unsigned long long jobs_failed;	  /* of those, the ones that returned < 0 */
	unsigned long long rejected;	  /* bx_pool_job_new: -EBUSY at once */
	unsigned long long wait_timeouts; /* bx_pool_job_new: -ETIMEDOUT */
} bx_pool_stats;

/* Fills opts with the defaults (spawn with bx_spawn_opts_init's). */
BX_API void bx_pool_opts_init(bx_pool_opts *opts);

/*
 * Starts a pool and its N workers, and returns once all are ready. Returns 0,
 * -EINVAL for options out of bounds, or the first failed spawn's -errno with
 * err saying which ("pool 'x': starting worker 1 of 4: ..."). Needs
 * bx_spawn_init, as bx_spawn does.
 */
BX_API BX_MUST_CHECK int bx_pool_new(const bx_pool_opts *opts, bx_pool **out, bx_error *err);

/*
 * Takes a worker for one job named name (see the top of this file):
 * wait_ms 0 means do not wait, -1 wait as long as it takes (still bounded by
 * the queue's length), > 0 at most that many milliseconds. Returns 0 with
 * *out set, or -errno with err.
 */
BX_API BX_MUST_CHECK int bx_pool_job_new(bx_pool *pool, const char *name, int wait_ms,
					 bx_pool_job **out, bx_error *err);
/* The lease's job: set it up with the bx_job_* setters. Owned by the lease: never bx_job_free it.
 */
BX_API bx_job *bx_pool_job_get(bx_pool_job *pj);
/*
 * Runs the job (once; again is -EALREADY), as bx_job_run: its status 0..255,
 * or -errno with err. A failure other than the handler's own (-EREMOTEIO)
 * retires the worker.
 */
BX_API BX_MUST_CHECK int bx_pool_job_run(bx_pool_job *pj, bx_error *err);
/* The pid (as this process sees it) of the process serving the job: for logs. */
BX_API pid_t bx_pool_job_pid(const bx_pool_job *pj);
/* Frees the job and gives its worker back (or retires it). NULL is fine. */
BX_API void bx_pool_job_free(bx_pool_job *pj);

/*
 * Waits up to timeout_ms (-1: forever) until every one of the N workers is up
 * (idle or leased) and none is being replaced. Returns 0, -ETIMEDOUT,
 * -ESHUTDOWN, or -EAGAIN when the last 5 attempts to start a worker failed
 * (the pool keeps trying, up to once a second).
 */
BX_API BX_MUST_CHECK int bx_pool_wait_full(bx_pool *pool, int timeout_ms);

/* A snapshot of the counters. */
BX_API void bx_pool_get_stats(bx_pool *pool, bx_pool_stats *out);

/*
 * Shuts the pool down (see the top of this file): waits up to timeout_ms
 * (-1: forever) for the leased workers to be given back, then kills those
 * still busy and waits up to BX_POOL_KILL_GRACE_MS more. Returns 0 once every
 * worker is freed, or -ETIMEDOUT with err saying how many pool jobs were
 * never freed (call again, or free them). New jobs are refused from the
 * first call on.
 */
BX_API BX_MUST_CHECK int bx_pool_shutdown(bx_pool *pool, int timeout_ms, bx_error *err);

/*
 * Shuts down without a deadline (every pool job must be freed, or this
 * waits for it) and frees the pool. NULL is fine.
 */
BX_API void bx_pool_free(bx_pool *pool);

#ifdef __cplusplus
}
#endif

#endif
