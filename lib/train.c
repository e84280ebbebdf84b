/* train.c — the model for loaded data, its start, its training, and the
 * prediction of records in batches.  See train.h. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "sparse.h"
#include "util.h"

/* The child stream of the seed that initialises the weights ("init"). */
#define SEED_INIT 0x696e6974

static mm_status oom(mm_err *e)
{
	return mm_errf(e, MM_ENOMEM, "out of memory");
}

mm_status mm_train_model_new(mm_model **out, const mm_train_arch *a, const mm_model *init,
		const mm_loaded *ld, const mm_load_params *p, mm_err *e)
{
	mm_model *m = NULL;
	mm_status st;
	*out = NULL;
	int arch = init ? init->arch : a->arch;
	if (arch == MM_ARCH_MOME) {
		mm_mome_spec ms = init ? init->mspec : a->ms;
		if (!init) {
			ms.width = a->ts.width, ms.depth = a->ts.depth;
			ms.heads = a->ts.heads, ms.ffn = a->ts.ffn;
		}
		ms.nenc = ld->nfeat - 1;
		ms.nclass = ld->nclass;
		for (int f = 0; f < ld->nfeat; f++)
			if (ld->kind[f] == MM_FEAT_SPARSE)
				return mm_errf(e, MM_EUSAGE, "%s %s is a sparse feature: --arch mome takes "
						"vision grids and a dense instruction embedding",
						f < ms.nenc ? "-f" : "--instruction", p->feat[f]);
		for (int f = 0; f < ms.nenc; f++)
			ms.gh[f] = ld->gh[f], ms.gw[f] = ld->gw[f], ms.gd[f] = ld->dim[f];
		if (ld->T[ms.nenc] != 1)
			return mm_errf(e, MM_EVALUE, "--instruction %s: token rows (up to %d), expected "
					"one vector [E] per record", p->feat[ms.nenc], ld->T[ms.nenc]);
		ms.edim = ld->dim[ms.nenc];
		const char *msg = mm_mome_spec_check(&ms);
		if (msg)
			return mm_errf(e, MM_EUSAGE, "--arch mome: %s", msg);
		if ((st = mm_model_new_mome(&m, &ms, e)) != MM_OK)
			return st;
	} else if (arch == MM_ARCH_TRANSFORMER) {
		mm_transformer_spec ts = init ? init->tspec : a->ts;
		ts.nmod = ld->nfeat;
		ts.nclass = ld->nclass;
		for (int f = 0; f < ld->nfeat; f++) {
			if (ld->kind[f] == MM_FEAT_SPARSE)
				return mm_errf(e, MM_EUSAGE, "-f %s is a sparse feature: --arch transformer "
						"takes token fields (use --arch mlp)", p->feat[f]);
			ts.in[f] = (mm_shape){ ld->T[f], ld->dim[f] };
		}
		const char *msg = mm_transformer_spec_check(&ts);
		if (msg)
			return mm_errf(e, MM_EUSAGE, "--arch transformer: %s", msg);
		if ((st = mm_model_new_transformer(&m, &ts, e)) != MM_OK)
			return st;
	} else {
		mm_net_spec spec = init ? init->spec : a->spec;
		spec.nmod = ld->nfeat;
		spec.nclass = ld->nclass;
		for (int f = 0; f < ld->nfeat; f++) {
			spec.dims[f] = ld->dim[f];
			spec.sparse[f] = ld->kind[f] == MM_FEAT_SPARSE ? (int)ld->cols[f]->m : 0;
		}
		const char *msg = mm_net_spec_check(&spec);
		if (msg)
			return mm_errf(e, MM_EUSAGE, "%s", msg);
		if ((st = mm_model_new(&m, &spec, e)) != MM_OK)
			return st;
	}
	for (int f = 0; f < ld->nfeat && st == MM_OK; f++)
		st = mm_model_set_feature(m, f, p->feat[f], e);
	for (int k = 0; k < ld->nclass && st == MM_OK; k++)
		st = mm_model_set_class(m, k, ld->classes[k], e);
	if (st == MM_OK)
		st = mm_model_set_target(m, ld->nexperts ? "mixture" : p->target, ld->target_is_str, e);
	if (st != MM_OK) {
		mm_model_free(m);
		return st;
	}
	*out = m;
	return MM_OK;
}

