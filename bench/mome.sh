#!/usr/bin/env bash
# bench/mome.sh — one training step of the MoME model (batch 32; three grids
# 8x8x64, 7x7x36, 4x4x72 pooled to 4x4 tokens each and refined by ADT, the
# encoder router on a 64-value instruction, width 128, 2 pre-norm blocks of 4
# heads with 4 MoLE-I adapters each, 16 classes; forward, cross-entropy,
# backward, AdamW) from lib/nn/move.h, against the same model in PyTorch on
# the CPU (bench/mome_torch.py: the same parameter count, printed), both at 1
# and 2 threads, in the same run.  Reported: the median seconds per step of 5
# after a warm-up, mmoe's split by stage (MoVE: pooling, ADT and the router;
# transformer; MoLE: the adapters), and the ratio to PyTorch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MMOE_BUILD:=$here/../build}"
PY=/usr/bin/python3
STEPS=${MOME_STEPS:-5}
ARGS="32 128 2 4 $STEPS"
work=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-mome.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -O2 -Ilib -I"$here/../lib" $(pkg-config --cflags openblas) -o "$work/mome-step" \
	"$here/mome-step.c" "$MMOE_BUILD/libmmoe.a" $(pkg-config --libs-only-L openblas) \
	-lopenblas -lzstd -lmsgpackc -ljansson -lpng -ljpeg -lutf8proc -lm -lpthread
echo "MoME step: batch 32, grids 8x8x64 7x7x36 4x4x72 -> 3 x 16 tokens (ADT, router), width 128, 2 blocks, 4 adapters"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %7s %9s %9s %8s %12s %8s\n' impl threads median_s min_s MoVE_s transformer_s MoLE_s
torch_ok=1
"$PY" -c 'import torch' 2>/dev/null || { echo "PyTorch missing (apt-get install python3-torch): no reference"; torch_ok=0; }
for th in 1 2; do
	read -r _ med mn mv tf ml < <("$work/mome-step" "$th" $ARGS)
	printf '%-8s %7d %9s %9s %8s %12s %8s\n' mmoe "$th" "$med" "$mn" "$mv" "$tf" "$ml"
	eval "ours_$th=\$med"
	if [ $torch_ok = 1 ]; then
		read -r _ tmed tmn np < <("$PY" "$here/mome_torch.py" "$th" $ARGS)
		printf '%-8s %7d %9s %9s %8s %12s %8s\n' pytorch "$th" "$tmed" "$tmn" - - -
		eval "torch_$th=\$tmed"
	fi
done
[ $torch_ok = 1 ] && echo "PyTorch model: $np parameters (the same count as mmoe's)"
for th in 1 2; do
	eval "o=\$ours_$th"
	[ $torch_ok = 1 ] && eval "t=\$torch_$th" &&
		echo "$th thread(s): mmoe / PyTorch = $(awk -v a="$o" -v b="$t" 'BEGIN{printf "%.2f", a/b}')"
done
