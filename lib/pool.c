/* pool.c — parallel for and ordered parallel map; the contract is in pool.h. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int clamp_threads(int nthreads, size_t njobs)
{
	if (nthreads > MM_POOL_MAX_THREADS)
		nthreads = MM_POOL_MAX_THREADS;
	if ((size_t)nthreads > njobs)
		nthreads = (int)njobs;
	return nthreads < 1 ? 1 : nthreads;
}

/* ---- parallel for -------------------------------------------------------- */

typedef struct pfor {
	mm_for_fn fn;
	void *ctx;
	size_t n, grain, nranges, next;
	bool failed;
	size_t fail_range;   /* lowest failing range so far */
	mm_status st;
	mm_err err;
	pthread_mutex_t mu;
} pfor;

typedef struct pfor_arg {
	pfor *p;
	int worker;
	pthread_t th;
} pfor_arg;

static void *pfor_run(void *arg)
{
	pfor_arg *a = arg;
	pfor *p = a->p;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (p->failed || p->next >= p->nranges) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		size_t r = p->next++;
		pthread_mutex_unlock(&p->mu);
		size_t lo = r * p->grain, hi = lo + p->grain < p->n ? lo + p->grain : p->n;
		mm_err le;
		mm_status st = p->fn(p->ctx, lo, hi, a->worker, &le);
		if (st != MM_OK) {
			pthread_mutex_lock(&p->mu);
			if (!p->failed || r < p->fail_range) {
				p->failed = true;
				p->fail_range = r;
				p->st = st;
				p->err = le;
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

/* The job of a parallel for, and its thread count (nthreads clamped to the
 * pool's maximum and to the number of ranges). */
/* grain 0: one range per thread asked for (clamped to 1..the maximum). */
static size_t pfor_grain(size_t n, size_t grain, int nthreads)
{
	if (grain)
		return grain;
	int want = nthreads < 1 ? 1 : nthreads > MM_POOL_MAX_THREADS ? MM_POOL_MAX_THREADS : nthreads;
	return (n + (size_t)want - 1) / (size_t)want;
}

static int pfor_init(pfor *p, size_t n, size_t grain, int nthreads, mm_for_fn fn, void *ctx)
{
	grain = pfor_grain(n, grain, nthreads);
	*p = (pfor){ .fn = fn, .ctx = ctx, .n = n, .grain = grain,
		.nranges = (n + grain - 1) / grain };
	pthread_mutex_init(&p->mu, NULL);
	return clamp_threads(nthreads, p->nranges);
}

static mm_status pfor_finish(pfor *p, mm_err *e)
{
	pthread_mutex_destroy(&p->mu);
	if (p->failed) {
		if (e)
			*e = p->err;
		return p->st;
	}
	return MM_OK;
}

mm_status mm_parallel_for(size_t n, size_t grain, int nthreads,
		mm_for_fn fn, void *ctx, mm_err *e)
{
	if (!fn)
		return mm_errf(e, MM_EUSAGE, "parallel for: no function");
	if (n == 0)
		return MM_OK;
	pfor p;
	int nt = pfor_init(&p, n, grain, nthreads, fn, ctx);
	pfor_arg args[MM_POOL_MAX_THREADS];
	int started = 1;
	for (int t = 1; t < nt; t++) {
		args[t] = (pfor_arg){ .p = &p, .worker = t };
		if (pthread_create(&args[t].th, NULL, pfor_run, &args[t]) != 0)
			break;
		started++;
	}
	args[0] = (pfor_arg){ .p = &p, .worker = 0 };
	pfor_run(&args[0]);
	for (int t = 1; t < started; t++)
		pthread_join(args[t].th, NULL);
	return pfor_finish(&p, e);
}

/* ---- a standing team ----------------------------------------------------- */

/* Jobs are handed over through two atomics: the caller publishes the job and
 * bumps gen (release); a worker that sees the new gen (acquire) runs it and
 * counts pending down.  Both sides poll for a short while first (SPIN rounds
 * of the pause instruction: about 76 us on the x86 we measured, where a pause
 * takes some 40 cycles), because a sleep and wake through the condition
 * variables costs about 25 us per job; then they sleep, and every check that
 * precedes a sleep is made under mu, where the other side changes gen (or
 * signals pending's end), so no wake-up is lost. */
enum { SPIN = 4096 };

typedef struct team_arg {
	struct mm_team *t;
	int worker;
} team_arg;

struct mm_team {
	int size, started;       /* threads including the caller's; workers running */
	pthread_t th[MM_POOL_MAX_THREADS];
	team_arg arg[MM_POOL_MAX_THREADS];
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_done;
	_Atomic uint64_t gen;    /* job number */
	_Atomic int pending;     /* workers yet to finish the current job */
	_Atomic bool quit;
	int sleepers;            /* workers waiting on cv_job, under mu */
	pfor *job;               /* the current job, published by gen */
	int job_threads;         /* its thread count: workers >= it sit it out */
	pthread_mutex_t busy;    /* held by the caller running a job */
};

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void *team_run(void *arg)
{
	mm_team *t = ((team_arg *)arg)->t;
	int worker = ((team_arg *)arg)->worker;
	uint64_t seen = 0;
	for (;;) {
		uint64_t g = seen;
		for (int i = 0; i < SPIN && g == seen && !atomic_load(&t->quit); i++) {
			relax();
			g = atomic_load_explicit(&t->gen, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&t->mu);
			t->sleepers++;
			while (!atomic_load(&t->quit) && atomic_load(&t->gen) == seen)
				pthread_cond_wait(&t->cv_job, &t->mu);
			t->sleepers--;
			pthread_mutex_unlock(&t->mu);
		}
		if (atomic_load(&t->quit))
			break;
		seen = atomic_load_explicit(&t->gen, memory_order_acquire);
		if (worker < t->job_threads) {
			pfor_arg a = { .p = t->job, .worker = worker };
			pfor_run(&a);
		}
		if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&t->mu);
			pthread_cond_signal(&t->cv_done);
			pthread_mutex_unlock(&t->mu);
		}
	}
	return NULL;
}

mm_status mm_team_new(mm_team **out, int nthreads, mm_err *e)
{
	*out = NULL;
	mm_team *t = calloc(1, sizeof *t);
	if (!t)
		return mm_errf(e, MM_ENOMEM, "out of memory for a thread team");
	t->size = nthreads < 1 ? 1 : nthreads > MM_POOL_MAX_THREADS ? MM_POOL_MAX_THREADS : nthreads;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->busy, NULL);
	pthread_cond_init(&t->cv_job, NULL);
	pthread_cond_init(&t->cv_done, NULL);
	atomic_init(&t->gen, 0);
	atomic_init(&t->pending, 0);
	atomic_init(&t->quit, false);
	for (int w = 1; w < t->size; w++) {
		t->arg[w] = (team_arg){ t, w };
		if (pthread_create(&t->th[w], NULL, team_run, &t->arg[w]) != 0)
			break;
		t->started++;
	}
	t->size = 1 + t->started;
	*out = t;
	return MM_OK;
}

