#!/bin/bash
# sweep.sh — a grid of MMoE runs (pipelines/mmoe.mk) with GNU parallel, then a
# summary over seeds (mean and spread per method and type) with jq.
#
#   pipelines/sweep.sh [-s "1 2 3"] [-u "logreg mlp"] [-e "20"] [-n 3000] [-j 2]
#                      [-S sshlogin[,sshlogin...]] [-o runs/sweep] [-- MAKEVAR=value ...]
#
# GNU parallel enumerates the grid (seed x unipred model x epochs; --header :),
# keeps a job log (--joblog) and every job's output (--results), stops at the
# first failure (--halt soon,fail=1), and on a second invocation reruns only the
# jobs that failed or never ran (--resume-failed).  Each job is a make target, so
# Make decides what is stale and a finished run costs nothing; with -S the same
# jobs run over ssh on machines sharing this directory (same path, built bin/).
#
# Output (in -o DIR): joblog-<grid id>, results/ (stdout/stderr of each job), runs.txt (the
# eval.json of every run), summary.txt (one table: a line per configuration and
# method, F1/acc/precision/recall and F1 per rus type and per gen_type, mean ± sd
# over seeds), summary-detail.txt (every breakdown and metric), summary.tsv (one
# row per configuration x breakdown x method x metric: seeds, mean, sd, min, max).
set -eu -o pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seeds="1 2 3" unis="logreg" epochs="20" n=3000 jobs=2 ssh= out=runs/sweep
usage() {
	sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while getopts s:u:e:n:j:S:o:h o; do
	case $o in
	s) seeds=$OPTARG ;;
	u) unis=$OPTARG ;;
	e) epochs=$OPTARG ;;
	n) n=$OPTARG ;;
	j) jobs=$OPTARG ;;
	S) ssh=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" != -- ] || shift
extra=("$@")
set -f
# shellcheck disable=SC2206
S=($seeds) U=($unis) E=($epochs)
set +f
[ ${#S[@]} -ge 1 ] && [ ${#U[@]} -ge 1 ] && [ ${#E[@]} -ge 1 ] || usage
command -v parallel >/dev/null || { echo "sweep.sh: GNU parallel is not installed" >&2; exit 2; }
: "${MMOE_BIN:=$here/bin}"
cd "$here"
mkdir -p "$out"
mk=(make --no-print-directory -s -f pipelines/mmoe.mk MMOE_BIN="$MMOE_BIN" N="$n" "${extra[@]}")
par() { # joblog-name parallel-arguments...
	local log=$1; shift
	parallel --header : --joblog "$out/$log" --results "$out/results" --resume-failed \
		--halt soon,fail=1 -j "$jobs" -q ${ssh:+--sshlogin "$ssh" --workdir "$here"} "$@"
}
# --resume-failed goes by job number: one job log per grid (and make settings)
grid=$(printf '%s|' "$seeds" "$unis" "$epochs" "$n" "${extra[@]}" | cksum | cut -d' ' -f1)
# 1. data and features once per seed (shared by every model of that seed)
par "joblog.features-$grid" "${mk[@]}" features SEED={seed} ::: seed "${S[@]}"
# 2. the grid
par "joblog-$grid" "${mk[@]}" run SEED={seed} UNI={uni} EPOCHS={ep} ::: seed "${S[@]}" ::: uni "${U[@]}" ::: ep "${E[@]}"

# 3. summary over seeds
: > "$out/runs.txt"
for s in "${S[@]}"; do for u in "${U[@]}"; do for e in "${E[@]}"; do
	"${mk[@]}" path SEED="$s" UNI="$u" EPOCHS="$e" | sed 's|$|/eval.json|' >> "$out/runs.txt"
done; done; done
mapfile -t files < "$out/runs.txt"
jq -n -r --arg fmt tsv -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary.tsv"
jq -n -r --arg fmt wide -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary.txt"
jq -n -r --arg fmt text -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary-detail.txt"
cat "$out/summary.txt"
echo "sweep.sh: ${#files[@]} runs; tables in $out/summary.txt, summary-detail.txt, summary.tsv; $out/joblog-$grid" >&2
