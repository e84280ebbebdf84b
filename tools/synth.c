/* mmoe-synth — generate a synthetic multimodal dataset with known interactions.
 *
 * The worlds live in lib/synth.c (mm_synth_*); this file is the command line.
 * See man/mmoe-synth.1 for the records written and how they are drawn.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"
#include "pool.h"
#include "record.h"
#include "stream.h"
#include "synth.h"

static void usage(const mm_synth_params *d)
{
	printf("Usage: mmoe-synth [OPTIONS]\n"
		"Generate a synthetic image+text (or two-vector) dataset whose interaction\n"
		"type (R, Uv, Ut, S) is known for every record; write it as records.\n"
		"\n"
		"Common options:\n"
		"      --kind K          scene, pid, bits or tasks (default: scene)\n"
		"  -n, --count N         number of records (default: %lld; tasks: %d)\n"
		"  -s, --seed N          random seed (default: %llu)\n"
		"      --mix SPEC        interaction mixture, normalised\n"
		"                        (default: R=0.3,Uv=0.2,Ut=0.2,S=0.3)\n"
		"      --flip P          label noise: flip each label with probability P\n"
		"                        (default: %g)\n"
		"      --split A,B,C     train,val,test fractions, stratified by label and\n"
		"                        type (default: 0.7,0.15,0.15)\n"
		"      --id-prefix P     ids are P000000, P000001, ... (default: s, p, b or t)\n"
		"  -j, --threads N       render with N threads; same bytes for any N (default: 1)\n"
		"  -o, --output FILE     write to FILE (atomically) instead of stdout\n"
		"      --level N         zstd level, 0 = plain msgpack (default: MMOE_ZSTD_LEVEL or %d)\n"
		"      --force           write binary records even to a terminal\n"
		"  -q, --quiet           no summary on stderr\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"--kind scene (weather scene image + sentence, sarcasm-like label):\n"
		"      --size N          image side in pixels, 16..1024 (default: %d)\n"
		"      --noise L         visual noise level in [0,1] (default: %g)\n"
		"      --s-weathers K    S examples use the first K of sunny, rainy, snowy,\n"
		"                        cloudy, 2..4 (default: %d)\n"
		"      --image-dir DIR   write DIR/<id>.png and store \"<id>.png\" in image\n"
		"                        (default: PNG bytes inline)\n"
		"\n"
		"--kind tasks (multi-task instructions; also --size, --noise, --image-dir):\n"
		"      --tasks LIST      write only these task groups of the full set (same\n"
		"                        ids and bytes): color, orientation, light, combo\n"
		"                        (default: all)\n"
		"\n"
		"--kind pid (Gaussian latents z1, z2, z12; x1, x2 random projections):\n"
		"      --interaction I   redundancy, uniqueness1, uniqueness2, synergy, or\n"
		"                        mixed (one per record from --mix) (default: synergy)\n"
		"      --classes C       equal-frequency label classes, 2..64 (default: %d)\n"
		"      --latent-dim N    dimension of each latent (default: %d)\n"
		"      --dim N           dimension of x1 and x2 (default: %d)\n"
		"      --pid-noise SD    noise added to x1, x2 (default: %g)\n"
		"\n"
		"--kind bits (x1, x2 in {0,1}):\n"
		"      --fn F            and, or, xor, x1 or copy (x1 = x2 = y) (default: and)\n"
		"      --pid             print the exact partial information decomposition\n"
		"                        (bits) of the generated joint instead of the records\n"
		"\n"
		"Exit status: 0 ok, 1 failed processing, 2 usage or I/O error.\n"
		"See mmoe-synth(1).\n",
		(long long)d->count, MM_SYNTH_TASKS_COUNT, (unsigned long long)d->seed, d->flip, mm_zstd_level_default(),
		d->size, d->noise, d->s_weathers, d->classes, d->latent_dim, d->dim, d->pid_noise);
}

/* Records are made on the pool (mm_map) and written in order: record i
 * depends on i only, so the bytes are the same for any -j. */
typedef struct gen {
	const mm_synth *s;
	int64_t count;
	mm_synth_kind kind;
	mm_writer *w;
	cli_progress prog;
	int64_t n_gt[MM_GT_N], n_split[3], n_pos;
} gen;

