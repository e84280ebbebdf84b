#!/bin/bash
# mmoe-fuse: bad input gives one line naming record and field, exit 1; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
good='{"id":"ok","rt":[0.5,0.5],"e1":[0.6,0.4],"e2":[0.3,0.7],"rus":"R"}'
# bad_case (lib.sh) collects the cases; each file c<i>.mp holds the good record, then case i's
bad_case "missing expert" '{"id":"x","rt":[0.5,0.5],"e1":[0.6,0.4]}' 'record 1 \(id "x"\): missing field "e2"'
bad_case "missing router" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): missing field "rt"'
bad_case "class-count mismatch" '{"id":"x","rt":[0.5,0.5],"e1":[0.6,0.4],"e2":[0.2,0.3,0.5]}' \
	'record 1 \(id "x"\): field "e2": expected 2 values \(2 classes, as "e1"'
bad_case "router of the wrong size" '{"id":"x","rt":[0.2,0.3,0.5],"e1":[0.6,0.4],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "rt": expected 2 values \(one router weight per expert e1,e2\), got 3'
bad_case "NaN in an expert" '{"id":"x","rt":[0.5,0.5],"e1":[nan,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): field "e1"'
bad_case "NaN in the router" '{"id":"x","rt":[0.5,nan],"e1":[0.6,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): field "rt"'
bad_case "negative probability" '{"id":"x","rt":[0.5,0.5],"e1":[-0.1,1.1],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "e1": expected non-negative probabilities, element 0'
bad_case "expert of the wrong type" '{"id":"x","rt":[0.5,0.5],"e1":"yes","e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "e1": .*string'
bad_case "oracle without a tag" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): missing field "rus" \(needed by --mode oracle' --mode oracle
bad_case "oracle with an unknown tag" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4],"rus":"S"}' \
	'record 1 \(id "x"\): field "rus": expected one of the tags R,U, got "S"' --mode oracle

n=${#bad_desc[@]}
for ((i = 0; i < n; i++)); do printf 'c%d\t%s\nc%d\t%s\n' $i "$good" $i "${bad_rec[i]}"; done >"$T/cases"
printf 'g\t%s\n' "$good" >>"$T/cases"
mkrecs --dict --split "$T" <"$T/cases"
for ((i = 0; i < n; i++)); do
	# shellcheck disable=SC2086
	run mmoe-fuse -r rt --experts e1,e2 -t R,U ${bad_opts[i]} -o "$T/o.zst" "$T/c$i.mp"
	is "$rc" 1 "${bad_desc[i]}: exit 1"
	one_line_error mmoe-fuse "${bad_desc[i]}: one line"
	like "$err" "${bad_re[i]}" "${bad_desc[i]}: names record and field"
	ok "[ ! -e '$T/o.zst' ] && ! ls '$T'/o.zst.tmp.* " "${bad_desc[i]}: no output file left"
done
cat "$T/g.mp" "$T/g.mp" | head -c $(( $(wc -c <"$T/g.mp") + 20 )) >"$T/trunc.mp"
run mmoe-fuse -r rt --experts e1,e2 -o "$T/o.zst" "$T/trunc.mp"
is "$rc" 1 "truncated stream: exit 1"
like "$err" "trunc.mp: record [0-9]+: truncated input" "truncated stream: says where"

run mmoe-fuse -r rt "$T/g.mp"
is "$rc" 2 "no --experts: exit 2"
run mmoe-fuse --experts e1,e2 "$T/g.mp"
is "$rc" 2 "soft without --router: exit 2"
run mmoe-fuse --experts e1,e2 --mode median "$T/g.mp"
is "$rc" 2 "unknown mode: exit 2"
run mmoe-fuse --experts e1,e2 --mode oracle "$T/g.mp"
is "$rc" 2 "oracle with 3 default tags for 2 experts: exit 2"
like "$err" "--types has 3 tags but --experts has 2" "tag count mismatch explained"
run mmoe-fuse --experts e1,e2 --mode oracle -t R,R "$T/g.mp"
is "$rc" 2 "a tag twice: exit 2"
run mmoe-fuse -r rt --experts e1,e2 "$T/missing.mp"
is "$rc" 2 "missing input file: exit 2"
run mmoe-fuse --help
is "$rc" 0 "--help: exit 0"
like "$out" "default: p_mmoe" "--help shows defaults"
done_testing
