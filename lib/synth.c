/* synth.c — synthetic multimodal datasets with known interaction types.
 *
 * Layout of a generator run:
 *   1. the *plan*: gen_type, label (and for bits the inputs) of every record,
 *      drawn up front from one child generator, then the stratified split;
 *   2. the *content* of record i, drawn from mm_rng_split(content, i) when the
 *      record is produced: scene, face, sentence, pixels (or latents).
 * The plan is a few bytes per record, so count is bounded only by patience.
 */
#include "synth.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "image.h"
#include "util.h"

const char *const mm_gt_names[MM_GT_N] = { "R", "Uv", "Ut", "S" };
const char *const mm_weather_names[MM_W_N + 1] = { "sunny", "rainy", "snowy", "cloudy", "none" };
const char *const mm_face_names[MM_FACE_N] = { "none", "smile", "frown", "eyeroll" };
const char *const mm_pid_names[MM_PID_N] = {
	"redundancy", "uniqueness1", "uniqueness2", "synergy", "mixed" };
const char *const mm_bits_names[MM_BITS_N] = { "and", "or", "xor", "x1", "copy" };
const char *const mm_task_names[MM_TASK_N] = { "color", "orientation", "light", "combo" };
const char *const mm_task_answers[MM_TASK_VOCAB] = {
	"red", "yellow", "green", "blue",
	"horizontal", "vertical", "rising", "falling",
	"left", "right", "top", "bottom",
	"warm straight", "warm slanted", "cool straight", "cool slanted",
};

/* ======================================================================
 * Parameters
 * ====================================================================== */

void mm_synth_params_default(mm_synth_params *p)
{
	memset(p, 0, sizeof *p);
	p->kind = MM_SYNTH_SCENE;
	p->seed = 1;
	p->count = 1000;
	p->mix[MM_GT_R] = 0.3;
	p->mix[MM_GT_UV] = 0.2;
	p->mix[MM_GT_UT] = 0.2;
	p->mix[MM_GT_S] = 0.3;
	p->flip = 0.05;
	p->split[0] = 0.7;
	p->split[1] = 0.15;
	p->split[2] = 0.15;
	p->noise = 0.1;
	p->size = 64;
	p->s_weathers = 2;
	p->interaction = MM_PID_SYNERGY;
	p->classes = 2;
	p->latent_dim = 4;
	p->dim = 16;
	p->pid_noise = 0.2;
	p->fn = MM_BITS_AND;
}

const char *mm_synth_params_check(const mm_synth_params *p)
{
	if (p->kind != MM_SYNTH_SCENE && p->kind != MM_SYNTH_PID && p->kind != MM_SYNTH_BITS &&
			p->kind != MM_SYNTH_TASKS)
		return "kind: unknown generator";
	if (p->count < 0)
		return "count: must be >= 0";
	if (p->count > (int64_t)1 << 40)
		return "count: too large";
	double s = 0;
	for (int i = 0; i < MM_GT_N; i++) {
		if (!(p->mix[i] >= 0) || !isfinite(p->mix[i]))
			return "mix: weights must be finite and >= 0";
		s += p->mix[i];
	}
	if (!(s > 0))
		return "mix: all weights are zero";
	if (!(p->flip >= 0 && p->flip <= 0.5))
		return "flip: must be in [0, 0.5]";
	s = 0;
	for (int i = 0; i < 3; i++) {
		if (!(p->split[i] >= 0) || !isfinite(p->split[i]))
			return "split: fractions must be finite and >= 0";
		s += p->split[i];
	}
	if (!(s > 0))
		return "split: all fractions are zero";
	if (!(p->noise >= 0 && p->noise <= 1))
		return "noise: must be in [0, 1]";
	if (p->s_weathers < 2 || p->s_weathers > MM_W_N)
		return "S weathers: must be in 2..4";
	if (p->size < 16 || p->size > 1024)
		return "size: must be in 16..1024";
	if (p->interaction < 0 || p->interaction >= MM_PID_N)
		return "interaction: unknown";
	if (p->classes < 2 || p->classes > 64)
		return "classes: must be in 2..64";
	if (p->latent_dim < 1 || p->latent_dim > 256)
		return "latent dimension: must be in 1..256";
	if (p->dim < 1 || p->dim > 4096)
		return "dimension: must be in 1..4096";
	if (!(p->pid_noise >= 0) || !isfinite(p->pid_noise))
		return "pid noise: must be finite and >= 0";
	if (p->fn < 0 || p->fn >= MM_BITS_N)
		return "fn: unknown function";
	if (p->tasks >= 1u << MM_TASK_N)
		return "tasks: unknown task group";
	if (p->id_prefix && strlen(p->id_prefix) > 64)
		return "id prefix: too long";
	return NULL;
}

int mm_synth_lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(names[i], s) == 0)
			return i;
	return -1;
}

/* A number in [0, inf) at the start of s; end past it.  -1 when bad. */
static double parse_weight(const char *s, const char *stop, char **end)
{
	errno = 0;
	double v = strtod(s, end);
	if (errno || *end == s || *end != stop || !isfinite(v))
		return -1;
	return v;
}

mm_status mm_synth_parse_mix(const char *spec, double mix[MM_GT_N], mm_err *e)
{
	double w[MM_GT_N] = { 0 };
	bool seen[MM_GT_N] = { false };
	const char *p = spec;
	if (!spec || !*spec)
		return mm_errf(e, MM_EUSAGE, "empty mixture (want e.g. R=0.3,Uv=0.2,Ut=0.2,S=0.3)");
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *stop = comma ? comma : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (!eq)
			return mm_errf(e, MM_EUSAGE, "'%.*s': expected TYPE=WEIGHT (types R, Uv, Ut, S)",
					(int)(stop - p), p);
		char name[16];
		size_t nl = (size_t)(eq - p);
		if (nl == 0 || nl >= sizeof name)
			return mm_errf(e, MM_EUSAGE, "'%.*s': unknown type (want R, Uv, Ut or S)",
					(int)(stop - p), p);
		memcpy(name, p, nl);
		name[nl] = 0;
		int t = mm_synth_lookup(mm_gt_names, MM_GT_N, name);
		if (t < 0)
			return mm_errf(e, MM_EUSAGE, "'%s': unknown type (want R, Uv, Ut or S)", name);
		if (seen[t])
			return mm_errf(e, MM_EUSAGE, "type %s given twice", mm_gt_names[t]);
		seen[t] = true;
		char *end;
		/* strtod stops at the comma; for the last item it stops at the NUL. */
		char buf[64];
		size_t vl = (size_t)(stop - eq - 1);
		if (vl == 0 || vl >= sizeof buf)
			return mm_errf(e, MM_EUSAGE, "type %s: missing or bad weight", mm_gt_names[t]);
		memcpy(buf, eq + 1, vl);
		buf[vl] = 0;
		double v = parse_weight(buf, buf + vl, &end);
		if (v < 0)
			return mm_errf(e, MM_EUSAGE, "type %s: weight '%s' is not a number >= 0",
					mm_gt_names[t], buf);
		w[t] = v;
		if (!comma)
			break;
		p = comma + 1;
		if (!*p)
			return mm_errf(e, MM_EUSAGE, "trailing comma in mixture");
	}
	double s = 0;
	for (int i = 0; i < MM_GT_N; i++)
		s += w[i];
	if (!(s > 0))
		return mm_errf(e, MM_EUSAGE, "mixture weights sum to zero");
	for (int i = 0; i < MM_GT_N; i++)
		mix[i] = w[i] / s;
	return MM_OK;
}

mm_status mm_synth_parse_tasks(const char *spec, unsigned *mask, mm_err *e)
{
	unsigned m = 0;
	const char *p = spec;
	if (!spec || !*spec)
		return mm_errf(e, MM_EUSAGE, "empty task list (want names among color, "
				"orientation, light, combo)");
	for (;;) {
		const char *stop = strchr(p, ',');
		size_t l = stop ? (size_t)(stop - p) : strlen(p);
		char name[32];
		int t = -1;
		if (l > 0 && l < sizeof name) {
			memcpy(name, p, l);
			name[l] = 0;
			t = mm_synth_lookup(mm_task_names, MM_TASK_N, name);
		}
		if (t < 0)
			return mm_errf(e, MM_EUSAGE, "'%.*s': unknown task group (want color, "
					"orientation, light or combo)", (int)l, p);
		if (m & 1u << t)
			return mm_errf(e, MM_EUSAGE, "task group %s given twice", mm_task_names[t]);
		m |= 1u << t;
		if (!stop)
			break;
		p = stop + 1;
	}
	*mask = m;
	return MM_OK;
}

mm_status mm_synth_parse_split(const char *spec, double split[3], mm_err *e)
{
	double w[3];
	const char *p = spec;
	for (int i = 0; i < 3; i++) {
		char buf[64], *end;
		const char *stop = strchr(p, ',');
		if (!stop)
			stop = p + strlen(p);
		size_t l = (size_t)(stop - p);
		if (l == 0 || l >= sizeof buf)
			return mm_errf(e, MM_EUSAGE, "'%s': expected TRAIN,VAL,TEST fractions", spec);
		memcpy(buf, p, l);
		buf[l] = 0;
		w[i] = parse_weight(buf, buf + l, &end);
		if (w[i] < 0)
			return mm_errf(e, MM_EUSAGE, "'%s': fraction '%s' is not a number >= 0", spec, buf);
		if (i < 2 && *stop != ',')
			return mm_errf(e, MM_EUSAGE, "'%s': expected three fractions TRAIN,VAL,TEST", spec);
		if (i == 2 && *stop)
			return mm_errf(e, MM_EUSAGE, "'%s': expected three fractions TRAIN,VAL,TEST", spec);
		p = stop + 1;
	}
	double s = w[0] + w[1] + w[2];
	if (!(s > 0))
		return mm_errf(e, MM_EUSAGE, "'%s': fractions sum to zero", spec);
	for (int i = 0; i < 3; i++)
		split[i] = w[i] / s;
	return MM_OK;
}

/* ======================================================================
 * Small random helpers
 * ====================================================================== */

static inline double unif(mm_rng *g, double a, double b)
{
	return a + (b - a) * mm_rng_uniform(g);
}

static inline bool coin(mm_rng *g, double p)
{
	return mm_rng_uniform(g) < p;
}

static inline int below(mm_rng *g, int n)
{
	return (int)mm_rng_below(g, (uint64_t)n);
}

