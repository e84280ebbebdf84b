/* Unit tests of lib/synth: option parsing, determinism, the mixture, the
 * stratified split, the meaning of each gen_type on the ground-truth fields,
 * the key property of S (each modality alone at chance), the images, the
 * sentences, the pid and bits generators, the exact PID of binary joints,
 * and the tasks world (answers, the lit slats, instructions, --tasks). */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "record.h"
#include "synth.h"
#include "tap.h"

static mm_err e;

/* All records of a generator, packed into one msgpack buffer. */
static msgpack_sbuffer *pack_all(const mm_synth_params *p)
{
	msgpack_sbuffer *sb = msgpack_sbuffer_new();
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	mm_synth *s;
	if (mm_synth_new(&s, p, &e) != MM_OK) {
		diag("mm_synth_new: %s", e.msg);
		return sb;
	}
	mm_rec *r;
	while (mm_synth_next(s, &r, &e) == MM_OK) {
		mm_rec_pack(r, &pk);
		mm_rec_free(r);
	}
	mm_synth_free(s);
	return sb;
}

static bool same(msgpack_sbuffer *a, msgpack_sbuffer *b)
{
	return a->size == b->size && memcmp(a->data, b->data, a->size) == 0;
}

/* Ground truth of one scene record, read back from the record. */
typedef struct truth {
	int gt, y, yc, scene, face, tw, split;
	bool marker, contra;
	char text[512];
	const void *png;
	size_t png_len;
} truth;

static int lookup(const char *const *names, int n, mm_rec *r, const char *key)
{
	const char *v = NULL;
	if (mm_rec_str(r, key, &v, &e) != MM_OK)
		return -1;
	return mm_synth_lookup(names, n, v);
}

static void read_truth(mm_rec *r, truth *t)
{
	static const char *const splits[] = { "train", "val", "test" };
	int64_t v;
	const char *s;
	memset(t, 0, sizeof *t);
	t->gt = lookup(mm_gt_names, MM_GT_N, r, "gen_type");
	t->scene = lookup(mm_weather_names, MM_W_N, r, "scene");
	t->face = lookup(mm_face_names, MM_FACE_N, r, "face");
	t->tw = lookup(mm_weather_names, MM_W_N + 1, r, "text_weather");
	t->split = lookup(splits, 3, r, "split");
	t->y = mm_rec_int(r, "label", &v, &e) == MM_OK ? (int)v : -1;
	t->yc = mm_rec_int(r, "label_clean", &v, &e) == MM_OK ? (int)v : -1;
	t->marker = mm_rec_int(r, "marker", &v, &e) == MM_OK && v;
	t->contra = mm_rec_int(r, "contradiction", &v, &e) == MM_OK && v;
	if (mm_rec_str(r, "text", &s, &e) == MM_OK)
		snprintf(t->text, sizeof t->text, "%s", s);
	const msgpack_object *o = mm_rec_get(r, "image");
	if (o && o->type == MSGPACK_OBJECT_BIN) {
		t->png = o->via.bin.ptr;
		t->png_len = o->via.bin.size;
	}
}

static void test_parse(void)
{
	double m[4];
	ok(mm_synth_parse_mix("R=0.3,Uv=0.2,Ut=0.2,S=0.3", m, &e) == MM_OK &&
			fabs(m[0] - 0.3) < 1e-12 && fabs(m[3] - 0.3) < 1e-12, "mix: the default spec");
	ok(mm_synth_parse_mix("s=2,r=2", m, &e) == MM_OK && m[0] == 0.5 && m[3] == 0.5 &&
			m[1] == 0 && m[2] == 0, "mix: subset, any order, case-insensitive, normalised");
	const char *bad[] = { "", "R=0.3,X=1", "R=-1", "R=abc", "R=1,R=2", "R=0,S=0", "R",
		"R=0.3,", "R=1e999", "=1" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mm_status st = mm_synth_parse_mix(bad[i], m, &e);
		ok(st == MM_EUSAGE && e.msg[0], "mix '%s' refused: %s", bad[i], e.msg);
	}
	double sp[3];
	ok(mm_synth_parse_split("7,1.5,1.5", sp, &e) == MM_OK && fabs(sp[0] - 0.7) < 1e-12,
			"split: normalised");
	ok(mm_synth_parse_split("0.7,0.3", sp, &e) == MM_EUSAGE, "split: two fractions refused");
	ok(mm_synth_parse_split("0.7,-0.1,0.4", sp, &e) == MM_EUSAGE, "split: negative refused");
	mm_synth_params p;
	mm_synth_params_default(&p);
	ok(mm_synth_params_check(&p) == NULL, "default parameters are valid");
	p.count = -1;
	ok(mm_synth_params_check(&p) != NULL, "negative count refused");
	mm_synth_params_default(&p);
	p.flip = 0.7;
	ok(mm_synth_params_check(&p) != NULL, "flip > 0.5 refused");
}

