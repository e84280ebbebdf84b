/* seq_grad.c — the sequence kernels of nn/seq.h against central finite
 * differences (method in gradcheck.h), and their padding contract: padded
 * keys change no valid output, padded rows receive no gradient. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nn.h"
#include "nn/encoder.h"
#include "nn/seq.h"
#include "rng.h"
#include "tap.h"
#include "gradcheck.h"

/* One tensor to check: its values, its analytic gradient, its size. */
typedef struct { const char *name; float *v, *g; size_t n; } tens;

static void check_all(const char *what, loss_fn f, void *ctx, const tens *t, int nt)
{
	for (int i = 0; i < nt; i++)
		ok(check(f, ctx, t[i].v, t[i].g, t[i].n, 1e-2f) < TOL, "%s d%s", what, t[i].name);
}

/* R with its padded rows zeroed: the loss only sees valid rows, as the
 * contract requires of an incoming gradient. */
static float *rnd_masked(int B, int T, int D, const int *len)
{
	float *R = rnd((size_t)B * T * D, 1);
	for (int b = 0; b < B; b++)
		memset(R + ((size_t)b * T + len[b]) * D, 0, (size_t)(T - len[b]) * D * sizeof *R);
	return R;
}

/* Σ over the padded rows of |g| (must be exactly 0). */
static double padded_abs(const float *g, int B, int T, int D, int ld, const int *len)
{
	double s = 0;
	for (int b = 0; b < B; b++)
		for (int t = len[b]; t < T; t++)
			for (int k = 0; k < D; k++)
				s += fabsf(g[((size_t)b * T + t) * ld + k]);
	return s;
}

/* ---- the attention core, queries and keys of different lengths ---- */
enum { AB = 3, ATq = 4, ATk = 5, AH = 2, Adh = 3, AD = AH * Adh };
static const int alq[AB] = { 4, 2, 1 }, alk[AB] = { 5, 3, 1 };
typedef struct { float *Q, *K, *V, *P, *O, *R; } attn_t;
static double attn_loss(void *c_)
{
	attn_t *c = c_;
	mm_attn_forward(c->Q, AD, c->K, AD, c->V, AD, AB, ATq, ATk, alq, alk, AH, Adh,
			c->P, c->O, AD);
	return dotR(c->R, c->O, (size_t)AB * ATq * AD);
}

static void test_attn(void)
{
	size_t nq = (size_t)AB * ATq * AD, nk = (size_t)AB * ATk * AD;
	attn_t c = { rnd(nq, 1), rnd(nk, 1), rnd(nk, 1), zeros((size_t)AB * AH * ATq * ATk),
		zeros(nq), rnd(nq, 1) };
	float *dQ = zeros(nq), *dK = zeros(nk), *dV = zeros(nk),
	      *dP = zeros((size_t)mm_attn_slots(AB, AH) * ATq * ATk);
	attn_loss(&c);
	mm_attn_backward(c.Q, AD, c.K, AD, c.V, AD, AB, ATq, ATk, alq, alk, AH, Adh, c.P,
			c.R, AD, dP, dQ, dK, dV);
	tens t[] = { { "Q", c.Q, dQ, nq }, { "K", c.K, dK, nk }, { "V", c.V, dV, nk } };
	check_all("attention", attn_loss, &c, t, 3);
	ok(padded_abs(dQ, AB, ATq, AD, AD, alq) == 0 && padded_abs(dK, AB, ATk, AD, AD, alk) == 0 &&
			padded_abs(dV, AB, ATk, AD, AD, alk) == 0,
			"attention: padded queries, keys and values get no gradient");
	/* padded keys and values: huge values there change no valid output */
	float *O0 = malloc(nq * sizeof *O0);
	memcpy(O0, c.O, nq * sizeof *O0);
	for (int b = 0; b < AB; b++)
		for (int t = alk[b]; t < ATk; t++)
			for (int k = 0; k < AD; k++) {
				c.K[((size_t)b * ATk + t) * AD + k] = 1e3f;
				c.V[((size_t)b * ATk + t) * AD + k] = -1e3f;
			}
	attn_loss(&c);
	ok(memcmp(O0, c.O, nq * sizeof *O0) == 0, "attention: padded keys receive no attention");
	ok(padded_abs(c.O, AB, ATq, AD, AD, alq) == 0, "attention: padded query rows are zero");
	/* one valid key: the output is its value exactly */
	ok(fabsf(c.O[(size_t)2 * ATq * AD + 1] - c.V[(size_t)2 * ATk * AD + 1]) < 1e-6f,
			"attention: a single valid key gets all the weight");
	free(O0); free(c.Q); free(c.K); free(c.V); free(c.P); free(c.O); free(c.R);
	free(dQ); free(dK); free(dV); free(dP);
}

