/* gemm.h — the library's one matrix product, and its thread count.
 *
 * Every single-precision matrix product in lib/ goes through mm_sgemm, so
 * that results do not depend on the thread count: OpenBLAS's own threading
 * cuts a product into pieces by the number of threads, and its kernels give
 * different bits for different pieces (seen with OpenBLAS 0.3.21's Haswell
 * kernels on AMD EPYC: a (128x96)·(96x128) product differs between 1 and 2
 * OpenBLAS threads).  So:
 *
 *   - OpenBLAS always runs on ONE thread: the first mm_sgemm or
 *     mm_set_threads call sets openblas_set_num_threads(1), whatever
 *     OPENBLAS_NUM_THREADS says (OpenBLAS's own workers, started when the
 *     library is loaded, then idle).  This also holds for the library's few
 *     other BLAS calls (cblas_sdot, cblas_dgemm), which are not threaded.
 *   - mm_sgemm cuts C into fixed panels (mm_sgemm_panels) whose boundaries
 *     depend only on M, N and K, and runs one single-threaded cblas_sgemm per
 *     panel, the panels spread over mm_threads() threads (the library's
 *     team, pool.h).  Every element of C is computed by the same kernel call on
 *     the same operands whichever thread runs it: same bits for 1, 2 or 64
 *     threads.
 *   - The panels are few and wide: 1, 2, 4 or 8 along the longer side of C,
 *     at least 128 rows or 256 columns each, one per MM_SGEMM_PANEL_WORK
 *     multiply-adds at most.  Each panel packs its own copy of the operand
 *     the panels share, so narrower panels would make one thread slower than
 *     a single cblas_sgemm; these cost about 1% on the MLP bench's step, and
 *     its products split in 2 or 4 for 2 threads.  A product of fewer
 *     multiply-adds, or too narrow, is one panel on the calling thread.
 *
 * (Bits may still differ from one machine or OpenBLAS build to another, and
 * from a single unpanelled cblas_sgemm call: the promise is thread-count
 * independence on one machine.)
 */
#ifndef MM_GEMM_H
#define MM_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* C[M,N] = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm(CblasRowMajor,
 * ...): op(A) is [M,K] (A stored [K,M] when transA), op(B) is [K,N] (B stored
 * [N,K] when transB); lda, ldb, ldc are the row strides of A, B, C as stored.
 * beta 0 overwrites C (NaN in C does not leak through).  K <= 0 scales C by
 * beta; M <= 0 or N <= 0 does nothing.  Panels write disjoint blocks of C;
 * C must not overlap A or B.  Safe to call from several threads at once
 * (each call runs its own panels; a call nested in a piece of another
 * library job, such as attention's per-head products, runs its panels
 * inline on that thread: the same panels, so the same bits). */
void mm_sgemm(bool transA, bool transB, int M, int N, int K, float alpha,
		const float *A, int lda, const float *B, int ldb, float beta,
		float *C, int ldc);

/* The panels of an M x N x K product: *pm rows by *pn columns each (the last
 * panel shorter), a function of M, N, K only: *pm < M (row panels) or
 * *pn < N (column panels), never both.  A product of fewer than
 * 2 MM_SGEMM_PANEL_WORK multiply-adds is one panel. */
#define MM_SGEMM_PANEL_WORK (1L << 22)
void mm_sgemm_panels(int M, int N, int K, int *pm, int *pn);

/* The library's thread count for its parallel kernels, mm_sgemm's panels
 * among them (default 1; n <= 0 leaves it unchanged; clamped to the pool's
 * maximum).  A process-wide setting: set it once before the work starts
 * (tools do so from --threads, tools/common cli_set_threads), not while
 * other threads run library calls.  It also pins OpenBLAS to one thread
 * (above).  With n > 1 it starts the library's standing team (pool.h,
 * mm_team): n - 1 threads besides the caller, which wait between calls and
 * stay until the thread count changes (mm_set_threads(1) stops them); a call
 * made while the team is busy with another caller's job starts threads of
 * its own instead, so the library stays safe to call from several threads.
 * After fork, the child runs the kernels on threads of its own. */
void mm_set_threads(int n);
int mm_threads(void);

/* ---- the other kernels on the same threads ---------------------------------
 *
 * Element-wise and per-row work (activations, layer norm, residual adds, bias
 * gradients, the optimiser's update, attention's heads) is cut into fixed
 * ranges and the ranges are spread over mm_threads() threads, as mm_sgemm's
 * panels are.
 *
 * fn(ctx, lo, hi, worker) processes [lo, hi) of [0, n); worker, in
 * [0, max_workers) when max_workers > 0, is the running thread's index:
 * no two concurrent calls share it, so it may index per-thread scratch.
 * The ranges are always the same: consecutive runs of `grain` indices (the last one shorter), a
 * function of n and grain only, on 1 thread as on 64; so each index is
 * computed by the same call on the same operands whatever the thread count,
 * and the bits do not change with it (even where a vectorised loop treats a
 * range's edges differently from its middle).  fn writes only what its range
 * owns; it must not depend on which thread runs it nor on the order ranges
 * run in.  It cannot fail.
 *
 * `work` is the total cost in element operations (about n times the cost of
 * one index): below MM_PARALLEL_MIN_WORK the ranges run in order on the
 * calling thread, since handing ranges to the team and waiting for it
 * (a few microseconds) would cost more than it saves.  grain 0 is taken as
 * 1; max_workers <= 0 means no cap beyond mm_threads().  Called from inside
 * a piece of another library job, the ranges run inline on that thread. */
#define MM_PARALLEL_MIN_WORK (1L << 18)
/* The grain of flat element-wise loops: a multiple of every vector width. */
#define MM_PARALLEL_GRAIN 16384
typedef void (*mm_range_fn)(void *ctx, size_t lo, size_t hi, int worker);
void mm_parallel_ranges(size_t n, size_t grain, double work, int max_workers,
		mm_range_fn fn, void *ctx);

#endif
