/* crossfit.h — K-fold cross-fitting: out-of-fold predictions for every item,
 * as libsvm's svm_cross_validation, with the fits run in parallel.
 *
 * The caller owns the data and the learner; this module owns the folds, the
 * index lists and the scatter of each fold's predictions into place.  Folds
 * are stratified by label (mm_unipred_folds, from `seed`), so every fold has
 * floor or ceil of each class's share.  Fold f's model is fitted on the items
 * of the other folds and predicts the items of fold f: every item gets one
 * prediction from a model that never saw it.
 *
 * Determinism: each fit runs on a pool thread (mm_parallel_for, one job per
 * fit) and writes only its own rows of `oof`; a fit must depend only on its
 * arguments and read-only ctx (derive its own seed from `fold`, never share
 * a generator), so the result is the same for any nthreads.
 */
#ifndef MM_CROSSFIT_H
#define MM_CROSSFIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Fit on train[0..ntrain) and predict test[0..ntest): write ntest rows of
 * nclass values into probs (row i is item test[i]; crossfit scatters them).
 * Indices are into the caller's [0, n).  Both lists are increasing.
 * `fold` is in [0, k); with `full` set, one more call has fold == k: train
 * is every item, ntest is 0 and probs is NULL (the caller keeps that model,
 * e.g. for the items outside [0, n)).  Runs on a pool thread, possibly
 * beside other folds: write only through probs and ctx memory that belongs
 * to this fold.  Return MM_OK, or an error with e set; crossfit prefixes
 * "fold F of K" (F from 1) to a fold's message and returns the full fit's
 * as it is. */
typedef mm_status (*mm_crossfit_fn)(void *ctx, int fold,
		const size_t *train, size_t ntrain, const size_t *test, size_t ntest,
		float *probs, mm_err *e);

/* Out-of-fold predictions: oof is n x nclass, every row written once.
 * y[i] in [0, nclass).  Errors: those of mm_unipred_folds (k < 2, n < k, a
 * label out of range: MM_EVALUE), MM_ENOMEM, and the failing fit's error —
 * the one of the lowest fold (the full fit counts as fold k), whatever
 * nthreads.  fold_out, if not NULL, receives each item's fold (n ints). */
mm_status mm_crossfit(size_t n, const int *y, int nclass, int k, uint64_t seed,
		bool full, mm_crossfit_fn fit, void *ctx, int nthreads,
		float *oof, int *fold_out, mm_err *e);

#endif
