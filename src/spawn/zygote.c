/* SPDX-License-Identifier: MIT */
/* zygote: the process that forks workers on request, and its client (see zygote.h). */
#define _GNU_SOURCE
#include "spawn/zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <beambox/beam.h>
#include <beambox/data.h>
#include <beambox/spawn.h>

#include "confine/seccomp.h"
#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/wire.h"
#include "remote.h"
#include "spawn/child.h"
#include "spawn/worker.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* ---------------------------------------------------------------- the wire (same binary both ends)
 */

#define ZY_MAGIC    0x595a5842u /* "BXZY" */
#define ZY_OP_SPAWN 1u
/* Flags of a request. */
#define ZY_ROOT	       0x1u /* the application is root: the worker becomes uid/gid */
#define ZY_STDERR      0x2u /* an fd for the worker's stderr is attached */
#define ZY_ONE_CHANNEL 0x4u /* the parent takes beambox/2 jobs (remote.h) */
/* Attached fds: beam, note, filter, [stderr], cgroup.procs of each hierarchy. */
#define ZY_FDS_MAX (4u + BX_CGROUP_DIRS_MAX)
/* The fds' places in a request. */
enum { ZY_FD_BEAM, ZY_FD_NOTE, ZY_FD_BPF, ZY_FD_FIXED };
/* A filter's largest size in bytes. */
#define ZY_FILTER_MAX (BPF_MAXINSNS * sizeof(struct sock_filter))

struct zy_req {
	uint32_t magic;
	uint32_t size; /* sizeof(struct zy_req): both ends are the same program */
	uint32_t op;
	uint32_t flags;
	uint64_t ns_flags;
	uint64_t ns_optional;
	uint32_t uid, gid;
	uint32_t ncgroup;  /* cgroup.procs fds attached after the others */
	uint32_t nenv;	   /* NUL-terminated NAME=value strings ... */
	uint32_t env_len;  /* ... in this many bytes, right after the header */
	uint32_t wire_len; /* then the policy's wire form */
};

struct zy_reply {
	uint32_t magic;
	int32_t error; /* 0 or -errno */
	int32_t pid;   /* the child, as the application (and the zygote) sees it */
	uint32_t ns;   /* the clone flags it was born with */
	char text[BX_ERROR_TEXT_MAX];
};

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bx_close_and_reset(&fds[i]);
}

/* ================================================================ the zygote */

/* A policy the zygote has parsed and imported, keyed by the bytes it came as. */
struct slot {
	char *wire;
	size_t wire_len;
	char *filter; /* the filter memfd's bytes */
	size_t filter_len;
	struct bx_policy *policy;
	struct bx_bpf bpf;
	int netns_fd; /* netns = shared: the one its workers join (made on first use), or -1 */
	int spare_netns_fd; /* an empty netns made ahead for its next worker alone, or -1 */
	unsigned long used;
};

static struct slot slots[BX_ZYGOTE_SLOTS];
static unsigned long slot_clock;
static bx_installer_fn zy_installer;
static void *zy_installer_ctx;

static void slot_clear(struct slot *s)
{
	free(s->wire);
	free(s->filter);
	bx_policy_free(s->policy);
	bx_bpf_free(&s->bpf);
	if (s->netns_fd > 0)
		close(s->netns_fd);
	if (s->spare_netns_fd > 0)
		close(s->spare_netns_fd);
	memset(s, 0, sizeof(*s));
	s->netns_fd = s->spare_netns_fd = -1;
}

/* The filter memfd's bytes (a sealed memfd of at most ZY_FILTER_MAX bytes). */
static int read_filter(int fd, char **out, size_t *len, bx_error *err)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	char *buf;
	size_t done = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (size_t)st.st_size > ZY_FILTER_MAX || seals < 0 ||
	    (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) !=
		(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW))
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
			       "zygote: the filter is not a sealed memfd of a filter's size");
	buf = malloc((size_t)st.st_size);
	if (!buf)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "zygote: out of memory");
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + done, (size_t)st.st_size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return bx_fail(err, n < 0 ? -errno : -EIO, BX_NO_OFFSET,
				       "zygote: reading the filter: %s",
				       n < 0 ? strerror(errno) : "short");
		}
		done += (size_t)n;
	}
	*out = buf;
	*len = done;
	return 0;
}

