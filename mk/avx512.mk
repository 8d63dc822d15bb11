# AVX-512: the AVX512 Level's routines (kernels_amd64.s) run natively when this CPU has
# AVX-512, and always under Bochs emulating a Skylake-X (AVX-512 F/CD/BW/DQ/VL), so that
# CI machines without AVX-512 (Zen 3) test them too.
#
# test-avx512-native: MLASIMD_REQUIRE_ISA=avx512 go test . ./fuzz, only when
#   /proc/cpuinfo lists avx512f, avx512vl, avx512bw and avx512dq (the AVX512 Level's
#   features); otherwise it prints a note and succeeds. Not part of `make test` on its
#   own (test-go already runs every available Level), but test-avx512 runs it first.
#
# test-avx512: test-avx512-native, then test-avx512-bochs. When $(TOOLS) lacks the
#   Bochs runner (a clone without ../shared) it says the emulated tests were NOT run:
#   outside CI it then succeeds, under CI (CI set, not "false"/"0") it fails.
#
# test-avx512-bochs: builds one static linux/amd64 test binary per package in
#   AVX512_PKGS (go test -c) into $(AVX512_OUT), then runs them one after the other
#   (Bochs is single-threaded and slow; never two at once) with
#     run-avx512-bochs.sh -d -t $(AVX512_TIMEOUT) -e MLASIMD_REQUIRE_ISA=$(AVX512_REQUIRE) \
#       -e MLASIMD_UNPACK_PKGFILES=1 BINARY $(AVX512_FLAGS) $(AVX512_ARGS_<pkg>)
#   MLASIMD_REQUIRE_ISA makes the tests run only the active Level and TestMain fail
#   unless it is AVX512. Any non-zero exit (test failure, 124 timeout, 125 or 1
#   emulator failure, 2 missing Bochs packages) fails the target, after every binary ran.
#
#   The guest holds nothing but the binary and runs it in an empty /tmp, so the files a
#   package's tests read from their directory (avx512_files_<pkg>: the seed corpora in
#   fuzz/testdata, which TestSeedCorpus checks and every FuzzX replays; kernels_amd64.s,
#   which TestRoutinesNeedOnlyTheirTier reads) are embedded into the binary: the build
#   adds mk/avx512_files_test.go.in to the package's external tests with -overlay (no
#   file is written into the package), and with MLASIMD_UNPACK_PKGFILES=1 its init
#   unpacks them into a temporary directory and changes into it before any test runs.
#
#   Bochs runs with ALSA_CONFIG_PATH=$(AVX512_OUT)/asound-null.conf (default PCM = the
#   null device): Debian's Bochs 2.7 loads the speaker plugin, and where ALSA cannot open
#   a sound card (no /dev/snd: containers, headless servers, the development machine) its
#   mixer thread memsets past its buffer ("*** buffer overflow detected ***", SIGABRT before the
#   guest boots, which the runner reports as "guest did not report an exit status").
AVX512_BOCHS   = $(TOOLS)/avx512/run-avx512-bochs.sh
AVX512_OUT    ?= $(CURDIR)/out/avx512
# per binary, boot included (the root package takes about 40 s, ./fuzz about 13 s)
AVX512_TIMEOUT ?= 600
# the Level the guest must select (MLASIMD_REQUIRE_ISA); anything else fails TestMain
AVX512_REQUIRE ?= avx512
# -d: the guest first prints the kernel's FPU/XSAVE lines and its /proc/cpuinfo flags
AVX512_RUNNER_FLAGS ?= -d
AVX512_FLAGS  ?= -test.short -test.count=1 -test.v
AVX512_PKGS   ?= root fuzz
avx512_pkg_root   = .
avx512_files_root = kernels_amd64.s impl_amd64.go README.md example_readme_test.go
avx512_pkg_fuzz   = ./fuzz
avx512_files_fuzz = testdata
# Extra test flags per package, for the shell (quote regexps), e.g.
#   make test-avx512-bochs AVX512_ARGS_root="-test.run '^TestDot\$$'"
# No test is skipped: the F16ToF32/BF16ToF32 tails load their words with a masked
# VMOVDQU16 and convert the register, because Bochs 2.7 faults on masked-off words of
# a masked VCVTPH2PS/VPMOVZXWD memory operand at a guard page (real AVX-512 CPUs do not).
AVX512_ARGS_root ?=
AVX512_ARGS_fuzz ?=

.PHONY: test-avx512 test-avx512-native test-avx512-bochs avx512-build

