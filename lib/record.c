/* record.c — records as msgpack maps kept in their own zone; typed access. */
#include <errno.h>
#include "record.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ZONE_CHUNK 4096

mm_rec *mm_rec_new(void)
{
	mm_rec *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->zone = msgpack_zone_new(ZONE_CHUNK);
	r->cap = 16;
	r->kv = malloc(r->cap * sizeof *r->kv);
	if (!r->zone || !r->kv) {
		mm_rec_free(r);
		return NULL;
	}
	return r;
}

void mm_rec_free(mm_rec *r)
{
	if (!r)
		return;
	if (r->zone)
		msgpack_zone_free(r->zone);
	free(r->kv);
	free(r);
}

mm_status mm_rec_from_object(mm_rec **out, msgpack_zone *zone,
		const msgpack_object *map, uint64_t index, mm_err *e)
{
	*out = NULL;
	/* The message is built before the zone, which may hold the object, is freed. */
	if (map->type != MSGPACK_OBJECT_MAP) {
		mm_errf(e, MM_ETYPE, "record %llu: expected a map, got %s",
			(unsigned long long)index, mm_obj_typename(map));
		msgpack_zone_free(zone);
		return MM_ETYPE;
	}
	uint32_t n = map->via.map.size;
	for (uint32_t i = 0; i < n; i++) {
		if (map->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR) {
			mm_errf(e, MM_ETYPE, "record %llu: key %u is %s, expected a string",
				(unsigned long long)index, i, mm_obj_typename(&map->via.map.ptr[i].key));
			msgpack_zone_free(zone);
			return MM_ETYPE;
		}
	}
	mm_rec *r = calloc(1, sizeof *r);
	if (!r) {
		msgpack_zone_free(zone);
		return mm_errf(e, MM_ENOMEM, "record %llu: out of memory", (unsigned long long)index);
	}
	r->zone = zone;
	r->cap = n + 8;
	r->kv = malloc(r->cap * sizeof *r->kv);
	if (!r->kv) {
		mm_rec_free(r);
		return mm_errf(e, MM_ENOMEM, "record %llu: out of memory", (unsigned long long)index);
	}
	if (n)
		memcpy(r->kv, map->via.map.ptr, n * sizeof *r->kv);
	r->n = n;
	r->index = index;
	*out = r;
	return MM_OK;
}

static int keyeq(const msgpack_object *k, const char *key, size_t len)
{
	/* an empty key may have a NULL pointer, which memcmp must not see */
	return k->via.str.size == len && (len == 0 || memcmp(k->via.str.ptr, key, len) == 0);
}

static msgpack_object_kv *find(const mm_rec *r, const char *key)
{
	size_t len = strlen(key);
	for (uint32_t i = 0; i < r->n; i++)
		if (keyeq(&r->kv[i].key, key, len))
			return &r->kv[i];
	return NULL;
}

const msgpack_object *mm_rec_get(const mm_rec *r, const char *key)
{
	msgpack_object_kv *kv = find(r, key);
	return kv ? &kv->val : NULL;
}

bool mm_rec_has(const mm_rec *r, const char *key)
{
	return find(r, key) != NULL;
}

bool mm_rec_field_is(const mm_rec *r, const char *key, const char *text)
{
	const msgpack_object *o = mm_rec_get(r, key);
	if (!o)
		return false;
	char *end;
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return o->via.str.size == strlen(text) && !memcmp(o->via.str.ptr, text, o->via.str.size);
	case MSGPACK_OBJECT_BOOLEAN:
		return !strcmp(text, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER: {
		errno = 0;
		unsigned long long v = strtoull(text, &end, 10);
		return *text && *text != '-' && !*end && !errno && v == o->via.u64;
	}
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
		errno = 0;
		long long v = strtoll(text, &end, 10);
		return *text && !*end && !errno && v == o->via.i64;
	}
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		double v = strtod(text, &end);
		return *text && !*end && v == o->via.f64;
	}
	default:
		return false;
	}
}

