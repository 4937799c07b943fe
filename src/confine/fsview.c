/* SPDX-License-Identifier: MIT */
/*
 * Step 3: the filesystem view. A fresh tmpfs root that holds only what the
 * policy binds (read-only unless it says rw), a fresh /proc for the new pid
 * namespace, a minimal /dev (null, zero, urandom), a size-limited /tmp;
 * then pivot_root into it and detach the old root, so nothing of the host
 * that the policy did not name stays reachable.
 *
 * Paths are resolved as the kernel will, never as strings (#11 C): a run of
 * the sandbox may have planted symlinks in every directory it can write (the
 * policy's rw binds), and the next run's setup must not follow them.
 *  - Sources (host paths) are walked one component at a time beneath the
 *    host's root. A symlink the policy author put on the way is followed as
 *    the host would (an absolute one from the host's root), but once the
 *    walk is inside a directory that an rw bind of this policy exposes, a
 *    symlink is refused (ELOOP): the sandbox could have made it.
 *  - Mount points are opened (and made where missing) one component at a
 *    time beneath the new root with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
 *    since the new root holds rw binds whose content the sandbox wrote.
 *  - Mounts are made from those fds: open_tree(OPEN_TREE_CLONE) of the
 *    source, mount_setattr on the detached copy (so it is never attached
 *    with more rights than it will keep), move_mount onto the mount point's
 *    fd. Filesystems of our own (root, /proc, /dev, /tmp) come from fsopen +
 *    fsmount with their flags set at creation.
 *  - The fds of what was mounted go to the landlock step (struct bx_view),
 *    which grants access to those, not to whatever a path names later.
 *
 * W^X (#11 6): every mount the sandbox can write is noexec (and nosuid,
 * nodev): /tmp, /dev, rw binds unless the policy marks them `exec`. So
 * executable file-backed memory can only come from what the sandbox cannot
 * write. The root and /dev are made read-only once they are populated.
 *
 * Order (#11 10): a bind to "/" first, then /proc, /dev and /tmp, then the
 * other binds, parents before children, so that no mount hides a bind made
 * before it; a bind onto /dev, /proc (with the fresh one) or /tmp (with the
 * private one) would be hidden or would hide ours, and is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
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

/* Symlinks followed in one host path, as the kernel's own limit. */
#define WALK_LINKS_MAX 40
/* Directories deep a host path may go. */
#define WALK_DEPTH_MAX 128
/* One component, never through a symlink, never above the directory. */
#define ONE_COMPONENT (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

#define ATTR_LOCKED (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

static const char *const dev_nodes[3] = {"null", "zero", "urandom"};
static const char *const dev_links[][2] = {
    {"/proc/self/fd", "fd"},
    {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"},
};

void bx_view_init(struct bx_view *v)
{
	for (size_t i = 0; i < BX_POLICY_BINDS_MAX; i++)
		v->bind_fd[i] = -1;
	v->tmp_fd = v->proc_fd = -1;
	for (size_t i = 0; i < 3; i++)
		v->dev_fd[i] = -1;
}

void bx_view_release(struct bx_view *v)
{
	for (size_t i = 0; i < BX_POLICY_BINDS_MAX; i++)
		bx_close_and_reset(&v->bind_fd[i]);
	bx_close_and_reset(&v->tmp_fd);
	bx_close_and_reset(&v->proc_fd);
	for (size_t i = 0; i < 3; i++)
		bx_close_and_reset(&v->dev_fd[i]);
}

static int sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* openat2, retried on EAGAIN (a concurrent rename); -errno on failure. */
static int open_how(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};

	for (int i = 0; i < 16; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

		if (fd >= 0)
			return fd;
		if (errno != EAGAIN)
			break;
	}
	return -errno;
}

static size_t depth_of(const char *path)
{
	size_t n = 0;

	for (const char *s = path; *s; s++)
		n += *s == '/' && s[1] != '\0';
	return n;
}

/* ---------------------------------------------------------------- host paths */

/* Directories the sandbox can write (the rw binds' sources), by identity. */
struct rw_dirs {
	size_t n;
	dev_t dev[BX_POLICY_BINDS_MAX];
	ino_t ino[BX_POLICY_BINDS_MAX];
};

static bool is_rw_dir(const struct rw_dirs *rw, const struct stat *st)
{
	for (size_t i = 0; i < rw->n; i++) {
		if (rw->dev[i] == st->st_dev && rw->ino[i] == st->st_ino)
			return true;
	}
	return false;
}

/*
 * Puts `head` and then `tail` (separated by '/') into buf, which may hold tail.
 */
