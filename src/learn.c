/* SPDX-License-Identifier: MIT */
/*
 * learn: `beambox policy learn`. A child confines itself by the base policy
 * with a learning filter (confine.c, step 8) and executes the program; this
 * process supervises it through the seccomp user-notification listener the
 * child sends back, records every syscall and lets it continue, then prints
 * a policy allowing exactly what was seen.
 */
#define _GNU_SOURCE
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

#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
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

/* Receives one fd sent with SCM_RIGHTS (MSG_CMSG_CLOEXEC), or -errno. */
static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = ctl.buf,
			   .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	int fd = -1;
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0)
				fd = got;
			else
				close(got); /* one was asked for */
		}
	}
	if (n == 0 || fd < 0 || (m.msg_flags & MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return fd;
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
			memset(req, 0, sizeof(*req));
			r = seccomp_notify_receive(listener, req);
			if (r < 0)
				continue; /* the caller died meanwhile (ENOENT) */
			record(seen, &req->data);
			memset(resp, 0, sizeof(*resp));
			resp->id = req->id;
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			bx_ignore(seccomp_notify_respond(listener, resp) < 0);
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

/* The learned policy: base's settings, then the syscalls seen, by group. */
static void print_learned(const struct bx_policy *base, const struct learned *l, char *const argv[],
			  int status, FILE *out)
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
		"# program did not take. beambox adds its own runtime's calls itself.\n\n",
		status);
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

		listener = poll(&pfd, 1, LEARN_HANDOVER_MS) == 1 ? recv_fd(sv[0]) : -ETIMEDOUT;
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
	print_learned(base, seen, argv, *status, out);
	r = fflush(out) == 0 ? 0 : bx_fail(err, -errno, BX_NO_OFFSET, "learn: writing: %m");
out:
	free(seen);
	bx_policy_free(own);
	return r;
}
