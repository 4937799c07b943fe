/* SPDX-License-Identifier: MIT */
/*
 * Steps 1 and 2: fds, identity, namespaces. The user and pid namespaces come
 * from the clone that started this process (spawn/child.c); this file makes
 * the others and switches a root parent's worker to its host uid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/*
 * Step 1: close every fd but 0-2 and the kept ones. close_range fails
 * closed (an error stops the step), and this process has one thread: no fd
 * can appear behind it. The parent checks what is open from outside.
 */
int bx_step_fds(const struct bx_confine_opts *o, bx_error *err)
{
	int keep[sizeof(o->keep_fds) / sizeof(o->keep_fds[0]) + 3];
	size_t n = 0;
	unsigned lo = 3;

	for (size_t i = 0; i < sizeof(o->keep_fds) / sizeof(o->keep_fds[0]); i++)
		keep[n++] = o->keep_fds[i];
	keep[n++] = o->bpf_fd;
	keep[n++] = o->learn_sock;
	keep[n++] = o->exec_fd;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		unsigned fd;

		if (keep[i] < 3)
			continue;
		fd = (unsigned)keep[i];
		if (fd > lo && syscall(SYS_close_range, lo, fd - 1, 0) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fds: close_range(%u, %u): %m",
				       lo, fd - 1);
		if (fd + 1 > lo)
			lo = fd + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fds: close_range(%u, ~0): %m", lo);
	return 0;
}

/* Whether the other end of fd (a socket, or a pipe's write end) is still open. */
static bool peer_alive(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	int n;

	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n == 1 && !(p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)));
}

/*
 * Step 2a: a root parent's worker, still host uid 0 (not mapped inside its
 * root-owned user namespace, so no other host process has a capability over
 * it), becomes the uid/gid the parent chose: the policy's, or a dynamic one.
 * The change clears "dumpable", and nothing sets it back: a host process of
 * that uid then needs CAP_SYS_PTRACE in the worker's namespace (mm->user_ns)
 * to read or trace it, which only root has (SECURITY.md, threat model).
 */
int bx_step_identity(const struct bx_policy *p, const struct bx_confine_opts *o,
		     struct bx_confine_report *rep, bx_error *err)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	(void)p;
	if (!o->become) {
		bx_report_add(rep, "identity: uid %u gid %u (the parent's, unprivileged)",
			      (unsigned)getuid(), (unsigned)getgid());
		return 0;
	}
	if (o->uid == 0 || o->gid == 0)
		return bx_fail(
		    err, -EPERM, BX_NO_OFFSET,
		    "identity: asked for uid/gid 0; a worker never runs as root on the host");
	/* bx_child_start dropped them already; once more where no clone did. */
	if (setgroups(0, NULL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setgroups(0): %m");
	if (setresgid(o->gid, o->gid, o->gid) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setresgid(%u): %m",
			       (unsigned)o->gid);
	if (setresuid(o->uid, o->uid, o->uid) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setresuid(%u): %m",
			       (unsigned)o->uid);
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != o->uid || euid != o->uid || suid != o->uid || rgid != o->gid ||
	    egid != o->gid || sgid != o->gid || getgroups(0, NULL) != 0)
		return bx_fail(err, -EPERM, BX_NO_OFFSET, "identity: uid/gid did not change");
	/*
	 * The kernel clears the parent-death signal on any change of uid or
	 * gid (commit_creds): without it again, this process (pid 1, whose end
	 * ends the whole namespace) would outlive a parent killed with -9. Arm
	 * it, then look through the parent's fd: a death before the arming
	 * sent no signal, but closed that fd's other end.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: prctl(PR_SET_PDEATHSIG): %m");
	if (o->parent_fd >= 0 && !peer_alive(o->parent_fd))
		return bx_fail(err, -ESRCH, BX_NO_OFFSET, "identity: the parent is gone");
	bx_report_add(rep, "identity: uid %u gid %u (from root, no groups)", (unsigned)o->uid,
		      (unsigned)o->gid);
	return 0;
}

static int write_file(const char *path, const char *text)
{
	_cleanup_fd_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* The worker keeps its own uid/gid inside: nobody is root in there. */
static int write_id_maps(uid_t uid, gid_t gid, bx_error *err)
{
	char map[64];
	int r;

	r = write_file("/proc/self/setgroups", "deny");
	if (r < 0 && r != -ENOENT)
		return bx_fail(err, r, BX_NO_OFFSET, "namespaces: write /proc/self/setgroups: %s",
			       strerror(-r));
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	r = write_file("/proc/self/uid_map", map);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "namespaces: write /proc/self/uid_map: %s",
			       strerror(-r));
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	r = write_file("/proc/self/gid_map", map);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "namespaces: write /proc/self/gid_map: %s",
			       strerror(-r));
	return 0;
}

