/* SPDX-License-Identifier: MIT */
/*
 * spawn: the init hook, re-execution of the program as a worker (or of
 * another program: a foreign worker), and the worker's lifecycle as seen from
 * the parent (pidfd, init's notes, verification, reaping, killing).
 *
 * A worker's processes, for a policy with user and pid namespaces:
 *
 *   parent --clone3(NEWUSER|NEWPID)--> pid 1: exec of this program, confines
 *     itself, forks -----------------> pid 2: serves jobs (or execs the
 *                                      foreign program)
 *   pid 1 stays as a tiny init: reaps orphans, reports pid 2's end ("notes").
 */
#define _GNU_SOURCE
#include <beambox/spawn.h>

#include <dirent.h>
#include <errno.h>
#include <linux/sched.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/beam.h>
#include <beambox/data.h>

#include "audit.h"
#include "confine/confine.h"
#include "confine/notify.h"
#include "confine/seccomp.h"
#include "filter_cache.h"
#include "policy/policy.h"
#include "policy/wire.h"
#include "remote.h"
#include "spawn/child.h"
#include "spawn/dynuid.h"
#include "spawn/init.h"
#include "spawn/learn.h"
#include "spawn/program.h"
#include "spawn/violation.h"
#include "spawn/worker.h"
#include "spawn/zygote.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define BX_SPAWN_ENV_MAX	256
#define BX_WORKER_EXIT_GRACE_MS 2000
/* The capabilities a worker carries over exec, valid only in its own user namespace. */
#define SETUP_CAPS	((1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SETPCAP))
#define ROOT_SETUP_CAPS (SETUP_CAPS | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID))

struct bx_worker {
	pid_t pid; /* the first process: pid 1 of the worker's namespace (init), or the worker */
	int pidfd;
	int note_fd; /* init's notes (read end, non-blocking), or -1 */
	bool has_init;
	bx_beam *main;
	bx_engine *proxy;
	pthread_mutex_t lock; /* guards the reaping fields below */
	bool reaped;
	int exit_code; /* CLD_*: the serving process's end as init saw it, else pid's own */
	int exit_status;
	bool warm;	   /* started by the zygote */
	pid_t serving_pid; /* the serving process (pid 2 under init), as we see it */
	int serving_pidfd; /* -1 when it is pid itself */
	char *report;
	struct bx_dynuid uid; /* a dynamic host uid held for the worker's life */
	/* made before the clone, the child put in it before its release, removed once reaped */
	struct bx_cgroup_leaf cgroup;
	/* hook (violation.c): the refused call init named (V note), and the policy's label */
	struct bx_violation violation;
	char policy_label[80];
};

static bool init_called;

BX_API void bx_spawn_opts_init(bx_spawn_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->stderr_fd = -1;
	opts->ready_timeout_ms = 10000;
	opts->audit_fd = -1;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

BX_API int bx_spawn_init(bx_installer_fn installer, void *ctx)
{
	const char *marker = getenv(BX_SPAWN_MARKER);

	init_called = true;
	if (marker && strcmp(marker, "1") == 0) {
		const char *zygote = getenv(BX_ZYGOTE_MARKER);

		if (zygote && strcmp(zygote, "1") == 0)
			bx_zygote_main(installer, ctx);
		bx_worker_side_main(installer, ctx);
	}
	/*
	 * Started by `beambox policy learn --worker` (or a stray variable, which
	 * makes every spawn fail): workers start cold, so no zygote.
	 */
	if (bx_learn_mode_init() != 0)
		return 0;
	/* Early enough (the main thread, no other thread yet): a zygote; else cold starts only. */
	bx_ignore(bx_zygote_init());
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

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* ENGINESPAWN=1 [BEAMBOX_CONFIG=1] plus NAME=value for each kept name present in environ. */
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
			free_strv(env);
			return -EINVAL;
		}
		if (!val)
			continue;
		if (n >= BX_SPAWN_ENV_MAX || asprintf(&entry, "%s=%s", name, val) < 0) {
			free_strv(env);
			return n >= BX_SPAWN_ENV_MAX ? -E2BIG : -ENOMEM;
		}
		env[n++] = entry;
	}
	if (!env[0] || !env[1]) {
		free_strv(env);
		return -ENOMEM;
	}
	*out = env;
	return 0;
}

/* A wait status as the parent reports it: CLD_* code and status. */
static void record_wait_status(bx_worker *w, int status)
{
	if (WIFEXITED(status)) {
		w->exit_code = CLD_EXITED;
		w->exit_status = WEXITSTATUS(status);
	} else {
		w->exit_code = WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
		w->exit_status = WTERMSIG(status);
	}
}

/*
 * Reaps the worker if it has exited (without blocking). 1 if it has exited.
 * With init, the serving process's end is in init's death note, which init
 * wrote before it exited; without a note (init itself was killed) the
 * worker's end is init's.
 */
static int worker_poll_exit(bx_worker *w)
{
	bool named = false;
	int done;

	pthread_mutex_lock(&w->lock);
	if (!w->reaped) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG | __WALL) ==
			0 &&
		    si.si_pid != 0) {
			struct bx_note note = {.type = 0};

			w->reaped = true;
			w->exit_code = si.si_code;
			w->exit_status = si.si_status;
			while (w->note_fd >= 0 && bx_note_read(w->note_fd, &note) == 1) {
				if (note.type == BX_NOTE_DIED)
					record_wait_status(w, note.value);
				else if (note.type == BX_NOTE_VIOLATION) /* hook (violation.c) */
					named = bx_violation_take(&w->violation, &note,
								  w->policy_label) == 1;
			}
		}
	}
	done = w->reaped;
	pthread_mutex_unlock(&w->lock);
	if (named) /* hook (audit.c): the refused call, into the worker's log */
		bx_audit_worker_violation(w, w->violation.name, w->violation.nr,
					  w->violation.withdrawn ? NULL : w->violation.args,
					  w->violation.call, w->violation.text);
	return done;
}

