# summary.jq — aggregate mmoe-eval JSON reports over seeds.
#
#   jq -n -r --arg fmt text|tsv|json [--arg metrics f1,acc,precision,recall] \
#      -f summary.jq runs/.../seed=*/.../eval.json
#
# Each input file is one run; its configuration is read from the key=value
# components of its path (e.g. track=paper/t=hash/seed=3/ep=20).  Runs that differ
# only in seed= form one group; for every group, breakdown (mmoe-eval block: all,
# rus = R, gen_type = S, ...), method and metric it gives the number of seeds, the
# mean, the sample standard deviation and the range of the point estimates.
# fmt=text prints one block per configuration and breakdown (metric columns, each
# "mean ± sd"); fmt=wide one table, a line per configuration and method: F1(pos),
# accuracy, precision, recall on all records, then F1(pos) per rus type;
# fmt=tsv one line per row; fmt=json the rows.
def r3: if . == null then null else . * 1000 | round / 1000 end;
def f3: if . == null then "-" else (r3 | tostring | if test("\\.") then . else . + ".0" end
	| if test("\\.[0-9][0-9][0-9]$") then . elif test("\\.[0-9][0-9]$") then . + "0" else . + "00" end) end;
def pad($n): tostring | if length >= $n then . else . + (" " * ($n - length)) end;
def lpad($n): tostring | if length >= $n then . else (" " * ($n - length)) + . end;
def mean: if length == 0 then null else add / length end;
def sd: if length < 2 then 0 else mean as $m | (map((. - $m) * (. - $m)) | add / (length - 1) | sqrt) end;
def config: split("/") | map(select(test("^[A-Za-z_][A-Za-z0-9_]*=")) | select(startswith("seed=") | not))
	| join(" ");
def seedof: [split("/")[] | select(startswith("seed="))] | last // "seed=?" | ltrimstr("seed=");

($ARGS.named.metrics // "f1,acc,precision,recall" | split(",")) as $M
| ($ARGS.named.fmt // "text") as $fmt
| [inputs as $e | input_filename as $f
	| $e.blocks[] as $b | $b.methods | to_entries[] as $m | $M[] as $k
	| {config: ($f | config), seed: ($f | seedof), by: ($b.by // "all"), group: $b.group, n: $b.n,
	   method: $m.key, metric: $k, value: $m.value[$k].value}]
| group_by([.config, .by, .group, .method, .metric])
| map({config: .[0].config, by: .[0].by, group: .[0].group, method: .[0].method, metric: .[0].metric,
	seeds: length, n: (map(.n) | mean | round), mean: (map(.value) | mean), sd: (map(.value) | sd),
	min: (map(.value) | min), max: (map(.value) | max)})
| if $fmt == "json" then .[]
  elif $fmt == "tsv" then
	(["config", "by", "group", "method", "metric", "seeds", "n", "mean", "sd", "min", "max"] | @tsv),
	(.[] | [.config, .by, .group, .method, .metric, .seeds, .n, (.mean | r3), (.sd | r3), (.min | r3), (.max | r3)] | @tsv)
  elif $fmt == "wide" then
	(["p_base", "p_R", "p_U", "p_S", "p_mmoe", "p_gate", "p_hard", "p_oracle", "p_mean"]) as $o0
	| ($o0 + ([.[].method] | unique - $o0)) as $order
	| . as $rows
	# the breakdown columns: F1 per rus type, then per gen_type (or any other --by field)
	| ([$rows[] | select(.by != "all") | {by, group}] | unique
		| sort_by({"rus": 0, "gen_type": 1}[.by] // 9, .by, {"R": 0, "U": 1, "Uv": 2, "Ut": 3, "S": 4}[.group] // 9)) as $cols
	| (def cell($c; $m; $by; $g; $k): [$rows[] | select(.config == $c and .method == $m and .by == $by
		and .group == $g and .metric == $k)][0] | if . == null then "-" else "\(.mean | f3)±\(.sd | f3)" end;
	   def short: {"rus": "", "gen_type": "gen "}[.by] as $p | "F1 " + ($p // (.by + " ")) + .group;
	   ([$rows[].config] | unique) as $configs
	   | ([$configs[] | length] | max) as $w
	   | "mean ± sd over \($rows[0].seeds) seeds of the test-split scores; F1 = binary F1 of the positive class;",
	     "F1 R/U/S: by the rus tag\(if any($cols[]; .by == "gen_type") then "; F1 gen X: by the generator's gen_type" else "" end)",
	     (("configuration" | pad($w)) + "  " + ("method" | pad(9)) + (["F1", "acc", "precision", "recall"] + [$cols[] | short]
		| map(lpad(13)) | join(""))),
	     ($configs[] as $c | ($order[] as $m | select([$rows[] | select(.config == $c and .method == $m)] | length > 0)
		| ($c | pad($w)) + "  " + ($m | pad(9))
		+ ([cell($c; $m; "all"; "all"; "f1"), cell($c; $m; "all"; "all"; "acc"),
		    cell($c; $m; "all"; "all"; "precision"), cell($c; $m; "all"; "all"; "recall")]
		   + [$cols[] as $t | cell($c; $m; $t.by; $t.group; "f1")] | map(lpad(13)) | join(""))), ""),
	     "test records per group (mean over seeds): \([$configs[] as $c | "\($c): " + ([$cols[] as $t
		| [$rows[] | select(.config == $c and .by == $t.by and .group == $t.group)][0].n as $n
		| select($n != null) | "\($t | short | ltrimstr("F1 ")) \($n)"] | join(", "))] | join("; "))")
  else
	# method order: as first seen in the reports' method lists would be best; use a fixed one
	(["p_base", "p_R", "p_U", "p_S", "p_mmoe", "p_gate", "p_hard", "p_oracle", "p_mean"]) as $o0
	| ($o0 + ([.[].method] | unique - $o0)) as $order
	| group_by(.config)[] | .[0].config as $c
	| "== \($c)  (\(.[0].seeds) seeds; mean ± sd of the point estimates across seeds)",
	  (group_by([.by, .group]) | sort_by(.[0].by != "all", .[0].by, {"R": 0, "U": 1, "Uv": 2, "Ut": 3, "S": 4}[.[0].group] // 9)[]
		| (if .[0].by == "all" then "all" else "\(.[0].by) = \(.[0].group)" end) as $title
		| "-- \($title) (n=\(.[0].n))",
		  ("method    " + ([$M[] | {f1: "F1(pos)", acc: "acc", precision: "precision", recall: "recall", macro_f1: "macro-F1"}[.] // . | lpad(16)] | join(""))),
		  (group_by(.method) | sort_by(.[0].method as $m | $order | index([$m]) // 99)[]
			| . as $rows
			| (.[0].method | pad(10)) + ([$M[] as $k | $rows[] | select(.metric == $k)
				| "\(.mean | f3) ± \(.sd | f3)" | lpad(16)] | join("")))),
	  ""
  end
