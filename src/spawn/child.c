/* SPDX-License-Identifier: MIT */
/*
 * child: the one function that creates a worker's first process (see
 * child.h for the sequence and the reasons).
 *
 * Between clone3 and execve the child may run in a copy of a multi-threaded
 * program: another thread may have held a lock (malloc's, stdio's, a
 * sanitizer runtime's) at the moment of the clone, and glibc's set-id
 * functions (setgroups, setresuid) broadcast to the parent's thread list,
 * which the child copied but whose threads it does not have: they wait
 * forever (issue #9, item 1). So the child calls the kernel directly,
 * through syscall(2), and touches nothing shared: no errno-setting wrappers
 * that sanitizers intercept, no malloc, no stdio, no locks.
 */
#define _GNU_SOURCE
#include "spawn/child.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine/confine.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* Every fd the child keeps: the caller's moves and three of its own. */
#define KEEP_MAX (BX_CHILD_FDS_MAX + 3)
/* They are lifted above the highest target first: bx_exec_fd_number leaves room. */
_Static_assert(KEEP_MAX < BX_EXEC_FD_HEADROOM, "lifted fds fit below the hard limit");

/* The kernel's struct sigaction for rt_sigaction (x86_64 layout; mask is 8 bytes). */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* What the child needs, all computed by the parent before the clone. */
struct plan {
	const struct bx_child_spec *s;
	int sync_r;   /* the parent's release byte, or EOF when it is gone */
	int err_w;    /* exec mode: the child's errno if it cannot exec (CLOEXEC) */
	int base;     /* lifted fds go at or above this number, above every target */
	bool in_proc; /* in-process mode */
};

/* ---------------------------------------------------------------- the child (raw calls only) */

static __attribute__((noreturn)) void child_exit(int code)
{
	for (;;)
		syscall(SYS_exit_group, code);
}

/* Tells the parent why (exec mode) and exits. */
static __attribute__((noreturn)) void child_fail(int err_w, int e)
{
	if (err_w >= 0)
		syscall(SYS_write, err_w, &e, sizeof(e));
	child_exit(127);
}

/* Default handlers for every signal, then an empty mask (the parent blocked all around clone). */
static void child_reset_signals(void)
{
	uint64_t none = 0;

	for (int sig = 1; sig <= 64; sig++) {
		struct kernel_sigaction old, dfl = {.handler = (void *)SIG_DFL};

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(uint64_t)) < 0)
			continue;
		if (old.handler == (void *)SIG_DFL)
			continue;
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(uint64_t));
}

/* Closes every fd not in keep[0..n) (sorted in place). */
static int child_close_others(int *keep, size_t n)
{
	unsigned lo = 0;

	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)keep[i];

		if (k > lo && syscall(SYS_close_range, lo, k - 1, 0) < 0)
			return -1;
		if (k + 1 > lo)
			lo = k + 1;
	}
	return (int)syscall(SYS_close_range, lo, ~0U, 0);
}

/*
 * Exec mode: every fd of the spec at its number, the child's own fds lifted
 * out of the way, everything else closed (for real, not close-on-exec: the
 * child holds nothing of the parent's before any credential change).
 */
static int child_arrange_fds(struct plan *pl, int *exec_fd)
{
	const struct bx_child_spec *s = pl->s;
	int lifted[KEEP_MAX], keep[KEEP_MAX];
	size_t nkeep = 0;
	struct rlimit old, raised;
	bool limit_raised = false;
	int own[3] = {pl->sync_r, pl->err_w, *exec_fd};

	if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old) < 0)
		return -1;
	/* Room above base for the lifted copies (a target may be the policy's nofile). */
	if (old.rlim_cur < (rlim_t)pl->base + (rlim_t)KEEP_MAX * 2) {
		raised = old;
		raised.rlim_cur = old.rlim_max;
		if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &raised, NULL) < 0)
			return -1;
		limit_raised = true;
	}
	for (size_t i = 0; i < s->nfds; i++) {
		lifted[i] = (int)syscall(SYS_fcntl, s->fds[i].src, F_DUPFD_CLOEXEC, pl->base);
		if (lifted[i] < 0)
			return -1;
	}
	for (size_t i = 0; i < 3; i++) {
		if (own[i] < 0)
			continue;
		own[i] = (int)syscall(SYS_fcntl, own[i], F_DUPFD_CLOEXEC, pl->base);
		if (own[i] < 0)
			return -1;
		keep[nkeep++] = own[i];
	}
	for (size_t i = 0; i < s->nfds; i++) {
		if (syscall(SYS_dup3, lifted[i], s->fds[i].dst, s->fds[i].cloexec ? O_CLOEXEC : 0) <
		    0)
			return -1;
		keep[nkeep++] = s->fds[i].dst;
	}
	if (child_close_others(keep, nkeep) < 0)
		return -1;
	if (limit_raised && syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &old, NULL) < 0)
		return -1;
	pl->sync_r = own[0];
	pl->err_w = own[1];
	*exec_fd = own[2];
	return 0;
}

