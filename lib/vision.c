/* vision.c — the pixels, hog and color encoders (see vision.h). */
#include "vision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "rng.h"
#include "util.h"

struct mm_vis {
	mm_vis_params p;
	int T, D;
	int side;        /* the token grid is side × side (T = side²) */
	int K;      /* pixels: patch*patch*3 */
	float *W;   /* pixels: [K, D] */
};

void mm_vis_params_default(mm_vis_params *p, mm_vis_kind kind)
{
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->size = 64;
	p->patch = 8;
	p->dim = 64;
	p->seed = 1;
	p->cell = kind == MM_VIS_COLOR ? 16 : 8;
	p->bins = 9;
	p->block = 2;
	p->hbins = 8;
	p->sbins = 3;
	p->vbins = 3;
}

const char *mm_vis_params_check(const mm_vis_params *p)
{
	static _Thread_local char msg[160];
	if (p->kind < 0 || p->kind >= MM_VIS_NKINDS)
		return "unknown encoder";
	if (p->size < 1 || p->size > 4096)
		return "size must be in 1..4096";
	if (p->pool < MM_VIS_POOL_MEAN || p->pool > MM_VIS_POOL_MEANMAX)
		return "unknown pooling";
	switch (p->kind) {
	case MM_VIS_PIXELS:
		if (p->patch < 1 || p->patch > p->size)
			return "patch must be in 1..size";
		if (p->size % p->patch) {
			snprintf(msg, sizeof msg, "size %d is not a multiple of the patch %d", p->size, p->patch);
			return msg;
		}
		if (p->dim < 1 || p->dim > 65536)
			return "dim must be in 1..65536";
		break;
	case MM_VIS_HOG:
		if (p->cell < 1 || p->cell > p->size)
			return "hog cell must be in 1..size";
		if (p->size % p->cell) {
			snprintf(msg, sizeof msg, "size %d is not a multiple of the hog cell %d", p->size, p->cell);
			return msg;
		}
		if (p->bins < 2 || p->bins > 360)
			return "hog bins must be in 2..360";
		if (p->block < 1 || p->block > p->size / p->cell)
			return "hog block must be in 1..size/cell";
		break;
	case MM_VIS_COLOR:
		if (p->cell < 1 || p->cell > p->size)
			return "color cell must be in 1..size";
		if (p->size % p->cell) {
			snprintf(msg, sizeof msg, "size %d is not a multiple of the color cell %d", p->size, p->cell);
			return msg;
		}
		if (p->hbins < 1 || p->sbins < 1 || p->vbins < 1 ||
				p->hbins > 64 || p->sbins > 64 || p->vbins > 64)
			return "colour bins must be in 1..64";
		break;
	default:
		break;
	}
	return NULL;
}

int mm_vis_pool_parse(const char *name)
{
	if (!strcmp(name, "mean"))
		return MM_VIS_POOL_MEAN;
	if (!strcmp(name, "max"))
		return MM_VIS_POOL_MAX;
	if (!strcmp(name, "mean+max") || !strcmp(name, "meanmax"))
		return MM_VIS_POOL_MEANMAX;
	return -1;
}

const char *mm_vis_pool_name(mm_vis_pool p)
{
	switch (p) {
	case MM_VIS_POOL_MEAN: return "mean";
	case MM_VIS_POOL_MAX: return "max";
	case MM_VIS_POOL_MEANMAX: return "mean+max";
	default: return "?";
	}
}

int mm_vis_kind_parse(const char *name)
{
	if (!strcmp(name, "pixels"))
		return MM_VIS_PIXELS;
	if (!strcmp(name, "hog"))
		return MM_VIS_HOG;
	if (!strcmp(name, "color") || !strcmp(name, "colour"))
		return MM_VIS_COLOR;
	return -1;
}

const char *mm_vis_kind_name(mm_vis_kind k)
{
	switch (k) {
	case MM_VIS_PIXELS: return "pixels";
	case MM_VIS_HOG: return "hog";
	case MM_VIS_COLOR: return "color";
	default: return "?";
	}
}

