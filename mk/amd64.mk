# amd64: the instructions that kernels_amd64.s writes as bytes (VDPBF16PS, which
# neither the Go assembler nor Avo knows), checked statically.
#
# asmcheck-amd64 assembles kernels_amd64.s with `go tool asm -S`, takes each BYTE
# line's assembled byte from the listing, disassembles every run of them with GNU
# objdump and fails unless the run decodes to exactly the instruction written in the
# comment before it (asm/gen/bytecheck_test.go; the same tests check that the check
# catches a wrong byte). GNU objdump (binutils) comes from apt when missing (CI runs as
# root; elsewhere sudo).
OBJDUMP ?= objdump

.PHONY: asmcheck-amd64 binutils

binutils:
	@command -v $(OBJDUMP) >/dev/null 2>&1 || { \
		echo "installing binutils for $(OBJDUMP)"; \
		$(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y binutils; }

asmcheck-amd64: binutils
	cd asm/gen && MLASIMD_REQUIRE_OBJDUMP=1 OBJDUMP=$(OBJDUMP) $(GO) test -count=1 -run 'Byte' .