static const struct {
	enum bx_ns bit;
	int flag;
	const char *name;
} ns_table[] = {
    /* user first: the others are created inside it and owned by it */
    {BX_NS_USER, CLONE_NEWUSER, "user"}, {BX_NS_MOUNT, CLONE_NEWNS, "mount"},
    {BX_NS_IPC, CLONE_NEWIPC, "ipc"},	 {BX_NS_UTS, CLONE_NEWUTS, "uts"},
    {BX_NS_NET, CLONE_NEWNET, "net"},	 {BX_NS_CGROUP, CLONE_NEWCGROUP, "cgroup"},
    {BX_NS_TIME, CLONE_NEWTIME, "time"}, {BX_NS_PID, CLONE_NEWPID, "pid"},
};

/* This process's pid as the parent's /proc sees it (the first NSpid field). */
pid_t bx_host_pid_from_proc(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long pid = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "NSpid:", 6) == 0) {
			pid = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return (pid_t)pid;
}

/*
 * Step 2b: user namespace first (it owns the rest), then each other. User and
 * pid normally come from the clone that started this process (cloned_ns);
 * a pid namespace cannot be entered later without another process, so
 * asking for one that the clone did not make fails here (or is skipped if
 * the policy marks it optional).
 */
int bx_step_namespaces(const struct bx_policy *p, const struct bx_confine_opts *o,
		       struct bx_confine_report *rep, bx_error *err)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char done[192] = "", skipped[128] = "";

	for (size_t i = 0; i < sizeof(ns_table) / sizeof(ns_table[0]); i++) {
		uint32_t bit = ns_table[i].bit;

		if (!(p->namespaces & bit))
			continue;
		if (o->cloned_ns & bit) {
			rep->namespaces |= bit;
			snprintf(done + strlen(done), sizeof(done) - strlen(done), " %s(clone)",
				 ns_table[i].name);
			continue;
		}
		if (o->joined_ns & bit & BX_NS_NET) {
			rep->namespaces |= bit;
			snprintf(done + strlen(done), sizeof(done) - strlen(done), " %s(%s)",
				 ns_table[i].name, p->netns_shared ? "shared" : "made ahead");
			continue;
		}
		if (bit == BX_NS_PID || (bit == BX_NS_USER && o->become)) {
			/* pid: see above; user: root's would be owned by the worker's uid. */
			if (p->namespaces_optional & bit) {
				snprintf(skipped + strlen(skipped),
					 sizeof(skipped) - strlen(skipped), " %s(not cloned)",
					 ns_table[i].name);
				continue;
			}
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "namespaces: the %s namespace must be created by the clone "
				       "that starts the worker",
				       ns_table[i].name);
		}
		if (unshare(ns_table[i].flag) < 0) {
			int r = -errno;

			if (p->namespaces_optional & bit) {
				snprintf(skipped + strlen(skipped),
					 sizeof(skipped) - strlen(skipped), " %s(%s)",
					 ns_table[i].name, strerror(-r));
				continue;
			}
			return bx_fail(err, r, BX_NO_OFFSET, "namespaces: unshare(%s): %s",
				       ns_table[i].name, strerror(-r));
		}
		rep->namespaces |= bit;
		snprintf(
		    done + strlen(done), sizeof(done) - strlen(done), " %s%s", ns_table[i].name,
		    bit == BX_NS_NET && p->netns_shared ? "(own: a shared one needs a root zygote)"
							: "");
		if (bit == BX_NS_USER) {
			int r = write_id_maps(uid, gid, err);
			if (r < 0)
				return r;
		}
		if (bit == BX_NS_UTS && p->hostname[0] &&
		    sethostname(p->hostname, strlen(p->hostname)) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "namespaces: sethostname: %m");
	}
	bx_report_add(rep, "namespaces:%s%s%s", done[0] ? done : " none",
		      skipped[0] ? "; skipped:" : "", skipped);
	return 0;
}
