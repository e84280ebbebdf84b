/* mmoe-rus-split — tag each labelled record R, U or S from two unimodal
 * predictions (MMoE stage 2, PAPERS.md §1) and optionally write the three
 * subsets to their own streams.
 *
 * The rule is mm_rus_categorise() (lib/rus.h).  Records without a label or
 * without one of the predictions pass through untagged (a stale tag is
 * removed) and are counted; records whose prediction carries a true
 * `<pred>_drop` flag are tagged but left out of the subset files.  The
 * counts, per value of the split field, always go to stderr unless -q.
 *
 * --heldout / --heldout-fold mark a seeded part of the train records, chosen
 * by id (mm_id_place, lib/rng.h), that the experts and their baseline must not
 * see: the mixture gate of mmoe-train-expert trains on it.  The mark is a
 * boolean on every record (true only on held-out train records), and held-out
 * records are left out of the subset files as dropped ones are.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "record.h"
#include "rng.h"
#include "rus.h"
#include "stream.h"

enum { COL_R, COL_U, COL_S, COL_NOLABEL, COL_NOPRED, COL_DROPPED, COL_HELDOUT, COL_TOTAL, NCOL };
static const char *const col_names[NCOL] = {
	"R", "U", "S", "no-label", "no-pred", "dropped", "held-out", "total",
};
static bool with_heldout;   /* the held-out column is printed only with --heldout* */

typedef struct split_count {
	char *name;        /* value of the split field; "(none)" when absent */
	uint64_t c[NCOL];
} split_count;

static split_count *splits;
static size_t nsplits;
static mm_writer *out, *sub[3];

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mmoe-rus-split -a PRED_A -b PRED_B [options] [FILE...]\n"
		"Tag each labelled record R, U or S from two unimodal predictions:\n"
		"  a == b == label -> R;  a != b, one == label -> U;  neither == label -> S.\n"
		"A prediction field P is a tensor P [C] plus P_class; P_class is used when\n"
		"present, else argmax P.  Reads FILE(s) or stdin, writes every record to stdout.\n"
		"\n"
		"  -a, --pred-a FIELD     first unimodal prediction (required)\n"
		"  -b, --pred-b FIELD     second unimodal prediction (required)\n"
		"  -l, --label FIELD      label field (default: label)\n"
		"      --as FIELD         tag field written (default: rus)\n"
		"      --out-R FILE       write the R records (not dropped) to FILE\n"
		"      --out-U FILE       write the U records (not dropped) to FILE\n"
		"      --out-S FILE       write the S records (not dropped) to FILE\n"
		"      --split-field F    field the counts are grouped by (default: split)\n"
		"      --heldout SHARE    hold out this share of the train records, by a seeded\n"
		"                         hash of the id: flag true, left out of the subsets\n"
		"      --heldout-fold F/K hold out fold F (0..K-1) of K instead (same hash)\n"
		"      --heldout-as FIELD the held-out flag written (default: heldout)\n"
		"  -s, --seed N           seed of the held-out hash (default 1)\n"
		"  -o, --output FILE      write the tagged stream to FILE (atomic) instead of stdout\n"
		"      --no-output        do not write the tagged stream (subset files only)\n"
		"      --force            write binary records to a terminal\n"
		"  -q, --quiet            no count table on stderr\n"
		"  -h, --help             this help\n"
		"  -V, --version          version\n"
		"\n"
		"Records with a true PRED_A_drop or PRED_B_drop, and held-out ones, are tagged\n"
		"but not written to the subset files.  Exit status: 0 ok, 1 bad data, 2 usage or I/O error.\n");
}

static _Noreturn void fail(const mm_err *e)
{
	cli_die_err(e);   /* drops every output */
}

static split_count *count_for(const char *name)
{
	for (size_t i = 0; i < nsplits; i++)
		if (!strcmp(splits[i].name, name))
			return &splits[i];
	split_count *n = realloc(splits, (nsplits + 1) * sizeof *n);
	if (!n || !(name = strdup(name)))
		cli_die(MM_EXIT_USAGE, "out of memory");
	splits = n;
	memset(&splits[nsplits], 0, sizeof splits[nsplits]);
	splits[nsplits].name = (char *)name;
	return &splits[nsplits++];
}

