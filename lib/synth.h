/* synth.h — synthetic multimodal datasets whose interaction types are known.
 *
 * Three kinds of generator (man/mmoe-synth.1 documents the worlds in full):
 *
 *   MM_SYNTH_SCENE  a sarcasm-like task over a rendered weather scene (image)
 *                   and a sentence about the weather (text).  Every example
 *                   draws an interaction type from a mixture:
 *                     R   both modalities carry the label (eye-roll face and
 *                         text marker when y = 1, neither when y = 0);
 *                     Uv  only the image carries it (eye-roll iff y = 1), the
 *                         text marker is drawn independently of y;
 *                     Ut  only the text carries it (marker iff y = 1), the
 *                         face is drawn independently of y;
 *                     S   y = 1 iff the weather the sentence states contradicts
 *                         the weather of the image; the scene and the stated
 *                         weather are each uniform whatever y, so either
 *                         modality alone is at chance.
 *   MM_SYNTH_PID    the continuous generator of Liang et al. (NeurIPS 2023):
 *                   Gaussian latents z1, z2, z12, x1 = A1 [z1; z12] + noise,
 *                   x2 = A2 [z2; z12] + noise, label from the latents chosen by
 *                   the interaction, binned into equal-frequency classes.
 *   MM_SYNTH_BITS   x1, x2 in {0,1}, y = AND/OR/XOR/x1 or x1 = x2 = y, whose
 *                   partial information decomposition is known exactly.
 *   MM_SYNTH_TASKS  a multi-task instruction set: one image (a striped shape
 *                   on a ground of slats lit from one side) and a question
 *                   of one of four task groups, each made for one encoder
 *                   of vision.h (pooled features): the shape's colour (colour
 *                   histogram), the stripes' direction (HOG), the lit side
 *                   (pixels: a slope in every patch that unsigned gradients
 *                   and histograms cannot orient), and a question needing two
 *                   (warm/cool colour and straight/slanted stripes: colour +
 *                   HOG).  Every image draws all attributes; the question
 *                   fixes the one it asks, so images look alike whatever the
 *                   task and only the instruction says what to answer.
 *
 * Determinism: a generator is a pure function of its parameters (seed
 * included).  Record i is drawn from its own child generator
 * mm_rng_split(content, i), so records do not depend on one another beyond
 * the plan (types, labels, splits) fixed up front.
 *
 * Usage:
 *     mm_synth_params p; mm_synth_params_default(&p); p.count = 4000;
 *     const char *why = mm_synth_params_check(&p);   // NULL when fine
 *     mm_synth *s; mm_synth_new(&s, &p, &e);
 *     while ((st = mm_synth_next(s, &rec, &e)) == MM_OK) { ...; mm_rec_free(rec); }
 *     // st == MM_EOF at the end
 *     mm_synth_free(s);
 */
#ifndef MM_SYNTH_H
#define MM_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "record.h"
#include "rng.h"

typedef enum mm_synth_kind { MM_SYNTH_SCENE, MM_SYNTH_PID, MM_SYNTH_BITS, MM_SYNTH_TASKS } mm_synth_kind;

/* Interaction types, in this order everywhere (mix weights, names). */
enum { MM_GT_R, MM_GT_UV, MM_GT_UT, MM_GT_S, MM_GT_N };
extern const char *const mm_gt_names[MM_GT_N];     /* "R", "Uv", "Ut", "S" */

/* Weathers of the scene world; MM_W_NONE: the sentence states no weather. */
enum { MM_W_SUNNY, MM_W_RAINY, MM_W_SNOWY, MM_W_CLOUDY, MM_W_N, MM_W_NONE = MM_W_N };
extern const char *const mm_weather_names[MM_W_N + 1]; /* ..., "none" */

/* Face glyphs. */
enum { MM_FACE_NONE, MM_FACE_SMILE, MM_FACE_FROWN, MM_FACE_EYEROLL, MM_FACE_N };
extern const char *const mm_face_names[MM_FACE_N];

