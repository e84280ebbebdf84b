/* sparse.c — sparse vectors, CSR matrices, compact column maps, kernels. */
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mm_sparse_free(mm_sparse *s)
{
	free(s->idx);
	free(s->val);
	memset(s, 0, sizeof *s);
}

/* Grow the (index, value) arrays of a vector or a matrix to hold nnz pairs
 * (doubling from first). */
static mm_status grow_pairs(uint32_t **idx, float **val, size_t *cap, size_t nnz, size_t first,
		mm_err *e)
{
	if (nnz <= *cap)
		return MM_OK;
	size_t c = *cap ? *cap : first;
	while (c < nnz)
		c *= 2;
	uint32_t *i = realloc(*idx, c * sizeof *i);
	if (i)
		*idx = i;
	float *v = i ? realloc(*val, c * sizeof *v) : NULL;
	if (!v)
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu sparse values)", nnz);
	*val = v;
	*cap = c;
	return MM_OK;
}

mm_status mm_sparse_reserve(mm_sparse *s, size_t nnz, mm_err *e)
{
	return grow_pairs(&s->idx, &s->val, &s->cap, nnz, 16, e);
}

static const msgpack_object *get(const msgpack_object *o, const char *key)
{
	size_t len = strlen(key);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len &&
				!memcmp(k->via.str.ptr, key, len))
			return &o->via.map.ptr[i].val;
	}
	return NULL;
}

bool mm_obj_is_sparse(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 3 && get(o, "dim") &&
		get(o, "indices") && get(o, "values");
}

/* Number of entries of "indices" (4-byte bin elements or array items). */
static mm_status count(const msgpack_object *v, const char *key, size_t *n, mm_err *e)
{
	if (v->type == MSGPACK_OBJECT_BIN) {
		if (v->via.bin.size % 4)
			return mm_errf(e, MM_EVALUE, "sparse \"%s\": %u bytes is not a whole number of "
				"4-byte values", key, v->via.bin.size);
		*n = v->via.bin.size / 4;
		return MM_OK;
	}
	if (v->type == MSGPACK_OBJECT_ARRAY) {
		*n = v->via.array.size;
		return MM_OK;
	}
	return mm_errf(e, MM_ETYPE, "sparse \"%s\": expected a bin or an array, got %s", key,
		mm_obj_typename(v));
}

static uint32_t le32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

/* Element i of "indices" or "values" as a double; false when not a number. */
static bool elem(const msgpack_object *v, size_t i, bool is_float, double *out)
{
	if (v->type == MSGPACK_OBJECT_BIN) {
		uint32_t u = le32(v->via.bin.ptr + 4 * i);
		if (is_float) {
			float f;
			memcpy(&f, &u, 4);
			*out = f;
		} else {
			*out = u;
		}
		return true;
	}
	const msgpack_object *x = &v->via.array.ptr[i];
	switch (x->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)x->via.u64; return true;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)x->via.i64; return true;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: *out = x->via.f64; return true;
	default: return false;
	}
}

mm_status mm_sparse_from_obj(mm_sparse *s, const msgpack_object *o, mm_err *e)
{
	if (!mm_obj_is_sparse(o))
		return mm_errf(e, MM_ETYPE, "expected a sparse vector {\"dim\", \"indices\", \"values\"}, "
			"got %s", mm_obj_typename(o));
	const msgpack_object *d = get(o, "dim"), *iv = get(o, "indices"), *vv = get(o, "values");
	if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER || d->via.u64 < 1 ||
			d->via.u64 > MM_SPARSE_MAXDIM)
		return mm_errf(e, d->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? MM_EVALUE : MM_ETYPE,
			"sparse \"dim\": expected an integer in [1, 2^32], got %s",
			d->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? "a larger one" : mm_obj_typename(d));
	size_t ni, nv;
	mm_status st;
	if ((st = count(iv, "indices", &ni, e)) || (st = count(vv, "values", &nv, e)))
		return st;
	if (ni != nv)
		return mm_errf(e, MM_EVALUE, "sparse vector: %zu indices but %zu values", ni, nv);
	if ((st = mm_sparse_reserve(s, ni, e)))
		return st;
	s->dim = d->via.u64;
	s->nnz = 0;
	for (size_t i = 0; i < ni; i++) {
		double j, v;
		if (!elem(iv, i, false, &j) || j != floor(j) || j < 0)
			return mm_errf(e, MM_EVALUE, "sparse \"indices\"[%zu]: expected an integer >= 0", i);
		if (j >= (double)s->dim)
			return mm_errf(e, MM_EVALUE, "sparse \"indices\"[%zu]: %.0f is not below dim %llu",
				i, j, (unsigned long long)s->dim);
		if (i && j <= s->idx[i - 1])
			return mm_errf(e, MM_EVALUE, "sparse \"indices\"[%zu]: %.0f after %u (indices must "
				"be strictly increasing)", i, j, s->idx[i - 1]);
		if (!elem(vv, i, true, &v))
			return mm_errf(e, MM_ETYPE, "sparse \"values\"[%zu]: expected a number", i);
		if (!isfinite(v) || !isfinite((float)v))
			return mm_errf(e, MM_EVALUE, "sparse \"values\"[%zu]: %g is not a finite f32", i, v);
		s->idx[i] = (uint32_t)j;
		s->val[i] = (float)v;
		s->nnz++;
	}
	return MM_OK;
}

