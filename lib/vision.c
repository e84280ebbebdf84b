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

/* ---- scratch ---- */

/* Byte offsets of an encode's scratch regions, each on a 64-byte boundary;
 * the regions an encoder does not use are empty. */
typedef struct ws_parts {
	size_t a, hist, scr, b0, ss, idx, pl, acc, tok;
} ws_parts;

static size_t ws_take(size_t *at, size_t bytes)
{
	size_t off = *at;
	*at += (bytes + 63) & ~(size_t)63;
	return off;
}

static size_t ws_layout(const mm_vis *v, int n, bool with_tok, ws_parts *w)
{
	const size_t S = (size_t)v->p.size, T = (size_t)v->T, D = (size_t)v->D, N = (size_t)n;
	size_t at = 0;
	memset(w, 0, sizeof *w);
	switch (v->p.kind) {
	case MM_VIS_PIXELS:
		w->a = ws_take(&at, N * T * (size_t)v->K * sizeof(float));
		break;
	case MM_VIS_HOG: {
		size_t gc = S / (size_t)v->p.cell;
		w->hist = ws_take(&at, gc * gc * (size_t)v->p.bins * sizeof(float));
		w->scr = ws_take(&at, (3 * S * S + 8 * S) * sizeof(float));
		w->b0 = ws_take(&at, S * sizeof(int));
		w->ss = ws_take(&at, T * sizeof(double));
		break;
	}
	case MM_VIS_COLOR:
		w->idx = ws_take(&at, S * sizeof(int));
		w->pl = ws_take(&at, 3 * S * sizeof(float));
		break;
	default:
		break;
	}
	w->acc = ws_take(&at, D * sizeof(double));
	if (with_tok)
		w->tok = ws_take(&at, N * T * D * sizeof(float));
	return at;
}

/* ---- pixels ---- */