static int splice_path(char *buf, size_t len, const char *head, size_t hlen, const char *tail)
{
	size_t tlen = strlen(tail);

	if (hlen + 1 + tlen + 1 > len)
		return -ENAMETOOLONG;
	memmove(buf + hlen + 1, tail, tlen + 1);
	memcpy(buf, head, hlen);
	buf[hlen] = '/';
	return 0;
}

/*
 * Opens the host path `path` (absolute) beneath `root` (the host's root: ".."
 * and absolute symlinks stay inside it), one component at a time, O_PATH.
 * A symlink is followed by hand, as the host would, unless the walk is inside
 * a directory of rw: there the sandbox could have made it, and it is -ELOOP.
 */
static int open_host_path(int root, const char *path, const struct rw_dirs *rw)
{
	char rest[2 * PATH_MAX], target[PATH_MAX];
	int stack[WALK_DEPTH_MAX];
	size_t depth = 0, inside = 0; /* inside: depth of the first rw directory, 0: none */
	int links = 0, r = 0;
	char *cur = rest;

	if (strlen(path) >= sizeof(rest))
		return -ENAMETOOLONG;
	strcpy(rest, path);
	stack[0] = root;
	for (;;) {
		struct stat st;
		char *comp;
		int fd;

		while (*cur == '/')
			cur++;
		if (!*cur)
			break;
		comp = cur;
		cur += strcspn(cur, "/");
		if (*cur)
			*cur++ = '\0';
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 0)
				close(stack[depth--]);
			if (inside > depth)
				inside = 0;
			continue;
		}
		fd =
		    open_how(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, ONE_COMPONENT);
		if (fd < 0) {
			r = fd;
			goto out;
		}
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t n;

			if (inside || ++links > WALK_LINKS_MAX) {
				close(fd);
				r = -ELOOP;
				goto out;
			}
			n = readlinkat(fd, "", target, sizeof(target) - 1);
			r = n < 0 ? -errno : 0;
			close(fd);
			if (r < 0)
				goto out;
			r = splice_path(rest, sizeof(rest), target, (size_t)n, cur);
			if (r < 0)
				goto out;
			cur = rest;
			if (target[0] == '/') {
				while (depth > 0)
					close(stack[depth--]);
			}
			continue;
		}
		if (depth + 1 >= WALK_DEPTH_MAX) {
			close(fd);
			r = -ENAMETOOLONG;
			goto out;
		}
		stack[++depth] = fd;
		if (!inside && S_ISDIR(st.st_mode) && is_rw_dir(rw, &st))
			inside = depth;
	}
	if (depth > 0) {
		r = stack[depth--];
	} else {
		r = fcntl(root, F_DUPFD_CLOEXEC, 0);
		if (r < 0)
			r = -errno;
	}
out:
	while (depth > 0)
		close(stack[depth--]);
	return r;
}

/*
 * Opens every bind's source into src[] (-1: an optional one that is absent).
 * The rw ones first, shallowest first, each adding its directory to the set
 * the later walks must not follow symlinks in.
 */
