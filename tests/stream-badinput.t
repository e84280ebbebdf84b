#!/bin/bash
# Broken, hostile and empty record streams given to mmoe-cat (and mmoe-import):
# each is one line on stderr starting with the program name, naming the
# record and field where there is one, and the documented exit status
# (1 bad data, 2 usage/I/O); never a crash, a hang or silent success.
. "$(dirname "$0")/lib.sh"
export MMOE_ZSTD_LEVEL=3

# A small valid stream of 2000 records, compressed and plain.
seq 0 1999 | awk '{printf "{\"id\":\"r%d\",\"label\":%d,\"v\":[%d,1.5,2.5]}\n", $1, $1 % 2, $1}' > "$T/in.jsonl"
mmoe-import -q -T v -o "$T/good.zst" "$T/in.jsonl"
mmoe-import -q -T v --level 0 -o "$T/good.mp" "$T/in.jsonl"
size=$(stat -c %s "$T/good.zst")
psize=$(stat -c %s "$T/good.mp")

# expect_err DESC EXIT REGEX CMD...: exit status, one line, program name, message.
# The program is the command, or mmoe-cat when the command is a shell.
expect_err() {
	local desc=$1 want=$2 re=$3 prog; shift 3
	case $1 in sh|bash) prog=mmoe-cat ;; *) prog=$1 ;; esac
	run "$@"
	is "$rc" "$want" "$desc: exit $want"
	one_line_error "$prog" "$desc: one line starting with '$prog: '"
	like "$err" "$re" "$desc: message"
}

run mmoe-cat --count "$T/good.zst"
is "$out" 2000 "the valid stream has 2000 records"

# ---- truncated and corrupt streams --------------------------------------------
head -c $((size / 2)) "$T/good.zst" > "$T/half.zst"
expect_err "truncated zstd frame" 1 "half.zst: record [0-9]+: truncated input" mmoe-cat "$T/half.zst"
head -c $((size - 2)) "$T/good.zst" > "$T/short.zst"
expect_err "zstd frame missing its checksum" 1 "truncated input" mmoe-cat --count "$T/short.zst"
head -c $((psize - 5)) "$T/good.mp" > "$T/cut.mp"
expect_err "record cut in half" 1 "cut.mp: record 1999: truncated input: the stream ends inside a record" \
	mmoe-cat --count "$T/cut.mp"
cp "$T/good.zst" "$T/flip.zst"
printf '\x55' | dd of="$T/flip.zst" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_err "one flipped byte" 1 "flip.zst: record [0-9]+: corrupt" mmoe-cat --count "$T/flip.zst"
cp "$T/good.zst" "$T/flip2.zst"
printf '\x00' | dd of="$T/flip2.zst" bs=1 seek=$((size - 1)) conv=notrunc 2>/dev/null
expect_err "flipped checksum byte" 1 "corrupt" mmoe-cat --count "$T/flip2.zst"
perl -e 'srand(7); print map { chr(int(rand(256))) } 1 .. 4096' > "$T/random.bin"
expect_err "random bytes" 1 "random.bin: record 0: " mmoe-cat --count "$T/random.bin"
expect_err "garbage on stdin" 1 "^mmoe-cat: <stdin>: record 0: expected a map, got an integer" \
	sh -c 'echo "hello, world" | mmoe-cat --count'
# a valid stream followed by garbage is an error too, not a silent end
{ cat "$T/good.zst"; printf 'GARBAGE\x01'; } > "$T/tail.zst"
expect_err "garbage after a valid stream" 1 "record 2000" mmoe-cat --count "$T/tail.zst"

# ---- wrong types, missing id (mmoe-cat --check enforces the conventions) ----------
printf '\x82\xa2id\x05\xa1x\x01' > "$T/intid.mp"
expect_err "integer id" 1 'record 0 \(id is an integer, not a string\): field "id": expected a string, got an integer' \
	mmoe-cat --check "$T/intid.mp"
printf '{"id":"a"}\n{"id":"b","label":"cat"}\n' | mmoe-import -q > "$T/strlabel.zst"
expect_err "string label" 1 'strlabel.zst: record 1 \(id "b"\): field "label": expected an integer, got a string' \
	mmoe-cat --check "$T/strlabel.zst"
printf '{"id":"a","split":"dev"}\n' | mmoe-import -q > "$T/split.zst"
expect_err "unknown split" 1 'record 0 \(id "a"\): field "split": expected "train", "val" or "test", got "dev"' \
	mmoe-cat --check "$T/split.zst"
