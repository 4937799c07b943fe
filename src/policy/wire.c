/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "policy/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/intparse.h"

static int add_u64(bx_msg *m, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return bx_msg_add(m, key, buf);
}

int bx_policy_to_msg(const struct bx_policy *p, bx_msg *m)
{
	int r = 0;

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if (r == 0)                                                                        \
			r = (x);                                                                   \
	} while (0)
	TRY(bx_msg_add(m, "cmd", "config"));
	TRY(bx_msg_add(m, "name", p->name));
	TRY(add_u64(m, "ns", p->namespaces));
	TRY(add_u64(m, "ns_optional", p->namespaces_optional));
	TRY(add_u64(m, "uid", p->uid));
	TRY(add_u64(m, "gid", p->gid));
	TRY(bx_msg_add(m, "hostname", p->hostname));
	TRY(bx_msg_touch(m, "bind_src"));
	TRY(bx_msg_touch(m, "bind_dst"));
	TRY(bx_msg_touch(m, "bind_flags"));
	for (size_t i = 0; i < p->nbinds; i++) {
		char flags[4];

		snprintf(flags, sizeof(flags), "%c%c%c", p->binds[i].rw ? 'w' : 'r',
			 p->binds[i].optional ? '?' : '!', p->binds[i].exec ? 'x' : '-');
		TRY(bx_msg_add(m, "bind_src", p->binds[i].src));
		TRY(bx_msg_add(m, "bind_dst", p->binds[i].dst));
		TRY(bx_msg_add(m, "bind_flags", flags));
	}
	TRY(add_u64(m, "tmp_size", p->tmp_size));
	TRY(bx_msg_touch(m, "rlimit"));
	for (int i = 0; i < RLIM_NLIMITS; i++) {
		char buf[48];

		if (!p->rlimits[i].set)
			continue;
		snprintf(buf, sizeof(buf), "%d=%llu", i, (unsigned long long)p->rlimits[i].value);
		TRY(bx_msg_add(m, "rlimit", buf));
	}
	TRY(add_u64(m, "cgroup", p->cgroup));
	TRY(add_u64(m, "cgroup_memory_max", p->cgroup_memory_max));
	TRY(add_u64(m, "cgroup_pids_max", p->cgroup_pids_max));
	TRY(add_u64(m, "landlock", p->landlock));
	TRY(add_u64(m, "netns_shared", p->netns_shared ? 1 : 0));
	TRY(bx_msg_touch(m, "env_keep"));
	for (size_t i = 0; i < p->nenv_keep; i++)
		TRY(bx_msg_add(m, "env_keep", p->env_keep[i]));
	TRY(add_u64(m, "default_action", p->default_action));
	TRY(add_u64(m, "rules", p->nrules));
#undef TRY
	return r;
}

