/* mmoe-import — JSON Lines, TSV or CSV in, records out.
 *
 * Each input line (JSON Lines) or row (TSV/CSV, the first row naming the
 * fields) becomes one record, packed straight into msgpack and handed to the
 * writer: memory is one line plus one record, whatever the input size.
 *
 * JSON maps onto msgpack one to one (integer vs real kept apart).  Three
 * object shapes are recognised so that `mmoe-cat --json | mmoe-import` gives
 * back the same records (man/mmoe-cat.1 documents the other direction):
 *   {"dtype":"f32","shape":[2,3],"data":[...]}   a tensor of that dtype
 *   {"dim":D,"indices":[...],"values":[...]}    a sparse vector
 *   {"bin":N,"base64":"..."}                      a bin (N checked if given)
 *   {"ext":T,"bin":N,"base64":"..."}              an ext value
 */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "record.h"
#include "sparse.h"
#include "stream.h"

enum fmt { FMT_JSONL, FMT_TSV, FMT_CSV, FMT_LIBSVM };
enum empty { EMPTY_OMIT, EMPTY_NULL, EMPTY_STRING };

static struct {
	enum fmt format;
	enum empty empty;
	bool strings, force, gen_id;
	const char *gen_prefix;
	const char *id_field;
	char **tensors;
	size_t ntensors;
	const char *out;
	int level;
	uint64_t dim;             /* libsvm: the sparse dimension (--dim) */
	const char *as;           /* libsvm: the sparse field (--as) */
} opt = {.level = MM_LEVEL_DEFAULT, .gen_prefix = "", .as = "x"};

/* Where we are, for messages: "in.csv: line 12". */
static const char *in_name;
static uint64_t in_line;
static uint64_t nrec;      /* records written so far: the generated ids */
static mm_writer *w;
static cli_progress prog;
/* The JSON being converted, still reachable (not leaked) when bad data ends
 * the program halfway through it. */
static json_t *cur_doc;

static noreturn void vdie(int code, const char *field, const char *fmt, va_list ap)
{
	char msg[900], where[1200];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* formatted before the document the field name may point into is freed
	 * (not left to the leak checker) */
	if (field)
		snprintf(where, sizeof where, "%s: line %llu: field \"%s\": %s", in_name,
			(unsigned long long)in_line, field, msg);
	else
		snprintf(where, sizeof where, "%s: line %llu: %s", in_name, (unsigned long long)in_line, msg);
	if (cur_doc) {
		json_decref(cur_doc);
		cur_doc = NULL;
	}
	cli_die(code, "%s", where);
}

/* Bad data on the current line (exit 1); field may be NULL. */
__attribute__((format(printf, 2, 3)))
static noreturn void bad(const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vdie(MM_EXIT_DATA, field, fmt, ap);
}

static bool is_tensor_field(const char *name)
{
	for (size_t i = 0; i < opt.ntensors; i++)
		if (strcmp(opt.tensors[i], name) == 0)
			return true;
	return false;
}

/* ---- msgpack output ---- */
static msgpack_sbuffer sbuf;
static msgpack_packer pk;

static void pack_str(const char *s, size_t n)
{
	msgpack_pack_str(&pk, n);
	msgpack_pack_str_body(&pk, s, n);
}

static void pack_cstr(const char *s) { pack_str(s, strlen(s)); }

/* ---- dtypes ---- */
typedef struct dtype {
	const char *name;
	int size;
	char kind;        /* 'f', 'i', 'u' */
	double lo, hi;    /* integer range */
} dtype;

static const dtype dtypes[] = {
	{"f32", 4, 'f', 0, 0}, {"f64", 8, 'f', 0, 0},
	{"i8", 1, 'i', -128.0, 127.0}, {"i16", 2, 'i', -32768.0, 32767.0},
	{"i32", 4, 'i', -2147483648.0, 2147483647.0},
	{"i64", 8, 'i', -9223372036854775808.0, 9223372036854775807.0},
	{"u8", 1, 'u', 0, 255.0}, {"u16", 2, 'u', 0, 65535.0}, {"u32", 4, 'u', 0, 4294967295.0},
};

static const dtype *find_dtype(const char *s)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
		if (strcmp(dtypes[i].name, s) == 0)
			return &dtypes[i];
	return NULL;
}

