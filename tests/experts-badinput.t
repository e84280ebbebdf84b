#!/bin/bash
# Bad expert files for mmoe-unipred --import, as PyTorch users export them
# (JSON Lines keyed by image_id): a duplicate id, a row of three logits in a
# two-class run, a NaN (Python's bare NaN), an empty file, a file of another
# data set.  Each is refused with a clear one-line error (exit 1, no output),
# or, under --max-bad, skipped and counted in a warning that -q does not hide.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
printf '%s\n' '{"id":"a","split":"test","label":1}' '{"id":"b","split":"test","label":0}' \
	'{"id":"c","split":"test","label":1}' '{"id":"d","split":"test","label":0}' | mkrecs >"$T/r.mp"
# the ids that got a prediction
got() { mmoe-cat --json "$1" | jq -r 'select(has("p")) | .id' | tr '\n' ' '; }

refused() { # desc file-content regex
	printf '%s' "$2" >"$T/e.jsonl"
	run mmoe-unipred -q --id-key image_id --import "$T/e.jsonl" --as p -o "$T/o.zst" "$T/r.mp"
	is "$rc" 1 "$1: exit 1"
	one_line_error mmoe-unipred "$1: one line"
	like "$err" "$3" "$1: says what and where"
	ok "[ ! -e '$T/o.zst' ]" "$1: no output"
}
skipped() { # desc regex ids-left : the last file, under --max-bad 0.7
	run mmoe-unipred -q --max-bad 0.7 --id-key image_id --import "$T/e.jsonl" --as p -o "$T/o.zst" "$T/r.mp"
	is "$rc" 0 "$1 under --max-bad 0.7: exit 0"
	like "$err" "$2" "$1 under --max-bad 0.7: counted in a warning -q does not hide"
	is "$(got "$T/o.zst")" "$3" "$1 under --max-bad 0.7: the other entries imported"
	rm -f "$T/o.zst"
}

refused "duplicate id" $'{"image_id":"a","logits":[0,1]}\n{"image_id":"b","logits":[1,0]}\n{"image_id":"a","logits":[1,0]}\n' \
	'e.jsonl: 2 of 3 entries unusable \(0 of the wrong length, 0 with a non-finite value, 2 under an id given more than once\), more than --max-bad 0.01 allows; the first: line 3 \(id "a"\): id "a" appears twice'
skipped "duplicate id" 'warning: .*e.jsonl: 2 of 3 entries skipped \(.*2 under an id given more than once\)' "b "

refused "three logits in a two-class run" $'{"image_id":"a","logits":[0,1]}\n{"image_id":"b","logits":[1,0]}\n{"image_id":"c","logits":[0,1,2]}\n' \
	'e.jsonl: 1 of 3 entries unusable \(1 of the wrong length.*line 3 \(id "c"\): field "logits": 3 values, but 2 classes'
skipped "three logits in a two-class run" 'warning: .*e.jsonl: 1 of 3 entries skipped \(1 of the wrong length' "a b "
printf '%s\n' '{"image_id":"a","logits":[0,1,2]}' '{"image_id":"b","logits":[0,1,2]}' '{"image_id":"c","logits":[0,1]}' >"$T/e.jsonl"
run mmoe-unipred -q --classes 2 --max-bad 0.9 --id-key image_id --import "$T/e.jsonl" --as p -o "$T/o.zst" "$T/r.mp"
is "$rc:$(got "$T/o.zst")" "0:c " "--classes 2 fixes the class count even where most rows have 3"
rm -f "$T/o.zst"

refused "NaN" $'{"image_id":"a","logits":[0,1]}\n{"image_id":"b","logits":[NaN,0]}\n{"image_id":"c","logits":[1,-Infinity]}\n' \
	'e.jsonl: 2 of 3 entries unusable \(0 of the wrong length, 2 with a non-finite value.*the first: line 2 \(id "b"\): field "logits": value 0 is not finite'
skipped "NaN" 'warning: .*e.jsonl: 2 of 3 entries skipped \(0 of the wrong length, 2 with a non-finite value' "a "

refused "empty file" '' 'e.jsonl: empty prediction file'
refused "blank lines only" $'\n  \n' 'e.jsonl: empty prediction file'

refused "another data set" $'{"image_id":"x1","logits":[0,1]}\n{"image_id":"x2","logits":[1,0]}\n' \
	'e.jsonl: none of the 2 ids matches a record of the stream \(first "x1"\): predictions for another data set\?'
refused "mostly another data set" $'{"image_id":"a","logits":[0,1]}\n{"image_id":"x2","logits":[1,0]}\n{"image_id":"x3","logits":[1,0]}\n' \
	'e.jsonl: id "x2" is not in the stream \(2 of the 3 ids of the import are not\), more than --max-unmatched 0.5 allows'
printf '%s\n' '{"image_id":"a","logits":[0,1]}' >"$T/e.jsonl"
run mmoe-unipred -q --import "$T/e.jsonl" --as p -o "$T/o.zst" "$T/r.mp"
is "$rc" 1 "the id under another key, without --id-key: exit 1"
like "$err" 'e.jsonl: line 1: field "id": missing \(the line has "image_id": --id-key image_id\)' \
	"the id under another key, without --id-key: says which option to give"
done_testing
