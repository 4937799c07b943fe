/* SPDX-License-Identifier: MIT */
/* The CLI's "demo" command: a self-contained tour of the message codec. */
#ifndef BX_CLI_DEMO_H
#define BX_CLI_DEMO_H

#include <stdio.h>

/*
 * Builds {"hello": ["beautiful", "world"], "cmd": ["echo", "hi"]}, encodes it,
 * prints the encoding (escaped), decodes it back and prints the decoded map.
 * Returns 0 if the decoded map equals the original, 1 otherwise (or on error).
 */
int bx_cli_demo_codec(FILE *out);

#endif
