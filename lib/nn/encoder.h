/* nn/encoder.h — a transformer encoder classifier over one token sequence,
 * composed from the kernels of nn/seq.h:
 *
 *   H  = X Wp^T + bp + mod + pos      tokens [B, T, din] projected to the width D,
 *                                     plus a modality embedding and learned
 *                                     positions [T, D] (valid rows)
 *   Z0 = [cls; H]                     a learned [CLS] row in front (lengths len+1)
 *   Zl = block_l(Z_{l-1})             `depth` pre-norm blocks (nn/seq.h)
 *   z  = cls_pool(LN(Z)) + mean_pool(LN(Z))
 *   logits = z Wh^T + bh
 *
 * Parameters are registered by name in a fixed order (nn.h's mm_param):
 * proj.W proj.b mod cls pos, then blk<l>.ln1.g blk<l>.ln1.b blk<l>.attn.Wqkv
 * blk<l>.attn.bqkv blk<l>.attn.Wo blk<l>.attn.bo blk<l>.ln2.g blk<l>.ln2.b
 * blk<l>.ffn.W1 blk<l>.ffn.b1 blk<l>.ffn.W2 blk<l>.ffn.b2 per block, then
 * lnf.g lnf.b head.W head.b.  Shapes follow PyTorch's: a W is [out, in].
 *
 * This is the model of the PyTorch peer check (tests/unit/transformer_torch.c)
 * and of the transformer step in `make bench`.  One forward/backward at a
 * time per encoder; nothing prints or exits.
 */
#ifndef MM_NN_ENCODER_H
#define MM_NN_ENCODER_H

#include <stddef.h>

#include "err.h"
#include "nn.h"
#include "rng.h"

typedef struct mm_encoder_spec {
	int din;     /* input token width */
	int maxlen;  /* T: token rows per example (the [CLS] row is added on top) */
	int width;   /* D, the model width */
	int depth;   /* blocks */
	int heads;   /* attention heads, width % heads == 0 */
	int ffn;     /* FFN hidden width */
	int nclass;  /* outputs */
} mm_encoder_spec;

typedef struct mm_encoder mm_encoder;

/* NULL when valid, else a message naming the bad field. */
const char *mm_encoder_spec_check(const mm_encoder_spec *s);
/* Parameters (uninitialised) and the activations of batches of up to maxB
 * examples.  MM_EVALUE for a bad spec, MM_ENOMEM. */
mm_status mm_encoder_new(mm_encoder **out, const mm_encoder_spec *s, int maxB, mm_err *e);
void mm_encoder_free(mm_encoder *m);
/* Linear weights and biases uniform in ±1/√fan_in (PyTorch's nn.Linear),
 * layer norms γ = 1, β = 0, the embeddings and [CLS] N(0, 0.02²). */
void mm_encoder_init(mm_encoder *m, mm_rng *rng);
/* The registry, in the order above; owned by the encoder. */
mm_param *mm_encoder_params(mm_encoder *m, size_t *np);
void mm_encoder_zero_grad(mm_encoder *m);
/* FLOPs (2 × multiply-adds) of one forward of B examples of full length. */
double mm_encoder_flops(const mm_encoder_spec *s, int B);

/* Logits [B, nclass] (owned by the encoder, valid until the next forward)
 * of X [B, T, din] with len[b] in 1..T valid rows each (padded rows must be
 * finite; they do not change the result).  B <= maxB.  X and len must stay
 * valid and unchanged until the backward. */
const float *mm_encoder_forward(mm_encoder *m, const float *X, const int *len, int B);
/* From dlogits [B, nclass] of the last forward: accumulates into the
 * parameters' gradients.  One backward per forward. */
void mm_encoder_backward(mm_encoder *m, const float *dlogits);

/* ---- the same architecture as a graph of layers (nn.h's mm_net) ---------
 * Any number of token inputs: input m [T_m, D_m] goes through
 * proj<m> (linear to the width) → mod<m> (modality embedding) → pos<m>
 * (positions [T_m, width]); with several inputs, seq (seqcat) joins their
 * valid rows; then cls ([CLS] in front), blk0..blk<depth-1> (pre-norm
 * blocks), lnf (layer norm), poolc (clspool) + poolm (meanpool) → pool
 * (add), head (linear to nclass).  Node names prefix the parameters
 * ("blk0.attn.Wqkv", "head.W"); with one input the net computes exactly
 * mm_encoder's function, parameter for parameter. */
typedef struct mm_transformer_spec {
	int nmod;
	mm_shape in[MM_NET_MAXMOD]; /* per-sample token shape of each input */
	int width, depth, heads, ffn, nclass;
} mm_transformer_spec;

/* Its output layer (node name), which --init re-initialises when the
 * classes differ. */
#define MM_TRANSFORMER_OUTPUT "head"

/* NULL when valid, else a message naming the bad field. */
const char *mm_transformer_spec_check(const mm_transformer_spec *s);
/* The readout after the blocks, on node x [T, D] (row 0 the [CLS]): lnf
 * (layer norm), poolc (clspool) + poolm (meanpool) -> pool (add), head
 * (linear to nclass).  Returns head's id, or -1 with e set.  Shared by the
 * transformer and MoME (nn/move.h). */
int mm_net_add_readout(mm_net *net, int x, int nclass, mm_err *e);
/* Build (not initialise) the net: MM_EVALUE for a bad spec, MM_ENOMEM. */
mm_status mm_net_build_transformer(mm_net **out, const mm_transformer_spec *s, mm_err *e);

#endif
