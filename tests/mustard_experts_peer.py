#!/usr/bin/env python3
"""The table of `make mustard-experts`, recomputed independently (numpy and
scikit-learn only, no mmoe code) from the MMoE authors' files.

  mustard_experts_peer.py MUSTARD_DIR ROUTER.jsonl BACKBONE...

MUSTARD_DIR holds mustard_raw_data.json (the labels), mustard_dataset_test.json
(the test ids), the zero-shot test predictions mustard_{text,vision}_only_pred_test.json
and experts/<backbone>/mustard_{baseline,R,U,AS}_logits.jsonl.  ROUTER.jsonl:
one {"id", "p_router": [w_R, w_U, w_S]} per test record, the weights of our
router (trained by mmoe; this script cannot retrain it, so soft and hard take
its weights as given; everything else is computed here from the source files).

Prints one line per point estimate: backbone method group metric value, with
group all, R, U, S and metric f1 (class 1), macro_f1, acc.
"""
import json
import sys

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def zero_shot_class(entry):
    lg = entry["logits"]
    return 1 if lg["Yes"] > lg["No"] else 0


def main():
    src, router_path, backbones = sys.argv[1], sys.argv[2], sys.argv[3:]
    raw = json.load(open(src + "/mustard_raw_data.json"))
    ids = sorted(json.load(open(src + "/mustard_dataset_test.json")))
    y = np.array([1 if raw[i]["sarcasm"] else 0 for i in ids])
    zt = json.load(open(src + "/mustard_text_only_pred_test.json"))
    zv = json.load(open(src + "/mustard_vision_only_pred_test.json"))
    a = np.array([zero_shot_class(zv[i]) for i in ids])   # vision
    b = np.array([zero_shot_class(zt[i]) for i in ids])   # text
    # R: both right; U: they differ; S: both wrong
    rus = np.where(a != b, "U", np.where(a == y, "R", "S"))
    router = {}
    for line in open(router_path):
        r = json.loads(line)
        router[r["id"]] = r["p_router"]["data"] if isinstance(r["p_router"], dict) else r["p_router"]
    w = np.array([router[i] for i in ids], dtype=np.float64)

    for bb in backbones:
        p = {}
        for name, f in (("p_base", "baseline"), ("p_R", "R"), ("p_U", "U"), ("p_S", "AS")):
            rows = {}
            for line in open("%s/experts/%s/mustard_%s_logits.jsonl" % (src, bb, f)):
                r = json.loads(line)
                rows[r["image_id"]] = r
            assert all(rows[i]["target"] == yy for i, yy in zip(ids, y)), (bb, f, "target != label")
            p[name] = softmax([rows[i]["logits"] for i in ids])
        E = np.stack([p["p_R"], p["p_U"], p["p_S"]])          # K x n x C
        pred = {k: p[k].argmax(1) for k in ("p_base", "p_R", "p_U", "p_S")}
        pred["p_mean"] = E.mean(0).argmax(1)
        rule = np.where(a != b, 1, 0)                          # index of U, else R
        pred["p_rule"] = E[rule, np.arange(len(ids))].argmax(1)
        pred["p_soft"] = np.einsum("kn,knc->nc", w.T, E).argmax(1)
        pred["p_hard"] = E[w.argmax(1), np.arange(len(ids))].argmax(1)
        oracle = np.array(["RUS".index(t) for t in rus])
        pred["p_oracle"] = E[oracle, np.arange(len(ids))].argmax(1)
        for m, yp in pred.items():
            for g in ("all", "R", "U", "S"):
                s = np.ones(len(ids), bool) if g == "all" else rus == g
                vals = {
                    "f1": f1_score(y[s], yp[s], pos_label=1, zero_division=0),
                    "macro_f1": f1_score(y[s], yp[s], average="macro", zero_division=0),
                    "acc": accuracy_score(y[s], yp[s]),
                }
                for k, v in vals.items():
                    print("%s %s %s %s %.6f" % (bb, m, g, k, v))


main()
