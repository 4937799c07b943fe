/* SPDX-License-Identifier: MIT */
/*
 * pool: N warm workers, one job per lease, replaced and recycled by a thread
 * of the pool's own (the keeper). Uses spawn's public face only.
 *
 * Every slot holds at most one worker and moves through:
 *
 *   EMPTY --keeper spawns--> STARTING --ready--> IDLE <--given back-- BUSY
 *     ^                        |  (failed: EMPTY,   |  --taken-->       |
 *     |                        |   back-off)        |                   |
 *     +---- keeper freed --- FREEING <-- RETIRING <-+-------------------+
 *                                        (dead, K jobs, failed job, shutdown)
 *
 * Only the keeper spawns and frees workers, so a worker pointer taken under
 * the lock stays valid for as long as its slot is IDLE or BUSY; the slow
 * calls (bx_spawn, bx_worker_free, bx_job_run) are made without the lock.
 * A worker given back goes straight to the first caller in the wait queue.
 */
#define _GNU_SOURCE
#include <beambox/pool.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
/*
 * Consecutive failed spawns after which, with no worker up, callers stop
 * waiting (-EAGAIN). One failure is not enough: a worker killed while it
 * starts fails its spawn too.
 */
#define SPAWN_FAILS_GIVE_UP 5

enum slot_state { SLOT_EMPTY, SLOT_STARTING, SLOT_IDLE, SLOT_BUSY, SLOT_RETIRING, SLOT_FREEING };

/* Why a worker leaves its slot (each but SHUTDOWN has a counter). */
enum retire_why { RETIRE_DEAD, RETIRE_RECYCLE, RETIRE_FAILED, RETIRE_SHUTDOWN };

struct slot {
	enum slot_state state;
	bx_worker *w;  /* IDLE, BUSY, RETIRING, FREEING */
	unsigned jobs; /* jobs run by this worker */
};

/* A caller queued for a worker; lives on its stack. */
struct waiter {
	pthread_cond_t cv;
	struct waiter *next;
	int slot;  /* handed a worker: its slot (now BUSY) */
	int error; /* or failed: -ESHUTDOWN, -EAGAIN */
};

struct bx_pool {
	char name[BX_POOL_NAME_MAX + 1];
	unsigned n, max_waiters, max_jobs;
	int job_timeout_ms;
	bx_spawn_opts spawn;

	pthread_mutex_t lock; /* guards everything below but the keeper's own fields */
	pthread_condattr_t cattr;
	pthread_cond_t changed; /* a slot changed state, or the keeper is done */
	struct slot *slots;
	unsigned scan; /* where the next search for an idle worker starts */
	struct waiter *wait_head, *wait_tail;
	unsigned nwaiters;
	bool shutting;	      /* refuses new jobs; idle workers are freed */
	bool stopping;	      /* the keeper frees what is left and exits */
	unsigned spawn_fails; /* the keeper's consecutive failed spawns ... */
	bx_error spawn_err;   /* ... the last one's reason */
	bool keeper_joined, joining;
	bx_pool_stats st; /* the counters; the "now" fields are filled in by get_stats */

	int wake_fd; /* eventfd: something for the keeper */
	pthread_t keeper;
	/* The keeper's own. */
	struct pollfd *pfd;
	unsigned *pfd_slot;
};

struct bx_pool_job {
	bx_pool *pool;
	unsigned slot;
	bx_worker *w;
	bx_job *job;
	int result;
	bool ran;
};

/* ---------------------------------------------------------------- helpers */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec abs_time(int64_t ms)
{
	return (struct timespec){.tv_sec = (time_t)(ms / 1000),
				 .tv_nsec = (long)(ms % 1000) * 1000000};
}

/* Waits on cv until deadline (-1: none). Returns ETIMEDOUT once it has passed. */
static int cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *m, int64_t deadline)
{
	struct timespec ts;

	if (deadline < 0)
		return pthread_cond_wait(cv, m);
	ts = abs_time(deadline);
	return pthread_cond_timedwait(cv, m, &ts);
}

/* Whether the worker has exited (its pidfd is readable); never blocks. */
static bool worker_dead(bx_worker *w)
{
	struct pollfd pfd = {.fd = bx_worker_pidfd(w), .events = POLLIN};

	return poll(&pfd, 1, 0) > 0;
}

