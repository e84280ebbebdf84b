/* nn.c — layer kernels, graphs of layers, the trainer, mm_clf.  See nn.h. */
/* The element-wise loops (activations, AdamW, dropout) must vectorise and
 * stay branch-free whatever CFLAGS say: they run over every activation and
 * parameter at every step. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-math-errno")
#endif
#include "nn.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "sparse.h"
#include "util.h"

/* ======================================================================
 * 1. Kernels
 * ====================================================================== */

void mm_linear_forward(const float *X, int B, int din, const float *W,
		const float *b, int dout, float *Y)
{
	if (B <= 0 || dout <= 0)
		return;
	if (b) {
		for (int r = 0; r < B; r++)
			memcpy(Y + (size_t)r * dout, b, (size_t)dout * sizeof *Y);
	}
	if (din <= 0) {
		if (!b)
			memset(Y, 0, (size_t)B * dout * sizeof *Y);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, dout, din, 1.0f,
			X, din, W, din, b ? 1.0f : 0.0f, Y, dout);
}

/* The graph's backward writes (instead of adding to) a gradient that nothing
 * has touched yet, saving a memset per buffer per step: acc_p for the
 * parameter gradients, acc_x for the input gradient. */
static void linear_bwd(const float *X, const float *dY, int B, int din, int dout,
		const float *W, float *dW, float *db, float *dX, bool acc_p, bool acc_x)
{
	if (B <= 0 || dout <= 0 || din <= 0)
		return;
	if (dW)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, din, B, 1.0f,
				dY, dout, X, din, acc_p ? 1.0f : 0.0f, dW, din);
	if (db) {
		if (!acc_p)
			memset(db, 0, (size_t)dout * sizeof *db);
		for (int r = 0; r < B; r++) {
			const float *row = dY + (size_t)r * dout;
			for (int k = 0; k < dout; k++)
				db[k] += row[k];
		}
	}
	if (dX)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, din, dout, 1.0f,
				dY, dout, W, din, acc_x ? 1.0f : 0.0f, dX, din);
}

void mm_linear_backward(const float *X, const float *dY, int B, int din, int dout,
		const float *W, float *dW, float *db, float *dX)
{
	linear_bwd(X, dY, B, din, dout, W, dW, db, dX, true, true);
}

void mm_relu_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_bwd(const float *x, const float *dy, float *dx, size_t n, bool acc)
{
	if (acc) {
		for (size_t i = 0; i < n; i++) {
			float g = dy[i]; /* loaded unconditionally: the select vectorises */
			dx[i] += x[i] > 0.0f ? g : 0.0f;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			float g = dy[i];
			dx[i] = x[i] > 0.0f ? g : 0.0f;
		}
	}
}

void mm_relu_backward(const float *x, const float *dy, float *dx, size_t n)
{
	relu_bwd(x, dy, dx, n, true);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_C 0.044715f

void mm_gelu_forward(const float *x, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		y[i] = 0.5f * v * (1.0f + tanhf(GELU_K * (v + GELU_C * v * v * v)));
	}
}

void mm_gelu_backward(const float *x, const float *dy, float *dx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		float t = tanhf(GELU_K * (v + GELU_C * v * v * v));
		float d = 0.5f * (1.0f + t) +
			0.5f * v * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * v * v);
		dx[i] += dy[i] * d;
	}
}

void mm_dropout_forward(mm_rng *rng, float p, const float *x, float *y, float *mask, size_t n)
{
	if (p <= 0) {
		for (size_t i = 0; i < n; i++)
			mask[i] = 1.0f;
		memcpy(y, x, n * sizeof *y);
		return;
	}
	float keep = 1.0f / (1.0f - p);
	/* 16 random bits per element, four per draw: p is resolved to 1/65536.
	 * Draws go to a small buffer first so that the masking loop vectorises. */
	uint32_t thr = (uint32_t)((double)p * 65536.0 + 0.5);
	enum { CH = 1024 };
	uint16_t r16[CH];
	for (size_t i0 = 0; i0 < n; i0 += CH) {
		size_t m = n - i0 < CH ? n - i0 : CH;
		for (size_t k = 0; k < (m + 3) / 4; k++) {
			uint64_t r = mm_rng_u64(rng);
			memcpy(r16 + 4 * k, &r, sizeof r);
		}
		float *mk = mask + i0, *yy = y + i0;
		const float *xx = x + i0;
		for (size_t k = 0; k < m; k++) {
			mk[k] = r16[k] < thr ? 0.0f : keep;
			yy[k] = xx[k] * mk[k];
		}
	}
}

static void dropout_bwd(const float *mask, const float *dy, float *dx, size_t n, bool acc)
{
	if (acc)
		for (size_t i = 0; i < n; i++)
			dx[i] += dy[i] * mask[i];
	else
		for (size_t i = 0; i < n; i++)
			dx[i] = dy[i] * mask[i];
}

void mm_dropout_backward(const float *mask, const float *dy, float *dx, size_t n)
{
	dropout_bwd(mask, dy, dx, n, true);
}

#define LN_EPS 1e-5f

void mm_layernorm_forward(const float *X, int B, int d, const float *gamma,
		const float *beta, float *Y, float *mean, float *rstd)
{
	for (int r = 0; r < B; r++) {
		const float *x = X + (size_t)r * d;
		float *y = Y + (size_t)r * d;
		double s = 0, ss = 0;
		for (int k = 0; k < d; k++)
			s += x[k];
		double mu = s / d;
		for (int k = 0; k < d; k++)
			ss += (x[k] - mu) * (x[k] - mu);
		float rs = (float)(1.0 / sqrt(ss / d + LN_EPS));
		mean[r] = (float)mu;
		rstd[r] = rs;
		for (int k = 0; k < d; k++)
			y[k] = (x[k] - (float)mu) * rs * gamma[k] + beta[k];
	}
}

