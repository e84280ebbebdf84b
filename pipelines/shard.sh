#!/bin/bash
# shard.sh — run a per-record stage on N shards of a stream, on this machine or
# on others over ssh (GNU parallel), and join the results.
#
#   pipelines/shard.sh [--shards N] [--sshlogin LOGIN[,LOGIN...]] [--sshloginfile FILE]
#                      [--jobs N] [--basefile FILE]... [--concat] [--joblog FILE]
#                      --output OUT INPUT -- STAGE [ARG...]
#
# STAGE is an mmoe tool that reads records on stdin and writes one record per
# input record on stdout (encode-text, encode-vision, train-expert --predict,
# fuse, ...; "encode-text" or "mmoe-encode-text").  The input is cut here into N
# shards in one pass by `mmoe-cat --shards N --seq` (shard K: the records whose
# id's FNV-1a 64 is K mod N; each record numbered by its place in the input,
# the field _seq).  GNU parallel sends each
# shard with --transferfile, the stage's binary once per machine with
# --basefile, runs the stage in a work directory of its own on the machine
# (--workdir), brings the result back with --return and removes what it sent
# (--cleanup): no shared disk.  `mmoe-cat --merge` then restores the input order
# by _seq and removes it, so OUT holds exactly the records and the order of the
# stage run on the whole input.  With --concat the shards are cut without
# numbers and OUT is their plain concatenation (shard 0, then 1, ...).
#
# Logins are GNU parallel's: ":" is this machine, "user@host" or "4/host" (4 jobs
# there) another; --sshloginfile is a file of them, one a line.  Default: ":".
# A remote machine needs the runtime libraries of mmoe (scripts/deps.sh build),
# rsync and perl; nothing of this tree.  Files a stage reads (a GloVe table, a
# model) are sent with --basefile FILE and named by their base name in ARGs.
# The stage's binary is $MMOE_BIN/mmoe-STAGE (default: bin/ of this tree).
#
# A stage that fails on any shard stops the run: OUT is written only when every
# shard came back (exit 1, GNU parallel's job log kept in OUT.joblog).
# --joblog FILE keeps the job log (which machine ran which shard, how long).
set -eu -o pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prog=shard.sh
shards=2 logins= loginfile= jobs= out= concat=0 joblog=
basefiles=()
usage() {
	sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
die() { echo "$prog: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--shards) [ $# -ge 2 ] || usage; shards=$2; shift 2 ;;
	--shards=*) shards=${1#*=}; shift ;;
	--sshlogin|-S) [ $# -ge 2 ] || usage; logins=$2; shift 2 ;;
	--sshlogin=*) logins=${1#*=}; shift ;;
	--sshloginfile) [ $# -ge 2 ] || usage; loginfile=$2; shift 2 ;;
	--sshloginfile=*) loginfile=${1#*=}; shift ;;
	--jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
	--jobs=*) jobs=${1#*=}; shift ;;
	--basefile) [ $# -ge 2 ] || usage; basefiles+=("$2"); shift 2 ;;
	--basefile=*) basefiles+=("${1#*=}"); shift ;;
	--concat) concat=1; shift ;;
	--joblog) [ $# -ge 2 ] || usage; joblog=$2; shift 2 ;;
	--joblog=*) joblog=${1#*=}; shift ;;
	--output|-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--output=*) out=${1#*=}; shift ;;
	--help|-h) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	-?*) echo "$prog: unknown option '$1'" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 3 ] && [ "$2" = -- ] || usage
input=$1 stage=${3#mmoe-}
shift 3
[ -n "$out" ] || { echo "$prog: --output is required" >&2; usage; }
case $shards in '' | *[!0-9]* | 0) die "--shards: expected a number of shards >= 1, got '$shards'" ;; esac
case $jobs in *[!0-9]*) die "--jobs: expected a number, got '$jobs'" ;; esac
[ -z "$logins" ] || [ -z "$loginfile" ] || die "--sshlogin and --sshloginfile exclude each other"
[ -z "$loginfile" ] || [ -r "$loginfile" ] || die "--sshloginfile: cannot read '$loginfile'"
[ -r "$input" ] || die "cannot read the input '$input'"
command -v parallel >/dev/null || die "GNU parallel is not installed"
: "${MMOE_BIN:=$here/bin}"
bin=$MMOE_BIN/mmoe-$stage
[ -x "$bin" ] || die "no stage '$stage': $bin is not an executable"
for f in "${basefiles[@]}"; do [ -r "$f" ] || die "--basefile: cannot read '$f'"; done