static void describe_locked(const bx_worker *w, char *buf, size_t len)
{
	if (!w->reaped)
		snprintf(buf, len, "worker %d is running", (int)w->pid);
	else if (w->violation.known && w->exit_code != CLD_EXITED && w->exit_status == SIGSYS)
		/* hook (violation.c): the call its init named, and the rule that allows it */
		snprintf(buf, len, "worker %d stopped: %s", (int)w->pid, w->violation.text);
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

/*
 * SIGKILL ends the serving process through its own pidfd, then pid 1 of the
 * namespace, whose death makes the kernel kill everything left in it: a
 * handler that cleared its parent-death signal (or forked, or setsid'd)
 * cannot outlive it. Other signals go to the serving process (init would
 * ignore them, as pid 1 of its namespace).
 */
BX_API int bx_worker_kill(bx_worker *w, int sig)
{
	int target = w->serving_pidfd >= 0 ? w->serving_pidfd : w->pidfd;

	if (sig == SIGKILL && w->serving_pidfd >= 0)
		syscall(SYS_pidfd_send_signal, w->serving_pidfd, SIGKILL, NULL, 0);
	if (sig == SIGKILL)
		target = w->pidfd;
	if (syscall(SYS_pidfd_send_signal, target, sig, NULL, 0) < 0)
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
			long spent = ms_since(&start);

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
		bx_audit_exited(w, w->reaped, w->exit_code, w->exit_status); /* hook (audit.c) */
	}
	if (w->serving_pidfd >= 0) {
		/* Gone with its namespace's pid 1 (the kernel reaps it before pid 1's end). */
		struct pollfd pfd = {.fd = w->serving_pidfd, .events = POLLIN};

		if (poll(&pfd, 1, 0) != 1) {
			bx_log(BX_LOG_ERROR, "worker %d: serving process %d outlived its init",
			       (int)w->pid, (int)w->serving_pid);
			syscall(SYS_pidfd_send_signal, w->serving_pidfd, SIGKILL, NULL, 0);
		}
		close(w->serving_pidfd);
	}
	bx_close_and_reset(&w->note_fd);
	/* Reaped (or never started): its cgroup leaf is empty now. */
	bx_cgroup_leaf_remove(&w->cgroup);
	/* Nothing runs as its uid any more: the next worker may have it. */
	bx_dynuid_release(&w->uid);
	pthread_mutex_destroy(&w->lock);
	free(w->report);
	free(w);
}

/* ---------------------------------------------------------------- verification */

static const struct {
	uint32_t bit;
	const char *name;
} ns_files[] = {
    {BX_NS_USER, "ns/user"},	 {BX_NS_MOUNT, "ns/mnt"}, {BX_NS_PID, "ns/pid"},
    {BX_NS_NET, "ns/net"},	 {BX_NS_IPC, "ns/ipc"},	  {BX_NS_UTS, "ns/uts"},
    {BX_NS_CGROUP, "ns/cgroup"}, {BX_NS_TIME, "ns/time"},
};

/* The value of "Key:" in a /proc status text (tabs and spaces skipped), or NULL. */
static const char *status_field(const char *text, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
		if (strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		line += klen + 1;
		line += strspn(line, " \t");
		snprintf(val, len, "%.*s", (int)strcspn(line, "\n"), line);
		return val;
	}
	return NULL;
}

struct verify_want {
	pid_t ppid;	     /* > 0: must be the child of this pid */
	uid_t uid;	     /* every uid field */
	gid_t gid;	     /* every gid field */
	uint32_t namespaces; /* must differ from ours */
	/* ours (device, inode), index as ns_files[], read once per verification */
	struct {
		dev_t dev;
		ino_t ino;
	} own[sizeof(ns_files) / sizeof(ns_files[0])];
};

/* Our own namespaces' identities, for the ones in want->namespaces. */
static int own_namespaces(const bx_worker *w, struct verify_want *want, bx_error *err)
{
	_cleanup_fd_ int self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (self < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET,
			       "verifying worker %d: open /proc/self: %m", (int)w->pid);
	for (size_t i = 0; i < sizeof(ns_files) / sizeof(ns_files[0]); i++) {
		struct stat st;

		if (!(want->namespaces & ns_files[i].bit))
			continue;
		if (fstatat(self, ns_files[i].name, &st, 0) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET,
				       "verifying worker %d: stat /proc/self/%s: %m", (int)w->pid,
				       ns_files[i].name);
		want->own[i].dev = st.st_dev;
		want->own[i].ino = st.st_ino;
	}
	return 0;
}

/*
 * Verify, don't trust, and pin: one /proc/<pid> directory fd for every read
 * (status once, the namespace files by fstatat), then the pidfd must still
 * be alive, so that everything read was that process and not a recycled pid.
 */
