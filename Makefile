# Hospes: `make run` and `make test` are the whole set-up (CONTRACT.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCALE := src/hospes/locale

.PHONY: run test lint bench bench-smoke clean translations

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/pybabel compile -d $(LOCALE) >/dev/null
	touch $(STAMP)

# `make run PORT=8123 HOST=0.0.0.0`: the issuer follows the port unless HOSPES_ISSUER (or a HOSPES_CONFIG
# file) says otherwise.
PORT ?= 8000
HOST ?= 127.0.0.1

run: $(STAMP)
	$(BIN)/hospes db upgrade
	@if [ -z "$$HOSPES_ISSUER" ] && [ -z "$$HOSPES_CONFIG" ]; then export HOSPES_ISSUER=http://127.0.0.1:$(PORT); fi; \
		exec $(BIN)/hospes serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy src

# The JavaScript relying-party libraries some tests drive (tests/js/package-lock.json), when npm is here;
# without node those tests skip.
JS_STAMP := tests/js/node_modules/.installed
$(JS_STAMP): tests/js/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/js --no-audit --no-fund --silent && touch $(JS_STAMP); \
		else echo "npm not found: the JavaScript client tests will skip"; fi

# The whole suite on SQLite, then again on PostgreSQL when HOSPES_TEST_DATABASE_URL names one (the tests that
# use a database; tests/conftest.py pytest_collection_modifyitems). The slowest tests are listed after each pass.
test: $(STAMP) $(JS_STAMP) lint
	$(BIN)/pytest -q -n 2 -p no:cacheprovider --durations=15
	@if [ -n "$$HOSPES_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$HOSPES_TEST_DATABASE_URL)"; \
		HOSPES_TEST_BACKEND=postgresql $(BIN)/pytest -q -n 2 -p no:cacheprovider --durations=15; \
	fi

# Hospes beside oidc-provider (../shared/peers/oidc-provider); see README "Performance".
bench: $(STAMP)
	$(BIN)/python bench/run.py

bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --quick

# Translations (docs/BRANDING.md): the strings of the code and templates into messages.pot, merged into every
# language's messages.po (translate what is new there), compiled to the messages.mo files the server reads. The .mo
# files are committed too, and compiled again at install; tests/web/test_translations.py checks they are current.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output --project=Hospes \
		--copyright-holder=Hospes -o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(LOCALE) --statistics

clean:
	rm -rf $(VENV) var
