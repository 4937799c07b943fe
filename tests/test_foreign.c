/* SPDX-License-Identifier: MIT */
/*
 * bx_spawn_exec: a beambox parent drives another executable as a worker
 * (issue #9, item 3a), here tests/orig_worker.c, which speaks the original
 * protocol and knows nothing of beambox. It runs confined like `beambox
 * exec`'s program, with the lifecycle of a bx_spawn worker: jobs with args,
 * env, stdin/stdout, `commands`, failures, a death mid-job, a timeout kill.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

static bx_worker *spawn_orig(char *const envp[])
{
	char *const argv[] = {"orig-worker", NULL};
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_error err;

	bx_test_spawn_opts(&opts);
	bx_error_clear(&err);
	if (bx_spawn_exec(&opts, BX_ORIG_WORKER_PATH, argv, envp, &w, &err) < 0)
		fail_msg("bx_spawn_exec: %s", err.text);
	return w;
}

/* Runs name [arg] with env FOO=bar and stdin `in` (or none); both outputs captured. */
static int job(bx_worker *w, const char *name, const char *arg, const char *in, char **out,
	       char **errout, bx_error *err)
{
	bx_job *j = NULL;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &j), 0);
	if (arg)
		assert_int_equal(bx_job_add_arg(j, arg), 0);
	assert_int_equal(bx_job_add_env(j, "FOO", "bar"), 0);
	if (in)
		assert_int_equal(bx_job_set_stdin_buf(j, in, strlen(in)), 0);
	assert_int_equal(bx_job_capture_stdout(j, 1 << 16), 0);
	assert_int_equal(bx_job_capture_stderr(j, 1 << 16), 0);
	bx_job_set_timeout(j, 10000);
	bx_error_clear(err);
	r = bx_job_run(j, err);
	if (out)
		*out = strdup(bx_job_output(j, 1, NULL, NULL));
	if (errout)
		*errout = strdup(bx_job_output(j, 2, NULL, NULL));
	bx_job_free(j);
	return r;
}

static void expect(bx_worker *w, const char *name, const char *arg, const char *in, int status,
		   const char *want_out, const char *want_err)
{
	char *out = NULL, *errout = NULL;
	bx_error err;
	int r = job(w, name, arg, in, &out, &errout, &err);

	if (r != status || strcmp(out, want_out) != 0 || strcmp(errout, want_err) != 0)
		fail_msg("job %s: %d (want %d) '%s'\nstdout '%s' (want '%s')\nstderr '%s' (want "
			 "'%s')",
			 name, r, status, err.text, out, want_out, errout, want_err);
	free(out);
	free(errout);
}

static void test_foreign_jobs(void **state)
{
	char *const envp[] = {"GREETING=hello from the parent", NULL};
	bx_worker *w = spawn_orig(envp);
	char path[64], line[256];
	FILE *f;
	int checks = 0;
	(void)state;

	/* Confined like `beambox exec`'s program: checked from outside too. */
	assert_non_null(strstr(bx_worker_report(w), "exec: the program is fd 256"));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)bx_worker_serving_pid(w));
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		checks += strcmp(line, "NoNewPrivs:\t1\n") == 0;
		checks += strcmp(line, "Seccomp:\t2\n") == 0;
		checks += strcmp(line, "CapEff:\t0000000000000000\n") == 0;
	}
	fclose(f);
	assert_int_equal(checks, 3);

	expect(w, "echo", "hello", NULL, 0, "hello\n", "");
	expect(w, "env", "FOO", NULL, 0, "bar", "");
	expect(w, "getenv", "GREETING", NULL, 0, "hello from the parent", "");
	expect(w, "getenv", "HOME", NULL, 0, "(unset)", "");
	expect(w, "getenv", "ENGINESPAWN", NULL, 0, "1", "");
	expect(w, "cat", NULL, "through a pipe\n", 0, "through a pipe\n", "");
	expect(w, "fail", NULL, NULL, 1, "", "failing\n");
	expect(w, "nosuch", NULL, NULL, 127, "", "nosuch: command not found\n");
	expect(w, "commands", NULL, NULL, 0, "cat\ncommands\ndie\necho\nenv\nfail\ngetenv\nhang\n",
	       "");
	bx_worker_free(w);
}

/* A foreign worker that dies mid-job: the job fails with how, later ones too. */
static void test_foreign_death(void **state)
{
	bx_worker *w = spawn_orig(NULL);
	char expect_text[96];
	bx_error err;
	int ws = 0;
	(void)state;

	assert_int_not_equal(job(w, "die", NULL, NULL, NULL, NULL, &err), 0);
	snprintf(expect_text, sizeof(expect_text), "worker %d exited with status 3",
		 (int)bx_worker_pid(w));
	if (!strstr(err.text, expect_text))
		fail_msg("got '%s', want '%s'", err.text, expect_text);
	assert_int_equal(bx_worker_wait(w, 5000, &ws), 0);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 3);
	assert_int_not_equal(job(w, "echo", "x", NULL, NULL, NULL, &err), 0);
	bx_worker_free(w);
}

/* A timeout kills it as it kills a bx_spawn worker: serving process and namespace. */
static void test_foreign_timeout_kills(void **state)
{
	bx_worker *w = spawn_orig(NULL);
	bx_job *j = NULL;
	bx_error err;
	int sfd = (int)syscall(SYS_pidfd_open, bx_worker_serving_pid(w), 0);
	struct pollfd p = {.fd = sfd, .events = POLLIN};
	(void)state;

	assert_true(sfd >= 0);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "hang", &j), 0);
	bx_job_set_timeout(j, 200);
	assert_int_equal(bx_job_run(j, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	bx_job_free(j);
	assert_int_equal(poll(&p, 1, 5000), 1);
	close(sfd);
	bx_worker_free(w);
}

/* A program that cannot be executed: bx_spawn_exec fails and says why. */
static void test_foreign_cannot_start(void **state)
{
	char *const argv[] = {"x", NULL};
	char path[] = "/tmp/bx-notexec.XXXXXX";
	bx_worker *w = NULL;
	bx_error err;
	int fd = mkstemp(path);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a program\n", 14), 14);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(bx_spawn_exec(NULL, path, argv, NULL, &w, &err), -EACCES);
	unlink(path);
	assert_non_null(strstr(err.text, "execveat"));
	assert_int_equal(bx_spawn_exec(NULL, "/nonexistent/worker", argv, NULL, &w, &err), -ENOENT);
	char *const bad_env[] = {"ENGINESPAWN=0", NULL};
	assert_int_equal(bx_spawn_exec(NULL, BX_ORIG_WORKER_PATH, argv, bad_env, &w, &err),
			 -EINVAL);
}

int main(void)
{
	/* The confinement runs in a fresh execution of this program before the foreign one. */
	bx_spawn_init(NULL, NULL);
	/* The first spawn seals the copy of this program kept for later ones: before fd counts. */
	{
		char *const argv[] = {"orig-worker", NULL};
		bx_worker *w = NULL;
		bx_error err;

		if (bx_spawn_exec(NULL, BX_ORIG_WORKER_PATH, argv, NULL, &w, &err) < 0) {
			fprintf(stderr, "bx_spawn_exec: %s\n", err.text);
			return 1;
		}
		bx_worker_free(w);
	}
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_foreign_jobs),
	    bx_fd_test(test_foreign_death),
	    bx_fd_test(test_foreign_timeout_kills),
	    bx_fd_test(test_foreign_cannot_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
