/* nn/encoder.c — the transformer encoder classifier of nn/encoder.h. */
#include "nn/encoder.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/seq.h"
#include "util.h"

enum { BLOCK_NP = 12 }; /* parameters per block */

struct mm_encoder {
	mm_encoder_spec s;
	int maxB;
	mm_param *params;
	size_t np;
	/* views of the registry by role (w: values, g: gradients) */
	float *Wp, *bp, *mod, *cls, *pos, *lnf_g, *lnf_b, *Wh, *bh;
	mm_block_w *bw, *bg;   /* depth each */
	/* activations of the last forward */
	const float *X;
	const int *len;
	int B;
	int *len1;             /* len + 1 */
	float *H0, *dH0;       /* [maxB, T, D] */
	float **Z;             /* depth + 1 arrays of [maxB, T+1, D] */
	float *Lf, *muf, *rsf; /* final layer norm */
	float *dA, *dB;        /* [maxB, T+1, D] gradients, alternating */
	float *z, *dz, *logits;
	float **wsmem, *scratch;
	mm_block_ws *ws;
};

const char *mm_encoder_spec_check(const mm_encoder_spec *s)
{
	if (s->din < 1)
		return "the token width must be at least 1";
	if (s->maxlen < 1)
		return "the sequence length must be at least 1";
	if (s->width < 1 || s->heads < 1 || s->width % s->heads)
		return "the width must be a positive multiple of the number of heads";
	if (s->depth < 0)
		return "the depth must be at least 0";
	if (s->ffn < 1)
		return "the FFN width must be at least 1";
	if (s->nclass < 1)
		return "the number of outputs must be at least 1";
	return NULL;
}

static mm_status add_param(mm_encoder *m, const char *name, int rows, int cols, bool decay,
		mm_err *e)
{
	mm_param *p = &m->params[m->np++];
	snprintf(p->name, sizeof p->name, "%s", name);
	p->n = (size_t)rows * cols;
	p->shape[0] = rows, p->shape[1] = cols;
	p->decay = decay;
	p->w = mm_alloc_aligned(p->n, sizeof(float));
	p->g = mm_alloc_aligned(p->n, sizeof(float));
	if (!p->w || !p->g)
		return mm_errf(e, MM_ENOMEM, "out of memory for parameter %s", name);
	memset(p->g, 0, p->n * sizeof(float));
	return MM_OK;
}

/* Point the role views at the registry, in the order add_param made it. */
static void bind(mm_encoder *m)
{
	mm_param *p = m->params;
	m->Wp = p[0].w, m->bp = p[1].w, m->mod = p[2].w, m->cls = p[3].w, m->pos = p[4].w;
	for (int l = 0; l < m->s.depth; l++) {
		mm_param *q = p + 5 + (size_t)l * BLOCK_NP;
		for (int side = 0; side < 2; side++) {
			mm_block_w *b = side ? &m->bg[l] : &m->bw[l];
			float *v[BLOCK_NP];
			for (int i = 0; i < BLOCK_NP; i++)
				v[i] = side ? q[i].g : q[i].w;
			*b = (mm_block_w){ v[0], v[1], { v[2], v[3], v[4], v[5] }, v[6], v[7],
				v[8], v[9], v[10], v[11] };
		}
	}
	mm_param *t = p + 5 + (size_t)m->s.depth * BLOCK_NP;
	m->lnf_g = t[0].w, m->lnf_b = t[1].w, m->Wh = t[2].w, m->bh = t[3].w;
}

