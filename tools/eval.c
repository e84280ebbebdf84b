/* mmoe-eval — metrics of any number of prediction fields side by side,
 * broken down by record fields (rus, gen_type, ...), with paired bootstrap
 * intervals, confusion matrices, mean router weights and counts of a
 * categorical field (a chosen expert) per group, agreement tables between
 * grouping fields, and gnuplot charts.
 *
 * The metrics themselves are lib/metrics.h; this file collects the fields of
 * the evaluated records into arrays, forms the blocks (all records, then one
 * per value of each --by field), and prints them in one of four formats.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "record.h"
#include "rng.h"
#include "rus.h"
#include "stream.h"
#include "util.h"

#define MAXBY 8
#define MAXCLASSES 4096   /* confusion matrices are C x C */
#define NONE "(none)"

enum { FMT_TABLE, FMT_TSV, FMT_MD, FMT_JSON };

/* ---- growable arrays and interned strings ---- */

static void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		cli_die(MM_EXIT_USAGE, "out of memory");
	p = realloc(p, n && size ? n * size : 1);
	if (!p)
		cli_die(MM_EXIT_USAGE, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		cli_die(MM_EXIT_USAGE, "out of memory");
	return d;
}

typedef struct strtab {
	char **v;
	size_t n;
} strtab;

static int32_t strtab_id(strtab *t, const char *s)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i], s))
			return (int32_t)i;
	t->v = xrealloc(t->v, t->n + 1, sizeof *t->v);
	t->v[t->n] = xstrdup(s);
	return (int32_t)t->n++;
}

/* ---- options and collected data ---- */

static struct {
	char **methods;
	size_t M;
	const char *label, *split, *split_field, *weights, *plot, *out_path;
	const char *counts;  /* categorical field counted per group (--counts) */
	const char *by[MAXBY];
	int nby;
	char **types;      /* names of the weight components */
	size_t ntypes;
	char **classes;    /* class names (--classes) */
	size_t nclasses;
	int bootstrap, positive, format, confusion;
	const char *diff;  /* reference method of the paired differences */
	size_t ref;        /* its index in methods */
	double level;
	uint64_t seed;
} opt = {
	.label = "label", .split_field = "split", .bootstrap = 1000, .positive = 1,
	.level = 0.95, .seed = 1,
};

typedef struct byfield {
	strtab vals;
	int32_t *gid;      /* per example */
	int32_t *order;    /* group ids in display order */
} byfield;

static struct {
	size_t n, cap;
	int32_t *y;
	uint64_t *ri;      /* record index of each example, for messages */
	int32_t **pred;    /* [M][n] */
	byfield by[MAXBY];
	float *w;          /* [n][K] */
	size_t K;
	byfield cnt;       /* the --counts field: values, value id per example, order */
	int C;             /* number of classes */
	const char *c_from;   /* field whose tensor fixed C, NULL if inferred */
	uint64_t records, unlabelled, other_split;
} d;

/* ---- reading ---- */

/* A grouping value as a string: strings as they are, integers in decimal,
 * booleans as true/false, absent or nil as "(none)". */
static const char *group_value(mm_rec *r, const char *key, char *buf, size_t size)
{
	const msgpack_object *o = mm_rec_get(r, key);
	mm_err e;
	char where[160];
	if (!o || o->type == MSGPACK_OBJECT_NIL)
		return NONE;
	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		snprintf(buf, size, "%.*s", (int)o->via.str.size, o->via.str.ptr);
		return buf;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		snprintf(buf, size, "%llu", (unsigned long long)o->via.u64);
		return buf;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, size, "%lld", (long long)o->via.i64);
		return buf;
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? "true" : "false";
	default:
		mm_errf(&e, MM_ETYPE, "%s: field \"%s\": expected a string, an integer or a boolean "
				"to group by, got %s", mm_rec_where(r, where, sizeof where), key,
				mm_obj_typename(o));
		cli_die_err(&e);
	}
}

static int64_t read_label(mm_rec *r)
{
	mm_err e;
	char where[160];
	const msgpack_object *o = mm_rec_get(r, opt.label);
	if (o->type == MSGPACK_OBJECT_STR && opt.nclasses) {
		for (size_t i = 0; i < opt.nclasses; i++)
			if (o->via.str.size == strlen(opt.classes[i]) &&
					!memcmp(o->via.str.ptr, opt.classes[i], o->via.str.size))
				return (int64_t)i;
		mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected one of the classes given by "
				"--classes, got \"%.*s\"", mm_rec_where(r, where, sizeof where), opt.label,
				(int)o->via.str.size, o->via.str.ptr);
		cli_die_err(&e);
	}
	int64_t y;
	if (mm_rec_label(r, opt.label, 0, &y, &e) != MM_OK)
		cli_die_err(&e);
	return y;
}

/* Fix or check the class count against a prediction tensor of c classes. */
static void check_classes(mm_rec *r, const char *field, int64_t c)
{
	mm_err e;
	char where[160];
	if (c <= 0)
		return;
	if (!d.c_from) {
		if (opt.nclasses && (size_t)c != opt.nclasses) {
			mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected %zu classes (--classes), got %lld",
					mm_rec_where(r, where, sizeof where), field, opt.nclasses, (long long)c);
			cli_die_err(&e);
		}
		if (c > MAXCLASSES) {
			mm_errf(&e, MM_ELIMIT, "%s: field \"%s\": %lld classes, more than the %d supported",
					mm_rec_where(r, where, sizeof where), field, (long long)c, MAXCLASSES);
			cli_die_err(&e);
		}
		d.c_from = xstrdup(field);
		d.C = (int)c;
		return;
	}
	if (c != d.C) {
		mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected %d classes (as \"%s\" in an earlier "
				"record), got %lld", mm_rec_where(r, where, sizeof where), field, d.C,
				d.c_from, (long long)c);
		cli_die_err(&e);
	}
}

static void read_weights(mm_rec *r)
{
	mm_err e;
	mm_tensor t;
	char where[160];
	if (mm_rec_tensor(r, opt.weights, &t, true, &e) != MM_OK)
		cli_die_err(&e);
	if (d.K == 0)
		d.K = t.n;
	if (t.n != d.K || t.n == 0) {
		mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected %zu weights (as in the first record), "
				"got %zu", mm_rec_where(r, where, sizeof where), opt.weights, d.K, t.n);
		cli_die_err(&e);
	}
	memcpy(d.w + d.n * d.K, t.data, d.K * sizeof *d.w);
	mm_tensor_free(&t);
}

static void grow(void)
{
	if (d.n < d.cap)
		return;
	d.cap = d.cap ? d.cap * 2 : 1024;
	d.y = xrealloc(d.y, d.cap, sizeof *d.y);
	for (size_t m = 0; m < opt.M; m++)
		d.pred[m] = xrealloc(d.pred[m], d.cap, sizeof **d.pred);
	for (int b = 0; b < opt.nby; b++)
		d.by[b].gid = xrealloc(d.by[b].gid, d.cap, sizeof *d.by[b].gid);
	d.ri = xrealloc(d.ri, d.cap, sizeof *d.ri);
	if (opt.counts)
		d.cnt.gid = xrealloc(d.cnt.gid, d.cap, sizeof *d.cnt.gid);
	if (opt.weights && d.K)
		d.w = xrealloc(d.w, d.cap * d.K, sizeof *d.w);
}

