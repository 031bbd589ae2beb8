# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED = 0

.PHONY: install run down status test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dsql-ray up

down: install
	$(BIN)/dsql-ray down

status: install
	$(BIN)/dsql-ray status

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python loadtests/bench_transport.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
