#!/bin/bash
# mmoe-rus-split: the R/U/S rule on hand-made records (binary and 3 classes),
# pass-through of unlabelled records, drop flags, subset files, counts, errors.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
tags() { mmoe-cat --json "$@" | jq -r '.id + "=" + (.rus // "-")' | tr '\n' ' '; }

cat >"$T/bin.jsonl" <<'J'
{"id":"r1","split":"train","label":1,"pa":[0.2,0.8],"pb":[0.3,0.7]}
{"id":"r0","split":"train","label":0,"pa_class":0,"pb_class":0}
{"id":"u1","split":"train","label":1,"pa_class":1,"pb_class":0}
{"id":"u2","split":"test","label":0,"pa_class":1,"pb_class":0}
{"id":"s1","split":"test","label":1,"pa_class":0,"pb_class":0}
{"id":"s0","split":"test","label":0,"pa":[0.1,0.9],"pb":[0.4,0.6]}
{"id":"cls","split":"test","label":1,"pa":[0.9,0.1],"pa_class":1,"pb_class":1}
{"id":"nolab","split":"test","pa_class":1,"pb_class":1,"rus":"R"}
{"id":"nilab","split":"test","label":null,"pa_class":1,"pb_class":1}
{"id":"nopred","split":"val","label":1,"pa_class":1}
{"id":"drop","split":"train","label":1,"pa_class":1,"pb_class":0,"pb_drop":true}
{"id":"nodrop","split":"train","label":1,"pa_class":0,"pb_class":0,"pa_drop":false}
J
mkrecs <"$T/bin.jsonl" >"$T/bin.mp"
run mmoe-rus-split -a pa -b pb --out-R "$T/R.zst" --out-U "$T/U.zst" --out-S "$T/S.zst" "$T/bin.mp"
is "$rc" 0 "binary: exit 0"
mmoe-rus-split -a pa -b pb <"$T/bin.mp" >"$T/o.zst" 2>/dev/null
is "$(tags "$T/o.zst")" "r1=R r0=R u1=U u2=U s1=S s0=S cls=R nolab=- nilab=- nopred=- drop=U nodrop=S " \
	"binary: every record tagged by the rule (P_class wins over argmax; stale tag removed)"
is "$(tags "$T/R.zst")" "r1=R r0=R cls=R " "R subset file"
is "$(tags "$T/U.zst")" "u1=U u2=U " "U subset file leaves out the dropped record"
is "$(tags "$T/S.zst")" "s1=S s0=S nodrop=S " "S subset file (a false drop flag keeps the record)"
like "$err" "split +R +U +S +no-label +no-pred +dropped +total" "count table header on stderr"
like "$err" "train +2 +2 +1 +0 +0 +1 +5" "train counts"
like "$err" "val +0 +0 +0 +0 +1 +0 +1" "val counts: one record without a prediction"
like "$err" "test +1 +1 +2 +2 +0 +0 +6" "test counts: two unlabelled"
like "$err" "all +3 +3 +3 +2 +1 +1 +12" "total counts"
run mmoe-rus-split -q -a pa -b pb -o "$T/q.zst" "$T/bin.mp"
is "$rc:$err" "0:" "-q silences the table"
is "$(tags "$T/q.zst")" "$(tags "$T/o.zst")" "-o writes the same stream"

# Three classes.
cat >"$T/mc.jsonl" <<'J'
{"id":"a","label":2,"pa_class":0,"pb_class":1}
{"id":"b","label":2,"pa_class":2,"pb_class":0}
{"id":"c","label":2,"pa_class":1,"pb_class":2}
{"id":"d","label":2,"pa":[0.1,0.2,0.7],"pb":[0.0,0.3,0.7]}
{"id":"e","label":0,"pa":[0.1,0.6,0.3],"pb":[0.2,0.5,0.3]}
{"id":"f","label":1,"pa":[0.1,0.2,0.7],"pb":[0.8,0.1,0.1]}
J
mkrecs <"$T/mc.jsonl" | mmoe-rus-split -q -a pa -b pb --as t >"$T/mc.zst"
is "$(mmoe-cat --json "$T/mc.zst" | jq -r '.id + "=" + .t' | tr '\n' ' ')" "a=S b=U c=U d=R e=S f=S " \
	"3 classes: disagreeing and both wrong is S; --as names the field"
like "$(mkrecs <"$T/mc.jsonl" | mmoe-rus-split -a pa -b pb 2>&1 >/dev/null)" "\(none\) +1 +2 +3 +0 +0 +0 +6" \
	"records without a split field count under (none)"

# Custom label field.
echo '{"id":"x","y":1,"label":0,"pa_class":1,"pb_class":1}' | mkrecs | mmoe-rus-split -q -a pa -b pb -l y >"$T/l.zst"
is "$(tags "$T/l.zst")" "x=R " "--label chooses the label field"

