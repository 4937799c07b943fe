/* SPDX-License-Identifier: MIT */
/* beambox CLI: parse, dispatch, print. Everything else lives in the library. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <beambox/exec.h>
#include <beambox/spawn.h>

#include "cli/args.h"
#include "cli/demo.h"
#include "cli/policy_cmd.h"
#include "policy/policy.h"

#ifndef BX_VERSION
#define BX_VERSION "unknown"
#endif

static int run_exec(const struct bx_cli_args *args)
{
	struct bx_policy *policy = NULL;
	bx_error err;
	int r;

	bx_error_clear(&err);
	if (args->policy) {
		r = bx_policy_load_file(args->policy, &policy, &err);
		if (r < 0) {
			fprintf(stderr, "beambox: exec: %s\n", err.text);
			return BX_EXEC_SETUP_FAILED;
		}
	}
	r = bx_exec_confined(policy, args->prog_argv[0], args->prog_argv, &err);
	/* Only failures return here. */
	bx_policy_free(policy);
	fprintf(stderr, "beambox: exec: %s\n", err.text);
	return bx_exec_status_for(r, &err);
}

static int run_learn(const struct bx_cli_args *args)
{
	struct bx_policy *base = NULL;
	FILE *out = stdout;
	bx_error err;
	int status = 0, r;

	bx_error_clear(&err);
	r = bx_policy_load_file(args->policy, &base, &err);
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
		fprintf(stderr, "beambox: %s\n%s", err.text, bx_cli_usage());
		return 2;
	}
	switch (args.command) {
	case BX_CLI_HELP:
		fputs(bx_cli_usage(), stdout);
		return 0;
	case BX_CLI_VERSION:
		printf("beambox %s\n", BX_VERSION);
		return 0;
	case BX_CLI_DEMO:
		r = bx_cli_demo_spawn(stdout);
		fputs("\nthe beam message codec, round trip:\n", stdout);
		return bx_cli_demo_codec(stdout) | r;
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
	}
	return 2;
}
