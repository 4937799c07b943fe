/* SPDX-License-Identifier: MIT */
/*
 * filter: a policy compiled into seccomp filters, with libseccomp. Pure (the
 * confinement layer loads what this produces: src/confine/seccomp.h).
 *
 * A compiled policy is a short stack of classic-BPF programs, loaded in
 * order; the kernel runs every one for each syscall and takes the most
 * restrictive answer (kill > trap > errno > ... > allow; between two errnos,
 * the filter loaded last):
 *
 *   1. the deny list (deny.c), its own filter: EPERM/ENOSYS/EAFNOSUPPORT for
 *      what no worker gets, "allow" for everything else. Never merged into
 *      the policy's rules, so libseccomp never has to combine the two
 *      (its 2.5.4 mis-merged such sets and took minutes on some);
 *   2. one "fallback" filter per errno (or trap, kill-thread...) that a
 *      `expr; return E` line asks for: E for the calls of those syscalls
 *      that no rule allows, "allow" for everything else. This gives each
 *      syscall its own default without computing the complement of its
 *      expression (which grows without bound);
 *   3. the policy's filter, last: its rules (allow-type only, one action per
 *      syscall), the runtime's own calls (runtime.c), and its default action.
 *      Non-native ABIs (i386 via int 0x80, x32 numbers) kill the process.
 */
#ifndef BX_POLICY_FILTER_H
#define BX_POLICY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <beambox/common.h>

#include "policy/policy.h"

struct sock_filter; /* <linux/filter.h> */

#define BX_BPF_PROGS_MAX 16

/* One classic-BPF program: len instructions, owned. */
struct bx_bpf_prog {
	struct sock_filter *insns;
	size_t len;
};

/* A compiled policy: programs in load order, the policy's own last. Free with bx_bpf_free. */
struct bx_bpf {
	size_t nprogs;
	struct bx_bpf_prog progs[BX_BPF_PROGS_MAX];
};

/*
 * The calls that beambox's own code makes after a filter is loaded, which
 * every policy gets without naming them (runtime.c lists them and why). Each
 * process gets exactly its own set: with a pid namespace, pid 1 (init)
 * forks the serving process before either loads a filter, so the serving
 * process never holds init's grants nor init the policy's.
 */
enum bx_runtime {
	BX_RUNTIME_AUTO = 0, /* BX_RUNTIME_EXEC when exec_fd >= 0, else BX_RUNTIME_WORKER */
	BX_RUNTIME_NONE,     /* the policy's rules only (tests, `policy show` of the policy) */
	BX_RUNTIME_WORKER,   /* a worker's serving process: beam messages, exit, malloc */
	BX_RUNTIME_EXEC,     /* a serving process that executes a program: its failure path */
	BX_RUNTIME_INIT,     /* pid 1 (init), alone: bx_seccomp_compile_init */
};

/* What the filter must allow beyond the policy. */
struct bx_seccomp_extra {
	/*
	 * >= 0: also allow exactly execveat(exec_fd, "", argv, envp, flags)
	 * with AT_EMPTY_PATH in flags (how `beambox exec` and a foreign worker
	 * start the confined program); -1: nothing extra. The number is baked
	 * into the filter.
	 */
	int exec_fd;
	enum bx_runtime runtime;
	/*
	 * BX_RUNTIME_EXEC: the notes fd (spawn/init.h) on which a failed
	 * execveat is reported: write(2) to exactly that number is allowed.
	 * Below 3 (0 when a caller leaves it out): no write at all.
	 */
	int note_fd;
	/*
	 * Violations that name the syscall (src/spawn/violation.c, SECURITY.md
	 * "How a refused call is named"): with a kill-process default, the
	 * policy's filter returns SECCOMP_RET_USER_NOTIF for the calls that would
	 * get the default action, so that the serving process's init, holding
	 * the listener, reads the call, reports it and kills the process. Every
	 * other action stays what it was: explicit kill rules (and `expr; kill`)
	 * are kernel kills, other ABIs kill, errnos and allows are unchanged;
	 * the kernel ranks KILL > TRAP > ERRNO > USER_NOTIF > ALLOW across the
	 * stack. Only for a process whose loader holds a listener: a program
	 * that returns USER_NOTIF is never loaded without one (bx_seccomp_load
	 * refuses it; bx_violation_disarm turns it back into kill-process).
	 */
	bool violations;
	/*
	 * With violations and BX_RUNTIME_EXEC: the fd the serving process sends
	 * its listener on, sendmsg(violation_fd, ..., MSG_NOSIGNAL) is allowed
	 * (above the program's fd, out of the program's reach); -1 (or 0 when a
	 * caller leaves it out): none. A worker's runtime already sends with
	 * MSG_NOSIGNAL and closes.
	 */
	int violation_fd;
};

