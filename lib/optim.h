/* optim.h — optimisers over a parameter registry (param.h mm_param), learning-rate
 * schedules, gradient clipping, and L-BFGS for smooth convex problems.
 *
 * The optimisers know nothing about layers: they walk an array of mm_param
 * (value w, gradient g, size n, decay flag) and leave frozen ones alone
 * (no step, no decay).  State (moments, velocities) is
 * owned by the optimiser and freed with it.
 */
#ifndef MM_OPTIM_H
#define MM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "param.h"

/* AdamW (Loshchilov & Hutter): decoupled weight decay
 *   m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
 *   w -= lr (m̂ / (√v̂ + ε) + wd w)          (wd only where param.decay)
 * as PyTorch's torch.optim.AdamW. */
typedef struct mm_adamw mm_adamw;
mm_status mm_adamw_new(mm_adamw **out, mm_param *params, size_t np,
		float beta1, float beta2, float eps, float weight_decay, mm_err *e);
void mm_adamw_step(mm_adamw *o, float lr);
uint64_t mm_adamw_steps(const mm_adamw *o);
void mm_adamw_free(mm_adamw *o);

/* SGD with momentum (PyTorch convention: v = μ v + g + wd w; w -= lr v). */
typedef struct mm_sgd mm_sgd;
mm_status mm_sgd_new(mm_sgd **out, mm_param *params, size_t np,
		float momentum, float weight_decay, mm_err *e);
void mm_sgd_step(mm_sgd *o, float lr);
void mm_sgd_free(mm_sgd *o);

/* Linear warm-up over `warmup` steps from lr/warmup to lr, then cosine decay
 * to lr*min_ratio at step `total`.  step is 0-based. */
float mm_lr_schedule(float lr, uint64_t step, uint64_t warmup, uint64_t total, float min_ratio);

/* Scale all gradients so that their global L2 norm is at most max_norm;
 * returns the norm before clipping.  max_norm <= 0: only measure.  Frozen
 * parameters neither count nor get scaled. */
double mm_clip_grad_norm(mm_param *params, size_t np, double max_norm);

/* L-BFGS with a More–Thuente-free backtracking (Armijo + curvature check)
 * line search, in double precision.  f(x, g, ctx) returns the objective and
 * writes its gradient.  Stops when ‖g‖∞ ≤ tol·max(1,|f|), when f stops
 * decreasing (relative change < 1e-12 for 3 steps), or after max_iter.
 * x: start in, minimiser out.  Returns MM_OK on convergence, MM_ELIMIT when
 * max_iter was reached (x still holds the best point), MM_ENOMEM. */
typedef double (*mm_objective_fn)(const double *x, double *g, void *ctx);
mm_status mm_lbfgs(mm_objective_fn f, void *ctx, double *x, size_t n, int m,
		int max_iter, double tol, double *fx, int *iters, mm_err *e);

#endif
