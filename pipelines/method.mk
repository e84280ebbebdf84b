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
# The mixture gate (mmoe-train-expert --experts; man/mmoe-train-expert.1, MIXTURE
# GATE) is trained for the mixture's likelihood on honest expert predictions,
# which two kinds of run directory provide:
#   U/ho=H/ep=E/      held out: U/ho=H/rus.zst flags a share H of the train records
#                     "heldout" (mmoe-rus-split --heldout H) and its subset files
#                     leave them out; the baseline skips them (--exclude-flag
#                     heldout), so neither it nor the experts see them, and the gate
#                     trains on them alone.
#   U/xf=K/ep=E/      cross-fitted: the models of U/xf=K/fold=F/ep=E/ (F = 0..K-1,
#                     from U/xf=K/fold=F/rus.zst, made with --heldout-fold F/K: the
#                     baseline too is trained without fold F) predict the train records
#                     of fold F; the models of the plain run U/ep=E/ (all train
#                     records) predict val and test; the gate trains on every train
#                     record, each predicted by models that never saw it.
# (GATE=heldout|crossfit|none, set by the includer before it includes this file, names
# the kind: GATE_DIR is ho=H/, xf=K/ or nothing.)  Both add U/.../ep=E/gate.mm (the gate, over the experts' feature fields and
# GATE_OPTS), p_router_gate (its weights), p_gate (the soft mixture it routes, weights
# p_gate_w) and gate.txt (its mean weights by rus and gen_type on test); p_gate
# joins METHODS in the tables.  The tagged files of ho= and fold= are the
# includer's U/rus.zst tagged again by mmoe-rus-split from the same predictions,
# with the held-out flag (seeded by the seed= of the path); rus_ab(U), which the
# includer defines, gives their -a and -b.
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

GATE    ?= none
HELDOUT ?= 0.2
XFOLDS  ?= 3
ifeq ($(filter $(GATE),heldout crossfit none),)
$(error GATE=$(GATE): expected heldout, crossfit or none)
endif
GATE_DIR = $(if $(filter heldout,$(GATE)),ho=$(HELDOUT)/,$(if $(filter crossfit,$(GATE)),xf=$(XFOLDS)/))
XF_FOLDS = $(shell seq 0 $$(($(XFOLDS) - 1)))
# gated(dir): the run is one of a mixture gate (held out or cross-fitted);
# heldout_in(dir): its training files flag held-out records that the baseline skips
gated      = $(filter ho=% xf=%,$(subst /, ,$(1)))
heldout_in = $(filter ho=% fold=%,$(subst /, ,$(1)))
# a cross-fitted run U/xf=K/[arch=A/]ep=E: its plain run U/[arch=A/]ep=E (the models
# of every train record) and the run of fold F, U/xf=K/fold=F/[arch=A/]ep=E
xf_full = $(subst /xf=$(call pp,xf,$(1))/,/,$(1))
xf_fold = $(subst /xf=$(call pp,xf,$(1))/,/xf=$(call pp,xf,$(1))/fold=$(2)/,$(1))
xf_folds = $(shell seq 0 $$(($(call pp,xf,$(1)) - 1)))

TRAIN_EXPERT = $(MMOE_BIN)/mmoe-train-expert -q
FUSE         = $(MMOE_BIN)/mmoe-fuse -q
EVAL         = $(MMOE_BIN)/mmoe-eval -q
CAT          = $(MMOE_BIN)/mmoe-cat
EXPERT_OPTS ?=
ROUTER_OPTS ?= --loss focal --alpha 1 --gamma 2 --select macro_f1
EVAL_BY     ?= --by rus
BOOT        ?= 1000
METHODS     ?= p_base p_R p_U p_S p_mmoe p_hard p_oracle p_mean
# the gate's options (not part of the path), e.g. -f pred_v -f pred_t to let it see
# the unimodal predictions, or --tag-weight 0.2
GATE_OPTS   ?=
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
	$(TRAIN_EXPERT) $(call arch_opts,$@) $(call train_opts,$@) --target label \
		$(if $(call heldout_in,$@),--exclude-flag heldout) -o $@ $<

define expert_rule
%/$(1).mm: $$$$(call in_dir,$$$$*)$(1).zst %/base.mm $$(call tool,train-expert)
	$$(TRAIN_EXPERT) $$(call train_opts,$$@) --target label --init $$*/base.mm -o $$@ $$<
endef
$(foreach k,R U S,$(eval $(call expert_rule,$(k))))

%/router.mm: $$(call in_dir,$$*)rus.zst $(call tool,train-expert) | $$*/.
	$(TRAIN_EXPERT) $(call arch_opts,$@) $(call train_opts,$@) --target rus --classes R,U,S $(ROUTER_OPTS) -o $@ $<

# the held-out and the cross-fitted tags: U/ho=H/ and U/xf=K/fold=F/ from U/rus.zst
rus_split_ho = $(MMOE_BIN)/mmoe-rus-split -q $(call rus_ab,$(1)) --as rus --seed $(call pp,seed,$(1)) \
	--out-R $(1)/R.zst --out-U $(1)/U.zst --out-S $(1)/S.zst -o $(1)/rus.zst
