# The whole set-up: `make leaflets` builds the catalog, `make test` runs the tests.
# Both create .venv and install careleaf into it the first time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: leaflets test test-fast check schema golden bench serve serve-training bench-desk clean

leaflets: $(STAMP)
	$(BIN)/python generate.py build

# Every test, on every core (pytest-xdist); test-fast leaves out the slow ones (subprocesses, kills, fuzzing).
test: $(STAMP)
	$(BIN)/ruff check careleaf tests bench generate.py
	$(BIN)/python -m pytest -n auto

test-fast: $(STAMP)
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
	$(BIN)/python -m careleaf.editor_schemas leaflets/schema

golden: $(STAMP)
	CARELEAF_REFRESH_GOLDEN=1 $(BIN)/python -m pytest tests/test_golden.py

bench: $(STAMP)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/run.py

# The front desk's numbers: one handout, a day's list, 1,000 emails, the web API under load.
bench-desk: $(STAMP)
	$(BIN)/python bench/desk.py

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[desk,test]'
	touch $(STAMP)

clean:
	rm -rf out $(VENV)
