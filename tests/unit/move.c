/* move.c — the MoVE layers and the MoME builder (nn/move.h): adaptive
 * pooling against hand-computed values (PyTorch's adaptive_avg_pool2d
 * regions), every parameter's gradient against central finite differences
 * through avgpool2d, deform (the offsets included), route and the whole
 * MoME net (ADT, router, MoLE adapters), bad specs, the router's weights
 * read back, and same seed → same bytes through mm_net_fit. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn/move.h"
#include "rng.h"
#include "tap.h"
#include "gradcheck.h"

/* One pooling of a gh × gw grid of D = 1 to k × k, against want. */
static void pool_case(int gh, int gw, int k, const float *want, const char *what)
{
	mm_err e;
	mm_shape sh = { gh * gw, 1 };
	mm_net *net;
	mm_avgpool2d_conf pc = { gh, gw, k };
	int in0 = 0, id;
	bool built = mm_net_new_shaped(&net, 1, &sh, &e) == MM_OK &&
		(id = mm_net_add(net, MM_NODE_AVGPOOL2D, "pool", &in0, 1, &pc, &e)) >= 0 &&
		mm_net_finish(net, id, &e) == MM_OK;
	if (!ok(built, "%s: builds", what)) {
		diag("%s", e.msg);
		return;
	}
	float x[64];
	int len = gh * gw;
	for (int i = 0; i < gh * gw; i++)
		x[i] = (float)i;
	const float *X[1] = { x };
	const int *L[1] = { &len };
	const float *y = mm_net_forward_seq(net, X, L, 1, false, NULL);
	double worst = 0;
	for (int i = 0; i < k * k; i++)
		worst = fmax(worst, fabs(y[i] - want[i]));
	ok(worst < 1e-6, "%s: the %d × %d means (max error %.1e)", what, k, k, worst);
	mm_net_free(net);
}

static void test_pool_values(void)
{
	/* 3×3 (cells 0..8) to 2×2: rows [0,2) and [1,3), the same for columns */
	static const float a[] = { 2, 3, 5, 6 };
	pool_case(3, 3, 2, a, "avgpool2d 3×3 → 2×2 (overlapping regions)");
	/* 4×6 to 2×2: 2×3 blocks */
	static const float b[] = { 4, 7, 16, 19 };
	pool_case(4, 6, 2, b, "avgpool2d 4×6 → 2×2 (blocks)");
	/* 2×2 to 3×3: regions [0,1) [0,2) [1,2): cells repeat */
	static const float c[] = { 0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3 };
	pool_case(2, 2, 3, c, "avgpool2d 2×2 → 3×3 (k larger than the grid)");
}

/* ---- finite differences through a small net -------------------------------- */

enum { B = 3, GH = 3, GW = 4, DV = 5, D = 6, E = 4, C = 3 };

typedef struct {
	mm_net *net;
	float *X[MM_NET_MAXMOD], *R;
	const int *len[MM_NET_MAXMOD];
	int nout;
	uint64_t noise;
	bool far;        /* keep the deformable offsets away from the kinks */
} ctx_t;

static double loss(void *c_)
{
	ctx_t *c = c_;
	mm_rng g;
	mm_rng_seed(&g, c->noise);
	const float *Z = mm_net_forward_seq(c->net, (const float *const *)c->X, c->len, B, true, &g);
	return dotR(c->R, Z, (size_t)B * c->nout) + mm_net_aux_loss(c->net);
}

/* Bilinear sampling is only piecewise smooth: a sampling position that
 * crosses a cell centre's row or column within ±h makes a central
 * difference wrong whatever the gradient, and with a dozen positions moving
 * per offset weight, some checked entries meet one.  Smaller steps cross
 * fewer kinks but carry more float rounding: through a dozen float layers,
 * about 1e-4 absolute at h = 4e-3, large against a tensor whose gradients
 * are all a few 1e-3.  So each entry is differenced with h = 1.6e-2, 4e-3
 * and 1e-3 and must match the analytic value at one of them; a wrong
 * formula matches at none.  `late` counts the entries that matched only at
 * a smaller step (a kink crossed).  The whole-net tests also keep the
 * positions away from the kinks (grad_all), so there the larger steps
 * serve. */
