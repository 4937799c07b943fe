/* SPDX-License-Identifier: MIT */
/*
 * Spawns real workers (this very binary, re-executed) and runs jobs in them:
 * statuses, outputs, passed fds, deaths noticed through the pidfd, timeouts,
 * cancellation, hostile frames, floods, and many threads on one worker.
 * After every test the fd count is what it was and no child is left.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "remote.h"

#include "policy/policy.h"
#include "remote.h"
#include "spawn/dynuid.h"

/* ---------------------------------------------------------------- handlers (run in the worker) */

static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < bx_job_argc(job); i++)
		bx_job_printf(job, "%s%s", i ? " " : "", bx_job_arg(job, i));
	bx_job_printf(job, "\n");
	return 0;
}

static int h_cat(bx_job *job, void *ctx)
{
	char buf[65536];
	ssize_t n;

	(void)ctx;
	while ((n = read(bx_job_stdin(job), buf, sizeof(buf))) > 0)
		if (write(bx_job_stdout(job), buf, (size_t)n) != n)
			return 1;
	return n < 0 ? 1 : 0;
}

static int h_fail(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_eprintf(job, "failing\n");
	return 1;
}

static int h_status(bx_job *job, void *ctx)
{
	(void)ctx;
	return atoi(bx_job_arg(job, 0));
}

static int h_negative(bx_job *job, void *ctx)
{
	(void)ctx;
	return bx_job_fail(job, -EIO, "disk on fire");
}

static int h_env(bx_job *job, void *ctx)
{
	const char *v = bx_job_getenv(job, bx_job_arg(job, 0));

	(void)ctx;
	bx_job_printf(job, "%s", v ? v : "(unset)");
	return 0;
}

static int h_crash(bx_job *job, void *ctx)
{
	/* A real fault: raise() would be ignored by pid 1 of a pid namespace. */
	volatile int *volatile p = NULL;

	(void)job;
	(void)ctx;
	/* cppcheck-suppress nullPointer ; the crash is the point */
	*p = 42;
	return 0;
}

static __attribute__((noreturn)) int h_exit(bx_job *job, void *ctx)
{
	(void)ctx;
	_exit(atoi(bx_job_arg(job, 0)));
}

static __attribute__((noreturn)) int h_hang(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	for (;;)
		pause();
}

static __attribute__((noreturn)) int h_abort(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	abort();
}

/* Prints getuid() as this process sees it (the same number as on the host). */
static int h_uid(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_printf(job, "%u", (unsigned)getuid());
	return 0;
}

/*
 * A handler that means to outlive its worker: it clears its parent-death
 * signal, leaves a child behind that does the same, and (with arg "hang")
 * never returns. Needs a policy that allows prctl.
 */
static int h_linger(bx_job *job, void *ctx)
{
	pid_t child;

	(void)ctx;
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
		return 10;
	child = fork();
	if (child < 0)
		return 11;
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
		for (;;)
			pause();
	}
	if (bx_job_argc(job) && strcmp(bx_job_arg(job, 0), "hang") == 0)
		for (;;)
			pause();
	return 0;
}

static int h_flood(bx_job *job, void *ctx)
{
	static char chunk[1 << 16];
	long long total = atoll(bx_job_arg(job, 0));

	(void)ctx;
	memset(chunk, 'f', sizeof(chunk));
	while (total > 0) {
		size_t n = total < (long long)sizeof(chunk) ? (size_t)total : sizeof(chunk);
		ssize_t w = write(bx_job_stdout(job), chunk, n);
		if (w <= 0)
			return 1;
		total -= w;
	}
	return 0;
}

