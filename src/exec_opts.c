/* SPDX-License-Identifier: MIT */
/*
 * bx_exec_run: `beambox exec` with options. This process stays outside as
 * an unconfined supervisor; a child resolves the extras (binds, chdir,
 * environment), confines itself through exec.c and runs the program. The
 * supervisor enforces the wall-clock timeout and cancellation, and learns how
 * the confinement went and how the program ended through a close-on-exec pipe
 * (fixed-size records, each one write(2) below PIPE_BUF), which the program
 * itself never holds.
 */
#define _GNU_SOURCE
#include "exec_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "policy/api.h"
#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* How long the supervisor waits for the pipe's end once the child is reaped. */
#define DRAIN_MS 2000

/* ================================================================ policies by name */

/* NAME or FILE as the CLI takes it (src/policy/api.c); none means the built-in default. */
int bx_exec_policy_load(const char *name, struct bx_policy **out, bx_error *err)
{
	return bx_policy_load_spec(name && *name ? name : "default", out, err);
}

/* ================================================================ hooks (run in the child) */

/* Records on the pipe from the confined side to the supervisor. */
enum { REC_REPORT = 0x52455031, REC_EXIT = 0x45584954, REC_ERROR = 0x4552524f };

struct rec {
	uint32_t type;
	union {
		struct bx_confine_report report;
		int wstatus;
		struct {
			int code;   /* -errno */
			int status; /* 125/126/127 */
			char text[BX_ERROR_TEXT_MAX];
		} error;
	} u;
};
_Static_assert(sizeof(struct rec) <= PIPE_BUF, "a record must be one atomic pipe write");

static void send_rec(int fd, const struct rec *r)
{
	ssize_t n;

	if (fd < 0)
		return;
	do
		n = write(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
}

static bool env_name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **bx_exec_ext_env(const struct bx_exec_ext *x, char **envp)
{
	size_t n = 0;

	if (!x || !envp)
		return envp;
	while (envp[n])
		n++;
	for (size_t i = 0; i < x->nenv; i++) {
		const bx_exec_env *e = &x->env[i];
		size_t w = 0;

		/* Remove every NAME=..., then add the new value. */
		for (size_t k = 0; k < n; k++) {
			if (env_name_is(envp[k], e->name))
				free(envp[k]);
			else
				envp[w++] = envp[k];
		}
		n = w;
		envp[n] = NULL;
		if (!e->value)
			continue;
		char **grown = realloc(envp, (n + 2) * sizeof(*envp));
		if (!grown)
			goto fail;
		envp = grown;
		if (asprintf(&envp[n], "%s=%s", e->name, e->value) < 0) {
			envp[n] = NULL;
			goto fail;
		}
		envp[++n] = NULL;
	}
	return envp;
fail:
	for (size_t k = 0; envp[k]; k++)
		free(envp[k]);
	free(envp);
	return NULL;
}

/* A step's lines, joined with "; ", into out. */
static void step_result(const struct bx_confine_report *rep, const struct bx_confine_step *s,
			char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (size_t i = s->off;
	     i < (size_t)s->off + s->len && i < sizeof(rep->text) && rep->text[i] && o + 3 < len;
	     i++) {
		if (rep->text[i] != '\n') {
			out[o++] = rep->text[i];
		} else if (i + 1 < (size_t)s->off + s->len) {
			out[o++] = ';';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, len, "done");
}

void bx_exec_ext_confined(const struct bx_exec_ext *x, const struct bx_confine_report *rep)
{
	if (!x)
		return;
	if (x->verbose) {
		char buf[4096];
		size_t o = 0;

		for (size_t i = 0; i < rep->nsteps && o < sizeof(buf); i++) {
			char res[384];
			int w;

			step_result(rep, &rep->steps[i], res, sizeof(res));
			w = snprintf(buf + o, sizeof(buf) - o,
				     "beambox: exec: %-10s %7llu us  %s\n", rep->steps[i].name,
				     (unsigned long long)rep->steps[i].usec, res);
			if (w < 0)
				break;
			o += (size_t)w < sizeof(buf) - o ? (size_t)w : sizeof(buf) - o - 1;
		}
		bx_ignore(write(STDERR_FILENO, buf, o));
	}
	if (x->status_fd >= 0) {
		struct rec r;

		memset(&r, 0, sizeof(r));
		r.type = REC_REPORT;
		r.u.report = *rep;
		send_rec(x->status_fd, &r);
	}
}

void bx_exec_ext_exited(const struct bx_exec_ext *x, int wstatus)
{
	struct rec r;

	if (!x || x->status_fd < 0)
		return;
	memset(&r, 0, sizeof(r));
	r.type = REC_EXIT;
	r.u.wstatus = wstatus;
	send_rec(x->status_fd, &r);
}

/* ================================================================ options */

BX_API void bx_exec_opts_init(bx_exec_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->json_status_fd = -1;
	opts->cancel_fd = -1;
}

/* Absolute, normalised: no "." or ".." component, no empty one. */
static bool normalised_abs(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || p[0] != '/' || len >= BX_POLICY_PATH_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		size_t e = i + 1;

		if (p[i] != '/')
			continue;
		while (e < len && p[e] != '/')
			e++;
		if ((e - i - 1 == 1 && p[i + 1] == '.') ||
		    (e - i - 1 == 2 && p[i + 1] == '.' && p[i + 2] == '.') ||
		    (e == i + 1 && e < len))
			return false;
	}
	return true;
}

static int check_opts(const bx_exec_opts *o, const struct bx_policy *p, bx_error *err)
{
	if (o->nbinds > BX_POLICY_BINDS_MAX - p->nbinds)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET,
			       "%zu binds on top of the policy's %zu: at most %d in all", o->nbinds,
			       p->nbinds, BX_POLICY_BINDS_MAX);
	for (size_t i = 0; i < o->nbinds; i++) {
		const bx_exec_bind *b = &o->binds[i];

		if (!b->src || !*b->src || !b->dst)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bind %zu: empty source", i + 1);
		if (!normalised_abs(b->dst) || strcmp(b->dst, "/") == 0)
			return bx_fail(
			    err, -EINVAL, BX_NO_OFFSET,
			    "bind destination '%.200s': expected an absolute, normalised "
			    "path other than /",
			    b->dst);
	}
	if (o->chdir && !normalised_abs(o->chdir))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "chdir '%.200s': expected an absolute, normalised path", o->chdir);
	for (size_t i = 0; i < o->nenv; i++) {
		const char *n = o->env[i].name;

		if (!n || !*n || strchr(n, '='))
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "environment name '%.64s': empty or has '='", n ? n : "");
	}
	return 0;
}

