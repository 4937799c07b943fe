/* SPDX-License-Identifier: MIT */
/*
 * Hostile workers: a handler that turns on its parent. It finds its job
 * channel among its fds (the one socket that is not the main socket, fd 3;
 * under beambox/2 there is none and it writes on the main socket, where the
 * parent reads the answers of every job) and writes what no honest worker
 * would: truncated frames, absurd lengths,
 * headers promising fds that never come, hundreds of fds in one message,
 * fds of every kind, statuses nobody asked for, nothing at all, one byte at
 * a time, endless valid-looking frames; or it scribbles on the main socket.
 *
 * Every case must end the job with a clear error (-EPROTO or -ETIMEDOUT and
 * a message saying what went wrong) within its timeout, never crash or hang
 * the parent, never leak an fd (the count is checked after every test) or
 * memory (the ASan build), and never hold up another worker: a well-behaved
 * worker runs jobs from another thread all the while, and they must finish.
 *
 * Every test runs twice: against beambox/1 workers (the job channel) and
 * against beambox/2 workers (one channel, the default), where the expected
 * error differs only in naming the main socket.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "remote.h"

/* ---------------------------------------------------------------- handlers (run in the worker) */

/* The job channel: the socket among this process's fds that is not the main socket (fd 3). */
static int find_channel(void)
{
	for (int fd = 0; fd < 256; fd++) {
		struct stat st;

		if (fd != 3 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			return fd;
	}
	return -1;
}

/* Jobs this worker process has run (each handler counts its own): a beambox/2 job's id. */
static unsigned jobs_run;

/*
 * Where a handler writes to its parent: its job channel (beambox/1), or the
 * main socket when there is none (beambox/2: *v2 set).
 */
static int parent_sock(bool *v2)
{
	int ch = find_channel();

	*v2 = ch < 0;
	return ch < 0 ? 3 : ch;
}

static void put_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/* The encoded message {cmd: [verb, arg]}: "000;" then netstrings (src/data.c). */
static const char *cmd_msg(char *out, size_t size, const char *verb, const char *arg)
{
	char list[128];

	snprintf(list, sizeof(list), "%zu:%s,%zu:%s,", strlen(verb), verb, strlen(arg), arg);
	snprintf(out, size, "000;3:cmd,%zu:%s,", strlen(list), list);
	return out;
}

/*
 * A status: {cmd: [status, N]}, under beambox/2 with id: [ID] (the job's
 * number on this worker, or another to lie about).
 */
static const char *status_msg(char *out, size_t size, const char *status, bool v2, unsigned id)
{
	char num[16], list[48];
	size_t n;

	cmd_msg(out, size, "status", status);
	if (!v2)
		return out;
	snprintf(num, sizeof(num), "%u", id);
	snprintf(list, sizeof(list), "%zu:%s,", strlen(num), num);
	n = strlen(out);
	snprintf(out + n, size - n, "2:id,%zu:%s,", strlen(list), list);
	return out;
}

/* One beam frame: a big-endian header (top bit: an fd is attached) then the payload. */
static size_t frame(char *out, const char *payload, bool fd_bit)
{
	size_t len = strlen(payload);
	uint32_t h = (uint32_t)len | (fd_bit ? 0x80000000u : 0);

	out[0] = (char)(h >> 24);
	out[1] = (char)(h >> 16);
	out[2] = (char)(h >> 8);
	out[3] = (char)h;
	memcpy(out + 4, payload, len);
	return len + 4;
}

/* Sends buf with nfds fds (the array) attached to its first byte; returns sendmsg's result. */
static ssize_t send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(300 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (nfds > 300)
		return -1;
	memset(&u, 0, sizeof(u));
	if (nfds) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* An fd of the kind named, made in the worker (chan: the job channel); -1 if it cannot be. */
static int make_fd(const char *kind, int chan)
{
	if (strcmp(kind, "dir") == 0) {
		int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd >= 0 ? fd : open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (strcmp(kind, "proc") == 0)
		return open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (strcmp(kind, "memfd") == 0) {
		int fd = memfd_create("hostile", MFD_CLOEXEC);

		/* The default policy refuses memfd_create (#11 8): a tmpfs file is as good. */
		return fd >= 0 ? fd : open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	}
	if (strcmp(kind, "main") == 0)
		return 3;
	if (strcmp(kind, "socket") == 0)
		return fcntl(chan, F_DUPFD_CLOEXEC,
			     0); /* the job channel itself (no socketpair here) */
	return -1;
}

/*
 * The parent's end of the job channel takes no fds: on Linux 6.16+ its
 * SO_PASSRIGHTS is off and the kernel refuses ours at sendmsg (EPERM). Say
 * so and end the job honestly; other errors are the test's failure (95).
 */
static int refused(bx_job *job)
{
	if (errno != EPERM)
		return 95;
	bx_job_printf(job, "refused: EPERM\n");
	return 0;
}

/*
 * The hostile handler: arg 0 says what to do to the parent. It never returns
 * normally where that would let the worker's own honest status follow: it
 * waits to be killed (the parent must do that) or exits.
 */
static int h_hostile(bx_job *job, void *ctx)
{
	const char *how = bx_job_arg(job, 0);
	const char *arg = bx_job_argc(job) > 1 ? bx_job_arg(job, 1) : "";
	unsigned id = ++jobs_run;
	bool v2;
	int ch = parent_sock(&v2);
	char buf[512], m[160];
	size_t n;

	(void)ctx;
	if (strcmp(how, "truncated") == 0) {
		/* A header promising 100 bytes, 10 of them, then the end of the stream. */
		n = frame(buf, status_msg(m, sizeof(m), "0", v2, id), false);
		buf[3] = 100;
		put_all(ch, buf, 14);
		shutdown(ch, SHUT_WR);
	} else if (strcmp(how, "huge") == 0) {
		/*
		 * 2^31 - 1 bytes promised, with and without the fd bit (beambox/2:
		 * 4 fds, and fd-count bits without the fd bit); "limit": 2^29 - 1
		 * bytes, a length beambox/2 can express, over the parent's limit.
		 */
		put_all(ch,
			strcmp(arg, "fd") == 0	    ? "\xff\xff\xff\xf0"
			: strcmp(arg, "limit") == 0 ? "\x1f\xff\xff\xff"
						    : "\x7f\xff\xff\xff",
			4);
	} else if (strcmp(how, "fd_promised") == 0) {
		/* A well-formed frame whose header says an fd is attached; none is. */
		n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
		put_all(ch, buf, n);
	} else if (strcmp(how, "many_fds") == 0) {
		/* As many fds as the kernel takes in one message (SCM_MAX_FD, 253; 300 first). */
		int fds[300];

		for (size_t i = 0; i < 300; i++)
			fds[i] = 0;
		n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
		if (send_with_fds(ch, buf, n, fds, 300) < 0 &&
		    send_with_fds(ch, buf, n, fds, 253) < 0)
			return refused(job);
	} else if (strcmp(how, "fd_kind") == 0) {
		/* A status frame (which takes no fd), carrying an fd of the kind named. */
		int fd = make_fd(arg, ch);

		if (fd < 0)
			return 97;
		n = frame(buf, status_msg(m, sizeof(m), "0", v2, id), true);
		if (send_with_fds(ch, buf, n, &fd, 1) < 0)
			return refused(job);
	} else if (strcmp(how, "extra_status") == 0) {
		/*
		 * A status, then answers to jobs nobody asked for, in one write
		 * (beambox/2: this job's again, then job 999's).
		 */
		n = frame(buf, status_msg(m, sizeof(m), "0", v2, id), false);
		n += frame(buf + n, status_msg(m, sizeof(m), "7", v2, id), false);
		n += frame(buf + n, status_msg(m, sizeof(m), "255", v2, 999), false);
		put_all(ch, buf, n);
	} else if (strcmp(how, "silent") == 0) {
		/* Nothing at all. */
	} else if (strcmp(how, "slow") == 0) {
		/* Valid error frames, one byte every 50 ms, for ever. */
		n = frame(buf, cmd_msg(m, sizeof(m), "error", "slowly"), false);
		for (size_t i = 0;; i = (i + 1) % n) {
			put_all(ch, buf + i, 1);
			sleep_ms(50);
		}
	} else if (strcmp(how, "flood") == 0) {
		/* Valid-looking error frames as fast as the parent takes them, for ever. */
		size_t one = frame(buf, cmd_msg(m, sizeof(m), "error", "flooded"), false);

		for (n = one; n + one <= sizeof(buf); n += one)
			memcpy(buf + n, buf, one);
		for (;;)
			put_all(ch, buf, n);
	} else if (strcmp(how, "main_garbage") == 0) {
		/* Garbage on the main socket, which the parent stops reading after ready. */
		static const char junk[] = "\x7f\xff\xff\xffgarbage on the main socket";
		char frames[128];
		int fd = make_fd("dir", ch);

		put_all(3, junk, sizeof(junk) - 1);
		/* And a request-shaped frame with an fd, as if the worker asked the parent for a
		 * job. */
		n = frame(frames, cmd_msg(m, sizeof(m), "echo", "hi"), true);
		if (fd >= 0)
			send_with_fds(3, frames, n, &fd, 1);
		bx_job_printf(job, "scribbled\n");
		return 0; /* an honest status: the job itself succeeds */
	} else {
		return 95;
	}
	for (;;)
		pause();
}

/* One sendmsg of buf with fd attached (-1: none); "ok" or the errno's name. */
static const char *try_send(int sock, const void *buf, size_t len, int fd)
{
	ssize_t n = send_with_fds(sock, buf, len, &fd, fd >= 0 ? 1 : 0);

	if (n >= 0)
		return "sent";
	return errno == EPERM ? "EPERM" : strerror(errno);
}

static const char *errname(int r)
{
	if (r == 0)
		return "ok";
	switch (errno) {
	case ENOTTY:
		return "ENOTTY";
	case EPERM:
		return "EPERM";
	case EPIPE:
		return "EPIPE";
	case EBADF:
		return "EBADF";
	default:
		return strerror(errno);
	}
}

/* The fd a job kept after it ended (attack "keep_fd"), for a later job. */
static int kept_fd = -1;

/*
 * More of a handler that turns on its parent, through what the job gives
 * it: arg 0 says what to do.
 */
static int h_attack(bx_job *job, void *ctx)
{
	const char *how = bx_job_arg(job, 0);
	const char *arg = bx_job_argc(job) > 1 ? bx_job_arg(job, 1) : "";
	unsigned id = ++jobs_run;
	char buf[256], m[160];
	size_t n;
	bool v2;

	(void)ctx;
	if (!how)
		return 90;
	if (strcmp(how, "stop_reading") == 0) {
		/*
		 * Answer the job, then never return: the serve loop, which reads
		 * the main socket, is this very handler, so the worker stops
		 * reading its main socket with the parent none the wiser.
		 */
		int ch = parent_sock(&v2);

		n = frame(buf, status_msg(m, sizeof(m), "0", v2, id), false);
		put_all(ch, buf, n);
		for (;;)
			pause();
	}
	if (strcmp(how, "answer") == 0) {
		/*
		 * beambox/2: after ARG ms, the answers "ID:STATUS ..." (args 2 on)
		 * in one write, whatever jobs they name; then never return.
		 */
		int ch = parent_sock(&v2);

		sleep_ms(atol(arg));
		n = 0;
		for (size_t i = 2; i < bx_job_argc(job); i++) {
			char st[8];
			unsigned aid = 0;

			if (sscanf(bx_job_arg(job, i), "%u:%7s", &aid, st) != 2)
				return 91;
			n += frame(buf + n, status_msg(m, sizeof(m), st, v2, aid), false);
		}
		put_all(ch, buf, n);
		for (;;)
			pause();
	}
	if (strcmp(how, "count") == 0) {
		/* How many "count" jobs this worker has run, this one included. */
		static unsigned counted;

		bx_job_printf(job, "%u\n", ++counted);
		return 0;
	}
	if (strcmp(how, "sleep") == 0) {
		/* An honest slow job. */
		sleep_ms(atol(arg));
		bx_job_printf(job, "slept %s ms\n", arg);
		return 0;
	}
	if (strcmp(how, "lockfd") == 0) {
		/*
		 * Stdin is a file the parent holds a POSIX lock on: send its fd
		 * back in every place the parent asks for none. If the parent ever
		 * installed it, its close would release the lock.
		 */
		int fd = bx_job_stdin(job), ch = parent_sock(&v2);
		char f1[64], f2[64];
		const char *r[7];

		n = frame(f1, status_msg(m, sizeof(m), "0", v2, id), true);
		r[0] = try_send(ch, f1, n, fd); /* a status announcing an fd */
		n = frame(f1, status_msg(m, sizeof(m), "0", v2, id), false);
		r[1] = try_send(ch, f1, n, fd); /* a status announcing none */
		n = frame(f2, cmd_msg(m, sizeof(m), "error", "x"), false);
		r[2] = try_send(ch, f2, 1, fd); /* the header's first byte only */
		if (strcmp(r[2], "sent") != 0)
			r[2] = try_send(ch, f2 + 2, n - 2, fd); /* the middle of a frame */
		/* Early, as the original allows: on a frame announcing none, then one asking. */
		n = frame(f2, cmd_msg(m, sizeof(m), "error", "early"), false);
		r[6] = try_send(ch, f2, n, fd);
		if (strcmp(r[6], "sent") == 0) {
			n = frame(f1, cmd_msg(m, sizeof(m), "log", "stdout"), true);
			put_all(ch, f1, n);
		}
		n = frame(f1, cmd_msg(m, sizeof(m), "echo", "hi"), true);
		r[3] = try_send(3, f1, n, fd); /* the main socket, announced */
		n = frame(f1, cmd_msg(m, sizeof(m), "echo", "hi"), false);
		r[4] = try_send(3, f1, n, fd);	/* the main socket, unannounced */
		r[5] = try_send(3, "x", 1, fd); /* the main socket, one byte */
		bx_job_printf(job, "channel %s %s %s %s; main %s %s %s\n", r[0], r[1], r[2], r[6],
			      r[3], r[4], r[5]);
		return 0;
	}
	if (strcmp(how, "tty") == 0) {
		/* What a terminal in a worker's hands could do to the parent (issue #11, 4). */
		struct winsize ws = {.ws_row = 11, .ws_col = 22};
		struct termios t;
		int out = bx_job_stdout(job), r1, r2, r3;

		r1 = ioctl(out, TIOCSWINSZ, &ws);
		const char *e1 = errname(r1);
		r2 = tcgetattr(out, &t);
		if (r2 == 0) {
			t.c_lflag &= ~(tcflag_t)ECHO;
			t.c_cc[VINTR] = 'a';
			t.c_iflag |= IXON;
			r2 = tcsetattr(out, TCSANOW, &t);
		}
		const char *e2 = errname(r2);
		r3 = tcflow(out, TCOOFF);
		const char *e3 = errname(r3);
		bx_job_printf(job, "isatty %d; TIOCSWINSZ %s; tcsetattr %s; TCOOFF %s\n",
			      isatty(out), e1, e2, e3);
		if (strcmp(arg, "read") == 0) {
			/* And input: a line the user types reaches the handler through the relay.
			 */
			char line[64] = "";
			ssize_t got = read(bx_job_stdin(job), line, sizeof(line) - 1);

			bx_job_printf(job, "read %zd: %s", got, got > 0 ? line : "\n");
		}
		return 0;
	}
	if (strcmp(how, "keep_fd") == 0) {
		/* Keep the job's stdout after the job (a passed fd is the caller's, for good). */
		sigset_t pipe_set;

		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigprocmask(SIG_BLOCK, &pipe_set, NULL);
		kept_fd = dup(bx_job_stdout(job));
		bx_job_printf(job, "kept\n");
		return kept_fd >= 0 ? 0 : 98;
	}
	if (strcmp(how, "use_kept_fd") == 0) {
		/* A later job: write into the old stdout, and change its flags. */
		int w = (int)write(kept_fd, "late\n", 5);
		const char *e1 = errname(w < 0 ? -1 : 0);
		int fl = fcntl(kept_fd, F_GETFL);
		int r2 = fl < 0 ? -1 : fcntl(kept_fd, F_SETFL, fl | O_NONBLOCK | O_APPEND);

		bx_job_printf(job, "late write %s; F_SETFL %s\n", e1, errname(r2));
		return 0;
	}
	return 95;
}

static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	jobs_run++;
	bx_job_printf(job, "%s\n", bx_job_argc(job) ? bx_job_arg(job, 0) : "");
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "hostile", h_hostile, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "attack", h_attack, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "echo", h_echo, NULL);
	return r;
}

/* ---------------------------------------------------------------- helpers */

/* This group's protocol: beambox/2 workers (bx_spawn's default) or beambox/1 ones. */
static bool proto2;

/* Where the parent reads what a hostile handler writes: its error names it. */
static const char *where(void)
{
	return proto2 ? "main socket" : "job channel";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bx_worker *spawn_or_fail(void)
{
	bx_worker *w = NULL;
	bx_spawn_opts opts;
	bx_error err;

	bx_test_spawn_opts(&opts);
	if (bx_spawn(&opts, &w, &err) < 0)
		fail_msg("bx_spawn: %s", err.text);
	return w;
}

/* Runs one echo job on w; 0 if it answered as it should. */
static int echo_once(bx_worker *w, const char *word)
{
	char want[64];
	bx_job *job = NULL;
	bx_error err;
	int ok;

	snprintf(want, sizeof(want), "%s\n", word);
	if (bx_job_new(bx_worker_engine(w), "echo", &job) < 0)
		return -1;
	bx_job_set_timeout(job, 10000);
	ok = bx_job_add_arg(job, word) == 0 && bx_job_capture_stdout(job, 64) == 0 &&
	     bx_job_run(job, &err) == 0 && strcmp(bx_job_output(job, 1, NULL, NULL), want) == 0;
	bx_job_free(job);
	return ok ? 0 : -1;
}

/* A well-behaved worker's jobs, run from another thread while the hostile one misbehaves. */
struct bystander {
	bx_worker *w;
	pthread_t th;
	int jobs;	 /* how many to run */
	int done;	 /* how many answered correctly */
	int failures;	 /* how many did not */
	int64_t done_at; /* when the last one finished */
};

static void *bystander_main(void *p)
{
	struct bystander *b = p;

	for (int i = 0; i < b->jobs; i++) {
		char word[32];

		snprintf(word, sizeof(word), "bystander-%d", i);
		if (echo_once(b->w, word) == 0)
			b->done++;
		else
			b->failures++;
	}
	b->done_at = now_ms();
	return NULL;
}

struct expect {
	int code;	  /* bx_job_run's result */
	const char *what; /* a substring of the error text */
	/*
	 * Or, where the kernel refuses the attack at the worker's sendmsg
	 * (SO_PASSRIGHTS, Linux 6.16+): status 0 with this output. NULL: no other.
	 */
	const char *refused_out;
	int timeout_ms; /* the hostile job's timeout */
	bool stuck;	/* the hostile job can only end by its timeout */
	bool killed;	/* the parent must have killed the worker */
};

/*
 * Runs "hostile how arg" on a fresh worker while a well-behaved worker runs
 * jobs from another thread; checks the result, the message, the time taken,
 * and that the bystander was never held up. Frees both workers.
 */
static void run_hostile(const char *how, const char *arg, const struct expect *x)
{
	struct bystander b = {.jobs = x->stuck ? 20 : 5};
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	int64_t start, end;
	char out[4096];
	int r;

	b.w = spawn_or_fail();
	assert_int_equal(pthread_create(&b.th, NULL, bystander_main, &b), 0);

	assert_int_equal(bx_job_new(bx_worker_engine(w), "hostile", &job), 0);
	assert_int_equal(bx_job_add_arg(job, how), 0);
	if (arg)
		assert_int_equal(bx_job_add_arg(job, arg), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	assert_int_equal(bx_job_capture_stderr(job, 4096), 0);
	bx_job_set_timeout(job, x->timeout_ms);
	bx_error_clear(&err);
	start = now_ms();
	r = bx_job_run(job, &err);
	end = now_ms();
	snprintf(out, sizeof(out), "%s", r == 0 ? bx_job_output(job, 1, NULL, NULL) : "");
	bx_job_free(job);

	pthread_join(b.th, NULL);
	print_message("%s %s: %d '%s' after %lld ms; bystander %d/%d done\n", how, arg ? arg : "",
		      r, err.text, (long long)(end - start), b.done, b.jobs);
	if (r == 0 && x->refused_out) {
		assert_string_equal(out, x->refused_out);
		print_message("  (refused by the kernel at the worker's sendmsg)\n");
	} else {
		if (r != x->code || !strstr(err.text, x->what))
			fail_msg("%s %s: got %d '%s', want %d '%s'", how, arg ? arg : "", r,
				 err.text, x->code, x->what);
		if (x->killed)
			assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	}
	/* Ended on time: never later than the timeout plus a loose 5 s. */
	assert_true(end - start <= x->timeout_ms + 5000);
	if (x->stuck)
		assert_true(end - start >= x->timeout_ms);
	/* The other worker was never held up. */
	assert_int_equal(b.failures, 0);
	assert_int_equal(b.done, b.jobs);
	if (x->stuck)
		assert_true(b.done_at <= end);
	bx_worker_free(b.w);
	bx_worker_free(w);
}

/* No child process may be left (running or zombie) after a test. */
static void assert_no_children(void)
{
	/* No child but the zygote (see tests_common.h). */
	bx_test_assert_no_children();
}

static int setup(void **state)
{
	return bx_test_fd_setup(state);
}

static int teardown(void **state)
{
	assert_no_children();
	return bx_test_fd_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---------------------------------------------------------------- tests */

static void test_truncated_frame(void **state)
{
	const struct expect x = {-EPROTO, where(), NULL, 10000, false, true};
	(void)state;
	run_hostile("truncated", NULL, &x);
}

static void test_huge_length(void **state)
{
	const struct expect x = {-EPROTO, where(), NULL, 10000, false, true};
	(void)state;
	run_hostile("huge", NULL, &x);
	run_hostile("huge", "fd", &x);
	if (proto2)
		run_hostile("huge", "limit", &x);
}

static void test_fd_promised_none_sent(void **state)
{
	const struct expect x = {-EPROTO, where(), NULL, 10000, false, true};
	(void)state;
	run_hostile("fd_promised", NULL, &x);
}

static void test_hundreds_of_fds(void **state)
{
	const struct expect x = {-EPROTO, where(), "refused: EPERM\n", 10000, false, true};
	(void)state;
	run_hostile("many_fds", NULL, &x);
}

/*
 * A status frame carrying an fd of five kinds: the job channel of a
 * beambox/1 worker takes no fds, so the kernel refuses them at the worker's
 * sendmsg (SO_PASSRIGHTS off, Linux 6.16+) or beam reads them without a
 * control buffer and they are dropped unopened (older kernels).
 */
static void test_fds_of_every_kind(void **state)
{
	static const char *const kinds[] = {"dir", "socket", "main", "proc", "memfd"};
	const struct expect x = {-EPROTO, where(), "refused: EPERM\n", 10000, false, true};
	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		run_hostile("fd_kind", kinds[i], &x);
}

/*
 * beambox/1: statuses after the status fail the job. beambox/2: the first
 * answers the job (status 0, as any answer a handler forges would), the
 * second (the same id again) kills the worker: the next job finds it dead.
 */
static void test_unasked_statuses(void **state)
{
	const struct expect x = {-EPROTO, "frame after the status", NULL, 10000, false, true};
	const struct expect x2 = {0, "", "", 10000, false, false};
	bx_worker *w;
	bx_job *job = NULL;
	bx_error err;
	int r;

	(void)state;
	if (!proto2) {
		run_hostile("extra_status", NULL, &x);
		return;
	}
	(void)x2;
	w = spawn_or_fail();
	assert_int_equal(bx_job_new(bx_worker_engine(w), "hostile", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "extra_status"), 0);
	bx_job_set_timeout(job, 10000);
	r = bx_job_run(job, &err);
	bx_job_free(job);
	assert_int_equal(r, 0);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "echo", &job), 0);
	bx_job_set_timeout(job, 10000);
	r = bx_job_run(job, &err);
	print_message("after a duplicate answer: %d '%s'\n", r, err.text);
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(err.text, "not in flight"));
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	bx_job_free(job);
	bx_worker_free(w);
}

static void test_never_answers(void **state)
{
	const struct expect x = {-ETIMEDOUT, "timed out after 1500 ms", NULL, 1500, true, true};
	(void)state;
	run_hostile("silent", NULL, &x);
}

static void test_one_byte_at_a_time(void **state)
{
	const struct expect x = {-ETIMEDOUT, "timed out after 1500 ms", NULL, 1500, true, true};
	(void)state;
	run_hostile("slow", NULL, &x);
}

/* beambox/2: the first frame that is not an answer ends it (an answer has one shape). */
static void test_flood_of_valid_frames(void **state)
{
	const struct expect x = {-ETIMEDOUT, "timed out after 1500 ms", NULL, 1500, true, true};
	const struct expect x2 = {-EPROTO, "unexpected 'error'", NULL, 1500, false, true};
	(void)state;
	run_hostile("flood", NULL, proto2 ? &x2 : &x);
}

/*
 * Garbage on the main socket: beambox/1's parent never reads it after
 * ready, so this job and the next work; beambox/2's reads every answer
 * there, so the job fails, the worker is killed, and the next job says so.
 */
static void test_garbage_on_main_socket(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	int r;
	(void)state;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "hostile", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "main_garbage"), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_job_set_timeout(job, 10000);
	if (proto2) {
		r = bx_job_run(job, &err);
		print_message("garbage on main: %d '%s'\n", r, err.text);
		assert_int_equal(r, -EPROTO);
		assert_non_null(strstr(err.text, "main socket"));
		assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
		bx_job_free(job);
		assert_true(echo_once(w, "after") < 0);
		bx_worker_free(w);
		return;
	}
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "scribbled\n");
	bx_job_free(job);
	/* The parent never reads the main socket after ready: the next jobs still work. */
	for (int i = 0; i < 3; i++) {
		r = echo_once(w, "after");
		assert_int_equal(r, 0);
	}
	bx_worker_free(w);
}

