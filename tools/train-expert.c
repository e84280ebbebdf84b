/* mmoe-train-expert — train a multimodal expert (or the router) on a stream,
 * or add a trained model's class probabilities to every record (--predict).
 *
 * Training: records with split == "train" are the training set, split ==
 * "val" the validation set (checkpoint selection, early stopping); other
 * records are ignored.  The features (-f) of every kept record are loaded
 * into memory, standardised with the training mean/std (stored in the
 * model), and the net of lib/nn.h (per-modality projections, fusion, MLP
 * head) is trained with AdamW, warm-up + cosine.  The model file (lib/model.h)
 * is written atomically.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "model.h"
#include "nn.h"
#include "record.h"
#include "rng.h"
#include "rus.h"
#include "sparse.h"
#include "stream.h"
#include "util.h"

#define MAXM 16

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mmoe-train-expert -f FIELD [-f FIELD...] -o MODEL [options] [FILE]\n"
		"       mmoe-train-expert --predict -m MODEL [--as NAME] [-m MODEL --as NAME...] [FILE]\n"
		"Train a multimodal classifier on the records with split \"train\", selecting the\n"
		"checkpoint on split \"val\"; or add a model's class probabilities to every record.\n"
		"\n"
		"Data:\n"
		"  -f, --feature FIELD      feature tensor field, one projection each (repeatable)\n"
		"      --target FIELD       field to predict, int or string classes (default: label)\n"
		"      --classes A,B,...    class names in order (string targets: fixes the order;\n"
		"                           default: sorted values seen in training)\n"
		"      --where FIELD=VALUE  keep only records whose FIELD equals VALUE (repeatable)\n"
		"      --exclude-flag FIELD skip records where the bool FIELD is true (repeatable)\n"
		"      --split-field FIELD  field holding train/val/test (default: split)\n"
		"Mixture gate (instead of a classifier of --target):\n"
		"      --experts P,P,...    train a gate w = softmax(net) over these expert\n"
		"                           probability fields for the mixture's likelihood\n"
		"                           log sum_k w_k p_k(y), y the int class in --target;\n"
		"                           the model's classes are the experts (or --classes)\n"
		"      --heldout FIELD      bool field marking the train records that the experts\n"
		"                           and their baseline did not see; only those train the\n"
		"                           gate, and none is an error (default: heldout)\n"
		"      --tag-weight X       add X times the cross-entropy of the gate against the\n"
		"                           --tag field (a class name), and 1-X times the mixture\n"
		"                           loss: 0 the mixture alone, 1 a tag router (default: 0)\n"
		"      --tag FIELD          the tag of --tag-weight (default: rus)\n"
		"Architecture (taken from the --init model when given):\n"
		"      --proj N             projection width per modality, 0 = none (default: 256)\n"
		"      --act relu|gelu      activation (default: relu)\n"
		"      --fusion MODE        concat, concat-prod or bilinear (default: concat-prod)\n"
		"      --bilinear-dim N     bilinear outputs per modality pair (default: 32)\n"
		"      --hidden N           head width (default: 256)\n"
		"      --layers N           hidden layers in the head (default: 1)\n"
		"      --dropout P          dropout rate (default: 0.1)\n"
		"Training:\n"
		"      --init MODEL         start from MODEL's weights and standardisation (same\n"
		"                           features; the head is re-initialised if the classes differ;\n"
		"                           parameters are matched by name)\n"
		"      --init-partial       with --init: parameters missing from MODEL keep their\n"
		"                           initial values, MODEL's unused ones are ignored (a warning)\n"
		"      --epochs N           (default: 20)\n"
		"      --batch N            (default: 64)\n"
		"      --lr X               peak learning rate of AdamW (default: 0.001)\n"
		"      --wd X               decoupled weight decay (default: 0.01)\n"
		"      --warmup F           warm-up as a fraction of all steps (default: 0.1)\n"
		"      --min-lr F           cosine floor as a fraction of --lr (default: 0)\n"
		"      --clip X             gradient-norm clip, 0 = off (default: 1)\n"
		"      --loss ce|focal      (default: ce)\n"
		"      --alpha X --gamma X  focal loss parameters (default: 1, 2)\n"
		"      --class-weights W    auto (n / (C n_c)), none, or w0,w1,... (default: none)\n"
		"      --select METRIC      f1, macro_f1, acc or loss on val (default: f1 for two\n"
		"                           int classes, macro_f1 otherwise)\n"
		"      --patience N         stop after N epochs without improvement, 0 = never (default: 5)\n"
		"  -s, --seed N             seed of initialisation, shuffling and dropout (default: 1)\n"
		"  -j, --threads N          threads, same results for any N (default: 1)\n"
		"  -o, --output MODEL       model file to write (atomic)\n"
		"Prediction:\n"
		"      --predict            stream in, stream out with NAME [C] and NAME_class added\n"
		"                           (and NAME_label, the class name, for string targets)\n"
		"  -m, --model MODEL        model to apply (repeatable, one --as each)\n"
		"      --as NAME            output field of the preceding -m (default: p_<model basename>)\n"
		"      --force              write binary records to a terminal\n"
		"Maintenance:\n"
		"      --info MODEL         print the model's description as JSON (no tensors)\n"
		"      --resave MODEL       load and validate MODEL, write it again to -o (at the\n"
		"                           MMOE_ZSTD_LEVEL level); the content is unchanged\n"
		"\n"
		"  -q, --quiet              no training log on stderr\n"
		"  -h, --help               this help\n"
		"  -V, --version            version\n"
		"\n"
		"Exit status: 0 ok, 1 bad data or failed training, 2 usage or I/O error.\n");
}

/* ---- options ---- */
static const char *feats[MAXM];
static int nfeat;
static const char *target = "label", *classes_arg, *split_field = "split";
static const char *where_f[MAXM], *where_v[MAXM];
static int nwhere;
static const char *excl[MAXM];
static int nexcl;
static const char *out_path, *init_path;
static bool init_partial;
static const char *models[MAXM], *as_names[MAXM];
static int nmodels;
static char **experts; /* the mixture gate's expert fields (lives until exit) */
static int nexperts;
static const char *heldout = "heldout", *tag_field = "rus";
static float tag_weight;

/* ---- growable float/int buffers ---- */
typedef struct fbuf {
	float *p;
	size_t n, cap;
} fbuf;

static void fpush(fbuf *b, const float *x, size_t n)
{
	if (b->n + n > b->cap) {
		size_t c = b->cap ? b->cap : 4096;
		while (c < b->n + n)
			c *= 2;
		float *q = realloc(b->p, c * sizeof *q);
		if (!q)
			cli_die(MM_EXIT_USAGE, "out of memory loading features");
		b->p = q;
		b->cap = c;
	}
	memcpy(b->p + b->n, x, n * sizeof *x);
	b->n += n;
}

typedef struct ibuf {
	int *p;
	size_t n, cap;
} ibuf;

static void ipush(ibuf *b, int v)
{
	if (b->n == b->cap) {
		size_t c = b->cap ? b->cap * 2 : 1024;
		int *q = realloc(b->p, c * sizeof *q);
		if (!q)
			cli_die(MM_EXIT_USAGE, "out of memory");
		b->p = q;
		b->cap = c;
	}
	b->p[b->n++] = v;
}

