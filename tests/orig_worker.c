/* SPDX-License-Identifier: MIT */
/*
 * A worker written the way Docker 1.0's engine/spawn worker behaves (the Go
 * Receiver of engine/remote.go), in plain C with libc only, independent of
 * libbeambox: it finds its beam connection on fd 3 (ENGINESPAWN=1), and for
 * each request {cmd: [NAME, ARGS...], env: [ENCODED ENV]} with a job channel
 * attached it sends on that channel `log stdout` + a pipe's read end, `log
 * stderr` + a pipe's read end, `log stdin` + a pipe's write end, runs the
 * handler on the pipes, then `status N`, and closes the channel. It exits 0
 * when the parent closes fd 3. Frames: a 4-byte big-endian length, top bit
 * set when one fd rides (SCM_RIGHTS) on the header's first byte. Maps:
 * "000;" then netstring pairs (key, then a netstring of value netstrings).
 *
 * Handlers: echo ARGS, cat (stdin to stdout), env NAME (from the job's env),
 * getenv NAME (from the process's own environment), fail (stderr, status 1),
 * commands, die (exit 3 in the middle of the job), hang. Anything else:
 * "NAME: command not found" on stderr, status 127 (the original's engine).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_MAX (1 << 20)
#define ITEMS_MAX 64

/* Sanitizer builds: no leak check at exit (it needs ptrace, which the sandbox refuses). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

struct str {
	const char *p;
	size_t len;
};

/* ------------------------------------------------------------ netstrings and maps */

/* One netstring "len:bytes," at *p (bounded by end); advances *p. */
static int netstring(const char **p, const char *end, struct str *out)
{
	size_t len = 0;
	const char *q = *p;

	if (q >= end || *q < '0' || *q > '9')
		return -1;
	while (q < end && *q >= '0' && *q <= '9') {
		len = len * 10 + (size_t)(*q - '0');
		if (len > FRAME_MAX)
			return -1;
		q++;
	}
	if (q >= end || *q != ':' || (size_t)(end - q - 1) < len + 1 || q[1 + len] != ',')
		return -1;
	out->p = q + 1;
	out->len = len;
	*p = q + 2 + len;
	return 0;
}

/* The values of key in a map ("000;" + pairs); returns their count, or -1. */
static int map_get(const char *buf, size_t len, const char *key, struct str *vals, int max)
{
	const char *p = buf + 4, *end = buf + len;

	if (len < 4 || memcmp(buf, "000;", 4) != 0)
		return -1;
	while (p < end) {
		struct str k, v;

		if (netstring(&p, end, &k) < 0 || netstring(&p, end, &v) < 0)
			return -1;
		if (k.len == strlen(key) && memcmp(k.p, key, k.len) == 0) {
			const char *q = v.p, *vend = v.p + v.len;
			int n = 0;

			while (q < vend && n < max)
				if (netstring(&q, vend, &vals[n++]) < 0)
					return -1;
			return n;
		}
	}
	return 0;
}

/* Appends "len:bytes," to out (at most cap). */
static size_t put_netstring(char *out, size_t at, size_t cap, const char *s, size_t len)
{
	int n = snprintf(out + at, cap - at, "%zu:", len);

	if (n < 0 || at + (size_t)n + len + 1 >= cap)
		return cap;
	at += (size_t)n;
	memcpy(out + at, s, len);
	at += len;
	out[at++] = ',';
	return at;
}

/* ------------------------------------------------------------ frames */

static int send_frame(int sock, const char *payload, size_t len, int fd)
{
	char buf[4 + 512];
	uint32_t h = (uint32_t)len | (fd >= 0 ? 0x80000000u : 0);
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = 4 + len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (len > 512)
		return -1;
	buf[0] = (char)(h >> 24);
	buf[1] = (char)(h >> 16);
	buf[2] = (char)(h >> 8);
	buf[3] = (char)h;
	memcpy(buf + 4, payload, len);
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)(4 + len) ? 0 : -1;
}

/* {cmd: [a, b]} framed, with fd attached (or -1); then our copy of fd is closed. */
static int send_cmd(int sock, const char *a, const char *b, int fd)
{
	char list[256], msg[320];
	size_t n = 0, m = 4;
	int r;

	n = put_netstring(list, n, sizeof(list), a, strlen(a));
	n = put_netstring(list, n, sizeof(list), b, strlen(b));
	memcpy(msg, "000;", 4);
	m = put_netstring(msg, m, sizeof(msg), "cmd", 3);
	m = put_netstring(msg, m, sizeof(msg), list, n);
	r = send_frame(sock, msg, m, fd);
	if (fd >= 0)
		close(fd);
	return r;
}

