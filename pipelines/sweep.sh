#!/bin/bash
# sweep.sh — a grid of MMoE runs (pipelines/mmoe.mk) with GNU parallel, on this
# machine or on several over ssh, then a summary over seeds (mean and spread
# per method and type) with jq.
#
#   pipelines/sweep.sh [--seeds "1 2 3"] [--text "hash256 tfidf"] [--unipred "logreg mlp"]
#                      [--epochs "20"] [--records 3000] [--jobs 2]
#                      [--sshlogin LOGIN[,LOGIN...] | --sshloginfile FILE] [--output runs/sweep] [-- MAKEVAR=value ...]
# (short forms: -s, -t, -u, -e, -n, -j, -S, -o)
#
# GNU parallel enumerates the grid (seed x text encoder x unipred model x epochs;
# --header :; the text encoders are hash256 and tfidf by default, and glove too
# when $MMOE_GLOVE_TABLE names a table),
# keeps a job log (--joblog) and every job's output (--results), stops at the
# first failure (--halt soon,fail=1), and on a second invocation reruns only the
# jobs that failed or never ran (--resume-failed).  Each job is a make target, so
# Make decides what is stale and a finished run costs nothing.
#
# Other machines (--sshlogin, GNU parallel's logins: ":" is this machine,
# "user@host" or "4/host" another; --sshloginfile: a file of them, one a line)
# share no disk with this one.  Data and features are made here, once per seed.
# The rest of the grid runs as units of work, split where Make's graph is
# shared (pipelines/mmoe.mk, unit-files): "tagged" per seed and unipred model
# (feat.zst in; the cross-fitted unimodal predictions, rus.zst, R/U/S.zst and
# agree.txt out), then "models" per seed, unipred model and epochs (rus.zst and
# R/U/S.zst in; the run directory out).  Make here judges which units are
# stale; each stale one is packed (OUT/units/*.in.tar) and sent with
# --transferfile, the tools and pipelines/ once per machine with --basefile
# (OUT/units/base.tar); pipelines/sweep-unit.sh makes the unit there in a
# directory of its own and packs its results, which come back with --return and
# are unpacked into RUNS here; --cleanup removes what was sent.  A unit killed on
# its machine returns nothing (its archive is renamed into place only when
# complete), fails in the job log, and is run again by the next invocation
# (--resume-failed).  A machine needs the runtime packages of mmoe
# (scripts/deps.sh build), rsync and the clock of this one (Make compares the
# times of the files that come back with those made here).
#
# Output (in --output DIR): joblog-<grid id> (and joblog.features-, joblog.tagged-),
# results/ (stdout/stderr of each job), runs.txt (the eval.json of every run),
# summary.txt (one table: a line per configuration and method, F1/acc/precision/
# recall and F1 per rus type and per gen_type, mean ± sd over seeds),
# summary-detail.txt (every breakdown and metric), summary.tsv (one row per
# configuration x breakdown x method x metric: seeds, mean, sd, min, max),
# routing.txt (rus against gen_type, the router against rus).
set -eu -o pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seeds="1 2 3" tencs="hash256 tfidf" unis="logreg" epochs="20" n=3000 jobs=2 logins= loginfile= out=runs/sweep
[ ! -f "${MMOE_GLOVE_TABLE:-}" ] || tencs="$tencs glove"
usage() {
	sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	o=$1 v=
	case $o in
	--*=*) v=${o#*=} o=${o%%=*} ;;
	--) shift; break ;;
	-h | --help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-[stueanjSo]?*) v=${o#-?} o=${o:0:2} ;;
	esac
	case $o in
	-s | --seeds | -t | --text | -u | --unipred | -e | --epochs | -n | --records | -j | --jobs | \
	-S | --sshlogin | --sshloginfile | -o | --output)
		if [ -z "$v" ]; then
			[ $# -ge 2 ] || { echo "sweep.sh: option $o needs a value" >&2; usage; }
			v=$2
			shift
		fi ;;
	*) echo "sweep.sh: unknown option '$o'" >&2; usage ;;
	esac
	shift
	case $o in
	-s | --seeds) seeds=$v ;;
	-t | --text) tencs=$v ;;
	-u | --unipred) unis=$v ;;
	-e | --epochs) epochs=$v ;;
	-n | --records) n=$v ;;
	-j | --jobs) jobs=$v ;;
	-S | --sshlogin) logins=$v ;;
	--sshloginfile) loginfile=$v ;;
	-o | --output) out=$v ;;
	esac
