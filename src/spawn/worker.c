/* SPDX-License-Identifier: MIT */
/* worker: the worker side of bx_spawn (see worker.h). */
#define _GNU_SOURCE
#include "spawn/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <beambox/spawn.h>

#include "confine/confine.h"
#include "policy/wire.h"
#include "remote.h"
#include "spawn/child.h"
#include "spawn/init.h"
#include "spawn/learn.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/intparse.h"

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

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* A list value of the config as a NULL-terminated vector of copies (no embedded NULs). */
static int config_strv(const bx_msg *m, const char *key, char ***out)
{
	const bx_bytes *v;
	size_t n;
	char **vec;

	if (bx_msg_get(m, key, &v, &n) < 0)
		return -EBADMSG;
	vec = calloc(n + 1, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (memchr(v[i].p, 0, v[i].len) || !(vec[i] = strndup(v[i].p, v[i].len))) {
			free_strv(vec);
			return -EBADMSG;
		}
	}
	*out = vec;
	return 0;
}

static int config_number(const bx_msg *m, const char *key, uint64_t max, uint64_t *out)
{
	bx_bytes v;

	if (bx_msg_get_one(m, key, &v) < 0)
		return -EBADMSG;
	return bx_parse_u64(v.p, v.len, max, out);
}

/* Takes the keys that are not the policy's out of the config message. */
static int config_take_extras(bx_msg *m, struct bx_worker_config *c, bx_error *err)
{
	uint64_t v;

	if (config_number(m, "cloned", BX_NS_USER | BX_NS_PID, &v) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "bad 'cloned'");
	c->cloned = (uint32_t)v;
	if (config_number(m, "become", 1, &v) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "bad 'become'");
	c->become = v == 1;
	if (config_number(m, "note", INT32_MAX, &v) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "bad 'note'");
	c->note_fd = v ? (int)v : -1;
	bx_ignore(bx_msg_del(m, "cloned"));
	bx_ignore(bx_msg_del(m, "become"));
	bx_ignore(bx_msg_del(m, "note"));
	/*
	 * Learning mode (`beambox policy learn --worker`): the parent passed a
	 * channel to its supervisor at this number; the confinement's last step
	 * hands the serving process's seccomp listener over on it.
	 */
	if (config_number(m, "learn", INT32_MAX, &v) == 0) {
		if (v != BX_SPAWN_LEARN_FD || fcntl(BX_SPAWN_LEARN_FD, F_SETFD, FD_CLOEXEC) < 0)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "bad 'learn'");
		c->learn_fd = BX_SPAWN_LEARN_FD;
		bx_ignore(bx_msg_del(m, "learn"));
	}
	if (config_number(m, "exec_fd", INT32_MAX, &v) == 0) {
		c->exec_fd = (int)v;
		if (config_strv(m, "exec_argv", &c->exec_argv) < 0 ||
		    config_strv(m, "exec_env", &c->exec_envp) < 0 || !c->exec_argv[0])
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "bad exec_argv/exec_env");
		bx_ignore(bx_msg_del(m, "exec_fd"));
		bx_ignore(bx_msg_del(m, "exec_argv"));
		bx_ignore(bx_msg_del(m, "exec_env"));
	}
	return 0;
}

/*
 * The policy: from the parent's config frame (bx_spawn sends one, with the
 * compiled filter attached), or the built-in default for a parent that does
 * not know beambox (the original Go parent sends none). c->from_beambox says
 * which: only a parent that announced beambox is sent beambox's extensions.
 */
static int worker_config(bx_beam *main, struct bx_worker_config *c, char *why, size_t len)
{
	const char *config = getenv(BX_SPAWN_CONFIG_ENV);
	bx_frame f = {.fd = -1};
	bx_msg *m = NULL;
	bx_bytes cmd;
	bx_error err;
	int r;

	if (!config || strcmp(config, "1") != 0) {
		r = bx_policy_default(&c->policy);
		if (r < 0)
			snprintf(why, len, "default policy: %s", strerror(-r));
		return r;
	}
	unsetenv(BX_SPAWN_CONFIG_ENV);
	c->from_beambox = true;
	bx_error_clear(&err);
	r = bx_beam_recv(main, &f, &err);
	if (r == 1)
		r = bx_msg_decode(f.data, f.len, 0, &m, &err);
	else if (r == 0)
		r = bx_fail(&err, -EPIPE, BX_NO_OFFSET, "EOF");
	if (r == 0 &&
	    (bx_msg_get_one(m, "cmd", &cmd) < 0 || strcmp(cmd.p, "config") != 0 || f.fd < 0))
		r = bx_fail(&err, -EPROTO, BX_NO_OFFSET, "not a config frame with a filter");
	if (r == 0)
		r = config_take_extras(m, c, &err);
	if (r == 0)
		c->one_channel = bx_remote_config_take_offer(m) == 1;
	if (r == 0)
		r = bx_policy_from_msg(m, &c->policy, &err);
	if (r == 0)
		c->bpf_fd = bx_steal_fd(&f.fd);
	else
		snprintf(why, len, "reading the config: %.200s", err.text);
	bx_msg_free(m);
	bx_frame_clear(&f);
	return r;
}

