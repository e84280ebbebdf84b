/* layer.c — the layer registry and the graph's checks on nodes. */
#include <string.h>

#include "nn.h"
#include "tap.h"

static void test_registry(void)
{
	int bad = 0;
	for (int k = 0; k < MM_NODE_NTYPES; k++) {
		const mm_layer *l = mm_layer_of((mm_node_type)k);
		if (!l || (int)l->kind != k || !l->name || !l->shape ||
				(k != MM_NODE_INPUT && !l->forward) || mm_layer_find(l->name) != l ||
				(l->conf_size != 0) != (l->conf_nfields > 0))
			bad++;
	}
	ok(bad == 0, "each of the %d registry entries sits at its kind, has a unique name and a shape", MM_NODE_NTYPES);
	ok(mm_layer_of(MM_NODE_NTYPES) == NULL && mm_layer_of((mm_node_type)-1) == NULL,
			"kinds out of range have no layer");
	ok(mm_layer_find("no-such-layer") == NULL, "unknown names have no layer");
}

static void test_add_errors(void)
{
	int dims[2] = { 3, 4 };
	mm_net *net;
	mm_err e;
	if (!ok(mm_net_new(&net, 2, dims, &e) == MM_OK, "net with two inputs"))
		return;
	int in0 = 0, both[2] = { 0, 1 };
	mm_linear_conf c = { 5 }, zero = { 0 };
	ok(mm_net_add(net, MM_NODE_NTYPES, "x", &in0, 1, &c, &e) < 0 &&
			strstr(e.msg, "unknown layer kind"), "unknown kind: %s", e.msg);
	ok(mm_net_add(net, MM_NODE_LINEAR, "x", &in0, 1, &zero, &e) < 0 &&
			strstr(e.msg, "setting size out of range"), "size 0: %s", e.msg);
	ok(mm_net_add(net, MM_NODE_LINEAR, "x", &in0, 1, NULL, &e) < 0 &&
			strstr(e.msg, "settings missing"), "no settings: %s", e.msg);
	ok(mm_net_add(net, MM_NODE_PROD, "x", both, 2, NULL, &e) < 0 &&
			strstr(e.msg, "input shapes differ"), "prod of widths 3 and 4: %s", e.msg);
	ok(mm_net_add(net, MM_NODE_LINEAR, "in1", &in0, 1, &c, &e) < 0 &&
			strstr(e.msg, "already used"), "duplicate node name: %s", e.msg);
	ok(mm_net_add(net, MM_NODE_LINEAR, "a b", &in0, 1, &c, &e) < 0 &&
			strstr(e.msg, "bad name"), "name with a space: %s", e.msg);
	int id = mm_net_add(net, MM_NODE_LINEAR, "enc.v.proj", &in0, 1, &c, &e);
	ok(id == 2, "a named linear node is node 2");
	ok(mm_net_add(net, MM_NODE_RELU, "r", &id, 1, NULL, &e) == 3 && mm_net_finish(net, 3, &e) == MM_OK,
			"relu on it, finished");
	ok(mm_net_param(net, "enc.v.proj.W") && mm_net_param(net, "enc.v.proj.b") &&
			mm_net_param(net, "enc.v.proj.W")->shape[0] == 5 &&
			mm_net_param(net, "enc.v.proj.W")->shape[1] == 3,
			"its parameters are named after the node: enc.v.proj.W [5, 3], enc.v.proj.b");
	mm_net_free(net);
}

int main(void)
{
	test_registry();
	test_add_errors();
	return tap_done();
}
