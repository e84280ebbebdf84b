/* loader.c — a record stream into training data, a record into a model's
 * inputs.  See loader.h. */
#include "loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "rng.h"
#include "sparse.h"
#include "util.h"

#define MAXF MM_NET_MAXMOD

/* ---- growable buffers (false when out of memory) ---- */
typedef struct fbuf {
	float *p;
	size_t n, cap;
} fbuf;

static bool fpush(fbuf *b, const float *x, size_t n)
{
	if (b->n + n > b->cap) {
		size_t c = b->cap ? b->cap : 4096;
		while (c < b->n + n)
			c *= 2;
		float *q = realloc(b->p, c * sizeof *q);
		if (!q)
			return false;
		b->p = q;
		b->cap = c;
	}
	memcpy(b->p + b->n, x, n * sizeof *x);
	b->n += n;
	return true;
}

typedef struct ibuf {
	int *p;
	size_t n, cap;
} ibuf;

static bool ipush(ibuf *b, int v)
{
	if (b->n == b->cap) {
		size_t c = b->cap ? b->cap * 2 : 1024;
		int *q = realloc(b->p, c * sizeof *q);
		if (!q)
			return false;
		b->p = q;
		b->cap = c;
	}
	b->p[b->n++] = v;
	return true;
}

/* What one set (train or val) collects while reading. */
typedef struct acc {
	fbuf X[MAXF];        /* dense values, or token rows one after the other */
	ibuf len[MAXF], gh[MAXF], gw[MAXF];
	bool grid[MAXF];     /* a record of the field was an [H, W, D] grid */
	mm_csr S[MAXF];      /* sparse rows */
	ibuf y, tag;
	fbuf py;
	uint64_t hash;
} acc;

typedef struct lctx {
	const mm_load_params *p;
	mm_loaded *ld;
	mm_reader *rd;
	mm_err *e;
	acc a[2];
	mm_csr Soth[MAXF];   /* sparse rows of the records not trained on (they count for T) */
	int Toth[MAXF];      /* the most token rows of those */
	mm_dimvote vote[MAXF];
	int kind[MAXF];      /* -1 not known yet */
	int ncls;
	bool cls_fixed;
	int tkind;           /* target: 0 unknown, 1 int, 2 str */
	int64_t maxint;
	size_t gate_nclass;  /* the experts' number of classes: the first record's */
	mm_sparse row;
} lctx;

static mm_status oom(mm_err *e)
{
	return mm_errf(e, MM_ENOMEM, "out of memory loading the data");
}

void mm_load_params_default(mm_load_params *p)
{
	memset(p, 0, sizeof *p);
	p->target = "label";
	p->split_field = "split";
	p->heldout = "heldout";
}

const char *mm_load_params_check(const mm_load_params *p)
{
	if (p->nfeat < 1 || p->nfeat > MAXF)
		return "the number of feature fields must be in 1..8";
	for (int f = 0; f < p->nfeat; f++)
		if (!p->feat[f] || !*p->feat[f])
			return "a feature field has no name";
	if (!p->target || !*p->target || !p->split_field || !*p->split_field)
		return "the target and split fields need names";
	if (p->nwhere < 0 || p->nwhere > MM_LOAD_MAXFILTER || p->nexcl < 0 || p->nexcl > MM_LOAD_MAXFILTER)
		return "too many filters";
	if (p->max_tokens < 0)
		return "max_tokens must be at least 0";
	if (p->nclasses && (p->nclasses < 2 || !p->classes))
		return "a class list needs at least two names";
	if (p->nexperts) {
		if (p->nexperts < 2 || p->nexperts > MM_MIXTURE_MAXK || !p->experts || !p->heldout)
			return "the mixture gate needs 2..64 expert fields and a held-out flag";
		if (p->nclasses != p->nexperts)
			return "the mixture gate needs one class name per expert";
	} else if (p->tag_field) {
		return "tags are for the mixture gate";
	}
	if (p->init && p->init->spec.nmod != p->nfeat)
		return "the --init model has another number of features";
	return NULL;
}

/* ---- classes ---- */
static int class_of(const mm_loaded *ld, const char *s)
{
	for (int c = 0; c < ld->nclass; c++)
		if (strcmp(ld->classes[c], s) == 0)
			return c;
	return -1;
}

static int add_class(mm_loaded *ld, const char *s)
{
	char **q = realloc(ld->classes, (size_t)(ld->nclass + 1) * sizeof *q);
	if (!q)
		return -1;
	ld->classes = q;
	if (!(q[ld->nclass] = strdup(s)))
		return -1;
	return ld->nclass++;
}

/* Does the record pass --where and --exclude-flag? */
static mm_status keep_record(const mm_load_params *p, mm_rec *r, bool *keep, mm_err *e)
{
	*keep = false;
	for (int i = 0; i < p->nexcl; i++) {
		bool v;
		mm_status st = mm_rec_flag(r, p->excl[i], &v, e);
		if (st != MM_OK)
			return st;
		if (v)
			return MM_OK;
	}
	for (int i = 0; i < p->nwhere; i++)
		if (!mm_rec_field_is(r, p->where_f[i], p->where_v[i]))
			return MM_OK;
	*keep = true;
	return MM_OK;
}

/* The set a record belongs to (MM_SET_TRAIN, MM_SET_VAL, or -1 for any
 * other split, absent or nil), and whether a train or val record passes
 * the filters. */