void mm_layernorm_backward(const float *X, const float *dY, int B, int d,
		const float *gamma, const float *mean, const float *rstd,
		float *dgamma, float *dbeta, float *dX)
{
	for (int r = 0; r < B; r++) {
		const float *x = X + (size_t)r * d, *dy = dY + (size_t)r * d;
		float *dx = dX + (size_t)r * d;
		float mu = mean[r], rs = rstd[r];
		double a = 0, b = 0; /* mean(dxhat), mean(dxhat * xhat) */
		for (int k = 0; k < d; k++) {
			float xh = (x[k] - mu) * rs;
			float dxh = dy[k] * gamma[k];
			if (dgamma)
				dgamma[k] += dy[k] * xh;
			if (dbeta)
				dbeta[k] += dy[k];
			a += dxh;
			b += dxh * xh;
		}
		float ma = (float)(a / d), mb = (float)(b / d);
		if (dX)
			for (int k = 0; k < d; k++) {
				float xh = (x[k] - mu) * rs;
				dx[k] += rs * (dy[k] * gamma[k] - ma - xh * mb);
			}
	}
}

void mm_prod_forward(const float *a, const float *b, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] * b[i];
}

void mm_prod_backward(const float *a, const float *b, const float *dy,
		float *da, float *db, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (da)
			da[i] += dy[i] * b[i];
		if (db)
			db[i] += dy[i] * a[i];
	}
}

void mm_bilinear_forward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *bias, float *T, float *Y)
{
	int oq = o * q;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, oq, p, 1.0f,
			A, p, W, oq, 0.0f, T, oq);
	for (int r = 0; r < B; r++) {
		const float *t = T + (size_t)r * oq, *bm = Bm + (size_t)r * q;
		float *y = Y + (size_t)r * o;
		for (int k = 0; k < o; k++) {
			float s = bias ? bias[k] : 0.0f;
			const float *tk = t + (size_t)k * q;
			for (int j = 0; j < q; j++)
				s += tk[j] * bm[j];
			y[k] = s;
		}
	}
}

void mm_bilinear_backward(const float *A, const float *Bm, int B, int p, int q, int o,
		const float *W, const float *T, const float *dY, float *dT,
		float *dW, float *dbias, float *dA, float *dBm)
{
	int oq = o * q;
	for (int r = 0; r < B; r++) {
		const float *t = T + (size_t)r * oq, *bm = Bm + (size_t)r * q;
		const float *dy = dY + (size_t)r * o;
		float *dt = dT + (size_t)r * oq;
		float *dbm = dBm ? dBm + (size_t)r * q : NULL;
		for (int k = 0; k < o; k++) {
			float g = dy[k];
			const float *tk = t + (size_t)k * q;
			float *dtk = dt + (size_t)k * q;
			for (int j = 0; j < q; j++)
				dtk[j] = g * bm[j];
			if (dbm)
				for (int j = 0; j < q; j++)
					dbm[j] += g * tk[j];
			if (dbias)
				dbias[k] += g;
		}
	}
	if (dW)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, oq, B, 1.0f,
				A, p, dT, oq, 1.0f, dW, oq);
	if (dA)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, p, oq, 1.0f,
				dT, oq, W, oq, 1.0f, dA, p);
}

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

/* ======================================================================
 * 2. Graphs
 * ====================================================================== */

#define MAXIN 16

typedef struct node {
	mm_node_type type;
	int in[MAXIN], nin;
	int dim;          /* output width */
	float p;          /* dropout rate */
	int pw, pb;       /* parameter indices (W, bias/gamma, beta) or -1 */
	float *out, *grad;
	float *aux, *aux2; /* dropout mask / LN mean,rstd / bilinear T,dT */
} node;

struct mm_net {
	int nmod;
	node *nodes;
	int nn, ncap;
	int outnode;
	mm_param *params;
	size_t np, npcap;
	int cap;         /* batch capacity of the buffers */
	int B;           /* batch of the last forward */
	bool finished;
	bool *touched;   /* per node: its gradient was written in this backward */
	float *P;        /* scratch for predict */
};

static const char *node_names[MM_NODE_NTYPES] = {
	"input", "linear", "relu", "gelu", "dropout", "layernorm", "concat", "prod", "bilinear",
};

void mm_net_spec_default(mm_net_spec *s)
{
	memset(s, 0, sizeof *s);
	s->proj = 256;
	s->act = MM_ACT_RELU;
	s->fusion = MM_FUSE_CONCAT_PROD;
	s->bilinear_dim = 32;
	s->hidden = 256;
	s->layers = 1;
	s->nclass = 2;
	s->dropout = 0.1f;
}

const char *mm_net_spec_check(const mm_net_spec *s)
{
	if (s->nmod < 1 || s->nmod > MM_NET_MAXMOD)
		return "number of modalities must be 1..8";
	for (int m = 0; m < s->nmod; m++)
		if (s->dims[m] < 1 || s->dims[m] > (1 << 24))
			return "feature dimension must be 1..16777216";
	if (s->proj < 0 || s->proj > (1 << 16))
		return "projection width must be 0..65536";
	if (s->act != MM_ACT_RELU && s->act != MM_ACT_GELU)
		return "unknown activation";
	if (s->fusion < MM_FUSE_CONCAT || s->fusion > MM_FUSE_BILINEAR)
		return "unknown fusion";
	if (s->fusion == MM_FUSE_BILINEAR && (s->bilinear_dim < 1 || s->bilinear_dim > 4096))
		return "bilinear dimension must be 1..4096";
	if (s->fusion != MM_FUSE_CONCAT && s->proj == 0)
		for (int m = 1; m < s->nmod; m++)
			if (s->dims[m] != s->dims[0])
				return "product and bilinear fusion without projections need equal feature dimensions";
	if (s->hidden < 1 || s->hidden > (1 << 16))
		return "hidden width must be 1..65536";
	if (s->layers < 0 || s->layers > 64)
		return "layers must be 0..64";
	if (s->nclass < 2 || s->nclass > 65536)
		return "number of classes must be 2..65536";
	if (!(s->dropout >= 0 && s->dropout < 1))
		return "dropout must be in [0, 1)";
	return NULL;
}

mm_status mm_net_new(mm_net **out, int nmod, const int *dims, mm_err *e)
{
	if (nmod < 1 || nmod > MM_NET_MAXMOD)
		return mm_errf(e, MM_EUSAGE, "number of inputs must be 1..%d", MM_NET_MAXMOD);
	mm_net *n = calloc(1, sizeof *n);
	if (!n)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	n->nmod = nmod;
	n->outnode = -1;
	for (int m = 0; m < nmod; m++) {
		if (dims[m] < 1) {
			mm_net_free(n);
			return mm_errf(e, MM_EUSAGE, "input %d: dimension must be positive", m);
		}
		int id = mm_net_add(n, MM_NODE_INPUT, NULL, 0, dims[m], 0, e);
		if (id < 0) {
			mm_net_free(n);
			return e ? e->status : MM_ENOMEM;
		}
	}
	*out = n;
	return MM_OK;
}

