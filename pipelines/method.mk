# method.mk — MMoE stages 3 and 4 and the evaluation, for any run directory.
#
# Included by pipelines/mmoe.mk (synthetic data) and pipelines/mustard.mk.  The
# input is a directory U holding rus.zst (every record, tagged by mmoe-rus-split)
# and R.zst, U.zst, S.zst (its subset files).  Models and results go to a
# sub-directory U/ep=E/ named after the training hyper-parameters:
#
#   U/ep=E/base.mm     baseline on all training records (split == train)
#   U/ep=E/R.mm ...    R, U, S experts: the baseline fine-tuned on its subset (--init)
#   U/ep=E/router.mm   the fuser: predicts rus on all training records, focal loss
#                      (gamma 2), checkpoint selected by validation macro-F1
#   U/ep=E/pred.zst    every record with p_base, p_R, p_U, p_S, p_router
#   U/ep=E/fused.zst   plus p_mmoe (soft), p_hard, p_oracle, p_mean (each with _w)
#   U/ep=E/eval.txt, eval.json   the table on the test split, by rus (and gen_type)
#
# Everything a stage needs is read from its target path, so that make's
# timestamps are the only state:  seed=N (the last one in the path), ep=E, and the
# feature fields from the components v=ENC t=ENC c=ENC x=ENC (-> -f v_ENC ...),
# and the architecture from arch=A (mlp when absent): the run directory may sit
# in U/arch=A/ instead of U (U/arch=A/ep=E/), and arch=transformer reads the
# token fields (-> -f v_ENC_tok ...) with the size options ARCH_OPTS_transformer;
# arch=mome the vision grid and the text as its instruction (ARCH_OPTS_mome).
# Variables the includer sets: PIPELINES (this directory), MMOE_BIN; it may set
# EXPERT_OPTS, ROUTER_OPTS, EVAL_BY, EVAL_DIFF, METHODS, BOOT (bootstrap resamples).
# Those option strings are not part of the path: after changing one, build into
# another RUNS directory (make cannot tell that the models are stale).
#
# What limits the router (binary labels; measured on the synthetic data, seeds 1-5):
# rus is a function of the label and the two unimodal predictions.  U means the
# two predictions differ, which is known without the label; R and S both mean
# they agree, and S that the shared answer is wrong.  Telling S from R is
# therefore the task itself on the records where the unimodal models agree,
# which the baseline already does as well as the inputs allow.  The router fits
# its training set (accuracy 0.9-1.0) and reaches 0.6 on test, with F1 on S
# about 0.2.  Routing by the rule "U if pred_v_class != pred_t_class, else R"
# (no label, no router) scores as the baseline; the whole gain of oracle
# routing comes from sending the S records, picked with the label, to the S
# expert.  Giving the router the unimodal predictions (-f pred_v -f pred_t in
# ROUTER_OPTS) lifts its accuracy to about 0.84 (it learns U), its recall of S
# from about 0.2 to 0.4 only, and F1 not at all (seeds 1-3).

.SECONDEXPANSION:

# pp(key,path): the value of the last key=value component of path
pp = $(lastword $(patsubst $(1)=%,%,$(filter $(1)=%,$(subst /, ,$(2)))))
# feats(path): -f options for the feature fields named by the path.  A sparse
# feature (t=tfidf) feeds the unimodal predictors; the experts and the router read
# the dense hashed companion that the feature stage writes beside it
# (<field>_dense): mmoe-train-expert takes the sparse one too, but its first
# projection over some 3,800 TF-IDF columns overfits the 2,100 synthetic training
# records (baseline test accuracy 0.704 against 0.756 with the companion, seed 1,
# 5 epochs).
feats = $(if $(filter mome,$(call arch,$(1))),$(call feats_mome,$(1)),$(foreach kv,$(filter v=% t=% c=% x=%,$(subst /, ,$(1))),-f $(subst =,_,$(kv))$(if $(filter %=tfidf,$(kv)),_dense)$(if $(filter-out mlp,$(call arch,$(1))),_tok)))
# arch=mome: the vision grid (v=ENC -> -f v_ENC_tok) and the text's pooled
# vector as the instruction that steers MoME's routers (t=ENC -> --instruction
# t_ENC); it takes no other component
feats_mome = $(if $(filter c=% x=%,$(subst /, ,$(1))),$(error arch=mome reads v= and t= only: $(1)))$(foreach kv,$(filter v=%,$(subst /, ,$(1))),-f $(subst =,_,$(kv))_tok) $(foreach kv,$(filter t=%,$(subst /, ,$(1))),--instruction $(subst =,_,$(kv))$(if $(filter %=tfidf,$(kv)),_dense))
# arch(path): the architecture of a run directory; in_dir(run dir): the directory
# of its input files (rus.zst, R.zst ...), above the arch= component if any
arch   = $(or $(call pp,arch,$(1)),mlp)
in_dir = $(patsubst %/arch=$(call pp,arch,$(1))/,%/,$(dir $(1)))
# the size of a transformer (not part of the path: after changing it, build into
# another RUNS directory)
ARCH_OPTS_transformer ?= --depth 1 --width 64 --heads 4 --ffn 128
# MoME over one vision grid (so --aggregate add: a router needs two encoders),
# the same transformer, and four adapters per block routed on the text
ARCH_OPTS_mome ?= --depth 1 --width 64 --heads 4 --ffn 128 --tokens 2 --aggregate add --adapters 4

TRAIN_EXPERT = $(MMOE_BIN)/mmoe-train-expert -q
FUSE         = $(MMOE_BIN)/mmoe-fuse -q
EVAL         = $(MMOE_BIN)/mmoe-eval -q
CAT          = $(MMOE_BIN)/mmoe-cat
EXPERT_OPTS ?=
ROUTER_OPTS ?= --loss focal --alpha 1 --gamma 2 --select macro_f1
EVAL_BY     ?= --by rus
BOOT        ?= 1000
METHODS     ?= p_base p_R p_U p_S p_mmoe p_hard p_oracle p_mean
PROBS        = $(MMOE_BIN)/mmoe-train-expert -q --predict
# tool(name): the binary of mmoe-name.  Every stage also depends on the tools it
# runs (after its data, so that $< stays the input): a rebuilt tool makes what it
# made stale.
tool = $(MMOE_BIN)/mmoe-$(1)

# arch_opts(dir): the architecture of a model trained from scratch (an expert
# takes its baseline's through --init)
arch_opts = $(if $(filter-out mlp,$(call arch,$(1))),--arch $(call arch,$(1)) $(ARCH_OPTS_$(call arch,$(1))))
# common training options of a model under directory $(1)
train_opts = $(call feats,$(1)) --epochs $(call pp,ep,$(1)) --seed $(call pp,seed,$(1)) $(EXPERT_OPTS)

%/base.mm: $$(call in_dir,$$*)rus.zst $(call tool,train-expert) | $$*/.
	$(TRAIN_EXPERT) $(call arch_opts,$@) $(call train_opts,$@) --target label -o $@ $<

define expert_rule
%/$(1).mm: $$$$(call in_dir,$$$$*)$(1).zst %/base.mm $$(call tool,train-expert)
	$$(TRAIN_EXPERT) $$(call train_opts,$$@) --target label --init $$*/base.mm -o $$@ $$<
endef
$(foreach k,R U S,$(eval $(call expert_rule,$(k))))

%/router.mm: $$(call in_dir,$$*)rus.zst $(call tool,train-expert) | $$*/.
	$(TRAIN_EXPERT) $(call arch_opts,$@) $(call train_opts,$@) --target rus --classes R,U,S $(ROUTER_OPTS) -o $@ $<