/*
 * In the child: a shallow copy of the policy (the child never frees it: it
 * executes the program or exits) with the extra binds appended, sources
 * resolved on the host now. A missing optional source is left out.
 */
static int policy_with_binds(const struct bx_policy *base, const bx_exec_opts *o,
			     struct bx_policy **out, bx_error *err)
{
	struct bx_policy *p;
	int r = 0;

	if (o->nbinds == 0) {
		*out = (struct bx_policy *)base;
		return 0;
	}
	p = malloc(sizeof(*p));
	if (!p)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	memcpy(p, base, sizeof(*p));
	for (size_t i = 0; i < o->nbinds && r == 0; i++) {
		const bx_exec_bind *b = &o->binds[i];
		char *src = realpath(b->src, NULL);
		char *dst;

		if (!src && b->optional && (errno == ENOENT || errno == ENOTDIR))
			continue;
		if (!src) {
			r = bx_fail(err, -errno, BX_NO_OFFSET, "bind source '%.200s': %m", b->src);
			break;
		}
		dst = strdup(b->dst);
		if (!dst) {
			free(src);
			r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
			break;
		}
		p->binds[p->nbinds++] = (struct bx_bind){
		    .src = src,
		    .dst = dst,
		    .rw = b->rw != 0,
		    .optional = false,
		    /* as in policy files: what the sandbox can write it cannot run */
		    .exec = b->rw == 0};
	}
	if (r < 0) {
		/* Only the binds added here are this copy's own. */
		for (size_t i = base->nbinds; i < p->nbinds; i++) {
			free(p->binds[i].src);
			free(p->binds[i].dst);
		}
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

static __attribute__((noreturn)) void child_main(const bx_exec_opts *o,
						 const struct bx_policy *base, const char *prog,
						 char *const argv[], int status_fd)
{
	struct bx_exec_ext x = {
	    .chdir = o->chdir,
	    .env = o->env,
	    .nenv = o->nenv,
	    .status_fd = status_fd,
	    .verbose = o->verbose != 0,
	};
	struct bx_policy *p = NULL;
	struct rec rec;
	bx_error cerr;
	int r;

	bx_error_clear(&cerr);
	r = policy_with_binds(base, o, &p, &cerr);
	if (r == 0)
		r = bx_exec_confined_ext(p, prog, argv, -1, &x,
					 &cerr); /* returns only on failure */
	memset(&rec, 0, sizeof(rec));
	rec.type = REC_ERROR;
	rec.u.error.code = r;
	rec.u.error.status = bx_exec_status_for(r, &cerr);
	snprintf(rec.u.error.text, sizeof(rec.u.error.text), "%s",
		 cerr.text[0] ? cerr.text : strerror(-r));
	send_rec(status_fd, &rec);
	_exit(rec.u.error.status);
}

/* ================================================================ the supervisor */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const struct {
	uint32_t bit;
	const char *name;
} ns_names[] = {
    {BX_NS_USER, "user"}, {BX_NS_MOUNT, "mount"},   {BX_NS_IPC, "ipc"},	  {BX_NS_UTS, "uts"},
    {BX_NS_NET, "net"},	  {BX_NS_CGROUP, "cgroup"}, {BX_NS_TIME, "time"}, {BX_NS_PID, "pid"},
};

/* Fills res from a confinement report (validated: it crossed a process boundary). */
static void take_report(bx_exec_result *res, struct bx_confine_report *rep)
{
	size_t o = 0;

	rep->text[sizeof(rep->text) - 1] = '\0';
	res->pid = rep->host_pid;
	res->namespaces[0] = '\0';
	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		if (!(rep->namespaces & ns_names[i].bit))
			continue;
		int w = snprintf(res->namespaces + o, sizeof(res->namespaces) - o, "%s%s",
				 o ? " " : "", ns_names[i].name);
		if (w > 0 && (size_t)w < sizeof(res->namespaces) - o)
			o += (size_t)w;
	}
	res->nsteps = 0;
	_Static_assert(BX_EXEC_STEPS_MAX >= BX_CONFINE_STEPS_MAX, "every step fits the result");
	for (size_t i = 0; i < rep->nsteps && i < BX_CONFINE_STEPS_MAX; i++) {
		struct bx_confine_step *s = &rep->steps[i];
		bx_exec_step *d = &res->steps[res->nsteps++];

		s->name[sizeof(s->name) - 1] = '\0';
		if (s->off >= sizeof(rep->text))
			s->off = 0, s->len = 0;
		if ((size_t)s->off + s->len > sizeof(rep->text))
			s->len = (uint16_t)(sizeof(rep->text) - s->off);
		snprintf(d->name, sizeof(d->name), "%s", s->name);
		step_result(rep, s, d->result, sizeof(d->result));
		d->usec = (unsigned long long)s->usec;
	}
}

static void set_wstatus(bx_exec_result *res, int wstatus)
{
	if (WIFEXITED(wstatus)) {
		res->exit_code = WEXITSTATUS(wstatus);
		res->signal = 0;
	} else if (WIFSIGNALED(wstatus)) {
		res->exit_code = -1;
		res->signal = WTERMSIG(wstatus);
	}
}

/* The program and everything it started. */
static void kill_all(pid_t child, int pidfd)
{
	/*
	 * Without a pid namespace the child is the program, which leads its own
	 * session and process group (step 6). With one, the child is the monitor
	 * (no group of its own: this fails with ESRCH) and killing it takes the
	 * namespace's init (parent-death signal) and so the whole namespace.
	 * The child is not reaped yet, so its pid cannot name anything else.
	 */
	kill(-child, SIGKILL);
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

struct supervise {
	pid_t child;
	int pidfd;
	int pipe_rd;
	struct rec rec; /* the record being read */
	size_t rec_got; /* bytes of it so far */
	bool got_exit;	/* init's REC_EXIT seen */
	int exit_wstatus;
	bool got_error;
	int error_code, error_status;
	char error_text[BX_ERROR_TEXT_MAX];
};

/* Reads what is there; returns 1 at EOF, 0 otherwise. */
static int read_records(struct supervise *s, bx_exec_result *res)
{
	for (;;) {
		ssize_t n =
		    read(s->pipe_rd, (char *)&s->rec + s->rec_got, sizeof(s->rec) - s->rec_got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : 1;
		if (n == 0)
			return 1;
		s->rec_got += (size_t)n;
		if (s->rec_got < sizeof(s->rec))
			continue;
		s->rec_got = 0;
		switch (s->rec.type) {
		case REC_REPORT:
			take_report(res, &s->rec.u.report);
			break;
		case REC_EXIT:
			s->got_exit = true;
			s->exit_wstatus = s->rec.u.wstatus;
			break;
		case REC_ERROR:
			s->got_error = true;
			s->error_code = s->rec.u.error.code < 0 ? s->rec.u.error.code : -EIO;
			s->error_status = s->rec.u.error.status;
			if (s->error_status < BX_EXEC_SETUP_FAILED ||
			    s->error_status > BX_EXEC_NOT_FOUND)
				s->error_status = BX_EXEC_SETUP_FAILED;
			s->rec.u.error.text[sizeof(s->rec.u.error.text) - 1] = '\0';
			snprintf(s->error_text, sizeof(s->error_text), "%s", s->rec.u.error.text);
			break;
		default:
			break; /* not ours: ignored */
		}
	}
}

BX_API int bx_exec_run(const bx_exec_opts *o, const char *prog, char *const argv[],
		       bx_exec_result *res, bx_error *err)
{
	bx_exec_opts defaults;
	bx_exec_result local;
	struct bx_policy *own = NULL;
	const struct bx_policy *policy;
	struct supervise s = {.child = -1, .pidfd = -1, .pipe_rd = -1};
	int pipefd[2] = {-1, -1};
	uint64_t start = now_us(), deadline = 0;
	bool pipe_open = true, timed_out = false;
	int cancel_sig = 0, r;
	siginfo_t si;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	res->status = BX_EXEC_SETUP_FAILED;
	if (!o) {
		bx_exec_opts_init(&defaults);
		o = &defaults;
	}
	policy = o->policy;
	if (!policy) {
		r = bx_exec_policy_load(o->policy_name, &own, err);
		if (r < 0)
			goto fail;
		policy = own;
	}
	snprintf(res->policy, sizeof(res->policy), "%s", policy->name);
	r = check_opts(o, policy, err);
	if (r < 0)
		goto fail;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "pipe2: %m");
		goto fail;
	}
	s.child = fork();
	if (s.child < 0) {
		r = bx_fail(err, -errno, BX_NO_OFFSET, "fork: %m");
		goto fail;
	}
	if (s.child == 0) {
		close(pipefd[0]);
		child_main(o, policy, prog, argv, pipefd[1]);
	}
	bx_close_and_reset(&pipefd[1]);
	s.pipe_rd = pipefd[0];
	pipefd[0] = -1;
	/* Not reaped yet, so the pid is still the child's. */
	s.pidfd = (int)syscall(SYS_pidfd_open, s.child, 0);
	if (s.pidfd < 0) {
		r = -errno;
		kill(s.child, SIGKILL);
		waitpid(s.child, NULL, 0);
		bx_fail(err, r, BX_NO_OFFSET, "pidfd_open: %s", strerror(-r));
		goto fail;
	}
	if (fcntl(s.pipe_rd, F_SETFL, O_NONBLOCK) < 0) {
		/* Cannot happen on a pipe; if it did, stop everything rather than block. */
		kill_all(s.child, s.pidfd);
	}
	if (o->timeout_ms)
		deadline = start + (uint64_t)o->timeout_ms * 1000u;

	/* Wait for the child, reading its records, until it has exited. */
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = s.pidfd, .events = POLLIN},
		    {.fd = pipe_open ? s.pipe_rd : -1, .events = POLLIN},
		    {.fd = cancel_sig ? -1 : o->cancel_fd, .events = POLLIN},
		};
		int wait_ms = -1, n;

		if (deadline && !timed_out) {
			uint64_t now = now_us();
			wait_ms = now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
		}
		n = poll(pfd, 3, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && deadline && !timed_out) {
			timed_out = true;
			kill_all(s.child, s.pidfd);
			continue;
		}
		if (pfd[1].revents)
			pipe_open = !read_records(&s, res);
		if (pfd[2].revents && !cancel_sig) {
			unsigned char b = 0;

			cancel_sig =
			    read(o->cancel_fd, &b, 1) == 1 && b > 0 && b < 65 ? b : SIGTERM;
			kill_all(s.child, s.pidfd);
		}
		if (pfd[0].revents)
			break;
	}
	memset(&si, 0, sizeof(si));
	while (waitid((idtype_t)P_PIDFD, (id_t)s.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	/* The rest of the records: the pipe ends when the last confined process holding it does. */
	for (uint64_t until = now_us() + (uint64_t)DRAIN_MS * 1000u; pipe_open;) {
		struct pollfd pfd = {.fd = s.pipe_rd, .events = POLLIN};
		uint64_t now = now_us();

		if (now >= until || poll(&pfd, 1, (int)((until - now) / 1000 + 1)) == 0)
			break;
		pipe_open = !read_records(&s, res);
	}
	res->duration_us = now_us() - start;

	if (s.got_exit)
		set_wstatus(res, s.exit_wstatus);
	else if (si.si_code == CLD_EXITED)
		res->exit_code = si.si_status;
	else
		res->signal = si.si_status;
	if (timed_out || cancel_sig) {
		res->timed_out = timed_out;
		res->status = timed_out ? BX_EXEC_TIMED_OUT : 128 + cancel_sig;
		if (!s.got_exit) /* what ended it was our SIGKILL */
			res->exit_code = -1, res->signal = SIGKILL;
		r = res->status;
	} else if (s.got_error) {
		res->status = s.error_status;
		res->exit_code = -1; /* the program never ran */
		res->signal = 0;
		r = bx_fail(err, s.error_code, BX_NO_OFFSET, "%s", s.error_text);
	} else {
		res->status = res->signal ? 128 + res->signal : res->exit_code;
		r = res->status;
	}
	if (r < 0)
		snprintf(res->error, sizeof(res->error), "%s", s.error_text);
	if (o->json_status_fd >= 0)
		bx_ignore(bx_exec_write_json(o->json_status_fd, res));
	close(s.pidfd);
	close(s.pipe_rd);
	bx_policy_free(own);
	return r;

fail:
	if (err)
		snprintf(res->error, sizeof(res->error), "%s", err->text);
	res->status = BX_EXEC_SETUP_FAILED;
	if (o->json_status_fd >= 0)
		bx_ignore(bx_exec_write_json(o->json_status_fd, res));
	bx_close_and_reset(&pipefd[0]);
	bx_close_and_reset(&pipefd[1]);
	bx_policy_free(own);
	return r;
}

/* ================================================================ JSON status */

BX_API int bx_exec_write_json(int fd, const bx_exec_result *res)
{
	json_object *o = json_object_new_object(), *ns = json_object_new_array(),
		    *steps = json_object_new_array();
	char nsbuf[sizeof(res->namespaces)], signame[16] = "";
	const char *sig = res->signal ? sigabbrev_np(res->signal) : NULL;
	int r;

	if (!o || !ns || !steps) {
		json_object_put(o);
		json_object_put(ns);
		json_object_put(steps);
		return -ENOMEM;
	}
	snprintf(nsbuf, sizeof(nsbuf), "%s", res->namespaces);
	for (char *save = NULL, *t = strtok_r(nsbuf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_object_array_add(ns, bx_json_str(t));
	for (unsigned i = 0; i < res->nsteps && i < BX_EXEC_STEPS_MAX; i++) {
		json_object *st = json_object_new_object();

		if (!st)
			continue;
		json_object_object_add(st, "name", bx_json_str(res->steps[i].name));
		json_object_object_add(st, "result", bx_json_str(res->steps[i].result));
		json_object_object_add(st, "usec",
				       json_object_new_int64((int64_t)res->steps[i].usec));
		json_object_array_add(steps, st);
	}
	if (sig)
		snprintf(signame, sizeof(signame), "SIG%s", sig);
	json_object_object_add(o, "pid", json_object_new_int(res->pid));
	json_object_object_add(o, "policy", bx_json_str(res->policy));
	json_object_object_add(o, "namespaces", ns);
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "status", json_object_new_int(res->status));
	json_object_object_add(o, "exit_code",
			       res->exit_code >= 0 ? json_object_new_int(res->exit_code) : NULL);
	json_object_object_add(o, "signal", res->signal ? json_object_new_int(res->signal) : NULL);
	json_object_object_add(o, "signal_name", sig ? bx_json_str(signame) : NULL);
	json_object_object_add(o, "timed_out", json_object_new_boolean(res->timed_out != 0));
	json_object_object_add(o, "duration_us", json_object_new_int64((int64_t)res->duration_us));
	json_object_object_add(o, "syscall", res->syscall[0] ? bx_json_str(res->syscall) : NULL);
	json_object_object_add(o, "error", res->error[0] ? bx_json_str(res->error) : NULL);
	r = bx_json_write_line(fd, o);
	json_object_put(o);
	return r;
}
