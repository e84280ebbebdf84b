/* rus.c — the R/U/S categorisation rule and the fusion arithmetic on
 * hand-made cases with exact expected numbers. */
#include <math.h>
#include <string.h>

#include "rus.h"
#include "tap.h"
#include "util.h"

int main(void)
{
	mm_err e;
	/* Binary. */
	ok(mm_rus_categorise(1, 1, 1) == MM_RUS_R, "binary: both right -> R");
	ok(mm_rus_categorise(0, 0, 0) == MM_RUS_R, "binary: both right (negative) -> R");
	ok(mm_rus_categorise(1, 1, 0) == MM_RUS_U, "binary: only a right -> U");
	ok(mm_rus_categorise(1, 0, 1) == MM_RUS_U, "binary: only b right -> U");
	ok(mm_rus_categorise(1, 0, 0) == MM_RUS_S, "binary: both agree and wrong -> S");
	ok(mm_rus_categorise(0, 1, 1) == MM_RUS_S, "binary: both wrong (negative) -> S");
	/* Three classes. */
	ok(mm_rus_categorise(2, 0, 1) == MM_RUS_S, "3 classes: y=2 a=0 b=1 -> S (disagree, both wrong)");
	ok(mm_rus_categorise(2, 2, 0) == MM_RUS_U, "3 classes: y=2 a=2 b=0 -> U");
	ok(mm_rus_categorise(2, 1, 2) == MM_RUS_U, "3 classes: y=2 a=1 b=2 -> U");
	ok(mm_rus_categorise(2, 2, 2) == MM_RUS_R, "3 classes: y=2 a=2 b=2 -> R");
	ok(mm_rus_categorise(0, 1, 1) == MM_RUS_S, "3 classes: y=0 a=b=1 -> S");
	ok(!strcmp(mm_rus_name(MM_RUS_U), "U") && !strcmp(mm_rus_name(MM_RUS_S), "S"), "names");

	/* Fusion: K = 3 experts (R, U, S), C = 2 classes. */
	float router[3] = { 0.4f, 0.3f, 0.3f };
	float ex[6] = { 0.6f, 0.4f,   /* R */
			0.2f, 0.8f,   /* U */
			0.3f, 0.7f }; /* S */
	float w[3], f[3];
	int c = mm_fuse(router, ex, 3, 2, MM_FUSE_SOFT, 0, w, f);
	near(f[0], 0.39, 1e-6, "soft: fused[0] = .4*.6 + .3*.2 + .3*.3");
	near(f[1], 0.61, 1e-6, "soft: fused[1] = .4*.4 + .3*.8 + .3*.7");
	ok(c == 1, "soft: prediction 1");
	ok(w[0] == 0.4f && w[1] == 0.3f && w[2] == 0.3f, "soft: weights are the router's");
	c = mm_fuse(router, ex, 3, 2, MM_FUSE_HARD, 0, w, f);
	ok(c == 0 && f[0] == 0.6f && f[1] == 0.4f, "hard: the R expert alone -> 0");
	ok(w[0] == 1 && w[1] == 0 && w[2] == 0, "hard: one-hot weights");
	c = mm_fuse(router, ex, 3, 2, MM_FUSE_ORACLE, 1, w, f);
	ok(c == 1 && f[0] == 0.2f && f[1] == 0.8f && w[1] == 1 && w[0] == 0, "oracle U -> 1");
	c = mm_fuse(router, ex, 3, 2, MM_FUSE_ORACLE, 0, w, f);
	ok(c == 0 && f[0] == 0.6f, "oracle R -> 0");
	c = mm_fuse(router, ex, 3, 2, MM_FUSE_MEAN, 0, w, f);
	near(f[0], 1.1 / 3, 1e-6, "mean: fused[0] = (.6+.2+.3)/3");
	near(f[1], 1.9 / 3, 1e-6, "mean: fused[1] = (.4+.8+.7)/3");
	ok(c == 1 && fabsf(w[2] - 1.0f / 3) < 1e-7, "mean: prediction 1, uniform weights");
	/* Hard ties go to the first expert. */
	float tie[3] = { 0.2f, 0.4f, 0.4f };
	mm_fuse(tie, ex, 3, 2, MM_FUSE_HARD, 0, w, f);
	ok(w[1] == 1 && w[2] == 0, "hard: tie goes to the lower index");

	/* K = 2 experts, C = 3 classes. */
	float r2[2] = { 0.25f, 0.75f };
	float ex2[6] = { 0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f };
	c = mm_fuse(r2, ex2, 2, 3, MM_FUSE_SOFT, 0, w, f);
	near(f[0], 0.25, 1e-6, "3 classes: fused[0] = .25*.7 + .75*.1");
	near(f[1], 0.275, 1e-6, "3 classes: fused[1] = .25*.2 + .75*.3");
	near(f[2], 0.475, 1e-6, "3 classes: fused[2] = .25*.1 + .75*.6");
	ok(c == 2, "3 classes: prediction 2");

	/* Helpers. */
	float sm[2] = { 0, (float)log(3.0) };
	mm_vec_softmax(sm, 2);
	near(sm[0], 0.25, 1e-6, "softmax(0, ln 3)[0] = 1/4");
	near(sm[1], 0.75, 1e-6, "softmax(0, ln 3)[1] = 3/4");
	float big[2] = { 1000, 1000 };
	mm_vec_softmax(big, 2);
	ok(big[0] == 0.5f && big[1] == 0.5f, "softmax is stable for large logits");
	float nanv[3] = { NAN, 0.1f, 0.2f };
	ok(mm_vec_argmax(nanv, 3) == 2, "argmax skips NaN");

	int ren;
	float pv[2] = { 0.2f, 0.2f };
	ok(mm_fuse_check_probs(pv, 2, 1e-3, &ren, &e) == MM_OK && ren && pv[0] == 0.5f,
			"sum 0.4 is renormalised");
	float pw[2] = { 0.3f, 0.7005f };
	ok(mm_fuse_check_probs(pw, 2, 1e-3, &ren, &e) == MM_OK && !ren && pw[1] == 0.7005f,
			"sum within tolerance is kept");
	float pn[2] = { NAN, 1 };
	ok(mm_fuse_check_probs(pn, 2, 1e-3, &ren, &e) == MM_EVALUE && strstr(e.msg, "element 0"),
			"NaN refused: %s", e.msg);
	float pneg[2] = { -0.1f, 1.1f };
	ok(mm_fuse_check_probs(pneg, 2, 1e-3, &ren, &e) == MM_EVALUE && strstr(e.msg, "non-negative"),
			"negative refused: %s", e.msg);
	float pz[2] = { 0, 0 };
	ok(mm_fuse_check_probs(pz, 2, 1e-3, &ren, &e) == MM_EVALUE, "all zeros refused");
	ok(mm_fuse_mode_parse("oracle") == MM_FUSE_ORACLE && mm_fuse_mode_parse("x") == -1 &&
			!strcmp(mm_fuse_mode_name(MM_FUSE_MEAN), "mean"), "mode names");
	ok(mm_fuse_mode_parse("rule") == MM_FUSE_RULE && !strcmp(mm_fuse_mode_name(MM_FUSE_RULE), "rule"),
			"mode rule named");
	ok(mm_fuse_rule_expert(0, 1, 0, 1) == 1 && mm_fuse_rule_expert(1, 0, 0, 1) == 1 &&
			mm_fuse_rule_expert(1, 1, 0, 1) == 0 && mm_fuse_rule_expert(0, 0, 2, 1) == 2,
			"rule: U where the unimodal classes differ, else R");
	{
		float rw[3] = { 0 }, ex[6] = { 0.6f, 0.4f, 0.2f, 0.8f, 0.3f, 0.7f }, w[3], f[2];
		ok(mm_fuse(rw, ex, 3, 2, MM_FUSE_RULE, 1, w, f) == 1 && w[1] == 1 && w[0] == 0 && f[1] == 0.8f,
				"rule: one-hot at the given expert");
	}
	return tap_done();
}
