#!/bin/bash
# The UR-FUNNY and MMSD2.0 converters (pipelines/convert/) on small fixtures in the
# published file formats (tests/data/urfunny: the V2 pickles; tests/data/mmsd2:
# text_json_final/*.json), and their output through mmoe-import.  The real
# releases cannot be downloaded here; see datasets.mk.
. "$(dirname "$0")/lib.sh"
conv=$MMOE_TOP/pipelines/convert
fx=$MMOE_TOP/tests/data

# ---- MMSD2.0 ---------------------------------------------------------------------
run "$conv/mmsd2.sh" "$fx/mmsd2"
is "$rc" 0 "mmsd2: fixture converts"
like "$err" "^mmsd2: train 4, val 2, test 2 records, 4 positive$" "mmsd2: counts on stderr"
printf '%s\n' "$out" > "$T/mmsd2.jsonl"
is "$(jq -rs 'map(.split) | unique | join(",")' "$T/mmsd2.jsonl")" "test,train,val" "mmsd2: valid.json becomes split val"
# 854678856724340737 is odd and above 2^53: as a JSON number it would come out ...736
is "$(jq -rs '.[1].id' "$T/mmsd2.jsonl")" 854678856724340737 "mmsd2: 18-digit image ids keep every digit"
is "$(jq -rs '.[1].image' "$T/mmsd2.jsonl")" 854678856724340737.jpg "mmsd2: image path from the id"
is "$(jq -rs '.[3].text' "$T/mmsd2.jsonl")" "new shoes for the marathon … # running" "mmsd2: unicode text kept"
run mmoe-import -q -o "$T/mmsd2.zst" "$T/mmsd2.jsonl"
is "$rc" 0 "mmsd2: records import"
is "$(mmoe-cat --json --fields id,label "$T/mmsd2.zst" | jq -rs 'map(.label) | add')" 4 "mmsd2: labels survive the import"

bad() { # name file sed-expr: copy the fixture to $T/name and edit one file
	# (with sed: jq itself would round the 18-digit ids)
	rm -rf "$T/$1"; cp -r "$fx/mmsd2" "$T/$1"; sed -i -E "$3" "$T/$1/$2"
}
bad m1 test.json 's/"label": 0}]/"label": 2}]/'
run "$conv/mmsd2.sh" "$T/m1"
is "$rc" 1 "mmsd2: label 2 is exit 1"
like "$err" '^mmsd2: .*test.json: element 1 \(id "682716753374351363"\): field "label": expected 0 or 1, got 2$' \
	"mmsd2: bad label, one line naming file, element, id and field"
bad m2 valid.json 's/"text": "how much[^"]*", //'
run "$conv/mmsd2.sh" "$T/m2"
is "$rc" 1 "mmsd2: missing text is exit 1"
like "$err" '^mmsd2: .*valid.json: element 0: field "text" is missing$' "mmsd2: missing field named"
rm -rf "$T/m3"; cp -r "$fx/mmsd2" "$T/m3"; cp "$T/m3/valid.json" "$T/m3/test.json"
run "$conv/mmsd2.sh" "$T/m3"
is "$rc" 1 "mmsd2: an id in two files is exit 1"
like "$err" '^mmsd2: id "[0-9]+" appears more than once$' "mmsd2: the repeated id is named"
rm -rf "$T/m4"; cp -r "$fx/mmsd2" "$T/m4"; rm "$T/m4/valid.json"
run "$conv/mmsd2.sh" "$T/m4"
is "$rc" 2 "mmsd2: missing file is exit 2"
rm -rf "$T/m5"; cp -r "$fx/mmsd2" "$T/m5"; echo '{"image_id": 1' > "$T/m5/train.json"
run "$conv/mmsd2.sh" "$T/m5"
is "$rc" 1 "mmsd2: truncated JSON is exit 1"
like "$err" "^mmsd2: .*train.json: not valid JSON" "mmsd2: truncated JSON is reported"

