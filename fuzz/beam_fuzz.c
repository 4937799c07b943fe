/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes bx_beam_recv (src/beam.c): the frame receiver facing a hostile peer
 * on a unix stream socket. Threat: a peer that lies in length headers, cuts
 * frames short, sends fds with the wrong bytes, too many fds or none, to make
 * the receiver over-allocate, read out of bounds, misassign or leak fds, or
 * lose track of its resumable state between non-blocking calls.
 *
 * The input is a script for the peer:
 *   byte 0   bits 0-1: receive limit (8, 64, 4096, the 1 MiB default);
 *            bit 2: SO_PASSCRED on the receiver (the kernel adds credentials);
 *            bit 3: the receiver takes no fds (BX_BEAM_FDS_NONE, with
 *                   SO_PASSRIGHTS left on so that the fds still come);
 *            bit 4: every fd must pass a check first (pipes only: the
 *                   quarantine thread of src/util/quarantine.c);
 *            bit 5: the fds sent are sockets instead of pipes (which that
 *                   check refuses);
 *            bit 6: oversized frames are dropped (bx_beam_set_drop_oversized);
 *            bit 7: beambox's framing (bx_beam_set_multi_fds: up to 3 fds a
 *                   frame, counted in the header, read ahead; bit 4 then
 *                   does not apply)
 *   then chunks, each a control byte c followed by the chunk's bytes:
 *            bits 0-4: length: 0..23 as is, 24..31 mean 32 << (n - 24), i.e.
 *                      32..4096 (cut short at the end of the input);
 *            bits 5-6: fds sent with the chunk: none, one, two, or nine (more
 *                      than the receiver's control buffer takes);
 *            bit 7:    afterwards the receiver takes one non-blocking step.
 * Each chunk is one sendmsg on a non-blocking socket (the rest without the
 * fds if the kernel takes part of it); when the socket is full the receiver
 * takes steps to make room. Finally the writer shuts down and the receiver
 * reads until EOF or an error.
 *
 * Oracles besides ASan/UBSan/LeakSanitizer: frames respect the limit and are
 * NUL-terminated, received fds are open and close-on-exec, a frame has at
 * most one (BX_BEAM_FDS_MAX in beambox's framing, where nfds counts them), none arrives on a
 * connection that takes none, every one passed the check when there is one
 * (early ones too: they wait outside our fd table until a header asks),
 * errors are sticky, -EAGAIN never follows the peer's shutdown, no pipe or
 * socket made here is left open (by identity), and no socket of beam's own
 * (where early fds wait) outlives bx_beam_free.
 *
 * BEAM_FUZZ_VERBOSE=1 in the environment prints every receive result, to
 * check what a seed does: ./beam_fuzz fuzz/corpus/beam_fuzz/r5_fd_early
 */
#define _GNU_SOURCE
#include <beambox/beam.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRIPT_MAX     65536
#define FD_CHECK_EVERY 128
#define MAX_CHUNK_FDS  9

static const size_t limits[4] = {8, 64, 4096, BX_BEAM_DEFAULT_LIMIT};
static const size_t fd_counts[4] = {0, 1, 2, MAX_CHUNK_FDS};
static bool verbose;

struct rx {
	bx_beam *b;
	size_t limit;
	bool drop;	 /* bx_beam_set_drop_oversized */
	bool takes_none; /* BX_BEAM_FDS_NONE */
	bool checked;	 /* only pipes pass */
	bool multi;	 /* beambox's framing */
	int done;	 /* 0 while the receiver is live, else its final return value + 1000 */
};

/*
 * Leak check by identity, not by count: libFuzzer's own helpers (its
 * symbolizer pipes, its RSS watcher) open fds of their own now and then.
 * Every pipe and socket this target makes is recorded by inode; after a
 * batch of runs none of them may still be open here. beam makes sockets of
 * its own (the park where early fds wait, the quarantine's socketpairs):
 * after a batch, no socket may be open but those open before the first run
 * (libFuzzer makes none).
 */
#define MADE_MAX 8192
static ino_t made[MADE_MAX];
static size_t nmade;
#define BASELINE_MAX 64
static ino_t baseline_socks[BASELINE_MAX];
static size_t nbaseline;

static void record_fd(int fd)
{
	struct stat st;

	if (nmade < MADE_MAX && fstat(fd, &st) == 0)
		made[nmade++] = st.st_ino;
}

/* Calls fn on each fd of this process (but the directory's own) and its stat. */
static void each_fd(void (*fn)(int fd, const struct stat *st))
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		abort();
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0)
			continue;
		fn(fd, &st);
	}
	closedir(d);
}

