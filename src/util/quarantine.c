/* SPDX-License-Identifier: MIT */
/*
 * The fd quarantine (see quarantine.h): each receive runs in a short-lived
 * thread that first takes its own copy of the fd table
 * (unshare(CLONE_FILES)) and drops everything in it but the socket to read
 * from and its end of a socketpair (or the park). An fd that arrives lands
 * in that table; it is checked and, if refused, closed there. One that
 * passed goes back to us over the socketpair; in park mode it goes into the
 * park unchecked instead. No state outlives a call (nothing to redo after
 * fork, no fd kept between calls): parked fds are the caller's park's.
 *
 * The thread makes its system calls raw (syscall(2)), so that no
 * sanitizer's fd bookkeeping mistakes its fd numbers, which belong to
 * another table, for ours; pthread_join orders its writes before ours.
 */
#define _GNU_SOURCE
#include "quarantine.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct q_call {
	int sock; /* to read from; the same number in the helper's copy */
	int back; /* the helper's end of the socketpair, or the park (park mode) */
	bool park;
	struct iovec *iov;
	size_t cnt;
	bx_quarantine_check_fn check;
	void *ctx;
	long rc; /* bytes, or -errno */
	struct bx_quarantine_res res;
	bool sent_fd;
};

/* Sends one byte with fd attached on sock, raw. */
static long send_fd(int sock, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	char byte = 0;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	long n;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do
		n = syscall(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Receives the byte send_fd sent, and its fd (-1 if none). */
static int recv_fd(int sock, int *fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctl.buf,
			     .msg_controllen = CMSG_LEN(sizeof(int))};
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : -EPIPE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return *fd >= 0 ? 0 : -EIO;
}

static void close_all_but(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 0)
		syscall(SYS_close_range, 0U, (unsigned)lo - 1, 0U);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0U);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0U, 0U);
}

static void *helper(void *arg)
{
	struct q_call *c = arg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = c->iov,
			     .msg_iovlen = c->cnt,
			     .msg_control = ctl.buf,
			     .msg_controllen = CMSG_LEN(sizeof(int))};
	int fd = -1;
	long n;

	/* Our own fd table: a copy of the process's, of which we keep two. */
	if (unshare(CLONE_FILES) < 0) {
		c->rc = -errno;
		return NULL;
	}
	close_all_but(c->sock, c->back);
	memset(&ctl, 0, sizeof(ctl));
	do
		n = syscall(SYS_recvmsg, c->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		c->rc = -errno;
		return NULL;
	}
	c->rc = n;
	c->res.n = (size_t)n;
	c->res.ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(h), sizeof(int));
		else
			c->res.other_cmsg = true;
	}
	if (fd >= 0 && (c->res.ctrunc || c->res.other_cmsg)) {
		/* Not a lone fd: the caller fails; this one is never passed on. */
	} else if (fd >= 0 && c->park) {
		/* Unasked for yet: into the park, in flight, unchecked. */
		long r = send_fd(c->back, fd);

		if (r < 0)
			c->res.refused = (int)r;
		else
			c->res.parked = true;
	} else if (fd >= 0) {
		c->res.refused = c->check ? c->check(fd, c->ctx) : 0;
		if (c->res.refused == 0) {
			long r = send_fd(c->back, fd);

			if (r < 0)
				c->res.refused = (int)r;
			else
				c->sent_fd = true;
		}
	}
	/* Refused, parked or sent on: this table's copy goes, releasing no lock of ours. */
	if (fd >= 0)
		syscall(SYS_close, fd);
	/* The thread's table (and its copies of sock and back) goes when it exits. */
	return NULL;
}

int bx_quarantine_recv(int sock, struct iovec *iov, size_t cnt, bx_quarantine_check_fn check,
		       void *ctx, int park, struct bx_quarantine_res *res)
{
	struct q_call c = {.sock = sock, .iov = iov, .cnt = cnt, .check = check, .ctx = ctx};
	sigset_t all, old;
	pthread_t th;
	int sv[2] = {-1, -1}, r;

	memset(res, 0, sizeof(*res));
	res->fd = -1;
	if (park >= 0) {
		c.back = park;
		c.park = true;
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		return -errno;
	} else {
		c.back = sv[1];
	}
	c.res.fd = -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper takes no signals */
	r = pthread_create(&th, NULL, helper, &c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return -r;
	}
	pthread_join(th, NULL);
	*res = c.res;
	res->fd = -1;
	if (c.rc >= 0 && c.sent_fd && recv_fd(sv[0], &res->fd) < 0)
		c.rc = -EIO;
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (c.rc < 0) {
		if (res->fd >= 0)
			close(res->fd);
		res->fd = -1;
		return (int)c.rc;
	}
	return 0;
}