static char *zstrdup(msgpack_zone *z, const char *s, size_t len)
{
	char *p = msgpack_zone_malloc_no_align(z, len + 1);
	if (p) {
		if (len)
			memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

const char *mm_rec_id(mm_rec *r)
{
	const msgpack_object *o = mm_rec_get(r, "id");
	if (!o || o->type != MSGPACK_OBJECT_STR)
		return NULL;
	return zstrdup(r->zone, o->via.str.ptr, o->via.str.size);
}

const char *mm_rec_where(mm_rec *r, char *buf, size_t size)
{
	const msgpack_object *o = mm_rec_get(r, "id");
	if (o && o->type == MSGPACK_OBJECT_STR) {
		char id[72];
		size_t n = o->via.str.size < 64 ? o->via.str.size : 64;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)o->via.str.ptr[i];
			id[i] = (c < 0x20 || c == 0x7f || c == '"') ? '?' : (char)c;
		}
		if (o->via.str.size > 64) {
			memcpy(id + 64, "...", 3);
			n = 67;
		}
		id[n] = 0;
		snprintf(buf, size, "record %llu (id \"%s\")", (unsigned long long)r->index, id);
	} else if (o) {
		snprintf(buf, size, "record %llu (id is %s, not a string)",
			(unsigned long long)r->index, mm_obj_typename(o));
	} else {
		snprintf(buf, size, "record %llu (no id)", (unsigned long long)r->index);
	}
	return buf;
}

const char *mm_obj_typename(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: return "a float";
	case MSGPACK_OBJECT_STR: return "a string";
	case MSGPACK_OBJECT_BIN: return "binary data";
	case MSGPACK_OBJECT_ARRAY: return "an array";
	case MSGPACK_OBJECT_MAP: return mm_obj_is_tensor(o) ? "a tensor" : "a map";
	case MSGPACK_OBJECT_EXT: return "an extension value";
	}
	return "an unknown type";
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
	size_t len = strlen(key);
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR && keyeq(&kv->key, key, len))
			return &kv->val;
	}
	return NULL;
}

bool mm_obj_is_tensor(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_MAP && map_get(o, "dtype") && map_get(o, "shape") &&
		map_get(o, "data");
}

/* ---- typed getters ---- */

static mm_status field_err(mm_rec *r, const char *key, mm_err *e, mm_status st,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static mm_status field_err(mm_rec *r, const char *key, mm_err *e, mm_status st,
		const char *fmt, ...)
{
	char where[160], what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return mm_errf(e, st, "%s: field \"%s\": %s", mm_rec_where(r, where, sizeof where), key, what);
}

static const msgpack_object *need(mm_rec *r, const char *key, mm_err *e)
{
	const msgpack_object *o = mm_rec_get(r, key);
	if (!o) {
		char where[160];
		mm_errf(e, MM_MISSING, "%s: missing field \"%s\"", mm_rec_where(r, where, sizeof where), key);
	}
	return o;
}

mm_status mm_rec_str(mm_rec *r, const char *key, const char **out, mm_err *e)
{
	const msgpack_object *o = need(r, key, e);
	if (!o)
		return MM_MISSING;
	if (o->type != MSGPACK_OBJECT_STR)
		return field_err(r, key, e, MM_ETYPE, "expected a string, got %s", mm_obj_typename(o));
	*out = zstrdup(r->zone, o->via.str.ptr, o->via.str.size);
	if (!*out)
		return field_err(r, key, e, MM_ENOMEM, "out of memory");
	return MM_OK;
}

mm_status mm_rec_int(mm_rec *r, const char *key, int64_t *out, mm_err *e)
{
	const msgpack_object *o = need(r, key, e);
	if (!o)
		return MM_MISSING;
	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		*out = o->via.boolean;
		return MM_OK;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			return field_err(r, key, e, MM_EVALUE, "integer %llu is too large",
				(unsigned long long)o->via.u64);
		*out = (int64_t)o->via.u64;
		return MM_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*out = o->via.i64;
		return MM_OK;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		double d = o->via.f64;
		if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
			return field_err(r, key, e, MM_EVALUE, "expected an integer, got %g", d);
		*out = (int64_t)d;
		return MM_OK;
	}
	default:
		return field_err(r, key, e, MM_ETYPE, "expected an integer, got %s", mm_obj_typename(o));
	}
}

mm_status mm_rec_flag(mm_rec *r, const char *key, bool *out, mm_err *e)
{
	const msgpack_object *o = mm_rec_get(r, key);
	*out = false;
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return MM_OK;
	int64_t v;
	mm_status st = mm_rec_int(r, key, &v, e);
	if (st == MM_OK)
		*out = v != 0;
	return st;
}

