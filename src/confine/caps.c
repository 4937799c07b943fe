/* SPDX-License-Identifier: MIT */
/*
 * Step 5: capabilities. Securebits are locked first (that needs CAP_SETPCAP),
 * then every set is emptied: bounding (one PR_CAPBSET_DROP per capability the
 * kernel knows), ambient, then effective, permitted and inheritable with one
 * capset. Each of these calls fails closed (an error leaves the step failed),
 * so nothing is read back but the sets capget returns in the same breath; the
 * parent verifies every set from outside (/proc/<pid>/status) anyway.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/steps.h"
#include "util/error.h"

/* Capability numbers the bounding-set loop may try before it must have met EINVAL. */
#define CAPS_MAX 64

int bx_step_caps(struct bx_confine_report *rep, bx_error *err)
{
	/*
	 * NOROOT: uid 0 gains nothing on exec; NO_SETUID_FIXUP: no cap games on
	 * uid changes; KEEP_CAPS off and locked; no ambient raising. All locked.
	 */
	const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	unsigned long cap;

	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET,
			       "caps: prctl(PR_SET_SECUREBITS, %#lx): %m", bits);
	/* Up to the first number the kernel does not know (EINVAL): that is every one. */
	for (cap = 0; cap < CAPS_MAX; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL && cap > 0)
			break;
		return bx_fail(err, -errno, BX_NO_OFFSET, "caps: prctl(PR_CAPBSET_DROP, %lu): %m",
			       cap);
	}
	if (cap == CAPS_MAX)
		return bx_fail(err, -EPERM, BX_NO_OFFSET,
			       "caps: the kernel knows more than %d capabilities", CAPS_MAX);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "caps: PR_CAP_AMBIENT_CLEAR_ALL: %m");
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "caps: capset(none): %m");
	/* One call answers for three sets (securebits: one more). */
	if (syscall(SYS_capget, &hdr, data) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "caps: capget: %m");
	for (size_t i = 0; i < 2; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return bx_fail(err, -EPERM, BX_NO_OFFSET,
				       "caps: capabilities remain after dropping");
	if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != (int)bits)
		return bx_fail(err, -EPERM, BX_NO_OFFSET, "caps: securebits did not stick");
	bx_report_add(rep,
		      "caps: none (effective, permitted, inheritable, ambient, bounding); "
		      "securebits %#lx locked",
		      bits);
	return 0;
}