/*
 * Compiles p (plus extra; NULL means exec_fd -1 and BX_RUNTIME_NONE) into
 * *out. Errors: -EINVAL for a malformed policy, an unknown syscall name or an
 * invalid action; -E2BIG when a filter exceeds the kernel's 4096
 * instructions; -ENOMEM; other -errno from libseccomp. *out is untouched on
 * failure.
 */
int bx_seccomp_compile(const struct bx_policy *p, const struct bx_seccomp_extra *extra,
		       struct bx_bpf *out, bx_error *err) __attribute__((warn_unused_result));

/*
 * The filters of learning mode (`beambox policy learn`): p's deny list
 * (with its overrides), then a filter that allows sendmsg and close on
 * learn_sock (the hand-over of the listener), extra's runtime calls and
 * execveat of exec_fd, and hands every other call to the supervisor
 * (SECCOMP_RET_USER_NOTIF). Load it with bx_seccomp_load_listener.
 */
int bx_seccomp_compile_learning(const struct bx_policy *p, int learn_sock,
				const struct bx_seccomp_extra *extra, struct bx_bpf *out,
				bx_error *err) __attribute__((warn_unused_result));

/*
 * Writes libseccomp's pseudo-code of each filter of p's stack (with extra,
 * as bx_seccomp_compile), each under a "# ..." heading. Returns 0 or -errno.
 */
int bx_seccomp_export_pfc(const struct bx_policy *p, const struct bx_seccomp_extra *extra, int fd,
			  bx_error *err) __attribute__((warn_unused_result));

/* Frees the programs and resets *bpf to empty. Safe on an empty or NULL bpf. */
void bx_bpf_free(struct bx_bpf *bpf);
/* Total instructions of all programs. */
size_t bx_bpf_total_len(const struct bx_bpf *bpf);
/* A deep copy; -ENOMEM. */
int bx_bpf_copy(const struct bx_bpf *from, struct bx_bpf *to) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ the deny list (deny.c) */

/* (arg & mask) == value, on the 64-bit argument; value has no bit outside mask. */
struct bx_cube {
	uint64_t mask;
	uint64_t value;
};

struct bx_deny_entry {
	const char *name; /* the syscall */
	int errno_value;  /* what the denied calls get */
	int arg;	  /* -1: every call; else the argument whose values cubes[] deny */
	size_t ncubes;
	struct bx_cube cubes[64];
	const char *what; /* "" or the denied calls: "with TIOCSTI or TIOCLINUX" */
	const char *why;  /* the reason, with its CVE */
};

const struct bx_deny_entry *bx_deny_entries(size_t *n);
/* The entry for a syscall name, or NULL when it is not on the list. */
const struct bx_deny_entry *bx_deny_find(const char *name);
/* Whether p names name in override-deny-list. */
bool bx_deny_overridden(const struct bx_policy *p, const char *name);
/* Whether a call matching the clause (NULL: any call) may be one the entry denies. */
bool bx_deny_may_hit(const struct bx_deny_entry *e, const struct bx_sc_clause *cl);

/*
 * The filter of pid 1 (init, spawn/init.h) once it has forked the serving
 * process: BX_RUNTIME_INIT's rules (reaping, exit), write(2) to note_fd and
 * read(2) from read_fd (each only if above 2), and nothing else: the
 * default action kills the process, and there is no policy in it at all.
 */
int bx_seccomp_compile_init(int note_fd, int read_fd, struct bx_bpf *out, bx_error *err)
    __attribute__((warn_unused_result));
/*
 * The same, for an init that holds the serving process's violation listener
 * (src/spawn/violation.c): also ioctl(SECCOMP_IOCTL_NOTIF_RECV,
 * SECCOMP_IOCTL_NOTIF_ID_VALID), kill(-1, SIGKILL) (everything else in the
 * namespace), and its SIGCHLD handler's wait4(-1, ..., WNOHANG) and
 * rt_sigreturn.
 */
int bx_seccomp_compile_init_violations(int note_fd, int read_fd, struct bx_bpf *out, bx_error *err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ the runtime (runtime.c) */

/*
 * The rules beambox adds for its own calls, as a policy (rules only), parsed
 * once from runtime.c's text; the fd numbers (execveat's program, the notes,
 * init's exec pipe) are not in it: compile.c adds them. NULL for
 * BX_RUNTIME_NONE and BX_RUNTIME_AUTO.
 */
const struct bx_policy *bx_runtime_rules(enum bx_runtime rt);
/* The runtime's rules as the policy text they are parsed from (NULL as above). */
const char *bx_runtime_text(enum bx_runtime rt);
/* What compile.c adds to a runtime's text by number, as a comment for `policy show`. */
const char *bx_runtime_by_number(enum bx_runtime rt);

#endif
