/* SPDX-License-Identifier: MIT */
/*
 * Tests for beam framing over real socketpairs, including byte-exact
 * compatibility with the original Go pkg/beam (design/beam-vectors.txt).
 * Every test runs under bx_fd_test: the open-fd count before and after must
 * match, so a leaked received fd fails the test.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <beambox/beam.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static void mkpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static bx_beam *wrap(int fd)
{
	bx_beam *b = NULL;

	assert_int_equal(bx_beam_new(fd, &b), 0);
	assert_non_null(b);
	return b;
}

static void mkpipe(int p[2])
{
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = strlen(h) / 2;

	assert_int_equal(strlen(h) % 2, 0);
	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* One sendmsg with nfds copies of fd attached (the kernel duplicates each). */
static void raw_send(int sock, const void *p, size_t n, int fd, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 253)];
	} ctl;
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	assert_true(nfds <= 253);
	if (nfds > 0) {
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
	assert_int_equal(sendmsg(sock, &m, MSG_NOSIGNAL), (ssize_t)n);
}

/*
 * Reads exactly want bytes from a raw socket; returns the number of fds that
 * came along (closing them) and the offset of the chunk the first fd came with.
 */
static size_t raw_read(int sock, uint8_t *buf, size_t want, size_t *first_fd_off)
{
	size_t got = 0, fds = 0;

	*first_fd_off = (size_t)-1;
	while (got < want) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 8)];
		} ctl;
		struct iovec iov = {.iov_base = buf + got, .iov_len = want - got};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

		assert_true(n > 0);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);

			assert_int_equal(c->cmsg_type, SCM_RIGHTS);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
			if (k > 0 && fds == 0)
				*first_fd_off = got;
			fds += k;
		}
		got += (size_t)n;
	}
	return fds;
}

static void assert_same_file(int a, int b)
{
	struct stat sa, sb;

	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(sa.st_dev, sb.st_dev);
	assert_int_equal(sa.st_ino, sb.st_ino);
}

static ino_t ino_of(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7u + seed);
}

struct sender {
	bx_beam *b;
	const void *buf;
	size_t len;
	int fd;
	int rc;
	pthread_t tid;
};

static void *sender_main(void *arg)
{
	struct sender *s = arg;

	s->rc = bx_beam_send(s->b, s->buf, s->len, s->fd);
	return NULL;
}

/* Sends in a thread, so frames bigger than the socket buffer work. */
static void send_async(struct sender *s, bx_beam *b, const void *buf, size_t len, int fd)
{
	s->b = b;
	s->buf = buf;
	s->len = len;
	s->fd = fd;
	s->rc = 1;
	assert_int_equal(pthread_create(&s->tid, NULL, sender_main, s), 0);
}

static int send_join(struct sender *s)
{
	assert_int_equal(pthread_join(s->tid, NULL), 0);
	return s->rc;
}

/* ------------------------------------------------------------------ API edges */

static void test_new_rejects_non_stream_sockets(void **state)
{
	bx_beam *b = NULL;
	int p[2], s;

	(void)state;
	assert_int_equal(bx_beam_new(-1, &b), -EBADF);
	assert_int_equal(bx_beam_new(0, NULL), -EINVAL);

	mkpipe(p);
	assert_int_equal(bx_beam_new(p[0], &b), -ENOTSOCK);
	/* on failure the caller still owns the fd: closing it must work */
	assert_int_equal(close(p[0]), 0);
	assert_int_equal(bx_beam_new(p[0], &b), -EBADF);
	close(p[1]);

	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bx_beam_new(s, &b), -EPROTOTYPE);
	assert_int_equal(close(s), 0);

	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bx_beam_new(s, &b), -EPROTOTYPE);
	assert_int_equal(close(s), 0);

	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		assert_int_equal(bx_beam_new(s, &b), -EPROTOTYPE);
		assert_int_equal(close(s), 0);
	}
	assert_null(b);
}

static void test_null_and_limits(void **state)
{
	int sv[2];
	bx_beam *a;
	bx_frame f = {.data = NULL, .len = 0, .fd = -1};

	(void)state;
	bx_beam_free(NULL);
	bx_frame_clear(NULL);
	bx_frame_clear(&f);
	assert_int_equal(bx_beam_fd(NULL), -1);
	assert_int_equal(bx_beam_pending(NULL), 0);
	assert_int_equal(bx_beam_recv(NULL, &f, NULL), -EINVAL);
	assert_int_equal(bx_beam_send(NULL, "x", 1, -1), -EINVAL);
	assert_int_equal(bx_beam_queue(NULL, "x", 1, -1), -EINVAL);
	assert_int_equal(bx_beam_flush(NULL), -EINVAL);
	assert_int_equal(bx_beam_set_limit(NULL, 1), -EINVAL);

	mkpair(sv);
	a = wrap(sv[0]);
	assert_int_equal(bx_beam_fd(a), sv[0]);
	assert_int_equal(bx_beam_set_limit(a, 0), -EINVAL);
	assert_int_equal(bx_beam_set_limit(a, (size_t)BX_BEAM_WIRE_MAX + 1), -EINVAL);
	assert_int_equal(bx_beam_set_limit(a, 1), 0);
	assert_int_equal(bx_beam_set_limit(a, BX_BEAM_WIRE_MAX), 0);
	assert_int_equal(bx_beam_recv(a, NULL, NULL), -EINVAL);

	/* checked before the buffer is touched, so a short buffer is fine */
	assert_int_equal(bx_beam_send(a, "x", (size_t)BX_BEAM_WIRE_MAX + 1, -1), -EMSGSIZE);
	assert_int_equal(bx_beam_queue(a, "x", (size_t)BX_BEAM_WIRE_MAX + 1, -1), -EMSGSIZE);
	assert_int_equal(bx_beam_send(a, NULL, 1, -1), -EINVAL);
	assert_int_equal(bx_beam_send(a, "x", 1, -2), -EBADF);
	assert_int_equal(bx_beam_queue(a, "x", 1, -2), -EBADF);
	assert_int_equal(bx_beam_pending(a), 0);

	bx_beam_free(a);
	close(sv[1]);
}

/* An fd the kernel refuses to pass fails the send before a byte is written. */
static void test_send_bad_fd_writes_nothing(void **state)
{
	int sv[2], dead;
	bx_beam *a, *b;
	bx_frame f;

	(void)state;
	mkpair(sv);
	a = wrap(sv[0]);
	b = wrap(sv[1]);
	dead = dup(sv[1]);
	assert_true(dead >= 0);
	close(dead);

	assert_int_equal(bx_beam_send(a, "x", 1, dead), -EBADF);
	assert_int_equal(bx_beam_queue(a, "x", 1, dead), -EBADF);
	/* the connection is still usable: nothing reached the peer */
	assert_int_equal(bx_beam_send(a, NULL, 0, -1), 0);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
	assert_int_equal(f.len, 0);
	assert_non_null(f.data);
	assert_int_equal(f.data[0], 0);
	assert_int_equal(f.fd, -1);
	bx_frame_clear(&f);
	assert_null(f.data);
	assert_int_equal(f.fd, -1);

	bx_beam_free(a);
	bx_beam_free(b);
}

/* ------------------------------------------------------------------ round trips */

struct rt_case {
	size_t len;
	bool with_fd;
};

static const struct rt_case rt_cases[] = {
    {0, false}, {0, true}, {1, false}, {1, true}, {100000, false}, {100000, true},
};

static void test_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rt_cases) / sizeof(rt_cases[0]); i++) {
		const struct rt_case *c = &rt_cases[i];
		int sv[2], p[2] = {-1, -1};
		bx_beam *a, *b;
		bx_frame f = {.data = NULL, .len = 0, .fd = -1};
		struct sender s;
		uint8_t *buf = malloc(c->len + 1);
		char ch = 0;

		assert_non_null(buf);
		fill_pattern(buf, c->len, (unsigned)i);
		mkpair(sv);
		a = wrap(sv[0]);
		b = wrap(sv[1]);
		if (c->with_fd)
			mkpipe(p);

		send_async(&s, a, buf, c->len, c->with_fd ? p[1] : -1);
		assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
		assert_int_equal(send_join(&s), 0);
		assert_int_equal(f.len, c->len);
		assert_non_null(f.data);
		assert_memory_equal(f.data, buf, c->len);
		assert_int_equal(f.data[c->len], 0);
		if (c->with_fd) {
			/* the same open pipe: what goes in one end comes out of ours */
			assert_true(f.fd >= 0);
			assert_true(f.fd != p[1]);
			assert_same_file(f.fd, p[1]);
			assert_int_equal(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
			assert_int_equal(write(f.fd, "z", 1), 1);
			assert_int_equal(read(p[0], &ch, 1), 1);
			assert_int_equal(ch, 'z');
			/* the sender kept its own fd */
			assert_true(fcntl(p[1], F_GETFD) >= 0);
		} else {
			assert_int_equal(f.fd, -1);
		}
		bx_frame_clear(&f);
		bx_beam_free(a);
		/* the peer closed at a frame boundary */
		assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
		assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
		bx_beam_free(b);
		if (c->with_fd) {
			close(p[0]);
			close(p[1]);
		}
		free(buf);
	}
}

struct limit_case {
	size_t len;
	bool with_fd;
	int rc;
};

static const struct limit_case limit_cases[] = {
    {4095, false, 1},	      {4096, false, 1},	       {4096, true, 1},
    {4097, false, -EMSGSIZE}, {4097, true, -EMSGSIZE}, {100000, true, -EMSGSIZE},
};

