#!/bin/bash
# mustard.sh — MUStARD (as prepared by the MMoE authors) -> JSON Lines on stdout.
#
#   pipelines/convert/mustard.sh [-s SEED] [-v VALFRAC] [-c pred|argmax] DIR
#
# DIR holds mustard_raw_data.json, mustard_dataset_{train,test}.json,
# mustard_image_description.json and mustard_{text,vision}_only_pred{,_test}.json.
# The fields, the validation split and the error/skip policy are described at
# the top of mustard.jq.  Counts and skips go to stderr (one summary of four lines);
# a data error is one line "mustard: ..." and exit status 1; a missing file or a
# file that is not JSON is exit status 2.  Pipe the output into
#   mmoe-import --tensor zs_text --tensor zs_vision
set -eu -o pipefail
prog=mustard
seed=1 valfrac=0.15 classfrom=pred quiet=0
usage() { echo "usage: $0 [-q] [-s SEED] [-v VALFRAC] [-c pred|argmax] DIR" >&2; exit 2; }
while getopts qs:v:c: o; do
	case $o in
	q) quiet=1 ;;
	s) seed=$OPTARG ;;
	v) valfrac=$OPTARG ;;
	c) classfrom=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 1 ] || usage
case $seed in *[!0-9]* | '') echo "$prog: -s: expected a non-negative integer, got '$seed'" >&2; exit 2 ;; esac
case $valfrac in 0 | 0.[0-9]* | .[0-9]*) ;; *) echo "$prog: -v: expected a fraction in [0,1), got '$valfrac'" >&2; exit 2 ;; esac
case $classfrom in pred | argmax) ;; *) echo "$prog: -c: expected pred or argmax, got '$classfrom'" >&2; exit 2 ;; esac
dir=$1
here=$(cd "$(dirname "$0")" && pwd)

args=(-n --argjson seed "$seed" --argjson valfrac "$valfrac" --arg classfrom "$classfrom")
for pair in raw:mustard_raw_data train:mustard_dataset_train test:mustard_dataset_test \
	caps:mustard_image_description tp:mustard_text_only_pred tpt:mustard_text_only_pred_test \
	vp:mustard_vision_only_pred vpt:mustard_vision_only_pred_test; do
	f=$dir/${pair#*:}.json
	[ -r "$f" ] || { echo "$prog: $f: cannot read (is MUSTARD_SRC right?)" >&2; exit 2; }
	jq -e 'type == "object"' "$f" >/dev/null 2>&1 || {
		echo "$prog: $f: expected a JSON object keyed by id" >&2; exit 2; }
	args+=(--slurpfile "${pair%%:*}" "$f")
done

tmp=$(mktemp "${TMPDIR:-/tmp}/mustard.XXXXXX")
trap 'rm -f "$tmp" "$tmp.out" "$tmp.rep"' EXIT
# jq's error() prints "jq: error (at <unknown>): mustard: ..."; keep the message only.
fail() { sed -n 's/^jq: error ([^)]*): //p' "$tmp" | head -n 1 >&2; exit 1; }
# records first (they carry the field checks), then the summary, then the records
jq "${args[@]}" --arg mode records -c -f "$here/mustard.jq" >"$tmp.out" 2>"$tmp" || { rm -f "$tmp.out"; fail; }
jq "${args[@]}" --arg mode report -r -f "$here/mustard.jq" >"$tmp.rep" 2>"$tmp" || { rm -f "$tmp.out" "$tmp.rep"; fail; }
[ "$quiet" = 1 ] || cat "$tmp.rep" >&2
cat "$tmp.out"
rm -f "$tmp.out" "$tmp.rep"
