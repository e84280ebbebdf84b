/* unipred.c — folds, margin, balancing and prediction import (see unipred.h). */
#include "unipred.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "rng.h"
#include "rus.h"
#include "stream.h"
#include "util.h"

/* ---- cross-fitting ------------------------------------------------------- */

mm_status mm_unipred_folds(const int *y, size_t n, int nclass, int k,
		uint64_t seed, int *fold, mm_err *e)
{
	if (k < 2)
		return mm_errf(e, MM_EVALUE, "cross-fitting needs at least 2 folds, got %d", k);
	if (nclass < 1)
		return mm_errf(e, MM_EVALUE, "cross-fitting needs at least 1 class, got %d", nclass);
	if (n < (size_t)k)
		return mm_errf(e, MM_EVALUE,
			"%zu training records are fewer than the %d folds", n, k);
	for (size_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= nclass)
			return mm_errf(e, MM_EVALUE, "item %zu: class %d out of range [0, %d)",
				i, y[i], nclass);
	size_t *idx = malloc(n * sizeof *idx);
	if (!idx)
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu fold indices)", n);
	mm_rng root;
	mm_rng_seed(&root, seed);
	/* Deal class by class, continuing the round-robin position, so that fold
	 * sizes differ by at most one overall and within each class. */
	size_t deal = 0;
	for (int c = 0; c < nclass; c++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (y[i] == c)
				idx[m++] = i;
		mm_rng g = mm_rng_split(&root, (uint64_t)c);
		mm_rng_shuffle(&g, idx, m, sizeof *idx);
		for (size_t j = 0; j < m; j++)
			fold[idx[j]] = (int)(deal++ % (size_t)k);
	}
	free(idx);
	return MM_OK;
}

/* ---- probabilities ------------------------------------------------------- */

mm_status mm_unipred_normalise(float *p, int c, mm_err *e)
{
	/* tolerance 0: always divided by the sum */
	return mm_fuse_check_probs(p, (size_t)c, 0, NULL, e);
}

double mm_unipred_margin(const float *p, int c)
{
	if (c < 2)
		return 1.0;
	double s = 0, a = -1, b = -1; /* top and second */
	for (int i = 0; i < c; i++) {
		double v = p[i];
		s += v;
		if (v > a) {
			b = a;
			a = v;
		} else if (v > b) {
			b = v;
		}
	}
	if (!(s > 0))
		return 0.0;
	return fabs(a - b) / s;
}

/* ---- balancing ----------------------------------------------------------- */

typedef struct { float p; size_t i; } pidx;

static int by_p_desc(const void *x, const void *y)
{
	const pidx *a = x, *b = y;
	if (a->p != b->p)
		return a->p > b->p ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

mm_status mm_unipred_balance(const float *ppos, int *cls, size_t n, double b,
		mm_balance_report *rep, mm_err *e)
{
	memset(rep, 0, sizeof *rep);
	rep->n = n;
	if (!(b >= 0 && b <= 0.5))
		return mm_errf(e, MM_EVALUE, "balance fraction %g is outside [0, 0.5]", b);
	for (size_t i = 0; i < n; i++) {
		if (cls[i] != 0 && cls[i] != 1)
			return mm_errf(e, MM_EVALUE, "balancing needs binary classes, item %zu has class %d",
				i, cls[i]);
		rep->pos_before += cls[i] == 1;
	}
	rep->pos_after = rep->pos_before;
	if (n == 0 || b == 0)
		return MM_OK;
	double lo = b * (double)n, hi = (1 - b) * (double)n;
	int dir = 0;
	if ((double)rep->pos_before < lo)
		dir = +1;
	else if ((double)rep->pos_before > hi)
		dir = -1;
	if (!dir)
		return MM_OK;
	/* ceil(b*n), with a guard against 0.2*10 = 2.0000000000000004 */
	size_t k = (size_t)ceil(lo - 1e-9);
	if (k > n)
		k = n;
	pidx *v = malloc(n * sizeof *v);
	if (!v)
		return mm_errf(e, MM_ENOMEM, "out of memory (balancing %zu predictions)", n);
	for (size_t i = 0; i < n; i++) {
		v[i].p = ppos[i];
		v[i].i = i;
	}
	qsort(v, n, sizeof *v, by_p_desc);
	for (size_t j = 0; j < k; j++) {
		/* top k for positives; bottom k (from the end: lowest P, later first) for negatives */
		size_t i = dir > 0 ? v[j].i : v[n - 1 - j].i;
		int want = dir > 0 ? 1 : 0;
		if (cls[i] != want) {
			cls[i] = want;
			rep->changed++;
		}
	}
	free(v);
	rep->k = k;
	rep->direction = dir;
	rep->pos_after = 0;
	for (size_t i = 0; i < n; i++)
		rep->pos_after += cls[i] == 1;
	return MM_OK;
}

/* ---- import -------------------------------------------------------------- */

/* An entry as read, before the class count is known. */
typedef struct raw {
	char *id;
	float *v;          /* nv scores as read (logits or probabilities); NULL: a class only */
	int nv;
	bool logits;
	bool nonfinite;
	int pred;          /* the file's class: -2 absent, -1 null, else >= 0 */
	size_t line;       /* JSON Lines line or stream record index + 1; 0: JSON object */
	size_t order;      /* position in the file */
	const char *key;   /* the scores' field, for messages */
} raw;

typedef struct builder {
	raw *r;
	size_t n, cap;
	mm_import *im;
	const mm_import_opts *o;
	const char *name;
	const char *idkey;
} builder;

static void raw_free(builder *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->r[i].id);
		free(b->r[i].v);
	}
	free(b->r);
	b->r = NULL;
	b->n = b->cap = 0;
}