static void read_input(const char *path)
{
	mm_err e;
	mm_reader *rd;
	mm_rec *r;
	mm_status st;
	char where[160];
	if (mm_reader_open(&rd, path, &e) != MM_OK)
		cli_die_err(&e);
	cli_set_input(mm_reader_name(rd));
	while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
		d.records++;
		if (opt.split) {
			const msgpack_object *o = mm_rec_get(r, opt.split_field);
			if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size != strlen(opt.split) ||
					memcmp(o->via.str.ptr, opt.split, o->via.str.size)) {
				d.other_split++;
				mm_rec_free(r);
				continue;
			}
		}
		if (mm_field_absent(r, opt.label)) {
			d.unlabelled++;
			mm_rec_free(r);
			continue;
		}
		grow();
		int64_t y = read_label(r);
		d.y[d.n] = (int32_t)y;
		d.ri[d.n] = r->index;
		for (size_t m = 0; m < opt.M; m++) {
			int64_t c, nc;
			if (mm_pred_class(r, opt.methods[m], &c, &nc, &e) != MM_OK)
				cli_die_err(&e);
			check_classes(r, opt.methods[m], nc);
			if (c > INT32_MAX) {
				mm_errf(&e, MM_EVALUE, "%s: field \"%s_class\": class %lld is too large",
						mm_rec_where(r, where, sizeof where), opt.methods[m], (long long)c);
				cli_die_err(&e);
			}
			d.pred[m][d.n] = (int32_t)c;
		}
		for (int b = 0; b < opt.nby; b++) {
			char buf[256];
			d.by[b].gid[d.n] = strtab_id(&d.by[b].vals, group_value(r, opt.by[b], buf, sizeof buf));
		}
		if (opt.counts) {
			char buf[256];
			d.cnt.gid[d.n] = strtab_id(&d.cnt.vals, group_value(r, opt.counts, buf, sizeof buf));
		}
		if (opt.weights) {
			if (d.K == 0) {
				/* First record: learn K, then size the array for it. */
				mm_tensor t;
				if (mm_rec_tensor(r, opt.weights, &t, true, &e) != MM_OK)
					cli_die_err(&e);
				d.K = t.n ? t.n : 1;
				mm_tensor_free(&t);
				d.w = xrealloc(d.w, d.cap * d.K, sizeof *d.w);
			}
			read_weights(r);
		}
		d.n++;
		mm_rec_free(r);
	}
	if (st != MM_EOF)
		cli_die_err(&e);
	mm_reader_close(rd);
}

/* Labels and predicted classes must be classes of the predictions' tensors
 * (or of --classes).  Checked after reading, because the first tensor may
 * come after records that only had P_class. */
static void check_ranges(void)
{
	mm_err e;
	for (size_t i = 0; i < d.n; i++) {
		const char *field = NULL;
		int64_t v = 0;
		if (d.y[i] >= d.C) {
			field = opt.label;
			v = d.y[i];
		}
		for (size_t m = 0; !field && m < opt.M; m++)
			if (d.pred[m][i] >= d.C) {
				field = opt.methods[m];
				v = d.pred[m][i];
			}
		if (field) {
			mm_errf(&e, MM_EVALUE, "record %llu: field \"%s%s\": class %lld outside 0..%d "
					"(%d classes, from %s%s%s)", (unsigned long long)d.ri[i], field,
					field == opt.label ? "" : "_class", (long long)v, d.C - 1, d.C,
					d.c_from ? "\"" : "", d.c_from ? d.c_from : "--classes", d.c_from ? "\"" : "");
			cli_die_err(&e);
		}
	}
}

/* ---- groups in display order ---- */

/* R, U, Uv, Ut, S first (the interaction types), then the rest in version
 * order (so 2 < 10), "(none)" last. */
static int value_rank(const char *s)
{
	static const char *const known[] = { "R", "U", "Uv", "Ut", "S" };
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, known[i]))
			return i;
	return strcmp(s, NONE) ? 5 : 6;
}

static const strtab *sort_tab;
static int cmp_gid(const void *a, const void *b)
{
	const char *x = sort_tab->v[*(const int32_t *)a], *y = sort_tab->v[*(const int32_t *)b];
	int rx = value_rank(x), ry = value_rank(y);
	return rx != ry ? rx - ry : strverscmp(x, y);
}

static void order_field(byfield *f)
{
	f->order = xrealloc(NULL, f->vals.n ? f->vals.n : 1, sizeof *f->order);
	for (size_t i = 0; i < f->vals.n; i++)
		f->order[i] = (int32_t)i;
	sort_tab = &f->vals;
	qsort(f->order, f->vals.n, sizeof *f->order, cmp_gid);
}

static void order_groups(void)
{
	for (int b = 0; b < opt.nby; b++)
		order_field(&d.by[b]);
	if (opt.counts)
		order_field(&d.cnt);
}

/* ---- blocks: the evaluated subsets ---- */

typedef struct block {
	int by;             /* -1: all records */
	int32_t g;          /* group id within by */
	const char *value;  /* "all" or the group value */
	size_t n;
	size_t *idx;
	mm_metrics *pt, *lo, *hi;   /* [M] */
	mm_metrics *dlo, *dhi;      /* [M] intervals of pt[m] - pt[ref], with --diff */
} block;

static block *blocks;
static size_t nblocks;

static void add_block(int by, int32_t g, mm_rng *root)
{
	mm_err e;
	block *k;
	blocks = xrealloc(blocks, nblocks + 1, sizeof *blocks);
	k = &blocks[nblocks++];
	memset(k, 0, sizeof *k);
	k->by = by;
	k->g = g;
	k->value = by < 0 ? "all" : d.by[by].vals.v[g];
	k->idx = xrealloc(NULL, d.n, sizeof *k->idx);
	for (size_t i = 0; i < d.n; i++)
		if (by < 0 || d.by[by].gid[i] == g)
			k->idx[k->n++] = i;
	k->pt = xrealloc(NULL, opt.M, sizeof *k->pt);
	k->lo = xrealloc(NULL, opt.M, sizeof *k->lo);
	k->hi = xrealloc(NULL, opt.M, sizeof *k->hi);
	for (size_t m = 0; m < opt.M; m++)
		if (mm_metrics_compute(d.y, d.pred[m], k->idx, k->n, d.C, opt.positive, &k->pt[m], &e) != MM_OK) {
			mm_err_prefix(&e, "field \"%s\"", opt.methods[m]);
			cli_die_err(&e);
		}
	/* Each block draws from its own child stream, keyed by the field and
	 * value, so adding a --by or a method leaves the other intervals as
	 * they were. */
	uint64_t key = 0;
	if (by >= 0) {
		char buf[600];
		int len = snprintf(buf, sizeof buf, "%s%c%s", opt.by[by], 0x1f, k->value);
		key = mm_hash64(buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1, 0);
	}
	mm_rng g_rng = mm_rng_split(root, key);
	mm_status st;
	if (opt.diff) {
		k->dlo = xrealloc(NULL, opt.M, sizeof *k->dlo);
		k->dhi = xrealloc(NULL, opt.M, sizeof *k->dhi);
		st = mm_metrics_bootstrap_diff(d.y, (const int32_t *const *)d.pred, opt.M, k->idx, k->n,
				d.C, opt.positive, opt.bootstrap, opt.level, &g_rng, k->lo, k->hi, opt.ref,
				k->dlo, k->dhi, &e);
	} else {
		st = mm_metrics_bootstrap(d.y, (const int32_t *const *)d.pred, opt.M, k->idx, k->n, d.C,
				opt.positive, opt.bootstrap, opt.level, &g_rng, k->lo, k->hi, &e);
	}
	if (st != MM_OK)
		cli_die_err(&e);
}

/* ---- output helpers ---- */

static FILE *out;
static mm_atomic out_at;

static const char *const met_titles[MM_MET_COUNT] = {
	"acc", "precision", "recall", "F1(pos)", "macro-F1",
};

static const char *by_name(const block *k)
{
	return k->by < 0 ? "all" : opt.by[k->by];
}

static char *cell(char *buf, size_t size, const block *k, size_t m, int met)
{
	if (opt.bootstrap > 0 && k->n > 0)
		snprintf(buf, size, "%.3f [%.3f,%.3f]", k->pt[m].v[met], k->lo[m].v[met], k->hi[m].v[met]);
	else
		snprintf(buf, size, "%.3f", k->pt[m].v[met]);
	return buf;
}

/* "+0.016 [-0.020,+0.052]"; a leading '*' marks an interval that excludes 0. */
static char *diff_cell(char *buf, size_t size, const block *k, size_t m, int met)
{
	double v = k->pt[m].v[met] - k->pt[opt.ref].v[met];
	if (opt.bootstrap > 0 && k->n > 0) {
		double lo = k->dlo[m].v[met], hi = k->dhi[m].v[met];
		snprintf(buf, size, "%s%+.3f [%+.3f,%+.3f]", lo > 0 || hi < 0 ? "*" : "", v, lo, hi);
	} else {
		snprintf(buf, size, "%+.3f", v);
	}
	return buf;
}

static int method_width(void)
{
	int w = 6;
	for (size_t m = 0; m < opt.M; m++)
		if ((int)strlen(opt.methods[m]) > w)
			w = (int)strlen(opt.methods[m]);
	return w;
}

static const char *class_name(int c, char *buf, size_t size)
{
	if (opt.nclasses && (size_t)c < opt.nclasses)
		return opt.classes[c];
	snprintf(buf, size, "%d", c);
	return buf;
}