static int verify_pinned(const bx_worker *w, pid_t pid, int pidfd, const struct verify_want *want,
			 bx_error *err)
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
	char path[32], text[4096], val[64], ids[64];
	_cleanup_fd_ int dir = -1, fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "verifying worker %d: open %s: %m",
			       (int)w->pid, path);
	fd = openat(dir, "status", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, text, sizeof(text) - 1)) <= 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "verifying worker %d: %s/status: %m",
			       (int)w->pid, path);
	text[n] = '\0';
	if (want->ppid > 0) {
		uint64_t ppid = 0;

		if (!status_field(text, "PPid", val, sizeof(val)) ||
		    bx_parse_u64(val, strlen(val), INT32_MAX, &ppid) < 0 ||
		    (pid_t)ppid != want->ppid)
			return bx_fail(err, -EPROTO, BX_NO_OFFSET,
				       "worker %d: pid %d is not its child", (int)w->pid, (int)pid);
	}
	for (size_t i = 0; i < sizeof(status_want) / sizeof(status_want[0]); i++) {
		if (!status_field(text, status_want[i].key, val, sizeof(val)))
			return bx_fail(err, -ENOENT, BX_NO_OFFSET,
				       "verifying worker %d: no %s in %s/status", (int)w->pid,
				       status_want[i].key, path);
		if (strcmp(val, status_want[i].want) != 0)
			return bx_fail(err, -EPERM, BX_NO_OFFSET,
				       "verifying worker %d: %s of pid %d is %s, want %s",
				       (int)w->pid, status_want[i].key, (int)pid, val,
				       status_want[i].want);
	}
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", (unsigned)want->uid, (unsigned)want->uid,
		 (unsigned)want->uid, (unsigned)want->uid);
	if (!status_field(text, "Uid", val, sizeof(val)) || strcmp(val, ids) != 0)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "verifying worker %d: pid %d runs as uid %s, want %u", (int)w->pid,
			       (int)pid, val, (unsigned)want->uid);
	snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", (unsigned)want->gid, (unsigned)want->gid,
		 (unsigned)want->gid, (unsigned)want->gid);
	if (!status_field(text, "Gid", val, sizeof(val)) || strcmp(val, ids) != 0)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "verifying worker %d: pid %d runs as gid %s, want %u", (int)w->pid,
			       (int)pid, val, (unsigned)want->gid);
	for (size_t i = 0; i < sizeof(ns_files) / sizeof(ns_files[0]); i++) {
		struct stat b;

		if (!(want->namespaces & ns_files[i].bit))
			continue;
		if (fstatat(dir, ns_files[i].name, &b, 0) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET,
				       "verifying worker %d: stat %s/%s: %m", (int)w->pid, path,
				       ns_files[i].name);
		if (want->own[i].ino == b.st_ino && want->own[i].dev == b.st_dev)
			return bx_fail(err, -EPERM, BX_NO_OFFSET,
				       "verifying worker %d: pid %d shares our %s namespace",
				       (int)w->pid, (int)pid, ns_files[i].name + 3);
	}
	/* Still the same process: what we read was its (a dead one's pid may be reused). */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return bx_fail(err, -ESRCH, BX_NO_OFFSET, "verifying worker %d: pid %d is gone",
			       (int)w->pid, (int)pid);
	return 0;
}

/* Without CONFIG_PROC_CHILDREN: the children of pid from every /proc/<pid>/stat. */
static ssize_t children_by_scan(pid_t parent, char *buf, size_t len)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t used = 0;

	if (!d)
		return -1;
	buf[0] = '\0';
	while ((e = readdir(d)) != NULL) {
		char path[64], stat[512], *paren;
		_cleanup_fd_ int fd = -1;
		int ppid = 0;
		ssize_t n;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (n = read(fd, stat, sizeof(stat) - 1)) <= 0)
			continue;
		stat[n] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything, so after the last ')'. */
		paren = strrchr(stat, ')');
		if (!paren || paren[1] != ' ' || !paren[2] || paren[3] != ' ')
			continue;
		ppid = (int)strtol(paren + 4, NULL, 10);
		if (ppid != parent)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%.16s ", e->d_name);
		if (used >= len)
			break;
	}
	closedir(d);
	return used >= len ? (ssize_t)len - 1 : (ssize_t)used;
}

/* The serving process: init's only child (before any job ran, nothing else can be). */
static int find_serving(bx_worker *w, bx_error *err)
{
	char path[64], buf[64];
	_cleanup_fd_ int fd = -1;
	uint64_t pid = 0;
	ssize_t n;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)w->pid, (int)w->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		n = children_by_scan(w->pid, buf, sizeof(buf));
	else if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "worker %d: %s: %m", (int)w->pid, path);
	if (n < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "worker %d: reading /proc: %m",
			       (int)w->pid);
	buf[n] = '\0';
	len = strcspn(buf, " \n");
	if (len == 0 || buf[len + strspn(buf + len, " \n")] != '\0' ||
	    bx_parse_u64(buf, len, INT32_MAX, &pid) < 0)
		return bx_fail(err, -EPROTO, BX_NO_OFFSET,
			       "worker %d: its init should have one child, has '%.40s'",
			       (int)w->pid, buf);
	w->serving_pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (w->serving_pidfd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "worker %d: pidfd_open(%d): %m",
			       (int)w->pid, (int)pid);
	w->serving_pid = (pid_t)pid;
	return 0;
}

/*
 * From outside, the serving process (and init, which has the same
 * confinement) must show NoNewPrivs 1, Seccomp 2, no capabilities in any set,
 * the host ids we gave it, and namespace inodes other than ours for every
 * namespace it says it entered (and at least the policy's required ones).
 */
