/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for bx_msg_decode (src/data.c), the parser of every beam
 * payload a peer sends: the job request {cmd, env}, the per-job log/status
 * messages, and each job's env, which is a map nested in a value.
 *
 * Threat: a hostile or broken peer (an original Go worker or parent, or a
 * compromised beambox worker) sends arbitrary bytes. The decoder must never
 * read out of bounds, allocate on a length it has not checked, leak, or
 * accept bytes it cannot reproduce: whatever decodes must re-encode to a map
 * that decodes equal, and encoding must be a fixed point after one round.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <beambox/data.h>



/* Tries every value of m as a map nested one level deeper; must only not crash or leak. */
static void decode_nested(const bx_msg *m)
{
	for (size_t i = 0; i < bx_msg_nkeys(m); i++) {
		const bx_bytes *vals;
		bx_bytes key;
		size_t n;

		if (bx_msg_key_at(m, i, &key) || bx_msg_getn(m, key.p, key.len, &vals, &n))
			abort();
		for (size_t j = 0; j < n; j++) {
			bx_msg *inner = NULL;
			bx_error err;

			if (bx_msg_decode(vals[j].p, vals[j].len, 1, &inner, &err) == 0)
				bx_msg_free(inner);
			else if (inner != NULL || err.code >= 0 || err.text[0] == '\0')
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bx_msg *m = NULL, *m2 = NULL;
	char *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	bx_error err;
	int r;

	r = bx_msg_decode(data, size, 0, &m, &err);
	if (r < 0) {
		/* A refusal names itself and points inside (or just past) the input. */
		if (m != NULL || err.code != r || err.text[0] == '\0' ||
		    (err.offset > size && r != -ENOMEM))
			abort();
		return 0;
	}
	if (bx_msg_encode(m, &enc, &len) < 0)
		abort();
	/* Canonical input: the decoder keeps key order, so the encoding is the input. */
	if (len != size || memcmp(enc, data, size) != 0)
		abort();
	if (bx_msg_decode(enc, len, 0, &m2, &err) < 0)
		abort();
	if (!bx_msg_equal(m, m2))
		abort();
	if (bx_msg_encode(m2, &enc2, &len2) < 0 || len2 != len || memcmp(enc, enc2, len) != 0)
		abort();
	decode_nested(m);
	free(enc2);
	free(enc);
	bx_msg_free(m2);
	bx_msg_free(m);
	return 0;
}