static mm_status split_of(const mm_load_params *p, mm_rec *r, int *which, bool *keep, mm_err *e)
{
	char where[200];
	const msgpack_object *so = mm_rec_get(r, p->split_field);
	*which = -1;
	*keep = false;
	if (so && so->type == MSGPACK_OBJECT_STR) {
		if (so->via.str.size == 5 && memcmp(so->via.str.ptr, "train", 5) == 0)
			*which = MM_SET_TRAIN;
		else if (so->via.str.size == 3 && memcmp(so->via.str.ptr, "val", 3) == 0)
			*which = MM_SET_VAL;
	} else if (so && so->type != MSGPACK_OBJECT_NIL) {
		return mm_errf(e, MM_ETYPE, "%s: field \"%s\": expected a string, got %s",
				mm_rec_where(r, where, sizeof where), p->split_field, mm_obj_typename(so));
	}
	return *which >= 0 ? keep_record(p, r, keep, e) : MM_OK;
}

/* ---- token shapes ---- */

/* The rows of a token tensor: [D] is one row, [T, D] T rows, [H, W, D] a
 * grid of H·W rows. */
static mm_status tok_shape(mm_rec *r, const char *field, const mm_tensor *t, int *T, int *D,
		int *H, int *W, mm_err *e)
{
	char w[200];
	int64_t rows, d;
	*H = *W = 0;
	if (t->ndim == 1) {
		rows = 1, d = t->shape[0];
	} else if (t->ndim == 2) {
		rows = t->shape[0], d = t->shape[1];
	} else if (t->ndim == 3) {
		rows = t->shape[0] * t->shape[1], d = t->shape[2];
		if (rows > 0 && rows <= MM_LOAD_MAXVALUES)
			*H = (int)t->shape[0], *W = (int)t->shape[1];
	} else {
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": a %d-dimensional tensor, expected token "
				"rows [D], [T, D] or a grid [H, W, D]", mm_rec_where(r, w, sizeof w), field, t->ndim);
	}
	if (rows < 1 || d < 1)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": no token rows (shape [%lld, %lld])",
				mm_rec_where(r, w, sizeof w), field, (long long)rows, (long long)d);
	if (rows * d > MM_LOAD_MAXVALUES)
		return mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %lld rows of %lld values is too many",
				mm_rec_where(r, w, sizeof w), field, (long long)rows, (long long)d);
	*T = (int)rows;
	*D = (int)d;
	return MM_OK;
}

/* The number of rows of a token field, from its shape alone (0 when it
 * is not a tensor of 1..3 dimensions): for records not trained on. */
static int obj_rows(const msgpack_object *o)
{
	if (!o)
		return 0;
	if (o->type == MSGPACK_OBJECT_ARRAY)
		return 1;
	if (!mm_obj_is_tensor(o))
		return 0;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != 5 ||
				memcmp(kv->key.via.str.ptr, "shape", 5) != 0 || kv->val.type != MSGPACK_OBJECT_ARRAY)
			continue;
		const msgpack_object_array *a = &kv->val.via.array;
		if (a->size < 1 || a->size > 3)
			return 0;
		uint64_t rows = 1;
		for (uint32_t k = 0; k + 1 < a->size; k++) {
			if (a->ptr[k].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a->ptr[k].via.u64 > MM_LOAD_MAXVALUES)
				return 0;
			rows *= a->ptr[k].via.u64;
		}
		return rows <= MM_LOAD_MAXVALUES ? (int)rows : 0;
	}
	return 0;
}

/* ---- one kept record ---- */

/* The gate's view of a record: its int class y and each expert's
 * probability of it (onto py), and its tag's class.  MM_MISSING when the
 * record has no label. */
static mm_status gate_record(lctx *c, mm_rec *r, acc *a, int *y)
{
	const mm_load_params *p = c->p;
	mm_err *e = c->e;
	char where[200];
	int64_t v;
	mm_status st = mm_rec_label(r, p->target, 0, &v, e);
	if (st != MM_OK)
		return st;
	float pk[MM_MIXTURE_MAXK];
	for (int k = 0; k < p->nexperts; k++) {
		mm_tensor t;
		if ((st = mm_rec_vec(r, p->experts[k], c->gate_nclass, &t, e)) != MM_OK)
			return st == MM_MISSING ? MM_EVALUE : st;
		if (!c->gate_nclass)
			c->gate_nclass = t.n;
		if ((uint64_t)v >= t.n) {
			st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": class %lld, but expert \"%s\" gives "
					"%zu probabilities", mm_rec_where(r, where, sizeof where), p->target,
					(long long)v, p->experts[k], t.n);
			mm_tensor_free(&t);
			return st;
		}
		for (size_t j = 0; j < t.n; j++)
			if (!(t.data[j] >= 0 && t.data[j] <= 1)) {
				st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": element %zu is %g, not a probability",
						mm_rec_where(r, where, sizeof where), p->experts[k], j, t.data[j]);
				mm_tensor_free(&t);
				return st;
			}
		pk[k] = t.data[v];
		mm_tensor_free(&t);
	}
	if (p->tag_field) {
		const char *s;
		if ((st = mm_rec_str(r, p->tag_field, &s, e)) != MM_OK)
			return st == MM_MISSING ? MM_EVALUE : st;
		int k = class_of(c->ld, s);
		if (k < 0)
			return mm_errf(e, MM_EVALUE, "%s: field \"%s\": tag \"%s\" is not one of the gate's "
					"classes (name them with --classes)", mm_rec_where(r, where, sizeof where),
					p->tag_field, s);
		if (!ipush(&a->tag, k))
			return oom(e);
	}
	if (!fpush(&a->py, pk, (size_t)p->nexperts))
		return oom(e);
	*y = (int)v;
	return MM_OK;
}

