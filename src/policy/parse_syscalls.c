/* SPDX-License-Identifier: MIT */
/*
 * The [syscalls] section: minijail's .policy syntax (grammar in
 * policies/README.md), with the C parser's semantics for `expr; return E`:
 * allow the calls where expr holds, give E to the others.
 *
 * Several lines for one syscall combine, as minijail accepts them: the calls
 * any line allows run; the others get the syscall's fallback (a `; return E`
 * or an unconditional refusal such as `read: return EPERM`, which must then
 * agree) or the default action. A bare `return` (no errno) is the default
 * action, as in minijail's C parser.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse_internal.h"
#include "util/error.h"
#include "util/intparse.h"

/* ------------------------------------------------------------------ numbers and values */

/*
 * A C integer literal as minijail reads it (strtol base 0): decimal, 0x hex,
 * 0 octal, optional leading '-' (two's complement on 64 bits). Overflow and
 * trailing bytes are errors. Decimal goes through the one decimal parser.
 */
int bx_parse_c_number(const char *p, size_t len, uint64_t *out)
{
	bool neg = false;
	uint64_t v = 0;
	unsigned base = 10;

	if (len > 0 && p[0] == '-') {
		neg = true;
		p++;
		len--;
	}
	if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		len -= 2;
		if (len == 0)
			return -EINVAL;
	} else if (len >= 2 && p[0] == '0') {
		base = 8;
		p++;
		len--;
	}
	if (base == 10) {
		int r = bx_parse_u64(p, len, UINT64_MAX, &v);

		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < len; i++) {
			unsigned d;

			if (p[i] >= '0' && p[i] <= '9')
				d = (unsigned)(p[i] - '0');
			else if (base == 16 && p[i] >= 'a' && p[i] <= 'f')
				d = (unsigned)(p[i] - 'a' + 10);
			else if (base == 16 && p[i] >= 'A' && p[i] <= 'F')
				d = (unsigned)(p[i] - 'A' + 10);
			else
				return -EINVAL;
			if (d >= base)
				return -EINVAL;
			if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, d, &v))
				return -ERANGE;
		}
	}
	if (neg) {
		if (v > (1ull << 63))
			return -ERANGE;
		v = (uint64_t)0 - v;
	}
	*out = v;
	return 0;
}

/* single-constant: a number or a named constant. */
static int parse_single(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *t,
			uint64_t *v)
{
	int r;

	if (t->type != BX_T_WORD)
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "expected a constant, got");
	if ((t->p[0] >= '0' && t->p[0] <= '9') || t->p[0] == '-') {
		r = bx_parse_c_number(t->p, t->len, v);
		if (r == -ERANGE)
			return BX_FAIL_TOK(ps, s, t, -ERANGE, "number out of range:");
		if (r < 0)
			return BX_FAIL_TOK(ps, s, t, -EINVAL, "bad number");
		return 0;
	}
	if (bx_policy_constant(t->p, t->len, v) < 0)
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "unknown constant");
	return 0;
}

static int parse_value(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		       size_t n, size_t *i, unsigned depth, uint64_t *out);

/* constant = [ '~' ] , ( '(' , value , ')' | single-constant ) */
static int parse_constant(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			  size_t n, size_t *i, unsigned depth, uint64_t *out)
{
	bool negate = false;
	uint64_t v;
	int r;

	if (*i < n && ts[*i].type == BX_T_OP && bx_tok_is(&ts[*i], "~")) {
		negate = true;
		(*i)++;
		if (*i < n && bx_tok_is(&ts[*i], "~"))
			return BX_FAIL_TOK(ps, s, &ts[*i], -EINVAL, "double complement");
	}
	if (*i >= n)
		return bx_fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL,
				  "missing constant");
	if (ts[*i].type == BX_T_OP && bx_tok_is(&ts[*i], "(")) {
		const struct bx_tok *open = &ts[(*i)++];

		if (depth >= BX_PAREN_DEPTH_MAX)
			return BX_FAIL_TOK(ps, s, open, -E2BIG, "parentheses nested too deep at");
		r = parse_value(ps, s, ts, n, i, depth + 1, &v);
		if (r < 0)
			return r;
		if (*i >= n || !bx_tok_is(&ts[*i], ")"))
			return BX_FAIL_TOK(ps, s, open, -EINVAL, "unclosed parenthesis");
		(*i)++;
	} else {
		r = parse_single(ps, s, &ts[*i], &v);
		if (r < 0)
			return r;
		(*i)++;
	}
	*out = negate ? ~v : v;
	return 0;
}