/* ---- multi-head self-attention ---- */
enum { MB = 3, MT = 5, MD = 8, MH = 2 };
static const int mlen[MB] = { 5, 3, 1 };
typedef struct { float *X, *QKV, *P, *Ctx, *Y, *R; mm_mha_w w; } mha_t;
static double mha_loss(void *c_)
{
	mha_t *c = c_;
	mm_mha_forward(c->X, MB, MT, MD, mlen, MH, &c->w, c->QKV, c->P, c->Ctx, c->Y);
	return dotR(c->R, c->Y, (size_t)MB * MT * MD);
}

static void test_mha(void)
{
	size_t n = (size_t)MB * MT * MD;
	mha_t c = { rnd(n, 1), zeros(3 * n), zeros((size_t)MB * MH * MT * MT), zeros(n), zeros(n),
		rnd_masked(MB, MT, MD, mlen),
		{ rnd(3 * MD * MD, 0.4), rnd(3 * MD, 0.2), rnd(MD * MD, 0.4), rnd(MD, 0.2) } };
	mm_mha_w g = { zeros(3 * MD * MD), zeros(3 * MD), zeros(MD * MD), zeros(MD) };
	float *dX = zeros(n), *dQKV = zeros(3 * n), *dCtx = zeros(n),
	      *dP = zeros((size_t)mm_attn_slots(MB, MH) * MT * MT);
	mha_loss(&c);
	mm_mha_backward(c.X, MB, MT, MD, mlen, MH, &c.w, c.QKV, c.P, c.Ctx, c.R, dQKV, dCtx, dP,
			&g, dX);
	tens t[] = { { "X", c.X, dX, n }, { "Wqkv", c.w.Wqkv, g.Wqkv, 3 * MD * MD },
		{ "bqkv", c.w.bqkv, g.bqkv, 3 * MD }, { "Wo", c.w.Wo, g.Wo, MD * MD },
		{ "bo", c.w.bo, g.bo, MD } };
	check_all("self-attention", mha_loss, &c, t, 5);
	ok(padded_abs(dX, MB, MT, MD, MD, mlen) == 0, "self-attention: padded rows get no gradient");
	free(c.X); free(c.QKV); free(c.P); free(c.Ctx); free(c.Y); free(c.R);
	free(c.w.Wqkv); free(c.w.bqkv); free(c.w.Wo); free(c.w.bo);
	free(g.Wqkv); free(g.bqkv); free(g.Wo); free(g.bo);
	free(dX); free(dQKV); free(dCtx); free(dP);
}

/* ---- cross-attention ---- */
enum { XB = 2, XTq = 3, XDq = 5, XTk = 4, XDkv = 7, XD = 6, XH = 2 };
static const int xlq[XB] = { 3, 2 }, xlk[XB] = { 2, 4 };
typedef struct { float *Xq, *Xkv, *Qp, *KV, *P, *Ctx, *Y, *R; mm_xattn_w w; } xattn_t;
static double xattn_loss(void *c_)
{
	xattn_t *c = c_;
	mm_xattn_forward(c->Xq, XTq, XDq, xlq, c->Xkv, XTk, XDkv, xlk, XB, XD, XH, &c->w,
			c->Qp, c->KV, c->P, c->Ctx, c->Y);
	return dotR(c->R, c->Y, (size_t)XB * XTq * XD);
}

