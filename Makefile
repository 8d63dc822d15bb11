# mlasimd: `make run` (the MLA decode demo and kernel report) and `make test` (what CI runs).
GO ?= go
TOOLS ?= ../shared/tools
FUZZTIME ?= 30s
# An execution count, not a duration: a duration-bounded run can end in a spurious
# "context deadline exceeded" failure when a worker is busy at the deadline.
FUZZ_SHORT ?= 10000x
export GOFLAGS ?=

.PHONY: run test gen gen-check fmt-check vet test-go test-purego test-race fuzz fuzz-short bench

# bench/ is its own module (gonum and gonum/plot stay out of the root go.mod); the
# report's pictures still go to out/ at the root.
run:
	cd bench && $(GO) run ./demo
	cd bench && $(GO) run ./report -out ../out

# test is what .ci/run runs: static checks, generated code up to date, every package on
# every Level this CPU has, the purego build, a short fuzz run of every target, and the
# other ISAs under emulation (arm64 under qemu-user, AVX-512 under Bochs).
test: fmt-check vet gen-check asmcheck-amd64 test-go test-purego test-race fuzz-short test-examples test-arm64 test-avx512

# gen writes, from the routine spec (internal/spec), the assembly and its stubs (Avo
# for amd64, asm/gen/arm64 for NEON) and the Go wiring (asm/gen/wire).
GENERATED = kernels_amd64.s stubs_amd64.go kernels_arm64.s stubs_arm64.go \
	primitives_gen.go impl_amd64.go impl_arm64.go

gen:
	cd asm/gen && $(GO) generate ./...

gen-check: gen
	@git diff --exit-code -- $(GENERATED) && \
		untracked=$$(git ls-files --others --exclude-standard -- $(GENERATED)) && [ -z "$$untracked" ] || \
		{ echo "generated files are stale: run 'make gen' and commit them"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	GOARCH=amd64 $(GO) vet ./...
	GOARCH=amd64 $(GO) vet -tags purego ./...
	GOARCH=arm64 $(GO) vet ./...
	GOARCH=arm64 $(GO) vet -tags purego ./...
	@# architectures and systems without assembly build the generic Level only
	GOARCH=riscv64 $(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...
	cd asm/gen && $(GO) vet ./...
	cd bench && GOARCH=amd64 $(GO) vet ./...
	cd bench && GOARCH=arm64 $(GO) vet ./...

test-go:
	$(GO) test -count=1 ./...
	cd bench && $(GO) test -count=1 ./...

test-purego:
	$(GO) test -count=1 -tags purego ./...

test-race:
	$(GO) test -count=1 -race -short ./mla/...

# fuzz-short runs every fuzz target for FUZZ_SHORT executions; fuzz runs each for FUZZTIME.
fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SHORT)

# The kernel and parser targets live in ./fuzz; internal/strictjson has the strict
# JSON reader's.
FUZZ_PKGS ?= ./fuzz ./internal/strictjson

fuzz:
	@for p in $(FUZZ_PKGS); do \
		for f in $$($(GO) test -list 'Fuzz.*' $$p | grep '^Fuzz'); do \
			echo "fuzz $$p $$f for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

bench:
	cd bench && $(GO) test -run '^$$' -bench . .

include mk/*.mk
