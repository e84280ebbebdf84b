/* nn/mome.c — the MoME classifier as a graph of layers (MoVE + a
 * transformer with MoLE adapters), and the router weights read back.  See
 * nn/move.h. */
#include <stdio.h>
#include <string.h>

#include "nn.h"
#include "nn/encoder.h"
#include "nn/kernels.h"
#include "nn/move.h"

static const char *const transform_names[] = { "avgpool", "adt" };
static const char *const aggregate_names[] = { "add", "router" };

const char *mm_move_transform_name(int t)
{
	return t >= 0 && t < 2 ? transform_names[t] : "?";
}

int mm_move_transform_parse(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(s, transform_names[i]) == 0)
			return i;
	return -1;
}

const char *mm_move_aggregate_name(int a)
{
	return a >= 0 && a < 2 ? aggregate_names[a] : "?";
}

int mm_move_aggregate_parse(const char *s)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(s, aggregate_names[i]) == 0)
			return i;
	return -1;
}

mm_status mm_net_move_weights(const mm_net *net, int id, int B, float *w, mm_err *e)
{
	mm_node_info ni;
	if (id < 0 || id >= mm_net_nnodes(net))
		return mm_errf(e, MM_EVALUE, "no node %d", id);
	mm_net_node(net, id, &ni);
	const float *S = mm_net_node_scratch(net, id);
	if (ni.op != mm_layer_of(MM_NODE_ROUTE) || !S)
		return mm_errf(e, MM_EVALUE, "node %s holds no router weights", ni.name);
	memcpy(w, S, (size_t)B * (ni.nin - 1) * sizeof *w);
	return MM_OK;
}

const char *mm_mome_spec_check(const mm_mome_spec *s)
{
	if (s->nenc < 1 || s->nenc > MM_MOME_MAXENC)
		return "the number of vision encoders must be in 1..6";
	for (int m = 0; m < s->nenc; m++)
		if (s->gh[m] < 1 || s->gw[m] < 1 || s->gd[m] < 1)
			return "every encoder needs a grid of at least one cell of one feature";
	if (s->edim < 1)
		return "the instruction embedding needs at least one value";
	if (s->tokens < 1 || s->tokens > 64)
		return "the visual tokens per side must be in 1..64";
	if (s->transform != MM_MOVE_AVGPOOL && s->transform != MM_MOVE_ADT)
		return "the transform is avgpool or adt";
	if (s->aggregate != MM_MOVE_ADD && s->aggregate != MM_MOVE_ROUTER)
		return "the aggregation is add or router";
	if (s->aggregate == MM_MOVE_ROUTER && s->nenc < 2)
		return "the router aggregation needs at least two encoders";
	if (s->points < 0 || s->points > 64)
		return "the sampling points per head must be in 1..64";
	if (s->mole.adapters < 0 || s->mole.adapters > 64)
		return "the adapters per block must be in 0..64";
	if (s->mole.adapters && (s->mole.route < 0 || s->mole.route > 2))
		return "the adapter route is instance, token or both";
	mm_encoder_spec e = { .din = 1, .maxlen = 1, .width = s->width, .depth = s->depth,
		.heads = s->heads, .ffn = s->ffn, .nclass = s->nclass };
	return mm_encoder_spec_check(&e);
}

