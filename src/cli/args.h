/* SPDX-License-Identifier: MIT */
/*
 * The CLI's argument parser: a plain function with unit tests
 * (tests/test_cli_args.c), kept apart from main() so that it never exits or
 * prints. The help texts live here too: `beambox --help`, `beambox COMMAND
 * --help`, and the man pages generated from them (help2man, at build time).
 */
#ifndef BX_CLI_ARGS_H
#define BX_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include <beambox/common.h>

/* Hard cap on arguments the CLI accepts, and on one argument's length. */
#define BX_CLI_ARGS_MAX	   4096
#define BX_CLI_ARG_LEN_MAX 65536
/* exec: extra binds and environment changes (the library bounds binds again with the policy's). */
#define BX_CLI_BINDS_MAX 64
#define BX_CLI_ENV_MAX	 64
/* exec --timeout: at most this many seconds (24 days: the milliseconds fit an int). */
#define BX_CLI_TIMEOUT_MAX_S 2000000u

/* beambox's own usage error (before anything ran). */
#define BX_CLI_USAGE_ERROR 2

enum bx_cli_command {
	BX_CLI_HELP = 0,
	BX_CLI_VERSION,
	BX_CLI_DEMO,
	BX_CLI_EXEC,
	BX_CLI_POLICY_CHECK,
	BX_CLI_POLICY_SHOW,
	BX_CLI_POLICY_GROUPS,
	BX_CLI_POLICY_LEARN,
	BX_CLI_POLICY, /* only as a help topic: `beambox policy --help` */
};

struct bx_cli_bind {
	const char *src, *dst;
	bool rw, optional;
};

struct bx_cli_env {
	const char *name;
	const char *value; /* NULL: --unsetenv */
};

/* exec: which of PROG's stdio beambox relays through pipes instead of passing. */
enum bx_cli_relay {
	BX_CLI_RELAY_NONE = 0,
	BX_CLI_RELAY_TTYS, /* --relay-tty: those that are terminals */
	BX_CLI_RELAY_ALL,  /* --relay-stdio: all three */
};

struct bx_cli_args {
	enum bx_cli_command command;
	/* help: whose help (BX_CLI_HELP: the overview) */
	enum bx_cli_command help_topic;
	/* exec, policy learn: --policy NAME|FILE, or NULL */
	const char *policy;
	int prog_argc;		/* >= 1 for exec and learn */
	char *const *prog_argv; /* PROG ARGS..., NULL-terminated (points into argv) */
	/* exec */
	struct bx_cli_bind binds[BX_CLI_BINDS_MAX];
	size_t nbinds;
	const char *chdir;
	struct bx_cli_env env[BX_CLI_ENV_MAX];
	size_t nenv;
	unsigned timeout_ms; /* 0: none */
	bool verbose;
	enum bx_cli_relay relay; /* --relay-tty / --relay-stdio */
	const char *json_status; /* --json-status FILE */
	int json_status_fd;	 /* --json-status-fd N, or -1 */
	/* exec, demo: --audit-log FILE / --audit-log-fd N */
	const char *audit_log;
	int audit_log_fd; /* or -1 */
	/* policy learn: -o FILE, or NULL for stdout */
	const char *output;
	/* policy learn --worker: learn the workers of PROG (a library application) */
	bool worker;
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

/* The overview (`beambox --help`). */
const char *bx_cli_usage(void);

/* A command's help text (BX_CLI_HELP: the overview). */
const char *bx_cli_help(enum bx_cli_command topic);

#endif
