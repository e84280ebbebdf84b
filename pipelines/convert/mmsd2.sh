#!/bin/bash
# mmsd2.sh — MMSD2.0 text_json_final/{train,valid,test}.json -> JSON Lines on stdout.
#
#   pipelines/convert/mmsd2.sh DIR
#
# Each file is a JSON array of {"image_id": <integer>, "text": "...", "label": 0|1}.
# Records: id and image ("<image_id>.jpg", relative to the image folder), split
# (train, val from valid.json, test), label, text.  The image ids are 18-digit
# integers, beyond what a double (and so jq) holds exactly: they are turned into
# strings textually before jq parses the file.
# Errors (one line on stderr, exit 1): a file that is not an array of objects, an
# element without image_id/text/label, a label other than 0/1 (true/false are
# accepted as 1/0), an image id that is not a string of digits, an id repeated
# across the files.  A missing file: exit 2.  Counts per split go to stderr.
set -eu -o pipefail
prog=mmsd2
[ $# = 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmsd2.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for part in train:train valid:val test:test; do
	f=$dir/${part%%:*}.json
	[ -r "$f" ] || { echo "$prog: $f: cannot read" >&2; exit 2; }
	# quote the numeric image ids (also inside a pretty-printed file)
	sed -E 's/("image_id"[[:space:]]*:[[:space:]]*)(-?[0-9]+)/\1"\2"/g' "$f" |
	jq -c --arg split "${part#*:}" --arg file "$f" '
		def die(m): error("mmsd2: \($file): " + m);
		if type != "array" then die("expected a JSON array") else . end
		| to_entries[] | .key as $i | .value
		| if type != "object" then die("element \($i): expected an object") else . end
		| . as $e
		| (["image_id", "text", "label"][] as $k | select($e | has($k) | not) | $k) as $k
			| die("element \($i): field \"\($k)\" is missing")
		' >/dev/null 2>"$tmp/err" || {
			if grep -q '^jq: error (at [^)]*): mmsd2: ' "$tmp/err"; then
				sed -n 's/^jq: error ([^)]*): //p' "$tmp/err" | head -n 1 >&2
			else echo "$prog: $f: not valid JSON ($(head -n 1 "$tmp/err"))" >&2; fi
			exit 1; }
	sed -E 's/("image_id"[[:space:]]*:[[:space:]]*)(-?[0-9]+)/\1"\2"/g' "$f" |
	jq -c --arg split "${part#*:}" --arg file "$f" '
		def die(m): error("mmsd2: \($file): " + m);
		to_entries[] | .key as $i | .value
		| (.image_id | tostring) as $id
		| if ($id | test("^[0-9]+$") | not) then die("element \($i): field \"image_id\": expected digits, got \(.image_id | tojson)") else . end
		| (if .label == true then 1 elif .label == false then 0 else .label end) as $y
		| if $y != 0 and $y != 1 then die("element \($i) (id \"\($id)\"): field \"label\": expected 0 or 1, got \(.label | tojson)") else . end
		| if (.text | type) != "string" then die("element \($i) (id \"\($id)\"): field \"text\": expected a string, got \(.text | type)") else . end
		| {id: $id, split: $split, label: $y, text: .text, image: "\($id).jpg"}
		' >"$tmp/${part#*:}.jsonl" 2>"$tmp/err" || {
			sed -n 's/^jq: error ([^)]*): //p' "$tmp/err" | head -n 1 >&2; exit 1; }
done
cat "$tmp/train.jsonl" "$tmp/val.jsonl" "$tmp/test.jsonl" >"$tmp/all.jsonl"
dup=$(jq -r .id "$tmp/all.jsonl" | sort | uniq -d | head -n 1)
[ -z "$dup" ] || { echo "$prog: id \"$dup\" appears more than once" >&2; exit 1; }
echo "$prog: train $(wc -l <"$tmp/train.jsonl"), val $(wc -l <"$tmp/val.jsonl"), test $(wc -l <"$tmp/test.jsonl") records, $(jq -s 'map(.label) | add // 0' "$tmp/all.jsonl") positive" >&2
cat "$tmp/all.jsonl"
