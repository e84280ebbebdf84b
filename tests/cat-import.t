#!/bin/bash
# mmoe-import (JSON Lines, TSV, CSV) and mmoe-cat (--json, --brief, --fields,
# --head, --count, -o, -l): what they write, checked through each other, jq
# and the examples of their manual pages.
. "$(dirname "$0")/lib.sh"
export MMOE_ZSTD_LEVEL=3

# ---- JSON Lines ------------------------------------------------------------------
cat > "$T/a.jsonl" <<'EOF'
{"id":"a","label":1,"x":0.1,"n":-3,"big":9223372036854775807,"ok":true,"no":null,"s":"h\u00e9 \"q\"\n\u0000","arr":[1,2.5,"x",[]],"obj":{"k":{"z":1}},"emb":[0.5,1.5]}

{"id":7,"whole":2.0,"emb":[[1,2,3],[4,5,6]]}
  {"id":"c","emb":[]}
EOF
run mmoe-import -T emb -o "$T/a.zst" "$T/a.jsonl"
is "$rc:$err" "0:" "JSON Lines import (a blank line skipped, leading blanks fine)"
run mmoe-cat --json "$T/a.zst"
is "$(printf '%s\n' "$out" | sed -n 1p)" \
	'{"id":"a","label":1,"x":0.1,"n":-3,"big":9223372036854775807,"ok":true,"no":null,"s":"hé \"q\"\n\u0000","arr":[1,2.5,"x",[]],"obj":{"k":{"z":1}},"emb":{"dtype":"f32","shape":[2],"data":[0.5,1.5]}}' \
	"every JSON type maps to msgpack and back"
is "$(printf '%s\n' "$out" | sed -n 2p)" \
	'{"id":"7","whole":2.0,"emb":{"dtype":"f32","shape":[2,3],"data":[1.0,2.0,3.0,4.0,5.0,6.0]}}' \
	"integer id becomes a string; 2.0 stays a float; nested arrays give the shape"
is "$(printf '%s\n' "$out" | sed -n 3p)" '{"id":"c","emb":{"dtype":"f32","shape":[0],"data":[]}}' "empty tensor"
# --json output imports back to the same records (tensors, bin, ext, floats)
run sh -c "mmoe-cat --json '$T/a.zst' | mmoe-import | mmoe-cat --json"
is "$out" "$(mmoe-cat --json "$T/a.zst")" "mmoe-cat --json | mmoe-import is lossless"
run sh -c "mmoe-cat --json '$T/a.zst' | mmoe-import -T emb | mmoe-cat --json"
is "$out" "$(mmoe-cat --json "$T/a.zst")" "--tensor on a field that is already a tensor object keeps it"
run sh -c "mmoe-cat --level 0 '$T/a.zst' | mmoe-cat --json"
is "$out" "$(mmoe-cat --json "$T/a.zst")" "pass-through at level 0 keeps every record"

# typed tensors, bin and ext objects from JSON
printf '%s\n' '{"id":"t","i":{"dtype":"i16","shape":[2,2],"data":[[-1,2],[3,-32768]]},"u":{"dtype":"u8","shape":[3],"data":[0,7,255]},"d":{"dtype":"f64","shape":[2],"data":[0.1,"-Infinity"]},"b":{"bin":3,"base64":"AQID"},"e":{"ext":5,"bin":2,"base64":"YWI="}}' > "$T/t.jsonl"
run sh -c "mmoe-import '$T/t.jsonl' | mmoe-cat --json"
is "$out" '{"id":"t","i":{"dtype":"i16","shape":[2,2],"data":[-1,2,3,-32768]},"u":{"dtype":"u8","shape":[3],"data":[0,7,255]},"d":{"dtype":"f64","shape":[2],"data":[0.1,"-Infinity"]},"b":{"bin":3,"base64":"AQID"},"e":{"ext":5,"bin":2,"base64":"YWI="}}' \
	"tensor objects keep their dtype; bin and ext from base64"
run sh -c "mmoe-import '$T/t.jsonl' | mmoe-cat --json --brief"
is "$out" '{"id":"t","i":{"dtype":"i16","shape":[2,2],"min":-32768.0,"max":3.0,"mean":-8191.0},"u":{"dtype":"u8","shape":[3],"min":0.0,"max":255.0,"mean":87.333336},"d":{"dtype":"f64","shape":[2],"min":0.1,"max":0.1,"mean":0.1,"nonfinite":1},"b":{"bin":3},"e":{"ext":5,"bin":2}}' \
	"--brief: tensor summaries, bin lengths"
# python reads the typed tensors too
if have_py msgpack && have_py numpy; then
	cat > "$T/t.py" <<'EOF'
