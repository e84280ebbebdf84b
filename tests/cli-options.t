#!/bin/bash
# One option family: a short letter means the same long option in every
# stage, a long option has the same letter (or none) in every stage, every
# stage has -h, -V, -o and -q, and the table of man/mmoe.1 ("OPTIONS COMMON TO
# ALL TOOLS") is exactly what the stages do.  Each stage's letters are read
# from its --help, then checked against the program itself: a listed letter is
# accepted (with a value when the help shows one), any other letter is refused
# with an error that names the option now spelled with it, and NEWS lists
# every letter a stage refuses that way.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

stages=$(cd "$MMOE_BIN" && ls mmoe-* 2>/dev/null | sort)
[ -n "$stages" ] || { echo "Bail out! no stages in $MMOE_BIN"; exit 1; }

# ---- the table of man/mmoe.1: "letter long stages" lines ------------------------
man=$MMOE_TOP/man/mmoe.1
sed -n '/^\.Sh OPTIONS COMMON TO ALL TOOLS$/,/^\.Sh /p' "$man" |
	sed -n 's/^\.It Fl \([A-Za-z0-9]\) Ta Fl -\([A-Za-z0-9-]*\) Ta \(.*\)$/\1 \2 \3/p' > table
ok "test -s table" "man/mmoe.1 has the table of letters under OPTIONS COMMON TO ALL TOOLS"
declare -A tlong tstages
while read -r l long rest; do
	tlong[$l]=$long
	if [ "$rest" = "every stage" ]; then
		tstages[$l]=$(printf '%s\n' $stages | sed 's/^mmoe-//' | paste -sd' ')
	else
		tstages[$l]=$(printf '%s' "$rest" | tr -d ' ' | tr ',' '\n' | sort | paste -sd' ')
	fi
done < table

