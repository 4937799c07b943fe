/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the notes a sandbox's init writes to its parent
 * (src/spawn/init.c bx_note_read, bx_note_steps; src/spawn/violation.c
 * bx_violation_take, which names the call through src/policy/explain.c;
 * src/exec_opts.c bx_exec_result_take_report): what `beambox exec`'s waiter
 * and bx_spawn read on the notes pipe.
 *
 * Threat: the pipe's only writer is pid 1 of the sandbox, which runs no
 * untrusted code; but it lives inside the sandbox, so its records are
 * parsed as hostile (defence in depth): every length, count, offset,
 * syscall number and argument bounded, nothing read past a record, every
 * text NUL-terminated and printable where it reaches a message.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <beambox/exec.h>

#include "confine/confine.h"
#include "exec_opts.h"
#include "spawn/init.h"
#include "spawn/violation.h"

/* What a pipe holds without blocking the writer (the default pipe buffer). */
#define NOTES_MAX 65536

static void check_text(const char *s, size_t max)
{
	if (strnlen(s, max) >= max)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bx_note note;
	static struct bx_confine_report rep;
	static bx_exec_result res;
	struct bx_violation v;
	bool got_report = false;
	int p[2], r;

	if (size > NOTES_MAX || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return 0;
	if (size && write(p[1], data, size) != (ssize_t)size) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	close(p[1]);
	memset(&rep, 0, sizeof(rep));
	memset(&v, 0, sizeof(v));
	while ((r = bx_note_read(p[0], &note)) == 1) {
		if (note.len > BX_NOTE_TEXT_MAX || note.text[note.len] != '\0')
			abort();
		switch (note.type) {
		case BX_NOTE_REPORT:
			got_report = true;
			memcpy(rep.text, note.text, note.len);
			rep.text[note.len < sizeof(rep.text) ? note.len : sizeof(rep.text) - 1] =
			    '\0';
			break;
		case BX_NOTE_STEPS:
			if (bx_note_steps(&note, &rep) == 0 && rep.nsteps > BX_CONFINE_STEPS_MAX)
				abort();
			break;
		case BX_NOTE_VIOLATION:
			if (bx_violation_take(&v, &note, "fuzz.policy") == 1) {
				check_text(v.name, sizeof(v.name));
				check_text(v.call, sizeof(v.call));
				check_text(v.text, sizeof(v.text));
			}
			break;
		default:
			break;
		}
	}
	if (r > 1)
		abort();
	close(p[0]);
	if (got_report) {
		memset(&res, 0, sizeof(res));
		bx_exec_result_take_report(&res, &rep);
		if (res.nsteps > BX_EXEC_STEPS_MAX)
			abort();
		for (size_t i = 0; i < res.nsteps; i++) {
			check_text(res.steps[i].name, sizeof(res.steps[i].name));
			check_text(res.steps[i].result, sizeof(res.steps[i].result));
		}
	}
	return 0;
}
