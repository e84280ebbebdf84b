#!/bin/bash
# pipelines/shard.sh over a real ssh connection (a private sshd on the loopback,
# tests/ssh.sh): encode-text and encode-vision run shard by shard on this
# machine and the "remote" one, with no shared disk, and the merged result is
# the one-machine result byte for byte (decompressed records; a network's
# probabilities within 1e-6, see below).
. "$(dirname "$0")/lib.sh"
. "$MMOE_TOP/tests/ssh.sh"
remote_start || { done_testing; exit; }
home_before=$(remote_files)

# the local side lives in $T, which the remote user cannot read
mkdir -p "$T/local/bin" "$T/local/pipelines" "$T/w"
for t in cat synth encode-text encode-vision train-expert; do cp "$MMOE_BIN/mmoe-$t" "$T/local/bin/"; done
cp "$MMOE_TOP/pipelines/shard.sh" "$T/local/pipelines/"
export MMOE_BIN=$T/local/bin
sh=$T/local/pipelines/shard.sh
remote_cannot_read "$T/local/bin/mmoe-encode-text" "the remote side cannot read the local tree (binaries)"
is "$(remote_run 'command -v mmoe-cat mmoe-encode-text; echo end')" end \
	"nor find mmoe tools on its PATH: the jobs run the binaries they were sent"

mmoe-synth --quiet --count 120 --seed 2 --size 32 --output "$T/w/data.zst"
remote_cannot_read "$T/w/data.zst" "nor the local data"
mmoe-encode-text --quiet --encoder hash --dim 32 "$T/w/data.zst" | mmoe-cat --level 0 > "$T/text.mp"
mmoe-encode-vision --quiet --encoder color --encoder hog "$T/w/data.zst" | mmoe-cat --level 0 > "$T/vision.mp"

# 2 shards on the remote machine alone
run "$sh" --shards 2 --sshlogin "$REMOTE" --output "$T/w/text.zst" "$T/w/data.zst" -- \
	encode-text --encoder hash --dim 32
is "$rc" 0 "encode-text on 2 shards over ssh"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
ok "mmoe-cat --level 0 '$T/w/text.zst' | cmp -s - '$T/text.mp'" \
	"the merged shards are the one-machine result, byte for byte"
is "$(ls -A "$T/w")" "data.zst
text.zst" "no work files left beside the output"
is "$(remote_files)" "$home_before" "nothing left on the remote machine (--cleanup)"

# this machine and the remote one: 2 "machines", 4 shards, encode-vision
run "$sh" --shards 4 --sshlogin ":,$REMOTE" --jobs 1 --joblog "$T/joblog" --output "$T/w/vision.zst" "$T/w/data.zst" -- \
	mmoe-encode-vision --encoder color --encoder hog
is "$rc" 0 "encode-vision on 4 shards over this machine and the remote one"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
ok "mmoe-cat --level 0 '$T/w/vision.zst' | cmp -s - '$T/vision.mp'" \
	"the merged shards are the one-machine result, byte for byte"

is "$(awk -F'\t' 'NR > 1 { print $2 }' "$T/joblog" | sort -u | paste -sd' ')" ": $REMOTE" \
	"both machines ran shards (--joblog)"

# the multi-machine examples of mmoe-cat(1) and mmoe-parallel(7), with the
# loopback machine for alice@gpu2
example() { # page: the shard.sh command of its examples, with our login
	awk '/^\.Bd -literal/ { on = 1; next } /^\.Ed/ { on = 0 }
		{ line = $0; if (sub(/^\.Dl /, "", line) == 0 && !on) next; sub(/\\e$/, "\\", line) }
		line ~ /^pipelines\/shard\.sh / { grab = 1 }
		grab { print line; if (line !~ /\\$/) exit }' "$MMOE_TOP/man/$1" |
		sed "s|^pipelines/|$T/local/pipelines/|; s|alice@gpu2|$REMOTE|"
}
mkdir "$T/ex" && cp "$T/w/data.zst" "$T/ex/"
mmoe-encode-text --quiet --encoder hash "$T/w/data.zst" | mmoe-cat --level 0 > "$T/hash.mp"
for page in mmoe-cat.1 mmoe-parallel.7; do
	cmd=$(example $page)
	like "$cmd" "--sshlogin :,$REMOTE " "$page: the multi-machine example is found"
	out_file=$(printf '%s\n' "$cmd" | grep -o -- '--output [^ ]*' | cut -d' ' -f2)
	run bash -c "cd '$T/ex' && $cmd"
	is "$rc" 0 "$page: the example runs"
	ok "mmoe-cat --level 0 '$T/ex/$out_file' | cmp -s - '$T/hash.mp'" "$page: and gives the one-machine records"
