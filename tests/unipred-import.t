#!/bin/bash
# mmoe-unipred --import: the MUStARD authors' JSON (named logits, pred, null
# pred), JSON Lines with probs or logits, record streams, ids missing on
# either side, --strict, and the authors' R/U/S subsets on the real files.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# id=class:P(1) (4 decimals) for every record, "-" without a prediction
show() {
	mmoe-cat --json "$1" | jq -r --arg p "$2" \
		'.id + "=" + (if has($p) then (.[$p + "_class"] | tostring) + ":" + (.[$p].data[1] * 10000 | round | tostring) else "-" end)' |
		tr '\n' ' '
}

printf '%s\n' '{"id":"1_60","split":"train","label":1}' '{"id":"1_70","split":"train","label":0}' \
	'{"id":"1_80","split":"test","label":1}' '{"id":"1_1470","split":"train","label":1}' \
	'{"id":"gone","split":"test","label":0}' '{"split":"test","label":0}' | mkrecs >"$T/r.mp"

# The authors' format: an object keyed by id, logits keyed by class name.
cat >"$T/m.json" <<'J'
{
    "1_60": {"logits": {"Yes": -1.2461845, "No": -0.43368447, "yes": -10000, "no": -10000}, "pred": 0},
    "1_70": {"logits": {"Yes": -9.911959, "No": -14.411959, "yes": -10000, "no": -10000}, "pred": 1},
    "1_80": {"logits": {"Yes": -2.0, "No": -1.0, "yes": -10000, "no": -10000}, "pred": 1},
    "1_1470": {"logits": {"Yes": -10000, "No": -15.171911, "yes": -10000, "no": -10000}, "pred": null},
    "extra1": {"logits": {"Yes": 0, "No": 0, "yes": 0, "no": 0}, "pred": 0},
    "extra2": {"logits": {"Yes": 0, "No": 1, "yes": 0, "no": 0}, "pred": 0}
}
J
run mmoe-unipred --import "$T/m.json" --import-classes No,Yes --as pt "$T/r.mp"
is "$rc" 0 "MUStARD JSON: exit 0"
cp "$T/out" "$T/m.zst"
# P(Yes) = softmax over (No, Yes) only: 1_60: 1/(1+e^(0.43368447-1.2461845)) = 0.3074
is "$(show "$T/m.zst" pt)" "1_60=0:3074 1_70=1:9890 1_80=0:2689 1_1470=- gone=- =- " \
	"MUStARD JSON: softmax over the named classes; the scores win over pred (1_80); null pred = no prediction"
like "$err" "5 predictions from .*m.json \(JSON object, 2 classes, class from the argmax of the scores\), 1 entries with a null pred" \
	"stderr: what was read"
run mmoe-unipred -q --import "$T/m.json" --import-classes No,Yes --as pt "$T/r.mp"
is "$(grep -c . "$T/err")" 1 "-q: one line left on stderr"
like "$err" "warning: .*m.json: 1 of 6 entries have a pred that is not the argmax of their scores; the scores win" \
	"-q: the pred/argmax disagreement is still reported"
run mmoe-unipred --class-from pred --import "$T/m.json" --import-classes No,Yes --as pt "$T/r.mp"
is "$(show "$T/out" pt)" "1_60=0:3074 1_70=1:9890 1_80=1:2689 1_1470=- gone=- =- " \
	"--class-from pred: the file's class (1_80)"
like "$err" "warning: .*m.json: 1 of 6 entries have a pred that is not the argmax of their scores; the pred is used" \
	"--class-from pred: the disagreement is reported too"
like "$err" "6 records: 3 with a prediction, 3 without \(1 ids not in the import, 1 null pred, 1 without an id\); 2 ids of the import not in the stream \(first \"extra1\"" \
	"stderr: records without a prediction and unknown ids counted"
is "$(mmoe-cat --json "$T/m.zst" | jq -c 'select(.id == "1_60") | [.pt.shape, .pt_class, has("pt_drop")]')" "[[2],0,false]" \
	"output fields: tensor [2] and class"

run mmoe-unipred --import "$T/m.json" --import-classes No,Yes --as pt --class-from argmax "$T/r.mp"
is "$(show "$T/out" pt)" "1_60=0:3074 1_70=1:9890 1_80=0:2689 1_1470=0:0 gone=- =- " \
	"--class-from argmax: the argmax, and null-pred entries kept"
run mmoe-unipred --import "$T/m.json" --import-classes Yes,No --as pt "$T/r.mp"
is "$(mmoe-cat --json "$T/out" | jq -c 'select(.id == "1_70") | .pt.data[0] * 10000 | round')" 9890 \
	"--import-classes sets the class order"

run mmoe-unipred --strict --import "$T/m.json" --import-classes No,Yes --as pt -o "$T/s.zst" "$T/r.mp"
is "$rc" 1 "--strict: unknown ids are an error"
like "$err" "m.json: id \"extra1\" is not in the stream \(2 of the 6 ids of the import are not\), more than --max-unmatched 0 allows" "--strict: names the first id"
ok "[ ! -e '$T/s.zst' ]" "--strict: no output file"

