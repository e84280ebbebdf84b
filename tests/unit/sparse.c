/* Unit tests of lib/sparse.c and lib/tfidf.c: the record form, the CSR
 * kernels against the same products on dense matrices, the compact column
 * map, and the TF-IDF weights against hand-computed values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn.h"
#include "rng.h"
#include "sparse.h"
#include "tap.h"
#include "tfidf.h"

/* A random n × d CSR matrix with about a third of the entries non-zero, and
 * its dense copy. */
static void random_csr(mm_rng *g, size_t n, size_t d, mm_csr *X, float *D)
{
	mm_sparse row = {0};
	mm_err e;
	memset(D, 0, n * d * sizeof *D);
	for (size_t i = 0; i < n; i++) {
		row.dim = d;
		row.nnz = 0;
		mm_sparse_reserve(&row, d, &e);
		for (size_t j = 0; j < d; j++)
			if (mm_rng_below(g, 3) == 0) {
				float v = (float)mm_rng_normal(g);
				row.idx[row.nnz] = (uint32_t)j;
				row.val[row.nnz++] = v;
				D[i * d + j] = v;
			}
		mm_csr_append(X, &row, &e);
	}
	mm_sparse_free(&row);
}

static void test_kernels(void)
{
	enum { N = 7, D = 11, K = 3, H = 5 };
	mm_rng g;
	mm_rng_seed(&g, 5);
	mm_csr X = {0};
	float Xd[N * D];
	random_csr(&g, N, D, &X, Xd);
	double W[K * D], R[N * K], Z[N * K] = {0}, Zref[N * K] = {0}, G[K * D] = {0}, Gref[K * D] = {0};
	for (size_t i = 0; i < K * D; i++)
		W[i] = mm_rng_normal(&g);
	for (size_t i = 0; i < N * K; i++)
		R[i] = mm_rng_normal(&g);
	mm_csr_mul_wt(&X, W, K, Z);
	mm_csr_tmul(&X, R, K, 0.5, G);
	for (int i = 0; i < N; i++)
		for (int k = 0; k < K; k++)
			for (int j = 0; j < D; j++) {
				Zref[i * K + k] += Xd[i * D + j] * W[k * D + j];
				Gref[k * D + j] += 0.5 * R[i * K + k] * Xd[i * D + j];
			}
	double ez = 0, eg = 0;
	for (int i = 0; i < N * K; i++)
		ez = fmax(ez, fabs(Z[i] - Zref[i]));
	for (int i = 0; i < K * D; i++)
		eg = fmax(eg, fabs(G[i] - Gref[i]));
	ok(ez < 1e-12, "X Wt equals the dense product (max diff %g)", ez);
	ok(eg < 1e-12, "alpha Rt X equals the dense product (max diff %g)", eg);

	float Wt[D * H], b[H], Y[N * H], dY[N * H], dWt[D * H] = {0}, db[H] = {0};
	for (int i = 0; i < D * H; i++)
		Wt[i] = (float)mm_rng_normal(&g);
	for (int i = 0; i < H; i++)
		b[i] = (float)mm_rng_normal(&g);
	for (int i = 0; i < N * H; i++)
		dY[i] = (float)mm_rng_normal(&g);
	mm_csr_linear_forward(&X, Wt, b, H, Y);
	mm_csr_linear_backward(&X, dY, H, dWt, db);
	double ey = 0, ew = 0, eb = 0;
	for (int i = 0; i < N; i++)
		for (int k = 0; k < H; k++) {
			double y = b[k];
			for (int j = 0; j < D; j++)
				y += Xd[i * D + j] * Wt[j * H + k];
			ey = fmax(ey, fabs(y - Y[i * H + k]));
		}
	for (int j = 0; j < D; j++)
		for (int k = 0; k < H; k++) {
			double s = 0;
			for (int i = 0; i < N; i++)
				s += Xd[i * D + j] * dY[i * H + k];
			ew = fmax(ew, fabs(s - dWt[j * H + k]));
		}
	for (int k = 0; k < H; k++) {
		double s = 0;
		for (int i = 0; i < N; i++)
			s += dY[i * H + k];
		eb = fmax(eb, fabs(s - db[k]));
	}
	ok(ey < 1e-5, "sparse linear forward equals the dense one (max diff %g)", ey);
	ok(ew < 1e-5 && eb < 1e-5, "sparse linear backward: dWt and db equal the dense ones (%g, %g)", ew, eb);
	mm_csr_free(&X);
}