#define PICK(g, arr) ((arr)[below((g), (int)(sizeof(arr) / sizeof((arr)[0])))])

/* Split n items over k weights exactly (largest remainder, ties to the lower
 * index): out[i] sums to n. */
static void apportion(int64_t n, const double *w, int k, int64_t *out)
{
	double s = 0, rem[16];
	int64_t used = 0;
	for (int i = 0; i < k; i++)
		s += w[i];
	for (int i = 0; i < k; i++) {
		double x = s > 0 ? (double)n * w[i] / s : 0;
		out[i] = (int64_t)floor(x);
		rem[i] = x - (double)out[i];
		used += out[i];
	}
	while (used < n) {
		int best = 0;
		for (int i = 1; i < k; i++)
			if (rem[i] > rem[best])
				best = i;
		out[best]++;
		rem[best] = -1;
		used++;
	}
}

/* ======================================================================
 * The scene world: content
 * ====================================================================== */

/* How often the uninformative modality still shows a cue (independently of
 * y): these distractors are what makes a unimodal model wrong on the other
 * types, and so what makes the R/U/S categorisation non-trivial. */
#define UV_MARKER_RATE 0.40   /* Uv: text marker, independent of y */
#define UT_FACE_RATE   0.55   /* Ut: a face (smile/frown/eye-roll uniform) */
#define S_FACE_RATE    0.20   /* S: a face, independent of y */
#define S_MARKER_RATE  0.08   /* S: a marker, independent of y */
#define RU_FACE_RATE   0.85   /* R, Uv with y = 0: a smile or frown face */
#define RU_WEATHER     0.35   /* R, Uv, Ut: the sentence names the (true) weather */

static int neutral_face(mm_rng *g)
{
	return coin(g, 0.5) ? MM_FACE_SMILE : MM_FACE_FROWN;
}

void mm_scene_draw(mm_rng *g, int gen_type, int y, int k, mm_scene *sc)
{
	if (k < 2 || k > MM_W_N)
		k = MM_W_N;
	memset(sc, 0, sizeof *sc);
	sc->gen_type = gen_type;
	sc->label_clean = sc->label = y;
	sc->scene = below(g, MM_W_N);
	sc->text_weather = MM_W_NONE;
	switch (gen_type) {
	case MM_GT_R:
	case MM_GT_UV:
		sc->face = y ? MM_FACE_EYEROLL : coin(g, RU_FACE_RATE) ? neutral_face(g) : MM_FACE_NONE;
		sc->marker = gen_type == MM_GT_R ? y : coin(g, UV_MARKER_RATE);
		if (coin(g, RU_WEATHER))
			sc->text_weather = sc->scene;
		sc->praise = coin(g, 0.5);
		break;
	case MM_GT_UT:
		sc->face = coin(g, UT_FACE_RATE) ? 1 + below(g, 3) : MM_FACE_NONE;
		sc->marker = y;
		if (coin(g, RU_WEATHER))
			sc->text_weather = sc->scene;
		sc->praise = coin(g, 0.5);
		break;
	default: /* S: the stated weather contradicts the scene iff y */
		sc->face = coin(g, S_FACE_RATE) ? 1 + below(g, 3) : MM_FACE_NONE;
		sc->marker = coin(g, S_MARKER_RATE);
		/* Scene uniform over the first k weathers; stated weather = scene
		 * (y = 0) or uniform over the k - 1 others (y = 1): both marginals
		 * are uniform over the k whatever y. */
		sc->scene = below(g, k);
		sc->text_weather = y ? (sc->scene + 1 + below(g, k - 1)) % k : sc->scene;
		sc->praise = coin(g, 0.8);
		break;
	}
}

/* ======================================================================
 * The scene world: rendering
 * ====================================================================== */

typedef struct canvas {
	int n;        /* side */
	float *px;    /* n*n*3, [0, 1] */
} canvas;

typedef struct rgb {
	float r, g, b;
} rgb;

static rgb jitter(mm_rng *g, rgb c, double amount)
{
	c.r += (float)unif(g, -amount, amount);
	c.g += (float)unif(g, -amount, amount);
	c.b += (float)unif(g, -amount, amount);
	return c;
}

static inline void blend(canvas *cv, int x, int y, rgb c, float a)
{
	if (x < 0 || y < 0 || x >= cv->n || y >= cv->n || a <= 0)
		return;
	if (a > 1)
		a = 1;
	float *p = cv->px + ((size_t)y * cv->n + x) * 3;
	p[0] += a * (c.r - p[0]);
	p[1] += a * (c.g - p[1]);
	p[2] += a * (c.b - p[2]);
}

static void gradient(canvas *cv, rgb top, rgb bot)
{
	for (int y = 0; y < cv->n; y++) {
		float t = cv->n > 1 ? (float)y / (float)(cv->n - 1) : 0;
		rgb c = { top.r + t * (bot.r - top.r), top.g + t * (bot.g - top.g),
			top.b + t * (bot.b - top.b) };
		for (int x = 0; x < cv->n; x++) {
			float *p = cv->px + ((size_t)y * cv->n + x) * 3;
			p[0] = c.r;
			p[1] = c.g;
			p[2] = c.b;
		}
	}
}

static void rect(canvas *cv, double y0, double y1, rgb c, float a)
{
	for (int y = (int)floor(y0); y < (int)ceil(y1); y++)
		for (int x = 0; x < cv->n; x++)
			blend(cv, x, y, c, a);
}

/* Anti-aliased disc: coverage from the distance to the rim. */
static void disc(canvas *cv, double cx, double cy, double r, rgb c, float a)
{
	int x0 = (int)floor(cx - r - 1), x1 = (int)ceil(cx + r + 1);
	int y0 = (int)floor(cy - r - 1), y1 = (int)ceil(cy + r + 1);
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
			double cov = r + 0.5 - sqrt(dx * dx + dy * dy);
			if (cov > 0)
				blend(cv, x, y, c, a * (float)(cov > 1 ? 1 : cov));
		}
}

/* Ring of radius r and width w, over the angles [a0, a1] (radians, y down). */
static void arc(canvas *cv, double cx, double cy, double r, double w, double a0, double a1,
		rgb c, float a)
{
	int x0 = (int)floor(cx - r - w - 1), x1 = (int)ceil(cx + r + w + 1);
	int y0 = (int)floor(cy - r - w - 1), y1 = (int)ceil(cy + r + w + 1);
	bool full = a0 <= 0 && a1 >= 2 * M_PI;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
			if (!full) {
				double ang = atan2(dy, dx);
				if (ang < 0)
					ang += 2 * M_PI;
				if (ang < a0 || ang > a1)
					continue;
			}
			double cov = w / 2 + 0.5 - fabs(sqrt(dx * dx + dy * dy) - r);
			if (cov > 0)
				blend(cv, x, y, c, a * (float)(cov > 1 ? 1 : cov));
		}
}

/* Segment of width w. */
static void line(canvas *cv, double xa, double ya, double xb, double yb, double w, rgb c, float a)
{
	int x0 = (int)floor(fmin(xa, xb) - w - 1), x1 = (int)ceil(fmax(xa, xb) + w + 1);
	int y0 = (int)floor(fmin(ya, yb) - w - 1), y1 = (int)ceil(fmax(ya, yb) + w + 1);
	double vx = xb - xa, vy = yb - ya, vv = vx * vx + vy * vy;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++) {
			double px = x + 0.5 - xa, py = y + 0.5 - ya;
			double t = vv > 0 ? (px * vx + py * vy) / vv : 0;
			t = t < 0 ? 0 : t > 1 ? 1 : t;
			double dx = px - t * vx, dy = py - t * vy;
			double cov = w / 2 + 0.5 - sqrt(dx * dx + dy * dy);
			if (cov > 0)
				blend(cv, x, y, c, a * (float)(cov > 1 ? 1 : cov));
		}
}

/* A cloud: a few overlapping discs along a horizontal band. */
static void cloud(canvas *cv, mm_rng *g, double cx, double cy, double s, rgb c, float a)
{
	int k = 3 + below(g, 3);
	for (int i = 0; i < k; i++) {
		double ox = (i - (k - 1) / 2.0) * s * unif(g, 0.55, 0.8);
		double oy = unif(g, -0.35, 0.15) * s;
		disc(cv, cx + ox, cy + oy, s * unif(g, 0.45, 0.75), c, a);
	}
}

static void draw_face(canvas *cv, mm_rng *g, int face, double noise)
{
	double n = cv->n;
	double r = n * unif(g, 0.13, 0.19);
	double cx = unif(g, r + 1, n - r - 1), cy = unif(g, r + 1, n - r - 1);
	/* Eye-rolling faces are mostly drawn flushed (orange-red), frowns sometimes
	 * are: a colour cue a pooled colour histogram can see, imperfect on purpose;
	 * the shapes (eyes rolled up, flat mouth) tell the rest. */
	bool flushed = face == MM_FACE_EYEROLL ? coin(g, 0.85) : face == MM_FACE_FROWN ? coin(g, 0.2) : false;
	rgb skin = jitter(g, flushed ? (rgb){ 0.96f, 0.50f, 0.25f } : (rgb){ 0.98f, 0.88f, 0.28f },
			0.03 + 0.1 * noise);
	rgb ink = jitter(g, (rgb){ 0.22f, 0.14f, 0.06f }, 0.05);
	rgb white = { 0.98f, 0.98f, 0.96f };
	double w = fmax(1.0, 0.12 * r);
	disc(cv, cx, cy, r, skin, 1);
	arc(cv, cx, cy, r, fmax(1.0, 0.09 * r), 0, 2 * M_PI, ink, 1);
	double ex = 0.36 * r * unif(g, 0.9, 1.1), ey = cy - 0.25 * r * unif(g, 0.85, 1.15);
	switch (face) {
	case MM_FACE_SMILE:
		disc(cv, cx - ex, ey, fmax(0.8, 0.12 * r), ink, 1);
		disc(cv, cx + ex, ey, fmax(0.8, 0.12 * r), ink, 1);
		arc(cv, cx, cy - 0.05 * r, 0.5 * r * unif(g, 0.9, 1.1), w,
				M_PI * unif(g, 0.12, 0.2), M_PI * unif(g, 0.8, 0.88), ink, 1);
		break;
	case MM_FACE_FROWN:
		disc(cv, cx - ex, ey, fmax(0.8, 0.12 * r), ink, 1);
		disc(cv, cx + ex, ey, fmax(0.8, 0.12 * r), ink, 1);
		arc(cv, cx, cy + 0.8 * r, 0.45 * r * unif(g, 0.9, 1.1), w,
				M_PI * unif(g, 1.15, 1.25), M_PI * unif(g, 1.75, 1.85), ink, 1);
		break;
	case MM_FACE_EYEROLL: {
		/* White eyes with the pupils rolled up, a flat, tilted mouth. */
		double er = 0.22 * r;
		double side = coin(g, 0.5) ? 1 : -1;
		for (int k = -1; k <= 1; k += 2) {
			disc(cv, cx + k * ex, ey, er, white, 1);
			arc(cv, cx + k * ex, ey, er, fmax(0.7, 0.05 * r), 0, 2 * M_PI, ink, 0.8f);
			disc(cv, cx + k * ex + side * 0.06 * r, ey - 0.12 * r, fmax(0.8, 0.1 * r), ink, 1);
		}
		double tilt = side * unif(g, 0.05, 0.15) * r;
		line(cv, cx - 0.32 * r, cy + 0.42 * r + tilt, cx + 0.32 * r, cy + 0.42 * r - tilt,
				w, ink, 1);
		break;
	}
	default:
		break;
	}
}

