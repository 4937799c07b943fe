/* SPDX-License-Identifier: MIT */
/*
 * The confinement sequence. Order is part of the contract (SECURITY.md,
 * "Confinement order"); every step checks its result and a failure stops
 * here, before any handler code runs. No step is optional unless the policy
 * marks it so.
 */
#define _GNU_SOURCE
#include "confine/confine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "confine/notify.h"
#include "confine/seccomp.h"
#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	/* vDSO: no system call, so it is safe after the filter is loaded. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bx_report_step(struct bx_confine_report *rep, const char *name)
{
	size_t end = strnlen(rep->text, sizeof(rep->text));
	uint64_t now = monotonic_ns();

	if (rep->nsteps < BX_CONFINE_STEPS_MAX) {
		struct bx_confine_step *s = &rep->steps[rep->nsteps++];

		snprintf(s->name, sizeof(s->name), "%s", name);
		s->off = (uint16_t)rep->mark_off;
		s->len = (uint16_t)(end - rep->mark_off);
		s->usec = (now - rep->mark_ns) / 1000;
	}
	rep->mark_ns = now;
	rep->mark_off = end;
}

/* The step timings as one report line, so that they travel with the text (the worker's hello). */
static void report_timings(struct bx_confine_report *rep)
{
	char line[256] = "timings:";
	size_t used = strlen(line);

	for (size_t i = 0; i < rep->nsteps && used + 1 < sizeof(line); i++) {
		int n = snprintf(line + used, sizeof(line) - used, " %s %lluus", rep->steps[i].name,
				 (unsigned long long)rep->steps[i].usec);
		if (n < 0 || (size_t)n >= sizeof(line) - used)
			break;
		used += (size_t)n;
	}
	bx_report_add(rep, "%s", line);
}

/* Step 6: no new privileges, no core dumps or ptrace by same-uid peers, own session. */
static int step_privs(struct bx_confine_report *rep, bx_error *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET,
			       "no_new_privs: prctl(PR_SET_NO_NEW_PRIVS): %m");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET,
			       "no_new_privs: prctl(PR_SET_DUMPABLE, 0): %m");
	/* Already a session leader after the re-exec; pid 1 of a new namespace is not yet. */
	if (getsid(0) != getpid() && setsid() < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "no_new_privs: setsid: %m");
	bx_report_add(rep, "privs: no_new_privs, not dumpable, own session");
	return 0;
}

/*
 * Learning: loads bpf (learning mode's filters), the last with a listener,
 * which goes to the supervisor over learn_sock (closed here). From then on
 * every call but the deny list's, the runtime's own and the hand-over waits
 * for the supervisor, which lets it continue and records it.
 */
static int learn_handover(const struct bx_bpf *bpf, int learn_sock, bx_error *err)
{
	int listener, r;

	listener = bx_seccomp_load_listener(bpf);
	if (listener < 0) {
		close(learn_sock);
		return bx_fail(err, listener, BX_NO_OFFSET,
			       "seccomp (learn): seccomp(SET_MODE_FILTER, NEW_LISTENER): %s",
			       strerror(-listener));
	}
	r = bx_notify_send_fd(learn_sock, listener);
	close(listener);
	close(learn_sock);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp (learn): sending the listener: %s",
			       strerror(-r));
	return 0;
}

/*
 * The serving process's filters: learning mode's, the parent's (imported
 * from its sealed memfd, or a copy of the zygote's import), or compiled here from the policy, with
 * the runtime of a worker or, with exec_fd, of a process that executes it.
 */
static int serving_filters(const struct bx_policy *p, const struct bx_confine_opts *o,
			   struct bx_bpf *bpf, bx_error *err)
{
	bool channel = o->split && o->split->violation_sock[1] >= 0;
	struct bx_seccomp_extra extra = {
	    .exec_fd = o->exec_fd,
	    .note_fd = o->note_fd,
	    .violations = channel, /* hook (notify.c): refused calls named by init */
	    .violation_fd = channel ? bx_notify_channel_fd(o->exec_fd) : -1,
	};

