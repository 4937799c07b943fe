/* SPDX-License-Identifier: MIT */
/*
 * policy: what confinement a service's workers get, as a validated struct.
 * Pure data: building or reading a policy changes nothing in any process.
 * The policy-file parser (parse.c, grammar in policies/README.md) produces
 * this struct; bx_policy_default() parses policies/default.policy, embedded
 * in the library at build time.
 */
#ifndef BX_POLICY_H
#define BX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <beambox/common.h>
/* Its BX_API declarations export bx_policy_load_file and bx_policy_free (src/policy/api.c). */
#include <beambox/policy.h>

/* Namespaces, as bits. */
enum bx_ns {
	BX_NS_USER = 1u << 0,
	BX_NS_MOUNT = 1u << 1,
	BX_NS_PID = 1u << 2,
	BX_NS_NET = 1u << 3,
	BX_NS_IPC = 1u << 4,
	BX_NS_UTS = 1u << 5,
	BX_NS_CGROUP = 1u << 6,
	BX_NS_TIME = 1u << 7,
};
#define BX_NS_ALL 0xffu

/* How much a confinement item is wanted. */
enum bx_need {
	BX_NEED_OFF = 0,
	BX_NEED_OPTIONAL, /* applied if the kernel can; skipped (and reported) otherwise */
	BX_NEED_REQUIRED, /* applied, or the worker does not start */
};

#define BX_POLICY_BINDS_MAX 64
#define BX_POLICY_RULES_MAX 1024
#define BX_POLICY_PATH_MAX  1024
#define BX_POLICY_ENV_MAX   64
#define BX_SC_CLAUSES_MAX   16
#define BX_SC_ARGS_MAX	    6

struct bx_bind {
	char *src; /* host path (absolute) */
	char *dst; /* path inside the worker (absolute) */
	bool rw;
	bool optional; /* a missing src is skipped instead of refused */
	/*
	 * Programs and file mappings may be executed from it. Default: ro binds
	 * yes, rw binds no (W^X: what the sandbox can write it cannot run).
	 */
	bool exec;
};

/* One comparison on a syscall argument: (arg & mask) OP value, on 64 bits. */
enum bx_sc_op {
	BX_SC_EQ = 1,
	BX_SC_NE,
	BX_SC_LT,
	BX_SC_LE,
	BX_SC_GT,
	BX_SC_GE,
	BX_SC_MASKED_EQ, /* (arg & mask) == value */
};

struct bx_sc_cmp {
	unsigned arg; /* 0..5 */
	enum bx_sc_op op;
	uint64_t mask; /* for BX_SC_MASKED_EQ */
	uint64_t value;
};

/* All comparisons of a clause must hold (AND). */
struct bx_sc_clause {
	size_t ncmp;
	struct bx_sc_cmp cmp[BX_SC_ARGS_MAX];
};

#define BX_SC_NO_FILE 0xffffu

/*
 * Actions, as in libseccomp (the value is the SCMP_ACT_* value). A syscall
 * may have several rules (several lines, a group and a line...): they
 * combine. The calls any allowing rule (allow, log) lets through run; the
 * others get the syscall's fallback (has_else/else_action, the same in all
 * of its rules) or, without one, the policy's default action. A rule with a
 * refusing action and no clause (`read: return EPERM`) is that fallback.
 */
struct bx_sc_rule {
	char name[40]; /* syscall name (libseccomp's, or the kernel's for newer ones) */
	uint32_t action;
	/* Clauses are OR'ed; no clause means "always". */
	size_t nclauses;
	struct bx_sc_clause clauses[BX_SC_CLAUSES_MAX];
	/* What the calls no rule of this syscall allows get, when not the default action. */
	bool has_else;
	uint32_t else_action;
	/* A continuation of the rule before it (one line's clauses beyond BX_SC_CLAUSES_MAX). */
	bool derived;
	/* Where it was written: files[src_file]:src_line:src_col (BX_SC_NO_FILE: by hand). */
	uint16_t src_file;
	uint32_t src_line, src_col;
	const char *group; /* the @group it came from (static text), or NULL */
};

struct bx_policy {
	char name[64];

	uint32_t namespaces;	      /* enum bx_ns bits wanted */
	uint32_t namespaces_optional; /* of those, the ones that may be missing */
	uid_t uid;		      /* host uid of the worker when the parent is root */
	gid_t gid;
	bool uid_dynamic; /* uid = dynamic: one from beambox's range per worker */
	char hostname[65];

	/* netns = shared: workers join one empty netns made for the policy (a root zygote). */
	bool netns_shared;

	struct bx_bind binds[BX_POLICY_BINDS_MAX];
	size_t nbinds;
	uint64_t tmp_size; /* bytes of the private /tmp tmpfs; 0: no /tmp */

	struct {
		bool set;
		rlim_t value; /* soft = hard */
	} rlimits[RLIM_NLIMITS];

