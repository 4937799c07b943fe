/* SPDX-License-Identifier: MIT */
/*
 * Internals of the policy module shared by the parser, the printer, the
 * CLI and the tests: syscall groups, named constants, the clause algebra
 * that turns minijail expressions into libseccomp-sized clauses, and the
 * embedded policy files.
 */
#ifndef BX_POLICY_INTERNAL_H
#define BX_POLICY_INTERNAL_H

#include <stdio.h>

#include "policy/policy.h"

/* ------------------------------------------------------------------ groups (groups.c) */

/*
 * A named set of syscalls, used as `@name` in a [syscalls] section. Each
 * member is a syscall line of the policy syntax ("read" alone means
 * "read: allow"). Members that are not syscalls of the native
 * architecture (open on aarch64) are skipped when a group is expanded.
 */
struct bx_sc_group {
	const char *name; /* with the '@' */
	const char *description;
	const char *const *members; /* NULL-terminated */
};

/* The group called name[0..len), or NULL. */
const struct bx_sc_group *bx_sc_group_find(const char *name, size_t len);
/* All groups, for listing: *n receives the count. */
const struct bx_sc_group *bx_sc_groups(size_t *n);

/* ------------------------------------------------------------------ constants (constants.c) */

/* Looks up a named constant (PROT_EXEC, AF_UNIX, EPERM, ...): 0 or -ENOENT. */
int bx_policy_constant(const char *name, size_t len, uint64_t *out)
    __attribute__((warn_unused_result));
/* The errno name for a value ("EPERM"), or NULL. */
const char *bx_policy_errno_name(uint32_t value);
/*
 * The constant's name for a value of a syscall argument, for printing:
 * prctl's option (arg 0: "PR_SET_NAME"), socket/socketpair's family
 * ("AF_UNIX"). NULL when there is none.
 */
const char *bx_policy_arg_name(const char *syscall, unsigned arg, uint64_t value);

/* ------------------------------------------------------------------ syscall names (syscalls.c) */

#define BX_SYSCALL_NAME_MAX 40 /* bytes, with the NUL: as struct bx_sc_rule's name */

/*
 * The native number of a syscall name: libseccomp's, else the build host's
 * <asm/unistd.h> (generated table), else the hand list of newer syscalls.
 * -EAFNOSUPPORT: a syscall of another architecture only; -ENOENT: unknown.
 */
int bx_syscall_resolve(const char *name) __attribute__((warn_unused_result));
/* The name of a native syscall number into buf (same sources), or NULL. */
const char *bx_syscall_name(int nr, char *buf, size_t len);
/* The highest syscall number the tables know. */
int bx_syscall_max(void);

/* ------------------------------------------------------------------ clauses (clause.c) */

/*
 * Conjunction: writes to out[] the clauses whose union is "t AND c" (t has
 * at most one comparison per argument, as libseccomp requires, and so does
 * every output). Two comparisons on one argument are merged, or split into
 * masked-equal "cubes" when no single comparison expresses both. Returns the
 * number of clauses written (0: never true) or -E2BIG when more than max.
 */
int bx_sc_and(const struct bx_sc_clause *t, const struct bx_sc_cmp *c, struct bx_sc_clause *out,
	      size_t max) __attribute__((warn_unused_result));

/*
 * Complement: writes clauses whose union is exactly the argument values
 * where none of in[0..n) holds. Returns the count or -E2BIG.
 */
int bx_sc_complement(const struct bx_sc_clause *in, size_t n, struct bx_sc_clause *out, size_t max)
    __attribute__((warn_unused_result));

/*
 * Disjoint equal / masked-equal comparisons whose union is exactly c; returns
 * the count (<= 65). For handing libseccomp only the comparisons it compiles
 * right (see compile.c).
 */
size_t bx_sc_cubes(const struct bx_sc_cmp *c, struct bx_sc_cmp out[65]);

/* Disjoint single comparisons whose union is "not c"; returns the count (<= 64). */
size_t bx_sc_negate(const struct bx_sc_cmp *c, struct bx_sc_cmp out[64]);

/*
 * AND over ngroups groups of (OR over the group's alternatives): group g is
 * alts[ends[g-1]..ends[g]). Writes libseccomp-shaped clauses; returns the
 * count or -E2BIG / -ENOMEM.
 */
int bx_sc_product(const struct bx_sc_cmp *alts, const size_t *ends, size_t ngroups,
		  struct bx_sc_clause *out, size_t max) __attribute__((warn_unused_result));

/* Whether the six arguments satisfy the clause (for tests and the fuzzer). */
bool bx_sc_clause_eval(const struct bx_sc_clause *cl, const uint64_t args[BX_SC_ARGS_MAX]);

/* ------------------------------------------------------------------ bpf_check.c */

struct sock_filter;
struct seccomp_data;
/*
 * Runs a classic-BPF seccomp program over d: 0 with its return value in
 * *out, or -EINVAL for an instruction seccomp does not take, an
 * out-of-range load or jump, or running off the end.
 */
int bx_bpf_run(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
	       uint32_t *out) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ printing (print.c) */

/* Writes p in the policy syntax, includes and groups expanded. */
void bx_policy_print(const struct bx_policy *p, FILE *out);
/* Writes an action in the policy syntax ("allow", "return EPERM", ...). */
void bx_policy_print_action(uint32_t action, FILE *out);

/* ------------------------------------------------------------------ embedded files (generated) */

struct bx_embedded_file {
	const char *name; /* relative to policies/: "default.policy", "common/libc.policy" */
	const char *text;
	size_t len;
};
extern const struct bx_embedded_file bx_embedded_policies[];
extern const size_t bx_embedded_policies_count;

/* An include resolver over bx_embedded_policies (ctx unused). */
int bx_policy_read_embedded(void *ctx, const char *path, char **text, size_t *len, bx_error *err)
    __attribute__((warn_unused_result));

#endif
