/* SPDX-License-Identifier: MIT */
/*
 * `beambox demo`: spawns a confined worker (this very binary, re-executed),
 * runs a few jobs in it and shows what confines it. The worker's handlers are
 * registered by bx_cli_demo_install, which main() hands to bx_spawn_init.
 */
#define _GNU_SOURCE
#include "cli/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <beambox/spawn.h>

/* "whoami": what the worker sees of itself. */
static int demo_whoami(bx_job *job, void *ctx)
{
	struct utsname u;

	(void)ctx;
	uname(&u);
	bx_job_printf(job, "pid %d, uid %d, hostname %s\n", getpid(), (int)getuid(), u.nodename);
	return 0;
}

/* "open PATH": tries to read a file and says what happened. */
static int demo_open(bx_job *job, void *ctx)
{
	const char *path = bx_job_arg(job, 0);
	int fd;

	(void)ctx;
	if (!path)
		return bx_job_fail(job, -EINVAL, "open: missing PATH");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		bx_job_printf(job, "open(%s): %s\n", path, strerror(errno));
		return 1;
	}
	bx_job_printf(job, "open(%s): ok\n", path);
	close(fd);
	return 0;
}

/* "upper": stdin to stdout in capitals: a stand-in for parsing untrusted input. */
static int demo_upper(bx_job *job, void *ctx)
{
	char buf[4096];
	ssize_t n;

	(void)ctx;
	while ((n = read(bx_job_stdin(job), buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] = (char)(buf[i] - 'a' + 'A');
		if (write(bx_job_stdout(job), buf, (size_t)n) != n)
			return 1;
	}
	return n < 0 ? 1 : 0;
}

int bx_cli_demo_install(bx_engine *eng, void *ctx)
{
	int r;

	(void)ctx;
	r = bx_engine_register(eng, "whoami", demo_whoami, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "open", demo_open, NULL);
	if (r == 0)
		r = bx_engine_register(eng, "upper", demo_upper, NULL);
	return r;
}

static int demo_job(FILE *out, bx_worker *w, const char *name, const char *arg, const char *input)
{
	bx_job *job = NULL;
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_job_new(bx_worker_engine(w), name, &job);
	if (r == 0 && arg)
		r = bx_job_add_arg(job, arg);
	if (r == 0 && input)
		r = bx_job_set_stdin_buf(job, input, strlen(input));
	if (r == 0)
		r = bx_job_capture_stdout(job, 4096);
	if (r == 0)
		r = bx_job_run(job, &err);
	fprintf(out, "$ %s%s%s\n", name, arg ? " " : "", arg ? arg : "");
	if (r < 0)
		fprintf(out, "  error: %s\n", err.text[0] ? err.text : strerror(-r));
	else {
		for (const char *o = bx_job_output(job, 1, NULL, NULL); *o;) {
			size_t n = strcspn(o, "\n");
			fprintf(out, "  %.*s\n", (int)n, o);
			o += n + (o[n] == '\n');
		}
		fprintf(out, "  (status %d)\n", r);
	}
	bx_job_free(job);
	return r;
}

int bx_cli_demo_spawn(FILE *out)
{
	bx_worker *w = NULL;
	bx_error err;
	int r, failed = 0;

	bx_error_clear(&err);
	r = bx_spawn(NULL, &w, &err);
	if (r < 0) {
		fprintf(out, "spawning a worker failed: %s\n", err.text);
		return 1;
	}
	fprintf(out, "worker %d is ready (confined pid %d); what confines it:\n",
		(int)bx_worker_pid(w), (int)bx_worker_serving_pid(w));
	for (const char *s = bx_worker_report(w); *s;) {
		size_t n = strcspn(s, "\n");
		fprintf(out, "  %.*s\n", (int)n, s);
		s += n + (s[n] == '\n');
	}
	fprintf(out, "\njobs run in the worker:\n");
	failed |= demo_job(out, w, "whoami", NULL, NULL) != 0;
	failed |= demo_job(out, w, "upper", NULL, "untrusted input, handled far away\n") != 0;
	/* The host's password file is not in the worker's view: this one must fail. */
	failed |= demo_job(out, w, "open", "/etc/passwd", NULL) != 1;
	failed |= demo_job(out, w, "commands", NULL, NULL) != 0;
	bx_worker_free(w);
	return failed;
}
