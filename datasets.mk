# datasets.mk — the real data sets as mmoe record streams under data/ (git-ignored).
#
#   make -f datasets.mk mustard   [MUSTARD_SRC=dir]   -> data/mustard/mustard.zst
#   make -f datasets.mk urfunny   [URFUNNY_SRC=dir]   -> data/urfunny/urfunny.zst
#   make -f datasets.mk mmsd2     [MMSD2_SRC=dir]     -> data/mmsd2/mmsd2.zst
#   make -f datasets.mk glove                         (pipelines/glove.mk, when present)
#
# Each data set is read from a local copy when *_SRC names one; otherwise the
# public originals are fetched into data/<set>/src/ (needs network access; this
# is the part that cannot be exercised on an offline machine).  The converters
# live in pipelines/convert/ and are tested on small fixtures in the published
# file formats (tests/datasets-fixtures.t) and, for MUStARD, on the real files
# when they are present (tests/mustard-convert.t).
#
# Conventions of the records written: man/mmoe-records.5 (id, split, label,
# text, image, caption, predictions as <field> [C] + <field>_class).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.SECONDARY:

# the directory of this file: converters are found from any working directory
TOP      := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
MMOE_BIN ?= $(abspath $(TOP))/bin
DATA     ?= data
CURL     ?= curl -fL --retry 3 -sS
IMPORT   := $(MMOE_BIN)/mmoe-import
CONVERT  := $(TOP)/pipelines/convert

.PHONY: datasets mustard urfunny mmsd2 mustard-verify

# ---------------------------------------------------------------------------
# MUStARD (Castro et al., ACL 2019) as prepared by the MMoE authors.
#
# Records: id, split (train/val/test), label (sarcasm true -> 1), text (the
# utterance), context (the context sentences joined by spaces), speaker, show,
# caption (mustard_image_description.json: a caption of the frame written by a
# vision-language model), and the authors' zero-shot unimodal predictions in the
# shape mmoe-unipred writes: zs_text, zs_vision = probabilities over [No, Yes]
# (softmax of the "No"/"Yes" logits), zs_text_class, zs_vision_class = the
# file's "pred".  An entry whose "pred" is null is no prediction (the record
# gets no zs_* field for that modality); see pipelines/convert/mustard.jq for
# the full error/skip policy, which the converter reports on stderr.
#
# split: the speaker-independent split of the authors (mustard_dataset_train /
# _test: 334 / 356).  A validation set is carved out of train with a fixed seed,
# stratified by label: MUSTARD_VAL (fraction, default 0.15 -> 50 records) and
# MUSTARD_SEED (default 1).  Train+val together are the authors' train split.
#
# Sources when MUSTARD_SRC is not given (CI sets it to ../shared/data/mustard):
#   the utterances: the MUStARD repository, data/sarcasm_data.json
#     https://github.com/soujanyaporia/MUStARD  (saved as mustard_raw_data.json)
#   the split, captions and zero-shot predictions: the MMoE authors' repository
#     https://github.com/lwaekfjlk/mmodel-soup, folder mustard_data/
#     (data_raw/mustard_dataset_{train,test}.json, data_gen_output/
#     mustard_image_description.json, mustard_{text,vision}_only_pred{,_test}.json)
# What cannot be checked here (offline): that those URLs still serve these
# files, and that the files there are byte-identical to the copy we have.  The
# checksums below are those of our copy (../shared/data/mustard); a fetched
# file that differs is reported by `mustard-verify` (and the build stops),
# unless MUSTARD_NOVERIFY=1.  The authors' repository has been edited over time
# (several versions of these files exist in its history), so a mismatch is
# possible; MUSTARD_REF pins the commit or branch fetched.
MUSTARD_VAL  ?= 0.15
MUSTARD_SEED ?= 1
MUSTARD_REF  ?= main
MUSTARD_SRC  ?= $(if $(wildcard $(TOP)/../shared/data/mustard/mustard_raw_data.json),$(TOP)/../shared/data/mustard,$(DATA)/mustard/src)
MUSTARD_RAW_URL := https://raw.githubusercontent.com/soujanyaporia/MUStARD/master/data/sarcasm_data.json
MUSTARD_AUTHORS_URL := https://raw.githubusercontent.com/lwaekfjlk/mmodel-soup/$(MUSTARD_REF)/mustard_data
MUSTARD_FILES := mustard_raw_data mustard_dataset_train mustard_dataset_test \
	mustard_image_description mustard_text_only_pred mustard_text_only_pred_test \
	mustard_vision_only_pred mustard_vision_only_pred_test