# the work directory beside the output (same disk: the merge writes OUT there)
[ -d "$(dirname "$out")" ] || die "--output: no directory '$(dirname "$out")'"
input=$(cd "$(dirname "$input")" && pwd)/$(basename "$input")
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(mktemp -d "$(dirname "$out")/.shard.XXXXXX")
trap 'rm -rf "$work"' EXIT

# 1. the shards
numbering=--seq
[ "$concat" = 0 ] || numbering=
"$MMOE_BIN/mmoe-cat" --quiet --shards "$shards" $numbering --output "$work/in-{}.zst" "$input" ||
	{ echo "$prog: cutting '$input' into $shards shards failed" >&2; exit 1; }

# 2. the stage on each shard, wherever GNU parallel puts it.  Everything it
# sends or gets back is relative to $work, and so lands in the remote work
# directory.  Each job writes its output under a temporary name and renames it
# when the stage succeeded: a killed job returns nothing that looks complete.
mkdir "$work/bin"
cp "$bin" "$work/bin/"
send=(--basefile "bin/mmoe-$stage")
for f in "${basefiles[@]}"; do
	cp "$f" "$work/"
	send+=(--basefile "$(basename "$f")")
done
q() { local a out=; for a; do out+=" '${a//\'/\'\\\'\'}'"; done; printf '%s' "$out"; }
# (a job on ":" runs in GNU parallel's --workdir, where nothing was sent: it
# goes to $work, where its shard is)
cmd="{ [ ! -e $(q "$work")/in-{}.zst ] || cd $(q "$work"); } &&"
cmd+=" ./bin/mmoe-$stage$(q "$@") < in-{}.zst > out-{}.zst.part && mv out-{}.zst.part out-{}.zst"
where=(--sshlogin "${logins:-:}")
[ -z "$loginfile" ] || where=(--sshloginfile "$loginfile")
# this machine only: no transfer (GNU parallel would warn that it ignores it)
case ,${logins:-:}, in *,[!:,]*) ;; *) [ -n "$loginfile" ] || send=() ;; esac
remote_dir=mmoe-shard.$(hostname).$$.$(basename "$work")
[ ${#send[@]} = 0 ] || send+=(--workdir "$remote_dir" --transferfile in-{}.zst --return out-{}.zst --cleanup)
(
	cd "$work"
	parallel --will-cite --halt now,fail=1 --joblog "$work/joblog" ${jobs:+--jobs "$jobs"} \
		"${where[@]}" "${send[@]}" "$cmd" ::: $(seq 0 $((shards - 1)))
) || {
	cp "$work/joblog" "$out.joblog" 2>/dev/null || true
	# a halted run skips --cleanup: remove the work directory on every machine
	[ ${#send[@]} = 0 ] || (cd "$work" && parallel --will-cite --nonall "${where[@]}" rm -rf "$remote_dir") || true
	echo "$prog: the stage failed on a shard; job log in $out.joblog" >&2
	exit 1
}
for ((k = 0; k < shards; k++)); do
	[ -f "$work/out-$k.zst" ] || { cp "$work/joblog" "$out.joblog"; echo "$prog: shard $k did not come back; job log in $out.joblog" >&2; exit 1; }
done

[ -z "$joblog" ] || cp "$work/joblog" "$joblog"

# 3. join
parts=()
for ((k = 0; k < shards; k++)); do parts+=("$work/out-$k.zst"); done
if [ "$concat" = 1 ]; then
	"$MMOE_BIN/mmoe-cat" --quiet --output "$out" "${parts[@]}"
else
	"$MMOE_BIN/mmoe-cat" --quiet --merge --output "$out" "${parts[@]}"
fi
