/* optim.c — AdamW, SGD, schedules, clipping, L-BFGS.  See optim.h. */
/* The element-wise loops (activations, AdamW, dropout) must vectorise and
 * stay branch-free whatever CFLAGS say: they run over every activation and
 * parameter at every step. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "optim.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gemm.h"
#include "util.h"

struct mm_adamw {
	mm_param *p;
	size_t np;
	float b1, b2, eps, wd;
	uint64_t t;
	float **m, **v;
};

mm_status mm_adamw_new(mm_adamw **out, mm_param *params, size_t np,
		float beta1, float beta2, float eps, float weight_decay, mm_err *e)
{
	mm_adamw *o = calloc(1, sizeof *o);
	if (!o)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	o->p = params;
	o->np = np;
	o->b1 = beta1;
	o->b2 = beta2;
	o->eps = eps;
	o->wd = weight_decay;
	o->m = calloc(np ? np : 1, sizeof *o->m);
	o->v = calloc(np ? np : 1, sizeof *o->v);
	if (!o->m || !o->v)
		goto oom;
	for (size_t i = 0; i < np; i++) {
		o->m[i] = mm_alloc_aligned(params[i].n, sizeof(float));
		o->v[i] = mm_alloc_aligned(params[i].n, sizeof(float));
		if (!o->m[i] || !o->v[i])
			goto oom;
		memset(o->m[i], 0, params[i].n * sizeof(float));
		memset(o->v[i], 0, params[i].n * sizeof(float));
	}
	*out = o;
	return MM_OK;
oom:
	mm_adamw_free(o);
	return mm_errf(e, MM_ENOMEM, "out of memory for optimiser state");
}

/* One parameter's update over [lo, hi): element-wise, so its ranges run on
 * the library's threads (gemm.h, mm_parallel_ranges). */
typedef struct adamw_job {
	float *w, *m, *v;
	const float *g;
	float b1, b2, eps, decay, step, rbc2;
} adamw_job;

static void adamw_range(void *ctx, size_t lo, size_t hi, int worker)
{
	(void)worker;
	const adamw_job *j = ctx;
	float *restrict w = j->w, *restrict m = j->m, *restrict v = j->v;
	const float *restrict g = j->g;
	float b1 = j->b1, b2 = j->b2, eps = j->eps, decay = j->decay, step = j->step,
	      rbc2 = j->rbc2;
	size_t k = lo;
#if defined(__SSE2__)
	/* sqrtf keeps errno semantics under -O2 and will not vectorise: SSE by hand */
	__m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vc1 = _mm_set1_ps(1.0f - b1),
	       vc2 = _mm_set1_ps(1.0f - b2), vdec = _mm_set1_ps(decay), vstep = _mm_set1_ps(step),
	       vr = _mm_set1_ps(rbc2), veps = _mm_set1_ps(eps);
	for (; k + 4 <= hi; k += 4) {
		__m128 gk = _mm_loadu_ps(g + k);
		__m128 mk = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + k)), _mm_mul_ps(vc1, gk));
		__m128 vk = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + k)), _mm_mul_ps(vc2, _mm_mul_ps(gk, gk)));
		__m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vk), vr), veps);
		__m128 wk = _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(w + k), vdec),
				_mm_div_ps(_mm_mul_ps(vstep, mk), den));
		_mm_storeu_ps(m + k, mk);
		_mm_storeu_ps(v + k, vk);
		_mm_storeu_ps(w + k, wk);
	}
#endif
	for (; k < hi; k++) {
		float gk = g[k];
		m[k] = b1 * m[k] + (1.0f - b1) * gk;
		v[k] = b2 * v[k] + (1.0f - b2) * gk * gk;
		w[k] = w[k] * decay - step * m[k] / (sqrtf(v[k]) * rbc2 + eps);
	}
}

void mm_adamw_step(mm_adamw *o, float lr)
{
	o->t++;
	/* Bias corrections folded into the step size and epsilon, as PyTorch does:
	 * w -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). */
	double bc1 = 1.0 - pow(o->b1, (double)o->t);
	double bc2 = 1.0 - pow(o->b2, (double)o->t);
	float step = (float)(lr / bc1);
	float rbc2 = (float)(1.0 / sqrt(bc2));
	for (size_t i = 0; i < o->np; i++) {
		mm_param *p = &o->p[i];
		if (p->frozen)
			continue;
		adamw_job j = { p->w, o->m[i], o->v[i], p->g, o->b1, o->b2, o->eps,
			p->decay ? 1.0f - lr * o->wd : 1.0f, step, rbc2 };
		mm_parallel_ranges(p->n, MM_PARALLEL_GRAIN, 8.0 * p->n, 0, adamw_range, &j);
	}
}

