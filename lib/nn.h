/* nn.h — the neural-network engine of mmoe: a graph of layers, a generic
 * trainer, and a simple high-level classifier.
 *
 * Three levels, each usable on its own:
 *
 *  1. Layers (nn/layer.h) and their kernels (nn/kernels.h: mm_linear_forward,
 *     mm_relu_backward, ...).  A layer kind is a table of operations in its
 *     own file under lib/nn/; every one is checked against central finite
 *     differences in tests/unit/nn_grad.c.
 *
 *  2. mm_net (nn/graph.c): a directed acyclic graph of named nodes evaluated
 *     in order, each only through its layer's table, with a registry of named
 *     parameters and gradients (param.h) that the optimisers (optim.h) and the
 *     model files (model.h) walk without knowing the layers.  A new layer kind
 *     is a new table, not a new graph or trainer.  mm_net_build()
 *     (nn/expert.c) builds the expert architecture of mmoe-train-expert from an
 *     mm_net_spec; mm_net_fit() (nn/fit.c) trains any net with AdamW, warm-up +
 *     cosine, clipping, early stopping.
 *
 *  3. mm_clf (nn/clf.c): "fit a classifier on an n × d float matrix":
 *     multinomial (or binary) L2 logistic regression solved to the optimum by
 *     L-BFGS, or a small MLP trained by mm_net_fit.  mmoe-unipred uses it.
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
#include "nn/kernels.h"
#include "nn/layer.h"
#include "param.h"
#include "rng.h"

/* ======================================================================
 * Graphs of layers
 * ====================================================================== */

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
 * need equal input dims).
 * Node names, and so parameter names: inputs "in<m>"; "enc.<m>.proj" (.W, .b),
 * "enc.<m>.act", "enc.<m>.drop"; "fuse.prod.<i>.<j>" or "fuse.bilinear.<i>.<j>"
 * (.W, .b), "fuse.cat"; "head.<l>.linear" (.W, .b), "head.<l>.act",
 * "head.<l>.drop"; the output layer "head.out" (.W, .b). */
