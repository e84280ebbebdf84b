#!/bin/bash
# study.sh — when does MMoE pay? (make mmoe-study)  Runs pipelines/mmoe.mk over
# training-set sizes and synergy shares of the synthetic world, several seeds,
# both routers (the tag router and the mixture gate), and writes one table and
# gnuplot charts of F1 and of the oracle gap.
#
#   pipelines/study.sh [--sizes "3000 10000 30000"] [--seeds "1 2 3"] [--one-seed-from 30000]
#                      [--shares "0.1 0.3 0.5 0.7"] [--share-size 10000] [--crossfit-sizes "3000 10000"]
#                      [--epochs 20] [--jobs 2] [--output runs/study] [--mustard SRC]
#                      [-- MAKEVAR=value ...]
#
# The grid: at the generator's synergy share (0.3), every size of --sizes; at
# --share-size records, every synergy share of --shares.  A size at or above
# --one-seed-from runs the first seed only.  Every run trains the held-out gate
# (GATE=heldout of mmoe.mk: a fifth of train held out from the baseline and the
# experts); the sizes of --crossfit-sizes, at the generator's share, also run the
# cross-fitted one (GATE=crossfit: 3 folds by id, every train record for the
# baseline and experts of the plain run).  A synergy share s is mmoe-synth --mix
# R=3(1-s)/7,Uv=2(1-s)/7,Ut=2(1-s)/7,S=s (the generator's default proportions of
# R, Uv and Ut), in a RUNS directory of its own (s=S/).  With --mustard SRC
# (MUStARD's sources, as MUSTARD_SRC of make mustard), MUStARD joins the table:
# both tracks of pipelines/mustard.mk (tags from the authors' zero-shot
# predictions, paper, or from our cross-fitted ones, own), hashed text, the
# study's seeds, the held-out gate.
#
# Jobs (one per share, size and seed; its gates one after the other) run under
# GNU parallel, largest first, with a job log (--resume-failed: a second call
# runs only what failed or never ran) and Make deciding what is stale.
#
# Output (in --output DIR):
#   table.txt      one row per configuration (share, size, gate): F1 of the
#                  positive class on the test split for baseline, soft MMoE with
#                  the tag router (tag) and with the mixture gate (gate), hard
#                  routing by the tag router, mean of experts and oracle routing
#                  (mean ± sd over seeds), then paired differences with 95%
#                  bootstrap intervals over the test records of all its seeds
#                  pooled: gate - tag, tag - base, gate - base, and the oracle gap
#                  (oracle - the better soft mixture); "*" marks an interval that
#                  excludes 0.  Below it, the gate's weights: mean of the largest
#                  weight and the share of records whose largest weight is on the
#                  expert most often chosen (1.0 would be collapse).
#   table.tsv      the same numbers, one line per configuration
#   pooled/        the pooled test records and mmoe-eval reports of each configuration
#   f1_size.png, gap_size.png, f1_share.png, gap_share.png (and .svg, .dat, .gp:
#                  `gnuplot f1_size.gp` draws one again), when gnuplot is installed
#   joblog, results/   GNU parallel's job log and each job's output
#   time.txt       the wall time of the call
set -eu -o pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sizes="3000 10000 30000" seeds="1 2 3" big=30000 shares="0.1 0.3 0.5 0.7" share_n=10000
xf_sizes="3000 10000" epochs=20 jobs=2 out=runs/study
base_share=0.3 jobargs=() mustard=
usage() {
	sed -n '7,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
# (internal: --job SHARE N SEED GATES runs one job of the grid, under GNU parallel)
if [ "${1:-}" = --job ]; then
	[ $# -ge 5 ] || usage
	jobargs=("$2" "$3" "$4" "$5")
	shift 5
fi
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; break ;;
	-h | --help) sed -n '2,53p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
	esac
	# every option takes a value: the variable it sets
	case $1 in
	--sizes | --seeds | --shares | --epochs | --jobs) var=${1#--} ;;
	--one-seed-from) var=big ;;
	--share-size) var=share_n ;;
	--crossfit-sizes) var=xf_sizes ;;
	--output) var=out ;;
	--mustard) var=mustard ;;
	*) echo "study.sh: unknown option '$1'" >&2; usage ;;
	esac
	[ $# -ge 2 ] || { echo "study.sh: option $1 needs a value" >&2; usage; }
	printf -v "$var" '%s' "$2"
	shift 2
done
extra=("$@")
boot=1000   # bootstrap resamples, as mmoe.mk's BOOT (given after --)
for a in "${extra[@]}"; do case $a in BOOT=*) boot=${a#BOOT=} ;; esac; done
num() { [[ $2 =~ ^[0-9]+$ ]] || { echo "study.sh: $1: '$2' is not a whole number" >&2; exit 2; }; }
for v in $sizes $seeds $xf_sizes; do num "a size or seed" "$v"; done
num --one-seed-from "$big"; num --share-size "$share_n"; num --epochs "$epochs"; num --jobs "$jobs"
for s in $shares; do
	awk -v s="$s" 'BEGIN { exit !(s ~ /^0?\.[0-9]+$/ && s > 0 && s < 1) }' ||
		{ echo "study.sh: --shares: '$s' is not a share above 0 and below 1 (0.3, not 30%)" >&2; exit 2; }
done
set -f
# shellcheck disable=SC2206
SZ=($sizes) SE=($seeds) SH=($shares) XS=($xf_sizes)
set +f
if [ ${#SZ[@]} = 0 ] || [ ${#SE[@]} = 0 ] || [ ${#SH[@]} = 0 ]; then usage; fi
command -v parallel >/dev/null || { echo "study.sh: GNU parallel is not installed" >&2; exit 2; }
: "${MMOE_BIN:=$here/bin}"
export MMOE_BIN
t0=$(date +%s)
cd "$here"
mkdir -p "$out/pooled"
out=$(cd "$out" && pwd)
mk=(make --no-print-directory -s -f pipelines/mmoe.mk MMOE_BIN="$MMOE_BIN" EPOCHS="$epochs" TENCS= "${extra[@]}")
mix() { awk -v s="$1" 'BEGIN { printf "R=%.6f,Uv=%.6f,Ut=%.6f,S=%s", 3 * (1 - s) / 7, 2 * (1 - s) / 7, 2 * (1 - s) / 7, s }'; }
has() { local x=$1 y; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
# one job: its gates in turn (they share the data, features and tags)
# MUStARD: pipelines/mustard.mk, hashed text, its runs under RUNS/mustard/
mm=(make --no-print-directory -s -f pipelines/mustard.mk MMOE_BIN="$MMOE_BIN" EPOCHS="$epochs" ENC=hash ENCS=hash
	RUNS="$out/runs" "${extra[@]}")
if [ ${#jobargs[@]} = 4 ]; then
	for g in ${jobargs[3]//,/ }; do
		case ${jobargs[0]} in
		MUStARD-*) "${mm[@]}" one TRACK="${jobargs[0]#MUStARD-}" SEED="${jobargs[2]}" GATE="$g" ;;
		*) "${mk[@]}" run RUNS="$out/runs/s=${jobargs[0]}" N="${jobargs[1]}" SEED="${jobargs[2]}" GATE="$g" \
			SYNTH_OPTS="--mix $(mix "${jobargs[0]}")" ;;
		esac
	done
	exit 0
fi

# the grid: share, size, seed, gates (comma-separated); one line per job
{
	for n in "${SZ[@]}"; do
		g=heldout
		[ "$n" -ge "$big" ] || ! has "$n" "${XS[@]}" || g=heldout,crossfit
		for s in "${SE[@]}"; do
			printf '%s\t%s\t%s\t%s\n' "$base_share" "$n" "$s" "$g"
			[ "$n" -lt "$big" ] || break
		done
	done
	for sh in "${SH[@]}"; do
		awk -v a="$sh" -v b="$base_share" 'BEGIN { exit !(a == b) }' && has "$share_n" "${SZ[@]}" && continue
		for s in "${SE[@]}"; do
			printf '%s\t%s\t%s\t%s\n' "$sh" "$share_n" "$s" heldout
			[ "$share_n" -lt "$big" ] || break
		done
	done
	if [ -n "$mustard" ]; then
		for t in paper own; do for s in "${SE[@]}"; do printf 'MUStARD-%s\t-\t%s\theldout\n' "$t" "$s"; done; done
	fi
} | sort -t$'\t' -k2,2nr -k1,1 -k3,3n > "$out/grid.tsv"
# --resume-failed goes by job number: one job log per grid (and settings)
grid=$(printf '%s|' "$(cat "$out/grid.tsv")" "$epochs" "${extra[@]}" | cksum | cut -d' ' -f1)
# MUStARD's data and features first, here (datasets.mk; the jobs share them)
[ -z "$mustard" ] || "${mm[@]}" features MUSTARD_SRC="$mustard" >/dev/null
parallel --will-cite --colsep '\t' --joblog "$out/joblog-$grid" --results "$out/results" --resume-failed \
	--halt soon,fail=1 -j "$jobs" bash "$here/pipelines/study.sh" --job '{1}' '{2}' '{3}' '{4}' --epochs "$epochs" --output "$out" \
	-- "${extra[@]}" :::: "$out/grid.tsv"

# ---- the table ------------------------------------------------------------------
runpath() { # share n seed gate
	case $1 in
	MUStARD-*) "${mm[@]}" path TRACK="${1#MUStARD-}" SEED="$3" GATE="$4" ;;
	*) "${mk[@]}" path RUNS="$out/runs/s=$1" N="$2" SEED="$3" GATE="$4" ;;
	esac
}
METH=(p_base p_mmoe p_gate p_hard p_mean p_oracle)
PM=()
for m in "${METH[@]}"; do PM+=(-p "$m"); done
FIELDS=id,split,label,rus,gen_type,$(IFS=,; echo "${METH[*]}"),p_gate_w
: > "$out/runs.tsv"
: > "$out/pooled.tsv"
# configurations in table order: synthetic by share, size, gate (held out first), then MUStARD
awk -F'\t' '{ n = split($4, g, ","); for (i = 1; i <= n; i++) print ($1 ~ /^MUStARD/) "\t" $1 "\t" $2 "\t" g[i] "\t" $3 }' \
	"$out/grid.tsv" | sort -t$'\t' -k1,1n -k2,2g -k3,3n -k4,4r -k5,5n | cut -f2- > "$out/configs.tsv"
while IFS=$'\t' read -r sh n g; do
	name="s=$sh n=$n gate=$g"
	files=()
	while IFS=$'\t' read -r sh2 n2 g2 s; do
		[ "$sh2/$n2/$g2" = "$sh/$n/$g" ] || continue
		d=$(runpath "$sh" "$n" "$s" "$g")
		files+=("$d/fused.zst")
		recs=$(jq .records "$d/eval.json")
		jq -r --arg sh "$sh" --arg n "$n" --arg g "$g" --arg s "$s" '.blocks[] | select(.by == null)
			| .methods | to_entries[] | [$sh, $n, $g, $s, .key, .value.f1.value] | @tsv' "$d/eval.json" >> "$out/runs.tsv"
	done < "$out/configs.tsv"
	p=$out/pooled/${name// /_}
	"$MMOE_BIN/mmoe-cat" --where split=test --fields "$FIELDS" -o "$p.zst" "${files[@]}"
	for ref in p_base p_mmoe; do
		"$MMOE_BIN/mmoe-eval" -q "${PM[@]}" --split test --diff "$ref" \
			--bootstrap "$boot" --seed 1 --format json "$p.zst" > "$p.vs-$ref.json"
	done
	# the oracle gap against the better soft mixture (by pooled F1)
	best=$(jq -r '.blocks[0].methods | if .p_gate.f1.value > .p_mmoe.f1.value then "p_gate" else "p_mmoe" end' "$p.vs-p_base.json")
	"$MMOE_BIN/mmoe-eval" -q -p "$best" -p p_oracle --split test --diff "$best" \
		--bootstrap "$boot" --seed 1 --format json "$p.zst" > "$p.gap.json"
	{
		jq -r '.blocks[0].methods.p_gate.f1.diff | ["gate-tag", .value, .lo, .hi] | @tsv' "$p.vs-p_mmoe.json"
		jq -r '.blocks[0].methods | ["tag-base", .p_mmoe.f1.diff.value, .p_mmoe.f1.diff.lo, .p_mmoe.f1.diff.hi],
			["gate-base", .p_gate.f1.diff.value, .p_gate.f1.diff.lo, .p_gate.f1.diff.hi] | @tsv' "$p.vs-p_base.json"
		jq -r '.blocks[0].methods.p_oracle.f1.diff | ["gap", .value, .lo, .hi] | @tsv' "$p.gap.json"
		printf 'records\t%s\t0\t0\n' "$recs"
		# the gate's weights: mean largest weight, share of the modal top expert
		"$MMOE_BIN/mmoe-cat" --json --fields p_gate_w "$p.zst" | jq -rs '
			map(.p_gate_w | if type == "object" then .data else . end) as $w
			| ($w | map(max) | add / length) as $mx
			| ($w | map(index(max)) | group_by(.) | map(length) | max / ($w | length)) as $mode
			| ["weights", $mx, $mode, 0] | @tsv'
	} | awk -F'\t' -v c="$sh"$'\t'"$n"$'\t'"$g" -v k=${#files[@]} -v best="$best" '{ print c "\t" k "\t" best "\t" $0 }' >> "$out/pooled.tsv"
done < <(cut -f1-3 "$out/configs.tsv" | uniq)

awk -F'\t' -v meth="${METH[*]}" '
	function ms(k,   m, v, i) {
		m = 0; for (i = 1; i <= cnt[k]; i++) m += x[k, i]; m /= cnt[k]
		v = 0; for (i = 1; i <= cnt[k]; i++) v += (x[k, i] - m) ^ 2
		return cnt[k] > 1 ? sprintf("%.3f±%.3f", m, sqrt(v / (cnt[k] - 1))) : sprintf("%.3f", m)
	}
	function mean(k,   m, i) { m = 0; for (i = 1; i <= cnt[k]; i++) m += x[k, i]; return m / cnt[k] }
	function sd(k,   m, v, i) { m = mean(k); v = 0; for (i = 1; i <= cnt[k]; i++) v += (x[k, i] - m) ^ 2
		return cnt[k] > 1 ? sqrt(v / (cnt[k] - 1)) : 0 }
	function dname(d) { return d ~ /^MUStARD/ ? d : "synth S=" d }
	function iv(k) { return sprintf("%s%+.3f [%+.3f,%+.3f]", (lo[k] > 0 || hi[k] < 0) ? "*" : " ", val[k], lo[k], hi[k]) }
	FNR == 1 { file++ }
	file == 1 { c = $1 "\t" $2 "\t" $3; k = c SUBSEP $5; cnt[k]++; x[k, cnt[k]] = $6; next }
	file == 2 { c = $1 "\t" $2 "\t" $3; if (!(c in seen)) { seen[c] = 1; order[++nc] = c }
		nseeds[c] = $4; bestof[c] = $5; k = c SUBSEP $6; val[k] = $7; lo[k] = $8; hi[k] = $9 }
	END {
		nm = split(meth, M, " ")
		split("base tag gate hard mean oracle", H, " ")
		printf "%-13s %6s %-8s %5s", "data", "n", "gate", "seeds"
		for (i = 1; i <= nm; i++) printf " %13s", H[i]
		printf "  %-24s %-24s %-24s %-24s\n", "gate-tag [95%]", "tag-base [95%]", "gate-base [95%]", "oracle gap [95%]"
		for (j = 1; j <= nc; j++) {
			c = order[j]; split(c, f, "\t")
			printf "%-13s %6d %-8s %5d", dname(f[1]), val[c SUBSEP "records"], f[3], nseeds[c]
			for (i = 1; i <= nm; i++) printf " %13s", ms(c SUBSEP M[i])
			printf "  %-24s %-24s %-24s %-24s\n", iv(c SUBSEP "gate-tag"), iv(c SUBSEP "tag-base"),
				iv(c SUBSEP "gate-base"), iv(c SUBSEP "gap") " " (bestof[c] == "p_gate" ? "(gate)" : "(tag)")
			tsv = tsv sprintf("%s\t%s\t%s\t%d", f[1], f[2], f[3], nseeds[c])
			for (i = 1; i <= nm; i++) tsv = tsv sprintf("\t%.6f\t%.6f", mean(c SUBSEP M[i]), sd(c SUBSEP M[i]))
			split("gate-tag tag-base gate-base gap", D, " ")
			for (i = 1; i <= 4; i++) tsv = tsv sprintf("\t%.6f\t%.6f\t%.6f", val[c SUBSEP D[i]], lo[c SUBSEP D[i]], hi[c SUBSEP D[i]])
			tsv = tsv sprintf("\t%.6f\t%.6f\n", val[c SUBSEP "weights"], lo[c SUBSEP "weights"])
			wt = wt sprintf("%-13s %6d %-8s %14.3f %14.3f\n", dname(f[1]), val[c SUBSEP "records"], f[3],
				val[c SUBSEP "weights"], lo[c SUBSEP "weights"])
		}
		printf "\nF1 of the positive class on the test split: mean ± sd over the seeds (one value: one seed).\n"
		printf "Differences: pooled over the seeds'"'"' test records, paired bootstrap (95%%); * = the interval excludes 0.\n"
		printf "oracle gap: oracle routing minus the better soft mixture (named).  S: synergy share of mmoe-synth --mix;\n"
		printf "n: records (all splits; test 15%% of the synthetic ones).  MUStARD: tags from the authors'"'"' zero-shot\n"
		printf "predictions (paper) or our cross-fitted ones (own), hashed text, the models of make mustard.\n"
		printf "gate heldout: the baseline and experts train without the fifth of train the gate trains on;\n"
		printf "gate crossfit: they train on all of train, the gate on out-of-fold predictions (3 folds).\n"
		printf "\nthe mixture gate'"'"'s weights on the test split (pooled): collapse would put both near 1\n"
		printf "%-13s %6s %-8s %14s %14s\n", "data", "n", "gate", "mean max w", "modal expert"
		printf "%s", wt
		hdr = "share\tn\tgate\tseeds"
		for (i = 1; i <= nm; i++) hdr = hdr "\t" H[i] "\t" H[i] "_sd"
		for (i = 1; i <= 4; i++) hdr = hdr "\t" D[i] "\t" D[i] "_lo\t" D[i] "_hi"
		printf "%s\tgate_max_w\tgate_modal_share\n%s", hdr, tsv > "/dev/stderr"
	}' "$out/runs.tsv" "$out/pooled.tsv" > "$out/table.txt" 2> "$out/table.tsv"

# ---- charts -------------------------------------------------------------------------
plots() {
	command -v gnuplot >/dev/null || { echo "study.sh: gnuplot is not installed: no charts" >&2; return 0; }
	local axis key xcol sel
	for axis in size share; do
		if [ "$axis" = size ]; then
			key="records generated (70% train, 15% val, 15% test; synthetic, S share $base_share)"
			sel=$(awk -F'\t' -v b="$base_share" 'NR > 1 && $1 == b && $3 == "heldout"' "$out/table.tsv")
			xcol=2
		else
			key="synergy share S of the synthetic world ($share_n records)"
			sel=$(awk -F'\t' -v n="$share_n" 'NR > 1 && $2 == n && $3 == "heldout"' "$out/table.tsv")
			xcol=1
		fi
		[ "$(printf '%s\n' "$sel" | grep -c .)" -ge 2 ] || continue
		printf '# %s\n# x base sd tag sd gate sd hard sd mean sd oracle sd\n' "$key" > "$out/f1_$axis.dat"
		printf '%s\n' "$sel" | awk -F'\t' -v x="$xcol" '{ printf "%s", $x; for (i = 5; i <= 16; i++) printf " %s", $i; printf "\n" }' \
			| sort -g >> "$out/f1_$axis.dat"
		printf '# %s\n# x oracle-tag oracle-gate oracle-base (pooled F1 differences)\n' "$key" > "$out/gap_$axis.dat"
		printf '%s\n' "$sel" | awk -F'\t' -v x="$xcol" '{ printf "%s %.4f %.4f %.4f\n", $x, $15 - $7, $15 - $9, $15 - $5 }' \
			| sort -g >> "$out/gap_$axis.dat"
		gp "$out/f1_$axis" "F1 of the positive class, test split (mean ± sd over seeds; held-out gate)" "$key" "F1" \
			"$([ "$axis" = size ] && echo 'set logscale x')" \
			"'f1_$axis.dat' using 1:2:3 with yerrorlines title 'baseline', '' using 1:4:5 with yerrorlines title 'soft, tag router', '' using 1:6:7 with yerrorlines title 'soft, mixture gate', '' using 1:8:9 with yerrorlines title 'hard', '' using 1:10:11 with yerrorlines title 'mean of experts', '' using 1:12:13 with yerrorlines title 'oracle routing'"
		gp "$out/gap_$axis" "oracle gap: oracle routing minus each method (F1, test split, mean over seeds)" "$key" "F1 difference" \
			"$([ "$axis" = size ] && echo 'set logscale x')" \
			"'gap_$axis.dat' using 1:2 with linespoints title 'oracle - soft, tag router', '' using 1:3 with linespoints title 'oracle - soft, mixture gate', '' using 1:4 with linespoints title 'oracle - baseline', 0 with lines dt 2 notitle"
	done
}
gp() { # base title xlabel ylabel extra plot
	local b=$1 name
	name=$(basename "$b")
	cat > "$b.gp" <<-EOF
	# Re-render with: gnuplot $name.gp  (writes $name.png and $name.svg)
	if (!exists("out")) out = '$name'
	if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
	  set terminal pngcairo size 960,540 noenhanced font ',10'
	} else {
	  set terminal png size 960,540 noenhanced
	}
	set output out.'.png'
	set title "$2"
	set xlabel "$3"
	set ylabel "$4"
	set key outside right top
	set grid
	$5
	plot $6
	set terminal svg size 960,540 noenhanced
	set output out.'.svg'
	replot
	unset output
	EOF
	(cd "$(dirname "$b")" && gnuplot -e "out='$name.tmp'" "$name.gp" && mv "$name.tmp.png" "$name.png" && mv "$name.tmp.svg" "$name.svg")
}
plots
echo "$(( $(date +%s) - t0 )) s wall for this call (make skips what is up to date)" > "$out/time.txt"
cat "$out/table.txt"
echo "study.sh: $(wc -l < "$out/grid.tsv") jobs; $out/table.txt, table.tsv, *.png; $(cat "$out/time.txt")" >&2
