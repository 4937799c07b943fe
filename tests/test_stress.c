/* SPDX-License-Identifier: MIT */
/*
 * Spawning in a threaded program (issue #9, item 1): several threads spawn,
 * use and free workers while other threads are created and joined as fast
 * as they can. As root the old child called glibc's setgroups/setresuid,
 * whose set-id broadcast waits for the parent's other threads, which the
 * child does not have: it hung, 3 runs out of 3. Every spawn must now finish
 * (each is bounded by its ready timeout anyway) and no process may be left:
 * this test is a child subreaper, so that any process a worker leaves behind
 * becomes our child and is seen.
 *
 *   BX_STRESS_SPAWNS  spawns per spawning thread (default 40; tests/tsan.sh uses fewer)
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "spawn/zygote.h"

#define SPAWNERS 2
#define CHURNERS 2

static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	bx_job_printf(job, "%s\n", bx_job_argc(job) ? bx_job_arg(job, 0) : "");
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	(void)ctx;
	return bx_engine_register(eng, "echo", h_echo, NULL);
}

static atomic_bool stop;
static atomic_long threads_made;

static void *nothing(void *p)
{
	return p;
}

/* Creates and joins threads until told to stop (what set-id broadcasts trip over). */
static void *churn(void *p)
{
	(void)p;
	while (!atomic_load(&stop)) {
		pthread_t t;

		if (pthread_create(&t, NULL, nothing, NULL) == 0) {
			pthread_join(t, NULL);
			atomic_fetch_add(&threads_made, 1);
		}
	}
	return NULL;
}

struct spawner {
	int id, spawns, failures;
	char first_error[256];
};

static void *spawn_loop(void *p)
{
	struct spawner *s = p;

	for (int i = 0; i < s->spawns; i++) {
		char arg[32], want[40];
		bx_spawn_opts opts;
		bx_worker *w = NULL;
		bx_job *job = NULL;
		bx_error err;
		int r;

		bx_test_spawn_opts(&opts);
		bx_error_clear(&err);
		r = bx_spawn(&opts, &w, &err);
		if (r == 0) {
			snprintf(arg, sizeof(arg), "s%d-%d", s->id, i);
			snprintf(want, sizeof(want), "%s\n", arg);
			r = bx_job_new(bx_worker_engine(w), "echo", &job);
			if (r == 0)
				r = bx_job_add_arg(job, arg);
			if (r == 0)
				r = bx_job_capture_stdout(job, 64);
			if (r == 0)
				r = bx_job_run(job, &err);
			if (r == 0 && strcmp(bx_job_output(job, 1, NULL, NULL), want) != 0)
				r = -EBADMSG;
			bx_job_free(job);
			bx_worker_free(w);
		}
		if (r != 0 && s->failures++ == 0)
			snprintf(s->first_error, sizeof(s->first_error), "spawn %d: %d %.200s", i,
				 r, err.text);
	}
	return NULL;
}

/* Our children (reaped or not) and any process whose parent we are. */
static int leftover_processes(char *what, size_t len)
{
	char path[64], line[256];
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	what[0] = '\0';
	/* The zygote (see tests_common.h) is ours for the process's life. */
	if ((n = bx_test_stray_child()) != 0) {
		snprintf(what, len, "child %d", n);
		n = 1;
	}
	while (d && (e = readdir(d)) != NULL) {
		FILE *f;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/status", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "PPid:", 5) == 0 && atoi(line + 5) == getpid() &&
			    atoi(e->d_name) != bx_zygote_pid()) {
				snprintf(what, len, "process %.16s", e->d_name);
				n++;
			}
		fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

static void test_spawn_while_threads_churn(void **state)
{
	const char *env = getenv("BX_STRESS_SPAWNS");
	int spawns = env ? atoi(env) : 40;
	pthread_t churners[CHURNERS], spawners[SPAWNERS];
	struct spawner s[SPAWNERS];
	char what[128];
	(void)state;

	if (spawns <= 0)
		spawns = 40;
	atomic_store(&stop, false);
	for (int i = 0; i < CHURNERS; i++)
		assert_int_equal(pthread_create(&churners[i], NULL, churn, NULL), 0);
	for (int i = 0; i < SPAWNERS; i++) {
		s[i] = (struct spawner){.id = i, .spawns = spawns};
		assert_int_equal(pthread_create(&spawners[i], NULL, spawn_loop, &s[i]), 0);
	}
	for (int i = 0; i < SPAWNERS; i++)
		pthread_join(spawners[i], NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < CHURNERS; i++)
		pthread_join(churners[i], NULL);
	print_message("%d spawns as uid %d while %ld threads came and went\n", SPAWNERS * spawns,
		      (int)geteuid(), atomic_load(&threads_made));
	for (int i = 0; i < SPAWNERS; i++)
		if (s[i].failures)
			fail_msg("spawner %d: %d failures, first: %s", i, s[i].failures,
				 s[i].first_error);
	if (leftover_processes(what, sizeof(what)))
		fail_msg("left behind: %s", what);
}

int main(void)
{
	bx_spawn_init(install, NULL);
	/* Whatever a worker might leave behind would be re-parented to us, and seen. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spawn_while_threads_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