printf '\x81\xa1x\x01' > "$T/noid.mp"
expect_err "missing id" 1 'noid.mp: record 0 \(no id\): missing field "id"' mmoe-cat --check "$T/noid.mp"
printf '\x81\x01\x02' > "$T/intkey.mp"
expect_err "integer map key" 1 'record 0: key 0 is an integer, expected a string' mmoe-cat "$T/intkey.mp"
printf '\x92\x01\x02' > "$T/array.mp"
expect_err "a record that is an array" 1 'record 0: expected a map, got an array' \
	sh -c "mmoe-cat < '$T/array.mp'"
# without --check, a stream with odd records passes through untouched
run mmoe-cat --count "$T/noid.mp"
is "$rc:$out" "0:1" "without --check a record without id passes"

# ---- tensors -----------------------------------------------------------------------
# {"id":"t","x":{"dtype":"f32","shape":[3],"data":<8 bytes>}}
tensor() { # shape-byte data-len bytes...
	printf '\x82\xa2id\xa1t\xa1x\x83\xa5dtype\xa3f32\xa5shape\x91'"$1"'\xa4data\xc4'"$2$3"
}
tensor '\x03' '\x08' '\0\0\x80\x3f\0\0\0\x40' > "$T/short.mp"
expect_err "tensor byte length mismatch (--json)" 1 \
	'short.mp: record 0 \(id "t"\): field "x": tensor data has 8 bytes, but shape needs 3 values of f32 \(12 bytes\)' \
	mmoe-cat --json "$T/short.mp"
expect_err "tensor byte length mismatch (--check)" 1 'field "x": tensor data has 8 bytes' \
	mmoe-cat --check "$T/short.mp"
tensor '\x02' '\x08' '\0\0\x80\x3f\0\0\xc0\x7f' > "$T/nan.mp"
expect_err "NaN where finite values are needed" 1 'nan.mp: record 0 \(id "t"\): field "x": element 1 is NaN' \
	mmoe-cat --check "$T/nan.mp"
run mmoe-cat --json "$T/nan.mp"
is "$rc:$out" '0:{"id":"t","x":{"dtype":"f32","shape":[2],"data":[1.0,"NaN"]}}' \
	"--json shows NaN as a string, without --check it is not an error"
printf '{"id":"a","x":{"dtype":"f32","shape":[2],"data":[1,"Infinity"]}}\n' | mmoe-import -q > "$T/inf.zst"
expect_err "infinity in an imported tensor" 1 'field "x": element 1 is infinite' mmoe-cat --check "$T/inf.zst"
printf '\x82\xa2id\xa1t\xa1y\xcb\x7f\xf8\0\0\0\0\0\0' > "$T/nanfloat.mp"
expect_err "NaN float field" 1 'record 0 \(id "t"\): field "y": expected a finite number' \
	mmoe-cat --check "$T/nanfloat.mp"

