/* nn/attention.c — scaled dot-product attention with a padding mask,
 * multi-head self-attention and cross-attention, kernels and layers.  See
 * nn/seq.h and layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include "nn/seq.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "layer.h"

/* Each (example, head) pair is a few small products over only the valid rows
 * and columns, so padding costs nothing here; P keeps its full [Tq, Tk] rows
 * as leading dimension so that the backward finds the same block.  The pairs
 * are independent (each writes its own block of P and its own head's columns
 * of the example's rows of O, dQ, dK, dV), so they run on the library's
 * threads (mm_parallel_ranges, one pair per range); the backward's dP is one
 * slot per thread. */
typedef struct attn_job {
	const float *Q, *K, *V, *P, *dO;
	float *Pw, *O, *dP, *dQ, *dK, *dV;
	int ldq, ldk, ldv, ldo, B, Tq, Tk, H, dh, nslots;
	const int *lenq, *lenk;
	float scale;
} attn_job;

static void attn_fwd_pair(attn_job *j, int b, int h)
{
	int Tq = j->Tq, Tk = j->Tk, dh = j->dh;
	int Lq = j->lenq ? j->lenq[b] : Tq, Lk = j->lenk ? j->lenk[b] : Tk;
	assert(Lq >= 1 && Lq <= Tq && Lk >= 1 && Lk <= Tk);
	const float *q = j->Q + (size_t)b * Tq * j->ldq + (size_t)h * dh;
	const float *k = j->K + (size_t)b * Tk * j->ldk + (size_t)h * dh;
	const float *v = j->V + (size_t)b * Tk * j->ldv + (size_t)h * dh;
	float *p = j->Pw + ((size_t)b * j->H + h) * Tq * Tk;
	float *o = j->O + (size_t)b * Tq * j->ldo + (size_t)h * dh;
	mm_sgemm(false, true, Lq, Lk, dh, j->scale, q, j->ldq, k, j->ldk, 0.0f, p, Tk);
	for (int i = 0; i < Lq; i++)
		mm_softmax(p + (size_t)i * Tk, 1, Lk, p + (size_t)i * Tk);
	mm_sgemm(false, false, Lq, dh, Lk, 1.0f, p, Tk, v, j->ldv, 0.0f, o, j->ldo);
	for (int i = Lq; i < Tq; i++)
		memset(o + (size_t)i * j->ldo, 0, (size_t)dh * sizeof *o);
}

static void attn_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	attn_job *j = ctx;
	for (size_t r = lo; r < hi; r++)
		attn_fwd_pair(j, (int)(r / (size_t)j->H), (int)(r % (size_t)j->H));
}

/* The product of a pair's work, for the threshold of mm_parallel_ranges. */
static double attn_work(int B, int H, int Tq, int Tk, int dh)
{
	return 2.0 * B * H * (double)Tq * Tk * dh;
}

int mm_attn_slots(int B, int H)
{
	long n = (long)B * H;
	return n < MM_ATTN_MAX_SLOTS ? (int)(n > 0 ? n : 1) : MM_ATTN_MAX_SLOTS;
}

void mm_attn_forward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, float *P, float *O, int ldo)
{
	attn_job j = { .Q = Q, .K = K, .V = V, .Pw = P, .O = O, .ldq = ldq, .ldk = ldk,
		.ldv = ldv, .ldo = ldo, .B = B, .Tq = Tq, .Tk = Tk, .H = H, .dh = dh,
		.lenq = lenq, .lenk = lenk, .scale = 1.0f / sqrtf((float)dh) };
	mm_parallel_ranges((size_t)B * H, 1, attn_work(B, H, Tq, Tk, dh), 0, attn_fwd_range, &j);
}

/* With dP = dO V^T, the softmax backward is dS = P ⊙ (dP - rowsum(dP ⊙ P)),
 * then S = scale Q K^T gives dQ = scale dS K and dK = scale dS^T Q. */
