/* gemm.c — mm_sgemm: the same bytes for 1, 2, 3 and 4 threads, on odd sizes
 * and every transpose combination, and the product itself against a naive
 * double-accumulated reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "rng.h"
#include "tap.h"

typedef struct shape { int M, N, K; } shape;

/* from a single panel to 2, 4 and 8 row or column panels (more panels than
 * the 2 and 3 threads, and shorter last panels) */
static const shape shapes[] = {
	{ 1, 1, 1 }, { 7, 5, 3 }, { 33, 17, 129 }, { 129, 97, 65 },
	{ 301, 257, 131 }, { 13, 2053, 517 }, { 517, 11, 1999 }, { 1000, 5, 2049 },
	{ 45, 1100, 800 }, { 1100, 45, 800 },
};

static float *fill(mm_rng *r, size_t n)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(mm_rng_uniform(r) * 2 - 1);
	return x;
}

static double op(const float *X, bool t, int ld, int r, int c)
{
	return t ? X[(size_t)c * ld + r] : X[(size_t)r * ld + c];
}

int main(void)
{
	mm_rng rng;
	mm_rng_seed(&rng, 11);
	for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
		int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K;
		int pm, pn;
		mm_sgemm_panels(M, N, K, &pm, &pn);
		int np = ((M + pm - 1) / pm) * ((N + pn - 1) / pn);
		if ((long)M * N * K >= 2 * MM_SGEMM_PANEL_WORK)
			ok(np > 1, "%dx%dx%d: %d panels of %dx%d", M, N, K, np, pm, pn);
		ok(np <= 8 && (pm == M || pn == N) && (np == 1 || pm >= 128 || pn >= 256),
				"%dx%dx%d: at most 8 panels along one side, 128 rows or 256 columns wide", M, N, K);
		for (int t = 0; t < 4; t++) {
			bool ta = t & 1, tb = t & 2;
			/* strides wider than the matrices, as the attention's views */
			int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
			float *A = fill(&rng, (size_t)(ta ? K : M) * lda);
			float *B = fill(&rng, (size_t)(tb ? N : K) * ldb);
			float *C0 = fill(&rng, (size_t)M * ldc);
			float alpha = 0.75f, beta = (t == 3) ? 0.0f : 0.5f;
			float *C[4];
			for (int j = 0; j < 4; j++) {
				C[j] = malloc((size_t)M * ldc * sizeof *C[j]);
				memcpy(C[j], C0, (size_t)M * ldc * sizeof *C[j]);
				mm_set_threads(j + 1);
				mm_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C[j], ldc);
			}
			ok(mm_threads() == 4, "the thread count sticks");
			bool same = true;
			for (int j = 1; j < 4; j++)
				same &= !memcmp(C[0], C[j], (size_t)M * ldc * sizeof *C[0]);
			ok(same, "%dx%dx%d trans %d%d: 1, 2, 3, 4 threads give the same bytes",
					M, N, K, ta, tb);
			/* a relative error against the naive sum, scaled by Σ|a||b| */
			double worst = 0;
			bool pad = true;
			for (int i = 0; i < M; i++) {
				for (int j = 0; j < N; j++) {
					double sum = 0, mag = 0;
					for (int k = 0; k < K; k++) {
						double p = op(A, ta, lda, i, k) * op(B, tb, ldb, k, j);
						sum += p, mag += fabs(p);
					}
					double ref = alpha * sum + beta * C0[(size_t)i * ldc + j];
					double err = fabs(C[0][(size_t)i * ldc + j] - ref) /
						(alpha * mag + fabs(beta * C0[(size_t)i * ldc + j]) + 1e-30);
					if (err > worst)
						worst = err;
				}
				for (int j = N; j < ldc; j++)
					pad &= C[0][(size_t)i * ldc + j] == C0[(size_t)i * ldc + j];
			}
			ok(worst <= 1e-5, "%dx%dx%d trans %d%d: equals the double reference "
					"(relative error %.2g <= 1e-5)", M, N, K, ta, tb, worst);
			ok(pad, "%dx%dx%d trans %d%d: C's stride padding untouched", M, N, K, ta, tb);
			for (int j = 0; j < 4; j++)
				free(C[j]);
			free(A), free(B), free(C0);
		}
	}

	/* beta 0 overwrites: NaN in C does not leak through */
	float A[6] = { 1, 2, 3, 4, 5, 6 }, B[6] = { 1, 0, 0, 1, 1, 1 }, C[4];
	for (int i = 0; i < 4; i++)
		C[i] = NAN;
	mm_sgemm(false, false, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
	ok(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11, "2x2x3 by hand: %g %g %g %g",
			C[0], C[1], C[2], C[3]);
	/* K = 0: C = beta C */
	float D[4] = { 1, 2, 3, 4 };
	mm_sgemm(false, false, 2, 2, 0, 1.0f, A, 1, B, 2, 0.5f, D, 2);
	ok(D[0] == 0.5f && D[3] == 2.0f, "K = 0 scales C by beta");
	for (int i = 0; i < 4; i++)
		D[i] = NAN;
	mm_sgemm(false, false, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, D, 2);
	ok(D[0] == 0 && D[1] == 0 && D[2] == 0 && D[3] == 0, "K = 0, beta 0 zeroes C");
	return tap_done();
}