mm_status mm_rec_label(mm_rec *r, const char *key, int64_t nclasses, int64_t *out, mm_err *e)
{
	const msgpack_object *o = need(r, key, e);
	if (!o)
		return MM_MISSING;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return field_err(r, key, e, MM_EVALUE, "expected a class >= 0, got %lld",
			(long long)o->via.i64);
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
			return field_err(r, key, e, MM_ETYPE, "expected an integer, got the float %g",
				o->via.f64);
		return field_err(r, key, e, MM_ETYPE, "expected an integer, got %s", mm_obj_typename(o));
	}
	if (nclasses > 0 && o->via.u64 >= (uint64_t)nclasses)
		return field_err(r, key, e, MM_EVALUE, "class %llu is outside 0..%lld",
			(unsigned long long)o->via.u64, (long long)nclasses - 1);
	if (o->via.u64 > INT32_MAX)
		return field_err(r, key, e, MM_EVALUE, "class %llu is too large",
			(unsigned long long)o->via.u64);
	*out = (int64_t)o->via.u64;
	return MM_OK;
}

mm_status mm_rec_num(mm_rec *r, const char *key, double *out, bool allow_nonfinite, mm_err *e)
{
	const msgpack_object *o = need(r, key, e);
	if (!o)
		return MM_MISSING;
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*out = (double)o->via.u64;
		return MM_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*out = (double)o->via.i64;
		return MM_OK;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*out = o->via.f64;
		if (!allow_nonfinite && !isfinite(*out))
			return field_err(r, key, e, MM_EVALUE, "value is %s, expected a finite number",
				isnan(*out) ? "NaN" : "infinite");
		return MM_OK;
	default:
		return field_err(r, key, e, MM_ETYPE, "expected a number, got %s", mm_obj_typename(o));
	}
}

/* ---- tensors ---- */

mm_status mm_tensor_alloc(mm_tensor *t, const int64_t *shape, int ndim, mm_err *e)
{
	size_t n = 1;
	memset(t, 0, sizeof *t);
	if (ndim < 0 || ndim > MM_MAXDIM)
		return mm_errf(e, MM_EVALUE, "tensor has %d dimensions, at most %d allowed", ndim, MM_MAXDIM);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return mm_errf(e, MM_EVALUE, "tensor dimension %d is negative", i);
		if (shape[i] && n > SIZE_MAX / 8 / (size_t)shape[i])
			return mm_errf(e, MM_ELIMIT, "tensor shape overflows");
		n *= (size_t)shape[i];
		t->shape[i] = shape[i];
	}
	t->ndim = ndim;
	t->n = n;
	t->data = mm_alloc_aligned(n ? n : 1, sizeof(float));
	if (!t->data)
		return mm_errf(e, MM_ENOMEM, "out of memory for a tensor of %zu values", n);
	return MM_OK;
}

void mm_tensor_free(mm_tensor *t)
{
	if (!t)
		return;
	free(t->data);
	t->data = NULL;
	t->n = 0;
	t->ndim = 0;
}

static const struct dtype {
	const char *name;
	size_t size;
} dtypes[] = {
	{"f32", 4}, {"f64", 8}, {"i8", 1}, {"i16", 2}, {"i32", 4}, {"i64", 8},
	{"u8", 1}, {"u16", 2}, {"u32", 4},
};

