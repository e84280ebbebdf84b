#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const met_names[MM_MET_COUNT] = {
	"acc", "precision", "recall", "f1", "macro_f1",
};

const char *mm_metric_name(int which)
{
	return which >= 0 && which < MM_MET_COUNT ? met_names[which] : "?";
}

mm_status mm_confusion_fill(const int32_t *y, const int32_t *pred, const size_t *idx,
		size_t n, int C, uint64_t *cm, mm_err *e)
{
	if (C <= 0)
		return mm_errf(e, MM_EUSAGE, "number of classes must be positive, got %d", C);
	memset(cm, 0, (size_t)C * (size_t)C * sizeof *cm);
	for (size_t i = 0; i < n; i++) {
		size_t k = idx ? idx[i] : i;
		int32_t t = y[k], p = pred[k];
		if (t < 0 || t >= C)
			return mm_errf(e, MM_EVALUE, "example %zu: label %d outside 0..%d", k, (int)t, C - 1);
		if (p < 0 || p >= C)
			return mm_errf(e, MM_EVALUE, "example %zu: prediction %d outside 0..%d", k, (int)p, C - 1);
		cm[(size_t)t * C + p]++;
	}
	return MM_OK;
}

/* Precision, recall and F1 of a class from its true positives, true count
 * (row of the confusion matrix) and predicted count (column), with the
 * zero-division conventions of the header: the one definition of F1. */
static double f1_counts(uint64_t tp, uint64_t row, uint64_t col, double *prec, double *rec)
{
	double p = col ? (double)tp / (double)col : 0.0;
	double r = row ? (double)tp / (double)row : 0.0;
	if (prec)
		*prec = p;
	if (rec)
		*rec = r;
	return p + r > 0 ? 2.0 * p * r / (p + r) : 0.0;
}

/* All the metrics from per-class counts: tp[c], row[c] (true c), col[c]
 * (predicted c).  Macro-F1 averages over the classes that occur in either. */
static void metrics_from_counts(const uint64_t *tp, const uint64_t *row, const uint64_t *col,
		int C, int positive, mm_metrics *m)
{
	uint64_t n = 0, correct = 0;
	for (int c = 0; c < C; c++) {
		n += row[c];
		correct += tp[c];
	}
	memset(m, 0, sizeof *m);
	m->n = n;
	m->v[MM_MET_ACC] = n ? (double)correct / (double)n : 0.0;
	if (positive >= 0 && positive < C)
		m->v[MM_MET_F1] = f1_counts(tp[positive], row[positive], col[positive],
				&m->v[MM_MET_PRECISION], &m->v[MM_MET_RECALL]);
	double sum = 0;
	int k = 0;
	for (int c = 0; c < C; c++)
		if (row[c] + col[c] > 0) {
			sum += f1_counts(tp[c], row[c], col[c], NULL, NULL);
			k++;
		}
	m->v[MM_MET_MACRO_F1] = k ? sum / k : 0.0;
}

void mm_metrics_from_confusion(const uint64_t *cm, int C, int positive, mm_metrics *m)
{
	uint64_t *cnt = calloc(3 * (size_t)C, sizeof *cnt);
	if (!cnt) { /* C x C counts are already in memory: C is small */
		memset(m, 0, sizeof *m);
		return;
	}
	uint64_t *tp = cnt, *row = cnt + C, *col = cnt + 2 * (size_t)C;
	for (int i = 0; i < C; i++)
		for (int j = 0; j < C; j++) {
			uint64_t v = cm[(size_t)i * C + j];
			row[i] += v;
			col[j] += v;
			if (i == j)
				tp[i] += v;
		}
	metrics_from_counts(tp, row, col, C, positive, m);
	free(cnt);
}

mm_status mm_metrics_of_probs(const float *P, const int *y, size_t n, int C, int positive,
		mm_metrics *m, mm_err *e)
{
	if (C <= 0)
		return mm_errf(e, MM_EUSAGE, "number of classes must be positive, got %d", C);
	uint64_t *cnt = calloc(3 * (size_t)C, sizeof *cnt);
	if (!cnt)
		return mm_errf(e, MM_ENOMEM, "out of memory (%d classes)", C);
	uint64_t *tp = cnt, *row = cnt + C, *col = cnt + 2 * (size_t)C;
	for (size_t i = 0; i < n; i++) {
		int h = (int)mm_vec_argmax(P + i * (size_t)C, (size_t)C);
		if (y[i] < 0 || y[i] >= C) {
			free(cnt);
			return mm_errf(e, MM_EVALUE, "example %zu: label %d outside 0..%d", i, y[i], C - 1);
		}
		row[y[i]]++;
		col[h]++;
		tp[h] += h == y[i];
	}
	metrics_from_counts(tp, row, col, C, positive, m);
	free(cnt);
	return MM_OK;
}

double mm_metric_nll(const float *P, const int *y, size_t n, int C)
{
	if (n == 0)
		return NAN;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s -= log(fmax(P[i * (size_t)C + y[i]], 1e-30));
	return s / (double)n;
}

mm_status mm_metrics_compute(const int32_t *y, const int32_t *pred, const size_t *idx,
		size_t n, int C, int positive, mm_metrics *m, mm_err *e)
{
	if (C <= 0)
		return mm_errf(e, MM_EUSAGE, "number of classes must be positive, got %d", C);
	uint64_t *cm = calloc((size_t)C * (size_t)C, sizeof *cm);
	if (!cm)
		return mm_errf(e, MM_ENOMEM, "out of memory (confusion matrix %dx%d)", C, C);
	mm_status st = mm_confusion_fill(y, pred, idx, n, C, cm, e);
	if (st == MM_OK)
		mm_metrics_from_confusion(cm, C, positive, m);
	free(cm);
	return st;
}

