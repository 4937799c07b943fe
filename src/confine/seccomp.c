/* SPDX-License-Identifier: MIT */
/*
 * seccomp: loading compiled filters, and their hand-over from the parent to
 * a worker. Compiling is the policy layer's (src/policy/compile.c).
 *
 * The hand-over format (a sealed memfd, read by a worker that trusts its
 * parent but checks anyway): a 16-byte header "BXBPF\0\0\1", the number of
 * programs (u32), 4 reserved zero bytes; then that many u32 lengths, padded
 * with zeros to a multiple of 8 bytes; then the instructions of each program
 * in order. Nothing may follow.
 */
#define _GNU_SOURCE
#include "confine/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "confine/notify.h"
#include "util/cleanup.h"
#include "util/error.h"

static const char magic[8] = {'B', 'X', 'B', 'P', 'F', 0, 0, 1};

#define HEADER_LEN 16

static bool prog_ok(const struct bx_bpf_prog *p)
{
	return p->insns && p->len > 0 && p->len <= BPF_MAXINSNS;
}

static bool bpf_ok(const struct bx_bpf *bpf)
{
	if (!bpf || bpf->nprogs == 0 || bpf->nprogs > BX_BPF_PROGS_MAX)
		return false;
	for (size_t i = 0; i < bpf->nprogs; i++)
		if (!prog_ok(&bpf->progs[i]))
			return false;
	return true;
}

