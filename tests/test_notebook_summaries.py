"""What the whole-study notebooks show, not only that they run (issue 19, item 33).

Each notebook 01-04 writes its headline figures to a summary JSON beside its report. Here the
notebooks are run by the report runner (``sites="none"``: the four whole-study reports only)
on three study shapes, once per shape, and every figure in each summary is compared with the
package's API on the same study:

- the demo study (8 sites, 8 instruments, interviews);
- two small sites of the demo (Brackenridge and Saltmarsh Coast, 45 people): their
  participants and their rows in every file, their interviews and documents, and ``sites:``
  naming the two (a single-site study cannot be used yet: notebook 02 fits the mixed model
  across sites and stops with "needs complete pairs from at least two sites");
- the demo without qualitative material, with SWEMWBS (items renamed from the WEMWBS ones),
  GSE and UCLA-3 only, so that the primary outcome is SWEMWBS metric.

A count from 1 to k-1 may be written as a string (``"<5"``): such a value is compared only
with the rule (the API's count is then 1..k-1), a number is compared exactly.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import DEMO

from spanalysis import integrate, load_study
from spanalysis import report as rp
from spanalysis.change import outcomes, paired_change
from spanalysis.qual import themes

NOTEBOOKS = ["01_data_quality", "02_outcome_change", "03_qualitative_benefits",
             "04_integration"]
TWO_SITES = ["Brackenridge PCN", "Saltmarsh Coast PCN"]
SWEMWBS_FROM = {"swemwbs_1": "wemwbs_1", "swemwbs_2": "wemwbs_2", "swemwbs_3": "wemwbs_3",
                "swemwbs_4": "wemwbs_6", "swemwbs_5": "wemwbs_7", "swemwbs_6": "wemwbs_9",
                "swemwbs_7": "wemwbs_11"}


# --------------------------------------------------------------------------- study shapes

def read_csv(path: Path) -> pd.DataFrame:
    """A study file as text, exactly as written (no value parsed or blank made NaN)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def edit_manifest(folder: Path, change) -> None:
    path = folder / "study.yaml"
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


def sites_study(folder: Path, sites: list[str] = TWO_SITES) -> Path:
    """The demo cut down to some sites' participants and every row that belongs to them."""
    shutil.copytree(DEMO, folder)
    people = read_csv(folder / "participants.csv")
    people = people[people["site"].isin(sites)]
    ids = set(people["participant_id"])
    people.to_csv(folder / "participants.csv", index=False)
    for name in ("responses.csv", "service_use.csv"):
        rows = read_csv(folder / name)
        rows[rows["participant_id"].isin(ids)].to_csv(folder / name, index=False)
    qual = folder / "qualitative"
    sources = read_csv(qual / "sources.csv")
    keep = sources["participant_id"].isin(ids) | ((sources["participant_id"] == "")
                                                  & sources["site"].isin(sites))
    for path in sources.loc[~keep, "path"]:
        (qual / path).unlink()
    sources[keep].to_csv(qual / "sources.csv", index=False)
    segments = read_csv(qual / "segments.csv")
    segments[segments["source_id"].isin(set(sources.loc[keep, "source_id"]))].to_csv(
        qual / "segments.csv", index=False)
    edit_manifest(folder, lambda m: m.update(sites=list(sites)))
    return folder


def short_form_study(folder: Path) -> Path:
    """The demo with no qualitative material and three instruments: SWEMWBS (its items are
    the WEMWBS items it shares, renamed), GSE and UCLA-3."""
    shutil.copytree(DEMO, folder)
    shutil.rmtree(folder / "qualitative")
    responses = read_csv(folder / "responses.csv")
    kept = [c for c in responses.columns if c.startswith(("gse_", "ucla3_"))]
    short = responses[["participant_id", "timepoint", "completed_date"]].copy()
    for item, source in SWEMWBS_FROM.items():
        short[item] = responses[source]
    pd.concat([short, responses[kept]], axis=1).to_csv(folder / "responses.csv", index=False)

    def change(manifest):
        manifest["instruments"] = ["swemwbs", "gse", "ucla3"]
        del manifest["files"]["qualitative"]
    edit_manifest(folder, change)
    return folder


SHAPES = {"demo": lambda folder: shutil.copytree(DEMO, folder),
          "two_sites": sites_study, "short_form_no_qual": short_form_study}


@pytest.fixture(scope="module", params=list(SHAPES))
def run(request, tmp_path_factory):
    """The four whole-study reports of one study shape, run once; their summaries."""
    root = tmp_path_factory.mktemp(request.param)
    folder = root / "study"
    SHAPES[request.param](folder)
    result = rp.build_reports(folder, root / "out", sites="none", jobs=2, progress=False)
    failed = {r.name: (r.status, r.error) for r in result.results if r.status != "ok"}
    assert failed == {}, failed
    assert sorted(r.name for r in result.results) == NOTEBOOKS
    summaries = {name: json.loads((root / "out" / "study" / f"{name}.summary.json")
                                  .read_text(encoding="utf-8")) for name in NOTEBOOKS}
    return {"shape": request.param, "study": load_study(folder), "summary": summaries}


