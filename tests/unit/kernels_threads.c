/* kernels_threads.c — the element-wise, per-row and per-head kernels on the
 * library's threads (gemm.h, mm_parallel_ranges): the ranges are fixed
 * whatever the thread count, the worker index respects its cap, and every
 * threaded kernel gives the same bytes on 1, 2, 3 and 5 threads, at sizes
 * above the threshold where the work is cut (their gradients are checked
 * against finite differences on one thread in nn_grad.c and seq_grad.c, so
 * equal bits carry that check over). */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "nn.h"
#include "nn/kernels.h"
#include "nn/seq.h"
#include "optim.h"
#include "rng.h"
#include "tap.h"

static const int threads[] = { 1, 2, 3, 5 };
enum { NTH = sizeof threads / sizeof threads[0] };

/* ---- the ranges themselves ---- */

typedef struct {
	size_t n, grain;
	int cap;
	int *hits;      /* per index */
	bool bad_cut, bad_worker;
	pthread_mutex_t mu;
} rec_t;

static void rec_range(void *ctx, size_t lo, size_t hi, int worker)
{
	rec_t *r = ctx;
	pthread_mutex_lock(&r->mu);
	if (lo % r->grain || (hi != lo + r->grain && hi != r->n) || hi <= lo)
		r->bad_cut = true;
	if (worker < 0 || (r->cap > 0 && worker >= r->cap) || worker >= mm_threads())
		r->bad_worker = true;
	for (size_t i = lo; i < hi; i++)
		r->hits[i]++;
	pthread_mutex_unlock(&r->mu);
}

static void test_ranges(void)
{
	size_t n = 100003, grain = 97;
	for (int t = 0; t < NTH; t++)
		for (int cap = 0; cap <= 2; cap++) {
			mm_set_threads(threads[t]);
			rec_t r = { .n = n, .grain = grain, .cap = cap,
				.hits = calloc(n, sizeof(int)) };
			pthread_mutex_init(&r.mu, NULL);
			mm_parallel_ranges(n, grain, 1e9, cap, rec_range, &r);
			bool once = true;
			for (size_t i = 0; i < n; i++)
				once &= r.hits[i] == 1;
			ok(once && !r.bad_cut && !r.bad_worker,
					"%d threads, cap %d: every index once, cut every %zu, worker in range",
					threads[t], cap, grain);
			pthread_mutex_destroy(&r.mu);
			free(r.hits);
		}
	/* below the threshold: all on the calling thread (worker 0) */
	mm_set_threads(3);
	rec_t r = { .n = 1000, .grain = 10, .cap = 1, .hits = calloc(1000, sizeof(int)) };
	pthread_mutex_init(&r.mu, NULL);
	mm_parallel_ranges(1000, 10, 1000, 0, rec_range, &r);
	ok(!r.bad_cut && !r.bad_worker && r.hits[999] == 1, "small work: serial, same cut");
	pthread_mutex_destroy(&r.mu);
	free(r.hits);
}

/* ---- the kernels ---- */

static float *rnd(mm_rng *g, size_t n)
{
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)mm_rng_uniform(g) * 2 - 1;
	return x;
}

static float *copy(const float *x, size_t n)
{
	float *y = malloc(n * sizeof *y);
	memcpy(y, x, n * sizeof *y);
	return y;
}

/* One kernel run: outputs written into out[0..nout) (each of size[k]). */
typedef struct {
	const char *name;
	int nout;
	size_t size[6];
	float *out[6];
} run_t;

enum { N = 300007, LB = 1201, LD = 257, MK = 3, MB = 37, MN = 9001, BB = 700,
	BO = 513, BI = 3, AB = 5, AH = 4, ATq = 33, ATk = 41, Adh = 16, AD = AH * Adh };

