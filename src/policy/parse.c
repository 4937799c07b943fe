/* SPDX-License-Identifier: MIT */
/*
 * The policy-file parser: files, @include, sections, and the checks that
 * need the whole policy. Grammar and examples in policies/README.md; the
 * lexical layer is lexer.c, the sections parse_policy.c and
 * parse_syscalls.c (see parse_internal.h). After an error the parser goes on
 * with the next line, up to opts->max_errors errors, so that `policy check`
 * reports them all; the first one is the one returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/filter.h"
#include "policy/parse_internal.h"
#include "util/cleanup.h"
#include "util/cursor.h"
#include "util/error.h"

static int parse_file(struct bx_parser *ps, const char *name, const char *text, size_t len,
		      enum bx_section section, const struct bx_src *from, size_t from_off);

/* Joins rel to the directory of base and normalises "." and ".." components. */
static int join_path(const char *base, const char *rel, size_t rel_len, char *out, size_t outlen)
{
	char tmp[BX_POLICY_PATH_MAX * 2];
	size_t dir = 0, o = 0, i = 0;
	int n;

	if (rel_len > 0 && rel[0] == '/') {
		n = snprintf(tmp, sizeof(tmp), "%.*s", (int)rel_len, rel);
	} else {
		const char *slash = strrchr(base, '/');

		dir = slash ? (size_t)(slash - base) + 1 : 0;
		n = snprintf(tmp, sizeof(tmp), "%.*s%.*s", (int)dir, base, (int)rel_len, rel);
	}
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* Component by component. */
	if (tmp[0] == '/')
		out[o++] = '/';
	while (tmp[i]) {
		size_t e = i;

		while (tmp[e] && tmp[e] != '/')
			e++;
		if (e == i || (e - i == 1 && tmp[i] == '.')) {
			/* skip */
		} else if (e - i == 2 && tmp[i] == '.' && tmp[i + 1] == '.') {
			size_t keep = o;

			while (keep > 0 && out[keep - 1] == '/')
				keep--;
			while (keep > 0 && out[keep - 1] != '/')
				keep--;
			if (o > 0 &&
			    !(o >= 2 && memcmp(out + o - 2, "..", 2) == 0 &&
			      (o == 2 || out[o - 3] == '/')) &&
			    !(o == 1 && out[0] == '/'))
				o = keep;
			else if (!(o == 1 && out[0] == '/')) {
				if (o + 3 >= outlen)
					return -ENAMETOOLONG;
				memcpy(out + o, "../", 3);
				o += 3;
			}
		} else {
			if (o + (e - i) + 1 >= outlen)
				return -ENAMETOOLONG;
			memcpy(out + o, tmp + i, e - i);
			o += e - i;
			out[o++] = '/';
		}
		i = tmp[e] ? e + 1 : e;
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
	return o ? 0 : -EINVAL;
}

static int do_include(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		      size_t n)
{
	_cleanup_free_ char *text = NULL;
	char path[BX_POLICY_PATH_MAX];
	size_t len = 0;
	int r;

	if (n < 2)
		return bx_fail_at(ps, s, ts[0].off + ts[0].len, -EINVAL, "missing include path");
	if (n > 2)
		return BX_FAIL_TOK(ps, s, &ts[2], -EINVAL, "unexpected");
	if (!ps->opts || !ps->opts->include)
		return BX_FAIL_TOK(ps, s, &ts[1], -EPERM, "@include is disabled here:");
	if (ps->depth > BX_POLICY_INCLUDE_DEPTH - 1)
		return BX_FAIL_TOK(ps, s, &ts[1], -ELOOP,
				   "@include nested deeper than 8 levels at");
	r = join_path(s->name, ts[1].p, ts[1].len, path, sizeof(path));
	if (r < 0)
		return BX_FAIL_TOK(ps, s, &ts[1], -EINVAL, "bad include path");
	for (size_t i = 0; i < ps->depth; i++) {
		if (strcmp(ps->stack[i], path) == 0)
			return BX_FAIL_TOK(ps, s, &ts[1], -ELOOP, "@include cycle at");
	}
	if (ps->p->nfiles >= BX_POLICY_FILES_MAX)
		return BX_FAIL_TOK(ps, s, &ts[1], -E2BIG, "more than 64 files read, at");
	r = ps->opts->include(ps->opts->include_ctx, path, &text, &len, NULL);
	if (r < 0) {
		char buf[128];

		return bx_fail_at(ps, s, ts[1].off, r, "@include '%s': %s",
				  bx_short_path(path, buf, sizeof(buf)), strerror(-r));
	}
	return parse_file(ps, path, text, len, s->section, s, ts[1].off);
}

static int parse_line(struct bx_parser *ps, struct bx_src *s)
{
	const struct bx_tok *ts = ps->toks;
	size_t n;
	int r;

	r = bx_lex_tokens(ps, s);
	if (r <= 0)
		return r;
	n = (size_t)r;
	if (ts[0].type == BX_T_OP && bx_tok_is(&ts[0], "[")) {
		/* Section header: [policy] or [syscalls]. */
		if (n != 3 || ts[1].type != BX_T_WORD || ts[2].type != BX_T_OP ||
		    !bx_tok_is(&ts[2], "]"))
			return BX_FAIL_TOK(ps, s, &ts[0], -EINVAL,
					   "expected '[policy]' or '[syscalls]' at");
		if (bx_tok_is(&ts[1], "policy")) {
			s->section = BX_SEC_POLICY;
			ps->saw_policy_section = true;
		} else if (bx_tok_is(&ts[1], "syscalls")) {
			s->section = BX_SEC_SYSCALLS;
		} else {
			return BX_FAIL_TOK(ps, s, &ts[1], -EINVAL, "unknown section");
		}
		return 0;
	}
	if (bx_tok_is(&ts[0], "@include"))
		return do_include(ps, s, ts, n);
	if (s->section == BX_SEC_POLICY)
		return bx_parse_setting(ps, s, ts, n);
	return bx_parse_syscalls_line(ps, s, ts, n);
}

static int parse_file(struct bx_parser *ps, const char *name, const char *text, size_t len,
		      enum bx_section section, const struct bx_src *from, size_t from_off)
{
	struct bx_policy *p = ps->p;
	struct bx_src s = {.text = text, .len = len, .section = section, .next_line = 1};
	struct bx_cursor c = bx_cursor_init(text, len);
	int status = 0;

	if (len > BX_POLICY_FILE_MAX) {
		if (from)
			return bx_fail_at(ps, from, from_off, -E2BIG,
					  "@include: larger than %u bytes", BX_POLICY_FILE_MAX);
		return bx_fail_whole(ps, -E2BIG, "%.100s: larger than %u bytes", name,
				     BX_POLICY_FILE_MAX);
	}
	if (p->nfiles >= BX_POLICY_FILES_MAX)
		return bx_fail_whole(ps, -E2BIG, "more than %d files", BX_POLICY_FILES_MAX);
	p->files[p->nfiles] = strdup(name);
	if (!p->files[p->nfiles])
		return bx_fail_whole(ps, -ENOMEM, "policy: out of memory");
	s.name = p->files[p->nfiles];
	s.file = (uint16_t)p->nfiles++;
	ps->stack[ps->depth++] = s.name;
	while (!ps->stop) {
		int r = bx_lex_line(ps, &s, &c);

		if (r == 0)
			break;
		if (r > 0)
			r = parse_line(ps, &s);
		if (r < 0 && status == 0)
			status = r;
	}
	ps->depth--;
	return status;
}

/* "file:line:col" of a rule, for its warnings. */
static void rule_where(const struct bx_policy *p, const struct bx_sc_rule *r, char *buf, size_t len)
{
	char path[128];

	if (r->src_file == BX_SC_NO_FILE || r->src_file >= p->nfiles)
		snprintf(buf, len, "rule '%s'", r->name);
	else
		snprintf(buf, len, "%s:%u:%u",
			 bx_short_path(p->files[r->src_file], path, sizeof(path)), r->src_line,
			 r->src_col);
}

/*
 * A warning at each rule that the deny list overrides: it lets through a
 * syscall on the list, or (for the entries on an argument) a comparison of
 * that argument that may take a denied value. A rule that does not look at
 * the argument (`ioctl: 1`) is only narrowed, silently, as documented.
 */
static void deny_warnings(struct bx_parser *ps)
{
	const struct bx_policy *p = ps->p;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct bx_sc_rule *r = &p->rules[i];
		const struct bx_deny_entry *e;
		const char *errname;
		char where[BX_WHERE_MAX];
		bool hit = false;

		if (r->derived || (r->action != SCMP_ACT_ALLOW && r->action != SCMP_ACT_LOG))
			continue;
		e = bx_deny_find(r->name);
		if (!e || bx_deny_overridden(p, r->name))
			continue;
		errname = bx_policy_errno_name((uint32_t)e->errno_value);
		rule_where(p, r, where, sizeof(where));
		if (e->arg < 0) {
			bx_warn_text(
			    ps,
			    "%s: warning: '%s' is on beambox's deny list (%s): at run time "
			    "every call fails with %s (override-deny-list = %s allows it)",
			    where, r->name, e->why, errname, r->name);
			continue;
		}
		for (size_t k = i; k < p->nrules && !hit; k++) {
			const struct bx_sc_rule *c = &p->rules[k];

			if (k > i && (!c->derived || strcmp(c->name, r->name) != 0))
				break;
			for (size_t j = 0; j < c->nclauses && !hit; j++) {
				const struct bx_sc_clause *cl = &c->clauses[j];
				bool looks = false;

				for (size_t m = 0; m < cl->ncmp; m++)
					looks |= cl->cmp[m].arg == (unsigned)e->arg;
				hit = looks && bx_deny_may_hit(e, cl);
			}
		}
		if (hit)
			bx_warn_text(
			    ps,
			    "%s: warning: '%s' %s is on beambox's deny list (%s): at run "
			    "time such calls fail with %s; the others are as this line says",
			    where, r->name, e->what, e->why, errname);
	}
}