static void note_baseline(int fd, const struct stat *st)
{
	(void)fd;
	if (S_ISSOCK(st->st_mode) && nbaseline < BASELINE_MAX)
		baseline_socks[nbaseline++] = st->st_ino;
}

static void check_socket_known(int fd, const struct stat *st)
{
	if (!S_ISSOCK(st->st_mode))
		return;
	for (size_t i = 0; i < nbaseline; i++)
		if (baseline_socks[i] == st->st_ino)
			return;
	fprintf(stderr, "fd %d: a socket (inode %lu) left open by beam\n", fd,
		(unsigned long)st->st_ino);
	abort();
}

static void check_not_made(int fd, const struct stat *st)
{
	if (!S_ISFIFO(st->st_mode) && !S_ISSOCK(st->st_mode))
		return;
	for (size_t i = 0; i < nmade; i++)
		if (made[i] == st->st_ino) {
			fprintf(stderr, "fd %d (inode %lu) made by this target is still open\n", fd,
				(unsigned long)st->st_ino);
			abort();
		}
}

/* Aborts if an fd we made (received copies included), or one beam made, is still open. */
static void check_no_made_fd_open(void)
{
	each_fd(check_not_made);
	each_fd(check_socket_known);
	nmade = 0;
}

/* One bx_beam_recv call; returns false once the receiver has finished. */
static bool rx_step(struct rx *r, bool eof_sent)
{
	bx_frame f = {.data = NULL, .len = 0, .fd = -1};
	bx_error err;
	int rc;

	if (r->done)
		return false;
	rc = bx_beam_recv(r->b, &f, &err);
	if (verbose) {
		if (rc == 1)
			fprintf(stderr, "frame len=%zu fd=%s\n", f.len, f.fd >= 0 ? "yes" : "no");
		else if (rc < 0)
			fprintf(stderr, "rc=%d: %s\n", rc, err.text);
		else
			fprintf(stderr, "EOF\n");
	}
	if (rc == 1) {
		if (!f.data || f.len > r->limit || f.data[f.len] != '\0')
			abort();
		/* A dropped frame: only in drop mode, over the limit, with nothing kept. */
		if (f.dropped && (!r->drop || f.dropped <= r->limit || f.len != 0))
			abort();
		if (f.fd >= 0 && !(fcntl(f.fd, F_GETFD) & FD_CLOEXEC))
			abort();
		if ((f.fd >= 0) != (f.nfds > 0) || f.nfds > (r->multi ? BX_BEAM_FDS_MAX : 1u))
			abort(); /* nfds counts fd and more_fds */
		for (size_t i = 1; i < f.nfds; i++)
			if (!(fcntl(f.more_fds[i - 1], F_GETFD) & FD_CLOEXEC))
				abort();
		if (f.fd >= 0 && r->takes_none)
			abort(); /* an fd on a connection that takes none */
		if (f.fd >= 0 && r->checked) {
			struct stat st;

			if (fstat(f.fd, &st) < 0 || !S_ISFIFO(st.st_mode))
				abort(); /* an fd that did not pass the check */
		}
		bx_frame_clear(&f);
		return true;
	}
	if (f.data || f.fd != -1)
		abort(); /* out is written only on success */
	if (rc == -EAGAIN) {
		if (eof_sent)
			abort(); /* after the peer's shutdown every byte is readable */
		return true;
	}
	if (rc < 0 && (err.code != rc || err.text[0] == '\0'))
		abort();
	/* EOF and errors are final */
	if (bx_beam_recv(r->b, &f, NULL) != rc || f.data)
		abort();
	r->done = rc + 1000;
	return false;
}

