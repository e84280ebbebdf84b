/* model.c — model files: round trip, determinism, corrupt and hostile files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "util.h"
#include "stream.h"
#include "tap.h"

static char dir[] = "/tmp/mmoe-model-test.XXXXXX";

static const char *path_of(const char *name)
{
	static char buf[4][256];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static mm_model *make_model(int fusion, uint64_t seed)
{
	mm_net_spec s;
	mm_net_spec_default(&s);
	s.nmod = 2;
	s.dims[0] = 5;
	s.dims[1] = 3;
	s.proj = 4;
	s.hidden = 6;
	s.nclass = 3;
	s.fusion = fusion;
	s.bilinear_dim = 2;
	mm_model *m;
	mm_err e;
	if (mm_model_new(&m, &s, &e) != MM_OK)
		return NULL;
	mm_rng g;
	mm_rng_seed(&g, seed);
	mm_net_init(m->net, &g);
	mm_model_set_feature(m, 0, "v_hog", &e);
	mm_model_set_feature(m, 1, "t_hash", &e);
	mm_model_set_class(m, 0, "R", &e);
	mm_model_set_class(m, 1, "U", &e);
	mm_model_set_class(m, 2, "S", &e);
	mm_model_set_target(m, "rus", true, &e);
	for (int j = 0; j < 5; j++) {
		m->mean[0][j] = 0.1f * j;
		m->std[0][j] = 1.0f + j;
	}
	m->fit.loss = MM_LOSS_FOCAL;
	m->fit.select = MM_SELECT_MACRO_F1;
	m->fit.seed = seed;
	m->class_w = malloc(3 * sizeof(float));
	m->class_w[0] = 0.5f;
	m->class_w[1] = 1.25f;
	m->class_w[2] = 2.0f;
	m->best_epoch = 3;
	m->best_metric = 0.625;
	m->n_train = 100;
	m->n_val = 20;
	m->data_hash = 0xfedcba9876543210ULL;
	return m;
}

static size_t packed(const mm_model *m, char **out)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	mm_err e;
	if (mm_model_pack(m, &sb, &e) != MM_OK) {
		msgpack_sbuffer_destroy(&sb);
		*out = NULL;
		return 0;
	}
	*out = sb.data; /* caller frees */
	return sb.size;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	fwrite(p, 1, n, f);
	fclose(f);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	mm_err e;
	for (int fusion = 0; fusion < 3; fusion++) {
		mm_model *m = make_model(fusion, 7);
		ok(m != NULL, "fusion %s: model built", mm_fusion_name(fusion));
		const char *p1 = path_of("a.mm");
		ok(mm_model_save(m, p1, &e) == MM_OK, "saved");
		mm_model *l = NULL;
		if (!ok(mm_model_load(&l, p1, &e) == MM_OK, "loaded back: %s", e.msg))
			continue;
		char *b1, *b2;
		size_t n1 = packed(m, &b1), n2 = packed(l, &b2);
		ok(n1 > 0 && n1 == n2 && memcmp(b1, b2, n1) == 0, "save -> load -> pack gives identical bytes (%zu)", n1);
		free(b1);
		free(b2);
		ok(strcmp(l->classes[2], "S") == 0 && strcmp(l->feat[1], "t_hash") == 0 &&
				strcmp(l->target, "rus") == 0 && l->target_is_str, "names survive");
		ok(l->data_hash == 0xfedcba9876543210ULL && l->fit.seed == 7 && l->class_w &&
				l->class_w[1] == 1.25f && l->fit.loss == MM_LOSS_FOCAL, "provenance and hyper-parameters survive");
		ok(l->std[0][4] == 5.0f && l->mean[0][2] == 0.2f, "standardisation stats survive");
		/* same predictions */
		float X0[2 * 5] = { 1, 2, 3, 4, 5, -1, 0, 1, 0, -1 }, X1[2 * 3] = { 0.5f, -0.5f, 2, 1, 1, 1 };
		float P1[6], P2[6];
		mm_dataset d = { .nmod = 2, .X = { X0, X1 }, .n = 2 };
		mm_net_predict(m->net, &d, P1, NULL);
		mm_net_predict(l->net, &d, P2, NULL);
		ok(memcmp(P1, P2, sizeof P1) == 0, "loaded net predicts identically");
		mm_model_free(l);
		mm_model_free(m);
	}

	/* determinism of init: same seed, same bytes; other seed, other bytes */
	{
		mm_model *a = make_model(1, 11), *b = make_model(1, 11), *c = make_model(1, 12);
		c->fit.seed = 11;
		char *ba, *bb, *bc;
		size_t na = packed(a, &ba), nb = packed(b, &bb), nc = packed(c, &bc);
		ok(na == nb && memcmp(ba, bb, na) == 0, "same seed packs to the same bytes");
		ok(na != nc || memcmp(ba, bc, na) != 0, "another seed gives other weights");
		free(ba); free(bb); free(bc);
		mm_model_free(a); mm_model_free(b); mm_model_free(c);
	}

	/* corrupt and hostile files */
	mm_model *m = make_model(1, 3), *l = NULL;
	const char *good = path_of("good.mm");
	mm_model_save(m, good, &e);
	char *buf;
	size_t len;
	mm_read_file(good, 0, &buf, &len, &e);
	write_bytes(path_of("trunc.mm"), buf, len / 2);
	mm_status st = mm_model_load(&l, path_of("trunc.mm"), &e);
	ok(st != MM_OK && strstr(e.msg, "trunc.mm"), "truncated file is an error naming it: %s", e.msg);
	ok(st == MM_ECORRUPT || st == MM_ETRUNC, "truncated file is a data error (%s)", mm_status_name(st));
	buf[len / 2] ^= 0x55;
	write_bytes(path_of("flip.mm"), buf, len);
	st = mm_model_load(&l, path_of("flip.mm"), &e);
	ok(st != MM_OK && mm_status_exit(st) == MM_EXIT_DATA, "a flipped byte is caught (zstd checksum): %s", e.msg);
	free(buf);
	write_bytes(path_of("junk.mm"), "hello, world\n", 13);
	st = mm_model_load(&l, path_of("junk.mm"), &e);
	ok(st != MM_OK && mm_status_exit(st) == MM_EXIT_DATA, "junk is a data error: %s", e.msg);
	write_bytes(path_of("empty.mm"), "", 0);
	st = mm_model_load(&l, path_of("empty.mm"), &e);
	ok(st == MM_ECORRUPT && strstr(e.msg, "empty"), "empty file: %s", e.msg);
	st = mm_model_load(&l, path_of("missing.mm"), &e);
	ok(st == MM_EIO && mm_status_exit(st) == MM_EXIT_USAGE, "missing file is an I/O error: %s", e.msg);

	/* a record that is not a model, and two models in one file */
	{
		mm_writer *w;
		mm_rec *r = mm_rec_new();
		mm_rec_set_str(r, "id", "x", &e);
		mm_writer_open(&w, path_of("rec.mm"), MM_LEVEL_DEFAULT, &e);
		mm_writer_put(w, r, &e);
		mm_writer_close(w, &e);
		st = mm_model_load(&l, path_of("rec.mm"), &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "not an mmoe model"), "a plain record is not a model: %s", e.msg);
		mm_rec_free(r);
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		mm_model_pack(m, &sb, &e);
		mm_writer_open(&w, path_of("two.mm"), MM_LEVEL_DEFAULT, &e);
		mm_writer_put_raw(w, sb.data, sb.size, &e);
		mm_writer_put_raw(w, sb.data, sb.size, &e);
		mm_writer_close(w, &e);
		msgpack_sbuffer_destroy(&sb);
		st = mm_model_load(&l, path_of("two.mm"), &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "more than one"), "two records: %s", e.msg);
	}

	/* tampered fields, through unpack of a modified object */
	{
		msgpack_sbuffer sb;
		msgpack_sbuffer_init(&sb);
		mm_model_pack(m, &sb, &e);
		msgpack_unpacked u;
		msgpack_unpacked_init(&u);
		msgpack_unpack_next(&u, sb.data, sb.size, NULL);
		msgpack_object *o = &u.data;
		msgpack_object *classes = NULL, *version = NULL, *params = NULL, *feats = NULL;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (!strncmp(kv->key.via.str.ptr, "classes", kv->key.via.str.size))
				classes = &kv->val;
			if (!strncmp(kv->key.via.str.ptr, "version", kv->key.via.str.size))
				version = &kv->val;
			if (!strncmp(kv->key.via.str.ptr, "params", kv->key.via.str.size))
				params = &kv->val;
			if (!strncmp(kv->key.via.str.ptr, "features", kv->key.via.str.size))
				feats = &kv->val;
		}
		ok(mm_model_unpack(&l, o, "x.mm", &e) == MM_OK, "untampered unpack works");
		mm_model_free(l);
		classes->via.array.size = 2;
		st = mm_model_unpack(&l, o, "x.mm", &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "2 class names but the head has 3"), "class count mismatch: %s", e.msg);
		classes->via.array.size = 3;
		version->via.u64 = 99;
		st = mm_model_unpack(&l, o, "x.mm", &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "version 99"), "newer version: %s", e.msg);
		version->via.u64 = 1;
		params->via.array.size--;
		st = mm_model_unpack(&l, o, "x.mm", &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "parameter tensors"), "missing tensor: %s", e.msg);
		params->via.array.size++;
		/* swap two parameter entries: names and shapes no longer match */
		msgpack_object t = params->via.array.ptr[0];
		params->via.array.ptr[0] = params->via.array.ptr[1];
		params->via.array.ptr[1] = t;
		st = mm_model_unpack(&l, o, "x.mm", &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "params[0]"), "misplaced tensor: %s", e.msg);
		params->via.array.ptr[1] = params->via.array.ptr[0];
		params->via.array.ptr[0] = t;
		/* drop the first feature's "mean" key */
		msgpack_object *f0 = &feats->via.array.ptr[0];
		f0->via.map.ptr[2].key.via.str.ptr = "mea_";
		st = mm_model_unpack(&l, o, "x.mm", &e);
		ok(st == MM_ECORRUPT && strstr(e.msg, "features[0].mean") && strstr(e.msg, "missing"),
				"missing stats: %s", e.msg);
		msgpack_unpacked_destroy(&u);
		msgpack_sbuffer_destroy(&sb);
	}
	mm_model_free(m);
	/* an unnamed class cannot be saved */
	{
		mm_model *u = make_model(0, 1);
		free(u->classes[1]);
		u->classes[1] = NULL;
		ok(mm_model_save(u, path_of("u.mm"), &e) == MM_EUSAGE && access(path_of("u.mm"), F_OK) != 0,
				"incomplete model is refused and no file is left: %s", e.msg);
		mm_model_free(u);
	}
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
