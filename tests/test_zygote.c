/* SPDX-License-Identifier: MIT */
/*
 * The zygote (spawn/zygote.h) and the parent-death fix (#12), on a real
 * kernel, as root and as nobody:
 *  - a zygote's worker is confined exactly as a cold one: the same
 *    /proc/<pid>/status from outside, namespaces of its own, the same uid
 *    rule, the same report, the same view from inside;
 *  - many threads spawn through one zygote at once;
 *  - the zygote killed, or stuck: spawns fall back or restart, in bounded
 *    time, and workers it made before live on;
 *  - a hostile worker cannot reach the zygote (signal, ptrace, pidfd, /proc,
 *    its own fds), nor can a host process of a worker's uid (root only);
 *  - a parent killed with -9 takes its worker's whole namespace with it,
 *    cold, through the zygote and under `beambox exec` (the identity step
 *    used to clear the parent-death signal of a root parent's worker).
 * After every test the fd count is what it was and no child is left but the
 * zygote.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "policy/policy.h"
#include "spawn/dynuid.h"
#include "spawn/zygote.h"
#include "util/cleanup.h"

#define THREADS		  4
#define SPAWNS_PER_THREAD 6
/* How long a dead parent's worker may take to go (generous: a loaded machine). */
#define GONE_MS 5000

/* ---------------------------------------------------------------- handlers (run in the worker) */

/* uid, hostname and the fds open besides the job's own streams. */
static int h_probe(bx_job *job, void *ctx)
{
	char host[65] = "";

	(void)ctx;
	gethostname(host, sizeof(host) - 1);
	bx_job_printf(job, "uid=%u host=%s fds=", (unsigned)getuid(), host);
	for (int fd = 0; fd < 1024; fd++) {
		struct stat st;

		if (fd == bx_job_stdin(job) || fd == bx_job_stdout(job) || fd == bx_job_stderr(job))
			continue;
		if (fstat(fd, &st) == 0)
			bx_job_printf(job, "%d%s,", fd, S_ISSOCK(st.st_mode) ? "s" : "");
	}
	bx_job_printf(job, "\n");
	return 0;
}

/* Writes "in" to its stdout, then never returns (a worker busy when its parent dies). */
static __attribute__((noreturn)) int h_hang(bx_job *job, void *ctx)
{
	(void)ctx;
	if (write(bx_job_stdout(job), "in\n", 3) != 3)
		_exit(3);
	for (;;)
		pause();
}

static const char *errname(int e)
{
	return e == 0 ? "ok" : e == ESRCH ? "ESRCH" : e == EPERM ? "EPERM" : strerrorname_np(e);
}

/*
 * A hostile handler that knows the zygote's pid (arg 0) and tries to reach
 * it: a signal, ptrace, a pidfd, its /proc entry, and any socket of its own
 * that might lead there (the zygote speaks SOCK_SEQPACKET).
 */
static int h_reach(bx_job *job, void *ctx)
{
	pid_t z = (pid_t)atoi(bx_job_arg(job, 0));
	char path[64];
	struct stat st;
	int pidfd, seqpacket = 0;

	(void)ctx;
	bx_job_printf(job, "kill=%s ", errname(kill(z, 0) < 0 ? errno : 0));
	bx_job_printf(job, "sigkill=%s ", errname(kill(z, SIGKILL) < 0 ? errno : 0));
	bx_job_printf(job, "ptrace=%s ",
		      errname(ptrace(PTRACE_SEIZE, z, NULL, NULL) < 0 ? errno : 0));
	pidfd = (int)syscall(SYS_pidfd_open, z, 0);
	bx_job_printf(job, "pidfd=%s ", errname(pidfd < 0 ? errno : 0));
	if (pidfd >= 0)
		close(pidfd);
	snprintf(path, sizeof(path), "/proc/%d", (int)z);
	bx_job_printf(job, "proc=%s ", errname(stat(path, &st) < 0 ? errno : 0));
	for (int fd = 0; fd < 1024; fd++) {
		int type = 0;
		socklen_t len = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET)
			seqpacket++;
	}
	bx_job_printf(job, "seqpacket=%d\n", seqpacket);
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {{"probe", h_probe}, {"hang", h_hang}, {"reach", h_reach}};
	(void)ctx;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int r = bx_engine_register(eng, table[i].name, table[i].fn, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static bx_worker *spawn_as(int start, const struct bx_policy *policy)
{
	bx_worker *w = NULL;
	bx_spawn_opts opts;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.start = start;
	opts.policy = policy;
	bx_error_clear(&err);
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn (start %d): %s", start, err.text);
	return w;
}

/* Runs name (one optional argument) on w; returns its stdout (malloc'd), fails on error. */
static char *run(bx_worker *w, const char *name, const char *arg)
{
	bx_job *job = NULL;
	bx_error err;
	char *out;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &job), 0);
	if (arg)
		assert_int_equal(bx_job_add_arg(job, arg), 0);
	assert_int_equal(bx_job_capture_stdout(job, 1 << 16), 0);
	bx_error_clear(&err);
	r = bx_job_run(job, &err);
	if (r != 0)
		fail_msg("job %s: %d %s", name, r, err.text);
	out = strdup(bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	return out;
}

