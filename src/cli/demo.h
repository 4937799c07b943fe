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

#include <beambox/engine.h>

/* Registers the demo worker's handlers (main passes this to bx_spawn_init). */
int bx_cli_demo_install(bx_engine *eng, void *ctx);

/* Spawns a confined worker, runs the demo jobs, prints what happens; 0 if all went as expected. */
int bx_cli_demo_spawn(FILE *out);

#endif
