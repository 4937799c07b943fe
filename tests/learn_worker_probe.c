/* SPDX-License-Identifier: MIT */
/*
 * An application of the library for `beambox policy learn --worker`
 * (tests/learn_worker_test.sh), written against the public API only. Its
 * handler "probe" makes calls that a tight policy lacks: uname, getrandom,
 * socket(AF_UNIX). It runs the job in one worker, then in two workers at
 * once, and exits 0 when every job succeeded, 3 otherwise (each failure on
 * stderr, e.g. "stopped: uname(...) is not allowed by ...").
 * Usage: learn_worker_probe POLICY_FILE
 */
#define _GNU_SOURCE
#include <beambox/policy.h>
#include <beambox/spawn.h>

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

static int probe(bx_job *job, void *ctx)
{
	struct utsname u;
	char rnd[16], line[128];
	int fd, n;

	(void)ctx;
	if (uname(&u) < 0 || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 2;
	close(fd);
	n = snprintf(line, sizeof(line), "probe ok: %.64s\n", u.sysname);
	return write(bx_job_stdout(job), line, (size_t)n) == n ? 0 : 3;
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	return bx_engine_register(eng, "probe", probe, NULL);
}

static void log_to_stderr(enum bx_log_level level, const char *message, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "learn_worker_probe: beambox (%d): %s\n", (int)level, message);
}

/* Runs probe in w: 0 or -1 (said on stderr). */
static int run_probe(bx_worker *w, const char *which)
{
	bx_job *job = NULL;
	bx_error err;
	int status;

	bx_error_clear(&err);
	if (bx_job_new(bx_worker_engine(w), "probe", &job) < 0 ||
	    bx_job_capture_stdout(job, 4096) < 0) {
		bx_job_free(job);
		fprintf(stderr, "learn_worker_probe: %s: job setup failed\n", which);
		return -1;
	}
	status = bx_job_run(job, &err);
	if (status != 0)
		fprintf(stderr, "learn_worker_probe: %s: status %d: %s\n", which, status,
			status < 0 ? err.text : "the handler failed");
	else
		printf("%s: %s", which, bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	return status == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	bx_policy *policy = NULL;
	bx_spawn_opts opts;
	bx_worker *w[2] = {NULL, NULL};
	bx_error err;
	int failed = 0;

	bx_set_log(log_to_stderr, NULL);
	bx_spawn_init(install, NULL); /* in a worker, this never returns */
	if (argc != 2) {
		fprintf(stderr, "usage: learn_worker_probe POLICY_FILE\n");
		return 2;
	}
	bx_error_clear(&err);
	if (bx_policy_load_file(argv[1], &policy, &err) < 0) {
		fprintf(stderr, "learn_worker_probe: %s\n", err.text);
		return 2;
	}
	bx_spawn_opts_init(&opts);
	opts.policy = policy;
	opts.stderr_fd = STDERR_FILENO;
	/* One worker, then two at once. */
	for (int round = 0; round < 2; round++) {
		int n = round == 0 ? 1 : 2;

		for (int i = 0; i < n; i++) {
			if (bx_spawn(&opts, &w[i], &err) < 0) {
				fprintf(stderr, "learn_worker_probe: spawn: %s\n", err.text);
				failed = 1;
				w[i] = NULL;
			}
		}
		for (int i = 0; i < n; i++) {
			char which[32];

			snprintf(which, sizeof(which), "round %d worker %d", round + 1, i + 1);
			if (w[i] && run_probe(w[i], which) < 0)
				failed = 1;
			bx_worker_free(w[i]);
			w[i] = NULL;
		}
	}
	bx_policy_free(policy);
	return failed ? 3 : 0;
}