static int add_param(mm_net *net, const char *name, int64_t rows, int64_t cols, bool decay)
{
	if (net->np == net->npcap) {
		size_t nc = net->npcap ? net->npcap * 2 : 16;
		mm_param *p = realloc(net->params, nc * sizeof *p);
		if (!p)
			return -1;
		net->params = p;
		net->npcap = nc;
	}
	mm_param *p = &net->params[net->np];
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->shape[0] = rows;
	p->shape[1] = cols;
	p->n = (size_t)(rows * cols);
	p->decay = decay;
	return (int)net->np++;
}

int mm_net_add(mm_net *net, mm_node_type t, const int *in, int nin, int size, float p, mm_err *e)
{
	if (net->finished) {
		mm_errf(e, MM_EUSAGE, "net is finished");
		return -1;
	}
	if (t < 0 || t >= MM_NODE_NTYPES || nin < 0 || nin > MAXIN) {
		mm_errf(e, MM_EUSAGE, "bad node");
		return -1;
	}
	if (t == MM_NODE_INPUT ? net->nn >= net->nmod : net->nn < net->nmod) {
		mm_errf(e, MM_EUSAGE, "inputs must come first");
		return -1;
	}
	for (int i = 0; i < nin; i++)
		if (in[i] < 0 || in[i] >= net->nn) {
			mm_errf(e, MM_EUSAGE, "%s node: input %d is not an earlier node", node_names[t], in[i]);
			return -1;
		}
	int need = t == MM_NODE_INPUT ? 0 : t == MM_NODE_CONCAT ? -1 :
		(t == MM_NODE_PROD || t == MM_NODE_BILINEAR) ? 2 : 1;
	if ((need >= 0 && nin != need) || (need < 0 && nin < 1)) {
		mm_errf(e, MM_EUSAGE, "%s node: wrong number of inputs (%d)", node_names[t], nin);
		return -1;
	}
	if (net->nn == net->ncap) {
		int nc = net->ncap ? net->ncap * 2 : 16;
		node *nd = realloc(net->nodes, (size_t)nc * sizeof *nd);
		if (!nd) {
			mm_errf(e, MM_ENOMEM, "out of memory");
			return -1;
		}
		net->nodes = nd;
		net->ncap = nc;
	}
	int id = net->nn;
	node *nd = &net->nodes[id];
	memset(nd, 0, sizeof *nd);
	nd->type = t;
	nd->nin = nin;
	nd->p = p;
	nd->pw = nd->pb = -1;
	for (int i = 0; i < nin; i++)
		nd->in[i] = in[i];
	int d0 = nin > 0 ? net->nodes[in[0]].dim : 0;
	char name[48];
	switch (t) {
	case MM_NODE_INPUT:
		nd->dim = size;
		break;
	case MM_NODE_LINEAR:
		if (size < 1)
			goto badsize;
		nd->dim = size;
		snprintf(name, sizeof name, "n%d.W", id);
		nd->pw = add_param(net, name, size, d0, true);
		snprintf(name, sizeof name, "n%d.b", id);
		nd->pb = add_param(net, name, size, 1, false);
		break;
	case MM_NODE_RELU:
	case MM_NODE_GELU:
	case MM_NODE_DROPOUT:
		if (t == MM_NODE_DROPOUT && !(p >= 0 && p < 1)) {
			mm_errf(e, MM_EUSAGE, "dropout rate must be in [0, 1)");
			return -1;
		}
		nd->dim = d0;
		break;
	case MM_NODE_LAYERNORM:
		nd->dim = d0;
		snprintf(name, sizeof name, "n%d.gamma", id);
		nd->pw = add_param(net, name, d0, 1, false);
		snprintf(name, sizeof name, "n%d.beta", id);
		nd->pb = add_param(net, name, d0, 1, false);
		break;
	case MM_NODE_CONCAT:
		for (int i = 0; i < nin; i++)
			nd->dim += net->nodes[in[i]].dim;
		break;
	case MM_NODE_PROD:
		if (net->nodes[in[1]].dim != d0) {
			mm_errf(e, MM_EUSAGE, "prod node: input widths differ (%d, %d)", d0, net->nodes[in[1]].dim);
			return -1;
		}
		nd->dim = d0;
		break;
	case MM_NODE_BILINEAR:
		if (size < 1)
			goto badsize;
		nd->dim = size;
		snprintf(name, sizeof name, "n%d.W", id);
		nd->pw = add_param(net, name, d0, (int64_t)size * net->nodes[in[1]].dim, true);
		snprintf(name, sizeof name, "n%d.b", id);
		nd->pb = add_param(net, name, size, 1, false);
		break;
	default:
		break;
	}
	if ((nd->pw == -1 && (t == MM_NODE_LINEAR || t == MM_NODE_BILINEAR || t == MM_NODE_LAYERNORM)) ||
			(nd->pb == -1 && (t == MM_NODE_LINEAR || t == MM_NODE_BILINEAR || t == MM_NODE_LAYERNORM))) {
		mm_errf(e, MM_ENOMEM, "out of memory");
		return -1;
	}
	net->nn++;
	return id;
badsize:
	mm_errf(e, MM_EUSAGE, "%s node: output width must be positive", node_names[t]);
	return -1;
}

mm_status mm_net_finish(mm_net *net, int out, mm_err *e)
{
	if (out < net->nmod || out >= net->nn)
		return mm_errf(e, MM_EUSAGE, "output node %d is not a computed node", out);
	net->outnode = out;
	if (!(net->touched = calloc((size_t)net->nn, sizeof *net->touched)))
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (size_t i = 0; i < net->np; i++) {
		mm_param *p = &net->params[i];
		p->w = mm_alloc_aligned(p->n, sizeof(float));
		p->g = mm_alloc_aligned(p->n, sizeof(float));
		if (!p->w || !p->g)
			return mm_errf(e, MM_ENOMEM, "out of memory for %zu parameters", p->n);
		memset(p->w, 0, p->n * sizeof(float));
		memset(p->g, 0, p->n * sizeof(float));
	}
	net->finished = true;
	return MM_OK;
}

