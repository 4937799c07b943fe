/* SPDX-License-Identifier: MIT */
#include "cli/args.h"

#include <errno.h>
#include <string.h>

#include "util/error.h"
#include "util/intparse.h"

/*
 * The help texts: the one source of `--help` and of the man pages (help2man
 * reads them at build time: keep "Usage:", the option lines indented by two
 * spaces, and section titles ending in ':').
 */
static const char usage_overview[] =
    "Usage: beambox COMMAND [ARGS...]\n"
    "Run untrusted code in confined worker processes; run a program confined.\n"
    "\n"
    "Commands:\n"
    "  demo               spawn a confined worker, run jobs in it, show what confines it\n"
    "  exec [OPTIONS] [--] PROG [ARGS...]\n"
    "                     run PROG confined like a worker (bwrap-like options)\n"
    "  policy check FILE...\n"
    "                     validate policy files (file:line:col errors)\n"
    "  policy show FILE   the resolved policy and its filter in pseudo-code\n"
    "  policy groups      the named syscall groups and what they hold\n"
    "  policy learn --policy BASE [-o FILE] [--] PROG [ARGS...]\n"
    "                     record PROG's system calls; print a policy allowing them\n"
    "  policy learn --worker [-o FILE] [--] PROG [ARGS...]\n"
    "                     the same for the workers of PROG, a library application\n"
    "  help [COMMAND]     this text, or a command's\n"
    "  version            the version\n"
    "\n"
    "Options:\n"
    "  -h, --help         this text; `beambox COMMAND --help` for a command's\n"
    "  -V, --version      print the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0 on success, 1 on a failure, 2 on a usage error; `beambox exec` exits as\n"
    "  the program did (see `beambox exec --help`).\n";

static const char usage_exec[] =
    "Usage: beambox exec [OPTIONS] [--] PROG [ARGS...]\n"
    "Run PROG confined exactly as a beambox worker is: every namespace, a\n"
    "filesystem view holding only the policy's binds, no capabilities,\n"
    "no_new_privs, rlimits, landlock and the policy's seccomp filter. PROG is\n"
    "opened (searched in PATH) before the view is built; stdio is passed\n"
    "through, every other fd is closed, and the environment holds only the\n"
    "policy's env-keep names (PATH) plus --setenv. With a pid namespace PROG\n"
    "runs as pid 2 under a small confined init.\n"
    "\n"
    "Options:\n"
    "  --policy NAME|FILE      a shipped policy by NAME (default, tools, untrusted,\n"
    "                          ...) or a FILE (with a '/' or the .policy suffix);\n"
    "                          default: the strict built-in default. `--policy\n"
    "                          tools` runs everyday tools (id, ls, python3, pipes)\n"
    "  --bind SRC DEST         bind host path SRC at DEST, read-write\n"
    "  --ro-bind SRC DEST      bind host path SRC at DEST, read-only\n"
    "  --bind-try SRC DEST     as --bind, skipped when SRC does not exist\n"
    "  --ro-bind-try SRC DEST  as --ro-bind, skipped when SRC does not exist\n"
    "  --chdir DIR             start PROG in DIR (absolute, in the view); default /\n"
    "  --setenv NAME VALUE     set NAME=VALUE in PROG's environment\n"
    "  --unsetenv NAME         remove NAME from PROG's environment\n"
    "  --timeout SECONDS       wall-clock limit (decimals allowed: 0.5); then PROG\n"
    "                          and everything it started are killed; exit 124\n"
    "  -v, --verbose           print each confinement step with its duration\n"
    "                          (on stderr, before PROG runs)\n"
    "  --relay-tty             give PROG pipes instead of the terminals among its\n"
    "                          stdin/stdout/stderr, relayed by beambox: PROG cannot\n"
    "                          resize, reconfigure or stop the terminal (by default\n"
    "                          stdio is passed as is, like bwrap)\n"
    "  --relay-stdio           the same for all of stdin/stdout/stderr, terminals or\n"
    "                          not: PROG never holds beambox's own open files\n"
    "  --json-status FILE      when done, write one JSON object to FILE: pid,\n"
    "                          policy, namespaces, each step's result and\n"
    "                          duration, status, exit_code or signal, timed_out,\n"
    "                          duration_us, syscall, error\n"
    "  --json-status-fd N      the same, written to fd N\n"
    "  --audit-log FILE        append JSON-lines audit records to FILE: worker_spawned\n"
    "                          (pid, policy, each step's time), violation (the\n"
    "                          refused call), worker_exited (or spawn_failed)\n"
    "  --audit-log-fd N        the same, written to fd N\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit status:\n"
    "  0..123   PROG's own exit status\n"
    "  124      --timeout ran out; PROG and everything it started were killed\n"
    "  125      confinement could not be set up (the reason is printed)\n"
    "  126      PROG was found but could not be executed\n"
    "  127      PROG was not found\n"
    "  128+N    PROG was killed by signal N (159: SIGSYS, the seccomp filter)\n"
    "  2        a usage error of beambox itself (nothing ran)\n"
    "\n"
    "Examples:\n"
    "  beambox exec --policy tools -- ls -l /usr\n"
    "  beambox exec --policy tools --ro-bind \"$PWD\" /work --chdir /work -- python3 x.py\n"
    "  beambox exec --timeout 2 --json-status st.json -- /bin/sh -c 'sleep 9'\n";