mm_status mm_rec_sparse(mm_rec *r, const char *key, mm_sparse *s, mm_err *e)
{
	char w[160];
	const msgpack_object *o = mm_rec_get(r, key);
	if (!o)
		return mm_errf(e, MM_MISSING, "%s: field \"%s\": missing", mm_rec_where(r, w, sizeof w), key);
	if (mm_obj_is_tensor(o))
		return mm_errf(e, MM_ETYPE, "%s: field \"%s\": expected a sparse vector {\"dim\", "
			"\"indices\", \"values\"}, got a dense tensor", mm_rec_where(r, w, sizeof w), key);
	mm_status st = mm_sparse_from_obj(s, o, e);
	if (st)
		mm_err_prefix(e, "%s: field \"%s\"", mm_rec_where(r, w, sizeof w), key);
	return st;
}

static msgpack_object str(const char *s)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_STR};
	o.via.str.ptr = s;
	o.via.str.size = (uint32_t)strlen(s);
	return o;
}

mm_status mm_rec_set_sparse(mm_rec *r, const char *key, const mm_sparse *s, mm_err *e)
{
	if (s->nnz > UINT32_MAX / 4)
		return mm_errf(e, MM_ELIMIT, "field \"%s\": sparse vector of %zu values is too large",
			key, s->nnz);
	size_t nb = s->nnz * 4;
	unsigned char *b = malloc(2 * nb + 1);
	if (!b)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->nnz; i++) {
		uint32_t u = s->idx[i], f;
		memcpy(&f, &s->val[i], 4);
		for (int k = 0; k < 4; k++) {
			b[4 * i + k] = (unsigned char)(u >> (8 * k));
			b[nb + 4 * i + k] = (unsigned char)(f >> (8 * k));
		}
	}
	msgpack_object_kv kv[3];
	kv[0].key = str("dim");
	kv[0].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	kv[0].val.via.u64 = s->dim;
	kv[1].key = str("indices");
	kv[1].val.type = MSGPACK_OBJECT_BIN;
	kv[1].val.via.bin.ptr = (const char *)b;
	kv[1].val.via.bin.size = (uint32_t)nb;
	kv[2].key = str("values");
	kv[2].val.type = MSGPACK_OBJECT_BIN;
	kv[2].val.via.bin.ptr = (const char *)b + nb;
	kv[2].val.via.bin.size = (uint32_t)nb;
	msgpack_object o = {.type = MSGPACK_OBJECT_MAP};
	o.via.map.ptr = kv;
	o.via.map.size = 3;
	mm_status st = mm_rec_set_obj(r, key, &o, e);
	free(b);
	return st;
}

int mm_sparse_pack(msgpack_packer *pk, const mm_sparse *s)
{
	unsigned char b[4];
	int rc = msgpack_pack_map(pk, 3);
	rc |= msgpack_pack_str_with_body(pk, "dim", 3);
	rc |= msgpack_pack_uint64(pk, s->dim);
	rc |= msgpack_pack_str_with_body(pk, "indices", 7);
	rc |= msgpack_pack_bin(pk, s->nnz * 4);
	for (size_t i = 0; i < s->nnz; i++) {
		for (int k = 0; k < 4; k++)
			b[k] = (unsigned char)(s->idx[i] >> (8 * k));
		rc |= msgpack_pack_bin_body(pk, b, 4);
	}
	rc |= msgpack_pack_str_with_body(pk, "values", 6);
	rc |= msgpack_pack_bin(pk, s->nnz * 4);
	for (size_t i = 0; i < s->nnz; i++) {
		uint32_t u;
		memcpy(&u, &s->val[i], 4);
		for (int k = 0; k < 4; k++)
			b[k] = (unsigned char)(u >> (8 * k));
		rc |= msgpack_pack_bin_body(pk, b, 4);
	}
	return rc;
}

