/* mmoe-unipred — unimodal predictions (stage 1 of MMoE, PAPERS.md §1).
 *
 * Trains a classifier on one modality's features and attaches its class
 * probabilities to every record: out-of-fold (K-fold cross-fitting) on the
 * training split, from a model fitted on all training records elsewhere.
 * Or, with --import, attaches external predictions joined by id.  Then the
 * authors' training-split options: --drop-margin and --balance.
 *
 * The whole stream is held in memory: cross-fitting needs every training
 * record before the first prediction can be written.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crossfit.h"
#include "loader.h"
#include "nn.h"
#include "record.h"
#include "rng.h"
#include "sparse.h"
#include "stream.h"
#include "unipred.h"
#include "util.h"

/* Probabilities are stored as f32: 0.55f - 0.45f is 0.10000002, and the
 * authors' "margin <= 0.1" must include it. */
#define MARGIN_EPS 1e-6

/* Child streams of the --seed generator. */
enum { SEED_FOLDS = 1, SEED_FULL = 2, SEED_FOLD0 = 16 };

static void usage(void)
{
	mm_clf_params d;
	mm_clf_params_default(&d);
	printf(
"Usage: mmoe-unipred -f FIELD [options] [FILE]\n"
"       mmoe-unipred --import PRED --as NAME [options] [FILE]\n"
"Attach unimodal predictions NAME [C] and NAME_class to every record of FILE\n"
"(stdin when absent or '-').  Training records (split == \"train\" with a label)\n"
"get out-of-fold predictions; the other records, a model fitted on all of them.\n"
"\n"
"  -f, --feature FIELD    feature vector to classify (required unless --import);\n"
"                         --features is the same option\n"
"      --as NAME          output field (default pred_FIELD)\n"
"  -l, --label FIELD      label field, an integer class (default label)\n"
"      --classes N        number of classes (default: 1 + the largest label)\n"
"  -k, --folds K          cross-fitting folds, stratified by label (default 5)\n"
"      --in-sample        predict training records with the full model instead\n"
"                         (diagnostics only: nearly everything looks redundant)\n"
"  -m, --model M          logreg or mlp (default logreg)\n"
"  -C, --C C              logreg: inverse L2 strength, as sklearn (default %g)\n"
"      --max-iter N       logreg: L-BFGS iterations (default %d)\n"
"      --hidden H         mlp: hidden width (default %d)\n"
"      --layers L         mlp: hidden layers (default %d)\n"
"      --epochs E         mlp: epochs (default %d)\n"
"      --batch B          mlp: batch size (default %d)\n"
"      --lr LR            mlp: peak learning rate (default %g)\n"
"      --l2 L             mlp: AdamW weight decay (default %g)\n"
"      --dropout P        mlp: dropout (default %g)\n"
"      --class-weights    weight classes by n / (C n_c) (default off)\n"
"      --no-standardize   do not z-score the features\n"
"  -s, --seed N           folds and model initialisation (default 1)\n"
"  -j, --threads N        models fitted in parallel, BLAS single-threaded; the\n"
"                         output does not depend on N (default 1)\n"
"\n"
"Training split only (split == \"train\"):\n"
"      --drop-margin M    set NAME_drop = true where |P(top) - P(second)| <= M\n"
"      --balance B        binary: force at least a fraction B of each class, by\n"
"                         P(class 1) rank (the authors use 0.2)\n"
"\n"
"Import instead of training:\n"
"      --import FILE      predictions joined by id (repeatable): a JSON object\n"
"                         {ID: {\"logits\"|\"probs\": [..], \"pred\": c}}, JSON Lines\n"
"                         {\"id\": ID, \"logits\"|\"probs\": [..], \"pred\": c}, records;\n"
"                         scores or a class only (one-hot).  With one --as, all\n"
"                         files go to NAME (e.g. one per split); with as many\n"
"                         --as as --import, file i goes to the i-th NAME\n"
"      --id-key KEY       the id member of JSON entries (default id)\n"
"      --import-field F   prediction field of a record stream (default NAME)\n"
"      --import-classes L class names in class order, for scores keyed by name\n"
"                         (e.g. No,Yes: class 1 = Yes)\n"
"      --import-order L   for scores in arrays in another order: the file's\n"
"                         column of each of our classes (e.g. 1,0 swaps two)\n"
"      --classes N        with --import: the class count; rows of another\n"
"                         length are skipped (default: the most common length)\n"
"      --class-from W     scores: the argmax of the scores, a null pred means\n"
"                         no prediction (default); pred: the file's class where\n"
"                         given; argmax: the argmax, null preds included\n"
"      --max-bad F        refuse a file of which more than a fraction F of the\n"
"                         entries are unusable (default %g)\n"
"      --max-unmatched F  refuse files of which more than a fraction F of the\n"
"                         ids are not in the stream (default %g)\n"
"      --strict           as --max-unmatched 0\n"
"\n"
"  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
"      --force            write binary records to a terminal\n"
"  -q, --quiet            no summary on stderr\n"
"  -h, --help             this help\n"
"  -V, --version          version\n",
		d.C, d.max_iter, d.hidden, d.layers, d.epochs, d.batch, (double)d.lr,
		(double)d.weight_decay, (double)d.dropout, MM_IMPORT_MAX_BAD, MM_IMPORT_MAX_UNMATCHED);
}