/* Takes v (freed on failure). */
static mm_status push_raw(builder *b, const char *id, size_t idlen, raw x, mm_err *e)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 256;
		raw *nr = realloc(b->r, nc * sizeof *nr);
		if (!nr) {
			free(x.v);
			return mm_errf(e, MM_ENOMEM, "out of memory (%zu import entries)", nc);
		}
		b->r = nr;
		b->cap = nc;
	}
	x.id = malloc(idlen + 1);
	if (!x.id) {
		free(x.v);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	memcpy(x.id, id, idlen);
	x.id[idlen] = 0;
	x.order = b->n;
	b->r[b->n++] = x;
	b->im->read++;
	return MM_OK;
}

/* Where an entry is, for messages: `entry "ID"` or `line N (id "ID")`. */
static void raw_where(const builder *b, const raw *x, char *buf, size_t size)
{
	if (!x->line)
		snprintf(buf, size, "entry \"%s\"", x->id);
	else
		snprintf(buf, size, "%s %zu (id \"%s\")",
			!strcmp(b->im->format, "record stream") ? "record" : "line", x->line, x->id);
}

static bool nonfinite_word(const char *s)
{
	return !strcmp(s, "NaN") || !strcmp(s, "nan") || !strcmp(s, "Infinity") ||
		!strcmp(s, "-Infinity") || !strcmp(s, "inf") || !strcmp(s, "-inf");
}

/* One JSON entry {"logits"|"probs": ..., "pred": ...} for id; line 0 for an
 * entry of a JSON object keyed by id. */
