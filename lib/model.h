/* model.h — trained models and their files.
 *
 * A model file is one msgpack map inside a zstd frame (the record-stream
 * format of stream.h, holding one record), written atomically (temporary +
 * fsync + rename).  Fields:
 *
 *   format "mmoe-model", version 2, arch "expert", "transformer" or "mome",
 *   spec     expert: {nmod, dims, proj, act, fusion, bilinear_dim, hidden, layers, nclass, dropout}
 *            transformer (nn/encoder.h): {nmod, dims, tokens, width, depth, heads,
 *            ffn, nclass}: input f is a sequence of at most tokens[f] rows of
 *            dims[f] features (a record may have fewer: padding)
 *            mome (nn/move.h): {grids: [[H, W, D] per encoder], edim, tokens,
 *            transform, aggregate, points, width, depth, heads, ffn, nclass,
 *            adapters, adapter_route, adapter_dim, gumbel, balance}: features
 *            0..nenc-1 are the encoders' grids (every record exactly H×W),
 *            feature nenc the instruction embedding [edim]
 *   target   name of the target field; target_type "int" or "str";
 *   classes  [names]: class c of the net is classes[c] (for int targets "0","1",...)
 *   features [{name, dim, mean: tensor, std: tensor}]  (standardisation stats;
 *            a transformer's token input is standardised per feature, over
 *            every valid row, so dim is the row width)
 *            a sparse feature (spec.sparse[f] > 0) also has columns: a
 *            sparse vector {dim, indices, values} (sparse.h) holding the
 *            training columns (compact column k = indices[k]) and their
 *            scales; its mean and std (over the dims[f] pair values) are 0, 1
 *   spec.sparse  [compact columns per modality], only when one is sparse
 *   train    {epochs, batch, lr, weight_decay, warmup, clip, loss, alpha, gamma,
 *             class_weights (array or nil), select, patience, seed,
 *             best_epoch, best_metric, epochs_run, n_train, n_val, init}
 *   data_hash  mm_hash64 over the training records' ids and targets (uint64)
 *   commit   the build's commit (MM_COMMIT)
 *   graph    {nodes: [{name, kind, in: [node names], conf: {setting: value}}],
 *             output: node name}: the net, whatever built it (version 2)
 *   params   [{name, tensor}] in the net's registry order, read by name
 *
 * Version 1 files have no graph and name parameters "n<node>.<tensor>" by
 * position in the expert's registry: they load by rebuilding the expert from
 * spec, and save as version 2.
 *
 * Tensors use the record convention {"dtype":"f32","shape":[...],"data":bin}.
 * Packing is deterministic: the same model packs to the same bytes, so
 * save → load → save gives an identical decompressed file.  Loading checks
 * everything (format, version, every field's type, the spec, tensor shapes
 * against the built net, stats dims, class count against the head) and
 * fails with MM_ECORRUPT / MM_EVALUE and a message naming the file and field.
 */
#ifndef MM_MODEL_H
#define MM_MODEL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "nn.h"
#include "nn/encoder.h"
#include "nn/move.h"

#define MM_MODEL_VERSION 2

/* The architectures a model file names (field "arch"). */
enum { MM_ARCH_EXPERT = 0, MM_ARCH_TRANSFORMER = 1, MM_ARCH_MOME = 2 };

typedef struct mm_model {
	int arch;               /* MM_ARCH_* */
	/* expert: the architecture.  transformer: only nmod, dims (each token
	 * input's row width D), nclass and sparse (all 0) are set, the rest is
	 * zero; tspec is the architecture. */
	mm_net_spec spec;
	/* transformer: the architecture; mome: only nmod and in[] (every
	 * input's rows × width, as the loader reads them) */
	mm_transformer_spec tspec;
	mm_mome_spec mspec;     /* mome only */
	mm_net *net;            /* built from spec or tspec; owned */
	char *target;           /* owned */
	bool target_is_str;
	char **classes;         /* spec.nclass owned strings */
	char **feat;            /* spec.nmod owned field names */
	float **mean, **std;    /* spec.nmod arrays of dims[m] floats */
	struct mm_colmap **cols; /* spec.nmod entries: the training columns of a sparse
	                          * feature (owned), NULL for a dense one */
	/* training record (hyper-parameters and provenance) */
	mm_fit_params fit;      /* on_epoch/ctx/class_w unused here */
	float *class_w;         /* NULL or nclass weights used in training */
	int best_epoch, epochs_run;
	double best_metric;
	uint64_t n_train, n_val;
	uint64_t data_hash;
	char *init;             /* path of the --init model or NULL */
	char *commit;           /* build commit that trained it */
} mm_model;