run mmoe-unipred --import "$T/m.json" --as pt "$T/r.mp"
is "$rc" 2 "named logits without --import-classes: exit 2"
one_line_error mmoe-unipred "named logits without --import-classes: one line"
like "$err" "entry \"1_60\": field \"logits\" is keyed by class name; give the class order with --import-classes" \
	"named logits without --import-classes: says what to do"

# JSON Lines with probs and logits; several files.
printf '%s\n' '{"id":"1_60","probs":[0.2,0.8]}' '{"id":"1_70","logits":[0,0]}' >"$T/a.jsonl"
printf '%s\n' '{"id":"1_80","probs":[3,1],"pred":1}' '{"id":"1_1470","logits":[2,0]}' >"$T/b.jsonl"
run mmoe-unipred --import "$T/a.jsonl" --import "$T/b.jsonl" --as pj "$T/r.mp"
is "$rc" 0 "JSON Lines, two files: exit 0"
is "$(show "$T/out" pj)" "1_60=1:8000 1_70=0:5000 1_80=0:2500 1_1470=0:1192 gone=- =- " \
	"JSON Lines: probs (normalised), logits (softmax), the argmax over a disagreeing pred"
like "$err" "a.jsonl \(JSON Lines, 2 classes" "JSON Lines detected"
run mmoe-unipred --import "$T/a.jsonl" --import "$T/a.jsonl" --as pj "$T/r.mp"
is "$rc" 1 "an id in two import files: exit 1"
like "$err" "id \"1_60\" is in both" "an id in two import files: named"
printf '%s\n' '{"id":"x","probs":[0.2,0.3,0.5]}' >"$T/c3.jsonl"
run mmoe-unipred -q --import "$T/a.jsonl" --import "$T/c3.jsonl" --as pj "$T/r.mp"
is "$rc" 1 "import files with different class counts: exit 1"
like "$err" "c3.jsonl: 1 of 1 entries unusable \(1 of the wrong length.*line 1 \(id \"x\"\): field \"probs\": 3 values, but 2 classes" "different class counts: the rows of the second file are of the wrong length"

# --import-order: columns in another order than our classes (here [P(1), P(0)]).
printf '%s\n' '{"id":"1_60","probs":[0.8,0.2],"pred":0}' '{"id":"1_70","probs":[0.3,0.7]}' >"$T/o.jsonl"
run mmoe-unipred --import "$T/o.jsonl" --import-order 1,0 --as po "$T/r.mp"
is "$(show "$T/out" po)" "1_60=1:8000 1_70=0:3000 1_80=- 1_1470=- gone=- =- " "--import-order 1,0: columns swapped into class order"
unlike "$err" "not the argmax" "--import-order: the file's pred is read in the file's order too (0 = its first column)"
run mmoe-unipred --import "$T/o.jsonl" --import-order 1,1 --as po "$T/r.mp"
is "$rc" 2 "--import-order that is not a permutation: usage error"
run mmoe-unipred --import "$T/o.jsonl" --import-order 1,0 --import-classes No,Yes --as po "$T/r.mp"
is "$rc" 2 "--import-order with --import-classes: usage error"

# A record stream with a prediction field (e.g. another run's output).
mmoe-unipred -q --import "$T/a.jsonl" --import "$T/b.jsonl" --as pj "$T/r.mp" >"$T/pj.zst" 2>/dev/null
run mmoe-unipred --import "$T/pj.zst" --import-field pj --as again "$T/r.mp"
is "$rc" 0 "record stream import: exit 0"
is "$(show "$T/out" again)" "1_60=1:8000 1_70=0:5000 1_80=0:2500 1_1470=0:1192 gone=- =- " \
	"record stream import: probabilities and P_class carried over"
like "$err" "record stream, 2 classes.*, 1 records without \"pj\", 1 records without an id" \
	"record stream: records without the field or an id counted"
run mmoe-unipred --import "$T/pj.zst" --as pj "$T/r.mp"
is "$rc" 0 "record stream: --import-field defaults to --as"

