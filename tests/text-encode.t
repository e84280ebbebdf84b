#!/bin/bash
# mmoe-encode-text: fields, shapes, determinism, threads, bad input.
. "$(dirname "$0")/lib.sh"

jsonl() { printf '%s\n' "$@" | mmoe-import -q; }
jsonl '{"id":"a","text":"Oh GREAT, another rainy day #not 🙄","caption":"a rainy street","split":"train"}' \
      '{"id":"b","text":"What a lovely sunny day at the beach","caption":"a sunny beach","split":"train"}' \
      '{"id":"c","text":"What a lovely sunny afternoon at the beach!","caption":"sun","split":"test"}' \
      '{"id":"d","text":"","caption":"nothing","split":"val"}' > "$T/in.zst"

run mmoe-encode-text --help
is "$rc" 0 "--help exits 0"
like "$out" "2\\^18" "--help shows the bucket default"
run mmoe-encode-text --version
is "$rc" 0 "--version exits 0"

run mmoe-encode-text -q "$T/in.zst" -o "$T/h.zst"
is "$rc" 0 "hash encoder runs"
run mmoe-cat --json --brief "$T/h.zst"
like "$out" '"t_hash":\{"dtype":"f32","shape":\[64\]' "default field t_hash [64]"
unlike "$out" 't_hash_tok' "no token grid without --tokens"

mmoe-encode-text -q --tokens --max-tokens 4 --dim 8 -e hash --as th --field caption "$T/in.zst" \
	| mmoe-cat --json > "$T/tok.json"
is "$(jq -c '.th_tok.shape' "$T/tok.json" | tr '\n' ' ')" "[3,8] [3,8] [1,8] [1,8] " "--tokens: [min(T,max),D] from --field caption"
is "$(jq -c '.th.shape' "$T/tok.json" | head -1)" "[8]" "--as names the pooled field, --dim its size"
mmoe-encode-text -q --tokens --max-tokens 4 "$T/in.zst" | mmoe-cat --json > "$T/tok2.json"
is "$(jq -c '.t_hash_tok.shape' "$T/tok2.json" | tr '\n' ' ')" "[4,64] [4,64] [4,64] [0,64] " "empty text: [0, D] token grid"
is "$(jq -c '[.t_hash.data[] | select(. != 0)] | length' "$T/tok2.json" | tail -1)" "0" "empty text: zero pooled vector"
norm=$(jq '[.t_hash.data[] | .*.] | add' "$T/tok2.json" | head -1)
ok "awk -v n=$norm 'BEGIN{exit !(n>0.9999 && n<1.0001)}'" "pooled vector is L2-normalised ($norm)"
mmoe-encode-text -q --no-l2 "$T/in.zst" | mmoe-cat --json > "$T/nol2.json"
norm=$(jq '[.t_hash.data[] | .*.] | add' "$T/nol2.json" | head -1)
ok "awk -v n=$norm 'BEGIN{exit !(n<0.99)}'" "--no-l2 leaves the mean ($norm)"

# --level: 0 plain msgpack, the default a zstd frame at the fast level -1
mmoe-encode-text -q --level 0 "$T/in.zst" >"$T/plain.msgpack"
like "$(head -c 1 "$T/plain.msgpack" | od -An -tx1 | tr -d ' ')" '^(8[0-9a-f]|de|df)$' "--level 0: plain msgpack"
is "$(head -c 4 "$T/h.zst" | od -An -tx1 | tr -d ' ')" 28b52ffd "default level: a zstd frame"
ok "mmoe-cat --json '$T/plain.msgpack' | cmp -s - <(mmoe-cat --json '$T/h.zst')" "--level 0 and the default: same records"
run mmoe-encode-text --level 23 "$T/in.zst"
is "$rc" 2 "--level 23: exit 2"

# similar texts closer than dissimilar ones (b~c vs a~c)
cos() { jq -s --arg i "$1" --arg j "$2" '(map(select(.id==$i))[0].t_hash.data) as $x | (map(select(.id==$j))[0].t_hash.data) as $y | [range(0; $x|length) | $x[.]*$y[.]] | add' "$T/tok2.json"; }
bc=$(cos b c); ac=$(cos a c)
ok "awk -v p=$bc -v q=$ac 'BEGIN{exit !(p>q)}'" "similar texts closer: cos(b,c)=$bc > cos(a,c)=$ac"

# determinism: same seed same bytes; -j does not change the output; other seed differs
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --tokens --seed 7 "$T/in.zst" > "$T/s7a"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --tokens --seed 7 -j 3 "$T/in.zst" > "$T/s7b"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --tokens --seed 8 "$T/in.zst" > "$T/s8"
ok "cmp -s '$T/s7a' '$T/s7b'" "same seed: identical bytes with -j 1 and -j 3"
ok "! cmp -s '$T/s7a' '$T/s8'" "other seed: other bytes"
# many records across batches with threads
for i in $(seq 1 700); do echo "{\"id\":\"r$i\",\"text\":\"record number $i is $((i % 7)) times sunny\"}"; done | mmoe-import -q > "$T/many.zst"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --bigrams "$T/many.zst" > "$T/m1"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --bigrams -j 2 "$T/many.zst" > "$T/m2"
ok "cmp -s '$T/m1' '$T/m2'" "700 records over several batches: -j 2 identical to -j 1"
is "$(mmoe-cat --count "$T/m1")" "700" "every record written"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --bigrams -j 3 "$T/many.zst" > "$T/m3"
ok "cmp -s '$T/m1' '$T/m3'" "700 records: -j 3 identical to -j 1"
# a bad record deep in the stream: the records before it come out in order,
# the error names it, for any -j
if have_py msgpack; then
	"$PY" -c '
