# The README's two commands: `make demo` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PEOPLE ?= 10000

.PHONY: demo test lint bench install clean

$(BIN)/tongban $(VENV)/.installed: pyproject.toml requirements.lock
	bash scripts/install.sh

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/tongban demo --port $(PORT) --people $(PEOPLE)

test: $(VENV)/.installed
	bash scripts/test.sh

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed
	bash scripts/bench.sh

clean:
	rm -rf var/test .mypy_cache .ruff_cache