static void wake_keeper(bx_pool *p)
{
	uint64_t one = 1;

	/* Fails only when the counter is saturated: the keeper is awake anyway. */
	bx_ignore(write(p->wake_fd, &one, sizeof(one)) < 0);
}

static unsigned count_state(const bx_pool *p, enum slot_state s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n; i++)
		n += p->slots[i].state == s;
	return n;
}

/* Workers up: idle or leased. */
static unsigned count_up(const bx_pool *p)
{
	return count_state(p, SLOT_IDLE) + count_state(p, SLOT_BUSY);
}

/* "all 4 workers busy" or "no worker free (2 busy, 2 starting)". */
static void describe_busy(const bx_pool *p, char *buf, size_t len)
{
	unsigned busy = count_state(p, SLOT_BUSY);

	if (busy == p->n && p->n == 1)
		snprintf(buf, len, "its only worker busy");
	else if (busy == p->n)
		snprintf(buf, len, "all %u workers busy", p->n);
	else
		snprintf(buf, len, "no worker free (%u busy, %u starting)", busy, p->n - busy);
}

/* ---------------------------------------------------------------- slots (lock held) */

static void broadcast(bx_pool *p)
{
	pthread_cond_broadcast(&p->changed);
}

/* Fails every queued caller with code. */
static void fail_waiters(bx_pool *p, int code)
{
	while (p->wait_head) {
		struct waiter *w = p->wait_head;

		p->wait_head = w->next;
		w->error = code;
		pthread_cond_signal(&w->cv);
	}
	p->wait_tail = NULL;
	p->nwaiters = 0;
}

static void unlink_waiter(bx_pool *p, struct waiter *me)
{
	struct waiter **pp = &p->wait_head, *prev = NULL;

	while (*pp && *pp != me) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = me->next;
	if (p->wait_tail == me)
		p->wait_tail = prev;
	p->nwaiters--;
}

/* Takes slot i out of service; the keeper frees its worker. */
static void slot_retire(bx_pool *p, unsigned i, enum retire_why why)
{
	p->slots[i].state = SLOT_RETIRING;
	if (why == RETIRE_DEAD)
		p->st.replaced++;
	else if (why == RETIRE_RECYCLE)
		p->st.recycled++;
	else if (why == RETIRE_FAILED)
		p->st.retired_failed++;
	wake_keeper(p);
	broadcast(p);
}

/* Slot i has a ready worker: to the first caller in line, or idle. */
static void slot_ready(bx_pool *p, unsigned i)
{
	struct waiter *w = p->wait_head;

	if (p->shutting) {
		slot_retire(p, i, RETIRE_SHUTDOWN);
		return;
	}
	if (w) {
		p->wait_head = w->next;
		if (!p->wait_head)
			p->wait_tail = NULL;
		p->nwaiters--;
		p->slots[i].state = SLOT_BUSY;
		w->slot = (int)i;
		pthread_cond_signal(&w->cv);
	} else {
		p->slots[i].state = SLOT_IDLE;
	}
	broadcast(p);
}

static int find_slot(const bx_pool *p, enum slot_state s)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->slots[i].state == s)
			return (int)i;
	return -1;
}

/* An idle slot, searching round-robin so that jobs spread over the workers. */
static int find_idle(bx_pool *p)
{
	for (unsigned k = 0; k < p->n; k++) {
		unsigned i = (p->scan + k) % p->n;

		if (p->slots[i].state == SLOT_IDLE) {
			p->scan = (i + 1) % p->n;
			return (int)i;
		}
	}
	return -1;
}

/* ---------------------------------------------------------------- the keeper */

/* Frees one retiring worker (or, when shutting down, an idle one). 1 if it did. */
static int keeper_free_one(bx_pool *p)
{
	int i = find_slot(p, SLOT_RETIRING);
	bx_worker *w;

	if (i < 0 && p->shutting)
		i = find_slot(p, SLOT_IDLE);
	if (i < 0)
		return 0;
	w = p->slots[i].w;
	p->slots[i].state = SLOT_FREEING;
	pthread_mutex_unlock(&p->lock);
	bx_worker_free(w); /* closes its connection; a lingering worker is killed after 2 s */
	pthread_mutex_lock(&p->lock);
	p->slots[i] = (struct slot){.state = SLOT_EMPTY};
	broadcast(p);
	return 1;
}

