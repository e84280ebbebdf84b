#!/bin/bash
# mmoe-train-expert --arch mome: vision grids mixed by MoVE (avgpool or ADT,
# add or the instruction router) into a transformer with MoLE adapters;
# --predict's routing fields; MoME as baseline, expert (--init), router and
# mixture gate; determinism; bad configurations and records.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

# Two grids, a [3, 3, 4] and b [2, 2, 3], and an instruction e [5]: under
# instruction 0 the class is the sign of the sum of a's first channel,
# under instruction 1 that of b's.  Experts'
# probabilities p_A, p_B, a heldout flag and an R/U/S tag for the gate.
"$PY" - > "$T/d.mp" <<'PYEOF'
import msgpack, numpy as np, sys
rng = np.random.default_rng(1)
def t(a): a = np.asarray(a, '<f4'); return {'dtype': 'f32', 'shape': list(a.shape), 'data': a.tobytes()}
out = sys.stdout.buffer
for i in range(600):
    a = rng.normal(size=(3, 3, 4)); b = rng.normal(size=(2, 2, 3))
    task = int(rng.integers(0, 2))
    y = int((a[:, :, 0].sum() if task == 0 else b[:, :, 0].sum()) > 0)
    e = rng.normal(size=5) * 0.1; e[task] += 1
    sp = 'train' if i % 5 < 3 else ('val' if i % 5 == 3 else 'test')
    pa = [0.1, 0.9] if y else [0.9, 0.1]
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y, 'task': task,
        'rus': 'RUS'[i % 3], 'heldout': i % 2 == 0, 'p_A': t(pa), 'p_B': t([0.5, 0.5]),
        'a': t(a), 'b': t(b), 'e': t(e)}))
PYEOF
MOME="mmoe-train-expert --arch mome --instruction e --width 16 --heads 2 --depth 1 --ffn 32 --tokens 2 --epochs 30 --lr 3e-3"

run $MOME -f a -f b -o "$T/m.mm" "$T/d.mp"
is "$rc" 0 "MoME over two grids and an instruction trains"
like "$err" "features a\[9x4\] b\[4x3\] e\[1x5\]" "log: each grid's H*W rows, the instruction one row"

# determinism, for any thread count
run $MOME -q -f a -f b -j 2 -o "$T/m2.mm" "$T/d.mp"
ok "cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m2.mm')" "same seed, 2 threads: an identical model"
run $MOME -q -f a -f b --seed 2 -o "$T/m3.mm" "$T/d.mp"
ok "! cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/m3.mm')" "another seed gives another model"
run mmoe-train-expert --resave "$T/m.mm" -o "$T/r.mm"
ok "[ $rc = 0 ] && cmp -s <(zstd -dcq '$T/m.mm') <(zstd -dcq '$T/r.mm')" "save -> load -> save is bit-exact"

# --info: the spec and the nodes
run mmoe-train-expert --info "$T/m.mm"
is "$(printf '%s' "$out" | jq -c '[.arch, .spec.grids, .spec.edim, .spec.tokens, .spec.transform, .spec.aggregate, .spec.adapters, .spec.adapter_route]')" \
	'["mome",[[3,3,4],[2,2,3]],5,2,"adt","router",4,"instance"]' "--info gives the MoME spec (defaults: adt, router, 4 adapters per instance)"
is "$(printf '%s' "$out" | jq -c '[.nodes[] | select(.name == "pool0" or .name == "enc1.deform" or .name == "agg" or .name == "blk0.mole") | [.name, .kind, .in, .shape]]')" \
	'[["pool0","avgpool2d",["in0"],[4,4]],["enc1.deform","deform",["enc1.ln2","in1"],[4,16]],["agg","route",["enc0.res3","enc1.res3","router.fc2"],[4,16]],["blk0.mole","mole",["blk0.ln2","in2"],[6,16]]]' \
	"--info: pooling, deformable attention over the grid, the router's mixture, the adapters"

# --predict: classes and the routing
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/m.mm" --as p "$T/d.mp" > "$T/p.mp"
cat > "$T/chk.py" <<'PYEOF'
import msgpack, sys, numpy as np
n = c = 0; ws = []; ad = set()
for r in msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False):
    w = np.frombuffer(r['p_enc']['data'], '<f4')
    ws.append(abs(w.sum() - 1) < 1e-5 and len(w) == 2)
    ad.add(r['p_adapter0'])
    if r['split'] == 'test':
        n += 1; c += r['p_class'] == r['label']
print('%.3f %d %d' % (c / n, all(ws), all(0 <= k < 4 for k in ad)))
PYEOF
read -r acc wsum adok <<< "$("$PY" "$T/chk.py" "$T/p.mp")"
ok "awk 'BEGIN { exit !($acc >= 0.7) }'" "test accuracy $acc >= 0.7 (chance 0.5) (the instruction says which grid to read)"
is "$wsum:$adok" "1:1" "p_enc: two encoder weights summing to 1; p_adapter0: an adapter index"

# the variants: avgpool + add, no adapters: no routing fields
run $MOME -q -f a -f b --transform avgpool --aggregate add --adapters 0 -o "$T/pool.mm" "$T/d.mp"
is "$rc" 0 "avgpool + add without adapters trains"
mmoe-train-expert -q --predict -m "$T/pool.mm" --as q "$T/d.mp" | mmoe-cat --json --brief --fields q,q_enc,q_adapter0 > "$T/q.jsonl"; head -1 "$T/q.jsonl" > "$T/q.json"
is "$(jq -c 'keys' "$T/q.json")" '["q"]' "no router, no adapters: no routing fields"
run $MOME -q -f a -f b --adapters 3 --adapter-route both --gumbel 1 --balance 0.01 --epochs 2 -o "$T/it.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/it.mm" | jq -c '[.spec.adapters, .spec.adapter_route, .spec.gumbel, .spec.balance]')" \
	'0:[3,"both",1,0.01]' "MoLE-IT with Gumbel noise and the balance loss trains"

