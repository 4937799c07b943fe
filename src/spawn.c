/* SPDX-License-Identifier: MIT */
/*
 * spawn: the init hook, re-execution of the program as a worker, and the
 * worker's lifecycle as seen from the parent (pidfd, reaping, killing).
 */
#define _GNU_SOURCE
#include <beambox/spawn.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/beam.h>
#include <beambox/data.h>

#include "confine/confine.h"
#include "confine/seccomp.h"
#include "filter_cache.h"
#include "policy/policy.h"
#include "policy/wire.h"
#include "remote.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define BX_SPAWN_ENV_MAX 256
/* Set by bx_spawn: a config frame (policy + compiled filter) comes first on fd 3. */
#define BX_SPAWN_CONFIG_ENV	"BEAMBOX_CONFIG"
#define BX_WORKER_EXIT_GRACE_MS 2000

struct bx_worker {
	pid_t pid;
	int pidfd;
	bx_beam *main;
	bx_engine *proxy;
	pthread_mutex_t lock; /* guards the reaping fields below */
	bool reaped;
	int exit_code;
	int exit_status;
	pid_t serving_pid; /* the confined process (pid 1 of its namespace), as we see it */
	char *report;
};

static bool init_called;
static bx_installer_fn worker_installer;
static void *worker_installer_ctx;

BX_API void bx_spawn_opts_init(bx_spawn_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->stderr_fd = -1;
	opts->ready_timeout_ms = 10000;
}

/* ================================================================ worker side */