static const char *weight_name(size_t k, char *buf, size_t size)
{
	if (opt.ntypes == d.K)
		return opt.types[k];
	snprintf(buf, size, "w%zu", k);
	return buf;
}

/* Mean weights of the examples of group g of field by (by < 0: all). */
static size_t mean_weights(int by, int32_t g, double *mean)
{
	size_t n = 0;
	for (size_t k = 0; k < d.K; k++)
		mean[k] = 0;
	for (size_t i = 0; i < d.n; i++)
		if (by < 0 || d.by[by].gid[i] == g) {
			for (size_t k = 0; k < d.K; k++)
				mean[k] += d.w[i * d.K + k];
			n++;
		}
	for (size_t k = 0; k < d.K; k++)
		mean[k] = n ? mean[k] / (double)n : 0;
	return n;
}

/* Counts of the --counts values (in display order) among the examples of
 * group g of field by (by < 0: all); returns the number of examples. */
static size_t count_values(int by, int32_t g, double *count)
{
	size_t n = 0, nv = d.cnt.vals.n;
	double *byid = xrealloc(NULL, nv ? nv : 1, sizeof *byid);
	for (size_t v = 0; v < nv; v++)
		byid[v] = 0;
	for (size_t i = 0; i < d.n; i++)
		if (by < 0 || d.by[by].gid[i] == g) {
			byid[d.cnt.gid[i]] += 1;
			n++;
		}
	for (size_t v = 0; v < nv; v++)
		count[v] = byid[d.cnt.order[v]];
	free(byid);
	return n;
}

static const char *count_name(size_t k, char *buf, size_t size)
{
	(void)buf, (void)size;
	return d.cnt.vals.v[d.cnt.order[k]];
}

/* A per-group vector table: mean weights (-w) or value counts (--counts).
 * One description drives the text table, the tsv and json sections and the
 * stacked chart, so both tables have the same shape everywhere. */
typedef struct pergroup {
	const char *field;    /* the record field */
	const char *kind;     /* "weights" or "counts": tsv/json section, chart file prefix */
	const char *what;     /* "mean" or "counts of": heading */
	const char *column;   /* "weight" or "value": data-file comment */
	const char *jkey;     /* json key of a group's vector: "mean" or "counts" */
	size_t K;
	bool integer;         /* print values as integers */
	const char *(*name)(size_t k, char *buf, size_t size);
	size_t (*row)(int by, int32_t g, double *v);  /* fills K values, returns n */
} pergroup;

static pergroup pg_weights(void)
{
	return (pergroup){ opt.weights, "weights", "mean", "weight", "mean", d.K, false,
		weight_name, mean_weights };
}

static pergroup pg_counts(void)
{
	return (pergroup){ opt.counts, "counts", "counts of", "value", "counts", d.cnt.vals.n, true,
		count_name, count_values };
}

static void pg_value(const pergroup *pg, double v, char *buf, size_t size, bool tsv)
{
	if (pg->integer)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, tsv ? "%.6f" : "%.3f", v);
}

/* counts[ga * nb + gb] of examples with value ga of field a and gb of b. */
static uint64_t *agreement(int a, int b)
{
	size_t na = d.by[a].vals.n, nb = d.by[b].vals.n;
	uint64_t *cnt = calloc(na && nb ? na * nb : 1, sizeof *cnt);
	if (!cnt)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (size_t i = 0; i < d.n; i++)
		cnt[(size_t)d.by[a].gid[i] * nb + d.by[b].gid[i]]++;
	return cnt;
}

static void describe(char *buf, size_t size)
{
	size_t len = 0;
#define ADD(...) (len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__), \
		len = len < size ? len : size - 1)
	char pos[64];
	ADD("%zu records evaluated", d.n);
	if (opt.split)
		ADD(" (%s == \"%s\"; %llu others left out)", opt.split_field, opt.split,
				(unsigned long long)d.other_split);
	if (d.unlabelled)
		ADD(", %llu without \"%s\" left out", (unsigned long long)d.unlabelled, opt.label);
	ADD("; %d classes, positive class %s", d.C, class_name(opt.positive, pos, sizeof pos));
	if (opt.bootstrap > 0)
		ADD("; %d bootstrap resamples, seed %llu, %g%% intervals", opt.bootstrap,
				(unsigned long long)opt.seed, opt.level * 100);
	else
		ADD("; no bootstrap");
#undef ADD
}

/* ---- table and markdown ---- */

/* A row of cells: fixed-width (table) or pipes (md). */
static bool row_first;
static void row_begin(bool md)
{
	if (md)
		fputs("|", out);
	row_first = true;
}
static void row_cell(bool md, int width, bool left, const char *s)
{
	if (md)
		fprintf(out, " %s |", s);
	else
		fprintf(out, left ? "%s%-*s" : "%s%*s", row_first ? "" : "  ", width, s);
	row_first = false;
}
static void row_end(bool md, int ncells)
{
	(void)md;
	(void)ncells;
	fputc('\n', out);
}
static void md_rule(bool md, int ncells, int nleft)
{
	if (!md)
		return;
	fputs("|", out);
	for (int i = 0; i < ncells; i++)
		fputs(i < nleft ? " :--- |" : " ---: |", out);
	fputc('\n', out);
}
static void heading(bool md, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void heading(bool md, const char *fmt, ...)
{
	va_list ap;
	fputs(md ? "\n### " : "\n", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputs(md ? "\n\n" : "\n", out);
}

static void print_block(const block *k, bool md)
{
	int mw = method_width(), cw = opt.bootstrap > 0 ? 19 : 9;
	char buf[64];
	if (k->by < 0)
		heading(md, "all (n=%zu)", k->n);
	else
		heading(md, "%s = %s (n=%zu)", opt.by[k->by], k->value, k->n);
	row_begin(md);
	row_cell(md, mw, true, "method");
	for (int j = 0; j < MM_MET_COUNT; j++)
		row_cell(md, cw, false, met_titles[j]);
	row_cell(md, 6, false, "n");
	row_end(md, MM_MET_COUNT + 2);
	md_rule(md, MM_MET_COUNT + 2, 1);
	for (size_t m = 0; m < opt.M; m++) {
		row_begin(md);
		row_cell(md, mw, true, opt.methods[m]);
		for (int j = 0; j < MM_MET_COUNT; j++)
			row_cell(md, cw, false, cell(buf, sizeof buf, k, m, j));
		snprintf(buf, sizeof buf, "%zu", k->n);
		row_cell(md, 6, false, buf);
		row_end(md, MM_MET_COUNT + 2);
	}
}

/* Methods x (all, groups of one --by field) for one metric; by < 0: all
 * only.  diff: each method minus the --diff reference, with the paired
 * intervals (the reference's own row is left out). */
static void print_summary(int by, int met, bool diff, bool md)
{
	int mw = method_width(), cw = opt.bootstrap > 0 ? (diff ? 24 : 19) : 7;
	char buf[64], head[300];
	for (size_t i = 0; i < nblocks; i++)
		if (blocks[i].by < 0 || blocks[i].by == by) {
			int len = snprintf(head, sizeof head, "%s (%zu)", blocks[i].value, blocks[i].n);
			if (len > cw)
				cw = len;
		}
	if (diff)
		heading(md, "%s minus %s%s%s%s", met_titles[met], opt.diff, by < 0 ? "" : " by ",
				by < 0 ? "" : opt.by[by],
				opt.bootstrap > 0 ? " (paired intervals; * excludes 0)" : "");
	else
		heading(md, "%s by %s", met_titles[met], opt.by[by]);
	row_begin(md);
	row_cell(md, mw, true, "method");
	size_t ncol = 0;
	for (size_t i = 0; i < nblocks; i++)
		if (blocks[i].by < 0 || blocks[i].by == by) {
			snprintf(head, sizeof head, "%s (%zu)", blocks[i].value, blocks[i].n);
			row_cell(md, cw, false, head);
			ncol++;
		}
	row_end(md, (int)ncol + 1);
	md_rule(md, (int)ncol + 1, 1);
	for (size_t m = 0; m < opt.M; m++) {
		if (diff && m == opt.ref)
			continue;
		row_begin(md);
		row_cell(md, mw, true, opt.methods[m]);
		for (size_t i = 0; i < nblocks; i++) {
			if (blocks[i].by >= 0 && blocks[i].by != by)
				continue;
			if (!diff) {
				row_cell(md, cw, false, cell(buf, sizeof buf, &blocks[i], m, met));
			} else {
				/* A bare leading '*' would start emphasis in Markdown. */
				char esc[80];
				diff_cell(buf, sizeof buf, &blocks[i], m, met);
				snprintf(esc, sizeof esc, "%s%s", md && buf[0] == '*' ? "\\" : "", buf);
				row_cell(md, cw, false, esc);
			}
		}
		row_end(md, (int)ncol + 1);
	}
}

static void print_confusion(size_t m, bool md)
{
	uint64_t *cm = calloc((size_t)d.C * d.C, sizeof *cm);
	mm_err e;
	char buf[64];
	if (!cm)
		cli_die(MM_EXIT_USAGE, "out of memory");
	if (mm_confusion_fill(d.y, d.pred[m], NULL, d.n, d.C, cm, &e) != MM_OK)
		cli_die_err(&e);
	heading(md, "confusion %s (rows: true %s, columns: predicted)", opt.methods[m], opt.label);
	int w = 9;   /* "true\\pred" */
	for (int c = 0; c < d.C; c++)
		if ((int)strlen(class_name(c, buf, sizeof buf)) > w)
			w = (int)strlen(class_name(c, buf, sizeof buf));
	row_begin(md);
	row_cell(md, w, true, "true\\pred");
	for (int c = 0; c < d.C; c++)
		row_cell(md, w, false, class_name(c, buf, sizeof buf));
	row_cell(md, w, false, "total");
	row_end(md, d.C + 2);
	md_rule(md, d.C + 2, 1);
	for (int t = 0; t < d.C; t++) {
		uint64_t tot = 0;
		row_begin(md);
		row_cell(md, w, true, class_name(t, buf, sizeof buf));
		for (int c = 0; c < d.C; c++) {
			tot += cm[(size_t)t * d.C + c];
			snprintf(buf, sizeof buf, "%llu", (unsigned long long)cm[(size_t)t * d.C + c]);
			row_cell(md, w, false, buf);
		}
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)tot);
		row_cell(md, w, false, buf);
		row_end(md, d.C + 2);
	}
	free(cm);
}

