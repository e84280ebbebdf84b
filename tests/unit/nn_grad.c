/* nn_grad.c — every layer's backward pass against central finite differences
 * (the method is described in gradcheck.h). */
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "optim.h"
#include "rng.h"
#include "tap.h"
#include "gradcheck.h"

/* Keep values away from ReLU's kink so the finite difference is smooth. */
static void away_from_zero(float *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fabsf(p[i]) < 0.1f)
			p[i] = p[i] < 0 ? -0.1f - p[i] : 0.1f + p[i];
}

/* ---- linear ---- */
typedef struct { int B, din, dout; float *X, *W, *b, *Y, *R; } lin_t;
static double lin_loss(void *c_)
{
	lin_t *c = c_;
	mm_linear_forward(c->X, c->B, c->din, c->W, c->b, c->dout, c->Y);
	return dotR(c->R, c->Y, (size_t)c->B * c->dout);
}

static void test_linear(void)
{
	lin_t c = { .B = 5, .din = 7, .dout = 4 };
	c.X = rnd(35, 1); c.W = rnd(28, 0.5); c.b = rnd(4, 0.5); c.Y = zeros(20); c.R = rnd(20, 1);
	float *dX = zeros(35), *dW = zeros(28), *db = zeros(4);
	lin_loss(&c);
	mm_linear_backward(c.X, c.R, c.B, c.din, c.dout, c.W, dW, db, dX);
	ok(check(lin_loss, &c, c.X, dX, 35, 1e-2f) < TOL, "linear dX");
	ok(check(lin_loss, &c, c.W, dW, 28, 1e-2f) < TOL, "linear dW");
	ok(check(lin_loss, &c, c.b, db, 4, 1e-2f) < TOL, "linear db");
	/* accumulation: a second backward doubles the gradients */
	float w0 = dW[3];
	mm_linear_backward(c.X, c.R, c.B, c.din, c.dout, c.W, dW, db, dX);
	near(dW[3], 2 * w0, 1e-5, "linear backward accumulates");
	free(c.X); free(c.W); free(c.b); free(c.Y); free(c.R); free(dX); free(dW); free(db);
}

/* ---- element-wise activations ---- */
typedef struct { size_t n; float *x, *y, *R; int kind; } act_t;
static double act_loss(void *c_)
{
	act_t *c = c_;
	if (c->kind == 0)
		mm_relu_forward(c->x, c->y, c->n);
	else
		mm_gelu_forward(c->x, c->y, c->n);
	return dotR(c->R, c->y, c->n);
}

static void test_act(int kind)
{
	act_t c = { .n = 64, .kind = kind };
	c.x = rnd(64, 1.5); c.y = zeros(64); c.R = rnd(64, 1);
	away_from_zero(c.x, 64);
	float *dx = zeros(64);
	act_loss(&c);
	if (kind == 0)
		mm_relu_backward(c.x, c.R, dx, 64);
	else
		mm_gelu_backward(c.x, c.R, dx, 64);
	ok(check(act_loss, &c, c.x, dx, 64, 1e-2f) < TOL, "%s dx", kind ? "gelu" : "relu");
	free(c.x); free(c.y); free(c.R); free(dx);
}

/* GELU's values and slopes against tanh in double, over the range where it
 * bends and far outside it (the kernel has its own vectorisable tanh). */
static void test_gelu_values(void)
{
	enum { N = 24003 };
	static float x[N], y[N], dx[N], ones[N];
	for (int i = 0; i < N; i++) {
		x[i] = i < 24001 ? -12.0f + 0.001f * i : i == 24001 ? -1e4f : 1e4f;
		ones[i] = 1;
	}
	mm_gelu_forward(x, y, N);
	mm_gelu_backward(x, ones, dx, N);
	double ey = 0, ed = 0;
	for (int i = 0; i < N; i++) {
		double v = x[i], k = sqrt(2 / M_PI), u = k * (v + 0.044715 * v * v * v), t = tanh(u);
		double ry = 0.5 * v * (1 + t);
		double rd = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
		ey = fmax(ey, fabs(y[i] - ry) / (1 + fabs(ry)));
		ed = fmax(ed, fabs(dx[i] - rd) / (1 + fabs(rd)));
	}
	ok(ey < 3e-7, "gelu values match tanh in double (max rel. error %.1e)", ey);
	ok(ed < 3e-7, "gelu slopes match tanh in double (max rel. error %.1e)", ed);
}

