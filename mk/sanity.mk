# ansible-test on a copy of the collection at /tmp/ipmasq-ansible-test/ansible_collections/ipmasq/agent.
.PHONY: test-sanity test-ansible-units
TEST_TIERS += test-sanity test-ansible-units

test-sanity: setup
	bash scripts/ansible-test.sh sanity --venv --python 3.11

# ansible-test units runs tests/unit with its own pytest; it must find tests (exit 5 is a failure here).
test-ansible-units: setup
	bash scripts/ansible-test.sh units --venv --python 3.11 --requirements
