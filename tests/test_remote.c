/* SPDX-License-Identifier: MIT */
/*
 * Interoperability of remote jobs with Docker 1.0's engine/remote.go, byte
 * for byte (design/beam-vectors.txt, section 4 and the M vectors). No
 * process is spawned: one end of a socketpair runs the real library code
 * (bx_remote_serve as the worker, a proxy from bx_remote_proxy_new as the
 * parent), the other end is a hand-written "original Go" peer that frames
 * exactly as pkg/beam did (sendmsg of header[0] alone with the fd, then
 * header[1:4], then the payload) and checks the exact bytes it reads.
 *
 * Raw streams are read one byte per recvmsg: the kernel hands an fd over
 * with the first byte of the sendmsg that carried it, so this pins the
 * stream offset of every fd. Every read is bounded by poll(), peers run in
 * threads that record failures instead of asserting, every thread is
 * joined, and every test runs under bx_fd_test.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <beambox/beam.h>
#include <beambox/data.h>
#include <beambox/engine.h>
#include <beambox/remote.h>
#include <beambox/spawn.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "remote.h"

#define TIMEOUT_MS 5000
/* A proxy job that hangs fails on this instead of hanging the test. */
#define JOB_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ vectors */

/* M1..M9 of beam-vectors.txt (payloads, hex). */
#define HEX_M1 "3030303b"
#define HEX_M2 "3030303b333a636d642c31353a333a6c6f672c363a7374646f75742c2c"
#define HEX_M3 "3030303b333a636d642c31353a333a6c6f672c363a7374646572722c2c"
#define HEX_M4 "3030303b333a636d642c31343a333a6c6f672c353a737464696e2c2c"
#define HEX_M5 "3030303b333a636d642c31333a363a7374617475732c313a302c2c"
#define HEX_M6 "3030303b333a636d642c31333a363a7374617475732c313a312c2c"
#define HEX_M7 "3030303b333a636d642c31353a363a7374617475732c333a3132372c2c"
#define HEX_M8_1                                                                                   \
	"3030303b333a636d642c31353a343a6563686f2c353a68656c6c6f2c2c333a656e762c32333a31393a303030" \
	"3b"                                                                                       \
	"333a464f4f2c363a333a6261722c2c2c2c"
#define HEX_M8_2                                                                                   \
	"3030303b333a656e762c32333a31393a3030303b333a464f4f2c363a333a6261722c2c2c2c333a636d642c31" \
	"35"                                                                                       \
	"3a343a6563686f2c353a68656c6c6f2c2c"
#define HEX_M9 "3030303b"

/* Section 4: the main socket, parent -> worker (66 bytes, fd at offset 0). */
#define HEX_MAIN_REQUEST "8000003e" HEX_M8_1

/*
 * Section 4: the job channel, worker -> parent (129 bytes): log stdout,
 * log stderr, log stdin (fds at offsets 0, 33, 66), then status 0.
 */
#define HEX_LOG_FRAMES "8000001d" HEX_M2 "8000001d" HEX_M3 "8000001c" HEX_M4
#define HEX_JOB_STREAM HEX_LOG_FRAMES "0000001b" HEX_M5
static const size_t log_fd_offsets[3] = {0, 33, 66};

/* A job with no env still sends env=["000;"] ("3:env,7:4:000;,,"). */
#define REQ_NO_ENV "000;3:cmd,15:4:echo,5:hello,,3:env,7:4:000;,,"

/* ------------------------------------------------------------------ helpers */

static void mkpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
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

/* Waits for fd to become readable (or hung up): 0, or -ETIMEDOUT / -errno. */
static int wait_readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	for (;;) {
		int r = poll(&pfd, 1, TIMEOUT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r == 0 ? -ETIMEDOUT : 0;
	}
}

static int send_all(int sock, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t n = send(sock, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * pkg/beam UnixConn.Send: with an fd, sendmsg() of ONLY header[0] carrying
 * SCM_RIGHTS, then write() of header[1:4], then write() of the payload;
 * without, write(header), write(payload). The caller closes fd afterwards,
 * as the original did.
 */
static int orig_send(int sock, const void *payload, size_t len, int fd)
{
	uint32_t h = (uint32_t)len | (fd >= 0 ? 0x80000000u : 0);
	uint8_t hdr[4] = {(uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h};
	int r;

	if (fd >= 0) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = hdr, .iov_len = 1};
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
		if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
			return -errno;
		r = send_all(sock, hdr + 1, 3);
	} else {
		r = send_all(sock, hdr, 4);
	}
	return r < 0 ? r : send_all(sock, payload, len);
}

static int orig_send_hex(int sock, const char *hex, int fd)
{
	uint8_t buf[256];
	size_t n = strlen(hex) / 2;

	if (n > sizeof(buf))
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		buf[i] = (uint8_t)v;
	}
	return orig_send(sock, buf, n, fd);
}

/* A byte stream as the peer's recvmsg saw it, with each fd's stream offset. */
#define RAW_MAX	    4096
#define RAW_FDS_MAX 8
struct raw_stream {
	uint8_t bytes[RAW_MAX];
	size_t len;
	int fds[RAW_FDS_MAX];
	size_t fd_off[RAW_FDS_MAX];
	size_t nfds;
	bool eof;
};

static void raw_init(struct raw_stream *rs)
{
	memset(rs, 0, sizeof(*rs));
}

static void raw_close_fds(struct raw_stream *rs)
{
	for (size_t i = 0; i < rs->nfds; i++)
		if (rs->fds[i] >= 0)
			close(rs->fds[i]);
	rs->nfds = 0;
}

/*
 * Reads one byte per recvmsg until rs->len reaches want, or to EOF when want
 * is 0. Returns 0 (rs->eof tells whether EOF came), or -ETIMEDOUT / -errno.
 */
static int raw_read(int sock, size_t want, struct raw_stream *rs)
{
	while ((want == 0 || rs->len < want) && rs->len < RAW_MAX) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} ctl;
		struct iovec iov = {.iov_base = rs->bytes + rs->len, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		ssize_t n;
		int r = wait_readable(sock);

		if (r < 0)
			return r;
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (rs->nfds == RAW_FDS_MAX) {
					close(fd);
					return -EPROTO;
				}
				rs->fd_off[rs->nfds] = rs->len;
				rs->fds[rs->nfds++] = fd;
			}
		}
		if (n == 0) {
			rs->eof = true;
			return 0;
		}
		rs->len += (size_t)n;
	}
	return 0;
}

