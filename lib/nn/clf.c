/* clf.c — mm_clf: L2 logistic regression by L-BFGS, or a small MLP trained
 * by mm_net_fit, on an n × d matrix.  See nn.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "metrics.h"
#include "nn.h"
#include "optim.h"
#include "sparse.h"

struct mm_clf {
	int model, nclass, K; /* K: weight rows (1 for binary logistic regression) */
	size_t d;
	float *mean, *std;    /* NULL when not standardising */
	mm_colmap *cols;      /* sparse input: the training columns (d = cols->m) */
	int T;                /* sparse MLP: (column, value) pairs per example */
	double *W, *b;        /* logreg: K × d, K */
	mm_net *net;          /* MLP */
	double objective;
};

void mm_clf_params_default(mm_clf_params *p)
{
	memset(p, 0, sizeof *p);
	p->model = MM_CLF_LOGREG;
	p->standardize = true;
	p->C = 1.0;
	p->max_iter = 500;
	p->tol = 1e-6;
	p->hidden = 64;
	p->layers = 1;
	p->epochs = 30;
	p->batch = 64;
	p->lr = 1e-3f;
	p->weight_decay = 1e-2f;
	p->dropout = 0.1f;
	p->balanced = false;
	p->seed = 1;
}

const char *mm_clf_params_check(const mm_clf_params *p)
{
	if (p->model != MM_CLF_LOGREG && p->model != MM_CLF_MLP)
		return "model must be logreg or mlp";
	if (!(p->C > 0 && isfinite(p->C)))
		return "C must be positive";
	if (p->max_iter < 1)
		return "max_iter must be positive";
	if (!(p->tol > 0))
		return "tol must be positive";
	if (p->model == MM_CLF_MLP) {
		if (p->hidden < 1 || p->hidden > 65536)
			return "hidden must be 1..65536";
		if (p->layers < 0 || p->layers > 64)
			return "layers must be 0..64";
		if (p->epochs < 1 || p->batch < 1)
			return "epochs and batch must be positive";
		if (!(p->lr > 0) || !(p->weight_decay >= 0))
			return "lr must be > 0 and weight_decay >= 0";
		if (!(p->dropout >= 0 && p->dropout < 1))
			return "dropout must be in [0, 1)";
	}
	return NULL;
}

typedef struct lr_ctx {
	const double *X;  /* n × d */
	const mm_csr *S;  /* or sparse, in the compact columns */
	const int *y;
	const double *sw; /* sample weights or NULL */
	size_t n, d;
	int K;
	double C;
	double *Z;        /* n × K scratch */
} lr_ctx;

/* ½‖W‖² + C Σ sw_i ℓ_i, divided by n so tolerances do not depend on n. */
static double lr_objective(const double *x, double *g, void *vctx)
{
	lr_ctx *c = vctx;
	size_t n = c->n, d = c->d;
	int K = c->K;
	const double *W = x, *b = x + (size_t)K * d;
	double *gW = g, *gb = g + (size_t)K * d;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < K; k++)
			c->Z[i * K + k] = b[k];
	if (c->S)
		mm_csr_mul_wt(c->S, W, K, c->Z);
	else
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, (int)d, 1.0,
				c->X, (int)d, W, (int)d, 1.0, c->Z, K);
	double L = 0;
	for (size_t i = 0; i < n; i++) {
		double *z = c->Z + i * K, w = c->sw ? c->sw[i] : 1.0;
		if (K == 1) { /* binary: ℓ = log(1 + e^{-s z}), s = ±1 */
			double s = c->y[i] == 1 ? 1.0 : -1.0, m = s * z[0];
			L += w * (m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m)));
			double sig = 1.0 / (1.0 + exp(-z[0])); /* P(y=1) */
			z[0] = w * (sig - (c->y[i] == 1)); /* becomes the residual */
		} else {
			double mx = z[0];
			for (int k = 1; k < K; k++)
				mx = fmax(mx, z[k]);
			double s = 0;
			for (int k = 0; k < K; k++)
				s += exp(z[k] - mx);
			double lse = mx + log(s);
			L += w * (lse - z[c->y[i]]);
			for (int k = 0; k < K; k++)
				z[k] = w * (exp(z[k] - lse) - (k == c->y[i]));
		}
	}
	/* gW = C R^T X + W; gb = C Σ R */
	for (size_t k = 0; k < (size_t)K * d; k++)
		gW[k] = W[k];
	if (c->S)
		mm_csr_tmul(c->S, c->Z, K, c->C, gW);
	else
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)d, (int)n, c->C,
				c->Z, K, c->X, (int)d, 1.0, gW, (int)d);
	for (int k = 0; k < K; k++) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += c->Z[i * K + k];
		gb[k] = c->C * s;
	}
	double reg = 0;
	for (size_t k = 0; k < (size_t)K * d; k++)
		reg += W[k] * W[k];
	double inv = 1.0 / (double)n;
	for (size_t k = 0; k < (size_t)K * (d + 1); k++)
		g[k] *= inv;
	return (0.5 * reg + c->C * L) * inv;
}