/* The class of a record's (present) target. */
static mm_status target_class(lctx *c, mm_rec *r, const msgpack_object *to, int *y)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	mm_err *e = c->e;
	char where[200];
	mm_status st;
	int kind = to->type == MSGPACK_OBJECT_STR ? 2 : 1;
	if (c->tkind && kind != c->tkind)
		return mm_errf(e, MM_ETYPE, "%s: field \"%s\": expected %s like the records before, got %s",
				mm_rec_where(r, where, sizeof where), p->target,
				c->tkind == 2 ? "a string" : "an integer", mm_obj_typename(to));
	c->tkind = kind;
	if (kind == 2) {
		const char *s;
		if ((st = mm_rec_str(r, p->target, &s, e)) != MM_OK)
			return st;
		*y = class_of(ld, s);
		if (*y < 0) {
			if (c->cls_fixed) {
				st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": class \"%s\" is not in --classes ",
						mm_rec_where(r, where, sizeof where), p->target, s);
				for (int k = 0; k < p->nclasses; k++) {
					size_t len = strlen(e->msg);
					snprintf(e->msg + len, sizeof e->msg - len, "%s%s", k ? "," : "", p->classes[k]);
				}
				return st;
			}
			if ((*y = add_class(ld, s)) < 0)
				return oom(e);
		}
		return MM_OK;
	}
	int64_t v;
	if ((st = mm_rec_int(r, p->target, &v, e)) != MM_OK)
		return st;
	int lim = c->cls_fixed ? c->ncls - 1 : 65535;
	if (v < 0 || v > lim)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": class %lld out of range 0..%d",
				mm_rec_where(r, where, sizeof where), p->target, (long long)v, lim);
	*y = (int)v;
	if (v > c->maxint)
		c->maxint = v;
	return MM_OK;
}

/* A field that must be a grid: the same H × W as the records before (and
 * as a MoME --init model's). */
static mm_status grid_check(lctx *c, const char *where, int f, int H, int W)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	if (H == 0)
		return mm_errf(c->e, MM_EVALUE, "%s: field \"%s\": token rows, not a grid [H, W, D]",
				where, p->feat[f]);
	if (!ld->gh[f] && p->init && p->init->arch == MM_ARCH_MOME && f < p->init->mspec.nenc)
		ld->gh[f] = p->init->mspec.gh[f], ld->gw[f] = p->init->mspec.gw[f];
	if (ld->gh[f] && (H != ld->gh[f] || W != ld->gw[f]))
		return mm_errf(c->e, MM_EVALUE, "%s: field \"%s\": a %d×%d grid, but %s %d×%d",
				where, p->feat[f], H, W, p->init ? "the --init model takes" :
				"the records before have", ld->gh[f], ld->gw[f]);
	ld->gh[f] = H, ld->gw[f] = W;
	return MM_OK;
}

/* A token field of a kept record onto the set's rows. */
static mm_status tokens_of(lctx *c, mm_rec *r, int f, acc *a)
{
	const mm_load_params *p = c->p;
	mm_err *e = c->e;
	char where[200];
	mm_tensor t;
	mm_status st = mm_rec_tensor(r, p->feat[f], &t, true, e);
	if (st != MM_OK)
		return st == MM_MISSING ? MM_EVALUE : st;
	int T, D, H, W;
	if ((st = tok_shape(r, p->feat[f], &t, &T, &D, &H, &W, e)) != MM_OK)
		goto out;
	mm_rec_where(r, where, sizeof where);
	if (p->init) {
		const mm_transformer_spec *ts = &p->init->tspec;
		if (D != ts->in[f].D) {
			st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": rows of %d values, but --init %s "
					"takes rows of %d", where, p->feat[f], D, p->init_name, ts->in[f].D);
			goto out;
		}
		if (T > ts->in[f].T) {
			st = mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %d rows, more than the %d of --init %s",
					where, p->feat[f], T, ts->in[f].T, p->init_name);
			goto out;
		}
	} else if (c->ld->dim[f] && D != c->ld->dim[f]) {
		st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": rows of %d values, but the records before "
				"have %d", where, p->feat[f], D, c->ld->dim[f]);
		goto out;
	}
	if (p->max_tokens && T > p->max_tokens) {
		st = mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %d rows, more than --max-tokens %d",
				where, p->feat[f], T, p->max_tokens);
		goto out;
	}
	if (p->grid[f] && (st = grid_check(c, where, f, H, W)) != MM_OK)
		goto out;
	c->ld->dim[f] = D;
	if (T > c->ld->T[f])
		c->ld->T[f] = T;
	a->grid[f] |= H > 0;
	if (!fpush(&a->X[f], t.data, t.n) || !ipush(&a->len[f], T) || !ipush(&a->gh[f], H) ||
			!ipush(&a->gw[f], W))
		st = oom(e);
out:
	mm_tensor_free(&t);
	return st;
}

/* A sparse field of a record onto S (its rows as read). */
static mm_status sparse_of(lctx *c, mm_rec *r, int f, mm_csr *S)
{
	char where[200];
	mm_status st;
	if ((st = mm_rec_sparse(r, c->p->feat[f], &c->row, c->e)) != MM_OK)
		return st;
	if ((st = mm_csr_append(S, &c->row, c->e)) != MM_OK)
		mm_err_prefix(c->e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), c->p->feat[f]);
	return st;
}

/* A dense field of a record, flattened, onto X: as many values as --init's
 * model takes, else any number, the majority deciding after the last
 * record (c->vote). */
static mm_status dense_of(lctx *c, mm_rec *r, int f, fbuf *X)
{
	const mm_load_params *p = c->p;
	mm_err *e = c->e;
	char where[200];
	mm_status st;
	mm_tensor t;
	size_t want = p->init ? (size_t)p->init->spec.dims[f] : 0;
	if ((st = mm_rec_vec(r, p->feat[f], want, &t, e)) != MM_OK) {
		if (p->init)
			mm_err_prefix(e, "--init %s expects %zu values", p->init_name, want);
		return st;
	}
	if (!p->init) {
		if (t.n > MM_LOAD_MAXVALUES) {
			mm_tensor_free(&t);
			return mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %zu values is too many",
					mm_rec_where(r, where, sizeof where), p->feat[f], t.n);
		}
		if ((st = mm_dimvote_add(&c->vote[f], t.n, mm_rec_where(r, where, sizeof where),
					p->feat[f], e)) != MM_OK) {
			mm_tensor_free(&t);
			mm_err_prefix(e, "%s", mm_reader_name(c->rd));
			return st;
		}
	}
	bool ok = fpush(X, t.data, t.n);
	mm_tensor_free(&t);
	return ok ? MM_OK : oom(e);
}

