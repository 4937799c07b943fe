/* SPDX-License-Identifier: MIT */
/*
 * remote: jobs over beam (the vocabulary is in remote.h).
 *
 * The parent treats every byte and fd from the worker as hostile: each frame
 * is bounded by the channel limit, decoded strictly, and checked against
 * what may come at that point; anything else ends the job with -EPROTO and
 * kills the worker, whose state is then unknown. A job never ends with
 * status 0 unless a well-formed "status 0" arrived.
 */
#define _GNU_SOURCE
#include "remote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/data.h>

#include "engine_internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"
#include "util/pump.h"

static const char *const stream_names[3] = {"stdin", "stdout", "stderr"};

static int stream_index(const bx_bytes *v)
{
	for (int i = 0; i < 3; i++)
		if (v->len == strlen(stream_names[i]) && memcmp(v->p, stream_names[i], v->len) == 0)
			return i;
	return -1;
}

static bool bytes_eq(const bx_bytes *v, const char *s)
{
	return v->len == strlen(s) && memcmp(v->p, s, v->len) == 0;
}

static bool has_key(const bx_msg *m, const char *key)
{
	const bx_bytes *v;
	size_t n;

	return bx_msg_get(m, key, &v, &n) == 0;
}

/* The decimal id of a beambox/2 frame: 1..2^63. */
static int frame_id(const bx_msg *m, uint64_t *id)
{
	bx_bytes v;

	if (bx_msg_get_one(m, "id", &v) < 0 || bx_parse_u64(v.p, v.len, INT64_MAX, id) < 0 ||
	    *id == 0)
		return -EBADMSG;
	return 0;
}

/* Encodes m and sends it as one frame (fd borrowed, may be -1). */
static int send_msg(bx_beam *b, const bx_msg *m, int fd)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = bx_msg_encode(m, &buf, &len);
	if (r < 0)
		return r;
	return bx_beam_send(b, buf, len, fd);
}

