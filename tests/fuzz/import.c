/* tests/fuzz/import.c — mmoe-import's JSON Lines reader as a fuzz target.
 *
 * libFuzzer:  make fuzz   (clang -fsanitize=fuzzer,address,undefined)
 * Replayer:   cc -DMM_FUZZ_REPLAY ... → runs every file named on its
 *             command line (tests/import-fuzz.t replays
 *             tests/fuzz/corpus/import in `make check`).
 *
 * The JSON conversion lives in tools/import.c, which dies on bad data
 * through cli_die (exit 1).  The target includes that file with its main()
 * renamed, links with -Wl,--wrap=exit, and turns the exit into a longjmp
 * back here: an input ends either with its records written or with a
 * clean error.  Each line of the input is one JSON document, converted with
 * fields "x" and "v" declared tensors (-T), and the records are written to
 * /dev/null.  Crashes and sanitizer reports are bugs; leaks are not checked
 * (the tool exits right after an error, so its error paths need not free).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define main mmoe_import_main
#include "../../tools/import.c"
#undef main

static jmp_buf back;
static int armed;

void __real_exit(int code);
void __wrap_exit(int code);
void __wrap_exit(int code)
{
	if (armed)
		longjmp(back, code + 1);
	__real_exit(code);
}

static void setup(void)
{
	static char *tensors[] = {"x", "v", NULL};
	mm_err e;
	cli_prog = "mmoe-import";
	cli_quiet = true;
	/* the messages of a million bad inputs are not wanted on the terminal
	 * (sanitizer reports use file descriptor 2 directly and still show) */
	stderr = fopen("/dev/null", "w");
	opt.tensors = tensors;
	opt.ntensors = 2;
	opt.format = FMT_JSONL;
	in_name = "fuzz";
	FILE *null = fopen("/dev/null", "wb");
	if (!stderr || !null || mm_writer_fdopen(&w, null, "/dev/null", 0, &e) != MM_OK)
		abort();
	msgpack_sbuffer_init(&sbuf);
	msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		setup();
		ready = 1;
	}
	/* one NUL-terminated copy, exactly sized, so reading past it is caught */
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	in_line = 0;
	size_t start = 0;
	if (setjmp(back) == 0) {
		armed = 1;
		for (size_t i = 0; i <= size; i++) {
			if (i < size && copy[i] != '\n')
				continue;
			in_line++;
			size_t len = i - start;
			size_t k = 0;
			while (k < len && strchr(" \t\r\n", copy[start + k]))
				k++;
			if (k < len)
				import_jsonl_line(copy + start, len);
			start = i + 1;
		}
	} else if (cur_doc) {
		json_decref(cur_doc);
		cur_doc = NULL;
	}
	armed = 0;
	free(copy);
	return 0;
}

#include "replay.h"