/* A field's kind, from the first record that reaches here. */
static int kind_of(lctx *c, mm_rec *r, int f)
{
	if (c->kind[f] < 0) {
		const msgpack_object *fo = mm_rec_get(r, c->p->feat[f]);
		c->kind[f] = fo && mm_obj_is_sparse(fo) ? MM_FEAT_SPARSE :
			c->p->tokens ? MM_FEAT_TOKENS : MM_FEAT_DENSE;
	}
	return c->kind[f];
}

static mm_status features_of(lctx *c, mm_rec *r, acc *a)
{
	mm_status st;
	for (int f = 0; f < c->p->nfeat; f++) {
		int kind = kind_of(c, r, f);
		if (kind == MM_FEAT_SPARSE)
			st = sparse_of(c, r, f, &a->S[f]);
		else if (kind == MM_FEAT_TOKENS)
			st = tokens_of(c, r, f, a);
		else
			st = dense_of(c, r, f, &a->X[f]);
		if (st != MM_OK)
			return st;
	}
	return MM_OK;
}

/* A record not trained on still counts for the sparse T and the token T. */
static mm_status count_other(lctx *c, mm_rec *r)
{
	const mm_load_params *p = c->p;
	for (int f = 0; f < p->nfeat; f++) {
		const msgpack_object *fo = mm_rec_get(r, p->feat[f]);
		if (!fo || c->kind[f] == MM_FEAT_DENSE)
			continue;
		if (mm_obj_is_sparse(fo)) {
			if (c->kind[f] == MM_FEAT_TOKENS)
				continue;
			mm_status st;
			if ((st = mm_rec_sparse(r, p->feat[f], &c->row, c->e)) != MM_OK ||
					(st = mm_csr_append(&c->Soth[f], &c->row, c->e)) != MM_OK)
				return st;
		} else if (p->tokens && c->kind[f] != MM_FEAT_SPARSE) {
			int T = obj_rows(fo);
			if (T > c->Toth[f])
				c->Toth[f] = T;
		}
	}
	return MM_OK;
}

static mm_status read_record(lctx *c, mm_rec *r)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	mm_err *e = c->e;
	mm_status st;
	ld->nread++;
	int which;
	bool keep;
	if ((st = split_of(p, r, &which, &keep, e)) != MM_OK)
		return st;
	bool other = !keep;
	/* the gate: a train record the experts saw is in-sample, not for it */
	bool insample = false;
	if (!other && p->nexperts && which == MM_SET_TRAIN) {
		bool h;
		if ((st = mm_rec_flag(r, p->heldout, &h, e)) != MM_OK)
			return st;
		insample = !h;
	}
	acc *a = which >= 0 ? &c->a[which] : NULL;
	int y = 0;
	const msgpack_object *to = NULL;
	bool skip = other || insample;
	if (!skip && p->nexperts) {
		if ((st = gate_record(c, r, a, &y)) != MM_OK && st != MM_MISSING)
			return st;
		skip = st == MM_MISSING;
	} else if (!skip) {
		to = mm_rec_get(r, p->target);
		skip = !to || to->type == MSGPACK_OBJECT_NIL;
	}
	if (skip) {
		ld->nother += which < 0;
		ld->nfiltered += which >= 0 && other;
		ld->ninsample += insample;
		ld->nnotarget += !other && !insample;
		return count_other(c, r);
	}
	if (!p->nexperts && (st = target_class(c, r, to, &y)) != MM_OK)
		return st;
	if ((st = features_of(c, r, a)) != MM_OK)
		return st;
	if (!ipush(&a->y, y))
		return oom(e);
	/* fingerprint of the data: ids and targets, train and val apart */
	const char *id = mm_rec_id(r);
	a->hash = mm_hash64(id ? id : "", id ? strlen(id) : 0, a->hash);
	int32_t y32 = y;
	a->hash = mm_hash64(&y32, sizeof y32, a->hash);
	return MM_OK;
}

/* ---- after the last record ---- */

/* String classes not fixed by the caller: sorted, the targets remapped. */
static mm_status sort_classes(lctx *c)
{
	mm_loaded *ld = c->ld;
	int n = ld->nclass;
	int *map = malloc((size_t)(n ? n : 1) * sizeof *map);
	char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
	if (!map || !sorted) {
		free(map);
		free(sorted);
		return oom(c->e);
	}
	memcpy(sorted, ld->classes, (size_t)n * sizeof *sorted);
	for (int i = 1; i < n; i++) /* insertion sort: few classes */
		for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			char *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (sorted[j] == ld->classes[i])
				map[i] = j;
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < c->a[s].y.n; i++)
			c->a[s].y.p[i] = map[c->a[s].y.p[i]];
	memcpy(ld->classes, sorted, (size_t)n * sizeof *sorted);
	free(map);
	free(sorted);
	return MM_OK;
}

