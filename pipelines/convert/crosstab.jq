# crosstab.jq — a contingency table of two record fields, per split.
#   mmoe-cat --json --fields split,A,B s.zst | jq -rs --arg row A --arg col B -f crosstab.jq
# Rows are the values of $row ("-" where the field is absent: untagged records),
# columns those of $col.  For row=rus, col=gen_type the last line gives the agreement:
# R~R, U~Uv/Ut, S~S, over the records that have both fields.
def cell: if . == null then "-" else tostring end;
def pad($n): tostring | if length >= $n then . else . + (" " * ($n - length)) end;
def lpad($n): tostring | if length >= $n then . else (" " * ($n - length)) + . end;
def agrees($r; $g): ($r == "R" and $g == "R") or ($r == "U" and ($g == "Uv" or $g == "Ut"))
	or ($r == "S" and $g == "S");
. as $all
| ([$all[] | .[$col] | cell] | unique | sort_by({"R": 0, "U": 1, "Uv": 2, "Ut": 3, "S": 4, "-": 5}[.] // 99)) as $cols
| ($all | group_by(.split) | sort_by({"train": 0, "val": 1, "test": 2}[.[0].split // "-"] // 9))[]
| .[0].split as $split
| . as $recs
| ([$recs[] | .[$row] | cell] | unique | sort_by({"R": 0, "U": 1, "S": 2, "-": 3}[.] // 99)) as $rows
| "split \($split // "-"): \($row) (rows) x \($col) (columns), \($recs | length) records",
  ("" | pad(6)) + ([$cols[] | lpad(7)] | join("")) + ("total" | lpad(8)),
  ($rows[] as $r
	| ($r | pad(6)) + ([$cols[] as $c | [$recs[] | select((.[$row] | cell) == $r and (.[$col] | cell) == $c)]
		| length | lpad(7)] | join(""))
	+ ([$recs[] | select((.[$row] | cell) == $r)] | length | lpad(8))),
  ([$recs[] | select(.[$row] != null and .[$col] != null)] as $both
	| if ($both | length) > 0 and $row == "rus" and $col == "gen_type" then
		"agreement (R~R, U~Uv/Ut, S~S): \([$both[] | select(agrees(.rus; .gen_type))] | length)/\($both | length) = \(([$both[] | select(agrees(.rus; .gen_type))] | length) * 1000 / ($both | length) | round / 10)%"
	  else empty end),
  ""
