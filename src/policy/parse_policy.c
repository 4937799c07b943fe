/* SPDX-License-Identifier: MIT */
/*
 * The [policy] section: `key = value...` settings (grammar and table in
 * policies/README.md). Every key at most once except bind and rlimit.NAME
 * (once per NAME); values are checked here, conflicts between keys once the
 * whole policy is read (parse.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/filter.h"
#include "policy/parse_internal.h"
#include "util/error.h"
#include "util/intparse.h"

const char *const bx_key_names[BX_K_COUNT] = {
    [BX_K_NAME] = "name",
    [BX_K_NAMESPACES] = "namespaces",
    [BX_K_UID] = "uid",
    [BX_K_GID] = "gid",
    [BX_K_HOSTNAME] = "hostname",
    [BX_K_TMP] = "tmp-size",
    [BX_K_CGROUP] = "cgroup",
    [BX_K_CGROUP_MEMORY] = "cgroup.memory",
    [BX_K_CGROUP_PIDS] = "cgroup.pids",
    [BX_K_LANDLOCK] = "landlock",
    [BX_K_NETNS] = "netns",
    [BX_K_ENV_KEEP] = "env-keep",
    [BX_K_CAPABILITIES] = "capabilities",
    [BX_K_DEFAULT_ACTION] = "default-action",
    [BX_K_OVERRIDE] = "override-deny-list",
    [BX_K_ACK] = "i-understand-this-weakens-the-sandbox",
};

enum unit { U_COUNT, U_BYTES, U_SECONDS, U_MICROSECONDS };

static const struct {
	const char *name;
	int resource;
	enum unit unit;
} rlimit_names[] = {
    {"as", RLIMIT_AS, U_BYTES},
    {"core", RLIMIT_CORE, U_BYTES},
    {"cpu", RLIMIT_CPU, U_SECONDS},
    {"data", RLIMIT_DATA, U_BYTES},
    {"fsize", RLIMIT_FSIZE, U_BYTES},
    {"locks", RLIMIT_LOCKS, U_COUNT},
    {"memlock", RLIMIT_MEMLOCK, U_BYTES},
    {"msgqueue", RLIMIT_MSGQUEUE, U_BYTES},
    {"nice", RLIMIT_NICE, U_COUNT},
    {"nofile", RLIMIT_NOFILE, U_COUNT},
    {"nproc", RLIMIT_NPROC, U_COUNT},
    {"rss", RLIMIT_RSS, U_BYTES},
    {"rtprio", RLIMIT_RTPRIO, U_COUNT},
    {"rttime", RLIMIT_RTTIME, U_MICROSECONDS},
    {"sigpending", RLIMIT_SIGPENDING, U_COUNT},
    {"stack", RLIMIT_STACK, U_BYTES},
};

static const char *const ns_names[] = {"user", "mount", "pid",	  "net",
				       "ipc",  "uts",	"cgroup", "time"};

/* A size with an optional K/M/G/T suffix (powers of 1024). */
static int parse_size(const struct bx_tok *t, uint64_t *out)
{
	size_t len = t->len;
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (len > 1) {
		switch (t->p[len - 1]) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		case 'T':
			shift = 40;
			break;
		default:
			break;
		}
		if (shift)
			len--;
	}
	r = bx_parse_u64(t->p, len, UINT64_MAX >> shift, &v);
	if (r < 0)
		return r;
	*out = v << shift;
	return 0;
}

/* A duration in seconds, with an optional s/m/h suffix; unit U_MICROSECONDS: us/ms/s. */
static int parse_duration(const struct bx_tok *t, enum unit unit, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t secs, usecs;
	} units[] = {
	    {"us", 0, 1}, {"ms", 0, 1000}, {"s", 1, 1000000}, {"m", 60, 0}, {"h", 3600, 0}};
	size_t len = t->len;
	uint64_t mul = 1, v;
	int r;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t l = strlen(units[i].suffix);

		if (len > l && memcmp(t->p + len - l, units[i].suffix, l) == 0 &&
		    !(t->p[len - l - 1] == 'm' || t->p[len - l - 1] == 'u')) {
			mul = unit == U_SECONDS ? units[i].secs : units[i].usecs;
			if (mul == 0)
				return -EINVAL;
			len -= l;
			break;
		}
	}
	r = bx_parse_u64(t->p, len, UINT64_MAX, &v);
	if (r < 0)
		return r;
	if (__builtin_mul_overflow(v, mul, &v))
		return -ERANGE;
	*out = v;
	return 0;
}

