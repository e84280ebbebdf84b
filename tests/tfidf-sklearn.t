#!/bin/bash
# Peer check of the TF-IDF route against scikit-learn:
#  - features: TfidfVectorizer(sublinear_tf, smooth_idf, norm l2, word
#    n-grams 1..2) fitted on the train split, given OUR tokens (a tokenizer
#    reading what `mmoe-encode-text --print-tokens` prints) and an exact
#    vocabulary; our hashed vector (2^20 buckets) read back at each of the
#    record's terms (bucket and sign from --print-features) must have a
#    cosine >= 0.999 with sklearn's, record by record;
#  - model: LogisticRegression(C=1) on sklearn's features against
#    `mmoe-unipred --no-standardize` on ours: >= 98% of the test predictions
#    identical, test accuracy within 0.01.
# On a generated corpus (mmoe-synth sentences) always, and on the MUStARD
# utterances when ../shared/data/mustard is there (a visible skip otherwise).
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy || ! have_py sklearn || ! have_py scipy; then
	for w in synth mustard; do
		skip "python3-msgpack/numpy/scipy/sklearn missing: TF-IDF features peer check ($w)"
		skip "python3-msgpack/numpy/scipy/sklearn missing: TF-IDF logistic regression peer check ($w)"
		skip "python3-msgpack/numpy/scipy/sklearn missing: TF-IDF accuracy peer check ($w)"
	done
	done_testing; exit
fi

cat > "$T/peer.py" <<'PYEOF'
import msgpack, numpy as np, scipy.sparse as sp, sys, warnings
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
warnings.filterwarnings('ignore')
recs_path, toks_path, feats_path = sys.argv[1:4]
toks = {}
for line in open(toks_path, encoding='utf-8'):
    i, t = line.rstrip('\n').split('\t', 1)
    toks[i] = t.split(' ') if t else []
where = {}  # (id, term) -> (bucket, sign)
for line in open(feats_path, encoding='utf-8'):
    i, b, s, c, f = line.rstrip('\n').split('\t', 4)
    where[f] = (int(b), 1.0 if s == '+' else -1.0)
ids, split, y, ours, pred = [], [], [], [], []
for r in msgpack.Unpacker(open(recs_path, 'rb'), raw=False):
    s = r['t_tfidf']
    # the record form as a scipy.sparse row, in one line (man/mmoe-records.5)
    row = sp.csr_matrix((np.frombuffer(s['values'], '<f4'), np.frombuffer(s['indices'], '<u4'), [0, len(s['values']) // 4]), shape=(1, s['dim']))
    ids.append(r['id']); split.append(r['split']); y.append(r['label']); ours.append(row)
    pred.append(int(r['p_class']))
vec = TfidfVectorizer(tokenizer=lambda i: toks[i], preprocessor=None, lowercase=False,
                      token_pattern=None, ngram_range=(1, 2), sublinear_tf=True,
                      smooth_idf=True, norm='l2')
tr = [k for k in range(len(ids)) if split[k] == 'train']
te = [k for k in range(len(ids)) if split[k] == 'test']
vec.fit([ids[k] for k in tr])
X = vec.transform(ids)
terms = vec.get_feature_names_out()
cos = []
for k in range(len(ids)):
    a = X.getrow(k)
    o = ours[k]
    # every term of the record (seen in training or not), read back from our buckets
    doc = set(toks[ids[k]])
    doc |= {toks[ids[k]][j] + ' ' + toks[ids[k]][j + 1] for j in range(len(toks[ids[k]]) - 1)}
    od = dict(zip(o.indices, o.data))
    ad = dict(zip((terms[j] for j in a.indices), a.data))
    u = np.array([ad.get(t, 0.0) for t in doc]); v = np.array([where[t][1] * od.get(where[t][0], 0.0) for t in doc])
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    cos.append(1.0 if nu == 0 and nv == 0 else float(u @ v / (nu * nv)) if nu and nv else 0.0)
clf = LogisticRegression(C=1.0, max_iter=10000, tol=1e-8).fit(X[tr], np.array(y)[tr])
sk = clf.predict(X[te])
yt = np.array(y)[te]; ot = np.array(pred)[te]
print('%.6f %.6f %.4f %.4f %.4f %d %d' % (min(cos), float(np.mean(cos)), float(np.mean(sk == ot)),
      float(np.mean(ot == yt)), float(np.mean(sk == yt)), len(terms), len(te)))
PYEOF

# peer NAME STREAM : the three checks on STREAM (records with text, split, label)
peer() {
	local name=$1 in=$2
	mmoe-encode-text -q -e tfidf --fit-idf "$T/$name.idf" "$in"
	MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q -e tfidf --idf "$T/$name.idf" "$in" \
		| MMOE_ZSTD_LEVEL=0 mmoe-unipred -q --feature t_tfidf --as p --no-standardize > "$T/$name.mp"
	mmoe-encode-text -q --print-tokens "$in" > "$T/$name.tok"
	mmoe-encode-text -q -e tfidf --idf "$T/$name.idf" --print-features "$in" > "$T/$name.feat"
	read -r cmin cmean same ours sk vocab nte < <("$PY" "$T/peer.py" "$T/$name.mp" "$T/$name.tok" "$T/$name.feat")
	echo "# $name: $vocab terms; cosine min $cmin, mean $cmean; $nte test records: same prediction $same, accuracy ours $ours, sklearn $sk"
	ok "awk 'BEGIN { exit !($cmin >= 0.999) }'" "$name: every record's TF-IDF vector has cosine >= 0.999 with sklearn's (min $cmin)"
	ok "awk 'BEGIN { exit !($same >= 0.98) }'" "$name: >= 98% of the test predictions equal sklearn's LogisticRegression ($same)"
	ok "awk 'BEGIN { d = $ours - $sk; exit !(d <= 0.01 && d >= -0.01) }'" \
		"$name: test accuracy within 0.01 of sklearn's ($ours vs $sk)"
}

mmoe-synth -q -n 3000 --seed 3 -o "$T/synth.zst"
mmoe-cat --fields id,split,label,text "$T/synth.zst" -o "$T/synth-text.zst"
peer synth "$T/synth-text.zst"

src=$SHARED/data/mustard
if [ -r "$src/mustard_raw_data.json" ]; then
	make --no-print-directory -s -f "$MMOE_TOP/datasets.mk" MMOE_BIN="$MMOE_BIN" DATA="$T/d" \
		mustard MUSTARD_SRC="$src" 2>/dev/null
	peer mustard "$T/d/mustard/mustard.zst"
else
	skip "no $src: TF-IDF features peer check on MUStARD"
	skip "no $src: TF-IDF logistic regression peer check on MUStARD"
	skip "no $src: TF-IDF accuracy peer check on MUStARD"
fi
done_testing
