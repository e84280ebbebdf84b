/* mmoe-train-expert — train a multimodal expert (or the router, or a
 * mixture gate) on a stream, or add a trained model's class probabilities to
 * every record (--predict).
 *
 * Option parsing, messages and I/O only: the records are loaded by
 * lib/loader.h (splits, filters, classes, features kept in shape); the
 * model for them is built, started (standardisation, weights, --init),
 * trained and applied to records by lib/train.h; lib/model.h writes it,
 * atomically.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "loader.h"
#include "model.h"
#include "nn.h"
#include "record.h"
#include "sparse.h"
#include "stream.h"
#include "train.h"
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
		"      --arch mlp|transformer|mome  the expert MLP over the features (flattened),\n"
		"                           a transformer over their token rows, or MoME over\n"
		"                           vision grids and an instruction (default: mlp)\n"
		"  mlp:\n"
		"      --proj N             projection width per modality, 0 = none (default: 256)\n"
		"      --act relu|gelu      activation (default: relu)\n"
		"      --fusion MODE        concat, concat-prod or bilinear (default: concat-prod)\n"
		"      --bilinear-dim N     bilinear outputs per modality pair (default: 32)\n"
		"      --hidden N           head width (default: 256)\n"
		"      --layers N           hidden layers in the head (default: 1)\n"
		"      --dropout P          dropout rate (default: 0.1)\n"
		"  transformer: each -f is a token field [T, D] (a grid [H, W, D] is H*W rows,\n"
		"  a vector [D] one row), projected to the width, with position and modality\n"
		"  embeddings and a learned [CLS]; the classes are read off [CLS] (+ mean pool):\n"
		"      --depth N            pre-norm blocks (default: 2)\n"
		"      --width N            model width (default: 128)\n"
		"      --heads N            attention heads, dividing the width (default: 4)\n"
		"      --ffn N              feed-forward width (default: 4 x width)\n"
		"      --max-tokens N       refuse a train or val record with more than N rows in\n"
		"                           a field (default: the most rows of any record)\n"
		"  mome: each -f is a vision grid [H, W, D] (the same H, W in every record), mixed\n"
		"  by MoVE into visual tokens for a transformer (--depth --width --heads --ffn)\n"
		"  with MoLE adapters; the instruction steers both routers:\n"
		"      --instruction FIELD  the instruction's embedding, a vector [E] (required)\n"
		"      --tokens K           K x K visual tokens per encoder (default: 4)\n"
		"      --transform avgpool|adt  adaptive pooling and a linear map, or the adaptive\n"
		"                           deformable transformation (default: adt)\n"
		"      --points N           ADT sampling points per head (default: 4)\n"
		"      --aggregate add|router  sum the encoders' tokens, or weigh them by a router\n"
		"                           on the instruction (default: router)\n"
		"      --adapters N         adapters beside each FFN, 0 = none (default: 4)\n"
		"      --adapter-route instance|token|both  one adapter per example (MoLE-I), per\n"
		"                           token (MoLE-T) or per token steered by the instruction\n"
		"                           (MoLE-IT) (default: instance)\n"
		"      --adapter-dim R      adapter bottleneck width (default: 16)\n"
		"      --gumbel T           Gumbel-softmax noise at temperature T in training,\n"
		"                           0 = off (default: 0)\n"
		"      --balance X          weight of the adapters' load-balancing loss (default: 0)\n"
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
		"                           (and NAME_label, the class name, for string targets;\n"
		"                           MoME adds NAME_enc, the encoder weights, and\n"
		"                           NAME_adapter0.., each block's chosen adapter)\n"
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
static mm_load_params lp;               /* what to load (lib/loader.h) */
static const char *classes_arg;
static const char *out_path, *init_path;
static bool init_partial;
static const char *models[MAXM], *as_names[MAXM];
static int nmodels;
static char **experts; /* the mixture gate's expert fields (live until exit) */
static char **cls;     /* --classes, likewise */
static int nexperts, ncls;
static const char *tag_field = "rus";
static float tag_weight;

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
	else if (strcmp(metric_label, "loss") == 0) /* the selection metric is the val loss: once */
		fprintf(stderr, "%s: epoch %*d/%d  loss %.4f  val_loss %.4f  lr %.2e  %.1fs%s\n",
				cli_prog, log_epochs >= 100 ? 3 : 2, ep->epoch, log_epochs, ep->train_loss,
				ep->val_metric, ep->lr, ep->seconds, ep->best ? "  *" : "");
	else
		fprintf(stderr, "%s: epoch %*d/%d  loss %.4f  val_loss %.4f  val_%s %.4f  lr %.2e  %.1fs%s\n",
				cli_prog, log_epochs >= 100 ? 3 : 2, ep->epoch, log_epochs, ep->train_loss,
				ep->val_loss, metric_label, ep->val_metric, ep->lr, ep->seconds, ep->best ? "  *" : "");
}

