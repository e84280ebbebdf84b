/* optim.c — optimisers on a convex problem with a known optimum.
 *
 * L2-regularised binary logistic regression, f(w) = ½‖w‖² + C Σ log(1+e^{-y_i x_i·w})
 * (bias unpenalised), has a unique minimiser.  The test computes it
 * independently with Newton's method (exact Hessian, Cholesky solve, in
 * double), then checks that L-BFGS, mm_clf_train, AdamW and SGD reach it.
 */
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "optim.h"
#include "rng.h"
#include "tap.h"

enum { N = 300, D = 6, P = D + 1 };
static double X[N][D];
static int Y[N];
static const double Cval = 0.5;

/* objective with bias x[D]; g may be NULL; H (P×P) may be NULL */
static double f_full(const double *w, double *g, double *H)
{
	double f = 0;
	for (int j = 0; j < D; j++)
		f += 0.5 * w[j] * w[j];
	if (g) {
		for (int j = 0; j < D; j++)
			g[j] = w[j];
		g[D] = 0;
	}
	if (H) {
		memset(H, 0, sizeof(double) * P * P);
		for (int j = 0; j < D; j++)
			H[j * P + j] = 1;
	}
	for (int i = 0; i < N; i++) {
		double z = w[D];
		for (int j = 0; j < D; j++)
			z += w[j] * X[i][j];
		double s = Y[i] ? 1 : -1, m = s * z;
		f += Cval * (m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m)));
		double p = 1 / (1 + exp(-z));
		double r = Cval * (p - Y[i]);
		double xi[P];
		for (int j = 0; j < D; j++)
			xi[j] = X[i][j];
		xi[D] = 1;
		if (g)
			for (int j = 0; j < P; j++)
				g[j] += r * xi[j];
		if (H)
			for (int a = 0; a < P; a++)
				for (int b = 0; b < P; b++)
					H[a * P + b] += Cval * p * (1 - p) * xi[a] * xi[b];
	}
	return f;
}

static double f_cb(const double *x, double *g, void *ctx)
{
	(void)ctx;
	return f_full(x, g, NULL);
}

/* Solve H d = g by Cholesky (H is SPD). */
static void chol_solve(double *H, double *g, double *d)
{
	double L[P * P] = { 0 };
	for (int i = 0; i < P; i++)
		for (int j = 0; j <= i; j++) {
			double s = H[i * P + j];
			for (int k = 0; k < j; k++)
				s -= L[i * P + k] * L[j * P + k];
			L[i * P + j] = i == j ? sqrt(s) : s / L[j * P + j];
		}
	double z[P];
	for (int i = 0; i < P; i++) {
		double s = g[i];
		for (int k = 0; k < i; k++)
			s -= L[i * P + k] * z[k];
		z[i] = s / L[i * P + i];
	}
	for (int i = P - 1; i >= 0; i--) {
		double s = z[i];
		for (int k = i + 1; k < P; k++)
			s -= L[k * P + i] * d[k];
		d[i] = s / L[i * P + i];
	}
}

static void newton(double *w)
{
	memset(w, 0, sizeof(double) * P);
	double g[P], H[P * P], d[P];
	for (int it = 0; it < 50; it++) {
		f_full(w, g, H);
		chol_solve(H, g, d);
		double nd = 0;
		for (int j = 0; j < P; j++) {
			w[j] -= d[j];
			nd = fmax(nd, fabs(d[j]));
		}
		if (nd < 1e-13)
			break;
	}
}

static double maxdiff(const double *a, const double *b, int n)
{
	double m = 0;
	for (int i = 0; i < n; i++)
		m = fmax(m, fabs(a[i] - b[i]));
	return m;
}