mm_status mm_vis_new(mm_vis **out, const mm_vis_params *p, mm_err *e)
{
	const char *bad = mm_vis_params_check(p);
	*out = NULL;
	if (bad)
		return mm_errf(e, MM_EUSAGE, "%s encoder: %s", mm_vis_kind_name(p->kind), bad);
	mm_vis *v = calloc(1, sizeof *v);
	if (!v)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	v->p = *p;
	switch (p->kind) {
	case MM_VIS_PIXELS: {
		int g = p->size / p->patch;
		v->T = g * g;
		v->side = g;
		v->D = p->dim;
		v->K = p->patch * p->patch * 3;
		v->W = mm_alloc_aligned((size_t)v->K * (size_t)v->D, sizeof *v->W);
		if (!v->W) {
			free(v);
			return mm_errf(e, MM_ENOMEM, "out of memory");
		}
		mm_rng root, g2;
		mm_rng_seed(&root, p->seed);
		g2 = mm_rng_split(&root, MM_VIS_SEED_STREAM);
		double sd = 1.0 / sqrt((double)v->K);
		for (size_t i = 0; i < (size_t)v->K * (size_t)v->D; i++)
			v->W[i] = (float)(mm_rng_normal(&g2) * sd);
		break;
	}
	case MM_VIS_HOG: {
		int g = p->size / p->cell - p->block + 1;
		v->T = g * g;
		v->side = g;
		v->D = p->block * p->block * p->bins;
		break;
	}
	case MM_VIS_COLOR: {
		int g = p->size / p->cell;
		v->T = g * g;
		v->side = g;
		v->D = p->hbins * p->sbins * p->vbins;
		break;
	}
	default:
		break;
	}
	*out = v;
	return MM_OK;
}

void mm_vis_free(mm_vis *v)
{
	if (!v)
		return;
	free(v->W);
	free(v);
}

int mm_vis_ntok(const mm_vis *v) { return v->T; }
int mm_vis_side(const mm_vis *v) { return v->side; }
int mm_vis_dim(const mm_vis *v) { return v->D; }
int mm_vis_pooled_dim(const mm_vis *v) { return v->p.pool == MM_VIS_POOL_MEANMAX ? 2 * v->D : v->D; }
const mm_vis_params *mm_vis_params_get(const mm_vis *v) { return &v->p; }

const float *mm_vis_projection(const mm_vis *v, int *k)
{
	if (k)
		*k = v->K;
	return v->W;
}

mm_status mm_vis_prepare(const mm_image *im, int size, float *out, mm_err *e)
{
	if (im->c != 3)
		return mm_errf(e, MM_EVALUE, "expected an RGB image, got %d channels", im->c);
	return mm_image_resize_area_f(im, size, size, out, e);
}

/* Pool the T tokens of each image: mean (summed in double, token order),
 * max, or both; pooled has stride mm_vis_pooled_dim(). */
static void pool_tokens(const float *tok, int n, int T, int D, mm_vis_pool how, float *pooled, double *acc)
{
	const int P = how == MM_VIS_POOL_MEANMAX ? 2 * D : D;
	for (int i = 0; i < n; i++) {
		const float *x = tok + (size_t)i * T * D;
		float *out = pooled + (size_t)i * P;
		if (how != MM_VIS_POOL_MAX) {
			memset(acc, 0, sizeof *acc * (size_t)D);
			for (int t = 0; t < T; t++)
				for (int d = 0; d < D; d++)
					acc[d] += x[(size_t)t * D + d];
			for (int d = 0; d < D; d++)
				out[d] = (float)(acc[d] / T);
		}
		if (how != MM_VIS_POOL_MEAN) {
			float *mx = how == MM_VIS_POOL_MEANMAX ? out + D : out;
			memcpy(mx, x, sizeof *mx * (size_t)D);
			for (int t = 1; t < T; t++)
				for (int d = 0; d < D; d++)
					if (x[(size_t)t * D + d] > mx[d])
						mx[d] = x[(size_t)t * D + d];
		}
	}
}

/* ---- pixels ---- */