static void test_xattn(void)
{
	size_t nq = (size_t)XB * XTq, nk = (size_t)XB * XTk;
	xattn_t c = { rnd(nq * XDq, 1), rnd(nk * XDkv, 1), zeros(nq * XD), zeros(nk * 2 * XD),
		zeros((size_t)XB * XH * XTq * XTk), zeros(nq * XD), zeros(nq * XD),
		rnd_masked(XB, XTq, XD, xlq),
		{ rnd(XD * XDq, 0.4), rnd(XD, 0.2), rnd(2 * XD * XDkv, 0.4), rnd(2 * XD, 0.2),
		  rnd(XD * XD, 0.4), rnd(XD, 0.2) } };
	mm_xattn_w g = { zeros(XD * XDq), zeros(XD), zeros(2 * XD * XDkv), zeros(2 * XD),
		zeros(XD * XD), zeros(XD) };
	float *dXq = zeros(nq * XDq), *dXkv = zeros(nk * XDkv), *dQp = zeros(nq * XD),
	      *dKV = zeros(nk * 2 * XD), *dCtx = zeros(nq * XD),
	      *dP = zeros((size_t)mm_attn_slots(XB, XH) * XTq * XTk);
	xattn_loss(&c);
	mm_xattn_backward(c.Xq, XTq, XDq, xlq, c.Xkv, XTk, XDkv, xlk, XB, XD, XH, &c.w, c.Qp,
			c.KV, c.P, c.Ctx, c.R, dQp, dKV, dCtx, dP, &g, dXq, dXkv);
	tens t[] = { { "Xq", c.Xq, dXq, nq * XDq }, { "Xkv", c.Xkv, dXkv, nk * XDkv },
		{ "Wq", c.w.Wq, g.Wq, XD * XDq }, { "bq", c.w.bq, g.bq, XD },
		{ "Wkv", c.w.Wkv, g.Wkv, 2 * XD * XDkv }, { "bkv", c.w.bkv, g.bkv, 2 * XD },
		{ "Wo", c.w.Wo, g.Wo, XD * XD }, { "bo", c.w.bo, g.bo, XD } };
	check_all("cross-attention", xattn_loss, &c, t, 8);
	ok(padded_abs(dXkv, XB, XTk, XDkv, XDkv, xlk) == 0 && padded_abs(dXq, XB, XTq, XDq, XDq, xlq) == 0,
			"cross-attention: padded queries, keys and values get no gradient");
	for (int i = 0; i < 8; i++) {
		free(t[i].v);
		free(t[i].g);
	}
	free(c.Qp); free(c.KV); free(c.P); free(c.Ctx); free(c.Y); free(c.R);
	free(dQp); free(dKV); free(dCtx); free(dP);
}

/* ---- residual add ---- */
typedef struct { size_t n; float *a, *b, *y, *R; } add_t;
static double add_loss(void *c_)
{
	add_t *c = c_;
	mm_add_forward(c->a, c->b, c->y, c->n);
	return dotR(c->R, c->y, c->n);
}

static void test_add(void)
{
	add_t c = { 20, rnd(20, 1), rnd(20, 1), zeros(20), rnd(20, 1) };
	float *da = zeros(20), *db = zeros(20);
	add_loss(&c);
	mm_add_backward(c.R, da, db, 20);
	tens t[] = { { "a", c.a, da, 20 }, { "b", c.b, db, 20 } };
	check_all("add", add_loss, &c, t, 2);
	free(c.a); free(c.b); free(c.y); free(c.R); free(da); free(db);
}

/* ---- softmax-weighted mixture, per-example and shared logits ---- */
enum { KK = 3, KB = 4, KN = 6 };
typedef struct { int lda; float *X[KK], *A, *Wt, *y, *R; } mix_t;
static double mix_loss(void *c_)
{
	mix_t *c = c_;
	mm_mix_forward((const float *const *)c->X, KK, KB, KN, c->A, c->lda, c->Wt, c->y);
	return dotR(c->R, c->y, KB * KN);
}

static void test_mix(int lda)
{
	mix_t c = { .lda = lda, .A = rnd(lda ? KB * KK : KK, 1), .Wt = zeros(KB * KK),
		.y = zeros(KB * KN), .R = rnd(KB * KN, 1) };
	float *dX[KK], *dA = zeros(KB * KK);
	for (int k = 0; k < KK; k++) {
		c.X[k] = rnd(KB * KN, 1);
		dX[k] = zeros(KB * KN);
	}
	mix_loss(&c);
	mm_mix_backward((const float *const *)c.X, KK, KB, KN, c.Wt, c.R, lda, dX, dA);
	const char *what = lda ? "mixture (per-example logits)" : "mixture (shared logits)";
	tens t[] = { { "A", c.A, dA, lda ? KB * KK : KK }, { "X0", c.X[0], dX[0], KB * KN },
		{ "X2", c.X[2], dX[2], KB * KN } };
	check_all(what, mix_loss, &c, t, 3);
	double s = 0;
	for (int k = 0; k < KK; k++)
		s += c.Wt[KK + k];
	near(s, 1, 1e-6, "%s: the weights sum to 1", what);
	for (int k = 0; k < KK; k++) {
		free(c.X[k]);
		free(dX[k]);
	}
	free(c.A); free(c.Wt); free(c.y); free(c.R); free(dA);
}