# every model's probabilities, in one pass
%/pred.zst: $$(call in_dir,$$*)rus.zst %/base.mm %/R.mm %/U.mm %/S.mm %/router.mm $(call tool,train-expert)
	$(PROBS) -m $*/base.mm --as p_base -m $*/R.mm --as p_R -m $*/U.mm --as p_U -m $*/S.mm --as p_S \
		-m $*/router.mm --as p_router $< > $@

%/fused.zst: %/pred.zst $(call tool,fuse)
	$(FUSE) --router p_router --experts p_R,p_U,p_S --mode soft --as p_mmoe $< \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode hard --as p_hard \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode oracle --types R,U,S --oracle-fallback soft --as p_oracle \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode mean --as p_mean -o $@

# EVAL_DIFF: every method minus this one, with paired bootstrap intervals
EVAL_DIFF   ?= p_base
eval_opts = $(addprefix -p ,$(METHODS)) --label label $(EVAL_BY) --split test \
	--bootstrap $(BOOT) --seed $(call pp,seed,$(1)) --weights p_mmoe_w \
	$(if $(filter $(EVAL_DIFF),$(METHODS)),--diff $(EVAL_DIFF))
%/eval.txt: %/fused.zst $(call tool,eval)
	$(EVAL) $(call eval_opts,$@) --format table $< > $@
%/eval.json: %/fused.zst $(call tool,eval)
	$(EVAL) $(call eval_opts,$@) --format json $< > $@
# An architecture against the MLP on the same inputs (U/arch=A/ep=E against
# U/ep=E): the MLP's models predict the records of A's fused.zst (the feature
# fields are all there), the MLP's MMoE is fused from them (p_*_mlp), and
# vs-mlp.{txt,json} hold, for each method of VS_METHODS, A minus the MLP with
# paired bootstrap intervals (mmoe-eval --diff), one block per method.
VS_METHODS ?= base mmoe oracle
mlp_dir = $(call in_dir,$(1))$(notdir $(1))
%/vs-mlp.zst: %/fused.zst $$(call mlp_dir,$$*)/pred.zst $(call tool,train-expert) $(call tool,fuse)
	$(PROBS) $(foreach m,base R U S router,-m $(call mlp_dir,$*)/$(m).mm --as p_$(m)_mlp) $< \
	| $(FUSE) --router p_router_mlp --experts p_R_mlp,p_U_mlp,p_S_mlp --mode soft --as p_mmoe_mlp \
	| $(FUSE) --router p_router_mlp --experts p_R_mlp,p_U_mlp,p_S_mlp --mode oracle --types R,U,S \
		--oracle-fallback soft --as p_oracle_mlp -o $@
vs_opts = --label label $(EVAL_BY) --split test --bootstrap $(BOOT) --seed $(call pp,seed,$(1))
%/vs-mlp.txt: %/vs-mlp.zst $(call tool,eval)
	{ $(foreach m,$(VS_METHODS),$(EVAL) -p p_$(m)_mlp -p p_$(m) --diff p_$(m)_mlp $(call vs_opts,$@) --format table $<;) } > $@
%/vs-mlp.json: %/vs-mlp.zst $(call tool,eval)
	{ $(foreach m,$(VS_METHODS),$(EVAL) -p p_$(m)_mlp -p p_$(m) --diff p_$(m)_mlp $(call vs_opts,$@) --format json $<;) } > $@
# router quality: accuracy of p_router against rus, per split (jq over the records),
# and its confusion matrix on the test split
%/router.txt: %/pred.zst $(PIPELINES)/convert/router.jq $(call tool,cat) $(call tool,eval)
	$(CAT) --json --fields split,rus,p_router_class,p_router $< | jq -rs -f $(PIPELINES)/convert/router.jq > $@
	$(EVAL) -p p_router --label rus --classes R,U,S --split test --bootstrap 0 --confusion $< \
		| sed -n '/^confusion/,$$p' >> $@

%/.:
	mkdir -p $@