static void test_determinism(void)
{
	mm_synth_params p;
	mm_synth_params_default(&p);
	p.count = 60;
	p.seed = 7;
	msgpack_sbuffer *a = pack_all(&p), *b = pack_all(&p);
	p.seed = 8;
	msgpack_sbuffer *c = pack_all(&p);
	ok(a->size > 60 * 1000, "60 scene records packed (%zu bytes)", a->size);
	ok(same(a, b), "same seed: identical bytes");
	ok(!same(a, c), "different seed: different bytes");
	msgpack_sbuffer_free(a);
	msgpack_sbuffer_free(b);
	msgpack_sbuffer_free(c);
	p.kind = MM_SYNTH_PID;
	p.seed = 7;
	a = pack_all(&p);
	b = pack_all(&p);
	ok(a->size > 0 && same(a, b), "pid: same seed, identical bytes");
	msgpack_sbuffer_free(a);
	msgpack_sbuffer_free(b);
}

/* The big scene run: mixture, split, semantics, S at chance, images, text. */
static void test_scene(void)
{
	enum { N = 4000 };
	mm_synth_params p;
	mm_synth_params_default(&p);
	p.count = N;
	p.seed = 11;
	p.flip = 0;
	p.s_weathers = 4;  /* the hardest balance to get right */
	mm_synth *s;
	if (!ok(mm_synth_new(&s, &p, &e) == MM_OK, "generator for %d scenes", N))
		return;
	static truth t[N];
	int n = 0, ngt[MM_GT_N] = { 0 }, strat[2][MM_GT_N][3] = { { { 0 } } };
	int bad_sem[MM_GT_N] = { 0 }, png_ok = 0, png_checked = 0, text_bad = 0;
	/* counts for independence checks */
	int uv_marker[2] = { 0 }, uv_n[2] = { 0 }, ut_roll[2] = { 0 }, ut_n[2] = { 0 };
	/* S: label counts per value of each single-modality cue */
	int s_scene[MM_W_N][2] = { { 0 } }, s_tw[MM_W_N + 1][2] = { { 0 } };
	int s_vis[MM_W_N * MM_FACE_N][2] = { { 0 } }, s_txt[(MM_W_N + 1) * 2][2] = { { 0 } };
	mm_rec *r;
	while (n < N && mm_synth_next(s, &r, &e) == MM_OK) {
		truth *x = &t[n];
		read_truth(r, x);
		if (x->gt < 0 || x->y < 0 || x->scene < 0 || x->face < 0 || x->tw < 0 || x->split < 0) {
			diag("record %d: missing ground truth", n);
			mm_rec_free(r);
			break;
		}
		ngt[x->gt]++;
		strat[x->y][x->gt][x->split]++;
		bool roll = x->face == MM_FACE_EYEROLL;
		switch (x->gt) {
		case MM_GT_R:
			bad_sem[0] += roll != (x->y == 1) || x->marker != (x->y == 1) || x->contra;
			break;
		case MM_GT_UV:
			bad_sem[1] += roll != (x->y == 1) || x->contra;
			uv_marker[x->y] += x->marker;
			uv_n[x->y]++;
			break;
		case MM_GT_UT:
			bad_sem[2] += x->marker != (x->y == 1) || x->contra;
			ut_roll[x->y] += roll;
			ut_n[x->y]++;
			break;
		case MM_GT_S:
			bad_sem[3] += x->tw == MM_W_NONE || x->contra != (x->y == 1) ||
				(x->tw != x->scene) != (x->y == 1);
			s_scene[x->scene][x->y]++;
			s_tw[x->tw][x->y]++;
			s_vis[x->scene * MM_FACE_N + x->face][x->y]++;
			s_txt[x->tw * 2 + x->marker][x->y]++;
			break;
		}
		if (n < 40) {
			mm_image im = { 0 };
			png_checked++;
			if (x->png && mm_image_decode(&im, x->png, x->png_len, 0, &e) == MM_OK &&
					im.w == 64 && im.h == 64 && im.c == 3)
				png_ok++;
			mm_image_free(&im);
		}
		size_t len = strlen(x->text);
		if (len < 8 || strchr(x->text, '{') || strchr(x->text, '}') || strstr(x->text, "  ") ||
				x->text[len - 1] == ' ' || x->text[0] == ' ' || strstr(x->text, " ,")) {
			if (text_bad++ < 3)
				diag("bad sentence: \"%s\"", x->text);
		}
		mm_rec_free(r);
		n++;
	}
	ok(mm_synth_next(s, &r, &e) == MM_EOF, "EOF after count records");
	mm_synth_free(s);
	ok(n == N, "%d records", n);
	/* The mixture: counts are apportioned exactly. */
	ok(ngt[0] == 1200 && ngt[1] == 800 && ngt[2] == 800 && ngt[3] == 1200,
			"mixture R/Uv/Ut/S = %d/%d/%d/%d", ngt[0], ngt[1], ngt[2], ngt[3]);
	/* Labels balanced within each type (flip 0). */
	int bal = 1;
	for (int g = 0; g < MM_GT_N; g++) {
		int pos = strat[1][g][0] + strat[1][g][1] + strat[1][g][2];
		bal &= abs(2 * pos - ngt[g]) <= 1;
	}
	ok(bal, "labels balanced within every type");
	/* Stratified split: every (label, type) stratum is split 70/15/15 up to rounding. */
	int strat_ok = 1, tot[3] = { 0 };
	for (int y = 0; y < 2; y++)
		for (int g = 0; g < MM_GT_N; g++) {
			int m = strat[y][g][0] + strat[y][g][1] + strat[y][g][2];
			strat_ok &= abs(strat[y][g][0] - (int)(m * 0.7 + 0.5)) <= 1;
			strat_ok &= abs(strat[y][g][1] - (int)(m * 0.15 + 0.5)) <= 1;
			for (int k = 0; k < 3; k++)
				tot[k] += strat[y][g][k];
		}
	ok(strat_ok, "every label x gen_type stratum split 70/15/15");
	ok(abs(tot[0] - 2800) <= 8 && abs(tot[1] - 600) <= 8 && abs(tot[2] - 600) <= 8,
			"split sizes %d/%d/%d", tot[0], tot[1], tot[2]);
	/* Semantics on the ground truth. */
	for (int g = 0; g < MM_GT_N; g++)
		ok(bad_sem[g] == 0, "gen_type %s: ground truth agrees with the definition (%d bad)",
				mm_gt_names[g], bad_sem[g]);
	double pm1 = (double)uv_marker[1] / uv_n[1], pm0 = (double)uv_marker[0] / uv_n[0];
	ok(fabs(pm1 - pm0) < 0.08 && pm1 > 0.2, "Uv: marker independent of y (%.3f vs %.3f)", pm1, pm0);
	double pr1 = (double)ut_roll[1] / ut_n[1], pr0 = (double)ut_roll[0] / ut_n[0];
	ok(fabs(pr1 - pr0) < 0.08 && pr1 > 0.05, "Ut: eye-roll independent of y (%.3f vs %.3f)", pr1, pr0);
	/* S: the best rule on one modality's cues (a lookup table = naive Bayes on
	 * the joint cue, fitted in sample, which can only flatter it) is at chance. */
	struct { const char *what; int (*c)[2]; int k; } cues[] = {
		{ "scene", s_scene, MM_W_N },
		{ "text_weather", s_tw, MM_W_N + 1 },
		{ "scene x face (all the image shows)", s_vis, MM_W_N * MM_FACE_N },
		{ "text_weather x marker (all the text says)", s_txt, (MM_W_N + 1) * 2 },
	};
	for (size_t q = 0; q < sizeof cues / sizeof cues[0]; q++) {
		int right = 0, tot_s = 0;
		for (int v = 0; v < cues[q].k; v++) {
			int a = cues[q].c[v][0], b = cues[q].c[v][1];
			right += a > b ? a : b;
			tot_s += a + b;
		}
		double acc = (double)right / tot_s;
		ok(tot_s == 1200 && acc < 0.56, "S: best rule on %s alone: accuracy %.3f (chance 0.5)",
				cues[q].what, acc);
	}
	/* And the pair does it: contradiction predicts y exactly (flip 0). */
	ok(bad_sem[3] == 0, "S: scene and text_weather together give y");
	ok(png_checked == 40 && png_ok == 40, "PNG images decode to 64x64 RGB (%d/%d)", png_ok,
			png_checked);
	ok(text_bad == 0, "sentences well formed (%d bad)", text_bad);
}