static void attn_bwd_pair(attn_job *j, int b, int h, float *dP)
{
	int Tq = j->Tq, Tk = j->Tk, dh = j->dh;
	int Lq = j->lenq ? j->lenq[b] : Tq, Lk = j->lenk ? j->lenk[b] : Tk;
	size_t oq = (size_t)b * Tq * j->ldq + (size_t)h * dh;
	size_t ok = (size_t)b * Tk * j->ldk + (size_t)h * dh;
	size_t ov = (size_t)b * Tk * j->ldv + (size_t)h * dh;
	const float *p = j->P + ((size_t)b * j->H + h) * Tq * Tk;
	const float *dout = j->dO + (size_t)b * Tq * j->ldo + (size_t)h * dh;
	mm_sgemm(false, true, Lq, Lk, dh, 1.0f, dout, j->ldo, j->V + ov, j->ldv, 0.0f, dP, Lk);
	mm_sgemm(true, false, Lk, dh, Lq, 1.0f, p, Tk, dout, j->ldo, 1.0f, j->dV + ov, j->ldv);
	for (int i = 0; i < Lq; i++) {
		const float *pi = p + (size_t)i * Tk;
		float *di = dP + (size_t)i * Lk;
		float s = 0;
		for (int c = 0; c < Lk; c++)
			s += di[c] * pi[c];
		for (int c = 0; c < Lk; c++)
			di[c] = pi[c] * (di[c] - s) * j->scale;
	}
	mm_sgemm(false, false, Lq, dh, Lk, 1.0f, dP, Lk, j->K + ok, j->ldk, 1.0f,
			j->dQ + oq, j->ldq);
	mm_sgemm(true, false, Lk, dh, Lq, 1.0f, dP, Lk, j->Q + oq, j->ldq, 1.0f,
			j->dK + ok, j->ldk);
}

/* Each thread has its own slot of dP (worker < nslots): dP's contents never
 * outlive a pair, so which slot a pair gets changes no bit. */
static void attn_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	attn_job *j = ctx;
	assert(worker < j->nslots);
	float *dP = j->dP + (size_t)worker * j->Tq * j->Tk;
	for (size_t r = lo; r < hi; r++)
		attn_bwd_pair(j, (int)(r / (size_t)j->H), (int)(r % (size_t)j->H), dP);
}

void mm_attn_backward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, const float *P, const float *dO, int ldo,
		float *dP, float *dQ, float *dK, float *dV)
{
	attn_job j = { .Q = Q, .K = K, .V = V, .P = P, .dO = dO, .dP = dP, .dQ = dQ,
		.dK = dK, .dV = dV, .ldq = ldq, .ldk = ldk, .ldv = ldv, .ldo = ldo, .B = B,
		.Tq = Tq, .Tk = Tk, .H = H, .dh = dh, .nslots = mm_attn_slots(B, H),
		.lenq = lenq, .lenk = lenk, .scale = 1.0f / sqrtf((float)dh) };
	mm_parallel_ranges((size_t)B * H, 1, 2 * attn_work(B, H, Tq, Tk, dh), j.nslots,
			attn_bwd_range, &j);
}

void mm_mha_forward(const float *X, int B, int T, int D, const int *len, int H,
		const mm_mha_w *w, float *QKV, float *P, float *Ctx, float *Y)
{
	assert(H > 0 && D % H == 0);
	int BT = B * T;
	mm_linear_forward(X, BT, D, w->Wqkv, w->bqkv, 3 * D, QKV);
	mm_attn_forward(QKV, 3 * D, QKV + D, 3 * D, QKV + 2 * D, 3 * D, B, T, T, len, len,
			H, D / H, P, Ctx, D);
	mm_linear_forward(Ctx, BT, D, w->Wo, w->bo, D, Y);
}