/* ---------------------------------------------------------------- the request itself (#11, 1) */

/* Threads of this process, to check that none is left behind. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A job's run from another thread. */
struct runner {
	bx_job *job;
	pthread_t th;
	int rc;
	bx_error err;
	int64_t start, end;
};

static void *runner_main(void *p)
{
	struct runner *r = p;

	r->start = now_ms();
	r->rc = bx_job_run(r->job, &r->err);
	r->end = now_ms();
	return NULL;
}

static void start_runner(struct runner *r, bx_job *job)
{
	memset(r, 0, sizeof(*r));
	r->job = job;
	assert_int_equal(pthread_create(&r->th, NULL, runner_main, r), 0);
}

#define BIG_ARG ((size_t)300 * 1000) /* more than a socket buffer holds */

/* "echo" with a 300 KB argument: a request the socket cannot take while nobody reads. */
static bx_job *big_job(bx_worker *w, int timeout_ms)
{
	char *arg = malloc(BIG_ARG + 1);
	bx_job *job = NULL;

	assert_non_null(arg);
	memset(arg, 'a', BIG_ARG);
	arg[BIG_ARG] = '\0';
	assert_int_equal(bx_job_new(bx_worker_engine(w), "echo", &job), 0);
	assert_int_equal(bx_job_add_arg(job, arg), 0);
	free(arg);
	bx_job_set_timeout(job, timeout_ms);
	return job;
}

