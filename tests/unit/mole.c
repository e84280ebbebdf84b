/* mole.c — the MoLE layer (nn/mole.h): every parameter's gradient against
 * central finite differences for the three routes, with Gumbel noise and
 * the load-balancing loss (away from ties: the top-1 choice is piecewise
 * constant), the block builder, the zero-initialised adapters' identity,
 * the choices read back, and same seed → same bytes through mm_net_fit. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn/mole.h"
#include "rng.h"
#include "tap.h"
#include "gradcheck.h"

enum { B = 4, T = 4, D = 6, E = 5, C = 3, N = 3 };
static const int len0[B] = { 4, 2, 1, 3 }, len1[B] = { 1, 1, 1, 1 };

typedef struct {
	mm_net *net;
	float *X[2], *R;
	const int *len[2];
	bool train;
	uint64_t noise;
} ctx_t;

/* L = Σ R ⊙ logits + the auxiliary losses; a training forward draws the
 * same Gumbel noise every time (the stream is reseeded). */
static double loss(void *c_)
{
	ctx_t *c = c_;
	mm_rng g;
	mm_rng_seed(&g, c->noise);
	const float *Z = mm_net_forward_seq(c->net, (const float *const *)c->X, c->len, B,
			c->train, c->train ? &g : NULL);
	return dotR(c->R, Z, B * C) + mm_net_aux_loss(c->net);
}

/* inputs X [T, D], e [1, E] → linear each (so that the input gradients
 * reach parameters) → mole, or a block with mole → meanpool → linear(C). */
static mm_net *build(const mm_mole_conf *mc, bool block, int *mole, mm_err *e)
{
	mm_shape sh[2] = { { T, D }, { 1, E } };
	mm_net *net;
	mm_linear_conf lc = { D }, le = { E }, hc = { C };
	mm_attn_conf ac = { .heads = 2, .ffn = 8 };
	if (mm_net_new_shaped(&net, 2, sh, e) != MM_OK)
		return NULL;
	int in[2], src0 = 0, src1 = 1, id = -1;
	bool fine = (in[0] = mm_net_add(net, MM_NODE_LINEAR, "px", &src0, 1, &lc, e)) >= 0 &&
		(in[1] = mm_net_add(net, MM_NODE_LINEAR, "pe", &src1, 1, &le, e)) >= 0;
	if (fine && block)
		fine = (id = mm_net_add_mole_block(net, "blk0", in[0], in[1], &ac, mc, e)) >= 0;
	else if (fine)
		fine = (id = mm_net_add(net, MM_NODE_MOLE, "ad", in, 2, mc, e)) >= 0;
	*mole = mm_net_node_id(net, block ? "blk0.mole" : "ad");
	fine = fine && (id = mm_net_add(net, MM_NODE_MEANPOOL, "pool", &id, 1, NULL, e)) >= 0 &&
		(id = mm_net_add(net, MM_NODE_LINEAR, "head", &id, 1, &hc, e)) >= 0 &&
		mm_net_finish(net, id, e) == MM_OK;
	if (!fine) {
		mm_net_free(net);
		return NULL;
	}
	return net;
}

/* The smallest gap between the two largest probabilities of a unit in the
 * last forward (the choice is stable under a perturbation well below it). */
static double min_gap(const mm_net *net, int id, bool tok)
{
	const float *P = mm_net_node_scratch(net, id) + (size_t)B * T * (1 + 2 * N);
	double gap = 1;
	for (int b = 0; b < B; b++)
		for (int t = 0; t < (tok ? len0[b] : 1); t++) {
			const float *p = P + ((size_t)(tok ? b * T + t : b)) * N;
			float a = -1, s = -1;
			for (int i = 0; i < N; i++)
				if (p[i] > a)
					s = a, a = p[i];
				else if (p[i] > s)
					s = p[i];
			gap = fmin(gap, a - s);
		}
	return gap;
}

