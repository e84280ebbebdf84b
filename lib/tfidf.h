/* tfidf.h — sparse TF-IDF text features with the hashing trick.
 *
 * Features of a text (its tokens from mm_tokenize):
 *   - word n-grams, n = 1..words: the tokens joined by one space ("not",
 *     "not funny"), as scikit-learn's word n-grams;
 *   - optionally character n-grams, n = chars_min..chars_max code points of
 *     each token padded with one space on both sides (" no", "not", "ot "),
 *     as scikit-learn's char_wb analyzer; they are hashed with another salt,
 *     so a 3-letter word and the same 3-letter char n-gram stay apart.
 * A feature f is hashed once: h = mm_hash64(f, seed or seed+1 for char
 * n-grams); its bucket is h mod 2^bits and its sign is + when bit 63 of h
 * is 0, else - (signed hashing: colliding features cancel in expectation
 * instead of adding up).
 *
 * Weights, as scikit-learn's TfidfVectorizer(sublinear_tf=True,
 * smooth_idf=True, norm="l2") up to the hashing:
 *   tf(f)   = 1 + ln(count of f in the text);
 *   idf(f)  = ln((1 + N) / (1 + df(f))) + 1, N the documents of the fit, df(f)
 *             the documents containing f;
 *   x[b]    = Σ_{f in bucket b} sign(f) tf(f) idf(f), then x / ‖x‖₂.
 * The IDF table is keyed by the feature's 64-bit hash h, not by its bucket:
 * a feature that no fit document had gets nothing, as a word outside a
 * fitted vocabulary, even when its bucket is shared with a seen feature.
 * So the only differences from an exact vocabulary are two features of the
 * same text in one bucket (and 64-bit hash collisions).  Buckets whose
 * signed sum is exactly 0 are not stored.
 *
 * The two steps are explicit (a one-pass filter cannot both fit on the train
 * split and encode): a fit counts document frequencies (mm_tfidf_df) and
 * writes the IDF table file; encoding loads it (mm_tfidf_load).  The table
 * holds the parameters, so encoding always hashes as the fit did.  Memory
 * of both is O(distinct features of the fit), never O(2^bits).
 *
 * IDF table file (text, C locale, one item per line):
 *   mmoe-idf 1
 *   bits B
 *   words W
 *   chars MIN MAX          (0 0: none)
 *   seed S
 *   docs N
 *   <h> <df>               one line per feature seen: its 64-bit hash in
 *                          decimal (bucket = h mod 2^B), hashes increasing
 */
#ifndef MM_TFIDF_H
#define MM_TFIDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sparse.h"
#include "text.h"

#define MM_TFIDF_MAXBITS 24

typedef struct mm_tfidf_params {
	uint32_t bits;                /* 2^bits buckets, 1..24 (default 20) */
	uint32_t words;               /* word n-grams 1..words, 1..3 (default 2) */
	uint32_t chars_min, chars_max; /* char n-grams; chars_max 0: none (default) */
	uint64_t seed;                /* hash seed (default 1) */
} mm_tfidf_params;
void mm_tfidf_params_default(mm_tfidf_params *p);
/* NULL when valid, else a message naming the bad parameter. */
const char *mm_tfidf_params_check(const mm_tfidf_params *p);

/* One feature of a text: its hash and its count.  The features of a text
 * are distinct and sorted by h. */
typedef struct mm_tfidf_feat {
	uint64_t h;
	uint32_t count;
	uint32_t start, len;  /* the feature's text in mm_tfidf_work.text */
} mm_tfidf_feat;

/* Scratch of one thread (zero-initialise; mm_tfidf_work_free). */
typedef struct mm_tfidf_work {
	mm_tfidf_feat *f;
	size_t n, cap;
	char *text;           /* the features' strings, back to back */
	size_t tlen, tcap;
} mm_tfidf_work;
void mm_tfidf_work_free(mm_tfidf_work *w);

/* The distinct features of t into w->f[0..w->n), with counts.  MM_ENOMEM. */
mm_status mm_tfidf_features(const mm_tfidf_params *p, const mm_tokens *t, mm_tfidf_work *w,
		mm_err *e);
static inline uint32_t mm_tfidf_bucket(const mm_tfidf_params *p, uint64_t h)
{
	return (uint32_t)(h & (((uint64_t)1 << p->bits) - 1));
}
static inline int mm_tfidf_sign(uint64_t h) { return h >> 63 ? -1 : 1; }

/* ---- fit: document frequencies per feature (a hash map of the features seen) ---- */
typedef struct mm_tfidf_df {
	mm_tfidf_params p;
	uint64_t ndocs;
	uint64_t *key;        /* feature hashes; open addressing */
	uint32_t *df;         /* 0 = empty slot */
	size_t size, used;
} mm_tfidf_df;
mm_status mm_tfidf_df_init(mm_tfidf_df *d, const mm_tfidf_params *p, mm_err *e);
/* Count one document whose features are in w (from mm_tfidf_features). */
mm_status mm_tfidf_df_add(mm_tfidf_df *d, const mm_tfidf_work *w, mm_err *e);
/* Write the table atomically. */
mm_status mm_tfidf_df_write(const mm_tfidf_df *d, const char *path, mm_err *e);
void mm_tfidf_df_free(mm_tfidf_df *d);

/* ---- encode ---- */
typedef struct mm_tfidf {
	mm_tfidf_params p;
	uint64_t ndocs;
	size_t m;             /* features in the table */
	uint64_t *hash;       /* their hashes, increasing */
	float *idf;
} mm_tfidf;
/* Load a table; errors name the file and the line. */
mm_status mm_tfidf_load(mm_tfidf *t, const char *path, mm_err *e);
void mm_tfidf_free(mm_tfidf *t);
/* The TF-IDF vector of tokens tok into out (dim 2^bits), L2-normalised
 * when l2.  Thread-safe for distinct w and out. */
mm_status mm_tfidf_encode(const mm_tfidf *t, const mm_tokens *tok, bool l2, mm_tfidf_work *w,
		mm_sparse *out, mm_err *e);

#endif