/* Sends {cmd: [verb, args...]} with an optional fd. */
static int send_cmd(bx_beam *b, int fd, const char *verb, const char *arg)
{
	bx_msg *m = NULL;
	int r;

	r = bx_msg_new(&m);
	if (r < 0)
		return r;
	r = bx_msg_add(m, "cmd", verb);
	if (r == 0 && arg)
		r = bx_msg_add(m, "cmd", arg);
	if (r == 0)
		r = send_msg(b, m, fd);
	bx_msg_free(m);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ================================================================ parent side */

/*
 * The proxy. A beambox/2 worker's jobs go through v2_run (further down:
 * one channel, several in flight); everything else (beambox/1 and original
 * workers) as follows. Each job, from the start of bx_job_run, is bounded by
 * its deadline and its cancel eventfd, and so is every wait in it:
 *
 *  1. its turn: the worker runs one job at a time, so a job's request goes
 *     out only once the job before it has its status (turn_efd, a one-token
 *     semaphore). A job that times out or is cancelled while it waits has
 *     sent nothing and fails alone; the worker and its current job go on.
 *  2. the request (bx_beam_send_until on the main socket, and the fd frames
 *     on its channel): a worker that stops reading cannot hold the job past
 *     its deadline; a request partly written when time runs out cuts the
 *     connection and the worker is killed.
 *  3. the job itself (run_loop): the channel, the output and input pumps,
 *     the worker's exit.
 *
 * Nothing a worker sends is installed unasked: the main socket takes no
 * fds at all once the worker is ready (BX_BEAM_FDS_NONE, SO_PASSRIGHTS off
 * where the kernel has it), nor does the job channel of a beambox/1 worker
 * (the parent passes every stream itself). Only an original-protocol worker
 * sends fds (its `log` pipes), each announced by its frame, checked for kind
 * (in beam's quarantine, before it is installed) and direction, one per
 * stream; one it sends early waits outside our fd table until its frame.
 */

struct bx_remote {
	bx_beam *main;
	struct bx_remote_peer peer;
	int turn_efd; /* EFD_SEMAPHORE, one token: the job the worker is on (beambox/1) */

	/*
	 * beambox/2 (peer.one_channel): which jobs are in flight, under lock.
	 * read_lock is held by whoever reads the main socket, only while frames
	 * are read (never across a wait); take it before lock.
	 */
	pthread_mutex_t lock, read_lock;
	uint64_t last_id;
	struct job_run *inflight, *inflight_tail; /* sent, not answered, in the order sent */
	size_t ninflight;
	bool big_inflight; /* a request over BX_REMOTE_PIPELINE_REQ_MAX is in flight */
	struct job_run *waiting, *waiting_tail; /* jobs waiting to send, first come first */
	bool reading; /* some job's thread polls the main socket (its `reader`) */
	int broken;   /* once the connection is unusable: -EPROTO or -ECHILD, and why */
	char broken_why[BX_ERROR_TEXT_MAX];
};

struct job_run {
	struct bx_remote *rem;
	bx_job *job;
	bx_beam *chan;
	int64_t deadline; /* CLOCK_MONOTONIC ms, -1: none; from the start of bx_job_run */
	bool has_turn;
	struct bx_pump out[3]; /* [1], [2]: outputs; [0]: stdin */
	bool status_seen;
	int status;
	bool log_seen[3];
	char worker_error[BX_ERROR_TEXT_MAX];
	int worker_errno; /* from a beambox/1 worker's `error` frame; 0: unknown */

	/* beambox/2: this job in its proxy's bookkeeping (under rem->lock). */
	struct job_run *next, *prev; /* in rem->inflight, or in rem->waiting (next only) */
	uint64_t id;
	int state;   /* enum v2_state */
	bool big;    /* over BX_REMOTE_PIPELINE_REQ_MAX: sent only to an idle worker */
	bool queued; /* sent behind another job (queued=[1]): withdrawable until it starts */
	bool sent;   /* all of its request is written */
	bool reader; /* this job's thread is the one that reads the main socket */
	/* Its request, ready to go (V2_TAIL_ROOM spare), which another thread may send. */
	char *req;
	size_t req_len;
	const int *req_fds;
	size_t req_nfds;
	int send_err; /* a small request that could not be written: -errno, and cut */
	bool send_cut;
};

enum v2_state { V2_NEW, V2_WAITING, V2_INFLIGHT, V2_ANSWERED, V2_GONE };

static void kill_worker(struct job_run *jr)
{
	if (jr->rem->peer.kill)
		jr->rem->peer.kill(jr->rem->peer.ctx);
}

/* "worker 4242 killed by signal 9 (SIGKILL)", or a fallback if that is unknown. */
static void describe_worker(struct job_run *jr, int wait_ms, char *buf, size_t len)
{
	const struct bx_remote_peer *peer = &jr->rem->peer;
	int64_t deadline = now_ms() + wait_ms;

	for (;;) {
		if (peer->describe_exit && peer->describe_exit(peer->ctx, buf, len) == 1)
			return;
		int64_t left = deadline - now_ms();
		if (peer->exit_fd < 0 || left <= 0)
			break;
		struct pollfd pfd = {.fd = peer->exit_fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
	}
	snprintf(buf, len, "the worker is still running");
}

/*
 * Fails the job with code, the message naming the job; for protocol
 * violations the worker is killed first (its state is unknown).
 */
static int job_error(struct job_run *jr, int code, bool kill, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int job_error(struct job_run *jr, int code, bool kill, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (kill) {
		char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits (violation.c) */

		kill_worker(jr);
		describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
		return bx_job_fail(jr->job, code, "job '%.64s': %s; %s", jr->job->name, what, how);
	}
	return bx_job_fail(jr->job, code, "job '%.64s': %s", jr->job->name, what);
}

/* The job failed because the worker died: how it died. */
static int worker_died(struct job_run *jr, const char *when)
{
	char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits (violation.c) */

	describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
	return bx_job_fail(jr->job, -ECHILD, "job '%.64s': %s%s", jr->job->name, how, when);
}

static int poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---------------------------------------------------------------- the worker's turn */

static void give_turn(struct job_run *jr)
{
	uint64_t one = 1;

	if (!jr->has_turn)
		return;
	jr->has_turn = false;
	if (write(jr->rem->turn_efd, &one, sizeof(one)) < 0) {
		/* Cannot fail: the counter holds at most the one token. */
	}
}

/*
 * Waits until the worker is free for this job (the job before it has its
 * status), within the job's deadline and cancellation. Returns 0 holding the
 * turn, or the job's error: nothing was sent, so nothing else is harmed.
 */
static int take_turn(struct job_run *jr)
{
	const struct bx_remote_peer *peer = &jr->rem->peer;

	for (;;) {
		struct pollfd p[3] = {
		    {.fd = jr->rem->turn_efd, .events = POLLIN},
		    {.fd = jr->job->cancel_efd, .events = POLLIN},
		    {.fd = peer->exit_fd, .events = POLLIN},
		};
		uint64_t v;
		int n;

		if (jr->deadline >= 0 && now_ms() >= jr->deadline)
			return job_error(jr, -ETIMEDOUT, false,
					 "timed out after %d ms waiting for the worker (it runs "
					 "one job at a time); nothing was sent",
					 jr->job->timeout_ms);
		if (read(jr->rem->turn_efd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
			jr->has_turn = true;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return job_error(jr, -errno, false, "waiting for the worker: %m");
		n = poll(p, 3, poll_timeout(jr->deadline));
		if (n < 0 && errno != EINTR)
			return job_error(jr, -errno, false, "poll: %m");
		if (n > 0 && p[1].revents)
			return job_error(jr, -ECANCELED, false,
					 "cancelled while waiting for the worker (it runs one job "
					 "at a time); nothing was sent");
		if (n > 0 && p[2].revents)
			return worker_died(jr, ", before the request was sent");
	}
}

/* ---------------------------------------------------------------- sending the job */

/*
 * Sends m on b within the job's deadline and cancellation. On failure the
 * job has failed (and, if the frame was cut, the worker was killed).
 */
static int job_send(struct job_run *jr, bx_beam *b, const bx_msg *m, int fd, const char *what)
{
	const struct bx_remote_peer *peer = &jr->rem->peer;
	_cleanup_free_ char *buf = NULL;
	int stops[2] = {jr->job->cancel_efd, peer->exit_fd};
	size_t len;
	int r, cut = 0;

	r = bx_msg_encode(m, &buf, &len);
	if (r < 0)
		return job_error(jr, r, false, "encoding %s: %s", what, strerror(-r));
	r = bx_beam_send_until(b, buf, len, fd, jr->deadline, stops, peer->exit_fd >= 0 ? 2 : 1,
			       &cut);
	if (r == 0)
		return 0;
	if (r == -ECANCELED && peer->exit_fd >= 0 && bx_fd_ready(peer->exit_fd, POLLIN))
		return worker_died(jr, cut ? ", while the request was being sent" : "");
	if (r == -ETIMEDOUT)
		return job_error(jr, r, cut != 0,
				 "timed out after %d ms sending %s (the worker does not read it)%s",
				 jr->job->timeout_ms, what, cut ? "" : "; nothing was sent");
	if (r == -ECANCELED)
		return job_error(jr, r, cut != 0, "cancelled while sending %s%s", what,
				 cut ? "" : "; nothing was sent");
	if (r == -EPIPE) {
		char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits (violation.c) */

		if (peer->describe_exit)
			describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
		else /* attached (bx_remote_attach): no process to ask */
			snprintf(how, sizeof(how), "the worker closed the connection");
		return bx_job_fail(jr->job, -ECHILD, "job '%.64s': sending %s: %s; %s",
				   jr->job->name, what, strerror(EPIPE), how);
	}
	if (r == -ECONNABORTED)
		return job_error(jr, r, true,
				 "the connection to the worker was cut (a request before this "
				 "one could not be sent)");
	return job_error(jr, r, cut != 0, "sending %s: %s", what, strerror(-r));
}

/* Sends {cmd: [verb, arg]} with an fd on the job channel. */
static int job_send_cmd(struct job_run *jr, int fd, const char *verb, const char *arg)
{
	bx_msg *m = NULL;
	int r;

	r = bx_msg_new(&m);
	if (r == 0)
		r = bx_msg_add(m, "cmd", verb);
	if (r == 0)
		r = bx_msg_add(m, "cmd", arg);
	if (r < 0) {
		bx_msg_free(m);
		return job_error(jr, r, false, "encoding '%s %s': %s", verb, arg, strerror(-r));
	}
	r = job_send(jr, jr->chan, m, fd, "the streams");
	bx_msg_free(m);
	return r;
}

/* A pipe: ours[0] read end, ours[1] write end; the worker's end blocking, ours not. */
static int make_pipe(int p[2], int worker_end)
{
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(p[worker_end], F_SETFL, 0) < 0) {
		int r = -errno;

		close(p[0]);
		close(p[1]);
		return r;
	}
	return 0;
}

/* Whether a caller's fd goes to the worker through a relay rather than as is. */
static bool relayed(const bx_job *job, int i)
{
	int mode = job->fd_mode[i];

	if (mode == BX_FD_RELAY)
		return true;
	return mode == BX_FD_AUTO && isatty(job->streams[i].fd) == 1;
}

/*
 * Sets up how stream i reaches a beambox/1 worker: returns the fd to pass in
 * *pass_fd (owned by *pass_owned if we made it, else borrowed).
 */
static int prepare_stream(struct job_run *jr, int i, int *pass_fd, int *pass_owned)
{
	struct bx_stream *s = &jr->job->streams[i];
	struct bx_pump *p = &jr->out[i];
	int pipefd[2], r;

	*pass_owned = -1;
	switch (s->kind) {
	case BX_STREAM_FD:
		if (!relayed(jr->job, i)) {
			*pass_fd = s->fd;
			return 0;
		}
		/* A pipe in between; the parent copies (terminal or caller's choice). */
		r = make_pipe(pipefd, i == 0 ? 0 : 1);
		if (r < 0)
			return r;
		if (i == 0) {
			bx_ep_open_caller(&p->src, s->fd, false);
			bx_ep_own(&p->dst, pipefd[1]);
			p->input = true;
			*pass_owned = pipefd[0];
		} else {
			bx_ep_own(&p->src, pipefd[0]);
			bx_ep_open_caller(&p->dst, s->fd, true);
			*pass_owned = pipefd[1];
		}
		p->active = true;
		*pass_fd = *pass_owned;
		return 0;
	case BX_STREAM_BUF:
	case BX_STREAM_OWNED:
		*pass_fd = s->fd;
		return 0;
	case BX_STREAM_NONE:
		*pass_owned = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
		if (*pass_owned < 0)
			return -errno;
		*pass_fd = *pass_owned;
		return 0;
	case BX_STREAM_CAPTURE:
		r = make_pipe(pipefd, 1);
		if (r < 0)
			return r;
		bx_ep_own(&p->src, pipefd[0]);
		p->active = true;
		*pass_owned = pipefd[1];
		*pass_fd = pipefd[1];
		return 0;
	}
	return -EINVAL;
}

static int setup_capture_buffers(struct job_run *jr)
{
	for (int i = 1; i < 3; i++) {
		struct bx_stream *s = &jr->job->streams[i];

		if (s->kind != BX_STREAM_CAPTURE)
			continue;
		jr->out[i].capture = true;
		jr->out[i].max = s->max;
		jr->out[i].buf = malloc(s->max + 1);
		if (!jr->out[i].buf)
			return -ENOMEM;
	}
	return 0;
}

/* Builds cmd=[name, args...] env=[encoded env] and fds=[...] when passing. */
static int build_request(const bx_job *job, bool pass_fds, bx_msg **out)
{
	bx_msg *req = NULL, *env = NULL;
	_cleanup_free_ char *env_buf = NULL;
	size_t env_len;
	int r;

	r = bx_msg_new(&req);
	if (r < 0)
		return r;
	r = bx_msg_new(&env);
	if (r < 0)
		goto out;
	r = bx_msg_add(req, "cmd", job->name);
	for (size_t i = 0; r == 0 && i < job->nargs; i++)
		r = bx_msg_add(req, "cmd", job->args[i]);
	/* The env map groups values by key in first-appearance order, like the original. */
	for (size_t i = 0; r == 0 && i < job->nenv; i++)
		r = bx_msg_add(env, job->env[i].key, job->env[i].value);
	if (r == 0)
		r = bx_msg_encode(env, &env_buf, &env_len);
	if (r == 0)
		r = bx_msg_addn(req, "env", 3, env_buf, env_len);
	for (int i = 0; r == 0 && pass_fds && i < 3; i++)
		r = bx_msg_add(req, "fds", stream_names[i]);
out:
	bx_msg_free(env);
	if (r < 0) {
		bx_msg_free(req);
		return r;
	}
	*out = req;
	return 0;
}

/*
 * The errno of a beambox/1 worker's `error` frame (errno=[1..4095]), kept for
 * bx_job_run. An original worker has none: its failures stay -EREMOTEIO.
 */
static int read_worker_errno(struct job_run *jr, const bx_msg *m)
{
	const bx_bytes *v;
	size_t n;
	uint64_t e;

	if (!jr->rem->peer.takes_fds || bx_msg_get(m, "errno", &v, &n) < 0)
		return 0;
	if (n != 1 || bx_parse_u64(v[0].p, v[0].len, BX_REMOTE_ERRNO_MAX, &e) < 0 || e == 0) {
		char shown[72];

		return job_error(jr, -EPROTO, true, "worker sent a bad errno '%s'",
				 n ? bx_printable(v[0].p, v[0].len, 16, 0, shown, sizeof(shown))
				   : "");
	}
	jr->worker_errno = (int)e;
	return 0;
}

/* Passes the job's streams on the channel (beambox workers), then sends the request. */
static int send_job(struct job_run *jr, int chan_worker_end)
{
	bool pass = jr->rem->peer.takes_fds != 0;
	int owned[3] = {-1, -1, -1};
	bx_msg *req = NULL;
	int r = 0;

	for (int i = 0; pass && i < 3; i++) {
		int fd = -1;

		r = prepare_stream(jr, i, &fd, &owned[i]);
		if (r < 0) {
			r = job_error(jr, r, false, "preparing %s: %s", stream_names[i],
				      strerror(-r));
			goto out;
		}
		r = job_send_cmd(jr, fd, "fd", stream_names[i]);
		if (r < 0)
			goto out;
	}
	r = build_request(jr->job, pass, &req);
	if (r < 0) {
		r = job_error(jr, r, false, "encoding the request: %s", strerror(-r));
		goto out;
	}
	r = job_send(jr, jr->rem->main, req, chan_worker_end, "the request");
out:
	bx_msg_free(req);
	for (int i = 0; i < 3; i++)
		bx_close_and_reset(&owned[i]);
	return r;
}

/* ---------------------------------------------------------------- the job channel */

/* An fd an original-protocol worker may send at all: a pipe (checked before it is installed). */
static int is_pipe(int fd, void *ctx)
{
	struct stat st;

	(void)ctx;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISFIFO(st.st_mode) ? 0 : -EBADF;
}

/*
 * An original-protocol worker's `log` fd: a pipe, the read end for stdout
 * and stderr, the write end for stdin. Anything else (a file the parent has
 * open, a socket, a terminal) is refused.
 */
static int check_log_fd(int fd, int i)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || fl < 0)
		return -errno;
	if (!S_ISFIFO(st.st_mode))
		return -EBADF;
	if ((fl & O_ACCMODE) != (i == 0 ? O_WRONLY : O_RDONLY))
		return -EBADF;
	return 0;
}

/* Original protocol: the worker's pipe for stream i (fd owned) becomes a pump. */
static int adopt_log_pipe(struct job_run *jr, int i, int fd)
{
	struct bx_stream *s = &jr->job->streams[i];
	struct bx_pump *p = &jr->out[i];

	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		return job_error(jr, r, false, "fcntl on a stream pipe: %s", strerror(-r));
	}
	if (i == 0) {
		if (s->kind == BX_STREAM_FD) {
			bx_ep_open_caller(&p->src, s->fd, false);
		} else if (s->kind == BX_STREAM_BUF || s->kind == BX_STREAM_OWNED) {
			p->src.fd = s->fd; /* a sealed memfd: reading never blocks */
		} else {
			close(fd); /* no stdin: the worker sees EOF at once */
			return 0;
		}
		bx_ep_own(&p->dst, fd);
		p->input = true;
	} else {
		bx_ep_own(&p->src, fd);
		if (s->kind == BX_STREAM_FD || s->kind == BX_STREAM_OWNED)
			bx_ep_open_caller(&p->dst, s->fd, true);
	}
	p->active = true;
	return 0;
}

/* Handles one frame from the worker on the job channel. 0 to go on, -errno to end. */
static int handle_channel_frame(struct job_run *jr, bx_frame *f)
{
	bx_msg *m = NULL;
	const bx_bytes *cmd;
	size_t n;
	bx_error derr;
	int r;

	if (jr->status_seen)
		return job_error(jr, -EPROTO, true, "worker sent a frame after the status");
	r = bx_msg_decode(f->data, f->len, 0, &m, &derr);
	if (r < 0)
		return job_error(jr, -EPROTO, true, "undecodable frame from worker: %s", derr.text);
	r = bx_msg_get(m, "cmd", &cmd, &n);
	if (r < 0 || n < 1) {
		r = job_error(jr, -EPROTO, true, "frame from worker has no cmd");
		goto out;
	}
	if (bytes_eq(&cmd[0], "status") && n == 2 && f->fd < 0) {
		uint64_t st;

		if (bx_parse_u64(cmd[1].p, cmd[1].len, 255, &st) < 0) {
			char shown[72];

			r = job_error(
			    jr, -EPROTO, true, "worker sent a bad status '%s'",
			    bx_printable(cmd[1].p, cmd[1].len, 16, 0, shown, sizeof(shown)));
			goto out;
		}
		jr->status_seen = true;
		jr->status = (int)st;
		give_turn(jr); /* the worker is done with this job: the next may go */
		r = 0;
	} else if (bytes_eq(&cmd[0], "error") && n == 2 && f->fd < 0) {
		bx_printable(cmd[1].p, cmd[1].len, 200, 0, jr->worker_error,
			     sizeof(jr->worker_error));
		r = read_worker_errno(jr, m);
	} else if (bytes_eq(&cmd[0], "log") && n == 2 && f->fd >= 0) {
		int i = stream_index(&cmd[1]);

		if (i < 0 || jr->log_seen[i] || jr->rem->peer.takes_fds) {
			char shown[72];

			r = job_error(
			    jr, -EPROTO, true, "unexpected 'log %s' from worker",
			    bx_printable(cmd[1].p, cmd[1].len, 16, 0, shown, sizeof(shown)));
			goto out;
		}
		if (check_log_fd(f->fd, i) < 0) {
			r = job_error(jr, -EPROTO, true,
				      "'log %s' from worker carries an fd that is not the %s end "
				      "of a pipe",
				      stream_names[i], i == 0 ? "write" : "read");
			goto out;
		}
		jr->log_seen[i] = true;
		r = adopt_log_pipe(jr, i, bx_steal_fd(&f->fd));
	} else {
		char shown[72];

		r = job_error(jr, -EPROTO, true, "unexpected '%s' (%zu args%s) from worker",
			      bx_printable(cmd[0].p, cmd[0].len, 16, 0, shown, sizeof(shown)),
			      n - 1, f->fd >= 0 ? ", with an fd" : ", no fd");
	}
out:
	bx_msg_free(m);
	return r;
}

static bool outputs_done(const struct job_run *jr)
{
	return bx_pump_done(&jr->out[1]) && bx_pump_done(&jr->out[2]);
}

/* Frames handled per read_channel call before the poll loop checks its deadlines again. */
#define CHANNEL_BATCH 64

/*
 * Reads the frames the channel has now, at most a batch: 1 at EOF, 0 when it
 * would block, 2 after a full batch (more may be there), -errno to end.
 */
static int read_channel(struct job_run *jr)
{
	for (int k = 0; k < CHANNEL_BATCH; k++) {
		bx_frame f = {.fd = -1};
		bx_error berr;
		int r = bx_beam_recv(jr->chan, &f, &berr);

		if (r == -EAGAIN)
			return 0;
		if (r == -EINTR)
			continue;
		if (r == 0)
			return 1;
		if (r < 0)
			return job_error(jr, -EPROTO, true, "job channel: %s", berr.text);
		r = handle_channel_frame(jr, &f);
		bx_frame_clear(&f);
		if (r < 0)
			return r;
	}
	return 2; /* a full batch: more may be there */
}

/* The poll loop of one job: channel, pumps, worker exit, cancel, deadline. */
static int run_loop(struct job_run *jr)
{
	const struct bx_remote_peer *peer = &jr->rem->peer;
	int64_t deadline = jr->deadline;
	int64_t drain_deadline = -1;
	bool chan_eof = false, worker_gone = false;

	for (;;) {
		struct pollfd pfd[6];
		int idx_chan = -1, idx_exit = -1, idx_cancel, idx_pump[3] = {-1, -1, -1};
		int nfds = 0, timeout, r;
		int64_t now;

		if (jr->status_seen) {
			/* The handler is done: its stdin no longer matters. */
			bx_pump_close(&jr->out[0]);
			if (outputs_done(jr))
				break;
		}
		if (jr->status_seen && drain_deadline < 0)
			drain_deadline = now_ms() + BX_REMOTE_DRAIN_GRACE_MS;

		if (!chan_eof && !jr->status_seen) {
			idx_chan = nfds;
			pfd[nfds++] = (struct pollfd){.fd = bx_beam_fd(jr->chan), .events = POLLIN};
		}
		if (peer->exit_fd >= 0 && !worker_gone) {
			idx_exit = nfds;
			pfd[nfds++] = (struct pollfd){.fd = peer->exit_fd, .events = POLLIN};
		}
		idx_cancel = nfds;
		pfd[nfds++] = (struct pollfd){.fd = jr->job->cancel_efd, .events = POLLIN};
		for (int i = 0; i < 3; i++)
			if (!bx_pump_done(&jr->out[i])) {
				idx_pump[i] = nfds;
				pfd[nfds++] = bx_pump_pollfd(&jr->out[i]);
			}

		timeout = poll_timeout(deadline);
		if (drain_deadline >= 0) {
			int t = poll_timeout(drain_deadline);
			timeout = timeout < 0 || t < timeout ? t : timeout;
		}
		r = poll(pfd, (nfds_t)nfds, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return job_error(jr, -errno, false, "poll: %m");
		}
		/*
		 * Deadlines are checked on every round, not only when poll times
		 * out: a worker that keeps its channel or pipes always readable
		 * (a flood) must not keep the job alive past its timeout.
		 */
		now = now_ms();
		if (deadline >= 0 && now >= deadline)
			return job_error(jr, -ETIMEDOUT, true, "timed out after %d ms",
					 jr->job->timeout_ms);
		if (drain_deadline >= 0 && now >= drain_deadline) {
			/*
			 * Output still open after the status (a leaked pipe end), or a
			 * caller's fd that takes no more (a stopped terminal): stop.
			 */
			for (int i = 1; i < 3; i++)
				if (!bx_pump_done(&jr->out[i])) {
					jr->out[i].truncated = true;
					bx_pump_close(&jr->out[i]);
				}
			bx_pump_close(&jr->out[0]);
			continue;
		}
		if (r == 0)
			continue;
		if (pfd[idx_cancel].revents) {
			if (jr->status_seen)
				break; /* already answered; nothing to kill */
			return job_error(jr, -ECANCELED, true, "cancelled");
		}
		for (int i = 0; i < 3; i++)
			if (idx_pump[i] >= 0 && pfd[idx_pump[i]].revents) {
				r = bx_pump_run(&jr->out[i]);
				if (r < 0 && i == 0) {
					/* The caller's stdin failed: the worker sees its end. */
					bx_pump_close(&jr->out[0]);
				} else if (r < 0) {
					return job_error(jr, r, false, "reading %s: %s",
							 stream_names[i], strerror(-r));
				}
			}
		if (idx_chan >= 0 && pfd[idx_chan].revents) {
			r = read_channel(jr);
			if (r < 0)
				return r;
			if (r == 1)
				chan_eof = true;
		}
		if (idx_exit >= 0 && pfd[idx_exit].revents) {
			worker_gone = true;
			/*
			 * A status may already sit in the channel: read it before
			 * judging (all of it: a dead worker writes no more).
			 */
			while (!jr->status_seen && !chan_eof) {
				r = read_channel(jr);
				if (r < 0)
					return r;
				if (r == 1)
					chan_eof = true;
				if (r != 2 || (deadline >= 0 && now_ms() >= deadline))
					break;
			}
			if (!jr->status_seen) {
				char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits
								(violation.c) */

				describe_worker(jr, 0, how, sizeof(how));
				return bx_job_fail(jr->job, -ECHILD, "job '%.64s': %s",
						   jr->job->name, how);
			}
		}
		if (chan_eof && !jr->status_seen) {
			char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits (violation.c) */

			describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
			if (strcmp(how, "the worker is still running") == 0) {
				kill_worker(jr);
				return job_error(jr, -EPROTO, false,
						 "worker closed the job channel without a status%s",
						 jr->rem->peer.kill ? "; worker killed" : "");
			}
			return bx_job_fail(jr->job, -ECHILD, "job '%.64s': %s", jr->job->name, how);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- beambox/2, parent side */

/*
 * beambox/2: every job of a worker on its main socket, several in flight.
 *
 * A job enters the proxy's bookkeeping when its request may go out: at most
 * BX_REMOTE_INFLIGHT_MAX in flight, and a request over
 * BX_REMOTE_PIPELINE_REQ_MAX only to an idle worker, with nothing sent
 * behind it until it is answered (so a request never waits for socket space
 * behind another and a small one is written at once, under the lock, in the
 * order of the ids). A job that waits for that (first come, first served)
 * within its deadline and cancellation fails alone: nothing was sent. When
 * a place comes free, the thread that freed it writes the small requests of
 * the jobs waiting (their threads need not wake up for that).
 *
 * One job's thread at a time (the reader) polls the main socket; it hands
 * every answer to its job (waking that job's thread through its cancel
 * eventfd, which bx_job_cancel also writes: a woken thread checks whether
 * its job was really cancelled) and passes the role on when its own job is
 * answered. Everyone else polls its own eventfd, pumps and the worker's exit.
 *
 * Timeout and cancellation: a job sent behind another (queued=[1]) that the
 * worker has not started is withdrawn and fails alone. The parent knows the
 * worker has not started it when, after its `withdraw` frame is written (so
 * it is in the worker's socket), the main socket holds no answer for some
 * job before it: the worker runs jobs in order and reads all that has come
 * after each answer before it starts a queued job, so it sees the
 * withdrawal first. Otherwise the job may be running: the worker is killed,
 * as in beambox/1, and every job in flight on it fails.
 */

static void v2_wake(struct job_run *jr)
{
	uint64_t one = 1;
	int efd = atomic_load(&jr->job->cancel_efd);

	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, which is all a waiter needs. */
	}
}

/* Empties the eventfd; true if the job was really cancelled (not just woken). */
static bool v2_woken_cancelled(struct job_run *jr)
{
	uint64_t v;

	if (read(jr->job->cancel_efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain. */
	}
	return atomic_load(&jr->job->cancelled);
}

static void v2_unlink_inflight_locked(struct bx_remote *rem, struct job_run *jr)
{
	if (jr->prev)
		jr->prev->next = jr->next;
	else
		rem->inflight = jr->next;
	if (jr->next)
		jr->next->prev = jr->prev;
	else
		rem->inflight_tail = jr->prev;
	jr->next = jr->prev = NULL;
	rem->ninflight--;
	if (jr->big)
		rem->big_inflight = false;
}

static void v2_unlink_waiting_locked(struct bx_remote *rem, struct job_run *jr)
{
	struct job_run **pp = &rem->waiting, *prev = NULL;

	while (*pp && *pp != jr) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = jr->next;
	if (rem->waiting_tail == jr)
		rem->waiting_tail = prev;
	jr->next = NULL;
}

static void v2_admit_waiting_locked(struct bx_remote *rem);

/* The reader's role is free: the oldest job in flight whose request is out takes it. */
static void v2_pass_reader_locked(struct bx_remote *rem)
{
	for (struct job_run *jr = rem->inflight; jr; jr = jr->next)
		if (jr->sent) {
			v2_wake(jr);
			return;
		}
}

/* Leaves the bookkeeping on any path (jr done, failed or withdrawn). */
static void v2_leave(struct job_run *jr)
{
	struct bx_remote *rem = jr->rem;
	bool freed = false;

	pthread_mutex_lock(&rem->lock);
	if (jr->state == V2_WAITING) {
		freed = rem->waiting == jr; /* the next in line may go now */
		v2_unlink_waiting_locked(rem, jr);
	} else if (jr->state == V2_INFLIGHT) {
		v2_unlink_inflight_locked(rem, jr);
		freed = true;
	}
	jr->state = V2_GONE;
	if (jr->reader) {
		jr->reader = false;
		rem->reading = false;
		v2_pass_reader_locked(rem);
	}
	/* (An answered job's place was given back, and the waiting woken, when it was answered.) */
	if (freed)
		v2_admit_waiting_locked(rem);
	pthread_mutex_unlock(&rem->lock);
}

/*
 * The connection is unusable (the worker broke the protocol, closed it, or
 * was killed): records why, once, kills the worker if asked, and wakes every
 * job so that it fails. Called with lock held.
 */
static void v2_break_locked(struct bx_remote *rem, int code, bool kill, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void v2_break_locked(struct bx_remote *rem, int code, bool kill, const char *fmt, ...)
{
	va_list ap;

	if (rem->broken)
		return;
	rem->broken = code;
	va_start(ap, fmt);
	vsnprintf(rem->broken_why, sizeof(rem->broken_why), fmt, ap);
	va_end(ap);
	if (kill && rem->peer.kill)
		rem->peer.kill(rem->peer.ctx);
	for (struct job_run *jr = rem->inflight; jr; jr = jr->next)
		v2_wake(jr);
	for (struct job_run *jr = rem->waiting; jr; jr = jr->next)
		v2_wake(jr);
}

/* The job fails because the connection broke (after what it has, if anything, sent). */
static int v2_fail_broken(struct job_run *jr, int code, const char *why, const char *when)
{
	char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits (violation.c) */

	if (!jr->rem->peer.describe_exit) {
		snprintf(how, sizeof(how), "the connection to the worker is broken");
	} else {
		describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
		if (strcmp(how, "the worker is still running") == 0) {
			/* It closed its connection and lives on: its state is unknown. */
			kill_worker(jr);
			describe_worker(jr, BX_REMOTE_DEATH_GRACE_MS, how, sizeof(how));
			code = -EPROTO;
		}
	}
	if (code == -EPROTO)
		return bx_job_fail(jr->job, code, "job '%.64s': %s; %s%s", jr->job->name, why, how,
				   when);
	return bx_job_fail(jr->job, -ECHILD, "job '%.64s': %s%s", jr->job->name, how, when);
}

/* Keys an answer may have. */
static bool v2_answer_key(const bx_bytes *k)
{
	return bytes_eq(k, "cmd") || bytes_eq(k, "id") || bytes_eq(k, "error") ||
	       bytes_eq(k, "errno");
}

/*
 * One answer from the worker: cmd=[status, N] id=[ID] (error=[TEXT]
 * errno=[N]), for a job in flight; it is handed to that job. Anything else
 * is a protocol violation: -EPROTO with why. Called with lock held.
 */
static int v2_deliver_locked(struct bx_remote *rem, const struct job_run *self, const bx_frame *f,
			     char *why, size_t wlen)
{
	bx_msg *m = NULL;
	const bx_bytes *cmd = NULL, *etext = NULL;
	bx_bytes v, key;
	struct job_run *jr;
	uint64_t id = 0, st = 0, e = 0;
	size_t n = 0;
	bx_error derr;
	char shown[72];
	int r;

	r = bx_msg_decode(f->data, f->len, 0, &m, &derr);
	if (r < 0) {
		snprintf(why, wlen, "undecodable answer from the worker: %.160s", derr.text);
		return -EPROTO;
	}
	r = -EPROTO;
	for (size_t i = 0; i < bx_msg_nkeys(m); i++)
		if (bx_msg_key_at(m, i, &key) < 0 || !v2_answer_key(&key)) {
			snprintf(why, wlen, "answer from the worker with an unknown key '%s'",
				 bx_printable(key.p, key.len, 16, 0, shown, sizeof(shown)));
			goto out;
		}
	/* Without a cmd, bx_msg_get leaves cmd and n alone: they must be NULL and 0 then. */
	if (bx_msg_get(m, "cmd", &cmd, &n) < 0 || n != 2 || !bytes_eq(&cmd[0], "status")) {
		snprintf(why, wlen, "unexpected '%s' from the worker",
			 cmd && n > 0
			     ? bx_printable(cmd[0].p, cmd[0].len, 16, 0, shown, sizeof(shown))
			     : "");
		goto out;
	}
	if (bx_parse_u64(cmd[1].p, cmd[1].len, 255, &st) < 0) {
		snprintf(why, wlen, "worker sent a bad status '%s'",
			 bx_printable(cmd[1].p, cmd[1].len, 16, 0, shown, sizeof(shown)));
		goto out;
	}
	if (frame_id(m, &id) < 0) {
		snprintf(why, wlen, "answer from the worker without a valid id");
		goto out;
	}
	if (bx_msg_get(m, "error", &etext, &n) == 0 && n != 1) {
		snprintf(why, wlen, "answer from the worker with %zu error texts", n);
		goto out;
	}
	if (bx_msg_get_one(m, "errno", &v) != -ENOENT &&
	    (!etext || bx_msg_get_one(m, "errno", &v) < 0 ||
	     bx_parse_u64(v.p, v.len, BX_REMOTE_ERRNO_MAX, &e) < 0 || e == 0)) {
		snprintf(why, wlen, "worker sent a bad errno");
		goto out;
	}
	for (jr = rem->inflight; jr && jr->id != id; jr = jr->next)
		;
	if (!jr || !jr->sent) {
		snprintf(why, wlen,
			 "answer for job %llu, which is not in flight (never sent, answered "
			 "already, or withdrawn)",
			 (unsigned long long)id);
		goto out;
	}
	jr->status_seen = true;
	jr->status = (int)st;
	if (etext)
		bx_printable(etext->p, etext->len, 200, 0, jr->worker_error,
			     sizeof(jr->worker_error));
	jr->worker_errno = (int)e;
	v2_unlink_inflight_locked(rem, jr);
	jr->state = V2_ANSWERED;
	if (jr != self)
		v2_wake(jr);
	v2_admit_waiting_locked(rem);
	r = 0;
out:
	bx_msg_free(m);
	return r;
}

/*
 * Reads what the main socket has now and hands every answer to its job
 * (waking its thread, unless it is self's). Called with read_lock held. Returns 0, or -errno once
 * the connection is broken (rem->broken says why).
 */
static int v2_read(struct bx_remote *rem, const struct job_run *self)
{
	for (;;) {
		bx_frame f = {.fd = -1};
		bx_error berr;
		char why[BX_ERROR_TEXT_MAX];
		int r = bx_beam_recv(rem->main, &f, &berr);

		if (r == -EAGAIN)
			return 0;
		if (r == -EINTR)
			continue;
		pthread_mutex_lock(&rem->lock);
		if (r == 0) /* it died, most likely: the jobs say how (v2_fail_broken) */
			v2_break_locked(rem, -ECHILD, false, "the worker closed its connection");
		else if (r < 0)
			v2_break_locked(rem, -EPROTO, true, "main socket: %.200s", berr.text);
		else if (v2_deliver_locked(rem, self, &f, why, sizeof(why)) < 0)
			v2_break_locked(rem, -EPROTO, true, "%s", why);
		r = rem->broken;
		pthread_mutex_unlock(&rem->lock);
		bx_frame_clear(&f);
		if (r < 0)
			return r;
		/* Nothing read ahead: poll says when more comes (no read for -EAGAIN). */
		if (bx_beam_rx_buffered(rem->main) == 0)
			return 0;
	}
}

/* Appends ",KEYLEN:KEY,VLEN:VLEN2:VALUE,," style netstrings: key -> [value]. */
static int v2_append_kv(char *buf, size_t *len, size_t cap, const char *key, const char *val)
{
	char inner[48];
	int k = snprintf(inner, sizeof(inner), "%zu:%s,", strlen(val), val);
	int n;

	if (k < 0 || (size_t)k >= sizeof(inner))
		return -EINVAL;
	n = snprintf(buf + *len, cap - *len, "%zu:%s,%d:%s,", strlen(key), key, k, inner);
	if (n < 0 || (size_t)n >= cap - *len)
		return -ENOBUFS;
	*len += (size_t)n;
	return 0;
}

/* Room kept after an encoded request for id=[...] and queued=[1]. */
#define V2_TAIL_ROOM 96

/*
 * The request without its id: cmd, env, fds=[names of the passed streams].
 * *buf has V2_TAIL_ROOM spare bytes at its end.
 */
static int v2_encode_request(const bx_job *job, const char *const *names, size_t nfds, char **buf,
			     size_t *len)
{
	bx_msg *req = NULL;
	_cleanup_free_ char *enc = NULL;
	int r;

	r = build_request(job, false, &req);
	for (size_t i = 0; r == 0 && i < nfds; i++)
		r = bx_msg_add(req, "fds", names[i]);
	if (r == 0)
		r = bx_msg_encode(req, &enc, len);
	bx_msg_free(req);
	if (r < 0)
		return r;
	if (!enc)
		return -EIO; /* cannot happen: encode sets it on success */
	*buf = malloc(*len + V2_TAIL_ROOM);
	if (!*buf)
		return -ENOMEM;
	memcpy(*buf, enc, *len);
	return 0;
}

/* Whether jr's request may go out now (lock held). */
static bool v2_may_go_locked(const struct bx_remote *rem, const struct job_run *jr)
{
	return !rem->broken && !rem->big_inflight && rem->ninflight < BX_REMOTE_INFLIGHT_MAX &&
	       (!jr->big || rem->ninflight == 0);
}

/* jr takes an id and its place in flight, last (lock held). */
static void v2_enter_locked(struct bx_remote *rem, struct job_run *jr)
{
	jr->id = ++rem->last_id;
	jr->queued = rem->ninflight > 0;
	jr->prev = rem->inflight_tail;
	jr->next = NULL;
	if (rem->inflight_tail)
		rem->inflight_tail->next = jr;
	else
		rem->inflight = jr;
	rem->inflight_tail = jr;
	rem->ninflight++;
	if (jr->big)
		rem->big_inflight = true;
	jr->state = V2_INFLIGHT;
}

/*
 * Writes a small request (with its id, and queued=[1] when others are in
 * flight) and its fds in one message, at once or not at all: the socket
 * has room for every request in flight. Lock held, from whichever thread
 * lets it go. On failure jr->send_err says why; a request not written at
 * all leaves the bookkeeping (nothing was sent), a cut one kills the worker.
 */
static void v2_write_small_locked(struct bx_remote *rem, struct job_run *jr)
{
	char idbuf[24];
	size_t len = jr->req_len;
	int r, cut = 0;

	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)jr->id);
	r = v2_append_kv(jr->req, &len, jr->req_len + V2_TAIL_ROOM, "id", idbuf);
	if (r == 0 && jr->queued)
		r = v2_append_kv(jr->req, &len, jr->req_len + V2_TAIL_ROOM, "queued", "1");
	if (r == 0)
		r = bx_beam_send_fds_until(rem->main, jr->req, len, jr->req_fds, jr->req_nfds, 0,
					   NULL, 0, &cut);
	if (r == 0) {
		jr->sent = true;
		return;
	}
	jr->send_err = r;
	jr->send_cut = cut != 0;
	if (cut) {
		v2_break_locked(rem, -ECHILD, true, "a request was cut");
	} else {
		v2_unlink_inflight_locked(rem, jr);
		jr->state = V2_GONE;
	}
}

/*
 * Places came free: jobs waiting to send go, first come first served. A
 * small request is written here by whoever freed the place (its thread need
 * not wake up for that: it waits for its answer either way); a big one's
 * thread is woken to send it itself. Someone must read the answers: if no
 * thread does, the oldest job in flight's thread is woken for it.
 */
static void v2_admit_waiting_locked(struct bx_remote *rem)
{
	struct job_run *jr;

	while ((jr = rem->waiting) != NULL && v2_may_go_locked(rem, jr)) {
		if (jr->big) {
			v2_wake(jr);
			break;
		}
		v2_unlink_waiting_locked(rem, jr);
		v2_enter_locked(rem, jr);
		v2_write_small_locked(rem, jr);
		if (jr->send_err)
			v2_wake(jr);
	}
	if (!rem->reading)
		v2_pass_reader_locked(rem);
}

/*
 * Waits (within the job's deadline and cancellation) until its request may
 * go out. Returns 0 with the lock held once it has an id and a place in
 * flight (its thread sends it: v2_send); 1 when another thread let it go
 * meanwhile (sent, or jr->send_err); or the job's error: nothing was sent.
 */
static int v2_admit(struct job_run *jr)
{
	struct bx_remote *rem = jr->rem;
	int stop = 0;

	for (;;) {
		int n, ahead;

		pthread_mutex_lock(&rem->lock);
		if (jr->state != V2_NEW && jr->state != V2_WAITING) {
			pthread_mutex_unlock(&rem->lock);
			return 1;
		}
		if (rem->broken) {
			int code = rem->broken;
			char why[BX_ERROR_TEXT_MAX];

			snprintf(why, sizeof(why), "%s", rem->broken_why);
			pthread_mutex_unlock(&rem->lock);
			return v2_fail_broken(jr, code, why, ", before the request was sent");
		}
		if ((!rem->waiting || rem->waiting == jr) && v2_may_go_locked(rem, jr)) {
			if (jr->state == V2_WAITING)
				v2_unlink_waiting_locked(rem, jr);
			v2_enter_locked(rem, jr);
			return 0; /* still locked: v2_send writes it */
		}
		ahead = (int)rem->ninflight;
		if (stop) {
			/* Still waiting, so nothing was sent: out of the queue, then fail. */
			bool head = rem->waiting == jr;

			if (jr->state == V2_WAITING)
				v2_unlink_waiting_locked(rem, jr);
			jr->state = V2_GONE;
			if (head)
				v2_admit_waiting_locked(rem);
			pthread_mutex_unlock(&rem->lock);
			if (stop == -ETIMEDOUT)
				return job_error(
				    jr, -ETIMEDOUT, false,
				    "timed out after %d ms waiting for the worker (%d jobs "
				    "in flight on it); nothing was sent",
				    jr->job->timeout_ms, ahead);
			if (stop == -ECANCELED)
				return job_error(jr, -ECANCELED, false,
						 "cancelled while waiting for the worker; nothing "
						 "was sent");
			return worker_died(jr, ", before the request was sent");
		}
		if (jr->state != V2_WAITING) {
			jr->state = V2_WAITING;
			jr->next = NULL;
			if (rem->waiting_tail)
				rem->waiting_tail->next = jr;
			else
				rem->waiting = jr;
			rem->waiting_tail = jr;
		}
		pthread_mutex_unlock(&rem->lock);

		struct pollfd p[2] = {
		    {.fd = jr->job->cancel_efd, .events = POLLIN},
		    {.fd = rem->peer.exit_fd, .events = POLLIN},
		};
		if (jr->deadline >= 0 && now_ms() >= jr->deadline) {
			stop = -ETIMEDOUT;
			continue;
		}
		n = poll(p, 2, poll_timeout(jr->deadline));
		if (n < 0 && errno != EINTR)
			return job_error(jr, -errno, false, "poll: %m");
		if (n > 0 && p[0].revents && v2_woken_cancelled(jr))
			stop = -ECANCELED;
		else if (n > 0 && p[1].revents)
			stop = -ECHILD;
		else if (jr->deadline >= 0 && now_ms() >= jr->deadline)
			stop = -ETIMEDOUT;
	}
}

/* A small request that another thread (or v2_send) could not write: the job's error. */
static int v2_send_failed(struct job_run *jr)
{
	int r = jr->send_err;

	if (r == -ETIMEDOUT && !jr->send_cut)
		return job_error(jr, -EAGAIN, false,
				 "the worker's socket is full (it does not read its requests); "
				 "nothing was sent");
	if (r == -EPIPE)
		return worker_died(jr, ", while the request was being sent");
	return job_error(jr, r, jr->send_cut, "sending the request: %s", strerror(-r));
}

/*
 * Writes the request (with its id, and queued=[1] when others are in
 * flight) and its fds in one message. Called with lock held, from
 * v2_admit; returns without it. A small request is written at once or not
 * at all (the socket has room for every request in flight); a big one goes
 * to an idle worker and may wait for room within the job's deadline and
 * cancellation. On failure the job has failed (and if the request was cut,
 * the worker is killed).
 */
static int v2_send(struct job_run *jr, char *buf, size_t len, const int *fds, size_t nfds)
{
	struct bx_remote *rem = jr->rem;
	const struct bx_remote_peer *peer = &rem->peer;
	int stops[2] = {jr->job->cancel_efd, peer->exit_fd};
	char idbuf[24];
	int r, cut = 0;

	if (!jr->big) {
		v2_write_small_locked(rem, jr);
		pthread_mutex_unlock(&rem->lock);
		return jr->send_err ? v2_send_failed(jr) : 0;
	}
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)jr->id);
	r = v2_append_kv(buf, &len, len + V2_TAIL_ROOM, "id", idbuf);
	if (r < 0) {
		pthread_mutex_unlock(&rem->lock);
		return job_error(jr, r, false, "encoding the request: %s", strerror(-r));
	}
	pthread_mutex_unlock(&rem->lock);
	for (;;) {
		r = bx_beam_send_fds_until(rem->main, buf, len, fds, nfds, jr->deadline, stops,
					   peer->exit_fd >= 0 ? 2 : 1, &cut);
		if (r != -ECANCELED || cut || atomic_load(&jr->job->cancelled) ||
		    bx_fd_ready(peer->exit_fd, POLLIN))
			break;
		pthread_mutex_lock(&rem->lock);
		r = rem->broken;
		pthread_mutex_unlock(&rem->lock);
		if (r)
			return v2_fail_broken(jr, r, rem->broken_why,
					      ", before the request was sent");
		bx_ignore(v2_woken_cancelled(jr)); /* woken for nothing: try again */
	}
	if (r == 0) {
		pthread_mutex_lock(&rem->lock);
		jr->sent = true;
		pthread_mutex_unlock(&rem->lock);
		return 0;
	}
	if (cut) {
		pthread_mutex_lock(&rem->lock);
		v2_break_locked(rem, -ECHILD, true, "a request was cut");
		pthread_mutex_unlock(&rem->lock);
	}
	if (r == -ECANCELED && peer->exit_fd >= 0 && bx_fd_ready(peer->exit_fd, POLLIN))
		return worker_died(jr, cut ? ", while the request was being sent" : "");
	if (r == -ETIMEDOUT)
		return job_error(jr, r, cut != 0,
				 "timed out after %d ms sending the request (the worker does not "
				 "read it)%s",
				 jr->job->timeout_ms, cut ? "" : "; nothing was sent");
	if (r == -ECANCELED)
		return job_error(jr, r, cut != 0, "cancelled while sending the request%s",
				 cut ? "" : "; nothing was sent");
	if (r == -EPIPE)
		return worker_died(jr, ", while the request was being sent");
	return job_error(jr, r, cut != 0, "sending the request: %s", strerror(-r));
}

/* Whether a job in flight before jr is still unanswered (so the worker has not started jr). */
static bool v2_behind_unanswered_locked(const struct job_run *jr)
{
	return jr->state == V2_INFLIGHT && jr->queued && jr->prev != NULL;
}

/*
 * The job's time ran out (code -ETIMEDOUT) or it was cancelled (-ECANCELED)
 * while its request is in flight. A job the worker has not started is
 * withdrawn and fails alone; otherwise the worker is killed. Returns 1 if the
 * answer came meanwhile (the job goes on), else the job's error.
 */
static int v2_give_up(struct job_run *jr, int code)
{
	struct bx_remote *rem = jr->rem;
	bool withdrawn = false;

	pthread_mutex_lock(&rem->read_lock);
	/* Answers that have come first: one may be this job's. */
	bx_ignore(v2_read(rem, jr));
	pthread_mutex_lock(&rem->lock);
	if (jr->state == V2_ANSWERED) {
		pthread_mutex_unlock(&rem->lock);
		pthread_mutex_unlock(&rem->read_lock);
		return 1;
	}
	if (!rem->broken && v2_behind_unanswered_locked(jr)) {
		char buf[64], idbuf[24];
		size_t len;
		int cut = 0;

		snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)jr->id);
		memcpy(buf, "000;", 4);
		len = 4;
		/* No cmd: a request always has one, so no job name reads as this. */
		if (v2_append_kv(buf, &len, sizeof(buf), "id", idbuf) == 0 &&
		    v2_append_kv(buf, &len, sizeof(buf), "withdraw", "1") == 0 &&
		    bx_beam_send_fds_until(rem->main, buf, len, NULL, 0, 0, NULL, 0, &cut) == 0) {
			/*
			 * The withdrawal is in the worker's socket. If the job before
			 * this one is still unanswered once the socket is read now, the
			 * worker will see the withdrawal before it starts this job.
			 */
			pthread_mutex_unlock(&rem->lock);
			bx_ignore(v2_read(rem, jr));
			pthread_mutex_lock(&rem->lock);
			withdrawn = !rem->broken && v2_behind_unanswered_locked(jr);
		} else if (cut) {
			v2_break_locked(rem, -ECHILD, true, "a withdrawal was cut");
		}
	}
	if (withdrawn) {
		v2_unlink_inflight_locked(rem, jr);
		jr->state = V2_GONE;
		v2_admit_waiting_locked(rem);
	} else if (jr->state == V2_ANSWERED) {
		pthread_mutex_unlock(&rem->lock);
		pthread_mutex_unlock(&rem->read_lock);
		return 1;
	} else {
		v2_break_locked(rem, -ECHILD, true, "job '%.64s' %s", jr->job->name,
				code == -ETIMEDOUT ? "timed out" : "was cancelled");
	}
	pthread_mutex_unlock(&rem->lock);
	pthread_mutex_unlock(&rem->read_lock);
	if (withdrawn && code == -ETIMEDOUT)
		return job_error(
		    jr, code, false,
		    "timed out after %d ms waiting for the worker, busy with an earlier "
		    "job; withdrawn before it started",
		    jr->job->timeout_ms);
	if (withdrawn)
		return job_error(
		    jr, code, false,
		    "cancelled while waiting for the worker, busy with an earlier job; "
		    "withdrawn before it started");
	if (code == -ETIMEDOUT)
		return job_error(jr, code, true, "timed out after %d ms", jr->job->timeout_ms);
	return job_error(jr, code, true, "cancelled");
}

