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