/* Birds and leaves: clutter that carries no information. */
static void clutter(canvas *cv, mm_rng *g, double noise)
{
	double n = cv->n;
	int k = below(g, 2 + (int)(noise * 12));
	for (int i = 0; i < k; i++) {
		double x = unif(g, 0, n), y = unif(g, 0, n), s = n * unif(g, 0.02, 0.05);
		if (coin(g, 0.5)) {
			rgb c = jitter(g, (rgb){ 0.15f, 0.15f, 0.18f }, 0.08);
			line(cv, x - s, y - s * 0.5, x, y, 1, c, 0.9f);
			line(cv, x, y, x + s, y - s * 0.5, 1, c, 0.9f);
		} else {
			rgb c = { (float)unif(g, 0.2, 0.9), (float)unif(g, 0.2, 0.8), (float)unif(g, 0.1, 0.5) };
			disc(cv, x, y, s * 0.6, c, 0.85f);
		}
	}
}

static void draw_scene(canvas *cv, mm_rng *g, int scene, double noise)
{
	double n = cv->n, jit = 0.04 + 0.3 * noise;
	switch (scene) {
	case MM_W_SUNNY: {
		gradient(cv, jitter(g, (rgb){ 0.30f, 0.58f, 0.92f }, jit),
				jitter(g, (rgb){ 0.66f, 0.83f, 0.98f }, jit));
		if (coin(g, 0.6))
			rect(cv, n * unif(g, 0.75, 0.88), n,
					jitter(g, (rgb){ 0.35f, 0.68f, 0.30f }, jit), 1);
		double r = n * unif(g, 0.08, 0.15);
		double sx = unif(g, 0.1, 0.9) * n, sy = unif(g, 0.08, 0.42) * n;
		rgb sun = jitter(g, (rgb){ 1.0f, 0.86f, 0.25f }, jit / 2);
		if (coin(g, 0.5)) {
			int rays = 6 + below(g, 6);
			double a0 = unif(g, 0, M_PI);
			for (int i = 0; i < rays; i++) {
				double a = a0 + 2 * M_PI * i / rays;
				line(cv, sx + cos(a) * r * 1.3, sy + sin(a) * r * 1.3,
						sx + cos(a) * r * 1.8, sy + sin(a) * r * 1.8, 1, sun, 0.9f);
			}
		}
		disc(cv, sx, sy, r, sun, 1);
		if (coin(g, 0.3))
			cloud(cv, g, unif(g, 0.1, 0.9) * n, unif(g, 0.1, 0.4) * n, n * unif(g, 0.06, 0.1),
					jitter(g, (rgb){ 0.96f, 0.96f, 0.98f }, 0.03), 0.9f);
		break;
	}
	case MM_W_RAINY: {
		gradient(cv, jitter(g, (rgb){ 0.24f, 0.27f, 0.35f }, jit),
				jitter(g, (rgb){ 0.44f, 0.47f, 0.54f }, jit));
		int k = 1 + below(g, 3);
		for (int i = 0; i < k; i++)
			cloud(cv, g, unif(g, 0.1, 0.9) * n, unif(g, 0.05, 0.25) * n, n * unif(g, 0.08, 0.14),
					jitter(g, (rgb){ 0.30f, 0.32f, 0.38f }, 0.04), 1);
		int drops = (int)(n * n / 4096.0 * unif(g, 35, 80));
		double len = n * unif(g, 0.06, 0.12), slant = unif(g, -0.5, 0.5);
		rgb rain = jitter(g, (rgb){ 0.66f, 0.74f, 0.88f }, 0.05);
		for (int i = 0; i < drops; i++) {
			double x = unif(g, -0.1, 1.1) * n, y = unif(g, 0.1, 1.0) * n;
			double l = len * unif(g, 0.7, 1.3);
			line(cv, x, y, x + slant * l, y + l, 0.9, rain, 0.75f);
		}
		break;
	}
	case MM_W_SNOWY: {
		gradient(cv, jitter(g, (rgb){ 0.70f, 0.74f, 0.83f }, jit),
				jitter(g, (rgb){ 0.88f, 0.90f, 0.95f }, jit));
		if (coin(g, 0.7))
			rect(cv, n * unif(g, 0.7, 0.85), n, (rgb){ 0.97f, 0.97f, 1.0f }, 1);
		if (coin(g, 0.4))
			cloud(cv, g, unif(g, 0.1, 0.9) * n, unif(g, 0.05, 0.2) * n, n * unif(g, 0.07, 0.12),
					jitter(g, (rgb){ 0.78f, 0.80f, 0.85f }, 0.03), 1);
		int flakes = (int)(n * n / 4096.0 * unif(g, 50, 110));
		for (int i = 0; i < flakes; i++)
			disc(cv, unif(g, 0, n), unif(g, 0, n), n / 64.0 * unif(g, 0.6, 1.7),
					(rgb){ 1, 1, 1 }, 0.9f);
		break;
	}
	default: { /* cloudy */
		gradient(cv, jitter(g, (rgb){ 0.55f, 0.58f, 0.62f }, jit),
				jitter(g, (rgb){ 0.71f, 0.73f, 0.76f }, jit));
		if (coin(g, 0.5))
			rect(cv, n * unif(g, 0.78, 0.9), n,
					jitter(g, (rgb){ 0.36f, 0.45f, 0.34f }, jit), 1);
		int k = 2 + below(g, 4);
		for (int i = 0; i < k; i++) {
			float v = (float)unif(g, 0.78, 0.93);
			cloud(cv, g, unif(g, 0.05, 0.95) * n, unif(g, 0.08, 0.6) * n, n * unif(g, 0.07, 0.13),
					(rgb){ v, v, v + 0.02f }, 0.95f);
		}
		break;
	}
	}
}

/* Approximately normal noise, cheap: Irwin-Hall of four 16-bit uniforms
 * (sd 1 after scaling). */
static inline float noise_sample(mm_rng *g)
{
	uint64_t u = mm_rng_u64(g);
	double s = (double)(u & 0xffff) + (double)((u >> 16) & 0xffff) +
		(double)((u >> 32) & 0xffff) + (double)(u >> 48);
	return (float)((s / 65536.0 - 2.0) * 1.7320508075688772);
}

/* A size x size canvas in stack (64 x 64 x 3 floats) or on the heap when
 * larger; false when out of memory (out is then filled flat grey, no crash). */
enum { CANVAS_STACK = 64 * 64 * 3 };
static bool canvas_open(canvas *cv, int size, float *stack, uint8_t *out)
{
	size_t np = (size_t)size * size * 3;
	cv->n = size;
	cv->px = np > CANVAS_STACK ? malloc(np * sizeof *cv->px) : stack;
	if (!cv->px)
		memset(out, 128, np);
	return cv->px != NULL;
}

/* Scale by gain, add sensor noise of sd sd, quantise to RGB8; frees a heap
 * canvas. */
