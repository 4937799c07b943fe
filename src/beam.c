/* SPDX-License-Identifier: MIT */
/*
 * beam: frames with optional fds over a unix stream socket, byte-compatible
 * with Docker 1.0's pkg/beam (the contract is in include/beambox/beam.h).
 *
 * Receiving is a resumable state machine so that one implementation serves
 * blocking sockets and poll loops alike. Each read covers the rest of the
 * current frame's header or payload (plus, after a payload, as much of the
 * next header as has come), and before it, the receiver decides where an fd
 * riding on those bytes may go.
 *
 * Which fds get installed (the receive rule)
 * ------------------------------------------
 * Installing an fd is not harmless: closing any fd of a file drops every
 * POSIX record lock this process holds on it (the locks belong to the fd
 * table that took them), so an fd a hostile peer pushes at us and we close
 * as "unexpected" has already done the damage. Yet the original protocol
 * lets an fd arrive before the frame that asks for it: its receiver queues
 * fds and gives each to the next header that asks for one (beam-vectors.txt
 * R5, and the capture of its section 4), and beambox takes whatever the
 * original sender sends. So an fd enters this process's fd table only once
 * a frame's header asks for it; until then it waits where closing it costs
 * nothing.
 *
 * What the kernel does, which the rule rests on (checked on the running
 * kernel: test_beam.c test_kernel_drops_fds_without_control_buffer, and
 * test_unasked_fds_never_installed, which holds a lock across every case):
 *  - a unix stream read returns the fds of the first fd-carrying sk_buff
 *    among the bytes it returns, and stops at its end: a frame's fd goes
 *    with the first read that touches any byte of its sk_buff;
 *  - a read without a control buffer installs nothing: the kernel drops the
 *    fds (a release, not a close of ours: no lock goes) and sets
 *    MSG_CTRUNC; a peek without one installs nothing and leaves them queued;
 *  - a peek reports MSG_CTRUNC when any fd-carrying sk_buff is queued at all
 *    (it walks on past a full buffer), and stops copying at the end of the
 *    first one: a peek that returns fewer bytes than asked, with MSG_CTRUNC,
 *    says where that sk_buff ends.
 * A sender attaches a frame's fd to the sk_buff that starts with the frame's
 * first header byte (the original sends header[0] alone with it; beambox
 * sends header and payload in one sendmsg); a relay that re-chunks the
 * stream (the original's own capture) may deliver it on a chunk that begins
 * in the previous frame and ends with that byte.
 *
 * The rule, on a connection that takes fds (BX_BEAM_FDS_ANNOUNCED): every
 * read is preceded by a peek of its bytes and a little more (the
 * lookahead). A read gets no control buffer when the peek shows no fd
 * ahead, or shows the first fd-carrying sk_buff beginning past the bytes to
 * read (clean_until: the sk_buff before it, whose fd was taken, ended there).
 * Otherwise, while no fd is parked:
 *  (A) a read of the header of a frame whose first byte (peeked) announces
 *      an fd, and that has none yet, gets room for exactly one fd (CMSG_LEN,
 *      not CMSG_SPACE, whose padding would fit a second): it is that frame's;
 *  (B) a read after which the first fd-carrying sk_buff ends (the peek shows
 *      where) inside the next frame, which announces an fd and has none yet,
 *      gets room for one: it is that frame's, early.
 *  (C) Any other fd is early and asked for by no header yet: the read is
 *      made in the quarantine (a helper thread with its own fd table,
 *      src/util/quarantine.c), and the fd, if one comes, is parked: sent
 *      into a socketpair of this connection, where it waits in flight, in
 *      no fd table. A header that asks for an fd takes the oldest parked one
 *      (A and B give way while any is parked, so fds keep their order). At
 *      most BX_BEAM_FDQ_MAX wait: one more is -EPROTO, refused in the
 *      quarantine. Fds no frame claimed are -EPROTO at EOF, as before; at
 *      any error and at bx_beam_free the park is closed, which releases its
 *      fds unopened.
 * A frame gets at most one fd, and a frame that announces none gets none.
 * Where an fd must be of a kind (bx_beam_set_fd_check), every fd that enters
 * our table, by (A), (B) or out of the park, passes through the quarantine
 * first, where a refused one is closed.
 *
 * BX_BEAM_FDS_NONE (beambox/1 channels and the main socket after the hello:
 * beambox's own protocol, where no fd is ever expected) reads with no peek
 * and no control buffer at all, and sets SO_PASSRIGHTS to 0 where the kernel
 * has it (Linux 6.16+): the peer's sendmsg with fds then fails with EPERM;
 * on older kernels the fds are dropped unopened and the read is -EPROTO.
 *
 * With bx_beam_set_drop_oversized (a worker reading its trusted parent), a
 * payload over the limit is read in pieces into a buffer on the stack and
 * dropped; the same rule applies to each piece.
 *
 * Sending: whole frames never interleave across threads, and no thread
 * holds the connection's lock while it waits for the peer to read. A frame
 * that cannot be written at once joins an outbound queue that any sender
 * (or bx_beam_flush) advances; bx_beam_send_until bounds the wait by a
 * deadline and stop fds, withdrawing a frame that has not started or
 * cutting the connection (-ECONNABORTED for everyone after) when one has.
 */
#define _GNU_SOURCE
#include <beambox/beam.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/quarantine.h"

#define BEAM_HDR_LEN  4u
#define BEAM_FD_BIT   0x80000000u
#define BEAM_LEN_MASK 0x7fffffffu

/* Linux 6.16's SO_PASSRIGHTS (asm-generic/socket.h); older headers lack it. */
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

#define BEAM_MUST_CHECK __attribute__((warn_unused_result))

/*
 * How far a peek looks past the current frame for where an fd-carrying
 * sk_buff ends (rule B): enough for the next frame's header and a small
 * payload (job-channel frames are a few dozen bytes).
 */
#define BEAM_LOOKAHEAD 512

/* Stop fds bx_beam_send_until polls besides the socket and its own wake-up. */
#define BEAM_STOP_MAX 8

/* Beambox's framing (bx_beam_set_multi_fds): count of fds in bits 30..29, length below. */
_Static_assert(BX_BEAM_FDS_MAX == 3, "rxm_read's message says 3");
#define BEAM_MULTI_LEN_MASK    0x1fffffffu
#define BEAM_MULTI_COUNT_SHIFT 29
#define BEAM_MULTI_COUNT_MASK  0x3u
/* Its read-ahead buffer; a payload bigger than half of it is read straight into place. */
#define BEAM_RBUF 16384
/* Fds of reads whose header is not parsed yet: one read, and the next one. */
#define BEAM_BATCHES 2

/* The fds one read brought (multi), and the stream offsets that read covered. */
struct rx_batch {
	int fds[BX_BEAM_FDS_MAX];
	size_t n;
	size_t begin, end;
};

/* One frame waiting in the outbound queue, header included. */
struct bx_outframe {
	struct bx_outframe *next;
	uint64_t seq;		  /* order of queueing; frames complete in this order */
	size_t len;		  /* header + payload */
	size_t off;		  /* bytes already written */
	int fds[BX_BEAM_FDS_MAX]; /* our duplicates; closed once they rode out with the first byte
				   */
	size_t nfds;
	int waker; /* eventfd of a sender waiting for this frame, or -1 (borrowed) */
	uint8_t bytes[];
};

struct bx_beam {
	int sock;
	size_t limit;
	int fd_policy; /* enum bx_beam_fds */

