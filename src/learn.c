/* SPDX-License-Identifier: MIT */
/*
 * learn: `beambox policy learn`. A child confines itself by the base policy
 * with a learning filter (confine.c, step 8) and executes the program; this
 * process supervises it through the seccomp user-notification listener the
 * child sends back, records every syscall and lets it continue, then prints
 * a policy allowing exactly what was seen.
 */
#define _GNU_SOURCE
#include <beambox/data.h>
#include <beambox/exec.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "confine/notify.h"
#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "policy/wire.h"
#include "spawn/learn.h"
#include "util/cleanup.h"
#include "util/error.h"

#define LEARN_NR_MAX	  1024 /* syscall numbers recorded (x86_64 has under 500) */
#define LEARN_HANDOVER_MS 10000
#define LEARN_VALUES_MAX  64 /* distinct values recorded for an argument */

/*
 * Arguments recorded, so that the learned policy allows only the values seen
 * rather than every call: prctl's option (PR_SET_PDEATHSIG and the like must
 * not come with PR_SET_NAME), and the address family of socket/socketpair.
 */
static const struct {
	const char *syscall;
	unsigned arg;
	bool low32; /* an int for the kernel: compared on its low 32 bits */
} recorded_args[] = {
    {"prctl", 0, true},
    {"socket", 0, true},
    {"socketpair", 0, true},
};
#define NRECORDED (sizeof(recorded_args) / sizeof(recorded_args[0]))

struct learned {
	bool seen[LEARN_NR_MAX];
	int nr[NRECORDED]; /* the syscall numbers of recorded_args */
	uint64_t values[NRECORDED][LEARN_VALUES_MAX];
	size_t nvalues[NRECORDED];
	bool overflow[NRECORDED]; /* more values than kept: allow the syscall whole */
};

static void learned_init(struct learned *l)
{
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < NRECORDED; i++)
		l->nr[i] = bx_syscall_resolve(recorded_args[i].syscall);
}

static void record(struct learned *l, const struct seccomp_data *d)
{
	if (d->nr < 0 || d->nr >= LEARN_NR_MAX)
		return;
	l->seen[d->nr] = true;
	for (size_t i = 0; i < NRECORDED; i++) {
		uint64_t v;

		if (l->nr[i] != d->nr)
			continue;
		v = d->args[recorded_args[i].arg];
		if (recorded_args[i].low32)
			v &= 0xffffffffu;
		for (size_t k = 0; k < l->nvalues[i]; k++)
			if (l->values[i][k] == v)
				return;
		if (l->nvalues[i] < LEARN_VALUES_MAX)
			l->values[i][l->nvalues[i]++] = v;
		else
			l->overflow[i] = true;
	}
}

int bx_exec_confined_learning(const struct bx_policy *policy, const char *prog, char *const argv[],
			      int learn_sock, bx_error *err);

/* Receives one notification, records its syscall (and some arguments), lets it continue. */
static void answer(int listener, struct seccomp_notif *req, struct seccomp_notif_resp *resp,
		   struct learned *seen)
{
	memset(req, 0, sizeof(*req));
	if (seccomp_notify_receive(listener, req) < 0)
		return; /* the caller died meanwhile (ENOENT) */
	record(seen, &req->data);
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	bx_ignore(seccomp_notify_respond(listener, resp) < 0);
}

/* Answers notifications until the child is gone; records each syscall (and some arguments). */
static int supervise(int listener, int pidfd, struct learned *seen, bx_error *err)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	int r = seccomp_notify_alloc(&req, &resp);

	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_notify_alloc: %s", strerror(-r));
	for (;;) {
		struct pollfd pfd[2] = {{.fd = listener, .events = POLLIN},
					{.fd = pidfd, .events = POLLIN}};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = bx_fail(err, -errno, BX_NO_OFFSET, "poll: %m");
			break;
		}
		if (pfd[0].revents & POLLIN) {
			answer(listener, req, resp, seen);
			continue;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR) || pfd[1].revents) {
			r = 0;
			break;
		}
	}
	seccomp_notify_free(req, resp);
	return r;
}

