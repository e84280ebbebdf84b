/* text.c — tokeniser, hash encoder and GloVe table/encoder (see text.h). */
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

#include "rng.h"
#include "util.h"

/* ======================================================================
 * Tokeniser
 * ====================================================================== */

/* Decoded code points: a view of the workspace kept in mm_tokens. */
typedef struct cpbuf {
	int32_t *cp;
	size_t n, cap;
} cpbuf;

static mm_status cp_reserve(cpbuf *b, size_t n, mm_err *e)
{
	if (n <= b->cap)
		return MM_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < n)
		cap *= 2;
	int32_t *p = realloc(b->cp, cap * sizeof *p);
	if (!p)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	b->cp = p;
	b->cap = cap;
	return MM_OK;
}

static mm_status tok_reserve(mm_tokens *t, size_t bytes, mm_err *e)
{
	if (t->len + bytes > t->cap) {
		size_t cap = t->cap ? t->cap : 256;
		while (cap < t->len + bytes)
			cap *= 2;
		char *p = realloc(t->buf, cap);
		if (!p)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		t->buf = p;
		t->cap = cap;
	}
	if (t->n + 2 > t->ncap) {
		size_t cap = t->ncap ? t->ncap * 2 : 64;
		uint32_t *p = realloc(t->off, cap * sizeof *p);
		if (!p)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		t->off = p;
		t->ncap = cap;
	}
	return MM_OK;
}

void mm_tokens_free(mm_tokens *t)
{
	free(t->buf);
	free(t->off);
	free(t->cp);
	memset(t, 0, sizeof *t);
}

enum { C_SEP, C_WORD, C_EMOJI, C_RI, C_PUNCT, C_HASH, C_JOIN, C_NUMJOIN };

static bool is_word(int32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
		return true;
	default:
		return false;
	}
}

static bool is_digit(int32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	return utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

static bool is_pict(int32_t c)
{
	if (c < 0xA9)
		return false;
	switch (utf8proc_get_property(c)->boundclass) {
	case UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC:
	case UTF8PROC_BOUNDCLASS_E_ZWG:
	case UTF8PROC_BOUNDCLASS_E_BASE:
	case UTF8PROC_BOUNDCLASS_E_BASE_GAZ:
	case UTF8PROC_BOUNDCLASS_GLUE_AFTER_ZWJ:
		return true;
	default:
		return false;
	}
}

/* Continuation of an emoji grapheme: variation selectors, skin tones, tags. */
static bool is_emoji_ext(int32_t c)
{
	if (c == 0xFE0F || c == 0xFE0E || (c >= 0x1F3FB && c <= 0x1F3FF) || c == 0x20E3)
		return true;
	if (c < 0x300)
		return false;
	int bc = utf8proc_get_property(c)->boundclass;
	return bc == UTF8PROC_BOUNDCLASS_EXTEND || bc == UTF8PROC_BOUNDCLASS_E_MODIFIER;
}

static int cls(int32_t c)
{
	if (c < 0x80) {
		if (is_word(c))
			return C_WORD;
		switch (c) {
		case '!': case '?': return C_PUNCT;
		case '#': case '@': return C_HASH;
		case '\'': case '-': case '_': return C_JOIN;
		case '.': case ',': case ':': return C_NUMJOIN;
		default: return C_SEP;
		}
	}
	if (c == 0x2019 || c == 0x02BC || c == 0x2010 || c == 0x2011)
		return C_JOIN;
	if (c >= 0x1F1E6 && c <= 0x1F1FF)
		return C_RI;
	if (is_pict(c))
		return C_EMOJI;
	if (is_word(c))
		return C_WORD;
	return C_SEP;
}

static int32_t join_char(int32_t c)
{
	if (c == 0x2019 || c == 0x02BC)
		return '\'';
	if (c == 0x2010 || c == 0x2011)
		return '-';
	return c;
}

/* Append code points cp[a..b) as one token (lower-cased when lower). */
static mm_status emit(mm_tokens *t, const int32_t *cp, size_t a, size_t b, bool lower, mm_err *e)
{
	mm_status st = tok_reserve(t, MM_TOK_MAXBYTES + 8, e);
	if (st != MM_OK)
		return st;
	size_t start = t->len, used = 0;
	for (size_t i = a; i < b; i++) {
		int32_t c = join_char(cp[i]);
		if (lower)
			c = c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) : utf8proc_tolower(c);
		uint8_t u[4];
		utf8proc_ssize_t k = utf8proc_encode_char(c, u);
		if (used + (size_t)k > MM_TOK_MAXBYTES)
			break;
		memcpy(t->buf + start + used, u, (size_t)k);
		used += (size_t)k;
	}
	if (used == 0)
		return MM_OK;
	t->buf[start + used] = 0;
	t->off[t->n] = (uint32_t)start;
	t->len = start + used + 1;
	t->n++;
	t->off[t->n] = (uint32_t)t->len;
	return MM_OK;
}

