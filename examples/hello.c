/* SPDX-License-Identifier: MIT */
/* hello: the whole API in a dozen lines. A worker runs "greet"; the parent calls it. */
#include <beambox/spawn.h>
#include <stdio.h>

static int greet(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_printf(job, "hello, %s, from a worker\n", bx_job_arg(job, 0));
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
	    bx_job_add_arg(job, argc > 1 ? argv[1] : "world") < 0 ||
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
