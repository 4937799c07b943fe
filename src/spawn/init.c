/* SPDX-License-Identifier: MIT */
/* init: pid 1 of a worker's namespace, and the notes it sends (see init.h). */
#define _GNU_SOURCE
#include "spawn/init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>

#include "spawn/child.h"
#include "spawn/dynuid.h"
#include "spawn/violation.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct note_hdr {
	uint32_t type;
	int32_t value;
	int32_t stage;
	uint32_t len;
};

_Static_assert(sizeof(struct note_hdr) + BX_NOTE_TEXT_MAX <= PIPE_BUF,
	       "a note must be one atomic pipe write");
_Static_assert(sizeof(struct bx_confine_step) * BX_CONFINE_STEPS_MAX <= BX_NOTE_TEXT_MAX,
	       "every step fits a T note");

int bx_note_write_bytes(int fd, uint32_t type, int32_t value, int32_t stage, const void *p,
			size_t len)
{
	char buf[sizeof(struct note_hdr) + BX_NOTE_TEXT_MAX];
	struct note_hdr h = {.type = type, .value = value, .stage = stage, .len = (uint32_t)len};
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	if (len > BX_NOTE_TEXT_MAX)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), p, len);
	do
		n = write(fd, buf, sizeof(h) + len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + len ? 0 : -EIO;
}

int bx_note_write(int fd, uint32_t type, int32_t value, int32_t stage, const char *text)
{
	return bx_note_write_bytes(fd, type, value, stage, text,
				   text ? strnlen(text, BX_NOTE_TEXT_MAX) : 0);
}

int bx_note_report(int fd, const struct bx_confine_report *rep)
{
	size_t nsteps = rep->nsteps < BX_CONFINE_STEPS_MAX ? rep->nsteps : BX_CONFINE_STEPS_MAX;
	int r = bx_note_write(fd, BX_NOTE_REPORT, (int32_t)rep->namespaces, 0, rep->text);

	if (r == 0)
		r = bx_note_write_bytes(fd, BX_NOTE_STEPS, (int32_t)nsteps, 0, rep->steps,
					nsteps * sizeof(rep->steps[0]));
	return r;
}

int bx_note_steps(const struct bx_note *n, struct bx_confine_report *rep)
{
	size_t count;

	if (n->type != BX_NOTE_STEPS || n->len % sizeof(rep->steps[0]) != 0)
		return -EPROTO;
	count = n->len / sizeof(rep->steps[0]);
	if (count > BX_CONFINE_STEPS_MAX || n->value < 0 || (size_t)n->value != count)
		return -EPROTO;
	memcpy(rep->steps, n->text, n->len);
	rep->nsteps = count;
	for (size_t i = 0; i < count; i++) {
		struct bx_confine_step *s = &rep->steps[i];

		s->name[sizeof(s->name) - 1] = '\0';
		if (s->off >= sizeof(rep->text))
			s->off = 0, s->len = 0;
		if ((size_t)s->off + s->len > sizeof(rep->text))
			s->len = (uint16_t)(sizeof(rep->text) - s->off);
	}
	return 0;
}

int bx_note_read(int fd, struct bx_note *out)
{
	struct note_hdr h;
	ssize_t n;

	do
		n = read(fd, &h, sizeof(h));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(h) || h.len > BX_NOTE_TEXT_MAX)
		return -EPROTO;
	if (h.type != BX_NOTE_REPORT && h.type != BX_NOTE_STEPS && h.type != BX_NOTE_STARTED &&
	    h.type != BX_NOTE_DIED && h.type != BX_NOTE_ERROR && h.type != BX_NOTE_VIOLATION)
		return -EPROTO;
	/* The writer made the record with one write: its text is already in the pipe. */
	if (h.len) {
		do
			n = read(fd, out->text, h.len);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)h.len)
			return -EPROTO;
	}
	out->type = h.type;
	out->value = h.value;
	out->stage = h.stage;
	out->len = h.len;
	out->text[h.len] = '\0';
	return 1;
}

/* An E note with an error's text. */
static void note_error(int fd, int r, const char *text, size_t max)
{
	bx_ignore(bx_note_write_bytes(fd, BX_NOTE_ERROR, r, 0, text, strnlen(text, max)));
}