done

# --concat: the same records, in shard order
echo "$REMOTE" > "$T/logins"
run "$sh" --shards 3 --sshloginfile "$T/logins" --concat --output "$T/w/cat.zst" "$T/w/data.zst" -- \
	encode-text --encoder hash --dim 32
is "$rc" 0 "--concat, the machine from --sshloginfile"
is "$(mmoe-cat --json "$T/w/cat.zst" | sort | md5sum)" "$(mmoe-cat --json "$T/text.mp" | sort | md5sum)" \
	"--concat: the same records"
is "$(mmoe-cat --json --fields id "$T/w/cat.zst" | jq -r .id | paste -sd' ')" \
	"$(for k in 0 1 2; do mmoe-cat --shard $k/3 --json --fields id "$T/w/data.zst" | jq -r .id; done | paste -sd' ')" \
	"--concat: in shard order, without _seq"

# train-expert --predict with the model sent along (--basefile), named by its base name
mmoe-encode-text --quiet --encoder hash --dim 32 --output "$T/w/feat.zst" "$T/w/data.zst"
mmoe-train-expert --quiet --feature t_hash --epochs 1 --seed 1 --output "$T/base.mm" "$T/w/feat.zst"
mmoe-train-expert --quiet --predict --model "$T/base.mm" --as p "$T/w/feat.zst" | mmoe-cat --level 0 > "$T/pred.mp"
run "$sh" --shards 2 --sshlogin "$REMOTE" --basefile "$T/base.mm" --output "$T/w/pred.zst" "$T/w/feat.zst" -- \
	train-expert --predict --model base.mm --as p
is "$rc" 0 "train-expert --predict on 2 shards, the model sent with --basefile"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
# A network's output for a record can differ in the last bits with the records
# batched with it (lib/gemm.h: OpenBLAS's kernels treat rows by their position
# in a block), and shards batch records differently: the same records in the
# same order, the same classes, probabilities within 1e-6.
is "$(mmoe-cat --json --fields id,p_class "$T/w/pred.zst" | md5sum)" \
	"$(mmoe-cat --json --fields id,p_class "$T/pred.mp" | md5sum)" \
	"the one-machine records and predicted classes, in order"
mmoe-cat --json --fields p "$T/w/pred.zst" > "$T/p.shard.json"
mmoe-cat --json --fields p "$T/pred.mp" > "$T/p.one.json"
is "$(jq -n --slurpfile a "$T/p.shard.json" --slurpfile b "$T/p.one.json" \
	'[range($a|length) as $i | range($a[$i].p.data|length) as $c |
	  ($a[$i].p.data[$c] - $b[$i].p.data[$c]) | fabs] | (max // 0) <= 1e-6 and ($a|length) == ($b|length)')" true \
	"and their probabilities within 1e-6"
rm -f "$T/w/feat.zst" "$T/w/pred.zst"

# a stage that fails on the remote side: exit 1, no output, the job log kept
run "$sh" --shards 2 --sshlogin "$REMOTE" --output "$T/w/bad.zst" "$T/w/data.zst" -- \
	encode-text --encoder nosuch
is "$rc" 1 "a failing stage: exit 1"
like "$err" "shard.sh: the stage failed on a shard" "says so"
ok "[ ! -e '$T/w/bad.zst' ] && [ -s '$T/w/bad.zst.joblog' ]" "no output, the job log kept"
ok "! ls -A '$T/w' | grep -q '^\.shard'" "no work directory left"
is "$(remote_files)" "$home_before" "nor anything on the remote machine"
run "$sh" --shards 0 --output "$T/w/x.zst" "$T/w/data.zst" -- encode-text
is "$rc" 2 "--shards 0 is a usage error"
run "$sh" --output "$T/w/x.zst" "$T/w/data.zst" -- nosuch-stage
is "$rc:$(printf '%s' "$err" | grep -c 'no stage')" "2:1" "an unknown stage is a usage error"

done_testing
