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
 *     a program it does not cover dies by SIGSYS (exit status 159);
 *   - each process has exactly its own filter: pid 1 (init) one small filter
 *     of its own, the serving process the policy's stack; a handler cannot
 *     fork with init's grants, nor a program under `beambox exec` whose
 *     policy has no clone (it can when the policy allows clone).
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	else if (strcmp(what, "fork") == 0) /* glibc's fork: init's, never the handler's */
		syscall(SYS_clone, CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID | SIGCHLD, 0, NULL,
			NULL, 0);
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
	static const char *const misuses[] = {"sendmsg", "wait4", "mmap-exec",
					      "fcntl",	 "write", "fork"};
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

		int st = 0;

		/* By the kernel, or by init for a refused call it named (test_violation.c). */
		if (r >= 0 || (!strstr(err.text, "killed by signal 31 (SIGSYS)") &&
			       !strstr(err.text, " stopped: ")))
			fail_msg("%s: %d '%s', want a death by SIGSYS", misuses[i], r, err.text);
		assert_int_equal(bx_worker_wait(w, 5000, &st), 0);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
		bx_worker_free(w);
	}
	bx_policy_free(p);
}

/* A field of /proc/PID/status as a number, or -1 if it is not there. */
static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			v = strtol(line + klen + 1, NULL, 0);
	fclose(f);
	return v;
}

/*
 * Seen from outside: pid 1 (init) and the serving process each have no
 * new privileges, no capability and a filter, and not the same filters:
 * init's own one, and the policy's stack (the deny list's filter, the
 * policy's) for the serving process, which never had init's.
 */
static void test_each_process_its_own_filter(void **state)
{
	struct bx_policy *p = NULL;
	pid_t init, serving;
	bx_worker *w;
	bx_error err;
	long n1, n2;

	(void)state;
	if (bx_policy_load_file(POLICIES_DIR "/untrusted.policy", &p, &err) < 0)
		fail_msg("%s", err.text);
	w = spawn_with(p);
	init = bx_worker_pid(w);
	serving = bx_worker_serving_pid(w);
	assert_true(init > 0 && serving > 0 && init != serving);
	for (int i = 0; i < 2; i++) {
		pid_t pid = i ? serving : init;

		assert_int_equal(status_field(pid, "Seccomp"), 2);
		assert_int_equal(status_field(pid, "NoNewPrivs"), 1);
		assert_int_equal(status_field(pid, "CapEff"), 0);
		assert_int_equal(status_field(pid, "CapPrm"), 0);
		assert_int_equal(status_field(pid, "CapBnd"), 0);
	}
	assert_non_null(strstr(bx_worker_report(w), "seccomp: init: 1 filter"));
	n1 = status_field(init, "Seccomp_filters");
	n2 = status_field(serving, "Seccomp_filters");
	if (n1 >= 0) {
		/* Filters are inherited: had init loaded before the fork, pid 2 would have its too.
		 */
		assert_int_equal(n1, 1);
		assert_true(n2 >= 2);
		print_message("init: %ld filter, serving process: %ld filters\n", n1, n2);
	} else {
		print_message("no Seccomp_filters in /proc/PID/status (before Linux 5.9): counts "
			      "not checked\n");
	}
	jobs_run(w, "untrusted.policy");
	bx_worker_free(w);
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

/* Writes a syscalls-only policy: true.policy's calls, what fork_probe needs, and extra. */
static void probe_policy(char *path, size_t len, const char *extra)
{
	int fd;

	snprintf(path, len, "/tmp/bx-fork-probe-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(dprintf(fd,
			    "@include " BX_TEST_DATA_DIR "/minijail/true.policy\n"
			    "write: 1\nwait4: 1\n%s",
			    extra) > 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
}

/*
 * The program of `beambox exec` has its policy's filter and nothing of its
 * init's: without clone in the policy it dies by SIGSYS when it forks (init
 * itself forked it with glibc's fork), with clone it forks.
 */
static void test_exec_fork_needs_clone(void **state)
{
	char without[64], with[64];
	const char *run[] = {BX_CLI_PATH, "exec", "--policy", NULL, "--", BX_FORK_PROBE, NULL};
	int st;

	(void)state;
	probe_policy(without, sizeof(without), "");
	probe_policy(with, sizeof(with),
		     "clone: arg0 == CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD\n");
	run[3] = without;
	st = cli(run);
	run[3] = with;
	if (st != 128 + SIGSYS) {
		unlink(without);
		unlink(with);
		fail_msg("fork_probe under a policy without clone: status %d, want %d", st,
			 128 + SIGSYS);
	}
	st = cli(run);
	unlink(without);
	unlink(with);
	if (st != 0)
		fail_msg("fork_probe under a policy with clone: status %d, want 0", st);
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
	    bx_fd_test(test_each_process_its_own_filter),
	    bx_fd_test(test_exec_fork_needs_clone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
