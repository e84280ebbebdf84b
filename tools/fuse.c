/* mmoe-fuse — combine the interaction experts with the router's weights
 * (MMoE stage 4, PAPERS.md §1): fused = sum_k w_k p_k, prediction = argmax.
 *
 * The arithmetic is mm_fuse() (lib/rus.h); this file reads and checks the
 * fields of each record and writes <as>, <as>_class and <as>_w.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "record.h"
#include "rus.h"
#include "stream.h"
#include "util.h"

#define PROB_TOL 1e-3   /* a probability vector may miss 1 by this much */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mmoe-fuse --experts P_R,P_U,P_S [--router P_ROUTER] [options] [FILE...]\n"
		"Mix the experts' class probabilities with the router's weights:\n"
		"  fused[c] = sum_k w_k p_k[c],  prediction = argmax_c fused[c].\n"
		"Reads FILE(s) or stdin, writes every record to stdout with <as> [C],\n"
		"<as>_class and <as>_w [K] added.\n"
		"\n"
		"  -r, --router FIELD       router probabilities over the experts, in expert order\n"
		"                           (required by soft and hard)\n"
		"      --router-logits      the router field holds logits: softmax them first\n"
		"      --experts A,B,...    expert probability fields, K >= 1 (required)\n"
		"      --logits             the expert fields hold logits: softmax them first\n"
		"      --mode MODE          soft: w = router probabilities (default)\n"
		"                           hard: the router's top expert alone\n"
		"                           oracle: the expert named by the record's tag\n"
		"                           mean: uniform weights 1/K\n"
		"                           rule: the U expert where the two --unimodal\n"
		"                           predictions differ, else the R expert (no label,\n"
		"                           no router)\n"
		"  -t, --types A,B,...      tag of each expert, for oracle and rule\n"
		"                           (default: R,U,S)\n"
		"      --rus-field FIELD    tag field read by oracle (default: rus)\n"
		"      --unimodal A,B       the two unimodal prediction fields read by rule\n"
		"      --fallback M         oracle or rule on a record without a tag or a\n"
		"                           unimodal prediction: error (default), soft, hard\n"
		"                           or mean (--oracle-fallback is the same option)\n"
		"      --pass-through       write records that have none of the expert fields\n"
		"                           unchanged (counted) instead of failing\n"
		"      --as FIELD           output field (default: p_mmoe)\n"
		"  -o, --output FILE        write to FILE (atomic) instead of stdout\n"
		"      --force              write binary records to a terminal\n"
		"  -q, --quiet              no summary on stderr\n"
		"  -h, --help               this help\n"
		"  -V, --version            version\n"
		"\n"
		"Probabilities must be finite and non-negative; vectors whose sum misses 1 by\n"
		"more than %g are renormalised and counted.  Exit status: 0 ok, 1 bad data,\n"
		"2 usage or I/O error.\n", PROB_TOL);
}

static mm_writer *out;
static char **experts, **types;   /* from cli_split, live until exit */

static _Noreturn void fail(const mm_err *e)
{
	cli_die_err(e);   /* drops the output */
}

/* Read a probability (or logit) vector of exactly n > 0 values, check it
 * and copy it into dst[n].  Counts renormalisations. */
static void read_probs(mm_rec *r, const char *field, bool logits, float *dst, size_t n,
		const char *what, uint64_t *renorm)
{
	mm_err e;
	mm_tensor t;
	char where[160];
	if (mm_rec_tensor(r, field, &t, true, &e) != MM_OK)
		fail(&e);
	if (t.n != n) {
		size_t got = t.n;
		mm_tensor_free(&t);
		mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected %zu values (%s), got %zu",
				mm_rec_where(r, where, sizeof where), field, n, what, got);
		fail(&e);
	}
	memcpy(dst, t.data, t.n * sizeof *dst);
	size_t m = t.n;
	mm_tensor_free(&t);
	if (logits) {
		mm_vec_softmax(dst, m);
		return;
	}
	int ren;
	if (mm_fuse_check_probs(dst, m, PROB_TOL, &ren, &e) != MM_OK) {
		mm_err_prefix(&e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), field);
		fail(&e);
	}
	*renorm += ren;
}

