/* SPDX-License-Identifier: MIT */
/* Step 4: resource limits (rlimits) and a cgroup leaf (v1 or v2) where one can be made. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

static const char *rlimit_name(int res)
{
	switch (res) {
	case RLIMIT_AS:
		return "as";
	case RLIMIT_NOFILE:
		return "nofile";
	case RLIMIT_NPROC:
		return "nproc";
	case RLIMIT_FSIZE:
		return "fsize";
	case RLIMIT_CPU:
		return "cpu";
	case RLIMIT_CORE:
		return "core";
	case RLIMIT_DATA:
		return "data";
	case RLIMIT_STACK:
		return "stack";
	case RLIMIT_MEMLOCK:
		return "memlock";
	case RLIMIT_MSGQUEUE:
		return "msgqueue";
	default:
		return "other";
	}
}

int bx_step_rlimits(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
{
	char line[256] = "rlimits:";

	for (int res = 0; res < RLIM_NLIMITS; res++) {
		struct rlimit rl;

		/* Core dumps would write handler memory where the policy never said. */
		if (res == RLIMIT_CORE)
			rl.rlim_cur = rl.rlim_max = 0;
		else if (p->rlimits[res].set)
			rl.rlim_cur = rl.rlim_max = p->rlimits[res].value;
		else
			continue;
		if (setrlimit((__rlimit_resource_t)res, &rl) < 0)
			return bx_fail(err, -errno, BX_NO_OFFSET,
				       "rlimits: setrlimit(%s, %llu): %m", rlimit_name(res),
				       (unsigned long long)rl.rlim_cur);
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s=%llu",
			 rlimit_name(res), (unsigned long long)rl.rlim_cur);
	}
	bx_report_add(rep, "%s", line);
	return 0;
}

/* ---------------------------------------------------------------- cgroups, v1 and v2 */

/*
 * A worker's memory and pids are bounded by a cgroup leaf made for it under
 * the cgroup its parent is in: on cgroup v2 where the controller is enabled
 * for children there (a delegated subtree, or a root parent on a v2 host), on
 * a cgroup v1 hierarchy of the controller otherwise (a root parent on a v1 or
 * hybrid host). The parent makes the leaf before the worker exists, moves
 * the clone3 child into it before releasing it (bx_cgroup_leaf_add, from
 * bx_child_start's before_release hook: pid 1 and all it forks are in the
 * leaf before any of their code runs), and removes it once the worker is
 * reaped. The
 * worker's cgroup step then verifies, from inside, that the limits are in
 * effect. memfd and tmpfs pages are charged to the memory controller like any
 * other: this is what bounds host memory, where rlimits cannot.
 */

enum { CG_MEMORY, CG_PIDS, CG_N };
static const char *const cg_name[CG_N] = {"memory", "pids"};

/* This process's cgroup directory for a controller. */
struct cg_dir {
	bool v2;
	char path[PATH_MAX];
};

/* Is word one of the comma-separated items of list (len bytes)? */
static bool has_item(const char *list, size_t len, const char *word)
{
	size_t wlen = strlen(word);
	const char *end = list + len;

	while (list < end) {
		size_t n = strcspn(list, ",");

		if (n > (size_t)(end - list))
			n = (size_t)(end - list);
		if (n == wlen && memcmp(list, word, wlen) == 0)
			return true;
		list += n + 1;
	}
	return false;
}

/*
 * The cgroup hierarchies mounted here, from /proc/self/mountinfo, read once
 * per process (that file is long, and was read four times per spawn on each
 * side): fstype cgroup2, or cgroup with one of our controllers among its
 * super options. A zygote reads it at its start, and its children inherit
 * what it found (their mounts are its until their own view).
 */
#define CG_MOUNTS_MAX 16
#define CG_PATH_MAX   256
struct cg_mount {
	bool v2;
	bool ctl[CG_N]; /* v1: the controllers of ours it holds */
	char root[CG_PATH_MAX];
	char point[CG_PATH_MAX];
};

