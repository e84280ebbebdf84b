/* deform.c — bilinear grid sampling and deformable attention (nn/deform.h):
 * hand-computed values, central finite differences for every input (method
 * in gradcheck.h), and, for the sampling, the PyTorch peer check against
 * torch.nn.functional.grid_sample(mode='bilinear', padding_mode='zeros',
 * align_corners=False) run by tests/deform_torch.py on the same inputs:
 * values and both gradients agree to |Δ| <= 1e-5 (1 + |PyTorch|); the
 * deformable attention too, against a PyTorch version written the way
 * Deformable DETR's reference is (grid_sample per head, softmax weights).
 * The peer check skips, visibly, without python3-torch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/deform.h"
#include "rng.h"
#include "tap.h"
#include "gradcheck.h"
#include "peer.h"

/* Normalised coordinate of pixel coordinate px on an axis of n cells. */
static float norm_of(double px, int n)
{
	return (float)((2.0 * px + 1.0) / n - 1.0);
}

/* ---- exact values at cell centres, midpoints and outside ---- */
static void test_values(void)
{
	enum { H = 3, W = 4, D = 2 };
	float V[H * W * D];
	for (int i = 0; i < H * W * D; i++)
		V[i] = (float)(i * i % 7) - 2.5f;
	/* (1, 2) centre; between (0,1) and (0,2); the centre of four cells;
	 * half a cell left of the grid; far outside; NaN */
	float pos[] = { norm_of(2, W), norm_of(1, H), norm_of(1.5, W), norm_of(0, H),
		norm_of(0.5, W), norm_of(0.5, H), norm_of(-0.5, W), norm_of(1, H),
		7.f, 0.f, NAN, 0.f };
	enum { P = sizeof pos / sizeof *pos / 2 };
	float out[P * D];
	mm_grid_sample_forward(V, 1, H, W, D, D, pos, P, out, D);
#define AT(i, j, d) V[((i) * W + (j)) * D + (d)]
	for (int d = 0; d < D; d++) {
		near(out[0 * D + d], AT(1, 2, d), 1e-6, "cell centre (1,2) ch %d is the cell", d);
		near(out[1 * D + d], (AT(0, 1, d) + AT(0, 2, d)) / 2, 1e-6,
				"midpoint of two cells ch %d is their mean", d);
		near(out[2 * D + d], (AT(0, 0, d) + AT(0, 1, d) + AT(1, 0, d) + AT(1, 1, d)) / 4,
				1e-6, "centre of four cells ch %d is their mean", d);
		near(out[3 * D + d], AT(1, 0, d) / 2, 1e-6,
				"half a cell outside ch %d: half the edge cell (zeros padding)", d);
		ok(out[4 * D + d] == 0.f && out[5 * D + d] == 0.f,
				"far outside and NaN ch %d give 0", d);
	}
#undef AT
	float dout[P * D], dV[H * W * D] = { 0 }, dpos[2 * P] = { 0 };
	for (int i = 0; i < P * D; i++)
		dout[i] = 1.f;
	mm_grid_sample_backward(V, 1, H, W, D, D, pos, P, dout, D, dV, dpos);
	ok(dpos[8] == 0.f && dpos[9] == 0.f && dpos[10] == 0.f && dpos[11] == 0.f,
			"far outside and NaN positions receive no gradient");
	/* the weights a position spreads over the grid sum to 1 inside */
	double s = 0;
	for (int i = 0; i < H * W * D; i += D)
		s += dV[i];
	near(s, 1 + 1 + 1 + 0.5, 1e-6, "grid gradient: each position's weights sum to 1 (0.5 half outside)");
}

/* ---- finite differences, a channel slice of a wider grid ---- */
enum { FB = 2, FH = 4, FW = 5, FD = 3, FLDV = 5, FP = 6, FLDO = 4 };
typedef struct { float *V, *pos, *out, *R; } fd_t;
static double fd_loss(void *c_)
{
	fd_t *c = c_;
	mm_grid_sample_forward(c->V + 1, FB, FH, FW, FD, FLDV, c->pos, FP, c->out, FLDO);
	return dotR(c->R, c->out, (size_t)FB * FP * FLDO);
}

/* A coordinate whose pixel position is at least 0.15 cell from an integer
 * (a cell centre, where the interpolation has its kinks), some of them
 * beyond the edges. */
static float smooth_coord(int n)
{
	for (;;) {
		double px = -1.0 + (n + 1.0) * mm_rng_uniform(&G);
		double f = px - floor(px);
		if (f > 0.15 && f < 0.85)
			return norm_of(px, n);
	}
}