static const char usage_policy[] =
    "Usage: beambox policy check FILE...\n"
    "  or:  beambox policy show FILE\n"
    "  or:  beambox policy groups\n"
    "  or:  beambox policy learn --policy BASE [-o FILE] [--] PROG [ARGS...]\n"
    "  or:  beambox policy learn --worker [-o FILE] [--] PROG [ARGS...]\n"
    "Validate, show and write policy files (grammar: policies/README.md).\n"
    "\n"
    "Commands:\n"
    "  check FILE...          validate each file; errors are file:line:col with the\n"
    "                         bad token; exit 0 when all are valid, 1 otherwise\n"
    "  show FILE              the resolved policy in the same syntax, and its\n"
    "                         compiled filter in pseudo-code\n"
    "  groups                 the named syscall groups (@basic-io, ...) and members\n"
    "  learn                  run PROG under BASE's sandbox with a filter that lets\n"
    "                         every call through and records it; print a policy that\n"
    "                         allows exactly those calls (a starting point to review,\n"
    "                         not a verdict)\n"
    "  learn --worker         run PROG, an application of the beambox library,\n"
    "                         UNconfined, with its bx_spawn_init in learning mode:\n"
    "                         each worker it starts (cold, no zygote) is confined by\n"
    "                         the policy PROG gives it, but its calls are recorded\n"
    "                         and allowed; print a policy allowing the calls of all\n"
    "                         its workers (with the first worker's settings), once\n"
    "                         PROG has exited. For development: learning mode allows\n"
    "                         what the policy would refuse\n"
    "\n"
    "Options:\n"
    "  --policy NAME|FILE     (learn) the base policy: its sandbox settings are kept\n"
    "                         (not with --worker: the base is PROG's own choice)\n"
    "  --worker               (learn) learn the workers PROG starts, not PROG\n"
    "  -o FILE                (learn) write the policy to FILE instead of stdout\n"
    "\n"
    "Exit status (learn): the program's, as `beambox exec` reports it; 125 when\n"
    "nothing could be learned (the sandbox failed, or no worker learned).\n"
    "  -h, --help             this text\n";

static const char usage_demo[] =
    "Usage: beambox demo [OPTIONS]\n"
    "Spawn a confined worker (this very program, re-executed), run a few jobs in\n"
    "it, and show what confines it: the tour of what beambox does.\n"
    "\n"
    "Options:\n"
    "  --audit-log FILE       append JSON-lines audit records (worker spawned, jobs\n"
    "                         started and ended, worker exited) to FILE\n"
    "  --audit-log-fd N       the same, written to fd N\n"
    "  -h, --help             this text\n";

const char *bx_cli_usage(void)
{
	return usage_overview;
}

