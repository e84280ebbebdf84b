/* tests/fuzz/reader.c — the record reader as a fuzz target.
 *
 * libFuzzer:  make fuzz   (clang -fsanitize=fuzzer,address,undefined)
 * Replayer:   cc -DMM_FUZZ_REPLAY ... tests/fuzz/reader.c → a program that runs
 *             every file named on its command line once (tests/fuzz-replay.t
 *             does this over tests/fuzz/corpus/reader in `make check`).
 *
 * Every input is read to its end through mm_reader_mem; every record is
 * taken apart with the typed getters, every tensor converted, and every
 * record written again and re-read: the copy must decode to the same bytes.
 * The input is then read again with mm_reader_next_raw, which must stop at
 * the same record with the same status.
 * Errors are fine (they are the point); crashes, leaks, hangs and
 * sanitizer reports are bugs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "stream.h"

/* Keep hostile length headers from looking like out-of-memory bugs. */
#define FUZZ_MAX_RECORD "4000000"

static void touch_obj(const msgpack_object *o, int depth)
{
	mm_tensor t;
	mm_err e;
	(void)mm_obj_typename(o);
	if (mm_obj_is_tensor(o) || o->type == MSGPACK_OBJECT_ARRAY) {
		if (mm_tensor_from_obj(&t, o, false, &e) == MM_OK) {
			volatile float sink = 0;
			for (size_t i = 0; i < t.n; i++)
				sink += t.data[i];
			(void)sink;
			mm_tensor_free(&t);
		}
		if (mm_tensor_from_obj(&t, o, true, &e) == MM_OK)
			mm_tensor_free(&t);
	}
	if (depth > 4)
		return;
	if (o->type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < o->via.map.size; i++)
			touch_obj(&o->via.map.ptr[i].val, depth + 1);
	else if (o->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < o->via.array.size && i < 64; i++)
			touch_obj(&o->via.array.ptr[i], depth + 1);
}

static void touch_rec(mm_rec *r)
{
	char where[256], key[64];
	mm_err e;
	const char *s;
	int64_t iv;
	double d;
	mm_tensor t;
	(void)mm_rec_where(r, where, sizeof where);
	(void)mm_rec_id(r);
	for (uint32_t i = 0; i < r->n && i < 256; i++) {
		const msgpack_object *k = &r->kv[i].key;
		snprintf(key, sizeof key, "%.*s", (int)(k->via.str.size < 63 ? k->via.str.size : 63),
			k->via.str.ptr);
		(void)mm_rec_str(r, key, &s, &e);
		(void)mm_rec_int(r, key, &iv, &e);
		(void)mm_rec_num(r, key, &d, false, &e);
		if (mm_rec_tensor(r, key, &t, false, &e) == MM_OK)
			mm_tensor_free(&t);
		if (mm_rec_vec(r, key, 3, &t, &e) == MM_OK)
			mm_tensor_free(&t);
		touch_obj(&r->kv[i].val, 0);
	}
}

/* Pack r, read the bytes back as a stream, pack that record again: same bytes. */
static void round_trip(const mm_rec *r)
{
	msgpack_sbuffer a, b;
	msgpack_packer pa, pb;
	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
	msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
	if (mm_rec_pack(r, &pa) == 0) {
		mm_reader *rd;
		mm_rec *c;
		mm_err e;
		if (mm_reader_mem(&rd, a.data, a.size, "copy", &e) == MM_OK) {
			if (mm_reader_next(rd, &c, &e) != MM_OK) {
				fprintf(stderr, "re-reading a packed record failed: %s\n", e.msg);
				abort();
			}
			mm_rec_pack(c, &pb);
			if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0) {
				fprintf(stderr, "a record packed twice differs\n");
				abort();
			}
			mm_rec_free(c);
			mm_reader_close(rd);
		}
	}
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		setenv("MMOE_MAX_RECORD", FUZZ_MAX_RECORD, 1);
		init = 1;
	}
	mm_reader *rd;
	mm_rec *r;
	mm_err e;
	if (mm_reader_mem(&rd, data, size, "fuzz", &e) != MM_OK)
		return 0;
	mm_status st;
	int n = 0;
	while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
		touch_rec(r);
		round_trip(r);
		mm_rec_free(r);
		n++;
	}
	/* an error always comes with a message naming the input */
	if (st != MM_EOF && strncmp(e.msg, "fuzz", 4) != 0 && strstr(e.msg, "record") == NULL) {
		fprintf(stderr, "error message without context: %s\n", e.msg);
		abort();
	}
	if ((uint64_t)n != mm_reader_count(rd))
		abort();
	mm_reader_close(rd);

	/* The raw reader accepts and refuses exactly what the decoding one does,
	 * and each record it hands out reads back as one record. */
	if (mm_reader_mem(&rd, data, size, "fuzz", &e) != MM_OK)
		return 0;
	const void *p;
	size_t len;
	mm_status st2;
	int n2 = 0;
	while ((st2 = mm_reader_next_raw(rd, &p, &len, &e)) == MM_OK) {
		mm_reader *one;
		mm_rec *c;
		if (mm_reader_mem(&one, p, len, "raw", &e) != MM_OK || mm_reader_next(one, &c, &e) != MM_OK ||
				(mm_rec_free(c), mm_reader_next(one, &c, &e)) != MM_EOF) {
			fprintf(stderr, "a raw record does not read back as one record: %s\n", e.msg);
			abort();
		}
		mm_reader_close(one);
		n2++;
	}
	if (st2 != st || n2 != n) {
		fprintf(stderr, "raw reader: %s after %d records, decoding reader: %s after %d\n",
			mm_status_name(st2), n2, mm_status_name(st), n);
		abort();
	}
	mm_reader_close(rd);
	return 0;
}

#include "replay.h"
