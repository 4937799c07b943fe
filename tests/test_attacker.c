/* SPDX-License-Identifier: MIT */
/*
 * A host process running as the worker's host uid attacks it (issue #11,
 * items A and B): it tries to read /proc/PID/environ, to take the worker's
 * fds with pidfd_getfd, and to PTRACE_SEIZE it, at every phase of a root
 * parent's worker's life:
 *
 *   a. the clone3 child before exec, holding a copy of the parent's memory
 *      (paused deterministically: bx_child_start's before_release hook);
 *   b. after exec, before the identity step (host uid 0 in its own
 *      root-owned namespace; paused by this test's own main() in the worker,
 *      which runs before bx_spawn_init);
 *   c. during the confinement steps after the identity step (a race: an
 *      attacker loops over the test's workers while many are spawned; the
 *      state it sees there, uid D and not dumpable, is also that of d);
 *   d. while a job runs, with a root-only file as the job's stdin;
 *   e. a program under `beambox exec` (bx_exec_run), and its init.
 *
 * Every attempt must fail with the exact errno: EACCES for environ, EPERM for
 * pidfd_getfd and PTRACE_SEIZE. The worst case is tested: a policy with the
 * fixed, shared uid 65534, attacked by a process of uid 65534; phase d also
 * with a dynamic uid. Root only: an unprivileged parent's workers run in
 * namespaces owned by the parent's own uid, which is then the trust boundary
 * (SECURITY.md); such an attacker is that user.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/exec.h>
#include <beambox/spawn.h>

#include "policy/policy.h"
#include "spawn/child.h"
#include "util/cleanup.h"

#define NOBODY	    65534u
#define FDS_TRIED   16
#define RACE_SPAWNS 12

/* ---------------------------------------------------------------- the worker's side */

static __attribute__((noreturn)) int h_hang(bx_job *job, void *ctx)
{
	(void)job;
	(void)ctx;
	for (;;)
		pause();
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	return bx_engine_register(eng, "hang", h_hang, NULL);
}

/* This process's pid as the host sees it (the first NSpid field). */
static pid_t host_pid(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int pid = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "NSpid:\t%d", &pid) == 1)
			break;
	if (f)
		fclose(f);
	return pid;
}

/* Phase b, in the worker: say where we are, wait until the attacker is done. */
static void worker_pause(const char *dir)
{
	char path[256], byte;
	int fd;

	snprintf(path, sizeof(path), "%s/ready", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	dprintf(fd, "%d\n", (int)host_pid());
	close(fd);
	snprintf(path, sizeof(path), "%s/go", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, &byte, 1) < 0)
		byte = 0;
	if (fd >= 0)
		close(fd);
	unsetenv("BX_ATTACK_PAUSE");
}

/* ---------------------------------------------------------------- the attacker */

struct tally {
	int attempts;  /* against a live target */
	int phases[3]; /* race: targets seen as host root, as their uid unconfined, confined */
	int breaches;  /* anything that worked */
	int unexpected;
	char what[256]; /* the first breach or unexpected errno */
};

static void bad(struct tally *t, bool breach, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad(struct tally *t, bool breach, const char *fmt, ...)
{
	va_list ap;

	if (breach)
		t->breaches++;
	else
		t->unexpected++;
	if (t->what[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->what, sizeof(t->what), fmt, ap);
	va_end(ap);
}

/* In the attacker (already uid U): every attack on pid, counted. */
static void attack_once(pid_t pid, struct tally *t)
{
	char path[64], buf[64];
	int pidfd, fd, e_environ = 0, e_seize = 0;
	int e_getfd[FDS_TRIED];
	ssize_t environ_read = -1;
	struct pollfd p;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return; /* gone */
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		environ_read = read(fd, buf, sizeof(buf));
		close(fd);
	} else {
		e_environ = errno;
	}
	for (int i = 0; i < FDS_TRIED; i++) {
		int stolen = (int)syscall(SYS_pidfd_getfd, pidfd, i, 0);

		e_getfd[i] = stolen < 0 ? errno : 0;
		if (stolen >= 0)
			close(stolen);
	}
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0)
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	else
		e_seize = errno;
	/* Only a target that lived through all of it counts (a dead one has nothing left). */
	p = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&p, 1, 0) != 0) {
		close(pidfd);
		return;
	}
	close(pidfd);
	t->attempts++;
	if (fd >= 0)
		bad(t, environ_read > 0, "pid %d: /proc/PID/environ opened (read %zd bytes)",
		    (int)pid, environ_read);
	else if (e_environ != EACCES)
		bad(t, false, "pid %d: environ: %s, want EACCES", (int)pid, strerror(e_environ));
	for (int i = 0; i < FDS_TRIED; i++) {
		if (e_getfd[i] == 0)
			bad(t, true, "pid %d: pidfd_getfd(%d) worked", (int)pid, i);
		else if (e_getfd[i] != EPERM)
			bad(t, false, "pid %d: pidfd_getfd(%d): %s, want EPERM", (int)pid, i,
			    strerror(e_getfd[i]));
	}
	if (e_seize == 0)
		bad(t, true, "pid %d: PTRACE_SEIZE worked", (int)pid);
	else if (e_seize != EPERM)
		bad(t, false, "pid %d: PTRACE_SEIZE: %s, want EPERM", (int)pid, strerror(e_seize));
}