# Bad input: one line naming record and field, exit 1; subset files untouched.
echo old >"$T/keep.zst"
echo '{"id":"ok","label":1,"pa_class":1,"pb_class":1}
{"id":"bad","label":"yes","pa_class":1,"pb_class":1}' | mkrecs >"$T/b1.mp"
run mmoe-rus-split -a pa -b pb --out-R "$T/keep.zst" -o "$T/o2.zst" "$T/b1.mp"
is "$rc" 1 "label of the wrong type: exit 1"
one_line_error mmoe-rus-split "one-line error"
like "$err" 'record 1 \(id "bad"\): field "label": expected an integer, got a string' "error names record and field"
is "$(cat "$T/keep.zst")" "old" "subset file untouched after an error"
ok "! ls '$T'/*.tmp.* '$T/o2.zst'" "no temporary or partial output left"

"$PY" -c '
import sys, struct, msgpack
sys.stdout.buffer.write(msgpack.packb({"id":"n","label":1,"pa":{"dtype":"f32","shape":[2],"data":struct.pack("<2f",float("nan"),1)},"pb_class":1}))' >"$T/nan.mp"
run mmoe-rus-split -a pa -b pb "$T/nan.mp" -o "$T/x.zst"
is "$rc" 1 "NaN in a prediction: exit 1"
like "$err" 'record 0 \(id "n"\): field "pa"' "NaN error names record and field"
one_line_error mmoe-rus-split "NaN: one-line error"

echo '{"id":"o","label":1,"pa":[0.5,0.5],"pa_class":2,"pb_class":1}' | mkrecs >"$T/oor.mp"
run mmoe-rus-split -a pa -b pb "$T/oor.mp" -o "$T/x.zst"
is "$rc" 1 "P_class outside the classes of P: exit 1"
like "$err" 'field "pa_class": class 2 outside 0..1' "range error names the field"

echo '{"id":"w","label":1,"pa":"high","pb_class":1}' | mkrecs >"$T/wt.mp"
run mmoe-rus-split -a pa -b pb "$T/wt.mp" -o "$T/x.zst"
is "$rc" 1 "prediction of the wrong type: exit 1"
like "$err" 'record 0 \(id "w"\): field "pa"' "type error names record and field"

echo '{"id":"d","label":1,"pa_class":1,"pb_class":1,"pa_drop":"maybe"}' | mkrecs >"$T/dt.mp"
run mmoe-rus-split -a pa -b pb "$T/dt.mp" -o "$T/x.zst"
is "$rc" 1 "drop flag of the wrong type: exit 1"
like "$err" 'field "pa_drop"' "drop flag error names the field"

