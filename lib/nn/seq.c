/* nn/seq.c — the small sequence kernels and their layers: residual add,
 * softmax-weighted mixture, learned embeddings, [CLS] row, pooling.  See
 * nn/seq.h and layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include "nn/seq.h"

#include <assert.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "layer.h"

static int valid_rows(const int *len, int b, int T)
{
	int L = len ? len[b] : T;
	assert(L >= 1 && L <= T);
	return L;
}

/* The element-wise and per-example loops run over fixed ranges on the
 * library's threads (gemm.h, mm_parallel_ranges). */
typedef struct add_job {
	const float *a, *b, *dy;
	float *y, *da, *db;
} add_job;

static void add_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const add_job *j = ctx;
	for (size_t i = lo; i < hi; i++)
		j->y[i] = j->a[i] + j->b[i];
}

void mm_add_forward(const float *a, const float *b, float *y, size_t n)
{
	add_job j = { .a = a, .b = b, .y = y };
	mm_parallel_ranges(n, MM_PARALLEL_GRAIN, (double)n, 0, add_fwd_range, &j);
}

static void add_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const add_job *j = ctx;
	if (j->da)
		for (size_t i = lo; i < hi; i++)
			j->da[i] += j->dy[i];
	if (j->db)
		for (size_t i = lo; i < hi; i++)
			j->db[i] += j->dy[i];
}

void mm_add_backward(const float *dy, float *da, float *db, size_t n)
{
	add_job j = { .dy = dy, .da = da, .db = db };
	mm_parallel_ranges(n, MM_PARALLEL_GRAIN, (double)n, 0, add_bwd_range, &j);
}

typedef struct mix_job {
	const float *const *X;
	float *const *dX;
	const float *Wt, *dy;
	float *y, *dA;
	int K, lda;
	size_t n;
} mix_job;

static void mix_fwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const mix_job *j = ctx;
	size_t n = j->n;
	for (size_t b = lo; b < hi; b++) {
		float *yb = j->y + b * n;
		const float *w = j->Wt + b * j->K;
		for (size_t i = 0; i < n; i++)
			yb[i] = w[0] * j->X[0][b * n + i];
		for (int k = 1; k < j->K; k++) {
			const float *xb = j->X[k] + b * n;
			for (size_t i = 0; i < n; i++)
				yb[i] += w[k] * xb[i];
		}
	}
}

static size_t example_grain(size_t n)
{
	size_t g = MM_PARALLEL_GRAIN / (n ? n : 1);
	return g ? g : 1;
}

void mm_mix_forward(const float *const *X, int K, int B, size_t n, const float *A,
		int lda, float *Wt, float *y)
{
	assert(K >= 1 && (lda == 0 || lda == K));
	mm_softmax(A, lda ? B : 1, K, Wt);
	if (!lda) /* shared logits: the one row of weights serves every example */
		for (int b = 1; b < B; b++)
			memcpy(Wt + (size_t)b * K, Wt, (size_t)K * sizeof *Wt);
	mix_job j = { .X = X, .Wt = Wt, .y = y, .K = K, .n = n };
	mm_parallel_ranges((size_t)B, example_grain(n), 2.0 * B * K * n, 0, mix_fwd_range, &j);
}

/* With s_k = <dy, X_k> per example, the softmax backward gives
 * dA_k = w_k (s_k - Σ_j w_j s_j). */
static void mix_bwd_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const mix_job *j = ctx;
	int K = j->K;
	size_t n = j->n;
	for (size_t b = lo; b < hi; b++) {
		const float *w = j->Wt + b * K, *g = j->dy + b * n;
		double sw = 0, s[K];
		for (int k = 0; k < K; k++) {
			const float *xb = j->X[k] + b * n;
			float *dxb = j->dX && j->dX[k] ? j->dX[k] + b * n : NULL;
			double acc = 0;
			for (size_t i = 0; i < n; i++)
				acc += (double)g[i] * xb[i];
			if (dxb)
				for (size_t i = 0; i < n; i++)
					dxb[i] += w[k] * g[i];
			s[k] = acc;
			sw += w[k] * acc;
		}
		if (j->dA) {
			float *da = j->dA + b * (size_t)j->lda;
			for (int k = 0; k < K; k++)
				da[k] += (float)(w[k] * (s[k] - sw));
		}
	}
}

/* With shared logits (lda 0) every example adds into the one row of dA, in
 * example order: that case stays on the calling thread. */
void mm_mix_backward(const float *const *X, int K, int B, size_t n, const float *Wt,
		const float *dy, int lda, float *const *dX, float *dA)
{
	mix_job j = { .X = X, .dX = dX, .Wt = Wt, .dy = dy, .dA = dA, .K = K, .lda = lda,
		.n = n };
	if (dA && !lda)
		mix_bwd_range(&j, 0, (size_t)B, 0);
	else
		mm_parallel_ranges((size_t)B, example_grain(n), 3.0 * B * K * n, 0,
				mix_bwd_range, &j);
}