/* Reads fd to EOF into buf (at most cap bytes kept). Returns the length or -errno. */
static ssize_t read_to_eof(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	for (;;) {
		char chunk[65536];
		ssize_t n;
		int r = wait_readable(fd);

		if (r < 0)
			return r;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return (ssize_t)len;
		if ((size_t)n > cap - len)
			return -EMSGSIZE;
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
}

/* Waits until the peer closed sock (EOF or ECONNRESET), discarding what it sent. */
static int wait_closed(int sock)
{
	for (;;) {
		char buf[256];
		ssize_t n;
		int r = wait_readable(sock);

		if (r < 0)
			return r;
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

static bool is_fifo(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int accmode(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : (fl & O_ACCMODE);
}

/* ================================================== 1. beambox worker, original parent */

struct worker {
	pthread_t th;
	int parent; /* our end of the main socket, as the original parent holds it */
	bx_beam *main;
	bx_engine *eng;
	struct bx_remote_serve_opts opts;
	int rc;
};

/*
 * echo: prints its args joined by spaces and "\n". ctx is the FOO the job
 * must carry, or NULL for a job that must have no env at all; status 3 if not.
 */
static int echo_handler(bx_job *job, void *ctx)
{
	const char *want_foo = ctx;
	const char *foo = bx_job_getenv(job, "FOO");

	if (want_foo ? !foo || strcmp(foo, want_foo) != 0 || bx_job_envc(job) != 1
		     : bx_job_envc(job) != 0)
		return 3;
	for (size_t i = 0; i < bx_job_argc(job); i++)
		bx_job_printf(job, "%s%s", i ? " " : "", bx_job_arg(job, i));
	bx_job_printf(job, "\n");
	return 0;
}

static void *serve_thread(void *arg)
{
	struct worker *w = arg;

	w->rc = bx_remote_serve_with(w->main, w->eng, &w->opts);
	return NULL;
}

/*
 * A handler failing the way a Go handler did with job.Errorf: something on
 * stderr first, then a failure with its errno.
 */
static int fail_errno_handler(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_eprintf(job, "partial\n");
	return bx_job_fail(job, -EIO, "disk on fire");
}

/* A worker serving on a thread; beambox_parent: whether its parent announced beambox. */
static void worker_start_as(struct worker *w, const char *want_foo, bool beambox_parent)
{
	int sv[2];

	memset(w, 0, sizeof(*w));
	w->opts.beambox_parent = beambox_parent;
	mkpair(sv);
	assert_int_equal(bx_engine_new(&w->eng), 0);
	assert_int_equal(bx_engine_register(w->eng, "echo", echo_handler, (void *)want_foo), 0);
	assert_int_equal(bx_engine_register(w->eng, "fail_errno", fail_errno_handler, NULL), 0);
	assert_int_equal(bx_beam_new(sv[1], &w->main), 0);
	w->parent = sv[0];
	w->rc = -1;
	assert_int_equal(pthread_create(&w->th, NULL, serve_thread, w), 0);
}

/* This section's worker: the parent is an original one (no config frame). */
static void worker_start(struct worker *w, const char *want_foo)
{
	worker_start_as(w, want_foo, false);
}

/* The original parent exits: its end of main closes; the worker must return 0. */
static void worker_stop(struct worker *w)
{
	close(w->parent);
	assert_int_equal(pthread_join(w->th, NULL), 0);
	assert_int_equal(w->rc, 0);
	bx_beam_free(w->main);
	bx_engine_free(w->eng);
}

/* engine/remote.go Sender.Handle: a fresh socketpair, its far end rides on the request. */
static int send_request(struct worker *w, const void *payload, size_t len)
{
	int sv[2];

	mkpair(sv);
	assert_int_equal(orig_send(w->parent, payload, len, sv[1]), 0);
	close(sv[1]); /* the original closes the sent fd */
	return sv[0];
}

/*
 * Reads the job channel to the exact bytes of want (hex) and checks that the
 * three log fds came at offsets 0, 33 and 66: stdout and stderr pipe READ
 * ends, the stdin pipe WRITE end. fds[] receives them.
 */
static void expect_job_stream(int chan, const char *want_hex, int fds[3])
{
	static struct raw_stream rs;
	uint8_t want[256];
	size_t n = unhex(want_hex, want, sizeof(want));

	raw_init(&rs);
	assert_int_equal(raw_read(chan, n, &rs), 0);
	assert_int_equal(rs.len, n);
	assert_memory_equal(rs.bytes, want, n);
	assert_int_equal(rs.nfds, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rs.fd_off[i], log_fd_offsets[i]);
		fds[i] = rs.fds[i];
		assert_true(is_fifo(fds[i]));
	}
	assert_int_equal(accmode(fds[0]), O_RDONLY);
	assert_int_equal(accmode(fds[1]), O_RDONLY);
	assert_int_equal(accmode(fds[2]), O_WRONLY);
}

/* After the stream: nothing more, then EOF (the worker closed its end). */
static void expect_eof(int chan)
{
	struct raw_stream rs;

	raw_init(&rs);
	assert_int_equal(raw_read(chan, 0, &rs), 0);
	assert_true(rs.eof);
	assert_int_equal(rs.len, 0);
	assert_int_equal(rs.nfds, 0);
}

static void expect_pipe(int fd, const char *want)
{
	char buf[256];
	ssize_t n = read_to_eof(fd, buf, sizeof(buf));

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

/* The captured `FOO=bar echo hello` job, with the request in the given key order. */
static void serve_capture(const char *request_hex)
{
	struct worker w;
	uint8_t req[128];
	size_t n = unhex(request_hex, req, sizeof(req));
	int fds[3];
	int chan;

	assert_int_equal(n, 62);
	worker_start(&w, "bar");
	chan = send_request(&w, req, n);
	expect_job_stream(chan, HEX_JOB_STREAM, fds);
	expect_pipe(fds[0], "hello\n");
	expect_pipe(fds[1], "");
	close(fds[0]);
	close(fds[1]);
	close(fds[2]); /* the parent's stdin: none */
	expect_eof(chan);
	close(chan);
	worker_stop(&w);
}

static void test_worker_capture_order_cmd_env(void **state)
{
	(void)state;
	serve_capture(HEX_M8_1);
}

static void test_worker_capture_order_env_cmd(void **state)
{
	(void)state;
	serve_capture(HEX_M8_2);
}

static void test_worker_job_without_env(void **state)
{
	struct worker w;
	int fds[3];
	int chan;

	(void)state;
	worker_start(&w, NULL);
	chan = send_request(&w, REQ_NO_ENV, strlen(REQ_NO_ENV));
	expect_job_stream(chan, HEX_JOB_STREAM, fds);
	expect_pipe(fds[0], "hello\n");
	expect_pipe(fds[1], "");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
	close(chan);
	worker_stop(&w);
}

static void test_worker_unknown_command(void **state)
{
	static const char req[] = "000;3:cmd,9:6:nosuch,,3:env,7:4:000;,,";
	struct worker w;
	int fds[3];
	int chan;

	(void)state;
	worker_start(&w, "bar");
	chan = send_request(&w, req, strlen(req));
	/* The same log frames, then M7 "status 127". */
	expect_job_stream(chan, HEX_LOG_FRAMES "0000001d" HEX_M7, fds);
	expect_pipe(fds[0], "");
	expect_pipe(fds[1], "nosuch: command not found\n");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
	close(chan);
	worker_stop(&w);
}

static char last_warning[512];

static void record_log(enum bx_log_level level, const char *message, void *ctx)
{
	(void)ctx;
	if (level == BX_LOG_WARNING)
		snprintf(last_warning, sizeof(last_warning), "%s", message);
}

static void test_worker_drops_request_without_channel(void **state)
{
	struct worker w;
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));
	int fds[3];
	int chan;

	(void)state;
	last_warning[0] = '\0';
	bx_set_log(record_log, NULL);
	worker_start(&w, "bar");
	/* The same request with no fd attached: nowhere to answer, dropped. */
	assert_int_equal(orig_send(w.parent, req, n, -1), 0);
	/* The loop keeps serving: the next request is answered as in the capture. */
	chan = send_request(&w, req, n);
	expect_job_stream(chan, HEX_JOB_STREAM, fds);
	expect_pipe(fds[0], "hello\n");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
	close(chan);
	worker_stop(&w);
	bx_set_log(NULL, NULL);
	assert_non_null(strstr(last_warning, "without a channel"));
}

/*
 * A failure, as an original parent sees it: exactly the capture's log
 * frames (fds at 0, 33, 66), M6 "status 1", EOF; the reason is on the
 * stderr pipe, ending in a newline. This is what Docker 1.0's worker sent
 * for a handler that failed with job.Errorf(...).
 */
static void expect_original_failure(int chan, const char *want_stderr_prefix,
				    const char *want_stderr_suffix)
{
	int fds[3];
	char err[1024];
	ssize_t n;

	expect_job_stream(chan, HEX_LOG_FRAMES "0000001b" HEX_M6, fds);
	expect_pipe(fds[0], "");
	n = read_to_eof(fds[1], err, sizeof(err) - 1);
	assert_true(n > 0);
	err[n] = '\0';
	if (strncmp(err, want_stderr_prefix, strlen(want_stderr_prefix)) != 0 ||
	    (want_stderr_suffix &&
	     (strlen(err) < strlen(want_stderr_suffix) ||
	      strcmp(err + strlen(err) - strlen(want_stderr_suffix), want_stderr_suffix) != 0)) ||
	    err[n - 1] != '\n')
		fail_msg("stderr pipe: \"%s\"", err);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
}

/*
 * A failure, as a beambox parent sees it (no fds passed here, so the log
 * frames come first when the job got that far): cmd=[error, TEXT]
 * errno=[N], then exactly M6, then EOF.
 */
static void expect_beambox_failure(int chan, bool with_logs, const char *want_text, int want_errno)
{
	static struct raw_stream rs;
	uint8_t status[64];
	size_t nstatus = unhex("0000001b" HEX_M6, status, sizeof(status));
	size_t off = with_logs ? 98 : 0; /* the three log frames: 33 + 33 + 32 bytes */
	uint32_t elen;
	bx_msg *m = NULL;
	const bx_bytes *cmd;
	bx_bytes num;
	size_t ncmd;
	char want_num[16];

	raw_init(&rs);
	assert_int_equal(raw_read(chan, 0, &rs), 0);
	assert_true(rs.eof);
	assert_int_equal(rs.nfds, with_logs ? 3 : 0);
	raw_close_fds(&rs);
	assert_true(rs.len > off + 4 + nstatus);
	elen = (uint32_t)rs.bytes[off] << 24 | (uint32_t)rs.bytes[off + 1] << 16 |
	       (uint32_t)rs.bytes[off + 2] << 8 | rs.bytes[off + 3];
	assert_int_equal(elen & 0x80000000u, 0);
	assert_int_equal(off + 4 + elen + nstatus, rs.len);
	assert_int_equal(bx_msg_decode(rs.bytes + off + 4, elen, 0, &m, NULL), 0);
	assert_int_equal(bx_msg_nkeys(m), 2);
	assert_int_equal(bx_msg_get(m, "cmd", &cmd, &ncmd), 0);
	assert_int_equal(ncmd, 2);
	assert_string_equal(cmd[0].p, "error");
	if (!strstr((const char *)cmd[1].p, want_text))
		fail_msg("error text \"%s\", want \"%s\" in it", cmd[1].p, want_text);
	assert_int_equal(bx_msg_get_one(m, "errno", &num), 0);
	snprintf(want_num, sizeof(want_num), "%d", want_errno);
	assert_string_equal(num.p, want_num);
	bx_msg_free(m);
	assert_memory_equal(rs.bytes + off + 4 + elen, status, nstatus);
}

/* The capture's request and answer: the worker is still serving as before. */
static void expect_capture_served(struct worker *w)
{
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));
	int fds[3];
	int chan = send_request(w, req, n);

	expect_job_stream(chan, HEX_JOB_STREAM, fds);
	expect_pipe(fds[0], "hello\n");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
	close(chan);
}

/* "15:" announces more than the key list holds. */
static const char malformed_req[] = "000;3:cmd,15:4:echo,,";

static void test_worker_malformed_request(void **state)
{
	struct worker w;
	int chan;

	(void)state;
	worker_start(&w, "bar");
	chan = send_request(&w, malformed_req, strlen(malformed_req));
	/* No `error` frame for an original parent: its router knew no such verb. */
	expect_original_failure(chan, "bad job request: ", NULL);
	close(chan);
	expect_capture_served(&w);
	worker_stop(&w);
}

static void test_worker_malformed_request_beambox(void **state)
{
	struct worker w;
	int chan;

	(void)state;
	worker_start_as(&w, "bar", true);
	chan = send_request(&w, malformed_req, strlen(malformed_req));
	expect_beambox_failure(chan, false, "bad job request", EBADMSG);
	close(chan);
	worker_stop(&w);
}

/* bx_job_fail in a handler, for an original parent: its text on stderr, then status 1. */
static void test_worker_job_fail_original(void **state)
{
	static const char req[] = "000;3:cmd,14:10:fail_errno,,3:env,7:4:000;,,";
	struct worker w;
	int chan;

	(void)state;
	worker_start(&w, "bar");
	chan = send_request(&w, req, strlen(req));
	expect_original_failure(chan, "partial\ndisk on fire\n", "partial\ndisk on fire\n");
	close(chan);
	worker_stop(&w);
}

/* The same failure for a beambox parent: its stderr as written, the errno in an error frame. */
static void test_worker_job_fail_beambox(void **state)
{
	static const char req[] = "000;3:cmd,14:10:fail_errno,,3:env,7:4:000;,,";
	struct worker w;
	int chan;

	(void)state;
	worker_start_as(&w, "bar", true);
	chan = send_request(&w, req, strlen(req));
	expect_beambox_failure(chan, true, "disk on fire", EIO);
	close(chan);
	worker_stop(&w);
}

/* cmd=[echo, ARG...] env=["000;"]: n args of arg_len 'a's each, encoded (malloc'd). */
static char *build_request(size_t nargs, size_t arg_len, size_t *len)
{
	bx_msg *m = NULL;
	char *arg = malloc(arg_len + 1), *buf = NULL;

	assert_non_null(arg);
	memset(arg, 'a', arg_len);
	arg[arg_len] = '\0';
	assert_int_equal(bx_msg_new(&m), 0);
	assert_int_equal(bx_msg_add(m, "cmd", "echo"), 0);
	for (size_t i = 0; i < nargs; i++)
		assert_int_equal(bx_msg_add(m, "cmd", arg), 0);
	assert_int_equal(bx_msg_add(m, "env", "000;"), 0);
	assert_int_equal(bx_msg_encode(m, &buf, len), 0);
	bx_msg_free(m);
	free(arg);
	return buf;
}

/*
 * The parent is trusted: a request over 1 MiB or with more than 4096
 * arguments is its mistake. The worker refuses that job cleanly (the
 * oversized payload is dropped as it arrives, never allocated) and serves on.
 */
static void test_worker_refuses_oversized_requests(void **state)
{
	static const struct {
		size_t nargs, arg_len;
		const char *want;
	} cases[] = {
	    {1, 1024 * 1024, NULL},
	    {4097, 1, "job 'echo' refused: 4097 arguments, over the worker's limit of 4096"},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int beambox = 0; beambox < 2; beambox++) {
			struct worker w;
			size_t len = 0;
			char *req = build_request(cases[c].nargs, cases[c].arg_len, &len);
			char want[160];
			int chan;

			if (cases[c].nargs == 1) /* the text names the request's size */
				snprintf(want, sizeof(want),
					 "job request of %zu bytes refused: over the worker's "
					 "limit of 1048576 bytes",
					 len);
			else
				snprintf(want, sizeof(want), "%s", cases[c].want);
			assert_true(len > 1024 * 1024 || cases[c].nargs > 4096);
			worker_start_as(&w, "bar", beambox);
			chan = send_request(&w, req, len);
			if (beambox)
				expect_beambox_failure(chan, false, want, E2BIG);
			else
				expect_original_failure(chan, want, "\n");
			close(chan);
			free(req);
			expect_capture_served(&w);
			expect_capture_served(&w);
			worker_stop(&w);
		}
	}
}

/*
 * The parent closes its end with bytes of ours unread (a Go parent never
 * reads the main socket): the worker sees a reset, which is still the
 * parent's close, so it ends cleanly (exit 0 in a real worker).
 */
static void test_worker_parent_reset_is_clean_end(void **state)
{
	struct worker w;

	(void)state;
	worker_start(&w, "bar");
	assert_int_equal(send_all(bx_beam_fd(w.main), "unread", 6), 0);
	worker_stop(&w); /* closes the parent's end unread; asserts the loop returned 0 */
}

