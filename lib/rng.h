/* rng.h — the one pseudo-random generator of mmoe, passed explicitly.
 *
 * xoshiro256** seeded through splitmix64.  Every random choice in mmoe comes
 * from an mm_rng that a tool seeds from its --seed option, so the same seed
 * (and thread count) gives byte-identical outputs.  Never use rand().
 * mm_rng_split() derives an independent stream (for a fold, a thread, an
 * encoder) without disturbing the parent's sequence.
 */
#ifndef MM_RNG_H
#define MM_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct mm_rng {
	uint64_t s[4];
} mm_rng;

void mm_rng_seed(mm_rng *g, uint64_t seed);
/* A child generator for purpose `stream` (same parent + stream = same child). */
mm_rng mm_rng_split(const mm_rng *g, uint64_t stream);
uint64_t mm_rng_u64(mm_rng *g);
/* Uniform in [0, 1) with 53 random bits. */
double mm_rng_uniform(mm_rng *g);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t mm_rng_below(mm_rng *g, uint64_t n);
/* Standard normal (Box–Muller, no cached state: deterministic per call). */
double mm_rng_normal(mm_rng *g);
/* Fisher–Yates shuffle of n elements of the given size. */
void mm_rng_shuffle(mm_rng *g, void *base, size_t n, size_t size);
/* A stable 64-bit hash of bytes (FNV-1a then a splitmix finaliser): for
 * hashing n-grams, ids and data fingerprints.  Same on every platform. */
uint64_t mm_hash64(const void *p, size_t len, uint64_t seed);
/* Plain FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) of
 * the bytes, without a finaliser: the hash other programs reproduce in a few
 * lines, used to split a stream into shards. */
uint64_t mm_fnv1a64(const void *p, size_t len);
/* The shard (0 .. nshards-1) of a record whose id has these bytes:
 * mm_fnv1a64(id) mod nshards, as documented in mmoe-cat(1) --shard.  nshards > 0. */
uint64_t mm_shard_of(const void *id, size_t len, uint64_t nshards);
/* A seeded place in [0, 1) for a record whose id has these bytes: the top
 * 53 bits of mm_hash64(id, len, seed) times 2^-53.  Ids fall uniformly and
 * independently of their order, so "place < share" holds out about that share
 * of any set of ids, and the intervals [f/k, (f+1)/k) cut them into k folds
 * (mmoe-rus-split(1) --heldout, --heldout-fold). */
double mm_id_place(const void *id, size_t len, uint64_t seed);

#endif