/* A worker whose handler answered its job and then stopped reading its main socket. */
static bx_worker *worker_that_stopped_reading(void)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "stop_reading"), 0);
	bx_job_set_timeout(job, 10000);
	assert_int_equal(bx_job_run(job, &err), 0);
	bx_job_free(job);
	return w;
}

/* A request larger than the socket buffer, to a worker that does not read: the timeout holds. */
static void test_request_blocked_times_out(void **state)
{
	int threads = count_threads();
	bx_worker *w = worker_that_stopped_reading();
	bx_job *job = big_job(w, 1000);
	bx_error err;
	int64_t start = now_ms(), took;
	int r;

	(void)state;
	r = bx_job_run(job, &err);
	took = now_ms() - start;
	bx_job_free(job);
	print_message("300 KB request, 1 s timeout: %d '%s' after %lld ms\n", r, err.text,
		      (long long)took);
	assert_int_equal(r, -ETIMEDOUT);
	assert_non_null(strstr(err.text, "sending the request"));
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	assert_true(took >= 1000);
	assert_true(took <= 1000 + 5000);
	/* The worker is gone; the next job says so at once. */
	assert_true(echo_once(w, "after") < 0);
	bx_worker_free(w);
	assert_int_equal(count_threads(), threads);
}

/* The same request, no timeout, cancelled from another thread while it is stuck in the send. */
static void test_request_blocked_cancel(void **state)
{
	int threads = count_threads();
	bx_worker *w = worker_that_stopped_reading();
	bx_job *job = big_job(w, 0);
	struct runner r;
	int64_t cancelled_at;

	(void)state;
	start_runner(&r, job);
	sleep_ms(500);
	cancelled_at = now_ms();
	bx_job_cancel(job);
	pthread_join(r.th, NULL);
	print_message("cancelled: %d '%s' %lld ms after the cancel\n", r.rc, r.err.text,
		      (long long)(r.end - cancelled_at));
	assert_int_equal(r.rc, -ECANCELED);
	assert_non_null(strstr(r.err.text, "cancelled while sending the request"));
	assert_non_null(strstr(r.err.text, "killed by signal 9 (SIGKILL)"));
	assert_true(r.end - cancelled_at <= 5000);
	bx_job_free(job);
	bx_worker_free(w);
	assert_int_equal(count_threads(), threads);
}

