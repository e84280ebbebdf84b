#!/bin/bash
# Replay the fuzz corpus of the record reader (tests/fuzz/corpus/reader) through
# tests/fuzz/reader.c built as a plain program (-DMM_FUZZ_REPLAY) with the system
# compiler, under AddressSanitizer and UBSan when the compiler has them.
# `make fuzz` runs the same target under libFuzzer (clang) to grow the corpus.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
corpus=$top/tests/fuzz/corpus/reader
CC=${CC:-cc}
src="$top/tests/fuzz/reader.c $top/lib/record.c $top/lib/stream.c $top/lib/err.c $top/lib/util.c"
flags="-I$top/lib -D_GNU_SOURCE -DMM_FUZZ_REPLAY -std=c11 -O1 -g"
libs="-lzstd -lmsgpackc -lm"

san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
echo 'int main(void){return 0;}' > "$T/t.c"
if $CC $san -o "$T/t" "$T/t.c" 2>/dev/null && "$T/t"; then
	echo "# building the replayer with $CC and $san"
else
	san=
	echo "# building the replayer with $CC, without sanitizers (not available)"
fi
# shellcheck disable=SC2086
run $CC $flags $san -o "$T/replay" $src $libs
is "$rc" 0 "the fuzz target builds as a replayer with $CC"
[ "$rc" = 0 ] || { printf '# %s\n' "$err"; done_testing; exit; }

n=$(ls "$corpus" | wc -l)
ok "[ $n -ge 10 ]" "the corpus has inputs ($n)"
ok "[ \$(du -sb '$corpus' | cut -f1) -lt 51200 ]" "the corpus stays small (< 50 KB)"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1
run "$T/replay" "$corpus"/*
is "$rc" 0 "every corpus input replays without a crash or sanitizer report"
is "$out" "replayed $n inputs" "all $n inputs were run"
[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"

# Inputs made on the spot: each byte of a valid stream flipped in turn, and
# every prefix of it (a cut at each position).
mmoe-import -q -l 3 -T v -o "$T/s.zst" <<'JSON'
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
