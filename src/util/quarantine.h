/* SPDX-License-Identifier: MIT */
/*
 * Receiving an fd without letting it into this process's fd table until it
 * has been checked.
 *
 * Why: closing any fd of a file releases every POSIX record lock this
 * process holds on that file. An fd a hostile peer sends, once installed,
 * can therefore only be refused by closing it, and the damage is done. So
 * where a peer may rightly send an fd but could send the wrong kind (an
 * original-protocol worker's `log` pipes), the recvmsg that may carry it is
 * made by a helper thread that has its own fd table (unshare(CLONE_FILES)):
 * the fd lands there, is checked there, and is closed there if refused,
 * which releases no lock of ours (POSIX locks belong to the fd table that
 * took them). Only an fd that passed is sent back to us over a socketpair.
 *
 * An fd that arrives before any frame asks for it (the original protocol
 * allows that: a queue of early fds) is not checked yet and must not enter
 * our table either: the helper parks it instead, sending it into a unix
 * socket of ours (the park) where it waits in flight, in no fd table at
 * all. A later frame that asks for an fd takes the oldest one out of the
 * park, through the helper again when there is a check. Closing the park
 * releases what is left in it unopened: no close of ours, no lock lost.
 */
#ifndef BX_UTIL_QUARANTINE_H
#define BX_UTIL_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/*
 * Decides on an fd in the helper thread: 0 to accept, -errno to refuse. It
 * must only look at the fd (fstat, fcntl F_GETFL), never keep or close it.
 */
typedef int (*bx_quarantine_check_fn)(int fd, void *ctx); /* = bx_beam_fd_check_fn */

struct bx_quarantine_res {
	size_t n;	 /* bytes read (0: EOF) */
	int fd;		 /* the fd that passed, installed here; -1 if none came or it was refused */
	int refused;	 /* the check's -errno when an fd came and was refused, else 0 */
	bool parked;	 /* park mode: an fd came and now waits in the park */
	bool ctrunc;	 /* MSG_CTRUNC: control data beyond the room for one fd was dropped */
	bool other_cmsg; /* control data other than SCM_RIGHTS came (and was dropped) */
};

/*
 * recvmsg(sock, iov, cnt, MSG_DONTWAIT) with room for one fd, made by a
 * helper thread with its own fd table, which lives for this call only. The
 * bytes land in iov as usual. An fd that comes with more control data
 * (ctrunc, other_cmsg) is closed in the helper, never passed on.
 * park < 0: the fd is checked (check NULL: accepted) and, if it passed,
 * installed here (res->fd). park >= 0: the fd is not checked but sent into
 * park, a unix socket of ours (res->parked): a later call with sock = the
 * park's other end and a one-byte iov takes it out, checked.
 * Returns 0 with *res filled, or -errno (-EAGAIN if nothing was there;
 * -EPERM, -ENOMEM... if the helper could not be made: the caller must then
 * refuse the fd, not fall back).
 */
int bx_quarantine_recv(int sock, struct iovec *iov, size_t cnt, bx_quarantine_check_fn check,
		       void *ctx, int park, struct bx_quarantine_res *res)
    __attribute__((warn_unused_result));

#endif
