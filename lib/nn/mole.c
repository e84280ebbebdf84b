/* nn/mole.c — the "mole" layer: top-1 routed bottleneck adapters.  The
 * contract, the routes and the gradient of the choice are in nn/mole.h. */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"
#include "layer.h"

enum { MOLE_INSTANCE = 0, MOLE_TOKEN = 1, MOLE_BOTH = 2 }; /* = MM_MOLE_* */

static const mm_conf_field mole_fields[] = {
	{ "adapters", MM_CONF_INT, offsetof(mm_mole_conf, adapters), 1, 64 },
	{ "route", MM_CONF_INT, offsetof(mm_mole_conf, route), 0, 2 },
	{ "dim", MM_CONF_INT, offsetof(mm_mole_conf, dim), 0, 1 << 16 },
	{ "gumbel", MM_CONF_FLOAT, offsetof(mm_mole_conf, gumbel), 0, 100 },
	{ "balance", MM_CONF_FLOAT, offsetof(mm_mole_conf, balance), 0, 1e3 },
};

/* The node's sizes and parameters, resolved once per call. */
typedef struct mole {
	int N, r, D, E, T, B;
	bool hasI, hasT, tok;
	float tau, lambda;
	const mm_param *WI, *WT, *rb, *dW, *db, *uW, *ub;
	/* scratch */
	float *K, *Z, *G, *P, *GP, *Hp, *Ha, *dH, *dHp, *O, *S, *stats;
} mole;

static int rank_of(const mm_mole_conf *c)
{
	return c->dim ? c->dim : 16;
}

/* The scratch pieces in order; the choices K first (nn/mole.h). */
static size_t layout(mole *m, float *base)
{
	size_t BT = (size_t)m->B * m->T, off = 0;
	struct { float **p; size_t n; } part[] = {
		{ &m->K, BT }, { &m->Z, BT * m->N }, { &m->G, BT * m->N }, { &m->P, BT * m->N },
		{ &m->GP, BT * m->N }, { &m->Hp, BT * m->r }, { &m->Ha, BT * m->r },
		{ &m->dH, BT * m->r }, { &m->dHp, BT * m->r }, { &m->O, BT * m->D },
		{ &m->S, BT * m->D }, { &m->stats, 2 * (size_t)m->N + 2 },
	};
	for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
		if (base)
			*part[i].p = base + off;
		off += part[i].n;
	}
	return off;
}

static mole mole_of(const mm_layer_io *io)
{
	const mm_mole_conf *c = io->conf;
	mole m = { .N = c->adapters, .r = rank_of(c), .D = io->in[0].D, .E = io->in[1].D,
		.T = io->in[0].T, .B = io->B, .hasI = c->route != MOLE_TOKEN,
		.hasT = c->route != MOLE_INSTANCE, .tok = c->route != MOLE_INSTANCE,
		.tau = c->gumbel > 0 ? c->gumbel : 1.0f, .lambda = c->balance };
	if (io->p) {
		const mm_param *p = io->p;
		m.WI = m.hasI ? p++ : NULL;
		m.WT = m.hasT ? p++ : NULL;
		m.rb = p++, m.dW = p++, m.db = p++, m.uW = p++, m.ub = p;
	}
	if (io->scratch)
		layout(&m, io->scratch);
	return m;
}

static const char *mole_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[1].T != 1)
		return "the instruction input must be one row per example";
	*out = io->in[0];
	return NULL;
}

static int mole_params(const mm_layer_io *io, mm_param_decl *d)
{
	mole m = mole_of(io);
	int n = 0;
	if (m.hasI)
		d[n++] = (mm_param_decl){ "router.WI", m.N, m.E, true };
	if (m.hasT)
		d[n++] = (mm_param_decl){ "router.WT", m.N, m.D, true };
	d[n++] = (mm_param_decl){ "router.b", m.N, 1, false };
	d[n++] = (mm_param_decl){ "down.W", (int64_t)m.N * m.r, m.D, true };
	d[n++] = (mm_param_decl){ "down.b", (int64_t)m.N * m.r, 1, false };
	d[n++] = (mm_param_decl){ "up.W", (int64_t)m.N * m.D, m.r, true };
	d[n++] = (mm_param_decl){ "up.b", (int64_t)m.N * m.D, 1, false };
	return n;
}

static size_t mole_scratch(const mm_layer_io *io)
{
	mole m = mole_of(io);
	return layout(&m, NULL);
}

