#!/bin/bash
# One cleanup path: a tool stopped by SIGTERM, SIGINT or SIGHUP while its
# output is open leaves neither the target nor a temporary, and dies of the
# signal.  Each tool is held at a fixed point, blocked reading a FIFO that
# the test keeps open (its output is already open then), not after a sleep.
# Also: a stale temporary of a dead pid is removed by the next run, a live
# run's is kept; cli_die drops every output (mmoe-import's double free).
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi

mkrecs >"$T/d.mp" <<'R'
{"id":"a","split":"train","label":0,"text":"a cat","x":[0.1,0.2],"pa":[0.9,0.1],"pb":[0.2,0.8]}
{"id":"b","split":"train","label":1,"text":"a dog","x":[0.9,0.8],"pa":[0.3,0.7],"pb":[0.6,0.4]}
{"id":"c","split":"val","label":1,"text":"two dogs","x":[0.7,0.9],"pa":[0.4,0.6],"pb":[0.1,0.9]}
{"id":"d","split":"val","label":0,"text":"cats","x":[0.2,0.1],"pa":[0.8,0.2],"pb":[0.7,0.3]}
R
mmoe-train-expert --feature x --epochs 1 --output "$T/m.mm" "$T/d.mp" 2>/dev/null

# wait_for GLOB: until a file matches (the tool reached its fixed point), at most 20 s
wait_for() {
	local i
	for i in $(seq 200); do
		compgen -G "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# held NAME SIG OUT CMD...: run CMD (reading $T/fifo) in the background, hold
# the FIFO open, wait for OUT's temporary, send SIG; then check the status
# and that neither OUT nor a temporary of it is left.
held() {
	local name=$1 sig=$2 out=$3 pid st
	shift 3
	rm -f "$T/fifo"
	mkfifo "$T/fifo"
	# a background job starts with SIGINT ignored (and a tool leaves an
	# ignored signal ignored): give it the default action, then exec
	perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' "$@" 2>"$T/err" &
	pid=$!
	exec 3<>"$T/fifo"  # read-write: never blocks, even if the tool died before opening it
	ok "wait_for '$out.tmp.*'" "$name: the output's temporary exists while it waits for input"
	kill -"$sig" "$pid"
	{ wait "$pid"; } 2>/dev/null && st=0 || st=$?
	exec 3>&-
	is "$st" "$((128 + $(kill -l "$sig")))" "$name: dies of SIG$sig"
	ok "[ ! -e '$out' ] && ! compgen -G '$out.tmp.*'" "$name: no target and no temporary left"
}

O=$T/o.zst
held "mmoe-cat" TERM "$O" mmoe-cat --output "$O" "$T/fifo"
held "mmoe-cat --json" TERM "$T/o.json" mmoe-cat --json --output "$T/o.json" "$T/fifo"
held "mmoe-import" TERM "$O" mmoe-import --output "$O" "$T/fifo"
held "mmoe-encode-text" TERM "$O" mmoe-encode-text --output "$O" "$T/fifo"
held "mmoe-encode-vision" TERM "$O" mmoe-encode-vision --encoder color --output "$O" "$T/fifo"
held "mmoe-rus-split" TERM "$O" mmoe-rus-split --pred-a pa --pred-b pb --output "$O" "$T/fifo"
held "mmoe-rus-split --out-R" TERM "$T/R.zst" mmoe-rus-split --pred-a pa --pred-b pb --no-output \
	--out-R "$T/R.zst" "$T/fifo"
held "mmoe-fuse" TERM "$O" mmoe-fuse --experts pa,pb --mode mean --output "$O" "$T/fifo"
held "mmoe-train-expert --predict" TERM "$O" mmoe-train-expert --predict --model "$T/m.mm" \
	--output "$O" "$T/fifo"
held "mmoe-cat (SIGINT)" INT "$O" mmoe-cat --output "$O" "$T/fifo"
held "mmoe-cat (SIGHUP)" HUP "$O" mmoe-cat --output "$O" "$T/fifo"

# mmoe-synth reads no input: it is stopped while it writes a stream far
# longer than the test waits (its temporary exists from the first record).
mmoe-synth --count 300000 --size 16 --seed 1 --output "$O" 2>/dev/null &
pid=$!
ok "wait_for '$O.tmp.*'" "mmoe-synth: the temporary exists while it writes"
kill -TERM $pid
{ wait $pid; } 2>/dev/null && st=0 || st=$?
is "$st" 143 "mmoe-synth: dies of SIGTERM"
ok "[ ! -e '$O' ] && ! compgen -G '$O.tmp.*'" "mmoe-synth: no target and no temporary left"

# ---- an error drops the outputs through cli_die, once ----
run mmoe-import --output "$O" /tmp
is "$rc" 2 "mmoe-import reading a directory: exit 2 (was a double free, exit 134)"
like "$err" "^mmoe-import: error reading /tmp: Is a directory$" "mmoe-import: one clear line"
ok "[ ! -e '$O' ] && ! compgen -G '$O.tmp.*'" "mmoe-import: no output left"
printf '\x83' | cat "$T/d.mp" - >"$T/cut.mp"
run mmoe-eval --pred pa --output "$T/rep.txt" "$T/cut.mp"
is "$rc" 1 "mmoe-eval --output on a cut stream: exit 1"
ok "[ ! -e '$T/rep.txt' ] && ! compgen -G '$T/rep.txt.tmp.*'" "mmoe-eval --output: no output left (its report file is an observed atomic file like every output)"

# ---- mmoe-cat -o: its exit handler used to read main's locals after main
# returned, a stack use after return on every run.  The sanitizer build
# (make check SAN=address,undefined) sees it with detect_stack_use_after_return;
# the plain build runs under valgrind when it is installed. ----
if case $MMOE_BIN in */san/*) true ;; *) false ;; esac; then
	ASAN_OPTIONS=detect_stack_use_after_return=1 run mmoe-cat --output "$T/v.zst" "$T/d.mp"
	is "$rc:$err" "0:" "mmoe-cat --output, ASan detect_stack_use_after_return: clean"
elif command -v valgrind >/dev/null; then
	run valgrind -q --error-exitcode=99 mmoe-cat --output "$T/v.zst" "$T/d.mp"
	is "$rc:$err" "0:" "mmoe-cat --output under valgrind: no memory error"
else
	skip "valgrind is not installed"
fi

# ---- stale temporaries: SIGKILL leaves one; the next run removes it ----
rm -f "$T/fifo"
mkfifo "$T/fifo"
mmoe-cat --output "$O" "$T/fifo" 2>/dev/null &
pid=$!
exec 3<>"$T/fifo"  # read-write: never blocks, even if the tool died before opening it
wait_for "$O.tmp.*"
stale=$(compgen -G "$O.tmp.*")
kill -KILL $pid
{ wait $pid; } 2>/dev/null
exec 3>&-
ok "[ -e '$stale' ]" "SIGKILL leaves the temporary (it cannot be caught)"
# a live run's temporary under the same naming: this shell's pid
live=${stale%.*}.$$
: >"$live"
run mmoe-cat --output "$O" "$T/d.mp"
is "$rc" 0 "the next run writing the same target succeeds"
ok "[ ! -e '$stale' ]" "it removed the dead run's temporary"
ok "[ -e '$live' ]" "it kept the temporary of a live pid"
rm -f "$live"

done_testing