/* A hostile handler: finds the job channel among its fds and writes raw bytes to it. */
static int h_garbage(bx_job *job, void *ctx)
{
	const char *kind = bx_job_arg(job, 0);

	(void)ctx;
	for (int fd = 4; fd < 256; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (strcmp(kind, "bytes") == 0) {
			static const char junk[] = "\x00\x00\x00\x05hello";
			send(fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL);
		} else if (strcmp(kind, "huge") == 0) {
			static const char huge[] = "\x7f\xff\xff\xff";
			send(fd, huge, 4, MSG_NOSIGNAL);
		} else if (strcmp(kind, "status") == 0) {
			/* Two statuses: the second one must be refused. */
			static const char st2[] = "\x00\x00\x00\x1b"
						  "000;3:cmd,13:6:status,1:0,,"
						  "\x00\x00\x00\x1b"
						  "000;3:cmd,13:6:status,1:0,,";
			send(fd, st2, sizeof(st2) - 1, MSG_NOSIGNAL);
		} else if (strcmp(kind, "badstatus") == 0) {
			static const char bad[] = "\x00\x00\x00\x1d"
						  "000;3:cmd,15:6:status,3:256,,";
			send(fd, bad, sizeof(bad) - 1, MSG_NOSIGNAL);
		}
	}
	pause();
	return 0;
}

/* Lists this process's fds that are not the job's own streams: "fd:type" per line. */
static int h_fds(bx_job *job, void *ctx)
{
	(void)ctx;
	for (int fd = 0; fd < 1024; fd++) {
		struct stat st;

		if (fd == bx_job_stdin(job) || fd == bx_job_stdout(job) || fd == bx_job_stderr(job))
			continue;
		if (fstat(fd, &st) < 0)
			continue;
		bx_job_printf(job, "%d:%s\n", fd,
			      S_ISSOCK(st.st_mode)  ? "sock"
			      : S_ISCHR(st.st_mode) ? "chr"
						    : "other");
	}
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {
	    {"echo", h_echo},	  {"cat", h_cat},	    {"fail", h_fail},
	    {"status", h_status}, {"negative", h_negative}, {"env", h_env},
	    {"crash", h_crash},	  {"exit", h_exit},	    {"hang", h_hang},
	    {"flood", h_flood},	  {"garbage", h_garbage},   {"fds", h_fds},
	    {"abort", h_abort},	  {"uid", h_uid},	    {"linger", h_linger},
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int r = bx_engine_register(eng, table[i].name, table[i].fn, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static bx_worker *spawn_or_fail(void)
{
	bx_worker *w = NULL;
	bx_spawn_opts opts;
	bx_error err;
	int r;

	bx_test_spawn_opts(&opts);
	r = bx_spawn(&opts, &w, &err);

	if (r < 0)
		fail_msg("bx_spawn: %d %s", r, err.text);
	return w;
}

/* Runs name with args on w, capturing both outputs; returns bx_job_run's result. */
static int run_job(bx_worker *w, bx_error *err, char **out, char **errout, const char *name, ...)
{
	bx_job *job = NULL;
	va_list ap;
	const char *a;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &job), 0);
	va_start(ap, name);
	while ((a = va_arg(ap, const char *)) != NULL)
		assert_int_equal(bx_job_add_arg(job, a), 0);
	va_end(ap);
	assert_int_equal(bx_job_capture_stdout(job, 1 << 20), 0);
	assert_int_equal(bx_job_capture_stderr(job, 1 << 20), 0);
	bx_error_clear(err);
	r = bx_job_run(job, err);
	if (out)
		*out = strdup(bx_job_output(job, 1, NULL, NULL));
	if (errout)
		*errout = strdup(bx_job_output(job, 2, NULL, NULL));
	bx_job_free(job);
	return r;
}

/* No child process may be left (running or zombie) after a test. */
/* No child may be left but the zygote (see tests_common.h). */
static void assert_no_children(void)
{
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

/* ---------------------------------------------------------------- tests */

static void test_echo(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_error err;
	char *out = NULL;
	(void)state;

	assert_true(bx_worker_pid(w) > 0);
	assert_true(bx_worker_pidfd(w) >= 0);
	assert_int_equal(run_job(w, &err, &out, NULL, "echo", "hello", "world", (char *)NULL), 0);
	assert_string_equal(out, "hello world\n");
	free(out);
	bx_worker_free(w);
}

static void test_statuses(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_error err;
	char *out = NULL, *errout = NULL;
	(void)state;

	assert_int_equal(run_job(w, &err, NULL, &errout, "fail", (char *)NULL), 1);
	assert_string_equal(errout, "failing\n");
	free(errout);
	assert_int_equal(run_job(w, &err, NULL, &errout, "nosuch", (char *)NULL), 127);
	assert_string_equal(errout, "nosuch: command not found\n");
	free(errout);
	assert_int_equal(run_job(w, &err, NULL, NULL, "status", "42", (char *)NULL), 42);
	assert_int_equal(run_job(w, &err, NULL, NULL, "status", "255", (char *)NULL), 255);
	/* A beambox worker's failure comes back with its own errno (beambox/1). */
	assert_int_equal(run_job(w, &err, NULL, NULL, "status", "300", (char *)NULL), -ERANGE);
	assert_non_null(strstr(err.text, "returned status 300"));
	assert_int_equal(run_job(w, &err, NULL, NULL, "negative", (char *)NULL), -EIO);
	assert_non_null(strstr(err.text, "disk on fire"));
	assert_int_equal(run_job(w, &err, &out, NULL, "commands", (char *)NULL), 0);
	assert_string_equal(out, "abort\ncat\ncommands\ncrash\necho\nenv\nexit\nfail\nfds\nflood\n"
				 "garbage\nhang\nlinger\nnegative\nstatus\nuid\n");
	free(out);
	bx_worker_free(w);
}

static void test_env_and_stdin_buffer(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	static char big[3 << 20];
	size_t len = 0;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "env", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "FOO"), 0);
	assert_int_equal(bx_job_add_env(job, "FOO", "bar"), 0);
	assert_int_equal(bx_job_capture_stdout(job, 100), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "bar");
	assert_int_equal(bx_job_run(job, &err), -EALREADY);
	bx_job_free(job);

	/* 3 MiB through stdin and back: more than any pipe or socket buffer. */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "cat", &job), 0);
	assert_int_equal(bx_job_set_stdin_buf(job, big, sizeof(big)), 0);
	assert_int_equal(bx_job_capture_stdout(job, sizeof(big)), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	const char *out = bx_job_output(job, 1, &len, NULL);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(out, big, sizeof(big));
	bx_job_free(job);
	bx_worker_free(w);
}

