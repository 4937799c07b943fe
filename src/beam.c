/* SPDX-License-Identifier: MIT */
/*
 * beam: frames with optional fds over a unix stream socket, byte-compatible
 * with Docker 1.0's pkg/beam (the contract is in include/beambox/beam.h).
 *
 * Receiving is a resumable state machine so that one implementation serves
 * blocking sockets and poll loops alike. It never asks the kernel for more
 * bytes than the current frame still needs: fds travel with the byte they
 * were sent with, so reading exact lengths keeps fds next to the frame they
 * belong to, as the original receiver did.
 *
 * Sending holds a per-connection mutex for a whole frame so that concurrent
 * senders cannot interleave (the original could).
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
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

#define BEAM_HDR_LEN  4u
#define BEAM_FD_BIT   0x80000000u
#define BEAM_LEN_MASK 0x7fffffffu

/*
 * fds one recvmsg can take. A frame carries at most one, but a buffer for a
 * single fd would let the kernel drop the rest behind MSG_CTRUNC; with room
 * for several we see exactly what a hostile peer sent and close it.
 */
#define BEAM_CMSG_FDS 8

#define BEAM_MUST_CHECK __attribute__((warn_unused_result))

/* One frame waiting in the outbound queue, header included. */
struct bx_outframe {
	struct bx_outframe *next;
	size_t len; /* header + payload */
	size_t off; /* bytes already written */
	int fd;	    /* our duplicate; closed once it rode out with the first byte */
	uint8_t bytes[];
};

struct bx_beam {
	int sock;
	size_t limit;

	/* Receive side: one reader at a time (documented), so no lock. */
	int rx_error;	  /* sticky fatal error, 0 while usable */
	size_t rx_off;	  /* stream offset read so far, for error reports */
	size_t frame_off; /* stream offset of the current frame's header */
	uint8_t hdr[BEAM_HDR_LEN];
	size_t hdr_got;
	uint8_t *payload; /* allocated once the header is complete */
	size_t need;
	size_t got;
	int cur_fd; /* the fd claimed by the current frame's header */
	/* bx_beam_set_drop_oversized: an over-limit payload is read and dropped. */
	bool drop_oversized;
	size_t drop_left; /* bytes of the current payload still to drop */
	size_t dropped;	  /* the current frame's dropped length */
	int fdq[BX_BEAM_FDQ_MAX];
	size_t fdq_head;
	size_t fdq_len;