static int open_sources(const struct bx_policy *p, int oldroot, int *src,
			struct bx_confine_report *rep, bx_error *err)
{
	struct rw_dirs rw = {0};
	size_t order[BX_POLICY_BINDS_MAX] = {0}, n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->nbinds; i++) {
			if (p->binds[i].rw == (pass == 0))
				order[n++] = i;
		}
	}
	/* Stable insertion sort of the rw ones by depth (the ro ones follow in policy order). */
	for (size_t i = 1; i < n && p->binds[order[i]].rw; i++) {
		for (size_t j = i; j > 0 && depth_of(p->binds[order[j - 1]].src) >
						depth_of(p->binds[order[j]].src);
		     j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (size_t k = 0; k < n; k++) {
		const struct bx_bind *b = &p->binds[order[k]];
		struct stat st;
		int fd = open_host_path(oldroot, b->src, &rw);

		if (fd == -ENOENT && b->optional) {
			bx_report_add(rep, "fs: optional bind %s absent, skipped", b->src);
			continue;
		}
		if (fd < 0)
			return bx_fail(err, fd, BX_NO_OFFSET, "fs: bind source %s: %s", b->src,
				       strerror(-fd));
		src[order[k]] = fd;
		if (b->rw && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			rw.dev[rw.n] = st.st_dev;
			rw.ino[rw.n++] = st.st_ino;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- the new root */

/*
 * Opens the mount point `dst` (absolute) inside the new root, O_PATH, making
 * what is missing (directories; the last one an empty file unless dir): one
 * component at a time, beneath the new root, never through a symlink.
 */
static int open_mount_point(const char *dst, bool dir)
{
	char buf[BX_POLICY_PATH_MAX + 1];
	_cleanup_fd_ int cur = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *s = buf;

	if (cur < 0)
		return -errno;
	if (strlen(dst) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, dst);
	for (;;) {
		struct stat st;
		bool last;
		char *comp;
		int fd;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		comp = s;
		s += strcspn(s, "/");
		if (*s)
			*s++ = '\0';
		while (*s == '/')
			s++;
		last = *s == '\0';
		fd = open_how(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, ONE_COMPONENT);
		if (fd == -ENOENT) {
			if (!last || dir) {
				if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
					return -errno;
			} else {
				fd = open_how(cur, comp,
					      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					      0644, ONE_COMPONENT);
				if (fd < 0 && fd != -EEXIST)
					return fd;
				if (fd >= 0)
					close(fd);
			}
			fd = open_how(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, ONE_COMPONENT);
		}
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (S_ISLNK(st.st_mode)) {
			close(fd);
			return -ELOOP;
		}
		close(cur);
		cur = fd;
		if ((!last || dir) && !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		if (last && !dir && S_ISDIR(st.st_mode))
			return -EISDIR;
	}
	return bx_steal_fd(&cur);
}

/* Attaches the detached mount `tree` onto the mount point fd `at`. */
static int attach(int tree, int at)
{
	if (move_mount(tree, "", at, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

/*
 * A recursive copy of the tree at src, detached, with attr set on all of it;
 * returns its fd. `call` names what failed.
 */
static int clone_tree(int src, uint64_t attr, const char **call)
{
	struct mount_attr ma = {.attr_set = attr};
	_cleanup_fd_ int tree =
	    open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);

	if (tree < 0) {
		*call = "open_tree";
		return -errno;
	}
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof(ma)) < 0) {
		*call = "mount_setattr";
		return -errno;
	}
	return bx_steal_fd(&tree);
}

/* A new filesystem of type with "key=value" options (NULL-terminated), detached, with attr. */
static int new_fs(const char *type, const char *const *opts, uint64_t attr)
{
	_cleanup_fd_ int fs = fsopen(type, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return -errno;
	for (size_t i = 0; opts && opts[i]; i++) {
		char key[32];
		const char *eq = strchr(opts[i], '=');
		size_t klen = eq ? (size_t)(eq - opts[i]) : strlen(opts[i]);

		if (klen >= sizeof(key))
			return -EINVAL;
		memcpy(key, opts[i], klen);
		key[klen] = '\0';
		if (fsconfig(fs, eq ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, key,
			     eq ? eq + 1 : NULL, 0) < 0)
			return -errno;
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)attr);
	return mnt < 0 ? -errno : mnt;
}

/* Makes a new filesystem and attaches it at dst; its fd goes to *out. */
static int mount_fs(const char *what, const char *type, const char *const *opts, uint64_t attr,
		    const char *dst, int *out, bx_error *err)
{
	_cleanup_fd_ int mnt = new_fs(type, opts, attr);
	_cleanup_fd_ int at = -1;
	int r;

	if (mnt < 0)
		return bx_fail(err, mnt, BX_NO_OFFSET, "fs: fsmount(%s on %s): %s", what, dst,
			       strerror(-mnt));
	at = open_mount_point(dst, true);
	if (at < 0)
		return bx_fail(err, at, BX_NO_OFFSET, "fs: mount point %s: %s", dst, strerror(-at));
	r = attach(mnt, at);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: move_mount(%s on %s): %s", what, dst,
			       strerror(-r));
	*out = bx_steal_fd(&mnt);
	return 0;
}

static const char *bind_mode(const struct bx_bind *b)
{
	if (b->rw)
		return b->exec ? "rw,exec" : "rw";
	return b->exec ? "ro" : "ro,noexec";
}

static int bind_one(const struct bx_bind *b, int src, int *out, struct bx_confine_report *rep,
		    bx_error *err)
{
	uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (b->rw ? 0 : MOUNT_ATTR_RDONLY) |
			(b->exec ? 0 : MOUNT_ATTR_NOEXEC);
	const char *call = "";
	_cleanup_fd_ int tree = -1, at = -1;
	struct stat st;
	int r;

	if (fstat(src, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: fstat(bind source %s): %m", b->src);
	tree = clone_tree(src, attr, &call);
	if (tree < 0)
		return bx_fail(err, tree, BX_NO_OFFSET, "fs: %s(bind %s, %s): %s", call, b->src,
			       bind_mode(b), strerror(-tree));
	at = open_mount_point(b->dst, S_ISDIR(st.st_mode));
	if (at < 0)
		return bx_fail(err, at, BX_NO_OFFSET, "fs: mount point %s: %s", b->dst,
			       strerror(-at));
	r = attach(tree, at);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: move_mount(bind %s -> %s): %s", b->src,
			       b->dst, strerror(-r));
	bx_report_add(rep, "fs: bind %s -> %s (%s)", b->src, b->dst, bind_mode(b));
	*out = bx_steal_fd(&tree);
	return 0;
}

/* /dev: a small tmpfs with the host's null, zero and urandom bound in, noexec. */
static int make_dev(int oldroot, struct bx_view *view, int *dev_out, bx_error *err)
{
	static const char *const opts[] = {"mode=0755", "size=64k", NULL};
	_cleanup_fd_ int dev = -1;
	struct rw_dirs none = {0};
	int r;

	r = mount_fs("tmpfs", "tmpfs", opts, ATTR_LOCKED, "/dev", &dev, err);
	if (r < 0)
		return r;
	/* Device nodes cannot be made in a user namespace: bind the host's. */
	for (size_t i = 0; i < 3; i++) {
		char host[32];
		const char *call = "";
		_cleanup_fd_ int src = -1, tree = -1, at = -1;

		snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]);
		src = open_host_path(oldroot, host, &none);
		if (src < 0)
			return bx_fail(err, src, BX_NO_OFFSET, "fs: %s: %s", host, strerror(-src));
		/* Not nodev, or they would not work; read-only changes nothing for a device. */
		tree = clone_tree(src, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
				  &call);
		if (tree < 0)
			return bx_fail(err, tree, BX_NO_OFFSET, "fs: %s(%s): %s", call, host,
				       strerror(-tree));
		at = open_how(dev, dev_nodes[i],
			      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666,
			      ONE_COMPONENT);
		if (at >= 0) {
			close(at);
			at = open_how(dev, dev_nodes[i], O_PATH | O_NOFOLLOW | O_CLOEXEC, 0,
				      ONE_COMPONENT);
		}
		if (at < 0)
			return bx_fail(err, at, BX_NO_OFFSET, "fs: create %s: %s", host,
				       strerror(-at));
		r = attach(tree, at);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "fs: move_mount(%s): %s", host,
				       strerror(-r));
		view->dev_fd[i] = bx_steal_fd(&tree);
	}
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
		if (symlinkat(dev_links[i][0], dev, dev_links[i][1]) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET, "fs: symlink /dev/%s: %m",
				       dev_links[i][1]);
	}
	*dev_out = bx_steal_fd(&dev);
	return 0;
}

/* What a bind to dst would collide with, or NULL. */
static const char *reserved(const struct bx_policy *p, const char *dst, bool with_proc)
{
	if (strcmp(dst, "/dev") == 0)
		return "the private /dev";
	if (strncmp(dst, "/dev/", 5) == 0) {
		for (size_t i = 0; i < 3; i++) {
			if (strcmp(dst + 5, dev_nodes[i]) == 0)
				return "a device node of the private /dev";
		}
		for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++) {
			if (strncmp(dst + 5, dev_links[i][1], strlen(dev_links[i][1])) == 0 &&
			    (dst[5 + strlen(dev_links[i][1])] == '\0' ||
			     dst[5 + strlen(dev_links[i][1])] == '/'))
				return "a symlink of the private /dev";
		}
	}
	if (with_proc && strcmp(dst, "/proc") == 0)
		return "the fresh /proc of the pid namespace";
	if (p->tmp_size && strcmp(dst, "/tmp") == 0)
		return "the private /tmp (tmp-size; set tmp-size = none to bind one)";
	return NULL;
}

