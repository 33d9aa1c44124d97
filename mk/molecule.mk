# Molecule scenarios (podman + systemd), one pytest test per scenario, two at a time.
.PHONY: test-molecule image
TEST_TIERS += test-molecule

image: setup
	@bash scripts/build-image.sh

test-molecule: setup image
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/molecule
