/* image.c — decoders (PNG in every colour type, JPEG), hostile inputs, the
 * area resize's known answers, safe path resolution and field loading. */
#include <math.h>
#include <stdio.h>
#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "record.h"
#include "tap.h"
#include "util.h"

/* ---- a PNG writer for any colour type / depth, independent of mm_png_encode ---- */

typedef struct wbuf {
	unsigned char *p;
	size_t n;
} wbuf;

static void w_cb(png_structp png, png_bytep d, png_size_t n)
{
	wbuf *b = png_get_io_ptr(png);
	b->p = realloc(b->p, b->n + n);
	memcpy(b->p + b->n, d, n);
	b->n += n;
}
static void f_cb(png_structp png) { (void)png; }

/* rows: h rows of packed samples (16-bit samples big-endian as PNG wants). */
static wbuf make_png(int w, int h, int depth, int ctype, const unsigned char *data,
		const png_color *pal, int npal, const png_byte *trns, int ntrns, int interlace)
{
	wbuf b = {0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png))) {
		fprintf(stderr, "make_png failed\n");
		exit(2);
	}
	png_set_write_fn(png, &b, w_cb, f_cb);
	png_set_IHDR(png, info, w, h, depth, ctype,
			interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
			PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(png, info, pal, npal);
	if (trns)
		png_set_tRNS(png, info, trns, ntrns, NULL);
	png_write_info(png, info);
	int chans = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
		: ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : ctype == PNG_COLOR_TYPE_RGB ? 3 : 4;
	size_t stride = ((size_t)w * chans * depth + 7) / 8;
	png_bytep *rows = malloc(sizeof *rows * h);
	for (int y = 0; y < h; y++)
		rows[y] = (png_bytep)data + y * stride;
	png_write_image(png, rows);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(rows);
	return b;
}

