/* tests/fuzz/model.c — the model loader as a fuzz target.
 *
 * libFuzzer:  make fuzz   (clang -fsanitize=fuzzer,address,undefined)
 * Replayer:   cc -DMM_FUZZ_REPLAY ... tests/fuzz/model.c → runs every file
 *             named on its command line once (tests/model-fuzz.t replays
 *             tests/fuzz/corpus/model in `make check`).
 *
 * Each input is a model file handed to mm_model_load(), the loader's public
 * entry point, through a memory file (memfd) so that no disk is touched.  A
 * model that loads is packed again, and the packed bytes must load too.  The
 * corpus holds plain-msgpack models (MMOE_ZSTD_LEVEL=0): zstd checksums would
 * stop almost every mutation before the loader sees it.
 * Errors are the point; crashes, leaks and sanitizer reports are bugs.
 * When the model format changes, only the corpus needs regenerating.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"

static int load_bytes(const void *data, size_t size, mm_model **m, mm_err *e)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-model", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	return mm_model_load(m, path, e) == MM_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mm_model *m = NULL, *m2 = NULL;
	mm_err e;
	if (!load_bytes(data, size, &m, &e))
		return 0;
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	if (mm_model_pack(m, &sb, &e) != MM_OK || !load_bytes(sb.data, sb.size, &m2, &e)) {
		fprintf(stderr, "a loaded model does not pack and load again: %s\n", e.msg);
		abort();
	}
	msgpack_sbuffer_destroy(&sb);
	mm_model_free(m2);
	mm_model_free(m);
	return 0;
}

#include "replay.h"
