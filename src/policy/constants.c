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

/* prctl's options: the names a value of its first argument goes by (not PR_SET_MM_*...). */
static const char *const prctl_options[] = {"PR_SET_PDEATHSIG",
					    "PR_GET_PDEATHSIG",
					    "PR_GET_DUMPABLE",
					    "PR_SET_DUMPABLE",
					    "PR_GET_UNALIGN",
					    "PR_SET_UNALIGN",
					    "PR_GET_KEEPCAPS",
					    "PR_SET_KEEPCAPS",
					    "PR_GET_FPEMU",
					    "PR_SET_FPEMU",
					    "PR_GET_FPEXC",
					    "PR_SET_FPEXC",
					    "PR_GET_TIMING",
					    "PR_SET_TIMING",
					    "PR_SET_NAME",
					    "PR_GET_NAME",
					    "PR_GET_ENDIAN",
					    "PR_SET_ENDIAN",
					    "PR_GET_SECCOMP",
					    "PR_SET_SECCOMP",
					    "PR_CAPBSET_READ",
					    "PR_CAPBSET_DROP",
					    "PR_GET_TSC",
					    "PR_SET_TSC",
					    "PR_GET_SECUREBITS",
					    "PR_SET_SECUREBITS",
					    "PR_SET_TIMERSLACK",
					    "PR_GET_TIMERSLACK",
					    "PR_TASK_PERF_EVENTS_DISABLE",
					    "PR_TASK_PERF_EVENTS_ENABLE",
					    "PR_MCE_KILL",
					    "PR_MCE_KILL_GET",
					    "PR_SET_MM",
					    "PR_SET_PTRACER",
					    "PR_SET_CHILD_SUBREAPER",
					    "PR_GET_CHILD_SUBREAPER",
					    "PR_SET_NO_NEW_PRIVS",
					    "PR_GET_NO_NEW_PRIVS",
					    "PR_GET_TID_ADDRESS",
					    "PR_SET_THP_DISABLE",
					    "PR_GET_THP_DISABLE",
					    "PR_MPX_ENABLE_MANAGEMENT",
					    "PR_MPX_DISABLE_MANAGEMENT",
					    "PR_SET_FP_MODE",
					    "PR_GET_FP_MODE",
					    "PR_CAP_AMBIENT",
					    "PR_SVE_SET_VL",
					    "PR_SVE_GET_VL",
					    "PR_GET_SPECULATION_CTRL",
					    "PR_SET_SPECULATION_CTRL",
					    "PR_PAC_RESET_KEYS",
					    "PR_SET_TAGGED_ADDR_CTRL",
					    "PR_GET_TAGGED_ADDR_CTRL",
					    "PR_SET_IO_FLUSHER",
					    "PR_GET_IO_FLUSHER",
					    "PR_SET_SYSCALL_USER_DISPATCH",
					    "PR_PAC_SET_ENABLED_KEYS",
					    "PR_PAC_GET_ENABLED_KEYS",
					    "PR_SCHED_CORE",
					    "PR_SME_SET_VL",
					    "PR_SME_GET_VL",
					    "PR_SET_MDWE",
					    "PR_GET_MDWE",
					    "PR_SET_VMA",
					    "PR_GET_AUXV",
					    "PR_SET_MEMORY_MERGE",
					    "PR_GET_MEMORY_MERGE",
					    "PR_GET_SHADOW_STACK_STATUS",
					    "PR_SET_SHADOW_STACK_STATUS",
					    "PR_LOCK_SHADOW_STACK_STATUS",
					    NULL};

/* Address families, the usual spelling first (AF_UNIX, not AF_LOCAL or AF_FILE). */
static const char *const families[] = {
    "AF_UNSPEC", "AF_UNIX",	 "AF_INET",	  "AF_INET6",	 "AF_NETLINK", "AF_PACKET",
    "AF_VSOCK",	 "AF_BLUETOOTH", "AF_ALG",	  "AF_KEY",	 "AF_CAN",     "AF_XDP",
    "AF_TIPC",	 "AF_RDS",	 "AF_QIPCRTR",	  "AF_NFC",	 "AF_MCTP",    "AF_SMC",
    "AF_KCM",	 "AF_IB",	 "AF_ISDN",	  "AF_PPPOX",	 "AF_LLC",     "AF_X25",
    "AF_AX25",	 "AF_IPX",	 "AF_APPLETALK",  "AF_DECnet",	 "AF_ROSE",    "AF_NETROM",
    "AF_BRIDGE", "AF_ATMPVC",	 "AF_ATMSVC",	  "AF_SECURITY", "AF_WANPIPE", "AF_IRDA",
    "AF_ECONET", "AF_PHONET",	 "AF_IEEE802154", "AF_CAIF",	 "AF_RXRPC",   "AF_IUCV",
    NULL};

static const char *name_of(const char *const *names, uint64_t value)
{
	for (size_t i = 0; names[i]; i++) {
		uint64_t v;

		if (bx_policy_constant(names[i], strlen(names[i]), &v) == 0 && v == value)
			return names[i];
	}
	return NULL;
}

const char *bx_policy_arg_name(const char *syscall, unsigned arg, uint64_t value)
{
	if (strcmp(syscall, "prctl") == 0 && arg == 0)
		return name_of(prctl_options, value);
	if ((strcmp(syscall, "socket") == 0 || strcmp(syscall, "socketpair") == 0) && arg == 0)
		return name_of(families, value);
	return NULL;
}
