# Benchmarks: not part of `make test` (tests never assert wall-clock times).
.PHONY: bench
bench: setup
	$(PY) bench/bench_modules.py
