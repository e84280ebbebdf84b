/* norm.c — layer normalisation and its kernels.  See layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"
#include "layer.h"

#define LN_EPS 1e-5f

void mm_layernorm_forward(const float *X, int B, int d, const float *gamma,
		const float *beta, float *Y, float *mean, float *rstd)
{
	for (int r = 0; r < B; r++) {
		const float *x = X + (size_t)r * d;
		float *y = Y + (size_t)r * d;
		double s = 0, ss = 0;
		for (int k = 0; k < d; k++)
			s += x[k];
		double mu = s / d;
		for (int k = 0; k < d; k++)
			ss += (x[k] - mu) * (x[k] - mu);
		float rs = (float)(1.0 / sqrt(ss / d + LN_EPS));
		mean[r] = (float)mu;
		rstd[r] = rs;
		for (int k = 0; k < d; k++)
			y[k] = (x[k] - (float)mu) * rs * gamma[k] + beta[k];
	}
}

void mm_layernorm_backward(const float *X, const float *dY, int B, int d,
		const float *gamma, const float *mean, const float *rstd,
		float *dgamma, float *dbeta, float *dX)
{
	for (int r = 0; r < B; r++) {
		const float *x = X + (size_t)r * d, *dy = dY + (size_t)r * d;
		float *dx = dX ? dX + (size_t)r * d : NULL;
		float mu = mean[r], rs = rstd[r];
		double a = 0, b = 0; /* mean(dxhat), mean(dxhat * xhat) */
		for (int k = 0; k < d; k++) {
			float xh = (x[k] - mu) * rs;
			float dxh = dy[k] * gamma[k];
			if (dgamma)
				dgamma[k] += dy[k] * xh;
			if (dbeta)
				dbeta[k] += dy[k];
			a += dxh;
			b += dxh * xh;
		}
		float ma = (float)(a / d), mb = (float)(b / d);
		if (dX)
			for (int k = 0; k < d; k++) {
				float xh = (x[k] - mu) * rs;
				dx[k] += rs * (dy[k] * gamma[k] - ma - xh * mb);
			}
	}
}

/* ---- the layer ----------------------------------------------------------- */

static const char *layernorm_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = io->in[0];
	return NULL;
}

static int layernorm_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "gamma", io->in[0].D, 1, false };
	d[1] = (mm_param_decl){ "beta", io->in[0].D, 1, false };
	return 2;
}

/* mean and rstd per row, kept for the backward. */
static size_t layernorm_scratch(const mm_layer_io *io)
{
	return 2 * (size_t)io->B * io->in[0].T;
}

static void layernorm_init(const mm_layer_io *io, mm_rng *rng)
{
	(void)rng;
	for (size_t k = 0; k < io->p[0].n; k++)
		io->p[0].w[k] = 1.0f;
	memset(io->p[1].w, 0, io->p[1].n * sizeof(float));
}

static void layernorm_forward(const mm_layer_io *io)
{
	int rows = io->B * io->in[0].T;
	mm_layernorm_forward(io->x[0], rows, io->in[0].D, io->p[0].w, io->p[1].w, io->y,
			io->scratch, io->scratch + rows);
}

static void layernorm_backward(const mm_layer_io *io)
{
	int rows = io->B * io->in[0].T;
	mm_layernorm_backward(io->x[0], io->dy, rows, io->in[0].D, io->p[0].w,
			io->scratch, io->scratch + rows, mm_param_grad(&io->p[0]),
			mm_param_grad(&io->p[1]), io->dx[0]);
}

const mm_layer mm_layer_layernorm = {
	.kind = MM_NODE_LAYERNORM, .name = "layernorm", .min_in = 1, .max_in = 1,
	.shape = layernorm_shape, .params = layernorm_params, .scratch = layernorm_scratch,
	.init = layernorm_init, .forward = layernorm_forward, .backward = layernorm_backward,
};
