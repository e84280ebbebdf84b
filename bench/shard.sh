#!/usr/bin/env bash
# bench/shard.sh — pipelines/shard.sh over ssh: encode-text and encode-vision
# on 1, 2 and 4 shards sent to the loopback machine of the tests (tests/ssh.sh:
# a private sshd on 127.0.0.1), against the same stage run here on the whole
# stream (the reference, same run).  Also the cost of cutting and merging alone.
#
# What it shows on one machine: the fixed cost of a sharded run (cutting N
# shards, ssh and rsync per job, sending the binary, merging) and how the
# per-record work spreads over the cores the "remote" has.  What it cannot show:
# network transfer time (loopback) and a speed-up beyond this machine's cores.
# Without sshd (or not as root, where the remote side is this user) it still
# runs; it needs openssh-server, rsync and GNU parallel.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
: "${MMOE_BIN:=$top/bin}"
N=${SHARD_BENCH_N:-2000}
# tests/ssh.sh runs the sshd; it needs the TAP functions of tests/lib.sh
MMOE_TOP=$top MMOE_BIN=$MMOE_BIN
. "$top/tests/lib.sh"
. "$top/tests/ssh.sh"
remote_start >/dev/null || { echo "bench shard: no loopback sshd, skipped"; exit 0; }
mkdir -p "$T/bin" "$T/w"
for b in cat synth encode-text encode-vision; do cp "$MMOE_BIN/mmoe-$b" "$T/bin/"; done
export MMOE_BIN=$T/bin
PATH=$T/bin:$PATH
sh=$top/pipelines/shard.sh
cd "$T/w"
mmoe-synth --quiet --count "$N" --seed 1 --output data.zst
secs() { # command...: wall seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}
echo "$N records (mmoe-synth, 64x64 images), remote = 127.0.0.1 over ssh, $(nproc) cores"
printf '%-34s %8s %8s %10s %8s\n' stage shards seconds "us/record" "x ref"
for st in "encode-text --encoder hash --dim 256" "encode-vision --encoder color" "encode-vision --encoder hog"; do
	# shellcheck disable=SC2086
	ref=$(secs mmoe-$st --output ref.zst data.zst)
	printf '%-34s %8s %8s %10.0f %8s\n' "$st" here "$ref" "$(echo "$ref $N" | awk '{ print $1 / $2 * 1e6 }')" 1.00
	for k in 1 2 4; do
		# shellcheck disable=SC2086
		t=$(secs "$sh" --shards $k --sshlogin "$REMOTE" --output out.zst data.zst -- $st)
		mmoe-cat --level 0 out.zst | cmp -s - <(mmoe-cat --level 0 ref.zst) ||
			{ echo "bench shard: $st on $k shards differs from the one-machine output"; exit 1; }
		printf '%-34s %8s %8s %10.0f %8.2f\n' "$st" "$k" "$t" "$(echo "$t $N" | awk '{ print $1 / $2 * 1e6 }')" \
			"$(echo "$t $ref" | awk '{ print $1 / $2 }')"
	done
done
# the parts that do not depend on the stage: one pass to cut, one to merge
for k in 2 4 16; do
	t=$(secs mmoe-cat --quiet --shards $k --seq --output "s{}.zst" data.zst)
	m=$(secs bash -c "mmoe-cat --quiet --merge --output m.zst s*.zst")
	printf 'cut into %d shards: %ss, merge: %ss (%d records, %s MB)\n' "$k" "$t" "$m" "$N" \
		"$(du -m data.zst | cut -f1)"
	rm -f s*.zst
done
