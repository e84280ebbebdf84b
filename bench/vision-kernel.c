/* vision-kernel — speed of the vision encoders alone (no decoding, no I/O),
 * and of PNG decoding plus resizing, on one thread.
 *   usage: vision-kernel ENCODER|decode [seconds=1]
 * Prints "images_per_s <v>" and, for pixels, "gflops <v>" counting the
 * 2*T*K*D flops of the projection per image. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "rng.h"
#include "util.h"
#include "vision.h"

#define CHUNK 16 /* as in mmoe-encode-vision */

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "pixels";
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	mm_err e;
	mm_rng g;
	mm_rng_seed(&g, 1);
	openblas_set_num_threads(1);

	if (!strcmp(what, "decode")) {
		/* a 64x64 smooth image with noise, PNG-encoded, decoded and resized to 64x64 floats */
		mm_image im;
		unsigned char *buf;
		size_t len;
		float out[64 * 64 * 3];
		mm_image_alloc(&im, 64, 64, 3, &e);
		for (int i = 0; i < 64 * 64 * 3; i++)
			im.px[i] = (uint8_t)((i / 3) % 64 * 3 + mm_rng_below(&g, 32));
		mm_png_encode(&im, &buf, &len, &e);
		mm_image_free(&im);
		long n = 0;
		double t0 = mm_now(), t;
		do {
			for (int k = 0; k < 64; k++, n++) {
				if (mm_image_decode(&im, buf, len, 0, &e) != MM_OK ||
						mm_vis_prepare(&im, 64, out, &e) != MM_OK) {
					fprintf(stderr, "vision-kernel: %s\n", e.msg);
					return 1;
				}
				mm_image_free(&im);
			}
			t = mm_now() - t0;
		} while (t < secs);
		printf("images_per_s %.0f\n", n / t);
		free(buf);
		return 0;
	}

	int kind = mm_vis_kind_parse(what);
	if (kind < 0) {
		fprintf(stderr, "vision-kernel: unknown encoder %s\n", what);
		return 2;
	}
	mm_vis_params p;
	mm_vis *v;
	mm_vis_params_default(&p, kind);
	if (mm_vis_new(&v, &p, &e) != MM_OK) {
		fprintf(stderr, "vision-kernel: %s\n", e.msg);
		return 2;
	}
	int T = mm_vis_ntok(v), D = mm_vis_dim(v), K = 0;
	mm_vis_projection(v, &K);
	size_t npx = (size_t)p.size * p.size * 3;
	float *img = mm_alloc_aligned(CHUNK * npx, sizeof *img);
	float *tok = mm_alloc_aligned((size_t)CHUNK * T * D, sizeof *tok);
	float *pooled = mm_alloc_aligned((size_t)CHUNK * D, sizeof *pooled);
	for (size_t i = 0; i < CHUNK * npx; i++)
		img[i] = (float)mm_rng_uniform(&g);
	long n = 0;
	double t0 = mm_now(), t;
	do {
		for (int k = 0; k < 8; k++, n += CHUNK)
			mm_vis_encode(v, img, CHUNK, tok, pooled, &e);
		t = mm_now() - t0;
	} while (t < secs);
	printf("images_per_s %.0f\n", n / t);
	if (kind == MM_VIS_PIXELS)
		printf("gflops %.2f\n", n / t * 2.0 * T * K * D / 1e9);
	free(img);
	free(tok);
	free(pooled);
	mm_vis_free(v);
	return 0;
}
