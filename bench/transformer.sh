#!/usr/bin/env bash
# bench/transformer.sh — one training step of a transformer encoder (batch 64,
# 96 tokens of 256 features, width 256, 2 pre-norm blocks, 4 heads, FFN 1024,
# [CLS] + mean pooling, 2 classes; forward, cross-entropy, backward, AdamW),
# built from lib/nn's sequence kernels against the same model in PyTorch on
# the CPU, both at 1 and 2 threads, in the same run.  Token lengths are
# random in [48, 96] (the same padding for both).  Reported: the median
# seconds per step of 5 after a warm-up, the best of each side, the ratio
# (target <= 0.80), and GFLOP/s against the OpenBLAS sgemm peak.
#
# The threads share mm_sgemm's fixed panels of the large products, the
# (example, head) pairs of the attention and the fixed ranges of the
# element-wise work (lib/gemm.h), OpenBLAS itself running on one thread.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MMOE_BUILD:=$here/../build}"
PY=/usr/bin/python3
STEPS=${TRANSFORMER_STEPS:-5}
ARGS="64 96 256 4 1024 2 $STEPS"
work=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-transformer.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -Ilib -I"$here/../lib" $(pkg-config --cflags openblas) -o "$work/transformer-step" \
	"$here/transformer-step.c" "$MMOE_BUILD/libmmoe.a" $(pkg-config --libs-only-L openblas) \
	-lopenblas -lzstd -lmsgpackc -ljansson -lpng -ljpeg -lutf8proc -lm -lpthread
if [ -z "${SGEMM_PEAK:-}" ]; then
	SGEMM_PEAK=$work/sgemm-peak
	cc -O2 $(pkg-config --cflags openblas) -o "$SGEMM_PEAK" "$here/sgemm-peak.c" \
		$(pkg-config --libs-only-L openblas) -lopenblas
fi
flops=$("$work/transformer-step" 1 64 96 256 4 1024 2 1 | awk '{printf "%.1f", $4 * $2}')
echo "transformer step: batch 64, 96 tokens, width 256, 2 blocks, 4 heads, FFN 1024"
echo "work: $flops GFLOP per step (3 x forward at full length); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %7s %9s %9s %8s %7s\n' impl threads median_s min_s GFLOP/s %peak
torch_ok=1
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch missing (apt-get install python3-torch): no reference"; torch_ok=0; }
best_ours= best_torch=
for th in 1 2; do
	peak=$(for k in 1 2 3; do "$SGEMM_PEAK" 1024 "$th" | cut -d' ' -f2; done | sort -g | tail -1)
	read -r _ med mn _ < <("$work/transformer-step" "$th" $ARGS)
	gf=$(awk -v f="$flops" -v s="$med" 'BEGIN{printf "%.1f", f/s}')
	printf '%-8s %7d %9s %9s %8s %6.0f%%\n' mmoe "$th" "$med" "$mn" "$gf" \
		"$(awk -v g="$gf" -v p="$peak" 'BEGIN{print 100*g/p}')"
	best_ours=$(awk -v a="${best_ours:-1e9}" -v b="$med" 'BEGIN{print (b<a)?b:a}')
	eval "ours_$th=\$med"
	if [ $torch_ok = 1 ]; then
		read -r _ tmed tmn < <("$PY" "$here/transformer_torch.py" "$th" $ARGS)
		tgf=$(awk -v f="$flops" -v s="$tmed" 'BEGIN{printf "%.1f", f/s}')
		printf '%-8s %7d %9s %9s %8s %6.0f%%\n' pytorch "$th" "$tmed" "$tmn" "$tgf" \
			"$(awk -v g="$tgf" -v p="$peak" 'BEGIN{print 100*g/p}')"
		best_torch=$(awk -v a="${best_torch:-1e9}" -v b="$tmed" 'BEGIN{print (b<a)?b:a}')
		eval "torch_$th=\$tmed"
	fi
	echo "(sgemm peak at $th thread(s): $peak GFLOP/s)"
done
echo "2-thread speed-up (1-thread median / 2-thread median): mmoe $(awk -v a="$ours_1" -v b="$ours_2" 'BEGIN{printf "%.2f", a/b}')x$(
	[ -z "${torch_2:-}" ] || echo ", PyTorch $(awk -v a="$torch_1" -v b="$torch_2" 'BEGIN{printf "%.2f", a/b}')x")"
if [ -n "$best_torch" ]; then
	echo "best mmoe step ${best_ours}s, best PyTorch step ${best_torch}s:" \
		"ratio $(awk -v a="$best_ours" -v b="$best_torch" 'BEGIN{printf "%.2f", a/b}') (target <= 0.80)"
fi