/* ---- dropout: the same mask for every forward (the rng is copied) ---- */
typedef struct { size_t n; float p; mm_rng g; float *x, *y, *mask, *R; } drop_t;
static double drop_loss(void *c_)
{
	drop_t *c = c_;
	mm_rng g = c->g;
	mm_dropout_forward(&g, c->p, c->x, c->y, c->mask, c->n);
	return dotR(c->R, c->y, c->n);
}

static void test_dropout(void)
{
	drop_t c = { .n = 2000, .p = 0.3f };
	mm_rng_seed(&c.g, 42);
	c.x = rnd(2000, 1); c.y = zeros(2000); c.mask = zeros(2000); c.R = rnd(2000, 1);
	float *dx = zeros(2000);
	drop_loss(&c);
	mm_dropout_backward(c.mask, c.R, dx, c.n);
	ok(check(drop_loss, &c, c.x, dx, c.n, 1e-2f) < TOL, "dropout dx");
	size_t zero = 0;
	for (size_t i = 0; i < c.n; i++)
		zero += c.mask[i] == 0;
	near((double)zero / c.n, 0.3, 0.1, "dropout drops about p of the units (%zu/2000)", zero);
	ok(fabsf(c.mask[0] - 0) < 1e-7 || fabsf(c.mask[0] - 1 / 0.7f) < 1e-6, "dropout scales kept units by 1/(1-p)");
	/* same seed → same mask */
	float *m2 = zeros(2000), *y2 = zeros(2000);
	mm_rng g = c.g;
	mm_dropout_forward(&g, c.p, c.x, y2, m2, c.n);
	ok(memcmp(m2, c.mask, c.n * sizeof(float)) == 0, "dropout mask is a function of the seed");
	free(c.x); free(c.y); free(c.mask); free(c.R); free(dx); free(m2); free(y2);
}

/* ---- layer norm ---- */
typedef struct { int B, d; float *X, *g, *b, *Y, *mean, *rstd, *R; } ln_t;
static double ln_loss(void *c_)
{
	ln_t *c = c_;
	mm_layernorm_forward(c->X, c->B, c->d, c->g, c->b, c->Y, c->mean, c->rstd);
	return dotR(c->R, c->Y, (size_t)c->B * c->d);
}

static void test_layernorm(void)
{
	ln_t c = { .B = 4, .d = 9 };
	c.X = rnd(36, 2); c.g = rnd(9, 1); c.b = rnd(9, 1); c.Y = zeros(36);
	c.mean = zeros(4); c.rstd = zeros(4); c.R = rnd(36, 1);
	float *dX = zeros(36), *dg = zeros(9), *db = zeros(9);
	ln_loss(&c);
	mm_layernorm_backward(c.X, c.R, c.B, c.d, c.g, c.mean, c.rstd, dg, db, dX);
	ok(check(ln_loss, &c, c.X, dX, 36, 1e-2f) < TOL, "layernorm dX");
	ok(check(ln_loss, &c, c.g, dg, 9, 1e-2f) < TOL, "layernorm dgamma");
	ok(check(ln_loss, &c, c.b, db, 9, 1e-2f) < TOL, "layernorm dbeta");
	free(c.X); free(c.g); free(c.b); free(c.Y); free(c.mean); free(c.rstd); free(c.R);
	free(dX); free(dg); free(db);
}

/* ---- product ---- */
typedef struct { size_t n; float *a, *b, *y, *R; } prod_t;
static double prod_loss(void *c_)
{
	prod_t *c = c_;
	mm_prod_forward(c->a, c->b, c->y, c->n);
	return dotR(c->R, c->y, c->n);
}

static void test_prod(void)
{
	prod_t c = { .n = 30 };
	c.a = rnd(30, 1); c.b = rnd(30, 1); c.y = zeros(30); c.R = rnd(30, 1);
	float *da = zeros(30), *db = zeros(30);
	mm_prod_backward(c.a, c.b, c.R, da, db, c.n);
	ok(check(prod_loss, &c, c.a, da, 30, 1e-2f) < TOL, "prod da");
	ok(check(prod_loss, &c, c.b, db, 30, 1e-2f) < TOL, "prod db");
	free(c.a); free(c.b); free(c.y); free(c.R); free(da); free(db);
}

