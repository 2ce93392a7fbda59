# The one entry point: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export BENTOML_DO_NOT_TRACK := true

PYTHON := .venv/bin/python
RUN := $(PYTHON)
# The interpreter .venv is made with: the Pipfile's python_version.
PYTHON_FOR_VENV ?= $(shell command -v python3.11 || command -v python3)
# The lock of every transitive dependency, with hashes (`make lock`; requirements/).
LOCK := requirements/development.txt
DATA := healthcare-dataset-stroke-data.csv
PORT ?= 3000
APP_PORT ?= 8501
# Debian packages by what needs them (`make system-deps APT_GROUPS="browser container"`; all
# groups by default: what the whole test suite needs). docs/operators/installing.md.
APT_GROUP_node := nodejs npm
APT_GROUP_lint := shellcheck
APT_GROUP_browser := chromium
APT_GROUP_pdf := poppler-utils
APT_GROUP_container := buildah podman skopeo docker-registry runc debootstrap curl
APT_GROUP_aws := awscli jq
APT_GROUP_bench := wrk valgrind
APT_GROUPS ?= node lint browser pdf container aws bench
# Seconds to wait for another apt/dpkg process (unattended upgrades on a fresh machine).
APT_LOCK_TIMEOUT ?= 600

.PHONY: help install lock node-deps clients system-deps data train validate validate-external update-model simulate-cohort cohort-from-fhir train-if-needed serve app run screenshots test test-fast test-release lint format bench notebooks loadtest publish deploy container-test clean score-population audit sbom

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

install: .venv/.installed ## Create .venv with exactly the locked packages, hash-checked

# pip, not pipenv or uv, installs: it honours the machine's pip configuration (index,
# certificates), and --require-hashes refuses any file whose sha256 the lock lacks.
.venv/.installed: $(LOCK) Pipfile requirements/serving.in pyproject.toml
	@$(PYTHON_FOR_VENV) scripts/supply_chain/lock_dependencies.py --check
	@test -x $(PYTHON) || $(PYTHON_FOR_VENV) -m venv .venv
	@echo "Installing the $$(grep -c '^[a-zA-Z0-9]' $(LOCK)) locked Python packages into .venv, hash-checked (a few minutes on a fresh machine)..."
	@scripts/with_heartbeat.sh "installing the locked packages" \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	@# The project itself, editable; its build backend (setuptools) is in the lock.
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@$(PYTHON) scripts/supply_chain/locked_environment.py check $(LOCK) \
		|| { echo "error: .venv holds packages the lock does not: rm -rf .venv && make install"; exit 1; }
	@touch $@

lock: ## Re-lock requirements/ after a pin change in the Pipfile or serving.in (UPGRADE=1: all)
	$(PYTHON_FOR_VENV) scripts/supply_chain/lock_dependencies.py $(if $(UPGRADE),--upgrade)

