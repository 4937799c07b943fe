/* SPDX-License-Identifier: MIT */
/*
 * Steps 1 and 2: fds, identity, namespaces. With a pid namespace the process
 * forks: the child becomes pid 1 of the new namespace and goes on; the
 * original process stays outside as a small monitor that waits for it and
 * exits the same way (so the parent's pidfd and wait status tell how the
 * confined process died).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static bool is_kept(const struct bx_confine_opts *o, int fd)
{
	if (fd <= 2)
		return true;
	for (size_t i = 0; i < sizeof(o->keep_fds) / sizeof(o->keep_fds[0]); i++)
		if (o->keep_fds[i] == fd)
			return true;
	return fd == o->bpf_fd || fd == o->learn_sock;
}

/* Step 1: close every fd but 0-2 and the kept ones, then check /proc/self/fd agrees. */
int bx_step_fds(const struct bx_confine_opts *o, bx_error *err)
{
	unsigned lo = 3;
	DIR *d;
	struct dirent *e;

	for (unsigned fd = 3; fd < 65536; fd++) {
		if (!is_kept(o, (int)fd))
			continue;
		if (fd > lo && syscall(SYS_close_range, lo, fd - 1, 0) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fds: close_range(%u, %u): %m",
				       lo, fd - 1);
		lo = fd + 1;
	}
	if (syscall(SYS_close_range, lo, ~0U, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fds: close_range(%u, ~0): %m", lo);

	d = opendir("/proc/self/fd");
	if (!d)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fds: opendir(/proc/self/fd): %m");
	while ((e = readdir(d)) != NULL) {
		uint64_t v;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		if (bx_parse_u64(e->d_name, strlen(e->d_name), INT32_MAX, &v) < 0) {
			closedir(d);
			return bx_fail(err, -EBADFD, BX_NO_OFFSET,
				       "fds: odd entry '%.32s' in /proc/self/fd", e->d_name);
		}
		fd = (int)v;
		if (fd == dirfd(d))
			continue;
		if (!is_kept(o, fd)) {
			closedir(d);
			return bx_fail(err, -EBADFD, BX_NO_OFFSET,
				       "fds: fd %d is still open after close_range", fd);
		}
	}
	closedir(d);
	return 0;
}

/* Step 2a: a root worker becomes the policy's unprivileged uid/gid on the host. */
int bx_step_identity(const struct bx_policy *p, const struct bx_confine_opts *o,
		     struct bx_confine_report *rep, bx_error *err)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (o->userns_entered) {
		bx_report_add(rep, "identity: uid %u gid %u (set before exec)", (unsigned)getuid(),
			      (unsigned)getgid());
		return 0;
	}
	if (geteuid() != 0 && getuid() != 0) {
		bx_report_add(rep, "identity: uid %u gid %u (the parent's, unprivileged)",
			      (unsigned)getuid(), (unsigned)getgid());
		return 0;
	}
	if (p->uid == 0 || p->gid == 0)
		return bx_fail(
		    err, -EPERM, BX_NO_OFFSET,
		    "identity: the policy asks for uid/gid 0; a worker never runs as root");
	if (setgroups(0, NULL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setgroups(0): %m");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setresgid(%u): %m",
			       (unsigned)p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: setresuid(%u): %m",
			       (unsigned)p->uid);
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 ||
	    ruid != p->uid || euid != p->uid || suid != p->uid || rgid != p->gid ||
	    egid != p->gid || sgid != p->gid)
		return bx_fail(err, -EPERM, BX_NO_OFFSET, "identity: uid/gid did not change");
	/* Changing credentials cleared "dumpable", which would make /proc/self/uid_map root's. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "identity: prctl(PR_SET_DUMPABLE): %m");
	bx_report_add(rep, "identity: uid %u gid %u (from root, no groups)", (unsigned)p->uid,
		      (unsigned)p->gid);
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

/* The monitor's own confinement: no capabilities, and only the calls it needs. */
static void monitor_confine(void)
{
	static const int allowed[] = {
	    SCMP_SYS(wait4),
	    SCMP_SYS(waitid),
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
	    /* sanitizer runtimes around wait and exit: harmless, and nothing else is open */
	    SCMP_SYS(sigaltstack),
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
	if (seccomp_load(ctx) < 0)
		_exit(125);
	seccomp_release(ctx);
}

/* Waits for the confined child and exits as it did. Never returns. */
static __attribute__((noreturn)) void monitor(pid_t child, int alive, bool exit_on_signal)
{
	int status;

	/* The child owns every fd now; the monitor keeps only its end of the liveness pipe. */
	if (alive > 0)
		syscall(SYS_close_range, 0, (unsigned)alive - 1, 0);
	syscall(SYS_close_range, (unsigned)alive + 1, ~0U, 0);
	monitor_confine();
	for (;;) {
		pid_t r = waitpid(child, &status, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(125);
		if (WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (WIFSIGNALED(status) && exit_on_signal)
			_exit(128 + WTERMSIG(status));
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
	}
}

/* This process's pid as the parent's /proc sees it (the first NSpid field). */
static pid_t host_pid_from_proc(void)
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
 * Forks for the new pid namespace. Returns 0 in the child (pid 1), which is
 * killed if the monitor dies (PDEATHSIG, checked against the race).
 */
static int enter_pid_namespace(const struct bx_confine_opts *o, struct bx_confine_report *rep,
			       bx_error *err)
{
	int alive[2];
	pid_t child;

	if (pipe2(alive, O_CLOEXEC) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "namespaces: pipe2: %m");
	child = fork();
	if (child < 0) {
		int r = -errno;
		close(alive[0]);
		close(alive[1]);
		return bx_fail(err, r, BX_NO_OFFSET, "namespaces: fork into the pid namespace: %s",
			       strerror(-r));
	}
	if (child > 0)
		monitor(child, alive[1], o->monitor_exits_on_signal); /* keeps alive[1] open */

	close(alive[1]);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "namespaces: PR_SET_PDEATHSIG: %m");
	/* The monitor may have died before PDEATHSIG was armed: then its pipe end is closed. */
	struct pollfd pfd = {.fd = alive[0], .events = POLLIN};
	if (poll(&pfd, 1, 0) != 0)
		_exit(125);
	close(alive[0]);
	if (getpid() != 1)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "namespaces: pid %d, not 1, after fork",
			       getpid());
	rep->host_pid = host_pid_from_proc();
	return 0;
}

/* Step 2b: user namespace first (it owns the rest), then each other, pid last. */
int bx_step_namespaces(const struct bx_policy *p, const struct bx_confine_opts *o,
		       struct bx_confine_report *rep, bx_error *err)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char done[128] = "", skipped[128] = "";

	for (size_t i = 0; i < sizeof(ns_table) / sizeof(ns_table[0]); i++) {
		uint32_t bit = ns_table[i].bit;

		if (!(p->namespaces & bit))
			continue;
		if (bit == BX_NS_USER && o->userns_entered) {
			rep->namespaces |= bit;
			snprintf(done + strlen(done), sizeof(done) - strlen(done),
				 " user(before exec)");
			continue;
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
		snprintf(done + strlen(done), sizeof(done) - strlen(done), " %s", ns_table[i].name);
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
	if (rep->namespaces & BX_NS_PID)
		return enter_pid_namespace(o, rep, err);
	return 0;
}