/*
 * Threads queued behind a request stuck in the send (no timeout): each
 * returns an error once that request is cancelled (the worker is killed), and
 * those with a timeout of their own return at it, without waiting.
 */
static void test_request_blocked_queue(void **state)
{
	enum { N = 4 };
	int threads = count_threads();
	bx_worker *w = worker_that_stopped_reading();
	bx_job *stuck = big_job(w, 0), *queued[N];
	struct runner rs, rq[N];
	int64_t cancelled_at;

	(void)state;
	start_runner(&rs, stuck);
	sleep_ms(300);
	for (int i = 0; i < N; i++) {
		assert_int_equal(bx_job_new(bx_worker_engine(w), "echo", &queued[i]), 0);
		assert_int_equal(bx_job_add_arg(queued[i], "queued"), 0);
		/* Half wait for ever, half have a timeout of their own. */
		bx_job_set_timeout(queued[i], i % 2 ? 800 : 0);
		start_runner(&rq[i], queued[i]);
	}
	sleep_ms(1500);
	cancelled_at = now_ms();
	bx_job_cancel(stuck);
	pthread_join(rs.th, NULL);
	assert_int_equal(rs.rc, -ECANCELED);
	for (int i = 0; i < N; i++) {
		pthread_join(rq[i].th, NULL);
		print_message("queued %d: %d '%s' after %lld ms\n", i, rq[i].rc, rq[i].err.text,
			      (long long)(rq[i].end - rq[i].start));
		if (i % 2) {
			/* Its own timeout, while waiting: nothing sent, nothing killed by it. */
			assert_int_equal(rq[i].rc, -ETIMEDOUT);
			assert_non_null(strstr(rq[i].err.text, "waiting for the worker"));
			assert_true(rq[i].end <= cancelled_at);
		} else {
			assert_int_equal(rq[i].rc, -ECHILD);
			assert_non_null(strstr(rq[i].err.text, "killed by signal 9 (SIGKILL)"));
			assert_true(rq[i].end - cancelled_at <= 5000);
		}
		bx_job_free(queued[i]);
	}
	bx_job_free(stuck);
	bx_worker_free(w);
	assert_int_equal(count_threads(), threads);
}

