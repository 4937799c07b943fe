/* SPDX-License-Identifier: MIT */
/*
 * Violations name the syscall (issue #13): when the filter stops a worker or
 * a program under `beambox exec`, the caller learns which call, as the policy
 * reads it, and the rule that would allow it. Real kernel, real workers:
 *
 *   - a handler's socket(AF_INET, ...) under the default policy fails its job
 *     with the exact message; bx_worker_wait says SIGSYS as before;
 *     bx_worker_describe says the same; the audit log's violation record,
 *     parsed back with json-c, has the call;
 *   - explicit kill rules (`socket: kill`, `expr; kill`), another ABI (int
 *     0x80) and a policy without a pid namespace stay kernel kills (SIGSYS,
 *     no name);
 *   - workers started cold and through the zygote name the call alike;
 *   - a handler whose other threads keep making allowed calls dies whole,
 *     and the refused call never returns; a flood of refused calls from many
 *     threads, and calls withdrawn by a signal storm (which a poll()ing init
 *     would miss), end the same way;
 *   - the notes pipe is out of a handler's reach (no forged note), and
 *     hostile argument values are printed as numbers;
 *   - the stack of every shipped and fixture policy, run in a BPF simulator
 *     with and without violations: every call that was killed is still
 *     killed or handed to init (which kills), nothing else changes, and an
 *     explicit kill stays a kill;
 *   - `beambox exec`: exit status 159, the message, and the JSON status's
 *     syscall fields; python3's socket() under a policy without socket.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/vm_sockets.h>

#include <beambox/spawn.h>

#include "bpf_sim.h"
#include "policy/explain.h"
#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"

#define POLICIES_DIR BX_TEST_DATA_DIR "/../../policies"

/* A sanitizer's runtime in the worker (ASan or TSan): the runtime allows it more calls. */
#if defined(__SANITIZE_THREAD__)
#define SANITIZER_RUNTIME 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SANITIZER_RUNTIME 1
#endif
#endif
#ifndef SANITIZER_RUNTIME
#define SANITIZER_RUNTIME BX_TEST_ASAN
#endif

extern char **environ;

/* ---------------------------------------------------------------- handlers (in the worker) */

static void say(bx_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(bx_job *job, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(bx_job_stdout(job), buf, (size_t)n) < 0) {
		/* the test sees the missing text */
	}
}

static atomic_int spin_stop;
static atomic_long spins;

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spin_stop)) {
		syscall(SYS_getppid); /* allowed (@identity) */
		atomic_fetch_add(&spins, 1);
	}
	return NULL;
}

static void *violator(void *arg)
{
	long *r = arg;

	/* Give the spinners time to run, then the refused call. */
	while (atomic_load(&spins) < 10000)
		sched_yield();
	*r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return NULL;
}

static void *flooder(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return NULL;
}

static atomic_int main_tid;
static void on_usr1(int sig)
{
	(void)sig;
}

static void *signaller(void *arg)
{
	(void)arg;
	for (;;)
		syscall(SYS_tgkill, getpid(), atomic_load(&main_tid), SIGUSR1);
	return NULL;
}

/* call WHAT: one refused (or allowed) call; prints what came back if anything did. */
static int h_call(bx_job *job, void *ctx)
{
	const char *what = bx_job_arg(job, 0);
	long r = -2;

	(void)ctx;
	if (!what)
		return 2;
	if (strcmp(what, "inet") == 0)
		r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(what, "unix") == 0)
		r = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	else if (strcmp(what, "pdeathsig") == 0)
		r = syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	else if (strcmp(what, "hostile-args") == 0)
		/* "\e[31m" and newlines as socket's family and type: numbers, never text */
		r = syscall(SYS_socket, 0x1b5b33316dUL, 0x0a0a0a0aUL, 0);
#if defined(__x86_64__)
	else if (strcmp(what, "int80") == 0) {
		long nr = 20; /* getpid, i386 */

		__asm__ volatile("int $0x80" : "+a"(nr) : : "memory");
		r = nr;
	}
#endif
	else if (strcmp(what, "tiocsti") == 0) {
		char c = 'x';

		r = syscall(SYS_ioctl, 0, TIOCSTI, &c);
	} else if (strcmp(what, "vsock") == 0)
		r = syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
	else if (strcmp(what, "unshare") == 0)
		r = syscall(SYS_unshare, CLONE_NEWUSER);
	else if (strcmp(what, "ok") == 0)
		r = 0;
	say(job, "returned %ld %s\n", r,
	    r < 0 && strerrorname_np(errno) ? strerrorname_np(errno) : "");
	return 0;
}

/* threads: four threads keep making allowed calls while a fifth makes a refused one. */
static int h_threads(bx_job *job, void *ctx)
{
	pthread_t spin[4], bad;
	long r = -2;

	(void)ctx;
	for (int i = 0; i < 4; i++)
		if (pthread_create(&spin[i], NULL, spinner, NULL) != 0)
			return 3;
	if (pthread_create(&bad, NULL, violator, &r) != 0)
		return 3;
	pthread_join(bad, NULL);
	atomic_store(&spin_stop, 1);
	say(job, "survived %ld\n", r);
	return 0;
}

