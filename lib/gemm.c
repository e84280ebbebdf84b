/* gemm.c — mm_sgemm: fixed panels of C, one single-threaded OpenBLAS call
 * each.  See gemm.h. */
#include "gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

/* At most this many panels (more only adds packing: each panel packs its own
 * copy of the operand it shares with the others). */
enum { MAX_PANELS = 64, ROW_ALIGN = 16, COL_ALIGN = 64, MAX_THREADS = 256 };

static int nthreads = 1;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_one_thread(void)
{
	openblas_set_num_threads(1);
}

void mm_set_threads(int n)
{
	pthread_once(&blas_once, blas_one_thread);
	if (n > 0)
		nthreads = n < MAX_THREADS ? n : MAX_THREADS;
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

/* Rows first (a row panel packs its own copy of op(B), K x N); columns too
 * only when there are fewer row panels than the work asks for. */
void mm_sgemm_panels(int M, int N, int K, int *pm, int *pn)
{
	long work = (long)M * N * (K > 0 ? K : 1);
	long want = work / MM_SGEMM_PANEL_WORK;
	if (want > MAX_PANELS)
		want = MAX_PANELS;
	*pm = M, *pn = N;
	if (want < 2 || M <= 0 || N <= 0)
		return;
	long nr = ceil_div(M, ROW_ALIGN) < want ? ceil_div(M, ROW_ALIGN) : want;
	long rows = round_up(ceil_div(M, nr), ROW_ALIGN);
	nr = ceil_div(M, rows);
	long nc = ceil_div(want, nr);
	if (nc > ceil_div(N, COL_ALIGN))
		nc = ceil_div(N, COL_ALIGN);
	long cols = nc > 1 ? round_up(ceil_div(N, nc), COL_ALIGN) : N;
	*pm = (int)(rows < M ? rows : M);
	*pn = (int)(cols < N ? cols : N);
}

typedef struct gemm_job {
	bool ta, tb;
	int M, N, K, pm, pn, npc;
	float alpha, beta;
	const float *A, *B;
	float *C;
	int lda, ldb, ldc;
} gemm_job;

/* Panels [lo, hi), numbered row-major over the panel grid. */
static void run_panels(const gemm_job *g, size_t lo, size_t hi)
{
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
	run_panels(&g, 0, (size_t)npr * g.npc);
}