/* Little-endian loads that do not assume alignment of the bin payload. */
static uint64_t load_le(const unsigned char *p, size_t size)
{
	uint64_t v = 0;
	for (size_t i = 0; i < size; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static float convert(const unsigned char *p, int dt)
{
	uint64_t v;
	switch (dt) {
	case 0: {
		uint32_t u = (uint32_t)load_le(p, 4);
		float f;
		memcpy(&f, &u, 4);
		return f;
	}
	case 1: {
		v = load_le(p, 8);
		double d;
		memcpy(&d, &v, 8);
		return (float)d;
	}
	case 2: return (float)(int8_t)p[0];
	case 3: return (float)(int16_t)load_le(p, 2);
	case 4: return (float)(int32_t)load_le(p, 4);
	case 5: return (float)(int64_t)load_le(p, 8);
	case 6: return (float)p[0];
	case 7: return (float)(uint16_t)load_le(p, 2);
	case 8: return (float)(uint32_t)load_le(p, 4);
	}
	return 0;
}

static mm_status check_finite(const mm_tensor *t, mm_err *e)
{
	for (size_t i = 0; i < t->n; i++)
		if (!isfinite(t->data[i]))
			return mm_errf(e, MM_EVALUE, "element %zu is %s, expected finite values", i,
				isnan(t->data[i]) ? "NaN" : "infinite");
	return MM_OK;
}

/* The keys of a dense tensor map: exactly "dtype", "shape" and "data", each
 * once (mmoe-records(5)).  Another tensor kind gets its own function with its
 * own documented keys; this one stays the dense check. */
static mm_status dense_tensor_keys(const msgpack_object *o, const msgpack_object **dt,
		const msgpack_object **sh, const msgpack_object **da, mm_err *e)
{
	*dt = map_get(o, "dtype");
	*sh = map_get(o, "shape");
	*da = map_get(o, "data");
	if (!*dt || !*sh || !*da)
		return mm_errf(e, MM_ETYPE, "expected a tensor (a map with dtype, shape, data), got a map without \"%s\"",
			!*dt ? "dtype" : !*sh ? "shape" : "data");
	if (o->via.map.size == 3)
		return MM_OK;
	static const char *const names[3] = {"dtype", "shape", "data"};
	bool seen[3] = {false, false, false};
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR)
			return mm_errf(e, MM_EVALUE, "tensor map key %u is %s; a tensor has exactly the keys "
				"dtype, shape and data", i, mm_obj_typename(k));
		int w = -1;
		for (int j = 0; j < 3; j++)
			if (keyeq(k, names[j], strlen(names[j])))
				w = j;
		if (w < 0)
			return mm_errf(e, MM_EVALUE, "tensor map has the extra key \"%.*s\"; a tensor has "
				"exactly the keys dtype, shape and data",
				(int)(k->via.str.size > 32 ? 32 : k->via.str.size), k->via.str.ptr);
		if (seen[w])
			return mm_errf(e, MM_EVALUE, "tensor map has the key \"%s\" twice", names[w]);
		seen[w] = true;
	}
	return MM_OK;
}

