/* SPDX-License-Identifier: MIT */
/*
 * bx_pool with real confined workers (this binary, re-executed): dispatch,
 * recycling after K jobs and after a timeout, replacement of dead workers,
 * back-pressure (queue full, wait deadline, FIFO order), shutdown (waiting
 * and forced), and a load test: threads running jobs while workers are
 * killed at random from outside. Every handler execution appends a line to
 * an O_APPEND file passed as the job's stdout, so a job that ran twice, or
 * reported success without running, is caught. After every test the fd
 * count is what it was and no child process is left.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/pool.h>

/*
 * ThreadSanitizer cannot tell that spawn's child, between clone3 and execve,
 * is another process (clone3 is a raw system call, not its fork
 * interceptor): the child's fd calls (dup2, open of /proc/self/uid_map)
 * look like the spawning thread's and "race" with the fds other threads use
 * meanwhile. Only a pool spawns while other threads run jobs, so only this
 * test meets it. Nothing else is suppressed.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:child_exec\n";
}
#endif
#endif

/*
 * How a worker whose serving process got SIGKILL is reported. Under TSan the
 * process above it (a monitor) may make a call its filter refuses when its
 * child dies, and die by SIGSYS instead (the artefact test_spawn's
 * test_crash_noticed is skipped for).
 */
static bool killed_text(const char *text)
{
	if (strstr(text, "killed by signal 9 (SIGKILL)"))
		return true;
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
	if (strstr(text, "killed by signal 31 (SIGSYS)"))
		return true;
#endif
#endif
	return false;
}

/* ---------------------------------------------------------------- handlers (run in the worker) */

static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < bx_job_argc(job); i++)
		bx_job_printf(job, "%s%s", i ? " " : "", bx_job_arg(job, i));
	bx_job_printf(job, "\n");
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The answer to job ID: never 0, so a status 0 is always wrong. */
static int answer(long id)
{
	return 1 + (int)(id % 250);
}

/*
 * Appends "ID\n" to its stdout (an O_APPEND file: one write, one line), says
 * "ok ID" on stderr, takes a moment (so kills land mid-job), and returns the
 * answer.
 */
static int h_count(bx_job *job, void *ctx)
{
	long id = atol(bx_job_arg(job, 0));

	(void)ctx;
	bx_job_printf(job, "%ld\n", id);
	bx_job_eprintf(job, "ok %ld", id);
	sleep_ms(atol(bx_job_arg(job, 1)));
	return answer(id);
}

static int h_sleep(bx_job *job, void *ctx)
{
	(void)ctx;
	sleep_ms(atol(bx_job_arg(job, 0)));
	return 0;
}

static __attribute__((noreturn)) int h_hang(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	for (;;)
		pause();
}

static int install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "echo", h_echo, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "count", h_count, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "sleep", h_sleep, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "hang", h_hang, NULL);
	return r;
}

/* ---------------------------------------------------------------- helpers */

static bx_pool *pool_or_fail(const char *name, unsigned workers, unsigned max_waiters,
			     unsigned max_jobs)
{
	bx_pool_opts o;
	bx_pool *p = NULL;
	bx_error err;
	int r;

	bx_pool_opts_init(&o);
	bx_test_spawn_opts(&o.spawn);
	o.name = name;
	o.workers = workers;
	o.max_waiters = max_waiters;
	o.max_jobs_per_worker = max_jobs;
	r = bx_pool_new(&o, &p, &err);
	if (r < 0)
		fail_msg("bx_pool_new: %d %s", r, err.text);
	return p;
}

static bx_pool_stats stats(bx_pool *p)
{
	bx_pool_stats s;

	bx_pool_get_stats(p, &s);
	return s;
}