static void test_grad(int route, float gumbel, float balance, bool block)
{
	mm_err e;
	mm_mole_conf mc = { .adapters = N, .route = route, .dim = 4, .gumbel = gumbel,
		.balance = balance };
	int id;
	mm_net *net = build(&mc, block, &id, &e);
	char what[128];
	snprintf(what, sizeof what, "%s%s route %s, gumbel %g, balance %g", block ? "block with " : "",
			"mole", mm_mole_route_name(route), gumbel, balance);
	if (!ok(net != NULL, "%s: builds", what)) {
		diag("%s", e.msg);
		return;
	}
	mm_rng ig;
	mm_rng_seed(&ig, 11);
	mm_net_init(net, &ig);
	size_t np;
	mm_param *P = mm_net_params(net, &np);
	for (size_t i = 0; i < np; i++) /* off the initial values: adapters not zero */
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.3 * mm_rng_normal(&G));
	ctx_t c = { net, { rnd((size_t)B * T * D, 1), rnd((size_t)B * E, 1) }, rnd(B * C, 1),
		{ len0, len1 }, gumbel > 0 || balance > 0, 99 };
	mm_net_zero_grad(net);
	loss(&c);
	mm_net_backward(net, c.R);
	double gap = min_gap(net, id, route != MM_MOLE_INSTANCE), worst = 0;
	for (size_t i = 0; i < np; i++)
		worst = fmax(worst, check(loss, &c, P[i].w, P[i].g, P[i].n, 1e-3f));
	ok(gap > 0.005 && worst < 5 * TOL, "%s: all %zu parameter gradients (max error %.1e, "
			"probability gap %.3f)", what, np, worst, gap);
	int k[B];
	ok(mm_net_mole_choices(net, id, B, k, &e) == MM_OK && k[0] >= 0 && k[0] < N &&
			k[B - 1] >= 0 && k[B - 1] < N, "%s: choices read back", what);
	free(c.X[0]); free(c.X[1]); free(c.R);
	mm_net_free(net);
}

/* Untrained adapters add nothing: the pooled output is zero, the logits are
 * the head's bias exactly. */
static void test_identity(void)
{
	mm_err e;
	mm_mole_conf mc = { .adapters = 4, .route = MM_MOLE_BOTH };
	int id;
	mm_net *net = build(&mc, false, &id, &e);
	mm_rng ig;
	mm_rng_seed(&ig, 3);
	mm_net_init(net, &ig);
	float *X[2] = { rnd((size_t)B * T * D, 1), rnd((size_t)B * E, 1) };
	const int *len[2] = { len0, len1 };
	const float *Z = mm_net_forward_seq(net, (const float *const *)X, len, B, false, NULL);
	const float *hb = mm_net_param(net, "head.b")->w;
	bool same = true;
	for (int b = 0; b < B; b++)
		for (int j = 0; j < C; j++)
			same = same && Z[b * C + j] == hb[j];
	ok(same, "untrained adapters output exactly zero (up-projection zero-initialised)");
	ok(mm_net_param(net, "ad.router.WI") && mm_net_param(net, "ad.router.WT") &&
			mm_net_param(net, "ad.up.W")->n == (size_t)4 * D * 16,
			"parameters named <node>.<tensor>, default rank 16");
	free(X[0]); free(X[1]);
	mm_net_free(net);
}

/* A few epochs of mm_net_fit with Gumbel noise and the balance loss: the
 * same seed gives the same bytes, another seed other bytes; the training
 * loss falls. */
typedef struct { double first, last; } losses;
static void on_epoch(void *ctx, const mm_fit_epoch *ep)
{
	losses *l = ctx;
	if (ep->epoch == 1)
		l->first = ep->train_loss;
	l->last = ep->train_loss;
}

static size_t fit_once(uint64_t seed, float **out, losses *l)
{
	mm_err e;
	mm_mole_conf mc = { .adapters = N, .route = MM_MOLE_INSTANCE, .dim = 4, .gumbel = 1,
		.balance = 0.1f };
	int id;
	mm_net *net = build(&mc, true, &id, &e);
	mm_rng ig, dg;
	mm_rng_seed(&ig, 7);
	mm_net_init(net, &ig);
	enum { n = 64 };
	mm_rng_seed(&dg, 1);
	float *X = malloc(sizeof(float) * n * T * D), *I = malloc(sizeof(float) * n * E);
	int *y = malloc(sizeof(int) * n), *L = malloc(sizeof(int) * n);
	for (int i = 0; i < n; i++) {
		y[i] = i % C;
		L[i] = 1 + i % T;
		for (int j = 0; j < T * D; j++)
			X[i * T * D + j] = (float)(mm_rng_normal(&dg) + (j % D == y[i]));
		for (int j = 0; j < E; j++)
			I[i * E + j] = (float)(mm_rng_normal(&dg) * 0.1 + (j == y[i]));
	}
	mm_dataset d = { .nmod = 2, .X = { X, I }, .len = { L, NULL }, .y = y, .n = n };
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 8, fp.batch = 16, fp.lr = 1e-2f, fp.seed = seed;
	fp.on_epoch = on_epoch, fp.ctx = l;
	mm_fit_result r;
	mm_status st = mm_net_fit(net, &d, NULL, &fp, &r, &e);
	if (st)
		diag("%s", e.msg);
	size_t np, tot = 0;
	mm_param *P = mm_net_params(net, &np);
	for (size_t i = 0; i < np; i++)
		tot += P[i].n;
	*out = malloc(tot * sizeof **out);
	for (size_t i = 0, o = 0; i < np; o += P[i].n, i++)
		memcpy(*out + o, P[i].w, P[i].n * sizeof **out);
	free(X); free(I); free(y); free(L);
	mm_net_free(net);
	return tot;
}

