"""Issue 23: 7. The primary outcome tested alone; the secondary outcomes a Holm family of
their own; adjusted (Bonferroni) intervals for the secondaries, checked against
statsmodels' multipletests and scipy's t quantiles."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import DEMO
from scipy import stats
from statsmodels.stats.multitest import multipletests

from spanalysis import load_study
from spanalysis.change import outcomes
from spanalysis.change.family import scale_outcomes


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def test_primary_first_alone_and_secondaries_holm_among_themselves(demo):
    table = outcomes.change_table(demo)
    primary = outcomes.primary_outcome(demo)
    assert set(outcomes.HIERARCHY_COLUMNS) <= set(table.columns)
    first = table.iloc[0]
    assert (first["instrument"], first["scale"]) == primary
    assert first["outcome_role"] == "primary"
    assert first["p_hierarchy"] == first["p"]                     # tested alone
    assert first["adjustment"] == "none: the primary outcome, tested alone"
    assert (first["change_ci_low_adj"], first["change_ci_high_adj"]) == pytest.approx(
        (first["change_ci_low"], first["change_ci_high"]))
    sec = table[table["outcome_role"] == "secondary"]
    assert len(sec) == len(table) - 1
    # Holm over the distinct secondary outcomes: the scales that stand for them
    keys = list(zip(sec["instrument"], sec["scale"]))
    labels = scale_outcomes(demo.instruments, keys)
    stand = {}
    for i, (k, lab) in enumerate(zip(keys, labels)):
        if lab not in stand or (k == lab and keys[stand[lab]] != lab):
            stand[lab] = i
    rows = sorted(stand.values())
    ref = multipletests(sec["p"].to_numpy()[rows], method="holm")[1]
    assert np.allclose(sec["p_hierarchy"].to_numpy()[rows], ref)
    m = len(rows)
    assert set(sec["adjustment"]) == {f"Holm over the {m} secondary outcomes"}
    # the secondaries are adjusted for fewer tests than the old whole-family p_holm
    assert (sec["p_hierarchy"] <= sec["p_holm"] + 1e-15).all()


def test_secondary_intervals_are_bonferroni_t_intervals(demo):
    table = outcomes.change_table(demo)
    sec = table[table["outcome_role"] == "secondary"].iloc[0]
    m = int(sec["adjustment"].split()[3])          # "Holm over the 12 secondary outcomes"
    df = sec["n_pairs"] - 1
    se = (sec["change_ci_high"] - sec["change_ci_low"]) / (2 * stats.t.ppf(0.975, df))
    mean = (sec["change_ci_high"] + sec["change_ci_low"]) / 2
    q = stats.t.ppf(1 - 0.05 / (2 * m), df)
    assert sec["change_ci_low_adj"] == pytest.approx(mean - q * se)
    assert sec["change_ci_high_adj"] == pytest.approx(mean + q * se)
    assert sec["change_ci_low_adj"] < sec["change_ci_low"]


def test_primary_outcome_from_the_manifest(tmp_path, demo):
    # a study whose primary_outcome is GSE: GSE is tested alone, WEMWBS joins the family
    import shutil

    folder = tmp_path / "s"
    shutil.copytree(DEMO, folder)
    text = (folder / "study.yaml").read_text()
    assert "primary_outcome:" not in text
    text += "\nprimary_outcome: {instrument: gse, scale: total}\n"
    (folder / "study.yaml").write_text(text)
    study = load_study(folder)
    assert outcomes.primary_outcome(study) == ("gse", "total")
    table = outcomes.change_table(study).set_index(["instrument", "scale"])
    assert table.loc[("gse", "total"), "outcome_role"] == "primary"
    assert table.loc[("gse", "total"), "p_hierarchy"] == table.loc[("gse", "total"), "p"]
    assert table.loc[("wemwbs", "total"), "outcome_role"] == "secondary"
    assert table.loc[("gse", "mean"), "outcome_role"] == "secondary"
