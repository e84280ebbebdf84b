/* mixture.c — the mixture gate's objective (nn/mixture.c): its value on
 * hand-computed cases and its gradient against central finite differences. */
#include <math.h>
#include <stdlib.h>

#include "gradcheck.h"
#include "nn.h"
#include "tap.h"

enum { B = 7, K = 3 };
static float Z[B * K], PY[B * K];
static int TAG[B];
static size_t IDX[B];
static mm_dataset D;
static mm_mixture MIX;

static double f(void *ctx)
{
	(void)ctx;
	return mm_mixture_objective(&MIX, Z, B, K, &D, IDX, NULL);
}

int main(void)
{
	mm_rng_seed(&G, 16);
	D.n = B;
	MIX.K = K;
	MIX.d[0] = &D;
	MIX.py[0] = PY;

	/* by hand: equal weights over two experts saying 0.9 and 0.1 → -log 0.5 */
	{
		mm_dataset d1 = { .n = 1 };
		float z[2] = { 0, 0 }, py[2] = { 0.9f, 0.1f }, dz[2];
		size_t i0 = 0;
		mm_mixture m = { .K = 2, .d = { &d1, NULL }, .py = { py, NULL } };
		double L = mm_mixture_objective(&m, z, 1, 2, &d1, &i0, dz);
		near(L, log(2.0), 1e-6, "w = (½, ½), p = (0.9, 0.1): -log 0.5");
		/* w - r = (0.5 - 0.9, 0.5 - 0.1) */
		near(dz[0], -0.4, 1e-6, "its gradient on the good expert is w - r = -0.4");
		near(dz[1], 0.4, 1e-6, "and on the bad one +0.4");
		z[0] = (float)log(3.0); /* w = (3/4, 1/4): mixture 0.7 */
		L = mm_mixture_objective(&m, z, 1, 2, &d1, &i0, NULL);
		near(L, -log(0.7), 1e-6, "w = (¾, ¼): -log 0.7");
		py[0] = py[1] = 0;
		L = mm_mixture_objective(&m, z, 1, 2, &d1, &i0, dz);
		near(L, -log(MM_MIXTURE_PFLOOR), 1e-6, "every expert sure and wrong: the floor, finite");
		ok(fabsf(dz[0] - 0.0f) < 1e-6f && fabsf(dz[1]) < 1e-6f,
				"with equal (floored) p the gradient is w - w = 0");
		mm_dataset other = { .n = 1 };
		ok(isnan(mm_mixture_objective(&m, z, 1, 2, &other, &i0, NULL)),
				"a dataset it was not given: NaN");
		ok(isnan(mm_mixture_objective(&m, z, 1, 3, &d1, &i0, NULL)), "nout != K: NaN");
		m.tag_weight = 0.5f;
		ok(isnan(mm_mixture_objective(&m, z, 1, 2, &d1, &i0, NULL)), "a tag weight without tags: NaN");
		/* λ = 1: the tag's cross-entropy alone, whatever the experts say */
		int tag = 1;
		m.tag[0] = &tag;
		m.tag_weight = 1;
		z[0] = (float)log(3.0);
		L = mm_mixture_objective(&m, z, 1, 2, &d1, &i0, dz);
		near(L, log(4.0), 1e-6, "tag weight 1, w = (¾, ¼), tag 1: -log ¼");
		near(dz[1], 0.25 - 1, 1e-6, "its gradient is w - e_tag");
		/* λ = ½ with p = (0.9, 0.1): ½ (-log(0.75·0.9 + 0.25·0.1)) + ½ (-log ¼) */
		py[0] = 0.9f;
		py[1] = 0.1f;
		m.tag_weight = 0.5f;
		L = mm_mixture_objective(&m, z, 1, 2, &d1, &i0, NULL);
		near(L, 0.5 * -log(0.7) + 0.5 * log(4.0), 1e-6, "tag weight ½: the mean of both losses");
	}

	/* the gradient against central differences, over rows in shuffled order
	 * and with one expert far below the others */
	for (int t = 0; t < 5; t++) {
		MIX.tag_weight = t < 3 ? 0 : t == 3 ? 0.3f : 1;
		MIX.tag[0] = TAG;
		for (int i = 0; i < B; i++)
			TAG[i] = (int)(mm_rng_uniform(&G) * K);
		for (int i = 0; i < B * K; i++) {
			Z[i] = (float)(mm_rng_normal(&G) * 2);
			PY[i] = (float)mm_rng_uniform(&G);
		}
		PY[4] = 1e-6f;
		for (int i = 0; i < B; i++)
			IDX[i] = (size_t)((i * 3 + t) % B);
		float dZ[B * K];
		double L = mm_mixture_objective(&MIX, Z, B, K, &D, IDX, dZ);
		ok(isfinite(L) && L > 0, "trial %d (tag weight %.1f): objective %g is finite and positive", t, MIX.tag_weight, L);
		double err = check(f, NULL, Z, dZ, B * K, 1e-2f);
		ok(err < 1e-3, "trial %d: gradient vs finite differences, max rel. error %.2e", t, err);
	}
	return tap_done();
}