static mm_status json_entry(builder *b, const char *id, size_t idlen, json_t *v, size_t line,
		const char *where, mm_err *e)
{
	const mm_import_opts *o = b->o;
	if (!json_is_object(v))
		return mm_errf(e, MM_ETYPE, "%s: entry \"%s\": expected an object with \"logits\", \"probs\" or \"pred\"",
			b->name, id);
	raw x = { .pred = -2, .line = line, .key = "probs" };
	json_t *s = json_object_get(v, "probs");
	if (!s) {
		s = json_object_get(v, "logits");
		x.key = "logits";
		x.logits = true;
	}
	json_t *pr = json_object_get(v, "pred");
	if (!s && !pr)
		return mm_errf(e, MM_MISSING, "%s: %s: no \"logits\", \"probs\" or \"pred\" field", b->name, where);
	if (pr && !json_is_null(pr)) {
		long long g;
		if (json_is_boolean(pr))
			g = json_is_true(pr);
		else if (json_is_integer(pr))
			g = json_integer_value(pr);
		else
			return mm_errf(e, MM_ETYPE, "%s: %s: field \"pred\": expected an integer class, a boolean or null",
				b->name, where);
		if (g < 0 || g > 1000000)
			return mm_errf(e, MM_EVALUE, "%s: %s: field \"pred\": class %lld is not a class index (0, 1, ...)",
				b->name, where, g);
		x.pred = (int)g;
	} else if (pr) {
		x.pred = -1;
	}
	if (s) {
		/* an array in class order, or an object keyed by the --import-classes names */
		bool keyed = json_is_object(s);
		if (json_is_array(s)) {
			x.nv = (int)json_array_size(s);
		} else if (keyed) {
			if (!o->class_names)
				return mm_errf(e, MM_EUSAGE, "%s: %s: field \"%s\" is keyed by class name; "
					"give the class order with --import-classes (e.g. No,Yes)", b->name, where, x.key);
			x.nv = o->nclass_names;
		} else {
			return mm_errf(e, MM_ETYPE, "%s: %s: field \"%s\": expected an array or an object of numbers",
				b->name, where, x.key);
		}
		if (x.nv < 1)
			return mm_errf(e, MM_EVALUE, "%s: %s: field \"%s\": no classes", b->name, where, x.key);
		x.v = malloc((size_t)x.nv * sizeof *x.v);
		if (!x.v)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		for (int i = 0; i < x.nv; i++) {
			json_t *y = keyed ? json_object_get(s, o->class_names[i]) : json_array_get(s, (size_t)i);
			if (json_is_number(y)) {
				x.v[i] = (float)json_number_value(y);
				x.nonfinite |= !isfinite(x.v[i]);
			} else if (json_is_string(y) && nonfinite_word(json_string_value(y))) {
				x.v[i] = NAN;
				x.nonfinite = true;
			} else {
				free(x.v);
				if (!keyed)
					return mm_errf(e, MM_ETYPE, "%s: %s: field \"%s\": element %d is not a number",
						b->name, where, x.key, i);
				return mm_errf(e, y ? MM_ETYPE : MM_MISSING,
					"%s: %s: field \"%s\": class \"%s\" %s", b->name, where, x.key,
					o->class_names[i], y ? "is not a number" : "is missing");
			}
		}
	}
	return push_raw(b, id, idlen, x, e);
}

/* An object with the id (JSON Lines line or JSON array element). */
static mm_status json_line(builder *b, json_t *v, size_t line, const char *where, mm_err *e)
{
	if (!json_is_object(v))
		return mm_errf(e, MM_ETYPE, "%s: %s: expected an object with \"%s\"", b->name, where, b->idkey);
	json_t *id = json_object_get(v, b->idkey);
	char num[32];
	const char *s;
	size_t len;
	if (json_is_string(id)) {
		s = json_string_value(id);
		len = json_string_length(id);
	} else if (json_is_integer(id)) {
		len = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(id));
		s = num;
	} else {
		return mm_errf(e, id ? MM_ETYPE : MM_MISSING, "%s: %s: field \"%s\": %s%s", b->name, where,
			b->idkey, id ? "expected a string" : "missing",
			!id && !strcmp(b->idkey, "id") && json_object_get(v, "image_id") ?
				" (the line has \"image_id\": --id-key image_id)" : "");
	}
	char w[96];
	snprintf(w, sizeof w, "%s (id \"%.*s\")", where, (int)(len < 40 ? len : 40), s);
	return json_entry(b, s, len, v, line, w, e);
}

/* Python's json module writes NaN, Infinity and -Infinity, which are not
 * JSON.  A copy of buf with those bare words quoted (so that the entry can be
 * counted as non-finite), or NULL when buf has none. */
