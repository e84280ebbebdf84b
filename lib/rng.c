#include "rng.h"

#include <assert.h>
#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void mm_rng_seed(mm_rng *g, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
}

mm_rng mm_rng_split(const mm_rng *g, uint64_t stream)
{
	mm_rng c;
	uint64_t x = g->s[0] ^ rotl(g->s[1], 17) ^ rotl(g->s[2], 31) ^ rotl(g->s[3], 47);
	x ^= stream * 0xd1b54a32d192ed03ULL;
	for (int i = 0; i < 4; i++)
		c.s[i] = splitmix64(&x);
	return c;
}

uint64_t mm_rng_u64(mm_rng *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double mm_rng_uniform(mm_rng *g)
{
	return (double)(mm_rng_u64(g) >> 11) * 0x1.0p-53;
}

uint64_t mm_rng_below(mm_rng *g, uint64_t n)
{
	/* Rejection sampling on the top of the range: unbiased for every n. */
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = mm_rng_u64(g);
	while (x >= lim);
	return x % n;
}

double mm_rng_normal(mm_rng *g)
{
	double u1 = mm_rng_uniform(g), u2 = mm_rng_uniform(g);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void mm_rng_shuffle(mm_rng *g, void *base, size_t n, size_t size)
{
	unsigned char *b = base, tmp[256];
	if (n < 2)
		return;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)mm_rng_below(g, (uint64_t)i + 1);
		if (j == i)
			continue;
		for (size_t off = 0; off < size; off += sizeof tmp) {
			size_t m = size - off < sizeof tmp ? size - off : sizeof tmp;
			memcpy(tmp, b + i * size + off, m);
			memcpy(b + i * size + off, b + j * size + off, m);
			memcpy(b + j * size + off, tmp, m);
		}
	}
}

/* FNV-1a 64 from state h (the offset basis for the standard hash) */
static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < len; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV1A64_BASIS 0xcbf29ce484222325ULL

uint64_t mm_hash64(const void *p, size_t len, uint64_t seed)
{
	uint64_t h = fnv1a(FNV1A64_BASIS ^ seed, p, len);
	return splitmix64(&h);
}

uint64_t mm_fnv1a64(const void *p, size_t len)
{
	return fnv1a(FNV1A64_BASIS, p, len);
}

double mm_id_place(const void *id, size_t len, uint64_t seed)
{
	return (double)(mm_hash64(id, len, seed) >> 11) * 0x1.0p-53;
}

uint64_t mm_shard_of(const void *id, size_t len, uint64_t nshards)
{
	assert(nshards > 0);
	return mm_fnv1a64(id, len) % nshards;
}