/* Solve the logistic regression of c (X or S, y, n, d and C set) into m,
 * weighting samples by the class weights cw (NULL: 1). */
static mm_status lr_fit(mm_clf *m, lr_ctx *c, const float *cw, const mm_clf_params *p, mm_err *e)
{
	size_t n = c->n, d = c->d;
	int K = m->nclass == 2 ? 1 : m->nclass;
	m->K = c->K = K;
	size_t nx = (size_t)K * (d + 1);
	double *x = calloc(nx, sizeof *x), *sw = NULL;
	c->Z = malloc(n * (size_t)K * sizeof *c->Z);
	m->W = malloc((size_t)K * d * sizeof *m->W);
	m->b = malloc((size_t)K * sizeof *m->b);
	mm_status st = MM_OK;
	if (!x || !c->Z || !m->W || !m->b || (cw && !(sw = malloc(n * sizeof *sw)))) {
		st = mm_errf(e, MM_ENOMEM, "out of memory training a classifier");
		goto done;
	}
	for (size_t i = 0; cw && i < n; i++)
		sw[i] = cw[c->y[i]];
	c->sw = sw;
	double fx;
	int it;
	mm_err le;
	mm_status ls = mm_lbfgs(lr_objective, c, x, nx, 10, p->max_iter, p->tol, &fx, &it, &le);
	if (ls != MM_OK && ls != MM_ELIMIT) { /* not converging in max_iter is a warning in sklearn too */
		st = mm_errf(e, ls, "%s", le.msg);
		goto done;
	}
	memcpy(m->W, x, (size_t)K * d * sizeof *m->W);
	memcpy(m->b, x + (size_t)K * d, (size_t)K * sizeof *m->b);
	m->objective = fx * n;
done:
	free(x);
	free(sw);
	free(c->Z);
	return st;
}

/* Logits z [C] (K used) of one example → probabilities P [C]. */
static void lr_probs(const mm_clf *m, const double *z, float *P)
{
	int C = m->nclass;
	if (m->K == 1) {
		double p1 = 1.0 / (1.0 + exp(-z[0]));
		P[0] = (float)(1 - p1);
		P[1] = (float)p1;
		return;
	}
	double mx = z[0], s = 0;
	for (int k = 1; k < C; k++)
		mx = fmax(mx, z[k]);
	for (int k = 0; k < C; k++)
		s += exp(z[k] - mx);
	for (int k = 0; k < C; k++)
		P[k] = (float)(exp(z[k] - mx) / s);
}

/* Initialise m->net and train it on X [n, net dim] with the MLP settings of p. */
static mm_status mlp_fit(mm_clf *m, const float *X, const int *y, size_t n, const float *cw,
		const mm_clf_params *p, mm_err *e)
{
	mm_rng g;
	mm_rng_seed(&g, p->seed);
	mm_rng ig = mm_rng_split(&g, 7);
	mm_net_init(m->net, &ig);
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = p->epochs;
	fp.batch = p->batch;
	fp.lr = p->lr;
	fp.weight_decay = p->weight_decay;
	fp.class_w = cw;
	fp.select = MM_SELECT_LOSS;
	fp.seed = mm_rng_u64(&g);
	mm_dataset ds = { .nmod = 1, .X = { X }, .y = y, .n = n };
	mm_fit_result r;
	mm_status st = mm_net_fit(m->net, &ds, NULL, &fp, &r, e);
	if (st != MM_OK)
		return st;
	float *P = malloc(n * (size_t)m->nclass * sizeof *P);
	if (!P)
		return mm_errf(e, MM_ENOMEM, "out of memory training a classifier");
	st = mm_net_predict(m->net, &ds, P, e);
	m->objective = mm_metric_nll(P, y, n, m->nclass);
	free(P);
	return st;
}

