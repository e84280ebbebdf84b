/* netfile.c — graphs and parameters saved and loaded by name: any graph
 * built with the public API, unknown layer kinds, missing and unexpected
 * parameters, bad settings, and --init's copy by name. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "nn/mole.h"
#include "tap.h"

/* in0 [5] → linear a (6) → layernorm → gelu ─┐
 * in1 [4] → linear b (6) → dropout ──────────┼→ bilinear (3) ┐
 *                                            └→ prod ─────────┼→ concat → linear head (2) */
static mm_net *custom(bool with_head2)
{
	int dims[2] = { 5, 4 };
	mm_net *n;
	mm_err e;
	if (mm_net_new(&n, 2, dims, &e) != MM_OK)
		return NULL;
	mm_linear_conf six = { 6 }, three = { 3 }, two = { 2 };
	mm_dropout_conf d = { 0.25f };
	int i0 = 0, i1 = 1;
	int a = mm_net_add(n, MM_NODE_LINEAR, "enc.a", &i0, 1, &six, &e);
	int ln = mm_net_add(n, MM_NODE_LAYERNORM, "enc.a.norm", &a, 1, NULL, &e);
	int g = mm_net_add(n, MM_NODE_GELU, "enc.a.act", &ln, 1, NULL, &e);
	int b = mm_net_add(n, MM_NODE_LINEAR, "enc.b", &i1, 1, &six, &e);
	int db = mm_net_add(n, MM_NODE_DROPOUT, "enc.b.drop", &b, 1, &d, &e);
	int pair[2] = { g, db };
	int bl = mm_net_add(n, MM_NODE_BILINEAR, "fuse.bil", pair, 2, &three, &e);
	int pr = mm_net_add(n, MM_NODE_PROD, "fuse.prod", pair, 2, NULL, &e);
	int cat[2] = { bl, pr };
	int c = mm_net_add(n, MM_NODE_CONCAT, "fuse.cat", cat, 2, NULL, &e);
	int h = mm_net_add(n, MM_NODE_LINEAR, "head.out", &c, 1, &two, &e);
	if (with_head2)
		h = mm_net_add(n, MM_NODE_LINEAR, "head.extra", &h, 1, &two, &e);
	if (h < 0 || mm_net_finish(n, h, &e) != MM_OK) {
		mm_net_free(n);
		return NULL;
	}
	mm_rng r;
	mm_rng_seed(&r, 11);
	mm_net_init(n, &r);
	size_t np;
	mm_param *p = mm_net_params(n, &np);
	for (size_t i = 0; i < np; i++) /* layer norm's 1 and 0 would hide a swap */
		for (size_t k = 0; k < p[i].n; k++)
			p[i].w[k] += 0.01f * (float)mm_rng_normal(&r);
	return n;
}

/* Pack {graph, params} of net into sb and unpack it as an object. */
static void pack_net(mm_net *n, msgpack_sbuffer *sb, msgpack_unpacked *u)
{
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str(&pk, 5);
	msgpack_pack_str_body(&pk, "graph", 5);
	mm_net_pack_graph(n, &pk);
	msgpack_pack_str(&pk, 6);
	msgpack_pack_str_body(&pk, "params", 6);
	mm_net_pack_params(n, &pk);
	msgpack_unpacked_init(u);
	msgpack_unpack_next(u, sb->data, sb->size, NULL);
}

static const msgpack_object *field(const msgpack_object *m, const char *k)
{
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (m->via.map.ptr[i].key.via.str.size == strlen(k) &&
				memcmp(m->via.map.ptr[i].key.via.str.ptr, k, strlen(k)) == 0)
			return &m->via.map.ptr[i].val;
	return NULL;
}