static void test_worker_returns_0_when_main_closes(void **state)
{
	struct worker w;

	(void)state;
	worker_start(&w, "bar");
	worker_stop(&w); /* asserts bx_remote_serve returned 0 */
}

/* ================================================== 2. beambox parent, original worker */

enum fake_mode {
	FAKE_OK,
	FAKE_NO_STATUS,
	FAKE_STATUS_256,
	FAKE_UNKNOWN_VERB,
	FAKE_LOG_NO_FD,
	FAKE_LOG_TWICE,
	FAKE_GARBAGE,
	FAKE_ERROR_ERRNO,
};

/* The original Go worker (engine/remote.go Receiver), serving one job. */
struct fake_worker {
	pthread_t th;
	int sock; /* its end of the main socket */
	enum fake_mode mode;
	uint8_t want_req[256]; /* the exact main-socket bytes: header + payload */
	size_t want_req_len;
	char *stdin_got; /* what arrived in the `log stdin` pipe */
	size_t stdin_cap;
	ssize_t stdin_len;
	char fail[256];
};

static void fake_fail(struct fake_worker *fw, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fake_fail(struct fake_worker *fw, int line, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (fw->fail[0])
		return;
	k = snprintf(fw->fail, sizeof(fw->fail), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(fw->fail + k, sizeof(fw->fail) - (size_t)k, fmt, ap);
	va_end(ap);
}

#define FAKE_CHECK(fw, cond)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fake_fail(fw, __LINE__, "%s", #cond);                                      \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* log stdout/stderr/stdin with their pipes, "hello\n" on stdout, stdin drained to EOF. */
static bool fake_logs_and_run(struct fake_worker *fw, int chan)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1};
	bool ok = false;

	FAKE_CHECK(fw, pipe2(out, O_CLOEXEC) == 0);
	FAKE_CHECK(fw, pipe2(err, O_CLOEXEC) == 0);
	FAKE_CHECK(fw, pipe2(in, O_CLOEXEC) == 0);
	FAKE_CHECK(fw, orig_send_hex(chan, HEX_M2, out[0]) == 0);
	close_fd(&out[0]);
	FAKE_CHECK(fw, orig_send_hex(chan, HEX_M3, err[0]) == 0);
	close_fd(&err[0]);
	FAKE_CHECK(fw, orig_send_hex(chan, HEX_M4, in[1]) == 0);
	close_fd(&in[1]);
	/* The handler: writes its output, reads its stdin, closes its ends. */
	FAKE_CHECK(fw, write(out[1], "hello\n", 6) == 6);
	close_fd(&out[1]);
	close_fd(&err[1]);
	fw->stdin_len = read_to_eof(in[0], fw->stdin_got, fw->stdin_cap);
	FAKE_CHECK(fw, fw->stdin_len >= 0);
	ok = true;
out:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&in[0]);
	close_fd(&in[1]);
	return ok;
}

static void *fake_worker_thread(void *arg)
{
	static const char status_256[] = "000;3:cmd,15:6:status,3:256,,";
	static const char frob[] = "000;3:cmd,7:4:frob,,";
	static const uint8_t garbage[] = {0x7f, 0xff, 0xff, 0xff, 'j', 'u', 'n', 'k'};
	static const char error_errno[] = "000;3:cmd,15:5:error,4:boom,,5:errno,4:1:2,,";
	struct fake_worker *fw = arg;
	struct raw_stream *rs = calloc(1, sizeof(*rs));
	int chan = -1, p[2][2] = {{-1, -1}, {-1, -1}};

	FAKE_CHECK(fw, rs != NULL);
	/* The request: exact bytes, one fd riding on byte 0, and it is a unix socket. */
	FAKE_CHECK(fw, raw_read(fw->sock, fw->want_req_len, rs) == 0);
	FAKE_CHECK(fw, rs->len == fw->want_req_len);
	if (memcmp(rs->bytes, fw->want_req, rs->len) != 0) {
		fake_fail(fw, __LINE__, "request bytes differ: got \"%.*s\"",
			  (int)(rs->len > 4 ? rs->len - 4 : 0), (const char *)rs->bytes + 4);
		goto out;
	}
	FAKE_CHECK(fw, rs->nfds == 1);
	FAKE_CHECK(fw, rs->fd_off[0] == 0);
	chan = rs->fds[0];
	rs->nfds = 0;
	{
		struct stat st;
		int type = 0;
		socklen_t tl = sizeof(type);

		FAKE_CHECK(fw, fstat(chan, &st) == 0 && S_ISSOCK(st.st_mode));
		FAKE_CHECK(fw, getsockopt(chan, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
				   type == SOCK_STREAM);
	}

	switch (fw->mode) {
	case FAKE_OK:
		if (!fake_logs_and_run(fw, chan))
			goto out;
		FAKE_CHECK(fw, orig_send_hex(chan, HEX_M5, -1) == 0);
		break; /* then close, as the original worker */
	case FAKE_NO_STATUS:
		if (!fake_logs_and_run(fw, chan))
			goto out;
		break; /* close without a status (a dying worker) */
	case FAKE_STATUS_256:
		if (!fake_logs_and_run(fw, chan))
			goto out;
		FAKE_CHECK(fw, orig_send(chan, status_256, strlen(status_256), -1) == 0);
		FAKE_CHECK(fw, wait_closed(chan) == 0);
		break;
	case FAKE_UNKNOWN_VERB:
		FAKE_CHECK(fw, orig_send(chan, frob, strlen(frob), -1) == 0);
		FAKE_CHECK(fw, wait_closed(chan) == 0);
		break;
	case FAKE_LOG_NO_FD:
		FAKE_CHECK(fw, orig_send_hex(chan, HEX_M2, -1) == 0);
		FAKE_CHECK(fw, wait_closed(chan) == 0);
		break;
	case FAKE_LOG_TWICE:
		FAKE_CHECK(fw, pipe2(p[0], O_CLOEXEC) == 0 && pipe2(p[1], O_CLOEXEC) == 0);
		FAKE_CHECK(fw, orig_send_hex(chan, HEX_M2, p[0][0]) == 0);
		FAKE_CHECK(fw, orig_send_hex(chan, HEX_M2, p[1][0]) == 0);
		FAKE_CHECK(fw, wait_closed(chan) == 0);
		break;
	case FAKE_GARBAGE:
		FAKE_CHECK(fw, send_all(chan, garbage, sizeof(garbage)) == 0);
		FAKE_CHECK(fw, wait_closed(chan) == 0);
		break;
	case FAKE_ERROR_ERRNO:
		/* beambox/1's error frame with an errno, from a peer that never said beambox/1. */
		FAKE_CHECK(fw, orig_send(chan, error_errno, strlen(error_errno), -1) == 0);
		FAKE_CHECK(fw, orig_send_hex(chan, HEX_M6, -1) == 0);
		break;
	}
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&p[i][0]);
		close_fd(&p[i][1]);
	}
	close_fd(&chan);
	if (rs)
		raw_close_fds(rs);
	free(rs);
	return NULL;
}

struct proxy_rig {
	int sv[2];
	bx_beam *main;
	bx_engine *proxy;
	struct fake_worker fw;
};

/* want_payload: the request payload the original worker must receive (text). */
static void rig_start(struct proxy_rig *rig, enum fake_mode mode, const char *want_payload,
		      size_t want_len)
{
	struct fake_worker *fw = &rig->fw;
	uint32_t h = (uint32_t)want_len | 0x80000000u;

	memset(rig, 0, sizeof(*rig));
	mkpair(rig->sv);
	assert_int_equal(bx_beam_new(rig->sv[0], &rig->main), 0);
	/* NULL peer: an original worker (no hello, takes_fds 0), no pid to watch. */
	assert_int_equal(bx_remote_proxy_new(rig->main, NULL, &rig->proxy), 0);
	fw->sock = rig->sv[1];
	fw->mode = mode;
	assert_true(4 + want_len <= sizeof(fw->want_req));
	fw->want_req[0] = (uint8_t)(h >> 24);
	fw->want_req[1] = (uint8_t)(h >> 16);
	fw->want_req[2] = (uint8_t)(h >> 8);
	fw->want_req[3] = (uint8_t)h;
	memcpy(fw->want_req + 4, want_payload, want_len);
	fw->want_req_len = 4 + want_len;
	fw->stdin_cap = 1024 * 1024;
	fw->stdin_got = malloc(fw->stdin_cap);
	assert_non_null(fw->stdin_got);
	fw->stdin_len = -1;
	assert_int_equal(pthread_create(&fw->th, NULL, fake_worker_thread, fw), 0);
}

/* want_stdin: what the `log stdin` pipe must have carried (NULL: not checked). */
static void rig_stop(struct proxy_rig *rig, const char *want_stdin, size_t want_stdin_len)
{
	bool stdin_ok;

	assert_int_equal(pthread_join(rig->fw.th, NULL), 0);
	bx_remote_proxy_free(rig->proxy);
	bx_beam_free(rig->main);
	close(rig->sv[1]);
	stdin_ok = !want_stdin || (rig->fw.stdin_len == (ssize_t)want_stdin_len &&
				   memcmp(rig->fw.stdin_got, want_stdin, want_stdin_len) == 0);
	free(rig->fw.stdin_got);
	if (rig->fw.fail[0])
		fail_msg("original worker: %s", rig->fw.fail);
	if (!stdin_ok)
		fail_msg("log stdin pipe: got %zd bytes, want %zu", rig->fw.stdin_len,
			 want_stdin_len);
}

/* `FOO=bar echo hello` on the proxy, stdout captured. */
static bx_job *new_echo_job(bx_engine *proxy, bool with_env)
{
	bx_job *job = NULL;

	assert_int_equal(bx_job_new(proxy, "echo", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "hello"), 0);
	if (with_env)
		assert_int_equal(bx_job_add_env(job, "FOO", "bar"), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_job_set_timeout(job, JOB_TIMEOUT_MS);
	return job;
}

static void test_proxy_drives_original_worker(void **state)
{
	struct proxy_rig rig;
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));
	bx_error err = {0};
	const char *out;
	size_t len = 0;
	int trunc = -1;
	bx_job *job;

	(void)state;
	/* Our encoder's order is cmd then env: M8 variant 1, framed as in the capture. */
	rig_start(&rig, FAKE_OK, (const char *)req, n);
	job = new_echo_job(rig.proxy, true);
	assert_int_equal(bx_job_run(job, &err), 0);
	out = bx_job_output(job, 1, &len, &trunc);
	assert_non_null(out);
	assert_int_equal(len, 6);
	assert_string_equal(out, "hello\n");
	assert_int_equal(trunc, 0);
	bx_job_free(job);
	rig_stop(&rig, "", 0); /* no stdin: the pipe is closed at once */
}

static void test_proxy_stdin_buf_reaches_log_stdin(void **state)
{
	/* More than a pipe holds, so the proxy's pump must wait for the reader. */
	const size_t n = 200 * 1024;
	char *in = malloc(n);
	struct proxy_rig rig;
	bx_error err = {0};
	bx_job *job;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + i % 23);
	/* No env: the original still sends env=["000;"]. */
	rig_start(&rig, FAKE_OK, REQ_NO_ENV, strlen(REQ_NO_ENV));
	job = new_echo_job(rig.proxy, false);
	assert_int_equal(bx_job_set_stdin_buf(job, in, n), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "hello\n");
	bx_job_free(job);
	rig_stop(&rig, in, n);
	free(in);
}