/*
 * The job's request is out: waits for its answer (reading the main socket
 * when this thread is the reader) and for its output pumps, within its
 * deadline and cancellation.
 */
static int v2_wait(struct job_run *jr)
{
	struct bx_remote *rem = jr->rem;
	const struct bx_remote_peer *peer = &rem->peer;
	int64_t drain_deadline = -1;
	bool worker_gone = false;

	for (;;) {
		struct pollfd pfd[6];
		int idx_main = -1, idx_exit = -1, idx_wake, idx_pump[3] = {-1, -1, -1};
		int nfds = 0, timeout, r, broken = 0;
		bool answered;
		char why[BX_ERROR_TEXT_MAX];

		pthread_mutex_lock(&rem->lock);
		answered = jr->state == V2_ANSWERED;
		if (answered && jr->reader) {
			jr->reader = false;
			rem->reading = false;
			v2_pass_reader_locked(rem);
		} else if (!answered && rem->broken) {
			broken = rem->broken;
			snprintf(why, sizeof(why), "%s", rem->broken_why);
		} else if (!answered && !rem->reading) {
			rem->reading = true;
			jr->reader = true;
		}
		pthread_mutex_unlock(&rem->lock);
		if (broken)
			return v2_fail_broken(jr, broken, why, "");
		if (!answered && atomic_load(&jr->job->cancelled)) {
			/* Cancelled while another thread sent it (v2_admit took the wake-up). */
			r = v2_give_up(jr, -ECANCELED);
			if (r != 1)
				return r;
			continue;
		}
		if (answered) {
			/* The handler is done: its stdin no longer matters. */
			bx_pump_close(&jr->out[0]);
			if (outputs_done(jr))
				return 0;
			if (drain_deadline < 0)
				drain_deadline = now_ms() + BX_REMOTE_DRAIN_GRACE_MS;
		}
		if (jr->reader) {
			/*
			 * v2_read returns only when what is read ahead holds no whole
			 * frame (at most the start of one): poll says when more comes.
			 */
			idx_main = nfds;
			pfd[nfds++] =
			    (struct pollfd){.fd = bx_beam_fd(rem->main), .events = POLLIN};
		}
		if (peer->exit_fd >= 0 && !worker_gone) {
			idx_exit = nfds;
			pfd[nfds++] = (struct pollfd){.fd = peer->exit_fd, .events = POLLIN};
		}
		idx_wake = nfds;
		pfd[nfds++] = (struct pollfd){.fd = jr->job->cancel_efd, .events = POLLIN};
		for (int i = 0; i < 3; i++)
			if (!bx_pump_done(&jr->out[i])) {
				idx_pump[i] = nfds;
				pfd[nfds++] = bx_pump_pollfd(&jr->out[i]);
			}
		timeout = answered ? poll_timeout(drain_deadline) : poll_timeout(jr->deadline);
		r = poll(pfd, (nfds_t)nfds, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return job_error(jr, -errno, !answered, "poll: %m");
		}
		if (!answered && jr->deadline >= 0 && now_ms() >= jr->deadline) {
			r = v2_give_up(jr, -ETIMEDOUT);
			if (r != 1)
				return r;
			continue;
		}
		if (answered && now_ms() >= drain_deadline) {
			/* Output still open after the answer (a leaked pipe end): stop. */
			for (int i = 1; i < 3; i++)
				if (!bx_pump_done(&jr->out[i])) {
					jr->out[i].truncated = true;
					bx_pump_close(&jr->out[i]);
				}
			bx_pump_close(&jr->out[0]);
			continue;
		}
		if (pfd[idx_wake].revents && v2_woken_cancelled(jr)) {
			if (answered)
				return 0; /* already answered; nothing to kill */
			r = v2_give_up(jr, -ECANCELED);
			if (r != 1)
				return r;
			continue;
		}
		for (int i = 0; i < 3; i++)
			if (idx_pump[i] >= 0 && pfd[idx_pump[i]].revents) {
				r = bx_pump_run(&jr->out[i]);
				if (r < 0 && i == 0) {
					bx_pump_close(&jr->out[0]);
				} else if (r < 0) {
					if (!answered)
						return job_error(jr, r, true, "reading %s: %s",
								 stream_names[i], strerror(-r));
					bx_pump_close(&jr->out[i]);
				}
			}
		if (idx_main >= 0 && pfd[idx_main].revents) {
			pthread_mutex_lock(&rem->read_lock);
			bx_ignore(v2_read(rem, jr));
			pthread_mutex_unlock(&rem->read_lock);
		}
		if (idx_exit >= 0 && pfd[idx_exit].revents) {
			worker_gone = true;
			/* An answer may already sit in the socket: read it before judging. */
			pthread_mutex_lock(&rem->read_lock);
			bx_ignore(v2_read(rem, jr));
			pthread_mutex_unlock(&rem->read_lock);
			pthread_mutex_lock(&rem->lock);
			answered = jr->state == V2_ANSWERED;
			pthread_mutex_unlock(&rem->lock);
			if (!answered) {
				char how[BX_ERROR_TEXT_MAX]; /* a refused call's text fits */

				describe_worker(jr, 0, how, sizeof(how));
				return bx_job_fail(jr->job, -ECHILD, "job '%.64s': %s",
						   jr->job->name, how);
			}
		}
	}
}