mm_status mm_tensor_from_obj(mm_tensor *t, const msgpack_object *o, bool finite, mm_err *e)
{
	mm_status st;
	memset(t, 0, sizeof *t);
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		int64_t shape[1] = {o->via.array.size};
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			const msgpack_object *x = &o->via.array.ptr[i];
			if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER && x->type != MSGPACK_OBJECT_NEGATIVE_INTEGER &&
					x->type != MSGPACK_OBJECT_FLOAT32 && x->type != MSGPACK_OBJECT_FLOAT64)
				return mm_errf(e, MM_ETYPE, "array element %u is %s, expected a number", i,
					mm_obj_typename(x));
		}
		if ((st = mm_tensor_alloc(t, shape, 1, e)) != MM_OK)
			return st;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			const msgpack_object *x = &o->via.array.ptr[i];
			t->data[i] = x->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (float)x->via.u64 :
				x->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (float)x->via.i64 : (float)x->via.f64;
		}
		goto done;
	}
	if (o->type != MSGPACK_OBJECT_MAP)
		return mm_errf(e, MM_ETYPE, "expected a tensor, got %s", mm_obj_typename(o));
	const msgpack_object *dt, *sh, *da;
	if ((st = dense_tensor_keys(o, &dt, &sh, &da, e)) != MM_OK)
		return st;
	if (dt->type != MSGPACK_OBJECT_STR)
		return mm_errf(e, MM_ETYPE, "tensor dtype is %s, expected a string", mm_obj_typename(dt));
	int k = -1;
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (keyeq(dt, dtypes[i].name, strlen(dtypes[i].name)))
			k = (int)i;
	if (k < 0)
		return mm_errf(e, MM_EVALUE, "tensor dtype \"%.*s\" is not one of f32 f64 i8 i16 i32 i64 u8 u16 u32",
			(int)(dt->via.str.size > 16 ? 16 : dt->via.str.size), dt->via.str.ptr);
	if (sh->type != MSGPACK_OBJECT_ARRAY)
		return mm_errf(e, MM_ETYPE, "tensor shape is %s, expected an array", mm_obj_typename(sh));
	if (sh->via.array.size > MM_MAXDIM)
		return mm_errf(e, MM_EVALUE, "tensor has %u dimensions, at most %d allowed",
			sh->via.array.size, MM_MAXDIM);
	int64_t shape[MM_MAXDIM];
	size_t n = 1;
	for (uint32_t i = 0; i < sh->via.array.size; i++) {
		const msgpack_object *d = &sh->via.array.ptr[i];
		if (d->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return mm_errf(e, MM_EVALUE, "tensor shape[%u] is %s, expected a non-negative integer",
				i, mm_obj_typename(d));
		if (d->via.u64 > (1ULL << 40) || (d->via.u64 && n > (SIZE_MAX >> 4) / d->via.u64))
			return mm_errf(e, MM_EVALUE, "tensor shape[%u] = %llu is absurd", i,
				(unsigned long long)d->via.u64);
		shape[i] = (int64_t)d->via.u64;
		n *= (size_t)d->via.u64;
	}
	if (da->type != MSGPACK_OBJECT_BIN)
		return mm_errf(e, MM_ETYPE, "tensor data is %s, expected binary data", mm_obj_typename(da));
	if (da->via.bin.size != n * dtypes[k].size)
		return mm_errf(e, MM_EVALUE, "tensor data has %u bytes, but shape needs %zu values of %s (%zu bytes)",
			da->via.bin.size, n, dtypes[k].name, n * dtypes[k].size);
	if ((st = mm_tensor_alloc(t, shape, (int)sh->via.array.size, e)) != MM_OK)
		return st;
	const unsigned char *p = (const unsigned char *)da->via.bin.ptr;
	if (k == 0) {
		/* The common case: f32 on a little-endian host is a plain copy. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		memcpy(t->data, p, n * 4);
#else
		for (size_t i = 0; i < n; i++)
			t->data[i] = convert(p + 4 * i, 0);
#endif
	} else {
		for (size_t i = 0; i < n; i++)
			t->data[i] = convert(p + dtypes[k].size * i, k);
	}
done:
	if (finite && (st = check_finite(t, e)) != MM_OK) {
		mm_tensor_free(t);
		return st;
	}
	return MM_OK;
}

mm_status mm_rec_tensor(mm_rec *r, const char *key, mm_tensor *t, bool finite, mm_err *e)
{
	const msgpack_object *o = need(r, key, e);
	memset(t, 0, sizeof *t);
	if (!o)
		return MM_MISSING;
	mm_status st = mm_tensor_from_obj(t, o, finite, e);
	if (st != MM_OK) {
		char where[160];
		mm_err_prefix(e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), key);
	}
	return st;
}

mm_status mm_rec_vec(mm_rec *r, const char *key, size_t n, mm_tensor *t, mm_err *e)
{
	mm_status st = mm_rec_tensor(r, key, t, true, e);
	if (st != MM_OK)
		return st;
	if (n && t->n != n) {
		size_t got = t->n;
		mm_tensor_free(t);
		return field_err(r, key, e, MM_EVALUE, "expected %zu values, got %zu (dimension mismatch)", n, got);
	}
	return MM_OK;
}

/* ---- setters ---- */

static mm_status put(mm_rec *r, const char *key, const msgpack_object *val, mm_err *e)
{
	msgpack_object_kv *kv = find(r, key);
	if (kv) {
		kv->val = *val;
		return MM_OK;
	}
	if (r->n == r->cap) {
		uint32_t ncap = r->cap ? r->cap * 2 : 16;
		msgpack_object_kv *nkv = realloc(r->kv, ncap * sizeof *nkv);
		if (!nkv)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		r->kv = nkv;
		r->cap = ncap;
	}
	size_t len = strlen(key);
	char *k = zstrdup(r->zone, key, len);
	if (!k)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	kv = &r->kv[r->n++];
	kv->key.type = MSGPACK_OBJECT_STR;
	kv->key.via.str.ptr = k;
	kv->key.via.str.size = (uint32_t)len;
	kv->val = *val;
	return MM_OK;
}

mm_status mm_rec_set_strn(mm_rec *r, const char *key, const char *s, size_t len, mm_err *e)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_STR};
	if (len > UINT32_MAX)
		return mm_errf(e, MM_ELIMIT, "field \"%s\": string too long", key);
	char *p = zstrdup(r->zone, s, len);
	if (!p)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	o.via.str.ptr = p;
	o.via.str.size = (uint32_t)len;
	return put(r, key, &o, e);
}

mm_status mm_rec_set_str(mm_rec *r, const char *key, const char *s, mm_err *e)
{
	return mm_rec_set_strn(r, key, s, strlen(s), e);
}

mm_status mm_rec_set_int(mm_rec *r, const char *key, int64_t v, mm_err *e)
{
	msgpack_object o;
	if (v >= 0) {
		o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		o.via.u64 = (uint64_t)v;
	} else {
		o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
		o.via.i64 = v;
	}
	return put(r, key, &o, e);
}

