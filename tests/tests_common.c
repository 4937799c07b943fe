/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "spawn/zygote.h"

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

/* ---------------------------------------------------------------- POSIX record locks */

int bx_test_lock_file(char *path, size_t len)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd;

	snprintf(path, len, "/tmp/beambox-lock.XXXXXX");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Readable and writable by anyone: a worker running as another uid opens it too. */
	if (fchmod(fd, 0666) < 0 || write(fd, "locked\n", 7) != 7 || fcntl(fd, F_SETLK, &fl) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

int bx_test_lock_held(const char *path)
{
	pid_t me = getpid(), child;
	int status;

	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		/* Another process asks who holds the lock (our own view never conflicts). */
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0)
			_exit(2);
		_exit(fl.l_type == F_WRLCK && fl.l_pid == me ? 0 : 1);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return -1;
	return WEXITSTATUS(status) == 0;
}

int bx_test_fd_open_on(const char *path)
{
	struct stat want, st;
	DIR *d;
	struct dirent *e;
	int found = 0;

	if (stat(path, &want) < 0)
		return -1;
	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0)
			continue;
		if (st.st_dev == want.st_dev && st.st_ino == want.st_ino)
			found++;
	}
	closedir(d);
	return found;
}

/* ---------------------------------------------------------------- children */

int bx_test_stray_child(void)
{
	pid_t zygote = bx_zygote_pid();
	siginfo_t si;
	DIR *d;
	struct dirent *e;
	int stray = 0;

	/* A dead child not reaped yet (WNOWAIT: it stays for whoever owns it). */
	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid != 0 &&
	    si.si_pid != zygote)
		return si.si_pid;
	/* Live ones: every thread's children (a worker is the child of the thread that made it). */
	d = opendir("/proc/self/task");
	if (!d)
		return -1;
	while (!stray && (e = readdir(d)) != NULL) {
		char path[64], buf[4096];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/children", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		for (char *p = buf, *end; *p; p = end) {
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0 && pid != zygote) {
				stray = (int)pid;
				break;
			}
		}
	}
	closedir(d);
	return stray;
}

void bx_test_assert_no_children(void)
{
	int pid = bx_test_stray_child();

	if (pid != 0)
		fail_msg("a child is left: pid %d", pid);
}
