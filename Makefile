# chronoforge build. MODE=debug|asan|valgrind|release|tsan; `make help` lists targets.
# Library: common/ queue/ store/ engine/ worker/ http/ cli/ -> libchronoforge.a. The stock binary is
# workflows/*.c (example workflows + main) linked against the library.
MODE   ?= debug
BUILD  ?= build/$(MODE)
# msgpack-c 6.x calls its pkg-config module msgpack-c; Debian 12's 4.0 calls it msgpack.
MSGPACK_PC := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS   := hiredis libpq $(MSGPACK_PC) jansson libmicrohttpd
PREFIX ?= /usr/local
VERSION := $(shell sed -n 's/^\#define CF_VERSION_STRING "\(.*\)"/\1/p' include/chronoforge.h)

WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wold-style-definition -Wformat=2 -Wwrite-strings -Wundef -Wpointer-arith -Wvla
SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
MODE_debug    := -O0 -g3
MODE_asan     := -O1 -g $(SAN)
MODE_valgrind := -O0 -g
MODE_release  := -O2 -g -DNDEBUG
# clang (make tsan) flags the option tables' `{NULL}` sentinels under -Wextra; gcc does not.
MODE_tsan     := -O1 -g -fsanitize=thread -Wno-missing-field-initializers
ifeq ($(MODE_$(MODE)),)
  $(error MODE must be debug, asan, valgrind, release or tsan)
endif
SAN_LD_asan := $(SAN)
SAN_LD_tsan := -fsanitize=thread

# Goals that must work before the dev packages exist (they install them or need none).
NO_PKG_GOALS := deps test demo clean help format format-check valgrind bench fuzz tsan chaos dist
ifneq ($(filter-out $(NO_PKG_GOALS),$(or $(MAKECMDGOALS),all)),)
  ifneq ($(shell pkg-config --exists $(PKGS) cmocka && echo ok),ok)
    $(error missing dev packages ($(PKGS) cmocka); run 'make deps' (or 'make test', which runs it))
  endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# House flags first, user flags appended: `make CFLAGS=-O2` cannot drop -Werror.
ALL_CPPFLAGS = -I. -Iinclude -D_GNU_SOURCE -MMD -MP $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 $(WARN) $(MODE_$(MODE)) $(PKG_CFLAGS) -pthread $(CFLAGS)
ALL_LDFLAGS  = $(SAN_LD_$(MODE)) -pthread $(LDFLAGS)