/* ---- bilinear ---- */
typedef struct { int B, p, q, o; float *A, *Bm, *W, *bias, *T, *Y, *R; } bil_t;
static double bil_loss(void *c_)
{
	bil_t *c = c_;
	mm_bilinear_forward(c->A, c->Bm, c->B, c->p, c->q, c->o, c->W, c->bias, c->T, c->Y);
	return dotR(c->R, c->Y, (size_t)c->B * c->o);
}

static void test_bilinear(void)
{
	bil_t c = { .B = 3, .p = 5, .q = 4, .o = 6 };
	c.A = rnd(15, 1); c.Bm = rnd(12, 1); c.W = rnd(5 * 24, 0.5); c.bias = rnd(6, 1);
	c.T = zeros(3 * 24); c.Y = zeros(18); c.R = rnd(18, 1);
	float *dT = zeros(72), *dW = zeros(120), *db = zeros(6), *dA = zeros(15), *dB = zeros(12);
	bil_loss(&c);
	mm_bilinear_backward(c.A, c.Bm, c.B, c.p, c.q, c.o, c.W, c.T, c.R, dT, dW, db, dA, dB);
	ok(check(bil_loss, &c, c.A, dA, 15, 1e-2f) < TOL, "bilinear dA");
	ok(check(bil_loss, &c, c.Bm, dB, 12, 1e-2f) < TOL, "bilinear dB");
	ok(check(bil_loss, &c, c.W, dW, 120, 1e-2f) < TOL, "bilinear dW");
	ok(check(bil_loss, &c, c.bias, db, 6, 1e-2f) < TOL, "bilinear dbias");
	/* against the definition y_k = Σ_ij A_i W[i,kq+j] B_j + b_k */
	double y = c.bias[2];
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 4; j++)
			y += (double)c.A[5 + i] * c.W[i * 24 + 2 * 4 + j] * c.Bm[4 + j];
	near(c.Y[6 + 2], y, 1e-5, "bilinear forward matches its definition");
	free(c.A); free(c.Bm); free(c.W); free(c.bias); free(c.T); free(c.Y); free(c.R);
	free(dT); free(dW); free(db); free(dA); free(dB);
}

/* ---- losses ---- */
typedef struct { int B, C; float *Z, *P, *w; int *y; int focal; float alpha, gamma; } loss_t;
static double loss_loss(void *c_)
{
	loss_t *c = c_;
	return c->focal ? mm_focal_loss(c->Z, c->y, c->B, c->C, c->w, c->alpha, c->gamma, c->P, NULL)
		: mm_xent_loss(c->Z, c->y, c->B, c->C, c->w, c->P, NULL);
}

static void test_loss(int focal, bool weighted, float gamma)
{
	loss_t c = { .B = 6, .C = 3, .focal = focal, .alpha = 0.7f, .gamma = gamma };
	c.Z = rnd(18, 2); c.P = zeros(18);
	float w[3] = { 0.5f, 2.0f, 1.0f };
	c.w = weighted ? w : NULL;
	int y[6] = { 0, 1, 2, 1, 0, 2 };
	c.y = y;
	float *dZ = zeros(18);
	if (focal)
		mm_focal_loss(c.Z, c.y, c.B, c.C, c.w, c.alpha, c.gamma, c.P, dZ);
	else
		mm_xent_loss(c.Z, c.y, c.B, c.C, c.w, c.P, dZ);
	ok(check(loss_loss, &c, c.Z, dZ, 18, 1e-2f) < TOL, "%s%s dZ (gamma %g)",
			focal ? "focal" : "cross-entropy", weighted ? " with class weights" : "", gamma);
	free(c.Z); free(c.P); free(dZ);
}

