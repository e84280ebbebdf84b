#!/bin/bash
# mmoe-train-expert --experts: the mixture gate.  A hand-made case whose answer
# is known, the refusal of in-sample expert predictions, bad inputs.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi

# Two experts, A right (0.98 on the label) where x0 > 0 and as sure of the
# wrong class elsewhere, B the reverse: the features reveal the split.  The
# tags A/B that a tag router learns are drawn independently of it.  With
# heldout = false on the first 200 train records (the experts' own data).
"$PY" - > "$T/d.mp" <<'PYEOF'
import msgpack, numpy as np, sys
rng = np.random.default_rng(16)
out = sys.stdout.buffer
for i in range(1600):
    x = rng.normal(size=4).astype('<f4')
    y = int(rng.integers(2))
    right = np.array([0.02, 0.02], dtype='<f4'); right[y] = 0.98
    wrong = right[::-1].copy()
    a, b = (right, wrong) if x[0] > 0 else (wrong, right)
    sp = 'train' if i < 1000 else ('val' if i < 1200 else 'test')
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y, 'heldout': i >= 200,
        'tag': 'AB'[int(rng.integers(2))], 'x': [float(v) for v in x],
        'p_A': [float(v) for v in a], 'p_B': [float(v) for v in b]}))
PYEOF
mixacc() { # ROUTER.mm: test accuracy of the soft mixture of p_A, p_B that it routes
	mmoe-train-expert -q --predict -m "$1" --as p_r "$T/d.mp" \
	| mmoe-fuse -q --router p_r --experts p_A,p_B --mode soft --as p_mix \
	| mmoe-cat --json --where split=test --fields label,p_mix_class \
	| "$PY" -c "import json,sys; r=[json.loads(l) for l in sys.stdin]; print('%.3f' % (sum(x['label']==x['p_mix_class'] for x in r)/len(r)))"
}
ARCH="--feature x --proj 16 --hidden 16 --epochs 30 --lr 0.01 --seed 3"

run mmoe-train-expert $ARCH --experts p_A,p_B -o "$T/gate.mm" "$T/d.mp"
is "$rc" 0 "the gate trains"
like "$err" "800 train, 200 val records \(1600 read, 400 other splits, 200 train not \"heldout\"\)" \
	"it trains on the held-out train records only, and says how many it left"
like "$err" "val_loss [0-9.]+" "it selects its checkpoint by the mixture's loss"
unlike "$err" "val_loss [0-9.]+  val_loss" "and prints it once per epoch (it is the val loss)"
run mmoe-train-expert $ARCH --target tag --classes A,B -o "$T/tag.mm" "$T/d.mp"
is "$rc" 0 "the tag router trains"
g=$(mixacc "$T/gate.mm") t=$(mixacc "$T/tag.mm")
ok "awk 'BEGIN { exit !($g >= 0.98) }'" "the mixture gate's mixture: test accuracy $g >= 0.98"
ok "awk 'BEGIN { exit !($t <= 0.75) }'" "the tag router's mixture: test accuracy $t <= 0.75"
run mmoe-train-expert --info "$T/gate.mm"
like "$out" '"target": *"mixture"' "the gate's model names its target mixture"
like "$(printf '%s' "$out" | tr -d ' \n')" '"classes":\["p_A","p_B"\]' "and its classes are the experts"

run mmoe-train-expert $ARCH --experts p_A,p_B -o "$T/gate2.mm" "$T/d.mp"
ok "cmp -s <(zstd -dcq '$T/gate.mm') <(zstd -dcq '$T/gate2.mm')" "same seed, same gate"

# the gate may start from the tag router when the classes match
run mmoe-train-expert --experts p_A,p_B --classes A,B --init "$T/tag.mm" --epochs 30 --lr 0.01 \
	-o "$T/gate3.mm" "$T/d.mp"
is "$rc" 0 "--init from the tag router (--classes A,B)"
unlike "$err" "starts afresh" "its output layer is kept"
g=$(mixacc "$T/gate3.mm")
ok "awk 'BEGIN { exit !($g >= 0.98) }'" "and reaches $g >= 0.98 too"

# the tag loss mixed in: weight 1 is a tag router, a small one still learns the split
run mmoe-train-expert $ARCH --experts p_A,p_B --classes A,B --tag tag --tag-weight 1 -o "$T/gt1.mm" "$T/d.mp"
is "$rc" 0 "--tag-weight 1 trains"
run mmoe-train-expert $ARCH --experts p_A,p_B --classes A,B --tag tag --tag-weight 0.2 -o "$T/gt02.mm" "$T/d.mp"
is "$rc" 0 "--tag-weight 0.2 trains"
g1=$(mixacc "$T/gt1.mm") g02=$(mixacc "$T/gt02.mm")
ok "awk 'BEGIN { exit !($g1 <= 0.75) }'" "tag weight 1 routes like the tag router: $g1 <= 0.75"
ok "awk 'BEGIN { exit !($g02 >= 0.95) }'" "tag weight 0.2 still routes by the split: $g02 >= 0.95"
run mmoe-train-expert $ARCH --experts p_A,p_B --tag tag --tag-weight 0.5 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:.*--tag-weight needs --classes" "--tag-weight without --classes: usage"
run mmoe-train-expert $ARCH --tag-weight 0.5 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:.*--tag-weight is for the mixture gate" "--tag-weight without --experts: usage"
run mmoe-train-expert $ARCH --experts p_A,p_B --classes A,C --tag tag --tag-weight 0.5 -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^1:mmoe-train-expert: .*\"tag\": tag \"B\" is not one of the gate's classes" \
	"a tag that is not a class: exit 1, record and field named"

