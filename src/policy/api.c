/* SPDX-License-Identifier: MIT */
/*
 * The public policy API (include/beambox/policy.h): a thin exported layer
 * over the parser (bx_policy_parse, bx_policy_load_file, bx_policy_default,
 * bx_policy_free in policy.h), plus where shipped policies are found by name.
 *
 * bx_policy_load_file and bx_policy_free are the internal functions
 * themselves: policy.h includes the public header, whose BX_API declarations
 * export them.
 */
#define _GNU_SOURCE
#include <beambox/policy.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/api.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Set by CMake: DATADIR/beambox/policies under the install prefix. */
#ifndef BX_POLICY_INSTALL_DIR
#define BX_POLICY_INSTALL_DIR "/usr/local/share/beambox/policies"
#endif

#define POLICY_SUFFIX ".policy"

BX_API const char *bx_policy_dir(void)
{
	return BX_POLICY_INSTALL_DIR;
}

BX_API const char *bx_policy_name(const bx_policy *policy)
{
	return policy ? policy->name : NULL;
}

/* The override directory, or NULL (never honoured in set-id programs). */
static const char *override_dir(void)
{
	const char *dir = secure_getenv(BX_POLICY_DIR_ENV);

	return dir && dir[0] ? dir : NULL;
}

static bool valid_name(const char *name)
{
	size_t n = name ? strnlen(name, BX_POLICY_NAME_MAX + 1) : 0;

	if (n == 0 || n > BX_POLICY_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* A relative path that stays inside the policy directory: no "..", not absolute. */
static bool inside_relative(const char *rel)
{
	if (rel[0] == '/' || strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0)
		return false;
	return strstr(rel, "/../") == NULL &&
	       !(strlen(rel) >= 3 && strcmp(rel + strlen(rel) - 3, "/..") == 0);
}

/*
 * Finds rel (e.g. "greet.policy", "common/worker.policy") among the shipped
 * policies on disk: the override directory only, if set, else the install
 * directory. 0 with the path in out, -ENOENT if absent there.
 */
static int find_on_disk(const char *rel, char *out, size_t len, bool *overridden)
{
	const char *dir = override_dir();
	int n;

	*overridden = dir != NULL;
	n = snprintf(out, len, "%s/%s", dir ? dir : BX_POLICY_INSTALL_DIR, rel);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return access(out, F_OK) == 0 ? 0 : -ENOENT;
}

/*
 * Include resolver for shipped policies: a relative path is looked up as a
 * name is (disk, then the built-in copies unless overridden); an absolute
 * one is read from the disk as it is.
 */
static int read_shipped(void *ctx, const char *path, char **text, size_t *len, bx_error *err)
{
	char found[BX_POLICY_PATH_MAX * 2];
	bool overridden;
	int r;

	(void)ctx;
	if (path[0] == '/')
		return bx_policy_read_file(NULL, path, text, len, err);
	if (!inside_relative(path))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "%.200s: outside the shipped policies' directory", path);
	r = find_on_disk(path, found, sizeof(found), &overridden);
	if (r == 0)
		return bx_policy_read_file(NULL, found, text, len, err);
	if (r != -ENOENT || overridden)
		return bx_fail(err, r, BX_NO_OFFSET, "%.200s: %s", found, strerror(-r));
	return bx_policy_read_embedded(NULL, path, text, len, err);
}

BX_API int bx_policy_parse_buffer(const char *name, const char *text, size_t len, bx_policy **out,
				  bx_error *err)
{
	static const struct bx_policy_parse_opts from_disk = {.include = bx_policy_read_file};
	static const struct bx_policy_parse_opts shipped = {.include = read_shipped};
	struct bx_policy *p = NULL;
	int r;

	if (!name || !name[0] || (!text && len) || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_policy_parse_buffer: bad arguments");
	r = bx_policy_parse(name, text, len, strchr(name, '/') ? &from_disk : &shipped, &p, err);
	if (r < 0)
		return r;
	*out = p;
	return 0;
}

BX_API int bx_policy_load_default(bx_policy **out, bx_error *err)
{
	int r;

	if (!out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_policy_load_default: bad arguments");
	r = bx_policy_default(out);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "the built-in default policy: %s",
			       strerror(-r));
	return 0;
}

/* The built-in policies' names, space-separated ("default greet ..."), for error messages. */
static const char *embedded_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < bx_embedded_policies_count; i++) {
		const char *n = bx_embedded_policies[i].name;
		size_t nl = strlen(n), sl = strlen(POLICY_SUFFIX);
		int w;

		if (strchr(n, '/') || nl <= sl || strcmp(n + nl - sl, POLICY_SUFFIX) != 0)
			continue; /* common/ fragments are not policies */
		w = snprintf(buf + used, len - used, "%s%.*s", used ? " " : "", (int)(nl - sl), n);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

/* bx_policy_load_named, with the diagnostics of diag (NULL: stop at the first error). */
static int load_named(const char *name, const struct bx_policy_parse_opts *diag, bx_policy **out,
		      bx_error *err)
{
	struct bx_policy_parse_opts embedded = {.include = bx_policy_read_embedded};
	char rel[BX_POLICY_NAME_MAX + sizeof(POLICY_SUFFIX)];
	char path[BX_POLICY_PATH_MAX * 2];
	_cleanup_free_ char *text = NULL;
	struct bx_policy *p = NULL;
	bool overridden;
	size_t len = 0;
	int r;

	if (!out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bx_policy_load_named: bad arguments");
	if (!valid_name(name)) {
		char shown[80];

		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "'%s' is not a policy name (letters, digits, '_', '-', '.'; at "
			       "most %d)",
			       name ? bx_printable(name, strlen(name), 48, 0, shown, sizeof(shown))
				    : "(null)",
			       BX_POLICY_NAME_MAX);
	}
	snprintf(rel, sizeof(rel), "%s" POLICY_SUFFIX, name);
	if (diag) {
		embedded.diag = diag->diag;
		embedded.diag_ctx = diag->diag_ctx;
		embedded.max_errors = diag->max_errors;
	}
	r = find_on_disk(rel, path, sizeof(path), &overridden);
	if (r == 0) {
		r = bx_policy_load_file_opts(path, diag, &p, err);
	} else if (overridden) {
		return bx_fail(err, -ENOENT, BX_NO_OFFSET, "no policy '%s' in %s=%.150s", name,
			       BX_POLICY_DIR_ENV, override_dir());
	} else {
		/* Not installed: the copy built into the library, if there is one. */
		r = bx_policy_read_embedded(NULL, rel, &text, &len, NULL);
		if (r < 0) {
			char names[256];

			return bx_fail(err, -ENOENT, BX_NO_OFFSET,
				       "no shipped policy named '%s' in %.100s nor built in "
				       "(built in: %s); a FILE needs a '/' or the .policy suffix",
				       name, BX_POLICY_INSTALL_DIR,
				       embedded_names(names, sizeof(names)));
		}
		r = bx_policy_parse(rel, text, len, &embedded, &p, err);
	}
	if (r < 0)
		return r;
	*out = p;
	return 0;
}

BX_API int bx_policy_load_named(const char *name, bx_policy **out, bx_error *err)
{
	return load_named(name, NULL, out, err);
}

int bx_policy_load_spec_opts(const char *spec, const struct bx_policy_parse_opts *diag,
			     struct bx_policy **out, bx_error *err)
{
	size_t n = spec ? strlen(spec) : 0;

	if (n == 0)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "no policy given");
	if (strchr(spec, '/') || (n > strlen(POLICY_SUFFIX) &&
				  strcmp(spec + n - strlen(POLICY_SUFFIX), POLICY_SUFFIX) == 0))
		return bx_policy_load_file_opts(spec, diag, out, err);
	return load_named(spec, diag, out, err);
}

int bx_policy_load_spec(const char *spec, struct bx_policy **out, bx_error *err)
{
	return bx_policy_load_spec_opts(spec, NULL, out, err);
}
