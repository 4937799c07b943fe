/* SPDX-License-Identifier: MIT */
/* The program a confined process executes (`beambox exec`, foreign workers). */
#ifndef BX_SPAWN_PROGRAM_H
#define BX_SPAWN_PROGRAM_H

#include <beambox/common.h>

/*
 * Opens prog (O_RDONLY | O_CLOEXEC) as execvp would find it: a path with a
 * '/', or the first executable regular file of that name in $PATH. Returns
 * the fd, or -errno with err naming the program (err->offset 1: "find").
 */
int bx_open_program(const char *prog, bx_error *err) __attribute__((warn_unused_result));

#endif
