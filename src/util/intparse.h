/* SPDX-License-Identifier: MIT */
#ifndef BX_UTIL_INTPARSE_H
#define BX_UTIL_INTPARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one unsigned decimal parser: s[0..len) must be only ASCII digits, with
 * no sign, space, or leading zero (except "0" itself), and the value must not
 * exceed max. Returns 0, or -EINVAL (syntax) / -ERANGE (over max).
 */
int bx_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));

#endif