done
extra=("$@")
set -f
# shellcheck disable=SC2206
S=($seeds) TE=($tencs) U=($unis) E=($epochs)
set +f
[ ${#S[@]} -ge 1 ] && [ ${#TE[@]} -ge 1 ] && [ ${#U[@]} -ge 1 ] && [ ${#E[@]} -ge 1 ] || usage
[ -z "$logins" ] || [ -z "$loginfile" ] || { echo "sweep.sh: --sshlogin and --sshloginfile exclude each other" >&2; exit 2; }
[ -z "$loginfile" ] || [ -r "$loginfile" ] || { echo "sweep.sh: --sshloginfile: cannot read '$loginfile'" >&2; exit 2; }
command -v parallel >/dev/null || { echo "sweep.sh: GNU parallel is not installed" >&2; exit 2; }
: "${MMOE_BIN:=$here/bin}"
[ -z "$loginfile" ] || loginfile=$(cd "$(dirname "$loginfile")" && pwd)/$(basename "$loginfile")
cd "$here"
mkdir -p "$out"
out=$(cd "$out" && pwd)
mk=(make --no-print-directory -s -f pipelines/mmoe.mk MMOE_BIN="$MMOE_BIN" N="$n" "${extra[@]}")
par() { # joblog-name parallel-arguments...
	local log=$1; shift
	parallel --will-cite --header : --joblog "$out/$log" --results "$out/results" --resume-failed \
		--halt soon,fail=1 -j "$jobs" "$@"
}
# --resume-failed goes by job number: one job log per grid (and make settings)
grid=$(printf '%s|' "$seeds" "$tencs" "$unis" "$epochs" "$n" "${extra[@]}" | cksum | cut -d' ' -f1)
# another machine than this one among the logins?
remote=0
case ,$logins, in *,[!:,]*) remote=1 ;; esac
[ -z "$loginfile" ] || remote=1
# 1. data and features once per seed and text encoder, here (shared by every model of them)
par "joblog.features-$grid" -q "${mk[@]}" features SEED={seed} TENC={tenc} ::: seed "${S[@]}" ::: tenc "${TE[@]}"
# 2. the grid
if [ "$remote" = 0 ]; then
	par "joblog-$grid" -q "${mk[@]}" run SEED={seed} TENC={tenc} UNI={uni} EPOCHS={ep} \
		::: seed "${S[@]}" ::: tenc "${TE[@]}" ::: uni "${U[@]}" ::: ep "${E[@]}"
else
	# grid values name the units' files, which GNU parallel sends by name
	for v in "${S[@]}" "${TE[@]}" "${U[@]}" "${E[@]}"; do
		case $v in *[!A-Za-z0-9._-]*) echo "sweep.sh: '$v': with other machines, seeds, text encoders, models and epochs are made of letters, digits, '.', '_' and '-'" >&2; exit 2 ;; esac
	done
	units=$out/units
	mkdir -p "$units"
	# the base archive: the tools and the pipelines, with their times (Make
	# compares them with the inputs' on the other side)
	b=$(mktemp -d "$units/.base.XXXXXX")
	mkdir "$b/bin"
	cp -p "$MMOE_BIN"/mmoe-* "$b/bin/"
	cp -pR pipelines "$b/"
	tar -C "$b" -cf "$units/base.tar" bin pipelines
	rm -rf "$b"
	where=(--sshlogin "$logins")
	[ -z "$loginfile" ] || where=(--sshloginfile "$loginfile")
	# unit_pack UNIT ID MAKEVARS... : ID.in.tar holds the unit's inputs and
	# make arguments, or only unit.done when Make here finds it up to date
	unit_pack() {
		local unit=$1 id=$2 p d runs f info
		shift 2
		d=$(mktemp -d "$units/.pack.XXXXXX")
		if "${mk[@]}" -q "$unit" "$@" 2>/dev/null; then
			: > "$d/unit.done"
		else
			mapfile -t info < <("${mk[@]}" unit-files UNIT="$unit" "$@")
			runs=${info[0]#runs }
			{ printf '%s\n' N="$n" "${extra[@]}" "$@"
			  for f in ${info[2]#old}; do printf -- '--assume-old=runs/%s\n' "${f#"$runs"/}"; done
			  echo "$unit"; } > "$d/unit.args"
			for f in ${info[3]#out}; do printf '%s\n' "${f#"$runs"/}"; done > "$d/unit.out"
			for f in ${info[1]#in}; do
				p=${f#"$runs"/}
				mkdir -p "$d/runs/$(dirname "$p")"
				cp -p "$f" "$d/runs/$p"
			done
		fi
		tar --format=posix -C "$d" -cf "$units/$id.in.tar.part" .
		mv "$units/$id.in.tar.part" "$units/$id.in.tar"
		rm -rf "$d"
	}
	# unit_unpack UNIT ID MAKEVARS... : what came back goes into RUNS, once;
	# Make here has the last word
	unit_unpack() {
		local unit=$1 id=$2 runs
		shift 2
		rm -f "$units/$id.in.tar"
		if [ -f "$units/$id.out.tar" ]; then
			runs=$("${mk[@]}" unit-files UNIT="$unit" "$@" | sed -n 's/^runs //p')
			mkdir -p "$runs"
			tar -C "$runs" -xf "$units/$id.out.tar"
			rm -f "$units/$id.out.tar"
		fi
		if ! "${mk[@]}" -q "$unit" "$@" 2>/dev/null; then
			echo "sweep.sh: unit $id is not up to date here after the other machines; making it here" >&2
			"${mk[@]}" "$unit" "$@"
		fi
	}
	# the job, wherever it runs: in GNU parallel's work directory there, or in
	# $units for a job on ":" (where nothing was sent)
	job() { # ID
		local j=job.$1
		printf '{ [ ! -e %q/%s.in.tar ] || cd %q; } && ' "$units" "$1" "$units"
		printf 'rm -rf %s && mkdir %s && tar -xf %s.in.tar -C %s && ' "$j" "$j" "$1" "$j"
		printf 'if [ -e %s/unit.done ]; then tar -cf %s.out.tar --files-from /dev/null; ' "$j" "$1"
		printf 'else tar -xf base.tar -C %s && bash %s/pipelines/sweep-unit.sh %s %s.out.tar; fi && rm -rf %s' \
			"$j" "$j" "$j" "$1" "$j"
	}
	remote_par() { # joblog-name unit id-pattern ::: grid...
		local log=$1 unit=$2 id=$3 rc=0
		shift 3
		(cd "$units" && par "$log" "${where[@]}" --workdir "mmoe-sweep.$grid" --basefile base.tar \
			--transferfile "$id.in.tar" --return "$id.out.tar" --cleanup "$(job "$id")" "$@") || rc=$?
		# (GNU parallel makes its work directory here too, for the jobs on ":")
		rmdir "$units/mmoe-sweep.$grid" 2>/dev/null || true
		return $rc
	}
	rc=0
	for s in "${S[@]}"; do for t in "${TE[@]}"; do for u in "${U[@]}"; do
		unit_pack tagged "tagged.$s.$t.$u" SEED="$s" TENC="$t" UNI="$u"
	done; done; done
	remote_par "joblog.tagged-$grid" tagged 'tagged.{seed}.{tenc}.{uni}' \
		::: seed "${S[@]}" ::: tenc "${TE[@]}" ::: uni "${U[@]}" || rc=$?
	for s in "${S[@]}"; do for t in "${TE[@]}"; do for u in "${U[@]}"; do
		[ "$rc" = 0 ] || [ -f "$units/tagged.$s.$t.$u.out.tar" ] || { rm -f "$units/tagged.$s.$t.$u.in.tar"; continue; }
		unit_unpack tagged "tagged.$s.$t.$u" SEED="$s" TENC="$t" UNI="$u"
	done; done; done
	[ "$rc" = 0 ] || { echo "sweep.sh: a unit failed; see $out/joblog.tagged-$grid (run again to resume)" >&2; exit 1; }
	for s in "${S[@]}"; do for t in "${TE[@]}"; do for u in "${U[@]}"; do for e in "${E[@]}"; do
		unit_pack models "models.$s.$t.$u.$e" SEED="$s" TENC="$t" UNI="$u" EPOCHS="$e"
	done; done; done; done
	remote_par "joblog-$grid" models 'models.{seed}.{tenc}.{uni}.{ep}' \
		::: seed "${S[@]}" ::: tenc "${TE[@]}" ::: uni "${U[@]}" ::: ep "${E[@]}" || rc=$?
	for s in "${S[@]}"; do for t in "${TE[@]}"; do for u in "${U[@]}"; do for e in "${E[@]}"; do
		[ "$rc" = 0 ] || [ -f "$units/models.$s.$t.$u.$e.out.tar" ] || { rm -f "$units/models.$s.$t.$u.$e.in.tar"; continue; }
		unit_unpack models "models.$s.$t.$u.$e" SEED="$s" TENC="$t" UNI="$u" EPOCHS="$e"
	done; done; done; done
	[ "$rc" = 0 ] || { echo "sweep.sh: a unit failed; see $out/joblog-$grid (run again to resume)" >&2; exit 1; }
fi

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
		conf=$(printf '%s\n' "$d" | tr / '\n' | grep -E '^(n|v|t|c|x|uni|ho|xf|arch|ep)=' | paste -sd' ')
		a=$(awk '/^split test:/ { t = 1 } t && /^agreement/ { sub(/%$/, "", $NF); print $NF / 100; exit }' \
			"${d%%/uni=*}/uni=$u/agree.txt")
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
