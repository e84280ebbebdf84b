/* mmoe-encode-vision — decode the image of each record and add feature
 * tensors from weight-free encoders (lib/vision.h): for each -e ENC a pooled
 * vector NAME [D] and a token grid NAME_tok [H, W, D].
 *
 * Records go through mm_map (lib/pool.h) in chunks of CHUNK: this thread
 * reads a chunk and writes it back, a -j worker decodes, resizes and
 * encodes it (one sgemm per encoder over its images).  The chunks are
 * consecutive records of the input, never cut by the thread count, so the
 * output bytes are the same for any -j.  Records are written in input
 * order; after a bad record or a read error, the records before it are
 * written, then the error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "pool.h"
#include "record.h"
#include "stream.h"
#include "util.h"
#include "vision.h"

#define MAX_ENC 16
#define CHUNK 16
/* chunks in flight per thread (at least MIN_WINDOW in all): about the two
 * batches of 256 records the tool kept before */
#define WINDOW_PER_THREAD 4
#define MIN_WINDOW 32

typedef struct enc {
	mm_vis_kind kind;
	char *name, *tokname;
	mm_vis *v;
} enc;

typedef struct slot {
	mm_rec *r;
	mm_status st;
	bool skipped;   /* no image and --skip-missing: passed through */
	const char *input; /* the input it came from, for messages */
	mm_err e;
} slot;

static enc encs[MAX_ENC];
static int nenc;
static const char *field = "image";
static mm_image_src src;
static int size = 64;
static bool full_decode;
static bool no_tokens, drop_image, skip_missing;

/* One item of the map: CHUNK consecutive records (fewer at the end). */
typedef struct chunk {
	slot s[CHUNK];
	int n;
} chunk;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mmoe-encode-vision [-e ENC [--as NAME]]... [options] [FILE...]\n"
		"Decode the image of each record (PNG or JPEG bytes, or a path) and add, for each\n"
		"encoder, a pooled vector NAME [D] and a token grid NAME_tok [H, W, D].\n"
		"Reads FILE(s) or stdin, writes records to stdout.\n"
		"\n"
		"Encoders (-e, repeatable; default: -e pixels -e hog -e color):\n"
		"  pixels   patch tokens under a seeded Gaussian projection (T = (size/patch)^2, D = dim)\n"
		"  hog      oriented-gradient histograms, L2-Hys blocks (T = (size/cell-block+1)^2,\n"
		"           D = block^2*bins)\n"
		"  color    HSV histograms per cell (T = (size/cell)^2, D = H*S*V bins)\n"
		"\n"
		"  -e, --encoder ENC      add an encoder: pixels, hog, color\n"
		"      --as NAME          output field of the preceding -e (default: v_ENC)\n"
		"      --field F          image field (default: image)\n"
		"      --image-root DIR   directory image paths are relative to (default: .)\n"
		"      --allow-any-path   accept absolute paths and \"..\" (trusted input only)\n"
		"      --max-pixels N     refuse larger images (default: %llu)\n"
		"      --size N           images are resized to N x N, N <= 1024 (default: 64)\n"
		"      --full-decode      decode JPEGs at full size before resizing (default: a\n"
		"                         larger JPEG is decoded at the smallest scale, 1/8 to\n"
		"                         7/8, that keeps at least N x N)\n"
		"      --seed N           seed of the pixels projection (default: 1)\n"
		"      --dim N            pixels: projection dimension (default: 64)\n"
		"      --patch N          pixels: patch side (default: 8)\n"
		"      --hog-cell N       hog: cell side in pixels (default: 8)\n"
		"      --hog-block N      hog: block side in cells (default: 2)\n"
		"      --hog-bins N       hog: orientation bins over 0..180 degrees (default: 9)\n"
		"      --color-cell N     color: cell side in pixels (default: 16)\n"
		"      --color-bins H,S,V color: hue, saturation, value bins (default: 8,3,3)\n"
		"      --pool P           pooled vector: mean, max (both [D]) or mean+max ([2D])\n"
		"                         (default: mean)\n"
		"      --no-tokens        write only the pooled vectors\n"
		"      --drop-image       remove the image field from the output\n"
		"      --skip-missing     pass records without an image through unchanged\n"
		"  -j, --threads N        decode and encode with N threads (default: 1)\n"
		"  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
		"      --level N          zstd level, 0 = plain msgpack, negative = fast (default:\n"
		"                         MMOE_ZSTD_LEVEL or -1: float tokens compress little)\n"
		"      --force            write binary records to a terminal\n"
		"  -q, --quiet            no summary on stderr\n"
		"  -h, --help             this help\n"
		"  -V, --version          version\n"
		"\n"
		"Exit status: 0 ok, 1 bad data (undecodable, missing or refused image),\n"
		"2 usage or I/O error.\n",
		(unsigned long long)MM_IMAGE_MAX_PIXELS);
}

