/* nn/move.h — MoVE, the vision side of MoME (Shen et al., NeurIPS 2024;
 * ../PAPERS §2): three layer kinds that turn the token grids of several
 * vision encoders into a fixed number of tokens each and mix them, and the
 * builder of the whole MoME classifier (MoVE + a transformer with MoLE
 * adapters, nn/mole.h).
 *
 * Grids.  A grid input is [gh·gw, D]: the gh × gw cells of one encoder, row
 * major (cell (i, j) is row i·gw + j), as mmoe-encode-vision writes its
 * [H, W, D] token fields.  Every example has the full grid (no padding);
 * the caller (the loader's user) refuses records whose grid differs.
 *
 * avgpool2d (conf mm_avgpool2d_conf {gh, gw, k}): [gh·gw, D] → [k·k, D],
 *   PyTorch's adaptive_avg_pool2d(output_size=k): output cell (i, j) is the
 *   mean of rows floor(i·gh/k) .. ceil((i+1)·gh/k) − 1 and columns
 *   floor(j·gw/k) .. ceil((j+1)·gw/k) − 1 (regions overlap when k does not
 *   divide the side, and repeat cells when k > side).
 *
 * deform (conf mm_deform_conf {heads, points, gh, gw, qh, qw}): deformable
 *   cross-attention (Deformable DETR, one level; MoME's ADT).  in0: the
 *   queries [qh·qw, D] (D the model width, D % heads == 0), query (i, j)
 *   having the reference point at the centre of cell (i, j) of a qh × qw
 *   grid laid over the image, x = (2j+1)/qw − 1, y = (2i+1)/qh − 1 in
 *   grid_sample's normalised coordinates; in1: the encoder's grid [gh·gw, Dv].
 *     V     = grid Wv^T + bv                    [gh, gw, D]  (value.W [D, Dv])
 *     off   = q Woff^T + boff                   [heads, points, 2]  in grid cells
 *     logit = q Wa^T + ba                       [heads, points]
 *     ctx   = mm_deform_attn_forward(V, ref, off, logit)   (nn/deform.h)
 *     y     = ctx Wo^T + bo                     [qh·qw, D]
 *   Parameters: value.W value.b off.W off.b attn.W attn.b out.W out.b.
 *   Init as Deformable DETR: off.W = 0 and off.b the fixed pattern "point p
 *   of head h at (p+1) cells in direction 2πh/heads" (the direction scaled
 *   so its larger coordinate is 1), attn.W = attn.b = 0 (uniform weights
 *   over the points); value and out uniform ±1/√fan_in.  Gradients reach
 *   the offsets through the bilinear sampling (nn/deform.h's convention).
 *
 * route (no settings): the instruction router's mixture.  in0 .. in(K−1):
 *   K equal-shaped inputs (the encoders' tokens), in K: router logits
 *   [1, K] per example; y = Σ_k softmax(logits)_k · in_k (nn/seq.h's
 *   mm_mix with per-example logits).  The weights of the last forward stay
 *   in the node's scratch, B × K floats (mm_net_move_weights).
 *
 * Nothing here prints or exits.
 */
#ifndef MM_NN_MOVE_H
#define MM_NN_MOVE_H

#include "err.h"
#include "nn.h"
#include "nn/encoder.h"
#include "nn/mole.h"

typedef struct mm_avgpool2d_conf {
	int gh, gw;  /* the input grid */
	int k;       /* output k × k */
} mm_avgpool2d_conf;

typedef struct mm_deform_conf {
	int heads;   /* D % heads == 0 */
	int points;  /* sampling points per head; 0 means 4 */
	int gh, gw;  /* the value grid (in1) */
	int qh, qw;  /* the query grid (in0) */
} mm_deform_conf;

/* Per-example weights of the route node `id` after a forward of B
 * examples: w[b*K + k].  MM_EVALUE when id is not a route node. */