node-deps: node_modules/.installed ## Install the pinned npm tools (package.json, package-lock.json)

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is missing: run \`make system-deps APT_GROUPS=node\` as root (or apt-get install nodejs npm)"; exit 1; }
	npm ci --ignore-scripts
	@touch $@

CLIENTS := clients
# The typed clients generated from the service's own OpenAPI document; not committed.
clients: install node-deps train-if-needed ## Generate the Python client and TypeScript types into clients/
	@mkdir -p $(CLIENTS)
	$(RUN) service.py --openapi > $(CLIENTS)/openapi.json
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/openapi-python-client generate --overwrite \
		--path $(CLIENTS)/openapi.json --meta none --output-path $(CLIENTS)/python/stroke_risk_client
	node_modules/.bin/openapi-typescript $(CLIENTS)/openapi.json -o $(CLIENTS)/typescript/stroke-risk.ts
	@echo "Python: $(CLIENTS)/python/stroke_risk_client  TypeScript: $(CLIENTS)/typescript/stroke-risk.ts"

system-deps: ## Install the Debian packages the tests need (as root; APT_GROUPS=...; waits for apt)
	@scripts/install_system_packages.sh --lock-timeout $(APT_LOCK_TIMEOUT) $(SYSTEM_DEPS_OPTIONS) \
		$(foreach group,$(APT_GROUPS),$(APT_GROUP_$(group)))

data: $(DATA) ## Get the data set (copied from STROKE_DATA if set, else downloaded), sha256-checked

$(DATA): | .venv/.installed
	$(RUN) -m stroke_risk.training.dataset

train: install $(if $(COHORT),,data) ## Train, compare and calibrate; save the winner (COHORT=file HORIZON=5: a cohort's N-year model)
ifdef COHORT
	$(RUN) training.py --cohort "$(COHORT)" $(if $(HORIZON),--horizon $(HORIZON))
else
	$(RUN) training.py --data $(DATA)
endif

validate-external: install ## Validate a stored model on a cohort (MODEL=tag COHORT=file): reports/external/
	@test -n "$(MODEL)" -a -n "$(COHORT)" || { echo "usage: make validate-external MODEL=stroke_risk_model:TAG COHORT=cohort.csv"; exit 2; }
	$(RUN) training.py --cohort "$(COHORT)" --validate-external "$(MODEL)" $(if $(HORIZON),--horizon $(HORIZON))

update-model: install ## Update a stored model for a cohort by the closed test; saves a new version (MODEL=tag COHORT=file)
	@test -n "$(MODEL)" -a -n "$(COHORT)" || { echo "usage: make update-model MODEL=stroke_risk_model:TAG COHORT=cohort.csv"; exit 2; }
	$(RUN) training.py --cohort "$(COHORT)" --update "$(MODEL)" $(if $(HORIZON),--horizon $(HORIZON))

cohort-from-fhir: install ## A cohort CSV from a FHIR Bulk Data export (INPUT=dir INDEX_DATE=2018-01-01 OUTPUT=file)
	@test -n "$(INPUT)" -a -n "$(INDEX_DATE)" -a -n "$(OUTPUT)" || { echo "usage: make cohort-from-fhir INPUT=export/ INDEX_DATE=2018-01-01 OUTPUT=cohort.csv"; exit 2; }
	$(RUN) -m stroke_risk.fhir.cohort_export --input "$(INPUT)" --index-date "$(INDEX_DATE)" --output "$(OUTPUT)"

PATIENTS ?= 50000
SITE ?= development
simulate-cohort: install ## Write a simulated cohort with known risks (OUTPUT=file PATIENTS=50000 SITE=development|higher-incidence|weaker-effects SEED=0)
	$(RUN) -m stroke_risk.training.simulation --output "$(or $(OUTPUT),data/simulated-cohort.csv)" \
		--patients $(PATIENTS) --site $(SITE) --seed $(or $(SEED),0)

validate: install data ## Train, then validate (optimism-corrected, benchmarks, decision curve, subgroups)
	$(RUN) training.py --data $(DATA) --validate

train-if-needed: install data
	@$(RUN) -c "import bentoml, sys; from stroke_risk.core.config import get_settings; \
		bentoml.models.get(get_settings().model_tag)" 2>/dev/null \
		&& echo "Model $$($(RUN) -c 'from stroke_risk.core.config import get_settings; print(get_settings().model_tag)') is in the store" \
		|| $(RUN) training.py --data $(DATA)

serve: train-if-needed ## Serve the API on http://127.0.0.1:3000 (PORT=...)
	STROKE_ALLOW_ANONYMOUS=true .venv/bin/bentoml serve service.py --host 127.0.0.1 --port $(PORT)

app: install ## Start the Streamlit app on http://127.0.0.1:8501 (needs `make serve`)
	.venv/bin/streamlit run app/app.py --server.address 127.0.0.1 --server.port $(APP_PORT) \
		--server.headless true --browser.gatherUsageStats false

run: train-if-needed ## Set up, get data, train if needed, then serve the API and the app (Ctrl-C stops both)
	@PORT=$(PORT) APP_PORT=$(APP_PORT) scripts/run_local.sh

screenshots: install data train-if-needed ## Drive the app in Chromium against the real service; write docs/images/*.png
	$(RUN) scripts/screenshots.py --output docs/images

test: install system-deps node-deps data ## Install everything, audit (offline: says so), run every test
	$(RUN) -m ruff check .
	$(RUN) -m ruff format --check .
	$(BANDIT)
	@# Without internet the vulnerability database is out of reach: said, not failed.
	$(RUN) scripts/supply_chain/audit_dependencies.py --tolerate-unreachable
	$(RUN) -m pytest

test-fast: install node-deps data ## The quick local loop: skip slow, browser and container tests
	$(RUN) -m pytest -m "not slow and not browser and not container"

test-release: install node-deps data ## Every test but the container ones (model, service, app, ops...): publish's gate
	$(RUN) -m pytest -m "not container"

# bandit on the package and the service (findings are justified inline with `# nosec`).
BANDIT := .venv/bin/bandit -r stroke_risk service.py -q

audit: install ## pip-audit on the pinned environment (ignores: scripts/supply_chain/) and bandit
	$(BANDIT)
	$(RUN) scripts/supply_chain/audit_dependencies.py