static int act_node(int act)
{
	return act == MM_ACT_GELU ? MM_NODE_GELU : MM_NODE_RELU;
}

mm_status mm_net_build(mm_net **out, const mm_net_spec *s, mm_err *e)
{
	const char *msg = mm_net_spec_check(s);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	mm_net *net;
	mm_status st = mm_net_new(&net, s->nmod, s->dims, e);
	if (st != MM_OK)
		return st;
	int h[MM_NET_MAXMOD], cat[MAXIN], ncat = 0, id;
#define ADD(t, ins, nin, size, p) do { \
		id = mm_net_add(net, (t), (ins), (nin), (size), (p), e); \
		if (id < 0) goto fail; } while (0)
	for (int m = 0; m < s->nmod; m++) {
		h[m] = m;
		if (s->proj > 0) {
			ADD(MM_NODE_LINEAR, &h[m], 1, s->proj, 0);
			h[m] = id;
			ADD(act_node(s->act), &h[m], 1, 0, 0);
			h[m] = id;
			if (s->dropout > 0) {
				ADD(MM_NODE_DROPOUT, &h[m], 1, 0, s->dropout);
				h[m] = id;
			}
		}
		cat[ncat++] = h[m];
	}
	if (s->fusion != MM_FUSE_CONCAT)
		for (int i = 0; i < s->nmod; i++)
			for (int j = i + 1; j < s->nmod; j++) {
				int pair[2] = { h[i], h[j] };
				if (ncat >= MAXIN) {
					mm_errf(e, MM_EUSAGE, "too many modality pairs to fuse");
					goto fail;
				}
				if (s->fusion == MM_FUSE_CONCAT_PROD)
					ADD(MM_NODE_PROD, pair, 2, 0, 0);
				else
					ADD(MM_NODE_BILINEAR, pair, 2, s->bilinear_dim, 0);
				cat[ncat++] = id;
			}
	int x;
	if (ncat == 1) {
		x = cat[0];
	} else {
		ADD(MM_NODE_CONCAT, cat, ncat, 0, 0);
		x = id;
	}
	for (int l = 0; l < s->layers; l++) {
		ADD(MM_NODE_LINEAR, &x, 1, s->hidden, 0);
		x = id;
		ADD(act_node(s->act), &x, 1, 0, 0);
		x = id;
		if (s->dropout > 0) {
			ADD(MM_NODE_DROPOUT, &x, 1, 0, s->dropout);
			x = id;
		}
	}
	ADD(MM_NODE_LINEAR, &x, 1, s->nclass, 0);
#undef ADD
	st = mm_net_finish(net, id, e);
	if (st != MM_OK) {
		mm_net_free(net);
		return st;
	}
	*out = net;
	return MM_OK;
fail:
	mm_net_free(net);
	return e ? e->status : MM_EUSAGE;
}

static void free_bufs(mm_net *net)
{
	for (int i = 0; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		if (nd->type != MM_NODE_INPUT)
			free(nd->out);
		free(nd->grad);
		free(nd->aux);
		free(nd->aux2);
		nd->out = nd->grad = nd->aux = nd->aux2 = NULL;
	}
	free(net->P);
	net->P = NULL;
	net->cap = 0;
}

void mm_net_free(mm_net *net)
{
	if (!net)
		return;
	free_bufs(net);
	for (size_t i = 0; i < net->np; i++) {
		free(net->params[i].w);
		free(net->params[i].g);
	}
	free(net->params);
	free(net->nodes);
	free(net->touched);
	free(net);
}

void mm_net_init(mm_net *net, mm_rng *rng)
{
	for (int i = 0; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		if (nd->type == MM_NODE_LINEAR || nd->type == MM_NODE_BILINEAR) {
			int fan = net->nodes[nd->in[0]].dim;
			double bound = 1.0 / sqrt((double)fan);
			mm_param *w = &net->params[nd->pw], *b = &net->params[nd->pb];
			for (size_t k = 0; k < w->n; k++)
				w->w[k] = (float)((2 * mm_rng_uniform(rng) - 1) * bound);
			for (size_t k = 0; k < b->n; k++)
				b->w[k] = (float)((2 * mm_rng_uniform(rng) - 1) * bound);
		} else if (nd->type == MM_NODE_LAYERNORM) {
			mm_param *g = &net->params[nd->pw], *b = &net->params[nd->pb];
			for (size_t k = 0; k < g->n; k++)
				g->w[k] = 1.0f;
			memset(b->w, 0, b->n * sizeof(float));
		}
	}
}

mm_param *mm_net_params(mm_net *net, size_t *np)
{
	*np = net->np;
	return net->params;
}

size_t mm_net_nparams_total(const mm_net *net)
{
	size_t s = 0;
	for (size_t i = 0; i < net->np; i++)
		s += net->params[i].n;
	return s;
}

int mm_net_nout(const mm_net *net)
{
	return net->outnode >= 0 ? net->nodes[net->outnode].dim : 0;
}

int mm_net_nmod(const mm_net *net)
{
	return net->nmod;
}

int mm_net_dim(const mm_net *net, int m)
{
	return m >= 0 && m < net->nmod ? net->nodes[m].dim : 0;
}

double mm_net_flops_per_sample(const mm_net *net)
{
	double f = 0;
	for (int i = 0; i < net->nn; i++) {
		const node *nd = &net->nodes[i];
		if (nd->type == MM_NODE_LINEAR)
			f += 2.0 * nd->dim * net->nodes[nd->in[0]].dim;
		else if (nd->type == MM_NODE_BILINEAR)
			f += 2.0 * net->nodes[nd->in[0]].dim * nd->dim * net->nodes[nd->in[1]].dim +
				2.0 * nd->dim * net->nodes[nd->in[1]].dim;
	}
	return f;
}

