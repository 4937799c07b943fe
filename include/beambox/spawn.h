/* SPDX-License-Identifier: MIT */
/*
 * spawn: run a service's handlers in a worker process that is a fresh
 * execution of this very program.
 *
 *   int main(int argc, char **argv) {
 *           bx_spawn_init(install_my_service, NULL);  // first thing: workers never return
 *           ...
 *           bx_worker *w;
 *           bx_spawn(NULL, &w, &err);
 *           bx_job_new(bx_worker_engine(w), "resize", &job); ... bx_job_run(job, &err);
 *           bx_worker_free(w);
 *   }
 *
 * The worker is started from a sealed in-memory copy of the program (so it can
 * never write to or replace the binary on disk: runc CVE-2019-5736), with an
 * environment of ENGINESPAWN=1 plus what the caller lists, stdio on
 * /dev/null, its beam socket on fd 3, every other fd closed, in its own
 * session, and killed when its parent dies (PR_SET_PDEATHSIG). The parent
 * never needs privileges. A root parent's workers each run as a host uid of
 * their own (policy `uid = dynamic`) in a user namespace that root owns.
 * Safe to call from any thread of a multi-threaded program.
 *
 * Two ways to start one, confined the same way (same sequence, same checks
 * from outside, same report):
 *  - cold: a fresh execution of the program's sealed copy (exec, dynamic
 *    loading, the policy sent and parsed), from the thread that calls
 *    bx_spawn; it dies when that thread ends;
 *  - through the zygote: a process bx_spawn_init starts, a fresh execution
 *    of the program's sealed copy too, which forks workers on request with
 *    their policy already parsed and their filter loaded in memory (about a
 *    millisecond less per worker). It dies with this process, and its
 *    workers die when the main thread ends. The default where there is one
 *    (bx_spawn_opts.start).
 * bx_spawn_init starts the zygote only when it is called early enough: on
 * the main thread, while the process has no other thread (at the top of
 * main(), as it should be), and BEAMBOX_NO_ZYGOTE is not set in the
 * environment. Otherwise there is no zygote and every start is cold. Either way a worker is a child
 * of this process (pidfd, wait status, kill as before), and an exec gives it SIGCHLD as exit
 * signal: a program that waits for any child (wait(), waitpid(-1)) sees workers, and also the
 * zygote, which lives as long as the process. What the zygote's workers share with each other
 * (their address-space layout, the zygote's memory as it was when it forked them) and why that is
 * acceptable: SECURITY.md.
 */
#ifndef BEAMBOX_SPAWN_H
#define BEAMBOX_SPAWN_H

#include <sys/types.h>

#include <beambox/common.h>
#include <beambox/engine.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable that marks a worker (the original's). */
#define BX_SPAWN_MARKER "ENGINESPAWN"
/* The fd on which a worker finds its beam connection. */
#define BX_SPAWN_BEAM_FD 3

typedef struct bx_worker bx_worker;
/* A confinement policy (see policies/README.md). */
struct bx_policy;

/* How bx_spawn starts a worker (bx_spawn_opts.start). */
enum bx_spawn_start {
	/* Through this process's zygote when it has one and the start fits it, else cold. */
	BX_SPAWN_START_AUTO = 0,
	/* Cold: a fresh execution of the program's sealed copy (exec, dynamic loading). */
	BX_SPAWN_START_COLD = 1,
	/* Through the zygote only: -ENOTSUP when this process has none. */
	BX_SPAWN_START_ZYGOTE = 2,
};

typedef struct bx_spawn_opts {
	/* NULL-terminated names of variables copied from the parent's environment. */
	const char *const *env_keep;
	/* The worker's fd 2: -1 (default) for /dev/null, or an fd to share (debugging). */
	int stderr_fd;
	/* How long to wait for the worker's ready message (default 10000). */
	int ready_timeout_ms;
	/* How the worker is confined; NULL: the built-in strict default. Borrowed. */
	const struct bx_policy *policy;
	/*
	 * This worker's audit log (beambox/audit.h): -1 (default) for the
	 * process-wide one, if any. Borrowed: keep it open while the worker lives.
	 */
	int audit_fd;
	/*
	 * enum bx_spawn_start (default BX_SPAWN_START_AUTO). AUTO starts cold
	 * when there is no zygote, for bx_spawn_exec (a foreign program needs
	 * its own exec), for a policy without user and pid namespaces, and when
	 * env_keep names a variable the dynamic loader or the C library reads at
	 * start-up only (LD_*, GLIBC_*, MALLOC_*); ZYGOTE then fails (-EINVAL,
	 * or -ENOTSUP when there is no zygote).
	 */
	int start;
} bx_spawn_opts;

/* Fills opts with the defaults. */
BX_API void bx_spawn_opts_init(bx_spawn_opts *opts);

