/* mmoe-cat — concatenate, check and inspect record streams.
 *
 * Without --json it is a pass-through: records are decoded and written again
 * (zstd level from -l or MMOE_ZSTD_LEVEL), so it also recompresses, joins
 * streams and cuts them (--head, --fields).  With --json it prints one JSON
 * object per record (JSON Lines) for jq and friends; the mapping is in
 * man/mmoe-cat.1 and must stay in step with mmoe-import, which reads it back.
 *
 * The JSON writer is our own rather than jansson's dump: we want numbers
 * printed in their shortest exact form (0.1, not 0.10000000000000001; a f32
 * 0.1 as 0.1, not 0.10000000149011612), unsigned 64-bit integers exact, and
 * strings with invalid UTF-8 repaired rather than refused.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "record.h"
#include "rng.h"
#include "sparse.h"
#include "stream.h"
#include "util.h"

/* ---- a growable output buffer ---- */
typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->n + more)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		cli_die(MM_EXIT_USAGE, "out of memory");
	b->p = p;
	b->cap = cap;
}

static void sb_putn(sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_putc(sbuf *b, char c)
{
	sb_reserve(b, 1);
	b->p[b->n++] = c;
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void sb_base64(sbuf *b, const unsigned char *s, size_t n)
{
	sb_reserve(b, (n + 2) / 3 * 4);
	char *o = b->p + b->n;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->n = (size_t)(o - b->p);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void sb_jstr(sbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	sb_reserve(b, n + 2);
	sb_putc(b, '"');
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			size_t j = i;
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\')
				j++;
			sb_putn(b, str + i, j - i);
			i = j;
			continue;
		}
		if (c < 0x80) {
			char esc[8];
			switch (c) {
			case '"': sb_puts(b, "\\\""); break;
			case '\\': sb_puts(b, "\\\\"); break;
			case '\n': sb_puts(b, "\\n"); break;
			case '\t': sb_puts(b, "\\t"); break;
			case '\r': sb_puts(b, "\\r"); break;
			case '\b': sb_puts(b, "\\b"); break;
			case '\f': sb_puts(b, "\\f"); break;
			default:
				snprintf(esc, sizeof esc, "\\u%04x", c);
				sb_puts(b, esc);
			}
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (len) {
			sb_putn(b, str + i, len);
			i += len;
		} else {
			sb_puts(b, "\\ufffd");
			i++;
		}
	}
	sb_putc(b, '"');
}

/* Non-finite numbers have no JSON form: they are written as the strings
 * "NaN", "Infinity" and "-Infinity" (which mmoe-import reads back in tensors). */
static int sb_nonfinite(sbuf *b, double v)
{
	if (isnan(v))
		sb_puts(b, "\"NaN\"");
	else if (isinf(v))
		sb_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	else
		return 0;
	return 1;
}

/* A float keeps a '.' or an exponent so that it reads back as a float. */
static void sb_numtext(sbuf *b, const char *t)
{
	sb_puts(b, t);
	if (!strpbrk(t, ".e"))
		sb_puts(b, ".0");
}

/* Shortest decimal that reads back as exactly v. */
static void sb_double(sbuf *b, double v)
{
	char t[40];
	if (sb_nonfinite(b, v))
		return;
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(t, sizeof t, "%.*g", prec, v);
		if (prec == 17 || strtod(t, NULL) == v)
			break;
	}
	sb_numtext(b, t);
}

static void sb_float(sbuf *b, float v)
{
	char t[40];
	if (sb_nonfinite(b, v))
		return;
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(t, sizeof t, "%.*g", prec, (double)v);
		if (prec == 9 || strtof(t, NULL) == v)
			break;
	}
	sb_numtext(b, t);
}

static void sb_u64(sbuf *b, unsigned long long v)
{
	char t[24];
	snprintf(t, sizeof t, "%llu", v);
	sb_puts(b, t);
}

static void sb_i64(sbuf *b, long long v)
{
	char t[24];
	snprintf(t, sizeof t, "%lld", v);
	sb_puts(b, t);
}

/* ---- options and state ---- */
static struct {
	bool json, brief, count, check, force;
	bool head_set;
	uint64_t head;
	bool shard_set, seq, merge;
	uint64_t shard_k, shard_n;
	uint64_t nshards;   /* --shards N: every shard, each to its file */
	char **fields;
	size_t nfields;
	char **where;     /* FIELD=VALUE, split at the '=' */
	const char **where_val;
	size_t nwhere;
	const char *libsvm, *label;  /* --libsvm FIELD, --label FIELD */
	const char *out;
	int level;
} opt = {.level = MM_LEVEL_DEFAULT, .label = "label"};

/* The current input and record, for messages: "in.zst: record 3 (id "a")". */
static mm_reader *cur_rd;
static mm_rec *cur_rec;

