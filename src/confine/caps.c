/* SPDX-License-Identifier: MIT */
/* Step 5: capabilities. Securebits are locked first (that needs CAP_SETPCAP), then every set is
 * emptied. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>

#include <cap-ng.h>

#include "confine/steps.h"
#include "util/error.h"

int bx_step_caps(struct bx_confine_report *rep, bx_error *err)
{
	/*
	 * NOROOT: uid 0 gains nothing on exec; NO_SETUID_FIXUP: no cap games on
	 * uid changes; KEEP_CAPS off and locked; no ambient raising. All locked.
	 */
	const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
	int r;

	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET,
			       "caps: prctl(PR_SET_SECUREBITS, %#lx): %m", bits);
	capng_clear(CAPNG_SELECT_ALL);
	r = capng_apply(CAPNG_SELECT_ALL);
	if (r < 0)
		return bx_fail(err, -EPERM, BX_NO_OFFSET, "caps: capng_apply(CAPNG_SELECT_ALL): %d",
			       r);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "caps: PR_CAP_AMBIENT_CLEAR_ALL: %m");
	/* Trust, but verify: libcap-ng reads back what the kernel now says. */
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_get_caps_process() < 0 ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE ||
	    capng_have_capabilities(CAPNG_SELECT_BOUNDS) != CAPNG_NONE)
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