void mm_embed_add_forward(const float *X, int B, int T, int D, const int *len,
		const float *E, int lde, float *Y)
{
	for (int b = 0; b < B; b++) {
		int L = valid_rows(len, b, T);
		for (int t = 0; t < T; t++) {
			const float *x = X + ((size_t)b * T + t) * D;
			float *y = Y + ((size_t)b * T + t) * D;
			if (t < L)
				mm_add_forward(x, E + (size_t)t * lde, y, (size_t)D);
			else if (y != x)
				memcpy(y, x, (size_t)D * sizeof *y);
		}
	}
}

void mm_embed_add_backward(const float *dY, int B, int T, int D, const int *len,
		int lde, float *dX, float *dE)
{
	for (int b = 0; b < B; b++) {
		int L = valid_rows(len, b, T);
		for (int t = 0; t < L; t++)
			mm_add_backward(dY + ((size_t)b * T + t) * D,
					dX ? dX + ((size_t)b * T + t) * D : NULL,
					dE ? dE + (size_t)t * lde : NULL, (size_t)D);
	}
}

void mm_cls_prepend_forward(const float *X, int B, int T, int D, const float *cls, float *Y)
{
	for (int b = 0; b < B; b++) {
		float *y = Y + (size_t)b * (T + 1) * D;
		memcpy(y, cls, (size_t)D * sizeof *y);
		memcpy(y + D, X + (size_t)b * T * D, (size_t)T * D * sizeof *y);
	}
}

void mm_cls_prepend_backward(const float *dY, int B, int T, int D, const int *len,
		float *dcls, float *dX)
{
	for (int b = 0; b < B; b++) {
		const float *dy = dY + (size_t)b * (T + 1) * D;
		int L = valid_rows(len, b, T);
		mm_add_backward(dy, dcls, NULL, (size_t)D);
		if (dX)
			mm_add_backward(dy + D, dX + (size_t)b * T * D, NULL, (size_t)L * D);
	}
}

/* The one walk of both directions: the rows of X_k that example b keeps,
 * and where they land in Y. */
static void seqcat_walk(const float *const *X, float *const *dX, int K, int B, const int *T,
		int D, const int *const *len, float *Y, const float *dY, int *ylen)
{
	int Tt = 0;
	for (int k = 0; k < K; k++)
		Tt += T[k];
	for (int b = 0; b < B; b++) {
		int at = 0;
		for (int k = 0; k < K; k++) {
			int L = valid_rows(len ? len[k] : NULL, b, T[k]);
			size_t n = (size_t)L * D, src = (size_t)b * T[k] * D;
			size_t dst = ((size_t)b * Tt + at) * D;
			if (Y)
				memcpy(Y + dst, X[k] + src, n * sizeof *Y);
			else if (dX && dX[k])
				mm_add_backward(dY + dst, dX[k] + src, NULL, n);
			at += L;
		}
		if (Y)
			memset(Y + ((size_t)b * Tt + at) * D, 0, (size_t)(Tt - at) * D * sizeof *Y);
		if (ylen)
			ylen[b] = at;
	}
}

void mm_seqcat_forward(const float *const *X, int K, int B, const int *T, int D,
		const int *const *len, float *Y, int *ylen)
{
	seqcat_walk(X, NULL, K, B, T, D, len, Y, NULL, ylen);
}

void mm_seqcat_backward(const float *dY, int K, int B, const int *T, int D,
		const int *const *len, float *const *dX)
{
	seqcat_walk(NULL, dX, K, B, T, D, len, NULL, dY, NULL);
}

void mm_pool_mean_forward(const float *X, int B, int T, int D, const int *len, float *Y)
{
	for (int b = 0; b < B; b++) {
		int L = valid_rows(len, b, T);
		float *y = Y + (size_t)b * D;
		memset(y, 0, (size_t)D * sizeof *y);
		for (int t = 0; t < L; t++)
			mm_add_forward(y, X + ((size_t)b * T + t) * D, y, (size_t)D);
		for (int k = 0; k < D; k++)
			y[k] /= (float)L;
	}
}

void mm_pool_mean_backward(const float *dY, int B, int T, int D, const int *len, float *dX)
{
	for (int b = 0; b < B; b++) {
		int L = valid_rows(len, b, T);
		const float *dy = dY + (size_t)b * D;
		float inv = 1.0f / (float)L;
		for (int t = 0; t < L; t++) {
			float *dx = dX + ((size_t)b * T + t) * D;
			for (int k = 0; k < D; k++)
				dx[k] += dy[k] * inv;
		}
	}
}

