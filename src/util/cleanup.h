/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup and ownership hand-over, after bubblewrap's utils.h.
 * Every fd has exactly one owner; -1 means "owns nothing".
 */
#ifndef BX_UTIL_CLEANUP_H
#define BX_UTIL_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void bx_close_fdp(int *fd)
{
	if (*fd >= 0) {
		int saved_errno = errno;

		close(*fd);
		*fd = -1;
		errno = saved_errno;
	}
}

static inline void bx_freep(void *pp)
{
	void **p = (void **)pp;

	free(*p);
	*p = NULL;
}

#define _cleanup_fd_ _cleanup_(bx_close_fdp)
#define _cleanup_free_ _cleanup_(bx_freep)

/* Closes *fd if it owns one and marks it as owning nothing. */
static inline void bx_close_and_reset(int *fd)
{
	bx_close_fdp(fd);
}

/* Hands the fd over to the caller; the cleanup variable then owns nothing. */
static inline int bx_steal_fd(int *fd)
{
	int r = *fd;

	*fd = -1;
	return r;
}

static inline void *bx_steal_ptr_impl(void **pp)
{
	void *r = *pp;

	*pp = NULL;
	return r;
}
#define bx_steal_ptr(pp) bx_steal_ptr_impl((void **)(pp))

/* Drops a result on purpose (warn_unused_result is not silenced by a (void) cast in gcc). */
#define bx_ignore(expr)                                                                            \
	do {                                                                                       \
		if (expr) {                                                                        \
		}                                                                                  \
	} while (0)

#endif
