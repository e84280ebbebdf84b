#!/bin/bash
# End-to-end run of pipelines/mmoe.mk on a tiny synthetic set (300 records, 2
# epochs) in a scratch directory, under make -j2; then a failing stage must leave
# no file behind, and an up-to-date run must do nothing.
. "$(dirname "$0")/lib.sh"
mk=$MMOE_TOP/pipelines/mmoe.mk
cd "$T"
opts=(MMOE_BIN="$MMOE_BIN" N=300 EPOCHS=2 BOOT=50 RUNS="$T/runs")
dir=$T/runs/synth/n=300/seed=1/v=color/t=hash256/uni=logreg/ep=2

run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" demo
is "$rc" 0 "demo pipeline runs (make -j2)"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
ok "[ -s '$dir/eval.txt' ] && [ -s '$dir/eval.json' ]" "final table written (text and JSON)"
like "$out" "rus \(rows\) x gen_type \(columns\)" "demo prints the rus x gen_type table"
like "$out" "split test: [0-9]+ records, accuracy" "demo prints the router's accuracy"
like "$out" "confusion p_router \(rows: true rus" "and its confusion matrix against rus"
like "$out" "F1\(pos\) minus p_base by rus \(paired" "demo prints paired differences to the baseline"
like "$out" "t=hash256/uni=[a-z]+/ep=[0-9]+ +pred_t " "demo compares the text encoders: hash256"
like "$out" "t=tfidf/uni=[a-z]+/ep=[0-9]+ +pred_t " "and TF-IDF (sparse, IDF of the train split)"
like "$out" "t=tfidf uni=[a-z]+ ep=[0-9]+ +p_mmoe " "with the methods' scores side by side"
for m in p_base p_R p_U p_S p_mmoe p_hard p_oracle p_mean; do
	like "$(grep -A9 '^all (n=' "$dir/eval.txt")" "^$m " "table row $m (all test records)"
done
like "$(cat "$dir/eval.txt")" "gen_type = S \(n=" "table broken down by gen_type"
like "$(cat "$dir/eval.txt")" "rus = R \(n=" "table broken down by rus"
is "$(jq '[.blocks[] | select(.by == null)][0].n' "$dir/eval.json")" \
	"$(mmoe-cat --json --fields split "$dir/fused.zst" | jq -s 'map(select(.split == "test")) | length')" \
	"eval covers exactly the test split"
is "$(mmoe-cat --json --head 1 "$dir/fused.zst" | jq -r '[has("p_mmoe_w"), has("p_oracle"), has("rus"), has("pred_v_class")] | map(tostring) | join(" ")')" \
	"true true true true" "records carry predictions, rus, weights"

# same seed, same results: a second tree built under -j2 in another order
run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" RUNS="$T/runs2" run
dir2=$T/runs2/synth/n=300/seed=1/v=color/t=hash256/uni=logreg/ep=2
ok "cmp -s '$dir/eval.txt' '$dir2/eval.txt'" "a second run gives the same table"
is "$(mmoe-cat --json "$dir2/fused.zst" | md5sum)" "$(mmoe-cat --json "$dir/fused.zst" | md5sum)" \
	"and the same records, to the bit"

# up to date: nothing is rebuilt
run make --no-print-directory -j2 -f "$mk" "${opts[@]}" run
is "$(printf '%s\n' "$out" | grep -c 'mmoe-')" 0 "a second run rebuilds nothing"

# a stage depends on the tools it runs: a newer mmoe-fuse remakes fused.zst and
# what reads it, a newer mmoe-synth everything
mkdir -p "$T/bin2" && cp -p "$MMOE_BIN"/mmoe* "$T/bin2/"
touch "$T/bin2/mmoe-fuse"
run make --no-print-directory -n -f "$mk" "${opts[@]}" MMOE_BIN="$T/bin2" run
like "$out" "mmoe-fuse .*-o [^ ]*/fused.zst" "a newer mmoe-fuse remakes fused.zst"
like "$out" "mmoe-eval .*--format json" "and the evaluation below it"
unlike "$out" "mmoe-synth|mmoe-train-expert|mmoe-unipred" "but nothing above it"
touch "$T/bin2/mmoe-synth"
run make --no-print-directory -n -f "$mk" "${opts[@]}" MMOE_BIN="$T/bin2" run
like "$out" "mmoe-synth .*data.zst" "a newer mmoe-synth remakes data.zst"
like "$out" "mmoe-train-expert .*base.mm" "and every stage below it"

# a stage that fails half-way leaves no file (pipefail + .DELETE_ON_ERROR)
mkdir -p "$T/bin"
for t in "$MMOE_BIN"/mmoe*; do ln -s "$t" "$T/bin/"; done
rm "$T/bin/mmoe-fuse" "$T/bin/mmoe-eval"
cat > "$T/bin/mmoe-fuse" <<-END
	#!/bin/bash
	# writes a partial stream, then fails
	"$MMOE_BIN/mmoe-fuse" "\$@" | head -c 100
	exit 1
END
cat > "$T/bin/mmoe-eval" <<-END
	#!/bin/bash
	# prints half a table on stdout (redirected into the target), then fails
	"$MMOE_BIN/mmoe-eval" "\$@" | head -n 3
	exit 1
END
chmod +x "$T/bin/mmoe-fuse" "$T/bin/mmoe-eval"
rm -f "$dir/fused.zst" "$dir/eval.txt"
run make --no-print-directory -s -f "$mk" "${opts[@]}" MMOE_BIN="$T/bin" run
isnt "$rc" 0 "a failing stage (in the middle of a pipe) fails the run"
ok "[ ! -e '$dir/fused.zst' ]" "and leaves no half-written fused.zst"
ok "[ -s '$dir/pred.zst' ]" "earlier stages are kept"
rm "$T/bin/mmoe-fuse"; ln -s "$MMOE_BIN/mmoe-fuse" "$T/bin/"
run make --no-print-directory -s -f "$mk" "${opts[@]}" MMOE_BIN="$T/bin" GET="$dir/eval.txt" get
isnt "$rc" 0 "a failing stage writing through a shell redirect fails the run"
ok "[ -s '$dir/fused.zst' ] && [ ! -e '$dir/eval.txt' ]" "and its half-written output is deleted"

# parameters come from the path: another seed is another directory
run make --no-print-directory -s -f "$mk" "${opts[@]}" path SEED=7 UNI=mlp EPOCHS=3
is "$out" "$T/runs/synth/n=300/seed=7/v=color/t=hash256/uni=mlp/ep=3" "hyper-parameters in the path"
run make --no-print-directory -n -f "$mk" "${opts[@]}" features SEED=7
like "$out" "mmoe-synth -q -n 300 --seed 7 .*seed=7/data.zst" "the features target builds the data of its seed"
like "$out" "-o [^ ]*seed=7/v=color/t=hash256/feat.zst" "and its features"
like "$out" "mmoe-encode-text -q --field text -e hash --dim 256 --as t_hash256 " "t=hash256: the hash encoder in 256 dimensions"
run make --no-print-directory -n -f "$mk" "${opts[@]}" features SEED=7 TENC=hash
like "$out" "mmoe-encode-text -q --field text -e hash +--as t_hash " "t=hash: the encoder's default dimension"
unlike "$out" "--dim" "and no --dim"

done_testing