/* Runs "echo WORD" through the pool; checks the output; returns the serving pid. */
static pid_t echo_job(bx_pool *p, const char *word)
{
	bx_pool_job *pj = NULL;
	bx_error err;
	char want[64];
	pid_t pid;
	int r;

	r = bx_pool_job_new(p, "echo", -1, &pj, &err);
	if (r < 0)
		fail_msg("bx_pool_job_new: %d %s", r, err.text);
	assert_int_equal(bx_job_add_arg(bx_pool_job_get(pj), word), 0);
	assert_int_equal(bx_job_capture_stdout(bx_pool_job_get(pj), 64), 0);
	r = bx_pool_job_run(pj, &err);
	if (r != 0)
		fail_msg("echo job: %d %s", r, err.text);
	snprintf(want, sizeof(want), "%s\n", word);
	assert_string_equal(bx_job_output(bx_pool_job_get(pj), 1, NULL, NULL), want);
	pid = bx_pool_job_pid(pj);
	assert_true(pid > 0);
	bx_pool_job_free(pj);
	return pid;
}

/* Waits (up to 10 s) until cond(stats) holds. */
#define WAIT_FOR(p, cond)                                                                          \
	do {                                                                                       \
		bx_pool_stats s_;                                                                  \
		int tries_ = 0;                                                                    \
		for (;;) {                                                                         \
			bx_pool_get_stats((p), &s_);                                               \
			if (cond)                                                                  \
				break;                                                             \
			if (++tries_ > 2000)                                                       \
				fail_msg("timed out waiting for " #cond);                          \
			sleep_ms(5);                                                               \
		}                                                                                  \
	} while (0)

static void assert_no_children(void)
{
	/* No child but the zygote (see tests_common.h). */
	bx_test_assert_no_children();
}

static int setup(void **state)
{
	return bx_test_fd_setup(state);
}

static int teardown(void **state)
{
	assert_no_children();
	return bx_test_fd_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---------------------------------------------------------------- killing from outside */

/* "Key:\tvalue" of /proc/PID/status. */
static int status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;
	int r = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			char *v = line + klen + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(val, len, "%s", v);
			r = 0;
			break;
		}
	fclose(f);
	return r;
}

/*
 * The serving processes of our workers: our children's children (the
 * process bx_spawn started is a monitor or an init above the serving one),
 * found through /proc/PID/task/TID/children. Returns how many, at most max.
 */
static size_t serving_pids(pid_t *out, size_t max)
{
	char path[96];
	size_t n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		FILE *f;
		int child;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/children", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (n < max && fscanf(f, "%d", &child) == 1) {
			char cpath[96];
			FILE *g;
			int grandchild;

			snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/children", child, child);
			g = fopen(cpath, "re");
			if (!g)
				continue;
			while (n < max && fscanf(g, "%d", &grandchild) == 1)
				out[n++] = grandchild;
			fclose(g);
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * SIGKILLs pid if it is still the serving process of one of our workers: in
 * a pid namespace below ours, its parent our child. The process is pinned
 * by a pidfd before /proc is read, and the pidfd still shows it alive
 * afterwards: a recycled pid is never signalled.
 */
static int kill_serving(pid_t pid)
{
	char val[128], ppid_of_parent[32];
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd;
	int r = -1;

	if (pidfd < 0)
		return -1;
	if (status_field(pid, "NSpid", val, sizeof(val)) < 0)
		goto out;
	if (!strchr(val, '\t')) /* one pid: not in a namespace below ours */
		goto out;
	if (status_field(pid, "PPid", val, sizeof(val)) < 0 ||
	    status_field(atoi(val), "PPid", ppid_of_parent, sizeof(ppid_of_parent)) < 0 ||
	    atoi(ppid_of_parent) != (int)getpid())
		goto out;
	pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&pfd, 1, 0) != 0)
		goto out;
	r = (int)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
out:
	close(pidfd);
	return r;
}

/* ---------------------------------------------------------------- tests */

static void test_jobs_spread_over_workers(void **state)
{
	bx_pool *p = pool_or_fail("basic", 2, 4, 0);
	bx_pool_stats s = stats(p);
	pid_t a, b;
	(void)state;

	assert_int_equal(s.workers, 2);
	assert_int_equal(s.idle, 2);
	assert_int_equal(s.spawned, 2);
	a = echo_job(p, "one");
	b = echo_job(p, "two");
	assert_true(a != b); /* round-robin over idle workers */
	assert_int_equal(echo_job(p, "three"), a);
	s = stats(p);
	assert_int_equal(s.jobs_run, 3);
	assert_int_equal(s.jobs_failed, 0);
	assert_int_equal(s.idle, 2);
	bx_pool_free(p);
}

