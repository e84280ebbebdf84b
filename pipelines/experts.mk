# experts.mk — experts trained elsewhere, routed and fused by mmoe (make mustard-experts).
#
#   make mustard-experts [MUSTARD_SRC=dir] [BACKBONES="albef qwen2-7b"] [BOOT=1000] [EXPERTS_NOVERIFY=1]
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

# The checksums of the copy this project was checked on (../shared/data/mustard,
# from the authors' repository github.com/lwaekfjlk/mmoe-submit, folder
# mustard_data/expert_inference_output/); a file that differs stops the build
# (experts-verify), unless EXPERTS_NOVERIFY=1.
define EXPERTS_SHA256
cb47d55618596552df1e24f0828f18b46d41f4940fab8edc0c86d4b2d3248ed5  albef/mustard_AS_logits.jsonl
033c860cb1149062f2af1d22e5c788c058396f3388d58b08f67cebef6d58fa7e  albef/mustard_R_logits.jsonl
7f1a0b6a61899cc7d9efe07b6d81d27d75c3e9c112846630d9c22133d0c0ea43  albef/mustard_U_logits.jsonl
2cc4e907ad148609699b5453363451b60064e44984a4f7e6b5586e8fdc9ed589  albef/mustard_baseline_logits.jsonl
8bd98adb9b3d7e619faed699452283acb663826a8e023918b8e838b9b5bcf3f9  mistral-7b/mustard_AS_logits.jsonl
bf4c6400640d2e5a42d6b3bcc2af2b3f7fcca933aa55d4d6416ddf63ef0168e9  mistral-7b/mustard_R_logits.jsonl
21d9f8a3d61d7d4bbd365fdb9a5937a35ecd33b4d370ab68397ab1aaafafb71d  mistral-7b/mustard_U_logits.jsonl
c4c7efe8cfaef3b351a9793a87cdf08064a57e76688008cd179e66ae1b3fbef6  mistral-7b/mustard_baseline_logits.jsonl
96cd10abdd1fa44e6623f0e4df973008bd211d3b78220d97f0c8551014e9cb11  qwen2-0.5b/mustard_AS_logits.jsonl
622e102a0568e7275603e0ff72be64d66dd5dfb150a1c111db86b3e6d7133ebd  qwen2-0.5b/mustard_R_logits.jsonl
021b139e1ee48c58fce69143132a8360b8aa88a8874262b85bb00c1004b78068  qwen2-0.5b/mustard_U_logits.jsonl
3fda383fe3d1f7432b7bd1c225a92363bbec8db16dab28ce63f94b399418f5dc  qwen2-0.5b/mustard_baseline_logits.jsonl
e585ee9ec8f107567b404643b86332df0d135085a47f0ef490864dc8b58a55a8  qwen2-1.5b/mustard_AS_logits.jsonl
afd75d979afbd7010f0e1fb1538510adfbf7a14617d407337802a949ae221445  qwen2-1.5b/mustard_R_logits.jsonl
c6b7de1623f658972dfed3c97765322c7122132b2d10a4ecdf98f75815a3bfc2  qwen2-1.5b/mustard_U_logits.jsonl
6c201416fbbeeeefc350a08743c7b41d10666f7425539ed13ea73f47a9ec14ad  qwen2-1.5b/mustard_baseline_logits.jsonl
1daea48c9de632219294672e7cfb308824a296935f8d4725aaa90056684f5c55  qwen2-7b/mustard_AS_logits.jsonl
0097bb745aa653f67d830f7f9646dce31a9fdaab9905982f5b64181dda5a50fb  qwen2-7b/mustard_R_logits.jsonl
34b78e7bf199f2f059c89f071ee3f9dd556d1a6617d417c691e353a5216f9efc  qwen2-7b/mustard_U_logits.jsonl
680ab8366e386a85530ba1e7dd69b6f842515cb43a411241d442e1cc302ce765  qwen2-7b/mustard_baseline_logits.jsonl
endef
export EXPERTS_SHA256

.PHONY: experts experts-check experts-verify table
.DEFAULT_GOAL := experts

experts: experts-check experts-verify
	$(MAKE) --no-print-directory -f $(TOP)/datasets.mk DATA=$(DATA) MMOE_BIN=$(MMOE_BIN) \
		MUSTARD_SRC=$(MUSTARD_SRC) mustard
	@$(MAKE) --no-print-directory -f $(PIPELINES)/experts.mk table

experts-check:
	@if [ -z "$(MUSTARD_SRC)" ] || [ ! -d "$(EXPERTS_SRC)" ]; then \
		echo "experts.mk: no expert logits in '$(EXPERTS_SRC)': give MUSTARD_SRC=dir (the MUStARD files, with experts/<backbone>/) or EXPERTS_SRC=dir" >&2; \
		exit 2; fi

experts-verify: experts-check
ifneq ($(EXPERTS_NOVERIFY),1)
	@cd $(EXPERTS_SRC) && for b in $(BACKBONES); do printf '%s\n' "$$EXPERTS_SHA256" | { grep " $$b/" || true; }; done \
	| sha256sum --quiet -c - \
	|| { echo "experts.mk: expert files in $(EXPERTS_SRC) differ from the copy this project was checked on (EXPERTS_NOVERIFY=1 to go on)" >&2; exit 1; }
endif

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