	if (o->learn_sock >= 0)
		return bx_seccomp_compile_learning(p, o->learn_sock, &extra, bpf, err);
	if (o->bpf)
		return bx_bpf_copy(o->bpf, bpf) < 0
			   ? bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp: copying the filter")
			   : 0;
	if (o->bpf_fd >= 0)
		return bx_seccomp_import_fd(o->bpf_fd, bpf, err);
	return bx_seccomp_compile(p, &extra, bpf, err);
}

/*
 * Step 8: the syscall filter, loaded last so that every step above could
 * still run. With o->split it is only made here (the serving process's and
 * init's), and each process loads its own after the fork (bx_confine_load).
 */
static int step_seccomp(const struct bx_policy *p, const struct bx_confine_opts *o,
			struct bx_confine_report *rep, bx_error *err)
{
	struct bx_bpf bpf = {0};
	int r;

	r = serving_filters(p, o, &bpf, err);
	if (r < 0)
		return r;
	if (o->split) {
		struct bx_confine_filters *f = o->split;
		bool named = false;

		bx_bpf_free(&f->serving);
		f->serving = bpf;
		f->learn_sock = o->learn_sock;
		/*
		 * hook (notify.c): with a notifying filter, init holds its
		 * listener; without a channel the filter kills as it did. Learning
		 * mode's filter notifies the supervisor: its listener is that one.
		 */
		if (o->learn_sock < 0) {
			named = bx_bpf_notify_prog(&f->serving) >= 0 && f->violation_sock[0] >= 0;
			if (!named)
				bx_bpf_notify_to_kill(&f->serving);
		}
		if (!named) {
			bx_close_and_reset(&f->violation_sock[0]);
			bx_close_and_reset(&f->violation_sock[1]);
		}
		f->violation_close = o->exec_fd < 0;
		r = named ? bx_seccomp_compile_init_violations(o->note_fd, o->init_read_fd,
							       &f->init, err)
			  : bx_seccomp_compile_init(o->note_fd, o->init_read_fd, &f->init, err);
		if (r < 0)
			return r;
		if (o->learn_sock >= 0)
			bx_report_add(rep,
				      "seccomp: serving process: learning (every call reported "
				      "to the supervisor)");
		else
			bx_report_add(rep,
				      "seccomp: serving process: %zu filters, %zu instructions, "
				      "default action %#x%s",
				      f->serving.nprogs, bx_bpf_total_len(&f->serving),
				      p->default_action,
				      named ? " (a refused call is named: init holds the listener, "
					      "then kills)"
					    : "");
		bx_report_add(rep,
			      "seccomp: init: 1 filter, %zu instructions, its own calls only "
			      "(each process loads its own after the fork)",
			      bx_bpf_total_len(&f->init));
		return 0;
	}
	if (o->learn_sock >= 0) {
		r = learn_handover(&bpf, o->learn_sock, err);
		bx_bpf_free(&bpf);
		if (r < 0)
			return r;
		bx_report_add(rep, "seccomp: learning (every call reported to the supervisor)");
		return 0;
	}
	bx_bpf_notify_to_kill(&bpf); /* hook (notify.c): no init here to hold a listener */
	r = bx_seccomp_load(&bpf);
	if (r < 0) {
		bx_bpf_free(&bpf);
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp: seccomp(SET_MODE_FILTER, TSYNC): %s",
			       strerror(-r));
	}
	bx_report_add(rep, "seccomp: %zu filters, %zu instructions, default action %#x", bpf.nprogs,
		      bx_bpf_total_len(&bpf), p->default_action);
	bx_bpf_free(&bpf);
	return 0;
}

void bx_confine_filters_init(struct bx_confine_filters *f)
{
	memset(f, 0, sizeof(*f));
	f->learn_sock = -1;
	f->violation_sock[0] = f->violation_sock[1] = -1;
}