static void put_le(unsigned char *p, uint64_t v, int size)
{
	for (int i = 0; i < size; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A tensor being built: raw little-endian bytes of dtype dt. */
typedef struct tbuf {
	const dtype *dt;
	int ndim;
	int64_t shape[MM_MAXDIM];
	unsigned char *data;
	size_t n, cap;   /* elements */
} tbuf;

static void tb_push(tbuf *t, const char *field, json_t *v)
{
	double d;
	json_int_t iv = 0;
	bool is_int = json_is_integer(v);
	if (is_int) {
		iv = json_integer_value(v);
		d = (double)iv;
	} else if (json_is_real(v)) {
		d = json_real_value(v);
	} else if (json_is_string(v) && t->dt->kind == 'f') {
		/* mmoe-cat --json writes non-finite values as these strings */
		const char *s = json_string_value(v);
		if (strcmp(s, "NaN") == 0)
			d = NAN;
		else if (strcmp(s, "Infinity") == 0)
			d = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			d = -INFINITY;
		else
			bad(field, "tensor element %zu: expected a number, got the string \"%.40s\"", t->n, s);
	} else {
		static const char *names[] = {"an object", "an array", "a string", "an integer",
			"a real", "true", "false", "null"};
		bad(field, "tensor element %zu: expected a number, got %s", t->n, names[json_typeof(v)]);
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		unsigned char *p = realloc(t->data, t->cap * (size_t)t->dt->size);
		if (!p)
			cli_die(MM_EXIT_USAGE, "out of memory");
		t->data = p;
	}
	unsigned char *p = t->data + t->n * (size_t)t->dt->size;
	if (t->dt->kind == 'f') {
		if (t->dt->size == 4) {
			if (isfinite(d) && fabs(d) > FLT_MAX)
				bad(field, "tensor element %zu: %g is out of the range of f32", t->n, d);
			float f = (float)d;
			uint32_t u;
			memcpy(&u, &f, 4);
			put_le(p, u, 4);
		} else {
			uint64_t u;
			memcpy(&u, &d, 8);
			put_le(p, u, 8);
		}
	} else {
		if (!is_int && (d != floor(d) || !isfinite(d)))
			bad(field, "tensor element %zu: %g is not an integer (dtype %s)", t->n, d, t->dt->name);
		if (d < t->dt->lo || d > t->dt->hi ||
				(t->dt->kind == 'i' && t->dt->size == 8 && !is_int && d >= 9223372036854775807.0))
			bad(field, "tensor element %zu: %.17g is out of the range of %s", t->n, d, t->dt->name);
		if (is_int)
			put_le(p, (uint64_t)iv, t->dt->size);
		else
			put_le(p, (uint64_t)(int64_t)d, t->dt->size);
	}
	t->n++;
}

/* Shape of a nested array, from its first elements. */
static void tb_shape(tbuf *t, const char *field, json_t *a)
{
	t->ndim = 0;
	while (json_is_array(a)) {
		if (t->ndim == MM_MAXDIM)
			bad(field, "more than %d nested array levels", MM_MAXDIM);
		t->shape[t->ndim++] = (int64_t)json_array_size(a);
		a = json_array_size(a) ? json_array_get(a, 0) : NULL;
	}
}

/* Append the leaves of a, checking that it is rectangular with shape[d..]. */
static void tb_fill(tbuf *t, const char *field, json_t *a, int d)
{
	if (d == t->ndim) {
		if (json_is_array(a))
			bad(field, "ragged array: element %zu is nested deeper than the first one", t->n);
		tb_push(t, field, a);
		return;
	}
	if (!json_is_array(a) || (int64_t)json_array_size(a) != t->shape[d])
		bad(field, "ragged array: at depth %d expected an array of %lld elements, got %s",
			d, (long long)t->shape[d],
			json_is_array(a) ? "an array of another length" : "a scalar");
	for (size_t i = 0; i < json_array_size(a); i++)
		tb_fill(t, field, json_array_get(a, i), d + 1);
}

static void tb_pack(tbuf *t)
{
	msgpack_pack_map(&pk, 3);
	pack_cstr("dtype");
	pack_cstr(t->dt->name);
	pack_cstr("shape");
	msgpack_pack_array(&pk, (size_t)t->ndim);
	for (int i = 0; i < t->ndim; i++)
		msgpack_pack_int64(&pk, t->shape[i]);
	pack_cstr("data");
	msgpack_pack_bin(&pk, t->n * (size_t)t->dt->size);
	msgpack_pack_bin_body(&pk, t->data, t->n * (size_t)t->dt->size);
}

static tbuf tb;   /* reused: its buffer grows to the largest tensor */

/* --tensor FIELD: a (nested) array of numbers becomes an f32 tensor. */
static void pack_tensor_array(const char *field, json_t *v)
{
	if (!json_is_array(v))
		bad(field, "--tensor: expected an array of numbers, got %s",
			json_is_object(v) ? "an object" : json_is_string(v) ? "a string" :
			json_is_null(v) ? "null" : json_is_boolean(v) ? "a boolean" : "a number");
	tb.dt = &dtypes[0];
	tb.n = 0;
	tb_shape(&tb, field, v);
	tb_fill(&tb, field, v, 0);
	tb_pack(&tb);
}

static void flatten(tbuf *t, const char *field, json_t *a)
{
	if (!json_is_array(a)) {
		tb_push(t, field, a);
		return;
	}
	for (size_t i = 0; i < json_array_size(a); i++)
		flatten(t, field, json_array_get(a, i));
}

/* {"dtype","shape","data":[...]} as mmoe-cat --json writes it. */
static bool try_pack_tensor_object(const char *field, json_t *o)
{
	json_t *dt = json_object_get(o, "dtype"), *shape = json_object_get(o, "shape"),
		*data = json_object_get(o, "data");
	if (json_object_size(o) != 3 || !json_is_string(dt) || !json_is_array(shape) ||
			!json_is_array(data))
		return false;
	tb.dt = find_dtype(json_string_value(dt));
	if (!tb.dt)
		bad(field, "tensor dtype \"%s\" is not one of f32 f64 i8 i16 i32 i64 u8 u16 u32",
			json_string_value(dt));
	if (json_array_size(shape) > MM_MAXDIM)
		bad(field, "tensor has %zu dimensions, at most %d are allowed",
			json_array_size(shape), MM_MAXDIM);
	tb.ndim = (int)json_array_size(shape);
	double count = 1;
	for (int i = 0; i < tb.ndim; i++) {
		json_t *s = json_array_get(shape, (size_t)i);
		if (!json_is_integer(s) || json_integer_value(s) < 0)
			bad(field, "tensor shape[%d]: expected an integer >= 0", i);
		tb.shape[i] = json_integer_value(s);
		count *= (double)tb.shape[i];
	}
	tb.n = 0;
	flatten(&tb, field, data);
	if ((double)tb.n != count)
		bad(field, "tensor data has %zu values, its shape needs %.0f", tb.n, count);
	tb_pack(&tb);
	return true;
}

/* {"dim","indices":[...],"values":[...]} as mmoe-cat --json writes a sparse
 * vector: checked by the library's reader, packed with bins. */
static bool try_pack_sparse_object(const char *field, json_t *o)
{
	static mm_sparse s;
	json_t *d = json_object_get(o, "dim"), *ix = json_object_get(o, "indices"),
		*vs = json_object_get(o, "values");
	if (json_object_size(o) != 3 || !d || !json_is_array(ix) || !json_is_array(vs))
		return false;
	/* a msgpack view of the JSON, for mm_sparse_from_obj */
	size_t ni = json_array_size(ix), nv = json_array_size(vs);
	msgpack_object *el = malloc((ni + nv + 1) * sizeof *el);
	if (!el)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (size_t k = 0; k < ni + nv; k++) {
		json_t *x = k < ni ? json_array_get(ix, k) : json_array_get(vs, k - ni);
		if (json_is_integer(x) && json_integer_value(x) >= 0) {
			el[k].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			el[k].via.u64 = (uint64_t)json_integer_value(x);
		} else if (json_is_number(x)) {
			el[k].type = MSGPACK_OBJECT_FLOAT64;
			el[k].via.f64 = json_number_value(x);
		} else {
			el[k].type = MSGPACK_OBJECT_NIL;
		}
	}
	msgpack_object_kv kv[3] = {
		{.key = {.type = MSGPACK_OBJECT_STR, .via.str = {3, "dim"}}},
		{.key = {.type = MSGPACK_OBJECT_STR, .via.str = {7, "indices"}},
			.val = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {(uint32_t)ni, el}}},
		{.key = {.type = MSGPACK_OBJECT_STR, .via.str = {6, "values"}},
			.val = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {(uint32_t)nv, el + ni}}},
	};
	if (json_is_integer(d) && json_integer_value(d) > 0) {
		kv[0].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
		kv[0].val.via.u64 = (uint64_t)json_integer_value(d);
	} else {
		kv[0].val.type = MSGPACK_OBJECT_NIL;
	}
	msgpack_object m = {.type = MSGPACK_OBJECT_MAP, .via.map = {3, kv}};
	mm_err e;
	mm_status st = mm_sparse_from_obj(&s, &m, &e);
	free(el);
	if (st != MM_OK)
		bad(field, "%s", e.msg);
	mm_sparse_pack(&pk, &s);
	return true;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* Decode base64 (standard or URL alphabet, padding optional) into a malloc'ed buffer. */
static unsigned char *b64decode(const char *s, size_t n, size_t *outlen, const char *field)
{
	while (n && s[n - 1] == '=')
		n--;
	unsigned char *out = malloc(n / 4 * 3 + 3);
	if (!out)
		cli_die(MM_EXIT_USAGE, "out of memory");
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0) {
			free(out);
			bad(field, "base64: unexpected character at offset %zu", i);
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (bits >= 6) {
		free(out);
		bad(field, "base64: truncated (length %zu)", n);
	}
	*outlen = o;
	return out;
}

/* {"bin":N,"base64":"..."} and {"ext":T,"bin":N,"base64":"..."} */
static bool try_pack_bin_object(const char *field, json_t *o)
{
	json_t *b64 = json_object_get(o, "base64"), *len = json_object_get(o, "bin"),
		*ext = json_object_get(o, "ext");
	size_t want = 1 + (len != NULL) + (ext != NULL);
	if (!json_is_string(b64) || json_object_size(o) != want ||
			(len && !json_is_integer(len)) || (ext && !json_is_integer(ext)))
		return false;
	size_t n;
	unsigned char *p = b64decode(json_string_value(b64), json_string_length(b64), &n, field);
	json_int_t t = ext ? json_integer_value(ext) : 0;
	if ((len && (json_int_t)n != json_integer_value(len)) || t < -128 || t > 127) {
		free(p);
		if (t < -128 || t > 127)
			bad(field, "ext type %lld is out of range [-128, 127]", (long long)t);
		bad(field, "base64 data decodes to %zu bytes, \"bin\" says %lld", n,
			(long long)json_integer_value(len));
	}
	if (ext) {
		msgpack_pack_ext(&pk, n, (int8_t)t);
		msgpack_pack_ext_body(&pk, p, n);
	} else {
		msgpack_pack_bin(&pk, n);
		msgpack_pack_bin_body(&pk, p, n);
	}
	free(p);
	return true;
}

static void pack_json(const char *field, json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (try_pack_tensor_object(field, v) || try_pack_sparse_object(field, v) ||
				try_pack_bin_object(field, v))
			return;
		const char *k;
		json_t *x;
		msgpack_pack_map(&pk, json_object_size(v));
		json_object_foreach(v, k, x) {
			pack_cstr(k);
			pack_json(field, x);
		}
		return;
	}
	case JSON_ARRAY:
		msgpack_pack_array(&pk, json_array_size(v));
		for (size_t i = 0; i < json_array_size(v); i++)
			pack_json(field, json_array_get(v, i));
		return;
	case JSON_STRING:
		pack_str(json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		msgpack_pack_int64(&pk, json_integer_value(v));
		return;
	case JSON_REAL:
		msgpack_pack_double(&pk, json_real_value(v));
		return;
	case JSON_TRUE:
		msgpack_pack_true(&pk);
		return;
	case JSON_FALSE:
		msgpack_pack_false(&pk);
		return;
	case JSON_NULL:
		msgpack_pack_nil(&pk);
		return;
	}
}

