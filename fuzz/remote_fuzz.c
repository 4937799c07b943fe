/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the parent's side of a job (src/remote.c: remote_sender, run_loop,
 * handle_channel_frame and the output/stdin pumps) as bx_job_run drives it on
 * a proxy from bx_remote_proxy_new(main, NULL, ...). Threat: a worker that
 * answers a job with any bytes and any fds on the job channel, to make the
 * parent crash, hang, read out of bounds, leak an fd or memory, or take a
 * SIGPIPE from a pipe it was handed.
 *
 * A thread plays the worker: it receives the request frame (and the job
 * channel with it) on the main socket, writes the input's bytes into the
 * channel with fds attached where the input says, then closes everything.
 * The proxy has no process to watch or kill; by default it speaks the
 * original protocol (log frames carry pipes, checked in the quarantine
 * before they enter the parent). The job has a short timeout.
 *
 * The input:
 *   byte 0   bit 0: capture stdout; bit 1: capture stderr; bit 2: stdin from a
 *            buffer; bit 3: stdout to /dev/null instead (when not captured);
 *            bits 4-5: capture limit (0, 1, 64, 4096 bytes); bit 6: the worker
 *            said beambox/1 (the parent passes every stream, its job channel
 *            takes no fds); bit 7: that /dev/null stdout is relayed
 *            (BX_FD_RELAY: a pipe in between, pumped by the parent)
 *   then chunks, each a control byte c then the chunk's bytes:
 *            bits 0-4: length: 0..23 as is, 24..31 mean 32 << (n - 24)
 *                      (cut short at the end of the input);
 *            bit 5:    an fd is attached to the chunk's first byte;
 *            bits 6-7: its kind: a pipe's read end (the worker keeps the write
 *                      end and writes "out" into it), a pipe's write end (the
 *                      worker closes the read end at once: writes get EPIPE),
 *                      /dev/null, or one end of a socketpair.
 * Everything the worker holds is closed when the script ends.
 *
 * beambox/2 (one channel): an input that starts with the byte 0xB2 is the
 * same script after it, but the proxy and the worker speak beambox/2: the
 * request (with up to 3 passed fds) comes in beambox's framing on the main
 * socket, and the script is written there, where the parent reads answers
 * (cmd=[status, N] id=[1] ...; the job's id is 1). Fds attached there are
 * refused (the parent's SO_PASSRIGHTS is off, or beam reads without a
 * control buffer).
 *
 * Oracles besides ASan/UBSan/LeakSanitizer: bx_job_run returns 0..255 or a
 * negative errno with a message, in bounded time, and no pipe or socket this
 * target made is still open afterwards (by identity, not by count).
 */
#define _GNU_SOURCE
#include <beambox/beam.h>
#include <beambox/engine.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

#define SCRIPT_MAX     16384
#define FD_CHECK_EVERY 64
#define HELD_MAX       64
#define TIMEOUT_MS     100

static const size_t capture_limits[4] = {0, 1, 64, 4096};

/* Leak check by identity, as in beam_fuzz.c: every pipe and socket made here, by inode. */
#define MADE_MAX 8192
static ino_t made[MADE_MAX];
static size_t nmade;
static pthread_mutex_t made_lock = PTHREAD_MUTEX_INITIALIZER;

static void record_fd(int fd)
{
	struct stat st;

	pthread_mutex_lock(&made_lock);
	if (nmade < MADE_MAX && fstat(fd, &st) == 0)
		made[nmade++] = st.st_ino;
	pthread_mutex_unlock(&made_lock);
}

static void check_no_made_fd_open(void)
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
		if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
			continue;
		for (size_t i = 0; i < nmade; i++)
			if (made[i] == st.st_ino) {
				fprintf(stderr,
					"fd %d (inode %lu) made by this target is still open\n", fd,
					(unsigned long)st.st_ino);
				abort();
			}
	}
	closedir(d);
	nmade = 0;
}

struct worker {
	int sock;    /* the worker's end of the main socket (owned by the thread) */
	bool proto2; /* beambox/2: the script goes on the main socket */
	const uint8_t *script;
	size_t len;
	int held[HELD_MAX]; /* fds the worker keeps until the script ends */
	size_t nheld;
};

static void hold(struct worker *w, int fd)
{
	if (w->nheld < HELD_MAX)
		w->held[w->nheld++] = fd;
	else
		close(fd);
}

/* Makes the fd to attach (returned) of the given kind; the worker keeps the other end. */
static int make_fd(struct worker *w, unsigned kind)
{
	int p[2];

	switch (kind) {
	case 0: /* read end to the parent; the worker writes a little and keeps the write end */
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		record_fd(p[0]);
		if (write(p[1], "out", 3) < 0) {
			/* a fresh pipe takes 3 bytes; nothing to do if not */
		}
		hold(w, p[1]);
		return p[0];
	case 1: /* write end to the parent; nobody reads: the parent's writes get EPIPE */
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		record_fd(p[0]);
		close(p[0]);
		return p[1];
	case 2:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	default:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			return -1;
		record_fd(p[0]);
		record_fd(p[1]);
		hold(w, p[1]);
		return p[0];
	}
}