static void test_colmap(void)
{
	/* rows {0: 2@5, 4@9}, {1: 6@5}, {2: 1@7}; fit on rows 0 and 1 */
	mm_csr X = {0};
	mm_err e;
	uint32_t i0[] = {5, 9}, i1[] = {5}, i2[] = {7};
	float v0[] = {2, 4}, v1[] = {6}, v2[] = {1};
	mm_sparse r0 = {.dim = 10, .nnz = 2, .idx = i0, .val = v0};
	mm_sparse r1 = {.dim = 10, .nnz = 1, .idx = i1, .val = v1};
	mm_sparse r2 = {.dim = 10, .nnz = 1, .idx = i2, .val = v2};
	mm_csr_append(&X, &r0, &e);
	mm_csr_append(&X, &r1, &e);
	mm_csr_append(&X, &r2, &e);
	mm_sparse bad = {.dim = 11};
	ok(mm_csr_append(&X, &bad, &e) == MM_EVALUE && strstr(e.msg, "dim 11"), "a row of another dim is refused: %s", e.msg);
	size_t rows[] = {0, 1};
	mm_colmap cm;
	ok(mm_colmap_fit(&cm, &X, rows, 2, true, &e) == MM_OK && cm.m == 2 && cm.col[0] == 5 && cm.col[1] == 9,
		"the compact index holds the training columns 5 and 9");
	/* column 5: values 2, 6 -> sd 2; column 9: 4, 0 -> sd 2 (zeros counted, never centred) */
	near(cm.scale[0], 0.5, 1e-6, "column 5 scaled by 1/sd over the rows, zeros included");
	near(cm.scale[1], 0.5, 1e-6, "column 9 likewise");
	ok(mm_colmap_find(&cm, 7) == -1, "column 7, unseen in training, has no compact column");
	mm_csr S = {0};
	ok(mm_colmap_apply(&cm, &X, NULL, 0, &S, &e) == MM_OK && S.n == 3 && S.dim == 2 &&
		S.ptr[3] == 3 && S.ptr[2] == S.ptr[3], "mapped rows: row 2's unseen column is dropped");
	near(S.val[0], 1.0, 1e-6, "mapped values are scaled (2 * 0.5), not shifted");
	mm_csr_free(&S);
	mm_colmap_free(&cm);
	mm_csr_free(&X);
}

static void test_record(void)
{
	mm_rec *r = mm_rec_new();
	mm_err e;
	uint32_t idx[] = {1, 4};
	float val[] = {0.5f, -2};
	mm_sparse s = {.dim = 6, .nnz = 2, .idx = idx, .val = val}, t = {0};
	ok(mm_rec_set_sparse(r, "x", &s, &e) == MM_OK, "set a sparse field");
	const msgpack_object *o = mm_rec_get(r, "x");
	ok(o && mm_obj_is_sparse(o) && !mm_obj_is_tensor(o), "it is a sparse map, not a tensor");
	ok(mm_rec_sparse(r, "x", &t, &e) == MM_OK && t.dim == 6 && t.nnz == 2 && t.idx[1] == 4 && t.val[1] == -2,
		"read back: dim 6, indices 1 4, values 0.5 -2");
	mm_rec_set_vec(r, "d", val, 2, &e);
	ok(mm_rec_sparse(r, "d", &t, &e) == MM_ETYPE && strstr(e.msg, "field \"d\""),
		"a dense tensor is refused naming the field: %s", e.msg);
	ok(mm_rec_sparse(r, "nope", &t, &e) == MM_MISSING, "a missing field is MM_MISSING");
	mm_sparse_free(&t);
	mm_rec_free(r);
}

static void test_tfidf(void)
{
	mm_tfidf_params p;
	mm_tfidf_params_default(&p);
	mm_tokens tk = {0};
	mm_tfidf_work w = {0};
	mm_err e;
	const char *docs[] = {"a b a", "b c", "c"};
	mm_tfidf_df df;
	mm_tfidf_df_init(&df, &p, &e);
	for (int i = 0; i < 3; i++) {
		mm_tokenize(docs[i], strlen(docs[i]), false, &tk, &e);
		mm_tfidf_features(&p, &tk, &w, &e);
		if (i == 0)
			ok(w.n == 4, "\"a b a\": 4 distinct features (a, b, a b, b a), got %zu", w.n);
		mm_tfidf_df_add(&df, &w, &e);
	}
	char path[] = "/tmp/mmoe-idf-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ok(mm_tfidf_df_write(&df, path, &e) == MM_OK, "write the IDF table");
	mm_tfidf t;
	ok(mm_tfidf_load(&t, path, &e) == MM_OK && t.ndocs == 3 && t.m == 6,
		"load it: 3 documents, 6 features (a b c, a b, b a, b c)");
	mm_sparse s = {0};
	mm_tokenize("a b a z", 7, false, &tk, &e);
	ok(mm_tfidf_encode(&t, &tk, false, &w, &s, &e) == MM_OK && s.dim == (1u << 20), "encode \"a b a z\"");
	/* hand-computed: a: tf 1 + ln 2, df 1 -> idf ln(4/2) + 1; b: tf 1, df 2 -> ln(4/3) + 1;
	 * "a b", "b a": tf 1, df 1; z and "a z" unseen: dropped */
	double ia = log(2.0) + 1, ib = log(4.0 / 3) + 1;
	double want[] = {(1 + log(2.0)) * ia, ib, ia, ia};
	const char *f[] = {"a", "b", "a b", "b a"};
	int found = 0;
	for (int k = 0; k < 4; k++) {
		uint64_t h = mm_hash64(f[k], strlen(f[k]), p.seed);
		uint32_t b = mm_tfidf_bucket(&p, h);
		for (size_t i = 0; i < s.nnz; i++)
			if (s.idx[i] == b && fabs(s.val[i] - mm_tfidf_sign(h) * want[k]) < 1e-5)
				found++;
	}
	ok(found == 4 && s.nnz == 4, "the 4 known features carry sign * (1 + ln tf) * idf; unseen ones are dropped (%d, nnz %zu)",
		found, s.nnz);
	mm_tfidf_encode(&t, &tk, true, &w, &s, &e);
	double n2 = 0;
	for (size_t i = 0; i < s.nnz; i++)
		n2 += (double)s.val[i] * s.val[i];
	near(n2, 1.0, 1e-6, "with l2 the vector has unit norm");
	mm_tfidf_free(&t);
	FILE *fp = fopen(path, "w");
	fputs("mmoe-idf 1\nbits 20\nwords 2\nchars 0 0\nseed 1\ndocs 3\n5 1\n4 1\n", fp);
	fclose(fp);
	ok(mm_tfidf_load(&t, path, &e) == MM_ECORRUPT && strstr(e.msg, "line 8"),
		"a table with decreasing hashes is refused naming the line: %s", e.msg);
	unlink(path);
	mm_sparse_free(&s);
	mm_tfidf_df_free(&df);
	mm_tfidf_work_free(&w);
	mm_tokens_free(&tk);
}

