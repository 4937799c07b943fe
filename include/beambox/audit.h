/* SPDX-License-Identifier: MIT */
/*
 * audit: an optional structured log of what happened to workers, as JSON
 * lines (one object per line, one write(2) per record; written with json-c,
 * so text a worker supplied is escaped, and invalid UTF-8 becomes U+FFFD).
 *
 * Records ("event" names the kind; every record has "time", UTC, ISO 8601):
 *   worker_spawned  worker_pid, serving_pid, policy, spawn_us, steps [{name, usec}], report [lines]
 *   spawn_failed    error
 *   job_started     worker_pid, policy, job
 *   job_ended       worker_pid, policy, job, status (null on error), error, duration_us
 *   violation       worker_pid, policy, syscall, nr, args [6], call, message
 *                   (the call the filter refused, named by the worker's init; before
 *                   its worker_exited)
 *   worker_exited   worker_pid, policy, cause, exit_status, signal, signal_name
 *
 * Where records go: bx_spawn_opts.audit_fd for one worker's events, else the
 * process-wide log set here; with neither, nothing is logged (the default).
 */
#ifndef BEAMBOX_AUDIT_H
#define BEAMBOX_AUDIT_H

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sets the process-wide audit log to a copy of fd (close-on-exec; the
 * caller keeps its own fd). -1 turns it off. Returns 0 or -errno.
 */
BX_API int bx_audit_set_fd(int fd);

/* Opens path for appending (created 0600 if missing) as the process-wide audit log. */
BX_API int bx_audit_open(const char *path, bx_error *err);

#ifdef __cplusplus
}
#endif

#endif
