/* registry.c — the one list of layer kinds, in mm_node_type order. */
#include <assert.h>
#include <string.h>

#include "layer.h"

static const mm_layer *const registry[] = {
	&mm_layer_input,
	&mm_layer_linear,
	&mm_layer_relu,
	&mm_layer_gelu,
	&mm_layer_dropout,
	&mm_layer_layernorm,
	&mm_layer_concat,
	&mm_layer_prod,
	&mm_layer_bilinear,
	&mm_layer_penalty,
	&mm_layer_add,
	&mm_layer_mix,
	&mm_layer_posemb,
	&mm_layer_modemb,
	&mm_layer_cls,
	&mm_layer_seqcat,
	&mm_layer_meanpool,
	&mm_layer_clspool,
	&mm_layer_selfattn,
	&mm_layer_xattn,
	&mm_layer_block,
	&mm_layer_sparse_linear,
	&mm_layer_mole,
	&mm_layer_avgpool2d,
	&mm_layer_deform,
	&mm_layer_route,
};
static_assert(sizeof registry / sizeof *registry == MM_NODE_NTYPES,
		"one registry entry per mm_node_type");

const mm_layer *mm_layer_of(mm_node_type kind)
{
	if ((int)kind < 0 || kind >= MM_NODE_NTYPES)
		return NULL;
	return registry[kind];
}

const mm_layer *mm_layer_find(const char *name)
{
	for (int k = 0; k < MM_NODE_NTYPES; k++)
		if (strcmp(registry[k]->name, name) == 0)
			return registry[k];
	return NULL;
}

void mm_layer_init_uniform(mm_param *p, double bound, mm_rng *rng)
{
	for (size_t k = 0; k < p->n; k++)
		p->w[k] = (float)((2 * mm_rng_uniform(rng) - 1) * bound);
}
