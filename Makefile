# Everything installs from nothing: `make test` and `make demo` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
# core: the 24 models of the scan issue; full: 64 models, two domains (the detection issue)
ZOO_SET ?= full

.PHONY: install test browser oip-server lint demo zoo fmnist bench bench-burn fuzz corpus-compare clean docs

$(STAMP): pyproject.toml lab/pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU wheel first, so nothing below resolves torch to a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[cpu,torch,dev,zoo,ray]'
	# The research lab (zoo, benchmarks, `bdscan zoo` / `bdscan bench`): its own distribution.
	$(PY) -m pip install -q --no-deps -e ./lab
	# onnx2torch declares torchvision, which does not load beside this torch: take it without deps.
	$(PY) -m pip install -q --no-deps onnx2torch==1.5.15
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP) browser oip-server
	$(PY) -m pytest -q

# A real Open Inference Protocol server for the endpoint tests
# (tests/scanner/backends/test_endpoint.py), in its
# own environment: MLServer's dependencies (FastAPI, gRPC, its protobuf) stay out of bdscan's.
# Where it cannot be installed, those tests are skipped and say so.
OIP_VENV ?= .venv-oip
$(OIP_VENV)/.installed: Makefile
	@{ test -x $(OIP_VENV)/bin/python || python3 -m venv $(OIP_VENV); } && \
	$(OIP_VENV)/bin/python -m pip install -q mlserver==1.7.1 onnxruntime numpy && \
	touch $@ || { rm -rf $(OIP_VENV); echo "note: MLServer could not be installed; the endpoint tests will be skipped"; }

oip-server: $(OIP_VENV)/.installed

# The HTML report test opens it in Debian's Chromium; where that cannot be installed the test
# is skipped and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || echo "note: Chromium could not be installed; the HTML browser test will be skipped"

lint: $(STAMP)
	$(VENV)/bin/ruff check scanner exporters policies lab tests benchmarks docs/tools
	$(VENV)/bin/ruff format --check scanner exporters policies lab tests benchmarks docs/tools
	$(VENV)/bin/mypy scanner exporters policies

demo: $(STAMP)
	@echo "== backdoored example (BadNets, target label 0) =="
	@$(VENV)/bin/bdscan scan examples/models/badnets_cnn.onnx --data examples/data/fmnist_clean.npz --json /tmp/bdscan-demo-badnets.json; echo "exit code $$? (1: findings)"
	@echo "== clean example =="
	@$(VENV)/bin/bdscan scan examples/models/clean_cnn.onnx --data examples/data/fmnist_clean.npz --json /tmp/bdscan-demo-clean.json; echo "exit code $$? (0: passed)"

# Fashion-MNIST from Debian's package, where apt is available.
fmnist:
	test -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)

zoo: $(STAMP) fmnist
	BDSCAN_ZOO_THREADS=1 $(VENV)/bin/bdscan zoo build --out zoo-out --set $(ZOO_SET)

bench: $(STAMP)
	$(VENV)/bin/bdscan bench xray --zoo zoo-out

bench-burn: $(STAMP)
	mkdir -p bench-out
	$(PY) benchmarks/bench_burn.py --zoo zoo-out --scan-reports bench-out/burn-scans --scan-missing \
		--rescan --out-dir bench-out/burn-models --json bench-out/burn.json

# The mutation fuzzer at full dose (issue 25): 2,000 mutated models, each its own process with a
# wall timeout; results and first lines per case in fuzz-out/results.json. `make test` runs a
# fixed-seed dose of 100 (tests/scanner/backends/test_fuzz.py).
FUZZ_CASES ?= 2000
fuzz: $(STAMP)
	$(PY) benchmarks/fuzz.py --cases $(FUZZ_CASES) --seed 1 --jobs 2 --runner fork --timeout 60 \
		--out fuzz-out/results.json

# bdscan and modelaudit (PyPI, in its own environment) on the hostile corpus, case by case.
MA_VENV ?= .venv-modelaudit
corpus-compare: $(STAMP)
	test -x $(MA_VENV)/bin/modelaudit || { python3 -m venv $(MA_VENV) && \
		$(MA_VENV)/bin/pip install -q modelaudit==0.2.54 onnx; }
	$(PY) benchmarks/corpus_vs_modelaudit.py --modelaudit $(MA_VENV)/bin/modelaudit --out fuzz-out/corpus-vs-modelaudit.md

clean:
	rm -rf $(VENV) $(OIP_VENV) $(MA_VENV) fuzz-out zoo-out zoo-fresh zoo-fresh2 zoo-fresh3 zoo-fresh4 zoo-fresh5 zoo-fresh6 zoo-fresh7 zoo-fresh8 zoo-fresh9 zoo-fresh10 zoo-fresh11 zoo-fresh12 zoo-fresh13 zoo-fresh14 zoo-fresh15 zoo-fresh16 zoo-fresh17 zoo-fresh18 zoo-fresh19 zoo-fresh20 zoo-fresh21 zoo-fresh22 zoo-fresh23 zoo-fresh24 zoo-fresh25 zoo-fresh26 zoo-fresh27 zoo-fresh28 zoo-fresh29 zoo-fresh30 zoo-fresh31 zoo-fresh32 zoo-fresh33 zoo-fresh34 zoo-fresh35 zoo-fresh36 zoo-fresh37 zoo-fresh38 zoo-fresh39 zoo-fresh40 zoo-fresh41 zoo-fresh42 zoo-fresh43 zoo-fresh44 zoo-fresh45 zoo-fresh46 zoo-fresh47 zoo-fresh48 zoo-fresh49 zoo-fresh50 zoo-fresh51 zoo-fresh52 zoo-fresh53 zoo-fresh54 zoo-fresh55 zoo-fresh56 zoo-fresh57 zoo-fresh58 zoo-fresh59 zoo-fresh60 zoo-fresh61 zoo-fresh62 zoo-fresh63 zoo-fresh64 zoo-fresh65 zoo-fresh66 zoo-fresh67 zoo-fresh68 zoo-fresh69 zoo-fresh70 zoo-fresh71 zoo-fresh72 zoo-fresh73 zoo-fresh74 zoo-fresh75 zoo-wildrot bench-out .pytest_cache .ruff_cache .mypy_cache

# The documentation site (MkDocs, Material theme) into site/, --strict: any warning fails. The
# reference pages (CLI, report fields, policy rules) are generated from the code first, into
# docs/reference/ (build output, gitignored). The docs extra installs on first use only.
docs: $(STAMP)
	@$(PY) -c "import mkdocs, material" 2>/dev/null || $(PY) -m pip install -q -e '.[docs]'
	$(PY) docs/tools/gen_reference.py
	$(VENV)/bin/mkdocs build --strict