/* Hand the packed record to the writer. */
static void put_record(void)
{
	mm_err e;
	if (mm_writer_put_raw(w, sbuf.data, sbuf.size, &e) != MM_OK)
		cli_die_err(&e);
	nrec++;
	cli_progress_tick(&prog, nrec);
}

static void pack_gen_id(void)
{
	char id[300];
	snprintf(id, sizeof id, "%s%llu", opt.gen_prefix, (unsigned long long)nrec);
	pack_cstr(id);
}

/* ---- JSON Lines ---- */
static const char *jtype(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* The id a record gets: a string, or an integer written in decimal. */
static void pack_id_value(const char *field, json_t *v)
{
	if (json_is_string(v)) {
		if (!json_string_length(v))
			bad(field, "the id is an empty string");
		pack_str(json_string_value(v), json_string_length(v));
	} else if (json_is_integer(v)) {
		char t[32];
		snprintf(t, sizeof t, "%lld", (long long)json_integer_value(v));
		pack_cstr(t);
	} else {
		bad(field, "expected a string or an integer id, got %s", jtype(v));
	}
}

static void import_jsonl_line(char *line, size_t len)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	cur_doc = o;
	if (!o)
		bad(NULL, "column %d: %s", jerr.column, jerr.text);
	if (!json_is_object(o))
		bad(NULL, "expected a JSON object, got %s", jtype(o));
	json_t *idv = json_object_get(o, opt.id_field ? opt.id_field : "id");
	bool has_id = json_object_get(o, "id") != NULL;
	if (!idv && opt.id_field && !opt.gen_id)
		bad(opt.id_field, "missing (it gives the id, --id %s)", opt.id_field);
	if (!idv && !opt.gen_id)
		bad("id", "missing: every record needs an id (use --id FIELD or --gen-id)");

	sbuf.size = 0;
	msgpack_pack_map(&pk, json_object_size(o) + !has_id);
	if (!has_id) {
		pack_cstr("id");
		if (idv)
			pack_id_value(opt.id_field, idv);
		else
			pack_gen_id();
	}
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		pack_cstr(k);
		if (strcmp(k, "id") == 0) {
			if (idv)
				pack_id_value(opt.id_field ? opt.id_field : "id", idv);
			else
				pack_gen_id();
		} else if (is_tensor_field(k)) {
			/* already a tensor object (mmoe-cat --json output): keep its dtype */
			if (!json_is_object(v) || !try_pack_tensor_object(k, v))
				pack_tensor_array(k, v);
		} else {
			pack_json(k, v);
		}
	}
	json_decref(o);
	cur_doc = NULL;
	put_record();
}