static void test_receive_limit(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
		const struct limit_case *c = &limit_cases[i];
		int sv[2], p[2] = {-1, -1};
		bx_beam *a, *b;
		bx_frame f = {.data = NULL, .len = 77, .fd = -2};
		bx_error err;
		struct sender s;
		uint8_t *buf = calloc(1, c->len);

		assert_non_null(buf);
		mkpair(sv);
		a = wrap(sv[0]);
		b = wrap(sv[1]);
		assert_int_equal(bx_beam_set_limit(b, 4096), 0);
		if (c->with_fd)
			mkpipe(p);
		send_async(&s, a, buf, c->len, c->with_fd ? p[1] : -1);
		bx_error_clear(&err);
		assert_int_equal(bx_beam_recv(b, &f, &err), c->rc);
		if (c->rc == 1) {
			assert_int_equal(f.len, c->len);
			assert_int_equal(f.fd >= 0, c->with_fd);
			bx_frame_clear(&f);
		} else {
			/* refused from the header alone: out untouched, fd closed */
			assert_null(f.data);
			assert_int_equal(f.len, 77);
			assert_int_equal(f.fd, -2);
			assert_int_equal(err.code, -EMSGSIZE);
			assert_int_equal(err.offset, 0);
			assert_non_null(strstr(err.text, "limit"));
			/* sticky: framing is lost */
			assert_int_equal(bx_beam_recv(b, &f, NULL), -EMSGSIZE);
		}
		/* the sender may be stuck on a frame nobody reads: closing unblocks it */
		bx_beam_free(b);
		(void)send_join(&s);
		bx_beam_free(a);
		if (c->with_fd) {
			close(p[0]);
			close(p[1]);
		}
		free(buf);
	}
}

/* The default limit is 1 MiB, far more than a socket buffer holds. */
static void test_default_limit_one_mib(void **state)
{
	size_t mib = BX_BEAM_DEFAULT_LIMIT;
	uint8_t *buf = malloc(mib + 1);
	int sv[2];
	bx_beam *a, *b;
	bx_frame f;
	struct sender s;
	int rc;

	(void)state;
	assert_non_null(buf);
	fill_pattern(buf, mib + 1, 5);
	mkpair(sv);
	a = wrap(sv[0]);
	b = wrap(sv[1]);

	send_async(&s, a, buf, mib, -1);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
	assert_int_equal(send_join(&s), 0);
	assert_int_equal(f.len, mib);
	assert_memory_equal(f.data, buf, mib);
	bx_frame_clear(&f);

	send_async(&s, a, buf, mib + 1, -1);
	assert_int_equal(bx_beam_recv(b, &f, NULL), -EMSGSIZE);
	bx_beam_free(b);
	rc = send_join(&s);
	assert_true(rc == -EPIPE || rc == -ECONNRESET);
	bx_beam_free(a);
	free(buf);
}

/* ------------------------------------------------------------------ original vectors */

#define M2_HEX "3030303b333a636d642c31353a333a6c6f672c363a7374646f75742c2c"
#define M3_HEX "3030303b333a636d642c31353a333a6c6f672c363a7374646572722c2c"
#define M4_HEX "3030303b333a636d642c31343a333a6c6f672c353a737464696e2c2c"
#define M5_HEX "3030303b333a636d642c31333a363a7374617475732c313a302c2c"
#define M81_HEX                                                                                    \
	"3030303b333a636d642c31353a343a6563686f2c353a68656c6c6f2c2c333a656e762c32333a31393a303030" \
	"3b"                                                                                       \
	"333a464f4f2c363a333a6261722c2c2c2c"
#define Y10  "79797979797979797979"
#define Y100 Y10 Y10 Y10 Y10 Y10 Y10 Y10 Y10 Y10 Y10
#define Y300 Y100 Y100 Y100

/* F1..F7: the chunks the original's peer saw, concatenated, and how many fds. */
struct fvec {
	const char *name;
	const char *payload_hex;
	bool with_fd;
	const char *wire_hex;
};

static const struct fvec fvecs[] = {
    {"F1", "3030303b", false,
     "00000004"
     "3030303b"},
    {"F2", "3030303b", true,
     "80"
     "0000043030303b"},
    {"F3", "", false, "00000000"},
    {"F4", "", true,
     "80"
     "000000"},
    {"F5", M5_HEX, false, "0000001b" M5_HEX},
    {"F6", M2_HEX, true,
     "80"
     "00001d" M2_HEX},
    {"F7", Y300, false, "0000012c" Y300},
};

#define WIRE_CAP 512

static void test_send_matches_original_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fvecs) / sizeof(fvecs[0]); i++) {
		const struct fvec *v = &fvecs[i];
		uint8_t payload[WIRE_CAP], wire[WIRE_CAP], got[WIRE_CAP];
		size_t plen = unhex(v->payload_hex, payload, sizeof(payload));
		size_t wlen = unhex(v->wire_hex, wire, sizeof(wire));
		size_t fd_off, nfds;
		int sv[2], p[2] = {-1, -1};
		bx_beam *a;

		print_message("%s\n", v->name);
		mkpair(sv);
		a = wrap(sv[0]);
		if (v->with_fd)
			mkpipe(p);
		assert_int_equal(bx_beam_send(a, payload, plen, v->with_fd ? p[0] : -1), 0);
		assert_int_equal(bx_beam_shutdown_write(a), 0);
		nfds = raw_read(sv[1], got, wlen, &fd_off);
		assert_memory_equal(got, wire, wlen);
		assert_int_equal(nfds, v->with_fd ? 1 : 0);
		if (v->with_fd)
			assert_int_equal(fd_off, 0); /* with the header's first byte */
		assert_int_equal(read(sv[1], got, 1), 0);
		bx_beam_free(a);
		close(sv[1]);
		if (v->with_fd) {
			close(p[0]);
			close(p[1]);
		}
	}
}

/*
 * The original's sender: sendmsg of header[0] alone with the fd, then
 * write(header[1:4]), then write(payload); without an fd, write(header),
 * write(payload).
 */
static void test_recv_original_framing(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fvecs) / sizeof(fvecs[0]); i++) {
		const struct fvec *v = &fvecs[i];
		uint8_t payload[WIRE_CAP], wire[WIRE_CAP];
		size_t plen = unhex(v->payload_hex, payload, sizeof(payload));
		size_t wlen = unhex(v->wire_hex, wire, sizeof(wire));
		int sv[2], p[2] = {-1, -1};
		bx_beam *b;
		bx_frame f;

		print_message("%s\n", v->name);
		assert_int_equal(wlen, plen + 4);
		mkpair(sv);
		b = wrap(sv[0]);
		if (v->with_fd) {
			mkpipe(p);
			raw_send(sv[1], wire, 1, p[1], 1);
			raw_send(sv[1], wire + 1, 3, -1, 0);
		} else {
			raw_send(sv[1], wire, 4, -1, 0);
		}
		if (plen > 0)
			raw_send(sv[1], wire + 4, plen, -1, 0);
		/* the original closed its copy right after sending */
		if (v->with_fd)
			close(p[1]);
		close(sv[1]);

		assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
		assert_int_equal(f.len, plen);
		assert_memory_equal(f.data, payload, plen);
		if (v->with_fd) {
			char ch = 0;

			assert_true(f.fd >= 0);
			assert_int_equal(write(f.fd, "q", 1), 1);
			assert_int_equal(read(p[0], &ch, 1), 1);
			assert_int_equal(ch, 'q');
			close(p[0]);
		} else {
			assert_int_equal(f.fd, -1);
		}
		bx_frame_clear(&f);
		assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
		bx_beam_free(b);
	}
}

/*
 * Hand-framed byte streams: each step is one sendmsg, optionally with fds
 * (copies of a pipe end made for that step); then the writer closes. Each
 * expected frame names the step whose fd it must carry (-1: none).
 */
#define MAX_STEPS 6
#define MAX_EXP	  6

struct rstep {
	const char *hex;
	size_t nfds;
};

struct rexp {
	int rc;
	const char *payload_hex;
	int fd_step;
};

struct rcase {
	const char *name;
	struct rstep steps[MAX_STEPS];
	struct rexp exp[MAX_EXP];
	size_t limit; /* 0: default */
	const char *err_text;
};

#define FRAME4 "3030303b"
#define END                                                                                        \
	{                                                                                          \
		NULL, 0                                                                            \
	}
#define EOF_OK                                                                                     \
	{                                                                                          \
		0, NULL, -1                                                                        \
	}