/* How stream i reaches a beambox/2 worker: -1 in *pass_fd when it is not passed at all. */
static int v2_prepare_stream(struct job_run *jr, int i, int *pass_fd, int *pass_owned)
{
	if (jr->job->streams[i].kind == BX_STREAM_NONE) {
		*pass_fd = -1;
		*pass_owned = -1;
		return 0;
	}
	return prepare_stream(jr, i, pass_fd, pass_owned);
}

/* A job on a beambox/2 worker, start to end (after bx_job_arm_cancel and the capture buffers). */
static int v2_run(struct job_run *jr)
{
	const char *names[3];
	int fds[3], owned[3] = {-1, -1, -1};
	size_t nfds = 0, len = 0;
	_cleanup_free_ char *buf = NULL;
	int r = 0;

	for (int i = 0; i < 3; i++) {
		int fd = -1;

		r = v2_prepare_stream(jr, i, &fd, &owned[i]);
		if (r < 0) {
			r = job_error(jr, r, false, "preparing %s: %s", stream_names[i],
				      strerror(-r));
			goto out;
		}
		if (fd >= 0) {
			names[nfds] = stream_names[i];
			fds[nfds++] = fd;
		}
	}
	r = v2_encode_request(jr->job, names, nfds, &buf, &len);
	if (r < 0) {
		r = job_error(jr, r, false, "encoding the request: %s", strerror(-r));
		goto out;
	}
	if (len + V2_TAIL_ROOM > BX_REMOTE_REQUEST_MAX) {
		r = job_error(jr, -E2BIG, false,
			      "request of %zu bytes refused: over the worker's limit of %zu bytes; "
			      "nothing was sent",
			      len, BX_REMOTE_REQUEST_MAX);
		goto out;
	}
	jr->big = len > BX_REMOTE_PIPELINE_REQ_MAX;
	jr->req = buf;
	jr->req_len = len;
	jr->req_fds = fds;
	jr->req_nfds = nfds;
	r = v2_admit(jr);
	if (r < 0)
		goto out;
	if (r == 0)
		r = v2_send(jr, buf, len, fds, nfds); /* releases the lock v2_admit took */
	else /* another thread let it go: nothing to send, unless that failed */
		r = jr->send_err ? v2_send_failed(jr) : 0;
	/* The worker holds its ends of our pipes now, or nobody does. */
	for (int i = 0; i < 3; i++)
		bx_close_and_reset(&owned[i]);
	if (r < 0)
		goto out;
	r = v2_wait(jr);
out:
	v2_leave(jr);
	for (int i = 0; i < 3; i++)
		bx_close_and_reset(&owned[i]);
	return r;
}

