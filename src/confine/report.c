/* SPDX-License-Identifier: MIT */
#include "confine/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void bx_report_add(struct bx_confine_report *rep, const char *fmt, ...)
{
	size_t used = strnlen(rep->text, sizeof(rep->text));
	va_list ap;

	if (used + 2 >= sizeof(rep->text))
		return;
	va_start(ap, fmt);
	vsnprintf(rep->text + used, sizeof(rep->text) - used - 1, fmt, ap);
	va_end(ap);
	used = strnlen(rep->text, sizeof(rep->text));
	if (used + 1 < sizeof(rep->text)) {
		rep->text[used] = '\n';
		rep->text[used + 1] = '\0';
	}
}
