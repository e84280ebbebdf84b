#!/bin/bash
# The demo pipeline (pipelines/mmoe.mk) with every tool under valgrind's
# memcheck: any memory error, and any block definitely lost, fails the stage
# that made it, and so the run.  scripts/valgrind.supp may cover OpenBLAS
# internals only.  Smaller than `make demo` (N records, EPOCHS epochs) so
# that it ends in minutes: the code paths are the same.
#
#   scripts/valgrind-demo.sh [N=400] [EPOCHS=2]      (or: make valgrind-demo)
#
# Logs: build/valgrind-demo/log/<tool>.<pid>; exit 0 only when all are empty.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
N=400
EPOCHS=2
for a in "$@"; do
	case $a in
	N=*) N=${a#N=} ;;
	EPOCHS=*) EPOCHS=${a#EPOCHS=} ;;
	*) echo "usage: $0 [N=400] [EPOCHS=2]" >&2; exit 2 ;;
	esac
done
command -v valgrind >/dev/null || { echo "valgrind-demo: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
work=$top/build/valgrind-demo
rm -rf "$work"
mkdir -p "$work/bin" "$work/log"
# a wrapper per tool, so that the pipeline runs them under valgrind unchanged
for t in "$top"/bin/mmoe "$top"/bin/mmoe-*; do
	n=$(basename "$t")
	cat >"$work/bin/$n" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
	--suppressions='$top/scripts/valgrind.supp' --log-file='$work/log/$n.%p' '$t' "\$@"
WRAP
	chmod +x "$work/bin/$n"
done
export OPENBLAS_NUM_THREADS=1
status=0
make --no-print-directory -f "$top/pipelines/mmoe.mk" demo MMOE_BIN="$work/bin" RUNS="$work/runs" \
	N="$N" EPOCHS="$EPOCHS" || status=$?
runs=$(ls "$work/log" | wc -l)
bad=$(find "$work/log" -type f -size +0 | sort)
if [ -n "$bad" ]; then
	echo "valgrind-demo: errors in $(echo "$bad" | wc -l) of $runs tool runs:" >&2
	for f in $bad; do echo "== $f" >&2; head -40 "$f" >&2; done
	exit 1
fi
[ "$status" = 0 ] || { echo "valgrind-demo: the pipeline failed (exit $status)" >&2; exit 1; }
echo "valgrind-demo: $runs tool runs under valgrind, no memory errors, no definite leaks"