/* Does the record pass --where and --exclude-flag? */
static bool keep_record(mm_rec *r)
{
	mm_err e;
	for (int i = 0; i < nexcl; i++) {
		bool v;
		if (mm_rec_flag(r, excl[i], &v, &e) != MM_OK)
			cli_die_err(&e);
		if (v)
			return false;
	}
	for (int i = 0; i < nwhere; i++)
		if (!mm_rec_field_is(r, where_f[i], where_v[i]))
			return false;
	return true;
}

/* ---- string classes ---- */
static char **cls_names;
static int ncls;
static bool cls_fixed;

static int class_of_str(const char *s)
{
	for (int c = 0; c < ncls; c++)
		if (strcmp(cls_names[c], s) == 0)
			return c;
	return -1;
}

static int add_class(const char *s)
{
	char **q = realloc(cls_names, (size_t)(ncls + 1) * sizeof *q);
	if (!q || !(q[ncls] = strdup(s)))
		cli_die(MM_EXIT_USAGE, "out of memory");
	cls_names = q;
	return ncls++;
}

/* ---- training log ---- */
static const char *metric_label;
static int log_epochs;

static void on_epoch(void *ctx, const mm_fit_epoch *ep)
{
	(void)ctx;
	if (cli_quiet)
		return;
	if (isnan(ep->val_metric))
		fprintf(stderr, "%s: epoch %*d/%d  loss %.4f  lr %.2e  %.1fs\n", cli_prog,
				log_epochs >= 100 ? 3 : 2, ep->epoch, log_epochs, ep->train_loss, ep->lr, ep->seconds);
	else
		fprintf(stderr, "%s: epoch %*d/%d  loss %.4f  val_loss %.4f  val_%s %.4f  lr %.2e  %.1fs%s\n",
				cli_prog, log_epochs >= 100 ? 3 : 2, ep->epoch, log_epochs, ep->train_loss,
				ep->val_loss, metric_label, ep->val_metric, ep->lr, ep->seconds, ep->best ? "  *" : "");
}

/* ---- the mixture gate ---- */
static size_t gate_nclass; /* the experts' number of classes: the first record's */

/* Whether the record is one of the train records held out from the experts'
 * training (its bool field --heldout is true). */
static bool is_heldout(mm_rec *r)
{
	mm_err e;
	bool v;
	if (mm_rec_flag(r, heldout, &v, &e) != MM_OK)
		cli_die_err(&e);
	return v;
}

/* The gate's view of a record: the int class y of --target and each expert's
 * probability of it, pushed onto py, and with --tag-weight its tag's class,
 * onto tags.  false when the record has no label. */
static bool gate_record(mm_rec *r, int *y, fbuf *py, ibuf *tags)
{
	mm_err e;
	char where[200];
	int64_t v;
	mm_status st = mm_rec_label(r, target, 0, &v, &e);
	if (st == MM_MISSING)
		return false;
	if (st != MM_OK)
		cli_die_err(&e);
	float p[MM_MIXTURE_MAXK];
	for (int k = 0; k < nexperts; k++) {
		mm_tensor t;
		if (mm_rec_vec(r, experts[k], gate_nclass, &t, &e) != MM_OK)
			cli_die_err(&e);
		if (!gate_nclass)
			gate_nclass = t.n;
		if ((uint64_t)v >= t.n)
			cli_die(MM_EXIT_DATA, "%s: field \"%s\": class %lld, but expert \"%s\" gives %zu probabilities",
					mm_rec_where(r, where, sizeof where), target, (long long)v, experts[k], t.n);
		for (size_t j = 0; j < t.n; j++)
			if (!(t.data[j] >= 0 && t.data[j] <= 1))
				cli_die(MM_EXIT_DATA, "%s: field \"%s\": element %zu is %g, not a probability",
						mm_rec_where(r, where, sizeof where), experts[k], j, t.data[j]);
		p[k] = t.data[v];
		mm_tensor_free(&t);
	}
	if (tag_weight > 0) {
		const char *s;
		if (mm_rec_str(r, tag_field, &s, &e) != MM_OK)
			cli_die_err(&e);
		int c = class_of_str(s);
		if (c < 0)
			cli_die(MM_EXIT_DATA, "%s: field \"%s\": tag \"%s\" is not one of the gate's classes "
					"(name them with --classes)", mm_rec_where(r, where, sizeof where), tag_field, s);
		ipush(tags, c);
	}
	fpush(py, p, (size_t)nexperts);
	*y = (int)v;
	return true;
}

/* ---- sparse features ----
 * A sparse feature enters the net as T (compact column, value) pairs
 * (mm_colmap_pairs): the first projection is a sparse_linear layer over the
 * columns seen in training (sparse.h), whose weights are stored by column.
 * T is the most known non-zeros of any record of the training input
 * (every split), so the same stream can be predicted; a record with more is
 * an error naming it. */
static mm_sparse sp_row;

static mm_status sparse_pairs_of(mm_rec *r, const char *field, const mm_colmap *cm, int T,
		float *out, mm_err *e)
{
	mm_status st = mm_rec_sparse(r, field, &sp_row, e);
	if (st != MM_OK)
		return st;
	size_t k = mm_colmap_pairs(cm, sp_row.idx, sp_row.val, sp_row.nnz, T, out);
	if (k > (size_t)T) {
		char w[200];
		return mm_errf(e, MM_ELIMIT, "%s: field \"%s\": %zu known non-zero values, more than "
				"the %d the model takes (the most of any record it was trained with)",
				mm_rec_where(r, w, sizeof w), field, k, T);
	}
	return MM_OK;
}

/* ---- prediction mode ---- */
typedef struct pmodel {
	mm_model *m;
	const char *as;
	char as_class[512], as_label[512];
	float *X[MM_NET_MAXMOD]; /* batch buffers, standardised */
	float *P;
} pmodel;

#define PBATCH 256