static void test_bad_options(void **state)
{
	bx_pool_opts o;
	bx_pool *p = NULL;
	bx_error err;
	static const char *const bad_env[] = {"A=B", NULL};
	(void)state;

	bx_pool_opts_init(&o);
	o.workers = 0;
	assert_int_equal(bx_pool_new(&o, &p, &err), -EINVAL);
	assert_non_null(strstr(err.text, "workers = 0"));
	o.workers = BX_POOL_WORKERS_MAX + 1;
	assert_int_equal(bx_pool_new(&o, &p, &err), -EINVAL);
	bx_pool_opts_init(&o);
	o.name = "";
	assert_int_equal(bx_pool_new(&o, &p, &err), -EINVAL);

	/* A spawn that cannot work fails the pool with spawn's reason, and leaks nothing. */
	bx_pool_opts_init(&o);
	o.name = "bad";
	o.spawn.env_keep = bad_env;
	assert_int_equal(bx_pool_new(&o, &p, &err), -EINVAL);
	assert_non_null(strstr(err.text, "pool 'bad': starting worker 1 of 2: "));
	assert_null(p);
}

static void test_recycle_after_k_jobs(void **state)
{
	bx_pool *p = pool_or_fail("recycle", 1, 4, 3);
	pid_t pids[7];
	bx_pool_stats s;
	(void)state;

	for (int i = 0; i < 7; i++) {
		char word[16];

		snprintf(word, sizeof(word), "job%d", i);
		pids[i] = echo_job(p, word);
	}
	assert_true(pids[0] == pids[1] && pids[1] == pids[2]);
	assert_true(pids[3] == pids[4] && pids[4] == pids[5]);
	assert_true(pids[2] != pids[3] && pids[5] != pids[6]);
	assert_int_equal(bx_pool_wait_full(p, 10000), 0);
	s = stats(p);
	assert_int_equal(s.recycled, 2);
	assert_int_equal(s.spawned, 3);
	assert_int_equal(s.replaced, 0);
	assert_int_equal(s.jobs_run, 7);
	bx_pool_free(p);
}

static void test_timeout_retires_worker(void **state)
{
	bx_pool *p = pool_or_fail("timeout", 1, 4, 0);
	bx_pool_job *pj = NULL;
	bx_error err;
	bx_pool_stats s;
	pid_t before, after;
	(void)state;

	before = echo_job(p, "before");
	assert_int_equal(bx_pool_job_new(p, "hang", -1, &pj, &err), 0);
	bx_job_set_timeout(bx_pool_job_get(pj), 100);
	assert_int_equal(bx_pool_job_run(pj, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.text, "timed out after 100 ms"));
	assert_int_equal(bx_pool_job_run(pj, &err), -EALREADY);
	bx_pool_job_free(pj);
	assert_int_equal(bx_pool_wait_full(p, 10000), 0);
	after = echo_job(p, "after");
	assert_true(before != after);
	s = stats(p);
	assert_int_equal(s.retired_failed, 1);
	assert_int_equal(s.replaced, 0);
	assert_int_equal(s.spawned, 2);
	assert_int_equal(s.jobs_failed, 1);
	bx_pool_free(p);
}

/* opts.job_timeout_ms applies to every pool job. */
static void test_default_job_timeout(void **state)
{
	bx_pool_opts o;
	bx_pool *p = NULL;
	bx_pool_job *pj = NULL;
	bx_error err;
	(void)state;

	bx_pool_opts_init(&o);
	bx_test_spawn_opts(&o.spawn);
	o.name = "deadline";
	o.workers = 1;
	o.job_timeout_ms = 150;
	assert_int_equal(bx_pool_new(&o, &p, &err), 0);
	assert_int_equal(bx_pool_job_new(p, "hang", -1, &pj, &err), 0);
	assert_int_equal(bx_pool_job_run(pj, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.text, "timed out after 150 ms"));
	bx_pool_job_free(pj);
	assert_int_equal(bx_pool_wait_full(p, 10000), 0);
	echo_job(p, "next");
	assert_int_equal(stats(p).retired_failed, 1);
	bx_pool_free(p);
	o.job_timeout_ms = -1;
	assert_int_equal(bx_pool_new(&o, &p, &err), -EINVAL);
}

