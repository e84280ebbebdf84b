/* Unit tests of lib/record.c and lib/stream.c: round trips, concatenation,
 * typed access and its messages, hostile and broken input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "record.h"
#include "stream.h"
#include "tap.h"
#include "util.h"

/* ---- helpers ---- */

/* A growable byte buffer the tests build streams in. */
typedef struct buf {
	char *p;
	size_t n;
} buf;

static void buf_cat(buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

/* Write n records made by make(i, r) at the given level into a buffer. */
typedef void (*maker)(uint64_t i, mm_rec *r);

static buf write_stream(int level, uint64_t n, maker make)
{
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	mm_writer *w;
	mm_err e;
	if (mm_writer_fdopen(&w, f, "mem", level, &e) != MM_OK) {
		diag("writer: %s", e.msg);
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++) {
		mm_rec *r = mm_rec_new();
		make(i, r);
		if (mm_writer_put(w, r, &e) != MM_OK)
			diag("put: %s", e.msg);
		mm_rec_free(r);
	}
	if (mm_writer_close(w, &e) != MM_OK)
		diag("close: %s", e.msg);
	fclose(f);
	buf b = {0};
	buf_cat(&b, p, len);
	free(p);
	return b;
}

static void make_small(uint64_t i, mm_rec *r)
{
	char id[32];
	snprintf(id, sizeof id, "r%llu", (unsigned long long)i);
	mm_rec_set_str(r, "id", id, NULL);
	mm_rec_set_int(r, "label", (int64_t)(i % 3), NULL);
	mm_rec_set_num(r, "score", (double)i / 7.0, NULL);
	float v[4] = {(float)i, -1.5f, 0.25f, (float)i * 2};
	mm_rec_set_vec(r, "v", v, 4, NULL);
}

/* Read every record; check ids r0..r(n-1) and the fields of make_small.
 * Returns the number read, or -1 on an error (message in e). */
static long read_check(const void *p, size_t n, bool *fields_ok, mm_err *e)
{
	mm_reader *rd;
	if (mm_reader_mem(&rd, p, n, "mem", e) != MM_OK)
		return -1;
	mm_rec *r;
	mm_status st;
	long k = 0;
	*fields_ok = true;
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		char id[32];
		const char *s;
		int64_t label;
		double score;
		mm_tensor t;
		snprintf(id, sizeof id, "r%ld", k);
		if (mm_rec_str(r, "id", &s, e) != MM_OK || strcmp(s, id) ||
				mm_rec_int(r, "label", &label, e) != MM_OK || label != k % 3 ||
				mm_rec_num(r, "score", &score, false, e) != MM_OK || score != (double)k / 7.0 ||
				mm_rec_vec(r, "v", 4, &t, e) != MM_OK || t.data[0] != (float)k ||
				t.data[1] != -1.5f || t.data[3] != (float)k * 2 || r->index != (uint64_t)k)
			*fields_ok = false;
		mm_tensor_free(&t);
		mm_rec_free(r);
		k++;
	}
	if (mm_reader_count(rd) != (uint64_t)k)
		*fields_ok = false;
	mm_reader_close(rd);
	return st == MM_EOF ? k : -1;
}

static mm_status read_all(const void *p, size_t n, long *count, mm_err *e)
{
	mm_reader *rd;
	mm_status st = mm_reader_mem(&rd, p, n, "mem", e);
	if (st != MM_OK)
		return st;
	mm_rec *r;
	*count = 0;
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		mm_rec_free(r);
		++*count;
	}
	mm_reader_close(rd);
	return st;
}

/* Pack a single record with a packer callback into a buffer (plain msgpack). */
static msgpack_sbuffer sb;
static msgpack_packer pk;
static void pk_reset(void)
{
	msgpack_sbuffer_clear(&sb);
}
static void pk_str(const char *s)
{
	msgpack_pack_str(&pk, strlen(s));
	msgpack_pack_str_body(&pk, s, strlen(s));
}

/* ---- the tests ---- */

static void test_round_trips(void)
{
	int levels[] = {-5, -1, 0, 1, 3, 19};
	for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
		buf b = write_stream(levels[i], 1000, make_small);
		bool fok;
		mm_err e;
		long k = read_check(b.p, b.n, &fok, &e);
		ok(k == 1000 && fok, "level %d: 1000 records round trip (%ld read, fields %s)",
			levels[i], k, fok ? "ok" : "wrong");
		bool zmagic = b.n >= 4 && (unsigned char)b.p[0] == 0x28 && (unsigned char)b.p[1] == 0xb5;
		ok(levels[i] == 0 ? !zmagic && (unsigned char)b.p[0] >> 4 == 0x8 : zmagic,
			"level %d: %s", levels[i], levels[i] ? "zstd magic" : "plain msgpack map first");
		free(b.p);
	}
}

