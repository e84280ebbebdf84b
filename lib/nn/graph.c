/* graph.c — mm_net: nodes evaluated in order, each through its layer's
 * table (layer.h), with the registry of named parameters.  See nn.h. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "util.h"

#define NODE_NAME_MAX 48

typedef struct node {
	const mm_layer *op;
	char name[NODE_NAME_MAX];
	int in[MM_LAYER_MAXIN], nin;
	mm_shape shape;      /* per-sample output shape */
	void *conf;          /* op->conf_size bytes, owned (NULL when none) */
	int p0, np;          /* its parameters: net->params[p0 .. p0+np) */
	float *out, *grad;   /* B*T*D each; an input's out is the caller's batch */
	float *scratch;
	size_t nscratch;     /* floats of scratch at the current capacity */
	const int *len;      /* valid rows per sample of the last forward (NULL: all) */
	int *lenbuf;         /* B ints, when the layer sets its own lengths */
	bool touched;        /* backward: grad holds a value */
	double sec[2];       /* profiling: seconds in forward, backward */
} node;

struct mm_net {
	int nmod;
	node *nodes;
	int nn, ncap;
	int outnode;
	mm_param *params;
	size_t np, npcap;
	int cap;         /* batch capacity of the buffers */
	int B;           /* batch of the last forward */
	bool train;      /* the last forward was a training one */
	bool finished;
	bool profile;    /* time every layer call (mm_net_profile) */
};

static size_t numel(const node *nd, int B)
{
	return (size_t)B * nd->shape.T * nd->shape.D;
}

/* The view a layer gets of node i: settings, shapes, parameters and, with
 * buffers, the batch's inputs, output and gradients. */
static void node_io(mm_net *net, int i, bool buffers, mm_layer_io *io)
{
	node *nd = &net->nodes[i];
	memset(io, 0, sizeof *io);
	io->conf = nd->conf;
	io->nin = nd->nin;
	io->out = nd->shape;
	io->p = nd->np ? &net->params[nd->p0] : NULL;
	for (int k = 0; k < nd->nin; k++) {
		node *s = &net->nodes[nd->in[k]];
		io->in[k] = s->shape;
		if (buffers) {
			io->x[k] = s->out;
			io->len[k] = s->len;
			io->dx[k] = s->grad; /* NULL for the net's inputs */
		}
	}
	if (buffers) {
		io->B = net->B;
		io->y = nd->out;
		io->dy = nd->grad;
		io->scratch = nd->scratch;
	}
}

mm_status mm_net_new_shaped(mm_net **out, int nmod, const mm_shape *shapes, mm_err *e)
{
	if (nmod < 1 || nmod > MM_NET_MAXMOD)
		return mm_errf(e, MM_EUSAGE, "number of inputs must be 1..%d", MM_NET_MAXMOD);
	mm_net *n = calloc(1, sizeof *n);
	if (!n)
		return mm_errf(e, MM_ENOMEM, "out of memory");
	n->nmod = nmod;
	n->outnode = -1;
	for (int m = 0; m < nmod; m++) {
		mm_input_conf c = { shapes[m].T, shapes[m].D };
		char name[16];
		snprintf(name, sizeof name, "in%d", m);
		if (shapes[m].D < 1 || shapes[m].T < 0) {
			mm_net_free(n);
			return mm_errf(e, MM_EUSAGE, "input %d: dimension must be positive", m);
		}
		if (mm_net_add(n, MM_NODE_INPUT, name, NULL, 0, &c, e) < 0) {
			mm_net_free(n);
			return e ? e->status : MM_EUSAGE;
		}
	}
	*out = n;
	return MM_OK;
}