/* A sparse field: the training columns (or --init's), T, and the pairs. */
static mm_status finish_sparse(lctx *c, int f)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	mm_err *e = c->e;
	mm_status st;
	mm_colmap *cm = calloc(1, sizeof *cm);
	if (!cm)
		return oom(e);
	ld->cols[f] = cm;
	int T;
	if (p->init) {
		const mm_colmap *ic = p->init->cols[f];
		*cm = (mm_colmap){ .dim = ic->dim, .m = ic->m,
			.col = malloc((ic->m ? ic->m : 1) * sizeof(uint32_t)),
			.scale = malloc((ic->m ? ic->m : 1) * sizeof(float)) };
		if (!cm->col || !cm->scale)
			return oom(e);
		memcpy(cm->col, ic->col, ic->m * sizeof(uint32_t));
		memcpy(cm->scale, ic->scale, ic->m * sizeof(float));
		T = p->init->spec.dims[f] / 2;
	} else {
		if ((st = mm_colmap_fit(cm, &c->a[0].S[f], NULL, 0, true, e)) != MM_OK) {
			mm_err_prefix(e, "field \"%s\"", p->feat[f]);
			return st;
		}
		T = 1;
		mm_csr *all[3] = { &c->a[0].S[f], &c->a[1].S[f], &c->Soth[f] };
		for (int k = 0; k < 3; k++)
			for (size_t i = 0; i < all[k]->n; i++) {
				size_t q = all[k]->ptr[i], n = mm_colmap_pairs(cm, all[k]->idx + q,
					all[k]->val + q, all[k]->ptr[i + 1] - q, 0, NULL);
				if (n > (size_t)T)
					T = (int)n;
			}
	}
	if (T > (1 << 22))
		return mm_errf(e, MM_EVALUE, "field \"%s\": %d non-zero values in one record is too many",
				p->feat[f], T);
	ld->dim[f] = 2 * T;
	float *row = malloc((size_t)ld->dim[f] * sizeof *row);
	if (!row)
		return oom(e);
	for (int s = 0; s < 2; s++) {
		mm_csr *src = &c->a[s].S[f];
		for (size_t i = 0; i < src->n; i++) {
			size_t q = src->ptr[i], k = mm_colmap_pairs(cm, src->idx + q, src->val + q,
				src->ptr[i + 1] - q, T, row);
			if (k > (size_t)T) {
				free(row);
				return mm_errf(e, MM_EVALUE, "field \"%s\": %s record %zu has %zu known non-zero "
						"values, more than the %d of --init %s", p->feat[f],
						s ? "validation" : "training", i, k, T, p->init_name);
			}
			if (!fpush(&c->a[s].X[f], row, (size_t)ld->dim[f])) {
				free(row);
				return oom(e);
			}
		}
	}
	free(row);
	return MM_OK;
}

/* A token field: rows padded to T, lengths, grids. */
static mm_status finish_tokens(lctx *c, int f)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	int D = ld->dim[f];
	int T;
	if (p->init) {
		T = p->init->tspec.in[f].T;
		D = ld->dim[f] = p->init->tspec.in[f].D;
	} else {
		T = ld->T[f] > c->Toth[f] ? ld->T[f] : c->Toth[f];
		if (p->max_tokens && T > p->max_tokens)
			T = p->max_tokens;
	}
	if ((size_t)T * D > MM_LOAD_MAXVALUES)
		return mm_errf(c->e, MM_ELIMIT, "field \"%s\": %d rows of %d values is too many",
				p->feat[f], T, D);
	ld->T[f] = T;
	for (int s = 0; s < 2; s++) {
		acc *a = &c->a[s];
		mm_load_set *set = &ld->set[s];
		size_t n = a->len[f].n;
		if (!(set->X[f] = calloc(n ? n * T * D : 1, sizeof(float))))
			return oom(c->e);
		const float *src = a->X[f].p;
		for (size_t i = 0; i < n; i++) {
			size_t k = (size_t)a->len[f].p[i] * D;
			memcpy(set->X[f] + i * T * D, src, k * sizeof *src);
			src += k;
		}
		free(a->X[f].p);
		a->X[f] = (fbuf){ 0 };
		set->len[f] = a->len[f].p;
		a->len[f] = (ibuf){ 0 };
		if (a->grid[f]) {
			set->grid_h[f] = a->gh[f].p;
			set->grid_w[f] = a->gw[f].p;
			a->gh[f] = a->gw[f] = (ibuf){ 0 };
		}
	}
	return MM_OK;
}

