/* SPDX-License-Identifier: MIT */
/*
 * engine: a table of named job handlers, and jobs that run on it.
 *
 * A job has a name, arguments, an ordered multi-valued environment and three
 * standard streams, and runs once. Its status is 0 (ok), 1 (error), 127
 * (no such handler: "NAME: command not found" is written to its stderr), or
 * whatever 0..255 its handler returns. The same API drives a local engine
 * (the handler runs in this process, e.g. inside a worker) and a proxy
 * engine returned by bx_spawn (the job runs in the worker).
 */
#ifndef BEAMBOX_ENGINE_H
#define BEAMBOX_ENGINE_H

#include <stdarg.h>
#include <stddef.h>

#include <beambox/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds on what a job may carry (a worker refuses more from the wire too). */
#define BX_JOB_NAME_MAX 256
#define BX_JOB_ARGS_MAX 4096
#define BX_JOB_ENV_MAX	1024

typedef struct bx_engine bx_engine;
typedef struct bx_job bx_job;

/*
 * A handler returns the job's status (0..255), or a negative errno when it
 * could not run the job at all (then bx_job_fail() should say why).
 */
typedef int (*bx_handler_fn)(bx_job *job, void *ctx);

BX_API BX_MUST_CHECK int bx_engine_new(bx_engine **out);
/* Frees the engine. Jobs created on it must have been freed. */
BX_API void bx_engine_free(bx_engine *eng);

/*
 * Registers fn under name (1..BX_JOB_NAME_MAX bytes, no NUL). Returns 0,
 * -EEXIST if the name is taken (including the built-in "commands"), -EINVAL.
 */
BX_API BX_MUST_CHECK int bx_engine_register(bx_engine *eng, const char *name, bx_handler_fn fn,
					    void *ctx);
/* The handler for names nobody registered (instead of status 127). */
BX_API void bx_engine_set_catchall(bx_engine *eng, bx_handler_fn fn, void *ctx);

/*
 * An installer registers a service's handlers on an engine: called in a
 * worker on its local engine (see bx_spawn_init). Returns 0 or -errno.
 */
typedef int (*bx_installer_fn)(bx_engine *eng, void *ctx);

/* ---------------------------------------------------------------- caller's side */

/* Creates a job for handler `name` with no args, no env, and no streams. */
BX_API BX_MUST_CHECK int bx_job_new(bx_engine *eng, const char *name, bx_job **out);
/* Frees the job (after or instead of running it). Never closes caller fds. NULL is fine. */
BX_API void bx_job_free(bx_job *job);

BX_API BX_MUST_CHECK int bx_job_add_arg(bx_job *job, const char *arg);
/* Appends a value to env key (an env is ordered and multi-valued). */
BX_API BX_MUST_CHECK int bx_job_add_env(bx_job *job, const char *key, const char *value);

/*
 * Streams. Given an fd, the handler reads/writes that very file (it is passed
 * to the worker as is, with no intermediate pipe) unless it is a terminal or
 * the caller asks for a relay (bx_job_set_fd_mode); the caller keeps
 * ownership and must keep it open until bx_job_run returns. Unset streams
 * are /dev/null (a bx_spawn worker's own).
 *
 * What passing an fd gives the worker: the caller's open file description
 * itself, for good. The worker can keep a duplicate after the job and write
 * (or read) through it later, change its file status flags (O_NONBLOCK,
 * O_APPEND: the caller's own fd sees them), move a shared offset, take locks
 * on the file, and on a terminal change its settings and signal the
 * terminal's foreground process group. Pass an fd only where that is
 * acceptable; otherwise relay it (below) or capture the output.
 */
BX_API BX_MUST_CHECK int bx_job_set_stdin_fd(bx_job *job, int fd);
BX_API BX_MUST_CHECK int bx_job_set_stdout_fd(bx_job *job, int fd);
BX_API BX_MUST_CHECK int bx_job_set_stderr_fd(bx_job *job, int fd);

/* How a caller's fd (bx_job_set_std*_fd) reaches a worker (bx_job_set_fd_mode). */
enum bx_fd_mode {
	/*
	 * The default: passed as is, except a terminal (isatty), which is
	 * relayed: a terminal in a worker's hands could resize it (SIGWINCH to
	 * the caller), change its settings (ECHO off, VINTR so that the next key
	 * the user types signals the caller, IXON) or stop its output (TCOOFF),
	 * freezing the caller's own writes.
	 */
	BX_FD_AUTO = 0,
	/* Passed as is, even a terminal: an explicit opt-in to all of the above. */
	BX_FD_PASS = 1,
	/*
	 * Never passed: the worker gets a pipe and the parent copies between it
	 * and the caller's fd while the job runs (within its timeout and
	 * cancellation, never blocking on the caller's fd: a terminal or pipe
	 * is written through a non-blocking reopening of it, so the caller's own
	 * flags stay as they are). When the job ends the relay ends: the worker
	 * keeps nothing of the caller's file, output it writes later goes
	 * nowhere, and what the caller's fd would not take before the job's
	 * output grace ran out is dropped.
	 */
	BX_FD_RELAY = 2,
};

