/* model.c — model files: deterministic msgpack packing, validating loads.  See model.h. */
#include "model.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "record.h"
#include "sparse.h"
#include "stream.h"
#include "util.h"

#ifndef MM_COMMIT
#define MM_COMMIT "unknown"
#endif

static const char *arch_names[] = { "expert", "transformer", "mome" };
static const char *act_names[] = { "relu", "gelu" };
static const char *fusion_names[] = { "concat", "concat-prod", "bilinear" };
static const char *loss_names[] = { "ce", "focal" };
static const char *select_names[] = { "f1", "macro_f1", "acc", "loss" };

#define NAMEFN(fn, parse, tab) \
	const char *fn(int v) { \
		return v >= 0 && v < (int)(sizeof tab / sizeof *tab) ? tab[v] : "?"; } \
	int parse(const char *s) { \
		for (int i = 0; i < (int)(sizeof tab / sizeof *tab); i++) \
			if (s && strcmp(s, tab[i]) == 0) \
				return i; \
		return -1; }
NAMEFN(mm_arch_name, mm_arch_parse, arch_names)
NAMEFN(mm_act_name, mm_act_parse, act_names)
NAMEFN(mm_fusion_name, mm_fusion_parse, fusion_names)
NAMEFN(mm_loss_name, mm_loss_parse, loss_names)
NAMEFN(mm_select_name, mm_select_parse, select_names)

/* The model around a built net: names, statistics (mean 0, std 1 over
 * dims[f] per input) and defaults.  Takes net (freed on failure). */
static mm_status model_wrap(mm_model **out, int arch, const mm_net_spec *spec, mm_net *net, mm_err *e)
{
	mm_model *m = calloc(1, sizeof *m);
	if (!m) {
		mm_net_free(net);
		return mm_errf(e, MM_ENOMEM, "out of memory");
	}
	m->arch = arch;
	m->spec = *spec;
	m->net = net;
	mm_fit_params_default(&m->fit);
	m->best_metric = NAN;
	m->classes = calloc((size_t)spec->nclass, sizeof *m->classes);
	m->feat = calloc((size_t)spec->nmod, sizeof *m->feat);
	m->mean = calloc((size_t)spec->nmod, sizeof *m->mean);
	m->std = calloc((size_t)spec->nmod, sizeof *m->std);
	m->cols = calloc((size_t)spec->nmod, sizeof *m->cols);
	if (!m->classes || !m->feat || !m->mean || !m->std || !m->cols)
		goto oom;
	for (int f = 0; f < spec->nmod; f++) {
		m->mean[f] = calloc((size_t)spec->dims[f], sizeof(float));
		m->std[f] = malloc((size_t)spec->dims[f] * sizeof(float));
		if (!m->mean[f] || !m->std[f])
			goto oom;
		for (int j = 0; j < spec->dims[f]; j++)
			m->std[f][j] = 1.0f;
	}
	*out = m;
	return MM_OK;
oom:
	mm_model_free(m);
	return mm_errf(e, MM_ENOMEM, "out of memory");
}

mm_status mm_model_new(mm_model **out, const mm_net_spec *spec, mm_err *e)
{
	const char *msg = mm_net_spec_check(spec);
	if (msg)
		return mm_errf(e, MM_EVALUE, "%s", msg);
	mm_net *net;
	mm_status st = mm_net_build(&net, spec, e);
	if (st != MM_OK)
		return st;
	return model_wrap(out, MM_ARCH_EXPERT, spec, net, e);
}

mm_status mm_model_new_transformer(mm_model **out, const mm_transformer_spec *ts, mm_err *e)
{
	mm_net *net;
	mm_status st = mm_net_build_transformer(&net, ts, e);
	if (st != MM_OK)
		return st;
	mm_net_spec s;
	memset(&s, 0, sizeof s);
	s.nmod = ts->nmod;
	s.nclass = ts->nclass;
	for (int f = 0; f < ts->nmod; f++)
		s.dims[f] = ts->in[f].D;
	st = model_wrap(out, MM_ARCH_TRANSFORMER, &s, net, e);
	if (st == MM_OK)
		(*out)->tspec = *ts;
	return st;
}

mm_status mm_model_new_mome(mm_model **out, const mm_mome_spec *ms, mm_err *e)
{
	mm_net *net;
	mm_status st = mm_net_build_mome(&net, ms, e);
	if (st != MM_OK)
		return st;
	mm_net_spec s;
	memset(&s, 0, sizeof s);
	mm_transformer_spec t;
	memset(&t, 0, sizeof t);
	s.nmod = t.nmod = ms->nenc + 1;
	s.nclass = t.nclass = ms->nclass;
	for (int f = 0; f < ms->nenc; f++) {
		s.dims[f] = ms->gd[f];
		t.in[f] = (mm_shape){ ms->gh[f] * ms->gw[f], ms->gd[f] };
	}
	s.dims[ms->nenc] = ms->edim;
	t.in[ms->nenc] = (mm_shape){ 1, ms->edim };
	st = model_wrap(out, MM_ARCH_MOME, &s, net, e);
	if (st == MM_OK) {
		(*out)->tspec = t;
		(*out)->mspec = *ms;
	}
	return st;
}

size_t mm_model_input_size(const mm_model *m, int f)
{
	return (size_t)mm_net_dim(m->net, f);
}

const char *mm_model_output_node(const mm_model *m)
{
	return m->arch == MM_ARCH_TRANSFORMER ? MM_TRANSFORMER_OUTPUT :
		m->arch == MM_ARCH_MOME ? MM_MOME_OUTPUT : MM_EXPERT_OUTPUT;
}

void mm_model_free(mm_model *m)
{
	if (!m)
		return;
	for (int c = 0; m->classes && c < m->spec.nclass; c++)
		free(m->classes[c]);
	for (int f = 0; f < m->spec.nmod; f++) {
		if (m->feat)
			free(m->feat[f]);
		if (m->mean)
			free(m->mean[f]);
		if (m->std)
			free(m->std[f]);
		if (m->cols && m->cols[f]) {
			mm_colmap_free(m->cols[f]);
			free(m->cols[f]);
		}
	}
	free(m->cols);
	free(m->classes);
	free(m->feat);
	free(m->mean);
	free(m->std);
	free(m->class_w);
	free(m->target);
	free(m->init);
	free(m->commit);
	mm_net_free(m->net);
	free(m);
}

static mm_status set_str(char **dst, const char *s, mm_err *e)
{
	char *c = strdup(s ? s : "");
	if (!c)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	free(*dst);
	*dst = c;
	return MM_OK;
}

mm_status mm_model_set_class(mm_model *m, int c, const char *name, mm_err *e)
{
	if (c < 0 || c >= m->spec.nclass)
		return mm_errf(e, MM_EUSAGE, "class %d out of range", c);
	return set_str(&m->classes[c], name, e);
}

mm_status mm_model_set_feature(mm_model *m, int f, const char *name, mm_err *e)
{
	if (f < 0 || f >= m->spec.nmod)
		return mm_errf(e, MM_EUSAGE, "feature %d out of range", f);
	return set_str(&m->feat[f], name, e);
}

mm_status mm_model_set_target(mm_model *m, const char *name, bool is_str, mm_err *e)
{
	m->target_is_str = is_str;
	return set_str(&m->target, name, e);
}

int mm_model_feature_index(const mm_model *m, const char *name)
{
	for (int f = 0; f < m->spec.nmod; f++)
		if (m->feat[f] && strcmp(m->feat[f], name) == 0)
			return f;
	return -1;
}

int mm_model_class_index(const mm_model *m, const char *name)
{
	for (int c = 0; c < m->spec.nclass; c++)
		if (m->classes[c] && strcmp(m->classes[c], name) == 0)
			return c;
	return -1;
}

void mm_model_standardize(const mm_model *m, int f, const float *x, size_t n, float *out)
{
	size_t d = (size_t)m->spec.dims[f];
	const float *mu = m->mean[f], *sd = m->std[f];
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			out[i * d + j] = (x[i * d + j] - mu[j]) / sd[j];
}