/* The handler writes to the caller's own file: no intermediate pipe. */
static void test_passed_fds(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	char buf[64] = {0};
	int out = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	int in = memfd_create("in", MFD_CLOEXEC);
	(void)state;

	assert_true(out >= 0 && in >= 0);
	assert_int_equal(write(in, "through the fd\n", 15), 15);
	assert_int_equal(lseek(in, 0, SEEK_SET), 0);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "cat", &job), 0);
	assert_int_equal(bx_job_set_stdin_fd(job, in), 0);
	assert_int_equal(bx_job_set_stdout_fd(job, out), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	bx_job_free(job);
	/* The worker wrote through the same open file: same offset, same bytes. */
	assert_int_equal(lseek(out, 0, SEEK_CUR), 15);
	assert_int_equal(pread(out, buf, sizeof(buf), 0), 15);
	assert_string_equal(buf, "through the fd\n");
	close(in);
	close(out);
	bx_worker_free(w);
}

static void test_crash_noticed(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_error err;
	char expect[128];
	struct pollfd pfd;
	int ws = 0;
	(void)state;

	assert_int_equal(run_job(w, &err, NULL, NULL, "crash", (char *)NULL), -ECHILD);
	snprintf(expect, sizeof(expect), "worker %d killed by signal 11 (SIGSEGV)",
		 (int)bx_worker_pid(w));
	assert_non_null(strstr(err.text, expect));
	/* The pidfd says so too, without any sleep. */
	pfd = (struct pollfd){.fd = bx_worker_pidfd(w), .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(bx_worker_wait(w, 0, &ws), 0);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGSEGV);
	/* Later jobs fail clearly too. */
	assert_int_equal(run_job(w, &err, NULL, NULL, "echo", "x", (char *)NULL), -ECHILD);
	assert_non_null(strstr(err.text, expect));
	bx_worker_free(w);
}

/*
 * abort() in a handler: the serving process is pid 2 under a tiny init, so
 * it dies by SIGABRT (as pid 1 of its namespace the kernel ignored its own
 * SIGABRT and glibc's abort ended in SIGSEGV), and init's death note says so.
 */