static void test_proxy_eof_without_status_fails(void **state)
{
	struct proxy_rig rig;
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));
	bx_error err = {0};
	bx_job *job;
	int r;

	(void)state;
	rig_start(&rig, FAKE_NO_STATUS, (const char *)req, n);
	job = new_echo_job(rig.proxy, true);
	r = bx_job_run(job, &err);
	/* The original parent reported status 0 here; beambox never does. */
	assert_int_not_equal(r, 0);
	/* With no peer there is no pid to describe: "still running", and a protocol error. */
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(err.text, "job 'echo'"));
	assert_non_null(strstr(err.text, "closed the job channel without a status"));
	bx_job_free(job);
	rig_stop(&rig, NULL, 0);
}

static void test_proxy_rejects_bad_worker_frames(void **state)
{
	static const struct {
		enum fake_mode mode;
		const char *want; /* in the error text */
	} cases[] = {
	    {FAKE_STATUS_256, "bad status '256'"},
	    {FAKE_UNKNOWN_VERB, "unexpected 'frob'"},
	    {FAKE_LOG_NO_FD, "unexpected 'log' (1 args, no fd)"},
	    {FAKE_LOG_TWICE, "unexpected 'log stdout'"},
	    {FAKE_GARBAGE, "2147483647"},
	};
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proxy_rig rig;
		bx_error err = {0};
		bx_job *job;
		int r;

		rig_start(&rig, cases[i].mode, (const char *)req, n);
		job = new_echo_job(rig.proxy, true);
		r = bx_job_run(job, &err);
		if (r != -EPROTO || !strstr(err.text, cases[i].want) ||
		    !strstr(err.text, "job 'echo'"))
			fail_msg("case %zu: r=%d, want -EPROTO with \"%s\"; got \"%s\"", i, r,
				 cases[i].want, err.text);
		bx_job_free(job);
		rig_stop(&rig, NULL, 0);
	}
}

/* ================================================== 3. remote-level payloads */

/* A map built like remote.c builds it: keys in order, values in order. */
struct kv {
	const char *key;
	const char *values[3];
};

static void test_remote_messages_match_vectors(void **state)
{
	static const struct {
		const char *name;
		struct kv keys[2];
		const char *hex;
	} cases[] = {
	    {"M1 empty", {{NULL, {NULL}}}, HEX_M1},
	    {"M2 log stdout", {{"cmd", {"log", "stdout", NULL}}}, HEX_M2},
	    {"M3 log stderr", {{"cmd", {"log", "stderr", NULL}}}, HEX_M3},
	    {"M4 log stdin", {{"cmd", {"log", "stdin", NULL}}}, HEX_M4},
	    {"M5 status 0", {{"cmd", {"status", "0", NULL}}}, HEX_M5},
	    {"M6 status 1", {{"cmd", {"status", "1", NULL}}}, HEX_M6},
	    {"M7 status 127", {{"cmd", {"status", "127", NULL}}}, HEX_M7},
	    {"M8.1 request", {{"cmd", {"echo", "hello", NULL}}, {"env", {"ENV", NULL}}}, HEX_M8_1},
	    {"M8.2 request", {{"env", {"ENV", NULL}}, {"cmd", {"echo", "hello", NULL}}}, HEX_M8_2},
	};
	uint8_t want[256];

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		bx_msg *m = NULL, *env = NULL, *back = NULL;
		char *buf = NULL, *envbuf = NULL;
		size_t len = 0, envlen = 0;
		size_t n = unhex(cases[c].hex, want, sizeof(want));

		/* The job env {FOO: [bar]}, encoded as the one value of "env" (M8). */
		assert_int_equal(bx_msg_new(&env), 0);
		assert_int_equal(bx_msg_add(env, "FOO", "bar"), 0);
		assert_int_equal(bx_msg_encode(env, &envbuf, &envlen), 0);
		assert_string_equal(envbuf, "000;3:FOO,6:3:bar,,");
		assert_int_equal(bx_msg_new(&m), 0);
		for (size_t k = 0; k < 2 && cases[c].keys[k].key; k++)
			for (size_t v = 0; v < 3 && cases[c].keys[k].values[v]; v++) {
				const char *val = cases[c].keys[k].values[v];
				const char *key = cases[c].keys[k].key;

				if (strcmp(val, "ENV") == 0)
					assert_int_equal(
					    bx_msg_addn(m, key, strlen(key), envbuf, envlen), 0);
				else
					assert_int_equal(bx_msg_add(m, key, val), 0);
			}
		assert_int_equal(bx_msg_encode(m, &buf, &len), 0);
		if (len != n || memcmp(buf, want, n) != 0)
			fail_msg("%s: encoded \"%s\"", cases[c].name, buf);
		/* And what the original sends decodes back to the same map. */
		assert_int_equal(bx_msg_decode(want, n, 0, &back, NULL), 0);
		assert_int_equal(bx_msg_nkeys(back), bx_msg_nkeys(m));
		bx_msg_free(back);
		free(buf);
		free(envbuf);
		bx_msg_free(m);
		bx_msg_free(env);
	}
	/* M9: the env of a job with no env is the empty map. */
	{
		bx_msg *env = NULL;
		char *buf = NULL;
		size_t len = 0;
		size_t n = unhex(HEX_M9, want, sizeof(want));

		assert_int_equal(bx_msg_new(&env), 0);
		assert_int_equal(bx_msg_encode(env, &buf, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(buf, want, n);
		free(buf);
		bx_msg_free(env);
	}
}

/*
 * The status frame remote.c sends for a failing handler, read raw from the
 * real worker: the capture's log frames, then exactly M6 framed without an fd
 * (as F5 frames M5), then EOF.
 */
static int fail_handler(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_eprintf(job, "nope\n");
	return 1;
}

static void test_worker_status_1_is_m6(void **state)
{
	static const char req[] = "000;3:cmd,7:4:fail,,3:env,7:4:000;,,";
	struct worker w;
	int fds[3];
	int chan;

	(void)state;
	worker_start(&w, "bar");
	assert_int_equal(bx_engine_register(w.eng, "fail", fail_handler, NULL), 0);
	chan = send_request(&w, req, strlen(req));
	expect_job_stream(chan, HEX_LOG_FRAMES "0000001b" HEX_M6, fds);
	expect_pipe(fds[0], "");
	expect_pipe(fds[1], "nope\n");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	expect_eof(chan);
	close(chan);
	worker_stop(&w);
}

/* ================================================== 4. errno of a failure, beambox/1 only */

/* A proxy for a beambox/1 worker (it takes passed fds) with no process to watch. */
static void beambox_proxy_new(bx_beam *main, bx_engine **proxy)
{
	const struct bx_remote_peer peer = {.exit_fd = -1, .takes_fds = 1};

	assert_int_equal(bx_remote_proxy_new(main, &peer, proxy), 0);
}

/* A handler's errno comes back as it was, with its text (both ends are beambox). */
static void test_errno_carried_between_beambox_peers(void **state)
{
	struct worker w;
	bx_beam *main = NULL;
	bx_engine *proxy = NULL;
	bx_error err;
	bx_job *job = NULL;
	char *big = malloc(1024 * 1024 + 1);

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 1024 * 1024);
	big[1024 * 1024] = '\0';
	worker_start_as(&w, "bar", true);
	assert_int_equal(bx_beam_new(w.parent, &main), 0);
	beambox_proxy_new(main, &proxy);

	assert_int_equal(bx_job_new(proxy, "fail_errno", &job), 0);
	assert_int_equal(bx_job_capture_stderr(job, 4096), 0);
	bx_job_set_timeout(job, JOB_TIMEOUT_MS);
	bx_error_clear(&err);
	assert_int_equal(bx_job_run(job, &err), -EIO);
	assert_non_null(strstr(err.text, "job 'fail_errno' failed in the worker: disk on fire"));
	/* What the handler wrote is there as written; the reason is not added to it. */
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "partial\n");
	bx_job_free(job);

	/* A request the worker refuses: -E2BIG, and the worker serves on. */
	assert_int_equal(bx_job_new(proxy, "echo", &job), 0);
	assert_int_equal(bx_job_add_arg(job, big), 0);
	bx_job_set_timeout(job, JOB_TIMEOUT_MS);
	if (bx_job_run(job, &err) != -E2BIG)
		fail_msg("big request: %s", err.text);
	assert_non_null(strstr(err.text, "over the worker's limit of 1048576 bytes"));
	bx_job_free(job);
	job = new_echo_job(proxy, true);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "hello\n");
	bx_job_free(job);

	bx_remote_proxy_free(proxy);
	bx_beam_free(main); /* closes w.parent: the worker's loop ends */
	assert_int_equal(pthread_join(w.th, NULL), 0);
	assert_int_equal(w.rc, 0);
	bx_beam_free(w.main);
	bx_engine_free(w.eng);
	free(big);
}

/* From a peer that never said beambox/1, an `error` frame stays -EREMOTEIO. */
static void test_errno_ignored_from_original_peer(void **state)
{
	struct proxy_rig rig;
	uint8_t req[128];
	size_t n = unhex(HEX_M8_1, req, sizeof(req));
	bx_error err;
	bx_job *job;

	(void)state;
	rig_start(&rig, FAKE_ERROR_ERRNO, (const char *)req, n);
	job = new_echo_job(rig.proxy, true);
	bx_error_clear(&err);
	assert_int_equal(bx_job_run(job, &err), -EREMOTEIO);
	assert_non_null(strstr(err.text, "failed in the worker: boom"));
	bx_job_free(job);
	rig_stop(&rig, NULL, 0);
}

/* A fake beambox/1 worker: answers one job with `error` + the given errno values, then M6. */
struct errno_worker {
	pthread_t th;
	bx_beam *main;
	const char *const *values; /* NULL-terminated; none: no errno key */
	char fail[128];
};

static void *errno_worker_thread(void *arg)
{
	struct errno_worker *ew = arg;
	bx_frame f = {.fd = -1};
	bx_beam *chan = NULL;
	bx_msg *m = NULL;
	char *buf = NULL;
	size_t len = 0;

	if (bx_beam_recv(ew->main, &f, NULL) != 1 || f.fd < 0 || bx_beam_new(f.fd, &chan) < 0) {
		snprintf(ew->fail, sizeof(ew->fail), "no request with a channel");
		goto out;
	}
	f.fd = -1; /* the channel owns it now */
	/* The three passed stdio fds come first on the channel: take them. */
	for (int i = 0; i < 3; i++) {
		bx_frame fd = {.fd = -1};

		if (bx_beam_recv(chan, &fd, NULL) != 1 || fd.fd < 0)
			snprintf(ew->fail, sizeof(ew->fail), "fd frame %d missing", i);
		bx_frame_clear(&fd);
	}
	if (bx_msg_new(&m) < 0 || bx_msg_add(m, "cmd", "error") < 0 ||
	    bx_msg_add(m, "cmd", "boom") < 0) {
		snprintf(ew->fail, sizeof(ew->fail), "building the error frame");
		goto out;
	}
	for (size_t i = 0; ew->values && ew->values[i]; i++)
		if (bx_msg_add(m, "errno", ew->values[i]) < 0)
			snprintf(ew->fail, sizeof(ew->fail), "adding errno");
	if (bx_msg_encode(m, &buf, &len) < 0 || bx_beam_send(chan, buf, len, -1) < 0) {
		snprintf(ew->fail, sizeof(ew->fail), "sending the error frame");
		goto out;
	}
	/* The proxy may stop reading (and close) after a bad errno: a failure here is fine. */
	(void)orig_send_hex(bx_beam_fd(chan), HEX_M6, -1);
	(void)wait_closed(bx_beam_fd(chan));
out:
	free(buf);
	bx_msg_free(m);
	bx_frame_clear(&f);
	bx_beam_free(chan);
	return NULL;
}

