# Two commands on a fresh machine: `make rebuild` and `make test`. Each sets up what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_READY := $(VENV)/.installed
NODE_READY := node_modules/.installed
CHROMIUM := /usr/bin/chromium
QEMU := /usr/bin/qemu-x86_64
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && echo sudo)

.PHONY: rebuild test test-quick test-compat lint fuzz docs clean

rebuild: $(PY_READY) $(NODE_READY)
	$(PY) -m posenet_port.rebuild

test: $(PY_READY) $(NODE_READY) $(CHROMIUM) $(QEMU) lint
	$(PY) -m pytest

# The house style (ruff.toml); `make test` runs it first.
lint: $(PY_READY)
	$(PY) -m ruff check .

# The fuzzing campaign over every reader of outside files, written to FUZZING.md: each atheris harness for
# FUZZ_SECONDS, the random-mutation fuzzer for FUZZ_CASES per reader on fresh seeds, the server load test.
# Findings are kept in tests/data/fuzz-regressions, which `make test` replays. atheris: requirements-fuzz.txt.
FUZZ_SECONDS ?= 180
FUZZ_CASES ?= 2000
fuzz: $(PY_READY) $(NODE_READY) $(VENV)/.fuzz-installed
	$(PY) tests/fuzz/campaign.py --seconds $(FUZZ_SECONDS) --cases $(FUZZ_CASES)

$(VENV)/.fuzz-installed: requirements-fuzz.txt $(PY_READY)
	$(PY) -m pip install -r requirements-fuzz.txt
	touch $@

# docs/cli.md from the commands' parsers (a test fails when it is stale).
docs: $(PY_READY)
	$(PY) tools/docs.py

# The quick subset: everything but the end-to-end tests marked slow.
test-quick: $(PY_READY)
	$(PY) -m pytest -m "not slow"

# The quick suite and one rebuild in a fresh venv per Python present (3.10, 3.12, 3.13): docs/compat.md.
test-compat: $(NODE_READY)
	$(PYTHON) tools/compat.py

$(PY_READY): requirements.txt setup.cfg setup.py $(wildcard posenet_port/*/*.c)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

# Real TensorFlow.js in node is the parity oracle: without node the tests cannot prove anything.
$(NODE_READY): package.json package-lock.json
	@command -v node >/dev/null 2>&1 || { echo "error: node (Node.js 18+) is required for the TensorFlow.js parity tests; install it (apt-get install nodejs npm) and rerun"; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

# Debian packages, installed by name: $(call apt_install,PACKAGE,what needs it)
define apt_install
	@command -v apt-get >/dev/null 2>&1 || { echo "error: $(2) needs Debian's $(1); install it and rerun"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) apt-get install -y -qq $(1)
endef

# Debian's chromium drives the browser test of the exported tfjs model (no browser download: Debian's package).
$(CHROMIUM):
	$(call apt_install,chromium,the browser test)

# qemu-user emulates a CPU without AVX-512: the float engines are held to the parity bound on that kind of CPU too.
$(QEMU):
	$(call apt_install,qemu-user,the float engines' test on an emulated AVX2 CPU)

clean:
	rm -rf build $(VENV) node_modules
