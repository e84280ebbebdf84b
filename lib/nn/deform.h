/* deform.h — the sampling kernels of deformable attention (MoME's ADT).
 *
 * Bilinear sampling of a 2-D feature grid at continuous positions, with the
 * convention of PyTorch's
 *     torch.nn.functional.grid_sample(V, grid, mode='bilinear',
 *                                      padding_mode='zeros', align_corners=False)
 * so that offsets learnt here mean the same thing as in the reference
 * implementations (Deformable DETR, MoME).  Checked against finite
 * differences and against PyTorch itself in tests/unit/deform.c.
 *
 * Layout.  A grid is [H, W, D] per example, row-major (cell (i, j) of example
 * b starts at V + ((b*H + i)*W + j)*ldv; D ≤ ldv channels are read from it,
 * so one head's slice of a wider grid is sampled by offsetting V).  A
 * position is a pair (x, y) in normalised coordinates, x along W and y along
 * H (grid_sample's grid[..., 0] and grid[..., 1]): -1 and +1 are the outer
 * edges of the first and last cells, so cell centre j sits at
 * x = (2j + 1)/W - 1.  In pixel units, px = ((x + 1) W - 1) / 2.
 *
 * Value.  out = Σ over the four cells around (px, py) of the bilinear weight
 * times the cell's D channels; a cell outside the grid counts as zeros
 * (padding_mode='zeros'), so a position more than one cell outside gives 0.
 * A non-finite position gives 0 and no gradient (PyTorch would propagate
 * NaN; the caller's loss check sees that sooner than we could).
 *
 * Gradient.  The function is piecewise bilinear in (px, py): smooth between
 * the centres of neighbouring cells, only continuous across them.  Where px
 * or py is an integer (on a cell centre's row or column) the position
 * gradient is the one-sided derivative towards +x / +y, as PyTorch computes
 * it (its floor() picks the pair of cells to the right).
 *
 * Nothing here allocates, prints or keeps a pointer past the call; as in
 * kernels.h, a backward accumulates (+=) into the gradients it writes.
 */
#ifndef MM_NN_DEFORM_H
#define MM_NN_DEFORM_H

/* out[b, p, 0..D) (row stride ldo) = the bilinear sample of the grid of
 * example b at pos[b, p] (pos: B*P pairs (x, y), contiguous).
 * V: B grids of H×W cells, cell stride ldv ≥ D.  H, W, D, P ≥ 1. */
void mm_grid_sample_forward(const float *V, int B, int H, int W, int D, int ldv,
		const float *pos, int P, float *out, int ldo);

/* From dout (same layout as out): dV += ∂L/∂V (layout of V, may be NULL) and
 * dpos += ∂L/∂pos (B*P pairs, may be NULL), the latter in normalised units
 * (∂px/∂x = W/2, ∂py/∂y = H/2). */
void mm_grid_sample_backward(const float *V, int B, int H, int W, int D, int ldv,
		const float *pos, int P, const float *dout, int ldo,
		float *dV, float *dpos);

/* Deformable cross-attention, one level (Deformable DETR, Zhu et al. 2021;
 * MoME's ADT), the core after the linear maps.  Per example b, query q,
 * head h (of `heads`, each dh channels of the value grid, D = heads*dh) and
 * point p (of P):
 *     pos[q,h,p] = ref[q] + (2 off[q,h,p].x / W, 2 off[q,h,p].y / H)
 *     A[q,h,·]   = softmax over P of logit[q,h,·]
 *     out[q, h*dh + c] = Σ_p A[q,h,p] · sample(Val[·,·, h*dh + c], pos[q,h,p])
 * so an offset is counted in cells of the grid (offset 1 moves one cell),
 * and sample() is mm_grid_sample_forward above (zeros outside).  The offsets
 * and logits come from linear maps of the query, Val from a linear map of
 * the encoder's grid (mm_linear_forward); they are the caller's.
 *
 * Shapes: Val [B, H, W, D]; ref [B, Nq, 2] normalised (x, y); off
 * [B, Nq, heads, P, 2]; logit [B, Nq, heads, P]; out [B, Nq, D].  Scratch
 * kept for the backward: A [B, Nq, heads, P] (the softmax) and pos
 * [B, Nq, heads, P, 2] (the sampling positions). */
void mm_deform_attn_forward(const float *Val, int B, int H, int W, int heads, int dh,
		const float *ref, const float *off, const float *logit, int Nq, int P,
		float *A, float *pos, float *out);

/* From dout [B, Nq, D]: dVal, dref, doff, dlogit accumulate (each may be
 * NULL).  The gradient of a position reaches both its offset and the
 * reference point; the one-sided convention of mm_grid_sample_backward
 * applies at cell centres. */
void mm_deform_attn_backward(const float *Val, int B, int H, int W, int heads, int dh,
		const float *A, const float *pos, int Nq, int P, const float *dout,
		float *dVal, float *dref, float *doff, float *dlogit);

#endif
