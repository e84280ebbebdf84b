#!/usr/bin/env bash
# bench/stream.sh — pass-through throughput of mmoe-cat (decode + re-encode at
# zstd level 3) against `zstd -dc | zstd -3 -c` on the same file in the same
# run, on 1,000,000 small records and on 10,000 records with a 4,096-float
# tensor each; MB/s of decompressed stream, records/s, the ratio, and peak RSS.
# Plain mmoe-cat copies each checked record's bytes (mm_reader_next_raw);
# mmoe-cat --check decodes every record into an mm_rec and packs it again
# (mm_reader_next + mm_writer_put), the path every filter takes.
# Then peak RSS of mmoe-cat against the number of records: it must not grow.
#
#   STREAM_BENCH_SMALL=1000000 STREAM_BENCH_BIG=10000 STREAM_BENCH_REPEAT=3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MMOE_BIN:=$here/../bin}"
PATH=$MMOE_BIN:$PATH
PY=/usr/bin/python3
NSMALL=${STREAM_BENCH_SMALL:-1000000}
NBIG=${STREAM_BENCH_BIG:-10000}
REPEAT=${STREAM_BENCH_REPEAT:-3}
export MMOE_ZSTD_LEVEL=3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-stream.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- inputs --------------------------------------------------------------------------
# small: ~70-byte records through mmoe-import (JSON Lines from awk)
awk -v n="$NSMALL" 'BEGIN { srand(1); split("train val test", sp, " ");
	for (i = 0; i < n; i++)
		printf "{\"id\":\"r%07d\",\"label\":%d,\"split\":\"%s\",\"score\":%.6f,\"gen_type\":\"%s\"}\n",
			i, i % 2, sp[i % 3 + 1], rand(), substr("RUS", i % 3 + 1, 1) }' |
	mmoe-import -q -o "$tmp/small.zst"
# big: a [4096] f32 tensor of normal noise per record; packed by python's msgpack
# (a second, independent writer), compressed by mmoe-cat
if "$PY" -c 'import msgpack, numpy' 2>/dev/null; then
	"$PY" - "$NBIG" > "$tmp/big.mp" <<'EOF'
import msgpack, numpy, sys
n = int(sys.argv[1])
rng = numpy.random.default_rng(1)
pk = msgpack.Packer(use_bin_type=True)
out = sys.stdout.buffer
for i in range(n):
    x = rng.standard_normal(4096).astype("<f4")
    out.write(pk.pack({"id": "b%06d" % i, "label": i % 2,
        "v_hog": {"dtype": "f32", "shape": [4096], "data": x.tobytes()}}))
EOF
	mmoe-cat -o "$tmp/big.zst" "$tmp/big.mp"
	rm -f "$tmp/big.mp"
else
	echo "python3-msgpack/numpy missing: the tensor case is skipped"
fi

# ---- measurement -----------------------------------------------------------------------
# best wall time and its peak RSS (KB) over REPEAT runs of a shell command
measure() {
	local best= rss= t m
	for _ in $(seq "$REPEAT"); do
		/usr/bin/time -f '%e %M' -o "$tmp/time" bash -c "$1"
		read -r t m < "$tmp/time"
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$t rss=$m
		fi
	done
	echo "$best $rss"
}

printf '\n%-14s %9s %9s | %-19s %8s %10s %9s %8s\n' input records "MB raw" program "time s" "MB/s" "rec/s" "RSS MB"
report() { # name n file
	local name=$1 n=$2 f=$3 raw mb
	raw=$(zstd -q -dc "$f" | wc -c)
	mb=$(awk -v b="$raw" 'BEGIN { printf "%.1f", b / 1e6 }')
	read -r tc mc < <(measure "mmoe-cat '$f' > '$tmp/out.zst'")
	# the same through the decoding reader and mm_writer_put, as filters run
	read -r td md < <(measure "mmoe-cat --check '$f' > '$tmp/out2.zst'")
	# the reference: decompress and recompress at the same level, in a pipe
	read -r tz mz < <(measure "zstd -q -dc '$f' | zstd -q -3 -T1 -c > '$tmp/out.ref'")
	# the two outputs hold the same records
	cmp -s <(zstd -q -dc "$tmp/out.zst") <(zstd -q -dc "$tmp/out.ref") ||
		{ echo "mmoe-cat output differs from the input records" >&2; exit 1; }
	[ "$(mmoe-cat --count "$tmp/out2.zst")" = "$n" ] ||
		{ echo "mmoe-cat --check lost records" >&2; exit 1; }
	local show=$name shown=$n showmb=$mb
	for row in "mmoe-cat $tc $mc" "mmoe-cat --check $td $md" "zstd -dc | zstd -c $tz $mz"; do
		set -- $row
		local t=${*: -2:1} m=${*: -1} prog=${row% * *}
		awk -v name="$show" -v n="$n" -v shown="$shown" -v mb="$mb" -v showmb="$showmb" \
			-v prog="$prog" -v t="$t" -v m="$m" 'BEGIN {
			if (t <= 0) t = 0.005
			printf "%-14s %9s %9s | %-19s %8.2f %10.1f %9.0f %8.1f\n", name, shown, showmb, prog, t, mb / t, n / t, m / 1024 }'
		show= shown= showmb=
	done
	awk -v a="$tc" -v d="$td" -v b="$tz" 'BEGIN { if (a <= 0) a = 0.005; if (d <= 0) d = 0.005
		printf "%-14s %9s %9s | throughput ratio to the zstd pipeline: mmoe-cat %.2f, --check %.2f (target >= 0.5)\n", "", "", "", b / a, b / d }'
}
report small "$NSMALL" "$tmp/small.zst"
[ -f "$tmp/big.zst" ] && report "4096-float" "$NBIG" "$tmp/big.zst"

# ---- bounded memory: peak RSS against the stream length ---------------------------------
echo
echo "peak RSS of mmoe-cat (pass-through, --json, --count) against the number of records:"
printf '  %9s %10s %10s %10s\n' records "cat MB" "json MB" "count MB"
for n in 10000 100000 "$NSMALL"; do
	[ "$n" -gt "$NSMALL" ] && continue
	mmoe-cat --head "$n" -o "$tmp/part.zst" "$tmp/small.zst"
	read -r _ m1 < <(REPEAT=1 measure "mmoe-cat '$tmp/part.zst' > /dev/null")
	read -r _ m2 < <(REPEAT=1 measure "mmoe-cat --json '$tmp/part.zst' > /dev/null")
	read -r _ m3 < <(REPEAT=1 measure "mmoe-cat --count '$tmp/part.zst' > /dev/null")
	awk -v n="$n" -v a="$m1" -v b="$m2" -v c="$m3" 'BEGIN { printf "  %9d %10.1f %10.1f %10.1f\n", n, a / 1024, b / 1024, c / 1024 }'
done
