# PDF Compare - developer and operator entry points. `make help` lists them.
#
# The two commands a newcomer needs (as root on Debian 12/13):
#   make lab    - build what is missing, start the 8 lab hosts, deploy site.yml, show what runs where
#   make test   - lint + pytest + every Molecule scenario on Debian 13, the lighter proofs on 12 (CI)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PYTHON    ?= python3
BIN       := $(CURDIR)/$(VENV)/bin
LABCTL    := $(BIN)/python tests/lab/labctl.py
INVENTORY ?= inventories/lab/hosts.yml
# Debian release of the lab hosts (13 = trixie, 12 = bookworm).
LAB_DEBIAN ?= 13
# Debian releases every Molecule scenario runs on; 12's light runs go first, so a release
# difference fails a CI run early.
MOLECULE_DEBIAN ?= 12 13
# Scenarios to run; default: every folder under molecule/.
SCENARIOS ?= $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

export PATH := $(BIN):$(PATH)
export LAB_DEBIAN
export ANSIBLE_FORCE_COLOR ?= 0
export PY_COLORS ?= 0
export NO_COLOR ?= 1

.PHONY: help venv lab-prepare lab-secrets lab-doubles lab lab-up lab-deploy lab-status lab-down \
        test test-extended test-deps lint pytest molecule bench lock clean

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "installing python3-venv from Debian"; rm -rf $(VENV); \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## Create the venv with the app and the deployment/test tools

lab-prepare: venv ## Docker engine, apt cache and the base images (built only when their recipe changed)
	$(LABCTL) prepare -d $(sort $(LAB_DEBIAN) $(MOLECULE_DEBIAN))


lab-secrets: venv ## Create the lab's random secrets (ansible-vault; adds missing ones, keeps the rest)
	$(LABCTL) secrets

lab-up: venv ## Start the lab hosts (systemd containers), preparing what they need
	$(LABCTL) prepare -d $(LAB_DEBIAN)
	$(LABCTL) up -i $(INVENTORY)

# Ollama and Grafana cannot be downloaded here: the lab installs test doubles of both through the
# roles' local-artifact path (inventories/lab/group_vars/all/lab.yml).
lab-doubles: venv
	$(BIN)/python -m tests.doubles.ollama_archive --out .cache/lab >/dev/null
	$(BIN)/python -m tests.doubles.grafana_deb --out .cache/lab >/dev/null

lab-deploy: lab-secrets lab-doubles ## Run site.yml against the lab
	ansible-playbook -i $(INVENTORY) site.yml

lab-status: ## Show the lab hosts, their addresses and groups
	$(LABCTL) status -i $(INVENTORY)

lab: lab-up lab-deploy lab-status ## Build what is missing, start the lab, deploy site.yml, show what runs

lab-down: ## Remove the lab hosts and their network
	$(LABCTL) down -i $(INVENTORY)

lint: venv ## yamllint, ansible-lint (production profile), ruff
	yamllint --strict .
	ansible-lint
	ruff check app tests molecule

# Debian packages the tests run for real: OCR for the engine; PostgreSQL + PostGIS, PgBouncer and
# Redis started by tests/service/ on loopback ports; Chromium driven by Playwright (never a
# downloaded browser); promtool (package prometheus) checks and unit-tests the alert rules.
TEST_PACKAGES ?= tesseract-ocr tesseract-ocr-eng postgresql postgresql-postgis pgbouncer redis-server \
                 chromium fonts-liberation prometheus

