# bockerfs: `make` builds build/bockerfs, `make test` runs every test,
# `make start` builds and starts the daemon with a busybox image, SAN=1 builds
# and tests with ASan+UBSan in build-asan/.

CC      ?= cc
PKGS    := fuse3 libcurl jansson libarchive libbtrfsutil libmnl libcgroup libnftables libcrypto zlib libisal \
	   libseccomp
PREFIX  ?= /usr/local

ifeq ($(SAN),1)
BUILD   := build-asan
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDSAN   := -fsanitize=address,undefined
else
BUILD   := build
OPT     := -O2 -D_FORTIFY_SOURCE=2
LDSAN   :=
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wmissing-declarations -Wformat=2 -Wnull-dereference -Wvla -Wpointer-arith \
	   -Wimplicit-fallthrough -Wundef -Wwrite-strings -Wno-missing-field-initializers
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g $(OPT) $(WARN) -fno-common \
	   -fstack-protector-strong -MMD -MP -pthread
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

ENGINE_SRC := $(sort $(wildcard engine/*.c engine/*/*.c))
ENGINE_SRC := $(filter-out engine/init/%,$(ENGINE_SRC))
FSD_SRC    := $(sort $(filter-out fsd/main.c,$(wildcard fsd/*.c)))
RUNTIME_SRC := $(sort $(wildcard runtime/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
INIT_SRC   := $(sort $(wildcard engine/init/*.c)) engine/base/inroot.c
INIT_OBJ   := $(INIT_SRC:%.c=$(BUILD)/%.o)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
FSD_OBJ    := $(FSD_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPERS    := $(BUILD)/bockerfs

.PHONY: all deps test-deps check test test-v2 bench-v2 e2e py net-selftest san format format-check \
	check-layers bench start stop clean install
all: deps $(BUILD)/bockerfs $(BUILD)/bockerfs-init $(BUILD)/bockerfs-runtime

# What building needs; `make check` needs no more.
deps:
	@scripts/deps.sh build

# What the suites need, and a PATH of only the programs of Debian's packages a fresh machine
# would have after deps.sh: a program installed by hand and named nowhere fails here too.
PACKAGED_PATH := $(CURDIR)/$(BUILD)/path
test-deps:
	@scripts/deps.sh test
	@scripts/packaged-path.sh $(PACKAGED_PATH) test

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -I. -Iengine -c $< -o $@

# The container init is PID 1 of every container and every exec's helper: static, small, no
# sanitizer runtime (it must not map more than it needs), libc only.  Linked with musl
# (Debian's musl-tools): glibc's static startup asks the CPU for its caches with dozens of
# CPUID instructions, each a trap to the hypervisor on a virtual machine (8.9 us here), 0.75 ms
# of every init started and a fifth of an exec; musl's asks nothing.  musl-gcc searches no
# kernel headers: INIT_KHDR links Debian's in.  `make INIT_CC=gcc` builds it with glibc.
INIT_CC     ?= musl-gcc
# Objects of one C library never meet another's at the link: a directory per compiler.
INIT_OBJDIR := $(BUILD)/init-$(notdir $(INIT_CC))
INIT_KHDR   := $(BUILD)/init/kernel-headers
INIT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -g -Os $(WARN) -fno-common \
	       -fstack-protector-strong -MMD -MP -isystem $(INIT_KHDR)
$(INIT_KHDR):
	@mkdir -p $@
	@ln -sfn /usr/include/linux $@/linux
	@ln -sfn /usr/include/asm-generic $@/asm-generic
	@ln -sfn /usr/include/$(shell gcc -print-multiarch)/asm $@/asm

$(INIT_OBJDIR)/%.o: %.c | $(INIT_KHDR)
	@mkdir -p $(dir $@)
	@echo "  CC $< (init)"
	@$(INIT_CC) $(INIT_CFLAGS) -I. -Iengine/init -c $< -o $@

# The compiler the init was last linked by: rewritten (and the init relinked) when INIT_CC
# changes, since the other's objects may all be older than the binary.
$(BUILD)/init-cc: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = '$(INIT_CC)' ] || echo '$(INIT_CC)' >$@

$(BUILD)/bockerfs-init: $(INIT_SRC:%.c=$(INIT_OBJDIR)/%.o) $(BUILD)/init-cc
	@echo "  LD $@"
	@$(INIT_CC) -static -o $@ $(filter %.o,$^)

.PHONY: FORCE
FORCE:

$(BUILD)/libbocker.a: $(ENGINE_OBJ)
	@ar rcs $@ $^

$(BUILD)/libfsd.a: $(FSD_OBJ)
	@ar rcs $@ $^

$(BUILD)/bockerfs: $(BUILD)/fsd/main.o $(BUILD)/libfsd.a $(BUILD)/libbocker.a
	@echo "  LD $@"
	@$(CC) $(LDSAN) -pthread -o $@ $^ $(PKG_LIBS)

# The OCI runtime (runc's command line) over the same engine library.
$(BUILD)/bockerfs-runtime: $(RUNTIME_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libbocker.a
	@echo "  LD $@"
	@$(CC) $(LDSAN) -pthread -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libfsd.a $(BUILD)/libbocker.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -I. -Iengine -Ifsd -Itests/unit $(LDSAN) -o $@ $< \
		$(BUILD)/libfsd.a $(BUILD)/libbocker.a $(PKG_LIBS)

# The init's plan parser is pure and links on its own (engine/init is not in libbocker.a).
$(BUILD)/tests/test_init_plan: tests/unit/test_init_plan.c engine/init/plan.c engine/init/err.c \
		engine/init/plan.h engine/init/init.h tests/unit/tap.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) -I. -Iengine/init -Itests/unit $(LDSAN) -o $@ $< engine/init/plan.c \
		engine/init/err.c

# Unit tests (C, TAP) for parsers and pure logic.
check: all $(UNIT_BIN)
	prove -v $(UNIT_BIN)

# End-to-end tests against the mounted tree: bats, then Python.
# Static programs the e2e tests copy into images (no libc there), with the project's flags.
TEST_HELPERS := $(patsubst tests/e2e/helpers/%.c,$(BUILD)/tests/helpers/%,\
	$(wildcard tests/e2e/helpers/*.c))
$(BUILD)/tests/helpers/%: tests/e2e/helpers/%.c
	@mkdir -p $(dir $@)
	@echo "  CC $< (static)"
	@$(CC) -std=gnu11 -static -O2 $(WARN) -o $@ $< $(HELPER_LIBS)
# nosys (an older kernel's missing system calls) filters with libseccomp.
$(BUILD)/tests/helpers/nosys: HELPER_LIBS = -lseccomp

e2e: all test-deps $(TEST_HELPERS)
	PATH=$(PACKAGED_PATH) BOCKERFS_BIN=$(CURDIR)/$(BUILD)/bockerfs \
		BK_HELPERS=$(CURDIR)/$(BUILD)/tests/helpers bats --tap tests/e2e

# The networking layer alone against the kernel, in namespaces of its own (tests/net/run.sh).
$(BUILD)/tests/net_selftest: tests/net/net_selftest.c $(BUILD)/libbocker.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -I. -Iengine -Itests/unit $(LDSAN) -o $@ $< \
		$(BUILD)/libbocker.a $(PKG_LIBS)

net-selftest: $(BUILD)/tests/net_selftest
	NET_SELFTEST_BIN=$(CURDIR)/$< tests/net/run.sh

py: all test-deps
	PATH=$(PACKAGED_PATH) BOCKERFS_BIN=$(CURDIR)/$(BUILD)/bockerfs python3 -m pytest -q tests/py

# Every step with only the packaged programs on PATH (test-deps made it), the unit
# tests' prove and the checks' tools included: on a fresh machine nothing else is there.
test: test-deps
	@env PATH=$(PACKAGED_PATH) $(MAKE) --no-print-directory check-layers format-check check \
		net-selftest e2e py

# ---- the cgroup v2 lane ----------------------------------------------------------------
# Debian 12's own kernel with cgroup v2 only, under qemu (tests/vm/README.md): the parts
# that concern cgroups and the kernel, in one plain boot, then the installed service and
# delegation under systemd as PID 1.  Under emulation (TCG) a bats file takes 5 to 20 times
# as long as here: V2_TESTS is what fits CI; `make test-v2 V2_TESTS=tests/e2e` runs all.
# The systemd boot runs only what is meant for it: there every command runs in a
# delegated unit, where a daemon started by hand refuses to share its group.
V2_TESTS ?= tests/e2e/60-limits.bats tests/e2e/62-cgroup-v2.bats tests/e2e/77-runtime-tree.bats
V2_ENV = BK_DEADLINE=60 BATS_TEST_TIMEOUT=900 PATH=$(PACKAGED_PATH) BOCKERFS_BIN=$(CURDIR)/$(BUILD)/bockerfs \
	BK_HELPERS=$(CURDIR)/$(BUILD)/tests/helpers
test-v2: all test-deps $(TEST_HELPERS)
	@scripts/deps.sh vm
	tests/vm/run-v2 -- env $(V2_ENV) bats --tap $(V2_TESTS)
	tests/vm/run-v2 --systemd -- env $(V2_ENV) bats --tap tests/e2e/16-systemd.bats \
		--filter 'systemd|Delegate' tests/e2e/62-cgroup-v2.bats

# Container start in the lane against its kernel floor, to compare with bench/start.sh here.
bench-v2: all test-deps $(BUILD)/bench/bkbench
	@scripts/deps.sh vm
	tests/vm/run-v2 -- env PATH=$(PACKAGED_PATH) BOCKERFS_BIN=$(CURDIR)/$(BUILD)/bockerfs \
		bench/start.sh

san:
	$(MAKE) SAN=1 test

# Every C file of the project, one style (clang-format 14, .clang-format).
C_FILES := $(sort $(shell find common engine fsd tests bench -name '*.[ch]' -not -path '*/corpus/*'))
format:
	clang-format -i $(C_FILES)

format-check:
	@clang-format --dry-run --Werror $(C_FILES)

# The layers of docs/design.md (an allow-list per folder) and the rule for paths inside roots.
check-layers:
	@scripts/check-layers.sh
	@scripts/check-rootpaths.sh --self-test

$(BUILD)/bench/bkbench: bench/bkbench.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) -O2 -Wall -Wextra -Werror -pthread -o $@ $<

# The FUSE floor bench/run.sh compares control files with: the same libfuse, the least server.
$(BUILD)/bench/fusefloor: bench/fusefloor.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) -O2 -Wall -Wextra -Werror $(shell pkg-config --cflags fuse3) -o $@ $< \
		$(shell pkg-config --libs fuse3)

bench: all $(BUILD)/bench/bkbench $(BUILD)/bench/fusefloor
	@scripts/deps.sh bench
	bench/run.sh

# ---- fuzz ------------------------------------------------------------------------------
# `make fuzz` builds the libFuzzer targets tests/fuzz/fuzz_NAME.c with clang, ASan and UBSan
# in build-fuzz/ (engine and fsd objects compiled again there with coverage instrumentation,
# by a sub-make), then runs each for FUZZ_SECONDS over tests/fuzz/corpus/NAME; a crash, a
# leak or a timeout fails it (the input is kept in build-fuzz/crashes/).
# `make fuzz FUZZ_TARGETS="ref auth" FUZZ_SECONDS=600` runs some targets longer.
FUZZ_CC      ?= clang-14
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_OPT     := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
		-fno-sanitize-recover=all

.PHONY: fuzz fuzz-bins
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" \
		FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz-bins
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Only through `make fuzz`, which sets CC, OPT and BUILD.
fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libfsd.a $(BUILD)/libbocker.a
	@mkdir -p $(dir $@)
	@echo "  CC $< (fuzz)"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -I. -Iengine -Ifsd -Itests/fuzz -fsanitize=fuzzer \
		-o $@ $< $(BUILD)/libfsd.a $(BUILD)/libbocker.a $(PKG_LIBS)
# ---- end fuzz --------------------------------------------------------------------------

start: all
	scripts/start.sh

stop:
	scripts/stop.sh

# ---- install ---------------------------------------------------------------------------
# `make install` (PREFIX, default /usr/local; DESTDIR to stage) puts the daemon and the
# container init side by side in SBINDIR (the daemon opens the bockerfs-init next to its own
# binary, engine/proc/spawn.c), examples/bocker as BINDIR/bocker, the systemd unit
# (dist/bockerfs.service), bockerfs(8) and bockerfs-tree(5) (docs/tree.md through lowdown),
# and docs/*.md and examples/ in DOCDIR.  Paths in the unit and in bockerfs(8) are the
# installed ones.  It builds only what `all` builds: `make` first, then `make install` as
# root.  `make uninstall` removes those files, and DOCDIR if nothing else is left in it.
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/bockerfs
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INST_DOCS      := $(sort $(wildcard docs/*.md))
INST_EXAMPLES  := $(sort $(filter-out examples/__pycache__,$(wildcard examples/*)))
INST_VERSION   := $(shell sed -n 's/^\#define BK_VERSION *"\(.*\)"/\1/p' engine/bocker.h)
INST_SUBST     := sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		  -e 's|@SYSTEMDUNITDIR@|$(SYSTEMDUNITDIR)|g' -e 's|@VERSION@|$(INST_VERSION)|g'
INST_FILES     := $(SBINDIR)/bockerfs $(SBINDIR)/bockerfs-init $(SBINDIR)/bockerfs-runtime $(BINDIR)/bocker \
		  $(SYSTEMDUNITDIR)/bockerfs.service $(MANDIR)/man8/bockerfs.8 \
		  $(MANDIR)/man5/bockerfs-tree.5 $(INST_DOCS:docs/%=$(DOCDIR)/%) \
		  $(INST_EXAMPLES:examples/%=$(DOCDIR)/examples/%)

.PHONY: uninstall
install: all
	install -D -m 0755 $(BUILD)/bockerfs $(DESTDIR)$(SBINDIR)/bockerfs
	install -D -m 0755 $(BUILD)/bockerfs-init $(DESTDIR)$(SBINDIR)/bockerfs-init
	install -D -m 0755 $(BUILD)/bockerfs-runtime $(DESTDIR)$(SBINDIR)/bockerfs-runtime
	install -D -m 0755 examples/bocker $(DESTDIR)$(BINDIR)/bocker
	install -d -m 0755 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	$(INST_SUBST) dist/bockerfs.service >$(DESTDIR)$(SYSTEMDUNITDIR)/bockerfs.service
	$(INST_SUBST) docs/man/bockerfs.8 >$(DESTDIR)$(MANDIR)/man8/bockerfs.8
	{ printf '# NAME\n\nbockerfs-tree - the control tree of bockerfs(8)\n\n'; cat docs/tree.md; } | \
		lowdown -s -Tman --parse-no-intraemph --out-no-smarty -M title=bockerfs-tree -M section=5 \
		-M "source=bockerfs $(INST_VERSION)" \
		-o $(DESTDIR)$(MANDIR)/man5/bockerfs-tree.5
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/bockerfs.service $(DESTDIR)$(MANDIR)/man8/bockerfs.8 \
		$(DESTDIR)$(MANDIR)/man5/bockerfs-tree.5
	install -D -m 0644 -t $(DESTDIR)$(DOCDIR) $(INST_DOCS)
	@for f in $(INST_EXAMPLES); do \
		m=0644; [ -x "$$f" ] && m=0755; \
		echo "install -D -m $$m $$f $(DESTDIR)$(DOCDIR)/$$f"; \
		install -D -m $$m "$$f" "$(DESTDIR)$(DOCDIR)/$$f" || exit 1; \
	done

uninstall:
	rm -f $(INST_FILES:%=$(DESTDIR)%)
	@for d in $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR); do \
		[ ! -d "$$d" ] || rmdir --ignore-fail-on-non-empty "$$d" || exit 1; \
	done

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -path $(BUILD)/path -prune -o -name '*.d' -type f -print 2>/dev/null)