static void test_flip(void)
{
	mm_synth_params p;
	mm_synth_params_default(&p);
	p.count = 2000;
	p.flip = 0.2;
	p.size = 16;
	mm_synth *s;
	if (mm_synth_new(&s, &p, &e) != MM_OK)
		return;
	mm_rec *r;
	int flipped = 0, n = 0;
	while (mm_synth_next(s, &r, &e) == MM_OK) {
		int64_t y, yc;
		mm_rec_int(r, "label", &y, &e);
		mm_rec_int(r, "label_clean", &yc, &e);
		flipped += y != yc;
		n++;
		mm_rec_free(r);
	}
	mm_synth_free(s);
	ok(n == 2000 && abs(flipped - 400) < 70, "flip 0.2: %d of %d labels flipped", flipped, n);
}

static void test_sentences(void)
{
	/* Every template and slot, many times: no unexpanded slot, no runaway. */
	mm_rng g;
	mm_rng_seed(&g, 3);
	int bad = 0, marker_seen = 0;
	for (int i = 0; i < 5000; i++) {
		mm_scene sc;
		mm_scene_draw(&g, i % MM_GT_N, (i / 4) % 2, 4, &sc);
		char buf[512];
		size_t n = mm_scene_sentence(&sc, &g, buf, sizeof buf);
		if (n != strlen(buf) || n < 8 || strchr(buf, '{') || strstr(buf, "  "))
			if (bad++ < 3)
				diag("bad: \"%s\"", buf);
		marker_seen += sc.marker;
	}
	ok(bad == 0 && marker_seen > 1000, "5000 sentences well formed (%d markers)", marker_seen);
	/* A tiny buffer truncates, never overflows. */
	mm_scene sc;
	mm_scene_draw(&g, MM_GT_S, 1, 4, &sc);
	char small[12];
	memset(small, 'x', sizeof small);
	size_t n = mm_scene_sentence(&sc, &g, small, 8);
	ok(n < 8 && small[n] == 0 && small[8] == 'x', "sentence truncated to the buffer");
}

