/* sparse.h — sparse feature vectors: their record form, row-compressed
 * matrices, the sparse × dense kernels of the models, and the compact index
 * of the columns (hash buckets) seen in training.
 *
 * Record form (man/mmoe-records.5).  A sparse vector is a msgpack map with
 * exactly three keys, distinct from a dense tensor's dtype/shape/data:
 *   {"dim": D, "indices": <bin: nnz u32 little-endian>,
 *    "values": <bin: nnz f32 little-endian>}
 * D is an integer in [1, 2^32]; the indices are strictly increasing and < D;
 * the values are finite.  Writers write exactly that; readers also accept a
 * msgpack array of numbers for "indices" or "values".  In Python, one line
 * gives a scipy.sparse row:
 *   scipy.sparse.csr_matrix((numpy.frombuffer(s["values"], "<f4"),
 *       numpy.frombuffer(s["indices"], "<u4"), [0, len(s["values"]) // 4]),
 *       shape=(1, s["dim"]))
 *
 * Costs: every kernel here runs in O(nnz · width), never O(D · width): D may
 * be 2^24 buckets while a text has tens of non-zeros.
 *
 * Ownership: an mm_sparse or mm_csr owns its arrays (malloc'ed, freed by
 * mm_sparse_free / mm_csr_free); zero-initialise one before first use.
 * Nothing here prints or exits.
 */
#ifndef MM_SPARSE_H
#define MM_SPARSE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "record.h"

#define MM_SPARSE_MAXDIM ((uint64_t)1 << 32)

/* One sparse vector: nnz (index, value) pairs, indices strictly increasing. */
typedef struct mm_sparse {
	uint64_t dim;
	size_t nnz, cap;
	uint32_t *idx;
	float *val;
} mm_sparse;

void mm_sparse_free(mm_sparse *s);
/* Room for nnz pairs (keeps the contents).  MM_ENOMEM. */
mm_status mm_sparse_reserve(mm_sparse *s, size_t nnz, mm_err *e);

/* True when o has the sparse form's three keys (whatever their values). */
bool mm_obj_is_sparse(const msgpack_object *o);
/* Fill s from a sparse map.  MM_ETYPE / MM_EVALUE with a message naming
 * the key and the entry that is wrong (no record context). */
mm_status mm_sparse_from_obj(mm_sparse *s, const msgpack_object *o, mm_err *e);
/* The sparse field key of r (MM_MISSING when absent); every message names
 * the record and the field.  A dense tensor is MM_ETYPE. */
mm_status mm_rec_sparse(mm_rec *r, const char *key, mm_sparse *s, mm_err *e);
/* Write s into r as the record form (copied). */
mm_status mm_rec_set_sparse(mm_rec *r, const char *key, const mm_sparse *s, mm_err *e);
/* Pack s in the record form (e.g. into a record being built by hand). */
int mm_sparse_pack(msgpack_packer *pk, const mm_sparse *s);
/* Scale s to unit L2 norm (left alone when zero). */
void mm_sparse_l2_normalize(mm_sparse *s);

/* ---- row-compressed matrices ---- */
typedef struct mm_csr {
	size_t n;          /* rows */
	uint64_t dim;      /* columns */
	size_t *ptr;       /* row i is [ptr[i], ptr[i+1]) of idx/val; n+1 entries */
	uint32_t *idx;
	float *val;
	size_t rcap, cap;
} mm_csr;

/* Append a row (its dim must equal the matrix's, which the first row sets:
 * MM_EVALUE otherwise). */
mm_status mm_csr_append(mm_csr *m, const mm_sparse *row, mm_err *e);
static inline size_t mm_csr_nnz(const mm_csr *m) { return m->n ? m->ptr[m->n] : 0; }
void mm_csr_free(mm_csr *m);

/* ---- the columns seen in training ----
 * A model over 2^24 hashed buckets cannot hold a weight row per bucket.  It
 * keeps the sorted list of the columns that have a non-zero in its training
 * rows, and works in that compact space of m columns: column col[k] is
 * compact column k.  A column never seen in training has no weight: its
 * values are dropped when a row is mapped (mm_colmap_apply), exactly as a
 * fitted vocabulary ignores unknown words.  Each compact column also has a
 * scale (1 when not scaling): sparse features are scaled, never centred,
 * which would destroy the sparsity. */
typedef struct mm_colmap {
	uint64_t dim;      /* of the original rows */
	size_t m;
	uint32_t *col;     /* m original columns, increasing */
	float *scale;      /* m factors */
} mm_colmap;

/* The columns used by rows[0..nrows) of X (all rows when rows is NULL).
 * scale: each column divided by its standard deviation over those rows
 * (zeros included; a constant column keeps 1), as scikit-learn's
 * StandardScaler(with_mean=False); otherwise every scale is 1.  MM_ENOMEM;
 * MM_EVALUE when the rows have no non-zero at all. */
mm_status mm_colmap_fit(mm_colmap *cm, const mm_csr *X, const size_t *rows, size_t nrows,
		bool scale, mm_err *e);
/* Compact column of an original one, or -1 when unseen. */
int64_t mm_colmap_find(const mm_colmap *cm, uint32_t col);
/* out = rows[0..nrows) of X (all when rows is NULL) in the compact space,
 * scaled; unseen columns dropped.  out is reset first.  MM_ENOMEM. */
mm_status mm_colmap_apply(const mm_colmap *cm, const mm_csr *X, const size_t *rows,
		size_t nrows, mm_csr *out, mm_err *e);
void mm_colmap_free(mm_colmap *cm);
/* One row as the input of a sparse_linear layer (lib/nn/layer.h): out[2T]
 * gets the row's known columns as T (compact column, scaled value) pairs,
 * padded with (-1, 0).  Returns the number of known non-zeros; when it is
 * more than T only the first T are written and the caller reports it. */
size_t mm_colmap_pairs(const mm_colmap *cm, const uint32_t *idx, const float *val, size_t nnz,
		int T, float *out);

/* ---- kernels (X is n × d, row-major dense operands) ---- */
/* Z[n,K] += X · Wᵀ, W [K, d] (double: the L-BFGS models). */
void mm_csr_mul_wt(const mm_csr *X, const double *W, int K, double *Z);
/* G[K,d] += alpha · Rᵀ X, R [n, K]. */
void mm_csr_tmul(const mm_csr *X, const double *R, int K, double alpha, double *G);
/* Y[n,h] = X · Wt + b with Wt [d, h] (the first projection stored by input
 * column, so that a non-zero reads one contiguous row), b may be NULL. */
void mm_csr_linear_forward(const mm_csr *X, const float *Wt, const float *b, int h, float *Y);
/* dWt[d,h] += Xᵀ dY, db[h] += Σ_i dY[i] (db may be NULL). */
void mm_csr_linear_backward(const mm_csr *X, const float *dY, int h, float *dWt, float *db);

#endif