/*
 * Replacements that keep failing: callers are told (-EAGAIN) instead of
 * waiting for a worker that cannot come, and the pool recovers by itself
 * once spawning works again. The failure is made by closing the fd the pool
 * gives workers as stderr (borrowed: a caller must not do this), at a number
 * nothing else will take meanwhile.
 */
static void test_spawn_failures_then_recovery(void **state)
{
	const int errfd = 900;
	bx_pool_opts o;
	bx_pool *p = NULL;
	bx_pool_job *pj = NULL;
	bx_error err;
	bx_pool_stats s;
	pid_t pids[4];
	(void)state;

	assert_int_equal(dup2(STDERR_FILENO, errfd), errfd);
	bx_pool_opts_init(&o);
	bx_test_spawn_opts(&o.spawn);
	o.name = "flaky";
	o.workers = 1;
	o.spawn.stderr_fd = errfd;
	assert_int_equal(bx_pool_new(&o, &p, &err), 0);
	close(errfd);
	assert_int_equal(serving_pids(pids, 4), 1);
	assert_int_equal(kill_serving(pids[0]), 0);
	WAIT_FOR(p, s_.replaced == 1);
	/* 5 failed spawns take 10+20+40+80 ms of back-off between them. */
	assert_int_equal(bx_pool_wait_full(p, 10000), -EAGAIN);
	assert_int_equal(bx_pool_job_new(p, "echo", -1, &pj, &err), -EAGAIN);
	assert_non_null(
	    strstr(err.text, "pool 'flaky': no worker available: starting one failed: "));
	s = stats(p);
	assert_true(s.spawn_failures >= 5);
	assert_int_equal(s.idle + s.busy, 0);
	/* Spawning works again: the next attempt (at most 1 s away) brings the worker back. */
	assert_int_equal(dup2(STDERR_FILENO, errfd), errfd);
	WAIT_FOR(p, s_.idle == 1);
	echo_job(p, "back");
	bx_pool_free(p);
	close(errfd);
}

struct canceller {
	bx_pool_job *pj;
};

static void *cancel_later(void *arg)
{
	struct canceller *c = arg;

	sleep_ms(100);
	bx_job_cancel(bx_pool_job_get(c->pj));
	return NULL;
}

static void test_cancel_retires_worker(void **state)
{
	bx_pool *p = pool_or_fail("cancel", 1, 4, 0);
	struct canceller c = {0};
	pthread_t th;
	bx_error err;
	(void)state;

	assert_int_equal(bx_pool_job_new(p, "hang", -1, &c.pj, &err), 0);
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	assert_int_equal(bx_pool_job_run(c.pj, &err), -ECANCELED);
	pthread_join(th, NULL);
	bx_pool_job_free(c.pj);
	assert_int_equal(bx_pool_wait_full(p, 10000), 0);
	echo_job(p, "fresh");
	assert_int_equal(stats(p).retired_failed, 1);
	bx_pool_free(p);
}

static void test_dead_idle_worker_replaced(void **state)
{
	bx_pool *p = pool_or_fail("dead", 2, 4, 0);
	pid_t victim = echo_job(p, "first"), pids[8];
	size_t n;
	(void)state;

	n = serving_pids(pids, 8);
	assert_int_equal(n, 2);
	assert_true(pids[0] == victim || pids[1] == victim);
	assert_int_equal(kill_serving(victim), 0);
	/* Replaced in the background, with no job asking. */
	WAIT_FOR(p, s_.replaced == 1 && s_.idle == 2);
	assert_int_equal(stats(p).spawned, 3);
	assert_true(echo_job(p, "a") != victim);
	assert_true(echo_job(p, "b") != victim);
	bx_pool_free(p);
}