/* Router and down-projection uniform in ±1/√fan_in; the up-projection zero. */
static void mole_init(const mm_layer_io *io, mm_rng *rng)
{
	mole m = mole_of(io);
	double bI = 1 / sqrt((double)m.E), bT = 1 / sqrt((double)m.D);
	if (m.WI)
		mm_layer_init_uniform((mm_param *)m.WI, bI, rng);
	if (m.WT)
		mm_layer_init_uniform((mm_param *)m.WT, bT, rng);
	mm_layer_init_uniform((mm_param *)m.rb, m.WI ? bI : bT, rng);
	mm_layer_init_uniform((mm_param *)m.dW, bT, rng);
	mm_layer_init_uniform((mm_param *)m.db, bT, rng);
	memset(m.uW->w, 0, m.uW->n * sizeof *m.uW->w);
	memset(m.ub->w, 0, m.ub->n * sizeof *m.ub->w);
}

static int valid_rows(const mm_layer_io *io, int b)
{
	return io->len[0] ? io->len[0][b] : io->in[0].T;
}

/* The routing unit of row (b, t): the example, or the token. */
static size_t unit_of(const mole *m, int b, int t)
{
	return m->tok ? (size_t)b * m->T + t : (size_t)b;
}

static void route_unit(const mm_layer_io *io, const mole *m, int b, int t, size_t u)
{
	float *z = m->Z + u * m->N, *g = m->G + u * m->N, *p = m->P + u * m->N;
	const float *e = io->x[1] + (size_t)b * m->E, *x = io->x[0] + ((size_t)b * m->T + t) * m->D;
	bool noise = io->train && io->rng && ((const mm_mole_conf *)io->conf)->gumbel > 0;
	for (int i = 0; i < m->N; i++) {
		double s = m->rb->w[i];
		if (m->hasI)
			for (int j = 0; j < m->E; j++)
				s += (double)m->WI->w[(size_t)i * m->E + j] * e[j];
		if (m->hasT)
			for (int j = 0; j < m->D; j++)
				s += (double)m->WT->w[(size_t)i * m->D + j] * x[j];
		z[i] = (float)s;
		double v = noise ? mm_rng_uniform(io->rng) : 0;
		g[i] = noise ? (float)-log(-log(v > 0 ? v : DBL_MIN)) : 0.0f;
		p[i] = (z[i] + g[i]) / m->tau;
	}
	mm_softmax(p, 1, m->N, p);
}

static int argmax(const float *p, int N)
{
	int k = 0;
	for (int i = 1; i < N; i++)
		if (p[i] > p[k])
			k = i;
	return k;
}

static void mole_fwd(const mm_layer_io *io)
{
	mole m = mole_of(io);
	int B = m.B, T = m.T, D = m.D, r = m.r, N = m.N;
	float *f = m.stats, *Pm = m.stats + N;
	memset(m.stats, 0, (2 * (size_t)N + 2) * sizeof *m.stats);
	memset(io->y, 0, (size_t)B * T * D * sizeof *io->y);
	for (int b = 0; b < B; b++) {
		int L = valid_rows(io, b);
		for (int t = 0; t < T; t++)
			m.K[(size_t)b * T + t] = -1;
		for (int t = 0; t < (m.tok ? L : 1); t++) {
			size_t u = unit_of(&m, b, t);
			route_unit(io, &m, b, t, u);
			const float *p = m.P + u * N;
			int k = argmax(p, N);
			for (int s = m.tok ? t : 0; s < (m.tok ? t + 1 : L); s++)
				m.K[(size_t)b * T + s] = (float)k;
			f[k] += 1;
			for (int i = 0; i < N; i++)
				Pm[i] += p[i];
			m.stats[2 * N + 1] += 1;
		}
		/* runs of rows with the same adapter go through it together */
		for (int t0 = 0, t1; t0 < L; t0 = t1) {
			int k = (int)m.K[(size_t)b * T + t0];
			for (t1 = t0 + 1; t1 < L && (int)m.K[(size_t)b * T + t1] == k; t1++)
				;
			size_t row = (size_t)b * T + t0;
			int n = t1 - t0;
			mm_linear_forward(io->x[0] + row * D, n, D, m.dW->w + (size_t)k * r * D,
					m.db->w + (size_t)k * r, r, m.Hp + row * r);
			mm_gelu_forward(m.Hp + row * r, m.Ha + row * r, (size_t)n * r);
			mm_linear_forward(m.Ha + row * r, n, r, m.uW->w + (size_t)k * D * r,
					m.ub->w + (size_t)k * D, D, m.O + row * D);
			for (int t = t0; t < t1; t++) {
				float pk = m.P[unit_of(&m, b, t) * N + k];
				for (int d = 0; d < D; d++)
					io->y[((size_t)b * T + t) * D + d] = pk * m.O[((size_t)b * T + t) * D + d];
			}
		}
	}
	double U = m.stats[2 * N + 1], aux = 0;
	for (int i = 0; i < N; i++) {
		f[i] /= (float)U;
		Pm[i] /= (float)U;
		aux += (double)f[i] * Pm[i];
	}
	m.stats[2 * N] = (float)(m.lambda * N * aux);
}

