/* transformer_torch.c — the PyTorch peer check of the sequence kernels.
 *
 * A 2-layer encoder (lib/nn/encoder.h: projection, modality and position
 * embeddings, [CLS], two pre-norm blocks, final layer norm, [CLS] + mean
 * pooling, linear head) on a padded batch, with weights and inputs written
 * here and loaded by tests/transformer_torch.py into the same model built
 * from torch.nn.TransformerEncoderLayer (in float64).  Gates: the logits
 * agree to max |Δ| <= 1e-4, the mean cross-entropy too, and every
 * parameter's gradient to ‖Δ‖/‖g‖ <= 1e-3.  Skips, visibly, without
 * python3-torch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn.h"
#include "nn/encoder.h"
#include "rng.h"
#include "tap.h"
#include "peer.h"

enum { B = 5, T = 7, DIN = 6, C = 3 };
static const int lens[B] = { 7, 3, 1, 5, 7 };

int main(void)
{
	const char *py = getenv("PY") ? getenv("PY") : "/usr/bin/python3";
	const char *top = getenv("MMOE_TOP") ? getenv("MMOE_TOP") : ".";
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' -c 'import torch, numpy' >/dev/null 2>&1", py);
	if (system(cmd) != 0) {
		printf("ok 1 # SKIP python3-torch missing: PyTorch peer check of the transformer\n1..1\n");
		return 0;
	}

	mm_encoder_spec s = { .din = DIN, .maxlen = T, .width = 16, .depth = 2, .heads = 4,
		.ffn = 32, .nclass = C };
	mm_encoder *m;
	mm_err e;
	if (mm_encoder_new(&m, &s, B, &e) != MM_OK) {
		ok(0, "encoder: %s", e.msg);
		return tap_done();
	}
	mm_rng g;
	mm_rng_seed(&g, 11);
	mm_encoder_init(m, &g);
	size_t np;
	mm_param *P = mm_encoder_params(m, &np);
	/* move every tensor off its initial value (γ = 1, β = 0 would hide a
	 * mix-up between the two) */
	for (size_t i = 0; i < np; i++)
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.1 * mm_rng_normal(&g));
	float X[B * T * DIN], fl[B], fy[B];
	int y[B];
	for (int i = 0; i < B * T * DIN; i++)
		X[i] = (float)mm_rng_normal(&g); /* padded rows too: they must not matter */
	for (int b = 0; b < B; b++) {
		y[b] = (int)(mm_rng_u64(&g) % C);
		fl[b] = (float)lens[b];
		fy[b] = (float)y[b];
	}

	const float *Z = mm_encoder_forward(m, X, lens, B);
	float logits[B * C], prob[B * C], dZ[B * C];
	memcpy(logits, Z, sizeof logits);
	double loss = mm_xent_loss(logits, y, B, C, NULL, prob, dZ);
	mm_encoder_zero_grad(m);
	mm_encoder_backward(m, dZ);

	char dir[4096], p1[4200], p2[4200], dims[64];
	snprintf(dir, sizeof dir, "%s/mmoe-torch-peer.XXXXXX",
			getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return tap_done();
	}
	snprintf(p1, sizeof p1, "%s/in.txt", dir);
	snprintf(p2, sizeof p2, "%s/in.f32", dir);
	FILE *txt = fopen(p1, "w"), *bin = fopen(p2, "wb");
	float heads = (float)s.heads;
	snprintf(dims, sizeof dims, "%d %d %d", B, T, DIN);
	put(txt, bin, "x", X, B * T * DIN, dims);
	snprintf(dims, sizeof dims, "%d", B);
	put(txt, bin, "len", fl, B, dims);
	put(txt, bin, "y", fy, B, dims);
	put(txt, bin, "heads", &heads, 1, "1");
	for (size_t i = 0; i < np; i++) {
		if (P[i].shape[1] > 1)
			snprintf(dims, sizeof dims, "%d %d", (int)P[i].shape[0], (int)P[i].shape[1]);
		else
			snprintf(dims, sizeof dims, "%d", (int)P[i].shape[0]);
		put(txt, bin, P[i].name, P[i].w, P[i].n, dims);
	}
	fclose(txt);
	fclose(bin);

	snprintf(cmd, sizeof cmd, "'%s' '%s/tests/transformer_torch.py' '%s'", py, top, dir);
	tset r;
	if (!ok(system(cmd) == 0 && load(&r, dir) == 0, "PyTorch ran the same encoder")) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		(void)!system(cmd);
		return tap_done();
	}
	const float *tl = find(&r, "logits", B * C), *tloss = find(&r, "loss", 1);
	double dmax = tl ? 0 : 1e9;
	for (int i = 0; tl && i < B * C; i++)
		dmax = fmax(dmax, fabs(logits[i] - tl[i]));
	ok(dmax <= 1e-4, "logits: max |ours - PyTorch| = %.2e <= 1e-4", dmax);
	ok(tloss && fabs(loss - tloss[0]) <= 1e-5, "mean cross-entropy: %.6f vs %.6f",
			loss, tloss ? tloss[0] : NAN);
	double worst = 0;
	const char *wname = "";
	for (size_t i = 0; i < np; i++) {
		char name[64];
		snprintf(name, sizeof name, "grad.%s", P[i].name);
		const float *tg = find(&r, name, P[i].n);
		double d2 = 0, g2 = 0;
		for (size_t k = 0; tg && k < P[i].n; k++) {
			d2 += (double)(P[i].g[k] - tg[k]) * (P[i].g[k] - tg[k]);
			g2 += (double)tg[k] * tg[k];
		}
		double rel = tg && g2 > 0 ? sqrt(d2 / g2) : 1e9;
		if (rel > worst)
			worst = rel, wname = P[i].name;
		ok(rel <= 1e-3, "gradient of %s: ||ours - PyTorch|| / ||PyTorch|| = %.2e <= 1e-3",
				P[i].name, rel);
	}
	diag("worst gradient: %s at %.2e", wname, worst);
	free(r.all);
	mm_encoder_free(m);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)!system(cmd);
	return tap_done();
}
