#!/bin/bash
# mmoe-eval --counts FIELD: counts of each value of a categorical field (a
# chosen adapter, say) per group of --by, against counts made by hand, in the
# table, tsv, md and json formats and as a chart; bad values are errors
# naming the record and the field.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# 10 records: r6 is another split, r7 unlabelled, r8 has no adapter.
mkrecs >"$T/in.mp" <<'EOF2'
{"id":"r0","split":"test","label":0,"p_class":0,"task":"color","adapter":0,"enc":"hog"}
{"id":"r1","split":"test","label":1,"p_class":1,"task":"color","adapter":0,"enc":"color"}
{"id":"r2","split":"test","label":1,"p_class":0,"task":"color","adapter":2,"enc":"color"}
{"id":"r3","split":"test","label":0,"p_class":0,"task":"light","adapter":1,"enc":"pixels"}
{"id":"r4","split":"test","label":1,"p_class":1,"task":"light","adapter":1,"enc":"pixels"}
{"id":"r5","split":"test","label":0,"p_class":1,"task":"light","adapter":3,"enc":"hog"}
{"id":"r6","split":"train","label":1,"p_class":1,"task":"color","adapter":3,"enc":"hog"}
{"id":"r7","split":"test","p_class":1,"task":"light","adapter":0,"enc":"hog"}
{"id":"r8","split":"test","label":0,"p_class":0,"task":"light","enc":"pixels"}
{"id":"r9","split":"test","label":1,"p_class":1,"task":"light","adapter":10,"enc":"pixels"}
EOF2

# By hand, over the 8 labelled test records (values in natural order, then (none)):
#   group   n   0  1  2  3  10  (none)
#   color   3   2  0  1  0   0   0
#   light   5   0  2  0  1   1   1
#   all     8   2  2  1  1   1   1
run mmoe-eval -q --pred p --by task --split test --counts adapter --bootstrap 0 "$T/in.mp"
is "$rc" 0 "--counts: exit 0"
tab=$(printf '%s\n' "$out" | sed -n '/^counts of adapter by task/,/^$/p')
like "$tab" "^counts of adapter by task" "table heading names the field and the --by field"
like "$tab" "task +n +0 +1 +2 +3 +10 +\(none\)" "value columns in natural order (2 before 10), (none) last"
like "$tab" "color +3 +2 +0 +1 +0 +0 +0" "color group counted"
like "$tab" "light +5 +0 +2 +0 +1 +1 +1" "light group counted (other split and unlabelled left out)"
like "$tab" "all +8 +2 +2 +1 +1 +1 +1" "all records counted"

run mmoe-eval -q --pred p --by task --split test --counts adapter --bootstrap 0 --format tsv "$T/in.mp"
is "$(printf '%s\n' "$out" | sed -n '/^# counts/,$p')" "$(printf '# counts\nby\tgroup\tn\t0\t1\t2\t3\t10\t(none)\nall\tall\t8\t2\t2\t1\t1\t1\t1\ntask\tcolor\t3\t2\t0\t1\t0\t0\t0\ntask\tlight\t5\t0\t2\t0\t1\t1\t1')" \
	"tsv: the counts section"
run mmoe-eval -q --pred p --by task --split test --counts adapter --bootstrap 0 --format json "$T/in.mp"
is "$(jq -c '.counts | [.field, .values, (.groups[] | [.by, .group, .n, .counts])]' <<<"$out")" \
	'["adapter",["0","1","2","3","10","(none)"],[null,"all",8,[2,2,1,1,1,1]],["task","color",3,[2,0,1,0,0,0]],["task","light",5,[0,2,0,1,1,1]]]' \
	"json: field, values, and counts per group"
run mmoe-eval -q --pred p --by task --split test --counts adapter --bootstrap 0 --format md "$T/in.mp"
like "$out" "\| light +\| +5 \| +0 \| +2 \| +0 \| +1 \| +1 \| +1 \|" "md: a counts row"

