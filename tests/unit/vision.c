/* vision.c — known answers of the hog, color and pixels encoders. */
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "tap.h"
#include "util.h"
#include "vision.h"

#define S 64

static float img[4][S * S * 3];

static void fill(float *im, float (*f)(int x, int y, int c))
{
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			for (int c = 0; c < 3; c++)
				im[(y * S + x) * 3 + c] = f(x, y, c);
}

static float vedge(int x, int y, int c) { (void)y; (void)c; return x < 29 ? 0.2f : 0.8f; }
static float hedge(int x, int y, int c) { (void)x; (void)c; return y < 37 ? 0.9f : 0.1f; }
static float flat(int x, int y, int c) { (void)x; (void)y; return c == 0 ? 0.9f : 0.1f; }
static float halves(int x, int y, int c)
{
	(void)y;
	static const float red[3] = {0.9f, 0.1f, 0.1f}, blue[3] = {0.1f, 0.1f, 0.9f};
	return x < 32 ? red[c] : blue[c];
}

static int argmax_bin(const float *pooled, int bins, int cells)
{
	int best = 0;
	double bv = -1;
	for (int b = 0; b < bins; b++) {
		double s = 0;
		for (int k = 0; k < cells; k++)
			s += pooled[k * bins + b];
		if (s > bv) {
			bv = s;
			best = b;
		}
	}
	return best;
}

static void test_hog(void)
{
	mm_vis_params p;
	mm_vis *v;
	mm_err e;
	mm_vis_params_default(&p, MM_VIS_HOG);
	ok(mm_vis_new(&v, &p, &e) == MM_OK, "hog encoder");
	ok(mm_vis_ntok(v) == 49 && mm_vis_dim(v) == 36, "hog T=49 D=36 at defaults");
	int T = mm_vis_ntok(v), D = mm_vis_dim(v);
	float *tok = malloc(sizeof *tok * T * D), pooled[36];

	fill(img[0], vedge);
	mm_vis_encode(v, img[0], 1, tok, pooled, &e);
	int b = argmax_bin(pooled, 9, 4);
	ok(b == 0, "vertical edge peaks at bin 0 (horizontal gradient), got %d", b);
	/* all energy is in bin 0: the edge is exactly vertical */
	double other = 0;
	for (int k = 0; k < 4; k++)
		for (int j = 1; j < 9; j++)
			other += pooled[k * 9 + j];
	ok(other == 0, "no energy outside bin 0 (%g)", other);
	/* the blocks touching the edge are unit vectors, the others zero */
	int unit = 0, zero = 0;
	for (int t = 0; t < T; t++) {
		double ss = 0;
		for (int d = 0; d < D; d++)
			ss += tok[t * D + d] * tok[t * D + d];
		if (fabs(ss - 1) < 1e-4)
			unit++;
		else if (ss == 0)
			zero++;
	}
	ok(unit + zero == T && unit == 7 * 2, "L2-Hys: %d unit blocks along the edge, %d empty", unit, zero);

	fill(img[1], hedge);
	mm_vis_encode(v, img[1], 1, NULL, pooled, &e);
	b = argmax_bin(pooled, 9, 4);
	ok(b == 4 || b == 5, "horizontal edge peaks at 90 degrees (bins 4/5), got %d", b);
	near(pooled[4] + pooled[9 + 4], pooled[5] + pooled[9 + 5], 1e-5, "90 degrees splits evenly between bins 4 and 5");

	/* a 45-degree ramp votes at bin 2 and 3 (centres 40 and 60 degrees, 45 = 1/4 of the way) */
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++)
			for (int c = 0; c < 3; c++)
				img[2][(y * S + x) * 3 + c] = (float)(x + y) / (2 * S);
	mm_vis_encode(v, img[2], 1, NULL, pooled, &e);
	/* (L2-Hys clipping and the replicated border change the exact ratio) */
	b = argmax_bin(pooled, 9, 4);
	ok(b == 2 && pooled[2] > pooled[3] && pooled[3] > pooled[1] && pooled[3] > pooled[4],
			"45 degrees: bin 2 first, bin 3 second (got %d)", b);

	fill(img[3], flat);
	mm_vis_encode(v, img[3], 1, tok, pooled, &e);
	double s = 0;
	for (int i = 0; i < T * D; i++)
		s += fabs(tok[i]);
	ok(s == 0, "flat image: no gradients, zero tokens");
	free(tok);
	mm_vis_free(v);
}