/* MM_LEVEL_DEFAULT: MMOE_ZSTD_LEVEL when valid (fast levels included), else 3 */
static void test_level_env(void)
{
	unsetenv("MMOE_ZSTD_LEVEL");
	ok(mm_zstd_level_default() == 3 && mm_zstd_level_env(-1) == -1, "no MMOE_ZSTD_LEVEL: 3, or the fallback");
	ok(mm_zstd_level_min() < 0 && mm_zstd_level_max() == 22, "levels %d to %d", mm_zstd_level_min(),
		mm_zstd_level_max());
	setenv("MMOE_ZSTD_LEVEL", "-4", 1);
	ok(mm_zstd_level_default() == -4 && mm_zstd_level_env(-1) == -4, "MMOE_ZSTD_LEVEL=-4 is a fast level");
	setenv("MMOE_ZSTD_LEVEL", "0", 1);
	buf b = write_stream(MM_LEVEL_DEFAULT, 10, make_small);
	ok(b.n && (unsigned char)b.p[0] >> 4 == 0x8, "MMOE_ZSTD_LEVEL=0: MM_LEVEL_DEFAULT writes plain msgpack");
	free(b.p);
	const char *bad[] = {"23", "x", "3x", "-999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		setenv("MMOE_ZSTD_LEVEL", bad[i], 1);
		ok(mm_zstd_level_default() == 3, "MMOE_ZSTD_LEVEL=%s is not a level: 3", bad[i]);
	}
	unsetenv("MMOE_ZSTD_LEVEL");
	/* a fast level is faster and larger, on data zstd compresses */
	buf fast = write_stream(-5, 2000, make_small), slow = write_stream(19, 2000, make_small);
	ok(fast.n > slow.n, "level -5 writes more bytes than 19 (%zu > %zu)", fast.n, slow.n);
	free(fast.p);
	free(slow.p);
}

static void test_concat_empty_one(void)
{
	buf a = write_stream(3, 10, make_small);
	buf c = write_stream(0, 10, make_small);
	buf empty = write_stream(3, 0, make_small);
	buf one = write_stream(3, 1, make_small);
	mm_err e;
	long k;
	bool fok;

	ok(empty.n > 0, "an empty stream at level 3 is one empty zstd frame (%zu bytes)", empty.n);
	ok(read_all(empty.p, empty.n, &k, &e) == MM_EOF && k == 0, "empty zstd frame: 0 records");
	ok(read_all("", 0, &k, &e) == MM_EOF && k == 0, "empty input: 0 records");
	ok(read_check(one.p, one.n, &fok, &e) == 1 && fok, "one record");

	/* zstd + empty frame + plain + zstd: ids restart at r0 in each part */
	buf all = {0};
	buf_cat(&all, a.p, a.n);
	buf_cat(&all, empty.p, empty.n);
	buf_cat(&all, c.p, c.n);
	buf_cat(&all, a.p, a.n);
	mm_status st = read_all(all.p, all.n, &k, &e);
	ok(st == MM_EOF && k == 30, "cat zstd empty plain zstd: 30 records (%ld, %s)", k,
		st == MM_EOF ? "eof" : e.msg);

	/* plain followed by zstd: the frame starts at a record boundary */
	buf pz = {0};
	buf_cat(&pz, c.p, c.n);
	buf_cat(&pz, a.p, a.n);
	st = read_all(pz.p, pz.n, &k, &e);
	ok(st == MM_EOF && k == 20, "cat plain zstd: 20 records (%ld)", k);

	/* a stream flushed in the middle: several blocks, same records */
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	mm_writer *w;
	mm_writer_fdopen(&w, f, "mem", 3, &e);
	for (int i = 0; i < 5; i++) {
		mm_rec *r = mm_rec_new();
		make_small((uint64_t)i, r);
		mm_writer_put(w, r, &e);
		mm_rec_free(r);
		mm_writer_flush(w, &e);
	}
	ok(mm_writer_count(w) == 5, "writer counts records");
	mm_writer_close(w, &e);
	fclose(f);
	ok(read_check(p, len, &fok, &e) == 5 && fok, "flushed blocks read back");
	free(p);
	free(a.p), free(c.p), free(empty.p), free(one.p), free(all.p), free(pz.p);
}

static uint64_t big_n = 1u << 20;

static void make_big(uint64_t i, mm_rec *r)
{
	float *v = malloc(big_n * sizeof *v);
	for (uint64_t j = 0; j < big_n; j++)
		v[j] = (float)sin((double)(j + i));
	int64_t shape[2] = {1024, (int64_t)big_n / 1024};
	mm_rec_set_str(r, "id", i ? "big1" : "big0", NULL);
	mm_rec_set_tensor(r, "x", v, shape, 2, NULL);
	free(v);
}