static void test_loss_values(void)
{
	float Z[4] = { 0, 0, 2, -1 }, P[4];
	int y[2] = { 0, 1 };
	double L = mm_xent_loss(Z, y, 2, 2, NULL, P, NULL);
	double l2 = log(1 + exp(3.0)); /* -log softmax([2,-1])[1] */
	near(L, (log(2.0) + l2) / 2, 1e-6, "cross-entropy value");
	double F = mm_focal_loss(Z, y, 2, 2, NULL, 1, 0, P, NULL);
	near(F, L, 1e-6, "focal with gamma 0, alpha 1 equals cross-entropy");
	double F2 = mm_focal_loss(Z, y, 2, 2, NULL, 1, 2, P, NULL);
	double p2 = 1 / (1 + exp(3.0));
	near(F2, (0.25 * log(2.0) + (1 - p2) * (1 - p2) * l2) / 2, 1e-5, "focal value with gamma 2");
	float w[2] = { 3, 1 };
	double W = mm_xent_loss(Z, y, 2, 2, w, P, NULL);
	near(W, (3 * log(2.0) + l2) / 4, 1e-6, "weighted cross-entropy is the weighted mean");
}

/* ---- a whole graph: every node type, gradients of parameters ---- */
typedef struct { mm_net *net; const float *X[2]; int B; int *y; mm_rng g; float *P; int C; } net_t;
static double net_loss(void *c_)
{
	net_t *c = c_;
	mm_rng g = c->g;
	const float *Z = mm_net_forward(c->net, c->X, c->B, true, &g);
	return mm_focal_loss(Z, c->y, c->B, c->C, NULL, 1, 1, c->P, NULL);
}

/* The small net of the whole-network tests: two modalities of 6 and 5 inputs,
 * projections of 4, a head 5 wide, 3 classes. */
static mm_net_spec small_spec(int fusion, int layers, int bilinear_dim, float dropout)
{
	mm_net_spec s;
	mm_net_spec_default(&s);
	s.nmod = 2;
	s.dims[0] = 6;
	s.dims[1] = 5;
	s.proj = 4;
	s.hidden = 5;
	s.layers = layers;
	s.nclass = 3;
	s.fusion = fusion;
	s.bilinear_dim = bilinear_dim;
	s.dropout = dropout;
	return s;
}

static void test_net(int fusion, int act)
{
	mm_net_spec s = small_spec(fusion, 2, 3, 0.2f);
	s.act = act;
	mm_err e;
	net_t c = { .B = 4, .C = 3 };
	if (!ok(mm_net_build(&c.net, &s, &e) == MM_OK, "build net fusion %d act %d", fusion, act))
		return;
	mm_rng ig;
	mm_rng_seed(&ig, 3);
	mm_net_init(c.net, &ig);
	mm_rng_seed(&c.g, 9);
	float *X0 = rnd(24, 1), *X1 = rnd(20, 1);
	c.X[0] = X0;
	c.X[1] = X1;
	int y[4] = { 0, 2, 1, 2 };
	c.y = y;
	c.P = zeros(12);
	float dZ[12];
	mm_rng g = c.g;
	const float *Z = mm_net_forward(c.net, c.X, c.B, true, &g);
	mm_focal_loss(Z, c.y, c.B, c.C, NULL, 1, 1, c.P, dZ);
	mm_net_zero_grad(c.net);
	mm_net_backward(c.net, dZ);
	size_t np;
	mm_param *p = mm_net_params(c.net, &np);
	double worst = 0;
	for (size_t i = 0; i < np; i++) {
		/* a ReLU unit sitting at its kink would make the difference jump:
		 * h small enough, and the tolerance is relative to the largest entry */
		double err = check(net_loss, &c, p[i].w, p[i].g, p[i].n, 2e-3f);
		if (err > worst)
			worst = err;
		if (err >= 2e-2)
			diag("%s: relative error %g", p[i].name, err);
	}
	ok(worst < 2e-2, "net (fusion %d, act %d): all %zu parameter tensors match finite differences (worst %.2g)",
			fusion, act, np, worst);
	mm_net_free(c.net);
	free(X0); free(X1); free(c.P);
}