/*
 * An honest slow job on one thread; on another, a 300 KB request with a 1 s
 * timeout: it times out on time, waiting for its turn (before: 7.7 s, after
 * the slow job), and the slow job is not harmed (before: killed with it).
 */
static void test_slow_job_keeps_other_timeouts(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *slow = NULL, *big;
	struct runner rs;
	bx_error err;
	int64_t start, end;
	int r;

	(void)state;
	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &slow), 0);
	assert_int_equal(bx_job_add_arg(slow, "sleep"), 0);
	assert_int_equal(bx_job_add_arg(slow, "4000"), 0);
	assert_int_equal(bx_job_capture_stdout(slow, 64), 0);
	bx_job_set_timeout(slow, 30000);
	start_runner(&rs, slow);
	sleep_ms(200);
	big = big_job(w, 1000);
	start = now_ms();
	r = bx_job_run(big, &err);
	end = now_ms();
	print_message("1 s job behind a 4 s one: %d '%s' after %lld ms\n", r, err.text,
		      (long long)(end - start));
	assert_int_equal(r, -ETIMEDOUT);
	assert_non_null(strstr(err.text, "nothing was sent"));
	pthread_join(rs.th, NULL);
	print_message("the slow job: %d after %lld ms\n", rs.rc, (long long)(rs.end - rs.start));
	assert_int_equal(rs.rc, 0);
	assert_string_equal(bx_job_output(slow, 1, NULL, NULL), "slept 4000 ms\n");
	assert_true(end < rs.end); /* it did not wait for the slow job */
	assert_true(end - start <= 1000 + 2500);
	/* The worker still serves. */
	assert_int_equal(echo_once(w, "still here"), 0);
	bx_job_free(big);
	bx_job_free(slow);
	bx_worker_free(w);
}

/* ---------------------------------------------------------------- beambox/2: jobs in flight */

/* A job "attack ARGS..." (NULL-terminated) with a timeout, its stdout captured. */
static bx_job *attack_job(bx_worker *w, int timeout_ms, ...)
{
	bx_job *job = NULL;
	const char *a;
	va_list ap;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &job), 0);
	va_start(ap, timeout_ms);
	while ((a = va_arg(ap, const char *)) != NULL)
		assert_int_equal(bx_job_add_arg(job, a), 0);
	va_end(ap);
	assert_int_equal(bx_job_capture_stdout(job, 256), 0);
	bx_job_set_timeout(job, timeout_ms);
	return job;
}

/* How many "count" jobs w has run: the output of one more, minus it. */
static int count_jobs_run(bx_worker *w)
{
	bx_job *job = attack_job(w, 10000, "count", (char *)NULL);
	bx_error err;
	int n = -1;

	assert_int_equal(bx_job_run(job, &err), 0);
	assert_int_equal(sscanf(bx_job_output(job, 1, NULL, NULL), "%d", &n), 1);
	bx_job_free(job);
	return n - 1;
}

/*
 * A job sent behind a slow one (queued) whose time runs out, or that is
 * cancelled, before the worker starts it: it is withdrawn and fails alone,
 * on time; the slow job finishes; the worker never runs the withdrawn job
 * (its count stays) and serves on.
 */
static void withdrawn_case(bool cancel)
{
	bx_worker *w = spawn_or_fail();
	bx_job *slow = attack_job(w, 30000, "sleep", "1500", (char *)NULL);
	bx_job *queued = attack_job(w, cancel ? 0 : 400, "count", (char *)NULL);
	struct runner rs, rq;
	int64_t cancelled_at = 0;

	start_runner(&rs, slow);
	sleep_ms(200);
	start_runner(&rq, queued);
	if (cancel) {
		sleep_ms(300);
		cancelled_at = now_ms();
		bx_job_cancel(queued);
	}
	pthread_join(rq.th, NULL);
	pthread_join(rs.th, NULL);
	print_message("queued job %s: %d '%s' after %lld ms; the slow one: %d after %lld ms\n",
		      cancel ? "cancelled" : "timed out", rq.rc, rq.err.text,
		      (long long)(rq.end - rq.start), rs.rc, (long long)(rs.end - rs.start));
	assert_int_equal(rq.rc, cancel ? -ECANCELED : -ETIMEDOUT);
	assert_non_null(strstr(rq.err.text, "withdrawn before it started"));
	assert_null(strstr(rq.err.text, "killed"));
	assert_true(rq.end < rs.end);
	if (cancel)
		assert_true(rq.end - cancelled_at <= 1000);
	else
		assert_true(rq.end - rq.start <= 400 + 1000);
	assert_int_equal(rs.rc, 0);
	assert_string_equal(bx_job_output(slow, 1, NULL, NULL), "slept 1500 ms\n");
	/* The withdrawn job never ran: this is the worker's first "count". */
	assert_int_equal(count_jobs_run(w), 0);
	assert_int_equal(echo_once(w, "still here"), 0);
	bx_job_free(queued);
	bx_job_free(slow);
	bx_worker_free(w);
}

static void test_v2_queued_job_withdrawn_on_timeout(void **state)
{
	(void)state;
	withdrawn_case(false);
}

static void test_v2_queued_job_withdrawn_on_cancel(void **state)
{
	(void)state;
	withdrawn_case(true);
}

/*
 * Answers matched by id, not by order: job 1's handler answers job 2 (queued
 * behind it) first, then itself; each job gets its own answer.
 */
static void test_v2_answers_out_of_order(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *first = attack_job(w, 10000, "answer", "500", "2:7", "1:5", (char *)NULL);
	bx_job *second = attack_job(w, 10000, "count", (char *)NULL);
	struct runner r1, r2;

	(void)state;
	start_runner(&r1, first);
	sleep_ms(150);
	start_runner(&r2, second);
	pthread_join(r1.th, NULL);
	pthread_join(r2.th, NULL);
	print_message("out of order: job 1 %d '%s', job 2 %d '%s'\n", r1.rc, r1.err.text, r2.rc,
		      r2.err.text);
	assert_int_equal(r1.rc, 5);
	assert_int_equal(r2.rc, 7);
	bx_job_free(first);
	bx_job_free(second);
	bx_worker_free(w); /* its handler never returns: freeing kills it */
}

