/* SPDX-License-Identifier: MIT */
/* notify: the serving process's violation listener, loaded and handed over (notify.h). */
#define _GNU_SOURCE
#include "confine/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/confine.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

static bool is_notify_ret(const struct sock_filter *i)
{
	return i->code == (BPF_RET | BPF_K) &&
	       (i->k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF;
}

int bx_bpf_notify_prog(const struct bx_bpf *bpf)
{
	for (size_t p = 0; bpf && p < bpf->nprogs && p < BX_BPF_PROGS_MAX; p++)
		for (size_t i = 0; bpf->progs[p].insns && i < bpf->progs[p].len; i++)
			if (is_notify_ret(&bpf->progs[p].insns[i]))
				return (int)p;
	return -1;
}

void bx_bpf_notify_to_kill(struct bx_bpf *bpf)
{
	for (size_t p = 0; bpf && p < bpf->nprogs && p < BX_BPF_PROGS_MAX; p++)
		for (size_t i = 0; bpf->progs[p].insns && i < bpf->progs[p].len; i++)
			if (is_notify_ret(&bpf->progs[p].insns[i]))
				bpf->progs[p].insns[i].k = SECCOMP_RET_KILL_PROCESS;
}

static long load_prog(const struct bx_bpf_prog *p, unsigned long flags)
{
	struct sock_fprog prog = {.len = (unsigned short)p->len, .filter = p->insns};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int bx_seccomp_load_notify(struct bx_bpf *bpf)
{
	/* The newest kernels' flags first; the serving process is single-threaded here. */
	static const unsigned long tries[] = {
	    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
		SECCOMP_FILTER_FLAG_TSYNC_ESRCH | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
		SECCOMP_FILTER_FLAG_TSYNC_ESRCH,
	    SECCOMP_FILTER_FLAG_NEW_LISTENER,
	};
	int which = bx_bpf_notify_prog(bpf);
	int listener = -EBUSY;

	if (!bpf || bpf->nprogs == 0 || bpf->nprogs > BX_BPF_PROGS_MAX || which < 0)
		return -EINVAL;
	for (size_t p = 0; p < bpf->nprogs; p++) {
		const struct bx_bpf_prog *prog = &bpf->progs[p];
		long r = -1;

		if (!prog->insns || prog->len == 0 || prog->len > BPF_MAXINSNS)
			return -EINVAL;
		if ((int)p == which) {
			for (size_t t = 0; t < sizeof(tries) / sizeof(tries[0]); t++) {
				r = load_prog(prog, tries[t]);
				if (r >= 0 || errno != EINVAL)
					break;
			}
			if (r >= 0) {
				listener = (int)r;
				continue;
			}
			if (errno != EBUSY && errno != EINVAL)
				return -errno;
			/*
			 * EBUSY: an inherited filter holds the one listener a
			 * process may have (this sandbox runs inside another
			 * one's); EINVAL with every set of flags: a kernel without
			 * listeners (before 5.0). Fail closed: the plain
			 * kill-process filter, as without violations, no name. A
			 * program the kernel refuses for itself fails again below.
			 */
			bx_bpf_notify_to_kill(bpf);
		}
		r = load_prog(prog, SECCOMP_FILTER_FLAG_TSYNC);
		if (r != 0) {
			int e = r < 0 ? errno : EAGAIN; /* TSYNC: a thread diverged */

			if (listener >= 0)
				close(listener);
			return -e;
		}
	}
	return listener;
}

int bx_notify_channel_fd(int exec_fd)
{
	return exec_fd >= 0 ? exec_fd + 1 : -1;
}

/* dup3 of fd to no, raising the soft nofile limit for it while it lasts (as exec.c does). */
static int place_fd(int fd, int no)
{
	struct rlimit old, raised;
	int r = 0;

	if (getrlimit(RLIMIT_NOFILE, &old) < 0)
		return -errno;
	raised = old;
	if (raised.rlim_cur <= (rlim_t)no) {
		raised.rlim_cur = (rlim_t)no + 1;
		if (raised.rlim_max != RLIM_INFINITY && raised.rlim_cur > raised.rlim_max)
			return -EMFILE;
		if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
			return -errno;
	}
	if (fcntl(no, F_GETFD) >= 0)
		r = -EEXIST; /* never clobber a file the process already has there */
	else if (dup3(fd, no, O_CLOEXEC) < 0)
		r = -errno;
	if (raised.rlim_cur != old.rlim_cur && setrlimit(RLIMIT_NOFILE, &old) < 0 && r == 0)
		r = -errno;
	return r;
}

int bx_notify_channel(const struct bx_confine_opts *o, int sv[2], bx_error *err)
{
	int pair[2], no = bx_notify_channel_fd(o->exec_fd), r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp: socketpair (violations): %m");
	if (no >= 0) {
		r = place_fd(pair[1], no);
		close(pair[1]);
		if (r < 0) {
			close(pair[0]);
			return bx_fail(err, r, BX_NO_OFFSET,
				       "seccomp: the violation channel at fd %d: %s", no,
				       strerror(-r));
		}
		pair[1] = no;
	}
	sv[0] = pair[0];
	sv[1] = pair[1];
	return 0;
}

int bx_notify_send_fd(int sock, int fd)
{
	char byte = 'V';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	/* A raw call: the filter allows exactly these arguments (no wrapper's extras). */
	return syscall(SYS_sendmsg, sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int bx_notify_recv_fd(int sock)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	int fd = -1;
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t count;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	if (n == 0 && fd < 0)
		return -EPIPE;
	if (fd < 0 || (m.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return fd;
}