int mm_team_size(const mm_team *t)
{
	return t ? t->size : 1;
}

mm_status mm_team_for(mm_team *t, size_t n, size_t grain, int nthreads,
		mm_for_fn fn, void *ctx, mm_err *e)
{
	if (!fn)
		return mm_errf(e, MM_EUSAGE, "parallel for: no function");
	if (n == 0)
		return MM_OK;
	/* the ranges are cut for the caller's nthreads, as mm_parallel_for cuts
	 * them, before the team's size caps the threads that run them */
	grain = pfor_grain(n, grain, nthreads);
	if (!t || nthreads > t->size)
		nthreads = t ? t->size : 1;
	/* the team serves one job at a time: a second caller (another thread, or
	 * a nested loop inside a worker) starts threads of its own */
	if (nthreads <= 1 || !t || pthread_mutex_trylock(&t->busy) != 0)
		return mm_parallel_for(n, grain, nthreads, fn, ctx, e);
	pfor p;
	int nt = pfor_init(&p, n, grain, nthreads, fn, ctx);
	if (nt > 1) {
		t->job = &p;
		t->job_threads = nt;
		atomic_store(&t->pending, t->started);
		pthread_mutex_lock(&t->mu);
		atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
		if (t->sleepers)
			pthread_cond_broadcast(&t->cv_job);
		pthread_mutex_unlock(&t->mu);
	}
	pfor_arg a = { .p = &p, .worker = 0 };
	pfor_run(&a);
	if (nt > 1) {
		for (int i = 0; i < SPIN && atomic_load_explicit(&t->pending, memory_order_acquire); i++)
			relax();
		if (atomic_load_explicit(&t->pending, memory_order_acquire)) {
			pthread_mutex_lock(&t->mu);
			while (atomic_load(&t->pending))
				pthread_cond_wait(&t->cv_done, &t->mu);
			pthread_mutex_unlock(&t->mu);
		}
	}
	pthread_mutex_unlock(&t->busy);
	return pfor_finish(&p, e);
}

