#!/bin/bash
# mmoe-glove-table and mmoe-encode-text -e glove on tiny fixtures; the real
# GloVe table when it is there (make -f datasets.mk glove).
. "$(dirname "$0")/lib.sh"

# A tiny GloVe file in the Stanford text format (4 dims).
cat > "$T/tiny.txt" <<'TXT'
the 1 0 0 0
cat 0 1 0 0
dog 0 0.9 0.1 0
car 0 0 1 0
sunny 0 0 0 1
day 0.5 0 0 0.5
TXT
run mmoe-glove-table -o "$T/tiny.mmg" "$T/tiny.txt"
is "$rc" 0 "text format converted"
like "$err" "6 words x 4 dims" "summary names words and dims"
run mmoe-glove-table --info "$T/tiny.mmg"
like "$out" "words	6" "--info: word count"
like "$out" "first	the cat dog car sunny day" "--info: rank order kept"
run mmoe-glove-table --cosine "$T/tiny.mmg" cat dog
is "$out" "0.993884" "--cosine cat dog"
run mmoe-glove-table --cosine "$T/tiny.mmg" cat zebra
is "$rc" 1 "--cosine with an absent word: exit 1"

# The same vectors in the wink-embeddings JSON layout (values + norm + rank).
cat > "$T/tiny.json" <<'JSON'
{"precision":8,"l2NormIndex":4,"wordIndex":5,"size":6,"dimensions":4,"words":["the","cat"],
 "vectors":{"the":[1,0,0,0,1,0],"cat":[0,1,0,0,1,1],"dog":[0,0.9,0.1,0,0.9,2],"car":[0,0,1,0,1,3],
 "sunny":[0,0,0,1,1,4],"d\u0061y":[0.5,0,0,0.5,0.7,5]},"unkVector":[0,0,0,0,0,-1]}
JSON
run mmoe-glove-table -o "$T/wink.mmg" "$T/tiny.json"
is "$rc" 0 "wink JSON converted (format detected)"
ok "cmp -s '$T/tiny.mmg' '$T/wink.mmg'" "both formats give the same table bytes"
run mmoe-glove-table --max-words 2 -q -o "$T/two.mmg" "$T/tiny.json"
is "$(mmoe-glove-table --info "$T/two.mmg" | head -1)" "words	2" "--max-words keeps the most frequent"

printf '%s\n' '{"id":"a","text":"The cat and the dog!","split":"train"}' \
	'{"id":"b","text":"A sunny day, a sunny cat","split":"train"}' \
	'{"id":"c","text":"zebra","split":"test"}' | mmoe-import -q > "$T/in.zst"
run mmoe-encode-text -e glove --table "$T/tiny.mmg" --weight none --no-l2 --tokens "$T/in.zst" -o "$T/g.zst"
is "$rc" 0 "glove encoder runs"
like "$err" "glove: 5 of 13 tokens out of vocabulary \(38.5%\); 1 of 3 records with no known token" "OOV counted and reported"
mmoe-cat --json "$T/g.zst" > "$T/g.json"
is "$(jq -c '.t_glove.data' "$T/g.json" | head -1)" "[0.5,0.475,0.025,0]" "unweighted mean of known tokens"
is "$(jq -c '.t_glove_tok.shape' "$T/g.json" | tr '\n' ' ')" "[6,4] [6,4] [1,4] " "token grid [T,4]"
is "$(jq -c '.t_glove.data' "$T/g.json" | tail -1)" "[0,0,0,0]" "no known token: zero vector"
MMOE_GLOVE_TABLE="$T/tiny.mmg" run mmoe-encode-text -e glove -q "$T/in.zst" -o "$T/env.zst"
is "$rc" 0 "MMOE_GLOVE_TABLE names the table"
run mmoe-encode-text -e glove --table "$T/tiny.mmg" --weight tfidf "$T/in.zst" -o "$T/tfidf.zst"
is "$rc" 0 "--weight tfidf on a file"
like "$err" "IDF from 2 train records" "IDF from the train split"
run mmoe-encode-text -e glove --table "$T/tiny.mmg" --weight tfidf - < "$T/in.zst"
is "$rc" 2 "--weight tfidf on stdin: usage error"
a=$(mmoe-cat --json "$T/tfidf.zst" | jq -c '.t_glove.data' | head -1)
b=$(mmoe-encode-text -q -e glove --table "$T/tiny.mmg" --weight zipf "$T/in.zst" | mmoe-cat --json | jq -c '.t_glove.data' | head -1)
isnt "$a" "$b" "tfidf and zipf weights differ"

