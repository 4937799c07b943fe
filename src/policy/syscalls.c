/* SPDX-License-Identifier: MIT */
/*
 * Syscall names <-> numbers for the native architecture. libseccomp is asked
 * first; a name it does not know (it lags the kernel: Debian 12's 2.5.4 has
 * no mseal, listmount...) is looked up in the build host's <asm/unistd.h>,
 * generated into a table at build time (gen_tables.cmake), and then in a
 * short hand list of numbers newer than the oldest supported build host's
 * headers. A rule for such a syscall is added to the filter by number, which
 * libseccomp accepts. A name none of them knows is an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"
#include "policy/tables.h"

#if defined(__x86_64__)
/*
 * x86_64 syscalls that Debian 12's headers (Linux 6.1) lack. Numbers of the
 * x86_64 ABI (arch/x86/entry/syscalls/syscall_64.tbl), which never change.
 * Sorted by name.
 */
static const struct bx_name_value hand[] = {
    {"cachestat", 451},		/* Linux 6.5 */
    {"fchmodat2", 452},		/* Linux 6.6 */
    {"file_getattr", 468},	/* Linux 6.17 */
    {"file_setattr", 469},	/* Linux 6.17 */
    {"futex_requeue", 456},	/* Linux 6.7 */
    {"futex_wait", 455},	/* Linux 6.7 */
    {"futex_wake", 454},	/* Linux 6.7 */
    {"getxattrat", 464},	/* Linux 6.13 */
    {"listmount", 458},		/* Linux 6.8 */
    {"listxattrat", 465},	/* Linux 6.13 */
    {"lsm_get_self_attr", 459}, /* Linux 6.8 */
    {"lsm_list_modules", 461},	/* Linux 6.8 */
    {"lsm_set_self_attr", 460}, /* Linux 6.8 */
    {"map_shadow_stack", 453},	/* Linux 6.6 */
    {"mseal", 462},		/* Linux 6.10 */
    {"open_tree_attr", 467},	/* Linux 6.15 */
    {"removexattrat", 466},	/* Linux 6.13 */
    {"setxattrat", 463},	/* Linux 6.13 */
    {"statmount", 457},		/* Linux 6.8 */
};
#define HAND_COUNT (sizeof(hand) / sizeof(hand[0]))
#else
static const struct bx_name_value hand[1] = {{"", 0}};
#define HAND_COUNT 0
#endif

int bx_syscall_resolve(const char *name)
{
	const struct bx_name_value *e;
	int nr;

	if (!name || !*name || strlen(name) >= BX_SYSCALL_NAME_MAX)
		return -ENOENT;
	nr = seccomp_syscall_resolve_name(name);
	if (nr >= 0)
		return nr;
	if (nr != __NR_SCMP_ERROR)
		return -EAFNOSUPPORT; /* a syscall, but of another architecture */
	e = bx_name_table_find(bx_gen_syscalls, bx_gen_syscalls_count, name, strlen(name));
	if (!e)
		e = bx_name_table_find(hand, HAND_COUNT, name, strlen(name));
	return e ? (int)e->value : -ENOENT;
}

const char *bx_syscall_name(int nr, char *buf, size_t len)
{
	char *n;

	if (nr < 0 || !buf || len == 0)
		return NULL;
	n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (n) {
		snprintf(buf, len, "%s", n);
		free(n);
		return buf;
	}
	for (size_t i = 0; i < bx_gen_syscalls_count; i++)
		if (bx_gen_syscalls[i].value == (uint64_t)nr) {
			snprintf(buf, len, "%s", bx_gen_syscalls[i].name);
			return buf;
		}
	for (size_t i = 0; i < HAND_COUNT; i++)
		if (hand[i].value == (uint64_t)nr) {
			snprintf(buf, len, "%s", hand[i].name);
			return buf;
		}
	return NULL;
}

int bx_syscall_max(void)
{
	uint64_t max = 0;

	for (size_t i = 0; i < bx_gen_syscalls_count; i++)
		if (bx_gen_syscalls[i].value > max)
			max = bx_gen_syscalls[i].value;
	for (size_t i = 0; i < HAND_COUNT; i++)
		if (hand[i].value > max)
			max = hand[i].value;
	return (int)max;
}

const struct bx_name_value *bx_syscalls_hand(size_t *n)
{
	*n = HAND_COUNT;
	return hand;
}
