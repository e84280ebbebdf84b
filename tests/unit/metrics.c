/* metrics.c — accuracy, precision, recall, F1, macro-F1 and bootstrap
 * intervals against values computed by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void check(const char *what, const int32_t *y, const int32_t *p, size_t n, int C, int pos,
		double acc, double prec, double rec, double f1, double mf1)
{
	mm_metrics m;
	mm_err e;
	mm_status st = mm_metrics_compute(y, p, NULL, n, C, pos, &m, &e);
	ok(st == MM_OK, "%s: computes", what);
	near(m.v[MM_MET_ACC], acc, 1e-12, "%s: accuracy", what);
	near(m.v[MM_MET_PRECISION], prec, 1e-12, "%s: precision", what);
	near(m.v[MM_MET_RECALL], rec, 1e-12, "%s: recall", what);
	near(m.v[MM_MET_F1], f1, 1e-12, "%s: F1 of the positive class", what);
	near(m.v[MM_MET_MACRO_F1], mf1, 1e-12, "%s: macro-F1", what);
	ok(m.n == n, "%s: n = %zu", what, n);
}

/* The trainer's checkpoint metrics (from probabilities) are mmoe-eval's:
 * with a class absent from both labels and predictions, macro-F1 averages the
 * two classes that occur, (2/3 + 4/5) / 2 = 0.733, not the three (0.489). */
static void test_probs_absent_class(void)
{
	int y[4] = { 0, 0, 1, 1 };
	int32_t y32[4] = { 0, 0, 1, 1 }, p32[4] = { 0, 1, 1, 1 };
	float P[4 * 3] = { 0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.1f, 0.6f, 0.3f, 0.3f, 0.4f, 0.3f };
	mm_metrics a, b;
	mm_err e;
	ok(mm_metrics_of_probs(P, y, 4, 3, 1, &a, &e) == MM_OK, "metrics of probabilities");
	mm_metrics_compute(y32, p32, NULL, 4, 3, 1, &b, &e);
	near(a.v[MM_MET_MACRO_F1], (2.0 / 3 + 4.0 / 5) / 2, 1e-12, "macro-F1 with an absent class averages the classes that occur");
	ok(memcmp(a.v, b.v, sizeof a.v) == 0, "every metric equals the one of the argmax predictions, bit for bit");
	y[3] = 3;
	ok(mm_metrics_of_probs(P, y, 4, 3, 1, &a, &e) == MM_EVALUE && strstr(e.msg, "example 3: label 3"),
			"a label out of range: %s", e.msg);
	near(mm_metric_nll(P, (int[]){ 0, 1, 1, 1 }, 4, 3), -(log(0.8) + log(0.7) + log(0.6) + log(0.4)) / 4, 1e-6,
			"mean negative log-likelihood");
}