static void test_round_trip(void)
{
	mm_net *a = custom(false), *b = NULL;
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	mm_err e;
	pack_net(a, &sb, &u);
	bool built = mm_net_unpack_graph(&b, field(&u.data, "graph"), "t", &e) == MM_OK;
	ok(built, "a custom graph (layer norm, gelu, dropout, bilinear, prod, concat) loads from its node list%s%s",
			built ? "" : ": ", built ? "" : e.msg);
	if (!built)
		goto out;
	ok(mm_net_unpack_params(b, field(&u.data, "params"), "t", &e) == MM_OK, "its parameters load by name");
	ok(mm_net_nnodes(b) == mm_net_nnodes(a) && mm_net_nparams_total(b) == mm_net_nparams_total(a) &&
			mm_net_param(b, "enc.a.norm.gamma") && mm_net_param(b, "fuse.bil.W"),
			"same nodes, same named parameters");
	float x0[3 * 5], x1[3 * 4];
	mm_rng r;
	mm_rng_seed(&r, 2);
	for (int i = 0; i < 15; i++)
		x0[i] = (float)mm_rng_normal(&r);
	for (int i = 0; i < 12; i++)
		x1[i] = (float)mm_rng_normal(&r);
	const float *X[2] = { x0, x1 };
	float za[6];
	memcpy(za, mm_net_forward(a, X, 3, false, NULL), sizeof za);
	const float *zb = mm_net_forward(b, X, 3, false, NULL);
	ok(memcmp(za, zb, sizeof za) == 0, "the loaded graph computes the same outputs, bit for bit");
	msgpack_sbuffer sb2;
	msgpack_unpacked u2;
	pack_net(b, &sb2, &u2);
	ok(sb2.size == sb.size && memcmp(sb2.data, sb.data, sb.size) == 0, "save → load → save gives the same bytes");
	msgpack_unpacked_destroy(&u2);
	msgpack_sbuffer_destroy(&sb2);

	/* parameters of a graph with one layer more: unexpected; of one with one less: missing */
	mm_net *big = custom(true);
	msgpack_sbuffer sb3;
	msgpack_unpacked u3;
	pack_net(big, &sb3, &u3);
	ok(mm_net_unpack_params(b, field(&u3.data, "params"), "big.mm", &e) == MM_ECORRUPT &&
			strstr(e.msg, "0 missing, 2 unexpected [head.extra.W, head.extra.b]"),
			"unexpected parameters are listed: %s", e.msg);
	mm_net *big2 = NULL;
	mm_net_unpack_graph(&big2, field(&u3.data, "graph"), "t", &e);
	ok(big2 && mm_net_unpack_params(big2, field(&u.data, "params"), "small.mm", &e) == MM_ECORRUPT &&
			strstr(e.msg, "model small.mm: the parameters do not match the graph: 2 missing [head.extra.W, head.extra.b], 0 unexpected"),
			"missing parameters are listed: %s", e.msg);

	/* --init by name */
	char note[512];
	ok(mm_net_copy_by_name(big2, a, NULL, false, note, sizeof note, &e) == MM_EVALUE &&
			strstr(e.msg, "2 missing [head.extra.W, head.extra.b]"), "copy by name refuses missing names: %s", e.msg);
	ok(mm_net_copy_by_name(big2, a, NULL, true, note, sizeof note, &e) == MM_OK &&
			strstr(note, "2 parameters start afresh [head.extra.W, head.extra.b], 0 are not used") &&
			memcmp(mm_net_param(big2, "fuse.bil.W")->w, mm_net_param(a, "fuse.bil.W")->w,
				mm_net_param(a, "fuse.bil.W")->n * sizeof(float)) == 0,
			"partial: copies the shared names and says which start afresh (%s)", note);
	ok(mm_net_copy_by_name(a, big2, "head", false, note, sizeof note, &e) == MM_EVALUE &&
			strstr(e.msg, "0 missing, 2 unexpected"), "a skipped node's prefix is a whole node name: %s", e.msg);
	mm_net_free(big);
	mm_net_free(big2);
	msgpack_unpacked_destroy(&u3);
	msgpack_sbuffer_destroy(&sb3);
out:
	mm_net_free(a);
	mm_net_free(b);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/* The sequence layers save and load like the others: a transformer block
 * over [4, 8] tokens, mean pooling, a linear head. */
static void test_sequence_graph(void)
{
	mm_shape sh[1] = { { 4, 8 } };
	mm_net *a, *b = NULL;
	mm_err e;
	mm_net_new_shaped(&a, 1, sh, &e);
	mm_attn_conf bc = { 2, 16 };
	mm_linear_conf two = { 2 };
	int i0 = 0;
	int blk = mm_net_add(a, MM_NODE_BLOCK, "enc.0.block0", &i0, 1, &bc, &e);
	int pool = mm_net_add(a, MM_NODE_MEANPOOL, "enc.0.pool", &blk, 1, NULL, &e);
	int out = mm_net_add(a, MM_NODE_LINEAR, "head.out", &pool, 1, &two, &e);
	if (!ok(out > 0 && mm_net_finish(a, out, &e) == MM_OK, "a transformer graph builds%s%s",
				out > 0 ? "" : ": ", out > 0 ? "" : e.msg)) {
		mm_net_free(a);
		return;
	}
	mm_rng r;
	mm_rng_seed(&r, 3);
	mm_net_init(a, &r);
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	pack_net(a, &sb, &u);
	bool built = mm_net_unpack_graph(&b, field(&u.data, "graph"), "t", &e) == MM_OK &&
		mm_net_unpack_params(b, field(&u.data, "params"), "t", &e) == MM_OK;
	ok(built, "it loads from its node list, parameters by name%s%s", built ? "" : ": ", built ? "" : e.msg);
	if (built) {
		float X[3 * 4 * 8];
		int len[3] = { 4, 2, 3 };
		for (int i = 0; i < 3 * 4 * 8; i++)
			X[i] = (float)mm_rng_normal(&r);
		const float *Xs[1] = { X };
		const int *L[1] = { len };
		float za[6];
		memcpy(za, mm_net_forward_seq(a, Xs, L, 3, false, NULL), sizeof za);
		ok(memcmp(za, mm_net_forward_seq(b, Xs, L, 3, false, NULL), sizeof za) == 0,
				"and computes the same outputs, bit for bit");
	}
	mm_net_free(a);
	mm_net_free(b);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/* A block with MoLE adapters (nn/mole.h) saves and loads: its settings
 * (route, rank, Gumbel τ, balance) and its tensors by name. */
static void test_mole_graph(void)
{
	mm_shape sh[2] = { { 4, 8 }, { 1, 5 } };
	mm_net *a, *b = NULL;
	mm_err e;
	mm_net_new_shaped(&a, 2, sh, &e);
	mm_attn_conf bc = { 2, 16 };
	mm_mole_conf mc = { .adapters = 3, .route = MM_MOLE_BOTH, .dim = 4, .gumbel = 0.5f,
		.balance = 0.01f };
	mm_linear_conf two = { 2 };
	int blk = mm_net_add_mole_block(a, "blk0", 0, 1, &bc, &mc, &e);
	int pool = blk >= 0 ? mm_net_add(a, MM_NODE_MEANPOOL, "pool", &blk, 1, NULL, &e) : -1;
	int out = pool >= 0 ? mm_net_add(a, MM_NODE_LINEAR, "head", &pool, 1, &two, &e) : -1;
	if (!ok(out > 0 && mm_net_finish(a, out, &e) == MM_OK, "a block with adapters builds%s%s",
				out > 0 ? "" : ": ", out > 0 ? "" : e.msg)) {
		mm_net_free(a);
		return;
	}
	mm_rng r;
	mm_rng_seed(&r, 4);
	mm_net_init(a, &r);
	size_t np;
	mm_param *P = mm_net_params(a, &np);
	for (size_t i = 0; i < np; i++) /* adapters away from zero */
		for (size_t k = 0; k < P[i].n; k++)
			P[i].w[k] += (float)(0.1 * mm_rng_normal(&r));
	msgpack_sbuffer sb;
	msgpack_unpacked u;
	pack_net(a, &sb, &u);
	bool built = mm_net_unpack_graph(&b, field(&u.data, "graph"), "t", &e) == MM_OK &&
		mm_net_unpack_params(b, field(&u.data, "params"), "t", &e) == MM_OK;
	ok(built, "it loads%s%s", built ? "" : ": ", built ? "" : e.msg);
	if (built) {
		mm_node_info ni;
		mm_net_node(b, mm_net_node_id(b, "blk0.mole"), &ni);
		const mm_mole_conf *c = ni.conf;
		ok(c->adapters == 3 && c->route == MM_MOLE_BOTH && c->dim == 4 && c->gumbel == 0.5f &&
				c->balance == 0.01f, "the adapters' settings survive");
		float X[3 * 4 * 8], I[3 * 5];
		int len[3] = { 4, 2, 3 };
		for (int i = 0; i < 3 * 4 * 8; i++)
			X[i] = (float)mm_rng_normal(&r);
		for (int i = 0; i < 3 * 5; i++)
			I[i] = (float)mm_rng_normal(&r);
		const float *Xs[2] = { X, I };
		const int *L[2] = { len, NULL };
		float za[6];
		memcpy(za, mm_net_forward_seq(a, Xs, L, 3, false, NULL), sizeof za);
		ok(memcmp(za, mm_net_forward_seq(b, Xs, L, 3, false, NULL), sizeof za) == 0,
				"and computes the same outputs, bit for bit");
	}
	mm_net_free(a);
	mm_net_free(b);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

static void pk_s(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A two-node graph in0 [3] → NAME of kind KIND with one setting size = SIZE. */
static mm_status load_two(const char *kind, int size, mm_err *e)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pk_s(&pk, "nodes");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_map(&pk, 4);
	pk_s(&pk, "name"); pk_s(&pk, "in0");
	pk_s(&pk, "kind"); pk_s(&pk, "input");
	pk_s(&pk, "in"); msgpack_pack_array(&pk, 0);
	pk_s(&pk, "conf"); msgpack_pack_map(&pk, 2);
	pk_s(&pk, "T"); msgpack_pack_int(&pk, 1);
	pk_s(&pk, "D"); msgpack_pack_int(&pk, 3);
	msgpack_pack_map(&pk, 4);
	pk_s(&pk, "name"); pk_s(&pk, "x");
	pk_s(&pk, "kind"); pk_s(&pk, kind);
	pk_s(&pk, "in"); msgpack_pack_array(&pk, 1); pk_s(&pk, "in0");
	pk_s(&pk, "conf"); msgpack_pack_map(&pk, 1);
	pk_s(&pk, "size"); msgpack_pack_int(&pk, size);
	pk_s(&pk, "output"); pk_s(&pk, "x");
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	msgpack_unpack_next(&u, sb.data, sb.size, NULL);
	mm_net *n = NULL;
	mm_status st = mm_net_unpack_graph(&n, &u.data, "g.mm", e);
	mm_net_free(n);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	return st;
}

int main(void)
{
	test_round_trip();
	test_sequence_graph();
	test_mole_graph();
	mm_err e;
	ok(load_two("linear", 4, &e) == MM_OK, "a hand-written node list loads");
	ok(load_two("conv9", 4, &e) == MM_ECORRUPT &&
			strstr(e.msg, "model g.mm: node \"x\": unknown layer kind \"conv9\""),
			"an unknown layer kind is refused by name: %s", e.msg);
	ok(load_two("linear", 0, &e) == MM_ECORRUPT &&
			strstr(e.msg, "field \"graph.nodes[1].conf.size\": 0 out of range"),
			"a setting out of range is refused: %s", e.msg);
	ok(load_two("relu", 4, &e) == MM_ECORRUPT && strstr(e.msg, "1 settings, a relu node has 0"),
			"a setting the kind does not have is refused: %s", e.msg);
	return tap_done();
}
