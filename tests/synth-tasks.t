#!/bin/bash
# mmoe-synth --kind tasks: fields and their consistency, balance, the shared
# answer vocabulary, --tasks subsets, determinism for any --threads, errors;
# then the design property at a small scale through pipelines/tasks.mk: each
# of the colour, orientation and light groups is answered best by its own
# pooled encoder (paired bootstrap interval of best minus runner-up above 0),
# and the combo group by the colour + HOG pair, beyond any single encoder.
. "$(dirname "$0")/lib.sh"

run mmoe-synth --help
like "$out" "--tasks LIST" "--help lists --tasks"
like "$out" "tasks: 4000" "--help shows the default count of --kind tasks"

# ---- errors ----
run mmoe-synth --kind tasks --tasks color,shape
is "$rc" 2 "unknown task group: exit 2"
like "$err" "^mmoe-synth: option --tasks: 'shape': unknown task group" "message names the bad group"
run mmoe-synth --kind tasks --tasks light,light
is "$rc" 2 "repeated task group: exit 2"
run mmoe-synth --tasks color
is "$rc" 2 "--tasks without --kind tasks: exit 2"
like "$err" "^mmoe-synth: --tasks needs --kind tasks" "message says what --tasks needs"

# ---- records ----
MMOE_ZSTD_LEVEL=0 mmoe-synth -q --kind tasks --count 400 --seed 3 --threads 1 > "$T/j1" &&
MMOE_ZSTD_LEVEL=0 mmoe-synth -q --kind tasks --count 400 --seed 3 --threads 3 > "$T/j3"
ok "cmp -s '$T/j1' '$T/j3'" "--threads 3 writes the same bytes as --threads 1"
run mmoe-synth --kind tasks --count 400 --seed 3 --output "$T/t.zst"
is "$rc" 0 "tasks run exits 0"
like "$err" "400 of 400 records \(kind tasks, seed 3\): color 100, orientation 100, light 100, combo 100" \
	"summary: four balanced task groups"
mmoe-cat --json --brief "$T/t.zst" > "$T/t.json"
like "$(head -1 "$T/t.json")" '^\{"id":"t000000","split":"(train|val|test)","label":[0-9]+,"task":"[a-z]+","task_label":[0-3],"answer":"[a-z ]+","instruction":"[^"]+\?","image":\{"bin":[0-9]+\},"color":"[a-z]+","stripes":"[a-z]+","light":"[a-z]+","shape":"(disc|square)","label_clean":[0-9]+\}$' \
	"tasks record fields"
vocab='["red","yellow","green","blue","horizontal","vertical","rising","falling","left","right","top","bottom","warm straight","warm slanted","cool straight","cool slanted"]'
groups='["color","orientation","light","combo"]'
is "$(jq -s --argjson v "$vocab" --argjson g "$groups" '[.[] | .task as $t | select(.label != (($g | index($t)) * 4 + .task_label) or $v[.label] != .answer)] | length' "$T/t.json")" 0 \
	"label = 4 x group + task_label, and answer names it in the shared vocabulary"
# the clean answer is what the image shows, for every group
is "$(jq -s --argjson v "$vocab" '[.[] | ($v[.label_clean]) as $a
	| select(if .task == "color" then $a != .color
		elif .task == "orientation" then $a != .stripes
		elif .task == "light" then $a != .light
		else $a != ((if (.color == "red" or .color == "yellow") then "warm" else "cool" end) + " "
			+ (if (.stripes == "horizontal" or .stripes == "vertical") then "straight" else "slanted" end)) end)] | length' "$T/t.json")" 0 \
	"the clean answer matches the drawn attributes in every group"
is "$(jq -s '[group_by(.task)[] | [group_by(.label_clean)[] | length] | (max - min)] | max <= 1' "$T/t.json")" true \
	"clean answers balanced within each group (counts differ by at most 1)"