/* Prints the recorded values of argument i's syscall as `arg == NAME || ...`, or 1. */
static void print_recorded(const struct learned *l, size_t i, FILE *out)
{
	fprintf(out, "%s: ", recorded_args[i].syscall);
	if (l->overflow[i] || l->nvalues[i] == 0) {
		fputs("1\n", out);
		return;
	}
	for (size_t k = 0; k < l->nvalues[i]; k++) {
		const char *name = bx_policy_arg_name(recorded_args[i].syscall,
						      recorded_args[i].arg, l->values[i][k]);

		fprintf(out, "%sarg%u == ", k ? " || " : "", recorded_args[i].arg);
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%#llx", (unsigned long long)l->values[i][k]);
	}
	fputc('\n', out);
}

/* Prints "name: 1", or the recorded arguments for the syscalls in recorded_args. */
static void print_syscall(const struct learned *l, int nr, const char *name, FILE *out)
{
	for (size_t i = 0; i < NRECORDED; i++) {
		if (l->nr[i] == nr) {
			print_recorded(l, i, out);
			return;
		}
	}
	fprintf(out, "%s: 1\n", name);
}

/* The learned policy: base's settings, then the syscalls seen, by group; note: a comment. */
static void print_learned(const struct bx_policy *base, const struct learned *l, char *const argv[],
			  int status, const char *note, FILE *out)
{
	struct bx_policy *header = malloc(sizeof(*header));
	bool printed[LEARN_NR_MAX] = {false};
	const struct bx_sc_group *groups;
	size_t ngroups, total = 0;
	time_t now = time(NULL);
	char when[32];
	bool header_done = false;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(out, "# Learned by `beambox policy learn` on %s from:\n#  ", when);
	for (size_t i = 0; i < 16 && argv[i]; i++) {
		char arg[400];

		/* One comment line whatever the arguments hold (a script with newlines...). */
		fprintf(out, " %s",
			bx_printable(argv[i], strlen(argv[i]), 80, 0, arg, sizeof(arg)));
	}
	fprintf(out,
		"\n# (exit status %d). A starting point to review, not a verdict: it allows\n"
		"# exactly the syscalls this one run made (prctl's options and socket families\n"
		"# as seen, other arguments unchecked), and knows nothing of paths the\n"
		"# program did not take. beambox adds its own runtime's calls itself.\n",
		status);
	if (note)
		fprintf(out, "# %s\n", note);
	fputc('\n', out);
	if (header) {
		memcpy(header, base, sizeof(*header));
		header->nrules = 0;
		header->noverride_deny = 0;
		header->nwarnings = 0;
		header->nfiles = 0;
		bx_policy_print(header, out);
		free(header);
	}
	groups = bx_sc_groups(&ngroups);
	for (size_t g = 0; g < ngroups; g++) {
		bool any = false;

		for (const char *const *m = groups[g].members; *m; m++) {
			int nr = bx_syscall_resolve(*m); /* members with arguments do not resolve */

			if (nr < 0 || nr >= LEARN_NR_MAX || !l->seen[nr] || printed[nr])
				continue;
			if (!any)
				fprintf(out, "\n# from %s: %s\n", groups[g].name,
					groups[g].description);
			any = true;
			printed[nr] = true;
			print_syscall(l, nr, *m, out);
			total++;
		}
	}
	for (int nr = 0; nr < LEARN_NR_MAX; nr++) {
		char name[BX_SYSCALL_NAME_MAX];

		if (!l->seen[nr] || printed[nr])
			continue;
		if (!bx_syscall_name(nr, name, sizeof(name)))
			snprintf(name, sizeof(name), "unknown");
		if (!header_done)
			fputs("\n# in no group\n", out);
		header_done = true;
		if (strcmp(name, "unknown") == 0) {
			/* Newer than libseccomp and this build's tables: a note, not a rule. */
			fprintf(out, "# syscall %d (unknown to this build of beambox)\n", nr);
			continue;
		}
		print_syscall(l, nr, name, out);
		total++;
	}
	fprintf(out, "\n# %zu syscalls\n", total);
}

