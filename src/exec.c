/* SPDX-License-Identifier: MIT */
/* exec: the confinement sequence, then execveat() of a program opened beforehand. */
#define _GNU_SOURCE
#include <beambox/exec.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine/confine.h"
#include "exec_opts.h"
#include "policy/policy.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Stage markers in err->offset, so that bx_exec_status_for can tell them apart. */
enum { STAGE_FIND = 1, STAGE_CONFINE, STAGE_EXEC };

/* Opens prog, as execvp would find it. */
static int open_program(const char *prog, bx_error *err)
{
	const char *path;
	char buf[PATH_MAX];

	if (!*prog)
		return bx_fail(err, -ENOENT, STAGE_FIND, "empty program name");
	if (strchr(prog, '/')) {
		int fd = open(prog, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return bx_fail(err, -errno, STAGE_FIND, "%.200s: %m", prog);
		return fd;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		struct stat st;
		int fd;

		if ((size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) <
		    sizeof(buf)) {
			fd = open(buf, O_RDONLY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
			    (st.st_mode & 0111))
				return fd;
			if (fd >= 0)
				close(fd);
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return bx_fail(err, -ENOENT, STAGE_FIND, "%.200s: not found in PATH", prog);
}

/* NAME=value for each of the policy's env names present here, nothing else. */
static char **scrubbed_env(const struct bx_policy *p)
{
	char **env = calloc(p->nenv_keep + 1, sizeof(*env));
	size_t n = 0;

	if (!env)
		return NULL;
	for (size_t i = 0; i < p->nenv_keep; i++) {
		const char *v = getenv(p->env_keep[i]);

		if (v && asprintf(&env[n], "%s=%s", p->env_keep[i], v) >= 0)
			n++;
	}
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/*
 * In a new pid namespace this process is pid 1, which the kernel shields from
 * signals sent inside the namespace: `kill -9 $$` in a program running as pid
 * 1 does nothing. So pid 1 stays a small init (already confined: the filter
 * is loaded) that runs the program as pid 2, reaps every orphan, and exits
 * as the program did (128+N for signal N). Never returns.
 */
static __attribute__((noreturn)) void run_as_init(int fd, char *const argv[], char *const envp[],
						  const struct bx_exec_ext *x)
{
	pid_t prog = fork();
	int status;

	if (prog < 0) {
		dprintf(STDERR_FILENO, "beambox: exec: fork: %m\n");
		_exit(BX_EXEC_SETUP_FAILED);
	}
	if (prog == 0) {
		syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
		dprintf(STDERR_FILENO, "beambox: exec: execveat: %m\n");
		_exit(errno == ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN);
	}
	close(fd);
	for (;;) {
		pid_t r = waitpid(-1, &status, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(BX_EXEC_SETUP_FAILED);
		if (r != prog)
			continue;	       /* an orphan, reaped */
		bx_exec_ext_exited(x, status); /* hook (exec_opts.c): tell the supervisor */
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}

/* bx_exec_confined, with learn_sock >= 0 for bx_exec_learn, and x for bx_exec_run (exec_opts.h). */
int bx_exec_confined_ext(const struct bx_policy *policy, const char *prog, char *const argv[],
			 int learn_sock, const struct bx_exec_ext *x, bx_error *err)
{
	struct bx_policy *own = NULL;
	struct bx_confine_report rep;
	struct bx_confine_opts opts;
	_cleanup_fd_ int fd = -1;
	char **envp;
	int r;

	fd = open_program(prog, err);
	if (fd < 0)
		return fd;
	if (!policy) {
		r = bx_policy_default(&own);
		if (r < 0)
			return bx_fail(err, r, STAGE_CONFINE, "default policy: %s", strerror(-r));
		policy = own;
	}
	envp = scrubbed_env(policy);
	envp = bx_exec_ext_env(x, envp); /* hook (exec_opts.c): --setenv, --unsetenv */
	if (!envp) {
		bx_policy_free(own);
		return bx_fail(err, -ENOMEM, STAGE_CONFINE, "out of memory");
	}
	opts = (struct bx_confine_opts){
	    .keep_fds = {fd, x ? x->status_fd : -1}, /* hook (exec_opts.c): the status pipe */
	    .exec_fd = fd,
	    .bpf_fd = -1,
	    .learn_sock = learn_sock,
	    .monitor_exits_on_signal = true,
	    .chdir = x ? x->chdir : NULL, /* hook (exec_opts.c): --chdir */
	};
	r = bx_confine_self(policy, &opts, &rep, err);
	bx_policy_free(own);
	if (r < 0) {
		free_env(envp);
		if (err)
			err->offset = STAGE_CONFINE;
		return r;
	}
	bx_exec_ext_confined(x, &rep); /* hook (exec_opts.c): report to the supervisor */
	if (getpid() == 1)
		run_as_init(fd, argv, envp, x);
	/* The one execveat the filter allows: this fd, AT_EMPTY_PATH. */
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	r = -errno;
	free_env(envp);
	return bx_fail(err, r, STAGE_EXEC, "execveat(%.200s): %s", prog, strerror(-r));
}

int bx_exec_confined_learning(const struct bx_policy *policy, const char *prog, char *const argv[],
			      int learn_sock, bx_error *err)
{
	return bx_exec_confined_ext(policy, prog, argv, learn_sock, NULL, err);
}

BX_API int bx_exec_confined(const struct bx_policy *policy, const char *prog, char *const argv[],
			    bx_error *err)
{
	return bx_exec_confined_learning(policy, prog, argv, -1, err);
}

BX_API int bx_exec_status_for(int ret, const bx_error *err)
{
	if (err && err->offset == STAGE_FIND)
		return ret == -ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN;
	if (err && err->offset == STAGE_EXEC)
		return ret == -ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN;
	return BX_EXEC_SETUP_FAILED;
}