static int want_values(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *key,
		       size_t nv, size_t min, size_t max)
{
	char buf[160];

	if (nv < min)
		return bx_fail_at(ps, s, key->off, -EINVAL, "'%s' needs a value",
				  bx_show(key->p, key->len, buf));
	if (nv > max)
		return bx_fail_at(ps, s, key->off, -EINVAL, "'%s' takes %zu value%s",
				  bx_show(key->p, key->len, buf), max, max == 1 ? "" : "s");
	return 0;
}

static int parse_need(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *t,
		      enum bx_need *out)
{
	if (bx_tok_is(t, "off"))
		*out = BX_NEED_OFF;
	else if (bx_tok_is(t, "optional"))
		*out = BX_NEED_OPTIONAL;
	else if (bx_tok_is(t, "required"))
		*out = BX_NEED_REQUIRED;
	else
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "expected off, optional or required, got");
	return 0;
}

static int parse_u64_tok(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *t,
			 uint64_t max, uint64_t *v)
{
	int r = bx_parse_u64(t->p, t->len, max, v);

	if (r == -ERANGE)
		return BX_FAIL_TOK(ps, s, t, -ERANGE, "value out of range:");
	if (r < 0)
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "expected a decimal number, got");
	return 0;
}

static bool safe_path(const struct bx_tok *t)
{
	if (t->len == 0 || t->p[0] != '/' || t->len >= BX_POLICY_PATH_MAX)
		return false;
	/* No "." or ".." component, no empty one except a final slash. */
	for (size_t i = 0; i < t->len; i++) {
		if (t->p[i] != '/')
			continue;
		size_t e = i + 1;

		while (e < t->len && t->p[e] != '/')
			e++;
		if ((e - i - 1 == 1 && t->p[i + 1] == '.') ||
		    (e - i - 1 == 2 && t->p[i + 1] == '.' && t->p[i + 2] == '.') ||
		    (e == i + 1 && e < t->len))
			return false;
	}
	return true;
}

static char *tok_dup(const struct bx_tok *t)
{
	return strndup(t->p, t->len);
}

