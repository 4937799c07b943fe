/* SPDX-License-Identifier: MIT */
/*
 * The policy-file parser's parts, along the grammar (policies/README.md):
 *
 *   lexer.c          logical lines (comments, `\` continuations) and tokens,
 *                    and every diagnostic's "file:line:col"
 *   parse.c          files, @include, sections, whole-policy checks
 *   parse_policy.c   the [policy] section: key = value settings
 *   parse_syscalls.c the [syscalls] section: minijail's syntax, expressions,
 *                    and how several lines for one syscall combine
 *
 * Every byte is read through a bounded cursor; every error names its
 * file:line:col and the token; the parser goes on with the next line after an
 * error, so that `policy check` can report them all (bounded).
 */
#ifndef BX_POLICY_PARSE_INTERNAL_H
#define BX_POLICY_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy_internal.h"
#include "util/cursor.h"

#define BX_TOKENS_MAX	     16384 /* per logical line */
#define BX_CONTINUATIONS_MAX 1024  /* physical lines joined into one logical line */
#define BX_PAREN_DEPTH_MAX   16
#define BX_WHERE_MAX	     128 /* "file:line:col" of a first definition, for messages */
#define BX_NEGS_MAX	     4096
#define BX_NEG_GROUPS_MAX    1024

enum bx_section { BX_SEC_POLICY = 1, BX_SEC_SYSCALLS };

enum bx_tok_type {
	BX_T_WORD = 1,
	BX_T_OP,
	BX_T_PATH, /* the rest of an @include / @frequency line, as written */
};

struct bx_tok {
	enum bx_tok_type type;
	const char *p;
	size_t len;
	size_t off; /* byte offset in the file */
};

/* One file being read. */
struct bx_src {
	const char *name;
	const char *text;
	size_t len;
	size_t lineno;	  /* first physical line of the current logical line */
	size_t next_line; /* the number of the next physical line to read (from 1) */
	size_t line_off;  /* offset of that line's first byte */
	enum bx_section section;
	uint16_t file;		 /* index in the policy's files[] */
	const char *group;	 /* expanding @group: its name (for messages), else NULL */
	const struct bx_src *at; /* expanding @group: the line that named it */
	size_t at_off;		 /* ... and the offset of the @group token there */
};

/* A logical line: up to BX_CONTINUATIONS_MAX pieces of the file, comments cut. */
struct bx_line {
	size_t n;
	size_t b[BX_CONTINUATIONS_MAX], e[BX_CONTINUATIONS_MAX];
};

/* What the policy says for one syscall, over all its lines. */
struct bx_mention {
	char name[BX_SYSCALL_NAME_MAX];
	int nr;
	/* An unconditional allow-type action (allow, log), and where. */
	uint32_t always;
	char always_where[BX_WHERE_MAX];
	/* What calls that no line allows get: `; return E`, or an unconditional refusal. */
	bool has_fallback;
	uint32_t fallback;
	bool fallback_is_default; /* a bare `return`: the default action, resolved at the end */
	char fallback_where[BX_WHERE_MAX];
};

/* enum values of the [policy] keys, for the "first at" of duplicates. */
enum bx_key {
	BX_K_NAME,
	BX_K_NAMESPACES,
	BX_K_UID,
	BX_K_GID,
	BX_K_HOSTNAME,
	BX_K_TMP,
	BX_K_CGROUP,
	BX_K_CGROUP_MEMORY,
	BX_K_CGROUP_PIDS,
	BX_K_LANDLOCK,
	BX_K_NETNS,
	BX_K_ENV_KEEP,
	BX_K_CAPABILITIES,
	BX_K_DEFAULT_ACTION,
	BX_K_OVERRIDE,
	BX_K_ACK,
	BX_K_COUNT
};

struct bx_parser {
	struct bx_policy *p;
	const struct bx_policy_parse_opts *opts;
	bx_error *err;
	/* Diagnostics: errors so far (the first one is in err), and the cap. */
	size_t nerrors, max_errors;
	int first_code;
	bool stop; /* a fatal error (out of memory) or the cap: read nothing more */
	const char *stack[BX_POLICY_INCLUDE_DEPTH + 1]; /* open files, for cycles */
	size_t depth;
	bool saw_policy_section;
	char key_where[BX_K_COUNT][BX_WHERE_MAX]; /* "" while unset */
	char rlimit_where[RLIM_NLIMITS][BX_WHERE_MAX];
	char default_where[BX_WHERE_MAX];
	struct bx_mention *mentions; /* BX_POLICY_RULES_MAX */
	size_t nmentions;
	struct bx_sc_clause *buf_a, *buf_b, *buf_c; /* BX_POLICY_EXPR_MAX clauses each */
	struct bx_sc_cmp *negs;			    /* BX_NEGS_MAX */
	size_t nnegs;
	struct bx_tok *toks; /* BX_TOKENS_MAX */
	struct bx_line line;
};

