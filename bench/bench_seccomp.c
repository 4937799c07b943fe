/* SPDX-License-Identifier: MIT */
/*
 * bench_seccomp: what the deny list's filter of its own costs per syscall.
 * The default policy is compiled as a worker gets it (the deny list's
 * filter, then the policy's); a child loads no filter (baseline), only the
 * policy's filter ("one filter", the cost the policy would have alone), or
 * the whole stack, and times N calls of:
 *   - getppid, which every filter allows whatever its arguments (the
 *     kernel's seccomp cache may skip the filters altogether);
 *   - ioctl(pipe, FIONREAD), allowed by the policy but looked at by the deny
 *     list (TIOCSTI), so both filters run.
 * Prints ns per call and the ratios stack/one-filter and one-filter/none,
 * measured in the same run; there is no pass/fail. Usage: bench_seccomp [N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine/seccomp.h"
#include "policy/filter.h"
#include "policy/policy.h"

enum load { NONE, ONE, STACK };
enum call { GETPPID, IOCTL };

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* In a child: loads what `load` says, times n calls, writes ns per call to out. */
static void child(const struct bx_bpf *stack, enum load load, enum call call, long n, int out)
{
	struct bx_bpf one = {0};
	int pfd[2], avail = 0;
	double t0, dt;

	if (pipe2(pfd, O_CLOEXEC) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(2);
	if (load == ONE) {
		one.nprogs = 1;
		one.progs[0] = stack->progs[stack->nprogs - 1];
		if (bx_seccomp_load(&one) < 0)
			_exit(3);
	} else if (load == STACK && bx_seccomp_load(stack) < 0) {
		_exit(3);
	}
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (call == GETPPID)
			syscall(SYS_getppid);
		else
			syscall(SYS_ioctl, pfd[0], FIONREAD, &avail);
	}
	dt = (now_ns() - t0) / (double)n;
	if (write(out, &dt, sizeof(dt)) != (ssize_t)sizeof(dt))
		_exit(4);
	syscall(SYS_exit_group, 0);
}

/* One run in a child; ns per call, or -1. */
static double run_once(const struct bx_bpf *stack, enum load load, enum call call, long n)
{
	int pfd[2], st;
	double ns = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		child(stack, load, call, n, pfd[1]);
	}
	close(pfd[1]);
	if (read(pfd[0], &ns, sizeof(ns)) != (ssize_t)sizeof(ns))
		ns = -1;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return ns;
}

#define ROUNDS 7

int main(int argc, char **argv)
{
	static const struct bx_seccomp_extra worker = {.exec_fd = -1, .runtime = BX_RUNTIME_WORKER};
	static const char *const calls[] = {"getppid", "ioctl(FIONREAD), allowed"};
	long n = argc > 1 ? atol(argv[1]) : 200000;
	struct bx_policy *p = NULL;
	struct bx_bpf stack = {0};
	bx_error err;

	if (n <= 0 || bx_policy_default(&p) < 0 ||
	    bx_seccomp_compile(p, &worker, &stack, &err) < 0) {
		fprintf(stderr, "bench_seccomp: setting up failed\n");
		return 1;
	}
	printf("default policy as a worker gets it: %zu filters, %zu instructions "
	       "(the deny list's %zu, the policy's %zu); %ld calls each, best of %d interleaved "
	       "runs\n",
	       stack.nprogs, bx_bpf_total_len(&stack), stack.progs[0].len,
	       stack.progs[stack.nprogs - 1].len, n, ROUNDS);
	for (int c = 0; c < 2; c++) {
		double best[3] = {0, 0, 0};
		double none, one, both;

		/* Interleaved rounds, the best of each: the least disturbed by other load. */
		for (int r = 0; r < ROUNDS; r++) {
			for (int l = 0; l < 3; l++) {
				double ns = run_once(&stack, (enum load)l, (enum call)c, n);

				if (ns <= 0) {
					fprintf(stderr, "bench_seccomp: a run failed\n");
					return 1;
				}
				if (best[l] == 0 || ns < best[l])
					best[l] = ns;
			}
		}
		none = best[NONE];
		one = best[ONE];
		both = best[STACK];
		printf("%-26s no filter %6.1f ns | policy's filter %6.1f ns (%.2fx) | "
		       "with the deny list's %6.1f ns (%.2fx one filter, +%.1f ns)\n",
		       calls[c], none, one, one / none, both, both / one, both - one);
	}
	bx_bpf_free(&stack);
	bx_policy_free(p);
	return 0;
}
