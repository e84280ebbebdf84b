/* record.h — one record of a stream: a msgpack map from string keys to values.
 *
 * Format and field conventions: man/mmoe-records.5.  In short, a record is a
 * msgpack map with string keys; `id` (string) names it; a *tensor* is a map
 *   {"dtype": "f32", "shape": [d0, d1, ...], "data": <bin, little-endian>}
 * so that any msgpack client can read it.  Readers accept dtypes f32, f64,
 * i8, i16, i32, i64, u8, u16, u32 and convert to float; writers write f32.
 * A plain msgpack array of numbers is also accepted where a tensor is read
 * (as a 1-D tensor).
 *
 * Ownership: an mm_rec owns a msgpack zone; every object its fields point to
 * lives in that zone (or in the unpacker buffer the zone keeps alive), so a
 * record stays valid after the reader moves on, until mm_rec_free().  Values
 * passed to setters are copied into the zone.  Strings returned by getters
 * point into the zone and are NUL-terminated; they die with the record.
 * Tensors returned by mm_rec_tensor() are malloc'ed, 64-byte aligned copies
 * owned by the caller (mm_tensor_free).
 */
#ifndef MM_RECORD_H
#define MM_RECORD_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define MM_MAXDIM 8

typedef struct mm_rec {
	msgpack_zone *zone;     /* owns the values */
	msgpack_object_kv *kv;  /* fields in stream order; keys are str objects */
	uint32_t n, cap;
	uint64_t index;         /* 0-based position in the input (set by readers) */
} mm_rec;

typedef struct mm_tensor {
	int ndim;
	int64_t shape[MM_MAXDIM];
	size_t n;        /* product of shape */
	float *data;     /* n floats, 64-byte aligned, owned (mm_tensor_free) */
} mm_tensor;

/* ---- life cycle ---- */
mm_rec *mm_rec_new(void);                   /* empty record; NULL on ENOMEM */
void mm_rec_free(mm_rec *r);                /* NULL is fine */
/* Take over a decoded map (used by the reader): zone becomes r's. */
mm_status mm_rec_from_object(mm_rec **out, msgpack_zone *zone,
		const msgpack_object *map, uint64_t index, mm_err *e);

/* ---- context for messages ---- */
/* The record's id, or NULL when it has none / it is not a string.
 * The pointer is into the zone, NUL-terminated. */
const char *mm_rec_id(mm_rec *r);
/* "record 12 (id \"a7\")" or "record 12 (no id)" into buf; returns buf. */
const char *mm_rec_where(mm_rec *r, char *buf, size_t size);

/* ---- raw access ---- */
/* The value of key, or NULL when absent. */
const msgpack_object *mm_rec_get(const mm_rec *r, const char *key);
bool mm_rec_has(const mm_rec *r, const char *key);
/* True when the field holds the scalar that text writes: a string equal to
 * text, an integer or a float equal to its decimal value, a boolean "true"
 * or "false".  Absent, nil, arrays, maps, bin and tensors never match.  For
 * selecting records by a field's value (mmoe-cat --where split=test). */
bool mm_rec_field_is(const mm_rec *r, const char *key, const char *text);
/* Human name of a msgpack type ("a string", "an integer", ...), for messages. */
const char *mm_obj_typename(const msgpack_object *o);
/* True if o looks like a tensor map (has dtype, shape and data). */
bool mm_obj_is_tensor(const msgpack_object *o);

/* ---- typed getters ----
 * Return MM_OK, MM_MISSING (field absent), MM_ETYPE or MM_EVALUE.  Every
 * error message (also for MM_MISSING) names the record and the field. */
mm_status mm_rec_str(mm_rec *r, const char *key, const char **out, mm_err *e);
/* Integers; a boolean reads as 0/1; a float with an integral value is accepted. */
mm_status mm_rec_int(mm_rec *r, const char *key, int64_t *out, mm_err *e);
/* A boolean-ish flag (--exclude-flag, --heldout, rus-split's flags): absent
 * or nil is false, anything mm_rec_int reads is true when non-zero. */
mm_status mm_rec_flag(mm_rec *r, const char *key, bool *out, mm_err *e);
/* A class label: a msgpack integer >= 0, and < nclasses when nclasses > 0.
 * Stricter than mm_rec_int: a boolean or a float (even 1.0) is MM_ETYPE, as
 * mmoe-records(5) says a label is an integer. */