static void canvas_close(canvas *cv, mm_rng *g, float gain, float sd, float *stack, uint8_t *out)
{
	size_t np = (size_t)cv->n * cv->n * 3;
	for (size_t i = 0; i < np; i++) {
		float v = cv->px[i] * gain;
		if (sd > 0)
			v += sd * noise_sample(g);
		v = v * 255.0f + 0.5f;
		out[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
	}
	if (cv->px != stack)
		free(cv->px);
}

void mm_scene_render(const mm_scene *sc, mm_rng *g, int size, double noise, uint8_t *out)
{
	float stack[CANVAS_STACK];
	canvas cv;
	if (!canvas_open(&cv, size, stack, out))
		return;
	draw_scene(&cv, g, sc->scene, noise);
	clutter(&cv, g, noise);
	if (sc->face != MM_FACE_NONE)
		draw_face(&cv, g, sc->face, noise);
	float gain = (float)unif(g, 1 - 0.05 - noise, 1 + 0.05 + noise * 0.5);
	canvas_close(&cv, g, gain, (float)(noise * 0.4), stack, out);
}

/* ======================================================================
 * The tasks world
 *
 * One image per record: a ground of slats (bands an eighth of the image
 * wide, the default pixel patch) of one grey level with a faint random
 * tint, each slat lit from the same side (its brightness falls linearly
 * away from that side, then jumps back at the next slat); a few achromatic
 * specks; and one shape (disc or square) filled with stripes of a saturated
 * colour alternating with white or black.  What each encoder of vision.h
 * can see of it:
 *   color   the shape's hue: its pixels are the only saturated ones, so the
 *           hue bins of the high-saturation cells name it whatever the tint;
 *           blind to the stripes' direction and to the lit side: the
 *           histogram of a slat is the same for the mirrored slat, and every
 *           colour cell holds whole slats, so even the token grid is blind.
 *   hog     the stripes' direction (orientation bins inside the shape); it
 *           sees the axis of the slats (left/right vs top/bottom light) but
 *           not the side, as orientations are unsigned; colour-blind.
 *   pixels  the mean 8 x 8 patch is linear in the image, and every patch
 *           holds one slat: the slope and its sign are read off directly,
 *           pooled or per token.  Stripes of a random period (not a divisor
 *           of the patch) and phase average out, and the shape's colour is
 *           diluted by the tint of the ground and the shape's random area.
 * ====================================================================== */

/* Hue centres (degrees) of red, yellow, green, blue: each in its own bins of
 * the default 8 hue bins of the colour encoder, jittered within them. */
static const double task_hue[4] = { 8, 60, 128, 228 };
/* Relief of the ground's slats (see mm_task_render), uniform in [LO, HI]. */
#define MM_TASK_RELIEF_LO 0.25
#define MM_TASK_RELIEF_HI 0.45
static const char *const task_colors[4] = { "red", "yellow", "green", "blue" };
static const char *const task_orients[4] = { "horizontal", "vertical", "rising", "falling" };
static const char *const task_sides[4] = { "left", "right", "top", "bottom" };

void mm_task_draw(mm_rng *g, int task, int ans, mm_task_scene *ts)
{
	ts->color = below(g, 4);
	ts->orient = below(g, 4);
	ts->light = below(g, 4);
	ts->shape = below(g, 2);
	switch (task) {
	case MM_TASK_COLOR: ts->color = ans; break;
	case MM_TASK_ORIENT: ts->orient = ans; break;
	case MM_TASK_LIGHT: ts->light = ans; break;
	default:
		/* ans = 2 * cool + slanted: warm is red/yellow, cool green/blue;
		 * straight is horizontal/vertical, slanted the two diagonals. */
		ts->color = (ans >> 1) * 2 + (ts->color & 1);
		ts->orient = (ans & 1) * 2 + (ts->orient & 1);
		break;
	}
}

int mm_task_answer(const mm_task_scene *ts, int task)
{
	switch (task) {
	case MM_TASK_COLOR: return ts->color;
	case MM_TASK_ORIENT: return ts->orient;
	case MM_TASK_LIGHT: return ts->light;
	default: return (ts->color >> 1) * 2 + (ts->orient >> 1);
	}
}

static rgb hsv(double h, double s, double v)
{
	h = fmod(h, 360);
	if (h < 0)
		h += 360;
	double c = v * s, x = c * (1 - fabs(fmod(h / 60, 2) - 1)), m = v - c, r, gg, b;
	int k = (int)(h / 60);
	switch (k) {
	case 0: r = c, gg = x, b = 0; break;
	case 1: r = x, gg = c, b = 0; break;
	case 2: r = 0, gg = c, b = x; break;
	case 3: r = 0, gg = x, b = c; break;
	case 4: r = x, gg = 0, b = c; break;
	default: r = c, gg = 0, b = x; break;
	}
	return (rgb){ (float)(r + m), (float)(gg + m), (float)(b + m) };
}

static inline double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* The striped shape: coverage of the shape from its signed distance to the
 * rim, coverage of the colour stripe from the distance to the nearest stripe
 * boundary along the stripes' normal (both anti-aliased over one pixel). */
static void striped_shape(canvas *cv, mm_rng *g, const mm_task_scene *ts)
{
	double n = cv->n, sc = n / 64.0;
	/* Small enough that few pixel patches fall wholly inside it (a patch
	 * token inside the shape sees its colour undiluted), large enough for
	 * HOG blocks to see its stripes. */
	double r = n * unif(g, 0.13, 0.2);
	double cx = unif(g, r + 1, n - r - 1), cy = unif(g, r + 1, n - r - 1);
	rgb col = hsv(task_hue[ts->color] + unif(g, -12, 12), unif(g, 0.75, 1), unif(g, 0.75, 1));
	float other = coin(g, 0.5) ? (float)unif(g, 0.88, 0.98) : (float)unif(g, 0.06, 0.2);
	rgb off = { other, other, other };
	double period = sc * unif(g, 4.6, 7.4), phase = unif(g, 0, period);
	/* Normal of the stripes (y down): horizontal stripes vary along y,
	 * rising ones (/) along (1, 1), falling ones (\) along (1, -1). */
	static const double nx[4] = { 0, 1, M_SQRT1_2, M_SQRT1_2 };
	static const double ny[4] = { 1, 0, M_SQRT1_2, -M_SQRT1_2 };
	double ux = nx[ts->orient], uy = ny[ts->orient];
	for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
		for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++) {
			double dx = x + 0.5 - cx, dy = y + 0.5 - cy, in;
			if (ts->shape == 0)
				in = r - sqrt(dx * dx + dy * dy);
			else
				in = r * 0.9 - fmax(fabs(dx), fabs(dy));
			double cov = clamp01(in + 0.5);
			if (cov <= 0)
				continue;
			double u = fmod(dx * ux + dy * uy + phase + 64 * period, period);
			/* the colour stripe is [0, period/2): signed distance inside */
			double d = u < period / 2 ? fmin(u, period / 2 - u) : -fmin(u - period / 2, period - u);
			float a = (float)clamp01(d + 0.5);
			rgb c = { off.r + a * (col.r - off.r), off.g + a * (col.g - off.g),
				off.b + a * (col.b - off.b) };
			blend(cv, x, y, c, (float)cov);
		}
}

void mm_task_render(const mm_task_scene *ts, mm_rng *g, int size, double noise, uint8_t *out)
{
	float stack[CANVAS_STACK];
	canvas cv;
	if (!canvas_open(&cv, size, stack, out))
		return;
	double n = size;
	/* Ground: slats of one grey level with a faint tint of any hue
	 * (saturation below the colour encoder's lowest bin edge 1/3), lit from
	 * one side: within each slat (an eighth of the image, the default pixel
	 * patch) the brightness falls linearly away from the lit side, by a
	 * factor 1 +- relief/2. */
	rgb ground = hsv(unif(g, 0, 360), unif(g, 0, 0.25), unif(g, 0.35, 0.7));
	double relief = MM_TASK_RELIEF_LO + (MM_TASK_RELIEF_HI - MM_TASK_RELIEF_LO) * mm_rng_uniform(g);
	double slat = n / 8;
	for (int y = 0; y < size; y++)
		for (int x = 0; x < size; x++) {
			bool across = ts->light < 2;   /* left/right: along x */
			double c = (across ? x : y) + 0.5, u = (c - slat * floor(c / slat)) / slat;
			bool far_first = ts->light == 1 || ts->light == 3;  /* lit from right/bottom */
			float f = (float)(1 + relief * (far_first ? u - 0.5 : 0.5 - u));
			float *p = cv.px + ((size_t)y * size + x) * 3;
			p[0] = ground.r * f;
			p[1] = ground.g * f;
			p[2] = ground.b * f;
		}
	/* Achromatic specks: small discs and short strokes of any direction. */
	int k = below(g, 3 + (int)(noise * 10));
	for (int i = 0; i < k; i++) {
		float v = (float)unif(g, 0.1, 0.95);
		rgb c = { v, v, v };
		double x = unif(g, 0, n), y = unif(g, 0, n), l = n * unif(g, 0.02, 0.06);
		if (coin(g, 0.5)) {
			disc(&cv, x, y, l * 0.6, c, 0.9f);
		} else {
			double a = unif(g, 0, M_PI);
			line(&cv, x, y, x + l * cos(a), y + l * sin(a), 1, c, 0.9f);
		}
	}
	striped_shape(&cv, g, ts);
	canvas_close(&cv, g, 1.0f, (float)(noise * 0.4), stack, out);
}

/* Paraphrases of each group's question; none names or hints at the answer. */
static const char *const q_color[] = {
	"What colour is the striped shape?", "Which colour are the stripes?",
	"Name the colour of the shape.", "What color is the shape in the picture?",
	"Is the shape red, yellow, green or blue?", "Tell me the colour of the striped object.",
	"Which hue does the shape have?", "What is the shape's colour?",
};
static const char *const q_orient[] = {
	"Which way do the stripes run?", "Are the stripes horizontal, vertical, rising or falling?",
	"What is the direction of the stripes?", "How are the stripes on the shape oriented?",
	"In which direction are the lines on the shape drawn?", "Tell me the orientation of the stripes.",
	"Which way are the stripes tilted, if at all?", "What angle do the stripes have?",
};
static const char *const q_light[] = {
	"Which side is the light coming from?", "Where is the light source?",
	"From which side are the slats lit?", "Which edge of each slat is the brightest?",
	"Is the light on the left, right, top or bottom?", "Which side of the boards catches the light?",
	"Where does the light fall from?", "Tell me which side the lamp is on.",
};
static const char *const q_combo[] = {
	"Is the shape warm or cool, and are its stripes straight or slanted?",
	"Warm or cool colour, straight or slanted stripes?",
	"Tell me whether the colour is warm or cool and whether the stripes are straight or slanted.",
	"Describe the shape: warm or cool, straight or slanted stripes?",
	"Give the colour family and the slant of the stripes.",
	"Are the stripes straight or slanted, and is the shape warm or cool?",
	"Colour temperature and stripe slant of the shape?",
	"What are the shape's colour family and stripe angle?",
};
static const char *const q_prefix[] = {
	"", "", "", "", "Look at the picture. ", "Question: ", "Q: ", "Please answer: ",
	"About the image: ",
};