/*
 * Call first in main(). In a normal process it records the installer, starts
 * the zygote when called early enough (see above; the zygote's own start runs
 * on its own, the first spawn through it waits for it) and returns 0. In a
 * worker (ENGINESPAWN=1) or the zygote it never returns: a worker takes fd 3 as
 * its connection, closes every other fd but 0-2, confines itself, lets the
 * installer register handlers on a fresh engine, tells the parent it is
 * ready, serves jobs one at a time and exits 0 when the parent closes the
 * connection (1 on a setup failure, after telling the parent why).
 * Started by `beambox policy learn --worker` (BEAMBOX_LEARN_FD and
 * BEAMBOX_LEARN_PID, read and unset here), the process's workers learn: each
 * starts cold whatever `start` says, confined by its policy, its calls
 * recorded and allowed by that supervisor (for development; SECURITY.md).
 * Set but not the supervisor's socket, the variables make every bx_spawn
 * fail (-EPERM with the reason).
 */
BX_API int bx_spawn_init(bx_installer_fn installer, void *ctx);

/*
 * Starts a worker and waits until it is ready. opts may be NULL. Returns 0,
 * or -errno with err saying why the worker did not start (e.g. "worker 4242
 * exited with status 1 before it was ready: ..."). -EPERM if bx_spawn_init
 * was not called.
 */
BX_API BX_MUST_CHECK int bx_spawn(const bx_spawn_opts *opts, bx_worker **out, bx_error *err);

/*
 * Starts another executable as a worker, one that speaks the original
 * protocol (Docker 1.0's engine/spawn): it finds its beam connection on fd 3
 * and ENGINESPAWN=1 in its environment, serves jobs and exits when the
 * connection closes. path is opened here (searched in $PATH when it has no
 * '/'); argv is its argv (argv[0] included); envp its environment besides
 * ENGINESPAWN=1 (NULL: none; NAME=value strings). The program runs confined
 * by opts->policy exactly as `beambox exec` runs one (it needs a pid
 * namespace), stdio on /dev/null (stderr_fd as for bx_spawn), executed from
 * an fd at the policy's rlimit.nofile, with the same lifecycle as a bx_spawn
 * worker: pidfd, ready timeout (here: until the program has been executed),
 * verification from outside, job timeouts, kill. Jobs on its engine use the
 * original vocabulary (no passed fds: streams go through pipes). Like
 * bx_spawn, it needs bx_spawn_init() at the top of main() (the confinement
 * runs in a fresh execution of this program before the foreign one).
 */
BX_API BX_MUST_CHECK int bx_spawn_exec(const bx_spawn_opts *opts, const char *path,
				       char *const argv[], char *const envp[], bx_worker **out,
				       bx_error *err);

/* The proxy engine: jobs created on it run in the worker. Owned by the worker. */
BX_API bx_engine *bx_worker_engine(bx_worker *w);
BX_API pid_t bx_worker_pid(const bx_worker *w);
/* A pidfd for the worker, readable in poll() once it has exited. Owned by the worker. */
BX_API int bx_worker_pidfd(const bx_worker *w);
/*
 * With a pid namespace the process bx_worker_pid names is pid 1 of the
 * worker's namespace, a tiny init; the serving process (the one that runs
 * handlers) is its child, pid 2 in there. This is its pid as this process
 * sees it.
 */
BX_API pid_t bx_worker_serving_pid(const bx_worker *w);
/* What confinement was applied, one "step: detail" line each (owned by the worker). */
BX_API const char *bx_worker_report(const bx_worker *w);
/*
 * Sends sig through pidfds (never to a recycled pid): SIGKILL to the serving
 * process and to pid 1 of the worker's namespace, whose death ends every
 * process in it; other signals to the serving process. -ESRCH once it has
 * exited.
 */
BX_API int bx_worker_kill(bx_worker *w, int sig);
/*
 * Waits up to timeout_ms (-1: forever) for the worker to exit, reaps it and
 * stores the wait status of the serving process (as its init saw it: a
 * handler's abort() is SIGABRT). Returns 0, or -ETIMEDOUT.
 */
BX_API BX_MUST_CHECK int bx_worker_wait(bx_worker *w, int timeout_ms, int *wstatus);
/* "worker 4242 is running", "... exited with status 3", "... killed by signal 31 (SIGSYS)". */
BX_API void bx_worker_describe(bx_worker *w, char *buf, size_t len);
/*
 * Closes the connection (the worker exits when it sees EOF), waits briefly,
 * kills it if it lingers, reaps it and frees everything. No job may still be
 * running on its engine. NULL is fine.
 */
BX_API void bx_worker_free(bx_worker *w);

#ifdef __cplusplus
}
#endif

#endif
