#!/usr/bin/python3
"""urfunny.py — UR-FUNNY V2 pickles -> JSON Lines on stdout.

    /usr/bin/python3 pipelines/convert/urfunny.py DIR

DIR holds data_folds.pkl ({"train"|"dev"|"test": [id, ...]}), language_sdk.pkl
({id: {"punchline_sentence": str, "context_sentences": [str, ...],
"punchline_intervals": [[start, end], ...], ...}}) and humor_label_sdk.pkl
({id: 0|1}), as published by ROC-HCI/UR-FUNNY.

Records: id (str), split (train, val from "dev", test), label, text (the
punchline), context (the context sentences joined by spaces), image
("frames/<id>.jpg", the frame pipelines/convert/frames.sh takes), frame_time
(seconds: middle of the punchline from its word intervals, else 1.0).

The pickles come from the network, so they are read with an unpickler that
only builds plain containers, numbers, strings and numpy arrays: anything else
is refused.  Errors (one line on stderr, exit 1): an id in two folds, an id of
a fold without a label or without language data, a label other than 0/1, a
punchline that is not a string.  A missing or unreadable file: exit 2.
"""
import json
import os
import pickle
import sys

PROG = "urfunny"
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 carry bytes
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "set"), ("builtins", "tuple"),
    ("__builtin__", "list"), ("__builtin__", "dict"), ("__builtin__", "set"),
}


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError("refusing to build %s.%s" % (module, name))


def die(msg, status=1):
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.exit(status)


def load(d, name):
    path = os.path.join(d, name)
    try:
        with open(path, "rb") as f:
            return Restricted(f, encoding="latin1").load()
    except OSError as e:
        die("%s: %s" % (path, e.strerror), 2)
    except Exception as e:  # a corrupt or hostile pickle
        die("%s: not a readable pickle (%s)" % (path, e))


def text(x):
    """A sentence as stored: a str, or a list of tokens."""
    if isinstance(x, bytes):
        x = x.decode("utf-8", "replace")
    if isinstance(x, str):
        return x.strip()
    if isinstance(x, (list, tuple)) and all(isinstance(t, (str, bytes)) for t in x):
        return " ".join(text(t) for t in x)
    return None


def main():
    if len(sys.argv) != 2:
        die("usage: urfunny.py DIR", 2)
    d = sys.argv[1]
    folds = load(d, "data_folds.pkl")
    lang = load(d, "language_sdk.pkl")
    labels = load(d, "humor_label_sdk.pkl")
    if not isinstance(folds, dict) or not isinstance(lang, dict) or not isinstance(labels, dict):
        die("expected dictionaries in data_folds.pkl, language_sdk.pkl, humor_label_sdk.pkl")
    split_of = {}
    for fold, split in (("train", "train"), ("dev", "val"), ("test", "test")):
        if fold not in folds:
            die("data_folds.pkl: fold \"%s\" is missing" % fold)
        for i in folds[fold]:
            key = str(i)
            if key in split_of:
                die("id \"%s\" is in two folds" % key)
            split_of[key] = (i, split)
    counts = {"train": 0, "val": 0, "test": 0}
    pos = 0
    out = sys.stdout
    for key, (i, split) in split_of.items():
        if i not in labels:
            die("id \"%s\": no label in humor_label_sdk.pkl" % key)
        y = labels[i]
        if y not in (0, 1) or isinstance(y, float) and y != int(y):
            die("id \"%s\": label: expected 0 or 1, got %r" % (key, y))
        if i not in lang:
            die("id \"%s\": no entry in language_sdk.pkl" % key)
        L = lang[i]
        if not isinstance(L, dict):
            die("id \"%s\": language_sdk.pkl: expected a dictionary" % key)
        punch = text(L.get("punchline_sentence"))
        if punch is None:
            die("id \"%s\": field \"punchline_sentence\": expected a string" % key)
        ctx = L.get("context_sentences", [])
        ctx = [text(s) for s in ctx]
        if any(s is None for s in ctx):
            die("id \"%s\": field \"context_sentences\": expected a list of strings" % key)
        t = 1.0
        iv = L.get("punchline_intervals")
        try:
            if iv is not None and len(iv) > 0:
                t = (float(iv[0][0]) + float(iv[-1][1])) / 2.0
        except (TypeError, ValueError, IndexError):
            die("id \"%s\": field \"punchline_intervals\": expected [[start, end], ...]" % key)
        rec = {"id": key, "split": split, "label": int(y), "text": punch,
               "context": " ".join(ctx), "image": "frames/%s.jpg" % key,
               "frame_time": round(t, 3)}
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        counts[split] += 1
        pos += int(y)
    extra = len([k for k in labels if str(k) not in split_of])
    sys.stderr.write("%s: train %d, val %d, test %d records, %d positive; %d labelled ids in no fold left out\n"
                     % (PROG, counts["train"], counts["val"], counts["test"], pos, extra))


if __name__ == "__main__":
    main()