static void test_fit(void)
{
	float *a, *b, *c;
	losses la, lb, lc;
	size_t n = fit_once(5, &a, &la);
	fit_once(5, &b, &lb);
	fit_once(6, &c, &lc);
	ok(memcmp(a, b, n * sizeof *a) == 0, "mm_net_fit with Gumbel and balance: same seed, same bytes");
	ok(memcmp(a, c, n * sizeof *a) != 0, "another seed, other bytes");
	ok(la.last < la.first, "the training loss falls (%.3f → %.3f)", la.first, la.last);
	free(a); free(b); free(c);
}

/* The router learns through p_k: two instructions with opposite rules
 * (y = [x0 > 0] under one, [x0 < 0] under the other), an adapter-only net
 * (no other path sees the instruction).  One adapter cannot use the
 * instruction; two routed per instance can, once the router sends the
 * instructions to different adapters, which it must learn when both start
 * on the same one. */
static double route_run(int nad, uint64_t seed, bool *split0, bool *split1)
{
	enum { RT = 2, RD = 4, RE = 2, n = 512 };
	mm_err e;
	mm_shape sh[2] = { { RT, RD }, { 1, RE } };
	mm_net *net;
	mm_net_new_shaped(&net, 2, sh, &e);
	mm_mole_conf mc = { .adapters = nad, .route = MM_MOLE_INSTANCE, .dim = 8 };
	mm_linear_conf hc = { 2 };
	int in[2] = { 0, 1 }, id;
	id = mm_net_add(net, MM_NODE_MOLE, "ad", in, 2, &mc, &e);
	id = mm_net_add(net, MM_NODE_MEANPOOL, "pool", &id, 1, NULL, &e);
	id = mm_net_add(net, MM_NODE_LINEAR, "head", &id, 1, &hc, &e);
	mm_net_finish(net, id, &e);
	mm_rng g;
	mm_rng_seed(&g, seed);
	mm_net_init(net, &g);
	float *X = malloc(sizeof(float) * n * RT * RD), *I = calloc(n * RE, sizeof(float));
	float *P = malloc(sizeof(float) * n * 2);
	int *y = malloc(sizeof(int) * n), k[2];
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < RT * RD; j++)
			X[i * RT * RD + j] = (float)mm_rng_normal(&g);
		X[i * RT * RD + RD] = X[i * RT * RD]; /* x0 on both tokens */
		I[i * RE + i % 2] = 1;
		y[i] = i % 2 ? X[i * RT * RD] > 0 : X[i * RT * RD] < 0;
	}
	const float *X2[2] = { X, I }; /* records 0 and 1: one per instruction */
	mm_net_forward(net, X2, 2, false, NULL);
	mm_net_mole_choices(net, mm_net_node_id(net, "ad"), 2, k, &e);
	*split0 = k[0] != k[1];
	mm_dataset d = { .nmod = 2, .X = { X, I }, .y = y, .n = n };
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 40, fp.batch = 32, fp.lr = 1e-2f, fp.seed = seed;
	mm_fit_result r;
	mm_net_fit(net, &d, NULL, &fp, &r, &e);
	mm_net_predict(net, &d, P, &e);
	int c = 0;
	for (int i = 0; i < n; i++)
		c += (P[2 * i + 1] > P[2 * i]) == y[i];
	mm_net_forward(net, X2, 2, false, NULL);
	mm_net_mole_choices(net, mm_net_node_id(net, "ad"), 2, k, &e);
	*split1 = k[0] != k[1];
	mm_net_free(net);
	free(X); free(I); free(P); free(y);
	return (double)c / n;
}

static void test_routing_learns(void)
{
	for (uint64_t seed = 1; seed <= 3; seed++) {
		bool s0, s1, u0, u1;
		double one = route_run(1, seed, &u0, &u1), two = route_run(2, seed, &s0, &s1);
		ok(one < 0.7 && two > 0.95 && !s0 && s1, "seed %d: one adapter %.3f, two routed %.3f "
				"(instructions on one adapter at init, split after training)",
				(int)seed, one, two);
	}
}

int main(void)
{
	mm_rng_seed(&G, 2026);
	for (int route = 0; route < 3; route++) {
		test_grad(route, 0, 0, false);
		test_grad(route, 0.7f, 0.5f, false);
	}
	test_grad(MM_MOLE_INSTANCE, 0, 0.5f, true);
	test_grad(MM_MOLE_BOTH, 1, 0, true);
	test_identity();
	test_fit();
	test_routing_learns();
	return tap_done();
}