static void test_layernorm_node(void)
{
	/* a graph that uses layer norm and a concat of an input with a computed node */
	int dims[1] = { 5 };
	mm_net *net;
	mm_err e;
	mm_net_new(&net, 1, dims, &e);
	int in0 = 0;
	mm_linear_conf six = { 6 }, two = { 2 };
	int l1 = mm_net_add(net, MM_NODE_LINEAR, NULL, &in0, 1, &six, &e);
	int ln = mm_net_add(net, MM_NODE_LAYERNORM, NULL, &l1, 1, NULL, &e);
	int g = mm_net_add(net, MM_NODE_GELU, NULL, &ln, 1, NULL, &e);
	int cat[2] = { g, in0 };
	int cc = mm_net_add(net, MM_NODE_CONCAT, NULL, cat, 2, NULL, &e);
	int out = mm_net_add(net, MM_NODE_LINEAR, NULL, &cc, 1, &two, &e);
	ok(out > 0 && mm_net_finish(net, out, &e) == MM_OK, "custom graph with layer norm builds");
	mm_rng ig;
	mm_rng_seed(&ig, 5);
	mm_net_init(net, &ig);
	size_t np;
	mm_param *p = mm_net_params(net, &np);
	for (size_t k = 0; k < p[2].n; k++) /* perturb gamma/beta away from 1/0 */
		p[2].w[k] += (float)mm_rng_normal(&ig) * 0.3f, p[3].w[k] += (float)mm_rng_normal(&ig) * 0.3f;
	float *X = rnd(15, 1);
	net_t c = { .net = net, .B = 3, .C = 2 };
	c.X[0] = X;
	int y[3] = { 1, 0, 1 };
	c.y = y;
	c.P = zeros(6);
	mm_rng_seed(&c.g, 1);
	float dZ[6];
	const float *Z = mm_net_forward(net, c.X, 3, true, &c.g);
	mm_focal_loss(Z, y, 3, 2, NULL, 1, 1, c.P, dZ);
	mm_net_zero_grad(net);
	mm_net_backward(net, dZ);
	double worst = 0;
	for (size_t i = 0; i < np; i++)
		worst = fmax(worst, check(net_loss, &c, p[i].w, p[i].g, p[i].n, 2e-3f));
	ok(worst < 2e-2, "layer-norm graph: parameters match finite differences (worst %.2g)", worst);
	mm_net_free(net);
	free(X); free(c.P);
}

/* The trainer (which clears the gradients once per step, whatever they held)
 * must follow the public backward's gradients: one full-batch AdamW step
 * from zero moments moves every weight by -lr * sign(g). */
static void test_fit_step(int fusion)
{
	mm_net_spec s = small_spec(fusion, 1, 2, 0);
	mm_err e;
	mm_net *net;
	mm_net_build(&net, &s, &e);
	mm_rng ig;
	mm_rng_seed(&ig, 4);
	mm_net_init(net, &ig);
	enum { NB = 8 };
	float *X0 = rnd(NB * 6, 1), *X1 = rnd(NB * 5, 1), P[NB * 3], dZ[NB * 3];
	int y[NB] = { 0, 1, 2, 0, 1, 2, 2, 1 };
	const float *X[2] = { X0, X1 };
	const float *Z = mm_net_forward(net, X, NB, false, NULL);
	mm_xent_loss(Z, y, NB, 3, NULL, P, dZ);
	mm_net_zero_grad(net);
	mm_net_backward(net, dZ);
	size_t np;
	mm_param *p = mm_net_params(net, &np);
	float **g0 = malloc(np * sizeof *g0), **w0 = malloc(np * sizeof *w0);
	for (size_t i = 0; i < np; i++) {
		g0[i] = malloc(p[i].n * sizeof(float));
		w0[i] = malloc(p[i].n * sizeof(float));
		memcpy(g0[i], p[i].g, p[i].n * sizeof(float));
		memcpy(w0[i], p[i].w, p[i].n * sizeof(float));
		for (size_t k = 0; k < p[i].n; k++) /* stale garbage the trainer must not add to */
			p[i].g[k] = 1e3f;
	}
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 1;
	fp.batch = NB;
	fp.lr = 1e-3f;
	fp.weight_decay = 0;
	fp.warmup = 0;
	fp.clip = 0;
	mm_dataset d = { .nmod = 2, .X = { X0, X1 }, .y = y, .n = NB };
	mm_fit_result r;
	ok(mm_net_fit(net, &d, NULL, &fp, &r, &e) == MM_OK && r.steps == 1, "one full-batch step (fusion %d)", fusion);
	size_t bad = 0, checked = 0;
	for (size_t i = 0; i < np; i++)
		for (size_t k = 0; k < p[i].n; k++) {
			if (fabsf(g0[i][k]) < 1e-5f)
				continue;
			checked++;
			float dw = p[i].w[k] - w0[i][k];
			if (fabsf(fabsf(dw) - 1e-3f) > 1e-5f || (dw > 0) == (g0[i][k] > 0))
				bad++;
		}
	ok(bad == 0 && checked > 50, "trainer step follows the public gradients (%zu of %zu off)", bad, checked);
	for (size_t i = 0; i < np; i++) {
		free(g0[i]);
		free(w0[i]);
	}
	free(g0); free(w0); free(X0); free(X1);
	mm_net_free(net);
}

