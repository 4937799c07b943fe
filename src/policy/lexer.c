/* SPDX-License-Identifier: MIT */
/*
 * The policy files' lexical layer: logical lines and tokens, and where
 * things are ("file:line:col") for every diagnostic.
 *
 * A logical line is one physical line, or several joined by a `\` at the
 * end of each but the last (minijail's continuation; `\` may be followed by
 * spaces). A `#` starts a comment to the end of its physical line, and is
 * cut before the continuation is looked for. Tokens never span two physical
 * lines, and each keeps its byte offset in the file, so a diagnostic inside
 * a continued line names the physical line and column it is on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/parse_internal.h"
#include "util/cleanup.h"
#include "util/cursor.h"
#include "util/error.h"

/* ------------------------------------------------------------------ where */

const char *bx_show(const char *s, size_t len, char buf[160])
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

/*
 * A path as it goes into a message: paths are trusted (the parent chooses
 * them), but a message has BX_ERROR_TEXT_MAX bytes, so a long path keeps its
 * first 32 and its last 60 bytes: the file's own name and the line and column
 * after it always fit.
 */
#define SHORT_PATH_MAX 96

const char *bx_short_path(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);

	if (n <= SHORT_PATH_MAX || len < SHORT_PATH_MAX + 1)
		snprintf(buf, len, "%s", path);
	else
		snprintf(buf, len, "%.32s...%s", path, path + n - (SHORT_PATH_MAX - 35));
	return buf;
}

void bx_line_col(const struct bx_src *s, size_t off, size_t *line, size_t *col)
{
	size_t l = s->lineno, start = s->line_off;

	if (off > s->len)
		off = s->len;
	if (off < s->line_off) {
		*line = s->lineno;
		*col = 1;
		return;
	}
	for (size_t i = s->line_off; i < off; i++) {
		if (s->text[i] == '\n') {
			l++;
			start = i + 1;
		}
	}
	*line = l;
	*col = off - start + 1;
}

void bx_where(const struct bx_src *s, size_t off, char out[BX_WHERE_MAX])
{
	char path[SHORT_PATH_MAX + 1];
	size_t line, col;

	if (s->at) {
		bx_where(s->at, s->at_off, out);
		return;
	}
	bx_line_col(s, off, &line, &col);
	snprintf(out, BX_WHERE_MAX, "%s:%zu:%zu", bx_short_path(s->name, path, sizeof(path)), line,
		 col);
}

const char *bx_where_from(const struct bx_src *s, const char *where, char out[BX_WHERE_MAX])
{
	char path[SHORT_PATH_MAX + 1];
	const struct bx_src *at = s->at ? s->at : s;
	size_t n;

	bx_short_path(at->name, path, sizeof(path));
	n = strlen(path);
	if (strncmp(where, path, n) == 0 && where[n] == ':')
		snprintf(out, BX_WHERE_MAX, "line %s", where + n + 1);
	else
		snprintf(out, BX_WHERE_MAX, "%s", where);
	return out;
}

static void report(struct bx_parser *ps, enum bx_policy_diag kind, const char *text)
{
	if (ps->opts && ps->opts->diag)
		ps->opts->diag(ps->opts->diag_ctx, kind, text);
}

static int record_error(struct bx_parser *ps, int code, size_t off, const char *text)
{
	ps->nerrors++;
	if (ps->nerrors == 1) {
		ps->first_code = code;
		bx_fail(ps->err, code, off, "%s", text);
	}
	report(ps, BX_POLICY_ERROR, text);
	if (code == -ENOMEM || ps->nerrors >= ps->max_errors)
		ps->stop = true;
	return code;
}

