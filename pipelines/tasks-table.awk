# tasks-table.awk — the encoder table of mmoe-synth --kind tasks from mmoe-eval
# reports (--format tsv, --by task, one report per --diff reference).
#
#   awk -f tasks-table.awk -v singles=p_pixels,p_hog,p_color -v pair=p_pair \
#       eval-p_pixels.tsv eval-p_hog.tsv eval-p_color.tsv
#
# For each task group: the accuracy of every single encoder and of the pair,
# the best single encoder, the runner-up, and the paired bootstrap interval of
# best minus runner-up (starred when it excludes 0); then the pair minus the
# best single encoder.  Prefixes "p_" are dropped from the names printed.
BEGIN {
	FS = "\t"
	ns = split(singles, S, ",")
}
# block rows: by group method n acc acc_lo acc_hi ...
$1 == "task" && NF > 8 && $4 ~ /^[0-9]+$/ {
	acc[$2, $3] = $5; n[$2] = $4
	if (!($2 in seen)) { seen[$2] = 1; order[++ng] = $2 }
}
# diff rows: by group method reference metric diff lo hi
$1 == "task" && NF == 8 && $5 == "acc" {
	d[$2, $3, $4] = $6; lo[$2, $3, $4] = $7; hi[$2, $3, $4] = $8
}
function name(m) { sub(/^p_/, "", m); return m }
function ci(g, a, b,   s) {
	if (!((g, a, b) in d))
		return "(no interval)"
	s = (lo[g, a, b] > 0 || hi[g, a, b] < 0) ? " *" : "  "
	return sprintf("%+.3f [%+.3f,%+.3f]%s", d[g, a, b], lo[g, a, b], hi[g, a, b], s)
}
END {
	printf "%-12s %5s", "task", "n"
	for (k = 1; k <= ns; k++)
		printf " %7s", name(S[k])
	printf "  %-7s %-7s %-28s", "best", "second", "best - second [95%]"
	if (pair != "")
		printf " %9s  %s", name(pair), "pair - best [95%]"
	printf "\n"
	for (i = 1; i <= ng; i++) {
		g = order[i]
		b = s2 = ""
		for (k = 1; k <= ns; k++) {
			m = S[k]
			if (b == "" || acc[g, m] > acc[g, b]) { s2 = b; b = m }
			else if (s2 == "" || acc[g, m] > acc[g, s2]) s2 = m
		}
		printf "%-12s %5d", g, n[g]
		for (k = 1; k <= ns; k++)
			printf " %7.3f", acc[g, S[k]]
		printf "  %-7s %-7s %-28s", name(b), name(s2), ci(g, b, s2)
		if (pair != "")
			printf " %9.3f  %s", acc[g, pair], ci(g, pair, b)
		printf "\n"
	}
}
