#!/bin/bash
# Sparse vectors end to end through the tools: mmoe-import and mmoe-cat
# (JSON and libsvm text, both ways, and their errors), mmoe-encode-text
# -e tfidf (the two runs, the table's errors, threads, the man page's
# example) and mmoe-unipred on sparse features.
. "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# ---- JSON <-> records ----
cat > sp.jsonl <<'EOF'
{"id":"a","split":"train","label":1,"x":{"dim":8,"indices":[1,5],"values":[0.6,0.8]}}
{"id":"b","split":"test","label":0,"x":{"dim":8,"indices":[],"values":[]}}
EOF
run mmoe-import -o sp.zst sp.jsonl
is "$rc" 0 "mmoe-import reads sparse vectors from JSON"
run mmoe-cat --json sp.zst
is "$out" "$(cat sp.jsonl | sed 's/0\.6,/0.6,/')" "mmoe-cat --json prints them back as written (an empty vector too)"
run mmoe-cat --json --brief --fields x --head 1 sp.zst
is "$out" '{"x":{"dim":8,"nnz":2,"min":0.6,"max":0.8}}' "--brief: dim, nnz, min, max"
run mmoe-cat --check sp.zst -o /dev/null
is "$rc" 0 "--check accepts well-formed sparse vectors"

for c in 'indices [5,1]|"indices"\[1\]: 1 after 5' 'indices [1,8]|"indices"\[1\]: 8 is not below dim 8' \
		'values [0.6]|vector: 2 indices but 1 values'; do
	what=${c%%|*} re=${c#*|}
	ix='[1,5]' vs='[0.6,0.8]'
	case $what in indices*) ix=${what#indices } ;; values*) vs=${what#values } ;; esac
	run mmoe-import -o bad.zst <<<"{\"id\":\"z\",\"x\":{\"dim\":8,\"indices\":$ix,\"values\":$vs}}"
	is "$rc" 1 "import refuses a sparse vector with $what (exit 1)"
	like "$err" "^mmoe-import: <stdin>: line 1: field \"x\": sparse $re" "... naming the line, the field and the entry"
done
if have_py msgpack; then
	"$PY" -c '
import msgpack, struct, sys
sys.stdout.buffer.write(msgpack.packb({"id": "q", "x": {"dim": 4, "indices": struct.pack("<2I", 3, 2), "values": struct.pack("<2f", 1, 2)}}))' > bad.mp
	run mmoe-cat --check bad.mp -o /dev/null
	is "$rc" 1 "cat --check refuses decreasing indices (exit 1)"
	like "$err" 'record 0 \(id "q"\): field "x": sparse "indices"\[1\]: 2 after 3' "... naming the record, its id and the field"
else
	skip "python3-msgpack missing: cat --check on a malformed sparse vector"
	skip "python3-msgpack missing: its message"
fi

# ---- libsvm <-> records ----
printf '1 3:0.5 7:1.25\n-1 qid:3 1:2 # comment\n\n0.5 10:0.001\n' > a.svm
run mmoe-import --format libsvm --dim 10 --gen-id=r -o a.zst a.svm
is "$rc" 0 "import --format libsvm"
run mmoe-cat --json a.zst
like "$out" '^\{"id":"r0","label":1,"x":\{"dim":10,"indices":\[2,6\],"values":\[0.5,1.25\]\}\}' \
	"a line becomes {id, label, x}: indices from 0, dim --dim"
like "$out" '"id":"r1","label":-1,"qid":3,' "qid is kept"
like "$out" '"label":0.5,' "a real label stays a number"
run mmoe-cat --libsvm x a.zst
is "$out" "$(printf '1 3:0.5 7:1.25\n-1 1:2.0\n0.5 10:0.001')" "cat --libsvm writes them back, indices from 1"
run mmoe-import --format libsvm a.svm -o /dev/null
is "$rc" 2 "libsvm without --dim is a usage error (exit 2)"
run mmoe-import --format libsvm --dim 5 a.svm -o /dev/null
is "$rc:$err" '1:mmoe-import: a.svm: line 1: field "x": index "7" is not an integer in [1, 5] (--dim)' \
	"an index beyond --dim: exit 1, naming the file, line and field"
run mmoe-import --format libsvm --dim 10 -o /dev/null <<<'1 4:1 2:1'
like "$rc:$err" '^1:.*index 2 after 4: indices must be increasing' "decreasing indices are refused"
run mmoe-cat --libsvm x sp.zst
is "$out" "$(printf '1 2:0.6 6:0.8\n0')" "cat --libsvm of records made from JSON (an empty vector is a bare label)"
# the libsvm example of mmoe-records(5), as written (the mmoe dispatcher runs
# mmoe-import and mmoe-cat)
awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^\.Dl mmoe (import --format libsvm|cat --libsvm)/ {
	sub(/^\.Dl /, ""); print }' "$MMOE_TOP/man/mmoe-records.5" > ex5.sh
awk 'BEGIN { srand(3); for (i = 0; i < 20; i++) { printf "%d", i % 2; j = 0
	while ((j += 1 + int(rand() * 300)) <= 1000) printf " %d:%g", j, int(1 + rand() * 999) / 1000; print "" } }' > train.svm
