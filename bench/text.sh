#!/usr/bin/env bash
# bench/text.sh — records/s of mmoe-encode-text per encoder on 1 and 2
# threads, on synthetic sentences (a Zipf-distributed vocabulary of real and
# made-up words, emoji and hashtags).  Reference in the same run: mmoe-cat
# reading and writing the same stream (the I/O floor every filter pays).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
: "${MMOE_BIN:=$top/bin}"
PATH=$MMOE_BIN:$PATH
N=${TEXT_BENCH_N:-5000}
G=${MMOE_GLOVE_TABLE:-$top/data/glove/glove.6B.100d.mmg}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmoe-bench-text.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -n "${TEXT_BENCH_KEEP:-}" ] && trap - EXIT
# run private copies: a concurrent `make` may relink bin/ under our feet
mkdir -p "$tmp/bin"
for b in mmoe-cat mmoe-import mmoe-encode-text; do cp "$MMOE_BIN/$b" "$tmp/bin/"; done
PATH=$tmp/bin:$PATH

# N sentences of 6-30 tokens; word k drawn with probability ~ 1/k over
# 5000 words (the first ones real, the rest syllable compounds).
awk -v n="$N" 'BEGIN {
	srand(1)
	split("the a is it not so what great day rain sunny love oh yeah right weather today cloudy snow " \
	      "cold warm beach again just perfect wonderful another monday traffic coffee", real, " ")
	nr = length(real)
	split("ka lo mi ne su ta ri po ve da zu fi", syl, " ")
	V = 5000
	for (k = 1; k <= V; k++) {
		if (k <= nr) w[k] = real[k]
		else { s = ""; m = 2 + k % 3; x = k; for (q = 0; q < m; q++) { s = s syl[x % 12 + 1]; x = int(x / 12) + q } w[k] = s }
		H += 1 / k; cum[k] = H
	}
	extra[1] = "#not"; extra[2] = "🙄"; extra[3] = "!"; extra[4] = "Café"; extra[5] = "3.14"
	for (i = 1; i <= n; i++) {
		len = 6 + int(rand() * 25); s = ""
		for (t = 0; t < len; t++) {
			if (rand() < 0.05) { s = s " " extra[1 + int(rand() * 5)]; continue }
			u = rand() * H; lo = 1; hi = V
			while (lo < hi) { mid = int((lo + hi) / 2); if (cum[mid] < u) lo = mid + 1; else hi = mid }
			s = s (t ? " " : "") (rand() < 0.1 ? toupper(substr(w[lo], 1, 1)) substr(w[lo], 2) : w[lo])
		}
		printf "{\"id\":\"s%d\",\"split\":\"%s\",\"text\":\"%s\"}\n", i, (i % 10 < 7 ? "train" : "test"), s
	}
}' | mmoe-import -q -o "$tmp/in.zst"

# "wall cpu": the best of 3 runs' wall-clock seconds and the CPU seconds
# (user + sys) of that run.  On a loaded machine, trust the CPU column.
best() {
	local bw= bc= rep t w c
	for rep in 1 2 3; do
		if ! t=$( { TIMEFORMAT='%R %U %S'; time "$@" > /dev/null 2>"$tmp/err"; } 2>&1 | tail -1); then
			echo "FAILED: $(head -1 "$tmp/err")"
			return
		fi
		w=$(echo "$t" | cut -d' ' -f1)
		c=$(echo "$t" | awk '{ print $2 + $3 }')
		if [ -z "$bw" ] || awk -v d="$w" -v b="$bw" 'BEGIN { exit !(d < b) }'; then bw=$w; bc=$c; fi
	done
	echo "$bw $bc"
}

ntok=$(mmoe-encode-text -q --print-tokens "$tmp/in.zst" | awk -F'\t' '{ n += split($2, a, " ") } END { print n }')
echo "$N synthetic sentences, $ntok tokens ($(awk -v t="$ntok" -v n="$N" 'BEGIN { printf "%.1f", t / n }') per record)"
ref=$(best mmoe-cat "$tmp/in.zst")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-34s %10s %10s %12s %12s\n' "what" "records/s" "tokens/s" "CPU s/1k rec" "x mmoe-cat"
row() { # label "wall cpu"
	case $2 in FAILED*) printf '  %-34s %s\n' "$1" "$2"; return ;; esac
	awk -v l="$1" -v s="${2% *}" -v c="${2#* }" -v n="$N" -v t="$ntok" -v r="${ref% *}" \
		'BEGIN { printf "  %-34s %10.0f %10.0f %12.3f %12.1f\n", l, n / s, t / s, 1000 * c / n, s / r }'
}
row "mmoe-cat (read+write, reference)" "$ref"
row "tokenise only (--print-tokens)" "$(best mmoe-encode-text --print-tokens "$tmp/in.zst")"
for j in 1 2; do
	row "hash, -j $j" "$(best mmoe-encode-text -q -j $j "$tmp/in.zst")"
done
row "hash --tokens, -j 2" "$(best mmoe-encode-text -q --tokens -j 2 "$tmp/in.zst")"
row "hash --bigrams, -j 2" "$(best mmoe-encode-text -q --bigrams -j 2 "$tmp/in.zst")"
row "hash --dim 256, -j 2" "$(best mmoe-encode-text -q --dim 256 -j 2 "$tmp/in.zst")"
if [ -r "$G" ]; then
	for j in 1 2; do
		row "glove (zipf), -j $j" "$(best mmoe-encode-text -q -e glove --table "$G" -j $j "$tmp/in.zst")"
	done
	row "glove (tfidf, 2 passes), -j 2" "$(best mmoe-encode-text -q -e glove --table "$G" --weight tfidf -j 2 "$tmp/in.zst")"
	mmoe-encode-text -e glove --table "$G" "$tmp/in.zst" 2>&1 >/dev/null | sed -n 's/^mmoe-encode-text: /  /p' | grep 'out of vocabulary'
else
	echo "  glove: SKIP (no table at $G; make -f datasets.mk glove)"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
