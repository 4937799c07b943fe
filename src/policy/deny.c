/* SPDX-License-Identifier: MIT */
/*
 * The deny list: syscalls (or argument values of a syscall) that no worker
 * gets, whatever its policy says. It is data of the policy layer, compiled
 * into a seccomp filter of its own (compile.c) that is stacked under the
 * policy's filter: the kernel runs both and takes the more restrictive
 * answer, so a denied call fails with its errno even when the policy allows
 * it, and a call the policy kills is still killed. A policy may drop named
 * entries with `override-deny-list` (loudly); a policy rule the list
 * overrides gets a warning at its line (parse.c), never an error.
 *
 * Each entry says why, with the public report behind it (SECURITY.md, "The
 * deny list", repeats the table).
 */
#define _GNU_SOURCE
#include "policy/filter.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

#define LOW32 0xffffffffULL

static struct bx_deny_entry entries[] = {
    /*
     * Namespaces expose code that was root-only to unprivileged users:
     * CVE-2022-0185 (fsconfig heap overflow), CVE-2022-0492 (cgroup v1
     * release_agent escape), CVE-2023-32233 (nf_tables), all reached
     * through a new user namespace. The worker's namespaces are set up
     * before the filter; it never needs to make or join one.
     */
    {.name = "unshare",
     .errno_value = EPERM,
     .arg = -1,
     .why = "new namespaces: CVE-2022-0185, CVE-2022-0492, CVE-2023-32233"},
    {.name = "setns", .errno_value = EPERM, .arg = -1, .why = "joining namespaces"},
    /* clone with any CLONE_NEW* flag; the cubes are filled in by init(). */
    {.name = "clone",
     .errno_value = EPERM,
     .arg = 0,
     .what = "with a namespace flag (CLONE_NEW*)",
     .why = "new namespaces, as unshare"},
    /*
     * clone3 passes its flags in memory, which BPF cannot read, so it
     * cannot be checked like clone. ENOSYS (not EPERM) makes glibc >= 2.34
     * fall back to clone, whose flags are checked (runc and Docker do the
     * same, moby/moby#42680).
     */
    {.name = "clone3",
     .errno_value = ENOSYS,
     .arg = -1,
     .why = "flags in memory, unreadable by the filter; ENOSYS makes glibc use clone"},
    /*
     * Debugging or reaching into other processes: CVE-2019-13272
     * (PTRACE_TRACEME credential confusion); before Linux 4.8 a tracer
     * could also rewrite a syscall after the filter had passed it.
     * process_vm_* read and write another process's memory,
     * process_madvise acts on another process's memory, pidfd_getfd takes
     * a copy of another process's fd (the setup-phase attack of issue #11:
     * a worker's beam socket taken this way); all need only ptrace access.
     */
    {.name = "ptrace",
     .errno_value = EPERM,
     .arg = -1,
     .why = "debugging other processes: CVE-2019-13272"},
    {.name = "process_vm_readv",
     .errno_value = EPERM,
     .arg = -1,
     .why = "reads another process's memory"},
    {.name = "process_vm_writev",
     .errno_value = EPERM,
     .arg = -1,
     .why = "writes another process's memory"},
    {.name = "process_madvise",
     .errno_value = EPERM,
     .arg = -1,
     .why = "acts on another process's memory (ptrace access)"},
    {.name = "pidfd_getfd",
     .errno_value = EPERM,
     .arg = -1,
     .why = "takes another process's fds (ptrace access)"},
    /* The eBPF verifier is a repeat LPE source: CVE-2021-3490, CVE-2022-23222. */
    {.name = "bpf",
     .errno_value = EPERM,
     .arg = -1,
     .why = "verifier bugs: CVE-2021-3490, CVE-2022-23222"},
    /* CVE-2013-2094 (perf_swevent_init), and a side channel on other processes. */
    {.name = "perf_event_open",
     .errno_value = EPERM,
     .arg = -1,
     .why = "CVE-2013-2094, and a side channel"},
    /*
     * Lets a thread stall the kernel on a page fault, the standard way to
     * win kernel races in exploits; why vm.unprivileged_userfaultfd exists.
     */
    {.name = "userfaultfd",
     .errno_value = EPERM,
     .arg = -1,
     .why = "makes kernel races easy to win"},
    /*
     * io_uring: CVE-2022-29582, CVE-2023-2598 and many more; Google reported
     * most of its 2022 kCTF kernel exploit submissions went through it and
     * turned it off on ChromeOS, Android apps and its production servers.
     */
    {.name = "io_uring_setup",
     .errno_value = EPERM,
     .arg = -1,
     .why = "CVE-2022-29582, CVE-2023-2598"},
    {.name = "io_uring_enter",
     .errno_value = EPERM,
     .arg = -1,
     .why = "CVE-2022-29582, CVE-2023-2598"},
    {.name = "io_uring_register",
     .errno_value = EPERM,
     .arg = -1,
     .why = "CVE-2022-29582, CVE-2023-2598"},
    /* Kernel keyrings are not namespaced: CVE-2016-0728 (keyctl refcount overflow). */
    {.name = "keyctl",
     .errno_value = EPERM,
     .arg = -1,
     .why = "keyrings are not namespaced: CVE-2016-0728"},
    {.name = "add_key",
     .errno_value = EPERM,
     .arg = -1,
     .why = "keyrings are not namespaced: CVE-2016-0728"},
    {.name = "request_key",
     .errno_value = EPERM,
     .arg = -1,
     .why = "keyrings are not namespaced: CVE-2016-0728"},
    /* Replacing the kernel or loading code into it. */
    {.name = "kexec_load", .errno_value = EPERM, .arg = -1, .why = "replaces the kernel"},
    {.name = "kexec_file_load", .errno_value = EPERM, .arg = -1, .why = "replaces the kernel"},
    {.name = "init_module", .errno_value = EPERM, .arg = -1, .why = "loads kernel code"},
    {.name = "finit_module", .errno_value = EPERM, .arg = -1, .why = "loads kernel code"},
    {.name = "delete_module", .errno_value = EPERM, .arg = -1, .why = "unloads kernel code"},
    /*
     * Changing the filesystem view the worker was given (CVE-2022-0492
     * mounts cgroupfs; the new mount API is where CVE-2022-0185 lives).
     * open_tree_attr (Linux 6.15) is open_tree with mount attributes.
     */
    {.name = "mount", .errno_value = EPERM, .arg = -1, .why = "changes the filesystem view"},
    {.name = "umount2", .errno_value = EPERM, .arg = -1, .why = "changes the filesystem view"},
    {.name = "pivot_root", .errno_value = EPERM, .arg = -1, .why = "changes the filesystem view"},
    {.name = "chroot", .errno_value = EPERM, .arg = -1, .why = "changes the filesystem view"},
    {.name = "fsopen", .errno_value = EPERM, .arg = -1, .why = "new mount API: CVE-2022-0185"},
    {.name = "fsmount", .errno_value = EPERM, .arg = -1, .why = "new mount API: CVE-2022-0185"},
    {.name = "fsconfig", .errno_value = EPERM, .arg = -1, .why = "new mount API: CVE-2022-0185"},
    {.name = "fspick", .errno_value = EPERM, .arg = -1, .why = "new mount API: CVE-2022-0185"},
    {.name = "move_mount", .errno_value = EPERM, .arg = -1, .why = "new mount API"},
    {.name = "open_tree", .errno_value = EPERM, .arg = -1, .why = "new mount API"},
    {.name = "open_tree_attr",
     .errno_value = EPERM,
     .arg = -1,
     .why = "new mount API (Linux 6.15)"},
    {.name = "mount_setattr", .errno_value = EPERM, .arg = -1, .why = "new mount API"},
    /*
     * Opens any file of a mount by its handle, bypassing the path walk: the
     * 2014 "shocker" Docker breakout read the host's /etc/shadow with it.
     */
    {.name = "open_by_handle_at",
     .errno_value = EPERM,
     .arg = -1,
     .why = "the 2014 \"shocker\" container escape"},
    /*
     * ioctl(fd, request, ...): no TIOCSTI, which pushes input into a
     * terminal shared with the outside (CVE-2017-5226 bubblewrap,
     * CVE-2016-7545 SELinux sandbox), nor TIOCLINUX, whose console
     * selection paste does the same (CVE-2023-1523 snapd). request is an
     * unsigned int for the kernel: compared on its low 32 bits, so garbage
     * in the high half does not slip past.
     */
    {.name = "ioctl",
     .errno_value = EPERM,
     .arg = 1,
     .what = "with TIOCSTI or TIOCLINUX",
     .why = "typing into the parent's terminal: CVE-2017-5226, CVE-2016-7545, CVE-2023-1523"},
    /*
     * personality(persona): only 0 (PER_LINUX) and 0xffffffff (query).
     * Other personas bring back old exploit aids: MMAP_PAGE_ZERO
     * (CVE-2009-2692 sock_sendpage NULL dereference), READ_IMPLIES_EXEC,
     * ADDR_NO_RANDOMIZE (ASLR off for the next exec).
     */
    {.name = "personality",
     .errno_value = EPERM,
     .arg = 0,
     .what = "with a persona other than 0 and the query 0xffffffff",
     .why = "CVE-2009-2692, READ_IMPLIES_EXEC, ASLR off"},
    /*
     * socket(AF_VSOCK, ...): vsock is not network-namespaced, so a worker
     * would share the host's vsock port space (seen under learning mode:
     * bind failed with EADDRINUSE because a host process held the port) and
     * could reach the hypervisor. EAFNOSUPPORT is what a kernel without
     * vsock answers, which programs already handle.
     */
    {.name = "socket",
     .errno_value = EAFNOSUPPORT,
     .arg = 0,
     .what = "with AF_VSOCK",
     .why = "vsock is not namespaced: the host's ports and the hypervisor"},
};

