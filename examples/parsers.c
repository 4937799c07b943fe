/* SPDX-License-Identifier: MIT */
/*
 * parsers: untrusted files parsed by real libraries in confined workers.
 *
 *   parsers [--audit-log FILE] [--out DIR] [DIR]
 *
 * Two services, each in its own worker under its own policy
 * (policies/gunzip.policy, policies/png-info.policy):
 *   gunzip    zlib: stdin (the file, a passed fd) inflated to stdout (a passed
 *             fd: the output file), at most GUNZIP_MAX bytes: a decompression
 *             bomb is cut off and refused.
 *   png-info  libpng: decodes the whole image from stdin and prints its width,
 *             height, colour type and bit depth, or says why the file is not
 *             a good PNG.
 * For every file in DIR (default: the sample files) the parent picks the
 * service by suffix, passes the file's fd, and prints one row of a table. A
 * worker that dies on a hostile file is reported for that file and replaced;
 * the rest goes on. The parent itself never reads a byte of the files.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

#include <beambox/audit.h>
#include <beambox/spawn.h>

#include <beambox/policy.h>

#ifndef PARSERS_DATA_DIR
#define PARSERS_DATA_DIR "examples/data"
#endif
#ifndef PARSERS_INSTALLED_DATA_DIR
#define PARSERS_INSTALLED_DATA_DIR "/usr/local/share/beambox/examples/data"
#endif

/*
 * Sanitizer builds: LeakSanitizer cannot run in a worker (it needs ptrace).
 * Their runtimes' own calls in the workers are beambox's to allow (its
 * runtime set, src/policy/runtime.c), not this program's: it uses the public
 * API only.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PARSERS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PARSERS_SANITIZED 1
#endif
#endif
#ifndef PARSERS_SANITIZED
#define PARSERS_SANITIZED 0
#endif

#define GUNZIP_MAX   (16u << 20) /* bytes of output a gunzip job may produce */
#define PNG_SIDE_MAX 16384	 /* pixels per side libpng accepts */
#define FILES_MAX    256
#define SERVICE_ENV  "PARSERS_SERVICE"

/* ================================================================ the services (in workers) */

/* Writes all of buf to fd. */
static int write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* gunzip: 0 ok, 1 not gzip or corrupt, 2 bomb (output past the limit), 3 I/O. */
static int svc_gunzip(bx_job *job, void *ctx)
{
	static unsigned char in[16384], out[65536];
	z_stream z;
	size_t total_in = 0, total_out = 0;
	int r = Z_OK, status = 0;

	(void)ctx;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK) /* +16: gzip framing only */
		return bx_job_fail(job, -ENOMEM, "inflateInit2 failed");
	while (r != Z_STREAM_END) {
		ssize_t n = read(bx_job_stdin(job), in, sizeof(in));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bx_job_eprintf(job, "read: %s", strerror(errno));
			status = 3;
			break;
		}
		if (n == 0) {
			bx_job_eprintf(job, "truncated: the gzip stream ends early");
			status = 1;
			break;
		}
		total_in += (size_t)n;
		z.next_in = in;
		z.avail_in = (uInt)n;
		do {
			size_t got;

			z.next_out = out;
			z.avail_out = sizeof(out);
			r = inflate(&z, Z_NO_FLUSH);
			if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
				bx_job_eprintf(job, "corrupt gzip data: %s",
					       z.msg ? z.msg : "inflate failed");
				status = 1;
				goto out;
			}
			got = sizeof(out) - z.avail_out;
			if (total_out + got > GUNZIP_MAX) {
				bx_job_eprintf(job,
					       "the output passes the %u MiB limit after "
					       "%zu input bytes (a decompression bomb?)",
					       GUNZIP_MAX >> 20, total_in);
				status = 2;
				goto out;
			}
			if (write_all(bx_job_stdout(job), out, got) < 0) {
				bx_job_eprintf(job, "write: %s", strerror(errno));
				status = 3;
				goto out;
			}
			total_out += got;
		} while (z.avail_out == 0 && r != Z_STREAM_END);
	}
	if (status == 0)
		bx_job_eprintf(job, "%zu bytes -> %zu bytes", total_in, total_out);
out:
	inflateEnd(&z);
	return status;
}

struct png_ctx {
	jmp_buf jmp;
	int fd;
	char why[160];
};