double mm_quantile_sorted(const double *sorted, size_t n, double q)
{
	if (n == 0)
		return 0.0;
	if (q <= 0)
		return sorted[0];
	if (q >= 1)
		return sorted[n - 1];
	double h = q * (double)(n - 1);
	size_t i = (size_t)h;
	if (i + 1 >= n)
		return sorted[n - 1];
	double f = h - (double)i;
	return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Resample r draws its n positions first, then scores every method on them:
 * that keeps the random sequence independent of the number of methods and
 * makes the intervals paired.  ref < npreds also gives the intervals of the
 * differences to method ref. */
static mm_status bootstrap(const int32_t *y, const int32_t *const *preds, size_t npreds,
		const size_t *idx, size_t n, int C, int positive, int resamples, double level,
		mm_rng *g, mm_metrics *lo, mm_metrics *hi, size_t ref, mm_metrics *dlo,
		mm_metrics *dhi, mm_err *e)
{
	bool diff = ref < npreds;
	for (size_t j = 0; j < npreds; j++) {
		memset(&lo[j], 0, sizeof lo[j]);
		memset(&hi[j], 0, sizeof hi[j]);
		lo[j].n = hi[j].n = n;
		if (diff) {
			memset(&dlo[j], 0, sizeof dlo[j]);
			memset(&dhi[j], 0, sizeof dhi[j]);
			dlo[j].n = dhi[j].n = n;
		}
	}
	if (n == 0 || resamples <= 0 || npreds == 0)
		return MM_OK;
	if (C <= 0)
		return mm_errf(e, MM_EUSAGE, "number of classes must be positive, got %d", C);
	if (!(level > 0 && level < 1))
		return mm_errf(e, MM_EUSAGE, "confidence level must be in (0, 1), got %g", level);
	size_t R = (size_t)resamples;
	size_t *sidx = malloc(n * sizeof *sidx);
	uint64_t *cm = malloc((size_t)C * (size_t)C * sizeof *cm);
	double *vals = malloc(npreds * MM_MET_COUNT * R * sizeof *vals);
	double *dv = diff ? malloc(R * sizeof *dv) : NULL;
	mm_status st = MM_OK;
	if (!sidx || !cm || !vals || (diff && !dv)) {
		st = mm_errf(e, MM_ENOMEM, "out of memory (bootstrap of %zu examples x %d resamples)",
				n, resamples);
		goto out;
	}
	for (size_t r = 0; r < R; r++) {
		for (size_t i = 0; i < n; i++) {
			size_t k = (size_t)mm_rng_below(g, n);
			sidx[i] = idx ? idx[k] : k;
		}
		for (size_t j = 0; j < npreds; j++) {
			mm_metrics m;
			st = mm_confusion_fill(y, preds[j], sidx, n, C, cm, e);
			if (st != MM_OK)
				goto out;
			mm_metrics_from_confusion(cm, C, positive, &m);
			for (int k = 0; k < MM_MET_COUNT; k++)
				vals[(j * MM_MET_COUNT + k) * R + r] = m.v[k];
		}
	}
	/* Differences first: they need the values in resample order. */
	for (size_t j = 0; diff && j < npreds; j++)
		for (int k = 0; k < MM_MET_COUNT && j != ref; k++) {
			const double *a = vals + (j * MM_MET_COUNT + k) * R;
			const double *b = vals + (ref * MM_MET_COUNT + k) * R;
			for (size_t r = 0; r < R; r++)
				dv[r] = a[r] - b[r];
			qsort(dv, R, sizeof *dv, cmp_double);
			dlo[j].v[k] = mm_quantile_sorted(dv, R, (1 - level) / 2);
			dhi[j].v[k] = mm_quantile_sorted(dv, R, (1 + level) / 2);
		}
	for (size_t j = 0; j < npreds; j++)
		for (int k = 0; k < MM_MET_COUNT; k++) {
			double *v = vals + (j * MM_MET_COUNT + k) * R;
			qsort(v, R, sizeof *v, cmp_double);
			lo[j].v[k] = mm_quantile_sorted(v, R, (1 - level) / 2);
			hi[j].v[k] = mm_quantile_sorted(v, R, (1 + level) / 2);
		}
out:
	free(sidx);
	free(cm);
	free(vals);
	free(dv);
	return st;
}

mm_status mm_metrics_bootstrap(const int32_t *y, const int32_t *const *preds, size_t npreds,
		const size_t *idx, size_t n, int C, int positive, int resamples, double level,
		mm_rng *g, mm_metrics *lo, mm_metrics *hi, mm_err *e)
{
	return bootstrap(y, preds, npreds, idx, n, C, positive, resamples, level, g, lo, hi,
			SIZE_MAX, NULL, NULL, e);
}

mm_status mm_metrics_bootstrap_diff(const int32_t *y, const int32_t *const *preds, size_t npreds,
		const size_t *idx, size_t n, int C, int positive, int resamples, double level,
		mm_rng *g, mm_metrics *lo, mm_metrics *hi, size_t ref, mm_metrics *dlo,
		mm_metrics *dhi, mm_err *e)
{
	if (ref >= npreds)
		return mm_errf(e, MM_EUSAGE, "reference method %zu out of range (%zu methods)", ref, npreds);
	return bootstrap(y, preds, npreds, idx, n, C, positive, resamples, level, g, lo, hi,
			ref, dlo, dhi, e);
}