static mm_status finish(lctx *c)
{
	const mm_load_params *p = c->p;
	mm_loaded *ld = c->ld;
	mm_err *e = c->e;
	mm_status st;
	for (int f = 0; f < p->nfeat && !p->init; f++) {
		if (c->kind[f] != MM_FEAT_DENSE)
			continue;
		size_t d = 0;
		if ((st = mm_dimvote_result(&c->vote[f], p->feat[f], &d, e)) == MM_EVALUE) {
			mm_err_prefix(e, "%s", mm_reader_name(c->rd));
			return st;
		}
		ld->dim[f] = (int)d;
	}
	size_t ntr = c->a[0].y.n;
	if (p->nexperts && ntr == 0)
		return mm_errf(e, MM_EVALUE, "no held-out training records: the mixture gate trains only "
				"on records of split \"train\" whose bool \"%s\" is true, which the experts and "
				"their baseline must not have seen (train those with --exclude-flag %s); "
				"%llu train records here are not held out: the experts' predictions on them "
				"are in-sample, and a gate trained on those would trust whichever expert "
				"memorised them",
				p->heldout, p->heldout, (unsigned long long)ld->ninsample);
	if (p->nexperts)
		c->tkind = 2; /* the gate's classes are the experts, by name */
	if (ntr == 0)
		return mm_errf(e, MM_EVALUE, "no training records (split \"train\"%s) among %llu records",
				p->nwhere || p->nexcl ? " passing the filters" : "", (unsigned long long)ld->nread);

	/* classes */
	ld->target_is_str = c->tkind == 2;
	if (ld->target_is_str) {
		if (!c->cls_fixed && (st = sort_classes(c)) != MM_OK)
			return st;
	} else if (!c->cls_fixed) {
		int n = c->maxint + 1 < 2 ? 2 : (int)c->maxint + 1;
		for (int k = 0; k < n; k++) {
			char num[24];
			snprintf(num, sizeof num, "%d", k);
			if (add_class(ld, num) < 0)
				return oom(e);
		}
	}
	if (ld->nclass < 2)
		return mm_errf(e, MM_EVALUE, "target \"%s\": only one class (%s) in the data", p->target,
				ld->nclass ? ld->classes[0] : "0");

	for (int f = 0; f < p->nfeat; f++) {
		if (c->kind[f] == MM_FEAT_SPARSE)
			st = finish_sparse(c, f);
		else if (c->kind[f] == MM_FEAT_TOKENS)
			st = finish_tokens(c, f);
		else
			st = MM_OK;
		if (st != MM_OK)
			return st;
		ld->kind[f] = c->kind[f];
		if (ld->kind[f] != MM_FEAT_TOKENS)
			ld->T[f] = 1;
		for (int s = 0; s < 2; s++) {
			if (ld->kind[f] != MM_FEAT_TOKENS) {
				ld->set[s].X[f] = c->a[s].X[f].p;
				c->a[s].X[f] = (fbuf){ 0 };
			}
			mm_csr_free(&c->a[s].S[f]);
		}
		mm_csr_free(&c->Soth[f]);
	}
	for (int s = 0; s < 2; s++) {
		acc *a = &c->a[s];
		mm_load_set *set = &ld->set[s];
		set->y = a->y.p;
		set->py = a->py.p;
		set->tag = a->tag.p;
		set->hash = a->hash;
		a->y.p = a->tag.p = NULL;
		a->py.p = NULL;
		set->d = (mm_dataset){ .nmod = p->nfeat, .n = a->y.n, .y = p->nexperts ? NULL : set->y };
		for (int f = 0; f < p->nfeat; f++) {
			set->d.X[f] = set->X[f];
			set->d.len[f] = set->len[f];
		}
	}
	return MM_OK;
}

static void acc_free(acc *a)
{
	for (int f = 0; f < MAXF; f++) {
		free(a->X[f].p);
		free(a->len[f].p);
		free(a->gh[f].p);
		free(a->gw[f].p);
		mm_csr_free(&a->S[f]);
	}
	free(a->y.p);
	free(a->tag.p);
	free(a->py.p);
}

mm_status mm_load(mm_loaded *ld, mm_reader *rd, const mm_load_params *p, mm_err *e)
{
	memset(ld, 0, sizeof *ld);
	const char *why = mm_load_params_check(p);
	if (why)
		return mm_errf(e, MM_EUSAGE, "%s", why);
	lctx *c = calloc(1, sizeof *c);
	if (!c)
		return oom(e);
	c->p = p;
	c->ld = ld;
	c->rd = rd;
	c->e = e;
	c->maxint = -1;
	c->a[0].hash = 0x6d6d6f652d747231ULL;
	c->a[1].hash = 0x6d6d6f652d766131ULL;
	ld->nfeat = p->nfeat;
	ld->nexperts = p->nexperts;
	mm_status st = MM_OK;
	for (int f = 0; f < MAXF; f++) {
		c->kind[f] = -1;
		if (p->init && f < p->nfeat)
			c->kind[f] = p->init->spec.sparse[f] > 0 ? MM_FEAT_SPARSE :
				mm_model_tokens(p->init) ? MM_FEAT_TOKENS : MM_FEAT_DENSE;
		if (p->init && f < p->nfeat && c->kind[f] == MM_FEAT_DENSE)
			ld->dim[f] = p->init->spec.dims[f];
	}
	for (int k = 0; k < p->nclasses; k++)
		if (add_class(ld, p->classes[k]) < 0) {
			st = oom(e);
			goto out;
		}
	c->ncls = p->nclasses;
	c->cls_fixed = p->nclasses > 0;
	mm_rec *r;
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		st = read_record(c, r);
		mm_rec_free(r);
		if (st != MM_OK)
			goto out;
	}
	if (st != MM_EOF)
		goto out;
	st = finish(c);
out:
	acc_free(&c->a[0]);
	acc_free(&c->a[1]);
	for (int f = 0; f < MAXF; f++)
		mm_csr_free(&c->Soth[f]);
	mm_sparse_free(&c->row);
	free(c);
	if (st != MM_OK)
		mm_loaded_free(ld);
	return st;
}

void mm_loaded_free(mm_loaded *ld)
{
	if (!ld)
		return;
	for (int s = 0; s < 2; s++) {
		mm_load_set *set = &ld->set[s];
		for (int f = 0; f < MAXF; f++) {
			free(set->X[f]);
			free(set->len[f]);
			free(set->grid_h[f]);
			free(set->grid_w[f]);
		}
		free(set->y);
		free(set->py);
		free(set->tag);
	}
	for (int f = 0; f < MAXF; f++)
		if (ld->cols[f]) {
			mm_colmap_free(ld->cols[f]);
			free(ld->cols[f]);
		}
	for (int k = 0; k < ld->nclass; k++)
		free(ld->classes[k]);
	free(ld->classes);
	memset(ld, 0, sizeof *ld);
}

/* ---- standardisation ---- */

