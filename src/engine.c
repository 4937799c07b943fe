/* SPDX-License-Identifier: MIT */
/*
 * engine: handler table and jobs. Transport-agnostic: a proxy engine is an
 * engine whose catch-all (remote.c) forwards jobs to a worker.
 */
#define _GNU_SOURCE
#include "audit.h"
#include "engine_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"

#define BX_HANDLERS_MAX 4096

struct bx_handler {
	char *name;
	bx_handler_fn fn;
	void *ctx;
};

struct bx_engine {
	struct bx_handler *handlers;
	size_t nhandlers;
	bx_handler_fn catchall;
	void *catchall_ctx;
	bool catchall_raw;
	void (*on_free)(bx_engine *eng, void *ctx);
	void *on_free_ctx;
};

static const char builtin_commands[] = "commands";

static int valid_name(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strnlen(name, BX_JOB_NAME_MAX + 1);
	return n >= 1 && n <= BX_JOB_NAME_MAX;
}

BX_API int bx_engine_new(bx_engine **out)
{
	bx_engine *eng = calloc(1, sizeof(*eng));

	if (!eng)
		return -ENOMEM;
	*out = eng;
	return 0;
}

BX_API void bx_engine_free(bx_engine *eng)
{
	if (!eng)
		return;
	if (eng->on_free)
		eng->on_free(eng, eng->on_free_ctx);
	for (size_t i = 0; i < eng->nhandlers; i++)
		free(eng->handlers[i].name);
	free(eng->handlers);
	free(eng);
}

static struct bx_handler *find_handler(bx_engine *eng, const char *name)
{
	for (size_t i = 0; i < eng->nhandlers; i++)
		if (strcmp(eng->handlers[i].name, name) == 0)
			return &eng->handlers[i];
	return NULL;
}

