/* SPDX-License-Identifier: MIT */
/* Unit tests for src/util (integer parser, cursor) and the CLI argument parser. */
#include "tests_common.h"

#include <errno.h>
#include <string.h>

#include "cli/args.h"
#include "util/cursor.h"
#include "util/intparse.h"

struct u64_case {
	const char *in;
	uint64_t max;
	int ret;
	uint64_t val;
};

static void test_parse_u64_table(void **state)
{
	static const struct u64_case cases[] = {
	    {"0", 10, 0, 0},
	    {"7", 10, 0, 7},
	    {"10", 10, 0, 10},
	    {"11", 10, -ERANGE, 0},
	    {"", 10, -EINVAL, 0},
	    {"01", 10, -EINVAL, 0},
	    {"00", 10, -EINVAL, 0},
	    {"+1", 10, -EINVAL, 0},
	    {"-1", 10, -EINVAL, 0},
	    {" 1", 10, -EINVAL, 0},
	    {"1 ", 10, -EINVAL, 0},
	    {"1a", 10, -EINVAL, 0},
	    {"0x1", 10, -EINVAL, 0},
	    {"18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
	    {"18446744073709551616", UINT64_MAX, -ERANGE, 0},
	    {"99999999999999999999999", UINT64_MAX, -ERANGE, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int r = bx_parse_u64(cases[i].in, strlen(cases[i].in), cases[i].max, &v);

		if (r != cases[i].ret)
			fail_msg("case %zu '%s': got %d want %d", i, cases[i].in, r, cases[i].ret);
		if (r == 0)
			assert_int_equal(v, cases[i].val);
		else
			assert_int_equal(v, 12345); /* out-parameter untouched on failure */
	}
}

static void test_cursor_bounds(void **state)
{
	const char buf[] = "abcdef";
	struct bx_cursor c = bx_cursor_init(buf, 6);
	(void)state;

	assert_int_equal(bx_cursor_peek(&c), 'a');
	assert_non_null(bx_cursor_take(&c, 2));
	assert_int_equal(bx_cursor_left(&c), 4);
	assert_null(bx_cursor_take(&c, 5));
	assert_int_equal(bx_cursor_left(&c), 4); /* a failed take does not move */
	assert_non_null(bx_cursor_take(&c, 4));
	assert_int_equal(bx_cursor_peek(&c), -1);
	assert_null(bx_cursor_take(&c, 1));
	assert_non_null(bx_cursor_take(&c, 0));
	assert_null(bx_cursor_take(&c, SIZE_MAX));
}

struct cli_case {
	const char *argv[8];
	int ret;
	enum bx_cli_command command;
	const char *err_contains;
};

static void test_cli_args_table(void **state)
{
	static const struct cli_case cases[] = {
	    {{"beambox", "demo"}, 0, BX_CLI_DEMO, NULL},
	    {{"beambox", "help"}, 0, BX_CLI_HELP, NULL},
	    {{"beambox", "--help"}, 0, BX_CLI_HELP, NULL},
	    {{"beambox", "version"}, 0, BX_CLI_VERSION, NULL},
	    {{"beambox"}, -EINVAL, 0, "missing command"},
	    {{"beambox", "frobnicate"}, -EINVAL, 0, "unknown command 'frobnicate'"},
	    {{"beambox", "demo", "extra"}, -EINVAL, 0, "takes no arguments"},
	    {{"beambox", "exec", "--", "/bin/true"}, 0, BX_CLI_EXEC, NULL},
	    {{"beambox", "exec", "--policy", "p", "/bin/true"}, 0, BX_CLI_EXEC, NULL},
	    {{"beambox", "exec", "--policy"}, -EINVAL, 0, "--policy needs a FILE"},
	    {{"beambox", "exec", "--policy=a", "--policy=b", "x"}, -EINVAL, 0, "given twice"},
	    {{"beambox", "exec", "--"}, -EINVAL, 0, "missing PROG"},
	    {{"beambox", "policy", "check", "a", "b"}, 0, BX_CLI_POLICY_CHECK, NULL},
	    {{"beambox", "policy", "show", "a"}, 0, BX_CLI_POLICY_SHOW, NULL},
	    {{"beambox", "policy", "show", "a", "b"}, -EINVAL, 0, "exactly one FILE"},
	    {{"beambox", "policy", "groups"}, 0, BX_CLI_POLICY_GROUPS, NULL},
	    {{"beambox", "policy"}, -EINVAL, 0, "missing check, show, groups or learn"},
	    {{"beambox", "policy", "check"}, -EINVAL, 0, "missing FILE"},
	    {{"beambox", "policy", "frob"}, -EINVAL, 0, "unknown subcommand 'frob'"},
	    {{"beambox", "policy", "check", "-x"}, -EINVAL, 0, "unknown option '-x'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_cli_args a;
		bx_error err;
		int argc = 0;

		bx_error_clear(&err);
		while (argc < 8 && cases[i].argv[argc])
			argc++;
		int r = bx_cli_parse(argc, (char *const *)cases[i].argv, &a, &err);
		if (r != cases[i].ret)
			fail_msg("case %zu: got %d want %d (%s)", i, r, cases[i].ret, err.text);
		if (r == 0)
			assert_int_equal(a.command, cases[i].command);
		else if (!strstr(err.text, cases[i].err_contains))
			fail_msg("case %zu: '%s' does not say '%s'", i, err.text,
				 cases[i].err_contains);
	}
}

static void test_cli_args_too_long(void **state)
{
	static char big[BX_CLI_ARG_LEN_MAX + 2];
	char *argv[] = {"beambox", big, NULL};
	struct bx_cli_args a;
	bx_error err;
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(bx_cli_parse(2, argv, &a, &err), -EINVAL);
	assert_int_equal(err.offset, 1);
	assert_non_null(strstr(err.text, "longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64_table),
	    cmocka_unit_test(test_cursor_bounds),
	    cmocka_unit_test(test_cli_args_table),
	    cmocka_unit_test(test_cli_args_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
