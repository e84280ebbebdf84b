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

/* Which class an imported entry has.  A file may give scores (logits or
 * probabilities), a class (`pred` in JSON, `<field>_class` in a record
 * stream), or both; an explicit null class ("pred": null) is the file
 * saying "no prediction". */
typedef enum mm_import_class {
	/* The default: the argmax of the scores; a null pred = no prediction;
	 * an entry with a class and no scores: that class (one-hot). */
	MM_IMPORT_CLASS_SCORES,
	/* The file's class where given (scores only where it is absent); a null
	 * pred = no prediction.  For files whose scores are not to be trusted. */
	MM_IMPORT_CLASS_PRED,
	/* The argmax of the scores always, a null pred included. */
	MM_IMPORT_CLASS_ARGMAX,
} mm_import_class;

/* The default of mm_import_opts.max_bad: a file of which more than 1% of
 * the entries are unusable is refused. */
#define MM_IMPORT_MAX_BAD 0.01

typedef struct mm_import_opts {
	/* Class names, in class order, for logits/probs given as objects keyed by
	 * name ({"Yes": -1.2, "No": -0.4}); keys not listed are ignored.  NULL
	 * when absent: then named scores are an error. */
	const char *const *class_names;
	int nclass_names;
	/* For scores in arrays (and classes) in another order than ours: our
	 * class c is the file's column (and class) order[c]; a permutation of
	 * 0..norder-1 (the caller checks), or NULL. */
	const int *order;
	int norder;
	/* The number of classes when known (> 0); 0: norder or nclass_names when given,
	 * else the most common row length of the file (the first on a tie), else
	 * (a file of classes only) 1 + the largest class, at least 2. */
	int nclass;
	/* Key of the id in JSON entries; NULL or "" means "id". */
	const char *id_key;
	/* Field holding the prediction tensor when the file is a record stream. */
	const char *field;
	mm_import_class class_from;
	/* Fraction of the entries read that may be unusable (a row of the wrong
	 * length, a non-finite value, an id given more than once: such entries
	 * are skipped and counted); above it mm_import_parse fails.  0 refuses
	 * any.  Callers normally pass MM_IMPORT_MAX_BAD. */
	double max_bad;
} mm_import_opts;

typedef struct mm_import_entry {
	char *id;
	float *p;        /* nclass probabilities (normalised); NULL: no prediction */
	int cls;         /* predicted class; -1 when p is NULL */
	bool used;       /* set by the caller when a record matched it */
} mm_import_entry;

typedef struct mm_import {
	mm_import_entry *ent;   /* the usable entries, sorted by id (strcmp) */
	size_t n;
	int nclass;
	const char *format;     /* "JSON object", "JSON Lines", "JSON array", "record stream" */
	size_t read;            /* entries read (usable or not) */
	size_t null_pred;       /* entries whose class was null (no prediction) */
	size_t pred_differs;    /* entries whose given class differs from the argmax */
	size_t class_only;      /* entries with a class and no scores (one-hot) */
	/* unusable entries, skipped: */
	size_t bad_length;      /* scores of another length than nclass */
	size_t nonfinite;       /* a NaN or infinite score */
	size_t dup_ids;         /* ids given more than once (every copy is skipped) */
	size_t dup_entries;     /* the entries of those ids */
	char first_bad[200];    /* what the first unusable entry was ("" if none) */
	size_t no_field;        /* stream records without the field (not entries) */
	size_t no_id;           /* stream records without an id (not entries) */
} mm_import;

/* Parse an external prediction file held in buf[0..len) (name is for
 * messages).  The format is detected:
 *   - a JSON object keyed by id, each value an object with "logits" or
 *     "probs" (an array, or an object keyed by class name) and/or "pred"
 *     (integer, boolean or null) — the MUStARD authors' files;
 *   - JSON Lines (or a JSON array) of objects with the id (opts->id_key) and
 *     "logits", "probs" and/or "pred" — e.g. PyTorch exports;
 *   - a record stream (msgpack, optionally zstd) whose records carry `id`
 *     and the tensor opts->field, optionally `<field>_class`; records
 *     without the field or without an id are counted (no_field, no_id).
 * A JSON object with a member named opts->id_key, "probs" or "logits" is one
 * JSON Lines line, otherwise an object keyed by id.  JSON has no NaN: the
 * bare words NaN, Infinity and -Infinity that Python's json module writes
 * (and those words as strings) are read as non-finite scores.
 * Logits go through a softmax; probabilities are normalised.  An entry with
 * a class and no scores becomes the one-hot vector of that class (a class
 * carries no confidence: fused with others, it weighs as a certain expert).
 * Unusable entries (see max_bad) are skipped and counted; when they exceed
 * max_bad, MM_EVALUE saying how many of each kind and what the first was.
 * Malformed entries (a missing id, scores of the wrong type, a negative
 * probability, a class out of range) are MM_ETYPE/MM_EVALUE/MM_MISSING
 * naming the entry; an empty file or a file without entries is MM_EVALUE.
 * On success *out owns everything (mm_import_free). */
mm_status mm_import_parse(const char *buf, size_t len, const char *name,
		const mm_import_opts *opts, mm_import *out, mm_err *e);
/* The entry with this id, or NULL. */
mm_import_entry *mm_import_find(mm_import *im, const char *id);
void mm_import_free(mm_import *im);
/* "the argmax of the scores", "the file's class", "the argmax, null pred included" */
const char *mm_import_class_desc(mm_import_class c);

/* ---- joining imports to records -----------------------------------------
 * The predictions of one field may come in several files (e.g. one per
 * split); an id must be in at most one of them. */

/* The default of mm_import_join's max_unmatched: refuse files of which more
 * than half the ids are not in the stream (a file of another data set). */
#define MM_IMPORT_MAX_UNMATCHED 0.5

typedef struct mm_join_report {
	size_t records;    /* n */
	size_t matched;    /* records given a prediction */
	size_t absent;     /* records whose id is in no file */
	size_t null_pred;  /* records whose entry says "no prediction" */
	size_t no_id;      /* records without an id (ids[i] == NULL) */
	size_t entries;    /* entries of the files (usable ones) */
	size_t unknown;    /* entries whose id is no record's */
	const char *first_unknown;  /* the first of them (owned by im), or NULL */
	int first_unknown_file;     /* its file */
} mm_join_report;

/* For each record i (ids[i], NULL when it has none) set P[i*C..] and cls[i]
 * from the entry of its id in im[0..nf) (C = im[0].nclass: every file must
 * have it), or cls[i] = -1 (P untouched) when there is none or it says "no
 * prediction".  Marks the entries used.  names[f] names file f in messages.
 * Errors (MM_EVALUE): files with different class counts; an id in two
 * files; no entry matching any record; more than max_unmatched (a fraction
 * in [0, 1]) of the entries of all files matching no record.  *rep is
 * filled in every case. */
mm_status mm_import_join(mm_import *im, int nf, const char *const *names,
		const char *const *ids, size_t n, float *P, int *cls, double max_unmatched,
		mm_join_report *rep, mm_err *e);

#endif