uint64_t mm_adamw_steps(const mm_adamw *o)
{
	return o->t;
}

void mm_adamw_free(mm_adamw *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->np; i++) {
		if (o->m)
			free(o->m[i]);
		if (o->v)
			free(o->v[i]);
	}
	free(o->m);
	free(o->v);
	free(o);
}

struct mm_sgd {
	mm_param *p;
	size_t np;
	float mu, wd;
	float **vel;
	bool started;
};

mm_status mm_sgd_new(mm_sgd **out, mm_param *params, size_t np,
		float momentum, float weight_decay, mm_err *e)
{
	mm_sgd *o = calloc(1, sizeof *o);
	if (!o)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	o->p = params;
	o->np = np;
	o->mu = momentum;
	o->wd = weight_decay;
	o->vel = calloc(np ? np : 1, sizeof *o->vel);
	if (!o->vel)
		goto oom;
	for (size_t i = 0; i < np; i++) {
		o->vel[i] = mm_alloc_aligned(params[i].n, sizeof(float));
		if (!o->vel[i])
			goto oom;
		memset(o->vel[i], 0, params[i].n * sizeof(float));
	}
	*out = o;
	return MM_OK;
oom:
	mm_sgd_free(o);
	return mm_errf(e, MM_ENOMEM, "out of memory for optimiser state");
}

void mm_sgd_step(mm_sgd *o, float lr)
{
	for (size_t i = 0; i < o->np; i++) {
		mm_param *p = &o->p[i];
		if (p->frozen)
			continue;
		float wd = p->decay ? o->wd : 0.0f;
		float *w = p->w, *v = o->vel[i];
		for (size_t k = 0; k < p->n; k++) {
			float g = p->g[k] + wd * w[k];
			/* PyTorch: the first step sets the buffer to g (no dampening). */
			v[k] = o->started ? o->mu * v[k] + g : g;
			w[k] -= lr * (o->mu > 0 ? v[k] : g);
		}
	}
	o->started = true;
}

void mm_sgd_free(mm_sgd *o)
{
	if (!o)
		return;
	for (size_t i = 0; o->vel && i < o->np; i++)
		free(o->vel[i]);
	free(o->vel);
	free(o);
}

float mm_lr_schedule(float lr, uint64_t step, uint64_t warmup, uint64_t total, float min_ratio)
{
	if (warmup > 0 && step < warmup)
		return lr * (float)(step + 1) / (float)warmup;
	if (total <= warmup)
		return lr;
	double t = (double)(step - warmup) / (double)(total - warmup);
	if (t > 1)
		t = 1;
	double c = 0.5 * (1.0 + cos(M_PI * t));
	return (float)(lr * (min_ratio + (1.0 - min_ratio) * c));
}

/* Σ g²: float partial sums per tensor (BLAS), in chunks that fit an int. */
static double sumsq(const float *g, size_t n)
{
	double s = 0;
	for (size_t k = 0; k < n; k += 1 << 20) {
		int len = (int)(n - k < (1u << 20) ? n - k : 1u << 20);
		s += cblas_sdot(len, g + k, 1, g + k, 1);
	}
	return s;
}

double mm_clip_grad_norm(mm_param *params, size_t np, double max_norm)
{
	double ss = 0;
	for (size_t i = 0; i < np; i++)
		if (!params[i].frozen)
			ss += sumsq(params[i].g, params[i].n);
	double norm = sqrt(ss);
	if (max_norm > 0 && norm > max_norm) {
		float s = (float)(max_norm / (norm + 1e-6));
		for (size_t i = 0; i < np; i++) {
			float *g = params[i].g;
			if (params[i].frozen)
				continue;
			for (size_t k = 0; k < params[i].n; k++)
				g[k] *= s;
		}
	}
	return norm;
}

/* ---- L-BFGS --------------------------------------------------------------- */

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double norminf(const double *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(a[i]) > m)
			m = fabs(a[i]);
	return m;
}

