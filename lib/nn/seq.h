/* nn/seq.h — kernels on sequences: attention, residual add, mixtures,
 * embeddings, pooling, and the pre-norm transformer block built from them.
 *
 * Layout.  A sequence batch is [B, T, D] row-major: row (b, t) starts at
 * X + (b*T + t)*D.  Example b has len[b] valid rows, 1 <= len[b] <= T; rows
 * t >= len[b] are padding.  [B, D] is the case T = 1, len = NULL.
 *
 * The padding contract, kept by every kernel here:
 *  - a valid output row never depends on a padded input row (padded keys get
 *    no attention, pooling skips them);
 *  - padded output rows hold unspecified finite values: ignore them;
 *  - a backward adds nothing to the input gradient of padded rows, and
 *    expects the incoming gradient of padded rows to be zero (the linear
 *    projections and biases would otherwise sum it into their gradients).
 *    A chain that starts at a pooling keeps it so: padded rows receive no
 *    gradient and contribute none to the parameters.
 *
 * Conventions as lib/nn.h: a backward *accumulates* into every gradient it
 * writes (zero them first); a gradient pointer may be NULL when not wanted
 * unless stated.  Functions read the caller's arrays and keep no pointer past
 * the call; scratch and saved activations are caller-provided arrays whose
 * sizes are stated.  Nothing allocates, prints or exits.  Matrix products go
 * through mm_sgemm (gemm.h: the same bits for any thread count), one call per
 * (example, head) in the attention; the element-wise loops are single-threaded.
 * Every kernel's gradients are checked against central finite differences in
 * tests/unit/seq_grad.c, and a 2-layer block stack against PyTorch in
 * tests/unit/transformer_torch.c.
 */
#ifndef MM_NN_SEQ_H
#define MM_NN_SEQ_H

#include <stddef.h>

/* ---- scaled dot-product attention, multi-head ------------------------------
 * For each example b and head h (H heads of width dh, D = H*dh):
 *   S = Q_bh K_bh^T / sqrt(dh)        over valid queries i < lenq[b] and keys j < lenk[b]
 *   P = softmax_j(S)                   (keys j >= lenk[b] get probability 0)
 *   O_bh = P V_bh
 * Q_bh is the lenq[b] x dh block at Q + b*Tq*ldq + h*dh with leading
 * dimension ldq (likewise K, V with Tk, ldk, ldv; O with Tq, ldo), so Q, K
 * and V can be column blocks of one packed [.., 3D] projection.
 * lenq / lenk NULL means all Tq / Tk rows are valid.  This is PyTorch's
 * scaled_dot_product attention with key_padding_mask = (j >= lenk[b]).
 * P: [B, H, Tq, Tk] saved for the backward.  O rows >= lenq[b] are set to 0. */
void mm_attn_forward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, float *P, float *O, int ldo);
/* From dO (same layout as O): dQ, dK, dV accumulate (same layouts as Q, K, V;
 * none may be NULL).  dP: scratch of mm_attn_slots(B, H)*Tq*Tk floats.
 *
 * The (example, head) pairs run on the library's threads (gemm.h,
 * mm_parallel_ranges), at most mm_attn_slots(B, H) at once, each thread with
 * its own Tq*Tk slot of dP; the bits do not depend on the thread count. */
void mm_attn_backward(const float *Q, int ldq, const float *K, int ldk,
		const float *V, int ldv, int B, int Tq, int Tk, const int *lenq,
		const int *lenk, int H, int dh, const float *P, const float *dO, int ldo,
		float *dP, float *dQ, float *dK, float *dV);
/* The backward's slots of dP: min(B*H, MM_ATTN_MAX_SLOTS), at least 1. */
#define MM_ATTN_MAX_SLOTS 16
int mm_attn_slots(int B, int H);

/* ---- multi-head self-attention (PyTorch's nn.MultiheadAttention) -----------
 * QKV = X Wqkv^T + bqkv, Wqkv [3D, D] (rows: the query, key, value
 * projections, as in_proj_weight), bqkv [3D]; Ctx = attention(QKV) per head;
 * Y = Ctx Wo^T + bo, Wo [D, D], bo [D].  D % H == 0.
 * Saved for the backward: QKV [B*T*3D], P [B*H*T*T], Ctx [B*T*D]. */