BX_API int bx_exec_learn(const struct bx_policy *base, const char *prog, char *const argv[],
			 FILE *out, int *status, bx_error *err)
{
	struct bx_policy *own = NULL;
	_cleanup_fd_ int pidfd = -1;
	_cleanup_fd_ int listener = -1;
	struct learned *seen = NULL;
	int sv[2], wstatus = 0, r;
	pid_t child;

	if (!base) {
		r = bx_policy_default(&own);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "default policy: %s", strerror(-r));
		base = own;
	}
	seen = calloc(1, sizeof(*seen));
	if (seen)
		learned_init(seen);
	if (!seen || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = bx_fail(err, seen ? -errno : -ENOMEM, BX_NO_OFFSET, "learn: setting up: %m");
		goto out;
	}
	child = fork();
	if (child < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "learn: fork: %m");
		close(sv[0]);
		close(sv[1]);
		goto out;
	}
	if (child == 0) {
		bx_error cerr;

		close(sv[0]);
		bx_error_clear(&cerr);
		r = bx_exec_confined_learning(base, prog, argv, sv[1], &cerr);
		dprintf(STDERR_FILENO, "beambox: policy learn: %s\n", cerr.text);
		_exit(bx_exec_status_for(r, &cerr));
	}
	close(sv[1]);
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "learn: pidfd_open: %m");
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		close(sv[0]);
		goto out;
	}
	/* The listener arrives once the child is confined; EOF means it failed first. */
	{
		struct pollfd pfd = {.fd = sv[0], .events = POLLIN};

		listener =
		    poll(&pfd, 1, LEARN_HANDOVER_MS) == 1 ? bx_notify_recv_fd(sv[0]) : -ETIMEDOUT;
	}
	close(sv[0]);
	if (listener < 0) {
		kill(child, SIGKILL);
		waitpid(child, &wstatus, 0);
		r = bx_fail(err, -ECHILD, BX_NO_OFFSET,
			    "learn: the program's sandbox could not be set up (exit status %d; "
			    "its reason is on stderr)",
			    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
		goto out;
	}
	r = supervise(listener, pidfd, seen, err);
	/* Without a supervisor the program would wait on its next syscall forever. */
	if (r < 0)
		kill(child, SIGKILL);
	waitpid(child, &wstatus, 0);
	if (r < 0)
		goto out;
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	print_learned(base, seen, argv, *status, NULL, out);
	r = fflush(out) == 0 ? 0 : bx_fail(err, -errno, BX_NO_OFFSET, "learn: writing: %m");
out:
	free(seen);
	bx_policy_free(own);
	return r;
}

/* ================================================================ a library's workers */

/*
 * `beambox policy learn --worker`: the program is an application of the
 * library and runs unconfined; its workers learn (spawn/learn.h). Each
 * bx_spawn announces a worker on the program's socket (the policy's settings
 * and a channel of the worker's own); the worker's serving process sends
 * its listener on that channel at its last confinement step. This process
 * answers every listener at once and records the union.
 */
#define LEARN_WORKERS_MAX 64	/* channels and listeners open at once */
#define LEARN_DRAIN_MS	  10000 /* after the program's end, for its workers' last calls */

extern char **environ;

struct learn_slot {
	int fd;	       /* -1: free */
	bool listener; /* else a channel, awaiting its listener */
};

struct workers {
	int sock; /* the program's announcements; -1 once it is closed */
	struct learn_slot slot[LEARN_WORKERS_MAX];
	char *buf;		/* one announcement */
	struct bx_policy *base; /* the first worker's policy (its settings) */
	char other[64];		/* another policy a worker ran under, if any */
	size_t announced, learned, dropped;
};

static void workers_close(struct workers *ws)
{
	for (size_t i = 0; i < LEARN_WORKERS_MAX; i++)
		bx_close_and_reset(&ws->slot[i].fd);
	bx_close_and_reset(&ws->sock);
}

static size_t workers_open(const struct workers *ws)
{
	size_t n = 0;

	for (size_t i = 0; i < LEARN_WORKERS_MAX; i++)
		n += ws->slot[i].fd >= 0;
	return n;
}