static uint32_t crc32_tab(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return c ^ 0xffffffffu;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static int px_eq(const mm_image *im, int x, int y, int r, int g, int b)
{
	const uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
	if (p[0] == r && p[1] == g && p[2] == b)
		return 1;
	diag("pixel (%d,%d) = %d %d %d, expected %d %d %d", x, y, p[0], p[1], p[2], r, g, b);
	return 0;
}

static void test_png(void)
{
	mm_image im, out;
	mm_err e;
	unsigned char *buf;
	size_t len;

	/* RGB 8-bit through our own encoder */
	mm_image_alloc(&im, 7, 5, 3, &e);
	for (int i = 0; i < 7 * 5 * 3; i++)
		im.px[i] = (uint8_t)(i * 7 + 3);
	ok(mm_png_encode(&im, &buf, &len, &e) == MM_OK, "png encode rgb");
	ok(mm_image_sniff(buf, len) == MM_IMG_PNG, "sniff png");
	ok(mm_image_decode(&out, buf, len, 0, &e) == MM_OK, "decode rgb");
	ok(out.w == 7 && out.h == 5 && out.c == 3 && !memcmp(out.px, im.px, 105), "rgb round trip exact");
	mm_image_free(&out);

	/* corrupt: flip a byte inside IDAT data -> CRC error; truncated -> ETRUNC */
	unsigned char *bad = malloc(len);
	memcpy(bad, buf, len);
	bad[len - 12 - 6] ^= 0x55; /* inside the last IDAT, before its CRC and IEND */
	ok(mm_image_decode(&out, bad, len, 0, &e) == MM_ECORRUPT && out.px == NULL,
			"corrupt png: ECORRUPT (%s)", e.msg);
	ok(strstr(e.msg, "PNG") != NULL, "message names PNG");
	ok(mm_image_decode(&out, buf, len / 2, 0, &e) == MM_ETRUNC, "truncated png: ETRUNC (%s)", e.msg);
	ok(mm_image_decode(&out, buf, 5, 0, &e) == MM_ETRUNC, "png cut in the signature: ETRUNC");
	ok(mm_image_decode(&out, buf, len - 12, 0, &e) == MM_ETRUNC, "png without IEND: ETRUNC");
	free(bad);
	free(buf);
	mm_image_free(&im);

	/* grey 8-bit and 1-bit */
	unsigned char g8[4 * 2] = {0, 50, 100, 255, 1, 2, 3, 4};
	wbuf b = make_png(4, 2, 8, PNG_COLOR_TYPE_GRAY, g8, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK && out.c == 3, "grey8 decodes to rgb");
	ok(px_eq(&out, 1, 0, 50, 50, 50) && px_eq(&out, 3, 0, 255, 255, 255) && px_eq(&out, 2, 1, 3, 3, 3),
			"grey8 values replicated");
	mm_image_free(&out);
	free(b.p);
	unsigned char g1[2] = {0xa0, 0x40}; /* 1 0 1 0 / 0 1 0 0 */
	b = make_png(4, 2, 1, PNG_COLOR_TYPE_GRAY, g1, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK, "grey1 decodes");
	ok(px_eq(&out, 0, 0, 255, 255, 255) && px_eq(&out, 1, 0, 0, 0, 0) && px_eq(&out, 1, 1, 255, 255, 255),
			"grey1 expands to 0/255");
	mm_image_free(&out);
	free(b.p);

	/* grey+alpha */
	unsigned char ga[2 * 2] = {0, 0, 100, 255};
	b = make_png(2, 1, 8, PNG_COLOR_TYPE_GRAY_ALPHA, ga, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK, "grey+alpha decodes");
	ok(px_eq(&out, 0, 0, 255, 255, 255) && px_eq(&out, 1, 0, 100, 100, 100),
			"grey+alpha: transparent is white, opaque kept");
	mm_image_free(&out);
	free(b.p);

	/* RGBA composited on white */
	unsigned char rgba[4 * 4] = {255, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 128, 200, 100, 0, 51};
	b = make_png(4, 1, 8, PNG_COLOR_TYPE_RGB_ALPHA, rgba, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK, "rgba decodes");
	/* (v*a + 255*(255-a)) / 255 rounded: black at a=128 -> 127; (200,100,0) at a=51 -> 244,224,204 */
	ok(px_eq(&out, 0, 0, 255, 255, 255) && px_eq(&out, 1, 0, 10, 20, 30) &&
			px_eq(&out, 2, 0, 127, 127, 127) && px_eq(&out, 3, 0, 244, 224, 204),
			"rgba composited on white");
	mm_image_free(&out);
	free(b.p);

	/* 16-bit RGB (big-endian samples): 0xffff -> 255, 0x8080 -> 128, 0x0101*k -> k */
	unsigned char r16[2 * 6] = {0xff, 0xff, 0x80, 0x80, 0x05, 0x05, 0x00, 0x00, 0x01, 0x01, 0xfe, 0xfe};
	b = make_png(2, 1, 16, PNG_COLOR_TYPE_RGB, r16, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK, "rgb16 decodes");
	ok(px_eq(&out, 0, 0, 255, 128, 5) && px_eq(&out, 1, 0, 0, 1, 254), "rgb16 scaled to 8 bits");
	mm_image_free(&out);
	free(b.p);

	/* 16-bit grey+alpha */
	unsigned char ga16[4] = {0x00, 0x00, 0x00, 0x00};
	b = make_png(1, 1, 16, PNG_COLOR_TYPE_GRAY_ALPHA, ga16, NULL, 0, NULL, 0, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK && px_eq(&out, 0, 0, 255, 255, 255),
			"grey+alpha 16-bit transparent is white");
	mm_image_free(&out);
	free(b.p);

	/* palette with tRNS, 4-bit indices */
	png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
	png_byte trns[3] = {255, 255, 0};
	unsigned char idx[2] = {0x01, 0x20}; /* 0 1 2 0 */
	b = make_png(4, 1, 4, PNG_COLOR_TYPE_PALETTE, idx, pal, 3, trns, 3, 0);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK, "palette decodes (%s)", e.msg);
	ok(px_eq(&out, 0, 0, 255, 0, 0) && px_eq(&out, 1, 0, 0, 255, 0) &&
			px_eq(&out, 2, 0, 255, 255, 255) && px_eq(&out, 3, 0, 255, 0, 0),
			"palette expanded, transparent entry on white");
	mm_image_free(&out);
	free(b.p);

	/* interlaced RGB */
	unsigned char il[9 * 9 * 3];
	for (int i = 0; i < 9 * 9 * 3; i++)
		il[i] = (unsigned char)(i * 13);
	b = make_png(9, 9, 8, PNG_COLOR_TYPE_RGB, il, NULL, 0, NULL, 0, 1);
	ok(mm_image_decode(&out, b.p, b.n, 0, &e) == MM_OK && !memcmp(out.px, il, sizeof il),
			"interlaced rgb decodes exactly");
	mm_image_free(&out);
	/* a pixel limit below the size */
	ok(mm_image_decode(&out, b.p, b.n, 80, &e) == MM_ELIMIT && out.px == NULL,
			"81 pixels over a limit of 80: ELIMIT (%s)", e.msg);
	free(b.p);

	/* a 100000 x 100000 header with a correct CRC: refused before allocating */
	unsigned char hdr[8 + 25 + 12];
	memcpy(hdr, "\x89PNG\r\n\x1a\n", 8);
	be32(hdr + 8, 13);
	memcpy(hdr + 12, "IHDR", 4);
	be32(hdr + 16, 100000);
	be32(hdr + 20, 100000);
	hdr[24] = 8; hdr[25] = 2; hdr[26] = 0; hdr[27] = 0; hdr[28] = 0;
	be32(hdr + 29, crc32_tab(hdr + 12, 17));
	/* an empty IDAT follows, so only the limit can stop it */
	be32(hdr + 33, 0);
	memcpy(hdr + 37, "IDAT", 4);
	be32(hdr + 41, crc32_tab(hdr + 37, 4));
	double t0 = mm_now();
	mm_status st = mm_image_decode(&out, hdr, sizeof hdr, 0, &e);
	ok(st == MM_ELIMIT && out.px == NULL, "100000x100000 header: ELIMIT (%s)", e.msg);
	ok(strstr(e.msg, "100000x100000") != NULL, "message gives the size");
	ok(mm_now() - t0 < 0.5, "refused without work");
	/* the same header with a wrong CRC is corrupt */
	hdr[30] ^= 1;
	ok(mm_image_decode(&out, hdr, sizeof hdr, 0, &e) == MM_ECORRUPT, "bad IHDR CRC: ECORRUPT (%s)", e.msg);

	/* not an image */
	ok(mm_image_decode(&out, "GIF89a....", 10, 0, &e) == MM_ECORRUPT, "gif: ECORRUPT (%s)", e.msg);
	ok(mm_image_decode(&out, "", 0, 0, &e) == MM_ECORRUPT, "empty: ECORRUPT");
}