/* ---- prediction mode ---- */
typedef struct pmodel {
	mm_model *m;
	mm_predictor *pr;
	const char *as;
	char as_class[512], as_label[512];
} pmodel;

#define PBATCH 256

/* Class probabilities of the batch's nb records under every model, into
 * the records. */
static mm_status predict_batch(pmodel *pm, mm_rec **batch, int nb, mm_err *e)
{
	for (int i = 0; i < nmodels; i++) {
		mm_err pe;
		if (mm_predictor_run(pm[i].pr, (size_t)nb, &pe) != MM_OK)
			cli_die(MM_EXIT_USAGE, "%s", pe.msg);
	}
	for (int k = 0; k < nb; k++)
		for (int i = 0; i < nmodels; i++)
			if (mm_predictor_annotate(pm[i].pr, (size_t)k, batch[k], pm[i].as, pm[i].as_class,
						pm[i].as_label, e) != MM_OK)
				return e->status;
	return MM_OK;
}

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
		if (mm_predictor_new(&pm[i].pr, pm[i].m, PBATCH, &e) != MM_OK)
			cli_die_err(&e);
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
	if (mm_writer_open(&w, out_path, MM_LEVEL_DEFAULT, &e) != MM_OK)
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
				for (int i = 0; i < nmodels; i++)
					if (mm_predictor_set(pm[i].pr, (size_t)nb, r, models[i], mm_reader_name(rd),
								&e) != MM_OK) {
						mm_rec_free(r);
						mm_reader_close(rd);
						goto fail;
					}
				batch[nb++] = r;
			}
			if (nb == PBATCH || (st == MM_EOF && nb > 0)) {
				if (predict_batch(pm, batch, nb, &e) != MM_OK)
					goto fail;
				for (int k = 0; k < nb; k++) {
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
		mm_predictor_free(pm[i].pr);
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

static json_t *info_spec(const mm_model *m)
{
	const mm_net_spec *s = &m->spec;
	json_t *sp = json_object(), *dims = json_array();
	for (int f = 0; f < s->nmod; f++)
		json_array_append_new(dims, json_integer(s->dims[f]));
	json_object_set_new(sp, "nmod", json_integer(s->nmod));
	json_object_set_new(sp, "dims", dims);
	if (m->arch == MM_ARCH_TRANSFORMER) {
		const mm_transformer_spec *t = &m->tspec;
		json_t *tok = json_array();
		for (int f = 0; f < t->nmod; f++)
			json_array_append_new(tok, json_integer(t->in[f].T));
		json_object_set_new(sp, "tokens", tok);
		json_object_set_new(sp, "width", json_integer(t->width));
		json_object_set_new(sp, "depth", json_integer(t->depth));
		json_object_set_new(sp, "heads", json_integer(t->heads));
		json_object_set_new(sp, "ffn", json_integer(t->ffn));
		json_object_set_new(sp, "nclass", json_integer(t->nclass));
		return sp;
	}
	if (m->arch == MM_ARCH_MOME) {
		const mm_mome_spec *t = &m->mspec;
		json_t *g = json_array();
		for (int f = 0; f < t->nenc; f++)
			json_array_append_new(g, json_pack("[i,i,i]", t->gh[f], t->gw[f], t->gd[f]));
		json_object_set_new(sp, "grids", g);
		json_object_set_new(sp, "edim", json_integer(t->edim));
		json_object_set_new(sp, "tokens", json_integer(t->tokens));
		json_object_set_new(sp, "transform", json_string(mm_move_transform_name(t->transform)));
		json_object_set_new(sp, "aggregate", json_string(mm_move_aggregate_name(t->aggregate)));
		json_object_set_new(sp, "points", json_integer(t->points));
		json_object_set_new(sp, "width", json_integer(t->width));
		json_object_set_new(sp, "depth", json_integer(t->depth));
		json_object_set_new(sp, "heads", json_integer(t->heads));
		json_object_set_new(sp, "ffn", json_integer(t->ffn));
		json_object_set_new(sp, "nclass", json_integer(t->nclass));
		json_object_set_new(sp, "adapters", json_integer(t->mole.adapters));
		json_object_set_new(sp, "adapter_route", json_string(mm_mole_route_name(t->mole.route)));
		json_object_set_new(sp, "adapter_dim", json_integer(t->mole.dim));
		json_object_set_new(sp, "gumbel", jflt(t->mole.gumbel));
		json_object_set_new(sp, "balance", jflt(t->mole.balance));
		return sp;
	}
	json_object_set_new(sp, "proj", json_integer(s->proj));
	json_object_set_new(sp, "act", json_string(mm_act_name(s->act)));
	json_object_set_new(sp, "fusion", json_string(mm_fusion_name(s->fusion)));
	json_object_set_new(sp, "bilinear_dim", json_integer(s->bilinear_dim));
	json_object_set_new(sp, "hidden", json_integer(s->hidden));
	json_object_set_new(sp, "layers", json_integer(s->layers));
	json_object_set_new(sp, "nclass", json_integer(s->nclass));
	json_object_set_new(sp, "dropout", jflt(s->dropout));
	return sp;
}

/* The node list: name, kind, inputs by name, per-sample output shape. */
static json_t *info_nodes(const mm_net *net)
{
	json_t *a = json_array();
	for (int i = 0; i < mm_net_nnodes(net); i++) {
		mm_node_info ni;
		mm_net_node(net, i, &ni);
		json_t *in = json_array();
		for (int k = 0; k < ni.nin; k++) {
			mm_node_info src;
			mm_net_node(net, ni.in[k], &src);
			json_array_append_new(in, json_string(src.name));
		}
		json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:[i,i]}", "name", ni.name,
				"kind", ni.op->name, "in", in, "shape", ni.shape.T, ni.shape.D));
	}
	return a;
}