/* Checks between settings and rules, once everything is read; reports each conflict. */
static void check_whole(struct bx_parser *ps, const char *name)
{
	struct bx_policy *p = ps->p;
	bool ack = ps->key_where[BX_K_ACK][0] != '\0';
	bool over = p->noverride_deny > 0;
	char path[128];

	if (over && !ack)
		bx_fail_whole(ps, -EINVAL,
			      "%s: override-deny-list needs the line "
			      "'i-understand-this-weakens-the-sandbox = yes'",
			      ps->key_where[BX_K_OVERRIDE]);
	if (ack && !over)
		bx_fail_whole(
		    ps, -EINVAL,
		    "%s: i-understand-this-weakens-the-sandbox without override-deny-list",
		    ps->key_where[BX_K_ACK]);
	if (p->uid_dynamic && ps->key_where[BX_K_GID][0])
		bx_fail_whole(ps, -EINVAL,
			      "%s: with uid = dynamic the gid is the uid's number: drop this line",
			      ps->key_where[BX_K_GID]);
	if ((p->nbinds || p->tmp_size) && !(p->namespaces & BX_NS_MOUNT))
		bx_fail_whole(ps, -EINVAL, "%s: bind and tmp-size need the mount namespace",
			      bx_short_path(name, path, sizeof(path)));
	if (p->netns_shared && !(p->namespaces & BX_NS_NET))
		bx_fail_whole(ps, -EINVAL, "%s: netns = shared needs the net namespace",
			      ps->key_where[BX_K_NETNS]);
	if (p->hostname[0] && !(p->namespaces & BX_NS_UTS))
		bx_fail_whole(ps, -EINVAL, "%s: hostname needs the uts namespace",
			      ps->key_where[BX_K_HOSTNAME]);
	if (p->cgroup == BX_NEED_OFF && (p->cgroup_memory_max || p->cgroup_pids_max))
		bx_fail_whole(ps, -EINVAL, "%s: cgroup limits set while cgroup = off",
			      ps->key_where[BX_K_CGROUP_MEMORY][0]
				  ? ps->key_where[BX_K_CGROUP_MEMORY]
				  : ps->key_where[BX_K_CGROUP_PIDS]);
	if (p->cgroup != BX_NEED_OFF && !p->cgroup_memory_max && !p->cgroup_pids_max)
		bx_fail_whole(ps, -EINVAL,
			      "%s: cgroup is %s but sets no limit (cgroup.memory, cgroup.pids)",
			      ps->key_where[BX_K_CGROUP],
			      p->cgroup == BX_NEED_REQUIRED ? "required" : "optional");
}