/* A text value with no NUL, at most max bytes. */
static int get_text(const bx_msg *m, const char *key, size_t max, char *out, bx_error *err)
{
	bx_bytes v;

	if (bx_msg_get_one(m, key, &v) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: no single '%s'", key);
	if (v.len > max || memchr(v.p, 0, v.len))
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad '%s'", key);
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return 0;
}

static int get_u64(const bx_msg *m, const char *key, uint64_t max, uint64_t *out, bx_error *err)
{
	bx_bytes v;

	if (bx_msg_get_one(m, key, &v) < 0 || bx_parse_u64(v.p, v.len, max, out) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad '%s'", key);
	return 0;
}

static char *dup_path(const bx_bytes *v)
{
	if (v->len == 0 || v->len > BX_POLICY_PATH_MAX || v->p[0] != '/' || memchr(v->p, 0, v->len))
		return NULL;
	return strndup(v->p, v->len);
}

static const char *const known_keys[] = {
    "cmd",
    "name",
    "ns",
    "ns_optional",
    "uid",
    "gid",
    "hostname",
    "bind_src",
    "bind_dst",
    "bind_flags",
    "tmp_size",
    "rlimit",
    "cgroup",
    "cgroup_memory_max",
    "cgroup_pids_max",
    "landlock",
    "netns_shared",
    "env_keep",
    "default_action",
    "rules",
};

static int decode(const bx_msg *m, struct bx_policy *p, bx_error *err)
{
	const bx_bytes *src, *dst, *flags, *vals;
	size_t nsrc, ndst, nflags, n;
	uint64_t v;
	int r;

	for (size_t i = 0; i < bx_msg_nkeys(m); i++) {
		bx_bytes key;
		bool known = false;

		if (bx_msg_key_at(m, i, &key) < 0)
			return -EBADMSG;
		for (size_t k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++)
			known = known || (key.len == strlen(known_keys[k]) &&
					  memcmp(key.p, known_keys[k], key.len) == 0);
		if (!known)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "policy message: unknown key '%.32s'", key.p);
	}
	if ((r = get_text(m, "name", sizeof(p->name) - 1, p->name, err)) < 0 ||
	    (r = get_text(m, "hostname", sizeof(p->hostname) - 1, p->hostname, err)) < 0)
		return r;
	if ((r = get_u64(m, "ns", BX_NS_ALL, &v, err)) < 0)
		return r;
	p->namespaces = (uint32_t)v;
	if ((r = get_u64(m, "ns_optional", BX_NS_ALL, &v, err)) < 0)
		return r;
	p->namespaces_optional = (uint32_t)v;
	if ((r = get_u64(m, "uid", UINT32_MAX - 1, &v, err)) < 0)
		return r;
	p->uid = (uid_t)v;
	if ((r = get_u64(m, "gid", UINT32_MAX - 1, &v, err)) < 0)
		return r;
	p->gid = (gid_t)v;
	if ((r = get_u64(m, "tmp_size", UINT64_MAX, &p->tmp_size, err)) < 0)
		return r;
	if ((r = get_u64(m, "cgroup", BX_NEED_REQUIRED, &v, err)) < 0)
		return r;
	p->cgroup = (enum bx_need)v;
	if ((r = get_u64(m, "cgroup_memory_max", UINT64_MAX, &p->cgroup_memory_max, err)) < 0 ||
	    (r = get_u64(m, "cgroup_pids_max", UINT64_MAX, &p->cgroup_pids_max, err)) < 0)
		return r;
	if ((r = get_u64(m, "landlock", BX_NEED_REQUIRED, &v, err)) < 0)
		return r;
	p->landlock = (enum bx_need)v;
	if ((r = get_u64(m, "netns_shared", 1, &v, err)) < 0)
		return r;
	p->netns_shared = v == 1;
	if ((r = get_u64(m, "default_action", UINT32_MAX, &v, err)) < 0)
		return r;
	p->default_action = (uint32_t)v;

	if (bx_msg_get(m, "bind_src", &src, &nsrc) < 0 ||
	    bx_msg_get(m, "bind_dst", &dst, &ndst) < 0 ||
	    bx_msg_get(m, "bind_flags", &flags, &nflags) < 0 || nsrc != ndst || nsrc != nflags ||
	    nsrc > BX_POLICY_BINDS_MAX)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad binds");
	for (size_t i = 0; i < nsrc; i++) {
		struct bx_bind *b = &p->binds[i];

		if (flags[i].len != 3 || (flags[i].p[0] != 'r' && flags[i].p[0] != 'w') ||
		    (flags[i].p[1] != '?' && flags[i].p[1] != '!') ||
		    (flags[i].p[2] != 'x' && flags[i].p[2] != '-'))
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "policy message: bad bind flags");
		b->src = dup_path(&src[i]);
		b->dst = dup_path(&dst[i]);
		p->nbinds++;
		if (!b->src || !b->dst)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "policy message: bad bind path");
		b->rw = flags[i].p[0] == 'w';
		b->optional = flags[i].p[1] == '?';
		b->exec = flags[i].p[2] == 'x';
	}
	if (bx_msg_get(m, "rlimit", &vals, &n) < 0)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: no rlimit");
	for (size_t i = 0; i < n; i++) {
		const char *eq = memchr(vals[i].p, '=', vals[i].len);
		uint64_t res, val;

		if (!eq ||
		    bx_parse_u64(vals[i].p, (size_t)(eq - vals[i].p), RLIM_NLIMITS - 1, &res) < 0 ||
		    bx_parse_u64(eq + 1, vals[i].len - (size_t)(eq + 1 - vals[i].p), UINT64_MAX,
				 &val) < 0)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad rlimit");
		p->rlimits[res].set = true;
		p->rlimits[res].value = (rlim_t)val;
	}
	if (bx_msg_get(m, "env_keep", &vals, &n) < 0 || n > BX_POLICY_ENV_MAX)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad env_keep");
	for (size_t i = 0; i < n; i++) {
		if (vals[i].len == 0 || vals[i].len > 256 || memchr(vals[i].p, 0, vals[i].len) ||
		    memchr(vals[i].p, '=', vals[i].len))
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "policy message: bad env name");
		p->env_keep[i] = strndup(vals[i].p, vals[i].len);
		p->nenv_keep++;
		if (!p->env_keep[i])
			return -ENOMEM;
	}
	return 0;
}

int bx_policy_from_msg(const bx_msg *m, struct bx_policy **out, bx_error *err)
{
	struct bx_policy *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	r = decode(m, p, err);
	if (r < 0) {
		bx_policy_free(p);
		return r;
	}
	*out = p;
	return 0;
}