static double check_kinked(loss_fn f, void *ctx, float *v, const float *g, size_t n,
		size_t *checked, size_t *late)
{
	static const float hs[3] = { 1.6e-2f, 4e-3f, 1e-3f };
	double gmax = 1e-3, err = 0;
	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(g[i]));
	size_t step = n > 400 ? n / 400 : 1;
	for (size_t i = 0; i < n; i += step) {
		float old = v[i];
		double best = INFINITY;
		int k;
		for (k = 0; k < 3 && best > 5 * TOL; k++) {
			v[i] = old + hs[k];
			double lp = f(ctx);
			v[i] = old - hs[k];
			double lm = f(ctx);
			best = fmin(best, fabs((lp - lm) / (2.0 * hs[k]) - g[i]) / gmax);
		}
		v[i] = old;
		++*checked;
		*late += k > 1;
		err = fmax(err, best);
	}
	return err;
}

/* Every parameter's gradient, after moving them off their initial values
 * (the offsets' weights and the adapters' up maps start at zero). */
static void grad_all(mm_net *net, ctx_t *c, const char *what)
{
	mm_rng ig;
	mm_rng_seed(&ig, 11);
	mm_net_init(net, &ig);
	size_t np;
	mm_param *P = mm_net_params(net, &np);
	for (size_t i = 0; i < np; i++)
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.3 * mm_rng_normal(&G));
	/* In a whole net, the deformable offsets sit 0.15 to 0.7 cells past a
	 * cell centre, moving little with the queries: no difference step
	 * crosses a kink, so the offsets' gradient is checked like any other. */
	for (size_t i = 0; c->far && i < np; i++) {
		size_t ln = strlen(P[i].name);
		bool W = ln > 12 && strcmp(P[i].name + ln - 12, "deform.off.W") == 0;
		bool b = ln > 12 && strcmp(P[i].name + ln - 12, "deform.off.b") == 0;
		for (size_t k = 0; (W || b) && k < P[i].n; k++)
			P[i].w[k] = W ? 0.02f * P[i].w[k] : (float)(0.4 + 0.08 * tanh(mm_rng_normal(&G)));
	}
	c->net = net;
	c->R = rnd((size_t)B * c->nout, 1);
	mm_net_zero_grad(net);
	loss(c);
	mm_net_backward(net, c->R);
	double worst = 0;
	size_t wi = 0, checked = 0, late = 0;
	for (size_t i = 0; i < np; i++) {
		double err = check_kinked(loss, c, P[i].w, P[i].g, P[i].n, &checked, &late);
		if (err > worst)
			worst = err, wi = i;
	}
	ok(worst < 5 * TOL, "%s: all %zu parameter gradients (max error %.1e at %s; %zu of %zu "
			"entries matched only at a smaller step)", what, np, worst, P[wi].name, late, checked);
	free(c->R);
}

/* grid → linear (so the grid's gradient reaches a parameter) → avgpool2d
 * 2×2 → linear to D (the queries) → deform over the grid; route of
 * (deform, queries) on logits from the instruction → meanpool → head. */