typedef struct {
	float *x, *dy, *mask, *ln_x, *ln_dy, *g, *b, *mix[MK], *A, *mdy, *bdY, *bX, *bW;
	float *Q, *K, *V, *dO;
	int lq[AB], lk[AB];
} inputs;

static void kernels(const inputs *in, run_t *r, int *nr)
{
	int k = 0;
#define OUT(i, n_) (r[k].size[i] = (n_), r[k].out[i] = calloc((n_), sizeof(float)))
	r[k].name = "relu forward and backward", r[k].nout = 2;
	OUT(0, N), OUT(1, N);
	mm_relu_forward(in->x, r[k].out[0], N);
	mm_relu_backward(in->x, in->dy, r[k].out[1], N);
	k++;
	r[k].name = "gelu forward and backward", r[k].nout = 2;
	OUT(0, N), OUT(1, N);
	mm_gelu_forward(in->x, r[k].out[0], N);
	mm_gelu_backward(in->x, in->dy, r[k].out[1], N);
	k++;
	r[k].name = "dropout backward", r[k].nout = 1;
	OUT(0, N);
	mm_dropout_backward(in->mask, in->dy, r[k].out[0], N);
	k++;
	r[k].name = "residual add forward and backward", r[k].nout = 3;
	OUT(0, N), OUT(1, N), OUT(2, N);
	mm_add_forward(in->x, in->dy, r[k].out[0], N);
	mm_add_backward(in->dy, r[k].out[1], r[k].out[2], N);
	k++;
	r[k].name = "layer norm forward and backward", r[k].nout = 6;
	OUT(0, (size_t)LB * LD), OUT(1, LB), OUT(2, LB), OUT(3, LD), OUT(4, LD), OUT(5, (size_t)LB * LD);
	mm_layernorm_forward(in->ln_x, LB, LD, in->g, in->b, r[k].out[0], r[k].out[1], r[k].out[2]);
	mm_layernorm_backward(in->ln_x, in->ln_dy, LB, LD, in->g, r[k].out[1], r[k].out[2],
			r[k].out[3], r[k].out[4], r[k].out[5]);
	k++;
	r[k].name = "mixture forward and backward", r[k].nout = 6;
	OUT(0, (size_t)MB * MK), OUT(1, (size_t)MB * MN), OUT(2, (size_t)MB * MN),
		OUT(3, (size_t)MB * MN), OUT(4, (size_t)MB * MN), OUT(5, (size_t)MB * MK);
	const float *X[MK] = { in->mix[0], in->mix[1], in->mix[2] };
	float *dX[MK] = { r[k].out[2], r[k].out[3], r[k].out[4] };
	mm_mix_forward(X, MK, MB, MN, in->A, MK, r[k].out[0], r[k].out[1]);
	mm_mix_backward(X, MK, MB, MN, r[k].out[0], in->mdy, MK, dX, r[k].out[5]);
	k++;
	r[k].name = "linear backward (bias gradient)", r[k].nout = 3;
	OUT(0, (size_t)BO * BI), OUT(1, BO), OUT(2, (size_t)BB * BI);
	mm_linear_backward(in->bX, in->bdY, BB, BI, BO, in->bW, r[k].out[0], r[k].out[1],
			r[k].out[2]);
	k++;
	r[k].name = "attention forward and backward (padded, per head)", r[k].nout = 5;
	size_t nq = (size_t)AB * ATq * AD, nk = (size_t)AB * ATk * AD;
	OUT(0, (size_t)AB * AH * ATq * ATk), OUT(1, nq), OUT(2, nq), OUT(3, nk), OUT(4, nk);
	float *dP = calloc((size_t)mm_attn_slots(AB, AH) * ATq * ATk, sizeof(float));
	mm_attn_forward(in->Q, AD, in->K, AD, in->V, AD, AB, ATq, ATk, in->lq, in->lk, AH, Adh,
			r[k].out[0], r[k].out[1], AD);
	mm_attn_backward(in->Q, AD, in->K, AD, in->V, AD, AB, ATq, ATk, in->lq, in->lk, AH, Adh,
			r[k].out[0], in->dO, AD, dP, r[k].out[2], r[k].out[3], r[k].out[4]);
	free(dP);
	k++;
	r[k].name = "AdamW step", r[k].nout = 1;
	OUT(0, N);
	memcpy(r[k].out[0], in->x, (size_t)N * sizeof(float));
	float *grad = copy(in->dy, N);
	mm_param p = { .name = "w", .w = r[k].out[0], .g = grad, .n = N, .shape = { N, 1 },
		.decay = true };
	mm_adamw *o = NULL;
	mm_err e;
	if (mm_adamw_new(&o, &p, 1, 0.9f, 0.999f, 1e-8f, 0.01f, &e) == MM_OK) {
		mm_adamw_step(o, 1e-3f);
		mm_adamw_step(o, 1e-3f);
		mm_adamw_free(o);
	}
	free(grad);
	k++;
#undef OUT
	*nr = k;
}

