#!/bin/bash
# mmoe-eval --plot: charts, their data and scripts are written; they re-render;
# without gnuplot, a clear error.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
"$PY" -c '
import json
for i in range(60):
    y = i % 2
    r = {"id": "r%d" % i, "label": y, "rus": "RUS"[i % 3], "base_class": y if i % 5 else 1 - y,
         "mmoe_class": y if i % 7 else 1 - y, "w": [0.6, 0.2, 0.2] if i % 3 == 0 else [0.2, 0.4, 0.4]}
    print(json.dumps(r))' | mkrecs >"$T/in.mp"

# Without gnuplot on PATH: exit 2 before reading anything.
run env PATH=/nonexistent "$MMOE_BIN/mmoe-eval" -p base --plot "$T/np" "$T/in.mp"
is "$rc" 2 "no gnuplot: exit 2"
one_line_error mmoe-eval "no gnuplot: one-line error"
like "$err" "--plot needs gnuplot.*gnuplot-nox" "no gnuplot: the error says what to install"
ok "[ ! -e '$T/np' ]" "no gnuplot: no directory created"
run env PATH=/nonexistent "$MMOE_BIN/mmoe-eval" -q -p base -B 0 -F json "$T/in.mp"
is "$rc" 0 "no gnuplot: fine without --plot"

if ! command -v gnuplot >/dev/null; then
	skip "gnuplot missing: no charts checked"
	done_testing
	exit
fi
run mmoe-eval -q -p base,mmoe --by rus -w w -B 50 --plot "$T/pl" "$T/in.mp"
is "$rc" 0 "--plot: exit 0"
like "$out" "F1\(pos\) by rus" "--plot still prints the report"
for f in f1_rus weights_rus; do
	is "$(head -c 4 "$T/pl/$f.png" | tail -c 3)" "PNG" "$f.png is a PNG"
	ok "grep -q '<svg' '$T/pl/$f.svg'" "$f.svg is SVG"
	ok "[ -s '$T/pl/$f.dat' ] && [ -s '$T/pl/$f.gp' ]" "$f: data and script kept"
done
is "$(grep -v '^#' "$T/pl/f1_rus.dat" | awk '{print $1, $2, NF}' | tr '\n' ' ')" \
	'"all (60)" 8 "R (20)" 8 "U (20)" 8 "S (20)" 8 ' "f1_rus.dat: all + one row per type, value lo hi per method"
ok "! ls '$T'/pl/*.tmp.*" "no temporaries left"
# The kept scripts re-render the charts.
rm "$T/pl/f1_rus.png" "$T/pl/f1_rus.svg"
ok "cd '$T/pl' && gnuplot f1_rus.gp && [ -s f1_rus.png ] && [ -s f1_rus.svg ]" "gnuplot f1_rus.gp re-renders"
# No --by: one chart over all records.
run mmoe-eval -q -p base -B 0 --plot "$T/p2" "$T/in.mp"
ok "[ -s '$T/p2/f1_all.png' ] && [ ! -e '$T/p2/weights_all.png' ]" "no --by: f1_all only (no --weights)"
# A failing gnuplot is an error, and the previous images stay.
printf '#!/bin/sh\nexit 3\n' >"$T/fakegp"
chmod +x "$T/fakegp"
cp "$T/pl/weights_rus.png" "$T/before.png"
run env MMOE_GNUPLOT="$T/fakegp" "$MMOE_BIN/mmoe-eval" -q -p base -w w --by rus -B 0 --plot "$T/pl" "$T/in.mp"
is "$rc" 2 "gnuplot failure: exit 2"
like "$err" "gnuplot failed on .*f1_rus.gp" "gnuplot failure names the script"
ok "cmp -s '$T/before.png' '$T/pl/weights_rus.png'" "previous images untouched"
done_testing
