/* SPDX-License-Identifier: MIT */
/*
 * exec: `beambox exec`. This process stays outside: it starts pid 1 of the
 * sandbox's user and pid namespaces (spawn/child.c, the same start as a
 * worker's), writes its uid/gid maps, and supervises. pid 1 confines itself,
 * then forks the program (pid 2: execveat of the fd opened here, before any
 * view existed) and stays as its init, which reports on its notes pipe how
 * the confinement went (report and step timings) and the program's raw wait
 * status. The waiter outside enforces the timeout and the cancel fd (killing
 * pid 1 through its pidfd ends the namespace) and fills a bx_exec_result.
 */
#define _GNU_SOURCE
#include <beambox/exec.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine/confine.h"
#include "audit.h"
#include "exec_opts.h"
#include "policy/policy.h"
#include "spawn/child.h"
#include "spawn/dynuid.h"
#include "spawn/init.h"
#include "spawn/program.h"
#include "spawn/violation.h"
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
	const struct bx_exec_ext *x; /* chdir, verbose (may be NULL) */
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
	struct bx_confine_filters filters;
	bx_error err;
	int r;

	bx_confine_filters_init(&filters);
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
	    .note_fd = sb->note_w,
	    .init_read_fd = io.exec_pipe[0],
	    /* With a pid namespace, init and the program each load their own filter. */
	    .split = (sb->cloned & BX_NS_PID) ? &filters : NULL,
	    .bpf_fd = -1,
	    .cloned_ns = sb->cloned,
	    .become = sb->become,
	    .uid = sb->uid,
	    .gid = sb->gid,
	    /* The waiter outside holds the notes' read end. */
	    .parent_fd = sb->note_w,
	    .learn_sock = sb->learn_sock,
	    .chdir = sb->x ? sb->x->chdir : NULL, /* --chdir */
	};
	bx_error_clear(&err);
	r = bx_confine_self(sb->policy, &opts, &rep, &err);
	if (r < 0)
		sandbox_fail(sb, r, STAGE_CONFINE, err.text);
	bx_exec_ext_confined(sb->x, &rep); /* hook (exec_opts.c): --verbose */
	/*
	 * pid 1 stays a small init (a program running as pid 1 would ignore its
	 * own fatal signals: `kill -9 $$` would do nothing) and reports the
	 * program's end. Without a pid namespace this process is the program:
	 * the report goes now (the notes pipe closes at the exec).
	 */
	if (sb->cloned & BX_NS_PID) {
		io.close_in_init[0] = sb->fd_no;
		io.report = &rep;
		io.filters = &filters;
		bx_error_clear(&err);
		r = bx_init_fork(&io, &err);
		if (r < 0)
			sandbox_fail(sb, r, STAGE_CONFINE, err.text);
	} else {
		bx_ignore(bx_note_report(sb->note_w, &rep));
	}
	/*
	 * The one execveat the filter allows: this fd, AT_EMPTY_PATH. The
	 * program keeps this process's filter: the policy's, that exec, and the
	 * note of its failure; nothing of init's.
	 */
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

/* ---------------------------------------------------------------- the waiter */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* What the sandbox's notes said (its init's, or its only process's before the exec). */
struct waiter {
	int note_r;
	bool got_report, got_died, got_error;
	int wstatus;   /* D: the program's raw wait status */
	int err_value; /* E: -errno */
	int err_stage;
	char err_text[BX_NOTE_TEXT_MAX + 1];
	struct bx_confine_report rep; /* R and T */
	struct bx_violation viol;     /* V: the refused call (violation.c) */
	char label[80];		      /* the policy, for its text */
	bool audited;		      /* worker_spawned is in the audit log (audit.h) */
};

/*
 * The audit log (x->audit_fd, else the process-wide one): worker_spawned once
 * the report is in (the sandbox is confined; w is the record's key until
 * worker_exited), the rest when it is over.
 */
static void audit_spawned(struct waiter *w, const struct bx_child *child,
			  const struct bx_exec_ext *x, const struct bx_policy *policy,
			  uint64_t start)
{
	if (w->audited || !w->got_report)
		return;
	w->audited = true;
	bx_audit_spawned(x ? x->audit_fd : -1, w, NULL, child->pid, 0, policy->name, w->rep.text,
			 start);
}