/* A JPEG written with libjpeg directly: CMYK (Adobe marker, inverted
 * values as Photoshop writes them) or progressive RGB. */
static wbuf make_jpeg(int w, int h, int comps, J_COLOR_SPACE cs, int progressive, const unsigned char *px)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr jerr;
	unsigned char *out = NULL;
	unsigned long n = 0;
	ci.err = jpeg_std_error(&jerr);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &out, &n);
	ci.image_width = w;
	ci.image_height = h;
	ci.input_components = comps;
	ci.in_color_space = cs;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, 95, TRUE);
	if (progressive)
		jpeg_simple_progression(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = (JSAMPROW)px + ci.next_scanline * w * comps;
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	wbuf b = {malloc(n), n};
	memcpy(b.p, out, n);
	free(out);
	return b;
}

static void test_jpeg(void)
{
	mm_image im, out;
	mm_err e;
	unsigned char *buf;
	size_t len;

	mm_image_alloc(&im, 32, 24, 3, &e);
	for (int y = 0; y < 24; y++)
		for (int x = 0; x < 32; x++) {
			uint8_t *p = im.px + (y * 32 + x) * 3;
			p[0] = (uint8_t)(x * 8);
			p[1] = (uint8_t)(y * 10);
			p[2] = 128;
		}
	ok(mm_jpeg_encode(&im, 95, &buf, &len, &e) == MM_OK, "jpeg encode");
	ok(mm_image_sniff(buf, len) == MM_IMG_JPEG, "sniff jpeg");
	ok(mm_image_decode(&out, buf, len, 0, &e) == MM_OK && out.w == 32 && out.h == 24 && out.c == 3,
			"jpeg decodes (%s)", e.msg);
	double mad = 0;
	for (int i = 0; i < 32 * 24 * 3; i++)
		mad += abs((int)out.px[i] - (int)im.px[i]);
	mad /= 32 * 24 * 3;
	ok(mad < 3, "jpeg round trip close: mean abs error %.2f < 3", mad);
	mm_image_free(&out);

	ok(mm_image_decode(&out, buf, len * 2 / 3, 0, &e) == MM_ETRUNC && out.px == NULL,
			"truncated jpeg: ETRUNC (%s)", e.msg);
	ok(mm_image_decode(&out, buf, 40, 0, &e) == MM_ETRUNC, "jpeg cut in the header: ETRUNC (%s)", e.msg);
	ok(mm_image_decode(&out, buf, len, 100, &e) == MM_ELIMIT, "jpeg over the pixel limit: ELIMIT");
	/* garbage after the SOI */
	unsigned char junk[64];
	memset(junk, 0x11, sizeof junk);
	junk[0] = 0xff; junk[1] = 0xd8; junk[2] = 0xff; junk[3] = 0x01;
	{
		mm_status st = mm_image_decode(&out, junk, sizeof junk, 0, &e);
		ok(st == MM_ECORRUPT || st == MM_ETRUNC, "garbage jpeg: an error (%s)", e.msg);
	}
	free(buf);
	mm_image_free(&im);

	/* CMYK with an Adobe marker: stored inverted; pure red is C=0 M=255 Y=255 K=0 */
	unsigned char cmyk[16 * 16 * 4];
	for (int i = 0; i < 256; i++) {
		cmyk[4 * i] = 255; cmyk[4 * i + 1] = 0; cmyk[4 * i + 2] = 0; cmyk[4 * i + 3] = 255;
	}
	wbuf jb = make_jpeg(16, 16, 4, JCS_CMYK, 0, cmyk);
	ok(mm_image_decode(&out, jb.p, jb.n, 0, &e) == MM_OK && out.c == 3, "CMYK jpeg decodes (%s)", e.msg);
	{
		const uint8_t *p = out.px + (8 * 16 + 8) * 3;
		ok(p[0] >= 250 && p[1] <= 5 && p[2] <= 5, "CMYK red is red (%d %d %d)", p[0], p[1], p[2]);
	}
	mm_image_free(&out);
	free(jb.p);

	/* progressive RGB */
	mm_image_alloc(&im, 24, 16, 3, &e);
	for (int i = 0; i < 24 * 16 * 3; i++)
		im.px[i] = (uint8_t)(i % 3 == 0 ? 200 : i % 3 == 1 ? 100 : 50);
	jb = make_jpeg(24, 16, 3, JCS_RGB, 1, im.px);
	ok(mm_image_decode(&out, jb.p, jb.n, 0, &e) == MM_OK && out.w == 24 && out.h == 16,
			"progressive jpeg decodes (%s)", e.msg);
	ok(abs(out.px[0] - 200) <= 3 && abs(out.px[1] - 100) <= 3 && abs(out.px[2] - 50) <= 3,
			"progressive jpeg colour kept (%d %d %d)", out.px[0], out.px[1], out.px[2]);
	mm_image_free(&out);
	ok(mm_image_decode(&out, jb.p, jb.n / 2, 0, &e) == MM_ETRUNC, "truncated progressive jpeg: ETRUNC (%s)", e.msg);
	free(jb.p);
	mm_image_free(&im);

	/* grey JPEG decodes to RGB with R = G = B */
	mm_image_alloc(&im, 16, 16, 1, &e);
	memset(im.px, 90, 256);
	ok(mm_jpeg_encode(&im, 90, &buf, &len, &e) == MM_OK, "grey jpeg encode");
	ok(mm_image_decode(&out, buf, len, 0, &e) == MM_OK && out.c == 3 && px_eq(&out, 5, 5, 90, 90, 90),
			"grey jpeg decodes to constant rgb");
	mm_image_free(&out);
	free(buf);
	mm_image_free(&im);
}