static void clf_standardize(const mm_clf *m, const float *X, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < m->d; j++)
			out[i * m->d + j] = (X[i * m->d + j] - m->mean[j]) / m->std[j];
}

/* Check the labels y[0..n) against nclass; with balanced, *cw gets the
 * class weights n / (C n_c) (malloc'ed), else NULL. */
static mm_status clf_labels(const int *y, size_t n, int nclass, bool balanced, float **cw, mm_err *e)
{
	*cw = NULL;
	if (nclass < 2)
		return mm_errf(e, MM_EVALUE, "need at least 2 classes, got %d", nclass);
	for (size_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= nclass)
			return mm_errf(e, MM_EVALUE, "example %zu: label %d out of range 0..%d", i, y[i], nclass - 1);
	if (balanced) {
		if (!(*cw = malloc((size_t)nclass * sizeof **cw)))
			return mm_errf(e, MM_ENOMEM, "out of memory");
		mm_status st = mm_class_weights_balanced(y, n, nclass, *cw, e);
		if (st != MM_OK) {
			free(*cw);
			*cw = NULL;
			return st;
		}
	}
	return MM_OK;
}

mm_status mm_clf_train(mm_clf **out, const float *X, const int *y, size_t n, size_t d,
		int nclass, const mm_clf_params *p, mm_err *e)
{
	const char *msg = mm_clf_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	if (n == 0)
		return mm_errf(e, MM_EVALUE, "no training examples");
	if (d == 0 || d > (1u << 24))
		return mm_errf(e, MM_EVALUE, "feature dimension %zu out of range", d);
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(X[i]))
			return mm_errf(e, MM_EVALUE, "example %zu: feature %zu is not finite", i / d, i % d);
	float *Xs = NULL, *cw = NULL;
	double *Xd = NULL;
	mm_status st = clf_labels(y, n, nclass, p->balanced, &cw, e);
	if (st != MM_OK)
		return st;
	mm_clf *m = calloc(1, sizeof *m);
	if (!m)
		goto oom;
	m->model = p->model;
	m->nclass = nclass;
	m->d = d;
	m->mean = malloc(d * sizeof *m->mean);
	m->std = malloc(d * sizeof *m->std);
	Xs = malloc(n * d * sizeof *Xs);
	if (!m->mean || !m->std || !Xs)
		goto oom;
	if (p->standardize) {
		if ((st = mm_standardize_fit(X, n, d, m->mean, m->std, e)) != MM_OK)
			goto fail;
	} else {
		for (size_t j = 0; j < d; j++) {
			m->mean[j] = 0.0f;
			m->std[j] = 1.0f;
		}
	}
	clf_standardize(m, X, n, Xs);
	if (p->model == MM_CLF_LOGREG) {
		if (!(Xd = malloc(n * d * sizeof *Xd)))
			goto oom;
		for (size_t i = 0; i < n * d; i++)
			Xd[i] = Xs[i];
		lr_ctx c = { .X = Xd, .y = y, .n = n, .d = d, .C = p->C };
		if ((st = lr_fit(m, &c, cw, p, e)) != MM_OK)
			goto fail;
	} else {
		mm_net_spec s;
		mm_net_spec_default(&s);
		s.nmod = 1;
		s.dims[0] = (int)d;
		s.proj = 0;
		s.fusion = MM_FUSE_CONCAT;
		s.hidden = p->hidden;
		s.layers = p->layers;
		s.nclass = nclass;
		s.dropout = p->dropout;
		st = mm_net_build(&m->net, &s, e);
		if (st != MM_OK)
			goto fail;
		if ((st = mlp_fit(m, Xs, y, n, cw, p, e)) != MM_OK)
			goto fail;
	}
	*out = m;
	goto done;
oom:
	st = mm_errf(e, MM_ENOMEM, "out of memory training a classifier");
fail:
	mm_clf_free(m);
done:
	free(Xs);
	free(cw);
	free(Xd);
	return st;
}

