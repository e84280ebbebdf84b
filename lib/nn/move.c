/* nn/move.c — the MoVE layer kinds: avgpool2d, deform, route.  See
 * nn/move.h. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "layer.h"
#include "nn/deform.h"
#include "nn/kernels.h"
#include "nn/move.h"
#include "nn/seq.h"

/* ---- avgpool2d -------------------------------------------------------------- */

static const mm_conf_field avgpool_fields[] = {
	{ "gh", MM_CONF_INT, offsetof(mm_avgpool2d_conf, gh), 1, 1 << 14 },
	{ "gw", MM_CONF_INT, offsetof(mm_avgpool2d_conf, gw), 1, 1 << 14 },
	{ "k", MM_CONF_INT, offsetof(mm_avgpool2d_conf, k), 1, 256 },
};

static const char *avgpool_shape(const mm_layer_io *io, mm_shape *out)
{
	const mm_avgpool2d_conf *c = io->conf;
	if (io->in[0].T != c->gh * c->gw)
		return "the input's rows are not the grid's gh × gw cells";
	*out = (mm_shape){ c->k * c->k, io->in[0].D };
	return NULL;
}

static void full_lengths(const mm_layer_io *io, int *len)
{
	for (int b = 0; b < io->B; b++)
		len[b] = io->out.T;
}

/* The cells [lo, hi) of output index i of k over a side of n. */
static void region(int i, int k, int n, int *lo, int *hi)
{
	*lo = (int)((long)i * n / k);
	*hi = (int)(((long)(i + 1) * n + k - 1) / k);
}

/* dir 0: forward (y from x), 1: backward (dx += from dy). */
static void avgpool_walk(const mm_layer_io *io, int dir)
{
	const mm_avgpool2d_conf *c = io->conf;
	int D = io->in[0].D, G = c->gh * c->gw, K = c->k;
	for (int b = 0; b < io->B; b++) {
		const float *xb = io->x[0] + (size_t)b * G * D;
		float *dxb = dir ? io->dx[0] + (size_t)b * G * D : NULL;
		for (int i = 0; i < K; i++) {
			int r0, r1, c0, c1;
			region(i, K, c->gh, &r0, &r1);
			for (int j = 0; j < K; j++) {
				region(j, K, c->gw, &c0, &c1);
				float inv = 1.0f / (float)((r1 - r0) * (c1 - c0));
				size_t o = ((size_t)b * K * K + (size_t)i * K + j) * D;
				if (!dir) {
					float *y = io->y + o;
					memset(y, 0, (size_t)D * sizeof *y);
					for (int r = r0; r < r1; r++)
						for (int s = c0; s < c1; s++) {
							const float *x = xb + ((size_t)r * c->gw + s) * D;
							for (int d = 0; d < D; d++)
								y[d] += x[d];
						}
					for (int d = 0; d < D; d++)
						y[d] *= inv;
				} else {
					const float *dy = io->dy + o;
					for (int r = r0; r < r1; r++)
						for (int s = c0; s < c1; s++) {
							float *dx = dxb + ((size_t)r * c->gw + s) * D;
							for (int d = 0; d < D; d++)
								dx[d] += dy[d] * inv;
						}
				}
			}
		}
	}
}

static void avgpool_fwd(const mm_layer_io *io) { avgpool_walk(io, 0); }

static void avgpool_bwd(const mm_layer_io *io)
{
	if (io->dx[0])
		avgpool_walk(io, 1);
}

static double avgpool_flops(const mm_layer_io *io)
{
	return (double)io->in[0].T * io->in[0].D;
}

const mm_layer mm_layer_avgpool2d = {
	.kind = MM_NODE_AVGPOOL2D, .name = "avgpool2d", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_avgpool2d_conf), .conf_fields = avgpool_fields, .conf_nfields = 3,
	.shape = avgpool_shape, .lengths = full_lengths, .forward = avgpool_fwd,
	.backward = avgpool_bwd, .flops = avgpool_flops,
};

/* ---- deform ----------------------------------------------------------------- */

static const mm_conf_field deform_fields[] = {
	{ "heads", MM_CONF_INT, offsetof(mm_deform_conf, heads), 1, 1024 },
	{ "points", MM_CONF_INT, offsetof(mm_deform_conf, points), 0, 64 },
	{ "gh", MM_CONF_INT, offsetof(mm_deform_conf, gh), 1, 1 << 14 },
	{ "gw", MM_CONF_INT, offsetof(mm_deform_conf, gw), 1, 1 << 14 },
	{ "qh", MM_CONF_INT, offsetof(mm_deform_conf, qh), 1, 1 << 14 },
	{ "qw", MM_CONF_INT, offsetof(mm_deform_conf, qw), 1, 1 << 14 },
};