run bash -e ex5.sh
is "$rc:$(wc -l < ex5.sh | tr -d ' ')" "0:2" "the libsvm example of mmoe-records(5) runs (2 commands)"
ok "cmp -s train.svm again.svm" "... and gives back the same file"
run mmoe-cat --libsvm nope sp.zst
like "$rc:$err" '^1:mmoe-cat: sp.zst: record 0 \(id "a"\): field "nope": missing' "--libsvm of a missing field: exit 1, naming it"

# ---- mmoe-encode-text -e tfidf ----
mmoe-synth -q -n 400 --seed 2 -o syn.zst
run mmoe-encode-text -e tfidf syn.zst
is "$rc" 2 "-e tfidf without --idf or --fit-idf is a usage error"
like "$err" "needs --idf FILE" "... which says how to make the table"
run mmoe-encode-text -e tfidf --fit-idf idf.txt syn.zst
is "$rc" 0 "--fit-idf writes the table"
like "$err" "IDF of [0-9]+ train records \(of 400\)" "... fitted on the train records only"
is "$(head -6 idf.txt | tr '\n' ' ')" "mmoe-idf 1 bits 20 words 2 chars 0 0 seed 1 docs $(mmoe-cat --json syn.zst | grep -c '"split":"train"') " \
	"the table's header: settings and the number of train records"
run mmoe-encode-text -e tfidf --idf idf.txt -o t1.zst syn.zst
is "$rc" 0 "--idf encodes"
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q -e tfidf --idf idf.txt --threads 1 syn.zst > j1.mp
MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q -e tfidf --idf idf.txt --threads 2 syn.zst > j2.mp
ok "cmp -s j1.mp j2.mp" "same records with 1 and 2 threads"
run mmoe-cat --check t1.zst -o /dev/null
is "$rc" 0 "the encoded records pass --check"
run mmoe-encode-text -e tfidf --idf idf.txt --bits 18 syn.zst
is "$rc" 2 "--bits that differ from the table's: usage error"
mmoe-cat --json syn.zst | sed 's/"split":"train"/"split":"test"/' | mmoe-import -q -o notrain.zst
run mmoe-encode-text -e tfidf --fit-idf x.idf notrain.zst
like "$rc:$err" '^1:.*no record with split "train" among the 400 records' "no train record to fit on: exit 1"
sed '8s/.*/12 x/' idf.txt > bad.idf
run mmoe-encode-text -e tfidf --idf bad.idf syn.zst
like "$rc:$err" '^1:mmoe-encode-text: bad.idf: line 8: expected "HASH DF"' "a corrupt table: exit 1, naming the file and the line"
run mmoe-encode-text -e tfidf --idf syn.zst syn.zst
like "$rc:$err" '^1:.*line 1: not an IDF table' "a file that is no table: exit 1"
run mmoe-encode-text -e tfidf --bits 25 --fit-idf x.idf syn.zst
is "$rc" 2 "--bits 25 (beyond 2^24): usage error"

# the TF-IDF example of mmoe-encode-text(1), as written
awk '/^\.Sh EXAMPLES/ { on = 1 } on && /^TF-IDF features/ { t = 1 } t && /^\.Bd -literal/ { b = 1; next }
	b && /^\.Ed/ { exit } b { gsub(/\\e/, "\\"); print }' "$MMOE_TOP/man/mmoe-encode-text.1" > ex.sh
cp syn.zst data.zst
run bash -e ex.sh
is "$rc" 0 "the TF-IDF example of mmoe-encode-text(1) runs"
is "$(printf '%s\n' "$out" | grep -c '	[0-9]*	[+-]	[0-9]*	')" 3 "... and prints 3 feature lines"
ok "[ -s tfidf.zst ]" "... and writes tfidf.zst"

# ---- mmoe-unipred on sparse features ----
run mmoe-unipred --feature t_tfidf --as p --no-standardize --seed 3 -o u1.zst t1.zst
is "$rc" 0 "unipred fits logistic regression on sparse features"
like "$err" "logreg on t_tfidf \[1048576\]" "... of dimension 2^20"
MMOE_ZSTD_LEVEL=0 mmoe-unipred -q --feature t_tfidf --as p --seed 3 --threads 1 t1.zst > p1.mp
MMOE_ZSTD_LEVEL=0 mmoe-unipred -q --feature t_tfidf --as p --seed 3 --threads 2 t1.zst > p2.mp
ok "cmp -s p1.mp p2.mp" "same predictions with 1 and 2 threads"
run mmoe-unipred --feature t_tfidf --model mlp --epochs 3 --seed 3 -o m1.zst t1.zst
like "$rc:$err" "^0:.*mlp on t_tfidf \[1048576\]" "the MLP on sparse features (a sparse first projection)"
MMOE_ZSTD_LEVEL=0 mmoe-unipred -q --feature t_tfidf --model mlp --epochs 3 --seed 3 --threads 2 t1.zst > m2.mp
MMOE_ZSTD_LEVEL=0 mmoe-cat m1.zst > m1.mp
ok "cmp -s m1.mp m2.mp" "... the same with 1 and 2 threads"
mmoe-cat --json --head 5 t1.zst > mix.jsonl
mmoe-encode-text -q -e hash --as t_tfidf syn.zst | mmoe-cat --json | sed -n 6,10p >> mix.jsonl
mmoe-import -q -o mix.zst mix.jsonl
run mmoe-unipred --feature t_tfidf mix.zst -o /dev/null
like "$rc:$err" '^1:mmoe-unipred: mix.zst: record 5 \(id "[^"]*"\): field "t_tfidf": expected a sparse vector' \
	"a dense tensor after sparse records: exit 1, naming the record and the field"

