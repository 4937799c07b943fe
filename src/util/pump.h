/* SPDX-License-Identifier: MIT */
/*
 * Moving bytes between fds without ever blocking on one of them: what the
 * proxy uses to copy a job's streams (captures, relays of a caller's
 * terminal or file, an original worker's pipes) and what bx_relay_stdio_fork
 * uses for a whole process's stdio. Every read and write either makes
 * progress or says EAGAIN, so the poll loop around it keeps its deadlines.
 */
#ifndef BX_UTIL_PUMP_H
#define BX_UTIL_PUMP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * One end of a pump, used without ever blocking: our own pipe ends are
 * non-blocking; a caller's terminal or pipe is reopened non-blocking through
 * /proc/self/fd (a new open file description, so that the caller's flags
 * stay untouched); a socket is used with MSG_DONTWAIT; regular files and
 * block devices do not block for long. Only if a reopen fails is a
 * blocking fd used as is ("guarded": only after poll, in small pieces).
 */
struct bx_endpoint {
	int fd;	    /* -1: none */
	bool owned; /* ours to close */
	bool sock;  /* use send/recv with MSG_DONTWAIT */
	bool guarded;
};

#define BX_GUARDED_CHUNK 512

/*
 * Bytes moved for one stream: from src to dst, or from src into a bounded
 * capture, or from src into nothing (dst none). For a job, [1] and [2] are
 * the worker's output (src: our pipe end), [0] its input (dst: our pipe end).
 */
struct bx_pump {
	struct bx_endpoint src, dst;
	bool active;  /* set up for this job */
	bool input;   /* [0]: when dst (the worker's stdin) is gone, stop reading src */
	bool capture; /* into buf, at most max bytes */
	size_t max;
	char *buf;
	size_t len;
	bool truncated;
	bool src_eof;
	/*
	 * Read from src, not yet written to dst: BX_PUMP_BUF bytes allocated on
	 * the first copy (a capture reads straight into buf, a pump that never
	 * moves a byte costs nothing), freed by bx_pump_close.
	 */
	char *pending;
	size_t pending_off, pending_len;
};

#define BX_PUMP_BUF ((size_t)65536)

/* Reads per pump_run call (1 MiB) before the poll loop checks its deadlines again. */
#define BX_PUMP_BATCH 16

void bx_ep_init(struct bx_endpoint *ep);
/* ep owns fd (non-blocking, ours): it closes it. */
void bx_ep_own(struct bx_endpoint *ep, int fd);
void bx_ep_close(struct bx_endpoint *ep);
/* An endpoint on a caller's fd (borrowed), for reading or for writing; see struct bx_endpoint. */
void bx_ep_open_caller(struct bx_endpoint *ep, int fd, bool for_write);
/* read()/write() that never block: -1 with errno EAGAIN when the fd is not ready. */
ssize_t bx_ep_read(const struct bx_endpoint *ep, void *buf, size_t len);
ssize_t bx_ep_write(const struct bx_endpoint *ep, const void *buf, size_t len);
/* write() that never raises SIGPIPE in the caller's process (EPIPE instead). */
ssize_t bx_write_nosigpipe(int fd, const void *buf, size_t len);
/* Whether fd polls ready for events now. */
bool bx_fd_ready(int fd, short events);

void bx_pump_init(struct bx_pump *p);
/* Closes what the pump owns, frees its copy buffer and marks it finished. */
void bx_pump_close(struct bx_pump *p);
bool bx_pump_done(const struct bx_pump *p);
/*
 * Moves what can be moved now. Returns 0 when the pump is finished (src at
 * its end and everything delivered, or the destination gone for an input
 * pump), 1 when it waits for src or dst, or -errno when reading src fails.
 */
int bx_pump_run(struct bx_pump *p) __attribute__((warn_unused_result));
/* What the pump waits for: src readable or dst writable. */
struct pollfd bx_pump_pollfd(const struct bx_pump *p);

#endif