static void test_layers_grad(void)
{
	mm_err e;
	mm_shape sh[2] = { { GH * GW, DV }, { 1, E } };
	mm_net *net;
	mm_linear_conf gv = { DV }, qd = { D }, two = { 2 }, hc = { C };
	mm_avgpool2d_conf pc = { GH, GW, 2 };
	mm_deform_conf dc = { .heads = 2, .points = 3, .gh = GH, .gw = GW, .qh = 2, .qw = 2 };
	int s0 = 0, s1 = 1, g, q, dfm = -1, lg, in[3], id = -1;
	bool fine = mm_net_new_shaped(&net, 2, sh, &e) == MM_OK &&
		(g = mm_net_add(net, MM_NODE_LINEAR, "g", &s0, 1, &gv, &e)) >= 0 &&
		(id = mm_net_add(net, MM_NODE_AVGPOOL2D, "pool", &g, 1, &pc, &e)) >= 0 &&
		(q = mm_net_add(net, MM_NODE_LINEAR, "q", &id, 1, &qd, &e)) >= 0 &&
		(in[0] = q, in[1] = g, dfm = mm_net_add(net, MM_NODE_DEFORM, "dfm", in, 2, &dc, &e)) >= 0 &&
		(lg = mm_net_add(net, MM_NODE_LINEAR, "lg", &s1, 1, &two, &e)) >= 0 &&
		(in[0] = dfm, in[1] = q, in[2] = lg,
		 id = mm_net_add(net, MM_NODE_ROUTE, "mix", in, 3, NULL, &e)) >= 0 &&
		(id = mm_net_add(net, MM_NODE_MEANPOOL, "mp", &id, 1, NULL, &e)) >= 0 &&
		(id = mm_net_add(net, MM_NODE_LINEAR, "head", &id, 1, &hc, &e)) >= 0 &&
		mm_net_finish(net, id, &e) == MM_OK;
	if (!ok(fine, "avgpool2d, deform, route: the net builds")) {
		diag("%s", e.msg);
		return;
	}
	static const int lg_[B] = { GH * GW, GH * GW, GH * GW }, l1[B] = { 1, 1, 1 };
	ctx_t c = { .X = { rnd((size_t)B * GH * GW * DV, 1), rnd((size_t)B * E, 1) },
		.len = { lg_, l1 }, .nout = C, .noise = 3 };
	grad_all(net, &c, "avgpool2d + deform (offsets, weights, values) + route");
	float w[B * 2];
	int mix = mm_net_node_id(net, "mix");
	bool got = mm_net_move_weights(net, mix, B, w, &e) == MM_OK;
	ok(got && fabsf(w[0] + w[1] - 1) < 1e-6f && fabsf(w[4] + w[5] - 1) < 1e-6f && w[0] > 0 &&
			w[1] > 0, "route: the weights read back sum to 1 (%.3f + %.3f)", w[0], w[1]);
	ok(mm_net_move_weights(net, dfm, B, w, &e) == MM_EVALUE, "weights of a non-route node: refused");
	free(c.X[0]); free(c.X[1]);
	mm_net_free(net);
}

static mm_mome_spec small_spec(int transform, int aggregate, int adapters, int route)
{
	mm_mome_spec s = { .nenc = 2, .gh = { 3, 2 }, .gw = { 3, 2 }, .gd = { 4, 3 }, .edim = E,
		.tokens = 2, .transform = transform, .aggregate = aggregate, .points = 2,
		.width = 8, .depth = 1, .heads = 2, .ffn = 8, .nclass = C,
		.mole = { .adapters = adapters, .route = route, .dim = 3 } };
	return s;
}

static void test_mome_grad(int transform, int aggregate, int adapters, int route)
{
	mm_err e;
	mm_mome_spec s = small_spec(transform, aggregate, adapters, route);
	mm_net *net;
	char what[160];
	snprintf(what, sizeof what, "MoME %s + %s, %d adapters%s%s", mm_move_transform_name(transform),
			mm_move_aggregate_name(aggregate), adapters, adapters ? " routed per " : "",
			adapters ? mm_mole_route_name(route) : "");
	if (!ok(mm_net_build_mome(&net, &s, &e) == MM_OK, "%s: builds", what)) {
		diag("%s", e.msg);
		return;
	}
	static const int l0[B] = { 9, 9, 9 }, l1[B] = { 4, 4, 4 }, l2[B] = { 1, 1, 1 };
	ctx_t c = { .X = { rnd((size_t)B * 9 * 4, 1), rnd((size_t)B * 4 * 3, 1), rnd((size_t)B * E, 1) },
		.len = { l0, l1, l2 }, .nout = C, .noise = 5, .far = true };
	grad_all(net, &c, what);
	for (int m = 0; m < 3; m++)
		free(c.X[m]);
	mm_net_free(net);
}