static void test_dead_leased_worker(void **state)
{
	bx_pool *p = pool_or_fail("leased", 1, 4, 0);
	bx_pool_job *pj = NULL;
	bx_error err;
	int r;
	(void)state;

	/* Killed while leased: the job fails with the death, never status 0; then replaced. */
	assert_int_equal(bx_pool_job_new(p, "echo", -1, &pj, &err), 0);
	assert_int_equal(kill_serving(bx_pool_job_pid(pj)), 0);
	sleep_ms(50);
	r = bx_pool_job_run(pj, &err);
	if (r >= 0 || !killed_text(err.text))
		fail_msg("job on a killed worker: %d '%s'", r, err.text);
	bx_pool_job_free(pj);
	assert_int_equal(bx_pool_wait_full(p, 10000), 0);
	echo_job(p, "again");
	assert_int_equal(stats(p).replaced, 1);
	bx_pool_free(p);
}

struct queued {
	bx_pool *p;
	int wait_ms;
	int result;
	int order; /* when it got its worker (1 = first) */
	long waited_ms;
	bx_error err;
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static int order_next;

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *queue_for_worker(void *arg)
{
	struct queued *q = arg;
	bx_pool_job *pj = NULL;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	q->result = bx_pool_job_new(q->p, "echo", q->wait_ms, &pj, &q->err);
	q->waited_ms = elapsed_ms(&t0);
	if (q->result < 0)
		return NULL;
	pthread_mutex_lock(&order_lock);
	q->order = ++order_next;
	pthread_mutex_unlock(&order_lock);
	q->result = bx_pool_job_run(pj, &q->err);
	bx_pool_job_free(pj);
	return NULL;
}

static void test_back_pressure(void **state)
{
	bx_pool *p = pool_or_fail("bp", 1, 2, 0);
	bx_pool_job *held = NULL, *pj = NULL;
	struct queued q[3];
	pthread_t th[3];
	bx_error err;
	bx_pool_stats s;
	struct timespec t0;
	long waited;
	(void)state;

	assert_int_equal(bx_pool_job_new(p, "echo", 0, &held, &err), 0);
	/* Not waiting at all. */
	assert_int_equal(bx_pool_job_new(p, "echo", 0, &pj, &err), -EBUSY);
	assert_string_equal(err.text, "pool 'bp': its only worker busy");
	/* Waiting, with a deadline. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(bx_pool_job_new(p, "echo", 150, &pj, &err), -ETIMEDOUT);
	waited = elapsed_ms(&t0);
	assert_true(waited >= 140);
	assert_string_equal(err.text,
			    "pool 'bp': no worker free after 150 ms (its only worker busy)");
	/* Two callers queue (one after the other), the third finds the queue full. */
	order_next = 0;
	for (int i = 0; i < 2; i++) {
		q[i] = (struct queued){.p = p, .wait_ms = -1};
		assert_int_equal(pthread_create(&th[i], NULL, queue_for_worker, &q[i]), 0);
		WAIT_FOR(p, s_.waiters == (unsigned)i + 1);
	}
	q[2] = (struct queued){.p = p, .wait_ms = 5000};
	queue_for_worker(&q[2]);
	assert_int_equal(q[2].result, -EBUSY);
	assert_string_equal(q[2].err.text, "pool 'bp': its only worker busy and 2 callers waiting");
	assert_true(q[2].waited_ms < 1000); /* refused at once, not after its deadline */
	/* Giving the worker back serves the queue in order. */
	bx_pool_job_free(held);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(q[i].result, 0);
		assert_int_equal(q[i].order, i + 1);
	}
	s = stats(p);
	assert_int_equal(s.rejected, 2);
	assert_int_equal(s.wait_timeouts, 1);
	assert_int_equal(s.waiters, 0);
	assert_int_equal(s.jobs_run, 2);
	bx_pool_free(p);
}