/* ---- every weighted layer, and an auxiliary loss, through the graph and the
 * trainer: in0 [5] → linear → layer norm → gelu ─┬→ bilinear ─┐
 *          in1 [4] → linear → relu ───────────────┴→ prod ─────┴→ concat →
 *          penalty (aux loss) → linear out [3] ---- */
static mm_net *all_layers_net(uint64_t seed)
{
	int dims[2] = { 5, 4 };
	mm_net *n;
	mm_err e;
	mm_net_new(&n, 2, dims, &e);
	mm_linear_conf six = { 6 }, three = { 3 };
	mm_penalty_conf pen = { 0.3f };
	int i0 = 0, i1 = 1;
	int a = mm_net_add(n, MM_NODE_LINEAR, "enc.a", &i0, 1, &six, &e);
	int ln = mm_net_add(n, MM_NODE_LAYERNORM, "enc.a.norm", &a, 1, NULL, &e);
	int g = mm_net_add(n, MM_NODE_GELU, "enc.a.act", &ln, 1, NULL, &e);
	int b = mm_net_add(n, MM_NODE_LINEAR, "enc.b", &i1, 1, &six, &e);
	int rb = mm_net_add(n, MM_NODE_RELU, "enc.b.act", &b, 1, NULL, &e);
	int pair[2] = { g, rb };
	int bl = mm_net_add(n, MM_NODE_BILINEAR, "fuse.bil", pair, 2, &three, &e);
	int pr = mm_net_add(n, MM_NODE_PROD, "fuse.prod", pair, 2, NULL, &e);
	int cat[2] = { bl, pr };
	int c = mm_net_add(n, MM_NODE_CONCAT, "fuse.cat", cat, 2, NULL, &e);
	int pe = mm_net_add(n, MM_NODE_PENALTY, "fuse.pen", &c, 1, &pen, &e);
	int o = mm_net_add(n, MM_NODE_LINEAR, "head.out", &pe, 1, &three, &e);
	if (o < 0 || mm_net_finish(n, o, &e) != MM_OK) {
		diag("all_layers_net: %s", e.msg);
		exit(1);
	}
	mm_rng r;
	mm_rng_seed(&r, seed);
	mm_net_init(n, &r);
	size_t np;
	mm_param *p = mm_net_params(n, &np);
	for (size_t i = 0; i < np; i++) /* move layer norm's γ, β away from 1, 0 */
		for (size_t k = 0; k < p[i].n; k++)
			p[i].w[k] += 0.2f * (float)mm_rng_normal(&r);
	return n;
}

/* cross-entropy plus the layers' auxiliary losses, in a training forward */
static double aux_net_loss(void *c_)
{
	net_t *c = c_;
	mm_rng g = c->g;
	const float *Z = mm_net_forward(c->net, c->X, c->B, true, &g);
	double L = mm_xent_loss(Z, c->y, c->B, c->C, NULL, c->P, NULL);
	return L + mm_net_aux_loss(c->net);
}

enum { FB = 8 };
static int fit_y[FB] = { 0, 1, 2, 0, 1, 2, 2, 1 };

