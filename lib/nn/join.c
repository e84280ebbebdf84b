/* join.c — the nodes that carry or combine values without parameters: net
 * inputs, concatenation and the element-wise product.  See layer.h. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include <stddef.h>
#include <string.h>

#include "kernels.h"
#include "layer.h"

void mm_prod_forward(const float *a, const float *b, float *y, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] * b[i];
}

void mm_prod_backward(const float *a, const float *b, const float *dy,
		float *da, float *db, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (da)
			da[i] += dy[i] * b[i];
		if (db)
			db[i] += dy[i] * a[i];
	}
}

/* ---- the layers ---------------------------------------------------------- */

static const mm_conf_field input_fields[] = {
	{ "T", MM_CONF_INT, offsetof(mm_input_conf, T), 0, 1 << 24 },
	{ "D", MM_CONF_INT, offsetof(mm_input_conf, D), 1, 1 << 24 },
};

static const char *input_shape(const mm_layer_io *io, mm_shape *out)
{
	const mm_input_conf *c = io->conf;
	*out = (mm_shape){ c->T ? c->T : 1, c->D };
	return NULL;
}

/* The graph points an input's output at the caller's batch: nothing to compute. */
const mm_layer mm_layer_input = {
	.kind = MM_NODE_INPUT, .name = "input", .min_in = 0, .max_in = 0,
	.conf_size = sizeof(mm_input_conf), .conf_fields = input_fields, .conf_nfields = 2,
	.shape = input_shape,
};

static const char *concat_shape(const mm_layer_io *io, mm_shape *out)
{
	*out = (mm_shape){ io->in[0].T, 0 };
	for (int k = 0; k < io->nin; k++) {
		if (io->in[k].T != out->T)
			return "inputs have different numbers of positions";
		out->D += io->in[k].D;
	}
	return NULL;
}

static void concat_forward(const mm_layer_io *io)
{
	size_t rows = (size_t)io->B * io->out.T, off = 0;
	for (int k = 0; k < io->nin; k++) {
		size_t dk = (size_t)io->in[k].D;
		for (size_t r = 0; r < rows; r++)
			memcpy(io->y + r * io->out.D + off, io->x[k] + r * dk, dk * sizeof(float));
		off += dk;
	}
}

static void concat_backward(const mm_layer_io *io)
{
	size_t rows = (size_t)io->B * io->out.T, off = 0;
	for (int k = 0; k < io->nin; k++) {
		size_t dk = (size_t)io->in[k].D;
		if (io->dx[k])
			for (size_t r = 0; r < rows; r++) {
				float *d = io->dx[k] + r * dk;
				const float *s = io->dy + r * io->out.D + off;
				if (io->dx_fresh[k])
					memcpy(d, s, dk * sizeof *d);
				else
					for (size_t c = 0; c < dk; c++)
						d[c] += s[c];
			}
		off += dk;
	}
}

const mm_layer mm_layer_concat = {
	.kind = MM_NODE_CONCAT, .name = "concat", .min_in = 1, .max_in = MM_LAYER_MAXIN,
	.shape = concat_shape, .forward = concat_forward, .backward = concat_backward, .stores = true,
};

static const char *prod_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[0].T != io->in[1].T || io->in[0].D != io->in[1].D)
		return "input shapes differ";
	*out = io->in[0];
	return NULL;
}

static size_t numel(const mm_layer_io *io)
{
	return (size_t)io->B * io->out.T * io->out.D;
}

static void prod_forward(const mm_layer_io *io)
{
	mm_prod_forward(io->x[0], io->x[1], io->y, numel(io));
}

static void prod_backward(const mm_layer_io *io)
{
	mm_prod_backward(io->x[0], io->x[1], io->dy, io->dx[0], io->dx[1], numel(io));
}

const mm_layer mm_layer_prod = {
	.kind = MM_NODE_PROD, .name = "prod", .min_in = 2, .max_in = 2,
	.shape = prod_shape, .forward = prod_forward, .backward = prod_backward,
};