static void print_pergroup(const pergroup *pg, int by, bool md)
{
	double *mean = xrealloc(NULL, pg->K ? pg->K : 1, sizeof *mean);
	char buf[300];
	int w = 8, ww = 6;
	size_t ng = by < 0 ? 0 : d.by[by].vals.n;
	for (size_t k = 0; k < pg->K; k++) {
		int len = (int)strlen(pg->name(k, buf, sizeof buf));
		if (len > ww)
			ww = len;
	}
	if (by >= 0 && (int)strlen(opt.by[by]) > w)
		w = (int)strlen(opt.by[by]);
	for (size_t i = 0; i < ng; i++)
		if ((int)strlen(d.by[by].vals.v[i]) > w)
			w = (int)strlen(d.by[by].vals.v[i]);
	heading(md, "%s %s by %s", pg->what, pg->field, by < 0 ? "all" : opt.by[by]);
	row_begin(md);
	row_cell(md, w, true, by < 0 ? "all" : opt.by[by]);
	row_cell(md, 6, false, "n");
	for (size_t k = 0; k < pg->K; k++)
		row_cell(md, ww, false, pg->name(k, buf, sizeof buf));
	row_end(md, (int)pg->K + 2);
	md_rule(md, (int)pg->K + 2, 1);
	for (size_t i = 0; i <= ng; i++) {
		int32_t g = i < ng ? d.by[by].order[i] : -1;
		size_t n = pg->row(i < ng ? by : -1, g, mean);
		row_begin(md);
		row_cell(md, w, true, i < ng ? d.by[by].vals.v[g] : "all");
		snprintf(buf, sizeof buf, "%zu", n);
		row_cell(md, 6, false, buf);
		for (size_t k = 0; k < pg->K; k++) {
			pg_value(pg, mean[k], buf, sizeof buf, false);
			row_cell(md, ww, false, buf);
		}
		row_end(md, (int)pg->K + 2);
	}
	free(mean);
}

static void print_agreement(int a, int b, bool md)
{
	uint64_t *cnt = agreement(a, b);
	const byfield *fa = &d.by[a], *fb = &d.by[b];
	size_t nb = fb->vals.n;
	char buf[300];
	int w = 8;
	for (size_t j = 0; j < nb; j++)
		if ((int)strlen(fb->vals.v[j]) > w)
			w = (int)strlen(fb->vals.v[j]);
	heading(md, "%s x %s (counts; rows: %s, columns: %s)", opt.by[a], opt.by[b], opt.by[a], opt.by[b]);
	snprintf(buf, sizeof buf, "%s\\%s", opt.by[a], opt.by[b]);
	int w0 = (int)strlen(buf) > w ? (int)strlen(buf) : w;
	for (size_t i = 0; i < fa->vals.n; i++)
		if ((int)strlen(fa->vals.v[i]) > w0)
			w0 = (int)strlen(fa->vals.v[i]);
	row_begin(md);
	row_cell(md, w0, true, buf);
	for (size_t j = 0; j < nb; j++)
		row_cell(md, w, false, fb->vals.v[fb->order[j]]);
	row_cell(md, w, false, "total");
	row_end(md, (int)nb + 2);
	md_rule(md, (int)nb + 2, 1);
	uint64_t *coltot = calloc(nb + 1, sizeof *coltot);
	if (!coltot)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (size_t i = 0; i <= fa->vals.n; i++) {
		uint64_t tot = 0;
		row_begin(md);
		row_cell(md, w0, true, i < fa->vals.n ? fa->vals.v[fa->order[i]] : "total");
		for (size_t j = 0; j <= nb; j++) {
			uint64_t v;
			if (j == nb)
				v = i < fa->vals.n ? tot : coltot[nb];
			else if (i < fa->vals.n)
				v = cnt[(size_t)fa->order[i] * nb + fb->order[j]];
			else
				v = coltot[j];
			if (i < fa->vals.n) {
				if (j < nb) {
					tot += v;
					coltot[j] += v;
				} else {
					coltot[nb] += v;
				}
			}
			snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
			row_cell(md, w, false, buf);
		}
		row_end(md, (int)nb + 2);
	}
	free(coltot);
	free(cnt);
}

static void print_human(bool md)
{
	char desc[1024];
	describe(desc, sizeof desc);
	if (md)
		fprintf(out, "%s\n", desc);
	else
		fprintf(out, "%s: %s\n", cli_prog, desc);
	for (size_t i = 0; i < nblocks; i++)
		print_block(&blocks[i], md);
	for (int b = 0; b < opt.nby; b++)
		print_summary(b, MM_MET_F1, false, md);
	if (opt.diff && opt.M > 1) {
		if (opt.nby == 0)
			print_summary(-1, MM_MET_F1, true, md);
		for (int b = 0; b < opt.nby; b++)
			print_summary(b, MM_MET_F1, true, md);
	}
	if (opt.confusion)
		for (size_t m = 0; m < opt.M; m++)
			print_confusion(m, md);
	pergroup pgs[2];
	int npg = 0;
	if (opt.weights)
		pgs[npg++] = pg_weights();
	if (opt.counts)
		pgs[npg++] = pg_counts();
	for (int k = 0; k < npg; k++) {
		if (opt.nby == 0)
			print_pergroup(&pgs[k], -1, md);
		for (int b = 0; b < opt.nby; b++)
			print_pergroup(&pgs[k], b, md);
	}
	for (int a = 0; a < opt.nby; a++)
		for (int b = a + 1; b < opt.nby; b++)
			print_agreement(a, b, md);
}

/* ---- tsv ---- */

static void tsv_pergroup(const pergroup *pg)
{
	double *mean = xrealloc(NULL, pg->K ? pg->K : 1, sizeof *mean);
	char buf[300];
	fprintf(out, "\n# %s\nby\tgroup\tn", pg->kind);
	for (size_t k = 0; k < pg->K; k++)
		fprintf(out, "\t%s", pg->name(k, buf, sizeof buf));
	fputc('\n', out);
	for (int b = -1; b < opt.nby; b++) {
		size_t ng = b < 0 ? 1 : d.by[b].vals.n;
		for (size_t i = 0; i < ng; i++) {
			int32_t g = b < 0 ? -1 : d.by[b].order[i];
			size_t n = pg->row(b, g, mean);
			fprintf(out, "%s\t%s\t%zu", b < 0 ? "all" : opt.by[b], b < 0 ? "all" : d.by[b].vals.v[g], n);
			for (size_t k = 0; k < pg->K; k++) {
				pg_value(pg, mean[k], buf, sizeof buf, true);
				fprintf(out, "\t%s", buf);
			}
			fputc('\n', out);
		}
	}
	free(mean);
}

