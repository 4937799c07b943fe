/* SPDX-License-Identifier: MIT */
/* beambox CLI: parse, dispatch, print. Everything else lives in the library. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <beambox/audit.h>
#include <beambox/exec.h>
#include <beambox/relay.h>
#include <beambox/spawn.h>

#include "cli/args.h"
#include "cli/demo.h"
#include "cli/policy_cmd.h"
#include "exec_opts.h"
#include "policy/api.h"
#include "policy/policy.h"

#ifndef BX_VERSION
#define BX_VERSION "unknown"
#endif

/* Signals that stop `beambox exec`'s program (and everything it started) before exiting. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static int cancel_wr = -1;

static void on_stop_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	if (write(cancel_wr, &b, 1) < 0) {
		/* the pipe is full: a byte is already there */
	}
	errno = saved;
}

/* What the user should know when the filter killed the program. */
static void explain_sigsys(const char *prog, const bx_exec_result *res)
{
	/* The exact call and the rule that allows it, when the sandbox's init named it. */
	if (res->violation[0])
		fprintf(stderr, "beambox: exec: %s stopped: %s\n", prog, res->violation);
	else
		fprintf(stderr,
			"beambox: exec: %s was killed by the seccomp filter (SIGSYS): it made a "
			"system call that policy '%s' does not allow.\n",
			prog, res->policy[0] ? res->policy : "default");
	fprintf(stderr,
		"beambox: exec: `--policy tools` runs everyday tools (id, ls -l, python3, shell "
		"pipelines); `beambox policy learn --policy %s -- %s` records what it needs.\n",
		res->policy[0] ? res->policy : "default", prog);
}