typedef struct mm_net_spec {
	int nmod;
	int dims[MM_NET_MAXMOD]; /* input dimension per modality */
	/* > 0: modality m is a sparse feature over sparse[m] (compact) columns,
	 * given as dims[m] / 2 (column, value) pairs; its projection is a
	 * sparse_linear layer (lib/nn/layer.h), so proj must be > 0.  0: dense. */
	int sparse[MM_NET_MAXMOD];
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

/* The expert's output layer (node name), which --init re-initialises when
 * the classes differ. */
#define MM_EXPERT_OUTPUT "head.out"

/* Defaults: proj 256, relu, concat-prod, bilinear_dim 32, hidden 256, 1 layer, dropout 0.1. */
void mm_net_spec_default(mm_net_spec *s);
/* NULL when valid, else a message naming the bad field. */
const char *mm_net_spec_check(const mm_net_spec *s);

/* An empty graph with nmod inputs of the given widths (T = 1), named
 * "in0", "in1", ...; or of the given per-sample shapes.  Add nodes, then
 * finish. */
mm_status mm_net_new(mm_net **out, int nmod, const int *dims, mm_err *e);
mm_status mm_net_new_shaped(mm_net **out, int nmod, const mm_shape *shapes, mm_err *e);
/* Add a node of `kind` reading the given earlier nodes (ids as returned;
 * the inputs are ids 0..nmod-1), with the kind's settings struct `conf`
 * (mm_linear_conf, mm_dropout_conf, ...; NULL for kinds without settings;
 * copied).  `name` (NULL: "n<id>") must be unique in the net; it prefixes
 * the node's parameters: "<name>.W".  Names are 1..47 bytes of
 * [A-Za-z0-9_.-].  Returns the new node id, or -1 with e set
 * (MM_EUSAGE for a bad kind, input, setting or name). */
int mm_net_add(mm_net *net, mm_node_type kind, const char *name, const int *in, int nin,
		const void *conf, mm_err *e);
/* Mark `node` as the output and allocate the parameters (zero). */
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
/* The parameter called `name`, or NULL. */
mm_param *mm_net_param(mm_net *net, const char *name);

/* The node list, for saving a graph (model.h) or printing it.  The pointers
 * stay valid while the net lives. */
typedef struct mm_node_info {
	const mm_layer *op;
	const char *name;
	int nin;
	const int *in;        /* nin earlier node ids */
	const void *conf;     /* op->conf_size bytes, NULL when none */
	mm_shape shape;       /* per-sample output shape */
} mm_node_info;
int mm_net_nnodes(const mm_net *net);
void mm_net_node(const mm_net *net, int id, mm_node_info *out);
/* The output node's id (-1 before mm_net_finish). */
int mm_net_output(const mm_net *net);
/* The scratch a node's layer kept from the last forward (its layout is the
 * layer's; e.g. nn/mole.h's choices), NULL when none or id out of range. */
const float *mm_net_node_scratch(const mm_net *net, int id);
/* Profiling: with `on`, every later forward and backward adds each layer
 * call's wall time to its node (mm_net_node_seconds); mm_net_profile
 * resets the sums.  Off by default (it costs two clock reads per node). */
void mm_net_profile(mm_net *net, bool on);
void mm_net_node_seconds(const mm_net *net, int id, double *fwd, double *bwd);
/* The id of the node called `name`, or -1. */
int mm_net_node_id(const mm_net *net, const char *name);
int mm_net_nmod(const mm_net *net);
int mm_net_dim(const mm_net *net, int m);
/* Per-sample rows T of input m (1 for vectors; 0 when out of range). */
int mm_net_rows(const mm_net *net, int m);
/* FLOPs (2 × multiply-adds) of one forward pass per sample, for GFLOP/s figures. */
double mm_net_flops_per_sample(const mm_net *net);

/* Forward a batch: X[m] is B × dim(m), row-major.  train: dropout on (rng
 * required).  Returns the logits [B, nout], owned by the net, or NULL when
 * the activation buffers cannot be allocated.  A net holds the activations
 * of its last forward: one forward/backward at a time per net (not
 * thread-safe); the BLAS underneath may use several threads. */
const float *mm_net_forward(mm_net *net, const float *const *X, int B, bool train, mm_rng *rng);
/* The same with sequences: len[m] (B entries in 1..T of input m, or NULL
 * for all T rows valid; len itself NULL: all inputs full) are the valid rows
 * of each input sample, the rest padding (finite values, ignored: see
 * nn/seq.h).  The lengths are read again by the backward: keep them. */
const float *mm_net_forward_seq(mm_net *net, const float *const *X, const int *const *len,
		int B, bool train, mm_rng *rng);
/* The sum of the layers' auxiliary losses in the last training forward (0
 * when no layer has one). */
double mm_net_aux_loss(const mm_net *net);
/* Backward from dlogits [B, nout] of the last forward (the gradient of the
 * objective w.r.t. the output; the layers add their auxiliary losses'
 * gradients themselves); adds into the parameters' g, frozen ones excepted.
 * Clear them first with mm_net_zero_grad. */
void mm_net_backward(mm_net *net, const float *dlogits);
/* The same, but the parameters' g (frozen ones excepted) are set to this
 * batch's gradient rather than added to: a training step's clearing and
 * backward in one pass, without a pass over every gradient first. */
void mm_net_backward_step(mm_net *net, const float *dlogits);
void mm_net_zero_grad(mm_net *net);
/* Copy all parameter values between two nets of the same structure. */
void mm_net_copy_params(mm_net *dst, const mm_net *src);

/* A dataset in memory: per modality an n × dim matrix (row-major, already
 * standardised), and targets in 0..nclass-1 (may be NULL for prediction).
 * For an input of T > 1 rows, len[m] (NULL: all T) gives each record's
 * valid rows, 1..T; mm_net_fit refuses others (MM_EVALUE). */
typedef struct mm_dataset {
	int nmod;
	const float *X[MM_NET_MAXMOD];
	const int *len[MM_NET_MAXMOD];
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
	/* A custom objective of the whole output, used instead of `loss` (NULL:
	 * `loss` on the targets).  Gets the batch's outputs Z [B, nout] and the
	 * indices idx[0..B) of its records in d (the dataset being trained or
	 * validated on, whose y may then be NULL), returns the batch's objective
	 * (a mean over the batch, to be minimised) and, when dZ is not NULL,
	 * writes its gradient dZ [B, nout].  Validation uses it too (dZ NULL),
	 * so `select` must be MM_SELECT_LOSS.  For instance the negative log
	 * of a mixture log Σ_k w_k(Z) p_k(y), with the p_k looked up by idx. */
	double (*objective)(void *octx, const float *Z, int B, int nout, const mm_dataset *d,
			const size_t *idx, float *dZ);
	void *octx;
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
 * otherwise the last epoch's.  The net must be initialised.  Each step
 * clears the gradients, minimises the loss (or p->objective) plus the
 * layers' auxiliary losses, clips and takes an AdamW step; frozen
 * parameters stay as they are. */
mm_status mm_net_fit(mm_net *net, const mm_dataset *train, const mm_dataset *val,
		const mm_fit_params *p, mm_fit_result *res, mm_err *e);
/* Class probabilities P [n, nout] in batches (no dropout).  MM_ENOMEM when
 * the activations cannot be allocated (P is then incomplete). */
mm_status mm_net_predict(mm_net *net, const mm_dataset *d, float *P, mm_err *e);

/* A gate over K experts trained for the mixture (nn/mixture.c): the net's K
 * outputs z give the weights w = softmax(z), and the objective is the
 * negative log likelihood of the mixture,
 *     -(1/B) Σ_i log Σ_k w_k(x_i) p_k(y_i | x_i),
 * whose gradient in z_i is (w - r_i)/B with r_ik = w_k p_k / Σ_j w_j p_j.
 * Only the experts' probabilities of each record's true class are needed:
 * py[s] is n × K for the dataset d[s] (s = 0 train, 1 validation; d[1] and
 * py[1] may be NULL), row i holding p_k(y_i) of record i.  The p_k must be
 * honest: predictions on records the experts were not trained on (otherwise
 * the gate learns to trust whichever expert memorised its data).
 * Probabilities below MM_MIXTURE_PFLOOR count as the floor, so the objective
 * stays finite when every expert is sure and wrong.  Neither the struct nor
 * the arrays are copied: they must outlive mm_net_fit.
 * With tag_weight λ in (0, 1] the objective is (1-λ) times that plus λ times
 * the cross-entropy of w against a tag per record (tag[s], n entries in
 * 0..K-1, as the tag router learns), a mixture gate held near the tag router;
 * 0 (zero-initialised) is the mixture alone, and tag may then be NULL.
 * Use: p.objective = mm_mixture_objective, p.octx = &mix,
 * p.select = MM_SELECT_LOSS.  Returns NaN (which the trainer refuses) when
 * called on another dataset or with nout != K. */
#define MM_MIXTURE_MAXK 64
#define MM_MIXTURE_PFLOOR 1e-12
typedef struct mm_mixture {
	int K;                      /* 2..MM_MIXTURE_MAXK */
	const mm_dataset *d[2];
	const float *py[2];
	float tag_weight;           /* λ in [0, 1] */
	const int *tag[2];
} mm_mixture;
double mm_mixture_objective(void *octx, const float *Z, int B, int nout, const mm_dataset *d,
		const size_t *idx, float *dZ);


/* ======================================================================
 * High-level classifier (used by mmoe-unipred)
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
/* probs [n, nclass], rows summing to 1.  MM_ENOMEM when out of memory
 * (probs is then incomplete). */
mm_status mm_clf_predict(const mm_clf *m, const float *X, size_t n, float *probs, mm_err *e);
/* Sparse features (sparse.h): fit on rows[0..n) of X (all rows when rows
 * is NULL), y[k] the label of the k-th of them.  The model keeps the compact
 * index of the columns that have a non-zero in these rows (and, with
 * standardize, each column's scale 1/std, never a centring); a column unseen
 * in training contributes nothing at prediction.  Logistic regression works
 * through the sparse kernels; the MLP's first layer is a sparse_linear
 * layer (lib/nn/layer.h) over T (column, value) pairs per example, T the
 * largest number of known non-zeros in any row of X.  Memory: O(columns
 * seen × width), whatever X's dim; time O(non-zeros × width). */
struct mm_csr;
mm_status mm_clf_train_sparse(mm_clf **out, const struct mm_csr *X, const size_t *rows, size_t n,
		const int *y, int nclass, const mm_clf_params *p, mm_err *e);
/* probs [n, nclass] for rows[0..n) of X (all when rows is NULL).  MM_ENOMEM;
 * MM_EUSAGE when m was trained on dense features; MM_ELIMIT (MLP) when a row
 * has more known non-zeros than the T of the training matrix. */
mm_status mm_clf_predict_sparse(const mm_clf *m, const struct mm_csr *X, const size_t *rows,
		size_t n, float *probs, mm_err *e);
int mm_clf_nclass(const mm_clf *m);
size_t mm_clf_dim(const mm_clf *m);
/* The objective value reached (logreg) or the last training loss (MLP). */
double mm_clf_objective(const mm_clf *m);
void mm_clf_free(mm_clf *m);

#endif
