/* SPDX-License-Identifier: MIT */
/*
 * Attacks shared by the worker handlers of test_fsview.c and by wx_probe (a
 * program run under `beambox exec`). Each appends "name=OK\n" or
 * "name=ERRNO\n" lines to out.
 */
#ifndef BX_TESTS_ATTACKS_H
#define BX_TESTS_ATTACKS_H

#include <stddef.h>

/*
 * W^X through file-backed memory (#11 6): code written to a file in dir and
 * mapped executable; the file mapped RWX MAP_SHARED; /dev/zero mapped RWX
 * privately. "ran" is printed when injected code ran. Plus a control: the
 * file mapped read-only works.
 */
void bx_attack_wx(const char *dir, char *out, size_t len);

/* 40 memfds of 60 MiB each, written and held (#11 8). */
#define BX_ATTACK_MEMFDS    40
#define BX_ATTACK_MEMFD_MIB 60
void bx_attack_memfd(char *out, size_t len);

#endif
