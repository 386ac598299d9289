"""Cronbach's alpha in the study's own data, checked against pingouin called directly and
against the formula worked by hand."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from spanalysis import instruments as I
from spanalysis.errors import InputError

nan = np.nan


def test_alpha_by_hand_on_a_small_matrix():
    # items (4 people x 3 items):     i1 = 1,2,3,3  i2 = 1,2,2,3  i3 = 1,1,3,3
    # item variances (ddof 1): i1 mean 2.25, SS = 1.5625+0.0625+0.5625+0.5625 = 2.75 -> 0.91667
    #                          i2 mean 2, SS = 1+0+0+1 = 2 -> 0.66667
    #                          i3 mean 2, SS = 1+1+1+1 = 4 -> 1.33333      sum = 2.91667
    # totals 3,5,8,9: mean 6.25, SS = 10.5625+1.5625+3.0625+7.5625 = 22.75 -> var 7.58333
    # alpha = 3/2 * (1 - 2.91667/7.58333) = 1.5 * 0.615385 = 0.923077
    df = pd.DataFrame({"participant_id": list("abcd"), "timepoint": "t0",
                       "ucla3_1": [1, 2, 3, 3], "ucla3_2": [1, 2, 2, 3], "ucla3_3": [1, 1, 3, 3]})
    r = I.reliability(df, ["ucla3"])
    assert len(r) == 1
    assert r.loc[0, "alpha"] == pytest.approx(0.923077, abs=1e-6)
    assert r.loc[0, "n"] == 4 and r.loc[0, "n_items"] == 3
    assert r.loc[0, "ci_low"] <= r.loc[0, "alpha"] <= r.loc[0, "ci_high"]


def _wemwbs_sample(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    trait = rng.normal(size=n)
    items = np.clip(np.rint(3 + trait[:, None] + rng.normal(scale=0.9, size=(n, 14))), 1, 5)
    items[rng.random(items.shape) < 0.03] = nan
    df = pd.DataFrame(items, columns=[f"wemwbs_{k}" for k in range(1, 15)])
    df.insert(0, "timepoint", np.where(np.arange(n) < n // 2, "baseline", "followup"))
    df.insert(0, "participant_id", [f"p{k % (n // 2)}" for k in range(n)])
    return df


def test_alpha_equals_pingouin_on_the_same_items():
    df = _wemwbs_sample(400, 7)
    r = I.reliability(df, I.registry(["wemwbs", "swemwbs"]), confidence=0.9)
    assert set(zip(r.instrument, r.scale)) == {("wemwbs", "total"), ("swemwbs", "metric"),
                                              ("swemwbs", "raw")}
    for tp in ("baseline", "followup"):
        sub = df[df.timepoint == tp]
        w = sub[[f"wemwbs_{k}" for k in range(1, 15)]]
        alpha, _ = pg.cronbach_alpha(data=w, nan_policy="listwise", ci=0.9)
        # pingouin 0.7 computes the listwise CI with the n of the rows *before* dropping
        # incomplete ones; spanalysis passes complete cases so the CI uses the n analysed.
        _, ci = pg.cronbach_alpha(data=w.dropna(), ci=0.9)
        row = r[(r.instrument == "wemwbs") & (r.timepoint == tp)].iloc[0]
        assert row.alpha == pytest.approx(alpha, abs=1e-12)
        assert (row.ci_low, row.ci_high) == (ci[0], ci[1])
        assert row.n == len(w.dropna())
        # SWEMWBS is derived from WEMWBS items 1, 2, 3, 6, 7, 9, 11.
        sw = sub[[f"wemwbs_{k}" for k in (1, 2, 3, 6, 7, 9, 11)]]
        a7, _ = pg.cronbach_alpha(data=sw, nan_policy="listwise", ci=0.9)
        row = r[(r.scale == "metric") & (r.timepoint == tp)].iloc[0]
        assert row.alpha == pytest.approx(a7, abs=1e-12) and row.n == len(sw.dropna())
    pub = r[r.instrument == "wemwbs"]
    assert (pub.published_alpha == 0.91).all()
    assert pub.published_source.str.contains("Tennant").all()
    assert r[r.instrument == "swemwbs"].published_alpha.isna().all()


def test_djg6_alpha_uses_the_0_1_item_scores():
    rng = np.random.default_rng(3)
    ans = rng.integers(1, 4, size=(60, 6)).astype(float)
    df = pd.DataFrame(ans, columns=[f"djg6_{k}" for k in range(1, 7)])
    df.insert(0, "timepoint", "t0")
    df.insert(0, "participant_id", [f"p{k}" for k in range(60)])
    r = I.reliability(df, ["djg6"]).set_index("scale")
    # Dichotomised by hand: emotional items (1, 4, 6) score 1 for answers 1-2,
    # social items (2, 3, 5) score 1 for answers 2-3.
    scored = pd.DataFrame({f"d{k}": (ans[:, k - 1] <= 2) if k in (1, 4, 6)
                           else (ans[:, k - 1] >= 2) for k in range(1, 7)}).astype(float)
    a_total, _ = pg.cronbach_alpha(data=scored)
    a_emo, _ = pg.cronbach_alpha(data=scored[["d1", "d4", "d6"]])
    assert r.loc["total", "alpha"] == pytest.approx(a_total, abs=1e-12)
    assert r.loc["emotional", "alpha"] == pytest.approx(a_emo, abs=1e-12)


def test_scales_without_meaningful_alpha_are_left_out_and_tiny_groups_give_nan():
    df = pd.DataFrame({"participant_id": ["a"], "timepoint": ["t0"], "mycaw_concern1": [3],
                       "mycaw_wellbeing": [2], "gas_1": [1], "ons4_satisfaction": [5],
                       "ons4_worthwhile": [5], "ons4_happy": [5], "ons4_anxious": [5],
                       "ucla3_1": [1], "ucla3_2": [2], "ucla3_3": [3]})
    r = I.reliability(df, ["mycaw", "gas", "ons4", "ucla3"])
    assert r[["instrument", "scale"]].values.tolist() == [["ucla3", "total"]]
    assert r.loc[0, "n"] == 1 and math.isnan(r.loc[0, "alpha"])
    with pytest.raises(InputError):
        I.reliability(df, ["ucla3"], confidence=95)