static void print_tsv(void)
{
	char buf[64];
	fputs("by\tgroup\tmethod\tn", out);
	for (int j = 0; j < MM_MET_COUNT; j++)
		fprintf(out, "\t%s\t%s_lo\t%s_hi", mm_metric_name(j), mm_metric_name(j), mm_metric_name(j));
	fputc('\n', out);
	for (size_t i = 0; i < nblocks; i++)
		for (size_t m = 0; m < opt.M; m++) {
			const block *k = &blocks[i];
			fprintf(out, "%s\t%s\t%s\t%zu", by_name(k), k->value, opt.methods[m], k->n);
			for (int j = 0; j < MM_MET_COUNT; j++) {
				if (opt.bootstrap > 0 && k->n > 0)
					fprintf(out, "\t%.6f\t%.6f\t%.6f", k->pt[m].v[j], k->lo[m].v[j], k->hi[m].v[j]);
				else
					fprintf(out, "\t%.6f\tNA\tNA", k->pt[m].v[j]);
			}
			fputc('\n', out);
		}
	if (opt.diff && opt.M > 1) {
		fputs("\n# diff\nby\tgroup\tmethod\treference\tmetric\tdiff\tdiff_lo\tdiff_hi\n", out);
		for (size_t i = 0; i < nblocks; i++)
			for (size_t m = 0; m < opt.M; m++) {
				const block *k = &blocks[i];
				if (m == opt.ref)
					continue;
				for (int j = 0; j < MM_MET_COUNT; j++) {
					fprintf(out, "%s\t%s\t%s\t%s\t%s\t%.6f", by_name(k), k->value, opt.methods[m],
							opt.diff, mm_metric_name(j), k->pt[m].v[j] - k->pt[opt.ref].v[j]);
					if (opt.bootstrap > 0 && k->n > 0)
						fprintf(out, "\t%.6f\t%.6f\n", k->dlo[m].v[j], k->dhi[m].v[j]);
					else
						fputs("\tNA\tNA\n", out);
				}
			}
	}
	if (opt.confusion) {
		uint64_t *cm = xrealloc(NULL, (size_t)d.C * d.C, sizeof *cm);
		mm_err e;
		fputs("\n# confusion\nmethod\ttrue\tpredicted\tcount\n", out);
		for (size_t m = 0; m < opt.M; m++) {
			if (mm_confusion_fill(d.y, d.pred[m], NULL, d.n, d.C, cm, &e) != MM_OK)
				cli_die_err(&e);
			for (int t = 0; t < d.C; t++)
				for (int c = 0; c < d.C; c++) {
					char b2[64];
					fprintf(out, "%s\t%s\t%s\t%llu\n", opt.methods[m],
							class_name(t, buf, sizeof buf), class_name(c, b2, sizeof b2),
							(unsigned long long)cm[(size_t)t * d.C + c]);
				}
		}
		free(cm);
	}
	if (opt.weights) {
		pergroup pg = pg_weights();
		tsv_pergroup(&pg);
	}
	if (opt.counts) {
		pergroup pg = pg_counts();
		tsv_pergroup(&pg);
	}
	if (opt.nby >= 2) {
		fputs("\n# agreement\na\tb\ta_value\tb_value\tcount\n", out);
		for (int a = 0; a < opt.nby; a++)
			for (int b = a + 1; b < opt.nby; b++) {
				uint64_t *cnt = agreement(a, b);
				size_t nb = d.by[b].vals.n;
				for (size_t i = 0; i < d.by[a].vals.n; i++)
					for (size_t j = 0; j < nb; j++) {
						int32_t ga = d.by[a].order[i], gb = d.by[b].order[j];
						fprintf(out, "%s\t%s\t%s\t%s\t%llu\n", opt.by[a], opt.by[b],
								d.by[a].vals.v[ga], d.by[b].vals.v[gb],
								(unsigned long long)cnt[(size_t)ga * nb + gb]);
					}
				free(cnt);
			}
	}
}

/* ---- json ---- */

static json_t *jnum(double v) { return json_real(v); }

static json_t *json_pergroup(const pergroup *pg)
{
	json_t *wo = json_object(), *names = json_array(), *groups = json_array();
	double *mean = xrealloc(NULL, pg->K ? pg->K : 1, sizeof *mean);
	char buf[300];
	json_object_set_new(wo, "field", json_string(pg->field));
	for (size_t k = 0; k < pg->K; k++)
		json_array_append_new(names, json_string(pg->name(k, buf, sizeof buf)));
	json_object_set_new(wo, pg->integer ? "values" : "names", names);
	for (int b = -1; b < opt.nby; b++) {
		size_t ng = b < 0 ? 1 : d.by[b].vals.n;
		for (size_t i = 0; i < ng; i++) {
			int32_t g = b < 0 ? -1 : d.by[b].order[i];
			size_t n = pg->row(b, g, mean);
			json_t *go = json_object(), *mv = json_array();
			json_object_set_new(go, "by", b < 0 ? json_null() : json_string(opt.by[b]));
			json_object_set_new(go, "group", json_string(b < 0 ? "all" : d.by[b].vals.v[g]));
			json_object_set_new(go, "n", json_integer((json_int_t)n));
			for (size_t k = 0; k < pg->K; k++)
				json_array_append_new(mv, pg->integer ? json_integer((json_int_t)mean[k]) : jnum(mean[k]));
			json_object_set_new(go, pg->jkey, mv);
			json_array_append_new(groups, go);
		}
	}
	free(mean);
	json_object_set_new(wo, "groups", groups);
	return wo;
}

