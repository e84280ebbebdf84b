#!/bin/bash
# pipelines/study.sh (make mmoe-study) on a tiny grid, for its plumbing only: two
# synergy shares at 300 records, one seed, 2 epochs, both gates at the
# generator's share.  The table has one row per configuration and every column;
# the charts are drawn; a second call runs nothing and gives the same table.
. "$(dirname "$0")/lib.sh"
st=$MMOE_TOP/pipelines/study.sh
command -v parallel >/dev/null || { skip "GNU parallel is not installed"; done_testing; exit; }
grid=(--sizes 300 --seeds 1 --shares "0.3 0.6" --share-size 300 --crossfit-sizes 300 --epochs 2 --output "$T/st")
run "$st" "${grid[@]}" -- BOOT=20
is "$rc" 0 "the study runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
like "$out" "^data +n gate +seeds +base +tag +gate +hard +mean +oracle +gate-tag \[95%\] +tag-base \[95%\] +gate-base \[95%\] +oracle gap \[95%\]" \
	"the table's header: every method and difference"
iv='[ *][-+][0-9.]+ \[[-+][0-9.]+,[-+][0-9.]+\]'
for row in "synth S=0.3 +300 heldout" "synth S=0.3 +300 crossfit" "synth S=0.6 +300 heldout"; do
	like "$out" "
$row +1( +[0-9.]+){6} +$iv +$iv +$iv +$iv \((gate|tag)\)" "a row for $row: six F1 values, four intervals"
done
is "$(sed -n '2,/^$/p' "$T/st/table.txt" | grep -c '^synth')" 3 "three configurations, no more"
is "$(awk -F'\t' '{ print NF }' "$T/st/table.tsv" | sort -u)" 30 "table.tsv: 30 columns on every line"
is "$(wc -l < "$T/st/table.tsv" | tr -d ' ')" 4 "a header and three configurations"
like "$out" "mean max w +modal expert" "and the gate's weights"
# the pooled differences are the paired ones of mmoe-eval over the pooled records
want=$(mmoe-eval -q -p p_base -p p_mmoe --split test --diff p_base --bootstrap 20 --seed 1 --format json \
	"$T/st/pooled/s=0.6_n=300_gate=heldout.zst" | jq '.blocks[0].methods.p_mmoe.f1.diff.value * 10000 | round')
is "$(awk -F'\t' '$1 == "0.6" && $3 == "heldout" { printf "%.0f", $20 * 10000 }' "$T/st/table.tsv")" "$want" \
	"tag-base is mmoe-eval's paired difference on the pooled test records"
# the runs are mmoe.mk's, with the synergy share in mmoe-synth --mix
r=$T/st/runs/s=0.6/synth/n=300/seed=1
is "$(mmoe-cat --json --fields split,gen_type "$r/data.zst" | jq -rs 'map(select(.gen_type == "S")) | length')" \
	"$(mmoe-synth -q -n 300 --seed 1 --mix R=0.171429,Uv=0.114286,Ut=0.114286,S=0.6 | mmoe-cat --json --fields gen_type | jq -rs 'map(select(.gen_type == "S")) | length')" \
	"S=0.6: the data of mmoe-synth --mix R=3(1-s)/7,Uv=Ut=2(1-s)/7,S=s"
ok "[ -s '$r/v=color/t=hash256/uni=logreg/ho=0.2/ep=2/eval.json' ] && [ ! -e '$r/v=color/t=hash256/uni=logreg/xf=3' ]" \
	"held out only, away from the generator's share"
if command -v gnuplot >/dev/null; then
	for p in f1_share gap_share; do
		ok "[ -s '$T/st/$p.png' ] && [ -s '$T/st/$p.svg' ] && [ -s '$T/st/$p.gp' ]" "chart $p (png, svg, script)"
	done
	ok "[ ! -e '$T/st/f1_size.png' ] && [ ! -e '$T/st/gap_size.png' ]" "no size chart from one size"
else
	skip "gnuplot is not installed: no charts"
fi
cp "$T/st/table.txt" "$T/before.txt"
n=$(cat "$T"/st/joblog-* | wc -l)
run "$st" "${grid[@]}" -- BOOT=20
is "$rc:$(cat "$T"/st/joblog-* | wc -l)" "0:$n" "a second call runs no job"
ok "cmp -s '$T/before.txt' '$T/st/table.txt'" "and writes the same table"
run "$st" --shares 30 --output "$T/bad"
like "$rc:$err" "^2:study.sh: --shares: '30' is not a share" "a share above 1: usage error"
run "$st" --nosuch
like "$rc:$err" "^2:study.sh: unknown option '--nosuch'" "an unknown option: usage error"
done_testing