/* The value of "Key:" in /proc/<pid>/status ("" if absent). */
static void status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(val, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
			val[strcspn(val, "\n")] = '\0';
			break;
		}
	fclose(f);
}

static ino_t ns_inode(pid_t pid, const char *ns)
{
	char path[64];
	struct stat st;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	if (stat(path, &st) < 0)
		fail_msg("stat %s: %m", path);
	return st.st_ino;
}

/*
 * The report without what differs by nature between two workers: uids,
 * timings, and whether the (fresh) netns was made by the worker or ahead by
 * a root application's zygote.
 */
static void report_shape(const char *report, char *out, size_t len)
{
	out[0] = '\0';
	for (const char *line = report; *line;) {
		size_t n = strcspn(line, "\n");

		if (strncmp(line, "timings:", 8) != 0 && strncmp(line, "identity:", 9) != 0)
			snprintf(out + strlen(out), len - strlen(out), "%.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	for (char *m; (m = strstr(out, "net(made ahead)")) != NULL;)
		memmove(m + 3, m + 15, strlen(m + 15) + 1);
}

static bool gone_within(int pidfd, int ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Whether fd (a pipe's read end) reaches EOF within ms, whatever comes before. */
static bool eof_within(int fd, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < ms) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[64];

		if (poll(&p, 1, 100) == 1 && read(fd, buf, sizeof(buf)) == 0)
			return true;
	}
	return false;
}

/*
 * Reaps the children that came back to us (a killed parent's orphans: its
 * worker's pid 1, its zygote), waiting (bounded) for them to die.
 */
static void reap_orphans(void)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < GONE_MS) {
		for (;;) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 ||
			    si.si_pid == 0 || si.si_pid == bx_zygote_pid())
				break;
			waitid(P_PID, (id_t)si.si_pid, &si, WEXITED | __WALL);
		}
		if (bx_test_stray_child() == 0)
			return;
		poll(NULL, 0, 10);
	}
}

static int setup(void **state)
{
	return bx_test_fd_setup(state);
}

static int teardown(void **state)
{
	reap_orphans();
	bx_test_assert_no_children();
	return bx_test_fd_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* For a test that ends the zygote: its two fds here (socket, pidfd) go with it. */
static int teardown_children_only(void **state)
{
	(void)state;
	reap_orphans();
	bx_test_assert_no_children();
	return 0;
}

/* ---------------------------------------------------------------- tests */

/* bx_spawn_init made one (main thread, no other thread): our child, one thread, fds 0-3. */
static void test_zygote_is_there(void **state)
{
	pid_t z = bx_zygote_pid();
	char val[64], path[64], link[256];
	int fds = 0;
	(void)state;

	assert_true(z > 0);
	status_field(z, "PPid", val, sizeof(val));
	assert_int_equal(atoi(val), getpid());
	status_field(z, "Threads", val, sizeof(val));
	assert_string_equal(val, "1");
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)z, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		/* A root application's zygote keeps network namespaces (its own, spares). */
		if (fd > 3 && geteuid() == 0 && strncmp(link, "net:[", 5) == 0)
			continue;
		if (fd > 3)
			fail_msg("the zygote holds fd %d -> %s", fd, link);
		if (fd < 3)
			assert_string_equal(link, "/dev/null");
		fds++;
	}
	/* Reading a non-dumpable process's fds takes root (or, unprivileged, its namespace). */
	assert_int_equal(fds, 4);
}

