# mome.mk — the MoME ablation on mmoe-synth --kind tasks (make mome-ablation).
#
#   make -f pipelines/mome.mk [N=1000] [SEEDS="1 2 3 4 5"] [EXTRA=1] [RUNS=runs]   prints the table
#
# Size.  At N=4000 (mmoe-synth's default) every row that sees the three
# encoders answers 99% of the clean answers (label_clean) and sits at the
# ceiling the flipped answers leave (95.2% of the test labels, seed 1): the
# steps after pool_add cannot differ.  At N=1000 (700 training records) they
# do; that is the default.  N=4000 remains the ceiling case to compare with.
#
# Data (one set, DATA_SEED): mmoe-synth --kind tasks, the token grids of
# mmoe-encode-vision -e pixels -e hog -e color, and the instruction's pooled
# hashed n-grams (mmoe-encode-text --field instruction --as t_instr).  Every
# row is one mmoe-train-expert --arch mome model per seed in SEEDS (the seed
# of the initialisation, the shuffling and the Gumbel noise), predicting the
# shared answer vocabulary (label):
#   pixels hog color     one encoder's grid, --transform avgpool
#   pool_add             the three grids, avgpool, --aggregate add
#   adt_add              ADT, add
#   adt_router           ADT, the instruction router
#   adapter1             adt_router with one adapter per FFN
#   mole_i mole_t mole_it   four adapters routed per instance, token, both
#   (EXTRA=1) mole_i_gumbel mole_i_balance   Gumbel-softmax, load balance
# The adapter rows sit on VISION (default: adt_router's options).
#
#   runs/mome/n=N/data.zst                       the encoded records
#   runs/mome/n=N/seed=S/ROW.mm                  one model
#   runs/mome/n=N/seed=S/scored.zst              the records + p_ROW, ROW_enc, ROW_adapter
#   runs/mome/n=N/seed=S/diff-p_REF.tsv          mmoe-eval --by task --diff p_REF (test split)
#   runs/mome/n=N/seed=S/routing.txt             encoder weights and, per block, adapter
#                                                counts per task
#   runs/mome/n=N/seed=S/charts/adt_router/weights_task.png     their charts (gnuplot):
#   runs/mome/n=N/seed=S/charts/ROW_blockL/counts_task.png      mean weights, adapter shares
#   runs/mome/n=N/ablation.txt                   the table (mome-table.awk)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:

PIPELINES := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
MMOE_BIN  ?= $(abspath $(PIPELINES)/..)/bin
RUNS      ?= runs
N         ?= 1000
DATA_SEED ?= 1
SEEDS     ?= 1 2 3 4 5
BOOT      ?= 1000
EXTRA     ?=
# the model: small enough for the 3 × rows trainings to fit 30 minutes on 2 cores
DEPTH     ?= 2
MODEL     ?= --depth $(DEPTH) --width 32 --heads 2 --ffn 64 --tokens 4 --epochs 12 --batch 32
BLOCKS     = $(shell seq 0 $$(($(DEPTH) - 1)))
VISION    ?= -f v_pixels_tok -f v_hog_tok -f v_color_tok --transform adt --aggregate router

include $(PIPELINES)/method.mk

DIR = $(RUNS)/mome/n=$(N)
# a literal '=' in a rule's target would read as an assignment
SD := seed=
ALL3 = -f v_pixels_tok -f v_hog_tok -f v_color_tok
opts_pixels     = -f v_pixels_tok --transform avgpool --aggregate add --adapters 0
opts_hog        = -f v_hog_tok --transform avgpool --aggregate add --adapters 0
opts_color      = -f v_color_tok --transform avgpool --aggregate add --adapters 0
opts_pool_add   = $(ALL3) --transform avgpool --aggregate add --adapters 0
opts_adt_add    = $(ALL3) --transform adt --aggregate add --adapters 0
opts_adt_router = $(ALL3) --transform adt --aggregate router --adapters 0
opts_adapter1   = $(VISION) --adapters 1
opts_mole_i     = $(VISION) --adapters 4 --adapter-route instance
opts_mole_t     = $(VISION) --adapters 4 --adapter-route token
opts_mole_it    = $(VISION) --adapters 4 --adapter-route both
opts_mole_i_gumbel  = $(opts_mole_i) --gumbel 1
opts_mole_i_balance = $(opts_mole_i) --balance 0.01

