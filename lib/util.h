/* util.h — small helpers of the library: aligned memory, atomic files, whole-file reads. */
#ifndef MM_UTIL_H
#define MM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* 64-byte aligned allocation (free with free()); NULL on overflow/ENOMEM. */
void *mm_alloc_aligned(size_t n, size_t size);

/* Atomic output file: write to "<path>.tmp.<pid>", then mm_atomic_commit()
 * flushes, fsyncs and renames it over path; mm_atomic_abort() removes it.
 * A file that was there before is untouched until the commit. */
typedef struct mm_atomic {
	FILE *f;
	char *path, *tmp;
} mm_atomic;
mm_status mm_atomic_open(mm_atomic *a, const char *path, mm_err *e);
mm_status mm_atomic_commit(mm_atomic *a, mm_err *e);
void mm_atomic_abort(mm_atomic *a);

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