# bad tables and bad sources
head -c 200 "$T/tiny.mmg" > "$T/cut.mmg"
run mmoe-encode-text -e glove --table "$T/cut.mmg" "$T/in.zst"
is "$rc" 1 "truncated table: exit 1"
like "$err" "cut.mmg: .*truncated" "truncated table named"
printf 'cat 0 1 0 0\ndog 0 1\n' > "$T/ragged.txt"
run mmoe-glove-table -o "$T/r1.mmg" "$T/ragged.txt"
is "$rc" 1 "short line: exit 1"
like "$err" "line 2: expected a word and 4 numbers" "short line: error names the line"
printf 'cat 0 x\n' > "$T/nan.txt"
run mmoe-glove-table -o "$T/r2.mmg" "$T/nan.txt"
is "$rc" 1 "non-number: exit 1"
printf '{"dimensions":2,"vectors":{"cat":[1,2,3,4],"dog":[1,]}}' > "$T/bad.json"
run mmoe-glove-table -o "$T/r.mmg" "$T/bad.json"
is "$rc" 1 "bad JSON: exit 1"
like "$err" "byte [0-9]+: expected a number" "bad JSON: error names the byte"
ok "[ ! -e '$T/r.mmg' ] && [ ! -e '$T/r1.mmg' ] && [ ! -e '$T/r2.mmg' ]" "no table after an error"
run mmoe-glove-table "$T/tiny.txt"
is "$rc" 2 "no -o: usage error"

# pipelines/glove.mk on a local source (what `make -f datasets.mk glove` runs)
if command -v make >/dev/null; then
	run make -s -C "$MMOE_TOP" -f pipelines/glove.mk glove DATA="$T/data" GLOVE_SRC="$T/tiny.txt" MMOE_BIN="$MMOE_BIN"
	is "$rc" 0 "glove.mk converts a local GloVe file"
	like "$out" "cosine\(cat,dog\) = 0.993884, cosine\(cat,car\) = 0.000000" "glove.mk prints the sanity check"
	ok "cmp -s '$T/data/glove/glove.6B.100d.mmg' '$T/tiny.mmg'" "glove.mk table = mmoe-glove-table's"
	sed 's/^dog .*/dog 0 0 1 0/; s/^car .*/car 0 1 0 0/' "$T/tiny.txt" > "$T/swapped.txt"
	run make -s -C "$MMOE_TOP" -f pipelines/glove.mk glove DATA="$T/data2" GLOVE_SRC="$T/swapped.txt" MMOE_BIN="$MMOE_BIN"
	isnt "$rc" 0 "glove.mk: failed sanity check fails the build"
	ok "[ ! -e '$T/data2/glove/glove.6B.100d.mmg' ] && [ ! -e '$T/data2/glove/glove.6B.100d.mmg.part' ]" "no table after a failed check"
else
	skip "make missing"
fi

# The real vectors, when present.
G=${MMOE_GLOVE_TABLE:-$MMOE_TOP/data/glove/glove.6B.100d.mmg}
if [ -r "$G" ]; then
	dog=$(mmoe-glove-table --cosine "$G" cat dog); car=$(mmoe-glove-table --cosine "$G" cat car)
	ok "awk -v a=$dog -v b=$car 'BEGIN{exit !(a>b)}'" "GloVe: cosine(cat,dog)=$dog > cosine(cat,car)=$car"
	printf '%s\n' '{"id":"1","text":"my cat"}' '{"id":"2","text":"my dog"}' '{"id":"3","text":"my car"}' \
		| mmoe-import -q | mmoe-encode-text -q -e glove --table "$G" | mmoe-cat --json > "$T/real.json"
	c12=$(jq -s '[.[0].t_glove.data, .[1].t_glove.data] | transpose | map(.[0]*.[1]) | add' "$T/real.json")
	c13=$(jq -s '[.[0].t_glove.data, .[2].t_glove.data] | transpose | map(.[0]*.[1]) | add' "$T/real.json")
	ok "awk -v a=$c12 -v b=$c13 'BEGIN{exit !(a>b)}'" "encode-text: 'my cat'~'my dog' ($c12) > 'my cat'~'my car' ($c13)"
else
	skip "GloVe table absent (make -f datasets.mk glove)"
	skip "GloVe table absent"
fi
done_testing