static void test_more_workers_plural_text(void **state)
{
	bx_pool *p = pool_or_fail("x", 2, 0, 0);
	bx_pool_job *a = NULL, *b = NULL, *c = NULL;
	bx_error err;
	(void)state;

	assert_int_equal(bx_pool_job_new(p, "echo", 0, &a, &err), 0);
	assert_int_equal(bx_pool_job_new(p, "echo", 0, &b, &err), 0);
	assert_int_equal(bx_pool_job_new(p, "echo", -1, &c, &err), -EBUSY);
	assert_string_equal(err.text, "pool 'x': all 2 workers busy and 0 callers waiting");
	bx_pool_job_free(a);
	bx_pool_job_free(b);
	bx_pool_free(p);
}

struct runner {
	bx_pool *p;
	const char *name;
	const char *arg;
	int result;
	bx_error err;
};

static void *run_one(void *arg)
{
	struct runner *r = arg;
	bx_pool_job *pj = NULL;

	r->result = bx_pool_job_new(r->p, r->name, -1, &pj, &r->err);
	if (r->result < 0)
		return NULL;
	if (r->arg && bx_job_add_arg(bx_pool_job_get(pj), r->arg) < 0)
		r->result = -ENOMEM;
	else
		r->result = bx_pool_job_run(pj, &r->err);
	bx_pool_job_free(pj);
	return NULL;
}