void mm_mha_backward(const float *X, int B, int T, int D, const int *len, int H,
		const mm_mha_w *w, const float *QKV, const float *P, const float *Ctx,
		const float *dY, float *dQKV, float *dCtx, float *dP, const mm_mha_w *g,
		float *dX)
{
	size_t BT = (size_t)B * T;
	memset(dCtx, 0, BT * D * sizeof *dCtx);
	mm_linear_backward(Ctx, dY, (int)BT, D, D, w->Wo, g->Wo, g->bo, dCtx);
	memset(dQKV, 0, BT * 3 * D * sizeof *dQKV);
	mm_attn_backward(QKV, 3 * D, QKV + D, 3 * D, QKV + 2 * D, 3 * D, B, T, T, len, len,
			H, D / H, P, dCtx, D, dP, dQKV, dQKV + D, dQKV + 2 * D);
	mm_linear_backward(X, dQKV, (int)BT, D, 3 * D, w->Wqkv, g->Wqkv, g->bqkv, dX);
}

void mm_xattn_forward(const float *Xq, int Tq, int Dq, const int *lenq,
		const float *Xkv, int Tk, int Dkv, const int *lenk, int B, int D, int H,
		const mm_xattn_w *w, float *Qp, float *KV, float *P, float *Ctx, float *Y)
{
	assert(H > 0 && D % H == 0);
	mm_linear_forward(Xq, B * Tq, Dq, w->Wq, w->bq, D, Qp);
	mm_linear_forward(Xkv, B * Tk, Dkv, w->Wkv, w->bkv, 2 * D, KV);
	mm_attn_forward(Qp, D, KV, 2 * D, KV + D, 2 * D, B, Tq, Tk, lenq, lenk, H, D / H,
			P, Ctx, D);
	mm_linear_forward(Ctx, B * Tq, D, w->Wo, w->bo, D, Y);
}

void mm_xattn_backward(const float *Xq, int Tq, int Dq, const int *lenq,
		const float *Xkv, int Tk, int Dkv, const int *lenk, int B, int D, int H,
		const mm_xattn_w *w, const float *Qp, const float *KV, const float *P,
		const float *Ctx, const float *dY, float *dQp, float *dKV, float *dCtx,
		float *dP, const mm_xattn_w *g, float *dXq, float *dXkv)
{
	size_t BTq = (size_t)B * Tq, BTk = (size_t)B * Tk;
	memset(dCtx, 0, BTq * D * sizeof *dCtx);
	mm_linear_backward(Ctx, dY, (int)BTq, D, D, w->Wo, g->Wo, g->bo, dCtx);
	memset(dQp, 0, BTq * D * sizeof *dQp);
	memset(dKV, 0, BTk * 2 * D * sizeof *dKV);
	mm_attn_backward(Qp, D, KV, 2 * D, KV + D, 2 * D, B, Tq, Tk, lenq, lenk, H, D / H,
			P, dCtx, D, dP, dQp, dKV, dKV + D);
	mm_linear_backward(Xq, dQp, (int)BTq, Dq, D, w->Wq, g->Wq, g->bq, dXq);
	mm_linear_backward(Xkv, dKV, (int)BTk, Dkv, 2 * D, w->Wkv, g->Wkv, g->bkv, dXkv);
}

/* ---- the layers ------------------------------------------------------------ */

static const mm_conf_field attn_fields[] = {
	{ "heads", MM_CONF_INT, offsetof(mm_attn_conf, heads), 1, 4096 },
	{ "ffn", MM_CONF_INT, offsetof(mm_attn_conf, ffn), 0, 1 << 20 },
};

static int heads_of(const mm_layer_io *io)
{
	return ((const mm_attn_conf *)io->conf)->heads;
}

static const char *selfattn_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[0].D % heads_of(io))
		return "the width is not a multiple of the number of heads";
	*out = io->in[0];
	return NULL;
}

/* n (weight, bias) pairs uniform in ±1/√fan_in, as every linear map here. */
static void init_pairs(const mm_layer_io *io, int n, mm_rng *rng)
{
	for (int k = 0; k < 2 * n; k += 2) {
		double bound = 1.0 / sqrt((double)io->p[k].shape[1]);
		mm_layer_init_uniform(&io->p[k], bound, rng);
		mm_layer_init_uniform(&io->p[k + 1], bound, rng);
	}
}