/* ---- packing ------------------------------------------------------------- */

static void pk_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pk_tensor(msgpack_packer *pk, const float *x, int64_t rows, int64_t cols, int ndim)
{
	size_t n = (size_t)(rows * (ndim == 2 ? cols : 1));
	msgpack_pack_map(pk, 3);
	pk_str(pk, "dtype");
	pk_str(pk, "f32");
	pk_str(pk, "shape");
	msgpack_pack_array(pk, (size_t)ndim);
	msgpack_pack_int64(pk, rows);
	if (ndim == 2)
		msgpack_pack_int64(pk, cols);
	pk_str(pk, "data");
	msgpack_pack_bin(pk, n * 4);
	/* little-endian on every host */
	unsigned char buf[4096];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &x[i], 4);
		buf[k++] = (unsigned char)u;
		buf[k++] = (unsigned char)(u >> 8);
		buf[k++] = (unsigned char)(u >> 16);
		buf[k++] = (unsigned char)(u >> 24);
		if (k == sizeof buf) {
			msgpack_pack_bin_body(pk, buf, k);
			k = 0;
		}
	}
	if (k)
		msgpack_pack_bin_body(pk, buf, k);
}

static void pack_spec(msgpack_packer *pk, const mm_net_spec *s)
{
	bool any_sparse = false;
	for (int f = 0; f < s->nmod; f++)
		any_sparse |= s->sparse[f] > 0;
	msgpack_pack_map(pk, 10 + any_sparse);
	pk_str(pk, "nmod");
	msgpack_pack_int(pk, s->nmod);
	pk_str(pk, "dims");
	msgpack_pack_array(pk, (size_t)s->nmod);
	for (int f = 0; f < s->nmod; f++)
		msgpack_pack_int(pk, s->dims[f]);
	pk_str(pk, "proj");
	msgpack_pack_int(pk, s->proj);
	pk_str(pk, "act");
	pk_str(pk, mm_act_name(s->act));
	pk_str(pk, "fusion");
	pk_str(pk, mm_fusion_name(s->fusion));
	pk_str(pk, "bilinear_dim");
	msgpack_pack_int(pk, s->bilinear_dim);
	pk_str(pk, "hidden");
	msgpack_pack_int(pk, s->hidden);
	pk_str(pk, "layers");
	msgpack_pack_int(pk, s->layers);
	pk_str(pk, "nclass");
	msgpack_pack_int(pk, s->nclass);
	pk_str(pk, "dropout");
	msgpack_pack_float(pk, s->dropout);
	if (any_sparse) {
		pk_str(pk, "sparse");
		msgpack_pack_array(pk, (size_t)s->nmod);
		for (int f = 0; f < s->nmod; f++)
			msgpack_pack_int(pk, s->sparse[f]);
	}
}

static void pack_tspec(msgpack_packer *pk, const mm_transformer_spec *t)
{
	msgpack_pack_map(pk, 8);
	pk_str(pk, "nmod");
	msgpack_pack_int(pk, t->nmod);
	pk_str(pk, "dims");
	msgpack_pack_array(pk, (size_t)t->nmod);
	for (int f = 0; f < t->nmod; f++)
		msgpack_pack_int(pk, t->in[f].D);
	pk_str(pk, "tokens");
	msgpack_pack_array(pk, (size_t)t->nmod);
	for (int f = 0; f < t->nmod; f++)
		msgpack_pack_int(pk, t->in[f].T);
	pk_str(pk, "width");
	msgpack_pack_int(pk, t->width);
	pk_str(pk, "depth");
	msgpack_pack_int(pk, t->depth);
	pk_str(pk, "heads");
	msgpack_pack_int(pk, t->heads);
	pk_str(pk, "ffn");
	msgpack_pack_int(pk, t->ffn);
	pk_str(pk, "nclass");
	msgpack_pack_int(pk, t->nclass);
}

static void pk_int(msgpack_packer *pk, const char *key, int v)
{
	pk_str(pk, key);
	msgpack_pack_int(pk, v);
}

static void pack_mspec(msgpack_packer *pk, const mm_mome_spec *s)
{
	msgpack_pack_map(pk, 16);
	pk_str(pk, "grids");
	msgpack_pack_array(pk, (size_t)s->nenc);
	for (int m = 0; m < s->nenc; m++) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_int(pk, s->gh[m]);
		msgpack_pack_int(pk, s->gw[m]);
		msgpack_pack_int(pk, s->gd[m]);
	}
	pk_int(pk, "edim", s->edim);
	pk_int(pk, "tokens", s->tokens);
	pk_str(pk, "transform");
	pk_str(pk, mm_move_transform_name(s->transform));
	pk_str(pk, "aggregate");
	pk_str(pk, mm_move_aggregate_name(s->aggregate));
	pk_int(pk, "points", s->points);
	pk_int(pk, "width", s->width);
	pk_int(pk, "depth", s->depth);
	pk_int(pk, "heads", s->heads);
	pk_int(pk, "ffn", s->ffn);
	pk_int(pk, "nclass", s->nclass);
	pk_int(pk, "adapters", s->mole.adapters);
	pk_str(pk, "adapter_route");
	pk_str(pk, mm_mole_route_name(s->mole.route));
	pk_int(pk, "adapter_dim", s->mole.dim);
	pk_str(pk, "gumbel");
	msgpack_pack_float(pk, s->mole.gumbel);
	pk_str(pk, "balance");
	msgpack_pack_float(pk, s->mole.balance);
}

mm_status mm_model_pack(const mm_model *m, msgpack_sbuffer *sb, mm_err *e)
{
	const mm_net_spec *s = &m->spec;
	for (int c = 0; c < s->nclass; c++)
		if (!m->classes[c])
			return mm_errf(e, MM_EUSAGE, "class %d has no name", c);
	for (int f = 0; f < s->nmod; f++)
		if (!m->feat[f])
			return mm_errf(e, MM_EUSAGE, "feature %d has no name", f);
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 13);
	pk_str(&pk, "format");
	pk_str(&pk, "mmoe-model");
	pk_str(&pk, "version");
	msgpack_pack_int(&pk, MM_MODEL_VERSION);
	pk_str(&pk, "arch");
	pk_str(&pk, mm_arch_name(m->arch));
	pk_str(&pk, "spec");
	if (m->arch == MM_ARCH_TRANSFORMER)
		pack_tspec(&pk, &m->tspec);
	else if (m->arch == MM_ARCH_MOME)
		pack_mspec(&pk, &m->mspec);
	else
		pack_spec(&pk, s);
	pk_str(&pk, "target");
	pk_str(&pk, m->target ? m->target : "label");
	pk_str(&pk, "target_type");
	pk_str(&pk, m->target_is_str ? "str" : "int");
	pk_str(&pk, "classes");
	msgpack_pack_array(&pk, (size_t)s->nclass);
	for (int c = 0; c < s->nclass; c++)
		pk_str(&pk, m->classes[c]);

	pk_str(&pk, "features");
	msgpack_pack_array(&pk, (size_t)s->nmod);
	for (int f = 0; f < s->nmod; f++) {
		const mm_colmap *cm = m->cols[f];
		msgpack_pack_map(&pk, 4 + (cm != NULL));
		pk_str(&pk, "name");
		pk_str(&pk, m->feat[f]);
		pk_str(&pk, "dim");
		msgpack_pack_int(&pk, s->dims[f]);
		pk_str(&pk, "mean");
		pk_tensor(&pk, m->mean[f], s->dims[f], 1, 1);
		pk_str(&pk, "std");
		pk_tensor(&pk, m->std[f], s->dims[f], 1, 1);
		if (cm) {
			mm_sparse sv = { .dim = cm->dim, .nnz = cm->m, .idx = cm->col, .val = cm->scale };
			pk_str(&pk, "columns");
			mm_sparse_pack(&pk, &sv);
		}
	}

	const mm_fit_params *p = &m->fit;
	pk_str(&pk, "train");
	msgpack_pack_map(&pk, 19);
	pk_str(&pk, "epochs");
	msgpack_pack_int(&pk, p->epochs);
	pk_str(&pk, "batch");
	msgpack_pack_int(&pk, p->batch);
	pk_str(&pk, "lr");
	msgpack_pack_float(&pk, p->lr);
	pk_str(&pk, "weight_decay");
	msgpack_pack_float(&pk, p->weight_decay);
	pk_str(&pk, "warmup");
	msgpack_pack_float(&pk, p->warmup);
	pk_str(&pk, "clip");
	msgpack_pack_float(&pk, p->clip);
	pk_str(&pk, "loss");
	pk_str(&pk, mm_loss_name(p->loss));
	pk_str(&pk, "alpha");
	msgpack_pack_float(&pk, p->alpha);
	pk_str(&pk, "gamma");
	msgpack_pack_float(&pk, p->gamma);
	pk_str(&pk, "class_weights");
	if (m->class_w) {
		msgpack_pack_array(&pk, (size_t)s->nclass);
		for (int c = 0; c < s->nclass; c++)
			msgpack_pack_float(&pk, m->class_w[c]);
	} else {
		msgpack_pack_nil(&pk);
	}
	pk_str(&pk, "select");
	pk_str(&pk, mm_select_name(p->select));
	pk_str(&pk, "patience");
	msgpack_pack_int(&pk, p->patience);
	pk_str(&pk, "seed");
	msgpack_pack_uint64(&pk, p->seed);
	pk_str(&pk, "best_epoch");
	msgpack_pack_int(&pk, m->best_epoch);
	pk_str(&pk, "best_metric");
	msgpack_pack_double(&pk, m->best_metric);
	pk_str(&pk, "epochs_run");
	msgpack_pack_int(&pk, m->epochs_run);
	pk_str(&pk, "n_train");
	msgpack_pack_uint64(&pk, m->n_train);
	pk_str(&pk, "n_val");
	msgpack_pack_uint64(&pk, m->n_val);
	pk_str(&pk, "init");
	if (m->init)
		pk_str(&pk, m->init);
	else
		msgpack_pack_nil(&pk);

	pk_str(&pk, "data_hash");
	msgpack_pack_uint64(&pk, m->data_hash);
	pk_str(&pk, "commit");
	pk_str(&pk, m->commit ? m->commit : MM_COMMIT);

	pk_str(&pk, "graph");
	mm_net_pack_graph(m->net, &pk);
	pk_str(&pk, "params");
	mm_net_pack_params(m->net, &pk);
	return MM_OK;
}