	/* Receive side: one reader at a time (documented), so no lock. */
	int rx_error;	  /* sticky fatal error, 0 while usable */
	size_t rx_off;	  /* stream offset read so far, for error reports */
	size_t frame_off; /* stream offset of the current frame's header */
	uint8_t hdr[BEAM_HDR_LEN];
	size_t hdr_got;
	uint8_t *payload; /* allocated once the header is complete */
	size_t need;
	size_t got;
	/* bx_beam_set_drop_oversized: an over-limit payload is read and dropped. */
	bool drop_oversized;
	size_t drop_left;   /* bytes of the current payload still to drop */
	size_t dropped;	    /* the current frame's dropped length */
	int fd_cur;	    /* the current frame's fd, once it arrived */
	int fd_next;	    /* the next frame's fd, arrived early (rule B) */
	int park[2];	    /* where early fds wait, in flight (rule C): read, write end; -1 */
	size_t parked;	    /* fds waiting in the park, at most BX_BEAM_FDQ_MAX */
	size_t clean_until; /* stream offset before which no fd rides (see the rule) */
	size_t carried;	    /* bytes of the next header already in hdr (read with the payload) */
	bx_beam_fd_check_fn fd_check; /* an fd must pass this before it is installed */
	void *fd_check_ctx;
	uint8_t la[BEAM_LOOKAHEAD]; /* where a peek looks past the current frame */
	/* bx_beam_set_multi_fds: beambox's framing, read ahead into rbuf (rx_multi). */
	bool multi;
	uint8_t *rbuf;		      /* BEAM_RBUF bytes; [rb_start, rb_end) not yet parsed */
	size_t rb_start, rb_end;      /* rx_off is the stream offset of rb_end */
	int cur_fds[BX_BEAM_FDS_MAX]; /* the current frame's fds (multi) */
	size_t cur_nfds;
	struct rx_batch batch[BEAM_BATCHES]; /* fds read, not yet claimed by their header */
	size_t nbatch;

	/* Send side: everything below is under tx_lock. */
	pthread_mutex_t tx_lock;
	int tx_error; /* sticky: a frame was cut short, the peer's framing is lost */
	struct bx_outframe *outq_head;
	struct bx_outframe *outq_tail;
	size_t outq_bytes;
	uint64_t tx_seq;      /* last sequence number handed out */
	uint64_t tx_done_seq; /* last frame written completely */
};

/* ------------------------------------------------------------------ setup */

BX_API int bx_beam_new(int sock, bx_beam **out)
{
	bx_beam *b;
	int domain = 0, type = 0, r;
	socklen_t len;

	if (!out)
		return -EINVAL;
	if (sock < 0)
		return -EBADF;
	len = sizeof(domain);
	if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	len = sizeof(type);
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno;
	/* SCM_RIGHTS and a byte stream are what the wire format assumes. */
	if (domain != AF_UNIX || type != SOCK_STREAM)
		return -EPROTOTYPE;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	r = pthread_mutex_init(&b->tx_lock, NULL);
	if (r != 0) {
		free(b);
		return -r;
	}
	b->sock = sock;
	b->limit = BX_BEAM_DEFAULT_LIMIT;
	b->fd_policy = BX_BEAM_FDS_ANNOUNCED;
	b->fd_cur = -1;
	b->fd_next = -1;
	b->park[0] = b->park[1] = -1;
	for (size_t i = 0; i < BX_BEAM_FDS_MAX; i++)
		b->cur_fds[i] = -1;
	*out = b;
	return 0;
}

BX_API int bx_beam_fd(const bx_beam *b)
{
	return b ? b->sock : -1;
}

BX_API int bx_beam_set_limit(bx_beam *b, size_t max_payload)
{
	if (!b || max_payload == 0 || max_payload > BX_BEAM_WIRE_MAX)
		return -EINVAL;
	b->limit = max_payload;
	return 0;
}

BX_API int bx_beam_set_drop_oversized(bx_beam *b, int on)
{
	if (!b)
		return -EINVAL;
	b->drop_oversized = on != 0;
	return 0;
}

BX_API int bx_beam_set_fd_policy(bx_beam *b, int policy)
{
	int pass;

	if (!b || (policy != BX_BEAM_FDS_ANNOUNCED && policy != BX_BEAM_FDS_NONE))
		return -EINVAL;
	pass = policy == BX_BEAM_FDS_ANNOUNCED;
	/*
	 * Where the kernel has SO_PASSRIGHTS, a peer's fds are then refused at
	 * its sendmsg (EPERM). Older kernels answer ENOPROTOOPT: the receive
	 * path alone (no control buffer) keeps them out, as documented.
	 */
	if (setsockopt(b->sock, SOL_SOCKET, SO_PASSRIGHTS, &pass, sizeof(pass)) < 0 &&
	    errno != ENOPROTOOPT && errno != EINVAL)
		return -errno;
	b->fd_policy = policy;
	return 0;
}

BX_API int bx_beam_set_fd_check(bx_beam *b, bx_beam_fd_check_fn check, void *ctx)
{
	if (!b || (check && b->multi))
		return -EINVAL;
	b->fd_check = check;
	b->fd_check_ctx = ctx;
	return 0;
}

BX_API void bx_frame_clear(bx_frame *f)
{
	if (!f)
		return;
	free(f->data);
	f->data = NULL;
	f->len = 0;
	f->dropped = 0;
	for (size_t i = 0; i + 1 < f->nfds && i < BX_BEAM_FDS_MAX - 1; i++)
		bx_close_and_reset(&f->more_fds[i]);
	f->nfds = 0;
	bx_close_and_reset(&f->fd);
}

/* ------------------------------------------------------------------ receive */

/* Drops the partial frame and every fd the connection holds, parked ones included. */
static void rx_drop(bx_beam *b)
{
	free(b->payload);
	b->payload = NULL;
	b->need = 0;
	b->got = 0;
	b->hdr_got = 0;
	b->carried = 0;
	b->drop_left = 0;
	b->dropped = 0;
	bx_close_and_reset(&b->fd_cur);
	bx_close_and_reset(&b->fd_next);
	for (size_t i = 0; i < b->cur_nfds; i++)
		bx_close_and_reset(&b->cur_fds[i]);
	b->cur_nfds = 0;
	for (size_t k = 0; k < b->nbatch; k++)
		for (size_t i = 0; i < b->batch[k].n; i++)
			close(b->batch[k].fds[i]);
	b->nbatch = 0;
	b->rb_start = b->rb_end = 0;
	/* What waits in the park is in flight: closing it releases those fds unopened. */
	bx_close_and_reset(&b->park[0]);
	bx_close_and_reset(&b->park[1]);
	b->parked = 0;
}

/*
 * Framing is lost after these errors, so the connection refuses to read
 * on: whatever followed could be misparsed as a frame.
 */
static int rx_fatal(bx_beam *b, int code)
{
	rx_drop(b);
	b->rx_error = code;
	return code;
}

/* What a read may do with an fd riding on its bytes (the rule at the top). */
enum rx_fd {
	RX_NONE, /* no control buffer: the kernel drops any fd unopened (MSG_CTRUNC) */
	RX_TAKE, /* room for one fd, which a header asks for: into our table (checked first) */
	RX_PARK, /* an fd no header asks for yet: received in the quarantine and parked */
};

/* How one recvmsg went. */
struct rx_res {
	size_t n;    /* bytes read or peeked; 0 is EOF */
	int fd;	     /* RX_TAKE: the one fd installed, else -1; owned by the caller */
	bool got_fd; /* an fd came (taken or parked) */
	bool ctrunc; /* MSG_CTRUNC: control data the kernel dropped (never installed) */
};

/*
 * Takes the control messages of a read that had room for one fd. Anything
 * but a single SCM_RIGHTS fd is a protocol error; every fd found is closed
 * on that path (the kernel installed at most one: the buffer holds no more).
 */
