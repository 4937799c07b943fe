/* SPDX-License-Identifier: MIT */
/*
 * A classic-BPF interpreter for seccomp programs, so that the compiler can
 * check what libseccomp generated against the rules it was given
 * (compile.c). Only the instructions seccomp filters use; anything else, an
 * out-of-range load or jump, or running off the end is an error.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>

#include "policy/policy_internal.h"

int bx_bpf_run(const struct sock_filter *insns, size_t len, const struct seccomp_data *d,
	       uint32_t *out)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
	uint8_t data[sizeof(*d)];
	size_t pc = 0;

	memcpy(data, d, sizeof(data));
	while (pc < len) {
		const struct sock_filter *f = &insns[pc];
		uint32_t k = f->k;

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k % 4 || k > sizeof(data) - 4)
				return -EINVAL;
			memcpy(&a, data + k, 4);
			break;
		case BPF_LD | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			a = mem[k];
			break;
		case BPF_LDX | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			x = mem[k];
			break;
		case BPF_LD | BPF_IMM:
			a = k;
			break;
		case BPF_ST:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = a;
			break;
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				return -EINVAL;
			mem[k] = x;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			a &= k;
			break;
		case BPF_ALU | BPF_OR | BPF_K:
			a |= k;
			break;
		case BPF_MISC | BPF_TAX:
			x = a;
			break;
		case BPF_MISC | BPF_TXA:
			a = x;
			break;
		case BPF_RET | BPF_K:
			*out = k;
			return 0;
		case BPF_RET | BPF_A:
			*out = a;
			return 0;
		case BPF_JMP | BPF_JA:
			if (k >= len - pc - 1)
				return -EINVAL;
			pc += 1 + k;
			continue;
		case BPF_JMP | BPF_JEQ | BPF_K:
		case BPF_JMP | BPF_JGT | BPF_K:
		case BPF_JMP | BPF_JGE | BPF_K:
		case BPF_JMP | BPF_JSET | BPF_K: {
			int op = BPF_OP(f->code);
			int t = op == BPF_JEQ	? a == k
				: op == BPF_JGT ? a > k
				: op == BPF_JGE ? a >= k
						: (a & k) != 0;
			size_t off = t ? f->jt : f->jf;

			if (off >= len - pc - 1)
				return -EINVAL;
			pc += 1 + off;
			continue;
		}
		default:
			return -EINVAL;
		}
		pc++;
	}
	return -EINVAL;
}
