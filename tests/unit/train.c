/* train.c — the training recipe of lib/train.h: the model takes the loaded
 * data's shapes and names, the same seed gives the same weights, --init
 * copies by name and restarts the head when the classes differ, the data
 * fingerprint follows the records, and the predictor gives, record by
 * record, the probabilities of mm_net_predict on the loaded set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rng.h"
#include "tap.h"
#include "train.h"

static char dir[] = "/tmp/mmoe-train.XXXXXX";

/* n records: x [3] drawn from seed, label = x0 + x1 > 0 (or "A"/"B"/"C" by
 * x0 for str), the first 3/4 train, the rest val. */
static void write_data(const char *path, int n, uint64_t seed, bool str)
{
	mm_err e;
	mm_writer *w;
	mm_rng g;
	mm_rng_seed(&g, seed);
	if (mm_writer_open(&w, path, 1, &e) != MM_OK)
		exit(2);
	for (int i = 0; i < n; i++) {
		float x[3];
		for (int k = 0; k < 3; k++)
			x[k] = 2.0f * (float)mm_rng_uniform(&g) - 1.0f + (float)k;
		char id[16];
		snprintf(id, sizeof id, "r%d", i);
		mm_rec *r = mm_rec_new();
		mm_rec_set_str(r, "id", id, &e);
		mm_rec_set_str(r, "split", i < 3 * n / 4 ? "train" : "val", &e);
		if (str)
			mm_rec_set_str(r, "label", x[0] < -0.3f ? "A" : x[0] < 0.3f ? "B" : "C", &e);
		else
			mm_rec_set_int(r, "label", x[0] + x[1] - 1 > 0, &e);
		mm_rec_set_vec(r, "x", x, 3, &e);
		mm_writer_put(w, r, &e);
		mm_rec_free(r);
	}
	mm_writer_close(w, &e);
}

static mm_status load(const char *path, const mm_load_params *p, mm_loaded *ld, mm_err *e)
{
	mm_reader *rd;
	mm_status st = mm_reader_open(&rd, path, e);
	if (st == MM_OK) {
		st = mm_load(ld, rd, p, e);
		mm_reader_close(rd);
	}
	return st;
}

/* The loader's parameters: field x, from init (may be NULL). */
static void params(mm_load_params *p, const mm_model *init)
{
	mm_load_params_default(p);
	p->nfeat = 1;
	p->feat[0] = "x";
	p->init = init;
	p->init_name = "init.mm";
}

/* Load path, build, start (from init if given) and fit for 2 epochs. */
static mm_model *train(const char *path, const mm_train_arch *a, uint64_t seed, const mm_model *init,
		mm_train_init_report *rep, mm_loaded *ld, mm_err *e)
{
	mm_load_params p;
	params(&p, init);
	mm_model *m = NULL;
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.epochs = 2;
	fp.batch = 16;
	fp.seed = seed;
	if (load(path, &p, ld, e) != MM_OK)
		return NULL;
	fp.select = mm_train_select_default(ld);
	if (mm_train_model_new(&m, a, init, ld, &p, e) != MM_OK ||
			mm_train_start(m, ld, seed, init, "init.mm", false, rep, e) != MM_OK ||
			mm_train_fit(m, ld, &fp, NULL, 0, NULL, e) != MM_OK) {
		mm_model_free(m);
		mm_loaded_free(ld);
		return NULL;
	}
	return m;
}