static void test_shutdown_waits_for_jobs(void **state)
{
	bx_pool *p = pool_or_fail("shut", 1, 4, 0);
	struct runner running = {.p = p, .name = "sleep", .arg = "300"};
	struct runner queued = {.p = p, .name = "echo"};
	pthread_t t1, t2;
	bx_pool_job *pj = NULL;
	bx_error err;
	(void)state;

	assert_int_equal(pthread_create(&t1, NULL, run_one, &running), 0);
	WAIT_FOR(p, s_.busy == 1);
	assert_int_equal(pthread_create(&t2, NULL, run_one, &queued), 0);
	WAIT_FOR(p, s_.waiters == 1);
	assert_int_equal(bx_pool_shutdown(p, -1, &err), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	/* The running job finished; the waiting caller was told. */
	assert_int_equal(running.result, 0);
	assert_int_equal(queued.result, -ESHUTDOWN);
	assert_string_equal(queued.err.text, "pool 'shut' is shutting down");
	assert_int_equal(bx_pool_job_new(p, "echo", -1, &pj, &err), -ESHUTDOWN);
	assert_int_equal(bx_pool_wait_full(p, 0), -ESHUTDOWN);
	assert_int_equal(bx_pool_shutdown(p, -1, &err), 0); /* again: nothing to do */
	assert_no_children();
	bx_pool_free(p);
}

static void test_shutdown_forced(void **state)
{
	bx_pool *p = pool_or_fail("force", 2, 4, 0);
	struct runner hung = {.p = p, .name = "hang"};
	bx_pool_job *held = NULL;
	pthread_t th;
	bx_error err;
	(void)state;

	assert_int_equal(pthread_create(&th, NULL, run_one, &hung), 0);
	WAIT_FOR(p, s_.busy == 1);
	sleep_ms(50); /* let the job reach the worker */
	assert_int_equal(bx_pool_shutdown(p, 100, &err), 0);
	pthread_join(th, NULL);
	assert_true(hung.result < 0);
	assert_non_null(strstr(hung.err.text, "killed by signal 9 (SIGKILL)"));
	bx_pool_free(p);

	/* A pool job never given back: shutdown says so, and works once it is. */
	p = pool_or_fail("held", 1, 4, 0);
	assert_int_equal(bx_pool_job_new(p, "echo", -1, &held, &err), 0);
	assert_int_equal(bx_pool_shutdown(p, 50, &err), -ETIMEDOUT);
	assert_string_equal(err.text,
			    "pool 'held': 1 pool job not freed (their workers were killed)");
	assert_true(bx_pool_job_run(held, &err) < 0);
	bx_pool_job_free(held);
	assert_int_equal(bx_pool_shutdown(p, 0, &err), 0);
	bx_pool_free(p);
}

/* ---------------------------------------------------------------- load with random kills */

#define LOAD_THREADS 6
#define LOAD_WORKERS 3

struct load {
	bx_pool *p;
	int out_fd; /* O_APPEND: every handler execution adds one line */
	int id;
	int jobs;
	long base;
	int ok, failed;
	int *results; /* per job: status, or -errno */
	char bad[512];
};

static void *load_thread(void *arg)
{
	struct load *l = arg;

	for (int i = 0; i < l->jobs; i++) {
		long id = l->base + i;
		bx_pool_job *pj = NULL;
		bx_job *job;
		bx_error err;
		char num[32], want[48];
		const char *out;
		int r;

		r = bx_pool_job_new(l->p, "count", -1, &pj, &err);
		if (r < 0) {
			snprintf(l->bad, sizeof(l->bad), "bx_pool_job_new: %d %s", r, err.text);
			return NULL;
		}
		job = bx_pool_job_get(pj);
		snprintf(num, sizeof(num), "%ld", id);
		if (bx_job_add_arg(job, num) < 0 || bx_job_add_arg(job, i % 3 ? "1" : "5") < 0 ||
		    bx_job_set_stdout_fd(job, l->out_fd) < 0 ||
		    bx_job_capture_stderr(job, 64) < 0) {
			snprintf(l->bad, sizeof(l->bad), "setting up job %ld", id);
			bx_pool_job_free(pj);
			return NULL;
		}
		bx_job_set_timeout(job, 20000); /* a hang would fail the test, not stall it */
		r = bx_pool_job_run(pj, &err);
		l->results[i] = r;
		if (r < 0 && getenv("BX_POOL_DEBUG")) /* each failure, for a human */
			fprintf(stderr, "job %ld: %d %s\n", id, r, err.text);
		snprintf(want, sizeof(want), "ok %ld", id);
		out = bx_job_output(job, 2, NULL, NULL);
		if (r >= 0 && (r != answer(id) || !out || strcmp(out, want) != 0))
			snprintf(l->bad, sizeof(l->bad), "job %ld: status %d, stderr '%.40s'", id,
				 r, out ? out : "(none)");
		else if (r < 0 && (!strstr(err.text, "worker") || r == -ETIMEDOUT))
			snprintf(l->bad, sizeof(l->bad), "job %ld: unclear failure %d '%s'", id, r,
				 err.text);
		if (r >= 0)
			l->ok++;
		else
			l->failed++;
		bx_pool_job_free(pj);
	}
	return NULL;
}

struct killer {
	volatile int stop;
	int kills;
	unsigned seed;
};

static void *killer_thread(void *arg)
{
	struct killer *k = arg;

	while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
		pid_t pids[16];
		size_t n;

		sleep_ms(10 + rand_r(&k->seed) % 40);
		n = serving_pids(pids, 16);
		if (n > 0 && kill_serving(pids[(size_t)rand_r(&k->seed) % n]) == 0)
			k->kills++;
	}
	return NULL;
}