static void test_resize(void)
{
	mm_image im, out;
	mm_err e;
	float f[64 * 3];

	mm_image_alloc(&im, 2, 2, 3, &e);
	uint8_t v[12] = {10, 0, 1, 20, 0, 0, 30, 0, 0, 40, 255, 2};
	memcpy(im.px, v, 12);
	ok(mm_image_resize_area(&im, 1, 1, &out, &e) == MM_OK, "2x2 -> 1x1");
	ok(out.px[0] == 25 && out.px[1] == 64 && out.px[2] == 1, "2x2 -> 1x1 is the rounded mean (%d %d %d)",
			out.px[0], out.px[1], out.px[2]);
	mm_image_free(&out);
	mm_image_resize_area_f(&im, 1, 1, f, &e);
	near(f[0], 25 / 255.0, 1e-6, "float: mean r");
	near(f[1], 63.75 / 255.0, 1e-6, "float: mean g exact (63.75)");
	near(f[2], 0.75 / 255.0, 1e-6, "float: mean b exact (0.75)");
	mm_image_free(&im);

	/* 4x4 -> 2x2: each output is its 2x2 block mean */
	mm_image_alloc(&im, 4, 4, 1 * 3, &e);
	for (int i = 0; i < 16; i++)
		for (int k = 0; k < 3; k++)
			im.px[i * 3 + k] = (uint8_t)(i * 4 + k);
	mm_image_resize_area_f(&im, 2, 2, f, &e);
	int good = 1;
	for (int oy = 0; oy < 2; oy++)
		for (int ox = 0; ox < 2; ox++)
			for (int k = 0; k < 3; k++) {
				double s = 0;
				for (int dy = 0; dy < 2; dy++)
					for (int dx = 0; dx < 2; dx++)
						s += im.px[((2 * oy + dy) * 4 + 2 * ox + dx) * 3 + k];
				if (fabs(f[(oy * 2 + ox) * 3 + k] * 255.0 - s / 4) > 1e-4)
					good = 0;
			}
	ok(good, "4x4 -> 2x2 block means exact");
	mm_image_free(&im);

	/* 3x1 -> 2x1: output 0 = (v0 + v1/2) / 1.5, output 1 = (v1/2 + v2) / 1.5 */
	mm_image_alloc(&im, 3, 1, 3, &e);
	im.px[0] = 30; im.px[3] = 60; im.px[6] = 90;
	mm_image_resize_area_f(&im, 2, 1, f, &e);
	near(f[0] * 255, (30 + 30) / 1.5, 1e-5, "3 -> 2 fractional footprint, left");
	near(f[3] * 255, (30 + 90) / 1.5, 1e-5, "3 -> 2 fractional footprint, right");
	mm_image_free(&im);

	/* constant images stay constant, down and up, any ratio */
	mm_image_alloc(&im, 7, 5, 3, &e);
	for (int i = 0; i < 35; i++) {
		im.px[3 * i] = 17; im.px[3 * i + 1] = 200; im.px[3 * i + 2] = 255;
	}
	int sizes[][2] = {{3, 4}, {1, 1}, {7, 5}, {13, 11}, {64, 64}};
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		int w = sizes[s][0], h = sizes[s][1], same = 1;
		ok(mm_image_resize_area(&im, w, h, &out, &e) == MM_OK, "resize 7x5 -> %dx%d", w, h);
		for (int i = 0; i < w * h; i++)
			if (out.px[3 * i] != 17 || out.px[3 * i + 1] != 200 || out.px[3 * i + 2] != 255)
				same = 0;
		ok(same, "constant stays constant at %dx%d", w, h);
		mm_image_free(&out);
	}
	/* same size is the identity */
	for (int i = 0; i < 105; i++)
		im.px[i] = (uint8_t)(i * 37);
	mm_image_resize_area(&im, 7, 5, &out, &e);
	ok(!memcmp(out.px, im.px, 105), "same size: identity");
	mm_image_free(&out);
	/* mean is preserved by any downscale (integer sums) */
	mm_image_resize_area_f(&im, 2, 3, f, &e);
	double m_in = 0, m_out = 0;
	for (int i = 0; i < 35; i++)
		m_in += im.px[3 * i];
	for (int i = 0; i < 6; i++)
		m_out += f[3 * i] * 255.0;
	near(m_out / 6, m_in / 35, 1e-5, "7x5 -> 2x3 preserves the mean");
	ok(mm_image_resize_area(&im, 0, 3, &out, &e) == MM_EVALUE, "0-wide target refused");
	mm_image_free(&im);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	fwrite(p, 1, n, f);
	fclose(f);
}