static char *quote_nonfinite(const char *buf, size_t len, size_t *outlen)
{
	if (!memmem(buf, len, "NaN", 3) && !memmem(buf, len, "Infinity", 8))
		return NULL;
	char *out = malloc(2 * len + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	bool str = false, esc = false, any = false;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				str = false;
			out[o++] = c;
			continue;
		}
		if (c == '"') {
			str = true;
			out[o++] = c;
			continue;
		}
		size_t w = 0;
		if (len - i >= 3 && !memcmp(buf + i, "NaN", 3))
			w = 3;
		else if (len - i >= 8 && !memcmp(buf + i, "Infinity", 8))
			w = 8;
		else if (len - i >= 9 && !memcmp(buf + i, "-Infinity", 9))
			w = 9;
		if (w) {
			out[o++] = '"';
			memcpy(out + o, buf + i, w);
			o += w;
			out[o++] = '"';
			i += w - 1;
			any = true;
			continue;
		}
		out[o++] = c;
	}
	if (!any) {
		free(out);
		return NULL;
	}
	*outlen = o;
	return out;
}

static mm_status parse_json(builder *b, const char *buf, size_t len, mm_err *e)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	mm_status st = MM_OK;
	if (root && json_is_object(root) && !json_object_get(root, b->idkey) &&
			!json_object_get(root, "probs") && !json_object_get(root, "logits")) {
		b->im->format = "JSON object";
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(root, k, klen, v) {
			char w[96];
			snprintf(w, sizeof w, "entry \"%.*s\"", (int)(klen < 40 ? klen : 40), k);
			if ((st = json_entry(b, k, klen, v, 0, w, e)))
				break;
		}
		json_decref(root);
		return st;
	}
	if (root && json_is_array(root)) {
		b->im->format = "JSON array";
		for (size_t i = 0; i < json_array_size(root) && !st; i++) {
			char where[48];
			snprintf(where, sizeof where, "element %zu", i);
			st = json_line(b, json_array_get(root, i), i + 1, where, e);
		}
		json_decref(root);
		return st;
	}
	if (root && !json_is_object(root)) {
		json_decref(root);
		return mm_errf(e, MM_ECORRUPT, "%s: expected a JSON object keyed by id, JSON Lines or a record stream",
			b->name);
	}
	if (!root && strstr(je.text, "duplicate object key"))
		return mm_errf(e, MM_ECORRUPT, "%s: line %d: %s (an id given twice in a JSON object "
			"cannot be told apart from a mistake: fix the file)", b->name, je.line, je.text);
	json_decref(root);
	/* JSON Lines (one object with the id is the one-line case). */
	char whole[256];
	snprintf(whole, sizeof whole, "line %d column %d: %s", je.line, je.column, je.text);
	b->im->format = "JSON Lines";
	size_t pos = 0, line = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		line++;
		size_t a = pos;
		while (a < end && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r'))
			a++;
		if (a < end) {
			json_t *v = json_loadb(buf + a, end - a, JSON_REJECT_DUPLICATES, &je);
			if (!v) {
				if (line == 1 && !root)
					return mm_errf(e, MM_ECORRUPT, "%s: not valid JSON or JSON Lines: %s",
						b->name, whole);
				return mm_errf(e, MM_ECORRUPT, "%s: line %zu: invalid JSON: %s", b->name, line, je.text);
			}
			char where[48];
			snprintf(where, sizeof where, "line %zu", line);
			st = json_line(b, v, line, where, e);
			json_decref(v);
			if (st)
				return st;
		}
		pos = end + 1;
	}
	return MM_OK;
}