/* value = constant , { '|' , constant } */
static int parse_value(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		       size_t n, size_t *i, unsigned depth, uint64_t *out)
{
	uint64_t v = 0, c;
	int r;

	for (;;) {
		r = parse_constant(ps, s, ts, n, i, depth, &c);
		if (r < 0)
			return r;
		v |= c;
		if (*i >= n || !bx_tok_is(&ts[*i], "|"))
			break;
		(*i)++;
	}
	*out = v;
	return 0;
}

/* ------------------------------------------------------------------ actions */

static bool action_permits(uint32_t a)
{
	return a == SCMP_ACT_ALLOW || a == SCMP_ACT_LOG;
}

/*
 * action = 'allow' | '1' | 'kill' | 'kill-process' | 'kill-thread' | 'trap'
 *        | 'log' | 'return' , [ single-constant ]
 * A `return` with nothing after it is the default action (*is_default).
 */
int bx_parse_action(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts, size_t n,
		    size_t *i, uint32_t *out, bool *is_default)
{
	const struct bx_tok *t;

	*is_default = false;
	if (*i >= n)
		return bx_fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL, "missing action");
	t = &ts[(*i)++];
	if (bx_tok_is(t, "allow") || bx_tok_is(t, "1"))
		*out = SCMP_ACT_ALLOW;
	else if (bx_tok_is(t, "kill") || bx_tok_is(t, "kill-process"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (bx_tok_is(t, "kill-thread"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (bx_tok_is(t, "trap"))
		*out = SCMP_ACT_TRAP;
	else if (bx_tok_is(t, "log"))
		*out = SCMP_ACT_LOG;
	else if (bx_tok_is(t, "return") || bx_tok_is(t, "errno")) {
		uint64_t e;
		int r;

		if (*i >= n) {
			/* minijail's C parser: a bare `return` is the default action. */
			*is_default = true;
			*out = ps->p->default_action;
			return 0;
		}
		t = &ts[(*i)++];
		r = parse_single(ps, s, t, &e);
		if (r < 0)
			return r;
		if (e > 4095)
			return BX_FAIL_TOK(ps, s, t, -ERANGE, "errno out of range 0..4095:");
		*out = SCMP_ACT_ERRNO((uint32_t)e);
	} else if (bx_tok_is(t, "trace") || bx_tok_is(t, "user-notify"))
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "unsupported action");
	else
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "unknown action");
	return 0;
}

int bx_set_default_action(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *at,
			  uint32_t a)
{
	if (ps->default_where[0])
		return bx_fail_at(ps, s, at->off, -EINVAL, "duplicate default action (first at %s)",
				  ps->default_where);
	if (action_permits(a))
		return BX_FAIL_TOK(ps, s, at, -EINVAL,
				   "the default action must refuse (kill-process, kill-thread, "
				   "trap, errno N), not");
	ps->p->default_action = a;
	bx_where(s, at->off, ps->default_where);
	return 0;
}

/* ------------------------------------------------------------------ expressions */

/* atom = argument , op , value; writes the alternatives (OR) it stands for. */
static int parse_atom(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		      size_t n, size_t *i, struct bx_sc_cmp alts[64], size_t *nalts)
{
	const struct bx_tok *arg, *op;
	uint64_t v, idx;
	int r;

	arg = &ts[(*i)++];
	if (arg->type != BX_T_WORD || arg->len < 4 || memcmp(arg->p, "arg", 3) != 0 ||
	    bx_parse_u64(arg->p + 3, arg->len - 3, BX_SC_ARGS_MAX - 1, &idx) < 0)
		return BX_FAIL_TOK(ps, s, arg, -EINVAL, "expected arg0..arg5, got");
	if (*i >= n)
		return bx_fail_at(ps, s, arg->off + arg->len, -EINVAL, "missing operator");
	op = &ts[(*i)++];
	if (*i >= n)
		return bx_fail_at(ps, s, op->off + op->len, -EINVAL, "missing constant");
	r = parse_value(ps, s, ts, n, i, 0, &v);
	if (r < 0)
		return r;
	*nalts = 1;
	alts[0] = (struct bx_sc_cmp){.arg = (unsigned)idx, .value = v};
	if (bx_tok_is(op, "==") && v >= 0xffffffff80000000ULL) {
		/*
		 * A negative 32-bit constant (-1, AT_FDCWD): the argument is an int
		 * for the kernel, which glibc passes zero-extended (Debian 12) or
		 * sign-extended (newer); compare the low 32 bits only, so that both
		 * match.
		 */
		alts[0].op = BX_SC_MASKED_EQ;
		alts[0].mask = 0xffffffffULL;
		alts[0].value = v & 0xffffffffULL;
	} else if (bx_tok_is(op, "=="))
		alts[0].op = BX_SC_EQ;
	else if (bx_tok_is(op, "!="))
		alts[0].op = BX_SC_NE;
	else if (bx_tok_is(op, "<"))
		alts[0].op = BX_SC_LT;
	else if (bx_tok_is(op, "<="))
		alts[0].op = BX_SC_LE;
	else if (bx_tok_is(op, ">"))
		alts[0].op = BX_SC_GT;
	else if (bx_tok_is(op, ">="))
		alts[0].op = BX_SC_GE;
	else if (bx_tok_is(op, "in")) {
		/* minijail: true when arg has no bit outside the mask. */
		alts[0].op = BX_SC_MASKED_EQ;
		alts[0].mask = ~v;
		alts[0].value = 0;
	} else if (bx_tok_is(op, "&")) {
		/* minijail: true when arg has any bit of the mask (BPF JSET). */
		*nalts = 0;
		for (unsigned b = 0; b < 64; b++) {
			if (v & (1ull << b))
				alts[(*nalts)++] = (struct bx_sc_cmp){.arg = (unsigned)idx,
								      .op = BX_SC_MASKED_EQ,
								      .mask = 1ull << b,
								      .value = 1ull << b};
		}
	} else
		return BX_FAIL_TOK(ps, s, op, -EINVAL, "unknown operator");
	return 0;
}

/*
 * argument-expression = clause , { '||' , clause }
 * clause = atom , { '&&' , atom }
 * Writes the expression as libseccomp-shaped clauses into ps->buf_c; returns the count.
 */
static int parse_expression(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			    size_t n, size_t *i)
{
	size_t nout = 0;

	for (;;) {
		struct bx_sc_clause *terms = ps->buf_a, *next = ps->buf_b, *sw;
		size_t nterms = 1;
		const struct bx_tok *first = &ts[*i];

		memset(&terms[0], 0, sizeof(terms[0]));
		for (;;) {
			struct bx_sc_cmp alts[64];
			size_t nalts = 0, nnext = 0;
			int r;

			if (*i >= n)
				return bx_fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL,
						  "missing comparison");
			r = parse_atom(ps, s, ts, n, i, alts, &nalts);
			if (r < 0)
				return r;
			for (size_t t = 0; t < nterms; t++) {
				for (size_t a = 0; a < nalts; a++) {
					r = bx_sc_and(&terms[t], &alts[a], next + nnext,
						      BX_POLICY_EXPR_MAX - nnext);
					if (r < 0)
						return bx_fail_at(
						    ps, s, first->off, -E2BIG,
						    "expression expands to more than %d libseccomp "
						    "clauses (see policies/README.md, \"Limits\")",
						    BX_POLICY_EXPR_MAX);
					nnext += (size_t)r;
				}
			}
			sw = terms;
			terms = next;
			next = sw;
			nterms = nnext;
			if (*i >= n || !bx_tok_is(&ts[*i], "&&"))
				break;
			(*i)++;
		}
		if (nout + nterms > BX_POLICY_EXPR_MAX)
			return bx_fail_at(ps, s, first->off, -E2BIG,
					  "expression expands to more than %d libseccomp clauses "
					  "(see policies/README.md, \"Limits\")",
					  BX_POLICY_EXPR_MAX);
		memcpy(ps->buf_c + nout, terms, nterms * sizeof(*terms));
		nout += nterms;
		if (*i >= n || !bx_tok_is(&ts[*i], "||"))
			break;
		(*i)++;
	}
	return (int)nout;
}

