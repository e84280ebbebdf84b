#!/bin/bash
# mmoe-cat --shard K/N, --seq and --merge: the split is FNV-1a 64 of the id
# modulo N (checked against a Python reference), the shards are disjoint and
# cover the input, and shards numbered by --seq merge back into the input's
# records in the input's order; the sharding example of man/mmoe-cat.1 runs.
. "$(dirname "$0")/lib.sh"
export MMOE_ZSTD_LEVEL=3

mmoe-synth --quiet --count 200 --seed 3 --size 16 --output "$T/d.zst"
ids() { mmoe-cat --json --fields id "$@" | jq -r .id; }
mmoe-cat --level 0 "$T/d.zst" > "$T/d.mp"

# ---- the split --------------------------------------------------------------------
for k in 0 1 2; do
	run mmoe-cat --shard $k/3 --output "$T/s$k.zst" "$T/d.zst"
	is "$rc:$err" "0:" "--shard $k/3 runs"
done
is "$(ids "$T"/s0.zst "$T"/s1.zst "$T"/s2.zst | sort | md5sum)" "$(ids "$T/d.zst" | sort | md5sum)" \
	"the 3 shards together hold every record once"
is "$(ids "$T"/s0.zst "$T"/s1.zst "$T"/s2.zst | sort | uniq -d | wc -l | tr -d ' ')" 0 "the shards are disjoint"
for k in 0 1 2; do n[$k]=$(mmoe-cat --count "$T/s$k.zst"); done
ok "[ ${n[0]} -gt 40 ] && [ ${n[1]} -gt 40 ] && [ ${n[2]} -gt 40 ]" "200 records spread over 3 shards (${n[*]})"
is "$(mmoe-cat --shard 1/3 --count "$T/d.zst")" "${n[1]}" "--count counts the kept records"
is "$(mmoe-cat --shard 1/3 --head 5 --count "$T/d.zst")" 5 "--head counts kept records"
is "$(ids "$T/s1.zst")" "$(ids "$T/d.zst" | grep -Fx -f <(ids "$T/s1.zst"))" "a shard keeps the input order"
# the documented hash, in a few lines of another language
cat > "$T/fnv.py" <<'EOF'
import sys
for line in sys.stdin:
    h = 0xcbf29ce484222325
    for b in line.rstrip("\n").encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    print(line.rstrip("\n"), h % int(sys.argv[1]))
EOF
want=$(ids "$T/d.zst" | "$PY" "$T/fnv.py" 3 | sort)
got=$(for k in 0 1 2; do ids "$T/s$k.zst" | sed "s/\$/ $k/"; done | sort)
is "$got" "$want" "shard = FNV-1a 64 of the id bytes mod N (Python reference)"
# non-ASCII ids hash their UTF-8 bytes
printf '%s\n' '{"id":"é"}' '{"id":"日本"}' '{"id":"a b"}' | mkrecs > "$T/u.zst"
want=$(printf '%s\n' é 日本 'a b' | "$PY" "$T/fnv.py" 5 | sort)
got=$(for k in 0 1 2 3 4; do ids --shard $k/5 "$T/u.zst" | sed "s/\$/ $k/"; done | sort)
is "$got" "$want" "UTF-8 and empty ids: the bytes as stored"

# ---- --seq and --merge --------------------------------------------------------------
for k in 0 1 2; do mmoe-cat --shard $k/3 --seq --output "$T/q$k.zst" "$T/d.zst"; done
is "$(mmoe-cat --json --fields id,_seq --head 2 "$T/q1.zst" | jq -r ._seq | paste -sd' ')" \
	"$(ids "$T/d.zst" | "$PY" "$T/fnv.py" 3 | awk '$2 == 1 { print NR - 1 }' | head -n 2 | paste -sd' ')" \
	"--seq: _seq is the place in the input, counted before the selection"
run mmoe-cat --merge --level 0 "$T/q2.zst" "$T/q0.zst" "$T/q1.zst"
is "$rc:$err" "0:" "--merge of the three shards"
ok "cmp -s '$T/out' '$T/d.mp'" "merged shards are the input, byte for byte (decompressed), in any argument order"
run mmoe-cat --merge --level 0 "$T/q0.zst" "$T/q1.zst"
is "$(mmoe-cat --count "$T/out")" $((n[0] + n[1])) "--merge of two of three shards: their records"
# numbering across several inputs
mmoe-cat --head 10 --output "$T/h1.zst" "$T/d.zst"
run mmoe-cat --seq --json --fields _seq "$T/h1.zst" "$T/h1.zst"
is "$(printf '%s\n' "$out" | jq -r ._seq | sed -n '1p;11p;20p' | paste -sd' ')" "0 10 19" "--seq counts over all inputs"