/* Make room for batches of B rows.  Returns false on ENOMEM. */
static bool ensure_cap(mm_net *net, int B)
{
	if (B <= net->cap)
		return true;
	free_bufs(net);
	for (int i = 0; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		size_t n = (size_t)B * nd->dim;
		if (nd->type != MM_NODE_INPUT) {
			nd->out = mm_alloc_aligned(n, sizeof(float));
			nd->grad = mm_alloc_aligned(n, sizeof(float));
			if (!nd->out || !nd->grad)
				goto oom;
		}
		if (nd->type == MM_NODE_DROPOUT) {
			nd->aux = mm_alloc_aligned(n, sizeof(float));
			if (!nd->aux)
				goto oom;
		} else if (nd->type == MM_NODE_LAYERNORM) {
			nd->aux = mm_alloc_aligned((size_t)B * 2, sizeof(float));
			if (!nd->aux)
				goto oom;
		} else if (nd->type == MM_NODE_BILINEAR) {
			size_t t = (size_t)B * nd->dim * net->nodes[nd->in[1]].dim;
			nd->aux = mm_alloc_aligned(t, sizeof(float));
			nd->aux2 = mm_alloc_aligned(t, sizeof(float));
			if (!nd->aux || !nd->aux2)
				goto oom;
		}
	}
	net->P = mm_alloc_aligned((size_t)B * mm_net_nout(net), sizeof(float));
	if (!net->P)
		goto oom;
	net->cap = B;
	return true;
oom:
	free_bufs(net);
	return false;
}

const float *mm_net_forward(mm_net *net, const float *const *X, int B, bool train, mm_rng *rng)
{
	assert(net->finished && B > 0);
	if (!ensure_cap(net, B))
		return NULL;
	net->B = B;
	for (int m = 0; m < net->nmod; m++)
		net->nodes[m].out = (float *)X[m]; /* read only: inputs get no gradient */
	for (int i = net->nmod; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		const node *a = &net->nodes[nd->in[0]];
		size_t n = (size_t)B * nd->dim;
		switch (nd->type) {
		case MM_NODE_LINEAR:
			mm_linear_forward(a->out, B, a->dim, net->params[nd->pw].w,
					net->params[nd->pb].w, nd->dim, nd->out);
			break;
		case MM_NODE_RELU:
			mm_relu_forward(a->out, nd->out, n);
			break;
		case MM_NODE_GELU:
			mm_gelu_forward(a->out, nd->out, n);
			break;
		case MM_NODE_DROPOUT:
			if (train && nd->p > 0) {
				assert(rng);
				mm_dropout_forward(rng, nd->p, a->out, nd->out, nd->aux, n);
			} else {
				mm_dropout_forward(NULL, 0, a->out, nd->out, nd->aux, n);
			}
			break;
		case MM_NODE_LAYERNORM:
			mm_layernorm_forward(a->out, B, nd->dim, net->params[nd->pw].w,
					net->params[nd->pb].w, nd->out, nd->aux, nd->aux + B);
			break;
		case MM_NODE_CONCAT: {
			int off = 0;
			for (int k = 0; k < nd->nin; k++) {
				const node *s = &net->nodes[nd->in[k]];
				for (int r = 0; r < B; r++)
					memcpy(nd->out + (size_t)r * nd->dim + off,
							s->out + (size_t)r * s->dim, (size_t)s->dim * sizeof(float));
				off += s->dim;
			}
			break;
		}
		case MM_NODE_PROD:
			mm_prod_forward(a->out, net->nodes[nd->in[1]].out, nd->out, n);
			break;
		case MM_NODE_BILINEAR: {
			const node *b = &net->nodes[nd->in[1]];
			mm_bilinear_forward(a->out, b->out, B, a->dim, b->dim, nd->dim,
					net->params[nd->pw].w, net->params[nd->pb].w, nd->aux, nd->out);
			break;
		}
		default:
			assert(0);
		}
	}
	return net->nodes[net->outnode].out;
}

void mm_net_zero_grad(mm_net *net)
{
	for (size_t i = 0; i < net->np; i++)
		memset(net->params[i].g, 0, net->params[i].n * sizeof(float));
}

/* The gradient buffer of node id, to be added to: zeroed on its first use in
 * this backward (NULL for inputs, which get no gradient). */
static float *grad_acc(mm_net *net, int id)
{
	if (id < net->nmod)
		return NULL;
	node *s = &net->nodes[id];
	if (!net->touched[id]) {
		memset(s->grad, 0, (size_t)net->B * s->dim * sizeof(float));
		net->touched[id] = true;
	}
	return s->grad;
}

/* The gradient buffer of node id and whether it must be added to (false: the
 * caller writes it whole, and it counts as touched from now on). */
static float *grad_for(mm_net *net, int id, bool *acc)
{
	if (id < net->nmod)
		return NULL;
	*acc = net->touched[id];
	net->touched[id] = true;
	return net->nodes[id].grad;
}

/* Backward through the graph in reverse topological order.  acc_params:
 * add to the parameter gradients (the public contract), else overwrite them
 * (the trainer, which would otherwise zero them first; every parameter
 * belongs to exactly one node). */