# Bad import files.
bad() { # desc file-content regex
	printf '%s' "$2" >"$T/bad.json"
	run mmoe-unipred --import "$T/bad.json" --as p -o "$T/bad.zst" "$T/r.mp"
	is "$rc" 1 "$1: exit 1"
	one_line_error mmoe-unipred "$1: one line"
	like "$err" "$3" "$1: names the place"
	ok "[ ! -e '$T/bad.zst' ]" "$1: no output"
}
bad "invalid JSON" '{"a": {"probs": [0.5, 0.5]},' 'bad.json: not valid JSON or JSON Lines'
bad "bad JSON Lines line" $'{"id":"a","probs":[0.5,0.5]}\n{"id":"b","probs":[0.5,\n' 'bad.json: line 2: invalid JSON'
bad "no id in a line" $'{"probs":[0.5,0.5]}\n' 'bad.json: line 1: field "id": missing'
bad "negative probability" '{"a": {"probs": [-0.5, 1.5]}}' 'entry "a": field "probs": expected non-negative probabilities, element 0 is -0.5'
bad "pred out of range" '{"a": {"probs": [0.5, 0.5], "pred": 3}}' 'entry "a": field "pred": class 3 out of range'
bad "no scores, no class" '{"a": {"rank": 1}}' 'entry "a": no "logits", "probs" or "pred" field'
bad "duplicate id" $'{"id":"a","probs":[1,0]}\n{"id":"a","probs":[1,0]}\n' 'id "a" appears twice'
bad "a score that is not a number" '{"a": {"logits": [0, "x"]}}' 'entry "a": field "logits": element 1 is not a number'
bad "scores of the wrong type" '{"a": {"probs": "high"}}' 'entry "a": field "probs": expected an array or an object of numbers'
for c in '{"No": 0}|class "Yes" is missing' '{"No": 0, "Yes": "x"}|class "Yes" is not a number' \
	'[0, 1, 2]|3 values, but 2 classes .--import-classes.'; do
	printf '{"a": {"logits": %s}}' "${c%%|*}" >"$T/bad.json"
	run mmoe-unipred --import "$T/bad.json" --import-classes No,Yes --as p -o "$T/bad.zst" "$T/r.mp"
	is "$rc" 1 "--import-classes, logits ${c%%|*}: exit 1"
	like "$err" "entry \"a\": field \"logits\": ${c#*|}" "--import-classes, logits ${c%%|*}: says why"
done
head -c 40 "$T/pj.zst" >"$T/trunc.zst"
run mmoe-unipred --import "$T/trunc.zst" --as p -o "$T/bad.zst" "$T/r.mp"
is "$rc" 1 "truncated record stream: exit 1"
one_line_error mmoe-unipred "truncated record stream: one line"
like "$err" "trunc.zst: .*(truncated|ends early)" "truncated record stream: names the file"
run mmoe-unipred --import "$T/nonexistent.json" --as p "$T/r.mp"
is "$rc" 2 "missing import file: exit 2"
one_line_error mmoe-unipred "missing import file: one line"

# The authors' zero-shot predictions reproduce their R/U/S subsets.
M=$SHARED/data/mustard
if [ -r "$M/mustard_text_only_pred.json" ] && [ -r "$M/mustard_dataset_train.json" ]; then
	"$PY" -c '
import json, sys
for sp in ("train", "test"):
    for k, d in json.load(open(sys.argv[1] + "/mustard_dataset_%s.json" % sp)).items():
        print(json.dumps({"id": k, "split": sp, "label": int(d["sarcasm"])}))' "$M" | mkrecs >"$T/must.mp"
	mmoe-unipred --import "$M/mustard_text_only_pred.json" --import "$M/mustard_text_only_pred_test.json" \
		--import-classes No,Yes --as pred_t "$T/must.mp" 2>"$T/e1" >"$T/must1.zst"
	mmoe-unipred --import "$M/mustard_vision_only_pred.json" --import "$M/mustard_vision_only_pred_test.json" \
		--import-classes No,Yes --as pred_v "$T/must1.zst" 2>"$T/e2" >"$T/must2.zst"
	like "$(cat "$T/e1")" "690 records: 681 with a prediction, 9 without \(0 ids not in the import, 9 null pred" \
		"MUStARD text: 9 null preds"
	like "$(cat "$T/e2")" "690 records: 657 with a prediction, 33 without \(25 ids not in the import, 8 null pred" \
		"MUStARD vision: 25 missing, 8 null"
	if [ -x "$MMOE_BIN/mmoe-rus-split" ]; then
		run mmoe-rus-split -a pred_v -b pred_t --no-output "$T/must2.zst"
		like "$err" "train +57 +145 +90 +0 +42 " "MUStARD train: R 57 / U 145 / S 90, 42 skipped (authors' subsets)"
		like "$err" "test +213 +109 +34 +0 +0 " "MUStARD test: R 213 / U 109 / S 34"
		mmoe-unipred -q --class-from argmax --import "$M/mustard_text_only_pred.json" \
			--import "$M/mustard_text_only_pred_test.json" --import-classes No,Yes --as pred_t "$T/must.mp" |
			mmoe-unipred -q --class-from argmax --import "$M/mustard_vision_only_pred.json" \
				--import "$M/mustard_vision_only_pred_test.json" --import-classes No,Yes --as pred_v \
				>"$T/must3.zst"
		run mmoe-rus-split -a pred_v -b pred_t --no-output "$T/must3.zst"
		like "$err" "train +62 +152 +95 +0 +25 " "--class-from argmax: null preds get a class (train R 62 / U 152 / S 95, as the man page says)"
	else
		skip "mmoe-rus-split not built"
		skip "mmoe-rus-split not built"
		skip "mmoe-rus-split not built"
	fi
else
	for i in 1 2 3 4 5; do skip "no MUStARD data in $M"; done
fi
done_testing