static void test_large_tensor(int level)
{
	buf b = write_stream(level, 2, make_big);
	mm_reader *rd;
	mm_rec *r;
	mm_err e;
	mm_reader_mem(&rd, b.p, b.n, "mem", &e);
	int good = 0;
	for (int i = 0; i < 2; i++) {
		mm_tensor t;
		if (mm_reader_next(rd, &r, &e) != MM_OK)
			break;
		if (mm_rec_tensor(r, "x", &t, true, &e) == MM_OK && t.ndim == 2 &&
				t.shape[0] == 1024 && t.n == big_n && ((uintptr_t)t.data & 63) == 0) {
			bool same = true;
			for (uint64_t j = 0; j < big_n && same; j++)
				same = t.data[j] == (float)sin((double)(j + (uint64_t)i));
			good += same;
		}
		mm_tensor_free(&t);
		mm_rec_free(r);
	}
	ok(good == 2, "level %d: two 4 MB tensors round trip exactly, 64-byte aligned", level);
	ok(mm_reader_next(rd, &r, &e) == MM_EOF, "then EOF");
	mm_reader_close(rd);
	free(b.p);
}

/* Records stay valid after the reader has moved on and after it is closed. */
static void test_records_outlive_reader(void)
{
	buf b = write_stream(3, 300, make_small);
	mm_reader *rd;
	mm_err e;
	mm_rec *recs[300];
	int n = 0;
	mm_reader_mem(&rd, b.p, b.n, "mem", &e);
	while (n < 300 && mm_reader_next(rd, &recs[n], &e) == MM_OK)
		n++;
	mm_reader_close(rd);
	free(b.p);
	int good = 0;
	for (int i = 0; i < n; i++) {
		char id[32];
		mm_tensor t;
		snprintf(id, sizeof id, "r%d", i);
		const char *s = mm_rec_id(recs[i]);
		if (s && strcmp(s, id) == 0 && mm_rec_vec(recs[i], "v", 4, &t, &e) == MM_OK &&
				t.data[3] == (float)i * 2)
			good++;
		mm_tensor_free(&t);
		mm_rec_free(recs[i]);
	}
	ok(n == 300 && good == 300, "300 records kept past the reader's close are intact (%d)", good);
}

/* A tensor map of any dtype, packed by hand. */
static void pack_tensor(const char *dtype, const void *data, size_t bytes, const uint64_t *shape, int nd)
{
	msgpack_pack_map(&pk, 3);
	pk_str("dtype");
	pk_str(dtype);
	pk_str("shape");
	msgpack_pack_array(&pk, (size_t)nd);
	for (int i = 0; i < nd; i++)
		msgpack_pack_uint64(&pk, shape[i]);
	pk_str("data");
	msgpack_pack_bin(&pk, bytes);
	msgpack_pack_bin_body(&pk, data, bytes);
}

static mm_rec *read_one(const void *p, size_t n, mm_err *e, mm_status *st)
{
	mm_reader *rd;
	mm_rec *r = NULL;
	mm_reader_mem(&rd, p, n, "mem", e);
	*st = mm_reader_next(rd, &r, e);
	mm_reader_close(rd);
	return r;
}