const char *bx_cli_help(enum bx_cli_command topic)
{
	switch (topic) {
	case BX_CLI_EXEC:
		return usage_exec;
	case BX_CLI_DEMO:
		return usage_demo;
	case BX_CLI_POLICY:
	case BX_CLI_POLICY_CHECK:
	case BX_CLI_POLICY_SHOW:
	case BX_CLI_POLICY_GROUPS:
	case BX_CLI_POLICY_LEARN:
		return usage_policy;
	case BX_CLI_HELP:
	case BX_CLI_VERSION:
		break;
	}
	return usage_overview;
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

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* A help request for topic. */
static int help_for(enum bx_cli_command topic, struct bx_cli_args *out)
{
	memset(out, 0, sizeof(*out));
	out->command = BX_CLI_HELP;
	out->help_topic = topic;
	out->json_status_fd = -1;
	out->audit_log_fd = -1;
	return 0;
}

/* Options of exec, demo and policy learn. */
enum opt_id {
	OPT_POLICY,
	OPT_BIND,
	OPT_RO_BIND,
	OPT_BIND_TRY,
	OPT_RO_BIND_TRY,
	OPT_CHDIR,
	OPT_SETENV,
	OPT_UNSETENV,
	OPT_TIMEOUT,
	OPT_VERBOSE,
	OPT_RELAY_TTY,
	OPT_RELAY_STDIO,
	OPT_JSON_STATUS,
	OPT_JSON_STATUS_FD,
	OPT_AUDIT_LOG,
	OPT_AUDIT_LOG_FD,
	OPT_OUTPUT,
	OPT_WORKER,
};

/* Which commands take an option. */
#define FOR_EXEC  1u
#define FOR_DEMO  2u
#define FOR_LEARN 4u

static const struct opt {
	const char *name;
	const char *alias; /* short form, or NULL */
	int nargs;
	enum opt_id id;
	unsigned commands;
	const char *what; /* for "needs ..." errors */
} opts[] = {
    {"--policy", NULL, 1, OPT_POLICY, FOR_EXEC | FOR_LEARN, "a NAME or FILE"},
    {"--bind", NULL, 2, OPT_BIND, FOR_EXEC, "SRC and DEST"},
    {"--ro-bind", NULL, 2, OPT_RO_BIND, FOR_EXEC, "SRC and DEST"},
    {"--bind-try", NULL, 2, OPT_BIND_TRY, FOR_EXEC, "SRC and DEST"},
    {"--ro-bind-try", NULL, 2, OPT_RO_BIND_TRY, FOR_EXEC, "SRC and DEST"},
    {"--chdir", NULL, 1, OPT_CHDIR, FOR_EXEC, "a DIR"},
    {"--setenv", NULL, 2, OPT_SETENV, FOR_EXEC, "NAME and VALUE"},
    {"--unsetenv", NULL, 1, OPT_UNSETENV, FOR_EXEC, "a NAME"},
    {"--timeout", NULL, 1, OPT_TIMEOUT, FOR_EXEC, "SECONDS"},
    {"--verbose", "-v", 0, OPT_VERBOSE, FOR_EXEC, NULL},
    {"--relay-tty", NULL, 0, OPT_RELAY_TTY, FOR_EXEC, NULL},
    {"--relay-stdio", NULL, 0, OPT_RELAY_STDIO, FOR_EXEC, NULL},
    {"--json-status", NULL, 1, OPT_JSON_STATUS, FOR_EXEC, "a FILE"},
    {"--json-status-fd", NULL, 1, OPT_JSON_STATUS_FD, FOR_EXEC, "an fd number"},
    {"--audit-log", NULL, 1, OPT_AUDIT_LOG, FOR_EXEC | FOR_DEMO, "a FILE"},
    {"--audit-log-fd", NULL, 1, OPT_AUDIT_LOG_FD, FOR_EXEC | FOR_DEMO, "an fd number"},
    {"-o", NULL, 1, OPT_OUTPUT, FOR_LEARN, "a FILE"},
    {"--worker", NULL, 0, OPT_WORKER, FOR_LEARN, NULL},
};

/* Finds s among the options of `which`; *inline_val gets the part after "--opt=". */
static const struct opt *find_opt(const char *s, unsigned which, const char **inline_val)
{
	*inline_val = NULL;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const struct opt *o = &opts[i];
		size_t n = strlen(o->name);

		if (!(o->commands & which))
			continue;
		if (strcmp(s, o->name) == 0 || (o->alias && strcmp(s, o->alias) == 0))
			return o;
		if (o->nargs == 1 && o->name[1] == '-' && strncmp(s, o->name, n) == 0 &&
		    s[n] == '=') {
			*inline_val = s + n + 1;
			return o;
		}
	}
	return NULL;
}

