# experts.mk — experts trained elsewhere, routed and fused by mmoe (make mustard-experts).
#
#   make mustard-experts [MUSTARD_SRC=dir] [BACKBONES="albef qwen2-7b"] [BOOT=1000]
#   make -f pipelines/experts.mk table          (after the data set is built)
#
# The MMoE authors released the test-set logits of their experts on MUStARD: a
# baseline trained on all of train and one expert per interaction type (R, U, and
# S, which they call AS), for five backbones, in
#   $(EXPERTS_SRC)/<backbone>/mustard_{baseline,R,U,AS}_logits.jsonl
# one JSON object per line, {"image_id", "logits": [l0, l1], "pred", "target"}.
# For the four language-model backbones "pred" is the argmin of the logits on
# every row: mmoe-unipred takes the class from the logits and says so on stderr.
#
# For every backbone, on the test split:
#   p_base p_R p_U p_S   the authors' baseline and experts (softmax of their logits)
#   p_mean               the mean of the three experts' probabilities: the authors' fusion
#   p_rule               the label-free rule: the U expert where the two zero-shot
#                        unimodal predictions (zs_vision, zs_text) differ, else R
#   p_soft p_hard        weights from our router (mmoe-train-expert --target rus),
#                        trained on our hashed text features of the utterance and the
#                        caption on the training split (pipelines/mustard.mk, track
#                        paper: R/U/S tags from the authors' zero-shot predictions)
#   p_oracle             the expert of each test record's own tag (rus, from the
#                        zero-shot test predictions and the label): an upper bound
# scored by mmoe-eval: F1 of class 1 (sarcastic), macro-F1 and accuracy, overall
# and by rus, each method minus the baseline with paired bootstrap intervals.
#
#   $(RUN_DIR)/router.mm                  pipelines/mustard.mk (ENC=hash, SEED, EPOCHS)
#   $(RUN_DIR)/experts/<backbone>/fused.zst, eval.txt, eval.json
#   $(RUNS)/mustard/experts.txt           every backbone's table (pipelines/convert/experts.jq)
#
# tests/mustard-experts.t recomputes every point estimate of the table with an
# independent Python script (tests/mustard_experts_peer.py).

PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
include $(PIPELINES)/mustard.mk

TOP_DIR     := $(abspath $(PIPELINES)/..)
MUSTARD_SRC ?= $(if $(wildcard $(TOP_DIR)/../shared/data/mustard/experts),$(TOP_DIR)/../shared/data/mustard)
EXPERTS_SRC ?= $(MUSTARD_SRC)/experts
BACKBONES   ?= albef qwen2-0.5b qwen2-1.5b qwen2-7b mistral-7b
# the router of the paper track, on hashed utterance and caption features
ENC   := hash
TRACK := paper
EXPERT_METHODS = p_base p_R p_U p_S p_mean p_rule p_soft p_hard p_oracle
EXP_DIR = $(RUN_DIR)/experts
TAGGED  = $(call parent,$(RUN_DIR))/rus.zst
efile   = $(EXPERTS_SRC)/$(1)/mustard_$(2)_logits.jsonl
EXPERTS = $(MMOE_BIN)/mmoe-fuse -q --experts p_R,p_U,p_S

.PHONY: experts experts-check table
.DEFAULT_GOAL := experts

experts: experts-check
	$(MAKE) --no-print-directory -f $(TOP)/datasets.mk DATA=$(DATA) MMOE_BIN=$(MMOE_BIN) \
		MUSTARD_SRC=$(MUSTARD_SRC) mustard
	@$(MAKE) --no-print-directory -f $(PIPELINES)/experts.mk table

experts-check:
	@if [ -z "$(MUSTARD_SRC)" ] || [ ! -d "$(EXPERTS_SRC)" ]; then \
		echo "experts.mk: no expert logits in '$(EXPERTS_SRC)': give MUSTARD_SRC=dir (the MUStARD files, with experts/<backbone>/) or EXPERTS_SRC=dir" >&2; \
		exit 2; fi

table: $(foreach b,$(BACKBONES),$(EXP_DIR)/$(b)/eval.txt $(EXP_DIR)/$(b)/eval.json) $(PIPELINES)/convert/experts.jq
	@mkdir -p $(RUNS)/mustard
	@jq -n -r -f $(PIPELINES)/convert/experts.jq $(foreach b,$(BACKBONES),$(EXP_DIR)/$(b)/eval.json) \
		| sed 's/ *$$//' > $(RUNS)/mustard/experts.txt.tmp
	@mv $(RUNS)/mustard/experts.txt.tmp $(RUNS)/mustard/experts.txt
	@cat $(RUNS)/mustard/experts.txt
	@echo "(every method, also precision and recall: $(EXP_DIR)/<backbone>/eval.txt)"

# The test records, the baseline and three experts imported by image_id in one
# pass, the router's weights, then every fusion.
$(EXP_DIR)/%/fused.zst: $(TAGGED) $(RUN_DIR)/router.mm \
		$$(call efile,$$*,baseline) $$(call efile,$$*,R) $$(call efile,$$*,U) $$(call efile,$$*,AS) \
		$(call tool,cat) $(call tool,unipred) $(call tool,train-expert) $(call tool,fuse) | $$(@D)/.
	$(CAT) --where split=test $< \
	| $(MMOE_BIN)/mmoe-unipred -q --id-key image_id \
		--import $(call efile,$*,baseline) --as p_base --import $(call efile,$*,R) --as p_R \
		--import $(call efile,$*,U) --as p_U --import $(call efile,$*,AS) --as p_S \
	| $(PROBS) -m $(RUN_DIR)/router.mm --as p_router \
	| $(EXPERTS) --mode mean --as p_mean \
	| $(EXPERTS) --mode rule --unimodal zs_vision,zs_text --as p_rule \
	| $(EXPERTS) --mode soft --router p_router --as p_soft \
	| $(EXPERTS) --mode hard --router p_router --as p_hard \
	| $(EXPERTS) --mode oracle --as p_oracle -o $@

experts_eval = $(EVAL) $(addprefix -p ,$(EXPERT_METHODS)) --label label --by rus --split test \
	--bootstrap $(BOOT) --seed $(SEED) --diff p_base
$(EXP_DIR)/%/eval.txt: $(EXP_DIR)/%/fused.zst $(call tool,eval)
	$(experts_eval) --format table $< > $@
$(EXP_DIR)/%/eval.json: $(EXP_DIR)/%/fused.zst $(call tool,eval)
	$(experts_eval) --format json $< > $@
