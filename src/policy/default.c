/* SPDX-License-Identifier: MIT */
/*
 * The built-in strict default policy: policies/default.policy (and the
 * policies/common/ files it includes), embedded in the library at build time
 * and parsed here. The file is the one source of truth.
 */
#define _GNU_SOURCE
#include "policy/policy.h"

#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "util/error.h"

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
	return 0;
}

int bx_policy_read_embedded(void *ctx, const char *path, char **text, size_t *len, bx_error *err)
{
	(void)ctx;
	for (size_t i = 0; i < bx_embedded_policies_count; i++) {
		const struct bx_embedded_file *f = &bx_embedded_policies[i];

		if (strcmp(f->name, path) != 0)
			continue;
		*text = malloc(f->len + 1);
		if (!*text)
			return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
		memcpy(*text, f->text, f->len);
		(*text)[f->len] = '\0';
		*len = f->len;
		return 0;
	}
	return bx_fail(err, -ENOENT, BX_NO_OFFSET, "%.200s: not an embedded policy", path);
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

int bx_policy_default(struct bx_policy **out)
{
	static const struct bx_policy_parse_opts opts = {.include = bx_policy_read_embedded};
	struct bx_policy *p = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = bx_policy_read_embedded(NULL, "default.policy", &text, &len, NULL);
	if (r < 0)
		return r;
	r = bx_policy_parse("default.policy", text, len, &opts, &p, NULL);
	free(text);
	if (r < 0)
		return r;
	*out = p;
	return 0;
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
	free(p);
}