static void test_fd(void)
{
	size_t nv = (size_t)FB * FH * FW * FLDV, no = (size_t)FB * FP * FLDO;
	fd_t c = { rnd(nv, 1), zeros(2 * FB * FP), zeros(no), rnd(no, 1) };
	for (int i = 0; i < FB * FP; i++) {
		c.pos[2 * i] = smooth_coord(FW);
		c.pos[2 * i + 1] = smooth_coord(FH);
		c.R[(size_t)i * FLDO + FD] = 0; /* the column out of the slice */
	}
	float *dV = zeros(nv), *dpos = zeros(2 * FB * FP);
	fd_loss(&c);
	mm_grid_sample_backward(c.V + 1, FB, FH, FW, FD, FLDV, c.pos, FP, c.R, FLDO,
			dV + 1, dpos);
	ok(check(fd_loss, &c, c.V, dV, nv, 1e-2f) < TOL, "grid_sample dV (finite differences)");
	ok(check(fd_loss, &c, c.pos, dpos, 2 * FB * FP, 1e-3f) < TOL,
			"grid_sample dpos (finite differences, away from the kinks at cell centres)");
	double outside = 0;
	for (size_t i = 0; i < nv; i += FLDV)
		outside += fabsf(dV[i]) + fabsf(dV[i + FLDV - 1]);
	ok(outside == 0, "channels outside the sampled slice receive no gradient");
	free(c.V), free(c.pos), free(c.out), free(c.R), free(dV), free(dpos);
}

/* ---- deformable attention: hand-computed values ---- */
static void test_attn_values(void)
{
	/* one example, a 3 x 4 grid, 2 heads of 1 channel, one query at the
	 * centre of cell (1, 1), 2 points per head */
	enum { H = 3, W = 4, NH = 2, P = 2, D = NH };
	float Val[H * W * D];
	for (int i = 0; i < H * W * D; i++)
		Val[i] = (float)i;
	float ref[2] = { norm_of(1, W), norm_of(1, H) };
	/* head 0: one cell right, one cell down, equal logits -> their mean;
	 * head 1: no offset with logit 0 and a far one with -inf-like -80 */
	float off[NH * P * 2] = { 1, 0, 0, 1, 0, 0, 0.5f, 0.5f };
	float logit[NH * P] = { 0.3f, 0.3f, 0.f, -80.f };
	float A[NH * P], pos[NH * P * 2], out[D];
	mm_deform_attn_forward(Val, 1, H, W, NH, 1, ref, off, logit, 1, P, A, pos, out);
#define AT(i, j, d) Val[((i) * W + (j)) * D + (d)]
	near(out[0], (AT(1, 2, 0) + AT(2, 1, 0)) / 2, 1e-6,
			"head 0: equal weights on the cells right and below -> their mean");
	near(out[1], AT(1, 1, 1), 1e-6, "head 1: all the weight on the unshifted point -> its cell");
#undef AT
	near(pos[0], norm_of(2, W), 1e-6, "an offset of 1 moves the position one cell");
}

/* ---- deformable attention: finite differences ---- */
enum { DB = 2, DH = 3, DW = 4, DNH = 2, Ddh = 2, DNq = 3, DP = 3, DD = DNH * Ddh };
typedef struct { float *Val, *ref, *off, *logit, *A, *pos, *out, *R; } da_t;
static double da_loss(void *c_)
{
	da_t *c = c_;
	mm_deform_attn_forward(c->Val, DB, DH, DW, DNH, Ddh, c->ref, c->off, c->logit, DNq, DP,
			c->A, c->pos, c->out);
	return dotR(c->R, c->out, (size_t)DB * DNq * DD);
}