static void test_errno_checked_from_beambox_worker(void **state)
{
	static const char *const ok[] = {"2", NULL};
	static const char *const zero[] = {"0", NULL};
	static const char *const big[] = {"4096", NULL};
	static const char *const word[] = {"EPERM", NULL};
	static const char *const sign[] = {"-5", NULL};
	static const char *const two[] = {"2", "3", NULL};
	static const struct {
		const char *const *values;
		int want;
		const char *text;
	} cases[] = {
	    {ok, -ENOENT, "failed in the worker: boom"},
	    {NULL, -EREMOTEIO, "failed in the worker: boom"}, /* no errno: unknown */
	    {zero, -EPROTO, "bad errno '0'"},
	    {big, -EPROTO, "bad errno '4096'"},
	    {word, -EPROTO, "bad errno 'EPERM'"},
	    {sign, -EPROTO, "bad errno '-5'"},
	    {two, -EPROTO, "bad errno '2'"},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct errno_worker ew = {.values = cases[c].values};
		bx_beam *main = NULL;
		bx_engine *proxy = NULL;
		bx_error err;
		bx_job *job = NULL;
		int sv[2], r;

		mkpair(sv);
		assert_int_equal(bx_beam_new(sv[0], &main), 0);
		assert_int_equal(bx_beam_new(sv[1], &ew.main), 0);
		beambox_proxy_new(main, &proxy);
		assert_int_equal(pthread_create(&ew.th, NULL, errno_worker_thread, &ew), 0);
		assert_int_equal(bx_job_new(proxy, "anything", &job), 0);
		bx_job_set_timeout(job, JOB_TIMEOUT_MS);
		bx_error_clear(&err);
		r = bx_job_run(job, &err);
		bx_job_free(job);
		bx_remote_proxy_free(proxy);
		bx_beam_free(main);
		assert_int_equal(pthread_join(ew.th, NULL), 0);
		bx_beam_free(ew.main);
		if (ew.fail[0])
			fail_msg("case %zu: fake worker: %s", c, ew.fail);
		if (r != cases[c].want || !strstr(err.text, cases[c].text))
			fail_msg("case %zu: r=%d (want %d), \"%s\"", c, r, cases[c].want, err.text);
	}
}

/* ================================================== 5. a real worker, an original parent */

/*
 * This program is also the worker (bx_spawn_init in main): started the
 * original's way, by a C stand-in for Docker 1.0's Go parent — ENGINESPAWN=1,
 * the socket on fd 3, no BEAMBOX_CONFIG and no config frame. It confines
 * itself with the built-in default and must look exactly like a Go worker.
 */
static int live_install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "echo", echo_handler, (void *)"bar");
	if (r == 0)
		r = bx_engine_register(eng, "fail_errno", fail_errno_handler, NULL);
	return r;
}

/* Starts this program as a worker on sock, as the original parent did; returns its pidfd. */
static int start_original_worker(int sock, pid_t *pid)
{
	static const char *const pass[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"};
	char *envp[8] = {"ENGINESPAWN=1"};
	char *argv[] = {"beambox-worker", NULL};
	size_t n = 1;
	int pidfd;

	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		const char *v = getenv(pass[i]);
		char *e;

		if (v && asprintf(&e, "%s=%s", pass[i], v) > 0)
			envp[n++] = e;
	}
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		/* Spawn's way: stdio on /dev/null, the beam socket on fd 3. */
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
		    (sock == 3 ? fcntl(3, F_SETFD, 0) : dup2(sock, 3)) < 0)
			_exit(126);
		execve("/proc/self/exe", argv, envp);
		_exit(127);
	}
	for (size_t i = 1; i < n; i++)
		free(envp[i]);
	pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
	assert_true(pidfd >= 0);
	return pidfd;
}

static void test_process_original_parent(void **state)
{
	struct worker w = {.rc = -1};
	size_t len = 0;
	char *big = build_request(1, 1024 * 1024, &len);
	char *many = NULL;
	size_t many_len = 0;
	struct pollfd pfd;
	siginfo_t si;
	pid_t pid;
	int sv[2], pidfd, chan;
	char byte;

	(void)state;
	mkpair(sv);
	pidfd = start_original_worker(sv[1], &pid);
	close(sv[1]);
	w.parent = sv[0];

	/* 1. The captured job, byte for byte. */
	expect_capture_served(&w);
	/* 2. No `ready` or anything else on main: an original parent never reads it. */
	assert_int_equal(recv(w.parent, &byte, 1, MSG_DONTWAIT | MSG_PEEK), -1);
	assert_int_equal(errno, EAGAIN);
	/* 3. bx_job_fail: the capture's log frames, the text on stderr, M6. */
	{
		static const char fail_req[] = "000;3:cmd,14:10:fail_errno,,3:env,7:4:000;,,";

		chan = send_request(&w, fail_req, strlen(fail_req));
		expect_original_failure(chan, "partial\ndisk on fire\n", "partial\ndisk on fire\n");
		close(chan);
	}
	/* 4. Over 1 MiB, and over 4096 arguments: clean job errors, and it serves on. */
	chan = send_request(&w, big, len);
	expect_original_failure(chan, "job request of ",
				"over the worker's limit of 1048576 bytes\n");
	close(chan);
	many = build_request(4097, 1, &many_len);
	chan = send_request(&w, many, many_len);
	expect_original_failure(chan, "job 'echo' refused: 4097 arguments", "\n");
	close(chan);
	expect_capture_served(&w);
	assert_int_equal(recv(w.parent, &byte, 1, MSG_DONTWAIT | MSG_PEEK), -1);
	assert_int_equal(errno, EAGAIN);
	/* 5. The parent closes: a clean end, exit status 0. */
	close(w.parent);
	pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&pfd, 1, 10000) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pidfd);
		fail_msg("the worker did not exit after its parent closed");
	}
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED), 0);
	close(pidfd);
	if (si.si_code != CLD_EXITED || si.si_status != 0)
		fail_msg("worker ended with code %d status %d, want exit 0", si.si_code,
			 si.si_status);
	free(big);
	free(many);
}

/* ================================================== 6. bx_remote_attach, any beam worker */

/*
 * An original-protocol worker, written here from Docker 1.0's
 * engine/remote.go Receiver and engine.go with nothing of beambox's code
 * (its own framing, its own netstring decoder), run as a separate process.
 * Handlers: echo ARGS (joined by spaces), env (each KEY=VALUE of the job's
 * env), cat (stdin to stdout), status N, fail WHY (job.Errorf: "failing:
 * WHY\n" on stderr, status 1), die (sends its log pipes, then the process
 * exits 3 mid-job), commands (the sorted names), anything else: "NAME:
 * command not found\n" on stderr, status 127.
 */
#define ORIG_MSG_MAX (256 * 1024)

/* Reads exactly len bytes, collecting the fds that come along (at most 4 queued). */
static int orig_read_exact(int sock, uint8_t *buf, size_t len, int *fdq, size_t *nfdq)
{
	size_t got = 0;

	while (got < len) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} ctl;
		struct iovec iov = {.iov_base = buf + got, .iov_len = len - got};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k = ((size_t)c->cmsg_len - (size_t)CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				if (*nfdq < 4)
					fdq[(*nfdq)++] = fd;
				else
					close(fd);
			}
		}
		got += (size_t)n;
	}
	return 1;
}

/* One frame: 1 with the payload and its fd (or -1), 0 at EOF, -1 on error. */
static int orig_recv(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd)
{
	static int fdq[4];
	static size_t nfdq;
	uint8_t h[4];
	uint32_t v;
	int r = orig_read_exact(sock, h, 4, fdq, &nfdq);

	if (r <= 0)
		return r;
	v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	*len = v & 0x7fffffffu;
	if (*len > cap || orig_read_exact(sock, buf, *len, fdq, &nfdq) <= 0)
		return -1;
	*fd = -1;
	if (v & 0x80000000u) {
		if (nfdq == 0)
			return -1;
		*fd = fdq[0];
		memmove(fdq, fdq + 1, --nfdq * sizeof(int));
	}
	return 1;
}

/* A netstring at *p (within end): its bytes and length; advances *p. */
static const uint8_t *orig_netstring(const uint8_t **p, const uint8_t *end, size_t *len)
{
	size_t n = 0;
	const uint8_t *q = *p, *v;

	while (q < end && *q >= '0' && *q <= '9')
		n = n * 10 + (size_t)(*q++ - '0');
	if (q == *p || q >= end || *q != ':' || (size_t)(end - q - 1) < n + 1 || q[1 + n] != ',')
		return NULL;
	v = q + 1;
	*p = v + n + 1;
	*len = n;
	return v;
}

/* The values of key in a data.Message (NUL-terminated copies into vals, at most max). */
static size_t orig_get(const uint8_t *msg, size_t len, const char *key, char **vals, size_t max)
{
	const uint8_t *p = msg + 4, *end = msg + len;
	size_t n = 0;

	if (len < 4 || memcmp(msg, "000;", 4) != 0)
		return 0;
	while (p < end) {
		size_t klen, llen;
		const uint8_t *k = orig_netstring(&p, end, &klen);
		const uint8_t *l = k ? orig_netstring(&p, end, &llen) : NULL;

		if (!l)
			return n;
		if (klen != strlen(key) || memcmp(k, key, klen) != 0)
			continue;
		for (const uint8_t *q = l; q < l + llen && n < max;) {
			size_t vlen;
			const uint8_t *v = orig_netstring(&q, l + llen, &vlen);

			if (!v)
				break;
			vals[n] = strndup((const char *)v, vlen);
			n++;
		}
	}
	return n;
}

/* dprintf, ignoring a reader that is gone (SIGPIPE is ignored in this process). */
#define ORIG_PRINTF(fd, ...) ((void)!dprintf(fd, __VA_ARGS__))

/* Runs one job: log pipes, the handler, the status (engine/remote.go's Receiver). */
static void orig_serve_job(int chan, const uint8_t *req, size_t len)
{
	static const char *const names[] = {"cat", "commands", "die",	"echo",
					    "env", "fail",     "status"};
	char *cmd[64] = {NULL}, *env[1] = {NULL}, *kv[32] = {NULL};
	size_t ncmd = orig_get(req, len, "cmd", cmd, 64), nenv = 0;
	int out[2], err[2], in[2], status = 0;
	char st[96];

	if (orig_get(req, len, "env", env, 1) == 1)
		nenv = orig_get((const uint8_t *)env[0], strlen(env[0]), "FOO", kv, 32);
	if (ncmd == 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(in, O_CLOEXEC) < 0)
		_exit(2);
	if (orig_send_hex(chan, HEX_M2, out[0]) < 0 || orig_send_hex(chan, HEX_M3, err[0]) < 0 ||
	    orig_send_hex(chan, HEX_M4, in[1]) < 0)
		_exit(2);
	close(out[0]);
	close(err[0]);
	close(in[1]);
	if (strcmp(cmd[0], "echo") == 0) {
		for (size_t i = 1; i < ncmd; i++)
			ORIG_PRINTF(out[1], "%s%s", i > 1 ? " " : "", cmd[i]);
		ORIG_PRINTF(out[1], "\n");
	} else if (strcmp(cmd[0], "env") == 0) {
		for (size_t i = 0; i < nenv; i++)
			ORIG_PRINTF(out[1], "FOO=%s\n", kv[i]);
	} else if (strcmp(cmd[0], "cat") == 0) {
		char buf[65536];
		ssize_t n;

		while ((n = read(in[0], buf, sizeof(buf))) > 0)
			if (write(out[1], buf, (size_t)n) != n)
				break;
	} else if (strcmp(cmd[0], "status") == 0 && ncmd == 2) {
		status = atoi(cmd[1]);
	} else if (strcmp(cmd[0], "fail") == 0) {
		ORIG_PRINTF(err[1], "failing: %s\n", ncmd > 1 ? cmd[1] : "");
		status = 1;
	} else if (strcmp(cmd[0], "die") == 0) {
		_exit(3);
	} else if (strcmp(cmd[0], "commands") == 0) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			ORIG_PRINTF(out[1], "%s\n", names[i]);
	} else {
		ORIG_PRINTF(err[1], "%s: command not found\n", cmd[0]);
		status = 127;
	}
	close(out[1]);
	close(err[1]);
	close(in[0]);
	{
		char num[16], inner[64];

		snprintf(num, sizeof(num), "%d", status);
		snprintf(inner, sizeof(inner), "6:status,%zu:%s,", strlen(num), num);
		snprintf(st, sizeof(st), "000;3:cmd,%zu:%s,", strlen(inner), inner);
	}
	for (size_t i = 0; i < ncmd; i++)
		free(cmd[i]);
	for (size_t i = 0; i < nenv; i++)
		free(kv[i]);
	free(env[0]);
	if (orig_send(chan, st, strlen(st), -1) < 0)
		_exit(2);
}