typedef struct slot {
	mm_rec *rec;
} slot;

static mm_status gen_read(void *ctx, void *item, uint64_t i, mm_err *e)
{
	(void)item, (void)e;
	return (int64_t)i < ((gen *)ctx)->count ? MM_OK : MM_EOF;
}

static mm_status gen_work(void *ctx, void *item, uint64_t i, int worker, mm_err *e)
{
	(void)worker;
	slot *x = item;
	x->rec = NULL;
	return mm_synth_record(((gen *)ctx)->s, (int64_t)i, &x->rec, e);
}

/* Count what the summary reports, then write the record. */
static mm_status gen_write(void *ctx, void *item, uint64_t i, mm_err *e)
{
	gen *g = ctx;
	mm_rec *r = ((slot *)item)->rec;
	((slot *)item)->rec = NULL;
	const char *gt = NULL, *sp = NULL;
	int64_t y = 0;
	if (mm_rec_str(r, "gen_type", &gt, NULL) == MM_OK ||
			mm_rec_str(r, "task", &gt, NULL) == MM_OK) {
		int t = g->kind == MM_SYNTH_TASKS ? mm_synth_lookup(mm_task_names, MM_TASK_N, gt) :
			mm_synth_lookup(mm_gt_names, MM_GT_N, gt);
		if (t >= 0)
			g->n_gt[t]++;
	}
	if (mm_rec_str(r, "split", &sp, NULL) == MM_OK)
		g->n_split[sp[0] == 't' ? (sp[1] == 'r' ? 0 : 2) : 1]++;
	if (mm_rec_int(r, "label", &y, NULL) == MM_OK && y == 1)
		g->n_pos++;
	mm_status st = mm_writer_put(g->w, r, e);
	mm_rec_free(r);
	if (i % 128 == 127)
		cli_progress_tick(&g->prog, mm_writer_count(g->w));
	return st;
}

static void gen_drop(void *ctx, void *item, uint64_t i)
{
	(void)ctx, (void)i;
	mm_rec_free(((slot *)item)->rec);
	((slot *)item)->rec = NULL;
}

enum {
	O_MIX = 256, O_FLIP, O_SPLIT, O_PREFIX, O_SIZE, O_NOISE, O_IMGDIR, O_INTER, O_CLASSES,
	O_LATENT, O_DIM, O_PIDNOISE, O_FN, O_PID, O_SW, O_TASKS, O_KIND,
};

static void print_pid(mm_synth *s)
{
	double p[2][2][2] = { { { 0 } } };
	mm_rec *r;
	mm_err e;
	mm_status st;
	while ((st = mm_synth_next(s, &r, &e)) == MM_OK) {
		mm_tensor a, b;
		int64_t y;
		if (mm_rec_vec(r, "x1", 1, &a, &e) != MM_OK || mm_rec_vec(r, "x2", 1, &b, &e) != MM_OK ||
				mm_rec_int(r, "label", &y, &e) != MM_OK)
			cli_die_err(&e);
		p[a.data[0] > 0.5f][b.data[0] > 0.5f][y != 0] += 1;
		mm_tensor_free(&a);
		mm_tensor_free(&b);
		mm_rec_free(r);
	}
	if (st != MM_EOF)
		cli_die_err(&e);
	mm_pid pid;
	if (mm_pid_bits(p, &pid, &e) != MM_OK)
		cli_die_err(&e);
	printf("R=%.4f U1=%.4f U2=%.4f S=%.4f I=%.4f\n", pid.R, pid.U1, pid.U2, pid.S, pid.I);
}

