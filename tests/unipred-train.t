#!/bin/bash
# mmoe-unipred training mode: out-of-fold predictions on the training split,
# full-model predictions elsewhere, output fields, determinism, multi-class.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# accuracy of P_class against label over records of split S: acc FILE P S
acc() {
	mmoe-cat --json "$1" | jq -s --arg p "$2" --arg s "$3" \
		'[.[] | select(.split == $s and .label != null)] | (map(select(.[$p + "_class"] == .label)) | length) / length'
}
# P of the records of split S, one line each: probs FILE P S
probs() { mmoe-cat --json "$1" | jq -c --arg p "$2" --arg s "$3" 'select(.split == $s) | [.id, .[$p].data]'; }

# 1. The out-of-fold property.  The only feature is a one-hot of the record's
# own index and the label is a coin flip: a model that saw a record predicts
# its label perfectly, a model that did not can only guess.
"$PY" -c '
import json, random
random.seed(5)
n = 160
for i in range(n):
    x = [0.0] * n; x[i] = 1.0
    print(json.dumps({"id": "o%d" % i, "split": "train" if i < 130 else "test",
                      "label": random.randint(0, 1), "x": x}))' | mkrecs >"$T/oh.mp"
for m in logreg mlp; do
	run mmoe-unipred -f x -m $m -o "$T/oof-$m.zst" "$T/oh.mp"
	is "$rc" 0 "$m: out-of-fold run exits 0"
	like "$err" "130 training records \(5-fold out-of-fold, accuracy 0\.[3-6]" "$m: stderr reports the OOF accuracy"
	a=$(acc "$T/oof-$m.zst" pred_x train)
	ok "awk 'BEGIN{exit !($a > 0.3 && $a < 0.7)}'" "$m: out-of-fold accuracy near chance ($a): no record predicted by a model that saw it"
	mmoe-unipred -q -f x -m $m --in-sample --epochs 300 -o "$T/ins-$m.zst" "$T/oh.mp"
	a=$(acc "$T/ins-$m.zst" pred_x train)
	ok "awk 'BEGIN{exit !($a > 0.97)}'" "$m: in-sample accuracy near 1 ($a) on the same data"
done
# val/test records get the full model: the same as --in-sample's full model (same seed)
mmoe-unipred -q -f x --in-sample -o "$T/ins2.zst" "$T/oh.mp"
is "$(probs "$T/oof-logreg.zst" pred_x test | md5sum)" "$(probs "$T/ins2.zst" pred_x test | md5sum)" \
	"test records: prediction of the model fitted on all training records"
isnt "$(probs "$T/oof-logreg.zst" pred_x train | md5sum)" "$(probs "$T/ins2.zst" pred_x train | md5sum)" \
	"training records: not the full model's predictions"

# 2. A learnable problem: two Gaussian classes, plus val/test and unlabelled records.
"$PY" -c '
import json, random
random.seed(7)
for i in range(240):
    y = random.randint(0, 1)
    x = [random.gauss(1.2 if y else -1.2, 1.0) for _ in range(2)] + [random.gauss(0, 1) for _ in range(4)]
    sp = "train" if i < 150 else "val" if i < 190 else "test"
    o = {"id": "g%d" % i, "split": sp, "label": y, "feat": x, "text": "t%d" % i}
    if i % 50 == 7: del o["label"]
    if i == 3: o["label"] = None
    if i == 5: o["pred_feat_drop"] = True
    print(json.dumps(o))' | mkrecs >"$T/g.mp"
run mmoe-unipred -f feat -s 3 "$T/g.mp"
is "$rc" 0 "gaussian: exit 0"
cp "$T/out" "$T/g1.zst"
a=$(acc "$T/g1.zst" pred_feat train)
ok "awk 'BEGIN{exit !($a > 0.8)}'" "gaussian: out-of-fold accuracy high ($a)"
a=$(acc "$T/g1.zst" pred_feat test)
ok "awk 'BEGIN{exit !($a > 0.8)}'" "gaussian: test accuracy high ($a)"
like "$err" "pred_feat: logreg on feat \[6\], 2 classes, seed 3: 146 training records" \
	"stderr: model, field, dimension, seed, training count (unlabelled train records excluded)"
is "$(mmoe-cat --count "$T/g1.zst")" 240 "every record written"
is "$(mmoe-cat --json "$T/g1.zst" | jq -r '.id' | tr '\n' ' ' | md5sum)" \
	"$(mmoe-cat --json "$T/g.mp" | jq -r '.id' | tr '\n' ' ' | md5sum)" "records in input order"
