/* SPDX-License-Identifier: MIT */
/*
 * bench_spawn: what a confined worker costs to start and to use, next to
 * baselines measured in the same run: fork+execve of /bin/true (A),
 * bubblewrap running /bin/true with every namespace unshared (B), and a raw
 * socketpair ping-pong with an echo thread (C). Prints mean and median
 * microseconds and ratios of medians; there is no pass/fail. Exits 1 only
 * when a measured operation itself fails.
 *
 *   bench_spawn [SPAWNS [JOBS]]   (defaults 50 and 40 * SPAWNS)
 *
 * Round trips depend on whether the two sides share a CPU (a cross-CPU wake-up
 * can cost more than the work); `taskset -c 0 bench_spawn` pins everything,
 * workers included, for steadier round-trip ratios.
 */
#define _GNU_SOURCE /* pipe2 */
#include <beambox/spawn.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BWRAP_PATH     "/usr/bin/bwrap"
#define TRUE_PATH      "/bin/true"
#define PING_SIZE      16
#define ECHO_MAX       64
#define REASON_MAX     200
#define DEFAULT_SPAWNS 50
#define JOBS_PER_SPAWN 40

extern char **environ;

struct stats {
	double mean, median; /* microseconds */
	long n;
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

static int install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "noop", noop, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "echo", echo, NULL);
	return r;
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

/* Mean and median of n samples (sorts them). */
static struct stats summarize(double *us, long n)
{
	struct stats s = {.n = n};
	double sum = 0;

	qsort(us, (size_t)n, sizeof(*us), cmp_double);
	for (long i = 0; i < n; i++)
		sum += us[i];
	s.mean = sum / (double)n;
	s.median = n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
	return s;
}

static double *samples(long n)
{
	double *us = calloc((size_t)n, sizeof(*us));

	if (!us)
		bench_fail("calloc", strerror(ENOMEM));
	return us;
}

static long parse_count(const char *s, long dflt)
{
	char *end;
	long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 10000000) {
		fprintf(stderr, "bench_spawn: bad count '%.32s'\n", s);
		exit(2);
	}
	return v;
}

/*
 * fork + execve + waitpid. stderr goes to errfd when it is >= 0. Returns 0 if
 * the program exited 0, else fills why.
 */
static int run_prog(char *const argv[], int errfd, char *why, size_t why_len)
{
	int wstatus;
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (errfd >= 0 && dup2(errfd, STDERR_FILENO) < 0)
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

static struct stats time_prog(char *const argv[], long n)
{
	double *us = samples(n);
	char why[REASON_MAX];
	struct stats s;

	if (run_prog(argv, -1, why, sizeof(why)) < 0) /* warm-up: page cache, dentries */
		bench_fail(argv[0], why);
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		if (run_prog(argv, -1, why, sizeof(why)) < 0)
			bench_fail(argv[0], why);
		us[i] = now_us() - t0;
	}
	s = summarize(us, n);
	free(us);
	return s;
}

/* ---------------------------------------------------------------- baseline B: bubblewrap */

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

	if (access(BWRAP_PATH, X_OK) < 0) {
		snprintf(why, why_len, "%s: %s", BWRAP_PATH, strerror(errno));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, why_len, "pipe2: %s", strerror(errno));
		return -1;
	}
	r = run_prog(bwrap_argv, pfd[1], why, why_len);
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

/* ---------------------------------------------------------------- beambox: spawn */

struct spawn_stats {
	struct stats spawn, free, both, first_job;
	double first_call; /* the very first bx_spawn: it also seals the copy of the program */
};

static bx_worker *spawn_worker(void)
{
	bx_worker *w;
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_spawn(NULL, &w, &err);
	if (r < 0)
		bench_fail("bx_spawn", err.text);
	return w;
}

/* One "noop" job on w; fails the benchmark unless its status is 0. */
static void run_noop(bx_worker *w)
{
	bx_job *job;
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_job_new(bx_worker_engine(w), "noop", &job);
	if (r < 0)
		bench_fail("bx_job_new(noop)", strerror(-r));
	r = bx_job_run(job, &err);
	bx_job_free(job);
	if (r < 0)
		bench_fail("bx_job_run(noop)", err.text);
	if (r != 0)
		bench_fail("bx_job_run(noop)", "status is not 0");
}

static struct spawn_stats time_spawns(long n)
{
	double *sp = samples(n), *fr = samples(n), *both = samples(n), *first = samples(n);
	struct spawn_stats s;
	double t0 = now_us();

