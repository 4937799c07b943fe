/* SPDX-License-Identifier: MIT */
/*
 * A program built against an installed beambox, by tests/install_test.sh,
 * with the public headers and library only.
 *
 *   consumer                  the codec round trip: prints 000;5:hello,8:5:world,,
 *   consumer FILE NAME...     then, for the policy FILE and each shipped
 *                             policy NAME: spawns a worker confined by it and
 *                             runs a job there, printing
 *                             "file|name POLICY: hello from HOSTNAME"
 */
#include <beambox/data.h>
#include <beambox/policy.h>
#include <beambox/spawn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Greets from the worker's own hostname (the policy's `hostname = ...`). */
static int hello(bx_job *job, void *ctx)
{
	char host[65] = "";

	(void)ctx;
	if (gethostname(host, sizeof(host) - 1) < 0)
		return bx_job_fail(job, -errno, "gethostname: %m");
	bx_job_printf(job, "hello from %s\n", host);
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	return bx_engine_register(eng, "hello", hello, NULL);
}

static int codec_round_trip(void)
{
	bx_msg *m = NULL, *back = NULL;
	bx_bytes v;
	char *buf = NULL;
	size_t len = 0;
	int ok;

	if (bx_msg_new(&m) < 0 || bx_msg_add(m, "hello", "world") < 0 ||
	    bx_msg_encode(m, &buf, &len) < 0 || bx_msg_decode(buf, len, 0, &back, NULL) < 0 ||
	    bx_msg_get_one(back, "hello", &v) < 0)
		return 1;
	ok = v.len == 5 && memcmp(v.p, "world", 5) == 0;
	printf("%s\n", buf);
	free(buf);
	bx_msg_free(m);
	bx_msg_free(back);
	return ok ? 0 : 1;
}

/* Spawns a worker under policy, runs "hello" there, prints its output after label. */
static int run_under(const char *label, const bx_policy *policy)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;
	bx_job *job = NULL;
	bx_error err;
	int status;

	bx_error_clear(&err);
	bx_spawn_opts_init(&opts);
	opts.policy = policy;
	if (bx_spawn(&opts, &w, &err) < 0) {
		fprintf(stderr, "consumer: %s: spawn: %s\n", label, err.text);
		return 1;
	}
	if (bx_job_new(bx_worker_engine(w), "hello", &job) < 0 ||
	    bx_job_capture_stdout(job, 4096) < 0) {
		fprintf(stderr, "consumer: %s: making the job failed\n", label);
		bx_job_free(job);
		bx_worker_free(w);
		return 1;
	}
	status = bx_job_run(job, &err);
	if (status == 0)
		printf("%s %s: %s", label, bx_policy_name(policy),
		       bx_job_output(job, 1, NULL, NULL));
	else
		fprintf(stderr, "consumer: %s: status %d: %s\n", label, status, err.text);
	bx_job_free(job);
	bx_worker_free(w);
	return status == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	bx_policy *policy = NULL;
	bx_error err;
	int failed;

	bx_spawn_init(install, NULL); /* first thing: a worker never returns from here */
	failed = codec_round_trip();
	for (int i = 1; i < argc; i++) {
		const char *label = i == 1 ? "file" : "name";
		int r = i == 1 ? bx_policy_load_file(argv[i], &policy, &err)
			       : bx_policy_load_named(argv[i], &policy, &err);

		if (r < 0) {
			fprintf(stderr, "consumer: %s\n", err.text);
			failed = 1;
			continue;
		}
		failed |= run_under(label, policy);
		bx_policy_free(policy);
	}
	return failed;
}
