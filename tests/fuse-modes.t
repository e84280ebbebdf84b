#!/bin/bash
# mmoe-fuse: the arithmetic of every mode on hand-made probabilities.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# Fused probabilities, class and weights of each record, rounded to 1e-6.
show() {
	mmoe-cat --json | jq -c --arg f "${1:-p_mmoe}" \
		'[.id, (.[$f].data | map(. * 1e6 | round / 1e6)), .[$f + "_class"], (.[$f + "_w"].data | map(. * 1e6 | round / 1e6))]' |
		tr '\n' ' '
}

cat >"$T/in.jsonl" <<'J'
{"id":"a","split":"test","rt":[0.4,0.3,0.3],"pR":[0.6,0.4],"pU":[0.2,0.8],"pS":[0.3,0.7],"rus":"U"}
{"id":"b","split":"test","rt":[0.1,0.1,0.8],"pR":[0.9,0.1],"pU":[0.5,0.5],"pS":[0.25,0.75],"rus":"R"}
J
mkrecs <"$T/in.jsonl" >"$T/in.mp"

run mmoe-fuse -r rt --experts pR,pU,pS -o "$T/soft.zst" "$T/in.mp"
is "$rc" 0 "soft: exit 0"
like "$err" "2 records fused, mode soft, 3 experts, 2 classes" "summary on stderr"
# a: .4*.6+.3*.2+.3*.3 = .39, .61; b: .1*.9+.1*.5+.8*.25 = .34, .66
is "$(show <"$T/soft.zst")" '["a",[0.39,0.61],1,[0.4,0.3,0.3]] ["b",[0.34,0.66],1,[0.1,0.1,0.8]] ' "soft: weighted mixture of probabilities"
mmoe-fuse -q -r rt --experts pR,pU,pS --mode hard "$T/in.mp" >"$T/hard.zst"
is "$(show <"$T/hard.zst")" '["a",[0.6,0.4],0,[1,0,0]] ["b",[0.25,0.75],1,[0,0,1]] ' "hard: the router's top expert"
mmoe-fuse -q --experts pR,pU,pS --mode oracle "$T/in.mp" >"$T/oracle.zst"
is "$(show <"$T/oracle.zst")" '["a",[0.2,0.8],1,[0,1,0]] ["b",[0.9,0.1],0,[1,0,0]] ' "oracle: the expert of the record's tag (no router needed)"
mmoe-fuse -q --experts pR,pU,pS --mode mean --as p_mean "$T/in.mp" >"$T/mean.zst"
# a: (.6+.2+.3)/3 = .366667; b: (.9+.5+.25)/3 = .55
is "$(show p_mean <"$T/mean.zst")" '["a",[0.366667,0.633333],1,[0.333333,0.333333,0.333333]] ["b",[0.55,0.45],0,[0.333333,0.333333,0.333333]] ' \
	"mean: uniform average, --as names the fields"
is "$(mmoe-cat --json "$T/mean.zst" | jq -c '[.id, .rus, .split, .pR.data[0]]' | tr '\n' ' ')" \
	'["a","U","test",0.6] ["b","R","test",0.9] ' "input fields pass through unchanged"

# Logits: softmax(0, ln 3, ln 6) = (.1, .3, .6).
echo '{"id":"l","lg":[0,1.0986123,1.7917595],"pR":[1,0],"pU":[0,1],"pS":[0.5,0.5]}' | mkrecs >"$T/lg.mp"
mmoe-fuse -q -r lg --router-logits --experts pR,pU,pS "$T/lg.mp" >"$T/lg.zst"
# fused = .1*(1,0) + .3*(0,1) + .6*(.5,.5) = (.4, .6)
is "$(show <"$T/lg.zst")" '["l",[0.4,0.6],1,[0.1,0.3,0.6]] ' "--router-logits applies softmax"

# Two experts, three classes, custom tags; oracle with a fallback.
cat >"$T/mc.jsonl" <<'J'
{"id":"x","w":[0.25,0.75],"e1":[0.7,0.2,0.1],"e2":[0.1,0.3,0.6],"t":"B"}
{"id":"y","w":[0.25,0.75],"e1":[0.7,0.2,0.1],"e2":[0.1,0.3,0.6]}
J
mkrecs <"$T/mc.jsonl" >"$T/mc.mp"
mmoe-fuse -q -r w --experts e1,e2 "$T/mc.mp" >"$T/mc.zst"
is "$(show <"$T/mc.zst")" '["x",[0.25,0.275,0.475],2,[0.25,0.75]] ["y",[0.25,0.275,0.475],2,[0.25,0.75]] ' "3 classes, 2 experts"
run mmoe-fuse -r w --experts e1,e2 --mode oracle -t A,B --rus-field t --oracle-fallback hard -o "$T/of.zst" "$T/mc.mp"
is "$rc" 0 "oracle with fallback: exit 0"
is "$(show <"$T/of.zst")" '["x",[0.1,0.3,0.6],2,[0,1]] ["y",[0.1,0.3,0.6],2,[0,1]] ' "oracle uses the tag; untagged record falls back to hard"
like "$err" "1 untagged routed by hard" "fallback count on stderr"

# Probabilities that do not sum to 1 are renormalised and counted.
echo '{"id":"n","rt":[0.2,0.2],"e1":[0.3,0.3],"e2":[0.25,0.75]}' | mkrecs >"$T/nn.mp"
run mmoe-fuse -r rt --experts e1,e2 -o "$T/nn.zst" "$T/nn.mp"
is "$rc" 0 "unnormalised input: exit 0"
is "$(show <"$T/nn.zst")" '["n",[0.375,0.625],1,[0.5,0.5]] ' "router and expert renormalised before mixing"
like "$err" 'warning: field "e1": 1 records' "expert renormalisation counted"
like "$err" 'warning: field "rt": 1 records' "router renormalisation counted"