/* The proxy engine's catch-all: one job, start to end. */
static int remote_sender(bx_job *job, void *ctx)
{
	struct job_run *jr = calloc(1, sizeof(*jr));
	int sv[2] = {-1, -1};
	int r;

	if (!jr)
		return bx_job_fail(job, -ENOMEM, "out of memory");
	jr->rem = ctx;
	jr->job = job;
	jr->deadline = job->timeout_ms ? now_ms() + job->timeout_ms : -1;
	for (int i = 0; i < 3; i++)
		bx_pump_init(&jr->out[i]);

	r = bx_job_arm_cancel(job);
	if (r != 0) {
		r = r > 0 ? bx_job_fail(job, -ECANCELED, "job '%.64s' was cancelled", job->name)
			  : bx_job_fail(job, r, "eventfd: %s", strerror(-r));
		goto out;
	}
	r = setup_capture_buffers(jr);
	if (r < 0) {
		r = bx_job_fail(job, r, "out of memory for captured output");
		goto out;
	}
	if (jr->rem->peer.one_channel) {
		r = v2_run(jr);
		goto finish;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = bx_job_fail(job, -errno, "socketpair: %m");
		goto out;
	}
	r = bx_beam_new(sv[0], &jr->chan);
	if (r < 0) {
		close(sv[0]);
		sv[0] = -1;
		r = bx_job_fail(job, r, "beam: %s", strerror(-r));
		goto out;
	}
	sv[0] = -1;
	r = bx_beam_set_limit(jr->chan, BX_REMOTE_CHANNEL_LIMIT);
	/* A beambox/1 worker is given every stream: it has no fd to send back. */
	if (r == 0)
		r = bx_beam_set_fd_policy(
		    jr->chan, jr->rem->peer.takes_fds ? BX_BEAM_FDS_NONE : BX_BEAM_FDS_ANNOUNCED);
	/*
	 * An original worker's `log` fds: nothing but a pipe enters this process
	 * (a file we hold a lock on would lose the lock when we closed it).
	 */
	if (r == 0 && !jr->rem->peer.takes_fds)
		r = bx_beam_set_fd_check(jr->chan, is_pipe, NULL);
	if (r == 0 && fcntl(bx_beam_fd(jr->chan), F_SETFL, O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		r = bx_job_fail(job, r, "job channel: %s", strerror(-r));
		goto out;
	}
	r = take_turn(jr);
	if (r < 0)
		goto out;
	r = send_job(jr, sv[1]);
	bx_close_and_reset(&sv[1]); /* the worker holds it now, or nobody does */
	if (r < 0)
		goto out;
	r = run_loop(jr);
finish:
	if (r == 0) {
		if (jr->worker_error[0])
			r = bx_job_fail(job, jr->worker_errno ? -jr->worker_errno : -EREMOTEIO,
					"job '%.64s' failed in the worker: %s", job->name,
					jr->worker_error);
		else
			r = jr->status;
	}
	for (int i = 1; i < 3; i++)
		if (jr->out[i].capture) {
			jr->out[i].buf[jr->out[i].len] = '\0';
			bx_job_set_output(job, i, bx_steal_ptr(&jr->out[i].buf), jr->out[i].len,
					  jr->out[i].truncated);
		}
out:
	give_turn(jr);
	for (int i = 0; i < 3; i++) {
		bx_pump_close(&jr->out[i]);
		free(jr->out[i].buf);
	}
	bx_close_and_reset(&sv[1]);
	bx_beam_free(jr->chan);
	free(jr);
	return r;
}

int bx_remote_proxy_new(bx_beam *main, const struct bx_remote_peer *peer, bx_engine **out)
{
	struct bx_remote *rem;
	bx_engine *eng = NULL;
	int r;

	rem = calloc(1, sizeof(*rem));
	if (!rem)
		return -ENOMEM;
	rem->turn_efd = -1;
	rem->main = main;
	if (peer)
		rem->peer = *peer;
	else
		rem->peer.exit_fd = -1;
	/* After its hello a worker sends no fd on the main socket, whatever the protocol. */
	r = bx_beam_set_fd_policy(main, BX_BEAM_FDS_NONE);
	if (r == 0 && rem->peer.one_channel)
		r = bx_beam_set_multi_fds(main, 1);
	/* beambox/2's answers come on main: as small as a job channel's frames. */
	if (r == 0 && rem->peer.one_channel)
		r = bx_beam_set_limit(main, BX_REMOTE_CHANNEL_LIMIT);
	/* ... and it is read by whichever job's thread is there: never blocking. */
	if (r == 0 && rem->peer.one_channel) {
		int fl = fcntl(bx_beam_fd(main), F_GETFL);

		if (fl < 0 || fcntl(bx_beam_fd(main), F_SETFL, fl | O_NONBLOCK) < 0)
			r = -errno;
	}
	if (r < 0) {
		free(rem);
		return r;
	}
	pthread_mutex_init(&rem->lock, NULL);
	pthread_mutex_init(&rem->read_lock, NULL);
	rem->turn_efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
	if (rem->turn_efd < 0) {
		r = -errno;
		bx_remote_proxy_state_free(rem);
		return r;
	}
	r = bx_engine_new(&eng);
	if (r < 0) {
		bx_remote_proxy_state_free(rem);
		return r;
	}
	bx_engine_set_catchall_raw(eng, remote_sender, rem);
	*out = eng;
	return 0;
}

void bx_remote_proxy_state_free(void *state)
{
	struct bx_remote *rem = state;

	if (!rem)
		return;
	bx_close_and_reset(&rem->turn_efd);
	pthread_mutex_destroy(&rem->lock);
	pthread_mutex_destroy(&rem->read_lock);
	free(rem);
}

void bx_remote_proxy_free(bx_engine *proxy)
{
	void *state;

	if (!proxy)
		return;
	state = bx_engine_catchall_ctx(proxy);
	bx_engine_free(proxy);
	bx_remote_proxy_state_free(state);
}

/* ================================================================ hello */

int bx_remote_send_ready(bx_beam *main, const struct bx_remote_hello *hello)
{
	char pidbuf[24], nsbuf[24];
	bx_msg *m = NULL;
	int r;

	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)hello->pid);
	snprintf(nsbuf, sizeof(nsbuf), "%u", (unsigned)hello->namespaces);
	r = bx_msg_new(&m);
	if (r < 0)
		return r;
	r = bx_msg_add(m, "cmd", "ready");
	if (r == 0)
		r = bx_msg_add(m, "pid", pidbuf);
	if (r == 0)
		r = bx_msg_add(m, "proto", BX_REMOTE_PROTO);
	if (r == 0)
		r = bx_msg_add(m, "ns", nsbuf);
	if (r == 0)
		r = bx_msg_add(m, "report", hello->report);
	if (r == 0 && hello->one_channel)
		r = bx_msg_add(m, "jobs", BX_REMOTE_PROTO2);
	if (r == 0)
		r = send_msg(main, m, -1);
	bx_msg_free(m);
	return r;
}

