"""Time points as readers see them: the ``label:`` study.yaml gives each time point is what the
reports print (flow stages, captions, table cells, figures), never its id; a study without
labels reads as before. Also: a study whose own Cronbach's alpha is not a usable reliability
leaves reliable change unclassified on that scale, with the reason, instead of failing the
reports.

The studies are the demo rewritten by the tests: three time points with labels that hold
markup, so that escaping is checked too.
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from conftest import DEMO
from spanalysis import load_study
from spanalysis.change import outcomes, quality
from spanalysis.report import display

LABELS = {"baseline": "At referral", "followup": "3 months <b>on</b>",
          "six_months": "6 months & *after*"}


def _three_labelled(folder):
    from test_study_shapes import three_timepoints

    three_timepoints(folder)
    manifest = folder / "study.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    for point in data["timepoints"]:
        point["label"] = LABELS[point["id"]]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    return _three_labelled(tmp_path_factory.mktemp("labelled") / "study")


def test_flow_stages_name_the_labels(labelled):
    study = load_study(labelled)
    flow = quality.flow_counts(study)
    assert list(flow["stage"]) == ["Referred", "Questionnaire at At referral",
                                   "Questionnaire at 3 months <b>on</b>",
                                   "Questionnaire at 6 months & *after*",
                                   "Questionnaire at At referral and 6 months & *after*"]
    assert quality.both_stage(study) == flow["stage"].iloc[-1]
    # the counts are the ids' counts: people answering anything at that time point
    answered = study.responses.assign(any=study.responses.drop(
        columns=["participant_id", "timepoint", "completed_date"]).notna().any(axis=1))
    at = answered[answered["any"]].groupby("timepoint", observed=True)["participant_id"].nunique()
    assert flow["n"].iloc[3] == at["six_months"]
    by_site = quality.flow_by_site(study)
    assert list(by_site.columns)[1:4] == ["At At referral", "At 3 months <b>on</b>",
                                         "At 6 months & *after*"]


def test_without_labels_the_ids_are_shown():
    study = load_study(DEMO)
    assert quality.both_stage(study) == "Questionnaire at baseline and followup"
    assert quality.timepoint_label(object(), "baseline") == "baseline"


def test_tables_show_labels_after_use_timepoint_labels(labelled):
    study = load_study(labelled)
    table = pd.DataFrame({"pre": ["baseline", "followup"], "post": ["followup", "six_months"],
                          "mean": [1.0, 2.0]})
    counts = pd.DataFrame({"n": [12, 30]}, index=pd.Index(["baseline", "six_months"],
                                                         name="timepoint"))
    try:
        display.use_timepoint_labels(study)
        shown = display.show_table(table, caption="pairs", show=False)
        counted = display.show_counts(counts, 5, caption="counts", totals="none", show=False)
    finally:
        display.use_timepoint_labels(None)
    cells = [td.get_text() for td in BeautifulSoup(shown, "html.parser").find_all(["th", "td"])]
    assert cells[3:6] == ["At referral", "3 months <b>on</b>", "1.00"]
    assert "<b>" not in shown and "&lt;b&gt;on&lt;/b&gt;" in shown  # escaped, not markup
    rows = [th.get_text() for th in BeautifulSoup(counted, "html.parser").select("tbody th")]
    assert rows == ["At referral", "6 months & *after*"]
    # forgotten: ids again
    plain = display.show_table(table, caption="pairs", show=False)
    assert ">baseline<" in plain and "At referral" not in plain


def test_one_labelled_time_point_is_said_by_its_label(tmp_path):
    from test_study_shapes import one_timepoint

    folder = tmp_path / "one"
    one_timepoint(folder)
    manifest = folder / "study.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    data["timepoints"] = [{"id": "baseline", "label": "First visit"}]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    said = outcomes.why_no_change(load_study(folder))
    assert said.startswith("This study has one time point (First visit)")


def _visible_text(page) -> str:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for tag in soup(["style", "script", "footer"]):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())


def test_reports_name_time_points_by_their_labels(labelled, tmp_path):
    from spanalysis.cli import main

    out = tmp_path / "out"
    assert main(["report", str(labelled), "--out", str(out), "--sites", "Kestrel Moor PCN",
                 "--jobs", "2", "--no-progress"]) == 0
    pages = {p.name: p for p in out.rglob("*.html")}
    for name in ("01_data_quality.html", "02_outcome_change.html", "kestrel-moor-pcn.html"):
        text = _visible_text(pages[name])
        assert "6 months & *after*" in text, name
        # an id is shown only where the reader is told which parameter value was used
        leaks = [m.group(0) for m in re.finditer(r".{40}\bsix_months\b.{20}", text)]
        assert leaks == [], (name, leaks)
        raw = pages[name].read_text(encoding="utf-8")
        assert "<b>on</b>" not in raw, name   # a label's markup is text, never markup
    text = _visible_text(pages["02_outcome_change.html"])
    assert "Mean change from At referral to 6 months & *after*" in text
    assert "Questionnaire at At referral and 6 months & *after*" in _visible_text(
        pages["01_data_quality.html"])
    # the summaries keep the ids (they are read by programs)
    summary = json.loads((out / "study" / "02_outcome_change.summary.json").read_text())
    assert (summary["primary"]["pre"], summary["primary"]["post"]) == ("baseline", "six_months")


# ------------------------------------------------------------------ an alpha that is no reliability

def _cronbach_alpha(items: np.ndarray) -> float:
    """Cronbach (1951): k/(k-1) * (1 - sum of item variances / variance of the total), on
    complete rows (written out here, independently of spanalysis.instruments)."""
    items = items[~np.isnan(items).any(axis=1)]
    k = items.shape[1]
    return k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / items.sum(axis=1).var(ddof=1))


def test_a_negative_study_alpha_leaves_reliable_change_unclassified(tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(DEMO, folder)
    responses = pd.read_csv(folder / "responses.csv", dtype={"participant_id": str})
    base = responses["timepoint"] == "baseline"
    gse = [f"gse_{i}" for i in range(1, 11)]
    # half the GSE items answered the other way round at baseline (1..4 -> 4..1), as when a
    # form's answer order was reversed: the two halves pull against each other
    for column in gse[5:]:
        responses.loc[base, column] = 5 - responses.loc[base, column]
    responses.to_csv(folder / "responses.csv", index=False)
    study = load_study(folder)
    alpha = _cronbach_alpha(responses.loc[base, gse].to_numpy(dtype=float))
    assert alpha <= 0   # the premise of the test
    # and no published reliability, so the study's own alpha would be the one used
    assert np.isnan(study.scale_info.set_index(["instrument", "scale"]).loc[
        ("gse", "total"), "reliability"])
    info = outcomes.scale_info_with_study_reliability(study).set_index(["instrument", "scale"])
    row = info.loc[("gse", "total")]
    assert np.isnan(row["reliability"])
    assert f"Cronbach's alpha at baseline is {alpha:.2f}" in row["reliability_source"]
    assert "reliable change is not classified" in row["reliability_source"]
    per, summary = outcomes.reliable_change_table(study)   # no longer an error
    from spanalysis.report import main_points

    said = main_points.unclassified_sentence(study, summary)
    assert said.startswith("Not classified: GSE item mean (1-4), GSE total (10-40) (this study's "
                           f"Cronbach's alpha at baseline is {alpha:.2f} (n=")
    assert "single items, or no published reliability and no alpha" in said   # ONS4, MYCaW
    assert "Life satisfaction (0-10)" in said
    gse_rows = per[per["instrument"].astype(str) == "gse"]
    assert len(gse_rows) and gse_rows["category"].isna().all()
    # the other scales are classified as before
    plain, _ = outcomes.reliable_change_table(load_study(DEMO))
    wemwbs = lambda t: t[t["instrument"].astype(str) == "wemwbs"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(wemwbs(per), wemwbs(plain))