mm_status mm_net_build_mome(mm_net **out, const mm_mome_spec *s, mm_err *e)
{
	*out = NULL;
	const char *why = mm_mome_spec_check(s);
	if (why)
		return mm_errf(e, MM_EVALUE, "%s", why);
	int K = s->nenc, k = s->tokens, instr = K;
	mm_shape sh[MM_MOME_MAXENC + 1];
	for (int m = 0; m < K; m++)
		sh[m] = (mm_shape){ s->gh[m] * s->gw[m], s->gd[m] };
	sh[K] = (mm_shape){ 1, s->edim };
	mm_net *net;
	mm_status st = mm_net_new_shaped(&net, K + 1, sh, e);
	if (st)
		return st;
	mm_linear_conf wc = { s->width }, fc = { s->ffn }, kc = { K };
	mm_attn_conf ac = { s->heads, s->ffn };
	int tok[MM_MOME_MAXENC + 1], in[2], id = 0;
	char name[48];
#define ADD(kind, ins, nin, conf, ...) \
	do { \
		snprintf(name, sizeof name, __VA_ARGS__); \
		if ((id = mm_net_add(net, kind, name, ins, nin, conf, e)) < 0) \
			goto fail; \
	} while (0)
	for (int m = 0; m < K; m++) {
		mm_avgpool2d_conf pc = { s->gh[m], s->gw[m], k };
		ADD(MM_NODE_AVGPOOL2D, &m, 1, &pc, "pool%d", m);
		ADD(MM_NODE_LINEAR, &id, 1, &wc, "enc%d.proj", m);
		if (s->transform == MM_MOVE_ADT) {
			mm_deform_conf dc = { s->heads, s->points ? s->points : 4, s->gh[m], s->gw[m], k, k };
			ADD(MM_NODE_POSEMB, &id, 1, NULL, "enc%d.pos", m);
			int x = id;
			ADD(MM_NODE_LAYERNORM, &x, 1, NULL, "enc%d.ln1", m);
			ADD(MM_NODE_SELFATTN, &id, 1, &ac, "enc%d.attn", m);
			in[0] = x, in[1] = id;
			ADD(MM_NODE_ADD, in, 2, NULL, "enc%d.res1", m);
			x = id;
			ADD(MM_NODE_LAYERNORM, &x, 1, NULL, "enc%d.ln2", m);
			in[0] = id, in[1] = m;
			ADD(MM_NODE_DEFORM, in, 2, &dc, "enc%d.deform", m);
			in[0] = x, in[1] = id;
			ADD(MM_NODE_ADD, in, 2, NULL, "enc%d.res2", m);
			x = id;
			ADD(MM_NODE_LAYERNORM, &x, 1, NULL, "enc%d.ln3", m);
			ADD(MM_NODE_LINEAR, &id, 1, &fc, "enc%d.ffn1", m);
			ADD(MM_NODE_GELU, &id, 1, NULL, "enc%d.gelu", m);
			ADD(MM_NODE_LINEAR, &id, 1, &wc, "enc%d.ffn2", m);
			in[0] = x, in[1] = id;
			ADD(MM_NODE_ADD, in, 2, NULL, "enc%d.res3", m);
		}
		tok[m] = id;
	}
	if (s->aggregate == MM_MOVE_ROUTER) {
		ADD(MM_NODE_LINEAR, &instr, 1, &wc, "router.fc1");
		ADD(MM_NODE_GELU, &id, 1, NULL, "router.gelu");
		ADD(MM_NODE_LINEAR, &id, 1, &kc, "router.fc2");
		tok[K] = id;
		ADD(MM_NODE_ROUTE, tok, K + 1, NULL, MM_MOME_ROUTER);
	} else {
		id = tok[0];
		for (int m = 1; m < K; m++) {
			in[0] = id, in[1] = tok[m];
			ADD(MM_NODE_ADD, in, 2, NULL, "agg%d", m);
		}
	}
	ADD(MM_NODE_MODEMB, &id, 1, NULL, "vis.mod");
	ADD(MM_NODE_POSEMB, &id, 1, NULL, "vis.pos");
	int vis = id;
	ADD(MM_NODE_LINEAR, &instr, 1, &wc, "instr.proj");
	ADD(MM_NODE_MODEMB, &id, 1, NULL, "instr.mod");
	in[0] = vis, in[1] = id;
	ADD(MM_NODE_SEQCAT, in, 2, NULL, "seq");
	ADD(MM_NODE_CLS, &id, 1, NULL, "cls");
	for (int l = 0; l < s->depth; l++) {
		snprintf(name, sizeof name, "blk%d", l);
		if ((id = mm_net_add_mole_block(net, name, id, instr, &ac, &s->mole, e)) < 0)
			goto fail;
	}
	if ((id = mm_net_add_readout(net, id, s->nclass, e)) < 0)
		goto fail;
#undef ADD
	if ((st = mm_net_finish(net, id, e)) != MM_OK)
		goto fail;
	*out = net;
	return MM_OK;
fail:
	mm_net_free(net);
	return e && e->status ? e->status : MM_EUSAGE;
}

mm_status mm_mome_predict(mm_net *net, const mm_mome_spec *s, const mm_dataset *d, float *P,
		float *enc, int *adapter, mm_err *e)
{
	enum { BATCH = 256 };
	int C = mm_net_nout(net), K = s->nenc, L = s->mole.adapters ? s->depth : 0;
	int route = s->aggregate == MM_MOVE_ROUTER ? mm_net_node_id(net, MM_MOME_ROUTER) : -1;
	int mole[64], k[BATCH];
	char name[48];
	for (int l = 0; l < L && l < 64; l++) {
		snprintf(name, sizeof name, "blk%d.mole", l);
		mole[l] = mm_net_node_id(net, name);
	}
	const float *X[MM_NET_MAXMOD];
	const int *len[MM_NET_MAXMOD];
	for (size_t i = 0; i < d->n; i += BATCH) {
		int B = (int)(d->n - i < BATCH ? d->n - i : BATCH);
		for (int m = 0; m < d->nmod; m++) {
			X[m] = d->X[m] + i * (size_t)mm_net_dim(net, m);
			len[m] = d->len[m] ? d->len[m] + i : NULL;
		}
		const float *Z = mm_net_forward_seq(net, X, len, B, false, NULL);
		if (!Z)
			return mm_errf(e, MM_ENOMEM, "out of memory for a batch of %d", B);
		mm_softmax(Z, B, C, P + i * C);
		mm_status st;
		if (enc && route >= 0 &&
				(st = mm_net_move_weights(net, route, B, enc + i * K, e)) != MM_OK)
			return st;
		for (int l = 0; adapter && l < L && l < 64; l++) {
			if ((st = mm_net_mole_choices(net, mole[l], B, k, e)) != MM_OK)
				return st;
			for (int b = 0; b < B; b++)
				adapter[(i + (size_t)b) * L + l] = k[b];
		}
	}
	return MM_OK;
}
