/* SPDX-License-Identifier: MIT */
/*
 * exec: `beambox exec`. This process stays outside: it starts pid 1 of the
 * sandbox's user and pid namespaces (spawn/child.c, the same start as a
 * worker's), writes its uid/gid maps, and waits. pid 1 confines itself, then
 * forks the program (pid 2: execveat of the fd opened here, before any
 * view existed) and stays as its init, which reports the program's end.
 */
#define _GNU_SOURCE
#include <beambox/exec.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine/confine.h"
#include "policy/policy.h"
#include "spawn/child.h"
#include "spawn/dynuid.h"
#include "spawn/init.h"
#include "spawn/program.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Stage markers in err->offset, so that bx_exec_status_for can tell them apart. */
enum { STAGE_FIND = 1, STAGE_CONFINE, STAGE_EXEC };

int bx_open_program(const char *prog, bx_error *err)
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

/* Puts fd at number no, not close-on-exec (a script's interpreter opens /dev/fd/NO). */
static int place_program_fd(int fd, int no)
{
	struct rlimit old, raised;
	int r = 0;

	if (getrlimit(RLIMIT_NOFILE, &old) < 0)
		return -errno;
	raised = old;
	if (raised.rlim_cur <= (rlim_t)no) {
		raised.rlim_cur = (rlim_t)no + 1;
		if (setrlimit(RLIMIT_NOFILE, &raised) < 0)
			return -errno;
	}
	if (dup3(fd, no, 0) < 0)
		r = -errno;
	if (raised.rlim_cur != old.rlim_cur && setrlimit(RLIMIT_NOFILE, &old) < 0 && r == 0)
		r = -errno;
	return r;
}

struct sandbox {
	const struct bx_policy *policy;
	const char *prog;
	char *const *argv;
	char **envp;
	int prog_fd; /* as opened */
	int fd_no;   /* its number in the sandbox */
	int note_w;
	int learn_sock;
	uint32_t cloned;
	bool become;
	uid_t uid;
	gid_t gid;
};

/* In pid 1 (or the only process without a pid namespace): tells the waiter and exits. */
static __attribute__((noreturn)) void sandbox_fail(const struct sandbox *sb, int r, int stage,
						   const char *text)
{
	bx_ignore(bx_note_write(sb->note_w, BX_NOTE_ERROR, r, stage, text));
	_exit(stage == STAGE_EXEC ? (r == -ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN)
				  : BX_EXEC_SETUP_FAILED);
}

/* The sandbox's first process: confine, then run the program under init. Never returns. */
static __attribute__((noreturn)) void sandbox_main(struct sandbox *sb)
{
	struct bx_init_opts io = {
	    .note_fd = sb->note_w, .close_in_init = {-1, -1, -1, -1}, .exec_pipe = {-1, -1}};
	struct bx_confine_report rep;
	struct bx_confine_opts opts;
	bx_error err;
	int r;

	r = place_program_fd(sb->prog_fd, sb->fd_no);
	if (r < 0) {
		char text[128];

		snprintf(text, sizeof(text), "placing the program at fd %d: %s", sb->fd_no,
			 strerror(-r));
		sandbox_fail(sb, r, STAGE_CONFINE, text);
	}
	close(sb->prog_fd);
	if ((sb->cloned & BX_NS_PID) && pipe2(io.exec_pipe, O_CLOEXEC) < 0)
		sandbox_fail(sb, -errno, STAGE_CONFINE, "pipe2 failed");
	opts = (struct bx_confine_opts){
	    .keep_fds = {sb->note_w, io.exec_pipe[0], io.exec_pipe[1], -1, -1, -1},
	    .exec_fd = sb->fd_no,
	    .bpf_fd = -1,
	    .cloned_ns = sb->cloned,
	    .become = sb->become,
	    .uid = sb->uid,
	    .gid = sb->gid,
	    .learn_sock = sb->learn_sock,
	};
	bx_error_clear(&err);
	r = bx_confine_self(sb->policy, &opts, &rep, &err);
	if (r < 0)
		sandbox_fail(sb, r, STAGE_CONFINE, err.text);
	/*
	 * pid 1 stays a small init (a program running as pid 1 would ignore its
	 * own fatal signals: `kill -9 $$` would do nothing) and reports the
	 * program's end.
	 */
	if (sb->cloned & BX_NS_PID) {
		io.close_in_init[0] = sb->fd_no;
		io.namespaces = rep.namespaces;
		io.report = rep.text;
		bx_error_clear(&err);
		r = bx_init_fork(&io, &err);
		if (r < 0)
			sandbox_fail(sb, r, STAGE_CONFINE, err.text);
	}
	/* The one execveat the filter allows: this fd, AT_EMPTY_PATH. */
	syscall(SYS_execveat, sb->fd_no, "", sb->argv, sb->envp, AT_EMPTY_PATH);
	if (sb->cloned & BX_NS_PID)
		bx_init_exec_failed(&io, errno, sb->prog);
	{
		char text[BX_NOTE_TEXT_MAX];
		int e = errno;

		snprintf(text, sizeof(text), "execveat(%.200s): %s", sb->prog, strerror(e));
		sandbox_fail(sb, -e, STAGE_EXEC, text);
	}
}

