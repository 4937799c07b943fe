/* SPDX-License-Identifier: MIT */
/*
 * The policy-file parser: text -> struct bx_policy. Grammar and examples in
 * policies/README.md. Every byte goes through a bounded cursor; every error
 * is "file:line:col: message" naming the offending token; nothing unknown is
 * ignored. The [syscalls] section is minijail's .policy syntax (C parser
 * semantics for `expr; return E`: allow when expr holds, else return E).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine/seccomp.h"
#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/cursor.h"
#include "util/error.h"
#include "util/intparse.h"

#define TOKENS_MAX	512
#define PAREN_DEPTH_MAX 16
#define WHERE_MAX	96 /* "file:line" of a first definition, for duplicate messages */
#define EXPR_MAX	BX_POLICY_DERIVED_MAX
#define NEGS_MAX	4096
#define NEG_GROUPS_MAX	64

enum section { SEC_POLICY = 1, SEC_SYSCALLS };

enum tok_type { T_WORD = 1, T_OP };

struct tok {
	enum tok_type type;
	const char *p;
	size_t len;
	size_t off; /* byte offset in the file */
};

/* One file being read. */
struct src {
	const char *name;
	const char *text;
	size_t len;
	size_t lineno;
	size_t line_off; /* offset of the current line's first byte */
	enum section section;
};

/* Where each syscall got its rule, to refuse a second, different one. */
struct mention {
	char name[40];
	bool plain; /* an unconditional allow: may be repeated */
	char where[WHERE_MAX];
};

enum key {
	K_NAME,
	K_NAMESPACES,
	K_UID,
	K_GID,
	K_HOSTNAME,
	K_TMP,
	K_CGROUP,
	K_CGROUP_MEMORY,
	K_CGROUP_PIDS,
	K_LANDLOCK,
	K_NETNS,
	K_ENV_KEEP,
	K_CAPABILITIES,
	K_DEFAULT_ACTION,
	K_OVERRIDE,
	K_ACK,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
    [K_NAME] = "name",
    [K_NAMESPACES] = "namespaces",
    [K_UID] = "uid",
    [K_GID] = "gid",
    [K_HOSTNAME] = "hostname",
    [K_TMP] = "tmp-size",
    [K_CGROUP] = "cgroup",
    [K_CGROUP_MEMORY] = "cgroup.memory",
    [K_CGROUP_PIDS] = "cgroup.pids",
    [K_LANDLOCK] = "landlock",
    [K_NETNS] = "netns",
    [K_ENV_KEEP] = "env-keep",
    [K_CAPABILITIES] = "capabilities",
    [K_DEFAULT_ACTION] = "default-action",
    [K_OVERRIDE] = "override-deny-list",
    [K_ACK] = "i-understand-this-weakens-the-sandbox",
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

struct parser {
	struct bx_policy *p;
	const struct bx_policy_parse_opts *opts;
	bx_error *err;
	const char *stack[BX_POLICY_INCLUDE_DEPTH + 1]; /* open files, for cycles */
	size_t depth;
	size_t nfiles;
	char key_where[K_COUNT][WHERE_MAX]; /* "" while unset */
	char rlimit_where[RLIM_NLIMITS][WHERE_MAX];
	char default_where[WHERE_MAX];
	struct mention *mentions;
	size_t nmentions;
	struct bx_sc_clause *buf_a, *buf_b, *buf_c; /* EXPR_MAX clauses each */
	/* The last expression's negated atoms, one group per || clause (for `; return`). */
	struct bx_sc_cmp *negs; /* NEGS_MAX */
	size_t nnegs;
	size_t neg_ends[NEG_GROUPS_MAX];
	size_t nneg_groups;
	struct tok toks[TOKENS_MAX];
};

/* ------------------------------------------------------------------ errors */

/* Writes t (or text[0..len)) printable: at most 32 bytes, others as \xNN. */
static const char *show(const char *s, size_t len, char buf[160])
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 32; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, 5, "\\x%02x", ch);
	}
	if (len > 32) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static int fail_at(struct parser *ps, const struct src *s, size_t off, int code, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct parser *ps, const struct src *s, size_t off, int code, const char *fmt,
		   ...)
{
	char msg[BX_ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bx_fail(ps->err, code, off, "%.100s:%zu:%zu: %s", s->name, s->lineno,
		       off - s->line_off + 1, msg);
}
#ifdef __clang_analyzer__
/* As for bx_fail in util/error.h: the analyzer does not follow variadic calls. */
#define fail_at(ps, s, off, code, ...) ((void)fail_at(ps, s, off, code, __VA_ARGS__), (code))
#endif

static void where(const struct src *s, char out[WHERE_MAX])
{
	snprintf(out, WHERE_MAX, "%.80s:%zu", s->name, s->lineno);
}

#define FAIL_TOK(ps, s, t, code, what)                                                             \
	({                                                                                         \
		char b_[160];                                                                      \
		fail_at(ps, s, (t)->off, code, "%s '%s'", what, show((t)->p, (t)->len, b_));       \
	})

/* ------------------------------------------------------------------ tokens */

static bool is_word_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.' || ch == '/' || ch == '@' || ch == '?' ||
	       ch == '+';
}

static bool tok_is(const struct tok *t, const char *s)
{
	return strlen(s) == t->len && memcmp(t->p, s, t->len) == 0;
}

/* Splits one line (comment already cut) into tokens; returns the count or -errno. */
static int tokenize(struct parser *ps, const struct src *s, size_t b, size_t e)
{
	static const char *const ops[] = {"==", "!=", "<=", ">=", "&&", "||", "<",
					  ">",	"&",  "|",  "~",  "(",	")",  ":",
					  ";",	"{",  "}",  ",",  "=",	"[",  "]"};
	struct bx_cursor c = bx_cursor_init(s->text + b, e - b);
	size_t n = 0;

	while (bx_cursor_left(&c)) {
		int ch = bx_cursor_peek(&c);
		size_t start = c.off;
		struct tok *t;

		if (ch == ' ' || ch == '\t' || ch == '\r') {
			bx_ignore(bx_cursor_take(&c, 1));
			continue;
		}
		if (n >= TOKENS_MAX)
			return fail_at(ps, s, b + start, -E2BIG, "more than %d tokens on a line",
				       TOKENS_MAX);
		t = &ps->toks[n];
		t->p = (const char *)c.p + start;
		t->off = b + start;
		if (is_word_char(ch)) {
			while (bx_cursor_left(&c) && is_word_char(bx_cursor_peek(&c)))
				bx_ignore(bx_cursor_take(&c, 1));
			t->type = T_WORD;
			t->len = c.off - start;
			n++;
			continue;
		}
		t->type = T_OP;
		t->len = 0;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			size_t l = strlen(ops[i]);

			if (bx_cursor_left(&c) >= l && memcmp(c.p + c.off, ops[i], l) == 0) {
				t->len = l;
				break;
			}
		}
		if (t->len == 0) {
			char buf[160];

			return fail_at(ps, s, b + start, -EINVAL, "unexpected character '%s'",
				       show(t->p, 1, buf));
		}
		bx_ignore(bx_cursor_take(&c, t->len));
		n++;
	}
	return (int)n;
}

