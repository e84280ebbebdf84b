#!/bin/bash
# mmoe-train-expert and mmoe-unipred on odd inputs: an empty first feature
# vector, a first record of the odd dimension, bad data under --predict, a
# model with a name that is not UTF-8; and the same model bytes at any
# number of threads.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

# records: the first one's x as given, then three train records and a val one of 2 values
five() { # first-x
	printf '{"id":"a","split":"train","label":0,"x":%s}\n' "$1"
	printf '{"id":"b","split":"train","label":1,"x":[1,2]}\n{"id":"c","split":"train","label":0,"x":[3,4]}\n'
	printf '{"id":"d","split":"train","label":1,"x":[5,6]}\n{"id":"e","split":"val","label":1,"x":[5,6]}\n'
}
five '[]' | mmoe-import -q --tensor x > "$T/empty.zst"
run mmoe-train-expert -q --feature x --epochs 1 --output "$T/m.mm" "$T/empty.zst"
is "$rc" 1 "an empty first feature vector: exit 1 (the rows used to slip against the labels)"
like "$err" '^mmoe-train-expert: .*empty.zst: record 0 \(id "a"\): field "x": empty feature vector$' "names the record and the field"
ok "! test -e '$T/m.mm'" "and writes no model"

five '[1,2,3]' | mmoe-import -q --tensor x > "$T/odd.zst"
run mmoe-train-expert -q --feature x --epochs 1 --output "$T/m.mm" "$T/odd.zst"
is "$rc" 1 "train-expert: the first record of another dimension: exit 1"
like "$err" 'odd.zst: record 0 \(id "a"\): field "x": expected 2 values, got 3 \(dimension mismatch: 4 of the 5 records have 2\)' \
	"train-expert blames record 0, the odd one"
run mmoe-unipred --feature x "$T/odd.zst"
is "$rc" 1 "unipred: the same: exit 1"
like "$err" 'odd.zst: record 0 \(id "a"\): field "x": expected 2 values, got 3 \(dimension mismatch: 4 of the 5 records have 2\)' \
	"unipred blames record 0 too"
five '[1,2]' | sed 's/"x":\[5,6\]}$/"x":[5,6,7]}/' | mmoe-import -q --tensor x > "$T/late.zst"
run mmoe-unipred --feature x "$T/late.zst"
like "$err" 'record 3 \(id "d"\): field "x": expected 2 values, got 3 \(dimension mismatch: 3 of the 5 records have 2\)' "a later odd record is blamed, as before"

# --predict: bad data is the input's fault, not the model's
five '[1,2]' | mmoe-import -q --tensor x > "$T/good.zst"
mmoe-train-expert -q --feature x --proj 4 --hidden 4 --epochs 1 --output "$T/base.mm" "$T/good.zst"
printf '{"id":"a","x":[1,2]}\n{"id":"n","x":[1,"NaN"]}\n' | mmoe-import -q --tensor x > "$T/nan.zst"
run mmoe-train-expert --predict --model "$T/base.mm" --as p --output "$T/p.zst" "$T/nan.zst"
is "$rc" 1 "--predict on a NaN feature: exit 1"
like "$err" '^mmoe-train-expert: [^ ]*nan.zst: record 1 \(id "n"\): field "x": element 1 is NaN, expected finite values \(a feature of model [^ ]*base.mm\)$' \
	"names the input first, the model last"

# a class name that is not UTF-8 is a corrupt model (--info used to drop it)
zstd -dcq "$T/base.mm" | "$PY" -c '
import msgpack, sys
m = msgpack.unpackb(sys.stdin.buffer.read())
m["classes"] = ["0", "QQQQ"]
sys.stdout.buffer.write(msgpack.packb(m).replace(b"QQQQ", b"a\xff\xfeb"))' | zstd -q > "$T/utf.mm"
run mmoe-train-expert --info "$T/utf.mm"
is "$rc" 1 "a class name with invalid UTF-8: exit 1"
like "$err" 'model .*utf.mm: field "classes": entry 1 is not a name \(invalid UTF-8\)' "says which entry"

# the same model bytes and predictions at 1, 2 and 4 threads
"$PY" - > "$T/big.mp" <<'PYEOF'
import msgpack, numpy as np, sys
rng = np.random.default_rng(5)
out = sys.stdout.buffer
for i in range(400):
    v = rng.normal(size=96).astype('<f4'); t = rng.normal(size=80).astype('<f4')
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': 'train' if i % 5 else 'val',
        'label': int(v[:5].sum() + t[:3].sum() > 0),
        'v': {'dtype': 'f32', 'shape': [96], 'data': v.tobytes()},
        't': {'dtype': 'f32', 'shape': [80], 'data': t.tobytes()}}))
PYEOF
for j in 1 2 4; do
	mmoe-train-expert -q --threads $j --feature v --feature t --proj 128 --hidden 256 --epochs 2 --batch 128 \
		--output "$T/j$j.mm" "$T/big.mp"
	MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --threads $j --predict --model "$T/j$j.mm" --as p "$T/big.mp" > "$T/p$j.mp"
done
ok "cmp -s <(zstd -dcq '$T/j1.mm') <(zstd -dcq '$T/j2.mm') && cmp -s <(zstd -dcq '$T/j1.mm') <(zstd -dcq '$T/j4.mm')" \
	"--threads 1, 2 and 4 train the same model, byte for byte"
ok "cmp -s '$T/p1.mp' '$T/p2.mp' && cmp -s '$T/p1.mp' '$T/p4.mp'" "and predict the same bytes"
done_testing