LIB_SRCS   := $(sort $(wildcard common/*.c queue/*.c store/*.c engine/*.c worker/*.c http/*.c cli/*.c))
BIN_SRCS   := $(sort $(wildcard workflows/*.c))
SUP_SRCS   := $(sort $(wildcard tests/support/*.c))
UNIT_BINS  := $(patsubst %.c,$(BUILD)/%,$(sort $(wildcard tests/unit/test_*.c)))
INTEG_BINS := $(patsubst %.c,$(BUILD)/%,$(sort $(wildcard tests/integration/test_*.c)))
E2E_BINS   := $(patsubst %.c,$(BUILD)/%,$(sort $(wildcard tests/e2e/test_*.c)))
BENCH_BINS := $(patsubst %.c,$(BUILD)/%,$(sort $(wildcard bench/bench_*.c)))
LIB        := $(BUILD)/libchronoforge.a
BIN        := $(BUILD)/chronoforge
# The stock binary with test hooks compiled in (-DCF_TEST_HOOKS: worker/executor.c and
# worker/housekeeping.c), for e2e tests only; never installed. Those objects are linked ahead
# of the library's.
HOOKS_BIN  := $(BUILD)/chronoforge-test-hooks
HOOKS_OBJ  := $(BUILD)/test-hooks/worker/executor.o $(BUILD)/test-hooks/worker/housekeeping.o
obj         = $(patsubst %.c,$(BUILD)/%.o,$(1))
VALGRIND   := valgrind --quiet --error-exitcode=99 --leak-check=full \
              --errors-for-leak-kinds=definite,indirect --track-origins=yes

.PHONY: deploy-check tls-check upgrade-test all lib bin tests unit integration e2e check test valgrind tsan fuzz chaos bench demo lint \
        layering sql-lint symbols format format-check deps install dist clean help vgcheck
all: $(BIN) tests
lib: $(LIB)
bin: $(BIN)
tests: $(UNIT_BINS) $(INTEG_BINS) $(E2E_BINS) $(HOOKS_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@
# `ar r` never drops members, and deleting a .c leaves the archive "up to date": record the
# source list so a removed file forces a rebuild of the archive.
$(BUILD)/lib.list: FORCE
	@mkdir -p $(@D); echo '$(LIB_SRCS)' | cmp -s - $@ || echo '$(LIB_SRCS)' >$@
$(LIB): $(call obj,$(LIB_SRCS)) $(BUILD)/lib.list
	rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)
$(BIN): $(call obj,$(BIN_SRCS)) $(LIB)
	$(CC) $(ALL_LDFLAGS) $(filter %.o,$^) $(LIB) $(PKG_LIBS) $(LDLIBS) -o $@
$(HOOKS_OBJ): $(BUILD)/test-hooks/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -DCF_TEST_HOOKS $(ALL_CFLAGS) -c $< -o $@
$(HOOKS_BIN): $(HOOKS_OBJ) $(call obj,$(BIN_SRCS)) $(LIB)
	$(CC) $(ALL_LDFLAGS) $(filter %.o,$^) $(LIB) $(PKG_LIBS) $(LDLIBS) -o $@
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(call obj,$(SUP_SRCS)) $(LIB)
	$(CC) $(ALL_LDFLAGS) $(filter %.o,$^) $(LIB) $(PKG_LIBS) $(CMOCKA_LIBS) $(LDLIBS) -o $@
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) $(filter %.o,$^) $(LIB) $(PKG_LIBS) $(LDLIBS) -o $@
# bench-only LD_PRELOAD shim for Postgres (slow fsync); `make bench` builds it, nothing links it.
FSYNC_SHIM := $(BUILD)/bench/fsync_delay.so
$(FSYNC_SHIM): bench/fsync_delay.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(WARN) -O2 -D_GNU_SOURCE -fPIC -shared $< -o $@ -ldl

unit: $(UNIT_BINS)
	TEST_PREFIX="$(TEST_PREFIX)" tests/run.sh --unit $^
integration: $(INTEG_BINS) $(BIN)
	TEST_PREFIX="$(TEST_PREFIX)" CF_BIN=$(abspath $(BIN)) tests/run.sh --services $(INTEG_BINS)
e2e: $(E2E_BINS) $(BIN) $(HOOKS_BIN)
	CF_BIN=$(abspath $(BIN)) tests/run.sh --services $(E2E_BINS)
check: $(UNIT_BINS) $(INTEG_BINS) $(E2E_BINS) $(BIN) $(HOOKS_BIN) $(BUILD)/tests/contract/decode_vectors
	TEST_PREFIX="$(TEST_PREFIX)" CF_BIN=$(abspath $(BIN)) \
	  CF_DECODE_VECTORS=$(abspath $(BUILD)/tests/contract/decode_vectors) \
	  tests/run.sh --services --contract --install \
	  $(UNIT_BINS) $(INTEG_BINS) $(E2E_BINS)
test:                                   # what the README and CI run
	deploy/install-deps.sh
	$(MAKE) --no-print-directory lint format-check
	$(MAKE) --no-print-directory MODE=asan deploy-check tls-check check
cluster-test:                           # integration, e2e and contract suites on a Redis Cluster, then its faults
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=asan cluster-check cluster-faults-run
cluster-check: $(INTEG_BINS) $(E2E_BINS) $(BIN) $(HOOKS_BIN) $(BUILD)/tests/contract/decode_vectors
	CF_BIN=$(abspath $(BIN)) CF_DECODE_VECTORS=$(abspath $(BUILD)/tests/contract/decode_vectors) \
	  tests/run.sh --cluster --contract $(INTEG_BINS) $(E2E_BINS)
cluster-faults-run: $(BIN)              # kill a master, move a live queue's slot, under load
	CF_BIN=$(abspath $(BIN)) tests/run.sh --cluster-faults
deploy-check: $(BIN)                    # the systemd unit and the container/Kubernetes files
	/usr/bin/python3 tests/deploy/check_manifests.py $(BIN)
tls-check: $(BIN)                       # Postgres verify-full and Redis through stunnel, end to end
	tests/deploy/tls.sh $(BIN)
valgrind:                               # unit + integration tests (no e2e timing tests) under valgrind
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=valgrind vgcheck
vgcheck: $(UNIT_BINS) $(INTEG_BINS) $(BIN)
	TEST_PREFIX="$(VALGRIND)" CF_VALGRIND=1 CF_BIN=$(abspath $(BIN)) \
	  tests/run.sh --services $(UNIT_BINS) $(INTEG_BINS)
tsan:
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=tsan CC=clang check
deps:                                   # idempotent apt-get install of build+test packages
	deploy/install-deps.sh
demo:                                   # the README's main job
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=release bin
	deploy/demo.sh build/release/chronoforge
bench:
	deploy/install-deps.sh --bench
	$(MAKE) --no-print-directory MODE=release bin $(BENCH_BINS:build/debug/%=build/release/%) \
	  build/release/bench/fsync_delay.so
	bench/run.sh build/release

CHAOS_MODE ?= asan
chaos:                                  # SIGKILLs, a Redis crash, a Postgres immediate stop; < 10 min
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=$(CHAOS_MODE) bin
	tests/chaos/run.sh build/$(CHAOS_MODE)/chronoforge

upgrade-test:                           # keyspace v1 -> v2 rolling upgrade under chaos (builds v1 from git)
	deploy/install-deps.sh
	$(MAKE) --no-print-directory MODE=$(CHAOS_MODE) bin
	tests/upgrade/run.sh build/$(CHAOS_MODE)/chronoforge

FUZZ_SECONDS ?= 150
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz:                                   # clang + libFuzzer; time-boxed, not part of `make test`
	deploy/install-deps.sh
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_SRCS)

install: $(BIN) $(LIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/chronoforge
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libchronoforge.a
	install -m 644 include/chronoforge.h $(DESTDIR)$(PREFIX)/include/chronoforge.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@PKGS@|$(PKGS)|' \
	  deploy/chronoforge.pc.in >$(DESTDIR)$(PREFIX)/lib/pkgconfig/chronoforge.pc
dist:                                   # a source tarball that builds without .git
	@mkdir -p build
	git archive --format=tar.gz --prefix=chronoforge-$(VERSION)/ -o build/chronoforge-$(VERSION).tar.gz HEAD
	@echo build/chronoforge-$(VERSION).tar.gz

lint: layering sql-lint symbols         # module order, SQL texts, symbol prefixes, sizes, shell
	@for f in $(LIB_SRCS) $(BIN_SRCS) $(wildcard */*.h); do n=$$(wc -l <$$f); \
	  [ $$n -le 800 ] || { echo "$$f: $$n lines (cap 800)"; exit 1; }; done
	shellcheck -x $$(find . -name '*.sh' -not -path './build/*' -not -path '*/node_modules/*')
layering:
	@tests/lint/layering.sh
sql-lint:
	@tests/lint/sql-literals.sh
symbols: $(LIB)
	@bad=$$(nm -g --defined-only $(LIB) | awk 'NF==3 && $$3 !~ /^(cf_|__odr_asan|__asan|__ubsan|__tsan)/ {print $$3}'); \
	 test -z "$$bad" || { echo "unprefixed symbols: $$bad"; exit 1; }

CF_FILES = $(shell find common queue store engine worker http cli workflows include tests bench -name '*.[ch]' 2>/dev/null)
format:
	clang-format -i $(CF_FILES)
format-check:
	clang-format --dry-run --Werror $(CF_FILES)
clean:
	rm -rf build
help:
	@echo "targets: all lib bin tests unit integration e2e check test valgrind tsan fuzz chaos bench demo"
	@echo "         lint format format-check deps install dist clean deploy-check tls-check cluster-test"
	@echo "MODE=debug|asan|valgrind|release|tsan (now $(MODE)); test = deps + lint + MODE=asan check"

FORCE:
# Keep objects; a bare `.SECONDARY:` would also make FORCE (above) a no-op.
.PRECIOUS: $(BUILD)/%.o $(BUILD)/tests/%.o $(BUILD)/bench/%.o
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