static void test_dtypes(void)
{
	/* little-endian bytes of {-1 or max, 2, 3}; unsigned types use 250 */
	struct {
		const char *dt;
		unsigned char bytes[24];
		size_t size;
		float want0;
	} cases[] = {
		{"f32", {0, 0, 0x80, 0xbf, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40}, 12, -1},
		{"f64", {0, 0, 0, 0, 0, 0, 0xf0, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0x08, 0x40}, 24, -1},
		{"i8", {0xff, 2, 3}, 3, -1},
		{"i16", {0xff, 0xff, 2, 0, 3, 0}, 6, -1},
		{"i32", {0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 3, 0, 0, 0}, 12, -1},
		{"i64", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0}, 24, -1},
		{"u8", {250, 2, 3}, 3, 250},
		{"u16", {250, 0, 2, 0, 3, 0}, 6, 250},
		{"u32", {250, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, 12, 250},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		uint64_t shape[1] = {3};
		pk_reset();
		msgpack_pack_map(&pk, 2);
		pk_str("id");
		pk_str("d");
		pk_str("x");
		pack_tensor(cases[i].dt, cases[i].bytes, cases[i].size, shape, 1);
		mm_err e;
		mm_status st;
		mm_rec *r = read_one(sb.data, sb.size, &e, &st);
		mm_tensor t = {0};
		st = r ? mm_rec_tensor(r, "x", &t, true, &e) : st;
		ok(st == MM_OK && t.n == 3 && t.data[0] == cases[i].want0 && t.data[1] == 2 && t.data[2] == 3,
			"dtype %s reads as float (%s)", cases[i].dt, st == MM_OK ? "ok" : e.msg);
		mm_tensor_free(&t);
		mm_rec_free(r);
	}
	/* a plain array of numbers reads as a 1-D tensor; a mixed one does not */
	pk_reset();
	msgpack_pack_map(&pk, 3);
	pk_str("a");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_double(&pk, 2.5);
	msgpack_pack_int(&pk, -3);
	pk_str("b");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, 1);
	pk_str("x");
	pk_str("u");
	uint64_t s0[1] = {2};
	pack_tensor("u64", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16, s0, 1);
	mm_err e;
	mm_status st;
	mm_rec *r = read_one(sb.data, sb.size, &e, &st);
	mm_tensor t = {0};
	ok(r && mm_rec_tensor(r, "a", &t, true, &e) == MM_OK && t.n == 3 && t.data[1] == 2.5f &&
		t.data[2] == -3, "numeric array reads as a 1-D tensor");
	mm_tensor_free(&t);
	ok(r && mm_rec_tensor(r, "b", &t, true, &e) == MM_ETYPE && strstr(e.msg, "field \"b\""),
		"array with a string is refused: %s", e.msg);
	ok(r && mm_rec_tensor(r, "u", &t, true, &e) == MM_EVALUE && strstr(e.msg, "u64"),
		"unknown dtype u64 refused: %s", e.msg);
	ok(r && mm_rec_tensor(r, "zz", &t, true, &e) == MM_MISSING && strstr(e.msg, "\"zz\""),
		"missing tensor: MM_MISSING naming it: %s", e.msg);
	mm_rec_free(r);
}

static void test_setters_getters(void)
{
	mm_err e;
	mm_rec *r = mm_rec_new();
	ok(r && r->n == 0, "new record is empty");
	mm_rec_set_str(r, "id", "a7", &e);
	mm_rec_set_strn(r, "nul", "a\0b", 3, &e);
	mm_rec_set_int(r, "pos", 42, &e);
	mm_rec_set_int(r, "neg", -42, &e);
	mm_rec_set_num(r, "num", 2.5, &e);
	mm_rec_set_num(r, "whole", 3.0, &e);
	mm_rec_set_num(r, "nan", NAN, &e);
	mm_rec_set_bool(r, "yes", true, &e);
	mm_rec_set_nil(r, "none", &e);
	mm_rec_set_bin(r, "blob", "\x01\x02\x03", 3, &e);
	float v[6] = {1, 2, 3, 4, 5, 6};
	int64_t shape[2] = {2, 3};
	mm_rec_set_tensor(r, "m", v, shape, 2, &e);
	mm_rec_set_vec(r, "v", v, 6, &e);
	mm_rec_set_int(r, "pos", 43, &e);   /* replace keeps the position */
	ok(r->n == 12, "12 fields (a replaced one is not added twice): %u", r->n);
	ok(strncmp(r->kv[2].key.via.str.ptr, "pos", 3) == 0 && r->kv[2].val.via.u64 == 43,
		"replacement keeps the field's place");

	/* write and read back, then check every getter */
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	mm_writer *w;
	mm_writer_fdopen(&w, f, "mem", 3, &e);
	mm_writer_put(w, r, &e);
	mm_writer_close(w, &e);
	fclose(f);
	mm_rec_free(r);
	mm_status st;
	r = read_one(p, len, &e, &st);
	free(p);
	ok(st == MM_OK && r, "record read back");
	if (!r)
		return;
	const char *s;
	int64_t iv;
	double d;
	mm_tensor t;
	ok(mm_rec_str(r, "id", &s, &e) == MM_OK && strcmp(s, "a7") == 0, "str");
	ok(strcmp(mm_rec_id(r), "a7") == 0, "mm_rec_id");
	const msgpack_object *o = mm_rec_get(r, "nul");
	ok(o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == 3 && memcmp(o->via.str.ptr, "a\0b", 3) == 0,
		"strn keeps an embedded NUL");
	ok(mm_rec_int(r, "pos", &iv, &e) == MM_OK && iv == 43, "int");
	ok(mm_rec_int(r, "neg", &iv, &e) == MM_OK && iv == -42, "negative int");
	ok(mm_rec_int(r, "yes", &iv, &e) == MM_OK && iv == 1, "bool reads as int 1");
	ok(mm_rec_int(r, "whole", &iv, &e) == MM_OK && iv == 3, "integral float reads as int");
	ok(mm_rec_int(r, "num", &iv, &e) == MM_EVALUE, "2.5 is not an int: %s", e.msg);
	ok(mm_rec_int(r, "id", &iv, &e) == MM_ETYPE, "string is not an int");
	ok(mm_rec_num(r, "num", &d, false, &e) == MM_OK && d == 2.5, "num");
	ok(mm_rec_num(r, "pos", &d, false, &e) == MM_OK && d == 43, "int reads as num");
	ok(mm_rec_num(r, "nan", &d, false, &e) == MM_EVALUE && strstr(e.msg, "NaN"), "NaN refused: %s", e.msg);
	ok(mm_rec_num(r, "nan", &d, true, &e) == MM_OK && isnan(d), "NaN allowed on request");
	ok(mm_rec_has(r, "none") && mm_rec_get(r, "none")->type == MSGPACK_OBJECT_NIL, "nil");
	o = mm_rec_get(r, "blob");
	ok(o && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == 3 && o->via.bin.ptr[2] == 3, "bin");
	ok(mm_rec_tensor(r, "m", &t, true, &e) == MM_OK && t.ndim == 2 && t.shape[1] == 3 && t.data[5] == 6,
		"tensor [2,3]");
	mm_tensor_free(&t);
	ok(mm_rec_vec(r, "v", 6, &t, &e) == MM_OK && t.n == 6, "vec of 6");
	mm_tensor_free(&t);
	ok(mm_rec_vec(r, "v", 5, &t, &e) == MM_EVALUE && strstr(e.msg, "expected 5 values, got 6"),
		"vec dimension mismatch: %s", e.msg);
	ok(mm_obj_is_tensor(mm_rec_get(r, "m")) && !mm_obj_is_tensor(mm_rec_get(r, "blob")),
		"mm_obj_is_tensor");
	ok(strcmp(mm_obj_typename(mm_rec_get(r, "m")), "a tensor") == 0 &&
		strcmp(mm_obj_typename(mm_rec_get(r, "id")), "a string") == 0, "mm_obj_typename");

	/* set_obj deep-copies from another record */
	mm_rec *r2 = mm_rec_new();
	mm_rec_set_obj(r2, "mcopy", mm_rec_get(r, "m"), &e);
	mm_rec_free(r);
	ok(mm_rec_tensor(r2, "mcopy", &t, true, &e) == MM_OK && t.data[4] == 5,
		"set_obj copy survives the source record");
	mm_tensor_free(&t);
	mm_rec_set_str(r2, "a", "1", &e);
	mm_rec_set_str(r2, "b", "2", &e);
	mm_rec_del(r2, "mcopy");
	mm_rec_del(r2, "absent");
	ok(r2->n == 2 && !mm_rec_has(r2, "mcopy"), "del");
	const char *keep[] = {"b", "zz"};
	mm_rec_keep(r2, keep, 2);
	ok(r2->n == 1 && mm_rec_has(r2, "b"), "keep");
	mm_rec_free(r2);
}