static int parse_bind(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *key,
		      const struct bx_tok *v, size_t nv)
{
	struct bx_policy *p = ps->p;
	struct bx_bind b = {0};
	size_t i = 1;
	bool mode = false, need = false, exec_set = false, exec = false;
	int r = want_values(ps, s, key, nv, 1, 5);

	if (r < 0)
		return r;
	if (!safe_path(&v[0]))
		return BX_FAIL_TOK(ps, s, &v[0], -EINVAL,
				   "expected an absolute, normalised path, got");
	if (i < nv && v[i].p[0] == '/') {
		if (!safe_path(&v[i]))
			return BX_FAIL_TOK(ps, s, &v[i], -EINVAL,
					   "expected an absolute, normalised path, got");
		i++;
	}
	for (size_t k = i; k < nv; k++) {
		if ((bx_tok_is(&v[k], "ro") || bx_tok_is(&v[k], "rw")) && !mode) {
			b.rw = bx_tok_is(&v[k], "rw");
			mode = true;
		} else if ((bx_tok_is(&v[k], "required") || bx_tok_is(&v[k], "optional")) &&
			   !need) {
			b.optional = bx_tok_is(&v[k], "optional");
			need = true;
		} else if ((bx_tok_is(&v[k], "exec") || bx_tok_is(&v[k], "noexec")) && !exec_set) {
			exec = bx_tok_is(&v[k], "exec");
			exec_set = true;
		} else
			return BX_FAIL_TOK(ps, s, &v[k], -EINVAL,
					   "expected ro, rw, required, optional, exec or noexec "
					   "(once each), got");
	}
	/* W^X: what the sandbox can write it cannot execute, unless the policy says so. */
	b.exec = exec_set ? exec : !b.rw;
	if (p->nbinds >= BX_POLICY_BINDS_MAX)
		return bx_fail_at(ps, s, key->off, -E2BIG, "more than %d binds",
				  BX_POLICY_BINDS_MAX);
	for (size_t k = 0; k < p->nbinds; k++) {
		const struct bx_tok *dst = i == 2 ? &v[1] : &v[0];

		if (strlen(p->binds[k].dst) == dst->len &&
		    memcmp(p->binds[k].dst, dst->p, dst->len) == 0)
			return BX_FAIL_TOK(ps, s, dst, -EINVAL, "a second bind to");
	}
	b.src = tok_dup(&v[0]);
	b.dst = tok_dup(i == 2 ? &v[1] : &v[0]);
	if (!b.src || !b.dst) {
		free(b.src);
		free(b.dst);
		return bx_fail_at(ps, s, key->off, -ENOMEM, "out of memory");
	}
	p->binds[p->nbinds++] = b;
	return 0;
}

static int parse_rlimit(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *key,
			const struct bx_tok *v, size_t nv)
{
	const char *name = key->p + 7; /* after "rlimit." */
	size_t len = key->len - 7;
	uint64_t value;
	int r;

	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++) {
		int res = rlimit_names[i].resource;

		if (strlen(rlimit_names[i].name) != len ||
		    memcmp(rlimit_names[i].name, name, len) != 0)
			continue;
		if (ps->rlimit_where[res][0])
			return bx_fail_at(ps, s, key->off, -EINVAL,
					  "duplicate key 'rlimit.%s' (first at %s)",
					  rlimit_names[i].name, ps->rlimit_where[res]);
		r = want_values(ps, s, key, nv, 1, 1);
		if (r < 0)
			return r;
		if (bx_tok_is(&v[0], "unlimited")) {
			value = RLIM_INFINITY;
		} else {
			switch (rlimit_names[i].unit) {
			case U_BYTES:
				r = parse_size(&v[0], &value);
				break;
			case U_SECONDS:
			case U_MICROSECONDS:
				r = parse_duration(&v[0], rlimit_names[i].unit, &value);
				break;
			default:
				r = bx_parse_u64(v[0].p, v[0].len, UINT64_MAX, &value);
				break;
			}
			if (r == 0 && value >= RLIM_INFINITY)
				r = -ERANGE;
			if (r == -ERANGE)
				return BX_FAIL_TOK(ps, s, &v[0], -ERANGE, "value out of range:");
			if (r < 0)
				return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "bad value");
		}
		ps->p->rlimits[res].set = true;
		ps->p->rlimits[res].value = (rlim_t)value;
		bx_where(s, key->off, ps->rlimit_where[res]);
		return 0;
	}
	return BX_FAIL_TOK(ps, s, key, -EINVAL, "unknown key");
}

