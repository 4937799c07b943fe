/* SPDX-License-Identifier: MIT */
#define BX_UTIL_ERROR_C
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bx_log_fn log_fn;
static void *log_ctx;

BX_API void bx_error_clear(bx_error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->offset = BX_NO_OFFSET;
	err->text[0] = '\0';
}

int bx_fail(bx_error *err, int code, size_t offset, const char *fmt, ...)
{
	if (err) {
		va_list ap;

		err->code = code;
		err->offset = offset;
		va_start(ap, fmt);
		vsnprintf(err->text, sizeof(err->text), fmt, ap);
		va_end(ap);
	}
	return code;
}

BX_API void bx_set_log(bx_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

void bx_log(enum bx_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int saved_errno = errno;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_ctx);
	errno = saved_errno;
}

const char *bx_printable(const void *p, size_t len, size_t max, int keep_newlines, char *out,
			 size_t outlen)
{
	const unsigned char *in = p;
	size_t o = 0;

	if (!outlen)
		return out;
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char ch = in[i];
		int plain =
		    (ch >= 0x20 && ch < 0x7f && ch != '\\') || (keep_newlines && ch == '\n');

		if (o + (plain ? 1 : 4) >= outlen)
			break;
		if (plain)
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
	return out;
}