import sys, msgpack
for i in range(700):
    t = b"record %d is sunny" % i if i != 500 else b"bad \xff byte"
    sys.stdout.buffer.write(msgpack.packb({"id": "r%d" % i, "text": t}, use_bin_type=False))' > "$T/bad500.mp"
	for j in 1 2 3; do
		run mmoe-encode-text --print-tokens -j $j "$T/bad500.mp"
		is "$rc/$(printf '%s\n' "$out" | wc -l)" "1/500" "-j $j: invalid UTF-8 in record 500: exit 1 after the 500 records before it"
		like "$err" 'record 500 \(id "r500"\): field "text"' "-j $j: the error names record 500"
		printf '%s\n' "$out" > "$T/bad500.$j"
	done
	ok "cmp -s '$T/bad500.1' '$T/bad500.3'" "the same lines before the error with -j 1 and -j 3"
else
	skip "python3-msgpack missing"
fi
run mmoe-encode-text -e hash -e hash --as second "$T/in.zst" -o "$T/two.zst"
is "$rc" 0 "two encoders in one pass"
is "$(mmoe-cat --json "$T/two.zst" | jq -c 'has("t_hash") and has("second")' | sort -u)" "true" "-e hash -e hash --as second: both fields"
unlike "$err" "^$" "summary on stderr without -q"

# -o on a FIFO writes into it (no temp+rename over it: think -o /dev/null)
mkfifo "$T/fifo"
timeout 20 sh -c 'mmoe-cat --count < "$1"' sh "$T/fifo" > "$T/fifo.count" &  # no hang if the writer fails
run mmoe-encode-text -q "$T/in.zst" -o "$T/fifo"
wait
is "$rc/$(cat "$T/fifo.count")" "0/4" "-o FIFO: records written through it"
ok "[ -p '$T/fifo' ]" "-o FIFO: still a FIFO"

# --print-tokens
run mmoe-encode-text --print-tokens -q "$T/in.zst"
is "$(printf '%s\n' "$out" | head -1)" "$(printf 'a\toh great another rainy day #not 🙄')" "--print-tokens"

# bad input
jsonl '{"id":"x","text":"fine"}' '{"id":"y","txt":"no text"}' > "$T/miss.zst"
run mmoe-encode-text "$T/miss.zst" -o "$T/o.zst"
is "$rc" 1 "missing field: exit 1"
like "$err" 'record 1 \(id "y"\): field "text": missing' "missing field names record and field"
one_line_error mmoe-encode-text "one-line error"
ok "[ ! -e '$T/o.zst' ]" "no output file after an error"
jsonl '{"id":"z","text":["not","a","string"]}' > "$T/type.zst"
run mmoe-encode-text "$T/type.zst"
is "$rc" 1 "wrong type: exit 1"
like "$err" 'record 0 \(id "z"\): field "text": expected a string, got an array' "wrong type named"
/usr/bin/python3 - "$T/bad.msgpack" <<'PY' 2>/dev/null || printf '\x81\xa4text\xa5a\xffbcd' > "$T/bad.msgpack"
import sys
open(sys.argv[1], "wb").write(b"\x82\xa2id\xa1q\xa4text\xa5a\xffbcd")
PY
run mmoe-encode-text "$T/bad.msgpack"
is "$rc" 1 "invalid UTF-8: exit 1"
like "$err" 'record 0 .*field "text": invalid UTF-8 at byte 1' "invalid UTF-8 names record, field and byte"
run mmoe-encode-text --replace-invalid -q "$T/bad.msgpack" -o "$T/rep.zst"
is "$rc" 0 "--replace-invalid accepts it"
run mmoe-encode-text -e bert "$T/in.zst"
is "$rc" 2 "unknown encoder: usage error"
run mmoe-encode-text --dim 0 "$T/in.zst"
is "$rc" 2 "--dim 0: usage error"
run mmoe-encode-text --minn 4 --maxn 3 "$T/in.zst"
is "$rc" 2 "--minn > --maxn: usage error"
run mmoe-encode-text -e glove --table "$T/none.mmg" "$T/in.zst"
is "$rc" 2 "missing table: exit 2"
like "$err" "none.mmg" "missing table named"
run mmoe-encode-text "$T/nonexistent.zst"
is "$rc" 2 "missing input: exit 2"
run mmoe-encode-text -e hash --as a -e hash --as a "$T/in.zst"
is "$rc" 2 "two encoders on one field: usage error"
done_testing
