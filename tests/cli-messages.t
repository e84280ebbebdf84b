#!/bin/bash
# Messages that misled, and the option parsing every tool shares
# (tools/common): decimal seeds, --help=x, empty and reserved field names;
# record errors name the input; image paths that lead nowhere; a model
# written to a full device names its path once.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi

mkrecs >"$T/d.mp" <<'R'
{"id":"a","split":"train","label":0,"x":[0.1,0.2],"pa":[0.9,0.1],"pb":[0.2,0.8]}
{"id":"b","split":"train","label":1,"x":[0.9,0.8],"pa":[0.3,0.7],"pb":[0.6,0.4]}
{"id":"c","split":"val","label":1,"x":[0.7,0.9],"pa":[0.4,0.6],"pb":[0.1,0.9]}
{"id":"d","split":"val","label":0,"x":[0.2,0.1],"pa":[0.8,0.2],"pb":[0.7,0.3]}
R

# ---- --seed is decimal: 010 is ten, 0x10 is refused ----
mmoe-synth --count 3 --seed 10 --output "$T/s10.zst" 2>/dev/null
run mmoe-synth --count 3 --seed 010 --output "$T/s010.zst"
like "$rc:$err" "^0:.*seed 10\)" "--seed 010 is seed 10 (was 8)"
ok "cmp -s <(mmoe-cat --json '$T/s10.zst') <(mmoe-cat --json '$T/s010.zst')" "--seed 010 gives seed 10's records"
run mmoe-synth --count 3 --seed 0x10
like "$rc:$err" "^2:mmoe-synth: option --seed: '0x10' is not an unsigned integer" "--seed 0x10 is refused (was 16)"

# ---- --help=x names the long option ----
for tool in cat import synth eval fuse rus-split unipred train-expert encode-text encode-vision; do
	run mmoe-$tool --help=x
	like "$rc:$err" "^2:mmoe-$tool: option '--help' takes no value" "mmoe-$tool --help=x: says --help takes no value"
done
run mmoe-cat --no-such-option=3
like "$rc:$err" "^2:mmoe-cat: unknown option '--no-such-option'" "an unknown long option with a value: named"

# ---- empty field names: one message everywhere ----
while IFS='|' read -r tool opts name; do
	# shellcheck disable=SC2086
	run mmoe-$tool $opts "$T/d.mp"
	like "$rc:$err" "^2:mmoe-$tool: option $name: the field name is empty" "mmoe-$tool $name '': refused"
done <<EOF2
encode-text|--field=|--field
encode-text|--as=|--as
encode-vision|--field=|--field
unipred|--feature=|--feature
unipred|--feature=x --label=|--label
unipred|--feature=x --as=|--as
eval|--pred=|--pred
eval|--pred=pa --label=|--label
eval|--pred=pa --by=|--by
rus-split|--pred-a=pa --pred-b=|--pred-b
rus-split|--pred-a=pa --pred-b=pb --as=|--as
fuse|--experts=pa --mode=mean --as=|--as
EOF2

# ---- output fields never overwrite id, label, split or a field the run reads ----
mmoe-train-expert --feature x --epochs 1 --output "$T/m.mm" "$T/d.mp" 2>/dev/null
while IFS='|' read -r tool opts what; do
	# shellcheck disable=SC2086
	run mmoe-$tool $opts --output "$T/o.zst" "$T/d.mp"
	like "$rc:$err" "^2:mmoe-$tool: option --as: '[a-z_]+' is (a reserved field|a field this run reads)" \
		"mmoe-$tool $what: refused"
	ok "[ ! -e '$T/o.zst' ]" "mmoe-$tool $what: no output"
done <<EOF2
rus-split|--pred-a pa --pred-b pb --as label|--as label
rus-split|--pred-a pa --pred-b pb --as split|--as split
rus-split|--pred-a pa --pred-b pb --as pa|--as pa (an input)
fuse|--experts pa,pb --mode mean --as id|--as id
fuse|--experts pa,pb --mode mean --as pb|--as pb (an input)
train-expert|--predict --model $T/m.mm --as id|--predict --as id
train-expert|--predict --model $T/m.mm --as x|--predict --as x (the model's feature)
unipred|--feature x --as label|--as label
EOF2

# ---- record errors name the input ----
mkrecs >"$T/bad.mp" <<'R'
{"id":"a","split":"train","label":0,"x":[0.1,0.2],"pa":[0.9,0.1],"pb":[0.2,0.8]}
{"id":"z","split":"train","label":"one","x":[0.9,0.8],"pa":[0.3,0.7],"pb":[0.6,0.4]}
R
for c in "eval --pred pa" "rus-split --pred-a pa --pred-b pb" "unipred --feature x"; do
	run mmoe-$c "$T/bad.mp"
	like "$rc:$err" "^1:mmoe-${c%% *}: $T/bad.mp: record 1 \(id \"z\"\): field \"label\"" "mmoe-${c%% *}: a record error names the input"
done

# ---- images: a symbolic link loop is a missing image (exit 1); "." is the root ----
ln -s loop2 "$T/loop1"
ln -s loop1 "$T/loop2"
for p in loop1 missing.png .; do
	printf '{"id":"i","image":"%s"}\n' "$p" | mmoe-import --output "$T/im.zst"
	run mmoe-encode-vision --encoder color --image-root "$T" "$T/im.zst"
	is "$rc" 1 "image path '$p': exit 1 (bad data)"
	case $p in
	loop1) like "$err" "image file \"$T/loop1\": no such file \(a loop of symbolic links\)" "a link loop: says so" ;;
	.) like "$err" "image path \".\" refused: it is the image root directory itself" "'.': not 'outside the root'" ;;
	esac
done

# ---- a model written to a full device: the path once ----
if [ -w /dev/full ]; then
	run mmoe-train-expert --resave "$T/m.mm" --output /dev/full
	like "$rc:$err" "^2:mmoe-train-expert: model /dev/full: write error: No space left on device$" \
		"--resave --output /dev/full names the path once"
else
	skip "/dev/full is not writable here"
fi

# ---- --class-weights: a word is not one weight ----
run mmoe-train-expert --feature x --class-weights abc --output "$T/cw.mm" "$T/d.mp"
like "$rc:$err" "^2:.*option --class-weights: 'abc' is not a finite number" "--class-weights abc: says it is not a number"

done_testing
