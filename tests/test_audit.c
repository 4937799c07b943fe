/* SPDX-License-Identifier: MIT */
/*
 * The audit log (src/audit.c): every record parsed back with json-c (strict,
 * UTF-8 validated) and checked field by field; hostile worker text (control
 * characters, quotes, invalid UTF-8, NUL) comes out escaped and valid; real
 * workers log their spawn, jobs and exit; threads never interleave records.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include <beambox/audit.h>
#include <beambox/spawn.h>

#include "audit.h"

/* ---------------------------------------------------------------- handlers (in the worker) */

static int h_ok(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_printf(job, "ok\n");
	return 0;
}

/* Fails with text a hostile worker chooses. */
static int h_hostile(bx_job *job, void *ctx)
{
	(void)ctx;
	return bx_job_fail(job, -EIO, "bad \"quote\" \x1b[31m\x01 \xff\xfe tab\there");
}

static int h_die(bx_job *job, void *ctx)
{
	/* A real fault: pid 1 of a namespace ignores signals it sends itself. */
	volatile int *volatile p = NULL;

	(void)job;
	(void)ctx;
	/* cppcheck-suppress nullPointer ; the crash is the point */
	*p = 1;
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	if (bx_engine_register(eng, "ok", h_ok, NULL) < 0 ||
	    bx_engine_register(eng, "hostile", h_hostile, NULL) < 0 ||
	    bx_engine_register(eng, "die", h_die, NULL) < 0)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- reading the log back */

#define RECORDS_MAX 64

struct log {
	int fd; /* a memfd the records are written to */
	json_object *rec[RECORDS_MAX];
	size_t n;
};

static void log_open(struct log *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = memfd_create("audit", MFD_CLOEXEC);
	assert_true(l->fd >= 0);
}

/* Parses every line strictly: valid JSON, valid UTF-8, one object per line. */
static void log_read(struct log *l)
{
	static char text[1 << 20];
	ssize_t len = pread(l->fd, text, sizeof(text) - 1, 0);
	char *line = text;

	assert_true(len >= 0);
	text[len] = '\0';
	assert_true(len == 0 || text[len - 1] == '\n');
	while (*line) {
		char *end = strchr(line, '\n');
		json_tokener *tok = json_tokener_new();
		json_object *o;

		assert_non_null(end);
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		o = json_tokener_parse_ex(tok, line, (int)(end - line));
		if (json_tokener_get_error(tok) != json_tokener_success || !o ||
		    !json_object_is_type(o, json_type_object))
			fail_msg("not a JSON object: %.*s", (int)(end - line), line);
		/* Nothing was left over on the line. */
		assert_int_equal(json_tokener_get_parse_end(tok), (size_t)(end - line));
		json_tokener_free(tok);
		assert_true(l->n < RECORDS_MAX);
		l->rec[l->n++] = o;
		line = end + 1;
	}
}

static void log_close(struct log *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_object_put(l->rec[i]);
	close(l->fd);
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
	return v;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static void assert_common(json_object *o, const char *event)
{
	const char *t = str(o, "time");

	assert_string_equal(str(o, "event"), event);
	/* 2026-01-02T03:04:05.123456Z */
	assert_int_equal(strlen(t), 27);
	assert_int_equal(t[4], '-');
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[26], 'Z');
}

/* ---------------------------------------------------------------- unit tests */

static const char hostile[] = "ctl \x01\x1b[2J quote \" backslash \\ bad \xff\xc0\xaf "
			      "surrogate \xed\xa0\x80 ok \xc3\xa9 \xf0\x9f\x98\x80 nl\n";

static void test_json_text(void **state)
{
	json_object *o;
	const char *s;
	(void)state;

	o = bx_json_text(hostile, sizeof(hostile) - 1);
	assert_non_null(o);
	s = json_object_get_string(o);
	/* Valid bytes kept, each invalid byte replaced by U+FFFD. */
	assert_non_null(strstr(s, "ok \xc3\xa9 \xf0\x9f\x98\x80"));
	assert_non_null(strstr(s, "bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "));
	assert_non_null(strstr(s, "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd ok"));
	assert_null(strstr(s, "\xff"));
	/* Serialised, the control characters and quotes are escaped by json-c. */
	const char *j = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(j, "\\u0001\\u001b[2J"));
	assert_non_null(strstr(j, "quote \\\" backslash \\\\"));
	assert_non_null(strstr(j, "nl\\n"));
	json_object_put(o);

	/* NUL bytes in the middle do not cut the text. */
	o = bx_json_text("a\0b", 3);
	assert_string_equal(json_object_get_string(o), "a\xef\xbf\xbd"
						       "b");
	json_object_put(o);
}