/* Starts a worker in slot i (EMPTY). */
static void keeper_spawn(bx_pool *p, unsigned i, int *backoff, int64_t *next_try)
{
	bx_worker *w = NULL;
	bx_error err;
	int r;

	p->slots[i].state = SLOT_STARTING;
	pthread_mutex_unlock(&p->lock);
	bx_error_clear(&err);
	r = bx_spawn(&p->spawn, &w, &err);
	pthread_mutex_lock(&p->lock);
	if (r == 0) {
		p->st.spawned++;
		p->spawn_fails = 0;
		*backoff = 0;
		p->slots[i] = (struct slot){.state = SLOT_STARTING, .w = w};
		slot_ready(p, i);
		return;
	}
	p->st.spawn_failures++;
	p->slots[i].state = SLOT_EMPTY;
	p->spawn_fails++;
	p->spawn_err = err;
	if (p->spawn_err.code >= 0)
		p->spawn_err.code = r;
	*backoff = *backoff ? (*backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2)
			    : BACKOFF_MIN_MS;
	*next_try = now_ms() + *backoff;
	/* With no worker up, waiting would be waiting for a spawn that fails. */
	if (p->spawn_fails >= SPAWN_FAILS_GIVE_UP && count_up(p) == 0)
		fail_waiters(p, -EAGAIN);
	broadcast(p);
}

/*
 * Sleeps until woken, an idle worker dies, or the back-off ends; marks the
 * idle workers found dead for replacement.
 */
static void keeper_sleep(bx_pool *p, int64_t next_try)
{
	unsigned nfds = 0;
	int timeout = -1;
	uint64_t count;

	p->pfd[nfds++] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
	for (unsigned i = 0; i < p->n; i++)
		if (p->slots[i].state == SLOT_IDLE) {
			p->pfd_slot[nfds] = i;
			p->pfd[nfds++] =
			    (struct pollfd){.fd = bx_worker_pidfd(p->slots[i].w), .events = POLLIN};
		}
	if (!p->shutting && find_slot(p, SLOT_EMPTY) >= 0) {
		int64_t left = next_try - now_ms();
		timeout = left > 0 ? (int)left : 0;
	}
	pthread_mutex_unlock(&p->lock);
	/* The pidfds stay valid: only this thread frees workers. */
	if (poll(p->pfd, nfds, timeout) > 0 && (p->pfd[0].revents & POLLIN))
		bx_ignore(read(p->wake_fd, &count, sizeof(count)) < 0);
	pthread_mutex_lock(&p->lock);
	for (unsigned k = 1; k < nfds; k++) {
		unsigned i = p->pfd_slot[k];

		if (p->pfd[k].revents && p->slots[i].state == SLOT_IDLE &&
		    bx_worker_pidfd(p->slots[i].w) == p->pfd[k].fd)
			slot_retire(p, i, RETIRE_DEAD);
	}
}

static void *keeper_main(void *arg)
{
	bx_pool *p = arg;
	int backoff = 0;
	int64_t next_try = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		int i;

		if (keeper_free_one(p))
			continue;
		if (p->stopping)
			break;
		i = p->shutting ? -1 : find_slot(p, SLOT_EMPTY);
		if (i >= 0 && now_ms() >= next_try) {
			keeper_spawn(p, (unsigned)i, &backoff, &next_try);
			continue;
		}
		keeper_sleep(p, next_try);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---------------------------------------------------------------- the pool */

BX_API void bx_pool_opts_init(bx_pool_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->name = "pool";
	opts->workers = 2;
	opts->max_waiters = 64;
	bx_spawn_opts_init(&opts->spawn);
}

/* Everything but the keeper thread. */
static void pool_release_memory(bx_pool *p)
{
	if (!p)
		return;
	bx_close_and_reset(&p->wake_fd);
	pthread_cond_destroy(&p->changed);
	pthread_condattr_destroy(&p->cattr);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p->pfd);
	free(p->pfd_slot);
	free(p);
}

/* Stops the keeper (which frees every worker not leased) and waits for it. Lock held. */
static void stop_keeper(bx_pool *p)
{
	p->stopping = true;
	wake_keeper(p);
	while (p->joining)
		pthread_cond_wait(&p->changed, &p->lock);
	if (p->keeper_joined)
		return;
	p->joining = true;
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->keeper, NULL);
	pthread_mutex_lock(&p->lock);
	p->keeper_joined = true;
	p->joining = false;
	broadcast(p);
}