/* One chunk: load, resize and encode its records, then set their fields.
 * A record's failure stays in its slot (written after those before it). */
static void do_chunk(chunk *b, float *img, float **tok, float **pooled, void *ws, size_t ws_size)
{
	const size_t npx = (size_t)size * size * 3;
	slot *batch = b->s;
	int idx[CHUNK], m = 0;

	for (int i = 0; i < b->n; i++) {
		slot *s = &batch[i];
		mm_image im;
		const msgpack_object *o = mm_rec_get(s->r, field);
		if (skip_missing && (!o || o->type == MSGPACK_OBJECT_NIL)) {
			s->skipped = true;
			continue;
		}
		s->st = mm_image_load_field(s->r, field, &src, &im, &s->e);
		if (s->st != MM_OK)
			continue;
		s->st = mm_vis_prepare(&im, size, img + (size_t)m * npx, &s->e);
		mm_image_free(&im);
		if (s->st != MM_OK)
			continue;
		idx[m++] = i;
	}
	for (int k = 0; k < nenc; k++) {
		mm_err e;
		mm_status st = mm_vis_encode_ws(encs[k].v, img, m, tok[k], pooled[k], ws, ws_size, &e);
		if (st != MM_OK) {
			for (int j = 0; j < m; j++) {
				batch[idx[j]].st = st;
				batch[idx[j]].e = e;
			}
			return;
		}
	}
	for (int j = 0; j < m; j++) {
		slot *s = &batch[idx[j]];
		for (int k = 0; k < nenc && s->st == MM_OK; k++) {
			int T = mm_vis_ntok(encs[k].v), D = mm_vis_dim(encs[k].v),
			    g = mm_vis_side(encs[k].v);
			int64_t shape[3] = {g, g, D};
			int P = mm_vis_pooled_dim(encs[k].v);
			s->st = mm_rec_set_vec(s->r, encs[k].name, pooled[k] + (size_t)j * P, (size_t)P, &s->e);
			if (s->st == MM_OK && !no_tokens)
				s->st = mm_rec_set_tensor(s->r, encs[k].tokname, tok[k] + (size_t)j * T * D,
						shape, 3, &s->e);
		}
		if (s->st == MM_OK && drop_image)
			mm_rec_del(s->r, field);
	}
}

/* Scratch per worker: one chunk of input images, each encoder's output, and
 * the encoders' working memory (the largest one's, shared in turn). */
typedef struct scratch {
	float *img, *tok[MAX_ENC], *pooled[MAX_ENC];
	void *ws;
	size_t ws_size;
} scratch;

static int scratch_alloc(scratch *w)
{
	memset(w, 0, sizeof *w);
	w->img = mm_alloc_aligned((size_t)CHUNK * size * size * 3, sizeof(float));
	if (!w->img)
		return -1;
	for (int k = 0; k < nenc; k++) {
		size_t T = (size_t)mm_vis_ntok(encs[k].v), D = (size_t)mm_vis_dim(encs[k].v);
		w->tok[k] = mm_alloc_aligned(CHUNK * T * D, sizeof(float));
		w->pooled[k] = mm_alloc_aligned(CHUNK * (size_t)mm_vis_pooled_dim(encs[k].v), sizeof(float));
		if (!w->tok[k] || !w->pooled[k])
			return -1;
		size_t need = mm_vis_scratch_size(encs[k].v, CHUNK, false);
		w->ws_size = need > w->ws_size ? need : w->ws_size;
	}
	return (w->ws = mm_alloc_aligned(w->ws_size, 1)) ? 0 : -1;
}

static void scratch_free(scratch *w)
{
	free(w->img);
	free(w->ws);
	for (int k = 0; k < nenc; k++) {
		free(w->tok[k]);
		free(w->pooled[k]);
	}
}

/* Records from the input files one after the other. */
typedef struct input {
	char **paths;
	int n, i;
	mm_reader *rd;
} input;

static mm_status input_next(input *in, mm_rec **r, mm_err *e)
{
	for (;;) {
		if (!in->rd) {
			if (in->i == in->n)
				return MM_EOF;
			mm_status st = mm_reader_open(&in->rd, in->paths[in->i++], e);
			if (st != MM_OK)
				return st;
		}
		mm_status st = mm_reader_next(in->rd, r, e);
		if (st != MM_EOF)
			return st;
		mm_reader_close(in->rd);
		in->rd = NULL;
	}
}