static int verify_worker(bx_worker *w, const struct bx_policy *policy, uint32_t namespaces,
			 uid_t uid, gid_t gid, bx_error *err)
{
	uint32_t required = policy->namespaces & ~policy->namespaces_optional;
	struct verify_want want = {.uid = uid, .gid = gid, .namespaces = namespaces};
	int r;

	if ((namespaces & required) != required)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "verifying worker %d: namespaces %#x in effect, policy requires %#x",
			       (int)w->pid, namespaces, required);
	r = own_namespaces(w, &want, err);
	if (r < 0)
		return r;
	if (!w->has_init) {
		w->serving_pid = w->pid;
		return verify_pinned(w, w->pid, w->pidfd, &want, err);
	}
	r = find_serving(w, err);
	if (r < 0)
		return r;
	want.ppid = w->pid;
	r = verify_pinned(w, w->serving_pid, w->serving_pidfd, &want, err);
	if (r < 0)
		return r;
	/* init: the same confinement (its namespaces, but for time, are the same too). */
	want.ppid = 0;
	want.namespaces &= ~(uint32_t)BX_NS_TIME;
	return verify_pinned(w, w->pid, w->pidfd, &want, err);
}

/* ---------------------------------------------------------------- start-up */

struct foreign {
	int prog_fd; /* opened by the parent */
	int fd_no;   /* its number in the worker (at the nofile limit) */
	char *const *argv;
	char *const *envp;
};

/*
 * The config frame for a worker: the policy's settings (with the host ids it
 * runs as), how it was started, and its compiled filter as a sealed memfd.
 */
static int send_config(bx_worker *w, const struct bx_policy *policy, int bpf_fd, uint32_t cloned,
		       bool become, uid_t uid, gid_t gid, const struct foreign *fx, bool learn,
		       bx_error *err)
{
	_cleanup_free_ char *buf = NULL;
	char num[24];
	bx_msg *m = NULL;
	size_t len = 0;
	int r;

	r = bx_msg_new(&m);
	if (r == 0)
		r = bx_policy_to_msg(policy, m);
	snprintf(num, sizeof(num), "%u", (unsigned)uid);
	if (r == 0)
		r = bx_msg_set(m, "uid", num);
	snprintf(num, sizeof(num), "%u", (unsigned)gid);
	if (r == 0)
		r = bx_msg_set(m, "gid", num);
	snprintf(num, sizeof(num), "%u", (unsigned)cloned);
	if (r == 0)
		r = bx_msg_add(m, "cloned", num);
	if (r == 0)
		r = bx_msg_add(m, "become", become ? "1" : "0");
	snprintf(num, sizeof(num), "%d", (cloned & BX_NS_PID) ? BX_SPAWN_NOTE_FD : 0);
	if (r == 0)
		r = bx_msg_add(m, "note", num);
	if (fx) {
		snprintf(num, sizeof(num), "%d", fx->fd_no);
		if (r == 0)
			r = bx_msg_add(m, "exec_fd", num);
		if (r == 0)
			r = bx_msg_touch(m, "exec_argv");
		for (size_t i = 0; r == 0 && fx->argv[i]; i++)
			r = bx_msg_add(m, "exec_argv", fx->argv[i]);
		if (r == 0)
			r = bx_msg_touch(m, "exec_env");
		for (size_t i = 0; r == 0 && fx->envp[i]; i++)
			r = bx_msg_add(m, "exec_env", fx->envp[i]);
	}
	if (r == 0 && !fx)
		r = bx_remote_config_offer(m);
	/* Learning mode: the channel to the supervisor is this fd (spawn/learn.h). */
	snprintf(num, sizeof(num), "%d", BX_SPAWN_LEARN_FD);
	if (r == 0 && learn)
		r = bx_msg_add(m, "learn", num);
	if (r == 0)
		r = bx_msg_encode(m, &buf, &len);
	bx_msg_free(m);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "encoding the config: %s", strerror(-r));
	/* If the worker is already gone this fails; the wait then says how it died. */
	bx_ignore(bx_beam_send(w->main, buf, len, bpf_fd));
	return 0;
}

/* What the start-up wait collected. */
struct startup {
	bool started, ready;
	uint32_t namespaces; /* from init's report */
	char report[BX_NOTE_TEXT_MAX + 1];
	char error[BX_NOTE_TEXT_MAX + 1];
	int error_code; /* of the E note: -errno */
	struct bx_remote_hello hello;
};

/*
 * Reads what init said so far: 0, 1 at EOF (init is gone), or -errno with
 * err set if the serving process failed to start.
 */
static int read_notes(bx_worker *w, struct startup *su, bx_error *err)
{
	struct bx_note note = {.type = 0};
	int r;

	while ((r = bx_note_read(w->note_fd, &note)) == 1) {
		if (note.type == BX_NOTE_REPORT) {
			su->namespaces = (uint32_t)note.value;
			bx_printable(note.text, note.len, sizeof(su->report) - 1, 1, su->report,
				     sizeof(su->report));
		} else if (note.type == BX_NOTE_ERROR) {
			su->error_code = note.value < 0 ? note.value : -EIO;
			bx_printable(note.text, note.len, sizeof(su->error) - 1, 0, su->error,
				     sizeof(su->error));
		} else if (note.type == BX_NOTE_STARTED && (note.value != 0 || su->error[0])) {
			/* An E note before S: the serving process failed before it ran. */
			return bx_fail(err,
				       note.value > 0	    ? -note.value
				       : su->error_code < 0 ? su->error_code
							    : -EPROTO,
				       BX_NO_OFFSET, "worker %d: %s", (int)w->pid,
				       su->error[0] ? su->error : "the program did not start");
		} else if (note.type == BX_NOTE_STARTED) {
			su->started = true;
		}
	}
	if (r == -EPROTO)
		return bx_fail(err, -EPROTO, BX_NO_OFFSET, "worker %d: a bad note from its init",
			       (int)w->pid);
	return r == 0 ? 1 : 0;
}

