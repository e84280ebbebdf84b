#!/bin/bash
# Peer check against scikit-learn on the same features:
#  - our L2 logistic regression (mm_clf, reached through mmoe-unipred) has the
#    test accuracy of sklearn's LogisticRegression(C=1) within 1 point, and
#    nearly the same probabilities (same objective, both solved to the optimum);
#  - mmoe-train-expert's linear architecture (--proj 0 --layers 0) lands near it.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi
if ! have_py sklearn; then
	skip "python3-sklearn missing: logistic regression peer check"
	skip "python3-sklearn missing: multinomial peer check"
	skip "python3-sklearn missing: class weights peer check"
	skip "python3-sklearn missing: linear expert peer check"
	done_testing; exit
fi

gen() { # n d C seed [bias of class 0]
	"$PY" - "$@" <<'PYEOF'
import msgpack, numpy as np, sys
n, d, C, seed = map(int, sys.argv[1:5])
b0 = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
rng = np.random.default_rng(seed)
W = rng.normal(size=(C, d)) * 0.6
scale = np.exp(rng.normal(size=d))  # unequal feature scales: standardisation matters
out = sys.stdout.buffer
for i in range(n):
    x = rng.normal(size=d)
    z = W @ x + rng.gumbel(size=C)
    z[0] += b0
    y = int(np.argmax(z))
    v = (x * scale + 1.0).astype('<f4')
    sp = 'train' if i % 5 < 3 else 'test'
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y,
        'v': {'dtype': 'f32', 'shape': [d // 2], 'data': v[:d // 2].tobytes()},
        't': {'dtype': 'f32', 'shape': [d - d // 2], 'data': v[d // 2:].tobytes()},
        'vt': {'dtype': 'f32', 'shape': [d], 'data': v.tobytes()}}))
PYEOF
}

cat > "$T/peer.py" <<'PYEOF'
import msgpack, numpy as np, sys, warnings
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
warnings.filterwarnings('ignore')
path, field, feat = sys.argv[1:4]
cw = 'balanced' if len(sys.argv) > 4 else None
X = {'train': [], 'test': []}; Y = {'train': [], 'test': []}; P = []
for r in msgpack.Unpacker(open(path, 'rb'), raw=False):
    X[r['split']].append(np.frombuffer(r[feat]['data'], '<f4')); Y[r['split']].append(r['label'])
    if r['split'] == 'test':
        P.append(np.frombuffer(r[field]['data'], '<f4'))
sc = StandardScaler().fit(np.array(X['train']))
clf = LogisticRegression(C=1.0, max_iter=5000, tol=1e-8, class_weight=cw).fit(sc.transform(np.array(X['train'])), Y['train'])
Xt = sc.transform(np.array(X['test'])); yt = np.array(Y['test'])
sk = clf.score(Xt, yt)
P = np.array(P)
ours = float(np.mean(np.argmax(P, 1) == yt))
dp = float(np.max(np.abs(P - clf.predict_proba(Xt))))
print('%.4f %.4f %.5f' % (ours, sk, dp))
PYEOF

for C in 2 3; do
	gen 1000 20 $C $C > "$T/d$C.mp"
	MMOE_ZSTD_LEVEL=0 mmoe-unipred -q -f vt --as p "$T/d$C.mp" > "$T/u$C.mp" 2>"$T/err" || echo "# unipred failed: $(cat "$T/err")"
	read -r ours sk dp < <("$PY" "$T/peer.py" "$T/u$C.mp" p vt)
	echo "# $C classes: test accuracy ours $ours, sklearn $sk; max |p_ours - p_sklearn| = $dp"
	ok "awk 'BEGIN { d = $ours - $sk; exit !(d <= 0.01 && d >= -0.01) }'" \
		"logistic regression, $C classes: test accuracy within 1 point of sklearn ($ours vs $sk)"
	ok "awk 'BEGIN { exit !($dp < 0.01) }'" "logistic regression, $C classes: same probabilities as sklearn (max diff $dp)"
done

# imbalanced classes, weighted as sklearn's class_weight="balanced"
gen 1000 20 2 7 2.0 > "$T/imb.mp"
MMOE_ZSTD_LEVEL=0 mmoe-unipred -q -f vt --class-weights --as p "$T/imb.mp" > "$T/ui.mp" 2>"$T/err" || echo "# unipred failed: $(cat "$T/err")"
read -r ours sk dp < <("$PY" "$T/peer.py" "$T/ui.mp" p vt balanced)
echo "# balanced weights: test accuracy ours $ours, sklearn $sk; max |p_ours - p_sklearn| = $dp"
ok "awk 'BEGIN { d = $ours - $sk; exit !(d <= 0.01 && d >= -0.01) }'" \
	"logistic regression with balanced class weights: accuracy within 1 point of sklearn ($ours vs $sk)"
ok "awk 'BEGIN { exit !($dp < 0.01) }'" "balanced class weights: same probabilities as sklearn (max diff $dp)"

# the expert's linear architecture (softmax regression by AdamW) on both modalities
mmoe-train-expert -q -f v -f t --proj 0 --layers 0 --fusion concat --dropout 0 --epochs 60 --batch 32 \
	--lr 0.01 --wd 0 --select acc -o "$T/lin.mm" "$T/d3.mp"
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --predict -m "$T/lin.mm" --as p "$T/d3.mp" > "$T/l3.mp"
read -r ours sk dp < <("$PY" "$T/peer.py" "$T/l3.mp" p vt)
echo "# linear expert, 3 classes: test accuracy $ours, sklearn $sk"
ok "awk 'BEGIN { d = $ours - $sk; exit !(d <= 0.03 && d >= -0.03) }'" \
	"linear expert: test accuracy within 3 points of sklearn ($ours vs $sk)"
done_testing