static bool send_sockets;

static int fresh_fd(void)
{
	int p[2];

	if (send_sockets) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			abort();
		record_fd(p[1]);
	} else if (pipe2(p, O_CLOEXEC) < 0) {
		abort();
	}
	record_fd(p[0]);
	close(p[1]);
	return p[0];
}

static int only_pipes(int fd, void *ctx)
{
	struct stat st;

	(void)ctx;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISFIFO(st.st_mode) ? 0 : -EBADF;
}

/* Writes one chunk, letting the receiver drain the socket when it is full. */
static void send_chunk(int sock, const uint8_t *p, size_t n, size_t nfds, struct rx *r)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * MAX_CHUNK_FDS)];
	} ctl;
	int fd = nfds > 0 ? fresh_fd() : -1;
	size_t off = 0;
	int stalls = 0;

	while (off < n) {
		struct iovec iov = {.iov_base = (void *)(p + off), .iov_len = n - off};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t w;

		if (fd >= 0) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			m.msg_control = ctl.buf;
			m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&m);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			for (size_t i = 0; i < nfds; i++)
				memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
		}
		w = sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			if (fd >= 0)
				close(fd);
			fd = -1;
			stalls = 0;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !r->done) {
			struct pollfd pf = {.fd = sock, .events = POLLOUT};

			/* A receiver that reads nothing while the socket is full is stuck. */
			if (rx_step(r, false) && ++stalls > 1000)
				abort();
			(void)poll(&pf, 1, 0);
			continue;
		}
		break; /* the receiver gave up: the rest cannot be delivered */
	}
	if (fd >= 0)
		close(fd);
}

static void run(const uint8_t *data, size_t size)
{
	struct rx r = {0};
	size_t pos = 1;
	int sv[2];
	int big = 1 << 20;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	record_fd(sv[0]);
	record_fd(sv[1]);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (data[0] & 4) {
		int one = 1;

		(void)setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	}
	if (bx_beam_new(sv[0], &r.b) < 0)
		abort();
	r.limit = limits[data[0] & 3];
	r.drop = (data[0] & 64) != 0;
	if (bx_beam_set_limit(r.b, r.limit) < 0 || bx_beam_set_drop_oversized(r.b, r.drop) < 0)
		abort();
	if (data[0] & 8) {
		int on = 1;

		if (bx_beam_set_fd_policy(r.b, BX_BEAM_FDS_NONE) < 0)
			abort();
		/* As on kernels before 6.16: the fds come, beam must drop them unopened. */
		(void)setsockopt(sv[0], SOL_SOCKET, 83 /* SO_PASSRIGHTS */, &on, sizeof(on));
		r.takes_none = true;
	}
	r.multi = (data[0] & 128) != 0;
	if (r.multi && bx_beam_set_multi_fds(r.b, 1) < 0)
		abort();
	if (!r.multi && (data[0] & 16) && (bx_beam_set_fd_check(r.b, only_pipes, NULL) < 0))
		abort();
	r.checked = !r.multi && (data[0] & 16) != 0;
	send_sockets = (data[0] & 32) != 0;

	while (pos < size && !r.done) {
		uint8_t c = data[pos++];
		unsigned cls = c & 0x1fu;
		size_t len = cls < 24 ? cls : (size_t)32 << (cls - 24);

		if (len > size - pos)
			len = size - pos;
		if (len > 0)
			send_chunk(sv[1], data + pos, len, fd_counts[(c >> 5) & 3], &r);
		pos += len;
		if (c & 0x80)
			(void)rx_step(&r, false);
	}
	shutdown(sv[1], SHUT_WR);
	while (rx_step(&r, true)) {
	}
	bx_beam_free(r.b);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long iterations;

	if (iterations == 0) {
		verbose = getenv("BEAM_FUZZ_VERBOSE") != NULL;
		each_fd(note_baseline);
	}
	if (size < 1 || size > SCRIPT_MAX)
		return 0;
	run(data, size);
	if (++iterations % FD_CHECK_EVERY == 0 || nmade > MADE_MAX - 64)
		check_no_made_fd_open();
	return 0;
}