/*
 * The slot for this policy: found by its bytes (no parse, no import), or
 * made from them in the least recently used slot.
 */
static int slot_for(const char *wire, size_t wire_len, int bpf_fd, struct slot **out, bx_error *err)
{
	struct slot fresh = {.netns_fd = -1, .spare_netns_fd = -1}, *victim = &slots[0];
	bx_msg *m = NULL;
	int r;

	r = read_filter(bpf_fd, &fresh.filter, &fresh.filter_len, err);
	if (r < 0)
		return r;
	if (!fresh.filter || !wire)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: no filter or policy");
	for (size_t i = 0; i < BX_ZYGOTE_SLOTS; i++) {
		struct slot *s = &slots[i];

		if (s->policy && s->wire_len == wire_len && s->filter_len == fresh.filter_len &&
		    memcmp(s->wire, wire, wire_len) == 0 &&
		    memcmp(s->filter, fresh.filter, fresh.filter_len) == 0) {
			free(fresh.filter);
			s->used = ++slot_clock;
			*out = s;
			return 0;
		}
		if (!s->policy || (victim->policy && s->used < victim->used))
			victim = s;
	}
	fresh.wire = malloc(wire_len);
	if (!fresh.wire) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "zygote: out of memory");
		goto fail;
	}
	memcpy(fresh.wire, wire, wire_len);
	fresh.wire_len = wire_len;
	r = bx_msg_decode(wire, wire_len, 0, &m, err);
	if (r == 0)
		r = bx_policy_from_msg(m, &fresh.policy, err);
	bx_msg_free(m);
	if (r == 0)
		r = bx_seccomp_import_fd(bpf_fd, &fresh.bpf, err);
	if (r < 0)
		goto fail;
	slot_clear(victim);
	*victim = fresh;
	victim->used = ++slot_clock;
	*out = victim;
	return 0;
fail:
	slot_clear(&fresh);
	return r;
}

/* The request's environment as a NULL-terminated vector pointing into its bytes. */
static int parse_env(const char *p, size_t len, uint32_t n, char ***out, bx_error *err)
{
	char **v;
	size_t off = 0;

	if (n > 256)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET, "zygote: %u variables", n);
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "zygote: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		const char *nul = off < len ? memchr(p + off, 0, len - off) : NULL;

		if (!nul || !memchr(p + off, '=', (size_t)(nul - (p + off))) || p[off] == '=') {
			free(v);
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: bad environment");
		}
		v[i] = (char *)(p + off);
		off = (size_t)(nul - p) + 1;
	}
	if (off != len) {
		free(v);
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: bad environment length");
	}
	*out = v;
	return 0;
}

/* bx_child_start's hook: the child joins its cgroup leaf (every hierarchy) before its release. */
struct cg_join {
	const int *fds;
	size_t n;
};

static int join_cgroup(pid_t pid, void *ctx)
{
	const struct cg_join *j = ctx;
	char num[16];
	int len = snprintf(num, sizeof(num), "%d", (int)pid);

	for (size_t i = 0; i < j->n; i++)
		if (write(j->fds[i], num, (size_t)len) != (ssize_t)len)
			return errno ? -errno : -EIO;
	return 0;
}

/* The child: the worker, with its configuration from the request. Never returns. */
static __attribute__((noreturn)) void zygote_child(struct slot *s, const struct zy_req *q,
						   char **envv, uint64_t ns, uint32_t joined)
{
	struct bx_worker_config c = {
	    .from_beambox = true,
	    .one_channel = (q->flags & ZY_ONE_CHANNEL) != 0,
	    .policy = s->policy,
	    .bpf_fd = -1,
	    .bpf = &s->bpf,
	    .cloned = bx_ns_for_clone_flags(ns),
	    .joined = joined,
	    .become = (q->flags & ZY_ROOT) != 0,
	    .note_fd = BX_SPAWN_NOTE_FD,
	    .exec_fd = -1,
	    .learn_fd = -1,
	    .uid = {.lock_fd = -1},
	};
	bx_beam *main = NULL;

	/* This copy of the zygote's memory is ours: the policy takes our ids. */
	c.policy->uid = q->uid;
	c.policy->gid = q->gid;
	environ = envv;
	if (bx_beam_new(BX_SPAWN_BEAM_FD, &main) < 0)
		_exit(1);
	bx_worker_side_serve(&c, main, zy_installer, zy_installer_ctx);
}

