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
 * per-connection limit before anything is allocated. As in the original, an
 * fd may arrive before the frame that asks for it (the kernel may deliver a
 * frame's fd with the last bytes of the previous frame, a sender may send it
 * early): such fds wait in a small bounded queue, each given to the next
 * frame whose header asks for one, and fds left over at EOF or at a protocol
 * error are closed. Unlike the original, an fd enters this process's fd
 * table only once a header asks for it: an early one waits outside it (in
 * flight, in a socket of the connection), because closing any fd of a file
 * releases this process's POSIX locks on it, so even closing an unwanted fd
 * would hand a peer that power. At most one fd per frame; received fds are
 * close-on-exec; nothing is leaked on any path. The exact rule is at the top
 * of src/beam.c.
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
/* Most fds one frame carries on a connection with bx_beam_set_multi_fds (else 1). */
#define BX_BEAM_FDS_MAX 3
/* Largest payload a frame can express with bx_beam_set_multi_fds (two header bits count fds). */
#define BX_BEAM_MULTI_WIRE_MAX 0x1fffffffu

typedef struct bx_beam bx_beam;

/*
 * A received frame. The receiver owns data (free()) and fd (close(), -1 if none).
 * data is never NULL, even when len is 0, and data[len] is an extra NUL byte
 * (not counted in len) so that text payloads can be used as C strings.
 */
