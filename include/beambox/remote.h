/* SPDX-License-Identifier: MIT */
/*
 * remote: jobs on a beam worker that you start and manage yourself.
 *
 * bx_spawn starts, confines, watches and ends its workers. When all you
 * hold is a connected socket whose other end serves beam jobs — a worker
 * your own supervisor started, a Go program running Docker 1.0's
 * engine/remote.go Receiver, a beambox program run with ENGINESPAWN=1 and
 * this socket on its fd 3 — attach a proxy engine to it instead:
 *
 *   bx_engine *eng;
 *   if (bx_remote_attach(sock, &eng, &err) < 0) ...   // eng now owns sock
 *   bx_job_new(eng, "resize", &job); ... bx_job_run(job, &err); bx_job_free(job);
 *   bx_engine_free(eng);                               // closes sock: the worker sees EOF
 *
 * The proxy speaks the original protocol, which every beam worker speaks:
 * each job travels with a fresh job channel, its streams through the pipes
 * the worker hands back (a job's stdin/stdout/stderr fds and buffers work
 * as with bx_spawn's workers), and a failure is the worker's status with
 * its text on the job's stderr. Everything from the worker is checked as
 * strictly as from a spawned one. There is no process to watch or kill:
 * when the peer closes the connection the running job fails (-EPROTO,
 * "worker closed the job channel without a status") and later ones fail
 * too (-ECHILD), and a job's timeout or bx_job_cancel ends the job on this
 * side only; stopping the worker is yours to do. Several threads may run
 * jobs on one attached engine; the worker runs them one at a time.
 */
#ifndef BEAMBOX_REMOTE_H
#define BEAMBOX_REMOTE_H

#include <beambox/common.h>
#include <beambox/engine.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Attaches a proxy engine to sock, a connected AF_UNIX SOCK_STREAM socket.
 * On success the engine owns the socket: the fd number sock is closed (the
 * engine keeps its own close-on-exec descriptor of the socket, made
 * non-blocking), and bx_engine_free(*out), after the last job on it was
 * freed, closes the connection. On failure sock is untouched and still the
 * caller's. Returns 0, -EINVAL, -EBADF, -ENOTSOCK, -EPROTOTYPE (not a unix
 * stream socket), -ENOTCONN, -ENOMEM.
 */
BX_API BX_MUST_CHECK int bx_remote_attach(int sock, bx_engine **out, bx_error *err);

#ifdef __cplusplus
}
#endif

#endif
