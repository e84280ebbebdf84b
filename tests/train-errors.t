#!/bin/bash
# mmoe-train-expert: corrupt and mismatched models, bad data, usage errors.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

gen() { # n dv dt seed [drop-field-of-record-k]
	"$PY" - "$@" <<'PYEOF'
import msgpack, numpy as np, sys
n, dv, dt, seed = map(int, sys.argv[1:5])
rng = np.random.default_rng(seed)
out = sys.stdout.buffer
for i in range(n):
    v = rng.normal(size=dv).astype('<f4'); t = rng.normal(size=dt).astype('<f4')
    y = int(v[0] + t[0] > 0)
    sp = 'train' if i % 5 < 3 else ('val' if i % 5 == 3 else 'test')
    r = {'id': 'r%d' % i, 'split': sp, 'label': y, 'rus': 'RUS'[i % 3],
        'v': {'dtype': 'f32', 'shape': [dv], 'data': v.tobytes()},
        't': {'dtype': 'f32', 'shape': [dt], 'data': t.tobytes()}}
    if len(sys.argv) > 5 and i == int(sys.argv[5]): del r['t']
    out.write(msgpack.packb(r))
PYEOF
}
gen 60 4 3 1 > "$T/d.mp"
TR="mmoe-train-expert -q -f v -f t --proj 8 --hidden 8 --epochs 2"
$TR -o "$T/m.mm" "$T/d.mp" || echo "# training the fixture failed"

# corrupt model files
head -c 200 "$T/m.mm" > "$T/trunc.mm"
run mmoe-train-expert --predict -m "$T/trunc.mm" "$T/d.mp"
is "$rc" 1 "truncated model: exit 1"
one_line_error mmoe-train-expert "truncated model: one line"
like "$err" "invalid model file: .*trunc.mm.*truncated" "truncated model: says so and names the file"
printf 'not a model at all' > "$T/junk.mm"
run mmoe-train-expert --predict -m "$T/junk.mm" "$T/d.mp"
is "$rc" 1 "junk model: exit 1"
like "$err" "junk.mm" "junk model: names the file"
run mmoe-train-expert --predict -m "$T/d.mp" "$T/d.mp"
is "$rc" 1 "a data stream is not a model: exit 1"
like "$err" "(more than one record|not an mmoe model)" "a data stream is not a model: says so"
run mmoe-train-expert --predict -m "$T/nonexistent.mm" "$T/d.mp"
is "$rc" 2 "missing model: exit 2"
unlike "$(ls "$T")" "tmp" "no temporary files left behind"

# tampered models (valid files, inconsistent content)
tamper() { # in out python-statement-on-m
	"$PY" - "$@" <<'PYEOF'
import msgpack, sys, subprocess
m = msgpack.unpackb(subprocess.run(['zstd', '-dcq', sys.argv[1]], capture_output=True).stdout, raw=False)
exec(sys.argv[3])
subprocess.run(['zstd', '-qf', '-o', sys.argv[2]], input=msgpack.packb(m), check=True)
PYEOF
}
tamper "$T/m.mm" "$T/cls.mm" "m['classes'] = ['0', '1', '2']"
run mmoe-train-expert --predict -m "$T/cls.mm" "$T/d.mp"
is "$rc" 1 "wrong class count: exit 1"
like "$err" "3 class names but the head has 2 outputs" "wrong class count: clear message"
tamper "$T/m.mm" "$T/dim.mm" "m['spec']['dims'][0] = 5; m['features'][0]['dim'] = 5"
run mmoe-train-expert --predict -m "$T/dim.mm" "$T/d.mp"
is "$rc" 1 "dims that do not fit the tensors: exit 1"
like "$err" "expected shape \[5\], got \[4\]" "names the shape mismatch"
tamper "$T/m.mm" "$T/nofeat.mm" "del m['features']"
run mmoe-train-expert --predict -m "$T/nofeat.mm" "$T/d.mp"
like "$rc:$err" "^1:.*field \"features\" is missing" "missing field in the model: exit 1, names it"
tamper "$T/m.mm" "$T/ver.mm" "m['version'] = 7"
run mmoe-train-expert --predict -m "$T/ver.mm" "$T/d.mp"
like "$rc:$err" "^1:.*version 7 is newer" "newer format version: refused"
tamper "$T/m.mm" "$T/fus.mm" "m['spec']['fusion'] = 'magic'"
run mmoe-train-expert --predict -m "$T/fus.mm" "$T/d.mp"
like "$rc:$err" "^1:.*spec.fusion.*unknown value \"magic\"" "unknown fusion: refused"
tamper "$T/m.mm" "$T/nan.mm" "import struct; p = m['params'][0]['tensor']; p['data'] = struct.pack('<f', float('nan')) + p['data'][4:]"
run mmoe-train-expert --predict -m "$T/nan.mm" "$T/d.mp"
like "$rc:$err" "^1:.*params\[0\]" "NaN weights: refused, naming the tensor"