/*
 * Network namespaces made by the zygote (a root application's only: it must
 * be able to come back to its own, which belongs to the host's user
 * namespace). It keeps an fd on its own; a child cloned while the zygote
 * stands in another keeps that one. Two uses:
 *  - netns = shared: one empty netns per policy, made on first use, joined
 *    by every worker of that policy;
 *  - otherwise, for a policy with a net namespace: one made ahead, after a
 *    reply, for the policy's next worker alone (making one costs ~0.35 ms,
 *    here spent while the zygote waits for work instead of in the worker's
 *    start). Isolation is a fresh namespace's, owned by the host's user
 *    namespace rather than the worker's: its loopback stays down either way
 *    and the worker has no capability over it at all.
 */
static int own_netns_fd = -1;
static bool spares_off; /* making one failed once: every worker makes its own */
/* The slot the last request used, and whether the application is root (for its spare). */
static struct slot *last_slot;
static bool last_root;

/* A new empty network namespace in *out (and the zygote back in its own). */
static int make_netns(int *out, bx_error *err)
{
	if (own_netns_fd < 0) {
		own_netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (own_netns_fd < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "zygote: open own netns: %m");
	}
	if (unshare(CLONE_NEWNET) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "zygote: unshare(net): %m");
	*out = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(own_netns_fd, CLONE_NEWNET) < 0)
		_exit(125); /* standing in another netns for good: no zygote rather than that */
	if (*out < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "zygote: open the new netns: %m");
	return 0;
}

/* The slot's workers may start in a netns the zygote made (root, a net namespace). */
static bool premade_netns_fits(const struct slot *s, bool root)
{
	return root && (s->policy->namespaces & BX_NS_NET);
}

/* After a reply, while no request waits: the next worker's netns, made ahead. */
static void make_spare_netns(struct slot *s, bool root)
{
	bx_error err;

	if (spares_off || !s || !s->policy || s->policy->netns_shared || s->spare_netns_fd >= 0 ||
	    !premade_netns_fits(s, root))
		return;
	bx_error_clear(&err);
	if (make_netns(&s->spare_netns_fd, &err) < 0) {
		s->spare_netns_fd = -1;
		spares_off = true;
	}
}

/* Checks a request's header and fds against each other. */
static int check_request(const struct zy_req *q, size_t len, const int *fds, size_t nfds,
			 bx_error *err)
{
	size_t want = ZY_FD_FIXED + ((q->flags & ZY_STDERR) ? 1u : 0u) + q->ncgroup;
	struct stat st;

	if (len < sizeof(*q) || q->magic != ZY_MAGIC || q->size != sizeof(*q) ||
	    q->op != ZY_OP_SPAWN || (q->flags & ~(ZY_ROOT | ZY_STDERR | ZY_ONE_CHANNEL)) ||
	    q->ncgroup > BX_CGROUP_DIRS_MAX ||
	    (q->ns_flags & ~(uint64_t)(CLONE_NEWUSER | CLONE_NEWPID)) ||
	    (q->ns_optional & ~q->ns_flags) || !(q->ns_flags & CLONE_NEWUSER) ||
	    (size_t)q->env_len + q->wire_len != len - sizeof(*q) || q->wire_len == 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: malformed request");
	if (nfds != want)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: %zu fds, want %zu", nfds,
			       want);
	if (fstat(fds[ZY_FD_BEAM], &st) < 0 || !S_ISSOCK(st.st_mode))
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "zygote: the beam fd is no socket");
	if (fstat(fds[ZY_FD_NOTE], &st) < 0 || !S_ISFIFO(st.st_mode) ||
	    (fcntl(fds[ZY_FD_NOTE], F_GETFL) & O_ACCMODE) != O_WRONLY)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
			       "zygote: the note fd is no pipe's write end");
	for (size_t i = ZY_FD_FIXED + ((q->flags & ZY_STDERR) ? 1u : 0u); i < nfds; i++)
		if (fstat(fds[i], &st) < 0 || !S_ISREG(st.st_mode))
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "zygote: a cgroup fd is no file");
	return 0;
}