# ---- UR-FUNNY --------------------------------------------------------------------
if have_py pickle; then
	run "$PY" "$conv/urfunny.py" "$fx/urfunny"
	is "$rc" 0 "urfunny: fixture converts"
	like "$err" "^urfunny: train 3, val 1, test 1 records, 3 positive; 1 labelled ids in no fold left out$" \
		"urfunny: counts and the id in no fold on stderr"
	printf '%s\n' "$out" > "$T/uf.jsonl"
	is "$(jq -rs 'map("\(.id):\(.split):\(.label)") | join(" ")' "$T/uf.jsonl")" \
		"101:train:1 102:train:0 103:train:1 201:val:0 301:test:1" "urfunny: ids, dev -> val, labels"
	is "$(jq -rs '.[0] | "\(.text)|\(.context)|\(.image)|\(.frame_time)"' "$T/uf.jsonl")" \
		"and that is why I never trust a pigeon|so I was in the park a pigeon looked at me|frames/101.jpg|11" \
		"urfunny: punchline, joined context, one frame at the middle of the punchline"
	is "$(jq -rs '.[2].frame_time' "$T/uf.jsonl")" 1 "urfunny: no intervals, frame at 1 s"
	run mmoe-import -q -o "$T/uf.zst" "$T/uf.jsonl"
	is "$rc" 0 "urfunny: records import"

	mkdir -p "$T/u1"; cp "$fx"/urfunny/*.pkl "$T/u1/"
	"$PY" -c 'import pickle,os
class E:
    def __reduce__(self): return (os.system, ("touch '"$T"'/pwned",))
pickle.dump({101: E()}, open("'"$T"'/u1/language_sdk.pkl", "wb"), protocol=2)'
	run "$PY" "$conv/urfunny.py" "$T/u1"
	is "$rc" 1 "urfunny: a pickle that would run code is refused (exit 1)"
	like "$err" "^urfunny: .*language_sdk.pkl: not a readable pickle \(refusing to build posix.system\)$" \
		"urfunny: the refused callable is named"
	ok "[ ! -e '$T/pwned' ]" "urfunny: and nothing ran"

	mkdir -p "$T/u2"; cp "$fx"/urfunny/*.pkl "$T/u2/"
	"$PY" -c 'import pickle; pickle.dump({101: 1, 102: 3, 103: 1, 201: 0, 301: 1}, open("'"$T"'/u2/humor_label_sdk.pkl", "wb"), protocol=2)'
	run "$PY" "$conv/urfunny.py" "$T/u2"
	is "$rc" 1 "urfunny: label 3 is exit 1"
	is "$err" 'urfunny: id "102": label: expected 0 or 1, got 3' "urfunny: bad label named"

	mkdir -p "$T/u3"; cp "$fx"/urfunny/*.pkl "$T/u3/"
	"$PY" -c 'import pickle; pickle.dump({"train": [101, 102], "dev": [102], "test": [301]}, open("'"$T"'/u3/data_folds.pkl", "wb"), protocol=2)'
	run "$PY" "$conv/urfunny.py" "$T/u3"
	is "$rc" 1 "urfunny: an id in two folds is exit 1"
	is "$err" 'urfunny: id "102" is in two folds' "urfunny: the id is named"

	mkdir -p "$T/u4"; cp "$fx"/urfunny/*.pkl "$T/u4/"; rm "$T/u4/data_folds.pkl"
	run "$PY" "$conv/urfunny.py" "$T/u4"
	is "$rc" 2 "urfunny: a missing file is exit 2"
else
	for i in $(seq 14); do skip "Debian python3 missing"; done
fi

# ---- the datasets.mk rules ------------------------------------------------------------
dm=(make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" DATA="$T/d")
run "${dm[@]}" mmsd2 MMSD2_SRC="$fx/mmsd2"
is "$rc" 0 "datasets.mk mmsd2 from a local copy"
is "$(mmoe-cat --count "$T/d/mmsd2/mmsd2.zst")" 8 "mmsd2.zst: 8 records"
if have_py pickle; then
	run "${dm[@]}" "URFUNNY_SRC=$fx/urfunny" "$T/d/urfunny/urfunny.jsonl"
	is "$rc" 0 "datasets.mk: UR-FUNNY pickles to JSON Lines"
	is "$(wc -l < "$T/d/urfunny/urfunny.jsonl" | tr -d ' ')" 5 "urfunny.jsonl: 5 records"
else
	skip "Debian python3 missing"; skip "Debian python3 missing"
fi
# without a local copy the rules fetch the public files (dry run: no network here)
dm=(make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" DATA="$T/fresh")
run "${dm[@]}" -n mustard MUSTARD_SRC="$T/fresh/mustard/src"
is "$(printf '%s\n' "$out" | grep -c 'curl .*https://raw.githubusercontent.com/')" 8 "mustard: 8 files to fetch"
like "$out" "soujanyaporia/MUStARD/master/data/sarcasm_data.json" "mustard: utterances from the MUStARD repository"
like "$out" "lwaekfjlk/mmodel-soup/main/mustard_data/data_gen_output/mustard_vision_only_pred_test.json" \
	"mustard: predictions from the authors' repository"
run "${dm[@]}" -n mmsd2
is "$(printf '%s\n' "$out" | grep -c 'curl .*JoeYing1019/MMSD2.0/main/data/text_json_final/')" 3 "mmsd2: 3 files to fetch"

# frames.sh needs ffmpeg; make a 2-second test video and take one frame from it
if command -v ffmpeg >/dev/null 2>&1; then
	mkdir -p "$T/vid"
	ffmpeg -nostdin -loglevel error -f lavfi -i testsrc=duration=2:size=64x48:rate=10 "$T/vid/101.mp4"
	run bash -c "echo '{\"id\":\"101\",\"image\":\"frames/101.jpg\",\"frame_time\":1.5}
{\"id\":\"102\",\"image\":\"frames/102.jpg\"}' | '$conv/frames.sh' '$T/vid' '$T/out'"
	is "$rc" 1 "frames: a missing video fails the step"
	like "$err" 'frames: 2 records, 1 without a frame \(first: id "102"\)' "frames: the missing one is counted and named"
	ok "[ -s '$T/out/frames/101.jpg' ]" "frames: the frame of 101 is there"
else
	for i in 1 2 3; do skip "ffmpeg not installed (needed only by datasets.mk urfunny)"; done
fi

done_testing
