/* SPDX-License-Identifier: MIT */
/* Non-blocking endpoints and pumps (see pump.h). */
#define _GNU_SOURCE
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

void bx_ep_init(struct bx_endpoint *ep)
{
	*ep = (struct bx_endpoint){.fd = -1};
}

void bx_ep_own(struct bx_endpoint *ep, int fd)
{
	*ep = (struct bx_endpoint){.fd = fd, .owned = true};
}

void bx_ep_close(struct bx_endpoint *ep)
{
	if (ep->owned)
		bx_close_and_reset(&ep->fd);
	bx_ep_init(ep);
}

/* An endpoint on a caller's fd (borrowed), for reading or for writing. */
void bx_ep_open_caller(struct bx_endpoint *ep, int fd, bool for_write)
{
	struct stat st;
	char path[40];
	int fl, nfd;

	bx_ep_init(ep);
	ep->fd = fd;
	if (fstat(fd, &st) < 0)
		return; /* the I/O will report it */
	if (S_ISSOCK(st.st_mode)) {
		ep->sock = true;
		return;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, (for_write ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0) {
		bx_ep_own(ep, nfd);
		return;
	}
	ep->guarded = true;
}

/*
 * write() to an fd the worker gave us (a pipe or socket it may have closed)
 * or to a caller's pipe without letting SIGPIPE kill the parent: SIGPIPE is
 * blocked in this thread for the call, and one it raised is taken back off
 * the pending set.
 */
ssize_t bx_write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending) {
		const struct timespec zero = {0, 0};

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

bool bx_fd_ready(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, 0) > 0;
}

/* read() that never blocks: -1 with errno EAGAIN when nothing is there. */
ssize_t bx_ep_read(const struct bx_endpoint *ep, void *buf, size_t len)
{
	if (ep->sock)
		return recv(ep->fd, buf, len, MSG_DONTWAIT);
	if (ep->guarded) {
		if (!bx_fd_ready(ep->fd, POLLIN)) {
			errno = EAGAIN;
			return -1;
		}
	}
	return read(ep->fd, buf, len);
}

ssize_t bx_ep_write(const struct bx_endpoint *ep, const void *buf, size_t len)
{
	if (ep->sock)
		return send(ep->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (ep->guarded) {
		if (!bx_fd_ready(ep->fd, POLLOUT)) {
			errno = EAGAIN;
			return -1;
		}
		if (len > BX_GUARDED_CHUNK)
			len = BX_GUARDED_CHUNK;
	}
	return bx_write_nosigpipe(ep->fd, buf, len);
}

void bx_pump_init(struct bx_pump *p)
{
	memset(p, 0, sizeof(*p));
	bx_ep_init(&p->src);
	bx_ep_init(&p->dst);
}

void bx_pump_close(struct bx_pump *p)
{
	bx_ep_close(&p->src);
	bx_ep_close(&p->dst);
	free(p->pending);
	p->pending = NULL;
	p->pending_off = p->pending_len = 0;
	p->active = false;
}

bool bx_pump_done(const struct bx_pump *p)
{
	return !p->active;
}

/*
 * Moves what can be moved now. Returns 0 when the pump is finished (src at
 * its end and everything delivered, or the destination gone for input), 1
 * when it waits for src or dst, or -errno when reading src fails.
 */
int bx_pump_run(struct bx_pump *p)
{
	for (int k = 0; k < BX_PUMP_BATCH; k++) {
		if (p->pending_off == p->pending_len) {
			char sink[4096];
			ssize_t n;

			if (p->src_eof || p->src.fd < 0) {
				bx_pump_close(p);
				return 0;
			}
			if (p->capture) {
				/* Straight into the capture; past its end into a sink, dropped. */
				size_t room = p->max - p->len;

				n = room ? bx_ep_read(&p->src, p->buf + p->len, room)
					 : bx_ep_read(&p->src, sink, sizeof(sink));
				if (n > 0 && room)
					p->len += (size_t)n;
				else if (n > 0)
					p->truncated = true;
			} else if (p->dst.fd < 0) {
				n = bx_ep_read(&p->src, sink, sizeof(sink)); /* nobody wants it */
			} else {
				if (!p->pending) {
					p->pending = malloc(BX_PUMP_BUF);
					if (!p->pending)
						return -ENOMEM;
				}
				n = bx_ep_read(&p->src, p->pending, BX_PUMP_BUF);
			}
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 1;
				return -errno;
			}
			if (n == 0) {
				p->src_eof = true;
				continue;
			}
			if (p->capture || p->dst.fd < 0)
				continue; /* kept (bounded) or drained and dropped */
			p->pending_off = 0;
			p->pending_len = (size_t)n;
		}
		ssize_t w = bx_ep_write(&p->dst, p->pending + p->pending_off,
					p->pending_len - p->pending_off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			if (p->input) {
				/* The worker closed its stdin: nothing more to give it. */
				bx_pump_close(p);
				return 0;
			}
			/* The caller's destination is gone: stop writing, keep draining. */
			p->truncated = p->pending_len > p->pending_off;
			bx_ep_close(&p->dst);
			p->pending_off = p->pending_len = 0;
			continue;
		}
		p->pending_off += (size_t)w;
	}
	return 1;
}

/* What the pump waits for: src readable or dst writable. */
struct pollfd bx_pump_pollfd(const struct bx_pump *p)
{
	if (p->pending_off < p->pending_len && p->dst.fd >= 0)
		return (struct pollfd){.fd = p->dst.fd, .events = POLLOUT};
	return (struct pollfd){.fd = p->src.fd, .events = POLLIN};
}
