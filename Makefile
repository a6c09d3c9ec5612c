# The two set-up commands of the README: `make demo` and `make test`. Both create .venv.
# `make tour` is the older tour of single CLI commands, one after the other.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.falak-installed

.PHONY: install system-deps demo tour test lint typecheck bench clean

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

# Servers the tests start themselves (PostgreSQL) and the browser the console's tests drive
# (Chromium) come from Debian's packages.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's postgresql for the archive tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL server binaries missing: run 'sudo apt-get install postgresql'"; exit 1; \
	  fi; \
	fi
	@if ! [ -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium for the console's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium missing: run 'sudo apt-get install chromium' (never 'playwright install')"; exit 1; \
	  fi; \
	fi

test: system-deps lint typecheck
	$(VENV)/bin/pytest -q -p no:cacheprovider

JPSS := tests/data/space_packet_parser/jpss
FALAK := $(VENV)/bin/falak
# The ground segment in one command: the server on an embedded archive and the station
# simulator on loopback, flying a campaign stack; Ctrl-C stops everything (docs/ground-segment.md).
demo: install
	@echo "== falak demo: the ground segment (server + Tiangong simulator). Stop it with Ctrl-C."
	$(FALAK) demo

# The tour runs on what ships with falak (the station's TLE, the synthetic south pole, the
# campaign generator, the lunar gravity field) and on the real JPSS-1 packets in tests/data.
tour: install
	@mkdir -p demo-out
	@set -e; \
	  echo "== mission database: the JPSS-1 XTCE, as a tree"; \
	  $(FALAK) mdb show $(JPSS)/jpss1_geolocation_xtce_v1.xml; \
	  echo "== telemetry: decode 7,200 real packets to CSV"; \
	  $(FALAK) tm decode --mdb $(JPSS)/jpss1_geolocation_xtce_v1.xml \
	    --packets $(JPSS)/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1 --out demo-out/jpss.csv; \
	  echo "== archive: ingest them (raw first, durable), then export two parameters by time"; \
	  rm -rf demo-out/archive; \
	  $(FALAK) archive ingest --mdb $(JPSS)/jpss1_geolocation_xtce_v1.xml \
	    --packets $(JPSS)/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1 --archive demo-out/archive \
	    --packet-time cds:DOY,MSEC,USEC; \
	  $(FALAK) archive stats --archive demo-out/archive; \
	  $(FALAK) archive export --archive demo-out/archive --parameters ADGPSPOSX,ADGPSPOSY \
	    --out demo-out/positions.csv
	@echo "== Tiangong: the station over Pakistani ground stations"
	$(FALAK) passes --tle src/falak/missions/tiangong/css.tle --station Islamabad \
	  --station Karachi --start 2023-09-08T00:00:00Z --days 1
	@echo "== Tiangong: a 3-day payload campaign, planned, checked and drawn (demo-out/plan.html)"
	$(FALAK) campaign generate --days 3 --experiments 12 --seed 1 --out demo-out/campaign.yaml
	$(FALAK) campaign plan demo-out/campaign.yaml --out demo-out/plan.json --time-limit 10
	$(FALAK) campaign check demo-out/campaign.yaml demo-out/plan.json
	$(FALAK) campaign gantt demo-out/plan.json --out demo-out/plan.html
	@echo "== the rover: Sun and Earth in the sky of a south-pole site"
	$(FALAK) moon sky --site -89.9,0 --start 2028-01-01T00:00:00Z \
	  --stop 2028-01-02T00:00:00Z --step-minutes 240
	@echo "== the rover: synthetic terrain at the pole and a traverse (demo-out/route.png)"
	$(FALAK) terrain synth --out demo-out/dem.tif --size 200 --resolution-m 0.5 \
	  --center -90,0 --seed 2
	$(FALAK) traverse plan --dem demo-out/dem.tif --start -40,-40 --goal 40,40 \
	  --depart 2028-01-10T00:00Z --hours 48 --autonomous --out demo-out/route.geojson \
	  --png demo-out/route.png
	@echo "== the orbiter: a 12 h lunar-polar orbit and its contacts with Karachi"
	$(FALAK) orbiter contacts --elements 6142.4,0.6846,90,0,270,0 --frame MOON_PA \
	  --epoch 2028-09-18T00:00:00Z --days 1 --station Karachi

bench: install
	$(PY) benchmarks/decode.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache
