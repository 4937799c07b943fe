/* SPDX-License-Identifier: MIT */
/* violation: init reads the serving process's refused calls; the parent names them (violation.h).
 */
#define _GNU_SOURCE
#include "spawn/violation.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "confine/notify.h"
#include "util/cleanup.h"
#include "util/error.h"

_Static_assert(sizeof(struct bx_violation_note) <= BX_NOTE_TEXT_MAX, "a V note is one note");

/* ================================================================ the parent's side */

void bx_violation_label(const struct bx_policy *p, char *buf, size_t len)
{
	const char *file = p && p->nfiles > 0 && p->files[0] ? p->files[0] : NULL;

	if (file) {
		const char *base = strrchr(file, '/');

		snprintf(buf, len, "%.63s", base ? base + 1 : file);
	} else {
		snprintf(buf, len, "policy '%.63s'", p && p->name[0] ? p->name : "default");
	}
}

int bx_violation_take(struct bx_violation *v, const struct bx_note *n, const char *label)
{
	struct bx_violation_note vn;

	if (n->type != BX_NOTE_VIOLATION || n->len != sizeof(vn))
		return -EPROTO;
	memcpy(&vn, n->text, sizeof(vn));
	if (vn.version != BX_VIOLATION_NOTE_VERSION ||
	    (vn.flags & ~(BX_VIOLATION_WITHDRAWN | BX_VIOLATION_PENDING)) != 0 || vn.reserved != 0)
		return -EPROTO;
	if (!(vn.flags & BX_VIOLATION_WITHDRAWN) && (vn.nr < -1 || vn.nr > 4095))
		return -EPROTO;
	if (v->known)
		return 0;
	memset(v, 0, sizeof(*v));
	v->known = true;
	v->pid = vn.pid;
	if (vn.flags & BX_VIOLATION_WITHDRAWN) {
		v->withdrawn = true;
		v->nr = -1;
		snprintf(v->text, sizeof(v->text),
			 "a system call that %.64s does not allow (withdrawn by a signal before it "
			 "could be read)",
			 label && *label ? label : "the policy");
		return 1;
	}
	v->nr = vn.nr;
	v->arch_ok = vn.arch == seccomp_arch_native();
	memcpy(v->args, vn.args, sizeof(v->args));
	if (v->arch_ok)
		bx_explain_call(v->nr, v->args, v->call, sizeof(v->call), v->name, sizeof(v->name));
	bx_explain_violation(label && *label ? label : NULL, v->nr, v->arch_ok, v->args, v->text,
			     sizeof(v->text));
	return 1;
}

/* ================================================================ init's side */

/*
 * init's state, shared with its SIGCHLD handler (one thread: the handler
 * interrupts the main flow, never runs beside it).
 */
static struct {
	volatile sig_atomic_t started;	   /* the S note is out: the serving process's end may go */
	volatile sig_atomic_t killed;	   /* init killed the namespace for a refused call */
	volatile sig_atomic_t finishing;   /* finish() runs */
	volatile sig_atomic_t server_done; /* the serving process is reaped */
	int server_status;
	pid_t server;
	int note_fd;
	int listener;
} v = {.listener = -1, .note_fd = -1};

/*
 * SIGKILL to every other process of the namespace. A raw call, as exit_group
 * below: a sanitizer's wrappers make calls of their own (getpid) that init's
 * filter refuses, and init's death would close the listener, letting a
 * waiting refused call return ENOSYS until the namespace ends.
 */
static void kill_all(void)
{
	syscall(SYS_kill, -1, SIGKILL);
}