static void test_spec_errors(void)
{
	mm_mome_spec s = small_spec(MM_MOVE_ADT, MM_MOVE_ROUTER, 0, 0);
	mm_net *net;
	mm_err e;
	s.nenc = 0;
	ok(mm_net_build_mome(&net, &s, &e) == MM_EVALUE && net == NULL &&
			strstr(e.msg, "encoders"), "no encoders: refused (%s)", e.msg);
	s = small_spec(MM_MOVE_ADT, MM_MOVE_ROUTER, 0, 0);
	s.nenc = 1;
	ok(mm_net_build_mome(&net, &s, &e) == MM_EVALUE && strstr(e.msg, "router"),
			"a router over one encoder: refused (%s)", e.msg);
	s = small_spec(MM_MOVE_ADT, MM_MOVE_ADD, 0, 0);
	s.width = 7;
	ok(mm_net_build_mome(&net, &s, &e) == MM_EVALUE, "width not a multiple of heads: refused (%s)",
			e.msg);
	s = small_spec(MM_MOVE_ADT, MM_MOVE_ADD, 0, 0);
	s.edim = 0;
	ok(mm_net_build_mome(&net, &s, &e) == MM_EVALUE && strstr(e.msg, "instruction"),
			"no instruction embedding: refused (%s)", e.msg);
	ok(mm_move_transform_parse("adt") == MM_MOVE_ADT && mm_move_transform_parse("x") < 0 &&
			mm_move_aggregate_parse("router") == MM_MOVE_ROUTER &&
			strcmp(mm_move_aggregate_name(MM_MOVE_ADD), "add") == 0, "names parse back");
}

/* mm_net_fit on the whole MoME net: same seed, same bytes. */
static size_t fit_once(uint64_t seed, float **out)
{
	mm_err e;
	mm_mome_spec s = small_spec(MM_MOVE_ADT, MM_MOVE_ROUTER, 2, MM_MOLE_INSTANCE);
	s.mole.gumbel = 1;
	mm_net *net;
	if (mm_net_build_mome(&net, &s, &e) != MM_OK)
		return 0;
	mm_rng ig, dg;
	mm_rng_seed(&ig, 7);
	mm_net_init(net, &ig);
	enum { n = 48 };
	mm_rng_seed(&dg, 1);
	float *X0 = malloc(sizeof(float) * n * 36), *X1 = malloc(sizeof(float) * n * 12),
	      *I = malloc(sizeof(float) * n * E);
	int *y = malloc(sizeof(int) * n), *L0 = malloc(sizeof(int) * n), *L1 = malloc(sizeof(int) * n);
	for (int i = 0; i < n; i++) {
		y[i] = i % C, L0[i] = 9, L1[i] = 4;
		for (int j = 0; j < 36; j++)
			X0[i * 36 + j] = (float)(mm_rng_normal(&dg) + (j % 4 == y[i]));
		for (int j = 0; j < 12; j++)
			X1[i * 12 + j] = (float)mm_rng_normal(&dg);
		for (int j = 0; j < E; j++)
			I[i * E + j] = (float)(mm_rng_normal(&dg) * 0.1 + (j == y[i]));
	}
	mm_dataset d = { .nmod = 3, .X = { X0, X1, I }, .len = { L0, L1, NULL }, .y = y, .n = n };
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 3, fp.batch = 16, fp.lr = 1e-2f, fp.seed = seed;
	mm_fit_result r;
	if (mm_net_fit(net, &d, NULL, &fp, &r, &e) != MM_OK)
		diag("%s", e.msg);
	size_t np, tot = 0;
	mm_param *P = mm_net_params(net, &np);
	for (size_t i = 0; i < np; i++)
		tot += P[i].n;
	*out = malloc(tot * sizeof **out);
	for (size_t i = 0, o = 0; i < np; o += P[i].n, i++)
		memcpy(*out + o, P[i].w, P[i].n * sizeof **out);
	free(X0); free(X1); free(I); free(y); free(L0); free(L1);
	mm_net_free(net);
	return tot;
}

