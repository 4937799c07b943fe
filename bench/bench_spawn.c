/* SPDX-License-Identifier: MIT */
/*
 * bench_spawn: what a confined worker costs to start, to use and to keep,
 * next to baselines measured in the same run, sample by sample interleaved
 * (A B B A ...), so that a machine that slows down or speeds up half-way
 * moves both sides alike. Figures are medians (p10 and p90 beside them);
 * every ratio is beambox's median divided by the baseline's. There is no
 * pass/fail here: bench/run.sh compares the ratios with issue #12's
 * targets. Exits 1 only when a measured operation itself fails. Public API
 * and the beambox CLI only.
 *
 *   bench_spawn [--quick] [--samples N] [--only LIST] [--suffix S]
 *               [--bwrap PATH] [--cli PATH --policy FILE --syscall-prog PATH]
 *               [--many N]
 *
 * LIST is a comma-separated subset of the parts (default: all of them):
 *   spawn    bx_spawn + one no-op job + free, cold (a fresh execution) and through
 *            the zygote, vs bwrap /bin/true (and fork+exec)
 *   rate     bx_spawn + free (the default start: through the zygote) by two
 *            threads in parallel, sandboxes per second
 *   rtt      a no-op job on a warm worker (also with three fds passed) vs a
 *            64-byte socketpair ping-pong with a child process
 *   pipeline noop jobs per second on one worker from 1, 2, 4, 8 threads (their
 *            requests pipelined: several in flight); no target
 *   stream   1 GiB through a job's stdin->stdout vs the same copy loop in a
 *            plain child process, both between the same two pipes
 *   seccomp  ns per getppid() under `beambox exec --policy FILE` vs none
 *   pool     jobs/s with 2 pool workers vs 1 (two client threads, CPU-bound
 *            jobs), and what a pool adds to a job on a bare worker
 *   pss      proportional set size of an idle worker and its monitor
 *   many     N workers (default 1000) spawned and reaped by two threads
 * Ratio lines ("ratio NAME VALUE", NAME with --suffix appended) come last.
 *
 * Round trips and streams depend on whether the two ends share a CPU:
 * `taskset -c 0 bench_spawn --only rtt,stream --suffix _pinned` pins
 * everything, workers included (they inherit the affinity).
 */
#define _GNU_SOURCE /* pipe2, F_SETPIPE_SZ */
#include <beambox/pool.h>
#include <beambox/spawn.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BWRAP_PATH	"/usr/bin/bwrap"
#define TRUE_PATH	"/bin/true"
#define PING_SIZE	64
#define ECHO_MAX	64
#define REASON_MAX	256
#define COPY_BUF	(256 * 1024)
#define PIPE_SIZE	(1024 * 1024)
#define STREAM_SEGMENTS 128 /* at most, each at least 4 reads long */
/* A pool job's CPU time: the worker, not the plumbing, is the bottleneck. */
#define SPIN_TARGET_US	     1000.0
#define POOL_JOBS_PER_SAMPLE 10
#define RATIOS_MAX	     32

extern char **environ;

struct stats {
	double median, p10, p90, mean;
	long n;
};

struct cfg {
	bool quick;
	long samples;
	const char *only;
	const char *suffix;
	const char *bwrap;
	const char *cli, *policy, *syscall_prog;
	long many;
};

/* ---------------------------------------------------------------- worker side */

static int noop(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	return 0;
}

/* Writes its arguments, space-separated, and a newline. */
static int echo(bx_job *job, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < bx_job_argc(job); i++)
		if (bx_job_printf(job, "%s%s", i ? " " : "", bx_job_arg(job, i)) < 0)
			return 1;
	return bx_job_printf(job, "\n") < 0 ? 1 : 0;
}

/* The copy loop of the stream part: the worker's "cat" and the plain baseline run this. */
static int copy_loop(int in, int out)
{
	static char buf[COPY_BUF];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return 1;
			done += w;
		}
	}
	return 0;
}

static int cat(bx_job *job, void *ctx)
{
	(void)ctx;
	return copy_loop(bx_job_stdin(job), bx_job_stdout(job));
}

/* CPU work the compiler cannot drop: the pool part's job. */
static unsigned long spin_work(unsigned long iterations)
{
	volatile unsigned long x = 0;

	for (unsigned long i = 0; i < iterations; i++)
		x = x * 6364136223846793005UL + i;
	return x;
}