static mm_status enc_pixels(const mm_vis *v, const float *img, int n, float *tok, mm_err *e)
{
	const int S = v->p.size, P = v->p.patch, g = S / P, K = v->K, T = v->T, D = v->D;
	const size_t rows = (size_t)n * (size_t)T;
	float *A = mm_alloc_aligned(rows * (size_t)K, sizeof *A);
	if (!A)
		return mm_errf(e, MM_ENOMEM, "pixels encoder: out of memory");
	for (int i = 0; i < n; i++) {
		const float *im = img + (size_t)i * S * S * 3;
		for (int py = 0; py < g; py++)
			for (int px = 0; px < g; px++) {
				float *a = A + ((size_t)i * T + (size_t)py * g + px) * K;
				for (int dy = 0; dy < P; dy++) {
					const float *row = im + ((size_t)(py * P + dy) * S + (size_t)px * P) * 3;
					for (int j = 0; j < P * 3; j++)
						*a++ = 2.0f * row[j] - 1.0f;
				}
			}
	}
	mm_sgemm(false, false, (int)rows, D, K,
			1.0f, A, K, v->W, D, 0.0f, tok, D);
	free(A);
	return MM_OK;
}

/* ---- hog ---- */

/* atan(a) for a in [0, 1]: minimax polynomial, |error| < 1e-5 rad.  Plain
 * arithmetic instead of libm's atan2f: 3x faster here, and the same bits on
 * every C library. */
static inline float atan01(float a)
{
	float a2 = a * a;
	return a * (0.99997726f + a2 * (-0.33262347f + a2 * (0.19354346f +
			a2 * (-0.11643287f + a2 * (0.05265332f + a2 * -0.01172120f)))));
}

/* Unsigned orientation of (gx, gy) in [0, pi), scaled to [0, bins]. */
static inline float orient_pos(float gx, float gy, float bins)
{
	if (gy < 0 || (gy == 0 && gx < 0)) {
		gx = -gx;
		gy = -gy;
	}
	float ax = gx < 0 ? -gx : gx, t;
	if (ax >= gy)
		t = atan01(gy / ax);
	else
		t = (float)M_PI_2 - atan01(ax / gy);
	if (gx < 0)
		t = (float)M_PI - t;
	return t * (bins / (float)M_PI);
}

static void hog_one(const mm_vis *v, const float *im, float *tok, float *hist)
{
	const int S = v->p.size, C = v->p.cell, B = v->p.bins, BL = v->p.block;
	const int gc = S / C, gb = gc - BL + 1, D = v->D;

	memset(hist, 0, sizeof *hist * (size_t)gc * gc * B);
	for (int y = 0; y < S; y++) {
		int y0 = y > 0 ? y - 1 : 0, y1 = y < S - 1 ? y + 1 : S - 1;
		for (int x = 0; x < S; x++) {
			int x0 = x > 0 ? x - 1 : 0, x1 = x < S - 1 ? x + 1 : S - 1;
			float bgx = 0, bgy = 0, bm = -1;
			for (int c = 0; c < 3; c++) {
				float gx = im[((size_t)y * S + x1) * 3 + c] - im[((size_t)y * S + x0) * 3 + c];
				float gy = im[((size_t)y1 * S + x) * 3 + c] - im[((size_t)y0 * S + x) * 3 + c];
				float m = gx * gx + gy * gy;
				if (m > bm) {
					bm = m;
					bgx = gx;
					bgy = gy;
				}
			}
			if (bm <= 0)
				continue;
			float mag = sqrtf(bm);
			float pos = orient_pos(bgx, bgy, (float)B);
			int b0 = (int)pos;
			float fr = pos - (float)b0;
			if (b0 >= B) { /* rounding at 180 degrees */
				b0 = 0;
				fr = 0;
			}
			int b1 = b0 + 1 == B ? 0 : b0 + 1;
			float *h = hist + ((size_t)(y / C) * gc + (size_t)(x / C)) * B;
			h[b0] += mag * (1.0f - fr);
			h[b1] += mag * fr;
		}
	}
	for (int by = 0; by < gb; by++)
		for (int bx = 0; bx < gb; bx++) {
			float *t = tok + ((size_t)by * gb + bx) * D;
			int k = 0;
			for (int cy = 0; cy < BL; cy++)
				for (int cx = 0; cx < BL; cx++) {
					const float *h = hist + ((size_t)(by + cy) * gc + (size_t)(bx + cx)) * B;
					for (int b = 0; b < B; b++)
						t[k++] = h[b];
				}
			/* L2-Hys */
			for (int pass = 0; pass < 2; pass++) {
				double ss = 0;
				for (int d = 0; d < D; d++)
					ss += (double)t[d] * t[d];
				float inv = (float)(1.0 / sqrt(ss + 1e-12));
				for (int d = 0; d < D; d++) {
					t[d] *= inv;
					if (pass == 0 && t[d] > 0.2f)
						t[d] = 0.2f;
				}
			}
		}
}

