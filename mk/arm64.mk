# arm64 tests under qemu-user: filled in by the NEON issue.
.PHONY: test-arm64
test-arm64:
	@echo "test-arm64: no NEON routines yet (issue 3)"