static void __attribute__((noreturn)) orig_worker_main(int sock)
{
	uint8_t *buf = malloc(ORIG_MSG_MAX);

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		size_t len = 0;
		int chan = -1;
		int r = orig_recv(sock, buf, ORIG_MSG_MAX, &len, &chan);

		if (r == 0)
			_exit(0); /* the parent closed: done */
		if (r < 0 || chan < 0)
			_exit(2);
		orig_serve_job(chan, buf, len);
		close(chan);
	}
}

/* Forks the original worker on one end of a socketpair; the other end is *parent_end. */
static pid_t orig_worker_start(int *parent_end)
{
	int sv[2];
	pid_t pid;

	mkpair(sv);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		orig_worker_main(sv[1]);
	}
	close(sv[1]);
	*parent_end = sv[0];
	return pid;
}

/* Runs NAME ARGS... on eng; stdout/stderr captured into *out / *errout (owned by the caller). */
static int attach_run(bx_engine *eng, bx_error *err, const char *stdin_text, char **out,
		      char **errout, const char *name, ...)
{
	bx_job *job = NULL;
	const char *a;
	va_list ap;
	int r;

	assert_int_equal(bx_job_new(eng, name, &job), 0);
	va_start(ap, name);
	while ((a = va_arg(ap, const char *)) != NULL) {
		if (strncmp(a, "FOO=", 4) == 0)
			assert_int_equal(bx_job_add_env(job, "FOO", a + 4), 0);
		else
			assert_int_equal(bx_job_add_arg(job, a), 0);
	}
	va_end(ap);
	if (stdin_text)
		assert_int_equal(bx_job_set_stdin_buf(job, stdin_text, strlen(stdin_text)), 0);
	assert_int_equal(bx_job_capture_stdout(job, 1 << 20), 0);
	assert_int_equal(bx_job_capture_stderr(job, 4096), 0);
	bx_job_set_timeout(job, JOB_TIMEOUT_MS);
	bx_error_clear(err);
	r = bx_job_run(job, err);
	if (out)
		*out = strdup(bx_job_output(job, 1, NULL, NULL) ? bx_job_output(job, 1, NULL, NULL)
								: "");
	if (errout)
		*errout = strdup(
		    bx_job_output(job, 2, NULL, NULL) ? bx_job_output(job, 2, NULL, NULL) : "");
	bx_job_free(job);
	return r;
}

static void expect_run(bx_engine *eng, const char *stdin_text, int want, const char *want_out,
		       const char *want_err, const char *name, const char *arg1, const char *arg2)
{
	char *out = NULL, *errout = NULL;
	bx_error err;
	int r = attach_run(eng, &err, stdin_text, &out, &errout, name, arg1, arg2, (char *)NULL);

	if (r != want || strcmp(out, want_out) != 0 || strcmp(errout, want_err) != 0)
		fail_msg("job %s: status %d (want %d), stdout \"%s\", stderr \"%s\", err \"%s\"",
			 name, r, want, out, errout, err.text);
	free(out);
	free(errout);
}

static void test_process_attach_original_worker(void **state)
{
	char *big = malloc(300 * 1024 + 1);
	bx_engine *eng = NULL;
	bx_error err;
	char *out = NULL;
	siginfo_t si;
	pid_t pid;
	int sock, r, wfd[2];

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < 300 * 1024; i++)
		big[i] = (char)('a' + i % 26);
	big[300 * 1024] = '\0';
	pid = orig_worker_start(&sock);
	bx_error_clear(&err);
	assert_int_equal(bx_remote_attach(sock, &eng, &err), 0);
	/* The engine took the socket over: the caller's number is closed. */
	assert_int_equal(fcntl(sock, F_GETFD), -1);

	expect_run(eng, NULL, 0, "hello beam world\n", "", "echo", "hello", "beam world");
	expect_run(eng, NULL, 0, "FOO=bar\nFOO=baz\n", "", "env", "FOO=bar", "FOO=baz");
	expect_run(eng, NULL, 0, "cat\ncommands\ndie\necho\nenv\nfail\nstatus\n", "", "commands",
		   NULL, NULL);
	expect_run(eng, NULL, 1, "", "failing: on purpose\n", "fail", "on purpose", NULL);
	expect_run(eng, NULL, 127, "", "nosuch: command not found\n", "nosuch", NULL, NULL);
	expect_run(eng, NULL, 42, "", "", "status", "42", NULL);
	/* stdin through the worker's `log stdin` pipe, larger than a pipe holds. */
	r = attach_run(eng, &err, big, &out, NULL, "cat", (char *)NULL);
	assert_int_equal(r, 0);
	assert_string_equal(out, big);
	free(out);
	/* stdout straight to a caller's fd. */
	{
		bx_job *job = NULL;
		char got[64];
		ssize_t n;

		assert_int_equal(pipe2(wfd, O_CLOEXEC), 0);
		assert_int_equal(bx_job_new(eng, "echo", &job), 0);
		assert_int_equal(bx_job_add_arg(job, "to an fd"), 0);
		assert_int_equal(bx_job_set_stdout_fd(job, wfd[1]), 0);
		bx_job_set_timeout(job, JOB_TIMEOUT_MS);
		assert_int_equal(bx_job_run(job, &err), 0);
		bx_job_free(job);
		close(wfd[1]);
		n = read_to_eof(wfd[0], got, sizeof(got));
		close(wfd[0]);
		assert_int_equal(n, 9);
		assert_memory_equal(got, "to an fd\n", 9);
	}

	/* The worker dies in the middle of a job: a clear error, never status 0. */
	r = attach_run(eng, &err, NULL, NULL, NULL, "die", (char *)NULL);
	if (r != -EPROTO || !strstr(err.text, "job 'die': worker closed the job channel without "
					      "a status"))
		fail_msg("die: %d \"%s\"", r, err.text);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED), 0);
	assert_int_equal(si.si_code, CLD_EXITED);
	assert_int_equal(si.si_status, 3);
	/* Later jobs fail at once, without hanging. */
	r = attach_run(eng, &err, NULL, NULL, NULL, "echo", "again", (char *)NULL);
	if (r != -ECHILD || !strstr(err.text, "job 'echo': sending the request: Broken pipe; the "
					      "worker closed the connection"))
		fail_msg("after the death: %d \"%s\"", r, err.text);
	bx_engine_free(eng);
	free(big);
}

/* When the caller closes the engine, an original worker sees EOF and exits 0. */
static void test_process_attach_free_ends_worker(void **state)
{
	bx_engine *eng = NULL;
	bx_error err;
	siginfo_t si;
	pid_t pid;
	int sock;

	(void)state;
	pid = orig_worker_start(&sock);
	assert_int_equal(bx_remote_attach(sock, &eng, &err), 0);
	expect_run(eng, NULL, 0, "x\n", "", "echo", "x", NULL);
	bx_engine_free(eng);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED), 0);
	assert_int_equal(si.si_code, CLD_EXITED);
	assert_int_equal(si.si_status, 0);
}

/* What is not a connected unix stream socket is refused, and left as it was. */
static void test_attach_refuses_non_sockets(void **state)
{
	bx_engine *eng = NULL;
	bx_error err;
	int p[2], dg[2], lone;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
	lone = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lone >= 0);
	assert_int_equal(bx_remote_attach(-1, &eng, &err), -EBADF);
	assert_int_equal(bx_remote_attach(p[0], &eng, &err), -ENOTSOCK);
	assert_int_equal(bx_remote_attach(dg[0], &eng, &err), -EPROTOTYPE);
	assert_int_equal(bx_remote_attach(lone, &eng, &err), -ENOTCONN);
	assert_non_null(strstr(err.text, "attaching to fd"));
	assert_int_equal(bx_remote_attach(dg[0], NULL, &err), -EINVAL);
	assert_null(eng);
	/* Still the caller's, still blocking. */
	assert_int_equal(fcntl(dg[0], F_GETFL) & O_NONBLOCK, 0);
	close(p[0]);
	close(p[1]);
	close(dg[0]);
	close(dg[1]);
	close(lone);
}

/*
 * A beambox program started as a worker by its caller (as an original
 * parent would: test_process_original_parent's way) and driven through
 * bx_remote_attach: it is a Go worker to us, bx_job_fail included.
 */
static void test_process_attach_beambox_worker(void **state)
{
	bx_engine *eng = NULL;
	bx_error err;
	siginfo_t si;
	struct pollfd pfd;
	pid_t pid;
	int sv[2], pidfd;

	(void)state;
	mkpair(sv);
	pidfd = start_original_worker(sv[1], &pid);
	close(sv[1]);
	assert_int_equal(bx_remote_attach(sv[0], &eng, &err), 0);
	expect_run(eng, NULL, 0, "hello\n", "", "echo", "hello", "FOO=bar");
	expect_run(eng, NULL, 1, "", "partial\ndisk on fire\n", "fail_errno", NULL, NULL);
	expect_run(eng, NULL, 0, "commands\necho\nfail_errno\n", "", "commands", NULL, NULL);
	bx_engine_free(eng);
	pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&pfd, 1, 10000) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(pidfd);
		fail_msg("the worker did not exit after its engine was freed");
	}
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED), 0);
	close(pidfd);
	assert_int_equal(si.si_code, CLD_EXITED);
	assert_int_equal(si.si_status, 0);
}

/* ---------------------------------------------------------------- beambox/2 (one channel) */

/* A real worker's serve loop (beambox/2) on a thread, and a proxy to it on the other end. */
struct v2_rig {
	struct worker w; /* the serving side */
	bx_beam *pmain;
	bx_engine *proxy;
	_Atomic int kills;
};

static int v2_sleep_handler(bx_job *job, void *ctx)
{
	(void)ctx;
	usleep((useconds_t)atoi(bx_job_arg(job, 0)) * 1000);
	return 0;
}

static _Atomic int v2_counted;

static int v2_count_handler(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_printf(job, "%d\n", ++v2_counted);
	return 0;
}

