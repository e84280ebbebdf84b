#!/bin/bash
# mmoe-eval: metrics against hand-computed values, per group; bootstrap
# determinism; a peer check against scikit-learn when it is installed.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# metric value of method m in block (by, group), rounded to 1e-6
val() { # json by group method metric [value|lo|hi]
	jq -r --arg by "$2" --arg g "$3" --arg m "$4" --arg k "$5" --arg f "${6:-value}" \
		'.blocks[] | select((.by // "all") == $by and .group == $g) | .methods[$m][$k][$f] * 1e6 | round / 1e6' <<<"$1"
}

# y = 1 1 1 0 | 0 0 1 0, p = 1 0 1 0 | 1 0 1 1 (TP 3, FN 1, FP 2, TN 2); q predicts 1 always.
"$PY" -c '
y = [1, 1, 1, 0, 0, 0, 1, 0]; p = [1, 0, 1, 0, 1, 0, 1, 1]
import json
for i in range(8):
    r = {"id": "e%d" % i, "label": y[i], "p_class": p[i], "q": [0.3, 0.7], "g": "a" if i < 4 else "b", "split": "test"}
    if i == 2: r["p"] = [0.1, 0.9]
    print(json.dumps(r))
print(json.dumps({"id": "unl", "p_class": 1, "q": [0.3, 0.7], "g": "a", "split": "test"}))
print(json.dumps({"id": "tr", "label": 0, "p_class": 1, "q": [0.3, 0.7], "g": "a", "split": "train"}))
' | mkrecs >"$T/h.mp"
run mmoe-eval -q -p p -p q --by g --split test -B 0 -F json "$T/h.mp"
is "$rc" 0 "exit 0"
j=$out
is "$(jq -r '[.evaluated, .unlabelled, .other_split, .classes] | @tsv' <<<"$j")" "8	1	1	2" \
	"8 evaluated; the unlabelled and the train record left out and counted"
is "$(val "$j" all all p acc) $(val "$j" all all p precision) $(val "$j" all all p recall)" "0.625 0.6 0.75" \
	"p: accuracy 5/8, precision 3/5, recall 3/4"
is "$(val "$j" all all p f1) $(val "$j" all all p macro_f1)" "0.666667 0.619048" "p: F1 2/3, macro-F1 (2/3+4/7)/2"
is "$(val "$j" all all q acc) $(val "$j" all all q precision) $(val "$j" all all q recall) $(val "$j" all all q f1) $(val "$j" all all q macro_f1)" \
	"0.5 0.5 1 0.666667 0.333333" "q (argmax of the tensor, always 1): class 0 never predicted has F1 0 in macro-F1"
is "$(val "$j" g a p acc) $(val "$j" g a p precision) $(val "$j" g a p recall) $(val "$j" g a p f1) $(val "$j" g a p macro_f1)" \
	"0.75 1 0.666667 0.8 0.733333" "group a by hand"
is "$(val "$j" g b p acc) $(val "$j" g b p precision) $(val "$j" g b p recall) $(val "$j" g b p f1) $(val "$j" g b p macro_f1)" \
	"0.5 0.333333 1 0.5 0.5" "group b by hand"
is "$(jq -r '.blocks[0].methods.p.acc | has("lo")' <<<"$j")" "false" "--bootstrap 0: no intervals"

run mmoe-eval -q -p p --positive 0 --split test -B 0 -F json "$T/h.mp"
is "$(val "$out" all all p precision) $(val "$out" all all p recall) $(val "$out" all all p f1)" "0.666667 0.5 0.571429" \
	"--positive 0: precision 2/3, recall 1/2, F1 4/7"

# Edge case: no positive labels and no positive predictions -> F1 0 (documented).
printf '%s\n' '{"id":"a","label":0,"p_class":0}' '{"id":"b","label":0,"p_class":0}' | mkrecs >"$T/np.mp"
run mmoe-eval -q -p p -B 0 -F json "$T/np.mp"
is "$(val "$out" all all p f1) $(val "$out" all all p precision) $(val "$out" all all p recall) $(val "$out" all all p acc)" "0 0 0 1" \
	"no positives: precision, recall, F1 are 0, accuracy 1"

# Three classes with --classes and string labels.
printf '%s\n' '{"id":"a","label":"R","r":[0.8,0.1,0.1]}' '{"id":"b","label":"U","r":[0.1,0.1,0.8]}' \
	'{"id":"c","label":"S","r":[0.1,0.2,0.7]}' '{"id":"d","label":"S","r":[0.1,0.7,0.2]}' \
	'{"id":"e","label":"U","r":[0.2,0.6,0.2]}' '{"id":"f","label":"R","r":[0.6,0.2,0.2]}' | mkrecs >"$T/mc.mp"
run mmoe-eval -q -p r --classes R,U,S --positive 2 -B 0 -F json --confusion "$T/mc.mp"
is "$(val "$out" all all r acc) $(val "$out" all all r f1) $(val "$out" all all r macro_f1)" "0.666667 0.5 0.666667" \
	"3 classes by name: accuracy 4/6, F1(S) 1/2, macro-F1 (1+.5+.5)/3"
