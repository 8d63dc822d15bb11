# test-examples builds and runs the programs under examples/ as an outside user would:
# each is its own module whose go.mod replaces github.com/mlasimd/mlasimd with this
# checkout, so it sees only the exported API. Needs no network (go.sum is committed).
EXAMPLES := decode

.PHONY: test-examples
test-examples:
	@for e in $(EXAMPLES); do \
		echo "examples/$$e: vet, run, run on the generic Level"; \
		(cd examples/$$e && $(GO) vet . && $(GO) run . -tokens 4 && MLASIMD_ISA=generic $(GO) run . -tokens 2) || exit 1; \
	done