static double mole_aux(const mm_layer_io *io)
{
	mole m = mole_of(io);
	return m.lambda > 0 ? m.stats[2 * m.N] : 0;
}

static void mole_bwd(const mm_layer_io *io)
{
	mole m = mole_of(io);
	int B = m.B, T = m.T, D = m.D, r = m.r, N = m.N, E = m.E;
	float *dx = io->dx[0], *de = io->dx[1];
	float *gdW = mm_param_grad(m.dW), *gdb = mm_param_grad(m.db);
	float *guW = mm_param_grad(m.uW), *gub = mm_param_grad(m.ub);
	const float *f = m.stats;
	double U = m.stats[2 * N + 1];
	memset(m.GP, 0, (size_t)B * T * N * sizeof *m.GP);
	for (int b = 0; b < B; b++) {
		int L = valid_rows(io, b);
		for (int t0 = 0, t1; t0 < L; t0 = t1) {
			int k = (int)m.K[(size_t)b * T + t0];
			for (t1 = t0 + 1; t1 < L && (int)m.K[(size_t)b * T + t1] == k; t1++)
				;
			size_t row = (size_t)b * T + t0;
			int n = t1 - t0;
			for (int t = t0; t < t1; t++) {
				size_t u = unit_of(&m, b, t), o = ((size_t)b * T + t) * D;
				float pk = m.P[u * N + k];
				double s = 0;
				for (int d = 0; d < D; d++) {
					s += (double)io->dy[o + d] * m.O[o + d];
					m.S[o + d] = pk * io->dy[o + d];
				}
				m.GP[u * N + k] += (float)s;
			}
			memset(m.dH + row * r, 0, (size_t)n * r * sizeof *m.dH);
			memset(m.dHp + row * r, 0, (size_t)n * r * sizeof *m.dHp);
			mm_linear_backward(m.Ha + row * r, m.S + row * D, n, r, D,
					m.uW->w + (size_t)k * D * r, guW ? guW + (size_t)k * D * r : NULL,
					gub ? gub + (size_t)k * D : NULL, m.dH + row * r);
			mm_gelu_backward(m.Hp + row * r, m.dH + row * r, m.dHp + row * r, (size_t)n * r);
			mm_linear_backward(io->x[0] + row * D, m.dHp + row * r, n, D, r,
					m.dW->w + (size_t)k * r * D, gdW ? gdW + (size_t)k * r * D : NULL,
					gdb ? gdb + (size_t)k * r : NULL, dx ? dx + row * D : NULL);
		}
		/* the router: through p_k (and the balance term), then the softmax */
		for (int t = 0; t < (m.tok ? L : 1); t++) {
			size_t u = unit_of(&m, b, t);
			float *gp = m.GP + u * N;
			const float *p = m.P + u * N;
			double dot = 0;
			if (m.lambda > 0)
				for (int i = 0; i < N; i++)
					gp[i] += (float)(m.lambda * N * f[i] / U);
			for (int i = 0; i < N; i++)
				dot += (double)gp[i] * p[i];
			for (int i = 0; i < N; i++)
				gp[i] = (float)(p[i] * (gp[i] - dot) / m.tau); /* now dz */
			const float *e = io->x[1] + (size_t)b * E, *x = io->x[0] + ((size_t)b * T + t) * D;
			float *grb = mm_param_grad(m.rb);
			for (int i = 0; i < N; i++) {
				float dz = gp[i];
				if (grb)
					grb[i] += dz;
				if (m.hasI) {
					float *g = mm_param_grad(m.WI);
					for (int j = 0; j < E; j++) {
						if (g)
							g[(size_t)i * E + j] += dz * e[j];
						if (de)
							de[(size_t)b * E + j] += dz * m.WI->w[(size_t)i * E + j];
					}
				}
				if (m.hasT) {
					float *g = mm_param_grad(m.WT);
					for (int j = 0; j < D; j++) {
						if (g)
							g[(size_t)i * D + j] += dz * x[j];
						if (dx)
							dx[((size_t)b * T + t) * D + j] += dz * m.WT->w[(size_t)i * D + j];
					}
				}
			}
		}
	}
}

static double mole_flops(const mm_layer_io *io)
{
	mole m = mole_of(io);
	double T = m.T, units = m.tok ? T : 1;
	return 2 * T * 2 * m.D * m.r + 2 * units * m.N * ((m.hasI ? m.E : 0) + (m.hasT ? m.D : 0));
}

const mm_layer mm_layer_mole = {
	.kind = MM_NODE_MOLE, .name = "mole", .min_in = 2, .max_in = 2,
	.conf_size = sizeof(mm_mole_conf), .conf_fields = mole_fields, .conf_nfields = 5,
	.shape = mole_shape, .params = mole_params, .scratch = mole_scratch, .init = mole_init,
	.forward = mole_fwd, .backward = mole_bwd, .aux_loss = mole_aux, .flops = mole_flops,
};
