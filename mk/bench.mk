# Benchmarks: not part of `make test` (tests never assert wall-clock times).
.PHONY: bench
bench: setup
	$(PY) bench/bench_modules.py

# The host program: whole runs of bin/ip-masq-agent sync (as the timer starts them) against the floor of one Python
# start plus one iptables-save, as ratios measured in the same run; needs root (a private network namespace).
.PHONY: bench-host
bench-host: setup
	$(PY) bench/bench_host.py
