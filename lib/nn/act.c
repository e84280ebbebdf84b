/* act.c — element-wise layers: ReLU, GELU, dropout, and their kernels.  See layer.h. */
/* The element-wise loops must vectorise and stay branch-free whatever
 * CFLAGS say: they run over every activation at every step.  No trapping
 * math lets the clamps of exp_vec become selects (no flag is ever read). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno", "no-trapping-math")
#endif
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "layer.h"

/* The element-wise kernels run over fixed ranges on the library's threads
 * (gemm.h, mm_parallel_ranges): one job describes the call, a range function
 * does [lo, hi) of it. */
typedef struct ew_job {
	const float *x, *dy;
	float *y;
	bool set; /* store into y instead of adding */
} ew_job;

/* Cost of one element, in element operations, for the threshold. */
enum { COST_CHEAP = 1, COST_EXP = 16 };

static void run_ew(size_t n, int cost, mm_range_fn fn, ew_job *j)
{
	mm_parallel_ranges(n, MM_PARALLEL_GRAIN, (double)n * cost, 0, fn, j);
}

static void relu_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ew_job *j = ctx;
	const float *x = j->x;
	float *y = j->y;
	for (size_t i = lo; i < hi; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mm_relu_forward(const float *x, float *y, size_t n)
{
	ew_job j = { .x = x, .y = y };
	run_ew(n, COST_CHEAP, relu_fwd_range, &j);
}

/* set: store into dx (it holds nothing yet) instead of adding. */
static void relu_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ew_job *j = ctx;
	const float *x = j->x, *dy = j->dy;
	float *dx = j->y;
	if (j->set)
		for (size_t i = lo; i < hi; i++) {
			float g = dy[i]; /* loaded unconditionally: the select vectorises */
			dx[i] = x[i] > 0.0f ? g : 0.0f;
		}
	else
		for (size_t i = lo; i < hi; i++) {
			float g = dy[i];
			dx[i] += x[i] > 0.0f ? g : 0.0f;
		}
}

static void relu_bwd(const float *x, const float *dy, float *dx, size_t n, bool set)
{
	ew_job j = { .x = x, .dy = dy, .y = dx, .set = set };
	run_ew(n, COST_CHEAP, relu_bwd_range, &j);
}

void mm_relu_backward(const float *x, const float *dy, float *dx, size_t n)
{
	relu_bwd(x, dy, dx, n, false);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

/* GELU(v) = 0.5 v (1 + tanh u) = v σ(2u), u = K (v + C v³), σ the
 * logistic function: with z = e^{-2u}, σ = 1 / (1 + z) and 1 - σ = z σ, which
 * keeps full precision in both tails (1 ± tanh u cancels there).
 *
 * e^x = 2^k e^r with x = k ln2 + r, |r| <= ln2/2: 2^k is built in the
 * exponent bits, e^r is its Taylor series to r^7 (relative error < 1e-8 on
 * that range), k rounds by the 1.5·2^23 trick.  It is branch-free, so the
 * GELU loops vectorise: libm's tanhf is a scalar call, and was a third of
 * the time of a transformer training step. */
static inline float exp_vec(float x)
{
	x = x < -80.0f ? -80.0f : x; /* 2^k stays a normal float */
	x = x > 80.0f ? 80.0f : x;
	const float round = 12582912.0f;                 /* 1.5 * 2^23 */
	float kf = (x * 1.44269504f + round) - round;    /* nearest integer to x / ln2 */
	float r = (x - kf * 0.693359375f) - kf * -2.12194440e-4f; /* ln2 in two parts */
	float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
		r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
	uint32_t bits = (uint32_t)((int32_t)kf + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return p * scale;
}

static void gelu_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ew_job *j = ctx;
	const float *x = j->x;
	float *y = j->y;
	for (size_t i = lo; i < hi; i++) {
		float v = x[i];
		float z = exp_vec(-2.0f * GELU_K * (v + GELU_C * v * v * v));
		y[i] = v / (1.0f + z);
	}
}

void mm_gelu_forward(const float *x, float *y, size_t n)
{
	ew_job j = { .x = x, .y = y };
	run_ew(n, COST_EXP, gelu_fwd_range, &j);
}

/* d GELU / dv = σ + v σ (1 - σ) 2K (1 + 3 C v²). */
static void gelu_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ew_job *j = ctx;
	const float *x = j->x, *dy = j->dy;
	float *dx = j->y;
	for (size_t i = lo; i < hi; i++) {
		float v = x[i];
		float z = exp_vec(-2.0f * GELU_K * (v + GELU_C * v * v * v));
		float s = 1.0f / (1.0f + z);
		float d = s + v * s * (z * s) * 2.0f * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
		dx[i] += dy[i] * d;
	}
}

void mm_gelu_backward(const float *x, const float *dy, float *dx, size_t n)
{
	ew_job j = { .x = x, .dy = dy, .y = dx };
	run_ew(n, COST_EXP, gelu_bwd_range, &j);
}

/* The mask is drawn on the calling thread (one random stream), the rest is
 * element-wise. */
