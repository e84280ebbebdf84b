#!/bin/bash
# mmoe-train-expert --arch transformer: token fields kept in shape, the
# transformer wherever the MLP goes (baseline, R/U/S experts, router, --init,
# --predict, --info, the mixture gate), determinism, and bad configurations.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

# Records with a token field a_tok [T, 6] of 2..8 rows, one of which carries
# the class (+key or -key), a grid g [2, 3, 4] and a vector v [5] of noise;
# experts' probabilities p_A, p_B and a heldout flag for the gate.
"$PY" - > "$T/d.mp" <<'PYEOF'
import msgpack, numpy as np, sys
rng = np.random.default_rng(1)
key = rng.normal(size=6)
def t(a): a = np.asarray(a, '<f4'); return {'dtype': 'f32', 'shape': list(a.shape), 'data': a.tobytes()}
out = sys.stdout.buffer
for i in range(400):
    T = int(rng.integers(2, 9))
    tok = rng.normal(size=(T, 6))
    y = int(rng.integers(0, 2))
    tok[int(rng.integers(0, T))] += (1.5 if y else -1.5) * key
    g = rng.normal(size=(2, 3, 4))
    sp = 'train' if i % 5 < 3 else ('val' if i % 5 == 3 else 'test')
    a = 0.9 if tok[:, 0].sum() > 0 else 0.2
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y, 'rus': 'RUS'[i % 3],
        'heldout': i % 2 == 0, 'p_A': t([1 - a, a] if y else [a, 1 - a]), 'p_B': t([0.5, 0.5]),
        'a_tok': t(tok), 'g': t(g), 'v': t(rng.normal(size=5))}))
PYEOF
TR="mmoe-train-expert --arch transformer --width 32 --heads 4 --depth 2 --ffn 64 --epochs 10"

run $TR -f a_tok -f g -f v -o "$T/m.mm" "$T/d.mp"
is "$rc" 0 "a transformer over a token field, a grid and a vector trains"
like "$err" "240 train, 80 val records \(400 read, 80 other splits\)" "log counts the splits"
like "$err" "features a_tok\[8x6\] g\[6x4\] v\[1x5\]" "log gives each input's rows x width: the most rows, a grid's H*W, one row for a vector"

# determinism
run $TR -q -f a_tok -f g -f v -o "$T/m2.mm" "$T/d.mp"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m2.mm')" "same seed gives an identical model"
run $TR -q -f a_tok -f g -f v --seed 2 -o "$T/m3.mm" "$T/d.mp"
ok "! cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m3.mm')" "another seed gives another model"
# wide enough that the products are cut into panels run on the threads (the
# feed-forward's 1920 x 512 x 128 of a batch of 128 x 15 rows in 8 row
# panels): the same bytes for 1, 2 and 3 threads
for j in 1 2 3; do
	mmoe-train-expert -q --arch transformer --width 128 --heads 4 --depth 1 --ffn 512 --epochs 1 \
		--batch 128 -j $j -f a_tok -f g -o "$T/w$j.mm" "$T/d.mp"
done
ok "cmp -s <(zstd -dcq '$T/w1.mm') <(zstd -dcq '$T/w2.mm') && cmp -s <(zstd -dcq '$T/w1.mm') <(zstd -dcq '$T/w3.mm')" \
	"--threads 1, 2 and 3 train the same transformer, byte for byte"
run mmoe-train-expert --resave "$T/m.mm" -o "$T/r.mm"
ok "[ $rc = 0 ] && cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/r.mm')" "save -> load -> save is bit-exact"

# --info: the architecture and the node list
run mmoe-train-expert --info "$T/m.mm"
is "$rc" 0 "--info exits 0"
is "$(printf '%s' "$out" | jq -c '[.arch, .spec.tokens, .spec.width, .spec.depth, .spec.heads, .spec.ffn, .features[0]]')" \
	'["transformer",[8,6,1],32,2,4,64,{"name":"a_tok","dim":6,"tokens":8}]' "--info gives the transformer's spec"
is "$(printf '%s' "$out" | jq -c '[.nodes[] | select(.name == "cls" or .name == "blk1" or .name == "head") | [.name, .kind, .in, .shape]]')" \
	'[["cls","cls",["seq"],[16,32]],["blk1","block",["blk0"],[16,32]],["head","linear",["pool"],[1,2]]]' \
	"--info prints the node list (kinds, inputs by name, shapes)"

