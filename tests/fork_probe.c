/* SPDX-License-Identifier: MIT */
/*
 * A program that forks, for `beambox exec` (tests/test_runtime.c): under a
 * policy without `clone` it must die by SIGSYS at the fork, whatever
 * beambox's own init may do; under the same policy with `clone` it prints
 * "forked" and exits 0. Built without a sanitizer runtime, whose calls the
 * small policy under test would refuse.
 */
#define _GNU_SOURCE
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s, size_t n)
{
	if (write(STDOUT_FILENO, s, n) < 0) {
		/* nothing to do: the exit status says the rest */
	}
}

int main(void)
{
	int status = 0;
	pid_t pid;

	say("forking\n", 8);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return 3;
	if (waitpid(pid, &status, 0) != pid || status != 0)
		return 4;
	say("forked\n", 7);
	return 0;
}