static noreturn void die_field(const char *field, mm_err *e)
{
	char w[512];
	mm_err_prefix(e, "%s: %s: field \"%s\"", mm_reader_name(cur_rd),
		mm_rec_where(cur_rec, w, sizeof w), field);
	cli_die_err(e);
}

/* ---- tensors ---- */
static const msgpack_object *map_get(const msgpack_object *o, const char *key)
{
	size_t klen = strlen(key);
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
				memcmp(k->via.str.ptr, key, klen) == 0)
			return &o->via.map.ptr[i].val;
	}
	return NULL;
}

static uint64_t le(const unsigned char *p, int size)
{
	uint64_t v = 0;
	for (int i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Print element i of a raw little-endian tensor of the given dtype. */
static void sb_elem(sbuf *b, const char *dt, const unsigned char *p, size_t i)
{
	switch (dt[0]) {
	case 'f':
		if (dt[1] == '3') {
			uint32_t u = (uint32_t)le(p + 4 * i, 4);
			float f;
			memcpy(&f, &u, 4);
			sb_float(b, f);
		} else {
			uint64_t u = le(p + 8 * i, 8);
			double d;
			memcpy(&d, &u, 8);
			sb_double(b, d);
		}
		return;
	case 'i': {
		int bits = atoi(dt + 1);
		uint64_t u = le(p + (size_t)bits / 8 * i, bits / 8);
		if (bits < 64 && (u >> (bits - 1)) & 1)
			u |= ~(uint64_t)0 << bits;   /* sign-extend */
		sb_i64(b, (long long)(int64_t)u);
		return;
	}
	default: { /* u8, u16, u32 */
		int bits = atoi(dt + 1);
		sb_u64(b, le(p + (size_t)bits / 8 * i, bits / 8));
		return;
	}
	}
}

/* A tensor as {"dtype","shape","data":[...]} or, with --brief,
 * {"dtype","shape","min","max","mean"} (+"nonfinite" when there are any). */
static void sb_tensor(sbuf *b, const msgpack_object *o, const char *field)
{
	mm_tensor t;
	mm_err e;
	if (mm_tensor_from_obj(&t, o, false, &e) != MM_OK)
		die_field(field, &e);
	const msgpack_object *dt = map_get(o, "dtype"), *data = map_get(o, "data");
	sb_puts(b, "{\"dtype\":");
	sb_jstr(b, dt->via.str.ptr, dt->via.str.size);
	sb_puts(b, ",\"shape\":[");
	for (int i = 0; i < t.ndim; i++) {
		if (i)
			sb_putc(b, ',');
		sb_i64(b, t.shape[i]);
	}
	sb_putc(b, ']');
	if (opt.brief) {
		double mn = INFINITY, mx = -INFINITY, sum = 0;
		size_t bad = 0;
		for (size_t i = 0; i < t.n; i++) {
			double v = t.data[i];
			if (!isfinite(v)) {
				bad++;
				continue;
			}
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			sum += v;
		}
		if (t.n > bad) {
			sb_puts(b, ",\"min\":");
			sb_float(b, (float)mn);
			sb_puts(b, ",\"max\":");
			sb_float(b, (float)mx);
			sb_puts(b, ",\"mean\":");
			sb_float(b, (float)(sum / (double)(t.n - bad)));
		}
		if (bad) {
			sb_puts(b, ",\"nonfinite\":");
			sb_u64(b, bad);
		}
	} else {
		char dts[8] = {0};
		memcpy(dts, dt->via.str.ptr, dt->via.str.size < 7 ? dt->via.str.size : 7);
		const unsigned char *raw = (const unsigned char *)data->via.bin.ptr;
		sb_puts(b, ",\"data\":[");
		for (size_t i = 0; i < t.n; i++) {
			if (i)
				sb_putc(b, ',');
			sb_elem(b, dts, raw, i);
		}
		sb_putc(b, ']');
	}
	sb_putc(b, '}');
	mm_tensor_free(&t);
}

/* A sparse vector as {"dim","indices":[...],"values":[...]} or, with
 * --brief, {"dim","nnz","min","max"} (min and max of the stored values). */
static void sb_sparse(sbuf *b, const msgpack_object *o, const char *field)
{
	static mm_sparse s;   /* reused: grows to the largest vector */
	mm_err e;
	if (mm_sparse_from_obj(&s, o, &e) != MM_OK)
		die_field(field, &e);
	sb_puts(b, "{\"dim\":");
	sb_u64(b, s.dim);
	if (opt.brief) {
		sb_puts(b, ",\"nnz\":");
		sb_u64(b, s.nnz);
		float mn = INFINITY, mx = -INFINITY;
		for (size_t i = 0; i < s.nnz; i++) {
			mn = s.val[i] < mn ? s.val[i] : mn;
			mx = s.val[i] > mx ? s.val[i] : mx;
		}
		if (s.nnz) {
			sb_puts(b, ",\"min\":");
			sb_float(b, mn);
			sb_puts(b, ",\"max\":");
			sb_float(b, mx);
		}
	} else {
		sb_puts(b, ",\"indices\":[");
		for (size_t i = 0; i < s.nnz; i++) {
			if (i)
				sb_putc(b, ',');
			sb_u64(b, s.idx[i]);
		}
		sb_puts(b, "],\"values\":[");
		for (size_t i = 0; i < s.nnz; i++) {
			if (i)
				sb_putc(b, ',');
			sb_float(b, s.val[i]);
		}
		sb_putc(b, ']');
	}
	sb_putc(b, '}');
}

/* --libsvm: "LABEL I:V I:V ..." with 1-based indices, the non-zero values of
 * a sparse vector or a tensor (flattened) field. */
static void sb_libsvm(sbuf *b, mm_rec *r)
{
	static mm_sparse s;
	mm_err e;
	int64_t y;
	double yv;
	const msgpack_object *o = mm_rec_get(r, opt.libsvm);
	mm_status st = mm_rec_int(r, opt.label, &y, &e);
	if (st == MM_OK)
		sb_i64(b, y);
	else if (st != MM_MISSING && (st = mm_rec_num(r, opt.label, &yv, false, &e)) == MM_OK)
		sb_double(b, yv);    /* a regression target */
	if (st != MM_OK) {
		mm_err_prefix(&e, "%s", mm_reader_name(cur_rd));
		cli_die_err(&e);
	}
	if (!o) {
		mm_errf(&e, MM_MISSING, "missing (the features of --libsvm)");
		die_field(opt.libsvm, &e);
	}
	if (mm_obj_is_sparse(o)) {
		if (mm_sparse_from_obj(&s, o, &e) != MM_OK)
			die_field(opt.libsvm, &e);
		for (size_t i = 0; i < s.nnz; i++) {
			sb_putc(b, ' ');
			sb_u64(b, (unsigned long long)s.idx[i] + 1);
			sb_putc(b, ':');
			sb_float(b, s.val[i]);
		}
	} else {
		mm_tensor t;
		if (mm_tensor_from_obj(&t, o, true, &e) != MM_OK)
			die_field(opt.libsvm, &e);
		for (size_t i = 0; i < t.n; i++)
			if (t.data[i] != 0) {
				sb_putc(b, ' ');
				sb_u64(b, (unsigned long long)i + 1);
				sb_putc(b, ':');
				sb_float(b, t.data[i]);
			}
		mm_tensor_free(&t);
	}
	sb_putc(b, '\n');
}

/* ---- any msgpack value ---- */
static void sb_obj(sbuf *b, const msgpack_object *o, const char *field);

static void sb_key(sbuf *b, const msgpack_object *k, const char *field)
{
	switch (k->type) {
	case MSGPACK_OBJECT_STR:
		sb_jstr(b, k->via.str.ptr, k->via.str.size);
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_BOOLEAN:
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		/* JSON keys are strings: a scalar key is written as its JSON text. */
		sbuf t = {0};
		sb_obj(&t, k, field);
		sb_jstr(b, t.p, t.n);
		free(t.p);
		return;
	}
	default: {
		mm_err e;
		mm_errf(&e, MM_ETYPE, "a map key is %s, which has no JSON form", mm_obj_typename(k));
		die_field(field, &e);
	}
	}
}

static void sb_bin(sbuf *b, const char *p, size_t n)
{
	sb_puts(b, "{\"bin\":");
	sb_u64(b, n);
	if (!opt.brief) {
		sb_puts(b, ",\"base64\":\"");
		sb_base64(b, (const unsigned char *)p, n);
		sb_putc(b, '"');
	}
	sb_putc(b, '}');
}

static void sb_obj(sbuf *b, const msgpack_object *o, const char *field)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		sb_puts(b, "null");
		return;
	case MSGPACK_OBJECT_BOOLEAN:
		sb_puts(b, o->via.boolean ? "true" : "false");
		return;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		sb_u64(b, (unsigned long long)o->via.u64);
		return;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		sb_i64(b, (long long)o->via.i64);
		return;
	case MSGPACK_OBJECT_FLOAT32:
		sb_float(b, (float)o->via.f64);
		return;
	case MSGPACK_OBJECT_FLOAT64:
		sb_double(b, o->via.f64);
		return;
	case MSGPACK_OBJECT_STR:
		sb_jstr(b, o->via.str.ptr, o->via.str.size);
		return;
	case MSGPACK_OBJECT_BIN:
		sb_bin(b, o->via.bin.ptr, o->via.bin.size);
		return;
	case MSGPACK_OBJECT_EXT:
		sb_puts(b, "{\"ext\":");
		sb_i64(b, o->via.ext.type);
		sb_puts(b, ",\"bin\":");
		sb_u64(b, o->via.ext.size);
		if (!opt.brief) {
			sb_puts(b, ",\"base64\":\"");
			sb_base64(b, (const unsigned char *)o->via.ext.ptr, o->via.ext.size);
			sb_putc(b, '"');
		}
		sb_putc(b, '}');
		return;
	case MSGPACK_OBJECT_ARRAY:
		sb_putc(b, '[');
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				sb_putc(b, ',');
			sb_obj(b, &o->via.array.ptr[i], field);
		}
		sb_putc(b, ']');
		return;
	case MSGPACK_OBJECT_MAP:
		if (mm_obj_is_tensor(o)) {
			sb_tensor(b, o, field);
			return;
		}
		if (mm_obj_is_sparse(o)) {
			sb_sparse(b, o, field);
			return;
		}
		sb_putc(b, '{');
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			if (i)
				sb_putc(b, ',');
			sb_key(b, &o->via.map.ptr[i].key, field);
			sb_putc(b, ':');
			sb_obj(b, &o->via.map.ptr[i].val, field);
		}
		sb_putc(b, '}');
		return;
	}
	mm_err e;
	mm_errf(&e, MM_ECORRUPT, "unknown msgpack type %d", (int)o->type);
	die_field(field, &e);
}

