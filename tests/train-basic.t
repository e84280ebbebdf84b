#!/bin/bash
# mmoe-train-expert: training, logs, --predict, determinism, round trip, options.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

# A tiny two-modality stream: label depends on both modalities and their product.
gen() { # n dv dt seed
	"$PY" - "$@" <<'PYEOF'
import msgpack, numpy as np, sys
n, dv, dt, seed = map(int, sys.argv[1:5])
rng = np.random.default_rng(seed)
a = rng.normal(size=dv); b = rng.normal(size=dt)
out = sys.stdout.buffer
for i in range(n):
    v = rng.normal(size=dv).astype('<f4'); t = rng.normal(size=dt).astype('<f4')
    sv = float(v @ a); st = float(t @ b)
    y = int(sv + 0.5 * st + 0.3 * sv * st > 0)
    sp = 'train' if i % 5 < 3 else ('val' if i % 5 == 3 else 'test')
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y, 'rus': 'RUS'[i % 3],
        'drop': bool(i % 7 == 0),
        'v': {'dtype': 'f32', 'shape': [dv], 'data': v.tobytes()},
        't': {'dtype': 'f32', 'shape': [dt], 'data': t.tobytes()}}))
PYEOF
}
gen 500 8 6 1 > "$T/d.mp"
TR="mmoe-train-expert -f v -f t --proj 32 --hidden 32 --epochs 8 --batch 32"

run $TR -o "$T/m.mm" "$T/d.mp"
is "$rc" 0 "training exits 0"
like "$err" "300 train, 100 val records \(500 read, 100 other splits\)" "log counts the splits"
like "$err" "epoch  8/8  loss [0-9.]+  val_loss [0-9.]+  val_f1 [0-9.]+" "log has one line per epoch with the val metric"
like "$err" "best epoch [0-9]+ of 8, val_f1" "log names the best epoch"
like "$err" "seed 1" "log prints the seed"
ok "test -s '$T/m.mm'" "model file written"

run $TR -q -o "$T/q.mm" "$T/d.mp"
is "$rc:$err" "0:" "-q: silent"

# determinism: same seed → same bytes (decompressed), another seed → other bytes
run $TR -q -o "$T/m2.mm" "$T/d.mp"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m2.mm')" "same seed gives an identical model"
run $TR -q --seed 2 -o "$T/m3.mm" "$T/d.mp"
ok "! cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m3.mm')" "another seed gives another model"
run $TR -q -o "$T/m4.mm" - < "$T/d.mp"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m4.mm')" "stdin and a file give the same model"

# round trip: load → save leaves the content bit-identical
run mmoe-train-expert --resave "$T/m.mm" -o "$T/r.mm"
is "$rc" 0 "--resave exits 0"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/r.mm')" "save -> load -> save is bit-exact"
MMOE_ZSTD_LEVEL=19 mmoe-train-expert --resave "$T/r.mm" -o "$T/r19.mm"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/r19.mm')" "and at another zstd level"

# model content
cat > "$T/show.py" <<'PYEOF'
import msgpack, sys, subprocess
m = msgpack.unpackb(subprocess.run(['zstd', '-dcq', sys.argv[1]], capture_output=True).stdout, raw=False)
print(m['format'], m['version'], m['arch'], m['spec']['fusion'], m['spec']['proj'], m['spec']['hidden'],
      m['target'], ','.join(m['classes']), ','.join(f['name'] + ':' + str(f['dim']) for f in m['features']),
      m['train']['seed'], m['train']['n_train'], m['train']['n_val'], 'hash' if m['data_hash'] > 0 else 'nohash',
      'commit' if m['commit'] else 'nocommit', len(m['params']))
PYEOF
is "$("$PY" "$T/show.py" "$T/m.mm")" "mmoe-model 2 expert concat-prod 32 32 label 0,1 v:8,t:6 1 300 100 hash commit 8" \
	"model holds format, architecture, classes, features, seed, counts, data hash, commit, tensors"

run mmoe-train-expert --info "$T/m.mm"
is "$rc" 0 "--info exits 0"
is "$(printf '%s' "$out" | jq -c '[.spec.fusion, .spec.proj, .classes, .features, .train.seed, .train.lr, .parameters]')" \
	'["concat-prod",32,["0","1"],[{"name":"v","dim":8},{"name":"t","dim":6}],"1",0.001,3682]' "--info describes the model as JSON"

# predict
run mmoe-train-expert --predict -m "$T/m.mm" --as p_base "$T/d.mp"
is "$rc" 0 "--predict exits 0"
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/m.mm" --as p_base "$T/d.mp" > "$T/p.mp"
cat > "$T/acc.py" <<'PYEOF'
import msgpack, sys, numpy as np
field = sys.argv[2]; n = 0; good = 0; tot = 0; okp = True; C = None
for r in msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False):
    tot += 1
    p = np.frombuffer(r[field]['data'], '<f4'); C = len(p)
    okp &= abs(p.sum() - 1) < 1e-5 and int(np.argmax(p)) == r[field + '_class']
    if r['split'] == 'test':
        n += 1; good += int(r[field + '_class'] == r[sys.argv[3]] if len(sys.argv) > 3 else r[field + '_class'] == r['label'])
