"""The report command's processes skip jsonschema's IRI parser (runner.skip_iri_parser).

rfc3987_syntax builds its parsers at import (about 1 s of CPU per process); the report
command's parent and workers mark it absent so that jsonschema leaves out that one format
checker. These tests check that notebooks are still read, validated and written, and that
nothing else (a notebook kernel, a user's session importing spanalysis.report) is touched.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "site_report.ipynb"


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_report_process_validates_notebooks_without_the_iri_parser():
    out = _python(
        "import sys\n"
        "from spanalysis.report.runner import skip_iri_parser\n"
        "skip_iri_parser()\n"
        "import papermill, nbformat, jsonschema\n"
        f"nb = nbformat.read({str(NOTEBOOK)!r}, as_version=4)\n"
        "nbformat.validate(nb)\n"
        "bad = nbformat.from_dict(nb)\n"
        "bad.cells[0]['cell_type'] = 'sideways'\n"
        "try:\n"
        "    nbformat.validate(bad)\n"
        "except nbformat.ValidationError:\n"
        "    print('invalid notebook refused')\n"
        "print('rfc3987 loaded' if sys.modules.get('rfc3987_syntax') else 'rfc3987 skipped')\n"
        "print('uri format kept' if 'uri' in jsonschema.FormatChecker.checkers "
        "else 'uri format lost')\n")
    assert out.splitlines() == ["invalid notebook refused", "rfc3987 skipped", "uri format kept"]


def test_importing_spanalysis_report_leaves_jsonschema_alone():
    # a notebook or a user's session imports spanalysis.report: the IRI checker stays
    pytest.importorskip("rfc3987_syntax")
    out = _python("import spanalysis.report, jsonschema\n"
                  "print('iri' in jsonschema.FormatChecker.checkers)")
    assert out == "True"


def test_skip_does_nothing_once_jsonschema_is_imported():
    pytest.importorskip("rfc3987_syntax")
    out = _python("import jsonschema\n"
                  "from spanalysis.report.runner import skip_iri_parser\n"
                  "skip_iri_parser()\n"
                  "import sys\n"
                  "print('iri' in jsonschema.FormatChecker.checkers, "
                  "sys.modules.get('rfc3987_syntax') is not None)")
    assert out == "True True"


def test_report_command_parent_does_not_build_the_iri_parser(tmp_path):
    # the CLI's report command calls skip_iri_parser before build_reports imports papermill
    out = _python(
        "import sys\n"
        "import spanalysis.report as report\n"
        "import spanalysis.cli as cli\n"
        "def fake_build(*args, **kwargs):\n"
        "    import papermill\n"
        "    print(sys.modules.get('rfc3987_syntax', 'absent'))\n"
        "    raise SystemExit(0)\n"
        "report.build_reports = fake_build\n"
        "try:\n"
        f"    cli.main(['report', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}])\n"
        "except SystemExit:\n"
        "    pass\n")
    assert out == "None"