mm_status mm_lbfgs(mm_objective_fn f, void *ctx, double *x, size_t n, int m,
		int max_iter, double tol, double *fx, int *iters, mm_err *e)
{
	if (m < 1)
		m = 1;
	mm_status st = MM_OK;
	size_t mn = (size_t)m * n;
	double *S = calloc(mn ? mn : 1, sizeof *S), *Y = calloc(mn ? mn : 1, sizeof *Y);
	double *rho = calloc((size_t)m, sizeof *rho), *al = calloc((size_t)m, sizeof *al);
	double *g = calloc(n ? n : 1, sizeof *g), *d = calloc(n ? n : 1, sizeof *d);
	double *xn = calloc(n ? n : 1, sizeof *xn), *gn = calloc(n ? n : 1, sizeof *gn);
	if (!S || !Y || !rho || !al || !g || !d || !xn || !gn) {
		st = mm_errf(e, MM_ENOMEM, "out of memory in L-BFGS");
		goto out;
	}
	double fv = f(x, g, ctx);
	int k = 0, head = 0, len = 0, stall = 0;
	for (k = 0; k < max_iter; k++) {
		if (norminf(g, n) <= tol * fmax(1.0, fabs(fv)))
			break;
		/* two-loop recursion: d = -H g */
		for (size_t i = 0; i < n; i++)
			d[i] = -g[i];
		for (int j = 0; j < len; j++) {
			int idx = (head - 1 - j + m) % m;
			al[idx] = rho[idx] * dot(S + (size_t)idx * n, d, n);
			double a = al[idx];
			const double *yy = Y + (size_t)idx * n;
			for (size_t i = 0; i < n; i++)
				d[i] -= a * yy[i];
		}
		if (len > 0) {
			int last = (head - 1 + m) % m;
			double yy = dot(Y + (size_t)last * n, Y + (size_t)last * n, n);
			double gamma = 1.0 / (rho[last] * yy);
			for (size_t i = 0; i < n; i++)
				d[i] *= gamma;
		}
		for (int j = len - 1; j >= 0; j--) {
			int idx = (head - 1 - j + m) % m;
			double b = rho[idx] * dot(Y + (size_t)idx * n, d, n);
			const double *ss = S + (size_t)idx * n;
			for (size_t i = 0; i < n; i++)
				d[i] += (al[idx] - b) * ss[i];
		}
		double gd = dot(g, d, n);
		if (gd >= 0) { /* not a descent direction: restart with steepest descent */
			for (size_t i = 0; i < n; i++)
				d[i] = -g[i];
			gd = dot(g, d, n);
			len = 0;
		}
		double step = (len == 0) ? fmin(1.0, 1.0 / fmax(norminf(g, n), 1e-12)) : 1.0;
		double fnew = 0;
		int ls;
		for (ls = 0; ls < 40; ls++) {
			for (size_t i = 0; i < n; i++)
				xn[i] = x[i] + step * d[i];
			fnew = f(xn, gn, ctx);
			if (isfinite(fnew) && fnew <= fv + 1e-4 * step * gd)
				break;
			step *= 0.5;
		}
		if (ls == 40) /* no decrease possible at working precision */
			break;
		/* update memory when the curvature condition holds */
		double *ss = S + (size_t)head * n, *yy = Y + (size_t)head * n;
		for (size_t i = 0; i < n; i++) {
			ss[i] = xn[i] - x[i];
			yy[i] = gn[i] - g[i];
		}
		double sy = dot(ss, yy, n);
		if (sy > 1e-12 * dot(yy, yy, n)) {
			rho[head] = 1.0 / sy;
			head = (head + 1) % m;
			if (len < m)
				len++;
		}
		double rel = (fv - fnew) / fmax(1.0, fabs(fv));
		memcpy(x, xn, n * sizeof *x);
		memcpy(g, gn, n * sizeof *g);
		fv = fnew;
		stall = rel < 1e-12 ? stall + 1 : 0;
		if (stall >= 3)
			break;
	}
	if (k >= max_iter && norminf(g, n) > tol * fmax(1.0, fabs(fv)))
		st = mm_errf(e, MM_ELIMIT, "L-BFGS: no convergence in %d iterations", max_iter);
	if (fx)
		*fx = fv;
	if (iters)
		*iters = k;
out:
	free(S);
	free(Y);
	free(rho);
	free(al);
	free(g);
	free(d);
	free(xn);
	free(gn);
	return st;
}