/* Becomes uid/gid with raw calls (this test process has threads: no glibc set-id). */
static void become(uid_t uid, gid_t gid)
{
	if (syscall(SYS_setgroups, 0, NULL) < 0 || syscall(SYS_setresgid, gid, gid, gid) < 0 ||
	    syscall(SYS_setresuid, uid, uid, uid) < 0)
		_exit(99);
}

/* A separate process of host uid `uid` attacks pid once; returns its tally. */
static struct tally attack(pid_t pid, uid_t uid)
{
	struct tally t;
	int p[2];
	pid_t child;

	memset(&t, 0, sizeof(t));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		become(uid, (gid_t)uid);
		attack_once(pid, &t);
		if (write(p[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			_exit(98);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &t, sizeof(t)), (ssize_t)sizeof(t));
	close(p[0]);
	assert_int_equal(waitpid(child, NULL, 0), child);
	return t;
}

static void expect_all_refused(const char *phase, const struct tally *t, int min_attempts)
{
	print_message("%s: %d attacks, all refused as expected: %s\n", phase, t->attempts,
		      t->breaches || t->unexpected ? "NO" : "yes");
	if (t->breaches || t->unexpected)
		fail_msg("%s: %d breaches, %d unexpected results; first: %s", phase, t->breaches,
			 t->unexpected, t->what);
	if (t->attempts < min_attempts)
		fail_msg("%s: only %d attacks reached a live target", phase, t->attempts);
}

/* ---------------------------------------------------------------- helpers */

static struct bx_policy *fixed_uid_policy(uid_t uid)
{
	struct bx_policy *p = NULL;

	assert_int_equal(bx_policy_default(&p), 0);
	p->uid_dynamic = false;
	p->uid = uid;
	p->gid = (gid_t)uid;
	return p;
}

static unsigned host_uid_of(pid_t pid)
{
	char path[64], line[256];
	unsigned uid = ~0u;
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

static bool skip_unless_root(void)
{
	if (geteuid() == 0)
		return false;
	print_message("SKIPPED: an unprivileged parent's workers run as its own uid in "
		      "namespaces it owns: that uid is the trust boundary (SECURITY.md)\n");
	return true;
}

/* A root-only file: what a root parent holds that uid 65534 must never get. */
static int root_only_file(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/bx-attacker-secret.XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0600), 0);
	assert_int_equal(write(fd, "root's secret\n", 14), 14);
	return fd;
}

/* ---------------------------------------------------------------- a. before exec */

struct phase_a {
	const char *secret_path;
	struct tally t;
	int fds_seen;
	int blocked;
	char bad_fd[160];
};

/* Runs in the parent while the child waits for its release, holding the parent's memory. */
static int before_release(pid_t pid, void *ctx)
{
	struct phase_a *a = ctx;
	char dir[64], path[320], link[256];
	DIR *d;
	struct dirent *e;

	/*
	 * Wait until the child blocks on its release (read(2) on the sync pipe):
	 * by then it has arranged its fds, and changed no credential yet.
	 */
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int tries = 0; tries < 5000; tries++) {
		char sc[32] = "";
		FILE *f = fopen(path, "re");

		if (f && fgets(sc, sizeof(sc), f) && strncmp(sc, "0 ", 2) == 0 && ++a->blocked)
			tries = 5000;
		if (f)
			fclose(f);
		if (!a->blocked) {
			struct pollfd none = {.fd = -1};
			poll(&none, 1, 1);
		}
	}
	/* Every fd the child does not need is closed before anything else changes. */
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	while (d && (e = readdir(d)) != NULL) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		a->fds_seen++;
		if (strcmp(link, a->secret_path) == 0)
			snprintf(a->bad_fd, sizeof(a->bad_fd), "fd %.16s -> %.100s", e->d_name,
				 link);
	}
	if (d)
		closedir(d);
	a->t = attack(pid, NOBODY);
	return 0;
}

