/* SPDX-License-Identifier: MIT */
/*
 * The messages that set a worker up, in process: the policy hand-over
 * (src/policy/wire.c) and the worker's hello (src/remote.c). Workers run
 * these in their own process, where coverage and sanitizers see less.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <beambox/beam.h>
#include <beambox/data.h>

#include "policy/policy.h"
#include "policy/wire.h"
#include "remote.h"

static void test_policy_round_trip(void **state)
{
	struct bx_policy *p = NULL, *back = NULL;
	bx_msg *m = NULL, *d = NULL;
	char *buf = NULL;
	size_t len;
	bx_error err;
	(void)state;

	assert_int_equal(bx_policy_default(&p), 0);
	p->binds[p->nbinds].src = strdup("/srv/data");
	p->binds[p->nbinds].dst = strdup("/data");
	p->binds[p->nbinds].rw = true;
	p->binds[p->nbinds].exec = true; /* rw and exec: only by an explicit `exec` */
	p->nbinds++;
	assert_int_equal(bx_msg_new(&m), 0);
	assert_int_equal(bx_policy_to_msg(p, m), 0);
	assert_int_equal(bx_msg_encode(m, &buf, &len), 0);
	assert_int_equal(bx_msg_decode(buf, len, 0, &d, &err), 0);
	assert_int_equal(bx_policy_from_msg(d, &back, &err), 0);

	assert_string_equal(back->name, p->name);
	assert_int_equal(back->namespaces, p->namespaces);
	assert_int_equal(back->namespaces_optional, p->namespaces_optional);
	assert_int_equal(back->uid, p->uid);
	assert_int_equal(back->gid, p->gid);
	assert_string_equal(back->hostname, p->hostname);
	assert_int_equal(back->nbinds, p->nbinds);
	for (size_t i = 0; i < p->nbinds; i++) {
		assert_string_equal(back->binds[i].src, p->binds[i].src);
		assert_string_equal(back->binds[i].dst, p->binds[i].dst);
		assert_int_equal(back->binds[i].rw, p->binds[i].rw);
		assert_int_equal(back->binds[i].optional, p->binds[i].optional);
		assert_int_equal(back->binds[i].exec, p->binds[i].exec);
	}
	assert_int_equal(back->tmp_size, p->tmp_size);
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		assert_int_equal(back->rlimits[i].set, p->rlimits[i].set);
		if (p->rlimits[i].set)
			assert_int_equal(back->rlimits[i].value, p->rlimits[i].value);
	}
	assert_int_equal(back->cgroup, p->cgroup);
	assert_int_equal(back->cgroup_memory_max, p->cgroup_memory_max);
	assert_int_equal(back->cgroup_pids_max, p->cgroup_pids_max);
	assert_int_equal(back->landlock, p->landlock);
	assert_int_equal(back->nenv_keep, p->nenv_keep);
	for (size_t i = 0; i < p->nenv_keep; i++)
		assert_string_equal(back->env_keep[i], p->env_keep[i]);
	assert_int_equal(back->default_action, p->default_action);
	/* The rules do not travel: the worker gets the compiled filter. */
	assert_int_equal(back->nrules, 0);

	bx_policy_free(back);
	bx_policy_free(p);
	bx_msg_free(d);
	bx_msg_free(m);
	free(buf);
}

