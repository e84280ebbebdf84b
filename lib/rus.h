/* rus.h — the MMoE interaction categorisation and the expert fusion
 * arithmetic (PAPERS.md §1), as pure functions over plain arrays.
 *
 * Categorisation (general multi-class form) of one labelled example with
 * unimodal predictions a and b and label y:
 *   a == b == y                 -> R (redundancy)
 *   a != b and one of them == y -> U (uniqueness)
 *   neither equals y            -> S (synergy; binary: both agree and are wrong)
 *
 * Fusion of K experts over C classes with router weights w[K]:
 *   fused[c] = sum_k w_k * p_k[c], prediction = argmax_c fused[c]
 * where the weights come from the mode: soft (w = router probabilities),
 * hard (one-hot at the router's top choice), oracle (one-hot at a given
 * expert: the one of the record's R/U/S tag), mean (uniform 1/K), rule
 * (one-hot at a given expert: the label-free rule below).  Ties in every
 * argmax go to the lowest index.
 *
 * The label-free rule: U where the two unimodal predictions differ, else R.
 * Without the label, "they differ" is exactly the U of the categorisation;
 * R and S both mean they agree, and only the label tells them apart, so the
 * rule sends every agreeing record to the R expert.
 */
#ifndef MM_RUS_H
#define MM_RUS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "record.h"

typedef enum mm_rus {
	MM_RUS_R = 0,
	MM_RUS_U = 1,
	MM_RUS_S = 2
} mm_rus;

/* The rule above. */
mm_rus mm_rus_categorise(int64_t y, int64_t a, int64_t b);
/* "R", "U", "S". */
const char *mm_rus_name(mm_rus t);

typedef enum mm_fuse_mode {
	MM_FUSE_SOFT,
	MM_FUSE_HARD,
	MM_FUSE_ORACLE,
	MM_FUSE_MEAN,
	MM_FUSE_RULE
} mm_fuse_mode;

/* "soft", "hard", "oracle", "mean", "rule" <-> mode; parse returns -1 if unknown. */
const char *mm_fuse_mode_name(mm_fuse_mode m);
int mm_fuse_mode_parse(const char *s);


/* Check that p[0..n) is a probability vector: every entry finite and >= 0,
 * and a positive sum.  If the sum differs from 1 by more than tol, p is
 * divided by it and *renormalised is set to 1 (else 0).  Errors are
 * MM_EVALUE with a message naming the first bad element ("element 2 is
 * -0.1"), for the caller to prefix with record and field.  This is the one
 * probability check: fuse, mm_pred_class (eval, rus-split) and
 * mm_unipred_normalise (tol 0) all use it. */
int mm_fuse_check_probs(float *p, size_t n, double tol, int *renormalised, mm_err *e);

/* The expert of the label-free rule: u_k when the unimodal classes a and b
 * differ, else r_k. */
int mm_fuse_rule_expert(int64_t a, int64_t b, int r_k, int u_k);

/* Fuse: router[K] (probabilities; read only by soft and hard), experts[K*C]
 * (row k = expert k's probabilities), oracle_k (the expert of oracle and
 * rule, 0 <= oracle_k < K; read only by them).  Writes the weights used into w[K] and the mixture
 * into fused[C]; returns the predicted class. */
int mm_fuse(const float *router, const float *experts, int K, int C, mm_fuse_mode mode,
		int oracle_k, float *w, float *fused);

/* ---- reading predictions from records ----
 * A prediction field P is a probability tensor P [C] plus P_class (int).
 * mm_pred_class gives P_class when present, else the argmax of P.  When both
 * are present, P_class must lie in 0..C-1.  A nil value counts as absent.
 * *nclass (may be NULL) receives C, or 0 when P itself is absent.
 * MM_MISSING (message names the record and both fields) when neither is
 * there; MM_ETYPE / MM_EVALUE for a wrong type, a P that fails
 * mm_fuse_check_probs (NaN, a negative entry, all zeros), a negative or
 * out-of-range class.  The caller checks that C agrees across records. */
mm_status mm_pred_class(mm_rec *r, const char *field, int64_t *cls, int64_t *nclass, mm_err *e);
/* True when the field is absent or nil. */
int mm_field_absent(const mm_rec *r, const char *key);

#endif
