# trilink — one Makefile, two front doors:
#   make demo   set up (idempotent) and run the built-in scenario on the in-memory link
#   make test   set up (idempotent) and run the test suite
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := nats-server chromium iproute2

GEODATA := src/trilink/alerts/data/manifest.json
NODE_STAMP := node_modules/.package-lock.json

.PHONY: demo test check setup system-deps lint typecheck bench clean

demo: system-deps $(STAMP) $(GEODATA)
	$(BIN)/trilink run korea-japan

test: system-deps $(STAMP) $(GEODATA)
	$(BIN)/python scripts/warm_kernels.py
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile

check: system-deps $(STAMP) $(GEODATA)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/trilink/nodes src/trilink/link src/trilink/web src/trilink/policy src/trilink/cli src/trilink/messages.py
	$(BIN)/python scripts/warm_kernels.py
	$(BIN)/pytest -q -p no:cacheprovider -n 2 --dist loadfile

setup: system-deps $(STAMP) $(GEODATA)

# Debian packages the tests need (a real NATS server, a real browser, network namespaces).
# Installed only when missing, so a second run costs nothing.
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# Front-end libraries and Natural Earth data come from the npm registry, pinned by the
# lock file; the territory polygons are built from them once, at set-up time.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(GEODATA): $(NODE_STAMP) scripts/build_geodata.py src/trilink/alerts/geodata.py src/trilink/alerts/topojson.py | $(STAMP)
	$(BIN)/python scripts/build_geodata.py

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info node_modules src/trilink/alerts/data
