/* SPDX-License-Identifier: MIT */
/*
 * seccomp (confinement side): loads the filters the policy layer compiled
 * (src/policy/filter.h: bx_seccomp_compile, struct bx_bpf), and carries them
 * from the parent to a worker.
 *
 * The parent compiles once (bx_filter_cached), hands the programs to each
 * worker through a sealed memfd (bx_seccomp_export_fd / bx_seccomp_import_fd),
 * and the worker loads them as its very last confinement step
 * (bx_seccomp_load), in order: the deny list's filter first, the policy's
 * last (see filter.h for the stack and why).
 */
#ifndef BX_CONFINE_SECCOMP_H
#define BX_CONFINE_SECCOMP_H

#include <stddef.h>

#include <beambox/common.h>

#include "policy/filter.h"
#include "policy/policy.h"

/*
 * Loads every program of bpf, in order, into the calling process with
 * seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC), so that every
 * thread of the process gets them. The caller must have set no_new_privs
 * (prctl(PR_SET_NO_NEW_PRIVS, 1)) before, or hold CAP_SYS_ADMIN; this
 * function does not do it, so that the confinement order stays in one place.
 * Returns 0, -EINVAL for an empty or oversized program, -EBUSY when another
 * thread could not be synchronised (it has a diverging filter), or -errno
 * (some programs may then be loaded already: the caller gives up anyway).
 */
int bx_seccomp_load(const struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * As bx_seccomp_load, but the last program is loaded with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER (learning mode): returns the listener fd
 * (close-on-exec), or -errno. Single-threaded callers only (no TSYNC).
 */
int bx_seccomp_load_listener(const struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * Returns a new memfd (MFD_CLOEXEC) holding the programs (a small header,
 * then the instructions), sealed against shrinking, growing, writing and
 * further sealing, or -errno.
 */
int bx_seccomp_export_fd(const struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * Reads programs back from fd (from offset 0, leaving the file offset alone),
 * checking the header and every length: 1..BX_BPF_PROGS_MAX programs of
 * 1..BPF_MAXINSNS instructions each, and nothing else (-EBADMSG otherwise).
 * The instructions are copied; fd stays the caller's.
 */
int bx_seccomp_import_fd(int fd, struct bx_bpf *out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