/* A model for spec: builds (but does not initialise) the net, allocates
 * classes/feat (NULL entries), mean = 0 and std = 1. */
mm_status mm_model_new(mm_model **out, const mm_net_spec *spec, mm_err *e);
/* The same for a transformer (nn/encoder.h): mean and std have
 * tspec->in[f].D entries per input. */
mm_status mm_model_new_transformer(mm_model **out, const mm_transformer_spec *ts, mm_err *e);
/* The same for MoME (nn/move.h): nenc grid inputs and the instruction. */
mm_status mm_model_new_mome(mm_model **out, const mm_mome_spec *ms, mm_err *e);
/* Whether the model's dense inputs are token rows with lengths (transformer,
 * mome) rather than flat vectors (expert). */
static inline bool mm_model_tokens(const mm_model *m)
{
	return m->arch != MM_ARCH_EXPERT;
}
void mm_model_free(mm_model *m);

/* Set owned strings (copied). */
mm_status mm_model_set_class(mm_model *m, int c, const char *name, mm_err *e);
mm_status mm_model_set_feature(mm_model *m, int f, const char *name, mm_err *e);
mm_status mm_model_set_target(mm_model *m, const char *name, bool is_str, mm_err *e);

/* Serialise into sb (appends).  The packed map is deterministic. */
mm_status mm_model_pack(const mm_model *m, msgpack_sbuffer *sb, mm_err *e);
/* Parse and validate a packed model map. name is used in messages. */
mm_status mm_model_unpack(mm_model **out, const msgpack_object *o, const char *name, mm_err *e);

/* Write atomically to path (zstd, level from MMOE_ZSTD_LEVEL). */
mm_status mm_model_save(const mm_model *m, const char *path, mm_err *e);
/* Read, validate and build. */
mm_status mm_model_load(mm_model **out, const char *path, mm_err *e);

/* Any graph and its parameters, as the model file stores them (fields
 * "graph" and "params" above).  Packing is deterministic. */
void mm_net_pack_graph(const mm_net *net, msgpack_packer *pk);
void mm_net_pack_params(mm_net *net, msgpack_packer *pk);
/* Build a finished (zero) net from a packed graph.  Unknown layer kinds,
 * bad settings, inputs that are not earlier nodes: MM_ECORRUPT naming the
 * file `name` and the node. */
mm_status mm_net_unpack_graph(mm_net **out, const msgpack_object *graph, const char *name, mm_err *e);
/* Fill net's parameters from a packed array by name (any order).  Names
 * missing from the array or unknown to the net are MM_ECORRUPT, the
 * message listing them; a wrong shape too. */
mm_status mm_net_unpack_params(mm_net *net, const msgpack_object *params, const char *name, mm_err *e);

/* --init: copy into dst the values of src's parameters of the same names
 * (shapes must agree: MM_EVALUE otherwise).  The parameters of node
 * `skip_node` (NULL: none) are left as they are on both sides.  Names only
 * in dst (missing) or only in src (unexpected) are MM_EVALUE, the message
 * listing them, unless `partial`: then the missing ones keep their values,
 * and `note` (note_cap bytes, may be 0) says which; else note is "". */
mm_status mm_net_copy_by_name(mm_net *dst, mm_net *src, const char *skip_node, bool partial,
		char *note, size_t note_cap, mm_err *e);

/* Floats per record of input f of the net: dims[f] (expert), tokens × D
 * (transformer, padded), 2 × pairs (sparse). */
size_t mm_model_input_size(const mm_model *m, int f);
/* The node --init re-initialises when the classes differ: MM_EXPERT_OUTPUT
 * or the transformer's and MoME's "head". */
const char *mm_model_output_node(const mm_model *m);

/* Index of feature field `name`, or -1. */
int mm_model_feature_index(const mm_model *m, const char *name);
/* Index of class `name`, or -1. */
int mm_model_class_index(const mm_model *m, const char *name);
/* out[i, :] = (x[i, :] - mean_f) / std_f for n rows of dims[f]. */
void mm_model_standardize(const mm_model *m, int f, const float *x, size_t n, float *out);

/* Names for the spec's enums ("relu", "concat-prod", "ce", "macro_f1", ...)
 * and back (-1 when unknown). */
const char *mm_arch_name(int arch);   /* "expert", "transformer", "mome" */
int mm_arch_parse(const char *s);
const char *mm_act_name(int act);
int mm_act_parse(const char *s);
const char *mm_fusion_name(int fusion);
int mm_fusion_parse(const char *s);
const char *mm_loss_name(int loss);
int mm_loss_parse(const char *s);
const char *mm_select_name(int sel);
int mm_select_parse(const char *s);

#endif