static int zygote_clone(const struct zy_req *q, int *fds, size_t nfds, struct slot *s, char **envv,
			pid_t *pid, uint64_t *ns, bx_error *err);

/* One request: returns the reply's error (0: a child was started, *pid, *ns). */
static int zygote_handle(const struct zy_req *q, size_t len, int *fds, size_t nfds, pid_t *pid,
			 uint64_t *ns, bx_error *err)
{
	const char *env = (const char *)(q + 1);
	char **envv = NULL;
	struct slot *s = NULL;
	int r;

	r = check_request(q, len, fds, nfds, err);
	if (r == 0)
		r = parse_env(env, q->env_len, q->nenv, &envv, err);
	if (r == 0)
		r = slot_for(env + q->env_len, q->wire_len, fds[ZY_FD_BPF], &s, err);
	if (r == 0)
		r = zygote_clone(q, fds, nfds, s, envv, pid, ns, err);
	free(envv);
	return r;
}

/* The clone of one request, its slot and environment ready. */
static int zygote_clone(const struct zy_req *q, int *fds, size_t nfds, struct slot *s, char **envv,
			pid_t *pid, uint64_t *ns, bx_error *err)
{
	struct bx_child_spec spec;
	struct bx_child child;
	struct cg_join cg;
	bool spare = false;
	int stderr_fd, join = -1, r;

	stderr_fd = (q->flags & ZY_STDERR) ? fds[ZY_FD_FIXED] : STDIN_FILENO;
	cg = (struct cg_join){.fds = fds + nfds - q->ncgroup, .n = q->ncgroup};
	spec = (struct bx_child_spec){
	    .ns_flags = q->ns_flags,
	    .ns_optional = q->ns_optional,
	    .uid = q->uid,
	    .gid = q->gid,
	    .as_root = (q->flags & ZY_ROOT) != 0,
	    /* An unprivileged application's zygote is root in a namespace of its own. */
	    .root_outside = !(q->flags & ZY_ROOT),
	    /* fds 0-2 of the zygote are /dev/null (read-write) */
	    .fds = {{STDIN_FILENO, STDIN_FILENO, false},
		    {STDIN_FILENO, STDOUT_FILENO, false},
		    {stderr_fd, STDERR_FILENO, false},
		    {fds[ZY_FD_BEAM], BX_SPAWN_BEAM_FD, true},
		    {fds[ZY_FD_NOTE], BX_SPAWN_NOTE_FD, true}},
	    .nfds = 5,
	    .exec_fd = -1,
	    .before_release = q->ncgroup ? join_cgroup : NULL,
	    .ctx = &cg,
	    .sibling = true,
	    .birth = true,
	    .check_alive = true,
	    .link_fd = BX_SPAWN_BEAM_FD,
	    .single_threaded = true,
	};
	/* The netns to start in: the policy's shared one, one made ahead, or none (its own). */
	if (s->policy->netns_shared && premade_netns_fits(s, q->flags & ZY_ROOT)) {
		r = s->netns_fd >= 0 ? 0 : make_netns(&s->netns_fd, err);
		if (r < 0)
			return r;
		join = s->netns_fd;
	} else if (s->spare_netns_fd >= 0) {
		join = s->spare_netns_fd;
		s->spare_netns_fd = -1;
		spare = true;
	}
	if (join >= 0 && setns(join, CLONE_NEWNET) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "zygote: setns(netns): %m");
		if (spare)
			close(join);
		return r;
	}
	r = bx_child_start(&spec, &child, err);
	if (r == 1)
		zygote_child(s, q, envv, child.ns, join >= 0 ? BX_NS_NET : 0);
	if (join >= 0 && setns(own_netns_fd, CLONE_NEWNET) < 0)
		_exit(125); /* as in make_netns */
	if (spare)
		close(join); /* its worker's now, alone */
	last_slot = s;
	last_root = (q->flags & ZY_ROOT) != 0;
	if (r < 0)
		return r;
	/* The application has the child's own pidfd: ours goes. */
	close(child.pidfd);
	*pid = child.pid;
	*ns = child.ns;
	return 0;
}

