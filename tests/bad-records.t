#!/bin/bash
# Records that used to pass silently and must now be refused with a clear
# error: duplicate keys, non-integer or out-of-range labels, dense tensors
# with keys other than dtype/shape/data, probability vectors that fuse
# refuses; and damaged zstd headers reported as such.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi

# ---- duplicate keys (mmoe-records(5): refused by the reader) ----
"$PY" -c '
import sys, msgpack
p = msgpack.Packer(use_bin_type=True)
out = sys.stdout.buffer
out.write(p.pack({"id": "a", "label": 0}))
# record 1: {"id":"b","rus":"R","label":1,"rus":"S"} written pair by pair
out.write(p.pack_map_header(4))
for k, v in (("id", "b"), ("rus", "R"), ("label", 1), ("rus", "S")):
    out.write(p.pack(k) + p.pack(v))
' >"$T/dup.mp"
for tool in "mmoe-cat --count" "mmoe-cat --json" "mmoe-cat" "mmoe-rus-split --pred-a rus --pred-b rus --as tag"; do
	run $tool "$T/dup.mp"
	is "$rc" 1 "duplicate key: $tool exits 1"
	like "$err" "dup.mp: record 1: the key \"rus\" appears twice \(keys 1 and 3\)" \
		"duplicate key: $tool names the input, the record and the key"
done
# many keys take the sorted path of the check
"$PY" -c '
import sys, msgpack
p = msgpack.Packer(use_bin_type=True)
sys.stdout.buffer.write(p.pack_map_header(40))
for i in range(40):
    sys.stdout.buffer.write(p.pack("k%d" % (i if i != 33 else 7)) + p.pack(i))
' >"$T/dup40.mp"
run mmoe-cat --count "$T/dup40.mp"
like "$rc:$err" "^1:.*the key \"k7\" appears twice \(keys 7 and 33\)" "duplicate key among 40: found"

# ---- labels: integers >= 0 only, and within the predictions' classes ----
mkrecs --dict >"$T/labels.mp" <<'R'
{'id':'ok','label':1,'pa':[0.2,0.8],'pb':[0.6,0.4]}
{'id':'t','label':True,'pa':[0.2,0.8],'pb':[0.6,0.4]}
R
run mmoe-cat --check "$T/labels.mp"
like "$rc:$err" "^1:mmoe-cat: .*labels.mp: record 1 \(id \"t\"\): field \"label\": expected an integer, got a boolean" \
	"cat --check refuses label true"
mkrecs --dict >"$T/flabel.mp" <<'R'
{'id':'f','label':1.0,'pa':[0.2,0.8],'pb':[0.6,0.4]}
R
run mmoe-cat --check "$T/flabel.mp"
like "$rc:$err" "^1:.*record 0 \(id \"f\"\): field \"label\": expected an integer, got the float 1" \
	"cat --check refuses label 1.0"
for f in labels flabel; do
	run mmoe-eval --pred pa "$T/$f.mp"
	like "$rc:$err" "^1:.*field \"label\": expected an integer" "eval refuses a non-integer label ($f)"
	run mmoe-rus-split --pred-a pa --pred-b pb "$T/$f.mp"
	like "$rc:$err" "^1:.*field \"label\": expected an integer" "rus-split refuses a non-integer label ($f)"
done
for y in 7 -1; do
	mkrecs --dict >"$T/range.mp" <<R
{'id':'a','label':0,'pa':[0.9,0.1],'pb':[0.8,0.2]}
{'id':'b','label':$y,'pa':[0.9,0.1],'pb':[0.8,0.2]}
R
	run mmoe-rus-split --pred-a pa --pred-b pb -o "$T/range.zst" "$T/range.mp"
	is "$rc" 1 "rus-split: label $y in a 2-class stream: exit 1 (was tagged S)"
	like "$err" "record 1 \(id \"b\"\): field \"label\": (class 7 is outside 0..1|expected a class >= 0, got -1)" \
		"rus-split: label $y: names record, field and range"
	ok "[ ! -e '$T/range.zst' ]" "rus-split: label $y: no output"
done

# ---- dense tensors have exactly dtype, shape and data ----
"$PY" -c '
import sys, msgpack, struct
p = msgpack.Packer(use_bin_type=True)
t = {"dtype": "f32", "shape": [2], "data": struct.pack("<2f", 1, 2)}
sys.stdout.buffer.write(p.pack({"id": "a", "x": t}))
sys.stdout.buffer.write(p.pack({"id": "b", "x": dict(t, extra=1)}))
' >"$T/extra.mp"
run mmoe-cat --check "$T/extra.mp"
like "$rc:$err" "^1:.*record 1 \(id \"b\"\): field \"x\": tensor map has the extra key \"extra\"" \
	"cat --check refuses a tensor map with a fourth key"

# ---- one probability check: eval and rus-split refuse what fuse refuses ----
for v in "[-0.5,1.5]:non-negative" "[0,0]:positive sum" "[0.5,0.5,0]:expected 2 classes"; do
	vec=${v%%:*} why=${v#*:}
	mkrecs --dict >"$T/p.mp" <<R
{'id':'a','label':0,'pa':[0.9,0.1],'pb':[0.8,0.2]}
{'id':'b','label':1,'pa':$vec,'pb':[0.8,0.2]}
R
	run mmoe-fuse --experts pa --mode mean "$T/p.mp"
	rcf=$rc
	run mmoe-eval --pred pa "$T/p.mp"
	like "$rc:$err" "^1:.*record 1 \(id \"b\"\): field \"pa\": .*$why" "eval refuses $vec ($why)"
	run mmoe-rus-split --pred-a pa --pred-b pb "$T/p.mp"
	like "$rc:$err" "^1:.*record 1 \(id \"b\"\): field \"pa\": .*$why" "rus-split refuses $vec ($why)"
	[ "$vec" = "[0.5,0.5,0]" ] || is "$rcf" 1 "fuse refuses $vec too"
done

# ---- a damaged zstd header is a corrupt or truncated stream ----
mmoe-cat -o "$T/good.zst" "$T/labels.mp"
printf '\x28' >"$T/one.zst"
run mmoe-cat --count "$T/one.zst"
like "$rc:$err" "^1:.*one.zst: record 0: truncated input: the stream ends inside a zstd frame header" \
	"a stream cut to 1 byte is truncated"
{ printf '\x28\xb5\x2f\xfe'; tail -c +5 "$T/good.zst"; } >"$T/magic.zst"
run mmoe-cat --count "$T/magic.zst"
like "$rc:$err" "^1:.*magic.zst: record 0: corrupt zstd data: the frame header's magic number is damaged" \
	"a damaged zstd magic is corrupt data"
printf '\x05\x06\x07\x08' >"$T/int.mp"
run mmoe-cat --count "$T/int.mp"
like "$rc:$err" "^1:.*record 0: expected a map, got an integer" "plain bytes that are not a map: as before"

done_testing
