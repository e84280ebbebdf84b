/* dataset.c — standardisation statistics and balanced class weights against
 * hand-computed values. */
#include <string.h>

#include "dataset.h"
#include "tap.h"

int main(void)
{
	/* columns: 1,2,3,4 (mean 2.5, std √1.25); 7,7,7,7 (constant); 0,0,0,1e-7 */
	float X[4 * 3] = { 1, 7, 0, 2, 7, 0, 3, 7, 0, 4, 7, 1e-7f };
	float mean[3], std[3];
	mm_err e;
	ok(mm_standardize_fit(X, 4, 3, mean, std, &e) == MM_OK, "statistics of a 4 x 3 matrix");
	near(mean[0], 2.5, 1e-7, "mean");
	near(std[0], sqrt(1.25), 1e-6, "population standard deviation");
	ok(mean[1] == 7 && std[1] == 1, "a constant column: centred, std 1");
	ok(std[2] == 1, "a std of 4.3e-8, below the floor 1e-6, is taken as 1");
	int y[6] = { 0, 0, 0, 1, 1, 3 };
	float w[4];
	ok(mm_class_weights_balanced(y, 6, 4, w, &e) == MM_OK, "balanced class weights");
	near(w[0], 6.0 / (4 * 3), 1e-7, "n / (C n_c) for class 0");
	near(w[1], 6.0 / (4 * 2), 1e-7, "for class 1");
	ok(w[2] == 0 && fabs(w[3] - 1.5) < 1e-7, "0 for an absent class, 1.5 for a single example");
	y[5] = 4;
	ok(mm_class_weights_balanced(y, 6, 4, w, &e) == MM_EVALUE && strstr(e.msg, "example 5: label 4"),
			"a label out of range: %s", e.msg);
	return tap_done();
}
