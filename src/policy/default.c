/* SPDX-License-Identifier: MIT */
/*
 * The built-in strict default policy: policies/default.policy (and the
 * policies/common/ files it includes), embedded in the library at build time
 * and parsed here. The file is the one source of truth.
 */
#define _GNU_SOURCE
#include "policy/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse_internal.h"
#include "util/error.h"

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
	r = bx_policy_parse_core("default.policy", text, len, &opts, &p, NULL, NULL);
	free(text);
	if (r < 0)
		return r;
	*out = p;
	return 0;
}
