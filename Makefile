# carematch: two commands, `make serve` and `make test`; everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INDEX  := indexes/default
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: serve test test-fast install index browser bench bench-quick eval clean messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(INDEX)/manifest.json: | $(STAMP)
	$(BIN)/carematch index

## index: (re)build indexes/default from corpus/
index: $(STAMP)
	$(BIN)/carematch index

## serve: build what is missing, then start the server on http://$(HOST):$(PORT)/
serve: $(STAMP) $(INDEX)/manifest.json
	$(BIN)/carematch serve --host $(HOST) --port $(PORT)

## browser: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); \
	  else echo "browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; \
	fi

## test: the whole suite (unit, reliability, HTTP over a real server, browser)
test: $(STAMP) browser
	$(BIN)/python -m pytest -q

## test-fast: everything but the browser and reliability tests
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not browser and not reliability"

## eval: the shared dev set's figures
eval: $(STAMP) $(INDEX)/manifest.json
	$(BIN)/python ../shared/eval/score.py ../shared/eval/dev_queries.tsv

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) indexes/default indexes/default.* .pytest_cache

## messages: the web page's strings (Babel): extract them, update every catalog, compile the .mo files
messages: $(STAMP)
	$(BIN)/pybabel extract -F search/server/babel.cfg -o search/server/locale/messages.pot \
	  --project=carematch --version=0.1.0 --copyright-holder="carematch engineers" --sort-by-file --width=100 \
	  search/server
	$(BIN)/pybabel update -i search/server/locale/messages.pot -d search/server/locale -D messages \
	  --ignore-obsolete --width=100
	$(BIN)/pybabel compile -d search/server/locale -D messages --statistics