# no in-sample predictions: without held-out train records it refuses
run mmoe-train-expert $ARCH --experts p_A,p_B --heldout nosuchflag -o "$T/bad.mm" "$T/d.mp"
is "$rc" 1 "no held-out train records: exit 1"
one_line_error mmoe-train-expert "one line naming the program"
like "$err" "no held-out training records.*\"nosuchflag\" is true.*--exclude-flag nosuchflag.*1000 train records here are not held out" \
	"the error says why and how to hold records out"
ok "! test -e '$T/bad.mm'" "and writes no model"

# bad inputs and usage
run mmoe-train-expert $ARCH --experts p_A,p_A -o "$T/bad.mm" "$T/d.mp"
is "$rc:${err%%:*}" "2:mmoe-train-expert" "an expert given twice: usage"
run mmoe-train-expert $ARCH --experts p_A -o "$T/bad.mm" "$T/d.mp"
is "$rc" 2 "one expert: usage"
run mmoe-train-expert $ARCH --experts p_A,p_B --select acc -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:.*--select loss only" "--select other than loss: usage"
run mmoe-train-expert $ARCH --experts p_A,p_B --loss focal -o "$T/bad.mm" "$T/d.mp"
is "$rc" 2 "--loss focal: usage"
run mmoe-train-expert $ARCH --experts p_A,p_B --classes A,B,C -o "$T/bad.mm" "$T/d.mp"
like "$rc:$err" "^2:.*3 classes for 2 --experts" "--classes of another count: usage"
"$PY" - > "$T/odd.mp" <<'PYEOF'
import msgpack, sys
out = sys.stdout.buffer
for i in range(6):
    r = {'id': 'r%d' % i, 'split': 'train', 'heldout': True, 'label': i % 2, 'x': [i, 1.0],
         'p_A': [0.5, 0.5], 'p_B': [0.3, 0.7]}
    if i == 4: r['p_B'] = [0.3, 1.5]
    out.write(msgpack.packb(r))
PYEOF
run mmoe-train-expert --feature x --experts p_A,p_B -o "$T/bad.mm" "$T/odd.mp"
like "$rc:$err" "^1:mmoe-train-expert: .*r4.*\"p_B\": element 1 is 1.5, not a probability" \
	"an expert's value that is not a probability: exit 1, record and field named"
"$PY" - > "$T/odd2.mp" <<'PYEOF'
import msgpack, sys
out = sys.stdout.buffer
for i in range(6):
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': 'train', 'heldout': True, 'label': i % 3,
        'x': [i, 1.0], 'p_A': [0.5, 0.5], 'p_B': [0.3, 0.7]}))
PYEOF
run mmoe-train-expert --feature x --experts p_A,p_B -o "$T/bad.mm" "$T/odd2.mp"
like "$rc:$err" "^1:mmoe-train-expert: .*r2.*\"label\": class 2, but expert \"p_A\" gives 2 probabilities" \
	"a label beyond the experts' classes: exit 1"

# the EXAMPLES of man/mmoe-train-expert.1 for the gate, run as written
mkdir -p "$T/ex"
"$PY" - > "$T/ex/pred.zst" <<'PYEOF'
import msgpack, numpy as np, sys
rng = np.random.default_rng(7)
out = sys.stdout.buffer
for i in range(300):
    y = int(rng.integers(2))
    r = {'id': 'e%d' % i, 'split': 'train' if i < 200 else ('val' if i < 250 else 'test'),
         'heldout': i % 5 == 0 or i >= 200, 'label': y,
         'v_hog': [float(v) for v in rng.normal(size=3)], 't_hash': [float(v) for v in rng.normal(size=2)]}
    for k in 'RUS':
        q = float(rng.uniform()); r['p_' + k] = [1 - q, q]
    out.write(msgpack.packb(r))
PYEOF
ex=$(awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^mmoe-train-expert --feature v_hog --feature t_hash --experts/ { take = 1 }
	take && /^\.Ed/ { exit } take { gsub(/\\e$/, "\\"); print }' "$MMOE_TOP/man/mmoe-train-expert.1")
like "$ex" "mmoe-fuse --router p_gate" "the gate's example is found in the manual"
run bash -euo pipefail -c "cd '$T/ex' && $ex"
is "$rc" 0 "it runs as written"
ok "mmoe-cat --json --head 1 --fields p_gate,p_mmoe '$T/ex/fused_gate.zst' | grep -q p_mmoe" \
	"and writes the mixture routed by the gate"
done_testing