mm_status mm_encoder_new(mm_encoder **out, const mm_encoder_spec *s, int maxB, mm_err *e)
{
	*out = NULL;
	const char *why = mm_encoder_spec_check(s);
	if (why)
		return mm_errf(e, MM_EVALUE, "%s", why);
	if (maxB < 1)
		return mm_errf(e, MM_EVALUE, "the batch size must be at least 1");
	mm_encoder *m = calloc(1, sizeof *m);
	if (!m)
		return mm_errf(e, MM_ENOMEM, "out of memory for the encoder");
	m->s = *s;
	m->maxB = maxB;
	int D = s->width, F = s->ffn, T = s->maxlen, T1 = T + 1, L = s->depth;
	m->params = calloc(5 + (size_t)L * BLOCK_NP + 4, sizeof *m->params);
	m->bw = calloc((size_t)L + 1, sizeof *m->bw);
	m->bg = calloc((size_t)L + 1, sizeof *m->bg);
	m->Z = calloc((size_t)L + 1, sizeof *m->Z);
	m->wsmem = calloc((size_t)L + 1, sizeof *m->wsmem);
	m->ws = calloc((size_t)L + 1, sizeof *m->ws);
	m->len1 = calloc((size_t)maxB, sizeof *m->len1);
	if (!m->params || !m->bw || !m->bg || !m->Z || !m->wsmem || !m->ws || !m->len1) {
		mm_encoder_free(m);
		return mm_errf(e, MM_ENOMEM, "out of memory for the encoder");
	}
	mm_status st = MM_OK;
	st = st ? st : add_param(m, "proj.W", D, s->din, true, e);
	st = st ? st : add_param(m, "proj.b", D, 1, false, e);
	st = st ? st : add_param(m, "mod", D, 1, false, e);
	st = st ? st : add_param(m, "cls", D, 1, false, e);
	st = st ? st : add_param(m, "pos", T, D, false, e);
	for (int l = 0; l < L && !st; l++) {
		static const struct { const char *n; int r, c; bool decay; } bp[BLOCK_NP] = {
			{ "ln1.g", 0, 1, false }, { "ln1.b", 0, 1, false },
			{ "attn.Wqkv", 3, 0, true }, { "attn.bqkv", 3, 1, false },
			{ "attn.Wo", 1, 0, true }, { "attn.bo", 1, 1, false },
			{ "ln2.g", 0, 1, false }, { "ln2.b", 0, 1, false },
			{ "ffn.W1", -1, 0, true }, { "ffn.b1", -1, 1, false },
			{ "ffn.W2", 1, -1, true }, { "ffn.b2", 1, 1, false },
		};
		/* r: rows as a multiple of D (-1: F; 0: D as a vector); c: 0 D, 1 one, -1 F */
		for (int i = 0; i < BLOCK_NP && !st; i++) {
			char name[48];
			snprintf(name, sizeof name, "blk%d.%s", l, bp[i].n);
			int rows = bp[i].r == -1 ? F : bp[i].r == 0 ? D : bp[i].r * D;
			int cols = bp[i].c == 0 ? D : bp[i].c == -1 ? F : 1;
			st = add_param(m, name, rows, cols, bp[i].decay, e);
		}
	}
	st = st ? st : add_param(m, "lnf.g", D, 1, false, e);
	st = st ? st : add_param(m, "lnf.b", D, 1, false, e);
	st = st ? st : add_param(m, "head.W", s->nclass, D, true, e);
	st = st ? st : add_param(m, "head.b", s->nclass, 1, false, e);
	if (st) {
		mm_encoder_free(m);
		return st;
	}
	bind(m);

	size_t nt = (size_t)maxB * T * D, nt1 = (size_t)maxB * T1 * D;
	bool okm = (m->H0 = mm_alloc_aligned(nt, sizeof(float))) &&
		(m->dH0 = mm_alloc_aligned(nt, sizeof(float))) &&
		(m->Lf = mm_alloc_aligned(nt1, sizeof(float))) &&
		(m->muf = mm_alloc_aligned((size_t)maxB * T1, sizeof(float))) &&
		(m->rsf = mm_alloc_aligned((size_t)maxB * T1, sizeof(float))) &&
		(m->dA = mm_alloc_aligned(nt1, sizeof(float))) &&
		(m->dB = mm_alloc_aligned(nt1, sizeof(float))) &&
		(m->z = mm_alloc_aligned((size_t)maxB * D, sizeof(float))) &&
		(m->dz = mm_alloc_aligned((size_t)maxB * D, sizeof(float))) &&
		(m->logits = mm_alloc_aligned((size_t)maxB * s->nclass, sizeof(float))) &&
		(m->scratch = mm_alloc_aligned(mm_block_scratch_size(maxB, T1, D, s->heads, F),
				sizeof(float)));
	for (int l = 0; l <= L && okm; l++)
		okm = (m->Z[l] = mm_alloc_aligned(nt1, sizeof(float))) &&
			(l == L || (m->wsmem[l] = mm_alloc_aligned(
				mm_block_ws_size(maxB, T1, D, s->heads, F), sizeof(float))));
	if (!okm) {
		mm_encoder_free(m);
		return mm_errf(e, MM_ENOMEM, "out of memory for the encoder's activations "
				"(batch %d, %d tokens, width %d)", maxB, T, D);
	}
	*out = m;
	return MM_OK;
}

void mm_encoder_free(mm_encoder *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->params && i < m->np; i++) {
		free(m->params[i].w);
		free(m->params[i].g);
	}
	for (int l = 0; l <= m->s.depth; l++) {
		if (m->Z)
			free(m->Z[l]);
		if (m->wsmem)
			free(m->wsmem[l]);
	}
	free(m->params); free(m->bw); free(m->bg); free(m->Z); free(m->wsmem); free(m->ws);
	free(m->len1); free(m->H0); free(m->dH0); free(m->Lf); free(m->muf); free(m->rsf);
	free(m->dA); free(m->dB); free(m->z); free(m->dz); free(m->logits); free(m->scratch);
	free(m);
}

void mm_encoder_init(mm_encoder *m, mm_rng *rng)
{
	for (size_t i = 0; i < m->np; i++) {
		mm_param *p = &m->params[i];
		const char *leaf = strrchr(p->name, '.');
		leaf = leaf ? leaf + 1 : p->name;
		bool ln = strstr(p->name, "ln") != NULL; /* ln1, ln2, lnf */
		if (ln) {
			for (size_t k = 0; k < p->n; k++)
				p->w[k] = leaf[0] == 'g' ? 1.0f : 0.0f;
		} else if (!strcmp(p->name, "mod") || !strcmp(p->name, "cls") ||
				!strcmp(p->name, "pos")) {
			for (size_t k = 0; k < p->n; k++)
				p->w[k] = (float)(0.02 * mm_rng_normal(rng));
		} else {
			/* a weight [out, in] or its bias [out]: the weight gives fan_in */
			const mm_param *w = leaf[0] == 'b' ? p - 1 : p;
			double bound = 1.0 / sqrt((double)w->shape[1]);
			for (size_t k = 0; k < p->n; k++)
				p->w[k] = (float)((2 * mm_rng_uniform(rng) - 1) * bound);
		}
	}
}

