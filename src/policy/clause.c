/* SPDX-License-Identifier: MIT */
/*
 * Clause algebra for syscall argument filters.
 *
 * libseccomp takes, per rule, a conjunction with at most one comparison per
 * argument, and it has no "masked not-equal". minijail expressions are
 * richer (`arg0 != 1 && arg0 != 2`, `arg2 & MASK`, and the `; return E`
 * fallback, which needs the complement of the whole expression). Both are
 * brought back to libseccomp's shape here by one device: any comparison on a
 * 64-bit value is a union of disjoint "cubes" (arg & mask) == value, and two
 * cubes intersect into one cube or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_internal.h"

#define ALL64 (~(uint64_t)0)

struct cube {
	uint64_t mask, value;
};

/* Bits 63..i set. */
static uint64_t prefix(unsigned i)
{
	return ALL64 << i;
}

/* Disjoint cubes whose union is the set of x satisfying c; returns the count (<= 65). */
static size_t cubes_of(const struct bx_sc_cmp *c, struct cube out[65])
{
	uint64_t v = c->value;
	size_t n = 0;

	switch (c->op) {
	case BX_SC_EQ:
		out[n++] = (struct cube){ALL64, v};
		break;
	case BX_SC_MASKED_EQ:
		out[n++] = (struct cube){c->mask, v & c->mask};
		break;
	case BX_SC_NE: /* equal to v above bit i, different at bit i */
		for (unsigned i = 0; i < 64; i++)
			out[n++] = (struct cube){prefix(i), (v ^ (1ull << i)) & prefix(i)};
		break;
	case BX_SC_LT:
	case BX_SC_LE: /* below v: equal above bit i, 0 where v has 1 */
		for (unsigned i = 0; i < 64; i++) {
			if (v & (1ull << i))
				out[n++] = (struct cube){prefix(i), (v & prefix(i)) ^ (1ull << i)};
		}
		if (c->op == BX_SC_LE)
			out[n++] = (struct cube){ALL64, v};
		break;
	case BX_SC_GT:
	case BX_SC_GE: /* above v: equal above bit i, 1 where v has 0 */
		for (unsigned i = 0; i < 64; i++) {
			if (!(v & (1ull << i)))
				out[n++] = (struct cube){prefix(i), (v & prefix(i)) | (1ull << i)};
		}
		if (c->op == BX_SC_GE)
			out[n++] = (struct cube){ALL64, v};
		break;
	}
	return n;
}

static bool cmp_eval(const struct bx_sc_cmp *c, uint64_t x)
{
	switch (c->op) {
	case BX_SC_EQ:
		return x == c->value;
	case BX_SC_NE:
		return x != c->value;
	case BX_SC_LT:
		return x < c->value;
	case BX_SC_LE:
		return x <= c->value;
	case BX_SC_GT:
		return x > c->value;
	case BX_SC_GE:
		return x >= c->value;
	case BX_SC_MASKED_EQ:
		return (x & c->mask) == c->value;
	}
	return false;
}

bool bx_sc_clause_eval(const struct bx_sc_clause *cl, const uint64_t args[BX_SC_ARGS_MAX])
{
	for (size_t i = 0; i < cl->ncmp && i < BX_SC_ARGS_MAX; i++) {
		if (cl->cmp[i].arg >= BX_SC_ARGS_MAX ||
		    !cmp_eval(&cl->cmp[i], args[cl->cmp[i].arg]))
			return false;
	}
	return true;
}

static bool is_upper(enum bx_sc_op op)
{
	return op == BX_SC_LT || op == BX_SC_LE;
}

static bool is_lower(enum bx_sc_op op)
{
	return op == BX_SC_GT || op == BX_SC_GE;
}

/* Two upper bounds, or two lower bounds. */
static bool same_side(const struct bx_sc_cmp *a, const struct bx_sc_cmp *b)
{
	return (is_upper(a->op) && is_upper(b->op)) || (is_lower(a->op) && is_lower(b->op));
}