/* --kind pid interactions; MM_PID_MIXED draws one per record from mix[]. */
enum { MM_PID_REDUNDANCY, MM_PID_UNIQUENESS1, MM_PID_UNIQUENESS2, MM_PID_SYNERGY,
	MM_PID_MIXED, MM_PID_N };
extern const char *const mm_pid_names[MM_PID_N];

/* --kind bits functions. */
enum { MM_BITS_AND, MM_BITS_OR, MM_BITS_XOR, MM_BITS_X1, MM_BITS_COPY, MM_BITS_N };
extern const char *const mm_bits_names[MM_BITS_N];

/* --kind tasks: the task groups, and their four answers each.  The shared
 * answer vocabulary is the concatenation: label = 4 * task + task_label, so
 * mm_task_answers[label] names it. */
enum { MM_TASK_COLOR, MM_TASK_ORIENT, MM_TASK_LIGHT, MM_TASK_COMBO, MM_TASK_N };
enum { MM_TASK_ANSWERS = 4, MM_TASK_VOCAB = MM_TASK_N * MM_TASK_ANSWERS };
extern const char *const mm_task_names[MM_TASK_N];   /* color, orientation, light, combo */
extern const char *const mm_task_answers[MM_TASK_VOCAB];
/* Default count of --kind tasks (see man/mmoe-synth.1 for why). */
#define MM_SYNTH_TASKS_COUNT 4000

typedef struct mm_synth_params {
	mm_synth_kind kind;
	uint64_t seed;
	int64_t count;          /* number of records, >= 0 */
	double mix[MM_GT_N];    /* R, Uv, Ut, S weights (>= 0, not all 0; normalised) */
	double flip;            /* probability of flipping each label, [0, 0.5] */
	double split[3];        /* train, val, test fractions (>= 0, normalised) */
	const char *id_prefix;  /* NULL: "s", "p" or "b" by kind */
	/* scene */
	double noise;           /* visual noise level in [0, 1]: pixel noise sd
	                           (x 255), clutter and colour jitter grow with it */
	int size;               /* image side in pixels, 16..1024 */
	int s_weathers;         /* S examples use the first k weathers, 2..4
	                           (2: sunny vs rainy) */
	const char *image_dir;  /* NULL: PNG bytes inline; else write DIR/<id>.png
	                           and store "<id>.png" (relative to DIR) */
	/* pid */
	int interaction;        /* MM_PID_* */
	int classes;            /* 2..64 */
	int latent_dim;         /* dimension of each of z1, z2, z12 (1..256) */
	int dim;                /* dimension of each of x1, x2 (1..4096) */
	double pid_noise;       /* sd of the additive noise on x1, x2 */
	/* bits */
	int fn;                 /* MM_BITS_* */
	/* tasks (also uses size, noise, image_dir) */
	unsigned tasks;         /* bit t keeps task group t; 0: all.  The plan is
	                           that of all groups, so a subset is the same
	                           records (ids, bytes) as in the full output */
} mm_synth_params;

void mm_synth_params_default(mm_synth_params *p);
/* NULL when p is usable, else a static message naming the bad parameter. */
const char *mm_synth_params_check(const mm_synth_params *p);

/* Parse "R=0.3,Uv=0.2,Ut=0.2,S=0.3" (any subset, any order, names case-
 * insensitive; absent types get 0) into mix[], normalised to sum 1.  A bad
 * name, a bad or negative number, a repeated name or an all-zero mixture is
 * MM_EUSAGE with a message saying which. */
mm_status mm_synth_parse_mix(const char *spec, double mix[MM_GT_N], mm_err *e);
/* Parse "0.7,0.15,0.15" into split[3], normalised.  MM_EUSAGE when bad. */
mm_status mm_synth_parse_split(const char *spec, double split[3], mm_err *e);
/* Parse "color,light" (task group names, case-insensitive) into a bit mask
 * for params.tasks.  MM_EUSAGE on an unknown or repeated name. */