int mm_train_select_default(const mm_loaded *ld)
{
	return !ld->target_is_str && ld->nclass == 2 ? MM_SELECT_F1 : MM_SELECT_MACRO_F1;
}

mm_status mm_train_start(mm_model *m, mm_loaded *ld, uint64_t seed, const mm_model *init,
		const char *init_name, bool partial, mm_train_init_report *rep, mm_err *e)
{
	mm_train_init_report own;
	if (!rep)
		rep = &own;
	rep->head_reset = false;
	rep->note[0] = 0;
	mm_status st = mm_load_standardize(ld, m, init, e);
	if (st != MM_OK)
		return st;
	mm_rng root, ig;
	mm_rng_seed(&root, seed);
	ig = mm_rng_split(&root, SEED_INIT);
	mm_net_init(m->net, &ig);
	if (init) {
		bool same = init->spec.nclass == m->spec.nclass;
		for (int k = 0; same && k < m->spec.nclass; k++)
			same = strcmp(init->classes[k], m->classes[k]) == 0;
		rep->head_reset = !same;
		if ((st = mm_net_copy_by_name(m->net, init->net, same ? NULL : mm_model_output_node(m),
						partial, rep->note, sizeof rep->note, e)) != MM_OK)
			return st;
		free(m->init);
		if (!(m->init = strdup(init_name ? init_name : "")))
			return oom(e);
	}
	const mm_load_set *tr = &ld->set[MM_SET_TRAIN], *va = &ld->set[MM_SET_VAL];
	m->n_train = tr->d.n;
	m->n_val = va->d.n;
	m->data_hash = mm_hash64(&va->hash, sizeof va->hash, tr->hash);
	return MM_OK;
}

mm_status mm_train_fit(mm_model *m, const mm_loaded *ld, const mm_fit_params *fp,
		float *class_w, float tag_weight, mm_fit_result *res, mm_err *e)
{
	free(m->class_w);
	m->class_w = class_w;
	mm_fit_params p = *fp;
	p.class_w = class_w;
	m->fit = p;
	m->fit.class_w = NULL;
	m->fit.objective = NULL;
	m->fit.octx = NULL;
	m->fit.on_epoch = NULL;
	m->fit.ctx = NULL;
	const mm_load_set *tr = &ld->set[MM_SET_TRAIN], *va = &ld->set[MM_SET_VAL];
	bool val = va->d.n > 0;
	mm_mixture mix = { .K = ld->nexperts, .d = { &tr->d, val ? &va->d : NULL },
		.py = { tr->py, val ? va->py : NULL }, .tag_weight = tag_weight,
		.tag = { tr->tag, val ? va->tag : NULL } };
	if (ld->nexperts) {
		p.objective = mm_mixture_objective;
		p.octx = &mix;
	}
	mm_fit_result r;
	mm_status st = mm_net_fit(m->net, &tr->d, val ? &va->d : NULL, &p, &r, e);
	if (st != MM_OK) {
		if (e->status == MM_EUSAGE)
			e->status = st = MM_EVALUE;
		return st;
	}
	m->best_epoch = r.best_epoch;
	m->best_metric = r.best_metric;
	m->epochs_run = r.epochs_run;
	if (res)
		*res = r;
	return MM_OK;
}

/* ---- prediction ---- */

struct mm_predictor {
	const mm_model *m;
	size_t batch;
	float *X[MM_NET_MAXMOD];    /* batch rows of each input, standardised */
	int *len[MM_NET_MAXMOD];    /* a transformer's valid rows */
	float *P;                   /* batch × nclass */
	float *enc;                 /* MoME with a router: batch × encoders */
	int *adapter;               /* MoME with adapters: batch × depth */
};