# MoME in the MMoE roles: an expert from the baseline, the R/U/S router, the gate
run mmoe-train-expert -q --init "$T/m.mm" --where rus=S --epochs 2 -o "$T/S.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/S.mm" | jq -c '[.arch, .train.n_train]')" '0:["mome",120]' \
	"an expert: --init from a MoME baseline on the records tagged S"
run $MOME -q -f a -f b --target rus --epochs 2 -o "$T/router.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/router.mm" | jq -c '.classes')" '0:["R","S","U"]' "the R/U/S router"
run $MOME -q -f a -f b --experts p_A,p_B --epochs 2 -o "$T/gate.mm" "$T/d.mp"
is "$rc:$(mmoe-train-expert --info "$T/gate.mm" | jq -c '[.arch, .target, .classes]')" '0:["mome","mixture",["p_A","p_B"]]' \
	"a mixture gate"

# bad configurations
run mmoe-train-expert --arch mome --instruction e -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^2:mmoe-train-expert: --arch mome needs at least one -f GRID field' "no encoders: usage error"
run mmoe-train-expert --arch mome -f a -f b -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^2:mmoe-train-expert: --arch mome needs --instruction FIELD' "no instruction: usage error"
run $MOME -f a -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^2:mmoe-train-expert: --arch mome: the router aggregation needs at least two encoders' \
	"the router over one encoder: usage error"
run mmoe-train-expert -f a --tokens 2 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^2:mmoe-train-expert: --tokens is an option of --arch mome' "a MoME option without it: usage error"
run $MOME -f a -f b --max-tokens 4 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" '^2:mmoe-train-expert: --max-tokens is an option of --arch transformer' "--max-tokens with MoME: usage error"
run $MOME -f a -f b --transform deform -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: option --transform: 'deform' is not avgpool or adt" "an unknown transform: usage error"
run $MOME -f a -f b --tokens 0 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:mmoe-train-expert: option --tokens" "--tokens 0 (no square of visual tokens): usage error"

# bad records
mkrecs > "$T/g.mp" <<'EOF'
{"id":"a","split":"train","label":0,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"h":[[[1],[2]],[[3],[4]]],"e":[1,0]}
{"id":"b","split":"train","label":1,"g":[[[1,2],[3,4],[5,6]],[[5,6],[7,8],[9,0]]],"h":[[[1],[2]],[[3],[4]]],"e":[0,1]}
EOF
run $MOME -f g -f h -o "$T/bad.mm" "$T/g.mp"
like "$rc:$err" '^1:mmoe-train-expert: record 1 \(id "b"\): field "g": a 2×3 grid, but the records before have 2×2$' \
	"a grid changing size: exit 1 naming the record and the field"
mkrecs > "$T/g.mp" <<'EOF'
{"id":"a","split":"train","label":0,"g":[[1,2],[3,4]],"h":[[[1],[2]],[[3],[4]]],"e":[1,0]}
EOF
run $MOME -f g -f h -o "$T/bad.mm" "$T/g.mp"
like "$rc:$err" '^1:mmoe-train-expert: record 0 \(id "a"\): field "g": token rows, not a grid \[H, W, D\]$' \
	"a field that is not a grid: exit 1 naming the record and the field"
mkrecs > "$T/g.mp" <<'EOF'
{"id":"a","split":"train","label":0,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"h":[[[1],[2]],[[3],[4]]],"e":[1,0]}
{"id":"b","split":"train","label":1,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"e":[0,1]}
EOF
run $MOME -f g -f h -o "$T/bad.mm" "$T/g.mp"
like "$rc:$err" '^1:mmoe-train-expert: .*record 1 \(id "b"\).*"h"' "a grid missing in one record: exit 1 naming the record and the field"
mkrecs > "$T/g.mp" <<'EOF'
{"id":"a","split":"train","label":0,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"h":[[[1],[2]],[[3],[4]]]}
EOF
run $MOME -f g -f h -o "$T/bad.mm" "$T/g.mp"
like "$rc:$err" '^1:mmoe-train-expert: .*record 0 \(id "a"\).*"e"' "the instruction missing: exit 1 naming the record and the field"
mkrecs > "$T/g.mp" <<'EOF'
{"id":"a","split":"train","label":0,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"h":[[[1],[2]],[[3],[4]]],"e":[[1,0],[0,1]]}
{"id":"b","split":"train","label":1,"g":[[[1,2],[3,4]],[[5,6],[7,8]]],"h":[[[1],[2]],[[3],[4]]],"e":[[1,0],[0,1]]}
EOF
run $MOME -f g -f h -o "$T/bad.mm" "$T/g.mp"
like "$rc:$err" '^1:mmoe-train-expert: --instruction e: token rows \(up to 2\), expected one vector' \
	"an instruction of several rows: exit 1"
mkrecs > "$T/small.mp" <<'EOF'
{"id":"z","split":"test","label":0,"a":[[[1,2,3,4],[1,2,3,4]],[[1,2,3,4],[1,2,3,4]]],"b":[[[1,2,3],[1,2,3]],[[1,2,3],[1,2,3]]],"e":[1,0,0,0,0]}
EOF
run mmoe-train-expert --predict -m "$T/m.mm" "$T/small.mp"
like "$rc:$err" '^1:mmoe-train-expert: [^ ]*small.mp: record 0 \(id "z"\): field "a": a 2×2 grid, the model takes 3×3 grids \(a feature of model [^ ]*m.mm\)$' \
	"--predict on another grid size: exit 1 naming the input, record, field and model"
done_testing
