"""Issue 23: 4. Wilson intervals for how many people improved or deteriorated, under the
disclosure rule.

The reference is statsmodels' ``proportion_confint(count, n, method="wilson")`` (Wilson
1927), computed here from counts taken from the tables independently of the code under test;
the disclosure reference is the count table as the report publishes it
(``disclosure.suppress_counts``): no interval may be shown for a count that table hides.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from spanalysis.change import outcomes, reliable_change_summary
from spanalysis.change.proportions import count_table_intervals
from spanalysis.privacy import disclosure


@pytest.fixture(scope="module")
def demo():
    from spanalysis.study import load_study

    return load_study(Path(__file__).resolve().parents[1] / "data" / "demo")


def _wilson(count, n, level=0.95):
    lo, hi = proportion_confint(count, n, alpha=1 - level, method="wilson")
    return 100 * lo, 100 * hi


def _rc(categories, confidence=0.95):
    n = len(categories)
    return pd.DataFrame({
        "participant_id": [f"P{i}" for i in range(n)], "instrument": "w", "scale": "t",
        "category": categories,
        "exceeds_mid": pd.array([False] * n, dtype="boolean"),
        "worse_by_mid": pd.array([False] * n, dtype="boolean"),
        "clinically_significant": pd.array([pd.NA] * n, dtype="boolean"),
        "sd_used": 9.0, "sd_source": "given", "reliability_used": 0.8,
        "reliability_source": "given", "threshold": 7.0, "mid_used": 3.0,
        "mid_source": "given", "cutoff_c": np.nan, "confidence": confidence})


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_summary_intervals_match_statsmodels(level):
    cats = (["reliable improvement"] * 23 + ["no reliable change"] * 70
            + ["reliable deterioration"] * 4)
    row = reliable_change_summary(_rc(cats, level), min_cell_size=5).iloc[0]
    for name, count in (("reliable_improvement", 23), ("reliable_deterioration", 4)):
        lo, hi = _wilson(count, 97, level)
        assert row[f"pct_{name}_ci_low"] == pytest.approx(lo, rel=1e-10)
        assert row[f"pct_{name}_ci_high"] == pytest.approx(hi, rel=1e-10)
    # nobody deteriorated: the interval starts at exactly 0
    row = reliable_change_summary(_rc(["reliable improvement"] * 3 + ["no reliable change"] * 9),
                                  min_cell_size=5).iloc[0]
    assert row["pct_reliable_deterioration_ci_low"] == 0.0
    assert row["pct_reliable_deterioration_ci_high"] == pytest.approx(_wilson(0, 12)[1])


def _table(rows):
    t = pd.DataFrame(rows, columns=["better", "same", "worse"],
                     index=pd.Index([f"s{i}" for i in range(len(rows))], name="scale"))
    t["Total"] = t.sum(axis=1)
    return t


def test_count_table_intervals_values_and_withholding():
    t = _table([[30, 60, 10], [40, 50, 12], [25, 66, 9]])
    out = count_table_intervals(t, ["better", "worse"], k=5).set_index(["scale", "category"])
    assert not out["withheld"].any()
    for (scale, cat), r in out.iterrows():
        lo, hi = _wilson(t.at[scale, cat], t.at[scale, "Total"])
        assert r["percent_people"] == pytest.approx(100 * t.at[scale, cat] / t.at[scale, "Total"])
        assert (r["percent_people_ci_low"], r["percent_people_ci_high"]) == pytest.approx((lo, hi))
    # a small count (3) and the cells the published table hides to protect it
    t = _table([[30, 60, 10], [40, 50, 3], [25, 66, 9]])
    out = count_table_intervals(t, ["better", "worse"], k=5).set_index(["scale", "category"])
    shown = disclosure.suppress_counts(t, 5, totals="column")
    for (scale, cat), r in out.iterrows():
        hidden = not str(shown.at[scale, cat]).isdigit() or \
            not str(shown.at[scale, "Total"]).isdigit()
        if hidden:
            assert r["withheld"] and np.isnan(r["percent_people_ci_low"])
    assert out.loc[("s1", "worse"), "withheld"]
    # the rest of the row below k: 98 of 100 improved gives away the 2 who did not
    t = _table([[98, 2, 0], [50, 40, 10]])
    out = count_table_intervals(t, ["better"], k=5).set_index("scale")
    assert out.loc["s0", "withheld"]
    # counts published rounded: no interval at all
    t = _table([[30, 60, 10], [40, 50, 12]])
    assert count_table_intervals(t, ["better"], k=5, rounding=5)["withheld"].all()


def test_demo_report_intervals_never_show_a_hidden_count(demo):
    k = demo.min_cell_size
    _, summary = outcomes.reliable_change_table(demo)
    sens = outcomes.reliable_change_sensitivity(demo)
    shares = outcomes.reliable_change_intervals(summary, sens, k)
    main = outcomes.reliable_change_counts(summary)
    shown = disclosure.suppress_counts(main, k, totals="column")
    rows = shares[shares["analysis"] == "reliable change"]
    assert len(rows) == 2 * len(main)
    for r in rows.itertuples():
        count, n = int(main.at[r.scale, r.category]), int(main.at[r.scale, "Total"])
        visible = str(shown.at[r.scale, r.category]).isdigit() and \
            str(shown.at[r.scale, "Total"]).isdigit()
        if not visible or min(count, n - count) in range(1, k):
            assert r.withheld and np.isnan(r.percent_people)
        else:
            assert not r.withheld
            assert (r.percent_people_ci_low, r.percent_people_ci_high) == pytest.approx(
                _wilson(count, n))
    assert (~rows["withheld"]).any() and rows["withheld"].any()   # both cases on the demo
    jt = outcomes.clinical_change_counts(summary)
    jt_rows = shares[shares["analysis"] == "clinically significant change"]
    jt_shown = disclosure.suppress_counts(jt, k, totals="column")
    for r in jt_rows.itertuples():
        if not r.withheld:
            assert str(jt_shown.at[r.scale, r.category]).isdigit()
            assert r.percent_people_ci_low == pytest.approx(
                _wilson(int(jt.at[r.scale, r.category]), int(jt.at[r.scale, "Total"]))[0])
    assert outcomes.reliable_change_intervals(summary, sens, k, rounding=5)["withheld"].all()