static void test_before_exec(void **state)
{
	char secret_path[64];
	int secret = root_only_file(secret_path, sizeof(secret_path));
	int leaked = fcntl(secret, F_DUPFD, 50); /* no O_CLOEXEC, as a careless program has */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int prog = open("/bin/true", O_RDONLY | O_CLOEXEC);
	int sv[2];
	char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
	struct phase_a a = {.secret_path = secret_path};
	struct bx_child_spec spec;
	struct bx_child child;
	siginfo_t si;
	bx_error err;
	(void)state;

	if (skip_unless_root()) {
		close(leaked), close(secret), close(devnull), close(prog), unlink(secret_path);
		skip();
	}
	assert_true(leaked >= 0 && devnull >= 0 && prog >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	/* The child bx_spawn makes, with the policy uid 65534 (the shared account). */
	spec = (struct bx_child_spec){
	    .ns_flags = CLONE_NEWUSER | CLONE_NEWPID,
	    .uid = NOBODY,
	    .gid = NOBODY,
	    .as_root = true,
	    .fds = {{devnull, 0, false},
		    {devnull, 1, false},
		    {devnull, 2, false},
		    {sv[1], 3, false}},
	    .nfds = 4,
	    .exec_fd = prog,
	    .argv = argv,
	    .envp = envp,
	    .ambient = (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SETPCAP) | (1ULL << CAP_SETUID) |
		       (1ULL << CAP_SETGID),
	    .timeout_ms = 10000,
	    .before_release = before_release,
	    .ctx = &a,
	};
	bx_error_clear(&err);
	if (bx_child_start(&spec, &child, &err) != 0)
		fail_msg("bx_child_start: %s", err.text);
	assert_int_equal(bx_child_reap(child.pidfd, &si), 0);
	close(child.pidfd);
	assert_int_equal(si.si_code, CLD_EXITED);
	assert_int_equal(si.si_status, 0);
	close(sv[0]), close(sv[1]), close(devnull), close(prog), close(leaked), close(secret);
	unlink(secret_path);
	assert_true(a.blocked);
	if (a.bad_fd[0])
		fail_msg("the child held %s while it waited", a.bad_fd);
	/* 0-3, and the child's own: the sync and error pipes, the program to execute. */
	assert_int_equal(a.fds_seen, 7);
	expect_all_refused("before exec", &a.t, 1);
}

/* ---------------------------------------------------------------- b. after exec, root still */

struct spawn_arg {
	const struct bx_policy *policy;
	int start; /* enum bx_spawn_start */
	/*
	 * >= 0: the thread writes a byte to done_fd once bx_spawn returned,
	 * then waits for EOF on hold_fd before it ends (a worker dies with the
	 * thread that started it: its parent-death signal).
	 */
	int hold_fd, done_fd;
	bx_worker *w;
	int r;
	char error[256];
};

static void *spawn_thread(void *p)
{
	static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS",
					   "BX_ATTACK_PAUSE", NULL};
	struct spawn_arg *a = p;
	bx_spawn_opts opts;
	bx_error err;

	bx_spawn_opts_init(&opts);
	opts.env_keep = keep;
	opts.policy = a->policy;
	opts.start = a->start;
	opts.ready_timeout_ms = 60000;
	bx_error_clear(&err);
	a->r = bx_spawn(&opts, &a->w, &err);
	if (a->r < 0)
		snprintf(a->error, sizeof(a->error), "%.200s", err.text);
	if (a->hold_fd >= 0) {
		char byte = 'd';

		if (write(a->done_fd, &byte, 1) != 1)
			a->r = -EIO;
		while (read(a->hold_fd, &byte, 1) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

static void test_after_exec_before_identity(void **state)
{
	char dir[] = "/tmp/bx-attacker.XXXXXX", path[128], buf[32] = "";
	struct bx_policy *p;
	struct spawn_arg sa;
	pthread_t th;
	struct tally t;
	pid_t pid;
	FILE *f;
	int fd, hold[2], done[2];
	char byte;
	(void)state;

	if (skip_unless_root())
		skip();
	p = fixed_uid_policy(NOBODY);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ready", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/go", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	setenv("BX_ATTACK_PAUSE", dir, 1);
	assert_int_equal(pipe2(hold, O_CLOEXEC), 0);
	assert_int_equal(pipe2(done, O_CLOEXEC), 0);
	/* A fresh execution: a zygote's child runs no main() (it is the zygote's copy). */
	sa = (struct spawn_arg){
	    .policy = p, .start = BX_SPAWN_START_COLD, .hold_fd = hold[0], .done_fd = done[1]};
	assert_int_equal(pthread_create(&th, NULL, spawn_thread, &sa), 0);
	/* The worker's main() writes its host pid, then waits for us. */
	snprintf(path, sizeof(path), "%s/ready", dir);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	pid = atoi(buf);
	assert_true(pid > 0);
	/* Still host root (not mapped in its root-owned namespace): uid 65534 has nothing. */
	assert_int_equal(host_uid_of(pid), 0);
	t = attack(pid, NOBODY);
	snprintf(path, sizeof(path), "%s/go", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "g", 1), 1);
	close(fd);
	/* Until bx_spawn returned in the thread, which then stays. */
	assert_int_equal(read(done[0], &byte, 1), 1);
	close(done[0]);
	close(done[1]);
	snprintf(path, sizeof(path), "%s/ready", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/go", dir);
	unlink(path);
	rmdir(dir);
	if (sa.r < 0) {
		close(hold[1]);
		pthread_join(th, NULL);
		close(hold[0]);
		fail_msg("bx_spawn: %s", sa.error);
	}
	assert_int_equal(host_uid_of(bx_worker_serving_pid(sa.w)), NOBODY);
	bx_worker_free(sa.w);
	close(hold[1]);
	pthread_join(th, NULL);
	close(hold[0]);
	bx_policy_free(p);
	expect_all_refused("after exec, before the identity step", &t, 1);
}

/* ---------------------------------------------------------------- c. all through setup (race) */

struct racer {
	int stop[2]; /* the test closes stop[1] to end the race */
	int out[2];
	pid_t child;
};

/* The attacker's loop: every process whose parent is the test or one of its children. */
static void race_loop(pid_t test, int stop_fd, int out_fd)
{
	struct tally t;
	struct pollfd p = {.fd = stop_fd, .events = POLLIN};

	memset(&t, 0, sizeof(t));
	while (poll(&p, 1, 0) == 0) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d)) != NULL) {
			char path[64], line[128];
			int pid = atoi(e->d_name), ppid = -1, pppid = -1;
			FILE *f;

			if (pid <= 0 || pid == getpid())
				continue;
			snprintf(path, sizeof(path), "/proc/%d/status", pid);
			f = fopen(path, "re");
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "PPid:\t%d", &ppid) == 1)
					break;
			if (f)
				fclose(f);
			if (ppid != test && ppid > 0) {
				/* a serving process: its parent must be one of the test's inits */
				snprintf(path, sizeof(path), "/proc/%d/status", ppid);
				f = fopen(path, "re");
				while (f && fgets(line, sizeof(line), f))
					if (sscanf(line, "PPid:\t%d", &pppid) == 1)
						break;
				if (f)
					fclose(f);
				if (pppid != test)
					continue;
			}
			if (ppid != test && pppid != test)
				continue;
			{
				unsigned uid = ~0u;
				int seccomp = -1, before = t.attempts;

				snprintf(path, sizeof(path), "/proc/%d/status", pid);
				f = fopen(path, "re");
				while (f && fgets(line, sizeof(line), f)) {
					if (sscanf(line, "Uid:\t%u", &uid) == 1)
						continue;
					if (sscanf(line, "Seccomp:\t%d", &seccomp) == 1)
						break;
				}
				if (f)
					fclose(f);
				attack_once(pid, &t);
				if (t.attempts > before)
					t.phases[uid == 0 ? 0 : seccomp == 2 ? 2 : 1]++;
			}
		}
		if (d)
			closedir(d);
	}
	if (write(out_fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		_exit(98);
	_exit(0);
}

static void test_during_setup_race(void **state)
{
	struct bx_policy *p;
	bx_worker *w[RACE_SPAWNS];
	struct racer r;
	struct tally t;
	pid_t test = getpid();
	(void)state;

	if (skip_unless_root())
		skip();
	p = fixed_uid_policy(NOBODY);
	assert_int_equal(pipe2(r.stop, O_CLOEXEC), 0);
	assert_int_equal(pipe2(r.out, O_CLOEXEC), 0);
	r.child = fork();
	assert_true(r.child >= 0);
	if (r.child == 0) {
		close(r.stop[1]);
		close(r.out[0]);
		become(NOBODY, NOBODY);
		race_loop(test, r.stop[0], r.out[1]);
	}
	close(r.stop[0]);
	close(r.out[1]);
	/*
	 * Workers are freed only after the race: a pid the attacker looks at is
	 * one of ours, alive or not yet reaped, never a recycled one.
	 */
	for (int i = 0; i < RACE_SPAWNS; i++) {
		/* Cold and zygote starts in turn; the zygote itself (our child, root) is a target
		 * too. */
		struct spawn_arg sa = {.policy = p,
				       .start = i % 2 ? BX_SPAWN_START_ZYGOTE : BX_SPAWN_START_COLD,
				       .hold_fd = -1};

		spawn_thread(&sa);
		if (sa.r < 0)
			fail_msg("bx_spawn: %s", sa.error);
		w[i] = sa.w;
	}
	close(r.stop[1]);
	assert_int_equal(read(r.out[0], &t, sizeof(t)), (ssize_t)sizeof(t));
	close(r.out[0]);
	assert_int_equal(waitpid(r.child, NULL, 0), r.child);
	for (int i = 0; i < RACE_SPAWNS; i++)
		bx_worker_free(w[i]);
	bx_policy_free(p);
	print_message("race: targets attacked as host root %d, as uid 65534 still being "
		      "confined %d, confined %d\n",
		      t.phases[0], t.phases[1], t.phases[2]);
	expect_all_refused("during setup (race)", &t, RACE_SPAWNS);
}

/* ---------------------------------------------------------------- d. while a job runs */

struct job_arg {
	bx_worker *w;
	int stdin_fd;
	int r;
};

static void *job_thread(void *p)
{
	struct job_arg *a = p;
	bx_job *job = NULL;
	bx_error err;

	a->r = bx_job_new(bx_worker_engine(a->w), "hang", &job);
	if (a->r == 0)
		a->r = bx_job_set_stdin_fd(job, a->stdin_fd);
	if (a->r == 0) {
		bx_job_set_timeout(job, 60000);
		a->r = bx_job_run(job, &err);
	}
	bx_job_free(job);
	return NULL;
}

/* The job's stdin is in the serving process: wait until it is (a pidfd poll, no sleep). */
static bool job_stdin_arrived(pid_t pid, const char *secret_path)
{
	for (int tries = 0; tries < 1000; tries++) {
		char path[64], link[256];

		for (int fd = 0; fd < 64; fd++) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0 && (link[n] = '\0', strcmp(link, secret_path) == 0))
				return true;
		}
		struct pollfd none = {.fd = -1};
		poll(&none, 1, 10);
	}
	return false;
}

