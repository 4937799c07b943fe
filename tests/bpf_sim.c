/* SPDX-License-Identifier: MIT */
/* A classic-BPF interpreter for seccomp filters (see bpf_sim.h). */
#include "bpf_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(size_t pc, const struct sock_filter *f, const char *why)
{
	fprintf(stderr, "bpf_sim: insn %zu {code 0x%04x, jt %u, jf %u, k 0x%08x}: %s\n", pc,
		f->code, f->jt, f->jf, f->k, why);
	abort();
}

uint32_t bx_bpf_sim(const struct sock_filter *insns, size_t len, const struct seccomp_data *d)
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
			if (k % 4 || k + 4 > sizeof(data))
				die(pc, f, "load outside seccomp_data");
			memcpy(&a, data + k, 4);
			break;
		case BPF_LD | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				die(pc, f, "bad scratch slot");
			a = mem[k];
			break;
		case BPF_LDX | BPF_MEM:
			if (k >= BPF_MEMWORDS)
				die(pc, f, "bad scratch slot");
			x = mem[k];
			break;
		case BPF_LD | BPF_IMM:
			a = k;
			break;
		case BPF_ST:
			if (k >= BPF_MEMWORDS)
				die(pc, f, "bad scratch slot");
			mem[k] = a;
			break;
		case BPF_STX:
			if (k >= BPF_MEMWORDS)
				die(pc, f, "bad scratch slot");
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
			return k;
		case BPF_RET | BPF_A:
			return a;
		case BPF_JMP | BPF_JA:
			if (k >= len - pc - 1)
				die(pc, f, "jump past the end");
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
				die(pc, f, "jump past the end");
			pc += 1 + off;
			continue;
		}
		default:
			die(pc, f, "unknown opcode");
		}
		pc++;
	}
	die(pc ? pc - 1 : 0, insns, "ran off the end of the program");
	return 0;
}

/* The kernel's order of actions (seccomp_run_filters): lower is more restrictive. */
static int32_t rank(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

uint32_t bx_bpf_sim_stack(const struct sock_filter *const *progs, const size_t *lens, size_t n,
			  const struct seccomp_data *d)
{
	uint32_t ret = SECCOMP_RET_ALLOW;

	/* The most recently loaded filter runs first; on a tie it keeps its answer. */
	for (size_t i = n; i-- > 0;) {
		uint32_t cur = bx_bpf_sim(progs[i], lens[i], d);

		if (rank(cur) < rank(ret))
			ret = cur;
	}
	return ret;
}