is "$(jq -s '[.[] | select(.label != .label_clean)] | length | . > 5 and . < 40' "$T/t.json")" true \
	"--flip (default 0.05) changes a few answers"
is "$(jq -s '[group_by(.task)[] | map(select(.split == "test")) | length] | min > 10' "$T/t.json")" true \
	"every group has test records"
is "$(jq -r '.instruction' "$T/t.json" | sort -u | wc -l | tr -d ' ')" \
	"$(jq -r '.instruction' "$T/t.json" | sort -u | wc -l | awk '$1 >= 40 {print $1}')" \
	"several paraphrases per question (at least 40 distinct instructions)"
is "$(jq -s '[.[] | select(.instruction | test("\\b(red|yellow|green|blue|left|right)\\b"; "i")) | .task] | unique' "$T/t.json")" \
	'[
  "color",
  "light"
]' "only the option-listing paraphrases name answers (and all of them, in colour and light)"

# --tasks: exactly the full set's records of those groups
mmoe-synth -q --kind tasks --count 400 --seed 3 --tasks light,combo --output "$T/lc.zst"
is "$(mmoe-cat --json --brief "$T/lc.zst" | md5sum)" \
	"$(jq -c 'select(.task == "light" or .task == "combo")' "$T/t.json" | md5sum)" \
	"--tasks light,combo writes the full set's light and combo records, same ids and bytes"

# ---- the EXAMPLES of man/mmoe-synth.1: the data line as written (the
# pipeline line runs below at a smaller scale)
ex=$(awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^mmoe-synth --kind tasks/' "$MMOE_TOP/man/mmoe-synth.1")
is "$ex" "mmoe-synth --kind tasks --seed 1 --threads 2 --output tasks.zst" "the man page example is the one run here"
(cd "$T" && eval "$ex" 2>"$T/ex.err")
is "$?" 0 "man page example runs"
like "$(cat "$T/ex.err")" "4000 of 4000 records \(kind tasks, seed 1\): color 1000, orientation 1000, light 1000, combo 1000; train 2800, val 600, test 600" \
	"default count 4000: 1000 per group, 600 test records"

# ---- the design property (small scale: 1200 records, 30% test) ----
mk=$MMOE_TOP/pipelines/tasks.mk
run make --no-print-directory -s -f "$mk" MMOE_BIN="$MMOE_BIN" RUNS="$T/runs" N=1200 SEED=1 BOOT=500 \
	SYNTH_OPTS="--split 0.6,0.1,0.3"
is "$rc" 0 "pipelines/tasks.mk runs"
[ "$rc" = 0 ] || printf '%s\n' "$err" | tail -n 5 | sed 's/^/#   /'
printf '%s\n' "$out" | sed 's/^/# /'
row() { printf '%s\n' "$out" | awk -v g="$1" '$1 == g'; }
like "$(row color)" '^color .* color +[a-z]+ +\+0\.[0-9]+ \[\+0\.[0-9]+,\+[0-9.]+\] \*' \
	"color group: the colour histogram is best, its lead over the runner-up excludes 0"
like "$(row orientation)" '^orientation .* hog +[a-z]+ +\+0\.[0-9]+ \[\+0\.[0-9]+,\+[0-9.]+\] \*' \
	"orientation group: HOG is best, beyond its interval"
like "$(row light)" '^light .* pixels +[a-z]+ +\+0\.[0-9]+ \[\+0\.[0-9]+,\+[0-9.]+\] \*' \
	"light group: the pixel patches are best, beyond their interval"
like "$(row combo)" ' \+0\.[0-9]+ \[\+0\.[0-9]+,\+[0-9.]+\] \*$' \
	"combo group: colour + HOG together beat the best single encoder beyond the interval"
is "$(row combo | awk '{ print ($3 < 0.6 && $4 < 0.6 && $5 < 0.6) }')" 1 \
	"combo group: no single encoder reaches 0.6"
done_testing