	/* Send side: everything below is under tx_lock. */
	pthread_mutex_t tx_lock;
	int tx_error; /* sticky: a frame was cut short, the peer's framing is lost */
	struct bx_outframe *outq_head;
	struct bx_outframe *outq_tail;
	size_t outq_bytes;
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
	b->cur_fd = -1;
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

BX_API void bx_frame_clear(bx_frame *f)
{
	if (!f)
		return;
	free(f->data);
	f->data = NULL;
	f->len = 0;
	f->dropped = 0;
	bx_close_and_reset(&f->fd);
}

/* ------------------------------------------------------------------ receive */

static void rx_close_queue(bx_beam *b)
{
	while (b->fdq_len > 0) {
		close(b->fdq[b->fdq_head]);
		b->fdq_head = (b->fdq_head + 1) % BX_BEAM_FDQ_MAX;
		b->fdq_len--;
	}
	b->fdq_head = 0;
}

/* Drops the partial frame and every fd the connection holds. */
static void rx_drop(bx_beam *b)
{
	free(b->payload);
	b->payload = NULL;
	b->need = 0;
	b->got = 0;
	b->hdr_got = 0;
	b->drop_left = 0;
	b->dropped = 0;
	bx_close_and_reset(&b->cur_fd);
	rx_close_queue(b);
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

static void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * Moves the fds of one recvmsg into the queue. The kernel hands over the
 * fds of at most one sendmsg per recvmsg, and a beam sender attaches one fd
 * per frame, so anything else is a peer that does not speak the protocol.
 */
static BEAM_MUST_CHECK int rx_take_fds(bx_beam *b, struct msghdr *msg, bx_error *err)
{
	int fds[BEAM_CMSG_FDS];
	size_t nfds = 0, extra = 0;
	int bad_level = 0, bad_type = 0;
	bool bad_cmsg = false;
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0)) {
			if (!bad_cmsg) {
				bad_level = c->cmsg_level;
				bad_type = c->cmsg_type;
			}
			bad_cmsg = true;
			continue;
		}
		n = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (nfds < BEAM_CMSG_FDS)
				fds[nfds++] = fd;
			else {
				/* Cannot happen with our buffer size; never leak regardless. */
				close(fd);
				extra++;
			}
		}
	}

	if (msg->msg_flags & MSG_CTRUNC) {
		close_fds(fds, nfds);
		return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
					   "recvmsg: control data truncated (MSG_CTRUNC): the peer "
					   "sent more than %d fds at once",
					   BEAM_CMSG_FDS));
	}
	if (bad_cmsg) {
		close_fds(fds, nfds);
		return rx_fatal(b,
				bx_fail(err, -EPROTO, b->rx_off,
					"recvmsg: unexpected control message (level %d, type %d)",
					bad_level, bad_type));
	}
	if (nfds + extra > 1) {
		close_fds(fds, nfds);
		return rx_fatal(
		    b, bx_fail(err, -EPROTO, b->rx_off,
			       "recvmsg: %zu fds in one message, a frame carries at most one",
			       nfds + extra));
	}
	if (nfds == 1) {
		if (b->fdq_len == BX_BEAM_FDQ_MAX) {
			close(fds[0]);
			return rx_fatal(b, bx_fail(err, -EPROTO, b->rx_off,
						   "fd queue overflow: more than %d fds arrived "
						   "without a frame claiming them",
						   BX_BEAM_FDQ_MAX));
		}
		b->fdq[(b->fdq_head + b->fdq_len) % BX_BEAM_FDQ_MAX] = fds[0];
		b->fdq_len++;
	}
	return 0;
}

/* One recvmsg of at most want bytes into dst; *got = 0 means EOF. */
static BEAM_MUST_CHECK int rx_chunk(bx_beam *b, uint8_t *dst, size_t want, size_t *got,
				    bx_error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * BEAM_CMSG_FDS)];
	} ctl;
	struct iovec iov = {.iov_base = dst, .iov_len = want};
	struct msghdr msg = {
	    .msg_iov = &iov,
	    .msg_iovlen = 1,
	    .msg_control = ctl.buf,
	    .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n;
	int r;

	n = recvmsg(b->sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK)
			return bx_fail(err, -EAGAIN, b->rx_off, "recvmsg: no complete frame yet");
		if (e == EINTR)
			return bx_fail(err, -EINTR, b->rx_off, "recvmsg: interrupted");
		return rx_fatal(
		    b, bx_fail(err, -e, b->rx_off, "recvmsg(beam socket): %s", strerror(e)));
	}
	r = rx_take_fds(b, &msg, err);
	if (r < 0)
		return r;
	b->rx_off += (size_t)n;
	*got = (size_t)n;
	return 0;
}