/* train, val, test first, then other values alphabetically, "(none)" last. */
static int split_rank(const char *s)
{
	static const char *const known[] = { "train", "val", "test" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, known[i]))
			return i;
	return strcmp(s, "(none)") ? 3 : 4;
}

static int cmp_split(const void *a, const void *b)
{
	const split_count *x = a, *y = b;
	int rx = split_rank(x->name), ry = split_rank(y->name);
	return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

/* The class count C, from the first probability vector seen; every other
 * vector of either prediction must have as many. */
static int64_t nclasses;
static const char *nclasses_from;

static void check_classes(mm_rec *r, const char *field, int64_t c)
{
	mm_err e;
	char where[160];
	if (c <= 0)
		return;
	if (!nclasses) {
		nclasses = c;
		nclasses_from = field;
	} else if (c != nclasses) {
		mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected %lld classes (as \"%s\" had "
				"first), got %lld", mm_rec_where(r, where, sizeof where), field,
				(long long)nclasses, nclasses_from, (long long)c);
		fail(&e);
	}
}

/* A boolean-ish flag: absent or nil is false. */
static bool flag(mm_rec *r, const char *key)
{
	mm_err e;
	bool v;
	if (mm_rec_flag(r, key, &v, &e) != MM_OK)
		fail(&e);
	return v;
}

/* The held-out part: train records whose id's place (mm_id_place) is in
 * [lo, hi).  A train record without a string id cannot be placed: bad data. */
static double ho_lo, ho_hi;
static uint64_t ho_seed = 1;

static bool held_out(mm_rec *r, bool is_train)
{
	if (!is_train)
		return false;
	const msgpack_object *o = mm_rec_get(r, "id");
	if (!o || o->type != MSGPACK_OBJECT_STR) {
		mm_err e;
		const char *s;
		char where[160];
		if (mm_rec_str(r, "id", &s, &e) != MM_MISSING)
			fail(&e);
		mm_errf(&e, MM_EVALUE, "%s: field \"id\": missing; train records are held out by id",
				mm_rec_where(r, where, sizeof where));
		fail(&e);
	}
	double u = mm_id_place(o->via.str.ptr, o->via.str.size, ho_seed);
	return u >= ho_lo && u < ho_hi;
}

/* --heldout-fold F/K: fold F of K, [F/K, (F+1)/K). */
static void parse_fold(const char *s)
{
	char *end;
	errno = 0;
	unsigned long f = strtoul(s, &end, 10), k = 0;
	bool ok = end != s && *end == '/' && s[0] >= '0' && s[0] <= '9' && !errno;
	if (ok) {
		const char *t = end + 1;
		k = strtoul(t, &end, 10);
		ok = end != t && !*end && t[0] >= '0' && t[0] <= '9' && !errno && k >= 2 && k <= 1000 && f < k;
	}
	if (!ok)
		cli_usage("--heldout-fold '%s': expected F/K with 2 <= K <= 1000 and 0 <= F < K", s);
	ho_lo = (double)f / (double)k;
	ho_hi = (double)(f + 1) / (double)k;
}

static void print_table(void)
{
	qsort(splits, nsplits, sizeof *splits, cmp_split);
	split_count all = { .name = "all" };
	for (size_t i = 0; i < nsplits; i++)
		for (int c = 0; c < NCOL; c++)
			all.c[c] += splits[i].c[c];
	fprintf(stderr, "%s: %-8s", cli_prog, "split");
	for (int c = 0; c < NCOL; c++)
		if (c != COL_HELDOUT || with_heldout)
			fprintf(stderr, " %8s", col_names[c]);
	fputc('\n', stderr);
	for (size_t i = 0; i <= nsplits; i++) {
		const split_count *s = i < nsplits ? &splits[i] : &all;
		if (i == nsplits && nsplits == 1)
			break;   /* "all" would repeat the only row */
		fprintf(stderr, "%s: %-8s", cli_prog, s->name);
		for (int c = 0; c < NCOL; c++)
			if (c != COL_HELDOUT || with_heldout)
				fprintf(stderr, " %8llu", (unsigned long long)s->c[c]);
		fputc('\n', stderr);
	}
}

int main(int argc, char **argv)
{
	const char *pa = NULL, *pb = NULL, *label = "label", *as = "rus", *split_field = "split";
	const char *out_path = NULL, *sub_path[3] = { NULL, NULL, NULL };
	const char *ho_as = "heldout";
	bool force = false, no_output = false, ho_share = false, ho_fold = false;
	const char *seed_set = NULL, *as_set = NULL;
	enum { OPT_AS = 256, OPT_OUT_R, OPT_OUT_U, OPT_OUT_S, OPT_SPLIT, OPT_NO_OUTPUT,
		OPT_HELDOUT, OPT_HELDOUT_FOLD, OPT_HELDOUT_AS };
	static const struct option opts[] = {
		{ "pred-a", required_argument, NULL, 'a' },
		{ "pred-b", required_argument, NULL, 'b' },
		CLI_OPT_LABEL,
		{ "as", required_argument, NULL, OPT_AS },
		{ "out-R", required_argument, NULL, OPT_OUT_R },
		{ "out-U", required_argument, NULL, OPT_OUT_U },
		{ "out-S", required_argument, NULL, OPT_OUT_S },
		{ "split-field", required_argument, NULL, OPT_SPLIT },
		CLI_OPT_OUTPUT,
		{ "no-output", no_argument, NULL, OPT_NO_OUTPUT },
		{ "heldout", required_argument, NULL, OPT_HELDOUT },
		{ "heldout-fold", required_argument, NULL, OPT_HELDOUT_FOLD },
		{ "heldout-as", required_argument, NULL, OPT_HELDOUT_AS },
		CLI_OPT_SEED, CLI_OPT_FORCE, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{ NULL, 0, NULL, 0 },
	};
	static const cli_moved moved[] = {
		{ 'n', "is now --count elsewhere; to write no tagged stream use --no-output" },
		{ 'f', "is now --feature elsewhere; to write to a terminal use --force" },
		{ 0, NULL },
	};
	cli_init(argc, argv, "mmoe-rus-split");
	int c;
	while ((c = cli_getopt(argc, argv, opts, moved)) != -1) {
		switch (c) {
		case 'a': pa = optarg; break;
		case 'b': pb = optarg; break;
		case 'l': label = optarg; break;
		case OPT_AS: as = optarg; break;
		case OPT_OUT_R: sub_path[MM_RUS_R] = optarg; break;
		case OPT_OUT_U: sub_path[MM_RUS_U] = optarg; break;
		case OPT_OUT_S: sub_path[MM_RUS_S] = optarg; break;
		case OPT_SPLIT: split_field = optarg; break;
		case 'o': out_path = optarg; break;
		case OPT_NO_OUTPUT: no_output = true; break;
		case OPT_HELDOUT:
			ho_lo = 0;
			ho_hi = cli_double("--heldout", optarg, 0, 1);
			if (!(ho_hi > 0 && ho_hi < 1))
				cli_usage("--heldout %s: the share must be above 0 and below 1", optarg);
			ho_share = true;
			break;
		case OPT_HELDOUT_FOLD: parse_fold(optarg); ho_fold = true; break;
		case OPT_HELDOUT_AS: ho_as = as_set = optarg; break;
		case 's': ho_seed = cli_u64("--seed", optarg); seed_set = "--seed"; break;
		case CLI_FORCE: force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (!pa || !pb)
		cli_usage("both -a PRED_A and -b PRED_B are required");
	cli_field("--pred-a", pa);
	cli_field("--pred-b", pb);
	cli_field("--label", label);
	cli_field("--split-field", split_field);
	{
		char ca[600], cb[600];
		snprintf(ca, sizeof ca, "%s_class", pa);
		snprintf(cb, sizeof cb, "%s_class", pb);
		const char *reads[] = {pa, pb, ca, cb, label, split_field};
		cli_output_field("--as", as, reads, sizeof reads / sizeof *reads);
	}
	with_heldout = ho_share || ho_fold;
	if (ho_share && ho_fold)
		cli_usage("--heldout and --heldout-fold exclude each other");
	if (!with_heldout && (seed_set || as_set))
		cli_usage("%s is for the held-out records: give --heldout or --heldout-fold",
				seed_set ? "--seed" : "--heldout-as");
	if (with_heldout) {
		char ca[600], cb[600], da[600], db[600];
		snprintf(ca, sizeof ca, "%s_class", pa);
		snprintf(cb, sizeof cb, "%s_class", pb);
		snprintf(da, sizeof da, "%s_drop", pa);
		snprintf(db, sizeof db, "%s_drop", pb);
		const char *reads[] = {pa, pb, ca, cb, da, db, label, split_field, as};
		cli_output_field("--heldout-as", ho_as, reads, sizeof reads / sizeof *reads);
	}
	if (no_output && out_path)
		cli_usage("-o and --no-output exclude each other");
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < i; j++)
			if (sub_path[i] && sub_path[j] && !strcmp(sub_path[i], sub_path[j]))
				cli_usage("--out-%s and --out-%s name the same file '%s'",
						mm_rus_name(i), mm_rus_name(j), sub_path[i]);

	char drop_a[600], drop_b[600];
	snprintf(drop_a, sizeof drop_a, "%s_drop", pa);
	snprintf(drop_b, sizeof drop_b, "%s_drop", pb);

	mm_err e;
	if (!no_output) {
		if (!out_path)
			cli_check_binary_stdout(force);
		if (mm_writer_open(&out, out_path, MM_LEVEL_DEFAULT, &e) != MM_OK)
			fail(&e);
	}
	for (int i = 0; i < 3; i++)
		if (sub_path[i] && mm_writer_open(&sub[i], sub_path[i], MM_LEVEL_DEFAULT, &e) != MM_OK)
			fail(&e);

	int nin = argc - optind;
	for (int f = 0; f < (nin ? nin : 1); f++) {
		const char *path = nin ? argv[optind + f] : "-";
		mm_reader *rd;
		if (mm_reader_open(&rd, path, &e) != MM_OK)
			fail(&e);
		cli_set_input(mm_reader_name(rd));
		mm_rec *r;
		mm_status st;
		while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
			const char *sname = "(none)";
			if (!mm_field_absent(r, split_field) && mm_rec_str(r, split_field, &sname, &e) != MM_OK)
				fail(&e);
			split_count *sc = count_for(sname);
			sc->c[COL_TOTAL]++;
			bool ho = false;
			if (with_heldout) {
				ho = held_out(r, !strcmp(sname, "train"));
				sc->c[COL_HELDOUT] += ho;
				if (mm_rec_set_bool(r, ho_as, ho, &e) != MM_OK)
					fail(&e);
			}
			int64_t y, a, b, ca, cb;
			bool have_label = !mm_field_absent(r, label);
			mm_status sa = mm_pred_class(r, pa, &a, &ca, &e);
			if (sa != MM_OK && sa != MM_MISSING)
				fail(&e);
			mm_status sb = mm_pred_class(r, pb, &b, &cb, &e);
			if (sb != MM_OK && sb != MM_MISSING)
				fail(&e);
			check_classes(r, pa, ca);
			check_classes(r, pb, cb);
			/* a label outside the predictions' classes is bad data, not S */
			if (have_label && mm_rec_label(r, label, nclasses, &y, &e) != MM_OK)
				fail(&e);
			if (!have_label || sa != MM_OK || sb != MM_OK) {
				sc->c[have_label ? COL_NOPRED : COL_NOLABEL]++;
				mm_rec_del(r, as);
			} else {
				mm_rus t = mm_rus_categorise(y, a, b);
				sc->c[COL_R + t]++;
				if (mm_rec_set_str(r, as, mm_rus_name(t), &e) != MM_OK)
					fail(&e);
				bool dropped = flag(r, drop_a) || flag(r, drop_b);
				if (dropped)
					sc->c[COL_DROPPED]++;
				if (!dropped && !ho && sub[t] && mm_writer_put(sub[t], r, &e) != MM_OK)
					fail(&e);
			}
			if (out && mm_writer_put(out, r, &e) != MM_OK)
				fail(&e);
			mm_rec_free(r);
		}
		if (st != MM_EOF)
			fail(&e);
		mm_reader_close(rd);
	}
	for (int i = 0; i < 3; i++)
		if (sub[i]) {
			mm_writer *w = sub[i];
			sub[i] = NULL;
			if (mm_writer_close(w, &e) != MM_OK)
				fail(&e);
		}
	if (out) {
		mm_writer *w = out;
		out = NULL;
		if (mm_writer_close(w, &e) != MM_OK)
			fail(&e);
	}
	if (!cli_quiet)
		print_table();
	for (size_t i = 0; i < nsplits; i++)
		free(splits[i].name);
	free(splits);
	return cli_finish();
}