static void print_json(void)
{
	json_t *root = json_object(), *arr, *o;
	json_object_set_new(root, "records", json_integer((json_int_t)d.records));
	json_object_set_new(root, "evaluated", json_integer((json_int_t)d.n));
	json_object_set_new(root, "unlabelled", json_integer((json_int_t)d.unlabelled));
	json_object_set_new(root, "split", opt.split ? json_string(opt.split) : json_null());
	json_object_set_new(root, "other_split", json_integer((json_int_t)d.other_split));
	json_object_set_new(root, "label", json_string(opt.label));
	json_object_set_new(root, "classes", json_integer(d.C));
	json_object_set_new(root, "positive", json_integer(opt.positive));
	json_object_set_new(root, "bootstrap", json_integer(opt.bootstrap));
	json_object_set_new(root, "seed", json_integer((json_int_t)opt.seed));
	json_object_set_new(root, "level", jnum(opt.level));
	arr = json_array();
	for (size_t m = 0; m < opt.M; m++)
		json_array_append_new(arr, json_string(opt.methods[m]));
	json_object_set_new(root, "methods", arr);
	json_object_set_new(root, "diff_reference", opt.diff ? json_string(opt.diff) : json_null());
	arr = json_array();
	for (size_t i = 0; i < nblocks; i++) {
		const block *k = &blocks[i];
		json_t *b = json_object(), *ms = json_object();
		json_object_set_new(b, "by", k->by < 0 ? json_null() : json_string(opt.by[k->by]));
		json_object_set_new(b, "group", json_string(k->value));
		json_object_set_new(b, "n", json_integer((json_int_t)k->n));
		for (size_t m = 0; m < opt.M; m++) {
			json_t *mo = json_object();
			for (int j = 0; j < MM_MET_COUNT; j++) {
				o = json_object();
				json_object_set_new(o, "value", jnum(k->pt[m].v[j]));
				if (opt.bootstrap > 0 && k->n > 0) {
					json_object_set_new(o, "lo", jnum(k->lo[m].v[j]));
					json_object_set_new(o, "hi", jnum(k->hi[m].v[j]));
				}
				if (opt.diff && m != opt.ref) {
					json_t *dj = json_object();
					json_object_set_new(dj, "value", jnum(k->pt[m].v[j] - k->pt[opt.ref].v[j]));
					if (opt.bootstrap > 0 && k->n > 0) {
						json_object_set_new(dj, "lo", jnum(k->dlo[m].v[j]));
						json_object_set_new(dj, "hi", jnum(k->dhi[m].v[j]));
					}
					json_object_set_new(o, "diff", dj);
				}
				json_object_set_new(mo, mm_metric_name(j), o);
			}
			json_object_set_new(ms, opt.methods[m], mo);
		}
		json_object_set_new(b, "methods", ms);
		json_array_append_new(arr, b);
	}
	json_object_set_new(root, "blocks", arr);
	if (opt.confusion) {
		json_t *cf = json_object();
		uint64_t *cm = xrealloc(NULL, (size_t)d.C * d.C, sizeof *cm);
		mm_err e;
		for (size_t m = 0; m < opt.M; m++) {
			json_t *rows = json_array();
			if (mm_confusion_fill(d.y, d.pred[m], NULL, d.n, d.C, cm, &e) != MM_OK)
				cli_die_err(&e);
			for (int t = 0; t < d.C; t++) {
				json_t *row = json_array();
				for (int c = 0; c < d.C; c++)
					json_array_append_new(row, json_integer((json_int_t)cm[(size_t)t * d.C + c]));
				json_array_append_new(rows, row);
			}
			json_object_set_new(cf, opt.methods[m], rows);
		}
		free(cm);
		json_object_set_new(root, "confusion", cf);
	}
	if (opt.weights) {
		pergroup pg = pg_weights();
		json_object_set_new(root, "weights", json_pergroup(&pg));
	}
	if (opt.counts) {
		pergroup pg = pg_counts();
		json_object_set_new(root, "counts", json_pergroup(&pg));
	}
	arr = json_array();
	for (int a = 0; a < opt.nby; a++)
		for (int b = a + 1; b < opt.nby; b++) {
			uint64_t *cnt = agreement(a, b);
			size_t nb = d.by[b].vals.n;
			json_t *ag = json_object(), *av = json_array(), *bv = json_array(), *rows = json_array();
			json_object_set_new(ag, "a", json_string(opt.by[a]));
			json_object_set_new(ag, "b", json_string(opt.by[b]));
			for (size_t i = 0; i < d.by[a].vals.n; i++)
				json_array_append_new(av, json_string(d.by[a].vals.v[d.by[a].order[i]]));
			for (size_t j = 0; j < nb; j++)
				json_array_append_new(bv, json_string(d.by[b].vals.v[d.by[b].order[j]]));
			for (size_t i = 0; i < d.by[a].vals.n; i++) {
				json_t *row = json_array();
				for (size_t j = 0; j < nb; j++)
					json_array_append_new(row, json_integer((json_int_t)
							cnt[(size_t)d.by[a].order[i] * nb + d.by[b].order[j]]));
				json_array_append_new(rows, row);
			}
			json_object_set_new(ag, "a_values", av);
			json_object_set_new(ag, "b_values", bv);
			json_object_set_new(ag, "counts", rows);
			json_array_append_new(arr, ag);
			free(cnt);
		}
	json_object_set_new(root, "agreement", arr);
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_PRESERVE_ORDER);
	if (!s)
		cli_die(MM_EXIT_USAGE, "out of memory (json)");
	fprintf(out, "%s\n", s);
	free(s);
	json_decref(root);
}

/* ---- plots ---- */

/* The gnuplot to run: $MMOE_GNUPLOT (a path, or a name looked up on PATH),
 * else "gnuplot" on PATH; NULL when there is none. */
static char *find_gnuplot(void)
{
	const char *name = getenv("MMOE_GNUPLOT");
	if (!name || !*name)
		name = "gnuplot";
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	const char *path = getenv("PATH");
	if (!path)
		return NULL;
	char *dup = xstrdup(path), *save = NULL;
	for (char *dir = strtok_r(dup, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		size_t n = strlen(dir) + strlen(name) + 2;
		char *p = xrealloc(NULL, n, 1);
		snprintf(p, n, "%s/%s", *dir ? dir : ".", name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0) {
			free(dup);
			return p;
		}
		free(p);
	}
	free(dup);
	return NULL;
}

static char *gnuplot_bin;

/* Write DIR/name atomically from a text produced by fn. */
static void write_plot_file(const char *name, void (*fn)(FILE *, const void *), const void *arg)
{
	mm_err e;
	mm_atomic a;
	size_t n = strlen(opt.plot) + strlen(name) + 2;
	char *path = xrealloc(NULL, n, 1);
	snprintf(path, n, "%s/%s", opt.plot, name);
	if (mm_atomic_open(&a, path, &e) != MM_OK)
		cli_die_err(&e);
	fn(a.f, arg);
	if (mm_atomic_commit(&a, &e) != MM_OK)
		cli_die_err(&e);
	free(path);
}

/* A string for a gnuplot data file or script: double quotes, with quotes
 * and backslashes replaced (values are labels, not code). */
static void gp_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		fputc(*s == '"' || *s == '\\' || *s == '\'' ? '_' : *s, f);
	fputc('"', f);
}

static void f1_data(FILE *f, const void *arg)
{
	int by = *(const int *)arg;
	fprintf(f, "# F1 of the positive class by %s: group, then value lo hi per method\n# group",
			by < 0 ? "all" : opt.by[by]);
	for (size_t m = 0; m < opt.M; m++)
		fprintf(f, " %s %s_lo %s_hi", opt.methods[m], opt.methods[m], opt.methods[m]);
	fputc('\n', f);
	for (size_t i = 0; i < nblocks; i++) {
		const block *k = &blocks[i];
		if (k->by >= 0 && k->by != by)
			continue;
		char label[300];
		snprintf(label, sizeof label, "%s (%zu)", k->value, k->n);
		gp_str(f, label);
		for (size_t m = 0; m < opt.M; m++) {
			double v = k->pt[m].v[MM_MET_F1];
			bool ci = opt.bootstrap > 0 && k->n > 0;
			fprintf(f, " %.6f %.6f %.6f", v, ci ? k->lo[m].v[MM_MET_F1] : v,
					ci ? k->hi[m].v[MM_MET_F1] : v);
		}
		fputc('\n', f);
	}
}

static void gp_terminals(FILE *f, const char *base, const char *title)
{
	fprintf(f,
		"# Re-render with: gnuplot %s.gp  (writes %s.png and %s.svg)\n"
		"if (!exists(\"out\")) out = '%s'\n"
		"if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
		"  set terminal pngcairo size 960,540 noenhanced font ',10'\n"
		"} else {\n"
		"  set terminal png size 960,540 noenhanced\n"
		"}\n"
		"set output out.'.png'\n", base, base, base, base);
	fputs("set title ", f);
	gp_str(f, title);
	fputc('\n', f);
}

static void gp_finish(FILE *f)
{
	fputs("set terminal svg size 960,540 noenhanced\n"
		"set output out.'.svg'\n"
		"replot\n"
		"unset output\n", f);
}

static void f1_script(FILE *f, const void *arg)
{
	int by = *(const int *)arg;
	const char *name = by < 0 ? "all" : opt.by[by];
	char base[300], title[400];
	snprintf(base, sizeof base, "f1_%s", name);
	if (opt.bootstrap > 0)
		snprintf(title, sizeof title, "F1 of class %d by %s (%g%% bootstrap intervals, %d resamples)",
				opt.positive, name, opt.level * 100, opt.bootstrap);
	else
		snprintf(title, sizeof title, "F1 of class %d by %s", opt.positive, name);
	gp_terminals(f, base, title);
	fprintf(f,
		"set style data histograms\n"
		"set style histogram errorbars gap 2 lw 1\n"
		"set style fill solid 0.7 border -1\n"
		"set yrange [0:1.05]\n"
		"set ylabel 'F1'\n"
		"set xlabel '%s'\n"
		"set key outside right top\n"
		"set grid ytics\n"
		"plot ", name);
	for (size_t m = 0; m < opt.M; m++) {
		if (m == 0)
			fprintf(f, "'%s.dat' using 2:3:4:xtic(1) title ", base);
		else
			fprintf(f, ", \\\n     '' using %zu:%zu:%zu title ", 2 + 3 * m, 3 + 3 * m, 4 + 3 * m);
		gp_str(f, opt.methods[m]);
	}
	fputc('\n', f);
	gp_finish(f);
}

/* A stacked chart of a per-group table: mean weights as they are, counts as
 * shares of the group (column / n, computed by gnuplot from the counts). */
typedef struct pg_chart {
	pergroup pg;
	int by;
} pg_chart;

