/* SPDX-License-Identifier: MIT */
/*
 * The audit log: JSON lines built with json-c, one record per write(2),
 * serialised by one mutex (so records from threads never interleave, even
 * on a pipe and past PIPE_BUF). A small registry maps a worker (and its proxy
 * engine) to its log, its pid and its policy's name, so that job records
 * can name the worker they ran in.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

struct audit_worker {
	const void *worker, *engine;
	int fd; /* its own log, or -1 for the process-wide one */
	pid_t pid;
	char policy[64];
	struct audit_worker *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int global_fd = -1;	     /* guarded by lock */
static struct audit_worker *workers; /* guarded by lock */
static atomic_int active;	     /* global log set, or registered workers: the fast path */

uint64_t bx_audit_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

BX_API int bx_audit_set_fd(int fd)
{
	int copy = -1;

	if (fd >= 0) {
		copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (copy < 0)
			return -errno;
	}
	pthread_mutex_lock(&lock);
	if (global_fd >= 0) {
		close(global_fd);
		atomic_fetch_sub(&active, 1);
	}
	global_fd = copy;
	if (copy >= 0)
		atomic_fetch_add(&active, 1);
	pthread_mutex_unlock(&lock);
	return 0;
}

BX_API int bx_audit_open(const char *path, bx_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	int r;

	if (fd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "audit log %.200s: %m", path);
	r = bx_audit_set_fd(fd);
	close(fd);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "audit log %.200s: %s", path, strerror(-r));
	return 0;
}

/* ---------------------------------------------------------------- JSON */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

json_object *bx_json_text(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	json_object *o;
	char *buf;
	size_t o_len = 0;

	if (!s)
		return NULL;
	/* Each invalid byte becomes U+FFFD (3 bytes); NUL bytes too. */
	if (len > SIZE_MAX / 3 - 1)
		return NULL;
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = u[i] ? utf8_seq(u + i, len - i) : 0;

		if (n == 0) { /* U+FFFD */
			buf[o_len++] = (char)0xef;
			buf[o_len++] = (char)0xbf;
			buf[o_len++] = (char)0xbd;
			i++;
			continue;
		}
		memcpy(buf + o_len, s + i, n);
		o_len += n;
		i += n;
	}
	o = json_object_new_string_len(buf, (int)o_len);
	free(buf);
	return o;
}

json_object *bx_json_str(const char *s)
{
	return s ? bx_json_text(s, strlen(s)) : NULL;
}