import msgpack, numpy, sys
r = next(msgpack.Unpacker(sys.stdin.buffer, raw=False))
print(numpy.frombuffer(r["i"]["data"], "<i2").reshape(r["i"]["shape"]).tolist(), r["b"], r["e"].code)
EOF
	run sh -c "mmoe-import --level 0 '$T/t.jsonl' | $PY '$T/t.py'"
	is "$out" "[[-1, 2], [3, -32768]] b'\x01\x02\x03' 5" "python reads an i16 tensor, bin and ext written by mmoe-import"
else
	skip "python3-msgpack or python3-numpy is not installed"
fi

# ---- JSON Lines errors: line and field named, exit 1 ----------------------------------------
jerr() { # desc regex jsonl-text [options]
	local desc=$1 re=$2 text=$3; shift 3
	printf '%s\n' "$text" > "$T/e.jsonl"
	run mmoe-import "$@" "$T/e.jsonl"
	is "$rc" 1 "$desc: exit 1"
	one_line_error mmoe-import "$desc: one line"
	like "$err" "$re" "$desc: message"
}
jerr "invalid JSON" 'e.jsonl: line 2: column [0-9]+: ' $'{"id":"a"}\n{"id":"b",x}'
jerr "not an object" 'e.jsonl: line 1: expected a JSON object, got an array' '[1,2]'
jerr "missing id" 'e.jsonl: line 2: field "id": missing' $'{"id":"a"}\n{"x":1}'
jerr "float id" 'line 1: field "id": expected a string or an integer id, got a real number' '{"id":1.5}'
jerr "duplicate key" 'line 1: .*duplicate' '{"id":"a","id":"b"}'
jerr "ragged tensor" 'line 1: field "v": ragged array' '{"id":"a","v":[[1,2],[3]]}' -T v
jerr "non-numeric tensor" 'line 1: field "v": tensor element 1: expected a number, got the string "x"' '{"id":"a","v":[1,"x"]}' -T v
jerr "tensor not an array" 'line 1: field "v": --tensor: expected an array of numbers, got a string' '{"id":"a","v":"1 2"}' -T v
jerr "f32 overflow" 'field "v": tensor element 0: 1e\+39 is out of the range of f32' '{"id":"a","v":[1e39]}' -T v
jerr "tensor object length" 'field "x": tensor data has 3 values, its shape needs 4' \
	'{"id":"a","x":{"dtype":"f32","shape":[2,2],"data":[1,2,3]}}'
jerr "tensor object dtype" 'field "x": tensor dtype "f16" is not one of' '{"id":"a","x":{"dtype":"f16","shape":[1],"data":[1]}}'
jerr "integer tensor range" 'field "x": tensor element 0: 300 is out of the range of u8' \
	'{"id":"a","x":{"dtype":"u8","shape":[1],"data":[300]}}'
jerr "base64 length" 'field "b": base64 data decodes to 3 bytes, "bin" says 4' '{"id":"a","b":{"bin":4,"base64":"AQID"}}'

# ids: --id and --gen-id
run sh -c "printf '{\"name\":\"q\",\"v\":1}\n{\"name\":5}\n' | mmoe-import --id name | mmoe-cat --json"
is "$out" $'{"id":"q","name":"q","v":1}\n{"id":"5","name":5}' "--id FIELD: id from another field, which is kept"
run sh -c "printf '{\"v\":1}\n{\"id\":\"own\"}\n{\"v\":2}\n' | mmoe-import --gen-id=row | mmoe-cat --json"
is "$out" $'{"id":"row0","v":1}\n{"id":"own"}\n{"id":"row2","v":2}' "--gen-id=PREFIX fills in only missing ids"

# ---- CSV and TSV ------------------------------------------------------------------------
printf 'id,text,n,f,code,emb,empty\r\n001,"hello, ""world""\nline 2",12,3.5,007,"1 2 3",\r\nb,,-3,1e5,x,"[[1,2],[3,4]]",\r\n\r\nc,nan,+4,.5,0,1;2,\r\n' > "$T/a.csv"
run sh -c "mmoe-import --format csv -T emb '$T/a.csv' | mmoe-cat --json"
is "$out" '{"id":"001","text":"hello, \"world\"\nline 2","n":12,"f":3.5,"code":"007","emb":{"dtype":"f32","shape":[3],"data":[1.0,2.0,3.0]}}
{"id":"b","n":-3,"f":100000.0,"code":"x","emb":{"dtype":"f32","shape":[2,2],"data":[1.0,2.0,3.0,4.0]}}
{"id":"c","text":"nan","n":4,"f":0.5,"code":0,"emb":{"dtype":"f32","shape":[2],"data":[1.0,2.0]}}' \
	"CSV: quotes, doubled quotes, newlines in cells, CRLF, number detection, tensors, empty cells omitted"