void mm_pool_cls_forward(const float *X, int B, int T, int D, float *Y)
{
	for (int b = 0; b < B; b++)
		memcpy(Y + (size_t)b * D, X + (size_t)b * T * D, (size_t)D * sizeof *Y);
}

void mm_pool_cls_backward(const float *dY, int B, int T, int D, float *dX)
{
	for (int b = 0; b < B; b++)
		mm_add_backward(dY + (size_t)b * D, dX + (size_t)b * T * D, NULL, (size_t)D);
}

/* ---- the layers ------------------------------------------------------------ */

static size_t sample_size(mm_shape s)
{
	return (size_t)s.T * s.D;
}

static const char *same_shape(const mm_layer_io *io, mm_shape *out)
{
	for (int k = 1; k < io->nin; k++)
		if (io->in[k].T != io->in[0].T || io->in[k].D != io->in[0].D)
			return "inputs of different shapes";
	*out = io->in[0];
	return NULL;
}

static void add_fwd(const mm_layer_io *io)
{
	mm_add_forward(io->x[0], io->x[1], io->y, (size_t)io->B * sample_size(io->in[0]));
}

static void add_bwd(const mm_layer_io *io)
{
	size_t n = (size_t)io->B * sample_size(io->in[0]);
	mm_add_backward(io->dy, io->dx[0], io->dx[1], n);
}

static double elementwise_flops(const mm_layer_io *io)
{
	return (double)sample_size(io->out) * io->nin;
}

const mm_layer mm_layer_add = {
	.kind = MM_NODE_ADD, .name = "add", .min_in = 2, .max_in = 2,
	.shape = same_shape, .forward = add_fwd, .backward = add_bwd, .flops = elementwise_flops,
};

/* mix: one learned logit per input, shared by the batch (lda = 0), zero at
 * the start (equal weights). */
static int mix_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "logits", io->nin, 1, false };
	return 1;
}

static size_t mix_scratch(const mm_layer_io *io)
{
	return (size_t)io->B * io->nin;
}

static void mix_init(const mm_layer_io *io, mm_rng *rng)
{
	(void)rng;
	memset(io->p[0].w, 0, io->p[0].n * sizeof(float));
}

static void mix_fwd(const mm_layer_io *io)
{
	mm_mix_forward(io->x, io->nin, io->B, sample_size(io->in[0]), io->p[0].w, 0,
			io->scratch, io->y);
}

static void mix_bwd(const mm_layer_io *io)
{
	mm_mix_backward(io->x, io->nin, io->B, sample_size(io->in[0]), io->scratch, io->dy, 0,
			io->dx, mm_param_grad(&io->p[0]));
}

const mm_layer mm_layer_mix = {
	.kind = MM_NODE_MIX, .name = "mix", .min_in = 2, .max_in = MM_LAYER_MAXIN,
	.shape = same_shape, .params = mix_params, .scratch = mix_scratch, .init = mix_init,
	.forward = mix_fwd, .backward = mix_bwd, .flops = elementwise_flops,
};

/* Embeddings and [CLS] start as N(0, 0.02²), as BERT's and ViT's. */
static void normal_init(const mm_layer_io *io, mm_rng *rng)
{
	for (size_t k = 0; k < io->p[0].n; k++)
		io->p[0].w[k] = (float)(0.02 * mm_rng_normal(rng));
}

static const char *keep_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = io->in[0];
	return NULL;
}

static int posemb_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "E", io->in[0].T, io->in[0].D, false };
	return 1;
}

static int modemb_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "E", io->in[0].D, 1, false };
	return 1;
}

/* lde: D for a position table, 0 for one vector on every row. */
static void emb_fwd(const mm_layer_io *io, int lde)
{
	mm_shape s = io->in[0];
	mm_embed_add_forward(io->x[0], io->B, s.T, s.D, io->len[0], io->p[0].w, lde, io->y);
}

static void emb_bwd(const mm_layer_io *io, int lde)
{
	mm_shape s = io->in[0];
	mm_embed_add_backward(io->dy, io->B, s.T, s.D, io->len[0], lde, io->dx[0],
			mm_param_grad(&io->p[0]));
}

static void posemb_fwd(const mm_layer_io *io) { emb_fwd(io, io->in[0].D); }
static void posemb_bwd(const mm_layer_io *io) { emb_bwd(io, io->in[0].D); }
static void modemb_fwd(const mm_layer_io *io) { emb_fwd(io, 0); }
static void modemb_bwd(const mm_layer_io *io) { emb_bwd(io, 0); }

const mm_layer mm_layer_posemb = {
	.kind = MM_NODE_POSEMB, .name = "posemb", .min_in = 1, .max_in = 1,
	.shape = keep_shape, .params = posemb_params, .init = normal_init,
	.forward = posemb_fwd, .backward = posemb_bwd, .flops = elementwise_flops,
};

