# Delinquency risk scoring. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP_FLAGS := --disable-pip-version-check --no-input -q
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup train score explain report notebooks analyze train-taiwan test test-fast lint format bench bench-pycaret bench-flaml mlflow-server ui lock clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade "pip>=24"
	$(BIN)/python -m pip install $(PIP_FLAGS) -c requirements.lock -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the package with the locked dependency versions

train: setup ## Train on a freshly simulated loan book (see configs/train.yaml)
	$(BIN)/delinq train

explain: setup ## SHAP plots of the champion -> data/explain (LOAN=id adds a waterfall)
	$(BIN)/delinq explain $(if $(LOAN),--loan-id $(LOAN))

report: setup ## Self-contained HTML report of the champion -> data/report/report.html
	$(BIN)/delinq report

analyze: setup ## Portfolio analytics (aging, roll rates, bad rates) of a simulated book -> data/analysis
	$(BIN)/delinq analyze

score: setup ## Score a simulated 100k-account book with the champion -> data/scores/
	test -f data/book.parquet || $(BIN)/delinq make-book --rows 100000 --out data/book.parquet --seed 1
	$(BIN)/delinq score --input data/book.parquet

train-taiwan: setup ## Train on the real Taiwan data in ../shared/data (configs/taiwan.yaml)
	$(BIN)/delinq train --config configs/taiwan.yaml --data ../shared/data/taiwan_credit_default.csv

test: setup ## Run the test suite (lint included)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

test-fast: setup ## Tests without the end-to-end training ones
	$(BIN)/python -m pytest -m "not slow"

lint: setup ## Lint and check formatting
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup ## Fix lint and formatting in place
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: setup bench-flaml ## Run the benchmarks (~60 min); record results in docs/benchmarks.md
	$(BIN)/python benchmarks/datasets.py --modes quick full --flaml
	$(BIN)/python benchmarks/train_taiwan.py
	$(BIN)/python benchmarks/shap_speed.py
	$(BIN)/python benchmarks/protected.py
	$(BIN)/python benchmarks/scorecard.py
	$(BIN)/python benchmarks/panel.py
	test -d data/mlflow || $(MAKE) train   # scoring needs a champion
	$(BIN)/python benchmarks/score_book.py --rows 1000000 10000000 --repeats 2
	$(BIN)/python benchmarks/score_book.py --rows 5000000 --book taiwan --repeats 1
	$(BIN)/python benchmarks/score_spark.py --rows 10000000
	$(BIN)/python benchmarks/monitor_nights.py --rows 10000000
	$(BIN)/python benchmarks/arrears.py --accounts 100000 860000
	$(BIN)/python benchmarks/decide.py --rows 200000
	$(BIN)/python benchmarks/reject_inference.py

bench-pycaret: .bench-pycaret/bin/python ## Install PyCaret 3.3 (own venv) so `make bench` compares with it

bench-flaml: .bench-flaml/bin/python ## Install FLAML (own venv), the AutoML peer of benchmarks/datasets.py

.bench-flaml/bin/python:
	$(PYTHON) -m venv .bench-flaml
	.bench-flaml/bin/python -m pip install $(PIP_FLAGS) "flaml[automl]>=2.3,<3" pyarrow

.bench-pycaret/bin/python:
	$(PYTHON) -m venv .bench-pycaret
	.bench-pycaret/bin/python -m pip install $(PIP_FLAGS) pycaret==3.3.2 xgboost six

mlflow-server: setup ## Shared MLflow server on 127.0.0.1:5000, PostgreSQL backend (Ctrl-C stops)
	$(BIN)/delinq mlflow-server --port $(or $(PORT),5000)

ui: setup ## MLflow UI on http://127.0.0.1:5000 over the embedded store
	$(BIN)/mlflow ui --host 127.0.0.1 --port 5000 --backend-store-uri sqlite:///$(CURDIR)/data/mlflow/mlflow.db

lock: ## Re-resolve dependencies and rewrite requirements.lock (needs the package registry)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install $(PIP_FLAGS) ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^delinq' > requirements.lock
	rm -rf .lock-venv

clean: ## Remove the venv, caches and local outputs (keeps nothing under data/)
	rm -rf $(VENV) .bench-pycaret .bench-flaml .pytest_cache .ruff_cache .hypothesis data *.egg-info
