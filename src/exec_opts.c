/* SPDX-License-Identifier: MIT */
/*
 * bx_exec_run: `beambox exec` with options. This process stays outside as
 * the unconfined waiter and supervisor (exec.c: it starts the sandbox's pid
 * 1, enforces the wall-clock timeout and cancellation, and learns how the
 * confinement went and how the program ended from init's notes, which the
 * program itself never holds). Here: the options (binds resolved on the host
 * before the sandbox exists, chdir, environment), the verbose lines, the
 * result and its JSON status.
 */
#define _GNU_SOURCE
#include "exec_opts.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "audit.h"
#include "policy/api.h"
#include "policy/policy_internal.h"
#include "util/cleanup.h"
#include "util/error.h"

/* ================================================================ policies by name */

/* NAME or FILE as the CLI takes it (src/policy/api.c); none means the built-in default. */
int bx_exec_policy_load(const char *name, struct bx_policy **out, bx_error *err)
{
	return bx_policy_load_spec(name && *name ? name : "default", out, err);
}

/* ================================================================ hooks */

static bool env_name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **bx_exec_ext_env(const struct bx_exec_ext *x, char **envp)
{
	size_t n = 0;

	if (!x || !envp)
		return envp;
	while (envp[n])
		n++;
	for (size_t i = 0; i < x->nenv; i++) {
		const bx_exec_env *e = &x->env[i];
		size_t w = 0;

		/* Remove every NAME=..., then add the new value. */
		for (size_t k = 0; k < n; k++) {
			if (env_name_is(envp[k], e->name))
				free(envp[k]);
			else
				envp[w++] = envp[k];
		}
		n = w;
		envp[n] = NULL;
		if (!e->value)
			continue;
		char **grown = realloc(envp, (n + 2) * sizeof(*envp));
		if (!grown)
			goto fail;
		envp = grown;
		if (asprintf(&envp[n], "%s=%s", e->name, e->value) < 0) {
			envp[n] = NULL;
			goto fail;
		}
		envp[++n] = NULL;
	}
	return envp;
fail:
	for (size_t k = 0; envp[k]; k++)
		free(envp[k]);
	free(envp);
	return NULL;
}

/* A step's lines, joined with "; ", into out. */
static void step_result(const struct bx_confine_report *rep, const struct bx_confine_step *s,
			char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (size_t i = s->off;
	     i < (size_t)s->off + s->len && i < sizeof(rep->text) && rep->text[i] && o + 3 < len;
	     i++) {
		if (rep->text[i] != '\n') {
			out[o++] = rep->text[i];
		} else if (i + 1 < (size_t)s->off + s->len) {
			out[o++] = ';';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, len, "done");
}

void bx_exec_ext_confined(const struct bx_exec_ext *x, const struct bx_confine_report *rep)
{
	if (x && x->verbose) {
		char buf[4096];
		size_t o = 0;

		for (size_t i = 0; i < rep->nsteps && o < sizeof(buf); i++) {
			char res[384];
			int w;

			step_result(rep, &rep->steps[i], res, sizeof(res));
			w = snprintf(buf + o, sizeof(buf) - o,
				     "beambox: exec: %-10s %7llu us  %s\n", rep->steps[i].name,
				     (unsigned long long)rep->steps[i].usec, res);
			if (w < 0)
				break;
			o += (size_t)w < sizeof(buf) - o ? (size_t)w : sizeof(buf) - o - 1;
		}
		bx_ignore(write(STDERR_FILENO, buf, o));
	}
}

/* ================================================================ options */

BX_API void bx_exec_opts_init(bx_exec_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->json_status_fd = -1;
	opts->audit_fd = -1;
	opts->cancel_fd = -1;
}

/* Absolute, normalised: no "." or ".." component, no empty one. */
static bool normalised_abs(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || p[0] != '/' || len >= BX_POLICY_PATH_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		size_t e = i + 1;

		if (p[i] != '/')
			continue;
		while (e < len && p[e] != '/')
			e++;
		if ((e - i - 1 == 1 && p[i + 1] == '.') ||
		    (e - i - 1 == 2 && p[i + 1] == '.' && p[i + 2] == '.') ||
		    (e == i + 1 && e < len))
			return false;
	}
	return true;
}

static int check_opts(const bx_exec_opts *o, const struct bx_policy *p, bx_error *err)
{
	if (o->nbinds > BX_POLICY_BINDS_MAX - p->nbinds)
		return bx_fail(err, -E2BIG, BX_NO_OFFSET,
			       "%zu binds on top of the policy's %zu: at most %d in all", o->nbinds,
			       p->nbinds, BX_POLICY_BINDS_MAX);
	for (size_t i = 0; i < o->nbinds; i++) {
		const bx_exec_bind *b = &o->binds[i];

		if (!b->src || !*b->src || !b->dst)
			return bx_fail(err, -EINVAL, BX_NO_OFFSET, "bind %zu: empty source", i + 1);
		if (!normalised_abs(b->dst) || strcmp(b->dst, "/") == 0)
			return bx_fail(
			    err, -EINVAL, BX_NO_OFFSET,
			    "bind destination '%.200s': expected an absolute, normalised "
			    "path other than /",
			    b->dst);
	}
	if (o->chdir && !normalised_abs(o->chdir))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET,
			       "chdir '%.200s': expected an absolute, normalised path", o->chdir);
	for (size_t i = 0; i < o->nenv; i++) {
		const char *n = o->env[i].name;

		if (!n || !*n || strchr(n, '='))
			return bx_fail(err, -EINVAL, BX_NO_OFFSET,
				       "environment name '%.64s': empty or has '='", n ? n : "");
	}
	return 0;
}