/*
 * Sets how stream 0 (stdin), 1 (stdout) or 2 (stderr) reaches a worker when
 * it is a caller's fd: enum bx_fd_mode. Applies to jobs run by a worker
 * (bx_spawn's engine); a local engine runs the handler on the fd itself.
 * Returns 0 or -EINVAL.
 */
BX_API BX_MUST_CHECK int bx_job_set_fd_mode(bx_job *job, int stream, int mode);
/* stdin from a copy of buf (the library makes a sealed memfd of it). */
BX_API BX_MUST_CHECK int bx_job_set_stdin_buf(bx_job *job, const void *buf, size_t len);
/*
 * Capture stdout/stderr in memory, keeping at most max bytes; what comes
 * after that is read and dropped (bx_job_output reports it as truncated), so a
 * flooding handler cannot exhaust the caller's memory.
 */
BX_API BX_MUST_CHECK int bx_job_capture_stdout(bx_job *job, size_t max);
BX_API BX_MUST_CHECK int bx_job_capture_stderr(bx_job *job, size_t max);
/*
 * After bx_job_run: the captured bytes of stream 1 (stdout) or 2 (stderr),
 * NUL-terminated, owned by the job; *truncated (may be NULL) tells whether
 * bytes were dropped. NULL if that stream was not captured.
 */
BX_API const char *bx_job_output(const bx_job *job, int stream, size_t *len, int *truncated);

/*
 * Milliseconds the job may take in a worker (0, the default, means no
 * limit), counted from the start of bx_job_run: waiting for the worker
 * (which runs one job at a time; a few more may wait in it, sent ahead) and
 * sending the request are part of it. A job that runs out of time while
 * waiting for its turn fails alone, also when its request was sent ahead
 * and the worker has not started it (it is withdrawn); one whose request is
 * partly sent, or that the worker may be running, kills the worker (its
 * state is then unknown), and every other job on it fails too.
 */
BX_API void bx_job_set_timeout(bx_job *job, int timeout_ms);

/*
 * Runs the job (once: a second call returns -EALREADY). Returns its status
 * 0..255, or a negative errno with err saying what went wrong, e.g.
 * "worker 4242 killed by signal 31 (SIGSYS)"; a failure is never status 0.
 * A handler that failed with -errno in a bx_spawn worker gives that -errno
 * here, its text in err (-EREMOTEIO from workers that speak only the
 * original protocol, which report failures as a status and stderr text).
 */
BX_API BX_MUST_CHECK int bx_job_run(bx_job *job, bx_error *err);

/*
 * Cancels a running job from another thread: bx_job_run returns -ECANCELED.
 * A job still waiting for its turn on the worker (not sent, or sent ahead
 * and not started) is withdrawn and nothing else happens. A job whose request is partly or wholly sent cannot be
 * stopped in the worker without killing it, so the worker is killed (as on a
 * timeout).
 */
BX_API void bx_job_cancel(bx_job *job);

/* ---------------------------------------------------------------- handler's side */

BX_API const char *bx_job_name(const bx_job *job);
BX_API size_t bx_job_argc(const bx_job *job);
/* The i-th argument (not counting the name), or NULL past the end. */
BX_API const char *bx_job_arg(const bx_job *job, size_t i);
/* The last value of env key, or NULL. */
BX_API const char *bx_job_getenv(const bx_job *job, const char *key);
/* Number of env entries, and the i-th (key, value) pair in order. */
BX_API size_t bx_job_envc(const bx_job *job);
BX_API BX_MUST_CHECK int bx_job_env_at(const bx_job *job, size_t i, const char **key,
				       const char **value);

/* The job's streams as fds, owned by the job: use them, do not close them. */
BX_API int bx_job_stdin(const bx_job *job);
BX_API int bx_job_stdout(const bx_job *job);
BX_API int bx_job_stderr(const bx_job *job);
BX_API int bx_job_printf(bx_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
BX_API int bx_job_eprintf(bx_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Records why the job failed (for the caller's bx_error) and returns code, so a
 * handler can `return bx_job_fail(job, -EIO, "read %s: %m", path);`.
 */
BX_API int bx_job_fail(bx_job *job, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
