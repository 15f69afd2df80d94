# Two commands on a fresh machine: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ecrwise demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Headless Chromium (Debian's package) for the HTML report test; installed when missing and we are root.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# The scan benchmark's baselines run from virtualenvs of their own (the AWS CLI pins botocore).
.venv-bench-awscli/bin/aws:
	$(PYTHON) -m venv .venv-bench-awscli
	.venv-bench-awscli/bin/pip install --quiet awscli

.venv-bench-c7n/bin/custodian:
	$(PYTHON) -m venv .venv-bench-c7n
	.venv-bench-c7n/bin/pip install --quiet c7n

bench: $(STAMP) .venv-bench-awscli/bin/aws .venv-bench-c7n/bin/custodian
	$(BIN)/python bench/scan_bench.py
	$(BIN)/python bench/lifecycle_bench.py

clean:
	rm -rf $(VENV) .venv-bench-awscli .venv-bench-c7n build *.egg-info src/*.egg-info .pytest_cache
