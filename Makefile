# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo studies test test-fast bench bench-quick lint format clean

# Re-install when pyproject.toml changes; the stamp keeps repeat runs instant.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray,mnist5k]'
	touch $(STAMP)

venv: $(STAMP)

# A real search on the shipped noisy-label recipe (digits, 40 % of the labels wrong), then the
# best loss against cross-entropy and two robust baselines, trained in full (README, Quick start).
demo: $(STAMP)
	$(VENV)/bin/keras-taylorglo search recipes/digits_noisy.toml --overwrite
	$(VENV)/bin/keras-taylorglo analyze runs/digits_noisy --runs 5 \
		--baselines crossentropy,label_smoothing:0.1,gce:0.7

# The evidence of the README's "Studies" (a few hours on 2 CPU cores; resumes where it stopped).
studies: $(STAMP)
	bash docs/studies/run.sh

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