# ---- mmoe-train-expert on sparse features (a sparse first projection) ----
mmoe-encode-vision -q -e color --no-tokens --drop-image syn.zst \
	| mmoe-encode-text -q -e tfidf --idf idf.txt -o vt.zst
run mmoe-train-expert --feature v_color --feature t_tfidf --epochs 2 --proj 16 --hidden 16 --seed 3 \
	--target label -o sp.mm vt.zst
is "$rc" 0 "train-expert takes a sparse feature next to a dense one"
run mmoe-train-expert --info sp.mm
like "$out" '"name": "t_tfidf",' "--info lists the sparse feature"
like "$(printf '%s' "$out" | tr -d ' \n')" '"sparse":\{"dim":1048576,"columns":[0-9]+,"pairs":[0-9]+\}' \
	"... with its dimension, its training columns and its pairs per record"
run mmoe-train-expert --feature v_color --feature t_tfidf --epochs 2 --proj 16 --hidden 16 --seed 3 \
	--target label --init sp.mm -o sp2.mm vt.zst
is "$rc" 0 "an expert starts from it (--init: the same columns and pairs)"
MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --resave sp.mm -o r1.raw
mmoe-train-expert -q --resave sp.mm -o r.mm && MMOE_ZSTD_LEVEL=0 mmoe-train-expert -q --resave r.mm -o r2.raw
ok "cmp -s r1.raw r2.raw" "save, load, save: the same model file (columns included)"
run mmoe-train-expert --predict -m sp.mm --as q -m sp2.mm --as q2 -o q.zst vt.zst
is "$rc" 0 "--predict reads the sparse feature through the model's columns"
is "$(mmoe-cat --json --fields q_class q.zst | grep -c '"q_class":[01]')" 400 "... every record gets a class"
run mmoe-train-expert --feature t_tfidf --proj 0 --epochs 1 --target label -o /dev/null vt.zst
like "$rc:$err" "^2:.*sparse feature needs a projection" "a sparse feature without a projection (--proj 0): usage error"
# T = 1 non-zero per record in training (columns 0..7); column 9 never seen
for i in $(seq 0 19); do
	printf '{"id":"s%d","split":"%s","label":%d,"x":{"dim":10,"indices":[%d],"values":[1]}}\n' \
		$i "$([ $i -lt 16 ] && echo train || echo val)" $((i % 2)) $((i % 8))
done | mmoe-import -q -o one.zst
mmoe-train-expert -q --feature x --epochs 1 --proj 4 --hidden 4 --target label -o one.mm one.zst
printf '%s\n' '{"id":"u","x":{"dim":10,"indices":[2,9],"values":[1,5]}}' \
	'{"id":"w","x":{"dim":10,"indices":[1,2],"values":[1,1]}}' | mmoe-import -q -o two.zst
run mmoe-train-expert --predict -m one.mm --as q -o /dev/null two.zst
like "$rc:$err" '^1:mmoe-train-expert: model one.mm: record 1 \(id "w"\): field "x": 2 known non-zero values, more than the 1 the model takes' \
	"a column unseen in training is dropped (u); more known non-zeros than any training record: exit 1, naming it (w)"

# memory follows the features seen, not 2^k: 2^24 buckets (64 MB as floats)
# cost what 2^16 do, in the fit, the encoding and the logistic regression
case $MMOE_BIN in */san/*) nomem="peak memory is not measured in a sanitizer build" ;;
*) [ -x /usr/bin/time ] && nomem= || nomem="GNU time (Debian package time) is not installed" ;; esac
maxrss() { /usr/bin/time -f %M -o rss bash -c "exec $1" && cat rss; }
for k in 16 24; do
	if [ -n "$nomem" ]; then continue; fi
	fit[$k]=$(maxrss "mmoe-encode-text -q -e tfidf --bits $k --fit-idf i$k.txt syn.zst")
	enc[$k]=$(maxrss "mmoe-encode-text -q -e tfidf --idf i$k.txt -o e$k.zst syn.zst")
	uni[$k]=$(maxrss "mmoe-unipred -q --feature t_tfidf -o /dev/null e$k.zst")
done
for w in fit enc uni; do
	if [ -n "$nomem" ]; then skip "$nomem"; continue; fi
	eval "a=\${$w[16]} b=\${$w[24]}"
	ok "[ $b -le $((a + 4096)) ]" "$w: peak RSS with 2^24 buckets ($b KB) is that of 2^16 ($a KB), within 4 MB"
done
done_testing
