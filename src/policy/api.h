/* SPDX-License-Identifier: MIT */
/* Internal helpers of the public policy API (src/policy/api.c) for the CLI. */
#ifndef BX_POLICY_API_H
#define BX_POLICY_API_H

#include "policy/policy.h"

/*
 * What a command line's policy argument means: a FILE when it contains a
 * '/' or ends in ".policy", else the NAME of a shipped policy
 * (bx_policy_load_named). `--policy untrusted`, `--policy ./my.policy`.
 */
int bx_policy_load_spec(const char *spec, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));
/*
 * The same with diagnostics (bx_policy_load_file_opts): every error and
 * warning goes to diag->diag; diag->include is ignored.
 */
int bx_policy_load_spec_opts(const char *spec, const struct bx_policy_parse_opts *diag,
			     struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