static void test_messages(void)
{
	/* record 2 has id "a7" and a string where a tensor is expected */
	pk_reset();
	for (int i = 0; i < 3; i++) {
		msgpack_pack_map(&pk, 2);
		pk_str("id");
		pk_str(i == 2 ? "a7" : "zz");
		pk_str("x");
		pk_str("oops");
	}
	mm_reader *rd;
	mm_rec *r = NULL;
	mm_err e;
	mm_reader_mem(&rd, sb.data, sb.size, "in.msgpack", &e);
	for (int i = 0; i < 3; i++) {
		mm_rec_free(r);
		mm_reader_next(rd, &r, &e);
	}
	mm_reader_close(rd);
	mm_tensor t;
	mm_status st = mm_rec_tensor(r, "x", &t, true, &e);
	ok(st == MM_ETYPE && strstr(e.msg, "record 2 (id \"a7\"): field \"x\": expected a tensor, got a string"),
		"message names record, id and field: %s", e.msg);
	char w[100];
	ok(strcmp(mm_rec_where(r, w, sizeof w), "record 2 (id \"a7\")") == 0, "mm_rec_where: %s", w);
	const char *s;
	st = mm_rec_str(r, "label", &s, &e);
	ok(st == MM_MISSING && strstr(e.msg, "record 2 (id \"a7\")") && strstr(e.msg, "\"label\""),
		"missing field message: %s", e.msg);
	mm_rec_del(r, "id");
	ok(strcmp(mm_rec_where(r, w, sizeof w), "record 2 (no id)") == 0, "no id: %s", w);
	mm_rec_set_int(r, "id", 5, &e);
	ok(mm_rec_id(r) == NULL, "an integer id is no id");
	mm_rec_free(r);
}