/* ---- graphs and parameters -------------------------------------------------- */

void mm_net_pack_graph(const mm_net *net, msgpack_packer *pk)
{
	int nn = mm_net_nnodes(net);
	mm_node_info out;
	msgpack_pack_map(pk, 2);
	pk_str(pk, "nodes");
	msgpack_pack_array(pk, (size_t)nn);
	for (int i = 0; i < nn; i++) {
		mm_node_info ni;
		mm_net_node(net, i, &ni);
		msgpack_pack_map(pk, 4);
		pk_str(pk, "name");
		pk_str(pk, ni.name);
		pk_str(pk, "kind");
		pk_str(pk, ni.op->name);
		pk_str(pk, "in");
		msgpack_pack_array(pk, (size_t)ni.nin);
		for (int k = 0; k < ni.nin; k++) {
			mm_node_info src;
			mm_net_node(net, ni.in[k], &src);
			pk_str(pk, src.name);
		}
		pk_str(pk, "conf");
		msgpack_pack_map(pk, (size_t)ni.op->conf_nfields);
		for (int f = 0; f < ni.op->conf_nfields; f++) {
			const mm_conf_field *d = &ni.op->conf_fields[f];
			const char *at = (const char *)ni.conf + d->offset;
			pk_str(pk, d->key);
			if (d->type == MM_CONF_INT) {
				int v;
				memcpy(&v, at, sizeof v);
				msgpack_pack_int(pk, v);
			} else {
				float v;
				memcpy(&v, at, sizeof v);
				msgpack_pack_float(pk, v);
			}
		}
	}
	mm_net_node(net, mm_net_output(net), &out);
	pk_str(pk, "output");
	pk_str(pk, out.name);
}

void mm_net_pack_params(mm_net *net, msgpack_packer *pk)
{
	size_t np;
	mm_param *prm = mm_net_params(net, &np);
	msgpack_pack_array(pk, np);
	for (size_t i = 0; i < np; i++) {
		msgpack_pack_map(pk, 2);
		pk_str(pk, "name");
		pk_str(pk, prm[i].name);
		pk_str(pk, "tensor");
		pk_tensor(pk, prm[i].w, prm[i].shape[0], prm[i].shape[1], 2);
	}
}

mm_status mm_model_save(const mm_model *m, const char *path, mm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	mm_status st = mm_model_pack(m, &sb, e);
	mm_writer *w = NULL;
	if (st == MM_OK)
		st = mm_writer_open(&w, path, MM_LEVEL_DEFAULT, e);
	if (st == MM_OK) {
		st = mm_writer_put_raw(w, sb.data, sb.size, e);
		if (st == MM_OK)
			st = mm_writer_close(w, e);
		else
			mm_writer_abort(w);
	}
	msgpack_sbuffer_destroy(&sb);
	if (st != MM_OK && e) {
		/* the writer's messages begin with the path: say "model" once before it */
		size_t n = strlen(path);
		if (strncmp(e->msg, path, n) == 0 && e->msg[n] == ':') {
			char old[sizeof e->msg];
			memcpy(old, e->msg, sizeof old);
			snprintf(e->msg, sizeof e->msg, "model %.1000s", old);
		} else {
			mm_err_prefix(e, "model %s", path);
		}
	}
	return st;
}

/* ---- unpacking ------------------------------------------------------------- */

typedef struct uctx {
	const char *name;
	mm_err *e;
} uctx;

static const msgpack_object *oget(const msgpack_object *map, const char *key)
{
	if (map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	size_t n = strlen(key);
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
				memcmp(k->via.str.ptr, key, n) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static mm_status bad(uctx *u, const char *field, const char *want, const msgpack_object *o)
{
	if (!o)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\" is missing", u->name, field);
	return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": expected %s, got %s",
			u->name, field, want, mm_obj_typename(o));
}

static mm_status need(uctx *u, const msgpack_object *map, const char *key, const char *path,
		msgpack_object_type t, const msgpack_object **out)
{
	const msgpack_object *o = oget(map, key);
	static const char *tn[] = { [MSGPACK_OBJECT_MAP] = "a map", [MSGPACK_OBJECT_ARRAY] = "an array",
		[MSGPACK_OBJECT_STR] = "a string" };
	if (!o || o->type != t)
		return bad(u, path, tn[t] ? tn[t] : "a value", o);
	*out = o;
	return MM_OK;
}

static mm_status get_i64(uctx *u, const msgpack_object *map, const char *key, const char *path,
		int64_t lo, int64_t hi, int64_t *out)
{
	const msgpack_object *o = oget(map, key);
	int64_t v = 0;
	if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
		v = (int64_t)o->via.u64;
	else if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		v = o->via.i64;
	else
		return bad(u, path, "an integer", o);
	if (v < lo || v > hi)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": %lld out of range %lld..%lld",
				u->name, path, (long long)v, (long long)lo, (long long)hi);
	*out = v;
	return MM_OK;
}

static mm_status get_int(uctx *u, const msgpack_object *map, const char *key, const char *path,
		int lo, int hi, int *out)
{
	int64_t v = 0;
	mm_status st = get_i64(u, map, key, path, lo, hi, &v);
	if (st == MM_OK)
		*out = (int)v;
	return st;
}

static mm_status get_u64(uctx *u, const msgpack_object *map, const char *key, const char *path,
		uint64_t *out)
{
	const msgpack_object *o = oget(map, key);
	if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(u, path, "an unsigned integer", o);
	*out = o->via.u64;
	return MM_OK;
}