# The label-free rule: U where the two unimodal predictions differ, else R.
cat >"$T/rule.jsonl" <<'J'
{"id":"d","ua":[0.9,0.1],"ub":[0.2,0.8],"pR":[0.6,0.4],"pU":[0.2,0.8],"pS":[0.3,0.7]}
{"id":"s","ua":[0.3,0.7],"ua_class":0,"ub":[0.6,0.4],"pR":[0.6,0.4],"pU":[0.2,0.8],"pS":[0.3,0.7]}
{"id":"m","ua":[0.3,0.7],"pR":[0.6,0.4],"pU":[0.2,0.8],"pS":[0.3,0.7]}
J
mkrecs <"$T/rule.jsonl" >"$T/rule.mp"
run mmoe-fuse --experts pR,pU,pS --mode rule --unimodal ua,ub --fallback mean --as p_rule -o "$T/rule.zst" "$T/rule.mp"
is "$rc" 0 "rule: exit 0"
is "$(show p_rule <"$T/rule.zst")" '["d",[0.2,0.8],1,[0,1,0]] ["s",[0.6,0.4],0,[1,0,0]] ["m",[0.366667,0.633333],1,[0.333333,0.333333,0.333333]] ' \
	"rule: differing classes -> U, agreeing (ua_class over argmax) -> R, one missing -> the fallback"
like "$err" "3 records fused, mode rule, 3 experts, 2 classes, 1 to the U expert .*, 1 without both unimodal predictions routed by mean" \
	"rule: counts on stderr"
run mmoe-fuse --experts pR,pU,pS --mode rule --unimodal ua,ub -o "$T/rule2.zst" "$T/rule.mp"
is "$rc" 1 "rule without a fallback: a record without a unimodal prediction is an error"
like "$err" 'record 2 .*"m".*missing field "ub"' "rule without a fallback: names the record and the field"
run mmoe-fuse --experts pR,pU,pS --mode rule --unimodal ua,ub -t A,B,C "$T/rule.mp"
is "$rc" 2 "rule needs experts tagged R and U"

# Expert logits: softmax first.  softmax(0, ln 4) = (.2, .8)
echo '{"id":"g","l1":[0,1.3862944],"l2":[1.3862944,0]}' | mkrecs >"$T/el.mp"
mmoe-fuse -q --experts l1,l2 --logits --mode mean "$T/el.mp" >"$T/el.zst"
is "$(show <"$T/el.zst")" '["g",[0.5,0.5],0,[0.5,0.5]] ' "--logits: expert logits go through a softmax"
run mmoe-fuse --experts l1,l2 --mode mean -o "$T/el2.zst" "$T/el.mp"
like "$err" 'warning: field "l1": 1 records whose probabilities did not sum to 1' "without --logits the same fields are renormalised probabilities"

# --pass-through: records without any expert field are written unchanged.
printf '%s\n' '{"id":"t1","split":"train","label":1}' '{"id":"t2","split":"test","pR":[0.6,0.4],"pU":[0.2,0.8],"pS":[0.3,0.7]}' |
	mkrecs >"$T/pt.mp"
run mmoe-fuse --experts pR,pU,pS --mode mean --pass-through -o "$T/pt.zst" "$T/pt.mp"
is "$rc" 0 "--pass-through: exit 0"
is "$(mmoe-cat --json "$T/pt.zst" | jq -c '[.id, has("p_mmoe"), .p_mmoe_class]' | tr '\n' ' ')" '["t1",false,null] ["t2",true,1] ' \
	"--pass-through: the record without experts is written as it was, the other fused"
like "$err" "1 records fused, .*, 1 records without the experts passed through" "--pass-through: counted"
run mmoe-fuse --experts pR,pU,pS --mode mean -o "$T/pt2.zst" "$T/pt.mp"
is "$rc" 1 "without --pass-through a record without experts is an error"
ok "[ ! -e '$T/pt2.zst' ]" "without --pass-through: no output file"

# The --logits/rule example of the man page, as written.
printf '%s\n' '{"id":"x","zs_vision":[0.9,0.1],"zs_text":[0.2,0.8],"l_R":[0,0],"l_U":[0,1.3862944],"l_S":[1,0]}' \
	'{"id":"y","zs_vision":[0.9,0.1],"zs_text":[0.6,0.4],"l_R":[1.3862944,0],"l_U":[0,1],"l_S":[1,0]}' | mkrecs >"$T/in.zst"
ex=$(sed -n 's/^\.Dl \(mmoe-fuse --logits --mode rule .*\)$/\1/p' "$MMOE_TOP/man/mmoe-fuse.1")
like "$ex" "^mmoe-fuse --logits --mode rule" "mmoe-fuse(1): the --logits example is there"
run sh -c "cd '$T' && $ex"
is "$rc" 0 "mmoe-fuse(1): the --logits example runs"
# x: the unimodal classes differ -> U, softmax(0, ln 4) = (.2, .8); y: agree -> R, (.8, .2)
is "$(show <"$T/out.zst")" '["x",[0.2,0.8],1,[0,1,0]] ["y",[0.8,0.2],0,[1,0,0]] ' "mmoe-fuse(1): the --logits example routes by the rule"

# Same input, same bytes.
mmoe-fuse -q -r rt --experts pR,pU,pS "$T/in.mp" >"$T/soft2.zst"
ok "cmp -s <(mmoe-cat --json '$T/soft.zst') <(mmoe-cat --json '$T/soft2.zst')" "deterministic output"
done_testing