	bx_worker_free(spawn_worker());
	s.first_call = now_us() - t0;
	/* A throwaway worker: up, ready and verified, then torn down. */
	for (long i = 0; i < n; i++) {
		double t1, t2;

		t0 = now_us();
		bx_worker *w = spawn_worker();
		t1 = now_us();
		bx_worker_free(w);
		t2 = now_us();
		sp[i] = t1 - t0;
		fr[i] = t2 - t1;
		both[i] = t2 - t0;
	}
	/* From nothing to the first job's result (teardown not counted). */
	for (long i = 0; i < n; i++) {
		t0 = now_us();
		bx_worker *w = spawn_worker();
		run_noop(w);
		first[i] = now_us() - t0;
		bx_worker_free(w);
	}
	s.spawn = summarize(sp, n);
	s.free = summarize(fr, n);
	s.both = summarize(both, n);
	s.first_job = summarize(first, n);
	free(sp);
	free(fr);
	free(both);
	free(first);
	return s;
}

/* ---------------------------------------------------------------- jobs on a warm worker */

static struct stats time_noop_jobs(bx_worker *w, long n)
{
	double *us = samples(n);
	struct stats s;

	run_noop(w); /* warm-up */
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		run_noop(w);
		us[i] = now_us() - t0;
	}
	s = summarize(us, n);
	free(us);
	return s;
}

/* One "echo hi" job with captured stdout; fails the benchmark unless it printed "hi\n". */
static void run_echo(bx_worker *w)
{
	bx_job *job;
	bx_error err;
	const char *out;
	size_t len;
	int r;

	bx_error_clear(&err);
	r = bx_job_new(bx_worker_engine(w), "echo", &job);
	if (r < 0)
		bench_fail("bx_job_new(echo)", strerror(-r));
	r = bx_job_add_arg(job, "hi");
	if (r == 0)
		r = bx_job_capture_stdout(job, ECHO_MAX);
	if (r < 0) {
		bx_job_free(job);
		bench_fail("setting up the echo job", strerror(-r));
	}
	r = bx_job_run(job, &err);
	if (r < 0) {
		bx_job_free(job);
		bench_fail("bx_job_run(echo)", err.text);
	}
	out = bx_job_output(job, 1, &len, NULL);
	if (r != 0 || !out || len != 3 || memcmp(out, "hi\n", 3) != 0) {
		bx_job_free(job);
		bench_fail("bx_job_run(echo)", "status not 0 or output not \"hi\\n\"");
	}
	bx_job_free(job);
}

static struct stats time_echo_jobs(bx_worker *w, long n)
{
	double *us = samples(n);
	struct stats s;

	run_echo(w); /* warm-up */
	for (long i = 0; i < n; i++) {
		double t0 = now_us();
		run_echo(w);
		us[i] = now_us() - t0;
	}
	s = summarize(us, n);
	free(us);
	return s;
}

/* ---------------------------------------------------------------- baseline C: raw socketpair */

struct echo_peer {
	int fd;
	long rounds;
};

static int xfer_full(int fd, char *buf, size_t len, int writing)
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

/* Echoes every message back; runs on its own thread. */
static void *echo_thread(void *arg)
{
	struct echo_peer *p = arg;
	char buf[PING_SIZE];

	for (long i = 0; i < p->rounds; i++)
		if (xfer_full(p->fd, buf, sizeof(buf), 0) < 0 ||
		    xfer_full(p->fd, buf, sizeof(buf), 1) < 0)
			break;
	return NULL;
}

static struct stats time_socketpair(long n)
{
	double *us = samples(n);
	char buf[PING_SIZE] = "ping";
	struct echo_peer peer;
	pthread_t th;
	struct stats s;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bench_fail("socketpair", strerror(errno));
	peer = (struct echo_peer){.fd = sv[1], .rounds = n + 1};
	r = pthread_create(&th, NULL, echo_thread, &peer);
	if (r != 0)
		bench_fail("pthread_create", strerror(r));
	for (long i = 0; i <= n; i++) { /* round 0 is the warm-up */
		double t0 = now_us();
		if (xfer_full(sv[0], buf, sizeof(buf), 1) < 0 ||
		    xfer_full(sv[0], buf, sizeof(buf), 0) < 0)
			bench_fail("socketpair ping-pong", strerror(errno ? errno : EPIPE));
		if (i > 0)
			us[i - 1] = now_us() - t0;
	}
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	s = summarize(us, n);
	free(us);
	return s;
}

/* ---------------------------------------------------------------- output */