static mm_status get_num(uctx *u, const msgpack_object *map, const char *key, const char *path,
		double *out)
{
	const msgpack_object *o = oget(map, key);
	if (!o)
		return bad(u, path, "a number", o);
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*out = o->via.f64;
		return MM_OK;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*out = (double)o->via.u64;
		return MM_OK;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*out = (double)o->via.i64;
		return MM_OK;
	default:
		return bad(u, path, "a number", o);
	}
}

static mm_status get_float(uctx *u, const msgpack_object *map, const char *key, const char *path,
		float *out)
{
	double v;
	mm_status st = get_num(u, map, key, path, &v);
	if (st == MM_OK && !isfinite(v))
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": not a finite number", u->name, path);
	if (st == MM_OK)
		*out = (float)v;
	return st;
}

/* Strings in a model file are names that --info prints as JSON: valid
 * UTF-8 without NUL.  Returns the byte offset of the first bad byte, or -1. */
static long bad_utf8(const msgpack_object *o)
{
	const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)o->via.str.ptr;
	size_t n = o->via.str.size;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(n - i), &c);
		if (k <= 0 || c == 0)
			return (long)i;
		i += (size_t)k;
	}
	return -1;
}

/* A NUL-terminated malloc'ed copy of a string object. */
static char *dupobj(const msgpack_object *o)
{
	char *s = malloc(o->via.str.size + 1);
	if (s) {
		memcpy(s, o->via.str.ptr, o->via.str.size);
		s[o->via.str.size] = 0;
	}
	return s;
}

static mm_status get_str(uctx *u, const msgpack_object *map, const char *key, const char *path,
		char **out)
{
	const msgpack_object *o = NULL;
	mm_status st = need(u, map, key, path, MSGPACK_OBJECT_STR, &o);
	if (st != MM_OK)
		return st;
	if (memchr(o->via.str.ptr, 0, o->via.str.size))
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": string contains NUL", u->name, path);
	long at = bad_utf8(o);
	if (at >= 0)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": invalid UTF-8 at byte %ld",
				u->name, path, at);
	if (!(*out = dupobj(o)))
		return mm_errf(u->e, MM_ENOMEM, "out of memory");
	return MM_OK;
}

static mm_status get_enum(uctx *u, const msgpack_object *map, const char *key, const char *path,
		int (*parse)(const char *), int *out)
{
	char *s = NULL;
	mm_status st = get_str(u, map, key, path, &s);
	if (st != MM_OK)
		return st;
	int v = parse(s);
	if (v < 0)
		st = mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": unknown value \"%s\"", u->name, path, s);
	free(s);
	*out = v;
	return st;
}

/* Read a tensor of exactly n values into dst. */
static mm_status get_tensor(uctx *u, const msgpack_object *o, const char *path,
		int64_t rows, int64_t cols, int ndim, float *dst)
{
	if (!o || !mm_obj_is_tensor(o))
		return bad(u, path, "a tensor", o);
	mm_tensor t = { 0 };
	mm_err te;
	mm_status st = mm_tensor_from_obj(&t, o, true, &te);
	if (st != MM_OK)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": %s", u->name, path, te.msg);
	bool okshape = t.ndim == ndim && t.shape[0] == rows && (ndim == 1 || t.shape[1] == cols);
	if (!okshape) {
		char got[64] = "";
		for (int i = 0; i < t.ndim && i < 4; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
					(long long)t.shape[i]);
		mm_tensor_free(&t);
		if (ndim == 1)
			return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": expected shape [%lld], got [%s]",
					u->name, path, (long long)rows, got);
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": expected shape [%lld,%lld], got [%s]",
				u->name, path, (long long)rows, (long long)cols, got);
	}
	memcpy(dst, t.data, t.n * sizeof(float));
	mm_tensor_free(&t);
	return MM_OK;
}

/* A string object as a NUL-terminated name in buf (false when not a string,
 * empty, too long or holding a NUL). */
static bool obj_name(const msgpack_object *o, char *buf, size_t cap)
{
	if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size >= cap ||
			bad_utf8(o) >= 0)
		return false;
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = 0;
	return true;
}

/* One node's settings from its "conf" map into c (conf_size bytes): every
 * declared key must be there, no other. */
static mm_status unpack_conf(uctx *u, const mm_layer *op, const msgpack_object *co,
		const char *path, void *c)
{
	char key[160];
	if (!co || co->type != MSGPACK_OBJECT_MAP)
		return bad(u, path, "a map", co);
	if ((int)co->via.map.size != op->conf_nfields)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": %u settings, a %s node has %d",
				u->name, path, co->via.map.size, op->name, op->conf_nfields);
	for (int f = 0; f < op->conf_nfields; f++) {
		const mm_conf_field *d = &op->conf_fields[f];
		snprintf(key, sizeof key, "%s.%s", path, d->key);
		char *at = (char *)c + d->offset;
		if (d->type == MM_CONF_INT) {
			int v;
			mm_status st = get_int(u, co, d->key, key, (int)d->lo, (int)d->hi, &v);
			if (st != MM_OK)
				return st;
			memcpy(at, &v, sizeof v);
		} else {
			float v;
			mm_status st = get_float(u, co, d->key, key, &v);
			if (st != MM_OK)
				return st;
			memcpy(at, &v, sizeof v);
		}
	}
	return MM_OK;
}

mm_status mm_net_unpack_graph(mm_net **out, const msgpack_object *g, const char *name, mm_err *e)
{
	uctx u = { name, e };
	const msgpack_object *nodes = NULL;
	mm_status st = need(&u, g, "nodes", "graph.nodes", MSGPACK_OBJECT_ARRAY, &nodes);
	if (st != MM_OK)
		return st;
	uint32_t nn = nodes->via.array.size;
	mm_shape shapes[MM_NET_MAXMOD];
	int nmod = 0;
	char path[96], nm[MM_NAME_MAX];
	/* the inputs come first */
	for (; nmod < (int)nn; nmod++) {
		const msgpack_object *no = &nodes->via.array.ptr[nmod];
		if (!obj_name(oget(no, "kind"), nm, sizeof nm) || strcmp(nm, "input") != 0)
			break;
		if (nmod == MM_NET_MAXMOD)
			return mm_errf(e, MM_ECORRUPT, "model %s: field \"graph.nodes\": more than %d inputs",
					name, MM_NET_MAXMOD);
		mm_input_conf c = { 0 };
		snprintf(path, sizeof path, "graph.nodes[%d].conf", nmod);
		if ((st = unpack_conf(&u, &mm_layer_input, oget(no, "conf"), path, &c)) != MM_OK)
			return st;
		shapes[nmod] = (mm_shape){ c.T, c.D };
	}
	if (nmod == 0)
		return mm_errf(e, MM_ECORRUPT, "model %s: field \"graph.nodes\": the graph has no inputs", name);
	mm_net *net;
	if ((st = mm_net_new_shaped(&net, nmod, shapes, e)) != MM_OK) {
		mm_err_prefix(e, "model %s: field \"graph.nodes\"", name);
		return st;
	}
	unsigned char conf[256];
	for (uint32_t i = 0; i < nn; i++) {
		const msgpack_object *no = &nodes->via.array.ptr[i], *ino = NULL;
		char kind[32], nodename[MM_NAME_MAX];
		snprintf(path, sizeof path, "graph.nodes[%u]", i);
		if (no->type != MSGPACK_OBJECT_MAP) {
			st = bad(&u, path, "a map", no);
			goto fail;
		}
		snprintf(path, sizeof path, "graph.nodes[%u].name", i);
		if (!obj_name(oget(no, "name"), nodename, sizeof nodename)) {
			st = bad(&u, path, "a node name", oget(no, "name"));
			goto fail;
		}
		snprintf(path, sizeof path, "graph.nodes[%u].kind", i);
		if (!obj_name(oget(no, "kind"), kind, sizeof kind)) {
			st = bad(&u, path, "a layer kind", oget(no, "kind"));
			goto fail;
		}
		const mm_layer *op = mm_layer_find(kind);
		if (!op) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: node \"%s\": unknown layer kind \"%s\" "
					"(a newer build's model?)", name, nodename, kind);
			goto fail;
		}
		if ((i < (uint32_t)nmod) != (op->kind == MM_NODE_INPUT)) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: node \"%s\": inputs must come first", name, nodename);
			goto fail;
		}
		if (i < (uint32_t)nmod) {
			mm_node_info ni;
			mm_net_node(net, (int)i, &ni);
			if (strcmp(ni.name, nodename) != 0) { /* inputs are named in<m> */
				st = mm_errf(e, MM_ECORRUPT, "model %s: input %u is called \"%s\", expected \"%s\"",
						name, i, nodename, ni.name);
				goto fail;
			}
			continue;
		}
		snprintf(path, sizeof path, "graph.nodes[%u].in", i);
		if ((st = need(&u, no, "in", path, MSGPACK_OBJECT_ARRAY, &ino)) != MM_OK)
			goto fail;
		int in[MM_LAYER_MAXIN];
		if (ino->via.array.size > MM_LAYER_MAXIN) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: node \"%s\": %u inputs", name, nodename,
					ino->via.array.size);
			goto fail;
		}
		for (uint32_t k = 0; k < ino->via.array.size; k++) {
			in[k] = obj_name(&ino->via.array.ptr[k], nm, sizeof nm) ? mm_net_node_id(net, nm) : -1;
			if (in[k] < 0) {
				st = mm_errf(e, MM_ECORRUPT, "model %s: node \"%s\": input %u is not an earlier node",
						name, nodename, k);
				goto fail;
			}
		}
		assert(op->conf_size <= sizeof conf);
		memset(conf, 0, sizeof conf);
		snprintf(path, sizeof path, "graph.nodes[%u].conf", i);
		if ((st = unpack_conf(&u, op, oget(no, "conf"), path, conf)) != MM_OK)
			goto fail;
		if (mm_net_add(net, op->kind, nodename, in, (int)ino->via.array.size,
					op->conf_size ? conf : NULL, e) < 0) {
			mm_err_prefix(e, "model %s", name);
			st = MM_ECORRUPT;
			if (e)
				e->status = st;
			goto fail;
		}
	}
	int outid = obj_name(oget(g, "output"), nm, sizeof nm) ? mm_net_node_id(net, nm) : -1;
	if (outid < 0) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: field \"graph.output\": not a node of the graph", name);
		goto fail;
	}
	if ((st = mm_net_finish(net, outid, e)) != MM_OK) {
		mm_err_prefix(e, "model %s", name);
		goto fail;
	}
	*out = net;
	return MM_OK;