static void test_bad_tensors(void)
{
	float nanv[3] = {1, NAN, 3};
	uint64_t shape[1] = {3};
	pk_reset();
	msgpack_pack_map(&pk, 4);
	pk_str("id");
	pk_str("t1");
	pk_str("short");
	pack_tensor("f32", nanv, 8, shape, 1);         /* 8 bytes for 3 values */
	pk_str("nan");
	pack_tensor("f32", nanv, 12, shape, 1);
	pk_str("hugeshape");
	uint64_t hs[2] = {1ull << 40, 1ull << 40};
	pack_tensor("f32", nanv, 12, hs, 2);
	mm_err e;
	mm_status st;
	mm_rec *r = read_one(sb.data, sb.size, &e, &st);
	mm_tensor t;
	ok(r && mm_rec_tensor(r, "short", &t, false, &e) == MM_EVALUE &&
		strstr(e.msg, "field \"short\"") && strstr(e.msg, "8 bytes"),
		"byte length mismatch: %s", e.msg);
	ok(r && mm_rec_tensor(r, "nan", &t, true, &e) == MM_EVALUE && strstr(e.msg, "element 1") &&
		strstr(e.msg, "NaN"), "NaN refused, element named: %s", e.msg);
	ok(r && mm_rec_tensor(r, "nan", &t, false, &e) == MM_OK && isnan(t.data[1]),
		"NaN allowed when not asked for finite values");
	mm_tensor_free(&t);
	ok(r && mm_rec_vec(r, "nan", 3, &t, &e) == MM_EVALUE, "mm_rec_vec requires finite values");
	ok(r && mm_rec_tensor(r, "hugeshape", &t, false, &e) != MM_OK && strstr(e.msg, "hugeshape"),
		"absurd shape refused without allocating: %s", e.msg);
	mm_rec_free(r);
}

