/* SPDX-License-Identifier: MIT */
/* What remote.c needs to see of engines and jobs; not public. */
#ifndef BX_ENGINE_INTERNAL_H
#define BX_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include <beambox/engine.h>

enum bx_stream_kind {
	BX_STREAM_NONE = 0, /* /dev/null */
	BX_STREAM_FD,	    /* the caller's fd, borrowed */
	BX_STREAM_BUF,	    /* stdin only: a sealed memfd owned by the job */
	BX_STREAM_CAPTURE,  /* stdout/stderr: captured into memory, bounded */
	BX_STREAM_OWNED,    /* an fd owned by the job (worker side: received from the wire) */
};

struct bx_stream {
	enum bx_stream_kind kind;
	int fd;	       /* FD: borrowed; BUF/OWNED: owned; else -1 */
	size_t max;    /* CAPTURE: bytes kept */
	char *out;     /* CAPTURE: what was kept (NUL-terminated) */
	size_t len;    /* CAPTURE: bytes kept */
	int truncated; /* CAPTURE: bytes were dropped */
};

struct bx_env_entry {
	char *key;
	char *value;
};

struct bx_job {
	bx_engine *eng;
	char *name;
	char **args;
	size_t nargs;
	struct bx_env_entry *env;
	size_t nenv;
	struct bx_stream streams[3];
	int fds[3];	/* what the handler uses while it runs; -1 otherwise */
	int fd_mode[3]; /* enum bx_fd_mode per stream: how a caller's fd reaches a worker */
	int timeout_ms;
	bool ran;
	atomic_bool cancelled;
	/*
	 * eventfd written by bx_job_cancel, made by bx_job_arm_cancel only for jobs
	 * that wait in poll() (remote ones); owned.
	 */
	_Atomic int cancel_efd;
	int errcode;
	char errtext[BX_ERROR_TEXT_MAX];
};

/*
 * Marks the engine's catch-all as one that handles the job's stream
 * descriptions itself (the remote sender) instead of being given ready fds.
 */
void bx_engine_set_catchall_raw(bx_engine *eng, bx_handler_fn fn, void *ctx);

/* The catch-all's context (the proxy's state, freed by its owner). */
void *bx_engine_catchall_ctx(const bx_engine *eng);

/*
 * Makes bx_engine_free(eng) call fn(eng, ctx) first: an engine that owns
 * more than its handlers (an attached proxy's state and connection).
 */
void bx_engine_set_on_free(bx_engine *eng, void (*fn)(bx_engine *eng, void *ctx), void *ctx);

/*
 * Gives the job an fd it borrows (never closes), as stream 0, 1 or 2: a
 * worker's own /dev/null for a stream the parent did not pass.
 */
int bx_job_lend_stream(bx_job *job, int stream, int fd) __attribute__((warn_unused_result));

/* Gives the job an fd it will own and close, as stream 0, 1 or 2 (worker side). */
int bx_job_adopt_stream(bx_job *job, int stream, int fd) __attribute__((warn_unused_result));

/*
 * Makes the job's cancel eventfd. Returns 1 if the job was cancelled already
 * (check after arming, so that a cancel racing with it is never lost), 0, or -errno.
 */
int bx_job_arm_cancel(bx_job *job) __attribute__((warn_unused_result));

/* Stores captured output for stream 1/2 (takes ownership of buf). */
void bx_job_set_output(bx_job *job, int stream, char *buf, size_t len, int truncated);

#endif