fail:
	mm_net_free(net);
	return st;
}

/* "a, b, c" (then "and N more"): the non-NULL names get(ctx, i) for i < n. */
static void list_names(char *buf, size_t cap, const char *(*get)(void *, size_t), void *ctx, size_t n)
{
	size_t k = 0, len = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const char *nm = get(ctx, i);
		if (!nm)
			continue;
		if (k < 8 && len < cap)
			len += (size_t)snprintf(buf + len, cap - len, "%s%s", k ? ", " : "", nm);
		k++;
	}
	if (k > 8 && len < cap)
		snprintf(buf + len, cap - len, " and %zu more", k - 8);
}

typedef struct pmatch {
	mm_param *prm;
	const msgpack_object *arr;
	bool *seen;        /* per parameter of the net */
	char (*fname)[MM_NAME_MAX]; /* per file entry, "" when matched */
} pmatch;

static const char *missing_at(void *c, size_t i)
{
	pmatch *m = c;
	return m->seen[i] ? NULL : m->prm[i].name;
}

static const char *unexpected_at(void *c, size_t i)
{
	pmatch *m = c;
	return m->fname[i][0] ? m->fname[i] : NULL;
}

mm_status mm_net_unpack_params(mm_net *net, const msgpack_object *arr, const char *name, mm_err *e)
{
	uctx u = { name, e };
	if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
		return bad(&u, "params", "an array", arr);
	size_t np, nf = arr->via.array.size;
	mm_param *prm = mm_net_params(net, &np);
	pmatch m = { prm, arr, calloc(np ? np : 1, sizeof *m.seen), calloc(nf ? nf : 1, sizeof *m.fname) };
	mm_status st = MM_OK;
	size_t nmiss = 0, nunexp = 0;
	if (!m.seen || !m.fname) {
		st = mm_errf(e, MM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nf; i++) {
		const msgpack_object *po = &arr->via.array.ptr[i];
		char path[160], nm[MM_NAME_MAX];
		snprintf(path, sizeof path, "params[%zu].name", i);
		if (!obj_name(oget(po, "name"), nm, sizeof nm)) {
			st = bad(&u, path, "a parameter name", oget(po, "name"));
			goto out;
		}
		mm_param *p = mm_net_param(net, nm);
		if (!p) {
			snprintf(m.fname[i], MM_NAME_MAX, "%s", nm);
			nunexp++;
			continue;
		}
		if (m.seen[p - prm]) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: parameter \"%s\" appears twice", name, nm);
			goto out;
		}
		m.seen[p - prm] = true;
		snprintf(path, sizeof path, "params[%zu] (%s)", i, nm);
		if ((st = get_tensor(&u, oget(po, "tensor"), path, p->shape[0], p->shape[1], 2, p->w)) != MM_OK)
			goto out;
	}
	for (size_t i = 0; i < np; i++)
		nmiss += !m.seen[i];
	if (nmiss || nunexp) {
		char a[512], b[512];
		list_names(a, sizeof a, missing_at, &m, np);
		list_names(b, sizeof b, unexpected_at, &m, nf);
		st = mm_errf(e, MM_ECORRUPT, "model %s: the parameters do not match the graph: "
				"%zu missing%s%s%s, %zu unexpected%s%s%s", name,
				nmiss, nmiss ? " [" : "", a, nmiss ? "]" : "",
				nunexp, nunexp ? " [" : "", b, nunexp ? "]" : "");
	}
out:
	free(m.seen);
	free(m.fname);
	return st;
}

typedef struct cmatch {
	mm_param *a, *b;     /* dst's and src's registries */
	bool *hit_a, *hit_b; /* matched by name */
	const char *skip;    /* "<node>." prefix left alone, or NULL */
} cmatch;

/* A parameter of the skipped node: "<node>.<tensor>", the tensor without a dot. */
static bool skipped(const cmatch *c, const char *name)
{
	size_t n = c->skip ? strlen(c->skip) : 0;
	return c->skip && strncmp(name, c->skip, n) == 0 && !strchr(name + n, '.');
}

static const char *dst_only(void *ctx, size_t i)
{
	cmatch *c = ctx;
	return c->hit_a[i] || skipped(c, c->a[i].name) ? NULL : c->a[i].name;
}

static const char *src_only(void *ctx, size_t i)
{
	cmatch *c = ctx;
	return c->hit_b[i] || skipped(c, c->b[i].name) ? NULL : c->b[i].name;
}