static void pg_data(FILE *f, const void *arg)
{
	const pg_chart *c = arg;
	const pergroup *pg = &c->pg;
	int by = c->by;
	double *mean = xrealloc(NULL, pg->K ? pg->K : 1, sizeof *mean);
	char buf[300];
	fprintf(f, "# %s %s by %s: group n then one column per %s\n# group n", pg->what, pg->field,
			by < 0 ? "all" : opt.by[by], pg->column);
	for (size_t k = 0; k < pg->K; k++)
		fprintf(f, " %s", pg->name(k, buf, sizeof buf));
	fputc('\n', f);
	size_t ng = by < 0 ? 1 : d.by[by].vals.n;
	for (size_t i = 0; i < ng; i++) {
		int32_t g = by < 0 ? -1 : d.by[by].order[i];
		size_t n = pg->row(by, g, mean);
		gp_str(f, by < 0 ? "all" : d.by[by].vals.v[g]);
		fprintf(f, " %zu", n);
		for (size_t k = 0; k < pg->K; k++) {
			pg_value(pg, mean[k], buf, sizeof buf, true);
			fprintf(f, " %s", buf);
		}
		fputc('\n', f);
	}
	free(mean);
}

static void pg_script(FILE *f, const void *arg)
{
	const pg_chart *c = arg;
	const pergroup *pg = &c->pg;
	const char *name = c->by < 0 ? "all" : opt.by[c->by];
	bool share = pg->integer;
	char base[300], title[400], buf[300];
	snprintf(base, sizeof base, "%s_%s", pg->kind, name);
	if (share)
		snprintf(title, sizeof title, "share of each %s value by %s", pg->field, name);
	else
		snprintf(title, sizeof title, "mean router weight (%s) by true %s", pg->field, name);
	gp_terminals(f, base, title);
	fprintf(f,
		"set style data histograms\n"
		"set style histogram rowstacked\n"
		"set style fill solid 0.8 border -1\n"
		"set boxwidth 0.6\n"
		"set yrange [0:1.05]\n"
		"set ylabel '%s'\n"
		"set xlabel '%s%s'\n"
		"set key outside right top\n"
		"plot ", share ? "share of records" : "mean weight", share ? "" : "true ", name);
	for (size_t k = 0; k < pg->K; k++) {
		if (k == 0)
			fprintf(f, share ? "'%s.dat' using ($3/$2):xtic(1) title " :
					"'%s.dat' using 3:xtic(1) title ", base);
		else
			fprintf(f, share ? ", \\\n     '' using ($%zu/$2) title " :
					", \\\n     '' using %zu title ", 3 + k);
		gp_str(f, pg->name(k, buf, sizeof buf));
	}
	fputc('\n', f);
	gp_finish(f);
}

/* Run gnuplot on DIR/base.gp writing to temporary names, then rename the
 * images into place: a failed run leaves the previous images untouched. */