static void row(const char *name, struct stats s, const char *vs1, const struct stats *b1,
		const char *vs2, const struct stats *b2)
{
	char ratio[96] = "(baseline)";

	if (b1)
		snprintf(ratio, sizeof(ratio), "%.2fx %s", s.median / b1->median, vs1);
	if (b2)
		snprintf(ratio + strlen(ratio), sizeof(ratio) - strlen(ratio), ", %.2fx %s",
			 s.median / b2->median, vs2);
	printf("%-22s %6ld %11.1f %11.1f  %s\n", name, s.n, s.mean, s.median, ratio);
}

int main(int argc, char **argv)
{
	char *true_argv[] = {TRUE_PATH, NULL};
	long spawns, jobs;
	struct stats fork_exec, bwrap = {0}, raw, noop_jobs, echo_jobs;
	struct spawn_stats sp;
	char bwrap_why[REASON_MAX];
	int have_bwrap;
	bx_worker *w;

	bx_spawn_init(install, NULL); /* a worker never returns from here */
	spawns = parse_count(argc > 1 ? argv[1] : NULL, DEFAULT_SPAWNS);
	jobs = parse_count(argc > 2 ? argv[2] : NULL, spawns * JOBS_PER_SPAWN);

	printf("# bench_spawn as uid %d: %ld runs per start-up row, %ld per round-trip row\n",
	       (int)geteuid(), spawns, jobs);
	printf("# times in microseconds per operation; ratio = this row's median / the named "
	       "baseline's median\n");
	printf("#   fork+exec       baseline A: fork + execve(%s) + waitpid\n", TRUE_PATH);
	printf("#   bwrap           baseline B: bwrap --unshare-all --die-with-parent, /usr "
	       "read-only, /proc /dev /tmp, running %s, waited\n",
	       TRUE_PATH);
	printf("#   bx_spawn        bx_spawn(NULL): a worker under the strict default policy, "
	       "confined, ready and verified\n");
	printf("#   bx_worker_free  closing its connection, the worker exiting, reaped\n");
	printf("#   spawn+free      both: a throwaway confined worker\n");
	printf("#   spawn->1st job  bx_spawn until the first \"noop\" job's status is back\n");
	printf("#   socketpair rt   baseline C: %d-byte write+read ping-pong with an echo "
	       "thread\n",
	       PING_SIZE);
	printf("#   noop job        bx_job_new + bx_job_run + bx_job_free of a handler returning "
	       "0, one warm worker\n");
	printf("#   echo job        the same, \"echo hi\" with stdout captured (and checked)\n");

	fork_exec = time_prog(true_argv, spawns);
	have_bwrap = bwrap_probe(bwrap_why, sizeof(bwrap_why)) == 0;
	if (have_bwrap)
		bwrap = time_prog(bwrap_argv, spawns);
	sp = time_spawns(spawns);
	w = spawn_worker();
	noop_jobs = time_noop_jobs(w, jobs);
	echo_jobs = time_echo_jobs(w, jobs);
	bx_worker_free(w);
	raw = time_socketpair(jobs);

	printf("%-22s %6s %11s %11s  %s\n", "operation", "n", "mean us", "median us", "ratio");
	row("fork+exec", fork_exec, NULL, NULL, NULL, NULL);
	if (have_bwrap)
		row("bwrap", bwrap, "fork+exec", &fork_exec, NULL, NULL);
	else
		printf("bwrap: unavailable (%s)\n", bwrap_why);
	printf("%-22s %6d %11.1f %11s  (also seals the in-memory copy of this program)\n",
	       "bx_spawn, first call", 1, sp.first_call, "-");
	row("bx_spawn", sp.spawn, "fork+exec", &fork_exec, have_bwrap ? "bwrap" : NULL,
	    have_bwrap ? &bwrap : NULL);
	row("bx_worker_free", sp.free, "fork+exec", &fork_exec, NULL, NULL);
	row("spawn+free", sp.both, "fork+exec", &fork_exec, have_bwrap ? "bwrap" : NULL,
	    have_bwrap ? &bwrap : NULL);
	row("spawn->1st job", sp.first_job, "fork+exec", &fork_exec, have_bwrap ? "bwrap" : NULL,
	    have_bwrap ? &bwrap : NULL);
	row("socketpair rt", raw, NULL, NULL, NULL, NULL);
	row("noop job", noop_jobs, "socketpair rt", &raw, NULL, NULL);
	row("echo job", echo_jobs, "socketpair rt", &raw, NULL, NULL);
	return 0;
}
