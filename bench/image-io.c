/* image-io — the decode-only reference of bench/vision.sh, and its JPEG input.
 *   image-io gen-jpeg N OUT     N records {id, image: 640x480 JPEG bytes,
 *                               quality 90}, a seeded scene of shading, edges
 *                               and texture, one per record
 *   image-io decode FILE SIZE [full]
 *                               read FILE's records, decode each image (at a
 *                               reduced JPEG scale for SIZE, as
 *                               mmoe-encode-vision does, or in full) and
 *                               resize it to SIZE x SIZE floats; nothing else
 * decode prints "images_per_s <v>" (timed inside; bench/vision.sh times the whole
 * process, as it times mmoe-encode-vision): what mmoe-encode-vision would reach if
 * encoding and writing cost nothing, on one thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "record.h"
#include "rng.h"
#include "stream.h"
#include "util.h"
#include "vision.h"

static int die(const mm_err *e)
{
	fprintf(stderr, "image-io: %s\n", e->msg);
	return 1;
}

static int gen(long n, const char *out)
{
	enum { W = 640, H = 480 };
	mm_err e;
	mm_writer *w;
	mm_rng g;
	mm_rng_seed(&g, 1);
	if (mm_writer_open(&w, out, 3, &e) != MM_OK)
		return die(&e);
	mm_image im;
	if (mm_image_alloc(&im, W, H, 3, &e) != MM_OK)
		return die(&e);
	for (long i = 0; i < n; i++) {
		double fx = 20 + mm_rng_uniform(&g) * 30, fy = 15 + mm_rng_uniform(&g) * 30;
		int cw = 40 + (int)mm_rng_below(&g, 80), ch = 30 + (int)mm_rng_below(&g, 60);
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				uint8_t *p = im.px + ((size_t)y * W + x) * 3;
				double sh = 128 + 90 * sin(x / fx) * cos(y / fy);
				int edge = ((x / cw) + (y / ch)) % 2 ? 40 : -40;
				int tex = ((x * 7 + y * 13 + (int)i) % 17) - 8;
				p[0] = (uint8_t)fmin(255, fmax(0, sh + edge + tex));
				p[1] = (uint8_t)fmin(255, fmax(0, 255 - sh + tex));
				p[2] = (uint8_t)((x ^ y ^ (int)i) & 0xff);
			}
		unsigned char *buf;
		size_t len;
		char id[32];
		snprintf(id, sizeof id, "j%06ld", i);
		mm_rec *r = mm_rec_new();
		if (!r || mm_jpeg_encode(&im, 90, &buf, &len, &e) != MM_OK ||
				mm_rec_set_str(r, "id", id, &e) != MM_OK ||
				mm_rec_set_bin(r, "image", buf, len, &e) != MM_OK ||
				mm_writer_put(w, r, &e) != MM_OK)
			return die(&e);
		free(buf);
		mm_rec_free(r);
	}
	mm_image_free(&im);
	return mm_writer_close(w, &e) == MM_OK ? 0 : die(&e);
}

static int decode(const char *path, int size, int full)
{
	mm_err e;
	mm_reader *rd;
	mm_image_src src = { NULL, false, 0, full ? 0 : size, full ? 0 : size };
	float *out = malloc(sizeof *out * (size_t)size * size * 3);
	if (!out || mm_reader_open(&rd, path, &e) != MM_OK)
		return die(&e);
	long n = 0;
	double t0 = mm_now();
	for (;;) {
		mm_rec *r = NULL;
		mm_status st = mm_reader_next(rd, &r, &e);
		if (st == MM_EOF)
			break;
		mm_image im;
		if (st != MM_OK || mm_image_load_field(r, "image", &src, &im, &e) != MM_OK ||
				mm_vis_prepare(&im, size, out, &e) != MM_OK)
			return die(&e);
		mm_image_free(&im);
		mm_rec_free(r);
		n++;
	}
	double t = mm_now() - t0;
	mm_reader_close(rd);
	free(out);
	printf("images_per_s %.0f\n", n / t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "gen-jpeg"))
		return gen(atol(argv[2]), argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "decode"))
		return decode(argv[2], atoi(argv[3]), argc > 4 && !strcmp(argv[4], "full"));
	fprintf(stderr, "usage: image-io gen-jpeg N OUT | image-io decode FILE SIZE [full]\n");
	return 2;
}