is "$(mmoe-cat --json "$T/g1.zst" | jq -c 'del(.pred_feat, .pred_feat_class)' | md5sum)" \
	"$(mmoe-cat --json "$T/g.mp" | jq -c 'del(.pred_feat_drop)' | md5sum)" \
	"records otherwise unchanged (a stale _drop flag is removed)"
is "$(mmoe-cat --json "$T/g1.zst" | jq -r 'select(.id == "g7" or .id == "g3") | [.pred_feat.shape[0], .pred_feat_class] | @tsv' | tr '\n' ' ')" \
	"2	0 2	1 " "unlabelled records get predictions too"
is "$(mmoe-cat --json "$T/g1.zst" | jq -s '[.[] | .pred_feat.data | add] | map(. > 0.9999 and . < 1.0001) | all')" \
	"true" "probabilities sum to 1"
is "$(mmoe-cat --json "$T/g1.zst" | jq -s '[.[] | (.pred_feat.data | if .[1] > .[0] then 1 else 0 end) == .pred_feat_class] | all')" \
	"true" "P_class is the argmax"

# 3. Determinism.
mmoe-unipred -q -f feat -s 3 "$T/g.mp" >"$T/g2.zst"
mmoe-unipred -q -f feat -s 4 "$T/g.mp" >"$T/g4.zst"
is "$(mmoe-cat --json "$T/g2.zst" | md5sum)" "$(mmoe-cat --json "$T/g1.zst" | md5sum)" "same seed: identical records"
isnt "$(probs "$T/g4.zst" pred_feat train | md5sum)" "$(probs "$T/g1.zst" pred_feat train | md5sum)" \
	"another seed: other folds, other out-of-fold predictions"
mmoe-unipred -q -f feat -s 3 --threads 3 "$T/g.mp" >"$T/g3.zst"
is "$(mmoe-cat --json "$T/g3.zst" | md5sum)" "$(mmoe-cat --json "$T/g1.zst" | md5sum)" "3 threads: identical records"
mmoe-unipred -q -f feat -s 3 -j 2 "$T/g.mp" >"$T/g5.zst"
is "$(mmoe-cat --json "$T/g5.zst" | md5sum)" "$(mmoe-cat --json "$T/g1.zst" | md5sum)" "2 threads: identical records"
mmoe-unipred -q -f feat -m mlp --epochs 5 -s 9 --as pm "$T/g.mp" >"$T/m1.zst"
mmoe-unipred -q -f feat -m mlp --epochs 5 -s 9 --as pm --threads 2 "$T/g.mp" >"$T/m2.zst"
is "$(mmoe-cat --json "$T/m2.zst" | md5sum)" "$(mmoe-cat --json "$T/m1.zst" | md5sum)" "mlp: same seed, 1 or 2 threads, identical records"
is "$(mmoe-cat --json "$T/m1.zst" | jq -r 'select(.id == "g0") | [has("pm"), has("pm_class"), has("pred_feat")] | @tsv')" \
	"true	true	false" "--as names the output field"

# 4. Three classes, --folds, --classes.
"$PY" -c '
import json, random
random.seed(11)
for i in range(150):
    y = i % 3
    c = [(0, 0), (3, 0), (0, 3)][y]
    x = [random.gauss(c[0], 1), random.gauss(c[1], 1)]
    print(json.dumps({"id": "m%d" % i, "split": "train" if i < 120 else "test", "label": y, "v": x}))' | mkrecs >"$T/mc.mp"
run mmoe-unipred -f v -k 3 "$T/mc.mp"
is "$rc" 0 "3 classes: exit 0"
like "$err" "3 classes, seed 1: 120 training records \(3-fold out-of-fold" "3 classes, 3 folds reported"
cp "$T/out" "$T/mc.zst"
a=$(acc "$T/mc.zst" pred_v train)
ok "awk 'BEGIN{exit !($a > 0.8)}'" "3 classes: out-of-fold accuracy ($a)"
is "$(mmoe-cat --json "$T/mc.zst" | jq -r 'select(.id == "m0") | .pred_v.shape[0]')" 3 "3 classes: tensor [3]"
run mmoe-unipred -f v --classes 4 "$T/mc.mp"
is "$rc" 1 "--classes 4 with a class that has no training record: exit 1"
like "$err" "class 3 has no training record" "names the absent class"
run mmoe-unipred -f v --balance 0.2 "$T/mc.mp"
is "$rc" 1 "--balance with 3 classes: exit 1"
like "$err" "^mmoe-unipred: --balance needs binary predictions, pred_v has 3 classes$" "--balance with 3 classes: says why, before training"
done_testing