/* ---- embeddings, [CLS] and pooling on one small padded batch ---- */
enum { SB = 3, ST = 4, SD = 5 };
static const int slen[SB] = { 4, 2, 1 }, slen1[SB] = { 5, 3, 2 };
typedef struct { int kind, lde; float *X, *E, *Y, *R; } seq_t;
static size_t seq_nout(int kind)
{
	return kind == 0 ? (size_t)SB * ST * SD : kind == 1 ? (size_t)SB * (ST + 1) * SD : (size_t)SB * SD;
}

static double seq_loss(void *c_)
{
	seq_t *c = c_;
	switch (c->kind) {
	case 0: mm_embed_add_forward(c->X, SB, ST, SD, slen, c->E, c->lde, c->Y); break;
	case 1: mm_cls_prepend_forward(c->X, SB, ST, SD, c->E, c->Y); break;
	case 2: mm_pool_mean_forward(c->X, SB, ST, SD, slen, c->Y); break;
	default: mm_pool_cls_forward(c->X, SB, ST, SD, c->Y); break;
	}
	return dotR(c->R, c->Y, seq_nout(c->kind));
}

static void test_seq(int kind, int lde, const char *what)
{
	size_t n = (size_t)SB * ST * SD, no = seq_nout(kind);
	seq_t c = { kind, lde, rnd(n, 1), rnd(ST * SD, 1), zeros(no), NULL };
	c.R = kind == 0 ? rnd_masked(SB, ST, SD, slen) : kind == 1 ? rnd_masked(SB, ST + 1, SD, slen1) : rnd(no, 1);
	float *dX = zeros(n), *dE = zeros(ST * SD);
	seq_loss(&c);
	switch (kind) {
	case 0: mm_embed_add_backward(c.R, SB, ST, SD, slen, lde, dX, dE); break;
	case 1: mm_cls_prepend_backward(c.R, SB, ST, SD, slen, dE, dX); break;
	case 2: mm_pool_mean_backward(c.R, SB, ST, SD, slen, dX); break;
	default: mm_pool_cls_backward(c.R, SB, ST, SD, dX); break;
	}
	tens t[] = { { "X", c.X, dX, n }, { "E", c.E, dE, kind == 0 && lde ? ST * SD : SD } };
	check_all(what, seq_loss, &c, t, kind < 2 ? 2 : 1);
	if (kind != 3)
		ok(padded_abs(dX, SB, ST, SD, SD, slen) == 0, "%s: padded rows get no gradient", what);
	free(c.X); free(c.E); free(c.Y); free(c.R); free(dX); free(dE);
}

/* ---- the pre-norm transformer block ---- */
enum { BB = 2, BT = 4, BD = 8, BH = 2, BF = 12 };
static const int blen[BB] = { 4, 2 };
typedef struct { float *X, *Y, *R; mm_block_w w; mm_block_ws ws; } block_t;
static double block_loss(void *c_)
{
	block_t *c = c_;
	mm_block_forward(c->X, blen, &c->w, &c->ws, c->Y);
	return dotR(c->R, c->Y, (size_t)BB * BT * BD);
}

/* The block's tensors in one fixed order, for filling and checking. */
static int block_tensors(mm_block_w *w, float ***p, size_t *sz)
{
	float **q[] = { &w->ln1_g, &w->ln1_b, &w->attn.Wqkv, &w->attn.bqkv, &w->attn.Wo,
		&w->attn.bo, &w->ln2_g, &w->ln2_b, &w->W1, &w->b1, &w->W2, &w->b2 };
	size_t n[] = { BD, BD, 3 * BD * BD, 3 * BD, BD * BD, BD, BD, BD, BF * BD, BF, BD * BF, BD };
	memcpy(p, q, sizeof q);
	memcpy(sz, n, sizeof n);
	return 12;
}

