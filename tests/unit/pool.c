/* pool.c — mm_parallel_for, the standing team and mm_map: every index once,
 * input order kept under random per-item delays, the lowest failing item's
 * error for any thread count, dropped items released, 1 and N threads equal;
 * a team's jobs back to back and after it slept, nested and from two
 * threads at once. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "tap.h"

/* a pseudo-random delay of up to ~200 us, a function of the index only */
static void jitter(uint64_t idx)
{
	uint64_t h = (idx + 1) * 0x9E3779B97F4A7C15ull;
	h ^= h >> 29;
	struct timespec ts = { 0, (long)(h % 200) * 1000 };
	nanosleep(&ts, NULL);
}

/* ---- parallel for ---- */
typedef struct forctx {
	int *hits;
	size_t fail_at;   /* SIZE_MAX: none */
	int maxworker;
	int nthreads;
	int badworker;
} forctx;

static mm_status for_fn(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	forctx *c = ctx;
	if (worker < 0 || worker >= c->nthreads)
		c->badworker = 1;
	for (size_t i = lo; i < hi; i++) {
		jitter(i);
		if (i == c->fail_at)
			return mm_errf(e, MM_EVALUE, "item %zu failed", i);
		__atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
	}
	return MM_OK;
}

/* ---- the team ---- */

/* A nested loop from inside a job: the team is busy, so it runs on threads
 * of its own, and must still cover its range. */
typedef struct nestctx {
	mm_team *t;
	int *hits;
	int bad;
} nestctx;

static mm_status nest_fn(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)worker;
	nestctx *c = ctx;
	for (size_t i = lo; i < hi; i++) {
		int inner[50] = { 0 };
		forctx f = { .hits = inner, .fail_at = SIZE_MAX, .nthreads = 2 };
		mm_status st = mm_team_for(c->t, 50, 5, 2, for_fn, &f, e);
		int once = 1;
		for (int k = 0; k < 50; k++)
			once &= inner[k] == 1;
		if (st != MM_OK || !once || f.badworker)
			__atomic_store_n(&c->bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
	}
	return MM_OK;
}

/* Many small jobs in a row on one team, as the kernels make them. */
typedef struct burst {
	mm_team *t;
	int jobs, bad;
} burst;

static mm_status count_fn(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)worker, (void)e;
	int *hits = ctx;
	for (size_t i = lo; i < hi; i++)
		__atomic_add_fetch(&hits[i], 1, __ATOMIC_RELAXED);
	return MM_OK;
}