define MUSTARD_SHA256
75d455a07acb658d0336b62bfeb15e533624d24e07ebf64879494b01a5b2f704  mustard_raw_data.json
45cef79d0746c0ea238d0d51be6d5cbc6a84a0f0b304b5e1ddb4d48bb8f89f95  mustard_dataset_train.json
c28e81d5e6fb7486550a319176746b0abe21123381f12033dd73d94248027d56  mustard_dataset_test.json
a6a2521f9becbfdd95cbe60fdfe0739d82954d9fe8006131bc33e70372588738  mustard_image_description.json
258d24de35884fa72a0df44d70d4752452aa1efe4f1085f04e8bd7b322e899ab  mustard_text_only_pred.json
2de00a9bbed578db5fc818592cabacc421251473b26502af08b03e25e9e1c180  mustard_text_only_pred_test.json
32ef1d9a2c61a8e38021170237c9307c06e40765fb1161a1a94e0f7c68b55e29  mustard_vision_only_pred.json
b66c03ae8152ca1f589d03daee3843c2229f18a7d96c1bc860d5d83f8bf1645d  mustard_vision_only_pred_test.json
endef
export MUSTARD_SHA256

mustard: $(DATA)/mustard/mustard.zst

$(DATA)/mustard/mustard.zst: $(addprefix $(MUSTARD_SRC)/,$(addsuffix .json,$(MUSTARD_FILES))) \
		$(CONVERT)/mustard.sh $(CONVERT)/mustard.jq | $(DATA)/mustard
	$(CONVERT)/mustard.sh -s $(MUSTARD_SEED) -v $(MUSTARD_VAL) $(MUSTARD_SRC) \
	| $(IMPORT) -q --tensor zs_text --tensor zs_vision -o $@

# Fetching (only reached when MUSTARD_SRC points at data/mustard/src).
$(DATA)/mustard/src/mustard_raw_data.json: | $(DATA)/mustard/src
	$(CURL) -o $@.tmp $(MUSTARD_RAW_URL) && mv $@.tmp $@
$(DATA)/mustard/src/mustard_dataset_%.json: | $(DATA)/mustard/src
	$(CURL) -o $@.tmp $(MUSTARD_AUTHORS_URL)/data_raw/$(@F) && mv $@.tmp $@
$(DATA)/mustard/src/mustard_%.json: | $(DATA)/mustard/src
	$(CURL) -o $@.tmp $(MUSTARD_AUTHORS_URL)/data_gen_output/$(@F) && mv $@.tmp $@
ifneq ($(MUSTARD_NOVERIFY),1)
$(DATA)/mustard/mustard.zst: | mustard-verify
endif
mustard-verify: $(addprefix $(MUSTARD_SRC)/,$(addsuffix .json,$(MUSTARD_FILES)))
	@cd $(MUSTARD_SRC) && printf '%s\n' "$$MUSTARD_SHA256" | sha256sum --quiet -c - \
	|| { echo "datasets.mk: MUStARD files in $(MUSTARD_SRC) differ from the copy this project was checked on (MUSTARD_NOVERIFY=1 to go on)" >&2; exit 1; }

# ---------------------------------------------------------------------------
# UR-FUNNY V2 (Hasan et al., EMNLP 2019), https://github.com/ROC-HCI/UR-FUNNY
# Published as Python pickles ("extracted features" archive): data_folds.pkl
# ({train, dev, test: [id]}), language_sdk.pkl ({id: {punchline_sentence,
# context_sentences, punchline_intervals, ...}}), humor_label_sdk.pkl ({id: 0|1}),
# and the raw videos (urfunny2_videos.zip, one <id>.mp4 per example).
# Records: id, split (dev -> val), label, text (the punchline), context (the
# context sentences joined), image (path of one frame, relative to
# data/urfunny/: frames/<id>.jpg, taken with ffmpeg at the middle of the
# punchline when its word intervals are given, else at 1 s).
# The pickles are read with a restricted unpickler (builtins and numpy arrays
# only).  URLs below are those of the project README; not reachable here, so
# only the converter is tested (on fixtures written in the same pickle format).
URFUNNY_FEAT_URL  := https://www.dropbox.com/sh/9h0pcqmqoplx9p2/AAC8yYikSBVYCSFjm3afFHQva?dl=1
URFUNNY_VIDEO_URL := https://www.dropbox.com/s/lg7kjx0kul3ansq/urfunny2_videos.zip?dl=1
URFUNNY_SRC ?= $(DATA)/urfunny/src
PYTHON      ?= /usr/bin/python3
FFMPEG      ?= ffmpeg