mm_status mm_predictor_new(mm_predictor **out, const mm_model *m, size_t batch, mm_err *e)
{
	*out = NULL;
	mm_predictor *pr = calloc(1, sizeof *pr);
	if (!pr || batch == 0)
		goto fail;
	pr->m = m;
	pr->batch = batch;
	for (int f = 0; f < m->spec.nmod; f++) {
		if (!(pr->X[f] = mm_alloc_aligned(batch * mm_model_input_size(m, f), sizeof(float))))
			goto fail;
		if (mm_model_tokens(m) && !(pr->len[f] = malloc(batch * sizeof(int))))
			goto fail;
	}
	const mm_mome_spec *ms = &m->mspec;
	if (m->arch == MM_ARCH_MOME && ((ms->aggregate == MM_MOVE_ROUTER &&
			!(pr->enc = malloc(batch * (size_t)ms->nenc * sizeof(float)))) ||
			(ms->mole.adapters && ms->depth &&
			 !(pr->adapter = malloc(batch * (size_t)ms->depth * sizeof(int))))))
		goto fail;
	if (!(pr->P = mm_alloc_aligned(batch * (size_t)m->spec.nclass, sizeof(float))))
		goto fail;
	*out = pr;
	return MM_OK;
fail:
	mm_predictor_free(pr);
	return batch ? oom(e) : mm_errf(e, MM_EUSAGE, "a predictor needs a batch of at least 1");
}

void mm_predictor_free(mm_predictor *pr)
{
	if (!pr)
		return;
	for (int f = 0; f < MM_NET_MAXMOD; f++) {
		free(pr->X[f]);
		free(pr->len[f]);
	}
	free(pr->P);
	free(pr->enc);
	free(pr->adapter);
	free(pr);
}

mm_status mm_predictor_set(mm_predictor *pr, size_t slot, mm_rec *r, const char *model_name,
		const char *input_name, mm_err *e)
{
	if (slot >= pr->batch)
		return mm_errf(e, MM_EUSAGE, "row %zu of a batch of %zu", slot, pr->batch);
	return mm_load_record(pr->m, r, slot, pr->X, pr->len, model_name, input_name, e);
}

mm_status mm_predictor_run(mm_predictor *pr, size_t n, mm_err *e)
{
	const mm_model *m = pr->m;
	if (n > pr->batch)
		return mm_errf(e, MM_EUSAGE, "%zu rows for a batch of %zu", n, pr->batch);
	mm_dataset ds = { .nmod = m->spec.nmod, .n = n };
	for (int f = 0; f < m->spec.nmod; f++) {
		ds.X[f] = pr->X[f];
		ds.len[f] = pr->len[f];
	}
	if (m->arch == MM_ARCH_MOME)
		return mm_mome_predict(m->net, &m->mspec, &ds, pr->P, pr->enc, pr->adapter, e);
	return mm_net_predict(m->net, &ds, pr->P, e);
}

mm_status mm_predictor_annotate(const mm_predictor *pr, size_t k, mm_rec *r, const char *as,
		const char *as_class, const char *as_label, mm_err *e)
{
	const mm_model *m = pr->m;
	size_t C = (size_t)m->spec.nclass;
	const float *p = pr->P + k * C;
	int best = (int)mm_vec_argmax(p, C);
	mm_status st = mm_rec_set_vec(r, as, p, C, e);
	if (st == MM_OK)
		st = mm_rec_set_int(r, as_class, best, e);
	if (st == MM_OK && m->target_is_str)
		st = mm_rec_set_str(r, as_label, m->classes[best], e);
	const mm_mome_spec *ms = &m->mspec;
	char f[600];
	if (st == MM_OK && pr->enc) {
		snprintf(f, sizeof f, "%s_enc", as);
		st = mm_rec_set_vec(r, f, pr->enc + k * (size_t)ms->nenc, (size_t)ms->nenc, e);
	}
	for (int l = 0; st == MM_OK && pr->adapter && l < ms->depth; l++) {
		snprintf(f, sizeof f, "%s_adapter%d", as, l);
		st = mm_rec_set_int(r, f, pr->adapter[k * (size_t)ms->depth + l], e);
	}
	return st;
}
