/* deform.c — bilinear grid sampling, PyTorch's grid_sample convention
 * and the one-level deformable attention on it (contracts in deform.h). */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "nn/deform.h"
#include "kernels.h"

/* The four cells around one position: their flat indices (-1 when outside
 * the grid) and bilinear weights, plus the fractional parts for the
 * backward.  Returns 0 when no cell can be reached (all weights zero). */
typedef struct { long idx[4]; float w[4], fx, fy; } corners;

static int corners_at(float x, float y, int H, int W, corners *c)
{
	/* grid_sampler_compute_source_index, align_corners=False, in float as
	 * PyTorch does for float inputs */
	float px = ((x + 1.f) * (float)W - 1.f) / 2.f;
	float py = ((y + 1.f) * (float)H - 1.f) / 2.f;
	/* also rejects NaN; beyond these bounds every corner is outside, and
	 * floor() of a huge value would not fit an int */
	if (!(px > -1.f && px < (float)W && py > -1.f && py < (float)H))
		return 0;
	int x0 = (int)floorf(px), y0 = (int)floorf(py);
	c->fx = px - (float)x0;
	c->fy = py - (float)y0;
	for (int k = 0; k < 4; k++) {
		int xi = x0 + (k & 1), yi = y0 + (k >> 1);
		c->idx[k] = xi >= 0 && xi < W && yi >= 0 && yi < H ? (long)yi * W + xi : -1;
		c->w[k] = ((k & 1) ? c->fx : 1.f - c->fx) * ((k >> 1) ? c->fy : 1.f - c->fy);
	}
	return 1;
}

void mm_grid_sample_forward(const float *V, int B, int H, int W, int D, int ldv,
		const float *pos, int P, float *out, int ldo)
{
	assert(B >= 0 && H > 0 && W > 0 && D > 0 && ldv >= D && ldo >= D && P >= 0);
	for (int b = 0; b < B; b++) {
		const float *Vb = V + (size_t)b * H * W * ldv;
		for (int p = 0; p < P; p++) {
			size_t bp = (size_t)b * P + p;
			float *o = out + bp * ldo;
			for (int d = 0; d < D; d++)
				o[d] = 0.f;
			corners c;
			if (!corners_at(pos[2 * bp], pos[2 * bp + 1], H, W, &c))
				continue;
			for (int k = 0; k < 4; k++) {
				if (c.idx[k] < 0)
					continue;
				const float *v = Vb + (size_t)c.idx[k] * ldv;
				for (int d = 0; d < D; d++)
					o[d] += c.w[k] * v[d];
			}
		}
	}
}

void mm_grid_sample_backward(const float *V, int B, int H, int W, int D, int ldv,
		const float *pos, int P, const float *dout, int ldo,
		float *dV, float *dpos)
{
	assert(B >= 0 && H > 0 && W > 0 && D > 0 && ldv >= D && ldo >= D && P >= 0);
	for (int b = 0; b < B; b++) {
		size_t vb = (size_t)b * H * W * ldv;
		for (int p = 0; p < P; p++) {
			size_t bp = (size_t)b * P + p;
			const float *g = dout + bp * ldo;
			corners c;
			if (!corners_at(pos[2 * bp], pos[2 * bp + 1], H, W, &c))
				continue;
			/* gv[k] = <dout, V[corner k]>, zero for a corner outside */
			double gv[4] = { 0, 0, 0, 0 };
			for (int k = 0; k < 4; k++) {
				if (c.idx[k] < 0)
					continue;
				size_t off = vb + (size_t)c.idx[k] * ldv;
				for (int d = 0; d < D; d++) {
					gv[k] += (double)g[d] * V[off + d];
					if (dV)
						dV[off + d] += c.w[k] * g[d];
				}
			}
			if (!dpos)
				continue;
			/* ∂out/∂px = (1-fy)(v01 - v00) + fy (v11 - v10), likewise for
			 * py; then the chain through px = ((x+1)W - 1)/2 */
			double dpx = (1.0 - c.fy) * (gv[1] - gv[0]) + c.fy * (gv[3] - gv[2]);
			double dpy = (1.0 - c.fx) * (gv[2] - gv[0]) + c.fx * (gv[3] - gv[1]);
			dpos[2 * bp] += (float)(dpx * W / 2.0);
			dpos[2 * bp + 1] += (float)(dpy * H / 2.0);
		}
	}
}

