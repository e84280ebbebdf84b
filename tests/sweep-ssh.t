#!/bin/bash
# pipelines/sweep.sh over a real ssh connection (a private sshd on the loopback,
# tests/ssh.sh), with no shared disk: a small grid on this machine (":") and the
# "remote" one gives the same tables as the same grid run here alone; a second
# call has nothing to do; a unit killed on the remote machine fails the sweep,
# leaves no result behind, and is run again by the next call (--resume-failed).
. "$(dirname "$0")/lib.sh"
. "$MMOE_TOP/tests/ssh.sh"
remote_start || { done_testing; exit; }
home_before=$(remote_files)
command -v jq >/dev/null || { skip "jq is not installed"; done_testing; exit; }

# the local side lives in $T, which the remote user cannot read
mkdir -p "$T/local/bin"
cp -p "$MMOE_BIN"/mmoe-* "$T/local/bin/"
cp -pR "$MMOE_TOP/pipelines" "$T/local/"
export MMOE_BIN=$T/local/bin
sw=$T/local/pipelines/sweep.sh
remote_cannot_read "$T/local/pipelines/mmoe.mk" "the remote side cannot read the local tree"
grid=(--seeds "1 2" --unipred logreg --epochs 2 --records 160 --jobs 1)
# the multi-machine example of mmoe-parallel(7): the same grid, on this machine
# and the loopback one for alice@gpu2
example=$(awk '/^\.Bd -literal/ { on = 1; next } /^\.Ed/ { on = 0 }
	on && /^pipelines\/sweep\.sh / { grab = 1 }
	on && grab { sub(/\\e$/, "\\"); print; if ($0 !~ /\\$/) exit }' "$MMOE_TOP/man/mmoe-parallel.7")
like "$(printf "%s" "$example" | tr "\n" " ")" '--seeds "1 2" --epochs 2 --records 160 .*--sshlogin :,alice@gpu2 --output runs/try$' \
	"mmoe-parallel(7): the sweep example is found (and is this test's grid)"
example=$(printf '%s\n' "$example" | sed "s|^pipelines/|$T/local/pipelines/|; s|alice@gpu2|$REMOTE|; s|runs/try|$T/both|")
tables() { # sweep output dir
	cat "$1/summary.txt" "$1/summary.tsv" "$1/routing.txt"
}

run "$sw" "${grid[@]}" --jobs 2 --output "$T/here" -- RUNS="$T/runs-here" BOOT=20 FOLDS=2
is "$rc" 0 "the grid on this machine alone"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'

run bash -c "$example --jobs 1 -- RUNS='$T/runs-both' BOOT=20 FOLDS=2"
is "$rc" 0 "the example: the same grid on this machine and the remote one"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 8 | sed 's/^/#   /'
ok "[ -s '$T/both/summary.txt' ] && [ \"\$(cat '$T/here/summary.txt')\" = \"\$(cat '$T/both/summary.txt')\" ]" \
	"summary.txt: the same table"
is "$(tables "$T/both" | md5sum)" "$(tables "$T/here" | md5sum)" "summary.tsv and routing.txt: the same too"
hosts=$(awk -F'\t' 'FNR > 1 { print $2 }' "$T"/both/joblog.tagged-* "$T"/both/joblog-* | sort -u | paste -sd' ')
is "$hosts" ": $REMOTE" "units ran on both machines (job logs)"
is "$(awk -F'\t' 'FNR > 1 && $7 != 0' "$T"/both/joblog.tagged-* "$T"/both/joblog-* | wc -l | tr -d ' ')" 0 \
	"every unit exited 0"
is "$(ls "$T/both/units")" "base.tar" "the units' archives were unpacked and removed"
is "$(remote_files)" "$home_before" "nothing left on the remote machine (--cleanup)"
d=$(cd "$T/local" && make -s -f pipelines/mmoe.mk path N=160 SEED=2 UNI=logreg EPOCHS=2 RUNS="$T/runs-both")
ok "[ -s '$d/eval.json' ] && [ -s '${d%/ho=*}/agree.txt' ]" "the run directories came back into RUNS"
ok "cd '$T/local' && make -q -f pipelines/mmoe.mk run N=160 SEED=2 UNI=logreg EPOCHS=2 RUNS='$T/runs-both' BOOT=20 FOLDS=2" \
	"and Make here finds them up to date"
unlike "$err" "not up to date here" "no unit had to be made again here"

# a second call: nothing to do, the same tables
n=$(cat "$T"/both/joblog-* | wc -l)
run "$sw" "${grid[@]}" --sshlogin ":,$REMOTE" --output "$T/both" -- RUNS="$T/runs-both" BOOT=20 FOLDS=2
is "$rc" 0 "a second call succeeds"
is "$(cat "$T"/both/joblog-* | wc -l)" "$n" "and runs no unit again"
is "$(tables "$T/both" | md5sum)" "$(tables "$T/here" | md5sum)" "the same tables"

# a unit killed on the remote machine, then resumed (the machine from a file).
# The first remote mmoe-rus-split waits while a hold file exists there, so the
# unit's make is certainly running when the test looks for it (a fast machine
# would otherwise finish the small grid between two looks).  The wrapper keeps
# the real binary's time, so Make sees no changed tool.
hold=/tmp/mmoe-sweep-hold.$$
rb=$T/local/bin/mmoe-rus-split
mv "$rb" "$rb.real"
printf '#!/bin/sh\nwhile [ -e %s ]; do sleep 0.1; done\nexec "$0.real" "$@"\n' "$hold" >"$rb"
chmod +x "$rb"
touch -r "$rb.real" "$rb"
remote_run "touch $hold"
echo "$REMOTE" > "$T/logins"
"$sw" "${grid[@]}" --sshloginfile "$T/logins" --output "$T/kill" -- RUNS="$T/runs-kill" BOOT=20 FOLDS=2 \
	>"$T/kill.out" 2>"$T/kill.err" &
swpid=$!
killed=
# poll until the sweep ends (bounded in time, not in tries: a loaded machine
# starts the first unit late)
deadline=$((SECONDS + 300))
while [ "$SECONDS" -lt "$deadline" ]; do
	p=$(remote_run 'pgrep -u "$(id -u)" -f "[p]ipelines/mmoe.mk" | head -n 1' 2>/dev/null)
	if [ -n "$p" ]; then remote_run "kill $p" 2>/dev/null && killed=$p && break; fi
	kill -0 "$swpid" 2>/dev/null || break
	sleep 0.05
done
remote_run "rm -f $hold"
wait "$swpid" && rc=0 || rc=$?
mv "$rb.real" "$rb"
ok "[ -n '$killed' ]" "the make of a remote unit was killed (pid ${killed:-none})"
isnt "$rc" 0 "the sweep fails"
like "$(cat "$T/kill.err")" "a unit failed; see .*joblog.*run again to resume" "and says how to resume"
# jobs LOG-GLOB OP: how many jobs of the job logs exited 0 (OP ==) or not (OP !=)
njobs() { cat $1 2>/dev/null | awk -F'\t' -v op="$2" '$1 != "Seq" && (op == "==" ? $7 == 0 : $7 != 0)' | wc -l | tr -d ' '; }
is "$(njobs "$T/kill/joblog*-*" !=)" 1 "the job logs record one failed unit"
# results are there for the units that exited 0, and only for them
is "$(find "$T/runs-kill" -name eval.json | wc -l | tr -d ' '):$(find "$T/runs-kill" -name agree.txt | wc -l | tr -d ' ')" \
	"$(njobs "$T/kill/joblog-*" ==):$(njobs "$T/kill/joblog.tagged-*" ==)" \
	"only the units that succeeded left results (the killed one none)"
is "$(find "$T/runs-kill" "$T/kill" -name '*.part' | wc -l | tr -d ' ')" 0 "no half-written file came back"
run "$sw" "${grid[@]}" --sshloginfile "$T/logins" --output "$T/kill" -- RUNS="$T/runs-kill" BOOT=20 FOLDS=2
is "$rc" 0 "the next call resumes"
# 2 seeds x 2 text encoders (the default hash256 and tfidf): 4 units of each kind
is "$(njobs "$T/kill/joblog-*" ==):$(njobs "$T/kill/joblog.tagged-*" ==)" 4:4 "every unit of the grid has now exited 0"
is "$(tables "$T/kill" | md5sum)" "$(tables "$T/here" | md5sum)" "the same tables as the grid run here"

# options
run "$sw" --sshlogin "$REMOTE" --sshloginfile /dev/null
is "$rc" 2 "--sshlogin and --sshloginfile exclude each other"
run "$sw" --nosuch
is "$rc:$(printf '%s' "$err" | grep -c "unknown option '--nosuch'")" "2:1" "an unknown option is a usage error"

done_testing