static void job_phase(const struct bx_policy *p, int start, uid_t attacker_uid, const char *label)
{
	char secret_path[64];
	int secret = root_only_file(secret_path, sizeof(secret_path));
	struct spawn_arg sa = {.policy = p, .start = start, .hold_fd = -1};
	struct job_arg ja;
	struct tally t1, t2;
	pthread_t th;
	uid_t uid;

	spawn_thread(&sa);
	if (sa.r < 0)
		fail_msg("bx_spawn: %s", sa.error);
	uid = host_uid_of(bx_worker_serving_pid(sa.w));
	if (attacker_uid == (uid_t)-1)
		attacker_uid = uid;
	assert_int_equal(uid, attacker_uid);
	ja = (struct job_arg){.w = sa.w, .stdin_fd = secret};
	assert_int_equal(pthread_create(&th, NULL, job_thread, &ja), 0);
	assert_true(job_stdin_arrived(bx_worker_serving_pid(sa.w), secret_path));
	t1 = attack(bx_worker_serving_pid(sa.w), attacker_uid);
	t2 = attack(bx_worker_pid(sa.w), attacker_uid); /* its init */
	t1.attempts += t2.attempts, t1.breaches += t2.breaches, t1.unexpected += t2.unexpected;
	if (!t1.what[0])
		memcpy(t1.what, t2.what, sizeof(t1.what));
	bx_ignore(bx_worker_kill(sa.w, SIGKILL));
	pthread_join(th, NULL);
	assert_int_not_equal(ja.r, 0);
	bx_worker_free(sa.w);
	close(secret);
	unlink(secret_path);
	expect_all_refused(label, &t1, 2);
}

