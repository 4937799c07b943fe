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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/seccomp.h"
#include "confine/steps.h"
#include "util/error.h"

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

/* Sends fd over sock with SCM_RIGHTS. */
static int send_fd(int sock, int fd)
{
	char byte = 'L';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/*
 * Step 8 when learning: every syscall goes to the supervisor (which lets it
 * continue and records it), except the deny list's, which are refused as
 * always, the runtime's own, and the hand-over of the listener itself.
 */
static int step_seccomp_learn(const struct bx_policy *p, const struct bx_confine_opts *o,
			      struct bx_confine_report *rep, bx_error *err)
{
	struct bx_seccomp_extra extra = {.exec_fd = o->exec_fd};
	struct bx_bpf bpf = {0};
	int listener, r;

	r = bx_seccomp_compile_learning(p, o->learn_sock, &extra, &bpf, err);
	if (r < 0)
		return r;
	listener = bx_seccomp_load_listener(&bpf);
	bx_bpf_free(&bpf);
	if (listener < 0)
		return bx_fail(err, listener, BX_NO_OFFSET,
			       "seccomp (learn): seccomp(SET_MODE_FILTER, NEW_LISTENER): %s",
			       strerror(-listener));
	r = send_fd(o->learn_sock, listener);
	/* From here on every call but those on learn_sock waits for the supervisor. */
	close(listener);
	close(o->learn_sock);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp (learn): sending the listener: %s",
			       strerror(-r));
	bx_report_add(rep, "seccomp: learning (every call reported to the supervisor)");
	return 0;
}

/* Step 8: the syscall filter, loaded last so that every step above could still run. */
static int step_seccomp(const struct bx_policy *p, const struct bx_confine_opts *o,
			struct bx_confine_report *rep, bx_error *err)
{
	struct bx_seccomp_extra extra = {.exec_fd = o->exec_fd};
	struct bx_bpf bpf = {0};
	int r;

	if (o->learn_sock >= 0)
		return step_seccomp_learn(p, o, rep, err);
	if (o->bpf_fd >= 0)
		r = bx_seccomp_import_fd(o->bpf_fd, &bpf, err);
	else
		r = bx_seccomp_compile(p, &extra, &bpf, err);
	if (r < 0)
		return r;
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

int bx_confine_self(const struct bx_policy *p, const struct bx_confine_opts *o,
		    struct bx_confine_report *rep, bx_error *err)
{
	int r;

	memset(rep, 0, sizeof(*rep));
	rep->host_pid = getpid();

	/* 1. fds: nothing the parent had open reaches handler code. */
	r = bx_step_fds(o, err);
	if (r < 0)
		return r;
	/* 2a. identity: a root parent's worker becomes the policy's unprivileged uid/gid. */
	r = bx_step_identity(p, o, rep, err);
	if (r < 0)
		return r;
	/* 4a. cgroup leaf: needs the host's /sys/fs/cgroup, so before namespaces and mounts. */
	r = bx_step_cgroup(p, rep, err);
	if (r < 0)
		return r;
	/* 2b. namespaces: user first (it owns the others); pid forks a monitor. */
	r = bx_step_namespaces(p, o, rep, err);
	if (r < 0)
		return r;
	/* 3. filesystem view: a tmpfs root with only the binds, then pivot_root. */
	r = bx_step_fsview(p, rep, err);
	if (r < 0)
		return r;
	/* 4b. rlimits (core dumps always off). */
	r = bx_step_rlimits(p, rep, err);
	if (r < 0)
		return r;
	/* 5. capabilities: securebits locked, then every set emptied. */
	r = bx_step_caps(rep, err);
	if (r < 0)
		return r;
	/* 6. no_new_privs, not dumpable, own session. */
	r = step_privs(rep, err);
	if (r < 0)
		return r;
	/* 7. landlock: the filesystem again, as a second layer, plus scopes. */
	r = bx_step_landlock(p, o, rep, err);
	if (r < 0)
		return r;
	/* 8. seccomp, last. */
	return step_seccomp(p, o, rep, err);
}