test-avx512-native:
	@if grep -qw avx512f /proc/cpuinfo 2>/dev/null && grep -qw avx512vl /proc/cpuinfo && \
	   grep -qw avx512bw /proc/cpuinfo && grep -qw avx512dq /proc/cpuinfo; then \
		echo "MLASIMD_REQUIRE_ISA=avx512 $(GO) test -count=1 . ./fuzz"; \
		MLASIMD_REQUIRE_ISA=avx512 $(GO) test -count=1 . ./fuzz; \
	else \
		echo "test-avx512-native: skipped: this CPU lacks AVX-512 F/VL/BW/DQ (see /proc/cpuinfo); the AVX-512 routines run only under Bochs here"; \
	fi

test-avx512: test-avx512-native
	@if [ ! -x "$(AVX512_BOCHS)" ]; then \
		echo "test-avx512: the AVX-512 tests under Bochs were NOT run: $(AVX512_BOCHS) is missing" >&2; \
		echo "  (TOOLS=$(TOOLS); CI has the tools at ../shared/tools; make TOOLS=/path/to/tools to point at a copy)" >&2; \
		case "$${CI:-}" in \
		""|0|false|FALSE|False) echo "test-avx512: not under CI, so this is not an error" >&2; exit 0 ;; \
		*) echo "test-avx512: FAIL: CI=$$CI, where the tools must exist" >&2; exit 1 ;; \
		esac; \
	fi; \
	$(MAKE) --no-print-directory test-avx512-bochs

# The generated overlay file is named zz_avx512_bochs_files_test.go inside the package
# directory, as the build sees it; package <name>_test, so that it joins the external tests.
define avx512_build_one
	@p=$(avx512_pkg_$1); name=$$($(GO) list -f '{{.Name}}' $$p) && dir=$$($(GO) list -f '{{.Dir}}' $$p) && \
	sed -e "s|@PKG@|$${name}_test|" -e 's|@FILES@|$(avx512_files_$1)|g' mk/avx512_files_test.go.in > $(AVX512_OUT)/$1_files_test.go.txt && \
	printf '{"Replace":{"%s":"%s"}}\n' "$$dir/zz_avx512_bochs_files_test.go" "$(AVX512_OUT)/$1_files_test.go.txt" > $(AVX512_OUT)/$1.overlay.json && \
	echo "CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) test -c -overlay $(AVX512_OUT)/$1.overlay.json -o $(AVX512_OUT)/$1.test $$p" && \
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) test -c -overlay $(AVX512_OUT)/$1.overlay.json -o $(AVX512_OUT)/$1.test $$p

endef

avx512-build:
	@mkdir -p $(AVX512_OUT)
	@printf 'pcm.!default {\n\ttype null\n}\n' > $(AVX512_OUT)/asound-null.conf
	@rm -f $(foreach p,$(AVX512_PKGS),$(AVX512_OUT)/$p.test)
	$(foreach p,$(AVX512_PKGS),$(call avx512_build_one,$p))

test-avx512-bochs: avx512-build
	@rc=0; sum=""; T0=$$(date +%s); \
	run() { p=$$1; shift; t0=$$(date +%s); \
		echo "=== AVX-512 under Bochs: $$p$${1:+ (flags $$*)}"; \
		echo "ALSA_CONFIG_PATH=$(AVX512_OUT)/asound-null.conf $(AVX512_BOCHS) $(AVX512_RUNNER_FLAGS) -t $(AVX512_TIMEOUT) -e MLASIMD_REQUIRE_ISA=$(AVX512_REQUIRE) -e MLASIMD_UNPACK_PKGFILES=1 $(AVX512_OUT)/$$p.test $(AVX512_FLAGS) $$*"; \
		if ALSA_CONFIG_PATH=$(AVX512_OUT)/asound-null.conf "$(AVX512_BOCHS)" $(AVX512_RUNNER_FLAGS) -t $(AVX512_TIMEOUT) -e MLASIMD_REQUIRE_ISA=$(AVX512_REQUIRE) -e MLASIMD_UNPACK_PKGFILES=1 \
			"$(AVX512_OUT)/$$p.test" $(AVX512_FLAGS) "$$@"; then r=ok; else r="FAIL (exit status $$?)"; rc=1; fi; \
		sum="$$sum|  $$p: $$r, $$(( $$(date +%s) - t0 ))s"; }; \
	$(foreach p,$(AVX512_PKGS),run $p $(AVX512_ARGS_$p);) \
	echo "=== AVX-512 under Bochs: summary ($$(( $$(date +%s) - T0 ))s)$$sum" | tr '|' '\n'; \
	exit $$rc
