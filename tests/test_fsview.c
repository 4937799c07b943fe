/* SPDX-License-Identifier: MIT */
/*
 * The filesystem view against a hostile worker, in real confined workers:
 * symlinks planted by one run must not steer the next run's setup (binds
 * resolved beneath directory fds, never through a sandbox-made symlink),
 * no writable mount lets code be mapped executable (W^X holds for
 * file-backed memory too), every bind is visible (mount order) and /dev is
 * read-only even without landlock; and memory held through memfds is
 * bounded (cgroup leaf, v1 or v2, and the shipped policies).
 * Each test asserts the exact denial; run as root and as nobody.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "policy/policy.h"

extern char **environ;

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "?";
}

/* Prints "what=OK" or "what=ERRNO" for a syscall-like result. */
static void report(bx_job *job, const char *what, long r)
{
	bx_job_printf(job, "%s=%s\n", what, r < 0 ? ename(errno) : "OK");
}

/* ---------------------------------------------------------------- hostile handlers */

/* Replaces arg0 (an empty directory, a file or nothing) with a symlink to arg1. */
static int h_plant(bx_job *job, void *ctx)
{
	const char *path = bx_job_arg(job, 0);
	char inner[512];

	(void)ctx;
	snprintf(inner, sizeof(inner), "%s/app.conf", path);
	if (unlink(inner) < 0) {
		/* absent: fine */
	}
	if (rmdir(path) < 0 && unlink(path) < 0) {
		/* absent: fine */
	}
	report(job, "plant", symlink(bx_job_arg(job, 1), path));
	return 0;
}