static void selfattn_init(const mm_layer_io *io, mm_rng *rng) { init_pairs(io, 2, rng); }
static void xattn_init(const mm_layer_io *io, mm_rng *rng) { init_pairs(io, 3, rng); }

static int selfattn_params(const mm_layer_io *io, mm_param_decl *d)
{
	int D = io->in[0].D;
	d[0] = (mm_param_decl){ "Wqkv", 3 * D, D, true };
	d[1] = (mm_param_decl){ "bqkv", 3 * D, 1, false };
	d[2] = (mm_param_decl){ "Wo", D, D, true };
	d[3] = (mm_param_decl){ "bo", D, 1, false };
	return 4;
}

/* Saved: QKV, P, Ctx; backward: dQKV, dCtx, dP. */
static size_t selfattn_scratch(const mm_layer_io *io)
{
	size_t BT = (size_t)io->B * io->in[0].T, D = io->in[0].D, T = io->in[0].T;
	return 2 * BT * 3 * D + BT * heads_of(io) * T + 2 * BT * D
		+ (size_t)mm_attn_slots(io->B, heads_of(io)) * T * T;
}

static mm_mha_w mha_of(const mm_param *p, bool grad)
{
	return (mm_mha_w){ grad ? mm_param_grad(&p[0]) : p[0].w, grad ? mm_param_grad(&p[1]) : p[1].w,
		grad ? mm_param_grad(&p[2]) : p[2].w, grad ? mm_param_grad(&p[3]) : p[3].w };
}

static void selfattn_fwd(const mm_layer_io *io)
{
	int B = io->B, T = io->in[0].T, D = io->in[0].D, H = heads_of(io);
	size_t BT = (size_t)B * T;
	float *QKV = io->scratch, *P = QKV + BT * 3 * D, *Ctx = P + BT * H * T;
	mm_mha_w w = mha_of(io->p, false);
	mm_mha_forward(io->x[0], B, T, D, io->len[0], H, &w, QKV, P, Ctx, io->y);
}

static void selfattn_bwd(const mm_layer_io *io)
{
	int B = io->B, T = io->in[0].T, D = io->in[0].D, H = heads_of(io);
	size_t BT = (size_t)B * T;
	float *QKV = io->scratch, *P = QKV + BT * 3 * D, *Ctx = P + BT * H * T;
	float *dQKV = Ctx + BT * D, *dCtx = dQKV + BT * 3 * D, *dP = dCtx + BT * D;
	mm_mha_w w = mha_of(io->p, false), g = mha_of(io->p, true);
	mm_mha_backward(io->x[0], B, T, D, io->len[0], H, &w, QKV, P, Ctx, io->dy, dQKV, dCtx,
			dP, &g, io->dx[0]);
}

static double selfattn_flops(const mm_layer_io *io)
{
	double T = io->in[0].T, D = io->in[0].D;
	return 2 * T * D * 4 * D + 4 * T * T * D;
}

const mm_layer mm_layer_selfattn = {
	.kind = MM_NODE_SELFATTN, .name = "selfattn", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_attn_conf), .conf_fields = attn_fields, .conf_nfields = 2,
	.shape = selfattn_shape, .params = selfattn_params, .scratch = selfattn_scratch,
	.init = selfattn_init, .forward = selfattn_fwd, .backward = selfattn_bwd,
	.flops = selfattn_flops,
};