/* Starts the keeper with every signal blocked (it inherits the creating thread's mask). */
static int start_keeper(bx_pool *p)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&p->keeper, NULL, keeper_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

BX_API int bx_pool_new(const bx_pool_opts *opts, bx_pool **out, bx_error *err)
{
	bx_pool *p;
	int r;

	if (!opts || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_pool_new: no options");
	if (!opts->name || !*opts->name || strlen(opts->name) > BX_POOL_NAME_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "bx_pool_new: the name must be 1..%d bytes", BX_POOL_NAME_MAX);
	if (opts->workers < 1 || opts->workers > BX_POOL_WORKERS_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "pool '%s': workers = %u, must be 1..%d",
			       opts->name, opts->workers, BX_POOL_WORKERS_MAX);
	if (opts->job_timeout_ms < 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "pool '%s': job_timeout_ms = %d",
			       opts->name, opts->job_timeout_ms);
	if (opts->max_waiters > BX_POOL_WAITERS_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "pool '%s': max_waiters = %u, must be at most %d", opts->name,
			       opts->max_waiters, BX_POOL_WAITERS_MAX);
	p = calloc(1, sizeof(*p));
	if (!p)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	p->wake_fd = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&p->cattr);
	pthread_condattr_setclock(&p->cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &p->cattr);
	snprintf(p->name, sizeof(p->name), "%s", opts->name);
	p->n = opts->workers;
	p->max_waiters = opts->max_waiters;
	p->max_jobs = opts->max_jobs_per_worker;
	p->job_timeout_ms = opts->job_timeout_ms;
	p->spawn = opts->spawn;
	p->slots = calloc(p->n, sizeof(*p->slots));
	p->pfd = calloc(p->n + 1, sizeof(*p->pfd));
	p->pfd_slot = calloc(p->n + 1, sizeof(*p->pfd_slot));
	if (!p->slots || !p->pfd || !p->pfd_slot) {
		pool_release_memory(p);
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	}
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "pool '%s': eventfd: %m", p->name);
		pool_release_memory(p);
		return r;
	}
	r = start_keeper(p);
	if (r < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "pool '%s': pthread_create: %s", p->name,
			    strerror(-r));
		pool_release_memory(p);
		return r;
	}

	/* Every worker ready, or the first failure (a bad policy fails the first spawn). */
	pthread_mutex_lock(&p->lock);
	while (count_up(p) < p->n && p->spawn_fails == 0)
		pthread_cond_wait(&p->changed, &p->lock);
	if (p->spawn_fails > 0) {
		r = bx_fail(err, p->spawn_err.code, BX_NO_OFFSET,
			    "pool '%s': starting worker %llu of %u: %s", p->name, p->st.spawned + 1,
			    p->n, p->spawn_err.text);
		p->shutting = true;
		stop_keeper(p);
		pthread_mutex_unlock(&p->lock);
		pool_release_memory(p);
		return r;
	}
	pthread_mutex_unlock(&p->lock);
	*out = p;
	return 0;
}

/* ---------------------------------------------------------------- leases */

static int fail_shutdown(const bx_pool *p, bx_error *err)
{
	return bx_fail(err, -ESHUTDOWN, BX_NO_OFFSET, "pool '%s' is shutting down", p->name);
}

static int fail_no_worker(const bx_pool *p, bx_error *err)
{
	return bx_fail(err, -EAGAIN, BX_NO_OFFSET,
		       "pool '%s': no worker available: starting one failed: %s", p->name,
		       p->spawn_err.text);
}

