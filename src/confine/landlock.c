/* SPDX-License-Identifier: MIT */
/*
 * Step 7: landlock, a second layer over the filesystem view: even if a
 * mount were misconfigured, only what the view step mounted (the binds, /tmp,
 * the three /dev nodes, /proc; given as the fds that step opened, not as
 * paths looked up again) is reachable, with write access only where the
 * policy says rw and execution only where it allows exec. Where the ABI has them, TCP bind/connect
 * are refused and abstract unix sockets and signals are scoped to the sandbox.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

/* Our own copies of the uapi (Debian 12's headers predate ABI 4-7). */
struct bx_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct bx_ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH	  1

#define LL_FS_EXECUTE	       (1ULL << 0)
#define LL_FS_WRITE_FILE       (1ULL << 1)
#define LL_FS_READ_FILE	       (1ULL << 2)
#define LL_FS_READ_DIR	       (1ULL << 3)
#define LL_FS_REMOVE_DIR       (1ULL << 4)
#define LL_FS_REMOVE_FILE      (1ULL << 5)
#define LL_FS_MAKE_CHAR	       (1ULL << 6)
#define LL_FS_MAKE_DIR	       (1ULL << 7)
#define LL_FS_MAKE_REG	       (1ULL << 8)
#define LL_FS_MAKE_SOCK	       (1ULL << 9)
#define LL_FS_MAKE_FIFO	       (1ULL << 10)
#define LL_FS_MAKE_BLOCK       (1ULL << 11)
#define LL_FS_MAKE_SYM	       (1ULL << 12)
#define LL_FS_REFER	       (1ULL << 13) /* ABI 2 */
#define LL_FS_TRUNCATE	       (1ULL << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV	       (1ULL << 15) /* ABI 5 */
#define LL_NET_BIND_TCP	       (1ULL << 0)  /* ABI 4 */
#define LL_NET_CONNECT_TCP     (1ULL << 1)  /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)  /* ABI 6 */
#define LL_SCOPE_SIGNAL	       (1ULL << 1)  /* ABI 6 */

#define LL_FS_FILE_ONLY                                                                            \
	(LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
#define LL_FS_READ (LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR)
#define LL_FS_WRITE                                                                                \
	(LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR |                \
	 LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_SYM | LL_FS_REFER |       \
	 LL_FS_TRUNCATE)

static uint64_t fs_handled_for_abi(int abi)
{
	uint64_t all = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1 */

	if (abi >= 2)
		all |= LL_FS_REFER;
	if (abi >= 3)
		all |= LL_FS_TRUNCATE;
	if (abi >= 5)
		all |= LL_FS_IOCTL_DEV;
	return all;
}

/*
 * Adds "fd and beneath may do access" (masked to what the ruleset handles and
 * the file type allows). fd is one the view step opened on what it mounted,
 * never a path looked up again here; what names it in messages.
 */
static int allow_fd(int ruleset, const char *what, int fd, uint64_t access, uint64_t handled,
		    bx_error *err)
{
	struct bx_ll_path_beneath pb;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "landlock: fstat(%s): %m", what);
	if (!S_ISDIR(st.st_mode))
		access &= LL_FS_FILE_ONLY;
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (!pb.allowed_access)
		return 0;
	if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "landlock: add_rule(%s): %m", what);
	return 0;
}

/* Adds the rules for what the view step mounted (view's fds). */
static int allow_view(int ruleset, const struct bx_policy *p, const struct bx_view *view,
		      uint64_t handled, bx_error *err)
{
	static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/urandom"};
	int r;

	for (size_t i = 0; i < p->nbinds; i++) {
		const struct bx_bind *b = &p->binds[i];
		uint64_t access = LL_FS_READ | (b->rw ? LL_FS_WRITE : 0);

		if (view->bind_fd[i] < 0) {
			/* Only an optional bind whose source was absent is not mounted. */
			if (!b->optional)
				return bx_fail(err, -ENOENT, BX_NO_OFFSET,
					       "landlock: required bind %s was not mounted",
					       b->dst);
			continue;
		}
		if (!b->exec)
			access &= ~LL_FS_EXECUTE;
		r = allow_fd(ruleset, b->dst, view->bind_fd[i], access, handled, err);
		if (r < 0)
			return r;
	}
	if (view->tmp_fd >= 0) {
		r = allow_fd(ruleset, "/tmp", view->tmp_fd,
			     (LL_FS_READ | LL_FS_WRITE) & ~LL_FS_EXECUTE, handled, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < 3; i++) {
		if (view->dev_fd[i] < 0)
			return bx_fail(err, -ENOENT, BX_NO_OFFSET, "landlock: %s was not mounted",
				       devs[i]);
		r = allow_fd(ruleset, devs[i], view->dev_fd[i], LL_FS_READ_FILE | LL_FS_WRITE_FILE,
			     handled, err);
		if (r < 0)
			return r;
	}
	if (view->proc_fd >= 0) {
		r = allow_fd(ruleset, "/proc", view->proc_fd, LL_FS_READ_FILE | LL_FS_READ_DIR,
			     handled, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int bx_step_landlock(const struct bx_policy *p, const struct bx_confine_opts *o,
		     const struct bx_view *view, struct bx_confine_report *rep, bx_error *err)
{
	struct bx_ll_ruleset_attr attr;
	_cleanup_fd_ int ruleset = -1;
	uint64_t handled;
	int abi, r;

	if (p->landlock == BX_NEED_OFF) {
		bx_report_add(rep, "landlock: off");
		return 0;
	}
	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1) {
		r = abi < 0 ? -errno : -EOPNOTSUPP;
		if (p->landlock == BX_NEED_REQUIRED)
			return bx_fail(err, r, BX_NO_OFFSET,
				       "landlock (required): not available: %s", strerror(-r));
		bx_report_add(rep, "landlock: skipped (optional): %s", strerror(-r));
		return 0;
	}
	if (!(rep->namespaces & BX_NS_MOUNT)) {
		/* Without our own root the paths below would name the host's. */
		if (p->landlock == BX_NEED_REQUIRED)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "landlock (required): needs the mount namespace");
		bx_report_add(rep, "landlock: skipped (no mount namespace)");
		return 0;
	}

	memset(&attr, 0, sizeof(attr));
	handled = fs_handled_for_abi(abi);
	attr.handled_access_fs = handled;
	if (abi >= 4)
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi >= 6)
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
			       abi >= 6	  ? sizeof(attr)
			       : abi >= 4 ? offsetof(struct bx_ll_ruleset_attr, scoped)
					  : offsetof(struct bx_ll_ruleset_attr, handled_access_net),
			       0);
	if (ruleset < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "landlock: create_ruleset(ABI %d): %m",
			       abi);

	r = allow_view(ruleset, p, view, handled, err);
	if (r < 0)
		return r;
	if (o->exec_fd >= 0) {
		r = allow_fd(ruleset, "the program to execute", o->exec_fd,
			     LL_FS_EXECUTE | LL_FS_READ_FILE, handled, err);
		if (r < 0)
			return r;
	}
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "landlock: restrict_self: %m");
	rep->landlock_abi = abi;
	bx_report_add(rep, "landlock: ABI %d, fs limited to the view%s%s", abi,
		      abi >= 4 ? ", no TCP bind/connect" : "",
		      abi >= 6 ? ", abstract unix sockets and signals scoped" : "");
	return 0;
}