/* "SECONDS" or "SECONDS.FRACTION" (at most 3 decimals), > 0, to milliseconds. */
static int parse_timeout(const char *s, unsigned *ms)
{
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
	uint64_t secs = 0, frac = 0;
	size_t flen = 0;

	if (ilen == 0 && !dot)
		return -EINVAL;
	if (ilen > 0 && bx_parse_u64(s, ilen, BX_CLI_TIMEOUT_MAX_S, &secs) < 0)
		return -EINVAL;
	if (dot) {
		flen = strlen(dot + 1);
		if (flen == 0 || flen > 3 || ilen == 0)
			return -EINVAL;
		for (size_t i = 0; i < flen; i++) {
			if (dot[1 + i] < '0' || dot[1 + i] > '9')
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(dot[1 + i] - '0');
		}
		for (size_t i = flen; i < 3; i++)
			frac *= 10;
	}
	if (secs * 1000 + frac == 0 || secs * 1000 + frac > (uint64_t)BX_CLI_TIMEOUT_MAX_S * 1000)
		return -ERANGE;
	*ms = (unsigned)(secs * 1000 + frac);
	return 0;
}

static int parse_fd(const char *s, int *fd)
{
	uint64_t v;

	if (bx_parse_u64(s, strlen(s), 1u << 30, &v) < 0)
		return -EINVAL;
	*fd = (int)v;
	return 0;
}

/* One option with its values v[0..o->nargs); i is its index in argv. */
static int apply_opt(const struct opt *o, const char *const v[2], int i, struct bx_cli_args *a,
		     bx_error *err)
{
	size_t at = (size_t)i;

	for (int k = 0; k < o->nargs; k++)
		if (!*v[k] && o->id != OPT_SETENV)
			return bx_fail(err, -EINVAL, at, "%s needs %s, got an empty argument",
				       o->name, o->what);
	switch (o->id) {
	case OPT_POLICY:
		if (a->policy)
			return bx_fail(err, -EINVAL, at, "--policy given twice");
		a->policy = v[0];
		return 0;
	case OPT_BIND:
	case OPT_RO_BIND:
	case OPT_BIND_TRY:
	case OPT_RO_BIND_TRY:
		if (a->nbinds >= BX_CLI_BINDS_MAX)
			return bx_fail(err, -EINVAL, at, "more than %d binds", BX_CLI_BINDS_MAX);
		if (v[1][0] != '/')
			return bx_fail(err, -EINVAL, at + 2,
				       "%s: DEST must be an absolute path, got '%.64s'", o->name,
				       v[1]);
		a->binds[a->nbinds++] = (struct bx_cli_bind){
		    .src = v[0],
		    .dst = v[1],
		    .rw = o->id == OPT_BIND || o->id == OPT_BIND_TRY,
		    .optional = o->id == OPT_BIND_TRY || o->id == OPT_RO_BIND_TRY,
		};
		return 0;
	case OPT_CHDIR:
		if (a->chdir)
			return bx_fail(err, -EINVAL, at, "--chdir given twice");
		if (v[0][0] != '/')
			return bx_fail(err, -EINVAL, at,
				       "--chdir: DIR must be an absolute path, got '%.64s'", v[0]);
		a->chdir = v[0];
		return 0;
	case OPT_SETENV:
	case OPT_UNSETENV:
		if (!*v[0] || strchr(v[0], '='))
			return bx_fail(err, -EINVAL, at,
				       "%s: NAME must be non-empty without '=', got '%.64s'",
				       o->name, v[0]);
		if (a->nenv >= BX_CLI_ENV_MAX)
			return bx_fail(err, -EINVAL, at, "more than %d environment changes",
				       BX_CLI_ENV_MAX);
		a->env[a->nenv++] =
		    (struct bx_cli_env){.name = v[0], .value = o->id == OPT_SETENV ? v[1] : NULL};
		return 0;
	case OPT_TIMEOUT:
		if (a->timeout_ms)
			return bx_fail(err, -EINVAL, at, "--timeout given twice");
		if (parse_timeout(v[0], &a->timeout_ms) < 0)
			return bx_fail(err, -EINVAL, at,
				       "--timeout: expected SECONDS > 0 (at most %u, up to 3 "
				       "decimals), got '%.64s'",
				       BX_CLI_TIMEOUT_MAX_S, v[0]);
		return 0;
	case OPT_VERBOSE:
		a->verbose = true;
		return 0;
	case OPT_RELAY_TTY:
	case OPT_RELAY_STDIO:
		if (a->relay)
			return bx_fail(err, -EINVAL, at,
				       "--relay-tty or --relay-stdio given twice");
		a->relay = o->id == OPT_RELAY_TTY ? BX_CLI_RELAY_TTYS : BX_CLI_RELAY_ALL;
		return 0;
	case OPT_JSON_STATUS:
	case OPT_JSON_STATUS_FD:
		if (a->json_status || a->json_status_fd >= 0)
			return bx_fail(err, -EINVAL, at,
				       "--json-status or --json-status-fd given twice");
		if (o->id == OPT_JSON_STATUS)
			a->json_status = v[0];
		else if (parse_fd(v[0], &a->json_status_fd) < 0)
			return bx_fail(err, -EINVAL, at,
				       "--json-status-fd: expected an fd number, got '%.64s'",
				       v[0]);
		return 0;
	case OPT_AUDIT_LOG:
	case OPT_AUDIT_LOG_FD:
		if (a->audit_log || a->audit_log_fd >= 0)
			return bx_fail(err, -EINVAL, at,
				       "--audit-log or --audit-log-fd given twice");
		if (o->id == OPT_AUDIT_LOG)
			a->audit_log = v[0];
		else if (parse_fd(v[0], &a->audit_log_fd) < 0)
			return bx_fail(err, -EINVAL, at,
				       "--audit-log-fd: expected an fd number, got '%.64s'", v[0]);
		return 0;
	case OPT_OUTPUT:
		if (a->output)
			return bx_fail(err, -EINVAL, at, "-o given twice");
		a->output = v[0];
		return 0;
	case OPT_WORKER:
		a->worker = true;
		return 0;
	}
	return bx_fail(err, -EINVAL, at, "unknown option");
}

