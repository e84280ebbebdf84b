/* fit.c — the trainer: mm_net_fit (AdamW, warm-up + cosine, clipping,
 * checkpoint selection, early stopping) and batched prediction.  See nn.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nn.h"
#include "optim.h"
#include "util.h"

/* The validation metric p->select of probabilities P: the definitions of
 * metrics.h (those mmoe-eval reports); NaN when it cannot be computed. */
static double select_metric(int select, const float *P, const int *y, size_t n, int C)
{
	if (select == MM_SELECT_LOSS)
		return mm_metric_nll(P, y, n, C);
	mm_metrics m;
	if (n == 0 || mm_metrics_of_probs(P, y, n, C, 1, &m, NULL) != MM_OK)
		return NAN;
	return m.v[select == MM_SELECT_F1 ? MM_MET_F1 : select == MM_SELECT_ACC ? MM_MET_ACC :
		MM_MET_MACRO_F1];
}

/* ---- training ------------------------------------------------------------- */

void mm_fit_params_default(mm_fit_params *p)
{
	memset(p, 0, sizeof *p);
	p->epochs = 20;
	p->batch = 64;
	p->lr = 1e-3f;
	p->weight_decay = 0.01f;
	p->warmup = 0.1f;
	p->min_lr_ratio = 0;
	p->clip = 1.0f;
	p->loss = MM_LOSS_CE;
	p->alpha = 1;
	p->gamma = 2;
	p->select = MM_SELECT_F1;
	p->patience = 0;
	p->seed = 1;
}

const char *mm_fit_params_check(const mm_fit_params *p)
{
	if (p->epochs < 1 || p->epochs > 1000000)
		return "epochs must be 1..1000000";
	if (p->batch < 1 || p->batch > (1 << 20))
		return "batch must be 1..1048576";
	if (!(p->lr > 0 && p->lr < 100))
		return "learning rate must be in (0, 100)";
	if (!(p->weight_decay >= 0 && p->weight_decay < 100))
		return "weight decay must be in [0, 100)";
	if (!(p->warmup >= 0 && p->warmup <= 1))
		return "warm-up must be a fraction of the steps in [0, 1]";
	if (!(p->min_lr_ratio >= 0 && p->min_lr_ratio <= 1))
		return "minimum learning-rate ratio must be in [0, 1]";
	if (!(p->clip >= 0))
		return "clip must be >= 0";
	if (p->loss != MM_LOSS_CE && p->loss != MM_LOSS_FOCAL)
		return "unknown loss";
	if (!(p->alpha > 0) || !(p->gamma >= 0))
		return "focal alpha must be > 0 and gamma >= 0";
	if (p->select < MM_SELECT_F1 || p->select > MM_SELECT_LOSS)
		return "unknown selection metric";
	if (p->patience < 0)
		return "patience must be >= 0";
	if (p->objective && p->select != MM_SELECT_LOSS)
		return "a custom objective selects checkpoints by its own value: select must be loss";
	return NULL;
}

/* The forward of rows i0..i0+B of d, without dropout; NULL when out of memory. */
static const float *forward_rows(mm_net *net, const mm_dataset *d, size_t i0, int B)
{
	const float *X[MM_NET_MAXMOD];
	const int *L[MM_NET_MAXMOD];
	for (int m = 0; m < d->nmod; m++) {
		X[m] = d->X[m] + i0 * (size_t)mm_net_dim(net, m);
		L[m] = d->len[m] ? d->len[m] + i0 : NULL;
	}
	return mm_net_forward_seq(net, X, L, B, false, NULL);
}

enum { PREDICT_BATCH = 256 };

mm_status mm_net_predict(mm_net *net, const mm_dataset *d, float *P, mm_err *e)
{
	int C = mm_net_nout(net);
	for (size_t i = 0; i < d->n; i += PREDICT_BATCH) {
		int B = (int)(d->n - i < PREDICT_BATCH ? d->n - i : PREDICT_BATCH);
		const float *Z = forward_rows(net, d, i, B);
		if (!Z)
			return mm_errf(e, MM_ENOMEM, "out of memory for a batch of %d", B);
		mm_softmax(Z, B, C, P + i * C);
	}
	return MM_OK;
}

/* The custom objective's mean over the validation records (no dropout, no
 * gradient). */
static mm_status val_objective(mm_net *net, const mm_dataset *val, const mm_fit_params *p,
		double *out, mm_err *e)
{
	size_t idx[PREDICT_BATCH];
	double s = 0;
	for (size_t i = 0; i < val->n; i += PREDICT_BATCH) {
		int B = (int)(val->n - i < PREDICT_BATCH ? val->n - i : PREDICT_BATCH);
		const float *Z = forward_rows(net, val, i, B);
		if (!Z)
			return mm_errf(e, MM_ENOMEM, "out of memory for a batch of %d", B);
		for (int r = 0; r < B; r++)
			idx[r] = i + (size_t)r;
		s += p->objective(p->octx, Z, B, mm_net_nout(net), val, idx, NULL) * B;
	}
	*out = s / (double)val->n;
	return MM_OK;
}