/* ------------------------------------------------------------------ rules */

static struct bx_mention *find_mention(struct bx_parser *ps, const char *name)
{
	for (size_t i = 0; i < ps->nmentions; i++) {
		if (strcmp(ps->mentions[i].name, name) == 0)
			return &ps->mentions[i];
	}
	return NULL;
}

/* Where the rule was written: its token, or the @group token for a group member. */
static void rule_where(const struct bx_src *s, size_t off, struct bx_sc_rule *rule)
{
	const struct bx_src *at = s->at ? s->at : s;
	size_t line, col;

	bx_line_col(at, s->at ? s->at_off : off, &line, &col);
	rule->src_file = at->file;
	rule->src_line = (uint32_t)line;
	rule->src_col = (uint32_t)col;
	rule->group = s->group;
}

static struct bx_sc_rule *new_rule(struct bx_parser *ps, const struct bx_src *s, size_t off,
				   const char *name, uint32_t action, bool derived, int *r)
{
	struct bx_sc_rule *rule;

	if (ps->p->nrules >= BX_POLICY_RULES_MAX) {
		*r = bx_fail_at(ps, s, off, -E2BIG, "more than %d seccomp rules",
				BX_POLICY_RULES_MAX);
		return NULL;
	}
	rule = &ps->p->rules[ps->p->nrules++];
	memset(rule, 0, sizeof(*rule));
	snprintf(rule->name, sizeof(rule->name), "%s", name);
	rule->action = action;
	rule->derived = derived;
	rule_where(s, off, rule);
	return rule;
}