static void test_block(void)
{
	static const char *names[] = { "ln1.g", "ln1.b", "attn.Wqkv", "attn.bqkv", "attn.Wo",
		"attn.bo", "ln2.g", "ln2.b", "W1", "b1", "W2", "b2" };
	size_t n = (size_t)BB * BT * BD, sz[12];
	block_t c = { rnd(n, 1), zeros(n), rnd_masked(BB, BT, BD, blen), { 0 }, { 0 } };
	mm_block_w g = { 0 };
	float **pw[12], **pg[12];
	int nt = block_tensors(&c.w, pw, sz);
	block_tensors(&g, pg, sz);
	for (int i = 0; i < nt; i++) {
		*pw[i] = rnd(sz[i], 0.4);
		*pg[i] = zeros(sz[i]);
	}
	for (int k = 0; k < BD; k++)
		c.w.ln1_g[k] += 1, c.w.ln2_g[k] += 1;
	float *mem = zeros(mm_block_ws_size(BB, BT, BD, BH, BF)), *dX = zeros(n);
	float *scratch = zeros(mm_block_scratch_size(BB, BT, BD, BH, BF));
	mm_block_ws_init(&c.ws, mem, scratch, BB, BT, BD, BH, BF);
	block_loss(&c);
	mm_block_backward(c.X, blen, &c.w, &c.ws, c.R, &g, dX);
	tens t[13] = { { "X", c.X, dX, n } };
	for (int i = 0; i < nt; i++)
		t[1 + i] = (tens){ names[i], *pw[i], *pg[i], sz[i] };
	check_all("transformer block", block_loss, &c, t, 13);
	ok(padded_abs(dX, BB, BT, BD, BD, blen) == 0, "transformer block: padded rows get no gradient");
	for (int i = 0; i < nt; i++) {
		free(*pw[i]);
		free(*pg[i]);
	}
	free(c.X); free(c.Y); free(c.R); free(mem); free(scratch); free(dX);
}

/* ---- the layers in a graph ------------------------------------------------------
 * inputs → linear (so that the layer's input gradient reaches a parameter)
 * → the layer → meanpool → linear(3); L = Σ R ⊙ logits; every parameter's
 * gradient against finite differences, and padded input rows changing nothing. */
enum { GB = 3, GT = 4, GD = 6, GTk = 5, GDk = 4, GC = 3 };
static const int glen[GB] = { 4, 2, 1 }, glenk[GB] = { 3, 5, 1 };
typedef struct { mm_net *net; float *X[3], *R; const int *len[3]; } gnet_t;
static double gnet_loss(void *c_)
{
	gnet_t *c = c_;
	const float *Z = mm_net_forward_seq(c->net, (const float *const *)c->X, c->len, GB, false, NULL);
	return dotR(c->R, Z, GB * GC);
}

static double t2_loss(void *c_)
{
	gnet_t *c = c_;
	const float *Z = mm_net_forward_seq(c->net, (const float *const *)c->X, c->len, 4, false, NULL);
	return dotR(c->R, Z, 4 * GC);
}

