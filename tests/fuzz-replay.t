#!/bin/bash
# Replay the fuzz corpus of the record reader (tests/fuzz/corpus/reader) through
# tests/fuzz/reader.c built as a plain program (-DMM_FUZZ_REPLAY) with the system
# compiler, under AddressSanitizer and UBSan when the compiler has them.
# `make fuzz` runs the same target under libFuzzer (clang) to grow the corpus.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
corpus=$top/tests/fuzz/corpus/reader
fuzz_replayer "the fuzz target" "$top/tests/fuzz/reader.c $top/lib/record.c $top/lib/stream.c $top/lib/err.c $top/lib/util.c" "-lzstd -lmsgpackc -lm"
fuzz_replay_corpus "$corpus"

# Inputs made on the spot: each byte of a valid stream flipped in turn, and
# every prefix of it (a cut at each position).
mmoe-import -q --level 3 -T v -o "$T/s.zst" <<'JSON'
{"id":"a","v":[1,2,3],"t":"x"}
{"id":"b","v":[4,5,6],"m":{"k":[1,2]}}
JSON
size=$(stat -c %s "$T/s.zst")
mkdir "$T/gen"
perl -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $s = <$f>;
	for my $i (0 .. length($s) - 1) {
		open(my $c, ">", "$ARGV[1]/cut$i") or die; print $c substr($s, 0, $i); close $c;
		my $t = $s; substr($t, $i, 1) = "\xa5";
		open(my $g, ">", "$ARGV[1]/flip$i") or die; print $g $t; close $g;
	}' "$T/s.zst" "$T/gen"
run "$T/replay" "$T/gen"/*
is "$rc" 0 "every cut and every flipped byte of a small stream replays cleanly ($((2 * size)) inputs)"
[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"

done_testing
