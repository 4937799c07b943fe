/* SPDX-License-Identifier: MIT */
/*
 * beambox: things every public header shares: the export macro, the error
 * record that parsers fill in, and the log hook.
 *
 * Conventions (all modules): functions return 0 (or a count) on success and
 * -errno on failure; out-parameters are written only on success; a
 * `bx_error *err` argument may be NULL and, when not, receives a one-line
 * human-readable reason and, for parsers, the byte offset of the problem.
 */
#ifndef BEAMBOX_COMMON_H
#define BEAMBOX_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BEAMBOX_BUILDING) && !defined(BEAMBOX_STATIC_ONLY)
#define BX_API __attribute__((visibility("default")))
#else
#define BX_API
#endif

#define BX_MUST_CHECK __attribute__((warn_unused_result))

/* Length of bx_error.text, including the terminating NUL. */
#define BX_ERROR_TEXT_MAX 256

/*
 * Why an operation failed. `code` repeats the negative errno the function
 * returned; `offset` is the byte offset into the parsed input where the
 * problem was found (or (size_t)-1 when no offset applies).
 */
typedef struct bx_error {
	int code;
	size_t offset;
	char text[BX_ERROR_TEXT_MAX];
} bx_error;

/* Resets *err to "no error". Safe on NULL. */
BX_API void bx_error_clear(bx_error *err);

enum bx_log_level {
	BX_LOG_ERROR = 0,
	BX_LOG_WARNING = 1,
	BX_LOG_INFO = 2,
	BX_LOG_DEBUG = 3,
};

typedef void (*bx_log_fn)(enum bx_log_level level, const char *message, void *ctx);

/*
 * The library never prints on its own: diagnostics go to this callback, or
 * nowhere when none is set (the default). Process-wide; set it before
 * spawning threads that use the library.
 */
BX_API void bx_set_log(bx_log_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif
