.PHONY: demo
demo: setup
	@bash scripts/demo.sh