static const char *command_name(enum bx_cli_command c)
{
	switch (c) {
	case BX_CLI_EXEC:
		return "exec";
	case BX_CLI_DEMO:
		return "demo";
	case BX_CLI_POLICY_LEARN:
		return "policy learn";
	default:
		return "beambox";
	}
}

/*
 * exec [OPTIONS] [--] PROG [ARGS...]
 * policy learn --policy BASE [-o FILE] [--] PROG [ARGS...]
 * policy learn --worker [-o FILE] [--] PROG [ARGS...]
 * demo [--audit-log FILE | --audit-log-fd N]
 * (options from index `first`; the first non-option is PROG)
 */
static int parse_options(int argc, char *const argv[], int first, enum bx_cli_command command,
			 struct bx_cli_args *out, bx_error *err)
{
	unsigned which = command == BX_CLI_EXEC	  ? FOR_EXEC
			 : command == BX_CLI_DEMO ? FOR_DEMO
						  : FOR_LEARN;
	struct bx_cli_args args, *a = &args;
	const char *name = command_name(command);
	int i = first, r;

	memset(a, 0, sizeof(*a));
	a->command = command;
	a->json_status_fd = -1;
	a->audit_log_fd = -1;
	while (i < argc) {
		const char *s = argv[i], *inline_val, *v[2] = {"", ""};
		const struct opt *o;

		if (strcmp(s, "--") == 0 && command != BX_CLI_DEMO) {
			i++;
			break;
		}
		if (is_help(s))
			return help_for(command, out);
		if (s[0] != '-' && command != BX_CLI_DEMO)
			break;
		if (s[0] != '-')
			return bx_fail(err, -EINVAL, (size_t)i,
				       "demo takes no arguments, got '%.64s'", s);
		o = find_opt(s, which, &inline_val);
		if (!o)
			return bx_fail(err, -EINVAL, (size_t)i, "%s: unknown option '%.64s'", name,
				       s);
		if (inline_val) {
			v[0] = inline_val;
		} else {
			if (i + o->nargs >= argc)
				return bx_fail(err, -EINVAL, (size_t)i, "%s needs %s", o->name,
					       o->what);
			for (int k = 0; k < o->nargs; k++)
				v[k] = argv[i + 1 + k];
		}
		r = apply_opt(o, v, i, a, err);
		if (r < 0)
			return r;
		i += 1 + (inline_val ? 0 : o->nargs);
	}
	if (command != BX_CLI_DEMO) {
		if (command == BX_CLI_POLICY_LEARN && !a->policy && !a->worker)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "policy learn: --policy BASE is required");
		/* A worker's base is the policy its application gives it, not ours. */
		if (command == BX_CLI_POLICY_LEARN && a->policy && a->worker)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "policy learn: --worker takes no --policy (each worker's "
				       "base is the policy its application gives it)");
		if (i >= argc)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "%s: missing PROG", name);
		a->prog_argc = argc - i;
		a->prog_argv = argv + i;
	}
	memcpy(out, a, sizeof(*a));
	return 0;
}