/* Writes cl[0..n) as rules of at most BX_SC_CLAUSES_MAX clauses (continuations derived). */
static int write_rules(struct bx_parser *ps, const struct bx_src *s, size_t off, const char *name,
		       uint32_t action, const struct bx_sc_clause *cl, size_t n)
{
	size_t done = 0;
	bool first = true;
	int r = 0;

	do {
		struct bx_sc_rule *rule = new_rule(ps, s, off, name, action, !first, &r);
		size_t k = n - done < BX_SC_CLAUSES_MAX ? n - done : BX_SC_CLAUSES_MAX;

		if (!rule)
			return r;
		first = false;
		memcpy(rule->clauses, cl + done, k * sizeof(*cl));
		rule->nclauses = k;
		done += k;
	} while (done < n);
	return 0;
}

static void show_action(uint32_t a, bool is_default, char *buf, size_t len)
{
	const char *e;

	if (is_default)
		snprintf(buf, len, "the default action");
	else if (a == SCMP_ACT_ALLOW)
		snprintf(buf, len, "allow");
	else if (a == SCMP_ACT_LOG)
		snprintf(buf, len, "log");
	else if (a == SCMP_ACT_KILL_PROCESS)
		snprintf(buf, len, "kill-process");
	else if (a == SCMP_ACT_KILL_THREAD)
		snprintf(buf, len, "kill-thread");
	else if (a == SCMP_ACT_TRAP)
		snprintf(buf, len, "trap");
	else if ((e = bx_policy_errno_name(a & 0xffffu)) != NULL)
		snprintf(buf, len, "return %s", e);
	else
		snprintf(buf, len, "return %u", a & 0xffffu);
}

