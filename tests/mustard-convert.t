#!/bin/bash
# MUStARD conversion (pipelines/convert/mustard.sh + mmoe-import) and the authors'
# R/U/S subsets from their zero-shot predictions.  The real files are used when
# ../shared/data/mustard is there (a visible SKIP otherwise); the bad-input cases
# run on a tiny hand-written copy in the same format.
. "$(dirname "$0")/lib.sh"
conv=$MMOE_TOP/pipelines/convert/mustard.sh
src=$SHARED/data/mustard

# query the records of a stream with jq: $1 stream, $2 jq filter over the slurped array
# (the stream is printed as JSON once and kept)
q() { [ -s "$1.json" ] || mmoe-cat --json "$1" > "$1.json"; jq -rs "$2" "$1.json"; }

if [ -r "$src/mustard_raw_data.json" ]; then
	# datasets.mk: converts, and checks the checksums of the copy we know
	dm=(make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" DATA="$T/d")
	run "${dm[@]}" mustard MUSTARD_SRC="$src"
	is "$rc" 0 "datasets.mk mustard converts the shared copy (checksums match)"
	cp "$T/d/mustard/mustard.zst" "$T/m.zst"
	like "$err" "690 records \(test 356, train 284, val 50\), 345 positive" "summary: counts, split, positives"
	like "$err" "vision predictions: 25 ids without one, 8 with pred null" "summary names the missing vision predictions"
	is "$(q "$T/m.zst" 'length')" 690 "690 records"
	is "$(q "$T/m.zst" 'map(.label) | add')" 345 "345 positive"
	is "$(q "$T/m.zst" '[.[] | select(.split != "test")] | length')" 334 "train + val = the authors' 334"
	is "$(q "$T/m.zst" '[.[] | select(.split == "val") | .label] | "\(length) \(add)"')" "50 29" \
		"val: 50 records, stratified (29 positive, as 193/334 of train)"
	is "$(q "$T/m.zst" '[.[] | select(.caption == null or .text == null or .context == null or .speaker == null or .show == null)] | length')" 0 \
		"every record has text, context, speaker, show, caption"
	is "$(q "$T/m.zst" '[.[] | select(.zs_text != null) | .zs_text.data | add] | map(. - 1 | fabs) | max < 1e-5')" true \
		"zs_text is a probability vector"
	is "$(q "$T/m.zst" '.[] | select(.id == "2_223") | "\(.zs_text_class) \(.zs_text.data[1] > 0.99) \(.zs_vision_class)"')" "1 true 1" \
		"2_223: text says Yes with p > 0.99, vision says Yes"
	run rm -f "$T/again.jsonl"
	"$conv" -q "$src" > "$T/again.jsonl"
	"$conv" -q "$src" | cmp -s - "$T/again.jsonl" && same=0 || same=1
	is "$same" 0 "same seed, same records"
	"$conv" -q -s 2 "$src" | cmp -s - "$T/again.jsonl" && same=0 || same=1
	is "$same" 1 "another seed, another validation set"

	run mmoe-rus-split -a zs_vision -b zs_text -o "$T/rus.zst" "$T/m.zst"
	is "$rc" 0 "rus-split on the zero-shot predictions"
	tally='[.[] | {s: (if .split == "test" then "test" else "train" end), t: (.rus // "skip")}]
		| map(select(.s == $s)) | group_by(.t) | map("\(.[0].t) \(length)") | join(", ")'
	is "$(mmoe-cat --json --fields split,rus "$T/rus.zst" | jq -rs --arg s train "$tally")" "R 57, S 90, U 145, skip 42" \
		"the authors' train subsets: R 57, U 145, S 90, 42 skipped"
	is "$(mmoe-cat --json --fields split,rus "$T/rus.zst" | jq -rs --arg s test "$tally")" "R 213, S 34, U 109" \
		"the authors' test subsets: R 213, U 109, S 34"
	# which 42: 25 ids have no vision prediction, 17 a null pred (9 text, 8 vision)
	is "$(q "$T/m.zst" '[.[] | select(.split != "test" and (.zs_vision_class == null or .zs_text_class == null))] | length')" 42 \
		"the 42 skipped are the records lacking a text or vision class"
	run bash -c "'$conv' -q -c argmax '$src' | mmoe-import -q --tensor zs_text --tensor zs_vision | mmoe-rus-split -q -a zs_vision -b zs_text -o '$T/rus2.zst'"
	is "$(mmoe-cat --json --fields split,rus "$T/rus2.zst" | jq -rs --arg s train "$tally")" "R 62, S 95, U 152, skip 25" \
		"with the argmax class for null preds only the 25 without a vision prediction are skipped"
	# a changed source file stops the build, unless MUSTARD_NOVERIFY=1
	mkdir -p "$T/src"; cp "$src"/*.json "$T/src/"
	sed -i 's/"pred": 1/"pred": 0/' "$T/src/mustard_text_only_pred_test.json"
	run "${dm[@]}" DATA="$T/d2" mustard MUSTARD_SRC="$T/src"
	is "$rc" 2 "a changed source file fails the checksum"
	like "$err" "differ from the copy this project was checked on" "and says so"
	run "${dm[@]}" DATA="$T/d2" -n mustard MUSTARD_SRC="$T/src" MUSTARD_NOVERIFY=1
	like "$out" "mustard.sh -s 1 -v 0.15 $T/src" "MUSTARD_NOVERIFY=1 goes on to the conversion"
else
	for i in $(seq 20); do skip "no MUStARD copy at $src"; done
fi

# ---- bad input, on a tiny copy in the published format -----------------------------
mk() { # writes a consistent 4-record data set into $1
	mkdir -p "$1"
	cat > "$1/mustard_raw_data.json" <<-'EOF'
	{"a1": {"utterance": "Oh great, another meeting.", "speaker": "A", "context": ["We meet at 9.", "Again?"],
	        "context_speakers": ["B", "A"], "show": "FRIENDS", "sarcasm": true},
	 "a2": {"utterance": "The meeting is at nine.", "speaker": "B", "context": [], "context_speakers": [],
	        "show": "FRIENDS", "sarcasm": false},
	 "b1": {"utterance": "I just love waiting.", "speaker": "C", "context": ["Ten more minutes."],
	        "context_speakers": ["D"], "show": "BBT", "sarcasm": true},
	 "b2": {"utterance": "It is raining.", "speaker": "D", "context": ["Look outside."],
	        "context_speakers": ["C"], "show": "BBT", "sarcasm": false}}
	EOF
	echo '{"a1": {"utterance": "x"}, "a2": {}}' > "$1/mustard_dataset_train.json"
	echo '{"b1": {}, "b2": {}}' > "$1/mustard_dataset_test.json"
	echo '{"a1": "a man rolls his eyes", "a2": "a calendar", "b1": "a clock", "b2": "rain"}' > "$1/mustard_image_description.json"
	echo '{"a1": {"logits": {"Yes": -0.1, "No": -2.4, "yes": -10000}, "pred": 1},
	       "a2": {"logits": {"Yes": -3, "No": -0.05}, "pred": null}}' > "$1/mustard_text_only_pred.json"
	echo '{"b1": {"logits": {"Yes": -1, "No": -1.5}, "pred": 1}, "b2": {"logits": {"Yes": -2, "No": -0.2}, "pred": 0}}' \
		> "$1/mustard_text_only_pred_test.json"
	echo '{"a1": {"logits": {"Yes": -2, "No": -0.2}, "pred": 0}}' > "$1/mustard_vision_only_pred.json"
	echo '{"b1": {"logits": {"Yes": -0.3, "No": -1.5}, "pred": 1}, "b2": {"logits": {"Yes": -2, "No": -0.2}, "pred": 0}}' \
		> "$1/mustard_vision_only_pred_test.json"
}
edit() { # file jq-filter
	jq "$2" "$1" > "$1.new" && mv "$1.new" "$1"
}
d=$T/tiny
mk "$d"
run "$conv" -v 0 "$d"
is "$rc" 0 "tiny copy converts"
is "$(printf '%s\n' "$out" | jq -rs 'map(.id) | join(",")')" "a1,a2,b1,b2" "all four records, sorted by id"
is "$(printf '%s\n' "$out" | jq -rs 'map(select(.id == "a2")) | .[0] | has("zs_text")')" false \
	"a null pred leaves the record without that prediction"
is "$(printf '%s\n' "$out" | jq -rs 'map(select(.id == "a2")) | .[0] | has("zs_vision")')" false \
	"an id without a prediction has none"
like "$err" "text predictions: 0 ids without one, 1 with pred null" "the null pred is counted"
like "$err" "vision predictions: 1 ids without one, 0 with pred null" "the missing prediction is counted"
is "$(printf '%s\n' "$out" | jq -rs 'map(select(.id == "a1")) | .[0] | "\(.label) \(.context) \(.zs_text_class) \(.zs_text[1] > .zs_text[0])"')" \
	"1 We meet at 9. Again? 1 true" "label, joined context, probabilities over [No, Yes]"

mk "$T/t1"; edit "$T/t1/mustard_raw_data.json" 'del(.b1.utterance)'
run "$conv" "$T/t1"
is "$rc" 1 "missing field: exit 1"
is "$err" 'mustard: raw record "b1": field "utterance" is missing' "missing field: one clear line"

mk "$T/t2"; edit "$T/t2/mustard_raw_data.json" '.a2.sarcasm = "no"'
run "$conv" "$T/t2"
is "$rc" 1 "label not a boolean: exit 1"
is "$err" 'mustard: raw record "a2": field "sarcasm": expected boolean, got string' "label not a boolean: one clear line"

mk "$T/t3"; edit "$T/t3/mustard_vision_only_pred_test.json" '.zz9 = {"logits": {"Yes": 0, "No": -1}, "pred": 1}'
run "$conv" "$T/t3"
is "$rc" 0 "prediction for an unknown id: skipped, not an error"
like "$err" "vision predictions: .* 1 for unknown ids ignored" "the unknown id is counted on stderr"
is "$(printf '%s\n' "$out" | grep -c zz9)" 0 "and no record is made for it"

mk "$T/t4"; edit "$T/t4/mustard_text_only_pred_test.json" '.b1.logits = {"Yes": "high"}'
run "$conv" "$T/t4"
is "$rc" 1 "malformed logits: exit 1"
is "$err" 'mustard: text prediction "b1": logits "Yes" and "No" must be numbers' "malformed logits: one clear line"

mk "$T/t5"; edit "$T/t5/mustard_dataset_test.json" '.a1 = {}'
run "$conv" "$T/t5"
is "$rc" 1 "an id in both splits: exit 1"
like "$err" '^mustard: id "a1" is in both the train and the test split$' "an id in both splits: one clear line"

mk "$T/t6"; rm "$T/t6/mustard_image_description.json"
run "$conv" "$T/t6"
is "$rc" 2 "a missing file: exit 2"
like "$err" "mustard_image_description.json: cannot read" "a missing file is named"

mk "$T/t7"; echo 'not json' > "$T/t7/mustard_dataset_train.json"
run "$conv" "$T/t7"
is "$rc" 2 "a file that is not JSON: exit 2"

run "$conv" -c maybe "$d"
is "$rc" 2 "bad option value: exit 2"

run bash -c "'$conv' -q -c argmax '$d' | jq -rs 'map(select(.id == \"a2\")) | .[0].zs_text_class'"
is "$out" 0 "-c argmax: a null pred gets the argmax class"

done_testing