/* The sparse_linear layer in a small net (pairs -> sparse_linear(4) -> relu
 * -> linear(3)): the gradients of its W and b equal central finite
 * differences of L = Σ R ⊙ logits, and padding pairs count for nothing. */
static void test_sparse_layer(void)
{
	enum { B = 3, T = 3, DIM = 6, H = 4, C = 3 };
	mm_err e;
	mm_net *net;
	mm_shape in = { T, 2 };
	mm_sparse_linear_conf sc = { H, DIM };
	mm_linear_conf head = { C };
	int x = 0;
	mm_net_new_shaped(&net, 1, &in, &e);
	x = mm_net_add(net, MM_NODE_SPARSE_LINEAR, "proj0", &x, 1, &sc, &e);
	int y = mm_net_add(net, MM_NODE_RELU, NULL, &x, 1, NULL, &e);
	y = mm_net_add(net, MM_NODE_LINEAR, NULL, &y, 1, &head, &e);
	ok(x > 0 && y > 0 && mm_net_finish(net, y, &e) == MM_OK, "a net with a sparse_linear first layer");
	mm_rng g;
	mm_rng_seed(&g, 9);
	mm_net_init(net, &g);
	/* sample 0: (1, 0.5) (4, -2); sample 1: (0, 1) (5, 3) (2, 0.25); sample 2: padding only */
	float X[B * T * 2] = { 1, 0.5f, 4, -2, -1, 0,  0, 1, 5, 3, 2, 0.25f,  -1, 0, -1, 0, -1, 0 };
	float R[B * C];
	for (int i = 0; i < B * C; i++)
		R[i] = (float)mm_rng_normal(&g);
	const float *Xs[1] = { X };
	mm_param *W = mm_net_param(net, "proj0.W"), *b = mm_net_param(net, "proj0.b");
	ok(W && b && W->shape[0] == DIM && W->shape[1] == H, "its W is stored by input column [dim, size]");
	/* forward of the first layer on sample 0, by hand */
	double L0 = 0;
	const float *Z = mm_net_forward(net, Xs, B, false, NULL);
	for (int i = 0; i < B * C; i++)
		L0 += R[i] * Z[i];
	mm_net_zero_grad(net);
	mm_net_backward(net, R);
	double worst = 0;
	mm_param *ps[2] = { W, b };
	for (int q = 0; q < 2; q++)
		for (size_t k = 0; k < ps[q]->n; k++) {
			float keep = ps[q]->w[k];
			double Lp = 0, Lm = 0, h = 1e-2;
			ps[q]->w[k] = keep + (float)h;
			Z = mm_net_forward(net, Xs, B, false, NULL);
			for (int i = 0; i < B * C; i++)
				Lp += R[i] * Z[i];
			ps[q]->w[k] = keep - (float)h;
			Z = mm_net_forward(net, Xs, B, false, NULL);
			for (int i = 0; i < B * C; i++)
				Lm += R[i] * Z[i];
			ps[q]->w[k] = keep;
			double fd = (Lp - Lm) / (2 * h);
			worst = fmax(worst, fabs(fd - ps[q]->g[k]) / (1 + fabs(fd)));
		}
	ok(worst < 1e-2, "sparse_linear: W and b gradients match finite differences (worst rel. %g)", worst);
	ok(isfinite(L0), "the forward is finite");
	ok(W->g[3 * H] == 0 && W->g[3 * H + 1] == 0, "a column no sample has (3) gets no gradient");
	mm_net_free(net);
}

int main(void)
{
	test_sparse_layer();
	test_kernels();
	test_colmap();
	test_record();
	test_tfidf();
	return tap_done();
}