/*
 * The same worker both ways: status from outside, namespaces, uid, report,
 * and what a handler sees.
 */
static void test_equivalence(void **state)
{
	static const char *const fields[] = {"NoNewPrivs", "Seccomp", "Seccomp_filters", "CapInh",
					     "CapPrm",	   "CapEff",  "CapBnd",		 "CapAmb",
					     "Threads",	   "Gid",     "Groups"};
	static const char *const ns[] = {"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"};
	bx_worker *cold = spawn_as(BX_SPAWN_START_COLD, NULL);
	bx_worker *warm = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
	bx_worker *w[2] = {cold, warm};
	char shape[2][BX_ERROR_TEXT_MAX * 8], a[256], b[256], *out[2];
	unsigned uid[2];
	(void)state;

	for (int i = 0; i < 2; i++) {
		pid_t serving = bx_worker_serving_pid(w[i]);

		/* pid 1 is our child, the serving process its. */
		status_field(bx_worker_pid(w[i]), "PPid", a, sizeof(a));
		assert_int_equal(atoi(a), getpid());
		status_field(serving, "PPid", a, sizeof(a));
		assert_int_equal(atoi(a), bx_worker_pid(w[i]));
		status_field(serving, "NSpid", a, sizeof(a));
		assert_non_null(strchr(a, '\t')); /* a pid namespace below ours */
		status_field(serving, "Uid", a, sizeof(a));
		uid[i] = (unsigned)strtoul(a, NULL, 10);
		report_shape(bx_worker_report(w[i]), shape[i], sizeof(shape[i]));
		out[i] = run(w[i], "probe", NULL);
	}
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		status_field(bx_worker_serving_pid(cold), fields[f], a, sizeof(a));
		status_field(bx_worker_serving_pid(warm), fields[f], b, sizeof(b));
		if (strcmp(fields[f], "Gid") == 0 && geteuid() == 0)
			continue; /* dynamic: compared below with the uid */
		if (strcmp(a, b) != 0)
			fail_msg("%s: cold '%s', zygote '%s'", fields[f], a, b);
	}
	status_field(bx_worker_serving_pid(warm), "Seccomp", a, sizeof(a));
	assert_string_equal(a, "2");
	if (geteuid() == 0) {
		uid_t lo, hi;

		/* Each its own dynamic uid, from the range. */
		assert_int_equal(bx_dynuid_range(&lo, &hi, NULL), 0);
		assert_int_not_equal(uid[0], uid[1]);
		for (int i = 0; i < 2; i++)
			assert_true(uid[i] >= lo && uid[i] <= hi);
	} else {
		assert_int_equal(uid[0], geteuid());
		assert_int_equal(uid[1], geteuid());
	}
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		ino_t self = ns_inode(0, ns[k]);
		ino_t c = ns_inode(bx_worker_serving_pid(cold), ns[k]);
		ino_t z = ns_inode(bx_worker_serving_pid(warm), ns[k]);

		if (c == self || z == self || c == z)
			fail_msg("ns/%s: ours %lu, cold %lu, zygote %lu", ns[k],
				 (unsigned long)self, (unsigned long)c, (unsigned long)z);
	}
	if (strcmp(shape[0], shape[1]) != 0)
		fail_msg("reports differ:\ncold:\n%s\nzygote:\n%s", shape[0], shape[1]);
	/* From inside: the same uid as outside, the same hostname, the same fds. */
	for (int i = 0; i < 2; i++) {
		/*
		 * beambox/2: the job's unset stdin and stderr are the worker's own
		 * /dev/null (0, 1), fd 2 its stderr, fd 3 the main socket, no
		 * channel of the job's own.
		 */
		snprintf(a, sizeof(a), "uid=%u host=beambox fds=2,3s,\n", uid[i]);
		if (strcmp(out[i], a) != 0)
			fail_msg("%s worker sees '%s', want '%s'", i ? "zygote" : "cold", out[i],
				 a);
		free(out[i]);
	}
	bx_worker_free(cold);
	bx_worker_free(warm);
}

