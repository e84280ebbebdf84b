#!/bin/bash
# Replay the model loader's fuzz corpus (tests/fuzz/corpus/model) through
# tests/fuzz/model.c built as a plain program (-DMM_FUZZ_REPLAY), under ASan
# and UBSan when the compiler has them; then every prefix of a small model
# and each of its bytes flipped.  `make fuzz` runs the target under libFuzzer.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
# the loader and what it builds: the layers (lib/nn, whose trainer selects by
# lib/metrics and standardises by lib/dataset, multiplies by lib/gemm on lib/pool), records and streams
fuzz_replayer "the model fuzz target" "$top/tests/fuzz/model.c $top/lib/model.c $top/lib/nn/*.c \
$top/lib/record.c $top/lib/stream.c $top/lib/err.c $top/lib/util.c $top/lib/optim.c $top/lib/rng.c \
$top/lib/metrics.c $top/lib/dataset.c $top/lib/sparse.c $top/lib/gemm.c $top/lib/pool.c" \
	"$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas) -lzstd -lmsgpackc -ljansson -lutf8proc -lm -lpthread"
fuzz_replay_corpus "$top/tests/fuzz/corpus/model"

mkdir "$T/gen"
perl -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $s = <$f>;
	for my $i (0 .. length($s) - 1) {
		open(my $c, ">", "$ARGV[1]/cut$i") or die; print $c substr($s, 0, $i); close $c;
		my $t = $s; substr($t, $i, 1) = chr(ord(substr($t, $i, 1)) ^ 0xff);
		open(my $g, ">", "$ARGV[1]/flip$i") or die; print $g $t; close $g;
	}' "$top/tests/fuzz/corpus/model/one-feature.mm" "$T/gen"
n=$(ls "$T/gen" | wc -l)
run "$T/replay" "$T/gen"/*
is "$rc" 0 "every cut and every flipped byte of a small model loads or fails cleanly ($n inputs)"
[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"
done_testing
