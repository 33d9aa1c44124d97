# Molecule scenarios (podman + systemd), one pytest test per scenario, two at a time.
.PHONY: test-molecule image
TEST_TIERS += test-molecule

# Both Debian suites the scenarios run on (cached by recipe hash: a no-op once built)
image: setup
	@bash scripts/build-image.sh bookworm trixie

test-molecule: setup image
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/molecule