static BEAM_MUST_CHECK int rx_take_fd(bx_beam *b, struct msghdr *msg, struct rx_res *res,
				      bx_error *err)
{
	int bad_level = 0, bad_type = 0;
	bool bad = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			if (!bad) {
				bad_level = c->cmsg_level;
				bad_type = c->cmsg_type;
			}
			bad = true;
			continue;
		}
		n = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (res->fd < 0)
				res->fd = fd;
			else {
				/* Cannot happen with a one-fd buffer; never leak regardless. */
				close(fd);
				bad = true;
			}
		}
	}
	if (bad) {
		bx_close_and_reset(&res->fd);
		return rx_fatal(b,
				bx_fail(err, -EPROTO, b->rx_off,
					"recvmsg: unexpected control message (level %d, type %d)",
					bad_level, bad_type));
	}
	res->got_fd = res->fd >= 0;
	return 0;
}

/* The check of a full park: whatever comes is one fd too many. */
static int refuse_overflow(int fd, void *ctx)
{
	(void)fd;
	(void)ctx;
	return -ENOBUFS;
}

/* Makes the park (once): a socketpair whose queue holds early fds in flight. */
static BEAM_MUST_CHECK int rx_park_open(bx_beam *b, bx_error *err)
{
	if (b->park[0] >= 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b->park) < 0) {
		int e = errno;

		b->park[0] = b->park[1] = -1;
		return rx_fatal(b, bx_fail(err, -e, b->rx_off,
					   "socketpair (where early fds wait): %s", strerror(e)));
	}
	return 0;
}

/*
 * A read through the quarantine (src/util/quarantine.c): RX_TAKE with a
 * check (the fd, if one comes, is checked before it enters our table), or
 * RX_PARK (the fd goes to the park, unchecked and uninstalled).
 */
static BEAM_MUST_CHECK int rx_recv_quarantined(bx_beam *b, struct iovec *iov, size_t cnt,
					       enum rx_fd mode, struct rx_res *res, bx_error *err)
{
	struct bx_quarantine_res q;
	bool full = mode == RX_PARK && b->parked >= BX_BEAM_FDQ_MAX;
	int r;

	if (mode == RX_PARK && !full) {
		r = rx_park_open(b, err);
		if (r < 0)
			return r;
	}
	if (full)
		r = bx_quarantine_recv(b->sock, iov, cnt, refuse_overflow, NULL, -1, &q);
	else if (mode == RX_PARK)
		r = bx_quarantine_recv(b->sock, iov, cnt, NULL, NULL, b->park[1], &q);
	else
		r = bx_quarantine_recv(b->sock, iov, cnt, b->fd_check, b->fd_check_ctx, -1, &q);
	if (r == -EAGAIN)
		return bx_fail(err, -EAGAIN, b->rx_off, "recvmsg: no complete frame yet");
	if (r < 0)
		return rx_fatal(b, bx_fail(err, r == -EIO ? -EIO : -EPROTO, b->rx_off,
					   "cannot receive an fd without installing it: %s",
					   strerror(-r)));
	res->n = q.n;
	res->fd = q.fd;
	res->ctrunc = q.ctrunc;
	res->got_fd = q.fd >= 0 || q.parked || q.refused;
	b->rx_off += q.n;
	if (q.parked)
		b->parked++;
	if (q.other_cmsg || q.ctrunc) {
		bx_close_and_reset(&res->fd);
		return rx_fatal(
		    b, bx_fail(err, -EPROTO, b->rx_off,
			       q.other_cmsg
				   ? "recvmsg: unexpected control message; dropped unopened"
				   : "recvmsg: more than one fd in one message (MSG_CTRUNC), a "
				     "frame carries at most one; dropped unopened"));
	}
	if (q.refused && full)
		return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
					   "fd queue overflow: more than %d fds arrived without a "
					   "frame claiming them; refused unopened",
					   BX_BEAM_FDQ_MAX));
	if (q.refused && mode == RX_PARK)
		return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
					   "cannot park an early fd (%s); refused unopened",
					   strerror(-q.refused)));
	if (q.refused)
		return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
					   "the fd for the frame at offset %zu is not the kind "
					   "expected (%s); refused unopened",
					   b->frame_off, strerror(-q.refused)));
	return 0;
}

/*
 * One recvmsg into iov (cnt entries). A peek leaves the bytes queued and
 * has no control buffer (the kernel installs nothing). mode says what may
 * happen to an fd riding on the bytes (enum rx_fd).
 */
static BEAM_MUST_CHECK int rx_recv(bx_beam *b, struct iovec *iov, size_t cnt, bool peek,
				   enum rx_fd mode, struct rx_res *res, bx_error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cnt};
	ssize_t n;

	res->n = 0;
	res->fd = -1;
	res->got_fd = false;
	res->ctrunc = false;
	if (mode == RX_PARK || (mode == RX_TAKE && b->fd_check))
		return rx_recv_quarantined(b, iov, cnt, mode, res, err);
	if (mode == RX_TAKE) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		/* CMSG_LEN, not CMSG_SPACE: the padding of CMSG_SPACE would fit a second fd. */
		msg.msg_controllen = CMSG_LEN(sizeof(int));
	}
	n = recvmsg(b->sock, &msg, MSG_CMSG_CLOEXEC | (peek ? MSG_PEEK : 0));
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK)
			return bx_fail(err, -EAGAIN, b->rx_off, "recvmsg: no complete frame yet");
		if (e == EINTR)
			return bx_fail(err, -EINTR, b->rx_off, "recvmsg: interrupted");
		return rx_fatal(
		    b, bx_fail(err, -e, b->rx_off, "recvmsg(beam socket): %s", strerror(e)));
	}
	res->n = (size_t)n;
	res->ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
	if (mode == RX_TAKE) {
		int r = rx_take_fd(b, &msg, res, err);

		if (r < 0)
			return r;
	}
	if (res->ctrunc && !peek) {
		bx_close_and_reset(&res->fd);
		return rx_fatal(
		    b, bx_fail(err, -EPROTO, b->rx_off,
			       mode == RX_TAKE
				   ? "recvmsg: more than one fd in one message (MSG_CTRUNC), a "
				     "frame carries at most one; dropped unopened"
				   : "recvmsg: fds or other control data on bytes that take none "
				     "(MSG_CTRUNC); dropped unopened"));
	}
	if (!peek)
		b->rx_off += (size_t)n;
	return 0;
}

/*
 * The oldest parked fd, for a header that asks for one: through the
 * quarantine when there is a check (a refused one is closed there), else
 * straight into our table. Nothing else reads the park.
 */
static BEAM_MUST_CHECK int rx_unpark(bx_beam *b, bx_error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint8_t byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	b->parked--;
	if (b->fd_check) {
		struct bx_quarantine_res q;
		int r =
		    bx_quarantine_recv(b->park[0], &iov, 1, b->fd_check, b->fd_check_ctx, -1, &q);

		if (r < 0 || q.n != 1 || q.ctrunc || q.other_cmsg)
			return rx_fatal(b, bx_fail(err, -EPROTO, b->frame_off,
						   "cannot take an early fd out of the park "
						   "without installing it: %s",
						   strerror(r < 0 ? -r : EIO)));
		if (q.refused)
			return rx_fatal(b,
					bx_fail(err, -EPROTO, b->frame_off,
						"the early fd for the frame at offset %zu is not "
						"the kind expected (%s); refused unopened",
						b->frame_off, strerror(-q.refused)));
		b->fd_cur = q.fd;
		return b->fd_cur >= 0 ? 0
				      : rx_fatal(b, bx_fail(err, -EIO, b->frame_off,
							    "the park lost an early fd"));
	}
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_LEN(sizeof(int));
	do
		n = recvmsg(b->park[0], &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 1 && !(msg.msg_flags & MSG_CTRUNC)) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&b->fd_cur, CMSG_DATA(c), sizeof(int));
	}
	if (b->fd_cur < 0)
		return rx_fatal(b, bx_fail(err, -EIO, b->frame_off, "the park lost an early fd"));
	return 0;
}

