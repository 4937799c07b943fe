/* SPDX-License-Identifier: MIT */
#include "tests_common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include <beambox/spawn.h>

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

/*
 * BX_TEST_FILTER=pattern runs only the matching tests, BX_TEST_SKIP=pattern
 * skips the matching ones (cmocka's own filters).
 */
__attribute__((constructor)) static void bx_test_filter_from_env(void)
{
	const char *f = getenv("BX_TEST_FILTER");
	const char *s = getenv("BX_TEST_SKIP");

	if (f && *f)
		cmocka_set_test_filter(f);
	if (s && *s)
		cmocka_set_skip_filter(s);
}

static void append_option(const char *var, const char *opts)
{
	char buf[512];
	const char *old = getenv(var);

	snprintf(buf, sizeof(buf), "%s%s%s", old ? old : "", old && *old ? ":" : "", opts);
	setenv(var, buf, 1);
}

/*
 * Workers of a sanitized build run under seccomp, where LeakSanitizer cannot
 * work (it needs ptrace) and ASan's (or TSan's) SEGV handler would turn a
 * crash into "exit 1" (66). Workers inherit these options (bx_test_spawn_opts
 * passes them); this process's own sanitizers read theirs before this runs,
 * so the test process itself keeps leak detection.
 */
__attribute__((constructor)) static void bx_test_worker_sanitizer_env(void)
{
	append_option("ASAN_OPTIONS", "handle_segv=0:detect_leaks=0");
	append_option("TSAN_OPTIONS", "handle_segv=0");
}

void bx_test_spawn_opts(struct bx_spawn_opts *o)
{
	static const char *const keep[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", NULL};

	bx_spawn_opts_init(o);
	o->env_keep = keep;
}