static void test_fit(void)
{
	float *a = NULL, *b = NULL, *c = NULL;
	size_t n = fit_once(5, &a);
	fit_once(5, &b);
	fit_once(6, &c);
	ok(n > 0 && memcmp(a, b, n * sizeof *a) == 0, "mm_net_fit on MoME: same seed, same bytes");
	ok(n > 0 && memcmp(a, c, n * sizeof *a) != 0, "another seed, other bytes");
	free(a); free(b); free(c);
}

/* mm_net_profile: the layer calls' times land on their nodes, and a reset
 * clears them. */
static void test_profile(void)
{
	mm_err e;
	mm_mome_spec s = small_spec(MM_MOVE_ADT, MM_MOVE_ROUTER, 2, MM_MOLE_INSTANCE);
	mm_net *net;
	if (mm_net_build_mome(&net, &s, &e) != MM_OK)
		return;
	mm_rng ig;
	mm_rng_seed(&ig, 1);
	mm_net_init(net, &ig);
	static const int l0[B] = { 9, 9, 9 }, l1[B] = { 4, 4, 4 }, l2[B] = { 1, 1, 1 };
	float *X[3] = { rnd((size_t)B * 36, 1), rnd((size_t)B * 12, 1), rnd((size_t)B * E, 1) }, *R = rnd(B * C, 1);
	const int *L[3] = { l0, l1, l2 };
	double f0, b0, f, bw, tot = 0;
	mm_net_forward_seq(net, (const float *const *)X, L, B, false, NULL);
	mm_net_node_seconds(net, mm_net_node_id(net, "enc0.deform"), &f0, &b0);
	mm_net_profile(net, true);
	for (int k = 0; k < 3; k++) {
		mm_net_forward_seq(net, (const float *const *)X, L, B, true, &ig);
		mm_net_backward(net, R);
	}
	for (int i = 0; i < mm_net_nnodes(net); i++) {
		mm_net_node_seconds(net, i, &f, &bw);
		tot += f + bw;
	}
	mm_net_node_seconds(net, mm_net_node_id(net, "enc0.deform"), &f, &bw);
	ok(f0 == 0 && b0 == 0 && f > 0 && bw > 0 && tot > f + bw,
			"mm_net_profile: off by default; on, each node's forward and backward time (deform "
			"%.1e + %.1e s of %.1e s)", f, bw, tot);
	mm_net_profile(net, false);
	mm_net_node_seconds(net, mm_net_node_id(net, "enc0.deform"), &f, &bw);
	ok(f == 0 && bw == 0, "mm_net_profile resets the sums");
	for (int m = 0; m < 3; m++)
		free(X[m]);
	free(R);
	mm_net_free(net);
}

int main(void)
{
	mm_rng_seed(&G, 2027);
	test_pool_values();
	test_layers_grad();
	test_mome_grad(MM_MOVE_AVGPOOL, MM_MOVE_ADD, 0, 0);
	test_mome_grad(MM_MOVE_ADT, MM_MOVE_ADD, 0, 0);
	test_mome_grad(MM_MOVE_ADT, MM_MOVE_ROUTER, 0, 0);
	test_mome_grad(MM_MOVE_ADT, MM_MOVE_ROUTER, 2, MM_MOLE_INSTANCE);
	test_mome_grad(MM_MOVE_AVGPOOL, MM_MOVE_ROUTER, 3, MM_MOLE_INSTANCE);
	test_spec_errors();
	test_fit();
	test_profile();
	return tap_done();
}
