#!/usr/bin/env bash
# bench/run.sh — `make bench`: every bench/<area>.sh in turn, one report.
# Each benchmark measures its reference (zstd, PyTorch, OpenBLAS peak, ...) in
# the same run and prints ratios, so numbers compare across machines.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${MMOE_BIN:=$here/../bin}"
: "${MMOE_BUILD:=$here/../build}"
export MMOE_BIN MMOE_BUILD PATH="$MMOE_BIN:$PATH"
mkdir -p "$MMOE_BUILD/bench"
cc -O2 $(pkg-config --cflags openblas) -o "$MMOE_BUILD/bench/sgemm-peak" "$here/sgemm-peak.c" \
	$(pkg-config --libs-only-L openblas) -lopenblas
export SGEMM_PEAK="$MMOE_BUILD/bench/sgemm-peak"
echo "# mmoe bench on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# OpenBLAS sgemm peak: 1 thread $("$SGEMM_PEAK" 1024 1 | cut -d' ' -f2) GFLOP/s, 2 threads $("$SGEMM_PEAK" 1024 2 | cut -d' ' -f2) GFLOP/s"
status=0
for b in "$here"/*.sh; do
	[ "$(basename "$b")" = run.sh ] && continue
	[ -n "${BENCH:-}" ] && [[ "$(basename "$b" .sh)" != $BENCH ]] && continue
	echo
	echo "## $(basename "$b" .sh)"
	bash "$b" || { echo "bench $(basename "$b") failed (exit $?)"; status=1; }
done
exit $status
