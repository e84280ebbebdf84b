/* train.h — what mmoe-train-expert does, as library calls: the model for
 * loaded data, its start (standardisation, weights from the seed or an
 * --init model), its training, and the prediction of records in batches.
 *
 * Training, in this order:
 *   mm_load (loader.h)            the records into training and val sets
 *   mm_train_model_new            the model for them (architecture, names)
 *   mm_train_start                standardisation, initial weights, --init
 *   mm_train_fit                  mm_net_fit (the mixture gate's objective
 *                                 for a gate), the outcome kept in the model
 *   mm_model_save (model.h)
 * Prediction: mm_predictor_new per model, then per batch of records
 * mm_predictor_set for each, mm_predictor_run, mm_predictor_annotate.
 *
 * Same seed, same data and options: the same model bytes, for any thread
 * count (mm_set_threads, gemm.h).  Nothing here prints or exits; messages
 * name the options of mmoe-train-expert where a choice of the user is the
 * cause.  Ownership is stated per function.
 */
#ifndef MM_TRAIN_H
#define MM_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loader.h"
#include "model.h"
#include "nn.h"
#include "record.h"

/* The architecture asked for (used unless an --init model gives its own).
 * The fields the data decides (inputs, dimensions, classes) are ignored. */
typedef struct mm_train_arch {
	int arch;                   /* MM_ARCH_EXPERT (--arch mlp), _TRANSFORMER or _MOME */
	mm_net_spec spec;           /* expert: proj, act, fusion, hidden, layers, dropout */
	mm_transformer_spec ts;     /* transformer and mome: width, depth, heads, ffn */
	mm_mome_spec ms;            /* mome: tokens, transform, points, aggregate, mole */
} mm_train_arch;

/* A new model for the loaded data ld (mm_load with params p): init's
 * architecture when init is not NULL, else a's, with ld's inputs (kinds,
 * dimensions, token rows, sparse columns) and classes, the feature names
 * p->feat and the target p->target (a mixture gate's target is
 * "mixture").  For MoME, p->feat's last field is the instruction and the
 * others the grids (ld->gh, ld->gw: loaded with p->grid).  The net is built,
 * not initialised (mm_train_start does).
 * MM_EUSAGE when the options do not fit the data (a sparse feature for a
 * transformer, a spec check failing), the message saying why. */
mm_status mm_train_model_new(mm_model **m, const mm_train_arch *a, const mm_model *init,
		const mm_loaded *ld, const mm_load_params *p, mm_err *e);

/* The checkpoint metric when none is asked for: f1 for two int classes,
 * macro_f1 otherwise (MM_SELECT_*). */
int mm_train_select_default(const mm_loaded *ld);

/* What mm_train_start did with --init. */
typedef struct mm_train_init_report {
	bool head_reset;            /* the classes differ: the output node starts afresh */
	char note[1200];            /* partial: the parameters init did not have; else "" */
} mm_train_init_report;

/* Start training m on ld:
 *   - standardise ld's sets with statistics fitted on the training set, or
 *     init's (mm_load_standardize; the sparse column maps move to m);
 *   - initialise m's weights from `seed` (the child stream "init" of it, so
 *     the trainer's own streams stay apart);
 *   - with init, copy its parameters by name (mm_net_copy_by_name; partial
 *     allows missing and unexpected names, listed in rep->note) except the
 *     output node's when the classes differ (rep->head_reset), and keep
 *     init_name in m->init;
 *   - record in m the sizes of the sets and the fingerprint of the data
 *     (data_hash: train and val ids and targets).
 * A name mismatch is MM_EVALUE listing the names.  rep may be NULL. */
mm_status mm_train_start(mm_model *m, mm_loaded *ld, uint64_t seed, const mm_model *init,
		const char *init_name, bool partial, mm_train_init_report *rep, mm_err *e);

/* Train m on ld's training set, selecting the checkpoint on its val set
 * (none: the last epoch), with fp (its class_w is kept in m: m takes
 * ownership of class_w, which may be NULL, as m->class_w).  A mixture gate
 * (ld loaded with nexperts >= 2) trains for the mixture's likelihood (nn.h
 * mm_mixture_objective, with tag_weight); fp->select must then be
 * MM_SELECT_LOSS.  m keeps fp (without callbacks) and the outcome (best
 * epoch and metric, epochs run); res, if not NULL, gets the whole result.
 * A failed fit (bad parameters, a diverging loss) is MM_EVALUE. */
mm_status mm_train_fit(mm_model *m, const mm_loaded *ld, const mm_fit_params *fp,
		float *class_w, float tag_weight, mm_fit_result *res, mm_err *e);

/* ---- prediction ---- */

/* Batches of records through one model: its inputs for up to `batch`
 * records, and their class probabilities.  The predictor does not own m,
 * which must outlive it. */
typedef struct mm_predictor mm_predictor;

mm_status mm_predictor_new(mm_predictor **pr, const mm_model *m, size_t batch, mm_err *e);
void mm_predictor_free(mm_predictor *pr);

/* Row `slot` (< batch) of the next batch: record r's features for the
 * model (mm_load_record: standardised, in the model's layout).  A missing
 * or bad feature names the record and the field, and model_name;
 * input_name (may be NULL) prefixes bad data. */
mm_status mm_predictor_set(mm_predictor *pr, size_t slot, mm_rec *r, const char *model_name,
		const char *input_name, mm_err *e);

/* Class probabilities of rows 0..n-1 (n <= batch), kept in the predictor
 * until the next run.  MM_ENOMEM, or an error of the net. */
mm_status mm_predictor_run(mm_predictor *pr, size_t n, mm_err *e);

/* Row k of the last run into record r: `as` the probabilities [C],
 * as_class the argmax (int), and for a string target as_label its class
 * name.  A MoME model also writes its routing: `as`_enc, the encoder
 * router's weights [encoders] (aggregate router), and `as`_adapter<l>, the
 * adapter block l chose (with adapters; nn/move.h's mm_mome_predict). */
mm_status mm_predictor_annotate(const mm_predictor *pr, size_t k, mm_rec *r, const char *as,
		const char *as_class, const char *as_label, mm_err *e);

#endif
