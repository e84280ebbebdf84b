#!/bin/bash
# Replay the image decoders' fuzz corpus (tests/fuzz/corpus/image) through
# tests/fuzz/image.c built as a plain program (-DMM_FUZZ_REPLAY), under
# AddressSanitizer and UBSan when the compiler has them; then every byte of a
# PNG and of a JPEG flipped in turn, and every prefix of both.
# `make fuzz` runs the same target under libFuzzer (clang) to grow the corpus.
. "$(dirname "$0")/lib.sh"
top=$MMOE_TOP
corpus=$top/tests/fuzz/corpus/image
fuzz_replayer "the image fuzz target" "$top/tests/fuzz/image.c $top/lib/image.c $top/lib/record.c $top/lib/err.c $top/lib/util.c" "-lpng -ljpeg -lmsgpackc -lm"
fuzz_replay_corpus "$corpus"

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