int bx_parse_setting(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		     size_t n)
{
	struct bx_policy *p = ps->p;
	const struct bx_tok *key = &ts[0], *v = ts + 2;
	size_t nv = n >= 2 ? n - 2 : 0;
	enum bx_key k = BX_K_COUNT;
	uint64_t u;
	int r;

	if (key->type != BX_T_WORD)
		return BX_FAIL_TOK(ps, s, key, -EINVAL, "expected a key, got");
	if (n < 2 || !bx_tok_is(&ts[1], "="))
		return n < 2 ? bx_fail_at(ps, s, key->off + key->len, -EINVAL, "missing '='")
			     : BX_FAIL_TOK(ps, s, &ts[1], -EINVAL, "expected '=', got");
	for (size_t i = 0; i < nv; i++) {
		if (v[i].type != BX_T_WORD)
			return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "unexpected");
	}
	if (bx_tok_is(key, "bind"))
		return parse_bind(ps, s, key, v, nv);
	if (key->len > 7 && memcmp(key->p, "rlimit.", 7) == 0)
		return parse_rlimit(ps, s, key, v, nv);
	for (size_t i = 0; i < BX_K_COUNT; i++) {
		if (bx_tok_is(key, bx_key_names[i]))
			k = (enum bx_key)i;
	}
	if (k == BX_K_COUNT)
		return BX_FAIL_TOK(ps, s, key, -EINVAL, "unknown key");
	if (ps->key_where[k][0])
		return bx_fail_at(ps, s, key->off, -EINVAL, "duplicate key '%s' (first at %s)",
				  bx_key_names[k], ps->key_where[k]);
	if (k == BX_K_DEFAULT_ACTION && ps->default_where[0])
		return bx_fail_at(ps, s, key->off, -EINVAL,
				  "duplicate default action (first at %s)", ps->default_where);
	r = want_values(ps, s, key, nv, 1,
			k == BX_K_NAMESPACES || k == BX_K_ENV_KEEP || k == BX_K_OVERRIDE
			    ? BX_TOKENS_MAX
			: k == BX_K_DEFAULT_ACTION ? 2
						   : 1);
	if (r < 0)
		return r;

	switch (k) {
	case BX_K_NAME:
		if (v[0].len >= sizeof(p->name))
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "name too long:");
		memcpy(p->name, v[0].p, v[0].len);
		p->name[v[0].len] = '\0';
		break;
	case BX_K_NAMESPACES:
		for (size_t i = 0; i < nv; i++) {
			const struct bx_tok *t = &v[i];
			size_t len = t->len;
			bool opt = len > 1 && t->p[len - 1] == '?';
			size_t j;

			if (bx_tok_is(t, "none") && nv == 1)
				break;
			if (opt)
				len--;
			for (j = 0; j < sizeof(ns_names) / sizeof(ns_names[0]); j++) {
				if (strlen(ns_names[j]) == len &&
				    memcmp(ns_names[j], t->p, len) == 0)
					break;
			}
			if (j == sizeof(ns_names) / sizeof(ns_names[0]))
				return BX_FAIL_TOK(ps, s, t, -EINVAL, "unknown namespace");
			if (p->namespaces & (1u << j))
				return BX_FAIL_TOK(ps, s, t, -EINVAL, "namespace named twice:");
			p->namespaces |= 1u << j;
			if (opt)
				p->namespaces_optional |= 1u << j;
		}
		break;
	case BX_K_UID:
	case BX_K_GID:
		/* uid = dynamic: a host uid of its own per worker (gid: the same number). */
		if (k == BX_K_UID && bx_tok_is(&v[0], "dynamic")) {
			p->uid_dynamic = true;
			break;
		}
		r = parse_u64_tok(ps, s, &v[0], 0xfffffffe, &u);
		if (r < 0)
			return r;
		if (k == BX_K_UID)
			p->uid = (uid_t)u;
		else
			p->gid = (gid_t)u;
		break;
	case BX_K_HOSTNAME:
		if (v[0].len >= sizeof(p->hostname))
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "hostname longer than 64 bytes:");
		for (size_t i = 0; i < v[0].len; i++) {
			char ch = v[0].p[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
				return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "bad hostname");
		}
		memcpy(p->hostname, v[0].p, v[0].len);
		p->hostname[v[0].len] = '\0';
		break;
	case BX_K_TMP:
		if (bx_tok_is(&v[0], "none"))
			u = 0;
		else if (parse_size(&v[0], &u) < 0)
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "bad size");
		p->tmp_size = u;
		break;
	case BX_K_CGROUP:
		r = parse_need(ps, s, &v[0], &p->cgroup);
		if (r < 0)
			return r;
		break;
	case BX_K_CGROUP_MEMORY:
		if (parse_size(&v[0], &u) < 0)
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "bad size");
		p->cgroup_memory_max = u;
		break;
	case BX_K_CGROUP_PIDS:
		r = parse_u64_tok(ps, s, &v[0], 1u << 22, &u);
		if (r < 0)
			return r;
		p->cgroup_pids_max = u;
		break;
	case BX_K_LANDLOCK:
		r = parse_need(ps, s, &v[0], &p->landlock);
		if (r < 0)
			return r;
		break;
	case BX_K_NETNS:
		/* netns = shared: one pre-made empty netns per policy (spawn/zygote.h,
		 * SECURITY.md). */
		if (bx_tok_is(&v[0], "shared"))
			p->netns_shared = true;
		else if (!bx_tok_is(&v[0], "own"))
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "netns is own or shared, not");
		break;
	case BX_K_ENV_KEEP:
		for (size_t i = 0; i < nv; i++) {
			for (size_t j = 0; j < v[i].len; j++) {
				char ch = v[i].p[j];

				if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
				      ch == '_' || (j > 0 && ch >= '0' && ch <= '9')))
					return BX_FAIL_TOK(ps, s, &v[i], -EINVAL,
							   "bad environment variable name");
			}
			for (size_t j = 0; j < p->nenv_keep; j++) {
				if (strlen(p->env_keep[j]) == v[i].len &&
				    memcmp(p->env_keep[j], v[i].p, v[i].len) == 0)
					return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "named twice:");
			}
			if (p->nenv_keep >= BX_POLICY_ENV_MAX)
				return BX_FAIL_TOK(ps, s, &v[i], -E2BIG, "too many names at");
			p->env_keep[p->nenv_keep] = tok_dup(&v[i]);
			if (!p->env_keep[p->nenv_keep])
				return bx_fail_at(ps, s, key->off, -ENOMEM, "out of memory");
			p->nenv_keep++;
		}
		break;
	case BX_K_CAPABILITIES:
		if (!bx_tok_is(&v[0], "none"))
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL,
					   "beambox never keeps capabilities: only 'none' is "
					   "accepted, not");
		break;
	case BX_K_DEFAULT_ACTION: {
		size_t i = 0;
		uint32_t a;
		bool is_default;

		r = bx_parse_action(ps, s, v, nv, &i, &a, &is_default);
		if (r < 0)
			return r;
		if (is_default)
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL,
					   "the default action needs an errno after");
		if (i < nv)
			return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "unexpected");
		r = bx_set_default_action(ps, s, &v[0], a);
		if (r < 0)
			return r;
		break;
	}
	case BX_K_OVERRIDE:
		for (size_t i = 0; i < nv; i++) {
			char name[40];

			if (v[i].len >= sizeof(name))
				return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "not on the deny list:");
			memcpy(name, v[i].p, v[i].len);
			name[v[i].len] = '\0';
			if (!bx_deny_find(name))
				return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "not on the deny list:");
			for (size_t j = 0; j < p->noverride_deny; j++) {
				if (strcmp(p->override_deny[j], name) == 0)
					return BX_FAIL_TOK(ps, s, &v[i], -EINVAL, "named twice:");
			}
			if (p->noverride_deny >=
			    sizeof(p->override_deny) / sizeof(p->override_deny[0]))
				return BX_FAIL_TOK(ps, s, &v[i], -E2BIG, "too many names at");
			p->override_deny[p->noverride_deny] = strdup(name);
			if (!p->override_deny[p->noverride_deny])
				return bx_fail_at(ps, s, key->off, -ENOMEM, "out of memory");
			p->noverride_deny++;
		}
		break;
	case BX_K_ACK:
		if (!bx_tok_is(&v[0], "yes"))
			return BX_FAIL_TOK(ps, s, &v[0], -EINVAL, "only 'yes' is accepted, not");
		break;
	case BX_K_COUNT:
		break;
	}
	bx_where(s, key->off, ps->key_where[k]);
	return 0;
}