static void test_broken_streams(void)
{
	buf z = write_stream(3, 200, make_small);
	buf p = write_stream(0, 200, make_small);
	mm_err e;
	long k;
	mm_status st;

	st = read_all(z.p, z.n / 2, &k, &e);
	ok(st == MM_ETRUNC || st == MM_ECORRUPT, "zstd stream cut in half: error (%s) after %ld: %s",
		mm_status_name(st), k, e.msg);
	st = read_all(z.p, z.n - 1, &k, &e);
	ok(st == MM_ETRUNC || st == MM_ECORRUPT, "zstd stream missing its last byte: %s", e.msg);
	st = read_all(p.p, p.n - 3, &k, &e);
	ok(st == MM_ETRUNC && k == 199 && strstr(e.msg, "record 199"),
		"plain stream cut inside the last record: %s", e.msg);

	/* flip each of a few bytes in the compressed stream */
	int caught = 0, tries = 0;
	for (size_t pos = 20; pos < z.n; pos += z.n / 17) {
		char *c = malloc(z.n);
		memcpy(c, z.p, z.n);
		c[pos] ^= 0x10;
		st = read_all(c, z.n, &k, &e);
		caught += st != MM_EOF;
		tries++;
		free(c);
	}
	ok(caught == tries, "a flipped byte in a zstd stream is always an error (%d/%d)", caught, tries);

	/* random bytes: never a crash, and an error unless they parse as records */
	unsigned x = 12345;
	int errs = 0;
	for (int round = 0; round < 50; round++) {
		char junk[777];
		for (size_t i = 0; i < sizeof junk; i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (char)(x >> 16);
		}
		errs += read_all(junk, sizeof junk, &k, &e) != MM_EOF;
	}
	ok(errs == 50, "50 random 777-byte inputs are errors (%d)", errs);

	/* not a map, and a map with an integer key */
	pk_reset();
	msgpack_pack_int(&pk, 7);
	st = read_all(sb.data, sb.size, &k, &e);
	ok(st == MM_ETYPE && strstr(e.msg, "record 0") && strstr(e.msg, "expected a map"),
		"a top-level integer is not a record: %s", e.msg);
	pk_reset();
	msgpack_pack_map(&pk, 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 2);
	st = read_all(sb.data, sb.size, &k, &e);
	ok(st == MM_ETYPE && strstr(e.msg, "key 0 is an integer, expected a string"),
		"an integer key is refused: %s", e.msg);

	/* a bin claiming 4 GB with little behind it: truncated, not a 4 GB buffer */
	unsigned char hostile[64] = {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xf0};
	st = read_all(hostile, sizeof hostile, &k, &e);
	ok(st == MM_ELIMIT && k == 0, "bin32 of 4 GB in 64 bytes: refused from its header: %s", e.msg);
	/* with a record limit, a long bin is refused before it is buffered whole */
	setenv("MMOE_MAX_RECORD", "10000", 1);
	size_t hn = 200000;
	unsigned char *h = calloc(1, hn);
	memcpy(h, hostile, 8);
	st = read_all(h, hn, &k, &e);
	ok(st == MM_ELIMIT && strstr(e.msg, "MMOE_MAX_RECORD"), "MMOE_MAX_RECORD=10000: %s", e.msg);
	/* an array claiming 2^32-1 elements */
	unsigned char arr[16] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff};
	st = read_all(arr, sizeof arr, &k, &e);
	ok(st != MM_OK && st != MM_EOF, "array32 of 4G elements: %s", e.msg);
	unsetenv("MMOE_MAX_RECORD");
	free(h);

	/* the limit is exact: a record of N bytes passes MMOE_MAX_RECORD=N, N+1 does not */
	pk_reset();
	msgpack_pack_map(&pk, 1);
	pk_str("s");
	msgpack_pack_str(&pk, 1000);
	char fill[1000];
	memset(fill, 'a', sizeof fill);
	msgpack_pack_str_body(&pk, fill, sizeof fill);
	char lim[32];
	snprintf(lim, sizeof lim, "%zu", sb.size);
	setenv("MMOE_MAX_RECORD", lim, 1);
	ok(read_all(sb.data, sb.size, &k, &e) == MM_EOF && k == 1, "a record of exactly MMOE_MAX_RECORD bytes passes");
	snprintf(lim, sizeof lim, "%zu", sb.size - 1);
	setenv("MMOE_MAX_RECORD", lim, 1);
	st = read_all(sb.data, sb.size, &k, &e);
	ok(st == MM_ELIMIT && k == 0, "one byte more is refused: %s", e.msg);
	unsetenv("MMOE_MAX_RECORD");

	/* nesting: 32 containers deep is fine, 33 is refused */
	for (int depth = 32; depth <= 33; depth++) {
		pk_reset();
		msgpack_pack_map(&pk, 1);
		pk_str("x");
		for (int d = 1; d < depth; d++)
			msgpack_pack_array(&pk, 1);
		msgpack_pack_int(&pk, 1);
		st = read_all(sb.data, sb.size, &k, &e);
		if (depth == 32)
			ok(st == MM_EOF && k == 1, "32 nested containers read (%s)", st == MM_EOF ? "ok" : e.msg);
		else
			ok(st == MM_ELIMIT && strstr(e.msg, "nested"), "33 nested containers refused: %s", e.msg);
	}
	/* an empty container inside 32 open ones: msgpack-c refuses it, so must the scan */
	pk_reset();
	msgpack_pack_map(&pk, 1);
	pk_str("x");
	for (int d = 1; d < 32; d++)
		msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 0);
	st = read_all(sb.data, sb.size, &k, &e);
	ok(st == MM_ELIMIT && strstr(e.msg, "nested"), "an empty array as the 33rd level is refused: %s", e.msg);

	/* every record cut at every byte: an error naming the record, never a crash */
	buf one = write_stream(0, 3, make_small);
	int good = 0;
	for (size_t cut = 1; cut < one.n; cut++) {
		st = read_all(one.p, cut, &k, &e);
		good += st == MM_ETRUNC || (st == MM_EOF && k > 0);
	}
	ok(good == (int)one.n - 1, "each of %zu cuts of a plain stream is truncated or ends at a record (%d)",
		one.n - 1, good);
	free(one.p);

	/* the reader names its input */
	st = read_all(p.p, p.n - 3, &k, &e);
	ok(strncmp(e.msg, "mem: ", 5) == 0, "messages start with the input name: %s", e.msg);
	free(z.p), free(p.p);
}

/* mm_reader_next_raw: the bytes of each record, same records and errors as mm_reader_next */
static void test_raw(void)
{
	buf plain = write_stream(0, 50, make_small);
	buf z = write_stream(3, 50, make_small);
	buf both = {0};
	buf_cat(&both, z.p, z.n);
	buf_cat(&both, plain.p, plain.n);
	buf_cat(&both, z.p, z.n);
	mm_reader *rd;
	mm_err e;
	const void *p;
	size_t len;
	buf out = {0};
	mm_reader_mem(&rd, both.p, both.n, "mem", &e);
	long n = 0;
	mm_status st;
	while ((st = mm_reader_next_raw(rd, &p, &len, &e)) == MM_OK) {
		buf_cat(&out, p, len);
		n++;
	}
	ok(st == MM_EOF && n == 150 && mm_reader_count(rd) == 150, "raw: 150 records from zstd+plain+zstd");
	mm_reader_close(rd);
	ok(out.n == 3 * plain.n && memcmp(out.p, plain.p, plain.n) == 0 &&
		memcmp(out.p + plain.n, plain.p, plain.n) == 0, "raw: the bytes are the plain stream's");
	free(out.p);

	/* the same errors as the decoding reader */
	const char *bad[] = {"\x07", "\x81\x01\x02", "\x82\xa1x\x01\xa1", "\x81\xa1x\xc1"};
	size_t badlen[] = {1, 3, 5, 4};
	const char *want[] = {"expected a map, got an integer", "key 0 is an integer",
		"truncated input", "0xc1"};
	for (int i = 0; i < 4; i++) {
		mm_reader_mem(&rd, bad[i], badlen[i], "mem", &e);
		st = mm_reader_next_raw(rd, &p, &len, &e);
		mm_reader_close(rd);
		mm_err e2;
		mm_rec *r;
		mm_reader_mem(&rd, bad[i], badlen[i], "mem", &e2);
		mm_status st2 = mm_reader_next(rd, &r, &e2);
		mm_reader_close(rd);
		ok(st != MM_OK && st == st2 && strstr(e.msg, want[i]) && strcmp(e.msg, e2.msg) == 0,
			"raw and decoding readers agree on bad input %d: %s", i, e.msg);
	}
	free(plain.p), free(z.p), free(both.p);
}