static void zygote_reply(int sock, int error, pid_t pid, uint64_t ns, const bx_error *err)
{
	struct zy_reply rep = {
	    .magic = ZY_MAGIC, .error = error, .pid = (int32_t)pid, .ns = (uint32_t)ns};

	if (error < 0)
		snprintf(rep.text, sizeof(rep.text), "%s",
			 err->text[0] ? err->text : strerror(-error));
	if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) != (ssize_t)sizeof(rep) && errno == EPIPE)
		_exit(0); /* the application is gone */
}

void bx_zygote_main(bx_installer_fn installer, void *ctx)
{
	static char buf[BX_ZYGOTE_MSG_MAX + sizeof(struct zy_req)];
	const int sock = BX_SPAWN_BEAM_FD;
	int type = 0;
	socklen_t tlen = sizeof(type);

	zy_installer = installer;
	zy_installer_ctx = ctx;
	/*
	 * Nobody but root (and, for an unprivileged application, its own uid's
	 * processes outside any sandbox, which own it anyway) may trace or read
	 * this process: not its workers, whatever uid they run as.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(125);
	unsetenv(BX_SPAWN_MARKER);
	unsetenv(BX_ZYGOTE_MARKER);
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_SEQPACKET ||
	    fcntl(sock, F_SETFD, FD_CLOEXEC) < 0)
		_exit(125);
	signal(SIGPIPE, SIG_IGN);
	/* What every child's cgroup step needs from the host's mounts, read once here. */
	bx_cgroup_probe();
	/* Each child compiles its init's filter from this set: parsed once, here. */
	(void)bx_runtime_rules(BX_RUNTIME_INIT);
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(ZY_FDS_MAX * sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		int fds[ZY_FDS_MAX];
		size_t nfds = 0;
		pid_t pid = 0;
		uint64_t ns = 0;
		bx_error err;
		ssize_t n;
		int r;

		for (size_t i = 0; i < ZY_FDS_MAX; i++)
			fds[i] = -1;
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0); /* the application closed its end, or is gone */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (nfds < ZY_FDS_MAX)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
		bx_error_clear(&err);
		if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			r = bx_fail(&err, -EMSGSIZE, BX_NO_OFFSET, "zygote: request truncated");
		else
			r = zygote_handle((const struct zy_req *)buf, (size_t)n, fds, nfds, &pid,
					  &ns, &err);
		close_fds(fds, nfds);
		zygote_reply(sock, r, pid, ns, &err);
		/* Idle now (the application has its reply): the next worker's netns. */
		if (r == 0)
			make_spare_netns(last_slot, last_root);
	}
}

/* ================================================================ the application's side */

static struct {
	pthread_mutex_t lock; /* one request at a time; guards the fields below */
	int sock;	      /* our end, or -1 */
	int pidfd;
	pid_t pid;
	pid_t owner; /* the process that started it: a forked copy must not use it */
	unsigned restarts;
	bool eligible; /* bx_spawn_init found this process fit for a zygote */
} zy = {PTHREAD_MUTEX_INITIALIZER, -1, -1, 0, 0, 0, false};

static bool on_main_thread(void)
{
	return (pid_t)syscall(SYS_gettid) == getpid();
}

