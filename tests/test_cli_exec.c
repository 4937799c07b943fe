/* SPDX-License-Identifier: MIT */
/*
 * `beambox exec` end to end: runs the real CLI binary, which confines itself
 * as a worker would and executes the program. Checks exit statuses, output,
 * the scrubbed environment, stdin passing and real denials.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "spawn/dynuid.h"

extern char **environ;

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

/* Runs the CLI with args, stdin from `input`, and extra_fd (if >= 0) as its fd 5. */
static void run_cli_fd(struct result *res, const char *input, const char *const *args,
		       int extra_fd);

/* Runs the CLI with args (NULL-terminated), stdin from `input` (may be NULL). */
static void run_cli(struct result *res, const char *input, const char *const *args)
{
	run_cli_fd(res, input, args, -1);
}

static void run_cli_fd(struct result *res, const char *input, const char *const *args, int extra_fd)
{
	const char *argv[32] = {BX_CLI_PATH};
	int out[2], err[2], in[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, n = 1;

	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (extra_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, extra_fd, 5);
	assert_int_equal(posix_spawn(&pid, BX_CLI_PATH, &fa, NULL, (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	close(in[0]);
	if (input)
		assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	read_all(out[0], res->out, sizeof(res->out));
	read_all(err[0], res->err, sizeof(res->err));
	close(out[0]);
	close(err[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct exec_case {
	const char *args[10];
	const char *input;
	int status;
	const char *out;	  /* exact stdout, or NULL */
	const char *err_contains; /* substring of stderr, or NULL */
};

static void test_exec_table(void **state)
{
	static const struct exec_case cases[] = {
	    {{"exec", "--", "/bin/echo", "hello", "confined"}, NULL, 0, "hello confined\n", NULL},
	    /* PATH search, and stdin passed through */
	    {{"exec", "--", "cat"}, "through stdin\n", 0, "through stdin\n", NULL},
	    /* the program's own status; pid 1 is a small init, so the program is pid 2 */
	    {{"exec", "--", "/bin/sh", "-c", "echo $$; exit 7"}, NULL, 7, "2\n", NULL},
	    /* killed by a signal: 128+N */
	    {{"exec", "--", "/bin/sh", "-c", "kill -9 $$"}, NULL, 137, "", NULL},
	    /* host files are not in the view */
	    {{"exec", "--", "/bin/cat", "/etc/passwd"}, NULL, 1, "", "No such file or directory"},
	    /* the environment is scrubbed to PATH */
	    {{"exec", "--", "/usr/bin/env"}, NULL, 0, NULL, NULL},
	    /* namespaces cannot be made inside */
	    {{"exec", "--", "/usr/bin/unshare", "-U", "true"},
	     NULL,
	     1,
	     "",
	     "Operation not permitted"},
	    /* a syscall outside the default filter kills: SIGSYS = 31 */
	    {{"exec", "--", "/usr/bin/id"}, NULL, 159, "", NULL},
	    {{"exec", "--", "/nonexistent/prog"}, NULL, 127, "", "No such file"},
	    {{"exec", "--", "no-such-program-anywhere"}, NULL, 127, "", "not found in PATH"},
	    /* ...and the message says which shipped policy runs everyday tools */
	    {{"exec", "--", "/usr/bin/id"}, NULL, 159, "", "--policy tools"},
	    /* --policy tools: everyday tools */
	    /* (its uid: test_exec_tools_uid) */
	    {{"exec", "--policy", "tools", "--", "/usr/bin/id", "-u"}, NULL, 0, NULL, NULL},
	    {{"exec", "--policy", "tools", "--", "/bin/ls", "-l", "/usr"}, NULL, 0, NULL, NULL},
	    {{"exec", "--policy", "tools", "--", "/usr/bin/python3", "-c", "print(6*7)"},
	     NULL,
	     0,
	     "42\n",
	     NULL},
	    {{"exec", "--policy=tools", "--", "/bin/sh", "-c", "echo a b c | wc -w | tr -d ' '"},
	     NULL,
	     0,
	     "3\n",
	     NULL},
	    {{"exec", "--policy", "nope", "--", "/bin/true"}, NULL, 125, "", "no shipped policy"},
	    {{"exec", "--policy", "./nope.policy", "--", "/bin/true"},
	     NULL,
	     125,
	     "",
	     "nope.policy"},
	    /* environment changes */
	    {{"exec", "--setenv", "FOO", "a b", "--unsetenv", "PATH", "--", "/usr/bin/env"},
	     NULL,
	     0,
	     "FOO=a b\n",
	     NULL},
	    {{"exec", "--setenv", "PATH", "/x", "--", "/usr/bin/env"}, NULL, 0, "PATH=/x\n", NULL},
	    /* --chdir */
	    {{"exec", "--chdir", "/usr/share", "--", "/bin/sh", "-c", "pwd"},
	     NULL,
	     0,
	     "/usr/share\n",
	     NULL},
	    {{"exec", "--chdir", "/nonexistent", "--", "/bin/true"},
	     NULL,
	     125,
	     "",
	     "chdir(/nonexistent) inside the view: No such file"},
	    /* binds that cannot be */
	    {{"exec", "--bind-try", "/nonexistent", "/x", "--", "/bin/true"}, NULL, 0, "", NULL},
	    {{"exec", "--bind", "/nonexistent", "/x", "--", "/bin/true"},
	     NULL,
	     125,
	     "",
	     "bind source '/nonexistent'"},
	    {{"exec", "--ro-bind", "/usr", "/proc/x", "--", "/bin/true"}, NULL, 125, "", "/proc"},
	    {{"exec", "--ro-bind", "/usr", "/a/../b", "--", "/bin/true"},
	     NULL,
	     125,
	     "",
	     "normalised"},
	    /* help and version */
	    {{"exec", "--help"}, NULL, 0, NULL, NULL},
	    {{"-V"}, NULL, 0, "beambox " BX_TEST_VERSION "\n", NULL},
	    /* usage errors */
	    {{"exec"}, NULL, 2, "", "missing PROG"},
	    {{"exec", "--timeout", "0", "/bin/true"}, NULL, 2, "", "--timeout"},
	    {{"exec", "--frobnicate", "x"}, NULL, 2, "", "unknown option '--frobnicate'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result res;

		run_cli(&res, cases[i].input, cases[i].args);
		if (res.status != cases[i].status ||
		    (cases[i].out && strcmp(res.out, cases[i].out) != 0) ||
		    (cases[i].err_contains && !strstr(res.err, cases[i].err_contains)))
			fail_msg("case %zu (%s %s): status %d (want %d)\nstdout: %s\nstderr: %s", i,
				 cases[i].args[2] ? cases[i].args[2] : "",
				 cases[i].args[3] ? cases[i].args[3] : "", res.status,
				 cases[i].status, res.out, res.err);
	}
}

/*
 * tools.policy says `uid = dynamic`, as every shipped policy: a root caller's
 * program runs as a host uid of its own from beambox's range (no daemon
 * shares it), anyone else's as the caller's own uid.
 */
static void test_exec_tools_uid(void **state)
{
	static const char *const args[] = {"exec",	  "--policy", "tools", "--",
					   "/usr/bin/id", "-u",	      NULL};
	struct result res;
	unsigned long uid;

	(void)state;
	run_cli(&res, NULL, args);
	if (res.status != 0)
		fail_msg("id -u under tools: status %d, stderr %s", res.status, res.err);
	uid = strtoul(res.out, NULL, 10);
	if (geteuid() == 0) {
		uid_t min = 0, max = 0;
		bx_error err;

		assert_int_equal(bx_dynuid_range(&min, &max, &err), 0);
		if (uid < min || uid > max)
			fail_msg("id -u under tools as root: %lu, want one in %u-%u", uid,
				 (unsigned)min, (unsigned)max);
	} else {
		assert_int_equal(uid, geteuid());
	}
}

static void test_exec_env_scrubbed(void **state)
{
	static const char *const args[] = {"exec", "--", "/usr/bin/env", NULL};
	struct result res;
	(void)state;

	setenv("BX_TEST_SECRET", "hunter2", 1);
	run_cli(&res, NULL, args);
	unsetenv("BX_TEST_SECRET");
	assert_int_equal(res.status, 0);
	assert_int_equal(strncmp(res.out, "PATH=", 5), 0);
	/* Exactly one line: PATH=... */
	assert_non_null(strchr(res.out, '\n'));
	assert_string_equal(strchr(res.out, '\n'), "\n");
	assert_null(strstr(res.out, "BX_TEST_SECRET"));
}

/* A world-readable scratch directory (the suite also runs as nobody, the worker as 65534). */
static void scratch_dir(char *dir, size_t len, const char *sub)
{
	char path[512];
	int fd;

	snprintf(dir, len, "/tmp/bx-cli-exec.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(chmod(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/%s/in.txt", dir, sub);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from the host\n", 14), 14);
	close(fd);
}

static void remove_scratch(const char *dir, const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/in.txt", dir, sub);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s/out.txt", dir, sub);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	rmdir(path);
	rmdir(dir);
}

/* Binds whose paths have spaces: read-only refuses writes, read-write reaches the host. */
static void test_exec_binds(void **state)
{
	char dir[64], src[128], path[256], buf[64];
	struct result res;
	ssize_t n;
	int fd;
	(void)state;

	scratch_dir(dir, sizeof(dir), "a dir");
	snprintf(src, sizeof(src), "%s/a dir", dir);
	{
		const char *args[] = {"exec",
				      "--policy",
				      "tools",
				      "--ro-bind",
				      src,
				      "/in side",
				      "--chdir",
				      "/in side",
				      "--",
				      "/bin/sh",
				      "-c",
				      "cat in.txt; "
				      "echo x > out.txt",
				      NULL};
		run_cli(&res, NULL, args);
		assert_int_equal(res.status, 2); /* sh: cannot create out.txt */
		assert_string_equal(res.out, "from the host\n");
		assert_non_null(strstr(res.err, "Read-only file system"));
	}
	{
		const char *args[] = {"exec", "--bind",	 src,  "/in side",
				      "--",   "/bin/sh", "-c", "echo written > '/in side/out.txt'",
				      NULL};
		run_cli(&res, NULL, args);
		assert_int_equal(res.status, 0);
		snprintf(path, sizeof(path), "%s/out.txt", src);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_string_equal(buf, "written\n");
	}
	{
		/* A relative source is taken from the current directory. */
		char cwd[512];
		const char *args[] = {"exec", "--ro-bind-try", "a dir",	    "/t",
				      "--",   "/bin/cat",      "/t/in.txt", NULL};
		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir(dir), 0);
		run_cli(&res, NULL, args);
		assert_int_equal(chdir(cwd), 0);
		assert_int_equal(res.status, 0);
		assert_string_equal(res.out, "from the host\n");
	}
	remove_scratch(dir, "a dir");
}

/* The JSON status, parsed back with json-c and checked field by field. */
static json_object *json_status_of(const char *const *args, struct result *res)
{
	char path[] = "/tmp/bx-json-status.XXXXXX";
	const char *full[16];
	char text[16384];
	json_tokener *tok;
	json_object *o;
	ssize_t n;
	int fd = mkstemp(path), i = 0;

	assert_true(fd >= 0);
	full[i++] = "exec";
	full[i++] = "--json-status";
	full[i++] = path;
	for (int k = 0; args[k] && i < 15; k++)
		full[i++] = args[k];
	full[i] = NULL;
	run_cli(res, NULL, full);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_int_equal(text[n - 1], '\n'); /* one line */
	assert_ptr_equal(strchr(text, '\n'), text + n - 1);
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)n - 1);
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	json_tokener_free(tok);
	assert_non_null(o);
	return o;
}

static json_object *field(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no field '%s' in %s", key, json_object_to_json_string(o));
	return v;
}

static void test_exec_json_status(void **state)
{
	static const char *const names[] = {"fds",	"identity", "cgroup", "namespaces",
					    "fs",	"rlimits",  "caps",   "privs",
					    "landlock", "seccomp"};
	struct result res;
	json_object *o, *steps, *ns;
	(void)state;

	{
		const char *args[] = {"--", "/bin/sh", "-c", "exit 7", NULL};
		o = json_status_of(args, &res);
	}
	assert_int_equal(res.status, 7);
	assert_true(json_object_get_int(field(o, "pid")) > 0);
	assert_string_equal(json_object_get_string(field(o, "policy")), "default");
	ns = field(o, "namespaces");
	assert_true(json_object_is_type(ns, json_type_array));
	bool has_pid = false;
	for (size_t i = 0; i < json_object_array_length(ns); i++)
		has_pid |=
		    strcmp(json_object_get_string(json_object_array_get_idx(ns, i)), "pid") == 0;
	assert_true(has_pid);
	steps = field(o, "steps");
	assert_int_equal(json_object_array_length(steps), 10);
	for (size_t i = 0; i < 10; i++) {
		json_object *st = json_object_array_get_idx(steps, i);

		assert_string_equal(json_object_get_string(field(st, "name")), names[i]);
		assert_true(json_object_is_type(field(st, "usec"), json_type_int));
		assert_true(json_object_get_string_len(field(st, "result")) > 0);
	}
	assert_non_null(
	    strstr(json_object_get_string(field(json_object_array_get_idx(steps, 9), "result")),
		   "seccomp:"));
	assert_int_equal(json_object_get_int(field(o, "status")), 7);
	assert_int_equal(json_object_get_int(field(o, "exit_code")), 7);
	assert_null(field(o, "signal"));
	assert_null(field(o, "signal_name"));
	assert_false(json_object_get_boolean(field(o, "timed_out")));
	assert_true(json_object_get_int64(field(o, "duration_us")) > 0);
	assert_null(field(o, "syscall"));
	assert_null(field(o, "error"));
	json_object_put(o);

	/* killed by a signal */
	{
		const char *args[] = {"--", "/bin/sh", "-c", "kill -9 $$", NULL};
		o = json_status_of(args, &res);
	}
	assert_int_equal(res.status, 137);
	assert_int_equal(json_object_get_int(field(o, "status")), 137);
	assert_null(field(o, "exit_code"));
	assert_int_equal(json_object_get_int(field(o, "signal")), 9);
	assert_string_equal(json_object_get_string(field(o, "signal_name")), "SIGKILL");
	json_object_put(o);

	/* killed by the filter */
	{
		const char *args[] = {"--", "/usr/bin/id", NULL};
		o = json_status_of(args, &res);
	}
	assert_int_equal(json_object_get_int(field(o, "status")), 159);
	assert_int_equal(json_object_get_int(field(o, "signal")), 31);
	assert_string_equal(json_object_get_string(field(o, "signal_name")), "SIGSYS");
	json_object_put(o);

	/* setup failure: the reason, no program status */
	{
		const char *args[] = {"--chdir", "/nonexistent", "--", "/bin/true", NULL};
		o = json_status_of(args, &res);
	}
	assert_int_equal(json_object_get_int(field(o, "status")), 125);
	assert_null(field(o, "exit_code"));
	assert_non_null(strstr(json_object_get_string(field(o, "error")), "chdir(/nonexistent)"));
	json_object_put(o);

	/* a policy that does not exist: nothing ran */
	{
		const char *args[] = {"--policy", "nope", "--", "/bin/true", NULL};
		o = json_status_of(args, &res);
	}
	assert_int_equal(json_object_get_int(field(o, "status")), 125);
	assert_int_equal(json_object_get_int(field(o, "pid")), 0);
	assert_non_null(strstr(json_object_get_string(field(o, "error")), "no shipped policy"));
	json_object_put(o);
}

static void test_exec_json_status_fd(void **state)
{
	const char *args[] = {"exec", "--json-status-fd", "5", "--", "/bin/true", NULL};
	struct result res;
	char text[8192];
	int p[2];
	ssize_t n;
	json_object *o;
	(void)state;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	run_cli_fd(&res, NULL, args, p[1]);
	close(p[1]);
	n = read(p[0], text, sizeof(text) - 1);
	close(p[0]);
	assert_int_equal(res.status, 0);
	assert_true(n > 0);
	text[n] = '\0';
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_int_equal(json_object_get_int(field(o, "status")), 0);
	assert_int_equal(json_object_get_int(field(o, "exit_code")), 0);
	json_object_put(o);

	/* An fd that is not open is refused before anything runs. */
	const char *bad[] = {"exec", "--json-status-fd", "77", "--", "/bin/true", NULL};
	run_cli(&res, NULL, bad);
	assert_int_equal(res.status, 125);
	assert_non_null(strstr(res.err, "--json-status-fd 77"));
}

/* Is any process running with this exact argument? (The marker of a test's sleeper.) */
static bool process_with_arg(const char *marker)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char path[64], buf[4096];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.32s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
			buf[n] = '\0';
			if (strcmp(buf + i, marker) == 0)
				found = true;
		}
	}
	closedir(d);
	return found;
}

static double elapsed_s(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* --timeout: 124, quickly, and the program's own children are gone too. */
static void test_exec_timeout(void **state)
{
	const char *args[] = {
	    "--policy", "tools",   "--timeout", "0.5",
	    "--",	"/bin/sh", "-c",	"sleep 31.4159 & sleep 31.4159; echo not killed",
	    NULL};
	struct timespec start;
	struct result res;
	json_object *o;
	(void)state;

	clock_gettime(CLOCK_MONOTONIC, &start);
	o = json_status_of(args, &res);
	assert_int_equal(res.status, 124);
	assert_true(elapsed_s(&start) < 10.0);
	assert_string_equal(res.out, "");
	assert_non_null(strstr(res.err, "timed out after 500 ms"));
	assert_true(json_object_get_boolean(field(o, "timed_out")));
	assert_int_equal(json_object_get_int(field(o, "status")), 124);
	json_object_put(o);
	/* Both sleepers were in the pid namespace, which died with its init. */
	for (int i = 0; i < 100 && process_with_arg("31.4159"); i++)
		usleep(20000);
	assert_false(process_with_arg("31.4159"));

	/* A program that ends in time is not affected. */
	const char *quick[] = {"exec", "--timeout", "30", "--", "/bin/sh", "-c", "exit 3", NULL};
	run_cli(&res, NULL, quick);
	assert_int_equal(res.status, 3);
}

/* Without a pid namespace, --timeout kills the program's session (it leads its own). */
static void test_exec_timeout_no_pidns(void **state)
{
	char path[] = "/tmp/bx-nopid.XXXXXX.policy";
	static const char text[] = "[policy]\n"
				   "name = nopid\n"
				   "uid = 65534\n"
				   "gid = 65534\n"
				   "namespaces = user mount net ipc uts\n"
				   "@include " BX_TEST_POLICIES_DIR "/common/system-ro.policy\n"
				   "tmp-size = 1M\n"
				   "[syscalls]\n"
				   "@basic-io\n@io-event\n@file-read\n@memory\n@process\n"
				   "@exec\n@signal\n@identity\n@time\n@random\n";
	const char *args[] = {"exec",	   "--policy", path,
			      "--timeout", "0.5",      "--",
			      "/bin/sh",   "-c",       "sleep 27.1828 & sleep 27.1828",
			      NULL};
	struct result res;
	int fd = mkstemps(path, 7);
	(void)state;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	run_cli(&res, NULL, args);
	unlink(path);
	if (res.status == 125)
		fail_msg("%s", res.err);
	assert_int_equal(res.status, 124);
	for (int i = 0; i < 100 && process_with_arg("27.1828"); i++)
		usleep(20000);
	assert_false(process_with_arg("27.1828"));
}

static void test_exec_verbose(void **state)
{
	const char *args[] = {"exec", "-v", "--", "/bin/echo", "after", NULL};
	struct result res;
	(void)state;

	run_cli(&res, NULL, args);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.out, "after\n");
	/* One line per step, with its duration, before the program runs. */
	assert_non_null(strstr(res.err, "beambox: exec: fds "));
	assert_non_null(strstr(res.err, "beambox: exec: namespaces "));
	assert_non_null(strstr(res.err, " us  namespaces: user"));
	assert_non_null(strstr(res.err, "beambox: exec: seccomp "));
}

/*
 * Runs `beambox exec [relay] --policy tools -- /bin/sh -c SCRIPT` with a
 * terminal (a pty's slave side) as its stdin, stdout and stderr; the output
 * read back from the master goes to out. Returns the exit status.
 */
static int run_on_pty(const char *relay, const char *script, struct winsize *after, char *out,
		      size_t len)
{
	const char *argv[] = {BX_CLI_PATH,
			      "exec",
			      "--policy",
			      "tools",
			      relay ? relay : "--",
			      relay ? "--" : "/bin/sh",
			      relay ? "/bin/sh" : "-c",
			      relay ? "-c" : script,
			      relay ? script : NULL,
			      NULL};
	const struct winsize ws = {.ws_row = 24, .ws_col = 80};
	posix_spawn_file_actions_t fa;
	int master, slave, status;
	size_t got = 0;
	pid_t pid;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(slave >= 0);
	assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
	posix_spawn_file_actions_init(&fa);
	for (int fd = 0; fd < 3; fd++)
		posix_spawn_file_actions_adddup2(&fa, slave, fd);
	assert_int_equal(posix_spawn(&pid, BX_CLI_PATH, &fa, NULL, (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(slave);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Everything written is in the master's buffer by now (a few hundred bytes). */
	assert_int_equal(fcntl(master, F_SETFL, O_NONBLOCK), 0);
	for (ssize_t n; got + 1 < len && (n = read(master, out + got, len - 1 - got)) > 0;)
		got += (size_t)n;
	out[got] = '\0';
	assert_int_equal(ioctl(master, TIOCGWINSZ, after), 0);
	close(master);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * --relay-tty: the program gets pipes where beambox had terminals, so it can
 * neither resize nor reconfigure the user's terminal; its output still
 * arrives. Without it (the default, like bwrap) the same script does resize
 * it: the attack is real.
 */
static void test_exec_relay_tty(void **state)
{
	static const char script[] = "[ -t 0 ] && echo in-tty || echo in-pipe; "
				     "[ -t 1 ] && echo out-tty || echo out-pipe; "
				     "stty cols 5 2>/dev/null; echo stty=$?";
	char out[4096];
	struct winsize ws;
	(void)state;

	assert_int_equal(run_on_pty("--relay-tty", script, &ws, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "in-pipe"));
	assert_non_null(strstr(out, "out-pipe"));
	assert_non_null(strstr(out, "stty=1"));
	assert_int_equal(ws.ws_col, 80);

	assert_int_equal(run_on_pty(NULL, script, &ws, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "in-tty"));
	assert_non_null(strstr(out, "stty=0"));
	assert_int_equal(ws.ws_col, 5);
}

/* beambox demo --audit-log-fd: the CLI flag turns the library's log on; records parse back. */
static void test_demo_audit_log(void **state)
{
	const char *args[] = {"demo", "--audit-log-fd", "5", NULL};
	static char text[65536];
	struct result res;
	size_t got = 0, records = 0, jobs = 0, violations = 0;
	int p[2];
	ssize_t n;
	(void)state;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	run_cli_fd(&res, NULL, args, p[1]);
	close(p[1]);
	while ((n = read(p[0], text + got, sizeof(text) - 1 - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	text[got] = '\0';
	assert_int_equal(res.status, 0);
	for (char *line = text, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		json_object *o;
		const char *ev;

		*end = '\0';
		o = json_tokener_parse(line);
		if (!o)
			fail_msg("not JSON: %s", line);
		ev = json_object_get_string(field(o, "event"));
		if (records == 0)
			assert_string_equal(ev, "worker_spawned");
		if (strcmp(ev, "job_ended") == 0)
			jobs++;
		if (strcmp(ev, "violation") == 0)
			violations++;
		records++;
		if (*(end + 1) == '\0')
			assert_string_equal(ev, "worker_exited");
		json_object_put(o);
	}
	assert_int_equal(jobs, 4); /* whoami, upper, open, commands */
	/*
	 * A sanitizer's runtime in the worker makes a call at its exit that the
	 * policy refuses (a death by SIGSYS it always had): now it is named too.
	 */
	if (!BX_TEST_ASAN)
		assert_int_equal(violations, 0);
	assert_true(violations <= 1);
	assert_int_equal(records - violations, 10);
}

/* The audit records of one `beambox exec --audit-log-fd 5 ARGS...`, parsed with json-c. */
static size_t exec_audit(const char *const *args, struct result *res, json_object **recs,
			 size_t max)
{
	static char text[65536];
	const char *full[16];
	size_t got = 0, n = 0;
	int p[2], i = 0;
	ssize_t r;

	full[i++] = "exec";
	full[i++] = "--audit-log-fd";
	full[i++] = "5";
	for (int k = 0; args[k] && i < 15; k++)
		full[i++] = args[k];
	full[i] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	run_cli_fd(res, NULL, full, p[1]);
	close(p[1]);
	while ((r = read(p[0], text + got, sizeof(text) - 1 - got)) > 0)
		got += (size_t)r;
	close(p[0]);
	text[got] = '\0';
	for (char *line = text, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		json_tokener *tok = json_tokener_new();

		*end = '\0';
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		assert_true(n < max);
		recs[n] = json_tokener_parse_ex(tok, line, (int)(end - line));
		if (json_tokener_get_error(tok) != json_tokener_success || !recs[n])
			fail_msg("not JSON: %s", line);
		json_tokener_free(tok);
		n++;
	}
	return n;
}

static const char *event_of(json_object *o)
{
	return json_object_get_string(field(o, "event"));
}

/*
 * beambox exec --audit-log: worker_spawned (pid 1's pid, the policy, each
 * step's time), a violation naming the refused call, worker_exited with the
 * program's status; spawn_failed when nothing ran. Field by field.
 */
static void test_exec_audit_log(void **state)
{
	static const char *const names[] = {"fds",	"identity", "cgroup", "namespaces",
					    "fs",	"rlimits",  "caps",   "privs",
					    "landlock", "seccomp"};
	json_object *recs[8], *steps;
	struct result res;
	size_t n;
	(void)state;

	{
		const char *args[] = {"--", "/bin/sh", "-c", "exit 3", NULL};
		n = exec_audit(args, &res, recs, 8);
	}
	assert_int_equal(res.status, 3);
	assert_int_equal(n, 2);
	assert_string_equal(event_of(recs[0]), "worker_spawned");
	assert_true(json_object_get_int(field(recs[0], "worker_pid")) > 0);
	assert_string_equal(json_object_get_string(field(recs[0], "policy")), "default");
	assert_true(json_object_get_int64(field(recs[0], "spawn_us")) > 0);
	steps = field(recs[0], "steps");
	assert_int_equal(json_object_array_length(steps), 10);
	for (size_t i = 0; i < 10; i++)
		assert_string_equal(
		    json_object_get_string(field(json_object_array_get_idx(steps, i), "name")),
		    names[i]);
	assert_true(json_object_array_length(field(recs[0], "report")) > 0);
	assert_string_equal(event_of(recs[1]), "worker_exited");
	assert_int_equal(json_object_get_int(field(recs[1], "worker_pid")),
			 json_object_get_int(field(recs[0], "worker_pid")));
	assert_string_equal(json_object_get_string(field(recs[1], "cause")),
			    "exited with status 3");
	assert_int_equal(json_object_get_int(field(recs[1], "exit_status")), 3);
	assert_null(field(recs[1], "signal"));
	for (size_t i = 0; i < n; i++)
		json_object_put(recs[i]);

	/* Stopped by the filter: the call is named between the two. */
	{
		const char *args[] = {"--", "/usr/bin/id", NULL};
		n = exec_audit(args, &res, recs, 8);
	}
	assert_int_equal(res.status, 128 + SIGSYS);
	assert_int_equal(n, 3);
	assert_string_equal(event_of(recs[0]), "worker_spawned");
	assert_string_equal(event_of(recs[1]), "violation");
	assert_string_equal(json_object_get_string(field(recs[1], "policy")), "default");
	assert_true(json_object_get_string_len(field(recs[1], "syscall")) > 0);
	assert_true(json_object_get_int(field(recs[1], "nr")) >= 0);
	assert_int_equal(json_object_array_length(field(recs[1], "args")), 6);
	assert_non_null(
	    strstr(json_object_get_string(field(recs[1], "message")), "is not allowed by default"));
	assert_string_equal(event_of(recs[2]), "worker_exited");
	assert_int_equal(json_object_get_int(field(recs[2], "signal")), SIGSYS);
	assert_string_equal(json_object_get_string(field(recs[2], "signal_name")), "SIGSYS");
	for (size_t i = 0; i < n; i++)
		json_object_put(recs[i]);

	/* Nothing ran: one spawn_failed, with the reason. */
	{
		const char *args[] = {"--", "/nonexistent/prog", NULL};
		n = exec_audit(args, &res, recs, 8);
	}
	assert_int_equal(res.status, 127);
	assert_int_equal(n, 1);
	assert_string_equal(event_of(recs[0]), "spawn_failed");
	assert_non_null(
	    strstr(json_object_get_string(field(recs[0], "error")), "/nonexistent/prog"));
	json_object_put(recs[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_exec_table),	bx_fd_test(test_exec_tools_uid),
	    bx_fd_test(test_exec_env_scrubbed), bx_fd_test(test_exec_binds),
	    bx_fd_test(test_exec_json_status),	bx_fd_test(test_exec_json_status_fd),
	    bx_fd_test(test_exec_timeout),	bx_fd_test(test_exec_timeout_no_pidns),
	    bx_fd_test(test_exec_verbose),	bx_fd_test(test_exec_relay_tty),
	    bx_fd_test(test_demo_audit_log),	bx_fd_test(test_exec_audit_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
