/* SPDX-License-Identifier: MIT */
/*
 * Named constants usable in syscall argument expressions (PROT_EXEC, AF_UNIX,
 * TCGETS2, EPERM, ...), as minijail has them: generated at build time from
 * the build host's libc and kernel headers (gen_tables.cmake, the header list
 * in constants.headers), plus a short hand list below for constants newer
 * than the headers of the oldest supported build host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "policy/tables.h"

/*
 * Constants the kernel has but Debian 12's headers (Linux 6.1) do not. The
 * values are the kernel's ABI (they never change); a newer host's generated
 * table, which is searched first, gives the same (tests/test_policy.c checks
 * that). Sorted by name.
 */
static const struct bx_name_value hand[] = {
    {"F_DUPFD_QUERY", 1027},		   /* Linux 6.10, F_LINUX_SPECIFIC_BASE + 3 */
    {"F_SEAL_EXEC", 0x0020},		   /* Linux 6.3 */
    {"MADV_GUARD_INSTALL", 102},	   /* Linux 6.13: guard regions */
    {"MADV_GUARD_REMOVE", 103},		   /* Linux 6.13 */
    {"MAP_DROPPABLE", 0x08},		   /* Linux 6.11 */
    {"MFD_EXEC", 0x0010},		   /* Linux 6.3 */
    {"MFD_NOEXEC_SEAL", 0x0008},	   /* Linux 6.3 */
    {"MOVE_MOUNT_BENEATH", 0x00000200},	   /* Linux 6.5 */
    {"PR_GET_AUXV", 0x41555856},	   /* "AUXV", after Linux 6.1 */
    {"PR_GET_MDWE", 66},		   /* Linux 6.3: memory-deny-write-execute */
    {"PR_GET_MEMORY_MERGE", 68},	   /* Linux 6.4 */
    {"PR_GET_SHADOW_STACK_STATUS", 74},	   /* Linux 6.13 */
    {"PR_LOCK_SHADOW_STACK_STATUS", 76},   /* Linux 6.13 */
    {"PR_MDWE_NO_INHERIT", 1u << 1},	   /* Linux 6.6 */
    {"PR_MDWE_REFUSE_EXEC_GAIN", 1u << 0}, /* Linux 6.3 */
    {"PR_SET_MDWE", 65},		   /* Linux 6.3 */
    {"PR_SET_MEMORY_MERGE", 67},	   /* Linux 6.4 */
    {"PR_SET_SHADOW_STACK_STATUS", 75},	   /* Linux 6.13 */
    {"PR_SHADOW_STACK_ENABLE", 1u << 0},   /* Linux 6.13 */
    {"PR_SHADOW_STACK_PUSH", 1u << 2},	   /* Linux 6.13 */
    {"PR_SHADOW_STACK_WRITE", 1u << 1},	   /* Linux 6.13 */
    {"SO_PASSPIDFD", 76},		   /* Linux 6.5 */
    {"SO_PEERPIDFD", 77},		   /* Linux 6.5 */
};

const struct bx_name_value *bx_name_table_find(const struct bx_name_value *table, size_t n,
					       const char *name, size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = table[mid].name;
		int c = strncmp(m, name, len);

		if (c == 0 && m[len] != '\0')
			c = 1; /* m is longer: name sorts first */
		if (c == 0)
			return &table[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int bx_policy_constant(const char *name, size_t len, uint64_t *out)
{
	const struct bx_name_value *e;

	if (len == 0 || memchr(name, '\0', len))
		return -ENOENT;
	e = bx_name_table_find(bx_gen_constants, bx_gen_constants_count, name, len);
	if (!e)
		e = bx_name_table_find(hand, sizeof(hand) / sizeof(hand[0]), name, len);
	if (e) {
		*out = e->value;
		return 0;
	}
	/* errno names the headers spell another way, from the C library (glibc >= 2.32). */
	if (len > 1 && len < 32 && name[0] == 'E') {
		for (int v = 1; v < 4096; v++) {
			const char *n = strerrorname_np(v);

			if (n && strlen(n) == len && memcmp(n, name, len) == 0) {
				*out = (uint64_t)v;
				return 0;
			}
		}
	}
	return -ENOENT;
}

const struct bx_name_value *bx_policy_constants_hand(size_t *n)
{
	*n = sizeof(hand) / sizeof(hand[0]);
	return hand;
}

const char *bx_policy_errno_name(uint32_t value)
{
	return value < 4096 ? strerrorname_np((int)value) : NULL;
}
