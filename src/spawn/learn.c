/* SPDX-License-Identifier: MIT */
/* learn: a service's workers in learning mode, the application's side (see learn.h). */
#define _GNU_SOURCE
#include "spawn/learn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <beambox/data.h>

#include "policy/wire.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

/* How long an announcement may wait for room in the supervisor's socket. */
#define LEARN_SEND_MS 5000

/* Set once by bx_learn_mode_init (bx_spawn_init, before any spawn); read-only afterwards. */
static int learn_fd = -1;
static int learn_state;
static char learn_why[160];

#ifndef BX_NO_WORKER_LEARNING
/* The socket named by the variables, checked; 0 or -EPERM with learn_why. */
static int check_supervisor(const char *fd_text, const char *pid_text)
{
	uint64_t fd = 0, pid = 0;
	int domain = 0, type = 0;
	socklen_t len = sizeof(int);
	struct ucred cred;

	if (!pid_text || bx_parse_u64(fd_text, strlen(fd_text), INT32_MAX, &fd) < 0 || fd < 3 ||
	    bx_parse_u64(pid_text, strlen(pid_text), INT32_MAX, &pid) < 0 || pid == 0) {
		snprintf(learn_why, sizeof(learn_why), "%s/%s malformed or incomplete",
			 BX_LEARN_FD_ENV, BX_LEARN_PID_ENV);
		return -EPERM;
	}
	if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX ||
	    getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET) {
		snprintf(learn_why, sizeof(learn_why), "%s=%d is not a unix seqpacket socket",
			 BX_LEARN_FD_ENV, (int)fd);
		return -EPERM;
	}
	len = sizeof(cred);
	if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    cred.pid != (pid_t)pid || (cred.uid != geteuid() && cred.uid != 0)) {
		snprintf(learn_why, sizeof(learn_why),
			 "%s=%d: its peer is not process %d (under our uid or root)",
			 BX_LEARN_FD_ENV, (int)fd, (int)pid);
		return -EPERM;
	}
	/* Ours now: no program this one executes inherits it (a zygote, a foreign worker). */
	if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(learn_why, sizeof(learn_why), "%s=%d: fcntl: %s", BX_LEARN_FD_ENV, (int)fd,
			 strerror(errno));
		return -EPERM;
	}
	learn_fd = (int)fd;
	return 0;
}
#endif

int bx_learn_mode_init(void)
{
	const char *fd_text = getenv(BX_LEARN_FD_ENV);
	const char *pid_text = getenv(BX_LEARN_PID_ENV);

	if (!fd_text && !pid_text)
		return learn_state; /* not asked, or asked at an earlier call */
#ifdef BX_NO_WORKER_LEARNING
	snprintf(learn_why, sizeof(learn_why),
		 "%s is set, but this build of beambox does not learn workers "
		 "(BX_WORKER_LEARNING=OFF)",
		 BX_LEARN_FD_ENV);
	learn_state = -EPERM;
#else
	learn_state = fd_text ? check_supervisor(fd_text, pid_text) : -EPERM;
	if (!fd_text)
		snprintf(learn_why, sizeof(learn_why), "%s without %s", BX_LEARN_PID_ENV,
			 BX_LEARN_FD_ENV);
	if (learn_state == 0)
		learn_state = 1;
#endif
	/* Not for the programs this one starts (its copies of the fd are close-on-exec). */
	unsetenv(BX_LEARN_FD_ENV);
	unsetenv(BX_LEARN_PID_ENV);
	if (learn_state < 0)
		bx_log(BX_LOG_ERROR, "learning mode refused, no worker will start: %s", learn_why);
	else
		bx_log(BX_LOG_WARNING,
		       "learning mode: workers start cold and report every call to process %s, "
		       "which allows it: for development only",
		       pid_text);
	return learn_state;
}

int bx_learn_mode(void)
{
	return learn_state;
}

/* Sends buf and fd as one message, waiting at most LEARN_SEND_MS for room. */
static int announce(const char *buf, size_t len, int fd)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	struct pollfd pfd = {.fd = learn_fd, .events = POLLOUT};
	int r;

	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		r = poll(&pfd, 1, LEARN_SEND_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	return sendmsg(learn_fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -errno;
}

int bx_learn_worker_channel(const struct bx_policy *p, int *fd, bx_error *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_fd_ int mine = -1;
	int sv[2], r;
	bx_msg *m = NULL;
	size_t len = 0;

	if (learn_state < 0)
		return bx_fail(err, learn_state, BX_NO_OFFSET, "learning mode refused: %s",
			       learn_why);
	if (learn_state == 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "not in learning mode");
	r = bx_msg_new(&m);
	if (r == 0)
		r = bx_policy_to_msg(p, m);
	/* Not in the wire form (the parent resolves it per worker), but part of the settings. */
	if (r == 0)
		r = bx_msg_add(m, BX_LEARN_UID_DYNAMIC_KEY, p->uid_dynamic ? "1" : "0");
	if (r == 0)
		r = bx_msg_encode(m, &buf, &len);
	bx_msg_free(m);
	if (r == 0 && len > BX_LEARN_ANNOUNCE_MAX)
		r = -E2BIG;
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "learning: encoding the policy: %s",
			       strerror(-r));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "learning: socketpair: %m");
	mine = sv[1];
	r = announce(buf, len, sv[0]);
	close(sv[0]); /* the supervisor's now */
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET,
			       "learning: announcing the worker to the supervisor: %s",
			       strerror(-r));
	*fd = bx_steal_fd(&mine);
	return 0;
}
