/* dataset.h — what the learners do alike to a training set before fitting:
 * standardisation statistics and balanced class weights, once for
 * mmoe-train-expert (mm_net_fit) and mm_clf (mmoe-unipred). */
#ifndef MM_DATASET_H
#define MM_DATASET_H

#include <stddef.h>

#include "err.h"

/* A standard deviation at or below this is taken as 1: a (nearly) constant
 * feature is centred, not blown up. */
#define MM_STD_FLOOR 1e-6

/* Column means and population standard deviations of X [n, d] (row-major),
 * summed in double in row order, into mean[d] and std[d] (floored as
 * above).  n > 0.  MM_ENOMEM only. */
mm_status mm_standardize_fit(const float *X, size_t n, size_t d, float *mean, float *std, mm_err *e);
/* The same over the valid rows of sequences: X [n, T, d], sample i's rows
 * 0..len[i]-1 (len NULL: all T), summed in row order.  With T = 1 and len
 * NULL this is mm_standardize_fit. */
mm_status mm_standardize_fit_rows(const float *X, size_t n, size_t T, size_t d, const int *len,
		float *mean, float *std, mm_err *e);

/* Balanced class weights w[c] = n / (C n_c) over y[0..n) in 0..C-1 (as
 * scikit-learn's class_weight="balanced"); 0 for a class with no example.
 * MM_EVALUE for a label out of range, MM_ENOMEM. */
mm_status mm_class_weights_balanced(const int *y, size_t n, int C, float *w, mm_err *e);

#endif
