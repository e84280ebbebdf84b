/* crossfit.c — K-fold cross-fitting on the pool (contract in crossfit.h). */
#include "crossfit.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "unipred.h"

typedef struct cf {
	size_t n;
	int nclass, k;
	const int *fold;
	mm_crossfit_fn fit;
	void *ctx;
	float *oof;
} cf;

/* One job: fold j (j == k is the full fit). */
static mm_status cf_job(cf *c, int j, mm_err *e)
{
	bool full = j == c->k;
	size_t ntest = 0;
	for (size_t i = 0; i < c->n && !full; i++)
		ntest += c->fold[i] == j;
	size_t ntrain = c->n - ntest;
	size_t *train = malloc((ntrain ? ntrain : 1) * sizeof *train);
	size_t *test = malloc((ntest ? ntest : 1) * sizeof *test);
	float *probs = full ? NULL : malloc((ntest ? ntest : 1) * (size_t)c->nclass * sizeof *probs);
	mm_status st = MM_OK;
	if (!train || !test || (!full && !probs)) {
		st = mm_errf(e, MM_ENOMEM, "out of memory for a fold of %zu items", c->n);
		goto out;
	}
	size_t a = 0, b = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (!full && c->fold[i] == j)
			test[b++] = i;
		else
			train[a++] = i;
	}
	st = c->fit(c->ctx, j, train, ntrain, test, ntest, probs, e);
	if (st != MM_OK) {
		if (!full)
			mm_err_prefix(e, "fold %d of %d", j + 1, c->k);
		goto out;
	}
	for (size_t i = 0; i < ntest; i++)
		memcpy(c->oof + test[i] * (size_t)c->nclass, probs + i * (size_t)c->nclass,
			(size_t)c->nclass * sizeof *probs);
out:
	free(train), free(test), free(probs);
	return st;
}

static mm_status cf_range(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)worker;
	for (size_t j = lo; j < hi; j++) {
		mm_status st = cf_job(ctx, (int)j, e);
		if (st != MM_OK)
			return st;
	}
	return MM_OK;
}

mm_status mm_crossfit(size_t n, const int *y, int nclass, int k, uint64_t seed,
		bool full, mm_crossfit_fn fit, void *ctx, int nthreads,
		float *oof, int *fold_out, mm_err *e)
{
	if (!fit || !oof || nclass < 1)
		return mm_errf(e, MM_EUSAGE, "cross-fitting: a fit function, an output and at least one class are required");
	int *fold = fold_out ? fold_out : malloc((n ? n : 1) * sizeof *fold);
	if (!fold)
		return mm_errf(e, MM_ENOMEM, "out of memory for the folds of %zu items", n);
	mm_status st = mm_unipred_folds(y, n, nclass, k, seed, fold, e);
	if (st == MM_OK) {
		cf c = { .n = n, .nclass = nclass, .k = k, .fold = fold, .fit = fit, .ctx = ctx, .oof = oof };
		/* grain 1: one fit per job, handed out fold by fold */
		st = mm_parallel_for((size_t)k + full, 1, nthreads, cf_range, &c, e);
	}
	if (!fold_out)
		free(fold);
	return st;
}
