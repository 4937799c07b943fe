/* SPDX-License-Identifier: MIT */
/*
 * A policy's confinement settings as a beam message, so that the parent
 * (which parsed and compiled the policy) can hand them to a worker. The
 * syscall rules do not travel: the worker gets the compiled filter instead.
 */
#ifndef BX_POLICY_WIRE_H
#define BX_POLICY_WIRE_H

#include <beambox/data.h>

#include "policy/policy.h"

int bx_policy_to_msg(const struct bx_policy *p, bx_msg *m) __attribute__((warn_unused_result));
/* Strict: every field bounded, unknown keys refused. The result has no syscall rules. */
int bx_policy_from_msg(const bx_msg *m, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