ROWS := pixels hog color pool_add adt_add adt_router adapter1 mole_i mole_t mole_it \
	$(if $(EXTRA),mole_i_gumbel mole_i_balance)
# the references of the steps: each row against the one before it in the ordering
REFS := pixels hog color pool_add adt_add adapter1 mole_i
# step pairs "row:reference" for the table
STEPS := pool_add:pixels pool_add:hog pool_add:color adt_add:pool_add adt_router:adt_add \
	mole_i:adapter1 mole_t:adapter1 mole_it:adapter1 \
	$(if $(EXTRA),mole_i_gumbel:mole_i mole_i_balance:mole_i)
comma := ,
empty :=
space := $(empty) $(empty)
PREDS := $(subst $(space),$(comma),$(foreach r,$(ROWS),p_$(r)))

.PHONY: table
.DEFAULT_GOAL := table
table: $(DIR)/ablation.txt
	@echo "== $(DIR): test-split accuracy per task group, mean ± sd over seeds $(SEEDS)"
	@cat $<
	@for s in $(SEEDS); do echo "== routing, seed $$s"; cat $(DIR)/$(SD)$$s/routing.txt; done

$(DIR)/data.zst: $(call tool,synth) $(call tool,encode-vision) $(call tool,encode-text) | $(DIR)/.
	$(MMOE_BIN)/mmoe-synth --quiet --kind tasks --count $(N) --seed $(DATA_SEED) \
	| $(MMOE_BIN)/mmoe-encode-vision --quiet -e pixels -e hog -e color --drop-image \
	| $(MMOE_BIN)/mmoe-encode-text --quiet -e hash --field instruction --as t_instr --output $@

$(DIR)/$(SD)%.mm: $(DIR)/data.zst $(call tool,train-expert) | $$(@D)/.
	$(TRAIN_EXPERT) --arch mome --target label --instruction t_instr $(MODEL) \
		$(opts_$(notdir $*)) --seed $(call pp,seed,$(DIR)/$(SD)$*) -o $@ $<

$(DIR)/$(SD)%/scored.zst: $(DIR)/data.zst $$(foreach r,$(ROWS),$(DIR)/$(SD)$$*/$$(r).mm) \
		$(call tool,train-expert)
	$(PROBS) $(foreach r,$(ROWS),-m $(DIR)/$(SD)$*/$(r).mm --as p_$(r)) -o $@ $<

$(DIR)/$(SD)%/diffs: $(DIR)/$(SD)%/scored.zst $(call tool,eval)
	$(foreach r,$(REFS),$(EVAL) --pred $(PREDS) --label label --by task --split test \
		--bootstrap $(BOOT) --seed $* --diff p_$(r) --format tsv -o $(DIR)/$(SD)$*/diff-p_$(r).tsv $<;)
	touch $@

$(DIR)/$(SD)%/routing.txt: $(DIR)/$(SD)%/scored.zst $(call tool,eval)
	{ $(EVAL) --pred p_adt_router --label label --by task --split test -w p_adt_router_enc \
		-t pixels,hog,color --plot $(@D)/charts/adt_router $<; \
	  $(foreach r,$(filter mole_%,$(ROWS)),$(foreach l,$(BLOCKS),echo "== $(r): block $(l)"; \
		$(EVAL) --pred p_$(r) --label label --by task --split test --counts p_$(r)_adapter$(l) \
		--plot $(@D)/charts/$(r)_block$(l) $<;)) } > $@

$(DIR)/ablation.txt: $(foreach s,$(SEEDS),$(DIR)/$(SD)$(s)/diffs $(DIR)/$(SD)$(s)/routing.txt) \
		$(PIPELINES)/mome-table.awk
	awk -f $(PIPELINES)/mome-table.awk -v rows="$(ROWS)" -v steps="$(STEPS)" \
		$(foreach s,$(SEEDS),$(foreach r,$(REFS),$(DIR)/$(SD)$(s)/diff-p_$(r).tsv)) > $@
