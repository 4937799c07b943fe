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

#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#define LEARN_NR_MAX	  1024 /* syscall numbers recorded (x86_64 has under 500) */
#define LEARN_HANDOVER_MS 10000

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

/* Answers notifications until the child is gone; marks each syscall number seen. */
static int supervise(int listener, int pidfd, bool seen[LEARN_NR_MAX], bx_error *err)
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
			if (req->data.nr >= 0 && req->data.nr < LEARN_NR_MAX)
				seen[req->data.nr] = true;
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

/* The learned policy: base's settings, then the syscalls seen, by group. */
static void print_learned(const struct bx_policy *base, const bool seen[LEARN_NR_MAX],
			  char *const argv[], int status, FILE *out)
{
	struct bx_policy *header = malloc(sizeof(*header));
	bool printed[LEARN_NR_MAX] = {false};
	const struct bx_sc_group *groups;
	size_t ngroups, total = 0;
	time_t now = time(NULL);
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(out, "# Learned by `beambox policy learn` on %s from:\n#  ", when);
	for (size_t i = 0; i < 16 && argv[i]; i++)
		fprintf(out, " %.80s", argv[i]);
	fprintf(out,
		"\n# (exit status %d). A starting point to review, not a verdict: it allows\n"
		"# exactly the syscalls this one run made, with no argument checks, and\n"
		"# knows nothing of paths the program did not take.\n\n",
		status);
	if (header) {
		memcpy(header, base, sizeof(*header));
		header->nrules = 0;
		header->noverride_deny = 0;
		bx_policy_print(header, out);
		free(header);
	}
	groups = bx_sc_groups(&ngroups);
	for (size_t g = 0; g < ngroups; g++) {
		bool any = false;

		for (const char *const *m = groups[g].members; *m; m++) {
			int nr = seccomp_syscall_resolve_name(*m);

			if (nr < 0 || nr >= LEARN_NR_MAX || !seen[nr] || printed[nr])
				continue;
			if (!any)
				fprintf(out, "\n# from %s: %s\n", groups[g].name,
					groups[g].description);
			any = true;
			printed[nr] = true;
			fprintf(out, "%s: 1\n", *m);
			total++;
		}
	}
	bool header_done = false;

	for (int nr = 0; nr < LEARN_NR_MAX; nr++) {
		char *name;

		if (!seen[nr] || printed[nr])
			continue;
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (!name)
			continue;
		if (!header_done)
			fputs("\n# in no group\n", out);
		header_done = true;
		fprintf(out, "%s: 1\n", name);
		free(name);
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
	bool *seen = NULL;
	int sv[2], wstatus = 0, r;
	pid_t child;

	if (!base) {
		r = bx_policy_default(&own);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "default policy: %s", strerror(-r));
		base = own;
	}
	seen = calloc(LEARN_NR_MAX, sizeof(*seen));
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