/* Same parameter values, by name. */
static bool same_params(mm_model *a, mm_model *b, const char *skip_prefix)
{
	size_t na, nb;
	mm_param *pa = mm_net_params(a->net, &na), *pb = mm_net_params(b->net, &nb);
	(void)pb;
	for (size_t i = 0; i < na; i++) {
		if (skip_prefix && strncmp(pa[i].name, skip_prefix, strlen(skip_prefix)) == 0)
			continue;
		mm_param *q = mm_net_param(b->net, pa[i].name);
		if (!q || q->n != pa[i].n || memcmp(q->w, pa[i].w, q->n * sizeof(float)) != 0)
			return false;
	}
	return na == nb;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 2;
	char d1[64], d2[64], d3[64];
	snprintf(d1, sizeof d1, "%s/d1.zst", dir);
	snprintf(d2, sizeof d2, "%s/d2.zst", dir);
	snprintf(d3, sizeof d3, "%s/d3.zst", dir);
	write_data(d1, 200, 1, false);
	write_data(d2, 200, 2, false);
	write_data(d3, 200, 1, true);
	mm_err e;
	mm_train_arch a = { .arch = MM_ARCH_EXPERT };
	mm_net_spec_default(&a.spec);
	a.spec.proj = 8;
	a.spec.hidden = 8;
	a.spec.nmod = 5; /* ignored: the data decides */
	mm_loaded ld;

	mm_model *m1 = train(d1, &a, 7, NULL, NULL, &ld, &e);
	ok(m1 != NULL, "build, start and fit: %s", m1 ? "ok" : e.msg);
	if (!m1)
		return tap_done();
	ok(m1->spec.nmod == 1 && m1->spec.dims[0] == 3 && m1->spec.nclass == 2 &&
			!strcmp(m1->feat[0], "x") && !strcmp(m1->target, "label") &&
			!strcmp(m1->classes[1], "1"), "the model takes the data's inputs, classes and names");
	ok(m1->n_train == 150 && m1->n_val == 50 && m1->fit.epochs == 2 && m1->epochs_run == 2 &&
			m1->fit.on_epoch == NULL && m1->init == NULL, "the model records its sets, fit and outcome");
	near(m1->mean[0][2], 2, 0.1, "standardisation fitted on the training set (x2 around 2)");

	/* the predictor on the val records gives mm_net_predict's rows on the loaded val set */
	mm_load_set *va = &ld.set[MM_SET_VAL];
	float *P = malloc(va->d.n * 2 * sizeof *P);
	ok(P && mm_net_predict(m1->net, &va->d, P, &e) == MM_OK, "predict the loaded val set");
	mm_predictor *pr;
	ok(mm_predictor_new(&pr, m1, 8, &e) == MM_OK, "a predictor of 8 rows");
	mm_reader *rd;
	mm_rec *r;
	size_t k = 0, nb = 0, same = 0;
	mm_rec *batch[8];
	mm_reader_open(&rd, d1, &e);
	bool annot = true;
	for (;;) {
		mm_status st = mm_reader_next(rd, &r, &e);
		if (st == MM_OK && mm_rec_field_is(r, "split", "train")) {
			mm_rec_free(r);
			continue;
		}
		if (st == MM_OK) {
			mm_predictor_set(pr, nb, r, "m1", NULL, &e);
			batch[nb++] = r;
		}
		if (nb == 8 || (st != MM_OK && nb)) {
			mm_predictor_run(pr, nb, &e);
			for (size_t j = 0; j < nb; j++, k++) {
				mm_tensor t;
				int64_t c;
				annot &= mm_predictor_annotate(pr, j, batch[j], "p", "p_class", "p_label", &e) == MM_OK;
				annot &= mm_rec_vec(batch[j], "p", 2, &t, &e) == MM_OK &&
					mm_rec_int(batch[j], "p_class", &c, &e) == MM_OK &&
					c == (t.data[1] > t.data[0]) && !mm_rec_get(batch[j], "p_label");
				same += k < va->d.n && fabsf(t.data[0] - P[2 * k]) <= 1e-6f &&
					fabsf(t.data[1] - P[2 * k + 1]) <= 1e-6f;
				mm_tensor_free(&t);
				mm_rec_free(batch[j]);
			}
			nb = 0;
		}
		if (st != MM_OK)
			break;
	}
	mm_reader_close(rd);
	ok(k == va->d.n && same == k, "the predictor, batch by batch, gives the rows of the loaded set "
			"(%zu of %zu within 1e-6)", same, k);
	ok(annot, "annotate: probabilities, their argmax, no label for int classes");
	ok(mm_predictor_set(pr, 8, NULL, "m1", NULL, &e) == MM_EUSAGE, "a row beyond the batch: refused");
	mm_predictor_free(pr);
	free(P);
	uint64_t hash1 = m1->data_hash;
	mm_loaded_free(&ld);

	mm_model *m1b = train(d1, &a, 7, NULL, NULL, &ld, &e);
	ok(m1b && same_params(m1, m1b, NULL) && m1b->data_hash == hash1, "same seed and data: same weights");
	mm_loaded_free(&ld);
	mm_model *m1c = train(d1, &a, 8, NULL, NULL, &ld, &e);
	ok(m1c && !same_params(m1, m1c, NULL), "another seed: other weights");
	mm_loaded_free(&ld);
	mm_model *m2 = train(d2, &a, 7, NULL, NULL, &ld, &e);
	ok(m2 && m2->data_hash != hash1, "other records: another data fingerprint");
	mm_loaded_free(&ld);

	/* --init: same classes, every parameter from init before training; 0
	 * epochs would keep them, so compare right after the start */
	mm_train_init_report rep;
	mm_load_params p;
	params(&p, m1);
	mm_model *mi;
	ok(load(d2, &p, &ld, &e) == MM_OK && mm_train_model_new(&mi, &a, m1, &ld, &p, &e) == MM_OK &&
			mm_train_start(mi, &ld, 99, m1, "init.mm", false, &rep, &e) == MM_OK, "start from init");
	ok(same_params(mi, m1, NULL) && !rep.head_reset && !strcmp(mi->init, "init.mm") &&
			mi->mean[0][0] == m1->mean[0][0], "init: its weights, standardisation and name");
	mm_model_free(mi);
	mm_loaded_free(&ld);
	p.target = "label";
	ok(load(d3, &p, &ld, &e) == MM_OK && mm_train_model_new(&mi, &a, m1, &ld, &p, &e) == MM_OK &&
			mm_train_start(mi, &ld, 99, m1, "init.mm", false, &rep, &e) == MM_OK,
			"start from init with 3 string classes");
	ok(rep.head_reset && mi->spec.nclass == 3 && same_params(mi, m1, mm_model_output_node(mi)),
			"other classes: the head starts afresh, the rest is init's");
	mm_model_free(mi);
	mm_loaded_free(&ld);

	/* the transformer takes no sparse field; a spec the data breaks is a usage error */
	a.arch = MM_ARCH_TRANSFORMER;
	a.ts = (mm_transformer_spec){ .width = 6, .depth = 1, .heads = 4, .ffn = 8 };
	p.init = NULL;
	p.tokens = true;
	ok(load(d1, &p, &ld, &e) == MM_OK && mm_train_model_new(&mi, &a, NULL, &ld, &p, &e) == MM_EUSAGE &&
			strstr(e.msg, "--arch transformer"), "a bad transformer spec: %s", e.msg);
	mm_loaded_free(&ld);

	mm_model_free(m1);
	mm_model_free(m1b);
	mm_model_free(m1c);
	mm_model_free(m2);
	unlink(d1);
	unlink(d2);
	unlink(d3);
	rmdir(dir);
	return tap_done();
}