# (a rule line with a literal "=" would be read as an assignment: $(eq) stands for it)
eq := =
define ho_rule
%/ho$$(eq)$(1)/rus.zst %/ho$$(eq)$(1)/R.zst %/ho$$(eq)$(1)/U.zst %/ho$$(eq)$(1)/S.zst: %/rus.zst $$(call tool,rus-split) | %/ho$$(eq)$(1)/.
	$$(call rus_split_ho,$$*/ho$$(eq)$(1)) --heldout $(1) $$<
endef
$(eval $(call ho_rule,$(HELDOUT)))
define xf_rule
%/xf$$(eq)$(1)/fold$$(eq)$(2)/rus.zst %/xf$$(eq)$(1)/fold$$(eq)$(2)/R.zst %/xf$$(eq)$(1)/fold$$(eq)$(2)/U.zst %/xf$$(eq)$(1)/fold$$(eq)$(2)/S.zst: \
		%/rus.zst $$(call tool,rus-split) | %/xf$$(eq)$(1)/fold$$(eq)$(2)/.
	$$(call rus_split_ho,$$*/xf$$(eq)$(1)/fold$$(eq)$(2)) --heldout-fold $(2)/$(1) $$<
endef
$(foreach f,$(XF_FOLDS),$(eval $(call xf_rule,$(XFOLDS),$(f))))

# every model's probabilities, in one pass
EXPERTS   = --experts p_R,p_U,p_S
models_as = -m $(1)/base.mm --as p_base -m $(1)/R.mm --as p_R -m $(1)/U.mm --as p_U -m $(1)/S.mm --as p_S
pred_deps = $(if $(call pp,xf,$(1)),$(call in_dir,$(call xf_full,$(1)))rus.zst \
		$(addprefix $(call xf_full,$(1))/,base.mm R.mm U.mm S.mm router.mm) \
		$(foreach f,$(call xf_folds,$(1)),$(call in_dir,$(call xf_fold,$(1),$(f)))rus.zst \
			$(addprefix $(call xf_fold,$(1),$(f))/,base.mm R.mm U.mm S.mm)),\
	$(call in_dir,$(1))rus.zst $(addprefix $(1)/,base.mm R.mm U.mm S.mm router.mm))
# cross-fitted: the train records of fold F by the models of fold F, val and test
# by the plain run's models, all with the plain run's tag router (a pattern rule
# cannot need itself, so the plain run's pred.zst is not reused)
%/pred.zst: $$(call pred_deps,$$*) $(call tool,train-expert) $(call tool,cat) | $$*/.
	$(if $(call pp,xf,$*),{ $(foreach f,$(call xf_folds,$*),\
		$(CAT) --where split=train --where heldout=true $(call in_dir,$(call xf_fold,$*,$(f)))rus.zst \
		| $(PROBS) $(call models_as,$(call xf_fold,$*,$(f))) -m $(call xf_full,$*)/router.mm --as p_router;) \
		{ $(CAT) --where split=val $<; $(CAT) --where split=test $<; } \
		| $(PROBS) $(call models_as,$(call xf_full,$*)) -m $(call xf_full,$*)/router.mm --as p_router; } > $@,\
	$(PROBS) $(call models_as,$*) -m $*/router.mm --as p_router $< > $@)

# the mixture gate, on the experts' predictions of records they never saw
%/gate.mm: %/pred.zst $(call tool,train-expert)
	$(TRAIN_EXPERT) $(call arch_opts,$@) $(call train_opts,$@) --experts p_R,p_U,p_S --classes R,U,S \
		$(GATE_OPTS) -o $@ $<

%/fused.zst: %/pred.zst $$(if $$(call gated,$$*),%/gate.mm) $(call tool,fuse)
	$(if $(call gated,$*),$(PROBS) -m $*/gate.mm --as p_router_gate $< \
	| $(FUSE) --router p_router_gate $(EXPERTS) --mode soft --as p_gate \
	| $(FUSE) --router p_router $(EXPERTS) --mode soft --as p_mmoe,\
	$(FUSE) --router p_router $(EXPERTS) --mode soft --as p_mmoe $<) \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode hard --as p_hard \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode oracle --types R,U,S --oracle-fallback soft --as p_oracle \
	| $(FUSE) --router p_router --experts p_R,p_U,p_S --mode mean --as p_mean -o $@

# EVAL_DIFF: every method minus this one, with paired bootstrap intervals
EVAL_DIFF   ?= p_base
eval_opts = $(addprefix -p ,$(if $(call gated,$(1)),$(patsubst p_mmoe,p_mmoe p_gate,$(METHODS)),$(METHODS))) --label label $(EVAL_BY) --split test \
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

# the gate's mean weights on the test split, by rus and by the breakdowns of EVAL_BY
%/gate.txt: %/fused.zst $(call tool,eval)
	$(EVAL) -p p_gate --label label $(EVAL_BY) --split test --bootstrap 0 --weights p_gate_w $< \
		| sed -n '/^mean p_gate_w/,$$p' > $@

%/.:
	mkdir -p $@
