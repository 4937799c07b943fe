/* SPDX-License-Identifier: MIT */
/* Unit tests for src/util (integer parser, cursor) and the CLI argument parser. */
#include "tests_common.h"

#include <errno.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64_table),
	    cmocka_unit_test(test_cursor_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
