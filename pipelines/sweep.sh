#!/bin/bash
# sweep.sh — a grid of MMoE runs (pipelines/mmoe.mk) with GNU parallel, then a
# summary over seeds (mean and spread per method and type) with jq.
#
#   pipelines/sweep.sh [-s "1 2 3"] [-t "hash256 tfidf"] [-u "logreg mlp"] [-e "20"] [-n 3000]
#                      [-j 2] [-S sshlogin[,sshlogin...]] [-o runs/sweep] [-- MAKEVAR=value ...]
#
# GNU parallel enumerates the grid (seed x text encoder x unipred model x epochs;
# --header :; the text encoders default to hash256 and tfidf, plus glove when
# $MMOE_GLOVE_TABLE names a table),
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
seeds="1 2 3" tencs="hash256 tfidf" unis="logreg" epochs="20" n=3000 jobs=2 ssh= out=runs/sweep
[ -f "${MMOE_GLOVE_TABLE:-}" ] && tencs="$tencs glove"
usage() {
	sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while getopts s:t:u:e:n:j:S:o:h o; do
	case $o in
	s) seeds=$OPTARG ;;
	t) tencs=$OPTARG ;;
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
S=($seeds) TE=($tencs) U=($unis) E=($epochs)
set +f
[ ${#S[@]} -ge 1 ] && [ ${#TE[@]} -ge 1 ] && [ ${#U[@]} -ge 1 ] && [ ${#E[@]} -ge 1 ] || usage
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
grid=$(printf '%s|' "$seeds" "$tencs" "$unis" "$epochs" "$n" "${extra[@]}" | cksum | cut -d' ' -f1)
# 1. data and features once per seed and text encoder (shared by every model of them)
par "joblog.features-$grid" "${mk[@]}" features SEED={seed} TENC={tenc} ::: seed "${S[@]}" ::: tenc "${TE[@]}"
# 2. the grid
par "joblog-$grid" "${mk[@]}" run SEED={seed} TENC={tenc} UNI={uni} EPOCHS={ep} \
	::: seed "${S[@]}" ::: tenc "${TE[@]}" ::: uni "${U[@]}" ::: ep "${E[@]}"

# 3. summary over seeds
: > "$out/runs.txt"
for s in "${S[@]}"; do for t in "${TE[@]}"; do for u in "${U[@]}"; do for e in "${E[@]}"; do
	"${mk[@]}" path SEED="$s" TENC="$t" UNI="$u" EPOCHS="$e" | sed 's|$|/eval.json|' >> "$out/runs.txt"
done; done; done; done
mapfile -t files < "$out/runs.txt"
jq -n -r --arg fmt tsv -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary.tsv"
jq -n -r --arg fmt wide -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary.txt"
jq -n -r --arg fmt text -f pipelines/convert/summary.jq "${files[@]}" > "$out/summary-detail.txt"
# 4. the rus tags against the generator's gen_type, and the router against the rus
# tags, on the test split (from each run's agree.txt and router.txt)
for t in "${TE[@]}"; do for u in "${U[@]}"; do for e in "${E[@]}"; do
	for s in "${S[@]}"; do
		d=$("${mk[@]}" path SEED="$s" TENC="$t" UNI="$u" EPOCHS="$e")
		conf=$(printf '%s\n' "$d" | tr / '\n' | grep -E '^(n|v|t|c|x|uni|ep)=' | paste -sd' ')
		a=$(awk '/^split test:/ { t = 1 } t && /^agreement/ { sub(/%$/, "", $NF); print $NF / 100; exit }' \
			"$(dirname "$d")/agree.txt")
		r=$(sed -n 's/^split test: [0-9]* records, accuracy \([0-9.]*\), macro-F1 \([0-9.]*\) (F1 R [0-9.]*, U [0-9.]*, S \([0-9.]*\)).*/\1 \2 \3/p' \
			"$d/router.txt")
		[ -n "$a" ] && [ -n "$r" ] || { echo "sweep.sh: $d: no test line in agree.txt or router.txt" >&2; exit 1; }
		printf '%s\t%s %s\n' "$conf" "$a" "$r"
	done
done; done; done | awk -F'\t' -v seeds=${#S[@]} '
	function ms(k, j,   m, v, i) {
		m = 0; for (i = 1; i <= n[k]; i++) m += x[k, i, j]; m /= n[k]
		v = 0; for (i = 1; i <= n[k]; i++) v += (x[k, i, j] - m) ^ 2
		return sprintf("%.3f±%.3f", m, n[k] > 1 ? sqrt(v / (n[k] - 1)) : 0)
	}
	!($1 in n) { order[++nk] = $1 }
	{ k = $1; n[k]++; split($2, f, " "); for (j = 1; j <= 4; j++) x[k, n[k], j] = f[j] }
	END {
		printf "rus against gen_type (R~R, U~Uv/Ut, S~S) and the router against rus, test split, mean ± sd over %d seeds\n", seeds
		printf "%-40s %14s %14s %14s %14s\n", "configuration", "rus~gen_type", "router acc", "router mF1", "router F1 S"
		for (i = 1; i <= nk; i++) { k = order[i]; printf "%-40s %14s %14s %14s %14s\n", k, ms(k, 1), ms(k, 2), ms(k, 3), ms(k, 4) }
	}' > "$out/routing.txt"
cat "$out/summary.txt"
echo
cat "$out/routing.txt"
echo "sweep.sh: ${#files[@]} runs; tables in $out/summary.txt, summary-detail.txt, summary.tsv, routing.txt; $out/joblog-$grid" >&2