# ---- --shards N: every shard in one pass ------------------------------------------------
run mmoe-cat --shards 3 --seq --output "$T/p-{}.zst" "$T/d.zst"
is "$rc:$err" "0:" "--shards 3 --seq writes the 3 shards in one pass"
for k in 0 1 2; do
	ok "mmoe-cat --level 0 '$T/p-$k.zst' | cmp -s - <(mmoe-cat --level 0 '$T/q$k.zst')" \
		"--shards: shard $k is --shard $k/3 --seq, byte for byte (decompressed)"
done
run mmoe-cat --merge --level 0 "$T"/p-*.zst
ok "cmp -s '$T/out' '$T/d.mp'" "and they merge back into the input"
mkdir "$T/sh"
printf '%s\n' '{"id":"a"}' '{"name":"b"}' | mkrecs > "$T/noid.zst"
run mmoe-cat --shards 2 --output "$T/sh/x-{}.zst" "$T/noid.zst"
is "$rc" 1 "--shards on a record without an id: exit 1"
like "$err" 'noid.zst: .*record 1.*"id"' "names the input, the record and the field"
is "$(ls -A "$T/sh")" "" "and leaves no file, not even a temporary"
for a in "--shards 2 --output $T/sh/x.zst" "--shards 0 --output $T/sh/x-{}.zst" "--shards 1025 --output $T/sh/x-{}.zst" \
	"--shards 2 --json --output $T/sh/x-{}.zst" "--shards 2 --shard 0/2 --output $T/sh/x-{}.zst"; do
	# shellcheck disable=SC2086
	run mmoe-cat $a "$T/d.zst"
	is "$rc" 2 "usage error: ${a//$T\/sh\//}"
done
is "$(ls -A "$T/sh")" "" "usage errors write nothing"

# ---- errors ------------------------------------------------------------------------
for a in 3/3 1/0 x/2 1 /2 2/ -1/2; do
	run mmoe-cat --shard "$a" "$T/d.zst"
	is "$rc" 2 "--shard $a is a usage error"
done
like "$err" "option --shard" "the message names the option"
run mmoe-cat --seq --merge "$T/q0.zst"
is "$rc" 2 "--seq with --merge is a usage error"
run mmoe-cat --shard 0/2 "$T/noid.zst"
is "$rc" 1 "a record without an id: exit 1"
one_line_error mmoe-cat "one line"
like "$err" 'noid.zst: .*record 1.*"id"' "names the input, the record and the field"
run mmoe-cat --merge "$T/d.zst"
is "$rc" 1 "--merge of a stream without _seq: exit 1"
like "$err" 'd.zst: .*record 0 \(id "[^"]*"\).*_seq' "names the input, record and field"
run mmoe-cat --merge "$T/q0.zst" "$T/q0.zst"
is "$rc" 1 "--merge of the same shard twice: exit 1"
like "$err" "not disjoint" "says the inputs overlap"
printf '%s\n' '{"id":"a","_seq":5}' '{"id":"b","_seq":3}' | mkrecs > "$T/renum.zst"
run mmoe-cat --merge "$T/renum.zst"
is "$rc" 1 "--merge where _seq does not grow: exit 1"
like "$err" 'renum.zst: .*record 1 .*"_seq".*above the previous' "names the record that breaks the order"
run mmoe-cat --seq "$T/q0.zst"
is "$rc" 1 "--seq on a numbered stream: exit 1"
like "$err" '"_seq".*already' "says it is numbered already"

# ---- the sharding examples of man/mmoe-cat.1 ------------------------------------------
mkdir "$T/ex"
cp "$T/d.zst" "$T/ex/data.zst"
cmd=$(sed -n 's/^\.Dl \(mmoe-cat --shards .*\)$/\1/p' "$MMOE_TOP/man/mmoe-cat.1")
like "$cmd" "^mmoe-cat --shards 4 --seq --output part-\{\}.zst data.zst$" "the --shards example is found"
run bash -c "cd '$T/ex' && $cmd"
is "$rc:$(cd "$T/ex" && ls part-*.zst | paste -sd' ')" "0:part-0.zst part-1.zst part-2.zst part-3.zst" \
	"it writes 4 shards"
ok "mmoe-cat --merge --level 0 '$T'/ex/part-*.zst | cmp -s - '$T/d.mp'" "which merge back into the input"

cp "$T/d.zst" "$T/data.zst"
sed -n '/^for k in 0 1; do$/,/^\.Ed$/p' "$MMOE_TOP/man/mmoe-cat.1" | sed '$d' > "$T/example.sh"
is "$(grep -c . "$T/example.sh")" 4 "the example is found in the manual"
run bash -eu -o pipefail -c "cd '$T' && . ./example.sh"
is "$rc" 0 "the example runs"
mmoe-encode-text --quiet --encoder hash < "$T/data.zst" | mmoe-cat --level 0 > "$T/whole.mp"
ok "mmoe-cat --level 0 '$T/enc.zst' | cmp -s - '$T/whole.mp'" "and gives the records of the stage run on the whole stream"

done_testing
