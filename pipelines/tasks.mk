# tasks.mk — which vision encoder answers each task group of mmoe-synth --kind tasks.
#
#   make -f pipelines/tasks.mk [N=4000] [SEED=1] [FEAT=pooled] [RUNS=runs]   prints the table
#   make -f pipelines/tasks.mk run SEED=2                                     builds, prints nothing
#   make -f pipelines/tasks.mk FEAT=tok       the same on the token grids (v_ENC_tok, flattened)
#
# For each task group: the records of that group (mmoe-synth --tasks, the same
# records as in the full set), the three pooled encoders of mmoe-encode-vision,
# one cross-fitted logistic regression per encoder (mmoe-unipred), and a small
# network on the colour and HOG vectors together (mmoe-train-expert: the pair
# the combo group needs).  Then the four groups are scored together on the test
# split by task group, with paired bootstrap differences against each encoder
# in turn, and tasks-table.awk picks, per group, the best single encoder, the
# runner-up and the interval of their difference.
#
#   runs/tasks/n=N/seed=S/feat=F/GROUP.feat.zst     records + the encoders' vectors
#                                                   (F=tok: and grids) + p_pixels p_hog p_color
#   runs/tasks/n=N/seed=S/feat=F/GROUP.pair.mm      the colour + HOG network
#   runs/tasks/n=N/seed=S/feat=F/GROUP.scored.zst   + p_pair
#   runs/tasks/n=N/seed=S/feat=F/scored.zst         the four groups
#   runs/tasks/n=N/seed=S/feat=F/diff-p_ENC.tsv     mmoe-eval --diff p_ENC --format tsv
#   runs/tasks/n=N/seed=S/feat=F/encoders.txt       the table
# The data seed also seeds the folds and the network; the pixels projection
# keeps mmoe-encode-vision's fixed default seed, as an encoder would.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
MMOE_BIN ?= $(abspath $(PIPELINES)/..)/bin
RUNS     ?= runs
N        ?= 4000
SEED     ?= 1
# pooled: the encoders' pooled vectors v_ENC; tok: their token grids v_ENC_tok
FEAT     ?= pooled
BOOT     ?= 1000
# synth options that are not part of the path (kept at the generator's defaults)
SYNTH_OPTS ?=
GROUPS   := color orientation light combo
SINGLES  := p_pixels p_hog p_color
SINGLES_CSV := p_pixels,p_hog,p_color

# pp(), tool() and the directory rule
include $(PIPELINES)/method.mk

DIR = $(RUNS)/tasks/n=$(N)/seed=$(SEED)/feat=$(FEAT)
# the field suffix and encoder options of a path's feat=
sfx      = $(if $(filter tok,$(call pp,feat,$(1))),_tok)
enc_keep = $(if $(filter tok,$(call pp,feat,$(1))),,--no-tokens)

.PHONY: table run
.DEFAULT_GOAL := table
table: $(DIR)/encoders.txt
	@echo "== $(DIR): test-split accuracy per task group, $(FEAT) encoder features"
	@cat $<
run: $(DIR)/encoders.txt

uni = $(MMOE_BIN)/mmoe-unipred --quiet --label task_label --seed $(call pp,seed,$@) \
	--features v_$(1)$(call sfx,$@) --as p_$(1)
$(RUNS)/tasks/%.feat.zst: $(call tool,synth) $(call tool,encode-vision) $(call tool,unipred) | $$(@D)/.
	$(MMOE_BIN)/mmoe-synth --quiet --kind tasks --count $(call pp,n,$@) --seed $(call pp,seed,$@) \
		--tasks $(notdir $*) $(SYNTH_OPTS) \
	| $(MMOE_BIN)/mmoe-encode-vision --quiet --encoder pixels --encoder hog --encoder color \
		$(call enc_keep,$@) --drop-image \
	| $(call uni,pixels) | $(call uni,hog) | $(call uni,color) --output $@

$(RUNS)/tasks/%.pair.mm: $(RUNS)/tasks/%.feat.zst $(call tool,train-expert)
	$(TRAIN_EXPERT) --feature v_color$(call sfx,$@) --feature v_hog$(call sfx,$@) --target task_label \
		--seed $(call pp,seed,$@) --output $@ $<

$(RUNS)/tasks/%.scored.zst: $(RUNS)/tasks/%.feat.zst $(RUNS)/tasks/%.pair.mm $(call tool,train-expert)
	$(PROBS) --model $(word 2,$^) --as p_pair --output $@ $<

$(RUNS)/tasks/%/scored.zst: $$(foreach g,$(GROUPS),$(RUNS)/tasks/$$*/$$(g).scored.zst) $(call tool,cat)
	$(CAT) --quiet --output $@ $(filter %.zst,$^)

$(RUNS)/tasks/%/diff-p_pixels.tsv $(RUNS)/tasks/%/diff-p_hog.tsv $(RUNS)/tasks/%/diff-p_color.tsv: \
		$(RUNS)/tasks/%/scored.zst $(call tool,eval)
	for r in $(SINGLES); do \
		$(EVAL) --pred $(SINGLES_CSV),p_pair --label task_label --by task \
			--split test --bootstrap $(BOOT) --diff $$r --format tsv \
			--output $(RUNS)/tasks/$*/diff-$$r.tsv $<; \
	done

$(RUNS)/tasks/%/encoders.txt: $(foreach r,$(SINGLES),$(RUNS)/tasks/%/diff-$(r).tsv) $(PIPELINES)/tasks-table.awk
	awk -f $(PIPELINES)/tasks-table.awk -v singles=$(SINGLES_CSV) -v pair=p_pair \
		$(filter %.tsv,$^) > $@
