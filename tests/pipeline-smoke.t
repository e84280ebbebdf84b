#!/bin/bash
# End-to-end run of pipelines/mmoe.mk on a tiny synthetic set (300 records, 2
# epochs) in a scratch directory, under make -j2; then a failing stage must leave
# no file behind, and an up-to-date run must do nothing.
. "$(dirname "$0")/lib.sh"
mk=$MMOE_TOP/pipelines/mmoe.mk
cd "$T"
opts=(MMOE_BIN="$MMOE_BIN" N=300 EPOCHS=2 BOOT=50 RUNS="$T/runs")
uni=$T/runs/synth/n=300/seed=1/v=color/t=hash256/uni=logreg
dir=$uni/ho=0.2/ep=2

run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" demo
is "$rc" 0 "demo pipeline runs (make -j2)"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
ok "[ -s '$dir/eval.txt' ] && [ -s '$dir/eval.json' ]" "final table written (text and JSON)"
like "$out" "rus \(rows\) x gen_type \(columns\)" "demo prints the rus x gen_type table"
like "$out" "split test: [0-9]+ records, accuracy" "demo prints the router's accuracy"
like "$out" "confusion p_router \(rows: true rus" "and its confusion matrix against rus"
like "$out" "F1\(pos\) minus p_base by rus \(paired" "demo prints paired differences to the baseline"
like "$out" "t=hash256/uni=[a-z]+/ho=0.2/ep=[0-9]+ +pred_t " "demo compares the text encoders: hash256"
like "$out" "t=tfidf/uni=[a-z]+/ho=0.2/ep=[0-9]+ +pred_t " "and TF-IDF (sparse, IDF of the train split)"
like "$out" "t=tfidf uni=[a-z]+ ho=0.2 ep=[0-9]+ +p_mmoe " "with the methods' scores side by side"
like "$out" "t=tfidf uni=[a-z]+ ho=0.2 ep=[0-9]+ +p_gate " "the mixture gate's too"
for m in p_base p_R p_U p_S p_mmoe p_gate p_hard p_oracle p_mean; do
	like "$(grep -A10 '^all (n=' "$dir/eval.txt")" "^$m " "table row $m (all test records)"
done
like "$out" "-- mixture gate .*mean weights on test" "demo prints the gate's mean weights"
like "$out" "mean p_gate_w by rus" "by rus"
# the held-out part: flagged in ho=0.2/rus.zst, in no subset file, skipped by the
# baseline; the gate trains on it and on nothing else
nho=$(mmoe-cat --json --fields split,heldout "$uni/ho=0.2/rus.zst" | jq -s 'map(select(.heldout)) | length')
ntr=$(mmoe-cat --json --fields split "$uni/rus.zst" | jq -s 'map(select(.split == "train")) | length')
ok "awk 'BEGIN { exit !($nho > 0.1 * $ntr && $nho < 0.3 * $ntr) }'" "about 0.2 of the $ntr train records held out ($nho)"
is "$(cat "$uni/ho=0.2/R.zst" "$uni/ho=0.2/U.zst" "$uni/ho=0.2/S.zst" | mmoe-cat --json --fields heldout | jq -s 'map(select(.heldout)) | length')" \
	0 "no held-out record in the experts' subset files"
is "$(mmoe-train-expert --info "$dir/base.mm" | jq '.train.n_train')" "$((ntr - nho))" \
	"the baseline trained on the other train records"
is "$(mmoe-train-expert --info "$dir/gate.mm" | jq -r '.target + " " + (.train.n_train | tostring)')" "mixture $nho" \
	"gate.mm is a mixture gate, trained on the held-out records"
like "$(cat "$dir/eval.txt")" "gen_type = S \(n=" "table broken down by gen_type"
like "$(cat "$dir/eval.txt")" "rus = R \(n=" "table broken down by rus"
is "$(jq '[.blocks[] | select(.by == null)][0].n' "$dir/eval.json")" \
	"$(mmoe-cat --json --fields split "$dir/fused.zst" | jq -s 'map(select(.split == "test")) | length')" \
	"eval covers exactly the test split"
is "$(mmoe-cat --json --head 1 "$dir/fused.zst" | jq -r '[has("p_mmoe_w"), has("p_oracle"), has("rus"), has("pred_v_class")] | map(tostring) | join(" ")')" \
	"true true true true" "records carry predictions, rus, weights"

# same seed, same results: a second tree built under -j2 in another order
run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" RUNS="$T/runs2" run
dir2=$T/runs2/synth/n=300/seed=1/v=color/t=hash256/uni=logreg/ho=0.2/ep=2
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
unlike "$out" "mmoe-synth|mmoe-unipred|-o [^ ]*\.mm |> [^ ]*/pred\.zst" \
	"but nothing above it (no model trained, no prediction stream made)"
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

