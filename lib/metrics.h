/* metrics.h — classification metrics, confusion matrices and bootstrap
 * intervals.  Pure functions over arrays of class indices; no I/O.
 *
 * Conventions (also in man/mmoe-eval.1), the same as scikit-learn's with
 * zero_division=0:
 *   - classes are 0..C-1; `positive` names the class of the binary metrics
 *     (precision, recall, F1 are one-vs-rest for that class);
 *   - precision with no predicted positive is 0; recall with no true positive
 *     is 0; F1 is 0 when precision + recall is 0 (so "no positives at all"
 *     gives F1 = 0, not NaN);
 *   - macro-F1 averages the per-class F1 over the classes that occur in the
 *     labels or the predictions of the evaluated set (scikit-learn's default
 *     label set); it is 0 for an empty set;
 *   - accuracy of an empty set is 0.
 *
 * Confusion matrices are row-major C x C counts: cm[true * C + predicted].
 */
#ifndef MM_METRICS_H
#define MM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

enum {
	MM_MET_ACC,
	MM_MET_PRECISION,
	MM_MET_RECALL,
	MM_MET_F1,        /* F1 of the positive class */
	MM_MET_MACRO_F1,
	MM_MET_COUNT
};

typedef struct mm_metrics {
	double v[MM_MET_COUNT];  /* indexed by MM_MET_* */
	uint64_t n;              /* examples evaluated */
} mm_metrics;

/* Short names used in tables and machine formats: "acc", "precision",
 * "recall", "f1", "macro_f1". */
const char *mm_metric_name(int which);

/* Fill the C x C matrix cm (zeroed here) from the examples idx[0..n) of y and
 * pred (idx NULL: examples 0..n-1).  A class outside 0..C-1 is MM_EVALUE,
 * naming the example index. */
mm_status mm_confusion_fill(const int32_t *y, const int32_t *pred, const size_t *idx,
		size_t n, int C, uint64_t *cm, mm_err *e);

/* The metrics of a confusion matrix.  0 <= positive < C. */
void mm_metrics_from_confusion(const uint64_t *cm, int C, int positive, mm_metrics *m);

/* Convenience: confusion + metrics of the examples idx[0..n) (idx may be NULL). */
mm_status mm_metrics_compute(const int32_t *y, const int32_t *pred, const size_t *idx,
		size_t n, int C, int positive, mm_metrics *m, mm_err *e);

/* The same metrics of class probabilities P [n, C] (row-major) against
 * y[0..n) in 0..C-1: each row's prediction is its argmax (the lowest index
 * on ties, never a NaN: mm_vec_argmax).  This is what the trainer selects
 * checkpoints by, so that it agrees with mmoe-eval.  MM_EVALUE for a label
 * out of range, MM_ENOMEM. */
mm_status mm_metrics_of_probs(const float *P, const int *y, size_t n, int C, int positive,
		mm_metrics *m, mm_err *e);
/* Mean negative log-likelihood -log P[i, y_i] (floored at 1e-30), NaN for n == 0. */
double mm_metric_nll(const float *P, const int *y, size_t n, int C);

/* The q-quantile (0 <= q <= 1) of sorted[0..n), linear interpolation between
 * order statistics (numpy's default).  n > 0. */
double mm_quantile_sorted(const double *sorted, size_t n, double q);

/* Percentile bootstrap intervals for several methods on the same examples.
 *
 * The examples are idx[0..n) (idx NULL: 0..n-1).  Each of the `resamples`
 * resamples draws n of them with replacement from g, and every method is
 * scored on the *same* resample, so intervals of different methods are
 * comparable (paired).  lo[j] / hi[j] receive the (1-level)/2 and
 * (1+level)/2 quantiles of method j's metrics over the resamples.  The
 * sequence drawn from g depends only on n and resamples, so a seed gives the
 * same intervals whatever the predictions.  n == 0 or resamples == 0 sets the
 * intervals to 0. */
mm_status mm_metrics_bootstrap(const int32_t *y, const int32_t *const *preds, size_t npreds,
		const size_t *idx, size_t n, int C, int positive, int resamples, double level,
		mm_rng *g, mm_metrics *lo, mm_metrics *hi, mm_err *e);

/* The same, and also the intervals of the paired differences
 * metric(method j) - metric(method ref) over the same resamples, into
 * dlo[j] / dhi[j] (all zero for j == ref).  An interval of differences that
 * excludes 0 says the two methods differ at that level on this data.
 * 0 <= ref < npreds.  Draws exactly the same sequence from g as
 * mm_metrics_bootstrap, so lo/hi are identical. */
mm_status mm_metrics_bootstrap_diff(const int32_t *y, const int32_t *const *preds, size_t npreds,
		const size_t *idx, size_t n, int C, int positive, int resamples, double level,
		mm_rng *g, mm_metrics *lo, mm_metrics *hi, size_t ref, mm_metrics *dlo,
		mm_metrics *dhi, mm_err *e);

#endif
