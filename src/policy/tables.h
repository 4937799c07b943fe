/* SPDX-License-Identifier: MIT */
/*
 * The name tables generated at build time by src/policy/gen_tables.cmake from
 * the build host's headers: named constants (constants.headers) and the
 * native syscall numbers (<asm/unistd.h>). Each is sorted by name (strcmp).
 * Look names up through bx_policy_constant() and bx_syscall_resolve()
 * (policy_internal.h), which add the hand lists for what the headers lack.
 */
#ifndef BX_POLICY_TABLES_H
#define BX_POLICY_TABLES_H

#include <stddef.h>
#include <stdint.h>

struct bx_name_value {
	const char *name;
	uint64_t value;
};

extern const struct bx_name_value bx_gen_constants[];
extern const size_t bx_gen_constants_count;
extern const struct bx_name_value bx_gen_syscalls[];
extern const size_t bx_gen_syscalls_count;

/* The hand lists (constants.c, syscalls.c), for the tests: *n receives the count. */
const struct bx_name_value *bx_policy_constants_hand(size_t *n);
const struct bx_name_value *bx_syscalls_hand(size_t *n);

/* Binary search of a sorted table for name[0..len); NULL when absent. */
const struct bx_name_value *bx_name_table_find(const struct bx_name_value *table, size_t n,
					       const char *name, size_t len);

#endif