mm_status mm_synth_parse_tasks(const char *spec, unsigned *mask, mm_err *e);
/* Name lookups: index, or -1 when unknown. */
int mm_synth_lookup(const char *const *names, int n, const char *s);

typedef struct mm_synth mm_synth;
mm_status mm_synth_new(mm_synth **out, const mm_synth_params *p, mm_err *e);
/* The next record (caller frees), MM_EOF after mm_synth_count() records. */
mm_status mm_synth_next(mm_synth *s, mm_rec **rec, mm_err *e);
/* Record i (0 <= i < mm_synth_count()) on its own: the same record
 * mm_synth_next gives at position i.  Safe to call from several threads at
 * once on one s. */
mm_status mm_synth_record(const mm_synth *s, int64_t i, mm_rec **rec, mm_err *e);
/* Records written: params.count, or with params.tasks the records of the
 * chosen task groups among them. */
int64_t mm_synth_count(const mm_synth *s);
void mm_synth_free(mm_synth *s);

/* ---- the scene world, exposed for tests and analysis ---- */

/* The ground truth of one scene example. */
typedef struct mm_scene {
	int gen_type;      /* MM_GT_* */
	int label_clean;   /* the label the content implies */
	int label;         /* after --flip */
	int scene;         /* MM_W_* (never NONE) */
	int face;          /* MM_FACE_* */
	bool marker;       /* the sentence carries a sarcasm marker */
	int text_weather;  /* MM_W_*: the weather the sentence states, or MM_W_NONE */
	bool praise;       /* the sentence praises the weather (S sentences) */
} mm_scene;

/* Draw the content of one example of type gen_type with clean label y; S
 * examples use the first k weathers (2..4: sunny, rainy, snowy, cloudy). */
void mm_scene_draw(mm_rng *g, int gen_type, int y, int k, mm_scene *sc);
/* Render sc into rgb (size*size*3 bytes, row-major RGB8) with noise level. */
void mm_scene_render(const mm_scene *sc, mm_rng *g, int size, double noise, uint8_t *rgb);
/* Write the sentence of sc into buf (NUL-terminated, truncated to cap);
 * returns its length. */
size_t mm_scene_sentence(const mm_scene *sc, mm_rng *g, char *buf, size_t cap);

/* ---- the tasks world ---- */

/* The content of one tasks image: every attribute, whatever the question. */
typedef struct mm_task_scene {
	int color;         /* 0..3: red, yellow, green, blue */
	int orient;        /* 0..3: horizontal, vertical, rising, falling */
	int light;         /* 0..3: left, right, top, bottom (the brighter side) */
	int shape;         /* 0 disc, 1 square */
} mm_task_scene;

/* Draw the attributes of an image whose task-group question has answer ans
 * (0..3); the attributes the question does not fix are uniform. */
void mm_task_draw(mm_rng *g, int task, int ans, mm_task_scene *ts);
/* The answer (0..3) of task group task for ts. */
int mm_task_answer(const mm_task_scene *ts, int task);
/* Render ts into rgb (size*size*3 bytes, RGB8) with noise level. */
void mm_task_render(const mm_task_scene *ts, mm_rng *g, int size, double noise, uint8_t *rgb);
/* A paraphrase of the question of task into buf (NUL-terminated, truncated
 * to cap); returns its length. */
size_t mm_task_instruction(int task, mm_rng *g, char *buf, size_t cap);

/* ---- the bits world ---- */

/* Partial information decomposition (bits) of a discrete joint p[x1][x2][y]
 * over {0,1}^3 (need not be normalised; all >= 0, sum > 0), by minimising
 * I_q(X1,X2;Y) over the q with the same (x1,y) and (x2,y) marginals. */
typedef struct mm_pid {
	double R, U1, U2, S, I;  /* I = I_p(X1,X2;Y) = R + U1 + U2 + S */
} mm_pid;
mm_status mm_pid_bits(const double p[2][2][2], mm_pid *out, mm_err *e);

#endif