int main(void)
{
	test_ranges();

	mm_rng g;
	mm_rng_seed(&g, 5);
	inputs in;
	in.x = rnd(&g, N), in.dy = rnd(&g, N), in.mask = rnd(&g, N);
	in.ln_x = rnd(&g, (size_t)LB * LD), in.ln_dy = rnd(&g, (size_t)LB * LD);
	in.g = rnd(&g, LD), in.b = rnd(&g, LD);
	for (int k = 0; k < MK; k++)
		in.mix[k] = rnd(&g, (size_t)MB * MN);
	in.A = rnd(&g, (size_t)MB * MK), in.mdy = rnd(&g, (size_t)MB * MN);
	in.bdY = rnd(&g, (size_t)BB * BO), in.bX = rnd(&g, (size_t)BB * BI);
	in.bW = rnd(&g, (size_t)BO * BI);
	in.Q = rnd(&g, (size_t)AB * ATq * AD), in.K = rnd(&g, (size_t)AB * ATk * AD);
	in.V = rnd(&g, (size_t)AB * ATk * AD), in.dO = rnd(&g, (size_t)AB * ATq * AD);
	for (int b = 0; b < AB; b++)
		in.lq[b] = ATq - 7 * b, in.lk[b] = ATk - 9 * b;
	/* zero the padded rows of dO, as the contract asks of incoming gradients */
	for (int b = 0; b < AB; b++)
		memset(in.dO + ((size_t)b * ATq + in.lq[b]) * AD, 0,
				(size_t)(ATq - in.lq[b]) * AD * sizeof(float));

	run_t ref[16], cur[16];
	int nr = 0, nc = 0;
	mm_set_threads(1);
	kernels(&in, ref, &nr);
	for (int t = 1; t < NTH; t++) {
		mm_set_threads(threads[t]);
		memset(cur, 0, sizeof cur);
		kernels(&in, cur, &nc);
		for (int k = 0; k < nr; k++) {
			bool same = true;
			for (int i = 0; i < ref[k].nout; i++)
				same &= memcmp(ref[k].out[i], cur[k].out[i], ref[k].size[i] * sizeof(float)) == 0;
			ok(same, "%s: %d threads give the bytes of 1", ref[k].name, threads[t]);
			for (int i = 0; i < cur[k].nout; i++)
				free(cur[k].out[i]);
		}
	}
	for (int k = 0; k < nr; k++)
		for (int i = 0; i < ref[k].nout; i++)
			free(ref[k].out[i]);
	free(in.x), free(in.dy), free(in.mask), free(in.ln_x), free(in.ln_dy), free(in.g);
	free(in.b), free(in.A), free(in.mdy), free(in.bdY), free(in.bX), free(in.bW);
	for (int k = 0; k < MK; k++)
		free(in.mix[k]);
	free(in.Q), free(in.K), free(in.V), free(in.dO);
	return tap_done();
}
