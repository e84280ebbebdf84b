/* param.h — one trainable tensor and its gradient: what the graph (nn.h)
 * registers, the optimisers (optim.h) update and the model files (model.h)
 * save, without any of them knowing the others. */
#ifndef MM_PARAM_H
#define MM_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest parameter or node name, with its NUL. */
#define MM_NAME_MAX 64

typedef struct mm_param {
	char name[MM_NAME_MAX]; /* unique within a net: "<node>.<tensor>", e.g. "enc.v.proj.W" */
	float *w, *g;     /* n floats each, 64-byte aligned, owned by the net */
	size_t n;
	int64_t shape[2]; /* rows, cols (cols 1 for vectors) */
	bool decay;       /* weight decay applies (weights yes, biases/norms no) */
	bool frozen;      /* not trained: optimisers, decay and clipping skip it,
	                   * and its g is left at zero */
} mm_param;

#endif
