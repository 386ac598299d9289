"""Setup consistency: conda and pip declare the same dependencies; everything is pinned;
notebooks are stored without outputs; nothing downloads at run time."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _pip_requirements() -> dict[str, str]:
    project = _pyproject()["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    return {canonicalize_name(Requirement(r).name): str(Requirement(r).specifier) for r in reqs}


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    out = {}
    deps = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):  # the nested pip: section (PyPI-only packages, the project)
            deps += [d for d in dep.get("pip", []) if not d.startswith("-e")]
        else:
            deps.append(dep)
    for dep in deps:
        name = re.split(r"[<>=!~ ]", dep, maxsplit=1)[0]
        if name in ("python", "pip"):
            continue
        out[canonicalize_name(name)] = str(Requirement(dep.replace(" ", "")).specifier)
    return out


def test_conda_and_pip_declare_the_same_dependencies():
    assert _conda_requirements() == _pip_requirements()


def test_environment_installs_the_project_itself():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1 and pip_sections[0][-1] == "-e ."


def test_every_dependency_is_pinned_in_the_constraints_file():
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            req = Requirement(line)
            assert str(req.specifier).startswith("=="), line
            pins[canonicalize_name(req.name)] = str(req.specifier)[2:]
    for name, spec in _pip_requirements().items():
        assert name in pins, f"{name} is not pinned in requirements/constraints.txt"
        assert Requirement(f"{name}{spec}").specifier.contains(pins[name]), (name, spec, pins[name])


def test_required_packages_are_declared():
    required = {"jupyterlab", "pandas", "seaborn", "pingouin", "nltk", "papermill", "nbval"}
    assert required <= set(_pip_requirements())


def test_notebooks_are_stored_without_outputs():
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs") == [] and cell.get("execution_count") is None, path.name


def test_nothing_downloads_nltk_data():
    for path in list((REPO / "spanalysis").rglob("*.py")) + list((REPO / "notebooks").glob("*.ipynb")):
        assert "nltk.download" not in path.read_text(encoding="utf-8"), path


def test_make_lab_starts_as_root_too():
    """Issue 21: ``make lab`` as root (a container) stopped: JupyterLab needs --allow-root."""
    import os
    import subprocess

    done = subprocess.run(["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True,
                          check=True)
    command = [line for line in done.stdout.splitlines() if "jupyter lab" in line]
    assert len(command) == 1
    assert ("--allow-root" in command[0]) == (os.geteuid() == 0)
