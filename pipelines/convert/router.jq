# router.jq — how well the router predicts the rus tag, per split.
#   mmoe-cat --json --fields split,rus,p_router_class,p_router s.zst | jq -rs -f router.jq
# Router classes are in the order R, U, S (mmoe-train-expert --classes R,U,S); the
# class is p_router_class, else the argmax of p_router.  Untagged records are left out.
def cls: if .p_router_class != null then .p_router_class
	else (.p_router | if type == "object" then .data else . end | to_entries | max_by(.value) | .key) end;
def names: ["R", "U", "S"];
def f1($tp; $fp; $fn): if 2 * $tp + $fp + $fn == 0 then 0 else 2 * $tp / (2 * $tp + $fp + $fn) end;
def r2: . * 1000 | round / 1000;
[.[] | select(.rus != null) | {split, t: .rus, p: names[cls]}]
| group_by(.split) | sort_by({"train": 0, "val": 1, "test": 2}[.[0].split // "-"] // 9)[]
| .[0].split as $s | . as $r
| ([names[] as $k | f1([$r[] | select(.t == $k and .p == $k)] | length;
	[$r[] | select(.t != $k and .p == $k)] | length; [$r[] | select(.t == $k and .p != $k)] | length)]) as $f
| "split \($s): \($r | length) records, accuracy \([$r[] | select(.t == .p)] | length / ($r | length) | r2), macro-F1 \($f | add / 3 | r2) (F1 R \($f[0] | r2), U \($f[1] | r2), S \($f[2] | r2)); predicted R/U/S: \([names[] as $k | [$r[] | select(.p == $k)] | length] | map(tostring) | join("/")), true: \([names[] as $k | [$r[] | select(.t == $k)] | length] | map(tostring) | join("/"))"
