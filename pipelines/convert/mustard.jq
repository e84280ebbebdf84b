# mustard.jq — MUStARD as the MMoE authors prepared it -> JSON Lines records.
#
# Run by pipelines/convert/mustard.sh (read that first); jq -n with
#   --slurpfile raw   mustard_raw_data.json           {id: {utterance, speaker, context[],
#                                                        context_speakers[], show, sarcasm}}
#   --slurpfile train mustard_dataset_train.json      the speaker-independent split: only
#   --slurpfile test  mustard_dataset_test.json       the keys are used
#   --slurpfile caps  mustard_image_description.json  {id: caption}
#   --slurpfile tp/--slurpfile tpt   text-only zero-shot predictions, train / test
#   --slurpfile vp/--slurpfile vpt   vision-only zero-shot predictions, train / test
#                     {id: {"logits": {"Yes": x, "No": y, ...}, "pred": 0|1|null}}
#   --argjson seed N  --argjson valfrac F  --arg classfrom pred|argmax  --arg mode records|report
#
# Policy (tests/mustard-convert.t checks each case):
#   errors (jq exits non-zero, mustard.sh prints one line and exits 1):
#     a raw record lacking utterance/speaker/context/show/sarcasm, or with one of the wrong type;
#     sarcasm not a boolean; an id of a split file missing from the raw data or in both splits;
#     a prediction entry without numeric logits "Yes" and "No", or a pred other than 0, 1, null.
#   counted and reported skips (on stderr, never silent):
#     a raw record in neither split file (left out);
#     a prediction or a caption for an id not in that split (ignored);
#     an id without a prediction, or whose "pred" is null (the model gave no usable
#     answer): the record has no zs_* field for that modality, so mmoe-rus-split passes it
#     through untagged.  With classfrom=argmax a null pred gets the argmax class instead.
#   The authors' train subsets (R 57 / U 145 / S 90, 42 skipped) come out only with
#   classfrom=pred: 25 train ids have no vision prediction and 17 more (9 text, 8 vision)
#   have pred null.  Where pred is not null it equals the argmax of the logits.
#
# Validation split: the authors' train split is cut into train and val, stratified by label:
# within each label the train ids (sorted as strings) get keys from a MINSTD generator
# (x <- 48271 x mod 2^31-1, started at the seed) and the round(valfrac * count) ids with
# the smallest keys become val.  Every number stays below 2^53, so doubles are exact.

def die(msg): error("mustard: " + msg);

def need($id; $rec; $k; $want):
	if ($rec | has($k) | not) then die("raw record \"\($id)\": field \"\($k)\" is missing")
	elif ($rec[$k] | type) != $want then
		die("raw record \"\($id)\": field \"\($k)\": expected \($want), got \($rec[$k] | type)")
	else $rec[$k] end;

