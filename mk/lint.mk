.PHONY: test-lint test-changelog
TEST_TIERS += test-lint test-changelog

test-lint: setup
	$(VENV)/bin/ansible-lint --profile production --offline

test-changelog: setup
	$(VENV)/bin/antsibull-changelog lint
