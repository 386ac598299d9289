"""Issue 23: 7. The joint display's fit uses the outcome hierarchy's adjusted intervals.

The primary outcome (``primary_outcome:``, default WEMWBS total) is tested alone, so the
items it scores keep their ordinary interval; the items of secondary outcomes get the
Bonferroni interval at 1 - alpha/m, m the number of secondary outcomes (Holm's step-down
procedure has no simultaneous intervals; the Bonferroni ones are those of its first step,
Strassburger & Bretz 2008, Stat Med 27:4914, and conservative after it).

References used here, independent of the code under test: Welch's SE and df written out from
the group sizes and SDs (Welch 1947), the t quantiles from scipy, and m counted by hand from
the demo's instruments.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spanalysis import integrate as I
from spanalysis.change import outcomes
from spanalysis.study import load_study

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

# The demo's questionnaire outcomes besides the primary (WEMWBS total), each counted once
# (spanalysis.change.family): SWEMWBS metric and raw (one outcome, scored from the WEMWBS
# items), GSE total and mean (one), the four ONS4 items, UCLA-3, ONS loneliness and the four
# MYCaW scores (concern 1, concern 2, wellbeing and the profile, each from other items):
# 1 + 1 + 4 + 1 + 1 + 4 = 12.
DEMO_SECONDARY = 12


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


@pytest.fixture(scope="module")
def coverage(demo):
    return I.measurement_coverage(demo)


def _welch(r):
    a = r["voiced_sd"] ** 2 / r["n_voiced_completers"]
    b = r["not_voiced_sd"] ** 2 / r["n_not_voiced_completers"]
    df = (a + b) ** 2 / (a ** 2 / (r["n_voiced_completers"] - 1)
                         + b ** 2 / (r["n_not_voiced_completers"] - 1))
    return np.sqrt(a + b), df


def test_family_size_counted_by_hand(demo):
    assert outcomes.secondary_family_size(demo) == DEMO_SECONDARY
    # the same family as report 02's change table states
    table = outcomes.change_table(demo)
    sec = table[table["outcome_role"] == "secondary"]
    assert set(sec["adjustment"]) == {f"Holm over the {DEMO_SECONDARY} secondary outcomes"}


def test_adjusted_intervals_by_hand(coverage):
    measured = coverage[(coverage["coverage"] == "measured").to_numpy()
                        & ~coverage["small_group"].fillna(True).to_numpy(bool)]
    assert len(measured) >= 6
    m = DEMO_SECONDARY
    for _, r in measured.iterrows():
        se, df = _welch(r)
        primary = str(r["item"]).startswith("wemwbs_")    # WEMWBS total's items
        assert r["outcome_role"] == ("primary" if primary else "secondary")
        q = stats.t.ppf(0.975 if primary else 1 - 0.05 / (2 * m), df)
        diff = r["improvement_difference"]
        assert r["improvement_ci_low_adj"] == pytest.approx(diff - q * se, rel=1e-9)
        assert r["improvement_ci_high_adj"] == pytest.approx(diff + q * se, rel=1e-9)
        assert r["fit_level"] == pytest.approx(0.95 if primary else 1 - 0.05 / m)
        if primary:
            assert r["fit_interval"].startswith("95%, unadjusted")
        else:
            assert r["fit_interval"] == (f"{100 * (1 - 0.05 / m):.1f}%, Bonferroni-adjusted "
                                         f"for {m} secondary outcomes")
            assert r["improvement_ci_low_adj"] < r["improvement_ci_low"]


def test_the_adjustment_flips_a_fit_on_the_demo(demo, coverage):
    """Social connection: ONS loneliness (a secondary outcome) has an unadjusted interval
    above 0 but a Bonferroni interval that includes it, and no other covering item's
    adjusted interval excludes 0: confirmation becomes discordance."""
    rows = coverage[coverage["theme"] == "social_connection"].set_index("item")
    ons = rows.loc["ons_lonely"]
    assert ons["improvement_ci_low"] > 0 >= ons["improvement_ci_low_adj"]
    assert (rows["improvement_ci_low_adj"] <= 0).all()
    fit = I.classify_fit(coverage).set_index("theme")
    plain = I.classify_fit(coverage, interval="unadjusted").set_index("theme")
    assert plain.at["social_connection", "fit"] == "confirmation"
    assert fit.at["social_connection", "fit"] == "discordance"
    assert "adjusted interval" in fit.at["social_connection", "fit_rule"]
    assert "Bonferroni" in fit.at["social_connection", "fit_interval"]
    # a theme covered by the primary outcome keeps its fit: hope, WEMWBS item 1
    assert fit.at["hope", "fit"] == plain.at["hope", "fit"] == "confirmation"
    assert fit.at["hope", "fit_interval"].startswith("95%, unadjusted")
    # the side-by-side display shows the same fit and says which interval it used
    sbs = I.side_by_side(demo, quotes=0).set_index("theme")
    assert sbs.at["social_connection", "fit"] == "discordance"
    assert sbs.at["social_connection", "fit_interval"] == fit.at["social_connection",
                                                                 "fit_interval"]
    assert "adjusted 99.6% CI" in sbs.at["social_connection", "quantitative_result"]
    assert "adjusted" not in sbs.at["hope", "quantitative_result"]


def test_flip_on_a_hand_made_table():
    cov = pd.DataFrame({"theme": ["t", "t"], "coverage": "measured", "small_group": False,
                        "improvement_ci_low": [0.05, -0.4], "improvement_ci_high": [0.9, 0.3],
                        "improvement_ci_low_adj": [-0.1, -0.6],
                        "improvement_ci_high_adj": [1.05, 0.5]})
    assert I.classify_fit(cov, interval="unadjusted")["fit"].tolist() == ["confirmation"]
    assert I.classify_fit(cov)["fit"].tolist() == ["discordance"]
    with pytest.raises(Exception, match="lacks the interval"):
        I.classify_fit(cov.drop(columns=["improvement_ci_low_adj"]))


def test_another_primary_outcome_changes_which_items_are_adjusted(tmp_path):
    folder = tmp_path / "s"
    shutil.copytree(DEMO, folder)
    text = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(text + "\nprimary_outcome: {instrument: ucla3, "
                                              "scale: total}\n")
    study = load_study(folder)
    cov = I.measurement_coverage(study).set_index(["theme", "item"])
    ucla = cov.loc[("social_connection", "ucla3_2")]
    assert ucla["outcome_role"] == "primary"
    assert ucla["improvement_ci_low_adj"] == pytest.approx(ucla["improvement_ci_low"])
    hope = cov.loc[("hope", "wemwbs_1")]
    assert hope["outcome_role"] == "secondary"
    m = outcomes.secondary_family_size(study)
    se, df = _welch(hope)
    assert hope["improvement_ci_low_adj"] == pytest.approx(
        hope["improvement_difference"] - stats.t.ppf(1 - 0.05 / (2 * m), df) * se, rel=1e-9)