static void net_backward(mm_net *net, const float *dlogits, bool acc_params)
{
	int B = net->B;
	memset(net->touched, 0, (size_t)net->nn * sizeof *net->touched);
	node *o = &net->nodes[net->outnode];
	memcpy(o->grad, dlogits, (size_t)B * o->dim * sizeof(float));
	net->touched[net->outnode] = true;
	for (int i = net->nn - 1; i >= net->nmod; i--) {
		node *nd = &net->nodes[i];
		if (!net->touched[i]) { /* no path to the output: contributes nothing */
			memset(nd->grad, 0, (size_t)B * nd->dim * sizeof(float));
			net->touched[i] = true;
		}
		node *a = &net->nodes[nd->in[0]];
		size_t n = (size_t)B * nd->dim;
		bool acc = true;
		if (!acc_params && (nd->type == MM_NODE_LAYERNORM || nd->type == MM_NODE_BILINEAR)) {
			memset(net->params[nd->pw].g, 0, net->params[nd->pw].n * sizeof(float));
			memset(net->params[nd->pb].g, 0, net->params[nd->pb].n * sizeof(float));
		}
		switch (nd->type) {
		case MM_NODE_LINEAR: {
			float *da = grad_for(net, nd->in[0], &acc);
			linear_bwd(a->out, nd->grad, B, a->dim, nd->dim, net->params[nd->pw].w,
					net->params[nd->pw].g, net->params[nd->pb].g, da, acc_params, acc);
			break;
		}
		case MM_NODE_RELU: {
			float *da = grad_for(net, nd->in[0], &acc);
			if (da)
				relu_bwd(a->out, nd->grad, da, n, acc);
			break;
		}
		case MM_NODE_GELU: {
			float *da = grad_acc(net, nd->in[0]);
			if (da)
				mm_gelu_backward(a->out, nd->grad, da, n);
			break;
		}
		case MM_NODE_DROPOUT: {
			float *da = grad_for(net, nd->in[0], &acc);
			if (da)
				dropout_bwd(nd->aux, nd->grad, da, n, acc);
			break;
		}
		case MM_NODE_LAYERNORM:
			mm_layernorm_backward(a->out, nd->grad, B, nd->dim, net->params[nd->pw].w,
					nd->aux, nd->aux + B, net->params[nd->pw].g,
					net->params[nd->pb].g, grad_acc(net, nd->in[0]));
			break;
		case MM_NODE_CONCAT: {
			int off = 0;
			for (int k = 0; k < nd->nin; k++) {
				node *s = &net->nodes[nd->in[k]];
				float *dst = grad_for(net, nd->in[k], &acc);
				if (dst)
					for (int r = 0; r < B; r++) {
						float *d = dst + (size_t)r * s->dim;
						const float *src = nd->grad + (size_t)r * nd->dim + off;
						if (acc)
							for (int c = 0; c < s->dim; c++)
								d[c] += src[c];
						else
							memcpy(d, src, (size_t)s->dim * sizeof(float));
					}
				off += s->dim;
			}
			break;
		}
		case MM_NODE_PROD: {
			node *b = &net->nodes[nd->in[1]];
			float *da = grad_acc(net, nd->in[0]), *db = grad_acc(net, nd->in[1]);
			mm_prod_backward(a->out, b->out, nd->grad, da, db, n);
			break;
		}
		case MM_NODE_BILINEAR: {
			node *b = &net->nodes[nd->in[1]];
			float *da = grad_acc(net, nd->in[0]), *db = grad_acc(net, nd->in[1]);
			mm_bilinear_backward(a->out, b->out, B, a->dim, b->dim, nd->dim,
					net->params[nd->pw].w, nd->aux, nd->grad, nd->aux2,
					net->params[nd->pw].g, net->params[nd->pb].g, da, db);
			break;
		}
		default:
			assert(0);
		}
	}
}

void mm_net_backward(mm_net *net, const float *dlogits)
{
	net_backward(net, dlogits, true);
}

void mm_net_copy_params(mm_net *dst, const mm_net *src)
{
	assert(dst->np == src->np);
	for (size_t i = 0; i < src->np; i++) {
		assert(dst->params[i].n == src->params[i].n);
		memcpy(dst->params[i].w, src->params[i].w, src->params[i].n * sizeof(float));
	}
}

/* ---- metrics -------------------------------------------------------------- */

double mm_metric_acc(const float *P, const int *y, size_t n, int C)
{
	if (n == 0)
		return NAN;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (int)mm_vec_argmax(P + i * C, (size_t)C) == y[i];
	return (double)k / n;
}