static void import_jsonl(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		in_line++;
		size_t len = (size_t)n;
		if (in_line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			memmove(line, line + 3, len - 3);
			len -= 3;
		}
		size_t i = 0;
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
			i++;
		if (i == len)
			continue;   /* blank line */
		import_jsonl_line(line, len);
	}
	free(line);
}

/* ---- TSV and CSV ---- */
typedef struct row {
	char *buf;            /* cells, each NUL-terminated */
	size_t len, cap;
	size_t *off, *clen;   /* cell offsets and lengths */
	size_t n, ncap;
} row;

static void row_putc(row *r, char c)
{
	if (r->len == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 1024;
		char *p = realloc(r->buf, r->cap);
		if (!p)
			cli_die(MM_EXIT_USAGE, "out of memory");
		r->buf = p;
	}
	r->buf[r->len++] = c;
}

static void row_start_cell(row *r)
{
	if (r->n == r->ncap) {
		r->ncap = r->ncap ? 2 * r->ncap : 64;
		size_t *o = realloc(r->off, r->ncap * sizeof *o), *l;
		if (!o)
			cli_die(MM_EXIT_USAGE, "out of memory");
		r->off = o;
		if (!(l = realloc(r->clen, r->ncap * sizeof *l)))
			cli_die(MM_EXIT_USAGE, "out of memory");
		r->clen = l;
	}
	r->off[r->n++] = r->len;
}

