"""Notebook parameters (issue 21, items 3 and 4): every report notebook runs under papermill
from any folder with its defaults (the demo study, found from the package, never from the
working folder), and a name it does not declare, a value of the wrong type or out of range
stops the run on one line naming the parameter, the value and what is allowed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import papermill
import pytest
from conftest import DEMO

from spanalysis.cli import main
from spanalysis.report import parameters
from spanalysis.report.jobs import NOTEBOOKS_DIR, SITE_NOTEBOOK, STUDY_NOTEBOOKS

NOTEBOOKS = [*STUDY_NOTEBOOKS, SITE_NOTEBOOK]


def _path(notebook) -> Path:
    return NOTEBOOKS_DIR / f"{Path(notebook).stem}.ipynb"


def test_every_parameter_is_typed_and_the_default_study_is_not_a_relative_path():
    for notebook in NOTEBOOKS:
        declared = papermill.inspect_notebook(str(_path(notebook)))
        assert "study" in declared and "site" in declared, notebook
        for name, info in declared.items():
            assert info["inferred_type_name"] in ("str", "int", "float", "bool"), (notebook, name)
        assert declared["study"]["default"] == '""', notebook


def test_default_study_is_the_demo_wherever_the_process_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parameters.default_study() == DEMO.resolve()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda n: Path(n).stem)
def test_papermill_with_defaults_from_another_folder(notebook, tmp_path):
    """What a user types: papermill NOTEBOOK OUT, in a folder that is neither the repository
    nor notebooks/. The defaults (the demo; a site report's first site) must just work."""
    out = tmp_path / "out.ipynb"
    result = subprocess.run([sys.executable, "-m", "papermill", str(_path(notebook)), str(out),
                             "-k", "spanalysis", "--no-progress-bar"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    nb = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in nb["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []


BAD = [
    ({"sitee": "all"}, "parameter 'sitee': not a parameter of this notebook (given 'all'; "
                       "allowed: one of study, site, instruments, confidence, pre, post, missing, "
                       "summary_path)"),
    ({"confidence": "0.9"}, "parameter 'confidence': of the wrong type (given '0.9'; "
                            "allowed: a float)"),
    ({"confidence": 95}, "parameter 'confidence': out of range (given 95; allowed: a number "
                         "between 0 and 1, such as 0.95 or 0.90)"),
    ({"site": "Nowhere PCN"}, "parameter 'site': not a site of this study (given 'Nowhere PCN'"),
    ({"instruments": "wemwbs,gse,phq9"}, "parameter 'instruments': not an instrument of this "
                                         "study (given 'phq9'"),
    ({"pre": "week_6"}, "parameter 'pre': not a time point of this study (given 'week_6'; "
                        "allowed: '' (the first) or one of baseline, followup)"),
]


@pytest.mark.parametrize("given,message", BAD, ids=[next(iter(g)) + str(i)
                                                    for i, (g, _) in enumerate(BAD)])
def test_papermill_stops_on_one_line(given, message, tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(_path("02_outcome_change")),
                                   str(tmp_path / "out.ipynb"), parameters=given,
                                   kernel_name="spanalysis", progress_bar=False,
                                   cwd=str(tmp_path))
    error = caught.value
    assert error.ename == "ParameterError"
    assert message in error.evalue
    # IPython shows the error's own line (its _render_traceback_), not a Python traceback
    assert error.traceback == [f"ParameterError: {error.evalue}"]
    assert error.evalue.startswith("02_outcome_change.ipynb: parameter '")


def test_papermill_site_report_refuses_the_whole_study(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(_path(SITE_NOTEBOOK)), str(tmp_path / "out.ipynb"),
                                   parameters={"site": "all"}, kernel_name="spanalysis",
                                   progress_bar=False, cwd=str(tmp_path))
    assert "parameter 'site': not a site of this study (given 'all'" in caught.value.evalue
    assert "or 'all'" not in caught.value.evalue


@pytest.mark.parametrize("option,message", [
    ("confidence=95", "out of range"),
    ("unit=paragraph", "out of range"),
    ("quotes_per_theme=-1", "out of range"),
    ("confidnce=0.9", "unknown parameter"),
])
def test_report_command_checks_values_before_running(option, message, tmp_path, capsys):
    status = main(["report", str(DEMO), "--out", str(tmp_path / "out"), "-p", option,
                   "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and message in err and option.split("=")[0] in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.html"))


def test_check_values_against_hand_written_cases():
    types = {"confidence": "float", "quotes": "int", "unit": "str", "include_sensitive": "bool"}
    parameters.check_values({"confidence": 0.9, "quotes": 0, "unit": "source",
                             "include_sensitive": True}, types)
    parameters.check_values({"confidence": 0.5}, types)
    for bad in ({"confidence": 1}, {"confidence": 0}, {"quotes": True}, {"quotes": 1.0},
                {"unit": "Sentence"}, {"include_sensitive": 1}, {"quotes": -2}):
        with pytest.raises(parameters.ParameterError) as caught:
            parameters.check_values(bad, types)
        assert f"parameter '{next(iter(bad))}'" in str(caught.value)