/* The header is complete: validate it before committing any memory. */
static BEAM_MUST_CHECK int rx_header(bx_beam *b, bx_error *err)
{
	uint32_t h = (uint32_t)b->hdr[0] << 24 | (uint32_t)b->hdr[1] << 16 |
		     (uint32_t)b->hdr[2] << 8 | (uint32_t)b->hdr[3];
	size_t len = (size_t)(h & BEAM_LEN_MASK);
	int r;

	if (len > b->limit && !b->drop_oversized)
		return rx_fatal(b,
				bx_fail(err, -EMSGSIZE, b->frame_off,
					"frame header announces %zu bytes, over the limit of %zu",
					len, b->limit));
	if (h & BEAM_FD_BIT) {
		if (b->fd_policy == BX_BEAM_FDS_NONE)
			return rx_fatal(b, bx_fail(err, -EPROTO, b->frame_off,
						   "frame header announces an fd on a connection "
						   "that takes none"));
		if (b->fd_cur < 0 && b->parked > 0) {
			/* The oldest early fd is this frame's (the original's queue). */
			r = rx_unpark(b, err);
			if (r < 0)
				return r;
		}
		if (b->fd_cur < 0)
			return rx_fatal(b, bx_fail(err, -EPROTO, b->frame_off,
						   "frame header asks for an fd but none arrived"));
	} else if (b->fd_cur >= 0) {
		/* Cannot happen: only a header with the bit is given an fd. */
		return rx_fatal(b, bx_fail(err, -EPROTO, b->frame_off,
					   "an fd arrived for a header that asks for none"));
	}
	if (len > b->limit) {
		/* Dropped as it arrives: nothing the size of len is ever allocated. */
		b->drop_left = len;
		b->dropped = len;
		len = 0;
	}
	/* One spare byte: callers may treat the payload as a C string. */
	b->payload = malloc(len + 1);
	if (!b->payload)
		return rx_fatal(b, bx_fail(err, -ENOMEM, b->frame_off,
					   "cannot allocate a %zu-byte frame", len));
	b->payload[len] = '\0';
	b->need = len;
	b->got = 0;
	return 0;
}

static int rx_eof(bx_beam *b, bx_error *err)
{
	if (b->hdr_got == 0) {
		size_t left = b->parked + (b->fd_cur >= 0) + (b->fd_next >= 0);

		/* As the original's receiver, fds no frame claimed are an error (and closed). */
		if (left > 0)
			return rx_fatal(b,
					bx_fail(err, -EPROTO, b->rx_off,
						"EOF with %zu fd(s) that no frame claimed", left));
		return 0;
	}
	if (b->hdr_got < BEAM_HDR_LEN) {
		size_t have = b->hdr_got;

		return rx_fatal(b, bx_fail(err, -EBADMSG, b->frame_off,
					   "EOF inside a frame header (%zu of %u bytes)", have,
					   BEAM_HDR_LEN));
	}
	{
		size_t have = b->got, need = b->need;

		if (b->dropped) {
			have = b->dropped - b->drop_left;
			need = b->dropped;
		}
		return rx_fatal(b, bx_fail(err, -EBADMSG, b->frame_off,
					   "EOF inside a frame payload (%zu of %zu bytes)", have,
					   need));
	}
}

/* What a peek ahead of one read showed: bytes [rx_off, rx_off + n) in two pieces. */
struct rx_view {
	const uint8_t *dst; /* the current unit's bytes (want of them) */
	size_t want;
	const uint8_t *la; /* then the lookahead */
	size_t n;	   /* bytes peeked in all */
};

static int view_byte(const struct rx_view *v, size_t off)
{
	if (off >= v->n)
		return -1;
	return off < v->want ? v->dst[off] : v->la[off - v->want];
}

/* The 4-byte big-endian header at off in the view; false if not all of it was peeked. */
static bool view_header(const struct rx_view *v, size_t off, uint32_t *h)
{
	*h = 0;
	for (size_t i = 0; i < BEAM_HDR_LEN; i++) {
		int c = view_byte(v, off + i);

		if (c < 0)
			return false;
		*h = *h << 8 | (uint32_t)c;
	}
	return true;
}

/*
 * Rule (B): the first fd-carrying sk_buff ahead ends with the byte at
 * offset e of the view. Is that inside the next frame (which starts at
 * offset next), and does that frame announce an fd? Then, with nothing
 * parked, it is that frame's fd, early.
 */
static bool ends_in_next_announcing(const struct rx_view *v, size_t next, size_t e)
{
	int b0 = view_byte(v, next);
	uint32_t h;

	if (e < next || b0 < 0 || !(b0 & 0x80))
		return false;
	if (e < next + BEAM_HDR_LEN)
		return true;
	/* Past its header: all four bytes were peeked; e must be inside its payload. */
	return view_header(v, next, &h) && e - next - BEAM_HDR_LEN < (size_t)(h & BEAM_LEN_MASK);
}

/*
 * Which way the read of the current piece takes an fd, given a peek that
 * saw one ahead (MSG_CTRUNC): rule (A), rule (B), or the park (C). *slot is
 * where a taken fd goes; *extra grows to cover the next header's bytes.
 */
static enum rx_fd rx_choose(bx_beam *b, const struct rx_view *v, bool in_hdr, bool unit_end,
			    int **slot, size_t *extra)
{
	size_t e, next;

	if (in_hdr && (b->hdr[0] & 0x80) && b->fd_cur < 0 && b->parked == 0) {
		*slot = &b->fd_cur; /* (A): its header asks for it and nothing waits before it */
		return RX_TAKE;
	}
	if (!unit_end || b->parked > 0 || b->fd_next >= 0 || v->n >= v->want + BEAM_LOOKAHEAD ||
	    v->n <= v->want)
		return RX_PARK;
	/* The first fd-carrying sk_buff ends with the last byte peeked, past this piece. */
	e = v->n - 1;
	next = v->want;
	if (in_hdr) {
		/* This frame's length: the peek completed its header in hdr. */
		uint32_t h = (uint32_t)b->hdr[0] << 24 | (uint32_t)b->hdr[1] << 16 |
			     (uint32_t)b->hdr[2] << 8 | (uint32_t)b->hdr[3];

		next += (size_t)(h & BEAM_LEN_MASK);
	}
	if (!ends_in_next_announcing(v, next, e))
		return RX_PARK;
	*slot = &b->fd_next; /* (B) */
	if (!in_hdr)
		*extra = v->n - v->want < BEAM_HDR_LEN ? v->n - v->want : BEAM_HDR_LEN;
	return RX_TAKE;
}

/*
 * Reads the next piece of the current frame: the rest of its header (into
 * hdr) or of its payload, and, in the payload case, what has already come of
 * the next header (carried into hdr). On a connection that takes fds, a
 * peek first decides whether the read may carry an fd, and where it goes.
 */
