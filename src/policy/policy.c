/* SPDX-License-Identifier: MIT */
/*
 * The policy struct's own life: freeing it, adding a rule by hand, and what
 * this build cannot honour. Below the parser (parse.c) and the built-in
 * default (default.c), which both use it; it uses neither.
 */
#define _GNU_SOURCE
#include "policy/policy.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BX_HAS_ASAN 1
#endif
#endif
#ifndef BX_HAS_ASAN
#define BX_HAS_ASAN 0
#endif

int bx_policy_allow(struct bx_policy *p, const char *name)
{
	struct bx_sc_rule *r;

	if (p->nrules >= BX_POLICY_RULES_MAX)
		return -E2BIG;
	if (strlen(name) >= sizeof(p->rules[0].name))
		return -ENAMETOOLONG;
	r = &p->rules[p->nrules++];
	memset(r, 0, sizeof(*r));
	strcpy(r->name, name);
	r->action = SCMP_ACT_ALLOW;
	r->src_file = BX_SC_NO_FILE;
	return 0;
}

void bx_policy_adjust_for_build(struct bx_policy *p)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || BX_HAS_ASAN
	/*
	 * ASan and TSan reserve terabytes of shadow memory: an address-space
	 * limit would break every worker of a sanitizer build, whatever policy
	 * it runs under (BX_HAS_ASAN covers clang's TSan too).
	 */
	p->rlimits[RLIMIT_AS].set = false;
	p->rlimits[RLIMIT_AS].value = 0;
#else
	(void)p;
#endif
}

void bx_policy_free(struct bx_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nbinds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].dst);
	}
	for (size_t i = 0; i < p->nenv_keep; i++)
		free(p->env_keep[i]);
	for (size_t i = 0; i < p->noverride_deny; i++)
		free(p->override_deny[i]);
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	for (size_t i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p);
}