int bx_policy_parse_core(const char *name, const char *text, size_t len,
			 const struct bx_policy_parse_opts *opts, struct bx_policy **out,
			 bool *saw_policy_section, bx_error *err)
{
	struct bx_parser *ps;
	int r = 0;

	if (!name || (!text && len) || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "policy: bad arguments");
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "policy: out of memory");
	ps->opts = opts;
	ps->err = err;
	ps->max_errors = 1;
	if (opts && opts->diag)
		ps->max_errors = opts->max_errors ? opts->max_errors : BX_POLICY_ERRORS_MAX;
	ps->p = calloc(1, sizeof(*ps->p));
	ps->mentions = calloc(BX_POLICY_RULES_MAX, sizeof(*ps->mentions));
	ps->buf_a = calloc(BX_POLICY_EXPR_MAX, sizeof(*ps->buf_a));
	ps->buf_b = calloc(BX_POLICY_EXPR_MAX, sizeof(*ps->buf_b));
	ps->buf_c = calloc(BX_POLICY_EXPR_MAX, sizeof(*ps->buf_c));
	ps->toks = calloc(BX_TOKENS_MAX, sizeof(*ps->toks));
	if (!ps->p || !ps->mentions || !ps->buf_a || !ps->buf_b || !ps->buf_c || !ps->toks) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "policy: out of memory");
	} else {
		ps->p->default_action = SCMP_ACT_KILL_PROCESS;
		bx_ignore(parse_file(ps, name, text ? text : "", len, BX_SEC_SYSCALLS, NULL, 0));
		if (!ps->stop) {
			bx_finish_syscalls(ps);
			check_whole(ps, name);
		}
		if (ps->nerrors == 0)
			deny_warnings(ps);
		r = ps->nerrors ? ps->first_code : 0;
	}
	if (r == 0) {
		bx_policy_adjust_for_build(ps->p);
		if (saw_policy_section)
			*saw_policy_section = ps->saw_policy_section;
		*out = bx_steal_ptr(&ps->p);
	}
	bx_policy_free(ps->p);
	free(ps->mentions);
	free(ps->buf_a);
	free(ps->buf_b);
	free(ps->buf_c);
	free(ps->toks);
	free(ps);
	return r;
}