size_t mm_task_instruction(int task, mm_rng *g, char *buf, size_t cap)
{
	const char *q = task == MM_TASK_COLOR ? PICK(g, q_color) :
		task == MM_TASK_ORIENT ? PICK(g, q_orient) :
		task == MM_TASK_LIGHT ? PICK(g, q_light) : PICK(g, q_combo);
	const char *pre = PICK(g, q_prefix);
	if (!cap)
		return 0;
	int n = snprintf(buf, cap, "%s%s", pre, q);
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* ======================================================================
 * The scene world: sentences
 *
 * A template is a string with {slot} references; a slot is a list of
 * alternatives, themselves templates (expanded recursively).  Slots that
 * depend on the example (the weather stated, the marker) are filled from the
 * scene description; the rest is vocabulary drawn at random.
 * ====================================================================== */

typedef struct slot {
	const char *name;
	const char *const *alt;
	int n;
} slot;

#define L(...) ((const char *const[]){ __VA_ARGS__ })
#define N(...) (int)(sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define SLOT(nm, ...) { nm, L(__VA_ARGS__), N(__VA_ARGS__) }

static const slot vocab[] = {
	SLOT("name", "Sam", "Priya", "Tom", "Aisha", "Lena", "Marco", "Yuki", "Omar", "Grace",
		"Chen", "Fatima", "Jonas", "Nora", "Diego", "Ingrid", "Kofi", "Maya", "Ravi",
		"Zoe", "Ben", "my sister", "my boss", "the neighbour", "grandma", "Dad", "Mum"),
	SLOT("place", "the park", "Leeds", "the beach", "the old town", "Oslo", "the station",
		"campus", "the market", "Glasgow", "Boston", "the harbour", "the office",
		"the lake", "Lyon", "the allotment", "Dublin", "the stadium", "the zoo",
		"Hamburg", "the city centre", "the garden", "Seattle", "the campsite"),
	SLOT("in_place", "in {place}", "at {place}", "over {place}", "here", "out there",
		"around {place}", "", "", "", ""),
	SLOT("time", "this morning", "today", "at {clock}", "tonight", "on Saturday",
		"right after lunch", "all weekend", "this afternoon", "on my day off",
		"on Monday", "yesterday", "for the third day in a row", "since {clock}",
		"before work", "this evening", "", "", "", "", "", "", "", ""),
	SLOT("clock", "7:45", "3pm", "noon", "9am", "half past six", "8", "11:30", "5pm", "dawn"),
	SLOT("daypart", "morning", "afternoon", "day", "evening", "weekend", "commute", "lunch break"),
	SLOT("span", "day", "week", "weekend", "morning", "afternoon"),
	SLOT("activity", "a picnic", "the school run", "a barbecue", "a bike ride",
		"the football match", "hanging out washing", "a run", "the wedding photos",
		"a long walk", "painting the fence", "a trip to {place}", "the street party",
		"cycling to work", "walking the dog"),
	SLOT("outing", "to {place}", "hiking", "shopping", "for a swim", "to the match",
		"camping", "sailing", "for ice cream"),
	SLOT("meal", "coffee", "brunch", "lunch", "dinner", "a quick bite", "tea"),
	SLOT("item", "umbrella", "sunglasses", "gloves", "coat", "scarf", "hat", "boots"),
	SLOT("chore", "report", "laundry", "tax return", "garden shed", "essay", "spreadsheet",
		"bookshelf", "puzzle"),
	SLOT("lovely", "lovely", "beautiful", "glorious", "gorgeous", "wonderful", "delightful",
		"perfect"),
	SLOT("ideal", "perfect", "ideal", "great", "just right"),
	SLOT("tired", "so tired of it", "over it", "enough already", "send help", "why",
		"not impressed"),
	SLOT("vague", "doing its own thing", "hard to describe", "something else",
		"what it is", "typical for {place}", "very changeable", "the usual",
		"anyone's guess"),
	SLOT("vague_clause", "the weather is {vague}", "who knows what the sky will do",
		"let's see how the day goes", "fingers crossed", "packed everything just in case",
		"no idea what to wear", "the forecast keeps changing"),
	SLOT("filler", "", "", "", "", "", "", "", "", "", "", "", "honestly, ", "so ", "ok ",
		"lol ", "well, ", "update: ", "btw "),
	SLOT("end", "", "", ".", ".", "!", "!!", "...", " :)", " x"),
	/* Near misses of the markers: innocent words a bag of words must not take for
	 * sarcasm on their own. */
	SLOT("innocent", " right now", " #weather", " 😊", " thanks {name}!", " great stuff",
		" for sure", " not bad", " just saying", " sure thing", " oh well",
		" #weekend", " really"),
};

/* Weather vocabulary: [weather] = adjectives, noun phrases, clauses.  Most
 * items share the weather's stem (sun, rain, snow, cloud), as people's words
 * do, with a few synonyms (drizzle, blizzard, overcast) that only a model of
 * the vocabulary, not of the character n-grams, links to their weather. */
static const slot wadj[MM_W_N] = {
	SLOT("wadj", "sunny", "sunny", "sun-drenched", "sunlit", "bright and sunny", "cloudless"),
	SLOT("wadj", "rainy", "rainy", "rain-soaked", "wet and rainy", "drizzly", "stormy"),
	SLOT("wadj", "snowy", "snowy", "snow-covered", "snowbound", "icy", "wintry"),
	SLOT("wadj", "cloudy", "cloudy", "grey and cloudy", "overcast", "clouded-over", "gloomy"),
};
static const slot wnp[MM_W_N] = {
	SLOT("wnp", "sunshine", "sunny skies", "blazing sun", "bright sunshine", "sun",
		"glorious sunshine", "clear blue skies", "a heatwave"),
	SLOT("wnp", "pouring rain", "heavy rain", "rain", "a rainstorm", "endless rain",
		"sideways rain", "drizzle", "a downpour"),
	SLOT("wnp", "snow", "fresh snow", "heavy snow", "a snowstorm", "deep snow",
		"snow flurries", "a blizzard", "sleet"),
	SLOT("wnp", "clouds", "thick clouds", "grey clouds", "cloud cover", "low clouds",
		"endless cloud", "overcast skies", "gloom"),
};
static const slot wclause[MM_W_N] = {
	SLOT("wclause", "the sun is out", "the sun is shining", "it's sunny", "the sun is blazing",
		"sunshine everywhere", "the sky is clear"),
	SLOT("wclause", "it's raining", "the rain won't stop", "it's pouring rain",
		"rain everywhere", "it's drizzling", "it's bucketing down"),
	SLOT("wclause", "it's snowing", "the snow keeps falling", "snow everywhere",
		"the snow is piling up", "it's sleeting", "everything is white"),
	SLOT("wclause", "the clouds rolled in", "it's cloudy", "clouds everywhere",
		"the clouds won't budge", "the sky is overcast", "there's no sun at all"),
};

/* Templates by purpose. */
static const char *const t_praise[] = {
	"what a {lovely} {wadj} {daypart} {in_place}",
	"{wclause} {time} and I love it",
	"nothing beats {wnp} {time}",
	"loving all this {wnp} {in_place}",
	"{wnp} {time}, {ideal} for {activity}",
	"{name} says it's {wadj} {in_place} {time}, perfect",
	"woke up to {wnp}, best {daypart} ever",
	"so glad about the {wnp} {time}",
	"{wclause}! perfect day for {activity}",
	"can't complain, {wnp} all {span}",
	"honestly {wnp} is my favourite weather",
	"{wadj} {daypart} {in_place}, just how I like it",
	"the forecast said {wnp} {time} and it delivered",
	"{lovely} {wnp} {in_place} {time}",
	"{wclause} {in_place}, couldn't ask for more",
	"this {wadj} weather is {lovely}",
};
static const char *const t_complain[] = {
	"ugh, {wnp} again {time}",
	"{wclause} {in_place}, so much for {activity}",
	"another {wadj} {daypart}, {name} is not impressed",
	"stuck indoors, {wnp} {time}",
	"{wclause} and I forgot my {item}",
	"{wnp} all {span}, {tired}",
	"cancelled {activity} because {wclause}",
	"{wadj} again {in_place}, {tired}",
};
static const char *const t_neutral[] = {
	"{wclause} {in_place} {time}",
	"looks like {wnp} {time}",
	"forecast for {place}: {wnp}",
	"{name} just sent a photo, {wnp} {in_place}",
	"it's {wadj} {in_place} {time}",
	"{wadj} {daypart}, off to {place} with {name}",
	"{wnp} {time}, need my {item}",
	"quick photo: {wnp} {in_place}",
};
static const char *const t_vague[] = {
	"heading to {place} with {name} {time}",
	"meeting {name} for {meal} {time}",
	"{name} wants to go {outing} {time}",
	"walked the dog {time}, the weather is {vague}",
	"stuck at the bus stop {time}",
	"finally finished the {chore} {time}",
	"on my way to {place}, {vague_clause}",
	"the sky {in_place} {time}: {vague}",
	"my {name2} called about the weather {time}",
	"planning {activity} {time}, {vague_clause}",
	"look at this view from {place}",
	"train delayed again {time}",
	"{name} and I took a photo {in_place} {time}",
	"checked the forecast {time}, {vague_clause}",
	"back from {place}, what a {daypart}",
	"weather report for {place} {time}",
};
static const slot name2 = SLOT("name2", "mum", "uncle", "flatmate", "best friend", "cousin");

/* Sarcasm markers (the text cue of the label) and where they go. */
static const char *const m_prefix[] = {
	"oh great, just great, ", "yeah right, ", "oh fantastic, just fantastic: ",
	"oh joy, oh bliss, ", "wow, thrilled, ",
};
static const char *const m_suffix[] = {
	" #not #sarcasm", " yeah right", " #sarcasm", " said no one ever", " 🙄 #not",
	" just what I needed #not", " yeah, sure", " love that for me #sarcasm",
};

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void sput(sbuf *b, const char *s, size_t len)
{
	if (b->cap == 0)
		return;
	size_t room = b->cap - 1 - b->n;
	if (len > room)
		len = room;
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = 0;
}

static const slot *find_slot(const char *name, size_t len, int w)
{
#define IS(s) (len == strlen(s) && memcmp(name, s, len) == 0)
	if (w >= 0 && w < MM_W_N) {
		if (IS("wadj"))
			return &wadj[w];
		if (IS("wnp"))
			return &wnp[w];
		if (IS("wclause"))
			return &wclause[w];
	}
	if (IS("name2"))
		return &name2;
	for (size_t i = 0; i < sizeof vocab / sizeof vocab[0]; i++)
		if (IS(vocab[i].name))
			return &vocab[i];
	return NULL;
#undef IS
}

static void expand(sbuf *b, mm_rng *g, const char *t, int w, int depth)
{
	while (*t) {
		const char *open = strchr(t, '{');
		const char *close = open ? strchr(open, '}') : NULL;
		if (!open || !close) {
			sput(b, t, strlen(t));
			return;
		}
		sput(b, t, (size_t)(open - t));
		const slot *s = find_slot(open + 1, (size_t)(close - open - 1), w);
		if (s && depth < 4)
			expand(b, g, s->alt[below(g, s->n)], w, depth + 1);
		else /* unknown slot: a bug in the tables (a unit test expands them all) */
			sput(b, open, (size_t)(close - open + 1));
		t = close + 1;
	}
}

/* Tidy a sentence: collapse runs of spaces, no space before , . ! : or at ends. */
static size_t tidy(char *s, size_t cap)
{
	char *r = s, *w = s;
	while (*r == ' ')
		r++;
	while (*r) {
		if (*r == ' ' && (r[1] == ' ' || r[1] == ',' || r[1] == '.' || r[1] == '!' ||
					r[1] == ':' || r[1] == 0)) {
			r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = 0;
	/* "a afternoon" -> "an afternoon" (the vocabulary has no "a u..." words
	 * that keep "a"). */
	for (char *p = s; (p = strstr(p, " a ")) != NULL; p += 2) {
		char nx = (char)tolower((unsigned char)p[3]);
		size_t len = strlen(p + 2);
		if (nx && strchr("aeio", nx) && (size_t)(p - s) + 3 + len < cap) {
			memmove(p + 3, p + 2, len + 1);
			p[2] = 'n';
			p[3] = ' ';
		}
	}
	return strlen(s);
}

size_t mm_scene_sentence(const mm_scene *sc, mm_rng *g, char *buf, size_t cap)
{
	sbuf b = { buf, 0, cap };
	char core[512];
	sbuf c = { core, 0, sizeof core };
	if (cap)
		buf[0] = 0;
	core[0] = 0;
	int w = sc->text_weather;
	const char *tpl;
	if (w == MM_W_NONE)
		tpl = PICK(g, t_vague);
	else if (sc->gen_type == MM_GT_S)
		tpl = sc->praise ? PICK(g, t_praise) : coin(g, 0.5) ? PICK(g, t_neutral) : PICK(g, t_complain);
	else {
		double u = mm_rng_uniform(g);
		tpl = u < 0.3 ? PICK(g, t_praise) : u < 0.6 ? PICK(g, t_complain) : PICK(g, t_neutral);
	}
	expand(&c, g, tpl, w, 0);
	tidy(core, sizeof core);

	const slot *filler = find_slot("filler", 6, -1), *end = find_slot("end", 3, -1);
	const slot *innocent = find_slot("innocent", 8, -1);
	/* Markers go first, last, or (a third of the time) both. */
	double um = mm_rng_uniform(g);
	bool prefix_marker = sc->marker && um < 0.55;
	bool suffix_marker = sc->marker && um >= 0.35;
	if (prefix_marker) {
		const char *m = PICK(g, m_prefix);
		sput(&b, m, strlen(m));
	} else {
		expand(&b, g, filler->alt[below(g, filler->n)], w, 1);
	}
	sput(&b, core, strlen(core));
	if (coin(g, 0.1))
		expand(&b, g, innocent->alt[below(g, innocent->n)], w, 1);
	if (suffix_marker) {
		const char *m = PICK(g, m_suffix);
		sput(&b, m, strlen(m));
	}
	const char *fin = end->alt[below(g, end->n)];
	if (b.n && strchr(".!?)", b.p[b.n - 1]) && fin[0] != ' ')
		fin = ""; /* "... not." gets no second full stop */
	expand(&b, g, fin, w, 1);
	size_t n = cap ? tidy(buf, cap) : 0;
	/* Capitalise the first letter half of the time, as people do. */
	if (n && coin(g, 0.5) && (unsigned char)buf[0] < 128)
		buf[0] = (char)toupper((unsigned char)buf[0]);
	return n;
}

/* ======================================================================
 * The PID world (Liang et al.): latents, projections, scores
 * ====================================================================== */

/* Scores of one record: the projections the labels are binned from. */
enum { SC_R, SC_U1, SC_U2, SC_S1, SC_S2, SC_N };

typedef struct pid_model {
	int L, D;
	float *A1, *A2;        /* D x 2L each: x_i = A_i [z_i; z12] */
	double *proj;          /* SC_N x L unit vectors */
	double *thr;           /* SC_N x (classes - 1) thresholds */
} pid_model;

/* The latents of record i: z1, z2, z12 (L each) in z[0..3L). */
static void pid_latents(mm_rng *g, int L, double *z)
{
	for (int k = 0; k < 3 * L; k++)
		z[k] = mm_rng_normal(g);
}

static void pid_scores(const pid_model *m, const double *z, double *sc)
{
	const double *z1 = z, *z2 = z + m->L, *z12 = z + 2 * m->L;
	const double *src[SC_N] = { z12, z1, z2, z1, z2 };
	for (int s = 0; s < SC_N; s++) {
		double v = 0;
		for (int k = 0; k < m->L; k++)
			v += m->proj[s * m->L + k] * src[s][k];
		sc[s] = v;
	}
}

static int bin_of(const double *thr, int C, double v)
{
	int c = 0;
	while (c < C - 1 && v > thr[c])
		c++;
	return c;
}

static int pid_label(const pid_model *m, int C, int interaction, const double *sc)
{
	switch (interaction) {
	case MM_PID_REDUNDANCY: return bin_of(m->thr + SC_R * (C - 1), C, sc[SC_R]);
	case MM_PID_UNIQUENESS1: return bin_of(m->thr + SC_U1 * (C - 1), C, sc[SC_U1]);
	case MM_PID_UNIQUENESS2: return bin_of(m->thr + SC_U2 * (C - 1), C, sc[SC_U2]);
	default:
		/* Synergy: the sum modulo C of two equal-frequency bins, one from each
		 * modality's own latent.  Either bin alone says nothing about the sum
		 * (for C = 2 this is the XOR of two signs). */
		return (bin_of(m->thr + SC_S1 * (C - 1), C, sc[SC_S1]) +
				bin_of(m->thr + SC_S2 * (C - 1), C, sc[SC_S2])) % C;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ======================================================================
 * The generator
 * ====================================================================== */

struct mm_synth {
	mm_synth_params p;
	char prefix[72];
	char *image_dir;
	int idw;                 /* digits of the ids */
	int64_t i;
	uint8_t *gt;             /* gen_type (scene, pid mixed), or interaction */
	uint8_t *label;          /* final label */
	uint8_t *aux;            /* scene: clean label; bits: x1 | x2 << 1 */
	uint8_t *split;          /* 0 train, 1 val, 2 test */
	int64_t *keep;           /* tasks subset: the plan indices written, or NULL */
	int64_t nkeep;           /* records written */
	mm_rng content;
	pid_model pm;
	double *z;               /* scratch of the plan pass */
};

static const char *const split_names[3] = { "train", "val", "test" };

/* Stratified split: within each (label, gen_type) stratum, shuffle and give
 * the first round(m * train) to train, the next to val, the rest to test. */
static mm_status assign_splits(mm_synth *s, mm_rng *g, mm_err *e)
{
	int64_t n = s->p.count;
	int nk = 64 * MM_PID_N;
	int64_t *cnt = calloc((size_t)nk + 1, sizeof *cnt);
	int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
	if (!cnt || !idx) {
		free(cnt);
		free(idx);
		return mm_errf(e, MM_ENOMEM, "out of memory for the split of %lld records",
				(long long)n);
	}
	for (int64_t i = 0; i < n; i++)
		cnt[s->label[i] * MM_PID_N + s->gt[i] + 1]++;
	for (int k = 0; k < nk; k++)
		cnt[k + 1] += cnt[k];
	int64_t *pos = malloc(((size_t)nk + 1) * sizeof *pos);
	if (!pos) {
		free(cnt);
		free(idx);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	memcpy(pos, cnt, ((size_t)nk + 1) * sizeof *pos);
	for (int64_t i = 0; i < n; i++)
		idx[pos[s->label[i] * MM_PID_N + s->gt[i]]++] = i;
	/* Shuffle within each stratum, then walk the strata one after the other
	 * giving each record to the split furthest behind its share so far
	 * ((j + 1) * fraction - assigned).  Totals are exact to a record, every
	 * stratum is within a record or two of its share, and tiny sets still get
	 * every split: 8 records in 8 strata give 6/1/1, not 8/0/0. */
	for (int k = 0; k < nk; k++)
		if (cnt[k + 1] > cnt[k])
			mm_rng_shuffle(g, idx + cnt[k], (size_t)(cnt[k + 1] - cnt[k]), sizeof *idx);
	int64_t got[3] = { 0, 0, 0 };
	for (int64_t j = 0; j < n; j++) {
		int best = 0;
		double bd = -1e300;
		for (int k = 0; k < 3; k++) {
			double d = (double)(j + 1) * s->p.split[k] - (double)got[k];
			if (s->p.split[k] > 0 && d > bd) {
				bd = d;
				best = k;
			}
		}
		got[best]++;
		s->split[idx[j]] = (uint8_t)best;
	}
	free(pos);
	free(cnt);
	free(idx);
	return MM_OK;
}

/* Types (exact counts from the k weights w: the mixture, or the task groups)
 * and balanced clean labels, shuffled. */
static void plan_types_labels(mm_synth *s, mm_rng *g, const double *w, int k, int classes)
{
	int64_t n = s->p.count, nt[MM_GT_N];
	assert(k <= MM_GT_N);
	apportion(n, w, k, nt);
	int64_t i = 0;
	for (int t = 0; t < k; t++) {
		int64_t off = (int64_t)below(g, classes);  /* who gets the odd ones */
		for (int64_t j = 0; j < nt[t]; j++, i++) {
			s->gt[i] = (uint8_t)t;
			s->label[i] = (uint8_t)((j + off) % classes);
		}
	}
	/* Shuffle (type, label) pairs together. */
	for (int64_t k = n - 1; k > 0; k--) {
		int64_t j = (int64_t)mm_rng_below(g, (uint64_t)k + 1);
		uint8_t t = s->gt[k], l = s->label[k];
		s->gt[k] = s->gt[j], s->label[k] = s->label[j];
		s->gt[j] = t, s->label[j] = l;
	}
}

/* Label noise: with probability flip, a uniformly chosen other class. */
static void plan_flip(mm_synth *s, mm_rng *g, int classes)
{
	for (int64_t i = 0; i < s->p.count; i++)
		if (coin(g, s->p.flip))
			s->label[i] = (uint8_t)((s->label[i] + 1 + below(g, classes - 1)) % classes);
}

static mm_status pid_setup(mm_synth *s, mm_rng *g, mm_err *e)
{
	pid_model *m = &s->pm;
	int L = m->L = s->p.latent_dim, D = m->D = s->p.dim, C = s->p.classes;
	int64_t n = s->p.count;
	m->A1 = malloc((size_t)D * 2 * L * sizeof *m->A1);
	m->A2 = malloc((size_t)D * 2 * L * sizeof *m->A2);
	m->proj = malloc((size_t)SC_N * L * sizeof *m->proj);
	m->thr = calloc((size_t)SC_N * (C - 1), sizeof *m->thr);
	s->z = malloc((size_t)3 * L * sizeof *s->z);
	double *all = malloc(((size_t)n + 1) * SC_N * sizeof *all);
	double *col = malloc(((size_t)n + 1) * sizeof *col);
	if (!m->A1 || !m->A2 || !m->proj || !m->thr || !s->z || !all || !col) {
		free(all);
		free(col);
		return mm_errf(e, MM_ENOMEM, "out of memory for %lld records", (long long)n);
	}
	double sc = 1.0 / sqrt(2.0 * L);
	for (size_t k = 0; k < (size_t)D * 2 * L; k++)
		m->A1[k] = (float)(mm_rng_normal(g) * sc);
	for (size_t k = 0; k < (size_t)D * 2 * L; k++)
		m->A2[k] = (float)(mm_rng_normal(g) * sc);
	for (int p = 0; p < SC_N; p++) {
		double nn = 0;
		for (int k = 0; k < L; k++) {
			double v = mm_rng_normal(g);
			m->proj[p * L + k] = v;
			nn += v * v;
		}
		nn = sqrt(nn) > 0 ? sqrt(nn) : 1;
		for (int k = 0; k < L; k++)
			m->proj[p * L + k] /= nn;
	}
	/* Pass 1: every record's scores, from the same child generators that
	 * will produce the record. */
	for (int64_t i = 0; i < n; i++) {
		mm_rng rg = mm_rng_split(&s->content, (uint64_t)i);
		pid_latents(&rg, L, s->z);
		pid_scores(m, s->z, all + i * SC_N);
	}
	/* Equal-frequency thresholds: the empirical k/C quantiles of each score. */
	for (int p = 0; p < SC_N && n > 0; p++) {
		for (int64_t i = 0; i < n; i++)
			col[i] = all[i * SC_N + p];
		qsort(col, (size_t)n, sizeof *col, cmp_double);
		for (int c = 1; c < C; c++) {
			int64_t q = (int64_t)ceil((double)n * c / C) - 1;
			if (q < 0)
				q = 0;
			m->thr[p * (C - 1) + c - 1] = col[q];
		}
	}
	/* Interaction per record: fixed, or from the mixture (exact counts). */
	int64_t nt[MM_GT_N];
	apportion(n, s->p.mix, MM_GT_N, nt);
	int64_t i = 0;
	for (int t = 0; t < MM_GT_N; t++)
		for (int64_t j = 0; j < nt[t]; j++)
			s->gt[i++] = (uint8_t)t;
	if (s->p.interaction == MM_PID_MIXED)
		mm_rng_shuffle(g, s->gt, (size_t)n, 1);
	for (i = 0; i < n; i++) {
		int it = s->p.interaction == MM_PID_MIXED ? s->gt[i] : s->p.interaction;
		/* gen_type and interaction share their order (R, Uv/U1, Ut/U2, S). */
		s->gt[i] = (uint8_t)it;
		s->label[i] = (uint8_t)pid_label(m, C, it, all + i * SC_N);
	}
	free(all);
	free(col);
	return MM_OK;
}

void mm_synth_free(mm_synth *s)
{
	if (!s)
		return;
	free(s->image_dir);
	free(s->gt);
	free(s->label);
	free(s->aux);
	free(s->split);
	free(s->keep);
	free(s->pm.A1);
	free(s->pm.A2);
	free(s->pm.proj);
	free(s->pm.thr);
	free(s->z);
	free(s);
}

mm_status mm_synth_new(mm_synth **out, const mm_synth_params *p, mm_err *e)
{
	*out = NULL;
	const char *why = mm_synth_params_check(p);
	if (why)
		return mm_errf(e, MM_EUSAGE, "%s", why);
	mm_synth *s = calloc(1, sizeof *s);
	if (!s)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	s->p = *p;
	s->p.image_dir = NULL;
	snprintf(s->prefix, sizeof s->prefix, "%s", p->id_prefix ? p->id_prefix :
			p->kind == MM_SYNTH_SCENE ? "s" : p->kind == MM_SYNTH_PID ? "p" :
			p->kind == MM_SYNTH_TASKS ? "t" : "b");
	s->idw = 6;
	for (int64_t m = 1000000; m <= p->count - 1 && s->idw < 19; m *= 10)
		s->idw++;
	size_t n = (size_t)p->count + 1;
	s->gt = calloc(n, 1);
	s->label = calloc(n, 1);
	s->aux = calloc(n, 1);
	s->split = calloc(n, 1);
	if (!s->gt || !s->label || !s->aux || !s->split) {
		mm_synth_free(s);
		return mm_errf(e, MM_ENOMEM, "out of memory for %lld records", (long long)p->count);
	}
	if (p->image_dir && (p->kind == MM_SYNTH_SCENE || p->kind == MM_SYNTH_TASKS)) {
		s->image_dir = strdup(p->image_dir);
		if (!s->image_dir) {
			mm_synth_free(s);
			return mm_errf(e, MM_ENOMEM, "out of memory");
		}
		if (mkdir(p->image_dir, 0777) != 0 && errno != EEXIST) {
			mm_errf(e, MM_EIO, "%s: cannot create the image directory: %s",
					p->image_dir, strerror(errno));
			mm_synth_free(s);
			return MM_EIO;
		}
		struct stat st;
		if (stat(p->image_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			mm_errf(e, MM_EIO, "%s: not a directory", p->image_dir);
			mm_synth_free(s);
			return MM_EIO;
		}
	}
	s->p.image_dir = s->image_dir;

	mm_rng root, plan, splitg;
	mm_rng_seed(&root, p->seed);
	plan = mm_rng_split(&root, 1);
	s->content = mm_rng_split(&root, 2);
	splitg = mm_rng_split(&root, 3);
	mm_status st = MM_OK;
	switch (p->kind) {
	case MM_SYNTH_SCENE:
		plan_types_labels(s, &plan, p->mix, MM_GT_N, 2);
		memcpy(s->aux, s->label, (size_t)p->count);
		plan_flip(s, &plan, 2);
		break;
	case MM_SYNTH_TASKS: {
		/* gt: the task group, label: the answer within it (0..3). */
		static const double equal[MM_TASK_N] = { 1, 1, 1, 1 };
		plan_types_labels(s, &plan, equal, MM_TASK_N, MM_TASK_ANSWERS);
		memcpy(s->aux, s->label, (size_t)p->count);
		plan_flip(s, &plan, MM_TASK_ANSWERS);
		break;
	}
	case MM_SYNTH_PID:
		st = pid_setup(s, &plan, e);
		if (st == MM_OK)
			plan_flip(s, &plan, p->classes);
		break;
	case MM_SYNTH_BITS:
		for (int64_t i = 0; i < p->count; i++) {
			int x1, x2, y;
			if (p->fn == MM_BITS_COPY) {
				y = x1 = x2 = (int)(mm_rng_u64(&plan) >> 63);
			} else {
				x1 = (int)(mm_rng_u64(&plan) >> 63);
				x2 = (int)(mm_rng_u64(&plan) >> 63);
				y = p->fn == MM_BITS_AND ? x1 & x2 : p->fn == MM_BITS_OR ? x1 | x2 :
					p->fn == MM_BITS_XOR ? x1 ^ x2 : x1;
			}
			s->aux[i] = (uint8_t)(x1 | x2 << 1);
			s->label[i] = (uint8_t)y;
		}
		plan_flip(s, &plan, 2);
		break;
	}
	if (st == MM_OK)
		st = assign_splits(s, &splitg, e);
	s->nkeep = p->count;
	if (st == MM_OK && p->kind == MM_SYNTH_TASKS && p->tasks) {
		s->keep = malloc(((size_t)p->count + 1) * sizeof *s->keep);
		if (!s->keep)
			st = mm_errf(e, MM_ENOMEM, "out of memory for %lld records", (long long)p->count);
		s->nkeep = 0;
		for (int64_t i = 0; st == MM_OK && i < p->count; i++)
			if (p->tasks & 1u << s->gt[i])
				s->keep[s->nkeep++] = i;
	}
	if (st != MM_OK) {
		mm_synth_free(s);
		return st;
	}
	*out = s;
	return MM_OK;
}

static mm_status write_png_file(const char *dir, const char *name, const unsigned char *buf,
		size_t len, mm_err *e)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return mm_errf(e, MM_EIO, "%s/%s: path too long", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return mm_errf(e, MM_EIO, "%s: cannot create: %s", path, strerror(errno));
	size_t w = fwrite(buf, 1, len, f);
	int bad = w != len || ferror(f);
	if (fclose(f) != 0 || bad)
		return mm_errf(e, MM_EIO, "%s: write failed: %s", path, strerror(errno));
	return MM_OK;
}

#define TRY(x) do { if ((st = (x)) != MM_OK) goto fail; } while (0)

/* The image as PNG: inline bytes, or DIR/<id>.png and its name. */
static mm_status put_image(const mm_synth *s, mm_rec *r, const char *id, uint8_t *rgb, mm_err *e)
{
	mm_status st;
	unsigned char *png = NULL;
	size_t plen = 0;
	mm_image im = { s->p.size, s->p.size, 3, rgb };
	TRY(mm_png_encode(&im, &png, &plen, e));
	if (s->image_dir) {
		char name[128];
		snprintf(name, sizeof name, "%s.png", id);
		TRY(write_png_file(s->image_dir, name, png, plen, e));
		st = mm_rec_set_str(r, "image", name, e);
	} else {
		st = mm_rec_set_bin(r, "image", png, plen, e);
	}
fail:
	free(png);
	return st;
}

static mm_status next_scene(const mm_synth *s, int64_t i, mm_rec *r, mm_rng *g, const char *id,
		mm_err *e)
{
	mm_status st = MM_OK;
	uint8_t *rgb = malloc((size_t)s->p.size * s->p.size * 3);
	if (!rgb)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	mm_scene sc;
	char text[1024];
	mm_scene_draw(g, s->gt[i], s->aux[i], s->p.s_weathers, &sc);
	sc.label = s->label[i];
	/* The sentence and the pixels from their own streams, so that changing
	 * the renderer does not change the sentences of a seed (and back). */
	mm_rng gt = mm_rng_split(g, 1), gi = mm_rng_split(g, 2);
	mm_scene_sentence(&sc, &gt, text, sizeof text);
	mm_scene_render(&sc, &gi, s->p.size, s->p.noise, rgb);
	TRY(mm_rec_set_str(r, "text", text, e));
	TRY(put_image(s, r, id, rgb, e));
	TRY(mm_rec_set_str(r, "scene", mm_weather_names[sc.scene], e));
	TRY(mm_rec_set_str(r, "face", mm_face_names[sc.face], e));
	TRY(mm_rec_set_bool(r, "marker", sc.marker, e));
	TRY(mm_rec_set_str(r, "text_weather", mm_weather_names[sc.text_weather], e));
	TRY(mm_rec_set_bool(r, "contradiction",
			sc.text_weather != MM_W_NONE && sc.text_weather != sc.scene, e));
	TRY(mm_rec_set_int(r, "label_clean", sc.label_clean, e));
fail:
	free(rgb);
	return st;
}

static mm_status next_task(const mm_synth *s, int64_t i, mm_rec *r, mm_rng *g, const char *id,
		mm_err *e)
{
	mm_status st = MM_OK;
	uint8_t *rgb = malloc((size_t)s->p.size * s->p.size * 3);
	if (!rgb)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	int task = s->gt[i];
	mm_task_scene ts;
	char text[256];
	mm_task_draw(g, task, s->aux[i], &ts);
	mm_rng gt = mm_rng_split(g, 1), gi = mm_rng_split(g, 2);
	mm_task_instruction(task, &gt, text, sizeof text);
	mm_task_render(&ts, &gi, s->p.size, s->p.noise, rgb);
	TRY(mm_rec_set_str(r, "task", mm_task_names[task], e));
	TRY(mm_rec_set_int(r, "task_label", s->label[i], e));
	TRY(mm_rec_set_str(r, "answer", mm_task_answers[task * MM_TASK_ANSWERS + s->label[i]], e));
	TRY(mm_rec_set_str(r, "instruction", text, e));
	TRY(put_image(s, r, id, rgb, e));
	TRY(mm_rec_set_str(r, "color", task_colors[ts.color], e));
	TRY(mm_rec_set_str(r, "stripes", task_orients[ts.orient], e));
	TRY(mm_rec_set_str(r, "light", task_sides[ts.light], e));
	TRY(mm_rec_set_str(r, "shape", ts.shape ? "square" : "disc", e));
	TRY(mm_rec_set_int(r, "label_clean", task * MM_TASK_ANSWERS + s->aux[i], e));
fail:
	free(rgb);
	return st;
}

static mm_status next_pid(const mm_synth *s, int64_t i, mm_rec *r, mm_rng *g, mm_err *e)
{
	mm_status st = MM_OK;
	const pid_model *m = &s->pm;
	int L = m->L, D = m->D;
	float x[2][4096];
	double z[3 * 256];
	pid_latents(g, L, z);
	for (int mod = 0; mod < 2; mod++) {
		const float *A = mod ? m->A2 : m->A1;
		const double *zu = z + mod * L, *zs = z + 2 * L;
		for (int d = 0; d < D; d++) {
			double v = 0;
			for (int k = 0; k < L; k++)
				v += A[(size_t)d * 2 * L + k] * zu[k] + A[(size_t)d * 2 * L + L + k] * zs[k];
			x[mod][d] = (float)(v + s->p.pid_noise * mm_rng_normal(g));
		}
	}
	TRY(mm_rec_set_str(r, "interaction", mm_pid_names[s->gt[i]], e));
	TRY(mm_rec_set_vec(r, "x1", x[0], (size_t)D, e));
	TRY(mm_rec_set_vec(r, "x2", x[1], (size_t)D, e));
fail:
	return st;
}

mm_status mm_synth_record(const mm_synth *s, int64_t j, mm_rec **out, mm_err *e)
{
	*out = NULL;
	if (j < 0 || j >= s->nkeep)
		return mm_errf(e, MM_EUSAGE, "record %lld: out of range (count %lld)", (long long)j,
				(long long)s->nkeep);
	int64_t i = s->keep ? s->keep[j] : j;
	mm_status st = MM_OK;
	mm_rec *r = mm_rec_new();
	if (!r)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	char id[96];
	snprintf(id, sizeof id, "%s%0*lld", s->prefix, s->idw, (long long)i);
	mm_rng g = mm_rng_split(&s->content, (uint64_t)i);
	TRY(mm_rec_set_str(r, "id", id, e));
	TRY(mm_rec_set_str(r, "split", split_names[s->split[i]], e));
	TRY(mm_rec_set_int(r, "label", s->p.kind == MM_SYNTH_TASKS ?
			s->gt[i] * MM_TASK_ANSWERS + s->label[i] : s->label[i], e));
	switch (s->p.kind) {
	case MM_SYNTH_TASKS:
		TRY(next_task(s, i, r, &g, id, e));
		break;
	case MM_SYNTH_SCENE:
		TRY(mm_rec_set_str(r, "gen_type", mm_gt_names[s->gt[i]], e));
		TRY(next_scene(s, i, r, &g, id, e));
		break;
	case MM_SYNTH_PID:
		TRY(mm_rec_set_str(r, "gen_type", mm_gt_names[s->gt[i]], e));
		TRY(next_pid(s, i, r, &g, e));
		break;
	case MM_SYNTH_BITS: {
		float x1 = (float)(s->aux[i] & 1), x2 = (float)(s->aux[i] >> 1);
		TRY(mm_rec_set_str(r, "fn", mm_bits_names[s->p.fn], e));
		TRY(mm_rec_set_vec(r, "x1", &x1, 1, e));
		TRY(mm_rec_set_vec(r, "x2", &x2, 1, e));
		break;
	}
	}
	*out = r;
	return MM_OK;
fail:
	mm_rec_free(r);
	mm_err_prefix(e, "record %lld (id \"%s\")", (long long)i, id);
	return st;
}

mm_status mm_synth_next(mm_synth *s, mm_rec **out, mm_err *e)
{
	*out = NULL;
	if (s->i >= s->nkeep)
		return MM_EOF;
	mm_status st = mm_synth_record(s, s->i, out, e);
	if (st == MM_OK)
		s->i++;
	return st;
}

int64_t mm_synth_count(const mm_synth *s)
{
	return s->nkeep;
}

/* ======================================================================
 * Exact PID of a binary joint
 * ====================================================================== */

/* I(X1,X2;Y) of q[x1][x2][y] (normalised), in bits. */
static double mi_joint(const double q[2][2][2])
{
	double py[2] = { 0 }, px[2][2] = { { 0 } }, I = 0;
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int y = 0; y < 2; y++) {
				py[y] += q[a][b][y];
				px[a][b] += q[a][b][y];
			}
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int y = 0; y < 2; y++)
				if (q[a][b][y] > 0)
					I += q[a][b][y] * log2(q[a][b][y] / (px[a][b] * py[y]));
	return I;
}

/* I(Xi;Y), i = 0 or 1. */
static double mi_single(const double q[2][2][2], int which)
{
	double m[2][2] = { { 0 } }, px[2] = { 0 }, py[2] = { 0 }, I = 0;
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int y = 0; y < 2; y++) {
				int x = which ? b : a;
				m[x][y] += q[a][b][y];
				px[x] += q[a][b][y];
				py[y] += q[a][b][y];
			}
	for (int x = 0; x < 2; x++)
		for (int y = 0; y < 2; y++)
			if (m[x][y] > 0)
				I += m[x][y] * log2(m[x][y] / (px[x] * py[y]));
	return I;
}

/* For each y the q with the p marginals (x1,y), (x2,y) has one free value
 * t_y = q(1,1,y) in [lo_y, hi_y]; I_q(X1,X2;Y) is convex in (t_0, t_1), so
 * cyclic golden-section coordinate descent finds its minimum. */
static void q_of(const double p[2][2][2], const double t[2], double q[2][2][2])
{
	for (int y = 0; y < 2; y++) {
		double my = p[0][0][y] + p[0][1][y] + p[1][0][y] + p[1][1][y];
		double a = p[1][0][y] + p[1][1][y], b = p[0][1][y] + p[1][1][y];
		q[1][1][y] = t[y];
		q[1][0][y] = fmax(0, a - t[y]);
		q[0][1][y] = fmax(0, b - t[y]);
		q[0][0][y] = fmax(0, my - a - b + t[y]);
	}
}

mm_status mm_pid_bits(const double pin[2][2][2], mm_pid *out, mm_err *e)
{
	double p[2][2][2], s = 0;
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int y = 0; y < 2; y++) {
				if (!(pin[a][b][y] >= 0) || !isfinite(pin[a][b][y]))
					return mm_errf(e, MM_EVALUE, "PID: probabilities must be finite and >= 0");
				s += pin[a][b][y];
			}
	if (!(s > 0))
		return mm_errf(e, MM_EVALUE, "PID: empty distribution");
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			for (int y = 0; y < 2; y++)
				p[a][b][y] = pin[a][b][y] / s;
	double lo[2], hi[2], t[2];
	for (int y = 0; y < 2; y++) {
		double my = p[0][0][y] + p[0][1][y] + p[1][0][y] + p[1][1][y];
		double a = p[1][0][y] + p[1][1][y], b = p[0][1][y] + p[1][1][y];
		lo[y] = fmax(0, a + b - my);
		hi[y] = fmin(a, b);
		t[y] = p[1][1][y];
	}
	const double gr = 0.6180339887498949;
	double q[2][2][2];
	for (int round = 0; round < 60; round++)
		for (int y = 0; y < 2; y++) {
			double a = lo[y], b = hi[y];
			for (int it = 0; it < 80 && b - a > 1e-15; it++) {
				double c = b - gr * (b - a), d = a + gr * (b - a), fc, fd;
				t[y] = c;
				q_of(p, t, q);
				fc = mi_joint(q);
				t[y] = d;
				q_of(p, t, q);
				fd = mi_joint(q);
				if (fc < fd)
					b = d;
				else
					a = c;
			}
			t[y] = (a + b) / 2;
		}
	q_of(p, t, q);
	double Iq = mi_joint(q), Ip = mi_joint(p);
	double I1 = mi_single(p, 0), I2 = mi_single(p, 1);
	if (Iq > Ip) /* p itself is feasible: the minimum is at most I_p */
		Iq = Ip;
	out->I = Ip;
	out->R = fmax(0, I1 + I2 - Iq);
	out->U1 = fmax(0, Iq - I2);
	out->U2 = fmax(0, Iq - I1);
	out->S = fmax(0, Ip - Iq);
	return MM_OK;
}