/* The map's state: the input, the output, one scratch per worker, and
 * what was written. */
typedef struct run {
	input in;
	mm_writer *w;
	scratch *scr;
	mm_status rst;        /* a read error held back until its chunk's records are written */
	mm_err rerr;
	const char *bad_input; /* the input of the bad record that stopped the run */
	uint64_t nrec, nimg, nskip;
} run;

/* read: the next CHUNK records.  A read error ends the chunk; it is
 * returned at the next call, once the records before it are through. */
static mm_status map_read(void *ctx, void *item, uint64_t idx, mm_err *e)
{
	(void)idx;
	run *R = ctx;
	chunk *b = item;
	mm_status st = R->rst;
	if (st != MM_OK) {
		*e = R->rerr;
		return st;
	}
	b->n = 0;
	while (b->n < CHUNK && (st = input_next(&R->in, &b->s[b->n].r, &R->rerr)) == MM_OK) {
		slot *s = &b->s[b->n++];
		s->st = MM_OK;
		s->skipped = false;
		s->input = strcmp(R->in.paths[R->in.i - 1], "-") ? R->in.paths[R->in.i - 1] : "<stdin>";
	}
	R->rst = st;
	if (b->n > 0)
		return MM_OK;
	*e = R->rerr;
	return st;
}

static mm_status map_work(void *ctx, void *item, uint64_t idx, int worker, mm_err *e)
{
	(void)idx, (void)e;
	scratch *w = &((run *)ctx)->scr[worker];
	do_chunk(item, w->img, w->tok, w->pooled, w->ws, w->ws_size);
	return MM_OK;
}

/* drop: a chunk read but not written (after an error); write frees its
 * records the same way. */
static void map_drop(void *ctx, void *item, uint64_t idx)
{
	(void)ctx, (void)idx;
	chunk *b = item;
	for (int i = 0; i < b->n; i++) {
		mm_rec_free(b->s[i].r);
		b->s[i].r = NULL;
	}
	b->n = 0;
}

