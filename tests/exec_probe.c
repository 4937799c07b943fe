/* SPDX-License-Identifier: MIT */
/*
 * A program that tries to get hold of the exec allowance of `beambox exec`
 * (issue #11, item 7). The filter allows execveat(N, "", ..., AT_EMPTY_PATH)
 * for the one fd number N at which beambox placed this program. It reports
 * what it sees of N, then opens files until it cannot, tries to make N its
 * own with dup2 and F_DUPFD, and last executes another program from an fd
 * of its own, which the filter must stop (the process dies by SIGSYS).
 *
 *   exec_probe N   (N: the number beambox used, the policy's rlimit.nofile)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sanitizer builds: no leak check at exit (it needs ptrace, which the sandbox refuses). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct stat self, at_n;
	int n, fd, max = -1, opened = 0, prog;
	char *const true_argv[] = {"true", NULL};
	char *const no_env[] = {NULL};

	if (argc != 2)
		return 2;
	n = atoi(argv[1]);
	/* N is this program, open across the exec (a script's interpreter reads /dev/fd/N). */
	printf("fd %d: %s\n", n,
	       fcntl(n, F_GETFD) == 0 && fstat(n, &at_n) == 0 &&
		       stat("/proc/self/exe", &self) == 0 && self.st_ino == at_n.st_ino
		   ? "this program, not close-on-exec"
		   : "something else");
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		printf("nofile: %llu/%llu\n", (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_max);
	/* Raising the soft limit to the hard one changes nothing: the hard one is N. */
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		opened++;
		if (fd > max)
			max = fd;
	}
	printf("opened %d files until %s; highest fd %d\n", opened, strerror(errno), max);
	printf("dup2(0, %d): %s\n", n, dup2(0, n) < 0 ? strerror(errno) : "worked");
	printf("F_DUPFD(0, %d): %s\n", n, fcntl(0, F_DUPFD, n) < 0 ? strerror(errno) : "worked");
	for (int i = 3; i <= max; i++)
		close(i);
	prog = open("/bin/true", O_RDONLY | O_CLOEXEC);
	printf("executing /bin/true from fd %d\n", prog);
	fflush(stdout);
	syscall(SYS_execveat, prog, "", true_argv, no_env, AT_EMPTY_PATH);
	printf("execveat: %s\n", strerror(errno));
	return 1;
}
