/* Unit tests of lib/unipred: folds, margin, balancing, import parsing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "stream.h"
#include "tap.h"
#include "unipred.h"
#include "util.h"

static void test_folds(void)
{
	enum { N = 103, K = 5 };
	int y[N], f1[N], f2[N], f3[N];
	for (int i = 0; i < N; i++)
		y[i] = i < 71 ? 0 : i < 97 ? 1 : 2; /* 71 / 26 / 6 */
	mm_err e;
	ok(mm_unipred_folds(y, N, 3, K, 42, f1, &e) == MM_OK, "folds: ok");
	mm_unipred_folds(y, N, 3, K, 42, f2, &e);
	mm_unipred_folds(y, N, 3, K, 43, f3, &e);
	ok(!memcmp(f1, f2, sizeof f1), "folds: same seed, same folds");
	ok(memcmp(f1, f3, sizeof f1) != 0, "folds: another seed, other folds");
	int size[K] = { 0 }, per[K][3] = { { 0 } }, bad = 0;
	for (int i = 0; i < N; i++) {
		if (f1[i] < 0 || f1[i] >= K)
			bad++;
		else {
			size[f1[i]]++;
			per[f1[i]][y[i]]++;
		}
	}
	ok(!bad, "folds: all in range");
	int smin = N, smax = 0;
	for (int k = 0; k < K; k++) {
		smin = size[k] < smin ? size[k] : smin;
		smax = size[k] > smax ? size[k] : smax;
	}
	ok(smax - smin <= 1, "folds: sizes differ by at most 1 (%d..%d)", smin, smax);
	int strat = 1;
	int cnt[3] = { 71, 26, 6 };
	for (int c = 0; c < 3; c++)
		for (int k = 0; k < K; k++)
			if (per[k][c] < cnt[c] / K || per[k][c] > (cnt[c] + K - 1) / K)
				strat = 0;
	ok(strat, "folds: stratified (each class floor/ceil of count/K per fold)");
	ok(mm_unipred_folds(y, 4, 3, K, 1, f1, &e) == MM_EVALUE && strstr(e.msg, "fewer than the 5 folds"),
		"folds: n < k is an error: %s", e.msg);
	ok(mm_unipred_folds(y, N, 3, 1, 1, f1, &e) == MM_EVALUE, "folds: k = 1 is an error");
	y[7] = 3;
	ok(mm_unipred_folds(y, N, 3, K, 1, f1, &e) == MM_EVALUE && strstr(e.msg, "item 7"),
		"folds: label out of range names the item: %s", e.msg);
}

static void test_probs(void)
{
	float x[3] = { 1, 2, 3 };
	mm_vec_softmax(x, 3);
	double z = exp(1) + exp(2) + exp(3);
	near(x[0], exp(1) / z, 1e-6, "softmax [0]");
	near(x[2], exp(3) / z, 1e-6, "softmax [2]");
	float big[2] = { -10000, -15.171911f }; /* a MUStARD sentinel */
	mm_vec_softmax(big, 2);
	ok(big[0] == 0 && big[1] == 1, "softmax of a -10000 sentinel: %g %g", big[0], big[1]);
	float p[3] = { 2, 1, 1 };
	mm_err e;
	ok(mm_unipred_normalise(p, 3, &e) == MM_OK && fabsf(p[0] - 0.5f) < 1e-7, "normalise");
	float q[2] = { 0.5f, -0.1f };
	ok(mm_unipred_normalise(q, 2, &e) == MM_EVALUE, "normalise: negative is an error: %s", e.msg);
	float zz[2] = { 0, 0 };
	ok(mm_unipred_normalise(zz, 2, &e) == MM_EVALUE, "normalise: zero sum is an error");
	float t[3] = { 0.3f, 0.4f, 0.3f };
	ok(mm_vec_argmax(t, 3) == 1, "argmax");
	float tie[2] = { 0.5f, 0.5f };
	ok(mm_vec_argmax(tie, 2) == 0, "argmax: ties go to the lowest index");
	float m2[2] = { 0.45f, 0.55f };
	near(mm_unipred_margin(m2, 2), 0.1, 1e-6, "margin binary");
	float m3[3] = { 0.2f, 0.5f, 0.3f };
	near(mm_unipred_margin(m3, 3), 0.2, 1e-6, "margin multiclass: top - second");
	float un[2] = { 3, 1 };
	near(mm_unipred_margin(un, 2), 0.5, 1e-6, "margin normalises");
	near(mm_unipred_margin(tie, 2), 0, 0, "margin of a tie is 0");
}

