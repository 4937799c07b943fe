/* SPDX-License-Identifier: MIT */
/*
 * The policy language's name tables, generated at build time from the build
 * host's headers (src/policy/gen_tables.cmake): the named constants and the
 * syscall numbers, plus their hand lists.
 *
 *   - a table of {name, value the compiler gives here}: every class of
 *     constant real policies use (GRND_*, MADV_*, TCGETS2, PR_*, AF_*, SIOC*,
 *     SIG*, MS_*, ioctl numbers of linux/fs.h, termios, sockios, loop, random,
 *     dma-buf, DRM, KVM, V4L2, sound, input...) resolves, to the same value;
 *   - every upper-case name the realistic fixtures (tests/data/minijail) use
 *     resolves;
 *   - the hand lists agree with the generated tables wherever both have a
 *     name, and carry what Debian 12's headers lack (MADV_GUARD_INSTALL,
 *     mseal, listmount, open_tree_attr...);
 *   - syscall names resolve through libseccomp first, then the kernel's
 *     table; a name neither knows is an error.
 */
#define _GNU_SOURCE
#include "tests_common.h"

#include <dirent.h>
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kernel headers only (glibc's termios/socket headers clash with asm/termbits.h). */
#include <asm/ioctls.h>
#include <asm/prctl.h>
#include <asm/termbits.h>
#include <linux/dma-buf.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/loop.h>
#include <linux/mman.h>
#include <linux/prctl.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sockios.h>
#include <linux/sync_file.h>
#include <linux/videodev2.h>
#include <sound/asound.h>

#include "policy/policy_internal.h"
#include "policy/tables.h"

#define C(x)                                                                                       \
	{                                                                                          \
#x, (uint64_t)(x)                                                                  \
	}

static const struct {
	const char *name;
	uint64_t value;
} expected[] = {
    /* random */
    C(GRND_NONBLOCK),
    C(GRND_RANDOM),
    C(GRND_INSECURE),
    C(RNDGETENTCNT),
    C(RNDADDENTROPY),
    /* madvise, mmap */
    C(MADV_DONTNEED),
    C(MADV_FREE),
    C(MADV_WIPEONFORK),
    C(MADV_COLD),
    C(MADV_PAGEOUT),
    C(MADV_POPULATE_READ),
    C(MADV_COLLAPSE),
    C(PROT_EXEC),
    C(MAP_ANONYMOUS),
    C(MAP_FIXED_NOREPLACE),
    /* termios: TCGETS2 needs struct termios2 (asm/termbits.h) */
    C(TCGETS),
    C(TCGETS2),
    C(TCSETS2),
    C(TIOCGWINSZ),
    C(TIOCSTI),
    C(FIONREAD),
    C(FIOCLEX),
    /* prctl */
    C(PR_SET_NAME),
    C(PR_SET_KEEPCAPS),
    C(PR_CAPBSET_READ),
    C(PR_SET_NO_NEW_PRIVS),
    C(PR_SET_VMA),
    C(PR_SET_VMA_ANON_NAME),
    C(ARCH_SET_FS),
    /* sockios */
    C(SIOCGIFADDR),
    C(SIOCGIFFLAGS),
    C(SIOCSIFFLAGS),
    C(SIOCGIFINDEX),
    C(SIOCGSTAMP),
    C(SIOCETHTOOL),
    C(TUNSETIFF),
    /* linux/fs.h */
    C(FS_IOC_GETFLAGS),
    C(FS_IOC_SETFLAGS),
    C(FS_IOC_FIEMAP),
    C(FS_IOC_FSGETXATTR),
    C(FICLONE),
    C(FITRIM),
    C(BLKGETSIZE64),
    C(BLKSSZGET),
    C(MS_RDONLY),
    C(MS_NOSUID),
    C(MS_BIND),
    C(MS_REC),
    C(RENAME_NOREPLACE),
    /* loop */
    C(LOOP_SET_FD),
    C(LOOP_CONFIGURE),
    C(LOOP_CTL_GET_FREE),
    C(LOOP_SET_STATUS64),
    /* dma-buf, sync files */
    C(DMA_BUF_IOCTL_SYNC),
    C(DMA_BUF_SET_NAME),
    C(SYNC_IOC_MERGE),
    /* KVM, V4L2, sound */
    C(KVM_RUN),
    C(KVM_CREATE_VM),
    C(KVM_SET_USER_MEMORY_REGION),
    C(VIDIOC_QBUF),
    C(VIDIOC_STREAMON),
    C(SNDRV_PCM_IOCTL_PREPARE),
    C(SNDRV_CTL_IOCTL_CARD_INFO),
    /* futex, clone */
    C(FUTEX_WAIT_PRIVATE),
    C(FUTEX_CLOCK_REALTIME),
    C(CLONE_THREAD),
    C(CLONE_NEWUSER),
    C(CLONE_NEWTIME),
};

/* Constants whose value the test spells out: their headers cannot join the ones above. */
static const struct {
	const char *name;
	uint64_t value;
} literal[] = {
    {"AF_UNIX", 1},
    {"AF_INET6", 10},
    {"AF_NETLINK", 16},
    {"AF_VSOCK", 40},
    {"AF_BLUETOOTH", 31},
    {"AF_ALG", 38},
    {"SIGKILL", 9},
    {"SIGSYS", 31},
    {"SIGTERM", 15},
    {"SIG_BLOCK", 0},
    {"SOCK_CLOEXEC", 02000000},
    {"EPERM", 1},
    {"ENOTTY", 25},
    {"EAFNOSUPPORT", 97},
    {"O_CLOEXEC", 02000000},
    {"F_DUPFD_CLOEXEC", 1030},
    {"F_OFD_SETLK", 37},
    {"AT_FDCWD", (uint64_t)-100},
    {"EVIOCGVERSION", 0x80044501},
    {"DRM_IOCTL_VERSION", 0xc0406400},
    {"FUSE_DEV_IOC_CLONE", 0x8004e500},
    {"NCCS", 32}, /* glibc's struct termios (the libc group wins over the kernel's 19) */
    /* The hand list: newer than Debian 12's headers. */
    {"MADV_GUARD_INSTALL", 102},
    {"MADV_GUARD_REMOVE", 103},
    {"PR_SET_MDWE", 65},
    {"PR_GET_AUXV", 0x41555856},
    {"MFD_NOEXEC_SEAL", 8},
};

static void test_constants(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		uint64_t v;

		if (bx_policy_constant(expected[i].name, strlen(expected[i].name), &v) < 0) {
			print_error("%s: unknown\n", expected[i].name);
			bad++;
		} else if (v != expected[i].value) {
			print_error("%s: %#llx, the headers say %#llx\n", expected[i].name,
				    (unsigned long long)v, (unsigned long long)expected[i].value);
			bad++;
		}
	}
	for (size_t i = 0; i < sizeof(literal) / sizeof(literal[0]); i++) {
		uint64_t v;

		if (bx_policy_constant(literal[i].name, strlen(literal[i].name), &v) < 0 ||
		    v != literal[i].value) {
			print_error("%s: want %#llx\n", literal[i].name,
				    (unsigned long long)literal[i].value);
			bad++;
		}
	}
	/* Not constants: strings, pointers, function-like macros, run-time values. */
	{
		static const char *const absent[] = {"SIG_DFL", "MAP_FAILED",	    "SIGRTMIN",
						     "_IOR",	"NO_SUCH_CONSTANT", ""};

		for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
			uint64_t v;

			if (bx_policy_constant(absent[i], strlen(absent[i]), &v) == 0) {
				print_error("%s resolves to %#llx\n", absent[i],
					    (unsigned long long)v);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
	assert_true(bx_gen_constants_count > 10000);
	/* Sorted, so that the lookup's binary search finds every one. */
	for (size_t i = 1; i < bx_gen_constants_count; i++)
		assert_true(strcmp(bx_gen_constants[i - 1].name, bx_gen_constants[i].name) < 0);
}

/* The hand lists agree with the generated tables wherever both know a name. */
static void test_hand_lists(void **state)
{
	size_t n;
	const struct bx_name_value *h = bx_policy_constants_hand(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const struct bx_name_value *g = bx_name_table_find(
		    bx_gen_constants, bx_gen_constants_count, h[i].name, strlen(h[i].name));

		if (i)
			assert_true(strcmp(h[i - 1].name, h[i].name) < 0);
		if (g && g->value != h[i].value)
			fail_msg("%s: hand %#llx, headers %#llx", h[i].name,
				 (unsigned long long)h[i].value, (unsigned long long)g->value);
	}
	h = bx_syscalls_hand(&n);
	for (size_t i = 0; i < n; i++) {
		const struct bx_name_value *g = bx_name_table_find(
		    bx_gen_syscalls, bx_gen_syscalls_count, h[i].name, strlen(h[i].name));
		int lib = seccomp_syscall_resolve_name(h[i].name);

		if (i)
			assert_true(strcmp(h[i - 1].name, h[i].name) < 0);
		if (g && g->value != h[i].value)
			fail_msg("%s: hand %llu, headers %llu", h[i].name,
				 (unsigned long long)h[i].value, (unsigned long long)g->value);
		if (lib >= 0 && (uint64_t)lib != h[i].value)
			fail_msg("%s: hand %llu, libseccomp %d", h[i].name,
				 (unsigned long long)h[i].value, lib);
	}
}

static void test_syscall_names(void **state)
{
	static const struct {
		const char *name;
		int nr; /* -ENOENT, -EAFNOSUPPORT */
	} cases[] = {
	    {"read", 0},
	    {"getpid", 39},
	    {"futex_waitv", 449},	      /* in libseccomp 2.5.4 */
	    {"set_mempolicy_home_node", 450}, /* in the headers */
	    {"cachestat", 451},
	    {"listmount", 458},		   /* Linux 6.8: the hand list on Debian 12 */
	    {"mseal", 462},		   /* Linux 6.10 */
	    {"open_tree_attr", 467},	   /* Linux 6.15 */
	    {"socketcall", -EAFNOSUPPORT}, /* i386's, not x86_64's */
	    {"no_such_syscall", -ENOENT},
	    {"", -ENOENT},
	};
	char buf[BX_SYSCALL_NAME_MAX];

	(void)state;
#if !defined(__x86_64__)
	bx_test_skip("the numbers below are x86_64's");
#endif
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int nr = bx_syscall_resolve(cases[i].name);

		if (nr != cases[i].nr)
			fail_msg("%s: %d, want %d", cases[i].name, nr, cases[i].nr);
		if (nr >= 0) {
			assert_non_null(bx_syscall_name(nr, buf, sizeof(buf)));
			assert_string_equal(buf, cases[i].name);
		}
	}
	assert_null(bx_syscall_name(100000, buf, sizeof(buf)));
	assert_true(bx_syscall_max() >= 467);
	assert_true(bx_gen_syscalls_count > 300);
}

/* Upper-case words outside comments, that are not syscall names nor actions. */
static void check_fixture(const char *path, int *bad)
{
	FILE *f = fopen(path, "re");
	char line[4096];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		char *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		while (*p) {
			size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			uint64_t v;

			if (n > 1 && p[0] >= 'A' && p[0] <= 'Z' &&
			    (p == line || p[-1] == ' ' || p[-1] == '|' || p[-1] == '(' ||
			     p[-1] == '~')) {
				if (bx_policy_constant(p, n, &v) < 0) {
					print_error("%s: %.*s does not resolve\n", path, (int)n, p);
					(*bad)++;
				}
			}
			p += n ? n : 1;
		}
	}
	fclose(f);
}

static void test_fixture_constants(void **state)
{
	const char *dirs[] = {BX_TEST_DATA_DIR "/minijail", BX_TEST_DATA_DIR "/minijail/common"};
	int bad = 0, files = 0;

	(void)state;
	for (size_t d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;

		assert_non_null(dir);
		while ((e = readdir(dir)) != NULL) {
			char path[1024];
			size_t len = strlen(e->d_name);

			if (len < 8 || strcmp(e->d_name + len - 7, ".policy") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			check_fixture(path, &bad);
			files++;
		}
		closedir(dir);
	}
	assert_true(files >= 20);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constants),
	    cmocka_unit_test(test_hand_lists),
	    cmocka_unit_test(test_syscall_names),
	    cmocka_unit_test(test_fixture_constants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