enum {
	O_CLASSES = 256, O_INSAMPLE, O_MAXITER, O_HIDDEN, O_LAYERS, O_EPOCHS, O_BATCH,
	O_LR, O_L2, O_DROPOUT, O_CLASSW, O_NOSTD, O_DROP, O_BALANCE, O_IMPORT,
	O_IFIELD, O_ICLASSES, O_CLASSFROM, O_STRICT, O_FORCE, O_IDKEY, O_MAXBAD, O_MAXUNM, O_AS, O_IORDER,
};

static const struct option longopts[] = {
	CLI_OPT_FEATURE,
	{ "features", required_argument, 0, 'f' },
	{ "as", required_argument, 0, O_AS },
	CLI_OPT_LABEL,
	{ "classes", required_argument, 0, O_CLASSES },
	{ "folds", required_argument, 0, 'k' },
	{ "in-sample", no_argument, 0, O_INSAMPLE },
	{ "model", required_argument, 0, 'm' },
	{ "C", required_argument, 0, 'C' },
	{ "max-iter", required_argument, 0, O_MAXITER },
	{ "hidden", required_argument, 0, O_HIDDEN },
	{ "layers", required_argument, 0, O_LAYERS },
	{ "epochs", required_argument, 0, O_EPOCHS },
	{ "batch", required_argument, 0, O_BATCH },
	{ "lr", required_argument, 0, O_LR },
	{ "l2", required_argument, 0, O_L2 },
	{ "dropout", required_argument, 0, O_DROPOUT },
	{ "class-weights", no_argument, 0, O_CLASSW },
	{ "no-standardize", no_argument, 0, O_NOSTD },
	CLI_OPT_SEED,
	CLI_OPT_THREADS,
	{ "drop-margin", required_argument, 0, O_DROP },
	{ "balance", required_argument, 0, O_BALANCE },
	{ "import", required_argument, 0, O_IMPORT },
	{ "import-field", required_argument, 0, O_IFIELD },
	{ "import-classes", required_argument, 0, O_ICLASSES },
	{ "class-from", required_argument, 0, O_CLASSFROM },
	{ "strict", no_argument, 0, O_STRICT },
	{ "id-key", required_argument, 0, O_IDKEY },
	{ "import-order", required_argument, 0, O_IORDER },
	{ "max-bad", required_argument, 0, O_MAXBAD },
	{ "max-unmatched", required_argument, 0, O_MAXUNM },
	CLI_OPT_OUTPUT,
	{ "force", no_argument, 0, O_FORCE },
	CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
	{ 0, 0, 0, 0 },
};
static const cli_moved moved[] = {
	{ 'a', "is now --pred-a elsewhere; for the output field use --as" },
	{ 't', "is now --types elsewhere; for threads use -j/--threads" },
	{ 0, NULL },
};

/* Everything read from the input (lib/loader.h), and the predictions. */
typedef struct data {
	mm_loaded_all L; /* every record, its split, label and feature */
	float *P;        /* n × C probabilities */
	int *cls;        /* class, -1: no prediction */
	int C;
} data;

static void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		cli_die(MM_EXIT_USAGE, "out of memory");
	void *q = realloc(p, n && size ? n * size : 1);
	if (!q)
		cli_die(MM_EXIT_USAGE, "out of memory (%zu bytes)", n * size);
	return q;
}