static void test_abort_reported(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_error err;
	char expect[128];
	int ws = 0;
	(void)state;

	assert_int_equal(run_job(w, &err, NULL, NULL, "abort", (char *)NULL), -ECHILD);
	snprintf(expect, sizeof(expect), "worker %d killed by signal 6 (SIGABRT)",
		 (int)bx_worker_pid(w));
	if (!strstr(err.text, expect))
		fail_msg("got '%s', want '%s'", err.text, expect);
	assert_int_equal(bx_worker_wait(w, 0, &ws), 0);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGABRT);
	bx_worker_free(w);
}

/* The host pid of pid's only child, from /proc/<pid>/task/<pid>/children. */
static pid_t only_child(pid_t pid)
{
	char path[64], buf[64] = "";
	FILE *f;
	int child = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, "%d", &child) != 1)
		child = -1;
	fclose(f);
	return child;
}

static bool gone_within(int pidfd, int ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/*
 * Killing a worker kills its serving process even when a handler cleared its
 * parent-death signal and left a child that did the same (#11, item 3): the
 * kill goes to the serving process and to pid 1 of the namespace, whose end
 * ends every process in it. Verified through pidfds of both processes.
 */
static void test_kill_outlives_nothing(void **state)
{
	struct bx_policy *p = NULL;
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_job *job = NULL;
	bx_error err;
	pid_t server, orphan;
	int sfd, ofd;
	(void)state;

	assert_int_equal(bx_policy_default(&p), 0);
	assert_int_equal(bx_policy_allow(p, "prctl"), 0);
	bx_test_spawn_opts(&opts);
	opts.policy = p;
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn: %s", err.text);
	/* A child that no parent's death would end. */
	assert_int_equal(run_job(w, &err, NULL, NULL, "linger", (char *)NULL), 0);
	server = bx_worker_serving_pid(w);
	orphan = only_child(server);
	assert_true(orphan > 0);
	sfd = (int)syscall(SYS_pidfd_open, server, 0);
	ofd = (int)syscall(SYS_pidfd_open, orphan, 0);
	assert_true(sfd >= 0 && ofd >= 0);
	/* The serving process itself clears its PDEATHSIG and hangs: the timeout kills. */
	assert_int_equal(bx_job_new(bx_worker_engine(w), "linger", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "hang"), 0);
	bx_job_set_timeout(job, 300);
	assert_int_equal(bx_job_run(job, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	bx_job_free(job);
	if (!gone_within(sfd, 5000))
		fail_msg("serving process %d still runs after the kill", (int)server);
	if (!gone_within(ofd, 5000))
		fail_msg("the handler's child %d still runs after the kill", (int)orphan);
	close(sfd);
	close(ofd);
	bx_worker_free(w);
	bx_policy_free(p);
}

static unsigned host_uid_of(pid_t pid)
{
	char path[64], line[256];
	unsigned uid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid:\t%u", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

/* 1 if the lock file of uid is held by someone, 0 if free or absent. */
static int uid_locked(unsigned uid)
{
	char path[96];
	int fd, r;

	snprintf(path, sizeof(path), "/run/beambox/dynamic-uid/%u", uid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return r;
}

/*
 * uid = dynamic (the shipped policies): a root parent's workers each get a
 * host uid of their own from beambox's range, visible from outside, the same
 * number inside, held for the worker's life and released when it is freed.
 */
static void test_dynamic_uids(void **state)
{
	bx_worker *w1, *w2;
	bx_error err;
	unsigned u1, u2;
	char *out = NULL, want[32];
	(void)state;

	if (geteuid() != 0)
		bx_test_skip("dynamic uids are a root parent's; an unprivileged parent's workers "
			     "run as its own uid");
	w1 = spawn_or_fail();
	w2 = spawn_or_fail();
	u1 = host_uid_of(bx_worker_serving_pid(w1));
	u2 = host_uid_of(bx_worker_serving_pid(w2));
	print_message("dynamic uids: %u and %u\n", u1, u2);
	assert_true(u1 >= 0x70000000u && u1 <= 0x7000ffffu);
	assert_true(u2 >= 0x70000000u && u2 <= 0x7000ffffu);
	assert_int_not_equal(u1, u2);
	/* init runs as that uid too, never as root. */
	assert_int_equal(host_uid_of(bx_worker_pid(w1)), u1);
	assert_int_equal(run_job(w1, &err, &out, NULL, "uid", (char *)NULL), 0);
	snprintf(want, sizeof(want), "%u", u1);
	assert_string_equal(out, want);
	free(out);
	assert_int_equal(uid_locked(u1), 1);
	assert_int_equal(uid_locked(u2), 1);
	bx_worker_free(w1);
	assert_int_equal(uid_locked(u1), 0);
	assert_int_equal(uid_locked(u2), 1);
	bx_worker_free(w2);
	assert_int_equal(uid_locked(u2), 0);
}

/* The range of /etc/beambox/dynamic-uids: "MIN-MAX", strictly. */
static void test_dynamic_uid_range_syntax(void **state)
{
	static const struct {
		const char *text;
		int r;
		unsigned min, max;
	} cases[] = {
	    {"0x70000000-0x7000FFFF\n", 0, 0x70000000u, 0x7000ffffu},
	    {"100000-165535", 0, 100000, 165535},
	    {"5-5", 0, 5, 5},
	    {"0x70000000-0x7000ffff", 0, 0x70000000u, 0x7000ffffu},
	    {"0-100", -ERANGE, 0, 0},	      /* uid 0 never */
	    {"60000-70000", -ERANGE, 0, 0},   /* 65534 inside */
	    {"200-100", -ERANGE, 0, 0},	      /* empty */
	    {"1-4294967295", -ERANGE, 0, 0},  /* (uid_t)-1 */
	    {"1-99999999999", -EINVAL, 0, 0}, /* too long */
	    {" 1-2", -EINVAL, 0, 0},	      /* no spaces */
	    {"1 - 2", -EINVAL, 0, 0},
	    {"+1-2", -EINVAL, 0, 0},
	    {"1-2\n\n", -EINVAL, 0, 0},
	    {"1-", -EINVAL, 0, 0},
	    {"0x-5", -EINVAL, 0, 0},
	    {"12", -EINVAL, 0, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uid_t lo = 0, hi = 0;
		int r = bx_dynuid_parse_range(cases[i].text, strlen(cases[i].text), &lo, &hi);

		if (r != cases[i].r || (r == 0 && (lo != cases[i].min || hi != cases[i].max)))
			fail_msg("'%s': %d %u-%u", cases[i].text, r, (unsigned)lo, (unsigned)hi);
	}
}

/*
 * A parent that does not know beambox (the original Go parent): ENGINESPAWN=1
 * and fd 3, no config. The worker starts its own namespaces the same way
 * (pid 1 of them under a monitor that stays outside), serves, and the
 * monitor ends exactly as the serving process did: here by SIGABRT.
 */
static void test_original_parent_path(void **state)
{
	static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"};
	char exe[512], *env[8], *out = NULL;
	char *const argv[] = {"worker", NULL};
	posix_spawn_file_actions_t fa;
	bx_beam *main = NULL;
	bx_engine *proxy = NULL;
	bx_job *job = NULL;
	bx_error err;
	int sv[2], status = 0, n = 0;
	unsigned uid = 0;
	ssize_t len;
	pid_t pid;
	(void)state;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(len > 0);
	exe[len] = '\0';
	env[n++] = "ENGINESPAWN=1";
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = getenv(pass[i]);
		if (v && asprintf(&env[n], "%s=%s", pass[i], v) > 0)
			n++;
	}
	env[n] = NULL;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, env), 0);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 1; i < n; i++)
		free(env[i]);
	close(sv[1]);
	assert_int_equal(bx_beam_new(sv[0], &main), 0);
	assert_int_equal(bx_remote_proxy_new(main, NULL, &proxy), 0);

	assert_int_equal(bx_job_new(proxy, "uid", &job), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	bx_job_set_timeout(job, 10000);
	if (bx_job_run(job, &err) != 0)
		fail_msg("uid job: %s", err.text);
	out = strdup(bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	if (geteuid() == 0) {
		uid = (unsigned)strtoul(out, NULL, 10);
		assert_true(uid >= 0x70000000u && uid <= 0x7000ffffu);
		assert_int_equal(uid_locked(uid), 1); /* held by the monitor outside */
	} else {
		char want[32];
		snprintf(want, sizeof(want), "%u", (unsigned)geteuid());
		assert_string_equal(out, want);
	}
	free(out);

	assert_int_equal(bx_job_new(proxy, "abort", &job), 0);
	bx_job_set_timeout(job, 10000);
	assert_int_not_equal(bx_job_run(job, &err), 0);
	bx_job_free(job);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("the worker ended with wait status %#x, want SIGABRT", status);
	if (uid) {
		char path[96];

		/* The monitor released it: lock file gone. */
		snprintf(path, sizeof(path), "/run/beambox/dynamic-uid/%u", uid);
		assert_int_equal(access(path, F_OK), -1);
		assert_int_equal(errno, ENOENT);
	}
	bx_remote_proxy_free(proxy);
	bx_beam_free(main);
}

static void test_exit_mid_job(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_error err;
	char expect[128];
	(void)state;

	assert_int_equal(run_job(w, &err, NULL, NULL, "exit", "3", (char *)NULL), -ECHILD);
	snprintf(expect, sizeof(expect), "worker %d exited with status 3", (int)bx_worker_pid(w));
	assert_non_null(strstr(err.text, expect));
	/* Exiting with 0 mid-job is still not a status 0. */
	bx_worker_free(w);
	w = spawn_or_fail();
	assert_int_equal(run_job(w, &err, NULL, NULL, "exit", "0", (char *)NULL), -ECHILD);
	assert_non_null(strstr(err.text, "exited with status 0"));
	bx_worker_free(w);
}

static void test_flood_is_bounded(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	size_t len = 0;
	int truncated = 0;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "flood", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "1073741824"), 0); /* 1 GiB */
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_non_null(bx_job_output(job, 1, &len, &truncated));
	assert_int_equal(len, 4096);
	assert_int_equal(truncated, 1);
	bx_job_free(job);
	bx_worker_free(w);
}

static void test_hostile_channel(void **state)
{
	static const struct {
		const char *kind;
		const char *expect;
	} cases[] = {
	    {"bytes", "undecodable frame from worker"},
	    {"huge", "job channel"},
	    {"status", "frame after the status"},
	    {"badstatus", "bad status '256'"},
	};
	(void)state;
	/* The job channel is beambox/1's (test_hostile.c has beambox/2's main socket). */
	bx_remote_offer_proto2 = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bx_worker *w = spawn_or_fail();
		bx_error err;
		int r = run_job(w, &err, NULL, NULL, "garbage", cases[i].kind, (char *)NULL);

		if (r != -EPROTO || !strstr(err.text, cases[i].expect))
			fail_msg("%s: got %d '%s'", cases[i].kind, r, err.text);
		/* A worker that breaks the protocol is killed. */
		assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
		bx_worker_free(w);
	}
	bx_remote_offer_proto2 = true;
}

static void test_timeout_kills(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "hang", &job), 0);
	bx_job_set_timeout(job, 200);
	assert_int_equal(bx_job_run(job, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.text, "timed out after 200 ms"));
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	bx_job_free(job);
	bx_worker_free(w);
}

