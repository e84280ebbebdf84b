/* mmoe-encode-text — tokenise a text field and write text feature tensors.
 *
 * Records go through the ordered map of lib/pool.h: read here, tokenised and
 * encoded on -j threads (each worker with its own encoder caches), written in
 * input order, so the output does not depend on -j.  Errors are reported for
 * the first bad record in input order.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "pool.h"
#include "record.h"
#include "stream.h"
#include "text.h"
#include "tfidf.h"

#define MAXENC 8

enum { ENC_HASH, ENC_GLOVE, ENC_TFIDF };
static const char *const enc_name[] = {"hash", "glove", "tfidf"};

typedef struct encspec {
	int kind;
	char *as;      /* pooled field; tokens in <as>_tok */
	char *as_tok;
	uint32_t dim;
} encspec;

static struct {
	encspec enc[MAXENC];
	int nenc;
	const char *field;
	bool tokens, l2, replace, force, print_tokens, print_features;
	size_t max_tokens;
	mm_hashenc_params hp;
	const char *table;
	mm_glove_weight weight;
	mm_tfidf_params tp;
	bool tp_set;         /* a --bits/--words/--chars/--seed option was given */
	const char *fit_idf, *idf_file;
	int threads, level;
	const char *out;
} opt = {.field = "text", .l2 = true, .max_tokens = 64, .weight = MM_GLOVE_ZIPF, .threads = 1};

static mm_glove *glove;
static float *idf;           /* --weight tfidf */
static mm_tfidf tfidf;       /* -e tfidf: the table of --idf */

/* One item of the map: the record, its text and the encoders' outputs (the
 * buffers are the slot's, reused from record to record). */
typedef struct slot {
	mm_rec *rec;
	const char *text;
	size_t len;
	mm_status st;
	mm_err err;
	size_t ntok;
	float *pooled[MAXENC], *tok[MAXENC];
	mm_sparse sp[MAXENC];  /* -e tfidf */
	char *toks;          /* --print-tokens / --print-features: the lines to print */
	size_t toks_len;
} slot;

typedef struct worker {
	mm_tokens t;
	mm_hashenc *hash;
	mm_tfidf_work tw;
	mm_glove_stats gst;
	uint64_t ntokens;
} worker;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: mmoe-encode-text [OPTION]... [FILE]\n"
"Tokenise a text field of each record and add text feature tensors.\n"
"\n"
"  -e, --encoder ENC      hash, glove or tfidf (repeatable; default hash)\n"
"      --as NAME          output field of the last -e (default t_<encoder>)\n"
"      --field NAME       text field to encode (default text)\n"
"      --tokens           also write the token vectors <NAME>_tok [T, D]\n"
"      --max-tokens N     at most N rows in <NAME>_tok (default 64; the pooled\n"
"                         vector always uses every token)\n"
"      --no-l2            do not L2-normalise the pooled vector\n"
"      --replace-invalid  replace invalid UTF-8 by U+FFFD instead of failing\n"
"      --print-tokens     print \"id<TAB>tokens\" lines instead of records\n"
"      --print-features   tfidf: print \"id<TAB>bucket<TAB>sign<TAB>count<TAB>feature\"\n"
"                         lines (one per distinct feature) instead of records\n"
"hash encoder:\n"
"      --seed N           hash seed (hash and tfidf; default 1)\n"
"      --buckets N        table rows, N or 2^K (default 2^18)\n"
"      --dim N            dimension (default 64)\n"
"      --minn N, --maxn N character n-gram lengths (default 3, 5; --maxn 0: none)\n"
"      --bigrams          add hashed word bigrams\n"
"tfidf encoder (sparse; the IDF is fitted first, in a separate run):\n"
"      --fit-idf FILE     count document frequencies over the records with\n"
"                         split \"train\" and write the IDF table to FILE\n"
"                         (no records are written)\n"
"      --idf FILE         encode with the table of FILE (its hashing settings)\n"
"      --bits K           2^K hashed buckets, K <= 24 (default 20)\n"
"      --words N          word n-grams 1..N (default 2)\n"
"      --chars MIN,MAX    add character n-grams of MIN..MAX (default none)\n"
"glove encoder:\n"
"      --table FILE       table made by mmoe-glove-table (default $MMOE_GLOVE_TABLE)\n"
"      --weight W         none, zipf (default: IDF from the table's frequency rank)\n"
"                         or tfidf (IDF from the input's train split: reads FILE\n"
"                         twice, so FILE must not be stdin)\n"
"\n"
"  -j, --threads N        encoding threads (default 1)\n"
"  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
"      --level N          zstd level, 0 = plain msgpack, negative = fast (default:\n"
"                         MMOE_ZSTD_LEVEL or -1: float features compress little)\n"
"      --force            write binary records to a terminal\n"
"  -q, --quiet            no summary on stderr\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"Exit status: 0 ok, 1 bad data, 2 usage, I/O or system error.\n");
}

