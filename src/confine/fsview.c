/* SPDX-License-Identifier: MIT */
/*
 * Step 3: the filesystem view. A fresh tmpfs root that holds only what the
 * policy binds (read-only unless it says rw), a fresh /proc for the new pid
 * namespace, a minimal /dev (null, zero, urandom), a size-limited /tmp;
 * then pivot_root into it and detach the old root, so nothing of the host
 * that the policy did not name stays reachable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

#define BASE	"/tmp"
#define NEWROOT "/newroot"
#define OLDROOT "/oldroot"

static int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* Read-only (or not), nosuid, nodev, recursively, for a mount and everything below it. */
static int lock_down(const char *path, bool rw, bool recursive)
{
	struct mount_attr attr = {
	    .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (rw ? 0 : MOUNT_ATTR_RDONLY),
	};

	if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr,
		    sizeof(attr)) < 0)
		return -errno;
	return 0;
}

/* mkdir -p of path's parents and of path itself (as a dir, or as an empty file). */
static int make_mount_point(const char *path, bool dir)
{
	char buf[BX_POLICY_PATH_MAX + 32];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (dir) {
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			return -errno;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int bind_one(const struct bx_bind *b, struct bx_confine_report *rep, bx_error *err)
{
	char src[BX_POLICY_PATH_MAX + 16], dst[BX_POLICY_PATH_MAX + 16];
	struct stat st;
	int r;

	if ((size_t)snprintf(src, sizeof(src), OLDROOT "%s", b->src) >= sizeof(src) ||
	    (size_t)snprintf(dst, sizeof(dst), NEWROOT "%s", b->dst) >= sizeof(dst))
		return bx_fail(err, -ENAMETOOLONG, BX_NO_OFFSET, "fs: bind path too long: %.64s",
			       b->src);
	if (stat(src, &st) < 0) {
		r = -errno;
		if (b->optional && r == -ENOENT) {
			bx_report_add(rep, "fs: optional bind %s absent, skipped", b->src);
			return 0;
		}
		return bx_fail(err, r, BX_NO_OFFSET, "fs: bind source %s: %s", b->src,
			       strerror(-r));
	}
	r = make_mount_point(dst, S_ISDIR(st.st_mode));
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: mount point %s: %s", b->dst,
			       strerror(-r));
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(bind %s -> %s): %m", b->src,
			       b->dst);
	r = lock_down(dst, b->rw, true);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: mount_setattr(%s, %s): %s", b->dst,
			       b->rw ? "nosuid,nodev" : "ro,nosuid,nodev", strerror(-r));
	bx_report_add(rep, "fs: bind %s -> %s (%s)", b->src, b->dst, b->rw ? "rw" : "ro");
	return 0;
}

static int make_dev(bx_error *err)
{
	static const char *const nodes[] = {"null", "zero", "urandom"};
	static const char *const links[][2] = {
	    {"/proc/self/fd", "fd"},
	    {"/proc/self/fd/0", "stdin"},
	    {"/proc/self/fd/1", "stdout"},
	    {"/proc/self/fd/2", "stderr"},
	};
	char src[64], dst[64];

	if (mkdir(NEWROOT "/dev", 0755) < 0 && errno != EEXIST)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mkdir /dev: %m");
	if (mount("tmpfs", NEWROOT "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") <
	    0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(tmpfs on /dev): %m");
	/* Device nodes cannot be made in a user namespace: bind the host's. */
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		int fd;

		snprintf(src, sizeof(src), OLDROOT "/dev/%s", nodes[i]);
		snprintf(dst, sizeof(dst), NEWROOT "/dev/%s", nodes[i]);
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: create %s: %m", dst);
		close(fd);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: bind /dev/%s: %m", nodes[i]);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(dst, sizeof(dst), NEWROOT "/dev/%s", links[i][1]);
		if (symlink(links[i][0], dst) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: symlink %s: %m", dst);
	}
	return 0;
}

int bx_step_fsview(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
{
	char opts[64];
	int r;

	if (!(rep->namespaces & BX_NS_MOUNT)) {
		bx_report_add(rep, "fs: the host's view (no mount namespace)");
		return 0;
	}
	/* Nothing we mount may propagate back to the host, nor the host's to us. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(/, MS_PRIVATE): %m");
	/* A scratch base: the host's root is moved under it so binds can name host paths. */
	if (mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(tmpfs on " BASE "): %m");
	if (chdir(BASE) < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: preparing " BASE ": %m");
	if (sys_pivot_root(".", "oldroot") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: pivot_root(" BASE "): %m");
	if (chdir("/") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: chdir(/): %m");

	if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(tmpfs root): %m");
	for (size_t i = 0; i < p->nbinds; i++) {
		r = bind_one(&p->binds[i], rep, err);
		if (r < 0)
			return r;
	}
	if (rep->namespaces & BX_NS_PID) {
		/* A fresh /proc shows only the new pid namespace. */
		if (mkdir(NEWROOT "/proc", 0555) < 0 && errno != EEXIST)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mkdir /proc: %m");
		if (mount("proc", NEWROOT "/proc", "proc",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(proc): %m");
	}
	r = make_dev(err);
	if (r < 0)
		return r;
	if (p->tmp_size) {
		snprintf(opts, sizeof(opts), "mode=1777,size=%llu",
			 (unsigned long long)p->tmp_size);
		if (mkdir(NEWROOT "/tmp", 01777) < 0 && errno != EEXIST)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mkdir /tmp: %m");
		if (mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(tmpfs on /tmp): %m");
	}
	/* The root itself holds only mount points: read-only. */
	r = lock_down(NEWROOT, false, false);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: mount_setattr(/, ro): %s", strerror(-r));

	/* Enter it, and detach the base (and with it the host's root) for good. */
	if (chdir(NEWROOT) < 0 || sys_pivot_root(".", ".") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: pivot_root(new root): %m");
	if (umount2(".", MNT_DETACH) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: umount2(old root, MNT_DETACH): %m");
	if (chdir("/") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: chdir(/): %m");
	if (access(OLDROOT, F_OK) == 0 || access(NEWROOT, F_OK) == 0)
		return bx_fail(err, -EEXIST, BX_NO_OFFSET, "fs: the old root is still reachable");
	bx_report_add(rep, "fs: tmpfs root, %zu binds, /dev minimal, /tmp %llu bytes%s", p->nbinds,
		      (unsigned long long)p->tmp_size,
		      (rep->namespaces & BX_NS_PID) ? ", /proc fresh" : ", no /proc");
	return 0;
}
