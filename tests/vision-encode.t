#!/usr/bin/env bash
# vision-encode.t — mmoe-encode-vision: golden features for a fixed seed,
# determinism (same seed, any thread count), inline bytes == path, and
# hostile images (corrupt, truncated, huge header, escaping or missing paths).
#
# Regenerate the golden file after an intended change of an encoder:
#   MMOE_REGEN_GOLDEN=1 tests/vision-encode.t
. "$(dirname "$0")/lib.sh"

D=$MMOE_TOP/tests/data/vision
GOLDEN=$D/golden.jsonl
mkdir -p "$T/img/sub"
cp "$D/scene.png" "$D/photo.jpg" "$D/grey16a.png" "$T/img/"
cp "$D/scene.png" "$T/secret.png"
ln -s ../secret.png "$T/img/link.png"

# records from JSON Lines (image fields are paths under $T/img)
records() { # out.zst < jsonl
	mmoe-import -q -o "$1"
}
printf '%s\n' '{"id":"scene","image":"scene.png"}' '{"id":"photo","image":"photo.jpg"}' \
	'{"id":"grey","image":"grey16a.png"}' | records "$T/in.zst"
is "$?" 0 "test records imported"

GARGS=(--size 16 --dim 4 --seed 7 --drop-image --full-decode --image-root "$T/img" -q)

# ---- golden output ----------------------------------------------------------
run mmoe-encode-vision "${GARGS[@]}" -o "$T/g.zst" "$T/in.zst"
is "$rc" 0 "encode the three fixture images"
mmoe-cat --json "$T/g.zst" >"$T/g.jsonl"
if [ -n "${MMOE_REGEN_GOLDEN:-}" ]; then
	cp "$T/g.jsonl" "$GOLDEN"
	echo "# golden file rewritten: $GOLDEN"
fi
# Compare numbers with a tolerance: sgemm kernels differ between CPUs in
# the last bits, so bytes are compared only within one machine (below).
cmp_json() { # a.jsonl b.jsonl
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
def same(x, y, path):
    if isinstance(x, float) or isinstance(y, float):
        if abs(x - y) > 1e-5 * (1 + abs(y)):
            sys.exit("%s: %r != %r" % (path, x, y))
    elif isinstance(x, dict):
        if sorted(x) != sorted(y):
            sys.exit("%s: keys %s != %s" % (path, sorted(x), sorted(y)))
        for k in x:
            same(x[k], y[k], path + "." + k)
    elif isinstance(x, list):
        if len(x) != len(y):
            sys.exit("%s: length %d != %d" % (path, len(x), len(y)))
        for i, (u, v) in enumerate(zip(x, y)):
            same(u, v, "%s[%d]" % (path, i))
    elif x != y:
        sys.exit("%s: %r != %r" % (path, x, y))
if len(a) != len(b):
    sys.exit("%d records != %d" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a, b)):
    same(x, y, "record %d" % i)
EOF
}
if have_py json; then
	run cmp_json "$T/g.jsonl" "$GOLDEN"
	is "$rc" 0 "features match the golden file within 1e-5 $err"
else
	skip "no python3 for the golden comparison"
fi
# without --full-decode the 32x32 JPEG is decoded at scale 4/8 for --size 16
# (tests/unit/image.c bounds the difference); the PNGs are decoded as before
SARGS=(); for a in "${GARGS[@]}"; do [ "$a" = --full-decode ] || SARGS+=("$a"); done
run mmoe-encode-vision "${SARGS[@]}" -o "$T/s.zst" "$T/in.zst"
mmoe-cat --json "$T/s.zst" > "$T/s.jsonl"
is "$(sed -n '1p;3p' "$T/s.jsonl")" "$(sed -n '1p;3p' "$T/g.jsonl")" "a reduced-scale decode leaves PNG records alone"
isnt "$(sed -n 2p "$T/s.jsonl")" "$(sed -n 2p "$T/g.jsonl")" "and decodes the larger JPEG at a reduced scale"
like "$(head -c 400 "$T/g.jsonl")" '"v_pixels":\{"dtype":"f32","shape":\[4\]' "pixels pooled [dim]"
like "$(cat "$T/g.jsonl")" '"v_pixels_tok":\{"dtype":"f32","shape":\[2,2,4\]' "pixels tokens [H, W, D]"
unlike "$(cat "$T/g.jsonl")" '"image"' "--drop-image removes the image"