static void sb_record(sbuf *b, const mm_rec *r)
{
	char name[256];
	sb_putc(b, '{');
	for (uint32_t i = 0; i < r->n; i++) {
		const msgpack_object *k = &r->kv[i].key;
		size_t kn = k->via.str.size < sizeof name - 1 ? k->via.str.size : sizeof name - 1;
		memcpy(name, k->via.str.ptr, kn);
		name[kn] = 0;
		if (i)
			sb_putc(b, ',');
		sb_jstr(b, k->via.str.ptr, k->via.str.size);
		sb_putc(b, ':');
		sb_obj(b, &r->kv[i].val, name);
	}
	sb_puts(b, "}\n");
}

/* ---- --check: the conventions of mmoe-records(5) ---- */
/* Names are only formatted when something is wrong: --check runs on every record. */
static noreturn void die_key(const msgpack_object *k, mm_err *e)
{
	char name[256];
	snprintf(name, sizeof name, "%.*s", (int)k->via.str.size, k->via.str.ptr);
	die_field(name, e);
}

static void check_obj(const msgpack_object *o, const msgpack_object *key)
{
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; i < o->via.array.size; i++)
			check_obj(&o->via.array.ptr[i], key);
	} else if (o->type == MSGPACK_OBJECT_MAP) {
		if (mm_obj_is_tensor(o)) {
			mm_tensor t;
			mm_err e;
			if (mm_tensor_from_obj(&t, o, true, &e) != MM_OK)
				die_key(key, &e);
			mm_tensor_free(&t);
			return;
		}
		if (mm_obj_is_sparse(o)) {
			mm_sparse s = {0};
			mm_err e;
			if (mm_sparse_from_obj(&s, o, &e) != MM_OK) {
				mm_sparse_free(&s);
				die_key(key, &e);
			}
			mm_sparse_free(&s);
			return;
		}
		for (uint32_t i = 0; i < o->via.map.size; i++)
			check_obj(&o->via.map.ptr[i].val, key);
	} else if ((o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) &&
			!isfinite(o->via.f64)) {
		mm_err e;
		mm_errf(&e, MM_EVALUE, "expected a finite number, got %g", o->via.f64);
		die_key(key, &e);
	}
}