# mismatched data
gen 20 5 3 2 > "$T/d5.mp"
run mmoe-train-expert --predict -m "$T/m.mm" "$T/d5.mp"
is "$rc" 1 "wrong feature dimension: exit 1"
one_line_error mmoe-train-expert "wrong feature dimension: one line"
like "$err" "record 0 \(id \"r0\"\).*field \"v\".*4" "wrong feature dimension: names record, field and the expected size"
gen 20 4 3 3 7 > "$T/miss.mp"
run mmoe-train-expert --predict -m "$T/m.mm" "$T/miss.mp"
is "$rc" 1 "missing feature field: exit 1"
like "$err" "record 7 \(id \"r7\"\).*field \"t\"" "missing feature field: names record and field"
run $TR -o "$T/x.mm" "$T/miss.mp"
like "$rc:$err" "^1:.*record 7 .*\"t\"" "training on a record without a feature: exit 1, names it"
ok "test ! -e '$T/x.mm'" "no model written after a failure"
run mmoe-train-expert -q --init "$T/m.mm" -o "$T/x.mm" "$T/d5.mp"
like "$rc:$err" "^1:.*init.*expects 4" "--init with other feature dims: exit 1"
run mmoe-train-expert -q --init "$T/m.mm" -f t -f v -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*feature 1 is \"v\" in the model, \"t\"" "--init with other feature fields: exit 2"

# bad data for training
"$PY" -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'id': 'a', 'split': 'train', 'label': 5, 'v': [1.0, 2.0]}))
sys.stdout.buffer.write(msgpack.packb({'id': 'b', 'split': 'train', 'label': 0, 'v': [1.0, 2.0]}))" > "$T/lab.mp"
run mmoe-train-expert -q -f v --classes no,yes -o "$T/x.mm" "$T/lab.mp"
like "$rc:$err" "^1:.*record 0 \(id \"a\"\): field \"label\": class 5 out of range 0..1" "label out of --classes range"
"$PY" -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'id': 'a', 'split': 'train', 'rus': 'R', 'v': [1.0]}))
sys.stdout.buffer.write(msgpack.packb({'id': 'b', 'split': 'train', 'rus': 'Q', 'v': [1.0]}))" > "$T/rus.mp"
run mmoe-train-expert -q -f v --target rus --classes R,U,S -o "$T/x.mm" "$T/rus.mp"
like "$rc:$err" "^1:.*record 1 \(id \"b\"\): field \"rus\": class \"Q\" is not in --classes" "unknown string class"
"$PY" -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'id': 'a', 'split': 'train', 'label': 1, 'v': [1.0]}))
sys.stdout.buffer.write(msgpack.packb({'id': 'b', 'split': 'train', 'label': 'x', 'v': [1.0]}))" > "$T/mix.mp"
run mmoe-train-expert -q -f v -o "$T/x.mm" "$T/mix.mp"
like "$rc:$err" "^1:.*record 1 .*expected an integer like the records before, got a string" "mixed target types"
"$PY" -c "
import msgpack, sys
sys.stdout.buffer.write(msgpack.packb({'id': 'a', 'split': 'train', 'label': 1, 'v': [1.0, float('nan')]}))" > "$T/nan.mp"
run mmoe-train-expert -q -f v -o "$T/x.mm" "$T/nan.mp"
like "$rc:$err" "^1:.*record 0 .*\"v\"" "NaN feature: exit 1, names the record"
run $TR -o "$T/x.mm" --where rus=Z "$T/d.mp"
like "$rc:$err" "^1:.*no training records" "no training records: exit 1"
head -c 1000 "$T/d.mp" > "$T/cut.mp"
run $TR -o "$T/x.mm" "$T/cut.mp"
like "$rc:$err" "^1:.*truncated" "truncated input stream: exit 1"

# usage
run mmoe-train-expert -f v "$T/d.mp"
like "$rc:$err" "^2:.*-o MODEL is required" "no -o: exit 2"
run mmoe-train-expert -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*-f FIELD" "no -f: exit 2"
run mmoe-train-expert -f v --fusion magic -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*--fusion" "bad --fusion: exit 2"
run mmoe-train-expert -f v --dropout 1.5 -o "$T/x.mm" "$T/d.mp"
is "$rc" 2 "bad --dropout: exit 2"
run mmoe-train-expert --predict --as p "$T/d.mp"
like "$rc:$err" "^2:.*--as must follow" "--as without -m: exit 2"
run mmoe-train-expert --predict "$T/d.mp"
like "$rc:$err" "^2:.*needs -m" "--predict without -m: exit 2"
run mmoe-train-expert -f v -f v -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*given twice" "the same -f twice: exit 2"
run mmoe-train-expert -f v --class-weights 1,2,3 -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*3 weights for 2 classes" "wrong number of class weights: exit 2"
run mmoe-train-expert -f v --where rus -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*FIELD=VALUE" "bad --where: exit 2"
run mmoe-train-expert -q -f v --target rus --select f1 -o "$T/x.mm" "$T/d.mp"
like "$rc:$err" "^2:.*f1 needs two classes" "--select f1 with three classes: exit 2"
done_testing