static void test_color(void)
{
	mm_vis_params p;
	mm_vis *v;
	mm_err e;
	mm_vis_params_default(&p, MM_VIS_COLOR);
	ok(mm_vis_new(&v, &p, &e) == MM_OK, "color encoder");
	int T = mm_vis_ntok(v), D = mm_vis_dim(v);
	ok(T == 16 && D == 72, "color T=16 D=72 at defaults");
	float *tok = malloc(sizeof *tok * T * D), pooled[72];

	fill(img[0], flat);
	mm_vis_encode(v, img[0], 1, tok, pooled, &e);
	/* (0.9, 0.1, 0.1): h = 0 -> 0, s = 0.889 -> 2, v = 0.9 -> 2: index 8 */
	int onehot = 1;
	for (int t = 0; t < T; t++)
		for (int d = 0; d < D; d++)
			if (tok[t * D + d] != (d == 8 ? 1.0f : 0.0f))
				onehot = 0;
	ok(onehot, "solid red: every cell one-hot at bin 8");
	ok(pooled[8] == 1.0f, "pooled one-hot too");

	fill(img[1], halves);
	mm_vis_encode(v, img[1], 1, tok, pooled, &e);
	/* blue: h = 2/3 -> 5, s 2, v 2: index (5*3+2)*3+2 = 53 */
	ok(tok[0 * D + 8] == 1.0f && tok[3 * D + 53] == 1.0f, "left cells red, right cells blue");
	near(pooled[8], 0.5, 1e-6, "pooled: half red");
	near(pooled[53], 0.5, 1e-6, "pooled: half blue");
	double s = 0;
	for (int d = 0; d < D; d++)
		s += pooled[d];
	near(s, 1.0, 1e-6, "pooled histogram sums to 1");

	/* grey and black */
	for (int i = 0; i < S * S * 3; i++)
		img[2][i] = 0.5f;
	mm_vis_encode(v, img[2], 1, tok, pooled, &e);
	ok(pooled[1] == 1.0f, "mid grey: h 0, s 0, v 1 -> bin 1");
	memset(img[2], 0, sizeof img[2]);
	mm_vis_encode(v, img[2], 1, tok, pooled, &e);
	ok(pooled[0] == 1.0f, "black -> bin 0");
	free(tok);
	mm_vis_free(v);
}

static void test_pixels(void)
{
	mm_vis_params p;
	mm_vis *v, *v2;
	mm_err e;
	mm_rng g;
	mm_vis_params_default(&p, MM_VIS_PIXELS);
	ok(mm_vis_new(&v, &p, &e) == MM_OK, "pixels encoder");
	int T = mm_vis_ntok(v), D = mm_vis_dim(v), K;
	const float *W = mm_vis_projection(v, &K);
	ok(T == 64 && D == 64 && K == 192, "pixels T=64 D=64 K=192 at defaults");

	mm_rng_seed(&g, 42);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < S * S * 3; j++)
			img[i][j] = (float)mm_rng_uniform(&g);
	float *tok = malloc(sizeof *tok * 3 * T * D), *one = malloc(sizeof *one * T * D);
	float pooled[3 * 64], p1[64];
	ok(mm_vis_encode(v, &img[0][0], 3, tok, pooled, &e) == MM_OK, "encode a batch of 3");

	/* naive: token (i, py, px)[d] = sum_{dy,dx,c} (2*x - 1) * W[(dy*8 + dx)*3 + c][d] */
	double maxerr = 0, maxperr = 0;
	for (int i = 0; i < 3; i++) {
		double pm[64] = {0};
		for (int py = 0; py < 8; py++)
			for (int px = 0; px < 8; px++)
				for (int d = 0; d < D; d++) {
					double s = 0;
					for (int dy = 0; dy < 8; dy++)
						for (int dx = 0; dx < 8; dx++)
							for (int c = 0; c < 3; c++) {
								double x = img[i][((py * 8 + dy) * S + px * 8 + dx) * 3 + c];
								s += (2 * x - 1) * W[((dy * 8 + dx) * 3 + c) * D + d];
							}
					double got = tok[((size_t)i * T + py * 8 + px) * D + d];
					if (fabs(got - s) > maxerr)
						maxerr = fabs(got - s);
					pm[d] += s / T;
				}
		for (int d = 0; d < D; d++)
			if (fabs(pooled[i * D + d] - pm[d]) > maxperr)
				maxperr = fabs(pooled[i * D + d] - pm[d]);
	}
	ok(maxerr < 1e-5, "tokens equal the naive product (max error %.2g)", maxerr);
	ok(maxperr < 1e-5, "pooled equals the naive mean (max error %.2g)", maxperr);

	/* the projection is N(0, 1/K): check its scale */
	double ss = 0;
	for (int i = 0; i < K * D; i++)
		ss += (double)W[i] * W[i];
	near(ss / (K * D), 1.0 / K, 0.1, "projection variance 1/K");

	/* determinism: a second encoder with the same seed gives the same bytes
	 * for the same batch; image 1 alone matches its rows in the batch to
	 * rounding (sgemm may block a 64-row product differently) */
	float *tok2 = malloc(sizeof *tok2 * 3 * T * D), pooled2[3 * 64];
	mm_vis_new(&v2, &p, &e);
	mm_vis_encode(v2, &img[0][0], 3, tok2, pooled2, &e);
	ok(!memcmp(tok2, tok, sizeof *tok * 3 * T * D) && !memcmp(pooled2, pooled, sizeof pooled),
			"same seed, same batch: identical bytes");
	free(tok2);
	mm_vis_encode(v2, img[1], 1, one, p1, &e);
	maxerr = 0;
	for (int i = 0; i < T * D; i++)
		if (fabs(one[i] - tok[T * D + i]) > maxerr)
			maxerr = fabs(one[i] - tok[T * D + i]);
	ok(maxerr < 1e-5, "alone or in a batch: same tokens (max difference %.2g)", maxerr);
	mm_vis_free(v2);
	p.seed = 2;
	mm_vis_new(&v2, &p, &e);
	mm_vis_encode(v2, img[1], 1, one, p1, &e);
	ok(memcmp(p1, pooled + D, sizeof p1) != 0, "another seed: another projection");
	mm_vis_free(v2);

	free(tok);
	free(one);
	mm_vis_free(v);
}

