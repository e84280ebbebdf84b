/* nn.h — the neural-network engine of mmoe: layers, a small graph of layers,
 * a generic trainer, and a simple high-level classifier.
 *
 * Three levels, each usable on its own:
 *
 *  1. Layer kernels (mm_linear_forward, mm_relu_backward, ...): pure
 *     functions on row-major, batch-major matrices (row b = sample b).  A
 *     backward *accumulates* into all the gradients it writes (dW += ...,
 *     dX += ...), so that a value feeding several consumers gets the sum;
 *     zero them first.
 *     Matrix products go through cblas_sgemm.  Every one is checked against
 *     central finite differences in tests/unit/nn_grad.c.
 *
 *  2. mm_net: a directed acyclic graph of nodes (inputs, linear, activation,
 *     dropout, layer norm, concatenation, element-wise product, bilinear),
 *     evaluated in topological order, with a registry of parameters and
 *     gradients (mm_param) that the optimisers (optim.h) and the model files
 *     (model.h) walk without knowing the layers.  A new layer kind is a new
 *     node type, not a new trainer.  mm_net_build() builds the expert
 *     architecture of mmoe-train-expert from an mm_net_spec; mm_net_fit()
 *     trains any net with AdamW, warm-up + cosine, clipping, early stopping.
 *
 *  3. mm_clf: "fit a classifier on an n × d float matrix": multinomial (or
 *     binary) L2 logistic regression solved to the optimum by L-BFGS, or a
 *     small MLP trained by mm_net_fit.  This is what mmoe-unipred uses.
 *
 * Ownership: functions that take `const float *` read the caller's memory
 * and never keep the pointer past the call, except mm_net_forward's result,
 * which points into the net and is valid until the next forward.
 * Nothing here prints or exits; randomness comes only from the mm_rng passed.
 */
#ifndef MM_NN_H
#define MM_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

/* ======================================================================
 * 1. Layer kernels
 * ====================================================================== */

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

/* ======================================================================
 * 2. Graphs of layers
 * ====================================================================== */

/* One trainable tensor and its gradient (same size), in the registry of a net. */
typedef struct mm_param {
	char name[48];    /* unique within a net, e.g. "proj0.W" */
	float *w, *g;     /* n floats each, 64-byte aligned, owned by the net */
	size_t n;
	int64_t shape[2]; /* rows, cols (cols 1 for vectors) */
	bool decay;       /* weight decay applies (weights yes, biases/norms no) */
} mm_param;

typedef enum mm_node_type {
	MM_NODE_INPUT = 0, /* modality input (standardised features) */
	MM_NODE_LINEAR,    /* in0 → W in0 + b */
	MM_NODE_RELU,
	MM_NODE_GELU,
	MM_NODE_DROPOUT,   /* rate = node's p */
	MM_NODE_LAYERNORM,
	MM_NODE_CONCAT,    /* any number of inputs, along features */
	MM_NODE_PROD,      /* in0 ⊙ in1, equal dims */
	MM_NODE_BILINEAR,  /* in0ᵀ W in1 + b → o outputs */
	MM_NODE_NTYPES
} mm_node_type;

enum { MM_ACT_RELU = 0, MM_ACT_GELU = 1 };
enum { MM_FUSE_CONCAT = 0, MM_FUSE_CONCAT_PROD = 1, MM_FUSE_BILINEAR = 2 };
enum { MM_LOSS_CE = 0, MM_LOSS_FOCAL = 1 };
enum { MM_SELECT_F1 = 0, MM_SELECT_MACRO_F1, MM_SELECT_ACC, MM_SELECT_LOSS };

#define MM_NET_MAXMOD 8

/* The expert architecture of mmoe-train-expert:
 *   for each modality m: h_m = dropout(act(W_m x_m + b_m))        [proj]
 *   fusion: concat(h_1..h_M)                           (concat)
 *           concat(h_1..h_M, h_i ⊙ h_j for i<j)        (concat-prod)
 *           concat(h_1..h_M, bilinear_ij(h_i, h_j))     (bilinear, bilinear_dim outputs per pair)
 *   head: `layers` × [linear(hidden) → act → dropout], then linear(nclass).
 * proj = 0 skips the projections (the fusion sees the inputs; products then
 * need equal input dims). */
typedef struct mm_net_spec {
	int nmod;
	int dims[MM_NET_MAXMOD]; /* input dimension per modality */
	int proj;                /* projection width (0: none) */
	int act;                 /* MM_ACT_* */
	int fusion;              /* MM_FUSE_* */
	int bilinear_dim;        /* outputs per modality pair for MM_FUSE_BILINEAR */
	int hidden;              /* head width */
	int layers;              /* hidden layers in the head (0: linear head) */
	int nclass;
	float dropout;
} mm_net_spec;

