#!/bin/bash
# Replay the image decoders' fuzz corpus (tests/fuzz/corpus/image) through
# tests/fuzz/image.c built as a plain program (-DMM_FUZZ_REPLAY), under
# AddressSanitizer and UBSan when the compiler has them; then every byte of a
# PNG and of a JPEG flipped in turn, and every prefix of both.
# `make fuzz` runs the same target under libFuzzer (clang) to grow the corpus.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
corpus=$top/tests/fuzz/corpus/image
CC=${CC:-cc}
src="$top/tests/fuzz/image.c $top/lib/image.c $top/lib/record.c $top/lib/err.c $top/lib/util.c"
flags="-I$top/lib -D_GNU_SOURCE -DMM_FUZZ_REPLAY -std=c11 -O1 -g"
libs="-lpng -ljpeg -lmsgpackc -lm"

san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
echo 'int main(void){return 0;}' >"$T/t.c"
if $CC $san -o "$T/t" "$T/t.c" 2>/dev/null && "$T/t"; then
	echo "# building the replayer with $CC and $san"
else
	san=
	echo "# building the replayer with $CC, without sanitizers (not available)"
fi
# shellcheck disable=SC2086
run $CC $flags $san -o "$T/replay" $src $libs
is "$rc" 0 "the image fuzz target builds as a replayer with $CC"
[ "$rc" = 0 ] || { printf '# %s\n' "$err"; done_testing; exit; }

n=$(ls "$corpus" | wc -l)
ok "[ $n -ge 10 ]" "the corpus has inputs ($n)"
ok "[ \$(du -sb '$corpus' | cut -f1) -lt 51200 ]" "the corpus stays small (< 50 KB)"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1
run "$T/replay" "$corpus"/*
is "$rc" 0 "every corpus input replays without a crash or sanitizer report"
is "$out" "replayed $n inputs" "all $n inputs were run"
[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"

# Mutants made on the spot: each byte flipped (xor 0xff), and every prefix.
mkdir -p "$T/m"
for f in scene.png photo.jpg grey16a.png; do
	"$PY" - "$top/tests/data/vision/$f" "$T/m/$f" <<'PYEOF' || cp "$top/tests/data/vision/$f" "$T/m/$f.0"
import sys
d = open(sys.argv[1], "rb").read()
for i in range(len(d)):
    open("%s.flip%d" % (sys.argv[2], i), "wb").write(d[:i] + bytes([d[i] ^ 0xff]) + d[i + 1:])
    open("%s.cut%d" % (sys.argv[2], i), "wb").write(d[:i])
PYEOF
done
m=$(ls "$T/m" | wc -l)
run "$T/replay" "$T/m"/*
is "$rc" 0 "$m flipped and cut images decode or fail cleanly"
[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"
done_testing
