/* nn/block.c — the pre-norm transformer block from the kernels of nn.h and
 * nn/seq.h.  See nn/seq.h. */
#include "nn/seq.h"

#include <assert.h>
#include <string.h>

#include "nn.h"

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
		{ 1, &ws->dQKV, BT * 3 * D }, { 1, &ws->dCtx, BT * D }, { 1, &ws->dP, (size_t)T * T },
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
