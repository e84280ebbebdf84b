#!/bin/bash
# mmoe-eval: bad input gives one line naming record and field, exit 1; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
good='{"id":"ok","label":1,"p":[0.2,0.8],"q_class":1,"rus":"R","w":[0.2,0.3,0.5]}'
# bad_case (lib.sh) collects the cases; each file c<i>.mp holds the good record, then case i's
bad_case "missing prediction" '{"id":"x","label":0,"p":[0.5,0.5]}' \
	'record 1 \(id "x"\): missing prediction: neither field "q" nor "q_class"'
bad_case "class-count mismatch" '{"id":"x","label":0,"p":[0.2,0.3,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "p": expected 2 classes \(as "p" in an earlier record\), got 3'
bad_case "NaN in probabilities" '{"id":"x","label":0,"p":[nan,0.5],"q_class":0}' 'record 1 \(id "x"\): field "p"'
bad_case "prediction of the wrong type" '{"id":"x","label":0,"p":"yes","q_class":0}' 'record 1 \(id "x"\): field "p": .*string'
bad_case "class of the wrong type" '{"id":"x","label":0,"p":[0.5,0.5],"q_class":"one"}' \
	'record 1 \(id "x"\): field "q_class": expected an integer, got a string'
bad_case "label of the wrong type" '{"id":"x","label":[1],"p":[0.5,0.5],"q_class":0}' 'record 1 \(id "x"\): field "label"'
bad_case "negative label" '{"id":"x","label":-1,"p":[0.5,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "label": expected a class >= 0, got -1'
bad_case "label outside the classes" '{"id":"x","label":2,"p":[0.5,0.5],"q_class":0}' \
	'record 1: field "label": class 2 outside 0..1 \(2 classes, from "p"\)'
bad_case "P_class outside P" '{"id":"x","label":1,"p":[0.5,0.5],"p_class":2,"q_class":0}' \
	'record 1 \(id "x"\): field "p_class": class 2 outside 0..1'
bad_case "group value of the wrong type" '{"id":"x","label":1,"p":[0.5,0.5],"q_class":0,"rus":[1]}' \
	'record 1 \(id "x"\): field "rus": expected a string, an integer or a boolean' --by rus
bad_case "weights of another length" '{"id":"x","label":1,"p":[0.5,0.5],"q_class":0,"w":[0.5,0.5]}' \
	'record 1 \(id "x"\): field "w": expected 3 weights' -w w
bad_case "unknown class name" '{"id":"x","label":"T","p":[0.5,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "label": expected one of the classes given by --classes, got "T"' --classes F,T_ --positive 0
n=${#bad_desc[@]}
for ((i = 0; i < n; i++)); do printf 'c%d\t%s\nc%d\t%s\n' $i "$good" $i "${bad_rec[i]}"; done >"$T/cases"
printf 'g\t%s\n' "$good" >>"$T/cases"
printf 'nolab\t%s\n' '{"id":"a","p_class":1}' >>"$T/cases"
printf 'huge\t%s\n' '{"id":"a","label":1000000,"p_class":0}' >>"$T/cases"
mkrecs --dict --split "$T" <"$T/cases"
for ((i = 0; i < n; i++)); do
	# shellcheck disable=SC2086
	run mmoe-eval -p p,q ${bad_opts[i]} "$T/c$i.mp"
	is "$rc" 1 "${bad_desc[i]}: exit 1"
	one_line_error mmoe-eval "${bad_desc[i]}: one line"
	like "$err" "${bad_re[i]}" "${bad_desc[i]}: names record and field"
	is "$out" "" "${bad_desc[i]}: no report"
done
cat "$T/g.mp" "$T/g.mp" | head -c $(( $(wc -c <"$T/g.mp") + 20 )) >"$T/trunc.mp"
run mmoe-eval -p p,q "$T/trunc.mp"
is "$rc" 1 "truncated stream: exit 1"
like "$err" "trunc.mp: record [0-9]+: truncated input" "truncated stream: says where"
run mmoe-eval -p p "$T/huge.mp"
is "$rc" 1 "a huge class number: exit 1, no huge allocation"
like "$err" "class 1000000 seen: more than the 4096 classes supported" "huge class: says why"
run mmoe-eval -p p "$T/nolab.mp"
is "$rc" 1 "no labelled record: exit 1"
like "$err" "no labelled records to evaluate \(1 read, 1 without \"label\"\)" "no labelled record: says why"

run mmoe-eval "$T/g.mp"
is "$rc" 2 "no -p: exit 2"
run mmoe-eval -p p -F xml "$T/g.mp"
is "$rc" 2 "unknown format: exit 2"
run mmoe-eval -p p --positive 2 "$T/g.mp"
is "$rc" 2 "--positive beyond the classes: exit 2"
like "$err" "class 2, but the data has 2 classes" "--positive error explained"
run mmoe-eval -p p -B -3 "$T/g.mp"
is "$rc" 2 "negative --bootstrap: exit 2"
run mmoe-eval -p p,p "$T/g.mp"
is "$rc" 2 "a method twice: exit 2"
run mmoe-eval -p p "$T/missing.mp"
is "$rc" 2 "missing input: exit 2"
one_line_error mmoe-eval "missing input: one line"
run mmoe-eval --help
is "$rc" 0 "--help: exit 0"
like "$out" "default: 1000" "--help shows defaults"
done_testing
