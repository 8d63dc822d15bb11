# AVX-512 tests under Bochs: filled in by the AVX-512 issue.
.PHONY: test-avx512
test-avx512:
	@echo "test-avx512: no AVX-512 routines yet (issue 4)"
