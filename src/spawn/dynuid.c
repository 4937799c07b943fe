/* SPDX-License-Identifier: MIT */
/* dynuid: per-worker host uids from a reserved range, held by lock files (see dynuid.h). */
#define _GNU_SOURCE
#include "spawn/dynuid.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "util/cleanup.h"
#include "util/error.h"

/* How many uids one acquisition tries before it gives up (the range may be nearly full). */
#define DYNUID_PROBES 4096

static pthread_once_t range_once = PTHREAD_ONCE_INIT;
static uid_t range_min, range_max;
static int range_err;

static int parse_id(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		char c = s[i];

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int bx_dynuid_parse_range(const char *text, size_t len, uid_t *min, uid_t *max)
{
	const char *dash;
	uint64_t lo, hi;

	if (len && text[len - 1] == '\n')
		len--;
	dash = memchr(text, '-', len);
	if (!dash || parse_id(text, (size_t)(dash - text), &lo) < 0 ||
	    parse_id(dash + 1, len - (size_t)(dash - text) - 1, &hi) < 0)
		return -EINVAL;
	if (lo < 1 || lo > hi || hi > 0xfffffffeULL || (lo <= 65534 && 65534 <= hi))
		return -ERANGE;
	*min = (uid_t)lo;
	*max = (uid_t)hi;
	return 0;
}

static void load_range(void)
{
	char buf[64];
	_cleanup_fd_ int fd = open(BX_DYNAMIC_UID_CONF, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	range_min = BX_DYNAMIC_UID_MIN;
	range_max = BX_DYNAMIC_UID_MAX;
	if (fd < 0) {
		range_err = errno == ENOENT ? 0 : -errno;
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		range_err = n < 0 ? -errno : -E2BIG;
		return;
	}
	range_err = bx_dynuid_parse_range(buf, (size_t)n, &range_min, &range_max);
}

int bx_dynuid_range(uid_t *min, uid_t *max, bx_error *err)
{
	pthread_once(&range_once, load_range);
	if (range_err < 0)
		return bx_fail(
		    err, range_err, BX_NO_OFFSET,
		    "%s: want one line MIN-MAX (1 <= MIN <= MAX < 2^32-1, 65534 outside): "
		    "%s",
		    BX_DYNAMIC_UID_CONF, strerror(-range_err));
	*min = range_min;
	*max = range_max;
	return 0;
}

/* mkdir -p of one level; the directory must be root's and writable by root only. */
static int open_private_dir(int parent, const char *name, bx_error *err)
{
	struct stat st;
	int fd;

	if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
		return bx_fail(err, -errno, BX_NO_OFFSET, "dynamic uid: mkdir %s: %m", name);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "dynamic uid: open %s: %m", name);
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		close(fd);
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "dynamic uid: %s must be a directory of root's, writable by root "
			       "only",
			       name);
	}
	return fd;
}

static int open_lock_dir(bx_error *err)
{
	_cleanup_fd_ int run = open("/run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_fd_ int top = -1;

	if (run < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "dynamic uid: open /run: %m");
	top = open_private_dir(run, "beambox", err);
	if (top < 0)
		return top;
	return open_private_dir(top, "dynamic-uid", err);
}

/* 1: locked uid (lock file still linked), 0: taken by someone else, -errno. */
static int try_lock(int dir, uid_t uid, int *out)
{
	char name[16];
	struct stat a, b;
	_cleanup_fd_ int fd = -1;

	snprintf(name, sizeof(name), "%u", (unsigned)uid);
	fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 0 : -errno;
	/* A releaser unlinks while it holds the lock: a lock on an unlinked file is worthless. */
	if (fstat(fd, &a) < 0)
		return -errno;
	if (fstatat(dir, name, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		return 0;
	*out = bx_steal_fd(&fd);
	return 1;
}

int bx_dynuid_acquire(struct bx_dynuid *out, bx_error *err)
{
	_cleanup_fd_ int dir = -1;
	uid_t lo = 0, hi = 0;
	uint32_t start = 0;
	uint64_t span;
	int r;

	if (geteuid() != 0)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "dynamic uid: only a root parent allocates host uids");
	r = bx_dynuid_range(&lo, &hi, err);
	if (r < 0)
		return r;
	dir = open_lock_dir(err);
	if (dir < 0)
		return dir;
	/* Start anywhere: concurrent parents then rarely probe the same uids. */
	if (getrandom(&start, sizeof(start), GRND_NONBLOCK) != (ssize_t)sizeof(start))
		start = (uint32_t)getpid() * 2654435761u;
	span = (uint64_t)hi - lo + 1;
	for (uint64_t i = 0; i < span && i < DYNUID_PROBES; i++) {
		uid_t uid = (uid_t)(lo + (start + i) % span);
		int fd = -1;

		r = try_lock(dir, uid, &fd);
		if (r < 0)
			return bx_fail(err, r, BX_NO_OFFSET, "dynamic uid: lock %s/%u: %s",
				       BX_DYNAMIC_UID_DIR, (unsigned)uid, strerror(-r));
		if (r == 1) {
			out->uid = uid;
			out->lock_fd = fd;
			return 0;
		}
	}
	return bx_fail(err, -EBUSY, BX_NO_OFFSET, "dynamic uid: no free uid in %u-%u", (unsigned)lo,
		       (unsigned)hi);
}

void bx_dynuid_release(struct bx_dynuid *d)
{
	char name[16];
	int dir;

	if (!d || d->lock_fd < 0)
		return;
	snprintf(name, sizeof(name), "%u", (unsigned)d->uid);
	dir = open(BX_DYNAMIC_UID_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir >= 0) {
		/* Still holding the lock: a racing acquirer then sees the unlink (try_lock). */
		unlinkat(dir, name, 0);
		close(dir);
	}
	bx_close_and_reset(&d->lock_fd);
}

/*
 * `policy check`: a fixed uid that other things on the host run as (nobody,
 * a system account, any named account) is a shared identity: every host
 * process of that uid may signal the workers and owns what they write.
 */
int bx_policy_uid_warning(const struct bx_policy *p, char *buf, size_t len)
{
	if (p->uid_dynamic || !(p->namespaces & BX_NS_USER) || p->uid == 0)
		return 0;
	if (p->uid == 65534 || p->uid < 1000 || getpwuid(p->uid)) {
		snprintf(buf, len,
			 "uid %u is a shared account (a root parent's workers would share their "
			 "host uid with %s); prefer 'uid = dynamic'",
			 (unsigned)p->uid,
			 p->uid == 65534 ? "nobody and every daemon that runs as it"
			 : p->uid < 1000 ? "a system account"
					 : "a named account");
		return 1;
	}
	return 0;
}
