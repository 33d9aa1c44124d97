# Benchmarks: not part of `make test` (tests never assert wall-clock times).
.PHONY: bench
bench: setup
	$(PY) bench/bench_modules.py

# The host program: whole runs of bin/ip-masq-agent sync (as the timer starts them) against the floor of one Python
# start plus one iptables-save, as ratios measured in the same run; needs root (a private network namespace).
.PHONY: bench-host
bench-host: setup
	$(PY) bench/bench_host.py

# The role on a fleet (issue 12): converge, no-op re-runs and a ping play on the same podman hosts, in one run, as
# ratios to the ping play, with module executions per host. Needs the test image (make image).
.PHONY: bench-fleet
bench-fleet: setup image
	flock /tmp/ipmasq-heavy.lock $(PY) bench/bench_fleet.py --tasks