struct spawner {
	pid_t zygote;
	int failures;
	char first_error[256];
};

static void *spawner_main(void *arg)
{
	struct spawner *s = arg;

	for (int i = 0; i < SPAWNS_PER_THREAD; i++) {
		bx_worker *w = NULL;
		bx_spawn_opts opts;
		bx_job *job = NULL;
		bx_error err;
		int r;

		bx_test_spawn_opts(&opts);
		opts.start = BX_SPAWN_START_ZYGOTE;
		bx_error_clear(&err);
		r = bx_spawn(&opts, &w, &err);
		if (r == 0) {
			r = bx_job_new(bx_worker_engine(w), "probe", &job);
			if (r == 0)
				r = bx_job_run(job, &err);
			bx_job_free(job);
			bx_worker_free(w);
		}
		if (r != 0 && s->failures++ == 0)
			snprintf(s->first_error, sizeof(s->first_error), "%d %.200s", r, err.text);
	}
	return NULL;
}

/* Several threads at once through one zygote: every spawn works, the zygote stays the same. */
static void test_threads_share_one_zygote(void **state)
{
	pthread_t th[THREADS];
	struct spawner s[THREADS];
	pid_t z = bx_zygote_pid();
	(void)state;

	assert_true(z > 0);
	for (int i = 0; i < THREADS; i++) {
		s[i] = (struct spawner){.zygote = z};
		assert_int_equal(pthread_create(&th[i], NULL, spawner_main, &s[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		if (s[i].failures)
			fail_msg("thread %d: %d failures, first: %s", i, s[i].failures,
				 s[i].first_error);
	}
	assert_int_equal(bx_zygote_pid(), z);
}

/* A forked copy of this process must not use its parent's zygote: it starts cold. */
static void test_forked_copy_starts_cold(void **state)
{
	pid_t child;
	int status;
	(void)state;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		bx_worker *w = NULL;
		bx_spawn_opts opts;
		bx_error err;

		if (bx_zygote_pid() != -1)
			_exit(10);
		bx_test_spawn_opts(&opts);
		opts.start = BX_SPAWN_START_ZYGOTE;
		if (bx_spawn(&opts, &w, &err) != -ENOTSUP)
			_exit(11);
		opts.start = BX_SPAWN_START_AUTO;
		if (bx_spawn(&opts, &w, &err) < 0)
			_exit(12);
		bx_worker_free(w);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void *idle_thread(void *arg)
{
	int fd = *(int *)arg;
	char byte;

	while (read(fd, &byte, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void *init_off_main_thread(void *arg)
{
	*(int *)arg = bx_zygote_init();
	return NULL;
}

/*
 * "Early enough" (spawn.h): bx_zygote_init, bx_spawn_init's part, starts a
 * zygote only on the main thread of a process with no other thread, and not
 * with BEAMBOX_NO_ZYGOTE set. Checked in a forked copy (one thread).
 */
static void test_early_rule(void **state)
{
	pid_t child;
	int status;
	(void)state;

	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int hold[2], r = 0;
		pthread_t th;

		setenv("BEAMBOX_NO_ZYGOTE", "1", 1);
		if (bx_zygote_init() != -ECANCELED)
			_exit(10);
		unsetenv("BEAMBOX_NO_ZYGOTE");
		if (pthread_create(&th, NULL, init_off_main_thread, &r) != 0 ||
		    pthread_join(th, NULL) != 0 || r != -EBUSY)
			_exit(11);
		if (pipe(hold) < 0 || pthread_create(&th, NULL, idle_thread, &hold[0]) != 0)
			_exit(12);
		if (bx_zygote_init() != -EBUSY)
			_exit(13);
		close(hold[1]);
		pthread_join(th, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fail_msg("check %d failed", WEXITSTATUS(status) - 10);
}

/*
 * A hostile worker knows the zygote's pid: it cannot signal it, trace it,
 * open a pidfd on it or find it in /proc (another pid namespace), and holds
 * no socket that leads to it. The policy lets it try (kill, ptrace, pidfd_open
 * allowed, ptrace off the deny list): the barriers tested are the kernel's.
 */
static void test_hostile_worker_cannot_reach_zygote(void **state)
{
	struct bx_policy *p = NULL;
	bx_worker *w;
	char zpid[16], *out;
	(void)state;

	assert_int_equal(bx_policy_default(&p), 0);
	assert_int_equal(bx_policy_allow(p, "kill"), 0);
	assert_int_equal(bx_policy_allow(p, "ptrace"), 0);
	assert_int_equal(bx_policy_allow(p, "pidfd_open"), 0);
	assert_int_equal(bx_policy_allow(p, "getsockopt"), 0);
	p->override_deny[p->noverride_deny++] = strdup("ptrace");
	w = spawn_as(BX_SPAWN_START_ZYGOTE, p);
	snprintf(zpid, sizeof(zpid), "%d", (int)bx_zygote_pid());
	out = run(w, "reach", zpid);
	assert_string_equal(out, "kill=ESRCH sigkill=ESRCH ptrace=ESRCH pidfd=ESRCH proc=ENOENT "
				 "seqpacket=0\n");
	free(out);
	/* Still there. */
	assert_int_equal(kill(bx_zygote_pid(), 0), 0);
	bx_worker_free(w);
	bx_policy_free(p);
}

/*
 * Root: a host process of a worker's uid (its dynamic uid, and the shared
 * 65534) gets nothing of the zygote: no signal, no trace, no environment,
 * no fd.
 */
static void test_worker_uid_cannot_reach_zygote(void **state)
{
	bx_worker *w;
	pid_t z = bx_zygote_pid(), child;
	char val[64];
	unsigned uids[2];
	(void)state;

	if (geteuid() != 0)
		bx_test_skip(
		    "needs root: an unprivileged parent's workers and zygote share its uid, "
		    "which is then the trust boundary (SECURITY.md)");
	w = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
	status_field(bx_worker_serving_pid(w), "Uid", val, sizeof(val));
	uids[0] = (unsigned)strtoul(val, NULL, 10);
	uids[1] = 65534;
	for (int i = 0; i < 2; i++) {
		int status;

		child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			char path[64];
			int pidfd;

			if (setgroups(0, NULL) < 0 || setresgid(uids[i], uids[i], uids[i]) < 0 ||
			    setresuid(uids[i], uids[i], uids[i]) < 0)
				_exit(20);
			if (kill(z, 0) == 0 || errno != EPERM)
				_exit(21);
			if (ptrace(PTRACE_SEIZE, z, NULL, NULL) == 0 || errno != EPERM)
				_exit(22);
			snprintf(path, sizeof(path), "/proc/%d/environ", (int)z);
			if (open(path, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
				_exit(23);
			pidfd = (int)syscall(SYS_pidfd_open, z, 0);
			if (pidfd < 0)
				_exit(24);
			if (syscall(SYS_pidfd_getfd, pidfd, 3, 0) >= 0 || errno != EPERM)
				_exit(25);
			if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == 0 ||
			    errno != EPERM)
				_exit(26);
			_exit(0);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFEXITED(status));
		if (WEXITSTATUS(status) != 0)
			fail_msg("uid %u: attempt %d was not refused as expected", uids[i],
				 WEXITSTATUS(status) - 20);
	}
	assert_int_equal(kill(z, 0), 0);
	bx_worker_free(w);
}

/*
 * netns = shared: a root application's zygote starts the policy's workers in
 * one empty network namespace made for it (not ours, not a cold worker's);
 * elsewhere (cold, or an unprivileged application) each worker makes its own
 * and the report says why it is not shared.
 */
static void test_shared_netns(void **state)
{
	struct bx_policy *p = NULL;
	bx_worker *a, *b, *cold;
	ino_t na, nb, nc, self = ns_inode(0, "net");
	(void)state;

	assert_int_equal(bx_policy_default(&p), 0);
	p->netns_shared = true;
	a = spawn_as(BX_SPAWN_START_ZYGOTE, p);
	b = spawn_as(BX_SPAWN_START_ZYGOTE, p);
	cold = spawn_as(BX_SPAWN_START_COLD, p);
	na = ns_inode(bx_worker_serving_pid(a), "net");
	nb = ns_inode(bx_worker_serving_pid(b), "net");
	nc = ns_inode(bx_worker_serving_pid(cold), "net");
	assert_true(na != self && nb != self && nc != self && nc != na);
	if (strstr(bx_worker_report(cold), " net(own: a shared one needs a root zygote)") == NULL)
		fail_msg("cold report: %s", bx_worker_report(cold));
	if (geteuid() == 0) {
		bx_worker *c, *d;
		ino_t n1, n2;

		/* Without the key: each its own, the second one made ahead by the zygote. */
		c = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
		d = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
		n1 = ns_inode(bx_worker_serving_pid(c), "net");
		n2 = ns_inode(bx_worker_serving_pid(d), "net");
		assert_true(n1 != n2 && n1 != self && n2 != self && n1 != na && n2 != na);
		if (strstr(bx_worker_report(d), " net(made ahead)") == NULL)
			fail_msg("report: %s", bx_worker_report(d));
		bx_worker_free(c);
		bx_worker_free(d);
		assert_true(na == nb);
		if (strstr(bx_worker_report(a), " net(shared)") == NULL)
			fail_msg("report: %s", bx_worker_report(a));
	} else {
		assert_true(na != nb);
		if (strstr(bx_worker_report(a), " net(own: a shared one needs a root zygote)") ==
		    NULL)
			fail_msg("report: %s", bx_worker_report(a));
	}
	bx_worker_free(a);
	bx_worker_free(b);
	bx_worker_free(cold);
	bx_policy_free(p);
}

/*
 * `test_zygote sleeper MODE INFO_FD` (run by the parent-death tests): spawns a
 * worker (cold or through its own zygote), writes "PID1 PID2\n" to INFO_FD and
 * runs a job that never ends, its stdout on INFO_FD too (the handler writes
 * "in" there first). It is then killed with SIGKILL.
 */
static int sleeper_main(const char *mode, int info)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_job *job = NULL;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.start = strcmp(mode, "zygote") == 0 ? BX_SPAWN_START_ZYGOTE : BX_SPAWN_START_COLD;
	if (bx_spawn(&opts, &w, &err) < 0) {
		dprintf(info, "error %s\n", err.text);
		return 1;
	}
	dprintf(info, "%d %d\n", (int)bx_worker_pid(w), (int)bx_worker_serving_pid(w));
	/* The job's stdout is info itself (a pipe is passed as is): "in" comes there. */
	if (bx_job_new(bx_worker_engine(w), "hang", &job) < 0 ||
	    bx_job_set_stdout_fd(job, info) < 0)
		return 2;
	bx_ignore(bx_job_run(job, &err));
	return 3;
}

/* Reads what fd has until "want" arrived (bounded); 0 or -1. */
static int read_until(int fd, char *buf, size_t len, const char *want, int ms)
{
	struct timespec t0;
	size_t used = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf[0] = '\0';
	while (!strstr(buf, want)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (ms_since(&t0) > ms || used + 1 >= len)
			return -1;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + used, len - used - 1);
		if (n <= 0)
			return -1;
		used += (size_t)n;
		buf[used] = '\0';
	}
	return 0;
}

/* Kills the process that holds busy (pid 1 and its serving process) and checks they follow. */
static void expect_namespace_follows(pid_t parent, pid_t pid1, pid_t pid2, int info_r,
				     const char *what)
{
	int fd1 = (int)syscall(SYS_pidfd_open, pid1, 0),
	    fd2 = (int)syscall(SYS_pidfd_open, pid2, 0);
	int status;

	assert_true(fd1 >= 0 && fd2 >= 0);
	assert_int_equal(kill(parent, SIGKILL), 0);
	assert_int_equal(waitpid(parent, &status, 0), parent);
	if (!gone_within(fd1, GONE_MS))
		fail_msg("%s: pid 1 of the worker (%d) outlived its parent by %d ms", what,
			 (int)pid1, GONE_MS);
	if (!gone_within(fd2, GONE_MS))
		fail_msg("%s: the serving process %d outlived its parent by %d ms", what, (int)pid2,
			 GONE_MS);
	/* Nobody holds the job's stdout any more. */
	if (!eof_within(info_r, GONE_MS))
		fail_msg("%s: the job's stdout is still open somewhere", what);
	close(fd1);
	close(fd2);
	reap_orphans();
}

static void parent_death(const char *mode)
{
	int info[2];
	pid_t sleeper, pid1 = 0, pid2 = 0;
	char buf[256], *line;

	assert_int_equal(pipe2(info, O_CLOEXEC), 0);
	sleeper = fork();
	assert_true(sleeper >= 0);
	if (sleeper == 0) {
		char fd[16];

		close(info[0]);
		if (fcntl(info[1], F_SETFD, 0) < 0)
			_exit(126);
		snprintf(fd, sizeof(fd), "%d", info[1]);
		execl("/proc/self/exe", "test_zygote", "sleeper", mode, fd, (char *)NULL);
		_exit(127);
	}
	close(info[1]);
	if (read_until(info[0], buf, sizeof(buf), "in\n", 60000) < 0)
		fail_msg("%s: the sleeper said '%s'", mode, buf);
	line = buf;
	assert_int_equal(sscanf(line, "%d %d", &pid1, &pid2), 2);
	expect_namespace_follows(sleeper, pid1, pid2, info[0], mode);
	close(info[0]);
}

/*
 * A parent killed with -9 while its worker runs a job that never ends: the
 * worker's pid 1 must die (its parent-death signal, which the identity step
 * of a root parent's worker used to clear), and with it the namespace.
 */
static void test_parent_death_cold(void **state)
{
	(void)state;
	parent_death("cold");
}

static void test_parent_death_zygote(void **state)
{
	(void)state;
	parent_death("zygote");
}

/* The children of pid's threads. */
static int children_of(pid_t pid, pid_t *out, int max)
{
	char path[64], buf[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			for (char *p = buf, *end; n < max; p = end) {
				long c = strtol(p, &end, 10);

				if (end == p)
					break;
				out[n++] = (pid_t)c;
			}
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* `beambox exec -- sleep`: the program's init dies with the beambox process. */
static void test_parent_death_exec(void **state)
{
	int out[2];
	pid_t beambox, kids[8], init = 0, prog = 0;
	struct timespec t0;
	(void)state;

	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	beambox = fork();
	assert_true(beambox >= 0);
	if (beambox == 0) {
		close(out[0]);
		execl(BX_CLI_PATH, "beambox", "exec", "--", "/bin/sleep", "1000", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* Its sandbox's init (a pid namespace below ours: NSpid has two fields), then sleep. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!prog && ms_since(&t0) < 30000) {
		int n = children_of(beambox, kids, 8);

		for (int i = 0; i < n && !init; i++) {
			char val[64];

			status_field(kids[i], "NSpid", val, sizeof(val));
			if (strchr(val, '\t'))
				init = kids[i];
		}
		if (init && children_of(init, kids, 8) == 1) {
			char val[64];

			status_field(kids[0], "Name", val, sizeof(val));
			if (strcmp(val, "sleep") == 0)
				prog = kids[0];
		}
		if (!prog)
			poll(NULL, 0, 10);
	}
	if (!prog)
		fail_msg("beambox exec: no sandboxed sleep after 30 s");
	expect_namespace_follows(beambox, init, prog, out[0], "beambox exec");
	close(out[0]);
}

/*
 * The zygote killed: workers it made live on (they are ours); a spawn on the
 * main thread starts a new zygote; one on another thread starts cold; a
 * stuck zygote costs a spawn at most half its ready timeout, then it is
 * replaced. After BX_ZYGOTE_RESTARTS replacements there is no zygote any
 * more and every start is cold. (Last: it uses up this process's restarts.)
 */
struct other_thread {
	int start;
	int r;
	pid_t zygote_after;
};

static void *other_thread_main(void *arg)
{
	struct other_thread *o = arg;
	bx_worker *w = NULL;
	bx_spawn_opts opts;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.start = o->start;
	o->r = bx_spawn(&opts, &w, &err);
	o->zygote_after = bx_zygote_pid();
	bx_worker_free(w);
	return NULL;
}

static pid_t kill_zygote(void)
{
	pid_t z = bx_zygote_pid();
	int status;

	assert_true(z > 0);
	assert_int_equal(kill(z, SIGKILL), 0);
	/* Make sure it is dead before the next spawn (not reaped: the library does that). */
	for (int i = 0; i < 500; i++) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)z, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			break;
		poll(NULL, 0, 10);
	}
	(void)status;
	return z;
}

static void test_zygote_death(void **state)
{
	bx_worker *before, *w;
	struct other_thread o;
	pthread_t th;
	pid_t z0, z1, z2;
	struct timespec t0;
	char *out;
	bx_spawn_opts opts;
	bx_error err;
	int fds = bx_test_count_fds();
	(void)state;

	before = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
	z0 = kill_zygote();
	/* Its worker does not care. */
	out = run(before, "probe", NULL);
	free(out);
	/* Another thread: no new zygote from there; AUTO starts cold, ZYGOTE says so. */
	o = (struct other_thread){.start = BX_SPAWN_START_ZYGOTE};
	assert_int_equal(pthread_create(&th, NULL, other_thread_main, &o), 0);
	pthread_join(th, NULL);
	assert_int_equal(o.r, -ENOTSUP);
	o = (struct other_thread){.start = BX_SPAWN_START_AUTO};
	assert_int_equal(pthread_create(&th, NULL, other_thread_main, &o), 0);
	pthread_join(th, NULL);
	assert_int_equal(o.r, 0);
	assert_int_equal(o.zygote_after, -1);
	/* The main thread: a new one. */
	w = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
	z1 = bx_zygote_pid();
	assert_true(z1 > 0 && z1 != z0);
	bx_worker_free(w);
	/* Stuck: stopped, it answers nothing; the spawn goes cold within half its timeout. */
	assert_int_equal(kill(z1, SIGSTOP), 0);
	bx_test_spawn_opts(&opts);
	opts.ready_timeout_ms = 4000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(bx_spawn(&opts, &w, &err), 0);
	if (ms_since(&t0) > 4000)
		fail_msg("a stuck zygote held the spawn %ld ms", ms_since(&t0));
	out = run(w, "probe", NULL);
	free(out);
	bx_worker_free(w);
	assert_int_equal(bx_zygote_pid(), -1); /* killed and reaped */
	/* The restarts run out: then there is no zygote, and starts are cold. */
	for (int i = 2; i <= BX_ZYGOTE_RESTARTS; i++) {
		w = spawn_as(BX_SPAWN_START_ZYGOTE, NULL);
		z2 = bx_zygote_pid();
		assert_true(z2 > 0);
		bx_worker_free(w);
		kill_zygote();
	}
	bx_test_spawn_opts(&opts);
	opts.start = BX_SPAWN_START_ZYGOTE;
	assert_int_equal(bx_spawn(&opts, &w, &err), -ENOTSUP);
	w = spawn_as(BX_SPAWN_START_AUTO, NULL);
	assert_int_equal(bx_zygote_pid(), -1);
	bx_worker_free(w);
	out = run(before, "probe", NULL);
	free(out);
	bx_worker_free(before);
	/* What the zygote held here (its socket and pidfd) is gone with it, nothing else. */
	assert_int_equal(bx_test_count_fds(), fds - 2);
}

int main(int argc, char **argv)
{
	/* First thing: in a worker (or the zygote) this never returns. */
	bx_spawn_init(install, NULL);
	if (argc == 4 && strcmp(argv[1], "sleeper") == 0)
		return sleeper_main(argv[2], atoi(argv[3]));
	/* Orphans of the parent-death tests come back to us, to be reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	/* The sealed copy for cold starts is made once: before the fd counts. */
	bx_worker_free(spawn_as(BX_SPAWN_START_COLD, NULL));

	const struct CMUnitTest tests[] = {
	    T(test_zygote_is_there),
	    T(test_equivalence),
	    T(test_threads_share_one_zygote),
	    T(test_forked_copy_starts_cold),
	    T(test_early_rule),
	    T(test_hostile_worker_cannot_reach_zygote),
	    T(test_worker_uid_cannot_reach_zygote),
	    T(test_shared_netns),
	    T(test_parent_death_cold),
	    T(test_parent_death_zygote),
	    T(test_parent_death_exec),
	    cmocka_unit_test_setup_teardown(test_zygote_death, setup, teardown_children_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