/* The node's sizes and scratch, resolved once per call. */
typedef struct deform {
	int B, D, Dv, H, P, HP, G, Nq, gh, gw;
	float *V, *off, *logit, *A, *pos, *ctx, *ref;   /* forward, kept */
	float *dV, *doff, *dlogit, *dctx;               /* backward */
} deform;

static deform deform_of(const mm_layer_io *io)
{
	const mm_deform_conf *c = io->conf;
	deform d = { .B = io->B, .D = io->in[0].D, .Dv = io->in[1].D, .H = c->heads,
		.P = c->points ? c->points : 4, .G = c->gh * c->gw, .Nq = c->qh * c->qw,
		.gh = c->gh, .gw = c->gw };
	d.HP = d.H * d.P;
	size_t B = d.B, BQ = B * d.Nq, BG = B * d.G;
	float *s = io->scratch;
	if (!s)
		return d;
	d.V = s, s += BG * d.D;
	d.off = s, s += BQ * d.HP * 2;
	d.logit = s, s += BQ * d.HP;
	d.A = s, s += BQ * d.HP;
	d.pos = s, s += BQ * d.HP * 2;
	d.ctx = s, s += BQ * d.D;
	d.ref = s, s += BQ * 2;
	d.dV = s, s += BG * d.D;
	d.doff = s, s += BQ * d.HP * 2;
	d.dlogit = s, s += BQ * d.HP;
	d.dctx = s;
	return d;
}

static size_t deform_scratch(const mm_layer_io *io)
{
	deform d = deform_of(&(mm_layer_io){ .conf = io->conf, .B = io->B,
			.in = { io->in[0], io->in[1] } });
	size_t B = d.B, BQ = B * d.Nq, BG = B * d.G;
	return 2 * (BG * d.D + BQ * d.HP * 3 + BQ * d.D) + BQ * d.HP * 3 + BQ * 2;
}

static const char *deform_shape(const mm_layer_io *io, mm_shape *out)
{
	const mm_deform_conf *c = io->conf;
	if (io->in[0].T != c->qh * c->qw)
		return "the queries are not the qh × qw cells of the query grid";
	if (io->in[1].T != c->gh * c->gw)
		return "the grid's rows are not its gh × gw cells";
	if (io->in[0].D % c->heads)
		return "the width is not a multiple of the number of heads";
	*out = io->in[0];
	return NULL;
}

static int deform_params(const mm_layer_io *io, mm_param_decl *p)
{
	const mm_deform_conf *c = io->conf;
	int D = io->in[0].D, Dv = io->in[1].D, HP = c->heads * (c->points ? c->points : 4);
	p[0] = (mm_param_decl){ "value.W", D, Dv, true };
	p[1] = (mm_param_decl){ "value.b", D, 1, false };
	p[2] = (mm_param_decl){ "off.W", 2 * HP, D, true };
	p[3] = (mm_param_decl){ "off.b", 2 * HP, 1, false };
	p[4] = (mm_param_decl){ "attn.W", HP, D, true };
	p[5] = (mm_param_decl){ "attn.b", HP, 1, false };
	p[6] = (mm_param_decl){ "out.W", D, D, true };
	p[7] = (mm_param_decl){ "out.b", D, 1, false };
	return 8;
}

static void deform_init(const mm_layer_io *io, mm_rng *rng)
{
	const mm_deform_conf *c = io->conf;
	int P = c->points ? c->points : 4;
	for (int k = 0; k < 8; k += 2) {
		if (k == 2 || k == 4) /* offsets and attention logits: the fixed start */
			continue;
		double bound = 1.0 / sqrt((double)io->p[k].shape[1]);
		mm_layer_init_uniform(&io->p[k], bound, rng);
		mm_layer_init_uniform(&io->p[k + 1], bound, rng);
	}
	for (int k = 2; k < 6; k++)
		memset(io->p[k].w, 0, io->p[k].n * sizeof(float));
	float *ob = io->p[3].w;
	for (int h = 0; h < c->heads; h++) {
		double th = 2 * M_PI * h / c->heads, cx = cos(th), cy = sin(th);
		double m = fmax(fabs(cx), fabs(cy));
		for (int p = 0; p < P; p++) {
			ob[2 * (h * P + p)] = (float)(cx / m * (p + 1));
			ob[2 * (h * P + p) + 1] = (float)(cy / m * (p + 1));
		}
	}
}

