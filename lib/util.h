/* util.h — small helpers of the library: aligned memory, atomic files, whole-file reads. */
#ifndef MM_UTIL_H
#define MM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* 64-byte aligned allocation (free with free()); NULL on overflow/ENOMEM. */
void *mm_alloc_aligned(size_t n, size_t size);

/* Atomic output file: write to the temporary "<path>.tmp.<host>.<pid>", then
 * mm_atomic_commit() flushes, fsyncs and renames it over path;
 * mm_atomic_abort() removes it.  A file that was there before is untouched
 * until the commit.  A device or FIFO path is written in place (a->tmp NULL).
 *
 * A run killed by SIGKILL (or a crash) leaves its temporary behind.
 * mm_atomic_open() removes such a stale temporary of the same path when the
 * name carries this host and a pid that is not alive here (kill(pid, 0) says
 * ESRCH); another live run's temporary is never touched. */
typedef struct mm_atomic {
	FILE *f;
	char *path, *tmp;
} mm_atomic;
mm_status mm_atomic_open(mm_atomic *a, const char *path, mm_err *e);
mm_status mm_atomic_commit(mm_atomic *a, mm_err *e);
void mm_atomic_abort(mm_atomic *a);
/* The temporary name mm_atomic_open uses for path in this process, into
 * buf[size]; returns what snprintf returns. */
int mm_atomic_tmpname(char *buf, size_t size, const char *path);
/* Observers of every atomic file of the process, for a program that must drop
 * its temporaries when it is stopped (tools/common): opening(a) is called
 * once a->path and a->tmp are set and before the temporary is created;
 * closed(a) once the temporary is gone (renamed or removed) and before a's
 * strings are freed.  Set once, before any mm_atomic_open; NULL unsets. */
void mm_atomic_observe(void (*opening)(mm_atomic *a), void (*closed)(mm_atomic *a));

/* Read a whole file (path "-" is stdin) into a malloc'ed buffer with a NUL
 * after the end.  More than limit bytes is MM_ELIMIT (limit 0: no limit). */
mm_status mm_read_file(const char *path, size_t limit, char **buf, size_t *len, mm_err *e);

/* Index of the largest of x[0..n), the lowest index on ties; a NaN never
 * wins (all NaN gives 0).  n > 0. */
size_t mm_vec_argmax(const float *x, size_t n);
/* In place: x[i] = exp(x[i] - max) / sum, computed in double (stable for large
 * logits).  n may be 0.  (mm_softmax in nn.h is the batched float version of
 * the training loop.) */
void mm_vec_softmax(float *x, size_t n);

/* Monotonic seconds, for timings. */
double mm_now(void);

#endif