is "$(jq -c '.confusion.r' <<<"$out")" "[[2,0,0],[0,1,1],[0,1,1]]" "3-class confusion matrix, rows true"

# Bootstrap: same seed same numbers; another seed other numbers.
"$PY" -c '
import random, json
random.seed(7)
for i in range(300):
    y = random.randint(0, 1)
    a = y if random.random() < 0.8 else 1 - y
    b = y if random.random() < 0.7 else 1 - y
    print(json.dumps({"id": "r%d" % i, "label": y, "a_class": a, "b_class": b, "t": "RUS"[i % 3]}))' | mkrecs >"$T/bs.mp"
mmoe-eval -q -p a,b --by t -B 300 --seed 5 -F tsv "$T/bs.mp" >"$T/s5a"
mmoe-eval -q -p a,b --by t -B 300 --seed 5 -F tsv "$T/bs.mp" >"$T/s5b"
mmoe-eval -q -p a,b --by t -B 300 --seed 6 -F tsv "$T/bs.mp" >"$T/s6"
ok "cmp -s '$T/s5a' '$T/s5b'" "same seed: identical output"
ok "! cmp -s '$T/s5a' '$T/s6'" "another seed: other intervals"
mmoe-eval -q -p a -B 300 --seed 5 -F tsv "$T/bs.mp" >"$T/s5one"
is "$(grep -P '^all\tall\ta\t' "$T/s5one")" "$(grep -P '^all\tall\ta\t' "$T/s5a")" \
	"a method's intervals do not depend on the other methods or --by fields"
run mmoe-eval -q -p a -B 2000 --seed 5 -F json "$T/bs.mp"
ok "jq -e '.blocks[0].methods.a.acc as \$m | \$m.lo < \$m.value and \$m.value < \$m.hi and (\$m.hi - \$m.lo) > 0.06 and (\$m.hi - \$m.lo) < 0.12' <<<'$out'" \
	"95% interval of an 80%-accurate method on 300 examples is about +-0.045"

# Paired differences (--diff): the point value is the difference of the
# two values, the interval contains it, the reference has none.
run mmoe-eval -q -p a,b --diff a -B 500 -F json "$T/bs.mp"
ok "jq -e '.blocks[0].methods as \$m | (\$m.b.acc.diff.value - (\$m.b.acc.value - \$m.a.acc.value) | fabs) < 1e-9 and \$m.b.acc.diff.lo <= \$m.b.acc.diff.value and \$m.b.acc.diff.value <= \$m.b.acc.diff.hi and (\$m.a.acc | has(\"diff\") | not)' <<<'$out'" \
	"--diff: value is b - a, inside its interval; no diff for the reference"
is "$(jq -r '.diff_reference' <<<"$out")" "a" "--diff: reference named in json"
# a fixed version of a is never worse: the interval excludes 0 and is starred.
"$PY" -c '
import msgpack, sys
for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False):
    if r["a_class"] != r["label"] and int(r["id"][1:]) % 2 == 0: r["fixed_class"] = r["label"]
    else: r["fixed_class"] = r["a_class"]
    sys.stdout.buffer.write(msgpack.packb(r, use_bin_type=True))' "$T/bs.mp" >"$T/fx.mp"
run mmoe-eval -p a,fixed,b --diff a -B 300 "$T/fx.mp"
like "$out" "F1\(pos\) minus a \(paired intervals; \* excludes 0\)" "--diff: table of differences"
like "$(grep '^fixed ' <<<"$out" | tail -1)" "\*\+0\.[0-9]+ \[\+0\.[0-9]+,\+0\.[0-9]+\]" "strictly better method: interval above 0, starred"
run mmoe-eval -q -p a,b --diff c "$T/bs.mp"
is "$rc" 2 "--diff with a field not among -p: exit 2"

# Peer check against scikit-learn.
if have_py sklearn; then
	mmoe-eval -q -p a,b --by t -B 0 -F json "$T/bs.mp" >"$T/bs.json"
	"$PY" - "$T/bs.mp" "$T/bs.json" >"$T/peer" 2>&1 <<'PY'
import sys, json, msgpack
from sklearn.metrics import accuracy_score, precision_score, recall_score, f1_score
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
rep = json.load(open(sys.argv[2]))
bad = 0
for b in rep["blocks"]:
    sel = [r for r in recs if b["by"] is None or r[b["by"]] == b["group"]]
    y = [r["label"] for r in sel]
    for m in ("a", "b"):
        p = [r[m + "_class"] for r in sel]
        ref = {"acc": accuracy_score(y, p), "precision": precision_score(y, p, zero_division=0),
               "recall": recall_score(y, p, zero_division=0), "f1": f1_score(y, p, zero_division=0),
               "macro_f1": f1_score(y, p, average="macro", zero_division=0)}
        for k, v in ref.items():
            if abs(b["methods"][m][k]["value"] - v) > 1e-9:
                print("mismatch", b["group"], m, k, b["methods"][m][k]["value"], v); bad += 1
print("mismatches", bad)
PY
	is "$(tail -1 "$T/peer")" "mismatches 0" "every metric of every block equals scikit-learn's"
else
	skip "python3-sklearn missing: no peer check"
fi
done_testing