void mm_sparse_l2_normalize(mm_sparse *s)
{
	double ss = 0;
	for (size_t i = 0; i < s->nnz; i++)
		ss += (double)s->val[i] * s->val[i];
	if (ss <= 0)
		return;
	double inv = 1.0 / sqrt(ss);
	for (size_t i = 0; i < s->nnz; i++)
		s->val[i] = (float)(s->val[i] * inv);
}

/* ---- CSR ---- */

static mm_status csr_reserve(mm_csr *m, size_t rows, size_t nnz, mm_err *e)
{
	if (rows + 1 > m->rcap) {
		size_t c = m->rcap ? 2 * m->rcap : 1024;
		while (c < rows + 1)
			c *= 2;
		size_t *p = realloc(m->ptr, c * sizeof *p);
		if (!p)
			return mm_errf(e, MM_ENOMEM, "out of memory (%zu sparse rows)", rows);
		m->ptr = p;
		m->rcap = c;
	}
	return grow_pairs(&m->idx, &m->val, &m->cap, nnz, 4096, e);
}

mm_status mm_csr_append(mm_csr *m, const mm_sparse *row, mm_err *e)
{
	if (m->n == 0)
		m->dim = row->dim;
	else if (row->dim != m->dim)
		return mm_errf(e, MM_EVALUE, "sparse dim %llu, but the earlier records have %llu",
			(unsigned long long)row->dim, (unsigned long long)m->dim);
	size_t at = mm_csr_nnz(m);
	mm_status st = csr_reserve(m, m->n + 1, at + row->nnz, e);
	if (st)
		return st;
	m->ptr[0] = 0;
	if (row->nnz) {
		memcpy(m->idx + at, row->idx, row->nnz * sizeof *m->idx);
		memcpy(m->val + at, row->val, row->nnz * sizeof *m->val);
	}
	m->ptr[++m->n] = at + row->nnz;
	return MM_OK;
}

void mm_csr_free(mm_csr *m)
{
	free(m->ptr);
	free(m->idx);
	free(m->val);
	memset(m, 0, sizeof *m);
}

/* ---- column maps ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

#define ROW(rows, k) ((rows) ? (rows)[k] : (k))

mm_status mm_colmap_fit(mm_colmap *cm, const mm_csr *X, const size_t *rows, size_t nrows,
		bool scale, mm_err *e)
{
	memset(cm, 0, sizeof *cm);
	cm->dim = X->dim;
	if (!rows)
		nrows = X->n;
	size_t tot = 0;
	for (size_t k = 0; k < nrows; k++)
		tot += X->ptr[ROW(rows, k) + 1] - X->ptr[ROW(rows, k)];
	if (!tot)
		return mm_errf(e, MM_EVALUE, "the %zu training rows have no non-zero feature", nrows);
	uint32_t *all = malloc(tot * sizeof *all);
	if (!all)
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu sparse values)", tot);
	size_t t = 0;
	for (size_t k = 0; k < nrows; k++) {
		size_t i = ROW(rows, k);
		memcpy(all + t, X->idx + X->ptr[i], (X->ptr[i + 1] - X->ptr[i]) * sizeof *all);
		t += X->ptr[i + 1] - X->ptr[i];
	}
	qsort(all, tot, sizeof *all, cmp_u32);
	size_t m = 0;
	for (size_t i = 0; i < tot; i++)
		if (!m || all[i] != all[m - 1])
			all[m++] = all[i];
	uint32_t *col = realloc(all, m * sizeof *col);
	cm->col = col ? col : all;
	cm->m = m;
	cm->scale = malloc(m * sizeof *cm->scale);
	double *s1 = scale ? calloc(m, sizeof *s1) : NULL, *s2 = scale ? calloc(m, sizeof *s2) : NULL;
	if (!cm->scale || (scale && (!s1 || !s2))) {
		free(s1), free(s2);
		mm_colmap_free(cm);
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu columns)", m);
	}
	for (size_t j = 0; j < m; j++)
		cm->scale[j] = 1.0f;
	if (scale) {
		for (size_t k = 0; k < nrows; k++) {
			size_t i = ROW(rows, k);
			for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
				size_t j = (size_t)mm_colmap_find(cm, X->idx[p]);
				s1[j] += X->val[p];
				s2[j] += (double)X->val[p] * X->val[p];
			}
		}
		for (size_t j = 0; j < m; j++) {
			double mean = s1[j] / (double)nrows, var = s2[j] / (double)nrows - mean * mean;
			double sd = var > 0 ? sqrt(var) : 0;
			cm->scale[j] = sd > 1e-12 ? (float)(1.0 / sd) : 1.0f;
		}
	}
	free(s1), free(s2);
	return MM_OK;
}

int64_t mm_colmap_find(const mm_colmap *cm, uint32_t col)
{
	size_t lo = 0, hi = cm->m;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cm->col[mid] < col)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cm->m && cm->col[lo] == col ? (int64_t)lo : -1;
}

mm_status mm_colmap_apply(const mm_colmap *cm, const mm_csr *X, const size_t *rows,
		size_t nrows, mm_csr *out, mm_err *e)
{
	if (!rows)
		nrows = X->n;
	size_t tot = 0;
	for (size_t k = 0; k < nrows; k++)
		tot += X->ptr[ROW(rows, k) + 1] - X->ptr[ROW(rows, k)];
	out->n = 0;
	mm_status st = csr_reserve(out, nrows, tot, e);
	if (st)
		return st;
	out->dim = cm->m;
	out->ptr[0] = 0;
	size_t t = 0;
	for (size_t k = 0; k < nrows; k++) {
		size_t i = ROW(rows, k);
		for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
			int64_t j = mm_colmap_find(cm, X->idx[p]);
			if (j < 0)
				continue;
			out->idx[t] = (uint32_t)j;  /* increasing: the map keeps the order */
			out->val[t++] = X->val[p] * cm->scale[j];
		}
		out->ptr[++out->n] = t;
	}
	return MM_OK;
}