/* The worker died before it was ready: say how, with its own reason if it gave one. */
static int died_early(bx_worker *w, struct startup *su, const char *why, bx_error *err)
{
	char how[BX_ERROR_TEXT_MAX];
	char text[BX_ERROR_TEXT_MAX];

	snprintf(text, sizeof(text), "%s", why);
	if (bx_worker_wait(w, BX_WORKER_EXIT_GRACE_MS, NULL) < 0) {
		bx_ignore(bx_worker_kill(w, SIGKILL));
		bx_ignore(bx_worker_wait(w, -1, NULL));
	}
	if (!text[0] && w->note_fd >= 0)
		bx_ignore(read_notes(w, su, NULL));
	bx_worker_describe(w, how, sizeof(how));
	if (!text[0])
		snprintf(text, sizeof(text), "%.200s", su->error);
	return bx_fail(err, -ECHILD, BX_NO_OFFSET, "%s before it was ready%s%s", how,
		       text[0] ? ": " : "", text);
}

/*
 * Waits (bounded by the ready timeout, and watching the pidfd) until the
 * serving process runs: init's start note, and the worker's ready message
 * (a foreign program sends none).
 */
static int wait_started(bx_worker *w, bool foreign, const struct timespec *t0, int timeout_ms,
			struct startup *su, bx_error *err)
{
	bool notes_open = w->has_init;

	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = w->pidfd, .events = POLLIN},
		    {.fd = notes_open ? w->note_fd : -1, .events = POLLIN},
		    {.fd = foreign || su->ready ? -1 : bx_beam_fd(w->main), .events = POLLIN},
		};
		long left = timeout_ms - ms_since(t0);
		int r;

		if ((su->started || !w->has_init) && (foreign || su->ready))
			return 0;
		if (left <= 0)
			return bx_fail(err, -ETIMEDOUT, BX_NO_OFFSET,
				       "worker %d was not ready after %d ms", (int)w->pid,
				       timeout_ms);
		r = poll(pfd, 3, (int)left);
		if (r < 0 && errno != EINTR)
			return bx_fail(err, -errno, BX_NO_OFFSET, "poll: %m");
		if (r <= 0)
			continue;
		if (pfd[1].revents) {
			r = read_notes(w, su, err);
			if (r < 0)
				return r;
			if (r == 1)
				notes_open = false; /* init is gone: the pidfd says how */
		}
		if (pfd[2].revents) {
			r = bx_remote_read_hello(w->main, &su->hello, err);
			if (r == -EAGAIN || r == -EINTR)
				continue;
			if (r == -EPIPE || r == -ECHILD)
				return died_early(w, su, err ? err->text : "", err);
			if (r < 0)
				return r;
			su->ready = true;
			continue;
		}
		if (pfd[0].revents)
			return died_early(w, su, "", err);
	}
}

/* The host ids of a new worker: a dynamic uid, the policy's (root parent) or our own. */
static int choose_ids(bx_worker *w, const struct bx_policy *policy, bool root, uid_t *uid,
		      gid_t *gid, bx_error *err)
{
	if (!root) {
		*uid = geteuid();
		*gid = getegid();
		return 0;
	}
	if (policy->uid_dynamic) {
		int r = bx_dynuid_acquire(&w->uid, err);

		if (r < 0)
			return r;
		*uid = w->uid.uid;
		*gid = (gid_t)w->uid.uid;
		return 0;
	}
	if (policy->uid == 0 || policy->gid == 0)
		return bx_fail(
		    err, -EPERM, BX_NO_OFFSET,
		    "the policy asks for uid/gid 0; a worker never runs as root on the host");
	*uid = policy->uid;
	*gid = policy->gid;
	return 0;
}

/*
 * bx_child_start's before_release hook: the parent puts the child (still
 * waiting on its sync pipe, so nothing of the worker has run yet) into its
 * cgroup leaf, in every hierarchy the leaf has (v2, or each v1 one). pid 1
 * is then in the leaf before it can fork, so the whole worker is. The child
 * itself makes no call for it (raw system calls only between clone and exec).
 */
struct leaf_join {
	const struct bx_cgroup_leaf *leaf;
	int error; /* errno of the write that failed, or 0 */
};

static int join_cgroup_leaf(pid_t pid, void *ctx)
{
	struct leaf_join *j = ctx;
	int r = bx_cgroup_leaf_add(j->leaf, pid);

	j->error = -r;
	return r;
}

/*
 * A policy as a worker gets it: its compiled filter as a sealed memfd and,
 * for the zygote, its wire form. The built-in default is prepared once for
 * the process's life (parsing it costs half a millisecond), others per spawn.
 */
struct prepared {
	const struct bx_policy *policy;
	int bpf_fd;
	char *wire;
	size_t wire_len;
	bool shared; /* the default's: nothing here is the caller's to free */
};

static struct prepared default_prep = {.bpf_fd = -1};
static int default_err;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static int policy_wire(const struct bx_policy *p, char **wire, size_t *len)
{
	bx_msg *m = NULL;
	int r = bx_msg_new(&m);

	if (r == 0)
		r = bx_policy_to_msg(p, m);
	if (r == 0)
		r = bx_msg_encode(m, wire, len);
	bx_msg_free(m);
	return r;
}

