/* SPDX-License-Identifier: MIT */
/*
 * `beambox exec` end to end: runs the real CLI binary, which confines itself
 * as a worker would and executes the program. Checks exit statuses, output,
 * the scrubbed environment, stdin passing and real denials.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Runs the CLI with args (NULL-terminated), stdin from `input` (may be NULL). */
static void run_cli(struct result *res, const char *input, const char *const *args)
{
	const char *argv[32] = {BX_CLI_PATH};
	int out[2], err[2], in[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, n = 1;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	assert_int_equal(posix_spawn(&pid, BX_CLI_PATH, &fa, NULL, (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	close(in[0]);
	if (input)
		assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	read_all(out[0], res->out, sizeof(res->out));
	read_all(err[0], res->err, sizeof(res->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct exec_case {
	const char *args[8];
	const char *input;
	int status;
	const char *out;	  /* exact stdout, or NULL */
	const char *err_contains; /* substring of stderr, or NULL */
};

static void test_exec_table(void **state)
{
	static const struct exec_case cases[] = {
	    {{"exec", "--", "/bin/echo", "hello", "confined"}, NULL, 0, "hello confined\n", NULL},
	    /* PATH search, and stdin passed through */
	    {{"exec", "--", "cat"}, "through stdin\n", 0, "through stdin\n", NULL},
	    /* the program's own status; pid 1 is a small init, so the program is pid 2 */
	    {{"exec", "--", "/bin/sh", "-c", "echo $$; exit 7"}, NULL, 7, "2\n", NULL},
	    /* killed by a signal: 128+N */
	    {{"exec", "--", "/bin/sh", "-c", "kill -9 $$"}, NULL, 137, "", NULL},
	    /* host files are not in the view */
	    {{"exec", "--", "/bin/cat", "/etc/passwd"}, NULL, 1, "", "No such file or directory"},
	    /* the environment is scrubbed to PATH */
	    {{"exec", "--", "/usr/bin/env"}, NULL, 0, NULL, NULL},
	    /* namespaces cannot be made inside */
	    {{"exec", "--", "/usr/bin/unshare", "-U", "true"},
	     NULL,
	     1,
	     "",
	     "Operation not permitted"},
	    /* a syscall outside the default filter kills: SIGSYS = 31 */
	    {{"exec", "--", "/usr/bin/id"}, NULL, 159, "", NULL},
	    {{"exec", "--", "/nonexistent/prog"}, NULL, 127, "", "No such file"},
	    {{"exec", "--", "no-such-program-anywhere"}, NULL, 127, "", "not found in PATH"},
	    /* usage errors */
	    {{"exec"}, NULL, 2, "", "missing PROG"},
	    {{"exec", "--frobnicate", "x"}, NULL, 2, "", "unknown option '--frobnicate'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result res;

		run_cli(&res, cases[i].input, cases[i].args);
		if (res.status != cases[i].status ||
		    (cases[i].out && strcmp(res.out, cases[i].out) != 0) ||
		    (cases[i].err_contains && !strstr(res.err, cases[i].err_contains)))
			fail_msg("case %zu (%s %s): status %d (want %d)\nstdout: %s\nstderr: %s", i,
				 cases[i].args[2] ? cases[i].args[2] : "",
				 cases[i].args[3] ? cases[i].args[3] : "", res.status,
				 cases[i].status, res.out, res.err);
	}
}

static void test_exec_env_scrubbed(void **state)
{
	static const char *const args[] = {"exec", "--", "/usr/bin/env", NULL};
	struct result res;
	(void)state;

	setenv("BX_TEST_SECRET", "hunter2", 1);
	run_cli(&res, NULL, args);
	unsetenv("BX_TEST_SECRET");
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.out, "PATH=", 5), 0);
	/* Exactly one line: PATH=... */
	assert_non_null(strchr(res.out, '\n'));
	assert_string_equal(strchr(res.out, '\n'), "\n");
	assert_null(strstr(res.out, "BX_TEST_SECRET"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_exec_table),
	    bx_fd_test(test_exec_env_scrubbed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