/* The public gradients of aux_net_loss on a batch, into g0 (np arrays). */
static float **public_grads(net_t *c)
{
	float dZ[FB * 3];
	mm_rng g = c->g;
	const float *Z = mm_net_forward(c->net, c->X, c->B, true, &g);
	mm_xent_loss(Z, c->y, c->B, c->C, NULL, c->P, dZ);
	mm_net_zero_grad(c->net);
	mm_net_backward(c->net, dZ);
	size_t np;
	mm_param *p = mm_net_params(c->net, &np);
	float **g0 = malloc(np * sizeof *g0);
	for (size_t i = 0; i < np; i++) {
		g0[i] = malloc(p[i].n * sizeof(float));
		memcpy(g0[i], p[i].g, p[i].n * sizeof(float));
	}
	return g0;
}

static void test_all_layers(void)
{
	mm_net *net = all_layers_net(21);
	float *X0 = rnd(FB * 5, 1), *X1 = rnd(FB * 4, 1);
	net_t c = { .net = net, .B = FB, .C = 3, .y = fit_y, .P = zeros(FB * 3) };
	c.X[0] = X0;
	c.X[1] = X1;
	mm_rng_seed(&c.g, 1);
	float **g0 = public_grads(&c);
	size_t np;
	mm_param *p = mm_net_params(net, &np);
	double worst = 0;
	for (size_t i = 0; i < np; i++) {
		double err = check(aux_net_loss, &c, p[i].w, g0[i], p[i].n, 2e-3f);
		if (err >= 2e-2)
			diag("%s: relative error %g", p[i].name, err);
		worst = fmax(worst, err);
	}
	ok(worst < 2e-2, "linear, layer norm, bilinear, prod, concat and an auxiliary loss: "
			"all %zu parameter tensors match finite differences (worst %.2g)", np, worst);
	mm_rng g = c.g;
	mm_net_forward(net, c.X, FB, true, &g);
	double aux = mm_net_aux_loss(net);
	mm_net_forward(net, c.X, FB, false, NULL);
	ok(aux > 0 && mm_net_aux_loss(net) == 0, "the auxiliary loss counts in training forwards only (%.3g)", aux);

	/* one full-batch AdamW step from zero moments moves every weight by
	 * -lr * sign(g), frozen ones not at all, weight decay included */
	mm_param *fz[2] = { mm_net_param(net, "enc.a.norm.gamma"), mm_net_param(net, "fuse.bil.W") };
	fz[0]->frozen = fz[1]->frozen = true;
	float *fw[2];
	for (int k = 0; k < 2; k++) {
		fw[k] = malloc(fz[k]->n * sizeof(float));
		memcpy(fw[k], fz[k]->w, fz[k]->n * sizeof(float));
	}
	float **w0 = malloc(np * sizeof *w0);
	for (size_t i = 0; i < np; i++) {
		w0[i] = malloc(p[i].n * sizeof(float));
		memcpy(w0[i], p[i].w, p[i].n * sizeof(float));
		for (size_t k = 0; k < p[i].n; k++) /* stale garbage the trainer must clear */
			p[i].g[k] = 1e3f;
	}
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 1;
	fp.batch = FB;
	fp.lr = 1e-3f;
	fp.weight_decay = 0.5f;
	fp.warmup = 0;
	fp.clip = 0;
	mm_dataset d = { .nmod = 2, .X = { X0, X1 }, .y = fit_y, .n = FB };
	mm_fit_result r;
	mm_err e;
	ok(mm_net_fit(net, &d, NULL, &fp, &r, &e) == MM_OK && r.steps == 1, "one full-batch step");
	size_t bad = 0, checked = 0;
	for (size_t i = 0; i < np; i++) {
		if (p[i].frozen)
			continue;
		float dec = p[i].decay ? 1.0f - 1e-3f * 0.5f : 1.0f;
		for (size_t k = 0; k < p[i].n; k++) {
			if (fabsf(g0[i][k]) < 1e-5f)
				continue;
			checked++;
			float dw = p[i].w[k] - w0[i][k] * dec;
			if (fabsf(fabsf(dw) - 1e-3f) > 2e-5f || (dw > 0) == (g0[i][k] > 0)) {
				if (bad < 5)
					diag("%s[%zu]: g %g, step %g", p[i].name, k, g0[i][k], dw);
				bad++;
			}
		}
	}
	ok(bad == 0 && checked > 100, "the trainer's step follows the public gradients of every weighted layer "
			"and the auxiliary loss (%zu of %zu off)", bad, checked);
	ok(memcmp(fw[0], fz[0]->w, fz[0]->n * sizeof(float)) == 0 &&
			memcmp(fw[1], fz[1]->w, fz[1]->n * sizeof(float)) == 0,
			"frozen parameters stay as they were (no step, no weight decay)");
	for (size_t i = 0; i < np; i++) {
		free(g0[i]);
		free(w0[i]);
	}
	free(g0); free(w0); free(fw[0]); free(fw[1]);
	free(X0); free(X1); free(c.P);
	mm_net_free(net);
}

