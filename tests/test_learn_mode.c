/* SPDX-License-Identifier: MIT */
/*
 * The application's side of learning mode (src/spawn/learn.c): when
 * bx_spawn_init honours BEAMBOX_LEARN_FD, and that it fails closed. Each case
 * runs in a child of its own (the mode is read once per process):
 *   - a unix seqpacket socket whose peer is the pid named: learning, the
 *     variables unset, the fd made close-on-exec, a worker channel announced
 *     with the policy's settings;
 *   - every other shape (another pid, a stream socket, a pipe, a closed fd,
 *     a malformed number, one variable alone): refused, and every channel
 *     request (so every bx_spawn) fails with -EPERM naming the reason.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/policy.h"
#include "spawn/learn.h"

enum shape { GOOD, OTHER_PID, STREAM, PIPE, CLOSED, MALFORMED, FD_ONLY, PID_ONLY };

/* In a child: sets the variables for shape, runs the mode's init; exits 0 when all held. */
static int child_case(enum shape shape)
{
	int sv[2] = {-1, -1}, fd, r;
	char num[32];
	struct bx_policy *p = NULL;
	bx_error err;

	if (shape == PIPE)
		r = pipe(sv);
	else
		r = socketpair(AF_UNIX, shape == STREAM ? SOCK_STREAM : SOCK_SEQPACKET, 0, sv);
	if (r < 0)
		return 10;
	fd = sv[1];
	if (shape == CLOSED)
		close(fd);
	snprintf(num, sizeof(num), "%d", fd);
	if (shape != PID_ONLY)
		setenv(BX_LEARN_FD_ENV, shape == MALFORMED ? "3x" : num, 1);
	snprintf(num, sizeof(num), "%d", (int)(shape == OTHER_PID ? getppid() : getpid()));
	if (shape != FD_ONLY)
		setenv(BX_LEARN_PID_ENV, num, 1);
	r = bx_learn_mode_init();
	if (getenv(BX_LEARN_FD_ENV) || getenv(BX_LEARN_PID_ENV))
		return 11; /* not unset */
	if (bx_learn_mode() != r)
		return 12;
	if (bx_policy_default(&p) < 0)
		return 13;
	bx_error_clear(&err);
	if (shape != GOOD) {
		if (r != -EPERM || bx_learn_worker_channel(p, &fd, &err) != -EPERM ||
		    !strstr(err.text, "learning mode refused"))
			return 14;
		bx_policy_free(p);
		return 0;
	}
	/* A build with -DBX_WORKER_LEARNING=OFF refuses even this (and says why). */
	if (r == -EPERM && bx_learn_worker_channel(p, &fd, &err) == -EPERM &&
	    strstr(err.text, "BX_WORKER_LEARNING=OFF")) {
		bx_policy_free(p);
		return 0;
	}
	/* Learning: close-on-exec now, and a channel comes to the supervisor's end. */
	if (r != 1 || !(fcntl(sv[1], F_GETFD) & FD_CLOEXEC))
		return 15;
	if (bx_learn_worker_channel(p, &fd, &err) < 0)
		return 16;
	{
		char buf[BX_LEARN_ANNOUNCE_MAX];
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.b,
				   .msg_controllen = sizeof(ctl.b)};
		ssize_t n = recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		int type = 0;
		socklen_t len = sizeof(type);

		if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS ||
		    !memmem(buf, (size_t)n, BX_LEARN_UID_DYNAMIC_KEY,
			    strlen(BX_LEARN_UID_DYNAMIC_KEY)))
			return 17;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
		    type != SOCK_SEQPACKET || !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
			return 18;
	}
	bx_policy_free(p);
	return 0;
}

static void test_learn_mode_shapes(void **state)
{
	static const char *const names[] = {"good",	 "other pid", "stream",	 "pipe",
					    "closed fd", "malformed", "fd only", "pid only"};

	(void)state;
	for (int s = GOOD; s <= PID_ONLY; s++) {
		int status = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child_case((enum shape)s));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("%s: child status %#x", names[s], status);
	}
}

/* No variable: not learning, and nothing to refuse. */
static void test_learn_mode_off(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		unsetenv(BX_LEARN_FD_ENV);
		unsetenv(BX_LEARN_PID_ENV);
		_exit(bx_learn_mode_init() == 0 && bx_learn_mode() == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learn_mode_shapes),
	    cmocka_unit_test(test_learn_mode_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