static double f1_of(const float *P, const int *y, size_t n, int C, int pos)
{
	size_t tp = 0, fp = 0, fn = 0;
	for (size_t i = 0; i < n; i++) {
		int h = (int)mm_vec_argmax(P + i * C, (size_t)C);
		if (h == pos && y[i] == pos)
			tp++;
		else if (h == pos)
			fp++;
		else if (y[i] == pos)
			fn++;
	}
	return tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

double mm_metric_f1(const float *P, const int *y, size_t n, int C, int positive)
{
	return n ? f1_of(P, y, n, C, positive) : NAN;
}

double mm_metric_macro_f1(const float *P, const int *y, size_t n, int C)
{
	if (n == 0)
		return NAN;
	double s = 0;
	for (int c = 0; c < C; c++)
		s += f1_of(P, y, n, C, c);
	return s / C;
}

double mm_metric_nll(const float *P, const int *y, size_t n, int C)
{
	if (n == 0)
		return NAN;
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s -= log(fmax(P[i * C + y[i]], 1e-30));
	return s / n;
}

double mm_metric(int select, const float *P, const int *y, size_t n, int C)
{
	switch (select) {
	case MM_SELECT_F1:
		return mm_metric_f1(P, y, n, C, 1);
	case MM_SELECT_MACRO_F1:
		return mm_metric_macro_f1(P, y, n, C);
	case MM_SELECT_ACC:
		return mm_metric_acc(P, y, n, C);
	default:
		return mm_metric_nll(P, y, n, C);
	}
}

/* ---- training ------------------------------------------------------------- */

void mm_fit_params_default(mm_fit_params *p)
{
	memset(p, 0, sizeof *p);
	p->epochs = 20;
	p->batch = 64;
	p->lr = 1e-3f;
	p->weight_decay = 0.01f;
	p->warmup = 0.1f;
	p->min_lr_ratio = 0;
	p->clip = 1.0f;
	p->loss = MM_LOSS_CE;
	p->alpha = 1;
	p->gamma = 2;
	p->select = MM_SELECT_F1;
	p->patience = 0;
	p->seed = 1;
}

const char *mm_fit_params_check(const mm_fit_params *p)
{
	if (p->epochs < 1 || p->epochs > 1000000)
		return "epochs must be 1..1000000";
	if (p->batch < 1 || p->batch > (1 << 20))
		return "batch must be 1..1048576";
	if (!(p->lr > 0 && p->lr < 100))
		return "learning rate must be in (0, 100)";
	if (!(p->weight_decay >= 0 && p->weight_decay < 100))
		return "weight decay must be in [0, 100)";
	if (!(p->warmup >= 0 && p->warmup <= 1))
		return "warm-up must be a fraction of the steps in [0, 1]";
	if (!(p->min_lr_ratio >= 0 && p->min_lr_ratio <= 1))
		return "minimum learning-rate ratio must be in [0, 1]";
	if (!(p->clip >= 0))
		return "clip must be >= 0";
	if (p->loss != MM_LOSS_CE && p->loss != MM_LOSS_FOCAL)
		return "unknown loss";
	if (!(p->alpha > 0) || !(p->gamma >= 0))
		return "focal alpha must be > 0 and gamma >= 0";
	if (p->select < MM_SELECT_F1 || p->select > MM_SELECT_LOSS)
		return "unknown selection metric";
	if (p->patience < 0)
		return "patience must be >= 0";
	return NULL;
}

void mm_net_predict(mm_net *net, const mm_dataset *d, float *P)
{
	int C = mm_net_nout(net);
	const int BS = 256;
	const float *X[MM_NET_MAXMOD];
	for (size_t i = 0; i < d->n; i += BS) {
		int B = (int)(d->n - i < (size_t)BS ? d->n - i : (size_t)BS);
		for (int m = 0; m < d->nmod; m++)
			X[m] = d->X[m] + i * (size_t)mm_net_dim(net, m);
		const float *Z = mm_net_forward(net, X, B, false, NULL);
		if (!Z) { /* out of memory: make it visible rather than silent */
			for (size_t k = 0; k < (size_t)B * C; k++)
				P[i * C + k] = NAN;
			continue;
		}
		mm_softmax(Z, B, C, P + i * C);
	}
}

/* Gather rows idx[0..B) of each modality into contiguous batch buffers. */
static void gather(const mm_dataset *d, const mm_net *net, const size_t *idx, int B,
		float **Xb, int *yb)
{
	for (int m = 0; m < d->nmod; m++) {
		size_t dim = (size_t)mm_net_dim(net, m);
		for (int r = 0; r < B; r++)
			memcpy(Xb[m] + r * dim, d->X[m] + idx[r] * dim, dim * sizeof(float));
	}
	for (int r = 0; r < B; r++)
		yb[r] = d->y[idx[r]];
}

static bool better(int select, double a, double b)
{
	if (isnan(a))
		return false;
	if (isnan(b))
		return true;
	return select == MM_SELECT_LOSS ? a < b : a > b;
}

mm_status mm_net_fit(mm_net *net, const mm_dataset *tr, const mm_dataset *val,
		const mm_fit_params *p, mm_fit_result *res, mm_err *e)
{
	const char *msg = mm_fit_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	if (tr->n == 0)
		return mm_errf(e, MM_EVALUE, "no training records");
	if (tr->nmod != net->nmod || (val && val->n && val->nmod != net->nmod))
		return mm_errf(e, MM_EUSAGE, "dataset has %d modalities, the net %d", tr->nmod, net->nmod);
	int C = mm_net_nout(net);
	for (size_t i = 0; i < tr->n; i++)
		if (tr->y[i] < 0 || tr->y[i] >= C)
			return mm_errf(e, MM_EVALUE, "training target %d out of range 0..%d", tr->y[i], C - 1);
	bool hasval = val && val->n > 0;
	if (hasval)
		for (size_t i = 0; i < val->n; i++)
			if (val->y[i] < 0 || val->y[i] >= C)
				return mm_errf(e, MM_EVALUE, "validation target %d out of range 0..%d", val->y[i], C - 1);

	mm_status st = MM_OK;
	int BS = p->batch < (int)tr->n ? p->batch : (int)tr->n;
	size_t np;
	mm_param *params = mm_net_params(net, &np);
	mm_adamw *opt = NULL;
	float *Xb[MM_NET_MAXMOD] = { 0 }, *dZ = NULL, *P = NULL, *VP = NULL, **best = NULL, *cw = NULL;
	int *yb = NULL;
	size_t *perm = NULL;
	st = mm_adamw_new(&opt, params, np, 0.9f, 0.999f, 1e-8f, p->weight_decay, e);
	if (st != MM_OK)
		return st;
	for (int m = 0; m < net->nmod; m++)
		if (!(Xb[m] = mm_alloc_aligned((size_t)BS * mm_net_dim(net, m), sizeof(float))))
			goto oom;
	dZ = mm_alloc_aligned((size_t)BS * C, sizeof(float));
	P = mm_alloc_aligned((size_t)BS * C, sizeof(float));
	yb = malloc((size_t)BS * sizeof *yb);
	perm = malloc(tr->n * sizeof *perm);
	if (!dZ || !P || !yb || !perm)
		goto oom;
	if (p->class_w) {
		if (!(cw = malloc((size_t)C * sizeof *cw)))
			goto oom;
		memcpy(cw, p->class_w, (size_t)C * sizeof *cw);
	}
	if (hasval) {
		if (!(VP = malloc(val->n * (size_t)C * sizeof *VP)))
			goto oom;
		if (!(best = calloc(np ? np : 1, sizeof *best)))
			goto oom;
		for (size_t i = 0; i < np; i++)
			if (!(best[i] = malloc(params[i].n * sizeof(float))))
				goto oom;
	}
	for (size_t i = 0; i < tr->n; i++)
		perm[i] = i;

	mm_rng root, shuf, drop;
	mm_rng_seed(&root, p->seed);
	shuf = mm_rng_split(&root, 1);
	drop = mm_rng_split(&root, 2);
	uint64_t spe = (tr->n + BS - 1) / BS, total = spe * (uint64_t)p->epochs;
	uint64_t warm = (uint64_t)llround(p->warmup * (double)total), step = 0;
	double t0 = mm_now(), best_metric = NAN;
	int best_epoch = 0, since = 0, ep;
	float lr = p->lr;
	for (ep = 1; ep <= p->epochs; ep++) {
		mm_rng_shuffle(&shuf, perm, tr->n, sizeof *perm);
		double lsum = 0;
		for (size_t i = 0; i < tr->n; i += BS) {
			int B = (int)(tr->n - i < (size_t)BS ? tr->n - i : (size_t)BS);
			gather(tr, net, perm + i, B, Xb, yb);
			const float *Z = mm_net_forward(net, (const float *const *)Xb, B, true, &drop);
			if (!Z)
				goto oom;
			double L = p->loss == MM_LOSS_FOCAL ?
				mm_focal_loss(Z, yb, B, C, cw, p->alpha, p->gamma, P, dZ) :
				mm_xent_loss(Z, yb, B, C, cw, P, dZ);
			if (!isfinite(L)) {
				st = mm_errf(e, MM_EVALUE, "training diverged at epoch %d (loss %g): lower --lr", ep, L);
				goto out;
			}
			lsum += L * B;
			net_backward(net, dZ, false); /* overwrites the gradients: no zeroing */
			if (p->clip > 0)
				mm_clip_grad_norm(params, np, p->clip);
			lr = mm_lr_schedule(p->lr, step, warm, total, p->min_lr_ratio);
			mm_adamw_step(opt, lr);
			step++;
		}
		mm_fit_epoch info = { .epoch = ep, .train_loss = lsum / tr->n, .lr = lr,
			.val_loss = NAN, .val_metric = NAN };
		if (hasval) {
			mm_net_predict(net, val, VP);
			info.val_loss = mm_metric_nll(VP, val->y, val->n, C);
			info.val_metric = mm_metric(p->select, VP, val->y, val->n, C);
			if (best_epoch == 0 || better(p->select, info.val_metric, best_metric)) {
				best_metric = info.val_metric;
				best_epoch = ep;
				since = 0;
				info.best = true;
				for (size_t k = 0; k < np; k++)
					memcpy(best[k], params[k].w, params[k].n * sizeof(float));
			} else {
				since++;
			}
		} else {
			best_epoch = ep;
			info.best = true;
		}
		info.seconds = mm_now() - t0;
		if (p->on_epoch)
			p->on_epoch(p->ctx, &info);
		if (hasval && p->patience > 0 && since >= p->patience) {
			ep++;
			break;
		}
	}
	if (hasval)
		for (size_t k = 0; k < np; k++)
			memcpy(params[k].w, best[k], params[k].n * sizeof(float));
	if (res) {
		res->epochs_run = ep - 1;
		res->best_epoch = best_epoch;
		res->best_metric = best_metric;
		res->seconds = mm_now() - t0;
		res->steps = step;
	}
	goto out;
oom:
	st = mm_errf(e, MM_ENOMEM, "out of memory while training");
out:
	mm_adamw_free(opt);
	for (int m = 0; m < MM_NET_MAXMOD; m++)
		free(Xb[m]);
	free(dZ);
	free(P);
	free(VP);
	free(yb);
	free(perm);
	free(cw);
	if (best)
		for (size_t k = 0; k < np; k++)
			free(best[k]);
	free(best);
	return st;
}

/* ======================================================================
 * 3. mm_clf
 * ====================================================================== */

struct mm_clf {
	int model, nclass, K; /* K: weight rows (1 for binary logistic regression) */
	size_t d;
	float *mean, *std;    /* NULL when not standardising */
	mm_colmap *cols;      /* sparse input: the training columns (d = cols->m) */
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
	size_t *cnt = calloc((size_t)nclass, sizeof *cnt);
	if (!cnt)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0 || y[i] >= nclass) {
			free(cnt);
			return mm_errf(e, MM_EVALUE, "example %zu: label %d out of range 0..%d", i, y[i], nclass - 1);
		}
		cnt[y[i]]++;
	}
	if (balanced) {
		if (!(*cw = malloc((size_t)nclass * sizeof **cw))) {
			free(cnt);
			return mm_errf(e, MM_ENOMEM, "out of memory");
		}
		for (int c = 0; c < nclass; c++)
			(*cw)[c] = cnt[c] ? (float)((double)n / ((double)nclass * cnt[c])) : 0.0f;
	}
	free(cnt);
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
	for (size_t j = 0; j < d; j++) {
		double s = 0, ss = 0;
		if (p->standardize) {
			for (size_t i = 0; i < n; i++)
				s += X[i * d + j];
			s /= n;
			for (size_t i = 0; i < n; i++)
				ss += (X[i * d + j] - s) * (X[i * d + j] - s);
			ss = sqrt(ss / n);
		}
		m->mean[j] = p->standardize ? (float)s : 0.0f;
		m->std[j] = p->standardize && ss > 1e-12 ? (float)ss : 1.0f;
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
		mm_dataset ds = { .nmod = 1, .X = { Xs }, .y = y, .n = n };
		mm_fit_result r;
		st = mm_net_fit(m->net, &ds, NULL, &fp, &r, e);
		if (st != MM_OK)
			goto fail;
		float *P = malloc(n * (size_t)nclass * sizeof *P);
		if (!P)
			goto oom;
		mm_net_predict(m->net, &ds, P);
		m->objective = mm_metric_nll(P, y, n, nclass);
		free(P);
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

void mm_clf_predict(const mm_clf *m, const float *X, size_t n, float *probs)
{
	const size_t CH = 1024;
	size_t d = m->d;
	int C = m->nclass;
	float *Xs = malloc(CH * d * sizeof *Xs);
	double *Z = malloc(CH * (size_t)C * sizeof *Z);
	if (!Xs || !Z) {
		for (size_t i = 0; i < n * (size_t)C; i++)
			probs[i] = NAN;
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
			mm_net_predict(m->net, &ds, P);
		}
	}
out:
	free(Xs);
	free(Z);
}

