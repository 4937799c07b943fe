/* SPDX-License-Identifier: MIT */
/* The stdio relay of a forked child (the contract is in include/beambox/relay.h). */
#define _GNU_SOURCE
#include <beambox/relay.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/pump.h"

/* How long the relay waits for output after the child exited. */
#define RELAY_DRAIN_GRACE_MS 2000

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int exit_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

/* In the child: the pipes become its stdio; it dies with the relay. */
static int become_child(int ends[3], pid_t parent, const sigset_t *old)
{
	for (int i = 0; i < 3; i++) {
		if (ends[i] < 0)
			continue;
		if (dup2(ends[i], i) < 0)
			return -errno;
		close(ends[i]);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (getppid() != parent)
		raise(SIGKILL); /* the relay is already gone */
	sigprocmask(SIG_SETMASK, old, NULL);
	return 0;
}

/* In the parent: copies until the child is gone and its output delivered. */
static int relay(pid_t child, struct bx_pump pumps[3], int sfd, int *status, bx_error *err)
{
	int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	int64_t drain_deadline = -1;
	bool exited = false;
	int wstatus = 0, r = 0;

	for (;;) {
		struct pollfd pfd[5];
		int idx[3] = {-1, -1, -1}, n = 0, idx_sig, idx_child = -1;

		if (exited && bx_pump_done(&pumps[1]) && bx_pump_done(&pumps[2]))
			break;
		idx_sig = n;
		pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		if (!exited && pidfd >= 0) {
			idx_child = n;
			pfd[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		}
		for (int i = 0; i < 3; i++)
			if (!bx_pump_done(&pumps[i])) {
				idx[i] = n;
				pfd[n++] = bx_pump_pollfd(&pumps[i]);
			}
		/* Without a pidfd (kernels before 5.3), look for the child's exit every 100 ms. */
		int timeout = poll_timeout(drain_deadline);
		if (!exited && pidfd < 0 && (timeout < 0 || timeout > 100))
			timeout = 100;
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			r = bx_fail(err, -errno, BX_NO_OFFSET, "relay: poll: %s", strerror(errno));
			break;
		}
		if (pfd[idx_sig].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				if (!exited)
					kill(child, (int)si.ssi_signo);
		}
		for (int i = 0; i < 3; i++)
			if (idx[i] >= 0 && pfd[idx[i]].revents && bx_pump_run(&pumps[i]) < 0)
				bx_pump_close(&pumps[i]); /* a source failed: that stream ends */
		if (!exited && (idx_child < 0 || pfd[idx_child].revents)) {
			pid_t w = waitpid(child, &wstatus, WNOHANG);

			if (w == child) {
				exited = true;
				bx_pump_close(&pumps[0]); /* nobody reads it any more */
				drain_deadline = mono_ms() + RELAY_DRAIN_GRACE_MS;
			}
		}
		if (drain_deadline >= 0 && mono_ms() >= drain_deadline) {
			for (int i = 1; i < 3; i++)
				bx_pump_close(&pumps[i]);
			break;
		}
	}
	if (!exited) {
		/* Only on an error above: the child must not outlive the relay's failure. */
		kill(child, SIGKILL);
		while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR)
			;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (r == 0)
		*status = exit_status(wstatus);
	return r;
}

BX_API int bx_relay_stdio_fork(int flags, int *status, bx_error *err)
{
	int ours[3] = {-1, -1, -1}, theirs[3] = {-1, -1, -1};
	struct bx_pump pumps[3];
	sigset_t set, old;
	bool any = false;
	pid_t parent = getpid(), child;
	int sfd = -1, r = 0;

	if (!status || (flags & ~(BX_RELAY_STDIO | BX_RELAY_TTYS_ONLY)))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_relay_stdio_fork: bad arguments");
	for (int i = 0; i < 3; i++) {
		int p[2];

		if (!(flags & (1 << i)) || fcntl(i, F_GETFD) < 0)
			continue;
		if ((flags & BX_RELAY_TTYS_ONLY) && isatty(i) != 1)
			continue;
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = bx_fail(err, -errno, BX_NO_OFFSET, "relay: pipe2: %s", strerror(errno));
			goto fail;
		}
		/* The child's end blocks as a fresh stdio does; ours never does. */
		ours[i] = i == 0 ? p[1] : p[0];
		theirs[i] = i == 0 ? p[0] : p[1];
		if (fcntl(ours[i], F_SETFL, O_NONBLOCK) < 0) {
			r = bx_fail(err, -errno, BX_NO_OFFSET, "relay: fcntl: %s", strerror(errno));
			goto fail;
		}
		any = true;
	}
	if (!any)
		return 0; /* nothing to keep from the program: go on, unforked */

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	child = fork();
	if (child < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "relay: fork: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto fail;
	}
	if (child == 0) {
		for (int i = 0; i < 3; i++)
			bx_close_and_reset(&ours[i]);
		r = become_child(theirs, parent, &old);
		if (r < 0)
			_exit(125);
		return 0;
	}

	for (int i = 0; i < 3; i++)
		bx_close_and_reset(&theirs[i]);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "relay: signalfd: %s", strerror(errno));
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
		sigprocmask(SIG_SETMASK, &old, NULL);
		goto fail;
	}
	for (int i = 0; i < 3; i++) {
		bx_pump_init(&pumps[i]);
		if (ours[i] < 0)
			continue;
		pumps[i].active = true;
		if (i == 0) {
			bx_ep_open_caller(&pumps[i].src, 0, false);
			bx_ep_own(&pumps[i].dst, bx_steal_fd(&ours[i]));
			pumps[i].input = true;
		} else {
			bx_ep_own(&pumps[i].src, bx_steal_fd(&ours[i]));
			bx_ep_open_caller(&pumps[i].dst, i, true);
		}
	}
	r = relay(child, pumps, sfd, status, err);
	for (int i = 0; i < 3; i++)
		bx_pump_close(&pumps[i]);
	close(sfd);
	/* Signals that came in meanwhile were forwarded; none stays pending for us. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r < 0 ? r : 1;

fail:
	for (int i = 0; i < 3; i++) {
		bx_close_and_reset(&ours[i]);
		bx_close_and_reset(&theirs[i]);
	}
	return r;
}
