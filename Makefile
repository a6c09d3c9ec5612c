# The two set-up commands of the README: `make demo` and `make test`. Both create .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.falak-installed
TESTDATA ?= $(abspath ../shared/testdata)

.PHONY: install system-deps demo test lint typecheck bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

# Servers the tests start themselves (PostgreSQL) come from Debian's packages.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's postgresql for the archive tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries missing: run 'sudo apt-get install postgresql'"; exit 1; \
	  fi; \
	fi

test: system-deps lint typecheck
	$(VENV)/bin/pytest -q -p no:cacheprovider

JPSS := $(TESTDATA)/space_packet_parser/jpss
demo: install
	@mkdir -p demo-out
	@echo "== mission database: the JPSS-1 XTCE, as a tree"
	$(VENV)/bin/falak mdb show $(JPSS)/jpss1_geolocation_xtce_v1.xml
	@echo "== telemetry: decode 7,200 real packets to CSV"
	$(VENV)/bin/falak tm decode --mdb $(JPSS)/jpss1_geolocation_xtce_v1.xml \
	  --packets $(JPSS)/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1 --out demo-out/jpss.csv
	@echo "== archive: ingest them (raw first, durable), then export two parameters by time"
	rm -rf demo-out/archive
	$(VENV)/bin/falak archive ingest --mdb $(JPSS)/jpss1_geolocation_xtce_v1.xml \
	  --packets $(JPSS)/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1 --archive demo-out/archive
	$(VENV)/bin/falak archive stats --archive demo-out/archive
	$(VENV)/bin/falak archive export --archive demo-out/archive --parameters ADGPSPOSX,ADGPSPOSY \
	  --out demo-out/positions.csv
	@echo "== flight dynamics: the space station over Pakistani ground stations"
	$(VENV)/bin/falak passes --tle src/falak/missions/tiangong/css.tle --station Islamabad \
	  --station Karachi --start 2023-09-08T00:00:00Z --days 1
	@echo "== the Moon: Sun and Earth in the sky of a south-pole site"
	$(VENV)/bin/falak moon sky --site -89.9,0 --start 2028-01-01T00:00:00Z \
	  --stop 2028-01-02T00:00:00Z --step-minutes 240

bench: install
	$(PY) benchmarks/decode.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