/* One key of a valid config message replaced by bad values: each must be refused by name. */
static void test_policy_message_refusals(void **state)
{
	static const struct {
		const char *key;
		const char *values[3]; /* NULL-terminated; none: key present without values */
		const char *err;
	} cases[] = {
	    {"ns", {"256", NULL}, "bad 'ns'"},
	    {"uid", {"-1", NULL}, "bad 'uid'"},
	    {"uid", {"1", "2", NULL}, "bad 'uid'"},
	    {"hostname",
	     {"a\nb-and-far-too-long-for-a-hostname-field-of-sixty-four-bytes-in-total!!", NULL},
	     "bad 'hostname'"},
	    {"cgroup", {"3", NULL}, "bad 'cgroup'"},
	    {"landlock", {"x", NULL}, "bad 'landlock'"},
	    {"bind_flags", {"rx", NULL}, "bad binds"},
	    {"rlimit", {"7", NULL}, "bad rlimit"},
	    {"rlimit", {"99=1", NULL}, "bad rlimit"},
	    {"env_keep", {"A=B", NULL}, "bad env name"},
	    {"frobnicate", {"1", NULL}, "unknown key 'frobnicate'"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bx_policy *p = NULL, *back = NULL;
		bx_msg *m = NULL;
		bx_error err;

		assert_int_equal(bx_policy_default(&p), 0);
		assert_int_equal(bx_msg_new(&m), 0);
		assert_int_equal(bx_policy_to_msg(p, m), 0);
		(void)bx_msg_del(m, cases[i].key);
		assert_int_equal(bx_msg_touch(m, cases[i].key), 0);
		for (size_t v = 0; cases[i].values[v]; v++)
			assert_int_equal(bx_msg_add(m, cases[i].key, cases[i].values[v]), 0);
		bx_error_clear(&err);
		if (bx_policy_from_msg(m, &back, &err) >= 0)
			fail_msg("case %zu (%s): accepted", i, cases[i].key);
		if (!strstr(err.text, cases[i].err))
			fail_msg("case %zu (%s): '%s' does not say '%s'", i, cases[i].key, err.text,
				 cases[i].err);
		assert_null(back);
		bx_msg_free(m);
		bx_policy_free(p);
	}
}

static void beam_pair(bx_beam **a, bx_beam **b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(bx_beam_new(sv[0], a), 0);
	assert_int_equal(bx_beam_new(sv[1], b), 0);
}

static void test_hello_round_trip(void **state)
{
	struct bx_remote_hello out = {.pid = 4242, .namespaces = 0x7f, .takes_fds = 1}, in;
	bx_beam *w, *p;
	bx_error err;
	(void)state;

	strcpy(out.report, "caps: none\nseccomp: 1 instructions\n");
	beam_pair(&w, &p);
	assert_int_equal(bx_remote_send_ready(w, &out), 0);
	assert_int_equal(bx_remote_read_hello(p, &in, &err), 0);
	assert_int_equal(in.pid, 4242);
	assert_int_equal(in.namespaces, 0x7f);
	assert_int_equal(in.takes_fds, 1);
	assert_int_equal(in.one_channel, 0);
	assert_string_equal(in.report, out.report);

	/* beambox/2 accepted (jobs=[beambox/2]), only on top of beambox/1's passed fds. */
	out.one_channel = 1;
	assert_int_equal(bx_remote_send_ready(w, &out), 0);
	assert_int_equal(bx_remote_read_hello(p, &in, &err), 0);
	assert_int_equal(in.one_channel, 1);
	/* Without beambox/1 (proto), jobs=[beambox/2] means nothing. */
	{
		static const char hello[] = "000;3:cmd,8:5:ready,,4:jobs,12:9:beambox/2,,";

		assert_int_equal(bx_beam_send(w, hello, sizeof(hello) - 1, -1), 0);
		assert_int_equal(bx_remote_read_hello(p, &in, &err), 0);
		assert_int_equal(in.takes_fds, 0);
		assert_int_equal(in.one_channel, 0);
	}

	/* A setup failure comes back as the worker's own words. */
	assert_int_equal(bx_remote_send_setup_error(w, "fs: mount(proc): Operation not permitted"),
			 0);
	assert_int_equal(bx_remote_read_hello(p, &in, &err), -ECHILD);
	assert_string_equal(err.text, "fs: mount(proc): Operation not permitted");

	/* A worker's words cannot drive the caller's terminal: control bytes come back escaped. */
	assert_int_equal(bx_remote_send_setup_error(w, "\x1b]0;owned\x07\x1b[2J"), 0);
	assert_int_equal(bx_remote_read_hello(p, &in, &err), -ECHILD);
	assert_string_equal(err.text, "\\x1b]0;owned\\x07\\x1b[2J");
	assert_null(strchr(err.text, 0x1b));

	/* EOF instead of a hello. */
	bx_beam_free(w);
	assert_int_equal(bx_remote_read_hello(p, &in, &err), -EPIPE);
	bx_beam_free(p);
}

/* Hellos a hostile or confused worker might send: each is a protocol error. */
static void test_bad_hellos(void **state)
{
	static const char *const bad[] = {
	    "garbage",					     /* not a message */
	    "000;",					     /* no cmd */
	    "000;3:cmd,9:6:status,,",			     /* a job verb, not a hello */
	    "000;3:cmd,8:5:ready,,3:pid,5:2:-1,,",	     /* bad pid */
	    "000;3:cmd,8:5:ready,,2:ns,6:3:999,,",	     /* ns is fine as a number... */
	    "000;3:cmd,8:5:ready,,2:ns,15:11:99999999999,,", /* ...but not past 32 bits */
	};
	static const int want[] = {-EPROTO, -EPROTO, -EPROTO, -EPROTO, 0, -EPROTO};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bx_remote_hello in;
		bx_beam *w, *p;
		bx_error err;
		int r;

		beam_pair(&w, &p);
		assert_int_equal(bx_beam_send(w, bad[i], strlen(bad[i]), -1), 0);
		r = bx_remote_read_hello(p, &in, &err);
		if (r != want[i])
			fail_msg("hello %zu '%s': got %d (%s), want %d", i, bad[i], r, err.text,
				 want[i]);
		bx_beam_free(w);
		bx_beam_free(p);
	}
	/* A hello carrying an fd is refused, and the fd closed. */
	{
		struct bx_remote_hello in;
		bx_beam *w, *p;
		bx_error err;
		static const char ready[] = "000;3:cmd,8:5:ready,,";

		beam_pair(&w, &p);
		assert_int_equal(bx_beam_send(w, ready, strlen(ready), STDIN_FILENO), 0);
		assert_int_equal(bx_remote_read_hello(p, &in, &err), -EPROTO);
		assert_non_null(strstr(err.text, "carries an fd"));
		bx_beam_free(w);
		bx_beam_free(p);
	}
}