# ---- defaults: shapes -------------------------------------------------------
run mmoe-encode-vision --image-root "$T/img" "$T/in.zst"
is "$rc" 0 "defaults: all three encoders"
like "$err" '3 images encoded' "summary on stderr"
mmoe-cat --json --brief "$T/out" >"$T/b.jsonl"
like "$(head -1 "$T/b.jsonl")" '"v_hog_tok":\{"dtype":"f32","shape":\[7,7,36\]' "hog tokens [7, 7, 36]"
like "$(head -1 "$T/b.jsonl")" '"v_color_tok":\{"dtype":"f32","shape":\[4,4,72\]' "color tokens [4, 4, 72]"
like "$(head -1 "$T/b.jsonl")" '"v_pixels_tok":\{"dtype":"f32","shape":\[8,8,64\]' "pixels tokens [8, 8, 64]"
like "$(head -1 "$T/b.jsonl")" '"image":' "the image is kept by default"

run mmoe-encode-vision -q -e hog --as h -e color --no-tokens --image-root "$T/img" "$T/in.zst"
mmoe-cat --json --brief "$T/out" >"$T/b.jsonl"
like "$(head -1 "$T/b.jsonl")" '"h":\{"dtype":"f32","shape":\[36\]' "--as names the field"
unlike "$(cat "$T/b.jsonl")" '_tok"|v_pixels|v_hog' "--no-tokens, and only the chosen encoders"

run mmoe-encode-vision -q -e hog --pool mean+max -e color --as c --no-tokens --image-root "$T/img" "$T/in.zst"
mmoe-cat --json --brief "$T/out" >"$T/b.jsonl"
like "$(head -1 "$T/b.jsonl")" '"v_hog":\{"dtype":"f32","shape":\[72\]' "--pool mean+max: [2D]"
run mmoe-encode-vision -q -e color --pool max --no-tokens --image-root "$T/img" "$T/in.zst"
mmoe-cat --json --fields v_color "$T/out" | head -1 >"$T/max.json"
if have_py json; then
	# a solid-colour cell histogram is one-hot, so with max pooling the
	# fixture "scene" (a red and a blue block, and a gradient) has two bins at 1
	is "$("$PY" -c 'import json,sys; print(sum(1 for v in json.load(open(sys.argv[1]))["v_color"]["data"] if v == 1.0))' "$T/max.json")" \
		2 "--pool max: one full bin per solid region"
else
	skip "no python3"
fi
run mmoe-encode-vision --pool median "$T/in.zst"
is "$rc" 2 "--pool median: usage error"

# ---- determinism ------------------------------------------------------------
for i in $(seq 0 39); do
	case $((i % 3)) in 0) f=scene.png ;; 1) f=photo.jpg ;; 2) f=grey16a.png ;; esac
	printf '{"id":"r%02d","image":"%s"}\n' "$i" "$f"
done | records "$T/many.zst"
for j in 1 2 3; do
	mmoe-encode-vision -q -j $j --seed 5 --image-root "$T/img" "$T/many.zst" | mmoe-cat --json >"$T/j$j.jsonl"
done
ok "cmp -s '$T/j1.jsonl' '$T/j2.jsonl'" "-j 1 and -j 2: identical records"
ok "cmp -s '$T/j1.jsonl' '$T/j3.jsonl'" "-j 1 and -j 3: identical records"
is "$(wc -l <"$T/j2.jsonl")" 40 "all 40 records, in order"
is "$(grep -o '"id":"r[0-9]*"' "$T/j2.jsonl" | tr -d '\n' | md5sum)" \
	"$(grep -o '"id":"r[0-9]*"' "$T/j1.jsonl" | tr -d '\n' | md5sum)" "order kept with threads"
mmoe-encode-vision -q --seed 5 --image-root "$T/img" "$T/many.zst" | mmoe-cat --json >"$T/again.jsonl"
ok "cmp -s '$T/j1.jsonl' '$T/again.jsonl'" "same seed: same bytes"
mmoe-encode-vision -q --seed 6 --image-root "$T/img" "$T/many.zst" | mmoe-cat --json --fields v_pixels >"$T/s6.jsonl"
mmoe-cat --json --fields v_pixels <(mmoe-encode-vision -q --seed 5 --image-root "$T/img" "$T/many.zst") >"$T/s5.jsonl"
ok "! cmp -s '$T/s5.jsonl' '$T/s6.jsonl'" "another seed: another pixels projection"

# 700 records (44 chunks of 16, more than the map keeps in flight), every
# 7th without an image: the same bytes for -j 1, 2 and 3; a corrupt image
# in record 500: its error, and only records before it are written (those
# the output buffer let through before the stream was cut), for any -j.
cp "$D/scene.png" "$T/img/bad500.png"
printf '\x55\x55\x55\x55' | dd of="$T/img/bad500.png" bs=1 seek=50 conv=notrunc 2>/dev/null
for bad in 0 1; do
	for i in $(seq 0 699); do
		case $((i % 3)) in 0) f=scene.png ;; 1) f=photo.jpg ;; 2) f=grey16a.png ;; esac
		[ $bad = 1 ] && [ $i = 500 ] && f=bad500.png
		if [ $((i % 7)) = 5 ]; then printf '{"id":"m%03d"}\n' "$i"
		else printf '{"id":"m%03d","image":"%s"}\n' "$i" "$f"; fi
	done | records "$T/long$bad.zst"
