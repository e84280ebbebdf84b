/* expert.c — the expert architecture of mmoe-train-expert (mm_net_spec) as a
 * graph built with the public API.  See nn.h. */
#include <stdio.h>
#include <string.h>

#include "nn.h"

void mm_net_spec_default(mm_net_spec *s)
{
	memset(s, 0, sizeof *s);
	s->proj = 256;
	s->act = MM_ACT_RELU;
	s->fusion = MM_FUSE_CONCAT_PROD;
	s->bilinear_dim = 32;
	s->hidden = 256;
	s->layers = 1;
	s->nclass = 2;
	s->dropout = 0.1f;
}

const char *mm_net_spec_check(const mm_net_spec *s)
{
	if (s->nmod < 1 || s->nmod > MM_NET_MAXMOD)
		return "number of modalities must be 1..8";
	for (int m = 0; m < s->nmod; m++)
		if (s->dims[m] < 1 || s->dims[m] > (1 << 24))
			return "feature dimension must be 1..16777216";
	if (s->proj < 0 || s->proj > (1 << 16))
		return "projection width must be 0..65536";
	if (s->act != MM_ACT_RELU && s->act != MM_ACT_GELU)
		return "unknown activation";
	if (s->fusion < MM_FUSE_CONCAT || s->fusion > MM_FUSE_BILINEAR)
		return "unknown fusion";
	if (s->fusion == MM_FUSE_BILINEAR && (s->bilinear_dim < 1 || s->bilinear_dim > 4096))
		return "bilinear dimension must be 1..4096";
	if (s->fusion != MM_FUSE_CONCAT && s->proj == 0)
		for (int m = 1; m < s->nmod; m++)
			if (s->dims[m] != s->dims[0])
				return "product and bilinear fusion without projections need equal feature dimensions";
	if (s->hidden < 1 || s->hidden > (1 << 16))
		return "hidden width must be 1..65536";
	if (s->layers < 0 || s->layers > 64)
		return "layers must be 0..64";
	for (int m = 0; m < s->nmod; m++)
		if (s->sparse[m] && (s->proj < 1 || s->dims[m] % 2 || s->sparse[m] > (1 << 24)))
			return "a sparse feature needs a projection (proj > 0) and an even input width";
	if (s->nclass < 2 || s->nclass > 65536)
		return "number of classes must be 2..65536";
	if (!(s->dropout >= 0 && s->dropout < 1))
		return "dropout must be in [0, 1)";
	return NULL;
}

static mm_node_type act_node(int act)
{
	return act == MM_ACT_GELU ? MM_NODE_GELU : MM_NODE_RELU;
}

mm_status mm_net_build(mm_net **out, const mm_net_spec *s, mm_err *e)
{
	const char *msg = mm_net_spec_check(s);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	mm_net *net;
	mm_shape shapes[MM_NET_MAXMOD];
	for (int m = 0; m < s->nmod; m++)
		shapes[m] = s->sparse[m] ? (mm_shape){ s->dims[m] / 2, 2 } : (mm_shape){ 1, s->dims[m] };
	mm_status st = mm_net_new_shaped(&net, s->nmod, shapes, e);
	if (st != MM_OK)
		return st;
	int h[MM_NET_MAXMOD], cat[MM_LAYER_MAXIN], ncat = 0, id;
	mm_linear_conf proj = { s->proj }, hidden = { s->hidden }, head = { s->nclass },
		bil = { s->bilinear_dim };
	mm_dropout_conf drop = { s->dropout };
	char nm[48];
#define ADD(t, ins, nin, conf, ...) do { \
		snprintf(nm, sizeof nm, __VA_ARGS__); \
		id = mm_net_add(net, (t), nm, (ins), (nin), (conf), e); \
		if (id < 0) goto fail; } while (0)
	for (int m = 0; m < s->nmod; m++) {
		h[m] = m;
		if (s->proj > 0) {
			mm_sparse_linear_conf sproj = { s->proj, s->sparse[m] };
			if (s->sparse[m])
				ADD(MM_NODE_SPARSE_LINEAR, &h[m], 1, &sproj, "enc.%d.proj", m);
			else
				ADD(MM_NODE_LINEAR, &h[m], 1, &proj, "enc.%d.proj", m);
			h[m] = id;
			ADD(act_node(s->act), &h[m], 1, NULL, "enc.%d.act", m);
			h[m] = id;
			if (s->dropout > 0) {
				ADD(MM_NODE_DROPOUT, &h[m], 1, &drop, "enc.%d.drop", m);
				h[m] = id;
			}
		}
		cat[ncat++] = h[m];
	}
	if (s->fusion != MM_FUSE_CONCAT)
		for (int i = 0; i < s->nmod; i++)
			for (int j = i + 1; j < s->nmod; j++) {
				int pair[2] = { h[i], h[j] };
				if (ncat >= MM_LAYER_MAXIN) {
					mm_errf(e, MM_EUSAGE, "too many modality pairs to fuse");
					goto fail;
				}
				if (s->fusion == MM_FUSE_CONCAT_PROD)
					ADD(MM_NODE_PROD, pair, 2, NULL, "fuse.prod.%d.%d", i, j);
				else
					ADD(MM_NODE_BILINEAR, pair, 2, &bil, "fuse.bilinear.%d.%d", i, j);
				cat[ncat++] = id;
			}
	int x;
	if (ncat == 1) {
		x = cat[0];
	} else {
		ADD(MM_NODE_CONCAT, cat, ncat, NULL, "fuse.cat");
		x = id;
	}
	for (int l = 0; l < s->layers; l++) {
		ADD(MM_NODE_LINEAR, &x, 1, &hidden, "head.%d.linear", l);
		x = id;
		ADD(act_node(s->act), &x, 1, NULL, "head.%d.act", l);
		x = id;
		if (s->dropout > 0) {
			ADD(MM_NODE_DROPOUT, &x, 1, &drop, "head.%d.drop", l);
			x = id;
		}
	}
	ADD(MM_NODE_LINEAR, &x, 1, &head, MM_EXPERT_OUTPUT);
#undef ADD
	st = mm_net_finish(net, id, e);
	if (st != MM_OK) {
		mm_net_free(net);
		return st;
	}
	*out = net;
	return MM_OK;
fail:
	mm_net_free(net);
	return e ? e->status : MM_EUSAGE;
}
