/* layer.h — the table of operations every layer kind implements.
 *
 * A net (nn.h) is a list of nodes; each node is an instance of a layer kind
 * (linear, relu, layernorm, ...) with its settings, its inputs (earlier
 * nodes) and its parameters.  The graph, the trainer and the model files
 * know a layer only through its mm_layer below: a new kind is one entry in
 * mm_node_type, one entry in the registry (lib/nn/registry.c, checked
 * against MM_NODE_NTYPES at compile time) and one file implementing the
 * table.  Layer files include this header only, never nn.h.
 *
 * Shapes.  Every value flowing between nodes is a batch of B samples, each
 * a [T, D] row-major matrix: T positions (tokens, grid cells) of D features.
 * Plain vectors have T = 1.  A buffer of a node holds B*T*D floats, sample
 * after sample.  Layers that act on features only (linear, activations,
 * layer norm) treat it as B*T rows of D.
 *
 * Gradients.  The graph clears every gradient buffer (node outputs and
 * parameters) before a layer's backward writes to it; a layer's backward
 * *adds* into the input gradients dx[k] and its parameters' g, and never
 * zeroes anything it does not own.  A layer may declare `stores` and then
 * store instead of adding where io->dx_fresh[k] / io->p_fresh say the
 * buffer holds nothing yet, which saves the graph clearing it.
 */
#ifndef MM_NN_LAYER_H
#define MM_NN_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "param.h"
#include "rng.h"

/* The registry of layer kinds: this enum, and the table in registry.c in
 * the same order.  Values are stable only within a build; model files name
 * kinds by mm_layer.name. */
typedef enum mm_node_type {
	MM_NODE_INPUT = 0, /* a net input: shape from its settings, no computation */
	MM_NODE_LINEAR,    /* x W^T + b over the last dimension */
	MM_NODE_RELU,
	MM_NODE_GELU,
	MM_NODE_DROPOUT,   /* inverted dropout at training time, identity otherwise */
	MM_NODE_LAYERNORM, /* over the last dimension, learnt gamma and beta */
	MM_NODE_CONCAT,    /* any number of inputs, along the last dimension */
	MM_NODE_PROD,      /* in0 ⊙ in1, equal shapes */
	MM_NODE_BILINEAR,  /* in0^T W in1 + b → size outputs */
	MM_NODE_PENALTY,   /* identity, with the auxiliary loss weight/2 · mean_b ‖x_b‖² */
	/* sequences (nn/seq.h): [T, D] samples with per-sample lengths */
	MM_NODE_ADD,       /* in0 + in1, equal shapes (a residual) */
	MM_NODE_MIX,       /* Σ_k softmax(logits)_k in_k over K equal-shaped inputs */
	MM_NODE_POSEMB,    /* + a learned position table [T, D] (valid rows) */
	MM_NODE_MODEMB,    /* + a learned vector [D] on every valid row */
	MM_NODE_CLS,       /* a learned [CLS] row in front: [T, D] → [T+1, D] */
	MM_NODE_SEQCAT,    /* sequences joined along T, valid rows first */
	MM_NODE_MEANPOOL,  /* mean over the valid rows: [T, D] → [1, D] */
	MM_NODE_CLSPOOL,   /* row 0: [T, D] → [1, D] */
	MM_NODE_SELFATTN,  /* multi-head self-attention with the padding mask */
	MM_NODE_XATTN,     /* queries from in0, keys and values from in1 */
	MM_NODE_BLOCK,     /* pre-norm transformer block: LN→attention→add, LN→GELU FFN→add */
	MM_NODE_SPARSE_LINEAR, /* (column, value) pairs [T, 2] → b + Σ v W[c] (sparse_linear.c) */
	MM_NODE_MOLE,      /* top-1 routed bottleneck adapters (nn/mole.h, mole.c) */
	/* MoVE (nn/move.h, move.c) */
	MM_NODE_AVGPOOL2D, /* adaptive 2-D average pooling of a grid to k × k rows */
	MM_NODE_DEFORM,    /* deformable cross-attention of queries over a grid */
	MM_NODE_ROUTE,     /* Σ_k softmax(router logits)_k in_k, per-example logits */
	MM_NODE_NTYPES
} mm_node_type;

