/* gemm.c — mm_sgemm: fixed panels of C, one single-threaded OpenBLAS call
 * each, spread over the library's threads.  See gemm.h. */
#include "gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "pool.h"

/* Panels cut the longer side of C only: a row panel packs its own copy of
 * op(B), a column panel its own copy of op(A), so a grid would copy both.
 * Each panel is at least MIN_ROWS rows or MIN_COLS columns wide: OpenBLAS
 * packs the operand the panels share once per panel, and below these widths
 * that copying (and OpenBLAS's blocking of narrow products) costs more than
 * the 2-thread gain (measured on the MLP bench's products).  The count is a
 * power of two (1, 2, 4, 8), so that 2 or 4 threads get equal shares. */
enum { MAX_PANELS = 8, MIN_ROWS = 128, MIN_COLS = 256, ROW_ALIGN = 16, COL_ALIGN = 64,
	MAX_THREADS = MM_POOL_MAX_THREADS };

static int nthreads = 1;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
/* The library's standing team of nthreads threads (pool.h), started by
 * mm_set_threads: products and kernels are too short to start threads per
 * call.  NULL on one thread, or in a child after fork (its threads are not
 * there: the child starts threads per call, through mm_parallel_for). */
static mm_team *team;

static void forget_team(void)
{
	team = NULL;
}

static void blas_one_thread(void)
{
	openblas_set_num_threads(1);
	pthread_atfork(NULL, NULL, forget_team);
}

void mm_set_threads(int n)
{
	pthread_once(&blas_once, blas_one_thread);
	if (n <= 0)
		return;
	nthreads = n < MAX_THREADS ? n : MAX_THREADS;
	if (team && mm_team_size(team) == nthreads)
		return;
	mm_team_free(team);
	team = NULL;
	mm_err e;
	if (nthreads > 1 && mm_team_new(&team, nthreads, &e) != MM_OK)
		team = NULL; /* then each call starts its own threads */
}

/* Set on a thread while it runs a piece of a library job: a product or
 * kernel called from inside one (attention's per-head products) runs its
 * fixed pieces inline, the same pieces, so the same bits, without starting
 * threads on cores that are already busy. */
static _Thread_local bool in_job;

typedef struct job_wrap {
	mm_for_fn fn;
	void *ctx;
} job_wrap;

static mm_status run_wrapped(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	const job_wrap *w = ctx;
	bool outer = in_job;
	in_job = true;
	mm_status st = w->fn(w->ctx, lo, hi, worker, e);
	in_job = outer;
	return st;
}

/* A parallel for on the team if there is one, else on threads of its own;
 * inline when called from inside a library job. */
static void run_for(size_t n, int nt, mm_for_fn fn, void *ctx)
{
	mm_err e; /* the callers' functions cannot fail */
	if (in_job) {
		fn(ctx, 0, n, 0, &e);
		return;
	}
	job_wrap w = { fn, ctx };
	if (team)
		mm_team_for(team, n, 1, nt, run_wrapped, &w, &e);
	else
		mm_parallel_for(n, 1, nt, run_wrapped, &w, &e);
}

int mm_threads(void)
{
	return nthreads;
}

static long ceil_div(long a, long b)
{
	return (a + b - 1) / b;
}

static long round_up(long a, long m)
{
	return ceil_div(a, m) * m;
}

void mm_sgemm_panels(int M, int N, int K, int *pm, int *pn)
{
	long want = (long)M * N * (K > 0 ? K : 1) / MM_SGEMM_PANEL_WORK;
	bool rows = M >= N;
	long side = rows ? M / MIN_ROWS : N / MIN_COLS;
	if (want > side)
		want = side;
	if (want > MAX_PANELS)
		want = MAX_PANELS;
	long p = 1;
	while (2 * p <= want)
		p *= 2;
	*pm = M, *pn = N;
	if (p < 2)
		return;
	if (rows)
		*pm = (int)round_up(ceil_div(M, p), ROW_ALIGN);
	else
		*pn = (int)round_up(ceil_div(N, p), COL_ALIGN);
}

