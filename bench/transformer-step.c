/* transformer-step — one training step of the transformer encoder of
 * lib/nn/encoder.h (forward, mean cross-entropy, backward, AdamW update), the
 * mmoe side of bench/transformer.sh.  Inputs are random tokens with random
 * lengths in [T/2, T], drawn from a fixed seed.
 *   usage: transformer-step THREADS [B T D H F DEPTH STEPS]
 * Prints "threads median_s min_s gflops": seconds per step over STEPS steps
 * after one warm-up step, GFLOP/s at 3 × the forward FLOPs of full length. */
#include <stdio.h>
#include <stdlib.h>

#include "gemm.h"
#include "nn.h"
#include "nn/encoder.h"
#include "optim.h"
#include "rng.h"
#include "util.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: transformer-step THREADS [B T D H F DEPTH STEPS]\n");
		return 2;
	}
	int a[8] = { 0, 64, 96, 256, 4, 1024, 2, 5 };
	for (int i = 0; i < 8 && i + 1 < argc; i++)
		a[i] = atoi(argv[i + 1]);
	int th = a[0], B = a[1], T = a[2], steps = a[7];
	mm_set_threads(th); /* the panels of mm_sgemm (gemm.h); OpenBLAS stays on one thread */
	mm_encoder_spec s = { .din = a[3], .maxlen = T, .width = a[3], .depth = a[6],
		.heads = a[4], .ffn = a[5], .nclass = 2 };
	mm_encoder *m;
	mm_err e;
	if (steps < 1 || mm_encoder_new(&m, &s, B, &e) != MM_OK) {
		fprintf(stderr, "transformer-step: %s\n", steps < 1 ? "STEPS must be >= 1" : e.msg);
		return 2;
	}
	mm_rng g;
	mm_rng_seed(&g, 1);
	mm_encoder_init(m, &g);
	size_t np, n = (size_t)B * T * s.din;
	mm_param *P = mm_encoder_params(m, &np);
	mm_adamw *opt;
	float *X = malloc(n * sizeof *X), *prob = malloc((size_t)B * 2 * sizeof *prob),
	      *dZ = malloc((size_t)B * 2 * sizeof *dZ);
	int *len = malloc((size_t)B * sizeof *len), *y = malloc((size_t)B * sizeof *y);
	double *t = malloc((size_t)steps * sizeof *t);
	if (!X || !prob || !dZ || !len || !y || !t ||
			mm_adamw_new(&opt, P, np, 0.9f, 0.999f, 1e-8f, 0.01f, &e) != MM_OK) {
		fprintf(stderr, "transformer-step: out of memory\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		X[i] = (float)mm_rng_normal(&g);
	for (int b = 0; b < B; b++) {
		len[b] = T / 2 + (int)(mm_rng_u64(&g) % (uint64_t)(T - T / 2 + 1));
		y[b] = (int)(mm_rng_u64(&g) % 2);
	}
	for (int k = -1; k < steps; k++) {
		double t0 = mm_now();
		mm_encoder_zero_grad(m);
		const float *Z = mm_encoder_forward(m, X, len, B);
		mm_xent_loss(Z, y, B, 2, NULL, prob, dZ);
		mm_encoder_backward(m, dZ);
		mm_adamw_step(opt, 1e-4f);
		if (k >= 0)
			t[k] = mm_now() - t0;
	}
	qsort(t, (size_t)steps, sizeof *t, cmp);
	double med = t[steps / 2];
	printf("%d %.4f %.4f %.1f\n", th, med, t[0], 3 * mm_encoder_flops(&s, B) / med / 1e9);
	mm_adamw_free(opt);
	mm_encoder_free(m);
	free(X); free(prob); free(dZ); free(len); free(y); free(t);
	return 0;
}