static void test_timings_parse(void **state)
{
	json_object *a;
	(void)state;

	a = bx_audit_timings("fs: x\ntimings: fds 12us namespaces 345us seccomp 9us\nafter");
	assert_non_null(a);
	assert_int_equal(json_object_array_length(a), 3);
	assert_string_equal(str(json_object_array_get_idx(a, 1), "name"), "namespaces");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(a, 1), "usec")), 345);
	json_object_put(a);
	/* Hostile or absent lines: what parses, and nothing past the first bad token. */
	assert_null(bx_audit_timings("no such line"));
	assert_null(bx_audit_timings(""));
	a = bx_audit_timings("timings: fds 1us BAD 2us");
	assert_int_equal(json_object_array_length(a), 1);
	json_object_put(a);
	a = bx_audit_timings("timings: fds 99999999999999999999999us");
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
	a = bx_audit_timings("timings: fds 1u");
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
	a = bx_audit_timings("timings: averyveryverylongname 1us");
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

/* Every record type, written directly, with hostile worker text. */
static void test_records(void **state)
{
	static const uint64_t args[6] = {2, 1, 0, UINT64_MAX, 0x7fffffffffffffffull, 42};
	char report[512];
	struct log l;
	int dummy_worker, dummy_engine;
	json_object *o, *a;
	uint64_t t0;
	(void)state;

	log_open(&l);
	snprintf(report, sizeof(report), "namespaces: user %s\ntimings: fds 3us seccomp 4us\n",
		 hostile);
	bx_audit_spawned(l.fd, &dummy_worker, &dummy_engine, 4242, 7, "gr\"eet", report,
			 bx_audit_now());
	t0 = bx_audit_job_started(&dummy_engine, "job \x7f\xff");
	assert_true(t0 > 0);
	bx_audit_job_ended(&dummy_engine, "job", 3, NULL, t0);
	t0 = bx_audit_job_started(&dummy_engine, "job2");
	bx_audit_job_ended(&dummy_engine, "job2", -EIO, hostile, t0);
	/* An engine that is no worker's logs nothing. */
	assert_int_equal(bx_audit_job_started(&l, "other"), 0);
	bx_audit_violation(l.fd, 4242, "greet", "socket", 41, args);
	bx_audit_violation(l.fd, 4242, "greet", NULL, 999, NULL);
	bx_audit_exited(&dummy_worker, 1, CLD_KILLED, SIGSYS);
	/* Gone from the registry: nothing more. */
	assert_int_equal(bx_audit_job_started(&dummy_engine, "late"), 0);
	bx_audit_spawn_failed(l.fd, hostile);
	log_read(&l);
	assert_int_equal(l.n, 9);

	o = l.rec[0];
	assert_common(o, "worker_spawned");
	assert_int_equal(json_object_get_int(get(o, "worker_pid")), 4242);
	assert_int_equal(json_object_get_int(get(o, "serving_pid")), 7);
	assert_string_equal(str(o, "policy"), "gr\"eet");
	assert_true(json_object_is_type(get(o, "spawn_us"), json_type_int));
	a = get(o, "steps");
	assert_int_equal(json_object_array_length(a), 2);
	assert_string_equal(str(json_object_array_get_idx(a, 0), "name"), "fds");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(a, 1), "usec")), 4);
	a = get(o, "report");
	assert_int_equal(json_object_array_length(a), 3); /* the hostile text had a newline */
	assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(a, 0)),
			       "ctl \x01\x1b[2J quote \" backslash \\ bad \xef\xbf\xbd"));

	assert_common(l.rec[1], "job_started");
	assert_string_equal(str(l.rec[1], "job"), "job \x7f\xef\xbf\xbd");
	assert_int_equal(json_object_get_int(get(l.rec[1], "worker_pid")), 4242);
	assert_string_equal(str(l.rec[1], "policy"), "gr\"eet");

	o = l.rec[2];
	assert_common(o, "job_ended");
	assert_string_equal(str(o, "job"), "job");
	assert_int_equal(json_object_get_int(get(o, "status")), 3);
	assert_null(get(o, "error"));
	assert_true(json_object_get_int64(get(o, "duration_us")) >= 0);

	o = l.rec[4];
	assert_common(o, "job_ended");
	assert_null(get(o, "status"));
	assert_non_null(strstr(str(o, "error"), "quote \" backslash"));

	o = l.rec[5];
	assert_common(o, "violation");
	assert_string_equal(str(o, "syscall"), "socket");
	assert_int_equal(json_object_get_int(get(o, "nr")), 41);
	a = get(o, "args");
	assert_int_equal(json_object_array_length(a), 6);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(a, 0)), 2);
	assert_true(json_object_get_uint64(json_object_array_get_idx(a, 3)) == UINT64_MAX);
	assert_true(json_object_get_uint64(json_object_array_get_idx(a, 4)) ==
		    0x7fffffffffffffffull);
	assert_null(get(l.rec[6], "syscall"));

	o = l.rec[7];
	assert_common(o, "worker_exited");
	assert_string_equal(str(o, "cause"), "killed by signal 31 (SIGSYS)");
	assert_null(get(o, "exit_status"));
	assert_int_equal(json_object_get_int(get(o, "signal")), 31);
	assert_string_equal(str(o, "signal_name"), "SIGSYS");

	assert_common(l.rec[8], "spawn_failed");
	assert_non_null(strstr(str(l.rec[8], "error"), "surrogate \xef\xbf\xbd"));
	log_close(&l);
}