/* One sendmsg of buf (may be empty only with an fd) with fd attached if >= 0. */
static int send_chunk(int sock, const uint8_t *buf, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	uint8_t zero = 0;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (len == 0) {
		if (fd < 0)
			return 0;
		/* An fd needs at least one byte to travel with: send a NUL. */
		iov.iov_base = &zero;
		iov.iov_len = 1;
	}
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (iov.iov_len > 0) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* the parent gave up on the job: stop */
		iov.iov_base = (char *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bx_beam *main_b = NULL;
	bx_frame req = {.fd = -1};
	size_t off = 0;
	int chan;

	if (bx_beam_new(w->sock, &main_b) < 0) {
		close(w->sock);
		return NULL;
	}
	if (w->proto2 && bx_beam_set_multi_fds(main_b, 1) < 0)
		abort();
	if (bx_beam_recv(main_b, &req, NULL) != 1 || (req.fd < 0 && !w->proto2))
		goto out;
	chan = w->proto2 ? w->sock : req.fd;
	while (off < w->len) {
		uint8_t c = w->script[off++];
		unsigned n = c & 0x1f;
		size_t len = n < 24 ? n : (size_t)32 << (n - 24);
		int fd = -1, r;

		if (len > w->len - off)
			len = w->len - off;
		if (c & 0x20)
			fd = make_fd(w, c >> 6);
		r = send_chunk(chan, w->script + off, len, fd);
		if (fd >= 0)
			close(fd);
		off += len;
		if (r < 0)
			break;
	}
out:
	bx_frame_clear(&req);
	for (size_t i = 0; i < w->nheld; i++)
		close(w->held[i]);
	bx_beam_free(main_b);
	return NULL;
}

static void run(const uint8_t *data, size_t size)
{
	bool proto2 = size >= 2 && data[0] == 0xB2;
	struct worker w = {.script = data + 1 + proto2, .len = size - 1 - proto2, .proto2 = proto2};
	uint8_t flags = data[proto2];
	size_t limit = capture_limits[(flags >> 4) & 3];
	bx_beam *main_b = NULL;
	struct bx_remote_peer peer;
	bx_engine *proxy = NULL;
	bx_job *job = NULL;
	bx_error err;
	pthread_t th;
	int sv[2], devnull = -1, r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	record_fd(sv[0]);
	if (bx_beam_new(sv[0], &main_b) < 0)
		abort();
	w.sock = sv[1];
	if (pthread_create(&th, NULL, worker_main, &w) != 0)
		abort();
	peer = (struct bx_remote_peer){
	    .exit_fd = -1, .takes_fds = proto2 || (flags & 64) != 0, .one_channel = proto2};
	if (bx_remote_proxy_new(main_b, &peer, &proxy) < 0 || bx_job_new(proxy, "fuzz", &job) < 0 ||
	    bx_job_add_arg(job, "arg") < 0)
		abort();
	if ((flags & 1) && bx_job_capture_stdout(job, limit) < 0)
		abort();
	if ((flags & 2) && bx_job_capture_stderr(job, limit) < 0)
		abort();
	if ((flags & 4) && bx_job_set_stdin_buf(job, "stdin for the worker\n", 21) < 0)
		abort();
	if (!(flags & 1) && (flags & 8)) {
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull < 0 || bx_job_set_stdout_fd(job, devnull) < 0)
			abort();
		if ((flags & 128) && bx_job_set_fd_mode(job, 1, BX_FD_RELAY) < 0)
			abort();
	}
	bx_job_set_timeout(job, TIMEOUT_MS);
	bx_error_clear(&err);
	r = bx_job_run(job, &err);
	if (r > 255 || (r < 0 && err.text[0] == '\0')) {
		fprintf(stderr, "bx_job_run: %d with message '%s'\n", r, err.text);
		abort();
	}
	if (flags & 1) {
		size_t len = 0;
		const char *out = bx_job_output(job, 1, &len, NULL);

		if (r >= 0 && (!out || len > limit || out[len] != '\0'))
			abort();
	}
	bx_job_free(job);
	bx_remote_proxy_free(proxy);
	/* Closing the main socket ends a worker still waiting for the request. */
	bx_beam_free(main_b);
	pthread_join(th, NULL);
	if (devnull >= 0)
		close(devnull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long iterations;

	if (size < 1 || size > SCRIPT_MAX)
		return 0;
	run(data, size);
	if (++iterations % FD_CHECK_EVERY == 0 || nmade > MADE_MAX - 256)
		check_no_made_fd_open();
	return 0;
}
