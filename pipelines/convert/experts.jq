# experts.jq — the table of make mustard-experts from the mmoe-eval JSON reports.
#
#   jq -n -r -f experts.jq .../experts/<backbone>/eval.json ...
#
# One block per report (the backbone is the directory name), one sub-table per
# metric (F1 of class 1, macro-F1, accuracy), a line per method, a column per
# group (all records, then each rus value).  Each cell: the point estimate and,
# for methods other than the reference (--diff), the paired difference with its
# bootstrap interval; "*" marks an interval that excludes 0.
def f3: if . == null then "-" else (. * 1000 | round / 1000 | tostring
	| if test("\\.") then . else . + ".0" end
	| if test("\\.[0-9][0-9][0-9]$") then . elif test("\\.[0-9][0-9]$") then . + "0" else . + "00" end) end;
def s3: if . == null then "-" elif . >= 0 then "+" + f3 else "-" + (-. | f3) end;
def pad($n): tostring | if length >= $n then . else . + (" " * ($n - length)) end;
def cell: if .diff == null then (.value | f3)
	else (.value | f3) + " " + (.diff.value | s3) + " ["
		+ (.diff.lo | s3) + "," + (.diff.hi | s3) + "]"
		+ (if .diff.lo > 0 or .diff.hi < 0 then "*" else "" end) end;

inputs as $e | input_filename as $f
| ($f | split("/") | .[-2]) as $backbone
| $e.blocks as $B
| ($e.blocks[0].methods | keys_unsorted) as $M
| "== \($backbone): \($e.evaluated) test records ("
	+ ([$B[1:][] | "\(.group) \(.n)"] | join(", ")) + "); minus \($e.diff_reference) with "
	+ "\($e.level * 100 | round)% paired bootstrap intervals (\($e.bootstrap) resamples)",
  ([["f1", "F1(pos)"], ["macro_f1", "macro-F1"], ["acc", "accuracy"]][] as [$k, $name]
	| ($name | pad(10)) + ([$B[] | (if .by then .group else "all" end) | pad(34)] | join("")),
	  ($M[] as $m | ($m | pad(10)) + ([$B[] | .methods[$m][$k] | cell | pad(34)] | join("")))),
  ""