/* Reports a setup failure to the parent (if the connection works) and exits 1. */
static __attribute__((noreturn)) void worker_die(bx_beam *main, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void worker_die(bx_beam *main, const char *fmt, ...)
{
	char text[BX_ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (main)
		bx_ignore(bx_remote_send_setup_error(main, text));
	else
		dprintf(STDERR_FILENO, "beambox worker: %s\n", text);
	_exit(1);
}

/*
 * The policy: from the parent's config frame (bx_spawn sends one, with the
 * compiled filter attached), or the built-in default for a parent that does
 * not know beambox (the original Go parent sends none).
 */
static int worker_policy(bx_beam *main, struct bx_policy **policy, int *bpf_fd,
			 bool *userns_entered, char *why, size_t len)
{
	const char *config = getenv(BX_SPAWN_CONFIG_ENV);
	bx_frame f = {.fd = -1};
	bx_msg *m = NULL;
	bx_bytes cmd;
	bx_error err;
	int r;

	*bpf_fd = -1;
	if (!config || strcmp(config, "1") != 0) {
		r = bx_policy_default(policy);
		if (r < 0)
			snprintf(why, len, "default policy: %s", strerror(-r));
		return r;
	}
	unsetenv(BX_SPAWN_CONFIG_ENV);
	bx_error_clear(&err);
	r = bx_beam_recv(main, &f, &err);
	if (r == 1)
		r = bx_msg_decode(f.data, f.len, 0, &m, &err);
	else if (r == 0)
		r = bx_fail(&err, -EPIPE, BX_NO_OFFSET, "EOF");
	if (r == 0 &&
	    (bx_msg_get_one(m, "cmd", &cmd) < 0 || strcmp(cmd.p, "config") != 0 || f.fd < 0))
		r = bx_fail(&err, -EPROTO, BX_NO_OFFSET, "not a config frame with a filter");
	if (r == 0) {
		bx_bytes v;

		*userns_entered =
		    bx_msg_get_one(m, "userns_entered", &v) == 0 && v.len == 1 && v.p[0] == '1';
		bx_ignore(bx_msg_del(m, "userns_entered"));
		r = bx_policy_from_msg(m, policy, &err);
	}
	if (r == 0)
		*bpf_fd = bx_steal_fd(&f.fd);
	else
		snprintf(why, len, "reading the config: %.200s", err.text);
	bx_msg_free(m);
	bx_frame_clear(&f);
	return r;
}

/* The confinement step: the whole sequence of src/confine/. */
static int worker_confine(bx_beam *main, struct bx_remote_hello *hello, char *why, size_t len)
{
	struct bx_policy *policy = NULL;
	struct bx_confine_opts opts = {
	    .keep_fds = {BX_SPAWN_BEAM_FD, -1},
	    .exec_fd = -1,
	    .bpf_fd = -1,
	    .learn_sock = -1,
	};
	struct bx_confine_report rep;
	bx_error err;
	int r;

	r = worker_policy(main, &policy, &opts.bpf_fd, &opts.userns_entered, why, len);
	if (r < 0)
		return r;
	bx_error_clear(&err);
	r = bx_confine_self(policy, &opts, &rep, &err);
	bx_policy_free(policy);
	bx_close_and_reset(&opts.bpf_fd);
	if (r < 0) {
		snprintf(why, len, "confinement failed: %.200s", err.text);
		return r;
	}
	hello->pid = rep.host_pid;
	hello->namespaces = rep.namespaces;
	snprintf(hello->report, sizeof(hello->report), "%s", rep.text);
	return 0;
}

static __attribute__((noreturn)) void worker_main(void)
{
	bx_beam *main = NULL;
	bx_engine *eng = NULL;
	int type = 0, r;
	socklen_t tlen = sizeof(type);

	/* Grandchildren must not mistake themselves for workers. */
	unsetenv(BX_SPAWN_MARKER);

	if (getsockopt(BX_SPAWN_BEAM_FD, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    type != SOCK_STREAM)
		worker_die(NULL, "fd %d is not a stream socket", BX_SPAWN_BEAM_FD);
	if (fcntl(BX_SPAWN_BEAM_FD, F_SETFD, FD_CLOEXEC) < 0)
		worker_die(NULL, "fcntl(fd 3): %m");
	r = bx_beam_new(BX_SPAWN_BEAM_FD, &main);
	if (r < 0)
		worker_die(NULL, "fd 3: %s", strerror(-r));

	/* Confinement comes before any handler code exists in this process. */
	struct bx_remote_hello hello;
	char why[BX_ERROR_TEXT_MAX];
	memset(&hello, 0, sizeof(hello));
	r = worker_confine(main, &hello, why, sizeof(why));
	if (r < 0)
		worker_die(main, "%s", why);

	r = bx_engine_new(&eng);
	if (r < 0)
		worker_die(main, "engine: %s", strerror(-r));
	if (worker_installer) {
		r = worker_installer(eng, worker_installer_ctx);
		if (r < 0)
			worker_die(main, "installer failed: %s", strerror(-r));
	}
	r = bx_remote_send_ready(main, &hello);
	if (r < 0)
		_exit(1); /* the parent is gone */
	r = bx_remote_serve(main, eng);
	bx_engine_free(eng);
	bx_beam_free(main);
	exit(r < 0 ? 1 : 0);
}

BX_API int bx_spawn_init(bx_installer_fn installer, void *ctx)
{
	const char *marker = getenv(BX_SPAWN_MARKER);

	init_called = true;
	worker_installer = installer;
	worker_installer_ctx = ctx;
	if (marker && strcmp(marker, "1") == 0)
		worker_main();
	return 0;
}

/* ================================================================ the program's image */

static int exe_fd = -1;
static int exe_err;
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

/*
 * A sealed memfd holding a copy of this program, made once. Workers are
 * executed from it, so /proc/self/exe in a worker is that sealed copy: no
 * worker can write to the program on disk or race its path.
 */
static void make_exe_copy(void)
{
	_cleanup_fd_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	_cleanup_fd_ int mfd = -1;
	struct stat st;
	off_t off = 0;

	if (src < 0 || fstat(src, &st) < 0) {
		exe_err = -errno;
		return;
	}
	mfd = memfd_create("beambox-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (mfd < 0 && errno == EINVAL) /* kernels before 6.3 do not know MFD_EXEC */
		mfd = memfd_create("beambox-exe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		exe_err = -errno;
		return;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			exe_err = n < 0 ? -errno : -EIO;
			return;
		}
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		exe_err = -errno;
		return;
	}
	exe_fd = bx_steal_fd(&mfd);
}

/* ================================================================ starting a worker */

struct child_plan {
	int exe_fd;
	int sock;
	int devnull;
	int stderr_fd;
	int errpipe;
	pid_t parent;
	char *const *argv;
	char *const *envp;
	/* Before exec: a root parent's worker becomes uid/gid (never root on the host)... */
	bool become;
	uid_t uid;
	gid_t gid;
	/* ...and the worker enters its user namespace, so that it is exec'd inside it. */
	bool userns;
	char uid_map[32];
	char gid_map[32];
};

/* Async-signal-safe: open, write, close. */
static int child_write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * The worker keeps its own uid inside its user namespace (nobody is root in
 * there), so exec would drop the capabilities it needs to build its
 * namespaces and filesystem view. Pass exactly those two through exec as
 * ambient capabilities, valid only inside the new user namespace; the
 * worker's step 5 drops them, and every other one, before any handler runs.
 */
static int child_keep_setup_caps(void)
{
	static const int keep[] = {CAP_SYS_ADMIN, CAP_SETPCAP};
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		data[keep[i] / 32].inheritable |= 1u << (keep[i] % 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)keep[i], 0, 0) < 0)
			return -1;
	return 0;
}

/*
 * The user namespace is entered before exec, not after: the kernel records
 * the exec's user namespace as the owner of the worker's memory, and only an
 * owner there may read /proc/<pid>/ns/ of a non-dumpable process. That lets
 * an unprivileged parent verify its worker's namespaces from outside.
 */
static int child_identity_and_userns(const struct child_plan *p)
{
	if (p->become) {
		/*
		 * Raw calls: glibc's wrappers broadcast the change to the parent's
		 * other threads, which this child does not have, and can wait for
		 * them forever (seen with a pool's thread spawning while others run).
		 */
		if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0 ||
		    syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
			return -1;
		/* The credential change cleared "dumpable": /proc/self would be root's. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			return -1;
	}
	if (!p->userns)
		return 0;
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	if (child_write_file("/proc/self/setgroups", "deny", 4) < 0 && errno != ENOENT)
		return -1;
	if (child_write_file("/proc/self/uid_map", p->uid_map, strlen(p->uid_map)) < 0 ||
	    child_write_file("/proc/self/gid_map", p->gid_map, strlen(p->gid_map)) < 0)
		return -1;
	return child_keep_setup_caps();
}

/* Moves fd to a number >= 10 so that the dup2()s below cannot clobber it. */
static int lift_fd(int fd)
{
	return fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

/*
 * Runs in the child between clone and exec: async-signal-safe calls only (no
 * malloc, no locks, no stdio). Never returns.
 */
static __attribute__((noreturn)) void child_exec(const struct child_plan *p)
{
	sigset_t none;
	int err, sock, devnull, errfd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Ignored signals stay ignored across exec: give the worker the defaults. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigaction(sig, &sa, NULL);
		}
	}
	if (setsid() < 0)
		goto fail;
	if (child_identity_and_userns(p) < 0)
		goto fail;
	/* After the credential changes above, which would have cleared it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	/* The parent may have died before PDEATHSIG was armed. */
	if (getppid() != p->parent) {
		errno = ESRCH;
		goto fail;
	}
	sock = lift_fd(p->sock);
	devnull = lift_fd(p->devnull);
	errfd = lift_fd(p->stderr_fd >= 0 ? p->stderr_fd : p->devnull);
	if (sock < 0 || devnull < 0 || errfd < 0)
		goto fail;
	if (dup2(devnull, STDIN_FILENO) < 0 || dup2(devnull, STDOUT_FILENO) < 0 ||
	    dup2(errfd, STDERR_FILENO) < 0 || dup2(sock, BX_SPAWN_BEAM_FD) < 0)
		goto fail;
	/* Whatever the program left open without O_CLOEXEC does not reach the worker. */
	if (syscall(SYS_close_range, BX_SPAWN_BEAM_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	syscall(SYS_execveat, p->exe_fd, "", p->argv, p->envp, AT_EMPTY_PATH);
fail:
	err = errno;
	if (write(p->errpipe, &err, sizeof(err)) < 0) {
		/* Nothing more we can say. */
	}
	_exit(127);
}

/* clone3(CLONE_PIDFD), falling back to fork + pidfd_open where clone3 is refused. */
static pid_t clone_with_pidfd(int *pidfd)
{
	struct clone_args args;
	pid_t pid;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0 || (errno != ENOSYS && errno != EPERM))
		return pid;
	pid = fork();
	if (pid <= 0)
		return pid;
	/* Safe from pid reuse: the child is ours and not yet reaped. */
	*pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (*pidfd < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		errno = e;
		return -1;
	}
	return pid;
}

/* "ENGINESPAWN=1" plus NAME=value for each kept name present in environ. */
static int build_env(const bx_spawn_opts *opts, char ***out)
{
	size_t n = 0;
	char **env = calloc(BX_SPAWN_ENV_MAX + 2, sizeof(*env));

	if (!env)
		return -ENOMEM;
	env[n++] = strdup(BX_SPAWN_MARKER "=1");
	env[n++] = strdup(BX_SPAWN_CONFIG_ENV "=1");
	for (size_t i = 0; opts->env_keep && opts->env_keep[i]; i++) {
		const char *name = opts->env_keep[i];
		const char *val = getenv(name);
		char *entry;

		if (strchr(name, '=') || strcmp(name, BX_SPAWN_MARKER) == 0 ||
		    strcmp(name, BX_SPAWN_CONFIG_ENV) == 0) {
			for (size_t j = 0; j < n; j++)
				free(env[j]);
			free(env);
			return -EINVAL;
		}
		if (!val)
			continue;
		if (n >= BX_SPAWN_ENV_MAX || asprintf(&entry, "%s=%s", name, val) < 0) {
			for (size_t j = 0; j < n; j++)
				free(env[j]);
			free(env);
			return n >= BX_SPAWN_ENV_MAX ? -E2BIG : -ENOMEM;
		}
		env[n++] = entry;
	}
	if (!env[0] || !env[1]) {
		free(env);
		return -ENOMEM;
	}
	*out = env;
	return 0;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static void worker_record(bx_worker *w, const siginfo_t *si)
{
	w->reaped = true;
	w->exit_code = si->si_code;
	w->exit_status = si->si_status;
}

/* Reaps the worker if it has exited (without blocking). 1 if it has exited. */
static int worker_poll_exit(bx_worker *w)
{
	int done;

	pthread_mutex_lock(&w->lock);
	if (!w->reaped) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) == 0 &&
		    si.si_pid != 0)
			worker_record(w, &si);
	}
	done = w->reaped;
	pthread_mutex_unlock(&w->lock);
	return done;
}

static void describe_locked(const bx_worker *w, char *buf, size_t len)
{
	if (!w->reaped)
		snprintf(buf, len, "worker %d is running", (int)w->pid);
	else if (w->exit_code == CLD_EXITED)
		snprintf(buf, len, "worker %d exited with status %d", (int)w->pid, w->exit_status);
	else
		snprintf(buf, len, "worker %d killed by signal %d (SIG%s)", (int)w->pid,
			 w->exit_status,
			 sigabbrev_np(w->exit_status) ? sigabbrev_np(w->exit_status) : "?");
}

BX_API void bx_worker_describe(bx_worker *w, char *buf, size_t len)
{
	(void)worker_poll_exit(w);
	pthread_mutex_lock(&w->lock);
	describe_locked(w, buf, len);
	pthread_mutex_unlock(&w->lock);
}

static int peer_describe_exit(void *ctx, char *buf, size_t len)
{
	bx_worker *w = ctx;

	if (!worker_poll_exit(w))
		return 0;
	bx_worker_describe(w, buf, len);
	return 1;
}

BX_API int bx_worker_kill(bx_worker *w, int sig)
{
	if (syscall(SYS_pidfd_send_signal, w->pidfd, sig, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void peer_kill(void *ctx)
{
	bx_ignore(bx_worker_kill(ctx, SIGKILL));
}

BX_API int bx_worker_wait(bx_worker *w, int timeout_ms, int *wstatus)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!worker_poll_exit(w)) {
		struct pollfd pfd = {.fd = w->pidfd, .events = POLLIN};
		int left = -1;

		if (timeout_ms >= 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long spent = (now.tv_sec - start.tv_sec) * 1000 +
				     (now.tv_nsec - start.tv_nsec) / 1000000;
			if (spent >= timeout_ms)
				return -ETIMEDOUT;
			left = timeout_ms - (int)spent;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
	if (wstatus) {
		pthread_mutex_lock(&w->lock);
		*wstatus = w->exit_code == CLD_EXITED
			       ? W_EXITCODE(w->exit_status, 0)
			       : (w->exit_status & 0x7f) | (w->exit_code == CLD_DUMPED ? 0x80 : 0);
		pthread_mutex_unlock(&w->lock);
	}
	return 0;
}

BX_API const char *bx_worker_report(const bx_worker *w)
{
	return w && w->report ? w->report : "";
}

BX_API pid_t bx_worker_serving_pid(const bx_worker *w)
{
	return w ? w->serving_pid : -1;
}

BX_API bx_engine *bx_worker_engine(bx_worker *w)
{
	return w ? w->proxy : NULL;
}

BX_API pid_t bx_worker_pid(const bx_worker *w)
{
	return w ? w->pid : -1;
}

BX_API int bx_worker_pidfd(const bx_worker *w)
{
	return w ? w->pidfd : -1;
}

BX_API void bx_worker_free(bx_worker *w)
{
	if (!w)
		return;
	bx_remote_proxy_free(w->proxy);
	bx_beam_free(w->main); /* the worker sees EOF and exits */
	if (w->pidfd >= 0) {
		if (bx_worker_wait(w, BX_WORKER_EXIT_GRACE_MS, NULL) < 0) {
			bx_ignore(bx_worker_kill(w, SIGKILL));
			bx_ignore(bx_worker_wait(w, -1, NULL));
		}
		close(w->pidfd);
		/* Where cgroups are delegated, the worker made a leaf: it is empty now. */
		if (w->report && strstr(w->report, "cgroup: leaf"))
			bx_cgroup_leaf_remove(w->pid);
	}
	pthread_mutex_destroy(&w->lock);
	free(w->report);
	free(w);
}

/* Reads "Key:\tvalue" from /proc/<pid>/status into val. */
static int proc_status_field(pid_t pid, const char *key, char *val, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		char *v = line + klen + 1;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = '\0';
		snprintf(val, len, "%s", v);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

static const struct {
	uint32_t bit;
	const char *name;
} ns_files[] = {
    {BX_NS_USER, "user"}, {BX_NS_MOUNT, "mnt"}, {BX_NS_PID, "pid"},	  {BX_NS_NET, "net"},
    {BX_NS_IPC, "ipc"},	  {BX_NS_UTS, "uts"},	{BX_NS_CGROUP, "cgroup"}, {BX_NS_TIME, "time"},
};

/*
 * Verify, don't trust: from outside, the serving process must show
 * NoNewPrivs 1, Seccomp 2, no capabilities in any set, and namespace inodes
 * other than ours for every namespace it says it entered (and at least the
 * policy's required ones).
 */
static int verify_worker(bx_worker *w, const struct bx_policy *policy,
			 const struct bx_remote_hello *h, bx_error *err)
{
	static const struct {
		const char *key;
		const char *want;
	} status_want[] = {
	    {"NoNewPrivs", "1"},
	    {"Seccomp", "2"},
	    {"CapEff", "0000000000000000"},
	    {"CapPrm", "0000000000000000"},
	    {"CapInh", "0000000000000000"},
	    {"CapBnd", "0000000000000000"},
	    {"CapAmb", "0000000000000000"},
	};
	uint32_t required;
	char val[64];
	int r;

	if (h->pid <= 0)
		return bx_fail(err, -EPROTO, BX_NO_OFFSET, "worker %d did not say which pid serves",
			       (int)w->pid);
	if (h->pid != w->pid) {
		/* pid 1 of its namespace: must be the direct child of the process we started. */
		uint64_t ppid = 0;

		r = proc_status_field(h->pid, "PPid", val, sizeof(val));
		if (r == 0)
			r = bx_parse_u64(val, strlen(val), INT32_MAX, &ppid);
		if (r < 0 || (pid_t)ppid != w->pid)
			return bx_fail(err, -EPROTO, BX_NO_OFFSET,
				       "worker %d: pid %d is not its child", (int)w->pid,
				       (int)h->pid);
	}
	for (size_t i = 0; i < sizeof(status_want) / sizeof(status_want[0]); i++) {
		r = proc_status_field(h->pid, status_want[i].key, val, sizeof(val));
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET,
				       "verifying worker %d: no %s in /proc/%d/status", (int)w->pid,
				       status_want[i].key, (int)h->pid);
		if (strcmp(val, status_want[i].want) != 0)
			return bx_fail(err, -EPERM, BX_NO_OFFSET,
				       "verifying worker %d: %s is %s, want %s", (int)w->pid,
				       status_want[i].key, val, status_want[i].want);
	}
	required = policy->namespaces & ~policy->namespaces_optional;
	if ((h->namespaces & required) != required)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "verifying worker %d: namespaces %#x in effect, policy requires %#x",
			       (int)w->pid, h->namespaces, required);
	for (size_t i = 0; i < sizeof(ns_files) / sizeof(ns_files[0]); i++) {
		char mine[64], theirs[64];
		struct stat a, b;

		if (!(h->namespaces & ns_files[i].bit))
			continue;
		snprintf(mine, sizeof(mine), "/proc/self/ns/%s", ns_files[i].name);
		snprintf(theirs, sizeof(theirs), "/proc/%d/ns/%s", (int)h->pid, ns_files[i].name);
		if (stat(mine, &a) < 0 || stat(theirs, &b) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET,
				       "verifying worker %d: stat %s: %m", (int)w->pid, theirs);
		if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			return bx_fail(err, -EPERM, BX_NO_OFFSET,
				       "verifying worker %d: it shares our %s namespace",
				       (int)w->pid, ns_files[i].name);
	}
	w->serving_pid = h->pid;
	return 0;
}

/* Waits for the worker's first message: ready, or its reason for failing. */
static int wait_ready(bx_worker *w, int timeout_ms, struct bx_remote_hello *hello, bx_error *err)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = bx_beam_fd(w->main), .events = POLLIN},
		    {.fd = w->pidfd, .events = POLLIN},
		};
		struct timespec now;
		long spent;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		spent =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= timeout_ms)
			return bx_fail(err, -ETIMEDOUT, BX_NO_OFFSET,
				       "worker %d was not ready after %d ms", (int)w->pid,
				       timeout_ms);
		r = poll(pfd, 2, timeout_ms - (int)spent);
		if (r < 0 && errno != EINTR)
			return bx_fail(err, -errno, BX_NO_OFFSET, "poll: %m");
		if (r <= 0)
			continue;
		if (pfd[0].revents) {
			r = bx_remote_read_hello(w->main, hello, err);
			if (r == -EAGAIN || r == -EINTR)
				continue;
			if (r == -EPIPE || r == -ECHILD) {
				char how[96];
				char why[BX_ERROR_TEXT_MAX];

				snprintf(why, sizeof(why), "%s", err ? err->text : "");
				if (bx_worker_wait(w, BX_WORKER_EXIT_GRACE_MS, NULL) < 0) {
					bx_ignore(bx_worker_kill(w, SIGKILL));
					bx_ignore(bx_worker_wait(w, -1, NULL));
				}
				bx_worker_describe(w, how, sizeof(how));
				return bx_fail(err, -ECHILD, BX_NO_OFFSET,
					       "%s before it was ready: %s", how, why);
			}
			return r;
		}
		if (pfd[1].revents) {
			char how[96];

			bx_worker_describe(w, how, sizeof(how));
			return bx_fail(err, -ECHILD, BX_NO_OFFSET, "%s before it was ready", how);
		}
	}
}

