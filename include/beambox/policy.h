/* SPDX-License-Identifier: MIT */
/*
 * policy: what confines a service's workers, loaded from a policy file
 * (grammar: policies/README.md; `beambox policy check FILE` validates one).
 *
 *   bx_policy *policy;
 *   bx_error err;
 *   if (bx_policy_load_named("greet", &policy, &err) < 0)   // or bx_policy_load_file(path, ...)
 *           fprintf(stderr, "%s\n", err.text);               // "greet.policy:12:3: unknown key
 * ..." bx_spawn_opts opts; bx_spawn_opts_init(&opts); opts.policy = policy; // borrowed for the
 * bx_spawn call
 *   ... bx_spawn(&opts, &worker, &err) ...
 *   bx_policy_free(policy);
 *
 * A policy is immutable once loaded and may be shared by threads and by any
 * number of bx_spawn calls. Errors in a policy's text are reported as
 * "file:line:col: message" in err->text (err->offset is the byte offset in
 * that file); everything returns 0 or -errno: -ENOENT (no such file or
 * policy), -EINVAL (syntax, unknown key, syscall or constant, a conflict),
 * -E2BIG (a bound: 1 MiB a file, 64 files, 512 rules), -ELOOP (@include
 * cycle or depth), -ENOMEM.
 *
 * Shipped policies (policies/ in the source tree: default, untrusted,
 * greet, and the fragments under common/) are installed to
 * DATADIR/beambox/policies and found by name, in this order:
 *   1. the directory in the environment variable BEAMBOX_POLICY_DIR, if it is
 *      set (only there: for tests and relocated installs; ignored in set-id
 *      programs);
 *   2. DATADIR/beambox/policies of the install prefix the library was built
 *      for (bx_policy_dir());
 *   3. the copies built into the library from the source tree it was built
 *      from (always there, so a name works in the build tree too).
 */
#ifndef BEAMBOX_POLICY_H
#define BEAMBOX_POLICY_H

#include <stddef.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable that overrides where shipped policies are looked up. */
#define BX_POLICY_DIR_ENV "BEAMBOX_POLICY_DIR"
/* Longest name bx_policy_load_named accepts. */
#define BX_POLICY_NAME_MAX 64

typedef struct bx_policy bx_policy;

/*
 * Reads and parses the policy file at path. @include paths are relative to
 * the including file's directory.
 */
BX_API BX_MUST_CHECK int bx_policy_load_file(const char *path, bx_policy **out, bx_error *err);

/*
 * Parses a policy from text[0..len) (no NUL needed). name is what errors
 * call the text ("name:line:col: ...") and anchors its @include paths: with
 * a directory part ("/etc/app/svc.policy") they are read from that
 * directory; without one ("svc.policy") they are the shipped fragments,
 * e.g. `@include common/worker.policy`, looked up as bx_policy_load_named does.
 */
BX_API BX_MUST_CHECK int bx_policy_parse_buffer(const char *name, const char *text, size_t len,
						bx_policy **out, bx_error *err);

/*
 * The built-in strict default (policies/default.policy as the library was
 * built: the policy bx_spawn uses when opts->policy is NULL).
 */
BX_API BX_MUST_CHECK int bx_policy_load_default(bx_policy **out, bx_error *err);

/*
 * A shipped policy by name: "untrusted" is untrusted.policy, looked up in
 * the order above. A name is 1..BX_POLICY_NAME_MAX letters, digits, '_',
 * '-' and '.', not starting with '.'; anything else is -EINVAL (load a path
 * with bx_policy_load_file).
 */
BX_API BX_MUST_CHECK int bx_policy_load_named(const char *name, bx_policy **out, bx_error *err);

/* The policy's `name = ...` ("" if it sets none). */
BX_API const char *bx_policy_name(const bx_policy *policy);

/*
 * The installed directory of shipped policies this library was built for
 * (DATADIR/beambox/policies under its install prefix).
 */
BX_API const char *bx_policy_dir(void);

/* Frees a policy. NULL is fine. */
BX_API void bx_policy_free(bx_policy *policy);

#ifdef __cplusplus
}
#endif

#endif