static uint64_t parse_buckets(const char *s)
{
	if (strncmp(s, "2^", 2) == 0) {
		long long k = cli_int("--buckets", s + 2, 0, 40);
		return (uint64_t)1 << k;
	}
	uint64_t v = cli_u64("--buckets", s);
	if (v < 1 || v > ((uint64_t)1 << 40))
		cli_usage("option --buckets: %s is out of range [1, 2^40]", s);
	return v;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		cli_die(MM_EXIT_USAGE, "out of memory");
	return p;
}

static char *cat2(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 1;
	char *p = malloc(n);
	if (!p)
		cli_die(MM_EXIT_USAGE, "out of memory");
	snprintf(p, n, "%s%s", a, b);
	return p;
}

/* --print-features: the lines of slot s's features into s->toks. */
static mm_status feature_lines(worker *w, slot *s)
{
	mm_status st = mm_tfidf_features(&opt.tp, &w->t, &w->tw, &s->err);
	if (st)
		return st;
	const char *id = mm_rec_id(s->rec);
	size_t idl = id ? strlen(id) : 0, need = 1;
	for (size_t i = 0; i < w->tw.n; i++)
		need += idl + w->tw.f[i].len + 40;
	free(s->toks);
	if (!(s->toks = malloc(need)))
		return mm_errf(&s->err, MM_ENOMEM, "out of memory");
	s->toks_len = 0;
	for (size_t i = 0; i < w->tw.n; i++) {
		const mm_tfidf_feat *f = &w->tw.f[i];
		s->toks_len += (size_t)snprintf(s->toks + s->toks_len, need - s->toks_len,
			"%s\t%u\t%c\t%u\t%.*s\n", id ? id : "", mm_tfidf_bucket(&opt.tp, f->h),
			mm_tfidf_sign(f->h) > 0 ? '+' : '-', f->count, (int)f->len, w->tw.text + f->start);
	}
	return MM_OK;
}

/* Encode slot s with this worker's state (sets s->st and s->err). */
static void encode_one(worker *w, slot *s)
{
	s->st = mm_tokenize(s->text, s->len, opt.replace, &w->t, &s->err);
	if (s->st != MM_OK)
		return;
	s->ntok = w->t.n;
	w->ntokens += w->t.n;
	if (opt.print_features) {
		s->st = feature_lines(w, s);
		return;
	}
	if (opt.print_tokens) {
		free(s->toks);
		s->toks = malloc(w->t.len + 1);
		if (!s->toks) {
			s->st = mm_errf(&s->err, MM_ENOMEM, "out of memory");
			return;
		}
		s->toks_len = 0;
		for (size_t k = 0; k < w->t.n; k++) {
			size_t l = mm_tok_len(&w->t, k);
			if (k)
				s->toks[s->toks_len++] = ' ';
			memcpy(s->toks + s->toks_len, mm_tok(&w->t, k), l);
			s->toks_len += l;
		}
		return;
	}
	for (int k = 0; k < opt.nenc && s->st == MM_OK; k++) {
		float *tok = opt.tokens ? s->tok[k] : NULL;
		if (opt.enc[k].kind == ENC_HASH)
			mm_hashenc_encode(w->hash, &w->t, tok, opt.max_tokens, s->pooled[k], opt.l2);
		else if (opt.enc[k].kind == ENC_TFIDF)
			s->st = mm_tfidf_encode(&tfidf, &w->t, opt.l2, &w->tw, &s->sp[k], &s->err);
		else
			mm_glove_encode(glove, &w->t, opt.weight, idf, tok, opt.max_tokens,
				s->pooled[k], opt.l2, &w->gst);
	}
}