static void test_pid_kind(void)
{
	/* Per interaction: the largest |corr(x_m[d], y)| over d, per modality. */
	const char *expect[] = { "both", "x1", "x2", "neither" };
	for (int it = 0; it < 4; it++) {
		mm_synth_params p;
		mm_synth_params_default(&p);
		p.kind = MM_SYNTH_PID;
		p.count = 3000;
		p.flip = 0;
		p.interaction = it;
		p.latent_dim = 2;
		p.dim = 6;
		p.pid_noise = 0.05;
		mm_synth *s;
		if (mm_synth_new(&s, &p, &e) != MM_OK) {
			ok(0, "pid generator: %s", e.msg);
			continue;
		}
		double sx[2][6] = { { 0 } }, sxx[2][6] = { { 0 } }, sxy[2][6] = { { 0 } }, sy = 0;
		int n = 0, pos = 0, gt_ok = 1, dims_ok = 1;
		mm_rec *r;
		while (mm_synth_next(s, &r, &e) == MM_OK) {
			mm_tensor a[2];
			int64_t y;
			dims_ok &= mm_rec_vec(r, "x1", 6, &a[0], &e) == MM_OK;
			dims_ok &= mm_rec_vec(r, "x2", 6, &a[1], &e) == MM_OK;
			mm_rec_int(r, "label", &y, &e);
			gt_ok &= lookup(mm_gt_names, MM_GT_N, r, "gen_type") == it;
			for (int m = 0; m < 2 && dims_ok; m++)
				for (int d = 0; d < 6; d++) {
					sx[m][d] += a[m].data[d];
					sxx[m][d] += a[m].data[d] * a[m].data[d];
					sxy[m][d] += a[m].data[d] * y;
				}
			sy += y;
			pos += y == 1;
			n++;
			mm_tensor_free(&a[0]);
			mm_tensor_free(&a[1]);
			mm_rec_free(r);
		}
		mm_synth_free(s);
		double best[2] = { 0, 0 };
		double my = sy / n, vy = my * (1 - my);
		for (int m = 0; m < 2; m++)
			for (int d = 0; d < 6; d++) {
				double mx = sx[m][d] / n, vx = sxx[m][d] / n - mx * mx;
				double c = fabs((sxy[m][d] / n - mx * my) / sqrt(vx * vy));
				if (c > best[m])
					best[m] = c;
			}
		bool s1 = best[0] > 0.25, s2 = best[1] > 0.25;
		bool want1 = it == 0 || it == 1, want2 = it == 0 || it == 2;
		ok(dims_ok && gt_ok && n == 3000 && (it == 3 ? abs(pos - 1500) < 80 : pos == 1500) &&
				s1 == want1 && s2 == want2 &&
				(it != 3 || (best[0] < 0.1 && best[1] < 0.1)),
				"pid %s: balanced classes (%d/%d), label linearly visible in %s "
				"(max |corr| x1 %.2f, x2 %.2f)", mm_pid_names[it], pos, n, expect[it],
				best[0], best[1]);
	}
	/* Equal-frequency classes for C = 5. */
	mm_synth_params p;
	mm_synth_params_default(&p);
	p.kind = MM_SYNTH_PID;
	p.count = 1000;
	p.classes = 5;
	p.flip = 0;
	p.interaction = MM_PID_REDUNDANCY;
	mm_synth *s;
	int cnt[5] = { 0 };
	if (mm_synth_new(&s, &p, &e) == MM_OK) {
		mm_rec *r;
		while (mm_synth_next(s, &r, &e) == MM_OK) {
			int64_t y;
			if (mm_rec_int(r, "label", &y, &e) == MM_OK && y >= 0 && y < 5)
				cnt[y]++;
			mm_rec_free(r);
		}
		mm_synth_free(s);
	}
	ok(cnt[0] == 200 && cnt[1] == 200 && cnt[2] == 200 && cnt[3] == 200 && cnt[4] == 200,
			"pid, 5 classes: equal frequencies %d %d %d %d %d", cnt[0], cnt[1], cnt[2], cnt[3],
			cnt[4]);
}