run sh -c "mmoe-import --format csv --strings --empty string '$T/a.csv' | mmoe-cat --json --head 1 --fields n,empty,code"
is "$out" '{"n":"12","code":"007","empty":""}' "--strings keeps cells as strings; --empty string"
run sh -c "mmoe-import --format csv --empty null '$T/a.csv' | mmoe-cat --json --head 1 --fields empty"
is "$out" '{"empty":null}' "--empty null"
printf 'id\ttext\tv\na\tx\\ty\\\\z\\n\t1,2\n' > "$T/a.tsv"
run sh -c "mmoe-import --format tsv -T v '$T/a.tsv' | mmoe-cat --json"
is "$out" '{"id":"a","text":"x\ty\\z\n","v":{"dtype":"f32","shape":[2],"data":[1.0,2.0]}}' "TSV with backslash escapes"
printf 'id,x\na,1\nb,1,2\n' > "$T/bad.csv"
run mmoe-import --format csv "$T/bad.csv"
is "$rc" 1 "CSV row with too many cells: exit 1"
like "$err" '^mmoe-import: .*bad.csv: line 3: expected 2 cells \(as in the header\), got 3$' "... names the line"
printf 'id,x\na,"open\n' > "$T/bad2.csv"
run mmoe-import --format csv "$T/bad2.csv"
like "$rc:$err" '^1:mmoe-import: .*bad2.csv: line 2: cell 2: quoted cell is not closed' "unterminated quote names its line"
printf 'x,y\n1,2\n' > "$T/noid.csv"
run mmoe-import --format csv "$T/noid.csv"
like "$rc:$err" '^1:.*line 1: field "id": header: no "id" column' "CSV without an id column: exit 1"
run sh -c "mmoe-import --format csv --gen-id '$T/noid.csv' | mmoe-cat --json"
is "$out" '{"id":"0","x":1,"y":2}' "... unless --gen-id"
printf 'id,x\n,1\n' > "$T/emptyid.csv"
run mmoe-import --format csv "$T/emptyid.csv"
like "$rc:$err" '^1:.*line 2: field "id": empty id' "empty id cell: exit 1"
printf 'id,x,x\n' > "$T/dup.csv"
run mmoe-import --format csv "$T/dup.csv"
like "$rc:$err" '^1:.*line 1: field "x": header: the column name appears twice' "duplicate column: exit 1"
printf 'id,v\na,1 x 3\n' > "$T/badt.csv"
run mmoe-import --format csv -T v "$T/badt.csv"
like "$rc:$err" '^1:.*line 2: field "v": --tensor: element 1: "x" is not a number' "bad tensor cell names element"

# ---- mmoe-cat options -------------------------------------------------------------------
seq 0 99 | awk '{printf "{\"id\":\"r%d\",\"label\":%d,\"split\":\"train\"}\n", $1, $1 % 2}' | mmoe-import -o "$T/h.zst"
run mmoe-cat --count "$T/h.zst" "$T/h.zst" -
is "$out" 200 "--count over two files (and an empty stdin)"
run mmoe-cat --head 3 --json --fields id "$T/h.zst" "$T/h.zst"
is "$out" $'{"id":"r0"}\n{"id":"r1"}\n{"id":"r2"}' "--head and --fields"
run sh -c "mmoe-cat --head 150 '$T/h.zst' '$T/h.zst' | mmoe-cat --json --fields id | tail -n 1"
is "$out" '{"id":"r49"}' "--head across files"
run mmoe-cat --head 0 --count "$T/h.zst"
is "$out" 0 "--head 0"
run mmoe-cat --level 0 -o "$T/plain.mp" "$T/h.zst"
ok "[ \"\$(head -c 1 '$T/plain.mp' | od -An -tx1 | tr -d ' ')\" = 83 ]" "--level 0 writes plain msgpack (a map of 3 first)"
ok "cmp -s '$T/plain.mp' <(zstd -dc '$T/h.zst')" "--level 0 output is zstd -dc of the input"
run mmoe-cat --level 19 -o "$T/19.zst" "$T/plain.mp"
ok "zstd -t -q '$T/19.zst' && cmp -s '$T/plain.mp' <(zstd -dc '$T/19.zst')" "--level 19 recompresses to the same records"
run env MMOE_ZSTD_LEVEL=0 mmoe-cat -o "$T/env0" "$T/h.zst"
ok "cmp -s '$T/plain.mp' '$T/env0'" "MMOE_ZSTD_LEVEL=0 writes plain msgpack"
run mmoe-cat --json -o "$T/h.json" "$T/h.zst"
is "$rc:$(wc -l < "$T/h.json")" "0:100" "--json -o FILE"
ok "jq -e -s 'length == 100 and (map(.label) | add) == 50' '$T/h.json'" "jq reads the JSON Lines"
run mmoe-cat --brief "$T/h.zst"
is "$rc" 2 "--brief without --json is a usage error"
run mmoe-cat --json --count "$T/h.zst"
is "$rc" 2 "--json with --count is a usage error"
run mmoe-cat --level 23 "$T/h.zst"
is "$rc" 2 "--level 23 is a usage error"
run mmoe-cat --head -1 "$T/h.zst"
is "$rc" 2 "--head -1 is a usage error"
run mmoe-cat --check -o "$T/c.zst" "$T/h.zst"
is "$rc:$(mmoe-cat --count "$T/c.zst")" "0:100" "--check passes good records through"
if [ -e /dev/tty ] && script -qc true /dev/null >/dev/null 2>&1; then
	run script -qec "$MMOE_BIN/mmoe-cat '$T/h.zst'" /dev/null
	like "$rc:$out" "^2:.*refusing to write binary records to a terminal" "records are not written to a terminal"
