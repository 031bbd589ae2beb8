# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED = 0

.PHONY: install run down status test bench clean

# Java and the PostgreSQL JDBC driver, for tests/integration/test_jdbc.py: Debian's
# packages, installed when missing and we are root (CI is); otherwise that test says so.
JDBC_JAR = /usr/share/java/postgresql.jar

$(STAMP): pyproject.toml
	@if ! command -v java >/dev/null || ! test -f $(JDBC_JAR); then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      default-jre-headless libpostgresql-jdbc-java >/dev/null; \
	  else echo "note: java or $(JDBC_JAR) missing: the JDBC test will fail"; fi; fi
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