size_t mm_colmap_pairs(const mm_colmap *cm, const uint32_t *idx, const float *val, size_t nnz,
		int T, float *out)
{
	size_t k = 0;
	for (size_t p = 0; p < nnz; p++) {
		int64_t j = mm_colmap_find(cm, idx[p]);
		if (j < 0)
			continue;
		if (k < (size_t)T) {
			out[2 * k] = (float)j;
			out[2 * k + 1] = val[p] * cm->scale[j];
		}
		k++;
	}
	for (size_t t = k; t < (size_t)T; t++) {
		out[2 * t] = -1.0f;
		out[2 * t + 1] = 0.0f;
	}
	return k;
}

void mm_colmap_free(mm_colmap *cm)
{
	free(cm->col);
	free(cm->scale);
	memset(cm, 0, sizeof *cm);
}

/* ---- kernels ---- */

void mm_csr_mul_wt(const mm_csr *X, const double *W, int K, double *Z)
{
	size_t d = X->dim;
	for (size_t i = 0; i < X->n; i++)
		for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
			double v = X->val[p];
			const double *w = W + X->idx[p];
			for (int k = 0; k < K; k++)
				Z[i * (size_t)K + (size_t)k] += v * w[(size_t)k * d];
		}
}

void mm_csr_tmul(const mm_csr *X, const double *R, int K, double alpha, double *G)
{
	size_t d = X->dim;
	for (size_t i = 0; i < X->n; i++)
		for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
			double v = alpha * X->val[p];
			double *g = G + X->idx[p];
			for (int k = 0; k < K; k++)
				g[(size_t)k * d] += v * R[i * (size_t)K + (size_t)k];
		}
}

void mm_csr_linear_forward(const mm_csr *X, const float *Wt, const float *b, int h, float *Y)
{
	for (size_t i = 0; i < X->n; i++) {
		float *y = Y + i * (size_t)h;
		for (int k = 0; k < h; k++)
			y[k] = b ? b[k] : 0.0f;
		for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
			float v = X->val[p];
			const float *w = Wt + (size_t)X->idx[p] * (size_t)h;
			for (int k = 0; k < h; k++)
				y[k] += v * w[k];
		}
	}
}

void mm_csr_linear_backward(const mm_csr *X, const float *dY, int h, float *dWt, float *db)
{
	for (size_t i = 0; i < X->n; i++) {
		const float *dy = dY + i * (size_t)h;
		if (db)
			for (int k = 0; k < h; k++)
				db[k] += dy[k];
		for (size_t p = X->ptr[i]; p < X->ptr[i + 1]; p++) {
			float v = X->val[p];
			float *g = dWt + (size_t)X->idx[p] * (size_t)h;
			for (int k = 0; k < h; k++)
				g[k] += v * dy[k];
		}
	}
}