static void test_pool(void)
{
	mm_vis_params p;
	mm_vis *v[3];
	mm_err e;
	float *tok = malloc(sizeof *tok * 2 * 49 * 36), pm[2 * 36], px[2 * 36], pmm[2 * 72];
	for (int k = 0; k < 3; k++) {
		mm_vis_params_default(&p, MM_VIS_HOG);
		p.pool = k;
		mm_vis_new(&v[k], &p, &e);
	}
	ok(mm_vis_pooled_dim(v[0]) == 36 && mm_vis_pooled_dim(v[1]) == 36 && mm_vis_pooled_dim(v[2]) == 72,
			"pooled dims: mean D, max D, mean+max 2D");
	fill(img[0], vedge);
	fill(img[1], hedge);
	mm_vis_encode(v[0], img[0], 2, tok, pm, &e);
	mm_vis_encode(v[1], img[0], 2, NULL, px, &e);
	mm_vis_encode(v[2], img[0], 2, NULL, pmm, &e);
	int good_max = 1, good_mm = 1;
	for (int i = 0; i < 2; i++)
		for (int d = 0; d < 36; d++) {
			float m = tok[(size_t)i * 49 * 36 + d];
			for (int t = 1; t < 49; t++)
				if (tok[((size_t)i * 49 + t) * 36 + d] > m)
					m = tok[((size_t)i * 49 + t) * 36 + d];
			if (px[i * 36 + d] != m)
				good_max = 0;
			if (pmm[i * 72 + d] != pm[i * 36 + d] || pmm[i * 72 + 36 + d] != m)
				good_mm = 0;
		}
	ok(good_max, "max pooling is the per-dimension maximum over tokens");
	ok(good_mm, "mean+max is [mean, max]");
	/* the edge lies in cell column 3; block slot (0, 0) holds that column
	 * only in the 7 blocks of block column 3: there max/mean = 49/7 */
	near(px[0] / pm[0], 49.0 / 7.0, 1e-4, "max/mean of a local pattern = T / covered tokens");
	ok(mm_vis_pool_parse("mean+max") == MM_VIS_POOL_MEANMAX && mm_vis_pool_parse("median") == -1, "pool names");
	for (int k = 0; k < 3; k++)
		mm_vis_free(v[k]);
	free(tok);
}

