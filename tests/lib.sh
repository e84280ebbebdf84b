# tests/lib.sh — TAP helpers for the shell tests.  Source it from a tests/*.t:
#
#   . "$(dirname "$0")/lib.sh"
#   run mmoe-cat --count in.zst         # runs $MMOE_BIN/mmoe-cat; sets $rc, $out, $err
#   is "$rc" 0 "cat exits 0"
#   like "$err" "record 3" "error names the record"
#   skip "python3-msgpack missing"      # a visible skip
#   done_testing
#
# Every test gets a private scratch directory $T (removed at exit).
set -u
: "${MMOE_TOP:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${MMOE_BIN:=$MMOE_TOP/bin}"
export MMOE_TOP MMOE_BIN
PATH=$MMOE_BIN:$PATH
SHARED=${MMOE_SHARED:-$MMOE_TOP/../shared}
T=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
_n=0
_fail=0

# run CMD ARGS... : capture exit status, stdout (into $out and $T/out) and stderr.
run() {
	"$@" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
	out=$(cat "$T/out" 2>/dev/null | tr -d '\0' | head -c 100000)
	err=$(cat "$T/err")
}
_report() { # cond desc
	_n=$((_n + 1))
	if [ "$1" = 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _fail=$((_fail + 1)); fi
}
ok() { # "cmd" desc : pass when the shell command succeeds
	if eval "$1" >/dev/null 2>&1; then _report 0 "$2"; else _report 1 "$2"; echo "#   failed: $1"; fi
}
is() { # got expected desc
	if [ "$1" = "$2" ]; then _report 0 "$3"; else _report 1 "$3"; printf '#   got:      %s\n#   expected: %s\n' "$1" "$2"; fi
}
isnt() {
	if [ "$1" != "$2" ]; then _report 0 "$3"; else _report 1 "$3"; printf '#   got %s, expected anything else\n' "$1"; fi
}
like() { # text extended-regex desc
	if printf '%s' "$1" | grep -Eq -- "$2"; then _report 0 "$3"; else _report 1 "$3"; printf '#   %s\n#   does not match /%s/\n' "$(printf '%s' "$1" | head -c 600)" "$2"; fi
}
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then _report 1 "$3"; printf '#   %s\n#   matches /%s/\n' "$(printf '%s' "$1" | head -c 600)" "$2"; else _report 0 "$3"; fi
}
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $1"; }
# one_line_error: the error is exactly one line and starts with the program name
one_line_error() { # prog desc
	local lines; lines=$(printf '%s\n' "$err" | grep -c .)
	if [ "$lines" = 1 ] && printf '%s' "$err" | grep -q "^$1: "; then _report 0 "$2"; else _report 1 "$2"; printf '#   stderr: %s\n' "$err"; fi
}
done_testing() { echo "1..$_n"; [ "$_fail" = 0 ]; }
# Debian's python (the one with python3-msgpack, numpy, sklearn), not a user's pyenv.
PY=/usr/bin/python3
have_py() { "$PY" -c "import $1" >/dev/null 2>&1; }

# bad_case DESC RECORD REGEX [OPTIONS...] : collect a bad-input case, to be run
# in a loop over "${!bad_desc[@]}" once all are known (one mkrecs run then
# makes every case's records): appends to the arrays bad_desc, bad_rec
# (the record line), bad_re (what stderr must match) and bad_opts (the extra
# options joined by spaces, word-split where they are used).
bad_case() {
	bad_desc+=("$1") bad_rec+=("$2") bad_re+=("$3")
	shift 3
	bad_opts+=("$*")
}

