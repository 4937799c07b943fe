/* SPDX-License-Identifier: MIT */
/*
 * The parser's front door: bx_policy_parse and bx_policy_load_file. A file
 * with no [policy] section anywhere (a minijail policy is syscalls only)
 * gets the built-in default's settings: every namespace, the system
 * read-only, a private /tmp, the default's limits and landlock; its own
 * [syscalls] rules and default action stay. Above both parse.c and
 * default.c, which use neither this file nor each other's callers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/parse_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Copies the [policy] settings of d into p (which has none of its own). */
static int inherit_settings(struct bx_policy *p, const struct bx_policy *d)
{
	p->namespaces = d->namespaces;
	p->namespaces_optional = d->namespaces_optional;
	p->uid = d->uid;
	p->gid = d->gid;
	p->uid_dynamic = d->uid_dynamic;
	memcpy(p->hostname, d->hostname, sizeof(p->hostname));
	for (size_t i = 0; i < d->nbinds; i++) {
		struct bx_bind b = d->binds[i];

		b.src = strdup(d->binds[i].src);
		b.dst = strdup(d->binds[i].dst);
		if (!b.src || !b.dst) {
			free(b.src);
			free(b.dst);
			return -ENOMEM;
		}
		p->binds[p->nbinds++] = b;
	}
	p->tmp_size = d->tmp_size;
	memcpy(p->rlimits, d->rlimits, sizeof(p->rlimits));
	p->cgroup = d->cgroup;
	p->cgroup_memory_max = d->cgroup_memory_max;
	p->cgroup_pids_max = d->cgroup_pids_max;
	p->landlock = d->landlock;
	for (size_t i = 0; i < d->nenv_keep; i++) {
		p->env_keep[i] = strdup(d->env_keep[i]);
		if (!p->env_keep[i])
			return -ENOMEM;
		p->nenv_keep = i + 1;
	}
	return 0;
}

int bx_policy_parse(const char *name, const char *text, size_t len,
		    const struct bx_policy_parse_opts *opts, struct bx_policy **out, bx_error *err)
{
	struct bx_policy *p = NULL, *d = NULL;
	bool saw = false;
	int r;

	r = bx_policy_parse_core(name, text, len, opts, &p, &saw, err);
	if (r < 0 || saw) {
		if (r == 0)
			*out = p;
		return r;
	}
	r = bx_policy_default(&d);
	if (r == 0)
		r = inherit_settings(p, d);
	bx_policy_free(d);
	if (r < 0) {
		bx_policy_free(p);
		return bx_fail(err, r, BX_NO_OFFSET, "%.100s: the default settings: %s", name,
			       strerror(-r));
	}
	*out = p;
	return 0;
}

int bx_policy_read_file(void *ctx, const char *path, char **text, size_t *len, bx_error *err)
{
	_cleanup_fd_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t done = 0;

	(void)ctx;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "open(%.200s): %m", path);
	if (fstat(fd, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fstat(%.200s): %m", path);
	if (!S_ISREG(st.st_mode))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "%.200s: not a regular file", path);
	if (st.st_size > (off_t)BX_POLICY_FILE_MAX)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET, "%.200s: larger than %u bytes", path,
			       BX_POLICY_FILE_MAX);
	buf = malloc(BX_POLICY_FILE_MAX + 1);
	if (!buf)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	for (;;) {
		ssize_t n = read(fd, buf + done, BX_POLICY_FILE_MAX + 1 - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "read(%.200s): %m", path);
		if (n == 0)
			break;
		done += (size_t)n;
		if (done > BX_POLICY_FILE_MAX)
			return bx_fail(err, -E2BIG, BX_NO_OFFSET, "%.200s: larger than %u bytes",
				       path, BX_POLICY_FILE_MAX);
	}
	*text = bx_steal_ptr(&buf);
	*len = done;
	return 0;
}

int bx_policy_load_file_opts(const char *path, const struct bx_policy_parse_opts *opts_in,
			     struct bx_policy **out, bx_error *err)
{
	struct bx_policy_parse_opts opts = {.include = bx_policy_read_file};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (opts_in) {
		opts.diag = opts_in->diag;
		opts.diag_ctx = opts_in->diag_ctx;
		opts.max_errors = opts_in->max_errors;
	}
	r = bx_policy_read_file(NULL, path, &text, &len, err);
	if (r < 0) {
		if (opts.diag && err)
			opts.diag(opts.diag_ctx, BX_POLICY_ERROR, err->text);
		return r;
	}
	return bx_policy_parse(path, text, len, &opts, out, err);
}

int bx_policy_load_file(const char *path, struct bx_policy **out, bx_error *err)
{
	return bx_policy_load_file_opts(path, NULL, out, err);
}
