/* mome-step — one training step of the MoME classifier of lib/nn/move.h
 * (forward, mean cross-entropy, backward, AdamW), the mmoe side of
 * bench/mome.sh, with the time of every layer summed by stage:
 *   MoVE         pool*, enc*, router.*, agg* (pooling, ADT, the encoder router)
 *   MoLE         blk*.mole (the adapters and their router)
 *   transformer  the rest (embeddings, blocks, pooling, head)
 * The shape is that of make mome-ablation's data: three grids 8×8×64
 * (pixels), 7×7×36 (HOG) and 4×4×72 (colour), a 64-value instruction, 16
 * classes; inputs are random from a fixed seed.
 *   usage: mome-step THREADS [B WIDTH DEPTH ADAPTERS STEPS]
 * Prints "threads median_s min_s move_s transformer_s mole_s": seconds per
 * step over STEPS steps after one warm-up step, and the per-stage medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "nn.h"
#include "nn/kernels.h"
#include "nn/move.h"
#include "optim.h"
#include "rng.h"
#include "util.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int stage_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!strncmp(name, "pool", 4) && name[4] >= '0' && name[4] <= '9')
		return 0;
	if (!strncmp(name, "enc", 3) || !strncmp(name, "router.", 7) || !strncmp(name, "agg", 3))
		return 0;
	if (!strncmp(name, "blk", 3) && dot && !strcmp(dot, ".mole"))
		return 2;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: mome-step THREADS [B WIDTH DEPTH ADAPTERS STEPS]\n");
		return 2;
	}
	int a[6] = { 1, 32, 128, 2, 4, 5 };
	for (int i = 0; i < 6 && i + 1 < argc; i++)
		a[i] = atoi(argv[i + 1]);
	int B = a[1], steps = a[5];
	mm_set_threads(a[0]);
	mm_mome_spec s = { .nenc = 3, .gh = { 8, 7, 4 }, .gw = { 8, 7, 4 }, .gd = { 64, 36, 72 },
		.edim = 64, .tokens = 4, .transform = MM_MOVE_ADT, .aggregate = MM_MOVE_ROUTER,
		.points = 4, .width = a[2], .depth = a[3], .heads = 4, .ffn = 4 * a[2], .nclass = 16,
		.mole = { .adapters = a[4], .route = MM_MOLE_INSTANCE, .dim = 16 } };
	mm_net *net;
	mm_err e;
	if (steps < 1 || mm_net_build_mome(&net, &s, &e) != MM_OK) {
		fprintf(stderr, "mome-step: %s\n", steps < 1 ? "STEPS must be >= 1" : e.msg);
		return 2;
	}
	mm_rng g;
	mm_rng_seed(&g, 1);
	mm_net_init(net, &g);
	size_t np;
	mm_param *P = mm_net_params(net, &np);
	mm_adamw *opt;
	float *X[4], *prob = malloc((size_t)B * 16 * sizeof *prob), *dZ = malloc((size_t)B * 16 * sizeof *dZ);
	int *len[4], *y = malloc((size_t)B * sizeof *y);
	double *t = malloc((size_t)steps * sizeof *t), *st[3];
	for (int k = 0; k < 3; k++)
		st[k] = calloc((size_t)steps, sizeof(double));
	if (!prob || !dZ || !y || !t || !st[0] || !st[1] || !st[2] ||
			mm_adamw_new(&opt, P, np, 0.9f, 0.999f, 1e-8f, 0.01f, &e) != MM_OK) {
		fprintf(stderr, "mome-step: out of memory\n");
		return 2;
	}
	for (int m = 0; m < 4; m++) {
		size_t T = (size_t)mm_net_rows(net, m), n = (size_t)B * mm_net_dim(net, m);
		X[m] = malloc(n * sizeof(float));
		len[m] = malloc((size_t)B * sizeof(int));
		if (!X[m] || !len[m]) {
			fprintf(stderr, "mome-step: out of memory\n");
			return 2;
		}
		for (size_t i = 0; i < n; i++)
			X[m][i] = (float)mm_rng_normal(&g);
		for (int b = 0; b < B; b++)
			len[m][b] = (int)T;
	}
	for (int b = 0; b < B; b++)
		y[b] = (int)(mm_rng_u64(&g) % 16);
	mm_rng noise;
	mm_rng_seed(&noise, 2);
	for (int k = -1; k < steps; k++) {
		mm_net_profile(net, true);
		double t0 = mm_now();
		mm_net_zero_grad(net);
		const float *Z = mm_net_forward_seq(net, (const float *const *)X,
				(const int *const *)len, B, true, &noise);
		mm_xent_loss(Z, y, B, 16, NULL, prob, dZ);
		mm_net_backward(net, dZ);
		mm_adamw_step(opt, 1e-4f);
		if (k < 0)
			continue;
		t[k] = mm_now() - t0;
		for (int i = 0; i < mm_net_nnodes(net); i++) {
			mm_node_info ni;
			double f, bw;
			mm_net_node(net, i, &ni);
			mm_net_node_seconds(net, i, &f, &bw);
			st[stage_of(ni.name)][k] += f + bw;
		}
	}
	qsort(t, (size_t)steps, sizeof *t, cmp);
	for (int k = 0; k < 3; k++)
		qsort(st[k], (size_t)steps, sizeof(double), cmp);
	printf("%d %.4f %.4f %.4f %.4f %.4f\n", a[0], t[steps / 2], t[0], st[0][steps / 2],
			st[1][steps / 2], st[2][steps / 2]);
	mm_adamw_free(opt);
	mm_net_free(net);
	for (int m = 0; m < 4; m++) {
		free(X[m]);
		free(len[m]);
	}
	for (int k = 0; k < 3; k++)
		free(st[k]);
	free(prob); free(dZ); free(y); free(t);
	return 0;
}
