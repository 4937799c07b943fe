/* SPDX-License-Identifier: MIT */
/*
 * A program for `beambox exec` that makes one refused system call (issue
 * #13, violations that name the syscall), and prints "survived" if it ever
 * comes back from it:
 *
 *   violation_probe inet      socket(AF_INET, SOCK_STREAM, 0)
 *   violation_probe int80     getpid through the i386 ABI (int $0x80): the
 *                             arch check's kernel kill
 *   violation_probe prctl     prctl(PR_SET_PDEATHSIG, SIGKILL)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long r = -1;

	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "inet") == 0)
		r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(argv[1], "prctl") == 0)
		r = syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
#if defined(__x86_64__)
	else if (strcmp(argv[1], "int80") == 0) {
		long nr = 20; /* getpid on i386 */

		__asm__ volatile("int $0x80" : "+a"(nr) : : "memory");
		r = nr;
	}
#endif
	else
		return 2;
	printf("survived: %ld\n", r);
	return 0;
}