void mm_team_free(mm_team *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	atomic_store(&t->quit, true);
	pthread_cond_broadcast(&t->cv_job);
	pthread_mutex_unlock(&t->mu);
	for (int w = 1; w <= t->started; w++)
		pthread_join(t->th[w], NULL);
	pthread_cond_destroy(&t->cv_job);
	pthread_cond_destroy(&t->cv_done);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->busy);
	free(t);
}

/* ---- ordered map --------------------------------------------------------- */

enum { SLOT_EMPTY, SLOT_READY, SLOT_BUSY, SLOT_DONE };

typedef struct pmap {
	const mm_map_ops *ops;
	void *ctx;
	unsigned char *items;
	size_t item_size, window;
	unsigned char *state;   /* per slot, under mu */
	mm_status *wst;         /* per slot: work's status */
	mm_err *werr;           /* per slot: work's message */
	uint64_t nread;         /* items published to the workers */
	uint64_t next_work;     /* next item a worker takes */
	bool stop;              /* a work failed, or the map is ending */
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
} pmap;

typedef struct pmap_arg {
	pmap *m;
	int worker;
	pthread_t th;
} pmap_arg;

static void *slot_item(pmap *m, uint64_t idx)
{
	return m->items + (size_t)(idx % m->window) * m->item_size;
}

static void *pmap_run(void *arg)
{
	pmap_arg *a = arg;
	pmap *m = a->m;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->stop && m->next_work >= m->nread)
			pthread_cond_wait(&m->cv_work, &m->mu);
		if (m->stop)
			break;
		uint64_t idx = m->next_work++;
		size_t s = (size_t)(idx % m->window);
		m->state[s] = SLOT_BUSY;
		pthread_mutex_unlock(&m->mu);
		mm_status st = m->ops->work(m->ctx, slot_item(m, idx), idx, a->worker, &m->werr[s]);
		pthread_mutex_lock(&m->mu);
		m->wst[s] = st;
		m->state[s] = SLOT_DONE;
		if (st != MM_OK)
			m->stop = true; /* items below idx were all taken: they finish */
		pthread_cond_broadcast(&m->cv_done);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* One thread: read, work, write each item in turn. */
static mm_status map_inline(const mm_map_ops *ops, void *ctx, void *item, mm_err *e)
{
	for (uint64_t idx = 0;; idx++) {
		mm_status st = ops->read(ctx, item, idx, e);
		if (st == MM_EOF)
			return MM_OK;
		if (st != MM_OK)
			return st;
		if ((st = ops->work(ctx, item, idx, 0, e)) != MM_OK) {
			if (ops->drop)
				ops->drop(ctx, item, idx);
			return st;
		}
		if ((st = ops->write(ctx, item, idx, e)) != MM_OK)
			return st;
	}
}

