#!/bin/bash
# make mustard-experts (pipelines/experts.mk) on the shared MUStARD copy with the
# MMoE authors' expert logits: the table for the five backbones, then every point
# estimate of it recomputed by an independent Python script (numpy and
# scikit-learn, no mmoe code: tests/mustard_experts_peer.py) within 0.001, and
# the authors' baseline and mean-of-experts F1.  A visible SKIP when the copy
# is not there.
. "$(dirname "$0")/lib.sh"
src=$SHARED/data/mustard
if [ ! -d "$src/experts" ] || [ ! -r "$src/mustard_raw_data.json" ]; then
	skip "no MUStARD copy with experts/ at $src"
	done_testing
	exit
fi
if ! have_py sklearn || ! have_py numpy; then
	skip "python3-sklearn or python3-numpy missing: no peer check"
	done_testing
	exit
fi
cd "$T"
BB="albef qwen2-0.5b qwen2-1.5b qwen2-7b mistral-7b"
run make --no-print-directory -s -f "$MMOE_TOP/pipelines/experts.mk" MMOE_BIN="$MMOE_BIN" \
	MUSTARD_SRC="$src" DATA="$T/data" RUNS="$T/runs" BOOT=200 experts
is "$rc" 0 "make mustard-experts runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
for b in $BB; do
	like "$out" "== $b: 356 test records \(R 213, U 109, S 34\); minus p_base with 95% paired bootstrap" "table: $b, the authors' test subsets"
done
for h in "F1\(pos\)" macro-F1 accuracy; do
	like "$out" "$h +all +R +U +S" "table: $h overall and by R/U/S"
done
like "$err" "warning: .*qwen2-7b/mustard_baseline_logits.jsonl: 356 of 356 entries have a pred that is not the argmax" \
	"the LLM files' pred (argmin of the logits) is reported, -q or not"
unlike "$err" "albef/mustard_.*not the argmax" "no such warning for ALBEF, whose pred is the argmax"

exp=$(echo "$T"/runs/mustard/t=hash/c=hash/track=paper/seed=1/ep=*/experts)
mmoe-cat --json --fields id,p_router "$exp/albef/fused.zst" >router.jsonl
# shellcheck disable=SC2086
"$PY" "$MMOE_TOP/tests/mustard_experts_peer.py" "$src" router.jsonl $BB | sort >peer.txt
for b in $BB; do
	jq -r --arg b "$b" '.blocks[] as $g | $g.methods | to_entries[] as $m | ["f1", "macro_f1", "acc"][] as $k
		| "\($b) \($m.key) \($g.group) \($k) \($m.value[$k].value)"' "$exp/$b/eval.json"
done | sort >mmoe.txt
is "$(wc -l <peer.txt | tr -d ' '):$(wc -l <mmoe.txt | tr -d ' ')" "540:540" \
	"540 point estimates each (5 backbones x 9 methods x all/R/U/S x F1, macro-F1, accuracy)"
join <(awk '{print $1"/"$2"/"$3"/"$4, $5}' mmoe.txt) <(awk '{print $1"/"$2"/"$3"/"$4, $5}' peer.txt) >both.txt
is "$(wc -l <both.txt | tr -d ' ')" 540 "the same 540 keys on both sides"
for b in $BB; do
	worst=$(awk -v b="$b/" 'index($1, b) == 1 { d = $2 - $3; if (d < 0) d = -d; if (d > m) { m = d; k = $1 } }
		END { printf "%.6f %s", m, k }' both.txt)
	ok "awk 'BEGIN { exit !(${worst%% *} <= 0.001) }'" "$b: every point estimate agrees with the Python peer within 0.001 (largest difference $worst)"
done

# The issue's reference, from the authors' logits: F1 of class 1, baseline -> mean.
ref="albef 52.1 58.6|qwen2-0.5b 73.2 72.3|qwen2-1.5b 71.3 73.5|qwen2-7b 73.1 73.3|mistral-7b 76.7 76.4"
IFS='|' read -ra refs <<<"$ref"
for r in "${refs[@]}"; do
	set -- $r
	got=$(awk -v b="$1" '$1 == b"/p_base/all/f1" { x = $2 } $1 == b"/p_mean/all/f1" { y = $2 }
		END { printf "%.1f %.1f", 100 * x, 100 * y }' both.txt)
	is "$got" "$2 $3" "$1: F1 baseline $2 -> mean of the experts $3, as the authors' logits give"
done

# A changed expert file stops the build before anything is computed from it.
mkdir -p fake/experts/albef && cp "$src"/experts/albef/*.jsonl fake/experts/albef/
echo >>fake/experts/albef/mustard_R_logits.jsonl
run make --no-print-directory -s -f "$MMOE_TOP/pipelines/experts.mk" MMOE_BIN="$MMOE_BIN" \
	MUSTARD_SRC="$T/fake" BACKBONES=albef DATA="$T/data" RUNS="$T/runs2" experts
isnt "$rc" 0 "an expert file that differs from the checked copy: make fails"
like "$out" "albef/mustard_R_logits.jsonl: FAILED" "an expert file that differs: named"
like "$err" "expert files in .*fake/experts differ from the copy this project was checked on \(EXPERTS_NOVERIFY=1 to go on\)" \
	"an expert file that differs: the way to go on"
ok "[ ! -e '$T/runs2' ]" "an expert file that differs: nothing built"
done_testing