mm_status mm_net_copy_by_name(mm_net *dst, mm_net *src, const char *skip_node, bool partial,
		char *note, size_t note_cap, mm_err *e)
{
	size_t na, nb, nmiss = 0, nunexp = 0;
	char skip[MM_NAME_MAX + 1] = "";
	if (skip_node)
		snprintf(skip, sizeof skip, "%s.", skip_node);
	cmatch c = { mm_net_params(dst, &na), mm_net_params(src, &nb), NULL, NULL,
		skip_node ? skip : NULL };
	mm_status st = MM_OK;
	c.hit_a = calloc(na ? na : 1, sizeof *c.hit_a);
	c.hit_b = calloc(nb ? nb : 1, sizeof *c.hit_b);
	if (note_cap)
		note[0] = 0;
	if (!c.hit_a || !c.hit_b) {
		st = mm_errf(e, MM_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < nb; j++) {
		mm_param *p = mm_net_param(dst, c.b[j].name);
		if (!p || skipped(&c, p->name))
			continue;
		if (p->shape[0] != c.b[j].shape[0] || p->shape[1] != c.b[j].shape[1]) {
			st = mm_errf(e, MM_EVALUE, "parameter %s has shape [%lld,%lld], expected [%lld,%lld]",
					p->name, (long long)c.b[j].shape[0], (long long)c.b[j].shape[1],
					(long long)p->shape[0], (long long)p->shape[1]);
			goto out;
		}
		c.hit_a[p - c.a] = c.hit_b[j] = true;
	}
	for (size_t i = 0; i < na; i++)
		nmiss += dst_only(&c, i) != NULL;
	for (size_t j = 0; j < nb; j++)
		nunexp += src_only(&c, j) != NULL;
	if (nmiss || nunexp) {
		char a[512], b[512];
		list_names(a, sizeof a, dst_only, &c, na);
		list_names(b, sizeof b, src_only, &c, nb);
		if (!partial) {
			st = mm_errf(e, MM_EVALUE, "the parameters do not match: %zu missing%s%s%s, "
					"%zu unexpected%s%s%s", nmiss, nmiss ? " [" : "", a, nmiss ? "]" : "",
					nunexp, nunexp ? " [" : "", b, nunexp ? "]" : "");
			goto out;
		}
		if (note_cap)
			snprintf(note, note_cap, "%zu parameters start afresh%s%s%s, %zu are not used%s%s%s",
					nmiss, nmiss ? " [" : "", a, nmiss ? "]" : "",
					nunexp, nunexp ? " [" : "", b, nunexp ? "]" : "");
	}
	for (size_t i = 0; i < na; i++)
		if (c.hit_a[i])
			memcpy(c.a[i].w, mm_net_param(src, c.a[i].name)->w, c.a[i].n * sizeof(float));
out:
	free(c.hit_a);
	free(c.hit_b);
	return st;
}

#define TRY(x) do { st = (x); if (st != MM_OK) goto fail; } while (0)

/* Version 2: the net is the file's graph, its parameters matched by name.
 * The spec stays a description, which the graph must agree with where the
 * tools rely on it (inputs and classes). */
static mm_status unpack_net_v2(uctx *u, const msgpack_object *o, const mm_net_spec *s, mm_model *m)
{
	const msgpack_object *g = NULL;
	mm_net *net;
	mm_status st = need(u, o, "graph", "graph", MSGPACK_OBJECT_MAP, &g);
	if (st != MM_OK || (st = mm_net_unpack_graph(&net, g, u->name, u->e)) != MM_OK)
		return st;
	bool agree = mm_net_nmod(net) == s->nmod && mm_net_nout(net) == s->nclass;
	for (int f = 0; agree && f < s->nmod; f++)
		agree = mm_net_dim(net, f) == mm_net_dim(m->net, f) && mm_net_rows(net, f) == mm_net_rows(m->net, f);
	if (!agree) {
		mm_net_free(net);
		return mm_errf(u->e, MM_ECORRUPT, "model %s: the graph's inputs or outputs do not "
				"match the spec (dims, nclass)", u->name);
	}
	mm_net_free(m->net);
	m->net = net;
	return mm_net_unpack_params(net, oget(o, "params"), u->name, u->e);
}

/* A transformer's spec (model.h) into a new model. */
static mm_status unpack_tspec(uctx *u, const msgpack_object *spec, mm_model **out)
{
	mm_transformer_spec t;
	memset(&t, 0, sizeof t);
	const msgpack_object *arr[2] = { NULL, NULL };
	static const char *const key[2] = { "dims", "tokens" };
	mm_status st = get_int(u, spec, "nmod", "spec.nmod", 1, MM_NET_MAXMOD, &t.nmod);
	for (int k = 0; k < 2 && st == MM_OK; k++) {
		char path[32];
		snprintf(path, sizeof path, "spec.%s", key[k]);
		if ((st = need(u, spec, key[k], path, MSGPACK_OBJECT_ARRAY, &arr[k])) != MM_OK)
			break;
		if ((int)arr[k]->via.array.size != t.nmod)
			return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": %u entries for %d inputs",
					u->name, path, arr[k]->via.array.size, t.nmod);
		for (int f = 0; f < t.nmod; f++) {
			const msgpack_object *x = &arr[k]->via.array.ptr[f];
			if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 < 1 || x->via.u64 > (1u << 20))
				return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": entry %d is not a "
						"positive size", u->name, path, f);
			*(k ? &t.in[f].T : &t.in[f].D) = (int)x->via.u64;
		}
	}
	if (st != MM_OK ||
			(st = get_int(u, spec, "width", "spec.width", 1, 1 << 16, &t.width)) != MM_OK ||
			(st = get_int(u, spec, "depth", "spec.depth", 0, 256, &t.depth)) != MM_OK ||
			(st = get_int(u, spec, "heads", "spec.heads", 1, 1 << 16, &t.heads)) != MM_OK ||
			(st = get_int(u, spec, "ffn", "spec.ffn", 1, 1 << 20, &t.ffn)) != MM_OK ||
			(st = get_int(u, spec, "nclass", "spec.nclass", 2, 65536, &t.nclass)) != MM_OK)
		return st;
	const char *msg = mm_transformer_spec_check(&t);
	if (msg)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: invalid spec: %s", u->name, msg);
	return mm_model_new_transformer(out, &t, u->e);
}

/* A MoME spec (model.h) into a new model. */
static mm_status unpack_mspec(uctx *u, const msgpack_object *spec, mm_model **out)
{
	mm_mome_spec s;
	memset(&s, 0, sizeof s);
	const msgpack_object *arr = NULL;
	mm_status st = need(u, spec, "grids", "spec.grids", MSGPACK_OBJECT_ARRAY, &arr);
	if (st != MM_OK)
		return st;
	s.nenc = (int)arr->via.array.size;
	if (s.nenc < 1 || s.nenc > MM_MOME_MAXENC)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"spec.grids\": %d grids, expected "
				"1..%d", u->name, s.nenc, MM_MOME_MAXENC);
	for (int m = 0; m < s.nenc; m++) {
		const msgpack_object *g = &arr->via.array.ptr[m];
		int v[3];
		for (int k = 0; k < 3; k++) {
			const msgpack_object *x = g->type == MSGPACK_OBJECT_ARRAY && g->via.array.size == 3 ?
				&g->via.array.ptr[k] : NULL;
			if (!x || x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 < 1 ||
					x->via.u64 > (1u << 16))
				return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"spec.grids\": entry %d "
						"is not [H, W, D]", u->name, m);
			v[k] = (int)x->via.u64;
		}
		s.gh[m] = v[0], s.gw[m] = v[1], s.gd[m] = v[2];
	}
	if ((st = get_int(u, spec, "edim", "spec.edim", 1, 1 << 24, &s.edim)) != MM_OK ||
			(st = get_int(u, spec, "tokens", "spec.tokens", 1, 64, &s.tokens)) != MM_OK ||
			(st = get_enum(u, spec, "transform", "spec.transform", mm_move_transform_parse,
				       &s.transform)) != MM_OK ||
			(st = get_enum(u, spec, "aggregate", "spec.aggregate", mm_move_aggregate_parse,
				       &s.aggregate)) != MM_OK ||
			(st = get_int(u, spec, "points", "spec.points", 0, 64, &s.points)) != MM_OK ||
			(st = get_int(u, spec, "width", "spec.width", 1, 1 << 16, &s.width)) != MM_OK ||
			(st = get_int(u, spec, "depth", "spec.depth", 0, 256, &s.depth)) != MM_OK ||
			(st = get_int(u, spec, "heads", "spec.heads", 1, 1 << 16, &s.heads)) != MM_OK ||
			(st = get_int(u, spec, "ffn", "spec.ffn", 1, 1 << 20, &s.ffn)) != MM_OK ||
			(st = get_int(u, spec, "nclass", "spec.nclass", 2, 65536, &s.nclass)) != MM_OK ||
			(st = get_int(u, spec, "adapters", "spec.adapters", 0, 64, &s.mole.adapters)) != MM_OK ||
			(st = get_enum(u, spec, "adapter_route", "spec.adapter_route", mm_mole_route_parse,
				       &s.mole.route)) != MM_OK ||
			(st = get_int(u, spec, "adapter_dim", "spec.adapter_dim", 0, 1 << 16, &s.mole.dim)) != MM_OK ||
			(st = get_float(u, spec, "gumbel", "spec.gumbel", &s.mole.gumbel)) != MM_OK ||
			(st = get_float(u, spec, "balance", "spec.balance", &s.mole.balance)) != MM_OK)
		return st;
	if (!(s.mole.gumbel >= 0 && s.mole.gumbel <= 100 && s.mole.balance >= 0 && s.mole.balance <= 1e3))
		return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"spec.gumbel\" or \"spec.balance\": "
				"out of range", u->name);
	const char *msg = mm_mome_spec_check(&s);
	if (msg)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: invalid spec: %s", u->name, msg);
	return mm_model_new_mome(out, &s, u->e);
}

