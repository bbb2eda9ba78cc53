# Assay — install, serve, test, bench. Everything lives in .venv; nothing is downloaded at run time.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve lint test test-fast bench clean browser photos

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools<81" wheel
	# The torch pair first, pinned, so that no later resolution can pick another torch.
	$(BIN)/pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install --quiet -e ".[dev]" "torch==2.14.1" "torchvision==0.29.1"
	touch $(STAMP)

install: $(STAMP)

serve: install
	$(BIN)/assay serve

# Chromium for the pages' browser tests, Go and x/mod for the tile client test (Debian packages);
# skipped quietly when apt is absent.
browser:
	@(command -v chromium >/dev/null 2>&1 && command -v go >/dev/null 2>&1 && \
	  test -d /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog) || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium golang-go \
	  golang-golang-x-mod-dev >/dev/null) || true)

# Real photographs for the copy-detection and watermark benchmarks (benchmarks/photos.py says
# which files and licences): Debian packages of wallpapers and of GCompris, about 620 MB of
# downloads. Not part of install or test; skipped quietly when apt is absent.
PHOTO_DEBS := gcompris-qt-data lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds \
	plasma-workspace-wallpapers palapeli-data enlightenment-data
photos:
	@(dpkg -s $(PHOTO_DEBS) >/dev/null 2>&1) || (command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  $(PHOTO_DEBS) >/dev/null) || true)

# Lint and types (config in pyproject.toml): .ci/run runs this before the tests and fails with it.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/assay licenses --check

test: install browser
	$(BIN)/python -m pytest -q --timeout=900

bench: install
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .assay .mypy_cache .ruff_cache