void bx_confine_filters_free(struct bx_confine_filters *f)
{
	bx_bpf_free(&f->serving);
	bx_bpf_free(&f->init);
	if (f->learn_sock >= 0)
		close(f->learn_sock);
	f->learn_sock = -1;
	bx_close_and_reset(&f->violation_sock[0]);
	bx_close_and_reset(&f->violation_sock[1]);
}

/*
 * hook (notify.c): the serving process loads its stack with the listener on
 * the notifying program and hands it to init; it must never keep it (a
 * thread could answer its own refused calls with "continue"). Without a
 * listener (an inherited filter has one) the stack is loaded as
 * kill-process. A hand-over that fails ends the process at once: it holds
 * a listener nobody else reads, and may not be able to close it.
 */
static int load_serving_named(struct bx_confine_filters *f, bx_error *err)
{
	int listener = bx_seccomp_load_notify(&f->serving);
	int sock = f->violation_sock[1];

	f->violation_sock[1] = -1;
	if (listener < 0 && listener != -EBUSY)
		return bx_fail(err, listener, BX_NO_OFFSET,
			       "seccomp: seccomp(SET_MODE_FILTER, NEW_LISTENER): %s",
			       strerror(-listener));
	if (listener >= 0 && bx_notify_send_fd(sock, listener) < 0)
		syscall(SYS_exit_group, 125);
	if (f->violation_close) {
		if (listener >= 0)
			close(listener);
		close(sock);
	}
	/* else a program's: both are close-on-exec, and its filter has no close */
	return 0;
}

int bx_confine_load(struct bx_confine_filters *f, enum bx_confine_who who, bx_error *err)
{
	int r;

	/*
	 * The other process's filter goes first, while free() may still call
	 * what it likes. This one's stays allocated for the process's life:
	 * after the load, freeing it could need a call the filter refuses
	 * (init's allows no munmap, no brk).
	 */
	if (who == BX_CONFINE_INIT) {
		bx_bpf_free(&f->serving);
		/* Learning is the serving process's: init keeps nothing of it. */
		if (f->learn_sock >= 0)
			close(f->learn_sock);
		f->learn_sock = -1;
		/* The violation channel: init took the listener from it already (violation.c). */
		bx_close_and_reset(&f->violation_sock[0]);
		bx_close_and_reset(&f->violation_sock[1]);
		r = bx_seccomp_load(&f->init);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET,
				       "seccomp (init): seccomp(SET_MODE_FILTER, TSYNC): %s",
				       strerror(-r));
		return 0;
	}
	bx_bpf_free(&f->init);
	bx_close_and_reset(&f->violation_sock[0]); /* init's end */
	if (f->learn_sock >= 0) {
		r = learn_handover(&f->serving, f->learn_sock, err);
		f->learn_sock = -1;
		return r;
	}
	if (f->violation_sock[1] >= 0 && bx_bpf_notify_prog(&f->serving) >= 0)
		return load_serving_named(f, err);
	bx_close_and_reset(&f->violation_sock[1]);
	bx_bpf_notify_to_kill(&f->serving);
	r = bx_seccomp_load(&f->serving);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp: seccomp(SET_MODE_FILTER, TSYNC): %s",
			       strerror(-r));
	return 0;
}

/*
 * The program's fd (exec_fd) is at a number the program must never obtain
 * for another file: with RLIMIT_NOFILE at most exec_fd, open() and dup()
 * never return it, dup2()/F_DUPFD refuse it, and the hard limit cannot be
 * raised without CAP_SYS_RESOURCE (issue #11, item 7).
 */
static int cap_nofile_below_exec_fd(const struct bx_confine_opts *o, struct bx_confine_report *rep,
				    bx_error *err)
{
	struct rlimit rl;

	if (o->exec_fd < 0)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "rlimits: getrlimit(nofile): %m");
	if (rl.rlim_max > (rlim_t)o->exec_fd || rl.rlim_cur > (rlim_t)o->exec_fd) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)o->exec_fd;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET,
				       "rlimits: setrlimit(nofile, %d): %m", o->exec_fd);
	}
	bx_report_add(rep, "exec: the program is fd %d, at the nofile limit", o->exec_fd);
	return 0;
}

