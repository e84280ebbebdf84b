#!/bin/bash
# The EXAMPLES of man/mmoe-unipred.1 run as written (the MUStARD one on the
# shared data when present).
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
MAN=$MMOE_TOP/man/mmoe-unipred.1
# the literal blocks of the EXAMPLES section, one file each: $T/ex1.sh, ...
awk -v dir="$T" '
	/^\.Sh EXAMPLES/ { on = 1; next }
	/^\.Sh / { on = 0 }
	on && /^\.Bd -literal/ { n++; f = dir "/ex" n ".sh"; inblk = 1; next }
	on && /^\.Ed/ { inblk = 0; close(f); next }
	on && inblk { gsub(/\\e/, "\\"); print > f }' "$MAN"
is "$(ls "$T"/ex*.sh | wc -l | tr -d ' ')" 3 "three example blocks in the man page"

cd "$T" || exit 1
"$PY" -c '
import json, random, struct, sys, msgpack
random.seed(1)
out = open("data.zst", "wb")
zs = open("zeroshot.jsonl", "w")
def t(v): return {"dtype": "f32", "shape": [len(v)], "data": struct.pack("<%df" % len(v), *v)}
for i in range(60):
    y = i % 2
    o = {"id": "a%d" % i, "split": "train" if i < 40 else "test", "label": y,
         "v_hog": t([random.gauss(y, 1) for _ in range(4)]), "t_hash": t([random.gauss(-y, 1) for _ in range(3)])}
    out.write(msgpack.packb(o, use_bin_type=True))
    zs.write(json.dumps({"id": o["id"], "logits": [random.gauss(0, 1), random.gauss(0, 1)]}) + "\n")
'
run bash -eo pipefail ex1.sh
is "$rc" 0 "example 1 (train both sides, rus-split) runs"
is "$(mmoe-cat --json tagged.zst | jq -s '[.[] | select(.pred_v_class != null and .pred_t_class != null and .rus != null)] | length')" \
	60 "example 1: every record has both predictions and a tag"

# example 3 starts with "$ head -1 zeroshot.jsonl", then the command and its prompt
grep '^\$ mmoe-unipred' ex3.sh | sed 's/^\$ //' >ex3run.sh
run bash -eo pipefail ex3run.sh
is "$rc" 0 "example 3 (JSON Lines import) runs"
is "$(mmoe-cat --json v.zst | jq -s '[.[] | select(.pred_v_class != null)] | length')" 60 "example 3: every record imported"

M=$SHARED/data/mustard
if [ -r "$M/mustard_text_only_pred.json" ]; then
	"$PY" -c '
import json, sys
for sp in ("train", "test"):
    for k, d in json.load(open(sys.argv[1] + "/mustard_dataset_%s.json" % sp)).items():
        print(json.dumps({"id": k, "split": sp, "label": int(d["sarcasm"])}))' "$M" | mmoe-import -q >mustard.zst
	run env MUSTARD_SRC="$M" bash -eo pipefail ex2.sh
	is "$rc" 0 "example 2 (MUStARD import) runs"
	is "$(mmoe-cat --json t.zst | jq -s '[.[] | select(.pred_t_class != null)] | length')" 681 \
		"example 2: 681 of 690 records with a text prediction"
else
	skip "no MUStARD data"
	skip "no MUStARD data"
fi
done_testing
