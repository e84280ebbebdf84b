/* text.h — tokenisation and the two text encoders of mmoe (hash, glove).
 *
 * Tokeniser.  Input is UTF-8.  It is validated (invalid bytes are MM_EVALUE
 * naming the byte offset, or U+FFFD with replace_invalid, which then acts as a
 * separator), normalised to NFC (utf8proc) and lower-cased code point by code
 * point.  Tokens are:
 *   - words: runs of letters, marks and digits; an apostrophe (' or U+2019,
 *     written '), a hyphen (- or U+2010, written -) or an underscore between
 *     two such characters joins ("don't", "left-wing");  a '.', ',' or ':'
 *     between two digits joins too ("3.14", "1,000", "10:30");
 *   - hashtags and mentions: '#' or '@' directly before a word, not after a
 *     word character, is kept with it ("#not", "@bob");
 *   - emoji: an Extended_Pictographic code point with what follows it in the
 *     same grapheme (variation selectors, skin-tone modifiers, ZWJ sequences),
 *     and pairs of regional indicators (flags): one token each;
 *   - '!' and '?': one token per mark (they carry tone);
 * everything else (spaces, other punctuation and symbols, controls) separates
 * tokens and is dropped.  A token longer than MM_TOK_MAXBYTES bytes is cut at
 * a code point boundary.
 *
 * Hash encoder (fastText-style, untrained).  A token's vector is the mean of
 * the rows of its hashed word ("<tok>" hashed with a word salt) and of its
 * hashed character n-grams (n = minn..maxn code points of "<tok>") in a
 * virtual table of `buckets` rows of `dim` floats.  Row b is N(0, 1/dim)
 * noise generated from mm_hash64(b, seed): the table is never materialised.
 * With bigrams, token i > 0 is the mean of that vector and the row of the
 * hashed pair "tok[i-1] tok[i]".  The pooled vector is the mean of the token
 * vectors (zero for an empty text), L2-normalised on request.  The result
 * depends only on the parameters and the tokens: not on threads or caches.
 *
 * GloVe table: a read-only, mmap'ed binary file (format below, also in
 * man/mmoe-encode-text.1), shareable between threads.  Word i is the i-th
 * most frequent word of the source (GloVe files are sorted by frequency), so
 * its rank is its index.
 *
 *   offset size  field (all little-endian)
 *        0    8  magic "MMGLOVE\0"
 *        8    4  u32 version (1)
 *       12    4  u32 dim
 *       16    8  u64 nwords
 *       24    8  u64 nslots (power of two >= 2*nwords): hash index size
 *       32    8  u64 hash seed (slot of w = mm_hash64(w, len, seed) & (nslots-1),
 *                 linear probing)
 *       40    8  u64 offset of u32 word_off[nwords+1] (into the string pool)
 *       48    8  u64 offset of the string pool (word i = pool[word_off[i] ..
 *                 word_off[i+1]-1), NUL-terminated)
 *       56    8  u64 string pool size (= word_off[nwords])
 *       64    8  u64 offset of u32 slots[nslots] (0 empty, else word index + 1)
 *       72    8  u64 offset of f32 vectors[nwords][dim] (64-byte aligned)
 *       80    8  u64 file size
 *       88   40  zero
 */
#ifndef MM_TEXT_H
#define MM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MM_TOK_MAXBYTES 256

/* ---- tokeniser ---- */
typedef struct mm_tokens {
	char *buf;          /* tokens back to back, each NUL-terminated */
	size_t len, cap;
	uint32_t *off;      /* token i starts at buf + off[i]; n+1 entries used */
	size_t n, ncap;
	int32_t *cp;        /* workspace: decoded code points */
	size_t cpcap;
} mm_tokens;

/* Tokenise s[0..len) into t (zero-initialise it once; reused between calls,
 * it is cleared first; one mm_tokens per thread).
 * MM_EVALUE for invalid UTF-8 ("invalid UTF-8 at byte N") unless
 * replace_invalid.  MM_ENOMEM. */
mm_status mm_tokenize(const char *s, size_t len, bool replace_invalid, mm_tokens *t, mm_err *e);
static inline const char *mm_tok(const mm_tokens *t, size_t i) { return t->buf + t->off[i]; }
static inline size_t mm_tok_len(const mm_tokens *t, size_t i) { return t->off[i + 1] - t->off[i] - 1; }
void mm_tokens_free(mm_tokens *t);

/* ---- hash encoder ---- */
typedef struct mm_hashenc_params {
	uint64_t buckets;   /* rows of the virtual table (default 2^18) */
	uint32_t dim;       /* default 64 */
	uint32_t minn, maxn; /* char n-gram lengths (default 3..5); maxn 0: word only */
	bool bigrams;       /* add hashed word bigrams (default off) */
	uint64_t seed;      /* default 1 */
} mm_hashenc_params;
void mm_hashenc_params_default(mm_hashenc_params *p);
/* NULL when valid, else a message naming the bad parameter. */
const char *mm_hashenc_params_check(const mm_hashenc_params *p);