static BEAM_MUST_CHECK int rx_step(bx_beam *b, bool *eof, bx_error *err)
{
	bool in_hdr = b->hdr_got < BEAM_HDR_LEN;
	uint8_t *dst = in_hdr ? b->hdr + b->hdr_got : b->payload + b->got;
	size_t want = in_hdr ? BEAM_HDR_LEN - b->hdr_got : b->need - b->got;
	size_t take, extra = 0, fd_end = 0;
	/* Whether the bytes after these begin the next frame (not so in a long drop). */
	bool unit_end = true;
	uint8_t sink[4096]; /* bx_beam_set_drop_oversized: where a dropped payload goes */
	enum rx_fd mode = RX_NONE;
	int *fd_slot = NULL;
	struct iovec iov[2];
	struct rx_res res;
	int r;

	if (!in_hdr && b->drop_left > 0) {
		dst = sink;
		want = b->drop_left < sizeof(sink) ? b->drop_left : sizeof(sink);
		unit_end = want == b->drop_left;
	}
	take = want;
	if (!dst)
		return rx_fatal(b,
				-EIO); /* cannot happen: a payload is allocated with its header */

	if (b->fd_policy == BX_BEAM_FDS_ANNOUNCED) {
		struct rx_view v = {.dst = dst, .want = want, .la = b->la};

		iov[0] = (struct iovec){.iov_base = dst, .iov_len = want};
		iov[1] = (struct iovec){.iov_base = b->la, .iov_len = sizeof(b->la)};
		r = rx_recv(b, iov, 2, true, RX_NONE, &res, err);
		if (r < 0)
			return r;
		if (res.n == 0) {
			*eof = true;
			return 0;
		}
		v.n = res.n;
		take = res.n < want ? res.n : want;
		if (res.n < want + sizeof(b->la))
			fd_end = b->rx_off + res.n; /* where that sk_buff ends, if it is one */
		if (!res.ctrunc) {
			/* No fd anywhere ahead: also take what came of the next header. */
			if (!in_hdr && unit_end && res.n > want)
				extra = res.n - want < BEAM_HDR_LEN ? res.n - want : BEAM_HDR_LEN;
		} else if (b->rx_off + take > b->clean_until) {
			mode = rx_choose(b, &v, in_hdr, unit_end, &fd_slot, &extra);
		}
		/* else: the fd ahead rides on an sk_buff past these bytes (see clean_until). */
	} else {
		/* Takes no fds: no peek; read on into the next header if it is there. */
		if (!in_hdr && unit_end)
			extra = BEAM_HDR_LEN;
	}

	iov[0] = (struct iovec){.iov_base = dst, .iov_len = take};
	iov[1] = (struct iovec){.iov_base = b->hdr, .iov_len = extra};
	r = rx_recv(b, iov, extra ? 2 : 1, false, mode, &res, err);
	if (r < 0)
		return r;
	if (res.n == 0) {
		*eof = true;
		return 0;
	}
	if (res.got_fd && fd_end > b->clean_until)
		b->clean_until =
		    fd_end; /* that sk_buff's fd is taken: no other rides before its end */
	if (res.fd >= 0 && fd_slot)
		*fd_slot = res.fd; /* room was given only while the slot was empty */
	else if (res.fd >= 0)
		close(res.fd); /* cannot happen: no slot, no room */
	if (in_hdr) {
		b->hdr_got += res.n;
		return 0;
	}
	if (res.n > take)
		b->carried = res.n - take;
	if (b->drop_left > 0)
		b->drop_left -= res.n > take ? take : res.n;
	else
		b->got += res.n > take ? take : res.n;
	return 0;
}

/* ------------------------------------------------------------------ beambox's framing */

/*
 * bx_beam_set_multi_fds: reads go into rbuf, as much as has come, and
 * frames are parsed out of it. The kernel hands over the fds of one
 * fd-carrying sk_buff per read, the last one the read touches (it stops
 * there); a sender attaches a frame's fds to the sk_buff that starts with
 * the frame's header. So the fds of a read belong to the one header that
 * starts in that read and announces fds: each batch remembers the stream
 * offsets its read covered, and a header claims the oldest batch only if it
 * starts inside them and announces exactly that count. A payload too big
 * for the buffer is read straight into place without a control buffer (no
 * header starts there, so any fd there is -EPROTO, dropped unopened).
 */

static void rxm_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bx_close_and_reset(&fds[i]);
}

/*
 * One recvmsg of at most len bytes into dst; with take_fds, room for
 * exactly BX_BEAM_FDS_MAX fds, which become a batch. *got: bytes, 0 at EOF.
 */
static BEAM_MUST_CHECK int rxm_read(bx_beam *b, void *dst, size_t len, bool take_fds, bool nowait,
				    size_t *got, bx_error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(BX_BEAM_FDS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = dst, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[BX_BEAM_FDS_MAX];
	size_t nfds = 0;
	bool bad = false;
	ssize_t n;

	*got = 0;
	take_fds = take_fds && b->fd_policy == BX_BEAM_FDS_ANNOUNCED;
	if (take_fds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		/* CMSG_LEN, not CMSG_SPACE: its padding must not make room for one more. */
		msg.msg_controllen = CMSG_LEN(BX_BEAM_FDS_MAX * sizeof(int));
	}
	n = recvmsg(b->sock, &msg, MSG_CMSG_CLOEXEC | (nowait ? MSG_DONTWAIT : 0));
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK)
			return bx_fail(err, -EAGAIN, b->rx_off, "recvmsg: no complete frame yet");
		if (e == EINTR)
			return bx_fail(err, -EINTR, b->rx_off, "recvmsg: interrupted");
		return rx_fatal(
		    b, bx_fail(err, -e, b->rx_off, "recvmsg(beam socket): %s", strerror(e)));
	}
	for (struct cmsghdr *c = take_fds ? CMSG_FIRSTHDR(&msg) : NULL; c;
	     c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			bad = true;
			continue;
		}
		k = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (nfds < BX_BEAM_FDS_MAX)
				fds[nfds++] = fd;
			else {
				close(fd); /* cannot happen: the buffer holds no more */
				bad = true;
			}
		}
	}
	if (bad || (msg.msg_flags & MSG_CTRUNC)) {
		rxm_close_fds(fds, nfds);
		return rx_fatal(
		    b, bx_fail(err, -EPROTO, b->rx_off,
			       bad ? "recvmsg: unexpected control message"
			       : take_fds
				   ? "recvmsg: more than 3 fds in one "
				     "message (MSG_CTRUNC); the rest dropped unopened"
				   : "recvmsg: fds or other control data on bytes that take none "
				     "(MSG_CTRUNC); dropped unopened"));
	}
	if (nfds > 0) {
		struct rx_batch *bt;

		if (n == 0 || b->nbatch >= BEAM_BATCHES) {
			rxm_close_fds(fds, nfds);
			return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
						   "fds arrived before the header that claims the "
						   "ones before them"));
		}
		bt = &b->batch[b->nbatch++];
		memcpy(bt->fds, fds, nfds * sizeof(int));
		bt->n = nfds;
		bt->begin = b->rx_off;
		bt->end = b->rx_off + (size_t)n;
	}
	b->rx_off += (size_t)n;
	*got = (size_t)n;
	return 0;
}

/* Stream offset of the first byte in rbuf not yet parsed. */
static size_t rxm_parse_off(const bx_beam *b)
{
	return b->rx_off - (b->rb_end - b->rb_start);
}

/* A header was read (at frame_off): check it, claim its fds, allocate its payload. */
static BEAM_MUST_CHECK int rxm_header(bx_beam *b, uint32_t h, bx_error *err)
{
	size_t len = (size_t)(h & BEAM_MULTI_LEN_MASK);
	size_t n =
	    (h & BEAM_FD_BIT) ? ((h >> BEAM_MULTI_COUNT_SHIFT) & BEAM_MULTI_COUNT_MASK) + 1 : 0;
	size_t at = b->frame_off;

	if (!(h & BEAM_FD_BIT) && ((h >> BEAM_MULTI_COUNT_SHIFT) & BEAM_MULTI_COUNT_MASK))
		return rx_fatal(
		    b, bx_fail(err, -EPROTO, at, "frame header has a count of fds but no fd bit"));
	if (n > BX_BEAM_FDS_MAX)
		return rx_fatal(b, bx_fail(err, -EPROTO, at,
					   "frame header announces %zu fds, more than %d", n,
					   BX_BEAM_FDS_MAX));
	if (b->nbatch > 0 && b->batch[0].end <= at)
		return rx_fatal(b, bx_fail(err, -EPROTO, at,
					   "%zu fd(s) arrived with bytes where no header claims "
					   "them; closed",
					   b->batch[0].n));
	if (n > 0) {
		struct rx_batch *bt = &b->batch[0];

		if (b->fd_policy == BX_BEAM_FDS_NONE)
			return rx_fatal(b, bx_fail(err, -EPROTO, at,
						   "frame header announces fds on a connection "
						   "that takes none"));
		if (b->nbatch == 0 || bt->begin > at)
			return rx_fatal(b, bx_fail(err, -EPROTO, at,
						   "frame header announces %zu fd(s) but none "
						   "arrived with it",
						   n));
		if (bt->n != n)
			return rx_fatal(b, bx_fail(err, -EPROTO, at,
						   "frame header announces %zu fd(s) but %zu "
						   "arrived with it; closed",
						   n, bt->n));
		memcpy(b->cur_fds, bt->fds, n * sizeof(int));
		b->cur_nfds = n;
		b->nbatch--;
		memmove(&b->batch[0], &b->batch[1], b->nbatch * sizeof(b->batch[0]));
	}
	if (len > b->limit && !b->drop_oversized)
		return rx_fatal(b,
				bx_fail(err, -EMSGSIZE, at,
					"frame header announces %zu bytes, over the limit of %zu",
					len, b->limit));
	if (len > b->limit) {
		b->drop_left = len;
		b->dropped = len;
		len = 0;
	}
	b->payload = malloc(len + 1);
	if (!b->payload)
		return rx_fatal(b,
				bx_fail(err, -ENOMEM, at, "cannot allocate a %zu-byte frame", len));
	b->payload[len] = '\0';
	b->need = len;
	b->got = 0;
	return 0;
}