int bx_remote_send_setup_error(bx_beam *main, const char *text)
{
	return send_cmd(main, -1, "error", text);
}

/* An optional decimal field of the hello; 0 if absent. */
static int hello_number(const bx_msg *m, const char *key, uint64_t max, uint64_t *out)
{
	bx_bytes v;

	*out = 0;
	if (bx_msg_get_one(m, key, &v) < 0)
		return 0;
	return bx_parse_u64(v.p, v.len, max, out);
}

int bx_remote_read_hello(bx_beam *main, struct bx_remote_hello *hello, bx_error *err)
{
	bx_frame f = {.fd = -1};
	bx_msg *m = NULL;
	const bx_bytes *cmd;
	bx_bytes proto, report, jobs;
	bx_error derr;
	uint64_t pid, ns;
	size_t n;
	int r;

	r = bx_beam_recv(main, &f, &derr);
	if (r == -EAGAIN || r == -EINTR)
		return r;
	if (r == 0)
		return bx_fail(err, -EPIPE, BX_NO_OFFSET, "the worker closed its connection");
	if (r < 0)
		return bx_fail(err, -EPROTO, BX_NO_OFFSET, "reading the worker's hello: %s",
			       derr.text);
	if (f.fd >= 0) {
		r = bx_fail(err, -EPROTO, BX_NO_OFFSET, "the worker's hello carries an fd");
		goto out;
	}
	r = bx_msg_decode(f.data, f.len, 0, &m, &derr);
	if (r < 0) {
		r = bx_fail(err, -EPROTO, BX_NO_OFFSET, "the worker's hello: %s", derr.text);
		goto out;
	}
	if (bx_msg_get(m, "cmd", &cmd, &n) < 0 || n < 1) {
		r = bx_fail(err, -EPROTO, BX_NO_OFFSET, "the worker's hello has no cmd");
	} else if (bytes_eq(&cmd[0], "error") && n == 2) {
		char shown[BX_ERROR_TEXT_MAX];

		r = bx_fail(err, -ECHILD, BX_NO_OFFSET, "%s",
			    bx_printable(cmd[1].p, cmd[1].len, 200, 0, shown, sizeof(shown)));
	} else if (bytes_eq(&cmd[0], "ready") && n == 1) {
		memset(hello, 0, sizeof(*hello));
		hello->takes_fds =
		    bx_msg_get_one(m, "proto", &proto) == 0 && bytes_eq(&proto, BX_REMOTE_PROTO);
		/* beambox/2 builds on beambox/1's passed fds. */
		hello->one_channel = hello->takes_fds && bx_msg_get_one(m, "jobs", &jobs) == 0 &&
				     bytes_eq(&jobs, BX_REMOTE_PROTO2);
		if (hello_number(m, "pid", INT32_MAX, &pid) < 0 ||
		    hello_number(m, "ns", UINT32_MAX, &ns) < 0) {
			r = bx_fail(err, -EPROTO, BX_NO_OFFSET,
				    "the worker's hello has a bad pid or ns");
			goto out;
		}
		hello->pid = (pid_t)pid;
		hello->namespaces = (uint32_t)ns;
		if (bx_msg_get_one(m, "report", &report) == 0)
			bx_printable(report.p, report.len, sizeof(hello->report), 1, hello->report,
				     sizeof(hello->report));
		r = 0;
	} else {
		char shown[72];

		r = bx_fail(err, -EPROTO, BX_NO_OFFSET, "unexpected hello '%s' from the worker",
			    bx_printable(cmd[0].p, cmd[0].len, 16, 0, shown, sizeof(shown)));
	}
out:
	bx_msg_free(m);
	bx_frame_clear(&f);
	return r;
}

/* ================================================================ negotiation */

bool bx_remote_offer_proto2 = true;

int bx_remote_config_offer(bx_msg *config)
{
	return bx_remote_offer_proto2 ? bx_msg_add(config, "jobs", BX_REMOTE_PROTO2) : 0;
}

