/* loader.c — the dataset loader: token fields and grids keep their shape
 * (rows, lengths, padding, H and W), splits and targets are counted,
 * standardisation runs over valid rows only, and bad records are named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "sparse.h"
#include "tap.h"

static char dir[] = "/tmp/mmoe-loader.XXXXXX";

/* A record: id, split (NULL: none), label (< 0: none), x [T, D] of
 * values base, base+1, ..., and g with the given 3-D shape (H 0: none). */
static mm_rec *rec(const char *id, const char *split, int label, int T, int D, float base,
		int H, int W)
{
	mm_err e;
	mm_rec *r = mm_rec_new();
	float v[64];
	for (int i = 0; i < 64; i++)
		v[i] = base + (float)i;
	int64_t sx[2] = { T, D }, sg[3] = { H, W, 2 };
	mm_rec_set_str(r, "id", id, &e);
	if (split)
		mm_rec_set_str(r, "split", split, &e);
	if (label >= 0)
		mm_rec_set_int(r, "label", label, &e);
	mm_rec_set_tensor(r, "x", v, sx, 2, &e);
	if (H)
		mm_rec_set_tensor(r, "g", v, sg, 3, &e);
	return r;
}

static void write_stream(const char *path, mm_rec **r, int n)
{
	mm_err e;
	mm_writer *w;
	if (mm_writer_open(&w, path, 1, &e) != MM_OK)
		exit(2);
	for (int i = 0; i < n; i++) {
		mm_writer_put(w, r[i], &e);
		mm_rec_free(r[i]);
	}
	mm_writer_close(w, &e);
}

/* mm_load (ld) or mm_load_all (la, when ld is NULL) over path. */
static mm_status load_any(const char *path, mm_load_params *p, mm_loaded *ld, mm_loaded_all *la,
		mm_err *e)
{
	mm_reader *rd;
	mm_status st = mm_reader_open(&rd, path, e);
	if (st != MM_OK)
		return st;
	st = ld ? mm_load(ld, rd, p, e) : mm_load_all(la, rd, p, e);
	mm_reader_close(rd);
	return st;
}

static mm_status load(const char *path, mm_load_params *p, mm_loaded *ld, mm_err *e)
{
	return load_any(path, p, ld, NULL, e);
}

static mm_status load_all(const char *path, mm_load_params *p, mm_loaded_all *la, mm_err *e)
{
	return load_any(path, p, NULL, la, e);
}