/* Sparse input: the same logistic regression in the compact space of the
 * training columns (sparse.h), scaled but never centred. */
mm_status mm_clf_train_sparse(mm_clf **out, const mm_csr *X, const size_t *rows, size_t n,
		const int *y, int nclass, const mm_clf_params *p, mm_err *e)
{
	const char *msg = mm_clf_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	if (p->model != MM_CLF_LOGREG)
		return mm_errf(e, MM_EUSAGE, "sparse features take logistic regression only (model logreg)");
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
	m->model = MM_CLF_LOGREG;
	m->nclass = nclass;
	if ((st = mm_colmap_fit(m->cols, X, rows, n, p->standardize, e)) != MM_OK ||
			(st = mm_colmap_apply(m->cols, X, rows, n, &S, e)) != MM_OK)
		goto fail;
	m->d = m->cols->m;
	lr_ctx c = { .S = &S, .y = y, .n = n, .d = m->d, .C = p->C };
	if ((st = lr_fit(m, &c, cw, p, e)) == MM_OK) {
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
	double *Z = malloc(((size_t)m->K * (S.n ? S.n : 1)) * sizeof *Z);
	if (st == MM_OK && !Z)
		st = mm_errf(e, MM_ENOMEM, "out of memory");
	if (st == MM_OK) {
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