# ---- absurd lengths: must not allocate gigabytes ---------------------------------------
# A bin header claiming 4 GB is refused from its header, before its payload is
# read (the default record limit is 1 GiB; with a smaller MMOE_MAX_RECORD, the
# same).  Run under a 1 GB address-space limit
# (not in sanitizer builds, which reserve terabytes of shadow memory).
case $MMOE_BIN in */san/*) lim=unlimited ;; *) lim=1000000 ;; esac
printf '\x81\xa1x\xc6\xff\xff\xff\xf0' > "$T/hdr"
{ cat "$T/hdr"; head -c 100 /dev/zero; } > "$T/absurd.mp"
expect_err "bin claiming 4 GB in a short file" 1 "absurd.mp: record 0: binary data of 4294967280 bytes makes the record larger than the limit of 1073741824 bytes" \
	bash -c "ulimit -v $lim; exec mmoe-cat --count '$T/absurd.mp'"
expect_err "bin claiming 4 GB, 64 MB of data, limit 1 MB" 1 "record larger than the limit of 1000000 bytes" \
	bash -c "ulimit -v $lim; { cat '$T/hdr'; head -c 64000000 /dev/zero; } | MMOE_MAX_RECORD=1000000 mmoe-cat --count"
expect_err "bin claiming 4 GB, compressed" 1 "record larger than the limit" \
	bash -c "ulimit -v $lim; { cat '$T/hdr'; head -c 64000000 /dev/zero; } | zstd -q -c | MMOE_MAX_RECORD=1000000 mmoe-cat --count"
printf '\x81\xa1x\xdd\xff\xff\xff\xff' > "$T/arr.mp"
expect_err "array claiming 4G elements" 1 "record 0: " bash -c "ulimit -v $lim; exec mmoe-cat --count '$T/arr.mp'"
printf '\x81\xa1x\xdf\x0f\xff\xff\xff' > "$T/map.mp"
expect_err "map claiming 268M pairs" 1 "record 0: " bash -c "ulimit -v $lim; exec mmoe-cat --count '$T/map.mp'"
tensor '\xcf\0\0\x01\0\0\0\0\0' '\x08' '\0\0\x80\x3f\0\0\0\x40' > "$T/hugeshape.mp"
expect_err "tensor shape of 2^40 values" 1 'field "x": tensor (shape\[0\] = 1099511627776 is absurd|data has 8 bytes, but shape needs 1099511627776 values)' \
	bash -c "ulimit -v $lim; exec mmoe-cat --json '$T/hugeshape.mp'"

# ---- empty input: a valid stream of no records ---------------------------------------
run mmoe-cat --count /dev/null
is "$rc:$out:$err" "0:0:" "empty input: 0 records, exit 0, nothing on stderr"
run mmoe-cat --force -o "$T/empty.zst" /dev/null
is "$rc" 0 "empty input passes through"
run mmoe-cat --count "$T/empty.zst"
is "$rc:$out" "0:0" "the output is an empty, valid stream"
run mmoe-import -q -o "$T/empty2.zst" /dev/null
is "$rc:$(mmoe-cat --count "$T/empty2.zst")" "0:0" "mmoe-import of empty input: an empty stream"

# ---- files and stdout ------------------------------------------------------------------
expect_err "missing input file" 2 "nonexistent.zst: No such file or directory" mmoe-cat "$T/nonexistent.zst"
expect_err "an input that is a directory" 2 "mmoe-cat: " mmoe-cat --count "$T"
# a failed run leaves no output file behind, and an old one untouched
echo old > "$T/keep.zst"
run mmoe-cat -o "$T/keep.zst" "$T/good.zst" "$T/half.zst"
is "$rc:$(cat "$T/keep.zst")" "1:old" "a failed run leaves -o FILE untouched"
is "$(ls "$T" | grep -c '\.tmp\.')" 0 "and no temporary file"
run mmoe-cat --check -o "$T/keep.zst" "$T/good.zst" "$T/noid.mp"
is "$rc:$(cat "$T/keep.zst")" "1:old" "a record failing --check leaves -o FILE untouched"
run mmoe-cat --json -o "$T/keep.zst" "$T/good.zst" "$T/short.mp"
is "$rc:$(cat "$T/keep.zst")" "1:old" "a bad tensor with --json -o leaves FILE untouched"
printf '{"id":"a"}\n{"x":1}\n' > "$T/noid.jsonl"
run mmoe-import -o "$T/keep.zst" "$T/noid.jsonl"
is "$rc:$(cat "$T/keep.zst")" "1:old" "mmoe-import failing on line 2 leaves -o FILE untouched"
is "$(ls "$T" | grep -c '\.tmp\.')" 0 "and no temporary file is left by any of them"

# closed stdout: the write error is an error (exit 2), with a message
closed() { # cmd... : run with stdout into 'head -c1', record exit status and stderr
	{ "$@" 2>"$T/cerr"; echo $? > "$T/crc"; } | head -c1 > /dev/null
	rc=$(cat "$T/crc"); err=$(cat "$T/cerr")
}
closed mmoe-cat --level 0 "$T/good.zst"
is "$rc" 2 "records into a closed pipe: exit 2"
one_line_error mmoe-cat "records into a closed pipe: one line"
like "$err" "write error: Broken pipe" "records into a closed pipe: says so"
closed mmoe-cat --json "$T/good.zst"
is "$rc" 2 "JSON into a closed pipe: exit 2"
like "$err" "^mmoe-cat: error writing standard output: Broken pipe$" "JSON into a closed pipe: message"
closed mmoe-import --level 0 -T v "$T/in.jsonl"
is "$rc" 2 "mmoe-import into a closed pipe: exit 2"
one_line_error mmoe-import "mmoe-import into a closed pipe: one line"
run sh -c "mmoe-cat --count '$T/good.zst' >&-"
is "$rc" 2 "--count to a closed stdout: exit 2"
one_line_error mmoe-cat "--count to a closed stdout: one line"
if [ -w /dev/full ]; then
	run sh -c "mmoe-cat --force '$T/good.zst' > /dev/full"
	is "$rc" 2 "full disk (/dev/full): exit 2"
	like "$err" "No space left on device" "full disk: says so"
else
	skip "/dev/full is not available"
	skip "/dev/full is not available"
fi

done_testing