int bx_json_write_line(int fd, json_object *o)
{
	const char *text;
	size_t len, done = 0;
	char *line;
	int r = 0;

	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	line = malloc(len + 2);
	if (!line)
		return -ENOMEM;
	memcpy(line, text, len);
	line[len++] = '\n';
	while (done < len) {
		ssize_t n = write(fd, line + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	free(line);
	return r;
}

json_object *bx_audit_timings(const char *report)
{
	const char *line = report, *end;
	json_object *arr;

	/* The line the confinement sequence adds last: "timings: NAME Nus NAME Nus ...". */
	while (line && strncmp(line, "timings:", 8) != 0) {
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!line)
		return NULL;
	end = strchr(line, '\n');
	if (!end)
		end = line + strlen(line);
	arr = json_object_new_array();
	if (!arr)
		return NULL;
	for (const char *p = line + 8; p < end && json_object_array_length(arr) < 32;) {
		const char *name, *num;
		size_t nlen, dlen;
		uint64_t us;

		while (p < end && *p == ' ')
			p++;
		name = p;
		while (p < end && *p >= 'a' && *p <= 'z')
			p++;
		nlen = (size_t)(p - name);
		if (nlen == 0 || nlen > 15 || p >= end || *p != ' ')
			break;
		num = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		dlen = (size_t)(p - num);
		if (end - p < 2 || p[0] != 'u' || p[1] != 's' ||
		    bx_parse_u64(num, dlen, INT64_MAX, &us) < 0)
			break;
		p += 2;
		json_object *st = json_object_new_object();
		if (!st)
			break;
		json_object_object_add(st, "name", json_object_new_string_len(name, (int)nlen));
		json_object_object_add(st, "usec", json_object_new_int64((int64_t)us));
		json_object_array_add(arr, st);
	}
	return arr;
}

/* ---------------------------------------------------------------- records */

/* A record with "time" and "event" set; the caller adds fields and calls emit(). */
static json_object *record(const char *event)
{
	json_object *o = json_object_new_object();
	struct timespec ts;
	struct tm tm;
	char when[64];

	if (!o)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%06ldZ", ts.tv_nsec / 1000);
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "event", json_object_new_string(event));
	return o;
}

/* Writes and frees o: to fd if >= 0, else to the process-wide log. Call with lock held. */
static void emit_locked(int fd, json_object *o)
{
	if (!o)
		return;
	if (fd < 0)
		fd = global_fd;
	if (fd >= 0)
		bx_ignore(bx_json_write_line(fd, o));
	json_object_put(o);
}

static struct audit_worker *find_locked(const void *worker, const void *engine)
{
	for (struct audit_worker *w = workers; w; w = w->next)
		if ((worker && w->worker == worker) || (engine && w->engine == engine))
			return w;
	return NULL;
}

void bx_audit_spawned(int fd, const void *worker, const void *engine, pid_t pid, pid_t serving_pid,
		      const char *policy, const char *report, uint64_t t0)
{
	struct audit_worker *w;
	json_object *o, *lines;

	if (fd < 0 && atomic_load(&active) == 0)
		return;
	w = calloc(1, sizeof(*w));
	o = record("worker_spawned");
	lines = json_object_new_array();
	if (!w || !o || !lines) {
		free(w);
		json_object_put(o);
		json_object_put(lines);
		return;
	}
	*w = (struct audit_worker){.worker = worker, .engine = engine, .fd = fd, .pid = pid};
	snprintf(w->policy, sizeof(w->policy), "%s", policy ? policy : "");
	for (const char *s = report ? report : ""; *s;) {
		size_t n = strcspn(s, "\n");

		json_object_array_add(lines, bx_json_text(s, n));
		s += n + (s[n] == '\n');
	}
	json_object_object_add(o, "worker_pid", json_object_new_int(pid));
	json_object_object_add(o, "serving_pid", json_object_new_int(serving_pid));
	json_object_object_add(o, "policy", bx_json_str(w->policy));
	json_object_object_add(o, "spawn_us",
			       json_object_new_int64((int64_t)(bx_audit_now() - t0)));
	json_object_object_add(o, "steps", bx_audit_timings(report));
	json_object_object_add(o, "report", lines);
	pthread_mutex_lock(&lock);
	w->next = workers;
	workers = w;
	atomic_fetch_add(&active, 1);
	emit_locked(fd, o);
	pthread_mutex_unlock(&lock);
}

void bx_audit_spawn_failed(int fd, const char *error)
{
	json_object *o;

	if (fd < 0 && atomic_load(&active) == 0)
		return;
	o = record("spawn_failed");
	if (!o)
		return;
	json_object_object_add(o, "error", bx_json_str(error ? error : ""));
	pthread_mutex_lock(&lock);
	emit_locked(fd, o);
	pthread_mutex_unlock(&lock);
}

/* A job record for the worker behind engine, or NULL (not a worker's, or no log). */
static json_object *job_record_locked(const char *event, const void *engine, const char *job,
				      int *fd)
{
	struct audit_worker *w = find_locked(NULL, engine);
	json_object *o;

	if (!w || (w->fd < 0 && global_fd < 0))
		return NULL;
	o = record(event);
	if (!o)
		return NULL;
	json_object_object_add(o, "worker_pid", json_object_new_int(w->pid));
	json_object_object_add(o, "policy", bx_json_str(w->policy));
	json_object_object_add(o, "job", bx_json_str(job ? job : ""));
	*fd = w->fd;
	return o;
}

uint64_t bx_audit_job_started(const void *engine, const char *job)
{
	json_object *o;
	int fd = -1;

	if (atomic_load(&active) == 0)
		return 0;
	pthread_mutex_lock(&lock);
	o = job_record_locked("job_started", engine, job, &fd);
	emit_locked(fd, o);
	pthread_mutex_unlock(&lock);
	return o ? bx_audit_now() : 0;
}

void bx_audit_job_ended(const void *engine, const char *job, int status, const char *error,
			uint64_t t0)
{
	json_object *o;
	int fd = -1;

	if (t0 == 0 || atomic_load(&active) == 0)
		return;
	pthread_mutex_lock(&lock);
	o = job_record_locked("job_ended", engine, job, &fd);
	if (o) {
		json_object_object_add(o, "status",
				       status >= 0 ? json_object_new_int(status) : NULL);
		json_object_object_add(
		    o, "error",
		    status < 0 ? bx_json_str(error && *error ? error : strerror(-status)) : NULL);
		json_object_object_add(o, "duration_us",
				       json_object_new_int64((int64_t)(bx_audit_now() - t0)));
	}
	emit_locked(fd, o);
	pthread_mutex_unlock(&lock);
}

void bx_audit_exited(const void *worker, int reaped, int code, int status)
{
	struct audit_worker *w, **pp;
	json_object *o = NULL;
	char cause[96];
	const char *sig = NULL;
	bool signaled = reaped && code != CLD_EXITED;

	if (atomic_load(&active) == 0)
		return;
	if (!reaped)
		snprintf(cause, sizeof(cause), "not reaped");
	else if (!signaled)
		snprintf(cause, sizeof(cause), "exited with status %d", status);
	else {
		sig = sigabbrev_np(status);
		snprintf(cause, sizeof(cause), "killed by signal %d (SIG%s)", status,
			 sig ? sig : "?");
	}
	pthread_mutex_lock(&lock);
	for (pp = &workers; *pp && (*pp)->worker != worker; pp = &(*pp)->next)
		;
	w = *pp;
	if (w) {
		*pp = w->next;
		atomic_fetch_sub(&active, 1);
		if (w->fd >= 0 || global_fd >= 0)
			o = record("worker_exited");
	}
	if (o) {
		char name[16] = "";

		if (sig)
			snprintf(name, sizeof(name), "SIG%s", sig);
		json_object_object_add(o, "worker_pid", json_object_new_int(w->pid));
		json_object_object_add(o, "policy", bx_json_str(w->policy));
		json_object_object_add(o, "cause", json_object_new_string(cause));
		json_object_object_add(o, "exit_status",
				       reaped && !signaled ? json_object_new_int(status) : NULL);
		json_object_object_add(o, "signal", signaled ? json_object_new_int(status) : NULL);
		json_object_object_add(o, "signal_name",
				       signaled ? json_object_new_string(name) : NULL);
		emit_locked(w->fd, o);
	}
	pthread_mutex_unlock(&lock);
	free(w);
}

/* The violation record; call and message may be NULL. NULL on allocation failure. */
static json_object *violation_record(pid_t pid, const char *policy, const char *syscall, int nr,
				     const uint64_t args[6], const char *call, const char *message)
{
	json_object *o = record("violation"), *a = json_object_new_array();

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return NULL;
	}
	for (int i = 0; i < 6; i++)
		json_object_array_add(a, json_object_new_uint64(args ? args[i] : 0));
	json_object_object_add(o, "worker_pid", json_object_new_int(pid));
	json_object_object_add(o, "policy", bx_json_str(policy ? policy : ""));
	json_object_object_add(o, "syscall", syscall && *syscall ? bx_json_str(syscall) : NULL);
	json_object_object_add(o, "nr", nr >= 0 ? json_object_new_int(nr) : NULL);
	json_object_object_add(o, "args", a);
	json_object_object_add(o, "call", call && *call ? bx_json_str(call) : NULL);
	json_object_object_add(o, "message", message && *message ? bx_json_str(message) : NULL);
	return o;
}

void bx_audit_violation(int fd, pid_t pid, const char *policy, const char *syscall, int nr,
			const uint64_t args[6])
{
	json_object *o;

	if (fd < 0 && atomic_load(&active) == 0)
		return;
	o = violation_record(pid, policy, syscall, nr, args, NULL, NULL);
	if (!o)
		return;
	pthread_mutex_lock(&lock);
	emit_locked(fd, o);
	pthread_mutex_unlock(&lock);
}

void bx_audit_worker_violation(const void *worker, const char *syscall, int nr,
			       const uint64_t args[6], const char *call, const char *message)
{
	struct audit_worker *w;
	json_object *o = NULL;

	if (atomic_load(&active) == 0)
		return;
	pthread_mutex_lock(&lock);
	for (w = workers; w && w->worker != worker; w = w->next)
		;
	if (w && (w->fd >= 0 || global_fd >= 0))
		o = violation_record(w->pid, w->policy, syscall, nr, args, call, message);
	if (o)
		emit_locked(w->fd, o);
	pthread_mutex_unlock(&lock);
}