mm_status mm_clf_predict(const mm_clf *m, const float *X, size_t n, float *probs, mm_err *e)
{
	const size_t CH = 1024;
	size_t d = m->d;
	int C = m->nclass;
	mm_status st = MM_OK;
	float *Xs = malloc(CH * d * sizeof *Xs);
	double *Z = malloc(CH * (size_t)C * sizeof *Z);
	if (!Xs || !Z) {
		st = mm_errf(e, MM_ENOMEM, "out of memory predicting %zu examples", n);
		goto out;
	}
	for (size_t i0 = 0; i0 < n; i0 += CH) {
		size_t B = n - i0 < CH ? n - i0 : CH;
		clf_standardize(m, X + i0 * d, B, Xs);
		float *P = probs + i0 * C;
		if (m->model == MM_CLF_LOGREG) {
			for (size_t i = 0; i < B; i++) {
				const float *x = Xs + i * d;
				double *z = Z + i * C;
				for (int k = 0; k < m->K; k++) {
					double s = m->b[k];
					const double *w = m->W + (size_t)k * d;
					for (size_t j = 0; j < d; j++)
						s += w[j] * x[j];
					z[k] = s;
				}
				lr_probs(m, z, P + i * C);
			}
		} else {
			mm_dataset ds = { .nmod = 1, .X = { Xs }, .n = B };
			if ((st = mm_net_predict(m->net, &ds, P, e)) != MM_OK)
				goto out;
		}
	}
out:
	free(Xs);
	free(Z);
	return st;
}

/* The rows of S (compact columns) as T (column, value) pairs each, padded
 * with (-1, 0): the input of the sparse_linear layer.  MM_ELIMIT when a row
 * has more than T non-zeros. */
static mm_status sparse_pairs(const mm_csr *S, int T, float **out, mm_err *e)
{
	float *x = malloc((S->n ? S->n : 1) * (size_t)T * 2 * sizeof *x);
	if (!x)
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu x %d sparse pairs)", S->n, T);
	for (size_t i = 0; i < S->n; i++) {
		size_t a = S->ptr[i], nz = S->ptr[i + 1] - a;
		if (nz > (size_t)T) {
			free(x);
			return mm_errf(e, MM_ELIMIT, "example %zu has %zu known non-zero features, more than "
				"the %d the model was built for", i, nz, T);
		}
		float *r = x + i * (size_t)T * 2;
		for (int t = 0; t < T; t++) {
			r[2 * t] = (size_t)t < nz ? (float)S->idx[a + t] : -1.0f;
			r[2 * t + 1] = (size_t)t < nz ? S->val[a + t] : 0.0f;
		}
	}
	*out = x;
	return MM_OK;
}

/* The MLP on sparse input: sparse_linear(hidden or nclass) over the pairs,
 * then the dense MLP's layers. */
static mm_status sparse_mlp_build(mm_clf *m, const mm_clf_params *p, mm_err *e)
{
	mm_shape in = { m->T, 2 };
	mm_status st = mm_net_new_shaped(&m->net, 1, &in, e);
	if (st != MM_OK)
		return st;
	mm_sparse_linear_conf first = { p->layers ? p->hidden : m->nclass, (int)m->d };
	mm_linear_conf hidden = { p->hidden }, head = { m->nclass };
	mm_dropout_conf drop = { p->dropout };
	int x = 0;
	for (int l = 0; l <= p->layers && x >= 0; l++) {
		bool last = l == p->layers;
		if (l == 0)
			x = mm_net_add(m->net, MM_NODE_SPARSE_LINEAR, "proj0", &x, 1, &first, e);
		else
			x = mm_net_add(m->net, MM_NODE_LINEAR, NULL, &x, 1, last ? &head : &hidden, e);
		if (!last && x >= 0)
			x = mm_net_add(m->net, MM_NODE_RELU, NULL, &x, 1, NULL, e);
		if (!last && x >= 0 && p->dropout > 0)
			x = mm_net_add(m->net, MM_NODE_DROPOUT, NULL, &x, 1, &drop, e);
	}
	if (x < 0)
		return e->status;
	return mm_net_finish(m->net, x, e);
}

/* Sparse input: the same logistic regression in the compact space of the
 * training columns (sparse.h), scaled but never centred; or the MLP with a
 * sparse first projection. */