static void row_end_cell(row *r)
{
	r->clen[r->n - 1] = r->len - r->off[r->n - 1];
	row_putc(r, 0);
}

static const char *cell(const row *r, size_t i) { return r->buf + r->off[i]; }

/* TSV: a line, cells split at tabs; \t \n \r \\ are escapes. */
static bool read_tsv_row(FILE *f, row *r, uint64_t *line)
{
	static char *l;
	static size_t cap;
	ssize_t n = getline(&l, &cap, f);
	if (n < 0)
		return false;
	++*line;
	while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
		n--;
	r->len = r->n = 0;
	row_start_cell(r);
	for (ssize_t i = 0; i < n; i++) {
		char c = l[i];
		if (c == '\t') {
			row_end_cell(r);
			row_start_cell(r);
		} else if (c == '\\' && i + 1 < n && l[i + 1] && strchr("tnr\\", l[i + 1])) {
			char d = l[++i];
			row_putc(r, d == 't' ? '\t' : d == 'n' ? '\n' : d == 'r' ? '\r' : '\\');
		} else {
			row_putc(r, c);
		}
	}
	row_end_cell(r);
	return true;
}

/* CSV (RFC 4180): quoted cells may hold commas, quotes ("") and newlines.
 * *line is the line the row starts on; lines counts every newline read. */
static bool read_csv_row(FILE *f, row *r, uint64_t *line, uint64_t *lines)
{
	int c = getc(f);
	if (c == EOF)
		return false;
	*line = ++*lines;
	r->len = r->n = 0;
	row_start_cell(r);
	for (;;) {
		if (c == '"' && r->len == r->off[r->n - 1]) {
			uint64_t qline = *lines;
			for (;;) {
				c = getc(f);
				if (c == EOF) {
					in_line = qline;
					bad(NULL, "cell %zu: quoted cell is not closed before the end of the input", r->n);
				}
				if (c == '"') {
					c = getc(f);
					if (c != '"')
						break;
				} else if (c == '\n') {
					++*lines;
				}
				row_putc(r, (char)c);
			}
			if (c == '\r') {
				int d = getc(f);
				if (d != '\n' && d != EOF)
					ungetc(d, f);
				c = d == EOF ? EOF : '\n';
			}
			if (c != ',' && c != '\n' && c != EOF) {
				in_line = *lines;
				bad(NULL, "cell %zu: unexpected character '%c' after a closing quote", r->n, c);
			}
		} else {
			while (c != ',' && c != '\n' && c != EOF) {
				if (c == '\r') {
					int d = getc(f);
					if (d == '\n' || d == EOF) {
						c = d == EOF ? EOF : '\n';
						break;
					}
					ungetc(d, f);
				}
				row_putc(r, (char)c);
				c = getc(f);
			}
		}
		row_end_cell(r);
		if (c == ',') {
			row_start_cell(r);
			c = getc(f);
			continue;
		}
		return true;   /* '\n' or EOF */
	}
}

/* Integer: [+-]?(0|[1-9][0-9]*) that fits int64.  Leading zeros ("007")
 * mark a code, not a number: those stay strings. */
static bool parse_int(const char *s, int64_t *v)
{
	const char *p = s + (*s == '+' || *s == '-');
	if (!*p || (p[0] == '0' && p[1]))
		return false;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return false;
	errno = 0;
	long long x = strtoll(s, NULL, 10);
	if (errno)
		return false;
	*v = x;
	return true;
}

/* Decimal float: [+-]?(d+.?d*|.d+)([eE][+-]?d+)?, finite.  No nan/inf/hex,
 * and no leading zeros before other digits ("007.5" stays a string). */
static bool parse_float(const char *s, double *v)
{
	const char *p = s + (*s == '+' || *s == '-');
	size_t digits = 0;
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '+' || *p == '-';
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return false;
	double d = strtod(s, NULL);
	if (!isfinite(d))
		return false;
	*v = d;
	return true;
}

/* A tensor cell: a JSON array ("[1,2,3]", nested for 2-D) or numbers
 * separated by blanks, commas or semicolons ("1 2 3"). */
static void pack_tensor_cell(const char *field, const char *s, size_t len)
{
	while (*s == ' ' || *s == '\t')
		s++, len--;
	if (*s == '[') {
		json_error_t jerr;
		json_t *a = json_loadb(s, len, 0, &jerr);
		if (!a)
			bad(field, "--tensor: column %d: %s", jerr.column, jerr.text);
		cur_doc = a;
		pack_tensor_array(field, a);
		json_decref(a);
		cur_doc = NULL;
		return;
	}
	tb.dt = &dtypes[0];
	tb.n = 0;
	const char *p = s;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == ';')
			p++;
		if (!*p)
			break;
		char *end;
		double d = strtod(p, &end);
		if (end == p || (*end && !strchr(" \t,;", *end)))
			bad(field, "--tensor: element %zu: \"%.*s\" is not a number", tb.n,
				(int)strcspn(p, " \t,;"), p);
		if (!isfinite(d))
			bad(field, "--tensor: element %zu is not finite", tb.n);
		json_t *num = json_real(d);
		tb_push(&tb, field, num);
		json_decref(num);
		p = end;
	}
	tb.ndim = 1;
	tb.shape[0] = (int64_t)tb.n;
	tb_pack(&tb);
}