/* Decode and validate UTF-8 into code points, NFC-normalised. */
static mm_status decode(const char *s, size_t len, bool replace, cpbuf *b, mm_err *e)
{
	const uint8_t *u = (const uint8_t *)s;
	bool ascii = true;
	for (size_t i = 0; i < len; i++)
		if (u[i] >= 0x80) {
			ascii = false;
			break;
		}
	mm_status st = cp_reserve(b, len + 1, e);
	if (st != MM_OK)
		return st;
	if (ascii) {
		for (size_t i = 0; i < len; i++)
			b->cp[i] = u[i];
		b->n = len;
		return MM_OK;
	}
	/* Validate (and repair) into a clean UTF-8 copy, then NFC through utf8proc. */
	uint8_t *clean = malloc(len * 3 + 4);
	if (!clean)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	size_t m = 0;
	for (size_t i = 0; i < len;) {
		int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &c);
		if (k < 0 || c == 0) {
			if (k >= 0 && c == 0) { /* a NUL byte: keep as a separator */
				clean[m++] = ' ';
				i++;
				continue;
			}
			if (!replace) {
				free(clean);
				return mm_errf(e, MM_EVALUE, "invalid UTF-8 at byte %zu", i);
			}
			c = 0xFFFD;
			k = 1;
		}
		m += (size_t)utf8proc_encode_char(c, clean + m);
		i += (size_t)k;
	}
	utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
	utf8proc_ssize_t need = utf8proc_decompose(clean, (utf8proc_ssize_t)m, NULL, 0, opt);
	if (need < 0) {
		free(clean);
		return mm_errf(e, MM_EVALUE, "cannot normalise text: %s", utf8proc_errmsg(need));
	}
	if ((st = cp_reserve(b, (size_t)need + 1, e)) != MM_OK) {
		free(clean);
		return st;
	}
	need = utf8proc_decompose(clean, (utf8proc_ssize_t)m, b->cp, (utf8proc_ssize_t)b->cap, opt);
	free(clean);
	if (need < 0)
		return mm_errf(e, MM_EVALUE, "cannot normalise text: %s", utf8proc_errmsg(need));
	need = utf8proc_normalize_utf32(b->cp, need, opt);
	if (need < 0)
		return mm_errf(e, MM_EVALUE, "cannot normalise text: %s", utf8proc_errmsg(need));
	b->n = (size_t)need;
	return MM_OK;
}

mm_status mm_tokenize(const char *s, size_t len, bool replace_invalid, mm_tokens *t, mm_err *e)
{
	t->len = 0;
	t->n = 0;
	mm_status st = tok_reserve(t, 1, e);
	if (st != MM_OK)
		return st;
	t->off[0] = 0;
	cpbuf cb = { t->cp, 0, t->cpcap }, *b = &cb;
	st = decode(s, len, replace_invalid, b, e);
	t->cp = cb.cp;
	t->cpcap = cb.cap;
	if (st != MM_OK)
		return st;
	const int32_t *cp = b->cp;
	size_t n = b->n;
	for (size_t i = 0; i < n;) {
		int c = cls(cp[i]);
		size_t j;
		switch (c) {
		case C_HASH:
			if (i + 1 < n && cls(cp[i + 1]) == C_WORD && (i == 0 || !is_word(cp[i - 1]))) {
				j = i + 1;
				goto word;
			}
			i++;
			break;
		case C_WORD:
			j = i;
		word:
			for (;;) {
				if (j < n && cls(cp[j]) == C_WORD)
					j++;
				else if (j + 1 < n && j > i && cls(cp[j]) == C_JOIN && cls(cp[j + 1]) == C_WORD
						&& cls(cp[j - 1]) == C_WORD)
					j++;
				else if (j + 1 < n && j > i && cls(cp[j]) == C_NUMJOIN && is_digit(cp[j - 1])
						&& is_digit(cp[j + 1]))
					j++;
				else
					break;
			}
			if ((st = emit(t, cp, i, j, true, e)) != MM_OK)
				return st;
			i = j;
			break;
		case C_RI:
			j = i + 1 < n && cls(cp[i + 1]) == C_RI ? i + 2 : i + 1;
			if ((st = emit(t, cp, i, j, false, e)) != MM_OK)
				return st;
			i = j;
			break;
		case C_EMOJI:
			j = i + 1;
			for (;;) {
				while (j < n && is_emoji_ext(cp[j]))
					j++;
				if (j + 1 < n && cp[j] == 0x200D && is_pict(cp[j + 1]))
					j += 2;
				else
					break;
			}
			if ((st = emit(t, cp, i, j, false, e)) != MM_OK)
				return st;
			i = j;
			break;
		case C_PUNCT:
			if ((st = emit(t, cp, i, i + 1, false, e)) != MM_OK)
				return st;
			i++;
			break;
		default:
			i++;
		}
	}
	return MM_OK;
}