run mmoe-rus-split -a pa "$T/bin.mp"
is "$rc" 2 "missing -b: usage error, exit 2"
run mmoe-rus-split -a pa -b pb "$T/nonexistent.mp" -o "$T/x.zst"
is "$rc" 2 "missing input file: exit 2"
one_line_error mmoe-rus-split "missing file: one-line error"
run mmoe-rus-split -a pa -b pb --out-R "$T/same" --out-S "$T/same" "$T/bin.mp"
is "$rc" 2 "two subsets into one file: usage error"
# Held-out records (--heldout, --heldout-fold): a seeded share of the train
# records chosen by id, flagged, left out of the subsets.
"$PY" - >"$T/ho.mp" <<'PYEOF'
import msgpack, sys
out = sys.stdout.buffer
for i in range(6000):
    sp = 'train' if i < 5000 else ('val' if i < 5500 else 'test')
    y = i % 2
    out.write(msgpack.packb({'id': 'h%05d' % i, 'split': sp, 'label': y, 'pa_class': (i // 2) % 2,
        'pb_class': (i // 4) % 2, 'heldout': True, 'x': [float(i % 7), float(i % 3)]}))
PYEOF
hids() { mmoe-cat --json --fields id,split,heldout "$@" | jq -r 'select(.heldout) | .id' | sort; }
run mmoe-rus-split -a pa -b pb --heldout 0.2 --seed 7 --out-R "$T/hR.zst" --out-U "$T/hU.zst" \
	--out-S "$T/hS.zst" -o "$T/h7.zst" "$T/ho.mp"
is "$rc" 0 "--heldout 0.2 --seed 7: exit 0"
like "$err" "split +R +U +S +no-label +no-pred +dropped +held-out +total" "the count table has a held-out column"
nho=$(hids "$T/h7.zst" | wc -l)
ok "awk 'BEGIN { exit !($nho >= 1000 - 113 && $nho <= 1000 + 113) }'" \
	"$nho of 5000 train records held out: 0.2 within 4 standard deviations (113)"
like "$err" "train( +[0-9]+){6} +$nho +5000" "the table counts them"
is "$(mmoe-cat --json --fields split,heldout "$T/h7.zst" | jq -r 'select(.split != "train") | .heldout' | sort -u)" \
	"false" "val and test records are never held out (a stale true flag replaced by false)"
is "$(mmoe-cat --json --fields heldout "$T/h7.zst" | jq -r '.heldout | type' | sort -u)" "boolean" \
	"every record carries the flag"
# the reference: the place of mmoe-rus-split(1), HELD-OUT RECORDS, in Python
"$PY" - "$T/ho.mp" 7 0.0 0.2 >"$T/ref7" <<'PYEOF'
import msgpack, sys
M = (1 << 64) - 1
def place(b, seed):
    h = 0xcbf29ce484222325 ^ seed
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & M
    z = (h + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    z ^= z >> 31
    return (z >> 11) * 2.0 ** -53
seed, lo, hi = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
for r in msgpack.Unpacker(open(sys.argv[1], 'rb'), raw=False):
    if r['split'] == 'train' and lo <= place(r['id'].encode(), seed) < hi:
        print(r['id'])
PYEOF
ok "cmp -s '$T/ref7' <(hids '$T/h7.zst')" "the held-out ids are those of the documented hash (a Python reference)"
ok "test -z \"\$(cat '$T/hR.zst' '$T/hU.zst' '$T/hS.zst' | mmoe-cat --json --fields heldout | jq -r 'select(.heldout)')\"" \
	"no held-out record in the subset files"
nsub=$(cat "$T/hR.zst" "$T/hU.zst" "$T/hS.zst" | mmoe-cat --count)
is "$nsub" "$((6000 - nho))" "the subset files hold every other record"
# same seed, same partition, whatever the order of the records; another seed, another
mmoe-cat --json "$T/ho.mp" | tac | mmoe-import -q --format jsonl >"$T/ho-rev.mp"
mmoe-rus-split -q -a pa -b pb --heldout 0.2 --seed 7 "$T/ho-rev.mp" >"$T/h7r.zst"
ok "cmp -s <(hids '$T/h7.zst') <(hids '$T/h7r.zst')" "same seed: the same records, in reversed input too"
mmoe-rus-split -q -a pa -b pb --heldout 0.2 --seed 8 "$T/ho.mp" >"$T/h8.zst"
common=$(comm -12 <(hids "$T/h7.zst") <(hids "$T/h8.zst") | wc -l)
ok "awk 'BEGIN { exit !($common < 0.35 * $nho) }'" \
	"another seed, another part ($common in common of $nho; independent draws share about a fifth)"
# folds: k runs partition the train records; fold 0 of 5 is --heldout 0.2
for f in 0 1 2; do mmoe-rus-split -q -a pa -b pb --heldout-fold $f/3 --seed 7 "$T/ho.mp" >"$T/f$f.zst"; done
is "$(cat "$T/f0.zst" "$T/f1.zst" "$T/f2.zst" | hids | uniq -d | wc -l):$(cat "$T/f0.zst" "$T/f1.zst" "$T/f2.zst" | hids | wc -l)" \
	"0:5000" "--heldout-fold 0/3, 1/3, 2/3: each train record held out exactly once"
mmoe-rus-split -q -a pa -b pb --heldout-fold 0/5 --seed 7 "$T/ho.mp" >"$T/f05.zst"
ok "cmp -s <(hids '$T/h7.zst') <(hids '$T/f05.zst')" "fold 0/5 is --heldout 0.2"
# the experts' baseline skips them: mmoe-train-expert --exclude-flag heldout
run mmoe-train-expert -f x --epochs 1 --hidden 4 --proj 4 --exclude-flag heldout -o "$T/hb.mm" "$T/h7.zst"
like "$err" "$((5000 - nho)) train, 500 val records \(6000 read, 500 other splits, $nho filtered out\)" \
	"the baseline, with --exclude-flag heldout, trains on the other train records only"
# errors
echo '{"split":"train","label":1,"pa_class":1,"pb_class":1}' | mkrecs >"$T/noid.mp"
run mmoe-rus-split -a pa -b pb --heldout 0.5 -o "$T/x.zst" "$T/noid.mp"
like "$rc:$err" '^1:mmoe-rus-split: .*record 0 \(no id\).*held out by id' "a train record without an id: exit 1, record named"
echo '{"id":3,"split":"val","label":1,"pa_class":1,"pb_class":1}' | mkrecs >"$T/intid.mp"
run mmoe-rus-split -q -a pa -b pb --heldout 0.5 -o "$T/x.zst" "$T/intid.mp"
is "$rc" 0 "a val record needs no id"
for bad in "--heldout 0" "--heldout 1" "--heldout x" "--heldout-fold 3/3" "--heldout-fold 1/1" "--heldout-fold 1/" \
	"--heldout 0.2 --heldout-fold 0/5" "--seed 3" "--heldout-as ho" "--heldout 0.2 --heldout-as rus" \
	"--heldout 0.2 --heldout-as pa"; do
	run mmoe-rus-split -a pa -b pb $bad -o "$T/x.zst" "$T/ho.mp"
	is "$rc:${err%%:*}" "2:mmoe-rus-split" "$bad: usage error"
done

run mmoe-rus-split --help
is "$rc" 0 "--help exits 0"
like "$out" "default: rus" "--help shows defaults"
done_testing