static mm_status parse_stream(builder *b, const char *buf, size_t len, mm_err *e)
{
	const mm_import_opts *o = b->o;
	b->im->format = "record stream";
	if (!o->field || !*o->field)
		return mm_errf(e, MM_EUSAGE, "%s: a record stream needs the prediction field (--import-field)", b->name);
	mm_reader *rd;
	mm_status st = mm_reader_mem(&rd, buf, len, b->name, e);
	if (st)
		return st;
	size_t fl = strlen(o->field);
	char *cfield = malloc(fl + 7);
	if (!cfield) {
		mm_reader_close(rd);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	memcpy(cfield, o->field, fl);
	memcpy(cfield + fl, "_class", 7);
	mm_rec *r = NULL;
	size_t nrec = 0;
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		char where[160];
		const char *id;
		nrec++;
		if (!mm_rec_has(r, "id")) {
			b->im->no_id++;
			mm_rec_free(r);
			r = NULL;
			continue;
		}
		if ((st = mm_rec_str(r, "id", &id, e))) {
			mm_err_prefix(e, "%s", b->name);
			break;
		}
		if (!mm_rec_has(r, o->field)) {
			b->im->no_field++;
			mm_rec_free(r);
			r = NULL;
			continue;
		}
		mm_tensor t = { 0 };
		if ((st = mm_rec_tensor(r, o->field, &t, true, e))) {
			mm_err_prefix(e, "%s", b->name);
			break;
		}
		raw x = { .pred = -2, .line = nrec, .key = o->field, .nv = (int)t.n };
		x.v = malloc((t.n ? t.n : 1) * sizeof *x.v);
		if (!x.v) {
			mm_tensor_free(&t);
			st = mm_errf(e, MM_ENOMEM, "out of memory");
			break;
		}
		memcpy(x.v, t.data, t.n * sizeof *x.v);
		mm_tensor_free(&t);
		for (int i = 0; i < x.nv; i++)
			x.nonfinite |= !isfinite(x.v[i]);
		if (mm_rec_has(r, cfield)) {
			int64_t g;
			if ((st = mm_rec_int(r, cfield, &g, e))) {
				free(x.v);
				mm_err_prefix(e, "%s", b->name);
				break;
			}
			if (g < 0 || g > 1000000) {
				free(x.v);
				st = mm_errf(e, MM_EVALUE, "%s: %s: field \"%s\": class %lld is not a class index",
					b->name, mm_rec_where(r, where, sizeof where), cfield, (long long)g);
				break;
			}
			x.pred = (int)g;
		}
		if ((st = push_raw(b, id, strlen(id), x, e)))
			break;
		mm_rec_free(r);
		r = NULL;
	}
	mm_rec_free(r);
	free(cfield);
	mm_reader_close(rd);
	return st == MM_EOF ? MM_OK : st;
}

static int raw_by_id(const void *x, const void *y)
{
	const raw *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* The class count: given, from the class names, the most common row length,
 * or for a file of classes only 1 + the largest class (at least 2). */
static int decide_nclass(const builder *b)
{
	const mm_import_opts *o = b->o;
	if (o->nclass > 0)
		return o->nclass;
	if (o->order)
		return o->norder;
	if (o->class_names && o->nclass_names > 0)
		return o->nclass_names;
	int best = 0;
	size_t bestn = 0;
	for (size_t i = 0; i < b->n; i++) {
		if (!b->r[i].v || b->r[i].nv == best)
			continue;
		size_t m = 0;
		for (size_t j = 0; j < b->n; j++)
			m += b->r[j].v && b->r[j].nv == b->r[i].nv;
		if (m > bestn) {
			best = b->r[i].nv;
			bestn = m;
		}
	}
	if (best)
		return best;
	int mx = 1;
	for (size_t i = 0; i < b->n; i++)
		if (b->r[i].pred + 1 > mx)
			mx = b->r[i].pred + 1;
	return mx;
}

/* Note the unusable entry x when it comes before the one noted so far. */
static void note_bad(builder *b, const raw *x, size_t *first, const char *fmt, ...)
{
	if (x->order >= *first)
		return;
	*first = x->order;
	char w[128];
	raw_where(b, x, w, sizeof w);
	int k = snprintf(b->im->first_bad, sizeof b->im->first_bad, "%s: ", w);
	if (k < 0 || (size_t)k >= sizeof b->im->first_bad)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->im->first_bad + k, sizeof b->im->first_bad - (size_t)k, fmt, ap);
	va_end(ap);
}

/* From the raw entries to the usable ones: class count, duplicates, the
 * checks, probabilities and classes. */
