#!/bin/bash
# mmoe-fuse: bad input gives one line naming record and field, exit 1; usage errors exit 2.
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
good='{"id":"ok","rt":[0.5,0.5],"e1":[0.6,0.4],"e2":[0.3,0.7],"rus":"R"}'
bad() { # desc record-line expected-regex [options]
	local desc=$1 rec=$2 re=$3
	shift 3
	printf '%s\n%s\n' "$good" "$rec" | mk >"$T/b.mp"
	run mmoe-fuse -r rt -e e1,e2 -t R,U "$@" -o "$T/o.zst" "$T/b.mp"
	is "$rc" 1 "$desc: exit 1"
	one_line_error mmoe-fuse "$desc: one line"
	like "$err" "$re" "$desc: names record and field"
	ok "[ ! -e '$T/o.zst' ] && ! ls '$T'/o.zst.tmp.* " "$desc: no output file left"
}
bad "missing expert" '{"id":"x","rt":[0.5,0.5],"e1":[0.6,0.4]}' 'record 1 \(id "x"\): missing field "e2"'
bad "missing router" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): missing field "rt"'
bad "class-count mismatch" '{"id":"x","rt":[0.5,0.5],"e1":[0.6,0.4],"e2":[0.2,0.3,0.5]}' \
	'record 1 \(id "x"\): field "e2": expected 2 values \(2 classes, as "e1"'
bad "router of the wrong size" '{"id":"x","rt":[0.2,0.3,0.5],"e1":[0.6,0.4],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "rt": expected 2 values \(one router weight per expert e1,e2\), got 3'
bad "NaN in an expert" '{"id":"x","rt":[0.5,0.5],"e1":[nan,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): field "e1"'
bad "NaN in the router" '{"id":"x","rt":[0.5,nan],"e1":[0.6,0.4],"e2":[0.6,0.4]}' 'record 1 \(id "x"\): field "rt"'
bad "negative probability" '{"id":"x","rt":[0.5,0.5],"e1":[-0.1,1.1],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "e1": expected non-negative probabilities, element 0'
bad "expert of the wrong type" '{"id":"x","rt":[0.5,0.5],"e1":"yes","e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): field "e1": .*string'
bad "oracle without a tag" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4]}' \
	'record 1 \(id "x"\): missing field "rus" \(needed by --mode oracle' -m oracle
bad "oracle with an unknown tag" '{"id":"x","e1":[0.6,0.4],"e2":[0.6,0.4],"rus":"S"}' \
	'record 1 \(id "x"\): field "rus": expected one of the tags R,U, got "S"' -m oracle

printf '%s\n' "$good" | mk >"$T/g.mp"
run mmoe-fuse -r rt "$T/g.mp"
is "$rc" 2 "no --experts: exit 2"
run mmoe-fuse -e e1,e2 "$T/g.mp"
is "$rc" 2 "soft without --router: exit 2"
run mmoe-fuse -e e1,e2 -m median "$T/g.mp"
is "$rc" 2 "unknown mode: exit 2"
run mmoe-fuse -e e1,e2 -m oracle "$T/g.mp"
is "$rc" 2 "oracle with 3 default tags for 2 experts: exit 2"
like "$err" "--types has 3 tags but --experts has 2" "tag count mismatch explained"
run mmoe-fuse -r rt -e e1,e2 "$T/missing.mp"
is "$rc" 2 "missing input file: exit 2"
run mmoe-fuse --help
is "$rc" 0 "--help: exit 0"
like "$out" "default: p_mmoe" "--help shows defaults"
done_testing
