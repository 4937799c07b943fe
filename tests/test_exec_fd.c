/* SPDX-License-Identifier: MIT */
/*
 * `beambox exec` and its program's fd (issue #11, item 7; issue #13): the
 * program is executed from an fd placed at the policy's rlimit.nofile, the
 * one fd number the filter lets execveat use, which the program can never
 * get for any other file; and because that fd stays open across the exec,
 * shebang scripts run (their interpreter opens /dev/fd/N).
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct result {
	int status; /* exit status, or 128+N */
	char out[4096];
	char err[4096];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/* Runs the CLI with args (NULL-terminated). */
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
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
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

#define POLICY(name) BX_TEST_DATA_DIR "/../../policies/" name

/*
 * Under the default policy (rlimit.nofile = 256, no @exec): fd 256 is the
 * program; the program's files stop at 255; dup2 and F_DUPFD cannot reach
 * 256; executing anything else from its own fd kills it (SIGSYS, 159).
 */
static void test_exec_fd_out_of_reach(void **state)
{
	static const char *const args[] = {
	    "exec", "--policy", POLICY("default.policy"), "--", BX_PROBE_PATH, "256", NULL};
	struct result res;
	(void)state;

	run_cli(&res, args);
	if (res.status != 159 || !strstr(res.out, "fd 256: this program, not close-on-exec\n") ||
	    !strstr(res.out, "nofile: 256/256\n") ||
	    !strstr(res.out, "until Too many open files; highest fd 255\n") ||
	    !strstr(res.out, "dup2(0, 256): Bad file descriptor\n") ||
	    !strstr(res.out, "F_DUPFD(0, 256): Invalid argument\n") ||
	    !strstr(res.out, "executing /bin/true from fd 3\n") || strstr(res.out, "execveat:"))
		fail_msg("status %d (want 159)\nstdout:\n%sstderr:\n%s", res.status, res.out,
			 res.err);
}

/* untrusted.policy sets rlimit.nofile = 64: the program is fd 64 there. */
static void test_exec_fd_follows_policy(void **state)
{
	static const char *const args[] = {
	    "exec", "--policy", POLICY("untrusted.policy"), "--", BX_PROBE_PATH, "64", NULL};
	struct result res;
	(void)state;

	run_cli(&res, args);
	if (res.status != 159 || !strstr(res.out, "fd 64: this program, not close-on-exec\n") ||
	    !strstr(res.out, "highest fd 63\n"))
		fail_msg("status %d (want 159)\nstdout:\n%sstderr:\n%s", res.status, res.out,
			 res.err);
}

/* A shebang script runs: /bin/sh opens /dev/fd/N, the fd beambox kept open. */
static void test_shebang_script(void **state)
{
	char path[] = "/tmp/bx-script.XXXXXX";
	const char *args[] = {"exec", "--", path, "an argument", NULL};
	const char *args_untrusted[] = {
	    "exec", "--policy", POLICY("untrusted.policy"), "--", path, "an argument", NULL};
	static const char script[] = "#!/bin/sh\necho \"script $0 says: $1\"\nexit 3\n";
	struct result res;
	int fd;
	(void)state;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, script, strlen(script)), (ssize_t)strlen(script));
	assert_int_equal(fchmod(fd, 0755), 0);
	close(fd);
	run_cli(&res, args);
	if (res.status != 3 || strcmp(res.out, "script /dev/fd/256 says: an argument\n") != 0)
		fail_msg("status %d (want 3)\nstdout: %s\nstderr: %s", res.status, res.out,
			 res.err);
	run_cli(&res, args_untrusted);
	unlink(path);
	if (res.status != 3 || strcmp(res.out, "script /dev/fd/64 says: an argument\n") != 0)
		fail_msg("untrusted.policy: status %d (want 3)\nstdout: %s\nstderr: %s", res.status,
			 res.out, res.err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_exec_fd_out_of_reach),
	    bx_fd_test(test_exec_fd_follows_policy),
	    bx_fd_test(test_shebang_script),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
