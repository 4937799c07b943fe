/* SPDX-License-Identifier: MIT */
/* The CLI's "policy" commands: check, show, groups (grammar: policies/README.md). */
#ifndef BX_CLI_POLICY_CMD_H
#define BX_CLI_POLICY_CMD_H

#include <stdio.h>

/*
 * Parses and compiles each file (as a worker gets it). Valid: one line per
 * file on out, "FILE: ok (N syscalls, N namespaces, N binds[, N warnings])".
 * Every error (at most BX_POLICY_ERRORS_MAX per file) and every warning (a
 * rule the deny list overrides, with what happens at run time) goes to
 * errout as "file:line:col: ...". Returns 0 when all are valid, 1 otherwise.
 */
int bx_cli_policy_check(int nfiles, char *const files[], FILE *out, FILE *errout);

/*
 * Prints the fully resolved policy (includes and groups expanded) in the
 * policy syntax, with its warnings and the meaning beambox gives each
 * `expr; return N` line, then the runtime's own calls and every filter of
 * the stack a worker loads in libseccomp's pseudo-code. Returns 0, or 1 on
 * error (reported on errout).
 */
int bx_cli_policy_show(const char *file, FILE *out, FILE *errout);

/* Lists every syscall group and its members. Returns 0. */
int bx_cli_policy_groups(FILE *out);

#endif