static void test_load_with_random_kills(void **state)
{
	const char *env = getenv("BX_POOL_LOAD_JOBS");
	int per_thread = env ? atoi(env) : 60;
	bx_pool *p = pool_or_fail("load", LOAD_WORKERS, LOAD_THREADS, 0);
	struct load l[LOAD_THREADS];
	pthread_t th[LOAD_THREADS], kt;
	struct killer k = {.seed = (unsigned)getpid()};
	char path[] = "/tmp/bx-pool-count.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC | O_APPEND);
	int total = per_thread * LOAD_THREADS, ok = 0, failed = 0, lines = 0;
	char *seen;
	FILE *f;
	long id;
	bx_pool_stats s;
	(void)state;

	assert_true(fd >= 0);
	unlink(path);
	assert_true(per_thread > 0);
	seen = calloc((size_t)total, 1);
	assert_non_null(seen);
	assert_int_equal(pthread_create(&kt, NULL, killer_thread, &k), 0);
	for (int t = 0; t < LOAD_THREADS; t++) {
		l[t] = (struct load){.p = p,
				     .out_fd = fd,
				     .id = t,
				     .jobs = per_thread,
				     .base = (long)t * per_thread};
		l[t].results = calloc((size_t)per_thread, sizeof(int));
		assert_non_null(l[t].results);
		assert_int_equal(pthread_create(&th[t], NULL, load_thread, &l[t]), 0);
	}
	for (int t = 0; t < LOAD_THREADS; t++)
		pthread_join(th[t], NULL);
	__atomic_store_n(&k.stop, 1, __ATOMIC_RELEASE);
	pthread_join(kt, NULL);

	/* Each handler execution left one line; no job ran twice. */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	f = fdopen(fd, "r");
	assert_non_null(f);
	while (fscanf(f, "%ld", &id) == 1) {
		if (id < 0 || id >= total)
			fail_msg("stray line %ld", id);
		if (seen[id]++)
			fail_msg("job %ld ran twice", id);
		lines++;
	}
	fclose(f);
	for (int t = 0; t < LOAD_THREADS; t++) {
		if (l[t].bad[0])
			fail_msg("thread %d: %s", t, l[t].bad);
		ok += l[t].ok;
		failed += l[t].failed;
		/* A job that says it succeeded ran exactly once. */
		for (int i = 0; i < per_thread; i++)
			if (l[t].results[i] >= 0 && !seen[l[t].base + i])
				fail_msg("job %ld succeeded without running", l[t].base + i);
		free(l[t].results);
	}
	free(seen);
	assert_int_equal(ok + failed, total);
	assert_true(lines >= ok && lines <= total);

	/*
	 * The pool is whole again, every worker healthy. (The last kill may have
	 * landed just before the killer stopped: give its worker's monitor time to
	 * exit, so that the pool has seen it.)
	 */
	sleep_ms(300);
	assert_int_equal(bx_pool_wait_full(p, 20000), 0);
	s = stats(p);
	assert_int_equal(s.idle, LOAD_WORKERS);
	assert_int_equal(s.jobs_run, (unsigned long long)total);
	assert_int_equal(s.jobs_failed, (unsigned long long)failed);
	assert_int_equal(s.spawned, LOAD_WORKERS + s.replaced + s.recycled + s.retired_failed);
	for (int i = 0; i < LOAD_WORKERS * 2; i++)
		echo_job(p, "healthy");
	print_message("load: %d jobs, %d ok, %d failed (worker killed mid-job), %d kills, "
		      "%llu workers replaced, %llu retired, %llu spawned, %llu spawns failed\n",
		      total, ok, failed, k.kills, s.replaced, s.retired_failed, s.spawned,
		      s.spawn_failures);
	assert_true(k.kills > 0);
	bx_pool_free(p);
}

int main(void)
{
	/* First thing: in a worker this never returns. */
	bx_spawn_init(install, NULL);

	/* The first spawn seals this program's copy for the process's life: before the fd counts.
	 */
	bx_pool_opts o;
	bx_pool *warm = NULL;
	bx_error err;
	bx_pool_opts_init(&o);
	bx_test_spawn_opts(&o.spawn);
	o.workers = 1;
	if (bx_pool_new(&o, &warm, &err) < 0) {
		fprintf(stderr, "bx_pool_new: %s\n", err.text);
		return 1;
	}
	bx_pool_free(warm);

	const struct CMUnitTest tests[] = {
	    T(test_jobs_spread_over_workers),
	    T(test_bad_options),
	    T(test_recycle_after_k_jobs),
	    T(test_timeout_retires_worker),
	    T(test_cancel_retires_worker),
	    T(test_default_job_timeout),
	    T(test_spawn_failures_then_recovery),
	    T(test_dead_idle_worker_replaced),
	    T(test_dead_leased_worker),
	    T(test_back_pressure),
	    T(test_more_workers_plural_text),
	    T(test_shutdown_waits_for_jobs),
	    T(test_shutdown_forced),
	    T(test_load_with_random_kills),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
