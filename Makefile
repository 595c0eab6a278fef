# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench clean system-packages

# Mosquitto (the broker) and its command-line clients, Chromium for the console's browser tests, and PostgreSQL
# for the PostgreSQL journal's tests (they start a server of their own with its initdb and pg_ctl), from Debian,
# when missing.
system-packages:
	@test -x /usr/sbin/mosquitto -a -x /usr/bin/mosquitto_pub -a -x /usr/bin/mosquitto_sub -a -x /usr/bin/chromium || { \
	  echo "installing mosquitto, mosquitto-clients and chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients chromium; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing postgresql"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP) system-packages
	$(VENV)/bin/redband demo --keep

test: $(STAMP) system-packages
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m benchmarks.core_throughput

clean:
	rm -rf $(VENV) .pytest_cache build dist