/* Of two bounds on the same side, the one every value satisfying it satisfies the other. */
static const struct bx_sc_cmp *tighter(const struct bx_sc_cmp *a, const struct bx_sc_cmp *b)
{
	/* a implies b when the values a allows at its edge satisfy b. */
	uint64_t edge;

	if (is_upper(a->op)) {
		if (a->op == BX_SC_LT && a->value == 0)
			return a; /* nothing satisfies a */
		edge = a->op == BX_SC_LT ? a->value - 1 : a->value;
	} else {
		if (a->op == BX_SC_GT && a->value == ~(uint64_t)0)
			return a;
		edge = a->op == BX_SC_GT ? a->value + 1 : a->value;
	}
	return cmp_eval(b, edge) ? a : b;
}

static struct bx_sc_cmp cube_cmp(unsigned arg, struct cube k)
{
	if (k.mask == ALL64)
		return (struct bx_sc_cmp){.arg = arg, .op = BX_SC_EQ, .value = k.value};
	return (struct bx_sc_cmp){
	    .arg = arg, .op = BX_SC_MASKED_EQ, .mask = k.mask, .value = k.value};
}

/* Appends t with its comparison on c->arg replaced by r (or added). */
static int emit(const struct bx_sc_clause *t, const struct bx_sc_cmp *r, struct bx_sc_clause *out,
		size_t max, size_t *n)
{
	struct bx_sc_clause cl = *t;
	size_t i;

	if (*n >= max)
		return -E2BIG;
	/* A masked comparison with an empty mask holds for every value: drop it. */
	for (i = 0; i < cl.ncmp && cl.cmp[i].arg != r->arg; i++)
		;
	if (r->op == BX_SC_MASKED_EQ && r->mask == 0) {
		if (i < cl.ncmp)
			cl.cmp[i] = cl.cmp[--cl.ncmp];
	} else if (i < cl.ncmp) {
		cl.cmp[i] = *r;
	} else {
		cl.cmp[cl.ncmp++] = *r;
	}
	out[(*n)++] = cl;
	return 0;
}

int bx_sc_and(const struct bx_sc_clause *t, const struct bx_sc_cmp *c, struct bx_sc_clause *out,
	      size_t max)
{
	const struct bx_sc_cmp *old = NULL;
	struct cube a[65], b[65];
	size_t na, nb, n = 0;
	int r;

	for (size_t i = 0; i < t->ncmp; i++) {
		if (t->cmp[i].arg == c->arg)
			old = &t->cmp[i];
	}
	if (!old || memcmp(old, c, sizeof(*c)) == 0) {
		r = emit(t, c, out, max, &n);
		return r < 0 ? r : (int)n;
	}
	/* An equality decides the other comparison by itself. */
	if (old->op == BX_SC_EQ || c->op == BX_SC_EQ) {
		const struct bx_sc_cmp *eq = old->op == BX_SC_EQ ? old : c;
		const struct bx_sc_cmp *other = eq == old ? c : old;

		if (!cmp_eval(other, eq->value))
			return 0;
		r = emit(t, eq, out, max, &n);
		return r < 0 ? r : (int)n;
	}
	/*
	 * One comparison implying the other keeps the clause to one comparison
	 * (cubes would split it into up to 64 clauses, which libseccomp 2.5.4
	 * merges very slowly): x != v is implied by anything v fails, and two
	 * bounds on the same side reduce to the tighter one.
	 */
	if (c->op == BX_SC_NE && !cmp_eval(old, c->value)) {
		r = emit(t, old, out, max, &n);
		return r < 0 ? r : (int)n;
	}
	if (old->op == BX_SC_NE && !cmp_eval(c, old->value)) {
		r = emit(t, c, out, max, &n);
		return r < 0 ? r : (int)n;
	}
	if (same_side(old, c)) {
		r = emit(t, tighter(old, c), out, max, &n);
		return r < 0 ? r : (int)n;
	}
	na = cubes_of(old, a);
	nb = cubes_of(c, b);
	for (size_t i = 0; i < na; i++) {
		for (size_t j = 0; j < nb; j++) {
			uint64_t common = a[i].mask & b[j].mask;
			struct bx_sc_cmp m;

			if ((a[i].value ^ b[j].value) & common)
				continue;
			m = cube_cmp(c->arg,
				     (struct cube){a[i].mask | b[j].mask, a[i].value | b[j].value});
			r = emit(t, &m, out, max, &n);
			if (r < 0)
				return r;
		}
	}
	return (int)n;
}