/* Reads more into rbuf (moving what is unparsed to its start first). */
static BEAM_MUST_CHECK int rxm_fill(bx_beam *b, bool nowait, bool *eof, bx_error *err)
{
	size_t got;
	int r;

	if (b->rb_start > 0) {
		memmove(b->rbuf, b->rbuf + b->rb_start, b->rb_end - b->rb_start);
		b->rb_end -= b->rb_start;
		b->rb_start = 0;
	}
	r = rxm_read(b, b->rbuf + b->rb_end, BEAM_RBUF - b->rb_end, true, nowait, &got, err);
	if (r < 0)
		return r;
	b->rb_end += got;
	*eof = got == 0;
	return 0;
}

static int rxm_eof(bx_beam *b, bx_error *err)
{
	if (!b->payload && b->rb_end == b->rb_start) {
		if (b->nbatch > 0)
			return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
						   "EOF with %zu fd(s) that no frame claimed",
						   b->batch[0].n));
		return 0;
	}
	if (!b->payload)
		return rx_fatal(b, bx_fail(err, -EBADMSG, rxm_parse_off(b),
					   "EOF inside a frame header (%zu of %u bytes)",
					   b->rb_end - b->rb_start, BEAM_HDR_LEN));
	return rx_fatal(b, bx_fail(err, -EBADMSG, b->frame_off,
				   "EOF inside a frame payload (%zu of %zu bytes)",
				   b->dropped ? b->dropped - b->drop_left : b->got,
				   b->dropped ? b->dropped : b->need));
}

static int rx_multi(bx_beam *b, bx_frame *out, bool nowait, bx_error *err)
{
	for (;;) {
		size_t avail = b->rb_end - b->rb_start, left;
		bool eof = false;
		int r;

		if (!b->payload) {
			if (avail >= BEAM_HDR_LEN) {
				const uint8_t *p = b->rbuf + b->rb_start;
				uint32_t h = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
					     (uint32_t)p[2] << 8 | (uint32_t)p[3];

				b->frame_off = rxm_parse_off(b);
				b->rb_start += BEAM_HDR_LEN;
				r = rxm_header(b, h, err);
				if (r < 0)
					return r;
				continue;
			}
			r = rxm_fill(b, nowait, &eof, err);
			if (r < 0)
				return r;
			if (eof)
				return rxm_eof(b, err);
			continue;
		}
		left = b->dropped ? b->drop_left : b->need - b->got;
		if (avail > 0 && left > 0) {
			size_t k = avail < left ? avail : left;

			if (b->dropped) {
				b->drop_left -= k;
			} else {
				memcpy(b->payload + b->got, b->rbuf + b->rb_start, k);
				b->got += k;
			}
			b->rb_start += k;
			left -= k;
		}
		if (left == 0) {
			out->data = b->payload;
			b->payload = NULL;
			out->len = b->need;
			out->dropped = b->dropped;
			out->nfds = b->cur_nfds;
			out->fd = b->cur_nfds > 0 ? b->cur_fds[0] : -1;
			for (size_t i = 1; i < b->cur_nfds; i++)
				out->more_fds[i - 1] = b->cur_fds[i];
			for (size_t i = 0; i < BX_BEAM_FDS_MAX; i++)
				b->cur_fds[i] = -1;
			b->cur_nfds = 0;
			b->dropped = 0;
			b->need = b->got = 0;
			if (b->rb_start == b->rb_end)
				b->rb_start = b->rb_end = 0;
			return 1;
		}
		if (left > BEAM_RBUF / 2) {
			/* Straight into place (or a sink), no control buffer: no header starts
			 * here. */
			uint8_t sink[4096];
			size_t got,
			    want = b->dropped ? (left < sizeof(sink) ? left : sizeof(sink)) : left;

			r = rxm_read(b, b->dropped ? sink : b->payload + b->got, want, false,
				     nowait, &got, err);
			if (r < 0)
				return r;
			if (got == 0)
				return rxm_eof(b, err);
			if (b->dropped)
				b->drop_left -= got;
			else
				b->got += got;
			continue;
		}
		r = rxm_fill(b, nowait, &eof, err);
		if (r < 0)
			return r;
		if (eof)
			return rxm_eof(b, err);
	}
}

BX_API int bx_beam_set_multi_fds(bx_beam *b, int on)
{
	if (!b)
		return -EINVAL;
	if (b->rx_error)
		return b->rx_error;
	if ((on != 0) == b->multi)
		return 0;
	if (on && b->fd_check)
		return -EINVAL; /* its fds are installed before any check could run */
	if (b->payload || b->parked || b->fd_cur >= 0 || b->fd_next >= 0 ||
	    (b->multi && (b->rb_end > b->rb_start || b->nbatch)))
		return -EBUSY;
	if (on) {
		if (!b->rbuf) {
			b->rbuf = malloc(BEAM_RBUF);
			if (!b->rbuf)
				return -ENOMEM;
		}
		/* Bytes of the next header already read move into the buffer. */
		memcpy(b->rbuf, b->hdr, b->hdr_got);
		b->rb_start = 0;
		b->rb_end = b->hdr_got;
		b->hdr_got = 0;
		b->carried = 0;
	}
	b->multi = on != 0;
	return 0;
}

BX_API size_t bx_beam_rx_buffered(const bx_beam *b)
{
	return b && b->multi ? b->rb_end - b->rb_start : 0;
}

BX_API int bx_beam_recv_nowait(bx_beam *b, bx_frame *out, bx_error *err)
{
	if (!b || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_beam_recv_nowait: NULL argument");
	if (!b->multi)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "bx_beam_recv_nowait: only with bx_beam_set_multi_fds");
	if (b->rx_error)
		return bx_fail(err, b->rx_error, b->rx_off,
			       "connection unusable after an earlier receive error");
	return rx_multi(b, out, true, err);
}

