/* unipred.h — the pure parts of stage 1 of MMoE (unimodal predictions):
 * stratified fold assignment for cross-fitting, the decision margin, the
 * authors' class balancing, and the parsing of external prediction files.
 *
 * The classifier itself lives in nn.h; this file holds what is independent
 * of it, so that it can be unit-tested on hand-made cases.
 *
 * A prediction is a probability vector p[C] (non-negative, sums to 1) and a
 * class (normally argmax p; an imported file may say otherwise, see below).
 */
#ifndef MM_UNIPRED_H
#define MM_UNIPRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* ---- cross-fitting ------------------------------------------------------- */

/* Stratified K-fold assignment.  y[i] in [0, nclass) for the n items; fold[i]
 * receives a fold in [0, k).  The members of each class are shuffled (a
 * child generator of `seed` per class) and dealt round-robin, the deal
 * continuing from class to class, so every fold gets floor or ceil of n/k
 * items and of each class's count.  Errors: k < 2 or n < k (MM_EVALUE, the
 * message says how many items there are), y out of range (MM_EVALUE, naming
 * the item index).  Same seed, same folds. */
mm_status mm_unipred_folds(const int *y, size_t n, int nclass, int k,
		uint64_t seed, int *fold, mm_err *e);

/* ---- probabilities ------------------------------------------------------- */

/* In place: divide by the sum.  MM_EVALUE (message without context) when a
 * value is negative or not finite, or the sum is 0. */
mm_status mm_unipred_normalise(float *p, int c, mm_err *e);
/* |p(top) - p(second)| of the normalised p, in [0, 1]; c == 1 gives 1.
 * The authors' |P(yes) - P(no)| in the binary case. */
double mm_unipred_margin(const float *p, int c);

/* ---- balancing (binary) ---------------------------------------------------
 * The authors' rule on the training split: if fewer than a fraction b of the
 * n predictions are positive (cls == 1), the ceil(b*n) predictions with the
 * highest P(positive) become positive; symmetrically, if more than 1 - b are
 * positive, the ceil(b*n) with the lowest P(positive) become negative.  Ties
 * in P(positive) are broken by position (earlier first for the top, later
 * first for the bottom), so the result is deterministic.  Only cls changes. */
typedef struct mm_balance_report {
	size_t n;         /* predictions considered */
	size_t pos_before, pos_after;
	size_t k;         /* ceil(b*n): the forced count (0 when nothing was done) */
	size_t changed;   /* predictions whose class changed */
	int direction;    /* +1 forced positives, -1 forced negatives, 0 none */
} mm_balance_report;
/* ppos[i] = P(class 1); cls[i] in {0, 1} is updated.  b in [0, 0.5]. */
mm_status mm_unipred_balance(const float *ppos, int *cls, size_t n, double b,
		mm_balance_report *rep, mm_err *e);

/* ---- imported predictions ------------------------------------------------ */

/* Where an imported entry's class comes from when the file gives both a
 * class (`pred` in JSON, `<field>_class` in a record stream) and scores. */
typedef enum mm_import_class {
	MM_IMPORT_CLASS_PRED,    /* the file's class; a null `pred` = no prediction */
	MM_IMPORT_CLASS_ARGMAX,  /* argmax of the probabilities, always */
} mm_import_class;

typedef struct mm_import_opts {
	/* Class names, in class order, for logits/probs given as objects keyed by
	 * name ({"Yes": -1.2, "No": -0.4}); keys not listed are ignored.  NULL
	 * when absent: then named scores are an error. */
	const char *const *class_names;
	int nclass_names;
	/* Field holding the prediction tensor when the file is a record stream. */
	const char *field;
	mm_import_class class_from;
} mm_import_opts;

typedef struct mm_import_entry {
	char *id;
	float *p;        /* nclass probabilities (normalised); NULL: no prediction */
	int cls;         /* predicted class; -1 when p is NULL */
	bool used;       /* set by the caller when a record matched it */
} mm_import_entry;

typedef struct mm_import {
	mm_import_entry *ent;   /* sorted by id (strcmp) */
	size_t n;
	int nclass;
	const char *format;     /* "JSON object", "JSON Lines", "JSON array", "record stream" */
	size_t null_pred;       /* entries whose class was null (no prediction) */
	size_t pred_differs;    /* entries whose given class differs from argmax */
	size_t no_field;        /* stream records without the field (not entries) */
	size_t no_id;           /* stream records without an id (not entries) */
} mm_import;

/* Parse an external prediction file held in buf[0..len) (name is for
 * messages).  The format is detected:
 *   - a JSON object keyed by id, each value an object with "logits" or
 *     "probs" (an array, or an object keyed by class name) and optionally
 *     "pred" (integer, boolean or null) — the MUStARD authors' files;
 *   - JSON Lines (or a JSON array) of objects with "id" and "logits" or
 *     "probs", optionally "pred";
 *   - a record stream (msgpack, optionally zstd) whose records carry `id`
 *     and the tensor opts->field, optionally `<field>_class`; records
 *     without the field or without an id are counted (no_field, no_id).
 * A JSON object with a member "id", "probs" or "logits" is one JSON Lines
 * line, otherwise an object keyed by id.
 * Logits go through a softmax; probabilities are normalised.  Every entry
 * must have the same number of classes.  Duplicate ids, malformed entries,
 * a class out of range: MM_ECORRUPT/MM_ETYPE/MM_EVALUE naming the entry.
 * On success *out owns everything (mm_import_free). */
mm_status mm_import_parse(const char *buf, size_t len, const char *name,
		const mm_import_opts *opts, mm_import *out, mm_err *e);
/* The entry with this id, or NULL. */
mm_import_entry *mm_import_find(mm_import *im, const char *id);
void mm_import_free(mm_import *im);

#endif
