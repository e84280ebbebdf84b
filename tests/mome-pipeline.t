#!/bin/bash
# pipelines/mome.mk (make mome-ablation): the plan parses and trains every
# row with its options on every seed; mome-table.awk's mean ± sd, step
# differences and k/S counts against values worked out by hand.  (The
# ablation itself is an experiment, run by make mome-ablation, not a test.)
. "$(dirname "$0")/lib.sh"

mk=$MMOE_TOP/pipelines/mome.mk
run make -n -f "$mk" RUNS="$T/runs" SEEDS="1 2 3" MMOE_BIN="$MMOE_BIN"
is "$rc" 0 "make -n parses the pipeline"
n=$(grep -c -- "--arch mome" "$T/out")
is "$n" 30 "ten rows × three seeds (SEEDS) of mmoe-train-expert --arch mome"
like "$out" "mmoe-synth --quiet --kind tasks --count 1000 --seed 1" "data from mmoe-synth --kind tasks"
like "$out" "-e pixels -e hog -e color --drop-image" "the three encoders' grids kept"
like "$out" "--field instruction --as t_instr" "the instruction embedding"
like "$out" "-f v_hog_tok --transform avgpool --aggregate add --adapters 0 --seed 2 -o [^ ]*seed=2/hog.mm" \
	"a single-encoder row, seeded"
like "$out" "--transform adt --aggregate router --adapters 4 --adapter-route both --seed 3 -o [^ ]*seed=3/mole_it.mm" \
	"MoLE-IT on the ADT + router side"
unlike "$out" "--gumbel" "Gumbel is opt-in"
run make -n -f "$mk" RUNS="$T/runs" SEEDS="1 2 3" EXTRA=1 MMOE_BIN="$MMOE_BIN"
like "$out" "--adapter-route instance --gumbel 1 --seed 1" "EXTRA=1 adds the Gumbel row"
like "$out" "--adapter-route instance --balance 0.01 --seed 1" "and the load-balance row"
like "$out" "--counts p_mole_i_adapter0" "adapter counts per task group, block 0"
like "$out" "--counts p_mole_i_adapter1 --plot [^ ]*seed=1/charts/mole_i_block1" "and block 1, each with its chart"
like "$out" "-w p_adt_router_enc" "encoder weights per task group"
like "$out" "-t pixels,hog,color --plot [^ ]*charts/adt_router" "named, with their chart"
like "$out" "--diff p_adapter1" "differences against the single adapter"

# ---- the table on two hand-made seeds ----
tsv() { # seed acc_a acc_b diff lo hi
	mkdir -p "$T/r/seed=$1"
	printf 'by\tgroup\tmethod\tn\tacc\tacc_lo\tacc_hi\tprecision\tprecision_lo\n' > "$T/r/seed=$1/diff-p_a.tsv"
	printf 'all\tall\tp_a\t100\t%s\t0\t1\t0\t0\nall\tall\tp_b\t100\t%s\t0\t1\t0\t0\n' "$2" "$3" >> "$T/r/seed=$1/diff-p_a.tsv"
	printf '\n# diff\nby\tgroup\tmethod\treference\tmetric\tdiff\tdiff_lo\tdiff_hi\n' >> "$T/r/seed=$1/diff-p_a.tsv"
	printf 'all\tall\tp_b\tp_a\tacc\t%s\t%s\t%s\n' "$4" "$5" "$6" >> "$T/r/seed=$1/diff-p_a.tsv"
}
tsv 1 0.50 0.60 0.10 0.02 0.18
tsv 2 0.70 0.74 0.04 -0.01 0.09
run awk -f "$MMOE_TOP/pipelines/mome-table.awk" -v rows="a b" -v steps="b:a" "$T"/r/seed=*/diff-p_a.tsv
is "$rc" 0 "the table script runs"
like "$out" "a +60\.0 ± 14\.1" "mean ± sd over seeds (60, 14.1 points)"
like "$out" "b +67\.0 ±  9\.9" "the second row (67, 9.9)"
like "$out" "b - a +\+7\.0 \[ \+0\.5,\+13\.5\] 1/2 " "step: mean difference, mean bounds, 1 of 2 seeds excluding 0"
# across seeds: diffs 10 and 4, mean 7, sd 4.243, t(1) 12.706: 7 ± 38.1
like "$out" "b - a +\+7\.0 \[-31\.1,\+45\.1\] over 2 seeds$" "across seeds: mean and Student-t interval (hand: 7 ± 12.706 × 4.243/√2)"
done_testing
