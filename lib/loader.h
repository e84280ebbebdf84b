/* loader.h — one dataset loader: a record stream into the data a learner
 * trains on (mm_dataset, nn.h), and one record into a model's inputs.
 *
 * Training (mm_load).  Records whose split field is "train" form the
 * training set, "val" the validation set; other splits, records failing
 * a --where (mm_rec_field_is) or an --exclude-flag (mm_rec_flag) filter,
 * and records without a target are counted and skipped.  For each kept
 * record the loader reads:
 *   - the features, by kind (decided per field by the first record that
 *     has it, or by the --init model):
 *       dense   a tensor of any shape, flattened: every record the same
 *               number of values (a majority vote blames the odd record);
 *       sparse  a sparse vector (sparse.h): the model's input is T
 *               (compact column, value) pairs over the columns seen in
 *               training, T the most known non-zeros of any record of the
 *               input (every split, so the same stream can be predicted);
 *       tokens  (p->tokens: a transformer's inputs) a tensor [D] (one row),
 *               [T, D] (T rows) or [H, W, D] (a grid of H·W rows, row-major,
 *               H and W kept per record for 2-D positions).  The rows keep
 *               their shape: set X[f] is n × T × D with T the most rows of
 *               any record of the input (or of the --init model), each
 *               record's valid rows first, then zero padding, and len[f]
 *               its row count.  D must be the same in every record.
 *   - the target: an int class, or a string class (the names sorted, or
 *     in the order p->classes gives); or, for a mixture gate, the experts'
 *     probabilities of the int target (mm_mixture, nn.h).
 * Every error names the input, the record (index and id) and the field.
 *
 * Standardisation (mm_load_standardize) then fits the statistics on the
 * training set (dataset.h: dense features per value, token features per
 * feature over every valid row, sparse ones by their column scales), or
 * takes them from an --init model, stores them in the model and applies
 * them to both sets.
 *
 * Prediction (mm_load_record): one record's features for a model, in the
 * model's input layout, standardised.
 *
 * Ownership: an mm_loaded owns every array it holds (mm_loaded_free);
 * mm_load_standardize hands the sparse column maps over to the model.  The
 * params' strings are read during the call only.  Nothing here prints or
 * exits.
 */
#ifndef MM_LOADER_H
#define MM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "nn.h"
#include "record.h"
#include "sparse.h"
#include "stream.h"

#define MM_LOAD_MAXFILTER 16
/* The largest int class mm_load_all takes without a class count. */
#define MM_LOAD_MAXCLASS 1000000
/* A token input of more values per record than this is refused (MM_ELIMIT). */
#define MM_LOAD_MAXVALUES (1 << 24)

enum { MM_FEAT_DENSE = 0, MM_FEAT_SPARSE = 1, MM_FEAT_TOKENS = 2 };
enum { MM_SET_TRAIN = 0, MM_SET_VAL = 1 };

typedef struct mm_load_params {
	int nfeat;                          /* 1..MM_NET_MAXMOD */
	const char *feat[MM_NET_MAXMOD];
	bool tokens;                        /* keep dense fields' shapes (tokens above) */
	int max_tokens;                     /* tokens: a kept record with more rows is an
	                                     * error, and T is at most this (0: no limit) */
	bool grid[MM_NET_MAXMOD];           /* tokens: field f must be a grid [H, W, D] of
	                                     * the same H and W in every kept record (and
	                                     * as the --init model's, if a MoME) */
	const char *target;                 /* "label" */
	const char *split_field;            /* "split" */
	int nwhere;                         /* keep records whose where_f[i] is where_v[i] */
	const char *where_f[MM_LOAD_MAXFILTER], *where_v[MM_LOAD_MAXFILTER];
	int nexcl;                          /* skip records whose flag excl[i] is true */
	const char *excl[MM_LOAD_MAXFILTER];
	/* Class names in order (NULL: string classes sorted, int classes 0..max
	 * seen).  With int targets, a class must be < nclasses. */
	int nclasses;
	const char *const *classes;
	/* The mixture gate (nexperts >= 2): the target is the experts, named by
	 * classes (required); a record's data are the probabilities of its int
	 * target under each expert field; only train records whose flag
	 * `heldout` is true train it; with tag_field, the class index of each
	 * record's string tag (a class name) too. */
	int nexperts;
	const char *const *experts;
	const char *heldout;                /* "heldout" */
	const char *tag_field;              /* NULL: no tags */
	/* Start from this model: its kinds, dimensions, token rows and sparse
	 * columns are imposed (named init_name in messages). */
	const mm_model *init;
	const char *init_name;
} mm_load_params;

/* One set (training or validation). */
typedef struct mm_load_set {
	mm_dataset d;                       /* nmod, X, len, y, n: for mm_net_fit */
	float *X[MM_NET_MAXMOD];            /* owned: d.X points here */
	int *len[MM_NET_MAXMOD];            /* tokens: valid rows per record; else NULL */
	int *grid_h[MM_NET_MAXMOD], *grid_w[MM_NET_MAXMOD]; /* tokens: H, W of a record
	                                     * given as [H, W, D] (0, 0 otherwise); NULL when
	                                     * no record of the field is a grid */
	int *y;                             /* n classes (the gate: its int target; d.y is NULL) */
	float *py;                          /* gate: n × nexperts p_k(y) */
	int *tag;                           /* gate with tag_field: n classes */
	uint64_t hash;                      /* mm_hash64 of the ids and targets, in order */
} mm_load_set;

