/* SPDX-License-Identifier: MIT */
/*
 * A hostile program for `beambox exec` (test_fsview.c): `wx_probe wx` tries
 * to get executable memory from writable files (/tmp, /dev/zero),
 * `wx_probe memfd` to hold host memory in memfds. Prints what happened.
 */
#include <stdio.h>
#include <string.h>

#include "attacks.h"

int main(int argc, char **argv)
{
	static char out[4096];

	if (argc == 2 && strcmp(argv[1], "wx") == 0)
		bx_attack_wx("/tmp", out, sizeof(out));
	else if (argc == 2 && strcmp(argv[1], "memfd") == 0)
		bx_attack_memfd(out, sizeof(out));
	else {
		fputs("usage: wx_probe wx|memfd\n", stderr);
		return 2;
	}
	fputs(out, stdout);
	return 0;
}