/* ======================================================================
 * Hash encoder
 * ====================================================================== */

#define HC_KEY 64 /* cache key bytes: 1 length byte + up to 63 token bytes */

struct mm_hashenc {
	mm_hashenc_params p;
	uint64_t salt_word, salt_ngram, salt_bigram, salt_row;
	size_t cslots;          /* power of two */
	uint8_t *ckey;          /* cslots * HC_KEY */
	float *cvec;            /* cslots * dim */
	size_t rslots;          /* row cache (n-grams are shared between words) */
	uint64_t *rkey;         /* bucket + 1, 0 empty */
	float *rvec;            /* rslots * dim */
	float *row;             /* dim scratch */
	uint32_t *pos;          /* code point boundaries of "<tok>" */
	char *wbuf;             /* "<tok>" and bigram scratch */
};

void mm_hashenc_params_default(mm_hashenc_params *p)
{
	p->buckets = (uint64_t)1 << 18;
	p->dim = 64;
	p->minn = 3;
	p->maxn = 5;
	p->bigrams = false;
	p->seed = 1;
}

const char *mm_hashenc_params_check(const mm_hashenc_params *p)
{
	if (p->buckets < 1 || p->buckets > ((uint64_t)1 << 40))
		return "buckets must be in [1, 2^40]";
	if (p->dim < 1 || p->dim > 4096)
		return "dim must be in [1, 4096]";
	if (p->maxn > 0 && (p->minn < 1 || p->minn > p->maxn))
		return "n-gram lengths must satisfy 1 <= minn <= maxn";
	if (p->maxn > 16)
		return "maxn must be at most 16";
	return NULL;
}

mm_status mm_hashenc_new(mm_hashenc **out, const mm_hashenc_params *p, mm_err *e)
{
	const char *msg = mm_hashenc_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "hash encoder: %s", msg);
	mm_hashenc *h = calloc(1, sizeof *h);
	if (!h)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	h->p = *p;
	h->salt_word = mm_hash64("word", 4, p->seed);
	h->salt_ngram = mm_hash64("ngram", 5, p->seed);
	h->salt_bigram = mm_hash64("bigram", 6, p->seed);
	h->salt_row = mm_hash64("row", 3, p->seed);
	/* About 4 MiB of cached token vectors per encoder. */
	size_t slots = 256;
	while (slots * 2 * ((size_t)p->dim * 4 + HC_KEY) <= ((size_t)4 << 20))
		slots *= 2;
	h->cslots = slots;
	size_t rs = 256;
	while (rs * 2 * ((size_t)p->dim * 4 + 8) <= ((size_t)4 << 20))
		rs *= 2;
	h->rslots = rs;
	h->rkey = calloc(rs, sizeof *h->rkey);
	h->rvec = mm_alloc_aligned(rs * p->dim, sizeof(float));
	h->ckey = calloc(slots, HC_KEY);
	h->cvec = mm_alloc_aligned(slots * p->dim, sizeof(float));
	h->row = mm_alloc_aligned(p->dim, sizeof(float));
	h->pos = malloc((MM_TOK_MAXBYTES * 2 + 8) * sizeof *h->pos);
	h->wbuf = malloc(MM_TOK_MAXBYTES * 2 + 8);
	if (!h->ckey || !h->cvec || !h->rkey || !h->rvec || !h->row || !h->pos || !h->wbuf) {
		mm_hashenc_free(h);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	*out = h;
	return MM_OK;
}

void mm_hashenc_free(mm_hashenc *h)
{
	if (!h)
		return;
	free(h->ckey);
	free(h->cvec);
	free(h->rkey);
	free(h->rvec);
	free(h->row);
	free(h->pos);
	free(h->wbuf);
	free(h);
}

void mm_hashenc_row(const mm_hashenc *h, uint64_t b, float *row)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(b >> (8 * i));
	mm_rng g;
	mm_rng_seed(&g, mm_hash64(le, 8, h->salt_row));
	uint32_t d = h->p.dim;
	double s = 1.0 / sqrt((double)d);
	/* Box–Muller, both halves: N(0, 1/dim) per element, unit expected norm. */
	for (uint32_t j = 0; j < d; j += 2) {
		double u1 = mm_rng_uniform(&g), u2 = mm_rng_uniform(&g);
		if (u1 < 1e-300)
			u1 = 1e-300;
		double r = sqrt(-2.0 * log(u1)) * s, a = 6.283185307179586 * u2;
		row[j] = (float)(r * cos(a));
		if (j + 1 < d)
			row[j + 1] = (float)(r * sin(a));
	}
}