urfunny: $(DATA)/urfunny/urfunny.zst

$(DATA)/urfunny/urfunny.jsonl: $(URFUNNY_SRC)/data_folds.pkl $(URFUNNY_SRC)/language_sdk.pkl \
		$(URFUNNY_SRC)/humor_label_sdk.pkl $(CONVERT)/urfunny.py | $(DATA)/urfunny
	$(PYTHON) $(CONVERT)/urfunny.py $(URFUNNY_SRC) > $@
$(DATA)/urfunny/urfunny.zst: $(DATA)/urfunny/urfunny.jsonl $(DATA)/urfunny/frames.done
	$(IMPORT) -q -o $@ $<
# one frame per example (needs ffmpeg and the videos; the frames that cannot be
# taken are counted and the build stops, rather than leaving records without image)
$(DATA)/urfunny/frames.done: $(DATA)/urfunny/urfunny.jsonl $(URFUNNY_SRC)/videos.done
	$(CONVERT)/frames.sh $(URFUNNY_SRC)/videos $(DATA)/urfunny < $< && touch $@
$(URFUNNY_SRC)/data_folds.pkl $(URFUNNY_SRC)/language_sdk.pkl $(URFUNNY_SRC)/humor_label_sdk.pkl &: | $(URFUNNY_SRC)
	$(CURL) -o $(URFUNNY_SRC)/features.zip '$(URFUNNY_FEAT_URL)'
	cd $(URFUNNY_SRC) && unzip -o -j -q features.zip '*.pkl' && rm -f features.zip
$(URFUNNY_SRC)/videos.done: | $(URFUNNY_SRC)
	$(CURL) -o $(URFUNNY_SRC)/videos.zip '$(URFUNNY_VIDEO_URL)'
	mkdir -p $(URFUNNY_SRC)/videos && cd $(URFUNNY_SRC) && unzip -o -j -q videos.zip -d videos && rm -f videos.zip
	touch $@

# ---------------------------------------------------------------------------
# MMSD2.0 (Qin et al., ACL 2023), https://github.com/JoeYing1019/MMSD2.0
# data/text_json_final/{train,valid,test}.json: [{"image_id": <integer>, "text":
# "...", "label": 0|1}], images dataset_image/<image_id>.jpg (from the MMSD
# release, four zip archives on a file host linked from the README; not
# fetchable by a script, so MMSD2_IMAGES must point at the unpacked folder).
# Records: id (the image id, as a string: the ids exceed 2^53 and would lose
# digits as JSON numbers, so the converter quotes them before jq sees them),
# split (valid -> val), label, text, image (path <image_id>.jpg relative to
# MMSD2_IMAGES; pass --image-root $(MMSD2_IMAGES) to mmoe-encode-vision).
MMSD2_REF    ?= main
MMSD2_URL    := https://raw.githubusercontent.com/JoeYing1019/MMSD2.0/$(MMSD2_REF)/data/text_json_final
MMSD2_SRC    ?= $(DATA)/mmsd2/src
MMSD2_IMAGES ?= $(DATA)/mmsd2/dataset_image

mmsd2: $(DATA)/mmsd2/mmsd2.zst

$(DATA)/mmsd2/mmsd2.zst: $(MMSD2_SRC)/train.json $(MMSD2_SRC)/valid.json $(MMSD2_SRC)/test.json \
		$(CONVERT)/mmsd2.sh | $(DATA)/mmsd2
	$(CONVERT)/mmsd2.sh $(MMSD2_SRC) | $(IMPORT) -q -o $@
$(DATA)/mmsd2/src/%.json: | $(DATA)/mmsd2/src
	$(CURL) -o $@.tmp $(MMSD2_URL)/$(@F) && mv $@.tmp $@

datasets: mustard urfunny mmsd2

$(DATA)/mustard $(DATA)/mustard/src $(DATA)/urfunny $(DATA)/mmsd2 $(DATA)/mmsd2/src $(URFUNNY_SRC):
	mkdir -p $@

# GloVe 6B-100d as a binary table for mmoe-encode-text (rule written with the encoder).
-include $(TOP)/pipelines/glove.mk
