/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "attacks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((format(printf, 3, 4))) static void add(char *out, size_t len, const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out + used, len - used, fmt, ap);
	va_end(ap);
}

static void result(char *out, size_t len, const char *what, int ok)
{
	const char *n = strerrorname_np(errno);

	add(out, len, "%s=%s\n", what, ok ? "OK" : (n ? n : "?"));
}

/* x86-64: mov eax, 42; ret */
static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3};

static void try_run(char *out, size_t len, void *p)
{
	int (*fn)(void) = (int (*)(void))p;

	if (fn() == 42)
		add(out, len, "ran\n");
}

void bx_attack_wx(const char *dir, char *out, size_t len)
{
	char path[256];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/bx-code", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	result(out, len, "create", fd >= 0);
	if (fd < 0)
		return;
	if (write(fd, code, sizeof(code)) != (ssize_t)sizeof(code) || ftruncate(fd, 4096) < 0) {
		result(out, len, "write", 0);
		close(fd);
		return;
	}
	/* Control: a plain read-only mapping of the same file works. */
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	result(out, len, "map_read", p != MAP_FAILED);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	/* 1: code written to a file, then mapped executable. */
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	result(out, len, "map_exec", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		try_run(out, len, p);
		munmap(p, 4096);
	}
	/* 2: the file mapped RWX and shared: write code through it, run it. */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED, fd, 0);
	result(out, len, "map_rwx_shared", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		memcpy(p, code, sizeof(code));
		try_run(out, len, p);
		munmap(p, 4096);
	}
	close(fd);
	unlink(path);
	/* 3: /dev/zero mapped RWX privately: anonymous memory in all but name. */
	fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		result(out, len, "open_zero", 0);
		return;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE, fd, 0);
	result(out, len, "map_zero_rwx", p != MAP_FAILED);
	if (p != MAP_FAILED) {
		memcpy(p, code, sizeof(code));
		try_run(out, len, p);
		munmap(p, 4096);
	}
	close(fd);
}

void bx_attack_memfd(char *out, size_t len)
{
	static char chunk[1 << 20];
	int fds[BX_ATTACK_MEMFDS];
	size_t held = 0; /* MiB */
	int n = 0, err = 0;

	/* A program that meets RLIMIT_FSIZE would die of SIGXFSZ; an attacker ignores it. */
	signal(SIGXFSZ, SIG_IGN);
	for (; n < BX_ATTACK_MEMFDS && !err; n++) {
		fds[n] = memfd_create("attack", MFD_CLOEXEC);
		if (fds[n] < 0) {
			err = errno;
			break;
		}
		for (int m = 0; m < BX_ATTACK_MEMFD_MIB; m++) {
			if (write(fds[n], chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk)) {
				err = errno ? errno : ENOSPC;
				break;
			}
			held++;
		}
	}
	errno = err;
	result(out, len, "memfd", !err);
	add(out, len, "held=%zuMiB\n", held);
	while (n-- > 0)
		if (fds[n] >= 0)
			close(fds[n]);
}