typedef struct mm_net mm_net;

/* Defaults: proj 256, relu, concat-prod, bilinear_dim 32, hidden 256, 1 layer, dropout 0.1. */
void mm_net_spec_default(mm_net_spec *s);
/* NULL when valid, else a message naming the bad field. */
const char *mm_net_spec_check(const mm_net_spec *s);

/* An empty graph with nmod inputs of the given dims; add nodes, then finish. */
mm_status mm_net_new(mm_net **out, int nmod, const int *dims, mm_err *e);
/* Add a node reading the given earlier nodes (ids as returned; inputs are
 * ids 0..nmod-1).  `size` is the output width for LINEAR / BILINEAR, `p` the
 * dropout rate.  Returns the new node id, or -1 with e set. */
int mm_net_add(mm_net *net, mm_node_type t, const int *in, int nin, int size, float p, mm_err *e);
/* Mark `node` as the output (logits) and allocate the parameters. */
mm_status mm_net_finish(mm_net *net, int node, mm_err *e);
/* Build the expert architecture (calls the three functions above). */
mm_status mm_net_build(mm_net **out, const mm_net_spec *s, mm_err *e);
void mm_net_free(mm_net *net);

/* As PyTorch's defaults: linear W and b uniform in ±1/√fan_in, bilinear
 * likewise with fan_in = its first input's width, layer norm γ=1 β=0.
 * Deterministic given rng. */
void mm_net_init(mm_net *net, mm_rng *rng);
/* The parameter registry (in a fixed order; stable across builds of the same spec). */
mm_param *mm_net_params(mm_net *net, size_t *np);
size_t mm_net_nparams_total(const mm_net *net); /* number of floats */
int mm_net_nout(const mm_net *net);
int mm_net_nmod(const mm_net *net);
int mm_net_dim(const mm_net *net, int m);
/* FLOPs (2 × multiply-adds) of one forward pass per sample, for GFLOP/s figures. */
double mm_net_flops_per_sample(const mm_net *net);

/* Forward a batch: X[m] is B × dim(m), row-major.  train: dropout on (rng
 * required).  Returns the logits [B, nout], owned by the net, or NULL when
 * the activation buffers cannot be allocated.  A net holds the activations
 * of its last forward: one forward/backward at a time per net (not
 * thread-safe); the BLAS underneath may use several threads. */
const float *mm_net_forward(mm_net *net, const float *const *X, int B, bool train, mm_rng *rng);
/* Backward from dlogits [B, nout] of the last forward; accumulates into the
 * parameters' g.  Zero them first with mm_net_zero_grad. */
void mm_net_backward(mm_net *net, const float *dlogits);
void mm_net_zero_grad(mm_net *net);
/* Copy all parameter values between two nets of the same structure. */
void mm_net_copy_params(mm_net *dst, const mm_net *src);

/* A dataset in memory: per modality an n × dim matrix (row-major, already
 * standardised), and targets in 0..nclass-1 (may be NULL for prediction). */
typedef struct mm_dataset {
	int nmod;
	const float *X[MM_NET_MAXMOD];
	const int *y;
	size_t n;
} mm_dataset;

typedef struct mm_fit_epoch {
	int epoch;            /* 1-based */
	double train_loss;
	double val_loss, val_metric; /* NaN without validation data */
	double lr;            /* at the end of the epoch */
	double seconds;       /* since the start of training */
	bool best;            /* this epoch's weights were kept */
} mm_fit_epoch;

typedef struct mm_fit_params {
	int epochs;           /* 20 */
	int batch;            /* 64 */
	float lr;             /* 1e-3 (peak, after warm-up) */
	float weight_decay;   /* 0.01 (decoupled, AdamW) */
	float warmup;         /* warm-up length as a fraction of all steps: 0.1 */
	float min_lr_ratio;   /* cosine floor relative to lr: 0 */
	float clip;           /* global gradient-norm clip, 0 = off: 1.0 */
	int loss;             /* MM_LOSS_CE */
	float alpha, gamma;   /* focal: 1, 2 */
	const float *class_w; /* NULL or nclass weights (copied at fit time) */
	int select;           /* MM_SELECT_*: metric for checkpoint selection */
	int patience;         /* epochs without improvement before stopping; 0 = never stop */
	uint64_t seed;
	/* Called after every epoch (may be NULL). */
	void (*on_epoch)(void *ctx, const mm_fit_epoch *ep);
	void *ctx;
} mm_fit_params;