/*
 * More jobs than places behind a slow one: the first three are sent ahead,
 * the rest wait in the parent and are let go as places free. All run out of
 * time before the worker gets to them: each fails alone (withdrawn, or
 * never sent), the slow job is unharmed, and none of them ever ran.
 */
static void test_v2_more_jobs_than_places(void **state)
{
	enum { N = 7 };
	bx_worker *w = spawn_or_fail();
	bx_job *slow = attack_job(w, 30000, "sleep", "1500", (char *)NULL), *jobs[N];
	struct runner rs, r[N];

	(void)state;
	start_runner(&rs, slow);
	sleep_ms(200);
	for (int i = 0; i < N; i++) {
		jobs[i] = attack_job(w, 500 + 50 * i, "count", (char *)NULL);
		start_runner(&r[i], jobs[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(r[i].th, NULL);
		print_message("job %d: %d '%s' after %lld ms\n", i, r[i].rc, r[i].err.text,
			      (long long)(r[i].end - r[i].start));
		assert_int_equal(r[i].rc, -ETIMEDOUT);
		assert_true(strstr(r[i].err.text, "withdrawn before it started") ||
			    strstr(r[i].err.text, "nothing was sent"));
		assert_null(strstr(r[i].err.text, "killed"));
		bx_job_free(jobs[i]);
	}
	pthread_join(rs.th, NULL);
	assert_int_equal(rs.rc, 0);
	assert_int_equal(count_jobs_run(w), 0);
	bx_job_free(slow);
	bx_worker_free(w);
}

/* An answer for a job never asked: -EPROTO, the worker killed, the next job told. */
static void test_v2_answer_for_unknown_job(void **state)
{
	bx_worker *w = spawn_or_fail();
	bx_job *job = attack_job(w, 10000, "answer", "0", "999:0", (char *)NULL);
	bx_error err;
	int r;

	(void)state;
	r = bx_job_run(job, &err);
	print_message("unknown id: %d '%s'\n", r, err.text);
	assert_int_equal(r, -EPROTO);
	assert_non_null(strstr(err.text, "answer for job 999, which is not in flight"));
	assert_non_null(strstr(err.text, "killed by signal 9 (SIGKILL)"));
	bx_job_free(job);
	assert_true(echo_once(w, "after") < 0);
	bx_worker_free(w);
}

/*
 * A worker that stopped reading, with requests in flight from three threads:
 * the first (sent to a worker the parent thought idle) may be running, so
 * its timeout kills the worker; the two queued behind it time out earlier
 * and are withdrawn, alone and on time. No thread is held up.
 */
static void test_v2_stopped_reading_with_requests_in_flight(void **state)
{
	int threads = count_threads();
	bx_worker *w = worker_that_stopped_reading();
	bx_job *jobs[3];
	struct runner r[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(bx_job_new(bx_worker_engine(w), "echo", &jobs[i]), 0);
		assert_int_equal(bx_job_add_arg(jobs[i], "in flight"), 0);
		bx_job_set_timeout(jobs[i], i == 0 ? 1500 : 500);
		start_runner(&r[i], jobs[i]);
		sleep_ms(50);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(r[i].th, NULL);
		print_message("in flight %d: %d '%s' after %lld ms\n", i, r[i].rc, r[i].err.text,
			      (long long)(r[i].end - r[i].start));
		assert_int_equal(r[i].rc, -ETIMEDOUT);
		assert_true(r[i].end - r[i].start <= (i == 0 ? 1500 : 500) + 1000);
		if (i == 0) {
			assert_non_null(strstr(r[i].err.text, "killed by signal 9 (SIGKILL)"));
		} else {
			assert_non_null(strstr(r[i].err.text, "withdrawn before it started"));
			assert_true(r[i].end < r[0].end);
		}
		bx_job_free(jobs[i]);
	}
	bx_worker_free(w);
	assert_int_equal(count_threads(), threads);
}

/* ---------------------------------------------------------------- the parent's locks (#11, 2) */

/*
 * The parent holds a POSIX lock on a file and gives the worker an fd of it
 * (its stdin); the worker sends that fd back on its job channel and on the
 * main socket, in every place it can, early (on a frame announcing none,
 * then a frame asking for one) included. If the parent ever installed one,
 * the close that follows would release the lock. Both are beambox's own
 * protocol (beambox/1), where the parent expects no fd at all. The kernel refuses the sends
 * (SO_PASSRIGHTS is off on both of the parent's ends, Linux 6.16+), or beam
 * reads without a control buffer so the kernel drops the fds unopened; the
 * job ends cleanly either way and the lock is still held.
 */
static void test_locked_file_fd_sent_back(void **state)
{
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path));
	bx_worker *w = spawn_or_fail();
	bx_job *job = NULL;
	bx_error err;
	int r;

	(void)state;
	assert_true(lock >= 0);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "lockfd"), 0);
	assert_int_equal(bx_job_set_stdin_fd(job, lock), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_job_set_timeout(job, 10000);
	bx_error_clear(&err);
	r = bx_job_run(job, &err);
	print_message("lockfd: %d '%s' '%s'\n", r, err.text,
		      r == 0 ? bx_job_output(job, 1, NULL, NULL) : "");
	if (r == 0)
		assert_string_equal(bx_job_output(job, 1, NULL, NULL),
				    "channel EPERM EPERM EPERM EPERM; main EPERM EPERM EPERM\n");
	else
		assert_int_equal(r, -EPROTO); /* kernels without SO_PASSRIGHTS */
	bx_job_free(job);
	assert_int_equal(bx_test_fd_open_on(path), 1); /* ours, nothing installed */
	assert_int_equal(bx_test_lock_held(path), 1);
	bx_worker_free(w);
	assert_int_equal(bx_test_lock_held(path), 1);
	unlink(path);
	close(lock);
}

/*
 * A worker speaking the original protocol (no passed fds: it sends `log`
 * pipes), played by a child process: for each job it sends an fd of the
 * locked file where the job's argument says.
 */