/* ---------------------------------------------------------------- beambox/1, both sides in process
 */

static int h_echo(bx_job *job, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < bx_job_argc(job); i++)
		bx_job_printf(job, "%s%s", i ? " " : "", bx_job_arg(job, i));
	bx_job_printf(job, "\n");
	return 0;
}

static int h_cat(bx_job *job, void *ctx)
{
	char buf[4096];
	ssize_t n;

	(void)ctx;
	while ((n = read(bx_job_stdin(job), buf, sizeof(buf))) > 0)
		if (write(bx_job_stdout(job), buf, (size_t)n) != n)
			return 1;
	bx_job_eprintf(job, "done\n");
	return n < 0 ? 1 : 0;
}

struct server {
	bx_beam *b;
	bx_engine *eng;
	struct bx_remote_serve_opts opts;
	int result;
};

static void *serve_thread(void *arg)
{
	struct server *s = arg;

	s->result = bx_remote_serve_with(s->b, s->eng, &s->opts);
	return NULL;
}

/*
 * The proxy and the receive loop of beambox/1 (fds passed on the job
 * channel, no log pipes) or beambox/2 (one channel), each in its own thread
 * of this process: what a real worker runs where coverage and sanitizers
 * see less.
 */
static void beambox_protocol_in_process(bool proto2)
{
	struct bx_remote_peer peer = {.exit_fd = -1, .takes_fds = 1, .one_channel = proto2};
	struct server srv = {.opts = {.beambox_parent = true, .one_channel = proto2}};
	bx_beam *main_p;
	bx_engine *proxy = NULL;
	pthread_t th;
	bx_job *job = NULL;
	bx_error err;
	size_t len = 0;

	beam_pair(&main_p, &srv.b);
	assert_int_equal(bx_engine_new(&srv.eng), 0);
	assert_int_equal(bx_engine_register(srv.eng, "echo", h_echo, NULL), 0);
	assert_int_equal(bx_engine_register(srv.eng, "cat", h_cat, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, serve_thread, &srv), 0);
	assert_int_equal(bx_remote_proxy_new(main_p, &peer, &proxy), 0);

	assert_int_equal(bx_job_new(proxy, "echo", &job), 0);
	assert_int_equal(bx_job_add_arg(job, "passed"), 0);
	assert_int_equal(bx_job_add_arg(job, "fds"), 0);
	assert_int_equal(bx_job_add_env(job, "K", "v"), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, &len, NULL), "passed fds\n");
	bx_job_free(job);

	assert_int_equal(bx_job_new(proxy, "cat", &job), 0);
	assert_int_equal(bx_job_set_stdin_buf(job, "through a memfd", 15), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	assert_int_equal(bx_job_capture_stderr(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "through a memfd");
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "done\n");
	bx_job_free(job);

	assert_int_equal(bx_job_new(proxy, "nosuch", &job), 0);
	assert_int_equal(bx_job_capture_stderr(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 127);
	assert_string_equal(bx_job_output(job, 2, NULL, NULL), "nosuch: command not found\n");
	bx_job_free(job);

	/* The proxy forwards "commands" too: the worker knows its names. */
	assert_int_equal(bx_job_new(proxy, "commands", &job), 0);
	assert_int_equal(bx_job_capture_stdout(job, 64), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	assert_string_equal(bx_job_output(job, 1, NULL, NULL), "cat\ncommands\necho\n");
	bx_job_free(job);

	/* Unset streams: the handler gets the worker's /dev/null (beambox/1: the parent's). */
	assert_int_equal(bx_job_new(proxy, "cat", &job), 0);
	assert_int_equal(bx_job_run(job, &err), 0);
	bx_job_free(job);

	bx_remote_proxy_free(proxy);
	bx_beam_free(main_p); /* the loop sees EOF and returns 0 */
	pthread_join(th, NULL);
	assert_int_equal(srv.result, 0);
	bx_engine_free(srv.eng);
	bx_beam_free(srv.b);
}

static void test_beambox_protocol_in_process(void **state)
{
	(void)state;
	beambox_protocol_in_process(false);
}

static void test_beambox2_protocol_in_process(void **state)
{
	(void)state;
	beambox_protocol_in_process(true);
}

/*
 * beambox/2 is offered in the config frame and taken out of it by the
 * worker (the policy decoder refuses keys it does not know); a list with
 * versions this worker does not know is fine; no offer, no beambox/2.
 */
static void test_config_offer(void **state)
{
	bx_msg *m = NULL;
	const bx_bytes *v;
	size_t n;
	(void)state;

	assert_int_equal(bx_msg_new(&m), 0);
	assert_int_equal(bx_remote_config_offer(m), 0);
	assert_int_equal(bx_msg_get(m, "jobs", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].p, BX_REMOTE_PROTO2);
	assert_int_equal(bx_remote_config_take_offer(m), 1);
	assert_int_equal(bx_msg_get(m, "jobs", &v, &n), -ENOENT);
	assert_int_equal(bx_remote_config_take_offer(m), 0);

	assert_int_equal(bx_msg_add(m, "jobs", "beambox/9"), 0);
	assert_int_equal(bx_msg_add(m, "jobs", BX_REMOTE_PROTO2), 0);
	assert_int_equal(bx_remote_config_take_offer(m), 1);
	assert_int_equal(bx_msg_add(m, "jobs", "beambox/9"), 0);
	assert_int_equal(bx_remote_config_take_offer(m), 0);
	assert_int_equal(bx_msg_get(m, "jobs", &v, &n), -ENOENT);

	bx_remote_offer_proto2 = false;
	assert_int_equal(bx_remote_config_offer(m), 0);
	assert_int_equal(bx_msg_get(m, "jobs", &v, &n), -ENOENT);
	bx_remote_offer_proto2 = true;
	bx_msg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    bx_fd_test(test_policy_round_trip),
	    bx_fd_test(test_policy_message_refusals),
	    bx_fd_test(test_hello_round_trip),
	    bx_fd_test(test_bad_hellos),
	    bx_fd_test(test_beambox_protocol_in_process),
	    bx_fd_test(test_beambox2_protocol_in_process),
	    bx_fd_test(test_config_offer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
