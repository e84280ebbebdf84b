/* unipred.c — folds, margin, balancing and prediction import (see unipred.h). */
#include "unipred.h"

#include <jansson.h>
#include <math.h>
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

typedef struct builder {
	mm_import *im;
	size_t cap;
	const mm_import_opts *o;
	const char *name;
} builder;

static mm_status push(builder *b, const char *id, size_t idlen, float *p, int cls, mm_err *e)
{
	mm_import *im = b->im;
	if (im->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 256;
		mm_import_entry *ne = realloc(im->ent, nc * sizeof *ne);
		if (!ne)
			return mm_errf(e, MM_ENOMEM, "out of memory (%zu import entries)", nc);
		im->ent = ne;
		b->cap = nc;
	}
	char *s = malloc(idlen + 1);
	if (!s)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	memcpy(s, id, idlen);
	s[idlen] = 0;
	im->ent[im->n++] = (mm_import_entry){ .id = s, .p = p, .cls = p ? cls : -1 };
	return MM_OK;
}

static mm_status set_nclass(builder *b, int c, const char *id, const char *key, mm_err *e)
{
	if (c < 1)
		return mm_errf(e, MM_EVALUE, "%s: entry \"%s\": field \"%s\": no classes", b->name, id, key);
	if (b->im->nclass == 0)
		b->im->nclass = c;
	else if (b->im->nclass != c)
		return mm_errf(e, MM_EVALUE, "%s: entry \"%s\": field \"%s\": %d classes, earlier entries have %d",
			b->name, id, key, c, b->im->nclass);
	return MM_OK;
}

/* One JSON entry {"logits"|"probs": ..., "pred": ...} for id. */
static mm_status json_entry(builder *b, const char *id, size_t idlen, json_t *v, mm_err *e)
{
	const mm_import_opts *o = b->o;
	if (!json_is_object(v))
		return mm_errf(e, MM_ETYPE, "%s: entry \"%s\": expected an object with \"logits\" or \"probs\"",
			b->name, id);
	const char *key = "probs";
	json_t *s = json_object_get(v, "probs");
	bool logits = false;
	if (!s) {
		s = json_object_get(v, "logits");
		key = "logits";
		logits = true;
	}
	if (!s)
		return mm_errf(e, MM_MISSING, "%s: entry \"%s\": no \"logits\" or \"probs\" field", b->name, id);
	/* an array in class order, or an object keyed by the --import-classes names */
	bool keyed = json_is_object(s);
	int c;
	if (json_is_array(s)) {
		c = (int)json_array_size(s);
		if (o->class_names && c != o->nclass_names)
			return mm_errf(e, MM_EVALUE, "%s: entry \"%s\": field \"%s\": %d values, but %d class names were given",
				b->name, id, key, c, o->nclass_names);
	} else if (keyed) {
		if (!o->class_names)
			return mm_errf(e, MM_EUSAGE, "%s: entry \"%s\": field \"%s\" is keyed by class name; "
				"give the class order with --import-classes (e.g. No,Yes)", b->name, id, key);
		c = o->nclass_names;
	} else {
		return mm_errf(e, MM_ETYPE, "%s: entry \"%s\": field \"%s\": expected an array or an object of numbers",
			b->name, id, key);
	}
	mm_status st = set_nclass(b, c, id, key, e);
	if (st)
		return st;
	float *p = malloc((size_t)c * sizeof *p);
	if (!p)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (int i = 0; i < c; i++) {
		json_t *x = keyed ? json_object_get(s, o->class_names[i]) : json_array_get(s, (size_t)i);
		if (!json_is_number(x)) {
			free(p);
			if (!keyed)
				return mm_errf(e, MM_ETYPE, "%s: entry \"%s\": field \"%s\": element %d is not a number",
					b->name, id, key, i);
			return mm_errf(e, x ? MM_ETYPE : MM_MISSING,
				"%s: entry \"%s\": field \"%s\": class \"%s\" %s", b->name, id, key,
				o->class_names[i], x ? "is not a number" : "is missing");
		}
		p[i] = (float)json_number_value(x);
	}
	if (logits) {
		for (int i = 0; i < c; i++)
			if (!isfinite(p[i])) {
				free(p);
				return mm_errf(e, MM_EVALUE, "%s: entry \"%s\": field \"logits\": value %d is not finite",
					b->name, id, i);
			}
		mm_vec_softmax(p, (size_t)c);
	} else {
		st = mm_unipred_normalise(p, c, e);
		if (st) {
			free(p);
			return mm_err_prefix(e, "%s: entry \"%s\": field \"probs\"", b->name, id);
		}
	}
	int am = (int)mm_vec_argmax(p, (size_t)c), cls = am;
	json_t *pr = json_object_get(v, "pred");
	if (pr && json_is_null(pr)) {
		if (o->class_from == MM_IMPORT_CLASS_PRED) {
			free(p);
			p = NULL;
			b->im->null_pred++;
		}
	} else if (pr) {
		long long g;
		if (json_is_boolean(pr))
			g = json_is_true(pr);
		else if (json_is_integer(pr))
			g = json_integer_value(pr);
		else {
			free(p);
			return mm_errf(e, MM_ETYPE, "%s: entry \"%s\": field \"pred\": expected an integer class, a boolean or null",
				b->name, id);
		}
		if (g < 0 || g >= c) {
			free(p);
			return mm_errf(e, MM_EVALUE, "%s: entry \"%s\": field \"pred\": class %lld out of range [0, %d)",
				b->name, id, g, c);
		}
		if (g != am)
			b->im->pred_differs++;
		if (o->class_from == MM_IMPORT_CLASS_PRED)
			cls = (int)g;
	}
	st = push(b, id, idlen, p, cls, e);
	if (st)
		free(p);
	return st;
}

