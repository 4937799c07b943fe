/* SPDX-License-Identifier: MIT */
#include "cli/args.h"

#include <errno.h>
#include <string.h>

#include "util/error.h"

const char *bx_cli_usage(void)
{
	return "usage: beambox COMMAND [ARGS...]\n"
	       "\n"
	       "commands:\n"
	       "  demo       spawn a confined worker, run jobs in it, show what confines it\n"
	       "  exec [--policy FILE] -- PROG [ARGS...]\n"
	       "             run PROG confined exactly as a worker (default: the strict policy);\n"
	       "             exits with PROG's status, 128+N if killed by signal N,\n"
	       "             125 if confinement failed, 126/127 if PROG cannot run / is missing\n"
	       "  policy check FILE...   validate policy files (file:line:col errors)\n"
	       "  policy show FILE       the resolved policy and its filter in pseudo-code\n"
	       "  policy groups          the named syscall groups and what they hold\n"
	       "  policy learn --policy BASE [-o FILE] -- PROG [ARGS...]\n"
	       "             run PROG under BASE's sandbox, recording every syscall, and print\n"
	       "             a policy allowing exactly those (a starting point to review)\n"
	       "  version    print the version\n"
	       "  help       print this text\n";
}

static int check_bounds(int argc, char *const argv[], bx_error *err)
{
	if (argc < 1 || argc > BX_CLI_ARGS_MAX)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "too many arguments (%d, at most %d)",
			       argc, BX_CLI_ARGS_MAX);
	for (int i = 0; i < argc; i++) {
		if (!argv[i])
			return bx_fail(err, -EINVAL, (size_t)i, "argument %d is missing", i);
		if (strnlen(argv[i], BX_CLI_ARG_LEN_MAX + 1) > BX_CLI_ARG_LEN_MAX)
			return bx_fail(err, -EINVAL, (size_t)i,
				       "argument %d is longer than %d bytes", i,
				       BX_CLI_ARG_LEN_MAX);
	}
	return 0;
}

/*
 * exec [--policy FILE | --policy=FILE] [--] PROG [ARGS...]
 * policy learn --policy BASE [-o FILE] [--] PROG [ARGS...]   (from index `first`)
 */
static int parse_exec(int argc, char *const argv[], int first, enum bx_cli_command command,
		      struct bx_cli_args *out, bx_error *err)
{
	struct bx_cli_args a = {.command = command};
	int i = first;

	while (i < argc) {
		const char *s = argv[i];

		if (strcmp(s, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(s, "--policy") == 0) {
			if (i + 1 >= argc)
				return bx_fail(err, -EINVAL, (size_t)i, "--policy needs a FILE");
			if (a.policy)
				return bx_fail(err, -EINVAL, (size_t)i, "--policy given twice");
			a.policy = argv[i + 1];
			i += 2;
			continue;
		}
		if (command == BX_CLI_POLICY_LEARN && strcmp(s, "-o") == 0) {
			if (i + 1 >= argc || !*argv[i + 1])
				return bx_fail(err, -EINVAL, (size_t)i, "-o needs a FILE");
			if (a.output)
				return bx_fail(err, -EINVAL, (size_t)i, "-o given twice");
			a.output = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(s, "--policy=", 9) == 0) {
			if (a.policy)
				return bx_fail(err, -EINVAL, (size_t)i, "--policy given twice");
			a.policy = s + 9;
			i++;
			continue;
		}
		if (s[0] == '-')
			return bx_fail(err, -EINVAL, (size_t)i, "%s: unknown option '%.64s'",
				       command == BX_CLI_EXEC ? "exec" : "policy learn", s);
		break;
	}
	if (a.policy && !*a.policy)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "--policy needs a non-empty FILE");
	if (command == BX_CLI_POLICY_LEARN && !a.policy)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "policy learn: --policy BASE is required");
	if (i >= argc)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "%s: missing PROG",
			       command == BX_CLI_EXEC ? "exec" : "policy learn");
	a.prog_argc = argc - i;
	a.prog_argv = argv + i;
	*out = a;
	return 0;
}

/* policy check FILE... | policy show FILE | policy groups */
static int parse_policy(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
{
	struct bx_cli_args a = {.command = BX_CLI_POLICY_CHECK};
	const char *sub = argc > 2 ? argv[2] : NULL;

	if (!sub)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "policy: missing check, show, groups or learn");
	if (strcmp(sub, "learn") == 0)
		return parse_exec(argc, argv, 3, BX_CLI_POLICY_LEARN, out, err);
	for (int i = 3; i < argc; i++)
		if (argv[i][0] == '-')
			return bx_fail(err, -EINVAL, (size_t)i, "policy %s: unknown option '%.64s'",
				       sub, argv[i]);
	if (strcmp(sub, "check") == 0) {
		if (argc < 4)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "policy check: missing FILE");
	} else if (strcmp(sub, "show") == 0) {
		a.command = BX_CLI_POLICY_SHOW;
		if (argc != 4)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "policy show: takes exactly one FILE");
	} else if (strcmp(sub, "groups") == 0) {
		a.command = BX_CLI_POLICY_GROUPS;
		if (argc != 3)
			return bx_fail(err, -EINVAL, 3, "policy groups: takes no arguments");
	} else {
		return bx_fail(err, -EINVAL, 2, "policy: unknown subcommand '%.64s'", sub);
	}
	a.nfiles = argc - 3;
	a.files = argv + 3;
	*out = a;
	return 0;
}

int bx_cli_parse(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
{
	struct bx_cli_args a = {.command = BX_CLI_HELP};
	const char *cmd;
	int r;

	r = check_bounds(argc, argv, err);
	if (r < 0)
		return r;
	if (argc < 2)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "missing command");
	cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		a.command = BX_CLI_HELP;
	else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
		a.command = BX_CLI_VERSION;
	else if (strcmp(cmd, "demo") == 0)
		a.command = BX_CLI_DEMO;
	else if (strcmp(cmd, "exec") == 0)
		return parse_exec(argc, argv, 2, BX_CLI_EXEC, out, err);
	else if (strcmp(cmd, "policy") == 0)
		return parse_policy(argc, argv, out, err);
	else
		return bx_fail(err, -EINVAL, 1, "unknown command '%.64s'", cmd);

	if (argc > 2)
		return bx_fail(err, -EINVAL, 2, "'%s' takes no arguments, got '%.64s'", cmd,
			       argv[2]);
	*out = a;
	return 0;
}
