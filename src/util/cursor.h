/* SPDX-License-Identifier: MIT */
/*
 * A bounded cursor over untrusted bytes (after s2n-tls's stuffer): every read
 * goes through take/peek, which fail with -EBADMSG instead of reading past
 * the end.
 */
#ifndef BX_UTIL_CURSOR_H
#define BX_UTIL_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct bx_cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline struct bx_cursor bx_cursor_init(const void *p, size_t len)
{
	struct bx_cursor c = {.p = (const uint8_t *)p, .len = len, .off = 0};
	return c;
}

static inline size_t bx_cursor_left(const struct bx_cursor *c)
{
	return c->len - c->off;
}

/* Returns a pointer to the next n bytes and advances, or NULL if fewer remain. */
static inline const uint8_t *bx_cursor_take(struct bx_cursor *c, size_t n)
{
	const uint8_t *r;

	if (n > bx_cursor_left(c))
		return NULL;
	r = c->p + c->off;
	c->off += n;
	return r;
}

/* The next byte without advancing; -1 at the end. */
static inline int bx_cursor_peek(const struct bx_cursor *c)
{
	return bx_cursor_left(c) ? c->p[c->off] : -1;
}

#endif
