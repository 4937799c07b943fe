/* SPDX-License-Identifier: MIT */
#include "tests_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

int bx_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static int fds_before;

int bx_test_fd_setup(void **state)
{
	(void)state;
	fds_before = bx_test_count_fds();
	return 0;
}

int bx_test_fd_teardown(void **state)
{
	int now = bx_test_count_fds();

	(void)state;
	if (now != fds_before) {
		fprintf(stderr, "fd leak: %d open before the test, %d after\n", fds_before, now);
		return -1;
	}
	return 0;
}

/* BX_TEST_FILTER=pattern runs only the matching tests (cmocka's own filter). */
__attribute__((constructor)) static void bx_test_filter_from_env(void)
{
	const char *f = getenv("BX_TEST_FILTER");

	if (f && *f)
		cmocka_set_test_filter(f);
}