typedef struct bx_frame {
	uint8_t *data;
	size_t len;
	int fd; /* the first (or only) fd, -1 if none */
	/*
	 * With bx_beam_set_drop_oversized: the announced length of a payload over
	 * the limit, which was read and dropped (data is then empty, len 0). Else 0.
	 */
	size_t dropped;
	/*
	 * How many fds came with the frame: fd, then more_fds[0 .. nfds - 2]
	 * (only bx_beam_set_multi_fds connections carry more than one). A frame
	 * made by hand with {.fd = -1} has nfds 0 and no more_fds to close.
	 */
	size_t nfds;
	int more_fds[BX_BEAM_FDS_MAX - 1];
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

/* Which fds a connection takes from its peer (bx_beam_set_fd_policy). */
enum bx_beam_fds {
	/*
	 * The default: one fd for each frame whose header announces one, early
	 * ones queued (never installed before a header asks for them).
	 */
	BX_BEAM_FDS_ANNOUNCED = 0,
	/*
	 * None, for a protocol where no fd is ever expected (beambox's own):
	 * every read is made without a control buffer (the kernel drops fds
	 * unopened), so an fd anywhere is -EPROTO, and so is a header announcing
	 * one. Where the kernel has SO_PASSRIGHTS (Linux 6.16+) it is turned off
	 * too, so that the peer's sendmsg with fds fails with EPERM.
	 */
	BX_BEAM_FDS_NONE = 1,
};

/* Sets which fds bx_beam_recv takes (enum bx_beam_fds). 0, -EINVAL, -errno. */
BX_API BX_MUST_CHECK int bx_beam_set_fd_policy(bx_beam *b, int policy);

/*
 * Beambox's own framing, for peers that both agreed to it (beambox/2 jobs;
 * never for an original peer): a frame may carry 1..BX_BEAM_FDS_MAX fds in
 * one sendmsg, and its header says how many. Header: the top bit says fds
 * are attached, the next two bits hold their count minus one (zero when the
 * top bit is clear), the low 29 bits the payload length (at most
 * BX_BEAM_MULTI_WIRE_MAX). Both directions of the connection use it.
 *
 * Receiving reads ahead: one recvmsg takes whatever has come (several small
 * frames, a frame and its fds), and frames are then parsed from that buffer
 * without more system calls (bx_beam_rx_buffered says how much waits). On a
 * connection that takes fds (BX_BEAM_FDS_ANNOUNCED) every read into that
 * buffer has room for exactly BX_BEAM_FDS_MAX fds, no more (the kernel
 * drops more, unopened, and the read is -EPROTO), and the fds that came with
 * a read must be exactly those announced by the one header that starts in
 * that read and announces any: a count that differs, a second announcing
 * header, fds that no header in their read claims, or fds riding on the
 * middle of a large payload (read without a control buffer) are -EPROTO,
 * every fd received closed. With BX_BEAM_FDS_NONE no read has a control
 * buffer and a header announcing fds is -EPROTO, as in the plain framing.
 * The fds that came can be installed before their header is checked, so
 * use it to take fds from a trusted peer only (a worker from its parent);
 * a parent takes none from a worker (BX_BEAM_FDS_NONE). It excludes
 * bx_beam_set_fd_check (-EINVAL either way round). Switch it on before the
 * first frame in that framing arrives (bytes already read of a next header
 * are kept). 0, -EINVAL, -EBUSY (a frame is half read), -ENOMEM.
 */
BX_API BX_MUST_CHECK int bx_beam_set_multi_fds(bx_beam *b, int on);

/*
 * With bx_beam_set_multi_fds: bytes read ahead and not yet returned as
 * frames. A poll loop that finds 0 here may wait for the socket; otherwise
 * call bx_beam_recv first (a whole frame may already be there). 0 for other
 * connections (which read no further than the next header).
 */
BX_API size_t bx_beam_rx_buffered(const bx_beam *b);

/*
 * A check every received fd must pass before it enters this process: 0 to
 * accept, -errno to refuse (e.g. "not a pipe"). It runs in a helper thread
 * that has its own fd table, where the fd is received (or, for an fd that
 * came early, taken out of the queue when a header asks for it); a refused
 * fd is closed there, which releases none of this process's POSIX record
 * locks (closing any fd of a file here would). Only a frame announcing an fd
 * pays for it (a few system calls and two thread switches). check must only
 * look at the fd (fstat, fcntl F_GETFL), never keep or close it. NULL: none.
 * A refused fd is -EPROTO. Returns 0 or -EINVAL.
 */
typedef int (*bx_beam_fd_check_fn)(int fd, void *ctx);
BX_API BX_MUST_CHECK int bx_beam_set_fd_check(bx_beam *b, bx_beam_fd_check_fn check, void *ctx);

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
 * Sends one frame, blocking until all of it is written. fd is -1 or an fd to
 * pass; the caller keeps ownership of it (the kernel passes a duplicate).
 * Frames from concurrent threads never interleave, and no thread holds the
 * connection while it waits for the peer to read: a frame that does not fit
 * at once waits in the outbound queue (a copy), which every sender and
 * bx_beam_flush advance. Never raises SIGPIPE.
 * Returns 0, -EMSGSIZE (len > BX_BEAM_WIRE_MAX), -EPIPE (peer gone), -errno
 * (-EBADF for fd < -1 or a closed fd; nothing is written then).
 * After an error other than -EAGAIN while writing (the peer gone, a frame
 * cut short: its framing is lost), every later send, queue and flush returns
 * that error and queued frames are dropped.
 */
BX_API BX_MUST_CHECK int bx_beam_send(bx_beam *b, const void *buf, size_t len, int fd);

/*
 * bx_beam_send with a bound: gives up at deadline_ms (CLOCK_MONOTONIC, in
 * milliseconds; -1: never) with -ETIMEDOUT, or as soon as one of the nstop
 * (at most 8) stop_fds polls readable with -ECANCELED. A frame that had not
 * begun to leave when it gives up is withdrawn (*cut = 0) and the connection
 * stays usable. A frame partly written cannot be finished by anyone else:
 * the connection is then cut (*cut = 1; shutdown(SHUT_WR), so the peer sees
 * EOF inside a frame), queued frames are dropped, and every other sender,
 * waiting or later, gets -ECONNABORTED. cut may be NULL.
 */
BX_API BX_MUST_CHECK int bx_beam_send_until(bx_beam *b, const void *buf, size_t len, int fd,
					    int64_t deadline_ms, const int *stop_fds, size_t nstop,
					    int *cut);

/*
 * bx_beam_send_until with nfds fds (0..BX_BEAM_FDS_MAX, borrowed) riding on
 * the frame's first byte, all in one sendmsg: more than one needs
 * bx_beam_set_multi_fds (else -EINVAL), as does a length over
 * BX_BEAM_MULTI_WIRE_MAX on such a connection (-EMSGSIZE).
 */
BX_API BX_MUST_CHECK int bx_beam_send_fds_until(bx_beam *b, const void *buf, size_t len,
						const int *fds, size_t nfds, int64_t deadline_ms,
						const int *stop_fds, size_t nstop, int *cut);

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
 *              arrived (or the connection takes none), more early fds than
 *              the queue holds (BX_BEAM_FDQ_MAX), more than one fd in one
 *              message, fds left over at EOF, any fd on a connection that
 *              takes none, an fd that fails the check, unexpected control
 *              messages (e.g. SCM_CREDENTIALS when SO_PASSCRED is set).
 *              Such fds are never installed: the kernel drops them, or they
 *              are closed in the quarantine or released from the queue.
 *   -EINTR     a signal interrupted a blocking read; the partial frame is
 *              kept, call again
 *   -errno     from the kernel
 * After any negative return other than -EAGAIN/-EINTR the connection is
 * unusable (framing is lost), any fd it held has been closed, and later
 * calls return the same error without reading. err (may be NULL) says why,
 * with the stream offset of the frame or byte at fault.
 */
BX_API BX_MUST_CHECK int bx_beam_recv(bx_beam *b, bx_frame *out, bx_error *err);

/*
 * bx_beam_recv that never waits for the peer, also on a blocking socket:
 * -EAGAIN when no whole frame has come. Only with bx_beam_set_multi_fds
 * (else -EINVAL).
 */
BX_API BX_MUST_CHECK int bx_beam_recv_nowait(bx_beam *b, bx_frame *out, bx_error *err);

/* Frees a frame's data and closes its fds; leaves it empty. NULL is fine. */
BX_API void bx_frame_clear(bx_frame *f);

/*
 * Non-blocking sending for poll loops: bx_beam_queue appends a frame to the
 * connection's outbound queue (duplicating fd with F_DUPFD_CLOEXEC; the caller
 * keeps its own), and bx_beam_flush writes as much as the socket takes.
 * flush returns 0 when the queue is empty, -EAGAIN when bytes remain (poll
 * for POLLOUT and call again), or another -errno. bx_beam_send queues behind
 * what is queued, so the two can be mixed without reordering.
 */
BX_API BX_MUST_CHECK int bx_beam_queue(bx_beam *b, const void *buf, size_t len, int fd);
BX_API BX_MUST_CHECK int bx_beam_flush(bx_beam *b);
/* Bytes still waiting in the outbound queue. */
BX_API size_t bx_beam_pending(const bx_beam *b);

#ifdef __cplusplus
}
#endif

#endif