/* write: the chunk's records in order, up to the first bad one. */
static mm_status map_write(void *ctx, void *item, uint64_t idx, mm_err *e)
{
	(void)idx;
	run *R = ctx;
	chunk *b = item;
	mm_status st = MM_OK;
	for (int i = 0; i < b->n && st == MM_OK; i++) {
		slot *s = &b->s[i];
		if (s->st != MM_OK) {
			*e = s->e;
			R->bad_input = s->input;
			st = s->st;
		} else if ((st = mm_writer_put(R->w, s->r, e)) == MM_OK) {
			R->nskip += s->skipped;
			R->nimg += !s->skipped;
			R->nrec++;
		}
	}
	map_drop(ctx, item, idx);
	return st;
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	bool force = false;
	int threads = 1, level = mm_zstd_level_env(MM_LEVEL_TENSORS);
	mm_vis_params par[MM_VIS_NKINDS];
	uint64_t seed = 1;
	int pool = MM_VIS_POOL_MEAN;
	enum {
		OPT_AS = 256, OPT_FIELD, OPT_ROOT, OPT_ANY, OPT_MAXPX, OPT_SIZE, OPT_FULLDEC, OPT_SEED, OPT_DIM,
		OPT_PATCH, OPT_HCELL, OPT_HBLOCK, OPT_HBINS, OPT_CCELL, OPT_CBINS, OPT_NOTOK,
		OPT_DROP, OPT_SKIP, OPT_POOL,
	};
	static const struct option opts[] = {
		{ "encoder", required_argument, NULL, 'e' },
		{ "as", required_argument, NULL, OPT_AS },
		{ "field", required_argument, NULL, OPT_FIELD },
		{ "image-root", required_argument, NULL, OPT_ROOT },
		{ "allow-any-path", no_argument, NULL, OPT_ANY },
		{ "max-pixels", required_argument, NULL, OPT_MAXPX },
		{ "full-decode", no_argument, NULL, OPT_FULLDEC },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "patch", required_argument, NULL, OPT_PATCH },
		{ "hog-cell", required_argument, NULL, OPT_HCELL },
		{ "hog-block", required_argument, NULL, OPT_HBLOCK },
		{ "hog-bins", required_argument, NULL, OPT_HBINS },
		{ "color-cell", required_argument, NULL, OPT_CCELL },
		{ "color-bins", required_argument, NULL, OPT_CBINS },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "no-tokens", no_argument, NULL, OPT_NOTOK },
		{ "drop-image", no_argument, NULL, OPT_DROP },
		{ "skip-missing", no_argument, NULL, OPT_SKIP },
		CLI_OPT_THREADS, CLI_OPT_OUTPUT, CLI_OPT_LEVEL, CLI_OPT_FORCE,
		CLI_OPT_QUIET, CLI_OPT_HELP, CLI_OPT_VERSION,
		{ NULL, 0, NULL, 0 },
	};
	static const cli_moved moved[] = {
		{ 'l', "is now --label elsewhere; for the zstd level use --level" },
		{ 'f', "is now --feature elsewhere; to write to a terminal use --force" },
		{ 'F', "is now --format elsewhere; to write to a terminal use --force" },
		{ 0, NULL },
	};

	cli_init(argc, argv, "mmoe-encode-vision");
	for (int k = 0; k < MM_VIS_NKINDS; k++)
		mm_vis_params_default(&par[k], k);
	int c;
	while ((c = cli_getopt(argc, argv, opts, moved)) != -1) {
		switch (c) {
		case 'e': {
			int k = mm_vis_kind_parse(optarg);
			if (k < 0)
				cli_usage("unknown encoder '%s' (want pixels, hog or color)", optarg);
			if (nenc == MAX_ENC)
				cli_usage("at most %d encoders", MAX_ENC);
			encs[nenc++].kind = k;
			break;
		}
		case OPT_AS:
			if (nenc == 0)
				cli_usage("--as names the output of the preceding -e; give -e first");
			if (encs[nenc - 1].name)
				cli_usage("two --as for one -e");
			cli_field("--as", optarg);
			encs[nenc - 1].name = strdup(optarg);
			break;
		case OPT_FIELD: field = optarg; break;
		case OPT_ROOT: src.root = optarg; break;
		case OPT_ANY: src.allow_any = true; break;
		case OPT_FULLDEC: full_decode = true; break;
		case OPT_MAXPX: src.max_pixels = (uint64_t)cli_int("--max-pixels", optarg, 1, (long long)1 << 40); break;
		case OPT_SIZE: size = (int)cli_int("--size", optarg, 1, 1024); break;
		case OPT_SEED: seed = cli_u64("--seed", optarg); break;
		case OPT_DIM: par[MM_VIS_PIXELS].dim = (int)cli_int("--dim", optarg, 1, 65536); break;
		case OPT_PATCH: par[MM_VIS_PIXELS].patch = (int)cli_int("--patch", optarg, 1, 4096); break;
		case OPT_HCELL: par[MM_VIS_HOG].cell = (int)cli_int("--hog-cell", optarg, 1, 4096); break;
		case OPT_HBLOCK: par[MM_VIS_HOG].block = (int)cli_int("--hog-block", optarg, 1, 4096); break;
		case OPT_HBINS: par[MM_VIS_HOG].bins = (int)cli_int("--hog-bins", optarg, 2, 360); break;
		case OPT_CCELL: par[MM_VIS_COLOR].cell = (int)cli_int("--color-cell", optarg, 1, 4096); break;
		case OPT_CBINS: {
			int h, sb, vb, end = 0;
			if (sscanf(optarg, "%d,%d,%d%n", &h, &sb, &vb, &end) != 3 || optarg[end] ||
					h < 1 || sb < 1 || vb < 1 || h > 64 || sb > 64 || vb > 64)
				cli_usage("--color-bins: want H,S,V, three numbers in 1..64, got '%s'", optarg);
			par[MM_VIS_COLOR].hbins = h;
			par[MM_VIS_COLOR].sbins = sb;
			par[MM_VIS_COLOR].vbins = vb;
			break;
		}
		case OPT_POOL:
			pool = mm_vis_pool_parse(optarg);
			if (pool < 0)
				cli_usage("--pool: want mean, max or mean+max, got '%s'", optarg);
			break;
		case OPT_NOTOK: no_tokens = true; break;
		case OPT_DROP: drop_image = true; break;
		case OPT_SKIP: skip_missing = true; break;
		case 'j': threads = (int)cli_int("--threads", optarg, 1, 256); break;
		case 'o': out_path = optarg; break;
		case CLI_LEVEL: level = cli_level(optarg); break;
		case CLI_FORCE: force = true; break;
		case 'q': cli_quiet = true; break;
		case 'h': usage(stdout); return cli_finish();
		case 'V': cli_version();
		default: cli_bad_option(c, argv);
		}
	}
	cli_field("--field", field);
	if (nenc == 0)
		for (int k = 0; k < MM_VIS_NKINDS; k++)
			encs[nenc++].kind = k;

	mm_err e;
	for (int k = 0; k < nenc; k++) {
		mm_vis_params p = par[encs[k].kind];
		p.size = size;
		p.seed = seed;
		p.pool = pool;
		const char *bad = mm_vis_params_check(&p);
		if (bad)
			cli_usage("%s: %s", mm_vis_kind_name(p.kind), bad);
		if (mm_vis_new(&encs[k].v, &p, &e) != MM_OK)
			cli_die_err(&e);
		if (!encs[k].name && asprintf(&encs[k].name, "v_%s", mm_vis_kind_name(p.kind)) < 0)
			cli_die(MM_EXIT_USAGE, "out of memory");
		if (asprintf(&encs[k].tokname, "%s_tok", encs[k].name) < 0)
			cli_die(MM_EXIT_USAGE, "out of memory");
	}
	for (int k = 0; k < nenc; k++) {
		if (!strcmp(encs[k].name, field) || (!no_tokens && !strcmp(encs[k].tokname, field)))
			cli_usage("output field '%s' would overwrite the image field", encs[k].name);
		for (int j = 0; j < k; j++)
			if (!strcmp(encs[k].name, encs[j].name) || !strcmp(encs[k].name, encs[j].tokname) ||
					!strcmp(encs[k].tokname, encs[j].name))
				cli_usage("two encoders write the field '%s' (use --as)", encs[k].name);
	}

	if (!full_decode)
		src.min_w = src.min_h = size;
	/* we parallelise over images; OpenBLAS runs single-threaded in each worker */
	cli_set_threads(1);
	if (threads > MM_POOL_MAX_THREADS)
		threads = MM_POOL_MAX_THREADS;
	static char *stdin_path[] = { "-" };
	run R = { .in = { .paths = argc > optind ? argv + optind : stdin_path,
		.n = argc > optind ? argc - optind : 1 } };
	if (!(R.scr = calloc((size_t)threads, sizeof *R.scr)))
		cli_die(MM_EXIT_USAGE, "out of memory");
	for (int t = 0; t < threads; t++)
		if (scratch_alloc(&R.scr[t]) != 0)
			cli_die(MM_EXIT_USAGE, "out of memory");

	if (!out_path)
		cli_check_binary_stdout(force);
	if (mm_writer_open(&R.w, out_path, level, &e) != MM_OK)
		cli_die_err(&e);

	/* With -j 1 everything runs here, in turn; with -j N this thread reads
	 * and writes while N workers encode the chunks in flight. */
	double t0 = mm_now();
	size_t window = (size_t)threads * WINDOW_PER_THREAD;
	static const mm_map_ops ops = { map_read, map_work, map_write, map_drop, NULL };
	if (mm_map(&ops, &R, sizeof(chunk), window < MIN_WINDOW ? MIN_WINDOW : window, threads,
				&e) != MM_OK) {
		if (R.bad_input)
			cli_set_input(R.bad_input);
		cli_die_err(&e);
	}
	if (R.in.rd)
		mm_reader_close(R.in.rd);
	if (mm_writer_close(R.w, &e) != MM_OK)
		cli_die_err(&e);
	uint64_t nrec = R.nrec, nimg = R.nimg, nskip = R.nskip;
	double dt = mm_now() - t0;
	if (!cli_quiet) {
		fprintf(stderr, "%s: %llu records, %llu images encoded (", cli_prog,
				(unsigned long long)nrec, (unsigned long long)nimg);
		for (int k = 0; k < nenc; k++)
			fprintf(stderr, "%s%s -> %s [%d]", k ? ", " : "", mm_vis_kind_name(encs[k].kind),
					encs[k].name, mm_vis_pooled_dim(encs[k].v));
		fprintf(stderr, "; size %d, %s pooling, seed %llu), %.2f s, %.0f images/s\n", size,
				mm_vis_pool_name(pool), (unsigned long long)seed, dt,
				dt > 0 ? (double)nimg / dt : 0.0);
		if (nskip)
			fprintf(stderr, "%s: %llu records without field \"%s\" passed through unchanged\n",
					cli_prog, (unsigned long long)nskip, field);
	}
	for (int t = 0; t < threads; t++)
		scratch_free(&R.scr[t]);
	free(R.scr);
	for (int k = 0; k < nenc; k++) {
		mm_vis_free(encs[k].v);
		free(encs[k].name);
		free(encs[k].tokname);
	}
	return cli_finish();
}