/* Version 1 named parameters "n<node>.<tensor>" by position in the expert's
 * registry order: the same order today, under today's names. */
static mm_status unpack_params_v1(uctx *u, const msgpack_object *o, mm_model *m)
{
	size_t np;
	mm_param *prm = mm_net_params(m->net, &np);
	const msgpack_object *arr = NULL;
	mm_status st = need(u, o, "params", "params", MSGPACK_OBJECT_ARRAY, &arr);
	if (st != MM_OK)
		return st;
	if (arr->via.array.size != np)
		return mm_errf(u->e, MM_ECORRUPT, "model %s: %u parameter tensors but the architecture has %zu",
				u->name, arr->via.array.size, np);
	for (size_t i = 0; i < np; i++) {
		const msgpack_object *po = &arr->via.array.ptr[i];
		char path[160], nm[MM_NAME_MAX];
		const char *want = strrchr(prm[i].name, '.'), *got;
		snprintf(path, sizeof path, "params[%zu].name", i);
		if (!obj_name(oget(po, "name"), nm, sizeof nm) || nm[0] != 'n' ||
				!(got = strrchr(nm, '.')) || strcmp(got, want) != 0)
			return mm_errf(u->e, MM_ECORRUPT, "model %s: field \"%s\": expected \"n<node>%s\"",
					u->name, path, want);
		snprintf(path, sizeof path, "params[%zu] (%s)", i, nm);
		st = get_tensor(u, oget(po, "tensor"), path, prm[i].shape[0], prm[i].shape[1], 2, prm[i].w);
		if (st != MM_OK)
			return st;
	}
	return MM_OK;
}

mm_status mm_model_unpack(mm_model **out, const msgpack_object *o, const char *name, mm_err *e)
{
	uctx u = { name, e };
	mm_status st;
	mm_model *m = NULL;
	char *fmt = NULL, *arch = NULL, *tt = NULL;
	const msgpack_object *spec = NULL, *arr = NULL, *tr = NULL, *x = NULL;
	if (o->type != MSGPACK_OBJECT_MAP)
		return mm_errf(e, MM_ECORRUPT, "model %s: not a model file (expected a map, got %s)",
				name, mm_obj_typename(o));
	st = get_str(&u, o, "format", "format", &fmt);
	if (st != MM_OK || strcmp(fmt, "mmoe-model") != 0) {
		free(fmt);
		return mm_errf(e, MM_ECORRUPT, "model %s: not an mmoe model file (no format \"mmoe-model\")", name);
	}
	free(fmt);
	int version;
	if ((st = get_int(&u, o, "version", "version", 1, 1 << 20, &version)) != MM_OK)
		return st;
	if (version > MM_MODEL_VERSION)
		return mm_errf(e, MM_ECORRUPT, "model %s: format version %d is newer than this build's %d",
				name, version, MM_MODEL_VERSION);
	if ((st = get_str(&u, o, "arch", "arch", &arch)) != MM_OK)
		return st;
	int ar = mm_arch_parse(arch);
	if (ar < 0 || (ar != MM_ARCH_EXPERT && version < 2)) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: unknown architecture \"%s\"", name, arch);
		free(arch);
		return st;
	}
	free(arch);

	mm_net_spec s;
	memset(&s, 0, sizeof s);
	if ((st = need(&u, o, "spec", "spec", MSGPACK_OBJECT_MAP, &spec)) != MM_OK)
		return st;
	if (ar != MM_ARCH_EXPERT) {
		if ((st = ar == MM_ARCH_MOME ? unpack_mspec(&u, spec, &m) :
					unpack_tspec(&u, spec, &m)) != MM_OK)
			return st;
		s = m->spec;
		goto built;
	}
	if ((st = get_int(&u, spec, "nmod", "spec.nmod", 1, MM_NET_MAXMOD, &s.nmod)) != MM_OK)
		return st;
	if ((st = need(&u, spec, "dims", "spec.dims", MSGPACK_OBJECT_ARRAY, &arr)) != MM_OK)
		return st;
	if ((int)arr->via.array.size != s.nmod)
		return mm_errf(e, MM_ECORRUPT, "model %s: field \"spec.dims\": %u dims for %d modalities",
				name, arr->via.array.size, s.nmod);
	for (int f = 0; f < s.nmod; f++) {
		x = &arr->via.array.ptr[f];
		if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 < 1 || x->via.u64 > (1u << 24))
			return mm_errf(e, MM_ECORRUPT, "model %s: field \"spec.dims\": entry %d is not a dimension",
					name, f);
		s.dims[f] = (int)x->via.u64;
	}
	if ((st = get_int(&u, spec, "proj", "spec.proj", 0, 1 << 16, &s.proj)) != MM_OK ||
			(st = get_enum(&u, spec, "act", "spec.act", mm_act_parse, &s.act)) != MM_OK ||
			(st = get_enum(&u, spec, "fusion", "spec.fusion", mm_fusion_parse, &s.fusion)) != MM_OK ||
			(st = get_int(&u, spec, "bilinear_dim", "spec.bilinear_dim", 0, 4096, &s.bilinear_dim)) != MM_OK ||
			(st = get_int(&u, spec, "hidden", "spec.hidden", 1, 1 << 16, &s.hidden)) != MM_OK ||
			(st = get_int(&u, spec, "layers", "spec.layers", 0, 64, &s.layers)) != MM_OK ||
			(st = get_int(&u, spec, "nclass", "spec.nclass", 2, 65536, &s.nclass)) != MM_OK ||
			(st = get_float(&u, spec, "dropout", "spec.dropout", &s.dropout)) != MM_OK)
		return st;
	if ((arr = oget(spec, "sparse"))) {
		if (arr->type != MSGPACK_OBJECT_ARRAY || (int)arr->via.array.size != s.nmod)
			return mm_errf(e, MM_ECORRUPT, "model %s: field \"spec.sparse\": expected %d "
					"column counts", name, s.nmod);
		for (int f = 0; f < s.nmod; f++) {
			x = &arr->via.array.ptr[f];
			if (x->type != MSGPACK_OBJECT_POSITIVE_INTEGER || x->via.u64 > (1u << 24))
				return mm_errf(e, MM_ECORRUPT, "model %s: field \"spec.sparse\": entry %d is "
						"not a column count", name, f);
			s.sparse[f] = (int)x->via.u64;
		}
	}
	const char *msg = mm_net_spec_check(&s);
	if (msg)
		return mm_errf(e, MM_ECORRUPT, "model %s: invalid spec: %s", name, msg);
	if ((st = mm_model_new(&m, &s, e)) != MM_OK)
		return st;