static void test_attn_fd(void)
{
	size_t nv = (size_t)DB * DH * DW * DD, nq = (size_t)DB * DNq, np = nq * DNH * DP;
	da_t c = { rnd(nv, 1), zeros(2 * nq), zeros(2 * np), rnd(np, 1), zeros(np), zeros(2 * np),
		zeros(nq * DD), rnd(nq * DD, 1) };
	for (size_t i = 0; i < nq; i++)
		c.ref[2 * i] = (float)(1.6 * mm_rng_uniform(&G) - 0.8),
		c.ref[2 * i + 1] = (float)(1.6 * mm_rng_uniform(&G) - 0.8);
	/* offsets that put every sampling position away from the kinks */
	for (size_t i = 0; i < np; i++) {
		size_t q = i / (DNH * DP);
		c.off[2 * i] = (smooth_coord(DW) - c.ref[2 * q]) * DW / 2.f;
		c.off[2 * i + 1] = (smooth_coord(DH) - c.ref[2 * q + 1]) * DH / 2.f;
	}
	float *dVal = zeros(nv), *dref = zeros(2 * nq), *doff = zeros(2 * np), *dlogit = zeros(np);
	da_loss(&c);
	mm_deform_attn_backward(c.Val, DB, DH, DW, DNH, Ddh, c.A, c.pos, DNq, DP, c.R,
			dVal, dref, doff, dlogit);
	ok(check(da_loss, &c, c.Val, dVal, nv, 1e-2f) < TOL, "deformable attention dVal");
	ok(check(da_loss, &c, c.logit, dlogit, np, 1e-2f) < TOL, "deformable attention dlogit");
	ok(check(da_loss, &c, c.off, doff, 2 * np, 1e-3f) < TOL,
			"deformable attention doff (gradients flow into the offsets)");
	ok(check(da_loss, &c, c.ref, dref, 2 * nq, 1e-3f) < TOL, "deformable attention dref");
	free(c.Val), free(c.ref), free(c.off), free(c.logit), free(c.A), free(c.pos), free(c.out);
	free(c.R), free(dVal), free(dref), free(doff), free(dlogit);
}

/* ---- PyTorch peer ---- */
enum { PB = 2, PH = 4, PW = 8, PD = 3, PP = 40 };

static double worst_rel(const float *a, const float *ref, size_t n)
{
	double w = ref ? 0 : 1e9;
	for (size_t i = 0; ref && i < n; i++)
		w = fmax(w, fabs(a[i] - ref[i]) / (1 + fabs(ref[i])));
	return w;
}

/* The deformable attention of the peer check: 2 heads of 2 channels on a
 * PH x PW grid, 3 queries, 4 points, random references and offsets of a
 * few cells (some points land outside the grid). */
enum { QNH = 2, Qdh = 2, QD = QNH * Qdh, QNq = 3, QP = 4 };
typedef struct { float *Val, *ref, *off, *logit, *R, *A, *pos, *out, *dVal, *dref, *doff, *dlogit; } peer_attn;

static void peer_attn_put(FILE *txt, FILE *bin, peer_attn *d)
{
	size_t nv = (size_t)PB * PH * PW * QD, nq = (size_t)PB * QNq, np = nq * QNH * QP;
	*d = (peer_attn){ rnd(nv, 1), zeros(2 * nq), rnd(2 * np, 1.5), rnd(np, 1), rnd(nq * QD, 1),
		zeros(np), zeros(2 * np), zeros(nq * QD), zeros(nv), zeros(2 * nq), zeros(2 * np),
		zeros(np) };
	for (size_t i = 0; i < 2 * nq; i++)
		d->ref[i] = (float)(1.8 * mm_rng_uniform(&G) - 0.9);
	mm_deform_attn_forward(d->Val, PB, PH, PW, QNH, Qdh, d->ref, d->off, d->logit, QNq, QP,
			d->A, d->pos, d->out);
	mm_deform_attn_backward(d->Val, PB, PH, PW, QNH, Qdh, d->A, d->pos, QNq, QP, d->R,
			d->dVal, d->dref, d->doff, d->dlogit);
	char dims[64];
	snprintf(dims, sizeof dims, "%d %d %d %d", PB, PH, PW, QD);
	put(txt, bin, "da.Val", d->Val, nv, dims);
	snprintf(dims, sizeof dims, "%d %d 2", PB, QNq);
	put(txt, bin, "da.ref", d->ref, 2 * nq, dims);
	snprintf(dims, sizeof dims, "%d %d %d %d 2", PB, QNq, QNH, QP);
	put(txt, bin, "da.off", d->off, 2 * np, dims);
	snprintf(dims, sizeof dims, "%d %d %d %d", PB, QNq, QNH, QP);
	put(txt, bin, "da.logit", d->logit, np, dims);
	snprintf(dims, sizeof dims, "%d %d %d", PB, QNq, QD);
	put(txt, bin, "da.R", d->R, nq * QD, dims);
}

static void peer_attn_check(const tset *r, const peer_attn *d)
{
	size_t nv = (size_t)PB * PH * PW * QD, nq = (size_t)PB * QNq, np = nq * QNH * QP;
	const struct { const char *name; const float *ours; size_t n; } t[] = {
		{ "da.out", d->out, nq * QD }, { "da.grad.Val", d->dVal, nv },
		{ "da.grad.ref", d->dref, 2 * nq }, { "da.grad.off", d->doff, 2 * np },
		{ "da.grad.logit", d->dlogit, np } };
	for (int i = 0; i < (int)(sizeof t / sizeof *t); i++) {
		double e = worst_rel(t[i].ours, find(r, t[i].name, t[i].n), t[i].n);
		ok(e <= 1e-5, "deformable attention %s: max rel. difference to PyTorch %.2e <= 1e-5",
				t[i].name, e);
	}
}