# --predict beats chance on the test split
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/m.mm" --as p "$T/d.mp" > "$T/p.mp"
cat > "$T/acc.py" <<'PYEOF'
import msgpack, sys
n = c = 0
for r in msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False):
    if r['split'] == 'test':
        n += 1
        c += r[sys.argv[2] + '_class'] == r['label']
print('%.2f' % (c / n))
PYEOF
acc=$("$PY" "$T/acc.py" "$T/p.mp" p)
ok "awk 'BEGIN { exit !($acc >= 0.75) }'" "the transformer beats chance on the test split (accuracy $acc, chance 0.5)"

# R/U/S expert from the baseline, the router, the gate
run mmoe-train-expert -q --init "$T/m.mm" --where rus=S --epochs 2 -o "$T/s.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/s.mm" | jq -c '[.arch, .train.n_train, .train.init]')" \
	"0:[\"transformer\",80,\"$T/m.mm\"]" "--where rus=S --init BASELINE: a transformer expert on S"
run mmoe-train-expert --init "$T/m.mm" --target rus --epochs 2 -o "$T/router.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/router.mm" | jq -c '[.arch, .classes]')" '0:["transformer",["R","S","U"]]' \
	"--target rus: a transformer router"
like "$err" "classes differ \(2 vs 3\), the output layer starts afresh" "its head starts afresh, by name"
run $TR -q -f a_tok --experts p_A,p_B -o "$T/gate.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/gate.mm" | jq -c '[.arch, .classes, .target]')" \
	'0:["transformer",["p_A","p_B"],"mixture"]' "--experts: a transformer mixture gate"
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/router.mm" --as r -m "$T/gate.mm" --as w "$T/d.mp" > "$T/rw.mp"
is "$?" 0 "the router and the gate predict together"

# the MLP still flattens the same fields
run mmoe-train-expert -q -f g -f v --proj 8 --hidden 8 --epochs 1 -o "$T/mlp.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/mlp.mm" | jq -c '[.arch, .spec.dims]')" '0:["expert",[24,5]]' \
	"--arch mlp (the default) flattens a grid"

# bad configurations and records
run $TR -f a_tok --width 30 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: --width 30 is not a multiple of --heads 4" "width % heads: usage error"
run $TR -f a_tok --max-tokens 4 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^1:mmoe-train-expert: record [0-9]+ \(id "r[0-9]+"\): field "a_tok": [5-8] rows, more than --max-tokens 4' \
	"a record over --max-tokens: exit 1 naming the record and the field"
run $TR -f a_tok --proj 8 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: --proj is an option of --arch mlp" "an MLP option with the transformer: usage error"
run mmoe-train-expert -f a_tok --depth 3 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: --depth is an option of --arch transformer" "a transformer option without it: usage error"
run mmoe-train-expert --arch rnn -f a_tok -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: option --arch: 'rnn' is not mlp, transformer or mome" "an unknown --arch: usage error"
mkrecs > "$T/dd.mp" <<'EOF'
{"id":"a","split":"train","label":0,"x":[[1,2,3],[4,5,6]]}
{"id":"b","split":"train","label":1,"x":[[1,2,3]]}
{"id":"c","split":"train","label":1,"x":[[1,2],[3,4]]}
EOF
run $TR -f x -o "$T/bad.mm" "$T/dd.mp"
like "$rc:$err" '^1:mmoe-train-expert: record 2 \(id "c"\): field "x": rows of 2 values, but the records before have 3$' \
	"a token field whose width changes: exit 1 naming the record and the field"
mkrecs > "$T/long.mp" <<'EOF'
{"id":"z","split":"test","label":0,"a_tok":[[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6],[1,2,3,4,5,6]],"g":[[[1,2,3,4]]],"v":[1,2,3,4,5]}
EOF
run mmoe-train-expert --predict -m "$T/m.mm" "$T/long.mp"
like "$rc:$err" '^1:mmoe-train-expert: [^ ]*long.mp: record 0 \(id "z"\): field "a_tok": 9 rows, more than the 8 the model takes \(a feature of model [^ ]*m.mm\)$' \
	"--predict: more rows than the model takes: exit 1 naming the input, record, field and model"
done_testing