/* Reads one announcement: 1 (a worker's channel taken or dropped), 0 at EOF, or -errno. */
static int take_announcement(struct workers *ws)
{
	struct iovec iov = {.iov_base = ws->buf, .iov_len = BX_LEARN_ANNOUNCE_MAX};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct bx_policy *p = NULL;
	_cleanup_fd_ int chan = -1;
	bx_msg *msg = NULL;
	bx_error err;
	bool dynamic = false;
	ssize_t n;
	int r;

	do
		n = recvmsg(ws->sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 1 : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0;
		     c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (chan < 0)
				chan = got;
			else
				close(got); /* one was sent */
		}
	}
	if (n == 0 && chan < 0)
		return 0;
	ws->announced++;
	bx_error_clear(&err);
	r = (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || chan < 0
		? bx_fail(&err, -EPROTO, BX_NO_OFFSET, "a malformed announcement")
		: bx_msg_decode(ws->buf, (size_t)n, 0, &msg, &err);
	if (r == 0) {
		bx_bytes v;

		dynamic =
		    bx_msg_get_one(msg, BX_LEARN_UID_DYNAMIC_KEY, &v) == 0 && strcmp(v.p, "1") == 0;
		bx_ignore(bx_msg_del(msg, BX_LEARN_UID_DYNAMIC_KEY));
		r = bx_policy_from_msg(msg, &p, &err);
	}
	bx_msg_free(msg);
	if (r < 0) {
		/* Closing the channel makes that worker's hand-over, and so its spawn, fail. */
		fprintf(stderr, "beambox: policy learn: a worker refused: %.200s\n", err.text);
		ws->dropped++;
		return 1;
	}
	p->uid_dynamic = dynamic;
	if (!ws->base)
		ws->base = p;
	else {
		if (strcmp(p->name, ws->base->name) != 0 && !ws->other[0])
			snprintf(ws->other, sizeof(ws->other), "%s", p->name);
		bx_policy_free(p);
	}
	for (size_t i = 0; i < LEARN_WORKERS_MAX; i++) {
		if (ws->slot[i].fd < 0) {
			ws->slot[i] =
			    (struct learn_slot){.fd = bx_steal_fd(&chan), .listener = false};
			return 1;
		}
	}
	fprintf(stderr, "beambox: policy learn: more than %d workers at once: one refused\n",
		LEARN_WORKERS_MAX);
	ws->dropped++;
	return 1;
}

/* One ready slot: a channel's listener arrives, a listener's notification, or an end. */
static void serve_slot(struct workers *ws, struct learn_slot *sl, short revents,
		       struct seccomp_notif *req, struct seccomp_notif_resp *resp,
		       struct learned *seen)
{
	if (!sl->listener) {
		int listener = (revents & POLLIN) ? bx_notify_recv_fd(sl->fd) : -EPIPE;

		close(sl->fd);
		sl->fd = listener >= 0 ? listener : -1;
		sl->listener = listener >= 0;
		ws->learned += listener >= 0;
		return;
	}
	if (revents & POLLIN)
		answer(sl->fd, req, resp, seen);
	else if (revents & (POLLHUP | POLLERR | POLLNVAL))
		bx_close_and_reset(&sl->fd); /* every process of that worker is gone */
}

/* Serves the program's announcements and its workers until the program and its workers end. */
static int supervise_workers(struct workers *ws, int pidfd, pid_t child, int *wstatus,
			     struct learned *seen, bx_error *err)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct timespec until = {0};
	bool alive = true;
	int r = seccomp_notify_alloc(&req, &resp);

	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp_notify_alloc: %s", strerror(-r));
	while (alive || ws->sock >= 0 || workers_open(ws) > 0) {
		struct pollfd pfd[LEARN_WORKERS_MAX + 2];
		size_t idx[LEARN_WORKERS_MAX], n = 2;
		int timeout = -1;

		pfd[0] = (struct pollfd){.fd = alive ? pidfd : -1, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = ws->sock, .events = POLLIN};
		for (size_t i = 0; i < LEARN_WORKERS_MAX; i++) {
			if (ws->slot[i].fd < 0)
				continue;
			idx[n - 2] = i;
			pfd[n++] = (struct pollfd){.fd = ws->slot[i].fd, .events = POLLIN};
		}
		if (!alive) {
			struct timespec now;
			long left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = (until.tv_sec - now.tv_sec) * 1000 +
			       (until.tv_nsec - now.tv_nsec) / 1000000;
			if (left <= 0) {
				fprintf(
				    stderr,
				    "beambox: policy learn: %zu workers still running %d ms after "
				    "the program's end: learning stopped\n",
				    workers_open(ws), LEARN_DRAIN_MS);
				break;
			}
			timeout = (int)left;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			r = bx_fail(err, -errno, BX_NO_OFFSET, "poll: %m");
			break;
		}
		for (size_t k = 2; k < n; k++)
			if (pfd[k].revents)
				serve_slot(ws, &ws->slot[idx[k - 2]], pfd[k].revents, req, resp,
					   seen);
		if (pfd[1].revents && take_announcement(ws) <= 0)
			bx_close_and_reset(&ws->sock);
		if (pfd[0].revents) {
			/* The program is done: its workers get a bounded time to end. */
			waitpid(child, wstatus, 0);
			alive = false;
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += LEARN_DRAIN_MS / 1000;
		}
	}
	seccomp_notify_free(req, resp);
	if (alive) {
		kill(child, SIGKILL);
		waitpid(child, wstatus, 0);
	}
	return r;
}

