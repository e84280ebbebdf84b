/* crossfit.c — mm_crossfit with a toy learner whose out-of-fold answer is
 * known by hand: it predicts the mean of x over its training items, so with
 * leave-one-out folds item i gets (sum(x) - x[i]) / (n - 1). */
#include <stdlib.h>
#include <string.h>

#include "crossfit.h"
#include "tap.h"

typedef struct toy {
	const double *x;
	size_t n;
	int fail_fold[2];
	int overlap, full_calls, full_ntrain;
} toy;

static mm_status toy_fit(void *ctx, int fold, const size_t *train, size_t ntrain,
		const size_t *test, size_t ntest, float *probs, mm_err *e)
{
	toy *t = ctx;
	if (fold == t->fail_fold[0] || fold == t->fail_fold[1])
		return mm_errf(e, MM_EVALUE, "the toy learner refuses fold index %d", fold);
	if (!probs) { /* the full fit */
		__atomic_add_fetch(&t->full_calls, 1, __ATOMIC_RELAXED);
		t->full_ntrain = (int)ntrain;
		return MM_OK;
	}
	/* train and test partition [0, n) */
	char *seen = calloc(t->n, 1);
	for (size_t i = 0; i < ntrain; i++)
		seen[train[i]]++;
	for (size_t i = 0; i < ntest; i++)
		seen[test[i]]++;
	for (size_t i = 0; i < t->n; i++)
		if (seen[i] != 1)
			t->overlap = 1;
	free(seen);
	double m = 0;
	for (size_t i = 0; i < ntrain; i++)
		m += t->x[train[i]];
	m /= (double)ntrain;
	for (size_t i = 0; i < ntest; i++) {
		probs[2 * i] = (float)(m / 32.0);
		probs[2 * i + 1] = (float)(1.0 - m / 32.0);
	}
	return MM_OK;
}

int main(void)
{
	mm_err e;
	double x[5] = { 1, 2, 4, 8, 16 };  /* sum 31 */
	int y[5] = { 0, 1, 0, 1, 0 };
	float want[10];
	for (int i = 0; i < 5; i++) {
		double m = (31.0 - x[i]) / 4.0;  /* mean of the other four */
		want[2 * i] = (float)(m / 32.0);
		want[2 * i + 1] = (float)(1.0 - m / 32.0);
	}
	float ref[10];
	int threads[] = { 1, 2, 3, 8 };
	for (int ti = 0; ti < 4; ti++) {
		toy t = { .x = x, .n = 5, .fail_fold = { -1, -1 } };
		float oof[10];
		int fold[5];
		for (int i = 0; i < 10; i++)
			oof[i] = -1;
		mm_status st = mm_crossfit(5, y, 2, 5, 42, true, toy_fit, &t, threads[ti], oof, fold, &e);
		int distinct = 1;
		for (int i = 0; i < 5; i++)
			for (int j = 0; j < i; j++)
				distinct &= fold[i] != fold[j];
		ok(st == MM_OK && !t.overlap && distinct,
			"%d threads: leave-one-out folds, train and test partition the items", threads[ti]);
		int good = 1;
		for (int i = 0; i < 10; i++)
			good &= oof[i] == want[i];
		ok(good, "%d threads: item i gets the mean of the others, (31 - x[i]) / 4", threads[ti]);
		ok(t.full_calls == 1 && t.full_ntrain == 5, "%d threads: one full fit on all 5 items", threads[ti]);
		if (ti == 0)
			memcpy(ref, oof, sizeof ref);
		ok(memcmp(ref, oof, sizeof ref) == 0, "%d threads: same bytes as 1 thread", threads[ti]);
	}
	/* 2 stratified folds of 6 items: 3 per fold, the class counts split */
	double x6[6] = { 1, 2, 3, 4, 5, 6 };
	int y6[6] = { 0, 0, 1, 1, 0, 1 };
	toy t6 = { .x = x6, .n = 6, .fail_fold = { -1, -1 } };
	float oof6[12];
	int fold6[6];
	ok(mm_crossfit(6, y6, 2, 2, 7, false, toy_fit, &t6, 2, oof6, fold6, &e) == MM_OK
		&& t6.full_calls == 0, "2 folds, no full fit");
	int per[2][2] = { { 0 } };
	double s[2] = { 0, 0 };
	for (int i = 0; i < 6; i++) {
		per[fold6[i]][y6[i]]++;
		s[fold6[i]] += x6[i];
	}
	ok(per[0][0] + per[0][1] == 3 && per[0][0] >= 1 && per[0][0] <= 2 && per[0][1] >= 1 && per[0][1] <= 2,
		"2 folds: 3 items each, 1 or 2 of each class (stratified)");
	int good6 = 1;
	for (int i = 0; i < 6; i++)  /* the other fold's mean */
		good6 &= oof6[2 * i] == (float)(s[1 - fold6[i]] / 3.0 / 32.0);
	ok(good6, "2 folds: each item gets the mean of the other fold");
	/* errors: the lowest failing fold for any thread count */
	for (int ti = 0; ti < 4; ti++) {
		toy t = { .x = x, .n = 5, .fail_fold = { 3, 1 } };
		float oof[10];
		mm_status st = mm_crossfit(5, y, 2, 5, 42, true, toy_fit, &t, threads[ti], oof, NULL, &e);
		ok(st == MM_EVALUE && strcmp(e.msg, "fold 2 of 5: the toy learner refuses fold index 1") == 0,
			"%d threads: the lowest failing fold is reported (%s)", threads[ti], e.msg);
	}
	toy tf = { .x = x, .n = 5, .fail_fold = { 5, -1 } };
	float oof[10];
	ok(mm_crossfit(5, y, 2, 5, 42, true, toy_fit, &tf, 2, oof, NULL, &e) == MM_EVALUE
		&& strcmp(e.msg, "the toy learner refuses fold index 5") == 0, "a failing full fit's error (%s)", e.msg);
	ok(mm_crossfit(5, y, 2, 6, 42, false, toy_fit, &tf, 2, oof, NULL, &e) == MM_EVALUE,
		"more folds than items: %s", e.msg);
	int ybad[5] = { 0, 1, 2, 0, 1 };
	ok(mm_crossfit(5, ybad, 2, 2, 42, false, toy_fit, &tf, 2, oof, NULL, &e) == MM_EVALUE,
		"a label out of range: %s", e.msg);
	return tap_done();
}
