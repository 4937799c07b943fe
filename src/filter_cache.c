/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "filter_cache.h"

#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

#define CACHE_ENTRIES 8

struct entry {
	char *key; /* everything bx_seccomp_compile reads, serialised */
	size_t keylen;
	struct bx_bpf bpf;
	unsigned long used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry cache[CACHE_ENTRIES];
static unsigned long clock_now;

struct keybuf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct keybuf *k, const void *data, size_t n)
{
	if (k->err)
		return;
	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 4096;
		char *grown;

		while (cap < k->len + n)
			cap *= 2;
		grown = realloc(k->p, cap);
		if (!grown) {
			k->err = -ENOMEM;
			return;
		}
		k->p = grown;
		k->cap = cap;
	}
	memcpy(k->p + k->len, data, n);
	k->len += n;
}

static void put_str(struct keybuf *k, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	put(k, &n, sizeof(n));
	put(k, s, n);
}

/* Field by field, so that padding and unused array tails never matter. */
static int make_key(const struct bx_policy *p, struct keybuf *k)
{
	put(k, &p->default_action, sizeof(p->default_action));
	put(k, &p->namespaces, sizeof(p->namespaces));
	put(k, &p->nrules, sizeof(p->nrules));
	for (size_t i = 0; i < p->nrules; i++) {
		const struct bx_sc_rule *r = &p->rules[i];

		put_str(k, r->name, sizeof(r->name));
		put(k, &r->action, sizeof(r->action));
		/* bx_seccomp_compile adds derived (fallback) rules first: order is part of the key.
		 */
		put(k, &r->derived, sizeof(r->derived));
		put(k, &r->has_else, sizeof(r->has_else));
		put(k, &r->else_action, sizeof(r->else_action));
		put(k, &r->nclauses, sizeof(r->nclauses));
		for (size_t c = 0; c < r->nclauses && c < BX_SC_CLAUSES_MAX; c++) {
			const struct bx_sc_clause *cl = &r->clauses[c];

			put(k, &cl->ncmp, sizeof(cl->ncmp));
			for (size_t a = 0; a < cl->ncmp && a < BX_SC_ARGS_MAX; a++) {
				put(k, &cl->cmp[a].arg, sizeof(cl->cmp[a].arg));
				put(k, &cl->cmp[a].op, sizeof(cl->cmp[a].op));
				put(k, &cl->cmp[a].mask, sizeof(cl->cmp[a].mask));
				put(k, &cl->cmp[a].value, sizeof(cl->cmp[a].value));
			}
		}
	}
	put(k, &p->noverride_deny, sizeof(p->noverride_deny));
	for (size_t i = 0; i < p->noverride_deny; i++)
		put_str(k, p->override_deny[i], 64);
	return k->err;
}

int bx_filter_cached(const struct bx_policy *p, struct bx_bpf *out, bx_error *err)
{
	/* Workers get the runtime's own calls (src/policy/runtime.c) on top of the policy. */
	/* Refused calls are named (filter.h): a worker without an init loads it as kill-process. */
	static const struct bx_seccomp_extra worker = {
	    .exec_fd = -1, .runtime = BX_RUNTIME_WORKER, .violations = true, .violation_fd = -1};
	struct keybuf k = {0};
	struct bx_bpf fresh = {0};
	struct entry *victim;
	int r;

	r = make_key(p, &k);
	if (r < 0) {
		free(k.p);
		return bx_fail(err, r, BX_NO_OFFSET, "filter cache: out of memory");
	}
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < CACHE_ENTRIES; i++) {
		struct entry *e = &cache[i];

		if (e->key && e->keylen == k.len && memcmp(e->key, k.p, k.len) == 0) {
			e->used = ++clock_now;
			r = bx_bpf_copy(&e->bpf, out);
			pthread_mutex_unlock(&lock);
			free(k.p);
			return r < 0 ? bx_fail(err, r, BX_NO_OFFSET, "filter cache: out of memory")
				     : 0;
		}
	}
	pthread_mutex_unlock(&lock);

	/* Compile outside the lock: other spawns need not wait for this one. */
	r = bx_seccomp_compile(p, &worker, &fresh, err);
	if (r < 0) {
		free(k.p);
		return r;
	}
	r = bx_bpf_copy(&fresh, out);
	if (r < 0) {
		bx_bpf_free(&fresh);
		free(k.p);
		return bx_fail(err, r, BX_NO_OFFSET, "filter cache: out of memory");
	}
	pthread_mutex_lock(&lock);
	victim = &cache[0];
	for (size_t i = 1; i < CACHE_ENTRIES; i++)
		if (!cache[i].key || (victim->key && cache[i].used < victim->used))
			victim = &cache[i];
	free(victim->key);
	bx_bpf_free(&victim->bpf);
	victim->key = k.p;
	victim->keylen = k.len;
	victim->bpf = fresh;
	victim->used = ++clock_now;
	pthread_mutex_unlock(&lock);
	return 0;
}