struct cancel_arg {
	bx_job *job;
	int pidfd;
};

static void *cancel_soon(void *p)
{
	struct cancel_arg *a = p;
	struct pollfd pfd = {.fd = a->pidfd, .events = POLLIN};

	/* Cancel once the job is surely in flight; the worker is still alive. */
	poll(&pfd, 1, 100);
	bx_job_cancel(a->job);
	return NULL;
}

static void test_cancel(void **state)
{
	bx_worker *w = spawn_or_fail();
	struct cancel_arg a = {.pidfd = bx_worker_pidfd(w)};
	pthread_t th;
	bx_error err;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "hang", &a.job), 0);
	assert_int_equal(pthread_create(&th, NULL, cancel_soon, &a), 0);
	assert_int_equal(bx_job_run(a.job, &err), -ECANCELED);
	pthread_join(th, NULL);
	assert_non_null(strstr(err.text, "cancelled"));
	bx_job_free(a.job);
	bx_worker_free(w);
}

/* bx_worker_free does not wait forever for a worker stuck in a handler. */
static void test_free_busy_worker(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "hang", &job), 0);
	bx_job_set_timeout(job, 1);
	assert_int_equal(bx_job_run(job, &err), -ETIMEDOUT);
	bx_job_free(job);
	bx_worker_free(w);
}