int main(int argc, char **argv)
{
	cli_init(argc, argv, "mmoe-synth");
	/* zlib's ~260 KB deflate state is allocated and freed per image; without
	 * this glibc gives the heap top back to the kernel every time (brk), and
	 * each brk costs a TLB shootdown across the BLAS threads: 3x slower. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 4 << 20);
	mm_synth_params p;
	mm_synth_params_default(&p);
	mm_synth_params d = p;
	const char *out = NULL;
	int level = MM_LEVEL_DEFAULT, threads = 1;
	bool force = false, want_pid = false;
	mm_err e;
	static const struct option longopts[] = {
		{"kind", required_argument, NULL, O_KIND},
		{"count", required_argument, NULL, 'n'},
		CLI_OPT_SEED,
		{"mix", required_argument, NULL, O_MIX},
		{"flip", required_argument, NULL, O_FLIP},
		{"split", required_argument, NULL, O_SPLIT},
		{"id-prefix", required_argument, NULL, O_PREFIX},
		{"size", required_argument, NULL, O_SIZE},
		{"noise", required_argument, NULL, O_NOISE},
		{"image-dir", required_argument, NULL, O_IMGDIR},
		{"s-weathers", required_argument, NULL, O_SW},
		{"interaction", required_argument, NULL, O_INTER},
		{"classes", required_argument, NULL, O_CLASSES},
		{"latent-dim", required_argument, NULL, O_LATENT},
		{"dim", required_argument, NULL, O_DIM},
		{"pid-noise", required_argument, NULL, O_PIDNOISE},
		{"fn", required_argument, NULL, O_FN},
		{"pid", no_argument, NULL, O_PID},
		{"tasks", required_argument, NULL, O_TASKS},
		CLI_OPT_THREADS, CLI_OPT_OUTPUT, CLI_OPT_LEVEL, CLI_OPT_FORCE,
		CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{NULL, 0, NULL, 0},
	};
	static const cli_moved moved[] = {
		{'k', "is now --folds elsewhere; for the kind of data use --kind"},
		{'l', "is now --label elsewhere; for the zstd level use --level"},
		{'F', "is now --format elsewhere; to write to a terminal use --force"},
		{0, NULL},
	};
	static const char *const kinds[] = { "scene", "pid", "bits", "tasks" };
	bool count_given = false;
	int c;
	while ((c = cli_getopt(argc, argv, longopts, moved)) != -1) {
		switch (c) {
		case O_KIND: {
			int k = mm_synth_lookup(kinds, 4, optarg);
			if (k < 0)
				cli_usage("option --kind: '%s' is not one of scene, pid, bits, tasks", optarg);
			p.kind = (mm_synth_kind)k;
			break;
		}
		case 'n':
			p.count = cli_int("--count", optarg, 0, (long long)1 << 40);
			count_given = true;
			break;
		case 's': p.seed = cli_u64("--seed", optarg); break;
		case O_MIX:
			if (mm_synth_parse_mix(optarg, p.mix, &e) != MM_OK)
				cli_usage("option --mix: %s", e.msg);
			break;
		case O_FLIP: p.flip = cli_double("--flip", optarg, 0, 0.5); break;
		case O_SPLIT:
			if (mm_synth_parse_split(optarg, p.split, &e) != MM_OK)
				cli_usage("option --split: %s", e.msg);
			break;
		case O_PREFIX:
			if (!*optarg || strlen(optarg) > 64)
				cli_usage("option --id-prefix: want 1 to 64 characters");
			p.id_prefix = optarg;
			break;
		case O_SIZE: p.size = (int)cli_int("--size", optarg, 16, 1024); break;
		case O_SW: p.s_weathers = (int)cli_int("--s-weathers", optarg, 2, 4); break;
		case O_NOISE: p.noise = cli_double("--noise", optarg, 0, 1); break;
		case O_IMGDIR:
			if (!*optarg)
				cli_usage("option --image-dir: empty directory name");
			p.image_dir = optarg;
			break;
		case O_INTER:
			p.interaction = mm_synth_lookup(mm_pid_names, MM_PID_N, optarg);
			if (p.interaction < 0)
				cli_usage("option --interaction: '%s' is not one of redundancy, "
						"uniqueness1, uniqueness2, synergy, mixed", optarg);
			break;
		case O_CLASSES: p.classes = (int)cli_int("--classes", optarg, 2, 64); break;
		case O_LATENT: p.latent_dim = (int)cli_int("--latent-dim", optarg, 1, 256); break;
		case O_DIM: p.dim = (int)cli_int("--dim", optarg, 1, 4096); break;
		case O_PIDNOISE: p.pid_noise = cli_double("--pid-noise", optarg, 0, 1e6); break;
		case O_FN:
			p.fn = mm_synth_lookup(mm_bits_names, MM_BITS_N, optarg);
			if (p.fn < 0)
				cli_usage("option --fn: '%s' is not one of and, or, xor, x1, copy", optarg);
			break;
		case O_PID: want_pid = true; break;
		case O_TASKS:
			if (mm_synth_parse_tasks(optarg, &p.tasks, &e) != MM_OK)
				cli_usage("option --tasks: %s", e.msg);
			break;
		case 'j': threads = (int)cli_int("--threads", optarg, 1, 64); break;
		case 'o': out = optarg; break;
		case CLI_LEVEL: level = cli_level(optarg); break;
		case CLI_FORCE: force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(&d); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	if (optind < argc)
		cli_usage("unexpected argument '%s' (mmoe-synth reads no input)", argv[optind]);
	if (want_pid && p.kind != MM_SYNTH_BITS)
		cli_usage("--pid needs --kind bits");
	if (p.image_dir && p.kind != MM_SYNTH_SCENE && p.kind != MM_SYNTH_TASKS)
		cli_usage("--image-dir needs --kind scene or tasks");
	if (p.tasks && p.kind != MM_SYNTH_TASKS)
		cli_usage("--tasks needs --kind tasks");
	if (p.kind == MM_SYNTH_TASKS && !count_given)
		p.count = MM_SYNTH_TASKS_COUNT;
	const char *why = mm_synth_params_check(&p);
	if (why)
		cli_usage("%s", why);

	mm_synth *s;
	if (mm_synth_new(&s, &p, &e) != MM_OK)
		cli_die_err(&e);
	if (want_pid) {
		print_pid(s);
		mm_synth_free(s);
		return cli_finish();
	}
	if (!out || strcmp(out, "-") == 0)
		cli_check_binary_stdout(force);
	mm_writer *w;
	if (mm_writer_open(&w, out, level, &e) != MM_OK) {
		mm_synth_free(s);
		cli_die_err(&e);
	}
	static gen g;
	g = (gen){ .s = s, .count = mm_synth_count(s), .kind = p.kind, .w = w };
	cli_progress_start(&g.prog, "records", (uint64_t)g.count);
	static const mm_map_ops ops = { gen_read, gen_work, gen_write, gen_drop, NULL };
	mm_status st = mm_map(&ops, &g, sizeof(slot), 0, threads, &e);
	const int64_t count = g.count, n_pos = g.n_pos, *n_gt = g.n_gt, *n_split = g.n_split;
	cli_progress_end(&g.prog);
	mm_synth_free(s);
	if (st != MM_OK)
		cli_die_err(&e);
	if (mm_writer_close(w, &e) != MM_OK)
		cli_die_err(&e);
	if (!cli_quiet) {
		if (p.kind == MM_SYNTH_BITS)
			fprintf(stderr, "mmoe-synth: %lld records (kind bits, fn %s, seed %llu), "
					"label 1: %lld; train %lld, val %lld, test %lld\n",
					(long long)p.count, mm_bits_names[p.fn], (unsigned long long)p.seed,
					(long long)n_pos, (long long)n_split[0], (long long)n_split[1],
					(long long)n_split[2]);
		else if (p.kind == MM_SYNTH_TASKS)
			fprintf(stderr, "mmoe-synth: %lld of %lld records (kind tasks, seed %llu): "
					"color %lld, orientation %lld, light %lld, combo %lld; "
					"train %lld, val %lld, test %lld\n",
					(long long)count, (long long)p.count, (unsigned long long)p.seed,
					(long long)n_gt[0], (long long)n_gt[1], (long long)n_gt[2],
					(long long)n_gt[3], (long long)n_split[0], (long long)n_split[1],
					(long long)n_split[2]);
		else
			fprintf(stderr, "mmoe-synth: %lld records (kind %s, seed %llu): "
					"R %lld, Uv %lld, Ut %lld, S %lld; label 1: %lld; "
					"train %lld, val %lld, test %lld\n",
					(long long)p.count, kinds[p.kind], (unsigned long long)p.seed,
					(long long)n_gt[0], (long long)n_gt[1], (long long)n_gt[2],
					(long long)n_gt[3], (long long)n_pos, (long long)n_split[0],
					(long long)n_split[1], (long long)n_split[2]);
	}
	return cli_finish();
}