/* Init's loop: reap everything; when the serving process dies, say how and go. */
static __attribute__((noreturn)) void init_loop(const struct bx_init_opts *o, pid_t server)
{
	for (;;) {
		int status = 0;
		pid_t r = waitpid(-1, &status, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(125); /* no child at all: cannot happen while the server lives */
		if (r != server)
			continue; /* an orphan, reaped */
		bx_ignore(bx_note_write(o->note_fd, BX_NOTE_DIED, status, 0, NULL));
		/* Our exit ends the namespace: the kernel kills what the server left behind. */
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

int bx_init_fork(const struct bx_init_opts *o, bx_error *err)
{
	bx_error ierr;
	pid_t server;
	int named, r;

	if (!o->filters)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "init: no filters to load");
	if (o->report)
		bx_ignore(bx_note_report(o->note_fd, o->report));
	server = fork();
	if (server < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "init: fork: %m");
	if (server == 0) {
		/* The serving process: nothing of init's, then its own filter, last. */
		if (o->exec_pipe[0] >= 0)
			close(o->exec_pipe[0]);
		r = bx_confine_load(o->filters, BX_CONFINE_SERVING, err);
		if (r < 0 && err)
			note_error(o->note_fd, r, err->text, sizeof(err->text));
		return r;
	}
	for (size_t i = 0; i < sizeof(o->close_in_init) / sizeof(o->close_in_init[0]); i++)
		if (o->close_in_init[i] >= 0)
			close(o->close_in_init[i]);
	if (o->exec_pipe[1] >= 0)
		close(o->exec_pipe[1]);
	/* hook (violation.c): the serving process's listener, before init's own filter. */
	named = bx_violation_init_prepare(o->filters, o->note_fd, server);
	/*
	 * init's own filter, its last step: from here on it may only read the
	 * exec pipe, write notes, reap and exit. Without it, it must not run:
	 * its exit ends the namespace, the serving process with it.
	 */
	bx_error_clear(&ierr);
	r = bx_confine_load(o->filters, BX_CONFINE_INIT, &ierr);
	if (r < 0) {
		note_error(o->note_fd, r, ierr.text, sizeof(ierr.text));
		_exit(125);
	}
	if (o->exec_pipe[0] >= 0) {
		char byte;
		ssize_t n;

		/* EOF: the program is running (its copy was close-on-exec), or it is gone. */
		do
			n = read(o->exec_pipe[0], &byte, sizeof(byte));
		while (n > 0 || (n < 0 && errno == EINTR));
	}
	bx_ignore(bx_note_write(o->note_fd, BX_NOTE_STARTED, 0, 0, NULL));
	if (named)
		bx_violation_serve(); /* hook (violation.c): reads refused calls, reaps, exits */
	init_loop(o, server);
}

void bx_init_exec_failed(const struct bx_init_opts *o, int e, const char *what)
{
	char text[BX_NOTE_TEXT_MAX];

	snprintf(text, sizeof(text), "execveat(%.200s): %s", what, strerror(e));
	bx_ignore(bx_note_write(o->note_fd, BX_NOTE_ERROR, -e, 0, text));
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * The monitor's own confinement: no capabilities, and only the calls it
 * needs (unlinkat only in the dynamic-uid lock directory, dirfd, if >= 0).
 */
static void monitor_confine(int dirfd)
{
	static const int allowed[] = {
	    SCMP_SYS(read),
	    SCMP_SYS(waitid),
	    SCMP_SYS(wait4),
	    SCMP_SYS(poll),
	    SCMP_SYS(ppoll),
	    SCMP_SYS(exit_group),
	    SCMP_SYS(exit),
	    SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(rt_sigaction),
	    SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(kill),
	    SCMP_SYS(tgkill),
	    SCMP_SYS(getpid),
	    SCMP_SYS(gettid),
	    SCMP_SYS(restart_syscall),
	    SCMP_SYS(close),
	    /* sanitizer runtimes around wait and exit: harmless, and nothing else is open */
	    SCMP_SYS(sigaltstack),
	    SCMP_SYS(mmap),
	    SCMP_SYS(munmap),
	    SCMP_SYS(madvise),
	    SCMP_SYS(write),
	};
	scmp_filter_ctx ctx;

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_ALL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(125);
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		_exit(125);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0) < 0)
			_exit(125);
	if (dirfd >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 1,
					   SCMP_CMP64(0, SCMP_CMP_EQ, (scmp_datum_t)dirfd, 0)) < 0)
		_exit(125);
	if (seccomp_load(ctx) < 0)
		_exit(125);
	seccomp_release(ctx);
}

/* Ends this process the way status says (it is not pid 1: its own signals work). */
static __attribute__((noreturn)) void die_like(int status)
{
	if (WIFSIGNALED(status)) {
		struct sigaction dfl;
		sigset_t set;
		int sig = WTERMSIG(status);

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(sig, &dfl, NULL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		kill(getpid(), sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 125);
}

void bx_init_monitor(pid_t child, int pidfd, int note_r, const struct bx_dynuid *lease)
{
	int lock_fd = lease ? lease->lock_fd : -1;
	int dirfd = lock_fd >= 0
			? open(BX_DYNAMIC_UID_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			: -1;
	int keep[4] = {pidfd, note_r, lock_fd, dirfd};
	unsigned lo = 0;
	siginfo_t si;
	struct bx_note note = {.type = 0};
	char name[16] = "";
	int status = -1;

	(void)child;
	if (dirfd >= 0)
		snprintf(name, sizeof(name), "%u", (unsigned)lease->uid);
	/* Everything else (the beam socket above all) belongs to the child now. */
	for (size_t i = 1; i < 4; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < 4; i++) {
		if (keep[i] < 0)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
	fcntl(note_r, F_SETFL, O_NONBLOCK);
	monitor_confine(dirfd);
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0)
		if (errno != EINTR)
			_exit(125);
	/* Nothing runs as the worker's uid any more: release it (the lock goes at exit). */
	if (dirfd >= 0)
		unlinkat(dirfd, name, 0);
	/* init wrote its note before it exited: it is in the pipe. */
	while (bx_note_read(note_r, &note) == 1)
		if (note.type == BX_NOTE_DIED)
			status = note.value;
	if (status == -1)
		status =
		    si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status & 0x7f;
	die_like(status);
}