/* Temporaries left by killed runs: a dead pid's is removed when the path is
 * written again, a live one's and another host's are kept. */
static void test_stale(const char *path)
{
	char mine[400], dead[500], live[500], other[500];
	struct stat st;
	mm_err e;
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	mm_atomic_tmpname(mine, sizeof mine, path);
	/* the same name with another pid: strip ".<pid>" from mine */
	*strrchr(mine, '.') = 0;
	snprintf(dead, sizeof dead, "%s.%ld", mine, (long)child);
	snprintf(live, sizeof live, "%s.%ld", mine, (long)getppid());
	snprintf(other, sizeof other, "%s.tmp.some-other-host.%ld", path, (long)child);
	const char *names[3] = {dead, live, other};
	for (int i = 0; i < 3; i++)
		fclose(fopen(names[i], "w"));
	mm_writer *w;
	ok(mm_writer_open(&w, path, 3, &e) == MM_OK, "writer on a path with stale temporaries");
	mm_writer_abort(w);
	ok(stat(dead, &st) != 0, "a dead pid's temporary is removed");
	ok(stat(live, &st) == 0, "a live pid's temporary is kept");
	ok(stat(other, &st) == 0, "another host's temporary is kept");
	for (int i = 0; i < 3; i++)
		unlink(names[i]);
}

static void test_files(void)
{
	char dir[] = "/tmp/mmoe-unit.XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char path[300], tmp[400];
	snprintf(path, sizeof path, "%s/out.zst", dir);
	mm_writer *w;
	mm_err e;
	struct stat st;
	ok(mm_writer_open(&w, path, 3, &e) == MM_OK, "writer on a path");
	mm_rec *r = mm_rec_new();
	make_small(0, r);
	mm_writer_put(w, r, &e);
	ok(stat(path, &st) != 0, "the target does not exist before close");
	ok(mm_writer_close(w, &e) == MM_OK && stat(path, &st) == 0, "it does after close");
	mm_atomic_tmpname(tmp, sizeof tmp, path);
	ok(strstr(tmp, ".tmp.") != NULL, "temporary name %s", tmp);
	ok(stat(tmp, &st) != 0, "no temporary left");
	mm_writer_open(&w, path, 3, &e);
	mm_writer_put(w, r, &e);
	mm_writer_put(w, r, &e);
	mm_writer_abort(w);
	mm_reader *rd;
	mm_rec *x;
	long n = 0;
	ok(mm_reader_open(&rd, path, &e) == MM_OK, "reader on a path");
	while (mm_reader_next(rd, &x, &e) == MM_OK) {
		mm_rec_free(x);
		n++;
	}
	mm_reader_close(rd);
	ok(n == 1 && stat(tmp, &st) != 0, "abort leaves the old file and no temporary");
	snprintf(tmp, sizeof tmp, "%s/nonexistent", dir);
	ok(mm_reader_open(&rd, tmp, &e) == MM_EIO && strstr(e.msg, "nonexistent"), "missing file: %s", e.msg);
	snprintf(tmp, sizeof tmp, "%s/no/such/dir/out.zst", dir);
	ok(mm_writer_open(&w, tmp, 3, &e) != MM_OK, "writer in a missing directory fails: %s", e.msg);
	mm_rec_free(r);
	test_stale(path);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	unsetenv("MMOE_MAX_RECORD");
	unsetenv("MMOE_ZSTD_LEVEL");
	test_round_trips();
	test_level_env();
	test_concat_empty_one();
	test_large_tensor(3);
	test_large_tensor(0);
	test_records_outlive_reader();
	test_dtypes();
	test_setters_getters();
	test_messages();
	test_bad_tensors();
	test_broken_streams();
	test_raw();
	test_files();
	msgpack_sbuffer_destroy(&sb);
	return tap_done();
}