/* The program's environment: ours, without any learning variables, plus its own. */
static char **learn_environ(int fd)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "BEAMBOX_LEARN_", strlen("BEAMBOX_LEARN_")) != 0)
			env[k++] = environ[i];
	if (asprintf(&env[k], "%s=%d", BX_LEARN_FD_ENV, fd) < 0) {
		free(env);
		return NULL;
	}
	if (asprintf(&env[k + 1], "%s=%d", BX_LEARN_PID_ENV, (int)getpid()) < 0) {
		free(env[k]);
		free(env);
		return NULL;
	}
	return env;
}

static void learn_environ_free(char **env)
{
	size_t k = 0;

	if (!env)
		return;
	while (env[k])
		k++;
	/* The last two are ours. */
	for (size_t i = k >= 2 ? k - 2 : 0; i < k; i++)
		free(env[i]);
	free(env);
}

BX_API int bx_exec_learn_workers(const char *prog, char *const argv[], FILE *out, int *status,
				 bx_error *err)
{
	struct workers *ws = calloc(1, sizeof(*ws));
	struct learned *seen = calloc(1, sizeof(*seen));
	_cleanup_fd_ int pidfd = -1;
	char **env = NULL;
	char note[200];
	int sv[2] = {-1, -1}, wstatus = 0, r;
	pid_t child;

	if (!ws || !seen || !(ws->buf = malloc(BX_LEARN_ANNOUNCE_MAX))) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "learn: out of memory");
		goto out;
	}
	ws->sock = -1;
	for (size_t i = 0; i < LEARN_WORKERS_MAX; i++)
		ws->slot[i].fd = -1;
	learned_init(seen);
	/* The program's end has no close-on-exec: it must survive into the program. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    fcntl(sv[1], F_SETFD, 0) < 0 || !(env = learn_environ(sv[1]))) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "learn: setting up: %m");
		goto out;
	}
	child = fork();
	if (child < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "learn: fork: %m");
		goto out;
	}
	if (child == 0) {
		/* The application, unconfined: it is trusted, its workers learn. */
		execvpe(prog, argv, env);
		dprintf(STDERR_FILENO, "beambox: policy learn: %s: %s\n", prog, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	bx_close_and_reset(&sv[1]);
	ws->sock = bx_steal_fd(&sv[0]);
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "learn: pidfd_open: %m");
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		goto out;
	}
	r = supervise_workers(ws, pidfd, child, &wstatus, seen, err);
	workers_close(ws);
	if (r < 0)
		goto out;
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	if (ws->learned == 0) {
		r = bx_fail(err, -ECHILD, BX_NO_OFFSET,
			    "learn: no worker of %.100s learned (%zu announced; exit status %d): "
			    "does it call bx_spawn_init() first in main() and start workers?",
			    prog, ws->announced, *status);
		goto out;
	}
	snprintf(note, sizeof(note), "Learned from %zu workers%s%s%s.", ws->learned,
		 ws->other[0] ? " of several policies (the settings are the first's; another: "
			      : "",
		 ws->other, ws->other[0] ? ")" : "");
	print_learned(ws->base, seen, argv, *status, note, out);
	r = fflush(out) == 0 ? 0 : bx_fail(err, -errno, BX_NO_OFFSET, "learn: writing: %m");
out:
	bx_close_and_reset(&sv[0]);
	bx_close_and_reset(&sv[1]);
	learn_environ_free(env);
	if (ws) {
		workers_close(ws);
		bx_policy_free(ws->base);
		free(ws->buf);
	}
	free(ws);
	free(seen);
	return r;
}