static int predict_main(int argc, char **argv, bool force)
{
	mm_err e;
	pmodel pm[MAXM];
	memset(pm, 0, sizeof pm);
	if (nmodels == 0)
		cli_usage("--predict needs -m MODEL");
	for (int i = 0; i < nmodels; i++) {
		if (mm_model_load(&pm[i].m, models[i], &e) != MM_OK)
			cli_die_err(&e);
		pm[i].as = as_names[i];
		snprintf(pm[i].as_class, sizeof pm[i].as_class, "%s_class", pm[i].as);
		snprintf(pm[i].as_label, sizeof pm[i].as_label, "%s_label", pm[i].as);
		mm_model *m = pm[i].m;
		for (int f = 0; f < m->spec.nmod; f++)
			if (!(pm[i].X[f] = mm_alloc_aligned((size_t)PBATCH * m->spec.dims[f], sizeof(float))))
				cli_die(MM_EXIT_USAGE, "out of memory");
		if (!(pm[i].P = mm_alloc_aligned((size_t)PBATCH * m->spec.nclass, sizeof(float))))
			cli_die(MM_EXIT_USAGE, "out of memory");
		for (int j = 0; j < i; j++)
			if (strcmp(pm[j].as, pm[i].as) == 0)
				cli_usage("--as %s is given twice", pm[i].as);
	}
	for (int i = 0; i < nmodels; i++)   /* no output over id, label, split or a feature read */
		for (int j = 0; j < nmodels; j++)
			cli_output_field("--as", pm[i].as, (const char *const *)pm[j].m->feat,
				(size_t)pm[j].m->spec.nmod);
	if (!out_path)
		cli_check_binary_stdout(force);
	mm_writer *w;
	if (mm_writer_open(&w, out_path, -1, &e) != MM_OK)
		cli_die_err(&e);
	mm_rec *batch[PBATCH];
	int nb = 0;
	uint64_t total = 0;
	int nin = argc - optind;
	for (int fi = 0; fi < (nin ? nin : 1); fi++) {
		mm_reader *rd;
		if (mm_reader_open(&rd, nin ? argv[optind + fi] : "-", &e) != MM_OK)
			goto fail;
		for (;;) {
			mm_rec *r = NULL;
			mm_status st = mm_reader_next(rd, &r, &e);
			if (st != MM_OK && st != MM_EOF) {
				mm_reader_close(rd);
				goto fail;
			}
			if (st == MM_OK) {
				/* features of this record into slot nb of every model */
				for (int i = 0; i < nmodels; i++) {
					mm_model *m = pm[i].m;
					for (int f = 0; f < m->spec.nmod; f++) {
						mm_tensor t;
						size_t d = (size_t)m->spec.dims[f];
						if (m->cols[f]) {
							if (sparse_pairs_of(r, m->feat[f], m->cols[f], (int)d / 2,
									pm[i].X[f] + (size_t)nb * d, &e) != MM_OK) {
								mm_err_prefix(&e, "model %s", models[i]);
								mm_rec_free(r);
								mm_reader_close(rd);
								goto fail;
							}
							continue;
						}
						if (mm_rec_vec(r, m->feat[f], d, &t, &e) != MM_OK) {
							/* bad data, not a bad model: name the input first */
							size_t len = strlen(e.msg);
							snprintf(e.msg + len, sizeof e.msg - len, " (a feature of model %s)",
									models[i]);
							mm_err_prefix(&e, "%s", mm_reader_name(rd));
							mm_rec_free(r);
							mm_reader_close(rd);
							goto fail;
						}
						mm_model_standardize(m, f, t.data, 1, pm[i].X[f] + (size_t)nb * d);
						mm_tensor_free(&t);
					}
				}
				batch[nb++] = r;
			}
			if (nb == PBATCH || (st == MM_EOF && nb > 0)) {
				for (int i = 0; i < nmodels; i++) {
					mm_model *m = pm[i].m;
					mm_dataset ds = { .nmod = m->spec.nmod, .n = (size_t)nb };
					for (int f = 0; f < m->spec.nmod; f++)
						ds.X[f] = pm[i].X[f];
					mm_err pe;
					if (mm_net_predict(m->net, &ds, pm[i].P, &pe) != MM_OK)
						cli_die(MM_EXIT_USAGE, "%s", pe.msg);
				}
				for (int k = 0; k < nb; k++) {
					for (int i = 0; i < nmodels; i++) {
						mm_model *m = pm[i].m;
						int C = m->spec.nclass;
						const float *p = pm[i].P + (size_t)k * C;
						int best = 0;
						for (int c = 1; c < C; c++)
							if (p[c] > p[best])
								best = c;
						if (mm_rec_set_vec(batch[k], pm[i].as, p, (size_t)C, &e) != MM_OK ||
								mm_rec_set_int(batch[k], pm[i].as_class, best, &e) != MM_OK ||
								(m->target_is_str && mm_rec_set_str(batch[k], pm[i].as_label,
									m->classes[best], &e) != MM_OK))
							goto fail;
					}
					if (mm_writer_put(w, batch[k], &e) != MM_OK)
						goto fail;
					mm_rec_free(batch[k]);
					batch[k] = NULL;
				}
				total += (uint64_t)nb;
				nb = 0;
			}
			if (st == MM_EOF)
				break;
		}
		mm_reader_close(rd);
	}
	if (mm_writer_close(w, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet)
		fprintf(stderr, "%s: predicted %llu records with %d model%s\n", cli_prog,
				(unsigned long long)total, nmodels, nmodels > 1 ? "s" : "");
	for (int i = 0; i < nmodels; i++) {
		for (int f = 0; f < MM_NET_MAXMOD; f++)
			free(pm[i].X[f]);
		free(pm[i].P);
		mm_model_free(pm[i].m);
	}
	return cli_finish();
fail:
	mm_writer_abort(w);
	cli_die_err(&e);
}

/* ---- --info: the model's description as one JSON object ---- */

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* A float32 value with the digits it has (0.1f prints as 0.1). */
static json_t *jflt(float v)
{
	char b[32];
	snprintf(b, sizeof b, "%.7g", (double)v);
	return jnum(strtod(b, NULL));
}

static int info_main(const char *path)
{
	mm_err e;
	mm_model *m;
	if (mm_model_load(&m, path, &e) != MM_OK)
		cli_die_err(&e);
	const mm_net_spec *s = &m->spec;
	json_t *o = json_object(), *sp = json_object(), *dims = json_array(), *cl = json_array(),
	       *fe = json_array(), *tr = json_object(), *cw;
	for (int f = 0; f < s->nmod; f++) {
		json_array_append_new(dims, json_integer(s->dims[f]));
		json_t *fo = json_pack("{s:s, s:i}", "name", m->feat[f], "dim", s->dims[f]);
		if (m->cols[f]) /* a sparse feature: dim/2 pairs over its training columns */
			json_object_set_new(fo, "sparse", json_pack("{s:I, s:I, s:i}", "dim",
				(json_int_t)m->cols[f]->dim, "columns", (json_int_t)m->cols[f]->m, "pairs", s->dims[f] / 2));
		json_array_append_new(fe, fo);
	}
	for (int c = 0; c < s->nclass; c++)
		json_array_append_new(cl, json_string(m->classes[c]));
	json_object_set_new(sp, "nmod", json_integer(s->nmod));
	json_object_set_new(sp, "dims", dims);
	json_object_set_new(sp, "proj", json_integer(s->proj));
	json_object_set_new(sp, "act", json_string(mm_act_name(s->act)));
	json_object_set_new(sp, "fusion", json_string(mm_fusion_name(s->fusion)));
	json_object_set_new(sp, "bilinear_dim", json_integer(s->bilinear_dim));
	json_object_set_new(sp, "hidden", json_integer(s->hidden));
	json_object_set_new(sp, "layers", json_integer(s->layers));
	json_object_set_new(sp, "nclass", json_integer(s->nclass));
	json_object_set_new(sp, "dropout", jflt(s->dropout));
	const mm_fit_params *p = &m->fit;
	json_object_set_new(tr, "epochs", json_integer(p->epochs));
	json_object_set_new(tr, "batch", json_integer(p->batch));
	json_object_set_new(tr, "lr", jflt(p->lr));
	json_object_set_new(tr, "weight_decay", jflt(p->weight_decay));
	json_object_set_new(tr, "warmup", jflt(p->warmup));
	json_object_set_new(tr, "clip", jflt(p->clip));
	json_object_set_new(tr, "loss", json_string(mm_loss_name(p->loss)));
	json_object_set_new(tr, "alpha", jflt(p->alpha));
	json_object_set_new(tr, "gamma", jflt(p->gamma));
	if (m->class_w) {
		cw = json_array();
		for (int c = 0; c < s->nclass; c++)
			json_array_append_new(cw, jflt(m->class_w[c]));
	} else {
		cw = json_null();
	}
	json_object_set_new(tr, "class_weights", cw);
	json_object_set_new(tr, "select", json_string(mm_select_name(p->select)));
	json_object_set_new(tr, "patience", json_integer(p->patience));
	char seed[24], hash[24];
	snprintf(seed, sizeof seed, "%llu", (unsigned long long)p->seed);
	snprintf(hash, sizeof hash, "%016llx", (unsigned long long)m->data_hash);
	json_object_set_new(tr, "seed", json_string(seed)); /* uint64: a string keeps every digit */
	json_object_set_new(tr, "best_epoch", json_integer(m->best_epoch));
	json_object_set_new(tr, "best_metric", jnum(m->best_metric));
	json_object_set_new(tr, "epochs_run", json_integer(m->epochs_run));
	json_object_set_new(tr, "n_train", json_integer((json_int_t)m->n_train));
	json_object_set_new(tr, "n_val", json_integer((json_int_t)m->n_val));
	json_object_set_new(tr, "init", m->init ? json_string(m->init) : json_null());
	json_object_set_new(o, "format", json_string("mmoe-model"));
	json_object_set_new(o, "version", json_integer(MM_MODEL_VERSION));
	json_object_set_new(o, "spec", sp);
	json_object_set_new(o, "target", json_string(m->target));
	json_object_set_new(o, "target_type", json_string(m->target_is_str ? "str" : "int"));
	json_object_set_new(o, "classes", cl);
	json_object_set_new(o, "features", fe);
	json_object_set_new(o, "train", tr);
	json_object_set_new(o, "data_hash", json_string(hash));
	json_object_set_new(o, "commit", json_string(m->commit));
	json_object_set_new(o, "parameters", json_integer((json_int_t)mm_net_nparams_total(m->net)));
	if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) != 0)
		cli_die(MM_EXIT_USAGE, "error writing standard output");
	putchar('\n');
	json_decref(o);
	mm_model_free(m);
	return cli_finish();
}