/* One encoder per thread (it owns a cache of token vectors). */
typedef struct mm_hashenc mm_hashenc;
mm_status mm_hashenc_new(mm_hashenc **out, const mm_hashenc_params *p, mm_err *e);
void mm_hashenc_free(mm_hashenc *h);
/* Row b of the virtual table (dim floats). */
void mm_hashenc_row(const mm_hashenc *h, uint64_t b, float *row);
/* The vector of one token (dim floats), without bigram. */
void mm_hashenc_token(mm_hashenc *h, const char *tok, size_t len, float *out);
/* Encode tokens: tok_out (may be NULL) gets the first min(n, max_tok) token
 * vectors [.., dim]; pooled (dim floats) the mean of all n token vectors. */
void mm_hashenc_encode(mm_hashenc *h, const mm_tokens *t, float *tok_out, size_t max_tok,
		float *pooled, bool l2);

/* ---- GloVe table ---- */
typedef struct mm_glove mm_glove;
mm_status mm_glove_open(mm_glove **out, const char *path, mm_err *e);
void mm_glove_close(mm_glove *g);
uint32_t mm_glove_dim(const mm_glove *g);
uint64_t mm_glove_size(const mm_glove *g);
/* Index (= frequency rank) of a word, or -1 when absent. */
int64_t mm_glove_find(const mm_glove *g, const char *w, size_t len);
const float *mm_glove_vec(const mm_glove *g, uint64_t i);
const char *mm_glove_word(const mm_glove *g, uint64_t i, size_t *len);

/* Builder for the converter: words in rank order; a duplicate word is
 * ignored (counted).  MM_EVALUE for an empty word, a word with a NUL, a
 * non-finite value. */
typedef struct mm_glove_builder mm_glove_builder;
mm_status mm_glove_builder_new(mm_glove_builder **out, uint32_t dim, mm_err *e);
mm_status mm_glove_builder_add(mm_glove_builder *b, const char *w, size_t len, const float *vec, mm_err *e);
uint64_t mm_glove_builder_count(const mm_glove_builder *b);
uint32_t mm_glove_builder_dim(const mm_glove_builder *b);
uint64_t mm_glove_builder_dups(const mm_glove_builder *b);
/* Write the table atomically to path. */
mm_status mm_glove_builder_write(mm_glove_builder *b, const char *path, mm_err *e);
void mm_glove_builder_free(mm_glove_builder *b);

/* ---- GloVe encoder ----
 * Lookup of a token: the token itself; else, for "#tag"/"@name", the name;
 * else the parts of a token split at apostrophes ("don't" -> "do" "n't",
 * "it's" -> "it" "'s") or hyphens, averaging the parts found.  A token none
 * of whose forms is found is out of vocabulary (OOV) and is skipped.
 * Weights of an in-vocabulary token (each occurrence counts: TF):
 *   NONE  1;
 *   ZIPF  a / (a + p(r)) with p(r) = 1 / ((r+1) H) (Zipf's law over the rank r
 *         of the word in the table, H = ln(nwords) + 0.5772), a = 1e-3:
 *         an IDF from the corpus GloVe was trained on (single pass);
 *   IDF   idf[index] given by the caller (see mm_glove_idf).
 * pooled = sum w_i v_i / sum w_i (zero when no token is known). */
typedef enum mm_glove_weight { MM_GLOVE_NONE, MM_GLOVE_ZIPF, MM_GLOVE_IDF } mm_glove_weight;

typedef struct mm_glove_stats {
	uint64_t records, tokens, oov, empty; /* empty: records with no known token */
} mm_glove_stats;

/* Look up token i: fills vec (dim floats) and returns the number of parts found
 * (0: OOV); *w gets the weight under mode (idf used only for MM_GLOVE_IDF).
 * idx (may be NULL) gets up to 4 word indices, *nidx their count. */
int mm_glove_lookup(const mm_glove *g, const char *tok, size_t len, float *vec,
		int64_t *idx, int *nidx);
void mm_glove_encode(const mm_glove *g, const mm_tokens *t, mm_glove_weight mode,
		const float *idf, float *tok_out, size_t max_tok, float *pooled, bool l2,
		mm_glove_stats *st);

/* Document frequencies → smoothed IDF: idf = ln((1+N)/(1+df)) + 1. */
typedef struct mm_glove_df {
	uint32_t *df, *last;  /* per word: documents containing it; last doc seen */
	uint64_t ndocs;
} mm_glove_df;
mm_status mm_glove_df_init(mm_glove_df *d, const mm_glove *g, mm_err *e);
void mm_glove_df_add(mm_glove_df *d, const mm_glove *g, const mm_tokens *t);
/* idf: nwords floats, malloc'ed by the caller. */
void mm_glove_df_idf(const mm_glove_df *d, const mm_glove *g, float *idf);
void mm_glove_df_free(mm_glove_df *d);

/* Scale v to unit L2 norm (left alone when zero). */
void mm_l2_normalize(float *v, size_t n);

#endif