mm_status mm_rec_label(mm_rec *r, const char *key, int64_t nclasses, int64_t *out, mm_err *e);
/* Any number (int or float); NaN/Inf are MM_EVALUE unless allow_nonfinite. */
mm_status mm_rec_num(mm_rec *r, const char *key, double *out, bool allow_nonfinite, mm_err *e);
/* A tensor (or a numeric array), converted to float.  finite: refuse NaN/Inf,
 * naming the first bad element.  The caller frees t with mm_tensor_free. */
mm_status mm_rec_tensor(mm_rec *r, const char *key, mm_tensor *t, bool finite, mm_err *e);
/* Same as mm_rec_tensor, and the tensor must hold exactly n values (any shape):
 * the common "feature vector of dimension n" case.  n == 0 accepts any. */
mm_status mm_rec_vec(mm_rec *r, const char *key, size_t n, mm_tensor *t, mm_err *e);

/* The dimension of a feature over many records, decided by the majority so
 * that an error blames the odd record, even when it is the first one.
 * Zero-initialise, add every record's length (with its mm_rec_where
 * text), then check. */
#define MM_DIMVOTE_MAX 4
typedef struct mm_dimvote {
	int n;                                   /* distinct lengths seen */
	size_t dim[MM_DIMVOTE_MAX];
	uint64_t count[MM_DIMVOTE_MAX];
	char where[MM_DIMVOTE_MAX][160];         /* the first record of each length */
} mm_dimvote;
/* Count a record whose field has len values.  A zero length, or more
 * distinct lengths than MM_DIMVOTE_MAX, is MM_EVALUE at once, naming the
 * record and the field. */
mm_status mm_dimvote_add(mm_dimvote *v, size_t len, const char *where, const char *field, mm_err *e);
/* The dimension when all records agree, else MM_EVALUE naming the first
 * record of a minority length ("…: expected 4 values, got 3 (dimension
 * mismatch: 7 of the 8 records have 4)").
 * MM_MISSING when no record was added. */
mm_status mm_dimvote_result(const mm_dimvote *v, const char *field, size_t *dim, mm_err *e);

/* ---- setters: replace the field if present, else append ---- */
mm_status mm_rec_set_str(mm_rec *r, const char *key, const char *s, mm_err *e);
mm_status mm_rec_set_strn(mm_rec *r, const char *key, const char *s, size_t len, mm_err *e);
mm_status mm_rec_set_int(mm_rec *r, const char *key, int64_t v, mm_err *e);
mm_status mm_rec_set_num(mm_rec *r, const char *key, double v, mm_err *e);
mm_status mm_rec_set_bool(mm_rec *r, const char *key, bool v, mm_err *e);
mm_status mm_rec_set_nil(mm_rec *r, const char *key, mm_err *e);
mm_status mm_rec_set_bin(mm_rec *r, const char *key, const void *p, size_t len, mm_err *e);
/* An f32 tensor of the given shape; data is copied. */
mm_status mm_rec_set_tensor(mm_rec *r, const char *key, const float *data,
		const int64_t *shape, int ndim, mm_err *e);
/* 1-D shorthand. */
mm_status mm_rec_set_vec(mm_rec *r, const char *key, const float *data, size_t n, mm_err *e);
/* Deep-copy any msgpack object into the record (e.g. from another record). */
mm_status mm_rec_set_obj(mm_rec *r, const char *key, const msgpack_object *o, mm_err *e);
/* Remove a field; absent is fine. */
void mm_rec_del(mm_rec *r, const char *key);
/* Keep only the listed fields (in record order). */
void mm_rec_keep(mm_rec *r, const char *const *keys, size_t nkeys);

/* Serialise the record as one msgpack map. */
int mm_rec_pack(const mm_rec *r, msgpack_packer *pk);

/* ---- tensors ---- */
mm_status mm_tensor_alloc(mm_tensor *t, const int64_t *shape, int ndim, mm_err *e);
void mm_tensor_free(mm_tensor *t);
/* Fill a tensor from a tensor-shaped object (used by mm_rec_tensor). */
mm_status mm_tensor_from_obj(mm_tensor *t, const msgpack_object *o, bool finite, mm_err *e);

#endif