static void png_err(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);

	snprintf(c->why, sizeof(c->why), "%s", msg);
	longjmp(c->jmp, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void png_read_fd(png_structp png, png_bytep data, size_t len)
{
	struct png_ctx *c = png_get_io_ptr(png);

	while (len) {
		ssize_t n = read(c->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			png_error(png, n == 0 ? "truncated: the file ends early" : "read error");
		data += n;
		len -= (size_t)n;
	}
}

static const char *colour_name(int type)
{
	switch (type) {
	case PNG_COLOR_TYPE_GRAY:
		return "grey";
	case PNG_COLOR_TYPE_GRAY_ALPHA:
		return "grey+alpha";
	case PNG_COLOR_TYPE_PALETTE:
		return "palette";
	case PNG_COLOR_TYPE_RGB:
		return "RGB";
	case PNG_COLOR_TYPE_RGB_ALPHA:
		return "RGB+alpha";
	default:
		return "unknown";
	}
}

/* png-info: 0 ok (the description on stdout), 1 not a good PNG (why on stderr). */
static int svc_png_info(bx_job *job, void *ctx)
{
	static struct png_ctx c;
	png_structp png;
	png_infop info = NULL;
	png_bytep row = NULL;
	unsigned char sig[8];
	png_uint_32 w = 0, h = 0;
	int depth = 0, type = 0, interlace = 0;

	(void)ctx;
	memset(&c, 0, sizeof(c));
	c.fd = bx_job_stdin(job);
	if (read(c.fd, sig, sizeof(sig)) != (ssize_t)sizeof(sig) || png_sig_cmp(sig, 0, 8) != 0) {
		bx_job_eprintf(job, "not a PNG file (bad signature)");
		return 1;
	}
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_err, png_warn);
	if (!png)
		return bx_job_fail(job, -ENOMEM, "png_create_read_struct failed");
	if (setjmp(c.jmp)) {
		png_destroy_read_struct(&png, info ? &info : NULL, NULL);
		free(row);
		bx_job_eprintf(job, "corrupt PNG: %s", c.why);
		return 1;
	}
	info = png_create_info_struct(png);
	if (!info)
		png_error(png, "out of memory");
	png_set_read_fn(png, &c, png_read_fd);
	png_set_sig_bytes(png, 8);
	png_set_user_limits(png, PNG_SIDE_MAX, PNG_SIDE_MAX);
	png_set_chunk_malloc_max(png, 8u << 20);
	png_read_info(png, info);
	png_get_IHDR(png, info, &w, &h, &depth, &type, &interlace, NULL, NULL);
	/* Decode every row (checks every CRC and the compressed data), keeping none. */
	{
		int passes = png_set_interlace_handling(png);
		size_t rowbytes;

		png_read_update_info(png, info);
		rowbytes = png_get_rowbytes(png, info);
		row = malloc(rowbytes ? rowbytes : 1);
		if (!row)
			png_error(png, "out of memory for a row");
		for (int p = 0; p < passes; p++)
			for (png_uint_32 y = 0; y < h; y++)
				png_read_row(png, row, NULL);
	}
	png_read_end(png, NULL);
	bx_job_printf(job, "%u x %u, %s, %d-bit%s", (unsigned)w, (unsigned)h, colour_name(type),
		      depth, interlace != PNG_INTERLACE_NONE ? ", interlaced" : "");
	free(row);
	row = NULL;
	png_destroy_read_struct(&png, &info, NULL);
	return 0;
}

static const struct service {
	const char *name;   /* also the policy's name */
	const char *suffix; /* files it takes */
	bx_handler_fn fn;
} services[] = {
    {"gunzip", ".gz", svc_gunzip},
    {"png-info", ".png", svc_png_info},
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

/* A worker registers exactly the service it was spawned for. */
static int install(bx_engine *eng, void *ctx)
{
	const char *want = getenv(SERVICE_ENV);

	(void)ctx;
	for (size_t i = 0; i < NSERVICES; i++)
		if (want && strcmp(want, services[i].name) == 0)
			return bx_engine_register(eng, services[i].name, services[i].fn, NULL);
	return -ENOENT;
}

/* ================================================================ the parent */

struct worker_slot {
	const struct service *svc;
	struct bx_policy *policy;
	bx_worker *w;
	int restarts;
};

static int audit_fd = -1;

/* Prints untrusted text on one line, non-printable bytes as '?'. */
static void print_clean(const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++)
		putchar(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
}

/* Shows how a worker was confined: its own report, one step a line. */
static void print_confinement(const struct worker_slot *s)
{
	const char *rep = bx_worker_report(s->w);

	printf("  %-8s - pid %d, policies/%s.policy:\n", s->svc->name, (int)bx_worker_pid(s->w),
	       s->svc->name);
	for (const char *l = rep; *l;) {
		size_t n = strcspn(l, "\n");

		/* The per-bind and timing lines are noise here; the summary lines say it. */
		if (strncmp(l, "fs: bind", 8) != 0 && strncmp(l, "fs: optional", 12) != 0 &&
		    strncmp(l, "timings:", 8) != 0) {
			fputs("      ", stdout);
			print_clean(l, n < 110 ? n : 110);
			putchar('\n');
		}
		l += n + (l[n] == '\n');
	}
}

static int start_worker(struct worker_slot *s, bx_error *err)
{
	static const char *const keep[] = {SERVICE_ENV, "ASAN_OPTIONS", "UBSAN_OPTIONS", NULL};
	bx_spawn_opts opts;

	bx_spawn_opts_init(&opts);
	opts.policy = s->policy;
	opts.env_keep = keep;
	opts.audit_fd = audit_fd;
	if (getenv("PARSERS_DEBUG"))
		opts.stderr_fd = STDERR_FILENO; /* the workers' own diagnostics */
	setenv(SERVICE_ENV, s->svc->name, 1);
	return bx_spawn(&opts, &s->w, err);
}

/* Runs one file through its service; prints the table row. Returns 0 if it parsed. */
static int parse_one(struct worker_slot *s, int dirfd, const char *name, int outdir)
{
	bx_job *job = NULL;
	bx_error err;
	char outname[300], how[128];
	int in = -1, out = -1, r;
	bool to_file = strcmp(s->svc->name, "gunzip") == 0;

	bx_error_clear(&err);
	printf("%-22.22s %-9s ", name, s->svc->name);
	fflush(stdout);
	in = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (in < 0) {
		printf("cannot open: %s\n", strerror(errno));
		return 1;
	}
	if (to_file) {
		/* The output file: foo.gz -> foo, created here, written by the worker through its
		 * fd. */
		snprintf(outname, sizeof(outname), "%.*s", (int)(strlen(name) - 3), name);
		out = outdir >= 0
			  ? openat(outdir, outname,
				   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)
			  : open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (out < 0) {
			printf("cannot create the output: %s\n", strerror(errno));
			close(in);
			return 1;
		}
	}
	r = bx_job_new(bx_worker_engine(s->w), s->svc->name, &job);
	if (r == 0)
		r = bx_job_set_stdin_fd(job, in);
	if (r == 0)
		r = to_file ? bx_job_set_stdout_fd(job, out) : bx_job_capture_stdout(job, 256);
	if (r == 0)
		r = bx_job_capture_stderr(job, 512);
	if (r == 0) {
		bx_job_set_timeout(job, 10000);
		r = bx_job_run(job, &err);
	}
	if (r < 0) {
		/* The worker is gone (crashed, killed by its filter, timed out): say so, replace
		 * it. */
		bx_worker_describe(s->w, how, sizeof(how));
		fputs("worker died: ", stdout);
		print_clean(err.text[0] ? err.text : how, 120);
		putchar('\n');
		bx_worker_free(s->w);
		s->w = NULL;
		s->restarts++;
		if (start_worker(s, &err) < 0)
			fprintf(stderr, "parsers: restarting %s: %s\n", s->svc->name, err.text);
	} else {
		const char *text = bx_job_output(job, r == 0 && !to_file ? 1 : 2, NULL, NULL);

		fputs(r == 0 ? "ok: " : r == 2 ? "REFUSED: " : "ERROR: ", stdout);
		print_clean(text ? text : "", 120);
		if (r == 0 && to_file && outdir >= 0)
			printf(" (wrote %s)", outname);
		putchar('\n');
	}
	bx_job_free(job);
	close(in);
	if (out >= 0)
		close(out);
	return r == 0 ? 0 : 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void usage(void)
{
	fputs("usage: parsers [--audit-log FILE] [--out DIR] [DIR]\n"
	      "Parses every .gz and .png file of DIR (default: the sample files) in confined\n"
	      "workers, one per service, and prints what each file holds or why it was refused.\n",
	      stderr);
}

int main(int argc, char **argv)
{
	/* The samples of the build tree, or of the installed tree. */
	const char *dir = access(PARSERS_DATA_DIR, R_OK | X_OK) == 0 ? PARSERS_DATA_DIR
								     : PARSERS_INSTALLED_DATA_DIR;
	const char *audit = NULL, *outpath = NULL;
	struct worker_slot slots[NSERVICES];
	char *files[FILES_MAX];
	size_t nfiles = 0, parsed = 0, failed = 0, skipped = 0;
	struct dirent *e;
	bx_error err;
	int dfd, outdir = -1, status = 0;
	DIR *d;

	bx_spawn_init(install, NULL); /* first: a worker never returns from here */
	if (PARSERS_SANITIZED) {
		/* Workers cannot ptrace, which LeakSanitizer needs; their faults are the test. */
		const char *old = getenv("ASAN_OPTIONS");
		char opts[512];

		snprintf(opts, sizeof(opts), "%s%sdetect_leaks=0:handle_segv=0", old ? old : "",
			 old && *old ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--audit-log") == 0 && i + 1 < argc)
			audit = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			outpath = argv[++i];
		else if (argv[i][0] == '-') {
			usage();
			return 2;
		} else
			dir = argv[i];
	}
	if (audit) {
		audit_fd = open(audit, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (audit_fd < 0) {
			fprintf(stderr, "parsers: %s: %s\n", audit, strerror(errno));
			return 1;
		}
	}
	if (outpath) {
		outdir = open(outpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (outdir < 0) {
			fprintf(stderr, "parsers: --out %s: %s\n", outpath, strerror(errno));
			return 1;
		}
	}
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "parsers: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL && nfiles < FILES_MAX)
		if (e->d_name[0] != '.')
			files[nfiles++] = strdup(e->d_name);
	qsort(files, nfiles, sizeof(files[0]), by_name);

	printf("beambox parsers: untrusted files from %s, each parsed in a confined worker\n\n",
	       dir);
	printf("how each worker is confined (its own report):\n");
	for (size_t i = 0; i < NSERVICES; i++) {
		slots[i] = (struct worker_slot){.svc = &services[i]};
		bx_error_clear(&err);
		if (bx_policy_load_named(services[i].name, &slots[i].policy, &err) < 0) {
			fprintf(stderr, "parsers: %s: %s\n", services[i].name, err.text);
			return 1;
		}
		if (start_worker(&slots[i], &err) < 0) {
			fprintf(stderr, "parsers: %s: %s\n", services[i].name, err.text);
			return 1;
		}
		print_confinement(&slots[i]);
	}

	printf("\n%-22s %-9s %s\n", "FILE", "SERVICE", "RESULT");
	for (size_t f = 0; f < nfiles; f++) {
		struct worker_slot *s = NULL;
		size_t n = strlen(files[f]);

		for (size_t i = 0; i < NSERVICES; i++) {
			size_t sl = strlen(services[i].suffix);
			if (n > sl && strcmp(files[f] + n - sl, services[i].suffix) == 0)
				s = &slots[i];
		}
		if (!s) {
			printf("%-22.22s %-9s skipped: no parser for this kind of file\n", files[f],
			       "-");
			skipped++;
		} else if (!s->w) {
			printf("%-22.22s %-9s skipped: its worker could not be restarted\n",
			       files[f], s->svc->name);
			failed++;
		} else if (parse_one(s, dfd, files[f], outdir) == 0) {
			parsed++;
		} else {
			failed++;
		}
		free(files[f]);
	}
	printf("\n%zu files: %zu parsed, %zu refused or broken (each stopped in its worker; the "
	       "rest went on), %zu skipped\n",
	       nfiles, parsed, failed, skipped);
	for (size_t i = 0; i < NSERVICES; i++) {
		if (slots[i].restarts)
			printf("the %s worker was replaced %d time(s)\n", slots[i].svc->name,
			       slots[i].restarts);
		bx_worker_free(slots[i].w);
		bx_policy_free(slots[i].policy);
	}
	closedir(d);
	if (outdir >= 0)
		close(outdir);
	if (audit_fd >= 0)
		close(audit_fd);
	return status;
}