BX_API int bx_beam_recv(bx_beam *b, bx_frame *out, bx_error *err)
{
	if (!b || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_beam_recv: NULL argument");
	if (b->rx_error)
		return bx_fail(err, b->rx_error, b->rx_off,
			       "connection unusable after an earlier receive error");
	if (b->multi)
		return rx_multi(b, out, false, err);

	for (;;) {
		bool eof = false;
		int r;

		if (b->hdr_got == BEAM_HDR_LEN && !b->payload) {
			r = rx_header(b, err);
			if (r < 0)
				return r;
		}
		if (b->payload && b->got == b->need && b->drop_left == 0) {
			/* Complete; the next header may have begun in the same read. */
			out->data = b->payload;
			b->payload = NULL;
			out->len = b->need;
			out->fd = bx_steal_fd(&b->fd_cur);
			out->nfds = out->fd >= 0 ? 1 : 0;
			out->dropped = b->dropped;
			b->dropped = 0;
			b->fd_cur = bx_steal_fd(&b->fd_next);
			b->need = 0;
			b->got = 0;
			b->hdr_got = b->carried;
			b->frame_off = b->rx_off - b->carried;
			b->carried = 0;
			return 1;
		}
		r = rx_step(b, &eof, err);
		if (r < 0)
			return r;
		if (eof)
			return rx_eof(b, err);
	}
}

/* ------------------------------------------------------------------ send */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Writes iov[0..cnt) without waiting, advancing it. fds[0..*nfds) ride with
 * the first byte written, and *nfds is then set to 0 (they are not closed:
 * the caller owns them). Returns 0 when all is written, -EAGAIN when the
 * socket is full, or another -errno. *sent counts the bytes written, also on
 * failure, so the caller knows if a frame was cut.
 */
static BEAM_MUST_CHECK int tx_iov(int sock, struct iovec *iov, size_t cnt, const int *fds,
				  size_t *nfds, size_t *sent)
{
	while (cnt > 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(BX_BEAM_FDS_MAX * sizeof(int))];
		} ctl;
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cnt};
		ssize_t n;
		size_t left;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		if (*nfds > 0) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = CMSG_SPACE(*nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(*nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, *nfds * sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return -EAGAIN;
			return -e;
		}
		if (n == 0)
			return -EIO; /* a stream socket never takes 0 of a non-empty write */
		*nfds = 0;
		left = (size_t)n;
		*sent += left;
		while (left > 0) {
			if (left >= iov->iov_len) {
				left -= iov->iov_len;
				iov++;
				cnt--;
			} else {
				iov->iov_base = (uint8_t *)iov->iov_base + left;
				iov->iov_len -= left;
				left = 0;
			}
		}
	}
	return 0;
}

static void wake(int efd)
{
	uint64_t one = 1;

	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, which is all a waiter needs. */
	}
}

static void outframe_close_fds(struct bx_outframe *f)
{
	for (size_t i = 0; i < f->nfds; i++)
		bx_close_and_reset(&f->fds[i]);
	f->nfds = 0;
}

static void outframe_free(struct bx_outframe *f)
{
	if (!f)
		return;
	outframe_close_fds(f);
	free(f);
}

/* Drops every queued frame, waking their senders; called with tx_lock held. */
static void tx_drop_queue_locked(bx_beam *b)
{
	struct bx_outframe *f;

	while ((f = b->outq_head) != NULL) {
		b->outq_head = f->next;
		wake(f->waker);
		outframe_free(f);
	}
	b->outq_tail = NULL;
	b->outq_bytes = 0;
}

/*
 * Writes queued frames in order without waiting; called with tx_lock held.
 * A frame written completely wakes the sender waiting for it.
 */
static BEAM_MUST_CHECK int tx_drain_locked(bx_beam *b)
{
	while (b->outq_head) {
		struct bx_outframe *f = b->outq_head;
		struct iovec iov = {.iov_base = f->bytes + f->off, .iov_len = f->len - f->off};
		size_t pass = f->nfds, sent = 0;
		int r;

		r = tx_iov(b->sock, &iov, 1, f->fds, &pass, &sent);
		if (pass == 0)
			outframe_close_fds(f); /* the kernel holds its own references now */
		f->off += sent;
		b->outq_bytes -= sent;
		if (r < 0) {
			if (r != -EAGAIN) {
				/*
				 * The peer is gone (EPIPE) or framing is lost: nobody can
				 * send on this connection again.
				 */
				b->tx_error = r;
				tx_drop_queue_locked(b);
			}
			return r;
		}
		b->outq_head = f->next;
		if (!b->outq_head)
			b->outq_tail = NULL;
		b->tx_done_seq = f->seq;
		wake(f->waker);
		outframe_free(f);
	}
	return 0;
}

static void make_header(uint8_t hdr[BEAM_HDR_LEN], size_t len, size_t nfds, bool multi)
{
	uint32_t h = (uint32_t)len | (nfds > 0 ? BEAM_FD_BIT : 0);

	if (multi && nfds > 0)
		h |= (uint32_t)(nfds - 1) << BEAM_MULTI_COUNT_SHIFT;

	hdr[0] = (uint8_t)(h >> 24);
	hdr[1] = (uint8_t)(h >> 16);
	hdr[2] = (uint8_t)(h >> 8);
	hdr[3] = (uint8_t)h;
}

/* A queue entry for header+payload, of which skip bytes are already written. */
static BEAM_MUST_CHECK int outframe_new(const uint8_t hdr[BEAM_HDR_LEN], const void *buf,
					size_t len, size_t skip, const int *fds, size_t nfds,
					struct bx_outframe **out)
{
	struct bx_outframe *f;
	size_t total, size;

	if (__builtin_add_overflow(len, (size_t)BEAM_HDR_LEN, &total) ||
	    __builtin_add_overflow(total, sizeof(*f), &size))
		return -EMSGSIZE;
	f = malloc(size);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->seq = 0;
	f->len = total;
	f->off = skip;
	f->nfds = 0;
	f->waker = -1;
	for (size_t i = 0; i < nfds; i++) {
		/* Never 0..2: a process that closed stdio must not get our fd there. */
		f->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (f->fds[i] < 0) {
			int r = -errno;

			outframe_free(f);
			return r;
		}
		f->nfds = i + 1;
	}
	memcpy(f->bytes, hdr, BEAM_HDR_LEN);
	if (len > 0)
		memcpy(f->bytes + BEAM_HDR_LEN, buf, len);
	*out = f;
	return 0;
}

static void tx_append_locked(bx_beam *b, struct bx_outframe *f)
{
	f->seq = ++b->tx_seq;
	if (b->outq_tail)
		b->outq_tail->next = f;
	else
		b->outq_head = f;
	b->outq_tail = f;
	b->outq_bytes += f->len - f->off;
}

/* The queued frame with sequence number seq, and the one before it (NULL at the head). */
static struct bx_outframe *tx_find_locked(bx_beam *b, uint64_t seq, struct bx_outframe **prev)
{
	*prev = NULL;
	for (struct bx_outframe *f = b->outq_head; f; f = f->next) {
		if (f->seq == seq)
			return f;
		*prev = f;
	}
	return NULL;
}

static bool any_readable(const struct pollfd *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].revents)
			return true;
	return false;
}

/*
 * Gives up on frame seq (called with tx_lock held): a frame not yet begun
 * leaves the queue and the connection stays usable; a frame begun cannot be
 * finished by anyone, so the connection is cut (the peer sees EOF inside a
 * frame) and every other sender gets -ECONNABORTED.
 */
static int tx_give_up_locked(bx_beam *b, uint64_t seq, int code, int *cut)
{
	struct bx_outframe *prev, *f;

	if (b->tx_done_seq >= seq)
		return 0; /* finished meanwhile */
	if (b->tx_error)
		return b->tx_error;
	f = tx_find_locked(b, seq, &prev);
	if (!f)
		return b->tx_error ? b->tx_error : -EIO; /* cannot happen */
	if (f->off == 0) {
		if (prev)
			prev->next = f->next;
		else
			b->outq_head = f->next;
		if (b->outq_tail == f)
			b->outq_tail = prev;
		b->outq_bytes -= f->len;
		outframe_free(f);
		return code;
	}
	*cut = 1;
	b->tx_error = -ECONNABORTED;
	tx_drop_queue_locked(b);
	(void)shutdown(b->sock, SHUT_WR);
	return code;
}

/* Checks a frame to send; 0 or -errno. */
static int tx_check(const bx_beam *b, size_t len, const int *fds, size_t nfds)
{
	if (nfds > (b->multi ? BX_BEAM_FDS_MAX : 1u) || (nfds > 0 && !fds))
		return -EINVAL;
	if (len > (b->multi ? BX_BEAM_MULTI_WIRE_MAX : BX_BEAM_WIRE_MAX))
		return -EMSGSIZE;
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] < 0)
			return -EBADF;
	return 0;
}