static void render(const char *base)
{
	char script[300], outvar[400], tmp[300];
	snprintf(script, sizeof script, "%s.gp", base);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", base, (long)getpid());
	snprintf(outvar, sizeof outvar, "out='%s'", tmp);
	fflush(NULL);   /* or the child would write our buffered report again */
	pid_t pid = fork();
	if (pid < 0)
		cli_die(MM_EXIT_USAGE, "--plot: fork: %s", strerror(errno));
	if (pid == 0) {
		if (chdir(opt.plot) != 0)
			_exit(127);
		/* gnuplot's chatter on stdout would mix with our report. */
		int null = open("/dev/null", O_WRONLY);
		if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
			_exit(127);
		execl(gnuplot_bin, "gnuplot", "-e", outvar, script, (char *)NULL);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			cli_die(MM_EXIT_USAGE, "--plot: waitpid: %s", strerror(errno));
	const char *ext[] = { "png", "svg" };
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(opt.plot) + strlen(tmp) + strlen(base) + 16;
		char *from = xrealloc(NULL, n, 1), *to = xrealloc(NULL, n, 1);
		snprintf(from, n, "%s/%s.%s", opt.plot, tmp, ext[i]);
		snprintf(to, n, "%s/%s.%s", opt.plot, base, ext[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			unlink(from);
		} else if (rename(from, to) != 0) {
			cli_die(MM_EXIT_USAGE, "--plot: cannot create %s: %s", to, strerror(errno));
		}
		free(from);
		free(to);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		cli_die(MM_EXIT_USAGE, "--plot: gnuplot failed on %s/%s (exit status %d)", opt.plot, script,
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

static void plot_all(void)
{
	if (mkdir(opt.plot, 0777) != 0 && errno != EEXIST)
		cli_die(MM_EXIT_USAGE, "--plot: cannot create directory %s: %s", opt.plot, strerror(errno));
	for (int b = opt.nby ? 0 : -1; b < opt.nby; b++) {
		const char *name = b < 0 ? "all" : opt.by[b];
		char fn[320], base[300];
		snprintf(base, sizeof base, "f1_%s", name);
		snprintf(fn, sizeof fn, "%s.dat", base);
		write_plot_file(fn, f1_data, &b);
		snprintf(fn, sizeof fn, "%s.gp", base);
		write_plot_file(fn, f1_script, &b);
		render(base);
		pg_chart charts[2];
		int nc = 0;
		if (opt.weights)
			charts[nc++] = (pg_chart){ pg_weights(), b };
		if (opt.counts)
			charts[nc++] = (pg_chart){ pg_counts(), b };
		for (int k = 0; k < nc; k++) {
			snprintf(base, sizeof base, "%s_%s", charts[k].pg.kind, name);
			snprintf(fn, sizeof fn, "%s.dat", base);
			write_plot_file(fn, pg_data, &charts[k]);
			snprintf(fn, sizeof fn, "%s.gp", base);
			write_plot_file(fn, pg_script, &charts[k]);
			render(base);
		}
	}
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mmoe-eval -p FIELD [-p FIELD...] [options] [FILE...]\n"
		"Accuracy, precision, recall, F1 of the positive class and macro-F1 of each\n"
		"prediction field, side by side, overall and per value of each --by field.\n"
		"A prediction field P is a tensor P [C] plus P_class; P_class is used when\n"
		"present, else argmax P.  Reads FILE(s) or stdin; records without a label are\n"
		"left out and counted.\n"
		"\n"
		"  -p, --pred FIELD       prediction field to score (repeat, or A,B,C)\n"
		"  -l, --label FIELD      label field (default: label)\n"
		"      --by FIELD         also score each value of FIELD (repeat, up to %d);\n"
		"                         two or more also print their agreement table\n"
		"      --split VALUE      only records whose split field is VALUE (default: all)\n"
		"      --split-field F    the split field (default: split)\n"
		"  -B, --bootstrap N      resamples for the percentile intervals, 0 = none\n"
		"                         (default: 1000)\n"
		"      --level L          confidence level of the intervals (default: 0.95)\n"
		"      --seed N           seed of the resamples (default: 1)\n"
		"      --positive C       class of precision, recall and F1 (default: 1)\n"
		"      --classes A,B,...  class names; string labels are mapped to their index\n"
		"  -w, --weights FIELD    mean of this weight vector per group (e.g. p_mmoe_w)\n"
		"  -t, --types A,B,...    names of the weights (default: R,U,S)\n"
		"      --counts FIELD     counts of each value of FIELD (string, integer or\n"
		"                         boolean, e.g. a chosen expert) per group\n"
		"      --confusion        print the confusion matrix of each method\n"
		"      --diff FIELD       also each method minus FIELD (one of -p), with paired\n"
		"                         bootstrap intervals\n"
		"  -F, --format FMT       table (default), tsv, md or json\n"
		"      --plot DIR         write gnuplot charts (PNG and SVG, with their data\n"
		"                         and scripts) into DIR\n"
		"  -o, --output FILE      write the report to FILE (atomic) instead of stdout\n"
		"  -q, --quiet            no summary line on stderr\n"
		"  -h, --help             this help\n"
		"  -V, --version          version\n"
		"\n"
		"Exit status: 0 ok, 1 bad data, 2 usage or I/O error (also: --plot without gnuplot).\n",
		MAXBY);
}

static void add_methods(const char *arg)
{
	size_t n;
	char **v = cli_split(arg, ',', &n);
	if (n == 0) {
		free(v);
		cli_field("--pred", "");
	}
	opt.methods = xrealloc(opt.methods, opt.M + n, sizeof *opt.methods);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < opt.M; j++)
			if (!strcmp(opt.methods[j], v[i]))
				cli_usage("option -p: field '%s' given twice", v[i]);
		opt.methods[opt.M++] = v[i];
	}
	free(v);   /* the strings stay: they live in one block owned by methods */
}

int main(int argc, char **argv)
{
	enum { OPT_BY = 256, OPT_SPLIT, OPT_SPLIT_FIELD, OPT_LEVEL, OPT_SEED, OPT_POSITIVE, OPT_CLASSES, OPT_CONFUSION, OPT_PLOT, OPT_DIFF,
		OPT_COUNTS };
	static const struct option opts[] = {
		{ "pred", required_argument, NULL, 'p' },
		{ "label", required_argument, NULL, 'l' },
		{ "by", required_argument, NULL, OPT_BY },
		{ "split", required_argument, NULL, OPT_SPLIT },
		{ "split-field", required_argument, NULL, OPT_SPLIT_FIELD },
		{ "bootstrap", required_argument, NULL, 'B' },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "positive", required_argument, NULL, OPT_POSITIVE },
		{ "classes", required_argument, NULL, OPT_CLASSES },
		{ "weights", required_argument, NULL, 'w' },
		{ "types", required_argument, NULL, 't' },
		{ "counts", required_argument, NULL, OPT_COUNTS },
		{ "confusion", no_argument, NULL, OPT_CONFUSION },
		{ "diff", required_argument, NULL, OPT_DIFF },
		CLI_OPT_FORMAT,
		{ "plot", required_argument, NULL, OPT_PLOT },
		CLI_OPT_OUTPUT, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{ NULL, 0, NULL, 0 },
	};
	static const cli_moved moved[] = {
		{ 'b', "is now --pred-b elsewhere; to group by a field use --by" },
		{ 's', "is now --seed elsewhere; for the split use --split" },
		{ 0, NULL },
	};
	const char *types_arg = "R,U,S";
	cli_init(argc, argv, "mmoe-eval");
	int c;
	while ((c = cli_getopt(argc, argv, opts, moved)) != -1) {
		switch (c) {
		case 'p': add_methods(optarg); break;
		case 'l': opt.label = cli_field("--label", optarg); break;
		case OPT_BY:
			if (opt.nby == MAXBY)
				cli_usage("option --by: at most %d fields", MAXBY);
			for (int i = 0; i < opt.nby; i++)
				if (!strcmp(opt.by[i], optarg))
					cli_usage("option --by: field '%s' given twice", optarg);
			opt.by[opt.nby++] = cli_field("--by", optarg);
			break;
		case OPT_SPLIT: opt.split = optarg; break;
		case OPT_SPLIT_FIELD: opt.split_field = cli_field("--split-field", optarg); break;
		case 'B': opt.bootstrap = (int)cli_int("--bootstrap", optarg, 0, 1000000); break;
		case OPT_LEVEL: opt.level = cli_double("--level", optarg, 0.5, 0.9999); break;
		case OPT_SEED: opt.seed = cli_u64("--seed", optarg); break;
		case OPT_POSITIVE: opt.positive = (int)cli_int("--positive", optarg, 0, 1 << 20); break;
		case OPT_CLASSES:
			opt.classes = cli_split(optarg, ',', &opt.nclasses);
			if (opt.nclasses == 0 || opt.nclasses > MAXCLASSES)
				cli_usage("option --classes: expected 1 to %d names", MAXCLASSES);
			break;
		case 'w': opt.weights = optarg; break;
		case 't': types_arg = optarg; break;
		case OPT_COUNTS: opt.counts = optarg; break;
		case OPT_CONFUSION: opt.confusion = 1; break;
		case OPT_DIFF: opt.diff = optarg; break;
		case 'F':
			if (!strcmp(optarg, "table")) opt.format = FMT_TABLE;
			else if (!strcmp(optarg, "tsv")) opt.format = FMT_TSV;
			else if (!strcmp(optarg, "md")) opt.format = FMT_MD;
			else if (!strcmp(optarg, "json")) opt.format = FMT_JSON;
			else cli_usage("option --format: '%s' is not table, tsv, md or json", optarg);
			break;
		case OPT_PLOT: opt.plot = optarg; break;
		case 'o': opt.out_path = optarg; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (opt.M == 0)
		cli_usage("at least one -p FIELD is required");
	if (opt.diff) {
		for (opt.ref = 0; opt.ref < opt.M && strcmp(opt.methods[opt.ref], opt.diff); opt.ref++)
			;
		if (opt.ref == opt.M)
			cli_usage("option --diff: '%s' is not one of the -p fields", opt.diff);
	}
	opt.types = cli_split(types_arg, ',', &opt.ntypes);
	if (opt.nclasses && (size_t)opt.positive >= opt.nclasses)
		cli_usage("option --positive: class %d, but --classes names %zu", opt.positive, opt.nclasses);
	if (opt.plot && !(gnuplot_bin = find_gnuplot()))
		cli_die(MM_EXIT_USAGE, "--plot needs gnuplot: '%s' not found%s "
				"(Debian package gnuplot-nox; or set MMOE_GNUPLOT)",
				getenv("MMOE_GNUPLOT") && *getenv("MMOE_GNUPLOT") ? getenv("MMOE_GNUPLOT") : "gnuplot",
				getenv("MMOE_GNUPLOT") && strchr(getenv("MMOE_GNUPLOT"), '/') ? "" : " on PATH");

	d.pred = xrealloc(NULL, opt.M, sizeof *d.pred);
	memset(d.pred, 0, opt.M * sizeof *d.pred);
	if (opt.nclasses) {
		d.C = (int)opt.nclasses;
	}
	int nin = argc - optind;
	for (int f = 0; f < (nin ? nin : 1); f++)
		read_input(nin ? argv[optind + f] : "-");

	mm_err e;
	if (d.n == 0) {
		mm_errf(&e, MM_EVALUE, "no labelled records to evaluate (%llu read, %llu without \"%s\"%s%s%s)",
				(unsigned long long)d.records, (unsigned long long)d.unlabelled, opt.label,
				opt.split ? ", " : "", opt.split ? "others not in split " : "",
				opt.split ? opt.split : "");
		cli_die_err(&e);
	}
	/* Without tensors or --classes, the classes are those seen. */
	if (!d.c_from && !opt.nclasses) {
		int mx = 1;
		for (size_t i = 0; i < d.n; i++) {
			if (d.y[i] > mx)
				mx = d.y[i];
			for (size_t m = 0; m < opt.M; m++)
				if (d.pred[m][i] > mx)
					mx = d.pred[m][i];
		}
		if (mx >= MAXCLASSES) {
			mm_errf(&e, MM_ELIMIT, "class %d seen: more than the %d classes supported "
					"(labels and classes must be 0..C-1)", mx, MAXCLASSES);
			cli_die_err(&e);
		}
		d.C = mx + 1;
	}
	check_ranges();
	if (opt.positive >= d.C)
		cli_usage("option --positive: class %d, but the data has %d classes", opt.positive, d.C);
	if (opt.weights && opt.ntypes != d.K && strcmp(types_arg, "R,U,S"))
		cli_usage("option --types: %zu names for %zu weights in \"%s\"", opt.ntypes, d.K, opt.weights);

	order_groups();
	mm_rng root;
	mm_rng_seed(&root, opt.seed);
	add_block(-1, 0, &root);
	for (int b = 0; b < opt.nby; b++)
		for (size_t i = 0; i < d.by[b].vals.n; i++)
			add_block(b, d.by[b].order[i], &root);

	if (opt.out_path) {
		if (mm_atomic_open(&out_at, opt.out_path, &e) != MM_OK)
			cli_die_err(&e);
		out = out_at.f;
	} else {
		out = stdout;
	}
	switch (opt.format) {
	case FMT_TABLE: print_human(false); break;
	case FMT_MD: print_human(true); break;
	case FMT_TSV: print_tsv(); break;
	case FMT_JSON: print_json(); break;
	}
	if (opt.out_path && mm_atomic_commit(&out_at, &e) != MM_OK)
		cli_die_err(&e);
	if (opt.plot)
		plot_all();
	if (!cli_quiet && (opt.format != FMT_TABLE || opt.out_path)) {
		char desc[1024];
		describe(desc, sizeof desc);
		fprintf(stderr, "%s: %s\n", cli_prog, desc);
	}
	return cli_finish();
}