/* The header is complete: validate it before committing any memory. */
static BEAM_MUST_CHECK int rx_header(bx_beam *b, bx_error *err)
{
	uint32_t h = (uint32_t)b->hdr[0] << 24 | (uint32_t)b->hdr[1] << 16 |
		     (uint32_t)b->hdr[2] << 8 | (uint32_t)b->hdr[3];
	size_t len = (size_t)(h & BEAM_LEN_MASK);

	if (len > b->limit && !b->drop_oversized)
		return rx_fatal(b,
				bx_fail(err, -EMSGSIZE, b->frame_off,
					"frame header announces %zu bytes, over the limit of %zu",
					len, b->limit));
	if (h & BEAM_FD_BIT) {
		if (b->fdq_len == 0)
			return rx_fatal(b, bx_fail(err, -EPROTO, b->frame_off,
						   "frame header asks for an fd but none arrived"));
		b->cur_fd = b->fdq[b->fdq_head];
		b->fdq_head = (b->fdq_head + 1) % BX_BEAM_FDQ_MAX;
		b->fdq_len--;
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
		size_t left = b->fdq_len;

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

BX_API int bx_beam_recv(bx_beam *b, bx_frame *out, bx_error *err)
{
	if (!b || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_beam_recv: NULL argument");
	if (b->rx_error)
		return bx_fail(err, b->rx_error, b->rx_off,
			       "connection unusable after an earlier receive error");

	for (;;) {
		uint8_t scratch[4096];
		uint8_t *dst;
		size_t want, n = 0;
		int r;

		if (b->hdr_got < BEAM_HDR_LEN) {
			dst = b->hdr + b->hdr_got;
			want = BEAM_HDR_LEN - b->hdr_got;
		} else if (b->drop_left > 0) {
			dst = scratch;
			want = b->drop_left < sizeof(scratch) ? b->drop_left : sizeof(scratch);
		} else if (b->got < b->need) {
			dst = b->payload + b->got;
			want = b->need - b->got;
		} else {
			out->data = b->payload;
			b->payload = NULL;
			out->len = b->need;
			out->fd = bx_steal_fd(&b->cur_fd);
			out->dropped = b->dropped;
			b->dropped = 0;
			b->hdr_got = 0;
			b->need = 0;
			b->got = 0;
			b->frame_off = b->rx_off;
			return 1;
		}

		r = rx_chunk(b, dst, want, &n, err);
		if (r < 0)
			return r;
		if (n == 0)
			return rx_eof(b, err);
		if (b->hdr_got < BEAM_HDR_LEN) {
			b->hdr_got += n;
			if (b->hdr_got == BEAM_HDR_LEN) {
				r = rx_header(b, err);
				if (r < 0)
					return r;
			}
		} else if (b->drop_left > 0) {
			b->drop_left -= n;
		} else {
			b->got += n;
		}
	}
}

/* ------------------------------------------------------------------ send */

static BEAM_MUST_CHECK int tx_wait_writable(int sock)
{
	struct pollfd p = {.fd = sock, .events = POLLOUT};

	/* POLLERR/POLLHUP also end the wait; the next sendmsg reports why. */
	while (poll(&p, 1, -1) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/*
 * Writes iov[0..cnt), advancing it. *fd (if >= 0) rides with the first byte
 * written and is then set to -1 (not closed: the caller owns it). wait says
 * whether to sit in poll() on EAGAIN or to return -EAGAIN. *sent counts the
 * bytes written, also on failure, so the caller knows if a frame was cut.
 */
static BEAM_MUST_CHECK int tx_iov(int sock, struct iovec *iov, size_t cnt, int *fd, bool wait,
				  size_t *sent)
{
	while (cnt > 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cnt};
		ssize_t n;
		size_t left;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		if (*fd >= 0) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), fd, sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | (wait ? 0 : MSG_DONTWAIT));
		if (n < 0) {
			int e = errno, r;

			if (e == EINTR)
				continue;
			if (e != EAGAIN && e != EWOULDBLOCK)
				return -e;
			if (!wait)
				return -EAGAIN;
			r = tx_wait_writable(sock);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return -EIO; /* a stream socket never takes 0 of a non-empty write */
		*fd = -1;
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

/* Writes queued frames in order; called with tx_lock held. */
static BEAM_MUST_CHECK int tx_drain_locked(bx_beam *b, bool wait)
{
	while (b->outq_head) {
		struct bx_outframe *f = b->outq_head;
		struct iovec iov = {.iov_base = f->bytes + f->off, .iov_len = f->len - f->off};
		int pass = f->fd;
		size_t sent = 0;
		int r;

		r = tx_iov(b->sock, &iov, 1, &pass, wait, &sent);
		if (pass < 0)
			bx_close_and_reset(&f->fd); /* the kernel holds its own reference now */
		f->off += sent;
		b->outq_bytes -= sent;
		if (r < 0) {
			if (r != -EAGAIN && f->off > 0)
				b->tx_error = r;
			return r;
		}
		b->outq_head = f->next;
		if (!b->outq_head)
			b->outq_tail = NULL;
		free(f);
	}
	return 0;
}

static void make_header(uint8_t hdr[BEAM_HDR_LEN], size_t len, int fd)
{
	uint32_t h = (uint32_t)len | (fd >= 0 ? BEAM_FD_BIT : 0);

	hdr[0] = (uint8_t)(h >> 24);
	hdr[1] = (uint8_t)(h >> 16);
	hdr[2] = (uint8_t)(h >> 8);
	hdr[3] = (uint8_t)h;
}

BX_API int bx_beam_send(bx_beam *b, const void *buf, size_t len, int fd)
{
	uint8_t hdr[BEAM_HDR_LEN];
	struct iovec iov[2];
	int pass = fd, r;
	size_t sent = 0;

	if (!b || (!buf && len > 0))
		return -EINVAL;
	if (len > BX_BEAM_WIRE_MAX)
		return -EMSGSIZE;
	if (fd < -1)
		return -EBADF;
	make_header(hdr, len, fd);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)buf;
	iov[1].iov_len = len;

	pthread_mutex_lock(&b->tx_lock);
	r = b->tx_error;
	if (r == 0)
		r = tx_drain_locked(b, true);
	if (r == 0) {
		r = tx_iov(b->sock, iov, 2, &pass, true, &sent);
		if (r < 0 && sent > 0)
			b->tx_error = r;
	}
	pthread_mutex_unlock(&b->tx_lock);
	return r;
}

BX_API int bx_beam_queue(bx_beam *b, const void *buf, size_t len, int fd)
{
	struct bx_outframe *f;
	size_t total, size;
	int r;

	if (!b || (!buf && len > 0))
		return -EINVAL;
	if (len > BX_BEAM_WIRE_MAX)
		return -EMSGSIZE;
	if (fd < -1)
		return -EBADF;
	if (__builtin_add_overflow(len, (size_t)BEAM_HDR_LEN, &total) ||
	    __builtin_add_overflow(total, sizeof(*f), &size))
		return -EMSGSIZE;
	f = malloc(size);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->len = total;
	f->off = 0;
	f->fd = -1;
	if (fd >= 0) {
		/* Never 0..2: a process that closed stdio must not get our fd there. */
		f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (f->fd < 0) {
			r = -errno;
			free(f);
			return r;
		}
	}
	make_header(f->bytes, len, fd);
	if (len > 0)
		memcpy(f->bytes + BEAM_HDR_LEN, buf, len);

	pthread_mutex_lock(&b->tx_lock);
	r = b->tx_error;
	if (r == 0) {
		if (b->outq_tail)
			b->outq_tail->next = f;
		else
			b->outq_head = f;
		b->outq_tail = f;
		b->outq_bytes += total;
		f = NULL;
	}
	pthread_mutex_unlock(&b->tx_lock);
	if (f) {
		bx_close_and_reset(&f->fd);
		free(f);
	}
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
		r = tx_drain_locked(b, false);
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
	pthread_mutex_lock(&b->tx_lock);
	/* The peer must see the queued frames before the EOF. */
	r = b->tx_error;
	if (r == 0)
		r = tx_drain_locked(b, true);
	if (shutdown(b->sock, SHUT_WR) < 0 && r == 0)
		r = -errno;
	pthread_mutex_unlock(&b->tx_lock);
	return r;
}

BX_API void bx_beam_free(bx_beam *b)
{
	struct bx_outframe *f;

	if (!b)
		return;
	rx_drop(b);
	while ((f = b->outq_head) != NULL) {
		b->outq_head = f->next;
		bx_close_and_reset(&f->fd);
		free(f);
	}
	pthread_mutex_destroy(&b->tx_lock);
	bx_close_and_reset(&b->sock);
	free(b);
}
