/* linear.c — the linear and bilinear layers and their kernels.  See layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "layer.h"

void mm_linear_forward(const float *X, int B, int din, const float *W,
		const float *b, int dout, float *Y)
{
	if (B <= 0 || dout <= 0)
		return;
	if (b) {
		for (int r = 0; r < B; r++)
			memcpy(Y + (size_t)r * dout, b, (size_t)dout * sizeof *Y);
	}
	if (din <= 0) {
		if (!b)
			memset(Y, 0, (size_t)B * dout * sizeof *Y);
		return;
	}
	mm_sgemm(false, true, B, dout, din, 1.0f,
			X, din, W, din, b ? 1.0f : 0.0f, Y, dout);
}

/* db += Σ_r dY[r] for the columns [lo, hi), the rows in order: cut by
 * columns, so the bits do not depend on the thread count. */
typedef struct bias_job {
	const float *dY;
	float *db;
	int B, dout;
} bias_job;

enum { BIAS_COLS = 64 };

/* The columns' sums are kept in a local block (same order of additions as
 * adding into db row by row, so the same bits), which lets the loop
 * vectorise. */
static void bias_grad_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const bias_job *j = ctx;
	float acc[BIAS_COLS];
	size_t m = hi - lo;
	memcpy(acc, j->db + lo, m * sizeof *acc);
	for (int r = 0; r < j->B; r++) {
		const float *row = j->dY + (size_t)r * j->dout + lo;
		if (m == BIAS_COLS)
			for (size_t k = 0; k < BIAS_COLS; k++)
				acc[k] += row[k];
		else
			for (size_t k = 0; k < m; k++)
				acc[k] += row[k];
	}
	memcpy(j->db + lo, acc, m * sizeof *acc);
}

/* The backward, storing instead of adding where set_p (dW, db) or set_x (dX)
 * say the buffer holds nothing yet (beta 0: no pass to clear it first). */
static void linear_bwd(const float *X, const float *dY, int B, int din, int dout,
		const float *W, float *dW, float *db, float *dX, bool set_p, bool set_x)
{
	if (B <= 0 || dout <= 0 || din <= 0)
		return;
	if (dW)
		mm_sgemm(true, false, dout, din, B, 1.0f,
				dY, dout, X, din, set_p ? 0.0f : 1.0f, dW, din);
	if (db) {
		if (set_p)
			memset(db, 0, (size_t)dout * sizeof *db);
		bias_job j = { dY, db, B, dout };
		mm_parallel_ranges((size_t)dout, BIAS_COLS, (double)B * dout, 0, bias_grad_range, &j);
	}
	if (dX)
		mm_sgemm(false, false, B, din, dout, 1.0f,
				dY, dout, W, din, set_x ? 0.0f : 1.0f, dX, din);
}

void mm_linear_backward(const float *X, const float *dY, int B, int din, int dout,
		const float *W, float *dW, float *db, float *dX)
{
	linear_bwd(X, dY, B, din, dout, W, dW, db, dX, false, false);
}

void mm_bilinear_forward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *bias, float *T, float *Y)
{
	int oq = o * q;
	mm_sgemm(false, false, B, oq, p, 1.0f,
			A, p, W, oq, 0.0f, T, oq);
	for (int r = 0; r < B; r++) {
		const float *t = T + (size_t)r * oq, *bm = Bm + (size_t)r * q;
		float *y = Y + (size_t)r * o;
		for (int k = 0; k < o; k++) {
			float s = bias ? bias[k] : 0.0f;
			const float *tk = t + (size_t)k * q;
			for (int j = 0; j < q; j++)
				s += tk[j] * bm[j];
			y[k] = s;
		}
	}
}

void mm_bilinear_backward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *T, const float *dY, float *dT,
		float *dW, float *dbias, float *dA, float *dBm)
{
	int oq = o * q;
	for (int r = 0; r < B; r++) {
		const float *t = T + (size_t)r * oq, *bm = Bm + (size_t)r * q;
		const float *dy = dY + (size_t)r * o;
		float *dt = dT + (size_t)r * oq;
		float *dbm = dBm ? dBm + (size_t)r * q : NULL;
		for (int k = 0; k < o; k++) {
			float g = dy[k];
			const float *tk = t + (size_t)k * q;
			float *dtk = dt + (size_t)k * q;
			for (int j = 0; j < q; j++)
				dtk[j] = g * bm[j];
			if (dbm)
				for (int j = 0; j < q; j++)
					dbm[j] += g * tk[j];
			if (dbias)
				dbias[k] += g;
		}
	}
	if (dW)
		mm_sgemm(true, false, p, oq, B, 1.0f,
				A, p, dT, oq, 1.0f, dW, oq);
	if (dA)
		mm_sgemm(false, true, B, p, oq, 1.0f,
				dT, oq, W, oq, 1.0f, dA, p);
}