/* acc += row b, through the row cache (exact copies: results do not change). */
static void add_row(mm_hashenc *h, uint64_t hv, float *acc)
{
	uint64_t b = hv % h->p.buckets;
	size_t slot = (size_t)((b * 0x9e3779b97f4a7c15ULL) >> 20) & (h->rslots - 1);
	float *r = h->rvec + slot * h->p.dim;
	if (h->rkey[slot] != b + 1) {
		mm_hashenc_row(h, b, r);
		h->rkey[slot] = b + 1;
	}
	for (uint32_t j = 0; j < h->p.dim; j++)
		acc[j] += r[j];
}

void mm_hashenc_token(mm_hashenc *h, const char *tok, size_t len, float *out)
{
	uint32_t d = h->p.dim;
	if (len > MM_TOK_MAXBYTES)
		len = MM_TOK_MAXBYTES;
	uint8_t *key = NULL;
	if (len < HC_KEY) {
		uint64_t hv = mm_hash64(tok, len, 0x5eed);
		size_t slot = hv & (h->cslots - 1);
		key = h->ckey + slot * HC_KEY;
		float *cv = h->cvec + slot * d;
		if (key[0] == len + 1 && memcmp(key + 1, tok, len) == 0) {
			memcpy(out, cv, d * sizeof *out);
			return;
		}
	}
	char *w = h->wbuf;
	w[0] = '<';
	memcpy(w + 1, tok, len);
	w[len + 1] = '>';
	size_t wl = len + 2;
	memset(out, 0, d * sizeof *out);
	add_row(h, mm_hash64(w, wl, h->salt_word), out);
	size_t k = 1;
	if (h->p.maxn > 0) {
		/* Code point boundaries: n-grams are over characters, not bytes. */
		size_t ncp = 0;
		for (size_t i = 0; i < wl; i++)
			if (((uint8_t)w[i] & 0xC0) != 0x80)
				h->pos[ncp++] = (uint32_t)i;
		h->pos[ncp] = (uint32_t)wl;
		for (size_t n = h->p.minn; n <= h->p.maxn && n <= ncp; n++)
			for (size_t s = 0; s + n <= ncp; s++) {
				add_row(h, mm_hash64(w + h->pos[s], h->pos[s + n] - h->pos[s], h->salt_ngram), out);
				k++;
			}
	}
	float inv = 1.0f / (float)k;
	for (uint32_t j = 0; j < d; j++)
		out[j] *= inv;
	if (key) {
		size_t slot = (size_t)(key - h->ckey) / HC_KEY;
		key[0] = (uint8_t)(len + 1);
		memcpy(key + 1, tok, len);
		memcpy(h->cvec + slot * d, out, d * sizeof *out);
	}
}

void mm_l2_normalize(float *v, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)v[i] * v[i];
	if (s <= 0)
		return;
	float inv = (float)(1.0 / sqrt(s));
	for (size_t i = 0; i < n; i++)
		v[i] *= inv;
}

void mm_hashenc_encode(mm_hashenc *h, const mm_tokens *t, float *tok_out, size_t max_tok,
		float *pooled, bool l2)
{
	uint32_t d = h->p.dim;
	float v[d > 0 ? d : 1];
	double acc[d > 0 ? d : 1];
	memset(acc, 0, sizeof acc);
	for (size_t i = 0; i < t->n; i++) {
		mm_hashenc_token(h, mm_tok(t, i), mm_tok_len(t, i), v);
		if (h->p.bigrams && i > 0) {
			size_t a = mm_tok_len(t, i - 1), b = mm_tok_len(t, i);
			char *w = h->wbuf;
			memcpy(w, mm_tok(t, i - 1), a);
			w[a] = ' ';
			memcpy(w + a + 1, mm_tok(t, i), b);
			mm_hashenc_row(h, mm_hash64(w, a + 1 + b, h->salt_bigram) % h->p.buckets, h->row);
			for (uint32_t j = 0; j < d; j++)
				v[j] = 0.5f * (v[j] + h->row[j]);
		}
		for (uint32_t j = 0; j < d; j++)
			acc[j] += v[j];
		if (tok_out && i < max_tok)
			memcpy(tok_out + i * d, v, d * sizeof *v);
	}
	for (uint32_t j = 0; j < d; j++)
		pooled[j] = t->n ? (float)(acc[j] / (double)t->n) : 0.0f;
	if (l2)
		mm_l2_normalize(pooled, d);
}