static void import_table(FILE *f)
{
	row hdr = {0}, r = {0};
	uint64_t lines = 0, line = 0;
	bool csv = opt.format == FMT_CSV;
#define READ_ROW(x) (csv ? read_csv_row(f, (x), &line, &lines) : read_tsv_row(f, (x), &line))
	if (!READ_ROW(&hdr))
		return;   /* empty input: no records */
	in_line = line;
	/* a UTF-8 byte order mark before the first name */
	if (hdr.clen[0] >= 3 && memcmp(hdr.buf, "\xef\xbb\xbf", 3) == 0) {
		memmove(hdr.buf, hdr.buf + 3, hdr.len - 3);
		hdr.len -= 3;
		hdr.clen[0] -= 3;
		for (size_t i = 1; i < hdr.n; i++)
			hdr.off[i] -= 3;
	}
	ssize_t idcol = -1, srccol = -1;
	for (size_t i = 0; i < hdr.n; i++) {
		const char *name = cell(&hdr, i);
		if (!*name)
			bad(NULL, "header: column %zu has no name", i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(name, cell(&hdr, j)) == 0)
				bad(name, "header: the column name appears twice (columns %zu and %zu)", j + 1, i + 1);
		if (strcmp(name, "id") == 0)
			idcol = (ssize_t)i;
		if (opt.id_field && strcmp(name, opt.id_field) == 0)
			srccol = (ssize_t)i;
	}
	if (!opt.id_field)
		srccol = idcol;
	if (opt.id_field && srccol < 0)
		bad(opt.id_field, "header: no such column (--id %s)", opt.id_field);
	if (srccol < 0 && !opt.gen_id)
		bad("id", "header: no \"id\" column: every record needs an id (use --id FIELD or --gen-id)");

	while (READ_ROW(&r)) {
		in_line = line;
		if (r.n == 1 && r.clen[0] == 0)
			continue;   /* blank line */
		if (r.n != hdr.n)
			bad(NULL, "expected %zu cells (as in the header), got %zu", hdr.n, r.n);
		const char *id = srccol >= 0 ? cell(&r, (size_t)srccol) : "";
		if (!*id && !opt.gen_id)
			bad(cell(&hdr, (size_t)srccol), "empty id: every record needs an id (use --gen-id to generate the missing ones)");
		size_t nf = idcol < 0;
		for (size_t i = 0; i < r.n; i++)
			nf += (ssize_t)i == idcol || r.clen[i] || opt.empty != EMPTY_OMIT;
		sbuf.size = 0;
		msgpack_pack_map(&pk, nf);
		if (idcol < 0) {
			pack_cstr("id");
			*id ? pack_cstr(id) : pack_gen_id();
		}
		for (size_t i = 0; i < r.n; i++) {
			const char *name = cell(&hdr, i), *s = cell(&r, i);
			int64_t iv;
			double dv;
			if ((ssize_t)i == idcol) {
				pack_cstr("id");
				*id ? pack_cstr(id) : pack_gen_id();
				continue;
			}
			if (!r.clen[i]) {
				if (opt.empty == EMPTY_OMIT)
					continue;
				pack_cstr(name);
				if (opt.empty == EMPTY_NULL)
					msgpack_pack_nil(&pk);
				else
					pack_str("", 0);
				continue;
			}
			pack_cstr(name);
			if (is_tensor_field(name))
				pack_tensor_cell(name, s, r.clen[i]);
			else if (opt.strings)
				pack_str(s, r.clen[i]);
			else if (parse_int(s, &iv))
				msgpack_pack_int64(&pk, iv);
			else if (parse_float(s, &dv))
				msgpack_pack_double(&pk, dv);
			else
				pack_str(s, r.clen[i]);
		}
		put_record();
	}
#undef READ_ROW
	free(hdr.buf), free(hdr.off), free(hdr.clen);
	free(r.buf), free(r.off), free(r.clen);
}

/* ---- libsvm / svmlight ----
 * "LABEL [qid:Q] INDEX:VALUE ... [# comment]", indices from 1 and
 * increasing: a record {id, label, [qid], <as>: sparse of --dim} with
 * index - 1 as the position.  The id is the generated one (--gen-id). */