/* Records what refused calls of m's syscall get; two lines must agree. */
static int set_fallback(struct bx_parser *ps, const struct bx_src *s, size_t off,
			struct bx_mention *m, uint32_t action, bool is_default)
{
	char a[48], b[48], w[BX_WHERE_MAX];

	if (m->has_fallback) {
		if (m->fallback_is_default == is_default && (is_default || m->fallback == action))
			return 0;
		show_action(m->fallback, m->fallback_is_default, a, sizeof(a));
		show_action(action, is_default, b, sizeof(b));
		return bx_fail_at(ps, s, off, -EINVAL,
				  "syscall '%s': the calls no line allows cannot get both %s (at "
				  "%s) and %s",
				  m->name, a, bx_where_from(s, m->fallback_where, w), b);
	}
	m->has_fallback = true;
	m->fallback = action;
	m->fallback_is_default = is_default;
	bx_where(s, off, m->fallback_where);
	return 0;
}

/*
 * Adds "name: clauses; else" (nclauses < 0: the unconditional action).
 * group: the group it came from (skips names foreign to this architecture).
 */
static int add_syscall(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *name_tok,
		       const char *name, int nclauses, uint32_t action, bool action_default,
		       bool has_else, uint32_t else_action, bool else_default)
{
	struct bx_mention *m;
	struct bx_sc_rule *rule = NULL;
	bool always = nclauses < 0;
	int nr = bx_syscall_resolve(name), r;

	if (nr < 0) {
		if (s->group)
			return 0;
		return BX_FAIL_TOK(ps, s, name_tok, -EINVAL,
				   nr == -EAFNOSUPPORT ? "not a syscall of this architecture:"
						       : "unknown syscall");
	}
	/* A clause without comparisons holds always: the rule is unconditional. */
	for (int i = 0; i < nclauses; i++) {
		if (ps->buf_c[i].ncmp == 0)
			always = true;
	}
	m = find_mention(ps, name);
	if (!m) {
		if (ps->nmentions >= BX_POLICY_RULES_MAX)
			return bx_fail_at(ps, s, name_tok->off, -E2BIG, "more than %d syscalls",
					  BX_POLICY_RULES_MAX);
		m = &ps->mentions[ps->nmentions++];
		memset(m, 0, sizeof(*m));
		snprintf(m->name, sizeof(m->name), "%s", name);
		m->nr = nr;
	}
	if (has_else) {
		r = set_fallback(ps, s, name_tok->off, m, else_action, else_default);
		if (r < 0)
			return r;
	}
	if (always && !action_permits(action)) {
		/* An unconditional refusal: what the calls no line allows get. */
		r = set_fallback(ps, s, name_tok->off, m, action, action_default);
		if (r < 0)
			return r;
	} else if (always) {
		if (m->always && m->always != action) {
			char a[48], b[48], w[BX_WHERE_MAX];

			show_action(m->always, false, a, sizeof(a));
			show_action(action, false, b, sizeof(b));
			return bx_fail_at(ps, s, name_tok->off, -EINVAL,
					  "syscall '%s' cannot be both %s (at %s) and %s", name, a,
					  bx_where_from(s, m->always_where, w), b);
		}
		if (m->always == action)
			return 0; /* an identical repeat: harmless */
		m->always = action;
		bx_where(s, name_tok->off, m->always_where);
	}
	if (always) {
		rule = new_rule(ps, s, name_tok->off, name, action, false, &r);
		return rule ? 0 : r;
	}
	if (nclauses > 0)
		return write_rules(ps, s, name_tok->off, name, SCMP_ACT_ALLOW, ps->buf_c,
				   (size_t)nclauses);
	/*
	 * Never true (`arg0 & 0`, `arg2 == 0xf && arg2 in 0x7`): only the fallback
	 * remains, as an unconditional refusal (the default's, for a bare return).
	 */
	if (has_else) {
		rule = new_rule(ps, s, name_tok->off, name, else_action, false, &r);
		return rule ? 0 : r;
	}
	return 0;
}

