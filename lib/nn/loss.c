/* loss.c — softmax and the losses on logits (cross-entropy, focal).  See kernels.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels.h"

void mm_softmax(const float *Z, int B, int C, float *P)
{
	for (int r = 0; r < B; r++) {
		const float *z = Z + (size_t)r * C;
		float *pr = P + (size_t)r * C;
		float mx = z[0];
		for (int c = 1; c < C; c++)
			if (z[c] > mx)
				mx = z[c];
		double s = 0;
		for (int c = 0; c < C; c++) {
			pr[c] = expf(z[c] - mx);
			s += pr[c];
		}
		float inv = (float)(1.0 / s);
		for (int c = 0; c < C; c++)
			pr[c] *= inv;
	}
}

/* Shared by both losses: the focal form with alpha=1, gamma=0 is exactly the
 * cross-entropy, but the plain path avoids pow(). */
static double loss_impl(const float *Z, const int *y, int B, int C, const float *w,
		float alpha, float gamma, bool focal, float *P, float *dZ)
{
	mm_softmax(Z, B, C, P);
	double wsum = 0, L = 0;
	for (int r = 0; r < B; r++)
		wsum += w ? w[y[r]] : 1.0;
	if (wsum <= 0)
		wsum = 1;
	for (int r = 0; r < B; r++) {
		const float *pr = P + (size_t)r * C;
		int t = y[r];
		double wr = w ? w[t] : 1.0;
		double pt = pr[t];
		double lp = log(fmax(pt, 1e-30));
		double G; /* dℓ/dz_j = G (p_j - δ_jt) */
		if (!focal) {
			L += -wr * lp;
			G = 1.0;
		} else {
			/* om = 1 - pt from the other probabilities: no cancellation near pt = 1 */
			double om = 0;
			for (int c = 0; c < C; c++)
				if (c != t)
					om += pr[c];
			double omg = gamma > 0 ? pow(om, gamma) : 1.0;
			L += -wr * alpha * omg * lp;
			double d1 = (gamma > 0 && om > 0) ? gamma * pow(om, gamma - 1) * pt * lp : 0.0;
			G = alpha * (omg - d1);
		}
		if (dZ) {
			float *dz = dZ + (size_t)r * C;
			float s = (float)(G * wr / wsum);
			for (int c = 0; c < C; c++)
				dz[c] = s * (pr[c] - (c == t ? 1.0f : 0.0f));
		}
	}
	return L / wsum;
}

double mm_xent_loss(const float *Z, const int *y, int B, int C, const float *w,
		float *P, float *dZ)
{
	return loss_impl(Z, y, B, C, w, 1.0f, 0.0f, false, P, dZ);
}

double mm_focal_loss(const float *Z, const int *y, int B, int C, const float *w,
		float alpha, float gamma, float *P, float *dZ)
{
	return loss_impl(Z, y, B, C, w, alpha, gamma, true, P, dZ);
}