static struct cg_mount cg_mounts[CG_MOUNTS_MAX];
static size_t cg_nmounts;
static pthread_once_t cg_mounts_once = PTHREAD_ONCE_INIT;

static void cg_scan_mounts(void)
{
	char line[2 * PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && cg_nmounts < CG_MOUNTS_MAX && fgets(line, sizeof(line), f)) {
		char *field[5] = {0}, *sep = strstr(line, " - "), *save = NULL, *fstype, *opts;
		struct cg_mount *m = &cg_mounts[cg_nmounts];
		bool any = false;

		if (!sep)
			continue;
		*sep = '\0';
		field[0] = strtok_r(line, " ", &save);
		for (int i = 1; i < 5 && field[i - 1]; i++)
			field[i] = strtok_r(NULL, " ", &save);
		fstype = strtok_r(sep + 3, " ", &save);
		(void)strtok_r(NULL, " ", &save); /* source */
		opts = strtok_r(NULL, " \n", &save);
		if (!field[0] || !field[4] || !fstype || !opts || strlen(field[3]) >= CG_PATH_MAX ||
		    strlen(field[4]) >= CG_PATH_MAX)
			continue;
		memset(m, 0, sizeof(*m));
		if (strcmp(fstype, "cgroup2") == 0) {
			m->v2 = any = true;
		} else if (strcmp(fstype, "cgroup") == 0) {
			for (int c = 0; c < CG_N; c++)
				any |= m->ctl[c] = has_item(opts, strlen(opts), cg_name[c]);
		}
		if (!any)
			continue;
		snprintf(m->root, sizeof(m->root), "%s", field[3]);
		snprintf(m->point, sizeof(m->point), "%s", field[4]);
		cg_nmounts++;
	}
	if (f)
		fclose(f);
}

void bx_cgroup_probe(void)
{
	pthread_once(&cg_mounts_once, cg_scan_mounts);
}

/* This process's cgroups, from /proc/self/cgroup (read once per use: it is short). */
struct cg_self {
	bool have_v2, have[CG_N];
	char v2[PATH_MAX];
	char v1[CG_N][PATH_MAX];
};

static int read_self(struct cg_self *s)
{
	char line[PATH_MAX + 64];
	FILE *f = fopen("/proc/self/cgroup", "re");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0:", 2) == 0 && c2 == c1 + 1) {
			s->have_v2 =
			    snprintf(s->v2, sizeof(s->v2), "%s", c2 + 1) < (int)sizeof(s->v2);
			continue;
		}
		for (int c = 0; c < CG_N; c++)
			if (!s->have[c] && has_item(c1 + 1, (size_t)(c2 - c1 - 1), cg_name[c]))
				s->have[c] = snprintf(s->v1[c], sizeof(s->v1[c]), "%s", c2 + 1) <
					     (int)sizeof(s->v1[c]);
	}
	fclose(f);
	return 0;
}

/*
 * Where cgpath of the v2 hierarchy (ctl < 0) or of ctl's v1 hierarchy is on
 * disk: under a mount of that hierarchy whose root is a prefix of it.
 */
static int cgroup_dir_on_disk(int ctl, const char *cgpath, char *out, size_t len)
{
	bx_cgroup_probe();
	for (size_t i = 0; i < cg_nmounts; i++) {
		const struct cg_mount *m = &cg_mounts[i];
		size_t rootlen = strcmp(m->root, "/") == 0 ? 0 : strlen(m->root);

		if (ctl < 0 ? !m->v2 : !m->ctl[ctl])
			continue;
		if (strncmp(cgpath, m->root, rootlen) != 0 ||
		    (cgpath[rootlen] != '/' && cgpath[rootlen] != '\0'))
			continue;
		return (size_t)snprintf(out, len, "%s%s", m->point,
					strcmp(cgpath + rootlen, "/") == 0 ? ""
									   : cgpath + rootlen) < len
			   ? 0
			   : -ENAMETOOLONG;
	}
	return -ENOENT;
}