static void test_graph(mm_node_type kind, const char *what)
{
	mm_err e;
	bool cross = kind == MM_NODE_XATTN;
	int nin = kind == MM_NODE_ADD || kind == MM_NODE_SEQCAT || cross ? 2 : kind == MM_NODE_MIX ? 3 : 1;
	mm_shape sh[3] = { { GT, GD }, { cross ? GTk : GT, cross ? GDk : GD }, { GT, GD } };
	mm_net *net;
	int in[3], node = -1;
	mm_linear_conf lc = { GD }, lck = { GDk }, hc = { GC };
	mm_attn_conf ac = { .heads = 2, .ffn = 10 };
	bool fine = mm_net_new_shaped(&net, nin, sh, &e) == MM_OK;
	for (int k = 0; k < nin && fine; k++) {
		int src = k; /* keys and values keep their own width */
		fine = (in[k] = mm_net_add(net, MM_NODE_LINEAR, NULL, &src, 1,
				cross && k ? &lck : &lc, &e)) >= 0;
	}
	if (fine)
		fine = (node = mm_net_add(net, kind, "x", in, nin, &ac, &e)) >= 0;
	if (fine && kind != MM_NODE_MEANPOOL && kind != MM_NODE_CLSPOOL)
		fine = (node = mm_net_add(net, MM_NODE_MEANPOOL, NULL, &node, 1, NULL, &e)) >= 0;
	if (fine)
		fine = (node = mm_net_add(net, MM_NODE_LINEAR, NULL, &node, 1, &hc, &e)) >= 0 &&
			mm_net_finish(net, node, &e) == MM_OK;
	if (!ok(fine, "%s: a net builds", what)) {
		diag("%s", e.msg);
		return;
	}
	mm_rng ig;
	mm_rng_seed(&ig, 5);
	mm_net_init(net, &ig);
	size_t np;
	mm_param *P = mm_net_params(net, &np);
	for (size_t i = 0; i < np; i++) /* off the initial values (γ = 1, zero logits) */
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.2 * mm_rng_normal(&G));
	gnet_t c = { net, { NULL }, rnd(GB * GC, 1), { glen, cross ? glenk : glen, glen } };
	for (int k = 0; k < nin; k++)
		c.X[k] = rnd((size_t)GB * sh[k].T * sh[k].D, 1);
	mm_net_zero_grad(net);
	gnet_loss(&c);
	mm_net_backward(net, c.R);
	double worst = 0;
	for (size_t i = 0; i < np; i++)
		worst = fmax(worst, check(gnet_loss, &c, P[i].w, P[i].g, P[i].n, 1e-2f));
	ok(worst < TOL, "%s layer in a graph: all %zu parameter gradients (max error %.1e)",
			what, np, worst);
	/* padded input rows: other values, the same logits */
	float Z0[GB * GC];
	memcpy(Z0, mm_net_forward_seq(net, (const float *const *)c.X, c.len, GB, false, NULL), sizeof Z0);
	for (int k = 0; k < nin; k++)
		for (int b = 0; b < GB; b++)
			for (int t = c.len[k][b]; t < sh[k].T; t++)
				for (int d = 0; d < sh[k].D; d++)
					c.X[k][((size_t)b * sh[k].T + t) * sh[k].D + d] = 50;
	const float *Z1 = mm_net_forward_seq(net, (const float *const *)c.X, c.len, GB, false, NULL);
	bool same = true;
	for (int i = 0; i < GB * GC; i++)
		same = same && Z1[i] == Z0[i];
	ok(same, "%s layer: padded input rows change nothing", what);
	for (int k = 0; k < nin; k++)
		free(c.X[k]);
	free(c.R);
	mm_net_free(net);
}

/* ---- the transformer as a graph ----------------------------------------------------
 * With one input, mm_net_build_transformer's net computes mm_encoder's
 * function (which tests/unit/transformer_torch.c checks against PyTorch):
 * same parameters by name, same logits and gradients.  With two inputs of
 * different lengths (seqcat), every gradient against finite differences. */
static void enc_name(const char *ours, char *graph, size_t n)
{
	static const char *map[][2] = { { "proj.", "proj0." }, { "mod", "mod0.E" },
		{ "pos", "pos0.E" }, { "cls", "cls.cls" }, { "lnf.g", "lnf.gamma" }, { "lnf.b", "lnf.beta" } };
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		size_t k = strlen(map[i][0]);
		if (!strncmp(ours, map[i][0], k) && (map[i][0][k - 1] == '.' || !ours[k])) {
			snprintf(graph, n, "%s%s", map[i][1], ours + k);
			return;
		}
	}
	snprintf(graph, n, "%s", ours); /* blk<l>.*: only the layer norms differ */
	char *ln = strstr(graph, ".ln");
	if (ln && (ln[4] == '.') && (ln[5] == 'g' || ln[5] == 'b') && !ln[6])
		snprintf(ln + 5, n - (size_t)(ln + 5 - graph), "%s", ln[5] == 'g' ? "gamma" : "beta");
}