/* Takes a slot with a worker (now BUSY), waiting if need be. Lock held. */
static int take_worker(bx_pool *p, int wait_ms, int64_t deadline, unsigned *slot, bx_error *err)
{
	struct waiter me = {.slot = -1};
	char why[96];
	int i;

	if (p->shutting)
		return fail_shutdown(p, err);
	i = find_idle(p);
	if (i >= 0) {
		p->slots[i].state = SLOT_BUSY;
		*slot = (unsigned)i;
		return 0;
	}
	if (p->spawn_fails >= SPAWN_FAILS_GIVE_UP && count_up(p) == 0)
		return fail_no_worker(p, err);
	describe_busy(p, why, sizeof(why));
	if (wait_ms == 0) {
		p->st.rejected++;
		return bx_fail(err, -EBUSY, BX_NO_OFFSET, "pool '%s': %s", p->name, why);
	}
	if (p->nwaiters >= p->max_waiters) {
		p->st.rejected++;
		return bx_fail(err, -EBUSY, BX_NO_OFFSET, "pool '%s': %s and %u callers waiting",
			       p->name, why, p->nwaiters);
	}

	/*
	 * Queued on our stack: whoever ends the wait takes us off the queue
	 * (slot_ready hands us a worker, fail_waiters fails us, or we unlink
	 * ourselves at the deadline), always before we return.
	 */
	pthread_cond_init(&me.cv, &p->cattr);
	if (p->wait_tail)
		p->wait_tail->next = &me;
	else
		p->wait_head = &me; /* cppcheck-suppress autoVariables ; unlinked before return */
	p->wait_tail = &me;	    /* cppcheck-suppress autoVariables ; unlinked before return */
	p->nwaiters++;
	while (me.slot < 0 && me.error == 0)
		if (cond_wait_until(&me.cv, &p->lock, deadline) == ETIMEDOUT && me.slot < 0 &&
		    me.error == 0) {
			unlink_waiter(p, &me);
			break;
		}
	pthread_cond_destroy(&me.cv);
	if (me.slot >= 0) {
		*slot = (unsigned)me.slot;
		return 0;
	}
	if (me.error == -ESHUTDOWN)
		return fail_shutdown(p, err);
	if (me.error == -EAGAIN)
		return fail_no_worker(p, err);
	p->st.wait_timeouts++;
	describe_busy(p, why, sizeof(why));
	return bx_fail(err, -ETIMEDOUT, BX_NO_OFFSET, "pool '%s': no worker free after %d ms (%s)",
		       p->name, wait_ms, why);
}

BX_API int bx_pool_job_new(bx_pool *p, const char *name, int wait_ms, bx_pool_job **out,
			   bx_error *err)
{
	int64_t deadline = wait_ms > 0 ? now_ms() + wait_ms : -1;
	bx_pool_job *pj;
	int r;

	if (!p || !name || !out || wait_ms < -1)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_pool_job_new: bad arguments");
	pj = calloc(1, sizeof(*pj));
	if (!pj)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	pj->pool = p;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		r = take_worker(p, wait_ms, deadline, &pj->slot, err);
		if (r < 0) {
			pthread_mutex_unlock(&p->lock);
			free(pj);
			return r;
		}
		pj->w = p->slots[pj->slot].w;
		pthread_mutex_unlock(&p->lock);
		/* Killed while idle, before the keeper noticed: replace it, take another. */
		if (!worker_dead(pj->w))
			break;
		pthread_mutex_lock(&p->lock);
		slot_retire(p, pj->slot, RETIRE_DEAD);
		pthread_mutex_unlock(&p->lock);
	}
	r = bx_job_new(bx_worker_engine(pj->w), name, &pj->job);
	if (r < 0) {
		pthread_mutex_lock(&p->lock);
		slot_ready(p, pj->slot);
		pthread_mutex_unlock(&p->lock);
		free(pj);
		return bx_fail(err, r, BX_NO_OFFSET, "pool '%s': bx_job_new: %s", p->name,
			       strerror(-r));
	}
	if (p->job_timeout_ms > 0)
		bx_job_set_timeout(pj->job, p->job_timeout_ms);
	*out = pj;
	return 0;
}

BX_API bx_job *bx_pool_job_get(bx_pool_job *pj)
{
	return pj ? pj->job : NULL;
}

BX_API pid_t bx_pool_job_pid(const bx_pool_job *pj)
{
	return pj ? bx_worker_serving_pid(pj->w) : -1;
}

BX_API int bx_pool_job_run(bx_pool_job *pj, bx_error *err)
{
	bx_pool *p;
	int r;

	if (!pj)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_pool_job_run: no job");
	if (pj->ran)
		return bx_fail(err, -EALREADY, BX_NO_OFFSET, "job %.64s already ran",
			       bx_job_name(pj->job));
	p = pj->pool;
	pj->ran = true;
	r = bx_job_run(pj->job, err);
	pj->result = r;
	pthread_mutex_lock(&p->lock);
	p->st.jobs_run++;
	if (r < 0)
		p->st.jobs_failed++;
	p->slots[pj->slot].jobs++;
	pthread_mutex_unlock(&p->lock);
	return r;
}

