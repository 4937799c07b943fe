/* SPDX-License-Identifier: MIT */
/*
 * bx_cli_parse (src/cli/args.c): every command, every option and every usage
 * error, as a table; what each option stores is checked field by field.
 */
#include "tests_common.h"

#include <errno.h>
#include <string.h>

#include "cli/args.h"

#define ARGV_MAX 16

struct cli_case {
	const char *argv[ARGV_MAX];
	int ret;
	enum bx_cli_command command;
	const char *err_contains; /* for failures */
	size_t err_offset;	  /* for failures: the bad argument's index, or BX_NO_OFFSET */
};

#define NOOFF ((size_t)-1)

static int argc_of(const char *const *argv)
{
	int n = 0;

	while (n < ARGV_MAX && argv[n])
		n++;
	return n;
}

static void test_cli_args_table(void **state)
{
	static const struct cli_case cases[] = {
	    /* commands, help and version */
	    {{"beambox", "demo"}, 0, BX_CLI_DEMO, NULL, 0},
	    {{"beambox", "help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "-h"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "help", "exec"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "exec", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "exec", "-h"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "exec", "--policy", "x", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "demo", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "policy", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "policy", "check", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "policy", "learn", "--help"}, 0, BX_CLI_HELP, NULL, 0},
	    {{"beambox", "version"}, 0, BX_CLI_VERSION, NULL, 0},
	    {{"beambox", "--version"}, 0, BX_CLI_VERSION, NULL, 0},
	    {{"beambox", "-V"}, 0, BX_CLI_VERSION, NULL, 0},
	    {{"beambox"}, -EINVAL, 0, "missing command", NOOFF},
	    {{"beambox", "frobnicate"}, -EINVAL, 0, "unknown command 'frobnicate'", 1},
	    {{"beambox", "demo", "extra"}, -EINVAL, 0, "takes no arguments", 2},
	    {{"beambox", "-V", "x"}, -EINVAL, 0, "takes no arguments", 2},
	    {{"beambox", "help", "frob"}, -EINVAL, 0, "help: unknown command 'frob'", 2},
	    {{"beambox", "help", "exec", "x"}, -EINVAL, 0, "at most one COMMAND", 3},
	    /* exec */
	    {{"beambox", "exec", "--", "/bin/true"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--relay-tty", "/bin/true"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--relay-stdio", "/bin/true"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--relay-tty", "--relay-stdio", "/bin/true"},
	     -EINVAL,
	     0,
	     "--relay-tty or --relay-stdio given twice",
	     3},
	    {{"beambox", "demo", "--relay-tty"}, -EINVAL, 0, "--relay-tty", 2},
	    {{"beambox", "exec", "/bin/true", "--policy"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--policy", "p", "/bin/true"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--policy"}, -EINVAL, 0, "--policy needs a NAME or FILE", 2},
	    {{"beambox", "exec", "--policy", "", "x"}, -EINVAL, 0, "got an empty argument", 2},
	    {{"beambox", "exec", "--policy=", "x"}, -EINVAL, 0, "got an empty argument", 2},
	    {{"beambox", "exec", "--policy=a", "--policy=b", "x"}, -EINVAL, 0, "given twice", 3},
	    {{"beambox", "exec", "--"}, -EINVAL, 0, "missing PROG", NOOFF},
	    {{"beambox", "exec"}, -EINVAL, 0, "exec: missing PROG", NOOFF},
	    {{"beambox", "exec", "--frobnicate", "x"},
	     -EINVAL,
	     0,
	     "unknown option '--frobnicate'",
	     2},
	    {{"beambox", "exec", "--bind", "a"}, -EINVAL, 0, "--bind needs SRC and DEST", 2},
	    {{"beambox", "exec", "--bind", "a", "rel", "x"},
	     -EINVAL,
	     0,
	     "DEST must be an absolute path",
	     4},
	    {{"beambox", "exec", "--ro-bind", "", "/x", "x"}, -EINVAL, 0, "empty argument", 2},
	    {{"beambox", "exec", "--bind=a", "/x", "x"},
	     -EINVAL,
	     0,
	     "unknown option '--bind=a'",
	     2},
	    {{"beambox", "exec", "--chdir", "rel", "x"}, -EINVAL, 0, "DIR must be an absolute", 2},
	    {{"beambox", "exec", "--chdir", "/a", "--chdir", "/b", "x"},
	     -EINVAL,
	     0,
	     "given twice",
	     4},
	    {{"beambox", "exec", "--setenv", "A"}, -EINVAL, 0, "needs NAME and VALUE", 2},
	    {{"beambox", "exec", "--setenv", "A=B", "v", "x"}, -EINVAL, 0, "without '='", 2},
	    {{"beambox", "exec", "--setenv", "", "v", "x"},
	     -EINVAL,
	     0,
	     "NAME must be non-empty",
	     2},
	    {{"beambox", "exec", "--unsetenv", "", "x"}, -EINVAL, 0, "empty argument", 2},
	    {{"beambox", "exec", "--timeout", "0", "x"}, -EINVAL, 0, "expected SECONDS > 0", 2},
	    {{"beambox", "exec", "--timeout", "-1", "x"}, -EINVAL, 0, "got '-1'", 2},
	    {{"beambox", "exec", "--timeout", "1.2345", "x"}, -EINVAL, 0, "up to 3", 2},
	    {{"beambox", "exec", "--timeout", ".5", "x"}, -EINVAL, 0, "--timeout", 2},
	    {{"beambox", "exec", "--timeout", "5.", "x"}, -EINVAL, 0, "--timeout", 2},
	    {{"beambox", "exec", "--timeout", "1e3", "x"}, -EINVAL, 0, "--timeout", 2},
	    {{"beambox", "exec", "--timeout", " 1", "x"}, -EINVAL, 0, "--timeout", 2},
	    {{"beambox", "exec", "--timeout", "2000001", "x"}, -EINVAL, 0, "at most 2000000", 2},
	    {{"beambox", "exec", "--timeout", "99999999999999999999999", "x"},
	     -EINVAL,
	     0,
	     "--timeout",
	     2},
	    {{"beambox", "exec", "--timeout", "1", "--timeout", "2", "x"}, -EINVAL, 0, "twice", 4},
	    {{"beambox", "exec", "--json-status", "a", "--json-status-fd", "3", "x"},
	     -EINVAL,
	     0,
	     "given twice",
	     4},
	    {{"beambox", "exec", "--json-status-fd", "x", "y"}, -EINVAL, 0, "expected an fd", 2},
	    {{"beambox", "exec", "--json-status-fd", "-1", "y"}, -EINVAL, 0, "expected an fd", 2},
	    {{"beambox", "exec", "--json-status-fd", "07", "y"}, -EINVAL, 0, "expected an fd", 2},
	    {{"beambox", "exec", "--audit-log", "f", "x"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--audit-log-fd", "9", "x"}, 0, BX_CLI_EXEC, NULL, 0},
	    {{"beambox", "exec", "--audit-log", "f", "--audit-log-fd", "3", "x"},
	     -EINVAL,
	     0,
	     "given twice",
	     4},
	    {{"beambox", "exec", "--audit-log-fd", "x", "y"}, -EINVAL, 0, "expected an fd", 2},
	    {{"beambox", "exec", "-o", "f", "x"}, -EINVAL, 0, "unknown option '-o'", 2},
	    /* demo */
	    {{"beambox", "demo", "--audit-log", "f"}, 0, BX_CLI_DEMO, NULL, 0},
	    {{"beambox", "demo", "--audit-log-fd", "9"}, 0, BX_CLI_DEMO, NULL, 0},
	    {{"beambox", "demo", "--audit-log"}, -EINVAL, 0, "--audit-log needs a FILE", 2},
	    {{"beambox", "demo", "--audit-log", "a", "--audit-log-fd", "3"},
	     -EINVAL,
	     0,
	     "twice",
	     4},
	    {{"beambox", "demo", "--audit-log-fd", "x"}, -EINVAL, 0, "expected an fd", 2},
	    {{"beambox", "demo", "--timeout", "1"}, -EINVAL, 0, "demo: unknown option", 2},
	    {{"beambox", "demo", "--"}, -EINVAL, 0, "unknown option '--'", 2},
	    /* policy */
	    {{"beambox", "policy", "check", "a", "b"}, 0, BX_CLI_POLICY_CHECK, NULL, 0},
	    {{"beambox", "policy", "show", "a"}, 0, BX_CLI_POLICY_SHOW, NULL, 0},
	    {{"beambox", "policy", "show", "a", "b"}, -EINVAL, 0, "exactly one FILE", NOOFF},
	    {{"beambox", "policy", "groups"}, 0, BX_CLI_POLICY_GROUPS, NULL, 0},
	    {{"beambox", "policy", "groups", "x"}, -EINVAL, 0, "takes no arguments", 3},
	    {{"beambox", "policy"}, -EINVAL, 0, "missing check, show, groups or learn", NOOFF},
	    {{"beambox", "policy", "check"}, -EINVAL, 0, "missing FILE", NOOFF},
	    {{"beambox", "policy", "frob"}, -EINVAL, 0, "unknown subcommand 'frob'", 2},
	    {{"beambox", "policy", "check", "-x"}, -EINVAL, 0, "unknown option '-x'", 3},
	    {{"beambox", "policy", "learn", "--policy", "b", "--", "p"},
	     0,
	     BX_CLI_POLICY_LEARN,
	     NULL,
	     0},
	    {{"beambox", "policy", "learn", "--policy", "b", "-o", "f", "p"},
	     0,
	     BX_CLI_POLICY_LEARN,
	     NULL,
	     0},
	    {{"beambox", "policy", "learn", "p"}, -EINVAL, 0, "--policy BASE is required", NOOFF},
	    {{"beambox", "policy", "learn", "--policy", "b"},
	     -EINVAL,
	     0,
	     "learn: missing PROG",
	     NOOFF},
	    {{"beambox", "policy", "learn", "--policy", "b", "-o", "", "p"},
	     -EINVAL,
	     0,
	     "-o needs a FILE",
	     5},
	    {{"beambox", "policy", "learn", "--policy", "b", "-o", "a", "-o", "b", "p"},
	     -EINVAL,
	     0,
	     "-o given twice",
	     7},
	    {{"beambox", "policy", "learn", "--policy", "b", "--timeout", "1", "p"},
	     -EINVAL,
	     0,
	     "policy learn: unknown option '--timeout'",
	     5},
	    /* policy learn --worker: no --policy, the application gives each worker its own */
	    {{"beambox", "policy", "learn", "--worker", "--", "p"},
	     0,
	     BX_CLI_POLICY_LEARN,
	     NULL,
	     0},
	    {{"beambox", "policy", "learn", "--worker", "-o", "f", "p", "a"},
	     0,
	     BX_CLI_POLICY_LEARN,
	     NULL,
	     0},
	    {{"beambox", "policy", "learn", "--worker", "--policy", "b", "p"},
	     -EINVAL,
	     0,
	     "--worker takes no --policy",
	     NOOFF},
	    {{"beambox", "policy", "learn", "--worker"}, -EINVAL, 0, "learn: missing PROG", NOOFF},
	    {{"beambox", "policy", "learn", "--worker=1", "p"},
	     -EINVAL,
	     0,
	     "unknown option '--worker=1'",
	     3},
	    {{"beambox", "exec", "--worker", "p"},
	     -EINVAL,
	     0,
	     "exec: unknown option '--worker'",
	     2},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_cli_args a;
		bx_error err;
		int argc = argc_of(cases[i].argv);

		bx_error_clear(&err);
		memset(&a, 0x5a, sizeof(a));
		int r = bx_cli_parse(argc, (char *const *)cases[i].argv, &a, &err);
		if (r != cases[i].ret)
			fail_msg("case %zu: got %d want %d (%s)", i, r, cases[i].ret, err.text);
		if (r == 0) {
			assert_int_equal(a.command, cases[i].command);
			continue;
		}
		if (!strstr(err.text, cases[i].err_contains))
			fail_msg("case %zu: '%s' does not say '%s'", i, err.text,
				 cases[i].err_contains);
		if (err.offset != cases[i].err_offset)
			fail_msg("case %zu: offset %zu, want %zu (%s)", i, err.offset,
				 cases[i].err_offset, err.text);
		/* Out-parameters are written only on success. */
		assert_int_equal(a.nbinds, (size_t)0x5a5a5a5a5a5a5a5aull);
	}
}

/* What each exec option stores. */
static void test_cli_exec_fields(void **state)
{
	const char *argv[] = {"beambox",
			      "exec",
			      "--policy=tools",
			      "--bind",
			      "/src a",
			      "/dst a",
			      "--ro-bind",
			      "rel",
			      "/r",
			      "--bind-try",
			      "/t",
			      "/t2",
			      "--ro-bind-try",
			      "/u",
			      "/u2",
			      "--chdir=/dst a",
			      "--setenv",
			      "FOO",
			      "",
			      "--unsetenv",
			      "PATH",
			      "--setenv",
			      "X",
			      "y z",
			      "--timeout",
			      "1.5",
			      "-v",
			      "--json-status-fd=7",
			      "--",
			      "--prog",
			      "-x",
			      NULL};
	struct bx_cli_args a;
	bx_error err;
	(void)state;

	assert_int_equal(bx_cli_parse(31, (char *const *)argv, &a, &err), 0);
	assert_int_equal(a.command, BX_CLI_EXEC);
	assert_string_equal(a.policy, "tools");
	assert_int_equal(a.nbinds, 4);
	assert_string_equal(a.binds[0].src, "/src a");
	assert_string_equal(a.binds[0].dst, "/dst a");
	assert_true(a.binds[0].rw && !a.binds[0].optional);
	assert_string_equal(a.binds[1].src, "rel");
	assert_true(!a.binds[1].rw && !a.binds[1].optional);
	assert_true(a.binds[2].rw && a.binds[2].optional);
	assert_true(!a.binds[3].rw && a.binds[3].optional);
	assert_string_equal(a.chdir, "/dst a");
	assert_int_equal(a.nenv, 3);
	assert_string_equal(a.env[0].name, "FOO");
	assert_string_equal(a.env[0].value, "");
	assert_string_equal(a.env[1].name, "PATH");
	assert_null(a.env[1].value);
	assert_string_equal(a.env[2].value, "y z");
	assert_int_equal(a.timeout_ms, 1500);
	assert_true(a.verbose);
	assert_null(a.json_status);
	assert_int_equal(a.json_status_fd, 7);
	assert_int_equal(a.prog_argc, 2);
	assert_ptr_equal(a.prog_argv, (char *const *)argv + 29);
	assert_null(a.prog_argv[2]);

	/* Defaults. */
	const char *plain[] = {"beambox", "exec", "p", NULL};
	assert_int_equal(bx_cli_parse(3, (char *const *)plain, &a, &err), 0);
	assert_null(a.policy);
	assert_int_equal(a.nbinds, 0);
	assert_null(a.chdir);
	assert_int_equal(a.nenv, 0);
	assert_int_equal(a.timeout_ms, 0);
	assert_false(a.verbose);
	assert_int_equal(a.relay, BX_CLI_RELAY_NONE);
	assert_int_equal(a.json_status_fd, -1);

	const char *relay[] = {"beambox", "exec", "--relay-tty", "p", NULL};
	assert_int_equal(bx_cli_parse(4, (char *const *)relay, &a, &err), 0);
	assert_int_equal(a.relay, BX_CLI_RELAY_TTYS);
	relay[2] = "--relay-stdio";
	assert_int_equal(bx_cli_parse(4, (char *const *)relay, &a, &err), 0);
	assert_int_equal(a.relay, BX_CLI_RELAY_ALL);
	assert_int_equal(a.audit_log_fd, -1);

	/* policy learn --worker: the flag and what goes with it. */
	const char *lw[] = {"beambox", "policy", "learn", "--worker", "-o",
			    "out",     "--",	 "p",	  "x",	      NULL};
	assert_int_equal(bx_cli_parse(9, (char *const *)lw, &a, &err), 0);
	assert_int_equal(a.command, BX_CLI_POLICY_LEARN);
	assert_true(a.worker);
	assert_null(a.policy);
	assert_string_equal(a.output, "out");
	assert_int_equal(a.prog_argc, 2);
	assert_string_equal(a.prog_argv[0], "p");
	const char *lp[] = {"beambox", "policy", "learn", "--policy", "b", "p", NULL};
	assert_int_equal(bx_cli_parse(6, (char *const *)lp, &a, &err), 0);
	assert_false(a.worker);
	assert_non_null(strstr(bx_cli_help(BX_CLI_POLICY), "learn --worker"));

	/* Help topics. */
	const char *h[] = {"beambox", "policy", "show", "-h", NULL};
	assert_int_equal(bx_cli_parse(4, (char *const *)h, &a, &err), 0);
	assert_int_equal(a.help_topic, BX_CLI_POLICY);
	assert_non_null(strstr(bx_cli_help(a.help_topic), "Usage: beambox policy"));
	assert_non_null(strstr(bx_cli_help(BX_CLI_EXEC), "124"));
	assert_non_null(strstr(bx_cli_help(BX_CLI_DEMO), "--audit-log"));
	assert_non_null(strstr(bx_cli_help(BX_CLI_EXEC), "--audit-log"));
	assert_ptr_equal(bx_cli_help(BX_CLI_HELP), bx_cli_usage());
}

static void test_cli_timeouts(void **state)
{
	static const struct {
		const char *text;
		unsigned ms;
	} ok[] = {
	    {"1", 1000},    {"0.5", 500}, {"0.001", 1}, {"2.25", 2250}, {"2000000", 2000000000u},
	    {"10.0", 10000}};
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *argv[] = {"beambox", "exec", "--timeout", ok[i].text, "p", NULL};
		struct bx_cli_args a;
		bx_error err;

		assert_int_equal(bx_cli_parse(5, (char *const *)argv, &a, &err), 0);
		assert_int_equal(a.timeout_ms, ok[i].ms);
	}
}

static void test_cli_limits(void **state)
{
	static char big[BX_CLI_ARG_LEN_MAX + 2];
	static const char *many[2 + 3 * (BX_CLI_BINDS_MAX + 1) + 2];
	char *argv[] = {"beambox", big, NULL};
	struct bx_cli_args a;
	bx_error err;
	int n = 0;
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(bx_cli_parse(2, argv, &a, &err), -EINVAL);
	assert_int_equal(err.offset, 1);
	assert_non_null(strstr(err.text, "longer than"));

	many[n++] = "beambox";
	many[n++] = "exec";
	for (int i = 0; i <= BX_CLI_BINDS_MAX; i++) {
		many[n++] = "--ro-bind";
		many[n++] = "/a";
		many[n++] = "/b";
	}
	many[n++] = "p";
	assert_int_equal(bx_cli_parse(n, (char *const *)many, &a, &err), -EINVAL);
	assert_non_null(strstr(err.text, "more than 64 binds"));
	/* 64 are fine */
	many[n - 4] = "p";
	assert_int_equal(bx_cli_parse(n - 3, (char *const *)many, &a, &err), 0);
	assert_int_equal(a.nbinds, BX_CLI_BINDS_MAX);

	assert_int_equal(bx_cli_parse(BX_CLI_ARGS_MAX + 1, argv, &a, &err), -EINVAL);
	assert_non_null(strstr(err.text, "too many arguments"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_args_table),
	    cmocka_unit_test(test_cli_exec_fields),
	    cmocka_unit_test(test_cli_timeouts),
	    cmocka_unit_test(test_cli_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
