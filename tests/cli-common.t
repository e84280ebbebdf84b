#!/bin/bash
# What every mmoe executable owes its users: --help on stdout with exit 0,
# --version, a bogus option refused with exit 2 and a message, and a manual
# page that mandoc finds clean.  Plus the mmoe dispatcher itself.
. "$(dirname "$0")/lib.sh"
man=$MMOE_TOP/man

progs=$(cd "$MMOE_BIN" && ls mmoe mmoe-* 2>/dev/null | sort)
[ -n "$progs" ] || { echo "Bail out! no executables in $MMOE_BIN"; exit 1; }

for p in $progs; do
	run "$p" --help
	is "$rc" 0 "$p --help exits 0"
	like "$out" "[Uu]sage" "$p --help prints the usage on stdout"
	is "$err" "" "$p --help prints nothing on stderr"
	run "$p" --version
	like "$rc:$out" "^0:$p [0-9]+\.[0-9]+" "$p --version: exit 0, name and version"
	run "$p" --no-such-option-xyz
	is "$rc" 2 "$p with a bogus option exits 2"
	like "$err" "^$p: " "$p with a bogus option says so, naming itself"
	if [ -f "$man/$p.1" ]; then
		run mandoc -Tlint -Wwarning "$man/$p.1"
		is "$rc:$out$err" "0:" "man/$p.1 is mandoc -Tlint clean"
		for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			ok "grep -q '^\.Sh $s\$' '$man/$p.1'" "man/$p.1 has the section $s"
		done
	else
		_report 1 "man/$p.1 exists"
	fi
done
for f in "$man"/*.5 "$man"/*.7; do
	[ -f "$f" ] || continue
	run mandoc -Tlint -Wwarning "$f"
	is "$rc:$out$err" "0:" "${f#"$MMOE_TOP"/} is mandoc -Tlint clean"
done

# ---- the dispatcher ------------------------------------------------------------------
run mmoe --help
like "$out" "^  cat$" "mmoe --help lists the stages (cat)"
for p in $progs; do
	[ "$p" = mmoe ] && continue
	like "$out" "^  ${p#mmoe-}$" "mmoe --help lists ${p#mmoe-}"
done
printf '{"id":"a"}\n{"id":"b"}\n' > "$T/in.jsonl"
run sh -c "mmoe import '$T/in.jsonl' | mmoe cat --count"
is "$rc:$out" "0:2" "mmoe <stage> runs mmoe-<stage> with the arguments"
# found next to mmoe even when PATH does not have it
run env PATH=/usr/bin:/bin "$MMOE_BIN/mmoe" cat --count /dev/null
is "$rc:$out" "0:0" "stages are found next to mmoe without PATH"
run mmoe help cat
is "$rc:$out" "0:$(mmoe-cat --help)" "mmoe help cat is mmoe-cat --help"
run mmoe no-such-stage
is "$rc" 2 "an unknown stage exits 2"
one_line_error mmoe "an unknown stage: one line"
like "$err" "'no-such-stage' is not an mmoe stage" "an unknown stage is named"
run mmoe ../bin/mmoe-cat
is "$rc" 2 "a path is not a stage name"
run mmoe
is "$rc" 2 "no stage: exit 2"
like "$err" "missing stage" "no stage: says so"
# the stage's exit status and streams pass through
run mmoe cat "$T/nonexistent"
is "$rc" 2 "the stage's exit status is mmoe's"
like "$err" "^mmoe-cat: " "the stage's messages carry its own name"
# a stage run by mmoe reports a closed pipe itself (exit 2 and a message)
seq 1 50000 | sed 's/.*/{"id":"&"}/' | mmoe-import --level 0 > "$T/big.mp"
run bash -c "mmoe cat --level 0 '$T/big.mp' | head -c 1 > /dev/null; exit \${PIPESTATUS[0]}"
is "$rc" 2 "mmoe cat into a closed pipe: exit 2"
like "$err" "^mmoe-cat: .*Broken pipe" "mmoe cat into a closed pipe: says so"

done_testing