SBOM ?= reports/sbom/python-environment.cdx.json
sbom: install ## CycloneDX SBOM of this environment (the image's: create_bento_artifacts.sh)
	@mkdir -p $(dir $(SBOM))
	.venv/bin/cyclonedx-py environment --output-reproducible --of JSON -o $(SBOM) $(PYTHON)
	@echo "SBOM: $(SBOM)"

lint: install ## ruff lint and format check
	$(RUN) -m ruff check .
	$(RUN) -m ruff format --check .

format: install ## Apply ruff's fixes and formatting
	$(RUN) -m ruff check --fix .
	$(RUN) -m ruff format .

bench: install system-deps data train-if-needed ## Run the benchmarks in bench/ (see bench/README.md)
	$(RUN) bench/bench_training.py
	$(RUN) bench/bench_service.py
	$(RUN) bench/bench_instructions.py
	$(RUN) bench/missing_bmi_indicator.py

# Spark's own log: WARN keeps the job's progress lines readable (INFO adds ~500 lines).
SPARK_LOG_LEVEL ?= WARN
LOAD_USERS ?= 50
LOAD_TIME ?= 30s

score-population: train-if-needed ## Score a population on Spark here (INPUT=... OUTPUT=... [GROUP_BY=practice_id] [FORMAT=fhir-ndjson])
	@test -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "usage: make score-population INPUT=patients.parquet OUTPUT=scores/ [GROUP_BY=practice_id]"; exit 2; }
	PYSPARK_PYTHON=$(CURDIR)/$(PYTHON) PYTHONPATH=$(CURDIR) .venv/bin/spark-submit --master 'local[*]' \
		--conf spark.log.level=$(SPARK_LOG_LEVEL) \
		jobs/score_population.py --input "$(INPUT)" --output "$(OUTPUT)" $(if $(GROUP_BY),--group-by "$(GROUP_BY)") \
		$(if $(FORMAT),--input-format "$(FORMAT)")

loadtest: train-if-needed ## Load-test the API with Locust for 30 s (LOAD_TIME=..., starts it if not up)
	@mkdir -p reports/loadtest
	@ready() { $(PYTHON) -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$(PORT)/readyz', timeout=2)" 2>/dev/null; }; \
	server=""; \
	if ! ready; then \
		echo "Starting the API on port $(PORT) (log: reports/loadtest/server.log)"; \
		STROKE_ALLOW_ANONYMOUS=true .venv/bin/bentoml serve service.py --host 127.0.0.1 --port $(PORT) >reports/loadtest/server.log 2>&1 & server=$$!; \
		for _ in $$(seq 120); do ready && break; sleep 0.5; done; \
	fi; \
	trap '[ -z "$$server" ] || kill $$server' EXIT; \
	ready || { echo "error: no API on port $(PORT): see reports/loadtest/server.log"; exit 1; }; \
	.venv/bin/locust -f locustfile.py --headless -u $(LOAD_USERS) -r $(LOAD_USERS) -t $(LOAD_TIME) \
		--only-summary --csv reports/loadtest/locust --html reports/loadtest/report.html \
		-H http://127.0.0.1:$(PORT)

# Publishing gates on the model and service tests (all marked slow), not only test-fast's.
publish: lint test-release ## Build the Bento and image, push to ECR (ARGS=--dry-run to preview)
	./create_bento_artifacts.sh $(ARGS)

deploy: ## Deploy IMAGE_URI to ECS Fargate (settings: deploy/deploy_fargate.sh; ARGS=--dry-run)
	deploy/deploy_fargate.sh $(ARGS)

container-test: install system-deps data ## Build, push to a loopback registry, run and load-test the real image (root)
	$(RUN) -m pytest -m container -v

notebooks: install data ## Execute both notebooks and render them to HTML in reports/notebooks/
	.venv/bin/jupyter nbconvert --execute --to html --output-dir reports/notebooks \
		--ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
		notebooks/exploratory_analysis.ipynb notebooks/training.ipynb

# The manual (mkdocs.yml, docs/); site/ is generated and not committed.
.PHONY: docs docs-serve docs-samples
# Material's banner about MkDocs 2 is not about this build.
docs docs-serve: export NO_MKDOCS_2_WARNING := 1
docs: install ## Build the manual strictly into site/ (a broken link or missing page fails)
	.venv/bin/mkdocs build --strict --quiet
	@echo "The manual: site/index.html"

DOCS_PORT ?= 8000
docs-serve: install ## Serve the manual on http://127.0.0.1:8000 while you edit it (DOCS_PORT=...)
	.venv/bin/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-samples: train-if-needed ## Write the manual's sample replies from the real service (docs/samples/)
	$(RUN) scripts/docs/make_samples.py

clean: ## Remove generated files (not the data set or the model store)
	rm -rf reports test-artifacts .pytest_cache .ruff_cache $(CLIENTS) site