/* ------------------------------------------------------------------ numbers and values */

/*
 * A C integer literal as minijail reads it (strtol base 0): decimal, 0x hex,
 * 0 octal, optional leading '-' (two's complement on 64 bits). Overflow and
 * trailing bytes are errors. Decimal goes through the one decimal parser.
 */
static int parse_c_number(const char *p, size_t len, uint64_t *out)
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
static int parse_single(struct parser *ps, const struct src *s, const struct tok *t, uint64_t *v)
{
	int r;

	if (t->type != T_WORD)
		return FAIL_TOK(ps, s, t, -EINVAL, "expected a constant, got");
	if ((t->p[0] >= '0' && t->p[0] <= '9') || t->p[0] == '-') {
		r = parse_c_number(t->p, t->len, v);
		if (r == -ERANGE)
			return FAIL_TOK(ps, s, t, -ERANGE, "number out of range:");
		if (r < 0)
			return FAIL_TOK(ps, s, t, -EINVAL, "bad number");
		return 0;
	}
	if (bx_policy_constant(t->p, t->len, v) < 0)
		return FAIL_TOK(ps, s, t, -EINVAL, "unknown constant");
	return 0;
}

static int parse_value(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
		       size_t *i, unsigned depth, uint64_t *out);

/* constant = [ '~' ] , ( '(' , value , ')' | single-constant ) */
static int parse_constant(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
			  size_t *i, unsigned depth, uint64_t *out)
{
	bool negate = false;
	uint64_t v;
	int r;

	if (*i < n && ts[*i].type == T_OP && tok_is(&ts[*i], "~")) {
		negate = true;
		(*i)++;
		if (*i < n && tok_is(&ts[*i], "~"))
			return FAIL_TOK(ps, s, &ts[*i], -EINVAL, "double complement");
	}
	if (*i >= n)
		return fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL, "missing constant");
	if (ts[*i].type == T_OP && tok_is(&ts[*i], "(")) {
		const struct tok *open = &ts[(*i)++];

		if (depth >= PAREN_DEPTH_MAX)
			return FAIL_TOK(ps, s, open, -E2BIG, "parentheses nested too deep at");
		r = parse_value(ps, s, ts, n, i, depth + 1, &v);
		if (r < 0)
			return r;
		if (*i >= n || !tok_is(&ts[*i], ")"))
			return FAIL_TOK(ps, s, open, -EINVAL, "unclosed parenthesis");
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
static int parse_value(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
		       size_t *i, unsigned depth, uint64_t *out)
{
	uint64_t v = 0, c;
	int r;

	for (;;) {
		r = parse_constant(ps, s, ts, n, i, depth, &c);
		if (r < 0)
			return r;
		v |= c;
		if (*i >= n || !tok_is(&ts[*i], "|"))
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
 *        | 'log' | 'return' , single-constant
 */
static int parse_action(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
			size_t *i, uint32_t *out)
{
	const struct tok *t;

	if (*i >= n)
		return fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL, "missing action");
	t = &ts[(*i)++];
	if (tok_is(t, "allow") || tok_is(t, "1"))
		*out = SCMP_ACT_ALLOW;
	else if (tok_is(t, "kill") || tok_is(t, "kill-process"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (tok_is(t, "kill-thread"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (tok_is(t, "trap"))
		*out = SCMP_ACT_TRAP;
	else if (tok_is(t, "log"))
		*out = SCMP_ACT_LOG;
	else if (tok_is(t, "return") || tok_is(t, "errno")) {
		uint64_t e;
		int r;

		if (*i >= n)
			return fail_at(ps, s, t->off + t->len, -EINVAL, "missing errno after '%s'",
				       tok_is(t, "return") ? "return" : "errno");
		t = &ts[(*i)++];
		r = parse_single(ps, s, t, &e);
		if (r < 0)
			return r;
		if (e > 4095)
			return FAIL_TOK(ps, s, t, -ERANGE, "errno out of range 0..4095:");
		*out = SCMP_ACT_ERRNO((uint32_t)e);
	} else if (tok_is(t, "trace") || tok_is(t, "user-notify"))
		return FAIL_TOK(ps, s, t, -EINVAL, "unsupported action");
	else
		return FAIL_TOK(ps, s, t, -EINVAL, "unknown action");
	return 0;
}

/* ------------------------------------------------------------------ expressions */

/* atom = argument , op , value; writes the alternatives (OR) it stands for. */
static int parse_atom(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
		      size_t *i, struct bx_sc_cmp alts[64], size_t *nalts,
		      struct bx_sc_cmp negs[64], size_t *nnegs)
{
	const struct tok *arg, *op;
	uint64_t v, idx;
	int r;

	arg = &ts[(*i)++];
	if (arg->type != T_WORD || arg->len < 4 || memcmp(arg->p, "arg", 3) != 0 ||
	    bx_parse_u64(arg->p + 3, arg->len - 3, BX_SC_ARGS_MAX - 1, &idx) < 0)
		return FAIL_TOK(ps, s, arg, -EINVAL, "expected arg0..arg5, got");
	if (*i >= n)
		return fail_at(ps, s, arg->off + arg->len, -EINVAL, "missing operator");
	op = &ts[(*i)++];
	if (*i >= n)
		return fail_at(ps, s, op->off + op->len, -EINVAL, "missing constant");
	r = parse_value(ps, s, ts, n, i, 0, &v);
	if (r < 0)
		return r;
	*nalts = 1;
	alts[0] = (struct bx_sc_cmp){.arg = (unsigned)idx, .value = v};
	if (tok_is(op, "=="))
		alts[0].op = BX_SC_EQ;
	else if (tok_is(op, "!="))
		alts[0].op = BX_SC_NE;
	else if (tok_is(op, "<"))
		alts[0].op = BX_SC_LT;
	else if (tok_is(op, "<="))
		alts[0].op = BX_SC_LE;
	else if (tok_is(op, ">"))
		alts[0].op = BX_SC_GT;
	else if (tok_is(op, ">="))
		alts[0].op = BX_SC_GE;
	else if (tok_is(op, "in")) {
		/* minijail: true when arg has no bit outside the mask. */
		alts[0].op = BX_SC_MASKED_EQ;
		alts[0].mask = ~v;
		alts[0].value = 0;
	} else if (tok_is(op, "&")) {
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
		return FAIL_TOK(ps, s, op, -EINVAL, "unknown operator");
	if (tok_is(op, "&")) {
		/* Not any bit of the mask: one masked comparison. */
		negs[0] = (struct bx_sc_cmp){
		    .arg = (unsigned)idx, .op = BX_SC_MASKED_EQ, .mask = v, .value = 0};
		*nnegs = 1;
	} else {
		*nnegs = bx_sc_negate(&alts[0], negs);
	}
	return 0;
}

/*
 * argument-expression = clause , { '||' , clause }
 * clause = atom , { '&&' , atom }
 * Writes the expression as libseccomp-shaped clauses into ps->buf_c; returns the count.
 */
static int parse_expression(struct parser *ps, const struct src *s, const struct tok *ts, size_t n,
			    size_t *i)
{
	size_t nout = 0;

	ps->nnegs = 0;
	ps->nneg_groups = 0;
	for (;;) {
		struct bx_sc_clause *terms = ps->buf_a, *next = ps->buf_b, *sw;
		size_t nterms = 1;
		const struct tok *first = &ts[*i];

		memset(&terms[0], 0, sizeof(terms[0]));
		for (;;) {
			struct bx_sc_cmp alts[64], negs[64];
			size_t nalts = 0, nnext = 0, nnegs = 0;
			int r;

			if (*i >= n)
				return fail_at(ps, s, ts[n - 1].off + ts[n - 1].len, -EINVAL,
					       "missing comparison");
			r = parse_atom(ps, s, ts, n, i, alts, &nalts, negs, &nnegs);
			if (r < 0)
				return r;
			if (ps->nnegs + nnegs > NEGS_MAX)
				return FAIL_TOK(ps, s, first, -E2BIG, "expression too long at");
			memcpy(ps->negs + ps->nnegs, negs, nnegs * sizeof(*negs));
			ps->nnegs += nnegs;
			for (size_t t = 0; t < nterms; t++) {
				for (size_t a = 0; a < nalts; a++) {
					r = bx_sc_and(&terms[t], &alts[a], next + nnext,
						      EXPR_MAX - nnext);
					if (r < 0)
						return FAIL_TOK(ps, s, first, -E2BIG,
								"expression expands to more than "
								"128 libseccomp clauses at");
					nnext += (size_t)r;
				}
			}
			sw = terms;
			terms = next;
			next = sw;
			nterms = nnext;
			if (*i >= n || !tok_is(&ts[*i], "&&"))
				break;
			(*i)++;
		}
		if (nout + nterms > EXPR_MAX)
			return FAIL_TOK(
			    ps, s, first, -E2BIG,
			    "expression expands to more than 128 libseccomp clauses at");
		memcpy(ps->buf_c + nout, terms, nterms * sizeof(*terms));
		nout += nterms;
		if (ps->nneg_groups >= NEG_GROUPS_MAX)
			return FAIL_TOK(ps, s, first, -E2BIG, "more than 64 || clauses at");
		ps->neg_ends[ps->nneg_groups++] = ps->nnegs;
		if (*i >= n || !tok_is(&ts[*i], "||"))
			break;
		(*i)++;
	}
	return (int)nout;
}

/* ------------------------------------------------------------------ rules */

static struct mention *find_mention(struct parser *ps, const char *name)
{
	for (size_t i = 0; i < ps->nmentions; i++) {
		if (strcmp(ps->mentions[i].name, name) == 0)
			return &ps->mentions[i];
	}
	return NULL;
}

static struct bx_sc_rule *new_rule(struct parser *ps, const struct src *s, size_t off,
				   const char *name, uint32_t action, bool derived, int *r)
{
	struct bx_sc_rule *rule;

	if (ps->p->nrules >= BX_POLICY_RULES_MAX) {
		*r = fail_at(ps, s, off, -E2BIG, "more than %d seccomp rules", BX_POLICY_RULES_MAX);
		return NULL;
	}
	rule = &ps->p->rules[ps->p->nrules++];
	memset(rule, 0, sizeof(*rule));
	snprintf(rule->name, sizeof(rule->name), "%s", name);
	rule->action = action;
	rule->derived = derived;
	return rule;
}

/* Writes cl[0..n) as rules of at most BX_SC_CLAUSES_MAX clauses; the first one is primary. */
static int write_rules(struct parser *ps, const struct src *s, size_t off, const char *name,
		       uint32_t action, const struct bx_sc_clause *cl, size_t n, bool primary,
		       struct bx_sc_rule **first)
{
	size_t done = 0;
	int r = 0;

	do {
		struct bx_sc_rule *rule = new_rule(ps, s, off, name, action, !primary, &r);
		size_t k = n - done < BX_SC_CLAUSES_MAX ? n - done : BX_SC_CLAUSES_MAX;

		if (!rule)
			return r;
		if (primary && first)
			*first = rule;
		primary = false;
		memcpy(rule->clauses, cl + done, k * sizeof(*cl));
		rule->nclauses = k;
		done += k;
	} while (done < n);
	return 0;
}

/*
 * Adds the rule "name: clauses; else" (nclauses < 0: unconditional action).
 * group: the group it came from (skips names foreign to this architecture).
 */
static int add_syscall(struct parser *ps, const struct src *s, const struct tok *name_tok,
		       const char *name, int nclauses, uint32_t action, bool has_else,
		       uint32_t else_action, const char *group)
{
	struct mention *m;
	struct bx_sc_rule *rule = NULL;
	bool plain = nclauses < 0 && action == SCMP_ACT_ALLOW;
	bool always = nclauses < 0;
	int nr = seccomp_syscall_resolve_name(name), r;
	char buf[160];

	if (nr == __NR_SCMP_ERROR || nr < 0) {
		if (group)
			return 0;
		return FAIL_TOK(ps, s, name_tok, -EINVAL,
				nr == __NR_SCMP_ERROR ? "unknown syscall"
						      : "not a syscall of this architecture:");
	}
	m = find_mention(ps, name);
	if (m) {
		if (m->plain && plain)
			return 0;
		return fail_at(ps, s, name_tok->off, -EINVAL,
			       "syscall '%s'%s%s already has a rule (%s)",
			       show(name, strlen(name), buf), group ? " from " : "",
			       group ? group : "", m->where);
	}
	if (ps->nmentions >= BX_POLICY_RULES_MAX)
		return fail_at(ps, s, name_tok->off, -E2BIG, "more than %d syscalls",
			       BX_POLICY_RULES_MAX);
	m = &ps->mentions[ps->nmentions++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->plain = plain;
	where(s, m->where);
	if (group) {
		size_t l = strlen(m->where);

		snprintf(m->where + l, WHERE_MAX - l, " via %s", group);
	}

	/* A clause without comparisons holds always: the rule is unconditional. */
	for (int i = 0; i < nclauses; i++) {
		if (ps->buf_c[i].ncmp == 0)
			always = true;
	}
	if (always) {
		rule = new_rule(ps, s, name_tok->off, name, action, false, &r);
		if (!rule)
			return r;
		rule->has_else = has_else;
		rule->else_action = else_action;
		return 0;
	}
	/* nclauses == 0 (never true, e.g. `arg0 & 0`): only the fallback remains. */
	if (nclauses > 0) {
		r = write_rules(ps, s, name_tok->off, name, action, ps->buf_c, (size_t)nclauses,
				true, &rule);
		if (r < 0)
			return r;
		rule->has_else = has_else;
		rule->else_action = else_action;
	}
	if (has_else) {
		/* Computed from the atoms as written: smaller than from the expanded clauses. */
		int nc = bx_sc_product(ps->negs, ps->neg_ends, ps->nneg_groups, ps->buf_a,
				       BX_POLICY_FALLBACK_MAX);

		if (nc == -E2BIG)
			return fail_at(ps, s, name_tok->off, -E2BIG,
				       "the fallback of this expression needs more than %d "
				       "libseccomp clauses; split it, or write the fallback "
				       "cases as rules of their own",
				       BX_POLICY_FALLBACK_MAX);
		if (nc < 0)
			return fail_at(ps, s, name_tok->off, nc, "out of memory");
		if (nc > 0) {
			r = write_rules(ps, s, name_tok->off, name, else_action, ps->buf_a,
					(size_t)nc, false, NULL);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ [syscalls] */

static int parse_syscall_line(struct parser *ps, const struct src *s, const struct tok *ts,
			      size_t n, const char *group);

static int expand_group(struct parser *ps, const struct src *s, const struct tok *t)
{
	const struct bx_sc_group *g = bx_sc_group_find(t->p, t->len);
	const struct tok gt = *t; /* ps->toks is reused for the members */
	struct src gs;

	if (!g)
		return FAIL_TOK(ps, s, t, -EINVAL, "unknown syscall group");
	t = &gt;
	for (size_t i = 0; g->members[i]; i++) {
		/* Members are lines of our own syntax; errors point at the @group token. */
		int n, r;

		gs = (struct src){.name = g->name,
				  .text = g->members[i],
				  .len = strlen(g->members[i]),
				  .lineno = i + 1,
				  .section = SEC_SYSCALLS};
		n = tokenize(ps, &gs, 0, gs.len);
		if (n < 0)
			return n;
		if (n == 1) {
			char name[40];

			if (ps->toks[0].len >= sizeof(name))
				return FAIL_TOK(ps, s, t, -EINVAL, "bad group member in");
			memcpy(name, ps->toks[0].p, ps->toks[0].len);
			name[ps->toks[0].len] = '\0';
			r = add_syscall(ps, s, t, name, -1, SCMP_ACT_ALLOW, false, 0, g->name);
		} else {
			r = parse_syscall_line(ps, &gs, ps->toks, (size_t)n, g->name);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * filter-statement = syscall-names , ':' , filter
 * syscall-names = name | '{' , name , { ',' , name } , '}'
 * filter = action | argument-expression , [ ';' , action ]
 */
static int parse_syscall_line(struct parser *ps, const struct src *s, const struct tok *ts,
			      size_t n, const char *group)
{
	size_t names[64], nnames = 0, i = 0;
	uint32_t action = SCMP_ACT_ALLOW, else_action = 0;
	bool has_else = false;
	int nclauses = -1, r;

	if (ts[0].type == T_OP && tok_is(&ts[0], "{")) {
		const struct tok *open = &ts[i++];

		for (;;) {
			if (i >= n || ts[i].type != T_WORD)
				return i < n ? FAIL_TOK(ps, s, &ts[i], -EINVAL,
							"expected a syscall name, got")
					     : FAIL_TOK(ps, s, open, -EINVAL, "unclosed brace");
			if (nnames >= 64)
				return FAIL_TOK(ps, s, &ts[i], -E2BIG,
						"more than 64 names in braces at");
			names[nnames++] = i++;
			if (i < n && tok_is(&ts[i], ",")) {
				i++;
				continue;
			}
			if (i >= n || !tok_is(&ts[i], "}"))
				return FAIL_TOK(ps, s, open, -EINVAL, "unclosed brace");
			i++;
			break;
		}
	} else if (ts[0].type == T_WORD) {
		names[nnames++] = i++;
	} else {
		return FAIL_TOK(ps, s, &ts[0], -EINVAL, "expected a syscall name, got");
	}
	if (i >= n)
		return fail_at(ps, s, ts[i - 1].off + ts[i - 1].len, -EINVAL, "missing ':'");
	if (tok_is(&ts[i], "["))
		return FAIL_TOK(ps, s, &ts[i], -EINVAL, "unsupported syscall metadata");
	if (!tok_is(&ts[i], ":"))
		return FAIL_TOK(ps, s, &ts[i], -EINVAL, "expected ':', got");
	i++;
	if (i >= n)
		return fail_at(ps, s, ts[i - 1].off + ts[i - 1].len, -EINVAL, "missing filter");
	if (tok_is(&ts[i], "{"))
		return FAIL_TOK(ps, s, &ts[i], -EINVAL, "unsupported filter list");
	if (ts[i].type == T_WORD && ts[i].len > 3 && memcmp(ts[i].p, "arg", 3) == 0 &&
	    ts[i].p[3] >= '0' && ts[i].p[3] <= '9') {
		nclauses = parse_expression(ps, s, ts, n, &i);
		if (nclauses < 0)
			return nclauses;
		if (i < n && tok_is(&ts[i], ";")) {
			const struct tok *at;

			i++;
			at = i < n ? &ts[i] : &ts[i - 1];
			r = parse_action(ps, s, ts, n, &i, &else_action);
			if (r < 0)
				return r;
			if (else_action == SCMP_ACT_ALLOW)
				return FAIL_TOK(ps, s, at, -EINVAL,
						"the fallback after ';' cannot be");
			has_else = true;
		}
	} else {
		r = parse_action(ps, s, ts, n, &i, &action);
		if (r < 0)
			return r;
	}
	if (i < n)
		return FAIL_TOK(ps, s, &ts[i], -EINVAL, "unexpected");
	for (size_t k = 0; k < nnames; k++) {
		const struct tok *t = &ts[names[k]];
		char name[40];

		if (t->len >= sizeof(name))
			return FAIL_TOK(ps, s, t, -EINVAL, "unknown syscall");
		memcpy(name, t->p, t->len);
		name[t->len] = '\0';
		r = add_syscall(ps, s, t, name, nclauses, action, has_else, else_action, group);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_default_action(struct parser *ps, const struct src *s, const struct tok *at,
			      uint32_t a)
{
	if (ps->default_where[0])
		return FAIL_TOK(ps, s, at, -EINVAL, "duplicate default action")
		    /* first set elsewhere */;
	if (action_permits(a))
		return FAIL_TOK(ps, s, at, -EINVAL,
				"the default action must refuse (kill-process, kill-thread, "
				"trap, errno N), not");
	ps->p->default_action = a;
	where(s, ps->default_where);
	return 0;
}

/* ------------------------------------------------------------------ [policy] */

/* A size with an optional K/M/G/T suffix (powers of 1024). */
static int parse_size(const struct tok *t, uint64_t *out)
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
static int parse_duration(const struct tok *t, enum unit unit, uint64_t *out)
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

static int want_values(struct parser *ps, const struct src *s, const struct tok *key, size_t nv,
		       size_t min, size_t max)
{
	char buf[160];

	if (nv < min)
		return fail_at(ps, s, key->off, -EINVAL, "'%s' needs a value",
			       show(key->p, key->len, buf));
	if (nv > max)
		return fail_at(ps, s, key->off, -EINVAL, "'%s' takes %zu value%s",
			       show(key->p, key->len, buf), max, max == 1 ? "" : "s");
	return 0;
}

static int parse_need(struct parser *ps, const struct src *s, const struct tok *t,
		      enum bx_need *out)
{
	if (tok_is(t, "off"))
		*out = BX_NEED_OFF;
	else if (tok_is(t, "optional"))
		*out = BX_NEED_OPTIONAL;
	else if (tok_is(t, "required"))
		*out = BX_NEED_REQUIRED;
	else
		return FAIL_TOK(ps, s, t, -EINVAL, "expected off, optional or required, got");
	return 0;
}

static int parse_u64_tok(struct parser *ps, const struct src *s, const struct tok *t, uint64_t max,
			 uint64_t *v)
{
	int r = bx_parse_u64(t->p, t->len, max, v);

	if (r == -ERANGE)
		return FAIL_TOK(ps, s, t, -ERANGE, "value out of range:");
	if (r < 0)
		return FAIL_TOK(ps, s, t, -EINVAL, "expected a decimal number, got");
	return 0;
}

static bool safe_path(const struct tok *t)
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

static char *tok_dup(const struct tok *t)
{
	return strndup(t->p, t->len);
}

static int parse_bind(struct parser *ps, const struct src *s, const struct tok *key,
		      const struct tok *v, size_t nv)
{
	struct bx_policy *p = ps->p;
	struct bx_bind b = {0};
	size_t i = 1;
	bool mode = false, need = false, exec_set = false, exec = false;

	if (want_values(ps, s, key, nv, 1, 5) < 0)
		return ps->err ? ps->err->code : -EINVAL;
	if (!safe_path(&v[0]))
		return FAIL_TOK(ps, s, &v[0], -EINVAL,
				"expected an absolute, normalised path, got");
	if (i < nv && v[i].p[0] == '/') {
		if (!safe_path(&v[i]))
			return FAIL_TOK(ps, s, &v[i], -EINVAL,
					"expected an absolute, normalised path, got");
		i++;
	}
	for (size_t k = i; k < nv; k++) {
		if ((tok_is(&v[k], "ro") || tok_is(&v[k], "rw")) && !mode) {
			b.rw = tok_is(&v[k], "rw");
			mode = true;
		} else if ((tok_is(&v[k], "required") || tok_is(&v[k], "optional")) && !need) {
			b.optional = tok_is(&v[k], "optional");
			need = true;
		} else if ((tok_is(&v[k], "exec") || tok_is(&v[k], "noexec")) && !exec_set) {
			exec = tok_is(&v[k], "exec");
			exec_set = true;
		} else
			return FAIL_TOK(ps, s, &v[k], -EINVAL,
					"expected ro, rw, required, optional, exec or noexec (once "
					"each), got");
	}
	/* W^X: what the sandbox can write it cannot execute, unless the policy says so. */
	b.exec = exec_set ? exec : !b.rw;
	if (p->nbinds >= BX_POLICY_BINDS_MAX)
		return fail_at(ps, s, key->off, -E2BIG, "more than %d binds", BX_POLICY_BINDS_MAX);
	for (size_t k = 0; k < p->nbinds; k++) {
		const struct tok *dst = i == 2 ? &v[1] : &v[0];

		if (strlen(p->binds[k].dst) == dst->len &&
		    memcmp(p->binds[k].dst, dst->p, dst->len) == 0)
			return FAIL_TOK(ps, s, dst, -EINVAL, "a second bind to");
	}
	b.src = tok_dup(&v[0]);
	b.dst = tok_dup(i == 2 ? &v[1] : &v[0]);
	if (!b.src || !b.dst) {
		free(b.src);
		free(b.dst);
		return fail_at(ps, s, key->off, -ENOMEM, "out of memory");
	}
	p->binds[p->nbinds++] = b;
	return 0;
}

static int parse_rlimit(struct parser *ps, const struct src *s, const struct tok *key,
			const struct tok *v, size_t nv)
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
			return fail_at(ps, s, key->off, -EINVAL,
				       "duplicate key 'rlimit.%s' (first at %s)",
				       rlimit_names[i].name, ps->rlimit_where[res]);
		r = want_values(ps, s, key, nv, 1, 1);
		if (r < 0)
			return r;
		if (tok_is(&v[0], "unlimited")) {
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
				return FAIL_TOK(ps, s, &v[0], -ERANGE, "value out of range:");
			if (r < 0)
				return FAIL_TOK(ps, s, &v[0], -EINVAL, "bad value");
		}
		ps->p->rlimits[res].set = true;
		ps->p->rlimits[res].value = (rlim_t)value;
		where(s, ps->rlimit_where[res]);
		return 0;
	}
	return FAIL_TOK(ps, s, key, -EINVAL, "unknown key");
}

static int parse_setting(struct parser *ps, const struct src *s, const struct tok *ts, size_t n)
{
	struct bx_policy *p = ps->p;
	const struct tok *key = &ts[0], *v = ts + 2;
	size_t nv = n >= 2 ? n - 2 : 0;
	enum key k = K_COUNT;
	uint64_t u;
	int r;

	if (key->type != T_WORD)
		return FAIL_TOK(ps, s, key, -EINVAL, "expected a key, got");
	if (n < 2 || !tok_is(&ts[1], "="))
		return n < 2 ? fail_at(ps, s, key->off + key->len, -EINVAL, "missing '='")
			     : FAIL_TOK(ps, s, &ts[1], -EINVAL, "expected '=', got");
	for (size_t i = 0; i < nv; i++) {
		if (v[i].type != T_WORD)
			return FAIL_TOK(ps, s, &v[i], -EINVAL, "unexpected");
	}
	if (tok_is(key, "bind"))
		return parse_bind(ps, s, key, v, nv);
	if (key->len > 7 && memcmp(key->p, "rlimit.", 7) == 0)
		return parse_rlimit(ps, s, key, v, nv);
	for (size_t i = 0; i < K_COUNT; i++) {
		if (tok_is(key, key_names[i]))
			k = (enum key)i;
	}
	if (k == K_COUNT)
		return FAIL_TOK(ps, s, key, -EINVAL, "unknown key");
	if (ps->key_where[k][0])
		return fail_at(ps, s, key->off, -EINVAL, "duplicate key '%s' (first at %s)",
			       key_names[k], ps->key_where[k]);
	if (k == K_DEFAULT_ACTION && ps->default_where[0])
		return fail_at(ps, s, key->off, -EINVAL, "duplicate default action (first at %s)",
			       ps->default_where);
	r = want_values(ps, s, key, nv, 1,
			k == K_NAMESPACES || k == K_ENV_KEEP || k == K_OVERRIDE ? TOKENS_MAX
			: k == K_DEFAULT_ACTION					? 2
										: 1);
	if (r < 0)
		return r;

	switch (k) {
	case K_NAME:
		if (v[0].len >= sizeof(p->name))
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "name too long:");
		memcpy(p->name, v[0].p, v[0].len);
		p->name[v[0].len] = '\0';
		break;
	case K_NAMESPACES:
		for (size_t i = 0; i < nv; i++) {
			const struct tok *t = &v[i];
			size_t len = t->len;
			bool opt = len > 1 && t->p[len - 1] == '?';
			size_t j;

			if (tok_is(t, "none") && nv == 1)
				break;
			if (opt)
				len--;
			for (j = 0; j < sizeof(ns_names) / sizeof(ns_names[0]); j++) {
				if (strlen(ns_names[j]) == len &&
				    memcmp(ns_names[j], t->p, len) == 0)
					break;
			}
			if (j == sizeof(ns_names) / sizeof(ns_names[0]))
				return FAIL_TOK(ps, s, t, -EINVAL, "unknown namespace");
			if (p->namespaces & (1u << j))
				return FAIL_TOK(ps, s, t, -EINVAL, "namespace named twice:");
			p->namespaces |= 1u << j;
			if (opt)
				p->namespaces_optional |= 1u << j;
		}
		break;
	case K_UID:
	case K_GID:
		/* uid = dynamic: a host uid of its own per worker (gid: the same number). */
		if (k == K_UID && tok_is(&v[0], "dynamic")) {
			p->uid_dynamic = true;
			break;
		}
		r = parse_u64_tok(ps, s, &v[0], 0xfffffffe, &u);
		if (r < 0)
			return r;
		if (k == K_UID)
			p->uid = (uid_t)u;
		else
			p->gid = (gid_t)u;
		break;
	case K_HOSTNAME:
		if (v[0].len >= sizeof(p->hostname))
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "hostname longer than 64 bytes:");
		for (size_t i = 0; i < v[0].len; i++) {
			char ch = v[0].p[i];

			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
				return FAIL_TOK(ps, s, &v[0], -EINVAL, "bad hostname");
		}
		memcpy(p->hostname, v[0].p, v[0].len);
		p->hostname[v[0].len] = '\0';
		break;
	case K_TMP:
		if (tok_is(&v[0], "none"))
			u = 0;
		else if (parse_size(&v[0], &u) < 0)
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "bad size");
		p->tmp_size = u;
		break;
	case K_CGROUP:
		r = parse_need(ps, s, &v[0], &p->cgroup);
		if (r < 0)
			return r;
		break;
	case K_CGROUP_MEMORY:
		if (parse_size(&v[0], &u) < 0)
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "bad size");
		p->cgroup_memory_max = u;
		break;
	case K_CGROUP_PIDS:
		r = parse_u64_tok(ps, s, &v[0], 1u << 22, &u);
		if (r < 0)
			return r;
		p->cgroup_pids_max = u;
		break;
	case K_LANDLOCK:
		r = parse_need(ps, s, &v[0], &p->landlock);
		if (r < 0)
			return r;
		break;
	case K_NETNS:
		/* netns = shared: one pre-made empty netns per policy (spawn/zygote.h,
		 * SECURITY.md). */
		if (tok_is(&v[0], "shared"))
			p->netns_shared = true;
		else if (!tok_is(&v[0], "own"))
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "netns is own or shared, not");
		break;
	case K_ENV_KEEP:
		for (size_t i = 0; i < nv; i++) {
			for (size_t j = 0; j < v[i].len; j++) {
				char ch = v[i].p[j];

				if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
				      ch == '_' || (j > 0 && ch >= '0' && ch <= '9')))
					return FAIL_TOK(ps, s, &v[i], -EINVAL,
							"bad environment variable name");
			}
			for (size_t j = 0; j < p->nenv_keep; j++) {
				if (strlen(p->env_keep[j]) == v[i].len &&
				    memcmp(p->env_keep[j], v[i].p, v[i].len) == 0)
					return FAIL_TOK(ps, s, &v[i], -EINVAL, "named twice:");
			}
			if (p->nenv_keep >= BX_POLICY_ENV_MAX)
				return FAIL_TOK(ps, s, &v[i], -E2BIG, "too many names at");
			p->env_keep[p->nenv_keep] = tok_dup(&v[i]);
			if (!p->env_keep[p->nenv_keep])
				return fail_at(ps, s, key->off, -ENOMEM, "out of memory");
			p->nenv_keep++;
		}
		break;
	case K_CAPABILITIES:
		if (!tok_is(&v[0], "none"))
			return FAIL_TOK(ps, s, &v[0], -EINVAL,
					"beambox never keeps capabilities: only 'none' is "
					"accepted, not");
		break;
	case K_DEFAULT_ACTION: {
		size_t i = 0;
		uint32_t a;

		r = parse_action(ps, s, v, nv, &i, &a);
		if (r < 0)
			return r;
		if (i < nv)
			return FAIL_TOK(ps, s, &v[i], -EINVAL, "unexpected");
		r = set_default_action(ps, s, &v[0], a);
		if (r < 0)
			return r;
		break;
	}
	case K_OVERRIDE:
		for (size_t i = 0; i < nv; i++) {
			char name[40];

			if (v[i].len >= sizeof(name))
				return FAIL_TOK(ps, s, &v[i], -EINVAL, "not on the deny list:");
			memcpy(name, v[i].p, v[i].len);
			name[v[i].len] = '\0';
			if (bx_seccomp_deny_errno(name) == 0)
				return FAIL_TOK(ps, s, &v[i], -EINVAL, "not on the deny list:");
			for (size_t j = 0; j < p->noverride_deny; j++) {
				if (strcmp(p->override_deny[j], name) == 0)
					return FAIL_TOK(ps, s, &v[i], -EINVAL, "named twice:");
			}
			if (p->noverride_deny >=
			    sizeof(p->override_deny) / sizeof(p->override_deny[0]))
				return FAIL_TOK(ps, s, &v[i], -E2BIG, "too many names at");
			p->override_deny[p->noverride_deny] = strdup(name);
			if (!p->override_deny[p->noverride_deny])
				return fail_at(ps, s, key->off, -ENOMEM, "out of memory");
			p->noverride_deny++;
		}
		break;
	case K_ACK:
		if (!tok_is(&v[0], "yes"))
			return FAIL_TOK(ps, s, &v[0], -EINVAL, "only 'yes' is accepted, not");
		break;
	case K_COUNT:
		break;
	}
	where(s, ps->key_where[k]);
	return 0;
}

/* ------------------------------------------------------------------ files */

static int parse_file(struct parser *ps, const char *name, const char *text, size_t len,
		      enum section section);

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

static int do_include(struct parser *ps, const struct src *s, const struct tok *kw,
		      const struct tok *ts, size_t n)
{
	_cleanup_free_ char *text = NULL;
	char path[BX_POLICY_PATH_MAX];
	size_t len = 0;
	int r;

	if (n != 2 || ts[1].type != T_WORD)
		return n < 2 ? fail_at(ps, s, kw->off + kw->len, -EINVAL, "missing include path")
			     : FAIL_TOK(ps, s, &ts[n > 2 ? 2 : 1], -EINVAL, "unexpected");
	if (!ps->opts || !ps->opts->include)
		return FAIL_TOK(ps, s, &ts[1], -EPERM, "@include is disabled here:");
	if (ps->depth > BX_POLICY_INCLUDE_DEPTH - 1)
		return FAIL_TOK(ps, s, &ts[1], -ELOOP, "@include nested deeper than 8 levels at");
	r = join_path(s->name, ts[1].p, ts[1].len, path, sizeof(path));
	if (r < 0)
		return FAIL_TOK(ps, s, &ts[1], -EINVAL, "bad include path");
	for (size_t i = 0; i < ps->depth; i++) {
		if (strcmp(ps->stack[i], path) == 0)
			return FAIL_TOK(ps, s, &ts[1], -ELOOP, "@include cycle at");
	}
	if (ps->nfiles >= BX_POLICY_FILES_MAX)
		return FAIL_TOK(ps, s, &ts[1], -E2BIG, "more than 64 files read, at");
	r = ps->opts->include(ps->opts->include_ctx, path, &text, &len, NULL);
	if (r < 0) {
		char buf[160];

		return fail_at(ps, s, ts[1].off, r, "@include '%s': %s",
			       show(path, strlen(path), buf), strerror(-r));
	}
	return parse_file(ps, path, text, len, s->section);
}

static int parse_line(struct parser *ps, struct src *s, size_t b, size_t e)
{
	const struct tok *ts = ps->toks;
	size_t n;
	int r;

	r = tokenize(ps, s, b, e);
	if (r <= 0)
		return r;
	n = (size_t)r;
	if (ts[0].type == T_OP && tok_is(&ts[0], "[")) {
		/* Section header: [policy] or [syscalls]. */
		if (n != 3 || ts[1].type != T_WORD || ts[2].type != T_OP || ts[2].len != 1 ||
		    ts[2].p[0] != ']')
			return FAIL_TOK(ps, s, &ts[0], -EINVAL,
					"expected '[policy]' or '[syscalls]' at");
		if (tok_is(&ts[1], "policy"))
			s->section = SEC_POLICY;
		else if (tok_is(&ts[1], "syscalls"))
			s->section = SEC_SYSCALLS;
		else
			return FAIL_TOK(ps, s, &ts[1], -EINVAL, "unknown section");
		return 0;
	}
	if (tok_is(&ts[0], "@include"))
		return do_include(ps, s, &ts[0], ts, n);
	if (s->section == SEC_POLICY)
		return parse_setting(ps, s, ts, n);
	/* [syscalls] */
	if (tok_is(&ts[0], "@frequency")) {
		/* Only a hint for minijail's BPF layout; libseccomp decides ours. Not read. */
		if (n != 2)
			return FAIL_TOK(ps, s, &ts[0], -EINVAL, "expected one path after");
		return 0;
	}
	if (tok_is(&ts[0], "@default")) {
		size_t i = 1;
		uint32_t a;

		r = parse_action(ps, s, ts, n, &i, &a);
		if (r < 0)
			return r;
		if (i < n)
			return FAIL_TOK(ps, s, &ts[i], -EINVAL, "unexpected");
		return set_default_action(ps, s, &ts[1], a);
	}
	if (ts[0].type == T_WORD && ts[0].p[0] == '@') {
		if (n != 1)
			return FAIL_TOK(ps, s, &ts[1], -EINVAL, "unexpected");
		return expand_group(ps, s, &ts[0]);
	}
	return parse_syscall_line(ps, s, ts, n, NULL);
}

static int parse_file(struct parser *ps, const char *name, const char *text, size_t len,
		      enum section section)
{
	struct src s = {.name = name, .text = text, .len = len, .section = section};
	struct bx_cursor c = bx_cursor_init(text, len);
	int r = 0;

	if (len > BX_POLICY_FILE_MAX)
		return bx_fail(ps->err, -E2BIG, 0, "%.100s: larger than %u bytes", name,
			       BX_POLICY_FILE_MAX);
	ps->stack[ps->depth++] = name;
	ps->nfiles++;
	while (r == 0 && bx_cursor_left(&c)) {
		const uint8_t *nl = memchr(c.p + c.off, '\n', bx_cursor_left(&c));
		size_t b = c.off, e = nl ? (size_t)(nl - c.p) : c.len, cut = e;
		const uint8_t *hash;

		s.lineno++;
		s.line_off = b;
		bx_ignore(bx_cursor_take(&c, e - b + (nl ? 1 : 0)));
		if (e - b > BX_POLICY_LINE_MAX) {
			r = fail_at(ps, &s, b + BX_POLICY_LINE_MAX, -E2BIG,
				    "line longer than %d bytes", BX_POLICY_LINE_MAX);
			break;
		}
		hash = memchr(text + b, '#', e - b);
		if (hash)
			cut = (size_t)((const char *)hash - text);
		for (size_t i = b; i < e; i++) {
			if (text[i] == '\0') {
				r = fail_at(ps, &s, i, -EINVAL, "NUL byte");
				break;
			}
		}
		if (r == 0 && cut > b && text[cut - 1] == '\\')
			r = fail_at(ps, &s, cut - 1, -EINVAL,
				    "line continuation ('\\' at the end) is not supported");
		if (r == 0)
			r = parse_line(ps, &s, b, cut);
	}
	ps->depth--;
	return r;
}

/* Checks between settings and rules, once everything is read. */
static int check_whole(struct parser *ps, const char *name)
{
	struct bx_policy *p = ps->p;
	bool ack = ps->key_where[K_ACK][0] != '\0';
	bool over = p->noverride_deny > 0;

#define CONFLICT(...) bx_fail(ps->err, -EINVAL, BX_NO_OFFSET, __VA_ARGS__)
	if (over && !ack)
		return CONFLICT("%s: override-deny-list needs the line "
				"'i-understand-this-weakens-the-sandbox = yes'",
				ps->key_where[K_OVERRIDE]);
	if (ack && !over)
		return CONFLICT("%s: i-understand-this-weakens-the-sandbox without "
				"override-deny-list",
				ps->key_where[K_ACK]);
	if (p->uid_dynamic && ps->key_where[K_GID][0])
		return CONFLICT(
		    "%s: with uid = dynamic the gid is the uid's number: drop this line",
		    ps->key_where[K_GID]);
	if ((p->nbinds || p->tmp_size) && !(p->namespaces & BX_NS_MOUNT))
		return CONFLICT("%.100s: bind and tmp-size need the mount namespace", name);
	if (p->netns_shared && !(p->namespaces & BX_NS_NET))
		return CONFLICT("%s: netns = shared needs the net namespace",
				ps->key_where[K_NETNS]);
	if (p->hostname[0] && !(p->namespaces & BX_NS_UTS))
		return CONFLICT("%s: hostname needs the uts namespace", ps->key_where[K_HOSTNAME]);
	if (p->cgroup == BX_NEED_OFF && (p->cgroup_memory_max || p->cgroup_pids_max))
		return CONFLICT("%s: cgroup limits set while cgroup = off",
				ps->key_where[K_CGROUP_MEMORY][0] ? ps->key_where[K_CGROUP_MEMORY]
								  : ps->key_where[K_CGROUP_PIDS]);
	if (p->cgroup != BX_NEED_OFF && !p->cgroup_memory_max && !p->cgroup_pids_max)
		return CONFLICT("%s: cgroup is %s but sets no limit (cgroup.memory, cgroup.pids)",
				ps->key_where[K_CGROUP],
				p->cgroup == BX_NEED_REQUIRED ? "required" : "optional");
	/* A rule that lets a deny-listed syscall run, without an override: say where. */
	for (size_t i = 0; i < p->nrules; i++) {
		const struct bx_sc_rule *r = &p->rules[i];
		bool overridden = false;

		if (bx_seccomp_deny_errno(r->name) <= 0 || !action_permits(r->action))
			continue;
		for (size_t j = 0; j < p->noverride_deny; j++)
			overridden |= strcmp(p->override_deny[j], r->name) == 0;
		if (!overridden) {
			const struct mention *m = find_mention(ps, r->name);

			return CONFLICT("%s: '%s' is on the deny list; allowing it needs "
					"override-deny-list (see policies/README.md)",
					m ? m->where : name, r->name);
		}
	}
#undef CONFLICT
	return 0;
}

int bx_policy_parse(const char *name, const char *text, size_t len,
		    const struct bx_policy_parse_opts *opts, struct bx_policy **out, bx_error *err)
{
	struct parser *ps;
	int r;

	if (!name || (!text && len) || !out)
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "policy: bad arguments");
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "policy: out of memory");
	ps->opts = opts;
	ps->err = err;
	ps->p = calloc(1, sizeof(*ps->p));
	ps->mentions = calloc(BX_POLICY_RULES_MAX, sizeof(*ps->mentions));
	ps->buf_a = calloc(EXPR_MAX, sizeof(*ps->buf_a));
	ps->buf_b = calloc(EXPR_MAX, sizeof(*ps->buf_b));
	ps->buf_c = calloc(EXPR_MAX, sizeof(*ps->buf_c));
	ps->negs = calloc(NEGS_MAX, sizeof(*ps->negs));
	if (!ps->p || !ps->mentions || !ps->buf_a || !ps->buf_b || !ps->buf_c || !ps->negs) {
		r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "policy: out of memory");
	} else {
		ps->p->default_action = SCMP_ACT_KILL_PROCESS;
		r = parse_file(ps, name, text ? text : "", len, SEC_SYSCALLS);
		if (r == 0)
			r = check_whole(ps, name);
	}
	if (r == 0) {
		bx_policy_adjust_for_build(ps->p);
		*out = bx_steal_ptr(&ps->p);
	}
	bx_policy_free(ps->p);
	free(ps->mentions);
	free(ps->buf_a);
	free(ps->buf_b);
	free(ps->buf_c);
	free(ps->negs);
	free(ps);
	return r;
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

int bx_policy_load_file(const char *path, struct bx_policy **out, bx_error *err)
{
	static const struct bx_policy_parse_opts opts = {.include = bx_policy_read_file};
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	r = bx_policy_read_file(NULL, path, &text, &len, err);
	if (r < 0)
		return r;
	return bx_policy_parse(path, text, len, &opts, out, err);
}
