/* threads.c — cli_set_threads() on its own, so that only the tools that use
 * BLAS link OpenBLAS (with --as-needed): OpenBLAS starts its worker threads
 * when it is loaded, which a filter like mmoe-cat should not pay for. */
#include "cli.h"
#include "gemm.h"

void cli_set_threads(int n)
{
	mm_set_threads(n);
}
