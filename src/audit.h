/* SPDX-License-Identifier: MIT */
/*
 * audit (internal): the record writers behind include/beambox/audit.h, and
 * the JSON helpers bx_exec_run shares. Call sites are one line each:
 *   spawn.c   bx_spawn: t0 = bx_audit_now() at the start; bx_audit_spawned()
 *             on success, bx_audit_spawn_failed() on the failure path;
 *             bx_worker_free: bx_audit_exited() once the worker is reaped.
 *   engine.c  bx_job_run: t0 = bx_audit_job_started() before the handler,
 *             bx_audit_job_ended() after it.
 * Each is a no-op (no lock taken) while no log is set anywhere.
 */
#ifndef BX_AUDIT_H
#define BX_AUDIT_H

#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include <beambox/audit.h>

/* Monotonic microseconds, for durations. */
uint64_t bx_audit_now(void);

/*
 * A worker is ready: registers it (worker and its proxy engine are the keys
 * later records are found by) with its log (fd >= 0, or the process-wide one)
 * and writes worker_spawned. report is the worker's own text (hostile).
 */
void bx_audit_spawned(int fd, const void *worker, const void *engine, pid_t pid, pid_t serving_pid,
		      const char *policy, const char *report, uint64_t t0);
void bx_audit_spawn_failed(int fd, const char *error);
/* Returns the start time to pass to bx_audit_job_ended (0 when the engine is not a worker's). */
uint64_t bx_audit_job_started(const void *engine, const char *job);
void bx_audit_job_ended(const void *engine, const char *job, int status, const char *error,
			uint64_t t0);
/* reaped: whether code/status are known; code is a CLD_* value, status its number. */
void bx_audit_exited(const void *worker, int reaped, int code, int status);
/* A system call the filter refused (syscall may be NULL when only nr is known). */
void bx_audit_violation(int fd, pid_t pid, const char *policy, const char *syscall, int nr,
			const uint64_t args[6]);
/*
 * The same for a registered worker, into its log: the refused call its init
 * named (spawn/violation.h), as the policy reads it (call) and the whole
 * message with the rule that would allow it. nr -1: unknown (withdrawn).
 */
void bx_audit_worker_violation(const void *worker, const char *syscall, int nr,
			       const uint64_t args[6], const char *call, const char *message);

/* ---------------------------------------------------------------- JSON helpers */

/* A JSON string from untrusted bytes: invalid UTF-8 becomes U+FFFD; json-c escapes the rest. */
json_object *bx_json_text(const char *s, size_t len);
json_object *bx_json_str(const char *s);
/* Writes o as one line with one write(2) (retrying short writes). 0 or -errno. */
int bx_json_write_line(int fd, json_object *o);
/* Parses the report's "timings:" line into [{name, usec}] (NULL if there is none). */
json_object *bx_audit_timings(const char *report);

#endif