BX_API int bx_engine_register(bx_engine *eng, const char *name, bx_handler_fn fn, void *ctx)
{
	struct bx_handler *grown;
	char *copy;

	if (!eng || !fn || !valid_name(name))
		return -EINVAL;
	if (strcmp(name, builtin_commands) == 0 || find_handler(eng, name))
		return -EEXIST;
	if (eng->nhandlers >= BX_HANDLERS_MAX)
		return -E2BIG;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	grown = reallocarray(eng->handlers, eng->nhandlers + 1, sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	eng->handlers = grown;
	eng->handlers[eng->nhandlers++] = (struct bx_handler){.name = copy, .fn = fn, .ctx = ctx};
	return 0;
}

BX_API void bx_engine_set_catchall(bx_engine *eng, bx_handler_fn fn, void *ctx)
{
	eng->catchall = fn;
	eng->catchall_ctx = ctx;
	eng->catchall_raw = false;
}

void bx_engine_set_catchall_raw(bx_engine *eng, bx_handler_fn fn, void *ctx)
{
	eng->catchall = fn;
	eng->catchall_ctx = ctx;
	eng->catchall_raw = true;
}

void *bx_engine_catchall_ctx(const bx_engine *eng)
{
	return eng->catchall_ctx;
}

void bx_engine_set_on_free(bx_engine *eng, void (*fn)(bx_engine *eng, void *ctx), void *ctx)
{
	eng->on_free = fn;
	eng->on_free_ctx = ctx;
}

/* ---------------------------------------------------------------- jobs */

BX_API int bx_job_new(bx_engine *eng, const char *name, bx_job **out)
{
	bx_job *job;

	if (!eng || !valid_name(name))
		return -EINVAL;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->eng = eng;
	job->cancel_efd = -1;
	for (int i = 0; i < 3; i++) {
		job->streams[i].fd = -1;
		job->fds[i] = -1;
	}
	job->name = strdup(name);
	if (!job->name) {
		bx_job_free(job);
		return -ENOMEM;
	}
	*out = job;
	return 0;
}

static void stream_reset(struct bx_stream *s)
{
	if (s->kind == BX_STREAM_BUF || s->kind == BX_STREAM_OWNED)
		bx_close_and_reset(&s->fd);
	free(s->out);
	*s = (struct bx_stream){.kind = BX_STREAM_NONE, .fd = -1};
}

BX_API void bx_job_free(bx_job *job)
{
	if (!job)
		return;
	free(job->name);
	for (size_t i = 0; i < job->nargs; i++)
		free(job->args[i]);
	free(job->args);
	for (size_t i = 0; i < job->nenv; i++) {
		free(job->env[i].key);
		free(job->env[i].value);
	}
	free(job->env);
	for (int i = 0; i < 3; i++)
		stream_reset(&job->streams[i]);
	if (job->cancel_efd >= 0)
		close(job->cancel_efd);
	free(job);
}

BX_API int bx_job_add_arg(bx_job *job, const char *arg)
{
	char **grown;
	char *copy;

	if (!job || !arg)
		return -EINVAL;
	if (job->nargs >= BX_JOB_ARGS_MAX)
		return -E2BIG;
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	grown = reallocarray(job->args, job->nargs + 1, sizeof(*grown));
	if (!grown) {
		free(copy);
		return -ENOMEM;
	}
	job->args = grown;
	job->args[job->nargs++] = copy;
	return 0;
}

BX_API int bx_job_add_env(bx_job *job, const char *key, const char *value)
{
	struct bx_env_entry *grown;
	char *k, *v;

	if (!job || !key || !value)
		return -EINVAL;
	if (job->nenv >= BX_JOB_ENV_MAX)
		return -E2BIG;
	k = strdup(key);
	v = strdup(value);
	grown = (k && v) ? reallocarray(job->env, job->nenv + 1, sizeof(*grown)) : NULL;
	if (!grown) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	job->env = grown;
	job->env[job->nenv++] = (struct bx_env_entry){.key = k, .value = v};
	return 0;
}

static int set_stream_fd(bx_job *job, int stream, int fd)
{
	if (!job || fd < 0 || job->ran)
		return -EINVAL;
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	stream_reset(&job->streams[stream]);
	job->streams[stream].kind = BX_STREAM_FD;
	job->streams[stream].fd = fd;
	return 0;
}

BX_API int bx_job_set_stdin_fd(bx_job *job, int fd)
{
	return set_stream_fd(job, 0, fd);
}

BX_API int bx_job_set_stdout_fd(bx_job *job, int fd)
{
	return set_stream_fd(job, 1, fd);
}

BX_API int bx_job_set_stderr_fd(bx_job *job, int fd)
{
	return set_stream_fd(job, 2, fd);
}

BX_API int bx_job_set_fd_mode(bx_job *job, int stream, int mode)
{
	if (!job || job->ran || stream < 0 || stream > 2 ||
	    (mode != BX_FD_AUTO && mode != BX_FD_PASS && mode != BX_FD_RELAY))
		return -EINVAL;
	job->fd_mode[stream] = mode;
	return 0;
}

/* A sealed memfd holding a copy of buf, at offset 0. */
static int sealed_memfd(const char *name, const void *buf, size_t len)
{
	_cleanup_fd_ int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	/* The reader (perhaps a hostile worker) must not change what others see. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return bx_steal_fd(&fd);
}

BX_API int bx_job_set_stdin_buf(bx_job *job, const void *buf, size_t len)
{
	int fd;

	if (!job || (!buf && len) || job->ran)
		return -EINVAL;
	fd = sealed_memfd("beambox-stdin", buf, len);
	if (fd < 0)
		return fd;
	stream_reset(&job->streams[0]);
	job->streams[0].kind = BX_STREAM_BUF;
	job->streams[0].fd = fd;
	return 0;
}

static int set_capture(bx_job *job, int stream, size_t max)
{
	if (!job || job->ran)
		return -EINVAL;
	stream_reset(&job->streams[stream]);
	job->streams[stream].kind = BX_STREAM_CAPTURE;
	job->streams[stream].max = max;
	return 0;
}

BX_API int bx_job_capture_stdout(bx_job *job, size_t max)
{
	return set_capture(job, 1, max);
}

BX_API int bx_job_capture_stderr(bx_job *job, size_t max)
{
	return set_capture(job, 2, max);
}

BX_API const char *bx_job_output(const bx_job *job, int stream, size_t *len, int *truncated)
{
	const struct bx_stream *s;

	if (!job || (stream != 1 && stream != 2))
		return NULL;
	s = &job->streams[stream];
	if (s->kind != BX_STREAM_CAPTURE)
		return NULL;
	if (len)
		*len = s->len;
	if (truncated)
		*truncated = s->truncated;
	return s->out ? s->out : "";
}

void bx_job_set_output(bx_job *job, int stream, char *buf, size_t len, int truncated)
{
	struct bx_stream *s = &job->streams[stream];

	free(s->out);
	s->out = buf;
	s->len = len;
	s->truncated = truncated;
}

int bx_job_lend_stream(bx_job *job, int stream, int fd)
{
	if (!job || stream < 0 || stream > 2 || fd < 0)
		return -EINVAL;
	stream_reset(&job->streams[stream]);
	job->streams[stream].kind = BX_STREAM_FD;
	job->streams[stream].fd = fd;
	return 0;
}

int bx_job_adopt_stream(bx_job *job, int stream, int fd)
{
	if (!job || stream < 0 || stream > 2 || fd < 0)
		return -EINVAL;
	stream_reset(&job->streams[stream]);
	job->streams[stream].kind = BX_STREAM_OWNED;
	job->streams[stream].fd = fd;
	return 0;
}

BX_API void bx_job_set_timeout(bx_job *job, int timeout_ms)
{
	if (job)
		job->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

BX_API void bx_job_cancel(bx_job *job)
{
	uint64_t one = 1;

	if (!job)
		return;
	atomic_store(&job->cancelled, true);
	/* Wakes a bx_job_run waiting in poll(); the eventfd lives as long as the job. */
	int efd = atomic_load(&job->cancel_efd);
	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, which is all we need. */
	}
}