/* Starts a zygote (zy.lock held, or before any thread exists). */
static int zygote_start_locked(void)
{
	static char *const argv[] = {"beambox-zygote", NULL};
	static const char *const san[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS",
					  "LSAN_OPTIONS"};
	char *envp[3 + sizeof(san) / sizeof(san[0])] = {BX_SPAWN_MARKER "=1",
							BX_ZYGOTE_MARKER "=1"};
	char *owned[sizeof(san) / sizeof(san[0])] = {NULL};
	_cleanup_fd_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int sv[2] = {-1, -1};
	size_t n = 2;
	bool root = geteuid() == 0;
	struct bx_child_spec spec;
	struct bx_child child;
	bx_error err;
	int r;

	/* The sanitizer runtimes of a test build read their options when the zygote starts. */
	for (size_t i = 0; i < sizeof(san) / sizeof(san[0]); i++) {
		const char *v = getenv(san[i]);

		if (v && asprintf(&owned[i], "%s=%s", san[i], v) >= 0)
			envp[n++] = owned[i];
	}
	if (devnull < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		goto out;
	}
	spec = (struct bx_child_spec){
	    /*
	     * An unprivileged application's zygote lives in a user namespace of
	     * its own, as its root (our uid mapped to 0 in there), entered before
	     * its exec. Its children's memory then belongs to that namespace, in
	     * which the application has every right (it verifies them from
	     * outside) and their sandboxes none; being its root, the zygote owns
	     * its children's /proc files although they are never dumpable (it
	     * writes their maps there).
	     */
	    .ns_flags = root ? 0 : (uint64_t)CLONE_NEWUSER,
	    .uid = geteuid(),
	    .gid = getegid(),
	    .root_inside = !root,
	    .as_root = root,
	    .fds = {{devnull, STDIN_FILENO, false},
		    {devnull, STDOUT_FILENO, false},
		    {devnull, STDERR_FILENO, false},
		    {sv[1], BX_SPAWN_BEAM_FD, false}},
	    .nfds = 4,
	    .exec_fd = BX_CHILD_EXEC_SELF,
	    .argv = argv,
	    .envp = envp,
	    .timeout_ms = 10000,
	    .no_wait = true,
	};
	bx_error_clear(&err);
	r = bx_child_start(&spec, &child, &err);
	if (r < 0)
		goto out;
	zy.sock = bx_steal_fd(&sv[0]);
	zy.pidfd = child.pidfd;
	zy.pid = child.pid;
	zy.owner = getpid();
	r = 0;
out:
	bx_close_and_reset(&sv[0]);
	bx_close_and_reset(&sv[1]);
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		free(owned[i]);
	return r;
}

int bx_zygote_init(void)
{
	const char *off = getenv(BX_ZYGOTE_OFF);
	int r, threads;

	/* Turned off for this process (debugging, a tool that cannot follow it). */
	if (off && *off)
		return -ECANCELED;
	/* Early enough: on the main thread, before any other thread exists. */
	if (!on_main_thread())
		return -EBUSY;
	threads = bx_count_threads();
	if (threads != 1)
		return threads < 0 ? threads : -EBUSY;
	pthread_mutex_lock(&zy.lock);
	r = zy.sock >= 0 ? 0 : zygote_start_locked();
	if (r == 0)
		zy.eligible = true;
	pthread_mutex_unlock(&zy.lock);
	return r;
}

pid_t bx_zygote_pid(void)
{
	pid_t pid = -1;

	if (__atomic_load_n(&zy.owner, __ATOMIC_ACQUIRE) != getpid())
		return -1;
	pthread_mutex_lock(&zy.lock);
	if (zy.sock >= 0)
		pid = zy.pid;
	pthread_mutex_unlock(&zy.lock);
	return pid;
}

/* The zygote is no good: kill it (if it is not dead already), reap it, forget it. */
static void zygote_lost_locked(void)
{
	siginfo_t si;

	if (zy.pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, zy.pidfd, SIGKILL, NULL, 0);
		memset(&si, 0, sizeof(si));
		while (waitid((idtype_t)P_PIDFD, (id_t)zy.pidfd, &si, WEXITED | __WALL) < 0 &&
		       errno == EINTR)
			;
	}
	bx_close_and_reset(&zy.pidfd);
	bx_close_and_reset(&zy.sock);
	zy.pid = 0;
}

/* A zygote to talk to (zy.lock held): the one there is, or a new one from the main thread. */
static bool zygote_ready_locked(void)
{
	if (zy.sock >= 0)
		return true;
	if (!zy.eligible || zy.restarts >= BX_ZYGOTE_RESTARTS || !on_main_thread())
		return false;
	zy.restarts++;
	return zygote_start_locked() == 0;
}

