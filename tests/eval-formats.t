#!/bin/bash
# mmoe-eval: the table, tsv, md and json formats parse and agree; confusion,
# router weights per group, the agreement table of two --by fields; -o.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
"$PY" -c '
import json, random
random.seed(3)
gen = ["R", "Uv", "Ut", "S"]
for i in range(120):
    y = i % 2
    r = {"id": "r%d" % i, "split": "test" if i % 4 else "val", "label": y, "gen_type": gen[i % 4], "rus": "RUS"[(i // 4) % 3]}
    for m, acc in (("p_base", 0.7), ("p_mmoe", 0.85)):
        c = y if random.random() < acc else 1 - y
        r[m] = [0.2, 0.8] if c else [0.8, 0.2]
    w = [0.5, 0.25, 0.25] if r["rus"] == "R" else [0.2, 0.6, 0.2] if r["rus"] == "U" else [0.1, 0.1, 0.8]
    r["p_mmoe_w"] = w
    print(json.dumps(r))' | mkrecs >"$T/in.mp"
args=(-p p_base -p p_mmoe --by rus --by gen_type -w p_mmoe_w --confusion --diff p_base -B 100)

run mmoe-eval "${args[@]}" "$T/in.mp"
is "$rc" 0 "table: exit 0"
table=$out
like "$table" "^mmoe-eval: 120 records evaluated; 2 classes, positive class 1; 100 bootstrap resamples, seed 1, 95% intervals" "table: context line first"
like "$table" "rus = U \(n=40\)" "table: a block per rus value"
like "$table" "gen_type = Uv \(n=30\)" "table: a block per gen_type value"
like "$table" "F1\(pos\) by rus" "table: F1 summary by rus"
like "$table" "p_mmoe +[0-9.]+ \[[0-9.]+,[0-9.]+\]" "table: value with interval"
like "$table" "confusion p_base" "table: confusion matrix"
like "$table" "mean p_mmoe_w by rus" "table: router weights by rus"
like "$(grep -A4 'mean p_mmoe_w by rus' <<<"$table")" "U +40 +0.200 +0.600 +0.200" "table: mean weights of the U group"
like "$table" "rus x gen_type" "table: agreement table of rus and gen_type"
like "$(grep -A5 'rus x gen_type' <<<"$table")" "total +30 +30 +30 +30 +120" "table: agreement column totals"
unlike "$table" " $" "table: no trailing blanks"

run mmoe-eval -q "${args[@]}" -F json "$T/in.mp"
is "$rc" 0 "json: exit 0"
ok "jq -e . <<<'$out'" "json parses"
j=$out
is "$(jq -r '.blocks | length' <<<"$j")" "8" "json: all + 3 rus + 4 gen_type blocks"
is "$(jq -r '[.blocks[] | .group] | join(",")' <<<"$j")" "all,R,U,S,R,Uv,Ut,S" "json: groups in interaction order"
is "$(jq -c '.agreement[0] | [.a, .b, .a_values, .b_values]' <<<"$j")" '["rus","gen_type",["R","U","S"],["R","Uv","Ut","S"]]' "json: agreement axes"
is "$(jq -r '[.agreement[0].counts[][]] | add' <<<"$j")" "120" "json: agreement counts sum to n"
is "$(jq -c '.weights.groups[] | select(.group == "S" and .by == "rus") | .mean | map(. * 1000 | round)' <<<"$j")" "[100,100,800]" "json: mean weights"
is "$(jq -r '[.confusion.p_base[][]] | add' <<<"$j")" "120" "json: confusion sums to n"

run mmoe-eval -q "${args[@]}" -F tsv "$T/in.mp"
is "$rc" 0 "tsv: exit 0"
tsv=$out
first=$(sed '/^$/q' <<<"$tsv" | sed '/^$/d')
is "$(awk -F'\t' '{print NF}' <<<"$first" | sort -u)" "19" "tsv: metrics block has 19 columns on every line"
is "$(wc -l <<<"$first")" "17" "tsv: header + 8 blocks x 2 methods"
is "$(head -1 <<<"$first" | cut -f1-7)" "by	group	method	n	acc	acc_lo	acc_hi" "tsv: header"
# The same number in json and tsv.
is "$(awk -F'\t' '$1=="rus" && $2=="S" && $3=="p_mmoe" {print $14}' <<<"$first")" \
	"$(jq -r '.blocks[] | select(.by=="rus" and .group=="S") | .methods.p_mmoe.f1.value * 1e6 | round | . / 1e6 | tostring' <<<"$j" | awk '{printf "%.6f", $1}')" \
	"tsv and json agree (F1 of p_mmoe on S)"
like "$tsv" "# agreement" "tsv: agreement block"
like "$tsv" $'rus\tgen_type\tU\tUt\t' "tsv: agreement rows"

run mmoe-eval -q "${args[@]}" -F md "$T/in.mp"
is "$rc" 0 "md: exit 0"
like "$out" "### rus = R \(n=40\)" "md: headings"
like "$out" "\| :--- \| ---: \|" "md: alignment rows"
is "$(awk -F'|' '/^\|/ { if (n && NF != n) bad++; n = NF; next } { n = 0 } END { print bad + 0 }' <<<"$out")" "0" \
	"md: every row of a table has as many cells as its header"
ok "! grep '^| p_base' <<<'$out' | grep -v '| 0\.'" "md: method rows start with numbers"

run mmoe-eval "${args[@]}" --split test -o "$T/rep.txt" "$T/in.mp"
is "$rc:$out" "0:" "-o: nothing on stdout"
like "$(cat "$T/rep.txt")" "90 records evaluated \(split == \"test\"; 30 others left out\)" "-o writes the report; --split filters"
like "$err" "90 records evaluated" "-o: summary on stderr"
ok "! ls '$T'/rep.txt.tmp.*" "no temporary left"
done_testing
