#!/bin/bash
# The EXAMPLES of man/mmoe-train-expert.1, run as written on a tiny stream
# with the fields they name (v_hog, t_hash, label, rus, pred_*_drop).
. "$(dirname "$0")/lib.sh"
if ! have_py msgpack || ! have_py numpy; then skip "python3-msgpack/numpy missing"; done_testing; exit; fi
cd "$T" || exit 1
"$PY" - <<'PYEOF' | zstd -q -o data.zst
import msgpack, numpy as np, sys
rng = np.random.default_rng(5)
out = sys.stdout.buffer
for i in range(300):
    v = rng.normal(size=6).astype('<f4'); t = rng.normal(size=5).astype('<f4')
    y = int(v[0] + t[0] + v[1] * t[1] > 0)
    sp = 'train' if i % 5 < 3 else ('val' if i % 5 == 3 else 'test')
    out.write(msgpack.packb({'id': 'r%d' % i, 'split': sp, 'label': y, 'rus': 'RUS'[i % 3],
        'pred_v_drop': bool(i % 11 == 0), 'pred_t_drop': False,
        'v_hog': {'dtype': 'f32', 'shape': [6], 'data': v.tobytes()},
        't_hash': {'dtype': 'f32', 'shape': [5], 'data': t.tobytes()}}))
PYEOF
# the literal blocks of the EXAMPLES section, in order
awk '/^\.Sh EXAMPLES/ { on = 1; next } /^\.Sh / { on = 0 }
	on && /^\.Bd -literal/ { lit = 1; n++; next } on && /^\.Ed/ { lit = 0; next }
	lit { gsub(/\\e/, "\\"); print > ("ex" n ".sh") }' "$MMOE_TOP/man/mmoe-train-expert.1"
ok "test -s ex1.sh && test -s ex2.sh && test -s ex3.sh" "the manual has three example blocks"
run bash -eo pipefail ex1.sh
is "$rc" 0 "example 1 (baseline, experts, router) runs"
ok "test -s base.mm && test -s expert_R.mm && test -s expert_U.mm && test -s expert_S.mm && test -s router.mm" \
	"example 1 writes the five models"
run bash -eo pipefail ex2.sh
is "$rc" 0 "example 2 (one prediction pass, then mmoe-fuse) runs"
n=$(mmoe-cat --count fused.zst 2>/dev/null || echo 0)
is "$n" 300 "example 2 passes every record through"
if command -v jq >/dev/null; then
	run bash -eo pipefail ex3.sh
	like "$rc:$(printf '%s' "$out" | tr -d ' \n')" '^0:\["R","U","S"\][0-9.]+$' "example 3 (--info | jq) prints the classes and the metric"
else
	skip "jq missing"
fi
# block 4, the mixture gate, needs the experts' held-out predictions: tests/train-gate.t runs it
done_testing