/* policy check FILE... | policy show FILE | policy groups | policy learn ... */
static int parse_policy(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
{
	struct bx_cli_args a;
	const char *sub = argc > 2 ? argv[2] : NULL;

	if (!sub)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "policy: missing check, show, groups or learn");
	if (is_help(sub) || strcmp(sub, "help") == 0)
		return help_for(BX_CLI_POLICY, out);
	if (strcmp(sub, "learn") == 0)
		return parse_options(argc, argv, 3, BX_CLI_POLICY_LEARN, out, err);
	for (int i = 3; i < argc; i++) {
		if (is_help(argv[i]))
			return help_for(BX_CLI_POLICY, out);
		if (argv[i][0] == '-')
			return bx_fail(err, -EINVAL, (size_t)i,
				       "policy %.16s: unknown option '%.64s'", sub, argv[i]);
	}
	memset(&a, 0, sizeof(a));
	a.command = BX_CLI_POLICY_CHECK;
	a.json_status_fd = -1;
	a.audit_log_fd = -1;
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
	memcpy(out, &a, sizeof(a));
	return 0;
}

/* help [COMMAND] */
static int parse_help(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
{
	static const struct {
		const char *name;
		enum bx_cli_command topic;
	} topics[] = {
	    {"exec", BX_CLI_EXEC},
	    {"demo", BX_CLI_DEMO},
	    {"policy", BX_CLI_POLICY},
	};

	if (argc == 2)
		return help_for(BX_CLI_HELP, out);
	if (argc > 3)
		return bx_fail(err, -EINVAL, 3, "help: takes at most one COMMAND");
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (strcmp(argv[2], topics[i].name) == 0)
			return help_for(topics[i].topic, out);
	return bx_fail(err, -EINVAL, 2, "help: unknown command '%.64s'", argv[2]);
}

int bx_cli_parse(int argc, char *const argv[], struct bx_cli_args *out, bx_error *err)
{
	struct bx_cli_args a;
	const char *cmd;
	int r;

	r = check_bounds(argc, argv, err);
	if (r < 0)
		return r;
	if (argc < 2)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "missing command");
	cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || is_help(cmd))
		return parse_help(argc, argv, out, err);
	if (strcmp(cmd, "exec") == 0)
		return parse_options(argc, argv, 2, BX_CLI_EXEC, out, err);
	if (strcmp(cmd, "demo") == 0)
		return parse_options(argc, argv, 2, BX_CLI_DEMO, out, err);
	if (strcmp(cmd, "policy") == 0)
		return parse_policy(argc, argv, out, err);
	if (strcmp(cmd, "version") != 0 && strcmp(cmd, "--version") != 0 && strcmp(cmd, "-V") != 0)
		return bx_fail(err, -EINVAL, 1, "unknown command '%.64s'", cmd);
	if (argc > 2)
		return bx_fail(err, -EINVAL, 2, "'%s' takes no arguments, got '%.64s'", cmd,
			       argv[2]);
	memset(&a, 0, sizeof(a));
	a.command = BX_CLI_VERSION;
	a.json_status_fd = -1;
	a.audit_log_fd = -1;
	memcpy(out, &a, sizeof(a));
	return 0;
}