typedef struct mm_loaded {
	mm_load_set set[2];                 /* MM_SET_TRAIN, MM_SET_VAL */
	int nfeat;
	int kind[MM_NET_MAXMOD];            /* MM_FEAT_* */
	int dim[MM_NET_MAXMOD];             /* dense: values; tokens: D; sparse: 2 × pairs */
	int T[MM_NET_MAXMOD];               /* tokens: rows; 1 otherwise */
	int gh[MM_NET_MAXMOD], gw[MM_NET_MAXMOD]; /* p->grid[f]: the grid every record has */
	struct mm_colmap *cols[MM_NET_MAXMOD]; /* sparse: the training columns (owned) */
	int nclass;
	char **classes;                     /* nclass owned names ("0", "1", ... for ints) */
	bool target_is_str;
	int nexperts;                       /* the mixture gate's experts (p->nexperts; 0: a classifier) */
	uint64_t nread, nother, nfiltered, ninsample, nnotarget;
} mm_loaded;

void mm_load_params_default(mm_load_params *p);
/* NULL when valid, else a message naming the bad parameter. */
const char *mm_load_params_check(const mm_load_params *p);

/* Read the whole stream rd into ld (zero-initialised or freed first).  No
 * training record is MM_EVALUE; so is a single class.  On failure ld is
 * freed. */
mm_status mm_load(mm_loaded *ld, mm_reader *rd, const mm_load_params *p, mm_err *e);
void mm_loaded_free(mm_loaded *ld);

/* Fit the standardisation on the training set (or copy init's), store it in
 * m (whose inputs match ld's), and apply it to both sets.  The sparse column
 * maps move from ld to m. */
mm_status mm_load_standardize(mm_loaded *ld, mm_model *m, const mm_model *init, mm_err *e);

/* The features of record r for model m, standardised, into row `slot` of
 * X[f] (mm_model_input_size(m, f) floats per row) and, for a transformer,
 * its valid rows into len[f][slot].  Errors name the record and field and
 * end with which model (model_name) wanted them; input_name (may be NULL)
 * prefixes bad data. */
mm_status mm_load_record(const mm_model *m, mm_rec *r, size_t slot, float *const *X,
		int *const *len, const char *model_name, const char *input_name, mm_err *e);

/* ---- every record, in order ----
 *
 * mm_load_all reads a whole stream for a learner that predicts every record
 * (mmoe-unipred: out-of-fold predictions for the training records, a model
 * fitted on all of them for the others) and then writes every record back.
 * It keeps all records, in stream order, and for each one:
 *   - the record itself (its fields are written back);
 *   - train[i]: its split field is "train" and it passes the --where and
 *     --exclude-flag filters (a string split, absent or nil; another type
 *     is MM_ETYPE);
 *   - y[i]: its target, an int class (mm_rec_label: a float, a bool or a
 *     string is MM_ETYPE), below p->nclasses when that is given, at most
 *     MM_LOAD_MAXCLASS otherwise; -1 when the target is absent or nil;
 *   - the feature p->feat[0], which every record must have: dense (any
 *     shape, flattened; the majority of the records decides the dimension
 *     and the odd record is blamed), or sparse when the first record's is a
 *     sparse vector (then every record's, as read: the learner fits its
 *     columns on the rows it trains on).
 * Training rows are those with train[i] and y[i] >= 0.
 *
 * Parameters: p->nfeat is 1, or 0 to read the records and splits only;
 * p->target NULL reads no target (y all -1, no class checks); p->nclasses
 * is a class COUNT here (0: 1 + the largest class); p->classes, tokens,
 * the mixture gate and init are not for this mode (MM_EUSAGE).
 *
 * Errors (MM_EVALUE unless said): no record; with a target, fewer than two
 * classes, no training row, or a class without a training row; a bad
 * record names the input, the record (index and id) and the field.
 *
 * Standardisation and class weights are not applied here: a cross-fitted
 * learner must fit them on each fold's training rows, so that the held-out
 * fold stays unseen (mm_clf does, with dataset.h's functions, the same
 * that mm_load_standardize and mmoe-train-expert use).
 *
 * Ownership: la owns the records and arrays (mm_loaded_all_free frees the
 * records still in rec[]; a caller that frees one sets its slot to NULL). */
typedef struct mm_loaded_all {
	size_t n;                           /* records */
	mm_rec **rec;                       /* n records, stream order */
	bool *train;                        /* n: split "train", filters passed */
	int *y;                             /* n: class, -1 for none */
	int kind;                           /* MM_FEAT_DENSE or MM_FEAT_SPARSE */
	size_t dim;                         /* dense: values per record; sparse: columns */
	float *X;                           /* dense: n x dim, row i of record i */
	mm_csr S;                           /* sparse: row i of record i */
	int nclass;                         /* with a target: >= 2 */
	size_t ntrain;                      /* training rows */
} mm_loaded_all;

/* Read the whole stream rd into la (its previous content is not freed).
 * On failure la is freed. */
mm_status mm_load_all(mm_loaded_all *la, mm_reader *rd, const mm_load_params *p, mm_err *e);
void mm_loaded_all_free(mm_loaded_all *la);

#endif