/* Inputs of one node, parameters of one node. */
#define MM_LAYER_MAXIN 16
#define MM_LAYER_MAXPARAM 12

/* Per-sample shape: T positions of D features. */
typedef struct mm_shape {
	int T, D;
} mm_shape;

/* The settings of a node are a plain struct of the kind (conf_size bytes),
 * described field by field so that the graph can validate, save and load
 * them without knowing the kind. */
typedef enum mm_conf_type {
	MM_CONF_INT,   /* int */
	MM_CONF_FLOAT, /* float */
} mm_conf_type;

typedef struct mm_conf_field {
	const char *key;   /* name in the model file */
	mm_conf_type type;
	size_t offset;     /* offsetof(the kind's struct, field) */
	double lo, hi;     /* accepted range, inclusive (checked on add and load) */
} mm_conf_field;

/* A parameter a node declares: the graph allocates it and names it
 * "<node name>.<suffix>". */
typedef struct mm_param_decl {
	const char *suffix; /* "W", "b", "gamma", ... */
	int64_t rows, cols;
	bool decay;
} mm_param_decl;

/* Everything a layer operation sees of its node, filled by the graph.
 * Pointers into buffers are valid for the duration of the call. */
typedef struct mm_layer_io {
	const void *conf;                  /* the node's settings */
	int nin;
	mm_shape in[MM_LAYER_MAXIN];       /* per-sample input shapes */
	mm_shape out;                      /* per-sample output shape */
	mm_param *p;                       /* the node's parameters, as declared */
	int B;                             /* samples in the batch (0 outside forward/backward) */
	const float *x[MM_LAYER_MAXIN];    /* inputs [B, in[k].T, in[k].D] */
	const int *len[MM_LAYER_MAXIN];    /* their valid rows per sample, 1..in[k].T
	                                    * (NULL: all T); rows past them are padding */
	float *dx[MM_LAYER_MAXIN];         /* their gradients to add to; NULL: not wanted */
	float *y;                          /* output [B, out.T, out.D] */
	const float *dy;                   /* gradient of the objective w.r.t. y */
	/* For layers with `stores` set: dx[k] holds no value yet, store into it
	 * instead of adding; p_fresh: likewise for the parameters' g.  Always
	 * false for the other layers (the graph clears for them). */
	bool dx_fresh[MM_LAYER_MAXIN];
	bool p_fresh;
	float *scratch;                    /* scratch(io) floats, kept from forward to backward */
	bool train;                        /* training pass (dropout on) */
	mm_rng *rng;                       /* training randomness; NULL when !train */
} mm_layer_io;

typedef struct mm_layer {
	mm_node_type kind;       /* its index in the registry */
	const char *name;        /* "linear": stable, stored in model files */
	int min_in, max_in;      /* accepted number of inputs */
	size_t conf_size;        /* bytes of the settings struct (0: none) */
	const mm_conf_field *conf_fields; /* conf_nfields entries (NULL when none) */
	int conf_nfields;
	/* Output shape from the settings and the input shapes.  NULL when fine,
	 * else a static message ("input widths differ").  io->p, buffers: unset. */
	const char *(*shape)(const mm_layer_io *io, mm_shape *out);
	/* The output's valid rows per sample (io->B entries) when they are not
	 * input 0's; NULL: input 0's lengths (none when out.T == 1). */
	void (*lengths)(const mm_layer_io *io, int *len);
	/* Declare the parameters (at most MM_LAYER_MAXPARAM); returns how many.
	 * NULL: none. */
	int (*params)(const mm_layer_io *io, mm_param_decl *out);
	/* Scratch floats for a batch of io->B samples.  NULL: none. */
	size_t (*scratch)(const mm_layer_io *io);
	/* Initialise the parameters from rng (deterministic).  NULL: none. */
	void (*init)(const mm_layer_io *io, mm_rng *rng);
	/* y from x (and scratch for the backward). */
	void (*forward)(const mm_layer_io *io);
	/* Add d(objective)/dx into dx[k] (where non-NULL) and into the
	 * parameters' g (those not frozen), from dy.  Includes the gradient of
	 * the layer's auxiliary loss, if it has one.  NULL: the kind has no
	 * inputs to propagate to. */
	void (*backward)(const mm_layer_io *io);
	/* The backward honours io->dx_fresh and io->p_fresh (an optimisation:
	 * the graph then need not clear those buffers first). */
	bool stores;
	/* Optional auxiliary loss of the last training forward (a value the
	 * trainer adds to the objective, e.g. a router's load balance); its
	 * gradient is part of backward.  NULL: none. */
	double (*aux_loss)(const mm_layer_io *io);
	/* FLOPs (2 × multiply-adds) of a forward per sample.  NULL: negligible. */
	double (*flops)(const mm_layer_io *io);
} mm_layer;