static char *cat2(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xrealloc(NULL, la + lb + 1, 1);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* One model fit for mm_crossfit: fold k of K (trained on the other folds,
 * predicting fold k into probs), or the full model (k == K: trained on
 * every training record, predicting the rest, or everything with
 * --in-sample, straight into D->P).  Indices are into the training rows
 * ti[0..nt).  Each fit depends only on its data and its seed, and writes
 * rows no other fit writes: the output is the same for any -j. */
typedef struct job_ctx {
	data *D;
	const mm_clf_params *cp;
	int K;
	bool insample;
	const size_t *ti;   /* training rows */
	const int *ty;
	size_t nt;
	mm_rng root;
} job_ctx;

static mm_status fit_job(void *ctx, int k, const size_t *train, size_t m,
		const size_t *test, size_t ntest, float *probs, mm_err *e)
{
	job_ctx *c = ctx;
	data *D = c->D;
	const mm_loaded_all *L = &D->L;
	bool sparse = L->kind == MM_FEAT_SPARSE;
	size_t d = L->dim, C = (size_t)D->C;
	bool full = k == c->K;
	mm_clf_params p = *c->cp;
	mm_rng g = mm_rng_split(&c->root, full ? SEED_FULL : SEED_FOLD0 + (uint64_t)k);
	p.seed = mm_rng_u64(&g);
	float *X = sparse ? NULL : malloc((m ? m : 1) * d * sizeof *X);
	size_t *fr = malloc((m ? m : 1) * sizeof *fr);
	int *y = malloc((m ? m : 1) * sizeof *y);
	if ((!X && !sparse) || !fr || !y) {
		free(X), free(fr), free(y);
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu x %zu features)", m, d);
	}
	for (size_t j = 0; j < m; j++) {
		if (X)
			memcpy(X + j * d, L->X + c->ti[train[j]] * d, d * sizeof *X);
		fr[j] = c->ti[train[j]];
		y[j] = c->ty[train[j]];
	}
	mm_clf *model;
	mm_status st = sparse ? mm_clf_train_sparse(&model, &L->S, fr, m, y, D->C, &p, e)
		: mm_clf_train(&model, X, y, m, d, D->C, &p, e);
	free(X), free(fr), free(y);
	if (st)
		return mm_err_prefix(e, full ? "training the full model" : "training");
	/* rows to predict: fold k, or for the full model every row that is not
	 * a training row (all rows with --in-sample) */
	size_t *rows = malloc((L->n ? L->n : 1) * sizeof *rows), r = 0;
	bool *is_tr = full ? calloc(L->n ? L->n : 1, sizeof *is_tr) : NULL;
	if (!rows || (full && !is_tr)) {
		free(rows), free(is_tr);
		mm_clf_free(model);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	if (!full) {
		for (size_t i = 0; i < ntest; i++)
			rows[r++] = c->ti[test[i]];
	} else {
		for (size_t j = 0; j < c->nt && !c->insample; j++)
			is_tr[c->ti[j]] = true;
		for (size_t i = 0; i < L->n; i++)
			if (!is_tr[i])
				rows[r++] = i;
		free(is_tr);
	}
	float *Xp = sparse ? NULL : malloc((r ? r : 1) * d * sizeof *Xp);
	float *P = full ? malloc((r ? r : 1) * C * sizeof *P) : probs;
	if ((!Xp && !sparse) || !P) {
		free(Xp), free(rows);
		if (full)
			free(P);
		mm_clf_free(model);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < r && Xp; i++)
		memcpy(Xp + i * d, L->X + rows[i] * d, d * sizeof *Xp);
	if (r && sparse)
		st = mm_clf_predict_sparse(model, &L->S, rows, r, P, e);
	else if (r)
		st = mm_clf_predict(model, Xp, r, P, e);
	for (size_t i = 0; i < r && full && st == MM_OK; i++)
		memcpy(D->P + rows[i] * C, P + i * C, C * sizeof *P);
	free(Xp), free(rows);
	if (full)
		free(P);
	mm_clf_free(model);
	return st;
}

/* Cross-fitted predictions for the training rows, full-model ones elsewhere. */
static void train_predict(data *D, const mm_clf_params *cp, int K, bool insample,
		uint64_t seed, int threads, const char *feat, const char *as)
{
	size_t n = D->L.n, nt = D->L.ntrain;
	int C = D->C;
	size_t *ti = xrealloc(NULL, nt, sizeof *ti);
	int *ty = xrealloc(NULL, nt, sizeof *ty);
	nt = 0;
	for (size_t i = 0; i < n; i++)
		if (D->L.train[i] && D->L.y[i] >= 0) {
			ti[nt] = i;
			ty[nt++] = D->L.y[i];
		}
	if (!insample && nt < (size_t)K)
		cli_die(MM_EXIT_DATA, "%zu training records are fewer than the %d folds (--folds)", nt, K);

	job_ctx c = { .D = D, .cp = cp, .K = K, .insample = insample, .ti = ti, .ty = ty, .nt = nt };
	mm_rng_seed(&c.root, seed);
	double t0 = mm_now();
	mm_err e;
	if (insample) {
		size_t *all = xrealloc(NULL, nt, sizeof *all);
		for (size_t j = 0; j < nt; j++)
			all[j] = j;
		if (fit_job(&c, K, all, nt, NULL, 0, NULL, &e))
			cli_die_err(&e);
		free(all);
	} else {
		/* out-of-fold rows of the training records, then into place */
		float *oof = xrealloc(NULL, nt * (size_t)C, sizeof *oof);
		mm_rng fr = mm_rng_split(&c.root, SEED_FOLDS);
		if (mm_crossfit(nt, ty, C, K, mm_rng_u64(&fr), true, fit_job, &c, threads, oof, NULL, &e))
			cli_die_err(&e);
		for (size_t j = 0; j < nt; j++)
			memcpy(D->P + ti[j] * (size_t)C, oof + j * (size_t)C, (size_t)C * sizeof *oof);
		free(oof);
	}

	size_t correct = 0;
	for (size_t i = 0; i < n; i++)
		D->cls[i] = (int)mm_vec_argmax(D->P + i * (size_t)C, (size_t)C);
	for (size_t j = 0; j < nt; j++)
		correct += D->cls[ti[j]] == ty[j];
	if (!cli_quiet) {
		char how[48];
		if (insample)
			snprintf(how, sizeof how, "in-sample");
		else
			snprintf(how, sizeof how, "%d-fold out-of-fold", K);
		fprintf(stderr, "%s: %s: %s on %s [%zu], %d classes, seed %llu: %zu training records "
			"(%s, accuracy %.4f), %zu other records from the full model; %.2f s\n",
			cli_prog, as, cp->model == MM_CLF_MLP ? "mlp" : "logreg", feat, D->L.dim, C,
			(unsigned long long)seed, nt, how, (double)correct / (double)nt, n - nt,
			mm_now() - t0);
	}
	free(ti), free(ty);
}

/* One output field of an import: its files (several: e.g. one per split). */
typedef struct import_field {
	const char *as;
	char **paths;
	int npaths;
	float *P;
	int *cls;
	int C;
} import_field;

/* Parse the files of one field and join them to the records by id; the
 * checks and the counting are mm_import_parse and mm_import_join's. */
static void import_predict(data *D, import_field *F, mm_import_opts io, double max_unmatched)
{
	mm_import *im = xrealloc(NULL, (size_t)F->npaths, sizeof *im);
	mm_err e;
	for (int f = 0; f < F->npaths; f++) {
		char *buf;
		size_t len;
		if (mm_read_file(F->paths[f], 0, &buf, &len, &e))
			cli_die_err(&e);
		if (mm_import_parse(buf, len, F->paths[f], &io, &im[f], &e))
			cli_die_err(&e);
		free(buf);
		if (!io.nclass)  /* the first file fixes the class count of the others */
			io.nclass = im[f].nclass;
		mm_import *m = &im[f];
		if (!cli_quiet) {
			fprintf(stderr, "%s: %s: %zu predictions from %s (%s, %d classes, class from %s)",
				cli_prog, F->as, m->n - m->null_pred, F->paths[f], m->format, m->nclass,
				mm_import_class_desc(io.class_from));
			if (m->null_pred)
				fprintf(stderr, ", %zu entries with a null pred", m->null_pred);
			if (m->class_only)
				fprintf(stderr, ", %zu entries with a class only (one-hot)", m->class_only);
			if (m->no_field)
				fprintf(stderr, ", %zu records without \"%s\"", m->no_field, io.field);
			if (m->no_id)
				fprintf(stderr, ", %zu records without an id", m->no_id);
			fputc('\n', stderr);
		}
		/* not hidden by -q: a file whose classes and scores disagree, or
		 * entries that were skipped */
		if (m->pred_differs)
			fprintf(stderr, "%s: warning: %s: %zu of %zu entries have a pred that is not the argmax "
				"of their scores; %s\n", cli_prog, F->paths[f], m->pred_differs, m->read,
				io.class_from == MM_IMPORT_CLASS_PRED ? "the pred is used (--class-from pred)" :
				"the scores win (--class-from pred to follow the file)");
		if (m->bad_length + m->nonfinite + m->dup_entries)
			fprintf(stderr, "%s: warning: %s: %zu of %zu entries skipped (%zu of the wrong length, "
				"%zu with a non-finite value, %zu under an id given more than once); the first: %s\n",
				cli_prog, F->paths[f], m->bad_length + m->nonfinite + m->dup_entries, m->read,
				m->bad_length, m->nonfinite, m->dup_entries, m->first_bad);
	}
	F->C = im[0].nclass;
	F->P = xrealloc(NULL, D->L.n * (size_t)F->C, sizeof *F->P);
	F->cls = xrealloc(NULL, D->L.n, sizeof *F->cls);
	const char **ids = xrealloc(NULL, D->L.n, sizeof *ids);
	for (size_t i = 0; i < D->L.n; i++)
		ids[i] = mm_rec_id(D->L.rec[i]);
	mm_join_report jr;
	if (mm_import_join(im, F->npaths, (const char *const *)F->paths, ids, D->L.n, F->P, F->cls,
			max_unmatched, &jr, &e))
		cli_die_err(&e);
	if (!cli_quiet) {
		fprintf(stderr, "%s: %s: %zu records: %zu with a prediction, %zu without "
			"(%zu ids not in the import, %zu null pred, %zu without an id); "
			"%zu ids of the import not in the stream",
			cli_prog, F->as, D->L.n, jr.matched, D->L.n - jr.matched, jr.absent, jr.null_pred, jr.no_id,
			jr.unknown);
		if (jr.first_unknown)
			fprintf(stderr, " (first \"%s\" in %s)", jr.first_unknown,
				F->paths[jr.first_unknown_file]);
		fputc('\n', stderr);
	}
	free(ids);
	for (int f = 0; f < F->npaths; f++)
		mm_import_free(&im[f]);
	free(im);
}

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-unipred");
	mm_clf_params cp;
	mm_clf_params_default(&cp);
	const char *feat = NULL, *as = NULL, *label = "label", *out = NULL;
	/* the option lists live for the whole run; static, so that a usage error
	 * exiting from anywhere below leaves them reachable, not leaked */
	static char **imp = NULL, **asv = NULL;
	int nimp = 0, nas = 0;
	const char *ifield = NULL, *iclasses = NULL, *idkey = NULL, *iorder = NULL;
	double max_bad = MM_IMPORT_MAX_BAD, max_unmatched = MM_IMPORT_MAX_UNMATCHED;
	int K = 5, C = 0, threads = 1;
	bool insample = false, strict = false, force = false;
	double drop = -1, balance = 0;
	uint64_t seed = 1;
	mm_import_class from = MM_IMPORT_CLASS_SCORES;
	int c;
	while ((c = cli_getopt(argc, argv, longopts, moved)) != -1) {
		switch (c) {
		case 'f': feat = cli_field("--feature", optarg); break;
		case O_AS:
			asv = xrealloc(asv, (size_t)nas + 1, sizeof *asv);
			as = asv[nas++] = optarg;
			break;
		case 'l': label = cli_field("--label", optarg); break;
		case O_CLASSES: C = (int)cli_int("--classes", optarg, 2, 1000000); break;
		case 'k': K = (int)cli_int("--folds", optarg, 2, 1000); break;
		case O_INSAMPLE: insample = true; break;
		case 'm':
			if (!strcmp(optarg, "logreg"))
				cp.model = MM_CLF_LOGREG;
			else if (!strcmp(optarg, "mlp"))
				cp.model = MM_CLF_MLP;
			else
				cli_usage("option --model: '%s' is not logreg or mlp", optarg);
			break;
		case 'C': cp.C = cli_double("-C", optarg, 1e-12, 1e12); break;
		case O_MAXITER: cp.max_iter = (int)cli_int("--max-iter", optarg, 1, 1000000); break;
		case O_HIDDEN: cp.hidden = (int)cli_int("--hidden", optarg, 1, 1 << 20); break;
		case O_LAYERS: cp.layers = (int)cli_int("--layers", optarg, 0, 64); break;
		case O_EPOCHS: cp.epochs = (int)cli_int("--epochs", optarg, 1, 1000000); break;
		case O_BATCH: cp.batch = (int)cli_int("--batch", optarg, 1, 1 << 20); break;
		case O_LR: cp.lr = (float)cli_double("--lr", optarg, 1e-12, 100); break;
		case O_L2: cp.weight_decay = (float)cli_double("--l2", optarg, 0, 100); break;
		case O_DROPOUT: cp.dropout = (float)cli_double("--dropout", optarg, 0, 0.99); break;
		case O_CLASSW: cp.balanced = true; break;
		case O_NOSTD: cp.standardize = false; break;
		case 's': seed = cli_u64("--seed", optarg); break;
		case 'j': threads = (int)cli_int("--threads", optarg, 1, 1024); break;
		case O_DROP: drop = cli_double("--drop-margin", optarg, 0, 1); break;
		case O_BALANCE: balance = cli_double("--balance", optarg, 0, 0.5); break;
		case O_IMPORT:
			imp = xrealloc(imp, (size_t)nimp + 1, sizeof *imp);
			imp[nimp++] = optarg;
			break;
		case O_IFIELD: ifield = optarg; break;
		case O_ICLASSES: iclasses = optarg; break;
		case O_CLASSFROM:
			if (!strcmp(optarg, "scores"))
				from = MM_IMPORT_CLASS_SCORES;
			else if (!strcmp(optarg, "pred"))
				from = MM_IMPORT_CLASS_PRED;
			else if (!strcmp(optarg, "argmax"))
				from = MM_IMPORT_CLASS_ARGMAX;
			else
				cli_usage("option --class-from: '%s' is not scores, pred or argmax", optarg);
			break;
		case O_STRICT: strict = true; break;
		case O_IORDER: iorder = optarg; break;
		case O_IDKEY:
			if (!*optarg)
				cli_usage("option --id-key: empty key");
			idkey = optarg;
			break;
		case O_MAXBAD: max_bad = cli_double("--max-bad", optarg, 0, 1); break;
		case O_MAXUNM: max_unmatched = cli_double("--max-unmatched", optarg, 0, 1); break;
		case 'o': out = optarg; break;
		case O_FORCE: force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (argc - optind > 1)
		cli_usage("at most one input file, got %d", argc - optind);
	const char *in = optind < argc ? argv[optind] : NULL;
	if (imp && feat)
		cli_usage("--import and --features exclude each other");
	if (!imp && !feat)
		cli_usage("give --features FIELD (or --import FILE)");
	if (!imp && (ifield || iclasses || strict || idkey || iorder))
		cli_usage("--import-field, --import-classes, --import-order, --id-key and --strict need --import");
	if (iorder && iclasses)
		cli_usage("--import-order (scores in arrays) and --import-classes (scores keyed by name) exclude each other");
	if (nas > 1 && (!imp || nas != nimp))
		cli_usage("%d --as for %d --import: give one --as, or one per --import", nas, nimp);
	if (nas > 1 && (drop >= 0 || balance > 0))
		cli_usage("--drop-margin and --balance take a single --as");
	if (nas > 1 && ifield)
		cli_usage("--import-field takes a single --as");
	for (int i = 0; i < nas; i++)
		for (int j = 0; j < i; j++)
			if (!strcmp(asv[i], asv[j]))
				cli_usage("option --as: '%s' given twice", asv[i]);
	if (strict)
		max_unmatched = 0;
	char *as_own = NULL;
	if (!as) {
		if (feat)
			as = as_own = cat2("pred_", feat);
		else if (ifield)
			as = ifield;
		else
			cli_usage("--import needs --as NAME (the output field)");
	}
	{
		const char *reads[] = {feat, label};
		cli_output_field("--as", as, reads, 2);
		for (int i = 0; i < nas; i++)
			cli_output_field("--as", asv[i], reads, 2);
	}
	const char *msg = mm_clf_params_check(&cp);
	if (msg)
		cli_usage("%s", msg);
	/* Parallelism is across model fits (-t); BLAS threads would only
	 * oversubscribe the cores. */
	cli_set_threads(1);
	if (!out)
		cli_check_binary_stdout(force);

	char **cnames = NULL;
	size_t ncnames = 0;
	if (iclasses) {
		cnames = cli_split(iclasses, ',', &ncnames);
		size_t commas = 0;
		for (const char *q = iclasses; *q; q++)
			commas += *q == ',';
		if (ncnames != commas + 1)
			cli_usage("option --import-classes: empty class name in '%s'", iclasses);
		if (ncnames < 2)
			cli_usage("option --import-classes: need at least 2 class names, got '%s'", iclasses);
	}

	int *order = NULL;
	size_t norder = 0;
	if (iorder) {
		char **ov = cli_split(iorder, ',', &norder);
		if (norder < 2)
			cli_usage("option --import-order: need at least 2 columns, got '%s'", iorder);
		order = xrealloc(NULL, norder, sizeof *order);
		int twice = -1;
		for (size_t c = 0; c < norder && twice < 0; c++) {
			order[c] = (int)cli_int("--import-order", ov[c], 0, (long long)norder - 1);
			for (size_t j = 0; j < c; j++)
				if (order[j] == order[c])
					twice = order[c];
		}
		free(ov[0]);
		free(ov);
		if (twice >= 0) {
			free(order);
			cli_usage("option --import-order: column %d given twice in '%s' (a permutation of 0..%zu)",
				twice, iorder, norder - 1);
		}
		if (C && (size_t)C != norder)
			cli_usage("--classes %d, but --import-order lists %zu columns", C, norder);
	}

	/* Read everything: every record, its split and, to train, its label
	 * and feature. */
	data D = { 0 };
	mm_err e;
	mm_reader *rd;
	mm_load_params lp;
	mm_load_params_default(&lp);
	lp.nfeat = imp ? 0 : 1;
	lp.feat[0] = feat;
	lp.target = imp ? NULL : label;
	lp.nclasses = C;
	if (mm_reader_open(&rd, in, &e))
		cli_die_err(&e);
	cli_set_input(mm_reader_name(rd));
	if (mm_load_all(&D.L, rd, &lp, &e))
		cli_die_err(&e);
	mm_reader_close(rd);

	int nfield = nas > 1 ? nas : 1;
	import_field *F = calloc((size_t)nfield, sizeof *F);
	if (!F)
		cli_die(MM_EXIT_USAGE, "out of memory");
	if (imp) {
		if (C && iclasses && (size_t)C != ncnames)
			cli_usage("--classes %d, but --import-classes names %zu classes", C, ncnames);
		for (int f = 0; f < nfield; f++) {
			F[f].as = nas > 1 ? asv[f] : as;
			F[f].paths = nas > 1 ? imp + f : imp;
			F[f].npaths = nas > 1 ? 1 : nimp;
			mm_import_opts io = {
				.class_names = (const char *const *)cnames, .nclass_names = (int)ncnames,
				.nclass = C, .order = order, .norder = (int)norder,
				.id_key = idkey, .field = ifield ? ifield : F[f].as,
				.class_from = from, .max_bad = max_bad,
			};
			import_predict(&D, &F[f], io, max_unmatched);
		}
		D.P = F[0].P;
		D.cls = F[0].cls;
		D.C = F[0].C;
	} else {
		D.C = D.L.nclass;
		if (balance > 0 && D.C != 2)
			cli_die(MM_EXIT_DATA, "--balance needs binary predictions, %s has %d classes", as, D.C);
		D.P = xrealloc(NULL, D.L.n * (size_t)D.C, sizeof *D.P);
		D.cls = xrealloc(NULL, D.L.n, sizeof *D.cls);
		train_predict(&D, &cp, K, insample, seed, threads, feat, as);
		F[0] = (import_field){ .as = as, .P = D.P, .cls = D.cls, .C = D.C };
	}

	/* Training-split options.  Train-split records that carry a prediction. */
	size_t ntr = 0;
	for (size_t i = 0; i < D.L.n; i++)
		ntr += D.L.train[i] && D.cls[i] >= 0;
	bool *dropped = calloc(D.L.n ? D.L.n : 1, sizeof *dropped);
	if (!dropped)
		cli_die(MM_EXIT_USAGE, "out of memory");
	if (drop >= 0) {
		size_t nd = 0;
		for (size_t i = 0; i < D.L.n; i++)
			if (D.L.train[i] && D.cls[i] >= 0 &&
					mm_unipred_margin(D.P + i * (size_t)D.C, D.C) <= drop + MARGIN_EPS) {
				dropped[i] = true;
				nd++;
			}
		if (!cli_quiet)
			fprintf(stderr, "%s: %s: drop-margin %g: %zu of %zu train predictions marked %s_drop\n",
				cli_prog, as, drop, nd, ntr, as);
	}
	if (balance > 0) {
		if (D.C != 2)
			cli_die(MM_EXIT_DATA, "--balance needs binary predictions, %s has %d classes", as, D.C);
		float *pp = xrealloc(NULL, ntr ? ntr : 1, sizeof *pp);
		int *cc = xrealloc(NULL, ntr ? ntr : 1, sizeof *cc);
		size_t j = 0;
		for (size_t i = 0; i < D.L.n; i++)
			if (D.L.train[i] && D.cls[i] >= 0) {
				pp[j] = D.P[i * 2 + 1];
				cc[j++] = D.cls[i];
			}
		mm_balance_report br;
		if (mm_unipred_balance(pp, cc, ntr, balance, &br, &e))
			cli_die_err(&e);
		j = 0;
		for (size_t i = 0; i < D.L.n; i++)
			if (D.L.train[i] && D.cls[i] >= 0)
				D.cls[i] = cc[j++];
		if (!cli_quiet) {
			double f = ntr ? 100.0 * (double)br.pos_before / (double)ntr : 0;
			if (br.direction > 0)
				fprintf(stderr, "%s: %s: balance %g: %zu of %zu train predictions positive (%.1f%%) "
					"< %g%%: the top %zu by P(class 1) set to 1 (%zu changed, now %zu positive)\n",
					cli_prog, as, balance, br.pos_before, ntr, f, 100 * balance, br.k,
					br.changed, br.pos_after);
			else if (br.direction < 0)
				fprintf(stderr, "%s: %s: balance %g: %zu of %zu train predictions positive (%.1f%%) "
					"> %g%%: the bottom %zu by P(class 1) set to 0 (%zu changed, now %zu positive)\n",
					cli_prog, as, balance, br.pos_before, ntr, f, 100 * (1 - balance), br.k,
					br.changed, br.pos_after);
			else
				fprintf(stderr, "%s: %s: balance %g: %zu of %zu train predictions positive (%.1f%%): "
					"nothing to change\n", cli_prog, as, balance, br.pos_before, ntr, f);
		}
		free(pp);
		free(cc);
	}

	/* Write. */
	char **f_class = xrealloc(NULL, (size_t)nfield, sizeof *f_class), *f_drop = cat2(as, "_drop");
	for (int f = 0; f < nfield; f++)
		f_class[f] = cat2(F[f].as, "_class");
	mm_writer *w;
	if (mm_writer_open(&w, out, MM_LEVEL_DEFAULT, &e))
		cli_die_err(&e);
	for (size_t i = 0; i < D.L.n; i++) {
		mm_rec *r = D.L.rec[i];
		mm_rec_del(r, f_drop);
		for (int f = 0; f < nfield; f++) {
			const import_field *x = &F[f];
			if (x->cls[i] < 0) {
				mm_rec_del(r, x->as);
				mm_rec_del(r, f_class[f]);
			} else if (mm_rec_set_vec(r, x->as, x->P + i * (size_t)x->C, (size_t)x->C, &e) ||
					mm_rec_set_int(r, f_class[f], x->cls[i], &e)) {
				cli_die_err(&e);
			}
		}
		if (dropped[i] && mm_rec_set_bool(r, f_drop, true, &e)) {
			cli_die_err(&e);
		}
		if (mm_writer_put(w, r, &e))
			cli_die_err(&e);
		mm_rec_free(r);
		D.L.rec[i] = NULL;
	}
	if (mm_writer_close(w, &e))
		cli_die_err(&e);

	for (int f = 0; f < nfield; f++)
		free(f_class[f]);
	for (int f = 1; f < nfield; f++)
		free(F[f].P), free(F[f].cls);
	free(f_class), free(f_drop), free(dropped), free(as_own), free(imp), free(asv), free(F), free(order);
	if (cnames) {
		free(cnames[0]);
		free(cnames);
	}
	mm_loaded_all_free(&D.L);
	free(D.P), free(D.cls);
	return cli_finish();
}
