#!/bin/bash
# Our streams are plain zstd + msgpack: the zstd CLI and Python's msgpack and
# numpy read them, and we read what they write.
. "$(dirname "$0")/lib.sh"
export MMOE_ZSTD_LEVEL=3

# 500 records: ids, labels, a float, a 2x3 tensor, a string with UTF-8, nesting
seq 0 499 | awk '{printf "{\"id\":\"r%d\",\"label\":%d,\"w\":%s,\"x\":[[%d,0.5,-1],[2,3,%d]],\"t\":\"h\\u00e9 %d\",\"m\":{\"k\":[1,null,true]}}\n", $1, $1 % 3, $1 / 8, $1, -$1, $1}' > "$T/in.jsonl"
mmoe-import -q -T x -o "$T/ours.zst" "$T/in.jsonl"
mmoe-import -q -T x --level 0 -o "$T/ours.mp" "$T/in.jsonl"

# ---- the zstd CLI ------------------------------------------------------------------
ok "zstd -q -t '$T/ours.zst'" "zstd -t: our stream is a valid zstd file with a good checksum"
ok "zstd -q -dc '$T/ours.zst' | cmp -s - '$T/ours.mp'" "zstd -dc gives exactly the plain (level 0) stream"
ok "zstd -lv '$T/ours.zst' 2>&1 | grep -q 'Check: XXH64'" "the frame carries an XXH64 checksum"
zstd -q -dc "$T/ours.zst" | zstd -q -19 -c > "$T/rezstd.zst"
run mmoe-cat --count "$T/rezstd.zst"
is "$rc:$out" "0:500" "a stream recompressed by the zstd CLI reads back"
ok "mmoe-cat --json '$T/ours.zst' | jq -e . > /dev/null" "every --json line is valid JSON for jq"

# ---- Python --------------------------------------------------------------------------
if ! have_py msgpack || ! have_py numpy; then
	for i in 1 2 3 4 5 6 7 8 9; do skip "Debian python3-msgpack or python3-numpy is not installed"; done
	done_testing
	exit
fi

# Python reads every record and tensor of our stream.
cat > "$T/read.py" <<'EOF'
import msgpack, numpy, sys
n = 0
for rec in msgpack.Unpacker(sys.stdin.buffer, raw=False):
    i = int(rec["id"][1:])
    assert rec["id"] == "r%d" % i and rec["label"] == i % 3, rec
    assert abs(rec["w"] - i / 8) < 1e-12
    x = numpy.frombuffer(rec["x"]["data"], "<f4").reshape(rec["x"]["shape"])
    assert rec["x"]["dtype"] == "f32" and x.shape == (2, 3), x.shape
    assert (x == numpy.array([[i, 0.5, -1], [2, 3, -i]], "f4")).all(), x
    assert rec["t"] == "h\u00e9 %d" % i and rec["m"] == {"k": [1, None, True]}
    n += 1
print(n)
EOF
run sh -c "zstd -q -dc '$T/ours.zst' | $PY '$T/read.py'"
is "$rc:$out" "0:500" "python msgpack+numpy reads every record and tensor"

# mmoe-cat --json agrees with what python decodes, field by field
cat > "$T/cmp.py" <<'EOF'
import json, msgpack, numpy, sys
def norm(v):
    if isinstance(v, dict) and set(v) == {"dtype", "shape", "data"}:
        a = numpy.frombuffer(v["data"], "<f4") if isinstance(v["data"], bytes) else numpy.array(v["data"], "f4")
        return ("tensor", v["dtype"], list(v["shape"]), a.tolist())
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
lines = open(sys.argv[2]).read().splitlines()
assert len(recs) == len(lines)
for r, l in zip(recs, lines):
    j = json.loads(l)
    assert list(j) == list(r), (list(j), list(r))   # field order kept
    assert norm(j) == norm(r), (j, r)
print("same")
EOF
mmoe-cat --json "$T/ours.zst" > "$T/ours.json"
run $PY "$T/cmp.py" "$T/ours.mp" "$T/ours.json"
is "$rc:$out" "0:same" "mmoe-cat --json equals python's decoding, field order included"

# A stream written by Python: every msgpack type, f32/f64/int tensors, float32 scalars.
cat > "$T/write.py" <<'EOF'
import msgpack, numpy, sys
out = sys.stdout.buffer
pk = msgpack.Packer(use_bin_type=True)
for i in range(300):
    x = (numpy.arange(12, dtype="<f4") * i).reshape(3, 4)
    rec = {
        "id": "p%d" % i, "label": i % 2, "split": ["train", "val", "test"][i % 3],
        "x": {"dtype": "f32", "shape": [3, 4], "data": x.tobytes()},
        "d": {"dtype": "f64", "shape": [2], "data": numpy.array([i, -0.25], "<f8").tobytes()},
        "u": {"dtype": "u8", "shape": [3], "data": bytes([i % 256, 0, 255])},
        "blob": bytes(range(i % 7)), "neg": -i, "big": 2**63 + i, "none": None,
        "flag": i % 2 == 0, "nested": {"a": [1, 2.5, "s"], "b": {}},
    }
    out.write(pk.pack(rec))
out.write(msgpack.packb({"id": "f32", "s": 0.1}, use_single_float=True))
EOF
$PY "$T/write.py" > "$T/py.mp"
zstd -q -c "$T/py.mp" > "$T/py.zst"
run mmoe-cat --count "$T/py.mp"
is "$rc:$out" "0:301" "mmoe-cat reads a plain stream written by python"
run mmoe-cat --check --count "$T/py.zst"
is "$rc:$out" "0:301" "and the zstd CLI's compression of it, which passes --check"
run mmoe-cat --json --fields id,x,d,u,blob,big,neg --head 8 "$T/py.zst"
line=$(printf '%s\n' "$out" | sed -n 8p)
is "$line" '{"id":"p7","x":{"dtype":"f32","shape":[3,4],"data":[0.0,7.0,14.0,21.0,28.0,35.0,42.0,49.0,56.0,63.0,70.0,77.0]},"d":{"dtype":"f64","shape":[2],"data":[7.0,-0.25]},"u":{"dtype":"u8","shape":[3],"data":[7,0,255]},"blob":{"bin":0,"base64":""},"neg":-7,"big":9223372036854775815}' \
	"python's f32/f64/u8 tensors, bin, u64 and negative ints print exactly"
run mmoe-cat --json --head 1 "$T/py.zst"
printf '%s\n' "$out" > "$T/first.json"
run $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["blob"], r["nested"], r["none"], r["flag"], r["split"])' "$T/first.json"
is "$out" "{'bin': 0, 'base64': ''} {'a': [1, 2.5, 's'], 'b': {}} None True train" "nested maps, nil, bool as JSON"
run sh -c "mmoe-cat --json '$T/py.zst' | tail -n 1"
is "$out" '{"id":"f32","s":0.1}' "a float32 scalar prints as its shortest form"

# concatenation across writers: ours (zstd) + python's (zstd CLI) + python's plain
run sh -c "cat '$T/ours.zst' '$T/py.zst' '$T/py.mp' '$T/ours.mp' | mmoe-cat --count"
is "$rc:$out" "0:1602" "cat of our, zstd-CLI and plain streams is one stream"

# and back: python reads what mmoe-cat writes from python's stream (re-encoded)
mmoe-cat --level 0 "$T/py.zst" > "$T/again.mp"
run $PY -c '
import msgpack, sys
a = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
b = list(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False))
print(a == b)' "$T/py.mp" "$T/again.mp"
is "$out" True "mmoe-cat re-encoding keeps every python value (same objects in python)"

done_testing