int main(void)
{
	mm_rng g;
	mm_rng_seed(&g, 2024);
	double wtrue[D] = { 1.5, -2, 0.5, 0, 1, -0.7 };
	for (int i = 0; i < N; i++) {
		double z = 0.3;
		for (int j = 0; j < D; j++) {
			X[i][j] = mm_rng_normal(&g);
			z += wtrue[j] * X[i][j];
		}
		Y[i] = mm_rng_uniform(&g) < 1 / (1 + exp(-z));
	}
	double wopt[P], gopt[P];
	newton(wopt);
	double fopt = f_full(wopt, gopt, NULL);
	double gn = 0;
	for (int j = 0; j < P; j++)
		gn = fmax(gn, fabs(gopt[j]));
	ok(gn < 1e-8, "Newton reaches a stationary point (|g| = %.2g)", gn);

	/* L-BFGS */
	double x[P] = { 0 }, fx;
	int iters;
	mm_err e;
	mm_status st = mm_lbfgs(f_cb, NULL, x, P, 10, 200, 1e-10, &fx, &iters, &e);
	ok(st == MM_OK, "L-BFGS converges (%d iterations)", iters);
	near(fx, fopt, 1e-10, "L-BFGS objective equals Newton's");
	ok(maxdiff(x, wopt, P) < 1e-5, "L-BFGS minimiser equals Newton's (max diff %.2g)", maxdiff(x, wopt, P));

	/* mm_clf_train: the same objective without standardisation */
	float Xf[N * D];
	for (int i = 0; i < N; i++)
		for (int j = 0; j < D; j++)
			Xf[i * D + j] = (float)X[i][j];
	mm_clf_params cp;
	mm_clf_params_default(&cp);
	cp.C = Cval;
	cp.standardize = false;
	cp.tol = 1e-9;
	mm_clf *clf = NULL;
	st = mm_clf_train(&clf, Xf, Y, N, D, 2, &cp, &e);
	ok(st == MM_OK, "mm_clf_train logreg");
	if (clf) {
		/* float features: the optimum moves by ~1e-7 relative */
		near(mm_clf_objective(clf), fopt, 1e-6, "mm_clf objective equals the optimum");
		float pr[2 * 3];
		mm_clf_predict(clf, Xf, 3, pr, NULL);
		int good = 1;
		for (int i = 0; i < 3; i++) {
			double z = wopt[D];
			for (int j = 0; j < D; j++)
				z += wopt[j] * X[i][j];
			good &= fabs(pr[i * 2 + 1] - 1 / (1 + exp(-z))) < 1e-4;
			good &= fabs(pr[i * 2] + pr[i * 2 + 1] - 1) < 1e-6;
		}
		ok(good, "mm_clf probabilities equal the optimum's");
		mm_clf_free(clf);
	}
	/* the MLP classifier: learns the same problem, deterministically */
	{
		mm_clf_params mp;
		mm_clf_params_default(&mp);
		mp.model = MM_CLF_MLP;
		mp.hidden = 16;
		mp.epochs = 100; /* 500 AdamW steps at lr 1e-3 */
		mm_clf *a = NULL, *b = NULL;
		ok(mm_clf_train(&a, Xf, Y, N, D, 2, &mp, &e) == MM_OK &&
				mm_clf_train(&b, Xf, Y, N, D, 2, &mp, &e) == MM_OK, "mm_clf_train mlp");
		static float pa[N * 2], pb[N * 2];
		mm_clf_predict(a, Xf, N, pa, NULL);
		mm_clf_predict(b, Xf, N, pb, NULL);
		int right = 0, sums = 1;
		for (int i = 0; i < N; i++) {
			right += (pa[2 * i + 1] > 0.5f) == (Y[i] == 1);
			sums &= fabsf(pa[2 * i] + pa[2 * i + 1] - 1) < 1e-5f;
		}
		/* against the logistic regression optimum (the true model is linear) */
		int lr_right = 0;
		for (int i = 0; i < N; i++) {
			double z = wopt[D];
			for (int j = 0; j < D; j++)
				z += wopt[j] * X[i][j];
			lr_right += (z > 0) == (Y[i] == 1);
		}
		ok(right >= lr_right - 0.03 * N, "mlp training accuracy %.3f, logistic regression %.3f",
				(double)right / N, (double)lr_right / N);
		ok(sums, "mlp probabilities sum to 1");
		ok(memcmp(pa, pb, sizeof pa) == 0, "mlp: same seed, same predictions");
		mm_clf_free(a);
		mm_clf_free(b);
	}

	/* bad input is an error, not a crash */
	int ybad[N];
	memcpy(ybad, Y, sizeof ybad);
	ybad[7] = 3;
	ok(mm_clf_train(&clf, Xf, ybad, N, D, 2, &cp, &e) == MM_EVALUE && strstr(e.msg, "example 7"),
			"label out of range is MM_EVALUE naming the example: %s", e.msg);
	cp.C = -1;
	ok(mm_clf_params_check(&cp) != NULL, "C <= 0 is rejected by params_check");

	/* AdamW (wd 0, the L2 term in the gradient) and SGD, full batch */
	for (int which = 0; which < 2; which++) {
		float w[P] = { 0 }, gr[P];
		mm_param prm = { .name = "w", .w = w, .g = gr, .n = P, .shape = { P, 1 }, .decay = false };
		mm_adamw *ad = NULL;
		mm_sgd *sg = NULL;
		if (which == 0)
			mm_adamw_new(&ad, &prm, 1, 0.9f, 0.999f, 1e-8f, 0.0f, &e);
		else
			mm_sgd_new(&sg, &prm, 1, 0.9f, 0.0f, &e);
		const int steps = 4000;
		for (int s = 0; s < steps; s++) {
			double wd[P], gd[P];
			for (int j = 0; j < P; j++)
				wd[j] = w[j];
			f_full(wd, gd, NULL);
			for (int j = 0; j < P; j++)
				gr[j] = (float)(gd[j] / N); /* mean scale, as minibatch training */
			float lr = mm_lr_schedule(which == 0 ? 0.05f : 0.5f, s, 100, steps, 0.0f);
			if (ad)
				mm_adamw_step(ad, lr);
			else
				mm_sgd_step(sg, lr);
		}
		double wd[P];
		for (int j = 0; j < P; j++)
			wd[j] = w[j];
		double d = maxdiff(wd, wopt, P);
		ok(d < 2e-3, "%s with warm-up + cosine reaches the optimum (max diff %.2g)",
				which == 0 ? "AdamW" : "SGD+momentum", d);
		mm_adamw_free(ad);
		mm_sgd_free(sg);
	}

	/* decoupled weight decay: zero gradient shrinks weights by (1 - lr·wd) */
	{
		float w[2] = { 1, 1 }, gr[2] = { 0, 0 };
		mm_param prm[2] = {
			{ .name = "a", .w = &w[0], .g = &gr[0], .n = 1, .decay = true },
			{ .name = "b", .w = &w[1], .g = &gr[1], .n = 1, .decay = false },
		};
		mm_adamw *ad;
		mm_adamw_new(&ad, prm, 2, 0.9f, 0.999f, 1e-8f, 0.1f, &e);
		mm_adamw_step(ad, 0.5f);
		near(w[0], 0.95, 1e-6, "AdamW decay is decoupled: w *= 1 - lr*wd");
		near(w[1], 1.0, 1e-7, "no decay where param.decay is false");
		gr[0] = 1;
		mm_adamw_step(ad, 0.5f);
		/* m̂ = g, v̂ = g² after bias correction with the first gradient zero:
		 * m = 0.1, v = 0.001 at t=2; m̂ = 0.1/0.19, v̂ = 0.001/0.001999 */
		double mh = 0.1 / 0.19, vh = 0.001 / (1 - 0.999 * 0.999);
		near(w[0], 0.95 * 0.95 - 0.5 * mh / (sqrt(vh) + 1e-8), 1e-5, "AdamW step matches the formula");
		ok(mm_adamw_steps(ad) == 2, "AdamW counts steps");
		mm_adamw_free(ad);
	}

	/* schedule */
	near(mm_lr_schedule(1, 0, 10, 110, 0), 0.1, 1e-7, "warm-up starts at lr/warmup");
	near(mm_lr_schedule(1, 9, 10, 110, 0), 1.0, 1e-7, "warm-up reaches lr");
	near(mm_lr_schedule(1, 60, 10, 110, 0), 0.5, 1e-6, "cosine is at half way in the middle");
	near(mm_lr_schedule(1, 110, 10, 110, 0.1f), 0.1, 1e-6, "cosine ends at lr*min_ratio");

	/* clipping */
	{
		float a[3] = { 3, 0, 4 }, ga[3] = { 3, 0, 4 };
		mm_param prm = { .name = "a", .w = a, .g = ga, .n = 3 };
		double nrm = mm_clip_grad_norm(&prm, 1, 1.0);
		near(nrm, 5, 1e-9, "clip returns the norm before clipping");
		near(sqrt(ga[0] * ga[0] + ga[2] * ga[2]), 1.0, 1e-5, "clipped to max_norm");
		near(ga[0] / ga[2], 0.75, 1e-6, "clipping keeps the direction");
	}
	{
		float a[3] = { 3, 0, 4 }, ga[3] = { 3, 0, 4 }, b[2] = { 1, 1 }, gb[2] = { 100, 100 };
		mm_param prm[2] = { { .name = "a", .w = a, .g = ga, .n = 3 },
			{ .name = "b", .w = b, .g = gb, .n = 2, .frozen = true } };
		near(mm_clip_grad_norm(prm, 2, 1.0), 5, 1e-9, "a frozen parameter does not count in the norm");
		ok(gb[0] == 100 && gb[1] == 100, "nor is it scaled");
		mm_sgd *sg;
		mm_err e;
		mm_sgd_new(&sg, prm, 2, 0.9f, 0.1f, &e);
		mm_sgd_step(sg, 0.1f);
		ok(b[0] == 1 && b[1] == 1 && a[0] != 3, "SGD steps the others, not a frozen parameter");
		mm_sgd_free(sg);
	}
	{
		/* a norm over more values than one BLAS call takes at a time */
		enum { M = (1 << 20) + 3 };
		float *w = malloc(M * sizeof *w), *g = malloc(M * sizeof *g);
		for (size_t i = 0; i < M; i++)
			g[i] = (float)((i % 17) * 0.001 + 1e-4 * (double)(i % 5));
		mm_param prm = { .name = "w", .w = w, .g = g, .n = M };
		double s = 0;
		for (size_t i = 0; i < M; i++)
			s += (double)g[i] * g[i];
		near(mm_clip_grad_norm(&prm, 1, 0), sqrt(s), 1e-4, "the norm of 2^20 + 3 gradients (float partial sums)");
		free(w);
		free(g);
	}
	return tap_done();
}