mm_status mm_net_move_weights(const mm_net *net, int id, int B, float *w, mm_err *e);

/* ---- the MoME classifier ------------------------------------------------
 * Inputs 0 .. nenc−1: the encoders' grids [gh_m·gw_m, D_m]; input nenc: the
 * instruction embedding [1, E].  Nodes, named (parameters "<node>.<name>"):
 *   pool<m>        avgpool2d to tokens × tokens
 *   enc<m>.proj    linear to the width
 *   with transform adt, per encoder (the ADT block, pre-norm):
 *     enc<m>.pos   learned positions of the k·k queries
 *     enc<m>.ln1 → enc<m>.attn (selfattn) → enc<m>.res1 (add)
 *     enc<m>.ln2 → enc<m>.deform (over grid m) → enc<m>.res2
 *     enc<m>.ln3 → enc<m>.ffn1 → enc<m>.gelu → enc<m>.ffn2 → enc<m>.res3
 *   aggregate add: agg<m> the running sum; router: router.fc1 (linear on the
 *     instruction, width) → router.gelu → router.fc2 (linear, nenc) → agg
 *     (route).  MM_MOME_ROUTER names that route node.
 *   vis.mod, vis.pos       modality embedding and positions of the visual tokens
 *   instr.proj, instr.mod  the instruction as one token
 *   seq (seqcat: visual tokens, then the instruction), cls, then
 *   blk0 .. blk<depth−1>: pre-norm blocks, each with MoLE adapters routed on
 *     the instruction embedding when mole.adapters > 0 (nn/mole.h's
 *     mm_net_add_mole_block: blk<l>.mole), else the plain block;
 *   lnf, poolc + poolm → pool, head (linear to nclass). */
enum { MM_MOVE_AVGPOOL = 0, MM_MOVE_ADT = 1 };
enum { MM_MOVE_ADD = 0, MM_MOVE_ROUTER = 1 };
#define MM_MOME_MAXENC 6
#define MM_MOME_OUTPUT MM_TRANSFORMER_OUTPUT /* the readout is the transformer's */
#define MM_MOME_ROUTER "agg"

typedef struct mm_mome_spec {
	int nenc;                      /* 1..MM_MOME_MAXENC */
	int gh[MM_MOME_MAXENC], gw[MM_MOME_MAXENC], gd[MM_MOME_MAXENC]; /* the grids */
	int edim;                      /* E, the instruction embedding's width */
	int tokens;                    /* k: k × k visual tokens per encoder */
	int transform, aggregate;      /* MM_MOVE_* */
	int points;                    /* deformable sampling points per head (4) */
	int width, depth, heads, ffn, nclass;
	mm_mole_conf mole;             /* adapters 0: none */
} mm_mome_spec;

const char *mm_move_transform_name(int t);   /* "avgpool", "adt" */
int mm_move_transform_parse(const char *s);  /* -1 when unknown */
const char *mm_move_aggregate_name(int a);   /* "add", "router" */
int mm_move_aggregate_parse(const char *s);

/* NULL when valid, else a message naming the bad setting. */
const char *mm_mome_spec_check(const mm_mome_spec *s);

/* Class probabilities P [n, nclass] of d under a net built from s (as
 * mm_net_predict), and the routing of each example: enc [n, nenc] the
 * encoder router's weights (aggregate router; else left alone; may be
 * NULL), adapter [n, depth] the adapter each block chose (with adapters;
 * for token routes the one most of its tokens chose, ties to the lowest;
 * else left alone; may be NULL).  MM_ENOMEM when a batch's activations
 * cannot be allocated. */
mm_status mm_mome_predict(mm_net *net, const mm_mome_spec *s, const mm_dataset *d, float *P,
		float *enc, int *adapter, mm_err *e);
/* Build (not initialise) the net: MM_EVALUE for a bad spec, MM_ENOMEM. */
mm_status mm_net_build_mome(mm_net **out, const mm_mome_spec *s, mm_err *e);

#endif