# string values (by hand: color hog pixels = 2 1 0 in color, 0 1 4 in light),
# and two --by fields
run mmoe-eval -q --pred p --by task --by label --split test --counts enc --bootstrap 0 "$T/in.mp"
is "$(printf '%s\n' "$out" | awk '/^counts of enc by task/ { on = 1; next } on && NF == 0 { on = 0 } on' | tr -s ' ')" \
	"$(printf 'task n color hog pixels\ncolor 3 2 1 0\nlight 5 0 1 4\nall 8 2 2 4')" \
	"string values counted per task (sorted by name)"
like "$out" "counts of enc by label" "one table per --by field"

# no --by: the counts over all records
run mmoe-eval -q --pred p --split test --counts adapter --bootstrap 0 "$T/in.mp"
like "$out" "counts of adapter by all" "no --by: one table over all records"

# bad values: a tensor is not categorical
mkrecs >"$T/bad.mp" <<'EOF2'
{"id":"b0","label":0,"p_class":0,"adapter":1}
{"id":"b1","label":1,"p_class":1,"adapter":[0.2,0.8]}
EOF2
run mmoe-eval -q --pred p --counts adapter --bootstrap 0 "$T/bad.mp"
is "$rc" 1 "a tensor as the counted field: exit 1"
like "$err" 'record 1 \(id "b1"\): field "adapter": expected a string, an integer or a boolean' \
	"the error names the record and the field"

if ! command -v gnuplot >/dev/null; then
	skip "gnuplot missing: no chart checked"
	done_testing
	exit
fi
run mmoe-eval -q --pred p --by task --split test --counts adapter --bootstrap 0 --plot "$T/pl" "$T/in.mp"
is "$rc" 0 "--counts --plot: exit 0"
is "$(head -c 4 "$T/pl/counts_task.png" | tail -c 3)" "PNG" "counts_task.png is a PNG"
ok "grep -q '<svg' '$T/pl/counts_task.svg'" "counts_task.svg is SVG"
is "$(grep -v '^#' "$T/pl/counts_task.dat")" "$(printf '"color" 3 2 0 1 0 0 0\n"light" 5 0 2 0 1 1 1')" \
	"counts_task.dat: the counts per group"
like "$(cat "$T/pl/counts_task.gp")" "using \(\\\$3/\\\$2\):xtic\(1\) title \"0\"" "the chart stacks shares (count / n)"
rm "$T/pl/counts_task.png"
ok "cd '$T/pl' && gnuplot counts_task.gp && [ -s counts_task.png ]" "gnuplot counts_task.gp re-renders"

# the EXAMPLES of man/mmoe-eval.1 that use --counts, run as written
ex=$(awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^mmoe-eval --pred p_mome / { take = 1 }
	take && /^\.Ed/ { exit } take { sub(/\\e$/, ""); printf "%s", $0 }' "$MMOE_TOP/man/mmoe-eval.1" | tr -s ' ')
like "$ex" "^mmoe-eval .*--counts p_mome_adapter --plot charts pred.zst" "the man page example is found"
"$PY" -c '
import json
for i in range(40):
    t = ["color", "orientation", "light", "combo"][i % 4]
    y = i % 3
    print(json.dumps({"id": "t%d" % i, "split": "test" if i % 5 else "train", "task": t,
        "task_label": y, "p_mome": [0.7 if c == y else 0.1 for c in range(4)],
        "p_mome_adapter": i % 4 if i % 7 else 0}))' | mkrecs >"$T/pred.zst"
(cd "$T" && eval "$ex" >"$T/ex.out" 2>"$T/ex.err")
is "$?" 0 "man page example runs"
like "$(cat "$T/ex.out")" "counts of p_mome_adapter by task" "and prints the counts table"
ok "[ -s '$T/charts/counts_task.png' ]" "and draws the chart"
done_testing