int bx_job_arm_cancel(bx_job *job)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0)
		return -errno;
	atomic_store(&job->cancel_efd, efd);
	return atomic_load(&job->cancelled) ? 1 : 0;
}

BX_API int bx_job_fail(bx_job *job, int code, const char *fmt, ...)
{
	va_list ap;

	if (!job)
		return code;
	job->errcode = code;
	va_start(ap, fmt);
	vsnprintf(job->errtext, sizeof(job->errtext), fmt, ap);
	va_end(ap);
	return code;
}

/* ---------------------------------------------------------------- running */

/* A memfd to capture a local handler's output in; read back after it returns. */
static int capture_memfd(void)
{
	int fd = memfd_create("beambox-capture", MFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int read_back_capture(bx_job *job, int stream, int fd)
{
	struct bx_stream *s = &job->streams[stream];
	struct stat st;
	size_t keep, done = 0;
	char *buf;

	if (fstat(fd, &st) < 0)
		return -errno;
	keep = (size_t)st.st_size < s->max ? (size_t)st.st_size : s->max;
	buf = malloc(keep + 1);
	if (!buf)
		return -ENOMEM;
	while (done < keep) {
		ssize_t n = pread(fd, buf + done, keep - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	buf[done] = '\0';
	bx_job_set_output(job, stream, buf, done, (size_t)st.st_size > done);
	return 0;
}

/* Turns the stream descriptions into fds for an in-process handler. */
static int open_local_streams(bx_job *job, int owned[3])
{
	for (int i = 0; i < 3; i++) {
		struct bx_stream *s = &job->streams[i];

		switch (s->kind) {
		case BX_STREAM_FD:
		case BX_STREAM_BUF:
		case BX_STREAM_OWNED:
			job->fds[i] = s->fd;
			break;
		case BX_STREAM_CAPTURE:
			owned[i] = capture_memfd();
			if (owned[i] < 0)
				return owned[i];
			job->fds[i] = owned[i];
			break;
		case BX_STREAM_NONE:
			owned[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
			if (owned[i] < 0)
				return -errno;
			job->fds[i] = owned[i];
			break;
		}
	}
	return 0;
}

static int builtin_commands_handler(bx_job *job, void *ctx)
{
	bx_engine *eng = ctx;
	const char **names = calloc(eng->nhandlers + 1, sizeof(*names));
	size_t n = 0;

	if (!names)
		return bx_job_fail(job, -ENOMEM, "commands: out of memory");
	names[n++] = builtin_commands;
	for (size_t i = 0; i < eng->nhandlers; i++)
		names[n++] = eng->handlers[i].name;
	/* Sorted, so the listing does not depend on registration order. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		bx_job_printf(job, "%s\n", names[i]);
	free(names);
	return 0;
}

static int not_found_handler(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_eprintf(job, "%s: command not found\n", job->name);
	return 127;
}

BX_API int bx_job_run(bx_job *job, bx_error *err)
{
	int owned[3] = {-1, -1, -1};
	struct bx_handler *h;
	bx_handler_fn fn;
	void *ctx;
	bool raw = false;
	int r;

	if (!job)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "no job");
	if (job->ran)
		return bx_fail(err, -EALREADY, BX_NO_OFFSET, "job '%.64s' has already run",
			       job->name);
	job->ran = true;
	if (atomic_load(&job->cancelled))
		return bx_fail(err, -ECANCELED, BX_NO_OFFSET, "job '%.64s' was cancelled",
			       job->name);

	h = job->eng->catchall_raw ? NULL : find_handler(job->eng, job->name);
	if (job->eng->catchall_raw) {
		/* A proxy forwards everything, "commands" included: the worker knows its names. */
		fn = job->eng->catchall;
		ctx = job->eng->catchall_ctx;
		raw = true;
	} else if (h) {
		fn = h->fn;
		ctx = h->ctx;
	} else if (strcmp(job->name, builtin_commands) == 0) {
		fn = builtin_commands_handler;
		ctx = job->eng;
	} else if (job->eng->catchall) {
		fn = job->eng->catchall;
		ctx = job->eng->catchall_ctx;
		raw = job->eng->catchall_raw;
	} else {
		fn = not_found_handler;
		ctx = NULL;
	}

	if (!raw) {
		r = open_local_streams(job, owned);
		if (r < 0) {
			bx_fail(err, r, BX_NO_OFFSET, "job '%.64s': setting up streams: %s",
				job->name, strerror(-r));
			goto out;
		}
	}
	uint64_t t0 = bx_audit_job_started(job->eng, job->name); /* hook (audit.c) */
	r = fn(job, ctx);
	bx_audit_job_ended(job->eng, job->name, r, job->errtext, t0); /* hook (audit.c) */
	if (r > 255)
		r = bx_job_fail(job, -ERANGE, "handler '%.64s' returned status %d (not 0..255)",
				job->name, r);
	if (!raw) {
		for (int i = 1; i < 3 && r >= 0; i++)
			if (job->streams[i].kind == BX_STREAM_CAPTURE) {
				int rr = read_back_capture(job, i, owned[i]);
				if (rr < 0)
					r = bx_job_fail(job, rr, "reading captured output: %s",
							strerror(-rr));
			}
	}
	if (r < 0) {
		if (job->errtext[0])
			bx_fail(err, r, BX_NO_OFFSET, "%s", job->errtext);
		else
			bx_fail(err, r, BX_NO_OFFSET, "job '%.64s' failed: %s", job->name,
				strerror(-r));
	}
out:
	for (int i = 0; i < 3; i++) {
		bx_close_and_reset(&owned[i]);
		job->fds[i] = -1;
	}
	return r;
}

/* ---------------------------------------------------------------- handler's side */

BX_API const char *bx_job_name(const bx_job *job)
{
	return job ? job->name : NULL;
}

BX_API size_t bx_job_argc(const bx_job *job)
{
	return job ? job->nargs : 0;
}

BX_API const char *bx_job_arg(const bx_job *job, size_t i)
{
	return (job && i < job->nargs) ? job->args[i] : NULL;
}

BX_API const char *bx_job_getenv(const bx_job *job, const char *key)
{
	if (!job || !key)
		return NULL;
	for (size_t i = job->nenv; i > 0; i--)
		if (strcmp(job->env[i - 1].key, key) == 0)
			return job->env[i - 1].value;
	return NULL;
}

BX_API size_t bx_job_envc(const bx_job *job)
{
	return job ? job->nenv : 0;
}

BX_API int bx_job_env_at(const bx_job *job, size_t i, const char **key, const char **value)
{
	if (!job || i >= job->nenv)
		return -ENOENT;
	*key = job->env[i].key;
	*value = job->env[i].value;
	return 0;
}

BX_API int bx_job_stdin(const bx_job *job)
{
	return job ? job->fds[0] : -1;
}

BX_API int bx_job_stdout(const bx_job *job)
{
	return job ? job->fds[1] : -1;
}

BX_API int bx_job_stderr(const bx_job *job)
{
	return job ? job->fds[2] : -1;
}

static __attribute__((format(printf, 3, 0))) int job_vprintf(bx_job *job, int stream,
							     const char *fmt, va_list ap)
{
	int fd = job ? job->fds[stream] : -1;
	int n;

	if (fd < 0)
		return -EBADF;
	n = vdprintf(fd, fmt, ap);
	return n < 0 ? -errno : n;
}

BX_API int bx_job_printf(bx_job *job, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = job_vprintf(job, 1, fmt, ap);
	va_end(ap);
	return r;
}

BX_API int bx_job_eprintf(bx_job *job, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = job_vprintf(job, 2, fmt, ap);
	va_end(ap);
	return r;
}