typedef struct mm_fit_result {
	int epochs_run, best_epoch;
	double best_metric;   /* val metric of the kept weights (NaN without val) */
	double seconds;
	uint64_t steps;
} mm_fit_result;

void mm_fit_params_default(mm_fit_params *p);
const char *mm_fit_params_check(const mm_fit_params *p);
/* Train net on `train`, shuffling with p->seed; with `val` (may be NULL or
 * empty) the weights of the best epoch by p->select are kept at the end,
 * otherwise the last epoch's.  The net must be initialised. */
mm_status mm_net_fit(mm_net *net, const mm_dataset *train, const mm_dataset *val,
		const mm_fit_params *p, mm_fit_result *res, mm_err *e);
/* Class probabilities P [n, nout] in batches (no dropout). */
void mm_net_predict(mm_net *net, const mm_dataset *d, float *P);

/* Metrics of probabilities P [n,C] against y.  F1 is of class 1 (binary). */
double mm_metric(int select, const float *P, const int *y, size_t n, int C);
double mm_metric_acc(const float *P, const int *y, size_t n, int C);
double mm_metric_f1(const float *P, const int *y, size_t n, int C, int positive);
double mm_metric_macro_f1(const float *P, const int *y, size_t n, int C);
/* Mean negative log-likelihood (unweighted). */
double mm_metric_nll(const float *P, const int *y, size_t n, int C);

/* ======================================================================
 * 3. High-level classifier (used by mmoe-unipred)
 * ====================================================================== */

enum { MM_CLF_LOGREG = 0, MM_CLF_MLP = 1 };

typedef struct mm_clf_params {
	int model;            /* MM_CLF_LOGREG (default) or MM_CLF_MLP */
	bool standardize;     /* z-score features with training mean/std (true) */
	/* logistic regression: minimise ½‖W‖² + C Σ_i ℓ_i (bias unpenalised),
	 * as scikit-learn's LogisticRegression(C=C); binary problems use one
	 * weight vector (sklearn's binomial form), more classes the multinomial. */
	double C;             /* 1.0 */
	int max_iter;         /* L-BFGS iterations: 500 */
	double tol;           /* stop when ‖∇‖∞ ≤ tol · max(1, |f|): 1e-6 */
	/* MLP: one hidden layer (relu, dropout) trained with AdamW. */
	int hidden;           /* 64 */
	int layers;           /* 1 */
	int epochs;           /* 30 */
	int batch;            /* 64 */
	float lr;             /* 1e-3 */
	float weight_decay;   /* 1e-2 */
	float dropout;        /* 0.1 */
	/* both */
	bool balanced;        /* class weights n / (C n_c), as sklearn's "balanced": false */
	uint64_t seed;        /* 1 */
} mm_clf_params;

typedef struct mm_clf mm_clf;

void mm_clf_params_default(mm_clf_params *p);
/* NULL when valid, else a message naming the bad field. */
const char *mm_clf_params_check(const mm_clf_params *p);
/* Fit on X [n, d] (row-major) and y[i] in 0..nclass-1 (nclass ≥ 2).  X is
 * not kept.  Errors: MM_EVALUE for bad labels, non-finite X or n == 0. */
mm_status mm_clf_train(mm_clf **out, const float *X, const int *y, size_t n, size_t d,
		int nclass, const mm_clf_params *p, mm_err *e);
/* probs [n, nclass], rows summing to 1. */
void mm_clf_predict(const mm_clf *m, const float *X, size_t n, float *probs);
/* Sparse features (sparse.h): fit on rows[0..n) of X (all rows when rows
 * is NULL), y[k] the label of the k-th of them.  Logistic regression only.
 * The model keeps the compact index of the columns that have a non-zero in
 * these rows (and, with standardize, each column's scale 1/std, never a
 * centring); a column unseen in training contributes nothing at prediction.
 * Memory: O(K × columns seen), whatever X's dim. */
struct mm_csr;
mm_status mm_clf_train_sparse(mm_clf **out, const struct mm_csr *X, const size_t *rows, size_t n,
		const int *y, int nclass, const mm_clf_params *p, mm_err *e);
/* probs [n, nclass] for rows[0..n) of X (all when rows is NULL).  MM_ENOMEM;
 * MM_EUSAGE when m was trained on dense features. */
mm_status mm_clf_predict_sparse(const mm_clf *m, const struct mm_csr *X, const size_t *rows,
		size_t n, float *probs, mm_err *e);
int mm_clf_nclass(const mm_clf *m);
size_t mm_clf_dim(const mm_clf *m);
/* The objective value reached (logreg) or the last training loss (MLP). */
double mm_clf_objective(const mm_clf *m);
void mm_clf_free(mm_clf *m);

#endif
