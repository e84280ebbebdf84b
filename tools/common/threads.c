/* threads.c — cli_set_threads() on its own, so that only the tools that use
 * BLAS link OpenBLAS (with --as-needed): OpenBLAS starts its worker threads
 * when it is loaded, which a filter like mmoe-cat should not pay for. */
#include <cblas.h>

#include "cli.h"

void cli_set_threads(int n)
{
	if (n > 0)
		openblas_set_num_threads(n);
}