done
for j in 1 2 3; do
	mmoe-encode-vision -q -j $j --skip-missing -e pixels -e color --size 32 --image-root "$T/img" \
		"$T/long0.zst" | mmoe-cat --json >"$T/long$j.jsonl"
	mmoe-encode-vision -q -j $j --skip-missing -e pixels -e color --size 32 --image-root "$T/img" \
		"$T/long1.zst" 2>"$T/long$j.err" | mmoe-cat --json 2>/dev/null >"$T/longbad$j.jsonl"
	like "$(cat "$T/long$j.err")" 'record 500 \(id "m500"\): field "image".*PNG' "-j $j: the bad record 500 is named"
	n=$(wc -l <"$T/longbad$j.jsonl")
	ok "[ $n -gt 0 ] && [ $n -le 500 ]" "-j $j: no record from the bad one on ($n written)"
	ok "head -n $n '$T/long1.jsonl' | cmp -s - '$T/longbad$j.jsonl'" "-j $j: those records as without the bad one"
done
is "$(wc -l <"$T/long1.jsonl")" 700 "700 records through the map"
is "$(grep -c v_pixels "$T/long1.jsonl")" 600 "600 images encoded, 100 passed through"
ok "cmp -s '$T/long1.jsonl' '$T/long2.jsonl'" "700 records: -j 1 and -j 2 identical"
ok "cmp -s '$T/long1.jsonl' '$T/long3.jsonl'" "700 records: -j 1 and -j 3 identical"
ok "cmp -s '$T/longbad1.jsonl' '$T/longbad2.jsonl' && cmp -s '$T/longbad1.jsonl' '$T/longbad3.jsonl'" \
	"a bad record: the same records before the error for -j 1, 2 and 3"

mmoe-encode-vision -q --level 0 --seed 5 --image-root "$T/img" "$T/many.zst" >"$T/plain.msgpack"
like "$(head -c 1 "$T/plain.msgpack" | od -An -tx1 | tr -d ' ')" '^(8[0-9a-f]|de|df)$' \
	"--level 0 writes plain msgpack (a map, not a zstd frame)"
ok "mmoe-cat --json '$T/plain.msgpack' | cmp -s - '$T/j1.jsonl'" "--level 0: same records"
# the default is the fast level -1 (float tokens compress little): a zstd
# frame with the same records; MMOE_ZSTD_LEVEL and --level override it
mmoe-encode-vision -q --seed 5 --image-root "$T/img" "$T/many.zst" >"$T/dflt.zst"
is "$(head -c 4 "$T/dflt.zst" | od -An -tx1 | tr -d ' ')" 28b52ffd "default level: a zstd frame"
ok "mmoe-cat --json '$T/dflt.zst' | cmp -s - '$T/j1.jsonl'" "default level: same records"
MMOE_ZSTD_LEVEL=0 mmoe-encode-vision -q --seed 5 --image-root "$T/img" "$T/many.zst" >"$T/env0.msgpack"
ok "cmp -s '$T/env0.msgpack' '$T/plain.msgpack'" "MMOE_ZSTD_LEVEL=0 overrides the default"
mmoe-encode-vision -q --level -7 --seed 5 --image-root "$T/img" "$T/many.zst" >"$T/fast7.zst"
ok "mmoe-cat --json '$T/fast7.zst' | cmp -s - '$T/j1.jsonl'" "--level -7: same records"
run mmoe-encode-vision --level -9999999 "$T/many.zst"
is "$rc" 2 "--level below zstd's fastest: exit 2"
like "$err" "option --level: -9999999 is out of range" "the bad level is named"

# ---- inline bytes decode like the files -------------------------------------
if have_py msgpack; then
	"$PY" - "$T/img" "$T/inline.msgpack" <<'EOF'
import msgpack, sys, os
d, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as f:
    for i, n in [("scene", "scene.png"), ("photo", "photo.jpg"), ("grey", "grey16a.png")]:
        f.write(msgpack.packb({"id": i, "image": open(os.path.join(d, n), "rb").read()}, use_bin_type=True))
EOF
	mmoe-encode-vision "${GARGS[@]}" "$T/inline.msgpack" | mmoe-cat --json >"$T/inline.jsonl"
	ok "cmp -s '$T/inline.jsonl' '$T/g.jsonl'" "inline PNG/JPEG bytes give the same features as paths"
