#!/usr/bin/env bash
# bench/vision.sh — images/s of mmoe-encode-vision per encoder on 1 and 2
# threads, the encoders alone (vision-kernel), and the pixels encoder's
# projection throughput as a fraction of the OpenBLAS sgemm peak measured
# in the same run.
set -Eeuo pipefail
trap 'echo "vision.sh: failed at line $LINENO" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
: "${MMOE_BIN:=$top/bin}"
: "${MMOE_BUILD:=$top/build}"
PATH=$MMOE_BIN:$PATH
N=${VISION_BENCH_N:-2000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-vision.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

blas_cflags=$(pkg-config --cflags openblas 2>/dev/null || true)
blas_libs="$(pkg-config --libs-only-L openblas 2>/dev/null || true) -lopenblas"
if [ -z "${SGEMM_PEAK:-}" ]; then
	SGEMM_PEAK=$tmp/sgemm-peak
	cc -O2 $blas_cflags -o "$SGEMM_PEAK" "$here/sgemm-peak.c" $blas_libs
fi
kernel=$tmp/vision-kernel
cc -O2 -std=c11 -D_GNU_SOURCE -I"$top/lib" $blas_cflags -o "$kernel" "$here/vision-kernel.c" \
	"$MMOE_BUILD/libmmoe.a" -lzstd -lmsgpackc $blas_libs -ljansson -lpng -ljpeg -lm -lpthread

peak1=$("$SGEMM_PEAK" 1024 1 | cut -d' ' -f2)
peak2=$("$SGEMM_PEAK" 1024 2 | cut -d' ' -f2)
echo "sgemm peak (1024^3): 1 thread $peak1 GFLOP/s, 2 threads $peak2 GFLOP/s"

# per-image projection flops of the default pixels encoder: 2 * T * K * D
flops_px=$((2 * 64 * 192 * 64))

echo
echo "encoders alone, 1 thread, 64x64 input (no decoding, no I/O):"
printf '  %-16s %10s\n' what images/s
for e in decode pixels hog color; do
	out=$("$kernel" "$e" 1)
	ips=$(echo "$out" | awk '$1 == "images_per_s" { print $2 }')
	if [ "$e" = pixels ]; then
		gf=$(echo "$out" | awk '$1 == "gflops" { print $2 }')
		printf '  %-16s %10s   projection %s GFLOP/s = %s of the 1-thread sgemm peak\n' "$e" "$ips" "$gf" \
			"$(awk -v a="$gf" -v b="$peak1" 'BEGIN { printf "%.0f%%", 100 * a / b }')"
	else
		printf '  %-16s %10s\n' "${e/decode/PNG decode+resize}" "$ips"
	fi
done

mmoe-synth -q -n "$N" --seed 1 -o "$tmp/synth.zst"
echo
echo "mmoe-encode-vision on $N synthetic 64x64 PNG records (decode, resize, encode, write zstd):"
echo "  images/s is wall-clock (best of 3); CPU us/image (user+sys, all threads) is robust to a busy machine"
printf '  %-8s %14s %14s %8s %16s %16s\n' encoder "1 thr img/s" "2 thr img/s" speedup "1 thr CPU us/img" "2 thr CPU us/img"
TIMEFORMAT='%R %U %S'
for e in pixels hog color all; do
	args=(-e "$e")
	[ "$e" = all ] && args=(-e pixels -e hog -e color)
	declare -A ips=() cpu=()
	for j in 1 2; do
		best=0 bcpu=0
		for rep in 1 2 3; do
			t=$( { time mmoe-encode-vision -q "${args[@]}" -j $j "$tmp/synth.zst" >/dev/null; } 2>&1 )
			read -r wall usr sys <<<"$t"
			v=$(awk -v n="$N" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
			c=$(awk -v n="$N" -v u="$usr" -v s="$sys" 'BEGIN { printf "%.0f", (u + s) / n * 1e6 }')
			if [ "$v" -gt "$best" ]; then best=$v; fi
			if [ "$bcpu" = 0 ] || [ "$c" -lt "$bcpu" ]; then bcpu=$c; fi
		done
		ips[$j]=$best
		cpu[$j]=$bcpu
	done
	printf '  %-8s %14s %14s %7sx %16s %16s\n' "$e" "${ips[1]}" "${ips[2]}" \
		"$(awk -v a="${ips[2]}" -v b="${ips[1]}" 'BEGIN { printf "%.2f", a / b }')" "${cpu[1]}" "${cpu[2]}"
	if [ "$e" = pixels ]; then
		px2=${ips[2]}
	fi
done
# end to end against decoding alone (bench/image-io.c: read the same records,
# decode, resize, nothing else), on 64x64 PNGs and 640x480 JPEGs
io=$tmp/image-io
cc -O2 -std=c11 -D_GNU_SOURCE -I"$top/lib" $blas_cflags -o "$io" "$here/image-io.c" \
	"$MMOE_BUILD/libmmoe.a" -lzstd -lmsgpackc $blas_libs -ljansson -lpng -ljpeg -lutf8proc -lm -lpthread
NJ=${VISION_BENCH_JPEG_N:-300}
"$io" gen-jpeg "$NJ" "$tmp/jpeg.zst"
echo
echo "end to end (all three encoders, --drop-image) against decode + resize alone, 1 thread;"
echo "both timed the same way, as whole processes (wall clock, start-up included), best of 5;"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-22s %12s %12s %12s %7s %14s\n' input "decode img/s" "full img/s" "encode img/s" ratio "encode -j2"
# images/s of one run of "$@" over n records, by its wall-clock time
ips_of() {
	local n=$1 t
	shift
	t=$( { time "$@" >/dev/null; } 2>&1 )
	awk -v n="$n" -v w="${t%% *}" 'BEGIN { printf "%.0f", n / w }'
}
for input in png jpeg; do
	f=$tmp/synth.zst n=$N
	[ $input = jpeg ] && f=$tmp/jpeg.zst n=$NJ
	dec=0 full=0 enc=0 enc2=0
	for rep in 1 2 3 4 5; do
		v=$(ips_of "$n" "$io" decode "$f" 64); [ "$v" -gt "$dec" ] && dec=$v
		v=$(ips_of "$n" "$io" decode "$f" 64 full); [ "$v" -gt "$full" ] && full=$v
		v=$(ips_of "$n" mmoe-encode-vision -q -j 1 --drop-image -e pixels -e hog -e color "$f")
		[ "$v" -gt "$enc" ] && enc=$v
		v=$(ips_of "$n" mmoe-encode-vision -q -j 2 --drop-image -e pixels -e hog -e color "$f")
		[ "$v" -gt "$enc2" ] && enc2=$v
	done
	label="64x64 PNG"
	[ $input = jpeg ] && label="640x480 JPEG (q90)"
	printf '  %-22s %12s %12s %12s %6.2fx %14s\n' "$label" "$dec" "$full" "$enc" \
		"$(awk -v a="$enc" -v b="$dec" 'BEGIN { print a / b }')" "$enc2"
done
echo "  (decode: at the reduced JPEG scale mmoe-encode-vision uses; full: --full-decode; target ratio >= 0.5)"

echo
awk -v ips="$px2" -v f="$flops_px" -v p="$peak2" 'BEGIN {
	g = ips * f / 1e9
	printf "pixels end to end on 2 threads: %.2f GFLOP/s of projection = %.1f%% of the 2-thread sgemm peak\n", g, 100 * g / p
	printf "(the rest of the time is PNG decoding, resizing and writing the token tensors)\n"
}'