static void test_bits(void)
{
	for (int fn = 0; fn < MM_BITS_N; fn++) {
		mm_synth_params p;
		mm_synth_params_default(&p);
		p.kind = MM_SYNTH_BITS;
		p.count = 500;
		p.flip = 0;
		p.fn = fn;
		mm_synth *s;
		int bad = 0, n = 0;
		if (mm_synth_new(&s, &p, &e) != MM_OK)
			continue;
		mm_rec *r;
		while (mm_synth_next(s, &r, &e) == MM_OK) {
			mm_tensor a, b;
			int64_t y;
			mm_rec_vec(r, "x1", 1, &a, &e);
			mm_rec_vec(r, "x2", 1, &b, &e);
			mm_rec_int(r, "label", &y, &e);
			int x1 = a.data[0] > 0.5f, x2 = b.data[0] > 0.5f;
			int want = fn == MM_BITS_AND ? x1 & x2 : fn == MM_BITS_OR ? x1 | x2 :
				fn == MM_BITS_XOR ? x1 ^ x2 : x1;
			bad += y != want || (fn == MM_BITS_COPY && x1 != x2);
			n++;
			mm_tensor_free(&a);
			mm_tensor_free(&b);
			mm_rec_free(r);
		}
		mm_synth_free(s);
		ok(n == 500 && bad == 0, "bits %s: every label is the function of x1, x2", mm_bits_names[fn]);
	}
}

