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

#include <seccomp.h>

#include "attacks.h"
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

/* W^X attacks through files in arg0 (a writable directory) and /dev/zero. */
static int h_wx(bx_job *job, void *ctx)
{
	char out[1024] = "";

	(void)ctx;
	bx_attack_wx(bx_job_arg(job, 0), out, sizeof(out));
	bx_job_printf(job, "%s", out);
	return 0;
}

static int h_memfd(bx_job *job, void *ctx)
{
	char out[256] = "";

	(void)ctx;
	bx_attack_memfd(out, sizeof(out));
	bx_job_printf(job, "%s", out);
	return 0;
}

/* Writes into /dev and / (both read-only), and through /dev/null (a device: fine). */
static int h_dev_write(bx_job *job, void *ctx)
{
	int fd;

	(void)ctx;
	report(job, "dev_create", fd = open("/dev/evil", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	if (fd >= 0)
		close(fd);
	report(job, "dev_mkdir", mkdir("/dev/evil.d", 0700));
	report(job, "dev_symlink", symlink("/tmp", "/dev/shm"));
	report(job, "root_create", fd = open("/evil", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	if (fd >= 0)
		close(fd);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	report(job, "null_write", fd < 0 ? -1 : write(fd, "x", 1));
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Forks until refused; as pid 1, kills and reaps them all. */
static int h_forkbomb(bx_job *job, void *ctx)
{
	int made = 0, err = 0;

	(void)ctx;
	for (int i = 0; i < 10000; i++) {
		pid_t p = fork();
		if (p < 0) {
			err = errno;
			break;
		}
		if (p == 0) {
			pause();
			_exit(0);
		}
		made++;
	}
	kill(-1, SIGKILL);
	while (wait(NULL) > 0)
		;
	bx_job_printf(job, "fork=%s made=%d\n", err ? ename(err) : "OK", made);
	return 0;
}

static int install(bx_engine *eng, void *ctx)
{
	static const struct {
		const char *name;
		bx_handler_fn fn;
	} table[] = {
	    {"plant", h_plant}, {"probe", h_probe},	    {"write", h_write},	      {"wx", h_wx},
	    {"memfd", h_memfd}, {"dev_write", h_dev_write}, {"forkbomb", h_forkbomb},
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

	bx_worker_free(w);
	if (r != 0)
		fail_msg("%s: %d %s", name, r, err.text);
	if (strcmp(out, want) != 0)
		fail_msg("%s %s:\n got: %s\nwant: %s", name, arg0 ? arg0 : "", out, want);
	free(out);
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
	/* No child but the zygote (see tests_common.h). */
	if (bx_test_stray_child() != 0) {
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

/* ---------------------------------------------------------------- `beambox exec` */

struct result {
	int status; /* exit status, or 128+N */
	char out[4096];
	char err[4096];
};

static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

/* Runs `beambox exec --policy POLICY -- wx_probe MODE`, stdin /dev/null. */
static void run_probe(struct result *res, const char *policy_file, const char *mode)
{
	char policy[512];
	const char *argv[] = {BX_CLI_PATH, "exec",	"--policy", policy,
			      "--",	   BX_WX_PROBE, mode,	    NULL};
	int out[2], err[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	snprintf(policy, sizeof(policy), "%s/../../policies/%s", BX_TEST_DATA_DIR, policy_file);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	assert_int_equal(posix_spawn(&pid, BX_CLI_PATH, &fa, NULL, (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	read_all(out[0], res->out, sizeof(res->out));
	read_all(err[0], res->err, sizeof(res->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---------------------------------------------------------------- #11 6: W^X */

/* Every attempt at executable memory from a writable file fails with EPERM (noexec). */
#define WX_DENIED                                                                                  \
	"create=OK\nmap_read=OK\nmap_exec=EPERM\nmap_rwx_shared=EPERM\nmap_zero_rwx=EPERM\n"

static void test_wx_tmp_default_policy(void **state)
{
	(void)state;
	expect_job(NULL, "wx", "/tmp", NULL, WX_DENIED);
}

/* untrusted.policy's filter refuses anonymous executable memory; the mounts do the rest. */
static void test_wx_untrusted_policy(void **state)
{
	struct result res;
	(void)state;

	run_probe(&res, "untrusted.policy", "wx");
	if (res.status != 0 || strcmp(res.out, WX_DENIED) != 0)
		fail_msg("status %d\nstdout: %s\nstderr: %s", res.status, res.out, res.err);
}

/* rw binds are noexec unless the policy says `exec`. */
static void test_wx_rw_binds(void **state)
{
	char share[128];
	struct bx_policy *p = default_policy();
	(void)state;

	make_share(share, sizeof(share), "wx");
	add_bind(p, share, "/data", true);
	expect_job(p, "wx", "/data", NULL, WX_DENIED);
	p->binds[p->nbinds - 1].exec = true;
	expect_job(p, "wx", "/data", NULL,
		   "create=OK\nmap_read=OK\nmap_exec=OK\nran\nmap_rwx_shared=OK\nran\n"
		   "map_zero_rwx=EPERM\n");
	rm_rf(share);
	bx_policy_free(p);
}

/* `bind = ... exec|noexec`: rw defaults to noexec, ro to exec; each token once. */
static void test_bind_exec_option(void **state)
{
	static const char text[] = "[policy]\nnamespaces = user mount\n"
				   "bind = /a /b rw exec\nbind = /c rw\nbind = /d ro noexec\n"
				   "bind = /e\n";
	static const char bad[] = "[policy]\nnamespaces = user mount\nbind = /a rw exec noexec\n";
	struct bx_policy *p = NULL;
	bx_error err;
	(void)state;

	if (bx_policy_parse("t.policy", text, strlen(text), NULL, &p, &err) < 0)
		fail_msg("%s", err.text);
	assert_int_equal(p->nbinds, 4);
	assert_true(p->binds[0].exec);
	assert_false(p->binds[1].exec);
	assert_false(p->binds[2].exec);
	assert_true(p->binds[3].exec);
	bx_policy_free(p);
	p = NULL;
	assert_int_equal(bx_policy_parse("bad.policy", bad, strlen(bad), NULL, &p, &err), -EINVAL);
	assert_non_null(strstr(err.text, "bad.policy:3:"));
	assert_non_null(strstr(err.text, "noexec"));
	assert_null(p);
}

/* ---------------------------------------------------------------- #11 10: mount order, /dev */

static void test_bind_under_tmp_visible(void **state)
{
	struct bx_policy *p = default_policy();
	(void)state;

	add_bind(p, "/usr/include", "/tmp/inc", false);
	add_bind(p, "/usr/share", "/dev/share", false);
	expect_job(p, "probe", "/tmp/inc/stdio.h", NULL, "read=OK\n");
	expect_job(p, "probe", "/dev/share", NULL, "read=OK\n");
	bx_policy_free(p);
}

/* A bind that would hide (or be hidden by) /tmp, /dev or /proc is refused, naming both. */
static void test_bind_collision_refused(void **state)
{
	static const struct {
		const char *dst;
		const char *why;
	} cases[] = {
	    {"/tmp", "would collide with the private /tmp"},
	    {"/dev", "would collide with the private /dev"},
	    {"/dev/null", "would collide with a device node of the private /dev"},
	    {"/dev/fd", "would collide with a symlink of the private /dev"},
	    {"/proc", "would collide with the fresh /proc"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_policy *p = default_policy();
		bx_worker *w;
		bx_error err;

		add_bind(p, "/usr/include", cases[i].dst, false);
		w = try_spawn(p, &err);
		if (w)
			bx_worker_free(w);
		if (w || !strstr(err.text, cases[i].why) || !strstr(err.text, cases[i].dst))
			fail_msg("bind to %s: want a refusal '%s', got: %s", cases[i].dst,
				 cases[i].why, w ? "a worker" : err.text);
		bx_policy_free(p);
	}
	/* Without a private /tmp, a bind may be /tmp. */
	struct bx_policy *p = default_policy();
	p->tmp_size = 0;
	add_bind(p, "/usr/include", "/tmp", false);
	expect_job(p, "probe", "/tmp/stdio.h", NULL, "read=OK\n");
	bx_policy_free(p);
}

/* /dev and / are read-only without landlock too (the lock-down covers every mount). */
static void test_dev_readonly_without_landlock(void **state)
{
	struct bx_policy *p = default_policy();
	(void)state;

	p->landlock = BX_NEED_OFF;
	assert_int_equal(bx_policy_allow(p, "symlink"), 0);
	expect_job(p, "dev_write", NULL, NULL,
		   "dev_create=EROFS\ndev_mkdir=EROFS\ndev_symlink=EROFS\nroot_create=EROFS\n"
		   "null_write=OK\n");
	bx_policy_free(p);
}

/* ---------------------------------------------------------------- #11 8: memory bounds */

/* Lets p's workers call memfd_create (the shipped policies refuse it). */
static void allow_memfd(struct bx_policy *p)
{
	for (size_t i = 0; i < p->nrules; i++) {
		if (strcmp(p->rules[i].name, "memfd_create") == 0) {
			p->rules[i].action = SCMP_ACT_ALLOW;
			return;
		}
	}
	assert_int_equal(bx_policy_allow(p, "memfd_create"), 0);
}

/* The leaf's directory on disk for the hierarchy line of /proc/PID/cgroup that has ctl. */
static bool leaf_dir_of(pid_t pid, const char *ctl, char *dir, size_t len)
{
	char path[64], line[512], want[32];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), ",%s,", ctl);
	f = fopen(path, "re");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char ctls[128];

		if (!c2 || !strstr(c2, "/beambox-"))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(ctls, sizeof(ctls), ",%.*s,", (int)(c2 - c1 - 1), c1 + 1);
		if (c2 == c1 + 1) /* v2 */
			found = snprintf(dir, len, "/sys/fs/cgroup%s%s",
					 exists("/sys/fs/cgroup/unified") ? "/unified" : "",
					 c2 + 1) < (int)len;
		else if (strstr(ctls, want))
			found = snprintf(dir, len, "/sys/fs/cgroup/%s%s", ctl, c2 + 1) < (int)len;
	}
	fclose(f);
	return found;
}

/* The first line of dir/name, or "(errno name)". */
static void read_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f) {
		snprintf(buf, len, "(%s)", ename(errno));
		return;
	}
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Spawns under p; when no cgroup leaf could be made for it, skips with the
 * worker's reason (an unprivileged parent without a delegated cgroup v2
 * subtree), except as root, where a leaf is required of this machine. Frees p
 * when it does not return a worker.
 */
static bx_worker *spawn_in_leaf(struct bx_policy *p)
{
	bx_worker *w = spawn_with(p);
	const char *rep = bx_worker_report(w), *line = strstr(rep, "cgroup:");
	char why[300];

	if (strstr(rep, "cgroup: leaf with"))
		return w;
	snprintf(why, sizeof(why), "%.*s", line ? (int)strcspn(line, "\n") : 0, line ? line : "");
	bx_worker_free(w);
	bx_policy_free(p); /* a skip leaves the test: nothing of it may stay allocated */
	if (geteuid() == 0)
		fail_msg("a root parent got no cgroup leaf: %s", why);
	bx_test_skip("no cgroup leaf for an unprivileged parent here (needs a delegated cgroup "
		     "v2 subtree): %s",
		     why);
	return NULL;
}

/* The leaf (v1 memory + pids here, v2 where delegated): made, joined, limits, removed. */
static void test_cgroup_leaf(void **state)
{
	struct bx_policy *p = default_policy();
	char mem[512], pids[512], mem_max[64] = "", pids_max[64] = "";
	char init_mem[512] = "", init_pids[512] = "";
	bool v2, in_mem, in_pids, said, init_in;
	bx_worker *w;
	(void)state;

	w = spawn_in_leaf(p);
	/* From outside: the serving process is in the leaf, and the leaf holds the limits. */
	in_mem = leaf_dir_of(bx_worker_serving_pid(w), "memory", mem, sizeof(mem));
	in_pids = leaf_dir_of(bx_worker_serving_pid(w), "pids", pids, sizeof(pids));
	/* The whole worker: pid 1 of its namespace (its init) is in the same leaf. */
	init_in = bx_worker_pid(w) != bx_worker_serving_pid(w) &&
		  leaf_dir_of(bx_worker_pid(w), "memory", init_mem, sizeof(init_mem)) &&
		  leaf_dir_of(bx_worker_pid(w), "pids", init_pids, sizeof(init_pids));
	v2 = in_mem && in_pids && strcmp(mem, pids) == 0;
	if (in_mem)
		read_line(mem, v2 ? "memory.max" : "memory.limit_in_bytes", mem_max,
			  sizeof(mem_max));
	if (in_pids)
		read_line(pids, "pids.max", pids_max, sizeof(pids_max));
	said = strstr(bx_worker_report(w), v2 ? "(cgroup v2)" : "(cgroup v1)") != NULL;
	bx_worker_free(w);
	bx_policy_free(p);
	if (!in_mem || !in_pids)
		fail_msg("the serving process is not in a beambox leaf (memory %d, pids %d)",
			 in_mem, in_pids);
	if (!init_in || strcmp(init_mem, mem) != 0 || strcmp(init_pids, pids) != 0)
		fail_msg("pid 1 of the worker is not in its leaf (memory '%s', pids '%s')",
			 init_mem, init_pids);
	assert_string_equal(mem_max, "536870912");
	assert_string_equal(pids_max, "64");
	assert_true(said);
	/* Reaped: the leaf is gone. */
	if (exists(mem) || exists(pids))
		fail_msg("leaf left behind: %s %s", exists(mem) ? mem : "",
			 exists(pids) ? pids : "");
}

/* The pids controller alone bounds a fork bomb (no RLIMIT_NPROC). */
static void test_cgroup_pids_bound(void **state)
{
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;
	char *out = NULL;
	int made = -1;
	(void)state;

	p->rlimits[RLIMIT_NPROC].set = false;
	p->cgroup_pids_max = 8;
	w = spawn_in_leaf(p);
	assert_int_equal(run(w, &err, &out, "forkbomb", NULL, NULL), 0);
	bx_worker_free(w);
	if (sscanf(out, "fork=EAGAIN made=%d", &made) != 1 || made >= 8)
		fail_msg("want fork=EAGAIN before 8 processes, got %s", out);
	free(out);
	bx_policy_free(p);
}

/*
 * The memory controller bounds memfd pages, which RLIMIT_AS does not see:
 * the 40 x 60 MiB attack, with memfd_create allowed, under a 128 MiB leaf.
 */
static void test_cgroup_memory_bounds_memfd(void **state)
{
	struct bx_policy *p = default_policy();
	bx_worker *w;
	bx_error err;
	char *out = NULL, want[96];
	unsigned held = 0;
	int r;
	(void)state;

	allow_memfd(p);
	p->cgroup_memory_max = 128u << 20;
	w = spawn_in_leaf(p);
	r = run(w, &err, &out, "memfd", NULL, NULL);
	snprintf(want, sizeof(want), "worker %d killed by signal 9 (SIGKILL)",
		 (int)bx_worker_pid(w));
	bx_worker_free(w);
	/* The cgroup's OOM killer ends it, or (v2 without an OOM kill) a write fails. */
	if (!(r == -ECHILD && strstr(err.text, want)) &&
	    !(r == 0 &&
	      sscanf(strstr(out, "held=") ? strstr(out, "held=") : "", "held=%uMiB", &held) == 1 &&
	      strncmp(out, "memfd=OK", 8) != 0 && held <= 128))
		fail_msg("want the worker OOM-killed or the attack stopped by 128 MiB, got %d %s "
			 "%s",
			 r, err.text, out);
	print_message("memfd attack under a 128 MiB leaf: %s\n", r == 0 ? out : err.text);
	free(out);
	bx_policy_free(p);
}

/* Without any cgroup: the default policy refuses memfd_create, untrusted kills it. */
static void test_memfd_refused_by_policies(void **state)
{
	struct result res;
	(void)state;

	expect_job(NULL, "memfd", NULL, NULL, "memfd=EPERM\nheld=0MiB\n");
	run_probe(&res, "untrusted.policy", "memfd");
	if (res.status != 128 + SIGSYS)
		fail_msg("untrusted: status %d (want %d, SIGSYS)\nstdout: %s\nstderr: %s",
			 res.status, 128 + SIGSYS, res.out, res.err);
}

int main(void)
{
	bx_spawn_init(install, NULL);

	/* The sealed program copy is made once; make it before fd counting starts. */
	bx_worker *warm = spawn_with(NULL);
	bx_worker_free(warm);

	const struct CMUnitTest tests[] = {
	    T(test_planted_symlink_to_oldroot),
	    T(test_planted_symlink_to_root),
	    T(test_planted_symlink_rw),
	    T(test_planted_symlink_destination),
	    T(test_author_symlinks_followed),
	    T(test_wx_tmp_default_policy),
	    T(test_wx_untrusted_policy),
	    T(test_wx_rw_binds),
	    T(test_bind_exec_option),
	    T(test_bind_under_tmp_visible),
	    T(test_bind_collision_refused),
	    T(test_dev_readonly_without_landlock),
	    T(test_cgroup_leaf),
	    T(test_cgroup_pids_bound),
	    T(test_cgroup_memory_bounds_memfd),
	    T(test_memfd_refused_by_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
