/* sgemm-peak — the reference for "fraction of BLAS peak" in the benchmarks:
 * the best GFLOP/s of OpenBLAS cblas_sgemm on square N×N products, measured
 * in the same run as the code it is compared with.
 *   usage: sgemm-peak [N=1024] [threads=0 (library default)]
 * Prints one line: "sgemm_peak_gflops <value>". */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1024;
	int th = argc > 2 ? atoi(argv[2]) : 0;
	if (n < 16 || n > 8192) {
		fprintf(stderr, "sgemm-peak: N must be in [16, 8192]\n");
		return 2;
	}
	if (th > 0)
		openblas_set_num_threads(th);
	float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
	      *c = malloc(sizeof(float) * n * n);
	if (!a || !b || !c)
		return 2;
	for (long i = 0; i < (long)n * n; i++) {
		a[i] = (float)((i * 7) % 13) / 13.0f;
		b[i] = (float)((i * 5) % 11) / 11.0f;
	}
	double best = 0;
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now();
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
		double t = now() - t0;
		double g = 2.0 * n * n * (double)n / t / 1e9;
		if (g > best)
			best = g;
	}
	printf("sgemm_peak_gflops %.2f\n", best);
	free(a);
	free(b);
	free(c);
	return 0;
}