#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

/*
 * Writes cubes whose union is "the low 32 bits are neither a nor b" (the
 * high 32 bits are free, as the kernel ignores them for int arguments).
 * x is neither a nor b iff it differs from both at a bit where a and b
 * agree, or, on the bits where they differ (where b is ~a), x is neither
 * all-equal to a nor all-opposite: then x is "mixed" on the pair made of
 * the first differing bit and some other differing bit j. Returns the
 * count: 32 + popcount(a ^ b) - 2 (at most 62).
 */
static size_t cubes_low32_not_in(uint32_t a, uint32_t b, struct bx_cube *out)
{
	uint32_t diff = a ^ b, first = diff & -diff;
	size_t n = 0;

	for (unsigned i = 0; i < 32; i++) {
		uint32_t bit = 1u << i;

		if (!(diff & bit))
			out[n++] = (struct bx_cube){bit, ~a & bit};
		else if (bit != first) {
			out[n++] = (struct bx_cube){first | bit, (a & first) | (~a & bit)};
			out[n++] = (struct bx_cube){first | bit, (~a & first) | (a & bit)};
		}
	}
	return n;
}

static void init(void)
{
	static const uint64_t ns[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,	   CLONE_NEWUSER,
				      CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};

	for (size_t i = 0; i < NENTRIES; i++) {
		struct bx_deny_entry *e = &entries[i];

		if (strcmp(e->name, "clone") == 0) {
			/* The kernel reads the low 32 bits of flags; all ns flags live there. */
			for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
				e->cubes[e->ncubes++] = (struct bx_cube){ns[k], ns[k]};
		} else if (strcmp(e->name, "ioctl") == 0) {
			e->cubes[e->ncubes++] = (struct bx_cube){LOW32, TIOCSTI};
			e->cubes[e->ncubes++] = (struct bx_cube){LOW32, TIOCLINUX};
		} else if (strcmp(e->name, "personality") == 0) {
			e->ncubes = cubes_low32_not_in(0, 0xffffffffu, e->cubes);
		} else if (strcmp(e->name, "socket") == 0) {
			e->cubes[e->ncubes++] = (struct bx_cube){LOW32, AF_VSOCK};
		}
		if (!e->what)
			e->what = "";
	}
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

const struct bx_deny_entry *bx_deny_entries(size_t *n)
{
	pthread_once(&once, init);
	*n = NENTRIES;
	return entries;
}

const struct bx_deny_entry *bx_deny_find(const char *name)
{
	pthread_once(&once, init);
	for (size_t i = 0; i < NENTRIES; i++) {
		if (strcmp(name, entries[i].name) == 0)
			return &entries[i];
	}
	return NULL;
}

bool bx_deny_overridden(const struct bx_policy *p, const char *name)
{
	for (size_t i = 0; i < p->noverride_deny; i++) {
		if (p->override_deny[i] && strcmp(p->override_deny[i], name) == 0)
			return true;
	}
	return false;
}

/* Whether some value of the cube satisfies c (conservative: true when unsure). */
static bool cmp_may_hit(const struct bx_sc_cmp *c, const struct bx_cube *k)
{
	uint64_t lo = k->value, hi = k->value | ~k->mask; /* the cube's extremes */
	uint64_t common = c->mask & k->mask;

	switch (c->op) {
	case BX_SC_EQ:
		return (c->value & k->mask) == k->value;
	case BX_SC_LT:
		return lo < c->value;
	case BX_SC_LE:
		return lo <= c->value;
	case BX_SC_GT:
		return hi > c->value;
	case BX_SC_GE:
		return hi >= c->value;
	case BX_SC_MASKED_EQ:
		return (c->value & common) == (k->value & common);
	case BX_SC_NE:
	default:
		return true;
	}
}

bool bx_deny_may_hit(const struct bx_deny_entry *e, const struct bx_sc_clause *cl)
{
	if (e->arg < 0 || !cl)
		return true;
	for (size_t i = 0; i < cl->ncmp; i++) {
		if (cl->cmp[i].arg != (unsigned)e->arg)
			continue;
		for (size_t k = 0; k < e->ncubes; k++) {
			if (cmp_may_hit(&cl->cmp[i], &e->cubes[k]))
				return true;
		}
		return false;
	}
	return true; /* the clause does not look at the argument: any value */
}
