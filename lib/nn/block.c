/* nn/block.c — the pre-norm transformer block from the kernels of
 * nn/kernels.h and nn/seq.h, and its layer.  See nn/seq.h and layer.h. */
#include "nn/seq.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"
#include "layer.h"

/* Every piece starts on a 64-byte boundary of the caller's array (when the
 * array itself is so aligned): 16 floats. */
static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* The one list of the pieces, used both to size and to carve: the saved
 * activations (group 0) in mem, the backward's scratch (group 1) in scratch. */
static size_t ws_layout(mm_block_ws *ws, int group, float *mem, int B, int T, int D,
		int H, int F)
{
	size_t BT = (size_t)B * T, off = 0;
	struct { int group; float **p; size_t n; } part[] = {
		{ 0, &ws->ln1, BT * D }, { 0, &ws->mu1, BT }, { 0, &ws->rs1, BT },
		{ 0, &ws->QKV, BT * 3 * D }, { 0, &ws->P, BT * H * T }, { 0, &ws->Ctx, BT * D },
		{ 0, &ws->X1, BT * D }, { 0, &ws->ln2, BT * D }, { 0, &ws->mu2, BT },
		{ 0, &ws->rs2, BT }, { 0, &ws->Hp, BT * F }, { 0, &ws->Ha, BT * F },
		{ 1, &ws->dX1, BT * D }, { 1, &ws->dln, BT * D }, { 1, &ws->dH, BT * F },
		{ 1, &ws->dQKV, BT * 3 * D }, { 1, &ws->dCtx, BT * D }, { 1, &ws->dP, (size_t)mm_attn_slots(B, H) * T * T },
	};
	for (size_t i = 0; i < sizeof part / sizeof part[0]; i++) {
		if (part[i].group != group)
			continue;
		if (mem)
			*part[i].p = mem + off;
		off += round16(part[i].n);
	}
	return off;
}

size_t mm_block_ws_size(int B, int T, int D, int H, int F)
{
	mm_block_ws ws;
	return ws_layout(&ws, 0, NULL, B, T, D, H, F);
}

size_t mm_block_scratch_size(int B, int T, int D, int H, int F)
{
	mm_block_ws ws;
	return ws_layout(&ws, 1, NULL, B, T, D, H, F);
}

void mm_block_ws_init(mm_block_ws *ws, float *mem, float *scratch, int B, int T, int D,
		int H, int F)
{
	assert(B > 0 && T > 0 && H > 0 && D % H == 0 && F > 0);
	memset(ws, 0, sizeof *ws);
	ws->B = B, ws->T = T, ws->D = D, ws->H = H, ws->F = F;
	ws_layout(ws, 0, mem, B, T, D, H, F);
	ws_layout(ws, 1, scratch, B, T, D, H, F);
}

void mm_block_forward(const float *X, const int *len, const mm_block_w *w,
		mm_block_ws *ws, float *Y)
{
	int B = ws->B, T = ws->T, D = ws->D, F = ws->F, BT = B * T;
	size_t n = (size_t)BT * D;
	mm_layernorm_forward(X, BT, D, w->ln1_g, w->ln1_b, ws->ln1, ws->mu1, ws->rs1);
	mm_mha_forward(ws->ln1, B, T, D, len, ws->H, &w->attn, ws->QKV, ws->P, ws->Ctx, ws->X1);
	mm_add_forward(X, ws->X1, ws->X1, n);
	mm_layernorm_forward(ws->X1, BT, D, w->ln2_g, w->ln2_b, ws->ln2, ws->mu2, ws->rs2);
	mm_linear_forward(ws->ln2, BT, D, w->W1, w->b1, F, ws->Hp);
	mm_gelu_forward(ws->Hp, ws->Ha, (size_t)BT * F);
	mm_linear_forward(ws->Ha, BT, F, w->W2, w->b2, D, Y);
	mm_add_forward(ws->X1, Y, Y, n);
}

/* The FFN's hidden gradient goes through dH (= dHa), then into Ha, whose
 * saved GELU output is no longer needed once W2's gradient is taken: the
 * backward consumes the forward's activations, so each backward needs its
 * own forward first. */
void mm_block_backward(const float *X, const int *len, const mm_block_w *w,
		mm_block_ws *ws, const float *dY, const mm_block_w *g, float *dX)
{
	int B = ws->B, T = ws->T, D = ws->D, F = ws->F, BT = B * T;
	size_t n = (size_t)BT * D, nf = (size_t)BT * F;
	memcpy(ws->dX1, dY, n * sizeof *dY);
	memset(ws->dH, 0, nf * sizeof *ws->dH);
	mm_linear_backward(ws->Ha, dY, BT, F, D, w->W2, g->W2, g->b2, ws->dH);
	memset(ws->Ha, 0, nf * sizeof *ws->Ha);
	mm_gelu_backward(ws->Hp, ws->dH, ws->Ha, nf);
	memset(ws->dln, 0, n * sizeof *ws->dln);
	mm_linear_backward(ws->ln2, ws->Ha, BT, D, F, w->W1, g->W1, g->b1, ws->dln);
	mm_layernorm_backward(ws->X1, ws->dln, BT, D, w->ln2_g, ws->mu2, ws->rs2,
			g->ln2_g, g->ln2_b, ws->dX1);
	memset(ws->dln, 0, n * sizeof *ws->dln);
	mm_mha_backward(ws->ln1, B, T, D, len, ws->H, &w->attn, ws->QKV, ws->P, ws->Ctx,
			ws->dX1, ws->dQKV, ws->dCtx, ws->dP, &g->attn, ws->dln);
	/* without dX, LN1's input gradient lands in dCtx, free by now */
	if (!dX)
		memset(ws->dCtx, 0, n * sizeof *ws->dCtx);
	mm_layernorm_backward(X, ws->dln, BT, D, w->ln1_g, ws->mu1, ws->rs1,
			g->ln1_g, g->ln1_b, dX ? dX : ws->dCtx);
	if (dX)
		mm_add_backward(ws->dX1, dX, NULL, n);
}

