/* SPDX-License-Identifier: MIT */
/* Internal helpers to fill a bx_error and to log through the caller's hook. */
#ifndef BX_UTIL_ERROR_H
#define BX_UTIL_ERROR_H

#include <beambox/common.h>

#define BX_NO_OFFSET ((size_t)-1)

/*
 * Records code, offset and a printf-style reason in err (if not NULL) and
 * returns code, so that callers can write `return bx_fail(err, -EBADMSG, off, "...")`.
 * Untrusted text must be printed with a precision (%.64s) by the caller.
 */
int bx_fail(bx_error *err, int code, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#if defined(__clang_analyzer__) && !defined(BX_UTIL_ERROR_C)
/*
 * For clang-tidy's analyzer only (it cannot see into error.c): bx_fail returns
 * its code. Without this it assumes any result on `r = bx_fail(...)` paths and
 * reports out-parameters that a failing parser rightly left unwritten.
 */
#define bx_fail(err, code, ...) ((void)bx_fail(err, code, __VA_ARGS__), (code))
#endif

/*
 * Copies at most max bytes of untrusted p[0..len) into out as printable
 * ASCII, so that text from a worker cannot drive the caller's terminal:
 * every other byte (and '\\') becomes \xNN; newlines are kept when
 * keep_newlines. out is always NUL-terminated (truncated to fit). Returns out.
 */
const char *bx_printable(const void *p, size_t len, size_t max, int keep_newlines, char *out,
			 size_t outlen);

void bx_log(enum bx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
