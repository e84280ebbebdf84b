/* sparse_linear.c — the first projection of a sparse feature.  See layer.h.
 *
 * A net input cannot hold a 2^20-wide sparse vector densely, so the sparse
 * modality reaches the net as T (column, value) pairs per sample: an input
 * of shape [T, 2] whose row t is (c, v), c the compact column (sparse.h's
 * mm_colmap: below 2^24, exact in a float) and v its value; rows with c < 0
 * are padding.  The layer computes y = b + Σ_t v_t W[c_t, :], W [dim, size]
 * stored by input column so that a non-zero reads one contiguous row: its
 * cost is T × size per sample, whatever dim.  The pairs are data, not
 * activations: no gradient flows back to them. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "layer.h"

static const mm_conf_field fields[] = {
	{ "size", MM_CONF_INT, offsetof(mm_sparse_linear_conf, size), 1, 1 << 24 },
	{ "dim", MM_CONF_INT, offsetof(mm_sparse_linear_conf, dim), 1, 1 << 24 },
};

static const mm_sparse_linear_conf *conf(const mm_layer_io *io)
{
	return io->conf;
}

static const char *sl_shape(const mm_layer_io *io, mm_shape *out)
{
	if (io->in[0].D != 2)
		return "input is not (column, value) pairs: its width must be 2";
	*out = (mm_shape){ 1, conf(io)->size };
	return NULL;
}

static int sl_params(const mm_layer_io *io, mm_param_decl *d)
{
	d[0] = (mm_param_decl){ "W", conf(io)->dim, conf(io)->size, true };
	d[1] = (mm_param_decl){ "b", conf(io)->size, 1, false };
	return 2;
}

/* As nn.Linear over the dim columns: uniform in ±1/√dim. */
static void sl_init(const mm_layer_io *io, mm_rng *rng)
{
	double bound = 1.0 / sqrt((double)conf(io)->dim);
	mm_layer_init_uniform(&io->p[0], bound, rng);
	mm_layer_init_uniform(&io->p[1], bound, rng);
}

static void sl_forward(const mm_layer_io *io)
{
	int T = io->in[0].T, h = io->out.D, dim = conf(io)->dim;
	const float *W = io->p[0].w, *b = io->p[1].w;
	for (int s = 0; s < io->B; s++) {
		const float *x = io->x[0] + (size_t)s * T * 2;
		float *y = io->y + (size_t)s * h;
		memcpy(y, b, (size_t)h * sizeof *y);
		for (int t = 0; t < T; t++) {
			int c = (int)x[2 * t];
			if (c < 0 || c >= dim)
				continue;
			float v = x[2 * t + 1];
			const float *w = W + (size_t)c * h;
			for (int k = 0; k < h; k++)
				y[k] += v * w[k];
		}
	}
}

static void sl_backward(const mm_layer_io *io)
{
	int T = io->in[0].T, h = io->out.D, dim = conf(io)->dim;
	float *dW = mm_param_grad(&io->p[0]), *db = mm_param_grad(&io->p[1]);
	for (int s = 0; s < io->B; s++) {
		const float *x = io->x[0] + (size_t)s * T * 2, *dy = io->dy + (size_t)s * h;
		if (db)
			for (int k = 0; k < h; k++)
				db[k] += dy[k];
		for (int t = 0; t < T && dW; t++) {
			int c = (int)x[2 * t];
			if (c < 0 || c >= dim)
				continue;
			float v = x[2 * t + 1], *g = dW + (size_t)c * h;
			for (int k = 0; k < h; k++)
				g[k] += v * dy[k];
		}
	}
}

static double sl_flops(const mm_layer_io *io)
{
	return 2.0 * io->in[0].T * io->out.D;
}

const mm_layer mm_layer_sparse_linear = {
	.kind = MM_NODE_SPARSE_LINEAR, .name = "sparse_linear", .min_in = 1, .max_in = 1,
	.conf_size = sizeof(mm_sparse_linear_conf), .conf_fields = fields, .conf_nfields = 2,
	.shape = sl_shape, .params = sl_params, .init = sl_init,
	.forward = sl_forward, .backward = sl_backward, .flops = sl_flops,
};