void mm_deform_attn_forward(const float *Val, int B, int H, int W, int heads, int dh,
		const float *ref, const float *off, const float *logit, int Nq, int P,
		float *A, float *pos, float *out)
{
	assert(heads > 0 && dh > 0 && Nq >= 0 && P > 0);
	int D = heads * dh;
	float s[dh];
	for (int b = 0; b < B; b++) {
		const float *Vb = Val + (size_t)b * H * W * D;
		for (int q = 0; q < Nq; q++) {
			size_t bq = (size_t)b * Nq + q;
			float *o = out + bq * D;
			memset(o, 0, (size_t)D * sizeof *o);
			for (int h = 0; h < heads; h++) {
				size_t hp = (bq * heads + h) * P; /* first (q, h, p) */
				mm_softmax(logit + hp, 1, P, A + hp);
				for (int p = 0; p < P; p++) {
					float *xy = pos + 2 * (hp + p);
					xy[0] = ref[2 * bq] + 2.f * off[2 * (hp + p)] / (float)W;
					xy[1] = ref[2 * bq + 1] + 2.f * off[2 * (hp + p) + 1] / (float)H;
					mm_grid_sample_forward(Vb + (size_t)h * dh, 1, H, W, dh, D, xy, 1, s, dh);
					for (int c = 0; c < dh; c++)
						o[h * dh + c] += A[hp + p] * s[c];
				}
			}
		}
	}
}

void mm_deform_attn_backward(const float *Val, int B, int H, int W, int heads, int dh,
		const float *A, const float *pos, int Nq, int P, const float *dout,
		float *dVal, float *dref, float *doff, float *dlogit)
{
	assert(heads > 0 && dh > 0 && Nq >= 0 && P > 0);
	int D = heads * dh;
	float s[dh], ds[dh], dA[P];
	for (int b = 0; b < B; b++) {
		size_t vb = (size_t)b * H * W * D;
		for (int q = 0; q < Nq; q++) {
			size_t bq = (size_t)b * Nq + q;
			const float *g = dout + bq * D;
			for (int h = 0; h < heads; h++) {
				size_t hp = (bq * heads + h) * P;
				const float *gh = g + h * dh, *Vh = Val + vb + (size_t)h * dh;
				double sdA = 0;
				for (int p = 0; p < P; p++) {
					const float *xy = pos + 2 * (hp + p);
					mm_grid_sample_forward(Vh, 1, H, W, dh, D, xy, 1, s, dh);
					double d = 0;
					for (int c = 0; c < dh; c++) {
						d += (double)gh[c] * s[c];
						ds[c] = A[hp + p] * gh[c];
					}
					dA[p] = (float)d;
					sdA += d * A[hp + p];
					float dxy[2] = { 0, 0 };
					mm_grid_sample_backward(Vh, 1, H, W, dh, D, xy, 1, ds, dh,
							dVal ? dVal + vb + (size_t)h * dh : NULL, dxy);
					if (doff) {
						doff[2 * (hp + p)] += dxy[0] * 2.f / (float)W;
						doff[2 * (hp + p) + 1] += dxy[1] * 2.f / (float)H;
					}
					if (dref) {
						dref[2 * bq] += dxy[0];
						dref[2 * bq + 1] += dxy[1];
					}
				}
				/* softmax backward: dlogit = A ⊙ (dA - Σ A dA) */
				for (int p = 0; dlogit && p < P; p++)
					dlogit[hp + p] += (float)(A[hp + p] * (dA[p] - sdA));
			}
		}
	}
}
