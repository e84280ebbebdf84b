#!/bin/bash
# pipelines/mmoe.mk with the architecture as a path parameter: ARCH=transformer
# (and ARCH=mome, a run)
# puts the run under uni=UNI/arch=transformer/, trains on the token fields of
# the same feat.zst and rus tags as the MLP, and arch-table compares the two
# record by record (tiny: 300 records, 2 epochs, a transformer of width 16).
. "$(dirname "$0")/lib.sh"
mk=$MMOE_TOP/pipelines/mmoe.mk
cd "$T"
opts=(MMOE_BIN="$MMOE_BIN" N=300 EPOCHS=2 BOOT=50 RUNS="$T/runs" SEEDS=1
	ARCH_OPTS_transformer="--depth 1 --width 16 --heads 2 --ffn 32")
uni=$T/runs/synth/n=300/seed=1/v=color/t=hash256/uni=logreg
dirt=$uni/ho=0.2/arch=transformer/ep=2

run make --no-print-directory -s -f "$mk" "${opts[@]}" path ARCH=transformer
is "$out" "$dirt" "ARCH=transformer: an arch= component in the run directory"
run make --no-print-directory -s -f "$mk" "${opts[@]}" path ARCH=mlp
is "$out" "$uni/ho=0.2/ep=2" "ARCH=mlp (the default) has none"
run make --no-print-directory -n -f "$mk" "${opts[@]}" features
like "$out" "mmoe-encode-text -q .* --tokens" "the features carry the text tokens"
unlike "$out" "--no-tokens" "and the vision token grids"

run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" arch-table ARCH=transformer
is "$rc" 0 "arch-table ARCH=transformer runs both architectures"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
like "$out" "^transformer minus MLP, test split" "it prints the paired comparison"
for m in base mmoe oracle; do
	like "$out" "^1 +$m +all +[0-9]+ +[0-9.]+ +[0-9.]+ +[-+][0-9.]+ \[[-+][0-9.]+,[-+][0-9.]+\]" "a row for seed 1, $m"
done
like "$out" "over 1 seeds: mean ± sd" "and the summary over seeds"
ok "[ ! -e '$uni/ho=0.2/arch=transformer/rus.zst' ] && [ -s '$uni/ho=0.2/rus.zst' ]" "both read the same rus tags"
for k in base R router; do
	is "$(mmoe-train-expert --info "$dirt/$k.mm" | jq -r '.arch')" transformer "$k.mm is a transformer"
done
is "$(mmoe-train-expert --info "$dirt/base.mm" | jq -c '[.features[].name] | sort')" \
	'["t_hash256_tok","v_color_tok"]' "reading the token fields"
isnt "$(mmoe-train-expert --info "$uni/ho=0.2/ep=2/base.mm" | jq -r '.arch')" transformer "the reference is the MLP"
# the MLP's models, predicting the transformer's records, score as in the MLP's own run
is "$(jq -s '[.[0].blocks[] | select(.by == null)][0].methods.p_base_mlp.f1.value' "$dirt/vs-mlp.json")" \
	"$(mmoe-eval -q -p p_base --split test --bootstrap 0 --format json "$uni/ho=0.2/ep=2/pred.zst" | jq '.blocks[0].methods.p_base.f1.value')" \
	"the MLP baseline's F1 is the one of its own run"
is "$(jq -s '[.[1].blocks[] | select(.by == null)][0].methods.p_mmoe.f1.value' "$dirt/vs-mlp.json")" \
	"$(mmoe-eval -q -p p_mmoe --split test --bootstrap 0 --format json "$dirt/fused.zst" | jq '.blocks[0].methods.p_mmoe.f1.value')" \
	"the transformer's MMoE F1 is the one of its own run"
# ARCH=mome: the vision grid, the text as its instruction; baseline, experts and router
mopts=(ARCH=mome ARCH_OPTS_mome="--depth 1 --width 16 --heads 2 --ffn 32 --tokens 2 --aggregate add --adapters 2")
dirm=$(make --no-print-directory -s -f "$mk" "${opts[@]}" "${mopts[@]}" path)
run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" "${mopts[@]}" run
is "$rc" 0 "ARCH=mome runs the method"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
for k in base S router; do
	is "$(mmoe-train-expert --info "$dirm/$k.mm" | jq -c '[.arch, [.features[].name], .spec.adapters]')" \
		'["mome",["v_color_tok","t_hash256"],2]' "$k.mm is MoME on the grid, the text as instruction"
done
ok "[ -s '$dirm/eval.txt' ] && grep -q '^p_mmoe ' '$dirm/eval.txt'" "and its table"

run make --no-print-directory -s -f "$mk" "${opts[@]}" arch-table
isnt "$rc" 0 "arch-table with ARCH=mlp is an error"
like "$err" "ARCH=mlp is the reference" "saying why"

done_testing
