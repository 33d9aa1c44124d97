# Data-path (real traffic through namespaces) and reliability tiers, and the report made from them.
.PHONY: test-datapath test-reliability reliability-report
TEST_TIERS += test-datapath test-reliability

test-datapath: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/datapath

test-reliability: setup
	$(PY) -m pytest -q -p no:cacheprovider -n 2 tests/reliability

reliability-report: setup
	rm -rf tests/output/reliability
	-$(MAKE) --no-print-directory test-datapath test-reliability
	$(PY) tests/reliability/report.py
