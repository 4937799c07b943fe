/* SPDX-License-Identifier: MIT */
/*
 * init: pid 1 of a worker's pid namespace. After the confinement steps the
 * first process of the namespace forks the serving process (pid 2: the
 * handlers' engine, or the program of `beambox exec` / a foreign worker) and
 * stays behind as a tiny init: it reaps orphans and, when the serving process
 * dies, tells whoever started the worker exactly how (a "death note" with the
 * raw wait status, on a pipe whose write end only init holds), then exits,
 * which makes the kernel kill whatever is left in the namespace.
 *
 * Why not serve as pid 1: the kernel protects a namespace's init from the
 * signals it sends itself, so abort() in a handler running as pid 1 does not
 * end it with SIGABRT (glibc's abort then faults: SIGSEGV), and a handler
 * could ignore its parent's death. With init as the parent, killing pid 1
 * from outside (through its pidfd) ends the whole namespace at once.
 *
 * Notes (init -> starter, one pipe, records of at most PIPE_BUF bytes so each
 * arrives whole): R the confinement report (value: namespace bits, text: the
 * report's lines), T the report's step timings (binary: struct
 * bx_confine_step[]), S the serving process started (value 0, or the errno
 * of its failed exec), D it died (value: raw wait status), E a setup error
 * (value: -errno, stage, text).
 */
#ifndef BX_SPAWN_INIT_H
#define BX_SPAWN_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <beambox/common.h>

#include "confine/confine.h"

enum bx_note_type {
	BX_NOTE_REPORT = 'R',
	BX_NOTE_STEPS = 'T',
	BX_NOTE_STARTED = 'S',
	BX_NOTE_DIED = 'D',
	BX_NOTE_ERROR = 'E',
	/* A refused system call, before the D note of the death it caused (spawn/violation.h). */
	BX_NOTE_VIOLATION = 'V',
};

/* A whole confinement report fits one note, and a note one atomic pipe write. */
#define BX_NOTE_TEXT_MAX BX_CONFINE_REPORT_MAX

struct bx_note {
	uint32_t type;
	int32_t value;
	int32_t stage;
	uint32_t len;			 /* of text, <= BX_NOTE_TEXT_MAX */
	char text[BX_NOTE_TEXT_MAX + 1]; /* NUL-terminated on read */
};

/* Writes one record (a single write(2), atomic on a pipe). Returns 0 or -errno. */
int bx_note_write(int fd, uint32_t type, int32_t value, int32_t stage, const char *text);
/* The same with len bytes of binary text (at most BX_NOTE_TEXT_MAX). */
int bx_note_write_bytes(int fd, uint32_t type, int32_t value, int32_t stage, const void *p,
			size_t len);

/* Writes rep as an R note (its text) and a T note (its steps). Returns 0 or -errno. */
int bx_note_report(int fd, const struct bx_confine_report *rep);

/*
 * The steps of a T note into rep (rep->nsteps; each one's name terminated,
 * its off/len kept within rep->text). Returns 0, or -EPROTO for a malformed
 * note (the writer is inside the sandbox: nothing of it is trusted).
 */
int bx_note_steps(const struct bx_note *n, struct bx_confine_report *rep);

/*
 * Reads one record from a non-blocking pipe: 1 got one, 0 EOF, -EAGAIN
 * nothing yet, -EPROTO a malformed record (the caller stops reading).
 */
int bx_note_read(int fd, struct bx_note *n);

struct bx_init_opts {
	/* Write end of the notes (init keeps it; the serving process must not). */
	int note_fd;
	/* fds init closes after the fork (the serving process's: the beam socket...). */
	int close_in_init[4];
	/*
	 * The serving process will exec a program: a close-on-exec pipe (both
	 * ends, made before the filter) whose EOF tells init the exec is done
	 * (or the serving process gone); init sends S only then. A failed exec
	 * is an E note, written by the serving process before S. {-1, -1}
	 * when the serving process is this program itself.
	 */
	int exec_pipe[2];
	/* The confinement report, sent as R and T before the fork. */
	const struct bx_confine_report *report;
	/*
	 * Both processes' filters, made by bx_confine_self (opts.split): right
	 * after the fork, the serving process loads its own and init its own,
	 * each as its last confinement step. Required.
	 */
	struct bx_confine_filters *filters;
};

/*
 * Forks the serving process. Returns 0 in it (pid 2) once its filter is
 * loaded; -errno if the fork failed (in init) or the filter could not be
 * loaded (in the serving process, which then wrote an E note: the caller
 * exits). Never returns in init, which loads its own filter, then exits
 * when the serving process does (with its status, or 128+N for a signal N;
 * the note has the exact status).
 */
int bx_init_fork(const struct bx_init_opts *o, bx_error *err) __attribute__((warn_unused_result));

/*
 * The serving process's side when its execveat failed: an E note saying
 * why (its filter allows that write and nothing else of init's), then exit
 * 126 or 127. init then sees the exec pipe's EOF and sends S.
 */
__attribute__((noreturn)) void bx_init_exec_failed(const struct bx_init_opts *o, int e,
						   const char *what);

struct bx_dynuid;
/*
 * A starter that stays outside (the original Go parent's worker): waits for
 * the child (pid 1 of the namespace) through its pidfd, reads the notes, and
 * ends exactly as the serving process did (same exit status, or killed by
 * the same signal). It holds lease (a dynamic uid, or NULL) until then and
 * releases it. Never returns.
 */
__attribute__((noreturn)) void bx_init_monitor(pid_t child, int pidfd, int note_r,
					       const struct bx_dynuid *lease);

#endif