void bx_finish_syscalls(struct bx_parser *ps)
{
	struct bx_policy *p = ps->p;

	for (size_t i = 0; i < p->nrules; i++) {
		struct bx_sc_rule *rule = &p->rules[i];
		const struct bx_mention *m = find_mention(ps, rule->name);

		if (!m || !m->has_fallback)
			continue;
		if (m->fallback_is_default) {
			/* A bare `return`: the default action, known only now. */
			if (rule->nclauses == 0 && !action_permits(rule->action))
				rule->action = p->default_action;
			continue;
		}
		/*
		 * An explicit fallback is kept even when it is the default's action
		 * (`expr; kill` under a kill default): a compile that hands the
		 * default to a supervisor (violations, filter.h) keeps it a kill.
		 */
		rule->has_else = true;
		rule->else_action = m->fallback;
	}
}

/* ------------------------------------------------------------------ lines */

static int parse_syscall_line(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			      size_t n);

/* A line `@group`: each member, a line of this syntax, as if written here. */
static int expand_group(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *t)
{
	const struct bx_sc_group *g = bx_sc_group_find(t->p, t->len);
	struct bx_src gs;
	int bad = 0;

	if (!g)
		return BX_FAIL_TOK(ps, s, t, -EINVAL, "unknown syscall group");
	for (size_t i = 0; g->members[i] && !ps->stop; i++) {
		int n, r;

		gs = (struct bx_src){.name = g->name,
				     .text = g->members[i],
				     .len = strlen(g->members[i]),
				     .lineno = 1,
				     .next_line = 2,
				     .section = BX_SEC_SYSCALLS,
				     .file = s->file,
				     .group = g->name,
				     .at = s,
				     .at_off = t->off};
		n = bx_lex_text(ps, &gs, 0, gs.len);
		if (n <= 0) {
			bad = bad ? bad : n;
			continue;
		}
		if (n == 1) {
			/* A bare name: allow it. */
			ps->toks[1] =
			    (struct bx_tok){.type = BX_T_OP, .p = ":", .len = 1, .off = 0};
			ps->toks[2] =
			    (struct bx_tok){.type = BX_T_WORD, .p = "1", .len = 1, .off = 0};
			n = 3;
		}
		r = parse_syscall_line(ps, &gs, ps->toks, (size_t)n);
		bad = bad ? bad : r;
	}
	return bad;
}

/*
 * filter-statement = syscall-names , ':' , filter
 * syscall-names = name | '{' , name , { ',' , name } , '}'
 * filter = action | argument-expression , [ ';' , action ]
 */