/* The layer of a kind (NULL when out of range), by name (NULL when unknown). */
const mm_layer *mm_layer_of(mm_node_type kind);
const mm_layer *mm_layer_find(const char *name);

/* Settings of the kinds that have some (the struct a caller passes to
 * mm_net_add; zero-initialised fields mean the stated defaults). */
typedef struct mm_input_conf {
	int T, D;      /* per-sample shape; T = 0 means 1 */
} mm_input_conf;
typedef struct mm_linear_conf {
	int size;      /* output width (linear, bilinear) */
} mm_linear_conf;
typedef struct mm_sparse_linear_conf {
	int size;      /* output width */
	int dim;       /* input columns (the compact columns of a sparse feature) */
} mm_sparse_linear_conf;
typedef struct mm_dropout_conf {
	float p;       /* drop rate in [0, 1) */
} mm_dropout_conf;
typedef struct mm_penalty_conf {
	float weight;  /* ≥ 0: an activity regulariser on the node's input */
} mm_penalty_conf;

typedef struct mm_attn_conf {
	int heads;     /* attention heads: D % heads == 0 (selfattn, xattn, block) */
	int ffn;       /* FFN hidden width (block; unused otherwise) */
} mm_attn_conf;

typedef struct mm_mole_conf {
	int adapters;  /* N ≥ 1 (as a builder field, 0 means no adapters) */
	int route;     /* MM_MOLE_INSTANCE, _TOKEN, _BOTH (nn/mole.h) */
	int dim;       /* bottleneck width r; 0 means 16 */
	float gumbel;  /* τ of the Gumbel-softmax in training; 0 = off */
	float balance; /* weight of the load-balancing auxiliary loss; 0 = off */
} mm_mole_conf;

/* The kinds, defined one family per file. */
extern const mm_layer mm_layer_input, mm_layer_concat, mm_layer_prod; /* join.c */
extern const mm_layer mm_layer_linear, mm_layer_bilinear;              /* linear.c */
extern const mm_layer mm_layer_relu, mm_layer_gelu, mm_layer_dropout;  /* act.c */
extern const mm_layer mm_layer_penalty;                                /* act.c */
extern const mm_layer mm_layer_layernorm;                              /* norm.c */
extern const mm_layer mm_layer_add, mm_layer_mix, mm_layer_posemb,     /* seq.c */
	mm_layer_modemb, mm_layer_cls, mm_layer_seqcat, mm_layer_meanpool, mm_layer_clspool;
extern const mm_layer mm_layer_selfattn, mm_layer_xattn;               /* attention.c */
extern const mm_layer mm_layer_block;                                  /* block.c */
extern const mm_layer mm_layer_sparse_linear;                          /* sparse_linear.c */
extern const mm_layer mm_layer_mole;                                   /* mole.c */
extern const mm_layer mm_layer_avgpool2d, mm_layer_deform, mm_layer_route; /* move.c */

/* The gradient a backward adds to: NULL for a frozen parameter. */
static inline float *mm_param_grad(const mm_param *p)
{
	return p->frozen ? NULL : p->g;
}

/* Uniform initialisation in ±bound (PyTorch's default for linear layers:
 * bound = 1/√fan_in), in the order of p's elements. */
void mm_layer_init_uniform(mm_param *p, double bound, mm_rng *rng);

#endif
