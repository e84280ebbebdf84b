#!/bin/bash
# pipelines/sweep.sh on a tiny grid (3 seeds x 1 text encoder x 1 model, 300
# records, 2 epochs): GNU parallel's job log, the summary over seeds, and resuming
# a finished sweep; then a grid of two text encoders (hash256, tfidf) side by side.
. "$(dirname "$0")/lib.sh"
sw=$MMOE_TOP/pipelines/sweep.sh
run "$sw" -s "1 2 3" -t hash256 -n 300 -e 2 -j 2 -o "$T/sweep" -- RUNS="$T/runs" BOOT=20
is "$rc" 0 "sweep over 3 seeds runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
is "$(awk 'NR > 1 && $7 == 0' "$T"/sweep/joblog-* | wc -l | tr -d ' ')" 3 "job log: 3 runs, all exit 0"
ok "[ -e '$T/sweep/results/ep/2/seed/3/tenc/hash256/uni/logreg/stderr' ]" "per-job output kept (--results)"
like "$out" "mean ± sd over 3 seeds" "summary is over 3 seeds"
for m in p_base p_mmoe p_hard p_oracle; do
	like "$out" "n=300 v=color t=hash256 uni=logreg ho=0.2 ep=2 +$m " "summary row $m"
done
like "$out" "F1 gen S" "summary has F1 per gen_type"
# the summary's mean is the mean of the three runs' values
mapfile -t files < "$T/sweep/runs.txt"
is "${#files[@]}" 3 "runs.txt lists the 3 eval reports"
want=$(jq -s '[.[] | .blocks[0].methods.p_base.f1.value] | add / length * 1000 | round / 1000' "${files[@]}")
is "$(awk -F'\t' '$2 == "all" && $4 == "p_base" && $5 == "f1" { print $8 }' "$T/sweep/summary.tsv")" "$want" \
	"summary.tsv: mean F1 of p_base equals the mean over the runs"
# routing.txt: agreement of rus with gen_type and router accuracy, over the 3 runs
like "$out" "rus against gen_type .* mean ± sd over 3 seeds" "sweep prints the routing table"
row=$(grep '^n=300 v=color t=hash256 uni=logreg ho=0.2 ep=2 ' "$T/sweep/routing.txt")
ok "[ -n '$row' ]" "routing.txt: a row for the configuration"
want=$(for f in "${files[@]}"; do sed -n 's/^split test: [0-9]* records, accuracy \([0-9.]*\),.*/\1/p' "$(dirname "$f")/router.txt"; done \
	| awk '{ s += $1 } END { printf "%.3f", s / NR }')
is "$(printf '%s\n' "$row" | awk '{ split($8, a, "±"); print a[1] }')" "$want" "routing.txt: router accuracy is the mean over the runs"
want=$(for f in "${files[@]}"; do awk '/^split test:/ { t = 1 } t && /^agreement/ { sub(/%$/, "", $NF); print $NF / 100; exit }' "${f%/ho=*}/agree.txt"; done \
	| awk '{ s += $1 } END { printf "%.3f", s / NR }')
is "$(printf '%s\n' "$row" | awk '{ split($7, a, "±"); print a[1] }')" "$want" "routing.txt: rus~gen_type agreement is the mean over the runs"
# a second call resumes: nothing to do, same summary
cp "$T/sweep/summary.tsv" "$T/before.tsv"
run "$sw" -s "1 2 3" -t hash256 -n 300 -e 2 -j 2 -o "$T/sweep" -- RUNS="$T/runs" BOOT=20
is "$rc" 0 "a second call succeeds"
ok "cmp -s '$T/before.tsv' '$T/sweep/summary.tsv'" "and gives the same summary"
# another grid in the same directory is not confused with the first one's job log
run "$sw" -s "2 3" -t "hash256 tfidf" -n 300 -e 2 -j 2 -o "$T/sweep" -- RUNS="$T/runs" BOOT=20
is "$rc" 0 "a smaller grid in the same directory, with two text encoders"
like "$out" "mean ± sd over 2 seeds" "is summarised over its own 2 seeds"
like "$out" "t=hash256 uni=logreg ho=0.2 ep=2 +p_mmoe " "a summary row for the hash encoder"
like "$out" "t=tfidf uni=logreg ho=0.2 ep=2 +p_mmoe " "and one for TF-IDF, next to it"
like "$(cat "$T/sweep/routing.txt")" "t=tfidf uni=logreg ho=0.2 ep=2" "routing.txt has the TF-IDF configuration too"
done_testing