static void test_pid_exact(void)
{
	double p[2][2][2];
	mm_pid d;
	/* y = x1 AND x2, x uniform */
	memset(p, 0, sizeof p);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			p[a][b][a & b] = 0.25;
	mm_pid_bits(p, &d, &e);
	near(d.R, 0.3113, 2e-3, "AND: R = 0.311");
	near(d.S, 0.5, 2e-3, "AND: S = 0.5");
	ok(d.U1 < 1e-3 && d.U2 < 1e-3, "AND: U1 = U2 = 0 (%.4f, %.4f)", d.U1, d.U2);
	near(d.R + d.U1 + d.U2 + d.S, d.I, 1e-9, "AND: the parts sum to I");
	memset(p, 0, sizeof p);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			p[a][b][a | b] = 0.25;
	mm_pid_bits(p, &d, &e);
	ok(fabs(d.R - 0.3113) < 2e-3 && fabs(d.S - 0.5) < 2e-3, "OR: R %.4f, S %.4f", d.R, d.S);
	memset(p, 0, sizeof p);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			p[a][b][a ^ b] = 0.25;
	mm_pid_bits(p, &d, &e);
	ok(fabs(d.S - 1) < 1e-3 && d.R < 1e-3 && d.U1 < 1e-3, "XOR: S = 1 (%.4f)", d.S);
	memset(p, 0, sizeof p);
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			p[a][b][a] = 0.25;
	mm_pid_bits(p, &d, &e);
	ok(fabs(d.U1 - 1) < 1e-3 && d.R < 1e-3 && d.S < 1e-3 && d.U2 < 1e-3, "y = x1: U1 = 1 (%.4f)",
			d.U1);
	memset(p, 0, sizeof p);
	p[0][0][0] = p[1][1][1] = 0.5;
	mm_pid_bits(p, &d, &e);
	ok(fabs(d.R - 1) < 1e-3 && d.S < 1e-3 && d.U1 < 1e-3, "copy: R = 1 (%.4f)", d.R);
	memset(p, 0, sizeof p);
	ok(mm_pid_bits(p, &d, &e) == MM_EVALUE, "an empty joint is refused");
}