/* Opens arg0 for reading. */
static int h_probe(bx_job *job, void *ctx)
{
	int fd = open(bx_job_arg(job, 0), O_RDONLY | O_CLOEXEC);

	(void)ctx;
	report(job, "read", fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Creates arg0 and writes to it. */
static int h_write(bx_job *job, void *ctx)
{
	int fd = open(bx_job_arg(job, 0), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	(void)ctx;
	report(job, "create", fd);
	if (fd >= 0) {
		report(job, "write", write(fd, "pwned\n", 6));
		close(fd);
	}
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {
	    {"plant", h_plant},
	    {"probe", h_probe},
	    {"write", h_write},
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int r = bx_engine_register(eng, table[i].name, table[i].fn, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- helpers */

static struct bx_policy *default_policy(void)
{
	struct bx_policy *p = NULL;

	assert_int_equal(bx_policy_default(&p), 0);
	return p;
}

static void add_bind(struct bx_policy *p, const char *src, const char *dst, bool rw)
{
	struct bx_bind *b = &p->binds[p->nbinds++];

	assert_true(p->nbinds <= BX_POLICY_BINDS_MAX);
	b->src = strdup(src);
	b->dst = strdup(dst);
	b->rw = rw;
	b->optional = false;
	b->exec = !rw; /* the parser's default */
	assert_non_null(b->src);
	assert_non_null(b->dst);
}

/* Spawns a worker; NULL with err filled when the spawn fails. */
static bx_worker *try_spawn(const struct bx_policy *p, bx_error *err)
{
	bx_spawn_opts opts;
	bx_worker *w = NULL;

	bx_test_spawn_opts(&opts);
	opts.policy = p;
	bx_error_clear(err);
	if (bx_spawn(&opts, &w, err) < 0)
		return NULL;
	return w;
}

static bx_worker *spawn_with(const struct bx_policy *p)
{
	bx_error err;
	bx_worker *w = try_spawn(p, &err);

	if (!w)
		fail_msg("bx_spawn: %s", err.text);
	return w;
}

/* Runs a handler; returns bx_job_run's result and its stdout (caller frees). */
static int run(bx_worker *w, bx_error *err, char **out, const char *name, const char *arg0,
	       const char *arg1)
{
	bx_job *job = NULL;
	int r;

	assert_int_equal(bx_job_new(bx_worker_engine(w), name, &job), 0);
	if (arg0)
		assert_int_equal(bx_job_add_arg(job, arg0), 0);
	if (arg1)
		assert_int_equal(bx_job_add_arg(job, arg1), 0);
	assert_int_equal(bx_job_capture_stdout(job, 4096), 0);
	bx_error_clear(err);
	r = bx_job_run(job, err);
	*out = strdup(bx_job_output(job, 1, NULL, NULL));
	bx_job_free(job);
	return r;
}

/* Spawns under p, runs one job, expects exactly `want` on its stdout. */
static void expect_job(const struct bx_policy *p, const char *name, const char *arg0,
		       const char *arg1, const char *want)
{
	bx_worker *w = spawn_with(p);
	bx_error err;
	char *out = NULL;
	int r = run(w, &err, &out, name, arg0, arg1);

	if (r != 0)
		fail_msg("%s: %d %s", name, r, err.text);
	if (strcmp(out, want) != 0)
		fail_msg("%s %s:\n got: %s\nwant: %s", name, arg0 ? arg0 : "", out, want);
	free(out);
	bx_worker_free(w);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory under /tmp that the worker's uid may write (0777), path in buf. */
static void make_share(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/bx-fsview-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(buf));
	assert_int_equal(chmod(buf, 0777), 0);
}

static void make_dir(const char *parent, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int teardown(void **state)
{
	errno = 0;
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD) {
		fprintf(stderr, "a child process is left\n");
		return -1;
	}
	return bx_test_fd_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, bx_test_fd_setup, teardown)

/* ---------------------------------------------------------------- #11 C: planted symlinks */

/*
 * `bind = SHARE /data rw` and `bind = SHARE/conf /conf MODE`: a first run
 * replaces SHARE/conf with a symlink to `target`; the second run's setup must
 * refuse to follow it (ELOOP: the spawn fails, naming the bind) instead of
 * binding what it points to.
 */
static void planted_source(const char *target, bool rw)
{
	char share[128], conf[160], *out = NULL;
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;

	make_share(share, sizeof(share), "src");
	make_dir(share, "conf");
	snprintf(conf, sizeof(conf), "%s/conf", share);
	assert_int_equal(bx_policy_allow(p, "symlink"), 0);
	assert_int_equal(bx_policy_allow(p, "symlinkat"), 0);
	add_bind(p, share, "/data", true);
	add_bind(p, conf, "/conf", rw);

	/* Run 1: SHARE/conf is a directory; the worker swaps it for a symlink. */
	expect_job(p, "plant", "/data/conf", target, "plant=OK\n");

	/* Run 2: the setup must not follow it. */
	w = try_spawn(p, &err);
	if (w) {
		assert_int_equal(run(w, &err, &out, "probe", "/conf/etc/passwd", NULL), 0);
		bx_worker_free(w);
		fail_msg("run 2 served with /conf -> %s: /conf/etc/passwd %s", target, out);
	}
	if (!strstr(err.text, "fs: bind source") || !strstr(err.text, "/conf") ||
	    !strstr(err.text, "symbolic link"))
		fail_msg("want a refusal naming the planted symlink, got: %s", err.text);
	rm_rf(share);
	bx_policy_free(p);
}

static void test_planted_symlink_to_oldroot(void **state)
{
	(void)state;
	planted_source("/oldroot", false);
}

static void test_planted_symlink_to_root(void **state)
{
	(void)state;
	planted_source("/", false);
	planted_source("../../../../../../..", false);
}

/* The rw variant: a write through the second bind must not land outside every bind. */
static void test_planted_symlink_rw(void **state)
{
	char share[128], out_dir[160], outside[128], target[200], victim[256], *out = NULL;
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;
	(void)state;

	make_share(share, sizeof(share), "rw");
	make_share(outside, sizeof(outside), "outside");
	make_dir(share, "out");
	snprintf(out_dir, sizeof(out_dir), "%s/out", share);
	snprintf(target, sizeof(target), "/oldroot%s", outside);
	snprintf(victim, sizeof(victim), "%s/pwned", outside);
	assert_int_equal(bx_policy_allow(p, "symlink"), 0);
	assert_int_equal(bx_policy_allow(p, "symlinkat"), 0);
	add_bind(p, share, "/data", true);
	add_bind(p, out_dir, "/out", true);

	expect_job(p, "plant", "/data/out", target, "plant=OK\n");
	w = try_spawn(p, &err);
	if (w) {
		assert_int_equal(run(w, &err, &out, "write", "/out/pwned", NULL), 0);
		bx_worker_free(w);
		fail_msg("run 2 served; writing /out/pwned: %s; %s %s", out, victim,
			 exists(victim) ? "WRITTEN ON THE HOST" : "absent");
	}
	assert_non_null(strstr(err.text, "symbolic link"));
	assert_false(exists(victim));
	rm_rf(share);
	rm_rf(outside);
	bx_policy_free(p);
}

/*
 * A bind whose mount point lies inside an rw bind: a planted symlink on the
 * way must not make the setup create directories on the host.
 */
static void test_planted_symlink_destination(void **state)
{
	char share[128], outside[128], target[200], made[256];
	struct bx_policy *p = default_policy(), *plant = default_policy();
	bx_worker *w;
	bx_error err;
	(void)state;

	make_share(share, sizeof(share), "dst");
	make_share(outside, sizeof(outside), "hostdir");
	snprintf(target, sizeof(target), "/oldroot%s", outside);
	snprintf(made, sizeof(made), "%s/y", outside);
	assert_int_equal(bx_policy_allow(plant, "symlink"), 0);
	assert_int_equal(bx_policy_allow(plant, "symlinkat"), 0);
	add_bind(plant, share, "/data", true);
	add_bind(p, share, "/data", true);
	add_bind(p, "/usr", "/data/x/y", false);

	expect_job(plant, "plant", "/data/x", target, "plant=OK\n");
	w = try_spawn(p, &err);
	if (w)
		bx_worker_free(w);
	if (exists(made))
		fail_msg("the setup created %s on the host", made);
	if (w)
		fail_msg("run 2 served with its mount point behind a planted symlink");
	if (!strstr(err.text, "fs: mount point /data/x/y") || !strstr(err.text, "symbolic link"))
		fail_msg("want a refusal naming the mount point, got: %s", err.text);
	rm_rf(share);
	rm_rf(outside);
	bx_policy_free(p);
	bx_policy_free(plant);
}

/*
 * The policy author's own symlinks in host paths are followed as the host
 * would (an absolute one relative to the host's root, not the setup's).
 */
static void test_author_symlinks_followed(void **state)
{
	char dir[128], abs_link[160], rel_link[160];
	struct bx_policy *p = default_policy();
	(void)state;

	make_share(dir, sizeof(dir), "links");
	snprintf(abs_link, sizeof(abs_link), "%s/abs", dir);
	snprintf(rel_link, sizeof(rel_link), "%s/rel", dir);
	assert_int_equal(symlink("/usr/include", abs_link), 0);
	assert_int_equal(symlink("../../usr/include", rel_link), 0);
	add_bind(p, abs_link, "/abs", false);
	add_bind(p, rel_link, "/rel", false);
	expect_job(p, "probe", "/abs/stdio.h", NULL, "read=OK\n");
	expect_job(p, "probe", "/rel/stdio.h", NULL, "read=OK\n");
	rm_rf(dir);
	bx_policy_free(p);
}

int main(void)
{
	bx_spawn_init(install, NULL);

	/* The sealed program copy is made once; make it before fd counting starts. */
	bx_worker *warm = spawn_with(NULL);
	bx_worker_free(warm);

	const struct CMUnitTest tests[] = {
	    T(test_planted_symlink_to_oldroot), T(test_planted_symlink_to_root),
	    T(test_planted_symlink_rw),		T(test_planted_symlink_destination),
	    T(test_author_symlinks_followed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