	enum bx_need cgroup;
	uint64_t cgroup_memory_max; /* bytes; 0: no limit */
	uint64_t cgroup_pids_max;   /* 0: no limit */

	enum bx_need landlock;

	char *env_keep[BX_POLICY_ENV_MAX]; /* names passed through (exec) */
	size_t nenv_keep;

	uint32_t default_action; /* SCMP_ACT_KILL_PROCESS, SCMP_ACT_ERRNO(n), ... */
	struct bx_sc_rule rules[BX_POLICY_RULES_MAX];
	size_t nrules;
	/* Syscall names the policy may allow despite the deny list (loudly). */
	char *override_deny[16];
	size_t noverride_deny;

	/* The files read (the top one first), for the rules' locations. */
	char *files[64];
	size_t nfiles;
	/* "file:line:col: warning: ..." texts (e.g. a rule the deny list overrides). */
	char *warnings[64];
	size_t nwarnings;
	size_t warnings_dropped; /* beyond the 64 kept */
};

/*
 * Hard caps of the policy-file parser (documented in policies/README.md).
 * The per-line ones are set by what the compiler takes: libseccomp adds 2048
 * `arg1 == X` clauses of one syscall in about 50 ms, and the kernel takes at
 * most 4096 instructions per filter, which bx_seccomp_compile checks.
 */
#define BX_POLICY_FILE_MAX	(1u << 20) /* bytes per file */
#define BX_POLICY_LINE_MAX	65536	   /* bytes per logical line, continuations included */
#define BX_POLICY_INCLUDE_DEPTH 8	   /* nested @include levels below the top file */
#define BX_POLICY_FILES_MAX	64	   /* files read for one policy, includes included */
#define BX_POLICY_EXPR_MAX	2048	   /* libseccomp clauses one expression may expand to */
#define BX_POLICY_ERRORS_MAX	50	   /* errors `policy check` reports per file */
#define BX_POLICY_WARNINGS_MAX	64	   /* warnings kept per policy */

/* What a diagnostic is, for bx_policy_parse_opts.diag. */
enum bx_policy_diag { BX_POLICY_ERROR = 1, BX_POLICY_WARNING };

/*
 * Reads an included file: `path` is already joined to the including file's
 * directory. On success stores a malloc'ed buffer (owned by the caller) and
 * its length and returns 0; otherwise -errno with err filled.
 */
typedef int (*bx_policy_include_fn)(void *ctx, const char *path, char **text, size_t *len,
				    bx_error *err);

struct bx_policy_parse_opts {
	/* NULL: @include is an error (the fuzzer, untrusted text). */
	bx_policy_include_fn include;
	void *include_ctx;
	/*
	 * NULL: parsing stops at the first error. Otherwise every error and
	 * warning is passed here as "file:line:col: ..." text, and parsing goes
	 * on after an error, up to max_errors of them (0: BX_POLICY_ERRORS_MAX).
	 */
	void (*diag)(void *ctx, enum bx_policy_diag kind, const char *text);
	void *diag_ctx;
	size_t max_errors;
};

/*
 * Parses a policy file's text (name is used in messages and to resolve
 * relative @include paths). A file without a [policy] section (a minijail
 * policy: syscalls only) gets the built-in default's settings. Errors:
 * -EINVAL (syntax, unknown key/syscall/constant, duplicates, conflicts),
 * -E2BIG (a cap), -ELOOP (include cycle or depth), -ENOMEM; err->text is the
 * first error, "file:line:col: message", and err->offset its byte offset in
 * that file. opts may be NULL (no @include).
 */
int bx_policy_parse(const char *name, const char *text, size_t len,
		    const struct bx_policy_parse_opts *opts, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));

/* Reads path (at most BX_POLICY_FILE_MAX bytes) and parses it; includes come from the disk. */
int bx_policy_load_file(const char *path, struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));
/* The same with diagnostics (opts->include is ignored: includes come from the disk). */
int bx_policy_load_file_opts(const char *path, const struct bx_policy_parse_opts *opts,
			     struct bx_policy **out, bx_error *err)
    __attribute__((warn_unused_result));

/* Reads a whole file with a size cap, for the include resolver and the CLI. */
int bx_policy_read_file(void *ctx, const char *path, char **text, size_t *len, bx_error *err)
    __attribute__((warn_unused_result));

/*
 * What this build of beambox cannot honour and drops from every parsed
 * policy: in sanitizer builds, the address-space limit.
 */
void bx_policy_adjust_for_build(struct bx_policy *p);

/* Allocates the built-in strict default, parsed from the embedded policies/default.policy. */
int bx_policy_default(struct bx_policy **out) __attribute__((warn_unused_result));
void bx_policy_free(struct bx_policy *p);

/* Appends a rule allowing name unconditionally; -E2BIG when full. */
int bx_policy_allow(struct bx_policy *p, const char *name) __attribute__((warn_unused_result));

#endif
