# mustard.mk — MMoE on MUStARD (make mustard), two tracks, several seeds, one table.
#
#   make mustard [MUSTARD_SRC=dir] [SEEDS="1 2 3 4 5"] [ENCS="hash tfidf glove"] [CONTEXT=1] [JOBS=2]
#   make -f pipelines/mustard.mk one TRACK=paper ENC=hash SEED=1      (one run)
#
# Data: data/mustard/mustard.zst (datasets.mk: the authors' speaker-independent split,
# val carved out of train, their zero-shot predictions zs_text / zs_vision).
# Modalities, the paper's "image-captioned" setting: the utterance is the text
# modality (t_ENC), the caption of the frame the vision-side one (c_ENC); CONTEXT=1
# adds the dialogue context as a third feature (x_ENC).  Encoders: hash and tfidf
# (always) and glove (when the GloVe table of pipelines/glove.mk exists).  tfidf: each
# field's IDF is fitted on the train split first (idf-FIELD.txt beside feat.zst); the
# sparse vectors feed mmoe-unipred, and the experts read their dense companion
# (ENC_dense, the hash encoder; see feats in method.mk).
#
#   runs/mustard/t=ENC/c=ENC[/x=ENC]/feat.zst
#     .../track=paper/seed=S/rus.zst   rus-split on the authors' zero-shot predictions
#     .../track=own/seed=S/rus.zst     rus-split on mmoe-unipred cross-fitted predictions
#                                      (caption features for "vision", utterance for text)
#     .../track=T/seed=S/ep=E/...      baseline, R/U/S experts, router, fuse, eval
#                                      (pipelines/method.mk)
#     .../track=T/seed=S/ho=0.2/...    GATE=heldout: the mixture gate beside the tag
#                                      router, a fifth of train held out from the
#                                      baseline and the experts (GATE=crossfit: xf=3/;
#                                      method.mk); the default is GATE=none
#   runs/mustard/summary.txt, summary.tsv   mean ± sd over the seeds
#
# The grid (ENCS x tracks x SEEDS) runs under GNU parallel (job log per grid and
# per-job output in runs/mustard/, --resume-failed); each job is one make target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
TOP       := $(if $(filter-out pipelines,$(PIPELINES)),$(patsubst %/,%,$(dir $(PIPELINES))),.)
MMOE_BIN ?= $(abspath $(TOP))/bin
DATA     ?= data
RUNS     ?= runs
SEEDS    ?= 1 2 3 4 5
EPOCHS   ?= 20
JOBS     ?= 2
CONTEXT  ?= 0
TRACKS   ?= paper own
MUSTARD_STREAM ?= $(DATA)/mustard/mustard.zst
GLOVE_TABLE ?= $(DATA)/glove/glove.6B.100d.mmg
ENCS     ?= hash tfidf $(if $(wildcard $(GLOVE_TABLE)),glove)
# small data: narrower layers and more dropout than the defaults; patience as the
# authors' checkpoint selection on val
EXPERT_OPTS ?= --proj 64 --hidden 64 --dropout 0.3 --batch 32 --patience 5
UNI_OPTS    ?= --folds 5
EVAL_BY     ?= --by rus
BOOT        ?= 1000
# the authors' zero-shot unimodal predictions are scored alongside, as a reference
METHODS     ?= p_base p_R p_U p_S p_mmoe p_hard p_oracle p_mean zs_text zs_vision

# the mixture gate (method.mk): none, heldout or crossfit
GATE  ?= none
# one run
TRACK ?= paper
ENC   ?= hash
SEED  ?= 1
featdir = $(RUNS)/mustard/t=$(1)/c=$(1)$(if $(filter 1,$(CONTEXT)),/x=$(1))
RUN_DIR = $(call featdir,$(ENC))/track=$(TRACK)/seed=$(SEED)/$(GATE_DIR)ep=$(EPOCHS)

include $(PIPELINES)/method.mk
# the jobs started by GNU parallel get the settings through the environment
export MMOE_BIN DATA RUNS EPOCHS GATE CONTEXT BOOT EXPERT_OPTS UNI_OPTS EVAL_BY ROUTER_OPTS METHODS GLOVE_TABLE MUSTARD_STREAM

# --resume-failed goes by job number: one job log per grid, so that another grid
# never takes a finished job of this one for its own
GRID_ID = $(shell printf '%s|' '$(ENCS)' '$(TRACKS)' '$(SEEDS)' '$(EPOCHS)' '$(CONTEXT)' | cksum | cut -d' ' -f1)

.PHONY: all one features feature-files summary path
.DEFAULT_GOAL := all