/* A custom objective that is the cross-entropy on the records' targets. */
static int objective_calls;
static double xent_objective(void *ctx, const float *Z, int B, int C, const mm_dataset *d,
		const size_t *idx, float *dZ)
{
	(void)ctx;
	int y[64];
	float P[64 * 3];
	if (B > 64 || C != 3)
		return NAN;
	for (int r = 0; r < B; r++)
		y[r] = d->y[idx[r]];
	objective_calls++;
	return mm_xent_loss(Z, y, B, C, NULL, P, dZ);
}

static void test_objective(void)
{
	enum { N = 40 };
	float *X0 = rnd(N * 5, 1), *X1 = rnd(N * 4, 1);
	int y[N];
	for (int i = 0; i < N; i++)
		y[i] = (X0[i * 5] > 0) + (X1[i * 4] > 0.5f);
	mm_dataset d = { .nmod = 2, .X = { X0, X1 }, .y = y, .n = N };
	mm_net *a = all_layers_net(5), *b = all_layers_net(5);
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 3;
	fp.batch = 8;
	mm_fit_result r;
	mm_err e;
	mm_net_fit(a, &d, NULL, &fp, &r, &e);
	fp.objective = xent_objective;
	ok(mm_net_fit(b, &d, NULL, &fp, &r, &e) == MM_EUSAGE, "a custom objective needs select loss: %s", e.msg);
	fp.select = MM_SELECT_LOSS;
	mm_status st = mm_net_fit(b, &d, NULL, &fp, &r, &e);
	ok(st == MM_OK && objective_calls == 15,
			"training calls the objective once per batch (%d calls)", objective_calls);
	size_t np;
	mm_param *pa = mm_net_params(a, &np), *pb = mm_net_params(b, &np);
	size_t diff = 0;
	for (size_t i = 0; i < np; i++)
		diff += memcmp(pa[i].w, pb[i].w, pa[i].n * sizeof(float)) != 0;
	ok(diff == 0, "an objective equal to the cross-entropy trains the same weights, bit for bit (%zu tensors differ)", diff);
	mm_dataset v = { .nmod = 2, .X = { X0, X1 }, .y = y, .n = 20 };
	objective_calls = 0;
	st = mm_net_fit(b, &d, &v, &fp, &r, &e);
	ok(st == MM_OK && isfinite(r.best_metric) && r.best_metric > 0 && objective_calls == 15 + 3,
			"validation uses the objective too (best %.3f, %d calls)", r.best_metric, objective_calls);
	mm_net_free(a);
	mm_net_free(b);
	free(X0);
	free(X1);
}

int main(void)
{
	mm_rng_seed(&G, 12345);
	test_linear();
	test_act(0);
	test_act(1);
	test_gelu_values();
	test_dropout();
	test_layernorm();
	test_prod();
	test_bilinear();
	test_loss(0, false, 0);
	test_loss(0, true, 0);
	test_loss(1, false, 2);
	test_loss(1, true, 2);
	test_loss(1, false, 0.5f);
	test_loss_values();
	test_net(MM_FUSE_CONCAT, MM_ACT_RELU);
	test_net(MM_FUSE_CONCAT_PROD, MM_ACT_GELU);
	test_net(MM_FUSE_BILINEAR, MM_ACT_GELU);
	test_net(MM_FUSE_BILINEAR, MM_ACT_RELU);
	test_layernorm_node();
	test_fit_step(MM_FUSE_CONCAT_PROD);
	test_all_layers();
	test_objective();
	test_fit_step(MM_FUSE_BILINEAR);
	return tap_done();
}