int bx_remote_config_take_offer(bx_msg *config)
{
	const bx_bytes *v;
	size_t n;
	int found = 0;

	/* A list of what the parent speaks; one this worker does not know is skipped. */
	if (bx_msg_get(config, "jobs", &v, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		found |= bytes_eq(&v[i], BX_REMOTE_PROTO2);
	bx_ignore(bx_msg_del(config, "jobs"));
	return found;
}

/* ================================================================ worker side */

/* One worker's connection to its parent. */
struct serve_state {
	bx_engine *eng;
	/* The parent announced beambox: it takes beambox/1 `error` frames. */
	bool beambox_parent;
};

/* Reads the fds the parent passed for the streams named in fds=[...]. */
static int receive_passed_streams(bx_beam *chan, bx_job *job, const bx_bytes *names, size_t n,
				  bool have[3])
{
	for (size_t k = 0; k < n; k++) {
		bx_frame f = {.fd = -1};
		bx_msg *m = NULL;
		const bx_bytes *cmd;
		size_t cn;
		int i = stream_index(&names[k]);
		int r;

		if (i < 0 || have[i])
			return bx_job_fail(job, -EPROTO, "bad stream '%.16s' in fds", names[k].p);
		r = bx_beam_recv(chan, &f, NULL);
		if (r <= 0)
			return bx_job_fail(job, r < 0 ? r : -EPIPE, "receiving %s",
					   stream_names[i]);
		r = bx_msg_decode(f.data, f.len, 0, &m, NULL);
		if (r == 0 && (bx_msg_get(m, "cmd", &cmd, &cn) < 0 || cn != 2 ||
			       !bytes_eq(&cmd[0], "fd") || stream_index(&cmd[1]) != i || f.fd < 0))
			r = -EPROTO;
		if (r == 0)
			r = bx_job_adopt_stream(job, i, bx_steal_fd(&f.fd));
		bx_msg_free(m);
		bx_frame_clear(&f);
		if (r < 0)
			return bx_job_fail(job, r, "bad fd frame for %s", stream_names[i]);
		have[i] = true;
	}
	return 0;
}

/*
 * Original protocol: a pipe for each stream the parent did not pass, whose
 * other end goes to the parent (log stdout, log stderr, log stdin, in the
 * original's order). ours[i] receives the end the worker keeps (-1 for passed
 * streams); nothing is left open on failure.
 */
static int send_log_pipes(bx_beam *chan, const bool have[3], int ours[3])
{
	static const int order[3] = {1, 2, 0}; /* stdout, stderr, stdin, as the original */
	int r = 0;

	for (int i = 0; i < 3; i++)
		ours[i] = -1;
	for (int k = 0; k < 3; k++) {
		int i = order[k], p[2], give;

		if (have[i])
			continue;
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = -errno;
			break;
		}
		ours[i] = i == 0 ? p[0] : p[1];
		give = i == 0 ? p[1] : p[0];
		r = send_cmd(chan, give, "log", stream_names[i]);
		close(give);
		if (r < 0)
			break;
	}
	if (r < 0)
		for (int i = 0; i < 3; i++)
			bx_close_and_reset(&ours[i]);
	return r;
}

/* The job's streams that the parent did not pass become pipes (send_log_pipes). */
static int make_log_pipes(bx_beam *chan, bx_job *job, const bool have[3])
{
	int ours[3];
	int r = send_log_pipes(chan, have, ours);

	if (r < 0)
		return bx_job_fail(job, r, "sending the job's pipes: %s", strerror(-r));
	for (int i = 0; i < 3; i++) {
		if (ours[i] < 0)
			continue;
		r = bx_job_adopt_stream(job, i, ours[i]);
		if (r < 0) {
			for (int j = i; j < 3; j++)
				bx_close_and_reset(&ours[j]);
			return bx_job_fail(job, r, "adopting the job's pipes: %s", strerror(-r));
		}
	}
	return 0;
}

/* Env: one value holding an encoded map; each (key, value) becomes an entry. */
static int decode_env(bx_job *job, const bx_msg *req)
{
	const bx_bytes *vals;
	size_t n;
	bx_msg *env = NULL;
	bx_error derr;
	int r;

	if (bx_msg_get(req, "env", &vals, &n) < 0 || n == 0)
		return 0; /* no env at all: an empty one */
	if (n != 1)
		return bx_job_fail(job, -EBADMSG, "env has %zu values, want 1", n);
	r = bx_msg_decode(vals[0].p, vals[0].len, 1, &env, &derr);
	if (r < 0)
		return bx_job_fail(job, r, "env: %s", derr.text);
	for (size_t k = 0; r == 0 && k < bx_msg_nkeys(env); k++) {
		bx_bytes key;
		const bx_bytes *kv = NULL;
		size_t kn = 0;

		r = bx_msg_key_at(env, k, &key);
		if (r == 0)
			r = bx_msg_getn(env, key.p, key.len, &kv, &kn);
		if (r == 0 && memchr(key.p, 0, key.len))
			r = -EBADMSG;
		for (size_t j = 0; r == 0 && j < kn; j++)
			r = memchr(kv[j].p, 0, kv[j].len) ? -EBADMSG
							  : bx_job_add_env(job, key.p, kv[j].p);
	}
	bx_msg_free(env);
	return r < 0 ? bx_job_fail(job, r, "env: %s", strerror(-r)) : 0;
}

/*
 * The original's way to report a failure (Docker 1.0's job.Errorf): the
 * text and a newline on the job's stderr; the status follows. A reader that
 * is gone is fine: a worker ignores SIGPIPE (spawn.c), so this gets EPIPE.
 */
static void write_error_line(int fd, const char *text)
{
	char line[BX_ERROR_TEXT_MAX + 1];
	size_t len, off = 0;

	if (fd < 0)
		return;
	snprintf(line, sizeof(line) - 1, "%s", text);
	len = strlen(line);
	while (len > 0 && line[len - 1] == '\n')
		len--;
	line[len++] = '\n';
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* beambox/1: cmd=[error, TEXT] errno=[N] (N omitted when unknown). */
static int send_error(bx_beam *chan, const char *text, int errnum)
{
	char num[16];
	bx_msg *m = NULL;
	int r;

	r = bx_msg_new(&m);
	if (r < 0)
		return r;
	r = bx_msg_add(m, "cmd", "error");
	if (r == 0)
		r = bx_msg_add(m, "cmd", text);
	if (r == 0 && errnum > 0 && errnum <= BX_REMOTE_ERRNO_MAX) {
		snprintf(num, sizeof(num), "%d", errnum);
		r = bx_msg_add(m, "errno", num);
	}
	if (r == 0)
		r = send_msg(chan, m, -1);
	bx_msg_free(m);
	return r;
}

/*
 * Tells the parent why a job failed, in its own vocabulary: a beambox parent
 * gets an `error` frame with the errno; an original parent gets the text on
 * the job's stderr, as a Go worker's failing handler wrote it, with the log
 * pipes sent first if the job never got them.
 */
static void report_failure(const struct serve_state *st, bx_beam *chan, bx_job *job,
			   const bool have[3], bool logs_tried, const char *text, int errnum)
{
	int ours[3] = {-1, -1, -1};

	if (st->beambox_parent) {
		bx_ignore(send_error(chan, text, errnum));
		return;
	}
	if (logs_tried) {
		write_error_line(job ? job->streams[2].fd : -1, text);
		return;
	}
	if (send_log_pipes(chan, have, ours) < 0)
		return;
	write_error_line(have[2] && job ? job->streams[2].fd : ours[2], text);
	for (int i = 0; i < 3; i++)
		bx_close_and_reset(&ours[i]);
}

/*
 * For a request refused unread: the frames a beambox parent put on the
 * channel before it (its passed fds) are read and dropped, so that closing
 * the channel does not reset it under the parent. They are all there already:
 * the parent sends them before the request. Bounded, never blocks.
 */
static void drain_channel(bx_beam *chan)
{
	int flags = fcntl(bx_beam_fd(chan), F_GETFL);

	if (flags < 0 || fcntl(bx_beam_fd(chan), F_SETFL, flags | O_NONBLOCK) < 0)
		return;
	for (int k = 0; k < 4; k++) {
		bx_frame f = {.fd = -1};
		int r = bx_beam_recv(chan, &f, NULL);

		bx_frame_clear(&f);
		if (r != 1)
			break;
	}
	bx_ignore(fcntl(bx_beam_fd(chan), F_SETFL, flags));
}

/*
 * The job a request asks for: cmd=[NAME, ARGS...] and env. Returns 0 with
 * *out, or -errno with reason and *errnum saying why (*out, if made, is
 * still returned: an original parent's error line goes to its stderr).
 */
static int build_job(const struct serve_state *st, const bx_msg *req, bx_job **out, char *reason,
		     size_t rlen, int *errnum)
{
	const bx_bytes *cmd;
	size_t ncmd;
	bx_job *job = NULL;
	int r;

	*out = NULL;
	if (bx_msg_get(req, "cmd", &cmd, &ncmd) < 0 || ncmd < 1 || cmd[0].len == 0 ||
	    cmd[0].len > BX_JOB_NAME_MAX || memchr(cmd[0].p, 0, cmd[0].len)) {
		*errnum = EBADMSG;
		snprintf(reason, rlen, "bad job request: no valid cmd");
		return -EBADMSG;
	}
	if (ncmd > BX_JOB_ARGS_MAX + 1) {
		*errnum = E2BIG;
		snprintf(reason, rlen,
			 "job '%.64s' refused: %zu arguments, over the worker's limit of %d",
			 cmd[0].p, ncmd - 1, BX_JOB_ARGS_MAX);
		return -E2BIG;
	}
	r = bx_job_new(st->eng, cmd[0].p, &job);
	for (size_t i = 1; r == 0 && i < ncmd; i++)
		r = memchr(cmd[i].p, 0, cmd[i].len)
			? bx_job_fail(job, -EBADMSG, "argument %zu contains a NUL byte", i)
			: bx_job_add_arg(job, cmd[i].p);
	if (r == 0)
		r = decode_env(job, req);
	*out = job;
	if (r < 0) {
		*errnum = -r;
		snprintf(reason, rlen, "%s", job && job->errtext[0] ? job->errtext : strerror(-r));
	}
	return r;
}

/* Runs one request whose job channel is chan_fd (owned). */
static void serve_one(const struct serve_state *st, const bx_frame *req_frame, int chan_fd)
{
	bx_beam *chan = NULL;
	bx_msg *req = NULL;
	bx_job *job = NULL;
	const bx_bytes *fds;
	size_t nfds = 0;
	bool have[3] = {false, false, false};
	bool logs_tried = false, fds_taken = false;
	bx_error derr;
	int status = 1, errnum = 0, r;
	char reason[BX_ERROR_TEXT_MAX] = "";
	char statusbuf[16];

	if (bx_beam_new(chan_fd, &chan) < 0) {
		close(chan_fd);
		return;
	}
	if (req_frame->dropped) {
		errnum = E2BIG;
		snprintf(reason, sizeof(reason),
			 "job request of %zu bytes refused: over the worker's limit of %zu bytes",
			 req_frame->dropped, BX_REMOTE_REQUEST_MAX);
		goto answer;
	}
	r = bx_msg_decode(req_frame->data, req_frame->len, 0, &req, &derr);
	if (r < 0) {
		errnum = EBADMSG;
		snprintf(reason, sizeof(reason), "bad job request: %.200s", derr.text);
		goto answer;
	}
	r = build_job(st, req, &job, reason, sizeof(reason), &errnum);
	if (r < 0)
		goto answer;
	if (bx_msg_get(req, "fds", &fds, &nfds) == 0)
		r = nfds <= 3 ? receive_passed_streams(chan, job, fds, nfds, have)
			      : bx_job_fail(job, -EPROTO, "fds has %zu values", nfds);
	if (r == 0) {
		fds_taken = true;
		logs_tried = true;
		r = make_log_pipes(chan, job, have);
	}
	if (r < 0) {
		errnum = -r;
		snprintf(reason, sizeof(reason), "%s",
			 job && job->errtext[0] ? job->errtext : strerror(-r));
		goto answer;
	}
	r = bx_job_run(job, &derr);
	if (r >= 0) {
		status = r;
	} else {
		errnum = -r;
		snprintf(reason, sizeof(reason), "%s", derr.text);
	}
answer:
	if (reason[0] && !fds_taken)
		drain_channel(chan);
	if (reason[0])
		report_failure(st, chan, job, have, logs_tried, reason, errnum);
	/* Close our ends of the streams first, so the parent sees their EOF. */
	bx_job_free(job);
	snprintf(statusbuf, sizeof(statusbuf), "%d", status);
	bx_ignore(send_cmd(chan, -1, "status", statusbuf));
	bx_msg_free(req);
	bx_beam_free(chan);
}

/* ---------------------------------------------------------------- beambox/2, worker side */

/* A request read and not yet run (beambox/2). */
struct queued_req {
	bx_frame f;
	bx_msg *m;
	uint64_t id;
	bool queued; /* sent behind another: it may be withdrawn until it starts */
};

/* Requests read ahead: at most those the parent keeps in flight. */
#define SERVE_QUEUE_MAX BX_REMOTE_INFLIGHT_MAX

struct serve2 {
	const struct serve_state *st;
	bx_beam *main;
	struct queued_req q[SERVE_QUEUE_MAX];
	size_t nq;
	/* The worker's own /dev/null for streams the parent did not pass (borrowed or ours). */
	int null_in, null_out;
	bool null_ours;
};

static void queued_req_clear(struct queued_req *r)
{
	bx_msg_free(r->m);
	r->m = NULL;
	bx_frame_clear(&r->f);
}

/*
 * A frame from the parent: a request (cmd=[NAME ARGS...] id=[ID] ...) joins
 * the queue, a withdrawal (id=[ID] withdraw=[1], never a cmd, so that a job
 * may be named "withdraw") removes its request (one already run or unknown
 * is ignored: it crossed with the answer). Takes f. -errno ends serving: the
 * parent broke its own protocol.
 */
static int serve2_take(struct serve2 *sv, bx_frame *f)
{
	struct queued_req *r;
	bx_msg *m = NULL;
	uint64_t id = 0;
	bx_error derr;
	int rc;

	rc = bx_msg_decode(f->data, f->len, 0, &m, &derr);
	if (rc == 0)
		rc = frame_id(m, &id);
	if (rc < 0) {
		bx_log(BX_LOG_ERROR, "worker: a frame without a valid id from the parent");
		bx_msg_free(m);
		bx_frame_clear(f);
		return -EPROTO;
	}
	if (has_key(m, "withdraw")) {
		if (has_key(m, "cmd")) {
			bx_log(BX_LOG_ERROR, "worker: a withdrawal with a cmd from the parent");
			bx_msg_free(m);
			bx_frame_clear(f);
			return -EPROTO;
		}
		for (size_t i = 0; i < sv->nq; i++) {
			if (sv->q[i].id != id || !sv->q[i].queued)
				continue;
			queued_req_clear(&sv->q[i]);
			memmove(&sv->q[i], &sv->q[i + 1], (sv->nq - i - 1) * sizeof(sv->q[0]));
			sv->nq--;
			break;
		}
		bx_msg_free(m);
		bx_frame_clear(f);
		return 0;
	}
	if (sv->nq >= SERVE_QUEUE_MAX) {
		bx_log(BX_LOG_ERROR, "worker: more than %d requests in flight", SERVE_QUEUE_MAX);
		bx_msg_free(m);
		bx_frame_clear(f);
		return -EPROTO;
	}
	r = &sv->q[sv->nq++];
	r->f = *f;
	*f = (bx_frame){.fd = -1};
	r->m = m;
	r->id = id;
	r->queued = has_key(m, "queued");
	return 0;
}

/* Reads one frame (waiting for it, or not); 1 taken, 0 EOF, -EAGAIN, -errno. */
static int serve2_read(struct serve2 *sv, bool wait)
{
	bx_frame f = {.fd = -1};
	bx_error berr;
	int r;

	do
		r = wait ? bx_beam_recv(sv->main, &f, &berr)
			 : bx_beam_recv_nowait(sv->main, &f, &berr);
	while (r == -EINTR);
	if (r == 1) {
		r = serve2_take(sv, &f);
		return r < 0 ? r : 1;
	}
	if (r == -ECONNRESET) {
		bx_log(BX_LOG_INFO, "worker: the parent reset the connection");
		return 0;
	}
	if (r < 0 && r != -EAGAIN)
		bx_log(BX_LOG_ERROR, "worker: main connection: %s", berr.text);
	return r;
}

/* The worker's /dev/null: its own stdin/stdout when they are (bx_spawn puts them there). */
static int serve2_null(struct serve2 *sv)
{
	struct stat a, b;
	int fd;

	if (sv->null_in >= 0)
		return 0;
	if (fstat(0, &a) == 0 && fstat(1, &b) == 0 && S_ISCHR(a.st_mode) &&
	    a.st_rdev == makedev(1, 3) && S_ISCHR(b.st_mode) && b.st_rdev == makedev(1, 3)) {
		sv->null_in = 0;
		sv->null_out = 1;
		return 0;
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sv->null_in = sv->null_out = fd;
	sv->null_ours = true;
	return 0;
}

/* The fds of request r become the streams named in fds=[...]; the rest the worker's /dev/null. */
static int serve2_streams(struct serve2 *sv, struct queued_req *r, bx_job *job)
{
	int fds[BX_BEAM_FDS_MAX];
	const bx_bytes *names = NULL;
	size_t n = 0;
	bool have[3] = {false, false, false};
	int rc = 0;

	if (bx_msg_get(r->m, "fds", &names, &n) < 0)
		n = 0;
	if (n != r->f.nfds)
		return bx_job_fail(job, -EPROTO, "fds names %zu streams, %zu fds came", n,
				   r->f.nfds);
	fds[0] = bx_steal_fd(&r->f.fd);
	for (size_t k = 1; k < n; k++)
		fds[k] = bx_steal_fd(&r->f.more_fds[k - 1]);
	r->f.nfds = 0;
	for (size_t k = 0; k < n; k++) {
		int i = stream_index(&names[k]);

		if (rc == 0 && (i < 0 || have[i]))
			rc = bx_job_fail(job, -EPROTO, "bad stream '%.16s' in fds", names[k].p);
		if (rc == 0)
			rc = bx_job_adopt_stream(job, i, fds[k]);
		if (rc < 0)
			close(fds[k]);
		else
			have[i] = true;
	}
	for (int i = 0; rc == 0 && i < 3; i++) {
		if (have[i])
			continue;
		rc = serve2_null(sv);
		if (rc < 0)
			rc = bx_job_fail(job, rc, "opening /dev/null for %s: %s", stream_names[i],
					 strerror(-rc));
		else
			rc = bx_job_lend_stream(job, i, i == 0 ? sv->null_in : sv->null_out);
	}
	return rc;
}

/* cmd=[status, N] id=[ID] (error=[TEXT] errno=[N]): the one answer of a job. */
static int serve2_answer(struct serve2 *sv, uint64_t id, int status, const char *reason, int errnum)
{
	char num[24], idbuf[24];
	bx_msg *m = NULL;
	int r;

	snprintf(num, sizeof(num), "%d", status);
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	r = bx_msg_new(&m);
	if (r < 0)
		return r;
	r = bx_msg_add(m, "cmd", "status");
	if (r == 0)
		r = bx_msg_add(m, "cmd", num);
	if (r == 0)
		r = bx_msg_add(m, "id", idbuf);
	if (r == 0 && reason && reason[0])
		r = bx_msg_add(m, "error", reason);
	if (r == 0 && reason && reason[0] && errnum > 0 && errnum <= BX_REMOTE_ERRNO_MAX) {
		snprintf(num, sizeof(num), "%d", errnum);
		r = bx_msg_add(m, "errno", num);
	}
	if (r == 0)
		r = send_msg(sv->main, m, -1);
	bx_msg_free(m);
	return r;
}

/* Runs request r (taken out of the queue) and answers it. */
static int serve2_run(struct serve2 *sv, struct queued_req *r)
{
	bx_job *job = NULL;
	bx_error derr;
	int status = 1, errnum = 0, rc;
	char reason[BX_ERROR_TEXT_MAX] = "";

	rc = build_job(sv->st, r->m, &job, reason, sizeof(reason), &errnum);
	if (rc == 0) {
		rc = serve2_streams(sv, r, job);
		if (rc < 0) {
			errnum = -rc;
			snprintf(reason, sizeof(reason), "%s",
				 job->errtext[0] ? job->errtext : strerror(-rc));
		}
	}
	if (rc == 0) {
		rc = bx_job_run(job, &derr);
		if (rc >= 0) {
			status = rc;
		} else {
			errnum = -rc;
			snprintf(reason, sizeof(reason), "%s", derr.text);
		}
	}
	/* Close the job's streams first, so the parent's pumps see their EOF with the answer. */
	bx_job_free(job);
	queued_req_clear(r);
	return serve2_answer(sv, r->id, status, reason, errnum);
}

static int serve2(const struct serve_state *st, bx_beam *main)
{
	struct serve2 sv = {.st = st, .main = main, .null_in = -1, .null_out = -1};
	bool pid1 = getpid() == 1;
	int r = 0;

	for (;;) {
		struct queued_req cur;

		if (sv.nq == 0) {
			r = serve2_read(&sv, true);
			if (r <= 0)
				break;
			continue;
		}
		if (sv.q[0].queued) {
			/*
			 * Sent behind another job: read everything that has come, so
			 * that a withdrawal the parent sent before this job's turn is
			 * seen before it starts (remote.h).
			 */
			while ((r = serve2_read(&sv, false)) == 1)
				;
			if (r != -EAGAIN)
				break;
			if (sv.nq == 0)
				continue;
		}
		cur = sv.q[0];
		memmove(&sv.q[0], &sv.q[1], (sv.nq - 1) * sizeof(sv.q[0]));
		sv.nq--;
		r = serve2_run(&sv, &cur);
		if (r < 0) {
			bx_log(BX_LOG_ERROR, "worker: answering a job: %s", strerror(-r));
			break;
		}
		/* As pid 1 of its namespace the worker inherits orphans: reap them between jobs. */
		if (pid1)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
	for (size_t i = 0; i < sv.nq; i++)
		queued_req_clear(&sv.q[i]);
	if (sv.null_ours)
		close(sv.null_in);
	return r == -EPIPE || r == -ECONNRESET ? 0 : r;
}

int bx_remote_serve_with(bx_beam *main, bx_engine *eng, const struct bx_remote_serve_opts *opts)
{
	const struct serve_state st = {
	    .eng = eng,
	    .beambox_parent = opts ? opts->beambox_parent : true,
	};
	int r;

	if (opts && opts->one_channel) {
		/* beambox/2: the parent never sends a request over the limit (it checks). */
		r = bx_beam_set_limit(main, BX_REMOTE_REQUEST_MAX);
		if (r == 0)
			r = bx_beam_set_multi_fds(main, 1);
		return r < 0 ? r : serve2(&st, main);
	}
	/*
	 * The parent is trusted: a request over the limit is its mistake, refused
	 * as a job error (its payload dropped unread) while the worker serves on.
	 */
	r = bx_beam_set_limit(main, BX_REMOTE_REQUEST_MAX);
	if (r == 0)
		r = bx_beam_set_drop_oversized(main, 1);
	if (r < 0)
		return r;
	for (;;) {
		bx_frame f = {.fd = -1};
		bx_error berr;

		r = bx_beam_recv(main, &f, &berr);
		if (r == -EINTR)
			continue;
		if (r == 0)
			return 0;
		if (r == -ECONNRESET) {
			/* The parent closed its end with bytes unread: still its close. */
			bx_log(BX_LOG_INFO, "worker: the parent reset the connection");
			return 0;
		}
		if (r < 0) {
			bx_log(BX_LOG_ERROR, "worker: main connection: %s", berr.text);
			return r;
		}
		if (f.fd < 0) {
			/* Nowhere to answer: drop it, keep serving (the original died here). */
			bx_log(BX_LOG_WARNING, "worker: job request without a channel, dropped");
			bx_frame_clear(&f);
			continue;
		}
		serve_one(&st, &f, bx_steal_fd(&f.fd));
		bx_frame_clear(&f);
		/* As pid 1 of its namespace the worker inherits orphans: reap them between jobs. */
		if (getpid() == 1)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
}

int bx_remote_serve(bx_beam *main, bx_engine *eng)
{
	return bx_remote_serve_with(main, eng, NULL);
}