int bx_exec_fd_number(const struct bx_policy *p)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	want = p->rlimits[RLIMIT_NOFILE].set ? p->rlimits[RLIMIT_NOFILE].value : rl.rlim_cur;
	/*
	 * It has to be placed below the hard limit, with room above it for the
	 * copies the clone3 child lifts there on its way (spawn/child.c), and
	 * fit an int.
	 */
	if (rl.rlim_max != RLIM_INFINITY && want + BX_EXEC_FD_HEADROOM >= rl.rlim_max)
		want = rl.rlim_max > BX_EXEC_FD_HEADROOM ? rl.rlim_max - BX_EXEC_FD_HEADROOM : 0;
	if (want > INT32_MAX)
		want = INT32_MAX;
	/* 0-4 are the program's stdio, its socket and init's notes. */
	if (want < 8)
		return -EINVAL;
	return (int)want;
}

int bx_confine_self(const struct bx_policy *p, const struct bx_confine_opts *o,
		    struct bx_confine_report *rep, bx_error *err)
{
	_cleanup_view_ struct bx_view view; /* what step 3 mounted, for step 7 */
	int r;

	bx_view_init(&view);
	memset(rep, 0, sizeof(*rep));
	/*
	 * Read while /proc is still the host's (the view replaces it). Only
	 * without a pid namespace of our own (pid 1's parent knows its pid; a
	 * /proc read is ~50 us of a spawn).
	 */
	rep->host_pid = (o->cloned_ns & BX_NS_PID) ? 0 : bx_host_pid_from_proc();
	rep->mark_ns = monotonic_ns();

	/* 1. fds: nothing the parent had open reaches handler code. */
	r = bx_step_fds(o, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "fds");
	/* 2a. identity: a root parent's worker becomes its own unprivileged uid/gid. */
	r = bx_step_identity(p, o, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "identity");
	/* 4a. cgroup leaf: needs the host's /sys/fs/cgroup, so before namespaces and mounts. */
	r = bx_step_cgroup(p, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "cgroup");
	/* 2b. namespaces: user and pid came with the clone; the others now. */
	r = bx_step_namespaces(p, o, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "namespaces");
	/* 3. filesystem view: a tmpfs root with only the binds, then pivot_root. */
	r = bx_step_fsview(p, rep, &view, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "fs");
	/* 3b. the working directory inside the view (beambox exec --chdir). */
	if (o->chdir && chdir(o->chdir) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "chdir(%.200s) inside the view: %m",
			       o->chdir);
	/*
	 * 4b'. violations (confine/notify.h): the socketpair the serving process
	 * hands its listener to init over, before the nofile limit is lowered
	 * (a program's end goes above its fd, out of its reach).
	 */
	if (o->split && o->learn_sock < 0 && p->default_action == SCMP_ACT_KILL_PROCESS &&
	    o->split->violation_sock[0] < 0) {
		r = bx_notify_channel(o, o->split->violation_sock, err);
		if (r < 0)
			return r;
	}
	/* 4b. rlimits (core dumps always off), nofile below the program's fd. */
	r = bx_step_rlimits(p, rep, err);
	if (r == 0)
		r = cap_nofile_below_exec_fd(o, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "rlimits");
	/* 5. capabilities: securebits locked, then every set emptied. */
	r = bx_step_caps(rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "caps");
	/* 6. no_new_privs, not dumpable, own session. */
	r = step_privs(rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "privs");
	/* 7. landlock: the filesystem again, as a second layer, plus scopes. */
	r = bx_step_landlock(p, o, &view, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "landlock");
	bx_view_release(&view); /* before the filter, which may not allow close */
	/* 8. seccomp, last. */
	r = step_seccomp(p, o, rep, err);
	if (r < 0)
		return r;
	bx_report_step(rep, "seccomp");
	report_timings(rep);
	return 0;
}