def same_count(shown, expected: int, k: int) -> None:
    """A count in a summary: the number itself, or (for 1..k-1 only) a withheld string."""
    if isinstance(shown, str):
        assert 0 < expected < k, (shown, expected)
    else:
        assert isinstance(shown, int) and not isinstance(shown, bool), shown
        assert shown == expected


# --------------------------------------------------------------------------- 01

def test_data_quality_summary(run):
    s, summary = run["study"], run["summary"]["01_data_quality"]
    k = s.min_cell_size
    assert (summary["report"], summary["site"]) == ("01_data_quality", "all")
    same_count(summary["referred"], s.participants["participant_id"].nunique(), k)
    # pairs: people with any questionnaire item answered at the first and the last time point
    responses = s.responses
    items = [c for c in responses.columns
             if c not in ("participant_id", "timepoint", "completed_date")]
    answered = responses.loc[responses[items].notna().any(axis=1)]
    at = answered.groupby(answered["timepoint"].astype(str))["participant_id"].apply(set)
    both = at.get(s.timepoints[0], set()) & at.get(s.timepoints[-1], set())
    same_count(summary["pairs"], len(both), k)
    same_count(summary["interviewed"], len(s.interviewed), k)
    same_count(summary["warnings"], len(s.warnings), k)
    expected = {"demo": (400, 60), "two_sites": (45, 11), "short_form_no_qual": (400, 0)}
    assert (len(s.participants), len(s.interviewed)) == expected[run["shape"]]


# --------------------------------------------------------------------------- 02

def test_outcome_change_summary_is_the_primary_paired_change(run):
    s, summary = run["study"], run["summary"]["02_outcome_change"]
    k = s.min_cell_size
    assert (summary["report"], summary["site"]) == ("02_outcome_change", "all")
    primary = summary["primary"]
    instrument, scale = outcomes.primary_outcome(s)
    assert (primary["instrument"], primary["scale"]) == (instrument, scale)
    assert (instrument, scale) == {"short_form_no_qual": ("swemwbs", "metric")}.get(
        run["shape"], ("wemwbs", "total"))
    table = paired_change(s.scores, s.scale_info, confidence=0.95, min_cell_size=k,
                          timepoints=s.timepoints, wilcoxon=False, instruments=[instrument])
    row = table[table["scale"] == scale]
    assert len(row) == 1
    row = row.iloc[0]
    same_count(primary["n_pairs"], int(row["n_pairs"]), k)
    assert primary["small_group"] is bool(row["small_group"]) is False
    assert primary["confidence"] == 0.95
    assert primary["change_mean"] == pytest.approx(row["change_mean"], rel=1e-12)
    assert primary["ci_low"] == pytest.approx(row["change_ci_low"], rel=1e-12)
    assert primary["ci_high"] == pytest.approx(row["change_ci_high"], rel=1e-12)
    assert primary["ci_low"] < primary["change_mean"] < primary["ci_high"]
    assert f"n = {int(row['n_pairs'])}" in primary["sentence"]


# --------------------------------------------------------------------------- 03

def test_qualitative_summary_names_the_most_voiced_themes(run):
    s, summary = run["study"], run["summary"]["03_qualitative_benefits"]
    assert (summary["report"], summary["site"]) == ("03_qualitative_benefits", "all")
    q = s.qualitative
    if q is None:
        assert run["shape"] == "short_form_no_qual"
        assert summary["top_themes"] == []
        return
    freq = themes.code_frequencies(q.segments, q.sources, source_types=["interview"])
    people = freq.set_index(freq["code_id"].map(q.codebook.set_index("id")["name"]))[
        "participants"]
    top = summary["top_themes"]
    assert len(top) == min(3, len(people)) == 3
    assert len(set(top)) == 3 and set(top) <= set(people.index)
    # the three voiced by most people (ties in any order)
    fewest_shown = people[top].min()
    assert (people.drop(top) <= fewest_shown).all()
    assert list(people[top]) == sorted(people[top], reverse=True)


# --------------------------------------------------------------------------- 04

def test_integration_summary_is_the_joint_display(run):
    s, summary = run["study"], run["summary"]["04_integration"]
    assert (summary["report"], summary["site"]) == ("04_integration", "all")
    if s.qualitative is None:
        assert run["shape"] == "short_form_no_qual"
        assert "fit" not in summary and "not_measured" not in summary
        return
    sbs = integrate.side_by_side(s, meta_inferences_path=s.meta_inferences_path,
                                 crosswalk=s.crosswalk_path, primary=("wemwbs", "total"),
                                 quotes=1)
    fit = {str(t): str(f) for t, f in zip(sbs["theme"], sbs["fit"])}
    assert len(fit) >= 3
    assert summary["fit"] == fit
    coverage = integrate.measurement_coverage(s, crosswalk=s.crosswalk_path)
    unmeasured = sorted(set(coverage.loc[coverage["coverage"] != "measured", "theme"]))
    assert summary["not_measured"] == unmeasured
    if run["shape"] == "demo":
        assert unmeasured == ["family_dynamics", "trust_services"]