static void enc_pixels(const mm_vis *v, const float *img, int n, float *tok, float *A)
{
	const int S = v->p.size, P = v->p.patch, g = S / P, K = v->K, T = v->T, D = v->D;
	const size_t rows = (size_t)n * (size_t)T;
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

/* Unsigned orientation of (gx, gy) in [0, pi), scaled to [0, bins]:
 * written with selects instead of branches so that the row loop below
 * vectorises; both arctangent forms are computed and one is kept (a
 * division by zero in the other gives an infinity that is never used), so
 * the value is the same float as the branchy form's. */
static inline float orient_pos(float gx, float gy, float bins)
{
	int flip = gy < 0 || (gy == 0 && gx < 0);
	gx = flip ? -gx : gx;
	gy = flip ? -gy : gy;
	float ax = gx < 0 ? -gx : gx;
	float t1 = atan01(gy / ax), t2 = (float)M_PI_2 - atan01(ax / gy);
	float t = ax >= gy ? t1 : t2;
	t = gx < 0 ? (float)M_PI - t : t;
	return t * (bins / (float)M_PI);
}

/* One row of the gradient: for x in 0..S-1, the channel of the largest
 * squared magnitude (the first of equal ones) gives the magnitude m (0: no
 * gradient) and the orientation in bins, p; the pixel votes w0[x] = m (1 -
 * fr) into bin b0[x] = floor(p) and w1[x] = m fr into the next bin (cyclic),
 * fr = p - floor(p) (an orientation rounded to 180 degrees is bin 0).  P: the
 * three channel planes; up, mid, down: the rows y-1, y, y+1 (replicated at
 * the border).  Plain loops over x, so the compiler vectorises them, for
 * AVX2 too where the processor has it (target_clones: the same operations,
 * so the same bits, on either path). */
__attribute__((target_clones("avx2", "default")))
static void hog_row(const float *const P[3], int S, int up, int mid, int down, int B,
		float *restrict w0, float *restrict w1, int *restrict b0, float *restrict g)
{
	float *gxc[3] = { g, g + S, g + 2 * S }, *gyc[3] = { g + 3 * S, g + 4 * S, g + 5 * S };
	for (int c = 0; c < 3; c++) {
		const float *r = P[c] + (size_t)mid * S, *u = P[c] + (size_t)up * S,
		      *d = P[c] + (size_t)down * S;
		float *gx = gxc[c], *gy = gyc[c];
		/* the borders replicate: x0 = max(x-1, 0), x1 = min(x+1, S-1) */
		gx[0] = r[S > 1 ? 1 : 0] - r[0];
		for (int x = 1; x < S - 1; x++)
			gx[x] = r[x + 1] - r[x - 1];
		if (S > 1)
			gx[S - 1] = r[S - 1] - r[S - 2];
		for (int x = 0; x < S; x++)
			gy[x] = d[x] - u[x];
	}
	const float *gx0 = gxc[0], *gx1 = gxc[1], *gx2 = gxc[2];
	const float *gy0 = gyc[0], *gy1 = gyc[1], *gy2 = gyc[2];
	for (int x = 0; x < S; x++) {
		float m0 = gx0[x] * gx0[x] + gy0[x] * gy0[x];
		float m1 = gx1[x] * gx1[x] + gy1[x] * gy1[x];
		float m2 = gx2[x] * gx2[x] + gy2[x] * gy2[x];
		/* the first channel of the largest (strictly greater replaces) */
		float m = m1 > m0 ? m1 : m0, bx = m1 > m0 ? gx1[x] : gx0[x], by = m1 > m0 ? gy1[x] : gy0[x];
		bx = m2 > m ? gx2[x] : bx;
		by = m2 > m ? gy2[x] : by;
		m = m2 > m ? m2 : m;
		float p = orient_pos(bx, by, (float)B);
		w1[x] = m > 0 ? p : 0; /* p is NaN when there is no gradient */
		w0[x] = m > 0 ? sqrtf(m) : 0;
	}
	/* w0, w1: magnitudes and orientations; now the votes, in a second loop
	 * and with products by keep (1 or 0) rather than selects, the forms
	 * in which gcc 12 vectorises the AVX2 clone too.  keep = 0: rounded up
	 * to 180 degrees, bin 0 with fr = 0. */
	for (int x = 0; x < S; x++) {
		float mag = w0[x], p = w1[x];
		int b = (int)p, keep = p < (float)B;
		float fr = (p - (float)b) * (float)keep;
		b0[x] = b * keep;
		w0[x] = mag * (1.0f - fr);
		w1[x] = mag * fr;
	}
}

/* The three channel planes of an interleaved RGB image of n pixels. */
__attribute__((target_clones("avx2", "default")))
static void hog_planes(const float *restrict im, size_t n, float *restrict pl)
{
	float *r = pl, *g = pl + n, *b = pl + 2 * n;
	for (size_t i = 0; i < n; i++) {
		r[i] = im[3 * i];
		g[i] = im[3 * i + 1];
		b[i] = im[3 * i + 2];
	}
}

static void hog_one(const mm_vis *v, const float *im, float *tok, float *hist, float *scr, int *b0,
		double *ss)
{
	const int S = v->p.size, C = v->p.cell, B = v->p.bins, BL = v->p.block;
	const int gc = S / C, gb = gc - BL + 1, D = v->D;
	const size_t SS = (size_t)S * S;
	const float *P[3] = { scr, scr + SS, scr + 2 * SS };
	float *w0 = scr + 3 * SS, *w1 = w0 + S, *g = w1 + S;

	hog_planes(im, SS, scr);
	memset(hist, 0, sizeof *hist * (size_t)gc * gc * B);
	for (int y = 0; y < S; y++) {
		hog_row(P, S, y > 0 ? y - 1 : 0, y, y < S - 1 ? y + 1 : S - 1, B, w0, w1, b0, g);
		float *hrow = hist + (size_t)(y / C) * gc * B;
		/* a pixel without gradient votes +0 twice: the sums (of
		 * non-negative votes, from +0) keep their bits.  The cells of the
		 * row are visited in turn for each offset k, so that consecutive
		 * votes go to different cells' histograms (independent sums,
		 * instead of one chain of dependent adds through memory); each
		 * bin still adds its votes in pixel order, so the same bits. */
		for (int k = 0; k < C; k++)
			for (int cx = 0; cx < gc; cx++) {
				float *h = hrow + (size_t)cx * B;
				int x = cx * C + k, b = b0[x];
				h[b] += w0[x];
				h[b + 1 == B ? 0 : b + 1] += w1[x];
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
		}
	/* L2-Hys of each block (token): its sum of squares in double, in d
	 * order; the blocks' sums are made side by side, so that they are
	 * independent chains of adds, each in the order of one block alone */
	const int nb = gb * gb;
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < nb; k++)
			ss[k] = 0;
		for (int d = 0; d < D; d++)
			for (int k = 0; k < nb; k++) {
				double x = tok[(size_t)k * D + d];
				ss[k] += x * x;
			}
		for (int k = 0; k < nb; k++) {
			float *t = tok + (size_t)k * D, inv = (float)(1.0 / sqrt(ss[k] + 1e-12));
			for (int d = 0; d < D; d++) {
				t[d] *= inv;
				if (pass == 0 && t[d] > 0.2f)
					t[d] = 0.2f;
			}
		}
	}
}

static void enc_hog(const mm_vis *v, const float *img, int n, float *tok, const ws_parts *w,
		unsigned char *ws)
{
	const int S = v->p.size;
	for (int i = 0; i < n; i++)
		hog_one(v, img + (size_t)i * S * S * 3, tok + (size_t)i * v->T * v->D,
				(float *)(ws + w->hist), (float *)(ws + w->scr), (int *)(ws + w->b0),
				(double *)(ws + w->ss));
}