/* Fetch the text field of r (ptr/len into the record), or fail naming it. */
static mm_status get_text(mm_rec *r, const char **p, size_t *len, mm_err *e)
{
	char where[160];
	const msgpack_object *o = mm_rec_get(r, opt.field);
	if (!o)
		return mm_errf(e, MM_MISSING, "%s: field \"%s\": missing (the text to encode; see --field)",
			mm_rec_where(r, where, sizeof where), opt.field);
	if (o->type != MSGPACK_OBJECT_STR)
		return mm_errf(e, MM_ETYPE, "%s: field \"%s\": expected a string, got %s",
			mm_rec_where(r, where, sizeof where), opt.field, mm_obj_typename(o));
	*p = o->via.str.size ? o->via.str.ptr : "";
	*len = o->via.str.size;
	return MM_OK;
}

/* --weight tfidf: document frequencies over the train split of the file. */
static void build_idf(const char *path, worker *w)
{
	mm_err e;
	mm_reader *rd;
	mm_status st = mm_reader_open(&rd, path, &e);
	if (st != MM_OK)
		cli_die_err(&e);
	mm_glove_df train, all;
	if (mm_glove_df_init(&train, glove, &e) != MM_OK || mm_glove_df_init(&all, glove, &e) != MM_OK)
		cli_die_err(&e);
	mm_rec *r;
	while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
		const char *text, *split = NULL;
		size_t len;
		if ((st = get_text(r, &text, &len, &e)) != MM_OK)
			cli_die_err(&e);
		if ((st = mm_tokenize(text, len, opt.replace, &w->t, &e)) != MM_OK) {
			char where[160];
			mm_err_prefix(&e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), opt.field);
			cli_die_err(&e);
		}
		const msgpack_object *so = mm_rec_get(r, "split");
		if (so && so->type == MSGPACK_OBJECT_STR && so->via.str.size == 5
				&& memcmp(so->via.str.ptr, "train", 5) == 0)
			split = "train";
		if (split)
			mm_glove_df_add(&train, glove, &w->t);
		mm_glove_df_add(&all, glove, &w->t);
		mm_rec_free(r);
	}
	if (st != MM_EOF)
		cli_die_err(&e);
	mm_reader_close(rd);
	idf = malloc(mm_glove_size(glove) * sizeof *idf);
	if (!idf)
		cli_die(MM_EXIT_USAGE, "out of memory");
	mm_glove_df *use = train.ndocs ? &train : &all;
	mm_glove_df_idf(use, glove, idf);
	if (!cli_quiet)
		cli_warn("glove: IDF from %llu %s records", (unsigned long long)use->ndocs,
			train.ndocs ? "train" : "(no train split: all)");
	mm_glove_df_free(&train);
	mm_glove_df_free(&all);
}

/* The map's state: the input, the output and one worker per thread. */
typedef struct run {
	mm_reader *rd;
	mm_writer *wr;
	worker *w;
	uint64_t nrec;
} run;

/* read: the next record and its text, the slot's buffers on first use. */
static mm_status map_read(void *ctx, void *item, uint64_t idx, mm_err *e)
{
	(void)idx;
	run *R = ctx;
	slot *s = item;
	mm_rec *r;
	mm_status st = mm_reader_next(R->rd, &r, e);
	if (st != MM_OK)
		return st;
	if ((st = get_text(r, &s->text, &s->len, e)) != MM_OK) {
		mm_rec_free(r);
		return st;
	}
	for (int k = 0; k < opt.nenc && !opt.print_tokens && !opt.print_features; k++) {
		if (opt.enc[k].kind == ENC_TFIDF || s->pooled[k])
			continue;
		s->pooled[k] = malloc(opt.enc[k].dim * sizeof(float));
		s->tok[k] = opt.tokens ? malloc(opt.max_tokens * opt.enc[k].dim * sizeof(float)) : NULL;
		if (!s->pooled[k] || (opt.tokens && !s->tok[k])) {
			mm_rec_free(r);
			return mm_errf(e, MM_ENOMEM, "out of memory");
		}
	}
	s->rec = r;
	return MM_OK;
}