/* ---- the layer ------------------------------------------------------------- */

static const mm_conf_field block_fields[] = {
	{ "heads", MM_CONF_INT, offsetof(mm_attn_conf, heads), 1, 4096 },
	{ "ffn", MM_CONF_INT, offsetof(mm_attn_conf, ffn), 1, 1 << 20 },
};

static const mm_attn_conf *conf_of(const mm_layer_io *io)
{
	return io->conf;
}

static const char *block_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[0].D % conf_of(io)->heads)
		return "the width is not a multiple of the number of heads";
	*out = io->in[0];
	return NULL;
}

/* The order of mm_block_w's members. */
static int block_params(const mm_layer_io *io, mm_param_decl *d)
{
	int D = io->in[0].D, F = conf_of(io)->ffn;
	d[0] = (mm_param_decl){ "ln1.gamma", D, 1, false };
	d[1] = (mm_param_decl){ "ln1.beta", D, 1, false };
	d[2] = (mm_param_decl){ "attn.Wqkv", 3 * D, D, true };
	d[3] = (mm_param_decl){ "attn.bqkv", 3 * D, 1, false };
	d[4] = (mm_param_decl){ "attn.Wo", D, D, true };
	d[5] = (mm_param_decl){ "attn.bo", D, 1, false };
	d[6] = (mm_param_decl){ "ln2.gamma", D, 1, false };
	d[7] = (mm_param_decl){ "ln2.beta", D, 1, false };
	d[8] = (mm_param_decl){ "ffn.W1", F, D, true };
	d[9] = (mm_param_decl){ "ffn.b1", F, 1, false };
	d[10] = (mm_param_decl){ "ffn.W2", D, F, true };
	d[11] = (mm_param_decl){ "ffn.b2", D, 1, false };
	return 12;
}

static mm_block_w block_of(const mm_param *p, bool grad)
{
	float *v[12];
	for (int k = 0; k < 12; k++)
		v[k] = grad ? mm_param_grad(&p[k]) : p[k].w;
	return (mm_block_w){ v[0], v[1], { v[2], v[3], v[4], v[5] }, v[6], v[7],
		v[8], v[9], v[10], v[11] };
}

static size_t block_scratch(const mm_layer_io *io)
{
	const mm_attn_conf *c = conf_of(io);
	mm_shape s = io->in[0];
	return mm_block_ws_size(io->B, s.T, s.D, c->heads, c->ffn) +
		mm_block_scratch_size(io->B, s.T, s.D, c->heads, c->ffn);
}

static void block_ws(const mm_layer_io *io, mm_block_ws *ws)
{
	const mm_attn_conf *c = conf_of(io);
	mm_shape s = io->in[0];
	size_t saved = mm_block_ws_size(io->B, s.T, s.D, c->heads, c->ffn);
	mm_block_ws_init(ws, io->scratch, io->scratch + saved, io->B, s.T, s.D, c->heads, c->ffn);
}

/* Layer norms γ = 1, β = 0; the four linear maps uniform in ±1/√fan_in. */
static void block_init(const mm_layer_io *io, mm_rng *rng)
{
	for (int k = 0; k < 12; k++) {
		const mm_param *p = &io->p[k];
		if (k == 0 || k == 1 || k == 6 || k == 7) {
			for (size_t i = 0; i < p->n; i++)
				p->w[i] = k == 0 || k == 6 ? 1.0f : 0.0f;
		} else {
			const mm_param *w = k % 2 ? p - 1 : p;
			mm_layer_init_uniform((mm_param *)p, 1.0 / sqrt((double)w->shape[1]), rng);
		}
	}
}

static void block_fwd(const mm_layer_io *io)
{
	mm_block_ws ws;
	block_ws(io, &ws);
	mm_block_w w = block_of(io->p, false);
	mm_block_forward(io->x[0], io->len[0], &w, &ws, io->y);
}

static void block_bwd(const mm_layer_io *io)
{
	mm_block_ws ws;
	block_ws(io, &ws);
	mm_block_w w = block_of(io->p, false), g = block_of(io->p, true);
	mm_block_backward(io->x[0], io->len[0], &w, &ws, io->dy, &g, io->dx[0]);
}

static double block_flops(const mm_layer_io *io)
{
	double T = io->in[0].T, D = io->in[0].D, F = conf_of(io)->ffn;
	return 2 * T * D * (4 * D + 2 * F) + 4 * T * T * D;
}

const mm_layer mm_layer_block = {
	.kind = MM_NODE_BLOCK, .name = "block", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_attn_conf), .conf_fields = block_fields, .conf_nfields = 2,
	.shape = block_shape, .params = block_params, .scratch = block_scratch,
	.init = block_init, .forward = block_fwd, .backward = block_bwd, .flops = block_flops,
};