mm_status mm_rec_set_num(mm_rec *r, const char *key, double v, mm_err *e)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64};
	o.via.f64 = v;
	return put(r, key, &o, e);
}

mm_status mm_rec_set_bool(mm_rec *r, const char *key, bool v, mm_err *e)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_BOOLEAN};
	o.via.boolean = v;
	return put(r, key, &o, e);
}

mm_status mm_rec_set_nil(mm_rec *r, const char *key, mm_err *e)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_NIL};
	return put(r, key, &o, e);
}

mm_status mm_rec_set_bin(mm_rec *r, const char *key, const void *p, size_t len, mm_err *e)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_BIN};
	if (len > UINT32_MAX)
		return mm_errf(e, MM_ELIMIT, "field \"%s\": binary value too long", key);
	void *q = msgpack_zone_malloc(r->zone, len ? len : 1);
	if (!q)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	if (len)
		memcpy(q, p, len);
	o.via.bin.ptr = q;
	o.via.bin.size = (uint32_t)len;
	return put(r, key, &o, e);
}

static msgpack_object mkstr(const char *s)
{
	msgpack_object o = {.type = MSGPACK_OBJECT_STR};
	o.via.str.ptr = s;
	o.via.str.size = (uint32_t)strlen(s);
	return o;
}

mm_status mm_rec_set_tensor(mm_rec *r, const char *key, const float *data,
		const int64_t *shape, int ndim, mm_err *e)
{
	size_t n = 1;
	if (ndim < 0 || ndim > MM_MAXDIM)
		return mm_errf(e, MM_EVALUE, "field \"%s\": tensor has %d dimensions", key, ndim);
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return mm_errf(e, MM_EVALUE, "field \"%s\": negative tensor dimension", key);
		if (shape[i] && n > (SIZE_MAX / 4) / (size_t)shape[i])
			return mm_errf(e, MM_ELIMIT, "field \"%s\": tensor shape overflows", key);
		n *= (size_t)shape[i];
	}
	if (n * 4 > UINT32_MAX)
		return mm_errf(e, MM_ELIMIT, "field \"%s\": tensor of %zu values is too large for one record", key, n);
	msgpack_object_kv *kv = msgpack_zone_malloc(r->zone, 3 * sizeof *kv);
	msgpack_object *dims = msgpack_zone_malloc(r->zone, (ndim ? ndim : 1) * sizeof *dims);
	unsigned char *bytes = msgpack_zone_malloc(r->zone, n ? n * 4 : 1);
	if (!kv || !dims || !bytes)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (int i = 0; i < ndim; i++) {
		dims[i].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		dims[i].via.u64 = (uint64_t)shape[i];
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n)
		memcpy(bytes, data, n * 4);
#else
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &data[i], 4);
		for (int b = 0; b < 4; b++)
			bytes[4 * i + b] = (unsigned char)(u >> (8 * b));
	}
#endif
	kv[0].key = mkstr("dtype");
	kv[0].val = mkstr("f32");
	kv[1].key = mkstr("shape");
	kv[1].val.type = MSGPACK_OBJECT_ARRAY;
	kv[1].val.via.array.ptr = dims;
	kv[1].val.via.array.size = (uint32_t)ndim;
	kv[2].key = mkstr("data");
	kv[2].val.type = MSGPACK_OBJECT_BIN;
	kv[2].val.via.bin.ptr = (const char *)bytes;
	kv[2].val.via.bin.size = (uint32_t)(n * 4);
	msgpack_object o = {.type = MSGPACK_OBJECT_MAP};
	o.via.map.ptr = kv;
	o.via.map.size = 3;
	return put(r, key, &o, e);
}

mm_status mm_rec_set_vec(mm_rec *r, const char *key, const float *data, size_t n, mm_err *e)
{
	int64_t shape[1] = {(int64_t)n};
	return mm_rec_set_tensor(r, key, data, shape, 1, e);
}

