#!/bin/bash
# pipelines/mustard.mk on the shared MUStARD copy: one quick grid (hash features,
# both tracks, one seed, 2 epochs) in a scratch directory, through GNU parallel,
# down to the summary table.  A visible SKIP when the copy is not there.
. "$(dirname "$0")/lib.sh"
src=$SHARED/data/mustard
if [ ! -r "$src/mustard_raw_data.json" ]; then
	skip "no MUStARD copy at $src"
	done_testing
	exit
fi
cd "$T"
opts=(-f "$MMOE_TOP/pipelines/mustard.mk" MMOE_BIN="$MMOE_BIN" MUSTARD_SRC="$src" DATA="$T/data"
	RUNS="$T/runs" SEEDS=1 ENCS=hash EPOCHS=2 BOOT=20 JOBS=2)
run make --no-print-directory -s "${opts[@]}" all
is "$rc" 0 "make mustard (one seed, hash, both tracks) runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
ok "[ -s '$T/data/mustard/mustard.zst' ]" "the record stream is built from MUSTARD_SRC"
is "$(awk 'NR > 1 && $7 == 0' "$T"/runs/mustard/joblog-* | wc -l | tr -d ' ')" 2 "two jobs in the GNU parallel job log, both succeeded"
for m in p_base p_R p_U p_S p_mmoe p_hard p_oracle; do
	like "$out" "t=hash c=hash track=paper ep=2 +$m " "summary row: paper track, $m"
	like "$out" "t=hash c=hash track=own ep=2 +$m " "summary row: own track, $m"
done
like "$out" "F1 +acc +precision +recall +F1 R +F1 U +F1 S" "columns: F1, acc, precision, recall overall, F1 per type"
like "$out" "track=paper ep=2: R 213, U 109, S 34" "paper track: the authors' test subsets"
paper=$T/runs/mustard/t=hash/c=hash/track=paper/seed=1
is "$(mmoe-cat --json --fields split,rus "$paper/rus.zst" | jq -rs '[.[] | select(.split != "test")] | group_by(.rus) | map("\(.[0].rus // "none") \(length)") | join(", ")')" \
	"none 42, R 57, S 90, U 145" "paper track: the authors' train subsets"
ok "[ -s '$T/runs/mustard/summary.tsv' ]" "summary.tsv written"
done_testing
