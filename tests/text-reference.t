#!/bin/bash
# The hash encoder against an independent Python reimplementation of the
# construction documented in mmoe-encode-text(1): mm_hash64 (FNV-1a +
# splitmix64), xoshiro256** rows, Box-Muller pairs, n-grams over characters.
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack; then skip "python3-msgpack missing"; done_testing; exit; fi

printf '%s\n' '{"id":"a","text":"Hello world"}' '{"id":"b","text":"Naïve café, déjà vu! #not 🙄"}' \
	'{"id":"c","text":""}' '{"id":"d","text":"it'"'"'s a well-known 3.14 fact"}' | mmoe-import -q > "$T/in.zst"
for args in "--seed 5 --dim 16 --buckets 1000" "--seed 9 --dim 7 --buckets 2^10 --minn 2 --maxn 3 --bigrams --no-l2"; do
	mmoe-encode-text -q --print-tokens "$T/in.zst" > "$T/tokens.tsv"
	# shellcheck disable=SC2086
	MMOE_ZSTD_LEVEL=0 mmoe-encode-text -q --tokens $args "$T/in.zst" > "$T/out.msgpack"
	run "$PY" - "$T/tokens.tsv" "$T/out.msgpack" $args <<'PY'
import math, struct, sys
import msgpack
M = (1 << 64) - 1
def splitmix(x):
    x = (x + 0x9e3779b97f4a7c15) & M; z = x
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return x, z ^ (z >> 31)
def h64(b, seed):
    h = 0xcbf29ce484222325 ^ seed
    for c in b:
        h ^= c; h = (h * 0x100000001b3) & M
    return splitmix(h)[1]
def rotl(x, k): return ((x << k) | (x >> (64 - k))) & M
class Rng:
    def __init__(s, seed):
        x = seed; s.s = []
        for _ in range(4):
            x, z = splitmix(x); s.s.append(z)
    def uni(s):
        S = s.s; r = (rotl((S[1] * 5) & M, 7) * 9) & M; t = (S[1] << 17) & M
        S[2] ^= S[0]; S[3] ^= S[1]; S[1] ^= S[2]; S[0] ^= S[3]; S[2] ^= t; S[3] = rotl(S[3], 45)
        return (r >> 11) * 2.0 ** -53
a = sys.argv[3:]
opt = dict(seed=1, dim=64, buckets=1 << 18, minn=3, maxn=5, bigrams=False, l2=True)
i = 0
while i < len(a):
    k = a[i][2:]
    if k == "bigrams": opt["bigrams"] = True; i += 1; continue
    if k == "no-l2": opt["l2"] = False; i += 1; continue
    v = a[i + 1]; opt[k] = 2 ** int(v[2:]) if v.startswith("2^") else int(v); i += 2
D, B, seed = opt["dim"], opt["buckets"], opt["seed"]
salt = {n: h64(n.encode(), seed) for n in ("word", "ngram", "bigram", "row")}
def row(b):
    g = Rng(h64(struct.pack("<Q", b), salt["row"])); out = []
    for _ in range(0, D, 2):
        u1 = max(g.uni(), 1e-300); u2 = g.uni()
        r = math.sqrt(-2 * math.log(u1)) / math.sqrt(D); t = 2 * math.pi * u2
        out += [r * math.cos(t), r * math.sin(t)]
    return out[:D]
def tokvec(t):
    w = "<" + t + ">"
    rows = [row(h64(w.encode(), salt["word"]) % B)]
    if opt["maxn"] > 0:
        for n in range(opt["minn"], opt["maxn"] + 1):
            for s in range(0, len(w) - n + 1):
                rows.append(row(h64(w[s:s + n].encode(), salt["ngram"]) % B))
    return [sum(r[j] for r in rows) / len(rows) for j in range(D)]
toks = [l.rstrip("\n").split("\t")[1].split(" ") for l in open(sys.argv[1], encoding="utf-8")]
toks = [[x for x in t if x] for t in toks]
recs = list(msgpack.Unpacker(open(sys.argv[2], "rb"), raw=False))
worst = 0.0
for t, r in zip(toks, recs):
    vs = []
    for i, x in enumerate(t):
        v = tokvec(x)
        if opt["bigrams"] and i > 0:
            br = row(h64((t[i - 1] + " " + x).encode(), salt["bigram"]) % B)
            v = [0.5 * (p + q) for p, q in zip(v, br)]
        vs.append(v)
    p = [sum(v[j] for v in vs) / len(vs) if vs else 0.0 for j in range(D)]
    if opt["l2"]:
        n = math.sqrt(sum(x * x for x in p))
        if n > 0: p = [x / n for x in p]
    got = struct.unpack("<%df" % D, r["t_hash"]["data"])
    worst = max([worst] + [abs(x - y) for x, y in zip(p, got)])
    tg = r["t_hash_tok"]
    grid = struct.unpack("<%df" % (len(tg["data"]) // 4), tg["data"])
    for i, v in enumerate(vs[:64]):
        worst = max([worst] + [abs(x - y) for x, y in zip(v, grid[i * D:(i + 1) * D])])
print("%d records, max abs diff %.3g" % (len(recs), worst))
sys.exit(0 if worst < 2e-6 and len(recs) == len(toks) == 4 else 1)
PY
	is "$rc" 0 "hash encoder matches the reference ($args): $out $err"
done
done_testing