# ---- each stage's letters, from its --help ---------------------------------------
# "  -o, --output FILE  ..." takes a value (one space, then a word); "  -q, --quiet
# text" does not (two spaces); "--gen-id[=P]" takes an optional one (probed as none).
declare -A has        # has[stage:letter] = long option
declare -A needs      # needs[stage:letter] = 1 when the letter takes a value
declare -A byletter   # byletter[letter] = "long" seen first, for the cross-stage check
declare -A longletter # longletter[long] = letter seen first
declare -A actual     # actual[letter] = the stages that have it
for p in $stages; do
	s=${p#mmoe-}
	"$p" --help > "help.$s" 2>/dev/null
	while IFS=' ' read -r l long arg; do
		has[$s:$l]=$long
		[ "$arg" = 1 ] && needs[$s:$l]=1
		actual[$l]="${actual[$l]:+${actual[$l]} }$s"
	done < <(sed -n -e 's/^ \{1,8\}-\([A-Za-z0-9]\), --\([A-Za-z0-9-]*\) [^ ].*/\1 \2 1/p' \
		-e 's/^ \{1,8\}-\([A-Za-z0-9]\), --\([A-Za-z0-9-]*\)\([^A-Za-z0-9-].*\)\{0,1\}$/\1 \2 0/p' "help.$s")
done

# every stage writes output: -h -V -o -q, spelled the family's way
for p in $stages; do
	s=${p#mmoe-}
	miss=
	for lo in h:help V:version o:output q:quiet; do
		[ "${has[$s:${lo%%:*}]:-}" = "${lo#*:}" ] || miss="$miss -${lo%%:*}/--${lo#*:}"
	done
	is "$miss" "" "$p has -h, -V, -o and -q"
done
run mmoe --help
like "$out" $'  -h, --help' "mmoe has -h, --help"
like "$out" $'  -V, --version' "mmoe has -V, --version"

# one long option per letter, one letter per long option, across stages
clash=
for key in "${!has[@]}"; do
	l=${key#*:}
	long=${has[$key]}
	if [ -z "${byletter[$l]:-}" ]; then byletter[$l]=$long
	elif [ "${byletter[$l]}" != "$long" ]; then clash="$clash -$l=--${byletter[$l]}/--$long"; fi
	if [ -z "${longletter[$long]:-}" ]; then longletter[$long]=$l
	elif [ "${longletter[$long]}" != "$l" ]; then clash="$clash --$long=-${longletter[$long]}/-$l"; fi
done
is "$clash" "" "no letter stands for two long options, no long option has two letters"

# the table of man/mmoe.1 is what the stages do
diffs=
for l in "${!actual[@]}"; do
	got=$(printf '%s\n' ${actual[$l]} | sort | paste -sd' ')
	[ "${tlong[$l]:-}" = "${byletter[$l]}" ] ||
		diffs="$diffs -$l: table says --${tlong[$l]:-(nothing)}, stages use --${byletter[$l]};"
	[ "${tstages[$l]:-}" = "$got" ] ||
		diffs="$diffs -$l: table lists '${tstages[$l]:-}', stages with it are '$got';"
done
for l in "${!tlong[@]}"; do
	[ -n "${actual[$l]:-}" ] || diffs="$diffs -$l is in the table but in no stage;"
done
is "$diffs" "" "man/mmoe.1's table lists every letter, its long option and its stages"

# ---- the programs agree with their --help ----------------------------------------
letters=$(printf '%s\n' {a..z} {A..Z} {0..9})
# news_entries STAGE: the "    -x ... -> ..." lines of the stage's section of NEWS
news_entries() {
	awk -v t="  $1" '$0 == t { on = 1; next } on && !/^    / { on = 0 } on { print }' "$MMOE_TOP/NEWS"
}
for p in $stages; do
	s=${p#mmoe-}
	bad= moved=
	for l in $letters; do
		if [ -n "${has[$s:$l]:-}" ]; then
			if [ -n "${needs[$s:$l]:-}" ]; then
				"$p" "-$l" </dev/null >/dev/null 2>err && rc=0 || rc=$?
				[ "$rc" = 2 ] && grep -q "^$p: option '-$l' needs a value" err ||
					bad="$bad -$l(value)"
			else
				"$p" "-$l" --help </dev/null >/dev/null 2>err && rc=0 || rc=$?
				[ "$rc" = 0 ] || bad="$bad -$l(accepted)"
			fi
		else
			"$p" "-$l" --help </dev/null >/dev/null 2>err && rc=0 || rc=$?
			e=$(head -n 1 err)
			if [ "$rc" != 2 ]; then
				bad="$bad -$l(refused)"
			elif [[ $e == "$p: unknown option '-$l'" ]]; then
				:
			elif [[ $e == "$p: -$l is no longer an option; "* ]]; then
				[ -z "${tlong[$l]:-}" ] || bad="$bad -$l(should name --${tlong[$l]})"
				moved="$moved $l"
			elif [[ $e =~ ^$p:\ -$l\ is\ now\ --([A-Za-z0-9-]+)\ elsewhere\;\ . ]]; then
				[ "${BASH_REMATCH[1]}" = "${tlong[$l]:-}" ] || bad="$bad -$l(names --${BASH_REMATCH[1]})"
				moved="$moved $l"
			else
				bad="$bad -$l($e)"
			fi
		fi
	done
	is "$bad" "" "$p accepts exactly the letters of its --help; others are refused, naming their new meaning"
	# NEWS lists each letter the stage refuses as moved ("    -x ... -> ..." under "  mmoe-x")
	unlisted=
	for l in $moved; do
		news_entries "$p" | grep -Eq -- "^    (-[A-Za-z0-9][^,>]*, )*-$l([ ,]|\$)" || unlisted="$unlisted -$l"
	done
	is "$unlisted" "" "NEWS lists the letters $p no longer has"
done

# the error for a letter that moved, as a user sees it
run mmoe-cat -j x.zst
is "$rc" 2 "mmoe-cat -j: exit 2"
is "$err" $'mmoe-cat: -j is now --threads elsewhere; for JSON use -J/--json\nTry \'mmoe-cat --help\'.' \
	"mmoe-cat -j names --threads and the new spelling of JSON"
run mmoe-unipred -qt 2
like "$err" "^mmoe-unipred: -t is now --types elsewhere; for threads use -j/--threads" \
	"a moved letter inside a cluster (-qt) gets the same error"
# mmoe-import's -F changed meaning (--force, now --format): an old "-F file" says so
run mmoe-import -F in.jsonl
like "$rc:$err" "^2:mmoe-import: option -F: 'in.jsonl' is not jsonl, tsv, csv or libsvm \(-F is now --format; to write to a terminal use --force\)" \
	"mmoe-import -F FILE: the old meaning of -F is named"
run mmoe-import --format in.jsonl
like "$rc:$err" "^2:mmoe-import: option --format: 'in.jsonl' is not jsonl, tsv, csv or libsvm$" "mmoe-import --format FILE: no hint"
# unipred's --features stays an alias of --feature
ok "mmoe-unipred --features x --help >/dev/null && mmoe-unipred --feature x --help >/dev/null" \
	"mmoe-unipred: --features and --feature are both accepted"

done_testing
