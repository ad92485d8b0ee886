# Two commands for a fresh machine: `make run` (main job, offline planner) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
GOAL ?= Rediscover the relativistic velocity addition law
# The CPU build of torch is installed first where no NVIDIA GPU is present, so the project's
# install never pulls CUDA wheels; set TORCH_SPEC to choose another build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install run test clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q "$(TORCH_SPEC)"; \
	else $(PY) -m pip install -q "$(TORCH_SPEC)" || $(PY) -m pip install -q "$(TORCH_SPEC)" --index-url https://download.pytorch.org/whl/cpu; fi
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

run: install
	$(VENV)/bin/twinsight run "$(GOAL)"

# One test process per core, each test file in one process (its module fixtures, a lab server, set up once).
test: install
	$(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=15

clean:
	rm -rf $(VENV) runs
