/* nn/transformer.c — the transformer encoder classifier as a graph of
 * layers.  See nn/encoder.h. */
#include <stdio.h>

#include "nn.h"
#include "nn/encoder.h"

const char *mm_transformer_spec_check(const mm_transformer_spec *s)
{
	if (s->nmod < 1 || s->nmod > MM_NET_MAXMOD)
		return "the number of token inputs must be in 1..8";
	for (int m = 0; m < s->nmod; m++)
		if (s->in[m].T < 1 || s->in[m].D < 1)
			return "every token input needs at least one row of one feature";
	mm_encoder_spec e = { .din = 1, .maxlen = 1, .width = s->width, .depth = s->depth,
		.heads = s->heads, .ffn = s->ffn, .nclass = s->nclass };
	return mm_encoder_spec_check(&e);
}

int mm_net_add_readout(mm_net *net, int x, int nclass, mm_err *e)
{
	mm_linear_conf hc = { nclass };
	int pools[2], lnf;
	if ((lnf = mm_net_add(net, MM_NODE_LAYERNORM, "lnf", &x, 1, NULL, e)) < 0 ||
			(pools[0] = mm_net_add(net, MM_NODE_CLSPOOL, "poolc", &lnf, 1, NULL, e)) < 0 ||
			(pools[1] = mm_net_add(net, MM_NODE_MEANPOOL, "poolm", &lnf, 1, NULL, e)) < 0 ||
			(x = mm_net_add(net, MM_NODE_ADD, "pool", pools, 2, NULL, e)) < 0)
		return -1;
	return mm_net_add(net, MM_NODE_LINEAR, MM_TRANSFORMER_OUTPUT, &x, 1, &hc, e);
}

mm_status mm_net_build_transformer(mm_net **out, const mm_transformer_spec *s, mm_err *e)
{
	*out = NULL;
	const char *why = mm_transformer_spec_check(s);
	if (why)
		return mm_errf(e, MM_EVALUE, "%s", why);
	mm_net *net;
	mm_status st = mm_net_new_shaped(&net, s->nmod, s->in, e);
	if (st)
		return st;
	mm_linear_conf wc = { s->width };
	mm_attn_conf ac = { s->heads, s->ffn };
	int tok[MM_NET_MAXMOD], id = 0;
	char name[32];
#define ADD(kind, nm, in, nin, conf) \
	do { \
		if ((id = mm_net_add(net, kind, nm, in, nin, conf, e)) < 0) \
			goto fail; \
	} while (0)
	for (int m = 0; m < s->nmod; m++) {
		snprintf(name, sizeof name, "proj%d", m);
		ADD(MM_NODE_LINEAR, name, &m, 1, &wc);
		snprintf(name, sizeof name, "mod%d", m);
		ADD(MM_NODE_MODEMB, name, &id, 1, NULL);
		snprintf(name, sizeof name, "pos%d", m);
		ADD(MM_NODE_POSEMB, name, &id, 1, NULL);
		tok[m] = id;
	}
	if (s->nmod > 1)
		ADD(MM_NODE_SEQCAT, "seq", tok, s->nmod, NULL);
	ADD(MM_NODE_CLS, "cls", &id, 1, NULL);
	for (int l = 0; l < s->depth; l++) {
		snprintf(name, sizeof name, "blk%d", l);
		ADD(MM_NODE_BLOCK, name, &id, 1, &ac);
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
