/* dataset.c — standardisation statistics and class weights.  See dataset.h. */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>

mm_status mm_standardize_fit(const float *X, size_t n, size_t d, float *mean, float *std, mm_err *e)
{
	return mm_standardize_fit_rows(X, n, 1, d, NULL, mean, std, e);
}

mm_status mm_standardize_fit_rows(const float *X, size_t n, size_t T, size_t d, const int *len,
		float *mean, float *std, mm_err *e)
{
	double *s = calloc(d ? d : 1, sizeof *s), *ss = calloc(d ? d : 1, sizeof *ss);
	if (!s || !ss) {
		free(s);
		free(ss);
		return mm_errf(e, MM_ENOMEM, "out of memory for the statistics of %zu features", d);
	}
	size_t rows = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < (len ? (size_t)len[i] : T); t++, rows++)
			for (size_t j = 0; j < d; j++)
				s[j] += X[(i * T + t) * d + j];
	for (size_t j = 0; j < d; j++)
		s[j] /= (double)rows;
	for (size_t i = 0; i < n; i++)
		for (size_t t = 0; t < (len ? (size_t)len[i] : T); t++)
			for (size_t j = 0; j < d; j++) {
				double v = X[(i * T + t) * d + j] - s[j];
				ss[j] += v * v;
			}
	for (size_t j = 0; j < d; j++) {
		double sd = sqrt(ss[j] / (double)rows);
		mean[j] = (float)s[j];
		std[j] = sd > MM_STD_FLOOR ? (float)sd : 1.0f;
	}
	free(s);
	free(ss);
	return MM_OK;
}

mm_status mm_class_weights_balanced(const int *y, size_t n, int C, float *w, mm_err *e)
{
	size_t *cnt = calloc(C > 0 ? (size_t)C : 1, sizeof *cnt);
	if (!cnt)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0 || y[i] >= C) {
			free(cnt);
			return mm_errf(e, MM_EVALUE, "example %zu: label %d outside 0..%d", i, y[i], C - 1);
		}
		cnt[y[i]]++;
	}
	for (int c = 0; c < C; c++)
		w[c] = cnt[c] ? (float)((double)n / ((double)C * cnt[c])) : 0.0f;
	free(cnt);
	return MM_OK;
}
