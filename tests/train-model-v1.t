#!/bin/bash
# Model files of format version 1 (parameters by position, no node list):
# the committed fixture tests/data/model-v1 still predicts what it predicted
# when it was written, and --resave converts it to the current format.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
D=$MMOE_TOP/tests/data/model-v1

# id, class and probabilities (6 decimals) of a --predict stream
preds() {
	mmoe-cat --json "$1" | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["id"], r["p_class"], " ".join("%.6f" % x for x in r["p"]["data"]))'
}
version() { zstd -dcq "$1" | "$PY" -c 'import msgpack, sys; m = msgpack.unpackb(sys.stdin.buffer.read()); print(m["version"], "graph" in m)'; }

is "$(version "$D/model.mm")" "1 False" "the fixture is a version 1 file"
mmoe-train-expert -q --predict --model "$D/model.mm" --as p "$D/data.mp" > "$T/p.mp"
is "$?" 0 "a version 1 model still predicts"
is "$(preds "$T/p.mp")" "$(cat "$D/predictions.txt")" "with the probabilities it gave when it was written"

run mmoe-train-expert --resave "$D/model.mm" --output "$T/v2.mm"
is "$rc" 0 "--resave converts it"
is "$(version "$T/v2.mm")" "2 True" "to version 2, with the node list"
zstd -dcq "$T/v2.mm" | "$PY" -c '
import msgpack, sys
m = msgpack.unpackb(sys.stdin.buffer.read())
print(" ".join(p["name"] for p in m["params"]))
print(" ".join(n["kind"] for n in m["graph"]["nodes"]), m["graph"]["output"])' > "$T/names"
is "$(sed -n 1p "$T/names")" "enc.0.proj.W enc.0.proj.b enc.1.proj.W enc.1.proj.b head.0.linear.W head.0.linear.b head.out.W head.out.b" \
	"parameters get their node names"
is "$(sed -n 2p "$T/names")" "input input linear relu dropout linear relu dropout prod concat linear relu dropout linear head.out" \
	"the node list is the expert's"
mmoe-train-expert -q --predict --model "$T/v2.mm" --as p "$D/data.mp" > "$T/p2.mp"
is "$(preds "$T/p2.mp")" "$(cat "$D/predictions.txt")" "the converted model predicts the same"
run mmoe-train-expert --resave "$T/v2.mm" --output "$T/v2b.mm"
ok "cmp -s <(zstd -dcq '$T/v2.mm') <(zstd -dcq '$T/v2b.mm')" "a second --resave changes nothing"

# --init from the old file matches the parameters by name
run mmoe-train-expert -q --init "$D/model.mm" --epochs 1 --output "$T/i.mm" "$D/data.mp"
is "$rc" 0 "--init accepts a version 1 model"

# a version 2 file whose parameters lack one name, and one with a stray name
zstd -dcq "$T/v2.mm" | "$PY" -c '
import msgpack, sys
m = msgpack.unpackb(sys.stdin.buffer.read())
m["params"] = [p for p in m["params"] if p["name"] != "head.out.b"]
sys.stdout.buffer.write(msgpack.packb(m))' | zstd -q > "$T/miss.mm"
run mmoe-train-expert --info "$T/miss.mm"
is "$rc" 1 "a missing parameter: exit 1"
like "$err" "model .*miss.mm: the parameters do not match the graph: 1 missing \[head.out.b\], 0 unexpected" "names the missing parameter"
zstd -dcq "$T/v2.mm" | "$PY" -c '
import msgpack, sys
m = msgpack.unpackb(sys.stdin.buffer.read())
for n in m["graph"]["nodes"]:
    if n["kind"] == "prod": n["kind"] = "outer"
sys.stdout.buffer.write(msgpack.packb(m))' | zstd -q > "$T/kind.mm"
run mmoe-train-expert --info "$T/kind.mm"
is "$rc" 1 "an unknown layer kind: exit 1"
like "$err" 'node "fuse.prod.0.1": unknown layer kind "outer"' "names the node and the kind"
done_testing