static const struct rcase rcases[] = {
    {"R1 one sendmsg of header+payload with the fd",
     {{"80000004" FRAME4, 1}, END},
     {{1, FRAME4, 0}, EOF_OK},
     0,
     NULL},
    {"R2 two frames in one write",
     {{"00000004" FRAME4 "00000004" FRAME4, 0}, END},
     {{1, FRAME4, -1}, {1, FRAME4, -1}, EOF_OK},
     0,
     NULL},
    {"R3 header asks for an fd, none sent",
     {{"80000004" FRAME4, 0}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "asks for an fd"},
    {"R4 fd only with the payload bytes",
     {{"80000004", 0}, {FRAME4, 1}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "asks for an fd"},
    /* As the original: queued (in beambox's park, never installed early), then claimed. */
    {"R5 fd early with an fd-less frame goes to the next frame asking",
     {{"00000004" FRAME4, 1}, {"80000004" FRAME4, 0}, END},
     {{1, FRAME4, -1}, {1, FRAME4, 0}, EOF_OK},
     0,
     NULL},
    {"R6 truncated payload then EOF",
     {{"000000043030", 0}, END},
     {{-EBADMSG, NULL, -1}},
     0,
     "payload"},
    {"capture: end of frame 1 + header[0] of frame 2 with frame 2's fd",
     {{"0000001b3030303b333a636d", 0},
      {"642c31333a363a7374617475732c313a302c2c"
       "80",
       1},
      {"00001d" M2_HEX, 0},
      END},
     {{1, M5_HEX, -1}, {1, M2_HEX, 1}, EOF_OK},
     0,
     NULL},
    {"capture section 4, per-job socket, chunk by chunk",
     {{"80", 1},
      {"00001d" M2_HEX "80", 1},
      {"00001d" M3_HEX "80", 1},
      {"00001c" M4_HEX "0000001b" M5_HEX, 0},
      END},
     {{1, M2_HEX, 0}, {1, M3_HEX, 1}, {1, M4_HEX, 2}, {1, M5_HEX, -1}, EOF_OK},
     0,
     NULL},
    {"capture section 4, main socket",
     {{"80", 1}, {"00003e" M81_HEX, 0}, END},
     {{1, M81_HEX, 0}, EOF_OK},
     0,
     NULL},
    {"empty payload with fd", {{"80000000", 1}, END}, {{1, "", 0}, EOF_OK}, 0, NULL},
    {"stray fd then EOF",
     {{"00000004" FRAME4, 1}, END},
     {{1, FRAME4, -1}, {-EPROTO, NULL, -1}},
     0,
     "no frame claimed"},
    {"fd without any bytes of a frame then EOF",
     {{"00000000", 0}, {"00", 1}, END},
     {{1, "", -1}, {-EBADMSG, NULL, -1}},
     0,
     "header"},
    {"queue full (4 fds) is fine, the 5th overflows",
     {{"00", 1}, {"00", 1}, {"10", 1}, {"00", 1}, {"00", 1}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "overflow"},
    {"four queued fds, one claimed, three stray at EOF",
     {{"80", 1}, {"00", 1}, {"00", 1}, {"00", 1}, END},
     {{1, "", 0}, {-EPROTO, NULL, -1}},
     0,
     "no frame claimed"},
    {"two early fds go to the next two frames asking, in order",
     {{"00000000", 1}, {"00000000", 1}, {"80000000", 0}, {"80000000", 0}, END},
     {{1, "", -1}, {1, "", -1}, {1, "", 0}, {1, "", 1}, EOF_OK},
     0,
     NULL},
    {"an early fd goes first, before the one on the asking frame's own header",
     {{"00000000", 1}, {"80000000", 1}, {"80000000", 0}, END},
     {{1, "", -1}, {1, "", 0}, {1, "", 1}, EOF_OK},
     0,
     NULL},
    {"four early fds on payload bytes, all claimed",
     {{"00000004", 0},
      {"30", 1},
      {"30", 1},
      {"30", 1},
      {"30", 1},
      {"80000000"
       "80000000"
       "80000000"
       "80000000",
       0}},
     {{1, "30303030", -1}, {1, "", 1}, {1, "", 2}, {1, "", 3}, {1, "", 4}, EOF_OK},
     0,
     NULL},
    {"an fd on header byte 2 of the announcing frame is its fd",
     {{"8000", 0}, {"0000", 1}, END},
     {{1, "", 1}, EOF_OK},
     0,
     NULL},
    {"an fd on the payload of the announcing frame is refused",
     {{"80000004", 0}, {FRAME4, 1}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "asks for an fd"},
    {"an early fd on a chunk from the previous header to the announcing byte",
     {{"00000000", 0},
      {"00000000"
       "80",
       1},
      {"000000", 0},
      END},
     {{1, "", -1}, {1, "", -1}, {1, "", 1}, EOF_OK},
     0,
     NULL},
    {"an early fd for the frame after next waits in the queue",
     {{"00000001", 0},
      {"41"
       "00000000"
       "80",
       1},
      {"000000", 0},
      END},
     {{1, "41", -1}, {1, "", -1}, {1, "", 1}, EOF_OK},
     0,
     NULL},
    {"an early fd ending inside the next frame's payload (a relayed beambox sender)",
     {{"00000001", 0},
      {"41"
       "80000002"
       "42",
       1},
      {"43", 0},
      END},
     {{1, "41", -1}, {1, "4243", 1}, EOF_OK},
     0,
     NULL},
    {"two fds in one message",
     {{"80000004" FRAME4, 2}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "at most one"},
    {"two fds in one message, early",
     {{"00000004" FRAME4, 2}, {"80000000", 0}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "at most one"},
    {"nine fds in one message (control data truncated)",
     {{"80000004" FRAME4, 9}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "MSG_CTRUNC"},
    {"200 fds in one message",
     {{"80000004" FRAME4, 200}, END},
     {{-EPROTO, NULL, -1}},
     0,
     "MSG_CTRUNC"},
    {"length 0x7fffffff", {{"7fffffff" FRAME4, 0}, END}, {{-EMSGSIZE, NULL, -1}}, 0, "limit"},
    {"length 0x7fffffff with the fd bit and an fd",
     {{"ffffffff" FRAME4, 1}, END},
     {{-EMSGSIZE, NULL, -1}},
     0,
     "limit"},
    {"1 MiB + 1 over the default limit",
     {{"00100001", 0}, END},
     {{-EMSGSIZE, NULL, -1}},
     0,
     "limit"},
    {"small limit: a good frame, then one too long",
     {{"00000004" FRAME4 "00000005" FRAME4 "00", 0}, END},
     {{1, FRAME4, -1}, {-EMSGSIZE, NULL, -1}},
     4,
     "limit"},
    {"EOF after 2 header bytes", {{"0000", 0}, END}, {{-EBADMSG, NULL, -1}}, 0, "header"},
    {"EOF mid-payload of a frame holding an fd",
     {{"80000004"
       "30",
       1},
      END},
     {{-EBADMSG, NULL, -1}},
     0,
     "payload"},
    {"EOF right after the header", {{"00000004", 0}, END}, {{-EBADMSG, NULL, -1}}, 0, "payload"},
    {"clean EOF with nothing sent", {END}, {EOF_OK}, 0, NULL},
    {"error is sticky, good frames after it are not read",
     {{"80000004" FRAME4 "00000004" FRAME4, 0}, END},
     {{-EPROTO, NULL, -1}, {-EPROTO, NULL, -1}},
     0,
     NULL},
};

static void run_rcase(const struct rcase *c)
{
	int sv[2], pipes[MAX_STEPS][2];
	ino_t inos[MAX_STEPS] = {0};
	bx_beam *b;
	bx_error err;
	int last = 0;

	print_message("%s\n", c->name);
	mkpair(sv);
	b = wrap(sv[0]);
	if (c->limit)
		assert_int_equal(bx_beam_set_limit(b, c->limit), 0);
	for (size_t i = 0; i < MAX_STEPS && c->steps[i].hex; i++) {
		uint8_t buf[WIRE_CAP];
		size_t n = unhex(c->steps[i].hex, buf, sizeof(buf));

		pipes[i][0] = pipes[i][1] = -1;
		if (c->steps[i].nfds > 0) {
			mkpipe(pipes[i]);
			inos[i] = ino_of(pipes[i][0]);
		}
		raw_send(sv[1], buf, n, pipes[i][0], c->steps[i].nfds);
		/* the peer drops its copies: only the in-flight ones remain */
		if (c->steps[i].nfds > 0) {
			close(pipes[i][0]);
			close(pipes[i][1]);
		}
	}
	close(sv[1]);

	for (size_t i = 0; i < MAX_EXP; i++) {
		const struct rexp *e = &c->exp[i];
		bx_frame f = {.data = NULL, .len = 0, .fd = -1};
		int rc;

		bx_error_clear(&err);
		rc = bx_beam_recv(b, &f, &err);
		assert_int_equal(rc, e->rc);
		last = rc;
		if (rc == 1) {
			uint8_t want[WIRE_CAP];
			size_t n = unhex(e->payload_hex, want, sizeof(want));

			assert_int_equal(f.len, n);
			assert_non_null(f.data);
			assert_memory_equal(f.data, want, n);
			assert_int_equal(f.data[n], 0);
			if (e->fd_step < 0) {
				assert_int_equal(f.fd, -1);
			} else {
				assert_true(f.fd >= 0);
				assert_int_equal(ino_of(f.fd), inos[e->fd_step]);
				assert_int_equal(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
			}
			bx_frame_clear(&f);
			continue;
		}
		assert_null(f.data);
		assert_int_equal(f.fd, -1);
		if (rc < 0) {
			assert_int_equal(err.code, rc);
			assert_true(err.text[0] != '\0');
			if (c->err_text)
				assert_non_null(strstr(err.text, c->err_text));
		}
		break;
	}
	/* EOF stays EOF; errors stay the same error without reading */
	{
		bx_frame f = {.data = NULL, .len = 0, .fd = -1};

		assert_int_equal(bx_beam_recv(b, &f, NULL), last);
		assert_null(f.data);
	}
	bx_beam_free(b);
}

static void test_hand_framed_streams(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++)
		run_rcase(&rcases[i]);
}

/* SO_PASSRIGHTS (Linux 6.16); older headers lack it. */
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif

/* sendmsg of n bytes with one fd attached; 0 or -errno. */
static int try_send_fd(int sock, const void *p, size_t n, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

/*
 * Plays the hostile peer in a child process (an fd of the locked file must
 * never be opened or closed in this one: that alone would drop the lock):
 * sends each hex step, a leading '+' attaching a fresh fd of path ('*': of
 * /dev/null, an fd rightly asked for; '|': a pipe's read end). Returns
 * 0, or -EPERM if the kernel refused an fd at sendmsg (SO_PASSRIGHTS off).
 */
static int send_steps_from_child(int sock, const char *const *steps, size_t n, const char *path)
{
	pid_t child = fork();
	int status;

	assert_true(child >= 0);
	if (child == 0) {
		for (size_t k = 0; k < n && steps[k]; k++) {
			const char *hex = steps[k];
			uint8_t buf[64];
			size_t len = strlen(hex) / 2;
			int fd = -1, r;

			if (hex[0] == '+' || hex[0] == '*') {
				fd = open(hex[0] == '+' ? path : "/dev/null", O_RDWR | O_CLOEXEC);
				if (fd < 0)
					_exit(4);
				hex++;
				len = strlen(hex) / 2;
			} else if (hex[0] == '|') {
				int p[2];

				if (pipe2(p, O_CLOEXEC) < 0)
					_exit(4);
				close(p[1]);
				fd = p[0];
				hex++;
				len = strlen(hex) / 2;
			}
			for (size_t i = 0; i < len && i < sizeof(buf); i++) {
				unsigned v;

				if (sscanf(hex + 2 * i, "%2x", &v) != 1)
					_exit(5);
				buf[i] = (uint8_t)v;
			}
			r = try_send_fd(sock, buf, len, fd);
			if (r == -EPERM)
				_exit(3);
			if (r < 0)
				_exit(6);
		}
		_exit(0);
	}
	while (waitpid(child, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(status));
	assert_true(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
	return WEXITSTATUS(status) == 3 ? -EPERM : 0;
}

/*
 * The claims the receive rule rests on, checked on the running kernel: a
 * recvmsg without a control buffer reports MSG_CTRUNC and installs nothing,
 * so the POSIX lock this process holds on the file survives; a peek without
 * one installs nothing either and leaves the fd queued. A peek reports
 * MSG_CTRUNC for an fd-carrying sk_buff anywhere in the queue (even past a
 * full buffer) and stops copying at that sk_buff's end; a read of the bytes
 * before it gets no fd and no MSG_CTRUNC; fds still queued when the socket
 * is closed are released unopened (the park relies on that).
 */
static void test_kernel_drops_fds_without_control_buffer(void **state)
{
	char path[64], buf[8];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	int lock = bx_test_lock_file(path, sizeof(path)), sv[2], before;

	(void)state;
	assert_true(lock >= 0);
	mkpair(sv);
	{
		static const char *const steps[] = {"+61626364", "+65666768"};

		assert_int_equal(send_steps_from_child(sv[1], steps, 2, path), 0);
	}
	before = bx_test_count_fds();

	iov.iov_len = 4;
	assert_int_equal(recvmsg(sv[0], &m, MSG_PEEK | MSG_CMSG_CLOEXEC), 4);
	assert_true(m.msg_flags & MSG_CTRUNC);
	assert_int_equal(bx_test_count_fds(), before);
	m.msg_flags = 0;
	assert_int_equal(recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC), 4);
	assert_true(m.msg_flags & MSG_CTRUNC);
	assert_int_equal(bx_test_count_fds(), before);
	assert_int_equal(bx_test_fd_open_on(path), 1); /* our own, the one holding the lock */
	assert_int_equal(bx_test_lock_held(path), 1);

	/* Where a peek says an fd-carrying sk_buff ends, and what a read before it gets. */
	{
		static const char *const steps[] = {"61", "+6263", "6465", "+66"};
		struct msghdr pm = {.msg_iov = &iov, .msg_iovlen = 1};
		int pv[2];

		mkpair(pv);
		assert_int_equal(send_steps_from_child(pv[1], steps, 4, path), 0);
		iov.iov_len = 1;
		assert_int_equal(recvmsg(pv[0], &pm, MSG_PEEK | MSG_CMSG_CLOEXEC), 1);
		assert_true(pm.msg_flags & MSG_CTRUNC); /* the fd one byte past a full buffer */
		iov.iov_len = sizeof(buf);
		pm.msg_flags = 0;
		assert_int_equal(recvmsg(pv[0], &pm, MSG_PEEK | MSG_CMSG_CLOEXEC), 3);
		assert_true(pm.msg_flags & MSG_CTRUNC); /* stopped at the end of "bc" */
		iov.iov_len = 1;
		pm.msg_flags = 0;
		assert_int_equal(recvmsg(pv[0], &pm, MSG_CMSG_CLOEXEC), 1);
		assert_false(pm.msg_flags & MSG_CTRUNC); /* "a" alone carries nothing */
		assert_int_equal(bx_test_count_fds(), before + 2);
		/* Two fds of the locked file still queued: closing the socket releases them. */
		close(pv[0]);
		close(pv[1]);
		assert_int_equal(bx_test_count_fds(), before);
		assert_int_equal(bx_test_lock_held(path), 1);
		iov.iov_len = 4;
	}

	/* For contrast: the same with a control buffer installs the fd, and closing it drops
	 * the lock. */
	{
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct cmsghdr *c;
		int got;

		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		m.msg_flags = 0;
		assert_int_equal(recvmsg(sv[0], &m, MSG_CMSG_CLOEXEC), 4);
		c = CMSG_FIRSTHDR(&m);
		assert_non_null(c);
		memcpy(&got, CMSG_DATA(c), sizeof(got));
		assert_int_equal(bx_test_fd_open_on(path), 2);
		close(got);
		assert_int_equal(bx_test_lock_held(path), 0);
	}
	close(sv[0]);
	close(sv[1]);
	unlink(path);
	close(lock);
}

struct lock_case {
	const char *name;
	/* hex; '+' attaches an fd of the locked file, '*' of /dev/null, '|' a pipe's read end */
	const char *steps[6];
	int policy;
	bool fallback; /* NONE with SO_PASSRIGHTS left on, as on kernels before 6.16 */
	bool checked;  /* only pipes enter (bx_beam_set_fd_check) */
	int frames;    /* frames received before the end */
	int with_fd;   /* of which carry an fd (never the locked file's) */
	int rc;	       /* the end: 0 (EOF) or -EPROTO */
	const char *err_text;
};

static const struct lock_case lock_cases[] = {
    /* Early (the original's queue): parked, never installed; unclaimed at EOF. */
    {"on the first byte of a frame that announces none, then EOF",
     {"+00000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     1,
     0,
     -EPROTO,
     "no frame claimed"},
    {"on header byte 2 of a frame that announces none, then EOF",
     {"0000", "+0004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     1,
     0,
     -EPROTO,
     "no frame claimed"},
    {"on the payload of a frame that announces none, then EOF",
     {"00000004", "+" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     1,
     0,
     -EPROTO,
     "no frame claimed"},
    {"on the payload of a frame that announces one (none on its header)",
     {"80000004", "+" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     0,
     0,
     -EPROTO,
     "asks for an fd"},
    {"a second fd on the header of a frame that has its own, then EOF",
     {"*80", "+000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     1,
     1,
     -EPROTO,
     "no frame claimed"},
    {"on the last frame's bytes, then EOF",
     {"00000004" FRAME4, "+00000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     2,
     0,
     -EPROTO,
     "no frame claimed"},
    {"five early: the queue overflows",
     {"+00", "+00", "+10", "+00", "+00"},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     false,
     0,
     0,
     -EPROTO,
     "overflow"},
    /* Early, then a frame asks: only a pipe passes, a file is refused in the quarantine. */
    {"early on a frame that announces none, then a frame asks (checked: refused)",
     {"+00000004" FRAME4, "80000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     true,
     1,
     0,
     -EPROTO,
     "not the kind expected"},
    {"early, for the frame after next (checked: refused)",
     {"00000001",
      "+41"
      "00000000"
      "80",
      "000000"},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     true,
     2,
     0,
     -EPROTO,
     "not the kind expected"},
    {"an early pipe on a frame that announces none, then a frame asks (checked: accepted)",
     {"|00000004" FRAME4, "80000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     true,
     2,
     1,
     0,
     NULL},
    {"a file queued behind an early pipe: the pipe accepted, the file refused",
     {"|00000004" FRAME4, "+00000004" FRAME4, "80000004" FRAME4, "80000004" FRAME4},
     BX_BEAM_FDS_ANNOUNCED,
     false,
     true,
     3,
     1,
     -EPROTO,
     "not the kind expected"},
    /* beambox's own protocol: no fd is ever expected. */
    {"on a connection that takes none (SO_PASSRIGHTS off)",
     {"+80000004" FRAME4},
     BX_BEAM_FDS_NONE,
     false,
     false,
     0,
     0,
     -EPROTO,
     "takes none"},
    {"on a connection that takes none (SO_PASSRIGHTS on: older kernels)",
     {"+80000004" FRAME4},
     BX_BEAM_FDS_NONE,
     true,
     false,
     0,
     0,
     -EPROTO,
     "dropped unopened"},
    /* (the read of the first payload runs on into the next header, which has the fd) */
    {"on a plain frame of a connection that takes none (older kernels)",
     {"00000004" FRAME4, "+00000004" FRAME4},
     BX_BEAM_FDS_NONE,
     true,
     false,
     0,
     0,
     -EPROTO,
     "dropped unopened"},
    {"early, then a frame asks, on a connection that takes none (older kernels)",
     {"+00000004" FRAME4, "80000004" FRAME4},
     BX_BEAM_FDS_NONE,
     true,
     false,
     0,
     0,
     -EPROTO,
     "dropped unopened"},
};

static int only_pipes(int fd, void *ctx);

/*
 * A hostile peer sends an fd of a file this process holds a POSIX lock on,
 * at every place no fd is asked for, and early, before the frame that asks
 * for it: beam must never install it before a header asks (closing it would
 * release the lock), queue it as the original did, refuse it where it is not
 * the kind asked for (closed in the quarantine) or where no fd is ever
 * expected, and release what is left unopened; the lock must still be held,
 * as another process sees it (F_GETLK), after every case.
 */
static void test_unasked_fds_never_installed(void **state)
{
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path));

	(void)state;
	assert_true(lock >= 0);
	for (size_t i = 0; i < sizeof(lock_cases) / sizeof(lock_cases[0]); i++) {
		const struct lock_case *c = &lock_cases[i];
		bool refused_at_send = false;
		bx_frame f = {.fd = -1};
		bx_error err;
		bx_beam *b;
		int sv[2], rc, frames = 0, with_fd = 0, calls = 0;

		print_message("fd of a locked file %s\n", c->name);
		mkpair(sv);
		b = wrap(sv[0]);
		assert_int_equal(bx_beam_set_fd_policy(b, c->policy), 0);
		if (c->checked)
			assert_int_equal(bx_beam_set_fd_check(b, only_pipes, &calls), 0);
		if (c->fallback) {
			int one = 1;

			(void)setsockopt(sv[0], SOL_SOCKET, SO_PASSRIGHTS, &one, sizeof(one));
		}
		if (send_steps_from_child(sv[1], c->steps, 6, path) == -EPERM) {
			/* Linux 6.16+: SO_PASSRIGHTS refused the fd at the sender. */
			assert_int_equal(c->policy, BX_BEAM_FDS_NONE);
			assert_false(c->fallback);
			refused_at_send = true;
		}
		close(sv[1]);
		if (refused_at_send) {
			print_message("  refused by the kernel at sendmsg (EPERM)\n");
		} else {
			do {
				bx_error_clear(&err);
				rc = bx_beam_recv(b, &f, &err);
				/* Never installed, not even for a moment: ours is the only one. */
				assert_int_equal(bx_test_fd_open_on(path), 1);
				if (rc == 1) {
					if (f.fd >= 0) {
						struct stat st;

						assert_int_equal(fstat(f.fd, &st), 0);
						assert_true(S_ISFIFO(st.st_mode) ||
							    S_ISCHR(st.st_mode));
						with_fd++;
					}
					bx_frame_clear(&f);
					frames++;
				}
			} while (rc == 1);
			print_message("  %d frame(s), %d with an fd, then %d: %s\n", frames,
				      with_fd, rc, rc < 0 ? err.text : "EOF");
			assert_int_equal(frames, c->frames);
			assert_int_equal(with_fd, c->with_fd);
			assert_int_equal(rc, c->rc);
			if (c->err_text)
				assert_non_null(strstr(err.text, c->err_text));
		}
		bx_beam_free(b);
		assert_int_equal(bx_test_fd_open_on(path), 1);
		assert_int_equal(bx_test_lock_held(path), 1);
	}
	unlink(path);
	close(lock);
}

static int only_pipes(int fd, void *ctx)
{
	struct stat st;

	(*(int *)ctx)++;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISFIFO(st.st_mode) ? 0 : -EBADF;
}

/*
 * Where an fd is asked for, a peer can still send the wrong kind. With a
 * check, the fd is received in a helper thread's own fd table, checked
 * there, and a refused one is closed there: the lock survives. A pipe
 * passes and arrives as usual.
 */
static void test_fd_check_before_install(void **state)
{
	static const char *const file_steps[] = {"+80000004" FRAME4};
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path)), sv[2], p[2], calls = 0;
	bx_frame f = {.fd = -1};
	bx_error err;
	bx_beam *b;
	uint8_t wire[8];

	(void)state;
	assert_true(lock >= 0);
	mkpair(sv);
	b = wrap(sv[0]);
	assert_int_equal(bx_beam_set_fd_check(b, only_pipes, &calls), 0);
	assert_int_equal(send_steps_from_child(sv[1], file_steps, 1, path), 0);
	assert_int_equal(bx_beam_recv(b, &f, &err), -EPROTO);
	assert_non_null(strstr(err.text, "not the kind expected"));
	assert_int_equal(calls, 1);
	assert_int_equal(bx_test_fd_open_on(path), 1);
	assert_int_equal(bx_test_lock_held(path), 1);
	bx_beam_free(b);
	close(sv[1]);

	mkpair(sv);
	b = wrap(sv[0]);
	assert_int_equal(bx_beam_set_fd_check(b, only_pipes, &calls), 0);
	mkpipe(p);
	raw_send(sv[1], wire, unhex("80000004" FRAME4, wire, sizeof(wire)), p[1], 1);
	raw_send(sv[1], wire, unhex("00000004" FRAME4, wire, sizeof(wire)), -1, 0);
	close(sv[1]);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
	assert_int_equal(calls, 2);
	assert_true(f.fd >= 0);
	assert_int_equal(ino_of(f.fd), ino_of(p[0]));
	bx_frame_clear(&f);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
	assert_int_equal(f.fd, -1);
	bx_frame_clear(&f);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
	bx_beam_free(b);
	close(p[0]);
	close(p[1]);
	unlink(path);
	close(lock);
}

/* SO_PASSCRED makes the kernel add SCM_CREDENTIALS: not beam's business. */
static void test_unexpected_cmsg(void **state)
{
	int sv[2], one = 1;
	bx_beam *b;
	bx_frame f;
	bx_error err;
	uint8_t wire[8];

	(void)state;
	mkpair(sv);
	b = wrap(sv[0]);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	raw_send(sv[1], wire, unhex("00000004" FRAME4, wire, sizeof(wire)), -1, 0);
	assert_int_equal(bx_beam_recv(b, &f, &err), -EPROTO);
	assert_non_null(strstr(err.text, "unexpected control message"));
	bx_beam_free(b);
	close(sv[1]);
}

/* ------------------------------------------------------------------ non-blocking */

static void test_nonblocking_byte_at_a_time(void **state)
{
	static const char hello[] = "800000056865"
				    "6c6c6f"
				    "00000000"
				    "00000001"
				    "21";
	uint8_t wire[32];
	size_t n = unhex(hello, wire, sizeof(wire));
	int sv[2], p[2];
	bx_beam *b;
	bx_frame f;
	bx_error err;
	size_t frames = 0;

	(void)state;
	mkpair(sv);
	mkpipe(p);
	b = wrap(sv[0]);
	set_nonblock(sv[0]);
	assert_int_equal(bx_beam_recv(b, &f, &err), -EAGAIN);
	assert_int_equal(err.code, -EAGAIN);

	for (size_t i = 0; i < n; i++) {
		int rc;

		raw_send(sv[1], wire + i, 1, p[0], i == 0 ? 1 : 0);
		rc = bx_beam_recv(b, &f, NULL);
		if (i == 8 || i == 12 || i == 17) {
			assert_int_equal(rc, 1);
			if (frames == 0) {
				assert_int_equal(f.len, 5);
				assert_string_equal((const char *)f.data, "hello");
				assert_same_file(f.fd, p[0]);
			} else if (frames == 1) {
				assert_int_equal(f.len, 0);
				assert_int_equal(f.fd, -1);
			} else {
				assert_int_equal(f.len, 1);
				assert_int_equal(f.data[0], '!');
				assert_int_equal(f.fd, -1);
			}
			frames++;
			bx_frame_clear(&f);
			/* nothing more buffered yet */
			assert_int_equal(bx_beam_recv(b, &f, NULL), -EAGAIN);
		} else {
			assert_int_equal(rc, -EAGAIN);
		}
	}
	assert_int_equal(frames, 3);
	close(sv[1]);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
	bx_beam_free(b);
	close(p[0]);
	close(p[1]);
}

struct reader {
	bx_beam *b;
	bx_frame frames[8];
	size_t n;
	int end;
	pthread_t tid;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	for (;;) {
		bx_frame f;
		int rc = bx_beam_recv(r->b, &f, NULL);

		if (rc != 1 || r->n == 8) {
			if (rc == 1)
				bx_frame_clear(&f);
			r->end = rc;
			return NULL;
		}
		r->frames[r->n++] = f;
	}
}

static void flush_all(bx_beam *a)
{
	int rc;

	while ((rc = bx_beam_flush(a)) == -EAGAIN) {
		struct pollfd p = {.fd = bx_beam_fd(a), .events = POLLOUT};

		assert_true(poll(&p, 1, 10000) == 1);
	}
	assert_int_equal(rc, 0);
}

static void test_queue_and_flush(void **state)
{
	const size_t big = 300000; /* more than a default unix socket buffer */
	uint8_t *buf = malloc(big);
	int sv[2], p[2];
	ino_t pino;
	bx_beam *a;
	struct reader r = {0};
	size_t pending;

	(void)state;
	assert_non_null(buf);
	fill_pattern(buf, big, 9);
	mkpair(sv);
	mkpipe(p);
	pino = ino_of(p[0]);
	a = wrap(sv[0]);
	r.b = wrap(sv[1]);
	set_nonblock(sv[0]);

	assert_int_equal(bx_beam_flush(a), 0); /* empty queue */
	assert_int_equal(bx_beam_queue(a, buf, big, p[0]), 0);
	assert_int_equal(bx_beam_queue(a, "small", 5, -1), 0);
	/* the queue holds its own duplicate */
	close(p[0]);
	assert_int_equal(bx_beam_pending(a), big + 4 + 9);

	/* nobody reads yet: the socket takes part of it and flush says so */
	assert_int_equal(bx_beam_flush(a), -EAGAIN);
	pending = bx_beam_pending(a);
	assert_true(pending > 0 && pending < big + 4 + 9);

	assert_int_equal(pthread_create(&r.tid, NULL, reader_main, &r), 0);
	flush_all(a);
	assert_int_equal(bx_beam_pending(a), 0);

	/* send drains what was queued first, so order is kept */
	assert_int_equal(bx_beam_queue(a, buf, big, -1), 0);
	assert_int_equal(bx_beam_send(a, "last", 4, p[1]), 0);
	assert_int_equal(bx_beam_pending(a), 0);
	assert_int_equal(bx_beam_queue(a, "after", 5, -1), 0);
	/* shutdown_write delivers the queue before the EOF */
	assert_int_equal(bx_beam_shutdown_write(a), 0);
	assert_int_equal(pthread_join(r.tid, NULL), 0);

	assert_int_equal(r.end, 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.frames[0].len, big);
	assert_memory_equal(r.frames[0].data, buf, big);
	assert_int_equal(ino_of(r.frames[0].fd), pino);
	assert_int_equal(r.frames[1].len, 5);
	assert_memory_equal(r.frames[1].data, "small", 5);
	assert_int_equal(r.frames[1].fd, -1);
	assert_int_equal(r.frames[2].len, big);
	assert_int_equal(r.frames[2].fd, -1);
	assert_int_equal(r.frames[3].len, 4);
	assert_memory_equal(r.frames[3].data, "last", 4);
	assert_same_file(r.frames[3].fd, p[1]);
	assert_int_equal(r.frames[4].len, 5);
	for (size_t i = 0; i < r.n; i++)
		bx_frame_clear(&r.frames[i]);

	bx_beam_free(a);
	bx_beam_free(r.b);
	close(p[1]);
	free(buf);
}

/* Queued frames with fds are released when the connection is freed unsent. */
static void test_free_with_queued_frames(void **state)
{
	int sv[2], p[2];
	bx_beam *a;

	(void)state;
	mkpair(sv);
	mkpipe(p);
	a = wrap(sv[0]);
	assert_int_equal(bx_beam_queue(a, "one", 3, p[0]), 0);
	assert_int_equal(bx_beam_queue(a, NULL, 0, p[1]), 0);
	bx_beam_free(a);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------ threads */

#define N_THREADS 8
#define N_FRAMES  200

struct worker {
	bx_beam *b;
	unsigned id;
	int fd;
	int rc;
	pthread_t tid;
};

/*
 * Mostly small frames (one skb each, so the kernel writes them whole), and
 * now and then one larger than a socket buffer, which the kernel writes in
 * pieces: only the connection's lock keeps other threads out of the middle.
 */
#define FRAME_BIG 150000u
#define FRAME_MAX (FRAME_BIG + N_THREADS)

static size_t frame_len(unsigned id, unsigned seq)
{
	if (seq % 25 == 7)
		return FRAME_BIG + id;
	return 8 + (id * 7919u + seq * 104729u) % 9000u;
}

static void frame_fill(uint8_t *p, size_t len, unsigned id, unsigned seq)
{
	p[0] = (uint8_t)id;
	p[1] = (uint8_t)(seq >> 8);
	p[2] = (uint8_t)seq;
	p[3] = seq % 16 == 0; /* carries an fd */
	for (size_t i = 4; i < len; i++)
		p[i] = (uint8_t)(id * 31u + seq * 17u + i);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(FRAME_MAX);

	w->rc = buf ? 0 : -ENOMEM;
	for (unsigned seq = 0; buf && seq < N_FRAMES && w->rc == 0; seq++) {
		size_t len = frame_len(w->id, seq);

		frame_fill(buf, len, w->id, seq);
		w->rc = bx_beam_send(w->b, buf, len, buf[3] ? w->fd : -1);
	}
	free(buf);
	return NULL;
}

static void test_concurrent_senders(void **state)
{
	(void)state;
	for (int nonblock = 0; nonblock < 2; nonblock++) {
		struct worker w[N_THREADS];
		unsigned next[N_THREADS] = {0};
		uint8_t *want = malloc(FRAME_MAX);
		int sv[2], p[2];
		bx_beam *a, *b;
		bx_frame f;

		assert_non_null(want);
		mkpair(sv);
		mkpipe(p);
		a = wrap(sv[0]);
		b = wrap(sv[1]);
		if (nonblock)
			set_nonblock(sv[0]);
		for (unsigned i = 0; i < N_THREADS; i++) {
			w[i] = (struct worker){.b = a, .id = i, .fd = p[1], .rc = 1};
			assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
		}
		for (unsigned n = 0; n < N_THREADS * N_FRAMES; n++) {
			unsigned id, seq;

			assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
			assert_true(f.len >= 8);
			id = f.data[0];
			seq = (unsigned)f.data[1] << 8 | f.data[2];
			assert_true(id < N_THREADS);
			assert_int_equal(seq, next[id]);
			next[id]++;
			assert_int_equal(f.len, frame_len(id, seq));
			frame_fill(want, f.len, id, seq);
			assert_memory_equal(f.data, want, f.len);
			if (want[3])
				assert_same_file(f.fd, p[1]);
			else
				assert_int_equal(f.fd, -1);
			bx_frame_clear(&f);
		}
		for (unsigned i = 0; i < N_THREADS; i++) {
			assert_int_equal(pthread_join(w[i].tid, NULL), 0);
			assert_int_equal(w[i].rc, 0);
		}
		bx_beam_free(a);
		assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
		bx_beam_free(b);
		close(p[0]);
		close(p[1]);
		free(want);
	}
}

/* ------------------------------------------------------------------ signals */

static void on_sigusr1(int sig)
{
	(void)sig;
}

struct kicker {
	pthread_t target;
	atomic_int stop;
	pthread_t tid;
};

/* Signals the target until told to stop, so one signal lands inside recvmsg. */
static void *kicker_main(void *arg)
{
	struct kicker *k = arg;

	while (!atomic_load(&k->stop)) {
		pthread_kill(k->target, SIGUSR1);
		usleep(5000);
	}
	return NULL;
}

static void test_blocking_recv_eintr_keeps_state(void **state)
{
	struct sigaction sa = {.sa_handler = on_sigusr1}, old; /* no SA_RESTART */
	struct kicker k = {.target = pthread_self()};
	int sv[2];
	bx_beam *b;
	bx_frame f;
	bx_error err;

	(void)state;
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	mkpair(sv);
	b = wrap(sv[0]);
	raw_send(sv[1],
		 "\x00\x00\x00\x03"
		 "a",
		 5, -1, 0);

	atomic_init(&k.stop, 0);
	assert_int_equal(pthread_create(&k.tid, NULL, kicker_main, &k), 0);
	assert_int_equal(bx_beam_recv(b, &f, &err), -EINTR);
	assert_int_equal(err.code, -EINTR);
	atomic_store(&k.stop, 1);
	assert_int_equal(pthread_join(k.tid, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);

	/* not fatal: the 'a' already read is kept */
	raw_send(sv[1], "bc", 2, -1, 0);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
	assert_int_equal(f.len, 3);
	assert_string_equal((const char *)f.data, "abc");
	bx_frame_clear(&f);
	close(sv[1]);
	assert_int_equal(bx_beam_recv(b, &f, NULL), 0);
	bx_beam_free(b);
}

/* ------------------------------------------------------------------ dead peer */

/* ------------------------------------------------------------------ bounded sends */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define BIG_FRAME ((size_t)3 * 1024 * 1024) /* far more than a socket buffer */

struct bounded {
	bx_beam *b;
	const uint8_t *buf;
	size_t len;
	int64_t deadline;
	int stop; /* eventfd or -1 */
	pthread_t th;
	int rc, cut;
	int64_t done_at;
};

static void *bounded_main(void *p)
{
	struct bounded *s = p;

	s->rc = bx_beam_send_until(s->b, s->buf, s->len, -1, s->deadline,
				   s->stop >= 0 ? &s->stop : NULL, s->stop >= 0 ? 1 : 0, &s->cut);
	s->done_at = mono_ms();
	return NULL;
}

static void start_bounded(struct bounded *s, bx_beam *b, const uint8_t *buf, size_t len,
			  int64_t deadline, int stop)
{
	*s = (struct bounded){.b = b, .buf = buf, .len = len, .deadline = deadline, .stop = stop};
	assert_int_equal(pthread_create(&s->th, NULL, bounded_main, s), 0);
}

/* Waits until the big frame has begun to leave (the socket is full, the rest queued). */
static void wait_pending(bx_beam *b)
{
	for (int i = 0; i < 2000 && bx_beam_pending(b) == 0; i++)
		usleep(1000);
	assert_true(bx_beam_pending(b) > 0);
}

/*
 * A peer that never reads: a bounded send gives up on time; a frame that
 * had begun cuts the connection (the peer sees EOF inside it) and every other
 * sender gets -ECONNABORTED; a frame queued behind it and not begun is
 * withdrawn and leaves the connection usable; a stop fd ends the wait with
 * -ECANCELED; frames completed by another sender's progress return 0.
 */
static void test_send_until(void **state)
{
	uint8_t *big = calloc(1, BIG_FRAME);
	int sv[2], stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), cut = -1;
	struct bounded t1, t2;
	uint64_t one = 1;
	bx_frame f = {.fd = -1};
	bx_beam *a, *peer;
	int64_t t0;

	(void)state;
	assert_non_null(big);
	assert_true(stop >= 0);

	/* 1. Timed out mid-frame: cut, and the connection is dead for everyone. */
	mkpair(sv);
	a = wrap(sv[0]);
	peer = wrap(sv[1]);
	assert_int_equal(bx_beam_set_limit(peer, BIG_FRAME), 0);
	t0 = mono_ms();
	assert_int_equal(bx_beam_send_until(a, big, BIG_FRAME, -1, t0 + 200, NULL, 0, &cut),
			 -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 200);
	assert_int_equal(cut, 1);
	assert_int_equal(bx_beam_send(a, "x", 1, -1), -ECONNABORTED);
	assert_int_equal(bx_beam_pending(a), 0);
	assert_int_equal(bx_beam_recv(peer, &f, NULL), -EBADMSG); /* EOF inside the frame */
	bx_beam_free(a);
	bx_beam_free(peer);

	/* 2. Queued behind a stuck frame, not begun: withdrawn; then a stop fd cuts the first. */
	mkpair(sv);
	a = wrap(sv[0]);
	peer = wrap(sv[1]);
	start_bounded(&t1, a, big, BIG_FRAME, -1, stop);
	wait_pending(a);
	t0 = mono_ms();
	assert_int_equal(bx_beam_send_until(a, "small", 5, -1, t0 + 100, NULL, 0, &cut),
			 -ETIMEDOUT);
	assert_int_equal(cut, 0);
	assert_int_equal(write(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(t1.th, NULL);
	assert_int_equal(t1.rc, -ECANCELED);
	assert_int_equal(t1.cut, 1);
	assert_int_equal(read(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	bx_beam_free(a);
	bx_beam_free(peer);

	/* 3. A sender waiting behind a frame that gets cut returns at once, -ECONNABORTED. */
	mkpair(sv);
	a = wrap(sv[0]);
	peer = wrap(sv[1]);
	start_bounded(&t1, a, big, BIG_FRAME, -1, stop);
	wait_pending(a);
	start_bounded(&t2, a, (const uint8_t *)"small", 5, -1, -1);
	usleep(50 * 1000);
	t0 = mono_ms();
	assert_int_equal(write(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	pthread_join(t1.th, NULL);
	pthread_join(t2.th, NULL);
	assert_int_equal(t1.rc, -ECANCELED);
	assert_int_equal(t2.rc, -ECONNABORTED);
	assert_int_equal(t2.cut, 0);
	print_message("queued sender released %lld ms after the cut\n",
		      (long long)(t2.done_at - t0));
	assert_true(t2.done_at - t0 < 5000);
	assert_int_equal(read(stop, &one, sizeof(one)), (ssize_t)sizeof(one));
	bx_beam_free(a);
	bx_beam_free(peer);

	/* 4. A reader shows up: both frames arrive whole, in order, and both senders return 0. */
	mkpair(sv);
	a = wrap(sv[0]);
	peer = wrap(sv[1]);
	assert_int_equal(bx_beam_set_limit(peer, BIG_FRAME), 0);
	big[0] = 'B';
	start_bounded(&t1, a, big, BIG_FRAME, mono_ms() + 60000, stop);
	wait_pending(a);
	start_bounded(&t2, a, (const uint8_t *)"small", 5, mono_ms() + 60000, -1);
	usleep(20 * 1000);
	assert_int_equal(bx_beam_recv(peer, &f, NULL), 1);
	assert_int_equal(f.len, BIG_FRAME);
	assert_int_equal(f.data[0], 'B');
	bx_frame_clear(&f);
	assert_int_equal(bx_beam_recv(peer, &f, NULL), 1);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.data, "small", 5);
	bx_frame_clear(&f);
	pthread_join(t1.th, NULL);
	pthread_join(t2.th, NULL);
	assert_int_equal(t1.rc, 0);
	assert_int_equal(t2.rc, 0);
	bx_beam_free(a);
	bx_beam_free(peer);

	close(stop);
	free(big);
}

static void test_send_to_closed_peer(void **state)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	int sv[2], p[2];
	bx_beam *a;

	(void)state;
	/* a SIGPIPE would kill the test binary */
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
	mkpair(sv);
	mkpipe(p);
	a = wrap(sv[0]);
	close(sv[1]);

	assert_int_equal(bx_beam_send(a, "x", 1, -1), -EPIPE);
	assert_int_equal(bx_beam_send(a, "x", 1, p[0]), -EPIPE);
	assert_int_equal(bx_beam_send(a, NULL, 0, -1), -EPIPE);
	assert_int_equal(bx_beam_queue(a, "x", 1, p[0]), 0);
	assert_int_equal(bx_beam_flush(a), -EPIPE);
	/* the peer is gone for good: queued frames are dropped */
	assert_int_equal(bx_beam_pending(a), 0);
	assert_int_equal(bx_beam_shutdown_write(a), -EPIPE);
	bx_beam_free(a);
	close(p[0]);
	close(p[1]);
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
}

/*
 * bx_beam_set_drop_oversized (a worker reading its trusted parent): a frame
 * over the limit is read and dropped as it arrives, with its fd, and the
 * connection goes on; blocking and non-blocking, and EOF inside a dropped
 * payload is still a truncated frame.
 */
static int recv_waiting(bx_beam *b, bx_frame *f, bx_error *err)
{
	for (;;) {
		struct pollfd pfd = {.fd = bx_beam_fd(b), .events = POLLIN};
		int r = bx_beam_recv(b, f, err);

		if (r != -EAGAIN)
			return r;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
	}
}

static void test_drop_oversized(void **state)
{
	static const size_t lens[] = {100000, 10, 5000, 4096, 4097};
	static const bool with_fd[] = {true, false, false, true, false};
	const size_t n = sizeof(lens) / sizeof(lens[0]);

	(void)state;
	assert_int_equal(bx_beam_set_drop_oversized(NULL, 1), -EINVAL);
	for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
		uint8_t *buf = malloc(100000);
		int sv[2], p[2];
		bx_beam *a, *b;
		struct sender s;

		assert_non_null(buf);
		mkpair(sv);
		mkpipe(p);
		a = wrap(sv[0]);
		b = wrap(sv[1]);
		assert_int_equal(bx_beam_set_limit(b, 4096), 0);
		assert_int_equal(bx_beam_set_drop_oversized(b, 1), 0);
		if (nonblocking)
			set_nonblock(sv[1]);
		for (size_t i = 0; i < n; i++) {
			bx_frame f = {.fd = -1};

			fill_pattern(buf, lens[i], (unsigned)i);
			send_async(&s, a, buf, lens[i], with_fd[i] ? p[1] : -1);
			assert_int_equal(recv_waiting(b, &f, NULL), 1);
			assert_int_equal(send_join(&s), 0);
			assert_non_null(f.data);
			assert_int_equal(f.fd >= 0, with_fd[i]);
			if (f.fd >= 0)
				assert_same_file(f.fd, p[1]);
			if (lens[i] > 4096) {
				assert_int_equal(f.len, 0);
				assert_int_equal(f.dropped, lens[i]);
				assert_int_equal(f.data[0], 0);
			} else {
				assert_int_equal(f.len, lens[i]);
				assert_int_equal(f.dropped, 0);
				assert_memory_equal(f.data, buf, lens[i]);
			}
			bx_frame_clear(&f);
			assert_int_equal(f.dropped, 0);
		}
		/* EOF inside a payload being dropped: truncated, as for any frame. */
		{
			uint8_t hdr[4] = {0x00, 0x01, 0x00, 0x00}; /* 65536 bytes announced */
			bx_frame f = {.fd = -1};
			bx_error err;

			assert_int_equal(send(sv[0], hdr, 4, MSG_NOSIGNAL), 4);
			assert_int_equal(send(sv[0], buf, 1000, MSG_NOSIGNAL), 1000);
			assert_int_equal(shutdown(sv[0], SHUT_WR), 0);
			bx_error_clear(&err);
			assert_int_equal(recv_waiting(b, &f, &err), -EBADMSG);
			assert_non_null(strstr(err.text, "(1000 of 65536 bytes)"));
		}
		bx_beam_free(a);
		bx_beam_free(b);
		close(p[0]);
		close(p[1]);
		free(buf);
	}
}

/* ------------------------------------------------------------------ beambox's framing */

/* A header of beambox's framing: nfds fds (0..4 as asked), len bytes. */
static void multi_header(uint8_t h[4], size_t len, unsigned nfds)
{
	uint32_t v = (uint32_t)len | (nfds ? 0x80000000u | (uint32_t)(nfds - 1) << 29 : 0);

	h[0] = (uint8_t)(v >> 24);
	h[1] = (uint8_t)(v >> 16);
	h[2] = (uint8_t)(v >> 8);
	h[3] = (uint8_t)v;
}

/*
 * Frames with 0..3 fds, each in one sendmsg, round trip: the header counts
 * them (bytes checked), every fd arrives in order and is the file sent.
 */
static void test_multi_fds_round_trip(void **state)
{
	int sv[2], p[3][2], fds[3];
	bx_beam *a, *b;
	uint8_t wire[64];
	(void)state;

	mkpair(sv);
	a = wrap(sv[0]);
	b = wrap(sv[1]);
	assert_int_equal(bx_beam_set_multi_fds(a, 1), 0);
	assert_int_equal(bx_beam_set_multi_fds(b, 1), 0);
	for (int i = 0; i < 3; i++) {
		mkpipe(p[i]);
		fds[i] = p[i][0];
	}
	/* The bytes on the wire: header 0xC0000003 for 3 fds and "abc". */
	{
		int raw[2];
		bx_beam *ra;
		size_t off = 0;

		mkpair(raw);
		ra = wrap(raw[0]);
		assert_int_equal(bx_beam_set_multi_fds(ra, 1), 0);
		assert_int_equal(bx_beam_send_fds_until(ra, "abc", 3, fds, 3, -1, NULL, 0, NULL),
				 0);
		assert_int_equal(raw_read(raw[1], wire, 7, &off), 3);
		assert_int_equal(off, 0);
		assert_memory_equal(wire,
				    "\xc0\x00\x00\x03"
				    "abc",
				    7);
		bx_beam_free(ra);
		close(raw[1]);
	}
	for (unsigned n = 0; n <= 3; n++) {
		char payload[8];
		bx_frame f = {.fd = -1};

		snprintf(payload, sizeof(payload), "n=%u", n);
		assert_int_equal(
		    bx_beam_send_fds_until(a, payload, strlen(payload), fds, n, -1, NULL, 0, NULL),
		    0);
		assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
		assert_int_equal(f.len, strlen(payload));
		assert_memory_equal(f.data, payload, f.len);
		assert_int_equal(f.nfds, n);
		for (unsigned i = 0; i < n; i++)
			assert_same_file(i == 0 ? f.fd : f.more_fds[i - 1], fds[i]);
		if (n == 0)
			assert_int_equal(f.fd, -1);
		bx_frame_clear(&f);
	}
	/* Several small frames in one write: one read takes them all. */
	{
		uint8_t buf[3 * 8];
		bx_frame f = {.fd = -1};

		for (int i = 0; i < 3; i++) {
			multi_header(buf + 8 * i, 4, 0);
			memcpy(buf + 8 * i + 4, "many", 4);
		}
		assert_int_equal(send(sv[0], buf, sizeof(buf), MSG_NOSIGNAL), (ssize_t)sizeof(buf));
		assert_int_equal(bx_beam_recv(b, &f, NULL), 1);
		bx_frame_clear(&f);
		assert_int_equal(bx_beam_rx_buffered(b), 16);
		for (int i = 0; i < 2; i++) {
			assert_int_equal(bx_beam_recv_nowait(b, &f, NULL), 1);
			assert_memory_equal(f.data, "many", 4);
			bx_frame_clear(&f);
		}
		assert_int_equal(bx_beam_rx_buffered(b), 0);
		assert_int_equal(bx_beam_recv_nowait(b, &f, NULL), -EAGAIN);
	}
	/* Refused before anything is written. */
	assert_int_equal(bx_beam_send_fds_until(a, "x", 1, fds, 4, -1, NULL, 0, NULL), -EINVAL);
	assert_int_equal(bx_beam_send_fds_until(a, "x", (size_t)BX_BEAM_MULTI_WIRE_MAX + 1, NULL, 0,
						-1, NULL, 0, NULL),
			 -EMSGSIZE);
	assert_int_equal(bx_beam_set_multi_fds(a, 0), 0);
	assert_int_equal(bx_beam_send_fds_until(a, "x", 1, fds, 2, -1, NULL, 0, NULL), -EINVAL);
	assert_int_equal(bx_beam_recv_nowait(a, &(bx_frame){.fd = -1}, NULL), -EINVAL);
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	bx_beam_free(a);
	bx_beam_free(b);
}

/* What a receiver in beambox's framing refuses: every case -EPROTO, nothing left installed. */
struct multi_bad {
	const char *name;
	int policy;	   /* enum bx_beam_fds */
	unsigned announce; /* the header's count */
	size_t sent;	   /* fds attached to the sendmsg */
	size_t len;	   /* payload length */
	bool split;	   /* the fds ride on the middle of the payload instead */
	bool second;	   /* a second announcing header in the same sendmsg */
	const char *what;
};

static const struct multi_bad multi_bads[] = {
    {"fewer than announced", BX_BEAM_FDS_ANNOUNCED, 2, 1, 4, false, false, "but 1 arrived"},
    {"more than announced", BX_BEAM_FDS_ANNOUNCED, 1, 2, 4, false, false, "but 2 arrived"},
    {"none announced", BX_BEAM_FDS_ANNOUNCED, 0, 1, 4, false, false, "claim"},
    {"more than 3", BX_BEAM_FDS_ANNOUNCED, 3, 4, 4, false, false, "MSG_CTRUNC"},
    {"announced, none came", BX_BEAM_FDS_ANNOUNCED, 1, 0, 4, false, false, "none arrived"},
    {"four announced", BX_BEAM_FDS_ANNOUNCED, 4, 0, 4, false, false, "more than 3"},
    {"on a big payload", BX_BEAM_FDS_ANNOUNCED, 0, 1, 100000, true, false, "MSG_CTRUNC"},
    {"two headers, one batch", BX_BEAM_FDS_ANNOUNCED, 1, 1, 4, false, true, "none arrived"},
    {"takes none", BX_BEAM_FDS_NONE, 1, 1, 4, false, false, "MSG_CTRUNC"},
    {"takes none, announced", BX_BEAM_FDS_NONE, 1, 0, 4, false, false, "takes none"},
};

static void test_multi_fds_refused(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(multi_bads) / sizeof(multi_bads[0]); k++) {
		const struct multi_bad *c = &multi_bads[k];
		uint8_t *buf = calloc(1, c->len + 16);
		int sv[2], p[2], before, r;
		size_t n = 4 + c->len;
		bx_frame f = {.fd = -1};
		bx_error err;
		bx_beam *b;

		assert_non_null(buf);
		mkpair(sv);
		mkpipe(p);
		b = wrap(sv[1]);
		assert_int_equal(bx_beam_set_fd_policy(b, c->policy), 0);
		assert_int_equal(bx_beam_set_multi_fds(b, 1), 0);
		assert_int_equal(bx_beam_set_fd_policy(b, c->policy), 0);
		multi_header(buf, c->len, c->announce);
		if (c->second) {
			multi_header(buf + n, 0, c->announce);
			n += 4;
		}
		before = bx_test_count_fds();
		if (c->policy == BX_BEAM_FDS_NONE && c->sent > 0) {
			/* SO_PASSRIGHTS off (6.16+): the kernel refuses at the sender; else
			 * dropped. */
			union {
				struct cmsghdr align;
				char b[CMSG_SPACE(sizeof(int))];
			} ctl = {0};
			struct iovec iov = {.iov_base = buf, .iov_len = n};
			struct msghdr m = {.msg_iov = &iov,
					   .msg_iovlen = 1,
					   .msg_control = ctl.b,
					   .msg_controllen = sizeof(ctl.b)};
			struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
			if (sendmsg(sv[0], &m, MSG_NOSIGNAL) < 0) {
				assert_int_equal(errno, EPERM);
				print_message("%s: refused at the sender (EPERM)\n", c->name);
				goto next;
			}
		} else if (c->split) {
			raw_send(sv[0], buf, 4 + c->len / 2, -1, 0);
			raw_send(sv[0], buf + 4 + c->len / 2, n - 4 - c->len / 2, p[0], c->sent);
		} else {
			raw_send(sv[0], buf, n, p[0], c->sent);
		}
		close(sv[0]);
		sv[0] = -1;
		bx_error_clear(&err);
		while ((r = bx_beam_recv(b, &f, &err)) == 1)
			bx_frame_clear(&f);
		print_message("%s: %d '%s'\n", c->name, r, err.text);
		assert_int_equal(r, -EPROTO);
		assert_non_null(strstr(err.text, c->what));
		/* Every fd that came was closed (or never installed). */
		assert_int_equal(bx_test_count_fds(), before - 1);
	next:
		if (sv[0] >= 0)
			close(sv[0]);
		bx_beam_free(b);
		close(p[0]);
		close(p[1]);
		free(buf);
	}
}

/*
 * A connection that takes none in beambox's framing (the parent's main
 * socket): fds of a file the parent holds a POSIX lock on, sent every way,
 * are never installed, so the lock holds.
 */
static void test_multi_takes_none_keeps_locks(void **state)
{
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path)), sv[2];
	uint8_t buf[8];
	bx_frame f = {.fd = -1};
	bx_beam *b;
	(void)state;

	assert_true(lock >= 0);
	mkpair(sv);
	b = wrap(sv[1]);
	assert_int_equal(bx_beam_set_fd_policy(b, BX_BEAM_FDS_NONE), 0);
	assert_int_equal(bx_beam_set_multi_fds(b, 1), 0);
	for (unsigned announce = 0; announce <= 3; announce++) {
		int fds[3] = {lock, lock, lock};
		union {
			struct cmsghdr align;
			char b[CMSG_SPACE(3 * sizeof(int))];
		} ctl = {0};
		struct iovec iov = {.iov_base = buf, .iov_len = 8};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.b,
				   .msg_controllen = sizeof(ctl.b)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

		multi_header(buf, 4, announce);
		memcpy(buf + 4, "lock", 4);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
		if (sendmsg(sv[0], &m, MSG_NOSIGNAL) < 0)
			assert_int_equal(errno, EPERM); /* SO_PASSRIGHTS off */
	}
	assert_int_equal(send(sv[0], "\x00\x00\x00\x00", 4, MSG_NOSIGNAL), 4);
	close(sv[0]);
	while (bx_beam_recv(b, &f, NULL) == 1)
		bx_frame_clear(&f);
	bx_beam_free(b);
	assert_int_equal(bx_test_fd_open_on(path), 1);
	assert_int_equal(bx_test_lock_held(path), 1);
	unlink(path);
	close(lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_new_rejects_non_stream_sockets),
	    bx_fd_test(test_null_and_limits),
	    bx_fd_test(test_send_bad_fd_writes_nothing),
	    bx_fd_test(test_roundtrip),
	    bx_fd_test(test_receive_limit),
	    bx_fd_test(test_default_limit_one_mib),
	    bx_fd_test(test_send_matches_original_bytes),
	    bx_fd_test(test_recv_original_framing),
	    bx_fd_test(test_hand_framed_streams),
	    bx_fd_test(test_unexpected_cmsg),
	    bx_fd_test(test_nonblocking_byte_at_a_time),
	    bx_fd_test(test_queue_and_flush),
	    bx_fd_test(test_free_with_queued_frames),
	    bx_fd_test(test_concurrent_senders),
	    bx_fd_test(test_blocking_recv_eintr_keeps_state),
	    bx_fd_test(test_send_to_closed_peer),
	    bx_fd_test(test_drop_oversized),
	    bx_fd_test(test_send_until),
	    bx_fd_test(test_kernel_drops_fds_without_control_buffer),
	    bx_fd_test(test_unasked_fds_never_installed),
	    bx_fd_test(test_fd_check_before_install),
	    bx_fd_test(test_multi_fds_round_trip),
	    bx_fd_test(test_multi_fds_refused),
	    bx_fd_test(test_multi_takes_none_keeps_locks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