static mm_status enc_hog(const mm_vis *v, const float *img, int n, float *tok, mm_err *e)
{
	const int S = v->p.size, gc = S / v->p.cell;
	float *hist = malloc(sizeof *hist * (size_t)gc * gc * v->p.bins);
	if (!hist)
		return mm_errf(e, MM_ENOMEM, "hog encoder: out of memory");
	for (int i = 0; i < n; i++)
		hog_one(v, img + (size_t)i * S * S * 3, tok + (size_t)i * v->T * v->D, hist);
	free(hist);
	return MM_OK;
}

/* ---- color ---- */

static int clampbin(float x, int n)
{
	int b = (int)(x * (float)n);
	return b < 0 ? 0 : b >= n ? n - 1 : b;
}

static void color_one(const mm_vis *v, const float *im, float *tok)
{
	const int S = v->p.size, C = v->p.cell, g = S / C, D = v->D;
	const int HB = v->p.hbins, SB = v->p.sbins, VB = v->p.vbins;
	memset(tok, 0, sizeof *tok * (size_t)v->T * D);
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++) {
			const float *p = im + ((size_t)y * S + x) * 3;
			float r = p[0], gg = p[1], b = p[2];
			float mx = r > gg ? r : gg, mn = r < gg ? r : gg;
			mx = b > mx ? b : mx;
			mn = b < mn ? b : mn;
			float d = mx - mn;
			float h = 0, s = mx > 0 ? d / mx : 0;
			if (d > 0) {
				if (mx == r)
					h = (gg - b) / d;       /* -1..1 */
				else if (mx == gg)
					h = 2.0f + (b - r) / d; /* 1..3 */
				else
					h = 4.0f + (r - gg) / d; /* 3..5 */
				h /= 6.0f;
				if (h < 0)
					h += 1.0f;
				if (h >= 1.0f)
					h -= 1.0f;
			}
			int idx = (clampbin(h, HB) * SB + clampbin(s, SB)) * VB + clampbin(mx, VB);
			tok[((size_t)(y / C) * g + (size_t)(x / C)) * D + idx] += 1.0f;
		}
	const float inv = 1.0f / (float)(C * C);
	for (size_t i = 0; i < (size_t)v->T * D; i++)
		tok[i] *= inv;
}

mm_status mm_vis_encode(const mm_vis *v, const float *img, int n, float *tok, float *pooled, mm_err *e)
{
	mm_status st = MM_OK;
	float *t = tok;
	if (n <= 0)
		return MM_OK;
	if (!t) {
		t = mm_alloc_aligned((size_t)n * v->T * v->D, sizeof *t);
		if (!t)
			return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	switch (v->p.kind) {
	case MM_VIS_PIXELS:
		st = enc_pixels(v, img, n, t, e);
		break;
	case MM_VIS_HOG:
		st = enc_hog(v, img, n, t, e);
		break;
	case MM_VIS_COLOR:
		for (int i = 0; i < n; i++)
			color_one(v, img + (size_t)i * v->p.size * v->p.size * 3, t + (size_t)i * v->T * v->D);
		break;
	default:
		st = mm_errf(e, MM_EUSAGE, "unknown encoder");
	}
	if (st == MM_OK && pooled) {
		double *acc = malloc(sizeof *acc * (size_t)v->D);
		if (acc)
			pool_tokens(t, n, v->T, v->D, v->p.pool, pooled, acc);
		else
			st = mm_errf(e, MM_ENOMEM, "out of memory");
		free(acc);
	}
	if (t != tok)
		free(t);
	return st;
}
