#!/bin/bash
# mmoe-synth from the command line: usage, errors, determinism on the
# decompressed stream, fields, --image-dir, the other kinds, --pid.
. "$(dirname "$0")/lib.sh"

run mmoe-synth --help
is "$rc" 0 "--help exits 0"
like "$out" "--mix SPEC" "--help lists --mix"
like "$out" "default: 1000" "--help shows the default count"
run mmoe-synth --version
is "$rc" 0 "--version exits 0"

# ---- bad usage: exit 2, one clear message ----
run mmoe-synth --mix R=0.5,Q=0.5
is "$rc" 2 "unknown type in --mix: exit 2"
like "$err" "^mmoe-synth: option --mix: 'Q': unknown type" "message names the bad type"
run mmoe-synth --mix R=-1
is "$rc" 2 "negative weight in --mix: exit 2"
like "$err" "weight '-1' is not a number >= 0" "message names the bad weight"
run mmoe-synth --mix R=0,S=0
is "$rc" 2 "all-zero --mix: exit 2"
run mmoe-synth -n -5
is "$rc" 2 "negative count: exit 2"
like "$err" "^mmoe-synth: option --count" "message names --count"
run mmoe-synth --kind video
is "$rc" 2 "unknown kind: exit 2"
run mmoe-synth --pid
is "$rc" 2 "--pid without --kind bits: exit 2"
run mmoe-synth --split 0.7,0.3
is "$rc" 2 "--split with two fractions: exit 2"
run mmoe-synth --flip 0.9
is "$rc" 2 "--flip above 0.5: exit 2"
run mmoe-synth extra-arg
is "$rc" 2 "a stray argument: exit 2"
run mmoe-synth -n 3 --image-dir /proc/no/such/dir
is "$rc" 2 "an image directory that cannot be made: exit 2"
one_line_error mmoe-synth "one-line error for the image directory"

# ---- determinism on the decompressed records ----
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 40 --seed 5 > "$T/a" &&
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 40 --seed 5 > "$T/b" &&
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 40 --seed 6 > "$T/c"
ok "cmp -s '$T/a' '$T/b'" "same seed: identical records"
ok "! cmp -s '$T/a' '$T/c'" "different seed: different records"
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 300 --seed 5 -j 1 > "$T/j1" &&
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 300 --seed 5 -j 3 > "$T/j3"
ok "cmp -s '$T/j1' '$T/j3'" "-j 3 writes the same bytes as -j 1"
MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 300 --seed 5 -j 2 > "$T/j2"
ok "cmp -s '$T/j1' '$T/j2'" "-j 2 writes the same bytes as -j 1"
mmoe-synth -q -n 40 --seed 5 -o "$T/a.zst"
run mmoe-cat --level 0 "$T/a.zst"
ok "cmp -s '$T/a' '$T/out'" "-o FILE holds the same records (zstd)"

# ---- fields, as mmoe-cat prints them ----
run mmoe-cat --json --brief "$T/a.zst"
is "$(printf '%s\n' "$out" | wc -l)" 40 "40 records"
like "$(printf '%s\n' "$out" | head -1)" '^\{"id":"s000000","split":"(train|val|test)","label":[01],"gen_type":"(R|Uv|Ut|S)","text":"[^"]+","image":\{"bin":[0-9]+\},"scene":"[a-z]+","face":"[a-z]+","marker":(true|false),"text_weather":"[a-z]+","contradiction":(true|false),"label_clean":[01]\}$' "scene record fields"

# ---- summary on stderr ----
run mmoe-synth -n 100 --seed 2 -o "$T/s.zst"
is "$rc" 0 "summary run exits 0"
like "$err" "100 records \(kind scene, seed 2\): R 30, Uv 20, Ut 20, S 30" "summary names seed and mixture"

run mmoe-synth -n 8 --seed 1 -o "$T/s8.zst"
like "$err" "train 6, val 1, test 1" "8 records still reach every split"

# ---- --image-dir: PNG files and relative paths ----
run mmoe-synth -q -n 5 --seed 3 --image-dir "$T/img" -o "$T/p.zst"
is "$rc" 0 "--image-dir exits 0"
is "$(ls "$T/img" | tr '\n' ' ')" "s000000.png s000001.png s000002.png s000003.png s000004.png " "one PNG per record"
ok "head -c 8 '$T/img/s000002.png' | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a'" "files are PNG"
run mmoe-cat --json --fields id,image "$T/p.zst"
like "$out" '"image":"s000004.png"' "image holds the path relative to the directory"
if [ -x "$MMOE_BIN/mmoe-encode-vision" ]; then
	run mmoe-encode-vision -q -e color --no-tokens --image-root "$T/img" "$T/p.zst"
	is "$rc" 0 "encode-vision reads the files under --image-root"
	run mmoe-encode-vision -q -e color --no-tokens "$T/a.zst"
	is "$rc" 0 "encode-vision decodes the inline PNGs"
else
	skip "mmoe-encode-vision not built"
	skip "mmoe-encode-vision not built"
fi

# ---- --size ----
if have_py msgpack && have_py PIL; then
	MMOE_ZSTD_LEVEL=0 mmoe-synth -q -n 3 --size 32 > "$T/s32"
	run "$PY" -c "
import msgpack, io, sys
from PIL import Image
for r in msgpack.Unpacker(open('$T/s32','rb'), raw=False):
    im = Image.open(io.BytesIO(r['image']))
    print(im.size, im.mode)"
	is "$(printf '%s\n' "$out" | sort -u)" "(32, 32) RGB" "--size 32 gives 32x32 RGB PNGs"
else
	skip "python3-msgpack or PIL missing"
fi

# ---- the other kinds ----
run mmoe-synth -q --kind pid --interaction synergy --dim 8 -n 200 -o "$T/pid.zst"
is "$rc" 0 "--kind pid exits 0"
run mmoe-cat --json --brief --head 1 "$T/pid.zst"
like "$out" '"gen_type":"S","interaction":"synergy","x1":\{"dtype":"f32","shape":\[8\]' "pid record: gen_type, interaction, x1 [8]"
run mmoe-synth -q --kind bits --fn xor -n 50 -o "$T/bits.zst"
run mmoe-cat --json "$T/bits.zst"
ok "! printf '%s\n' \"\$out\" | grep -v '\"fn\":\"xor\"' | grep -q ." "bits records carry fn"
run mmoe-synth --kind bits --fn and --flip 0 -n 40000 --pid
is "$rc" 0 "--pid exits 0"
like "$out" "^R=0\.3[01][0-9]{2} U1=0\.00[0-9]{2} U2=0\.00[0-9]{2} S=0\.(49|50)[0-9]{2} I=0\.81[0-9]{2}$" "AND: R 0.311, S 0.5"
run mmoe-synth --kind bits --fn copy --flip 0 -n 1000 --pid
like "$out" "^R=1\.0000 U1=0\.0000 U2=0\.0000 S=0\.0000 I=1\.0000$" "copy: R = 1"

# ---- binary records refuse a terminal only; a closed pipe is an error ----
run bash -c "mmoe-synth -n 2000 | head -c 10 > /dev/null"
is "$rc" 0 "a reader that stops early does not hang the pipeline"
done_testing