static int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return got == 0 && n == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

/* One frame from fd 3: 1 with the payload (malloc'ed) and its fd, 0 at EOF, -1 on error. */
static int recv_frame(char **payload, size_t *len, int *fd)
{
	unsigned char h[4];
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = h, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	uint32_t hv;
	ssize_t n;

	*fd = -1;
	/* The fd rides on the first byte of the header. */
	do
		n = recvmsg(3, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (read_full(3, (char *)h + 1, 3) != 1)
		return -1;
	hv = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	*len = hv & 0x7fffffffu;
	if (*len > FRAME_MAX)
		return -1;
	*payload = malloc(*len + 1);
	if (!*payload || read_full(3, *payload, *len) != 1)
		return -1;
	(*payload)[*len] = '\0';
	return 1;
}

/* ------------------------------------------------------------ jobs */

static const char *const handlers[] = {"cat", "commands", "die",    "echo",
				       "env", "fail",	  "getenv", "hang"};

static int run_handler(const struct str *cmd, int ncmd, const char *env, size_t envlen, int out,
		       int err, int in)
{
	char name[64], arg[256] = "";

	snprintf(name, sizeof(name), "%.*s", (int)cmd[0].len, cmd[0].p);
	if (ncmd > 1)
		snprintf(arg, sizeof(arg), "%.*s", (int)cmd[1].len, cmd[1].p);
	if (strcmp(name, "echo") == 0) {
		for (int i = 1; i < ncmd; i++)
			dprintf(out, "%s%.*s", i > 1 ? " " : "", (int)cmd[i].len, cmd[i].p);
		dprintf(out, "\n");
		return 0;
	}
	if (strcmp(name, "cat") == 0) {
		char buf[4096];
		ssize_t n;

		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				return 1;
		return 0;
	}
	if (strcmp(name, "env") == 0) {
		struct str v[ITEMS_MAX];
		int n = map_get(env, envlen, arg, v, ITEMS_MAX);

		if (n > 0)
			dprintf(out, "%.*s", (int)v[n - 1].len, v[n - 1].p);
		return n > 0 ? 0 : 1;
	}
	if (strcmp(name, "getenv") == 0) {
		const char *v = getenv(arg);

		dprintf(out, "%s", v ? v : "(unset)");
		return 0;
	}
	if (strcmp(name, "fail") == 0) {
		dprintf(err, "failing\n");
		return 1;
	}
	if (strcmp(name, "commands") == 0) {
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
			dprintf(out, "%s\n", handlers[i]);
		return 0;
	}
	if (strcmp(name, "die") == 0)
		_exit(3);
	if (strcmp(name, "hang") == 0)
		for (;;)
			pause();
	dprintf(err, "%s: command not found\n", name);
	return 127;
}

static void serve_job(int chan, const char *req, size_t len)
{
	struct str cmd[ITEMS_MAX], env[1];
	int ncmd = map_get(req, len, "cmd", cmd, ITEMS_MAX);
	int nenv = map_get(req, len, "env", env, 1);
	int out[2], err[2], in[2], status;
	char st[16];

	if (ncmd <= 0 || nenv != 1 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(in, O_CLOEXEC) < 0) {
		close(chan);
		return;
	}
	send_cmd(chan, "log", "stdout", out[0]);
	send_cmd(chan, "log", "stderr", err[0]);
	send_cmd(chan, "log", "stdin", in[1]);
	status = run_handler(cmd, ncmd, env[0].p, env[0].len, out[1], err[1], in[0]);
	close(out[1]);
	close(err[1]);
	close(in[0]);
	snprintf(st, sizeof(st), "%d", status);
	send_cmd(chan, "status", st, -1);
	close(chan);
}

int main(void)
{
	const char *marker = getenv("ENGINESPAWN");

	if (!marker || strcmp(marker, "1") != 0) {
		fprintf(stderr, "orig_worker: not started as a worker (ENGINESPAWN=1)\n");
		return 2;
	}
	for (;;) {
		char *payload = NULL;
		size_t len = 0;
		int fd, r = recv_frame(&payload, &len, &fd);

		if (r == 0)
			return 0; /* the parent closed the connection */
		if (r < 0)
			return 1;
		if (fd >= 0)
			serve_job(fd, payload, len);
		free(payload);
	}
}