static void peer_attn_free(peer_attn *d)
{
	free(d->Val), free(d->ref), free(d->off), free(d->logit), free(d->R), free(d->A);
	free(d->pos), free(d->out), free(d->dVal), free(d->dref), free(d->doff), free(d->dlogit);
}

static void test_torch(void)
{
	const char *py = getenv("PY") ? getenv("PY") : "/usr/bin/python3";
	const char *top = getenv("MMOE_TOP") ? getenv("MMOE_TOP") : ".";
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, numpy' >/dev/null 2>&1", py);
	if (system(cmd) != 0) {
		ok(1, "# SKIP python3-torch missing: PyTorch peer check of grid_sample");
		return;
	}
	size_t nv = (size_t)PB * PH * PW * PD, no = (size_t)PB * PP * PD;
	float *V = rnd(nv, 1), *R = rnd(no, 1), pos[2 * PB * PP];
	/* random positions, some beyond the edges; then exact cell centres
	 * (integer pixel coordinates: the one-sided gradient), midpoints, and
	 * the edges ±1 (H, W powers of two keep them exact in float) */
	for (int i = 0; i < 2 * PB * PP; i++)
		pos[i] = (float)(2.5 * mm_rng_uniform(&G) - 1.25);
	const double special[][2] = { { 3, 1 }, { 0, 0 }, { 7, 3 }, { 2.5, 1.5 }, { -0.5, 2 },
		{ 7.5, 3.5 }, { 4, 2.5 }, { -1, -1 }, { 1.25, 0.5 } };
	for (int k = 0; k < (int)(sizeof special / sizeof *special); k++) {
		pos[4 * k] = norm_of(special[k][0], PW);
		pos[4 * k + 1] = norm_of(special[k][1], PH);
	}
	pos[2] = -1.f, pos[3] = 1.f; /* the corner itself */
	float out[PB * PP * PD], *dV = zeros(nv), dpos[2 * PB * PP] = { 0 };
	peer_attn da;
	mm_grid_sample_forward(V, PB, PH, PW, PD, PD, pos, PP, out, PD);
	mm_grid_sample_backward(V, PB, PH, PW, PD, PD, pos, PP, R, PD, dV, dpos);

	char dir[4096], p1[4200], p2[4200], dims[64];
	snprintf(dir, sizeof dir, "%s/mmoe-torch-peer.XXXXXX",
			getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
		return;
	snprintf(p1, sizeof p1, "%s/in.txt", dir);
	snprintf(p2, sizeof p2, "%s/in.f32", dir);
	FILE *txt = fopen(p1, "w"), *bin = fopen(p2, "wb");
	snprintf(dims, sizeof dims, "%d %d %d %d", PB, PH, PW, PD);
	put(txt, bin, "V", V, nv, dims);
	snprintf(dims, sizeof dims, "%d %d 2", PB, PP);
	put(txt, bin, "pos", pos, 2 * PB * PP, dims);
	snprintf(dims, sizeof dims, "%d %d %d", PB, PP, PD);
	put(txt, bin, "R", R, no, dims);
	peer_attn_put(txt, bin, &da);
	fclose(txt);
	fclose(bin);
	snprintf(cmd, sizeof cmd, "'%s' '%s/tests/deform_torch.py' '%s'", py, top, dir);
	tset r;
	if (ok(system(cmd) == 0 && load(&r, dir) == 0, "PyTorch ran grid_sample on the same inputs")) {
		double e;
		e = worst_rel(out, find(&r, "out", no), no);
		ok(e <= 1e-5, "values: max |ours - PyTorch| / (1 + |PyTorch|) = %.2e <= 1e-5", e);
		e = worst_rel(dV, find(&r, "grad.V", nv), nv);
		ok(e <= 1e-5, "grid gradient: max rel. difference %.2e <= 1e-5", e);
		e = worst_rel(dpos, find(&r, "grad.pos", 2 * PB * PP), 2 * PB * PP);
		ok(e <= 1e-5, "position gradient: max rel. difference %.2e <= 1e-5", e);
		peer_attn_check(&r, &da);
		free(r.all);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
	free(V), free(R), free(dV);
	peer_attn_free(&da);
}

int main(void)
{
	mm_rng_seed(&G, 12);
	test_values();
	test_fd();
	test_attn_values();
	test_attn_fd();
	test_torch();
	return tap_done();
}
