/* nn/mole.h — MoLE: a mixture of bottleneck adapters with a top-1 router
 * (the language side of MoME, ../PAPERS §2), as one layer kind ("mole") and
 * a builder of the pre-norm transformer block with it.
 *
 * The layer.  Inputs: in0 = U [T, D], the tokens an FFN reads (the block's
 * second layer norm's output), with its lengths; in1 = e [1, E], the
 * instruction embedding.  Output [T, D]:
 *
 *   A_i(u)  = Wup_i GELU(Wdown_i u + bdown_i) + bup_i     i = 0..N-1, rank r
 *   z       = router logits of the routing unit (below), N values
 *   p       = softmax((z + g) / τ)                        g: Gumbel noise, see below
 *   k       = argmax_i p_i                                 (ties: lowest index)
 *   y_t     = p_k · A_k(u_t)                               valid rows; padded rows 0
 *
 * The block adds y to the residual next to the FFN (a parallel adapter):
 *   X1 = X + MHA(LN1(X)),  U = LN2(X1),  Y = X1 + FFN(U) + mole(U, e).
 * Wup and bup start at zero, so an untrained layer outputs exactly 0 and the
 * block is the plain block's function (identity-preserving).
 *
 * Routing units (conf.route):
 *   MM_MOLE_INSTANCE (MoLE-I): one unit per example, z = WI e + b: every
 *     token of the example goes through the same adapter.
 *   MM_MOLE_TOKEN (MoLE-T): one unit per valid token, z = WT u_t + b: each
 *     token picks its adapter from its own features (not the instruction).
 *   MM_MOLE_BOTH (MoLE-IT): one unit per valid token, z = WI e + WT u_t + b:
 *     the instruction shifts every token's logits, so a token's choice
 *     depends on both.
 * With N = 1 the router is inert (p = 1): the single-adapter baseline.
 *
 * The gradient of the top-1 choice.  k is piecewise constant in the
 * parameters: no gradient flows through the choice itself.  The router
 * learns through the scale p_k: ∂L/∂p_k = Σ_t <∂L/∂y_t, A_k(u_t)> over the
 * unit's rows, and ∂L/∂z_j = p_k (δ_jk − p_j) ∂L/∂p_k / τ (the softmax's
 * Jacobian); the other adapters get nothing from that unit.  This is the
 * exact gradient of the forward wherever no unit sits on a tie (checked by
 * finite differences in tests/unit/mole.c away from ties).  It is not the
 * straight-through estimator: an adapter's output is not computed unless it
 * is chosen.
 *
 * Gumbel (conf.gumbel = τ > 0).  In a training forward, g_i = −log(−log v_i)
 * with v_i uniform from io->rng (the trainer's seeded stream), drawn per
 * unit in order, kept for the backward: the choice is a sample from
 * softmax(z) (exploration) and the gradient above is exact for the drawn
 * noise.  At prediction g = 0 and p = softmax(z / τ).  τ = 0: no noise, τ = 1.
 *
 * Load balance (conf.balance = λ > 0), Switch-Transformer style, over the
 * units of the batch: aux = λ N Σ_i f_i P_i, f_i the fraction of units
 * choosing i (constant: no gradient), P_i the mean of p_i.  Reported through
 * the layer table's aux_loss; its gradient λ N f_i / units reaches z through
 * the same softmax Jacobian.  It is minimal (λ) when both are uniform.
 *
 * Parameters "<node>.<suffix>": router.WI [N, E] (instance, both),
 * router.WT [N, D] (token, both), router.b [N], down.W [N·r, D] (rows
 * i·r.. of adapter i), down.b [N·r], up.W [N·D, r], up.b [N·D].  Init:
 * router and down uniform ±1/√fan_in (PyTorch's nn.Linear), up zero.
 *
 * The last forward's choices stay in the node's scratch (mm_net_mole_choices).
 */
#ifndef MM_NN_MOLE_H
#define MM_NN_MOLE_H

#include "err.h"
#include "nn.h"

enum { MM_MOLE_INSTANCE = 0, MM_MOLE_TOKEN = 1, MM_MOLE_BOTH = 2 };

/* The route's name ("instance", "token", "both") and back (-1: unknown). */
const char *mm_mole_route_name(int route);
int mm_mole_route_parse(const char *s);

/* A mole node's scratch (mm_net_node_scratch) starts with the choices of
 * the last forward: B·T floats, row (b, t)'s adapter index, −1 for padding. */

/* The adapter each of the B examples of the last forward chose at the mole
 * node `id`: with instance routing the example's adapter, with token
 * routing the adapter most of its valid tokens chose (ties: the lowest
 * index).  MM_EVALUE when id is not a mole node. */
mm_status mm_net_mole_choices(const mm_net *net, int id, int B, int *k, mm_err *e);

/* Add a pre-norm transformer block to net on node x [T, D] (the layout
 * above), with the adapters of mc on the instruction node `instr` [1, E].
 * mc->adapters = 0: the plain block (one MM_NODE_BLOCK node called name).
 * Otherwise nodes "<name>.ln1" (layernorm), "<name>.attn" (selfattn),
 * "<name>.res1" (add), "<name>.ln2", "<name>.ffn1" (linear to ffn),
 * "<name>.gelu", "<name>.ffn2" (linear to D), "<name>.res2" (add),
 * "<name>.mole" and "<name>" (add), which is returned; -1 on error (e set). */
int mm_net_add_mole_block(mm_net *net, const char *name, int x, int instr,
		const mm_attn_conf *ac, const mm_mole_conf *mc, mm_err *e);

#endif
