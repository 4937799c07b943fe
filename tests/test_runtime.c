/* SPDX-License-Identifier: MIT */
/*
 * The runtime's own calls (src/policy/runtime.c) in real workers and under
 * `beambox exec`: a policy names its service's calls only, and beambox adds
 * what its own code does after the filter is loaded (beam messages, the
 * receive loop, reaping, exit, malloc; exec's pid-1 init).
 *
 *   - policies/untrusted.policy (no sendmsg, recvmsg, getsockopt...) hosts a
 *     real worker that runs jobs;
 *   - a minijail-style policy of one line ("write: 1"), which gets the strict
 *     default's settings, hosts a worker too;
 *   - the allowances are restricted by argument: the same calls with other
 *     arguments kill the worker (SIGSYS), as the policy's default says;
 *   - a syscalls-only minijail policy runs /bin/true under `beambox exec`, and
 *     a program it does not cover dies by SIGSYS (exit status 159).
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "policy/policy.h"

#define POLICIES_DIR BX_TEST_DATA_DIR "/../../policies"

/* ---------------------------------------------------------------- handlers */

static int write_all(int fd, const char *s)
{
	size_t len = strlen(s), done = 0;

	while (done < len) {
		ssize_t n = write(fd, s + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* Writes its arguments to stdout with write(2) only: what a one-line policy allows. */
static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; bx_job_arg(job, i); i++) {
		if (write_all(bx_job_stdout(job), bx_job_arg(job, i)) < 0 ||
		    write_all(bx_job_stdout(job), "\n") < 0)
			return 1;
	}
	return 0;
}

/* The runtime's calls with arguments it never uses: each must be refused (killed). */
static int h_misuse(bx_job *job, void *ctx)
{
	const char *what = bx_job_arg(job, 0);
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	(void)ctx;
	if (!what)
		return 2;
	if (strcmp(what, "sendmsg") == 0) /* flags 0: not MSG_NOSIGNAL */
		syscall(SYS_sendmsg, bx_job_stdout(job), &m, 0);
	else if (strcmp(what, "wait4") == 0) /* a given pid, blocking */
		syscall(SYS_wait4, 12345, NULL, 0, NULL);
	else if (strcmp(what, "mmap-exec") == 0) /* executable memory */
		syscall(SYS_mmap, NULL, 4096, 7 /* PROT_READ|WRITE|EXEC */, 0x22, -1, 0);
	else if (strcmp(what, "fcntl") == 0) /* not F_DUPFD_CLOEXEC */
		syscall(SYS_fcntl, bx_job_stdout(job), F_SETFL, O_APPEND);
	else if (strcmp(what, "write") == 0) /* the runtime writes to fd 2 only */
		syscall(SYS_write, bx_job_stdout(job), "x", 1);
	return 3; /* not reached when the filter kills */
}

static int install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "echo", h_echo, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "misuse", h_misuse, NULL);
	return r;
}

/* ---------------------------------------------------------------- helpers */

static bx_worker *spawn_with(const struct bx_policy *p)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_error err;

	bx_test_spawn_opts(&opts);
	opts.policy = p;
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn: %s", err.text);
	return w;
}

/* Runs name(arg) and returns the status (or -errno with err); *out: its stdout. */
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

static void jobs_run(bx_worker *w, const char *what)
{
	for (int i = 0; i < 5; i++) {
		char arg[32], want[40], *out = NULL;
		bx_error err;
		int r;

		snprintf(arg, sizeof(arg), "job-%d", i);
		snprintf(want, sizeof(want), "%s\n", arg);
		r = run(w, "echo", arg, &out, &err);
		if (r != 0)
			fail_msg("%s: job %d: %d %s", what, i, r, err.text);
		assert_string_equal(out, want);
		free(out);
	}
}

/* ---------------------------------------------------------------- tests */