mm_status mm_load_standardize(mm_loaded *ld, mm_model *m, const mm_model *init, mm_err *e)
{
	mm_load_set *tr = &ld->set[MM_SET_TRAIN];
	for (int f = 0; f < ld->nfeat; f++) {
		if (ld->kind[f] == MM_FEAT_SPARSE) {
			/* the pairs are already scaled by the column map, which the model keeps */
			m->cols[f] = ld->cols[f];
			ld->cols[f] = NULL;
			continue;
		}
		size_t d = (size_t)ld->dim[f], T = (size_t)ld->T[f];
		if ((size_t)m->spec.dims[f] != d)
			return mm_errf(e, MM_EUSAGE, "feature %d: the model takes %d values, the data has %zu",
					f, m->spec.dims[f], d);
		if (init) {
			memcpy(m->mean[f], init->mean[f], d * sizeof(float));
			memcpy(m->std[f], init->std[f], d * sizeof(float));
		} else {
			mm_status st = mm_standardize_fit_rows(tr->X[f], tr->d.n, T, d, tr->len[f],
					m->mean[f], m->std[f], e);
			if (st != MM_OK)
				return st;
		}
		for (int s = 0; s < 2; s++) {
			mm_load_set *set = &ld->set[s];
			for (size_t i = 0; i < set->d.n; i++) {
				float *x = set->X[f] + i * T * d;
				mm_model_standardize(m, f, x, set->len[f] ? (size_t)set->len[f][i] : T, x);
			}
		}
	}
	return MM_OK;
}

/* ---- one record for a model ---- */

static mm_status record_tokens(const mm_model *m, mm_rec *r, int f, float *x, int *len, mm_err *e)
{
	const char *field = m->feat[f];
	char where[200];
	mm_tensor t;
	mm_status st = mm_rec_tensor(r, field, &t, true, e);
	if (st != MM_OK)
		return st == MM_MISSING ? MM_EVALUE : st;
	int T, D, H, W, Tm = m->tspec.in[f].T, Dm = m->tspec.in[f].D;
	if ((st = tok_shape(r, field, &t, &T, &D, &H, &W, e)) != MM_OK)
		goto out;
	if (D != Dm) {
		st = mm_errf(e, MM_EVALUE, "%s: field \"%s\": rows of %d values, expected %d",
				mm_rec_where(r, where, sizeof where), field, D, Dm);
		goto out;
	}
	if (T > Tm) {
		st = mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %d rows, more than the %d the model takes",
				mm_rec_where(r, where, sizeof where), field, T, Tm);
		goto out;
	}
	if (m->arch == MM_ARCH_MOME && f < m->mspec.nenc &&
			(H != m->mspec.gh[f] || W != m->mspec.gw[f])) {
		mm_rec_where(r, where, sizeof where);
		st = H ? mm_errf(e, MM_EVALUE, "%s: field \"%s\": a %d×%d grid, the model takes "
				"%d×%d grids", where, field, H, W, m->mspec.gh[f], m->mspec.gw[f]) :
			mm_errf(e, MM_EVALUE, "%s: field \"%s\": token rows, not a grid [H, W, D]",
					where, field);
		goto out;
	}
	mm_model_standardize(m, f, t.data, (size_t)T, x);
	memset(x + (size_t)T * D, 0, (size_t)(Tm - T) * D * sizeof *x);
	*len = T;
out:
	mm_tensor_free(&t);
	return st;
}

static mm_status record_sparse(const mm_model *m, mm_rec *r, int f, float *x, mm_err *e)
{
	mm_sparse row = { 0 };
	int T = m->spec.dims[f] / 2;
	mm_status st = mm_rec_sparse(r, m->feat[f], &row, e);
	if (st == MM_OK) {
		size_t k = mm_colmap_pairs(m->cols[f], row.idx, row.val, row.nnz, T, x);
		if (k > (size_t)T) {
			char w[200];
			st = mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %zu known non-zero values, more than "
					"the %d the model takes (the most of any record it was trained with)",
					mm_rec_where(r, w, sizeof w), m->feat[f], k, T);
		}
	}
	mm_sparse_free(&row);
	return st;
}

mm_status mm_load_record(const mm_model *m, mm_rec *r, size_t slot, float *const *X,
		int *const *len, const char *model_name, const char *input_name, mm_err *e)
{
	for (int f = 0; f < m->spec.nmod; f++) {
		size_t d = mm_model_input_size(m, f);
		float *x = X[f] + slot * d;
		mm_status st;
		if (m->cols[f]) {
			if ((st = record_sparse(m, r, f, x, e)) != MM_OK) {
				mm_err_prefix(e, "model %s", model_name);
				return st;
			}
			continue;
		}
		if (mm_model_tokens(m)) {
			st = record_tokens(m, r, f, x, &len[f][slot], e);
		} else {
			mm_tensor t;
			st = mm_rec_vec(r, m->feat[f], d, &t, e);
			if (st == MM_OK) {
				mm_model_standardize(m, f, t.data, 1, x);
				mm_tensor_free(&t);
			}
		}
		if (st != MM_OK) {
			/* bad data, not a bad model: name the input first */
			size_t n = strlen(e->msg);
			snprintf(e->msg + n, sizeof e->msg - n, " (a feature of model %s)", model_name);
			if (input_name)
				mm_err_prefix(e, "%s", input_name);
			return st;
		}
	}
	return MM_OK;
}

/* ---- every record, in order ---- */

/* Grow the per-record arrays of la to hold one more. */
static bool all_grow(mm_loaded_all *la, size_t *cap)
{
	if (la->n < *cap)
		return true;
	size_t c = *cap ? 2 * *cap : 1024;
	mm_rec **rec = realloc(la->rec, c * sizeof *rec);
	if (rec)
		la->rec = rec;
	int *y = realloc(la->y, c * sizeof *y);
	if (y)
		la->y = y;
	bool *tr = realloc(la->train, c * sizeof *tr);
	if (tr)
		la->train = tr;
	if (!rec || !y || !tr)
		return false;
	*cap = c;
	return true;
}