static void test_transformer_graph(void)
{
	enum { EB = 4, ET = 5, EDIN = 6, EC = 3 };
	static const int elen[EB] = { 5, 2, 1, 4 };
	mm_encoder_spec es = { .din = EDIN, .maxlen = ET, .width = 8, .depth = 2, .heads = 2,
		.ffn = 12, .nclass = EC };
	mm_transformer_spec ts = { .nmod = 1, .in = { { ET, EDIN } }, .width = 8, .depth = 2,
		.heads = 2, .ffn = 12, .nclass = EC };
	mm_encoder *enc;
	mm_net *net;
	mm_err e;
	if (!ok(mm_encoder_new(&enc, &es, EB, &e) == MM_OK &&
			mm_net_build_transformer(&net, &ts, &e) == MM_OK, "transformer graph builds")) {
		diag("%s", e.msg);
		return;
	}
	mm_rng ig;
	mm_rng_seed(&ig, 8);
	mm_encoder_init(enc, &ig);
	size_t np, gp;
	mm_param *P = mm_encoder_params(enc, &np), *Q = mm_net_params(net, &gp);
	int matched = 0;
	for (size_t i = 0; i < np; i++) {
		char name[64];
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.1 * mm_rng_normal(&G));
		enc_name(P[i].name, name, sizeof name);
		mm_param *q = mm_net_param(net, name);
		if (q && q->n == P[i].n) {
			memcpy(q->w, P[i].w, q->n * sizeof(float));
			matched++;
		} else {
			diag("no graph parameter %s for %s", name, P[i].name);
		}
	}
	ok(matched == (int)np && gp == np, "every encoder parameter has its graph twin (%d of %zu, graph %zu)",
			matched, np, gp);
	float *X = rnd(EB * ET * EDIN, 1), *R = rnd(EB * EC, 1);
	const int *lens[1] = { elen };
	const float *Ze = mm_encoder_forward(enc, X, elen, EB);
	const float *Zg = mm_net_forward_seq(net, (const float *const *)&X, lens, EB, false, NULL);
	double dz = 0;
	for (int i = 0; i < EB * EC; i++)
		dz = fmax(dz, fabs(Ze[i] - Zg[i]));
	ok(dz <= 1e-5, "graph and encoder logits agree (max |diff| %.1e)", dz);
	mm_encoder_zero_grad(enc);
	mm_net_zero_grad(net);
	mm_encoder_backward(enc, R);
	mm_net_backward(net, R);
	double worst = 0;
	for (size_t i = 0; i < np; i++) {
		char name[64];
		enc_name(P[i].name, name, sizeof name);
		mm_param *q = mm_net_param(net, name);
		double d2 = 0, g2 = 1e-30;
		for (size_t k = 0; q && k < q->n; k++) {
			d2 += (double)(q->g[k] - P[i].g[k]) * (q->g[k] - P[i].g[k]);
			g2 += (double)P[i].g[k] * P[i].g[k];
		}
		worst = fmax(worst, q ? sqrt(d2 / g2) : 1);
	}
	ok(worst <= 1e-5, "graph and encoder gradients agree (worst relative %.1e)", worst);
	mm_encoder_free(enc);
	mm_net_free(net);
	free(X);

	/* two token inputs, of different lengths and widths */
	mm_transformer_spec t2 = { .nmod = 2, .in = { { 4, 5 }, { 3, 7 } }, .width = 8, .depth = 1,
		.heads = 2, .ffn = 8, .nclass = EC };
	static const int la[EB] = { 4, 1, 2, 3 }, lb[EB] = { 1, 3, 2, 3 };
	if (!ok(mm_net_build_transformer(&net, &t2, &e) == MM_OK, "two-input transformer builds")) {
		diag("%s", e.msg);
		free(R);
		return;
	}
	mm_net_init(net, &ig);
	Q = mm_net_params(net, &gp);
	for (size_t i = 0; i < gp; i++) /* [CLS] at N(0, 0.02²) is too small a scale for h */
		for (size_t k = 0; k < Q[i].n; k++)
			Q[i].w[k] += (float)(0.2 * mm_rng_normal(&G));
	gnet_t c = { net, { rnd(EB * 4 * 5, 1), rnd(EB * 3 * 7, 1) }, R, { la, lb } };
	/* t2_loss: gnet_loss with this batch of EB = 4 */
	mm_net_zero_grad(net);
	t2_loss(&c);
	mm_net_backward(net, R);
	double err = 0;
	for (size_t i = 0; i < gp; i++)
		err = fmax(err, check(t2_loss, &c, Q[i].w, Q[i].g, Q[i].n, 1e-2f));
	ok(err < TOL, "two-input transformer: all %zu parameter gradients (max error %.1e)", gp, err);
	free(c.X[0]); free(c.X[1]); free(R);
	mm_net_free(net);
}