struct thread_arg {
	bx_worker *w;
	int id;
	int failures;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < 125; i++) {
		char arg[32], want[40];
		bx_job *job = NULL;
		bx_error err;

		snprintf(arg, sizeof(arg), "t%d-j%d", a->id, i);
		snprintf(want, sizeof(want), "%s\n", arg);
		if (bx_job_new(bx_worker_engine(a->w), "echo", &job) < 0 ||
		    bx_job_add_arg(job, arg) < 0 || bx_job_capture_stdout(job, 64) < 0 ||
		    bx_job_run(job, &err) != 0 ||
		    strcmp(bx_job_output(job, 1, NULL, NULL), want) != 0)
			a->failures++;
		bx_job_free(job);
	}
	return NULL;
}

static void test_threads(void **state)
{
	bx_worker *w = spawn_or_fail();
	pthread_t th[8];
	struct thread_arg args[8];
	(void)state;

	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){.w = w, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	bx_worker_free(w);
}

static void test_worker_is_isolated_from_fds(void **state)
{
	/* An fd the parent leaks without O_CLOEXEC must not reach the worker. */
	int devnull = open("/dev/null", O_RDONLY);
	int leaked = fcntl(devnull, F_DUPFD, 100); /* no O_CLOEXEC on purpose */
	bx_worker *w;
	bx_error err;
	char path[128], link[256], *out = NULL;
	int seen = 0;
	(void)state;

	assert_true(leaked >= 100);
	w = spawn_or_fail();

	/* From outside (needs the right to read a non-dumpable process's fds: root here). */
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)bx_worker_serving_pid(w), fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (fd > 3)
			fail_msg("worker has fd %d -> %s before any job", fd, link);
		if (fd <= 2)
			assert_string_equal(link, "/dev/null");
		else
			assert_non_null(strstr(link, "socket:"));
		seen++;
	}
	if (geteuid() == 0)
		assert_int_equal(seen, 4);
	else
		print_message(
		    "(outside view of the worker's fds needs root; checked from inside only)\n");
	/*
	 * From inside: 0-2 are /dev/null, 3 the connection, and no job channel
	 * (beambox/2); the job's unset stdin is the worker's own fd 0, not listed.
	 */
	assert_int_equal(run_job(w, &err, &out, NULL, "fds", (char *)NULL), 0);
	assert_string_equal(out, "1:chr\n2:chr\n3:sock\n");
	free(out);

	bx_worker_free(w);
	close(leaked);
	close(devnull);
}