static int parse_syscall_line(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			      size_t n)
{
	size_t names[64], nnames = 0, i = 0;
	uint32_t action = SCMP_ACT_ALLOW, else_action = 0;
	bool has_else = false, action_default = false, else_default = false;
	int nclauses = -1, r;

	if (ts[0].type == BX_T_OP && bx_tok_is(&ts[0], "{")) {
		const struct bx_tok *open = &ts[i++];

		for (;;) {
			if (i >= n || ts[i].type != BX_T_WORD)
				return i < n ? BX_FAIL_TOK(ps, s, &ts[i], -EINVAL,
							   "expected a syscall name, got")
					     : BX_FAIL_TOK(ps, s, open, -EINVAL, "unclosed brace");
			if (nnames >= 64)
				return BX_FAIL_TOK(ps, s, &ts[i], -E2BIG,
						   "more than 64 names in braces at");
			names[nnames++] = i++;
			if (i < n && bx_tok_is(&ts[i], ",")) {
				i++;
				continue;
			}
			if (i >= n || !bx_tok_is(&ts[i], "}"))
				return BX_FAIL_TOK(ps, s, open, -EINVAL, "unclosed brace");
			i++;
			break;
		}
	} else if (ts[0].type == BX_T_WORD) {
		names[nnames++] = i++;
	} else {
		return BX_FAIL_TOK(ps, s, &ts[0], -EINVAL, "expected a syscall name, got");
	}
	if (i >= n)
		return bx_fail_at(ps, s, ts[i - 1].off + ts[i - 1].len, -EINVAL, "missing ':'");
	if (bx_tok_is(&ts[i], "["))
		return BX_FAIL_TOK(ps, s, &ts[i], -EINVAL, "unsupported syscall metadata");
	if (!bx_tok_is(&ts[i], ":"))
		return BX_FAIL_TOK(ps, s, &ts[i], -EINVAL, "expected ':', got");
	i++;
	if (i >= n)
		return bx_fail_at(ps, s, ts[i - 1].off + ts[i - 1].len, -EINVAL, "missing filter");
	if (bx_tok_is(&ts[i], "{"))
		return BX_FAIL_TOK(ps, s, &ts[i], -EINVAL, "unsupported filter list");
	if (ts[i].type == BX_T_WORD && ts[i].len > 3 && memcmp(ts[i].p, "arg", 3) == 0 &&
	    ts[i].p[3] >= '0' && ts[i].p[3] <= '9') {
		nclauses = parse_expression(ps, s, ts, n, &i);
		if (nclauses < 0)
			return nclauses;
		if (i < n && bx_tok_is(&ts[i], ";")) {
			const struct bx_tok *at;

			i++;
			at = i < n ? &ts[i] : &ts[i - 1];
			r = bx_parse_action(ps, s, ts, n, &i, &else_action, &else_default);
			if (r < 0)
				return r;
			if (action_permits(else_action) && !else_default)
				return BX_FAIL_TOK(ps, s, at, -EINVAL,
						   "the fallback after ';' cannot be");
			has_else = true;
		}
	} else {
		r = bx_parse_action(ps, s, ts, n, &i, &action, &action_default);
		if (r < 0)
			return r;
	}
	if (i < n)
		return BX_FAIL_TOK(ps, s, &ts[i], -EINVAL, "unexpected");
	for (size_t k = 0; k < nnames; k++) {
		const struct bx_tok *t = &ts[names[k]];
		char name[BX_SYSCALL_NAME_MAX];

		if (t->len >= sizeof(name))
			return BX_FAIL_TOK(ps, s, t, -EINVAL, "unknown syscall");
		memcpy(name, t->p, t->len);
		name[t->len] = '\0';
		r = add_syscall(ps, s, t, name, nclauses, action, action_default, has_else,
				else_action, else_default);
		if (r < 0)
			return r;
	}
	return 0;
}

int bx_parse_syscalls_line(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			   size_t n)
{
	if (bx_tok_is(&ts[0], "@frequency")) {
		/* Only a hint for minijail's BPF layout; libseccomp decides ours. Not read. */
		if (n != 2)
			return BX_FAIL_TOK(ps, s, &ts[0], -EINVAL, "expected one path after");
		return 0;
	}
	if (bx_tok_is(&ts[0], "@default")) {
		size_t i = 1;
		uint32_t a;
		bool is_default;
		int r;

		if (n < 2)
			return bx_fail_at(ps, s, ts[0].off + ts[0].len, -EINVAL, "missing action");
		r = bx_parse_action(ps, s, ts, n, &i, &a, &is_default);
		if (r < 0)
			return r;
		if (is_default)
			return BX_FAIL_TOK(ps, s, &ts[1], -EINVAL,
					   "the default action needs an errno after");
		if (i < n)
			return BX_FAIL_TOK(ps, s, &ts[i], -EINVAL, "unexpected");
		return bx_set_default_action(ps, s, &ts[1], a);
	}
	if (ts[0].type == BX_T_WORD && ts[0].p[0] == '@') {
		if (n != 1)
			return BX_FAIL_TOK(ps, s, &ts[1], -EINVAL, "unexpected");
		return expand_group(ps, s, &ts[0]);
	}
	return parse_syscall_line(ps, s, ts, n);
}