static void original_worker(int sock, const char *path)
{
	bx_beam *b = NULL;

	if (bx_beam_new(sock, &b) < 0)
		_exit(1);
	for (;;) {
		bx_frame f = {.fd = -1};
		char buf[256], m[160], m2[160];
		int fd, ch;
		size_t n;

		if (bx_beam_recv(b, &f, NULL) != 1)
			_exit(0);
		ch = f.fd;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (ch < 0 || fd < 0)
			_exit(2);
		if (strstr((char *)f.data, "log_stdout")) {
			/* Where an fd is asked for, but of the wrong kind: a file, not a pipe. */
			n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
			send_with_fds(ch, buf, n, &fd, 1);
		} else if (strstr((char *)f.data, "log_stdin")) {
			n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdin"), true);
			send_with_fds(ch, buf, n, &fd, 1);
		} else if (strstr((char *)f.data, "status_announced")) {
			n = frame(buf, cmd_msg(m, sizeof(m), "status", "0"), true);
			send_with_fds(ch, buf, n, &fd, 1);
		} else if (strstr((char *)f.data, "status_plain")) {
			n = frame(buf, cmd_msg(m, sizeof(m), "status", "0"), false);
			send_with_fds(ch, buf, n, &fd, 1);
		} else if (strstr((char *)f.data, "payload")) {
			/* On the payload of a log frame whose own pipe came with its header. */
			int p[2];

			if (pipe2(p, O_CLOEXEC) < 0)
				_exit(3);
			n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
			send_with_fds(ch, buf, 4, &p[0], 1);
			send_with_fds(ch, buf + 4, n - 4, &fd, 1);
			close(p[0]);
			close(p[1]);
		} else if (strstr((char *)f.data, "early_file")) {
			/*
			 * Early, as the original allows (beam-vectors R5): on a frame that
			 * announces none, then a frame that asks for one.
			 */
			n = frame(buf, cmd_msg(m, sizeof(m), "error", "early"), false);
			send_with_fds(ch, buf, n, &fd, 1);
			n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
			send_with_fds(ch, buf, n, NULL, 0);
		} else if (strstr((char *)f.data, "early_pipe")) {
			/* The same with a pipe: the parent takes it for the log frame. */
			int p[2];

			if (pipe2(p, O_CLOEXEC) < 0)
				_exit(3);
			n = frame(buf, cmd_msg(m, sizeof(m), "error", "early"), false);
			send_with_fds(ch, buf, n, &p[0], 1);
			n = frame(buf, cmd_msg(m, sizeof(m), "log", "stdout"), true);
			send_with_fds(ch, buf, n, NULL, 0);
			close(p[0]);
			if (write(p[1], "early pipe\n", 11) != 11)
				_exit(3);
			close(p[1]);
			n = frame(buf, cmd_msg(m, sizeof(m), "status", "0"), false);
			send_with_fds(ch, buf, n, NULL, 0);
		} else if (strstr((char *)f.data, "early")) {
			/* Early: on an error frame, up to the first byte of a log frame. */
			size_t k = frame(buf, cmd_msg(m, sizeof(m), "error", "x"), false);

			k += frame(buf + k, cmd_msg(m2, sizeof(m2), "log", "stderr"), true);
			send_with_fds(ch, buf, k, &fd, 1);
		}
		/* The parent fails the job; it has no way to kill us: end the job ourselves. */
		close(fd);
		close(ch);
		bx_frame_clear(&f);
	}
}

static void test_locked_file_fd_original_worker(void **state)
{
	static const struct {
		const char *how, *what;
		int rc;
		const char *out;
	} cases[] = {
	    {"log_stdout", "not the kind expected", -EPROTO, ""},
	    {"log_stdin", "not the kind expected", -EPROTO, ""},
	    {"status_announced", "not the kind expected", -EPROTO, ""},
	    /*
	     * Early fds no frame claims: queued unopened, then an error at the channel's
	     * end (after a status the job may also end first: 0, the fd released unopened).
	     */
	    {"status_plain", "no frame claimed", -EPROTO, ""},
	    {"payload", "no frame claimed", -EPROTO, ""},
	    {"early", "not the kind expected", -EPROTO, ""},
	    /* Early, then asked for: refused in the quarantine, or accepted if a pipe. */
	    {"early_file", "not the kind expected", -EPROTO, ""},
	    {"early_pipe", "failed in the worker: early", -EREMOTEIO, "early pipe\n"},
	};
	char path[64];
	int lock = bx_test_lock_file(path, sizeof(path)), sv[2], status;
	bx_engine *proxy = NULL;
	bx_beam *main_b = NULL;
	pid_t child;

	(void)state;
	assert_true(lock >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(sv[0]);
		original_worker(sv[1], path);
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(bx_beam_new(sv[0], &main_b), 0);
	assert_int_equal(bx_remote_proxy_new(main_b, NULL, &proxy), 0); /* takes_fds 0 */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bx_job *job = NULL;
		bx_error err;
		int r;

		assert_int_equal(bx_job_new(proxy, "lock", &job), 0);
		assert_int_equal(bx_job_add_arg(job, cases[i].how), 0);
		assert_int_equal(bx_job_capture_stdout(job, 64), 0);
		bx_job_set_timeout(job, 10000);
		bx_error_clear(&err);
		r = bx_job_run(job, &err);
		print_message("original worker, %s: %d '%s'\n", cases[i].how, r, err.text);
		if (!(r == 0 && strcmp(cases[i].how, "status_plain") == 0)) {
			assert_int_equal(r, cases[i].rc);
			assert_non_null(strstr(err.text, cases[i].what));
		}
		assert_string_equal(bx_job_output(job, 1, NULL, NULL), cases[i].out);
		bx_job_free(job);
		assert_int_equal(bx_test_fd_open_on(path), 1);
		assert_int_equal(bx_test_lock_held(path), 1);
	}
	bx_remote_proxy_free(proxy);
	bx_beam_free(main_b); /* the child sees EOF and exits */
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(bx_test_lock_held(path), 1);
	unlink(path);
	close(lock);
}

/* ---------------------------------------------------------------- terminals and caller fds (#11, 4
 * and 5) */

/* A pseudo-terminal: *master, and its slave (the "caller's terminal"), 24x80. */
static bool open_pty(int *master, int *slave)
{
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	char *name;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    !(name = ptsname(*master))) {
		if (*master >= 0)
			close(*master);
		return false;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0 || ioctl(*slave, TIOCSWINSZ, &ws) < 0) {
		close(*master);
		if (*slave >= 0)
			close(*slave);
		return false;
	}
	return true;
}

/* What the master has to read now (the terminal's output), NUL-terminated. */
static void read_master(int master, char *buf, size_t len)
{
	size_t got = 0;

	for (;;) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		ssize_t n;

		if (got + 1 >= len || poll(&p, 1, 200) <= 0)
			break;
		n = read(master, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
}

static bool same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_lflag == b->c_lflag &&
	       memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0;
}

/*
 * The job's stdin and stdout are the caller's terminal. By default it is
 * relayed: the worker gets pipes, so resizing it (SIGWINCH), changing its
 * settings (ECHO, VINTR, IXON) and stopping its output (TCOOFF) all fail
 * with ENOTTY and the terminal is as it was, while output and a typed line
 * still go through.
 */
static void test_terminal_relayed(void **state)
{
	int master, slave;
	struct termios before, after;
	struct winsize ws;
	bx_worker *w;
	bx_job *job = NULL;
	bx_error err;
	char out[1024];
	int r;

	(void)state;
	if (!open_pty(&master, &slave))
		bx_test_skip("no pseudo-terminal here (posix_openpt: %s)", strerror(errno));
	assert_int_equal(tcgetattr(slave, &before), 0);
	w = spawn_or_fail();
	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "tty"), 0);
	assert_int_equal(bx_job_add_arg(job, "read"), 0);
	assert_int_equal(bx_job_set_stdin_fd(job, slave), 0);
	assert_int_equal(bx_job_set_stdout_fd(job, slave), 0);
	bx_job_set_timeout(job, 10000);
	/* The user types a line before the job reads it. */
	assert_int_equal(write(master, "hello\n", 6), 6);
	r = bx_job_run(job, &err);
	read_master(master, out, sizeof(out));
	print_message("relayed terminal: %d '%s', the terminal shows:\n%s", r, r ? err.text : "",
		      out);
	assert_int_equal(r, 0);
	assert_non_null(
	    strstr(out, "isatty 0; TIOCSWINSZ ENOTTY; tcsetattr ENOTTY; TCOOFF ENOTTY"));
	assert_non_null(strstr(out, "read 6: hello"));
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_true(same_termios(&before, &after));
	assert_int_equal(ioctl(slave, TIOCGWINSZ, &ws), 0);
	assert_int_equal(ws.ws_row, 24);
	assert_int_equal(ws.ws_col, 80);
	/* The terminal's output still flows (no TCOOFF took hold). */
	assert_int_equal(write(slave, "still\n", 6), 6);
	read_master(master, out, sizeof(out));
	assert_non_null(strstr(out, "still"));
	bx_job_free(job);
	bx_worker_free(w);
	close(slave);
	close(master);
}