void mm_dropout_forward(mm_rng *rng, float p, const float *x, float *y, float *mask, size_t n)
{
	if (p <= 0) {
		for (size_t i = 0; i < n; i++)
			mask[i] = 1.0f;
		memcpy(y, x, n * sizeof *y);
		return;
	}
	float keep = 1.0f / (1.0f - p);
	/* 16 random bits per element, four per draw: p is resolved to 1/65536.
	 * Draws go to a small buffer first so that the masking loop vectorises. */
	uint32_t thr = (uint32_t)((double)p * 65536.0 + 0.5);
	enum { CH = 1024 };
	uint16_t r16[CH];
	for (size_t i0 = 0; i0 < n; i0 += CH) {
		size_t m = n - i0 < CH ? n - i0 : CH;
		for (size_t k = 0; k < (m + 3) / 4; k++) {
			uint64_t r = mm_rng_u64(rng);
			memcpy(r16 + 4 * k, &r, sizeof r);
		}
		float *mk = mask + i0, *yy = y + i0;
		const float *xx = x + i0;
		for (size_t k = 0; k < m; k++) {
			mk[k] = r16[k] < thr ? 0.0f : keep;
			yy[k] = xx[k] * mk[k];
		}
	}
}

/* y (dx) += or = dy * mask (x). */
static void dropout_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const ew_job *j = ctx;
	const float *mask = j->x, *dy = j->dy;
	float *dx = j->y;
	if (j->set)
		for (size_t i = lo; i < hi; i++)
			dx[i] = dy[i] * mask[i];
	else
		for (size_t i = lo; i < hi; i++)
			dx[i] += dy[i] * mask[i];
}

static void dropout_bwd(const float *mask, const float *dy, float *dx, size_t n, bool set)
{
	ew_job j = { .x = mask, .dy = dy, .y = dx, .set = set };
	run_ew(n, COST_CHEAP, dropout_bwd_range, &j);
}

void mm_dropout_backward(const float *mask, const float *dy, float *dx, size_t n)
{
	dropout_bwd(mask, dy, dx, n, false);
}

/* ---- the layers ---------------------------------------------------------- */

static const char *same_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = io->in[0];
	return NULL;
}

static size_t numel(const mm_layer_io *io)
{
	return (size_t)io->B * io->out.T * io->out.D;
}

static void relu_forward(const mm_layer_io *io)
{
	mm_relu_forward(io->x[0], io->y, numel(io));
}

static void relu_backward(const mm_layer_io *io)
{
	if (io->dx[0])
		relu_bwd(io->x[0], io->dy, io->dx[0], numel(io), io->dx_fresh[0]);
}

const mm_layer mm_layer_relu = {
	.kind = MM_NODE_RELU, .name = "relu", .min_in = 1, .max_in = 1,
	.shape = same_shape, .forward = relu_forward, .backward = relu_backward, .stores = true,
};

static void gelu_forward(const mm_layer_io *io)
{
	mm_gelu_forward(io->x[0], io->y, numel(io));
}

static void gelu_backward(const mm_layer_io *io)
{
	if (io->dx[0])
		mm_gelu_backward(io->x[0], io->dy, io->dx[0], numel(io));
}

const mm_layer mm_layer_gelu = {
	.kind = MM_NODE_GELU, .name = "gelu", .min_in = 1, .max_in = 1,
	.shape = same_shape, .forward = gelu_forward, .backward = gelu_backward,
};

static const mm_conf_field dropout_fields[] = {
	{ "p", MM_CONF_FLOAT, offsetof(mm_dropout_conf, p), 0, 0.999999 },
};

/* The mask, kept for the backward. */
static size_t dropout_scratch(const mm_layer_io *io)
{
	return numel(io);
}

static void dropout_forward(const mm_layer_io *io)
{
	float p = ((const mm_dropout_conf *)io->conf)->p;
	if (io->train && p > 0)
		mm_dropout_forward(io->rng, p, io->x[0], io->y, io->scratch, numel(io));
	else
		mm_dropout_forward(NULL, 0, io->x[0], io->y, io->scratch, numel(io));
}

static void dropout_backward(const mm_layer_io *io)
{
	if (io->dx[0])
		dropout_bwd(io->scratch, io->dy, io->dx[0], numel(io), io->dx_fresh[0]);
}

const mm_layer mm_layer_dropout = {
	.kind = MM_NODE_DROPOUT, .name = "dropout", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_dropout_conf), .conf_fields = dropout_fields, .conf_nfields = 1,
	.shape = same_shape, .scratch = dropout_scratch,
	.forward = dropout_forward, .backward = dropout_backward, .stores = true,
};

/* An activity regulariser: y = x, and while training the auxiliary loss
 * weight/2 · (1/B) Σ_b ‖x_b‖² (as a Keras ActivityRegularization(l2)), whose
 * gradient weight · x / B the backward adds. */
static const mm_conf_field penalty_fields[] = {
	{ "weight", MM_CONF_FLOAT, offsetof(mm_penalty_conf, weight), 0, 1e6 },
};

static float penalty_weight(const mm_layer_io *io)
{
	return ((const mm_penalty_conf *)io->conf)->weight;
}

static void penalty_forward(const mm_layer_io *io)
{
	memcpy(io->y, io->x[0], numel(io) * sizeof(float));
}

static void penalty_backward(const mm_layer_io *io)
{
	if (!io->dx[0])
		return;
	float k = io->train ? penalty_weight(io) / (float)io->B : 0.0f;
	size_t n = numel(io);
	for (size_t i = 0; i < n; i++)
		io->dx[0][i] += io->dy[i] + k * io->x[0][i];
}

static double penalty_aux(const mm_layer_io *io)
{
	double s = 0;
	size_t n = numel(io);
	for (size_t i = 0; i < n; i++)
		s += (double)io->x[0][i] * io->x[0][i];
	return 0.5 * penalty_weight(io) * s / io->B;
}

const mm_layer mm_layer_penalty = {
	.kind = MM_NODE_PENALTY, .name = "penalty", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_penalty_conf), .conf_fields = penalty_fields, .conf_nfields = 1,
	.shape = same_shape, .forward = penalty_forward, .backward = penalty_backward,
	.aux_loss = penalty_aux,
};
