/* nn/mole_net.c — the transformer block with MoLE adapters as a graph of
 * layers, and the adapters chosen in the last forward.  See nn/mole.h. */
#include <stdio.h>
#include <string.h>

#include "nn.h"
#include "nn/mole.h"

static const char *const route_names[] = { "instance", "token", "both" };

const char *mm_mole_route_name(int route)
{
	return route >= 0 && route < 3 ? route_names[route] : "?";
}

int mm_mole_route_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, route_names[i]) == 0)
			return i;
	return -1;
}

mm_status mm_net_mole_choices(const mm_net *net, int id, int B, int *k, mm_err *e)
{
	mm_node_info ni;
	if (id < 0 || id >= mm_net_nnodes(net))
		return mm_errf(e, MM_EVALUE, "no node %d", id);
	mm_net_node(net, id, &ni);
	const float *K = mm_net_node_scratch(net, id);
	if (ni.op != mm_layer_of(MM_NODE_MOLE) || !K)
		return mm_errf(e, MM_EVALUE, "node %s holds no adapter choices", ni.name);
	const mm_mole_conf *c = ni.conf;
	int T = ni.shape.T, N = c->adapters, cnt[64];
	for (int b = 0; b < B; b++) {
		memset(cnt, 0, sizeof cnt);
		for (int t = 0; t < T; t++)
			if (K[(size_t)b * T + t] >= 0)
				cnt[(int)K[(size_t)b * T + t]]++;
		k[b] = 0;
		for (int i = 1; i < N; i++)
			if (cnt[i] > cnt[k[b]])
				k[b] = i;
	}
	return MM_OK;
}

int mm_net_add_mole_block(mm_net *net, const char *name, int x, int instr,
		const mm_attn_conf *ac, const mm_mole_conf *mc, mm_err *e)
{
	if (!mc || mc->adapters == 0)
		return mm_net_add(net, MM_NODE_BLOCK, name, &x, 1, ac, e);
	mm_node_info ni;
	mm_net_node(net, x, &ni);
	mm_linear_conf fc = { ac->ffn }, dc = { ni.shape.D };
	char nm[96];
	int in[2], x1, u, id;
#define ADD(kind, suffix, ins, nin, conf) \
	do { \
		snprintf(nm, sizeof nm, "%s.%s", name, suffix); \
		if ((id = mm_net_add(net, kind, nm, ins, nin, conf, e)) < 0) \
			return -1; \
	} while (0)
	ADD(MM_NODE_LAYERNORM, "ln1", &x, 1, NULL);
	ADD(MM_NODE_SELFATTN, "attn", &id, 1, ac);
	in[0] = x, in[1] = id;
	ADD(MM_NODE_ADD, "res1", in, 2, NULL);
	x1 = id;
	ADD(MM_NODE_LAYERNORM, "ln2", &x1, 1, NULL);
	u = id;
	ADD(MM_NODE_LINEAR, "ffn1", &u, 1, &fc);
	ADD(MM_NODE_GELU, "gelu", &id, 1, NULL);
	ADD(MM_NODE_LINEAR, "ffn2", &id, 1, &dc);
	in[0] = x1, in[1] = id;
	ADD(MM_NODE_ADD, "res2", in, 2, NULL);
	int res2 = id;
	in[0] = u, in[1] = instr;
	ADD(MM_NODE_MOLE, "mole", in, 2, mc);
#undef ADD
	in[0] = res2, in[1] = id;
	return mm_net_add(net, MM_NODE_ADD, name, in, 2, NULL, e);
}