/* ---- training ---- */

static void check_nonempty_name(const char *opt, const char *s)
{
	if (!s || !*s)
		cli_usage("%s: empty field name", opt);
}

int main(int argc, char **argv)
{
	mm_net_spec spec;
	mm_net_spec_default(&spec);
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.patience = 5;
	const char *cw_arg = "none", *resave = NULL, *info = NULL;
	int select = -1, threads = 1;
	bool predict = false, force = false, arch_given = false;
	enum { O_CLASSES = 256, O_WHERE, O_EXCL, O_SPLIT, O_PROJ, O_ACT, O_FUSION, O_BILDIM, O_HIDDEN,
		O_LAYERS, O_DROPOUT, O_INIT, O_EPOCHS, O_BATCH, O_LR, O_WD, O_WARMUP, O_MINLR, O_CLIP,
		O_LOSS, O_ALPHA, O_GAMMA, O_CW, O_SELECT, O_PATIENCE, O_PREDICT, O_AS, O_FORCE, O_RESAVE, O_INFO,
		O_INIT_PARTIAL, O_TARGET, O_EXPERTS, O_HELDOUT, O_TAG, O_TAGW };
	static const struct option opts[] = {
		{ "feature", required_argument, NULL, 'f' },
		{ "target", required_argument, NULL, O_TARGET },
		{ "classes", required_argument, NULL, O_CLASSES },
		{ "where", required_argument, NULL, O_WHERE },
		{ "exclude-flag", required_argument, NULL, O_EXCL },
		{ "split-field", required_argument, NULL, O_SPLIT },
		{ "experts", required_argument, NULL, O_EXPERTS },
		{ "heldout", required_argument, NULL, O_HELDOUT },
		{ "tag", required_argument, NULL, O_TAG },
		{ "tag-weight", required_argument, NULL, O_TAGW },
		{ "proj", required_argument, NULL, O_PROJ },
		{ "act", required_argument, NULL, O_ACT },
		{ "fusion", required_argument, NULL, O_FUSION },
		{ "bilinear-dim", required_argument, NULL, O_BILDIM },
		{ "hidden", required_argument, NULL, O_HIDDEN },
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "dropout", required_argument, NULL, O_DROPOUT },
		{ "init", required_argument, NULL, O_INIT },
		{ "init-partial", no_argument, NULL, O_INIT_PARTIAL },
		{ "epochs", required_argument, NULL, O_EPOCHS },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "lr", required_argument, NULL, O_LR },
		{ "wd", required_argument, NULL, O_WD },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "min-lr", required_argument, NULL, O_MINLR },
		{ "clip", required_argument, NULL, O_CLIP },
		{ "loss", required_argument, NULL, O_LOSS },
		{ "alpha", required_argument, NULL, O_ALPHA },
		{ "gamma", required_argument, NULL, O_GAMMA },
		{ "class-weights", required_argument, NULL, O_CW },
		{ "select", required_argument, NULL, O_SELECT },
		{ "patience", required_argument, NULL, O_PATIENCE },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "predict", no_argument, NULL, O_PREDICT },
		{ "model", required_argument, NULL, 'm' },
		{ "as", required_argument, NULL, O_AS },
		{ "force", no_argument, NULL, O_FORCE },
		{ "resave", required_argument, NULL, O_RESAVE },
		{ "info", required_argument, NULL, O_INFO },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const cli_moved moved[] = {
		{ 't', "is now --types elsewhere; for the field to predict use --target" },
		{ 0, NULL },
	};
	cli_init(argc, argv, "mmoe-train-expert");
	int c;
	while ((c = cli_getopt(argc, argv, opts, moved)) != -1) {
		switch (c) {
		case 'f':
			if (nfeat >= MM_NET_MAXMOD)
				cli_usage("at most %d -f fields", MM_NET_MAXMOD);
			check_nonempty_name("-f", optarg);
			feats[nfeat++] = optarg;
			break;
		case O_TARGET: check_nonempty_name("--target", optarg); target = optarg; break;
		case O_CLASSES: classes_arg = optarg; break;
		case O_WHERE: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				cli_usage("option --where: expected FIELD=VALUE, got '%s'", optarg);
			if (nwhere >= MAXM)
				cli_usage("too many --where options");
			*eq = 0;
			where_f[nwhere] = optarg;
			where_v[nwhere++] = eq + 1;
			break;
		}
		case O_EXCL:
			if (nexcl >= MAXM)
				cli_usage("too many --exclude-flag options");
			check_nonempty_name("--exclude-flag", optarg);
			excl[nexcl++] = optarg;
			break;
		case O_SPLIT: check_nonempty_name("--split-field", optarg); split_field = optarg; break;
		case O_EXPERTS: {
			size_t n;
			experts = cli_split(optarg, ',', &n);
			if (n < 2 || n > MM_MIXTURE_MAXK)
				cli_usage("--experts needs 2..%d fields, got %zu", MM_MIXTURE_MAXK, n);
			for (size_t i = 0; i < n; i++)
				check_nonempty_name("--experts", experts[i]);
			nexperts = (int)n;
			break;
		}
		case O_HELDOUT: check_nonempty_name("--heldout", optarg); heldout = optarg; break;
		case O_TAG: check_nonempty_name("--tag", optarg); tag_field = optarg; break;
		case O_TAGW: tag_weight = (float)cli_double("--tag-weight", optarg, 0, 1); break;
		case O_PROJ: spec.proj = (int)cli_int("--proj", optarg, 0, 65536); arch_given = true; break;
		case O_ACT:
			if ((spec.act = mm_act_parse(optarg)) < 0)
				cli_usage("option --act: '%s' is not relu or gelu", optarg);
			arch_given = true;
			break;
		case O_FUSION:
			if ((spec.fusion = mm_fusion_parse(optarg)) < 0)
				cli_usage("option --fusion: '%s' is not concat, concat-prod or bilinear", optarg);
			arch_given = true;
			break;
		case O_BILDIM: spec.bilinear_dim = (int)cli_int("--bilinear-dim", optarg, 1, 4096); arch_given = true; break;
		case O_HIDDEN: spec.hidden = (int)cli_int("--hidden", optarg, 1, 65536); arch_given = true; break;
		case O_LAYERS: spec.layers = (int)cli_int("--layers", optarg, 0, 64); arch_given = true; break;
		case O_DROPOUT: spec.dropout = (float)cli_double("--dropout", optarg, 0, 0.99); arch_given = true; break;
		case O_INIT: init_path = optarg; break;
		case O_INIT_PARTIAL: init_partial = true; break;
		case O_EPOCHS: fp.epochs = (int)cli_int("--epochs", optarg, 1, 1000000); break;
		case O_BATCH: fp.batch = (int)cli_int("--batch", optarg, 1, 1 << 20); break;
		case O_LR: fp.lr = (float)cli_double("--lr", optarg, 1e-12, 99); break;
		case O_WD: fp.weight_decay = (float)cli_double("--wd", optarg, 0, 99); break;
		case O_WARMUP: fp.warmup = (float)cli_double("--warmup", optarg, 0, 1); break;
		case O_MINLR: fp.min_lr_ratio = (float)cli_double("--min-lr", optarg, 0, 1); break;
		case O_CLIP: fp.clip = (float)cli_double("--clip", optarg, 0, 1e9); break;
		case O_LOSS:
			if ((fp.loss = mm_loss_parse(optarg)) < 0)
				cli_usage("option --loss: '%s' is not ce or focal", optarg);
			break;
		case O_ALPHA: fp.alpha = (float)cli_double("--alpha", optarg, 1e-9, 1e9); break;
		case O_GAMMA: fp.gamma = (float)cli_double("--gamma", optarg, 0, 100); break;
		case O_CW: cw_arg = optarg; break;
		case O_SELECT:
			if ((select = mm_select_parse(optarg)) < 0)
				cli_usage("option --select: '%s' is not f1, macro_f1, acc or loss", optarg);
			break;
		case O_PATIENCE: fp.patience = (int)cli_int("--patience", optarg, 0, 1 << 30); break;
		case 's': fp.seed = cli_u64("--seed", optarg); break;
		case 'j': threads = (int)cli_int("--threads", optarg, 1, 256); break;
		case 'o': out_path = optarg; break;
		case O_PREDICT: predict = true; break;
		case 'm':
			if (nmodels >= MAXM)
				cli_usage("at most %d models", MAXM);
			models[nmodels++] = optarg;
			break;
		case O_AS:
			if (nmodels == 0 || as_names[nmodels - 1])
				cli_usage("--as must follow its -m MODEL");
			check_nonempty_name("--as", optarg);
			as_names[nmodels - 1] = optarg;
			break;
		case O_FORCE: force = true; break;
		case O_RESAVE: resave = optarg; break;
		case O_INFO: info = optarg; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	cli_set_threads(threads);
	if (info) {
		if (resave || predict || nfeat || nmodels || out_path || argc > optind)
			cli_usage("--info takes no other option");
		return info_main(info);
	}
	if (resave) {
		mm_err e;
		mm_model *m;
		if (!out_path)
			cli_usage("--resave needs -o MODEL");
		if (predict || nfeat || nmodels || argc > optind)
			cli_usage("--resave takes only -o");
		if (mm_model_load(&m, resave, &e) != MM_OK || mm_model_save(m, out_path, &e) != MM_OK)
			cli_die_err(&e);
		mm_model_free(m);
		return cli_finish();
	}
	if (predict) {
		for (int i = 0; i < nmodels; i++)
			if (!as_names[i]) { /* p_<basename without extension> */
				const char *b = strrchr(models[i], '/');
				b = b ? b + 1 : models[i];
				size_t n = strcspn(b, ".");
				char *s = malloc(n + 3);
				if (!s)
					cli_die(MM_EXIT_USAGE, "out of memory");
				snprintf(s, n + 3, "p_%.*s", (int)n, b);
				as_names[i] = s;
			}
		if (nfeat)
			cli_usage("-f is for training; --predict reads the fields the model names");
		if (argc - optind > 1)
			cli_usage("at most one input file");
		return predict_main(argc, argv, force);
	}
	if (nmodels)
		cli_usage("-m is for --predict (use --init to start from a model)");
	if (!out_path)
		cli_usage("-o MODEL is required");
	if (argc - optind > 1)
		cli_usage("at most one input file");

	mm_err e;
	mm_model *init = NULL;
	if (init_path) {
		if (mm_model_load(&init, init_path, &e) != MM_OK)
			cli_die_err(&e);
		if (nfeat == 0) {
			nfeat = init->spec.nmod;
			for (int f = 0; f < nfeat; f++)
				feats[f] = init->feat[f];
		} else {
			if (nfeat != init->spec.nmod)
				cli_die(MM_EXIT_USAGE, "--init %s: the model has %d feature fields, -f gives %d",
						init_path, init->spec.nmod, nfeat);
			for (int f = 0; f < nfeat; f++)
				if (strcmp(feats[f], init->feat[f]) != 0)
					cli_die(MM_EXIT_USAGE, "--init %s: feature %d is \"%s\" in the model, \"%s\" on the command line",
							init_path, f + 1, init->feat[f], feats[f]);
		}
		if (arch_given && !cli_quiet)
			cli_warn("--init: architecture options are ignored, the model's are used");
		int nclass = spec.nclass;
		spec = init->spec;
		spec.nclass = nclass;
	}
	if (nfeat == 0)
		cli_usage("at least one -f FIELD is required");
	for (int i = 0; i < nfeat; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(feats[i], feats[j]) == 0)
				cli_usage("-f %s is given twice", feats[i]);
	if (classes_arg) {
		size_t n;
		static char **cl; /* lives until exit */
		cl = cli_split(classes_arg, ',', &n);
		if (n < 2)
			cli_usage("--classes needs at least two names");
		for (size_t i = 0; i < n; i++) {
			if (!*cl[i])
				cli_usage("--classes: empty class name");
			if (class_of_str(cl[i]) >= 0)
				cli_usage("--classes: '%s' is given twice", cl[i]);
			add_class(cl[i]);
		}
		cls_fixed = true;
	}
	if (!nexperts && tag_weight > 0)
		cli_usage("--tag-weight is for the mixture gate (--experts)");
	if (nexperts) { /* the mixture gate: its classes are the experts */
		if (fp.loss != MM_LOSS_CE || strcmp(cw_arg, "none") != 0)
			cli_usage("--experts trains for the mixture's likelihood: no --loss focal or --class-weights");
		if (select >= 0 && select != MM_SELECT_LOSS)
			cli_usage("--experts selects the checkpoint by the mixture's loss on val: --select loss only");
		select = MM_SELECT_LOSS;
		for (int k = 0; k < nexperts; k++)
			for (int j = 0; j < k; j++)
				if (strcmp(experts[k], experts[j]) == 0)
					cli_usage("--experts: '%s' is given twice", experts[k]);
		if (cls_fixed && ncls != nexperts)
			cli_usage("--classes names %d classes for %d --experts", ncls, nexperts);
		if (tag_weight > 0 && !classes_arg)
			cli_usage("--tag-weight needs --classes: the tag values that name the experts");
		for (int k = 0; !cls_fixed && k < nexperts; k++)
			add_class(experts[k]);
		cls_fixed = true;
	}

	/* ---- load the data ---- */
	fbuf Xtr[MM_NET_MAXMOD] = { 0 }, Xva[MM_NET_MAXMOD] = { 0 };
	/* sparse features: the rows of the training, validation and other records */
	mm_csr Str[MM_NET_MAXMOD] = { 0 }, Sva[MM_NET_MAXMOD] = { 0 }, Soth[MM_NET_MAXMOD] = { 0 };
	int sparse_f[MM_NET_MAXMOD]; /* -1 unknown yet, 0 dense, 1 sparse */
	for (int f = 0; f < MM_NET_MAXMOD; f++)
		sparse_f[f] = init && f < init->spec.nmod ? init->spec.sparse[f] > 0 : -1;
	ibuf ytr = { 0 }, yva = { 0 };
	fbuf pytr = { 0 }, pyva = { 0 }; /* the gate's p_k(y) per record */
	ibuf tagtr = { 0 }, tagva = { 0 }; /* and its tags, with --tag-weight */
	uint64_t ninsample = 0;
	int dims[MM_NET_MAXMOD] = { 0 };
	mm_dimvote vote[MM_NET_MAXMOD] = { 0 };
	if (init)
		for (int f = 0; f < nfeat; f++)
			dims[f] = init->spec.dims[f];
	int tkind = 0; /* 0 unknown, 1 int, 2 str */
	int64_t maxint = -1;
	uint64_t nread = 0, nfiltered = 0, nnotarget = 0, nother = 0;
	uint64_t htr = 0x6d6d6f652d747231ULL, hva = 0x6d6d6f652d766131ULL;
	mm_reader *rd;
	const char *inp = argc - optind == 1 ? argv[optind] : "-";
	if (mm_reader_open(&rd, inp, &e) != MM_OK)
		cli_die_err(&e);
	mm_rec *r;
	mm_status st;
	while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
		nread++;
		char where[200];
		const msgpack_object *so = mm_rec_get(r, split_field);
		int which = -1; /* 0 train, 1 val */
		if (so && so->type == MSGPACK_OBJECT_STR) {
			if (so->via.str.size == 5 && memcmp(so->via.str.ptr, "train", 5) == 0)
				which = 0;
			else if (so->via.str.size == 3 && memcmp(so->via.str.ptr, "val", 3) == 0)
				which = 1;
		} else if (so && so->type != MSGPACK_OBJECT_NIL) {
			mm_errf(&e, MM_ETYPE, "%s: field \"%s\": expected a string, got %s",
					mm_rec_where(r, where, sizeof where), split_field, mm_obj_typename(so));
			cli_die_err(&e);
		}
		bool other = which < 0 || !keep_record(r);
		/* the gate: a train record the experts saw is in-sample, not for it */
		bool insample = !other && nexperts && which == 0 && !is_heldout(r);
		int y = 0;
		const msgpack_object *to = NULL;
		bool skip = other || insample;
		if (!skip && nexperts)
			skip = !gate_record(r, &y, which ? &pyva : &pytr, which ? &tagva : &tagtr);
		else if (!skip) {
			to = mm_rec_get(r, target);
			skip = !to || to->type == MSGPACK_OBJECT_NIL;
		}
		if (skip) {
			/* not trained on, but its sparse rows count for T */
			for (int f = 0; f < nfeat; f++) {
				const msgpack_object *fo = mm_rec_get(r, feats[f]);
				if (!fo || !mm_obj_is_sparse(fo) || sparse_f[f] == 0)
					continue;
				if (mm_rec_sparse(r, feats[f], &sp_row, &e) != MM_OK ||
						mm_csr_append(&Soth[f], &sp_row, &e) != MM_OK)
					cli_die_err(&e);
			}
			nother += which < 0;
			nfiltered += which >= 0 && other;
			ninsample += insample;
			nnotarget += !other && !insample;
			mm_rec_free(r);
			continue;
		}
		if (nexperts)
			goto features;
		int kind = to->type == MSGPACK_OBJECT_STR ? 2 : 1;
		if (tkind && kind != tkind) {
			mm_errf(&e, MM_ETYPE, "%s: field \"%s\": expected %s like the records before, got %s",
					mm_rec_where(r, where, sizeof where), target,
					tkind == 2 ? "a string" : "an integer", mm_obj_typename(to));
			cli_die_err(&e);
		}
		tkind = kind;
		if (kind == 2) {
			const char *s;
			if (mm_rec_str(r, target, &s, &e) != MM_OK)
				cli_die_err(&e);
			y = class_of_str(s);
			if (y < 0) {
				if (cls_fixed) {
					mm_errf(&e, MM_EVALUE, "%s: field \"%s\": class \"%s\" is not in --classes %s",
							mm_rec_where(r, where, sizeof where), target, s, classes_arg);
					cli_die_err(&e);
				}
				y = add_class(s);
			}
		} else {
			int64_t v;
			if (mm_rec_int(r, target, &v, &e) != MM_OK)
				cli_die_err(&e);
			int lim = cls_fixed ? ncls - 1 : 65535;
			if (v < 0 || v > lim) {
				mm_errf(&e, MM_EVALUE, "%s: field \"%s\": class %lld out of range 0..%d",
						mm_rec_where(r, where, sizeof where), target, (long long)v, lim);
				cli_die_err(&e);
			}
			y = (int)v;
			if (v > maxint)
				maxint = v;
		}
features:
		for (int f = 0; f < nfeat; f++) {
			mm_tensor t;
			if (sparse_f[f] < 0) {
				const msgpack_object *fo = mm_rec_get(r, feats[f]);
				sparse_f[f] = fo && mm_obj_is_sparse(fo);
			}
			if (sparse_f[f]) {
				if (mm_rec_sparse(r, feats[f], &sp_row, &e) != MM_OK)
					cli_die_err(&e);
				if (mm_csr_append(which ? &Sva[f] : &Str[f], &sp_row, &e) != MM_OK) {
					mm_err_prefix(&e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), feats[f]);
					cli_die_err(&e);
				}
				continue;
			}
			if (mm_rec_vec(r, feats[f], (size_t)dims[f], &t, &e) != MM_OK) {
				if (init)
					mm_err_prefix(&e, "--init %s expects %d values", init_path, dims[f]);
				cli_die_err(&e);
			}
			if (!init) { /* the majority decides the dimension, after the last record */
				if (t.n > (1u << 24)) {
					mm_errf(&e, MM_ELIMIT, "%s: field \"%s\": %zu values is too many",
							mm_rec_where(r, where, sizeof where), feats[f], t.n);
					cli_die_err(&e);
				}
				if (mm_dimvote_add(&vote[f], t.n, mm_rec_where(r, where, sizeof where),
							feats[f], &e) != MM_OK) {
					mm_err_prefix(&e, "%s", mm_reader_name(rd));
					cli_die_err(&e);
				}
			}
			fpush(which ? &Xva[f] : &Xtr[f], t.data, t.n);
			mm_tensor_free(&t);
		}
		ipush(which ? &yva : &ytr, y);
		/* fingerprint of the data: ids and targets, train and val apart */
		uint64_t *h = which ? &hva : &htr;
		const char *id = mm_rec_id(r);
		*h = mm_hash64(id ? id : "", id ? strlen(id) : 0, *h);
		int32_t y32 = y;
		*h = mm_hash64(&y32, sizeof y32, *h);
		mm_rec_free(r);
	}
	if (st != MM_EOF)
		cli_die_err(&e);
	for (int f = 0; f < nfeat && !init; f++) {
		size_t d = 0;
		if (mm_dimvote_result(&vote[f], feats[f], &d, &e) == MM_EVALUE) {
			mm_err_prefix(&e, "%s", mm_reader_name(rd));
			cli_die_err(&e);
		}
		dims[f] = (int)d;
	}
	mm_reader_close(rd);
	size_t ntr = ytr.n, nva = yva.n;
	if (nexperts && ntr == 0)
		cli_die(MM_EXIT_DATA, "no held-out training records: the mixture gate trains only on "
				"records of split \"train\" whose bool \"%s\" is true, which the experts and "
				"their baseline must not have seen (train those with --exclude-flag %s); "
				"%llu train records here are not held out: the experts' predictions on them "
				"are in-sample, and a gate trained on those would trust whichever expert "
				"memorised them",
				heldout, heldout, (unsigned long long)ninsample);
	if (nexperts)
		tkind = 2; /* the gate's classes are the experts, by name */
	if (ntr == 0)
		cli_die(MM_EXIT_DATA, "no training records (split \"train\"%s) among %llu records",
				nwhere || nexcl ? " passing the filters" : "", (unsigned long long)nread);

	/* classes */
	bool is_str = tkind == 2;
	if (is_str) {
		if (!cls_fixed) { /* sorted order, remapping the targets */
			int *map = malloc((size_t)ncls * sizeof *map);
			char **sorted = malloc((size_t)ncls * sizeof *sorted);
			if (!map || !sorted)
				cli_die(MM_EXIT_USAGE, "out of memory");
			memcpy(sorted, cls_names, (size_t)ncls * sizeof *sorted);
			for (int i = 1; i < ncls; i++) /* insertion sort: few classes */
				for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
					char *t = sorted[j];
					sorted[j] = sorted[j - 1];
					sorted[j - 1] = t;
				}
			for (int i = 0; i < ncls; i++)
				for (int j = 0; j < ncls; j++)
					if (sorted[j] == cls_names[i])
						map[i] = j;
			for (size_t i = 0; i < ntr; i++)
				ytr.p[i] = map[ytr.p[i]];
			for (size_t i = 0; i < nva; i++)
				yva.p[i] = map[yva.p[i]];
			memcpy(cls_names, sorted, (size_t)ncls * sizeof *sorted);
			free(map);
			free(sorted);
		}
		spec.nclass = ncls;
	} else if (cls_fixed) {
		spec.nclass = ncls;
	} else {
		spec.nclass = maxint + 1 < 2 ? 2 : (int)maxint + 1;
	}
	if (spec.nclass < 2)
		cli_die(MM_EXIT_DATA, "target \"%s\": only one class (%s) in the data", target,
				ncls ? cls_names[0] : "0");
	if (init && init->target_is_str != is_str && !cli_quiet)
		cli_warn("--init %s: its target \"%s\" was %s, this one is %s", init_path, init->target,
				init->target_is_str ? "a string" : "an integer", is_str ? "a string" : "an integer");

	/* sparse features: the training columns (or --init's), T, and the pairs */
	mm_colmap *cms[MM_NET_MAXMOD] = { 0 };
	for (int f = 0; f < nfeat; f++) {
		if (sparse_f[f] != 1)
			continue;
		if (!(cms[f] = calloc(1, sizeof *cms[f])))
			cli_die(MM_EXIT_USAGE, "out of memory");
		int T;
		if (init) {
			const mm_colmap *ic = init->cols[f];
			*cms[f] = (mm_colmap){ .dim = ic->dim, .m = ic->m,
				.col = malloc(ic->m * sizeof(uint32_t)), .scale = malloc(ic->m * sizeof(float)) };
			if (!cms[f]->col || !cms[f]->scale)
				cli_die(MM_EXIT_USAGE, "out of memory");
			memcpy(cms[f]->col, ic->col, ic->m * sizeof(uint32_t));
			memcpy(cms[f]->scale, ic->scale, ic->m * sizeof(float));
			T = init->spec.dims[f] / 2;
		} else {
			if (mm_colmap_fit(cms[f], &Str[f], NULL, 0, true, &e) != MM_OK) {
				mm_err_prefix(&e, "field \"%s\"", feats[f]);
				cli_die_err(&e);
			}
			T = 1;
			mm_csr *all[3] = { &Str[f], &Sva[f], &Soth[f] };
			for (int a = 0; a < 3; a++)
				for (size_t i = 0; i < all[a]->n; i++) {
					size_t p = all[a]->ptr[i], k = mm_colmap_pairs(cms[f], all[a]->idx + p,
						all[a]->val + p, all[a]->ptr[i + 1] - p, 0, NULL);
					if (k > (size_t)T)
						T = (int)k;
				}
		}
		if (T > (1 << 22))
			cli_die(MM_EXIT_DATA, "field \"%s\": %d non-zero values in one record is too many", feats[f], T);
		dims[f] = 2 * T;
		spec.sparse[f] = (int)cms[f]->m;
		float *row = malloc((size_t)dims[f] * sizeof *row);
		if (!row)
			cli_die(MM_EXIT_USAGE, "out of memory");
		mm_csr *src[2] = { &Str[f], &Sva[f] };
		fbuf *dst[2] = { &Xtr[f], &Xva[f] };
		for (int a = 0; a < 2; a++) {
			for (size_t i = 0; i < src[a]->n; i++) {
				size_t p = src[a]->ptr[i], k = mm_colmap_pairs(cms[f], src[a]->idx + p,
					src[a]->val + p, src[a]->ptr[i + 1] - p, T, row);
				if (k > (size_t)T)
					cli_die(MM_EXIT_DATA, "field \"%s\": %s record %zu has %zu known non-zero values, "
						"more than the %d of --init %s", feats[f], a ? "validation" : "training",
						i, k, T, init_path);
				fpush(dst[a], row, (size_t)dims[f]);
			}
			mm_csr_free(src[a]);
		}
		mm_csr_free(&Soth[f]);
		free(row);
	}
	mm_sparse_free(&sp_row);

	spec.nmod = nfeat;
	for (int f = 0; f < nfeat; f++)
		spec.dims[f] = dims[f];
	const char *msg = mm_net_spec_check(&spec);
	if (msg)
		cli_usage("%s", msg);

	mm_model *m;
	if (mm_model_new(&m, &spec, &e) != MM_OK)
		cli_die_err(&e);
	for (int f = 0; f < nfeat; f++)
		if (mm_model_set_feature(m, f, feats[f], &e) != MM_OK)
			cli_die_err(&e);
	for (int k = 0; k < spec.nclass; k++) {
		char num[24];
		const char *nm = cls_names && k < ncls ? cls_names[k] : (snprintf(num, sizeof num, "%d", k), num);
		if (mm_model_set_class(m, k, nm, &e) != MM_OK)
			cli_die_err(&e);
	}
	if (mm_model_set_target(m, nexperts ? "mixture" : target, is_str, &e) != MM_OK)
		cli_die_err(&e);

	/* standardisation: training statistics, or the --init model's; a sparse
	 * feature's pairs are already scaled by its column map, which the model keeps */
	for (int f = 0; f < nfeat; f++) {
		int d = dims[f];
		if (cms[f]) {
			m->cols[f] = cms[f];
			continue;
		}
		if (init) {
			memcpy(m->mean[f], init->mean[f], (size_t)d * sizeof(float));
			memcpy(m->std[f], init->std[f], (size_t)d * sizeof(float));
		} else {
			if (mm_standardize_fit(Xtr[f].p, ntr, (size_t)d, m->mean[f], m->std[f], &e) != MM_OK)
				cli_die_err(&e);
		}
		mm_model_standardize(m, f, Xtr[f].p, ntr, Xtr[f].p);
		if (nva)
			mm_model_standardize(m, f, Xva[f].p, nva, Xva[f].p);
	}

	/* class weights */
	float *cw = NULL;
	if (strcmp(cw_arg, "none") != 0) {
		cw = calloc((size_t)spec.nclass, sizeof *cw);
		if (!cw)
			cli_die(MM_EXIT_USAGE, "out of memory");
		if (strcmp(cw_arg, "auto") == 0) {
			if (mm_class_weights_balanced(ytr.p, ntr, spec.nclass, cw, &e) != MM_OK)
				cli_die_err(&e);
		} else {
			size_t n;
			static char **ws; /* lives until exit */
			ws = cli_split(cw_arg, ',', &n);
			/* each weight is a number before they are counted ("abc" is not 1 weight) */
			for (size_t k = 0; k < n; k++)
				(void)cli_double("--class-weights", ws[k], 0, 1e9);
			if ((int)n != spec.nclass)
				cli_usage("--class-weights: %zu weights for %d classes", n, spec.nclass);
			for (size_t k = 0; k < n; k++)
				cw[k] = (float)cli_double("--class-weights", ws[k], 0, 1e9);
		}
		m->class_w = cw;
	}

	/* selection metric */
	if (select < 0)
		select = (!is_str && spec.nclass == 2) ? MM_SELECT_F1 : MM_SELECT_MACRO_F1;
	if (select == MM_SELECT_F1 && spec.nclass != 2)
		cli_usage("--select f1 needs two classes (there are %d): use macro_f1", spec.nclass);
	fp.select = select;
	fp.class_w = cw;
	fp.on_epoch = on_epoch;
	metric_label = mm_select_name(select);
	log_epochs = fp.epochs;
	msg = mm_fit_params_check(&fp);
	if (msg)
		cli_usage("%s", msg);

	/* initial weights */
	mm_rng root, ig;
	mm_rng_seed(&root, fp.seed);
	ig = mm_rng_split(&root, 0x696e6974);
	mm_net_init(m->net, &ig);
	if (init) {
		bool same_classes = init->spec.nclass == spec.nclass;
		for (int k = 0; same_classes && k < spec.nclass; k++)
			if (strcmp(init->classes[k], m->classes[k]) != 0)
				same_classes = false;
		/* parameters by name; the output layer starts afresh when the classes differ */
		char note[1200];
		mm_err e;
		if (mm_net_copy_by_name(m->net, init->net, same_classes ? NULL : MM_EXPERT_OUTPUT,
					init_partial, note, sizeof note, &e) != MM_OK)
			cli_die(MM_EXIT_DATA, "--init %s: %s%s", init_path, e.msg,
					e.status == MM_EVALUE && strstr(e.msg, "do not match") ?
					" (--init-partial allows it)" : "");
		if (note[0] && !cli_quiet)
			cli_warn("--init %s: %s", init_path, note);
		if (!same_classes && !cli_quiet)
			cli_warn("--init %s: classes differ (%d vs %d), the output layer starts afresh",
					init_path, init->spec.nclass, spec.nclass);
		if (!(m->init = strdup(init_path)))
			cli_die(MM_EXIT_USAGE, "out of memory");
	}
	m->fit = fp;
	m->fit.class_w = NULL;
	m->fit.on_epoch = NULL;
	m->n_train = ntr;
	m->n_val = nva;
	m->data_hash = mm_hash64(&hva, sizeof hva, htr);

	if (!cli_quiet) {
		fprintf(stderr, "%s: %zu train, %zu val records (%llu read", cli_prog, ntr, nva,
				(unsigned long long)nread);
		if (nother)
			fprintf(stderr, ", %llu other splits", (unsigned long long)nother);
		if (nfiltered)
			fprintf(stderr, ", %llu filtered out", (unsigned long long)nfiltered);
		if (ninsample)
			fprintf(stderr, ", %llu train not \"%s\"", (unsigned long long)ninsample, heldout);
		if (nnotarget)
			fprintf(stderr, ", %llu without \"%s\"", (unsigned long long)nnotarget, target);
		fprintf(stderr, "); %d classes; features", spec.nclass);
		for (int f = 0; f < nfeat; f++)
			fprintf(stderr, " %s[%d]", feats[f], dims[f]);
		fprintf(stderr, "; %zu parameters; seed %llu\n", mm_net_nparams_total(m->net),
				(unsigned long long)fp.seed);
		if (nva == 0)
			fprintf(stderr, "%s: no validation records: keeping the last epoch\n", cli_prog);
	}

	mm_dataset dtr = { .nmod = nfeat, .y = ytr.p, .n = ntr }, dva = { .nmod = nfeat, .y = yva.p, .n = nva };
	for (int f = 0; f < nfeat; f++) {
		dtr.X[f] = Xtr[f].p;
		dva.X[f] = Xva[f].p;
	}
	mm_mixture mix = { .K = nexperts, .d = { &dtr, nva ? &dva : NULL },
		.py = { pytr.p, nva ? pyva.p : NULL }, .tag_weight = tag_weight,
		.tag = { tagtr.p, nva ? tagva.p : NULL } };
	if (nexperts) {
		dtr.y = dva.y = NULL;
		fp.objective = mm_mixture_objective;
		fp.octx = &mix;
	}
	mm_fit_result res;
	if (mm_net_fit(m->net, &dtr, nva ? &dva : NULL, &fp, &res, &e) != MM_OK) {
		if (e.status == MM_EUSAGE)
			e.status = MM_EVALUE;
		cli_die_err(&e);
	}
	m->best_epoch = res.best_epoch;
	m->best_metric = res.best_metric;
	m->epochs_run = res.epochs_run;
	if (mm_model_save(m, out_path, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet) {
		if (nva)
			fprintf(stderr, "%s: best epoch %d of %d, val_%s %.4f; %.1fs; wrote %s\n", cli_prog,
					res.best_epoch, res.epochs_run, metric_label, res.best_metric, res.seconds, out_path);
		else
			fprintf(stderr, "%s: %d epochs, %.1fs; wrote %s\n", cli_prog, res.epochs_run,
					res.seconds, out_path);
	}
	for (int f = 0; f < nfeat; f++) {
		free(Xtr[f].p);
		free(Xva[f].p);
	}
	free(ytr.p);
	free(yva.p);
	free(pytr.p);
	free(pyva.p);
	free(tagtr.p);
	free(tagva.p);
	mm_model_free(m);
	mm_model_free(init);
	return cli_finish();
}