const mm_layer mm_layer_modemb = {
	.kind = MM_NODE_MODEMB, .name = "modemb", .min_in = 1, .max_in = 1,
	.shape = keep_shape, .params = modemb_params, .init = normal_init,
	.forward = modemb_fwd, .backward = modemb_bwd, .flops = elementwise_flops,
};

static const char *cls_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = (mm_shape){ io->in[0].T + 1, io->in[0].D };
	return NULL;
}

static int cls_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "cls", io->in[0].D, 1, false };
	return 1;
}

static void cls_lengths(const mm_layer_io *io, int *len)
{
	for (int b = 0; b < io->B; b++)
		len[b] = (io->len[0] ? io->len[0][b] : io->in[0].T) + 1;
}

static void cls_fwd(const mm_layer_io *io)
{
	mm_cls_prepend_forward(io->x[0], io->B, io->in[0].T, io->in[0].D, io->p[0].w, io->y);
}

static void cls_bwd(const mm_layer_io *io)
{
	mm_shape s = io->in[0];
	float *dcls = mm_param_grad(&io->p[0]);
	if (io->dx[0] || dcls)
		mm_cls_prepend_backward(io->dy, io->B, s.T, s.D, io->len[0], dcls, io->dx[0]);
}

const mm_layer mm_layer_cls = {
	.kind = MM_NODE_CLS, .name = "cls", .min_in = 1, .max_in = 1,
	.shape = cls_shape, .lengths = cls_lengths, .params = cls_params, .init = normal_init,
	.forward = cls_fwd, .backward = cls_bwd,
};

static const char *pool_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = (mm_shape){ 1, io->in[0].D };
	return NULL;
}

static void meanpool_fwd(const mm_layer_io *io)
{
	mm_pool_mean_forward(io->x[0], io->B, io->in[0].T, io->in[0].D, io->len[0], io->y);
}

static void meanpool_bwd(const mm_layer_io *io)
{
	if (io->dx[0])
		mm_pool_mean_backward(io->dy, io->B, io->in[0].T, io->in[0].D, io->len[0], io->dx[0]);
}

static void clspool_fwd(const mm_layer_io *io)
{
	mm_pool_cls_forward(io->x[0], io->B, io->in[0].T, io->in[0].D, io->y);
}

static void clspool_bwd(const mm_layer_io *io)
{
	if (io->dx[0])
		mm_pool_cls_backward(io->dy, io->B, io->in[0].T, io->in[0].D, io->dx[0]);
}

const mm_layer mm_layer_meanpool = {
	.kind = MM_NODE_MEANPOOL, .name = "meanpool", .min_in = 1, .max_in = 1,
	.shape = pool_shape, .forward = meanpool_fwd, .backward = meanpool_bwd,
};

const mm_layer mm_layer_clspool = {
	.kind = MM_NODE_CLSPOOL, .name = "clspool", .min_in = 1, .max_in = 1,
	.shape = pool_shape, .forward = clspool_fwd, .backward = clspool_bwd,
};

/* seqcat: inputs of one width joined along T, valid rows first. */
static const char *seqcat_shape(const mm_layer_io *io, mm_shape *out)
{
	int T = 0;
	for (int k = 0; k < io->nin; k++) {
		if (io->in[k].D != io->in[0].D)
			return "inputs of different widths";
		T += io->in[k].T;
	}
	*out = (mm_shape){ T, io->in[0].D };
	return NULL;
}

static void seqcat_T(const mm_layer_io *io, int *T)
{
	for (int k = 0; k < io->nin; k++)
		T[k] = io->in[k].T;
}

static void seqcat_lengths(const mm_layer_io *io, int *len)
{
	int T[MM_LAYER_MAXIN];
	seqcat_T(io, T);
	for (int b = 0; b < io->B; b++) {
		len[b] = 0;
		for (int k = 0; k < io->nin; k++)
			len[b] += io->len[k] ? io->len[k][b] : T[k];
	}
}

static void seqcat_fwd(const mm_layer_io *io)
{
	int T[MM_LAYER_MAXIN];
	seqcat_T(io, T);
	mm_seqcat_forward(io->x, io->nin, io->B, T, io->in[0].D, io->len, io->y, NULL);
}

static void seqcat_bwd(const mm_layer_io *io)
{
	int T[MM_LAYER_MAXIN];
	seqcat_T(io, T);
	mm_seqcat_backward(io->dy, io->nin, io->B, T, io->in[0].D, io->len, io->dx);
}

const mm_layer mm_layer_seqcat = {
	.kind = MM_NODE_SEQCAT, .name = "seqcat", .min_in = 1, .max_in = MM_LAYER_MAXIN,
	.shape = seqcat_shape, .lengths = seqcat_lengths, .forward = seqcat_fwd,
	.backward = seqcat_bwd,
};