/* The D note, everything else in the namespace killed, exit: as init_loop, but see the kill. */
static __attribute__((noreturn)) void finish(int status)
{
	v.finishing = 1;
	/*
	 * The serving process died of init's SIGKILL for a refused call: that
	 * is the filter's kill, reported as before (killed by SIGSYS, 159 for
	 * `beambox exec`); the V note before it says which call.
	 */
	if (v.killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		status = SIGSYS;
	bx_ignore(bx_note_write(v.note_fd, BX_NOTE_DIED, status, 0, NULL));
	/*
	 * Whatever the serving process left (its children share its filter)
	 * dies before the listener closes with this process: a refused call
	 * waiting on it would otherwise return ENOSYS for the moment before
	 * the kernel ends the namespace.
	 */
	kill_all();
	syscall(SYS_exit_group, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	__builtin_unreachable();
}

static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	for (;;) {
		int st = 0;
		pid_t r = waitpid(-1, &st, WNOHANG);

		if (r <= 0)
			break;
		if (r == v.server && !v.server_done) {
			v.server_status = st;
			v.server_done = 1;
		}
	}
	if (v.server_done && v.started && !v.finishing)
		finish(v.server_status);
	errno = saved;
}

int bx_violation_init_prepare(struct bx_confine_filters *f, int note_fd, pid_t server)
{
	struct sigaction sa;
	sigset_t chld;
	int listener;

	bx_close_and_reset(&f->violation_sock[1]); /* the serving process's end */
	if (f->violation_sock[0] < 0)
		return 0;
	/* The serving process sends it right after its filter, before anything of its own runs. */
	listener = bx_notify_recv_fd(f->violation_sock[0]);
	bx_close_and_reset(&f->violation_sock[0]);
	if (listener < 0)
		return 0; /* EOF: it has none (or failed, and says so in an E note) */
	v.server = server;
	v.note_fd = note_fd;
	v.listener = listener;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	/*
	 * A serving process that ended before the handler was there sent its
	 * SIGCHLD to the default disposition (discarded): reap it now, so that
	 * init never blocks in the ioctl for a process that is gone (kernels
	 * before 6.11 do not wake it when the filter loses its last user).
	 */
	on_sigchld(SIGCHLD);
	return 1;
}

/* Whether every process of the listener's filter has exited (the listener hangs up). */
static bool filter_gone(void)
{
	struct pollfd p = {.fd = v.listener, .events = POLLIN};

	/* A raw call: the filter allows poll(fds, 1, 0) and a sanitizer would wrap poll(). */
	return syscall(SYS_poll, &p, 1, 0) == 1 && (p.revents & POLLHUP);
}

/* After a kill, or when the listener fails: wait for the serving process's end (blocking). */
static __attribute__((noreturn)) void wait_end(void)
{
	for (;;) {
		int st = 0;
		pid_t r = waitpid(-1, &st, 0);

		if (r == v.server)
			finish(st);
		if (r < 0 && errno == ECHILD)
			finish(v.server_done ? v.server_status : W_EXITCODE(125, 0));
	}
}

void bx_violation_serve(void)
{
	v.started = 1;
	if (v.server_done && !v.finishing)
		finish(v.server_status);
	for (;;) {
		struct seccomp_notif n;
		struct bx_violation_note vn;
		int r;

		/*
		 * Blocking: every refused call raises the listener's count, so each
		 * one wakes this, even one a signal withdrew before it was read
		 * (ENOENT); a poll() would miss those.
		 */
		memset(&n, 0, sizeof(n));
		r = ioctl(v.listener, SECCOMP_IOCTL_NOTIF_RECV, &n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != ENOENT) {
			/* Cannot read refused calls any more: nothing may run unsupervised. */
			kill_all();
			wait_end();
		}
		/*
		 * ENOENT is also what the kernel (6.11 and later) answers once no
		 * process uses the filter any more (the listener then polls as
		 * hung up): the serving process and all it started have ended,
		 * by themselves; its SIGCHLD says how.
		 */
		if (r < 0 && filter_gone())
			wait_end();
		memset(&vn, 0, sizeof(vn));
		vn.version = BX_VIOLATION_NOTE_VERSION;
		if (r < 0) {
			vn.flags = BX_VIOLATION_WITHDRAWN;
			vn.nr = -1;
		} else {
			vn.nr = n.data.nr;
			vn.arch = n.data.arch;
			vn.pid = n.pid;
			memcpy(vn.args, n.data.args, sizeof(vn.args));
			vn.ip = n.data.instruction_pointer;
			if (ioctl(v.listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == 0)
				vn.flags |= BX_VIOLATION_PENDING;
		}
		bx_ignore(
		    bx_note_write_bytes(v.note_fd, BX_NOTE_VIOLATION, vn.nr, 0, &vn, sizeof(vn)));
		/* One note, one kill: the other refused calls die with their process. */
		v.killed = 1;
		kill_all();
		wait_end();
	}
}
