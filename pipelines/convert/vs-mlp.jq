# vs-mlp.jq — an architecture against the MLP over seeds, from the vs-mlp.json
# files of pipelines/method.mk (each: one mmoe-eval --diff report per method).
#   jq -n -r -f vs-mlp.jq .../seed=1/.../arch=A/ep=E/vs-mlp.json ...
# A line per seed and method: the MLP's F1 and accuracy on the test split, A's,
# and A minus the MLP with its paired 95% bootstrap interval (* excludes 0);
# then per method and group (all, each rus type): the mean ± sd of the
# differences over seeds and in how many seeds the interval excludes 0.
def seed_of: [split("/")[] | select(startswith("seed="))] | last | ltrimstr("seed=");
def arch_of: ([split("/")[] | select(startswith("arch="))] | last // "arch=?") | ltrimstr("arch=");
def g3: . * 1000 | round / 1000 | tostring | if test("\\.") then . + "000" | .[0:index(".") + 4] else . + ".000" end;
def f3: g3 | if test("^-") then . else "+" + . end;
def ms: (length) as $n | (add / $n) as $m
	| "\($m | f3) ± \(if $n > 1 then (map((. - $m) * (. - $m)) | add / ($n - 1) | sqrt | g3) else "0" end)";
[inputs | . as $r | input_filename as $f
 | ($r.diff_reference) as $ref | ($r.methods | map(select(. != $ref)) | first) as $m
 | $r.blocks[] | select(.by == null or .by == "rus")
 | {seed: ($f | seed_of), arch: ($f | arch_of), method: ($m | ltrimstr("p_")), group: .group, n: .n,
    mlp_f1: .methods[$ref].f1.value, f1: .methods[$m].f1.value,
    mlp_acc: .methods[$ref].acc.value, acc: .methods[$m].acc.value,
    d: .methods[$m].f1.diff, dacc: .methods[$m].acc.diff}] as $rows
| ($rows[0].arch // "?") as $a
| "\($a) minus MLP, test split: F1(pos) and accuracy, paired 95% bootstrap intervals (* excludes 0)",
  ("seed  method  group   n   F1 mlp  F1 \($a[0:5])  dF1 [95%]                    acc mlp  acc \($a[0:5])  dacc [95%]"),
  ($rows[] | select(.group == "all")
   | "\(.seed | .[0:4] | . + "    "[length:])  \(.method | . + "      "[length:])  \(.group | . + "     "[length:]) \(.n | tostring | . + "   "[length:]) \(.mlp_f1 | g3 | . + "      "[length:])  \(.f1 | g3 | . + "        "[length:])  \(.d.value | f3) [\(.d.lo | f3),\(.d.hi | f3)]\(if .d.lo > 0 or .d.hi < 0 then "*" else " " end)   \(.mlp_acc | g3 | . + "      "[length:])   \(.acc | g3 | . + "        "[length:]) \(.dacc.value | f3) [\(.dacc.lo | f3),\(.dacc.hi | f3)]\(if .dacc.lo > 0 or .dacc.hi < 0 then "*" else "" end)"),
  "",
  "over \($rows | map(.seed) | unique | length) seeds: mean ± sd of the difference \($a) - MLP; seeds whose interval excludes 0 (above/below)",
  "method  group  dF1                 dacc                F1 mlp  F1 \($a[0:5])",
  ($rows | group_by([.method, .group])[] | . as $g | $g[0]
   | "\(.method | . + "      "[length:])  \(.group | . + "     "[length:])  \($g | map(.d.value) | ms | . + "                  "[length:])  \($g | map(.dacc.value) | ms | . + "                  "[length:])  \($g | map(.mlp_f1) | add / length | g3 | . + "      "[length:])  \($g | map(.f1) | add / length | g3)  (\($g | map(select(.d.lo > 0)) | length)/\($g | map(select(.d.hi < 0)) | length))")
