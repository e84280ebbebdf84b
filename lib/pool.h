/* pool.h — deterministic parallelism: a parallel for over indices and an
 * ordered parallel map over a record stream.
 *
 * Both run a caller's callback on up to `nthreads` POSIX threads and give
 * results that do not depend on scheduling, provided the callback honours
 * its contract below.  Neither prints nor exits; a failed callback stops the
 * work and its mm_err comes back to the caller.  nthreads <= 1 runs
 * everything on the calling thread, in order, with no thread created, so the
 * 1-thread path is the reference the N-thread paths must equal.
 *
 * mm_parallel_for and mm_map start their threads per call and join them
 * before the call returns: nothing outlives a call, and no global state is
 * kept (two calls may run at once from different threads).  A team
 * (mm_team) keeps its threads between calls, for short, frequent loops.  A thread that cannot be started is not an
 * error: the work runs on fewer threads (at least the calling one).
 */
#ifndef MM_POOL_H
#define MM_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Upper bound on nthreads (more are clamped to it). */
#define MM_POOL_MAX_THREADS 256

/* ---- parallel for -------------------------------------------------------- */

/* Process [lo, hi), a sub-range of [0, n).  `worker` is in [0, nthreads) and
 * no two concurrent calls share it: index per-thread scratch with it.  The
 * callback may read shared state and write only what the range [lo, hi)
 * owns (disjoint output rows) and its worker's scratch; it must not depend
 * on which worker runs it, nor on the order ranges run in.  Return MM_OK, or
 * an error with e set (the message should name the item). */
typedef mm_status (*mm_for_fn)(void *ctx, size_t lo, size_t hi, int worker, mm_err *e);

/* Call fn over [0, n) cut into consecutive ranges of `grain` indices (the
 * last one shorter); grain 0 means one range per thread (ceil(n/nthreads)).
 * Ranges are handed out in increasing order as threads become free.  On a
 * failure no new range starts, the running ones finish, and the error of the
 * lowest failing range is returned — with a fixed grain that is the same
 * error for any thread count, because every range below a failed one has
 * started.  n == 0 returns MM_OK without calling fn. */
mm_status mm_parallel_for(size_t n, size_t grain, int nthreads,
		mm_for_fn fn, void *ctx, mm_err *e);

/* ---- a standing team ----------------------------------------------------- */

/* mm_parallel_for starts its threads per call, about 50 us for two threads
 * here: too slow for kernels that take a millisecond.  A team starts
 * nthreads - 1 threads once; they sleep on a condition variable between
 * jobs.  mm_team_for runs exactly as mm_parallel_for (same ranges, same
 * contract for fn, same error rule, worker < min(nthreads, team size)) on
 * the team's threads and the caller's.
 *
 * The team runs one job at a time: a call made while it is busy (from
 * another thread, or nested inside one of its jobs) falls back to
 * mm_parallel_for, so a team is safe to share.  The team is owned by its
 * creator: mm_team_free stops and joins its threads (no job may be running).
 * A thread that cannot be started leaves a smaller team, not an error;
 * MM_ENOMEM if the team itself cannot be allocated. */
typedef struct mm_team mm_team;
mm_status mm_team_new(mm_team **out, int nthreads, mm_err *e);
/* The team's threads, the caller's included (1 for NULL). */
int mm_team_size(const mm_team *t);
/* t NULL runs as mm_parallel_for on one thread. */
mm_status mm_team_for(mm_team *t, size_t n, size_t grain, int nthreads,
		mm_for_fn fn, void *ctx, mm_err *e);
void mm_team_free(mm_team *t);

/* ---- ordered parallel map over a stream ---------------------------------- */

/* An ordered map: `read` produces items one at a time on the calling
 * thread, `work` transforms each on a worker thread, `write` consumes them on
 * the calling thread in input order.  So the output is byte-identical for any
 * thread count as long as `work` is a function of its item (and of read-only
 * ctx): it may use its worker's scratch, never state another item sees.
 *
 * Items live in slots of `item_size` bytes, zeroed once at the start and
 * reused: a slot keeps what the callbacks leave in it (buffers allocated once
 * per slot and freed by `fini`).  At most `window` items are in flight (read
 * but not yet written): memory is bounded by window slots plus what they
 * point to.
 *
 * Each callback gets the item's index in the stream (0, 1, ...).
 *   read(ctx, item, index, e)   fill the item (e.g. take ownership of the
 *                               next record); MM_EOF at the end; an error
 *                               stops reading: the items before it are still
 *                               worked and written, then the error returns.
 *                               An item whose read failed is not dropped:
 *                               read releases what it took before failing.
 *   work(ctx, item, index, worker, e)  on a worker thread; worker is in
 *                               [0, nthreads) as for mm_parallel_for.
 *                               An error stops the map the same way: items
 *                               before it are written, then its error (the
 *                               lowest failing index) returns.  Name the
 *                               record in e (mm_rec_where gives index and id).
 *   write(ctx, item, index, e)  consume the item (and release what it owns
 *                               per record); an error stops the map at once.
 *   drop(ctx, item, index)      optional: an item that was read but will not
 *                               be written (after an error) — release it.
 *   fini(ctx, item)             optional: once per slot at the end, for the
 *                               slot's own buffers.
 * Returns MM_OK after `read` said MM_EOF and every item was written, or the
 * first error in stream order (read, work or write of the lowest index). */
typedef struct mm_map_ops {
	mm_status (*read)(void *ctx, void *item, uint64_t index, mm_err *e);
	mm_status (*work)(void *ctx, void *item, uint64_t index, int worker, mm_err *e);
	mm_status (*write)(void *ctx, void *item, uint64_t index, mm_err *e);
	void (*drop)(void *ctx, void *item, uint64_t index);
	void (*fini)(void *ctx, void *item);
} mm_map_ops;

/* window 0 picks 64 * nthreads.  MM_EUSAGE for a NULL read/work/write or
 * item_size 0, MM_ENOMEM if the slots cannot be allocated. */
mm_status mm_map(const mm_map_ops *ops, void *ctx, size_t item_size,
		size_t window, int nthreads, mm_err *e);

#endif