int main(void)
{
	/* First thing: in a worker this never returns. */
	bx_spawn_init(install, NULL);

	/*
	 * The first spawn makes the sealed copy of this program that every later
	 * worker starts from; it is kept for the process's life. Make it before
	 * the per-test fd counts start.
	 */
	bx_worker *warm = NULL;
	bx_spawn_opts opts;
	bx_error err;
	bx_test_spawn_opts(&opts);
	if (bx_spawn(&opts, &warm, &err) < 0) {
		fprintf(stderr, "bx_spawn: %s\n", err.text);
		return 1;
	}
	bx_worker_free(warm);

	const struct CMUnitTest tests[] = {
	    T(test_echo),
	    T(test_statuses),
	    T(test_env_and_stdin_buffer),
	    T(test_passed_fds),
	    T(test_crash_noticed),
	    T(test_abort_reported),
	    T(test_kill_outlives_nothing),
	    T(test_dynamic_uids),
	    T(test_dynamic_uid_range_syntax),
	    T(test_original_parent_path),
	    T(test_exit_mid_job),
	    T(test_flood_is_bounded),
	    T(test_hostile_channel),
	    T(test_timeout_kills),
	    T(test_cancel),
	    T(test_free_busy_worker),
	    T(test_threads),
	    T(test_worker_is_isolated_from_fds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