/* Sends the request: header, environment, wire form; the fds attached. */
static int send_request(const struct bx_zygote_spawn *s, bx_error *err)
{
	struct zy_req q = {
	    .magic = ZY_MAGIC,
	    .size = sizeof(q),
	    .op = ZY_OP_SPAWN,
	    .flags = (s->as_root ? ZY_ROOT : 0) | (s->stderr_fd >= 0 ? ZY_STDERR : 0) |
		     (bx_remote_offer_proto2 ? ZY_ONE_CHANNEL : 0),
	    .ns_flags = s->ns_flags,
	    .ns_optional = s->ns_optional,
	    .uid = (uint32_t)s->uid,
	    .gid = (uint32_t)s->gid,
	    .ncgroup = s->cgroup && s->cgroup->made ? (uint32_t)s->cgroup->ndirs : 0,
	    .wire_len = (uint32_t)s->wire_len,
	};
	int fds[ZY_FDS_MAX] = {*s->beam_fd, *s->note_fd, s->bpf_fd};
	size_t nfds = ZY_FD_FIXED, env_len = 0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(ZY_FDS_MAX * sizeof(int))];
	} ctl;
	struct iovec iov[3];
	struct msghdr m;
	struct cmsghdr *c;
	_cleanup_free_ char *env = NULL;
	ssize_t n;

	for (size_t i = 0; s->envp && s->envp[i]; i++) {
		env_len += strlen(s->envp[i]) + 1;
		q.nenv++;
	}
	if (env_len + s->wire_len > BX_ZYGOTE_MSG_MAX)
		return bx_fail(err, -EMSGSIZE, BX_NO_OFFSET, "zygote: request too large");
	env = malloc(env_len ? env_len : 1);
	if (!env)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	env_len = 0;
	for (size_t i = 0; s->envp && s->envp[i]; i++) {
		size_t l = strlen(s->envp[i]) + 1;

		memcpy(env + env_len, s->envp[i], l);
		env_len += l;
	}
	q.env_len = (uint32_t)env_len;
	if (s->stderr_fd >= 0)
		fds[nfds++] = s->stderr_fd;
	for (uint32_t i = 0; i < q.ncgroup; i++)
		fds[nfds++] = s->cgroup->procs_fd[i];
	iov[0] = (struct iovec){.iov_base = &q, .iov_len = sizeof(q)};
	iov[1] = (struct iovec){.iov_base = env, .iov_len = env_len};
	iov[2] = (struct iovec){.iov_base = (void *)s->wire, .iov_len = s->wire_len};
	memset(&ctl, 0, sizeof(ctl));
	m = (struct msghdr){.msg_iov = iov,
			    .msg_iovlen = 3,
			    .msg_control = ctl.buf,
			    .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	do
		n = sendmsg(zy.sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(q) + env_len + s->wire_len))
		return bx_fail(err, n < 0 ? -errno : -EIO, BX_NO_OFFSET, "zygote: sending: %s",
			       n < 0 ? strerror(errno) : "short");
	return 0;
}

/*
 * Waits (bounded) for the reply. 0 with *rep, or -errno: the zygote died,
 * is stuck, or answered nonsense (it is then lost).
 */
static int read_reply(struct zy_reply *rep, const struct timespec *t0, int bound_ms)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = zy.sock, .events = POLLIN},
				      {.fd = zy.pidfd, .events = POLLIN}};
		long left = bound_ms - ms_since(t0);
		ssize_t n;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(p, 2, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (!(p[0].revents & POLLIN))
			return -ECHILD;
		n = recv(zy.sock, rep, sizeof(*rep), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n != (ssize_t)sizeof(*rep) || rep->magic != ZY_MAGIC || rep->error > 0)
			return -EPROTO;
		rep->text[sizeof(rep->text) - 1] = '\0';
		return 0;
	}
}

/*
 * The child's pidfd, which it sends itself on its connection first: 1 with
 * *pidfd, 0 if there is no child (EOF: nobody holds its end any more), or
 * -errno (bounded by the deadline).
 */
