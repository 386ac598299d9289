"""The README's smallest study is a study: written from the README's own blocks, it loads,
scores and validates as the README says."""
from __future__ import annotations

import re
from pathlib import Path

import spanalysis

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(text: str, marker: str, language: str) -> str:
    start = text.rfind("```", 0, text.index(marker)) if marker.startswith("#") \
        else text.index(marker)
    match = re.compile(r"```" + language + r"\n(.*?)```", re.S).search(text, start)
    assert match, f"no ```{language} block after {marker!r}"
    return match.group(1)


def test_smallest_study_in_the_readme_loads(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Put your own study in"):]
    study = tmp_path / "my-study"
    study.mkdir()
    (study / "study.yaml").write_text(_block_after(section, "# study.yaml", "yaml"))
    (study / "participants.csv").write_text(_block_after(section, "`participants.csv`", "csv"))
    (study / "responses.csv").write_text(_block_after(section, "`responses.csv`", "csv"))
    issues = spanalysis.validate_study(study)
    assert [i for i in issues if i.level == "error"] == []
    loaded = spanalysis.load_study(study)
    assert loaded.sites == ["Riverside"] and len(loaded.participants) == 2
    scores = loaded.scores
    swemwbs = scores[scores["instrument"] == "swemwbs"].set_index(
        ["participant_id", "timepoint", "scale"])["score"]
    # P001's raw sums worked by hand: 3+2+3+2+3+3+2 = 18 and 4+3+3+3+4+3+3 = 23; metric
    # scores from the published conversion table (Stewart-Brown et al. 2009; Warwick Medical
    # School): raw 18 -> 17.43, raw 23 -> 20.73
    assert swemwbs[("P001", "baseline", "raw")] == 18
    assert swemwbs[("P001", "followup", "raw")] == 23
    assert swemwbs[("P001", "baseline", "metric")] == 17.43
    assert swemwbs[("P001", "followup", "metric")] == 20.73
    # P002 left an item blank: SWEMWBS is scored from complete answers only
    assert swemwbs.loc["P002"].isna().all()