static void deform_fwd(const mm_layer_io *io)
{
	const mm_deform_conf *c = io->conf;
	deform d = deform_of(io);
	size_t BQ = (size_t)d.B * d.Nq;
	mm_linear_forward(io->x[1], d.B * d.G, d.Dv, io->p[0].w, io->p[1].w, d.D, d.V);
	mm_linear_forward(io->x[0], (int)BQ, d.D, io->p[2].w, io->p[3].w, 2 * d.HP, d.off);
	mm_linear_forward(io->x[0], (int)BQ, d.D, io->p[4].w, io->p[5].w, d.HP, d.logit);
	for (int b = 0; b < d.B; b++)
		for (int i = 0; i < c->qh; i++)
			for (int j = 0; j < c->qw; j++) {
				float *r = d.ref + 2 * ((size_t)b * d.Nq + (size_t)i * c->qw + j);
				r[0] = (float)(2 * j + 1) / (float)c->qw - 1.0f;
				r[1] = (float)(2 * i + 1) / (float)c->qh - 1.0f;
			}
	mm_deform_attn_forward(d.V, d.B, d.gh, d.gw, d.H, d.D / d.H, d.ref, d.off, d.logit, d.Nq,
			d.P, d.A, d.pos, d.ctx);
	mm_linear_forward(d.ctx, (int)BQ, d.D, io->p[6].w, io->p[7].w, d.D, io->y);
}

static void deform_bwd(const mm_layer_io *io)
{
	deform d = deform_of(io);
	size_t BQ = (size_t)d.B * d.Nq, BG = (size_t)d.B * d.G;
	const mm_param *p = io->p;
	memset(d.dctx, 0, BQ * d.D * sizeof(float));
	mm_linear_backward(d.ctx, io->dy, (int)BQ, d.D, d.D, p[6].w, mm_param_grad(&p[6]),
			mm_param_grad(&p[7]), d.dctx);
	memset(d.dV, 0, BG * d.D * sizeof(float));
	memset(d.doff, 0, BQ * d.HP * 2 * sizeof(float));
	memset(d.dlogit, 0, BQ * d.HP * sizeof(float));
	mm_deform_attn_backward(d.V, d.B, d.gh, d.gw, d.H, d.D / d.H, d.A, d.pos, d.Nq, d.P,
			d.dctx, d.dV, NULL, d.doff, d.dlogit);
	mm_linear_backward(io->x[0], d.doff, (int)BQ, d.D, 2 * d.HP, p[2].w, mm_param_grad(&p[2]),
			mm_param_grad(&p[3]), io->dx[0]);
	mm_linear_backward(io->x[0], d.dlogit, (int)BQ, d.D, d.HP, p[4].w, mm_param_grad(&p[4]),
			mm_param_grad(&p[5]), io->dx[0]);
	mm_linear_backward(io->x[1], d.dV, (int)BG, d.Dv, d.D, p[0].w, mm_param_grad(&p[0]),
			mm_param_grad(&p[1]), io->dx[1]);
}

static double deform_flops(const mm_layer_io *io)
{
	deform d = deform_of(&(mm_layer_io){ .conf = io->conf, .B = 1,
			.in = { io->in[0], io->in[1] } });
	return 2.0 * d.G * d.Dv * d.D + 2.0 * d.Nq * d.D * (3 * d.HP + d.D) +
		8.0 * d.Nq * d.HP * (d.D / d.H);
}

const mm_layer mm_layer_deform = {
	.kind = MM_NODE_DEFORM, .name = "deform", .min_in = 2, .max_in = 2,
	.conf_size = sizeof(mm_deform_conf), .conf_fields = deform_fields, .conf_nfields = 6,
	.shape = deform_shape, .params = deform_params, .scratch = deform_scratch,
	.init = deform_init, .forward = deform_fwd, .backward = deform_bwd,
	.flops = deform_flops,
};

/* ---- route ------------------------------------------------------------------ */

static const char *route_shape(const mm_layer_io *io, mm_shape *out)
{
	int K = io->nin - 1;
	for (int k = 1; k < K; k++)
		if (io->in[k].T != io->in[0].T || io->in[k].D != io->in[0].D)
			return "the mixed inputs differ in shape";
	if (io->in[K].T != 1 || io->in[K].D != K)
		return "the last input must be [1, K] router logits, K the number of mixed inputs";
	*out = io->in[0];
	return NULL;
}

static size_t route_scratch(const mm_layer_io *io)
{
	return (size_t)io->B * (io->nin - 1);
}

static void route_fwd(const mm_layer_io *io)
{
	int K = io->nin - 1;
	mm_mix_forward(io->x, K, io->B, (size_t)io->in[0].T * io->in[0].D, io->x[K], K,
			io->scratch, io->y);
}

static void route_bwd(const mm_layer_io *io)
{
	int K = io->nin - 1;
	mm_mix_backward(io->x, K, io->B, (size_t)io->in[0].T * io->in[0].D, io->scratch, io->dy,
			K, io->dx, io->dx[K]);
}

static double route_flops(const mm_layer_io *io)
{
	return 2.0 * (io->nin - 1) * io->in[0].T * io->in[0].D;
}

const mm_layer mm_layer_route = {
	.kind = MM_NODE_ROUTE, .name = "route", .min_in = 3, .max_in = MM_LAYER_MAXIN,
	.shape = route_shape, .scratch = route_scratch, .forward = route_fwd,
	.backward = route_bwd, .flops = route_flops,
};
