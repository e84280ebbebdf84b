/* tfidf.c — hashed TF-IDF features (tfidf.h). */
#include "tfidf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

void mm_tfidf_params_default(mm_tfidf_params *p)
{
	memset(p, 0, sizeof *p);
	p->bits = 20;
	p->words = 2;
	p->seed = 1;
}

const char *mm_tfidf_params_check(const mm_tfidf_params *p)
{
	if (p->bits < 1 || p->bits > MM_TFIDF_MAXBITS)
		return "tfidf buckets must be 2^1 .. 2^24";
	if (p->words < 1 || p->words > 3)
		return "tfidf word n-grams must be 1..3";
	if (p->chars_max && (p->chars_min < 1 || p->chars_min > p->chars_max || p->chars_max > 16))
		return "tfidf char n-grams must be MIN..MAX with 1 <= MIN <= MAX <= 16";
	return NULL;
}

void mm_tfidf_work_free(mm_tfidf_work *w)
{
	free(w->f);
	free(w->text);
	memset(w, 0, sizeof *w);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

/* Append the feature text s[0..len) hashed with seed. */
static bool push(mm_tfidf_work *w, const char *s, size_t len, uint64_t seed)
{
	if (!grow((void **)&w->f, &w->cap, w->n + 1, sizeof *w->f) ||
			!grow((void **)&w->text, &w->tcap, w->tlen + len, 1))
		return false;
	memcpy(w->text + w->tlen, s, len);
	w->f[w->n++] = (mm_tfidf_feat){.h = mm_hash64(s, len, seed), .count = 1,
		.start = (uint32_t)w->tlen, .len = (uint32_t)len};
	w->tlen += len;
	return true;
}

static int cmp_feat(const void *a, const void *b)
{
	const mm_tfidf_feat *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

mm_status mm_tfidf_features(const mm_tfidf_params *p, const mm_tokens *t, mm_tfidf_work *w,
		mm_err *e)
{
	w->n = 0;
	w->tlen = 0;
	char buf[3 * (MM_TOK_MAXBYTES + 1)];
	for (size_t i = 0; i < t->n; i++)
		for (size_t n = 1; n <= p->words && i + n <= t->n; n++) {
			size_t len = 0;
			for (size_t k = i; k < i + n; k++) {
				if (k > i)
					buf[len++] = ' ';
				memcpy(buf + len, mm_tok(t, k), mm_tok_len(t, k));
				len += mm_tok_len(t, k);
			}
			if (!push(w, buf, len, p->seed))
				goto oom;
		}
	for (size_t i = 0; p->chars_max && i < t->n; i++) {
		/* " tok ": code point starts in cs[] */
		size_t len = mm_tok_len(t, i), ncp = 0;
		uint32_t cs[MM_TOK_MAXBYTES + 3];
		buf[0] = ' ';
		memcpy(buf + 1, mm_tok(t, i), len);
		buf[len + 1] = ' ';
		len += 2;
		for (size_t b = 0; b < len; b++)
			if (((unsigned char)buf[b] & 0xC0) != 0x80)
				cs[ncp++] = (uint32_t)b;
		cs[ncp] = (uint32_t)len;
		for (size_t n = p->chars_min; n <= p->chars_max; n++) {
			if (n >= ncp) { /* as char_wb: a padded token not longer than n, once */
				if (!push(w, buf, len, p->seed + 1))
					goto oom;
				break;
			}
			for (size_t a = 0; a + n <= ncp; a++)
				if (!push(w, buf + cs[a], cs[a + n] - cs[a], p->seed + 1))
					goto oom;
		}
	}
	if (!w->n)
		return MM_OK;
	qsort(w->f, w->n, sizeof *w->f, cmp_feat);
	size_t m = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (m && w->f[m - 1].h == w->f[i].h)
			w->f[m - 1].count++;
		else
			w->f[m++] = w->f[i];
	}
	w->n = m;
	return MM_OK;
oom:
	return mm_errf(e, MM_ENOMEM, "out of memory (%zu features)", w->n);
}

/* ---- fit ---- */

static size_t slot_of(uint64_t key, size_t size)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 24) & (size - 1);
}

