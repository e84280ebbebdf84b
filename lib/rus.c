#include "rus.h"

#include <math.h>
#include <string.h>

#include "util.h"

mm_rus mm_rus_categorise(int64_t y, int64_t a, int64_t b)
{
	if (a == y && b == y)
		return MM_RUS_R;
	if (a == y || b == y)   /* exactly one right, so a != b */
		return MM_RUS_U;
	return MM_RUS_S;
}

const char *mm_rus_name(mm_rus t)
{
	switch (t) {
	case MM_RUS_R: return "R";
	case MM_RUS_U: return "U";
	case MM_RUS_S: return "S";
	}
	return "?";
}

static const char *const mode_names[] = { "soft", "hard", "oracle", "mean", "rule" };
#define NMODES (sizeof mode_names / sizeof *mode_names)

const char *mm_fuse_mode_name(mm_fuse_mode m)
{
	return (unsigned)m < NMODES ? mode_names[m] : "?";
}

int mm_fuse_mode_parse(const char *s)
{
	for (int i = 0; i < (int)NMODES; i++)
		if (!strcmp(s, mode_names[i]))
			return i;
	return -1;
}

int mm_fuse_check_probs(float *p, size_t n, double tol, int *renormalised, mm_err *e)
{
	double s = 0;
	if (renormalised)
		*renormalised = 0;
	if (n == 0)
		return mm_errf(e, MM_EVALUE, "expected a non-empty probability vector, got 0 elements");
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(p[i]))
			return mm_errf(e, MM_EVALUE, "expected finite probabilities, element %zu is %g",
					i, (double)p[i]);
		if (p[i] < 0)
			return mm_errf(e, MM_EVALUE, "expected non-negative probabilities, element %zu is %g",
					i, (double)p[i]);
		s += p[i];
	}
	if (!(s > 0))
		return mm_errf(e, MM_EVALUE, "expected probabilities with a positive sum, got all zeros");
	if (fabs(s - 1.0) > tol) {
		for (size_t i = 0; i < n; i++)
			p[i] = (float)(p[i] / s);
		if (renormalised)
			*renormalised = 1;
	}
	return MM_OK;
}

int mm_fuse(const float *router, const float *experts, int K, int C, mm_fuse_mode mode,
		int oracle_k, float *w, float *fused)
{
	switch (mode) {
	case MM_FUSE_SOFT:
		memcpy(w, router, (size_t)K * sizeof *w);
		break;
	case MM_FUSE_HARD:
	case MM_FUSE_ORACLE:
	case MM_FUSE_RULE: {
		size_t top = mode == MM_FUSE_HARD ? mm_vec_argmax(router, (size_t)K) : (size_t)oracle_k;
		for (int k = 0; k < K; k++)
			w[k] = (size_t)k == top ? 1.0f : 0.0f;
		break;
	}
	case MM_FUSE_MEAN:
		for (int k = 0; k < K; k++)
			w[k] = 1.0f / (float)K;
		break;
	}
	/* Accumulate in double so the mixture does not depend on expert order
	 * beyond rounding of the final float. */
	for (int c = 0; c < C; c++) {
		double s = 0;
		for (int k = 0; k < K; k++)
			s += (double)w[k] * experts[(size_t)k * C + c];
		fused[c] = (float)s;
	}
	return (int)mm_vec_argmax(fused, (size_t)C);
}

int mm_fuse_rule_expert(int64_t a, int64_t b, int r_k, int u_k)
{
	return a != b ? u_k : r_k;
}

int mm_field_absent(const mm_rec *r, const char *key)
{
	const msgpack_object *o = mm_rec_get(r, key);
	return !o || o->type == MSGPACK_OBJECT_NIL;
}

mm_status mm_pred_class(mm_rec *r, const char *field, int64_t *cls, int64_t *nclass, mm_err *e)
{
	char key[512], where[160];
	if (nclass)
		*nclass = 0;
	if (snprintf(key, sizeof key, "%s_class", field) >= (int)sizeof key)
		return mm_errf(e, MM_EUSAGE, "field name \"%s\" is too long", field);
	int have_p = !mm_field_absent(r, field), have_c = !mm_field_absent(r, key);
	if (!have_p && !have_c)
		return mm_errf(e, MM_MISSING, "%s: missing prediction: neither field \"%s\" nor \"%s\"",
				mm_rec_where(r, where, sizeof where), field, key);
	int64_t C = 0, c = -1;
	if (have_p) {
		mm_tensor t;
		mm_status st = mm_rec_tensor(r, field, &t, true, e);
		if (st != MM_OK)
			return st;
		if (t.n == 0) {
			mm_tensor_free(&t);
			return mm_errf(e, MM_EVALUE, "%s: field \"%s\": expected a probability vector, got 0 values",
					mm_rec_where(r, where, sizeof where), field);
		}
		/* the check fuse applies: finite, non-negative, a positive sum */
		if ((st = mm_fuse_check_probs(t.data, t.n, 0, NULL, e)) != MM_OK) {
			mm_tensor_free(&t);
			mm_err_prefix(e, "%s: field \"%s\"", mm_rec_where(r, where, sizeof where), field);
			return st;
		}
		C = (int64_t)t.n;
		c = (int64_t)mm_vec_argmax(t.data, t.n);
		mm_tensor_free(&t);
	}
	if (have_c) {
		mm_status st = mm_rec_int(r, key, &c, e);
		if (st != MM_OK)
			return st;
		if (c < 0 || (C > 0 && c >= C))
			return mm_errf(e, MM_EVALUE, "%s: field \"%s\": class %lld outside 0..%lld",
					mm_rec_where(r, where, sizeof where), key, (long long)c,
					C > 0 ? (long long)C - 1 : (long long)INT64_MAX);
	}
	*cls = c;
	if (nclass)
		*nclass = C;
	return MM_OK;
}
