# Two commands on a fresh machine: `make rebuild` and `make test`. Each sets up what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_READY := $(VENV)/.installed
NODE_READY := node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: rebuild test test-quick clean

rebuild: $(PY_READY) $(NODE_READY)
	$(PY) -m posenet_port.rebuild

test: $(PY_READY) $(NODE_READY) $(CHROMIUM)
	$(PY) -m pytest

# The quick subset: everything but the end-to-end tests marked slow.
test-quick: $(PY_READY)
	$(PY) -m pytest -m "not slow"

$(PY_READY): requirements.txt setup.cfg setup.py
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

# Debian's chromium drives the browser test of the exported tfjs model (no browser download: Debian's package).
$(CHROMIUM):
	@command -v apt-get >/dev/null 2>&1 || { echo "error: the browser test needs Debian's chromium at $(CHROMIUM); install it and rerun"; exit 1; }
	$$( [ "$$(id -u)" -ne 0 ] && echo sudo ) apt-get update -qq
	$$( [ "$$(id -u)" -ne 0 ] && echo sudo ) apt-get install -y -qq chromium

clean:
	rm -rf build $(VENV) node_modules