mm_status mm_map(const mm_map_ops *ops, void *ctx, size_t item_size,
		size_t window, int nthreads, mm_err *e)
{
	if (!ops || !ops->read || !ops->work || !ops->write || item_size == 0)
		return mm_errf(e, MM_EUSAGE, "map: read, work and write functions and an item size are required");
	int nt = clamp_threads(nthreads, MM_POOL_MAX_THREADS);
	if (window == 0)
		window = 64 * (size_t)nt;
	pmap m = { .ops = ops, .ctx = ctx, .item_size = item_size, .window = nt > 1 ? window : 1 };
	m.items = calloc(m.window, item_size);
	m.state = calloc(m.window, sizeof *m.state);
	m.wst = calloc(m.window, sizeof *m.wst);
	m.werr = calloc(m.window, sizeof *m.werr);
	if (!m.items || !m.state || !m.wst || !m.werr) {
		free(m.items), free(m.state), free(m.wst), free(m.werr);
		return mm_errf(e, MM_ENOMEM, "map: out of memory for %zu items of %zu bytes", window, item_size);
	}
	mm_status st = MM_OK;
	pmap_arg args[MM_POOL_MAX_THREADS];
	int started = 0;
	if (nt > 1) {
		pthread_mutex_init(&m.mu, NULL);
		pthread_cond_init(&m.cv_work, NULL);
		pthread_cond_init(&m.cv_done, NULL);
		for (int t = 0; t < nt; t++) {
			args[t] = (pmap_arg){ .m = &m, .worker = t };
			if (pthread_create(&args[t].th, NULL, pmap_run, &args[t]) != 0)
				break;
			started++;
		}
	}
	if (started == 0) {
		st = map_inline(ops, ctx, m.items, e);
	} else {
		uint64_t nwritten = 0;
		bool reading = true;
		mm_status rst = MM_OK;
		mm_err rerr;
		for (;;) {
			/* read while the window has room */
			if (reading && m.nread - nwritten < m.window) {
				pthread_mutex_lock(&m.mu);
				bool stopped = m.stop;
				pthread_mutex_unlock(&m.mu);
				if (stopped) {
					reading = false;
					continue;
				}
				uint64_t idx = m.nread;
				mm_status r = ops->read(ctx, slot_item(&m, idx), idx, &rerr);
				if (r != MM_OK) {
					reading = false;
					rst = r == MM_EOF ? MM_OK : r;
					continue;
				}
				pthread_mutex_lock(&m.mu);
				m.state[idx % m.window] = SLOT_READY;
				m.nread++;
				pthread_cond_signal(&m.cv_work);
				bool front_done = m.state[nwritten % m.window] == SLOT_DONE;
				pthread_mutex_unlock(&m.mu);
				if (!front_done)
					continue;
			}
			if (nwritten == m.nread) {
				if (!reading)
					break;
				continue;
			}
			/* write the oldest item once it is done */
			size_t s = (size_t)(nwritten % m.window);
			pthread_mutex_lock(&m.mu);
			while (m.state[s] != SLOT_DONE)
				pthread_cond_wait(&m.cv_done, &m.mu);
			pthread_mutex_unlock(&m.mu);
			if (m.wst[s] != MM_OK) {
				st = m.wst[s];
				if (e)
					*e = m.werr[s];
				break;
			}
			st = ops->write(ctx, slot_item(&m, nwritten), nwritten, e);
			pthread_mutex_lock(&m.mu);
			m.state[s] = SLOT_EMPTY;
			pthread_mutex_unlock(&m.mu);
			nwritten++;
			if (st != MM_OK)
				break;
		}
		if (st == MM_OK && rst != MM_OK) {
			st = rst;
			if (e)
				*e = rerr;
		}
		pthread_mutex_lock(&m.mu);
		m.stop = true;
		pthread_cond_broadcast(&m.cv_work);
		pthread_mutex_unlock(&m.mu);
		for (int t = 0; t < started; t++)
			pthread_join(args[t].th, NULL);
		for (uint64_t idx = nwritten; idx < m.nread; idx++)
			if (ops->drop)
				ops->drop(ctx, slot_item(&m, idx), idx);
	}
	if (nt > 1) {
		pthread_mutex_destroy(&m.mu);
		pthread_cond_destroy(&m.cv_work);
		pthread_cond_destroy(&m.cv_done);
	}
	if (ops->fini)
		for (size_t s = 0; s < m.window; s++)
			ops->fini(ctx, m.items + s * item_size);
	free(m.items), free(m.state), free(m.wst), free(m.werr);
	return st;
}