BX_API int bx_beam_send_until(bx_beam *b, const void *buf, size_t len, int fd, int64_t deadline_ms,
			      const int *stop_fds, size_t nstop, int *cut)
{
	if (fd < -1) {
		if (cut)
			*cut = 0;
		return -EBADF;
	}
	return bx_beam_send_fds_until(b, buf, len, &fd, fd >= 0 ? 1 : 0, deadline_ms, stop_fds,
				      nstop, cut);
}

BX_API int bx_beam_send_fds_until(bx_beam *b, const void *buf, size_t len, const int *fds,
				  size_t nfds, int64_t deadline_ms, const int *stop_fds,
				  size_t nstop, int *cut)
{
	uint8_t hdr[BEAM_HDR_LEN];
	struct iovec iov[2];
	struct bx_outframe *f = NULL;
	int r, waker = -1, dummy = 0;
	size_t sent = 0, pass = nfds;
	uint64_t seq;

	if (!cut)
		cut = &dummy;
	*cut = 0;
	if (!b || (!buf && len > 0) || (nstop > 0 && !stop_fds) || nstop > BEAM_STOP_MAX)
		return -EINVAL;
	r = tx_check(b, len, fds, nfds);
	if (r < 0)
		return r;
	make_header(hdr, len, nfds, b->multi);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)buf;
	iov[1].iov_len = len;

	pthread_mutex_lock(&b->tx_lock);
	r = b->tx_error;
	if (r == 0 && !b->outq_head) {
		/* Nothing queued: write straight from the caller's buffer. */
		r = tx_iov(b->sock, iov, 2, fds, &pass, &sent);
		if (r < 0 && r != -EAGAIN && sent > 0) {
			b->tx_error = r;
			*cut = 1;
		}
	} else if (r == 0) {
		r = -EAGAIN;
	}
	if (r == -EAGAIN) {
		/* The rest waits in the queue; whoever finds the socket writable advances it. */
		r = outframe_new(hdr, buf, len, sent, fds, pass, &f);
		if (r == 0 && f) {
			f->waker = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (f->waker < 0) {
				r = errno ? -errno : -EMFILE;
				outframe_free(f);
				f = NULL;
			}
		}
		if (r < 0 && sent > 0) {
			/* Part of the frame left and the rest cannot follow: framing is lost. */
			b->tx_error = r;
			*cut = 1;
		}
		if (r == 0 && f) {
			waker = f->waker;
			tx_append_locked(b, f);
			seq = f->seq;
		}
	}
	pthread_mutex_unlock(&b->tx_lock);
	if (r != 0 || !f)
		return r;

	for (;;) {
		struct pollfd p[2 + BEAM_STOP_MAX];
		int64_t now;
		int timeout = -1, n;

		pthread_mutex_lock(&b->tx_lock);
		if (b->tx_done_seq >= seq) {
			r = 0;
		} else if (b->tx_error) {
			r = b->tx_error;
		} else {
			r = tx_drain_locked(b);
			if (b->tx_done_seq >= seq)
				r = 0;
			else if (b->tx_error)
				r = b->tx_error;
			else if (r == 0 || r == -EAGAIN)
				r = 1; /* keep waiting */
		}
		pthread_mutex_unlock(&b->tx_lock);
		if (r <= 0)
			break;

		p[0] = (struct pollfd){.fd = b->sock, .events = POLLOUT};
		p[1] = (struct pollfd){.fd = waker, .events = POLLIN};
		for (size_t i = 0; i < nstop; i++)
			p[2 + i] = (struct pollfd){.fd = stop_fds[i], .events = POLLIN};
		now = mono_ms();
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms > now ? deadline_ms - now : 0;

			timeout = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(p, (nfds_t)(2 + nstop), timeout);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			pthread_mutex_lock(&b->tx_lock);
			r = tx_give_up_locked(b, seq, r, cut);
			pthread_mutex_unlock(&b->tx_lock);
			break;
		}
		if (p[1].revents) {
			uint64_t v;

			if (read(waker, &v, sizeof(v)) < 0) {
				/* EAGAIN: someone else's wake-up raced ours; the state says more.
				 */
			}
		}
		if (n > 0 && any_readable(p + 2, nstop)) {
			pthread_mutex_lock(&b->tx_lock);
			r = tx_give_up_locked(b, seq, -ECANCELED, cut);
			pthread_mutex_unlock(&b->tx_lock);
			break;
		}
		if (deadline_ms >= 0 && mono_ms() >= deadline_ms) {
			pthread_mutex_lock(&b->tx_lock);
			/* One last try: the peer may have read just now. */
			if (b->tx_done_seq < seq && !b->tx_error)
				bx_ignore(tx_drain_locked(b));
			r = tx_give_up_locked(b, seq, -ETIMEDOUT, cut);
			pthread_mutex_unlock(&b->tx_lock);
			break;
		}
	}
	close(waker);
	return r;
}

BX_API int bx_beam_send(bx_beam *b, const void *buf, size_t len, int fd)
{
	return bx_beam_send_until(b, buf, len, fd, -1, NULL, 0, NULL);
}

BX_API int bx_beam_queue(bx_beam *b, const void *buf, size_t len, int fd)
{
	uint8_t hdr[BEAM_HDR_LEN];
	struct bx_outframe *f = NULL;
	size_t nfds = fd >= 0 ? 1 : 0;
	int r;

	if (!b || (!buf && len > 0))
		return -EINVAL;
	if (fd < -1)
		return -EBADF;
	r = tx_check(b, len, &fd, nfds);
	if (r < 0)
		return r;
	make_header(hdr, len, nfds, b->multi);
	r = outframe_new(hdr, buf, len, 0, &fd, nfds, &f);
	if (r < 0)
		return r;

	pthread_mutex_lock(&b->tx_lock);
	r = b->tx_error;
	if (r == 0 && f) {
		tx_append_locked(b, f);
		f = NULL;
	}
	pthread_mutex_unlock(&b->tx_lock);
	if (f)
		outframe_free(f);
	return r;
}

BX_API int bx_beam_flush(bx_beam *b)
{
	int r;

	if (!b)
		return -EINVAL;
	pthread_mutex_lock(&b->tx_lock);
	r = b->tx_error;
	if (r == 0)
		r = tx_drain_locked(b);
	pthread_mutex_unlock(&b->tx_lock);
	return r;
}

BX_API size_t bx_beam_pending(const bx_beam *b)
{
	/* The lock is logically mutable; the object itself is never const. */
	pthread_mutex_t *lock;
	size_t n;

	if (!b)
		return 0;
	lock = (pthread_mutex_t *)&b->tx_lock;
	pthread_mutex_lock(lock);
	n = b->outq_bytes;
	pthread_mutex_unlock(lock);
	return n;
}

BX_API int bx_beam_shutdown_write(bx_beam *b)
{
	int r;

	if (!b)
		return -EINVAL;
	/* The peer must see the queued frames before the EOF: wait, never holding the lock. */
	for (;;) {
		struct pollfd p = {.fd = b->sock, .events = POLLOUT};

		pthread_mutex_lock(&b->tx_lock);
		r = b->tx_error;
		if (r == 0)
			r = tx_drain_locked(b);
		if (r != -EAGAIN) {
			if (shutdown(b->sock, SHUT_WR) < 0 && r == 0)
				r = -errno;
			pthread_mutex_unlock(&b->tx_lock);
			return r;
		}
		pthread_mutex_unlock(&b->tx_lock);
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

BX_API void bx_beam_free(bx_beam *b)
{
	if (!b)
		return;
	rx_drop(b);
	free(b->rbuf);
	tx_drop_queue_locked(b);
	pthread_mutex_destroy(&b->tx_lock);
	bx_close_and_reset(&b->sock);
	free(b);
}
