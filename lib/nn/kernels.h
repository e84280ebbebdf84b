/* kernels.h — the numeric kernels behind the layers: pure functions on
 * row-major, batch-major matrices (row b = sample b, or position of a
 * sample).  A backward *accumulates* into all the gradients it writes
 * (dW += ..., dX += ...), so that a value feeding several consumers gets
 * the sum; zero them first.  Matrix products go through mm_sgemm (gemm.h).  Every
 * one is checked against central finite differences in tests/unit/nn_grad.c.
 * Nothing here allocates, prints or keeps a pointer past the call.
 */
#ifndef MM_NN_KERNELS_H
#define MM_NN_KERNELS_H

#include <stddef.h>

#include "rng.h"

/* Y[B,dout] = X[B,din] · W[dout,din]^T + b[dout]  (b may be NULL). */
void mm_linear_forward(const float *X, int B, int din, const float *W,
		const float *b, int dout, float *Y);
/* dW += dY^T X, db += Σ_b dY (db may be NULL), dX += dY W (dX may be NULL). */
void mm_linear_backward(const float *X, const float *dY, int B, int din, int dout,
		const float *W, float *dW, float *db, float *dX);

/* Element-wise activations on n values; backward from the input x. */
void mm_relu_forward(const float *x, float *y, size_t n);
void mm_relu_backward(const float *x, const float *dy, float *dx, size_t n);
/* GELU, tanh approximation (as GPT-2 / PyTorch approximate="tanh"). */
void mm_gelu_forward(const float *x, float *y, size_t n);
void mm_gelu_backward(const float *x, const float *dy, float *dx, size_t n);

/* Inverted dropout: y = x * mask, mask = 0 with probability p, else 1/(1-p).
 * mask (n floats) is drawn from rng and kept for the backward. */
void mm_dropout_forward(mm_rng *rng, float p, const float *x, float *y, float *mask, size_t n);
void mm_dropout_backward(const float *mask, const float *dy, float *dx, size_t n);

/* Layer norm over the last dimension d, per row:
 * y = (x - mean) * rstd * gamma + beta.  mean, rstd: B floats saved for the backward. */
void mm_layernorm_forward(const float *X, int B, int d, const float *gamma,
		const float *beta, float *Y, float *mean, float *rstd);
/* dgamma, dbeta, dX accumulate. */
void mm_layernorm_backward(const float *X, const float *dY, int B, int d,
		const float *gamma, const float *mean, const float *rstd,
		float *dgamma, float *dbeta, float *dX);

/* Element-wise product fusion: y = a ⊙ b.  da += dy ⊙ b, db += dy ⊙ a. */
void mm_prod_forward(const float *a, const float *b, float *y, size_t n);
void mm_prod_backward(const float *a, const float *b, const float *dy,
		float *da, float *db, size_t n);

/* Bilinear fusion: y[b,k] = Σ_ij A[b,i] W[i, k*q + j] Bm[b,j] + bias[k], with
 * A [B,p], Bm [B,q], W [p, o*q], bias [o] (may be NULL), y [B,o].  T is a
 * caller-provided scratch of B*o*q floats (A·W), kept for the backward. */
void mm_bilinear_forward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *bias, float *T, float *Y);
/* dW, dbias, dA, dBm accumulate.  dT: scratch of B*o*q floats (overwritten). */
void mm_bilinear_backward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *T, const float *dY, float *dT,
		float *dW, float *dbias, float *dA, float *dBm);

/* Row-wise softmax of logits [B,C] into P (may alias Z). */
void mm_softmax(const float *Z, int B, int C, float *P);

/* Losses on logits Z [B,C] and targets y[B] in 0..C-1.  w: per-class weights
 * (NULL = 1).  The loss is Σ_b w[y_b] ℓ_b / Σ_b w[y_b] (the weighted mean, as
 * PyTorch's CrossEntropyLoss(weight=...)).  P [B,C] receives the
 * probabilities; dZ [B,C] (may be NULL) the gradient of the returned loss. */
double mm_xent_loss(const float *Z, const int *y, int B, int C, const float *w,
		float *P, float *dZ);
/* Focal loss (Lin et al.): ℓ_b = -α (1 - p_t)^γ log p_t, p_t = P[b, y_b];
 * γ = 0, α = 1 is cross-entropy.  Same weighting and outputs as above. */
double mm_focal_loss(const float *Z, const int *y, int B, int C, const float *w,
		float alpha, float gamma, float *P, float *dZ);

#endif
