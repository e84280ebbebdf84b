/* norm.c — layer normalisation and its kernels.  See layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "layer.h"

#define LN_EPS 1e-5f

/* Rows are independent: ranges of rows run on the library's threads (gemm.h,
 * mm_parallel_ranges), about MM_PARALLEL_GRAIN values per range.  The
 * backward's dgamma and dbeta sum over rows: they are a second pass cut by
 * columns, each column summed over the rows in order, so the bits do not
 * depend on the thread count (and equal a serial pass). */
typedef struct ln_job {
	const float *X, *dY, *gamma, *beta, *mean, *rstd;
	float *Y, *mu, *rs, *dgamma, *dbeta, *dX;
	int B, d;
} ln_job;

static size_t row_grain(int d)
{
	size_t g = MM_PARALLEL_GRAIN / (size_t)(d > 0 ? d : 1);
	return g ? g : 1;
}

static void ln_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ln_job *j = ctx;
	int d = j->d;
	for (size_t r = lo; r < hi; r++) {
		const float *x = j->X + r * d;
		float *y = j->Y + r * d;
		double s = 0, ss = 0;
		for (int k = 0; k < d; k++)
			s += x[k];
		double mu = s / d;
		for (int k = 0; k < d; k++)
			ss += (x[k] - mu) * (x[k] - mu);
		float rs = (float)(1.0 / sqrt(ss / d + LN_EPS));
		j->mu[r] = (float)mu;
		j->rs[r] = rs;
		for (int k = 0; k < d; k++)
			y[k] = (x[k] - (float)mu) * rs * j->gamma[k] + j->beta[k];
	}
}

void mm_layernorm_forward(const float *X, int B, int d, const float *gamma,
		const float *beta, float *Y, float *mean, float *rstd)
{
	ln_job j = { .X = X, .gamma = gamma, .beta = beta, .Y = Y, .mu = mean, .rs = rstd,
		.B = B, .d = d };
	mm_parallel_ranges((size_t)(B > 0 ? B : 0), row_grain(d), 8.0 * B * d, 0, ln_fwd_range, &j);
}

static void ln_bwd_rows(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ln_job *j = ctx;
	int d = j->d;
	for (size_t r = lo; r < hi; r++) {
		const float *x = j->X + r * d, *dy = j->dY + r * d;
		float *dx = j->dX + r * d;
		float mu = j->mean[r], rs = j->rstd[r];
		double a = 0, b = 0; /* mean(dxhat), mean(dxhat * xhat) */
		for (int k = 0; k < d; k++) {
			float xh = (x[k] - mu) * rs;
			float dxh = dy[k] * j->gamma[k];
			a += dxh;
			b += dxh * xh;
		}
		float ma = (float)(a / d), mb = (float)(b / d);
		for (int k = 0; k < d; k++) {
			float xh = (x[k] - mu) * rs;
			dx[k] += rs * (dy[k] * j->gamma[k] - ma - xh * mb);
		}
	}
}

/* Columns [lo, hi) of dgamma and dbeta, over all rows in order. */
static void ln_bwd_cols(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ln_job *j = ctx;
	int d = j->d;
	for (int r = 0; r < j->B; r++) {
		const float *x = j->X + (size_t)r * d, *dy = j->dY + (size_t)r * d;
		float mu = j->mean[r], rs = j->rstd[r];
		if (j->dgamma)
			for (size_t k = lo; k < hi; k++)
				j->dgamma[k] += dy[k] * ((x[k] - mu) * rs);
		if (j->dbeta)
			for (size_t k = lo; k < hi; k++)
				j->dbeta[k] += dy[k];
	}
}

void mm_layernorm_backward(const float *X, const float *dY, int B, int d,
		const float *gamma, const float *mean, const float *rstd,
		float *dgamma, float *dbeta, float *dX)
{
	if (B <= 0 || d <= 0)
		return;
	ln_job j = { .X = X, .dY = dY, .gamma = gamma, .mean = mean, .rstd = rstd,
		.dgamma = dgamma, .dbeta = dbeta, .dX = dX, .B = B, .d = d };
	double work = 8.0 * B * d;
	if (dgamma || dbeta) {
		/* columns in runs of 64 (a cache line of 16 floats, four times) */
		size_t grain = 64;
		mm_parallel_ranges((size_t)d, grain, work, 0, ln_bwd_cols, &j);
	}
	if (dX)
		mm_parallel_ranges((size_t)B, row_grain(d), work, 0, ln_bwd_rows, &j);
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