mm_status mm_clf_train_sparse(mm_clf **out, const mm_csr *X, const size_t *rows, size_t n,
		const int *y, int nclass, const mm_clf_params *p, mm_err *e)
{
	const char *msg = mm_clf_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	if (n == 0)
		return mm_errf(e, MM_EVALUE, "no training examples");
	float *cw;
	mm_status st = clf_labels(y, n, nclass, p->balanced, &cw, e);
	if (st != MM_OK)
		return st;
	mm_csr S = {0};
	mm_clf *m = calloc(1, sizeof *m);
	if (!m || !(m->cols = calloc(1, sizeof *m->cols))) {
		st = mm_errf(e, MM_ENOMEM, "out of memory");
		goto fail;
	}
	m->model = p->model;
	m->nclass = nclass;
	if ((st = mm_colmap_fit(m->cols, X, rows, n, p->standardize, e)) != MM_OK ||
			(st = mm_colmap_apply(m->cols, X, rows, n, &S, e)) != MM_OK)
		goto fail;
	m->d = m->cols->m;
	if (p->model == MM_CLF_LOGREG) {
		lr_ctx c = { .S = &S, .y = y, .n = n, .d = m->d, .C = p->C };
		st = lr_fit(m, &c, cw, p, e);
	} else {
		/* T: the most known non-zeros of any row of X, so that every row of
		 * X can be predicted */
		mm_csr A = {0};
		float *pairs = NULL;
		if ((st = mm_colmap_apply(m->cols, X, NULL, 0, &A, e)) == MM_OK) {
			m->T = 1;
			for (size_t i = 0; i < A.n; i++)
				if (A.ptr[i + 1] - A.ptr[i] > (size_t)m->T)
					m->T = (int)(A.ptr[i + 1] - A.ptr[i]);
		}
		mm_csr_free(&A);
		if (st == MM_OK && (st = sparse_mlp_build(m, p, e)) == MM_OK &&
				(st = sparse_pairs(&S, m->T, &pairs, e)) == MM_OK)
			st = mlp_fit(m, pairs, y, n, cw, p, e);
		free(pairs);
	}
	if (st == MM_OK) {
		*out = m;
		m = NULL;
	}
fail:
	mm_clf_free(m);
	mm_csr_free(&S);
	free(cw);
	return st;
}

mm_status mm_clf_predict_sparse(const mm_clf *m, const mm_csr *X, const size_t *rows, size_t n,
		float *probs, mm_err *e)
{
	if (!m->cols)
		return mm_errf(e, MM_EUSAGE, "the classifier was trained on dense features");
	mm_csr S = {0};
	mm_status st = mm_colmap_apply(m->cols, X, rows, n, &S, e);
	double *Z = malloc(((size_t)(m->K ? m->K : 1) * (S.n ? S.n : 1)) * sizeof *Z);
	if (st == MM_OK && !Z)
		st = mm_errf(e, MM_ENOMEM, "out of memory");
	if (st == MM_OK && m->net) {
		float *pairs;
		if ((st = sparse_pairs(&S, m->T, &pairs, e)) == MM_OK) {
			mm_dataset ds = { .nmod = 1, .X = { pairs }, .n = S.n };
			st = mm_net_predict(m->net, &ds, probs, e);
			free(pairs);
		}
	} else if (st == MM_OK) {
		for (size_t i = 0; i < S.n; i++)
			for (int k = 0; k < m->K; k++)
				Z[i * (size_t)m->K + (size_t)k] = m->b[k];
		mm_csr_mul_wt(&S, m->W, m->K, Z);
		double z[m->nclass];
		for (size_t i = 0; i < S.n; i++) {
			memcpy(z, Z + i * (size_t)m->K, (size_t)m->K * sizeof *z);
			lr_probs(m, z, probs + i * (size_t)m->nclass);
		}
	}
	free(Z);
	mm_csr_free(&S);
	return st;
}

int mm_clf_nclass(const mm_clf *m)
{
	return m->nclass;
}

size_t mm_clf_dim(const mm_clf *m)
{
	return m->d;
}

double mm_clf_objective(const mm_clf *m)
{
	return m->objective;
}

void mm_clf_free(mm_clf *m)
{
	if (!m)
		return;
	free(m->mean);
	free(m->std);
	if (m->cols)
		mm_colmap_free(m->cols);
	free(m->cols);
	free(m->W);
	free(m->b);
	mm_net_free(m->net);
	free(m);
}