/* Carries s->ambient across exec: inheritable, then ambient (permitted already has them). */
static int child_raise_ambient(uint64_t caps)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];

	if (!caps)
		return 0;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	for (unsigned c = 0; c < 64; c++)
		if (caps & (1ULL << c))
			data[c / 32].inheritable |= 1u << (c % 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	for (unsigned long c = 0; c < 64; c++)
		if ((caps & (1ULL << c)) &&
		    syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return -1;
	return 0;
}

/* Sends one byte with a pidfd of this very process on sock (the zygote's children). */
static int child_send_birth(int sock)
{
	char byte = 'B';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	int self = (int)syscall(SYS_pidfd_open, syscall(SYS_getpid), 0);
	long n;

	if (self < 0)
		return -1;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &self, sizeof(int));
	do
		n = syscall(SYS_sendmsg, sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	syscall(SYS_close, self);
	return n == 1 ? 0 : -1;
}

/* Whether the other end of fd (a socket, or a pipe's write end) is still open. */
static bool child_peer_alive(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	struct timespec zero = {0, 0};
	long n;

	do
		n = syscall(SYS_ppoll, &p, 1, &zero, NULL, 0);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n == 1 && !(p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)));
}

/* A sealed memfd copy of this program (exec_fd BX_CHILD_EXEC_SELF); -errno on failure. */
static int child_copy_self(void)
{
	struct stat st;
	int src = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int mfd;
	off_t off = 0;

	if (src < 0 || syscall(SYS_fstat, src, &st) < 0)
		return -errno;
	mfd = (int)syscall(SYS_memfd_create, "beambox-zygote",
			   MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* kernels before 6.3 do not know MFD_EXEC */
		mfd = (int)syscall(SYS_memfd_create, "beambox-zygote",
				   MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	while (off < st.st_size) {
		long n = syscall(SYS_sendfile, mfd, src, &off, (size_t)(st.st_size - off));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
	}
	if (syscall(SYS_fcntl, mfd, F_ADD_SEALS,
		    F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	syscall(SYS_close, src);
	return mfd;
}

/* Returns only in in-process mode (0); exec mode ends in execveat or _exit. */
static int child_main(struct plan *pl)
{
	const struct bx_child_spec *s = pl->s;
	int exec_fd = s->exec_fd;
	char byte;
	long n;

	/* First: die with the parent (the race with its death is checked below). */
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(pl->err_w, errno);
	child_reset_signals();
	if (syscall(SYS_setsid) < 0)
		child_fail(pl->err_w, errno);
	if ((!pl->in_proc || s->nfds) && child_arrange_fds(pl, &exec_fd) < 0)
		child_fail(pl->err_w, errno);
	if (s->birth && child_send_birth(s->link_fd) < 0)
		child_fail(pl->err_w, errno);
	/*
	 * The parent writes our uid/gid maps, then one byte. EOF instead means it
	 * died, maybe before PDEATHSIG was armed (getppid() cannot tell: it is 0
	 * in a new pid namespace). Our copy of the write end was closed right
	 * after the clone, so the parent's is the only one left.
	 */
	do
		n = syscall(SYS_read, pl->sync_r, &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		child_exit(1);
	syscall(SYS_close, pl->sync_r);
	/* Released: is the process this child dies with still there (see child.h)? */
	if (s->check_alive && !child_peer_alive(s->link_fd))
		child_exit(1);
	/* Root's supplementary groups (gid 0 among them) would still open host files. */
	if (s->as_root && (s->ns_flags & CLONE_NEWUSER) && syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(pl->err_w, errno);
	if ((s->ns_flags & CLONE_NEWUSER) && child_raise_ambient(s->ambient) < 0)
		child_fail(pl->err_w, errno);
	if (pl->in_proc)
		return 0;
	if (s->exec_fd == BX_CHILD_EXEC_SELF && (exec_fd = child_copy_self()) < 0)
		child_fail(pl->err_w, -exec_fd);
	syscall(SYS_execveat, exec_fd, "", s->argv, s->envp, AT_EMPTY_PATH);
	child_fail(pl->err_w, errno);
}

/* ---------------------------------------------------------------- the parent */

/* clone3 with a pidfd and no exit signal; raw clone where clone3 does not exist. */
static pid_t do_clone(uint64_t flags, int *pidfd)
{
	struct clone_args a;
	pid_t pid;

	memset(&a, 0, sizeof(a));
	a.flags = flags | CLONE_PIDFD;
	a.pidfd = (uint64_t)(uintptr_t)pidfd;
	a.exit_signal = 0;
	pid = (pid_t)syscall(SYS_clone3, &a, sizeof(a));
	if (pid >= 0 || errno != ENOSYS)
		return pid;
	/* x86_64: clone(flags, newsp, parent_tid, child_tid, tls); the pidfd lands in parent_tid.
	 */
	return (pid_t)syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD), NULL, pidfd, NULL,
			      NULL);
}

int bx_child_reap(int pidfd, void *siginfo)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	do
		r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (siginfo)
		memcpy(siginfo, &si, sizeof(si));
	return 0;
}

void bx_child_kill_and_reap(int pidfd)
{
	if (pidfd < 0)
		return;
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	bx_ignore(bx_child_reap(pidfd, NULL));
}

static int write_proc(int dirfd, const char *name, const char *text)
{
	_cleanup_fd_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return errno ? -errno : -EIO;
	return 0;
}

/* The child's maps: its own ids, once; "deny" setgroups first unless the parent is root. */
static int write_maps(pid_t pid, const struct bx_child_spec *s, bx_error *err)
{
	char path[32], map[64];
	_cleanup_fd_ int dirfd = -1;
	int r;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "open(%s): %m", path);
	if (!s->as_root) {
		r = write_proc(dirfd, "setgroups", "deny");
		if (r < 0 && r != -ENOENT)
			return bx_fail(err, r, BX_NO_OFFSET, "write %s/setgroups: %s", path,
				       strerror(-r));
	}
	snprintf(map, sizeof(map), "%u %u 1\n", s->root_inside ? 0u : (unsigned)s->uid,
		 s->root_outside ? 0u : (unsigned)s->uid);
	r = write_proc(dirfd, "uid_map", map);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "write %s/uid_map (%u): %s", path,
			       (unsigned)s->uid, strerror(-r));
	snprintf(map, sizeof(map), "%u %u 1\n", s->root_inside ? 0u : (unsigned)s->gid,
		 s->root_outside ? 0u : (unsigned)s->gid);
	r = write_proc(dirfd, "gid_map", map);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "write %s/gid_map (%u): %s", path,
			       (unsigned)s->gid, strerror(-r));
	return 0;
}