static void audit_over(struct waiter *w, const bx_exec_result *res, bool reaped)
{
	uint64_t args[6];

	if (!w->audited)
		return;
	if (!reaped) {
		bx_audit_exited(w, 0, 0, 0);
		return;
	}
	if (res->violation[0]) {
		for (int i = 0; i < 6; i++)
			args[i] = res->syscall_args[i];
		bx_audit_worker_violation(w, res->syscall[0] ? res->syscall : NULL, res->syscall_nr,
					  args, res->call, res->violation);
	}
	if (res->signal)
		bx_audit_exited(w, 1, CLD_KILLED, res->signal);
	else
		bx_audit_exited(w, 1, CLD_EXITED, res->exit_code < 0 ? 0 : res->exit_code);
}

/* Reads every note there is. Returns 1 at EOF or on a malformed note (stop reading), else 0. */
static int read_notes(struct waiter *w)
{
	struct bx_note note = {.type = 0};
	int r;

	while ((r = bx_note_read(w->note_r, &note)) == 1) {
		switch (note.type) {
		case BX_NOTE_REPORT:
			w->got_report = true;
			w->rep.namespaces = (uint32_t)note.value;
			memcpy(w->rep.text, note.text, note.len);
			w->rep.text[note.len < sizeof(w->rep.text) ? note.len
								   : sizeof(w->rep.text) - 1] =
			    '\0';
			break;
		case BX_NOTE_STEPS:
			if (bx_note_steps(&note, &w->rep) < 0)
				return 1;
			break;
		case BX_NOTE_DIED:
			w->got_died = true;
			w->wstatus = note.value;
			break;
		case BX_NOTE_VIOLATION: /* hook (violation.c) */
			bx_ignore(bx_violation_take(&w->viol, &note, w->label));
			break;
		case BX_NOTE_ERROR:
			if (w->got_error)
				break; /* the first one says why */
			w->got_error = true;
			w->err_value = note.value < 0 ? note.value : -EIO;
			w->err_stage = note.stage;
			bx_printable(note.text, note.len, BX_NOTE_TEXT_MAX, 0, w->err_text,
				     sizeof(w->err_text));
			break;
		default:
			break;
		}
	}
	return r == -EAGAIN ? 0 : 1;
}

/*
 * The program and everything it started: with a pid namespace, pid 1 (its
 * death ends the namespace); without, the program leads its own session and
 * process group (bx_child_start's setsid). Not reaped yet, so neither its
 * pid nor its group can name anything else.
 */
static void kill_sandbox(const struct bx_child *c)
{
	if (!(c->ns & CLONE_NEWPID))
		kill(-c->pid, SIGKILL);
	syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
}

static void set_wstatus(bx_exec_result *res, int wstatus)
{
	res->exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	res->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
}

/*
 * Until pid 1 is gone (enforcing x's timeout and cancel fd meanwhile), then
 * the program's status in res, or -errno with err if the sandbox could not
 * run it.
 */
/* hook (violation.c): what init said about the refused call that stopped the program. */
static void take_violation(const struct waiter *w, bx_exec_result *res)
{
	const struct bx_violation *v = &w->viol;

	if (!v->known || res->signal != SIGSYS)
		return;
	if (!v->withdrawn && v->arch_ok) {
		snprintf(res->syscall, sizeof(res->syscall), "%s", v->name);
		snprintf(res->call, sizeof(res->call), "%s", v->call);
		res->syscall_nr = v->nr;
		for (int i = 0; i < 6; i++)
			res->syscall_args[i] = v->args[i];
	}
	snprintf(res->violation, sizeof(res->violation), "%s", v->text);
}