#undef bx_fail_at
int bx_fail_at(struct bx_parser *ps, const struct bx_src *s, size_t off, int code, const char *fmt,
	       ...)
{
	char msg[BX_ERROR_TEXT_MAX], where[BX_WHERE_MAX],
	    text[BX_ERROR_TEXT_MAX + BX_WHERE_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bx_where(s, off, where);
	if (s->group)
		snprintf(text, sizeof(text), "%s: %s (in %.40s)", where, msg, s->group);
	else
		snprintf(text, sizeof(text), "%s: %s", where, msg);
	return record_error(ps, code, s->at ? s->at_off : off, text);
}

#undef bx_fail_whole
int bx_fail_whole(struct bx_parser *ps, int code, const char *fmt, ...)
{
	char text[BX_ERROR_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return record_error(ps, code, BX_NO_OFFSET, text);
}

static void keep_warning(struct bx_parser *ps, const char *text)
{
	struct bx_policy *p = ps->p;

	report(ps, BX_POLICY_WARNING, text);
	if (p->nwarnings >= BX_POLICY_WARNINGS_MAX) {
		p->warnings_dropped++;
		return;
	}
	p->warnings[p->nwarnings] = strdup(text);
	if (p->warnings[p->nwarnings])
		p->nwarnings++;
	else
		p->warnings_dropped++;
}

void bx_warn_at(struct bx_parser *ps, const struct bx_src *s, size_t off, const char *fmt, ...)
{
	char msg[BX_ERROR_TEXT_MAX], where[BX_WHERE_MAX],
	    text[BX_ERROR_TEXT_MAX + BX_WHERE_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bx_where(s, off, where);
	snprintf(text, sizeof(text), "%s: warning: %s", where, msg);
	keep_warning(ps, text);
}

void bx_warn_text(struct bx_parser *ps, const char *fmt, ...)
{
	char text[BX_ERROR_TEXT_MAX + BX_WHERE_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	keep_warning(ps, text);
}

/* ------------------------------------------------------------------ lines */

int bx_lex_line(struct bx_parser *ps, struct bx_src *s, struct bx_cursor *c)
{
	struct bx_line *l = &ps->line;
	size_t first, bad_off = 0;
	const char *bad = NULL; /* the first problem, reported once the whole line is read */
	int bad_code = 0;
	bool more = true;

	if (!bx_cursor_left(c))
		return 0;
	l->n = 0;
	s->line_off = first = c->off;
	s->lineno = s->next_line;
	while (more) {
		const uint8_t *nl;
		size_t b = c->off, e, cut, k;
		const char *hash = NULL;

		if (!bx_cursor_left(c)) {
			if (!bad) {
				bad = "line continuation ('\\' at the end) on the last line";
				bad_code = -EINVAL;
				bad_off = b;
			}
			break;
		}
		nl = memchr(c->p + c->off, '\n', bx_cursor_left(c));
		e = nl ? (size_t)(nl - c->p) : c->len;
		bx_ignore(bx_cursor_take(c, e - b + (nl ? 1 : 0)));
		s->next_line++;
		if (!bad && e - first > BX_POLICY_LINE_MAX) {
			bad = "line longer than the limit (continuations included)";
			bad_code = -E2BIG;
			bad_off = first + BX_POLICY_LINE_MAX;
		}
		for (size_t i = b; i < e && !bad; i++) {
			if (s->text[i] == '\0') {
				bad = "NUL byte";
				bad_code = -EINVAL;
				bad_off = i;
			}
		}
		hash = memchr(s->text + b, '#', e - b);
		cut = hash ? (size_t)(hash - s->text) : e;
		k = cut;
		while (k > b &&
		       (s->text[k - 1] == ' ' || s->text[k - 1] == '\t' || s->text[k - 1] == '\r'))
			k--;
		more = k > b && s->text[k - 1] == '\\';
		if (more)
			cut = k - 1;
		if (bad)
			continue;
		if (l->n >= BX_CONTINUATIONS_MAX) {
			bad = "too many lines joined by '\\'";
			bad_code = -E2BIG;
			bad_off = b;
			continue;
		}
		l->b[l->n] = b;
		l->e[l->n] = cut;
		l->n++;
	}
	if (bad) {
		if (bad_code == -E2BIG && bad_off == first + BX_POLICY_LINE_MAX)
			return bx_fail_at(ps, s, bad_off, bad_code,
					  "line longer than %d bytes (continuations included)",
					  BX_POLICY_LINE_MAX);
		return bx_fail_at(ps, s, bad_off, bad_code, "%s", bad);
	}
	return 1;
}

/* ------------------------------------------------------------------ tokens */

static bool is_word_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '.' || ch == '/' || ch == '@' || ch == '?' ||
	       ch == '+';
}

static bool is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

bool bx_tok_is(const struct bx_tok *t, const char *s)
{
	return strlen(s) == t->len && memcmp(t->p, s, t->len) == 0;
}

/* Appends the tokens of s->text[b..e) to ps->toks[*n...]. */
static int tokenize(struct bx_parser *ps, const struct bx_src *s, size_t b, size_t e, size_t *n)
{
	static const char *const ops[] = {"==", "!=", "<=", ">=", "&&", "||", "<",
					  ">",	"&",  "|",  "~",  "(",	")",  ":",
					  ";",	"{",  "}",  ",",  "=",	"[",  "]"};
	struct bx_cursor c = bx_cursor_init(s->text + b, e - b);

	while (bx_cursor_left(&c)) {
		int ch = bx_cursor_peek(&c);
		size_t start = c.off;
		struct bx_tok *t;

		if (is_space(ch)) {
			bx_ignore(bx_cursor_take(&c, 1));
			continue;
		}
		if (*n >= BX_TOKENS_MAX)
			return bx_fail_at(ps, s, b + start, -E2BIG, "more than %d tokens on a line",
					  BX_TOKENS_MAX);
		t = &ps->toks[*n];
		t->p = (const char *)c.p + start;
		t->off = b + start;
		/*
		 * After @include or @frequency (the first token), the path is
		 * everything up to the next space, as written: a path may hold
		 * ':', ',', '=' and other characters the grammar uses.
		 */
		if (*n == 1 && ps->toks[0].type == BX_T_WORD &&
		    (bx_tok_is(&ps->toks[0], "@include") ||
		     bx_tok_is(&ps->toks[0], "@frequency"))) {
			while (bx_cursor_left(&c) && !is_space(bx_cursor_peek(&c)))
				bx_ignore(bx_cursor_take(&c, 1));
			t->type = BX_T_PATH;
			t->len = c.off - start;
			(*n)++;
			continue;
		}
		if (is_word_char(ch)) {
			while (bx_cursor_left(&c) && is_word_char(bx_cursor_peek(&c)))
				bx_ignore(bx_cursor_take(&c, 1));
			t->type = BX_T_WORD;
			t->len = c.off - start;
			(*n)++;
			continue;
		}
		t->type = BX_T_OP;
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

			return bx_fail_at(ps, s, b + start, -EINVAL, "unexpected character '%s'",
					  bx_show(t->p, 1, buf));
		}
		bx_ignore(bx_cursor_take(&c, t->len));
		(*n)++;
	}
	return 0;
}

int bx_lex_tokens(struct bx_parser *ps, const struct bx_src *s)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->line.n; i++) {
		int r = tokenize(ps, s, ps->line.b[i], ps->line.e[i], &n);

		if (r < 0)
			return r;
	}
	return (int)n;
}

int bx_lex_text(struct bx_parser *ps, const struct bx_src *s, size_t b, size_t e)
{
	size_t n = 0;
	int r = tokenize(ps, s, b, e, &n);

	return r < 0 ? r : (int)n;
}
