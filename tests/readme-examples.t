#!/bin/bash
# The examples of README.md, as written: its indented blocks are extracted;
# a block of mmoe commands is run in a scratch directory of its own with the
# stages on PATH, a block of make commands names targets the Makefile has, and
# the layout block names paths of the source tree.  A block that reads the
# MUStARD stream $D and the authors' experts $E (the README names them) runs
# on the shared copy, or is a visible SKIP without it.
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

# mustard_stream: the record stream of the shared MUStARD copy in $T/data, made
# once by datasets.mk; false when the copy (with the authors' experts) is absent
src=$SHARED/data/mustard
mustard_stream() {
	[ -d "$src/experts/mistral-7b" ] && [ -r "$src/mustard_raw_data.json" ] || return 1
	[ -s "$T/data/mustard/mustard.zst" ] ||
		make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" \
			MUSTARD_SRC="$src" DATA="$T/data" mustard 2>/dev/null
}

nsh=0
for b in $(ls block*.txt | sort -V); do
	first=$(awk 'NF { print $1; exit }' "$b")
	case $first in
	mmoe | mmoe-*)
		nsh=$((nsh + 1))
		what="README example $nsh ($(head -n 1 "$b" | cut -c1-40)...)"
		if ! command -v jq >/dev/null && grep -q '| jq' "$b"; then
			skip "jq missing: $what not run"
			continue
		fi
		env=()
		if grep -Eq '\$\{?[DE]\b' "$b"; then
			if ! mustard_stream; then
				skip "no MUStARD copy with experts/ at $src: $what not run"
				continue
			fi
			env=(D="$T/data/mustard/mustard.zst" E="$src/experts/mistral-7b/mustard")
		fi
		mkdir "b$nsh"
		run env -C "b$nsh" "${env[@]}" bash -eo pipefail "$T/$b"
		printf '%s\n' "$out" > "b$nsh/stdout"
		is "$rc" 0 "$what runs as written"
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
d=$(dirname "$(ls b*/tagged.zst 2>/dev/null | head -n 1)")
if [ -s "$d/tagged.zst" ]; then
	is "$(mmoe-cat --count "$d/tagged.zst")" 3000 "the pipeline tags the 3000 records it generates"
	ok "grep -q 'F1(pos) by gen_type' '$d/stdout'" "the evaluation is broken down by gen_type"
	ok "test -s '$d/base.mm'" "the example trains base.mm"
else
	skip "the pipeline example did not run"
fi
d=$(dirname "$(ls b*/fused.zst 2>/dev/null | head -n 1)")
if [ -s "$d/fused.zst" ]; then
	like "$(cat "$d/stdout")" "p_rule .*" "the experts example prints the table with the rule"
else
	skip "the experts example did not run"
fi

done_testing
