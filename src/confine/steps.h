/* SPDX-License-Identifier: MIT */
/* The steps bx_confine_self runs, one file each; only confine.c calls them. */
#ifndef BX_CONFINE_STEPS_H
#define BX_CONFINE_STEPS_H

#include "confine/confine.h"
#include "confine/report.h"

/* 1. fds */
int bx_step_fds(const struct bx_confine_opts *o, bx_error *err) __attribute__((warn_unused_result));
/* 2. identity and namespaces (may fork: see bx_confine_self) */
int bx_step_identity(const struct bx_policy *p, const struct bx_confine_opts *o,
		     struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
int bx_step_namespaces(const struct bx_policy *p, const struct bx_confine_opts *o,
		       struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
/* 3. filesystem view */
int bx_step_fsview(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
/* 4. resource limits; the cgroup part runs before the namespaces (it needs the host's /sys) */
int bx_step_cgroup(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
int bx_step_rlimits(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
/* 5. capabilities and securebits */
int bx_step_caps(struct bx_confine_report *rep, bx_error *err) __attribute__((warn_unused_result));
/* 7. landlock */
int bx_step_landlock(const struct bx_policy *p, const struct bx_confine_opts *o,
		     struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));

#endif