/*
 * A worker started by a parent that does not know beambox (the original Go
 * parent): it makes its own namespaces the way bx_spawn would, by starting
 * pid 1 of them (in this very process's image: it is single-threaded and
 * fresh), and stays outside as a monitor that ends as the serving process
 * did. A root parent's worker takes a dynamic or the policy's uid.
 */
static void worker_start_own_namespaces(struct bx_worker_config *c)
{
	const struct bx_policy *p = c->policy;
	struct bx_child_spec spec;
	struct bx_child child;
	bx_error err;
	int note[2], r;

	c->become = geteuid() == 0;
	if (c->become && p->uid_dynamic) {
		bx_error_clear(&err);
		if (bx_dynuid_acquire(&c->uid, &err) < 0)
			worker_die(NULL, "%s", err.text);
		c->policy->uid = c->uid.uid;
		c->policy->gid = (gid_t)c->uid.uid;
	}
	if (!(p->namespaces & (BX_NS_USER | BX_NS_PID))) {
		/* Nothing would stay outside to hold the uid's lock for this worker's life. */
		if (c->uid.lock_fd >= 0)
			worker_die(NULL, "uid = dynamic needs a user or pid namespace here");
		return;
	}
	if (pipe2(note, O_CLOEXEC) < 0)
		worker_die(NULL, "pipe2: %m");
	spec = (struct bx_child_spec){
	    .ns_flags = bx_clone_flags_for(p->namespaces),
	    .ns_optional = bx_clone_flags_for(p->namespaces_optional),
	    .uid = c->become ? p->uid : geteuid(),
	    .gid = c->become ? p->gid : getegid(),
	    .as_root = c->become,
	    .exec_fd = -1,
	};
	bx_error_clear(&err);
	r = bx_child_start(&spec, &child, &err);
	if (r < 0)
		worker_die(NULL, "starting the namespaces: %s", err.text);
	if (r == 0) {
		close(note[1]);
		bx_init_monitor(child.pid, child.pidfd, note[0], &c->uid);
	}
	/* pid 1 of the new namespaces (when the policy has a pid namespace). */
	close(note[0]);
	c->uid.lock_fd = -1; /* the monitor holds it */
	c->cloned = bx_ns_for_clone_flags(child.ns);
	c->note_fd = note[1];
}

/*
 * The confinement step: the whole sequence of src/confine/. With split (pid 1
 * of a pid namespace), every step but the loading of the filters, which
 * the serving process and init each do for their own after the fork.
 */
static int worker_confine(struct bx_worker_config *c, int exec_pipe[2],
			  struct bx_confine_filters *split, struct bx_confine_report *rep,
			  char *why, size_t len)
{
	struct bx_confine_opts opts = {
	    .keep_fds = {BX_SPAWN_BEAM_FD, c->note_fd, exec_pipe[0], exec_pipe[1], c->learn_fd, -1},
	    .exec_fd = c->exec_fd,
	    .note_fd = c->note_fd,
	    .init_read_fd = exec_pipe[0],
	    .split = split,
	    .bpf_fd = c->bpf_fd,
	    .bpf = c->bpf,
	    .cloned_ns = c->cloned,
	    .joined_ns = c->joined,
	    .become = c->become,
	    .uid = c->policy->uid,
	    .gid = c->policy->gid,
	    /* The parent holds the other end of the connection. */
	    .parent_fd = BX_SPAWN_BEAM_FD,
	    /* Learning: the serving process's last filter reports to the supervisor. */
	    .learn_sock = c->learn_fd,
	};
	bx_error err;
	int r;

	bx_error_clear(&err);
	r = bx_confine_self(c->policy, &opts, rep, &err);
	bx_close_and_reset(&c->bpf_fd);
	c->learn_fd = -1; /* the confinement's now: handed over, or closed */
	if (r < 0)
		snprintf(why, len, "confinement failed: %.200s", err.text);
	return r;
}

/*
 * A foreign worker's serving process: the program, with fd 3 (made to
 * survive the exec before the fork) and its stdio. Its filter allows this
 * execveat and the note of its failure.
 */
static __attribute__((noreturn)) void worker_exec_foreign(const struct bx_worker_config *c,
							  const struct bx_init_opts *io)
{
	syscall(SYS_execveat, c->exec_fd, "", c->exec_argv, c->exec_envp, AT_EMPTY_PATH);
	bx_init_exec_failed(io, errno, c->exec_argv[0]);
}