static void test_untrusted_hosts_worker(void **state)
{
	struct bx_policy *p = NULL;
	bx_worker *w;
	bx_error err;

	(void)state;
	if (bx_policy_load_file(POLICIES_DIR "/untrusted.policy", &p, &err) < 0)
		fail_msg("%s", err.text);
	w = spawn_with(p);
	jobs_run(w, "untrusted.policy");
	bx_worker_free(w);
	bx_policy_free(p);
}

static struct bx_policy *one_line_policy(void)
{
	static const char text[] = "# A minijail policy of one line.\nwrite: 1\n";
	struct bx_policy *p = NULL;
	bx_error err;

	if (bx_policy_parse("one-line.policy", text, strlen(text), NULL, &p, &err) < 0)
		fail_msg("%s", err.text);
	/* No [policy] section: the strict default's settings. */
	assert_true(p->namespaces & BX_NS_PID);
	assert_true(p->namespaces & BX_NS_NET);
	assert_true(p->nbinds >= 1);
	return p;
}

static void test_one_line_policy_hosts_worker(void **state)
{
	struct bx_policy *p;
	bx_worker *w;

	(void)state;
	if (BX_TEST_ASAN)
		bx_test_skip("a sanitizer's runtime makes calls of its own in the worker (mmap "
			     "with other flags, madvise, sigaltstack...) that a one-line policy "
			     "does not allow; the plain build runs this");
	p = one_line_policy();
	w = spawn_with(p);
	jobs_run(w, "write: 1");
	bx_worker_free(w);
	bx_policy_free(p);
}

/* Each misuse of a runtime call kills the worker: its arguments are restricted. */
static void test_runtime_restricted_by_argument(void **state)
{
	static const char *const misuses[] = {"sendmsg", "wait4", "mmap-exec", "fcntl", "write"};
	struct bx_policy *p;

	(void)state;
	if (BX_TEST_ASAN)
		bx_test_skip("sanitizer runtimes make calls of their own in the worker");
	p = one_line_policy();
	/* write is the policy's own here; drop it so that "write" tests the runtime's fd 2 only. */
	p->nrules = 0;
	for (size_t i = 0; i < sizeof(misuses) / sizeof(misuses[0]); i++) {
		bx_worker *w = spawn_with(p);
		bx_error err;
		int r = run(w, "misuse", misuses[i], NULL, &err);

		if (r >= 0 || !strstr(err.text, "killed by signal 31 (SIGSYS)"))
			fail_msg("%s: %d '%s', want a death by SIGSYS", misuses[i], r, err.text);
		bx_worker_free(w);
	}
	bx_policy_free(p);
}

/* Runs the CLI; returns its exit status (or 1000 + signal). */
static int cli(const char *const argv[])
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execv(BX_CLI_PATH, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* A syscalls-only minijail policy runs a program under `beambox exec`. */
static void test_exec_minijail_policy(void **state)
{
	const char *const run_true[] = {
	    BX_CLI_PATH, "exec",      "--policy", BX_TEST_DATA_DIR "/minijail/true.policy",
	    "--",	 "/bin/true", NULL};
	const char *const run_ls[] = {
	    BX_CLI_PATH, "exec",    "--policy", BX_TEST_DATA_DIR "/minijail/true.policy",
	    "--",	 "/bin/ls", "/",	NULL};
	int st;

	(void)state;
	st = cli(run_true);
	if (st != 0)
		fail_msg("exec /bin/true under minijail/true.policy: status %d", st);
	/* ls needs more than true.policy allows: killed by the filter, 128 + SIGSYS. */
	st = cli(run_ls);
	if (st != 128 + SIGSYS)
		fail_msg("exec /bin/ls under minijail/true.policy: status %d, want %d", st,
			 128 + SIGSYS);
}

int main(void)
{
	bx_spawn_init(install, NULL);

	/* The sealed program copy is made once; make it before fd counting starts. */
	{
		bx_worker *warm = spawn_with(NULL);

		bx_worker_free(warm);
	}
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_untrusted_hosts_worker),
	    bx_fd_test(test_one_line_policy_hosts_worker),
	    bx_fd_test(test_runtime_restricted_by_argument),
	    bx_fd_test(test_exec_minijail_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
