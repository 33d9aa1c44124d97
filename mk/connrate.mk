# Benchmark for the nftables backend: new-connection rate through a masquerading node, chain vs set.
.PHONY: bench-connrate
bench-connrate: setup
	$(PY) bench/bench_connrate.py --seconds 3