static void test_paths(void)
{
	char tmpl[] = "/tmp/mmoe-image-test.XXXXXX";
	char *dir = mkdtemp(tmpl), root[512], p[600], *res;
	mm_err e;
	mm_image im, out;
	unsigned char *buf;
	size_t len;

	snprintf(root, sizeof root, "%s/root", dir);
	mkdir(root, 0755);
	snprintf(p, sizeof p, "%s/sub", root);
	mkdir(p, 0755);
	mm_image_alloc(&im, 3, 2, 3, &e);
	memset(im.px, 77, 18);
	mm_png_encode(&im, &buf, &len, &e);
	snprintf(p, sizeof p, "%s/sub/a.png", root);
	write_file(p, buf, len);
	snprintf(p, sizeof p, "%s/secret.png", dir);
	write_file(p, buf, len);
	snprintf(p, sizeof p, "%s/link.png", root);
	symlink("../secret.png", p);
	snprintf(p, sizeof p, "%s/inlink.png", root);
	symlink("sub/a.png", p);

	ok(mm_path_resolve(root, "sub/a.png", false, &res, &e) == MM_OK, "relative path inside the root");
	free(res);
	ok(mm_path_resolve(root, "inlink.png", false, &res, &e) == MM_OK, "symlink inside the root");
	free(res);
	ok(mm_path_resolve(root, "link.png", false, &res, &e) == MM_EVALUE && res == NULL,
			"symlink escaping the root refused (%s)", e.msg);
	ok(mm_path_resolve(root, "../secret.png", false, &res, &e) == MM_EVALUE, "\"..\" refused (%s)", e.msg);
	ok(mm_path_resolve(root, "sub/../sub/a.png", false, &res, &e) == MM_EVALUE, "inner \"..\" refused");
	ok(mm_path_resolve(root, "/etc/passwd", false, &res, &e) == MM_EVALUE, "absolute refused (%s)", e.msg);
	ok(mm_path_resolve(root, "nope.png", false, &res, &e) == MM_EVALUE && strstr(e.msg, "no such file"),
			"missing file: EVALUE (%s)", e.msg);
	ok(mm_path_resolve(root, "sub", false, &res, &e) == MM_EVALUE, "a directory refused (%s)", e.msg);
	ok(mm_path_resolve(root, "link.png", true, &res, &e) == MM_OK, "allow_any follows the link");
	free(res);
	snprintf(p, sizeof p, "%s/secret.png", dir);
	ok(mm_path_resolve(root, p, true, &res, &e) == MM_OK, "allow_any takes absolute paths");
	free(res);
	ok(mm_path_resolve(root, "../secret.png", true, &res, &e) == MM_OK, "allow_any takes \"..\"");
	free(res);

	/* load from a record: bin, path, wrong type, absent */
	mm_image_src src = { root, false, 0, 0, 0 };
	mm_rec *r = mm_rec_new();
	r->index = 4;
	mm_rec_set_str(r, "id", "a7", &e);
	mm_rec_set_bin(r, "image", buf, len, &e);
	ok(mm_image_load_field(r, "image", &src, &out, &e) == MM_OK && out.w == 3 && px_eq(&out, 2, 1, 77, 77, 77),
			"load inline bytes");
	mm_image_free(&out);
	mm_rec_set_str(r, "image", "sub/a.png", &e);
	ok(mm_image_load_field(r, "image", &src, &out, &e) == MM_OK && out.h == 2, "load a path under the root");
	mm_image_free(&out);
	mm_rec_set_str(r, "image", "../secret.png", &e);
	ok(mm_image_load_field(r, "image", &src, &out, &e) == MM_EVALUE, "escaping path from a record refused");
	ok(strstr(e.msg, "record 4 (id \"a7\"): field \"image\"") != NULL, "message names the record (%s)", e.msg);
	mm_rec_set_int(r, "image", 3, &e);
	ok(mm_image_load_field(r, "image", &src, &out, &e) == MM_ETYPE, "integer image: ETYPE (%s)", e.msg);
	ok(mm_image_load_field(r, "pic", &src, &out, &e) == MM_MISSING && strstr(e.msg, "\"pic\""),
			"absent field: MISSING (%s)", e.msg);
	mm_rec_set_bin(r, "image", buf, len / 2, &e);
	ok(mm_image_load_field(r, "image", &src, &out, &e) == MM_ETRUNC && strstr(e.msg, "record 4"),
			"truncated inline png: ETRUNC naming the record (%s)", e.msg);
	mm_rec_free(r);
	free(buf);
	mm_image_free(&im);

	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("cleanup failed");
}

