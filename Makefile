# The two commands (CONTRACT.md): `make run` and `make test`, each from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench clean chromium screenshots catalogs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

# Prism (Twilio's API description as a local mock) for the contract tests. Without npm
# those tests are skipped, and say why.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the tests against Twilio's API description will be skipped"; fi

run: $(VENV)/.installed
	$(BIN)/puntada db upgrade
	$(BIN)/puntada demo
	HOST=$(HOST) PORT=$(PORT) $(BIN)/puntada serve

test: $(VENV)/.installed-test node_modules/.installed chromium
	$(BIN)/pytest $(PYTEST_ARGS)

# Debian's Chromium for the dashboard's browser tests: Playwright drives it and never
# downloads a browser of its own. apt-get update only when the plain install fails.
chromium:
	@test -x /usr/bin/chromium || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# The dashboard's screenshots in docs/screenshots/, taken by its browser test.
screenshots: $(VENV)/.installed-test chromium
	PUNTADA_SCREENSHOTS=1 $(BIN)/pytest -q tests/test_dashboard_browser.py

# The dashboard's gettext catalogs (docs/TRANSLATING.md): extract every text into the template,
# update each language's catalog from it, compile them. `make catalogs NEW=ay` first makes
# the catalog of a new language.
CATALOGS := templates/web/translations
catalogs: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project Puntada \
		--copyright-holder Puntada -o $(CATALOGS)/messages.pot .
	@if [ -n "$(NEW)" ]; then $(BIN)/pybabel init -i $(CATALOGS)/messages.pot -d $(CATALOGS) -l $(NEW); fi
	$(BIN)/pybabel update -i $(CATALOGS)/messages.pot -d $(CATALOGS) --no-fuzzy-matching --width 100
	$(BIN)/pybabel compile -d $(CATALOGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# The benchmark (bench/README.md): wrk from Debian's packages, the local PostgreSQL server,
# then every section; the figures land in bench/results/ and bench/README.md. Never part of test.
# The webhook is measured beside the reference app and beside BENCH_BEFORE, the last commit
# with the two paths (bot/hotpath.py), in the same run.
BENCH_BEFORE ?= 7c871ca
bench: $(VENV)/.installed-test
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
		pg_ctlcluster --skip-systemctl-redirect "$$(ls /etc/postgresql)" main start; \
		for _ in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	$(BIN)/python -m bench.run webhook --db sqlite --before $(BENCH_BEFORE)
	$(BIN)/python -m bench.run webhook --db postgresql --before $(BENCH_BEFORE)
	$(BIN)/python -m bench.run growth
	$(BIN)/python -m bench.run fanout --db sqlite
	$(BIN)/python -m bench.run fanout --db postgresql
	$(BIN)/python -m bench.run dispatch --db postgresql
	$(BIN)/python -m bench.run dispatch --db sqlite
	$(BIN)/python -m bench.run report

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
