/* tests/fuzz/replay.h — the main() of a fuzz target built as a plain corpus
 * replayer (-DMM_FUZZ_REPLAY, tests/lib.sh fuzz_replayer): every file named
 * on the command line goes once through LLVMFuzzerTestOneInput, as an
 * exact-size copy so that reading past its end is caught, then
 * "replayed N inputs".  Include it at the end of the target. */
#ifdef MM_FUZZ_REPLAY
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		size_t cap = 1 << 16, len = 0, k;
		unsigned char *buf = malloc(cap);
		while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
			len += k;
			if (len == cap)
				buf = realloc(buf, cap *= 2);
		}
		fclose(f);
		if (!buf)
			return 2;
		unsigned char *exact = malloc(len ? len : 1);
		if (!exact)
			return 2;
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
		nfiles++;
	}
	printf("replayed %d inputs\n", nfiles);
	return 0;
}
#endif