typedef struct gemm_job {
	bool ta, tb;
	int M, N, K, pm, pn, npc;
	float alpha, beta;
	const float *A, *B;
	float *C;
	int lda, ldb, ldc;
} gemm_job;

/* Panels [lo, hi), numbered row-major over the panel grid (mm_for_fn: any
 * thread may run any panel, each writes its own block of C). */
static mm_status run_panels(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)worker, (void)e;
	const gemm_job *g = ctx;
	for (size_t p = lo; p < hi; p++) {
		int i0 = (int)(p / (size_t)g->npc) * g->pm, j0 = (int)(p % (size_t)g->npc) * g->pn;
		int m = g->M - i0 < g->pm ? g->M - i0 : g->pm;
		int n = g->N - j0 < g->pn ? g->N - j0 : g->pn;
		const float *a = g->ta ? g->A + i0 : g->A + (size_t)i0 * g->lda;
		const float *b = g->tb ? g->B + (size_t)j0 * g->ldb : g->B + j0;
		cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
				g->tb ? CblasTrans : CblasNoTrans, m, n, g->K, g->alpha,
				a, g->lda, b, g->ldb, g->beta, g->C + (size_t)i0 * g->ldc + j0, g->ldc);
	}
	return MM_OK;
}

void mm_sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
		const float *A, int lda, const float *B, int ldb, float beta,
		float *C, int ldc)
{
	pthread_once(&blas_once, blas_one_thread);
	if (M <= 0 || N <= 0)
		return;
	if (K <= 0) {
		for (int i = 0; i < M; i++) {
			float *c = C + (size_t)i * ldc;
			if (beta == 0.0f)
				memset(c, 0, (size_t)N * sizeof *c);
			else
				for (int j = 0; j < N; j++)
					c[j] *= beta;
		}
		return;
	}
	gemm_job g = { transA, transB, M, N, K, 0, 0, 0, alpha, beta, A, B, C, lda, ldb, ldc };
	mm_sgemm_panels(M, N, K, &g.pm, &g.pn);
	int npr = (M + g.pm - 1) / g.pm;
	g.npc = (N + g.pn - 1) / g.pn;
	size_t np = (size_t)npr * g.npc;
	int nt = nthreads < (int)np ? nthreads : (int)np;
	mm_err e; /* run_panels cannot fail */
	if (nt > 1)
		run_for(np, nt, run_panels, &g);
	else
		run_panels(&g, 0, np, 0, &e);
}

/* ---- mm_parallel_ranges ---------------------------------------------------- */

typedef struct range_job {
	mm_range_fn fn;
	void *ctx;
	size_t n, grain;
} range_job;

/* Ranges [lo, hi) of the job's ranges: each cut at the same boundaries as on
 * one thread. */
static mm_status run_ranges(void *ctx, size_t lo, size_t hi, int worker, mm_err *e)
{
	(void)e;
	const range_job *r = ctx;
	for (size_t k = lo; k < hi; k++) {
		size_t a = k * r->grain, b = a + r->grain < r->n ? a + r->grain : r->n;
		r->fn(r->ctx, a, b, worker);
	}
	return MM_OK;
}

void mm_parallel_ranges(size_t n, size_t grain, double work, int max_workers,
		mm_range_fn fn, void *ctx)
{
	if (n == 0)
		return;
	range_job r = { fn, ctx, n, grain ? grain : 1 };
	size_t nr = (n + r.grain - 1) / r.grain;
	int nt = nthreads;
	if (max_workers > 0 && nt > max_workers)
		nt = max_workers;
	if ((size_t)nt > nr)
		nt = (int)nr;
	mm_err e; /* run_ranges cannot fail */
	if (nt > 1 && work >= (double)MM_PARALLEL_MIN_WORK)
		run_for(nr, nt, run_ranges, &r);
	else
		run_ranges(&r, 0, nr, 0, &e);
}
