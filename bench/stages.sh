#!/usr/bin/env bash
# bench/stages.sh — the cost per record of each stage of the MMoE pipeline
# (pipelines/mmoe.mk's commands) on the embedded synthetic data, one thread,
# for the scale model of the README.  Reference in the same run: mmoe-cat
# passing the tagged stream through (the decode + encode floor of any filter).
# Per-record stages (sharded by pipelines/shard.sh) are marked "shard"; the
# others need the whole stream on one machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
: "${MMOE_BIN:=$top/bin}"
N=${STAGES_BENCH_N:-3000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-stages.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# private copies: a concurrent `make` may relink bin/ under our feet
mkdir -p "$tmp/bin"
cp "$MMOE_BIN"/mmoe-* "$tmp/bin/"
PATH=$tmp/bin:$PATH
export OPENBLAS_NUM_THREADS=1
cd "$tmp"
ref=0
stage() { # name kind command...: one line, wall and CPU seconds, CPU microseconds per record
	local name=$1 kind=$2 w c
	shift 2
	/usr/bin/time -f '%e %U %S' -o "$tmp/time" bash -eu -o pipefail -c "$*" >/dev/null 2>&1 ||
		{ echo "bench stages: $name failed"; exit 1; }
	read -r w c < <(awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$tmp/time")
	last=$c
	printf '%-48s %-6s %6s %6s %10.0f %7s\n' "$name" "$kind" "$w" "$c" "$(echo "$c $N" | awk '{ print $1 / $2 * 1e6 }')" \
		"$(echo "$c $ref" | awk '$2 > 0 { printf "%.1f", $1 / $2 }')"
}
echo "$N records, 1 thread, $(nproc) cores; CPU time (user + sys) is the measure, wall time depends on the load"
echo "(us/record: CPU time / $N; x cat: against the mmoe-cat reference on feat.zst)"
printf '%-48s %-6s %6s %6s %10s %7s\n' stage kind wall cpu "us/record" "x cat"
stage "mmoe-synth (64x64 PNG + sentence)" shard "mmoe-synth --quiet --count $N --seed 1 --output data.zst"
stage "encode-vision color (decode PNG, histograms)" shard \
	"mmoe-encode-vision --quiet --encoder color --as v_color --no-tokens --drop-image --output v.zst data.zst"
stage "encode-text hash, 256 dims" shard \
	"mmoe-encode-text --quiet --field text --encoder hash --dim 256 --as t_hash256 --seed 1 --output feat.zst v.zst"
stage "mmoe-cat --fields (decode + encode, reference)" shard "mmoe-cat --quiet --fields id,label,split,v_color,t_hash256 --output cat.zst feat.zst"
ref=$last
stage "unipred vision, logreg, 5-fold cross-fitted" whole \
	"mmoe-unipred --quiet --model logreg --folds 5 --seed 1 --feature v_color --as pred_v --output pv.zst feat.zst"
stage "unipred text, logreg, 5-fold cross-fitted" whole \
	"mmoe-unipred --quiet --model logreg --folds 5 --seed 1 --feature t_hash256 --as pred_t --output pt.zst pv.zst"
stage "rus-split (tags; subsets need the whole)" whole \
	"mmoe-rus-split --quiet --pred-a pred_v --pred-b pred_t --as rus --out-R R.zst --out-U U.zst --out-S S.zst --output rus.zst pt.zst"
stage "train-expert baseline, 20 epochs" whole \
	"mmoe-train-expert --quiet --feature v_color --feature t_hash256 --epochs 20 --seed 1 --target label --output base.mm rus.zst"
stage "train-expert router (rus), 20 epochs" whole \
	"mmoe-train-expert --quiet --feature v_color --feature t_hash256 --epochs 20 --seed 1 --target rus --classes R,U,S --output router.mm rus.zst"
stage "train-expert --predict, 1 model" shard \
	"mmoe-train-expert --quiet --predict --model base.mm --as p_base rus.zst > pred.zst"
stage "train-expert --predict, 5 models" shard \
	"mmoe-train-expert --quiet --predict --model base.mm --as p_R --model base.mm --as p_U --model base.mm --as p_S --model router.mm --as p_router --model base.mm --as p_b rus.zst > pred5.zst"
stage "fuse soft" shard \
	"mmoe-fuse --quiet --router p_router --experts p_R,p_U,p_S --mode soft --as p_mmoe pred5.zst > fused.zst"
stage "eval, 1000 bootstrap resamples" whole \
	"mmoe-eval --quiet --pred p_mmoe --label label --by rus --split test --bootstrap 1000 --seed 1 fused.zst"
echo "sizes: data.zst $(du -k data.zst | cut -f1) KB (images inline), feat.zst $(du -k feat.zst | cut -f1) KB"