int main(int argc, char **argv)
{
	const char *router = NULL, *experts_arg = NULL, *types_arg = "R,U,S", *rus_field = "rus";
	const char *as = "p_mmoe", *out_path = NULL, *uni_arg = NULL;
	int mode = MM_FUSE_SOFT, fallback = -1;
	bool logits = false, force = false, elogits = false, pass = false;
	enum { OPT_LOGITS = 256, OPT_EXPERTS, OPT_MODE, OPT_RUS, OPT_FALLBACK, OPT_AS, OPT_ELOGITS, OPT_UNI, OPT_PASS };
	static const struct option opts[] = {
		{ "router", required_argument, NULL, 'r' },
		{ "router-logits", no_argument, NULL, OPT_LOGITS },
		{ "experts", required_argument, NULL, OPT_EXPERTS },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "types", required_argument, NULL, 't' },
		{ "rus-field", required_argument, NULL, OPT_RUS },
		{ "oracle-fallback", required_argument, NULL, OPT_FALLBACK },
		{ "fallback", required_argument, NULL, OPT_FALLBACK },
		{ "logits", no_argument, NULL, OPT_ELOGITS },
		{ "unimodal", required_argument, NULL, OPT_UNI },
		{ "pass-through", no_argument, NULL, OPT_PASS },
		{ "as", required_argument, NULL, OPT_AS },
		CLI_OPT_OUTPUT, CLI_OPT_FORCE, CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{ NULL, 0, NULL, 0 },
	};
	static const cli_moved moved[] = {
		{ 'e', "is now --encoder elsewhere; for the experts use --experts" },
		{ 'm', "is now --model elsewhere; for the fusing mode use --mode" },
		{ 'f', "is now --feature elsewhere; to write to a terminal use --force" },
		{ 0, NULL },
	};
	cli_init(argc, argv, "mmoe-fuse");
	int c;
	while ((c = cli_getopt(argc, argv, opts, moved)) != -1) {
		switch (c) {
		case 'r': router = optarg; break;
		case OPT_LOGITS: logits = true; break;
		case OPT_EXPERTS: experts_arg = optarg; break;
		case OPT_MODE:
			if ((mode = mm_fuse_mode_parse(optarg)) < 0)
				cli_usage("option --mode: '%s' is not soft, hard, oracle, mean or rule", optarg);
			break;
		case 't': types_arg = optarg; break;
		case OPT_RUS: rus_field = optarg; break;
		case OPT_FALLBACK:
			if (!strcmp(optarg, "error"))
				fallback = -1;
			else if ((fallback = mm_fuse_mode_parse(optarg)) < 0 || fallback == MM_FUSE_ORACLE ||
					fallback == MM_FUSE_RULE)
				cli_usage("option --fallback: '%s' is not error, soft, hard or mean", optarg);
			break;
		case OPT_ELOGITS: elogits = true; break;
		case OPT_UNI: uni_arg = optarg; break;
		case OPT_PASS: pass = true; break;
		case OPT_AS: as = optarg; break;
		case 'o': out_path = optarg; break;
		case CLI_FORCE: force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (!experts_arg)
		cli_usage("--experts is required");
	size_t K, ntypes;
	experts = cli_split(experts_arg, ',', &K);
	types = cli_split(types_arg, ',', &ntypes);
	if (K == 0)
		cli_usage("--experts: no field given");
	bool picks = mode == MM_FUSE_ORACLE || mode == MM_FUSE_RULE;
	bool need_router = mode == MM_FUSE_SOFT || mode == MM_FUSE_HARD ||
		(picks && (fallback == MM_FUSE_SOFT || fallback == MM_FUSE_HARD));
	if (need_router && !router)
		cli_usage("--router is required by --mode %s%s", mm_fuse_mode_name(mode),
				picks ? " with a soft or hard fallback" : "");
	if (picks && ntypes != K)
		cli_usage("--types has %zu tags but --experts has %zu fields", ntypes, K);
	size_t nuni = 0;
	/* static: reachable until exit, as experts and types are */
	static char **uni;
	uni = uni_arg ? cli_split(uni_arg, ',', &nuni) : NULL;
	if ((mode == MM_FUSE_RULE) != (uni != NULL))
		cli_usage(mode == MM_FUSE_RULE ? "--mode rule needs --unimodal A,B (the two unimodal predictions)"
				: "--unimodal is read by --mode rule only");
	if (uni && nuni != 2)
		cli_usage("--unimodal: expected two fields A,B, got %zu", nuni);
	int rule_r = -1, rule_u = -1;
	for (size_t k = 0; k < ntypes && mode == MM_FUSE_RULE; k++) {
		if (!strcmp(types[k], "R"))
			rule_r = (int)k;
		if (!strcmp(types[k], "U"))
			rule_u = (int)k;
	}
	if (mode == MM_FUSE_RULE && (rule_r < 0 || rule_u < 0))
		cli_usage("--mode rule needs an expert tagged R and one tagged U in --types (got %s)", types_arg);
	for (size_t i = 0; i < ntypes; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(types[i], types[j]))
				cli_usage("--types: tag '%s' given twice", types[i]);
	{
		/* every field this run may read: experts, router, tags, unimodal */
		const char **reads = calloc(K + nuni + 2, sizeof *reads);
		if (!reads)
			cli_die(MM_EXIT_USAGE, "out of memory");
		size_t n = 0;
		for (size_t k = 0; k < K; k++)
			reads[n++] = cli_field("--experts", experts[k]);
		for (size_t k = 0; k < nuni; k++)
			reads[n++] = cli_field("--unimodal", uni[k]);
		reads[n++] = router ? cli_field("--router", router) : NULL;
		reads[n++] = picks ? cli_field("--rus-field", rus_field) : NULL;
		cli_output_field("--as", as, reads, n);
		free(reads);
	}
	char as_class[600], as_w[600];
	snprintf(as_class, sizeof as_class, "%s_class", as);
	snprintf(as_w, sizeof as_w, "%s_w", as);

	mm_err e;
	if (!out_path)
		cli_check_binary_stdout(force);
	if (mm_writer_open(&out, out_path, MM_LEVEL_DEFAULT, &e) != MM_OK)
		fail(&e);

	float *rw = calloc(K, sizeof *rw), *w = calloc(K, sizeof *w);
	float *ex = NULL, *fused = NULL;
	size_t C = 0;
	uint64_t *renorm = calloc(K + 1, sizeof *renorm);   /* experts..., router */
	uint64_t nrec = 0, nfallback = 0, npassed = 0, nrule_u = 0;
	if (!rw || !w || !renorm)
		cli_die(MM_EXIT_USAGE, "out of memory");
	char router_what[256];
	snprintf(router_what, sizeof router_what, "one router weight per expert %s", experts_arg);

	int nin = argc - optind;
	for (int f = 0; f < (nin ? nin : 1); f++) {
		mm_reader *rd;
		if (mm_reader_open(&rd, nin ? argv[optind + f] : "-", &e) != MM_OK)
			fail(&e);
		cli_set_input(mm_reader_name(rd));
		mm_rec *r;
		mm_status st;
		while ((st = mm_reader_next(rd, &r, &e)) == MM_OK) {
			char where[160];
			if (pass) {
				size_t have = 0;
				for (size_t k = 0; k < K; k++)
					have += !mm_field_absent(r, experts[k]);
				if (!have) {
					if (mm_writer_put(out, r, &e) != MM_OK)
						fail(&e);
					mm_rec_free(r);
					npassed++;
					continue;
				}
			}
			if (C == 0) {
				/* The first expert of the first record fixes the class count. */
				mm_tensor t;
				if (mm_rec_tensor(r, experts[0], &t, true, &e) != MM_OK)
					fail(&e);
				C = t.n ? t.n : 1;
				mm_tensor_free(&t);
				ex = calloc(K * C, sizeof *ex);
				fused = calloc(C, sizeof *fused);
				if (!ex || !fused)
					cli_die(MM_EXIT_USAGE, "out of memory");
			}
			for (size_t k = 0; k < K; k++) {
				char what[300];
				snprintf(what, sizeof what, "%zu classes, as \"%s\" in the first record",
						C, experts[0]);
				read_probs(r, experts[k], elogits, ex + k * C, C, what, &renorm[k]);
			}
			int m = mode, ok = 0;
			if (mode == MM_FUSE_ORACLE) {
				const char *tag;
				if (mm_field_absent(r, rus_field)) {
					if (fallback < 0) {
						mm_errf(&e, MM_MISSING, "%s: missing field \"%s\" (needed by --mode oracle; "
								"--oracle-fallback soft routes untagged records by the router)",
								mm_rec_where(r, where, sizeof where), rus_field);
						fail(&e);
					}
					m = fallback;
					nfallback++;
				} else {
					if (mm_rec_str(r, rus_field, &tag, &e) != MM_OK)
						fail(&e);
					for (ok = 0; ok < (int)K && strcmp(types[ok], tag); ok++)
						;
					if (ok == (int)K) {
						mm_errf(&e, MM_EVALUE, "%s: field \"%s\": expected one of the tags %s, got \"%s\"",
								mm_rec_where(r, where, sizeof where), rus_field, types_arg, tag);
						fail(&e);
					}
				}
			}
			if (mode == MM_FUSE_RULE) {
				int64_t a, b;
				if (mm_field_absent(r, uni[0]) || mm_field_absent(r, uni[1])) {
					if (fallback < 0) {
						mm_errf(&e, MM_MISSING, "%s: missing field \"%s\" (needed by --mode rule; "
								"--fallback soft routes such records by the router)",
								mm_rec_where(r, where, sizeof where),
								mm_field_absent(r, uni[0]) ? uni[0] : uni[1]);
						fail(&e);
					}
					m = fallback;
					nfallback++;
				} else {
					if (mm_pred_class(r, uni[0], &a, NULL, &e) != MM_OK ||
							mm_pred_class(r, uni[1], &b, NULL, &e) != MM_OK)
						fail(&e);
					ok = mm_fuse_rule_expert(a, b, rule_r, rule_u);
					nrule_u += ok == rule_u;
				}
			}
			if (m == MM_FUSE_SOFT || m == MM_FUSE_HARD)
				read_probs(r, router, logits, rw, K, router_what, &renorm[K]);
			int cls = mm_fuse(rw, ex, (int)K, (int)C, m, ok, w, fused);
			if (mm_rec_set_vec(r, as, fused, C, &e) != MM_OK ||
					mm_rec_set_int(r, as_class, cls, &e) != MM_OK ||
					mm_rec_set_vec(r, as_w, w, K, &e) != MM_OK ||
					mm_writer_put(out, r, &e) != MM_OK)
				fail(&e);
			mm_rec_free(r);
			nrec++;
		}
		if (st != MM_EOF)
			fail(&e);
		mm_reader_close(rd);
	}
	mm_writer *wr = out;
	out = NULL;
	if (mm_writer_close(wr, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet) {
		fprintf(stderr, "%s: %llu records fused, mode %s, %zu experts, %zu classes",
				cli_prog, (unsigned long long)nrec, mm_fuse_mode_name(mode), K, C);
		if (mode == MM_FUSE_RULE)
			fprintf(stderr, ", %llu to the U expert (unimodal predictions differ)",
					(unsigned long long)nrule_u);
		if (nfallback)
			fprintf(stderr, ", %llu %s routed by %s", (unsigned long long)nfallback,
					mode == MM_FUSE_RULE ? "without both unimodal predictions" : "untagged",
					mm_fuse_mode_name(fallback));
		if (npassed)
			fprintf(stderr, ", %llu records without the experts passed through",
					(unsigned long long)npassed);
		fputc('\n', stderr);
		for (size_t k = 0; k <= K; k++)
			if (renorm[k])
				fprintf(stderr, "%s: warning: field \"%s\": %llu records whose probabilities "
						"did not sum to 1 (within %g) were renormalised\n", cli_prog,
						k < K ? experts[k] : router, (unsigned long long)renorm[k], PROB_TOL);
	}
	free(rw);
	free(w);
	free(ex);
	free(fused);
	free(renorm);
	return cli_finish();
}
