/* SPDX-License-Identifier: MIT */
/*
 * bench_syscall: the cost of one cheap system call, getppid(), in the
 * process that runs this program. bench_spawn runs it twice, plain and under
 * `beambox exec --policy untrusted.policy`, to measure what the seccomp
 * filters add per call. No beambox code, no sanitizer: it must run in the
 * untrusted policy's sandbox as any dynamically linked C program does.
 *
 *   bench_syscall BATCHES CALLS   prints, per batch, the ns per call
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long batches = argc > 1 ? strtol(argv[1], NULL, 10) : 20;
	long calls = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;

	if (batches <= 0 || calls <= 0 || batches > 100000 || calls > 100000000) {
		fprintf(stderr, "usage: bench_syscall BATCHES CALLS\n");
		return 2;
	}
	for (long i = 0; i < calls; i++) /* warm-up */
		syscall(SYS_getppid);
	for (long b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (long i = 0; i < calls; i++)
			syscall(SYS_getppid);
		printf("%.3f\n", (now_ns() - t0) / (double)calls);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