static int read_birth(int sock, int *pidfd, const struct timespec *t0, int bound_ms)
{
	for (;;) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int))];
		} ctl;
		char byte = 0;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		struct pollfd p = {.fd = sock, .events = POLLIN};
		struct cmsghdr *c;
		long left = bound_ms - ms_since(t0);
		int fd = -1;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (!p.revents)
			continue;
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			return 0;
		c = n == 1 ? CMSG_FIRSTHDR(&m) : NULL;
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
		if (fd < 0 || byte != 'B' || (m.msg_flags & MSG_CTRUNC)) {
			if (fd >= 0)
				close(fd);
			return -EPROTO;
		}
		*pidfd = fd;
		return 1;
	}
}

/* Kills and reaps the child the zygote started for a spawn that fails. */
static void drop_child(int pidfd)
{
	siginfo_t si;

	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
}

int bx_zygote_spawn(const struct bx_zygote_spawn *s, struct bx_child *out, bx_error *err)
{
	struct zy_reply rep = {.magic = 0};
	struct timespec t0;
	int bound = s->timeout_ms > 0 ? s->timeout_ms / 2 : 5000;
	int pidfd = -1, r, born;
	bool lost = false;
	siginfo_t si;

	if (__atomic_load_n(&zy.owner, __ATOMIC_ACQUIRE) != getpid())
		return -EAGAIN; /* none started, or a forked copy of the process that did */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * Another thread's request holds the zygote at most its own bound: wait
	 * within ours, then start cold rather than wait longer.
	 */
	{
		/* timedlock (realtime): the one sanitizers know; a clock jump only moves the bound.
		 */
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += bound / 1000;
		until.tv_nsec += (long)(bound % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (pthread_mutex_timedlock(&zy.lock, &until) != 0)
			return -EAGAIN;
	}
	for (int attempt = 0;; attempt++) {
		if (!zygote_ready_locked()) {
			pthread_mutex_unlock(&zy.lock);
			return -EAGAIN;
		}
		r = send_request(s, err);
		/* Found dead with nothing sent: the same request to a new one, once. */
		if (attempt > 0 || (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN))
			break;
		zygote_lost_locked();
	}
	if (r == 0) {
		/* The child's ends are on their way: ours go, or its early end would not show. */
		bx_close_and_reset(s->beam_fd);
		bx_close_and_reset(s->note_fd);
	}
	if (r == -EMSGSIZE || r == -ENOMEM) {
		pthread_mutex_unlock(&zy.lock);
		return -EAGAIN; /* this one starts cold; the zygote is fine */
	}
	if (r < 0 && r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN && r != -EAGAIN) {
		pthread_mutex_unlock(&zy.lock);
		return r; /* the caller's (a closed fd): nothing was sent, the zygote is fine */
	}
	if (r == 0)
		r = read_reply(&rep, &t0, bound);
	if (r < 0) {
		zygote_lost_locked();
		lost = true;
	}
	pthread_mutex_unlock(&zy.lock);
	if (!lost && rep.error < 0)
		return bx_fail(err, rep.error, BX_NO_OFFSET, "%s", rep.text);
	/*
	 * From here a child may exist (even when the zygote died after the
	 * clone): it is ours, and it says so itself with its pidfd.
	 */
	born = read_birth(s->app_beam_fd, &pidfd, &t0, s->timeout_ms > 0 ? s->timeout_ms : 10000);
	if (lost) {
		if (born == 1)
			drop_child(pidfd);
		return -EAGAIN;
	}
	if (born != 1)
		return bx_fail(err, born < 0 ? born : -ECHILD, BX_NO_OFFSET,
			       "the zygote's child %d %s", (int)rep.pid,
			       born == 0 ? "died before it started" : "sent no pidfd in time");
	/* Ours, and not a dead one's: a live child of this process. */
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) < 0) {
		r = -errno;
		close(pidfd);
		return bx_fail(err, r, BX_NO_OFFSET, "the zygote's child %d: waitid: %s",
			       (int)rep.pid, strerror(-r));
	}
	out->pid = rep.pid;
	out->pidfd = pidfd;
	out->ns = rep.ns;
	return 0;
}