static bool str_is(const msgpack_object *o, const char *s)
{
	return o->via.str.size == strlen(s) && memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static void check_record(mm_rec *r)
{
	mm_err e;
	const char *s;
	int64_t v;
	const msgpack_object *o = mm_rec_get(r, "id");
	/* the getters' messages name the record and the field */
	if ((!o || o->type != MSGPACK_OBJECT_STR) && mm_rec_str(r, "id", &s, &e) != MM_OK)
		goto fail;
	o = mm_rec_get(r, "split");
	if (o && o->type != MSGPACK_OBJECT_STR && mm_rec_str(r, "split", &s, &e) != MM_OK)
		goto fail;
	if (o && !str_is(o, "train") && !str_is(o, "val") && !str_is(o, "test")) {
		mm_errf(&e, MM_EVALUE, "expected \"train\", \"val\" or \"test\", got \"%.*s\"",
			(int)(o->via.str.size > 40 ? 40 : o->via.str.size), o->via.str.ptr);
		die_field("split", &e);
	}
	mm_status st = mm_rec_label(r, "label", 0, &v, &e);
	if (st != MM_OK && st != MM_MISSING)
		goto fail;
	for (uint32_t i = 0; i < r->n; i++)
		check_obj(&r->kv[i].val, &r->kv[i].key);
	return;
fail:
	/* add the input */
	mm_err_prefix(&e, "%s", mm_reader_name(cur_rd));
	cli_die_err(&e);
}

/* ---- --shard, --seq and --merge ---- */
/* The order key: --seq adds it, --merge restores the order by it and removes it. */
#define SEQ_FIELD "_seq"

static void parse_shard(const char *arg)
{
	char *slash = strchr(arg, '/');
	if (!slash || slash == arg || !slash[1])
		cli_usage("option --shard: expected K/N (shard K of N, 0 <= K < N), got '%s'", arg);
	char k[32];
	size_t kn = (size_t)(slash - arg);
	if (kn >= sizeof k)
		cli_usage("option --shard: '%s' is not K/N", arg);
	memcpy(k, arg, kn);
	k[kn] = 0;
	opt.shard_k = cli_u64("--shard", k);
	opt.shard_n = cli_u64("--shard", slash + 1);
	if (opt.shard_n == 0 || opt.shard_k >= opt.shard_n)
		cli_usage("option --shard: shard K of N needs 0 <= K < N, got '%s'", arg);
	opt.shard_set = true;
}

/* The shard of a record among n; a record without a string id cannot be
 * placed, which is bad data. */
static uint64_t shard_index(mm_rec *r, uint64_t n)
{
	const msgpack_object *o = mm_rec_get(r, "id");
	if (!o || o->type != MSGPACK_OBJECT_STR) {
		mm_err e;
		const char *s;
		if (mm_rec_str(r, "id", &s, &e) == MM_MISSING)
			mm_err_prefix(&e, "shards are made by id");
		mm_err_prefix(&e, "%s", mm_reader_name(cur_rd));
		cli_die_err(&e);
	}
	return mm_shard_of(o->via.str.ptr, o->via.str.size, n);
}

static bool in_shard(mm_rec *r)
{
	return shard_index(r, opt.shard_n) == opt.shard_k;
}

/* The record selections, --shard and --where: a record is kept when it is
 * in the shard and every --where condition holds. */
static bool selected(mm_rec *r)
{
	if (opt.shard_set && !in_shard(r))
		return false;
	for (size_t k = 0; k < opt.nwhere; k++)
		if (!mm_rec_field_is(r, opt.where[k], opt.where_val[k]))
			return false;
	return true;
}

/* One input of --merge: its reader and its next record, whose _seq is seq. */
typedef struct merge_src {
	mm_reader *rd;
	mm_rec *r;     /* NULL at the end of the input */
	uint64_t seq;
	bool started;
} merge_src;

/* Read the next record of src and its order key: a _seq that grows. */
static void merge_advance(merge_src *src)
{
	mm_err e;
	mm_status st = mm_reader_next(src->rd, &src->r, &e);
	if (st == MM_EOF) {
		src->r = NULL;
		return;
	}
	if (st != MM_OK)
		cli_die_err(&e);
	cur_rd = src->rd;
	cur_rec = src->r;
	int64_t v;
	st = mm_rec_int(src->r, SEQ_FIELD, &v, &e);
	if (st == MM_MISSING)
		mm_err_prefix(&e, "--merge orders records by %s, which mmoe-cat --seq adds", SEQ_FIELD);
	if (st != MM_OK) {
		mm_err_prefix(&e, "%s", mm_reader_name(src->rd));
		cli_die_err(&e);
	}
	if (v < 0 || (src->started && (uint64_t)v <= src->seq)) {
		mm_errf(&e, MM_EVALUE, "expected a sequence number above the previous record's %llu, got %lld"
			" (each input of --merge must keep the order of its shard)",
			(unsigned long long)src->seq, (long long)v);
		die_field(SEQ_FIELD, &e);
	}
	src->seq = (uint64_t)v;
	src->started = true;
}

/* The record with the lowest _seq among the inputs, with _seq removed; NULL at
 * the end of all of them.  Ownership of the record passes to the caller. */
static mm_rec *merge_next(merge_src *src, int n)
{
	int best = -1;
	for (int i = 0; i < n; i++) {
		if (!src[i].r)
			continue;
		if (best >= 0 && src[i].seq == src[best].seq) {
			mm_err e;
			char w[512];
			cur_rd = src[i].rd;
			cur_rec = src[i].r;
			mm_errf(&e, MM_EVALUE, "sequence number %llu is also in %s (%s): the inputs are not disjoint shards",
				(unsigned long long)src[i].seq, mm_reader_name(src[best].rd),
				mm_rec_where(src[best].r, w, sizeof w));
			die_field(SEQ_FIELD, &e);
		}
		if (best < 0 || src[i].seq < src[best].seq)
			best = i;
	}
	if (best < 0)
		return NULL;
	mm_rec *r = src[best].r;
	merge_advance(&src[best]);
	cur_rd = src[best].rd;
	cur_rec = r;
	mm_rec_del(r, SEQ_FIELD);
	return r;
}

static void usage(void)
{
	printf("Usage: mmoe-cat [OPTIONS] [FILE...]\n"
		"Concatenate record streams (stdin when no FILE or FILE is -) and write\n"
		"them again as records, or as JSON Lines with --json.\n"
		"\n"
		"Options:\n"
		"  -J, --json          print JSON Lines: one object per record\n"
		"      --brief         with --json: tensors as dtype, shape, min, max, mean;\n"
		"                      bin fields as their length only\n"
		"      --fields A,B    keep only these fields (default: all)\n"
		"      --head N        stop after N records (default: all)\n"
		"      --where F=V     keep only the records whose field F is the string,\n"
		"                      number or boolean V (repeatable: all must hold;\n"
		"                      e.g. --where split=test)\n"
		"      --count         print the number of records instead of the records\n"
		"      --libsvm FIELD  print the libsvm / svmlight text format instead:\n"
		"                      \"LABEL INDEX:VALUE ...\", the non-zero values of FIELD\n"
		"                      (sparse or tensor), indices from 1\n"
		"      --label FIELD   the label of --libsvm (default label)\n"
		"      --check         check the record conventions of mmoe-records(5):\n"
		"                      a string id, split in train/val/test, label >= 0,\n"
		"                      tensors well formed and finite, floats finite\n"
		"      --shard K/N     keep the records of shard K of N (0 <= K < N): those\n"
		"                      whose id's FNV-1a 64 hash modulo N is K\n"
		"      --shards N      write every shard in one pass, shard K to the --output\n"
		"                      name with {} replaced by K (e.g. -o part-{}.zst)\n"
		"      --seq           add _seq, the record's 0-based place in the input\n"
		"                      (the order key that --merge restores)\n"
		"      --merge         merge inputs that each ascend in _seq into one stream\n"
		"                      in _seq order, and remove _seq\n"
		"  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
		"      --level N       zstd level of the output records, 0 = plain msgpack\n"
		"                      (default: MMOE_ZSTD_LEVEL or %d)\n"
		"      --force         write binary records even to a terminal\n"
		"  -q, --quiet         no progress line\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n"
		"\n"
		"Exit status: 0 ok, 1 bad or corrupt data, 2 usage or I/O error.\n"
		"See mmoe-cat(1) and mmoe-records(5).\n", mm_zstd_level_default());
}

/* Write one selected record (pos: its place in the input, for --seq) as a
 * record to w, or as JSON to jout; nothing with --count. */
static mm_status emit(mm_rec *r, uint64_t pos, mm_writer *w, sbuf *b, FILE *jout,
		const char *jname, mm_err *e)
{
	if (opt.check)
		check_record(r);
	if (opt.nfields)
		mm_rec_keep(r, (const char *const *)opt.fields, opt.nfields);
	if (opt.seq) {
		if (mm_rec_has(r, SEQ_FIELD)) {
			mm_errf(e, MM_EVALUE, "the record already has a sequence number"
				" (numbered twice? mmoe-cat --merge removes it)");
			die_field(SEQ_FIELD, e);
		}
		mm_status st = mm_rec_set_int(r, SEQ_FIELD, (int64_t)pos, e);
		if (st != MM_OK)
			return st;
	}
	if (w)
		return mm_writer_put(w, r, e);
	if (opt.json || opt.libsvm) {
		b->n = 0;
		if (opt.json)
			sb_record(b, r);
		else
			sb_libsvm(b, r);
		if (fwrite(b->p, 1, b->n, jout) != b->n)
			cli_die(MM_EXIT_USAGE, "error writing %s: %s", jname, strerror(errno));
	}
	return MM_OK;
}

/* --shards: the N writers, shard K to the --output pattern with {} -> K */
#define MAX_SHARDS 1024
static mm_writer **shard_w;   /* --shards: opt.nshards writers */

static void open_shards(void)
{
	const char *hole = opt.out ? strstr(opt.out, "{}") : NULL;
	if (!hole)
		cli_usage("--shards writes one file per shard: --output needs a name with {} for the shard number");
	shard_w = calloc(opt.nshards, sizeof *shard_w);
	if (!shard_w)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (uint64_t k = 0; k < opt.nshards; k++) {
		mm_err e;
		char *name;
		if (asprintf(&name, "%.*s%llu%s", (int)(hole - opt.out), opt.out,
				(unsigned long long)k, hole + 2) < 0)
			cli_die(MM_EXIT_USAGE, "out of memory");
		mm_status st = mm_writer_open(&shard_w[k], name, opt.level, &e);
		free(name);
		if (st != MM_OK)
			cli_die_err(&e);   /* which removes the shards opened so far */
	}
}

static void close_shards(void)
{
	for (uint64_t k = 0; k < opt.nshards; k++) {
		mm_err e;
		mm_writer *ww = shard_w[k];
		shard_w[k] = NULL;   /* closed (and freed) whatever happens */
		if (mm_writer_close(ww, &e) != MM_OK)
			cli_die_err(&e);
	}
	free(shard_w);
	shard_w = NULL;
}

enum { OPT_SHARD = 256, OPT_SHARDS, OPT_SEQ, OPT_MERGE, OPT_WHERE, O_BRIEF, O_FIELDS, O_HEAD, O_COUNT, O_CHECK,
	OPT_LIBSVM, OPT_LABEL };   /* long-only options */

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-cat");
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'J'},
		{"brief", no_argument, NULL, O_BRIEF},
		{"fields", required_argument, NULL, O_FIELDS},
		{"head", required_argument, NULL, O_HEAD},
		{"where", required_argument, NULL, OPT_WHERE},
		{"count", no_argument, NULL, O_COUNT},
		{"check", no_argument, NULL, O_CHECK},
		CLI_OPT_OUTPUT, CLI_OPT_LEVEL, CLI_OPT_FORCE,
		{"shard", required_argument, NULL, OPT_SHARD},
		{"shards", required_argument, NULL, OPT_SHARDS},
		{"seq", no_argument, NULL, OPT_SEQ},
		{"merge", no_argument, NULL, OPT_MERGE},
		CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{"libsvm", required_argument, NULL, OPT_LIBSVM},
		{"label", required_argument, NULL, OPT_LABEL},
		{NULL, 0, NULL, 0},
	};
	static const cli_moved moved[] = {
		{'j', "is now --threads elsewhere; for JSON use -J/--json"},
		{'b', "is now --pred-b elsewhere; for brief JSON use --brief"},
		{'f', "is now --feature elsewhere; to keep fields use --fields"},
		{'n', "is now --count elsewhere; for the first N records use --head"},
		{'c', "is no longer an option; use --count"},
		{'C', "is now --C elsewhere; to check records use --check"},
		{'l', "is now --label elsewhere; for the zstd level use --level"},
		{'F', "is now --format elsewhere; to write to a terminal use --force"},
		{0, NULL},
	};
	int c;
	while ((c = cli_getopt(argc, argv, longopts, moved)) != -1) {
		switch (c) {
		case 'J': opt.json = true; break;
		case O_BRIEF: opt.brief = true; break;
		case O_FIELDS:
			free(opt.fields ? opt.fields[0] : NULL);
			free(opt.fields);
			opt.fields = cli_split(optarg, ',', &opt.nfields);
			if (!opt.nfields)
				cli_usage("option --fields: no field names in '%s'", optarg);
			break;
		case O_HEAD:
			opt.head = cli_u64("--head", optarg);
			opt.head_set = true;
			break;
		case OPT_WHERE: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				cli_usage("option --where: expected FIELD=VALUE, got '%s'", optarg);
			opt.where = realloc(opt.where, (opt.nwhere + 1) * sizeof *opt.where);
			opt.where_val = realloc(opt.where_val, (opt.nwhere + 1) * sizeof *opt.where_val);
			if (!opt.where || !opt.where_val)
				cli_die(MM_EXIT_USAGE, "out of memory");
			*eq = 0;   /* optarg is argv's: FIELD and VALUE in place */
			opt.where[opt.nwhere] = optarg;
			opt.where_val[opt.nwhere++] = eq + 1;
			break;
		}
		case O_COUNT: opt.count = true; break;
		case O_CHECK: opt.check = true; break;
		case 'o': opt.out = optarg; break;
		case CLI_LEVEL: opt.level = cli_level(optarg); break;
		case CLI_FORCE: opt.force = true; break;
		case OPT_SHARD: parse_shard(optarg); break;
		case OPT_SHARDS:
			opt.nshards = (uint64_t)cli_int("--shards", optarg, 1, MAX_SHARDS);
			break;
		case OPT_SEQ: opt.seq = true; break;
		case OPT_MERGE: opt.merge = true; break;
		case 'q': cli_quiet = true; break;
		case OPT_LIBSVM: opt.libsvm = optarg; break;
		case OPT_LABEL: opt.label = optarg; break;
		case 'h': usage(); return cli_finish();
		case 'V': cli_version();
		default:
			cli_bad_option(c, argv);
		}
	}
	if (opt.brief && !opt.json)
		cli_usage("--brief only applies to --json");
	if (opt.count && opt.json)
		cli_usage("--count and --json exclude each other");
	if (opt.libsvm && (opt.json || opt.count))
		cli_usage("--libsvm excludes --json and --count");
	if (opt.merge && opt.seq)
		cli_usage("--merge removes the sequence numbers that --seq adds: use one of them");
	if (opt.nshards && (opt.shard_set || opt.merge || opt.json || opt.count || opt.libsvm))
		cli_usage("--shards writes records to files: not with --shard, --merge, --json, --count or --libsvm");

	char *stdin_only[] = {"-", NULL};
	char **inputs = optind < argc ? argv + optind : stdin_only;
	int ninputs = optind < argc ? argc - optind : 1;

	mm_err e;
	mm_writer *w = NULL;
	mm_atomic jf = {0};
	/* any exit before the end (a bad record, a write error) goes through
	 * cli_die, which drops the output */
	FILE *jout = stdout;
	const char *jname = "standard output";
	if (opt.nshards) {
		open_shards();
	} else if (!opt.count && !opt.json && !opt.libsvm) {
		if (!opt.out)
			cli_check_binary_stdout(opt.force);
		if (mm_writer_open(&w, opt.out, opt.level, &e) != MM_OK)
			cli_die_err(&e);
	} else if (opt.out) {
		if (mm_atomic_open(&jf, opt.out, &e) != MM_OK)
			cli_die_err(&e);
		jout = jf.f;
		jname = opt.out;
	}

	sbuf b = {0};
	uint64_t total = 0, seen = 0;
	bool raw = !opt.json && !opt.libsvm && !opt.check && !opt.nfields && !opt.shard_set &&
		!opt.seq && !opt.merge && !opt.nwhere && !opt.nshards;
	cli_progress prog;
	cli_progress_start(&prog, "records", 0);
	if (opt.merge) {
		merge_src *src = calloc((size_t)ninputs, sizeof *src);
		if (!src)
			cli_die(MM_EXIT_USAGE, "out of memory");
		for (int i = 0; i < ninputs; i++) {
			if (mm_reader_open(&src[i].rd, inputs[i], &e) != MM_OK)
				goto fail;
			merge_advance(&src[i]);
		}
		mm_rec *r;
		while (!(opt.head_set && total >= opt.head) && (r = merge_next(src, ninputs))) {
			if (!selected(r)) {
				mm_rec_free(r);
				continue;
			}
			total++;
			mm_status st = emit(r, 0, w, &b, jout, jname, &e);
			mm_rec_free(r);
			if (st != MM_OK)
				goto fail;
			cli_progress_tick(&prog, total);
		}
		for (int i = 0; i < ninputs; i++) {
			mm_rec_free(src[i].r);
			mm_reader_close(src[i].rd);
		}
		free(src);
	}
	for (int i = 0; !opt.merge && i < ninputs && !(opt.head_set && total >= opt.head); i++) {
		mm_reader *rd;
		mm_rec *r;
		mm_status st = MM_EOF;
		if (mm_reader_open(&rd, inputs[i], &e) != MM_OK)
			goto fail;
		/* Plain pass-through and counting need not decode the records: the
		 * raw reader checks them just as well (well-formed, maps, string keys). */
		if (raw) {
			const void *p;
			size_t len;
			while (!(opt.head_set && total >= opt.head) &&
					(st = mm_reader_next_raw(rd, &p, &len, &e)) == MM_OK) {
				total++;
				if (w && mm_writer_put_raw(w, p, len, &e) != MM_OK) {
					mm_reader_close(rd);
					goto fail;
				}
				cli_progress_tick(&prog, total);
			}
		}
		while (!raw && !(opt.head_set && total >= opt.head) &&
				(st = mm_reader_next(rd, &r, &e)) == MM_OK) {
			cur_rd = rd;
			cur_rec = r;
			uint64_t pos = seen++;
			if (!selected(r)) {
				mm_rec_free(r);
				continue;
			}
			total++;
			mm_writer *to = opt.nshards ? shard_w[shard_index(r, opt.nshards)] : w;
			st = emit(r, pos, to, &b, jout, jname, &e);
			mm_rec_free(r);
			if (st != MM_OK) {
				mm_reader_close(rd);
				goto fail;
			}
			cli_progress_tick(&prog, total);
		}
		if (!(opt.head_set && total >= opt.head) && st != MM_EOF) {
			mm_reader_close(rd);
			goto fail;
		}
		mm_reader_close(rd);
	}
	cli_progress_end(&prog);
	free(b.p);
	free(opt.where);
	free(opt.where_val);

	if (opt.count)
		fprintf(jout, "%llu\n", (unsigned long long)total);
	if (shard_w)
		close_shards();
	if (w) {
		mm_writer *ww = w;
		w = NULL;   /* closed (and freed) whatever happens */
		if (mm_writer_close(ww, &e) != MM_OK)
			cli_die_err(&e);
	}
	if (jf.f) {
		if (ferror(jf.f))
			cli_die(MM_EXIT_USAGE, "error writing %s", jname);
		if (mm_atomic_commit(&jf, &e) != MM_OK)
			cli_die_err(&e);
	}
	return cli_finish();

fail:
	cli_die_err(&e);   /* removes the temporary */
}
