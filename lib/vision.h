/* vision.h — weight-free image encoders: a token grid [T, D] and a pooled [D].
 *
 * Input of every encoder: n images, each size x size RGB as floats in [0, 1],
 * row-major and channel-interleaved (img[((i*size + y)*size + x)*3 + c]);
 * mm_vis_prepare() makes one from a decoded mm_image by area resize (the
 * aspect ratio is not kept: the image is squeezed to a square).
 *
 * Encoders (all deterministic; only `pixels` uses the seed):
 *
 *   pixels  Patch tokens.  The image is cut into (size/patch)^2 patches in
 *           row-major order; a patch is the vector of its patch*patch*3 values
 *           in (dy, dx, channel) order, normalised as 2x - 1 (so [-1, 1]), and
 *           multiplied by a fixed Gaussian matrix W [K = patch*patch*3, dim]
 *           with entries N(0, 1/K), drawn row-major from
 *           mm_rng_split(seed, MM_VIS_SEED_STREAM).  All patches of the n
 *           images go through one sgemm: tokens = A [n*T, K] x W.  T =
 *           (size/patch)^2, D = dim; pooled = mean of the tokens.
 *           Defaults: size 64, patch 8, dim 64, seed 1: T = 64, D = 64.
 *
 *   hog     Histograms of oriented gradients (Dalal & Triggs).  Gradients by
 *           the centred [-1, 0, 1] difference (replicated border) per channel;
 *           each pixel keeps the channel of largest magnitude.  Unsigned
 *           orientation in [0, 180) degrees; `bins` bins with centres at
 *           k*180/bins (bin 0 is the horizontal gradient, i.e. a vertical
 *           edge), each pixel votes its magnitude into the two nearest bins
 *           (linear in the angle; the angle comes from a fixed polynomial
 *           arctangent, error < 1e-5 rad, so the same bits with any libm).
 *           Cells of cell x cell pixels; blocks of
 *           block x block cells with stride one cell, each block's
 *           concatenated histograms L2-Hys normalised (L2, clip at 0.2, L2
 *           again; epsilon 1e-6).  Tokens = blocks in row-major order:
 *           T = (size/cell - block + 1)^2, D = block^2 * bins, cell-major
 *           within a block.  Pooled = mean of the tokens.
 *           Defaults: cell 8, block 2, bins 9: T = 49, D = 36 at size 64.
 *
 *   color   HSV colour histograms per cell.  H in [0, 1) (hexcone), S =
 *           (max-min)/max (0 for black), V = max; hard bins h*hbins, s*sbins,
 *           v*vbins (clamped), index (hb*sbins + sb)*vbins + vb.  Tokens =
 *           cells of cell x cell pixels, row-major, each histogram L1
 *           normalised (sums to 1).  Pooled = mean of the tokens (the whole
 *           image's histogram).  Defaults: cell 16, 8 x 3 x 3 bins: T = 16,
 *           D = 72 at size 64.
 *
 * Pooling (all encoders): `pool` chooses the pooled vector: MM_VIS_POOL_MEAN
 * (default, the mean of the tokens, [D]), MM_VIS_POOL_MAX (the per-dimension
 * maximum over the tokens, [D]: keeps small local patterns that the mean
 * dilutes), or MM_VIS_POOL_MEANMAX (mean then max, [2D]).
 * mm_vis_pooled_dim() gives the length.
 *
 * Encoders are immutable after mm_vis_new(): mm_vis_encode() may run on the
 * same mm_vis from several threads at once.
 */
#ifndef MM_VISION_H
#define MM_VISION_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "image.h"

#define MM_VIS_SEED_STREAM 0x706978656c73ull /* "pixels" */

typedef enum mm_vis_kind {
	MM_VIS_PIXELS = 0,
	MM_VIS_HOG,
	MM_VIS_COLOR,
	MM_VIS_NKINDS
} mm_vis_kind;

typedef enum mm_vis_pool {
	MM_VIS_POOL_MEAN = 0,
	MM_VIS_POOL_MAX,
	MM_VIS_POOL_MEANMAX,
} mm_vis_pool;

typedef struct mm_vis_params {
	mm_vis_kind kind;
	int size;            /* input side after resize (all) */
	int patch, dim;      /* pixels */
	uint64_t seed;       /* pixels */
	int cell;            /* hog, color: cell side in pixels */
	int bins, block;     /* hog */
	int hbins, sbins, vbins; /* color */
	mm_vis_pool pool;    /* all */
} mm_vis_params;

/* Defaults for kind (see above). */
void mm_vis_params_default(mm_vis_params *p, mm_vis_kind kind);
/* NULL when p is usable, else a message ("size 60 is not a multiple of the cell 8"). */
const char *mm_vis_params_check(const mm_vis_params *p);
/* "pixels", "hog", "color" (also "colour") <-> kind; -1 when unknown. */
int mm_vis_kind_parse(const char *name);
const char *mm_vis_kind_name(mm_vis_kind k);
/* "mean", "max", "mean+max" <-> pool; -1 when unknown. */
int mm_vis_pool_parse(const char *name);
const char *mm_vis_pool_name(mm_vis_pool p);

typedef struct mm_vis mm_vis;

mm_status mm_vis_new(mm_vis **out, const mm_vis_params *p, mm_err *e);
void mm_vis_free(mm_vis *v);
int mm_vis_ntok(const mm_vis *v);   /* T */
int mm_vis_side(const mm_vis *v);   /* the tokens form a side × side grid, row-major */
int mm_vis_dim(const mm_vis *v);    /* D */
int mm_vis_pooled_dim(const mm_vis *v); /* D, or 2D for MM_VIS_POOL_MEANMAX */
const mm_vis_params *mm_vis_params_get(const mm_vis *v);
/* The projection matrix of a pixels encoder, [K, D] row-major (else NULL). */
const float *mm_vis_projection(const mm_vis *v, int *k);

/* Encode n images (see the input layout above).  tok: n*T*D floats or NULL;
 * pooled: n*mm_vis_pooled_dim() floats or NULL.  Scratch memory is allocated
 * per call (MM_ENOMEM if it cannot be). */
mm_status mm_vis_encode(const mm_vis *v, const float *img, int n, float *tok,
		float *pooled, mm_err *e);

/* The same, in the caller's scratch: a loop over batches allocates nothing.
 * mm_vis_scratch_size(v, n, tok_null) is the bytes needed for up to n images,
 * with tok_null when tok will be NULL (the tokens then live in the scratch);
 * scratch, aligned as malloc's, is owned by the caller and may be reused
 * between calls, but not shared by two calls at once.  MM_EUSAGE if it is
 * NULL or smaller than needed.  Same output, bit for bit, as mm_vis_encode. */
size_t mm_vis_scratch_size(const mm_vis *v, int n, bool tok_null);
mm_status mm_vis_encode_ws(const mm_vis *v, const float *img, int n, float *tok,
		float *pooled, void *scratch, size_t scratch_size, mm_err *e);

/* Resize im (RGB) to size x size floats in [0, 1] (3*size*size values). */
mm_status mm_vis_prepare(const mm_image *im, int size, float *out, mm_err *e);

#endif