typedef struct mm_mha_w {
	float *Wqkv, *bqkv, *Wo, *bo;
} mm_mha_w;

void mm_mha_forward(const float *X, int B, int T, int D, const int *len, int H,
		const mm_mha_w *w, float *QKV, float *P, float *Ctx, float *Y);
/* g: gradients of the weights, accumulate (a member may be NULL: a frozen
 * weight).  dX may be NULL.
 * Scratch: dQKV [B*T*3D], dCtx [B*T*D], dP [mm_attn_slots(B,H)*T*T], all
 * overwritten. */
void mm_mha_backward(const float *X, int B, int T, int D, const int *len, int H,
		const mm_mha_w *w, const float *QKV, const float *P, const float *Ctx,
		const float *dY, float *dQKV, float *dCtx, float *dP, const mm_mha_w *g,
		float *dX);

/* ---- cross-attention --------------------------------------------------------
 * Queries from Xq [B, Tq, Dq] (lengths lenq), keys and values from
 * Xkv [B, Tk, Dkv] (lengths lenk): Qp = Xq Wq^T + bq, Wq [D, Dq];
 * KV = Xkv Wkv^T + bkv, Wkv [2D, Dkv] (rows: key, value); Ctx = attention;
 * Y = Ctx Wo^T + bo [B, Tq, D].
 * Saved: Qp [B*Tq*D], KV [B*Tk*2D], P [B*H*Tq*Tk], Ctx [B*Tq*D]. */
typedef struct mm_xattn_w {
	float *Wq, *bq, *Wkv, *bkv, *Wo, *bo;
} mm_xattn_w;

void mm_xattn_forward(const float *Xq, int Tq, int Dq, const int *lenq,
		const float *Xkv, int Tk, int Dkv, const int *lenk, int B, int D, int H,
		const mm_xattn_w *w, float *Qp, float *KV, float *P, float *Ctx, float *Y);
/* g: accumulate (members may be NULL); dXq, dXkv may be NULL.  Scratch: dQp
 * [B*Tq*D], dKV [B*Tk*2D], dCtx [B*Tq*D], dP [mm_attn_slots(B,H)*Tq*Tk], all
 * overwritten. */
void mm_xattn_backward(const float *Xq, int Tq, int Dq, const int *lenq,
		const float *Xkv, int Tk, int Dkv, const int *lenk, int B, int D, int H,
		const mm_xattn_w *w, const float *Qp, const float *KV, const float *P,
		const float *Ctx, const float *dY, float *dQp, float *dKV, float *dCtx,
		float *dP, const mm_xattn_w *g, float *dXq, float *dXkv);

/* ---- residual add: y = a + b on n floats (y may alias a or b) -------------
 * Backward: da += dy, db += dy (element-wise: padded rows pass through). */
void mm_add_forward(const float *a, const float *b, float *y, size_t n);
void mm_add_backward(const float *dy, float *da, float *db, size_t n);

/* ---- softmax-weighted mixture of K inputs ---------------------------------
 * y[b, :] = Σ_k w[b,k] X_k[b, :],  w[b, :] = softmax(A[b*lda .. b*lda+K-1]),
 * each X_k and y being B rows of n floats.  lda = K: per-example logits (a
 * router's output); lda = 0: one learned logit vector shared by the batch
 * (then dA receives the sum over the batch).  Wt [B*K]: the weights, saved.
 * The mixture is element-wise along n: padded rows pass through. */
void mm_mix_forward(const float *const *X, int K, int B, size_t n, const float *A,
		int lda, float *Wt, float *y);
/* dX[k] (each may be NULL, or dX itself NULL) and dA accumulate. */
void mm_mix_backward(const float *const *X, int K, int B, size_t n, const float *Wt,
		const float *dy, int lda, float *const *dX, float *dA);

/* ---- learned embeddings added to a sequence --------------------------------
 * Y[b,t,:] = X[b,t,:] + E[t*lde .. t*lde + D-1] for valid rows:
 * lde = D adds a position table E [T, D] (row t to position t), lde = 0 adds
 * one vector E [D] to every row (a modality embedding).  Y may alias X.
 * Padded rows of Y are copies of X.  Backward: dX, dE accumulate over valid rows. */