static void import_libsvm(FILE *f)
{
	static mm_sparse s;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	mm_err e;
	while ((n = getline(&line, &cap, f)) >= 0) {
		in_line++;
		char *hash = memchr(line, '#', (size_t)n);
		if (hash)
			*hash = 0;
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok)
			continue;   /* blank or comment line */
		int64_t yi;
		double yd;
		bool is_int = parse_int(tok, &yi);
		if (!is_int && !parse_float(tok, &yd))
			bad("label", "\"%.40s\" is not a number (a libsvm line starts with its label)", tok);
		bool has_qid = false;
		int64_t qid = 0;
		s.dim = opt.dim;
		s.nnz = 0;
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			char *colon = strchr(tok, ':');
			if (!colon)
				bad(opt.as, "\"%.40s\" is not INDEX:VALUE", tok);
			*colon = 0;
			if (!strcmp(tok, "qid")) {
				if (has_qid || s.nnz || !parse_int(colon + 1, &qid))
					bad("qid", "qid:%.40s must be one integer, before the features", colon + 1);
				has_qid = true;
				continue;
			}
			int64_t j;
			double v;
			if (!parse_int(tok, &j) || j < 1 || (uint64_t)j > opt.dim)
				bad(opt.as, "index \"%.40s\" is not an integer in [1, %llu] (--dim)", tok,
					(unsigned long long)opt.dim);
			if (s.nnz && (uint64_t)j - 1 <= s.idx[s.nnz - 1])
				bad(opt.as, "index %lld after %u: indices must be increasing", (long long)j,
					s.idx[s.nnz - 1] + 1);
			if (!parse_float(colon + 1, &v) || !isfinite((float)v))
				bad(opt.as, "index %lld: value \"%.40s\" is not a finite number", (long long)j,
					colon + 1);
			if (mm_sparse_reserve(&s, s.nnz + 1, &e) != MM_OK)
				cli_die_err(&e);
			s.idx[s.nnz] = (uint32_t)(j - 1);
			s.val[s.nnz++] = (float)v;
		}
		sbuf.size = 0;
		msgpack_pack_map(&pk, 3 + has_qid);
		pack_cstr("id");
		pack_gen_id();
		pack_cstr("label");
		if (is_int)
			msgpack_pack_int64(&pk, yi);
		else
			msgpack_pack_double(&pk, yd);
		if (has_qid) {
			pack_cstr("qid");
			msgpack_pack_int64(&pk, qid);
		}
		pack_cstr(opt.as);
		mm_sparse_pack(&pk, &s);
		put_record();
	}
	free(line);
}

/* ---- main ---- */
/* True when the value of --format just read followed a separate -F (as in
 * "-F file" or "-qF file"): the user may mean -F's old meaning, --force. */
static bool old_force(int argc, char **argv)
{
	if (optind < 2 || optind > argc || optarg != argv[optind - 1])
		return false;
	const char *a = argv[optind - 2];
	size_t n = strlen(a);
	return a[0] == '-' && a[1] != '-' && n >= 2 && a[n - 1] == 'F';
}