/* ---- training a transformer graph on padded sequences ---------------------------
 * The label is the sign of the mean of feature 0 over the valid rows; padded
 * rows hold large values of the opposite sign, so a net that looked at them
 * would learn the wrong thing.  mm_net_fit with the lengths must get it right
 * on held-out records, and refuses lengths out of range. */
static void test_transformer_fit(void)
{
	enum { N = 800, NT = 600, FT = 8, FD = 4 };
	static float X[N * FT * FD];
	static int len[N], y[N];
	for (int i = 0; i < N; i++) {
		len[i] = 1 + (int)(mm_rng_u64(&G) % FT);
		double s = 0;
		for (int t = 0; t < len[i]; t++) {
			for (int d = 0; d < FD; d++)
				X[((size_t)i * FT + t) * FD + d] = (float)mm_rng_normal(&G);
			s += X[((size_t)i * FT + t) * FD];
		}
		y[i] = s > 0;
		for (int t = len[i]; t < FT; t++)
			for (int d = 0; d < FD; d++)
				X[((size_t)i * FT + t) * FD + d] = y[i] ? -30.0f : 30.0f;
	}
	mm_transformer_spec ts = { .nmod = 1, .in = { { FT, FD } }, .width = 16, .depth = 1,
		.heads = 2, .ffn = 32, .nclass = 2 };
	mm_net *net;
	mm_err e;
	if (!ok(mm_net_build_transformer(&net, &ts, &e) == MM_OK, "a small transformer builds")) {
		diag("%s", e.msg);
		return;
	}
	mm_rng ig;
	mm_rng_seed(&ig, 3);
	mm_net_init(net, &ig);
	mm_dataset tr = { .nmod = 1, .X = { X }, .len = { len }, .y = y, .n = NT };
	mm_dataset te = { .nmod = 1, .X = { X + (size_t)NT * FT * FD }, .len = { len + NT },
		.y = y + NT, .n = N - NT };
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 25;
	fp.batch = 32;
	fp.lr = 3e-3f;
	fp.seed = 4;
	mm_fit_result res;
	ok(mm_net_fit(net, &tr, NULL, &fp, &res, &e) == MM_OK, "mm_net_fit trains it on padded sequences");
	float *P = malloc((size_t)(N - NT) * 2 * sizeof *P);
	mm_metrics mt;
	mm_net_predict(net, &te, P, NULL);
	mm_metrics_of_probs(P, te.y, te.n, 2, 1, &mt, NULL);
	double acc = mt.v[MM_MET_ACC];
	ok(acc >= 0.9, "held-out accuracy %.3f >= 0.9 (the padding, if read, says the opposite)", acc);
	len[5] = FT + 1;
	ok(mm_net_fit(net, &tr, NULL, &fp, &res, &e) == MM_EVALUE && strstr(e.msg, "record 5"),
			"a length out of range is refused: %s", e.msg);
	free(P);
	mm_net_free(net);
}

int main(void)
{
	mm_rng_seed(&G, 2024);
	test_attn();
	test_mha();
	test_xattn();
	test_add();
	test_mix(KK);
	test_mix(0);
	test_seq(0, SD, "position embedding");
	test_seq(0, 0, "modality embedding");
	test_seq(1, 0, "[CLS] prepend");
	test_seq(2, 0, "mean pooling");
	test_seq(3, 0, "[CLS] pooling");
	test_block();
	test_graph(MM_NODE_ADD, "add");
	test_graph(MM_NODE_MIX, "mix");
	test_graph(MM_NODE_POSEMB, "posemb");
	test_graph(MM_NODE_MODEMB, "modemb");
	test_graph(MM_NODE_CLS, "cls");
	test_graph(MM_NODE_SEQCAT, "seqcat");
	test_graph(MM_NODE_MEANPOOL, "meanpool");
	test_graph(MM_NODE_CLSPOOL, "clspool");
	test_graph(MM_NODE_SELFATTN, "selfattn");
	test_graph(MM_NODE_XATTN, "xattn");
	test_graph(MM_NODE_BLOCK, "block");
	test_transformer_graph();
	test_transformer_fit();
	return tap_done();
}
