# tidemark: the one entry point. `make help` lists the targets.
#
# Each module directory (engine, store, pitr, export, import, restore, lifecycle, api) becomes one
# static archive in build/; each bin/<prog>.c becomes build/bin/<prog>; each
# tests/unit/<mod>_test.c becomes a cmocka binary. New .c files are picked up automatically.

CC       ?= cc
PREFIX   ?= /usr/local
WERROR   ?= -Werror
OPT      ?= -O2
CFLAGS   ?= -std=c11 $(OPT) -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-format-truncation $(WERROR)
PKGS      = lmdb libzstd liblz4 libxxhash libcjson libcurl libarchive libcrypto zlib libdeflate libmicrohttpd
CPPFLAGS += -D_GNU_SOURCE -I. -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
BUILD    ?= build

# Dependency order (left depends on right); linked as a group anyway.
MODULES   = cli serve api rollback restore import export lifecycle pitr remote store engine
LIBS      = $(foreach m,$(MODULES),$(if $(wildcard $(m)/*.c),$(BUILD)/lib$(m).a))
PROGS     = $(patsubst bin/%.c,$(BUILD)/bin/%,$(wildcard bin/*.c))
UNITS     = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*_test.c))
FUZZ      = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/*_fuzz.c))

.PHONY: all deps demo test unit cli fuzz-replay check fuzz bench soak install clean help
all: $(PROGS) ## build every program into build/bin

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/'

deps: ## install what is missing (Debian 12, apt-get; npm for test peers)
	@scripts/deps.sh

demo: deps ## install, build, run the main scenario on a local directory
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

test: deps ## build with -Werror, run every unit, fuzz-corpus and CLI test
	@$(MAKE) --no-print-directory all units fuzz-replay
	@scripts/run-tests.sh $(BUILD)

units: $(UNITS) $(FUZZ)

unit: units ## run the unit tests only
	@scripts/run-tests.sh $(BUILD) unit

cli: all ## run the CLI scenario tests only
	@scripts/run-tests.sh $(BUILD) cli

fuzz-replay: $(FUZZ)

check: deps ## sanitizers (ASan/UBSan) build + unit tests, then valgrind on the unit tests
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  CFLAGS_EXTRA="-fsanitize=address,undefined -fno-omit-frame-pointer" all units
	@ASAN_OPTIONS=detect_leaks=1 scripts/run-tests.sh build-asan unit
	@$(MAKE) --no-print-directory all units
	@scripts/run-tests.sh $(BUILD) valgrind

fuzz: ## build the libFuzzer targets with clang and run each for FUZZ_SECONDS (default 60)
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: all ## benchmarks against the references, measured in the same run
	@bench/run.sh

bench-quick: all ## every benchmark at 100,000 items (under 5 minutes), same summary as bench
	@BENCH_QUICK=1 bench/run.sh

soak: all ## long tests (many more crash points, bigger histories)
	@SOAK=1 scripts/run-tests.sh $(BUILD)

.PHONY: torture
torture: all ## kill -9, disk faults and damage, hundreds of cases (TORTURE_SEED, TORTURE_KILLS, TORTURE_ONLY)
	@tests/torture/torture.sh $(BUILD)

MANDIR   ?= $(PREFIX)/share/man/man1
COMPDIR  ?= $(PREFIX)/share/bash-completion/completions
install: all ## install the programs, their man pages (help2man, from --help) and bash completion into $(DESTDIR)$(PREFIX)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin
	scripts/man.sh $(BUILD)/bin $(BUILD)/man
	install -m 644 $(BUILD)/man/*.1 $(DESTDIR)$(MANDIR)
	scripts/completion.sh $(BUILD)/bin > $(BUILD)/tidemark.bash
	install -m 644 $(BUILD)/tidemark.bash $(DESTDIR)$(COMPDIR)/tidemark
	for p in $(filter-out tidemark,$(notdir $(PROGS))); do ln -sf tidemark $(DESTDIR)$(COMPDIR)/$$p; done

clean: ## remove build outputs
	rm -rf build build-asan build-fuzz

CFLAGS += $(CFLAGS_EXTRA)
LDFLAGS += $(CFLAGS_EXTRA)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

define module_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

# What each module stands on (ARCHITECTURE.md: bin -> {pitr, export, import, restore,
# lifecycle} -> {engine, store}). A program or test links only its module's closure, so one
# module's breakage does not stop the others from building.
DEPS_engine    = engine
DEPS_cli       = cli engine
DEPS_store     = store engine
DEPS_pitr      = pitr engine
DEPS_restore   = restore export pitr store engine
DEPS_export    = export pitr store engine
DEPS_import    = import export store engine
DEPS_lifecycle = lifecycle export import pitr store engine
DEPS_api       = api rollback restore import export lifecycle pitr remote store engine
DEPS_rollback  = rollback export remote pitr store engine
DEPS_serve     = serve api rollback restore import export lifecycle pitr remote store engine
DEPS_remote    = remote store engine
# Which module a program, unit test or fuzz target belongs to (default: everything).
MOD_tidemark           = serve
MOD_tidemark-store     = store
MOD_tidemark-restore   = api
MOD_tidemark-export    = api
MOD_tidemark-import    = api
MOD_tidemark-rollback  = api
MOD_rollback_test = rollback
MOD_tidemark-lifecycle = api
MOD_cli_test = cli
MOD_item_test = engine
MOD_key_test = engine
MOD_log_test = engine
MOD_table_test = engine
MOD_expr_test = engine
MOD_clock_test = engine
MOD_store_test = store
MOD_pitr_test = pitr
MOD_netchange_test = pitr
MOD_timeline_test = pitr
MOD_restore_test = restore
MOD_lifecycle_test = lifecycle
MOD_export_test = export
MOD_layout_test = export
MOD_text_test = engine
MOD_import_test = import
MOD_api_test = api
MOD_api_backup_test = api
MOD_remote_test = remote
MOD_item_fuzz = engine
MOD_log_fuzz = engine
MOD_csv_fuzz = import
libs_for = $(foreach m,$(if $(MOD_$(1)),$(DEPS_$(MOD_$(1))),$(MODULES)),$(if $(wildcard $(m)/*.c),$(BUILD)/lib$(m).a))
link_for = -Wl,--start-group $(call libs_for,$(1)) -Wl,--end-group $(LDLIBS)

.SECONDEXPANSION:
# Every program also links cli/, the terminal side (ARCHITECTURE.md: only bin/ knows terminals).
$(BUILD)/bin/%: $(BUILD)/bin/%.o $(BUILD)/libcli.a $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libcli.a $(call link_for,$*)

# A unit test may define __wrap_<fn> to inject faults; the flags are collected from its source.
wraps = $(patsubst %,-Wl$(comma)--wrap=%,$(shell grep -o '__wrap_[a-z_0-9]*' $(1) | sed 's/__wrap_//' | sort -u))
comma := ,
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(call wraps,tests/unit/$*.c) -o $@ $< $(call link_for,$*) $(shell pkg-config --libs cmocka)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/driver.o $$(call libs_for,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/driver.o $(call link_for,$*)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