mm_status mm_net_new(mm_net **out, int nmod, const int *dims, mm_err *e)
{
	mm_shape s[MM_NET_MAXMOD];
	for (int m = 0; m < nmod && m < MM_NET_MAXMOD; m++)
		s[m] = (mm_shape){ 1, dims[m] };
	return mm_net_new_shaped(out, nmod, s, e);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n >= NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* NULL when every setting is in its declared range, else the field's key. */
static const char *conf_bad_field(const mm_layer *op, const void *conf)
{
	for (int f = 0; f < op->conf_nfields; f++) {
		const mm_conf_field *d = &op->conf_fields[f];
		const char *at = (const char *)conf + d->offset;
		double v;
		if (d->type == MM_CONF_INT) {
			int i;
			memcpy(&i, at, sizeof i);
			v = i;
		} else {
			float x;
			memcpy(&x, at, sizeof x);
			v = x;
		}
		if (!(v >= d->lo && v <= d->hi))
			return d->key;
	}
	return NULL;
}

static int add_params(mm_net *net, node *nd, const mm_layer_io *io, mm_err *e)
{
	mm_param_decl decl[MM_LAYER_MAXPARAM];
	int k = nd->op->params ? nd->op->params(io, decl) : 0;
	assert(k >= 0 && k <= MM_LAYER_MAXPARAM);
	if (net->np + (size_t)k > net->npcap) {
		size_t nc = net->npcap ? net->npcap * 2 : 16;
		while (nc < net->np + (size_t)k)
			nc *= 2;
		mm_param *p = realloc(net->params, nc * sizeof *p);
		if (!p) {
			mm_errf(e, MM_ENOMEM, "out of memory");
			return -1;
		}
		net->params = p;
		net->npcap = nc;
	}
	nd->p0 = (int)net->np;
	nd->np = k;
	for (int j = 0; j < k; j++) {
		mm_param *p = &net->params[net->np + j];
		memset(p, 0, sizeof *p);
		snprintf(p->name, sizeof p->name, "%s.%s", nd->name, decl[j].suffix);
		p->shape[0] = decl[j].rows;
		p->shape[1] = decl[j].cols;
		p->n = (size_t)(decl[j].rows * decl[j].cols);
		p->decay = decl[j].decay;
	}
	net->np += (size_t)k;
	return 0;
}

int mm_net_add(mm_net *net, mm_node_type kind, const char *name, const int *in, int nin,
		const void *conf, mm_err *e)
{
	const mm_layer *op = mm_layer_of(kind);
	if (net->finished) {
		mm_errf(e, MM_EUSAGE, "net is finished");
		return -1;
	}
	if (!op) {
		mm_errf(e, MM_EUSAGE, "unknown layer kind %d", (int)kind);
		return -1;
	}
	char auto_name[NODE_NAME_MAX];
	if (!name) {
		snprintf(auto_name, sizeof auto_name, "n%d", net->nn);
		name = auto_name;
	}
	if (!name_ok(name)) {
		mm_errf(e, MM_EUSAGE, "%s node: bad name \"%.60s\" (1..%d characters of A-Z a-z 0-9 _ . -)",
				op->name, name, NODE_NAME_MAX - 1);
		return -1;
	}
	if (mm_net_node_id(net, name) >= 0) {
		mm_errf(e, MM_EUSAGE, "%s node: name \"%s\" is already used", op->name, name);
		return -1;
	}
	if (kind == MM_NODE_INPUT ? net->nn >= net->nmod : net->nn < net->nmod) {
		mm_errf(e, MM_EUSAGE, "%s node \"%s\": inputs must come first", op->name, name);
		return -1;
	}
	if (nin < op->min_in || nin > op->max_in) {
		mm_errf(e, MM_EUSAGE, "%s node \"%s\": wrong number of inputs (%d)", op->name, name, nin);
		return -1;
	}
	for (int i = 0; i < nin; i++)
		if (in[i] < 0 || in[i] >= net->nn) {
			mm_errf(e, MM_EUSAGE, "%s node \"%s\": input %d is not an earlier node", op->name, name, in[i]);
			return -1;
		}
	if (op->conf_size && !conf) {
		mm_errf(e, MM_EUSAGE, "%s node \"%s\": settings missing", op->name, name);
		return -1;
	}
	const char *bad = op->conf_size ? conf_bad_field(op, conf) : NULL;
	if (bad) {
		mm_errf(e, MM_EUSAGE, "%s node \"%s\": setting %s out of range", op->name, name, bad);
		return -1;
	}
	if (net->nn == net->ncap) {
		int nc = net->ncap ? net->ncap * 2 : 16;
		node *nd = realloc(net->nodes, (size_t)nc * sizeof *nd);
		if (!nd) {
			mm_errf(e, MM_ENOMEM, "out of memory");
			return -1;
		}
		net->nodes = nd;
		net->ncap = nc;
	}
	int id = net->nn;
	node *nd = &net->nodes[id];
	memset(nd, 0, sizeof *nd);
	nd->op = op;
	snprintf(nd->name, sizeof nd->name, "%s", name);
	nd->nin = nin;
	for (int i = 0; i < nin; i++)
		nd->in[i] = in[i];
	if (op->conf_size) {
		if (!(nd->conf = malloc(op->conf_size))) {
			mm_errf(e, MM_ENOMEM, "out of memory");
			return -1;
		}
		memcpy(nd->conf, conf, op->conf_size);
	}
	net->nn++; /* from here on, mm_net_free owns nd->conf */
	mm_layer_io io;
	node_io(net, id, false, &io);
	const char *msg = op->shape(&io, &nd->shape);
	if (msg) {
		mm_errf(e, MM_EUSAGE, "%s node \"%s\": %s", op->name, name, msg);
		goto undo;
	}
	io.out = nd->shape;
	if (add_params(net, nd, &io, e) < 0)
		goto undo;
	for (int j = 0; j < nd->np; j++)
		for (size_t i = 0; i < net->np - (size_t)nd->np; i++)
			if (strcmp(net->params[i].name, net->params[nd->p0 + j].name) == 0) {
				mm_errf(e, MM_EUSAGE, "%s node \"%s\": parameter name \"%s\" is already used",
						op->name, name, net->params[i].name);
				net->np -= (size_t)nd->np;
				goto undo;
			}
	return id;
undo:
	free(nd->conf);
	net->nn--;
	return -1;
}

mm_status mm_net_finish(mm_net *net, int out, mm_err *e)
{
	if (out < net->nmod || out >= net->nn)
		return mm_errf(e, MM_EUSAGE, "output node %d is not a computed node", out);
	net->outnode = out;
	for (size_t i = 0; i < net->np; i++) {
		mm_param *p = &net->params[i];
		p->w = mm_alloc_aligned(p->n, sizeof(float));
		p->g = mm_alloc_aligned(p->n, sizeof(float));
		if (!p->w || !p->g)
			return mm_errf(e, MM_ENOMEM, "out of memory for %zu parameters", p->n);
		memset(p->w, 0, p->n * sizeof(float));
		memset(p->g, 0, p->n * sizeof(float));
	}
	net->finished = true;
	return MM_OK;
}

static void free_bufs(mm_net *net)
{
	for (int i = 0; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		if (i >= net->nmod)
			free(nd->out);
		free(nd->grad);
		free(nd->scratch);
		free(nd->lenbuf);
		nd->out = nd->grad = nd->scratch = NULL;
		nd->lenbuf = NULL;
		nd->len = NULL;
		nd->nscratch = 0;
	}
	net->cap = 0;
}

void mm_net_free(mm_net *net)
{
	if (!net)
		return;
	free_bufs(net);
	for (size_t i = 0; i < net->np; i++) {
		free(net->params[i].w);
		free(net->params[i].g);
	}
	for (int i = 0; i < net->nn; i++)
		free(net->nodes[i].conf);
	free(net->params);
	free(net->nodes);
	free(net);
}

void mm_net_init(mm_net *net, mm_rng *rng)
{
	for (int i = 0; i < net->nn; i++) {
		const mm_layer *op = net->nodes[i].op;
		if (op->init) {
			mm_layer_io io;
			node_io(net, i, false, &io);
			op->init(&io, rng);
		}
	}
}

mm_param *mm_net_params(mm_net *net, size_t *np)
{
	*np = net->np;
	return net->params;
}

mm_param *mm_net_param(mm_net *net, const char *name)
{
	for (size_t i = 0; i < net->np; i++)
		if (strcmp(net->params[i].name, name) == 0)
			return &net->params[i];
	return NULL;
}

size_t mm_net_nparams_total(const mm_net *net)
{
	size_t s = 0;
	for (size_t i = 0; i < net->np; i++)
		s += net->params[i].n;
	return s;
}

int mm_net_nout(const mm_net *net)
{
	if (net->outnode < 0)
		return 0;
	const node *o = &net->nodes[net->outnode];
	return o->shape.T * o->shape.D;
}

int mm_net_nmod(const mm_net *net)
{
	return net->nmod;
}

int mm_net_rows(const mm_net *net, int m)
{
	return m < 0 || m >= net->nmod ? 0 : net->nodes[m].shape.T;
}

int mm_net_dim(const mm_net *net, int m)
{
	if (m < 0 || m >= net->nmod)
		return 0;
	return net->nodes[m].shape.T * net->nodes[m].shape.D;
}

double mm_net_flops_per_sample(const mm_net *net)
{
	double f = 0;
	for (int i = 0; i < net->nn; i++) {
		const mm_layer *op = net->nodes[i].op;
		if (op->flops) {
			mm_layer_io io;
			node_io((mm_net *)net, i, false, &io);
			f += op->flops(&io);
		}
	}
	return f;
}

/* Make room for batches of B samples.  Returns false on ENOMEM. */
static bool ensure_cap(mm_net *net, int B)
{
	if (B <= net->cap)
		return true;
	free_bufs(net);
	for (int i = net->nmod; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		size_t n = numel(nd, B);
		nd->out = mm_alloc_aligned(n, sizeof(float));
		nd->grad = mm_alloc_aligned(n, sizeof(float));
		if (!nd->out || !nd->grad)
			goto oom;
		if (nd->op->lengths && !(nd->lenbuf = malloc((size_t)B * sizeof *nd->lenbuf)))
			goto oom;
		if (nd->op->scratch) {
			mm_layer_io io;
			node_io(net, i, false, &io);
			io.B = B;
			nd->nscratch = nd->op->scratch(&io);
			if (nd->nscratch && !(nd->scratch = mm_alloc_aligned(nd->nscratch, sizeof(float))))
				goto oom;
		}
	}
	net->cap = B;
	return true;
oom:
	free_bufs(net);
	return false;
}

const float *mm_net_forward(mm_net *net, const float *const *X, int B, bool train, mm_rng *rng)
{
	return mm_net_forward_seq(net, X, NULL, B, train, rng);
}

const float *mm_net_forward_seq(mm_net *net, const float *const *X, const int *const *len,
		int B, bool train, mm_rng *rng)
{
	assert(net->finished && B > 0 && (!train || rng));
	if (!ensure_cap(net, B))
		return NULL;
	net->B = B;
	net->train = train;
	for (int m = 0; m < net->nmod; m++) {
		net->nodes[m].out = (float *)X[m]; /* read only: inputs get no gradient */
		net->nodes[m].len = len && net->nodes[m].shape.T > 1 ? len[m] : NULL;
	}
	for (int i = net->nmod; i < net->nn; i++) {
		node *nd = &net->nodes[i];
		mm_layer_io io;
		node_io(net, i, true, &io);
		io.train = train;
		io.rng = train ? rng : NULL;
		if (nd->op->lengths) {
			nd->op->lengths(&io, nd->lenbuf);
			nd->len = nd->lenbuf;
		} else {
			nd->len = nd->shape.T > 1 && nd->nin > 0 ? net->nodes[nd->in[0]].len : NULL;
		}
		double t0 = net->profile ? mm_now() : 0;
		nd->op->forward(&io);
		if (net->profile)
			nd->sec[0] += mm_now() - t0;
	}
	return net->nodes[net->outnode].out;
}

double mm_net_aux_loss(const mm_net *net)
{
	double s = 0;
	if (!net->train)
		return 0;
	for (int i = net->nmod; i < net->nn; i++)
		if (net->nodes[i].op->aux_loss) {
			mm_layer_io io;
			node_io((mm_net *)net, i, true, &io);
			io.train = true;
			s += net->nodes[i].op->aux_loss(&io);
		}
	return s;
}

void mm_net_zero_grad(mm_net *net)
{
	for (size_t i = 0; i < net->np; i++)
		memset(net->params[i].g, 0, net->params[i].n * sizeof(float));
}

/* The gradient buffer of node id for a consumer's backward: NULL for the
 * net's inputs; *fresh says it holds nothing yet.  A layer that cannot
 * store gets it cleared instead. */
static float *grad_of(mm_net *net, int id, bool stores, bool *fresh)
{
	node *s = &net->nodes[id];
	*fresh = false;
	if (!s->grad)
		return NULL;
	if (!s->touched) {
		if (stores)
			*fresh = true;
		else
			memset(s->grad, 0, numel(s, net->B) * sizeof(float));
		s->touched = true;
	}
	return s->grad;
}

/* Backward in reverse order.  fresh_params: the parameters' g hold stale
 * values to be replaced (a training step), else they are added to. */
static void net_backward(mm_net *net, const float *dlogits, bool fresh_params)
{
	int B = net->B;
	for (int i = net->nmod; i < net->nn; i++)
		net->nodes[i].touched = false;
	node *o = &net->nodes[net->outnode];
	memcpy(o->grad, dlogits, numel(o, B) * sizeof(float));
	o->touched = true;
	for (int i = net->outnode; i >= net->nmod; i--) {
		node *nd = &net->nodes[i];
		const mm_layer *op = nd->op;
		if (!nd->touched) { /* no path to the output: contributes nothing */
			memset(nd->grad, 0, numel(nd, B) * sizeof(float));
			nd->touched = true;
		}
		if (fresh_params && !op->stores)
			for (int j = 0; j < nd->np; j++)
				memset(net->params[nd->p0 + j].g, 0, net->params[nd->p0 + j].n * sizeof(float));
		if (!op->backward)
			continue;
		mm_layer_io io;
		node_io(net, i, true, &io);
		io.train = net->train;
		io.p_fresh = fresh_params && op->stores;
		for (int k = 0; k < nd->nin; k++) {
			bool twice = false; /* an input read twice is added to twice */
			for (int j = 0; j < nd->nin; j++)
				twice |= j != k && nd->in[j] == nd->in[k];
			io.dx[k] = grad_of(net, nd->in[k], op->stores && !twice, &io.dx_fresh[k]);
		}
		double t0 = net->profile ? mm_now() : 0;
		op->backward(&io);
		if (net->profile)
			nd->sec[1] += mm_now() - t0;
	}
}

void mm_net_profile(mm_net *net, bool on)
{
	net->profile = on;
	for (int i = 0; i < net->nn; i++)
		net->nodes[i].sec[0] = net->nodes[i].sec[1] = 0;
}

void mm_net_node_seconds(const mm_net *net, int id, double *fwd, double *bwd)
{
	const node *nd = &net->nodes[id];
	*fwd = nd->sec[0];
	*bwd = nd->sec[1];
}

void mm_net_backward(mm_net *net, const float *dlogits)
{
	net_backward(net, dlogits, false);
}

void mm_net_backward_step(mm_net *net, const float *dlogits)
{
	net_backward(net, dlogits, true);
}

void mm_net_copy_params(mm_net *dst, const mm_net *src)
{
	assert(dst->np == src->np);
	for (size_t i = 0; i < src->np; i++) {
		assert(dst->params[i].n == src->params[i].n);
		memcpy(dst->params[i].w, src->params[i].w, src->params[i].n * sizeof(float));
	}
}

int mm_net_nnodes(const mm_net *net)
{
	return net->nn;
}

void mm_net_node(const mm_net *net, int id, mm_node_info *out)
{
	assert(id >= 0 && id < net->nn);
	const node *nd = &net->nodes[id];
	*out = (mm_node_info){ .op = nd->op, .name = nd->name, .nin = nd->nin, .in = nd->in,
		.conf = nd->conf, .shape = nd->shape };
}

int mm_net_output(const mm_net *net)
{
	return net->outnode;
}

const float *mm_net_node_scratch(const mm_net *net, int id)
{
	return id >= 0 && id < net->nn ? net->nodes[id].scratch : NULL;
}

int mm_net_node_id(const mm_net *net, const char *name)
{
	for (int i = 0; i < net->nn; i++)
		if (strcmp(net->nodes[i].name, name) == 0)
			return i;
	return -1;
}