static int wait_sandbox(const struct bx_child *child, int note_r, const struct bx_exec_ext *x,
			const struct bx_policy *policy, uint64_t start, bx_exec_result *res,
			bx_error *err)
{
	struct waiter *w = calloc(1, sizeof(*w));
	uint64_t deadline = x && x->timeout_ms ? start + (uint64_t)x->timeout_ms * 1000u : 0;
	int cancel_fd = x ? x->cancel_fd : -1;
	bool notes_open = true, timed_out = false;
	int cancel_sig = 0, r;
	siginfo_t si;

	if (!w) {
		kill_sandbox(child);
		bx_ignore(bx_child_reap(child->pidfd, NULL));
		return bx_fail(err, -ENOMEM, STAGE_CONFINE, "out of memory");
	}
	w->note_r = note_r;
	bx_violation_label(policy, w->label, sizeof(w->label));
	fcntl(note_r, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = child->pidfd, .events = POLLIN},
		    {.fd = notes_open ? note_r : -1, .events = POLLIN},
		    {.fd = cancel_sig ? -1 : cancel_fd, .events = POLLIN},
		};
		int wait_ms = -1, n;

		if (deadline && !timed_out) {
			uint64_t now = now_us();

			wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
		}
		n = poll(pfd, 3, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* Cannot wait: stop everything rather than leave it unsupervised. */
			kill_sandbox(child);
			break;
		}
		if (n == 0 && deadline && !timed_out) {
			timed_out = true;
			kill_sandbox(child);
			continue;
		}
		if (pfd[1].revents) {
			notes_open = !read_notes(w);
			audit_spawned(w, child, x, policy, start);
		}
		if (pfd[2].revents && !cancel_sig) {
			unsigned char b = 0;

			cancel_sig = read(cancel_fd, &b, 1) == 1 && b > 0 && b < 65 ? b : SIGTERM;
			kill_sandbox(child);
		}
		if (pfd[0].revents)
			break;
	}
	r = bx_child_reap(child->pidfd, &si);
	if (r < 0) {
		audit_over(w, res, false);
		free(w);
		return bx_fail(err, r, STAGE_CONFINE, "waiting for the sandbox: %s", strerror(-r));
	}
	/* pid 1 wrote its last note before it exited: it is in the pipe. */
	if (notes_open)
		bx_ignore(read_notes(w));
	audit_spawned(w, child, x, policy, start);
	res->duration_us = now_us() - start;
	if (w->got_report) {
		w->rep.host_pid = child->pid;
		bx_exec_result_take_report(res, &w->rep);
	}
	if (w->got_died)
		set_wstatus(res, w->wstatus);
	else if (si.si_code == CLD_EXITED) /* no note: pid 1 itself ended (or no pid namespace) */
		res->exit_code = si.si_status, res->signal = 0;
	else
		res->exit_code = -1, res->signal = si.si_status;
	if (timed_out || cancel_sig) {
		res->timed_out = timed_out;
		res->status = timed_out ? BX_EXEC_TIMED_OUT : 128 + cancel_sig;
		if (!w->got_died) /* what ended it was our SIGKILL */
			res->exit_code = -1, res->signal = SIGKILL;
		r = res->status;
	} else if (w->got_error) {
		res->exit_code = -1; /* the program never ran */
		res->signal = 0;
		r = bx_fail(err, w->err_value, w->err_stage ? (size_t)w->err_stage : STAGE_EXEC,
			    "%s", w->err_text);
	} else {
		res->status = res->signal ? 128 + res->signal : res->exit_code;
		take_violation(w, res);
		r = res->status;
	}
	audit_over(w, res, true);
	free(w);
	return r;
}

int bx_exec_supervised(const struct bx_policy *policy, const char *prog, char *const argv[],
		       int learn_sock, const struct bx_exec_ext *x, bx_exec_result *res,
		       bx_error *err)
{
	struct bx_policy *own = NULL;
	struct bx_dynuid lease = {.lock_fd = -1};
	struct bx_child_spec spec;
	struct bx_child child;
	struct sandbox sb;
	bx_exec_result local;
	_cleanup_fd_ int fd = -1;
	int note[2] = {-1, -1};
	char **envp = NULL;
	bool root = geteuid() == 0;
	uint64_t start = now_us();
	int r;

	if (!res) {
		memset(&local, 0, sizeof(local));
		local.exit_code = -1;
		local.syscall_nr = -1;
		res = &local;
	}
	fd = bx_open_program(prog, err);
	if (fd < 0) {
		r = fd;
		goto out;
	}
	if (!policy) {
		r = bx_policy_default(&own);
		if (r < 0) {
			r = bx_fail(err, r, STAGE_CONFINE, "default policy: %s", strerror(-r));
			goto out;
		}
		policy = own;
	}
	sb = (struct sandbox){.policy = policy,
			      .x = x,
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
		if (r < 0) {
			if (err)
				err->offset = STAGE_CONFINE;
			goto out;
		}
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
	envp = bx_exec_ext_env(x, envp); /* hook (exec_opts.c): --setenv, --unsetenv */
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
	learn_sock = -1;
	r = wait_sandbox(&child, note[0], x, policy, start, res, err);
	close(child.pidfd);
out:
	if (learn_sock >= 0)
		close(learn_sock);
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
	int r = bx_exec_supervised(policy, prog, argv, learn_sock, NULL, NULL, err);

	if (r >= 0)
		exit(r);
	return r;
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