/* ======================================================================
 * GloVe table
 * ====================================================================== */

#define GLOVE_MAGIC "MMGLOVE"
#define GLOVE_HDR 128
#define GLOVE_SEED 0x676c6f7665ULL

struct mm_glove {
	void *map;
	size_t size;
	uint32_t dim;
	uint64_t nwords, nslots, seed;
	const uint32_t *woff;
	const char *pool;
	const uint32_t *slots;
	const float *vec;
	double zipf_h;   /* ln(nwords) + Euler's gamma: the Zipf normaliser */
};

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool little_endian(void)
{
	uint32_t x = 1;
	return *(uint8_t *)&x == 1;
}

/* Does [off, off + n*size) fit in a file of `total` bytes? */
static bool in_file(uint64_t off, uint64_t n, uint64_t size, uint64_t total)
{
	if (off > total || (size && n > (total - off) / size))
		return false;
	return true;
}

mm_status mm_glove_open(mm_glove **out, const char *path, mm_err *e)
{
	if (!little_endian())
		return mm_errf(e, MM_EUSAGE, "%s: GloVe tables need a little-endian host", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mm_errf(e, MM_EIO, "%s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return mm_errf(e, MM_EIO, "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size < GLOVE_HDR) {
		close(fd);
		return mm_errf(e, MM_ECORRUPT, "%s: not a GloVe table (too short or not a file)", path);
	}
	size_t size = (size_t)sb.st_size;
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return mm_errf(e, MM_EIO, "%s: mmap: %s", path, strerror(errno));
	const uint8_t *h = map;
	mm_glove g = { .map = map, .size = size };
	const char *bad = NULL;
	uint64_t o_woff = rd64(h + 40), o_pool = rd64(h + 48), poolsz = rd64(h + 56);
	uint64_t o_slots = rd64(h + 64), o_vec = rd64(h + 72), fsize = rd64(h + 80);
	g.dim = rd32(h + 12);
	g.nwords = rd64(h + 16);
	g.nslots = rd64(h + 24);
	g.seed = rd64(h + 32);
	if (memcmp(h, GLOVE_MAGIC, 8) != 0)
		bad = "bad magic (not a GloVe table made by mmoe-glove-table)";
	else if (rd32(h + 8) != 1)
		bad = "unsupported version";
	else if (fsize != size)
		bad = "file size does not match its header (truncated?)";
	else if (g.dim < 1 || g.dim > 4096)
		bad = "dimension out of range";
	else if (g.nwords < 1 || g.nwords >= ((uint64_t)1 << 31))
		bad = "word count out of range";
	else if (g.nslots < 2 * g.nwords || (g.nslots & (g.nslots - 1)) || g.nslots > ((uint64_t)1 << 33))
		bad = "bad hash index size";
	else if (o_woff % 4 || o_slots % 4 || o_vec % 64 || !in_file(o_woff, g.nwords + 1, 4, size)
			|| !in_file(o_pool, poolsz, 1, size) || !in_file(o_slots, g.nslots, 4, size)
			|| !in_file(o_vec, g.nwords, (uint64_t)g.dim * 4, size))
		bad = "section outside the file";
	if (!bad) {
		g.woff = (const uint32_t *)(h + o_woff);
		g.pool = (const char *)(h + o_pool);
		g.slots = (const uint32_t *)(h + o_slots);
		g.vec = (const float *)(h + o_vec);
		/* Offsets must be increasing, NUL-terminated words inside the pool. */
		if (g.woff[0] != 0 || g.woff[g.nwords] != poolsz)
			bad = "bad word offsets";
		for (uint64_t i = 0; !bad && i < g.nwords; i++)
			if (g.woff[i + 1] <= g.woff[i] + 1 || g.pool[g.woff[i + 1] - 1] != 0)
				bad = "bad word offsets";
		uint64_t used = 0;
		for (uint64_t i = 0; !bad && i < g.nslots; i++) {
			if (g.slots[i] > g.nwords)
				bad = "bad hash index entry";
			used += g.slots[i] != 0;
		}
		if (!bad && used != g.nwords)
			bad = "hash index does not hold every word";
	}
	if (bad) {
		munmap(map, size);
		return mm_errf(e, MM_ECORRUPT, "%s: %s", path, bad);
	}
	mm_glove *p = malloc(sizeof *p);
	if (!p) {
		munmap(map, size);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	g.zipf_h = log((double)g.nwords) + 0.5772156649;
	*p = g;
	*out = p;
	return MM_OK;
}

void mm_glove_close(mm_glove *g)
{
	if (!g)
		return;
	munmap(g->map, g->size);
	free(g);
}

uint32_t mm_glove_dim(const mm_glove *g) { return g->dim; }
uint64_t mm_glove_size(const mm_glove *g) { return g->nwords; }

int64_t mm_glove_find(const mm_glove *g, const char *w, size_t len)
{
	uint64_t mask = g->nslots - 1, s = mm_hash64(w, len, g->seed) & mask;
	for (uint64_t probe = 0; probe < g->nslots; probe++, s = (s + 1) & mask) {
		uint32_t v = g->slots[s];
		if (v == 0)
			return -1;
		uint64_t i = v - 1;
		if (g->woff[i + 1] - g->woff[i] - 1 == len && memcmp(g->pool + g->woff[i], w, len) == 0)
			return (int64_t)i;
	}
	return -1;
}

const float *mm_glove_vec(const mm_glove *g, uint64_t i)
{
	return g->vec + i * g->dim;
}

const char *mm_glove_word(const mm_glove *g, uint64_t i, size_t *len)
{
	if (len)
		*len = g->woff[i + 1] - g->woff[i] - 1;
	return g->pool + g->woff[i];
}

/* ---- builder ---- */
struct mm_glove_builder {
	uint32_t dim;
	char *pool;
	size_t plen, pcap;
	uint32_t *woff;   /* n + 1 */
	float *vec;
	uint64_t n, cap, dups;
	uint32_t *set;    /* dedup hash set: word index + 1 */
	uint64_t nset;
};

mm_status mm_glove_builder_new(mm_glove_builder **out, uint32_t dim, mm_err *e)
{
	if (dim < 1 || dim > 4096)
		return mm_errf(e, MM_EVALUE, "dimension %u out of range [1, 4096]", dim);
	mm_glove_builder *b = calloc(1, sizeof *b);
	if (!b)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	b->dim = dim;
	b->nset = 1024;
	b->set = calloc(b->nset, sizeof *b->set);
	b->woff = malloc(sizeof *b->woff);
	if (!b->set || !b->woff) {
		mm_glove_builder_free(b);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	b->woff[0] = 0;
	*out = b;
	return MM_OK;
}

void mm_glove_builder_free(mm_glove_builder *b)
{
	if (!b)
		return;
	free(b->pool);
	free(b->woff);
	free(b->vec);
	free(b->set);
	free(b);
}

uint64_t mm_glove_builder_count(const mm_glove_builder *b) { return b->n; }
uint32_t mm_glove_builder_dim(const mm_glove_builder *b) { return b->dim; }
uint64_t mm_glove_builder_dups(const mm_glove_builder *b) { return b->dups; }

static void set_insert(uint32_t *set, uint64_t nset, const mm_glove_builder *b, uint64_t i, uint64_t seed)
{
	size_t len = b->woff[i + 1] - b->woff[i] - 1;
	uint64_t s = mm_hash64(b->pool + b->woff[i], len, seed) & (nset - 1);
	while (set[s])
		s = (s + 1) & (nset - 1);
	set[s] = (uint32_t)(i + 1);
}

mm_status mm_glove_builder_add(mm_glove_builder *b, const char *w, size_t len, const float *vec, mm_err *e)
{
	if (len == 0)
		return mm_errf(e, MM_EVALUE, "word %llu: empty word", (unsigned long long)b->n + 1);
	if (memchr(w, 0, len))
		return mm_errf(e, MM_EVALUE, "word %llu: contains a NUL byte", (unsigned long long)b->n + 1);
	for (uint32_t j = 0; j < b->dim; j++)
		if (!isfinite(vec[j]))
			return mm_errf(e, MM_EVALUE, "word \"%.*s\": component %u is not finite",
					(int)(len > 64 ? 64 : len), w, j);
	if (b->n >= ((uint64_t)1 << 31) - 1 || b->plen + len + 1 > UINT32_MAX)
		return mm_errf(e, MM_ELIMIT, "too many words for a GloVe table");
	/* Duplicate? */
	uint64_t mask = b->nset - 1, s = mm_hash64(w, len, GLOVE_SEED) & mask;
	for (; b->set[s]; s = (s + 1) & mask) {
		uint64_t i = b->set[s] - 1;
		if (b->woff[i + 1] - b->woff[i] - 1 == len && memcmp(b->pool + b->woff[i], w, len) == 0) {
			b->dups++;
			return MM_OK;
		}
	}
	if (b->n + 1 > b->cap) {
		uint64_t cap = b->cap ? b->cap * 2 : 1024;
		float *v = realloc(b->vec, cap * b->dim * sizeof *v);
		uint32_t *o = v ? realloc(b->woff, (cap + 1) * sizeof *o) : NULL;
		if (v)
			b->vec = v;
		if (!o)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		b->woff = o;
		b->cap = cap;
	}
	if (b->plen + len + 1 > b->pcap) {
		size_t cap = b->pcap ? b->pcap * 2 : 65536;
		while (cap < b->plen + len + 1)
			cap *= 2;
		char *p = realloc(b->pool, cap);
		if (!p)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		b->pool = p;
		b->pcap = cap;
	}
	memcpy(b->pool + b->plen, w, len);
	b->pool[b->plen + len] = 0;
	b->plen += len + 1;
	memcpy(b->vec + b->n * b->dim, vec, b->dim * sizeof *vec);
	b->n++;
	b->woff[b->n] = (uint32_t)b->plen;
	set_insert(b->set, b->nset, b, b->n - 1, GLOVE_SEED);
	if (b->n * 2 > b->nset) { /* grow the set: keep load <= 1/2 */
		uint64_t nset = b->nset * 2;
		uint32_t *set = calloc(nset, sizeof *set);
		if (!set)
			return mm_errf(e, MM_ENOMEM, "out of memory");
		for (uint64_t i = 0; i < b->n; i++)
			set_insert(set, nset, b, i, GLOVE_SEED);
		free(b->set);
		b->set = set;
		b->nset = nset;
	}
	return MM_OK;
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static bool write_pad(FILE *f, uint64_t *pos, uint64_t to)
{
	static const char zero[64];
	while (*pos < to) {
		size_t k = to - *pos > 64 ? 64 : (size_t)(to - *pos);
		if (fwrite(zero, 1, k, f) != k)
			return false;
		*pos += k;
	}
	return true;
}

mm_status mm_glove_builder_write(mm_glove_builder *b, const char *path, mm_err *e)
{
	if (!little_endian())
		return mm_errf(e, MM_EUSAGE, "GloVe tables need a little-endian host");
	if (b->n == 0)
		return mm_errf(e, MM_EVALUE, "no words: refusing to write an empty table");
	uint64_t nslots = 16;
	while (nslots < 2 * b->n)
		nslots *= 2;
	uint32_t *slots = calloc(nslots, sizeof *slots);
	if (!slots)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < b->n; i++)
		set_insert(slots, nslots, b, i, GLOVE_SEED);
	uint64_t o_woff = GLOVE_HDR;
	uint64_t o_pool = o_woff + (b->n + 1) * 4;
	uint64_t o_slots = align_up(o_pool + b->plen, 8);
	uint64_t o_vec = align_up(o_slots + nslots * 4, 64);
	uint64_t fsize = o_vec + b->n * b->dim * 4;
	uint8_t h[GLOVE_HDR] = { 0 };
	memcpy(h, GLOVE_MAGIC, 8);
	h[8] = 1;
	h[12] = (uint8_t)b->dim;
	h[13] = (uint8_t)(b->dim >> 8);
	wr64(h + 16, b->n);
	wr64(h + 24, nslots);
	wr64(h + 32, GLOVE_SEED);
	wr64(h + 40, o_woff);
	wr64(h + 48, o_pool);
	wr64(h + 56, b->plen);
	wr64(h + 64, o_slots);
	wr64(h + 72, o_vec);
	wr64(h + 80, fsize);
	mm_atomic a;
	mm_status st = mm_atomic_open(&a, path, e);
	if (st != MM_OK) {
		free(slots);
		return st;
	}
	uint64_t pos = 0;
	bool ok = fwrite(h, 1, GLOVE_HDR, a.f) == GLOVE_HDR;
	pos = GLOVE_HDR;
	ok = ok && fwrite(b->woff, 4, b->n + 1, a.f) == b->n + 1;
	pos += (b->n + 1) * 4;
	ok = ok && fwrite(b->pool, 1, b->plen, a.f) == b->plen;
	pos += b->plen;
	ok = ok && write_pad(a.f, &pos, o_slots);
	ok = ok && fwrite(slots, 4, nslots, a.f) == nslots;
	pos += nslots * 4;
	ok = ok && write_pad(a.f, &pos, o_vec);
	ok = ok && fwrite(b->vec, 4, b->n * b->dim, a.f) == b->n * b->dim;
	free(slots);
	if (!ok) {
		mm_atomic_abort(&a);
		return mm_errf(e, MM_EIO, "%s: write error: %s", path, strerror(errno));
	}
	return mm_atomic_commit(&a, e);
}

/* ---- GloVe encoder ---- */

static int add_part(const mm_glove *g, const char *w, size_t len, float *vec, int64_t *idx, int k)
{
	if (len == 0 || k >= 4)
		return k;
	int64_t i = mm_glove_find(g, w, len);
	if (i < 0)
		return k;
	if (vec) {
		const float *v = mm_glove_vec(g, (uint64_t)i);
		for (uint32_t j = 0; j < g->dim; j++)
			vec[j] += v[j];
	}
	idx[k] = i;
	return k + 1;
}

int mm_glove_lookup(const mm_glove *g, const char *tok, size_t len, float *vec,
		int64_t *idx_out, int *nidx)
{
	int64_t idx[4];
	int k = 0;
	if (vec)
		memset(vec, 0, g->dim * sizeof *vec);
	k = add_part(g, tok, len, vec, idx, 0);
	if (k == 0 && len > 1 && (tok[0] == '#' || tok[0] == '@'))
		k = add_part(g, tok + 1, len - 1, vec, idx, 0);
	if (k == 0 && (memchr(tok, '\'', len) || memchr(tok, '-', len))) {
		/* Penn-style clitics ("do" "n't", "it" "'s") and hyphenated parts. */
		size_t a = 0, end = len;
		if (len > 3 && memcmp(tok + len - 3, "n't", 3) == 0)
			end = len - 3;
		while (a < end) {
			size_t b = a + 1;
			while (b < end && tok[b] != '\'' && tok[b] != '-')
				b++;
			size_t s = tok[a] == '-' ? a + 1 : a;
			k = add_part(g, tok + s, b - s, vec, idx, k);
			a = b;
		}
		if (end < len)
			k = add_part(g, tok + end, 3, vec, idx, k);
	}
	if (vec && k > 1)
		for (uint32_t j = 0; j < g->dim; j++)
			vec[j] /= (float)k;
	if (idx_out)
		memcpy(idx_out, idx, (size_t)k * sizeof *idx);
	if (nidx)
		*nidx = k;
	return k;
}

static float zipf_weight(const mm_glove *g, int64_t r)
{
	const double a = 1e-3;
	double p = 1.0 / ((double)(r + 1) * g->zipf_h);
	return (float)(a / (a + p));
}

void mm_glove_encode(const mm_glove *g, const mm_tokens *t, mm_glove_weight mode,
		const float *idf, float *tok_out, size_t max_tok, float *pooled, bool l2,
		mm_glove_stats *st)
{
	uint32_t d = g->dim;
	float v[d];
	double acc[d], wsum = 0;
	memset(acc, 0, sizeof acc);
	uint64_t known = 0;
	for (size_t i = 0; i < t->n; i++) {
		int64_t idx[4];
		int k = mm_glove_lookup(g, mm_tok(t, i), mm_tok_len(t, i), v, idx, NULL);
		if (tok_out && i < max_tok)
			memcpy(tok_out + i * d, v, d * sizeof *v);
		if (k == 0) {
			st->oov++;
			continue;
		}
		known++;
		double w = 0;
		for (int q = 0; q < k; q++)
			w += mode == MM_GLOVE_ZIPF ? zipf_weight(g, idx[q])
				: mode == MM_GLOVE_IDF ? idf[idx[q]] : 1.0;
		w /= k;
		wsum += w;
		for (uint32_t j = 0; j < d; j++)
			acc[j] += w * v[j];
	}
	for (uint32_t j = 0; j < d; j++)
		pooled[j] = wsum > 0 ? (float)(acc[j] / wsum) : 0.0f;
	if (l2)
		mm_l2_normalize(pooled, d);
	st->records++;
	st->tokens += t->n;
	st->empty += known == 0;
}

mm_status mm_glove_df_init(mm_glove_df *d, const mm_glove *g, mm_err *e)
{
	d->ndocs = 0;
	d->df = calloc(g->nwords, sizeof *d->df);
	d->last = calloc(g->nwords, sizeof *d->last);
	if (!d->df || !d->last) {
		mm_glove_df_free(d);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	return MM_OK;
}

void mm_glove_df_add(mm_glove_df *d, const mm_glove *g, const mm_tokens *t)
{
	d->ndocs++;
	uint32_t doc = (uint32_t)d->ndocs;
	for (size_t i = 0; i < t->n; i++) {
		int64_t idx[4];
		int k = mm_glove_lookup(g, mm_tok(t, i), mm_tok_len(t, i), NULL, idx, NULL);
		for (int q = 0; q < k; q++)
			if (d->last[idx[q]] != doc) {
				d->last[idx[q]] = doc;
				d->df[idx[q]]++;
			}
	}
}

void mm_glove_df_idf(const mm_glove_df *d, const mm_glove *g, float *idf)
{
	double n1 = 1.0 + (double)d->ndocs;
	for (uint64_t i = 0; i < g->nwords; i++)
		idf[i] = (float)(log(n1 / (1.0 + d->df[i])) + 1.0);
}

void mm_glove_df_free(mm_glove_df *d)
{
	free(d->df);
	free(d->last);
	d->df = d->last = NULL;
}
