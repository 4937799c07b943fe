/* SPDX-License-Identifier: MIT */
/*
 * make_data DIR: writes the parsers demo's sample files (made here, at build
 * time, so that the tree holds no binary blobs):
 *   hello.txt.gz     a small text, gzip'ed
 *   notes.txt.gz     a few KiB of text, gzip'ed
 *   bomb.gz          64 MiB of zeros in about 64 KiB: a decompression bomb
 *   broken.gz        hello.txt.gz cut in the middle
 *   logo.png         96 x 48 RGB+alpha, 8-bit
 *   grey.png         32 x 32 grey, 16-bit, interlaced
 *   corrupt.png      logo.png with one byte of its image data flipped (CRC error)
 *   truncated.png    logo.png cut in the middle of its image data
 *   fake.png         text named .png
 *   readme.txt       not parsed (no service takes it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <png.h>
#include <zlib.h>

static const char *dir;

static void die(const char *what)
{
	fprintf(stderr, "make_data: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

/* gzip of buf[0..len) into a malloc'ed buffer. */
static unsigned char *gzip(const void *buf, size_t len, size_t *outlen)
{
	z_stream z;
	size_t cap;
	unsigned char *out;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2");
	cap = deflateBound(&z, (uLong)len) + 64;
	out = malloc(cap);
	if (!out)
		die("malloc");
	z.next_in = (unsigned char *)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		die("deflate");
	*outlen = z.total_out;
	deflateEnd(&z);
	return out;
}

struct mem {
	unsigned char *p;
	size_t len, cap;
};

static void mem_write(png_structp png, png_bytep data, size_t len)
{
	struct mem *m = png_get_io_ptr(png);

	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			die("realloc");
	}
	memcpy(m->p + m->len, data, len);
	m->len += len;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

static void png_die(png_structp png, png_const_charp msg)
{
	(void)png;
	fprintf(stderr, "make_data: libpng: %s\n", msg);
	exit(1);
}

/* A PNG in memory: w x h, colour type, depth; a gradient. */
static struct mem make_png(unsigned w, unsigned h, int type, int depth, int interlace)
{
	struct mem m = {0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_die, NULL);
	png_infop info = png_create_info_struct(png);
	int channels = type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
	size_t rowbytes = (size_t)w * (size_t)channels * (size_t)(depth / 8);
	unsigned char *row = malloc(rowbytes);

	if (!png || !info || !row)
		die("libpng");
	png_set_write_fn(png, &m, mem_write, mem_flush);
	png_set_IHDR(png, info, w, h, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	{
		int passes = png_set_interlace_handling(png);

		for (int p = 0; p < passes; p++)
			for (unsigned y = 0; y < h; y++) {
				for (size_t x = 0; x < rowbytes; x++)
					row[x] = (unsigned char)((x * 7 + y * 13) & 0xff);
				png_write_row(png, row);
			}
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	return m;
}

/* Offset of the first IDAT chunk's data in a PNG. */
static size_t idat_offset(const struct mem *m)
{
	for (size_t o = 8; o + 8 <= m->len;) {
		size_t len = ((size_t)m->p[o] << 24) | ((size_t)m->p[o + 1] << 16) |
			     ((size_t)m->p[o + 2] << 8) | m->p[o + 3];

		if (memcmp(m->p + o + 4, "IDAT", 4) == 0)
			return o + 8;
		o += 12 + len;
	}
	fprintf(stderr, "make_data: no IDAT\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const char hello[] = "Hello from a file that was gzip'ed and then inflated by zlib "
				    "inside a confined beambox worker.\n";
	char notes[8192];
	size_t n = 0, len;
	unsigned char *gz;
	struct mem logo, grey;

	if (argc != 2) {
		fprintf(stderr, "usage: make_data DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		die(dir);

	gz = gzip(hello, sizeof(hello) - 1, &len);
	write_file("hello.txt.gz", gz, len);
	write_file("broken.gz", gz, len / 2);
	free(gz);

	while (n + 80 < sizeof(notes))
		n += (size_t)snprintf(notes + n, sizeof(notes) - n,
				      "note %zu: workers see only what their policy binds.\n",
				      n / 52);
	gz = gzip(notes, n, &len);
	write_file("notes.txt.gz", gz, len);
	free(gz);

	{
		size_t bomb_len = 64u << 20;
		char *zeros = calloc(1, bomb_len);

		if (!zeros)
			die("calloc");
		gz = gzip(zeros, bomb_len, &len);
		write_file("bomb.gz", gz, len);
		free(gz);
		free(zeros);
	}

	logo = make_png(96, 48, PNG_COLOR_TYPE_RGB_ALPHA, 8, PNG_INTERLACE_NONE);
	write_file("logo.png", logo.p, logo.len);
	grey = make_png(32, 32, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_ADAM7);
	write_file("grey.png", grey.p, grey.len);
	{
		size_t o = idat_offset(&logo);

		write_file("truncated.png", logo.p, o + 40);
		logo.p[o + 20] ^= 0x55;
		write_file("corrupt.png", logo.p, logo.len);
	}
	free(logo.p);
	free(grey.p);

	write_file("fake.png", "this is text, not a picture\n", 28);
	write_file("readme.txt",
		   "Sample files for the parsers demo; made by make_data at build time.\n", 68);
	return 0;
}