/* cat: stdin to stdout, "done" on stderr; status = its first arg. */
static int v2_cat_handler(bx_job *job, void *ctx)
{
	char buf[4096];
	ssize_t n;

	(void)ctx;
	while ((n = read(bx_job_stdin(job), buf, sizeof(buf))) > 0)
		if (write(bx_job_stdout(job), buf, (size_t)n) != n)
			return 1;
	bx_job_eprintf(job, "done\n");
	return bx_job_argc(job) ? atoi(bx_job_arg(job, 0)) : 0;
}

static void v2_kill(void *ctx)
{
	struct v2_rig *rig = ctx;

	rig->kills++;
}

static void v2_rig_start(struct v2_rig *rig)
{
	struct bx_remote_peer peer = {
	    .exit_fd = -1, .kill = v2_kill, .ctx = rig, .takes_fds = 1, .one_channel = 1};
	int sv[2];

	memset(rig, 0, sizeof(*rig));
	rig->w.opts.beambox_parent = true;
	rig->w.opts.one_channel = true;
	mkpair(sv);
	assert_int_equal(bx_engine_new(&rig->w.eng), 0);
	assert_int_equal(bx_engine_register(rig->w.eng, "echo", echo_handler, "bar"), 0);
	assert_int_equal(bx_engine_register(rig->w.eng, "fail_errno", fail_errno_handler, NULL), 0);
	assert_int_equal(bx_engine_register(rig->w.eng, "sleep", v2_sleep_handler, NULL), 0);
	assert_int_equal(bx_engine_register(rig->w.eng, "count", v2_count_handler, NULL), 0);
	assert_int_equal(bx_engine_register(rig->w.eng, "cat", v2_cat_handler, NULL), 0);
	assert_int_equal(bx_beam_new(sv[1], &rig->w.main), 0);
	rig->w.parent = -1;
	rig->w.rc = -1;
	assert_int_equal(pthread_create(&rig->w.th, NULL, serve_thread, &rig->w), 0);
	assert_int_equal(bx_beam_new(sv[0], &rig->pmain), 0);
	assert_int_equal(bx_remote_proxy_new(rig->pmain, &peer, &rig->proxy), 0);
}

static void v2_rig_stop(struct v2_rig *rig)
{
	bx_remote_proxy_free(rig->proxy);
	bx_beam_free(rig->pmain); /* the worker sees EOF */
	assert_int_equal(pthread_join(rig->w.th, NULL), 0);
	assert_int_equal(rig->w.rc, 0);
	bx_beam_free(rig->w.main);
	bx_engine_free(rig->w.eng);
}

/* Jobs with args, env, stdin from a buffer and from a pipe, captures, statuses, errors. */
static void test_v2_jobs(void **state)
{
	struct v2_rig rig;
	bx_job *job = NULL;
	bx_error err;
	int p[2];
	char buf[64];
	(void)state;

	v2_rig_start(&rig);
	assert_int_equal(bx_job_new(rig.proxy, "echo", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "one"), 0);
	assert_int_equal(bx_job_add_arg(job, "two"), 0);
	assert_int_equal(bx_job_add_env(job, "FOO", "bar"), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "one two\n");
	bx_job_free(job);

	/* The handler checks FOO: a job without it gets status 3 (its env really travels). */
	assert_int_equal(bx_job_new(rig.proxy, "echo", &job), 0);
	assert_int_equal(bx_job_run(job, &err), 3);
	bx_job_free(job);

	assert_int_equal(bx_job_new(rig.proxy, "cat", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "9"), 0);
	assert_int_equal(bx_job_set_stdin_buf(job, "from a buffer", 13), 0);
	assert_int_equal(bx_job_capture_stdout(job, 5), 0);
	assert_int_equal(bx_job_capture_stderr(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 9);
	{
		size_t len;
		int truncated;

		assert_string_equal(bx_job_output(job, 1, &len, &truncated), "from ");
		assert_int_equal(truncated, 1);
	}
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "done\n");
	bx_job_free(job);

	/* Passed fds: stdin and stdout are the caller's pipes, stderr left unset. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "piped", 5), 5);
	close(p[1]);
	{
		int q[2];

		assert_int_equal(pipe2(q, O_CLOEXEC), 0);
		assert_int_equal(bx_job_new(rig.proxy, "cat", &job), 0);
		assert_int_equal(bx_job_set_stdin_fd(job, p[0]), 0);
		assert_int_equal(bx_job_set_stdout_fd(job, q[1]), 0);
		assert_int_equal(bx_job_run(job, &err), 0);
		bx_job_free(job);
		close(q[1]);
		assert_int_equal(read_to_eof(q[0], buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "piped", 5);
		close(q[0]);
	}
	close(p[0]);

	/* A handler's errno travels with its text. */
	assert_int_equal(bx_job_new(rig.proxy, "fail_errno", &job), 0);
	assert_int_equal(bx_job_capture_stderr(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), -EIO);
	assert_non_null(strstr(err.text, "disk on fire"));
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "partial\n");
	bx_job_free(job);

	assert_int_equal(bx_job_new(rig.proxy, "nosuch", &job), 0);
	assert_int_equal(bx_job_capture_stderr(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 127);
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "nosuch: command not found\n");
	bx_job_free(job);

	/* A request over the worker's limit is refused before anything is sent. */
	{
		size_t big = BX_REMOTE_REQUEST_MAX + 1;
		char *arg = malloc(big);

		assert_non_null(arg);
		memset(arg, 'x', big - 1);
		arg[big - 1] = '\0';
		assert_int_equal(bx_job_new(rig.proxy, "echo", &job), 0);
		assert_int_equal(bx_job_add_arg(job, arg), 0);
		free(arg);
		assert_int_equal(bx_job_run(job, &err), -E2BIG);
		assert_non_null(strstr(err.text, "nothing was sent"));
		bx_job_free(job);
	}
	assert_int_equal(rig.kills, 0);
	v2_rig_stop(&rig);
}

struct v2_client {
	pthread_t th;
	bx_engine *proxy;
	int n, id, bad;
};

static void *v2_client_main(void *arg)
{
	struct v2_client *c = arg;

	for (int i = 0; i < c->n; i++) {
		char word[32], want[40];
		bx_job *job = NULL;
		bx_error err;

		snprintf(word, sizeof(word), "t%d-j%d", c->id, i);
		snprintf(want, sizeof(want), "%s\n", word);
		if (bx_job_new(c->proxy, i % 3 ? "echo" : "cat", &job) < 0) {
			c->bad++;
			continue;
		}
		bx_job_set_timeout(job, JOB_TIMEOUT_MS);
		if (i % 3) {
			if (bx_job_add_arg(job, word) < 0 || bx_job_add_env(job, "FOO", "bar") < 0)
				c->bad++;
		} else if (bx_job_set_stdin_buf(job, want, strlen(want)) < 0) {
			c->bad++;
		}
		if (bx_job_capture_stdout(job, 64) < 0 || bx_job_run(job, &err) != 0 ||
		    strcmp(bx_job_output(job, 1, NULL, NULL), want) != 0)
			c->bad++;
		bx_job_free(job);
	}
	return NULL;
}

/*
 * Eight threads' jobs pipelined on one worker (four in flight, the others
 * waiting and let go by whoever frees a place): every answer reaches its own job.
 */
