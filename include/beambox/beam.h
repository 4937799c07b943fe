/* SPDX-License-Identifier: MIT */
/*
 * beam: framed messages with optional file descriptors over a unix stream
 * socket, byte-compatible with Docker 1.0's pkg/beam.
 *
 * A frame is a 4-byte big-endian header whose low 31 bits are the payload
 * length and whose top bit says that one fd is attached, then the payload.
 * The fd travels by SCM_RIGHTS together with the header's first byte.
 *
 * Hardened against a hostile peer: the length is checked against a
 * per-connection limit before anything is allocated; fds are received with
 * MSG_CMSG_CLOEXEC into a small bounded queue (the kernel may deliver a
 * frame's fd with the last bytes of the previous frame), each given to the
 * next frame whose header asks for one; fds left over at EOF or at a
 * protocol error are closed. No received fd is leaked on any path.
 */
#ifndef BEAMBOX_BEAM_H
#define BEAMBOX_BEAM_H

#include <stddef.h>
#include <stdint.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest payload the wire format can express. */
#define BX_BEAM_WIRE_MAX 0x7fffffffu
/* Default receive limit per connection. */
#define BX_BEAM_DEFAULT_LIMIT ((size_t)1024 * 1024)
/* Fds that may wait in a connection's queue for the frame that claims them. */
#define BX_BEAM_FDQ_MAX 4

typedef struct bx_beam bx_beam;

/*
 * A received frame. The receiver owns data (free()) and fd (close(), -1 if none).
 * data is never NULL, even when len is 0, and data[len] is an extra NUL byte
 * (not counted in len) so that text payloads can be used as C strings.
 */
typedef struct bx_frame {
	uint8_t *data;
	size_t len;
	int fd;
	/*
	 * With bx_beam_set_drop_oversized: the announced length of a payload over
	 * the limit, which was read and dropped (data is then empty, len 0). Else 0.
	 */
	size_t dropped;
} bx_frame;

/*
 * Wraps a connected AF_UNIX SOCK_STREAM socket. On success the connection
 * owns sock (it is closed by bx_beam_free); on failure the caller still owns it.
 * Returns 0, -EINVAL (out is NULL), -EBADF, -ENOTSOCK, -EPROTOTYPE (not a
 * unix stream socket), -ENOMEM.
 */
BX_API BX_MUST_CHECK int bx_beam_new(int sock, bx_beam **out);

/* Closes the socket and every queued fd and frees the connection. NULL is fine. */
BX_API void bx_beam_free(bx_beam *b);

/* The socket, for poll(). Still owned by the connection. */
BX_API int bx_beam_fd(const bx_beam *b);

/* Sets the largest payload bx_beam_recv accepts (1 .. BX_BEAM_WIRE_MAX). */
BX_API BX_MUST_CHECK int bx_beam_set_limit(bx_beam *b, size_t max_payload);

/*
 * For a trusted peer (a worker reading its parent): a frame whose payload is
 * over the limit no longer ends the connection. Its payload is read and
 * dropped as it arrives (never allocated), and bx_beam_recv returns it as a
 * frame with an empty payload, the fd it carried, and out->dropped set to the
 * announced length, so that the receiver can refuse it and go on.
 */
BX_API BX_MUST_CHECK int bx_beam_set_drop_oversized(bx_beam *b, int on);

/*
 * Shuts down the writing side (the peer sees EOF after the queued frames:
 * this first waits, like bx_beam_send, until the outbound queue is written).
 */
BX_API BX_MUST_CHECK int bx_beam_shutdown_write(bx_beam *b);

/*
 * Sends one frame, blocking until all of it is written (it waits in poll()
 * if the socket is non-blocking). fd is -1 or an fd to pass; the caller keeps
 * ownership of it (the kernel passes a duplicate). Frames from concurrent
 * threads never interleave. Never raises SIGPIPE.
 * Returns 0, -EMSGSIZE (len > BX_BEAM_WIRE_MAX), -EPIPE (peer gone), -errno
 * (-EBADF for fd < -1 or a closed fd; nothing is written then).
 * If an error cuts a frame short, the peer's framing is lost and every later
 * send, queue and flush returns the same error.
 */
BX_API BX_MUST_CHECK int bx_beam_send(bx_beam *b, const void *buf, size_t len, int fd);

/*
 * Receives one frame. Works on blocking and non-blocking sockets: on a
 * non-blocking one, a partial frame is kept in the connection and -EAGAIN is
 * returned; call again when poll() says the socket is readable.
 * Not for concurrent use by several threads on one connection.
 * Returns:
 *   1          a frame in *out (caller owns out->data and out->fd)
 *   0          clean EOF at a frame boundary (nothing queued)
 *   -EAGAIN    non-blocking and no complete frame yet
 *   -EMSGSIZE  the header announces more than the limit (nothing allocated;
 *              see bx_beam_set_drop_oversized)
 *   -EBADMSG   EOF inside a frame (truncated)
 *   -EPROTO    fd protocol violation: a header asks for an fd and none
 *              arrived, more fds than the queue holds, more than one fd in
 *              one message, truncated control data (MSG_CTRUNC), unexpected
 *              control messages (e.g. SCM_CREDENTIALS when SO_PASSCRED is
 *              set), or fds left over at EOF
 *   -EINTR     a signal interrupted a blocking read; the partial frame is
 *              kept, call again
 *   -errno     from the kernel
 * After any negative return other than -EAGAIN/-EINTR the connection is
 * unusable (framing is lost), all queued fds have been closed, and later
 * calls return the same error without reading. err (may be NULL) says why,
 * with the stream offset of the frame or byte at fault.
 */
BX_API BX_MUST_CHECK int bx_beam_recv(bx_beam *b, bx_frame *out, bx_error *err);

/* Frees a frame's data and closes its fd; leaves it empty. NULL is fine. */
BX_API void bx_frame_clear(bx_frame *f);

/*
 * Non-blocking sending for poll loops: bx_beam_queue appends a frame to the
 * connection's outbound queue (duplicating fd with F_DUPFD_CLOEXEC; the caller
 * keeps its own), and bx_beam_flush writes as much as the socket takes.
 * flush returns 0 when the queue is empty, -EAGAIN when bytes remain (poll
 * for POLLOUT and call again), or another -errno. bx_beam_send waits for the
 * queue to drain first, so the two can be mixed without reordering.
 */
BX_API BX_MUST_CHECK int bx_beam_queue(bx_beam *b, const void *buf, size_t len, int fd);
BX_API BX_MUST_CHECK int bx_beam_flush(bx_beam *b);
/* Bytes still waiting in the outbound queue. */
BX_API size_t bx_beam_pending(const bx_beam *b);

#ifdef __cplusplus
}
#endif

#endif