mm_status mm_tfidf_df_init(mm_tfidf_df *d, const mm_tfidf_params *p, mm_err *e)
{
	memset(d, 0, sizeof *d);
	d->p = *p;
	d->size = 1024;
	d->key = calloc(d->size, sizeof *d->key);
	d->df = calloc(d->size, sizeof *d->df);
	if (!d->key || !d->df) {
		mm_tfidf_df_free(d);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	return MM_OK;
}

static uint32_t *df_slot(mm_tfidf_df *d, uint64_t key)
{
	size_t s = slot_of(key, d->size);
	while (d->df[s] && d->key[s] != key)
		s = (s + 1) & (d->size - 1);
	d->key[s] = key;
	return &d->df[s];
}

static mm_status df_grow(mm_tfidf_df *d, mm_err *e)
{
	mm_tfidf_df n = *d;
	n.size = 2 * d->size;
	n.key = calloc(n.size, sizeof *n.key);
	n.df = calloc(n.size, sizeof *n.df);
	if (!n.key || !n.df) {
		free(n.key), free(n.df);
		return mm_errf(e, MM_ENOMEM, "out of memory (%zu features)", d->used);
	}
	for (size_t s = 0; s < d->size; s++)
		if (d->df[s])
			*df_slot(&n, d->key[s]) = d->df[s];
	free(d->key), free(d->df);
	*d = n;
	return MM_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

mm_status mm_tfidf_df_add(mm_tfidf_df *d, const mm_tfidf_work *w, mm_err *e)
{
	for (size_t i = 0; i < w->n; i++) { /* the features are distinct */
		if (2 * (d->used + 1) > d->size) {
			mm_status st = df_grow(d, e);
			if (st)
				return st;
		}
		uint32_t *c = df_slot(d, w->f[i].h);
		d->used += *c == 0;
		(*c)++;
	}
	d->ndocs++;
	return MM_OK;
}

mm_status mm_tfidf_df_write(const mm_tfidf_df *d, const char *path, mm_err *e)
{
	uint64_t *h = malloc((d->used ? d->used : 1) * sizeof *h);
	if (!h)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	size_t n = 0;
	for (size_t s = 0; s < d->size; s++)
		if (d->df[s])
			h[n++] = d->key[s];
	qsort(h, n, sizeof *h, cmp_u64);
	mm_atomic a;
	mm_status st = mm_atomic_open(&a, path, e);
	if (st) {
		free(h);
		return st;
	}
	fprintf(a.f, "mmoe-idf 1\nbits %u\nwords %u\nchars %u %u\nseed %llu\ndocs %llu\n",
		d->p.bits, d->p.words, d->p.chars_max ? d->p.chars_min : 0, d->p.chars_max,
		(unsigned long long)d->p.seed, (unsigned long long)d->ndocs);
	for (size_t i = 0; i < n; i++) {
		mm_tfidf_df *dd = (mm_tfidf_df *)d; /* the lookup does not change a present key */
		fprintf(a.f, "%llu %u\n", (unsigned long long)h[i], *df_slot(dd, h[i]));
	}
	free(h);
	return mm_atomic_commit(&a, e);
}

void mm_tfidf_df_free(mm_tfidf_df *d)
{
	free(d->key);
	free(d->df);
	memset(d, 0, sizeof *d);
}

/* ---- load ---- */

/* The next line of buf (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cur)
{
	char *s = *cur;
	if (!*s)
		return NULL;
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = 0;
		*cur = nl + 1;
	} else {
		*cur = s + strlen(s);
	}
	return s;
}

/* Unsigned decimal integers of line, exactly n of them, each <= max. */
static bool ints(const char *s, uint64_t *v, int n, uint64_t max)
{
	for (int k = 0; k < n; k++) {
		if (*s != ' ' && k)
			return false;
		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		uint64_t x = 0;
		while (*s >= '0' && *s <= '9') {
			if (x > (max - (uint64_t)(*s - '0')) / 10)
				return false;
			x = x * 10 + (uint64_t)(*s++ - '0');
		}
		v[k] = x;
	}
	return *s == 0;
}

mm_status mm_tfidf_load(mm_tfidf *t, const char *path, mm_err *e)
{
	memset(t, 0, sizeof *t);
	char *buf;
	size_t len;
	mm_status st = mm_read_file(path, 0, &buf, &len, e);
	if (st)
		return st;
	static const char *const head[] = {"bits", "words", "chars", "seed", "docs"};
	static const int nint[] = {1, 1, 2, 1, 1};
	uint64_t hv[6];
	char *cur = buf, *ln = next_line(&cur);
	size_t line = 1, cap = 0;
	if (!ln || strcmp(ln, "mmoe-idf 1")) {
		st = mm_errf(e, MM_ECORRUPT, "%s: line 1: not an IDF table (\"mmoe-idf 1\" expected; "
			"see mmoe-encode-text --fit-idf)", path);
		goto fail;
	}
	for (int k = 0, o = 0; k < 5; o += nint[k++]) {
		ln = next_line(&cur);
		line++;
		size_t hl = strlen(head[k]);
		if (!ln || strncmp(ln, head[k], hl) || !ints(ln + hl, hv + o, nint[k], UINT64_MAX)) {
			st = mm_errf(e, MM_ECORRUPT, "%s: line %zu: expected \"%s\" and %d integer%s", path,
				line, head[k], nint[k], nint[k] > 1 ? "s" : "");
			goto fail;
		}
	}
	t->p = (mm_tfidf_params){.bits = (uint32_t)(hv[0] > 99 ? 99 : hv[0]),
		.words = (uint32_t)(hv[1] > 99 ? 99 : hv[1]),
		.chars_min = (uint32_t)(hv[2] > 99 ? 99 : hv[2]),
		.chars_max = (uint32_t)(hv[3] > 99 ? 99 : hv[3]), .seed = hv[4]};
	t->ndocs = hv[5];
	const char *msg = mm_tfidf_params_check(&t->p);
	if (msg || !t->ndocs) {
		st = mm_errf(e, MM_ECORRUPT, "%s: %s", path, msg ? msg : "docs is 0");
		goto fail;
	}
	while ((ln = next_line(&cur))) {
		line++;
		uint64_t v[2];
		if (!ints(ln, v, 2, UINT64_MAX) || v[1] < 1 || v[1] > t->ndocs ||
				(t->m && v[0] <= t->hash[t->m - 1])) {
			st = mm_errf(e, MM_ECORRUPT, "%s: line %zu: expected \"HASH DF\" with hashes "
				"increasing and 1 <= DF <= %llu", path, line, (unsigned long long)t->ndocs);
			goto fail;
		}
		if (t->m == cap) {
			size_t c = cap ? 2 * cap : 1024;
			uint64_t *b = realloc(t->hash, c * sizeof *b);
			if (b)
				t->hash = b;
			float *f = b ? realloc(t->idf, c * sizeof *f) : NULL;
			if (!f) {
				st = mm_errf(e, MM_ENOMEM, "%s: out of memory", path);
				goto fail;
			}
			t->idf = f;
			cap = c;
		}
		t->hash[t->m] = v[0];
		t->idf[t->m++] = (float)(log((1.0 + (double)t->ndocs) / (1.0 + (double)v[1])) + 1.0);
	}
	free(buf);
	return MM_OK;
fail:
	free(buf);
	mm_tfidf_free(t);
	return st;
}

void mm_tfidf_free(mm_tfidf *t)
{
	free(t->hash);
	free(t->idf);
	memset(t, 0, sizeof *t);
}

static int64_t find(const mm_tfidf *t, uint64_t h)
{
	size_t lo = 0, hi = t->m;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->hash[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->m && t->hash[lo] == h ? (int64_t)lo : -1;
}

mm_status mm_tfidf_encode(const mm_tfidf *t, const mm_tokens *tok, bool l2, mm_tfidf_work *w,
		mm_sparse *out, mm_err *e)
{
	mm_status st = mm_tfidf_features(&t->p, tok, w, e);
	if (st)
		return st;
	out->dim = (uint64_t)1 << t->p.bits;
	out->nnz = 0;
	if ((st = mm_sparse_reserve(out, w->n, e)))
		return st;
	/* (bucket, value) pairs in a 64-bit key for one sort: bucket high, the
	 * value's position low; the values themselves in out->val. */
	uint64_t *key = malloc((w->n ? w->n : 1) * sizeof *key);
	float *val = malloc((w->n ? w->n : 1) * sizeof *val);
	if (!key || !val) {
		free(key), free(val);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++) {
		int64_t j = find(t, w->f[i].h);
		if (j < 0)
			continue;
		uint32_t b = mm_tfidf_bucket(&t->p, w->f[i].h);
		val[n] = (float)(mm_tfidf_sign(w->f[i].h) * (1.0 + log((double)w->f[i].count)) * t->idf[j]);
		key[n] = (uint64_t)b << 32 | n;
		n++;
	}
	qsort(key, n, sizeof *key, cmp_u64);
	for (size_t i = 0; i < n;) {
		uint32_t b = (uint32_t)(key[i] >> 32);
		double s = 0;
		for (; i < n && (uint32_t)(key[i] >> 32) == b; i++)
			s += val[(uint32_t)key[i]];
		if (s != 0) {
			out->idx[out->nnz] = b;
			out->val[out->nnz++] = (float)s;
		}
	}
	free(key), free(val);
	if (l2)
		mm_sparse_l2_normalize(out);
	return MM_OK;
}