else
	skip "script(1) is not available to fake a terminal"
fi

# ---- --where: keep records by a field's value ----------------------------------------------
printf '%s\n' '{"id":"a","split":"test","n":3,"b":true,"x":0.5}' '{"id":"b","split":"train","n":-2}' '{"id":"c","split":null}' \
	'{"id":"d","split":"test","n":4}' | mmoe-import -q >"$T/w.zst"
for c in 'split=test|a d' 'split=train|b' 'n=3|a' 'n=-2|b' 'b=true|a' 'b=false|' 'x=0.5|a' 'n=x|' 'split=|' 'nope=1|'; do
	is "$(mmoe-cat --where "${c%%|*}" --json "$T/w.zst" | jq -r .id | tr '\n' ' ' | sed 's/ $//')" "${c#*|}" "--where ${c%%|*}: ${c#*|}"
done
is "$(mmoe-cat --where split=test --where n=4 --json "$T/w.zst" | jq -r .id)" "d" "--where twice: both must hold"
is "$(mmoe-cat --where split=test --count "$T/w.zst")" 2 "--where with --count counts the records kept"
is "$(mmoe-cat --where split=test --head 1 --json "$T/w.zst" | jq -r .id)" "a" "--head counts the records kept"
mmoe-cat --where split=test -o "$T/wt.zst" "$T/w.zst"
is "$(mmoe-cat --json --fields id "$T/wt.zst" | jq -r .id | tr '\n' ' ')" "a d " "--where -o writes the records kept"
# with --shard: in the shard and every condition (the shards of the test records partition them)
n0=$(mmoe-cat --where split=test --shard 0/2 --count "$T/w.zst")
n1=$(mmoe-cat --shard 1/2 --where split=test --count "$T/w.zst")
is "$((n0 + n1))" 2 "--where with --shard 0/2 and 1/2: the test records, split between the two shards"
is "$(mmoe-cat --where split=test --seq --json "$T/w.zst" | jq -c '[.id, ._seq]' | tr '\n' ' ')" '["a",0] ["d",3] ' \
	"--where with --seq: records numbered by their place among all records read"
# the --where examples of the man page, as written
cp "$T/w.zst" "$T/data.zst"
ex1=$(sed -n 's/^\.Dl \(mmoe-cat --where split=train --count .*\)$/\1/p' "$MMOE_TOP/man/mmoe-cat.1")
ex2=$(sed -n 's/^\.Dl \(mmoe-cat --where split=test -o .*\)$/\1/p' "$MMOE_TOP/man/mmoe-cat.1")
is "$(cd "$T" && sh -c "$ex1")" 1 "mmoe-cat(1): the --where --count example counts the training records"
run sh -c "cd '$T' && $ex2"
is "$rc:$(mmoe-cat --count "$T/test.zst")" "0:2" "mmoe-cat(1): the --where -o example keeps the test records"
run mmoe-cat --where split "$T/w.zst"
is "$rc" 2 "--where without '=': usage error"
like "$err" "option --where: expected FIELD=VALUE, got 'split'" "--where without '=': says what it expects"
run mmoe-cat --where =test "$T/w.zst"
is "$rc" 2 "--where without a field name: usage error"

# ---- the examples of man/mmoe-import.1 -------------------------------------------------------
printf '%s\n' '{"id": "a", "label": 1, "emb": [0.5, 1.5]}' '{"id": "b", "label": 0, "emb": [2.0, -1.0]}' > "$T/in.jsonl"
run sh -c "cd '$T' && mmoe-import -T emb in.jsonl | mmoe-cat --json"
want=$(sed -n '/^\$ mmoe-import -T emb in.jsonl | mmoe-cat --json$/,/^\.Ed/p' "$MMOE_TOP/man/mmoe-import.1" | sed '1d;$d')
is "$out" "$want" "the mmoe-import(1) example prints what the manual says"

done_testing