void bx_worker_side_main(bx_installer_fn installer, void *ctx)
{
	struct bx_worker_config c = {
	    .bpf_fd = -1, .note_fd = -1, .exec_fd = -1, .learn_fd = -1, .uid = {0, -1}};
	bx_beam *main = NULL;
	int type = 0, r;
	socklen_t tlen = sizeof(type);
	char why[BX_ERROR_TEXT_MAX];

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

	r = worker_config(main, &c, why, sizeof(why));
	if (r < 0 || !c.policy)
		/* An original parent reads nothing on main: it is not sent beambox's messages. */
		worker_die(c.from_beambox ? main : NULL, "%s", r < 0 ? why : "no policy");
	if (!c.from_beambox)
		worker_start_own_namespaces(&c);
	bx_worker_side_serve(&c, main, installer, ctx);
}

void bx_worker_side_serve(struct bx_worker_config *c, bx_beam *main, bx_installer_fn installer,
			  void *ctx)
{
	struct bx_init_opts io = {
	    .note_fd = -1, .close_in_init = {-1, -1, -1, -1}, .exec_pipe = {-1, -1}};
	struct bx_confine_report rep;
	struct bx_confine_filters filters;
	bx_engine *eng = NULL;
	int r;
	char why[BX_ERROR_TEXT_MAX];
	struct bx_remote_serve_opts serve = {.beambox_parent = c->from_beambox,
					     .one_channel = c->from_beambox && c->one_channel};
	/* An original parent reads nothing on main: it is not sent beambox's messages. */
	bx_beam *reply = c->from_beambox ? main : NULL;

	/*
	 * A parent that stops reading a job's pipes must not kill the worker
	 * (and every later job): writes get EPIPE instead, as in a Go worker.
	 * Set here, in the process that confines itself and serves (a clone
	 * above resets every handler).
	 */
	signal(SIGPIPE, SIG_IGN);
	/* Notes come from an init only: without one nothing may write there. */
	if (!(c->cloned & BX_NS_PID))
		bx_close_and_reset(&c->note_fd);
	if (c->note_fd >= 0 && fcntl(c->note_fd, F_SETFD, FD_CLOEXEC) < 0)
		worker_die(reply, "fcntl(note): %m");
	if (c->exec_fd >= 0 && pipe2(io.exec_pipe, O_CLOEXEC) < 0)
		worker_die(reply, "pipe2: %m");

	/* Confinement comes before any handler code exists in this process. */
	bx_confine_filters_init(&filters);
	r = worker_confine(c, io.exec_pipe, (c->cloned & BX_NS_PID) ? &filters : NULL, &rep, why,
			   sizeof(why));
	if (r < 0)
		worker_die(reply, "%s", why);

	/*
	 * pid 1 of its namespace: fork the serving process, stay behind as init;
	 * each loads its own filter right after the fork.
	 */
	if (c->cloned & BX_NS_PID) {
		bx_error err;

		/* fd 3 is a foreign program's connection: it survives that exec (the note does
		 * not). */
		if (c->exec_fd >= 0 && fcntl(BX_SPAWN_BEAM_FD, F_SETFD, 0) < 0)
			worker_die(reply, "fcntl(fd 3): %m");
		io.note_fd = c->note_fd;
		io.close_in_init[0] = BX_SPAWN_BEAM_FD;
		io.close_in_init[1] = c->exec_fd;
		io.report = &rep;
		io.filters = &filters;
		bx_error_clear(&err);
		if (bx_init_fork(&io, &err) < 0)
			worker_die(reply, "%s", err.text);
		if (c->exec_fd < 0)
			bx_close_and_reset(&c->note_fd);
	}
	if (c->exec_fd >= 0)
		worker_exec_foreign(c, &io);

	r = bx_engine_new(&eng);
	if (r < 0)
		worker_die(reply, "engine: %s", strerror(-r));
	if (installer) {
		r = installer(eng, ctx);
		if (r < 0)
			worker_die(reply, "installer failed: %s", strerror(-r));
	}
	{
		struct bx_remote_hello hello;

		memset(&hello, 0, sizeof(hello));
		/* Under init the parent finds this process itself (our pid here is not its). */
		hello.pid = (c->cloned & BX_NS_PID) ? 0 : rep.host_pid;
		hello.namespaces = rep.namespaces;
		hello.one_channel = serve.one_channel;
		snprintf(hello.report, sizeof(hello.report), "%s", rep.text);
		bx_policy_free(c->policy);
		c->policy = NULL;
		r = serve.beambox_parent ? bx_remote_send_ready(main, &hello) : 0;
	}
	if (r < 0)
		_exit(1); /* the parent is gone */
	r = bx_remote_serve_with(main, eng, &serve);
	bx_engine_free(eng);
	bx_beam_free(main);
	exit(r < 0 ? 1 : 0);
}