/* work: tokenise and encode on worker `worker`; a failure names the record. */
static mm_status map_work(void *ctx, void *item, uint64_t idx, int worker, mm_err *e)
{
	(void)idx;
	slot *s = item;
	encode_one(&((run *)ctx)->w[worker], s);
	if (s->st != MM_OK) {
		char where[160];
		*e = s->err;
		mm_err_prefix(e, "%s: field \"%s\"", mm_rec_where(s->rec, where, sizeof where), opt.field);
	}
	return s->st;
}

/* write: set the output fields and write the record (or print its lines);
 * the record is freed either way. */
static mm_status map_write(void *ctx, void *item, uint64_t idx, mm_err *e)
{
	(void)idx;
	run *R = ctx;
	slot *s = item;
	mm_status st = MM_OK;
	if (opt.print_features) {
		fwrite(s->toks, 1, s->toks_len, stdout);
	} else if (opt.print_tokens) {
		const char *id = mm_rec_id(s->rec);
		printf("%s\t%.*s\n", id ? id : "", (int)s->toks_len, s->toks ? s->toks : "");
	} else {
		for (int k = 0; k < opt.nenc && st == MM_OK; k++) {
			encspec *es = &opt.enc[k];
			if (es->kind == ENC_TFIDF) {
				st = mm_rec_set_sparse(s->rec, es->as, &s->sp[k], e);
				continue;
			}
			st = mm_rec_set_vec(s->rec, es->as, s->pooled[k], es->dim, e);
			if (st == MM_OK && opt.tokens) {
				int64_t shape[2] = {(int64_t)(s->ntok < opt.max_tokens ? s->ntok : opt.max_tokens),
					(int64_t)es->dim};
				st = mm_rec_set_tensor(s->rec, es->as_tok, s->tok[k], shape, 2, e);
			}
		}
		if (st == MM_OK)
			st = mm_writer_put(R->wr, s->rec, e);
	}
	mm_rec_free(s->rec);
	s->rec = NULL;
	R->nrec += st == MM_OK;
	return st;
}

static void map_drop(void *ctx, void *item, uint64_t idx)
{
	(void)ctx, (void)idx;
	slot *s = item;
	mm_rec_free(s->rec);
	s->rec = NULL;
}

static void map_fini(void *ctx, void *item)
{
	(void)ctx;
	slot *s = item;
	for (int k = 0; k < opt.nenc; k++) {
		free(s->pooled[k]);
		free(s->tok[k]);
		mm_sparse_free(&s->sp[k]);
	}
	free(s->toks);
}