/* Cross-attention: the output has the queries' shape [Tq, D]. */
static int xattn_params(const mm_layer_io *io, mm_param_decl *d)
{
	int D = io->in[0].D, Dkv = io->in[1].D;
	d[0] = (mm_param_decl){ "Wq", D, D, true };
	d[1] = (mm_param_decl){ "bq", D, 1, false };
	d[2] = (mm_param_decl){ "Wkv", 2 * D, Dkv, true };
	d[3] = (mm_param_decl){ "bkv", 2 * D, 1, false };
	d[4] = (mm_param_decl){ "Wo", D, D, true };
	d[5] = (mm_param_decl){ "bo", D, 1, false };
	return 6;
}

/* Saved: Qp, KV, P, Ctx; backward: dQp, dKV, dCtx, dP. */
static size_t xattn_scratch(const mm_layer_io *io)
{
	size_t Tq = io->in[0].T, Tk = io->in[1].T, D = io->in[0].D, B = io->B;
	return 2 * (B * Tq * D + B * Tk * 2 * D + B * Tq * D) + B * heads_of(io) * Tq * Tk
		+ (size_t)mm_attn_slots(io->B, heads_of(io)) * Tq * Tk;
}

static mm_xattn_w xattn_of(const mm_param *p, bool grad)
{
	float *v[6];
	for (int k = 0; k < 6; k++)
		v[k] = grad ? mm_param_grad(&p[k]) : p[k].w;
	return (mm_xattn_w){ v[0], v[1], v[2], v[3], v[4], v[5] };
}

typedef struct { float *Qp, *KV, *P, *Ctx, *dQp, *dKV, *dCtx, *dP; } xattn_bufs;

static xattn_bufs xattn_carve(const mm_layer_io *io)
{
	size_t Tq = io->in[0].T, Tk = io->in[1].T, D = io->in[0].D, B = io->B;
	xattn_bufs b;
	b.Qp = io->scratch;
	b.KV = b.Qp + B * Tq * D;
	b.P = b.KV + B * Tk * 2 * D;
	b.Ctx = b.P + B * heads_of(io) * Tq * Tk;
	b.dQp = b.Ctx + B * Tq * D;
	b.dKV = b.dQp + B * Tq * D;
	b.dCtx = b.dKV + B * Tk * 2 * D;
	b.dP = b.dCtx + B * Tq * D;
	return b;
}

static void xattn_fwd(const mm_layer_io *io)
{
	xattn_bufs b = xattn_carve(io);
	mm_xattn_w w = xattn_of(io->p, false);
	mm_xattn_forward(io->x[0], io->in[0].T, io->in[0].D, io->len[0], io->x[1], io->in[1].T,
			io->in[1].D, io->len[1], io->B, io->in[0].D, heads_of(io), &w, b.Qp, b.KV,
			b.P, b.Ctx, io->y);
}

static void xattn_bwd(const mm_layer_io *io)
{
	xattn_bufs b = xattn_carve(io);
	mm_xattn_w w = xattn_of(io->p, false), g = xattn_of(io->p, true);
	mm_xattn_backward(io->x[0], io->in[0].T, io->in[0].D, io->len[0], io->x[1], io->in[1].T,
			io->in[1].D, io->len[1], io->B, io->in[0].D, heads_of(io), &w, b.Qp, b.KV,
			b.P, b.Ctx, io->dy, b.dQp, b.dKV, b.dCtx, b.dP, &g, io->dx[0], io->dx[1]);
}

static double xattn_flops(const mm_layer_io *io)
{
	double Tq = io->in[0].T, Tk = io->in[1].T, D = io->in[0].D, Dkv = io->in[1].D;
	return 2 * Tq * D * 2 * D + 2 * Tk * Dkv * 2 * D + 4 * Tq * Tk * D;
}

const mm_layer mm_layer_xattn = {
	.kind = MM_NODE_XATTN, .name = "xattn", .min_in = 2, .max_in = 2,
	.conf_size = sizeof(mm_attn_conf), .conf_fields = attn_fields, .conf_nfields = 2,
	.shape = selfattn_shape, .params = xattn_params, .scratch = xattn_scratch,
	.init = xattn_init, .forward = xattn_fwd, .backward = xattn_bwd,
	.flops = xattn_flops,
};