static void test_while_a_job_runs(void **state)
{
	struct bx_policy *fixed;
	(void)state;

	if (skip_unless_root())
		skip();
	fixed = fixed_uid_policy(NOBODY);
	/* A fresh execution, then a child of the zygote (no exec: the zygote's memory). */
	job_phase(fixed, BX_SPAWN_START_COLD, NOBODY, "job running, uid 65534 (fixed, shared)");
	job_phase(fixed, BX_SPAWN_START_ZYGOTE, NOBODY,
		  "job running, uid 65534 (fixed, shared), zygote");
	bx_policy_free(fixed);
	/* The shipped default: a dynamic uid, attacked by a process of that very uid. */
	job_phase(NULL, BX_SPAWN_START_COLD, (uid_t)-1, "job running, dynamic uid");
	job_phase(NULL, BX_SPAWN_START_ZYGOTE, (uid_t)-1, "job running, dynamic uid, zygote");
}

/* ---------------------------------------------------------------- e. beambox exec's program */

/* The only child of pid, waiting (bounded) until there is one. */
static pid_t wait_child_of(pid_t pid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (int tries = 0; tries < 2000; tries++) {
		FILE *f = fopen(path, "re");
		int child = 0;

		if (f && fgets(buf, sizeof(buf), f))
			child = atoi(buf);
		if (f)
			fclose(f);
		if (child > 0)
			return child;
		struct pollfd none = {.fd = -1};
		poll(&none, 1, 5);
	}
	return -1;
}

