#!/bin/bash
# rus-split -> fuse -> eval chained as in the manual pages' EXAMPLES, on a
# stream whose experts are right exactly on their own type: the oracle and a
# router that favours the true type must be perfect, the mean of the experts
# always wrong; rus must match an independent implementation of the rule.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
"$PY" -c '
import json, random
random.seed(11)
def onehotish(c, C=3): return [0.8 if k == c else 0.2 / (C - 1) for k in range(C)]
for i in range(240):
    y = random.randrange(3)
    v, tx = random.randrange(3), random.randrange(3)
    rus = "R" if v == tx == y else "U" if (v == y) != (tx == y) else "S"
    r = {"id": "r%d" % i, "split": ["train", "val", "test"][i % 3], "label": y, "gen_type": ["R", "Uv", "Ut", "S"][i % 4],
         "pred_v": onehotish(v), "pred_t_class": tx, "exp_rus": rus,
         "p_base": onehotish(y if i % 2 else (y + 1) % 3)}
    for k in "RUS":
        r["p_" + k] = onehotish(y if k == rus else (y + 1) % 3)
    r["p_router"] = [0.6 if k == rus else 0.2 for k in "RUS"]
    if i == 5: r["pred_v_drop"] = True
    print(json.dumps(r))' | mkrecs >"$T/preds0.zst"
cd "$T" || exit 2

# mmoe-rus-split(1) EXAMPLES
run mmoe-rus-split -a pred_v -b pred_t --out-R R.zst --out-U U.zst --out-S S.zst preds0.zst -o preds.zst
is "$rc" 0 "rus-split: exit 0"
is "$(mmoe-cat --json --fields exp_rus,rus preds.zst | jq -s 'map(select(.rus != .exp_rus)) | length')" "0" \
	"rus agrees with an independent implementation of the rule on 240 3-class records"
is "$(( $(mmoe-cat --count R.zst) + $(mmoe-cat --count U.zst) + $(mmoe-cat --count S.zst) ))" "239" "subsets hold every record but the dropped one"
like "$err" "all +[0-9]+ +[0-9]+ +[0-9]+ +0 +0 +1 +240" "count table: totals and one dropped"
run mmoe-rus-split -a pred_v -b pred_t --no-output preds0.zst
is "$rc:$out" "0:" "--no-output: nothing on stdout"
like "$err" "test " "--no-output: the counts still shown"

# mmoe-fuse(1) EXAMPLES
mmoe-fuse -r p_router --experts p_R,p_U,p_S < preds.zst 2>"$T/e1" |
  mmoe-fuse --mode oracle --experts p_R,p_U,p_S --as p_oracle 2>"$T/e2" |
  mmoe-fuse --mode mean --experts p_R,p_U,p_S --as p_mean > fused.zst 2>"$T/e3"
is "$?" 0 "three fuse stages in a pipe"
run mmoe-eval -p p_base -p p_mmoe -p p_oracle -p p_mean --by rus fused.zst
is "$rc" 0 "eval: exit 0"
# mmoe-eval(1) EXAMPLES (json for the checks)
run mmoe-eval -q -p p_base,p_mmoe,p_oracle,p_mean --by rus --by gen_type --split test --weights p_mmoe_w -B 200 -F json fused.zst
j=$out
is "$(jq -r '.evaluated' <<<"$j")" "80" "test split: 80 records"
is "$(jq -r '.blocks[0].methods.p_oracle.acc.value' <<<"$j")" "1" "oracle routing: accuracy 1"
is "$(jq -r '.blocks[0].methods.p_mmoe.acc.value' <<<"$j")" "1" "soft routing with the true type favoured: accuracy 1"
is "$(jq -r '.blocks[0].methods.p_mean.acc.value' <<<"$j")" "0" "mean of the experts: always outvoted, accuracy 0"
is "$(jq -r '.blocks[0].methods.p_base.acc.value' <<<"$j")" "0.5" "baseline right on every other record"
is "$(jq -r '.blocks[0].methods.p_oracle.acc | [.lo, .hi] | @tsv' <<<"$j")" "1	1" "a perfect method has the interval [1, 1]"
is "$(jq -c '.weights.groups[] | select(.by == "rus" and .group == "U") | .mean | map(. * 1000 | round)' <<<"$j")" "[200,600,200]" \
	"mean router weight on U records favours the U expert"
is "$(jq -r '.agreement[0] | [.a, .b, ([.counts[][]] | add)] | @tsv' <<<"$j")" "rus	gen_type	80" "agreement table rus x gen_type"
run mmoe-eval -p p_router -l rus --classes R,U,S --positive 2 --split test -B 0 -F json fused.zst
is "$(jq -r '.blocks[0].methods.p_router.macro_f1.value' <<<"$out")" "1" "router scored against the rus tags: macro-F1 1"
done_testing