# probabilities over [No, Yes] and the class, or null when there is no usable prediction
def zs($id; $p; $what):
	if ($p | type) != "object" or ($p.logits | type) != "object"
	then die("\($what) prediction \"\($id)\": expected an object with \"logits\"") else . end
	| ($p.logits.Yes) as $y | ($p.logits.No) as $n
	| if ($y | type) != "number" or ($n | type) != "number"
	  then die("\($what) prediction \"\($id)\": logits \"Yes\" and \"No\" must be numbers") else . end
	| ($p.pred // null) as $pred
	| if $pred != null and $pred != 0 and $pred != 1
	  then die("\($what) prediction \"\($id)\": pred must be 0, 1 or null, got \($pred | tojson)") else . end
	| ([$n, $y] | max) as $m
	| [($n - $m | exp), ($y - $m | exp)] as $e
	| [$e[0] / ($e[0] + $e[1]), $e[1] / ($e[0] + $e[1])] as $prob
	| (if $y > $n then 1 else 0 end) as $argmax
	| if $classfrom == "argmax" then {p: $prob, c: $argmax}
	  elif $pred == null then null
	  else {p: $prob, c: $pred} end;

def minstd($n): [limit($n; ($seed | if . < 1 then 1 else . % 2147483647 end)
	| recurse((. * 48271) % 2147483647))];

($raw[0]) as $R | ($train[0] | keys) as $TR | ($test[0] | keys) as $TE | ($caps[0]) as $C
| ($tp[0] + $tpt[0]) as $TP0 | ($vp[0] + $vpt[0]) as $VP0
# both splits, id -> "train"/"test"; refuse an id in both or missing from the raw data
| ([$TR[] | {key: ., value: "train"}] | from_entries) as $S0
| ([$TE[] | select($S0[.] != null)] | if length > 0
	then die("id \"\(.[0])\" is in both the train and the test split") else . end)
| ($S0 + ([$TE[] | {key: ., value: "test"}] | from_entries)) as $S0
| ([$S0 | keys[] | select($R[.] == null)] | if length > 0
	then die("id \"\(.[0])\" of the split files is not in the raw data") else . end)
# labels, validated
| ([$S0 | keys[] as $id | $R[$id] as $r
	| if ($r | type) != "object" then die("raw record \"\($id)\": expected an object") else . end
	| need($id; $r; "sarcasm"; "boolean") as $s
	| {key: $id, value: (if $s then 1 else 0 end)}] | from_entries) as $Y
# the validation carve-out
| ([0, 1] | map(. as $lab | [$TR[] | select($Y[.] == $lab)] | sort) ) as $bylab
| ([$TR[]] | sort) as $trs | minstd($trs | length) as $keys
| ([range(0; $trs | length) | {key: $trs[.], value: $keys[.]}] | from_entries) as $K
| ([$bylab[] | (length * $valfrac + 0.5 | floor) as $nv
	| sort_by($K[.]) | .[0:$nv][]] | map({key: ., value: "val"}) | from_entries) as $V
| ($S0 + $V) as $S
# predictions: ignore (and count) entries for ids not in their split
| ([$tp[0] | keys[] | select($S0[.] != "train")] + [$tpt[0] | keys[] | select($S0[.] != "test")]) as $tp_unknown
| ([$vp[0] | keys[] | select($S0[.] != "train")] + [$vpt[0] | keys[] | select($S0[.] != "test")]) as $vp_unknown
| (($tp[0] | with_entries(select($S0[.key] == "train"))) + ($tpt[0] | with_entries(select($S0[.key] == "test")))) as $TP
| (($vp[0] | with_entries(select($S0[.key] == "train"))) + ($vpt[0] | with_entries(select($S0[.key] == "test")))) as $VP
| if $mode == "report" then
	([$S | to_entries[] | .value] | group_by(.) | map("\(.[0]) \(length)") | join(", ")) as $splits
	| ([$R | keys[] | select($S0[.] == null)] | length) as $unsplit
	| ([$C | keys[] | select($S0[.] == null)] | length) as $caps_unknown
	| ([$S0 | keys[] | select($C[.] == null)] | length) as $nocap
	| ([$S0 | keys[] | select($TP[.] == null)] | length) as $tmiss
	| ([$S0 | keys[] | select($VP[.] == null)] | length) as $vmiss
	| ([$S0 | keys[] | select($TP[.] != null) | zs(.; $TP[.]; "text") | select(. == null)] | length) as $tnull
	| ([$S0 | keys[] | select($VP[.] != null) | zs(.; $VP[.]; "vision") | select(. == null)] | length) as $vnull
	| "mustard: \($S | length) records (\($splits)), \([$Y[] | select(. == 1)] | length) positive; val carved from train with seed \($seed), fraction \($valfrac), stratified by label",
	  "mustard: text predictions: \($tmiss) ids without one, \($tnull) with pred null (left without zs_text), \($tp_unknown | length) for unknown ids ignored",
	  "mustard: vision predictions: \($vmiss) ids without one, \($vnull) with pred null (left without zs_vision), \($vp_unknown | length) for unknown ids ignored",
	  "mustard: captions: \($nocap) ids without one, \($caps_unknown) for unknown ids ignored; raw records in no split left out: \($unsplit)"
  else
	$S0 | keys[] as $id | $R[$id] as $r
	| need($id; $r; "utterance"; "string") as $utt
	| need($id; $r; "speaker"; "string") as $spk
	| need($id; $r; "context"; "array") as $ctx
	| need($id; $r; "show"; "string") as $show
	| ($ctx | map(if type == "string" then . else
		die("raw record \"\($id)\": field \"context\": expected an array of strings") end)) as $ctx
	| {id: $id, split: $S[$id], label: $Y[$id], text: $utt, context: ($ctx | join(" ")),
	   speaker: $spk, show: $show}
	| if $C[$id] != null then .caption = ($C[$id] | tostring) else . end
	| (if $TP[$id] != null then zs($id; $TP[$id]; "text") else null end) as $zt
	| (if $VP[$id] != null then zs($id; $VP[$id]; "vision") else null end) as $zv
	| if $zt != null then .zs_text = $zt.p | .zs_text_class = $zt.c else . end
	| if $zv != null then .zs_vision = $zv.p | .zs_vision_class = $zv.c else . end
  end
