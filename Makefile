# The whole set-up: `make leaflets` builds the catalog, `make test` runs the tests.
# Both first check the system packages (system-packages.txt; installed where we are root or may sudo,
# else a list of what is missing and the command that installs it), then create .venv and install
# careleaf into it the first time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: leaflets test test-fast check schema golden bench serve serve-training bench-desk docs clean require-build require-test

# The system check must finish before the venv is made (it may install python3-venv), and two apt-gets
# can't run at once: prerequisites are made one at a time, left to right, even under -j.
.NOTPARALLEL:

require-build:
	$(PYTHON) tools/require.py build

# The build's packages, the tests' packages, and the tests' npm packages (npm ci from package-lock.json).
require-test:
	$(PYTHON) tools/require.py test

leaflets: require-build $(STAMP)
	$(BIN)/python generate.py build

# Every test, on every core (pytest-xdist); test-fast leaves out the slow ones (subprocesses, kills, fuzzing).
test: require-test $(STAMP)
	$(BIN)/ruff check careleaf tests bench tools generate.py
	$(BIN)/python -m pytest -n auto

test-fast: require-test $(STAMP)
	$(BIN)/python -m pytest -n auto -m "not slow"

# The front desk on http://127.0.0.1:8000/ (this machine only). The sample wording awaits clinical
# approval, so its leaflets are shown but refused for patients: `make serve-training` prints them marked DRAFT.
serve: $(STAMP)
	$(BIN)/careleaf serve

serve-training: $(STAMP)
	$(BIN)/careleaf serve --training

check: $(STAMP)
	$(BIN)/python generate.py check

schema: $(STAMP)
	$(BIN)/python -m careleaf.content.schemas leaflets/schema

golden: $(STAMP)
	CARELEAF_REFRESH_GOLDEN=1 $(BIN)/python -m pytest tests/test_golden.py

bench: $(STAMP)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/run.py

# The front desk's numbers: one handout, a day's list, 1,000 emails, the web API under load.
bench-desk: $(STAMP)
	$(BIN)/python bench/desk.py

# The documentation site, in site/; --strict makes a broken link or a missing page an error.
docs: require-build $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[desk,postgres,test,docs]'
	touch $(STAMP)

clean:
	rm -rf out site $(VENV)