void mm_embed_add_forward(const float *X, int B, int T, int D, const int *len,
		const float *E, int lde, float *Y);
void mm_embed_add_backward(const float *dY, int B, int T, int D, const int *len,
		int lde, float *dX, float *dE);

/* ---- a learned [CLS] row in front -------------------------------------------
 * Y [B, T+1, D]: Y[b,0,:] = cls [D], Y[b,1+t,:] = X[b,t,:]; the lengths of Y
 * are len[b] + 1 (the caller's to keep).  Backward: dcls, dX accumulate. */
void mm_cls_prepend_forward(const float *X, int B, int T, int D, const float *cls, float *Y);
void mm_cls_prepend_backward(const float *dY, int B, int T, int D, const int *len,
		float *dcls, float *dX);

/* ---- sequences joined along T ----------------------------------------------
 * K inputs X_k [B, T_k, D] with lengths len[k] (NULL: all T_k) into
 * Y [B, ΣT_k, D]: per example the valid rows of X_0, then those of X_1, ...,
 * then zero rows; the output length is Σ_k len_k[b] (written to ylen).
 * Backward: dX_k (each may be NULL) accumulate from the rows they went to. */
void mm_seqcat_forward(const float *const *X, int K, int B, const int *T, int D,
		const int *const *len, float *Y, int *ylen);
void mm_seqcat_backward(const float *dY, int K, int B, const int *T, int D,
		const int *const *len, float *const *dX);

/* ---- pooling [B, T, D] -> [B, D] ---------------------------------------------
 * mean: y[b] = Σ_{t<len[b]} X[b,t] / len[b];  cls: y[b] = X[b,0]. */
void mm_pool_mean_forward(const float *X, int B, int T, int D, const int *len, float *Y);
void mm_pool_mean_backward(const float *dY, int B, int T, int D, const int *len, float *dX);
void mm_pool_cls_forward(const float *X, int B, int T, int D, float *Y);
void mm_pool_cls_backward(const float *dY, int B, int T, int D, float *dX);

/* ---- the pre-norm transformer block ------------------------------------------
 *   X1 = X + MHA(LN1(X));   Y = X1 + W2 GELU(W1 LN2(X1) + b1) + b2
 * with GELU's tanh form and layer norm eps 1e-5 (lib/nn.h), as PyTorch's
 * TransformerEncoderLayer(norm_first=True, activation=gelu(approximate='tanh'),
 * dropout=0).  Shapes: D model width, H heads (D % H == 0), F FFN width. */
typedef struct mm_block_w {
	float *ln1_g, *ln1_b;     /* [D] */
	mm_mha_w attn;
	float *ln2_g, *ln2_b;     /* [D] */
	float *W1, *b1;           /* [F, D], [F] */
	float *W2, *b2;           /* [D, F], [D] */
} mm_block_w;

/* Saved activations of one block's forward (mem, mm_block_ws_size floats,
 * one array per block) and the scratch of its backward (scratch,
 * mm_block_scratch_size floats, which blocks of the same shape may share),
 * carved by mm_block_ws_init: the pointers point into the caller's arrays. */
typedef struct mm_block_ws {
	int B, T, D, H, F;
	float *ln1, *mu1, *rs1, *QKV, *P, *Ctx, *X1;   /* forward, saved */
	float *ln2, *mu2, *rs2, *Hp, *Ha;
	float *dX1, *dln, *dH, *dQKV, *dCtx, *dP;      /* backward scratch */
} mm_block_ws;

size_t mm_block_ws_size(int B, int T, int D, int H, int F);
size_t mm_block_scratch_size(int B, int T, int D, int H, int F);
void mm_block_ws_init(mm_block_ws *ws, float *mem, float *scratch, int B, int T, int D,
		int H, int F);
/* Y [B, T, D] (may not alias X). */
void mm_block_forward(const float *X, const int *len, const mm_block_w *w,
		mm_block_ws *ws, float *Y);
/* g: the weight gradients accumulate (members may be NULL: frozen); dX
 * accumulates (may be NULL).
 * dY's padded rows must be zero (as every backward here leaves them).  The
 * backward overwrites saved activations: one backward per forward. */
void mm_block_backward(const float *X, const int *len, const mm_block_w *w,
		mm_block_ws *ws, const float *dY, const mm_block_w *g, float *dX);

#endif
