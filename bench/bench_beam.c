/* SPDX-License-Identifier: MIT */
/*
 * bench_beam: what beam framing costs over a raw socketpair, measured in the
 * same run. A ping-pong of N messages of a given size between two threads:
 * baseline = write()+read() of the raw bytes, beam = bx_beam_send/recv, and
 * beam+fd = the same with an fd attached to every frame.
 * Prints ratios (beam / raw); there is no pass/fail.
 */
#include <beambox/beam.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { RAW, BEAM, BEAM_FD };

struct run {
	enum mode mode;
	int fd;
	size_t size;
	long rounds;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* Echoes every message back; runs on its own thread. */
static void *echo_side(void *arg)
{
	struct run *r = arg;
	char *buf = malloc(r->size + 1);
	bx_beam *b = NULL;

	if (!buf)
		return NULL;
	if (r->mode != RAW && bx_beam_new(r->fd, &b) < 0)
		goto out;
	for (long i = 0; i < r->rounds; i++) {
		if (r->mode == RAW) {
			if (read_full(r->fd, buf, r->size) < 0 || write_full(r->fd, buf, r->size) < 0)
				break;
		} else {
			bx_frame f;
			if (bx_beam_recv(b, &f, NULL) != 1)
				break;
			int rc = bx_beam_send(b, f.data, f.len, f.fd);
			bx_frame_clear(&f);
			if (rc < 0)
				break;
		}
	}
out:
	if (b)
		bx_beam_free(b);
	else
		close(r->fd);
	free(buf);
	return NULL;
}

static double run_once(enum mode mode, size_t size, long rounds)
{
	int sv[2];
	pthread_t th;
	struct run peer;
	char *buf = calloc(1, size + 1);
	bx_beam *b = NULL;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	double t0, t1;

	if (!buf || devnull < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("bench setup");
		exit(1);
	}
	peer = (struct run){.mode = mode, .fd = sv[1], .size = size, .rounds = rounds};
	if (pthread_create(&th, NULL, echo_side, &peer) != 0)
		exit(1);
	if (mode != RAW && bx_beam_new(sv[0], &b) < 0)
		exit(1);
	t0 = now_s();
	for (long i = 0; i < rounds; i++) {
		if (mode == RAW) {
			if (write_full(sv[0], buf, size) < 0 || read_full(sv[0], buf, size) < 0)
				exit(1);
		} else {
			bx_frame f;
			if (bx_beam_send(b, buf, size, mode == BEAM_FD ? devnull : -1) < 0 ||
			    bx_beam_recv(b, &f, NULL) != 1)
				exit(1);
			bx_frame_clear(&f);
		}
	}
	t1 = now_s();
	if (b)
		bx_beam_free(b);
	else
		close(sv[0]);
	pthread_join(th, NULL);
	close(devnull);
	free(buf);
	return t1 - t0;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {16, 1024, 65536};
	long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;

	if (rounds <= 0)
		rounds = 20000;
	printf("# beam ping-pong, %ld round trips per row; ratio = time / raw socketpair time\n",
	       rounds);
	printf("%-8s %12s %12s %12s %8s %8s\n", "size", "raw us/rt", "beam us/rt", "beam+fd us/rt",
	       "beam/raw", "fd/raw");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double raw = run_once(RAW, sizes[i], rounds);
		double beam = run_once(BEAM, sizes[i], rounds);
		double fd = run_once(BEAM_FD, sizes[i], rounds);
		double scale = 1e6 / (double)rounds;

		printf("%-8zu %12.2f %12.2f %12.2f %8.2f %8.2f\n", sizes[i], raw * scale,
		       beam * scale, fd * scale, beam / raw, fd / raw);
	}
	return 0;
}