static void test_tasks(void)
{
	unsigned m = 0;
	ok(mm_synth_parse_tasks("light,Color", &m, &e) == MM_OK &&
			m == (1u << MM_TASK_LIGHT | 1u << MM_TASK_COLOR), "--tasks light,Color parsed");
	ok(mm_synth_parse_tasks("color,color", &m, &e) == MM_EUSAGE &&
			strstr(e.msg, "given twice"), "a repeated group is refused");
	ok(mm_synth_parse_tasks("color,", &m, &e) == MM_EUSAGE && strstr(e.msg, "unknown task group"),
			"an empty name is refused");
	/* Every group and answer: the drawn image answers it; the attributes the
	 * question does not fix take every value. */
	mm_rng g;
	mm_rng_seed(&g, 5);
	int wrong = 0, seen[MM_TASK_N][4][4] = { { { 0 } } };
	for (int i = 0; i < 4000; i++) {
		int t = i % MM_TASK_N, a = (i / MM_TASK_N) % 4;
		mm_task_scene ts;
		mm_task_draw(&g, t, a, &ts);
		wrong += mm_task_answer(&ts, t) != a;
		seen[t][0][ts.color]++;
		seen[t][1][ts.orient]++;
		seen[t][2][ts.light]++;
		seen[t][3][ts.shape]++;
	}
	int missing = 0;
	for (int t = 0; t < MM_TASK_N; t++)
		for (int k = 0; k < 4; k++)
			missing += seen[t][0][k] == 0 || seen[t][1][k] == 0 || seen[t][2][k] == 0 ||
				(k < 2 && seen[t][3][k] == 0);
	ok(wrong == 0, "4000 drawn images answer their question");
	ok(missing == 0, "every attribute takes every value in every group");
	/* Within the slats (8 pixels at size 64), the lit edge is brighter than
	 * the far one in (nearly) every image, whatever the shape and ground:
	 * the slope every pixel patch holds. */
	int right_side = 0, total = 0;
	uint8_t rgb[64 * 64 * 3], again[64 * 64 * 3];
	for (int i = 0; i < 200; i++) {
		mm_task_scene ts;
		mm_task_draw(&g, MM_TASK_LIGHT, i % 4, &ts);
		mm_rng gi = mm_rng_split(&g, (uint64_t)i), gj = gi;
		mm_task_render(&ts, &gi, 64, 0.1, rgb);
		if (i == 0) {
			mm_task_render(&ts, &gj, 64, 0.1, again);
			ok(memcmp(rgb, again, sizeof rgb) == 0, "the same generator renders the same image");
		}
		double lit = 0, far = 0;
		for (int y = 0; y < 64; y++)
			for (int x = 0; x < 64; x++) {
				int u = ts.light < 2 ? x % 8 : y % 8;
				int pos = ts.light == 0 || ts.light == 2 ? u : 7 - u;  /* 0: lit edge */
				double v = rgb[(y * 64 + x) * 3] + rgb[(y * 64 + x) * 3 + 1] + rgb[(y * 64 + x) * 3 + 2];
				if (pos < 2)
					lit += v;
				else if (pos >= 6)
					far += v;
			}
		right_side += lit > far;
		total++;
	}
	ok(right_side >= total * 9 / 10, "the slats' lit edge is the brighter one (%d of %d images)", right_side, total);
	char small[12];
	memset(small, 'x', sizeof small);
	size_t n = mm_task_instruction(MM_TASK_COMBO, &g, small, 8);
	ok(n == strlen(small) && n < 8 && small[8] == 'x', "instruction truncated to the buffer");
	/* --tasks: the subset's records are the full set's, in order. */
	mm_synth_params p;
	mm_synth_params_default(&p);
	p.kind = MM_SYNTH_TASKS;
	p.count = 24;
	p.size = 16;
	/* the full set's orientation records, packed */
	msgpack_sbuffer *want = msgpack_sbuffer_new();
	msgpack_packer pk;
	msgpack_packer_init(&pk, want, msgpack_sbuffer_write);
	mm_synth *s;
	mm_rec *r;
	if (mm_synth_new(&s, &p, &e) == MM_OK) {
		while (mm_synth_next(s, &r, &e) == MM_OK) {
			const char *t = NULL;
			if (mm_rec_str(r, "task", &t, &e) == MM_OK && !strcmp(t, "orientation"))
				mm_rec_pack(r, &pk);
			mm_rec_free(r);
		}
		mm_synth_free(s);
	}
	p.tasks = 1u << MM_TASK_ORIENT;
	int64_t cnt = -1;
	if (mm_synth_new(&s, &p, &e) == MM_OK) {
		cnt = mm_synth_count(s);
		mm_synth_free(s);
	}
	msgpack_sbuffer *sub = pack_all(&p);
	ok(cnt == 6 && want->size > 0 && same(sub, want),
			"--tasks orientation: the full set's 6 orientation records, byte for byte");
	msgpack_sbuffer_free(want);
	msgpack_sbuffer_free(sub);
}

int main(void)
{
	/* As in mmoe-synth: keep zlib's per-image state from bouncing the heap top. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 4 << 20);
	test_parse();
	test_determinism();
	test_scene();
	test_flip();
	test_sentences();
	test_pid_kind();
	test_bits();
	test_pid_exact();
	test_tasks();
	return tap_done();
}
