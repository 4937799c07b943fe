/* SPDX-License-Identifier: MIT */
/*
 * seccomp: turns a policy's syscall rules into a classic-BPF filter with
 * libseccomp, adds the built-in deny list on top, and loads the result.
 *
 * The parent compiles once (bx_seccomp_compile), hands the program to each
 * worker through a sealed memfd (bx_seccomp_export_fd / bx_seccomp_import_fd),
 * and the worker loads it as its very last confinement step (bx_seccomp_load).
 *
 * Filter shape (see seccomp.c for the reasons):
 *   - native architecture only; any other ABI (i386 via int 0x80, x32
 *     syscall numbers with bit 0x40000000) kills the process;
 *   - the deny list: ERRNO(EPERM) (clone3: ERRNO(ENOSYS)) for syscalls that
 *     widen the kernel attack surface, whatever the policy says, unless the
 *     policy names them in override_deny; a policy rule that would allow one
 *     is a compile error;
 *   - clone, ioctl and personality are allowed only in a restricted form
 *     (no namespace flags; no TIOCSTI/TIOCLINUX; only the persona 0 and the
 *     query 0xffffffff), which is ANDed into the policy's own rules;
 *   - then the policy's rules, and its default action for everything else.
 */
#ifndef BX_CONFINE_SECCOMP_H
#define BX_CONFINE_SECCOMP_H

#include <stddef.h>

#include <beambox/common.h>

#include "policy/policy.h"

struct sock_filter; /* <linux/filter.h> */

/* A compiled filter: len classic-BPF instructions, owned (free with bx_bpf_free). */
struct bx_bpf {
	struct sock_filter *insns;
	size_t len;
};

/* What the filter must allow beyond the policy. */
struct bx_seccomp_extra {
	/*
	 * >= 0: also allow exactly execveat(exec_fd, "", argv, envp, flags)
	 * with AT_EMPTY_PATH in flags (how `beambox exec` starts the confined
	 * program); -1: nothing extra. The number is baked into the filter.
	 */
	int exec_fd;
};

/*
 * Compiles p (plus extra, which may be NULL for "nothing extra") into *out.
 * Errors: -EINVAL for a malformed policy, an unknown syscall name, an invalid
 * action, or a rule allowing a deny-listed syscall (err names the syscall);
 * -ENOMEM; other -errno from libseccomp or memfd I/O.
 */
int bx_seccomp_compile(const struct bx_policy *p, const struct bx_seccomp_extra *extra,
		       struct bx_bpf *out, bx_error *err) __attribute__((warn_unused_result));

/*
 * Whether name is on the built-in deny list: returns the errno its calls get
 * (EPERM; ENOSYS for clone3); -1 for the syscalls allowed only in a
 * restricted form (clone, ioctl, personality); 0 otherwise. The policy
 * parser uses it to report, with a location, a rule that allows a denied
 * syscall and an override-deny-list naming something not on the list.
 */
int bx_seccomp_deny_errno(const char *name);

/* Frees the instructions and resets *bpf to empty. Safe on an empty or NULL bpf. */
void bx_bpf_free(struct bx_bpf *bpf);

/*
 * Loads bpf into the calling process with
 * seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC), so that every
 * thread of the process gets it. The caller must have set no_new_privs
 * (prctl(PR_SET_NO_NEW_PRIVS, 1)) before, or hold CAP_SYS_ADMIN; this
 * function does not do it, so that the confinement order stays in one place.
 * Returns 0, -EINVAL for an empty or oversized program, -EBUSY when another
 * thread could not be synchronised (it has a diverging filter), or -errno.
 */
int bx_seccomp_load(const struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * Returns a new memfd (MFD_CLOEXEC) holding the instructions, sealed against
 * shrinking, growing, writing and further sealing, or -errno.
 */
int bx_seccomp_export_fd(const struct bx_bpf *bpf) __attribute__((warn_unused_result));

/*
 * Reads a filter back from fd (from offset 0, leaving the file offset alone):
 * the size must be a whole number of instructions, 1..BPF_MAXINSNS of them
 * (-EBADMSG otherwise). The instructions are copied; fd stays the caller's.
 */
int bx_seccomp_import_fd(int fd, struct bx_bpf *out, bx_error *err)
    __attribute__((warn_unused_result));

#endif