static void test_balance(void)
{
	mm_err e;
	mm_balance_report r;
	/* 10 predictions, 1 positive: b = 0.2 forces the top 2 by P(1). */
	float pp[10] = { 0.1f, 0.6f, 0.45f, 0.2f, 0.3f, 0.05f, 0.45f, 0.1f, 0.0f, 0.3f };
	int c[10], want[10] = { 0, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
	for (int i = 0; i < 10; i++)
		c[i] = pp[i] > 0.5f;
	ok(mm_unipred_balance(pp, c, 10, 0.2, &r, &e) == MM_OK, "balance up: ok");
	ok(!memcmp(c, want, sizeof c), "balance up: top 2 by P(1), tie to the earlier");
	ok(r.direction == 1 && r.k == 2 && r.changed == 1 && r.pos_before == 1 && r.pos_after == 2,
		"balance up: report (dir %d k %zu changed %zu %zu->%zu)", r.direction, r.k, r.changed,
		r.pos_before, r.pos_after);
	/* 10 predictions, 9 positive: the bottom 2 become negative. */
	float pn[10] = { 0.9f, 0.8f, 0.55f, 0.7f, 0.6f, 0.4f, 0.55f, 0.9f, 0.99f, 0.6f };
	int want2[10] = { 1, 1, 1, 1, 1, 0, 0, 1, 1, 1 };
	for (int i = 0; i < 10; i++)
		c[i] = pn[i] > 0.5f;
	mm_unipred_balance(pn, c, 10, 0.2, &r, &e);
	ok(!memcmp(c, want2, sizeof c), "balance down: bottom 2 by P(1), tie to the later");
	ok(r.direction == -1 && r.changed == 1 && r.pos_after == 8, "balance down: report");
	/* Within [b, 1-b]: nothing. */
	for (int i = 0; i < 10; i++)
		c[i] = i < 3;
	mm_unipred_balance(pn, c, 10, 0.2, &r, &e);
	ok(r.direction == 0 && r.changed == 0 && c[0] == 1 && c[3] == 0, "balance: 30%% positive, no change");
	/* exactly b*n positive is enough */
	for (int i = 0; i < 10; i++)
		c[i] = i < 2;
	mm_unipred_balance(pn, c, 10, 0.2, &r, &e);
	ok(r.direction == 0, "balance: exactly 20%% positive is enough");
	c[0] = 2;
	ok(mm_unipred_balance(pn, c, 10, 0.2, &r, &e) == MM_EVALUE, "balance: non-binary class is an error");
	ok(mm_unipred_balance(pn, c, 10, 0.7, &r, &e) == MM_EVALUE, "balance: b > 0.5 is an error");
}

static const char *names[] = { "No", "Yes" };

static mm_status parse(const char *s, const mm_import_opts *o, mm_import *im, mm_err *e)
{
	return mm_import_parse(s, strlen(s), "f.json", o, im, e);
}

static void test_import_json(void)
{
	mm_import_opts o = { .class_names = names, .nclass_names = 2, .class_from = MM_IMPORT_CLASS_PRED };
	mm_import im;
	mm_err e;
	const char *mustard =
		"{\n \"1_60\": {\"logits\": {\"Yes\": -1.2461845, \"No\": -0.43368447, \"yes\": -10000, \"no\": -10000}, \"pred\": 0},\n"
		" \"1_70\": {\"logits\": {\"Yes\": -9.9, \"No\": -14.4, \"yes\": -10000, \"no\": -10000}, \"pred\": 1},\n"
		" \"1_1470\": {\"logits\": {\"Yes\": -10000, \"No\": -15.17, \"yes\": -10000, \"no\": -10000}, \"pred\": null},\n"
		" \"2_5\": {\"logits\": {\"Yes\": -1, \"No\": -2}, \"pred\": 0}\n}\n";
	ok(parse(mustard, &o, &im, &e) == MM_OK, "import: MUStARD-style object parses");
	ok(im.n == 4 && im.nclass == 2 && !strcmp(im.format, "JSON object"), "import: 4 entries, 2 classes, %s", im.format);
	mm_import_entry *a = mm_import_find(&im, "1_60");
	double z = exp(-1.2461845) + exp(-0.43368447);
	ok(a && a->p && a->cls == 0, "import: 1_60 class 0");
	near(a ? a->p[1] : 0, exp(-1.2461845) / z, 1e-6, "import: P(Yes) = softmax over the named classes");
	a = mm_import_find(&im, "1_1470");
	ok(a && !a->p && a->cls == -1, "import: null pred = no prediction");
	ok(im.null_pred == 1, "import: null pred counted");
	a = mm_import_find(&im, "2_5");
	ok(a && a->cls == 0 && im.pred_differs == 1, "import: pred followed where it differs from argmax");
	ok(!mm_import_find(&im, "nope"), "import: unknown id not found");
	mm_import_free(&im);

	o.class_from = MM_IMPORT_CLASS_ARGMAX;
	ok(parse(mustard, &o, &im, &e) == MM_OK, "import argmax: parses");
	a = mm_import_find(&im, "1_1470");
	ok(a && a->p && a->cls == 0, "import argmax: null pred gets the argmax");
	a = mm_import_find(&im, "2_5");
	ok(a && a->cls == 1, "import argmax: class is the argmax");
	mm_import_free(&im);

	mm_import_opts plain = { .class_from = MM_IMPORT_CLASS_PRED };
	ok(parse(mustard, &plain, &im, &e) == MM_EUSAGE && strstr(e.msg, "--import-classes"),
		"import: named logits without class names: %s", e.msg);

	const char *jsonl =
		"{\"id\": \"a\", \"probs\": [0.2, 0.3, 0.5]}\n"
		"\n"
		"{\"id\": \"b\", \"logits\": [0, 0, 0]}\n"
		"{\"id\": 7, \"probs\": [2, 1, 1], \"pred\": 2}\n";
	ok(parse(jsonl, &plain, &im, &e) == MM_OK, "import: JSON Lines parses (%s)", e.msg);
	ok(im.n == 3 && im.nclass == 3 && !strcmp(im.format, "JSON Lines"), "import: JSONL 3 entries, 3 classes");
	a = mm_import_find(&im, "a");
	ok(a && a->cls == 2 && fabsf(a->p[0] - 0.2f) < 1e-7, "import: JSONL probs");
	a = mm_import_find(&im, "b");
	ok(a && fabsf(a->p[1] - 1.0f / 3) < 1e-6 && a->cls == 0, "import: JSONL logits softmax");
	a = mm_import_find(&im, "7");
	ok(a && fabsf(a->p[0] - 0.5f) < 1e-6 && a->cls == 2, "import: integer id, probs normalised, pred");
	mm_import_free(&im);

	const char *one = "{\"id\": \"x\", \"probs\": [0.9, 0.1]}";
	ok(parse(one, &plain, &im, &e) == MM_OK && im.n == 1 && !strcmp(im.format, "JSON Lines"),
		"import: a single JSON Lines line");
	mm_import_free(&im);
	const char *arr = "[{\"id\": \"x\", \"probs\": [0.9, 0.1]}, {\"id\": \"y\", \"probs\": [0.1, 0.9]}]";
	ok(parse(arr, &plain, &im, &e) == MM_OK && im.n == 2 && mm_import_find(&im, "y")->cls == 1,
		"import: JSON array");
	mm_import_free(&im);

	/* errors */
	ok(parse("{\"id\":\"a\",\"probs\":[0.5,0.5]}\n{\"id\":\"a\",\"probs\":[0.5,0.5]}\n", &plain, &im, &e) == MM_EVALUE
		&& strstr(e.msg, "\"a\" appears twice"), "import: duplicate id: %s", e.msg);
	ok(parse("{\"id\":\"a\",\"probs\":[0.5,0.5]}\n{\"id\":\"b\",\"probs\":[0.2,0.3,0.5]}\n", &plain, &im, &e) == MM_EVALUE
		&& strstr(e.msg, "line 2 (id \"b\")") && strstr(e.msg, "3 values, but 2 classes"),
		"import: a row of another length: %s", e.msg);
	ok(parse("{\"id\":\"a\",\"probs\":[0.5,0.5]}\n{\"id\":\"b\",\"probs\":[0.5,0.5]\n", &plain, &im, &e) == MM_ECORRUPT
		&& strstr(e.msg, "line 2"), "import: bad JSON line: %s", e.msg);
	ok(parse("{\"a\": {\"probs\": [0.5, 0.5], \"pred\": 2}}", &plain, &im, &e) == MM_EVALUE
		&& strstr(e.msg, "pred"), "import: pred out of range: %s", e.msg);
	ok(parse("{\"a\": {\"probs\": [0.5, 0.5], \"pred\": \"yes\"}}", &plain, &im, &e) == MM_ETYPE,
		"import: pred of the wrong type: %s", e.msg);
	ok(parse("{\"a\": {\"score\": [0.5, 0.5]}}", &plain, &im, &e) == MM_MISSING
		&& strstr(e.msg, "entry \"a\""), "import: no logits/probs: %s", e.msg);
	ok(parse("{\"a\": {\"probs\": [0.5, -0.5]}}", &plain, &im, &e) == MM_EVALUE,
		"import: negative probability: %s", e.msg);
	ok(parse("{\"a\": {\"probs\": [0.5, \"x\"]}}", &plain, &im, &e) == MM_ETYPE,
		"import: non-numeric probability: %s", e.msg);
	ok(parse("{\"a\": {\"logits\": {\"Yes\": 1}}}", &o, &im, &e) == MM_MISSING && strstr(e.msg, "\"No\""),
		"import: missing named class: %s", e.msg);
	ok(parse("{\n\"a\": {\"probs\": [0.5, 0.5]},\n", &plain, &im, &e) == MM_ECORRUPT,
		"import: truncated JSON: %s", e.msg);
	ok(parse("  \n", &plain, &im, &e) == MM_ECORRUPT, "import: empty file");
	ok(parse("{}", &plain, &im, &e) == MM_EVALUE, "import: no predictions: %s", e.msg);
}

/* The default class rule, named ids, classes only, the counted skips and
 * their threshold, NaN as Python writes it, and the join. */
static void test_import_checks(void)
{
	mm_import im;
	mm_err e;
	mm_import_opts o = { .id_key = "image_id", .max_bad = MM_IMPORT_MAX_BAD };
	const char *pt =
		"{\"image_id\": \"2_1\", \"logits\": [0.1, -0.3], \"pred\": 1, \"target\": 1}\n"
		"{\"image_id\": \"2_2\", \"logits\": [-0.1, 0.3], \"pred\": 0, \"target\": 1}\n"
		"{\"image_id\": \"2_3\", \"logits\": [1, 0], \"pred\": null}\n";
	ok(parse(pt, &o, &im, &e) == MM_OK && im.n == 3, "checks: --id-key image_id (%s)", e.msg);
	mm_import_entry *a = mm_import_find(&im, "2_1");
	ok(a && a->cls == 0 && im.pred_differs == 2, "checks: the scores win over a disagreeing pred, counted");
	a = mm_import_find(&im, "2_3");
	ok(a && !a->p && im.null_pred == 1, "checks: an explicit null pred is no prediction");
	mm_import_free(&im);
	o.id_key = NULL;
	ok(parse(pt, &o, &im, &e) == MM_MISSING && strstr(e.msg, "--id-key image_id"),
		"checks: without --id-key, the message says what to give: %s", e.msg);

	const char *classes = "{\"a\": {\"pred\": 1}, \"b\": {\"pred\": 0}, \"c\": {\"pred\": null}}";
	ok(parse(classes, &o, &im, &e) == MM_OK && im.nclass == 2 && im.class_only == 2,
		"checks: a file of classes only (%s)", e.msg);
	a = mm_import_find(&im, "a");
	ok(a && a->p && a->p[0] == 0 && a->p[1] == 1 && a->cls == 1, "checks: a class only is one-hot");
	mm_import_free(&im);
	o.nclass = 3;
	ok(parse(classes, &o, &im, &e) == MM_OK && im.nclass == 3, "checks: classes only, class count given");
	mm_import_free(&im);
	o.nclass = 0;

	/* 1 row of 3 among 2-class rows, 1 NaN, 1 id twice: 4 unusable of 103 */
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(buf + len, cap - len, "{\"id\": \"r%d\", \"logits\": [0, %d]}\n", i, i % 3 - 1);
	len += (size_t)snprintf(buf + len, cap - len, "{\"id\": \"x\", \"logits\": [0, 1, 2]}\n"
		"{\"id\": \"y\", \"logits\": [NaN, 1]}\n{\"id\": \"r5\", \"logits\": [1, 0]}\n");
	ok(mm_import_parse(buf, len, "f.jsonl", &o, &im, &e) == MM_EVALUE &&
		strstr(e.msg, "4 of 103 entries unusable (1 of the wrong length, 1 with a non-finite value, 2 under an id"),
		"checks: above --max-bad, refused with the counts: %s", e.msg);
	o.max_bad = 0.05;
	ok(mm_import_parse(buf, len, "f.jsonl", &o, &im, &e) == MM_OK && im.n == 99 && im.nclass == 2 &&
		im.bad_length == 1 && im.nonfinite == 1 && im.dup_ids == 1 && im.dup_entries == 2 &&
		!mm_import_find(&im, "r5") && !mm_import_find(&im, "y") && strstr(im.first_bad, "line 101 (id \"x\")"),
		"checks: below it, skipped and counted (%s)", im.first_bad);

	mm_import im2;
	const char *words = "{\"id\": \"NaN\", \"logits\": [0, 1], \"note\": \"Infinity \\\" NaN\"}\n"
		"{\"id\": \"b\", \"logits\": [-Infinity, 1]}\n";
	mm_import_opts o2 = { .max_bad = 0.5 };
	ok(parse(words, &o2, &im2, &e) == MM_OK && im2.n == 1 && mm_import_find(&im2, "NaN") &&
		im2.nonfinite == 1, "checks: NaN and Infinity inside strings stay strings; a bare -Infinity is non-finite (%s)",
		e.msg);
	mm_import_free(&im2);

	const char *ids[4] = { "r1", NULL, "zz", "r2" };
	float P[8];
	int cls[4];
	mm_join_report jr;
	const char *names[1] = { "f.jsonl" };
	ok(mm_import_join(&im, 1, names, ids, 4, P, cls, 0.99, &jr, &e) == MM_OK && jr.matched == 2 &&
		jr.no_id == 1 && jr.absent == 1 && jr.unknown == 97 && cls[0] == 0 && cls[1] == -1 && cls[3] == 1,
		"join: matched, no id, absent, unknown counted");
	ok(mm_import_join(&im, 1, names, ids, 4, P, cls, 0.5, &jr, &e) == MM_EVALUE &&
		strstr(e.msg, "97 of the 99 ids"), "join: above --max-unmatched: %s", e.msg);
	const char *other[2] = { "q1", "q2" };
	ok(mm_import_join(&im, 1, names, other, 2, P, cls, 1, &jr, &e) == MM_EVALUE &&
		strstr(e.msg, "another data set"), "join: no id matches: %s", e.msg);
	mm_import_free(&im);
	free(buf);
}

static void test_import_stream(void)
{
	mm_err e;
	FILE *f = tmpfile();
	mm_writer *w;
	ok(f && mm_writer_fdopen(&w, f, "tmp", 3, &e) == MM_OK, "stream: writer");
	const char *ids[4] = { "r0", "r1", "r2", "r3" };
	for (int i = 0; i < 4; i++) {
		mm_rec *r = mm_rec_new();
		mm_rec_set_str(r, "id", ids[i], &e);
		if (i != 2) {
			float p[3] = { 0.1f * (float)i, 0.5f, 0.3f };
			mm_rec_set_vec(r, "pv", p, 3, &e);
		}
		if (i == 3)
			mm_rec_set_int(r, "pv_class", 0, &e);
		mm_writer_put(w, r, &e);
		mm_rec_free(r);
	}
	mm_writer_close(w, &e);
	long len = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)len);
	ok(fread(buf, 1, (size_t)len, f) == (size_t)len, "stream: read back");
	fclose(f);
	mm_import_opts o = { .field = "pv", .class_from = MM_IMPORT_CLASS_PRED };
	mm_import im;
	ok(mm_import_parse(buf, (size_t)len, "s.zst", &o, &im, &e) == MM_OK, "stream: parses (%s)", e.msg);
	ok(im.n == 3 && im.no_field == 1 && im.nclass == 3 && !strcmp(im.format, "record stream"),
		"stream: 3 entries, 1 record without the field");
	mm_import_entry *a = mm_import_find(&im, "r1");
	ok(a && a->cls == 1 && fabsf(a->p[1] - 0.5f / 0.9f) < 1e-6, "stream: probabilities normalised");
	a = mm_import_find(&im, "r3");
	ok(a && a->cls == 0 && im.pred_differs == 1, "stream: pv_class followed");
	mm_import_free(&im);
	o.field = NULL;
	ok(mm_import_parse(buf, (size_t)len, "s.zst", &o, &im, &e) == MM_EUSAGE, "stream: field needed: %s", e.msg);
	ok(mm_import_parse(buf, (size_t)len / 2, "s.zst", &(mm_import_opts){ .field = "pv" }, &im, &e) != MM_OK,
		"stream: truncated stream is an error: %s", e.msg);
	free(buf);
}

int main(void)
{
	test_folds();
	test_probs();
	test_balance();
	test_import_json();
	test_import_checks();
	test_import_stream();
	return tap_done();
}
