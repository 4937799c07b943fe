/* SPDX-License-Identifier: MIT */
/*
 * The CLI's argument parser: a plain function with unit tests
 * (tests/test_cli_args.c), kept apart from main() so that it never exits or
 * prints.
 */
#ifndef BX_CLI_ARGS_H
#define BX_CLI_ARGS_H

#include <beambox/common.h>

/* Hard cap on arguments the CLI accepts, and on one argument's length. */
#define BX_CLI_ARGS_MAX	   4096
#define BX_CLI_ARG_LEN_MAX 65536

enum bx_cli_command {
	BX_CLI_HELP = 0,
	BX_CLI_VERSION,
	BX_CLI_DEMO,
	BX_CLI_EXEC,
	BX_CLI_POLICY_CHECK,
	BX_CLI_POLICY_SHOW,
	BX_CLI_POLICY_GROUPS,
	BX_CLI_POLICY_LEARN,
};

struct bx_cli_args {
	enum bx_cli_command command;
	/* exec */
	const char *policy;	/* --policy FILE, or NULL */
	int prog_argc;		/* >= 1 for exec */
	char *const *prog_argv; /* PROG ARGS..., NULL-terminated (points into argv) */
	/* policy learn: -o FILE, or NULL for stdout (policy and prog_argv as for exec) */
	const char *output;
	/* policy check FILE... / policy show FILE */
	int nfiles;
	char *const *files;
};

/*
 * Parses argv[1..argc). On success fills *out and returns 0; on a usage error
 * returns -EINVAL with err naming the bad argument and its index (in err->offset).
 * Pointers in *out point into argv.
 */
int bx_cli_parse(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
    __attribute__((warn_unused_result));

/* The usage text. */
const char *bx_cli_usage(void);

#endif
