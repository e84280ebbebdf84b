/* layer.c — the layer registry and the graph's checks on nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "nn.h"
#include "tap.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

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

/* Bytes of address space in use (VmSize), 0 when unknown. */
static size_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Out of memory during prediction is an error, not NaN probabilities
 * (mm_net_predict used to return nothing and fill P with NaN). */
static void test_predict_oom(void)
{
#ifdef UNDER_ASAN
	ok(1, "# SKIP the address sanitizer reserves more address space than a limit allows");
	ok(1, "# SKIP idem");
#else
	int dims[1] = { 2 };
	mm_net *net;
	mm_err e;
	mm_linear_conf wide = { 1 << 20 }, two = { 2 };
	mm_net_new(&net, 1, dims, &e);
	int in0 = 0;
	int h = mm_net_add(net, MM_NODE_LINEAR, "wide", &in0, 1, &wide, &e);
	int o = mm_net_add(net, MM_NODE_LINEAR, "out", &h, 1, &two, &e);
	mm_net_finish(net, o, &e);
	enum { N = 300 };
	float *X = calloc(N * 2, sizeof *X), *P = malloc(N * 2 * sizeof *P);
	struct rlimit old, lim;
	size_t now = vm_size();
	if (!now || getrlimit(RLIMIT_AS, &old) != 0) {
		ok(1, "# SKIP no /proc/self/status or RLIMIT_AS");
		ok(1, "# SKIP idem");
	} else {
		/* room for the net, not for a batch of 256 activations of 4 MB */
		lim = old;
		lim.rlim_cur = now + (256u << 20);
		setrlimit(RLIMIT_AS, &lim);
		mm_dataset d = { .nmod = 1, .X = { X }, .n = N };
		mm_status st = mm_net_predict(net, &d, P, &e);
		setrlimit(RLIMIT_AS, &old);
		ok(st == MM_ENOMEM, "prediction that runs out of memory fails with MM_ENOMEM");
		ok(st != MM_OK && strstr(e.msg, "out of memory"), "and says so: %s", st != MM_OK ? e.msg : "");
	}
	free(X);
	free(P);
	mm_net_free(net);
#endif
}

int main(void)
{
	test_registry();
	test_add_errors();
	test_predict_oom();
	return tap_done();
}