/* ------------------------------------------------------------------ lexer.c */

/*
 * Reads the next logical line of s from c: sets s->lineno and s->line_off and
 * fills ps->line. Returns 1 for a line, 0 at the end, or -errno (reported).
 */
int bx_lex_line(struct bx_parser *ps, struct bx_src *s, struct bx_cursor *c);
/* Splits ps->line into ps->toks; returns the count or -errno (reported). */
int bx_lex_tokens(struct bx_parser *ps, const struct bx_src *s);
/* Splits one in-memory line (a group member) into ps->toks. */
int bx_lex_text(struct bx_parser *ps, const struct bx_src *s, size_t b, size_t e);

bool bx_tok_is(const struct bx_tok *t, const char *s);

/* Writes s[0..len) printable: at most 32 bytes, others as \xNN, into buf[160]. */
const char *bx_show(const char *s, size_t len, char buf[160]);
/*
 * Writes the file name for a message: whole when short, else its beginning
 * and its end around "...", so that the file's own name always shows.
 */
const char *bx_short_path(const char *path, char *buf, size_t len);
/* Line and column (from 1) of offset off of s, within its current logical line. */
void bx_line_col(const struct bx_src *s, size_t off, size_t *line, size_t *col);
/* where ("file:line:col") as seen from s: "line L:C" when in s's own file. */
const char *bx_where_from(const struct bx_src *s, const char *where, char out[BX_WHERE_MAX]);
/* "file:line:col" of offset off of s (for "first at ..." texts). */
void bx_where(const struct bx_src *s, size_t off, char out[BX_WHERE_MAX]);

/*
 * Reports an error at offset off of s ("file:line:col: message") and returns
 * code. The first error goes to ps->err; each goes to the diagnostic callback.
 */
int bx_fail_at(struct bx_parser *ps, const struct bx_src *s, size_t off, int code, const char *fmt,
	       ...) __attribute__((format(printf, 5, 6)));
/* An error without a location in a file (whole-policy checks). */
int bx_fail_whole(struct bx_parser *ps, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A warning "file:line:col: warning: message": kept in the policy and sent to the callback. */
void bx_warn_at(struct bx_parser *ps, const struct bx_src *s, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bx_warn_text(struct bx_parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __clang_analyzer__
/* As for bx_fail in util/error.h: the analyzer does not follow variadic calls. */
#define bx_fail_at(ps, s, off, code, ...) ((void)bx_fail_at(ps, s, off, code, __VA_ARGS__), (code))
#define bx_fail_whole(ps, code, ...)	  ((void)bx_fail_whole(ps, code, __VA_ARGS__), (code))
#endif

#define BX_FAIL_TOK(ps, s, t, code, what)                                                          \
	({                                                                                         \
		char b_[160];                                                                      \
		bx_fail_at(ps, s, (t)->off, code, "%s '%s'", what, bx_show((t)->p, (t)->len, b_)); \
	})

/* ------------------------------------------------------------------ parse_policy.c */

/* `key = value...` in [policy]. */
int bx_parse_setting(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
		     size_t n);
extern const char *const bx_key_names[BX_K_COUNT];

/* ------------------------------------------------------------------ parse_syscalls.c */

/* One line of [syscalls] other than @include: a rule, @group, @default, @frequency. */
int bx_parse_syscalls_line(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts,
			   size_t n);
/* The action grammar, shared with default-action in [policy]. */
int bx_parse_action(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *ts, size_t n,
		    size_t *i, uint32_t *out, bool *is_default);
int bx_set_default_action(struct bx_parser *ps, const struct bx_src *s, const struct bx_tok *at,
			  uint32_t a);
/* After the last line: every rule learns its syscall's fallback (bare `return`s resolved). */
void bx_finish_syscalls(struct bx_parser *ps);
/* A number as minijail reads it (strtol base 0), for tests too. */
int bx_parse_c_number(const char *p, size_t len, uint64_t *out);

/* ------------------------------------------------------------------ parse.c */

/*
 * The parser proper: text -> policy, with no default settings inherited (the
 * built-in default itself is parsed this way). bx_policy_parse (load.c) adds
 * the inheritance for files without a [policy] section.
 */
int bx_policy_parse_core(const char *name, const char *text, size_t len,
			 const struct bx_policy_parse_opts *opts, struct bx_policy **out,
			 bool *saw_policy_section, bx_error *err)
    __attribute__((warn_unused_result));

#endif