/* An object with "id" (JSON Lines line or JSON array element). */
static mm_status json_line(builder *b, json_t *v, const char *where, mm_err *e)
{
	if (!json_is_object(v))
		return mm_errf(e, MM_ETYPE, "%s: %s: expected an object with \"id\"", b->name, where);
	json_t *id = json_object_get(v, "id");
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
		return mm_errf(e, id ? MM_ETYPE : MM_MISSING, "%s: %s: field \"id\": %s", b->name, where,
			id ? "expected a string" : "missing");
	}
	return json_entry(b, s, len, v, e);
}

static int by_id(const void *x, const void *y)
{
	const mm_import_entry *a = x, *b = y;
	return strcmp(a->id, b->id);
}

static mm_status parse_json(builder *b, const char *buf, size_t len, mm_err *e)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	mm_status st = MM_OK;
	if (root && json_is_object(root) && !json_object_get(root, "id") &&
			!json_object_get(root, "probs") && !json_object_get(root, "logits")) {
		b->im->format = "JSON object";
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(root, k, klen, v) {
			if ((st = json_entry(b, k, klen, v, e)))
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
			st = json_line(b, json_array_get(root, i), where, e);
		}
		json_decref(root);
		return st;
	}
	if (root && !json_is_object(root)) {
		json_decref(root);
		return mm_errf(e, MM_ECORRUPT, "%s: expected a JSON object keyed by id, JSON Lines or a record stream",
			b->name);
	}
	json_decref(root);
	/* JSON Lines (one object with "id" is the one-line case). */
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
			st = json_line(b, v, where, e);
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
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		char where[160];
		const char *id;
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
		int c = (int)t.n;
		if ((st = set_nclass(b, c, id, o->field, e))) {
			mm_tensor_free(&t);
			break;
		}
		float *p = malloc((size_t)c * sizeof *p);
		if (!p) {
			mm_tensor_free(&t);
			st = mm_errf(e, MM_ENOMEM, "out of memory");
			break;
		}
		memcpy(p, t.data, (size_t)c * sizeof *p);
		mm_tensor_free(&t);
		if ((st = mm_unipred_normalise(p, c, e))) {
			free(p);
			mm_err_prefix(e, "%s: %s: field \"%s\"", b->name,
				mm_rec_where(r, where, sizeof where), o->field);
			break;
		}
		int am = (int)mm_vec_argmax(p, (size_t)c), cls = am;
		if (mm_rec_has(r, cfield)) {
			int64_t g;
			if ((st = mm_rec_int(r, cfield, &g, e))) {
				free(p);
				mm_err_prefix(e, "%s", b->name);
				break;
			}
			if (g < 0 || g >= c) {
				free(p);
				st = mm_errf(e, MM_EVALUE, "%s: %s: field \"%s\": class %lld out of range [0, %d)",
					b->name, mm_rec_where(r, where, sizeof where), cfield, (long long)g, c);
				break;
			}
			if (g != am)
				b->im->pred_differs++;
			if (o->class_from == MM_IMPORT_CLASS_PRED)
				cls = (int)g;
		}
		if ((st = push(b, id, strlen(id), p, cls, e))) {
			free(p);
			break;
		}
		mm_rec_free(r);
		r = NULL;
	}
	mm_rec_free(r);
	free(cfield);
	mm_reader_close(rd);
	return st == MM_EOF ? MM_OK : st;
}

mm_status mm_import_parse(const char *buf, size_t len, const char *name,
		const mm_import_opts *opts, mm_import *out, mm_err *e)
{
	memset(out, 0, sizeof *out);
	builder b = { .im = out, .o = opts, .name = name };
	size_t i = 0;
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
		i++;
	mm_status st;
	if (i < len && (buf[i] == '{' || buf[i] == '['))
		st = parse_json(&b, buf, len, e);
	else if (i == len)
		st = mm_errf(e, MM_ECORRUPT, "%s: empty prediction file", name);
	else
		st = parse_stream(&b, buf, len, e);
	if (st == MM_OK && out->n == 0)
		st = mm_errf(e, MM_EVALUE, "%s: no predictions in the file", name);
	if (st == MM_OK) {
		qsort(out->ent, out->n, sizeof *out->ent, by_id);
		for (size_t j = 1; j < out->n; j++)
			if (!strcmp(out->ent[j - 1].id, out->ent[j].id)) {
				st = mm_errf(e, MM_EVALUE, "%s: id \"%s\" appears twice", name, out->ent[j].id);
				break;
			}
	}
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
