#!/bin/bash
# mmoe-eval: bad input gives one line naming record and field, exit 1; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# Python literal dicts, one per line -> msgpack; lists become f32 tensors (NaN allowed).
mk() {
	"$PY" -c '
import sys, struct, msgpack
nan = float("nan")
for line in sys.stdin:
    if not line.strip(): continue
    o = eval(line)
    for k, v in list(o.items()):
        if isinstance(v, list):
            o[k] = {"dtype": "f32", "shape": [len(v)], "data": struct.pack("<%df" % len(v), *map(float, v))}
    sys.stdout.buffer.write(msgpack.packb(o, use_bin_type=True))'
}
good='{"id":"ok","label":1,"p":[0.2,0.8],"q_class":1,"rus":"R","w":[0.2,0.3,0.5]}'
bad() { # desc record-line expected-regex [options]
	local desc=$1 rec=$2 re=$3
	shift 3
	printf '%s\n%s\n' "$good" "$rec" | mk >"$T/b.mp"
	run mmoe-eval -p p,q "$@" "$T/b.mp"
	is "$rc" 1 "$desc: exit 1"
	one_line_error mmoe-eval "$desc: one line"
	like "$err" "$re" "$desc: names record and field"
	is "$out" "" "$desc: no report"
}
bad "missing prediction" '{"id":"x","label":0,"p":[0.5,0.5]}' \
	'record 1 \(id "x"\): missing prediction: neither field "q" nor "q_class"'
bad "class-count mismatch" '{"id":"x","label":0,"p":[0.2,0.3,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "p": expected 2 classes \(as "p" in an earlier record\), got 3'
bad "NaN in probabilities" '{"id":"x","label":0,"p":[nan,0.5],"q_class":0}' 'record 1 \(id "x"\): field "p"'
bad "prediction of the wrong type" '{"id":"x","label":0,"p":"yes","q_class":0}' 'record 1 \(id "x"\): field "p": .*string'
bad "class of the wrong type" '{"id":"x","label":0,"p":[0.5,0.5],"q_class":"one"}' \
	'record 1 \(id "x"\): field "q_class": expected an integer, got a string'
bad "label of the wrong type" '{"id":"x","label":[1],"p":[0.5,0.5],"q_class":0}' 'record 1 \(id "x"\): field "label"'
bad "negative label" '{"id":"x","label":-1,"p":[0.5,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "label": expected a class >= 0, got -1'
bad "label outside the classes" '{"id":"x","label":2,"p":[0.5,0.5],"q_class":0}' \
	'record 1: field "label": class 2 outside 0..1 \(2 classes, from "p"\)'
bad "P_class outside P" '{"id":"x","label":1,"p":[0.5,0.5],"p_class":2,"q_class":0}' \
	'record 1 \(id "x"\): field "p_class": class 2 outside 0..1'
bad "group value of the wrong type" '{"id":"x","label":1,"p":[0.5,0.5],"q_class":0,"rus":[1]}' \
	'record 1 \(id "x"\): field "rus": expected a string, an integer or a boolean' --by rus
bad "weights of another length" '{"id":"x","label":1,"p":[0.5,0.5],"q_class":0,"w":[0.5,0.5]}' \
	'record 1 \(id "x"\): field "w": expected 3 weights' -w w
bad "unknown class name" '{"id":"x","label":"T","p":[0.5,0.5],"q_class":0}' \
	'record 1 \(id "x"\): field "label": expected one of the classes given by --classes, got "T"' --classes F,T_ --positive 0
printf '%s\n' '{"id":"a","p_class":1}' | mk >"$T/nolab.mp"
run mmoe-eval -p p "$T/nolab.mp"
is "$rc" 1 "no labelled record: exit 1"
like "$err" "no labelled records to evaluate \(1 read, 1 without \"label\"\)" "no labelled record: says why"

printf '%s\n' "$good" | mk >"$T/g.mp"
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
