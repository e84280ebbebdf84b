/* gradcheck.h — shared pieces of the finite-difference tests (nn_grad.c,
 * seq_grad.c).
 *
 * For a kernel y = f(x, θ) we take the scalar L = Σ R ⊙ y with a fixed random
 * R, run the backward with dy = R, and compare each analytic gradient entry
 * with (L(v+h) - L(v-h)) / 2h computed in double from float forwards.  The
 * tolerance is relative to the largest gradient entry of the tensor, so
 * float rounding in the forward (≈1e-7 · |L| / h) cannot fail the test,
 * while a wrong formula (errors of order 1) always does.
 */
#ifndef MM_GRADCHECK_H
#define MM_GRADCHECK_H

#include <math.h>
#include <stdlib.h>

#include "rng.h"

static mm_rng G;

__attribute__((unused))
static float *rnd(size_t n, double scale)
{
	float *p = malloc(n * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)(mm_rng_normal(&G) * scale);
	return p;
}

__attribute__((unused))
static float *zeros(size_t n)
{
	return calloc(n, sizeof(float));
}

typedef double (*loss_fn)(void *ctx);

/* Compare analytic gradient g of the value array v (n entries) against
 * central differences of f; returns the max relative error. */
__attribute__((unused))
static double check(loss_fn f, void *ctx, float *v, const float *g, size_t n, float h)
{
	double gmax = 1e-3, err = 0;
	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(g[i]));
	size_t step = n > 400 ? n / 400 : 1; /* sample at most ~400 entries */
	for (size_t i = 0; i < n; i += step) {
		float old = v[i];
		v[i] = old + h;
		double lp = f(ctx);
		v[i] = old - h;
		double lm = f(ctx);
		v[i] = old;
		double num = (lp - lm) / (2.0 * h);
		err = fmax(err, fabs(num - g[i]) / gmax);
	}
	return err;
}

__attribute__((unused))
static double dotR(const float *R, const float *y, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)R[i] * y[i];
	return s;
}

#define TOL 2e-3

#endif
