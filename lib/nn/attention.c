/* nn/attention.c — scaled dot-product attention with a padding mask,
 * multi-head self-attention and cross-attention.  See nn/seq.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include "nn/seq.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn.h"

/* Each (example, head) pair is a few small products over only the valid rows
 * and columns, so padding costs nothing here; P keeps its full [Tq, Tk] rows
 * as leading dimension so that the backward finds the same block. */
void mm_attn_forward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, float *P, float *O, int ldo)
{
	const float scale = 1.0f / sqrtf((float)dh);
	for (int b = 0; b < B; b++) {
		int Lq = lenq ? lenq[b] : Tq, Lk = lenk ? lenk[b] : Tk;
		assert(Lq >= 1 && Lq <= Tq && Lk >= 1 && Lk <= Tk);
		for (int h = 0; h < H; h++) {
			const float *q = Q + (size_t)b * Tq * ldq + (size_t)h * dh;
			const float *k = K + (size_t)b * Tk * ldk + (size_t)h * dh;
			const float *v = V + (size_t)b * Tk * ldv + (size_t)h * dh;
			float *p = P + ((size_t)b * H + h) * Tq * Tk;
			float *o = O + (size_t)b * Tq * ldo + (size_t)h * dh;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lq, Lk, dh, scale,
					q, ldq, k, ldk, 0.0f, p, Tk);
			for (int i = 0; i < Lq; i++)
				mm_softmax(p + (size_t)i * Tk, 1, Lk, p + (size_t)i * Tk);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Lq, dh, Lk, 1.0f,
					p, Tk, v, ldv, 0.0f, o, ldo);
			for (int i = Lq; i < Tq; i++)
				memset(o + (size_t)i * ldo, 0, (size_t)dh * sizeof *o);
		}
	}
}

/* With dP = dO V^T, the softmax backward is dS = P ⊙ (dP - rowsum(dP ⊙ P)),
 * then S = scale Q K^T gives dQ = scale dS K and dK = scale dS^T Q. */
void mm_attn_backward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, const float *P, const float *dO, int ldo,
		float *dP, float *dQ, float *dK, float *dV)
{
	const float scale = 1.0f / sqrtf((float)dh);
	for (int b = 0; b < B; b++) {
		int Lq = lenq ? lenq[b] : Tq, Lk = lenk ? lenk[b] : Tk;
		for (int h = 0; h < H; h++) {
			size_t oq = (size_t)b * Tq * ldq + (size_t)h * dh;
			size_t ok = (size_t)b * Tk * ldk + (size_t)h * dh;
			size_t ov = (size_t)b * Tk * ldv + (size_t)h * dh;
			const float *p = P + ((size_t)b * H + h) * Tq * Tk;
			const float *dout = dO + (size_t)b * Tq * ldo + (size_t)h * dh;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Lq, Lk, dh, 1.0f,
					dout, ldo, V + ov, ldv, 0.0f, dP, Lk);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Lk, dh, Lq, 1.0f,
					p, Tk, dout, ldo, 1.0f, dV + ov, ldv);
			for (int i = 0; i < Lq; i++) {
				const float *pi = p + (size_t)i * Tk;
				float *di = dP + (size_t)i * Lk;
				float s = 0;
				for (int j = 0; j < Lk; j++)
					s += di[j] * pi[j];
				for (int j = 0; j < Lk; j++)
					di[j] = pi[j] * (di[j] - s) * scale;
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Lq, dh, Lk, 1.0f,
					dP, Lk, K + ok, ldk, 1.0f, dQ + oq, ldq);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Lk, dh, Lq, 1.0f,
					dP, Lk, Q + oq, ldq, 1.0f, dK + ok, ldk);
		}
	}
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