/* One of the numbers the child's fds get. */
static bool child_fd_is_target(const struct bx_child_spec *s, int fd)
{
	for (size_t i = 0; i < s->nfds && i < BX_CHILD_FDS_MAX; i++)
		if (s->fds[i].dst == fd)
			return true;
	return false;
}

int bx_count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Exec mode: EOF on the error pipe is a successful exec; an int is the child's errno. */
static int wait_exec(const struct bx_child_spec *s, int err_r, int pidfd, bx_error *err)
{
	struct timespec t0;
	int timeout = s->timeout_ms > 0 ? s->timeout_ms : 10000;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p[2] = {{.fd = err_r, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		long left = timeout - ms_since(&t0);
		int e = 0, r;
		ssize_t n;

		if (left <= 0)
			return bx_fail(err, -ETIMEDOUT, BX_NO_OFFSET,
				       "the new process did not start within %d ms", timeout);
		r = poll(p, 2, (int)left);
		if (r < 0 && errno != EINTR)
			return bx_fail(err, -errno, BX_NO_OFFSET, "poll: %m");
		if (r <= 0)
			continue;
		/* A dead child has closed its end too, so the pipe answers first. */
		if (!p[0].revents)
			return bx_fail(err, -ECHILD, BX_NO_OFFSET,
				       "the new process died before it could start");
		do
			n = read(err_r, &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return 0;
		if (n == (ssize_t)sizeof(e) && e > 0)
			return bx_fail(err, -e, BX_NO_OFFSET, "the new process failed: %s",
				       strerror(e));
		return bx_fail(err, -EPROTO, BX_NO_OFFSET,
			       "the new process failed (short report, %zd bytes)", n);
	}
}

int bx_child_start(const struct bx_child_spec *s, struct bx_child *out, bx_error *err)
{
	int sync_p[2] = {-1, -1}, err_p[2] = {-1, -1};
	struct plan pl = {.s = s, .sync_r = -1, .err_w = -1, .base = 3};
	sigset_t all, old;
	uint64_t flags = s->ns_flags;
	int pidfd = -1, r;
	pid_t pid;

	pl.in_proc = s->exec_fd == -1;
	if (s->nfds > BX_CHILD_FDS_MAX ||
	    (s->exec_fd < 0 && s->exec_fd != BX_CHILD_EXEC_SELF && s->exec_fd != -1) ||
	    (!pl.in_proc && (!s->argv || !s->envp)) || (s->sibling && !pl.in_proc) ||
	    ((s->birth || s->check_alive) && !child_fd_is_target(s, s->link_fd)))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "child: bad spec");
	for (size_t i = 0; i < s->nfds; i++) {
		if (s->fds[i].src < 0 || s->fds[i].dst < 0)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "child: bad fd %d -> %d",
				       s->fds[i].src, s->fds[i].dst);
		if (s->fds[i].dst + 1 > pl.base)
			pl.base = s->fds[i].dst + 1;
	}
	if (pl.in_proc && !s->single_threaded && (r = bx_count_threads()) != 1)
		return bx_fail(
		    err, r < 0 ? r : -EINVAL, BX_NO_OFFSET,
		    "child: in-process start needs a single-threaded process (%d threads)", r);
	if (pipe2(sync_p, O_CLOEXEC) < 0 || (!pl.in_proc && pipe2(err_p, O_CLOEXEC) < 0)) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "child: pipe2: %m");
		goto out;
	}
	pl.sync_r = sync_p[0];
	pl.err_w = err_p[1];

	/* No handler of the caller's may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (;;) {
		pid = do_clone(flags | (s->sibling ? (uint64_t)CLONE_PARENT : 0), &pidfd);
		if (pid >= 0 || !(flags & s->ns_optional))
			break;
		/* EPERM, EINVAL, ENOSPC, EUSERS: try without what the policy marked optional. */
		flags &= ~s->ns_optional;
	}
	if (pid == 0) {
		/* The child: only the parent may hold the write end, or EOF would never come. */
		syscall(SYS_close, sync_p[1]);
		child_main(&pl); /* returns in in-process mode only */
		out->pid = 0;
		out->pidfd = -1;
		out->ns = flags & (CLONE_NEWUSER | CLONE_NEWPID);
		return 1;
	}
	r = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "clone3(%s%s): %s",
			    (flags & CLONE_NEWUSER) ? "NEWUSER|" : "",
			    (flags & CLONE_NEWPID) ? "NEWPID|" : "", strerror(-r));
		goto out;
	}
	bx_close_and_reset(&sync_p[0]);
	bx_close_and_reset(&err_p[1]);
	if (flags & CLONE_NEWUSER) {
		r = write_maps(pid, s, err);
		if (r < 0)
			goto kill;
	}
	if (s->before_release) {
		r = s->before_release(pid, s->ctx);
		if (r != 0) {
			r = bx_fail(err, r < 0 ? r : -ECANCELED, BX_NO_OFFSET,
				    "child: stopped before its release");
			goto kill;
		}
	}
	if (write(sync_p[1], "x", 1) != 1) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "child: releasing it: %m");
		goto kill;
	}
	bx_close_and_reset(&sync_p[1]);
	if (!pl.in_proc && !s->no_wait) {
		r = wait_exec(s, err_p[0], pidfd, err);
		if (r < 0)
			goto kill;
	}
	out->pid = pid;
	out->pidfd = pidfd;
	out->ns = flags & (CLONE_NEWUSER | CLONE_NEWPID);
	r = 0;
	goto out;
kill:
	/* A sibling is not ours to reap: its parent does (it has the child's own pidfd). */
	if (s->sibling)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	else
		bx_child_kill_and_reap(pidfd);
	close(pidfd);
out:
	bx_close_and_reset(&sync_p[0]);
	bx_close_and_reset(&sync_p[1]);
	bx_close_and_reset(&err_p[0]);
	bx_close_and_reset(&err_p[1]);
	return r;
}