/* Every record in order: splits, filters, labels, dense and sparse rows. */
static void test_all(const char *path)
{
	mm_err e;
	/* id, split, label (-1 none), skip flag; x = (i, 10 i) or sparse i at column 3 i */
	static const struct { const char *id, *split; int label; bool skip; } R[7] = {
		{ "a", "train", 0, false }, { "b", "train", 1, false }, { "c", "val", 1, false },
		{ "d", "test", -1, false }, { "e", "train", -1, false }, { "f", NULL, 0, false },
		{ "g", "train", 0, true },
	};
	for (int sparse = 0; sparse < 2; sparse++) {
		mm_rec *r[7];
		for (int i = 0; i < 7; i++) {
			r[i] = mm_rec_new();
			mm_rec_set_str(r[i], "id", R[i].id, &e);
			if (R[i].split)
				mm_rec_set_str(r[i], "split", R[i].split, &e);
			if (R[i].label >= 0)
				mm_rec_set_int(r[i], "label", R[i].label, &e);
			mm_rec_set_bool(r[i], "skip", R[i].skip, &e);
			float v[2] = { (float)i, 10.0f * (float)i };
			uint32_t idx = 3 * (uint32_t)i;
			mm_sparse sv = { .dim = 64, .nnz = 1, .idx = &idx, .val = v + 1 };
			if (sparse)
				mm_rec_set_sparse(r[i], "x", &sv, &e);
			else
				mm_rec_set_vec(r[i], "x", v, 2, &e);
		}
		write_stream(path, r, 7);
		mm_load_params p;
		mm_load_params_default(&p);
		p.nfeat = 1;
		p.feat[0] = "x";
		p.excl[0] = "skip";
		p.nexcl = 1;
		mm_loaded_all la;
		ok(load_all(path, &p, &la, &e) == MM_OK && la.n == 7, "all: every record kept (%s)",
				sparse ? "sparse" : "dense");
		bool order = true, train = true, y = true, x = true;
		static const bool want_train[7] = { 1, 1, 0, 0, 1, 0, 0 };
		for (size_t i = 0; i < la.n && la.n == 7; i++) {
			order &= !strcmp(mm_rec_id(la.rec[i]), R[i].id);
			train &= la.train[i] == want_train[i];
			y &= la.y[i] == R[i].label;
			if (sparse)
				x &= la.S.ptr[i + 1] - la.S.ptr[i] == 1 && la.S.idx[la.S.ptr[i]] == 3 * i &&
					la.S.val[la.S.ptr[i]] == 10.0f * (float)i;
			else
				x &= la.X[2 * i] == (float)i && la.X[2 * i + 1] == 10.0f * (float)i;
		}
		ok(order, "all: records in stream order");
		ok(train, "all: train is split \"train\" passing --exclude-flag, label or not");
		ok(y, "all: labels, -1 where absent");
		ok(x, "all: feature row i is record i's, as read");
		ok(la.kind == (sparse ? MM_FEAT_SPARSE : MM_FEAT_DENSE) && la.dim == (sparse ? 64u : 2u) &&
				la.nclass == 2 && la.ntrain == 2, "all: kind, dimension, 2 classes, 2 training rows");
		mm_loaded_all_free(&la);
		p.nclasses = 3;
		ok(load_all(path, &p, &la, &e) == MM_EVALUE &&
				!strcmp(e.msg, "class 2 has no training record (2 training records, 3 classes)"),
				"all: a class count with an absent class: %s", e.msg);
		p.nclasses = 0;
		p.nfeat = 0;
		p.target = NULL;
		ok(load_all(path, &p, &la, &e) == MM_OK && la.n == 7 && la.y[3] == -1 && la.y[0] == -1 &&
				la.train[1] && !la.train[6] && la.nclass == 0, "all: records and splits only");
		mm_loaded_all_free(&la);
	}
	/* the odd record is named; a label beyond the class count; no record */
	mm_rec *r[4];
	for (int i = 0; i < 4; i++) {
		char id[8];
		snprintf(id, sizeof id, "r%d", i);
		r[i] = mm_rec_new();
		mm_rec_set_str(r[i], "id", id, &e);
		mm_rec_set_str(r[i], "split", "train", &e);
		mm_rec_set_int(r[i], "label", i, &e);
		float v[3] = { 1, 2, 3 };
		mm_rec_set_vec(r[i], "x", v, i == 2 ? 2 : 3, &e);
	}
	write_stream(path, r, 4);
	mm_load_params p;
	mm_load_params_default(&p);
	p.nfeat = 1;
	p.feat[0] = "x";
	mm_loaded_all la;
	ok(load_all(path, &p, &la, &e) == MM_EVALUE && strstr(e.msg, "record 2 (id \"r2\"): field \"x\": expected 3 values, got 2"),
			"all: the record of the odd dimension: %s", e.msg);
	p.nclasses = 3;
	ok(load_all(path, &p, &la, &e) == MM_EVALUE && !strcmp(e.msg,
			"record 3 (id \"r3\"): field \"label\": label 3 out of range [0, 3) (see --classes)"),
			"all: a label beyond the class count: %s", e.msg);
	write_stream(path, r, 0);
	ok(load_all(path, &p, &la, &e) == MM_EVALUE && !strcmp(e.msg, "no records in the input"),
			"all: an empty stream: %s", e.msg);
	p.tokens = true;
	ok(load_all(path, &p, &la, &e) == MM_EUSAGE, "all: no token fields");
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	char good[64], bad[64];
	snprintf(good, sizeof good, "%s/good.zst", dir);
	snprintf(bad, sizeof bad, "%s/bad.zst", dir);
	mm_rec *r[6] = {
		rec("a", "train", 0, 3, 2, 0, 2, 2),
		rec("b", "train", 1, 1, 2, 10, 1, 3),
		rec("c", "val", 1, 2, 2, 20, 2, 1),
		rec("d", "test", 0, 5, 2, 0, 1, 1), /* not trained on, but counts for T */
		rec("e", "train", -1, 2, 2, 0, 1, 1), /* no target */
		rec("f", NULL, 1, 2, 2, 0, 1, 1),
	};
	write_stream(good, r, 6);

	mm_load_params p;
	mm_load_params_default(&p);
	p.nfeat = 2;
	p.feat[0] = "x";
	p.feat[1] = "g";
	p.tokens = true;
	mm_loaded ld;
	mm_err e;
	ok(load(good, &p, &ld, &e) == MM_OK, "tokens: loads");
	mm_load_set *tr = &ld.set[MM_SET_TRAIN], *va = &ld.set[MM_SET_VAL];
	ok(tr->d.n == 2 && va->d.n == 1 && ld.nread == 6 && ld.nother == 2 && ld.nnotarget == 1,
			"train 2, val 1; 6 read, 2 other splits, 1 without target");
	ok(ld.kind[0] == MM_FEAT_TOKENS && ld.T[0] == 5 && ld.dim[0] == 2,
			"x: token rows [5, 2]: T the most rows of any record (a test one)");
	ok(ld.T[1] == 4 && ld.dim[1] == 2, "g: a grid [H, W, 2] is H*W rows of 2 (T %d)", ld.T[1]);
	ok(tr->len[0][0] == 3 && tr->len[0][1] == 1 && va->len[0][0] == 2, "each record's valid rows");
	ok(tr->grid_h[1] && tr->grid_h[1][0] == 2 && tr->grid_w[1][0] == 2 && tr->grid_h[1][1] == 1 &&
			tr->grid_w[1][1] == 3, "a grid's H and W are kept per record");
	ok(tr->grid_h[0] == NULL, "no grid layout for a [T, D] field");
	const float *x = tr->X[0];
	ok(x[0] == 0 && x[5] == 5 && x[6] == 0 && x[9] == 0 && x[10] == 10 && x[11] == 11 && x[12] == 0,
			"rows in place, each record padded with zeros to T");
	ok(tr->y[0] == 0 && tr->y[1] == 1 && ld.nclass == 2 && !ld.target_is_str, "int targets, 2 classes");

	/* standardisation over the valid training rows only: x rows (0,1) (2,3)
	 * (4,5) (10,11) have means 4, 5 */
	mm_transformer_spec ts = { .nmod = 2, .in = { { 5, 2 }, { 4, 2 } }, .width = 8, .depth = 1,
		.heads = 2, .ffn = 8, .nclass = 2 };
	mm_model *m;
	ok(mm_model_new_transformer(&m, &ts, &e) == MM_OK, "a transformer model of the loaded shapes");
	ok(mm_load_standardize(&ld, m, NULL, &e) == MM_OK, "standardise");
	near(m->mean[0][0], 4, 1e-6, "mean over the valid rows, padding excluded");
	near(m->mean[0][1], 5, 1e-6, "second feature");
	ok(x[6] == 0 && x[7] == 0 && x[12] == 0, "padding stays zero after standardisation");
	near(x[0] * m->std[0][0] + m->mean[0][0], 0, 1e-5, "valid rows standardised");
	mm_loaded_free(&ld);

	/* one record for the model */
	m->feat[0] = strdup("x");
	m->feat[1] = strdup("g");
	float *X[2] = { calloc(2 * 10, sizeof(float)), calloc(2 * 8, sizeof(float)) };
	int L0[2], L1[2], *L[2] = { L0, L1 };
	mm_rec *q = rec("q", "test", 0, 2, 2, 4, 2, 2);
	ok(mm_load_record(m, q, 1, X, L, "m.mm", "in.zst", &e) == MM_OK && L0[1] == 2 && L1[1] == 4,
			"mm_load_record: a record's rows and lengths into slot 1");
	near(X[0][10], 0, 1e-6, "standardised with the model's statistics (4 - mean 4)");
	mm_rec_free(q);
	q = rec("long", "test", 0, 6, 2, 0, 1, 1);
	ok(mm_load_record(m, q, 0, X, L, "m.mm", "in.zst", &e) == MM_ELIMIT &&
			strstr(e.msg, "in.zst: record 0 (id \"long\"): field \"x\": 6 rows, more than the 5 the model takes (a feature of model m.mm)"),
			"more rows than the model takes: %s", e.msg);
	mm_rec_free(q);
	q = rec("wide", "test", 0, 1, 3, 0, 1, 1);
	ok(mm_load_record(m, q, 0, X, L, "m.mm", NULL, &e) == MM_EVALUE &&
			strstr(e.msg, "record 0 (id \"wide\"): field \"x\": rows of 3 values, expected 2"),
			"rows of another width: %s", e.msg);
	mm_rec_free(q);
	free(X[0]);
	free(X[1]);
	mm_model_free(m);

	/* the MLP's view: flattened, and records of other sizes are named */
	p.tokens = false;
	p.nfeat = 1;
	ok(load(good, &p, &ld, &e) == MM_EVALUE && strstr(e.msg, "field \"x\"") && strstr(e.msg, "record"),
			"flattened, records of different sizes: %s", e.msg);

	/* bad records */
	mm_rec *b[3] = { rec("a", "train", 0, 2, 2, 0, 0, 0), rec("b", "train", 1, 2, 2, 0, 0, 0),
		rec("c", "val", 1, 2, 3, 0, 0, 0) };
	write_stream(bad, b, 3);
	p.tokens = true;
	ok(load(bad, &p, &ld, &e) == MM_EVALUE &&
			!strcmp(e.msg, "record 2 (id \"c\"): field \"x\": rows of 3 values, but the records before have 2"),
			"a token field whose width changes: %s", e.msg);
	p.max_tokens = 1;
	ok(load(bad, &p, &ld, &e) == MM_ELIMIT &&
			!strcmp(e.msg, "record 0 (id \"a\"): field \"x\": 2 rows, more than --max-tokens 1"),
			"over max_tokens: %s", e.msg);
	p.max_tokens = 0;
	p.nfeat = 2;
	ok(load(bad, &p, &ld, &e) != MM_OK && strstr(e.msg, "record 0 (id \"a\")") && strstr(e.msg, "\"g\""),
			"a missing field: %s", e.msg);
	p.nfeat = 1;
	p.where_f[0] = "split";
	p.where_v[0] = "nothing";
	p.nwhere = 1;
	ok(load(bad, &p, &ld, &e) == MM_EVALUE &&
			!strcmp(e.msg, "no training records (split \"train\" passing the filters) among 3 records"),
			"no training record: %s", e.msg);
	unlink(good);
	unlink(bad);
	test_all(good);
	rmdir(dir);
	return tap_done();
}
