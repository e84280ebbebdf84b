#!/bin/bash
# The examples of README.md, as written: its indented blocks are extracted;
# a block of mmoe commands is run in a scratch directory with the stages on
# PATH, a block of make commands names targets the Makefile has, and the
# layout block names paths of the source tree.
. "$(dirname "$0")/lib.sh"
readme=$MMOE_TOP/README.md
cd "$T" || exit 1

# block<N>.txt: the N-th indented (4 spaces) block that follows a blank line
awk 'function flush() { if (cur != "") { n++; printf "%s", cur > ("block" n ".txt"); close("block" n ".txt") } cur = "" }
	/^    / && (inblk || prev == "") { inblk = 1; cur = cur substr($0, 5) "\n"; prev = $0; next }
	{ if (inblk) flush(); inblk = 0; prev = $0 }
	END { if (inblk) flush() }' "$readme"
nblocks=$(ls block*.txt 2>/dev/null | wc -l)
ok "[ $nblocks -ge 3 ]" "README.md has its example blocks ($nblocks)"

nsh=0
for b in $(ls block*.txt | sort -V); do
	first=$(awk 'NF { print $1; exit }' "$b")
	case $first in
	mmoe)
		nsh=$((nsh + 1))
		if ! command -v jq >/dev/null && grep -q '| jq' "$b"; then
			skip "jq missing: README example $b not run"
			continue
		fi
		run bash -eo pipefail "$b"
		printf '%s\n' "$out" > "out$nsh.txt"
		is "$rc" 0 "README example $nsh ($(head -n 1 "$b" | cut -c1-50)...) runs as written"
		[ "$rc" = 0 ] || printf '#   %s\n' "$(printf '%s' "$err" | tail -n 3)"
		;;
	make)
		missing=
		for t in $(awk '$1 == "make" { print $2 }' "$b"); do
			grep -Eq "^\.PHONY:.*[[:space:]]$t([[:space:]]|\$)" "$MMOE_TOP/Makefile" || missing="$missing $t"
		done
		is "$missing" "" "README: the make targets of $b exist"
		;;
	*)
		missing=
		for p in $(awk '{ print $1 }' "$b"); do
			[ -e "$MMOE_TOP/$p" ] || missing="$missing $p"
		done
		is "$missing" "" "README: the paths of the layout block exist"
		;;
	esac
done
ok "[ $nsh -ge 1 ]" "README has a block of mmoe commands"

# what the pipeline example makes: the tagged stream, a record for jq, a model
# and the evaluation by rus and gen_type
if [ -s tagged.zst ]; then
	is "$(mmoe-cat --count tagged.zst)" 3000 "the pipeline tags the 3000 records it generates"
	ok "cat out*.txt | grep -q 'F1(pos) by gen_type'" "the evaluation is broken down by gen_type"
	ok "test -s base.mm" "the example trains base.mm"
else
	skip "the pipeline example did not run"
fi

done_testing