all: features
	@mkdir -p $(RUNS)/mustard
	env -u MAKEFLAGS -u MFLAGS parallel --header : --joblog $(RUNS)/mustard/joblog-$(GRID_ID) \
		--results $(RUNS)/mustard/jobs --resume-failed --halt soon,fail=1 -j $(JOBS) \
		$(MAKE) --no-print-directory -s -f $(PIPELINES)/mustard.mk one \
		ENC={enc} TRACK={track} SEED={seed} \
		::: enc $(ENCS) ::: track $(TRACKS) ::: seed $(SEEDS)
	@$(MAKE) --no-print-directory -s -f $(PIPELINES)/mustard.mk summary

one: $(RUN_DIR)/eval.json $(RUN_DIR)/eval.txt $(RUN_DIR)/router.txt $(if $(GATE_DIR),$(RUN_DIR)/gate.txt)
path:
	@echo $(RUN_DIR)

# the data set first (datasets.mk knows its sources), then the feature files
features:
	$(MAKE) --no-print-directory -f $(TOP)/datasets.mk DATA=$(DATA) MMOE_BIN=$(MMOE_BIN) mustard
	$(MAKE) --no-print-directory -f $(PIPELINES)/mustard.mk feature-files
feature-files: $(foreach e,$(ENCS),$(call featdir,$(e))/feat.zst)

RUN_FILES = $(foreach e,$(ENCS),$(foreach t,$(TRACKS),$(foreach s,$(SEEDS),\
	$(call featdir,$(e))/track=$(t)/seed=$(s)/$(GATE_DIR)ep=$(EPOCHS)/eval.json)))
summary: $(RUN_FILES) $(PIPELINES)/convert/summary.jq
	jq -n -r --arg fmt tsv -f $(PIPELINES)/convert/summary.jq $(RUN_FILES) > $(RUNS)/mustard/summary.tsv
	jq -n -r --arg fmt wide -f $(PIPELINES)/convert/summary.jq $(RUN_FILES) > $(RUNS)/mustard/summary.txt
	@cat $(RUNS)/mustard/summary.txt

# ---- features: utterance (t), caption (c), context (x) ---------------------------
encode = $(MMOE_BIN)/mmoe-encode-text -q --field $(1) -e $(2) --as $(3)_$(2) \
	$(if $(filter glove,$(2)),--table $(GLOVE_TABLE),--seed 1) \
	$(if $(filter tfidf,$(2)),--idf $(@D)/idf-$(1).txt -e hash --as $(3)_tfidf_dense)
fit_idf = $(if $(filter tfidf,$(2)),$(MMOE_BIN)/mmoe-encode-text -q --field $(1) -e tfidf --seed 1 \
	--fit-idf $(@D)/idf-$(1).txt $<)
$(RUNS)/mustard/%/feat.zst: $(MUSTARD_STREAM) $(call tool,encode-text) | $$(@D)/.
	$(call fit_idf,text,$(call pp,t,$@))
	$(call fit_idf,caption,$(call pp,c,$@))
	$(if $(call pp,x,$@),$(call fit_idf,context,$(call pp,x,$@)))
	$(call encode,text,$(call pp,t,$@),t) $< \
	| $(call encode,caption,$(call pp,c,$@),c) \
	$(if $(call pp,x,$@),| $(call encode,context,$(call pp,x,$@),x)) > $@

# ---- stage 1 and 2: the two tracks --------------------------------------------------
# the predictions the tags come from (and the held-out tags of method.mk again)
rus_ab = $(if $(filter paper,$(call pp,track,$(1))),-a zs_vision -b zs_text,-a pred_v -b pred_t)
# TF-IDF vectors are used as they are (unit norm already), as in pipelines/mmoe.mk
uni_scale = $(if $(filter tfidf,$(call pp,t,$(1))),--no-standardize)
# the feat.zst of a run directory .../track=T/seed=S: two levels up
parent = $(patsubst %/,%,$(dir $(1)))
%/rus.zst %/R.zst %/U.zst %/S.zst: $$(call parent,$$(call parent,$$*))/feat.zst $(call tool,unipred) $(call tool,rus-split) | $$*/.
	$(if $(filter paper,$(call pp,track,$*)),\
	  $(MMOE_BIN)/mmoe-rus-split -q $(call rus_ab,$*) $<,\
	  $(MMOE_BIN)/mmoe-unipred -q -f c_$(call pp,c,$*) --as pred_v --seed $(call pp,seed,$*) $(UNI_OPTS) $(call uni_scale,$*) $< \
	  | $(MMOE_BIN)/mmoe-unipred -q -f t_$(call pp,t,$*) --as pred_t --seed $(call pp,seed,$*) $(UNI_OPTS) $(call uni_scale,$*) \
	  | $(MMOE_BIN)/mmoe-rus-split -q $(call rus_ab,$*)) \
		--as rus --out-R $*/R.zst --out-U $*/U.zst --out-S $*/S.zst -o $*/rus.zst