static int spin(bx_job *job, void *ctx)
{
	(void)ctx;
	spin_work(strtoul(bx_job_arg(job, 0), NULL, 10));
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {{"noop", noop}, {"echo", echo}, {"cat", cat}, {"spin", spin}};

	(void)ctx;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int r = bx_engine_register(eng, table[i].name, table[i].fn, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A measured operation failed: the numbers would mean nothing. */
static void bench_fail(const char *what, const char *why)
{
	fflush(stdout);
	fprintf(stderr, "bench_spawn: %s: %s\n", what, why);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(const double *sorted, long n, double q)
{
	double pos = q * (double)(n - 1);
	long lo = (long)pos;
	double frac = pos - (double)lo;

	return lo + 1 < n ? sorted[lo] * (1 - frac) + sorted[lo + 1] * frac : sorted[lo];
}

/* Median, p10, p90 and mean of n samples (sorts them). */
static struct stats summarize(double *v, long n)
{
	struct stats s = {.n = n};
	double sum = 0;

	if (n <= 0)
		return s;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	for (long i = 0; i < n; i++)
		sum += v[i];
	s.mean = sum / (double)n;
	s.median = quantile(v, n, 0.5);
	s.p10 = quantile(v, n, 0.1);
	s.p90 = quantile(v, n, 0.9);
	return s;
}

static double *samples(long n)
{
	double *v = calloc((size_t)(n > 0 ? n : 1), sizeof(*v));

	if (!v)
		bench_fail("calloc", strerror(ENOMEM));
	return v;
}

static void header(const char *title, const char *unit)
{
	printf("\n== %s\n", title);
	printf("%-34s %6s %11s %11s %11s   (%s)\n", "operation", "n", "median", "p10", "p90", unit);
}

static void row(const char *name, struct stats s)
{
	printf("%-34s %6ld %11.2f %11.2f %11.2f\n", name, s.n, s.median, s.p10, s.p90);
}

/* The ratio lines, printed last. */
static char ratio_lines[RATIOS_MAX][REASON_MAX + 64];
static int nratios;
static const char *ratio_suffix = "";

static void ratio(const char *name, double value)
{
	if (nratios < RATIOS_MAX)
		snprintf(ratio_lines[nratios++], sizeof(ratio_lines[0]), "ratio %s%s %.3f", name,
			 ratio_suffix, value);
}

static void ratio_na(const char *name, const char *why)
{
	if (nratios < RATIOS_MAX)
		snprintf(ratio_lines[nratios++], sizeof(ratio_lines[0]), "ratio %s%s n/a (%.200s)",
			 name, ratio_suffix, why);
}

/* Sample i of two sides, a first in even rounds and b first in odd ones: A B B A A B ... */
#define INTERLEAVE(i, a, b)                                                                        \
	do {                                                                                       \
		if ((i) % 2 == 0) {                                                                \
			a;                                                                         \
			b;                                                                         \
		} else {                                                                           \
			b;                                                                         \
			a;                                                                         \
		}                                                                                  \
	} while (0)

/*
 * fork + execve + waitpid. The child's stdout goes to outfd and its stderr
 * to errfd when they are >= 0. Returns 0 if it exited 0, else fills why.
 */
static int run_prog(char *const argv[], int outfd, int errfd, char *why, size_t why_len)
{
	int wstatus;
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if ((outfd >= 0 && dup2(outfd, STDOUT_FILENO) < 0) ||
		    (errfd >= 0 && dup2(errfd, STDERR_FILENO) < 0))
			_exit(126);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	while (waitpid(pid, &wstatus, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, why_len, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return 0;
	if (WIFEXITED(wstatus))
		snprintf(why, why_len, "%s exited with status %d", argv[0], WEXITSTATUS(wstatus));
	else
		snprintf(why, why_len, "%s killed by signal %d", argv[0], WTERMSIG(wstatus));
	return -1;
}

static double time_prog(char *const argv[])
{
	char why[REASON_MAX];
	double t0 = now_us();

	if (run_prog(argv, -1, -1, why, sizeof(why)) < 0)
		bench_fail(argv[0], why);
	return now_us() - t0;
}

static bool part_wanted(const struct cfg *c, const char *part)
{
	size_t len = strlen(part);

	for (const char *p = c->only; p && *p;) {
		size_t n = strcspn(p, ",");
		if (n == len && strncmp(p, part, len) == 0)
			return true;
		p += n + (p[n] == ',');
	}
	return c->only == NULL;
}

/* ---------------------------------------------------------------- baseline: bubblewrap */

/* clang-format off */
static char *bwrap_argv[] = {
    BWRAP_PATH, "--unshare-all", "--die-with-parent",
    "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64",
    "--symlink", "usr/bin", "/bin",
    "--proc", "/proc",
    "--dev", "/dev",
    "--tmpfs", "/tmp",
    TRUE_PATH, NULL,
};
/* clang-format on */

/* Runs bwrap once with its stderr in a pipe. Returns 0, or fills why with its first line. */
static int bwrap_probe(char *why, size_t why_len)
{
	int pfd[2];
	ssize_t got;
	int r;

	if (access(bwrap_argv[0], X_OK) < 0) {
		snprintf(why, why_len, "%s: %s", bwrap_argv[0], strerror(errno));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, why_len, "pipe2: %s", strerror(errno));
		return -1;
	}
	r = run_prog(bwrap_argv, -1, pfd[1], why, why_len);
	close(pfd[1]);
	if (r < 0) {
		char msg[REASON_MAX];

		got = read(pfd[0], msg, sizeof(msg) - 1);
		if (got > 0) {
			msg[got] = '\0';
			msg[strcspn(msg, "\n")] = '\0';
			snprintf(why + strlen(why), why_len - strlen(why), ": %.120s", msg);
		}
	}
	close(pfd[0]);
	return r;
}

/* ---------------------------------------------------------------- beambox operations */

/* A worker under the default policy, started as start says (enum bx_spawn_start). */
static bx_worker *spawn_worker_as(int start)
{
	bx_spawn_opts opts;
	bx_worker *w;
	bx_error err;

	bx_spawn_opts_init(&opts);
	opts.start = start;
	bx_error_clear(&err);
	if (bx_spawn(&opts, &w, &err) < 0)
		bench_fail("bx_spawn", err.text);
	return w;
}

static bx_worker *spawn_worker(void)
{
	return spawn_worker_as(BX_SPAWN_START_AUTO);
}

/* Whether this process has a zygote to start workers through (bx_spawn_init made one). */
static bool have_zygote(char *why, size_t len)
{
	bx_spawn_opts opts;
	bx_worker *w;
	bx_error err;

	bx_spawn_opts_init(&opts);
	opts.start = BX_SPAWN_START_ZYGOTE;
	bx_error_clear(&err);
	if (bx_spawn(&opts, &w, &err) < 0) {
		snprintf(why, len, "no zygote: %.200s", err.text);
		return false;
	}
	bx_worker_free(w);
	return true;
}

/* Runs a set-up job; fails the benchmark unless its status is 0. */
static void run_checked(bx_job *job, const char *what)
{
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_job_run(job, &err);
	if (r < 0)
		bench_fail(what, err.text);
	if (r != 0)
		bench_fail(what, "status is not 0");
}

/* One "noop" job on w, with stdin/stdout/stderr passed when fds is not NULL. */
static void run_noop(bx_worker *w, const int *fds)
{
	bx_job *job;
	int r;

	r = bx_job_new(bx_worker_engine(w), "noop", &job);
	if (r < 0)
		bench_fail("bx_job_new(noop)", strerror(-r));
	if (fds && (bx_job_set_stdin_fd(job, fds[0]) < 0 || bx_job_set_stdout_fd(job, fds[1]) < 0 ||
		    bx_job_set_stderr_fd(job, fds[2]) < 0))
		bench_fail("bx_job_set_*_fd", "refused");
	run_checked(job, "bx_job_run(noop)");
	bx_job_free(job);
}

/* One "echo hi" job with captured stdout; fails the benchmark unless it printed "hi\n". */
static void run_echo(bx_worker *w)
{
	bx_job *job;
	const char *out;
	size_t len;
	int r;

	r = bx_job_new(bx_worker_engine(w), "echo", &job);
	if (r < 0)
		bench_fail("bx_job_new(echo)", strerror(-r));
	if (bx_job_add_arg(job, "hi") < 0 || bx_job_capture_stdout(job, ECHO_MAX) < 0)
		bench_fail("setting up the echo job", "refused");
	run_checked(job, "bx_job_run(echo)");
	out = bx_job_output(job, 1, &len, NULL);
	if (!out || len != 3 || memcmp(out, "hi\n", 3) != 0)
		bench_fail("bx_job_run(echo)", "output is not \"hi\\n\"");
	bx_job_free(job);
}

/* ---------------------------------------------------------------- part: spawn */

/* bx_spawn to ready and verified, one no-op job, bx_worker_free. */
static double time_spawn(int start)
{
	double t0 = now_us();
	bx_worker *w = spawn_worker_as(start);

	run_noop(w, NULL);
	bx_worker_free(w);
	return now_us() - t0;
}

static void time_baselines(bool have_bwrap, char *const true_argv[], double *bw, double *fe)
{
	if (have_bwrap)
		*bw = time_prog(bwrap_argv);
	*fe = time_prog(true_argv);
}

/*
 * Cold (a fresh execution of the program), warm (through the zygote) and the
 * baselines, interleaved: cold warm base, base warm cold, ...
 */
static void part_spawn(const struct cfg *c)
{
	char *true_argv[] = {TRUE_PATH, NULL};
	long n = c->samples;
	double *cold = samples(n), *warm = samples(n), *bw = samples(n), *fe = samples(n), first;
	char why[REASON_MAX], zwhy[REASON_MAX];
	bool have_bwrap = bwrap_probe(why, sizeof(why)) == 0;
	bool zygote = have_zygote(zwhy, sizeof(zwhy));

	first = now_us();
	bx_worker_free(spawn_worker_as(BX_SPAWN_START_COLD)); /* also seals the program's copy */
	first = now_us() - first;
	time_prog(true_argv); /* warm-up: page cache, dentries */
	for (long i = 0; i < n; i++) {
		if (i % 2 == 0) {
			cold[i] = time_spawn(BX_SPAWN_START_COLD);
			if (zygote)
				warm[i] = time_spawn(BX_SPAWN_START_ZYGOTE);
			time_baselines(have_bwrap, true_argv, &bw[i], &fe[i]);
		} else {
			time_baselines(have_bwrap, true_argv, &bw[i], &fe[i]);
			if (zygote)
				warm[i] = time_spawn(BX_SPAWN_START_ZYGOTE);
			cold[i] = time_spawn(BX_SPAWN_START_COLD);
		}
	}
	header("start-up: a throwaway sandbox, from nothing to reaped", "microseconds");
	printf("%-34s %6d %11.2f   (the very first also seals the program's copy)\n",
	       "bx_spawn+free, first cold call", 1, first);
	struct stats sc = summarize(cold, n), sz = summarize(warm, n), sf = summarize(fe, n),
		     sw = summarize(bw, n);
	row("bx_spawn cold + noop job + free", sc);
	if (zygote)
		row("bx_spawn zygote + noop job + free", sz);
	else
		printf("%-34s unavailable: %s\n", "bx_spawn zygote + noop job + free", zwhy);
	if (have_bwrap)
		row("bwrap --unshare-all /bin/true", sw);
	else
		printf("%-34s unavailable: %s\n", "bwrap --unshare-all /bin/true", why);
	row("fork+exec /bin/true (no sandbox)", sf);
	printf("(bx_spawn: the strict default policy, ready and verified from outside; cold: a "
	       "fresh execution of this program, zygote: forked by its zygote; bwrap: /usr "
	       "read-only, /proc /dev /tmp, waited)\n");
	if (have_bwrap)
		ratio("spawn_cold_vs_bwrap", sc.median / sw.median);
	else
		ratio_na("spawn_cold_vs_bwrap", why);
	if (have_bwrap && zygote)
		ratio("spawn_warm_vs_bwrap", sz.median / sw.median);
	else
		ratio_na("spawn_warm_vs_bwrap", have_bwrap ? zwhy : why);
	free(cold);
	free(warm);
	free(bw);
	free(fe);
}

/* ---------------------------------------------------------------- part: rate */

struct rate_ctx {
	pthread_barrier_t start, done;
	int mode; /* 0 beambox, 1 bwrap, -1 stop */
	int failed;
	char why[2][REASON_MAX];
};

struct spawner {
	struct rate_ctx *rc;
	int id;
};

/* Creates and reaps one sandbox per round, in step with the other spawner. */
static void *spawner_main(void *arg)
{
	struct spawner *s = arg;
	struct rate_ctx *rc = s->rc;

	for (;;) {
		pthread_barrier_wait(&rc->start);
		if (rc->mode < 0)
			break;
		if (rc->mode == 0) {
			bx_worker *w;
			bx_error err;

			if (bx_spawn(NULL, &w, &err) < 0) {
				snprintf(rc->why[s->id], REASON_MAX, "bx_spawn: %.200s", err.text);
				__atomic_store_n(&rc->failed, 1, __ATOMIC_RELAXED);
			} else {
				bx_worker_free(w);
			}
		} else if (run_prog(bwrap_argv, -1, -1, rc->why[s->id], REASON_MAX) < 0) {
			__atomic_store_n(&rc->failed, 1, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&rc->done);
	}
	return NULL;
}

/* One round in mode: both spawners create and reap one; returns sandboxes per second. */
static double rate_round(struct rate_ctx *rc, int mode)
{
	double t0 = now_us(), dt;

	rc->mode = mode;
	pthread_barrier_wait(&rc->start);
	pthread_barrier_wait(&rc->done);
	dt = now_us() - t0;
	if (__atomic_load_n(&rc->failed, __ATOMIC_RELAXED))
		bench_fail("parallel spawn", rc->why[0][0] ? rc->why[0] : rc->why[1]);
	return 2.0 / (dt / 1e6);
}

static void part_rate(const struct cfg *c)
{
	long n = c->samples;
	double *bx = samples(n), *bw = samples(n);
	struct rate_ctx rc = {.mode = 0};
	struct spawner sp[2] = {{&rc, 0}, {&rc, 1}};
	pthread_t th[2];
	char why[REASON_MAX];
	bool have_bwrap = bwrap_probe(why, sizeof(why)) == 0;

	pthread_barrier_init(&rc.start, NULL, 3);
	pthread_barrier_init(&rc.done, NULL, 3);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, spawner_main, &sp[i]) != 0)
			bench_fail("pthread_create", strerror(errno));
	rate_round(&rc, 0); /* warm-up */
	for (long i = 0; i < n; i++)
		INTERLEAVE(i, bx[i] = rate_round(&rc, 0),
			   bw[i] = have_bwrap ? rate_round(&rc, 1) : 0);
	rc.mode = -1;
	pthread_barrier_wait(&rc.start);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&rc.start);
	pthread_barrier_destroy(&rc.done);

	header("spawn rate: two threads each create and reap one sandbox per round",
	       "sandboxes per second");
	printf("(bx_spawn: the default start, through the zygote when this process has one)\n");
	struct stats sb = summarize(bx, n), sw = summarize(bw, n);
	row("bx_spawn + free, 2 in parallel", sb);
	if (have_bwrap) {
		row("bwrap /bin/true, 2 in parallel", sw);
		ratio("spawn_rate_vs_bwrap", sb.median / sw.median);
	} else {
		printf("%-34s unavailable: %s\n", "bwrap /bin/true, 2 in parallel", why);
		ratio_na("spawn_rate_vs_bwrap", why);
	}
	free(bx);
	free(bw);
}

/* ---------------------------------------------------------------- part: rtt */

static int xfer_full(int fd, char *buf, size_t len, bool writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k =
		    writing ? write(fd, buf + done, len - done) : read(fd, buf + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		done += (size_t)k;
	}
	return 0;
}

/* A child process echoing PING_SIZE-byte messages until EOF: the round trip's floor. */
static pid_t start_echo_child(int *fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bench_fail("socketpair", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_fail("fork", strerror(errno));
	if (pid == 0) {
		char buf[PING_SIZE];

		close(sv[0]);
		while (xfer_full(sv[1], buf, sizeof(buf), false) == 0 &&
		       xfer_full(sv[1], buf, sizeof(buf), true) == 0)
			;
		_exit(0);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

static double ping(int fd)
{
	char buf[PING_SIZE] = "ping";
	double t0 = now_us();

	if (xfer_full(fd, buf, sizeof(buf), true) < 0 || xfer_full(fd, buf, sizeof(buf), false) < 0)
		bench_fail("socketpair ping-pong", strerror(errno ? errno : EPIPE));
	return now_us() - t0;
}

/* A noop job, then one with three fds passed. */
static void time_noop_jobs(bx_worker *w, const int *fds, double *plain, double *with_fds)
{
	double t0 = now_us();

	run_noop(w, NULL);
	*plain = now_us() - t0;
	t0 = now_us();
	run_noop(w, fds);
	*with_fds = now_us() - t0;
}

/* A ping-pong round, then an echo job with its output captured. */
static void time_ping_echo(int peer, bx_worker *w, double *pp, double *echo_us)
{
	double t0;

	*pp = ping(peer);
	t0 = now_us();
	run_echo(w);
	*echo_us = now_us() - t0;
}

static void part_rtt(const struct cfg *c)
{
	long n = c->samples * 20;
	double *noop_us = samples(n), *fds_us = samples(n), *echo_us = samples(n), *pp = samples(n);
	int fds[3], peer;
	pid_t echo_pid = start_echo_child(&peer);
	bx_worker *w = spawn_worker();

	for (int i = 0; i < 3; i++) {
		fds[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
		if (fds[i] < 0)
			bench_fail("open /dev/null", strerror(errno));
	}
	run_noop(w, NULL); /* warm-up */
	run_noop(w, fds);
	run_echo(w);
	ping(peer);
	for (long i = 0; i < n; i++)
		INTERLEAVE(i, time_noop_jobs(w, fds, &noop_us[i], &fds_us[i]),
			   time_ping_echo(peer, w, &pp[i], &echo_us[i]));
	bx_worker_free(w);
	close(peer);
	waitpid(echo_pid, NULL, 0);
	for (int i = 0; i < 3; i++)
		close(fds[i]);

	header("round trip on a warm worker (bx_job_new + bx_job_run + bx_job_free)",
	       "microseconds");
	struct stats sn = summarize(noop_us, n), sf = summarize(fds_us, n),
		     se = summarize(echo_us, n), sp = summarize(pp, n);
	row("socketpair 64-byte ping-pong", sp);
	row("noop job", sn);
	row("noop job, stdin/stdout/stderr fds", sf);
	row("echo job, stdout captured", se);
	ratio("job_rtt_vs_socketpair", sn.median / sp.median);
	ratio("job_rtt_fds_vs_socketpair", sf.median / sp.median);
	free(noop_us);
	free(fds_us);
	free(echo_us);
	free(pp);
}

/* ---------------------------------------------------------------- part: pipeline */

/* K threads running noop jobs on one worker: its jobs are pipelined (beambox/2). */
struct piper {
	pthread_t th;
	bx_worker *w;
	long jobs;
};

static void *piper_main(void *arg)
{
	struct piper *p = arg;

	for (long i = 0; i < p->jobs; i++)
		run_noop(p->w, NULL);
	return NULL;
}

/* Jobs per second with k client threads sharing one warm worker. */
static double pipeline_round(bx_worker *w, int k, long jobs_each)
{
	struct piper p[8];
	double t0 = now_us();

	for (int i = 0; i < k; i++) {
		p[i] = (struct piper){.w = w, .jobs = jobs_each};
		if (pthread_create(&p[i].th, NULL, piper_main, &p[i]) != 0)
			bench_fail("pthread_create", strerror(errno));
	}
	for (int i = 0; i < k; i++)
		pthread_join(p[i].th, NULL);
	return (double)k * (double)jobs_each / ((now_us() - t0) / 1e6);
}

static void part_pipeline(const struct cfg *c)
{
	static const int ks[] = {1, 2, 4, 8};
	long n = c->quick ? 3 : 20, jobs_each = c->quick ? 20 : 400;
	double *v[4];
	bx_worker *w = spawn_worker();

	for (int j = 0; j < 4; j++)
		v[j] = samples(n);
	run_noop(w, NULL);
	for (long i = 0; i < n; i++)
		for (int j = 0; j < 4; j++)
			v[j][i] = pipeline_round(w, ks[j], jobs_each / ks[j]);
	bx_worker_free(w);
	header("noop jobs on one warm worker from K threads (K in flight, pipelined)",
	       "jobs per second");
	for (int j = 0; j < 4; j++) {
		char name[40];

		snprintf(name, sizeof(name), "K = %d", ks[j]);
		row(name, summarize(v[j], n));
		free(v[j]);
	}
}

/* ---------------------------------------------------------------- part: stream */

struct feeder {
	int fd;
	long long bytes;
};

/* Writes bytes into fd, then closes it (the copier sees EOF). */
static void *feed_main(void *arg)
{
	static char chunk[COPY_BUF];
	struct feeder *f = arg;
	long long left = f->bytes;

	memset(chunk, 'x', sizeof(chunk));
	while (left > 0) {
		size_t n = left < (long long)sizeof(chunk) ? (size_t)left : sizeof(chunk);
		ssize_t k = write(f->fd, chunk, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		left -= k;
	}
	close(f->fd);
	return NULL;
}

/* Segments (samples) of a transfer of bytes. */
static long stream_segments(long long bytes)
{
	long long n = bytes / (4 * COPY_BUF);

	return n > STREAM_SEGMENTS ? STREAM_SEGMENTS : n < 1 ? 1 : (long)n;
}

/* Reads exactly bytes from fd; stores the MB/s of each segment. */
static double drain(int fd, long long bytes, double *seg_mbs)
{
	static char buf[COPY_BUF];
	long nseg = stream_segments(bytes);
	long long got = 0, seg = bytes / nseg, next = seg;
	double t0 = now_us(), tseg = t0;
	long k = 0;

	while (got < bytes) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bench_fail("stream", "the copy ended early");
		got += n;
		while (got >= next && k < nseg) {
			double t = now_us();
			seg_mbs[k++] = (double)seg / (t - tseg); /* bytes per us = MB/s */
			tseg = t;
			next += seg;
		}
	}
	return (double)bytes / (now_us() - t0);
}

static void make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		bench_fail("pipe2", strerror(errno));
	/* Same size for both sides; fails harmlessly where the limit is lower. */
	(void)fcntl(p[0], F_SETPIPE_SZ, PIPE_SIZE);
}

struct job_runner {
	bx_job *job;
	int status;
	bx_error err;
};

static void *job_runner_main(void *arg)
{
	struct job_runner *jr = arg;

	jr->status = bx_job_run(jr->job, &jr->err);
	return NULL;
}

/* One transfer of bytes from a feeder thread through a copier to this thread. */
static double stream_once(bx_worker *w, long long bytes, double *seg_mbs)
{
	int a[2], b[2];
	struct feeder f;
	struct job_runner jr = {0};
	pthread_t feeder, runner;
	pid_t child = -1;
	double mbs;

	make_pipe(a);
	make_pipe(b);
	if (w) {
		int r = bx_job_new(bx_worker_engine(w), "cat", &jr.job);
		if (r < 0 || bx_job_set_stdin_fd(jr.job, a[0]) < 0 ||
		    bx_job_set_stdout_fd(jr.job, b[1]) < 0)
			bench_fail("setting up the cat job", "refused");
		if (pthread_create(&runner, NULL, job_runner_main, &jr) != 0)
			bench_fail("pthread_create", strerror(errno));
	} else {
		child = fork();
		if (child < 0)
			bench_fail("fork", strerror(errno));
		if (child == 0) {
			close(a[1]); /* else it would never see EOF */
			close(b[0]);
			_exit(copy_loop(a[0], b[1]));
		}
		close(a[0]);
		close(b[1]);
	}
	f = (struct feeder){.fd = a[1], .bytes = bytes};
	if (pthread_create(&feeder, NULL, feed_main, &f) != 0)
		bench_fail("pthread_create", strerror(errno));
	mbs = drain(b[0], bytes, seg_mbs);
	pthread_join(feeder, NULL);
	if (w) {
		pthread_join(runner, NULL);
		if (jr.status != 0)
			bench_fail("cat job", jr.status < 0 ? jr.err.text : "status is not 0");
		bx_job_free(jr.job);
		close(a[0]);
		close(b[1]);
	} else {
		int ws;
		if (waitpid(child, &ws, 0) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			bench_fail("plain copy", "the child failed");
	}
	close(b[0]);
	return mbs;
}

static void part_stream(const struct cfg *c)
{
	long long bytes = c->quick ? 16LL << 20 : 1LL << 30;
	const long rounds = 2;
	long nseg = stream_segments(bytes), n = rounds * nseg;
	double *bx = samples(n), *pl = samples(n), whole[2][2];
	bx_worker *w = spawn_worker();

	for (int r = 0; r < rounds; r++)
		INTERLEAVE(r, whole[0][r] = stream_once(w, bytes, bx + r * nseg),
			   whole[1][r] = stream_once(NULL, bytes, pl + r * nseg));
	bx_worker_free(w);

	char title[160];
	snprintf(title, sizeof(title),
		 "stream: %lld MiB stdin->stdout, %ld rounds each, samples = %lld KiB segments",
		 bytes >> 20, rounds, (bytes / nseg) >> 10);
	header(title, "MB/s");
	struct stats sb = summarize(bx, n), sp = summarize(pl, n);
	row("plain pipe copy (a child process)", sp);
	row("through a job (cat on a worker)", sb);
	printf("%-34s whole transfers: job %.0f and %.0f MB/s, plain %.0f and %.0f MB/s\n", "",
	       whole[0][0], whole[0][1], whole[1][0], whole[1][1]);
	ratio("stream_vs_pipe", sb.median / sp.median);
	free(bx);
	free(pl);
}

/* ---------------------------------------------------------------- part: seccomp */

/* Runs argv with stdout in a pipe; appends each line's number to v. */
static void run_collect(char *const argv[], double *v, long *n, long max)
{
	char buf[1 << 16], why[REASON_MAX];
	size_t used = 0;
	int p[2], r;
	ssize_t k;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		bench_fail("pipe2", strerror(errno));
	pid = fork();
	if (pid < 0)
		bench_fail("fork", strerror(errno));
	if (pid == 0) {
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(126);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(p[1]);
	while (used < sizeof(buf) - 1 &&
	       (k = read(p[0], buf + used, sizeof(buf) - 1 - used)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		used += (size_t)k;
	}
	close(p[0]);
	buf[used] = '\0';
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	r = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (r != 0) {
		snprintf(why, sizeof(why), "%s ... exited with %d", argv[0], r);
		bench_fail("seccomp part", why);
	}
	for (char *line = strtok(buf, "\n"); line && *n < max; line = strtok(NULL, "\n"))
		v[(*n)++] = strtod(line, NULL);
}

static void part_seccomp(const struct cfg *c)
{
	int runs = c->quick ? 2 : 10;
	const char *batches = c->quick ? "5" : "20";
	const char *calls = c->quick ? "10000" : "100000";
	long max = (long)runs * 20, nc = 0, np = 0;
	double *conf = samples(max), *plain = samples(max);

	if (!c->cli || !c->policy || !c->syscall_prog) {
		printf("\n== seccomp: skipped (needs --cli, --policy and --syscall-prog)\n");
		ratio_na("seccomp_overhead", "not measured: no --cli/--policy/--syscall-prog");
		free(conf);
		free(plain);
		return;
	}
	char *plain_argv[] = {(char *)c->syscall_prog, (char *)batches, (char *)calls, NULL};
	char *conf_argv[] = {(char *)c->cli,	"exec",	       "--policy",
			     (char *)c->policy, "--",	       (char *)c->syscall_prog,
			     (char *)batches,	(char *)calls, NULL};
	for (int r = 0; r < runs; r++)
		INTERLEAVE(r, run_collect(conf_argv, conf, &nc, max),
			   run_collect(plain_argv, plain, &np, max));

	char title[300];
	snprintf(title, sizeof(title),
		 "seccomp: getppid() in a process of its own, %d runs x %s "
		 "batches of %s calls each way",
		 runs, batches, calls);
	header(title, "ns per call");
	struct stats sc = summarize(conf, nc), sp = summarize(plain, np);
	row("no filter", sp);
	char name[200];
	snprintf(name, sizeof(name), "beambox exec --policy %.20s",
		 strrchr(c->policy, '/') ? strrchr(c->policy, '/') + 1 : c->policy);
	row(name, sc);
	if (nc == 0 || np == 0)
		ratio_na("seccomp_overhead", "no samples");
	else
		ratio("seccomp_overhead", sc.median / sp.median);
	free(conf);
	free(plain);
}

/* ---------------------------------------------------------------- part: pool */

static bx_pool *pool_new(unsigned workers)
{
	bx_pool_opts o;
	bx_pool *p;
	bx_error err;

	bx_pool_opts_init(&o);
	o.name = workers == 1 ? "bench-1" : "bench-2";
	o.workers = workers;
	if (bx_pool_new(&o, &p, &err) < 0)
		bench_fail("bx_pool_new", err.text);
	return p;
}

/* One job through the pool; fails the benchmark unless its status is 0. */
static void pool_job(bx_pool *p, const char *name, const char *arg)
{
	bx_pool_job *pj;
	bx_error err;

	if (bx_pool_job_new(p, name, -1, &pj, &err) < 0)
		bench_fail("bx_pool_job_new", err.text);
	if (arg && bx_job_add_arg(bx_pool_job_get(pj), arg) < 0)
		bench_fail("bx_job_add_arg", "refused");
	int r = bx_pool_job_run(pj, &err);
	if (r != 0)
		bench_fail("bx_pool_job_run", r < 0 ? err.text : "status is not 0");
	bx_pool_job_free(pj);
}

static double time_pool_noop(bx_pool *p)
{
	double t0 = now_us();

	pool_job(p, "noop", NULL);
	return now_us() - t0;
}

static double time_bare_noop(bx_worker *w)
{
	double t0 = now_us();

	run_noop(w, NULL);
	return now_us() - t0;
}

struct clients {
	pthread_barrier_t start, done;
	bx_pool *pool; /* NULL: stop */
	char spin_arg[32];
};

static void *client_main(void *arg)
{
	struct clients *cl = arg;

	for (;;) {
		pthread_barrier_wait(&cl->start);
		if (!cl->pool)
			break;
		for (int i = 0; i < POOL_JOBS_PER_SAMPLE; i++)
			pool_job(cl->pool, "spin", cl->spin_arg);
		pthread_barrier_wait(&cl->done);
	}
	return NULL;
}

/* Two clients run POOL_JOBS_PER_SAMPLE jobs each on p; returns jobs per second. */
static double pool_round(struct clients *cl, bx_pool *p)
{
	double t0 = now_us();

	cl->pool = p;
	pthread_barrier_wait(&cl->start);
	pthread_barrier_wait(&cl->done);
	return 2.0 * POOL_JOBS_PER_SAMPLE / ((now_us() - t0) / 1e6);
}

/* Iterations of spin_work that take about SPIN_TARGET_US here (the fastest of 5 tries). */
static unsigned long calibrate_spin(void)
{
	unsigned long it = 200000;
	double best = 0;

	for (int i = 0; i < 5; i++) {
		double t0 = now_us(), dt;

		spin_work(it);
		dt = now_us() - t0;
		if (dt > 0 && (best == 0 || dt < best))
			best = dt;
	}
	return best > 0 ? (unsigned long)((double)it * SPIN_TARGET_US / best) + 1 : it;
}

static void part_pool(const struct cfg *c)
{
	long n = c->samples;
	double *r1 = samples(n), *r2 = samples(n), *acq = samples(n * 10), *bare = samples(n * 10);
	bx_pool *p1 = pool_new(1), *p2 = pool_new(2);
	struct clients cl = {0};
	pthread_t th[2];
	unsigned long spin_it = calibrate_spin();

	snprintf(cl.spin_arg, sizeof(cl.spin_arg), "%lu", spin_it);
	pthread_barrier_init(&cl.start, NULL, 3);
	pthread_barrier_init(&cl.done, NULL, 3);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, client_main, &cl) != 0)
			bench_fail("pthread_create", strerror(errno));
	pool_round(&cl, p1); /* warm-up */
	pool_round(&cl, p2);
	for (long i = 0; i < n; i++)
		INTERLEAVE(i, r2[i] = pool_round(&cl, p2), r1[i] = pool_round(&cl, p1));
	cl.pool = NULL;
	pthread_barrier_wait(&cl.start);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&cl.start);
	pthread_barrier_destroy(&cl.done);

	/* What the pool adds to a job: a lease of an idle worker vs a bare worker. */
	bx_worker *w = spawn_worker();
	for (long i = 0; i < n * 10; i++)
		INTERLEAVE(i, acq[i] = time_pool_noop(p2), bare[i] = time_bare_noop(w));
	bx_worker_free(w);

	bx_pool_stats st;
	bx_pool_get_stats(p2, &st);
	bx_pool_free(p1);
	bx_pool_free(p2);

	char title[200];
	snprintf(title, sizeof(title),
		 "pool: two client threads, %d CPU-bound jobs (~%.0f us of spin) each per sample",
		 POOL_JOBS_PER_SAMPLE, SPIN_TARGET_US);
	header(title, "jobs per second");
	struct stats s1 = summarize(r1, n), s2 = summarize(r2, n);
	row("pool of 1 worker", s1);
	row("pool of 2 workers", s2);
	header("a warm job: pool lease + noop job + free vs a noop job on a bare worker",
	       "microseconds");
	row("noop job on a bare worker", summarize(bare, n * 10));
	row("noop job through an idle pool", summarize(acq, n * 10));
	printf("(pool of 2 afterwards: %u idle, %llu spawned, %llu jobs, %llu failed)\n", st.idle,
	       st.spawned, st.jobs_run, st.jobs_failed);
	ratio("pool_scaling", s2.median / s1.median);
	free(r1);
	free(r2);
	free(acq);
	free(bare);
}

/* ---------------------------------------------------------------- part: pss */

/* Pss of /proc/PID/smaps_rollup in kB, or -1 with why. */
static long pss_kb(pid_t pid, char *why, size_t why_len)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pss: %ld kB", &kb) == 1)
			break;
	if (kb < 0)
		snprintf(why, why_len, "%s: no Pss line (%s)", path,
			 ferror(f) ? strerror(errno) : "empty");
	fclose(f);
	return kb;
}

static void part_pss(void)
{
	bx_worker *w = spawn_worker();
	pid_t mon = bx_worker_pid(w), serving = bx_worker_serving_pid(w);
	char why[REASON_MAX] = "";
	long a, b = 0;
	struct timespec settle = {.tv_nsec = 200 * 1000000};

	run_noop(w, NULL);
	nanosleep(&settle, NULL);
	printf("\n== memory: an idle worker after one job (proportional set size, smaps_rollup)\n");
	a = pss_kb(serving, why, sizeof(why));
	if (a >= 0 && mon != serving)
		b = pss_kb(mon, why, sizeof(why));
	if (a < 0 || b < 0)
		printf("idle worker PSS: n/a (%s)\n", why);
	else
		printf("idle worker PSS: %ld kB serving + %ld kB monitor = %ld kB (target <= 1024 "
		       "kB): %s\n",
		       a, b, a + b, a + b <= 1024 ? "PASS" : "MISS");
	bx_worker_free(w);
}

/* ---------------------------------------------------------------- part: many */

struct many_ctx {
	long count;
	char why[REASON_MAX];
	int failed;
};

static void *many_main(void *arg)
{
	struct many_ctx *m = arg;

	for (long i = 0; i < m->count; i++) {
		bx_worker *w;
		bx_error err;

		if (bx_spawn(NULL, &w, &err) < 0) {
			snprintf(m->why, sizeof(m->why), "bx_spawn: %.200s", err.text);
			m->failed = 1;
			break;
		}
		bx_worker_free(w);
	}
	return NULL;
}

static void part_many(const struct cfg *c)
{
	struct many_ctx m[2] = {{.count = c->many / 2}, {.count = c->many - c->many / 2}};
	pthread_t th[2];
	double t0 = now_us(), dt;

	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, many_main, &m[i]) != 0)
			bench_fail("pthread_create", strerror(errno));
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	dt = now_us() - t0;
	for (int i = 0; i < 2; i++)
		if (m[i].failed)
			bench_fail("many", m[i].why);
	printf("\n== many: %ld workers spawned (ready, verified) and reaped, two threads, one "
	       "at a time each\n",
	       c->many);
	printf("%ld workers in %.2f s: %.2f ms per worker, %.0f workers per second\n", c->many,
	       dt / 1e6, dt / 1e3 / (double)c->many, (double)c->many / (dt / 1e6));
}

/* ---------------------------------------------------------------- main */

static long parse_count(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = s ? strtol(s, &end, 10) : 0;
	if (!s || errno || end == s || *end || v <= 0 || v > 10000000) {
		fprintf(stderr, "bench_spawn: bad count '%.32s'\n", s ? s : "");
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_spawn [--quick] [--samples N] [--only LIST] [--suffix S] "
			"[--bwrap PATH] [--cli PATH --policy FILE --syscall-prog PATH] [--many N]\n"
			"  LIST: spawn,rate,rtt,pipeline,stream,seccomp,pool,pss,many\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct cfg c = {.samples = 0, .suffix = "", .bwrap = BWRAP_PATH, .many = 0};

	bx_spawn_init(install, NULL); /* a worker never returns from here */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quick") == 0) {
			c.quick = true;
			continue;
		}
		if (!v)
			usage();
		if (strcmp(a, "--samples") == 0)
			c.samples = parse_count(v);
		else if (strcmp(a, "--only") == 0)
			c.only = v;
		else if (strcmp(a, "--suffix") == 0)
			c.suffix = v;
		else if (strcmp(a, "--bwrap") == 0)
			c.bwrap = v;
		else if (strcmp(a, "--cli") == 0)
			c.cli = v;
		else if (strcmp(a, "--policy") == 0)
			c.policy = v;
		else if (strcmp(a, "--syscall-prog") == 0)
			c.syscall_prog = v;
		else if (strcmp(a, "--many") == 0)
			c.many = parse_count(v);
		else
			usage();
		i++;
	}
	if (!c.samples)
		c.samples = c.quick ? 5 : 100;
	if (!c.many)
		c.many = c.quick ? 10 : 1000;
	bwrap_argv[0] = (char *)c.bwrap;
	ratio_suffix = c.suffix;
	/* A copier that dies mid-stream fails the benchmark with a message, not by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	printf("# bench_spawn as uid %d, %ld samples per start-up row%s, pid %d\n", (int)geteuid(),
	       c.samples, c.quick ? " (quick: the numbers mean nothing)" : "", (int)getpid());
	if (part_wanted(&c, "spawn"))
		part_spawn(&c);
	if (part_wanted(&c, "rate"))
		part_rate(&c);
	if (part_wanted(&c, "rtt"))
		part_rtt(&c);
	if (part_wanted(&c, "pipeline"))
		part_pipeline(&c);
	if (part_wanted(&c, "stream"))
		part_stream(&c);
	if (part_wanted(&c, "seccomp"))
		part_seccomp(&c);
	if (part_wanted(&c, "pool"))
		part_pool(&c);
	if (part_wanted(&c, "pss"))
		part_pss();
	if (part_wanted(&c, "many"))
		part_many(&c);
	printf("\n");
	for (int i = 0; i < nratios; i++)
		printf("%s\n", ratio_lines[i]);
	return 0;
}