/* flood: sixteen threads make refused calls as fast as they can. */
static int h_flood(bx_job *job, void *ctx)
{
	pthread_t t;

	(void)ctx;
	for (int i = 0; i < 16; i++)
		if (pthread_create(&t, NULL, flooder, NULL) != 0)
			return 3;
	flooder(NULL);
	say(job, "survived\n");
	return 0;
}

/*
 * storm: a signal storm on a thread making refused calls, with a handler
 * that does not restart them: each call is withdrawn from the listener if
 * the signal comes before init reads it. The process must die anyway.
 */
static int h_withdraw(bx_job *job, void *ctx)
{
	struct sigaction sa;
	pthread_t t;
	long eintr = 0;

	(void)ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&main_tid, (int)syscall(SYS_gettid));
	if (pthread_create(&t, NULL, signaller, NULL) != 0)
		return 3;
	for (int i = 0; i < 200000; i++)
		if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) < 0 && errno == EINTR)
			eintr++;
	say(job, "survived eintr=%ld\n", eintr);
	return 0;
}

/* forge: tries to reach init's notes pipe, to write a violation of its own. */
static int h_forge(bx_job *job, void *ctx)
{
	char path[64];
	char link[64];
	int fd, e_open = 0, e_link = 0, e_write = 0, e_dir = 0;
	DIR *d;

	(void)ctx;
	/* init's notes are its fd 4 (src/spawn.c BX_SPAWN_NOTE_FD). */
	snprintf(path, sizeof(path), "/proc/1/fd/%d", 4);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		e_open = errno;
	else
		close(fd);
	if (readlink(path, link, sizeof(link)) < 0)
		e_link = errno;
	d = opendir("/proc/1/fd");
	if (!d)
		e_dir = errno;
	else
		closedir(d);
	/* Its own copy was closed before any handler ran: no fd of its own is a FIFO. */
	for (int i = 3; i < 64; i++) {
		struct stat st;

		if (fstat(i, &st) == 0 && S_ISFIFO(st.st_mode) && i != bx_job_stdout(job))
			e_write = i;
	}
	say(job, "open:%s link:%s fifo:%d dir:%s\n",
	    strerrorname_np(e_open) ? strerrorname_np(e_open) : "0",
	    strerrorname_np(e_link) ? strerrorname_np(e_link) : "0", e_write,
	    strerrorname_np(e_dir) ? strerrorname_np(e_dir) : "0");
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "call", h_call, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "threads", h_threads, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "flood", h_flood, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "storm", h_withdraw, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "forge", h_forge, NULL);
	return r;
}

/* ---------------------------------------------------------------- helpers */

static bx_worker *spawn_started(const struct bx_policy *p, int audit_fd, int start)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.policy = p;
	opts.audit_fd = audit_fd;
	opts.start = start;
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn: %s", err.text);
	return w;
}

/* The default start: through the zygote where the policy fits it, else cold. */
static bx_worker *spawn_with(const struct bx_policy *p, int audit_fd)
{
	return spawn_started(p, audit_fd, BX_SPAWN_START_AUTO);
}