/* Reads a small text file (one line) of dir into buf; -errno on failure. */
static int read_text(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX + 64];
	_cleanup_fd_ int fd = -1;
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * This process's cgroup directory that holds controller ctl: on v2 if ctl is
 * in effect there (listed in its cgroup.controllers; for_children: enabled
 * for its children, in cgroup.subtree_control), else on ctl's v1 hierarchy.
 */
static int find_cgroup_dir(const struct cg_self *self, int ctl, bool for_children,
			   struct cg_dir *out, char *why, size_t whylen)
{
	char list[512];
	int r = -ENOENT;

	if (self->have_v2 && cgroup_dir_on_disk(-1, self->v2, out->path, sizeof(out->path)) == 0 &&
	    read_text(out->path, for_children ? "cgroup.subtree_control" : "cgroup.controllers",
		      list, sizeof(list)) == 0) {
		for (char *save = NULL, *w = strtok_r(list, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			if (strcmp(w, cg_name[ctl]) == 0) {
				out->v2 = true;
				return 0;
			}
		}
	}
	out->v2 = false;
	if (self->have[ctl])
		r = cgroup_dir_on_disk(ctl, self->v1[ctl], out->path, sizeof(out->path));
	if (r < 0)
		snprintf(why, whylen, "no %s controller (cgroup v2%s, or a v1 hierarchy)",
			 cg_name[ctl], for_children ? " with it in cgroup.subtree_control" : "");
	return r;
}

/* The limit files of a controller: [v1, v2]. */
static const char *const limit_file[CG_N][2] = {
    {"memory.limit_in_bytes", "memory.max"},
    {"pids.max", "pids.max"},
};

static uint64_t policy_limit(const struct bx_policy *p, int ctl)
{
	return ctl == CG_MEMORY ? p->cgroup_memory_max : p->cgroup_pids_max;
}

static int write_text(int dirfd, const char *name, const char *text)
{
	_cleanup_fd_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -errno;
	return 0;
}

void bx_cgroup_leaf_init(struct bx_cgroup_leaf *l)
{
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < BX_CGROUP_DIRS_MAX; i++)
		l->procs_fd[i] = l->parent_fd[i] = -1;
}

