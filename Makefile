# The two commands: `make run` and `make test`. Everything else is a helper for them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
FAKE_PORT ?= 8765

.PHONY: run test lint venv migrate clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed

migrate: venv
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py createcachetable

# exec: the launcher replaces the recipe's shell, so a SIGTERM or Ctrl-C that make passes to its child reaches the
# launcher, which stops every process it started (a shell in between would die and leave them running).
run: migrate
	exec env DEBUG=1 PORT=$(PORT) FAKE_PORT=$(FAKE_PORT) $(BIN)/python -m orderrail.devserver

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 .data .pytest_cache
