/* SPDX-License-Identifier: MIT */
/*
 * policy: what confinement a service's workers get, as a validated struct.
 * Pure data: building or reading a policy changes nothing in any process.
 * The policy-file parser (issue #5) produces this struct; until then
 * bx_policy_default() builds the built-in strict default.
 */
#ifndef BX_POLICY_H
#define BX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <beambox/common.h>

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
#define BX_POLICY_RULES_MAX 512
#define BX_POLICY_PATH_MAX 1024
#define BX_POLICY_ENV_MAX 64
#define BX_SC_CLAUSES_MAX 16
#define BX_SC_ARGS_MAX 6

struct bx_bind {
	char *src; /* host path (absolute) */
	char *dst; /* path inside the worker (absolute) */
	bool rw;
	bool optional; /* a missing src is skipped instead of refused */
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

/* Actions, as in libseccomp (the value is the SCMP_ACT_* value). */
struct bx_sc_rule {
	char name[40]; /* syscall name, as libseccomp knows it */
	uint32_t action;
	/* Clauses are OR'ed; no clause means "always". */
	size_t nclauses;
	struct bx_sc_clause clauses[BX_SC_CLAUSES_MAX];
};

struct bx_policy {
	char name[64];

	uint32_t namespaces;	      /* enum bx_ns bits wanted */
	uint32_t namespaces_optional; /* of those, the ones that may be missing */
	uid_t uid;		      /* host uid of the worker when the parent is root */
	gid_t gid;
	char hostname[65];

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
};

/* Allocates the built-in strict default (see policies/default.policy once #5 lands). */
int bx_policy_default(struct bx_policy **out) __attribute__((warn_unused_result));
void bx_policy_free(struct bx_policy *p);

/* Appends a rule allowing name unconditionally; -E2BIG when full. */
int bx_policy_allow(struct bx_policy *p, const char *name) __attribute__((warn_unused_result));

#endif