static mm_status finish(builder *b, mm_err *e)
{
	mm_import *im = b->im;
	const mm_import_opts *o = b->o;
	int C = decide_nclass(b);
	im->nclass = C;
	qsort(b->r, b->n, sizeof *b->r, raw_by_id);
	im->ent = malloc((b->n ? b->n : 1) * sizeof *im->ent);
	if (!im->ent)
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu import entries)", b->n);
	size_t first = SIZE_MAX;
	for (size_t i = 0; i < b->n; i++) {
		raw *x = &b->r[i];
		size_t same = 1;
		while (i + same < b->n && !strcmp(b->r[i + same].id, x->id))
			same++;
		if (same > 1) {
			im->dup_ids++;
			im->dup_entries += same;
			note_bad(b, &b->r[i + 1], &first, "id \"%s\" appears %s", x->id,
				same == 2 ? "twice" : "more than twice");
			i += same - 1;
			continue;
		}
		char w[128];
		if (x->v && x->nv != C) {
			im->bad_length++;
			note_bad(b, x, &first, "field \"%s\": %d values, but %d classes%s", x->key, x->nv, C,
				o->nclass > 0 ? "" : o->class_names ? " (--import-classes)" : " (as most rows)");
			continue;
		}
		if (x->v && x->nonfinite) {
			im->nonfinite++;
			int k = 0;
			while (k < x->nv && isfinite(x->v[k]))
				k++;
			note_bad(b, x, &first, "field \"%s\": value %d is not finite", x->key, k);
			continue;
		}
		if (x->pred >= C) {
			raw_where(b, x, w, sizeof w);
			return mm_errf(e, MM_EVALUE, "%s: %s: field \"pred\": class %d out of range [0, %d)",
				b->name, w, x->pred, C);
		}
		if (o->order) {
			/* the file's columns (and classes) into our class order */
			if (x->v) {
				float *q = malloc((size_t)C * sizeof *q);
				if (!q)
					return mm_errf(e, MM_ENOMEM, "out of memory");
				for (int c = 0; c < C; c++)
					q[c] = x->v[o->order[c]];
				free(x->v);
				x->v = q;
			}
			if (x->pred >= 0) {
				int c = 0;
				while (o->order[c] != x->pred)
					c++;
				x->pred = c;
			}
		}
		float *p = x->v;
		int cls;
		if (!p) {
			/* a class only: one-hot */
			if (x->pred < 0) {
				raw_where(b, x, w, sizeof w);
				if (x->pred == -2)
					return mm_errf(e, MM_MISSING, "%s: %s: no \"logits\", \"probs\" or \"pred\" field",
						b->name, w);
			}
			if (x->pred >= 0) {
				p = calloc((size_t)C, sizeof *p);
				if (!p)
					return mm_errf(e, MM_ENOMEM, "out of memory");
				p[x->pred] = 1;
				im->class_only++;
			} else {
				im->null_pred++;
			}
			cls = x->pred;
		} else {
			if (x->logits) {
				mm_vec_softmax(p, (size_t)C);
			} else if (mm_unipred_normalise(p, C, e)) {
				raw_where(b, x, w, sizeof w);
				return mm_err_prefix(e, "%s: %s: field \"%s\"", b->name, w, x->key);
			}
			int am = (int)mm_vec_argmax(p, (size_t)C);
			cls = am;
			if (x->pred >= 0 && x->pred != am)
				im->pred_differs++;
			if (o->class_from == MM_IMPORT_CLASS_PRED && x->pred >= 0)
				cls = x->pred;
			if (x->pred == -1 && o->class_from != MM_IMPORT_CLASS_ARGMAX) {
				im->null_pred++;
				free(p);
				p = NULL;
				cls = -1;
			}
		}
		x->v = NULL; /* owned by the entry now */
		im->ent[im->n++] = (mm_import_entry){ .id = x->id, .p = p, .cls = p ? cls : -1 };
		x->id = NULL;
	}
	size_t bad = im->bad_length + im->nonfinite + im->dup_entries;
	if (bad && (double)bad > o->max_bad * (double)im->read)
		return mm_errf(e, MM_EVALUE, "%s: %zu of %zu entries unusable (%zu of the wrong length, "
			"%zu with a non-finite value, %zu under an id given more than once), more than "
			"--max-bad %g allows; the first: %s", b->name, bad, im->read, im->bad_length,
			im->nonfinite, im->dup_entries, o->max_bad, im->first_bad);
	return MM_OK;
}