else
	skip "python3-msgpack missing: inline bytes"
fi

# ---- hostile and broken images: one line naming the record, exit 1 -----------
cp "$D/scene.png" "$T/img/corrupt.png"
printf '\x55\x55\x55\x55' | dd of="$T/img/corrupt.png" bs=1 seek=50 conv=notrunc 2>/dev/null
head -c 500 "$D/photo.jpg" >"$T/img/trunc.jpg"
cp "$D/huge-header.png" "$T/img/huge.png"
echo "not an image" >"$T/img/text.png"
# A 1 GB address-space cap, so that the huge header cannot even try to
# allocate; sanitizer builds reserve terabytes of shadow memory and cannot
# run under it, so they go without.
cap=1000000
bash -c "ulimit -v $cap; mmoe-encode-vision --version; exit \$?" >/dev/null 2>&1 || cap=unlimited
bad() { # desc image-json regex [extra args]
	local desc=$1 img=$2 re=$3
	shift 3
	printf '%s\n' '{"id":"ok","image":"scene.png"}' "{\"id\":\"bad\",\"image\":$img}" | records "$T/bad.zst"
	run bash -c 'ulimit -v "$0"; exec "$@"' "$cap" mmoe-encode-vision -q --image-root "$T/img" "$@" "$T/bad.zst"
	is "$rc" 1 "$desc: exit 1"
	one_line_error mmoe-encode-vision "$desc: one line"
	like "$err" 'record 1 \(id "bad"\): field "image"' "$desc: names the record and field"
	like "$err" "$re" "$desc: says why"
}
bad "corrupt PNG" '"corrupt.png"' 'PNG: corrupt'
bad "truncated JPEG" '"trunc.jpg"' 'JPEG: truncated'
bad "100000x100000 header" '"huge.png"' '100000x100000 has 10000000000 pixels, more than the limit'
bad "not an image" '"text.png"' 'not a PNG or JPEG'
bad "path with .." '"../secret.png"' 'escapes the image root'
bad "absolute path" "\"$T/secret.png\"" 'absolute image path'
bad "symlink out of the root" '"link.png"' 'outside the image root'
bad "missing file" '"nope.png"' 'no such file'
bad "integer image" '3' 'expected image bytes \(bin\) or a path \(string\), got an integer'
bad "pixel limit option" '"photo.jpg"' 'more than the limit of 1000' --max-pixels 1000

# what --allow-any-path lets through
printf '%s\n' "{\"id\":\"abs\",\"image\":\"$T/secret.png\"}" '{"id":"up","image":"../secret.png"}' | records "$T/any.zst"
run mmoe-encode-vision -q --allow-any-path --image-root "$T/img" "$T/any.zst"
is "$rc" 0 "--allow-any-path accepts absolute and .. paths"

# a record without an image
printf '%s\n' '{"id":"a","image":"scene.png"}' '{"id":"noimg","text":"hi"}' | records "$T/miss.zst"
run mmoe-encode-vision -q --image-root "$T/img" "$T/miss.zst"
is "$rc" 1 "no image field: exit 1"
like "$err" 'record 1 \(id "noimg"\): field "image": missing' "no image field: names record and field"
run mmoe-encode-vision --skip-missing -e hog --image-root "$T/img" "$T/miss.zst"
is "$rc" 0 "--skip-missing: exit 0"
like "$err" '1 records without field "image" passed through' "--skip-missing: counted on stderr"
mmoe-cat --json --brief "$T/out" >"$T/b.jsonl"
like "$(sed -n 2p "$T/b.jsonl")" '^\{"id":"noimg","text":"hi"\}$' "--skip-missing: record passed through unchanged"

# ---- usage ------------------------------------------------------------------
run mmoe-encode-vision -e sift "$T/in.zst"
is "$rc" 2 "unknown encoder: exit 2"
like "$err" "unknown encoder 'sift'" "unknown encoder: named"
run mmoe-encode-vision --as x -e hog "$T/in.zst"
is "$rc" 2 "--as before -e: exit 2"
run mmoe-encode-vision -e pixels --size 60 "$T/in.zst"
is "$rc" 2 "size not a multiple of the patch: exit 2"
like "$err" 'not a multiple of the patch' "size error says why"
run mmoe-encode-vision -e hog -e hog "$T/in.zst"
is "$rc" 2 "two encoders on one field: exit 2"
run mmoe-encode-vision -q --image-root "$T/img" "$T/nonexistent.zst"
is "$rc" 2 "missing input file: exit 2"
run mmoe-encode-vision --help
is "$rc" 0 "--help exits 0"
like "$out" '--image-root DIR' "--help lists the options"
like "$out" 'default: 64' "--help shows defaults"

done_testing