static void test_v2_pipelined_threads(void **state)
{
	enum { THREADS = 8, JOBS = 100 };
	struct v2_client c[THREADS];
	struct v2_rig rig;
	(void)state;

	v2_rig_start(&rig);
	for (int i = 0; i < THREADS; i++) {
		c[i] = (struct v2_client){.proxy = rig.proxy, .n = JOBS, .id = i};
		assert_int_equal(pthread_create(&c[i].th, NULL, v2_client_main, &c[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(c[i].th, NULL), 0);
		assert_int_equal(c[i].bad, 0);
	}
	assert_int_equal(rig.kills, 0);
	v2_rig_stop(&rig);
}

/*
 * The worker side, driven by a raw parent: a queued request that is
 * withdrawn before its turn is skipped (no answer, its handler never runs),
 * the others are answered in order; fds=[...] must match the fds that came.
 */
static void test_v2_worker_withdraw_and_fds(void **state)
{
	static const char req_sleep[] = "000;3:cmd,14:5:sleep,3:300,,2:id,4:1:1,,";
	static const char req_count2[] = "000;3:cmd,8:5:count,,2:id,4:1:2,,6:queued,4:1:1,,";
	static const char withdraw2[] = "000;2:id,4:1:2,,8:withdraw,4:1:1,,";
	/* A job named "withdraw" is a request like any other: it is answered. */
	static const char req_named_withdraw[] = "000;3:cmd,11:8:withdraw,,2:id,4:1:6,,";
	static const char req_count3[] = "000;3:cmd,8:5:count,,2:id,4:1:3,,6:queued,4:1:1,,";
	/* fds names stdout, but no fd comes; then stdout named with one fd (a pipe). */
	static const char req_nofd[] = "000;3:cmd,8:5:count,,2:id,4:1:4,,3:fds,9:6:stdout,,";
	static const char req_fd[] = "000;3:cmd,8:5:count,,2:id,4:1:5,,3:fds,9:6:stdout,,";
	struct worker w;
	bx_beam *pb = NULL;
	bx_frame f = {.fd = -1};
	bx_msg *m = NULL;
	bx_bytes v;
	int sv[2], p[2];
	char out[16];
	(void)state;

	memset(&w, 0, sizeof(w));
	w.opts.beambox_parent = true;
	w.opts.one_channel = true;
	mkpair(sv);
	assert_int_equal(bx_engine_new(&w.eng), 0);
	assert_int_equal(bx_engine_register(w.eng, "sleep", v2_sleep_handler, NULL), 0);
	assert_int_equal(bx_engine_register(w.eng, "count", v2_count_handler, NULL), 0);
	assert_int_equal(bx_beam_new(sv[1], &w.main), 0);
	w.parent = -1;
	assert_int_equal(pthread_create(&w.th, NULL, serve_thread, &w), 0);
	assert_int_equal(bx_beam_new(sv[0], &pb), 0);
	assert_int_equal(bx_beam_set_multi_fds(pb, 1), 0);
	v2_counted = 0;

	assert_int_equal(bx_beam_send(pb, req_sleep, sizeof(req_sleep) - 1, -1), 0);
	assert_int_equal(bx_beam_send(pb, req_count2, sizeof(req_count2) - 1, -1), 0);
	assert_int_equal(bx_beam_send(pb, withdraw2, sizeof(withdraw2) - 1, -1), 0);
	assert_int_equal(bx_beam_send(pb, req_count3, sizeof(req_count3) - 1, -1), 0);
	for (int want = 1; want <= 3; want += 2) {
		char id[4];

		/* Both answers may come in one read (the framing reads ahead). */
		if (bx_beam_rx_buffered(pb) == 0)
			assert_int_equal(wait_readable(bx_beam_fd(pb)), 0);
		assert_int_equal(bx_beam_recv(pb, &f, NULL), 1);
		assert_int_equal(bx_msg_decode(f.data, f.len, 0, &m, NULL), 0);
		assert_int_equal(bx_msg_get_one(m, "id", &v), 0);
		snprintf(id, sizeof(id), "%d", want);
		assert_string_equal(v.p, id);
		bx_msg_free(m);
		bx_frame_clear(&f);
	}
	assert_int_equal(v2_counted, 1); /* job 2 never ran */

	/* fds=[stdout] without its fd: a job error, answered (71: EPROTO). */
	assert_int_equal(bx_beam_send(pb, req_nofd, sizeof(req_nofd) - 1, -1), 0);
	assert_int_equal(wait_readable(bx_beam_fd(pb)), 0);
	assert_int_equal(bx_beam_recv(pb, &f, NULL), 1);
	assert_int_equal(bx_msg_decode(f.data, f.len, 0, &m, NULL), 0);
	assert_int_equal(bx_msg_get_one(m, "errno", &v), 0);
	assert_string_equal(v.p, "71");
	bx_msg_free(m);
	bx_frame_clear(&f);

	/* With it: the count lands in our pipe. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(bx_beam_send(pb, req_fd, sizeof(req_fd) - 1, p[1]), 0);
	close(p[1]);
	assert_int_equal(wait_readable(bx_beam_fd(pb)), 0);
	assert_int_equal(bx_beam_recv(pb, &f, NULL), 1);
	assert_int_equal(bx_msg_decode(f.data, f.len, 0, &m, NULL), 0);
	assert_int_equal(bx_msg_get_one(m, "id", &v), 0);
	assert_string_equal(v.p, "5");
	assert_int_equal(bx_msg_get_one(m, "errno", &v), -ENOENT);
	bx_msg_free(m);
	bx_frame_clear(&f);
	assert_int_equal(read_to_eof(p[0], out, sizeof(out)), 2);
	assert_memory_equal(out, "2\n", 2);
	close(p[0]);

	assert_int_equal(bx_beam_send(pb, req_named_withdraw, sizeof(req_named_withdraw) - 1, -1),
			 0);
	assert_int_equal(wait_readable(bx_beam_fd(pb)), 0);
	assert_int_equal(bx_beam_recv(pb, &f, NULL), 1);
	assert_int_equal(bx_msg_decode(f.data, f.len, 0, &m, NULL), 0);
	assert_int_equal(bx_msg_get_one(m, "id", &v), 0);
	assert_string_equal(v.p, "6");
	bx_msg_free(m);
	bx_frame_clear(&f);

	bx_beam_free(pb);
	assert_int_equal(pthread_join(w.th, NULL), 0);
	assert_int_equal(w.rc, 0);
	bx_beam_free(w.main);
	bx_engine_free(w.eng);
}

/* A fake beambox/2 worker: answers each request as its case says. */
struct v2_fake {
	pthread_t th;
	bx_beam *b;
	const char *how;
	int lock_fd; /* "fd": an fd of the parent's locked file, sent back */
	char failed[256];
};

static void *v2_fake_main(void *arg)
{
	struct v2_fake *fk = arg;
	bx_frame f = {.fd = -1};
	bx_msg *m = NULL;
	bx_bytes idv;
	char id[24], idkv[96], ans[256];
	int n;

	if (wait_readable(bx_beam_fd(fk->b)) < 0 || bx_beam_recv(fk->b, &f, NULL) != 1 ||
	    bx_msg_decode(f.data, f.len, 0, &m, NULL) < 0 || bx_msg_get_one(m, "id", &idv) < 0) {
		snprintf(fk->failed, sizeof(fk->failed), "no request");
		goto out;
	}
	snprintf(id, sizeof(id), "%s", idv.p);
	{
		char list[64];

		snprintf(list, sizeof(list), "%zu:%s,", strlen(id), id);
		snprintf(idkv, sizeof(idkv), "2:id,%zu:%s,", strlen(list), list);
	}
#define ANS(fmt, ...) n = snprintf(ans, sizeof(ans), fmt, __VA_ARGS__)
	if (strcmp(fk->how, "dup") == 0)
		ANS("000;3:cmd,13:6:status,1:0,,%s", idkv);
	else if (strcmp(fk->how, "unknown") == 0)
		ANS("%s", "000;3:cmd,13:6:status,1:0,,2:id,5:2:42,,");
	else if (strcmp(fk->how, "garbage") == 0)
		ANS("%s", "garbage");
	else if (strcmp(fk->how, "no_id") == 0)
		ANS("%s", "000;3:cmd,13:6:status,1:0,,");
	else if (strcmp(fk->how, "no_cmd") == 0) /* remote_fuzz found it read a garbage cmd */
		ANS("000;%s", idkv);
	else if (strcmp(fk->how, "bad_status") == 0)
		ANS("000;3:cmd,15:6:status,3:256,,%s", idkv);
	else if (strcmp(fk->how, "bad_errno") == 0)
		ANS("000;3:cmd,13:6:status,1:1,,%s5:error,4:1:x,,5:errno,7:4:4096,,", idkv);
	else if (strcmp(fk->how, "errno_alone") == 0)
		ANS("000;3:cmd,13:6:status,1:1,,%s5:errno,4:1:5,,", idkv);
	else if (strcmp(fk->how, "unknown_key") == 0)
		ANS("000;3:cmd,13:6:status,1:0,,%s3:fds,9:6:stdout,,", idkv);
	else if (strcmp(fk->how, "error") == 0)
		ANS("000;3:cmd,13:6:status,1:1,,%s5:error,6:3:bad,,5:errno,4:1:5,,", idkv);
	else /* "fd": a good answer with the locked file's fd on it */
		ANS("000;3:cmd,13:6:status,1:0,,%s", idkv);
#undef ANS
	if (strcmp(fk->how, "fd") == 0) {
		int r = bx_beam_send(fk->b, ans, (size_t)n, fk->lock_fd);

		if (r < 0 && r != -EPERM)
			snprintf(fk->failed, sizeof(fk->failed), "send: %s", strerror(-r));
		if (r == -EPERM) /* SO_PASSRIGHTS (6.16+): refused here; answer honestly */
			r = bx_beam_send(fk->b, ans, (size_t)n, -1);
		goto out;
	}
	if (bx_beam_send(fk->b, ans, (size_t)n, -1) < 0 ||
	    (strcmp(fk->how, "dup") == 0 && bx_beam_send(fk->b, ans, (size_t)n, -1) < 0))
		snprintf(fk->failed, sizeof(fk->failed), "send failed");
out:
	bx_msg_free(m);
	bx_frame_clear(&f);
	/* Wait for the parent's end to close. */
	while (wait_readable(bx_beam_fd(fk->b)) == 0 && bx_beam_recv(fk->b, &f, NULL) == 1)
		bx_frame_clear(&f);
	return NULL;
}

/*
 * Answers the parent must refuse: each ends the job (or, for a duplicate,
 * the next one) with -EPROTO and the worker killed; a good answer with an
 * error and errno fails the job with that errno.
 */
static void test_v2_bad_answers(void **state)
{
	static const struct {
		const char *how;
		int rc;
		const char *what;
	} cases[] = {
	    {"unknown", -EPROTO, "answer for job 42, which is not in flight"},
	    {"garbage", -EPROTO, "undecodable answer"},
	    {"no_id", -EPROTO, "without a valid id"},
	    {"no_cmd", -EPROTO, "unexpected '' from the worker"},
	    {"bad_status", -EPROTO, "bad status '256'"},
	    {"bad_errno", -EPROTO, "bad errno"},
	    {"errno_alone", -EPROTO, "bad errno"},
	    {"unknown_key", -EPROTO, "unknown key 'fds'"},
	    {"error", -EIO, "failed in the worker: bad"},
	    {"dup", 0, ""},
	    {"fd", 0, ""},
	};
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path));
	(void)state;

	assert_true(lock >= 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct v2_rig rig = {0};
		struct bx_remote_peer peer = {
		    .exit_fd = -1, .kill = v2_kill, .ctx = &rig, .takes_fds = 1, .one_channel = 1};
		struct v2_fake fk = {.how = cases[i].how, .lock_fd = lock};
		bx_job *job = NULL;
		bx_error err;
		int sv[2], r;

		mkpair(sv);
		assert_int_equal(bx_beam_new(sv[1], &fk.b), 0);
		assert_int_equal(bx_beam_set_multi_fds(fk.b, 1), 0);
		assert_int_equal(bx_beam_new(sv[0], &rig.pmain), 0);
		assert_int_equal(bx_remote_proxy_new(rig.pmain, &peer, &rig.proxy), 0);
		assert_int_equal(pthread_create(&fk.th, NULL, v2_fake_main, &fk), 0);
		assert_int_equal(bx_job_new(rig.proxy, "echo", &job), 0);
		bx_job_set_timeout(job, JOB_TIMEOUT_MS);
		bx_error_clear(&err);
		r = bx_job_run(job, &err);
		print_message("%s: %d '%s'\n", cases[i].how, r, err.text);
		assert_int_equal(r, cases[i].rc);
		assert_non_null(strstr(err.text, cases[i].what));
		/* A duplicate may be read with the first answer: killed already, or next. */
		if (strcmp(cases[i].how, "dup") != 0)
			assert_int_equal(rig.kills, cases[i].rc == -EPROTO ? 1 : 0);
		bx_job_free(job);
		if (strcmp(cases[i].how, "dup") == 0) {
			/* The duplicate broke the protocol: the next job is told. */
			assert_int_equal(bx_job_new(rig.proxy, "echo", &job), 0);
			r = bx_job_run(job, &err);
			assert_int_equal(r, -EPROTO);
			assert_non_null(strstr(err.text, "not in flight"));
			assert_int_equal(rig.kills, 1);
			bx_job_free(job);
		}
		bx_remote_proxy_free(rig.proxy);
		bx_beam_free(rig.pmain);
		assert_int_equal(pthread_join(fk.th, NULL), 0);
		assert_string_equal(fk.failed, "");
		bx_beam_free(fk.b);
		/* Nothing the fake sent was installed here: the lock holds. */
		assert_int_equal(bx_test_fd_open_on(path), 1);
		assert_int_equal(bx_test_lock_held(path), 1);
	}
	unlink(path);
	close(lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_worker_capture_order_cmd_env),
	    bx_fd_test(test_worker_capture_order_env_cmd),
	    bx_fd_test(test_worker_job_without_env),
	    bx_fd_test(test_worker_unknown_command),
	    bx_fd_test(test_worker_drops_request_without_channel),
	    bx_fd_test(test_worker_malformed_request),
	    bx_fd_test(test_worker_malformed_request_beambox),
	    bx_fd_test(test_worker_job_fail_original),
	    bx_fd_test(test_worker_job_fail_beambox),
	    bx_fd_test(test_worker_refuses_oversized_requests),
	    bx_fd_test(test_worker_parent_reset_is_clean_end),
	    bx_fd_test(test_worker_status_1_is_m6),
	    bx_fd_test(test_worker_returns_0_when_main_closes),
	    bx_fd_test(test_proxy_drives_original_worker),
	    bx_fd_test(test_proxy_stdin_buf_reaches_log_stdin),
	    bx_fd_test(test_proxy_eof_without_status_fails),
	    bx_fd_test(test_proxy_rejects_bad_worker_frames),
	    bx_fd_test(test_remote_messages_match_vectors),
	    bx_fd_test(test_errno_carried_between_beambox_peers),
	    bx_fd_test(test_errno_ignored_from_original_peer),
	    bx_fd_test(test_errno_checked_from_beambox_worker),
	    bx_fd_test(test_process_original_parent),
	    bx_fd_test(test_process_attach_original_worker),
	    bx_fd_test(test_process_attach_free_ends_worker),
	    bx_fd_test(test_attach_refuses_non_sockets),
	    bx_fd_test(test_process_attach_beambox_worker),
	    bx_fd_test(test_v2_jobs),
	    bx_fd_test(test_v2_pipelined_threads),
	    bx_fd_test(test_v2_worker_withdraw_and_fds),
	    bx_fd_test(test_v2_bad_answers),
	};

	/* In a worker started by test_process_original_parent, this never returns. */
	bx_spawn_init(live_install, NULL);
	/* A peer that closed early must fail a test, not kill the runner. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