static void *burst_run(void *arg)
{
	burst *b = arg;
	mm_err e;
	for (int j = 0; j < b->jobs; j++) {
		int hits[64] = { 0 };
		if (mm_team_for(b->t, 64, 4, 8, count_fn, hits, &e) != MM_OK)
			b->bad = 1;
		for (int i = 0; i < 64; i++)
			if (hits[i] != 1)
				b->bad = 1;
		if (j % 100 == 99) { /* long enough for the workers to go to sleep */
			struct timespec ts = { 0, 3000000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* Where each range starts: the cut of a job, to compare two runs of it. */
static mm_status start_fn(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)hi, (void)worker, (void)e;
	((unsigned char *)ctx)[lo] = 1;
	return MM_OK;
}

static void test_team(void)
{
	mm_err e;
	size_t n = 1000;
	int *hits = calloc(n, sizeof *hits);
	int sizes[] = { 1, 2, 3, 8 };
	for (size_t si = 0; si < 4; si++) {
		mm_team *t;
		ok(mm_team_new(&t, sizes[si], &e) == MM_OK && mm_team_size(t) == sizes[si],
				"team of %d: started", sizes[si]);
		for (int nt = 1; nt <= 8; nt *= 2) {
			memset(hits, 0, n * sizeof *hits);
			int cap = nt < sizes[si] ? nt : sizes[si];
			forctx c = { .hits = hits, .fail_at = SIZE_MAX, .nthreads = cap };
			mm_status st = mm_team_for(t, n, 7, nt, for_fn, &c, &e);
			int once = 1;
			for (size_t i = 0; i < n; i++)
				once &= hits[i] == 1;
			ok(st == MM_OK && once && !c.badworker,
					"team of %d, %d threads asked: every index once, worker < %d",
					sizes[si], nt, cap);
		}
		memset(hits, 0, n * sizeof *hits);
		forctx c = { .hits = hits, .fail_at = 345, .nthreads = sizes[si] };
		mm_status st = mm_team_for(t, n, 10, sizes[si], for_fn, &c, &e);
		int below = 1;
		for (size_t i = 0; i < 340; i++)
			below &= hits[i] == 1;
		ok(st == MM_EVALUE && strcmp(e.msg, "item 345 failed") == 0 && below,
				"team of %d: the lowest failure is reported, the ranges below it ran (%s)",
				sizes[si], e.msg);
		unsigned char cut_team[1000] = { 0 }, cut_for[1000] = { 0 };
		mm_status s1 = mm_team_for(t, n, 0, 8, start_fn, cut_team, &e);
		mm_status s2 = mm_parallel_for(n, 0, 8, start_fn, cut_for, &e);
		ok(s1 == MM_OK && s2 == MM_OK && memcmp(cut_team, cut_for, n) == 0 && cut_team[875],
				"team of %d, grain 0, 8 threads asked: the ranges of mm_parallel_for", sizes[si]);
		memset(hits, 0, 40 * sizeof *hits);
		nestctx nc = { .t = t, .hits = hits };
		st = mm_team_for(t, 40, 1, sizes[si], nest_fn, &nc, &e);
		int once = 1;
		for (size_t i = 0; i < 40; i++)
			once &= hits[i] == 1;
		ok(st == MM_OK && once && !nc.bad, "team of %d: loops nested in its jobs complete",
				sizes[si]);
		burst b[2] = { { t, 1000, 0 }, { t, 1000, 0 } };
		pthread_t th;
		int two = pthread_create(&th, NULL, burst_run, &b[1]) == 0;
		burst_run(&b[0]);
		if (two)
			pthread_join(th, NULL);
		ok(two && !b[0].bad && !b[1].bad,
				"team of %d: 2 x 1,000 jobs from two threads at once, with pauses: all complete",
				sizes[si]);
		mm_team_free(t);
	}
	ok(mm_team_for(NULL, 10, 1, 4, count_fn, hits, &e) == MM_OK, "no team: runs inline");
	free(hits);
}

/* ---- map ---- */
typedef struct item {
	uint64_t idx;
	uint64_t val;
	int *buf;        /* a slot buffer, allocated once, freed by fini */
	int live;        /* read and not yet written or dropped */
} item;

typedef struct mapctx {
	uint64_t n;
	uint64_t fail_work, fail_read, fail_write;   /* UINT64_MAX: none */
	uint64_t *out;
	uint64_t nout;
	int live, dropped, allocs, frees, wrongidx, workers_bad, nthreads;
} mapctx;

static mm_status m_read(void *ctx, void *it, uint64_t idx, mm_err *e)
{
	mapctx *c = ctx;
	item *x = it;
	if (idx == c->n)
		return MM_EOF;
	if (idx == c->fail_read)
		return mm_errf(e, MM_ECORRUPT, "record %llu: unreadable", (unsigned long long)idx);
	if (!x->buf) {
		x->buf = malloc(sizeof *x->buf);
		c->allocs++;
	}
	x->idx = idx;
	x->live = 1;
	c->live++;
	return MM_OK;
}

static mm_status m_work(void *ctx, void *it, uint64_t idx, int worker, mm_err *e)
{
	mapctx *c = ctx;
	item *x = it;
	if (worker < 0 || worker >= c->nthreads || x->idx != idx)
		c->workers_bad = 1;
	jitter(idx);
	if (idx == c->fail_work)
		return mm_errf(e, MM_EVALUE, "record %llu: bad value", (unsigned long long)idx);
	x->val = idx * idx + 7;
	*x->buf = (int)idx;
	return MM_OK;
}

static mm_status m_write(void *ctx, void *it, uint64_t idx, mm_err *e)
{
	mapctx *c = ctx;
	item *x = it;
	if (x->idx != idx || *x->buf != (int)idx)
		c->wrongidx++;
	x->live = 0;
	c->live--;
	if (idx == c->fail_write)
		return mm_errf(e, MM_EIO, "write failed at %llu", (unsigned long long)idx);
	c->out[c->nout++] = x->val;
	return MM_OK;
}

static void m_drop(void *ctx, void *it, uint64_t idx)
{
	mapctx *c = ctx;
	item *x = it;
	if (x->live && x->idx == idx) {
		x->live = 0;
		c->live--;
		c->dropped++;
	}
}

static void m_fini(void *ctx, void *it)
{
	mapctx *c = ctx;
	item *x = it;
	if (x->buf) {
		free(x->buf);
		c->frees++;
	}
}

static const mm_map_ops ops = { m_read, m_work, m_write, m_drop, m_fini };

static mm_status run_map(mapctx *c, int nthreads, size_t window, mm_err *e)
{
	c->nthreads = nthreads;
	c->nout = c->live = c->dropped = c->allocs = c->frees = c->wrongidx = c->workers_bad = 0;
	return mm_map(&ops, c, sizeof(item), window, nthreads, e);
}

int main(void)
{
	mm_err e;
	/* parallel for: every index exactly once, for several grains and threads */
	size_t n = 1000;
	int *hits = calloc(n, sizeof *hits);
	int threads[] = { 1, 2, 3, 8 };
	size_t grains[] = { 0, 1, 7, 1000, 5000 };
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t gi = 0; gi < 5; gi++) {
			memset(hits, 0, n * sizeof *hits);
			forctx c = { .hits = hits, .fail_at = SIZE_MAX, .nthreads = threads[ti] };
			mm_status st = mm_parallel_for(n, grains[gi], threads[ti], for_fn, &c, &e);
			int once = 1;
			for (size_t i = 0; i < n; i++)
				once &= hits[i] == 1;
			ok(st == MM_OK && once && !c.badworker,
				"parallel for: %d threads, grain %zu: every index once, worker in range",
				threads[ti], grains[gi]);
		}
	/* the lowest failing range's error whatever the thread count (grain 10):
	 * items 345 and 712 fail; 345's error comes back */
	for (size_t ti = 0; ti < 4; ti++) {
		memset(hits, 0, n * sizeof *hits);
		forctx c = { .hits = hits, .fail_at = 345, .nthreads = threads[ti] };
		mm_status st = mm_parallel_for(n, 10, threads[ti], for_fn, &c, &e);
		ok(st == MM_EVALUE && strcmp(e.msg, "item 345 failed") == 0,
			"parallel for: %d threads: the failure is reported (%s)", threads[ti], e.msg);
		int below = 1;
		for (size_t i = 0; i < 340; i++)
			below &= hits[i] == 1;
		ok(below, "parallel for: %d threads: every range below the failing one ran", threads[ti]);
	}
	ok(mm_parallel_for(0, 0, 4, for_fn, NULL, &e) == MM_OK, "parallel for: n = 0 calls nothing");
	free(hits);
	test_team();

	/* map: the output is the input order, for 1..8 threads and small windows */
	mapctx c = { .n = 2000, .fail_work = UINT64_MAX, .fail_read = UINT64_MAX, .fail_write = UINT64_MAX };
	c.out = calloc(c.n, sizeof *c.out);
	uint64_t *ref = calloc(c.n, sizeof *ref);
	for (uint64_t i = 0; i < c.n; i++)
		ref[i] = i * i + 7;
	size_t windows[] = { 0, 1, 3, 16 };
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t wi = 0; wi < 4; wi++) {
			mm_status st = run_map(&c, threads[ti], windows[wi], &e);
			ok(st == MM_OK && c.nout == c.n && memcmp(c.out, ref, c.n * sizeof *ref) == 0
				&& !c.wrongidx && !c.workers_bad && c.live == 0 && c.allocs == c.frees,
				"map: %d threads, window %zu: %llu items in input order, slots freed",
				threads[ti], windows[wi], (unsigned long long)c.nout);
		}
	/* an empty stream */
	c.n = 0;
	ok(run_map(&c, 3, 4, &e) == MM_OK && c.nout == 0, "map: an empty stream");
	c.n = 2000;

	/* a failing work: the items before it are written, its error returns,
	 * the rest are dropped; same for every thread count */
	c.fail_work = 777;
	for (size_t ti = 0; ti < 4; ti++) {
		mm_status st = run_map(&c, threads[ti], 8, &e);
		ok(st == MM_EVALUE && strcmp(e.msg, "record 777: bad value") == 0 && c.nout == 777
			&& memcmp(c.out, ref, 777 * sizeof *ref) == 0 && c.live == 0 && c.allocs == c.frees,
			"map: %d threads: work failure at 777: 777 written, error named, the rest dropped (%d)",
			threads[ti], c.dropped);
	}
	/* a read error after a work error: the work error (lower index) wins */
	c.fail_read = 900;
	for (size_t ti = 0; ti < 4; ti++) {
		mm_status st = run_map(&c, threads[ti], 1000, &e);
		ok(st == MM_EVALUE && c.nout == 777 && c.live == 0,
			"map: %d threads: work failure at 777 before a read failure at 900", threads[ti]);
	}
	c.fail_work = UINT64_MAX;
	for (size_t ti = 0; ti < 4; ti++) {
		mm_status st = run_map(&c, threads[ti], 5, &e);
		ok(st == MM_ECORRUPT && strcmp(e.msg, "record 900: unreadable") == 0 && c.nout == 900
			&& memcmp(c.out, ref, 900 * sizeof *ref) == 0 && c.live == 0,
			"map: %d threads: read failure at 900: 900 written, then the error", threads[ti]);
	}
	c.fail_read = UINT64_MAX;
	c.fail_write = 1500;
	for (size_t ti = 0; ti < 4; ti++) {
		mm_status st = run_map(&c, threads[ti], 7, &e);
		ok(st == MM_EIO && c.nout == 1500 && c.live == 0 && c.allocs == c.frees,
			"map: %d threads: write failure at 1500 stops the map, the rest dropped", threads[ti]);
	}
	mm_map_ops bad = { 0 };
	ok(mm_map(&bad, &c, 8, 0, 2, &e) == MM_EUSAGE, "map: missing callbacks are a usage error");
	free(c.out);
	free(ref);
	return tap_done();
}
