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
/*
 * What the filesystem view step hands to the landlock step: an O_PATH fd on
 * the root of every mount it made, so that landlock grants access to exactly
 * what was mounted, never to whatever a path names later. -1: not made (an
 * optional bind whose source is absent, no /tmp, no /proc).
 */
struct bx_view {
	int bind_fd[BX_POLICY_BINDS_MAX]; /* same index as the policy's binds */
	int tmp_fd;
	int proc_fd;
	int dev_fd[3]; /* /dev/null, /dev/zero, /dev/urandom */
};
/* Marks every fd of the view as not made. */
void bx_view_init(struct bx_view *v);
/* Closes every fd of the view (for _cleanup_view_). */
void bx_view_release(struct bx_view *v);
#define _cleanup_view_ __attribute__((cleanup(bx_view_release)))

/* This process's pid as the parent's /proc sees it (before the view replaces /proc). */
pid_t bx_host_pid_from_proc(void);
/* 3. filesystem view */
int bx_step_fsview(const struct bx_policy *p, struct bx_confine_report *rep, struct bx_view *view,
		   bx_error *err) __attribute__((warn_unused_result));
/* 4. resource limits; the cgroup part runs before the namespaces (it needs the host's /sys) */
int bx_step_cgroup(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
int bx_step_rlimits(const struct bx_policy *p, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));
/* 5. capabilities and securebits */
int bx_step_caps(struct bx_confine_report *rep, bx_error *err) __attribute__((warn_unused_result));
/* 7. landlock */
int bx_step_landlock(const struct bx_policy *p, const struct bx_confine_opts *o,
		     const struct bx_view *view, struct bx_confine_report *rep, bx_error *err)
    __attribute__((warn_unused_result));

#endif