/* Fills pr for p (and the foreign program's exec allowance, if fx). */
static int prepare(const struct bx_policy *p, const struct foreign *fx, bool want_wire,
		   struct prepared *pr, bx_error *err)
{
	struct bx_bpf bpf = {0};
	int r;

	*pr = (struct prepared){.policy = p, .bpf_fd = -1};
	/* Compiled here, once (cached per policy); the worker only loads it. */
	if (fx) {
		/* The program's exec and the note of its failure; nothing of a worker's runtime. */
		struct bx_seccomp_extra extra = {
		    .exec_fd = fx->fd_no,
		    .runtime = BX_RUNTIME_EXEC,
		    .note_fd = BX_SPAWN_NOTE_FD,
		    /* hook (violation.c): refused calls named, the listener sent on this fd */
		    .violations = true,
		    .violation_fd = bx_notify_channel_fd(fx->fd_no),
		};

		r = bx_seccomp_compile(p, &extra, &bpf, err);
	} else {
		r = bx_filter_cached(p, &bpf, err);
	}
	if (r < 0)
		return r;
	pr->bpf_fd = bx_seccomp_export_fd(&bpf);
	bx_bpf_free(&bpf);
	if (pr->bpf_fd < 0)
		return bx_fail(err, pr->bpf_fd, BX_NO_OFFSET, "exporting the filter: %s",
			       strerror(-pr->bpf_fd));
	r = want_wire ? policy_wire(p, &pr->wire, &pr->wire_len) : 0;
	if (r < 0) {
		bx_close_and_reset(&pr->bpf_fd);
		return bx_fail(err, r, BX_NO_OFFSET, "encoding the policy: %s", strerror(-r));
	}
	return 0;
}

static void prepared_free(struct prepared *pr)
{
	if (pr->shared)
		return;
	bx_close_and_reset(&pr->bpf_fd);
	free(pr->wire);
	pr->wire = NULL;
}

static void prepare_default(void)
{
	struct bx_policy *p = NULL;

	default_err = bx_policy_default(&p);
	if (default_err == 0)
		default_err = prepare(p, NULL, true, &default_prep, NULL);
	if (default_err < 0) {
		bx_policy_free(p);
		return;
	}
	default_prep.shared = true;
}

/* Names in env_keep that the C library or the dynamic loader read at start-up only. */
static bool env_needs_exec(const bx_spawn_opts *opts)
{
	static const char *const prefixes[] = {"LD_", "GLIBC_", "MALLOC_"};

	for (size_t i = 0; opts->env_keep && opts->env_keep[i]; i++)
		for (size_t k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++)
			if (strncmp(opts->env_keep[i], prefixes[k], strlen(prefixes[k])) == 0)
				return true;
	return false;
}

/*
 * Whether this start can go through the zygote: not a foreign program (it
 * needs its own exec), a policy with user and pid namespaces (the zygote's
 * children are born in them), no variable that would act only at an exec.
 */
static bool zygote_fits(const bx_spawn_opts *opts, const struct bx_policy *p,
			const struct foreign *fx)
{
	return !fx && (p->namespaces & (BX_NS_USER | BX_NS_PID)) == (BX_NS_USER | BX_NS_PID) &&
	       !env_needs_exec(opts);
}

