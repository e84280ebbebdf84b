# mmoe — Multimodal Mixtures of Interaction Experts as Unix filters.
#
#   make              build bin/mmoe and bin/mmoe-<stage> (installs Debian deps as root)
#   make check        fast tests (TAP under prove); SAN=address,undefined for sanitizers
#   make test         check plus the long tests
#   make demo         the main job: the MMoE pipeline on the embedded synthetic data
#   make mustard      the MUStARD experiment (MUSTARD_SRC=dir with the prepared data)
#   make mustard-experts  the MMoE authors' MUStARD experts, routed and fused (MUSTARD_SRC=dir)
#   make sweep-arch   MLP against transformer experts on the synthetic data, 5 seeds
#   make mmoe-study   when MMoE pays: sizes, synergy shares, seeds, tag router and mixture gate
#   make bench        speed and memory against reference programs, in one run
#   make valgrind-demo  the demo pipeline, smaller, with every tool under valgrind
#   make fuzz         libFuzzer on the record reader, image decoders, model loader, JSON import (clang)
#   make install      PREFIX=/usr/local DESTDIR=
#
# Layout: lib/ is the engine (never exits, never prints), tools/<name>.c is one
# executable bin/mmoe-<name> each, tools/common/ holds CLI glue shared by tools,
# tests/*.t are TAP scripts, tests/unit/*.c TAP programs, man/ the manual.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
CFLAGS    ?= -O2 -g
SAN       ?=
JOBS      ?= 2

ifeq ($(SAN),)
BUILD     := build
BINDIR    := bin
else
BUILD     := build/san
BINDIR    := build/san/bin
SANFLAGS  := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# evaluated when used, i.e. after scripts/deps.sh has installed pkg-config and OpenBLAS
BLAS_CFLAGS  = $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS    = $(shell pkg-config --libs-only-L openblas 2>/dev/null) -lopenblas

# lib/ sees only itself: the engine cannot include the CLI glue
LIB_CPPFLAGS = -Ilib $(BLAS_CFLAGS) -D_GNU_SOURCE \
	-DMM_VERSION='"$(VERSION)"' -DMM_COMMIT='"$(GIT_COMMIT)"'
MM_CPPFLAGS  = $(LIB_CPPFLAGS) -Itools/common
MM_CFLAGS   := -std=c11 -Wall -Wextra -fPIC -pthread $(SANFLAGS)
MM_LDLIBS    = -Wl,--as-needed -lzstd -lmsgpackc $(BLAS_LIBS) -ljansson -lpng -ljpeg -lutf8proc -lm -lpthread

