# The README's two commands:
#   make report   set up .venv, install, build the demo study's HTML reports under reports/
#   make test     set up .venv, install, run the unit tests and the notebooks (nbval)
# Everything installs into a project-local virtual environment (.venv) from the pinned
# constraints file, so the same versions are used here, in CI and by the benchmarks.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.spanalysis-installed
KERNEL := spanalysis

.PHONY: report test setup kernel lab bench bench-full lock clean

report: $(STAMP)
	$(PY) -m spanalysis report data/demo --out reports/demo

test: $(STAMP)
	$(PY) -m pytest tests spanalysis notebooks --doctest-modules --nbval-lax -p no:cacheprovider

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c requirements/constraints.txt -e '.[test]'
	$(PY) -m spanalysis kernel install --name $(KERNEL)
	touch $(STAMP)

# Open the notebooks in JupyterLab with the project's kernel.
# As root (a container, CI), JupyterLab refuses to start unless told it may.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root,)

kernel: $(STAMP)
	$(PY) -m spanalysis kernel install --name $(KERNEL)

bench: $(STAMP)
	$(PY) -m bench --size small

bench-full: $(STAMP)
	$(PY) -m bench --size full

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed '1i # Exact versions used by make, CI and the benchmarks (pip constraints file).' > requirements/constraints.txt

clean:
	rm -rf $(VENV) reports/demo
