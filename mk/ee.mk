# Execution environment for AWX / AAP (docs/execution-environment.md): build it, run playbooks/site.yml in it with
# ansible-navigator over SSH on two podman nodes, check the chain and a changed=0 second run.
.PHONY: ee ee-image
ee: setup
	@bash tests/ee/run-ee.sh

ee-image: setup
	@bash scripts/build-ee.sh

# The tier: about 3 minutes from nothing (docs/execution-environment.md), one test in the summary.
TEST_TIERS += test-ee
.PHONY: test-ee
test-ee: setup
	@bash tests/ee/run-ee.sh
