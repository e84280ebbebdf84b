/* mixture.c — the mixture-of-experts objective of a gate: the negative log
 * likelihood of the mixture Σ_k softmax(z)_k p_k(y), for mm_net_fit's custom
 * objective.  See nn.h. */
#include <math.h>
#include <stddef.h>

#include "nn.h"

/* log Σ_k exp(a_k), stable; writes softmax(a) into s. */
static double lse_softmax(const double *a, int K, double *s)
{
	double mx = a[0];
	for (int k = 1; k < K; k++)
		if (a[k] > mx)
			mx = a[k];
	double t = 0;
	for (int k = 0; k < K; k++)
		t += (s[k] = exp(a[k] - mx));
	for (int k = 0; k < K; k++)
		s[k] /= t;
	return mx + log(t);
}

double mm_mixture_objective(void *octx, const float *Z, int B, int nout, const mm_dataset *d,
		const size_t *idx, float *dZ)
{
	const mm_mixture *mx = octx;
	int s = d == mx->d[0] ? 0 : d == mx->d[1] ? 1 : -1;
	const float *py = s >= 0 ? mx->py[s] : NULL;
	const int *tag = s >= 0 ? mx->tag[s] : NULL;
	double lam = mx->tag_weight;
	if (!py || nout != mx->K || nout > MM_MIXTURE_MAXK || B < 1 || !(lam >= 0 && lam <= 1) ||
			(lam > 0 && !tag))
		return NAN; /* a caller's bug: the trainer reports a non-finite loss */
	int K = nout;
	double z[MM_MIXTURE_MAXK], a[MM_MIXTURE_MAXK], w[MM_MIXTURE_MAXK], r[MM_MIXTURE_MAXK];
	double L = 0;
	for (int i = 0; i < B; i++) {
		const float *p = py + idx[i] * (size_t)K;
		for (int k = 0; k < K; k++) {
			z[k] = Z[(size_t)i * K + k];
			a[k] = z[k] + log(p[k] > MM_MIXTURE_PFLOOR ? p[k] : MM_MIXTURE_PFLOOR);
		}
		/* -log Σ_k w_k p_k = lse(z) - lse(z + log p); its gradient in z is
		 * w - r, r_k = w_k p_k / Σ_j w_j p_j the experts' responsibilities */
		double lz = lse_softmax(z, K, w);
		L += (1 - lam) * (lz - lse_softmax(a, K, r));
		int t = lam > 0 ? tag[idx[i]] : -1; /* the tag loss -log w_t: gradient w - e_t */
		if (t >= 0)
			L += lam * (lz - z[t]);
		if (dZ)
			for (int k = 0; k < K; k++)
				dZ[(size_t)i * K + k] = (float)(((1 - lam) * (w[k] - r[k]) +
						(t >= 0 ? lam * (w[k] - (k == t)) : 0)) / B);
	}
	return L / B;
}