# mkrecs [--dict] [--split DIR] <LINES >OUT.mp : make msgpack records from
# text, one record per input line, all in one python run (blank lines are
# skipped).
#   - A line is a JSON object; with --dict a Python literal dict instead
#     (single quotes, True/None, and nan for a NaN).
#   - Every list becomes an f32 tensor {"dtype":"f32","shape":[n],
#     "data":<n little-endian f32>}; nested lists of equal lengths become one
#     tensor of their shape, e.g. [[1,2],[3,4]] -> shape [2,2], row-major.
#   - --split DIR: lines are "NAME<TAB>record", and each record is appended
#     to DIR/NAME.mp (created by this call) instead of stdout.
#   mkrecs <<<'{"id":"a","label":1,"p":[0.2,0.8]}' >"$T/a.mp"
#   printf 'good\t%s\nbad\t%s\n' "{'id':'g','x':[1]}" "{'id':'b','x':[nan]}" | mkrecs --dict --split "$T"
mkrecs() {
	"$PY" -c '
import sys, json, struct, msgpack
args = sys.argv[1:]
lit = "--dict" in args
outdir = args[args.index("--split") + 1] if "--split" in args else None
nan = float("nan")
def shape(v):
    if not any(isinstance(x, list) for x in v):
        return [len(v)]
    inner = shape(v[0]) if isinstance(v[0], list) else None
    if any(not isinstance(x, list) or shape(x) != inner for x in v):
        sys.exit("mkrecs: ragged nested list: %r" % (v,))
    return [len(v)] + inner
def flat(v):
    return [y for x in v for y in flat(x)] if isinstance(v, list) else [float(v)]
files = {}
for line in sys.stdin:
    if not line.strip(): continue
    name = None
    if outdir is not None:
        name, line = line.rstrip("\n").split("\t", 1)
    o = eval(line) if lit else json.loads(line)
    for k, v in list(o.items()):
        if isinstance(v, list):
            d = flat(v)
            o[k] = {"dtype": "f32", "shape": shape(v), "data": struct.pack("<%df" % len(d), *d)}
    b = msgpack.packb(o, use_bin_type=True)
    if name is None:
        sys.stdout.buffer.write(b)
        continue
    if name not in files: files[name] = open(outdir + "/" + name + ".mp", "wb")
    files[name].write(b)
for f in files.values(): f.close()' "$@"
}

# fuzz_replayer LABEL "SOURCES" "LIBS": build a fuzz target (tests/fuzz/*.c) as a
# plain replayer program $T/replay (-DMM_FUZZ_REPLAY) with $CC, under ASan and
# UBSan when the compiler has them; one test point for the build (a failed build
# ends the test file).  Then fuzz_replay_corpus DIR replays every input of DIR.
fuzz_replayer() { # label sources libs
	local san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	CC=${CC:-cc}
	echo 'int main(void){return 0;}' >"$T/t.c"
	if $CC $san -o "$T/t" "$T/t.c" 2>/dev/null && "$T/t"; then
		echo "# building the replayer with $CC and $san"
	else
		san=
		echo "# building the replayer with $CC, without sanitizers (not available)"
	fi
	# shellcheck disable=SC2086
	run $CC -I"$MMOE_TOP/lib" -D_GNU_SOURCE -DMM_FUZZ_REPLAY -std=c11 -O1 -g $san -o "$T/replay" $2 $3
	is "$rc" 0 "$1 builds as a replayer with $CC"
	[ "$rc" = 0 ] || { printf '# %s\n' "$err"; done_testing; exit; }
	export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1
}
fuzz_replay_corpus() { # dir
	local n
	n=$(ls "$1" | wc -l)
	ok "[ $n -ge 10 ]" "the corpus has inputs ($n)"
	ok "[ \$(du -sb '$1' | cut -f1) -lt 51200 ]" "the corpus stays small (< 50 KB)"
	run "$T/replay" "$1"/*
	is "$rc" 0 "every corpus input replays without a crash or sanitizer report"
	is "$out" "replayed $n inputs" "all $n inputs were run"
	[ "$rc" = 0 ] || printf '# %s\n' "$(printf '%s' "$err" | head -20)"
}