/* Makes the leaf's directory under parent (a cgroup dir) and sets ctl's limit in it. */
static int leaf_dir(struct bx_cgroup_leaf *l, const struct cg_dir *parent, int ctl, uint64_t limit)
{
	char num[32];
	size_t i = l->ndirs;
	_cleanup_fd_ int pfd = open(parent->path, O_DIRECTORY | O_PATH | O_CLOEXEC);
	_cleanup_fd_ int lfd = -1;
	int r;

	if (pfd < 0)
		return -errno;
	if (mkdirat(pfd, l->name, 0755) < 0)
		return -errno;
	l->parent_fd[i] = bx_steal_fd(&pfd);
	l->ndirs++;
	lfd = openat(l->parent_fd[i], l->name, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (lfd < 0)
		return -errno;
	snprintf(num, sizeof(num), "%llu", (unsigned long long)limit);
	r = write_text(lfd, limit_file[ctl][parent->v2], num);
	/* Swap too: v1 counts memory+swap in memsw (>= the limit, set after it); v2 apart. */
	if (r == 0 && ctl == CG_MEMORY && !parent->v2 &&
	    faccessat(lfd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0)
		r = write_text(lfd, "memory.memsw.limit_in_bytes", num);
	if (r == 0 && ctl == CG_MEMORY && parent->v2 &&
	    faccessat(lfd, "memory.swap.max", F_OK, 0) == 0)
		r = write_text(lfd, "memory.swap.max", "0");
	if (r < 0)
		return r;
	l->procs_fd[i] = openat(lfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	return l->procs_fd[i] < 0 ? -errno : 0;
}

/*
 * The first refusal to make a leaf for lack of rights (an unprivileged
 * parent on a v1 host, a v2 tree not delegated to it): later spawns skip
 * the attempt and report the same reason. Rights do not come back to a
 * running process by themselves.
 */
static int denied_errno;
static char denied_why[PATH_MAX / 8];
static pthread_mutex_t denied_lock = PTHREAD_MUTEX_INITIALIZER;

int bx_cgroup_leaf_make(const struct bx_policy *p, struct bx_cgroup_leaf *l)
{
	static unsigned long seq;
	struct cg_dir dirs[CG_N];
	struct cg_self *self = NULL;
	int r = 0;

	bx_cgroup_leaf_init(l);
	pthread_mutex_lock(&denied_lock);
	r = denied_errno;
	if (r)
		snprintf(l->why, sizeof(l->why), "%s", denied_why);
	pthread_mutex_unlock(&denied_lock);
	if (r)
		return r;
	self = malloc(sizeof(*self));
	if (!self)
		return -ENOMEM;
	r = read_self(self);
	if (r < 0) {
		snprintf(l->why, sizeof(l->why), "/proc/self/cgroup: %s", strerror(-r));
		free(self);
		return r;
	}
	snprintf(l->name, sizeof(l->name), "beambox-%d-%lu", (int)getpid(),
		 __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	for (int ctl = 0; ctl < CG_N && r == 0; ctl++) {
		bool shared = false;

		if (!policy_limit(p, ctl))
			continue;
		r = find_cgroup_dir(self, ctl, true, &dirs[ctl], l->why, sizeof(l->why));
		if (r < 0)
			break;
		/* One leaf per hierarchy: v2 holds both controllers, co-mounted v1 ones too. */
		for (int k = 0; k < ctl && !shared; k++) {
			if (policy_limit(p, k) && strcmp(dirs[k].path, dirs[ctl].path) == 0) {
				char num[32], at[PATH_MAX + 64];
				_cleanup_fd_ int lfd = -1;

				shared = true;
				snprintf(at, sizeof(at), "%s/%s", dirs[ctl].path, l->name);
				snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)policy_limit(p, ctl));
				lfd = open(at, O_DIRECTORY | O_PATH | O_CLOEXEC);
				r = lfd < 0 ? -errno
					    : write_text(lfd, limit_file[ctl][dirs[ctl].v2], num);
			}
		}
		if (!shared && r == 0) {
			if (l->ndirs >= BX_CGROUP_DIRS_MAX)
				r = -E2BIG;
			else
				r = leaf_dir(l, &dirs[ctl], ctl, policy_limit(p, ctl));
		}
		if (r < 0)
			snprintf(l->why, sizeof(l->why), "%.40s/%.40s under %.100s: %s",
				 cg_name[ctl], l->name, dirs[ctl].path, strerror(-r));
	}
	free(self);
	if (r < 0) {
		if (r == -EACCES || r == -EPERM || r == -EROFS || r == -ENOENT) {
			pthread_mutex_lock(&denied_lock);
			denied_errno = r;
			snprintf(denied_why, sizeof(denied_why), "%s", l->why);
			pthread_mutex_unlock(&denied_lock);
		}
		bx_cgroup_leaf_remove(l);
		l->made = false;
		return r;
	}
	l->made = true;
	return 0;
}

int bx_cgroup_leaf_add(const struct bx_cgroup_leaf *l, pid_t pid)
{
	char num[16];
	int len = snprintf(num, sizeof(num), "%d", (int)pid);

	for (size_t i = 0; l && l->made && i < l->ndirs; i++) {
		if (write(l->procs_fd[i], num, (size_t)len) != (ssize_t)len)
			return errno ? -errno : -EIO;
	}
	return 0;
}

void bx_cgroup_leaf_remove(struct bx_cgroup_leaf *l)
{
	for (size_t i = 0; i < l->ndirs; i++) {
		bx_close_and_reset(&l->procs_fd[i]);
		/* The namespace's last processes may still be on their way out: EBUSY a moment. */
		for (int k = 0; k < 40; k++) {
			if (unlinkat(l->parent_fd[i], l->name, AT_REMOVEDIR) == 0 || errno != EBUSY)
				break;
			usleep(5000);
		}
		bx_close_and_reset(&l->parent_fd[i]);
	}
	l->ndirs = 0;
	l->made = false;
}

/*
 * Verifies from inside that this process's cgroups hold the policy's limits
 * (or lower ones); the detail goes to line.
 */
static int limits_check(const struct bx_policy *p, const struct cg_self *self, char *line,
			size_t len, char *why, size_t whylen);

static int limits_in_effect(const struct bx_policy *p, char *line, size_t len, char *why,
			    size_t whylen)
{
	struct cg_self *self = malloc(sizeof(*self));
	int r;

	line[0] = '\0';
	if (!self)
		return -ENOMEM;
	r = read_self(self);
	if (r < 0)
		snprintf(why, whylen, "/proc/self/cgroup: %s", strerror(-r));
	else
		r = limits_check(p, self, line, len, why, whylen);
	free(self);
	return r;
}

/* limits_in_effect, once this process's cgroups are known. */
static int limits_check(const struct bx_policy *p, const struct cg_self *self, char *line,
			size_t len, char *why, size_t whylen)
{
	const char *version = NULL;

	for (int ctl = 0; ctl < CG_N; ctl++) {
		uint64_t want = policy_limit(p, ctl), have = UINT64_MAX;
		struct cg_dir d;
		char val[64], *end;
		int r;

		if (!want)
			continue;
		r = find_cgroup_dir(self, ctl, false, &d, why, whylen);
		if (r < 0)
			return r;
		r = read_text(d.path, limit_file[ctl][d.v2], val, sizeof(val));
		if (r < 0) {
			snprintf(why, whylen, "%.100s/%s: %s", d.path, limit_file[ctl][d.v2],
				 strerror(-r));
			return r;
		}
		if (strcmp(val, "max") != 0) {
			errno = 0;
			have = strtoull(val, &end, 10);
			if (errno || *end)
				have = UINT64_MAX;
		}
		if (have > want) {
			snprintf(why, whylen, "%s is %s in %.100s (the policy wants %llu)",
				 limit_file[ctl][d.v2], val, d.path, (unsigned long long)want);
			return -ENOENT;
		}
		snprintf(line + strlen(line), len - strlen(line), "%s%s=%llu", line[0] ? " " : "",
			 limit_file[ctl][d.v2], (unsigned long long)have);
		if (!version)
			version = d.v2 ? "v2" : "v1";
		else if (strcmp(version, d.v2 ? "v2" : "v1") != 0)
			version = "v1+v2";
	}
	snprintf(line + strlen(line), len - strlen(line), " (cgroup %s)", version ? version : "");
	return 0;
}

int bx_step_cgroup(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
{
	char line[256], why[PATH_MAX + 64];
	int r;

	if (p->cgroup == BX_NEED_OFF) {
		bx_report_add(rep, "cgroup: off");
		return 0;
	}
	/* The parent made the leaf and put this process in it before its release: check it holds.
	 */
	r = limits_in_effect(p, line, sizeof(line), why, sizeof(why));
	if (r < 0) {
		if (p->cgroup == BX_NEED_REQUIRED)
			return bx_fail(err, r, BX_NO_OFFSET,
				       "cgroup (required): not in a leaf with the policy's limits: "
				       "%.200s",
				       why);
		bx_report_add(rep,
			      "cgroup: skipped (optional): not in a leaf with the policy's "
			      "limits: %.200s",
			      why);
		return 0;
	}
	rep->cgroup = true;
	bx_report_add(rep, "cgroup: leaf with %s", line);
	return 0;
}