static int spawn_worker(const bx_spawn_opts *opts, struct foreign *fx, bx_worker **out,
			bx_error *err)
{
	static char *const argv[] = {"beambox-worker", NULL};
	bx_spawn_opts defaults;
	struct bx_child_spec spec;
	struct bx_child child;
	_cleanup_fd_ int devnull = -1;
	int sv[2] = {-1, -1}, note[2] = {-1, -1}, learn_end = -1;
	char **envp = NULL;
	bx_worker *w = NULL;
	struct bx_remote_peer peer;
	struct startup *su = NULL;
	struct prepared prep = {.bpf_fd = -1};
	const struct bx_policy *policy;
	struct timespec t0;
	bool root = geteuid() == 0, warm = false, try_zygote;
	int learn;
	uid_t uid = 0;
	gid_t gid = 0;
	int timeout, r;
	uint64_t audit_t0 = bx_audit_now(); /* hook (audit.c): spawn duration */
	struct leaf_join join = {.leaf = NULL, .error = 0};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!init_called)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "bx_spawn_init() must be called at the top of main()");
	if (!opts) {
		bx_spawn_opts_init(&defaults);
		opts = &defaults;
	}
	if (opts->start < BX_SPAWN_START_AUTO || opts->start > BX_SPAWN_START_ZYGOTE)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_spawn: bad start %d", opts->start);
	timeout = opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms : 10000;
	policy = opts->policy;
	if (!policy) {
		pthread_once(&default_once, prepare_default);
		if (default_err < 0)
			return bx_fail(err, default_err, BX_NO_OFFSET, "default policy: %s",
				       strerror(-default_err));
		policy = default_prep.policy;
	}
	learn = bx_learn_mode();
	if (learn < 0) {
		/* Refused (a stray variable): no worker at all; the audit log says why. */
		r = bx_learn_worker_channel(policy, &learn_end, err);
		goto fail;
	}
	/* Learning starts every worker cold, whatever opts->start asks (spawn/learn.h). */
	try_zygote = opts->start != BX_SPAWN_START_COLD && !learn && zygote_fits(opts, policy, fx);
	if (opts->start == BX_SPAWN_START_ZYGOTE && !try_zygote && !learn)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "bx_spawn: the zygote starts only workers of this program, under a "
			       "policy with user and pid namespaces, with no LD_*, GLIBC_* or "
			       "MALLOC_* variable kept");
	if (fx && !(policy->namespaces & BX_NS_PID))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "a foreign worker needs a pid namespace (its init reports its end)");
	if (opts->policy) {
		r = prepare(policy, fx, try_zygote, &prep, err);
		if (r < 0)
			goto fail;
	} else {
		prep = default_prep;
	}
	r = build_env(opts, &envp);
	if (r < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "building the worker's environment: %s",
			    strerror(-r));
		goto fail;
	}
	w = calloc(1, sizeof(*w));
	su = calloc(1, sizeof(*su));
	if (!w || !su) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
		goto fail;
	}
	w->pidfd = w->note_fd = w->serving_pidfd = -1;
	w->uid.lock_fd = -1;
	bx_violation_label(policy, w->policy_label,
			   sizeof(w->policy_label)); /* hook (violation.c) */
	bx_cgroup_leaf_init(&w->cgroup);
	join.leaf = &w->cgroup;
	pthread_mutex_init(&w->lock, NULL);
	r = choose_ids(w, policy, root, &uid, &gid, err);
	if (r < 0)
		goto fail;
	/* The worker's cgroup leaf (v1 or v2), where this process may make one. */
	r = policy->cgroup != BX_NEED_OFF ? bx_cgroup_leaf_make(policy, &w->cgroup) : 0;
	if (r < 0 && policy->cgroup == BX_NEED_REQUIRED) {
		r = bx_fail(err, r, BX_NO_OFFSET, "cgroup (required): no leaf: %s", w->cgroup.why);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(note, O_CLOEXEC) < 0 || fcntl(note[0], F_SETFL, O_NONBLOCK) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "setting up the worker's fds: %m");
		goto fail;
	}
	w->note_fd = bx_steal_fd(&note[0]);
	if (try_zygote) {
		/* envp[0..1] are the markers of a fresh execution: the zygote's child has none. */
		struct bx_zygote_spawn zs = {
		    .wire = prep.wire,
		    .wire_len = prep.wire_len,
		    .bpf_fd = prep.bpf_fd,
		    .ns_flags = bx_clone_flags_for(policy->namespaces),
		    .ns_optional = bx_clone_flags_for(policy->namespaces_optional),
		    .uid = uid,
		    .gid = gid,
		    .as_root = root,
		    .envp = envp + 2,
		    .beam_fd = &sv[1],
		    .note_fd = &note[1],
		    .app_beam_fd = sv[0],
		    .stderr_fd = opts->stderr_fd,
		    .cgroup = &w->cgroup,
		    .timeout_ms = timeout,
		};

		r = bx_zygote_spawn(&zs, &child, err);
		if (r == -EAGAIN && opts->start == BX_SPAWN_START_ZYGOTE)
			r = bx_fail(err, -ENOTSUP, BX_NO_OFFSET,
				    "bx_spawn: no zygote in this process (see bx_spawn_init)");
		if (r < 0 && r != -EAGAIN)
			goto fail;
		warm = r == 0;
		/* The request went out and the zygote is gone: a cold start, on fds of its own. */
		if (!warm && sv[1] < 0) {
			bx_close_and_reset(&sv[0]);
			bx_close_and_reset(&w->note_fd);
			bx_close_and_reset(&note[1]);
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
			    pipe2(note, O_CLOEXEC) < 0 || fcntl(note[0], F_SETFL, O_NONBLOCK) < 0) {
				r = bx_fail(err, -errno, BX_NO_OFFSET,
					    "setting up the worker's fds: %m");
				goto fail;
			}
			w->note_fd = bx_steal_fd(&note[0]);
		}
	}
	if (!warm) {
		pthread_once(&exe_once, make_exe_copy);
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (exe_fd < 0 || devnull < 0) {
			r = exe_fd < 0 ? bx_fail(err, exe_err, BX_NO_OFFSET,
						 "copying /proc/self/exe: %s", strerror(-exe_err))
				       : bx_fail(err, -errno, BX_NO_OFFSET, "/dev/null: %m");
			goto fail;
		}
		spec = (struct bx_child_spec){
		    .ns_flags = bx_clone_flags_for(policy->namespaces),
		    .ns_optional = bx_clone_flags_for(policy->namespaces_optional),
		    .uid = uid,
		    .gid = gid,
		    .as_root = root,
		    .fds = {{devnull, STDIN_FILENO, false},
			    {devnull, STDOUT_FILENO, false},
			    {opts->stderr_fd >= 0 ? opts->stderr_fd : devnull, STDERR_FILENO,
			     false},
			    {sv[1], BX_SPAWN_BEAM_FD, false},
			    {note[1], BX_SPAWN_NOTE_FD, false}},
		    .nfds = 5,
		    .exec_fd = exe_fd,
		    .argv = argv,
		    .envp = envp,
		    .ambient = root ? ROOT_SETUP_CAPS : SETUP_CAPS,
		    .timeout_ms = timeout,
		    .before_release = w->cgroup.made ? join_cgroup_leaf : NULL,
		    .ctx = &join,
		};
		if (fx)
			spec.fds[spec.nfds++] = (struct bx_fd_move){fx->prog_fd, fx->fd_no, false};
		if (learn) {
			r = bx_learn_worker_channel(policy, &learn_end, err);
			if (r < 0)
				goto fail;
			spec.fds[spec.nfds++] =
			    (struct bx_fd_move){learn_end, BX_SPAWN_LEARN_FD, false};
		}
		r = bx_child_start(&spec, &child, err);
		bx_close_and_reset(&learn_end);
		if (r < 0 && join.error)
			r = bx_fail(err, -join.error, BX_NO_OFFSET,
				    "cgroup: moving the worker into its leaf %s: %s",
				    w->cgroup.name, strerror(join.error));
		if (r < 0)
			goto fail;
	}
	w->pid = child.pid;
	w->pidfd = child.pidfd;
	w->has_init = (child.ns & CLONE_NEWPID) != 0;
	bx_close_and_reset(&sv[1]);
	bx_close_and_reset(&note[1]);

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
	/* A zygote's child has its configuration already. */
	r = warm ? 0
		 : send_config(w, policy, prep.bpf_fd, bx_ns_for_clone_flags(child.ns), root, uid,
			       gid, fx, learn > 0, err);
	if (r < 0)
		goto fail;
	r = wait_started(w, fx != NULL, &t0, timeout, su, err);
	if (r < 0)
		goto fail;
	r = verify_worker(w, policy, w->has_init ? su->namespaces : su->hello.namespaces, uid, gid,
			  err);
	if (r < 0)
		goto fail;
	w->report = strdup(fx || !su->hello.report[0] ? su->report : su->hello.report);
	if (!w->report) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
		goto fail;
	}

	peer = (struct bx_remote_peer){
	    .exit_fd = w->pidfd,
	    .describe_exit = peer_describe_exit,
	    .kill = peer_kill,
	    .ctx = w,
	    .takes_fds = fx ? 0 : su->hello.takes_fds,
	    .one_channel = fx ? 0 : su->hello.one_channel,
	};
	r = bx_remote_proxy_new(w->main, &peer, &w->proxy);
	if (r < 0) {
		r = bx_fail(err, r, BX_NO_OFFSET, "proxy engine: %s", strerror(-r));
		goto fail;
	}
	w->warm = warm;
	bx_audit_spawned(opts->audit_fd, w, w->proxy, w->pid, w->serving_pid, policy->name,
			 w->report, audit_t0); /* hook (audit.c) */
	prepared_free(&prep);
	free_strv(envp);
	free(su);
	*out = w;
	return 0;