/* Scaled JPEG decoding (mm_image_decode_scaled): the scale chosen, and an
 * area resize of the reduced decode against decode-then-resize of the full
 * image, on a 640x480 scene of smooth shading, sharp edges and fine texture
 * (quality 90), in [0, 1] units: the bound the man page states. */
static void test_jpeg_scaled(void)
{
	enum { W = 640, H = 480, S = 64 };
	mm_image im, full, small;
	mm_err e;
	unsigned char *buf;
	size_t len;
	mm_image_alloc(&im, W, H, 3, &e);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint8_t *p = im.px + ((size_t)y * W + x) * 3;
			double sh = 128 + 90 * sin(x / 37.0) * cos(y / 23.0);
			int edge = ((x / 80) + (y / 60)) % 2 ? 40 : -40;
			int tex = ((x * 7 + y * 13) % 17) - 8;
			p[0] = (uint8_t)fmin(255, fmax(0, sh + edge + tex));
			p[1] = (uint8_t)fmin(255, fmax(0, 255 - sh + tex));
			p[2] = (uint8_t)((x ^ y) & 0xff);
		}
	ok(mm_jpeg_encode(&im, 90, &buf, &len, &e) == MM_OK, "640x480 jpeg encodes");
	bool got = mm_image_decode(&full, buf, len, 0, &e) == MM_OK &&
		mm_image_decode_scaled(&small, buf, len, 0, S, S, &e) == MM_OK;
	ok(got && small.w == 160 && small.h == 120,
			"decoded for 64x64 at scale 2/8: %dx%d (the smallest M/8 keeping 64 rows)", small.w, small.h);
	float *a = malloc(sizeof *a * S * S * 3), *b = malloc(sizeof *b * S * S * 3);
	mm_image_resize_area_f(&full, S, S, a, &e);
	mm_image_resize_area_f(&small, S, S, b, &e);
	double mean = 0, mx = 0;
	for (int i = 0; i < S * S * 3; i++) {
		double d = fabs((double)a[i] - b[i]);
		mean += d;
		mx = fmax(mx, d);
	}
	mean /= S * S * 3;
	ok(mean < 0.005 && mx < 0.04, "resized from the reduced decode vs from the full one: mean abs "
			"diff %.4f < 0.005, max %.4f < 0.04", mean, mx);
	mm_image_free(&full);
	mm_image_free(&small);
	got = mm_image_decode_scaled(&small, buf, len, 0, 600, 400, &e) == MM_OK;
	ok(got && small.w == W, "a working size near the image's: full scale (%dx%d)", small.w, small.h);
	mm_image_free(&small);
	got = mm_image_decode_scaled(&small, buf, len, 0, 100, 50, &e) == MM_OK;
	ok(got && small.w == 160 && small.h == 120, "each side must reach its size: 2/8 for 100x50 (%dx%d)",
			small.w, small.h);
	mm_image_free(&small);
	free(a);
	free(b);
	free(buf);
	mm_image_free(&im);
}

int main(void)
{
	test_png();
	test_jpeg();
	test_jpeg_scaled();
	test_resize();
	test_paths();
	return tap_done();
}