LIB_SRC    := $(wildcard lib/*.c lib/nn/*.c)
LIB_OBJ    := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC))
COMMON_SRC := $(wildcard tools/common/*.c)
COMMON_OBJ := $(patsubst tools/common/%.c,$(BUILD)/common/%.o,$(COMMON_SRC))
TOOL_SRC   := $(filter-out tools/mmoe.c,$(wildcard tools/*.c))
TOOLS      := $(BINDIR)/mmoe $(patsubst tools/%.c,$(BINDIR)/mmoe-%,$(TOOL_SRC))
UNIT_SRC   := $(wildcard tests/unit/*.c)
UNITS      := $(patsubst tests/unit/%.c,$(BUILD)/tests/%.t,$(UNIT_SRC))
HEADERS    := $(wildcard lib/*.h lib/nn/*.h tools/common/*.h)
LIBMMOE    := $(BUILD)/libmmoe.a
LIBCLI     := $(BUILD)/libmmoe-cli.a
DEPS_OK    := build/.deps-build

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.PHONY: valgrind-demo
.PHONY: all check test demo mustard mustard-experts sweep-arch mmoe-study mome-ablation bench fuzz install uninstall clean lint-man deps

all: $(TOOLS)

# Dependencies are installed once by the build itself (see scripts/deps.sh).
$(DEPS_OK): scripts/deps.sh
	@mkdir -p $(@D)
	sh scripts/deps.sh build
	@touch $@
deps: $(DEPS_OK)

$(BUILD)/lib/%.o: lib/%.c $(HEADERS) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(LIB_CPPFLAGS) $(CPPFLAGS) $(MM_CFLAGS) $(CFLAGS) $(VEC_CFLAGS) -c -o $@ $<
# the image encoders' row loops are written to vectorise: -O3 does it, and
# neither flag below changes a result (no errno from sqrtf, no trap on a
# float compare), so the bits stay those of -O2 (tests/vision-encode.t)
$(BUILD)/lib/vision.o: VEC_CFLAGS = -O3 -fno-math-errno -fno-trapping-math
$(BUILD)/common/%.o: tools/common/%.c $(HEADERS) | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(MM_CPPFLAGS) $(CPPFLAGS) $(MM_CFLAGS) $(CFLAGS) -c -o $@ $<
# libmmoe.a is the engine (lib/ only); libmmoe-cli.a the tools' shared glue
$(LIBMMOE): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(LIBCLI): $(COMMON_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BINDIR)/mmoe: tools/mmoe.c $(LIBCLI) $(LIBMMOE)
	@mkdir -p $(@D)
	$(CC) $(MM_CPPFLAGS) $(CPPFLAGS) $(MM_CFLAGS) $(CFLAGS) -o $@ $< $(LIBCLI) $(LIBMMOE) $(LDFLAGS) $(MM_LDLIBS)
$(BINDIR)/mmoe-%: tools/%.c $(LIBCLI) $(LIBMMOE)
	@mkdir -p $(@D)
	$(CC) $(MM_CPPFLAGS) $(CPPFLAGS) $(MM_CFLAGS) $(CFLAGS) -o $@ $< $(LIBCLI) $(LIBMMOE) $(LDFLAGS) $(MM_LDLIBS)
$(BUILD)/tests/%.t: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIBMMOE)
	@mkdir -p $(@D)
	$(CC) $(MM_CPPFLAGS) -Itests/unit $(CPPFLAGS) $(MM_CFLAGS) $(CFLAGS) -o $@ $< $(LIBMMOE) $(LDFLAGS) $(MM_LDLIBS)

# ---- tests -------------------------------------------------------------------
# Every test is a TAP producer: tests/*.t scripts and the compiled unit tests.
# MMOE_BIN tells the scripts which binaries to run (plain or sanitized build).
TEST_ENV = MMOE_BIN=$(CURDIR)/$(BINDIR) MMOE_TOP=$(CURDIR) MMOE_BUILD=$(CURDIR)/$(BUILD) \
	OPENBLAS_NUM_THREADS=1 LC_ALL=C.UTF-8
check: $(TOOLS) $(UNITS)
	@sh scripts/deps.sh check
	$(TEST_ENV) prove -j$(JOBS) --exec '' $(UNITS) tests/*.t
test: check
	$(TEST_ENV) MMOE_LONG=1 prove -j$(JOBS) --exec '' tests/long/*.t

# ---- the experiments -----------------------------------------------------------
demo: $(TOOLS)
	@$(MAKE) --no-print-directory -j$(JOBS) -f pipelines/mmoe.mk demo MMOE_BIN=$(CURDIR)/$(BINDIR)
mustard: $(TOOLS)
	@$(MAKE) --no-print-directory -f pipelines/mustard.mk all MMOE_BIN=$(CURDIR)/$(BINDIR) JOBS=$(JOBS)
mome-ablation: $(TOOLS)
	@$(MAKE) --no-print-directory -j$(JOBS) -f pipelines/mome.mk table MMOE_BIN=$(CURDIR)/$(BINDIR)
mustard-experts: $(TOOLS)
	@$(MAKE) --no-print-directory -f pipelines/experts.mk experts MMOE_BIN=$(CURDIR)/$(BINDIR)
# small enough for a laptop: N=3000, 10 epochs, a 1-block transformer of width 64
SWEEP_ARCH_OPTS ?= N=3000 EPOCHS=10 SEEDS="1 2 3 4 5"
sweep-arch: $(TOOLS)
	@$(MAKE) --no-print-directory -j$(JOBS) -f pipelines/mmoe.mk arch-table ARCH=transformer \
		$(SWEEP_ARCH_OPTS) MMOE_BIN=$(CURDIR)/$(BINDIR)
# pipelines/study.sh: 3 sizes, 4 synergy shares, 3 seeds (one at 30,000 records), both
# routers; table and charts in runs/study/ (STUDY_OPTS: its options, e.g. --seeds "1 2");
# MUSTARD_SRC=dir adds MUStARD's rows (as make mustard)
STUDY_OPTS ?=
mmoe-study: $(TOOLS)
	@bash pipelines/study.sh --jobs $(JOBS) $(if $(MUSTARD_SRC),--mustard $(MUSTARD_SRC)) $(STUDY_OPTS)
bench: $(TOOLS)
	@sh scripts/deps.sh bench
	MMOE_BIN=$(CURDIR)/$(BINDIR) MMOE_BUILD=$(CURDIR)/$(BUILD) bash bench/run.sh

# ---- fuzzing -----------------------------------------------------------------
# make fuzz [FUZZ_TARGETS="reader model"] [FUZZ_SECONDS=60] [FUZZ_RUNS=1000000]:
# each target runs until FUZZ_SECONDS or FUZZ_RUNS executions, whichever comes
# first, growing build/fuzz/<name>.corpus from tests/fuzz/corpus/<name>.
# import is mmoe-import's JSON reader: it takes the tool's glue and turns its
# exit into a return (-Wl,--wrap=exit), and leaks are not checked there (the
# tool exits right after an error).
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard tests/fuzz/*.c)))
FUZZ_EXTRA_import := tools/common/cli.c tools/common/cleanup.c -Wl,--wrap=exit
FUZZ_OPTS_import  := -detect_leaks=0
fuzz: $(wildcard tests/fuzz/*.c) $(LIB_SRC) $(HEADERS)
	@mkdir -p build/fuzz
	for n in $(FUZZ_TARGETS); do \
	  case $$n in import) extra="$(FUZZ_EXTRA_import)"; opts="$(FUZZ_OPTS_import)";; \
	    *) extra=; opts=;; esac; \
	  clang $(MM_CPPFLAGS) -std=c11 $(FUZZ_FLAGS) -o build/fuzz/$$n tests/fuzz/$$n.c $(LIB_SRC) $$extra $(MM_LDLIBS); \
	  mkdir -p build/fuzz/$$n.corpus; \
	  build/fuzz/$$n -max_total_time=$${FUZZ_SECONDS:-60} $${FUZZ_RUNS:+-runs=$$FUZZ_RUNS} $$opts \
	    -artifact_prefix=build/fuzz/$$n- build/fuzz/$$n.corpus tests/fuzz/corpus/$$n; done

# ---- install -----------------------------------------------------------------
MAN1 := $(wildcard man/*.1)
MAN5 := $(wildcard man/*.5)
MAN7 := $(wildcard man/*.7)
install: $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/)
	$(if $(MAN5),install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/)
	$(if $(MAN7),install -m 644 $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7/)
uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(TOOLS)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(notdir $(MAN5)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man7/,$(notdir $(MAN7)))

# the demo pipeline with every tool under valgrind (not part of check: minutes)
valgrind-demo: $(TOOLS)
	bash scripts/valgrind-demo.sh $(if $(N),N=$(N)) $(if $(EPOCHS),EPOCHS=$(EPOCHS))

lint-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

clean:
	rm -rf build bin