fail:
	bx_audit_spawn_failed(opts->audit_fd, err ? err->text : strerror(-r)); /* hook (audit.c) */
	bx_close_and_reset(&learn_end);
	bx_close_and_reset(&sv[0]);
	bx_close_and_reset(&sv[1]);
	bx_close_and_reset(&note[0]);
	bx_close_and_reset(&note[1]);
	prepared_free(&prep);
	free_strv(envp);
	free(su);
	if (w) {
		if (w->pidfd >= 0 && !w->reaped) {
			bx_ignore(bx_worker_kill(w, SIGKILL));
			bx_ignore(bx_worker_wait(w, -1, NULL));
		}
		bx_worker_free(w);
	}
	return r;
}

BX_API int bx_spawn(const bx_spawn_opts *opts, bx_worker **out, bx_error *err)
{
	return spawn_worker(opts, NULL, out, err);
}

BX_API int bx_spawn_exec(const bx_spawn_opts *opts, const char *path, char *const argv[],
			 char *const envp[], bx_worker **out, bx_error *err)
{
	static char *const no_env[] = {NULL};
	bx_spawn_opts o;
	struct foreign fx;
	char **env = NULL;
	size_t n = 0;
	int r;

	if (!path || !argv || !argv[0])
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_spawn_exec: no program or argv");
	if (!envp)
		envp = no_env;
	while (envp[n])
		n++;
	if (n > BX_SPAWN_ENV_MAX)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET, "bx_spawn_exec: more than %d variables",
			       BX_SPAWN_ENV_MAX);
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	/* The original's way in: ENGINESPAWN=1 and the socket on fd 3. */
	env[0] = BX_SPAWN_MARKER "=1";
	for (size_t i = 0; i < n; i++) {
		if (strncmp(envp[i], BX_SPAWN_MARKER "=", strlen(BX_SPAWN_MARKER) + 1) == 0) {
			free(env);
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "bx_spawn_exec: %s is set by beambox", BX_SPAWN_MARKER);
		}
		env[i + 1] = envp[i];
	}
	if (opts)
		o = *opts;
	else
		bx_spawn_opts_init(&o);
	if (!o.policy) {
		pthread_once(&default_once, prepare_default);
		if (default_err < 0) {
			free(env);
			return bx_fail(err, default_err, BX_NO_OFFSET, "default policy: %s",
				       strerror(-default_err));
		}
		o.policy = default_prep.policy;
	}
	fx = (struct foreign){.prog_fd = -1, .argv = argv, .envp = env};
	fx.fd_no = bx_exec_fd_number(o.policy);
	if (fx.fd_no < 0) {
		r = bx_fail(err, fx.fd_no, BX_NO_OFFSET,
			    "the policy's rlimit.nofile leaves no room for the program's fd");
		goto out;
	}
	fx.prog_fd = bx_open_program(path, err);
	if (fx.prog_fd < 0) {
		r = fx.prog_fd;
		goto out;
	}
	r = spawn_worker(&o, &fx, out, err);
out:
	if (fx.prog_fd >= 0)
		close(fx.prog_fd);
	free(env);
	return r;
}