/* The int class of record r, or -1 when its target is absent or nil. */
static mm_status all_label(const mm_load_params *p, mm_rec *r, int *y, mm_err *e)
{
	char where[200];
	const msgpack_object *o = mm_rec_get(r, p->target);
	*y = -1;
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return MM_OK;
	int64_t v;
	mm_status st = mm_rec_label(r, p->target, 0, &v, e);
	if (st != MM_OK)
		return st;
	if (p->nclasses > 0 && v >= p->nclasses)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": label %lld out of range [0, %d) "
				"(see --classes)", mm_rec_where(r, where, sizeof where), p->target,
				(long long)v, p->nclasses);
	if (v > MM_LOAD_MAXCLASS)
		return mm_errf(e, MM_EVALUE, "%s: field \"%s\": label %lld is not a class index "
				"(0, 1, ...)", mm_rec_where(r, where, sizeof where), p->target, (long long)v);
	*y = (int)v;
	return MM_OK;
}

/* After the last record: the dimension, the classes, and a training set
 * with every class. */
static mm_status all_finish(lctx *c, mm_loaded_all *la, fbuf *X)
{
	const mm_load_params *p = c->p;
	mm_err *e = c->e;
	mm_status st;
	if (p->nfeat && c->kind[0] == MM_FEAT_DENSE) {
		size_t d = 0;
		if ((st = mm_dimvote_result(&c->vote[0], p->feat[0], &d, e)) == MM_EVALUE) {
			mm_err_prefix(e, "%s", mm_reader_name(c->rd));
			return st;
		}
		la->dim = d;
		la->X = X->p;
		*X = (fbuf){ 0 };
	} else if (p->nfeat) {
		la->dim = (size_t)la->S.dim;
	}
	la->kind = p->nfeat ? c->kind[0] : MM_FEAT_DENSE;
	if (la->n == 0)
		return mm_errf(e, MM_EVALUE, "no records in the input");
	if (!p->target)
		return MM_OK;
	int maxy = -1;
	for (size_t i = 0; i < la->n; i++)
		if (la->y[i] > maxy)
			maxy = la->y[i];
	la->nclass = p->nclasses ? p->nclasses : maxy + 1;
	if (la->nclass < 2)
		return mm_errf(e, MM_EVALUE, "field \"%s\": need labels of at least 2 classes, the "
				"largest label is %d", p->target, maxy);
	size_t *cnt = calloc((size_t)la->nclass, sizeof *cnt);
	if (!cnt)
		return oom(e);
	for (size_t i = 0; i < la->n; i++)
		if (la->train[i] && la->y[i] >= 0) {
			la->ntrain++;
			cnt[la->y[i]]++;
		}
	st = MM_OK;
	if (la->ntrain == 0)
		st = mm_errf(e, MM_EVALUE, "no training records (split \"train\" with a label) to fit on");
	for (int k = 0; k < la->nclass && st == MM_OK; k++)
		if (!cnt[k])
			st = mm_errf(e, MM_EVALUE, "class %d has no training record (%zu training records, "
					"%d classes)", k, la->ntrain, la->nclass);
	free(cnt);
	return st;
}

mm_status mm_load_all(mm_loaded_all *la, mm_reader *rd, const mm_load_params *p, mm_err *e)
{
	memset(la, 0, sizeof *la);
	if (p->nfeat < 0 || p->nfeat > 1 || (p->nfeat && (!p->feat[0] || !*p->feat[0])) ||
			(p->target && !*p->target) || !p->split_field || !*p->split_field)
		return mm_errf(e, MM_EUSAGE, "loading every record takes at most one named feature "
				"field, and named target and split fields");
	if (p->tokens || p->nexperts || p->init || p->nclasses < 0 || p->nclasses == 1 ||
			p->nclasses > MM_LOAD_MAXCLASS + 1 || p->nwhere < 0 ||
			p->nwhere > MM_LOAD_MAXFILTER || p->nexcl < 0 || p->nexcl > MM_LOAD_MAXFILTER)
		return mm_errf(e, MM_EUSAGE, "loading every record takes dense or sparse features, "
				"int classes (a count of 2 or more, or 0) and at most %d filters of each kind",
				MM_LOAD_MAXFILTER);
	lctx *c = calloc(1, sizeof *c);
	if (!c)
		return oom(e);
	*c = (lctx){ .p = p, .rd = rd, .e = e };
	c->kind[0] = -1;
	fbuf X = { 0 };
	size_t cap = 0;
	mm_rec *r;
	mm_status st;
	while ((st = mm_reader_next(rd, &r, e)) == MM_OK) {
		if (!all_grow(la, &cap)) {
			mm_rec_free(r);
			st = oom(e);
			break;
		}
		size_t i = la->n++;
		la->rec[i] = r;
		int which;
		bool keep;
		if ((st = split_of(p, r, &which, &keep, e)) != MM_OK)
			break;
		la->train[i] = which == MM_SET_TRAIN && keep;
		la->y[i] = -1;
		if (p->target && (st = all_label(p, r, &la->y[i], e)) != MM_OK)
			break;
		if (!p->nfeat)
			continue;
		if (kind_of(c, r, 0) == MM_FEAT_SPARSE)
			st = sparse_of(c, r, 0, &la->S);
		else
			st = dense_of(c, r, 0, &X);
		if (st != MM_OK)
			break;
	}
	if (st == MM_EOF)
		st = all_finish(c, la, &X);
	free(X.p);
	mm_sparse_free(&c->row);
	free(c);
	if (st != MM_OK)
		mm_loaded_all_free(la);
	return st;
}

void mm_loaded_all_free(mm_loaded_all *la)
{
	if (!la)
		return;
	for (size_t i = 0; la->rec && i < la->n; i++)
		mm_rec_free(la->rec[i]);
	free(la->rec);
	free(la->X);
	mm_csr_free(&la->S);
	free(la->y);
	free(la->train);
	memset(la, 0, sizeof *la);
}