/* ---- the layers ---------------------------------------------------------- */

static const mm_conf_field size_field[] = {
	{ "size", MM_CONF_INT, offsetof(mm_linear_conf, size), 1, 1 << 24 },
};

static int size_of(const mm_layer_io *io)
{
	return ((const mm_linear_conf *)io->conf)->size;
}

static const char *linear_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = (mm_shape){ io->in[0].T, size_of(io) };
	return NULL;
}

static int linear_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "W", size_of(io), io->in[0].D, true };
	d[1] = (mm_param_decl){ "b", size_of(io), 1, false };
	return 2;
}

/* PyTorch's default for nn.Linear and nn.Bilinear: W and b uniform in
 * ±1/√fan_in, fan_in the width of the first input. */
static void fan_in_init(const mm_layer_io *io, mm_rng *rng)
{
	double bound = 1.0 / sqrt((double)io->in[0].D);
	mm_layer_init_uniform(&io->p[0], bound, rng);
	mm_layer_init_uniform(&io->p[1], bound, rng);
}

static void linear_forward(const mm_layer_io *io)
{
	mm_linear_forward(io->x[0], io->B * io->in[0].T, io->in[0].D, io->p[0].w, io->p[1].w,
			io->out.D, io->y);
}

static void linear_backward(const mm_layer_io *io)
{
	linear_bwd(io->x[0], io->dy, io->B * io->in[0].T, io->in[0].D, io->out.D, io->p[0].w,
			mm_param_grad(&io->p[0]), mm_param_grad(&io->p[1]), io->dx[0], io->p_fresh,
			io->dx_fresh[0]);
}

static double linear_flops(const mm_layer_io *io)
{
	return 2.0 * io->in[0].T * io->out.D * io->in[0].D;
}

const mm_layer mm_layer_linear = {
	.kind = MM_NODE_LINEAR, .name = "linear", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_linear_conf), .conf_fields = size_field, .conf_nfields = 1,
	.shape = linear_shape, .params = linear_params, .init = fan_in_init,
	.forward = linear_forward, .backward = linear_backward, .stores = true,
	.flops = linear_flops,
};

/* in0 [T, p], in1 [T, q] → [T, o]; W [p, o*q]. */
static const char *bilinear_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[1].T != io->in[0].T)
		return "inputs have different numbers of positions";
	*out = (mm_shape){ io->in[0].T, size_of(io) };
	return NULL;
}

static int bilinear_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "W", io->in[0].D, (int64_t)size_of(io) * io->in[1].D, true };
	d[1] = (mm_param_decl){ "b", size_of(io), 1, false };
	return 2;
}

/* T = A·W, and its gradient, both kept in the scratch. */
static size_t bilinear_scratch(const mm_layer_io *io)
{
	return 2 * (size_t)io->B * io->in[0].T * io->out.D * io->in[1].D;
}

static void bilinear_forward(const mm_layer_io *io)
{
	mm_bilinear_forward(io->x[0], io->x[1], io->B * io->in[0].T, io->in[0].D, io->in[1].D,
			io->out.D, io->p[0].w, io->p[1].w, io->scratch, io->y);
}

static void bilinear_backward(const mm_layer_io *io)
{
	size_t half = bilinear_scratch(io) / 2;
	mm_bilinear_backward(io->x[0], io->x[1], io->B * io->in[0].T, io->in[0].D, io->in[1].D,
			io->out.D, io->p[0].w, io->scratch, io->dy, io->scratch + half,
			mm_param_grad(&io->p[0]), mm_param_grad(&io->p[1]), io->dx[0], io->dx[1]);
}

static double bilinear_flops(const mm_layer_io *io)
{
	double oq = (double)io->out.D * io->in[1].D;
	return io->in[0].T * (2.0 * io->in[0].D * oq + 2.0 * oq);
}

const mm_layer mm_layer_bilinear = {
	.kind = MM_NODE_BILINEAR, .name = "bilinear", .min_in = 2, .max_in = 2,
	.conf_size = sizeof(mm_linear_conf), .conf_fields = size_field, .conf_nfields = 1,
	.shape = bilinear_shape, .params = bilinear_params, .scratch = bilinear_scratch,
	.init = fan_in_init, .forward = bilinear_forward, .backward = bilinear_backward,
	.flops = bilinear_flops,
};