static void usage(void)
{
	printf("Usage: mmoe-import [OPTIONS] [FILE...]\n"
		"Read JSON Lines, TSV or CSV (stdin when no FILE or FILE is -) and write\n"
		"one record per line or row.\n"
		"\n"
		"Options:\n"
		"  -F, --format F      input format: jsonl, tsv, csv or libsvm (default:\n"
		"                      jsonl); TSV and CSV take the field names from the\n"
		"                      first row\n"
		"      --dim N         libsvm: the dimension of the sparse field (indices\n"
		"                      1..N in the file); required with libsvm\n"
		"      --as NAME       libsvm: the sparse field (default x)\n"
		"  -T, --tensor FIELD  FIELD (an array of numbers, nested for more dimensions)\n"
		"                      becomes an f32 tensor; repeatable, or A,B\n"
		"      --strings       TSV/CSV: keep every cell a string (default: integers\n"
		"                      and decimal numbers become numbers)\n"
		"      --empty P       TSV/CSV empty cells: omit, null or string (default: omit)\n"
		"      --id FIELD      take the id from FIELD (kept too) instead of \"id\"\n"
		"  -g, --gen-id[=PFX]  give records without an id the id PFX<n>, n the\n"
		"                      0-based record number (default: no id is an error)\n"
		"  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
		"      --level N       zstd level, 0 = plain msgpack (default: MMOE_ZSTD_LEVEL or %d)\n"
		"      --force         write binary records even to a terminal\n"
		"  -q, --quiet         no progress line\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n"
		"\n"
		"Exit status: 0 ok, 1 bad input data, 2 usage or I/O error.\n"
		"See mmoe-import(1) and mmoe-records(5).\n", mm_zstd_level_default());
}

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-import");
	enum { OPT_ID = 256, OPT_EMPTY, OPT_STRINGS, OPT_DIM, OPT_AS };
	static const struct option longopts[] = {
		CLI_OPT_FORMAT,
		{"tensor", required_argument, NULL, 'T'},
		{"strings", no_argument, NULL, OPT_STRINGS},
		{"empty", required_argument, NULL, OPT_EMPTY},
		{"id", required_argument, NULL, OPT_ID},
		{"gen-id", optional_argument, NULL, 'g'},
		{"dim", required_argument, NULL, OPT_DIM},
		{"as", required_argument, NULL, OPT_AS},
		CLI_OPT_OUTPUT, CLI_OPT_LEVEL, CLI_OPT_FORCE, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	static const cli_moved moved[] = {
		{'t', "is now --types elsewhere; for the input format use -F/--format"},
		{'s', "is now --seed elsewhere; to keep cells as strings use --strings"},
		{'l', "is now --label elsewhere; for the zstd level use --level"},
		{0, NULL},
	};
	char **tensors = NULL;
	int c;
	while ((c = cli_getopt(argc, argv, longopts, moved)) != -1) {
		switch (c) {
		case 'F':
			if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "json") == 0)
				opt.format = FMT_JSONL;
			else if (strcmp(optarg, "tsv") == 0)
				opt.format = FMT_TSV;
			else if (strcmp(optarg, "csv") == 0)
				opt.format = FMT_CSV;
			else if (strcmp(optarg, "libsvm") == 0 || strcmp(optarg, "svmlight") == 0)
				opt.format = FMT_LIBSVM;
			else if (old_force(argc, argv))
				cli_usage("option -F: '%s' is not jsonl, tsv, csv or libsvm "
					"(-F is now --format; to write to a terminal use --force)", optarg);
			else
				cli_usage("option --format: '%s' is not jsonl, tsv, csv or libsvm", optarg);
			break;
		case 'T': {
			size_t n;
			char **v = cli_split(optarg, ',', &n);
			if (!n)
				cli_usage("option --tensor: no field name in '%s'", optarg);
			tensors = realloc(tensors, (opt.ntensors + n) * sizeof *tensors);
			if (!tensors)
				cli_die(MM_EXIT_USAGE, "out of memory");
			for (size_t i = 0; i < n; i++)
				tensors[opt.ntensors++] = v[i];
			opt.tensors = tensors;
			free(v);   /* the names live on in v[0]'s buffer, now tensors[...] */
			break;
		}
		case OPT_STRINGS: opt.strings = true; break;
		case OPT_DIM:
			opt.dim = cli_u64("--dim", optarg);
			if (opt.dim < 1 || opt.dim > MM_SPARSE_MAXDIM)
				cli_usage("option --dim: %s is not in [1, 2^32]", optarg);
			break;
		case OPT_AS:
			if (!*optarg)
				cli_usage("option --as: empty field name");
			opt.as = optarg;
			break;
		case OPT_EMPTY:
			if (strcmp(optarg, "omit") == 0)
				opt.empty = EMPTY_OMIT;
			else if (strcmp(optarg, "null") == 0)
				opt.empty = EMPTY_NULL;
			else if (strcmp(optarg, "string") == 0)
				opt.empty = EMPTY_STRING;
			else
				cli_usage("option --empty: '%s' is not omit, null or string", optarg);
			break;
		case OPT_ID:
			if (!*optarg)
				cli_usage("option --id: empty field name");
			opt.id_field = optarg;
			break;
		case 'g':
			opt.gen_id = true;
			if (optarg)
				opt.gen_prefix = optarg;
			break;
		case 'o': opt.out = optarg; break;
		case CLI_LEVEL: opt.level = cli_level(optarg); break;
		case CLI_FORCE: opt.force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (opt.id_field && strcmp(opt.id_field, "id") == 0)
		opt.id_field = NULL;
	if ((opt.format == FMT_LIBSVM) != (opt.dim > 0))
		cli_usage(opt.dim ? "--dim goes with --format libsvm" :
			"--format libsvm needs --dim N (the number of features)");

	char *stdin_only[] = {"-", NULL};
	char **inputs = optind < argc ? argv + optind : stdin_only;
	int ninputs = optind < argc ? argc - optind : 1;

	mm_err e;
	if (!opt.out)
		cli_check_binary_stdout(opt.force);
	/* open every input first: a missing file must not leave a partial output */
	FILE **files = calloc((size_t)ninputs, sizeof *files);
	if (!files)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (int i = 0; i < ninputs; i++) {
		if (strcmp(inputs[i], "-") == 0)
			files[i] = stdin;
		else if (!(files[i] = fopen(inputs[i], "rb")))
			cli_die(MM_EXIT_USAGE, "cannot open %s: %s", inputs[i], strerror(errno));
	}
	if (mm_writer_open(&w, opt.out, opt.level, &e) != MM_OK)
		cli_die_err(&e);
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

	cli_progress_start(&prog, "records", 0);
	for (int i = 0; i < ninputs; i++) {
		in_name = files[i] == stdin ? "<stdin>" : inputs[i];
		in_line = 0;
		if (opt.format == FMT_JSONL)
			import_jsonl(files[i]);
		else if (opt.format == FMT_LIBSVM)
			import_libsvm(files[i]);
		else
			import_table(files[i]);
		if (ferror(files[i]))
			cli_die(MM_EXIT_USAGE, "error reading %s: %s", in_name, strerror(errno));
		if (files[i] != stdin)
			fclose(files[i]);
	}
	cli_progress_end(&prog);
	if (mm_writer_close(w, &e) != MM_OK) {
		w = NULL;
		cli_die_err(&e);
	}
	w = NULL;
	msgpack_sbuffer_destroy(&sbuf);
	free(tb.data);
	free(files);
	return cli_finish();
}
