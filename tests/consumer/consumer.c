/* SPDX-License-Identifier: MIT */
/* A tiny program built against an installed beambox, by tests/install_test.sh. */
#include <beambox/data.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	bx_msg *m = NULL, *back = NULL;
	bx_bytes v;
	char *buf = NULL;
	size_t len = 0;
	int ok;

	if (bx_msg_new(&m) < 0 || bx_msg_add(m, "hello", "world") < 0 ||
	    bx_msg_encode(m, &buf, &len) < 0 || bx_msg_decode(buf, len, 0, &back, NULL) < 0 ||
	    bx_msg_get_one(back, "hello", &v) < 0)
		return 1;
	ok = v.len == 5 && memcmp(v.p, "world", 5) == 0;
	printf("%s\n", buf);
	free(buf);
	bx_msg_free(m);
	bx_msg_free(back);
	return ok ? 0 : 1;
}