/*
 * The proxy engine killed the worker for these: its death is the caller's
 * doing (a timeout or a cancel), not the worker's.
 */
static bool killed_by_proxy(int result)
{
	return result == -ETIMEDOUT || result == -ECANCELED;
}

BX_API void bx_pool_job_free(bx_pool_job *pj)
{
	bx_pool *p;
	struct slot *s;
	bool dead, failed;

	if (!pj)
		return;
	p = pj->pool;
	bx_job_free(pj->job);
	dead = worker_dead(pj->w);
	failed = pj->ran && pj->result < 0 && pj->result != -EREMOTEIO;
	pthread_mutex_lock(&p->lock);
	s = &p->slots[pj->slot];
	if (failed && !(dead && !killed_by_proxy(pj->result)))
		slot_retire(p, pj->slot, RETIRE_FAILED);
	else if (dead)
		slot_retire(p, pj->slot, RETIRE_DEAD);
	else if (p->max_jobs && s->jobs >= p->max_jobs)
		slot_retire(p, pj->slot, RETIRE_RECYCLE);
	else
		slot_ready(p, pj->slot);
	pthread_mutex_unlock(&p->lock);
	free(pj);
}

/* ---------------------------------------------------------------- state, shutdown */

BX_API int bx_pool_wait_full(bx_pool *p, int timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	int r = 0;

	pthread_mutex_lock(&p->lock);
	while (!p->shutting && count_up(p) < p->n && p->spawn_fails < SPAWN_FAILS_GIVE_UP)
		if (cond_wait_until(&p->changed, &p->lock, deadline) == ETIMEDOUT) {
			r = count_up(p) < p->n ? -ETIMEDOUT : 0;
			break;
		}
	if (p->shutting)
		r = -ESHUTDOWN;
	else if (r == 0 && count_up(p) < p->n)
		r = -EAGAIN;
	pthread_mutex_unlock(&p->lock);
	return r;
}

BX_API void bx_pool_get_stats(bx_pool *p, bx_pool_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	out->workers = p->n;
	out->idle = count_state(p, SLOT_IDLE);
	out->busy = count_state(p, SLOT_BUSY);
	out->starting = p->n - out->idle - out->busy;
	out->waiters = p->nwaiters;
	pthread_mutex_unlock(&p->lock);
}

/* Waits until no worker is leased, or deadline. Lock held. */
static unsigned wait_unleased(bx_pool *p, int64_t deadline)
{
	unsigned busy;

	while ((busy = count_state(p, SLOT_BUSY)) > 0)
		if (cond_wait_until(&p->changed, &p->lock, deadline) == ETIMEDOUT)
			return count_state(p, SLOT_BUSY);
	return busy;
}

BX_API int bx_pool_shutdown(bx_pool *p, int timeout_ms, bx_error *err)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	unsigned busy;

	pthread_mutex_lock(&p->lock);
	if (!p->shutting) {
		p->shutting = true;
		fail_waiters(p, -ESHUTDOWN);
		wake_keeper(p); /* frees the idle workers now */
	}
	busy = wait_unleased(p, deadline);
	if (busy > 0) {
		/* Forced: their jobs end with the worker's death, then come back. */
		for (unsigned i = 0; i < p->n; i++)
			if (p->slots[i].state == SLOT_BUSY)
				bx_ignore(bx_worker_kill(p->slots[i].w, SIGKILL));
		busy = wait_unleased(p, now_ms() + BX_POOL_KILL_GRACE_MS);
	}
	if (busy > 0) {
		pthread_mutex_unlock(&p->lock);
		return bx_fail(err, -ETIMEDOUT, BX_NO_OFFSET,
			       "pool '%s': %u pool job%s not freed (their workers were killed)",
			       p->name, busy, busy == 1 ? "" : "s");
	}
	stop_keeper(p);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

BX_API void bx_pool_free(bx_pool *p)
{
	if (!p)
		return;
	bx_ignore(bx_pool_shutdown(p, -1, NULL));
	pool_release_memory(p);
}