/* The process-wide log: bx_audit_set_fd keeps a copy; -1 turns it off. */
static void test_global_log(void **state)
{
	struct log l;
	int w;
	(void)state;

	log_open(&l);
	assert_int_equal(bx_audit_set_fd(l.fd), 0);
	bx_audit_spawn_failed(-1, "one");
	assert_int_equal(bx_audit_set_fd(-1), 0);
	bx_audit_spawn_failed(-1, "two"); /* nowhere */
	bx_audit_spawned(-1, &w, &w, 1, 1, "p", "", bx_audit_now());
	bx_audit_exited(&w, 1, CLD_EXITED, 0);
	assert_int_equal(bx_audit_set_fd(9999), -EBADF);
	log_read(&l);
	assert_int_equal(l.n, 1);
	assert_string_equal(str(l.rec[0], "error"), "one");
	log_close(&l);
}

struct writer {
	int id;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	char text[6000];

	/* Records larger than PIPE_BUF, so that only the lock keeps them whole. */
	memset(text, 'a' + w->id, sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	for (int i = 0; i < 200; i++)
		bx_audit_spawn_failed(-1, text);
	return NULL;
}

/* Threads write whole records, never interleaved, through a pipe. */
static void test_threads(void **state)
{
	pthread_t t[4];
	struct writer w[4];
	int p[2];
	size_t lines = 0;
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	pid_t reader;
	(void)state;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	reader = fork();
	if (reader == 0) {
		/* Counts the lines and checks each is one writer's whole record. */
		close(p[1]);
		in = fdopen(p[0], "r");
		while ((n = getline(&line, &cap, in)) > 0) {
			json_object *o = json_tokener_parse(line);
			const char *e;

			if (!o)
				_exit(2);
			e = json_object_get_string(json_object_object_get(o, "error"));
			if (!e || strlen(e) != 5999 ||
			    strspn(e, e[0] == 'a'   ? "a"
				      : e[0] == 'b' ? "b"
				      : e[0] == 'c' ? "c"
						    : "d") != 5999)
				_exit(3);
			json_object_put(o);
			lines++;
		}
		_exit(lines == 800 ? 0 : 4);
	}
	close(p[0]);
	assert_int_equal(bx_audit_set_fd(p[1]), 0);
	close(p[1]);
	for (int i = 0; i < 4; i++) {
		w[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(bx_audit_set_fd(-1), 0);
	int status;
	assert_int_equal(waitpid(reader, &status, 0), reader);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Real workers: spawned, jobs started and ended (one with hostile text), exited. */
static void test_real_workers(void **state)
{
	bx_spawn_opts opts;
	bx_worker *w;
	bx_job *job;
	bx_error err;
	struct log l;
	json_object *o;
	int r;
	(void)state;

	log_open(&l);
	bx_test_spawn_opts(&opts);
	opts.audit_fd = l.fd;
	r = bx_spawn(&opts, &w, &err);
	if (r < 0)
		fail_msg("bx_spawn: %s", err.text);
	pid_t pid = bx_worker_pid(w);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "ok", &job), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	bx_job_free(job);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "hostile", &job), 0);
	assert_true(bx_job_run(job, &err) < 0);
	bx_job_free(job);
	bx_worker_free(w);

	/* A worker that dies in a job. */
	r = bx_spawn(&opts, &w, &err);
	if (r < 0)
		fail_msg("bx_spawn: %s", err.text);
	assert_int_equal(bx_job_new(bx_worker_engine(w), "die", &job), 0);
	assert_true(bx_job_run(job, &err) < 0);
	bx_job_free(job);
	bx_worker_free(w);

	log_read(&l);
	assert_int_equal(l.n, 10);
	o = l.rec[0];
	assert_common(o, "worker_spawned");
	assert_int_equal(json_object_get_int(get(o, "worker_pid")), pid);
	assert_string_equal(str(o, "policy"), "default");
	assert_true(json_object_get_int64(get(o, "spawn_us")) > 0);
	/* The worker's own step timings, every step. */
	assert_int_equal(json_object_array_length(get(o, "steps")), 10);
	assert_string_equal(str(json_object_array_get_idx(get(o, "steps"), 9), "name"), "seccomp");
	assert_true(json_object_array_length(get(o, "report")) >= 10);

	assert_common(l.rec[1], "job_started");
	assert_string_equal(str(l.rec[1], "job"), "ok");
	assert_common(l.rec[2], "job_ended");
	assert_int_equal(json_object_get_int(get(l.rec[2], "status")), 0);
	assert_int_equal(json_object_get_int(get(l.rec[2], "worker_pid")), pid);
	assert_common(l.rec[3], "job_started");
	assert_string_equal(str(l.rec[3], "job"), "hostile");
	o = l.rec[4];
	assert_common(o, "job_ended");
	assert_null(get(o, "status"));
	/* The worker's text reached the log intact but escaped (bx_printable, then json-c). */
	assert_non_null(strstr(str(o, "error"), "bad \"quote\""));
	assert_common(l.rec[5], "worker_exited");
	assert_string_equal(str(l.rec[5], "cause"), "exited with status 0");
	assert_int_equal(json_object_get_int(get(l.rec[5], "exit_status")), 0);
	assert_null(get(l.rec[5], "signal"));

	assert_common(l.rec[6], "worker_spawned");
	assert_common(l.rec[7], "job_started");
	assert_common(l.rec[8], "job_ended");
	assert_null(get(l.rec[8], "status"));
	/* The worker that faulted: its cause, as its parent saw it. */
	assert_common(l.rec[9], "worker_exited");
	assert_string_equal(str(l.rec[9], "cause"), "killed by signal 11 (SIGSEGV)");
	assert_int_equal(json_object_get_int(get(l.rec[9], "signal")), 11);
	assert_string_equal(str(l.rec[9], "signal_name"), "SIGSEGV");
	log_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_text), cmocka_unit_test(test_timings_parse),
	    bx_fd_test(test_records),	      bx_fd_test(test_global_log),
	    bx_fd_test(test_threads),	      bx_fd_test(test_real_workers),
	};

	bx_spawn_init(install, NULL);
	/* The first spawn makes the sealed copy of this program (one fd, kept): not a leak. */
	bx_worker *warm = NULL;
	bx_spawn_opts opts;
	bx_error err;

	bx_test_spawn_opts(&opts);
	if (bx_spawn(&opts, &warm, &err) < 0) {
		fprintf(stderr, "bx_spawn: %s\n", err.text);
		return 1;
	}
	bx_worker_free(warm);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