/*
 * `beambox exec` as root (bx_exec_run): the same start as a worker's, so the
 * program and its init, running as uid 65534 here, are out of reach of a
 * host process of uid 65534 too.
 */
static void test_exec_program(void **state)
{
	char *const argv[] = {"sleep", "60", NULL};
	struct bx_policy *p;
	struct tally t1, t2;
	pid_t waiter, init, prog;
	int status;
	(void)state;

	if (skip_unless_root())
		skip();
	p = fixed_uid_policy(NOBODY);
	waiter = fork();
	assert_true(waiter >= 0);
	if (waiter == 0) {
		bx_exec_opts o;
		bx_error err;

		bx_exec_opts_init(&o);
		o.policy = p;
		bx_error_clear(&err);
		_exit(bx_exec_run(&o, "/bin/sleep", argv, NULL, &err) == 0 ? 0 : 3);
	}
	init = wait_child_of(waiter);
	assert_true(init > 0);
	prog = wait_child_of(init);
	assert_true(prog > 0);
	assert_int_equal(host_uid_of(prog), NOBODY);
	t1 = attack(prog, NOBODY);
	t2 = attack(init, NOBODY);
	t1.attempts += t2.attempts, t1.breaches += t2.breaches, t1.unexpected += t2.unexpected;
	if (!t1.what[0])
		memcpy(t1.what, t2.what, sizeof(t1.what));
	/* The waiter's death ends the sandbox (its init's parent-death signal). */
	kill(waiter, SIGKILL);
	assert_int_equal(waitpid(waiter, &status, 0), waiter);
	bx_policy_free(p);
	expect_all_refused("beambox exec's program and init", &t1, 2);
}

int main(void)
{
	const char *pause_dir = getenv("BX_ATTACK_PAUSE");

	/* Phase b: in a worker, before bx_spawn_init (and so before any confinement step). */
	if (pause_dir && getenv(BX_SPAWN_MARKER))
		worker_pause(pause_dir);
	bx_spawn_init(install, NULL);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_before_exec),
	    cmocka_unit_test(test_after_exec_before_identity),
	    cmocka_unit_test(test_during_setup_race),
	    cmocka_unit_test(test_while_a_job_runs),
	    cmocka_unit_test(test_exec_program),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
