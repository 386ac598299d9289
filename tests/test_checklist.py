"""Reporting checklists (issue 23, item 8): every section a checklist item points to exists as
a heading of the notebook it names, and an item the study cannot answer says so."""
from __future__ import annotations

import json
import re

import pytest
from conftest import DEMO

from spanalysis import load_study
from spanalysis.report import checklist
from spanalysis.report.jobs import NOTEBOOKS_DIR


def headings(notebook: str) -> set[str]:
    nb = json.loads((NOTEBOOKS_DIR / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return {m.group(1).strip() for m in re.finditer(r"^#+ (.+)$", text, re.M)}


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


@pytest.mark.parametrize("build,notebook", [(checklist.gramms, "04_integration"),
                                            (checklist.trend, "02_outcome_change")])
def test_every_section_named_exists(demo, build, notebook):
    table = build(demo)
    assert len(table) == (6 if build is checklist.gramms else 8)
    quoted = [q for text in table["answered_in"] for q in re.findall(r"“([^”]+)”", text)]
    assert quoted, "the checklist names no section"
    names = headings(notebook) | headings("01_data_quality") | headings("02_outcome_change")
    for section in quoted:
        assert any(h.startswith(section) for h in names), section


def test_items_the_study_cannot_answer_say_so(tmp_path):
    from test_study_shapes import no_qualitative, one_timepoint

    no_qualitative(tmp_path / "nq")
    table = checklist.gramms(load_study(tmp_path / "nq")).set_index("item")
    assert table.loc["3", "answered_in"].endswith("Not applicable: the study's qualitative "
                                                  "material is not coded")
    assert table.loc["4", "answered_in"].startswith("Not possible here")
    one_timepoint(tmp_path / "one")
    trend = checklist.trend(load_study(tmp_path / "one")).set_index("item")
    assert trend.loc["Missing data", "answered_in"].startswith("Not available")
