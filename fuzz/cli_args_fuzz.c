/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes bx_cli_parse (src/cli/args.c): the beambox command's argument
 * parser. Threat: an argv (from a script, a config, an attacker-influenced
 * wrapper) that makes it read past argv, point outside it, accept what it
 * should refuse, or return success with an inconsistent result.
 *
 * The input is argv itself: NUL-separated strings (argv[0] first); a
 * trailing NUL does not add an empty argument.
 *
 * Oracles besides ASan/UBSan: on success the command is known, and for exec
 * and policy learn prog_argv is a suffix of argv (NULL-terminated,
 * prog_argc >= 1 long); every string the result points to (policy, binds,
 * chdir, environment changes, JSON status and audit log files, -o) lies
 * inside one of argv's strings; counts and the timeout are within their caps;
 * policy learn has exactly one base (--policy, or --worker's: the program's);
 * on failure the result is -EINVAL with a message.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"

#define INPUT_MAX 65536

static int inside_argv(const char *p, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
			return 1;
	return 0;
}

/* NULL, or a string inside argv. */
static int ok_str(const char *p, int argc, char **argv)
{
	return !p || inside_argv(p, argc, argv);
}

static void check_exec(const struct bx_cli_args *a, int argc, char **argv)
{
	if (a->prog_argc < 1 || a->prog_argc > argc - 2 ||
	    a->prog_argv != argv + (argc - a->prog_argc) || a->prog_argv[a->prog_argc])
		abort();
	if (a->policy && (!*a->policy || !inside_argv(a->policy, argc, argv)))
		abort();
	if (a->nbinds > BX_CLI_BINDS_MAX || a->nenv > BX_CLI_ENV_MAX)
		abort();
	for (size_t i = 0; i < a->nbinds; i++)
		if (!inside_argv(a->binds[i].src, argc, argv) || !*a->binds[i].src ||
		    !inside_argv(a->binds[i].dst, argc, argv) || a->binds[i].dst[0] != '/')
			abort();
	for (size_t i = 0; i < a->nenv; i++)
		if (!inside_argv(a->env[i].name, argc, argv) || !*a->env[i].name ||
		    strchr(a->env[i].name, '=') || !ok_str(a->env[i].value, argc, argv))
			abort();
	if ((a->chdir && a->chdir[0] != '/') || !ok_str(a->chdir, argc, argv) ||
	    !ok_str(a->json_status, argc, argv) || !ok_str(a->output, argc, argv))
		abort();
	if (a->timeout_ms > BX_CLI_TIMEOUT_MAX_S * 1000u)
		abort();
	if (a->json_status && a->json_status_fd >= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bx_cli_args a;
	bx_error err;
	char *buf, **argv;
	int argc = 0, r;

	if (size > INPUT_MAX)
		return 0;
	/* A copy with a final NUL, so that every piece is a C string. */
	buf = malloc(size + 1);
	argv = calloc(size + 2, sizeof(*argv));
	if (!buf || !argv)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i < size;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;

	memset(&a, 0xa5, sizeof(a));
	bx_error_clear(&err);
	r = bx_cli_parse(argc, argv, &a, &err);
	if (r == 0) {
		switch (a.command) {
		case BX_CLI_HELP:
			if (!bx_cli_help(a.help_topic)[0])
				abort();
			break;
		case BX_CLI_VERSION:
			break;
		case BX_CLI_DEMO:
			if (!ok_str(a.audit_log, argc, argv) ||
			    (a.audit_log && a.audit_log_fd >= 0))
				abort();
			break;
		case BX_CLI_EXEC:
			if (a.worker)
				abort(); /* --worker is learn's only */
			check_exec(&a, argc, argv);
			break;
		case BX_CLI_POLICY_LEARN:
			/* Exactly one base: --policy, or each worker's own (--worker). */
			if (!a.policy == !a.worker)
				abort();
			check_exec(&a, argc, argv);
			break;
		default:
			if ((int)a.command < 0 || (int)a.command > 64)
				abort(); /* an uninitialised command */
			break;
		}
	} else if (r != -EINVAL || err.text[0] == '\0') {
		fprintf(stderr, "bx_cli_parse: %d '%s'\n", r, err.text);
		abort();
	}
	free(argv);
	free(buf);
	return 0;
}