/* The config frame for a worker: the policy's settings, and its compiled filter as a sealed memfd.
 */
static int make_config(const struct bx_policy *policy, char **buf, size_t *len, int *bpf_fd,
		       bx_error *err)
{
	struct bx_bpf bpf = {0};
	bx_msg *m = NULL;
	int r;

	r = bx_filter_cached(policy, &bpf, err);
	if (r < 0)
		return r;
	*bpf_fd = bx_seccomp_export_fd(&bpf);
	bx_bpf_free(&bpf);
	if (*bpf_fd < 0)
		return bx_fail(err, *bpf_fd, BX_NO_OFFSET, "exporting the filter: %s",
			       strerror(-*bpf_fd));
	r = bx_msg_new(&m);
	if (r == 0)
		r = bx_policy_to_msg(policy, m);
	/* Tells the worker that bx_spawn already put it in its user namespace. */
	if (r == 0 && (policy->namespaces & BX_NS_USER))
		r = bx_msg_add(m, "userns_entered", "1");
	if (r == 0)
		r = bx_msg_encode(m, buf, len);
	bx_msg_free(m);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "encoding the config: %s", strerror(-r));
	return 0;
}

BX_API int bx_spawn(const bx_spawn_opts *opts, bx_worker **out, bx_error *err)
{
	static char *const argv[] = {"beambox-worker", NULL};
	bx_spawn_opts defaults;
	struct child_plan plan;
	_cleanup_fd_ int devnull = -1;
	int sv[2] = {-1, -1}, errpipe[2] = {-1, -1};
	char **envp = NULL;
	bx_worker *w = NULL;
	struct bx_remote_peer peer;
	struct bx_remote_hello hello = {0};
	struct bx_policy *own_policy = NULL;
	const struct bx_policy *policy;
	_cleanup_free_ char *config = NULL;
	size_t config_len = 0;
	_cleanup_fd_ int bpf_fd = -1;
	int child_errno = 0, r;
	ssize_t n;

	if (!init_called)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "bx_spawn_init() must be called at the top of main()");
	if (!opts) {
		bx_spawn_opts_init(&defaults);
		opts = &defaults;
	}
	pthread_once(&exe_once, make_exe_copy);
	if (exe_fd < 0)
		return bx_fail(err, exe_err, BX_NO_OFFSET, "copying /proc/self/exe: %s",
			       strerror(-exe_err));
	policy = opts->policy;
	if (!policy) {
		r = bx_policy_default(&own_policy);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "default policy: %s", strerror(-r));
		policy = own_policy;
	}
	/* Compiled here, once; the worker only loads it. */
	r = make_config(policy, &config, &config_len, &bpf_fd, err);
	if (r < 0) {
		bx_policy_free(own_policy);
		return r;
	}
	r = build_env(opts, &envp);
	if (r < 0) {
		bx_policy_free(own_policy);
		return bx_fail(err, r, BX_NO_OFFSET, "building the worker's environment: %s",
			       strerror(-r));
	}

	w = calloc(1, sizeof(*w));
	if (!w) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
		goto fail;
	}
	w->pidfd = -1;
	pthread_mutex_init(&w->lock, NULL);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(errpipe, O_CLOEXEC) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "setting up the worker's fds: %m");
		goto fail;
	}
	plan = (struct child_plan){
	    .become = geteuid() == 0,
	    .uid = geteuid() == 0 ? policy->uid : geteuid(),
	    .gid = geteuid() == 0 ? policy->gid : getegid(),
	    .userns = (policy->namespaces & BX_NS_USER) != 0,
	    .exe_fd = exe_fd,
	    .sock = sv[1],
	    .devnull = devnull,
	    .stderr_fd = opts->stderr_fd,
	    .errpipe = errpipe[1],
	    .parent = getpid(),
	    .argv = argv,
	    .envp = envp,
	};
	if (plan.become && (plan.uid == 0 || plan.gid == 0)) {
		r = bx_fail(
		    err, -EPERM, BX_NO_OFFSET,
		    "the policy asks for uid/gid 0; a worker never runs as root on the host");
		goto fail;
	}
	snprintf(plan.uid_map, sizeof(plan.uid_map), "%u %u 1\n", (unsigned)plan.uid,
		 (unsigned)plan.uid);
	snprintf(plan.gid_map, sizeof(plan.gid_map), "%u %u 1\n", (unsigned)plan.gid,
		 (unsigned)plan.gid);
	w->pid = clone_with_pidfd(&w->pidfd);
	if (w->pid < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "clone3: %m");
		goto fail;
	}
	if (w->pid == 0)
		child_exec(&plan);

	bx_close_and_reset(&sv[1]);
	bx_close_and_reset(&errpipe[1]);
	do
		n = read(errpipe[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	bx_close_and_reset(&errpipe[0]);
	if (n > 0) {
		bx_ignore(bx_worker_wait(w, -1, NULL));
		r = bx_fail(err, -child_errno, BX_NO_OFFSET, "starting the worker: %s",
			    strerror(child_errno));
		goto fail;
	}

	r = bx_beam_new(sv[0], &w->main);
	if (r < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "beam: %s", strerror(-r));
		goto fail;
	}
	sv[0] = -1;
	if (fcntl(bx_beam_fd(w->main), F_SETFL, O_NONBLOCK) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "fcntl: %m");
		goto fail;
	}
	/* If the worker is already gone this fails; wait_ready then says how it died. */
	bx_ignore(bx_beam_send(w->main, config, config_len, bpf_fd));
	r = wait_ready(w, opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms : 10000, &hello, err);
	if (r < 0)
		goto fail;
	r = verify_worker(w, policy, &hello, err);
	if (r < 0)
		goto fail;
	w->report = strdup(hello.report);
	if (!w->report) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
		goto fail;
	}

	peer = (struct bx_remote_peer){
	    .exit_fd = w->pidfd,
	    .describe_exit = peer_describe_exit,
	    .kill = peer_kill,
	    .ctx = w,
	    .takes_fds = hello.takes_fds,
	};
	r = bx_remote_proxy_new(w->main, &peer, &w->proxy);
	if (r < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "proxy engine: %s", strerror(-r));
		goto fail;
	}
	free_env(envp);
	bx_policy_free(own_policy);
	*out = w;
	return 0;

fail:
	bx_close_and_reset(&sv[0]);
	bx_close_and_reset(&sv[1]);
	bx_close_and_reset(&errpipe[0]);
	bx_close_and_reset(&errpipe[1]);
	free_env(envp);
	bx_policy_free(own_policy);
	if (w) {
		if (w->pidfd >= 0 && !w->reaped) {
			bx_ignore(bx_worker_kill(w, SIGKILL));
			bx_ignore(bx_worker_wait(w, -1, NULL));
		}
		bx_worker_free(w);
	}
	return r;
}
