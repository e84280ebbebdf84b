#!/bin/bash
# mmoe-unipred: bad input data is one line naming record and field, exit 1;
# usage errors exit 2; no partial output file.
. "$(dirname "$0")/lib.sh"

if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi
# 12 good training records of 2 classes
good() {
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
		echo "{'id':'g$i','split':'train','label':$((i % 2)),'x':[$i,$((i % 2)),1]}"
	done
}
# The bad cases are collected first (bad_case, in lib.sh) and their records made by one mkrecs run.
run_bad() {
	local i n=${#bad_desc[@]}
	good | mkrecs --dict >"$T/good.mp"
	for ((i = 0; i < n; i++)); do printf 'one-%d\t%s\n' "$i" "${bad_rec[$i]}"; done | mkrecs --dict --split "$T"
	for ((i = 0; i < n; i++)); do
		cat "$T/good.mp" "$T/one-$i.mp" >"$T/b.mp"
		run mmoe-unipred -f x ${bad_opts[$i]} -o "$T/o.zst" "$T/b.mp"
		is "$rc" 1 "${bad_desc[$i]}: exit 1"
		one_line_error mmoe-unipred "${bad_desc[$i]}: one line"
		like "$err" "${bad_re[$i]}" "${bad_desc[$i]}: names record and field"
		ok "[ ! -e '$T/o.zst' ] && ! ls '$T'/o.zst.tmp.* " "${bad_desc[$i]}: no output file left"
	done
}

bad_case "missing feature field" "{'id':'m','split':'test','y':[1,2,3]}" 'record 12 \(id "m"\): missing field "x"'
bad_case "dimension mismatch" "{'id':'d','split':'test','x':[1,2]}" 'record 12 \(id "d"\): field "x": expected 3 values, got 2'
bad_case "NaN feature" "{'id':'n','split':'train','label':0,'x':[1,nan,2]}" 'record 12 \(id "n"\): field "x".*(NaN|finite)'
bad_case "feature of the wrong type" "{'id':'s','split':'test','x':'abc'}" 'record 12 \(id "s"\): field "x"'
bad_case "negative label" "{'id':'l','split':'train','label':-1,'x':[1,2,3]}" \
	'record 12 \(id "l"\): field "label": expected a class >= 0, got -1'
bad_case "label out of range" "{'id':'l','split':'train','label':2,'x':[1,2,3]}" \
	'record 12 \(id "l"\): field "label": label 2 out of range \[0, 2\)' "--classes 2"
bad_case "string label" "{'id':'l','split':'train','label':'yes','x':[1,2,3]}" 'record 12 \(id "l"\): field "label".*string'
bad_case "fractional label" "{'id':'l','split':'train','label':0.5,'x':[1,2,3]}" 'record 12 \(id "l"\): field "label"'
bad_case "split of the wrong type" "{'id':'p','split':3,'x':[1,2,3]}" 'record 12 \(id "p"\): field "split"'
bad_case "empty feature vector" "{'id':'e','x':[]}" 'field "x"'
run_bad

# Whole-data problems.
for i in 0 1 2; do echo "{'id':'a$i','split':'train','label':$((i % 2)),'x':[$i]}"; done | mkrecs --dict >"$T/few.mp"
run mmoe-unipred -f x -o "$T/o.zst" "$T/few.mp"
is "$rc" 1 "fewer training records than folds: exit 1"
one_line_error mmoe-unipred "fewer training records than folds: one line"
like "$err" "3 training records are fewer than the 5 folds" "fewer training records than folds: says so"
run mmoe-unipred -f x -k 3 -o "$T/o.zst" "$T/few.mp"
is "$rc" 0 "3 records, 3 folds: fine"
for i in 0 1 2 3 4 5; do echo "{'id':'a$i','split':'train','label':$((i % 2 * 2)),'x':[$i]}"; done | mkrecs --dict >"$T/gap.mp"
run mmoe-unipred -f x "$T/gap.mp"
is "$rc" 1 "a class absent from training: exit 1"
like "$err" "class 1 has no training record" "a class absent: names it"
for i in 0 1 2 3 4 5; do echo "{'id':'a$i','split':'train','label':0,'x':[$i]}"; done | mkrecs --dict >"$T/one.mp"
run mmoe-unipred -f x "$T/one.mp"
is "$rc" 1 "a single class: exit 1"
like "$err" "at least 2 classes" "a single class: says so"
for i in 0 1 2 3 4 5; do echo "{'id':'a$i','split':'test','label':$((i % 2)),'x':[$i]}"; done | mkrecs --dict >"$T/nt.mp"
run mmoe-unipred -f x "$T/nt.mp"
is "$rc" 1 "no training records: exit 1"
like "$err" "no training records" "no training records: says so"
: | mkrecs --dict >"$T/empty.mp"
run mmoe-unipred -f x "$T/empty.mp"
is "$rc" 1 "empty input: exit 1"
printf 'garbage that is not msgpack\xc1' >"$T/garbage"
run mmoe-unipred -f x "$T/garbage"
is "$rc" 1 "corrupt input: exit 1"
one_line_error mmoe-unipred "corrupt input: one line"

# Usage.
good | mkrecs --dict >"$T/g.mp"
for args in "" "-f x --import $T/g.mp" "-f x --model svm" "-f x --folds 1" "-f x --drop-margin 2" \
		"-f x --balance -0.1" "-f x --import-classes a,b" "-f x --class-from foo" "-f x --bogus" \
		"-f x $T/g.mp $T/g.mp" "--import $T/g.mp" "-f x -C 0" "-f x --import-field p"; do
	run mmoe-unipred $args "$T/g.mp"
	is "$rc" 2 "usage error: '${args//$T\//}' exits 2"
done
run mmoe-unipred -f x "$T/nonexistent.mp"
is "$rc" 2 "missing input file: exit 2"
one_line_error mmoe-unipred "missing input file: one line"
run mmoe-unipred --help
is "$rc" 0 "--help exits 0"
like "$out" "--folds K .*default 5" "--help shows defaults"
run mmoe-unipred --version
like "$out" "^mmoe-unipred [0-9]" "--version"
run mmoe-unipred -f x -o "$T/ok.zst" "$T/g.mp"
is "$rc" 0 "good input: exit 0"
is "$(mmoe-cat --count "$T/ok.zst")" 12 "good input: -o writes every record"
done_testing
