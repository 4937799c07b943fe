/* SPDX-License-Identifier: MIT */
/* Step 4: resource limits (rlimits) and, where delegated, a cgroup v2 leaf. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/cleanup.h"
#include "util/error.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

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

/* This process's cgroup v2 directory, if /sys/fs/cgroup (or .../unified) is cgroup2. */
static int own_cgroup_dir(char *out, size_t len)
{
	static const char *const mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char line[PATH_MAX];
	const char *mnt = NULL;
	FILE *f;
	int r = -ENOENT;

	for (size_t i = 0; i < 2 && !mnt; i++) {
		struct statfs sf;
		if (statfs(mounts[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
			mnt = mounts[i];
	}
	if (!mnt)
		return -EOPNOTSUPP;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		r = (size_t)snprintf(out, len, "%s%s", mnt,
				     strcmp(line + 3, "/") == 0 ? "" : line + 3) < len
			? 0
			: -ENAMETOOLONG;
		break;
	}
	fclose(f);
	return r;
}

static int try_cgroup(const struct bx_policy *p, char *why, size_t whylen)
{
	char dir[PATH_MAX], leaf[64], num[32];
	_cleanup_fd_ int dfd = -1;
	int r;

	r = own_cgroup_dir(dir, sizeof(dir));
	if (r < 0) {
		snprintf(why, whylen, "no cgroup v2 hierarchy: %s", strerror(-r));
		return r;
	}
	snprintf(leaf, sizeof(leaf), "beambox-%d", (int)getpid());
	dfd = open(dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, leaf, 0755) < 0) {
		r = -errno;
		snprintf(why, whylen, "mkdir %.200s/%.32s: %s", dir, leaf, strerror(-r));
		return r;
	}
	{
		_cleanup_fd_ int lfd = openat(dfd, leaf, O_DIRECTORY | O_PATH | O_CLOEXEC);

		r = lfd < 0 ? -errno : 0;
		if (r == 0 && p->cgroup_memory_max) {
			snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)p->cgroup_memory_max);
			r = write_text(lfd, "memory.max", num);
		}
		if (r == 0 && p->cgroup_pids_max) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)p->cgroup_pids_max);
			r = write_text(lfd, "pids.max", num);
		}
		if (r == 0)
			r = write_text(lfd, "cgroup.procs", "0");
	}
	if (r < 0) {
		snprintf(why, whylen, "setting up %.200s/%.32s: %s", dir, leaf, strerror(-r));
		bx_ignore(unlinkat(dfd, leaf, AT_REMOVEDIR));
	}
	return r;
}

int bx_step_cgroup(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
{
	char why[PATH_MAX + 64];
	int r;

	if (p->cgroup == BX_NEED_OFF) {
		bx_report_add(rep, "cgroup: off");
		return 0;
	}
	r = try_cgroup(p, why, sizeof(why));
	if (r < 0) {
		if (p->cgroup == BX_NEED_REQUIRED)
			return bx_fail(err, r, BX_NO_OFFSET, "cgroup (required): %.200s", why);
		bx_report_add(rep, "cgroup: skipped (optional): %.200s", why);
		return 0;
	}
	rep->cgroup = true;
	bx_report_add(rep, "cgroup: leaf with memory.max=%llu pids.max=%llu",
		      (unsigned long long)p->cgroup_memory_max,
		      (unsigned long long)p->cgroup_pids_max);
	return 0;
}

void bx_cgroup_leaf_remove(pid_t pid)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];

	if (own_cgroup_dir(dir, sizeof(dir)) < 0)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/beambox-%d", dir, (int)pid) >= sizeof(path))
		return;
	/* The namespace's last processes may still be on their way out: EBUSY for a moment. */
	for (int i = 0; i < 40; i++) {
		if (rmdir(path) == 0 || errno != EBUSY)
			return;
		usleep(5000);
	}
}