mm_status mm_import_parse(const char *buf, size_t len, const char *name,
		const mm_import_opts *opts, mm_import *out, mm_err *e)
{
	memset(out, 0, sizeof *out);
	builder b = { .im = out, .o = opts, .name = name,
		.idkey = opts->id_key && *opts->id_key ? opts->id_key : "id" };
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	mm_status st;
	if (i < len && (buf[i] == '{' || buf[i] == '[')) {
		size_t qlen = 0;
		char *q = quote_nonfinite(buf, len, &qlen);
		st = parse_json(&b, q ? q : buf, q ? qlen : len, e);
		free(q);
	} else if (i == len) {
		st = mm_errf(e, MM_ECORRUPT, "%s: empty prediction file", name);
	} else {
		st = parse_stream(&b, buf, len, e);
	}
	if (st == MM_OK && b.n == 0)
		st = mm_errf(e, MM_EVALUE, "%s: no predictions in the file", name);
	if (st == MM_OK)
		st = finish(&b, e);
	raw_free(&b);
	if (st)
		mm_import_free(out);
	return st;
}

mm_import_entry *mm_import_find(mm_import *im, const char *id)
{
	size_t lo = 0, hi = im->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, im->ent[mid].id);
		if (!c)
			return &im->ent[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void mm_import_free(mm_import *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n; i++) {
		free(im->ent[i].id);
		free(im->ent[i].p);
	}
	free(im->ent);
	memset(im, 0, sizeof *im);
}

const char *mm_import_class_desc(mm_import_class c)
{
	switch (c) {
	case MM_IMPORT_CLASS_SCORES: return "the argmax of the scores";
	case MM_IMPORT_CLASS_PRED: return "the file's class";
	case MM_IMPORT_CLASS_ARGMAX: return "the argmax, null pred included";
	}
	return "?";
}

/* ---- joining imports to records ------------------------------------------ */

mm_status mm_import_join(mm_import *im, int nf, const char *const *names,
		const char *const *ids, size_t n, float *P, int *cls, double max_unmatched,
		mm_join_report *rep, mm_err *e)
{
	memset(rep, 0, sizeof *rep);
	rep->records = n;
	rep->first_unknown_file = -1;
	int C = im[0].nclass;
	for (int f = 0; f < nf; f++) {
		if (im[f].nclass != C)
			return mm_errf(e, MM_EVALUE, "%s: %d classes, but %s has %d", names[f], im[f].nclass,
				names[0], C);
		rep->entries += im[f].n;
		for (size_t j = 0; j < im[f].n; j++)
			im[f].ent[j].used = false;
	}
	for (size_t i = 0; i < n; i++) {
		cls[i] = -1;
		if (!ids[i]) {
			rep->no_id++;
			continue;
		}
		mm_import_entry *en = NULL;
		int from = -1;
		for (int f = 0; f < nf; f++) {
			mm_import_entry *x = mm_import_find(&im[f], ids[i]);
			if (x && en)
				return mm_errf(e, MM_EVALUE, "id \"%s\" is in both %s and %s", ids[i],
					names[from], names[f]);
			if (x) {
				en = x;
				from = f;
			}
		}
		if (!en) {
			rep->absent++;
			continue;
		}
		en->used = true;
		if (!en->p) {
			rep->null_pred++;
			continue;
		}
		memcpy(P + i * (size_t)C, en->p, (size_t)C * sizeof *P);
		cls[i] = en->cls;
		rep->matched++;
	}
	for (int f = 0; f < nf; f++)
		for (size_t j = 0; j < im[f].n; j++)
			if (!im[f].ent[j].used) {
				if (!rep->first_unknown) {
					rep->first_unknown = im[f].ent[j].id;
					rep->first_unknown_file = f;
				}
				rep->unknown++;
			}
	if (rep->entries && rep->unknown == rep->entries)
		return mm_errf(e, MM_EVALUE, "%s%s: none of the %zu ids matches a record of the stream "
			"(first \"%s\"): predictions for another data set?", names[0], nf > 1 ? " etc." : "",
			rep->entries, rep->first_unknown);
	if ((double)rep->unknown > max_unmatched * (double)rep->entries)
		return mm_errf(e, MM_EVALUE, "%s: id \"%s\" is not in the stream (%zu of the %zu ids of the "
			"import are not), more than --max-unmatched %g allows", names[rep->first_unknown_file],
			rep->first_unknown, rep->unknown, rep->entries, max_unmatched);
	return MM_OK;
}