size_t bx_sc_cubes(const struct bx_sc_cmp *c, struct bx_sc_cmp out[65])
{
	struct cube k[65];
	size_t n = cubes_of(c, k);

	for (size_t i = 0; i < n; i++)
		out[i] = cube_cmp(c->arg, k[i]);
	return n;
}

/* Disjoint single comparisons whose union is "not c". Returns the count (<= 64). */
size_t bx_sc_negate(const struct bx_sc_cmp *c, struct bx_sc_cmp out[64])
{
	static const enum bx_sc_op neg[] = {
	    [BX_SC_EQ] = BX_SC_NE, [BX_SC_NE] = BX_SC_EQ, [BX_SC_LT] = BX_SC_GE,
	    [BX_SC_LE] = BX_SC_GT, [BX_SC_GT] = BX_SC_LE, [BX_SC_GE] = BX_SC_LT,
	};
	size_t n = 0;

	if (c->op != BX_SC_MASKED_EQ) {
		out[n++] = (struct bx_sc_cmp){.arg = c->arg, .op = neg[c->op], .value = c->value};
		return n;
	}
	/* Equal on the mask's lower bits, different at bit i. */
	for (unsigned i = 0; i < 64; i++) {
		uint64_t bit = 1ull << i, below = c->mask & (bit - 1);

		if (!(c->mask & bit))
			continue;
		out[n++] = cube_cmp(
		    c->arg, (struct cube){below | bit, (c->value & below) | (~c->value & bit)});
	}
	return n;
}

int bx_sc_product(const struct bx_sc_cmp *alts, const size_t *ends, size_t ngroups,
		  struct bx_sc_clause *out, size_t max)
{
	struct bx_sc_clause *tmp;
	size_t nout = 1, start = 0;
	int r = 0;

	if (max == 0)
		return -E2BIG;
	tmp = calloc(max, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	memset(&out[0], 0, sizeof(out[0])); /* the universe */
	for (size_t g = 0; g < ngroups && nout > 0; g++) {
		size_t ntmp = 0;

		for (size_t t = 0; t < nout; t++) {
			for (size_t k = start; k < ends[g]; k++) {
				r = bx_sc_and(&out[t], &alts[k], tmp + ntmp, max - ntmp);
				if (r < 0)
					goto done;
				ntmp += (size_t)r;
			}
		}
		memcpy(out, tmp, ntmp * sizeof(*out));
		nout = ntmp;
		start = ends[g];
	}
	r = (int)nout;
done:
	free(tmp);
	return r;
}

int bx_sc_complement(const struct bx_sc_clause *in, size_t n, struct bx_sc_clause *out, size_t max)
{
	struct bx_sc_cmp *alts = calloc(n * BX_SC_ARGS_MAX * 64 + 1, sizeof(*alts));
	size_t *ends = calloc(n + 1, sizeof(*ends));
	size_t na = 0;
	int r;

	if (!alts || !ends) {
		free(alts);
		free(ends);
		return -ENOMEM;
	}
	for (size_t ci = 0; ci < n; ci++) {
		for (size_t k = 0; k < in[ci].ncmp && k < BX_SC_ARGS_MAX; k++)
			na += bx_sc_negate(&in[ci].cmp[k], alts + na);
		ends[ci] = na;
	}
	r = bx_sc_product(alts, ends, n, out, max);
	free(alts);
	free(ends);
	return r;
}