static long load_one(const struct bx_bpf_prog *p, unsigned flags)
{
	struct sock_fprog prog = {.len = (unsigned short)p->len, .filter = p->insns};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

int bx_seccomp_load(const struct bx_bpf *bpf)
{
	if (!bpf_ok(bpf))
		return -EINVAL;
	/*
	 * A program that can return USER_NOTIF without a listener would make
	 * those calls fail with ENOSYS instead of killing: never load one here
	 * (confine/notify.h loads it with a listener, or disarms it first).
	 */
	if (bx_bpf_notify_prog(bpf) >= 0)
		return -EINVAL;
	for (size_t i = 0; i < bpf->nprogs; i++) {
		long r = load_one(&bpf->progs[i], SECCOMP_FILTER_FLAG_TSYNC);

		if (r < 0)
			return -errno;
		if (r > 0) {
			/* TSYNC: r is the id of a thread that could not take the filter. */
			bx_log(BX_LOG_ERROR, "seccomp: thread %ld could not be synchronised", r);
			return -EBUSY;
		}
	}
	return 0;
}

int bx_seccomp_load_listener(const struct bx_bpf *bpf)
{
	long r;

	if (!bpf_ok(bpf))
		return -EINVAL;
	for (size_t i = 0; i + 1 < bpf->nprogs; i++) {
		if (load_one(&bpf->progs[i], 0) < 0)
			return -errno;
	}
	r = load_one(&bpf->progs[bpf->nprogs - 1], SECCOMP_FILTER_FLAG_NEW_LISTENER);
	return r < 0 ? -errno : (int)r;
}

static size_t lengths_len(size_t nprogs)
{
	return (nprogs * 4 + 7) / 8 * 8;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

int bx_seccomp_export_fd(const struct bx_bpf *bpf)
{
	_cleanup_fd_ int fd = -1;
	uint8_t header[HEADER_LEN] = {0};
	uint8_t lens[BX_BPF_PROGS_MAX * 4] = {0};
	uint32_t n32;
	int r;

	if (!bpf_ok(bpf))
		return -EINVAL;
	fd = memfd_create("bx-seccomp", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	memcpy(header, magic, sizeof(magic));
	n32 = (uint32_t)bpf->nprogs;
	memcpy(header + 8, &n32, 4);
	for (size_t i = 0; i < bpf->nprogs; i++) {
		uint32_t l = (uint32_t)bpf->progs[i].len;

		memcpy(lens + 4 * i, &l, 4);
	}
	r = write_all(fd, header, sizeof(header));
	if (r == 0)
		r = write_all(fd, lens, lengths_len(bpf->nprogs));
	for (size_t i = 0; i < bpf->nprogs && r == 0; i++)
		r = write_all(fd, bpf->progs[i].insns,
			      bpf->progs[i].len * sizeof(struct sock_filter));
	if (r < 0)
		return r;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return -errno;
	return bx_steal_fd(&fd);
}

static int read_at(int fd, void *buf, size_t len, size_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		done += (size_t)n;
	}
	return 0;
}

int bx_seccomp_import_fd(int fd, struct bx_bpf *out, bx_error *err)
{
	struct bx_bpf bpf = {0};
	uint8_t header[HEADER_LEN];
	uint8_t lens[BX_BPF_PROGS_MAX * 4];
	uint32_t n32, zero;
	struct stat st;
	size_t size, want, off;
	int r;

	if (fd < 0 || !out)
		return bx_fail(err, -EBADF, BX_NO_OFFSET, "seccomp filter: no fd");
	if (fstat(fd, &st) < 0)
		return bx_fail(err, -errno, BX_NO_OFFSET, "seccomp filter: fstat: %m");
	if (!S_ISREG(st.st_mode))
		return bx_fail(err, -EINVAL, BX_NO_OFFSET, "seccomp filter: not a regular file");
	if (st.st_size < HEADER_LEN || (uint64_t)st.st_size > HEADER_LEN + sizeof(lens) +
								  (uint64_t)BX_BPF_PROGS_MAX *
								      BPF_MAXINSNS *
								      sizeof(struct sock_filter))
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "seccomp filter: %lld bytes",
			       (long long)st.st_size);
	size = (size_t)st.st_size;
	r = read_at(fd, header, sizeof(header), 0);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp filter: reading the header");
	memcpy(&n32, header + 8, 4);
	memcpy(&zero, header + 12, 4);
	if (memcmp(header, magic, sizeof(magic)) != 0 || zero != 0 || n32 == 0 ||
	    n32 > BX_BPF_PROGS_MAX)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "seccomp filter: bad header");
	r = read_at(fd, lens, lengths_len(n32), HEADER_LEN);
	if (r < 0)
		return bx_fail(err, r, BX_NO_OFFSET, "seccomp filter: reading the lengths");
	want = HEADER_LEN + lengths_len(n32);
	for (size_t i = 0; i < n32; i++) {
		uint32_t l;

		memcpy(&l, lens + 4 * i, 4);
		if (l == 0 || l > BPF_MAXINSNS)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
				       "seccomp filter: program %zu has %u instructions", i, l);
		want += l * sizeof(struct sock_filter);
	}
	for (size_t i = (size_t)n32 * 4; i < lengths_len(n32); i++)
		if (lens[i] != 0)
			return bx_fail(err, -EBADMSG, BX_NO_OFFSET, "seccomp filter: bad padding");
	if (want != size)
		return bx_fail(err, -EBADMSG, BX_NO_OFFSET,
			       "seccomp filter: %zu bytes, the header says %zu", size, want);
	off = HEADER_LEN + lengths_len(n32);
	for (size_t i = 0; i < n32; i++) {
		uint32_t l;

		memcpy(&l, lens + 4 * i, 4);
		bpf.progs[i].insns = malloc(l * sizeof(struct sock_filter));
		if (!bpf.progs[i].insns) {
			bx_bpf_free(&bpf);
			return bx_fail(err, -ENOMEM, BX_NO_OFFSET, "seccomp filter: out of memory");
		}
		bpf.progs[i].len = l;
		bpf.nprogs = i + 1;
		r = read_at(fd, bpf.progs[i].insns, l * sizeof(struct sock_filter), off);
		if (r < 0) {
			bx_bpf_free(&bpf);
			return bx_fail(err, r, BX_NO_OFFSET, "seccomp filter: truncated");
		}
		off += l * sizeof(struct sock_filter);
	}
	*out = bpf;
	return 0;
}