/* The waiter: until pid 1 is gone, then the program's status (or the sandbox's error). */
static int wait_sandbox(const struct bx_child *child, int note_r, bx_error *err)
{
	struct bx_note note = {.type = 0};
	siginfo_t si;
	int status = -1, r;

	r = bx_child_reap(child->pidfd, &si);
	if (r < 0)
		return bx_fail(err, r, STAGE_CONFINE, "waiting for the sandbox: %s", strerror(-r));
	fcntl(note_r, F_SETFL, O_NONBLOCK);
	while (bx_note_read(note_r, &note) == 1) {
		if (note.type == BX_NOTE_ERROR) {
			char text[BX_NOTE_TEXT_MAX + 1];

			bx_printable(note.text, note.len, BX_NOTE_TEXT_MAX, 0, text, sizeof(text));
			return bx_fail(err, note.value < 0 ? note.value : -EIO,
				       note.stage ? (size_t)note.stage : STAGE_EXEC, "%s", text);
		}
		if (note.type == BX_NOTE_DIED)
			status = note.value;
	}
	if (status == -1) /* no note: pid 1 itself ended (killed, or no pid namespace) */
		return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * bx_exec_run, with learn_sock >= 0 for bx_exec_learn (see confine.h). In the
 * caller's process: returns the status, or -errno with err.
 */
static int exec_run(const struct bx_policy *policy, const char *prog, char *const argv[],
		    int learn_sock, bx_error *err)
{
	struct bx_policy *own = NULL;
	struct bx_dynuid lease = {.lock_fd = -1};
	struct bx_child_spec spec;
	struct bx_child child;
	struct sandbox sb;
	_cleanup_fd_ int fd = -1;
	int note[2] = {-1, -1};
	char **envp = NULL;
	bool root = geteuid() == 0;
	int r;

	fd = bx_open_program(prog, err);
	if (fd < 0)
		return fd;
	if (!policy) {
		r = bx_policy_default(&own);
		if (r < 0)
			return bx_fail(err, r, STAGE_CONFINE, "default policy: %s", strerror(-r));
		policy = own;
	}
	sb = (struct sandbox){.policy = policy,
			      .prog = prog,
			      .argv = argv,
			      .prog_fd = fd,
			      .learn_sock = learn_sock,
			      .become = root};
	sb.fd_no = bx_exec_fd_number(policy);
	if (sb.fd_no < 0) {
		r = bx_fail(err, sb.fd_no, STAGE_CONFINE,
			    "the policy's rlimit.nofile leaves no room for the program's fd");
		goto out;
	}
	if (root && policy->uid_dynamic) {
		r = bx_dynuid_acquire(&lease, err);
		if (r < 0)
			goto out;
		sb.uid = lease.uid;
		sb.gid = (gid_t)lease.uid;
	} else if (root) {
		sb.uid = policy->uid;
		sb.gid = policy->gid;
	} else {
		sb.uid = geteuid();
		sb.gid = getegid();
	}
	envp = scrubbed_env(policy);
	if (!envp || pipe2(note, O_CLOEXEC) < 0) {
		r = bx_fail(err, envp ? -errno : -ENOMEM, STAGE_CONFINE, "setting up: %m");
		goto out;
	}
	sb.envp = envp;
	sb.note_w = note[1];
	spec = (struct bx_child_spec){
	    .ns_flags = ((policy->namespaces & BX_NS_USER) ? (uint64_t)CLONE_NEWUSER : 0) |
			((policy->namespaces & BX_NS_PID) ? (uint64_t)CLONE_NEWPID : 0),
	    .ns_optional =
		((policy->namespaces_optional & BX_NS_USER) ? (uint64_t)CLONE_NEWUSER : 0) |
		((policy->namespaces_optional & BX_NS_PID) ? (uint64_t)CLONE_NEWPID : 0),
	    .uid = sb.uid,
	    .gid = sb.gid,
	    .as_root = root,
	    .exec_fd = -1,
	};
	/* Nothing buffered may be written twice (once by each process). */
	fflush(NULL);
	r = bx_child_start(&spec, &child, err);
	if (r < 0) {
		if (err)
			err->offset = STAGE_CONFINE;
		goto out;
	}
	if (r == 1) {
		close(note[0]);
		sb.cloned = ((child.ns & CLONE_NEWUSER) ? (uint32_t)BX_NS_USER : 0) |
			    ((child.ns & CLONE_NEWPID) ? (uint32_t)BX_NS_PID : 0);
		sandbox_main(&sb);
	}
	/* The waiter holds nothing of the sandbox's: its EOFs are the sandbox's to give. */
	bx_close_and_reset(&note[1]);
	bx_close_and_reset(&fd);
	if (learn_sock >= 0)
		close(learn_sock);
	r = wait_sandbox(&child, note[0], err);
	close(child.pidfd);
out:
	bx_close_and_reset(&note[0]);
	bx_close_and_reset(&note[1]);
	bx_dynuid_release(&lease);
	free_env(envp);
	bx_policy_free(own);
	return r;
}

/* bx_exec_confined, with learn_sock >= 0 for bx_exec_learn (see confine.h). */
int bx_exec_confined_learning(const struct bx_policy *policy, const char *prog, char *const argv[],
			      int learn_sock, bx_error *err)
{
	int r = exec_run(policy, prog, argv, learn_sock, err);

	if (r >= 0)
		exit(r);
	return r;
}

BX_API int bx_exec_confined(const struct bx_policy *policy, const char *prog, char *const argv[],
			    bx_error *err)
{
	return bx_exec_confined_learning(policy, prog, argv, -1, err);
}

BX_API int bx_exec_run(const struct bx_policy *policy, const char *prog, char *const argv[],
		       bx_error *err)
{
	return exec_run(policy, prog, argv, -1, err);
}

BX_API int bx_exec_status_for(int ret, const bx_error *err)
{
	if (err && err->offset == STAGE_FIND)
		return ret == -ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN;
	if (err && err->offset == STAGE_EXEC)
		return ret == -ENOENT ? BX_EXEC_NOT_FOUND : BX_EXEC_CANNOT_RUN;
	return BX_EXEC_SETUP_FAILED;
}