test-deps: ## Install the Debian packages the tests need (only the missing ones)
	@missing=""; for pkg in $(TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

pytest: venv test-deps ## Unit and integration tests (fails when no test is collected)
	rc=0; pytest || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# CI's budget (75 minutes for `make test`) decides what runs where; docs/testing.md lists what each
# run skips and `make test-extended` runs all of it.
# - Every scenario runs its full sequence on Debian 13.
# - MOLECULE_LIGHT_VERIFY: on Debian 12, converge and the verify tests marked `light` (database:
#   one automatic failover on Patroni 3.0 / etcd 3.4 / HAProxy 2.6, where 12 differs the most).
# - MOLECULE_LIGHT: on Debian 12, converge only (the release's package names, versions, configs);
#   `MOLECULE_LIGHT="12:monitoring 12:web 12:ollama" MOLECULE_SKIP=12:common make molecule`.
# - MOLECULE_SKIP: not run by `make test` (CI measured 75 min with 12:monitoring light in it);
#   `make test-extended` runs them. Role common runs in every other scenario's converge; the other
#   roles differ little between releases (docs/testing.md).
# - MOLECULE_PYTEST_MARKERS: verify tests left to `make test-extended` (the slow database cases:
#   a member added by inventory, a two-member cluster).
MOLECULE_LIGHT_VERIFY ?= 12:database
MOLECULE_LIGHT_VERIFY_SEQUENCE := destroy create prepare converge verify destroy
MOLECULE_LIGHT ?=
MOLECULE_LIGHT_SEQUENCE := destroy create prepare converge destroy
MOLECULE_SKIP ?= 12:common 12:monitoring 12:web 12:ollama
MOLECULE_PYTEST_MARKERS ?= not extended

molecule: venv lab-secrets ## Every Molecule scenario on every Debian release of MOLECULE_DEBIAN
	$(LABCTL) prepare -d $(MOLECULE_DEBIAN)
	@for debian in $(MOLECULE_DEBIAN); do \
	  for scenario in $(SCENARIOS); do \
	    start=$$(date +%s); \
	    if [[ " $(MOLECULE_SKIP) " == *" $$debian:$$scenario "* ]]; then \
	      echo "=== $$scenario on Debian $$debian: skipped (MOLECULE_SKIP; make test-extended runs it) ==="; \
	      continue; \
	    elif [[ " $(MOLECULE_LIGHT_VERIFY) " == *" $$debian:$$scenario "* ]]; then \
	      echo "=== molecule $(MOLECULE_LIGHT_VERIFY_SEQUENCE) -s $$scenario (Debian $$debian, light, -m light) ==="; \
	      for step in $(MOLECULE_LIGHT_VERIFY_SEQUENCE); do \
	        PYTEST_ADDOPTS="-m light" LAB_DEBIAN=$$debian molecule $$step -s $$scenario || { \
	          LAB_DEBIAN=$$debian molecule destroy -s $$scenario; exit 1; }; \
	      done; \
	    elif [[ " $(MOLECULE_LIGHT) " == *" $$debian:$$scenario "* ]]; then \
	      echo "=== molecule $(MOLECULE_LIGHT_SEQUENCE) -s $$scenario (Debian $$debian, light) ==="; \
	      for step in $(MOLECULE_LIGHT_SEQUENCE); do \
	        LAB_DEBIAN=$$debian molecule $$step -s $$scenario || { \
	          LAB_DEBIAN=$$debian molecule destroy -s $$scenario; exit 1; }; \
	      done; \
	    else \
	      echo "=== molecule test -s $$scenario (Debian $$debian$(if $(MOLECULE_PYTEST_MARKERS),, all tests)) ==="; \
	      PYTEST_ADDOPTS="$(if $(MOLECULE_PYTEST_MARKERS),-m '$(MOLECULE_PYTEST_MARKERS)')" \
	        LAB_DEBIAN=$$debian molecule test -s $$scenario; \
	    fi; \
	    echo "=== $$scenario on Debian $$debian passed in $$(( $$(date +%s) - start ))s ==="; \
	  done; \
	done

test-extended: ## What `make test` leaves out for CI's budget: every scenario in full on 13 and 12, every test
	$(MAKE) molecule MOLECULE_LIGHT= MOLECULE_LIGHT_VERIFY= MOLECULE_SKIP= MOLECULE_PYTEST_MARKERS=

# pytest includes a test of the lab harness that needs Docker and the base images: `make test`
# prepares them first and makes that test fail, not skip, if they are missing.
test: export PDFCOMPARE_REQUIRE_LAB = 1
test: export PDFCOMPARE_REQUIRE_SERVICES = 1
test: lint lab-prepare pytest molecule ## Everything CI runs

# Peers of the engine benchmark, each in its own venv under .cache/peers/ (docs/benchmarks.md).
BENCH_PEERS ?= kogo==0.1.7 pdf-diff==0.9.3 pdfdelta==0.1.4

bench: venv ## Engine benchmark: pdfcompare against kogo, pdf-diff, pdfdelta (figures for docs/benchmarks.md)
	@command -v pdftotext >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils; }
	@for peer in $(BENCH_PEERS); do \
	  name=$${peer%%==*}; \
	  [ -x .cache/peers/$$name/bin/python ] || { \
	    echo "creating .cache/peers/$$name ($$peer)"; \
	    $(PYTHON) -m venv .cache/peers/$$name && .cache/peers/$$name/bin/pip install --quiet "$$peer"; }; \
	done
	$(BIN)/python tests/benchmarks/bench_engine.py --json .cache/bench/results.json

lock: venv ## Re-pin the app's dependencies (app/requirements.lock, for Python 3.11 and 3.13)
	uv pip compile pyproject.toml --universal --python-version 3.11 --no-header \
	  --annotation-style line -o app/requirements.lock

clean: lab-down ## Remove the lab, the venv and caches (keeps base images and the apt cache)
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
