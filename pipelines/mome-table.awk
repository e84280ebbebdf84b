# mome-table.awk — the MoME ablation table from mmoe-eval reports
# (--format tsv, --by task, one report per --diff reference and seed, in
# files .../seed=S/diff-p_REF.tsv).
#
#   awk -f mome-table.awk -v rows="pixels hog ..." -v steps="pool_add:pixels ..." FILES
#
# First table: test accuracy of each row (method p_ROW), mean ± sd over the
# seeds, per task group and over all records ("all": the groups are
# balanced, so this is their average).  Second table: each step ROW - REF of
# the ordering: the mean over seeds of the paired difference, the mean of
# the seeds' bootstrap bounds, and k/S, the number of seeds whose interval
# excludes 0 (on the side of the mean); "*" when all of them do.  Third
# table: the same steps over all records, across seeds: the mean of the
# seeds' paired differences and its 95% Student-t interval (t for S-1
# degrees of freedom times sd/sqrt(S)), "*" when it excludes 0: whether the
# step holds beyond the spread of seeds, not only within one test set.
BEGIN {
	FS = "\t"
	nr = split(rows, R, " ")
	nst = split(steps, ST, " ")
}
FNR == 1 {
	s = FILENAME
	sub(/.*seed=/, "", s); sub(/\/.*/, "", s)
	if (!(s in seenseed)) { seenseed[s] = 1; seeds[++ns] = s }
}
($1 == "all" || $1 == "task") && NF > 8 && $4 ~ /^[0-9]+$/ {
	acc[s, $2, $3] = $5
	if (!($2 in seeng)) { seeng[$2] = 1; groups[++ng] = $2 }
}
($1 == "all" || $1 == "task") && NF == 8 && $5 == "acc" {
	d[s, $2, $3, $4] = $6; lo[s, $2, $3, $4] = $7; hi[s, $2, $3, $4] = $8
}
function msd(g, m,   k, x, sum, sq, c) {
	sum = sq = c = 0
	for (k = 1; k <= ns; k++)
		if ((seeds[k], g, m) in acc) { x = acc[seeds[k], g, m]; sum += x; sq += x * x; c++ }
	if (!c)
		return sprintf("%13s", "-")
	sum /= c
	return sprintf("%5.1f ± %4.1f ", 100 * sum, c > 1 ? 100 * sqrt((sq - c * sum * sum) / (c - 1) > 0 ? (sq - c * sum * sum) / (c - 1) : 0) : 0)
}
function step(g, a, b,   k, c, md, ml, mh, ex) {
	c = md = ml = mh = ex = 0
	for (k = 1; k <= ns; k++)
		if ((seeds[k], g, a, b) in d) {
			c++; md += d[seeds[k], g, a, b]; ml += lo[seeds[k], g, a, b]; mh += hi[seeds[k], g, a, b]
		}
	if (!c)
		return sprintf("%-26s", "(no data)")
	md /= c; ml /= c; mh /= c
	for (k = 1; k <= ns; k++)
		if ((seeds[k], g, a, b) in d && ((md >= 0 && lo[seeds[k], g, a, b] > 0) || (md < 0 && hi[seeds[k], g, a, b] < 0)))
			ex++
	return sprintf("%+5.1f [%+5.1f,%+5.1f] %d/%d%s", 100 * md, 100 * ml, 100 * mh, ex, c, ex == c ? "*" : " ")
}
# the 97.5% quantile of Student's t with df degrees of freedom
function t975(df) {
	split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228", T, " ")
	return df <= 10 ? T[df] : df <= 30 ? 2.042 + (2.228 - 2.042) * (30 - df) / 20 : 1.96
}
function across(a, b,   k, c, sum, sq, m, sd, h) {
	c = sum = sq = 0
	for (k = 1; k <= ns; k++)
		if ((seeds[k], "all", a, b) in d) { x = 100 * d[seeds[k], "all", a, b]; sum += x; sq += x * x; c++ }
	if (c < 2)
		return "(needs two seeds)"
	m = sum / c
	sd = (sq - c * m * m) / (c - 1)
	h = t975(c - 1) * sqrt(sd > 0 ? sd : 0) / sqrt(c)
	return sprintf("%+5.1f [%+5.1f,%+5.1f] over %d seeds%s", m, m - h, m + h, c,
		(m - h > 0 || m + h < 0) ? " *" : "")
}
END {
	printf "%-16s", "accuracy (%)"
	for (i = 1; i <= ng; i++)
		printf " %13s", groups[i]
	printf "\n"
	for (r = 1; r <= nr; r++) {
		printf "%-16s", R[r]
		for (i = 1; i <= ng; i++)
			printf " %s", msd(groups[i], "p_" R[r])
		printf "\n"
	}
	printf "\n%-26s", "step (diff, points)"
	for (i = 1; i <= ng; i++)
		printf " %-27s", groups[i]
	printf "\n"
	for (t = 1; t <= nst; t++) {
		split(ST[t], ab, ":")
		printf "%-26s", ab[1] " - " ab[2]
		for (i = 1; i <= ng; i++)
			printf " %-27s", step(groups[i], "p_" ab[1], "p_" ab[2])
		printf "\n"
	}
	printf "\n%-26s %s\n", "step, across seeds", "all: mean [95% t interval]"
	for (t = 1; t <= nst; t++) {
		split(ST[t], ab, ":")
		printf "%-26s %s\n", ab[1] " - " ab[2], across("p_" ab[1], "p_" ab[2])
	}
}