print(tot, C, 'ok' if okp else 'bad', 'acc>=0.8' if good >= 0.8 * n else 'acc=%.3f' % (good / n))
PYEOF
is "$("$PY" "$T/acc.py" "$T/p.mp" p_base)" "500 2 ok acc>=0.8" "every record gets probabilities and the argmax class; test accuracy >= 0.8"
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/m.mm" < "$T/d.mp" > "$T/p2.mp"
ok "'$PY' -c \"import msgpack,sys; r=next(iter(msgpack.Unpacker(open('$T/p2.mp','rb'),raw=False))); sys.exit(0 if 'p_m' in r and 'p_m_class' in r else 1)\"" \
	"--as defaults to p_<model basename>"

# string targets, fixed class order, several models in one pass
run $TR --target rus --classes S,U,R -o "$T/rus.mm" "$T/d.mp"
is "$rc" 0 "string target with --classes"
like "$err" "3 classes" "three classes"
like "$err" "val_macro_f1" "string targets select by macro-F1"
is "$("$PY" "$T/show.py" "$T/rus.mm" | cut -d' ' -f7,8)" "rus S,U,R" "class order is the --classes order"
MMOE_ZSTD_LEVEL=0 run mmoe-train-expert -q --predict -m "$T/m.mm" --as p_a -m "$T/rus.mm" --as p_r "$T/d.mp"
is "$rc" 0 "two models in one pass"
"$PY" - "$T/out" <<'PYEOF' > "$T/two.txt"
import msgpack, sys
rs = list(msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False))
r = rs[0]
print(len(rs), r['p_a']['shape'], r['p_r']['shape'], r['p_r_label'] == ['S', 'U', 'R'][r['p_r_class']], 'p_a_label' in r)
PYEOF
is "$(cat "$T/two.txt")" "500 [2] [3] True False" "both fields; the string model also writes NAME_label"
run $TR --target rus -o "$T/rus2.mm" "$T/d.mp"
is "$("$PY" "$T/show.py" "$T/rus2.mm" | cut -d' ' -f8)" "R,S,U" "without --classes, string classes are sorted"

# filters
run $TR --where rus=R -o "$T/w.mm" "$T/d.mp"
like "$err" "100 train, 34 val records \(500 read, 100 other splits, 266 filtered out\)" "--where keeps only matching records"
run $TR --exclude-flag drop -o "$T/x.mm" "$T/d.mp"
like "$err" "256 train, 86 val records \(500 read, 100 other splits, 58 filtered out\)" "--exclude-flag skips flagged records"
run $TR --where label=1 --where rus=U -o "$T/x2.mm" "$T/d.mp"
like "$err" "filtered out" "--where on an int field and a second --where"

# init from a baseline; the head restarts when the classes differ
run mmoe-train-expert --init "$T/m.mm" --where rus=S --epochs 3 -o "$T/e.mm" "$T/d.mp"
is "$rc" 0 "--init (features taken from the model)"
is "$("$PY" "$T/show.py" "$T/e.mm" | cut -d' ' -f5,6,9)" "32 32 v:8,t:6" "--init keeps the architecture"
"$PY" - "$T/m.mm" "$T/e.mm" <<'PYEOF' > "$T/init.txt"
import msgpack, sys, subprocess
ld = lambda p: msgpack.unpackb(subprocess.run(['zstd', '-dcq', p], capture_output=True).stdout, raw=False)
a, b = ld(sys.argv[1]), ld(sys.argv[2])
print(a['features'][0]['mean'] == b['features'][0]['mean'], b['train']['init'] is not None)
PYEOF
is "$(cat "$T/init.txt")" "True True" "--init reuses the standardisation and records the init model"
run mmoe-train-expert --init "$T/m.mm" --target rus --classes R,U,S --epochs 2 -o "$T/router.mm" "$T/d.mp"
is "$rc" 0 "--init with other classes"
like "$err" "output layer starts afresh" "the head restarts, and it is said"
run mmoe-train-expert --init "$T/m.mm" --hidden 64 --epochs 1 -o "$T/i2.mm" "$T/d.mp"
like "$err" "architecture options are ignored" "--init warns about ignored architecture options"

# other architectures and losses
for arch in "--fusion concat" "--fusion bilinear --bilinear-dim 4" "--act gelu --layers 2" "--proj 0 --fusion concat --layers 0"; do
	run $TR $arch -q -o "$T/a.mm" "$T/d.mp"
	is "$rc" 0 "trains with $arch"
done
run $TR --loss focal --alpha 0.5 --gamma 2 --class-weights auto --select acc -o "$T/f.mm" "$T/d.mp"
is "$rc" 0 "focal loss, auto class weights, --select acc"
like "$err" "val_acc" "the log shows the selected metric"
run $TR --class-weights 1,3 --select loss --patience 1 --epochs 30 -o "$T/f2.mm" "$T/d.mp"
is "$rc" 0 "explicit class weights, --select loss"
like "$err" "best epoch [0-9]+ of ([0-9]|[12][0-9]), val_loss" "patience stops early"
run $TR -j 2 -q -o "$T/j2.mm" "$T/d.mp"
is "$rc" 0 "-j 2"

# no val split: the last epoch is kept, and it is said
"$PY" - "$T/d.mp" > "$T/noval.mp" <<'PYEOF'
import msgpack, sys
out = sys.stdout.buffer
for r in msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False):
    if r['split'] == 'val': r['split'] = 'test'
    out.write(msgpack.packb(r))
PYEOF
run $TR -o "$T/nv.mm" "$T/noval.mp"
is "$rc" 0 "trains without validation records"
like "$err" "no validation records" "and says it keeps the last epoch"

run mmoe-train-expert --help
is "$rc" 0 "--help exits 0"
like "$out" "default: concat-prod" "--help shows defaults"
run mmoe-train-expert --version
like "$out" "mmoe-train-expert" "--version"
done_testing