static int run_exec(const struct bx_cli_args *args)
{
	bx_exec_bind binds[BX_CLI_BINDS_MAX];
	bx_exec_env env[BX_CLI_ENV_MAX];
	bx_exec_opts opts;
	bx_exec_result res;
	struct sigaction sa;
	int cancel[2] = {-1, -1}, json_fd = -1, audit_fd = -1, r;
	bx_error err;

	bx_error_clear(&err);
	if (args->relay != BX_CLI_RELAY_NONE) {
		/* First, before anything else is opened: from here on PROG's side holds pipes. */
		int status = 0;

		r = bx_relay_stdio_fork(
		    BX_RELAY_STDIO | (args->relay == BX_CLI_RELAY_TTYS ? BX_RELAY_TTYS_ONLY : 0),
		    &status, &err);
		if (r < 0) {
			fprintf(stderr, "beambox: exec: relaying stdio: %s\n", err.text);
			return BX_EXEC_SETUP_FAILED;
		}
		if (r == 1)
			return status; /* the relay: the sandbox's side has exited */
	}
	bx_exec_opts_init(&opts);
	opts.policy_name = args->policy;
	for (size_t i = 0; i < args->nbinds; i++)
		binds[i] = (bx_exec_bind){.src = args->binds[i].src,
					  .dst = args->binds[i].dst,
					  .rw = args->binds[i].rw,
					  .optional = args->binds[i].optional};
	opts.binds = binds;
	opts.nbinds = args->nbinds;
	for (size_t i = 0; i < args->nenv; i++)
		env[i] = (bx_exec_env){.name = args->env[i].name, .value = args->env[i].value};
	opts.env = env;
	opts.nenv = args->nenv;
	opts.chdir = args->chdir;
	opts.timeout_ms = args->timeout_ms;
	opts.verbose = args->verbose;
	if (args->json_status) {
		json_fd = open(args->json_status,
			       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (json_fd < 0) {
			fprintf(stderr, "beambox: exec: --json-status %s: %s\n", args->json_status,
				strerror(errno));
			return BX_EXEC_SETUP_FAILED;
		}
		opts.json_status_fd = json_fd;
	} else if (args->json_status_fd >= 0) {
		if (fcntl(args->json_status_fd, F_GETFD) < 0) {
			fprintf(stderr, "beambox: exec: --json-status-fd %d: %s\n",
				args->json_status_fd, strerror(errno));
			return BX_EXEC_SETUP_FAILED;
		}
		/* Not for the program: it is closed there like every other fd. */
		opts.json_status_fd = args->json_status_fd;
	}
	if (args->audit_log) {
		audit_fd = open(args->audit_log,
				O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
		if (audit_fd < 0) {
			fprintf(stderr, "beambox: exec: --audit-log %s: %s\n", args->audit_log,
				strerror(errno));
			if (json_fd >= 0)
				close(json_fd);
			return BX_EXEC_SETUP_FAILED;
		}
		opts.audit_fd = audit_fd;
	} else if (args->audit_log_fd >= 0) {
		if (fcntl(args->audit_log_fd, F_GETFD) < 0) {
			fprintf(stderr, "beambox: exec: --audit-log-fd %d: %s\n",
				args->audit_log_fd, strerror(errno));
			if (json_fd >= 0)
				close(json_fd);
			return BX_EXEC_SETUP_FAILED;
		}
		/* Not for the program: it is closed there like every other fd. */
		opts.audit_fd = args->audit_log_fd;
	}
	/* Ctrl-C and friends stop the whole confined tree, not just this process. */
	if (pipe2(cancel, O_CLOEXEC | O_NONBLOCK) == 0) {
		cancel_wr = cancel[1];
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
			sigaction(stop_signals[i], &sa, NULL);
		opts.cancel_fd = cancel[0];
	}

	r = bx_exec_run(&opts, args->prog_argv[0], args->prog_argv, &res, &err);
	if (r < 0)
		fprintf(stderr, "beambox: exec: %s\n", err.text);
	else if (res.timed_out)
		fprintf(stderr, "beambox: exec: %s: timed out after %u ms; killed\n",
			args->prog_argv[0], args->timeout_ms);
	else if (res.signal == SIGSYS)
		explain_sigsys(args->prog_argv[0], &res);
	if (json_fd >= 0)
		close(json_fd);
	if (audit_fd >= 0)
		close(audit_fd);
	return res.status;
}

static int run_learn(const struct bx_cli_args *args)
{
	struct bx_policy *base = NULL;
	FILE *out = stdout;
	bx_error err;
	int status = 0, r;

	bx_error_clear(&err);
	r = args->worker ? 0 : bx_exec_policy_load(args->policy, &base, &err);
	if (r < 0) {
		fprintf(stderr, "beambox: policy learn: %s\n", err.text);
		return 2;
	}
	if (args->output) {
		out = fopen(args->output, "we");
		if (!out) {
			fprintf(stderr, "beambox: policy learn: %s: %m\n", args->output);
			bx_policy_free(base);
			return 2;
		}
	}
	if (args->worker)
		r = bx_exec_learn_workers(args->prog_argv[0], args->prog_argv, out, &status, &err);
	else
		r = bx_exec_learn(base, args->prog_argv[0], args->prog_argv, out, &status, &err);
	bx_policy_free(base);
	if (out != stdout && fclose(out) != 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "beambox: policy learn: %s\n",
			err.text[0] ? err.text : strerror(-r));
		return BX_EXEC_SETUP_FAILED;
	}
	/* The program's own status, as `beambox exec` does (128+N for signal N). */
	fprintf(stderr,
		"beambox: policy learn: the program exited with status %d%s%s; exiting with it\n",
		status, args->output ? "; policy written to " : "",
		args->output ? args->output : "");
	return status;
}

static int run_demo(const struct bx_cli_args *args)
{
	bx_error err;
	int r;

	bx_error_clear(&err);
	if (args->audit_log && bx_audit_open(args->audit_log, &err) < 0) {
		fprintf(stderr, "beambox: demo: %s\n", err.text);
		return 1;
	}
	if (args->audit_log_fd >= 0 && bx_audit_set_fd(args->audit_log_fd) < 0) {
		fprintf(stderr, "beambox: demo: --audit-log-fd %d: %s\n", args->audit_log_fd,
			strerror(errno));
		return 1;
	}
	r = bx_cli_demo_spawn(stdout);
	fputs("\nthe beam message codec, round trip:\n", stdout);
	r |= bx_cli_demo_codec(stdout);
	(void)bx_audit_set_fd(-1);
	return r;
}

int main(int argc, char *argv[])
{
	struct bx_cli_args args;
	bx_error err;
	int r;

	/* First thing: when this binary is re-executed as the demo's worker, this never returns. */
	bx_spawn_init(bx_cli_demo_install, NULL);

	bx_error_clear(&err);
	r = bx_cli_parse(argc, argv, &args, &err);
	if (r < 0) {
		fprintf(stderr, "beambox: %s\nTry 'beambox --help' for more information.\n",
			err.text);
		return BX_CLI_USAGE_ERROR;
	}
	switch (args.command) {
	case BX_CLI_HELP:
		fputs(bx_cli_help(args.help_topic), stdout);
		return 0;
	case BX_CLI_VERSION:
		printf("beambox %s\n", BX_VERSION);
		return 0;
	case BX_CLI_DEMO:
		return run_demo(&args);
	case BX_CLI_EXEC:
		return run_exec(&args);
	case BX_CLI_POLICY_CHECK:
		return bx_cli_policy_check(args.nfiles, args.files, stdout, stderr);
	case BX_CLI_POLICY_SHOW:
		return bx_cli_policy_show(args.files[0], stdout, stderr);
	case BX_CLI_POLICY_GROUPS:
		return bx_cli_policy_groups(stdout);
	case BX_CLI_POLICY_LEARN:
		return run_learn(&args);
	case BX_CLI_POLICY:
		break;
	}
	return BX_CLI_USAGE_ERROR;
}
