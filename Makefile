# Two commands: `make run` (start the app) and `make test` (the whole suite). Both create .venv if missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run app.py --server.address localhost

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not ray_cluster"
	$(BIN)/python -m pytest -q -m ray_cluster

clean:
	rm -rf $(VENV) .pytest_cache artifacts
