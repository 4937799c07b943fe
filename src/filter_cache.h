/* SPDX-License-Identifier: MIT */
/*
 * The parent compiles a policy's filter once, not once per worker: compiling
 * with libseccomp is about a quarter of a spawn (bench/bench_spawn.c).
 */
#ifndef BX_FILTER_CACHE_H
#define BX_FILTER_CACHE_H

#include "confine/seccomp.h"
#include "policy/policy.h"

/*
 * A copy of p's compiled filters for a worker (the policy's rules plus the
 * worker runtime's own calls, BX_RUNTIME_WORKER; no exec extra) in *out,
 * compiled on the first call for an equal rule set and remembered for the
 * process's life (a few entries, least recently used first out). Thread-safe.
 */
int bx_filter_cached(const struct bx_policy *p, struct bx_bpf *out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