mm_param *mm_encoder_params(mm_encoder *m, size_t *np)
{
	*np = m->np;
	return m->params;
}

void mm_encoder_zero_grad(mm_encoder *m)
{
	for (size_t i = 0; i < m->np; i++)
		memset(m->params[i].g, 0, m->params[i].n * sizeof(float));
}

double mm_encoder_flops(const mm_encoder_spec *s, int B)
{
	double T = s->maxlen, T1 = T + 1, D = s->width, F = s->ffn;
	double blk = 2 * T1 * D * (4 * D + 2 * F) + 4 * T1 * T1 * D;
	return B * (2 * T * s->din * D + s->depth * blk + 2 * D * s->nclass);
}

const float *mm_encoder_forward(mm_encoder *m, const float *X, const int *len, int B)
{
	const mm_encoder_spec *s = &m->s;
	int T = s->maxlen, T1 = T + 1, D = s->width;
	assert(B >= 1 && B <= m->maxB);
	m->X = X, m->len = len, m->B = B;
	for (int b = 0; b < B; b++)
		m->len1[b] = len[b] + 1;
	mm_linear_forward(X, B * T, s->din, m->Wp, m->bp, D, m->H0);
	mm_embed_add_forward(m->H0, B, T, D, len, m->mod, 0, m->H0);
	mm_embed_add_forward(m->H0, B, T, D, len, m->pos, D, m->H0);
	mm_cls_prepend_forward(m->H0, B, T, D, m->cls, m->Z[0]);
	for (int l = 0; l < s->depth; l++) {
		mm_block_ws_init(&m->ws[l], m->wsmem[l], m->scratch, B, T1, D, s->heads, s->ffn);
		mm_block_forward(m->Z[l], m->len1, &m->bw[l], &m->ws[l], m->Z[l + 1]);
	}
	mm_layernorm_forward(m->Z[s->depth], B * T1, D, m->lnf_g, m->lnf_b, m->Lf, m->muf, m->rsf);
	float *pm = m->dz; /* the mean pool borrows dz until the backward */
	mm_pool_cls_forward(m->Lf, B, T1, D, m->z);
	mm_pool_mean_forward(m->Lf, B, T1, D, m->len1, pm);
	mm_add_forward(m->z, pm, m->z, (size_t)B * D);
	mm_linear_forward(m->z, B, D, m->Wh, m->bh, s->nclass, m->logits);
	return m->logits;
}

void mm_encoder_backward(mm_encoder *m, const float *dlogits)
{
	const mm_encoder_spec *s = &m->s;
	int B = m->B, T = s->maxlen, T1 = T + 1, D = s->width, L = s->depth;
	size_t nt1 = (size_t)B * T1 * D;
	mm_param *hw = &m->params[m->np - 2], *hb = &m->params[m->np - 1];
	mm_param *fg = &m->params[m->np - 4], *fb = &m->params[m->np - 3];
	memset(m->dz, 0, (size_t)B * D * sizeof(float));
	mm_linear_backward(m->z, dlogits, B, D, s->nclass, m->Wh, hw->g, hb->g, m->dz);
	memset(m->dA, 0, nt1 * sizeof(float));
	mm_pool_cls_backward(m->dz, B, T1, D, m->dA);
	mm_pool_mean_backward(m->dz, B, T1, D, m->len1, m->dA);
	float *dcur = m->dB, *dnext = m->dA; /* dnext: gradient of Z[l+1] */
	memset(dcur, 0, nt1 * sizeof(float));
	mm_layernorm_backward(m->Z[L], dnext, B * T1, D, m->lnf_g, m->muf, m->rsf,
			fg->g, fb->g, dcur);
	for (int l = L - 1; l >= 0; l--) {
		float *t = dnext;
		dnext = dcur, dcur = t;
		memset(dcur, 0, nt1 * sizeof(float));
		mm_block_backward(m->Z[l], m->len1, &m->bw[l], &m->ws[l], dnext, &m->bg[l], dcur);
	}
	/* dcur: the gradient of Z[0] = [cls; H + mod + pos] */
	memset(m->dH0, 0, (size_t)B * T * D * sizeof(float));
	mm_cls_prepend_backward(dcur, B, T, D, m->len, m->params[3].g, m->dH0);
	mm_embed_add_backward(m->dH0, B, T, D, m->len, D, NULL, m->params[4].g);
	mm_embed_add_backward(m->dH0, B, T, D, m->len, 0, NULL, m->params[2].g);
	mm_linear_backward(m->X, m->dH0, B * T, s->din, D, m->Wp, m->params[0].g,
			m->params[1].g, NULL);
}