/* ---- color ---- */

static inline int clampbin(float x, int n)
{
	int b = (int)(x * (float)n);
	return b < 0 ? 0 : b >= n ? n - 1 : b;
}

/* The histogram bin of each pixel of one row (S pixels, interleaved RGB),
 * with selects instead of branches so that the loop vectorises; the
 * divisions the selects discard may divide by zero (never used). */
__attribute__((target_clones("avx2", "default")))
static void color_row(const float *restrict px, int S, int HB, int SB, int VB, int *restrict idx,
		float *restrict pl)
{
	float *R = pl, *G = pl + S, *Bl = pl + 2 * S;
	for (int x = 0; x < S; x++) {
		R[x] = px[3 * x];
		G[x] = px[3 * x + 1];
		Bl[x] = px[3 * x + 2];
	}
	for (int x = 0; x < S; x++) {
		float r = R[x], gg = G[x], b = Bl[x];
		float mx = r > gg ? r : gg, mn = r < gg ? r : gg;
		mx = b > mx ? b : mx;
		mn = b < mn ? b : mn;
		float d = mx - mn;
		float s = mx > 0 ? d / mx : 0;
		float hr = (gg - b) / d, hg = 2.0f + (b - r) / d, hb = 4.0f + (r - gg) / d;
		float h = mx == r ? hr : mx == gg ? hg : hb;
		h /= 6.0f;
		h = h < 0 ? h + 1.0f : h;
		h = h >= 1.0f ? h - 1.0f : h;
		h = d > 0 ? h : 0;
		idx[x] = (clampbin(h, HB) * SB + clampbin(s, SB)) * VB + clampbin(mx, VB);
	}
}

static void color_one(const mm_vis *v, const float *im, float *tok, int *idx, float *pl)
{
	const int S = v->p.size, C = v->p.cell, g = S / C, D = v->D;
	const int HB = v->p.hbins, SB = v->p.sbins, VB = v->p.vbins;
	memset(tok, 0, sizeof *tok * (size_t)v->T * D);
	for (int y = 0; y < S; y++) {
		color_row(im + (size_t)y * S * 3, S, HB, SB, VB, idx, pl);
		float *trow = tok + (size_t)(y / C) * g * D;
		/* cells in turn for each offset, as in hog_one: independent sums */
		for (int k = 0; k < C; k++)
			for (int cx = 0; cx < g; cx++)
				trow[(size_t)cx * D + idx[cx * C + k]] += 1.0f;
	}
	const float inv = 1.0f / (float)(C * C);
	for (size_t i = 0; i < (size_t)v->T * D; i++)
		tok[i] *= inv;
}

size_t mm_vis_scratch_size(const mm_vis *v, int n, bool with_tok)
{
	ws_parts w;
	return ws_layout(v, n < 0 ? 0 : n, with_tok, &w);
}

mm_status mm_vis_encode_ws(const mm_vis *v, const float *img, int n, float *tok, float *pooled,
		void *scratch, size_t scratch_size, mm_err *e)
{
	if (n <= 0)
		return MM_OK;
	ws_parts w;
	size_t need = ws_layout(v, n, !tok, &w);
	if (!scratch || scratch_size < need)
		return mm_errf(e, MM_EUSAGE, "%s encoder: scratch of %zu bytes, %zu needed for %d images",
				mm_vis_kind_name(v->p.kind), scratch_size, need, n);
	unsigned char *ws = scratch;
	float *t = tok ? tok : (float *)(ws + w.tok);
	switch (v->p.kind) {
	case MM_VIS_PIXELS:
		enc_pixels(v, img, n, t, (float *)(ws + w.a));
		break;
	case MM_VIS_HOG:
		enc_hog(v, img, n, t, &w, ws);
		break;
	case MM_VIS_COLOR:
		for (int i = 0; i < n; i++)
			color_one(v, img + (size_t)i * v->p.size * v->p.size * 3, t + (size_t)i * v->T * v->D,
					(int *)(ws + w.idx), (float *)(ws + w.pl));
		break;
	default:
		return mm_errf(e, MM_EUSAGE, "unknown encoder");
	}
	if (pooled)
		pool_tokens(t, n, v->T, v->D, v->p.pool, pooled, (double *)(ws + w.acc));
	return MM_OK;
}

mm_status mm_vis_encode(const mm_vis *v, const float *img, int n, float *tok, float *pooled, mm_err *e)
{
	if (n <= 0)
		return MM_OK;
	size_t need = mm_vis_scratch_size(v, n, !tok);
	void *ws = mm_alloc_aligned(need, 1);
	if (!ws)
		return mm_errf(e, MM_ENOMEM, "%s encoder: out of memory", mm_vis_kind_name(v->p.kind));
	mm_status st = mm_vis_encode_ws(v, img, n, tok, pooled, ws, need, e);
	free(ws);
	return st;
}