static int clone(msgpack_zone *z, msgpack_object *dst, const msgpack_object *src)
{
	*dst = *src;
	switch (src->type) {
	case MSGPACK_OBJECT_STR:
	case MSGPACK_OBJECT_BIN: {
		uint32_t n = src->via.str.size;
		char *p = msgpack_zone_malloc(z, n ? n : 1);
		if (!p)
			return -1;
		if (n)
			memcpy(p, src->via.str.ptr, n);
		dst->via.str.ptr = p;
		return 0;
	}
	case MSGPACK_OBJECT_EXT: {
		uint32_t n = src->via.ext.size;
		char *p = msgpack_zone_malloc(z, n ? n : 1);
		if (!p)
			return -1;
		if (n)
			memcpy(p, src->via.ext.ptr, n);
		dst->via.ext.ptr = p;
		return 0;
	}
	case MSGPACK_OBJECT_ARRAY: {
		uint32_t n = src->via.array.size;
		msgpack_object *a = msgpack_zone_malloc(z, (n ? n : 1) * sizeof *a);
		if (!a)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (clone(z, &a[i], &src->via.array.ptr[i]))
				return -1;
		dst->via.array.ptr = a;
		return 0;
	}
	case MSGPACK_OBJECT_MAP: {
		uint32_t n = src->via.map.size;
		msgpack_object_kv *a = msgpack_zone_malloc(z, (n ? n : 1) * sizeof *a);
		if (!a)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			if (clone(z, &a[i].key, &src->via.map.ptr[i].key) ||
					clone(z, &a[i].val, &src->via.map.ptr[i].val))
				return -1;
		dst->via.map.ptr = a;
		return 0;
	}
	default:
		return 0;
	}
}

mm_status mm_rec_set_obj(mm_rec *r, const char *key, const msgpack_object *o, mm_err *e)
{
	msgpack_object c;
	if (clone(r->zone, &c, o))
		return mm_errf(e, MM_ENOMEM, "out of memory");
	return put(r, key, &c, e);
}

void mm_rec_del(mm_rec *r, const char *key)
{
	msgpack_object_kv *kv = find(r, key);
	if (!kv)
		return;
	size_t i = (size_t)(kv - r->kv);
	memmove(&r->kv[i], &r->kv[i + 1], (r->n - i - 1) * sizeof *kv);
	r->n--;
}

void mm_rec_keep(mm_rec *r, const char *const *keys, size_t nkeys)
{
	uint32_t j = 0;
	for (uint32_t i = 0; i < r->n; i++) {
		bool keep = false;
		for (size_t k = 0; k < nkeys && !keep; k++)
			keep = keyeq(&r->kv[i].key, keys[k], strlen(keys[k]));
		if (keep)
			r->kv[j++] = r->kv[i];
	}
	r->n = j;
}

int mm_rec_pack(const mm_rec *r, msgpack_packer *pk)
{
	if (msgpack_pack_map(pk, r->n))
		return -1;
	for (uint32_t i = 0; i < r->n; i++)
		if (msgpack_pack_object(pk, r->kv[i].key) || msgpack_pack_object(pk, r->kv[i].val))
			return -1;
	return 0;
}

mm_status mm_dimvote_add(mm_dimvote *v, size_t len, const char *where, const char *field, mm_err *e)
{
	if (len == 0)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": empty feature vector", where, field);
	for (int k = 0; k < v->n; k++)
		if (v->dim[k] == len) {
			v->count[k]++;
			return MM_OK;
		}
	if (v->n == MM_DIMVOTE_MAX)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": %zu values, the %dth different length",
				where, field, len, MM_DIMVOTE_MAX + 1);
	v->dim[v->n] = len;
	v->count[v->n] = 1;
	snprintf(v->where[v->n], sizeof v->where[v->n], "%s", where);
	v->n++;
	return MM_OK;
}

mm_status mm_dimvote_result(const mm_dimvote *v, const char *field, size_t *dim, mm_err *e)
{
	if (v->n == 0)
		return MM_MISSING;
	int best = 0; /* the most common length; the first seen on a tie */
	for (int k = 1; k < v->n; k++)
		if (v->count[k] > v->count[best])
			best = k;
	*dim = v->dim[best];
	if (v->n == 1)
		return MM_OK;
	int odd = best == 0 ? 1 : 0; /* the earliest minority length */
	uint64_t total = 0;
	for (int k = 0; k < v->n; k++)
		total += v->count[k];
	return mm_errf(e, MM_EVALUE, "%s: field \"%s\": expected %zu values, got %zu (dimension mismatch: "
			"%llu of the %llu records have %zu)", v->where[odd], field, v->dim[best], v->dim[odd],
			(unsigned long long)v->count[best], (unsigned long long)total, v->dim[best]);
}
