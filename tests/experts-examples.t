#!/bin/bash
# The EXAMPLES of man/mmoe-experts.7 run as written on the shared MUStARD copy
# (the authors' Mistral-7B experts): five commands, no jq, and the table they
# print.  A visible SKIP when the copy is not there.
. "$(dirname "$0")/lib.sh"
MAN=$MMOE_TOP/man/mmoe-experts.7
run mandoc -Tlint -Wwarning "$MAN"
is "$rc:$out$err" "0:" "man/mmoe-experts.7 is mandoc -Tlint clean"
awk -v f="$T/ex.sh" '
	/^\.Sh EXAMPLES/ { on = 1; next }
	/^\.Sh / { on = 0 }
	on && /^\.Bd -literal/ { inblk = 1; next }
	on && /^\.Ed/ { inblk = 0; next }
	on && inblk { gsub(/\\e/, "\\"); print > f }' "$MAN"
is "$(grep -c '^mmoe-' "$T/ex.sh")" 5 "the example is five commands"
is "$(grep -c 'jq' "$T/ex.sh")" 0 "the example needs no jq"
sed -n '/^    mmoe-encode-text --field text/,/--diff p_base fused.zst$/p' "$MMOE_TOP/README.md" | sed 's/^    //' >"$T/readme.sh"
ok "grep -v '^E=' '$T/ex.sh' | cmp -s - '$T/readme.sh'" "the README shows the same five commands"
src=$SHARED/data/mustard
if [ ! -d "$src/experts/mistral-7b" ] || [ ! -r "$src/mustard_raw_data.json" ]; then
	skip "no MUStARD copy with experts/ at $src"
	done_testing
	exit
fi
cd "$T"
make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" MUSTARD_SRC="$src" DATA="$T/data" mustard 2>/dev/null
run env MUSTARD_SRC="$src" D="$T/data/mustard/mustard.zst" bash -eo pipefail ex.sh
is "$rc" 0 "the example runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
like "$out" "p_mean +0\.[0-9]+ .*" "it prints the table"
# F1 of class 1 on all test records: the authors' baseline 76.7, the mean of their experts 76.4
like "$(printf '%s\n' "$out" | sed -n '/^method/,/^$/p' | grep '^p_base ')" " 0\.767 \[" "baseline F1 0.767 (test, 356 records)"
like "$(printf '%s\n' "$out" | sed -n '/^method/,/^$/p' | grep '^p_mean ')" " 0\.764 \[" "mean of the experts F1 0.764"
like "$err" "warning: .*mustard_baseline_logits.jsonl: 356 of 356 entries have a pred that is not the argmax" \
	"the files' disagreeing pred is reported"
done_testing