struct tty_run {
	bx_job *job;
	int rc;
	bx_error err;
};

static void *tty_run_main(void *p)
{
	struct tty_run *t = p;

	t->rc = bx_job_run(t->job, &t->err);
	return NULL;
}

/*
 * BX_FD_PASS is the explicit opt-in to hand the terminal over as is: then
 * the worker can do all of it (the attack is real), which is why it is not
 * the default.
 */
static void test_terminal_passed_on_request(void **state)
{
	int master, slave;
	struct termios before, after;
	struct winsize ws;
	struct tty_run t = {0};
	pthread_t th;
	bx_worker *w;
	char out[1024];

	(void)state;
	if (!open_pty(&master, &slave))
		bx_test_skip("no pseudo-terminal here (posix_openpt: %s)", strerror(errno));
	assert_int_equal(tcgetattr(slave, &before), 0);
	w = spawn_or_fail();
	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &t.job), 0);
	assert_int_equal(bx_job_add_arg(t.job, "tty"), 0);
	assert_int_equal(bx_job_set_stdout_fd(t.job, slave), 0);
	assert_int_equal(bx_job_set_fd_mode(t.job, 1, BX_FD_PASS), 0);
	bx_job_set_timeout(t.job, 10000);
	assert_int_equal(pthread_create(&th, NULL, tty_run_main, &t), 0);
	/* The worker stopped the terminal's output: its own report is stuck until we resume. */
	sleep_ms(500);
	assert_int_equal(tcflow(slave, TCOON), 0);
	pthread_join(th, NULL);
	read_master(master, out, sizeof(out));
	print_message("passed terminal: %d, the terminal shows:\n%s", t.rc, out);
	assert_int_equal(t.rc, 0);
	assert_non_null(strstr(out, "isatty 1; TIOCSWINSZ ok; tcsetattr ok; TCOOFF ok"));
	assert_int_equal(ioctl(slave, TIOCGWINSZ, &ws), 0);
	assert_int_equal(ws.ws_row, 11);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_false(same_termios(&before, &after));
	assert_int_equal(after.c_cc[VINTR], 'a');
	bx_job_free(t.job);
	bx_worker_free(w);
	close(slave);
	close(master);
}

/* Runs "attack how" on w with stdout = fd in the given mode (-1: capture); returns the status. */
static int attack_with_stdout(bx_worker *w, const char *how, int fd, int mode, char *out,
			      size_t outlen)
{
	bx_job *job = NULL;
	bx_error err;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), "attack", &job), 0);
	assert_int_equal(bx_job_add_arg(job, how), 0);
	if (fd >= 0) {
		assert_int_equal(bx_job_set_stdout_fd(job, fd), 0);
		assert_int_equal(bx_job_set_fd_mode(job, 1, mode), 0);
	} else {
		assert_int_equal(bx_job_capture_stdout(job, outlen - 1), 0);
	}
	bx_job_set_timeout(job, 10000);
	r = bx_job_run(job, &err);
	if (r != 0)
		print_message("attack %s: %d '%s'\n", how, r, err.text);
	if (out)
		snprintf(out, outlen, "%s",
			 r == 0 && fd < 0 ? bx_job_output(job, 1, NULL, NULL) : "");
	bx_job_free(job);
	return r;
}

/* The whole content of a small file. */
static void slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/*
 * A passed fd outlives the job: the worker keeps a duplicate, writes into
 * the caller's file later and changes the caller's own file flags (the
 * documented price of passing). Relayed (BX_FD_RELAY), the worker only ever
 * had a pipe: after the job its writes go nowhere (EPIPE) and the caller's
 * flags are untouched.
 */
static void test_relay_ends_with_the_job(void **state)
{
	char path[] = "/tmp/beambox-out.XXXXXX", text[256], out[256];
	int fd = mkostemp(path, O_CLOEXEC), fl;
	bx_worker *w;

	(void)state;
	assert_true(fd >= 0);
	fl = fcntl(fd, F_GETFL);

	/* Relayed. */
	w = spawn_or_fail();
	assert_int_equal(attack_with_stdout(w, "keep_fd", fd, BX_FD_RELAY, NULL, 0), 0);
	assert_int_equal(attack_with_stdout(w, "use_kept_fd", -1, 0, out, sizeof(out)), 0);
	print_message("relayed: the worker says '%s'", out);
	assert_string_equal(out, "late write EPIPE; F_SETFL ok\n");
	slurp(path, text, sizeof(text));
	assert_string_equal(text, "kept\n");
	assert_int_equal(fcntl(fd, F_GETFL), fl);
	bx_worker_free(w);

	/* Passed as is (a regular file's default): what the documentation warns of. */
	w = spawn_or_fail();
	assert_int_equal(attack_with_stdout(w, "keep_fd", fd, BX_FD_AUTO, NULL, 0), 0);
	assert_int_equal(attack_with_stdout(w, "use_kept_fd", -1, 0, out, sizeof(out)), 0);
	print_message("passed: the worker says '%s'", out);
	assert_string_equal(out, "late write ok; F_SETFL ok\n");
	slurp(path, text, sizeof(text));
	assert_string_equal(text, "kept\nkept\nlate\n");
	assert_int_equal(fcntl(fd, F_GETFL), fl | O_NONBLOCK | O_APPEND);
	bx_worker_free(w);

	close(fd);
	unlink(path);
}

int main(void)
{
	/* First thing: in a worker this never returns. */
	bx_spawn_init(install, NULL);

	/* The first spawn makes the sealed copy every later worker starts from: before any fd
	 * count. */
	bx_worker *warm = NULL;
	bx_spawn_opts opts;
	bx_error err;
	bx_test_spawn_opts(&opts);
	if (bx_spawn(&opts, &warm, &err) < 0) {
		fprintf(stderr, "bx_spawn: %s\n", err.text);
		return 1;
	}
	bx_worker_free(warm);

	static const struct CMUnitTest tests[] = {
	    T(test_truncated_frame),
	    T(test_huge_length),
	    T(test_fd_promised_none_sent),
	    T(test_hundreds_of_fds),
	    T(test_fds_of_every_kind),
	    T(test_unasked_statuses),
	    T(test_never_answers),
	    T(test_one_byte_at_a_time),
	    T(test_flood_of_valid_frames),
	    T(test_garbage_on_main_socket),
	    T(test_request_blocked_times_out),
	    T(test_request_blocked_cancel),
	    T(test_request_blocked_queue),
	    T(test_slow_job_keeps_other_timeouts),
	    T(test_locked_file_fd_sent_back),
	    T(test_locked_file_fd_original_worker),
	    T(test_terminal_relayed),
	    T(test_terminal_passed_on_request),
	    T(test_relay_ends_with_the_job),
	};
	static const struct CMUnitTest tests2[] = {
	    T(test_v2_queued_job_withdrawn_on_timeout),
	    T(test_v2_queued_job_withdrawn_on_cancel),
	    T(test_v2_more_jobs_than_places),
	    T(test_v2_answers_out_of_order),
	    T(test_v2_answer_for_unknown_job),
	    T(test_v2_stopped_reading_with_requests_in_flight),
	};
	int failed;

	/* The same attacks on beambox/1 workers (the job channel), then on beambox/2 ones. */
	bx_remote_offer_proto2 = false;
	proto2 = false;
	failed = cmocka_run_group_tests_name("beambox/1", tests, NULL, NULL);
	bx_remote_offer_proto2 = true;
	proto2 = true;
	failed += cmocka_run_group_tests_name("beambox/2", tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("beambox/2, jobs in flight", tests2, NULL, NULL);
	return failed;
}
