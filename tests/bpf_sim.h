/* SPDX-License-Identifier: MIT */
/*
 * A classic-BPF interpreter for seccomp filters, for tests: runs a program
 * over a struct seccomp_data without loading it, so that a compiled policy
 * can be checked against a table of (arch, syscall, args) -> action.
 */
#ifndef BX_TESTS_BPF_SIM_H
#define BX_TESTS_BPF_SIM_H

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Returns the filter's return value (SECCOMP_RET_*). Aborts, naming the
 * instruction, on an opcode it does not know, an out-of-range load or jump,
 * or a program that runs off its end: a test must never pass by accident.
 */
uint32_t bx_bpf_sim(const struct sock_filter *insns, size_t len, const struct seccomp_data *d);

/*
 * Runs a stack of filters as the kernel does (progs[0] loaded first): every
 * one, and the most restrictive answer wins (kill-process > kill-thread >
 * trap > errno > user-notif > trace > log > allow); between equal actions,
 * the answer of the filter loaded last.
 */
uint32_t bx_bpf_sim_stack(const struct sock_filter *const *progs, const size_t *lens, size_t n,
			  const struct seccomp_data *d);

#endif