/* Makes /proc, /dev and /tmp. */
static int system_mounts(const struct bx_policy *p, bool with_proc, int oldroot,
			 struct bx_view *view, int *dev, bx_error *err)
{
	int r;

	if (with_proc) {
		/* A fresh /proc shows only the new pid namespace. */
		r = mount_fs("proc", "proc", NULL, ATTR_LOCKED | MOUNT_ATTR_RDONLY, "/proc",
			     &view->proc_fd, err);
		if (r < 0)
			return r;
	}
	r = make_dev(oldroot, view, dev, err);
	if (r < 0)
		return r;
	if (p->tmp_size) {
		char size[40];
		const char *const opts[] = {"mode=1777", size, NULL};

		snprintf(size, sizeof(size), "size=%llu", (unsigned long long)p->tmp_size);
		r = mount_fs("tmpfs", "tmpfs", opts, ATTR_LOCKED, "/tmp", &view->tmp_fd, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bx_close_and_reset(&fds[i]);
}

/* Builds the new root under NEWROOT, from the host's root at oldroot. */
static int build(const struct bx_policy *p, bool with_proc, int oldroot, int *src,
		 struct bx_view *view, struct bx_confine_report *rep, bx_error *err)
{
	static const char *const root_opts[] = {"mode=0755", "size=1m", NULL};
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | ATTR_LOCKED};
	_cleanup_fd_ int root = -1, dev = -1;
	size_t order[BX_POLICY_BINDS_MAX] = {0};
	bool system_done = false;
	int r;

	r = new_fs("tmpfs", root_opts, ATTR_LOCKED);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "fs: fsmount(tmpfs root): %s", strerror(-r));
	root = r;
	{
		_cleanup_fd_ int at = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);