static int info_main(const char *path)
{
	mm_err e;
	mm_model *m;
	if (mm_model_load(&m, path, &e) != MM_OK)
		cli_die_err(&e);
	const mm_net_spec *s = &m->spec;
	json_t *o = json_object(), *cl = json_array(), *fe = json_array(), *tr = json_object(), *cw;
	for (int f = 0; f < s->nmod; f++) {
		json_t *fo = json_pack("{s:s, s:i}", "name", m->feat[f], "dim", s->dims[f]);
		if (m->cols[f]) /* a sparse feature: dim/2 pairs over its training columns */
			json_object_set_new(fo, "sparse", json_pack("{s:I, s:I, s:i}", "dim",
				(json_int_t)m->cols[f]->dim, "columns", (json_int_t)m->cols[f]->m, "pairs", s->dims[f] / 2));
		if (mm_model_tokens(m))
			json_object_set_new(fo, "tokens", json_integer(m->tspec.in[f].T));
		json_array_append_new(fe, fo);
	}
	for (int c = 0; c < s->nclass; c++)
		json_array_append_new(cl, json_string(m->classes[c]));
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
	json_object_set_new(o, "arch", json_string(mm_arch_name(m->arch)));
	json_object_set_new(o, "spec", info_spec(m));
	json_object_set_new(o, "target", json_string(m->target));
	json_object_set_new(o, "target_type", json_string(m->target_is_str ? "str" : "int"));
	json_object_set_new(o, "classes", cl);
	json_object_set_new(o, "features", fe);
	json_object_set_new(o, "train", tr);
	json_object_set_new(o, "data_hash", json_string(hash));
	json_object_set_new(o, "commit", json_string(m->commit));
	json_object_set_new(o, "parameters", json_integer((json_int_t)mm_net_nparams_total(m->net)));
	json_object_set_new(o, "nodes", info_nodes(m->net));
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

/* The architecture options given on the command line. */
typedef struct arch_opts {
	mm_train_arch a;           /* --arch and its options (lib/train.h) */
	const char *instruction;   /* mome: the instruction field */
	const char *mlp_opt, *tf_opt, *maxtok_opt, *mome_opt; /* the first option given of each family */
	bool given;
} arch_opts;

/* The model for the loaded data: --init's architecture, else the options'. */
static mm_model *new_model(const arch_opts *ao, const mm_model *init, const mm_loaded *ld)
{
	mm_err e;
	mm_model *m;
	if (mm_train_model_new(&m, &ao->a, init, ld, &lp, &e) != MM_OK) {
		if (e.status == MM_EUSAGE)
			cli_usage("%s", e.msg);
		cli_die_err(&e);
	}
	return m;
}

/* --class-weights: NULL (none), balanced, or the listed weights. */
static float *class_weights(const char *arg, const mm_loaded *ld)
{
	mm_err e;
	if (strcmp(arg, "none") == 0)
		return NULL;
	float *cw = calloc((size_t)ld->nclass, sizeof *cw);
	if (!cw)
		cli_die(MM_EXIT_USAGE, "out of memory");
	if (strcmp(arg, "auto") == 0) {
		const mm_load_set *tr = &ld->set[MM_SET_TRAIN];
		if (mm_class_weights_balanced(tr->y, tr->d.n, ld->nclass, cw, &e) != MM_OK)
			cli_die_err(&e);
		return cw;
	}
	size_t n;
	static char **ws; /* lives until exit */
	ws = cli_split(arg, ',', &n);
	/* each weight is a number before they are counted ("abc" is not 1 weight) */
	for (size_t k = 0; k < n; k++)
		(void)cli_double("--class-weights", ws[k], 0, 1e9);
	if ((int)n != ld->nclass)
		cli_usage("--class-weights: %zu weights for %d classes", n, ld->nclass);
	for (size_t k = 0; k < n; k++)
		cw[k] = (float)cli_double("--class-weights", ws[k], 0, 1e9);
	return cw;
}

/* Standardisation, initial weights, and --init's parameters by name (the
 * output layer starts afresh when the classes differ). */
static void start(mm_model *m, mm_loaded *ld, const mm_model *init, uint64_t seed)
{
	mm_err e;
	mm_train_init_report rep;
	if (mm_train_start(m, ld, seed, init, init_path, init_partial, &rep, &e) != MM_OK) {
		if (e.status == MM_EVALUE && strstr(e.msg, "do not match")) {
			size_t n = strlen(e.msg);
			snprintf(e.msg + n, sizeof e.msg - n, " (--init-partial allows it)");
		}
		cli_die_err(&e);
	}
	if (rep.note[0] && !cli_quiet)
		cli_warn("--init %s: %s", init_path, rep.note);
	if (rep.head_reset && !cli_quiet)
		cli_warn("--init %s: classes differ (%d vs %d), the output layer starts afresh",
				init_path, init->spec.nclass, m->spec.nclass);
}

static void log_data(const mm_loaded *ld, const mm_model *m, uint64_t seed)
{
	if (cli_quiet)
		return;
	size_t nva = ld->set[MM_SET_VAL].d.n;
	fprintf(stderr, "%s: %zu train, %zu val records (%llu read", cli_prog, ld->set[MM_SET_TRAIN].d.n,
			nva, (unsigned long long)ld->nread);
	if (ld->nother)
		fprintf(stderr, ", %llu other splits", (unsigned long long)ld->nother);
	if (ld->nfiltered)
		fprintf(stderr, ", %llu filtered out", (unsigned long long)ld->nfiltered);
	if (ld->ninsample)
		fprintf(stderr, ", %llu train not \"%s\"", (unsigned long long)ld->ninsample, lp.heldout);
	if (ld->nnotarget)
		fprintf(stderr, ", %llu without \"%s\"", (unsigned long long)ld->nnotarget, lp.target);
	fprintf(stderr, "); %d classes; features", ld->nclass);
	for (int f = 0; f < ld->nfeat; f++)
		if (ld->kind[f] == MM_FEAT_TOKENS)
			fprintf(stderr, " %s[%dx%d]", lp.feat[f], ld->T[f], ld->dim[f]);
		else
			fprintf(stderr, " %s[%d]", lp.feat[f], ld->dim[f]);
	fprintf(stderr, "; %zu parameters; seed %llu\n", mm_net_nparams_total(m->net),
			(unsigned long long)seed);
	if (nva == 0)
		fprintf(stderr, "%s: no validation records: keeping the last epoch\n", cli_prog);
}

static int train_main(int argc, char **argv, const arch_opts *ao, mm_fit_params fp,
		const char *cw_arg, int select)
{
	mm_err e;
	mm_model *init = NULL;
	if (init_path) {
		if (mm_model_load(&init, init_path, &e) != MM_OK)
			cli_die_err(&e);
		if (lp.nfeat == 0) {
			lp.nfeat = init->spec.nmod;
			for (int f = 0; f < lp.nfeat; f++)
				lp.feat[f] = init->feat[f];
		} else {
			if (lp.nfeat != init->spec.nmod)
				cli_die(MM_EXIT_USAGE, "--init %s: the model has %d feature fields, -f gives %d",
						init_path, init->spec.nmod, lp.nfeat);
			for (int f = 0; f < lp.nfeat; f++)
				if (strcmp(lp.feat[f], init->feat[f]) != 0)
					cli_die(MM_EXIT_USAGE, "--init %s: feature %d is \"%s\" in the model, \"%s\" on the command line",
							init_path, f + 1, init->feat[f], lp.feat[f]);
		}
		if (ao->given && !cli_quiet)
			cli_warn("--init: architecture options are ignored, the model's are used");
		lp.init = init;
		lp.init_name = init_path;
	}
	int arch = init ? init->arch : ao->a.arch;
	lp.tokens = arch != MM_ARCH_EXPERT;
	if (lp.nfeat == 0)
		cli_usage("at least one -f FIELD is required");
	for (int f = 0; arch == MM_ARCH_MOME && f < lp.nfeat - 1; f++)
		lp.grid[f] = true;
	for (int i = 0; i < lp.nfeat; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(lp.feat[i], lp.feat[j]) == 0)
				cli_usage("-f %s is given twice", lp.feat[i]);

	/* ---- load the data ---- */
	mm_loaded ld;
	mm_reader *rd;
	const char *inp = argc - optind == 1 ? argv[optind] : "-";
	if (mm_reader_open(&rd, inp, &e) != MM_OK || mm_load(&ld, rd, &lp, &e) != MM_OK)
		cli_die_err(&e);
	mm_reader_close(rd);
	if (init && init->target_is_str != ld.target_is_str && !cli_quiet)
		cli_warn("--init %s: its target \"%s\" was %s, this one is %s", init_path, init->target,
				init->target_is_str ? "a string" : "an integer", ld.target_is_str ? "a string" : "an integer");

	mm_model *m = new_model(ao, init, &ld);
	float *cw = class_weights(cw_arg, &ld);

	/* selection metric */
	if (select < 0)
		select = mm_train_select_default(&ld);
	if (select == MM_SELECT_F1 && ld.nclass != 2)
		cli_usage("--select f1 needs two classes (there are %d): use macro_f1", ld.nclass);
	fp.select = select;
	fp.class_w = cw;
	fp.on_epoch = on_epoch;
	metric_label = mm_select_name(select);
	log_epochs = fp.epochs;
	const char *msg = mm_fit_params_check(&fp);
	if (msg)
		cli_usage("%s", msg);

	start(m, &ld, init, fp.seed);
	log_data(&ld, m, fp.seed);
	size_t nva = ld.set[MM_SET_VAL].d.n;
	mm_fit_result res;
	if (mm_train_fit(m, &ld, &fp, cw, tag_weight, &res, &e) != MM_OK)
		cli_die_err(&e);
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
	mm_loaded_free(&ld);
	mm_model_free(m);
	mm_model_free(init);
	return cli_finish();
}

/* An architecture option: remember the first of its family. */
enum { FAM_MLP, FAM_TF, FAM_MAXTOK, FAM_MOME };
static void arch_opt(arch_opts *ao, int family, const char *name)
{
	const char **first = family == FAM_MLP ? &ao->mlp_opt : family == FAM_TF ? &ao->tf_opt :
		family == FAM_MAXTOK ? &ao->maxtok_opt : &ao->mome_opt;
	if (!*first)
		*first = name;
	ao->given = true;
}

int main(int argc, char **argv)
{
	arch_opts ao = { .a = { .arch = MM_ARCH_EXPERT, .ts = { .width = 128, .depth = 2, .heads = 4 },
		.ms = { .tokens = 4, .transform = MM_MOVE_ADT, .aggregate = MM_MOVE_ROUTER, .points = 4,
			.mole = { .adapters = 4, .route = MM_MOLE_INSTANCE, .dim = 16 } } } };
	mm_net_spec_default(&ao.a.spec);
	mm_fit_params fp;
	mm_fit_params_default(&fp);
	fp.patience = 5;
	mm_load_params_default(&lp);
	const char *cw_arg = "none", *resave = NULL, *info = NULL;
	int select = -1, threads = 1;
	bool predict = false, force = false;
	enum { O_CLASSES = 256, O_WHERE, O_EXCL, O_SPLIT, O_PROJ, O_ACT, O_FUSION, O_BILDIM, O_HIDDEN,
		O_LAYERS, O_DROPOUT, O_INIT, O_EPOCHS, O_BATCH, O_LR, O_WD, O_WARMUP, O_MINLR, O_CLIP,
		O_LOSS, O_ALPHA, O_GAMMA, O_CW, O_SELECT, O_PATIENCE, O_PREDICT, O_AS, O_FORCE, O_RESAVE, O_INFO,
		O_INIT_PARTIAL, O_TARGET, O_EXPERTS, O_HELDOUT, O_TAG, O_TAGW, O_ARCH, O_DEPTH, O_WIDTH,
		O_HEADS, O_FFN, O_MAXTOK, O_INSTR, O_TOKENS, O_TRANSFORM, O_POINTS, O_AGGREGATE,
		O_ADAPTERS, O_AROUTE, O_ADIM, O_GUMBEL, O_BALANCE };
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
		{ "arch", required_argument, NULL, O_ARCH },
		{ "proj", required_argument, NULL, O_PROJ },
		{ "act", required_argument, NULL, O_ACT },
		{ "fusion", required_argument, NULL, O_FUSION },
		{ "bilinear-dim", required_argument, NULL, O_BILDIM },
		{ "hidden", required_argument, NULL, O_HIDDEN },
		{ "layers", required_argument, NULL, O_LAYERS },
		{ "dropout", required_argument, NULL, O_DROPOUT },
		{ "depth", required_argument, NULL, O_DEPTH },
		{ "width", required_argument, NULL, O_WIDTH },
		{ "heads", required_argument, NULL, O_HEADS },
		{ "ffn", required_argument, NULL, O_FFN },
		{ "max-tokens", required_argument, NULL, O_MAXTOK },
		{ "instruction", required_argument, NULL, O_INSTR },
		{ "tokens", required_argument, NULL, O_TOKENS },
		{ "transform", required_argument, NULL, O_TRANSFORM },
		{ "points", required_argument, NULL, O_POINTS },
		{ "aggregate", required_argument, NULL, O_AGGREGATE },
		{ "adapters", required_argument, NULL, O_ADAPTERS },
		{ "adapter-route", required_argument, NULL, O_AROUTE },
		{ "adapter-dim", required_argument, NULL, O_ADIM },
		{ "gumbel", required_argument, NULL, O_GUMBEL },
		{ "balance", required_argument, NULL, O_BALANCE },
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
			if (lp.nfeat >= MM_NET_MAXMOD)
				cli_usage("at most %d -f fields", MM_NET_MAXMOD);
			check_nonempty_name("-f", optarg);
			lp.feat[lp.nfeat++] = optarg;
			break;
		case O_TARGET: check_nonempty_name("--target", optarg); lp.target = optarg; break;
		case O_CLASSES: classes_arg = optarg; break;
		case O_WHERE: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				cli_usage("option --where: expected FIELD=VALUE, got '%s'", optarg);
			if (lp.nwhere >= MM_LOAD_MAXFILTER)
				cli_usage("too many --where options");
			*eq = 0;
			lp.where_f[lp.nwhere] = optarg;
			lp.where_v[lp.nwhere++] = eq + 1;
			break;
		}
		case O_EXCL:
			if (lp.nexcl >= MM_LOAD_MAXFILTER)
				cli_usage("too many --exclude-flag options");
			check_nonempty_name("--exclude-flag", optarg);
			lp.excl[lp.nexcl++] = optarg;
			break;
		case O_SPLIT: check_nonempty_name("--split-field", optarg); lp.split_field = optarg; break;
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
		case O_HELDOUT: check_nonempty_name("--heldout", optarg); lp.heldout = optarg; break;
		case O_TAG: check_nonempty_name("--tag", optarg); tag_field = optarg; break;
		case O_TAGW: tag_weight = (float)cli_double("--tag-weight", optarg, 0, 1); break;
		case O_ARCH:
			if (strcmp(optarg, "mlp") == 0)
				ao.a.arch = MM_ARCH_EXPERT;
			else if (strcmp(optarg, "transformer") == 0)
				ao.a.arch = MM_ARCH_TRANSFORMER;
			else if (strcmp(optarg, "mome") == 0)
				ao.a.arch = MM_ARCH_MOME;
			else
				cli_usage("option --arch: '%s' is not mlp, transformer or mome", optarg);
			ao.given = true;
			break;
		case O_PROJ: ao.a.spec.proj = (int)cli_int("--proj", optarg, 0, 65536); arch_opt(&ao, FAM_MLP, "--proj"); break;
		case O_ACT:
			if ((ao.a.spec.act = mm_act_parse(optarg)) < 0)
				cli_usage("option --act: '%s' is not relu or gelu", optarg);
			arch_opt(&ao, FAM_MLP, "--act");
			break;
		case O_FUSION:
			if ((ao.a.spec.fusion = mm_fusion_parse(optarg)) < 0)
				cli_usage("option --fusion: '%s' is not concat, concat-prod or bilinear", optarg);
			arch_opt(&ao, FAM_MLP, "--fusion");
			break;
		case O_BILDIM:
			ao.a.spec.bilinear_dim = (int)cli_int("--bilinear-dim", optarg, 1, 4096);
			arch_opt(&ao, FAM_MLP, "--bilinear-dim");
			break;
		case O_HIDDEN: ao.a.spec.hidden = (int)cli_int("--hidden", optarg, 1, 65536); arch_opt(&ao, FAM_MLP, "--hidden"); break;
		case O_LAYERS: ao.a.spec.layers = (int)cli_int("--layers", optarg, 0, 64); arch_opt(&ao, FAM_MLP, "--layers"); break;
		case O_DROPOUT:
			ao.a.spec.dropout = (float)cli_double("--dropout", optarg, 0, 0.99);
			arch_opt(&ao, FAM_MLP, "--dropout");
			break;
		case O_DEPTH: ao.a.ts.depth = (int)cli_int("--depth", optarg, 0, 64); arch_opt(&ao, FAM_TF, "--depth"); break;
		case O_WIDTH: ao.a.ts.width = (int)cli_int("--width", optarg, 1, 16384); arch_opt(&ao, FAM_TF, "--width"); break;
		case O_HEADS: ao.a.ts.heads = (int)cli_int("--heads", optarg, 1, 1024); arch_opt(&ao, FAM_TF, "--heads"); break;
		case O_FFN: ao.a.ts.ffn = (int)cli_int("--ffn", optarg, 1, 1 << 18); arch_opt(&ao, FAM_TF, "--ffn"); break;
		case O_MAXTOK: lp.max_tokens = (int)cli_int("--max-tokens", optarg, 1, 1 << 20); arch_opt(&ao, FAM_MAXTOK, "--max-tokens"); break;
		case O_INSTR:
			check_nonempty_name("--instruction", optarg);
			ao.instruction = optarg; /* a data option: with --init, the model's arch */
			break;
		case O_TOKENS: ao.a.ms.tokens = (int)cli_int("--tokens", optarg, 1, 64); arch_opt(&ao, FAM_MOME, "--tokens"); break;
		case O_TRANSFORM:
			if ((ao.a.ms.transform = mm_move_transform_parse(optarg)) < 0)
				cli_usage("option --transform: '%s' is not avgpool or adt", optarg);
			arch_opt(&ao, FAM_MOME, "--transform");
			break;
		case O_POINTS: ao.a.ms.points = (int)cli_int("--points", optarg, 1, 64); arch_opt(&ao, FAM_MOME, "--points"); break;
		case O_AGGREGATE:
			if ((ao.a.ms.aggregate = mm_move_aggregate_parse(optarg)) < 0)
				cli_usage("option --aggregate: '%s' is not add or router", optarg);
			arch_opt(&ao, FAM_MOME, "--aggregate");
			break;
		case O_ADAPTERS: ao.a.ms.mole.adapters = (int)cli_int("--adapters", optarg, 0, 64); arch_opt(&ao, FAM_MOME, "--adapters"); break;
		case O_AROUTE:
			if ((ao.a.ms.mole.route = mm_mole_route_parse(optarg)) < 0)
				cli_usage("option --adapter-route: '%s' is not instance, token or both", optarg);
			arch_opt(&ao, FAM_MOME, "--adapter-route");
			break;
		case O_ADIM: ao.a.ms.mole.dim = (int)cli_int("--adapter-dim", optarg, 1, 65536); arch_opt(&ao, FAM_MOME, "--adapter-dim"); break;
		case O_GUMBEL: ao.a.ms.mole.gumbel = (float)cli_double("--gumbel", optarg, 0, 100); arch_opt(&ao, FAM_MOME, "--gumbel"); break;
		case O_BALANCE: ao.a.ms.mole.balance = (float)cli_double("--balance", optarg, 0, 1000); arch_opt(&ao, FAM_MOME, "--balance"); break;
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
		if (resave || predict || lp.nfeat || nmodels || out_path || argc > optind)
			cli_usage("--info takes no other option");
		return info_main(info);
	}
	if (resave) {
		mm_err e;
		mm_model *m;
		if (!out_path)
			cli_usage("--resave needs -o MODEL");
		if (predict || lp.nfeat || nmodels || argc > optind)
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
		if (lp.nfeat)
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
	if (ao.a.arch != MM_ARCH_EXPERT && ao.mlp_opt)
		cli_usage("%s is an option of --arch mlp, not of --arch %s", ao.mlp_opt,
				ao.a.arch == MM_ARCH_MOME ? "mome" : "transformer");
	if (ao.a.arch == MM_ARCH_EXPERT && (ao.tf_opt || ao.maxtok_opt))
		cli_usage("%s is an option of --arch transformer (give --arch transformer)",
				ao.tf_opt ? ao.tf_opt : ao.maxtok_opt);
	if (ao.a.arch == MM_ARCH_MOME && ao.maxtok_opt)
		cli_usage("--max-tokens is an option of --arch transformer: MoME's grids have a fixed size");
	if (ao.a.arch != MM_ARCH_MOME && ao.mome_opt)
		cli_usage("%s is an option of --arch mome (give --arch mome)", ao.mome_opt);
	if (ao.instruction && ao.a.arch != MM_ARCH_MOME && !init_path)
		cli_usage("--instruction is an option of --arch mome (give --arch mome)");
	if (ao.a.arch == MM_ARCH_MOME && !init_path && !ao.instruction)
		cli_usage("--arch mome needs --instruction FIELD, the instruction's embedding");
	if (ao.a.arch == MM_ARCH_MOME && lp.nfeat == 0 && !init_path)
		cli_usage("--arch mome needs at least one -f GRID field");
	if (ao.instruction && lp.nfeat > 0) { /* the last input (with --init alone: the model's) */
		if (lp.nfeat >= MM_NET_MAXMOD)
			cli_usage("at most %d -f fields with --instruction", MM_NET_MAXMOD - 1);
		lp.feat[lp.nfeat++] = ao.instruction;
	}
	if (!ao.a.ts.ffn)
		ao.a.ts.ffn = 4 * ao.a.ts.width;
	if (ao.a.ts.width % ao.a.ts.heads)
		cli_usage("--width %d is not a multiple of --heads %d", ao.a.ts.width, ao.a.ts.heads);
	if (classes_arg) {
		size_t n;
		cls = cli_split(classes_arg, ',', &n);
		if (n < 2)
			cli_usage("--classes needs at least two names");
		for (size_t i = 0; i < n; i++) {
			if (!*cls[i])
				cli_usage("--classes: empty class name");
			for (size_t j = 0; j < i; j++)
				if (strcmp(cls[i], cls[j]) == 0)
					cli_usage("--classes: '%s' is given twice", cls[i]);
		}
		ncls = (int)n;
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
		if (ncls && ncls != nexperts)
			cli_usage("--classes names %d classes for %d --experts", ncls, nexperts);
		if (tag_weight > 0 && !classes_arg)
			cli_usage("--tag-weight needs --classes: the tag values that name the experts");
		lp.nexperts = nexperts;
		lp.experts = (const char *const *)experts;
		lp.tag_field = tag_weight > 0 ? tag_field : NULL;
	}
	lp.nclasses = ncls ? ncls : nexperts;
	lp.classes = (const char *const *)(ncls ? cls : experts);
	return train_main(argc, argv, &ao, fp, cw_arg, select);
}