static void test_params(void)
{
	mm_vis_params p;
	mm_vis *v;
	mm_err e;
	mm_vis_params_default(&p, MM_VIS_PIXELS);
	p.size = 60;
	ok(mm_vis_params_check(&p) != NULL && mm_vis_new(&v, &p, &e) == MM_EUSAGE,
			"size not a multiple of the patch refused (%s)", e.msg);
	mm_vis_params_default(&p, MM_VIS_HOG);
	p.size = 32;
	p.block = 5;
	ok(mm_vis_params_check(&p) != NULL, "hog block larger than the grid refused");
	ok(mm_vis_kind_parse("colour") == MM_VIS_COLOR && mm_vis_kind_parse("sift") == -1, "kind names");

	/* prepare: a 128x96 constant image becomes a constant 64x64 float image */
	mm_image im;
	mm_image_alloc(&im, 128, 96, 3, &e);
	for (int i = 0; i < 128 * 96; i++) {
		im.px[3 * i] = 255; im.px[3 * i + 1] = 51; im.px[3 * i + 2] = 0;
	}
	ok(mm_vis_prepare(&im, 64, img[0], &e) == MM_OK, "prepare");
	int same = 1;
	for (int i = 0; i < 64 * 64; i++)
		if (img[0][3 * i] != 1.0f || fabsf(img[0][3 * i + 1] - 0.2f) > 1e-7f || img[0][3 * i + 2] != 0)
			same = 0;
	ok(same, "prepare: constant in, constant out, scaled to [0, 1]");
	mm_image_free(&im);
}

/* mm_vis_encode_ws: the bytes of mm_vis_encode, with the tokens given or
 * kept in the scratch, one scratch reused by all three encoders in turn;
 * a scratch too small is a usage error. */
static void test_scratch(void)
{
	mm_err e;
	mm_rng g;
	mm_rng_seed(&g, 9);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < S * S * 3; j++)
			img[i][j] = (float)mm_rng_uniform(&g);
	mm_vis *v[MM_VIS_NKINDS];
	size_t big = 0;
	for (int k = 0; k < MM_VIS_NKINDS; k++) {
		mm_vis_params p;
		mm_vis_params_default(&p, k);
		p.pool = MM_VIS_POOL_MEANMAX;
		mm_vis_new(&v[k], &p, &e);
		size_t need = mm_vis_scratch_size(v[k], 4, true);
		big = need > big ? need : big;
	}
	void *ws = mm_alloc_aligned(big, 1);
	for (int k = 0; k < MM_VIS_NKINDS; k++) {
		size_t n = (size_t)4 * mm_vis_ntok(v[k]) * mm_vis_dim(v[k]), P = 4 * (size_t)mm_vis_pooled_dim(v[k]);
		float *t1 = malloc(n * sizeof *t1), *t2 = malloc(n * sizeof *t2);
		float *p1 = malloc(P * sizeof *p1), *p2 = malloc(P * sizeof *p2), *p3 = malloc(P * sizeof *p3);
		memset(ws, 0xff, big); /* NaN garbage left by another call */
		mm_status a = mm_vis_encode(v[k], &img[0][0], 4, t1, p1, &e);
		mm_status b = mm_vis_encode_ws(v[k], &img[0][0], 4, t2, p2, ws, big, &e);
		mm_status c = mm_vis_encode_ws(v[k], &img[0][0], 4, NULL, p3, ws,
				mm_vis_scratch_size(v[k], 4, true), &e);
		ok(a == MM_OK && b == MM_OK && c == MM_OK && !memcmp(t1, t2, n * sizeof *t1) &&
				!memcmp(p1, p2, P * sizeof *p1) && !memcmp(p1, p3, P * sizeof *p1),
				"%s: in the caller's scratch, the same bytes (tokens given or not)",
				mm_vis_kind_name(k));
		mm_status d = mm_vis_encode_ws(v[k], &img[0][0], 4, NULL, p3, ws,
				mm_vis_scratch_size(v[k], 4, true) - 1, &e);
		ok(d == MM_EUSAGE && strstr(e.msg, "scratch"), "%s: a scratch one byte short: %s",
				mm_vis_kind_name(k), e.msg);
		ok(mm_vis_scratch_size(v[k], 4, false) < mm_vis_scratch_size(v[k], 4, true),
				"%s: the tokens take scratch only when tok is NULL", mm_vis_kind_name(k));
		free(t1), free(t2), free(p1), free(p2), free(p3);
		mm_vis_free(v[k]);
	}
	free(ws);
}

int main(void)
{
	test_hog();
	test_color();
	test_pixels();
	test_pool();
	test_params();
	test_scratch();
	return tap_done();
}