/* --fit-idf: document frequencies over the train split, written as a table. */
static int fit_idf(const char *in)
{
	mm_err e;
	mm_reader *rd;
	if (mm_reader_open(&rd, in, &e) != MM_OK)
		cli_die_err(&e);
	mm_tfidf_df df;
	mm_tokens t = {0};
	mm_tfidf_work tw = {0};
	if (mm_tfidf_df_init(&df, &opt.tp, &e) != MM_OK)
		cli_die_err(&e);
	mm_rec *r;
	mm_status st;
	uint64_t nrec = 0;
	while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
		nrec++;
		const msgpack_object *so = mm_rec_get(r, "split");
		if (!so || so->type != MSGPACK_OBJECT_STR || so->via.str.size != 5 ||
				memcmp(so->via.str.ptr, "train", 5)) {
			mm_rec_free(r);
			continue;
		}
		const char *text;
		size_t len;
		if ((st = get_text(r, &text, &len, &e)) != MM_OK)
			cli_die_err(&e);
		if ((st = mm_tokenize(text, len, opt.replace, &t, &e)) != MM_OK ||
				(st = mm_tfidf_features(&opt.tp, &t, &tw, &e)) != MM_OK ||
				(st = mm_tfidf_df_add(&df, &tw, &e)) != MM_OK) {
			char where[160];
			mm_err_prefix(&e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), opt.field);
			cli_die_err(&e);
		}
		mm_rec_free(r);
	}
	if (st != MM_EOF)
		cli_die_err(&e);
	mm_reader_close(rd);
	if (!df.ndocs)
		cli_die(MM_EXIT_DATA, "no record with split \"train\" among the %llu records: the IDF is "
			"fitted on the training split only", (unsigned long long)nrec);
	if (mm_tfidf_df_write(&df, opt.fit_idf, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet)
		cli_warn("tfidf: IDF of %llu train records (of %llu) over %zu features, 2^%u buckets, word "
			"n-grams 1..%u, char n-grams %u..%u, seed %llu -> %s", (unsigned long long)df.ndocs,
			(unsigned long long)nrec, df.used, opt.tp.bits, opt.tp.words, opt.tp.chars_min,
			opt.tp.chars_max, (unsigned long long)opt.tp.seed, opt.fit_idf);
	mm_tfidf_df_free(&df);
	mm_tfidf_work_free(&tw);
	mm_tokens_free(&t);
	return cli_finish();
}

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-encode-text");
	mm_hashenc_params_default(&opt.hp);
	mm_tfidf_params_default(&opt.tp);
	opt.level = mm_zstd_level_env(MM_LEVEL_TENSORS);
	enum { O_AS = 256, O_FIELD, O_TOKENS, O_MAXTOK, O_NOL2, O_REPLACE, O_PRINT, O_SEED, O_BUCKETS,
		O_DIM, O_MINN, O_MAXN, O_BIGRAMS, O_TABLE, O_WEIGHT, O_PRINTF, O_FITIDF, O_IDF, O_BITS,
		O_WORDS, O_CHARS };
	static const struct option lo[] = {
		{"encoder", required_argument, 0, 'e'}, {"as", required_argument, 0, O_AS},
		{"field", required_argument, 0, O_FIELD}, {"tokens", no_argument, 0, O_TOKENS},
		{"max-tokens", required_argument, 0, O_MAXTOK}, {"no-l2", no_argument, 0, O_NOL2},
		{"replace-invalid", no_argument, 0, O_REPLACE}, {"print-tokens", no_argument, 0, O_PRINT},
		{"seed", required_argument, 0, O_SEED}, {"buckets", required_argument, 0, O_BUCKETS},
		{"dim", required_argument, 0, O_DIM}, {"minn", required_argument, 0, O_MINN},
		{"maxn", required_argument, 0, O_MAXN}, {"bigrams", no_argument, 0, O_BIGRAMS},
		{"table", required_argument, 0, O_TABLE}, {"weight", required_argument, 0, O_WEIGHT},
		{"print-features", no_argument, 0, O_PRINTF}, {"fit-idf", required_argument, 0, O_FITIDF},
		{"idf", required_argument, 0, O_IDF}, {"bits", required_argument, 0, O_BITS},
		{"words", required_argument, 0, O_WORDS}, {"chars", required_argument, 0, O_CHARS},
		CLI_OPT_THREADS, CLI_OPT_OUTPUT, CLI_OPT_FORCE, CLI_OPT_LEVEL, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{0, 0, 0, 0}};
	static const cli_moved moved[] = {
		{'f', "is now --feature elsewhere; to write to a terminal use --force"}, {0, NULL}};
	const char *pending_as = NULL;
	int c;
	while ((c = cli_getopt(argc, argv, lo, moved)) != -1) {
		switch (c) {
		case 'e':
			if (opt.nenc == MAXENC)
				cli_usage("at most %d encoders", MAXENC);
			if (strcmp(optarg, "hash") == 0)
				opt.enc[opt.nenc].kind = ENC_HASH;
			else if (strcmp(optarg, "glove") == 0)
				opt.enc[opt.nenc].kind = ENC_GLOVE;
			else if (strcmp(optarg, "tfidf") == 0)
				opt.enc[opt.nenc].kind = ENC_TFIDF;
			else
				cli_usage("unknown encoder '%s' (hash, glove or tfidf)", optarg);
			if (pending_as) {
				opt.enc[opt.nenc].as = xstrdup(pending_as);
				pending_as = NULL;
			}
			opt.nenc++;
			break;
		case O_AS:
			cli_field("--as", optarg);
			if (opt.nenc == 0) {
				if (pending_as)
					cli_usage("option --as given twice before any -e");
				pending_as = optarg;
			} else {
				if (opt.enc[opt.nenc - 1].as)
					cli_usage("option --as given twice for encoder %d", opt.nenc);
				opt.enc[opt.nenc - 1].as = xstrdup(optarg);
			}
			break;
		case O_FIELD: opt.field = cli_field("--field", optarg); break;
		case O_TOKENS: opt.tokens = true; break;
		case O_MAXTOK: opt.max_tokens = (size_t)cli_int("--max-tokens", optarg, 1, 1 << 20); break;
		case O_NOL2: opt.l2 = false; break;
		case O_REPLACE: opt.replace = true; break;
		case O_PRINT: opt.print_tokens = true; break;
		case O_SEED:
			opt.hp.seed = opt.tp.seed = cli_u64("--seed", optarg);
			opt.tp_set = true;
			break;
		case O_PRINTF: opt.print_features = true; break;
		case O_FITIDF: opt.fit_idf = optarg; break;
		case O_IDF: opt.idf_file = optarg; break;
		case O_BITS:
			opt.tp.bits = (uint32_t)cli_int("--bits", optarg, 1, MM_TFIDF_MAXBITS);
			opt.tp_set = true;
			break;
		case O_WORDS:
			opt.tp.words = (uint32_t)cli_int("--words", optarg, 1, 3);
			opt.tp_set = true;
			break;
		case O_CHARS: {
			char *end;
			unsigned long a = strtoul(optarg, &end, 10), b = a;
			if (*end == ',')
				b = strtoul(end + 1, &end, 10);
			if (*end || a < 1 || a > b || b > 16)
				cli_usage("option --chars: '%s' is not MIN,MAX with 1 <= MIN <= MAX <= 16", optarg);
			opt.tp.chars_min = (uint32_t)a;
			opt.tp.chars_max = (uint32_t)b;
			opt.tp_set = true;
			break;
		}
		case O_BUCKETS: opt.hp.buckets = parse_buckets(optarg); break;
		case O_DIM: opt.hp.dim = (uint32_t)cli_int("--dim", optarg, 1, 4096); break;
		case O_MINN: opt.hp.minn = (uint32_t)cli_int("--minn", optarg, 1, 16); break;
		case O_MAXN: opt.hp.maxn = (uint32_t)cli_int("--maxn", optarg, 0, 16); break;
		case O_BIGRAMS: opt.hp.bigrams = true; break;
		case O_TABLE: opt.table = optarg; break;
		case O_WEIGHT:
			if (strcmp(optarg, "none") == 0)
				opt.weight = MM_GLOVE_NONE;
			else if (strcmp(optarg, "zipf") == 0)
				opt.weight = MM_GLOVE_ZIPF;
			else if (strcmp(optarg, "tfidf") == 0)
				opt.weight = MM_GLOVE_IDF;
			else
				cli_usage("option --weight: '%s' is not none, zipf or tfidf", optarg);
			break;
		case 'j': opt.threads = (int)cli_int("--threads", optarg, 1, 256); break;
		case 'o': opt.out = optarg; break;
		case CLI_FORCE: opt.force = true; break;
		case CLI_LEVEL: opt.level = cli_level(optarg); break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (pending_as)
		cli_usage("option --as given without an encoder (-e)");
	if (argc - optind > 1)
		cli_usage("at most one input file");
	const char *in = optind < argc ? argv[optind] : "-";
	if (opt.nenc == 0) {
		opt.enc[0].kind = ENC_HASH;
		opt.nenc = 1;
	}
	bool has_tfidf = false;
	for (int k = 0; k < opt.nenc; k++)
		has_tfidf |= opt.enc[k].kind == ENC_TFIDF;
	if ((opt.fit_idf || opt.idf_file || opt.print_features) && !has_tfidf)
		cli_usage("--fit-idf, --idf and --print-features go with -e tfidf");
	if (opt.fit_idf && opt.idf_file)
		cli_usage("--fit-idf and --idf are two separate runs: fit first, then encode");
	if (has_tfidf && !opt.fit_idf && !opt.idf_file && !opt.print_features)
		cli_usage("-e tfidf needs --idf FILE, a table written by a first run with --fit-idf FILE");
	if (opt.print_features && opt.print_tokens)
		cli_usage("--print-tokens and --print-features exclude each other");
	if (opt.fit_idf && (opt.nenc != 1 || opt.print_tokens || opt.print_features))
		cli_usage("--fit-idf writes only the IDF table: give -e tfidf alone");
	if (opt.hp.maxn > 0 && opt.hp.minn > opt.hp.maxn)
		cli_usage("--minn %u is larger than --maxn %u", opt.hp.minn, opt.hp.maxn);
	const char *msg = mm_hashenc_params_check(&opt.hp);
	if (msg)
		cli_usage("%s", msg);

	mm_err e;
	if (opt.idf_file) {
		if (mm_tfidf_load(&tfidf, opt.idf_file, &e) != MM_OK)
			cli_die_err(&e);
		mm_tfidf_params *f = &tfidf.p, *o = &opt.tp;
		if (opt.tp_set && (f->bits != o->bits || f->words != o->words || f->seed != o->seed ||
				f->chars_min != o->chars_min || f->chars_max != o->chars_max))
			cli_usage("--bits, --words, --chars or --seed differ from the table %s (bits %u, "
				"words %u, chars %u,%u, seed %llu): the table decides the hashing",
				opt.idf_file, f->bits, f->words, f->chars_min, f->chars_max,
				(unsigned long long)f->seed);
		opt.tp = *f;
	}
	if (has_tfidf && (msg = mm_tfidf_params_check(&opt.tp)))
		cli_usage("%s", msg);
	if (opt.fit_idf)
		return fit_idf(in);
	bool need_glove = false;
	for (int k = 0; k < opt.nenc; k++) {
		encspec *s = &opt.enc[k];
		if (!s->as)
			s->as = cat2("t_", enc_name[s->kind]);
		s->as_tok = cat2(s->as, "_tok");
		for (int q = 0; q < k; q++)
			if (strcmp(opt.enc[q].as, s->as) == 0)
				cli_usage("two encoders write the same field \"%s\" (use --as)", s->as);
		need_glove |= s->kind == ENC_GLOVE;
	}
	if (need_glove && !opt.print_tokens) {
		if (!opt.table)
			opt.table = getenv("MMOE_GLOVE_TABLE");
		if (!opt.table || !*opt.table)
			cli_usage("the glove encoder needs --table FILE (see mmoe-glove-table)");
		if (mm_glove_open(&glove, opt.table, &e) != MM_OK)
			cli_die_err(&e);
	}
	for (int k = 0; k < opt.nenc; k++)
		opt.enc[k].dim = opt.enc[k].kind == ENC_HASH ? opt.hp.dim : glove &&
			opt.enc[k].kind == ENC_GLOVE ? mm_glove_dim(glove) : 0;

	int nw = opt.threads;
	worker *w = calloc((size_t)nw, sizeof *w);
	if (!w)
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (int i = 0; i < nw; i++)
		if (mm_hashenc_new(&w[i].hash, &opt.hp, &e) != MM_OK)
			cli_die_err(&e);
	if (glove && opt.weight == MM_GLOVE_IDF) {
		if (strcmp(in, "-") == 0)
			cli_usage("--weight tfidf reads the input twice: give a file, not stdin");
		build_idf(in, &w[0]);
	}

	mm_reader *rd;
	if (mm_reader_open(&rd, in, &e) != MM_OK)
		cli_die_err(&e);
	cli_set_input(mm_reader_name(rd));
	mm_writer *wr = NULL;
	if (!opt.print_tokens && !opt.print_features) {
		if (!opt.out)
			cli_check_binary_stdout(opt.force);
		if (mm_writer_open(&wr, opt.out, opt.level, &e) != MM_OK)
			cli_die_err(&e);
	}
	/* With -j 1 everything runs here, in turn; with -j N this thread reads
	 * and writes while N workers encode up to 64 N records in flight. */
	run R = { .rd = rd, .wr = wr, .w = w };
	static const mm_map_ops ops = { map_read, map_work, map_write, map_drop, map_fini };
	if (mm_map(&ops, &R, sizeof(slot), 0, nw, &e) != MM_OK)
		goto fail;
	uint64_t nrec = R.nrec;
	mm_reader_close(rd);
	if (wr && mm_writer_close(wr, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet) {
		uint64_t ntok = 0;
		mm_glove_stats g = {0};
		for (int i = 0; i < nw; i++) {
			ntok += w[i].ntokens;
			g.records += w[i].gst.records;
			g.tokens += w[i].gst.tokens;
			g.oov += w[i].gst.oov;
			g.empty += w[i].gst.empty;
		}
		cli_warn("%llu records, %llu tokens (field \"%s\")", (unsigned long long)nrec,
			(unsigned long long)ntok, opt.field);
		for (int k = 0; k < opt.nenc && !opt.print_tokens && !opt.print_features; k++) {
			encspec *s = &opt.enc[k];
			if (s->kind == ENC_TFIDF)
				cli_warn("tfidf -> %s: 2^%u buckets, word n-grams 1..%u, char n-grams %u..%u, "
					"seed %llu, IDF of %llu documents over %zu features (%s)", s->as, tfidf.p.bits,
					tfidf.p.words, tfidf.p.chars_min, tfidf.p.chars_max,
					(unsigned long long)tfidf.p.seed, (unsigned long long)tfidf.ndocs, tfidf.m,
					opt.idf_file);
			if (s->kind == ENC_HASH)
				cli_warn("hash -> %s: seed %llu, %llu buckets x %u dims, n-grams %u..%u%s",
					s->as, (unsigned long long)opt.hp.seed, (unsigned long long)opt.hp.buckets,
					opt.hp.dim, opt.hp.maxn ? opt.hp.minn : 0, opt.hp.maxn,
					opt.hp.bigrams ? ", bigrams" : "");
		}
		if (glove && !opt.print_tokens) {
			/* glove stats are counted once per glove encoder: report per encoder */
			int ng = 0;
			for (int k = 0; k < opt.nenc; k++)
				ng += opt.enc[k].kind == ENC_GLOVE;
			uint64_t tk = g.tokens / (uint64_t)ng, oov = g.oov / (uint64_t)ng;
			uint64_t rc = g.records / (uint64_t)ng, em = g.empty / (uint64_t)ng;
			cli_warn("glove: %llu of %llu tokens out of vocabulary (%.1f%%); %llu of %llu records "
				"with no known token", (unsigned long long)oov, (unsigned long long)tk,
				tk ? 100.0 * (double)oov / (double)tk : 0.0, (unsigned long long)em,
				(unsigned long long)rc);
		}
	}
	for (int i = 0; i < nw; i++) {
		mm_hashenc_free(w[i].hash);
		mm_tokens_free(&w[i].t);
		mm_tfidf_work_free(&w[i].tw);
	}
	for (int k = 0; k < opt.nenc; k++) {
		free(opt.enc[k].as);
		free(opt.enc[k].as_tok);
	}
	free(w);
	free(idf);
	mm_tfidf_free(&tfidf);
	mm_glove_close(glove);
	return cli_finish();
fail:
	if (opt.print_tokens || opt.print_features)
		fflush(stdout);
	cli_die_err(&e);
}
