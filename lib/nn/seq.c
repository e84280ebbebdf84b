/* nn/seq.c — the small sequence kernels: residual add, softmax-weighted
 * mixture, learned embeddings, [CLS] row, pooling.  See nn/seq.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include "nn/seq.h"

#include <assert.h>
#include <string.h>

#include "nn.h"

static int valid_rows(const int *len, int b, int T)
{
	int L = len ? len[b] : T;
	assert(L >= 1 && L <= T);
	return L;
}

void mm_add_forward(const float *a, const float *b, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}

void mm_add_backward(const float *dy, float *da, float *db, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (da)
			da[i] += dy[i];
		if (db)
			db[i] += dy[i];
	}
}

void mm_mix_forward(const float *const *X, int K, int B, size_t n, const float *A,
		int lda, float *Wt, float *y)
{
	assert(K >= 1 && (lda == 0 || lda == K));
	mm_softmax(A, lda ? B : 1, K, Wt);
	if (!lda) /* shared logits: the one row of weights serves every example */
		for (int b = 1; b < B; b++)
			memcpy(Wt + (size_t)b * K, Wt, (size_t)K * sizeof *Wt);
	for (int b = 0; b < B; b++) {
		float *yb = y + (size_t)b * n;
		const float *w = Wt + (size_t)b * K;
		for (size_t i = 0; i < n; i++)
			yb[i] = w[0] * X[0][(size_t)b * n + i];
		for (int k = 1; k < K; k++) {
			const float *xb = X[k] + (size_t)b * n;
			for (size_t i = 0; i < n; i++)
				yb[i] += w[k] * xb[i];
		}
	}
}

/* With s_k = <dy, X_k> per example, the softmax backward gives
 * dA_k = w_k (s_k - Σ_j w_j s_j). */
void mm_mix_backward(const float *const *X, int K, int B, size_t n, const float *Wt,
		const float *dy, int lda, float *const *dX, float *dA)
{
	for (int b = 0; b < B; b++) {
		const float *w = Wt + (size_t)b * K, *g = dy + (size_t)b * n;
		double sw = 0, s[K];
		for (int k = 0; k < K; k++) {
			const float *xb = X[k] + (size_t)b * n;
			float *dxb = dX && dX[k] ? dX[k] + (size_t)b * n : NULL;
			double acc = 0;
			for (size_t i = 0; i < n; i++)
				acc += (double)g[i] * xb[i];
			if (dxb)
				for (size_t i = 0; i < n; i++)
					dxb[i] += w[k] * g[i];
			s[k] = acc;
			sw += w[k] * acc;
		}
		if (dA) {
			float *da = dA + (size_t)b * lda;
			for (int k = 0; k < K; k++)
				da[k] += (float)(w[k] * (s[k] - sw));
		}
	}
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
