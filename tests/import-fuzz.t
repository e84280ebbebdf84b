#!/bin/bash
# Replay the JSON import fuzz corpus (tests/fuzz/corpus/import) through
# tests/fuzz/import.c built as a plain program (-DMM_FUZZ_REPLAY), under ASan
# and UBSan when the compiler has them.  `make fuzz` runs it under libFuzzer.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
fuzz_replayer "the JSON import fuzz target" "-I$top/tools/common -DMM_VERSION=\"test\" -DMM_COMMIT=\"test\" \
$top/tests/fuzz/import.c $top/tools/common/cli.c $top/tools/common/cleanup.c \
$top/lib/record.c $top/lib/stream.c $top/lib/err.c $top/lib/util.c $top/lib/sparse.c" \
	"-Wl,--wrap=exit -ljansson -lzstd -lmsgpackc -lm"
# the tool exits right after an error: its error paths need not free
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0
fuzz_replay_corpus "$top/tests/fuzz/corpus/import"
done_testing
