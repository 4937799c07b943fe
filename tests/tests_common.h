/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cmocka tests. Include after <cmocka.h>'s prerequisites. */
#ifndef BX_TESTS_COMMON_H
#define BX_TESTS_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Number of entries in /proc/self/fd (not counting the directory fd used to count). */
int bx_test_count_fds(void);

/*
 * cmocka setup/teardown pair that records the open-fd count before a test
 * and fails the test if it differs afterwards. Use with cmocka_unit_test_setup_teardown.
 */
int bx_test_fd_setup(void **state);
int bx_test_fd_teardown(void **state);

#define bx_fd_test(f) cmocka_unit_test_setup_teardown(f, bx_test_fd_setup, bx_test_fd_teardown)

/* 1 in AddressSanitizer builds (gcc and clang spell it differently). */
#if defined(__SANITIZE_ADDRESS__)
#define BX_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BX_TEST_ASAN 1
#endif
#endif
#ifndef BX_TEST_ASAN
#define BX_TEST_ASAN 0
#endif

/* Prints a cmocka-visible skip with a reason and skips the current test. */
#define bx_test_skip(...)                                                                          \
	do {                                                                                       \
		print_message("SKIPPED: " __VA_ARGS__);                                            \
		print_message("\n");                                                               \
		skip();                                                                            \
	} while (0)

/*
 * Spawn options for tests: the sanitizer settings are passed to workers
 * (see tests_common.c), everything else default.
 */
struct bx_spawn_opts;
void bx_test_spawn_opts(struct bx_spawn_opts *o);

/*
 * POSIX record locks, the thing a worker must not be able to drop (closing
 * any fd of a file releases every such lock this process holds on it):
 * bx_test_lock_file makes a temp file (mode 0666, name in path) and write-locks
 * it with F_SETLK, returning its fd or -1; bx_test_lock_held asks from a child
 * process (F_GETLK) whether this process still holds that lock: 1, 0, or -1;
 * bx_test_fd_open_on counts this process's fds open on path's file.
 */
int bx_test_lock_file(char *path, size_t len);
int bx_test_lock_held(const char *path);
int bx_test_fd_open_on(const char *path);

/*
 * Whether this process has a child left, running or dead, other than its
 * zygote (spawn/zygote.h: bx_spawn_init starts one, which lives as long as
 * the process): 0 none, else the first such pid. Workers exit with no signal
 * to their parent, hence __WALL.
 */
int bx_test_stray_child(void);
/* Fails the current test if bx_test_stray_child() finds one. */
void bx_test_assert_no_children(void);
#endif