/* Runs name [arg]; returns the status or -errno with err; out: its stdout (free it). */
static int run(bx_worker *w, const char *name, const char *arg, char **out, bx_error *err)
{
	bx_job *job = NULL;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &job), 0);
	if (arg)
		assert_int_equal(bx_job_add_arg(job, arg), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_error_clear(err);
	r = bx_job_run(job, err);
	if (out)
		*out = strdup(bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	return r;
}

static struct bx_policy *parse_text(const char *name, const char *text)
{
	struct bx_policy *p = NULL;
	bx_error err;

	if (bx_policy_parse(name, text, strlen(text), NULL, &p, &err) < 0)
		fail_msg("%s: %s", name, err.text);
	return p;
}

/* The label the messages use for the built-in default policy. */
static const char *default_label(void)
{
	return "default.policy";
}

/* Expects job `name arg` to fail as "job 'NAME': worker PID stopped: " + what. */
static void expect_stopped(bx_worker *w, const char *name, const char *arg, const char *what)
{
	char want[512], *out = NULL;
	bx_error err;
	int r = run(w, name, arg, &out, &err), st = 0;

	snprintf(want, sizeof(want), "job '%s': worker %d stopped: %s", name, (int)bx_worker_pid(w),
		 what);
	if (r != -ECHILD || strcmp(err.text, want) != 0)
		fail_msg("%s %s: %d '%s'\nwant -ECHILD '%s'", name, arg ? arg : "", r, err.text,
			 want);
	if (strstr(out, "returned") || strstr(out, "survived"))
		fail_msg("%s %s: the refused call came back: '%s'", name, arg ? arg : "", out);
	free(out);
	/* The contract of a kill-process default: the wait status is SIGSYS, as before. */
	assert_int_equal(bx_worker_wait(w, 5000, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* Expects a kernel kill: SIGSYS, and no name (the call never reached init). */
static void expect_kernel_kill(bx_worker *w, const char *name, const char *arg)
{
	char want[128], *out = NULL;
	bx_error err;
	int r = run(w, name, arg, &out, &err);

	snprintf(want, sizeof(want), "job '%s': worker %d killed by signal 31 (SIGSYS)", name,
		 (int)bx_worker_pid(w));
	if (r != -ECHILD || strcmp(err.text, want) != 0)
		fail_msg("%s %s: %d '%s'\nwant -ECHILD '%s'", name, arg ? arg : "", r, err.text,
			 want);
	assert_null(strstr(out, "returned"));
	free(out);
}

/* ---------------------------------------------------------------- workers */

static void test_worker_names_the_call(void **state)
{
	char want[512], how[512];
	bx_worker *w;

	(void)state;
	w = spawn_with(NULL, -1);
	snprintf(want, sizeof(want),
		 "socket(AF_INET, SOCK_STREAM, 0) is not allowed by %s; to allow it add 'socket: "
		 "arg0 == AF_INET'",
		 default_label());
	expect_stopped(w, "call", "inet", want);
	bx_worker_describe(w, how, sizeof(how));
	snprintf(want, sizeof(want),
		 "worker %d stopped: socket(AF_INET, SOCK_STREAM, 0) is not allowed by %s; to "
		 "allow it add 'socket: arg0 == AF_INET'",
		 (int)bx_worker_pid(w), default_label());
	assert_string_equal(how, want);
	bx_worker_free(w);

	/* A call a group allows says so; an option is named by its constant. */
	w = spawn_with(NULL, -1);
	snprintf(want, sizeof(want),
		 "socket(AF_UNIX, SOCK_STREAM, 0) is not allowed by %s; to allow it add 'socket: "
		 "arg0 == AF_UNIX' or '@network-unix'",
		 default_label());
	expect_stopped(w, "call", "unix", want);
	bx_worker_free(w);
	if (SANITIZER_RUNTIME)
		return; /* a sanitizer build's worker runtime allows prctl (SECURITY.md) */
	w = spawn_with(NULL, -1);
	snprintf(want, sizeof(want),
		 "prctl(PR_SET_PDEATHSIG, 0x9, 0, 0, 0) is not allowed by %s; to allow it add "
		 "'prctl: arg0 == PR_SET_PDEATHSIG'",
		 default_label());
	expect_stopped(w, "call", "pdeathsig", want);
	bx_worker_free(w);
}

/* The audit log's violation record, parsed back with json-c, then the worker's exit. */
static void test_audit_violation_record(void **state)
{
	int p[2];
	bx_worker *w;
	pid_t pid;
	char buf[16384], *line, *save = NULL;
	size_t got = 0;
	ssize_t n;
	bx_error err;
	bool seen_violation = false, seen_exit = false;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	w = spawn_with(NULL, p[1]);
	pid = bx_worker_pid(w);
	assert_true(run(w, "call", "inet", NULL, &err) == -ECHILD);
	bx_worker_free(w);
	close(p[1]);
	while (got + 1 < sizeof(buf) && (n = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(p[0]);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *o = json_tokener_parse(line), *v, *a;
		const char *ev;

		assert_non_null(o);
		assert_true(json_object_object_get_ex(o, "event", &v));
		ev = json_object_get_string(v);
		if (strcmp(ev, "violation") == 0) {
			seen_violation = true;
			assert_false(seen_exit); /* before the worker's exit */
			assert_true(json_object_object_get_ex(o, "worker_pid", &v));
			assert_int_equal(json_object_get_int(v), pid);
			assert_true(json_object_object_get_ex(o, "policy", &v));
			assert_string_equal(json_object_get_string(v), "default");
			assert_true(json_object_object_get_ex(o, "syscall", &v));
			assert_string_equal(json_object_get_string(v), "socket");
			assert_true(json_object_object_get_ex(o, "nr", &v));
			assert_int_equal(json_object_get_int(v), SYS_socket);
			assert_true(json_object_object_get_ex(o, "args", &a));
			assert_int_equal(json_object_array_length(a), 6);
			assert_int_equal(json_object_get_uint64(json_object_array_get_idx(a, 0)),
					 AF_INET);
			assert_int_equal(json_object_get_uint64(json_object_array_get_idx(a, 1)),
					 SOCK_STREAM);
			assert_int_equal(json_object_get_uint64(json_object_array_get_idx(a, 2)),
					 0);
			assert_true(json_object_object_get_ex(o, "call", &v));
			assert_string_equal(json_object_get_string(v),
					    "socket(AF_INET, SOCK_STREAM, 0)");
			assert_true(json_object_object_get_ex(o, "message", &v));
			assert_non_null(strstr(json_object_get_string(v),
					       "to allow it add 'socket: arg0 == "
					       "AF_INET'"));
		} else if (strcmp(ev, "worker_exited") == 0) {
			seen_exit = true;
			assert_true(json_object_object_get_ex(o, "signal", &v));
			assert_int_equal(json_object_get_int(v), SIGSYS);
		}
		json_object_put(o);
	}
	assert_true(seen_violation);
	assert_true(seen_exit);
}

/* Explicit kill rules and another ABI stay the kernel's kills: SIGSYS, no name. */
static void test_kernel_kills_stay(void **state)
{
	struct bx_policy *p;
	bx_worker *w;

	(void)state;
	/* The arch check: an i386 call from a 64-bit process. */
	w = spawn_with(NULL, -1);
	expect_kernel_kill(w, "call", "int80");
	bx_worker_free(w);
	if (SANITIZER_RUNTIME)
		bx_test_skip("a sanitizer's runtime makes calls a syscalls-only policy refuses; "
			     "the plain build runs the explicit-kill half");
	p = parse_text("kills.policy", "write: 1\n"
				       "socket: kill\n"
				       "prctl: arg0 == PR_SET_NAME; kill\n");
	w = spawn_with(p, -1);
	expect_kernel_kill(w, "call", "inet");
	bx_worker_free(w);
	w = spawn_with(p, -1);
	expect_kernel_kill(w, "call", "pdeathsig");
	bx_worker_free(w);
	bx_policy_free(p);
	/* The same prctl line without `; kill`: the default's, so named. */
	p = parse_text("named.policy", "write: 1\nprctl: arg0 == PR_SET_NAME\n");
	w = spawn_with(p, -1);
	expect_stopped(w, "call", "pdeathsig",
		       "prctl(PR_SET_PDEATHSIG, 0x9, 0, 0, 0) is not allowed by named.policy; to "
		       "allow it add 'prctl: arg0 == PR_SET_PDEATHSIG'");
	bx_worker_free(w);
	bx_policy_free(p);
}

/*
 * The deny list keeps its word. Its calls that the policy refuses were
 * killed by the kill-process default (KILL outranks the deny list's ERRNO);
 * with that default handed to init (USER_NOTIF ranks below ERRNO) they stay
 * kernel kills (compile.c, deny_kills); its calls the policy never mentions
 * fail with the deny list's errno as before, and the worker lives on.
 */
static void test_deny_list_precedence(void **state)
{
	struct bx_policy *p;
	bx_worker *w;
	char *out = NULL;
	bx_error err;

	(void)state;
	if (SANITIZER_RUNTIME)
		bx_test_skip("a sanitizer's runtime makes calls a syscalls-only policy refuses; "
			     "test_precedence_simulated checks these stacks in every build");
	p = parse_text("deny.policy", "write: 1\n"
				      "ioctl: arg1 == TCGETS\n"
				      "socket: arg0 == AF_UNIX\n");
	/* ioctl(TIOCSTI) and socket(AF_VSOCK): on the deny list, refused by the policy: killed */
	w = spawn_with(p, -1);
	expect_kernel_kill(w, "call", "tiocsti");
	bx_worker_free(w);
	w = spawn_with(p, -1);
	expect_kernel_kill(w, "call", "vsock");
	bx_worker_free(w);
	/* unshare: on the deny list, not in the policy: EPERM, and the worker goes on */
	w = spawn_with(p, -1);
	assert_int_equal(run(w, "call", "unshare", &out, &err), 0);
	assert_string_equal(out, "returned -1 EPERM\n");
	free(out);
	assert_int_equal(run(w, "call", "unix", &out, &err), 0);
	assert_non_null(strstr(out, "returned "));
	free(out);
	/* and what the policy alone refuses is named, on the same worker */
	expect_stopped(w, "call", "inet",
		       "socket(AF_INET, SOCK_STREAM, 0) is not allowed by deny.policy; to allow "
		       "it add 'socket: arg0 == AF_INET'");
	bx_worker_free(w);
	bx_policy_free(p);
}

/* Without a pid namespace there is no init to hold a listener: the kernel kills, as before. */
static void test_no_pid_namespace(void **state)
{
	struct bx_policy *p = NULL;
	bx_worker *w;

	(void)state;
	assert_int_equal(bx_policy_default(&p), 0);
	/* (a time namespace applies to children only: without pid 1 there are none) */
	p->namespaces &= ~(uint32_t)(BX_NS_PID | BX_NS_TIME);
	w = spawn_with(p, -1);
	assert_null(strstr(bx_worker_report(w), "a refused call is named"));
	expect_kernel_kill(w, "call", "inet");
	bx_worker_free(w);
	bx_policy_free(p);
}

static const char inet_stopped[] =
    "socket(AF_INET, SOCK_STREAM, 0) is not allowed by default.policy; to allow it add "
    "'socket: arg0 == AF_INET'";

/*
 * A worker forked by the zygote runs the same worker code (src/spawn/worker.c)
 * as a cold one: its serving process hands the listener to its own init
 * either way. Each start, explicitly: the refused call named, from the
 * handler's thread and from a second thread.
 */
static void test_zygote_and_cold_starts(void **state)
{
	static const int starts[] = {BX_SPAWN_START_ZYGOTE, BX_SPAWN_START_COLD};
	char want[512], how[512];

	(void)state;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		bx_worker *w = spawn_started(NULL, -1, starts[i]);

		assert_non_null(strstr(bx_worker_report(w), "a refused call is named"));
		expect_stopped(w, "call", "inet", inet_stopped);
		bx_worker_describe(w, how, sizeof(how));
		snprintf(want, sizeof(want), "worker %d stopped: %s", (int)bx_worker_pid(w),
			 inet_stopped);
		assert_string_equal(how, want);
		bx_worker_free(w);
		w = spawn_started(NULL, -1, starts[i]);
		expect_stopped(w, "threads", NULL, inet_stopped);
		bx_worker_free(w);
	}
}

/* One thread's refused call ends the process; the others were making allowed calls. */
static void test_threads(void **state)
{
	bx_worker *w;

	(void)state;
	w = spawn_with(NULL, -1);
	expect_stopped(w, "threads", NULL, inet_stopped);
	bx_worker_free(w);
}

/* Sixteen threads of refused calls: one note, one kill, promptly. */
static void test_flood(void **state)
{
	struct timespec t0, t1;
	bx_worker *w;

	(void)state;
	w = spawn_with(NULL, -1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_stopped(w, "flood", NULL, inet_stopped);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("flood: stopped after %ld ms\n",
		      (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	bx_worker_free(w);
}

/* A signal storm withdraws refused calls before init reads them: the process dies anyway. */
static void test_withdrawn_calls_still_stop(void **state)
{
	char *out = NULL, how[512];
	bx_error err;
	bx_worker *w;
	int st = 0, r;

	(void)state;
	for (int round = 0; round < 3; round++) {
		w = spawn_with(NULL, -1);
		r = run(w, "storm", NULL, &out, &err);
		if (r != -ECHILD || !strstr(err.text, " stopped: ") || strstr(out, "survived"))
			fail_msg("round %d: %d '%s', stdout '%s'", round, r, err.text, out);
		free(out);
		assert_int_equal(bx_worker_wait(w, 5000, &st), 0);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
		bx_worker_describe(w, how, sizeof(how));
		print_message("round %d: %s\n", round, how);
		bx_worker_free(w);
	}
}

/* A handler cannot reach init's notes; hostile values come out as numbers. */
static void test_no_forged_note(void **state)
{
	char *out = NULL, how[128];
	bx_error err;
	bx_worker *w;
	int r;

	(void)state;
	w = spawn_with(NULL, -1);
	r = run(w, "forge", NULL, &out, &err);
	if (r != 0)
		fail_msg("forge: %d %s", r, err.text);
	/*
	 * /proc/1 is init's, which is not dumpable: the ptrace check refuses
	 * opening and reading its fds. Listing their numbers depends on who owns
	 * /proc/1/fd: root of init's user namespace, which is the handler's own
	 * host uid for an unprivileged parent's zygote-forked worker (numbers
	 * only; nothing to open).
	 */
	if (strcmp(out, "open:EACCES link:EACCES fifo:0 dir:EACCES\n") != 0 &&
	    strcmp(out, "open:EACCES link:EACCES fifo:0 dir:0\n") != 0)
		fail_msg("forge: %s", out);
	free(out);
	bx_worker_describe(w, how, sizeof(how));
	assert_non_null(strstr(how, "is running"));
	r = run(w, "call", "hostile-args", &out, &err);
	assert_int_equal(r, -ECHILD);
	if (!strstr(err.text, "stopped: socket(0x1b5b33316d, "
			      "SOCK_PACKET|SOCK_NONBLOCK|SOCK_CLOEXEC|0xa020200, 0) is not "
			      "allowed"))
		fail_msg("hostile-args: %s", err.text);
	assert_non_null(strstr(err.text, "to allow it add 'socket: arg0 == 0x1b5b33316d'"));
	for (const char *c = err.text; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
	free(out);
	bx_worker_free(w);
}

/* ---------------------------------------------------------------- the stacks, simulated */

static uint32_t sim(const struct bx_bpf *bpf, uint32_t arch, int nr, const uint64_t args[6])
{
	const struct sock_filter *progs[BX_BPF_PROGS_MAX];
	size_t lens[BX_BPF_PROGS_MAX];
	struct seccomp_data d = {.nr = nr, .arch = arch};

	for (size_t i = 0; i < bpf->nprogs; i++) {
		progs[i] = bpf->progs[i].insns;
		lens[i] = bpf->progs[i].len;
	}
	for (int i = 0; i < 6; i++)
		d.args[i] = args[i];
	return bx_bpf_sim_stack(progs, lens, bpf->nprogs, &d);
}

/*
 * Values that hit rules: each constant of the policy's clauses (and around
 * it), and a few common ones, for each argument position.
 */
static size_t arg_values(const struct bx_policy *p, uint64_t *out, size_t max)
{
	static const uint64_t common[] = {
	    0, 1, 2, 3, 7, 0x5401, 0xffffffff, ~(uint64_t)0, 0x80000000, 0x100000000ULL};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]) && n < max; i++)
		out[n++] = common[i];
	for (size_t r = 0; r < p->nrules; r++)
		for (size_t c = 0; c < p->rules[r].nclauses; c++)
			for (size_t k = 0; k < p->rules[r].clauses[c].ncmp && n + 3 <= max; k++) {
				uint64_t v = p->rules[r].clauses[c].cmp[k].value;

				out[n++] = v;
				out[n++] = v + 1;
				out[n++] = v | ~p->rules[r].clauses[c].cmp[k].mask;
			}
	return n;
}

/* Compares the stacks with and without violations over every syscall and many arguments. */
static void compare_stacks(const char *path, const struct bx_policy *p, enum bx_runtime rt,
			   size_t *notified, size_t *checked)
{
	struct bx_seccomp_extra old_x = {
	    .exec_fd = rt == BX_RUNTIME_EXEC ? 64 : -1, .runtime = rt, .note_fd = 5};
	struct bx_seccomp_extra new_x = old_x;
	struct bx_bpf old_b = {0}, new_b = {0};
	static uint64_t vals[4096];
	size_t nv = arg_values(p, vals, sizeof(vals) / sizeof(vals[0]));
	bx_error err;
	int max = bx_syscall_max() + 8;

	new_x.violations = true;
	new_x.violation_fd = rt == BX_RUNTIME_EXEC ? 65 : -1;
	if (bx_seccomp_compile(p, &old_x, &old_b, &err) < 0)
		fail_msg("%s: %s", path, err.text);
	if (bx_seccomp_compile(p, &new_x, &new_b, &err) < 0)
		fail_msg("%s (violations): %s", path, err.text);
	for (int nr = -1; nr < max; nr++) {
		for (size_t a = 0; a < nv; a++) {
			for (int pos = 0; pos < 6; pos++) {
				uint64_t args[6] = {0};
				uint32_t o, n;

				args[pos] = vals[a];
				if (pos > 0)
					args[0] = vals[(a * 7 + 3) % nv];
				o = sim(&old_b, seccomp_arch_native(), nr, args);
				n = sim(&new_b, seccomp_arch_native(), nr, args);
				(*checked)++;
				if (o == n)
					continue;
				/*
				 * The one difference allowed: what the kill-process
				 * default killed is handed to init, which kills. The
				 * sendmsg on the exec channel is the one new allowance.
				 */
				if (o == SECCOMP_RET_KILL_PROCESS && n == SECCOMP_RET_USER_NOTIF &&
				    p->default_action == SCMP_ACT_KILL_PROCESS) {
					(*notified)++;
					continue;
				}
				if (rt == BX_RUNTIME_EXEC && nr == SYS_sendmsg && args[0] == 65 &&
				    args[2] == MSG_NOSIGNAL && n == SECCOMP_RET_ALLOW)
					continue;
				fail_msg("%s (runtime %d): nr %d args %#llx %#llx %#llx: %#x "
					 "without violations, %#x with",
					 path, rt, nr, (unsigned long long)args[0],
					 (unsigned long long)args[1], (unsigned long long)args[2],
					 o, n);
			}
		}
	}
	/* Other ABIs: still the arch check's kill. */
	for (int nr = 0; nr < 400; nr += 7) {
		uint64_t args[6] = {0};

		assert_int_equal(sim(&new_b, 0x40000003 /* AUDIT_ARCH_I386 */, nr, args),
				 SECCOMP_RET_KILL_PROCESS);
		assert_int_equal(sim(&new_b, seccomp_arch_native(), nr | 0x40000000, args),
				 SECCOMP_RET_KILL_PROCESS);
	}
	bx_bpf_free(&old_b);
	bx_bpf_free(&new_b);
}

static void sim_file(const char *path, size_t *notified, size_t *checked)
{
	struct bx_policy *p = NULL;
	bx_error err;

	if (bx_policy_load_file(path, &p, &err) < 0)
		fail_msg("%s: %s", path, err.text);
	compare_stacks(path, p, BX_RUNTIME_WORKER, notified, checked);
	compare_stacks(path, p, BX_RUNTIME_EXEC, notified, checked);
	bx_policy_free(p);
}

static void test_precedence_simulated(void **state)
{
	static const char *const dirs[] = {POLICIES_DIR, BX_TEST_DATA_DIR "/minijail"};
	size_t notified = 0, checked = 0, files = 0;
	struct bx_policy *p;

	(void)state;
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		assert_non_null(dir);
		while ((e = readdir(dir))) {
			size_t len = strlen(e->d_name);
			char path[512];

			if (len < 8 || strcmp(e->d_name + len - 7, ".policy") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			sim_file(path, &notified, &checked);
			files++;
		}
		closedir(dir);
	}
	/* Explicit kills: a rule, and `expr; kill`, stay kills with violations. */
	p = parse_text("kills.policy", "socket: kill\nsetpriority: arg0 == PRIO_PROCESS; kill\n"
				       "ioctl: arg1 == TCGETS\n");
	{
		struct bx_seccomp_extra x = {
		    .exec_fd = -1, .runtime = BX_RUNTIME_WORKER, .violations = true};
		struct bx_bpf b = {0};
		uint64_t a_sock[6] = {AF_INET}, a_pgrp[6] = {PRIO_PGRP}, a_proc[6] = {PRIO_PROCESS},
			 a_ioctl[6] = {0, 0x5402};
		bx_error err;

		assert_int_equal(bx_seccomp_compile(p, &x, &b, &err), 0);
		assert_int_equal(sim(&b, seccomp_arch_native(), SYS_socket, a_sock),
				 SECCOMP_RET_KILL_PROCESS);
		assert_int_equal(sim(&b, seccomp_arch_native(), SYS_setpriority, a_pgrp),
				 SECCOMP_RET_KILL_PROCESS);
		assert_int_equal(sim(&b, seccomp_arch_native(), SYS_setpriority, a_proc),
				 SECCOMP_RET_ALLOW);
		/* ioctl's other requests: the default's, so named */
		assert_int_equal(sim(&b, seccomp_arch_native(), SYS_ioctl, a_ioctl),
				 SECCOMP_RET_USER_NOTIF);
		compare_stacks("kills.policy", p, BX_RUNTIME_WORKER, &notified, &checked);
		bx_bpf_free(&b);
	}
	bx_policy_free(p);
	print_message("%zu policies, %zu calls simulated, %zu handed to init instead of killed\n",
		      files, checked, notified);
	assert_true(files >= 20);
	assert_true(notified > 0);
}

/* ---------------------------------------------------------------- the policy layer's text */

static void test_explain_table(void **state)
{
	static const struct {
		const char *syscall;
		uint64_t args[6];
		const char *call, *rule;
	} rows[] = {
	    {"socket",
	     {AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0},
	     "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)",
	     "socket: arg0 == AF_INET"},
	    {"ioctl",
	     {1, 0x5413, 0x1000},
	     "ioctl(1, TIOCGWINSZ, 0x1000)",
	     "ioctl: arg1 == TIOCGWINSZ"},
	    {"fcntl", {3, 1, 0}, "fcntl(3, F_GETFD, 0)", "fcntl: arg1 == F_GETFD"},
	    {"clone",
	     {0x1200011, 0, 0, 0, 0},
	     "clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, 0, 0, 0, 0)",
	     "clone: arg0 == CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"},
	    {"mmap",
	     {0, 4096, 7, 0x22, (uint64_t)-1, 0},
	     "mmap(0, 4096, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)",
	     "mmap: arg2 == PROT_READ|PROT_WRITE|PROT_EXEC"},
	    {"mprotect",
	     {0x1000, 4096, 0},
	     "mprotect(0x1000, 4096, PROT_NONE)",
	     "mprotect: arg2 == PROT_NONE"},
	    {"openat",
	     {(uint64_t)-100, 0x1234, 0x80000, 0},
	     "openat(AT_FDCWD, 0x1234, O_RDONLY|O_CLOEXEC, 0)",
	     "openat: arg2 == O_RDONLY|O_CLOEXEC"},
	    {"prctl",
	     {PR_SET_NAME, 0x10},
	     "prctl(PR_SET_NAME, 0x10, 0, 0, 0)",
	     "prctl: arg0 == PR_SET_NAME"},
	    {"kill", {1, SIGKILL}, "kill(1, SIGKILL)", "kill: 1"},
	    {"getppid", {0}, "getppid()", "getppid: 1"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int nr = bx_syscall_resolve(rows[i].syscall);
		char call[BX_EXPLAIN_CALL_MAX], rule[BX_EXPLAIN_RULE_MAX], name[40];
		struct bx_policy *p;
		bool allowed = false;

		assert_true(nr >= 0);
		bx_explain_call(nr, rows[i].args, call, sizeof(call), name, sizeof(name));
		bx_explain_rule(nr, rows[i].args, rule, sizeof(rule));
		assert_string_equal(name, rows[i].syscall);
		assert_string_equal(call, rows[i].call);
		assert_string_equal(rule, rows[i].rule);
		/* The rule parses, and allows this very call. */
		p = parse_text("rule.policy", rule);
		for (size_t r = 0; r < p->nrules; r++) {
			if (strcmp(p->rules[r].name, rows[i].syscall) != 0)
				continue;
			allowed |= p->rules[r].nclauses == 0;
			for (size_t c = 0; c < p->rules[r].nclauses; c++)
				allowed |= bx_sc_clause_eval(&p->rules[r].clauses[c], rows[i].args);
		}
		if (!allowed)
			fail_msg("'%s' does not allow %s", rule, call);
		bx_policy_free(p);
	}
	/* A number without a name: no rule to suggest, the number said. */
	{
		uint64_t args[6] = {1, 2, 3};
		char text[256];

		bx_explain_violation("x.policy", 4000, 1, args, text, sizeof(text));
		assert_string_equal(text,
				    "syscall 4000(0x1, 0x2, 0x3, ...) is not allowed by x.policy");
	}
}

/* ---------------------------------------------------------------- beambox exec */

struct result {
	int status;
	char out[8192];
	char err[8192];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

static void run_cli(struct result *res, const char *const *args)
{
	const char *argv[32] = {BX_CLI_PATH};
	int out[2], err[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, n = 1;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	assert_int_equal(posix_spawn(&pid, BX_CLI_PATH, &fa, NULL, (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	read_all(out[0], res->out, sizeof(res->out));
	read_all(err[0], res->err, sizeof(res->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The JSON status (on stdout: --json-status-fd 1) of a run whose program prints nothing. */
static json_object *json_status(const struct result *res)
{
	json_object *o = json_tokener_parse(res->out);

	if (!o)
		fail_msg("not JSON: '%s' (stderr '%s')", res->out, res->err);
	return o;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\"", key);
	return v;
}

static void test_exec_names_the_call(void **state)
{
	const char *const args[] = {
	    "exec", "--json-status-fd", "1", "--", BX_VIOLATION_PROBE, "inet", NULL};
	struct result res;
	json_object *o, *a;

	(void)state;
	run_cli(&res, args);
	if (res.status != 159 ||
	    !strstr(res.err, "violation_probe stopped: socket(AF_INET, SOCK_STREAM, 0) is not "
			     "allowed by default.policy; to allow it add 'socket: arg0 == "
			     "AF_INET'\n"))
		fail_msg("status %d\nstderr: %s", res.status, res.err);
	assert_null(strstr(res.out, "survived"));
	o = json_status(&res);
	assert_int_equal(json_object_get_int(field(o, "status")), 159);
	assert_int_equal(json_object_get_int(field(o, "signal")), SIGSYS);
	assert_string_equal(json_object_get_string(field(o, "syscall")), "socket");
	assert_int_equal(json_object_get_int(field(o, "syscall_nr")), SYS_socket);
	a = field(o, "syscall_args");
	assert_int_equal(json_object_array_length(a), 6);
	assert_int_equal(json_object_get_uint64(json_object_array_get_idx(a, 0)), AF_INET);
	assert_string_equal(json_object_get_string(field(o, "call")),
			    "socket(AF_INET, SOCK_STREAM, 0)");
	assert_non_null(strstr(json_object_get_string(field(o, "violation")),
			       "to allow it add 'socket: arg0 == AF_INET'"));
	json_object_put(o);
}

/* int 0x80 and an explicit kill rule: 159 as ever, no name (the kernel killed). */
static void test_exec_kernel_kills(void **state)
{
	char path[64];
	const char *const int80[] = {
	    "exec", "--json-status-fd", "1", "--", BX_VIOLATION_PROBE, "int80", NULL};
	const char *kill_rule[] = {"exec", "--json-status-fd", "1",    "--policy", path,
				   "--",   BX_VIOLATION_PROBE, "inet", NULL};
	struct result res;
	json_object *o;
	int fd;

	(void)state;
	run_cli(&res, int80);
	if (res.status != 159 || !strstr(res.err, "was killed by the seccomp filter (SIGSYS)"))
		fail_msg("int80: status %d\nstderr: %s", res.status, res.err);
	o = json_status(&res);
	assert_true(json_object_is_type(field(o, "syscall"), json_type_null));
	assert_true(json_object_is_type(field(o, "violation"), json_type_null));
	json_object_put(o);

	/* The default policy with socket killed explicitly. */
	snprintf(path, sizeof(path), "/tmp/bx-kill-rule-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(dprintf(fd, "@include %s/default.policy\nsocket: kill\n", POLICIES_DIR) > 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	run_cli(&res, kill_rule);
	unlink(path);
	if (res.status != 159 || !strstr(res.err, "was killed by the seccomp filter (SIGSYS)"))
		fail_msg("kill rule: status %d\nstderr: %s", res.status, res.err);
	o = json_status(&res);
	assert_true(json_object_is_type(field(o, "syscall"), json_type_null));
	json_object_put(o);
}

/* python3's socket() under the tools policy without its socket lines. */
static void test_exec_python_socket(void **state)
{
	char path[64], *text = NULL, line[512];
	const char *const args[] = {"exec",
				    "--json-status-fd",
				    "1",
				    "--policy",
				    path,
				    "--",
				    "/usr/bin/python3",
				    "-c",
				    "import socket; socket.socket()",
				    NULL};
	struct result res;
	json_object *o;
	FILE *in;
	int fd;

	(void)state;
	(void)text;
	if (access("/usr/bin/python3", X_OK) != 0)
		bx_test_skip("no /usr/bin/python3 here");
	snprintf(path, sizeof(path), "/tmp/bx-nosocket-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	in = fopen(POLICIES_DIR "/tools.policy", "re");
	assert_non_null(in);
	while (fgets(line, sizeof(line), in)) {
		char *refuse = strstr(line, "; return EACCES");

		/* AF_UNIX stays allowed; every other family now gets the default. */
		if (strncmp(line, "socket", 6) == 0 && refuse)
			memmove(refuse, refuse + 15, strlen(refuse + 15) + 1);
		if (strncmp(line, "@include common/", 16) == 0)
			dprintf(fd, "@include %s/%s", POLICIES_DIR, line + 9);
		else
			dprintf(fd, "%s", line);
	}
	fclose(in);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	run_cli(&res, args);
	unlink(path);
	if (res.status != 159 || !strstr(res.err, "python3 stopped: socket(AF_INET, "
						  "SOCK_STREAM|SOCK_CLOEXEC, 0) is not allowed by "
						  "bx-nosocket-"))
		fail_msg("status %d\nstderr: %s", res.status, res.err);
	assert_non_null(strstr(res.err, "to allow it add 'socket: arg0 == AF_INET'"));
	o = json_status(&res);
	assert_string_equal(json_object_get_string(field(o, "syscall")), "socket");
	assert_string_equal(json_object_get_string(field(o, "call")),
			    "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, 0)");
	json_object_put(o);
}

int main(void)
{
	bx_spawn_init(install, NULL);

	/*
	 * The sealed program copy (cold starts) and the zygote are made once;
	 * make both before fd counting starts.
	 */
	{
		bx_worker *warm = spawn_started(NULL, -1, BX_SPAWN_START_COLD);

		bx_worker_free(warm);
		warm = spawn_with(NULL, -1);
		bx_worker_free(warm);
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_explain_table),
	    cmocka_unit_test(test_precedence_simulated),
	    bx_fd_test(test_worker_names_the_call),
	    bx_fd_test(test_audit_violation_record),
	    bx_fd_test(test_kernel_kills_stay),
	    bx_fd_test(test_deny_list_precedence),
	    bx_fd_test(test_no_pid_namespace),
	    bx_fd_test(test_zygote_and_cold_starts),
	    bx_fd_test(test_threads),
	    bx_fd_test(test_flood),
	    bx_fd_test(test_withdrawn_calls_still_stop),
	    bx_fd_test(test_no_forged_note),
	    bx_fd_test(test_exec_names_the_call),
	    bx_fd_test(test_exec_kernel_kills),
	    bx_fd_test(test_exec_python_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
