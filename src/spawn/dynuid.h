/* SPDX-License-Identifier: MIT */
/*
 * dynuid: a host uid (and the same number as gid) of its own for each worker
 * of a root parent, from a range reserved for beambox (`uid = dynamic` in a
 * policy), as systemd's DynamicUser= does. A uid is held by a lock file
 * (flock) under BX_DYNAMIC_UID_DIR for the worker's life and released when
 * the worker is freed (or when the holder dies: the kernel drops the lock).
 *
 * The range is BX_DYNAMIC_UID_MIN..BX_DYNAMIC_UID_MAX (CMake cache variables,
 * default 0x70000000-0x7000FFFF, inside what systemd's UIDS-GIDS.md leaves
 * unused), unless BX_DYNAMIC_UID_CONF ("/etc/beambox/dynamic-uids") holds
 * one line "MIN-MAX" (decimal or 0x-hex), read once per process.
 */
#ifndef BX_SPAWN_DYNUID_H
#define BX_SPAWN_DYNUID_H

#include <sys/types.h>

#include <beambox/common.h>

#ifndef BX_DYNAMIC_UID_MIN
#define BX_DYNAMIC_UID_MIN 0x70000000u
struct bx_policy;
/*
 * 1 with a warning in buf when the policy's fixed uid is a shared account
 * (65534, a system uid, a named user), 0 otherwise (`policy check`).
 */
int bx_policy_uid_warning(const struct bx_policy *p, char *buf, size_t len);

#endif
#ifndef BX_DYNAMIC_UID_MAX
#define BX_DYNAMIC_UID_MAX 0x7000FFFFu
struct bx_policy;
/*
 * 1 with a warning in buf when the policy's fixed uid is a shared account
 * (65534, a system uid, a named user), 0 otherwise (`policy check`).
 */
int bx_policy_uid_warning(const struct bx_policy *p, char *buf, size_t len);

#endif
#define BX_DYNAMIC_UID_DIR  "/run/beambox/dynamic-uid"
#define BX_DYNAMIC_UID_CONF "/etc/beambox/dynamic-uids"

struct bx_dynuid {
	uid_t uid;   /* also the gid */
	int lock_fd; /* -1: holds nothing */
};

/* Picks a free uid of the range and locks it (root only). Returns 0 or -errno. */
int bx_dynuid_acquire(struct bx_dynuid *out, bx_error *err) __attribute__((warn_unused_result));

/* Releases it (the lock file is removed); safe on one that holds nothing. */
void bx_dynuid_release(struct bx_dynuid *d);

/* The range in effect (configuration file or build default); -errno if the file is invalid. */
int bx_dynuid_range(uid_t *min, uid_t *max, bx_error *err) __attribute__((warn_unused_result));

/*
 * Parses "MIN-MAX" (each decimal or 0x-hex, an optional trailing newline):
 * 1 <= MIN <= MAX <= 0xfffffffe and the range may not contain 65534.
 */
int bx_dynuid_parse_range(const char *text, size_t len, uid_t *min, uid_t *max)
    __attribute__((warn_unused_result));

struct bx_policy;
/*
 * 1 with a warning in buf when the policy's fixed uid is a shared account
 * (65534, a system uid, a named user), 0 otherwise (`policy check`).
 */
int bx_policy_uid_warning(const struct bx_policy *p, char *buf, size_t len);

#endif