built:
	TRY(get_str(&u, o, "target", "target", &m->target));
	TRY(get_str(&u, o, "target_type", "target_type", &tt));
	if (strcmp(tt, "str") != 0 && strcmp(tt, "int") != 0) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: field \"target_type\": expected \"int\" or \"str\"", name);
		goto fail;
	}
	m->target_is_str = strcmp(tt, "str") == 0;

	TRY(need(&u, o, "classes", "classes", MSGPACK_OBJECT_ARRAY, &arr));
	if ((int)arr->via.array.size != s.nclass) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: %u class names but the head has %d outputs",
				name, arr->via.array.size, s.nclass);
		goto fail;
	}
	for (int c = 0; c < s.nclass; c++) {
		x = &arr->via.array.ptr[c];
		if (x->type != MSGPACK_OBJECT_STR || x->via.str.size == 0 || bad_utf8(x) >= 0) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: field \"classes\": entry %d is not a name%s", name, c,
					x->type == MSGPACK_OBJECT_STR && x->via.str.size ? " (invalid UTF-8)" : "");
			goto fail;
		}
		if (!(m->classes[c] = dupobj(x)))
			goto oom;
		for (int k = 0; k < c; k++)
			if (strcmp(m->classes[k], m->classes[c]) == 0) {
				st = mm_errf(e, MM_ECORRUPT, "model %s: class \"%s\" appears twice", name, m->classes[c]);
				goto fail;
			}
	}

	TRY(need(&u, o, "features", "features", MSGPACK_OBJECT_ARRAY, &arr));
	if ((int)arr->via.array.size != s.nmod) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: %u features but the spec has %d modalities",
				name, arr->via.array.size, s.nmod);
		goto fail;
	}
	for (int f = 0; f < s.nmod; f++) {
		const msgpack_object *fo = &arr->via.array.ptr[f];
		char path[64];
		int dim;
		snprintf(path, sizeof path, "features[%d].name", f);
		TRY(get_str(&u, fo, "name", path, &m->feat[f]));
		snprintf(path, sizeof path, "features[%d].dim", f);
		TRY(get_int(&u, fo, "dim", path, 1, 1 << 24, &dim));
		if (dim != s.dims[f]) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: feature \"%s\" has dim %d but the spec says %d",
					name, m->feat[f], dim, s.dims[f]);
			goto fail;
		}
		snprintf(path, sizeof path, "features[%d].mean", f);
		TRY(get_tensor(&u, oget(fo, "mean"), path, dim, 1, 1, m->mean[f]));
		snprintf(path, sizeof path, "features[%d].std", f);
		TRY(get_tensor(&u, oget(fo, "std"), path, dim, 1, 1, m->std[f]));
		for (int j = 0; j < dim; j++)
			if (!(m->std[f][j] > 0)) {
				st = mm_errf(e, MM_ECORRUPT, "model %s: field \"%s\": entry %d is not positive", name, path, j);
				goto fail;
			}
		const msgpack_object *co = oget(fo, "columns");
		if (!co != !s.sparse[f]) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: feature \"%s\": %s", name, m->feat[f],
					co ? "columns given for a dense feature" : "a sparse feature without its columns");
			goto fail;
		}
		if (co) {
			mm_sparse sv = {0};
			mm_err ce;
			if (mm_sparse_from_obj(&sv, co, &ce) != MM_OK || sv.nnz != (size_t)s.sparse[f] ||
					!(m->cols[f] = calloc(1, sizeof *m->cols[f]))) {
				mm_sparse_free(&sv);
				st = mm_errf(e, MM_ECORRUPT, "model %s: field \"features[%d].columns\": expected "
						"a sparse vector of the %d training columns", name, f, s.sparse[f]);
				goto fail;
			}
			*m->cols[f] = (mm_colmap){ .dim = sv.dim, .m = sv.nnz, .col = sv.idx, .scale = sv.val };
		}
	}

	mm_fit_params *p = &m->fit;
	TRY(need(&u, o, "train", "train", MSGPACK_OBJECT_MAP, &tr));
	TRY(get_int(&u, tr, "epochs", "train.epochs", 1, 1000000, &p->epochs));
	TRY(get_int(&u, tr, "batch", "train.batch", 1, 1 << 20, &p->batch));
	TRY(get_float(&u, tr, "lr", "train.lr", &p->lr));
	TRY(get_float(&u, tr, "weight_decay", "train.weight_decay", &p->weight_decay));
	TRY(get_float(&u, tr, "warmup", "train.warmup", &p->warmup));
	TRY(get_float(&u, tr, "clip", "train.clip", &p->clip));
	TRY(get_enum(&u, tr, "loss", "train.loss", mm_loss_parse, &p->loss));
	TRY(get_float(&u, tr, "alpha", "train.alpha", &p->alpha));
	TRY(get_float(&u, tr, "gamma", "train.gamma", &p->gamma));
	x = oget(tr, "class_weights");
	if (!x || (x->type != MSGPACK_OBJECT_NIL && x->type != MSGPACK_OBJECT_ARRAY)) {
		st = bad(&u, "train.class_weights", "an array or nil", x);
		goto fail;
	}
	if (x->type == MSGPACK_OBJECT_ARRAY) {
		if ((int)x->via.array.size != s.nclass) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: %u class weights for %d classes", name,
					x->via.array.size, s.nclass);
			goto fail;
		}
		if (!(m->class_w = malloc((size_t)s.nclass * sizeof *m->class_w)))
			goto oom;
		for (int c = 0; c < s.nclass; c++) {
			const msgpack_object *w = &x->via.array.ptr[c];
			if (w->type != MSGPACK_OBJECT_FLOAT32 && w->type != MSGPACK_OBJECT_FLOAT64) {
				st = bad(&u, "train.class_weights", "numbers", w);
				goto fail;
			}
			m->class_w[c] = (float)w->via.f64;
		}
	}
	TRY(get_enum(&u, tr, "select", "train.select", mm_select_parse, &p->select));
	TRY(get_int(&u, tr, "patience", "train.patience", 0, 1 << 30, &p->patience));
	TRY(get_u64(&u, tr, "seed", "train.seed", &p->seed));
	TRY(get_int(&u, tr, "best_epoch", "train.best_epoch", 0, 1000000, &m->best_epoch));
	TRY(get_num(&u, tr, "best_metric", "train.best_metric", &m->best_metric));
	TRY(get_int(&u, tr, "epochs_run", "train.epochs_run", 0, 1000000, &m->epochs_run));
	TRY(get_u64(&u, tr, "n_train", "train.n_train", &m->n_train));
	TRY(get_u64(&u, tr, "n_val", "train.n_val", &m->n_val));
	x = oget(tr, "init");
	if (!x || (x->type != MSGPACK_OBJECT_NIL && x->type != MSGPACK_OBJECT_STR)) {
		st = bad(&u, "train.init", "a string or nil", x);
		goto fail;
	}
	if (x->type == MSGPACK_OBJECT_STR)
		TRY(get_str(&u, tr, "init", "train.init", &m->init));
	TRY(get_u64(&u, o, "data_hash", "data_hash", &m->data_hash));
	TRY(get_str(&u, o, "commit", "commit", &m->commit));

	if (version >= 2)
		TRY(unpack_net_v2(&u, o, &s, m));
	else
		TRY(unpack_params_v1(&u, o, m));
	free(tt);
	*out = m;
	return MM_OK;
oom:
	st = mm_errf(e, MM_ENOMEM, "out of memory");
fail:
	free(tt);
	mm_model_free(m);
	return st;
}

mm_status mm_model_load(mm_model **out, const char *path, mm_err *e)
{
	mm_reader *rd;
	mm_rec *r = NULL, *r2 = NULL;
	mm_status st = mm_reader_open(&rd, path, e);
	if (st != MM_OK)
		return st;
	st = mm_reader_next(rd, &r, e);
	if (st == MM_EOF) {
		st = mm_errf(e, MM_ECORRUPT, "model %s: empty file", path);
	} else if (st != MM_OK) {
		mm_err_prefix(e, "invalid model file");
		st = st == MM_EIO ? MM_EIO : MM_ECORRUPT;
		if (e)
			e->status = st;
	} else {
		mm_status s2 = mm_reader_next(rd, &r2, e);
		if (s2 == MM_OK) {
			st = mm_errf(e, MM_ECORRUPT, "model %s: more than one record (a stream, not a model?)", path);
		} else if (s2 != MM_EOF) {
			mm_err_prefix(e, "invalid model file");
			st = MM_ECORRUPT;
			if (e)
				e->status = st;
		} else {
			/* rebuild the map object from the record's fields */
			msgpack_object o;
			o.type = MSGPACK_OBJECT_MAP;
			o.via.map.size = r->n;
			o.via.map.ptr = r->kv;
			st = mm_model_unpack(out, &o, path, e);
		}
	}
	mm_rec_free(r);
	mm_rec_free(r2);
	mm_reader_close(rd);
	return st;
}