/* Gather rows idx[0..B) of each modality (and their lengths into Lb[m],
 * which is NULL for the modalities without) into contiguous batch buffers. */
static void gather(const mm_dataset *d, const mm_net *net, const size_t *idx, int B,
		float **Xb, int **Lb, int *yb)
{
	for (int m = 0; m < d->nmod; m++) {
		size_t dim = (size_t)mm_net_dim(net, m);
		for (int r = 0; r < B; r++)
			memcpy(Xb[m] + r * dim, d->X[m] + idx[r] * dim, dim * sizeof(float));
		for (int r = 0; Lb[m] && r < B; r++)
			Lb[m][r] = d->len[m][idx[r]];
	}
	for (int r = 0; d->y && r < B; r++)
		yb[r] = d->y[idx[r]];
}

static bool better(int select, double a, double b)
{
	if (isnan(a))
		return false;
	if (isnan(b))
		return true;
	return select == MM_SELECT_LOSS ? a < b : a > b;
}

mm_status mm_net_fit(mm_net *net, const mm_dataset *tr, const mm_dataset *val,
		const mm_fit_params *p, mm_fit_result *res, mm_err *e)
{
	const char *msg = mm_fit_params_check(p);
	if (msg)
		return mm_errf(e, MM_EUSAGE, "%s", msg);
	if (tr->n == 0)
		return mm_errf(e, MM_EVALUE, "no training records");
	if (tr->nmod != mm_net_nmod(net) || (val && val->n && val->nmod != mm_net_nmod(net)))
		return mm_errf(e, MM_EUSAGE, "dataset has %d modalities, the net %d", tr->nmod, mm_net_nmod(net));
	int C = mm_net_nout(net);
	bool hasval = val && val->n > 0;
	if (!p->objective && (!tr->y || (hasval && !val->y)))
		return mm_errf(e, MM_EUSAGE, "training with a loss on targets needs targets");
	for (size_t i = 0; tr->y && i < tr->n; i++)
		if (tr->y[i] < 0 || tr->y[i] >= C)
			return mm_errf(e, MM_EVALUE, "training target %d out of range 0..%d", tr->y[i], C - 1);
	for (size_t i = 0; hasval && val->y && i < val->n; i++)
		if (val->y[i] < 0 || val->y[i] >= C)
			return mm_errf(e, MM_EVALUE, "validation target %d out of range 0..%d", val->y[i], C - 1);
	for (int k = 0; k < (hasval ? 2 : 1); k++) {
		const mm_dataset *d = k ? val : tr;
		for (int m = 0; m < d->nmod; m++)
			for (size_t i = 0; d->len[m] && i < d->n; i++)
				if (d->len[m][i] < 1 || d->len[m][i] > mm_net_rows(net, m))
					return mm_errf(e, MM_EVALUE, "%s record %zu: input %d has %d valid rows, "
							"not 1..%d", k ? "validation" : "training", i, m,
							d->len[m][i], mm_net_rows(net, m));
	}

	mm_status st = MM_OK;
	int BS = p->batch < (int)tr->n ? p->batch : (int)tr->n;
	size_t np;
	mm_param *params = mm_net_params(net, &np);
	mm_adamw *opt = NULL;
	float *Xb[MM_NET_MAXMOD] = { 0 }, *dZ = NULL, *P = NULL, *VP = NULL, **best = NULL, *cw = NULL;
	int *yb = NULL, *Lb[MM_NET_MAXMOD] = { 0 };
	size_t *perm = NULL;
	st = mm_adamw_new(&opt, params, np, 0.9f, 0.999f, 1e-8f, p->weight_decay, e);
	if (st != MM_OK)
		return st;
	for (int m = 0; m < mm_net_nmod(net); m++)
		if (!(Xb[m] = mm_alloc_aligned((size_t)BS * mm_net_dim(net, m), sizeof(float))) ||
				(tr->len[m] && !(Lb[m] = malloc((size_t)BS * sizeof *Lb[m]))))
			goto oom;
	dZ = mm_alloc_aligned((size_t)BS * C, sizeof(float));
	P = mm_alloc_aligned((size_t)BS * C, sizeof(float));
	yb = malloc((size_t)BS * sizeof *yb);
	perm = malloc(tr->n * sizeof *perm);
	if (!dZ || !P || !yb || !perm)
		goto oom;
	if (p->class_w) {
		if (!(cw = malloc((size_t)C * sizeof *cw)))
			goto oom;
		memcpy(cw, p->class_w, (size_t)C * sizeof *cw);
	}
	if (hasval) {
		if (!(VP = malloc(val->n * (size_t)C * sizeof *VP)))
			goto oom;
		if (!(best = calloc(np ? np : 1, sizeof *best)))
			goto oom;
		for (size_t i = 0; i < np; i++)
			if (!(best[i] = malloc(params[i].n * sizeof(float))))
				goto oom;
	}
	for (size_t i = 0; i < tr->n; i++)
		perm[i] = i;

	mm_rng root, shuf, drop;
	mm_rng_seed(&root, p->seed);
	shuf = mm_rng_split(&root, 1);
	drop = mm_rng_split(&root, 2);
	uint64_t spe = (tr->n + BS - 1) / BS, total = spe * (uint64_t)p->epochs;
	uint64_t warm = (uint64_t)llround(p->warmup * (double)total), step = 0;
	double t0 = mm_now(), best_metric = NAN;
	int best_epoch = 0, since = 0, ep;
	float lr = p->lr;
	for (ep = 1; ep <= p->epochs; ep++) {
		mm_rng_shuffle(&shuf, perm, tr->n, sizeof *perm);
		double lsum = 0;
		for (size_t i = 0; i < tr->n; i += BS) {
			int B = (int)(tr->n - i < (size_t)BS ? tr->n - i : (size_t)BS);
			gather(tr, net, perm + i, B, Xb, Lb, yb);
			const float *Z = mm_net_forward_seq(net, (const float *const *)Xb,
					(const int *const *)Lb, B, true, &drop);
			if (!Z)
				goto oom;
			double L = p->objective ? p->objective(p->octx, Z, B, C, tr, perm + i, dZ) :
				p->loss == MM_LOSS_FOCAL ?
				mm_focal_loss(Z, yb, B, C, cw, p->alpha, p->gamma, P, dZ) :
				mm_xent_loss(Z, yb, B, C, cw, P, dZ);
			L += mm_net_aux_loss(net);
			if (!isfinite(L)) {
				st = mm_errf(e, MM_EVALUE, "training diverged at epoch %d (loss %g): lower --lr", ep, L);
				goto out;
			}
			lsum += L * B;
			mm_net_backward_step(net, dZ); /* replaces the last step's gradients */
			if (p->clip > 0)
				mm_clip_grad_norm(params, np, p->clip);
			lr = mm_lr_schedule(p->lr, step, warm, total, p->min_lr_ratio);
			mm_adamw_step(opt, lr);
			step++;
		}
		mm_fit_epoch info = { .epoch = ep, .train_loss = lsum / tr->n, .lr = lr,
			.val_loss = NAN, .val_metric = NAN };
		if (hasval) {
			if (p->objective) {
				if ((st = val_objective(net, val, p, &info.val_loss, e)) != MM_OK)
					goto out;
				info.val_metric = info.val_loss;
			} else {
				if ((st = mm_net_predict(net, val, VP, e)) != MM_OK)
					goto out;
				info.val_loss = mm_metric_nll(VP, val->y, val->n, C);
				info.val_metric = select_metric(p->select, VP, val->y, val->n, C);
			}
			if (best_epoch == 0 || better(p->select, info.val_metric, best_metric)) {
				best_metric = info.val_metric;
				best_epoch = ep;
				since = 0;
				info.best = true;
				for (size_t k = 0; k < np; k++)
					memcpy(best[k], params[k].w, params[k].n * sizeof(float));
			} else {
				since++;
			}
		} else {
			best_epoch = ep;
			info.best = true;
		}
		info.seconds = mm_now() - t0;
		if (p->on_epoch)
			p->on_epoch(p->ctx, &info);
		if (hasval && p->patience > 0 && since >= p->patience) {
			ep++;
			break;
		}
	}
	if (hasval)
		for (size_t k = 0; k < np; k++)
			memcpy(params[k].w, best[k], params[k].n * sizeof(float));
	if (res) {
		res->epochs_run = ep - 1;
		res->best_epoch = best_epoch;
		res->best_metric = best_metric;
		res->seconds = mm_now() - t0;
		res->steps = step;
	}
	goto out;
oom:
	st = mm_errf(e, MM_ENOMEM, "out of memory while training");
out:
	mm_adamw_free(opt);
	for (int m = 0; m < MM_NET_MAXMOD; m++) {
		free(Xb[m]);
		free(Lb[m]);
	}
	free(dZ);
	free(P);
	free(VP);
	free(yb);
	free(perm);
	free(cw);
	if (best)
		for (size_t k = 0; k < np; k++)
			free(best[k]);
	free(best);
	return st;
}
