# logplane build. Sources are found by wildcard: a new pkg/*/x.c is linked into
# both binaries, a new tests/unit/test_x.c becomes a test program.
CC      ?= cc
PKGS    := libcurl openssl yaml-0.1 jansson libwebsockets oniguruma
WARN    := -std=c17 -Wall -Wextra -Wpedantic -Werror -Wformat=2 -Wshadow -Wno-unused-parameter
DEFS    := -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
OPT     ?= -O2 -g
# release objects keep each function in its own section and the links drop
# what a binary never calls (every binary links all of pkg/): the operator's
# resident code, part of its idle memory, stays what it uses
SECT    := -ffunction-sections -fdata-sections
GC      := -Wl,--gc-sections
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS := $(sort $(shell find pkg -name '*.c' 2>/dev/null))
OP_SRCS  := $(sort $(wildcard cmd/logplane-operator/*.c))
CLI_SRCS := $(sort $(wildcard cmd/logplane/*.c))
HUB_SRCS := $(sort $(wildcard cmd/logplane-hub/*.c)) build/gen/hub_page.c
# the open-files exec helper: libc only, no pkg/ (see cmd/logplane-nofile/main.c)
NOFILE_SRCS := $(sort $(wildcard cmd/logplane-nofile/*.c))
UT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
# the operator's wiring of pkg/aws into the controller, tested as a unit too
UT_HELP  := $(filter-out $(UT_SRCS),$(sort $(wildcard tests/unit/*.c))) cmd/logplane-operator/aws_hook.c

REL := build/rel
ASN := build/asan
lib_objs = $(patsubst %.c,$(1)/%.o,$(LIB_SRCS))

.SECONDARY:
.PHONY: all test unit deps fmt fmt-check lint bench demo clean asan-bins fuzz fuzz-bins
all: bin/logplane-operator bin/logplane bin/logplane-hub bin/logplane-nofile

deps:
	@bash hack/install-deps.sh

# ---- release build ----
$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(OPT) $(SECT) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

bin/logplane-operator: $(call lib_objs,$(REL)) $(patsubst %.c,$(REL)/%.o,$(OP_SRCS))
	@mkdir -p bin
	$(CC) $(OPT) $(GC) -o $@ $^ $(PKG_LIBS)

bin/logplane: $(call lib_objs,$(REL)) $(patsubst %.c,$(REL)/%.o,$(CLI_SRCS))
	@mkdir -p bin
	$(CC) $(OPT) $(GC) -o $@ $^ $(PKG_LIBS)

bin/logplane-hub: $(call lib_objs,$(REL)) $(patsubst %.c,$(REL)/%.o,$(HUB_SRCS))
	@mkdir -p bin
	$(CC) $(OPT) $(GC) -o $@ $^ $(PKG_LIBS)

# Linked statically: an init container copies it into the Fluent Bit container,
# whose image (distroless, or a user's) may have another libc or none.
bin/logplane-nofile: $(patsubst %.c,$(REL)/%.o,$(NOFILE_SRCS))
	@mkdir -p bin
	$(CC) $(OPT) -static -o $@ $^

# The hub's browser page, one HTML file, compiled in as a byte array.
build/gen/hub_page.c: cmd/logplane-hub/tail.html
	@mkdir -p $(dir $@)
	{ echo 'const unsigned char lp_hub_page[] = {'; od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0};'; echo 'const unsigned long lp_hub_page_len = sizeof(lp_hub_page) - 1;'; } >$@

# ---- sanitizer build for tests ----
$(ASN)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) -O1 -g $(SAN) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(ASN)/bin/logplane-operator: $(call lib_objs,$(ASN)) $(patsubst %.c,$(ASN)/%.o,$(OP_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

$(ASN)/bin/logplane: $(call lib_objs,$(ASN)) $(patsubst %.c,$(ASN)/%.o,$(CLI_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

$(ASN)/bin/logplane-hub: $(call lib_objs,$(ASN)) $(patsubst %.c,$(ASN)/%.o,$(HUB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

$(ASN)/bin/logplane-nofile: $(patsubst %.c,$(ASN)/%.o,$(NOFILE_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^

$(ASN)/tests/%: $(ASN)/tests/unit/%.o $(patsubst %.c,$(ASN)/%.o,$(UT_HELP)) $(call lib_objs,$(ASN))
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS)

UT_BINS := $(patsubst tests/unit/%.c,$(ASN)/tests/%,$(UT_SRCS))
asan-bins: $(ASN)/bin/logplane-operator $(ASN)/bin/logplane $(ASN)/bin/logplane-hub \
           $(ASN)/bin/logplane-nofile $(UT_BINS)

# ---- libFuzzer targets (clang): fuzz/fuzz_NAME.c -> build/fuzz/bin/fuzz_NAME ----
# `make fuzz` runs each for FUZZ_SECONDS from its seed corpus fuzz/corpus/NAME/;
# a short run of each is part of `make test` (tests/integration/fuzz_short.sh).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FZ           := build/fuzz
FUZZ_SRCS    := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst fuzz/%.c,$(FZ)/bin/%,$(FUZZ_SRCS))

$(FZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) $(DEFS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(FZ)/bin/%: $(FZ)/fuzz/%.o $(call lib_objs,$(FZ))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory -j$$(nproc) fuzz-bins
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

# `make test` installs what it needs, builds under ASan+UBSan and runs every
# test; TESTS=glob narrows the run (e.g. make test TESTS=util).
test:
	@start=$$(date +%s); bash hack/install-deps.sh && \
	$(MAKE) --no-print-directory -j$$(nproc) asan-bins all fuzz-bins && \
	LP_MAKE_START=$$start bash tests/run.sh

unit: asan-bins
	@TESTS_ONLY_UNIT=1 bash tests/run.sh

fmt:
	clang-format -i $(LIB_SRCS) $(OP_SRCS) $(CLI_SRCS) $(wildcard cmd/logplane-hub/*.c) $(NOFILE_SRCS) $(wildcard pkg/*/*.h) tests/unit/*.[ch]

fmt-check:
	clang-format --dry-run --Werror $(LIB_SRCS) $(OP_SRCS) $(CLI_SRCS) $(wildcard cmd/logplane-hub/*.c) $(NOFILE_SRCS) $(wildcard pkg/*/*.h)

# build/cppcheck keeps each file's result (keyed by its preprocessed text, headers
# included, findings replayed): an unchanged file is not analysed again
lint: deps
	@mkdir -p build/cppcheck
	cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 --cppcheck-build-dir=build/cppcheck \
		--enable=warning,performance,portability \
		--suppress=missingIncludeSystem $(DEFS) -Ipkg pkg cmd

bench: deps
	@bash bench/run.sh

demo: deps all
	@bash hack/demo.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