# GATE=crossfit: three folds by id; fold F's baseline and experts never see fold F,
# whose train records they predict; val and test come from the plain run's models
run make --no-print-directory -s -j2 -f "$mk" "${opts[@]}" GATE=crossfit run
is "$rc" 0 "GATE=crossfit runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
xf=$uni/xf=3
sum=0
for f in 0 1 2; do
	nf=$(mmoe-cat --json --fields heldout "$xf/fold=$f/rus.zst" | jq -s 'map(select(.heldout)) | length')
	sum=$((sum + nf))
	is "$(mmoe-train-expert --info "$xf/fold=$f/ep=2/base.mm" | jq '.train.n_train')" "$((ntr - nf))" \
		"fold $f: the baseline trained without the fold's $nf records"
	is "$(cat "$xf/fold=$f/R.zst" "$xf/fold=$f/U.zst" "$xf/fold=$f/S.zst" | mmoe-cat --json --fields heldout \
		| jq -s 'map(select(.heldout)) | length')" 0 "fold $f: and so did its experts"
done
is "$sum" "$ntr" "the three folds partition the train records"
is "$(mmoe-cat --json --fields id "$xf/ep=2/pred.zst" | jq -r .id | sort | uniq | wc -l | tr -d ' '):$(mmoe-cat --count "$xf/ep=2/pred.zst")" \
	"$(mmoe-cat --count "$uni/rus.zst"):$(mmoe-cat --count "$uni/rus.zst")" "every record predicted once"
is "$(mmoe-train-expert --info "$xf/ep=2/gate.mm" | jq '.train.n_train')" "$ntr" \
	"the gate trains on every train record, each predicted out of fold"
# a train record of fold 0 is predicted by fold 0's baseline, a test record by the plain run's
id0=$(mmoe-cat --json --fields id,split,heldout "$xf/fold=0/rus.zst" | jq -r 'select(.heldout) | .id' | head -1)
idt=$(mmoe-cat --json --fields id,split "$xf/fold=0/rus.zst" | jq -r 'select(.split == "test") | .id' | head -1)
for c in "$id0 fold=0/ep=2" "$idt ep=2"; do
	set -- $c
	m=$uni/$([ "$2" = ep=2 ] || echo xf=3/)$2/base.mm
	# (within 1e-6: a row's bits may depend on the rows batched with it, mmoe-parallel(7))
	want=$(mmoe-cat --where id=$1 "$uni/rus.zst" | mmoe-train-expert -q --predict -m "$m" --as p | mmoe-cat --json --fields p | jq -c .p)
	got=$(mmoe-cat --json --where id=$1 --fields p_base "$xf/ep=2/pred.zst" | jq -c .p_base)
	is "$(jq -n --argjson a "$got" --argjson b "$want" '[range(2) as $i | $a.data[$i] - $b.data[$i] | fabs] | max < 1e-6')" \
		true "record $1: p_base from $2"
done
like "$(grep -A10 '^all (n=' "$xf/ep=2/eval.txt")" "^p_gate " "the table has the gate's mixture"

# parameters come from the path: another seed is another directory
run make --no-print-directory -s -f "$mk" "${opts[@]}" path SEED=7 UNI=mlp EPOCHS=3
is "$out" "$T/runs/synth/n=300/seed=7/v=color/t=hash256/uni=mlp/ho=0.2/ep=3" "hyper-parameters in the path"
run make --no-print-directory -s -f "$mk" "${opts[@]}" path GATE=none
is "$out" "$uni/ep=2" "GATE=none: the plain run, no held-out records"
run make --no-print-directory -s -f "$mk" "${opts[@]}" path GATE=crossfit HELDOUT=0.3
is "$out" "$uni/xf=3/ep=2" "GATE=crossfit: xf=3"
run make --no-print-directory -s -f "$mk" "${opts[@]}" path HELDOUT=0.3
is "$out" "$uni/ho=0.3/ep=2" "HELDOUT=0.3: ho=0.3"
run make --no-print-directory -s -f "$mk" "${opts[@]}" path GATE=insample
like "$rc:$err" "^2:.*GATE=insample: expected heldout, crossfit or none" "another GATE is refused"
run make --no-print-directory -n -f "$mk" "${opts[@]}" features SEED=7
like "$out" "mmoe-synth -q -n 300 --seed 7 .*seed=7/data.zst" "the features target builds the data of its seed"
like "$out" "-o [^ ]*seed=7/v=color/t=hash256/feat.zst" "and its features"
like "$out" "mmoe-encode-text -q --field text -e hash --dim 256 --as t_hash256 " "t=hash256: the hash encoder in 256 dimensions"
run make --no-print-directory -n -f "$mk" "${opts[@]}" features SEED=7 TENC=hash
like "$out" "mmoe-encode-text -q --field text -e hash +--as t_hash " "t=hash: the encoder's default dimension"
unlike "$out" "--dim" "and no --dim"

done_testing