int main(void)
{
	mm_err e;
	test_probs_absent_class();
	/* Binary: TP 3, FN 1, FP 2, TN 2. */
	int32_t y1[] = { 1, 1, 1, 0, 0, 0, 1, 0 }, p1[] = { 1, 0, 1, 0, 1, 0, 1, 1 };
	check("binary", y1, p1, N(y1), 2, 1, 5.0 / 8, 3.0 / 5, 3.0 / 4, 2.0 / 3,
			(2.0 / 3 + 4.0 / 7) / 2);
	/* Same data, class 0 as the positive one: P 2/3, R 1/2, F1 4/7. */
	check("binary, positive 0", y1, p1, N(y1), 2, 0, 5.0 / 8, 2.0 / 3, 0.5, 4.0 / 7,
			(2.0 / 3 + 4.0 / 7) / 2);

	/* Three classes, positive 2: per-class F1 1, 0.5, 0.5. */
	int32_t y3[] = { 0, 1, 2, 2, 1, 0 }, p3[] = { 0, 2, 2, 1, 1, 0 };
	check("3 classes", y3, p3, N(y3), 3, 2, 4.0 / 6, 0.5, 0.5, 0.5, 2.0 / 3);
	/* A class absent from labels and predictions does not enter macro-F1. */
	int32_t y4[] = { 0, 0, 1, 1 }, p4[] = { 0, 1, 1, 1 };
	check("class 2 absent", y4, p4, N(y4), 3, 1, 0.75, 2.0 / 3, 1.0, 0.8, (2.0 / 3 + 0.8) / 2);

	/* Edge cases (documented conventions: zero division gives 0). */
	int32_t z0[] = { 0, 0, 0 };
	check("no positives at all", z0, z0, 3, 2, 1, 1.0, 0, 0, 0, 1.0);
	int32_t yfp[] = { 0, 0 }, pfp[] = { 1, 0 };
	check("false positive only", yfp, pfp, 2, 2, 1, 0.5, 0, 0, 0, (2.0 / 3 + 0) / 2);
	int32_t yfn[] = { 1, 1 }, pfn[] = { 0, 0 };
	check("all positives missed", yfn, pfn, 2, 2, 1, 0, 0, 0, 0, 0);
	check("empty set", y1, p1, 0, 2, 1, 0, 0, 0, 0, 0);

	/* Subset through idx. */
	size_t idx[] = { 0, 1, 3 };
	mm_metrics m;
	ok(mm_metrics_compute(y1, p1, idx, 3, 2, 1, &m, &e) == MM_OK && m.n == 3, "subset by idx");
	near(m.v[MM_MET_ACC], 2.0 / 3, 1e-12, "subset accuracy");
	near(m.v[MM_MET_RECALL], 0.5, 1e-12, "subset recall");

	/* Confusion matrix layout and range checks. */
	uint64_t cm[9];
	ok(mm_confusion_fill(y3, p3, NULL, N(y3), 3, cm, &e) == MM_OK, "confusion fills");
	uint64_t want[9] = { 2, 0, 0, 0, 1, 1, 0, 1, 1 };
	ok(!memcmp(cm, want, sizeof want), "confusion is cm[true][pred]");
	int32_t bad[] = { 0, 3 };
	ok(mm_confusion_fill(y3, bad, NULL, 2, 3, cm, &e) == MM_EVALUE && strstr(e.msg, "example 1"),
			"prediction out of range names the example: %s", e.msg);
	ok(mm_confusion_fill(bad, y3, NULL, 2, 3, cm, &e) == MM_EVALUE && strstr(e.msg, "label 3"),
			"label out of range: %s", e.msg);

	/* Quantiles: numpy's linear interpolation. */
	double s[] = { 1, 2, 3, 4 };
	near(mm_quantile_sorted(s, 4, 0.25), 1.75, 1e-12, "quantile 0.25 of 1..4");
	near(mm_quantile_sorted(s, 4, 0.975), 3.925, 1e-12, "quantile 0.975 of 1..4");
	near(mm_quantile_sorted(s, 4, 0), 1, 1e-12, "quantile 0");
	near(mm_quantile_sorted(s, 4, 1), 4, 1e-12, "quantile 1");

	/* Bootstrap: deterministic by seed, paired, independent of the methods. */
	enum { BN = 200 };
	int32_t by[BN], pa[BN], pb[BN];
	for (int i = 0; i < BN; i++) {
		by[i] = (i * 7) % 3 == 0;
		pa[i] = i % 5 == 0 ? !by[i] : by[i];
		pb[i] = i % 4 == 1 ? !by[i] : by[i];
	}
	const int32_t *two[] = { pa, pb }, *one[] = { pa }, *same[] = { pa, pa };
	mm_metrics lo1[2], hi1[2], lo2[2], hi2[2], lo3[1], hi3[1], lo4[2], hi4[2];
	mm_rng g;
	mm_rng_seed(&g, 1);
	ok(mm_metrics_bootstrap(by, two, 2, NULL, BN, 2, 1, 500, 0.95, &g, lo1, hi1, &e) == MM_OK,
			"bootstrap runs");
	mm_rng_seed(&g, 1);
	mm_metrics_bootstrap(by, two, 2, NULL, BN, 2, 1, 500, 0.95, &g, lo2, hi2, &e);
	ok(!memcmp(lo1, lo2, sizeof lo1) && !memcmp(hi1, hi2, sizeof hi1), "same seed, same intervals");
	mm_rng_seed(&g, 1);
	mm_metrics_bootstrap(by, one, 1, NULL, BN, 2, 1, 500, 0.95, &g, lo3, hi3, &e);
	ok(!memcmp(&lo3[0], &lo1[0], sizeof lo3[0]) && !memcmp(&hi3[0], &hi1[0], sizeof hi3[0]),
			"a method's interval does not depend on the other methods");
	mm_rng_seed(&g, 2);
	mm_metrics_bootstrap(by, two, 2, NULL, BN, 2, 1, 500, 0.95, &g, lo2, hi2, &e);
	ok(memcmp(lo1, lo2, sizeof lo1) != 0, "another seed, other intervals");
	mm_rng_seed(&g, 1);
	mm_metrics_bootstrap(by, same, 2, NULL, BN, 2, 1, 500, 0.95, &g, lo4, hi4, &e);
	ok(!memcmp(&lo4[0], &lo4[1], sizeof lo4[0]) && !memcmp(&hi4[0], &hi4[1], sizeof hi4[0]),
			"identical predictions, identical intervals (paired resamples)");
	for (int j = 0; j < 2; j++) {
		mm_metrics pt;
		mm_metrics_compute(by, two[j], NULL, BN, 2, 1, &pt, &e);
		for (int k = 0; k < MM_MET_COUNT; k++)
			ok(lo1[j].v[k] <= pt.v[k] && pt.v[k] <= hi1[j].v[k] && lo1[j].v[k] < hi1[j].v[k],
					"method %d %s: %.3f in [%.3f, %.3f]", j, mm_metric_name(k),
					pt.v[k], lo1[j].v[k], hi1[j].v[k]);
	}
	/* Method a is wrong on 1 in 5 examples: accuracy 0.8, standard error
	 * sqrt(.8*.2/200) = 0.028, so the 95% interval is about 0.8 +- 0.055. */
	near(hi1[0].v[MM_MET_ACC] - lo1[0].v[MM_MET_ACC], 2 * 1.96 * 0.028284, 0.25,
			"interval width close to the normal approximation");
	mm_metrics lp[1], hp[1];
	mm_rng_seed(&g, 3);
	const int32_t *perfect[] = { by };
	mm_metrics_bootstrap(by, perfect, 1, NULL, BN, 2, 1, 100, 0.95, &g, lp, hp, &e);
	ok(lp[0].v[MM_MET_F1] == 1 && hp[0].v[MM_MET_F1] == 1, "perfect predictor: interval [1, 1]");
	ok(mm_metrics_bootstrap(by, two, 2, NULL, BN, 2, 1, 10, 1.5, &g, lo1, hi1, &e) == MM_EUSAGE,
			"bad level is refused");
	/* Paired differences. */
	{
		mm_metrics l5[2], h5[2], dl[2], dh[2];
		mm_rng_seed(&g, 1);
		ok(mm_metrics_bootstrap_diff(by, two, 2, NULL, BN, 2, 1, 500, 0.95, &g, l5, h5, 0, dl, dh, &e)
				== MM_OK, "bootstrap with differences runs");
		mm_rng_seed(&g, 1);
		mm_metrics_bootstrap(by, two, 2, NULL, BN, 2, 1, 500, 0.95, &g, lo1, hi1, &e);
		ok(!memcmp(l5, lo1, sizeof l5) && !memcmp(h5, hi1, sizeof h5),
				"same intervals as without differences");
		ok(dl[0].v[MM_MET_ACC] == 0 && dh[0].v[MM_MET_F1] == 0, "difference to itself is 0");
		mm_metrics pa_m, pb_m;
		mm_metrics_compute(by, pa, NULL, BN, 2, 1, &pa_m, &e);
		mm_metrics_compute(by, pb, NULL, BN, 2, 1, &pb_m, &e);
		double d0 = pb_m.v[MM_MET_ACC] - pa_m.v[MM_MET_ACC];
		ok(dl[1].v[MM_MET_ACC] <= d0 && d0 <= dh[1].v[MM_MET_ACC], "accuracy difference %.3f in [%.3f, %.3f]",
				d0, dl[1].v[MM_MET_ACC], dh[1].v[MM_MET_ACC]);
		/* b2 = a, made right on 20 of the examples a gets wrong: never worse
		 * on any resample, so the whole interval of differences is >= 0; the
		 * difference on a resample is (fixed examples drawn) / n, 0.1 on
		 * average. */
		int32_t pb2[BN];
		int fixed = 0;
		for (int i = 0; i < BN; i++) {
			pb2[i] = pa[i];
			if (pa[i] != by[i] && fixed < 20) {
				pb2[i] = by[i];
				fixed++;
			}
		}
		const int32_t *ab2[] = { pa, pb2 };
		mm_rng_seed(&g, 4);
		mm_metrics_bootstrap_diff(by, ab2, 2, NULL, BN, 2, 1, 500, 0.95, &g, l5, h5, 0, dl, dh, &e);
		ok(dl[1].v[MM_MET_ACC] > 0 && dl[1].v[MM_MET_ACC] < 0.1 && 0.1 < dh[1].v[MM_MET_ACC],
				"strictly better method: accuracy difference > 0, around 20/200: [%.3f, %.3f]",
				dl[1].v[MM_MET_ACC], dh[1].v[MM_MET_ACC]);
		ok(dl[1].v[MM_MET_RECALL] >= 0, "strictly better method: recall difference >= 0");
		ok(mm_metrics_bootstrap_diff(by, ab2, 2, NULL, BN, 2, 1, 10, 0.95, &g, l5, h5, 2, dl, dh, &e)
				== MM_EUSAGE, "reference out of range is refused");
	}
	ok(!strcmp(mm_metric_name(MM_MET_MACRO_F1), "macro_f1"), "metric names");
	return tap_done();
}