/*
 * A shallow copy of the policy with the extra binds appended, sources
 * resolved on the host now, before the sandbox exists (free it with
 * free_policy_with_binds). A missing optional source is left out.
 */
static int policy_with_binds(const struct bx_policy *base, const bx_exec_opts *o,
			     struct bx_policy **out, bx_error *err)
{
	struct bx_policy *p;
	int r = 0;

	if (o->nbinds == 0) {
		*out = (struct bx_policy *)base;
		return 0;
	}
	p = malloc(sizeof(*p));
	if (!p)
		return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
	memcpy(p, base, sizeof(*p));
	for (size_t i = 0; i < o->nbinds && r == 0; i++) {
		const bx_exec_bind *b = &o->binds[i];
		char *src = realpath(b->src, NULL);
		char *dst;

		if (!src && b->optional && (errno == ENOENT || errno == ENOTDIR))
			continue;
		if (!src) {
			r = bx_fail(err, -errno, BX_NO_OFFSET, "bind source '%.200s': %m", b->src);
			break;
		}
		dst = strdup(b->dst);
		if (!dst) {
			free(src);
			r = bx_fail(err, -ENOMEM, BX_NO_OFFSET, "out of memory");
			break;
		}
		p->binds[p->nbinds++] = (struct bx_bind){
		    .src = src,
		    .dst = dst,
		    .rw = b->rw != 0,
		    .optional = false,
		    /* as in policy files: what the sandbox can write it cannot run */
		    .exec = b->rw == 0};
	}
	if (r < 0) {
		/* Only the binds added here are this copy's own. */
		for (size_t i = base->nbinds; i < p->nbinds; i++) {
			free(p->binds[i].src);
			free(p->binds[i].dst);
		}
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Frees what policy_with_binds made (nothing when it returned base itself). */
static void free_policy_with_binds(const struct bx_policy *base, struct bx_policy *p)
{
	if (!p || p == base)
		return;
	for (size_t i = base->nbinds; i < p->nbinds; i++) {
		free(p->binds[i].src);
		free(p->binds[i].dst);
	}
	free(p);
}

/* ================================================================ the result */

static const struct {
	uint32_t bit;
	const char *name;
} ns_names[] = {
    {BX_NS_USER, "user"}, {BX_NS_MOUNT, "mount"},   {BX_NS_IPC, "ipc"},	  {BX_NS_UTS, "uts"},
    {BX_NS_NET, "net"},	  {BX_NS_CGROUP, "cgroup"}, {BX_NS_TIME, "time"}, {BX_NS_PID, "pid"},
};

void bx_exec_result_take_report(bx_exec_result *res, struct bx_confine_report *rep)
{
	size_t o = 0;

	rep->text[sizeof(rep->text) - 1] = '\0';
	res->pid = rep->host_pid;
	res->namespaces[0] = '\0';
	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++) {
		if (!(rep->namespaces & ns_names[i].bit))
			continue;
		int w = snprintf(res->namespaces + o, sizeof(res->namespaces) - o, "%s%s",
				 o ? " " : "", ns_names[i].name);
		if (w > 0 && (size_t)w < sizeof(res->namespaces) - o)
			o += (size_t)w;
	}
	res->nsteps = 0;
	_Static_assert(BX_EXEC_STEPS_MAX >= BX_CONFINE_STEPS_MAX, "every step fits the result");
	for (size_t i = 0; i < rep->nsteps && i < BX_CONFINE_STEPS_MAX; i++) {
		struct bx_confine_step *s = &rep->steps[i];
		bx_exec_step *d = &res->steps[res->nsteps++];

		s->name[sizeof(s->name) - 1] = '\0';
		if (s->off >= sizeof(rep->text))
			s->off = 0, s->len = 0;
		if ((size_t)s->off + s->len > sizeof(rep->text))
			s->len = (uint16_t)(sizeof(rep->text) - s->off);
		snprintf(d->name, sizeof(d->name), "%s", s->name);
		step_result(rep, s, d->result, sizeof(d->result));
		d->usec = (unsigned long long)s->usec;
	}
}

BX_API int bx_exec_run(const bx_exec_opts *o, const char *prog, char *const argv[],
		       bx_exec_result *res, bx_error *err)
{
	bx_exec_opts defaults;
	bx_exec_result local;
	bx_error local_err;
	struct bx_policy *own = NULL, *p = NULL;
	const struct bx_policy *policy;
	struct bx_exec_ext x;
	int r;

	if (!res)
		res = &local;
	if (!err)
		err = &local_err;
	bx_error_clear(err);
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	res->syscall_nr = -1;
	res->status = BX_EXEC_SETUP_FAILED;
	if (!o) {
		bx_exec_opts_init(&defaults);
		o = &defaults;
	}
	policy = o->policy;
	if (!policy) {
		r = bx_exec_policy_load(o->policy_name, &own, err);
		if (r < 0)
			goto out;
		policy = own;
	}
	snprintf(res->policy, sizeof(res->policy), "%s", policy->name);
	r = check_opts(o, policy, err);
	if (r == 0)
		r = policy_with_binds(policy, o, &p, err);
	if (r < 0)
		goto out;
	x = (struct bx_exec_ext){
	    .chdir = o->chdir,
	    .env = o->env,
	    .nenv = o->nenv,
	    .verbose = o->verbose != 0,
	    .timeout_ms = o->timeout_ms,
	    .cancel_fd = o->cancel_fd,
	    .audit_fd = o->audit_fd,
	};
	r = bx_exec_supervised(p, prog, argv, -1, &x, res, err);
out:
	if (r < 0) {
		res->status = bx_exec_status_for(r, err);
		snprintf(res->error, sizeof(res->error), "%s", err->text);
		/* The waiter logged worker_spawned if it got that far; else this is the record. */
		if (!res->pid)
			bx_audit_spawn_failed(o->audit_fd, err->text);
	}
	if (o->json_status_fd >= 0)
		bx_ignore(bx_exec_write_json(o->json_status_fd, res));
	free_policy_with_binds(policy, p);
	bx_policy_free(own);
	return r;
}

/* ================================================================ JSON status */

BX_API int bx_exec_write_json(int fd, const bx_exec_result *res)
{
	json_object *o = json_object_new_object(), *ns = json_object_new_array(),
		    *steps = json_object_new_array();
	char nsbuf[sizeof(res->namespaces)], signame[16] = "";
	const char *sig = res->signal ? sigabbrev_np(res->signal) : NULL;
	int r;

	if (!o || !ns || !steps) {
		json_object_put(o);
		json_object_put(ns);
		json_object_put(steps);
		return -ENOMEM;
	}
	snprintf(nsbuf, sizeof(nsbuf), "%s", res->namespaces);
	for (char *save = NULL, *t = strtok_r(nsbuf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_object_array_add(ns, bx_json_str(t));
	for (unsigned i = 0; i < res->nsteps && i < BX_EXEC_STEPS_MAX; i++) {
		json_object *st = json_object_new_object();

		if (!st)
			continue;
		json_object_object_add(st, "name", bx_json_str(res->steps[i].name));
		json_object_object_add(st, "result", bx_json_str(res->steps[i].result));
		json_object_object_add(st, "usec",
				       json_object_new_int64((int64_t)res->steps[i].usec));
		json_object_array_add(steps, st);
	}
	if (sig)
		snprintf(signame, sizeof(signame), "SIG%s", sig);
	json_object_object_add(o, "pid", json_object_new_int(res->pid));
	json_object_object_add(o, "policy", bx_json_str(res->policy));
	json_object_object_add(o, "namespaces", ns);
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "status", json_object_new_int(res->status));
	json_object_object_add(o, "exit_code",
			       res->exit_code >= 0 ? json_object_new_int(res->exit_code) : NULL);
	json_object_object_add(o, "signal", res->signal ? json_object_new_int(res->signal) : NULL);
	json_object_object_add(o, "signal_name", sig ? bx_json_str(signame) : NULL);
	json_object_object_add(o, "timed_out", json_object_new_boolean(res->timed_out != 0));
	json_object_object_add(o, "duration_us", json_object_new_int64((int64_t)res->duration_us));
	json_object_object_add(o, "syscall", res->syscall[0] ? bx_json_str(res->syscall) : NULL);
	/* hook (violation.c): the refused call, when init named it */
	json_object_object_add(o, "syscall_nr",
			       res->syscall_nr >= 0 ? json_object_new_int(res->syscall_nr) : NULL);
	if (res->syscall_nr >= 0) {
		json_object *a = json_object_new_array();

		for (int i = 0; a && i < 6; i++)
			json_object_array_add(a, json_object_new_uint64(res->syscall_args[i]));
		json_object_object_add(o, "syscall_args", a);
	} else {
		json_object_object_add(o, "syscall_args", NULL);
	}
	json_object_object_add(o, "call", res->call[0] ? bx_json_str(res->call) : NULL);
	json_object_object_add(o, "violation",
			       res->violation[0] ? bx_json_str(res->violation) : NULL);
	json_object_object_add(o, "error", res->error[0] ? bx_json_str(res->error) : NULL);
	r = bx_json_write_line(fd, o);
	json_object_put(o);
	return r;
}