		r = at < 0 ? -errno : attach(root, at);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "fs: move_mount(tmpfs root): %s",
				       strerror(-r));
	}
	/* Parents before children (stable: policy order otherwise). */
	for (size_t i = 0; i < p->nbinds; i++) {
		size_t j = i;

		for (; j > 0 && depth_of(p->binds[order[j - 1]].dst) > depth_of(p->binds[i].dst);
		     j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (size_t k = 0; k < p->nbinds; k++) {
		const struct bx_bind *b = &p->binds[order[k]];

		if (!system_done && strcmp(b->dst, "/") != 0) {
			r = system_mounts(p, with_proc, oldroot, view, &dev, err);
			if (r < 0)
				return r;
			system_done = true;
		}
		if (src[order[k]] < 0)
			continue; /* optional, absent */
		r = bind_one(b, src[order[k]], &view->bind_fd[order[k]], rep, err);
		if (r < 0)
			return r;
	}
	if (!system_done) {
		r = system_mounts(p, with_proc, oldroot, view, &dev, err);
		if (r < 0)
			return r;
	}
	/* Populated: /dev and the root itself (only mount points) become read-only. */
	if (mount_setattr(dev, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount_setattr(/dev, ro): %m");
	if (mount_setattr(root, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount_setattr(/, ro): %m");
	return 0;
}

int bx_step_fsview(const struct bx_policy *p, struct bx_confine_report *rep, struct bx_view *view,
		   bx_error *err)
{
	bool with_proc = (rep->namespaces & BX_NS_PID) != 0;
	_cleanup_fd_ int oldroot = -1;
	int src[BX_POLICY_BINDS_MAX];
	int r;

	if (!(rep->namespaces & BX_NS_MOUNT)) {
		bx_report_add(rep, "fs: the host's view (no mount namespace)");
		return 0;
	}
	for (size_t i = 0; i < p->nbinds; i++) {
		const char *what = reserved(p, p->binds[i].dst, with_proc);

		if (what)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "fs: bind %s -> %s: would collide with %s", p->binds[i].src,
				       p->binds[i].dst, what);
	}
	/* Nothing we mount may propagate back to the host, nor the host's to us. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(/, MS_PRIVATE): %m");
	/* A scratch base: the host's root is moved under it so binds can name host paths. */
	if (mount("tmpfs", BASE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") <
	    0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: mount(tmpfs on " BASE "): %m");
	if (chdir(BASE) < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: preparing " BASE ": %m");
	if (sys_pivot_root(".", "oldroot") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: pivot_root(" BASE "): %m");
	if (chdir("/") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: chdir(/): %m");
	oldroot = open(OLDROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: open(" OLDROOT "): %m");

	for (size_t i = 0; i < BX_POLICY_BINDS_MAX; i++)
		src[i] = -1;
	r = open_sources(p, oldroot, src, rep, err);
	if (r == 0)
		r = build(p, with_proc, oldroot, src, view, rep, err);
	close_all(src, BX_POLICY_BINDS_MAX);
	if (r < 0)
		return r;
	bx_close_and_reset(&oldroot);

	/* Enter it, and detach the base (and with it the host's root) for good. */
	if (chdir(NEWROOT) < 0 || sys_pivot_root(".", ".") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: pivot_root(new root): %m");
	if (umount2(".", MNT_DETACH) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: umount2(old root, MNT_DETACH): %m");
	if (chdir("/") < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "fs: chdir(/): %m");
	if (access(OLDROOT, F_OK) == 0 || access(NEWROOT, F_OK) == 0)
		return bx_fail(err, -EEXIST, BX_NO_OFFSET, "fs: the old root is still reachable");
	bx_report_add(
	    rep, "fs: tmpfs root, %zu binds, /dev minimal (ro), /tmp %llu bytes (noexec)%s",
	    p->nbinds, (unsigned long long)p->tmp_size, with_proc ? ", /proc fresh" : ", no /proc");
	return 0;
}
