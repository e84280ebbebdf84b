#!/bin/bash
# mmoe-unipred --drop-margin and --balance on hand-made predictions (imported,
# so that the probabilities are exact), training split only.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# id=class[d] for every record (d: dropped, -: no prediction)
show() {
	mmoe-cat --json "$1" | jq -r --arg p "$2" \
		'.id + "=" + ((.[$p + "_class"] // "-") | tostring) + (if .[$p + "_drop"] then "d" else "" end)' | tr '\n' ' '
}

# 10 training predictions, 1 positive; a val and a test record; one train
# record without a prediction.
cat >"$T/p.jsonl" <<'J'
{"id":"a","probs":[0.55,0.45]}
{"id":"b","probs":[0.6,0.4]}
{"id":"c","probs":[0.5,0.5]}
{"id":"e","probs":[0.05,0.95]}
{"id":"f","probs":[0.7,0.3]}
{"id":"g","probs":[0.8,0.2]}
{"id":"h","probs":[0.9,0.1]}
{"id":"i","probs":[0.65,0.35]}
{"id":"j","probs":[0.75,0.25]}
{"id":"k","probs":[0.85,0.15]}
{"id":"v","probs":[0.5,0.5]}
{"id":"t","probs":[0.52,0.48]}
J
for x in a b c e f g h i j k; do echo "{\"id\":\"$x\",\"split\":\"train\",\"label\":1}"; done >"$T/r.jsonl"
printf '%s\n' '{"id":"v","split":"val","label":1}' '{"id":"t","split":"test","label":0}' \
	'{"id":"n","split":"train","label":0}' >>"$T/r.jsonl"
mkrecs <"$T/r.jsonl" >"$T/r.mp"

run mmoe-unipred --import "$T/p.jsonl" --as p "$T/r.mp"
is "$rc" 0 "plain import: exit 0"
is "$(show "$T/out" p)" "a=0 b=0 c=0 e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " \
	"plain import: argmax classes (tie to class 0), no flags, a record without a prediction"

run mmoe-unipred --import "$T/p.jsonl" --as p --drop-margin 0.1 "$T/r.mp"
is "$(show "$T/out" p)" "a=0d b=0 c=0d e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " \
	"drop-margin 0.1: margins 0.1 (f32 0.55/0.45) and 0 dropped on train; val and test untouched"
like "$err" "drop-margin 0.1: 2 of 10 train predictions marked p_drop" "drop-margin: count on stderr"
run mmoe-unipred --import "$T/p.jsonl" --as p --drop-margin 0.3 "$T/r.mp"
is "$(show "$T/out" p)" "a=0d b=0d c=0d e=1 f=0 g=0 h=0 i=0d j=0 k=0 v=0 t=0 n=- " "drop-margin 0.3"

run mmoe-unipred --import "$T/p.jsonl" --as p --balance 0.2 "$T/r.mp"
is "$(show "$T/out" p)" "a=0 b=0 c=1 e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " \
	"balance 0.2: 1 of 10 positive -> the top 2 by P(1) positive (train only)"
like "$err" "balance 0.2: 1 of 10 train predictions positive \(10\.0%\) < 20%: the top 2 by P\(class 1\) set to 1 \(1 changed, now 2 positive\)" \
	"balance: what changed, on stderr"
run mmoe-unipred --import "$T/p.jsonl" --as p --balance 0.3 "$T/r.mp"
is "$(show "$T/out" p)" "a=1 b=0 c=1 e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " "balance 0.3: top 3"
is "$(mmoe-cat --json "$T/out" | jq -c 'select(.id == "c") | .p.data')" "[0.5,0.5]" "balance changes the class, not the probabilities"
run mmoe-unipred --import "$T/p.jsonl" --as p --balance 0.1 "$T/r.mp"
is "$(show "$T/out" p)" "a=0 b=0 c=0 e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " "balance 0.1: 10% positive is enough"
like "$err" "nothing to change" "balance 0.1: reported as nothing to change"

# the symmetric case: too many positives -> the lowest P(1) become negative
"$PY" -c '
import json
for x, p in zip("abcdefghij", [0.9, 0.8, 0.7, 0.6, 0.55, 0.95, 0.52, 0.4, 0.85, 0.75]):
    print(json.dumps({"id": x, "probs": [1 - p, p]}))' >"$T/q.jsonl"
for x in a b c d e f g h i j; do echo "{\"id\":\"$x\",\"split\":\"train\"}"; done | mkrecs >"$T/q.mp"
run mmoe-unipred --import "$T/q.jsonl" --as p --balance 0.2 "$T/q.mp"
is "$(show "$T/out" p)" "a=1 b=1 c=1 d=1 e=1 f=1 g=0 h=0 i=1 j=1 " "balance 0.2, 9 of 10 positive: the bottom 2 by P(1) negative"
like "$err" "9 of 10 train predictions positive \(90\.0%\) > 80%: the bottom 2 by P\(class 1\) set to 0 \(1 changed, now 8 positive\)" \
	"balance down: reported"

# both together, and in training mode
run mmoe-unipred --import "$T/p.jsonl" --as p --balance 0.2 --drop-margin 0.1 "$T/r.mp"
is "$(show "$T/out" p)" "a=0d b=0 c=1d e=1 f=0 g=0 h=0 i=0 j=0 k=0 v=0 t=0 n=- " "balance and drop-margin together"
"$PY" -c '
import json, random
random.seed(2)
for i in range(100):
    y = 1 if i % 10 == 0 else 0
    print(json.dumps({"id": "r%d" % i, "split": "train" if i < 80 else "test", "label": y,
                      "x": [random.gauss(0, 1), random.gauss(0, 1)]}))' | mkrecs >"$T/tr.mp"
run mmoe-unipred -f x --balance 0.2 --drop-margin 0.2 "$T/tr.mp"
is "$rc" 0 "training mode with balance and drop-margin: exit 0"
cp "$T/out" "$T/tr.zst"
is "$(mmoe-cat --json "$T/tr.zst" | jq -s '[.[] | select(.split == "train") | .pred_x_class] | add')" 16 \
	"training mode: 16 of 80 train predictions forced positive"
is "$(mmoe-cat --json "$T/tr.zst" | jq -s '[.[] | select(.split == "test" and .pred_x_drop)] | length')" 0 \
	"training mode: no test record dropped"
is "$(mmoe-cat --json "$T/tr.zst" | jq -s '[.[] | select(.split == "train" and .pred_x_drop)] | length')" \
	"$(mmoe-cat --json "$T/tr.zst" | jq -s '[.[] | select(.split == "train") | .pred_x.data | (.[0] - .[1]) | fabs | select(. <= 0.200001)] | length')" \
	"training mode: the dropped records are exactly those with margin <= 0.2"

run mmoe-unipred --import "$T/p.jsonl" --as p --balance 0.6 "$T/r.mp"
is "$rc" 2 "balance above 0.5: usage error"
printf '%s\n' '{"id":"a","probs":[0.2,0.3,0.5]}' >"$T/m3.jsonl"
run mmoe-unipred -q --import "$T/m3.jsonl" --as p --balance 0.2 "$T/r.mp"
is "$rc" 1 "balance with 3 classes: exit 1"
one_line_error mmoe-unipred "balance with 3 classes: one line"
like "$err" "needs binary predictions" "balance with 3 classes: says why"
done_testing
