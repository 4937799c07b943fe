/* SPDX-License-Identifier: MIT */
/*
 * hello: the whole API in a dozen lines. A worker runs "greet"; the parent
 * calls it. `hello NAME` greets NAME; `hello` sends greet no argument at all,
 * which the handler answers with "world" (a job's arguments are whatever its
 * caller sent, so a handler never assumes one is there).
 */
#include <beambox/spawn.h>
#include <stdio.h>

static int greet(bx_job *job, void *ctx)
{
	const char *who = bx_job_argc(job) > 0 ? bx_job_arg(job, 0) : "world";

	(void)ctx;
	bx_job_printf(job, "hello, %s, from a worker\n", who);
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	return bx_engine_register(eng, "greet", greet, NULL);
}

int main(int argc, char **argv)
{
	bx_worker *w;
	bx_job *job;
	bx_error err;
	int status;

	bx_spawn_init(install, NULL); /* in the worker, this never returns */
	bx_error_clear(&err);
	if (bx_spawn(NULL, &w, &err) < 0 || bx_job_new(bx_worker_engine(w), "greet", &job) < 0 ||
	    (argc > 1 && bx_job_add_arg(job, argv[1]) < 0) ||
	    bx_job_capture_stdout(job, 4096) < 0) {
		fprintf(stderr, "hello: %s\n", err.text);
		return 1;
	}
	status = bx_job_run(job, &err);
	if (status < 0)
		fprintf(stderr, "hello: %s\n", err.text);
	else
		printf("%sstatus %d\n", bx_job_output(job, 1, NULL, NULL), status);
	bx_job_free(job);
	bx_worker_free(w);
	return status == 0 ? 0 : 1;
}
