"""Regression to the mean (issue 23: 2): the expected RTM against Barnett, van der Pols &
Dobson (2005) worked by hand, the ANCOVA against statsmodels' formula OLS fitted here, and
the study table against the completers' pairs taken from the existing pair table."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from conftest import DEMO
from scipy import stats

from spanalysis import load_study
from spanalysis.change import outcomes
from spanalysis.change import regression_to_mean as rtm
from spanalysis.errors import InputError

TENNANT = "Tennant et al. 2007, Health Qual Life Outcomes 5:63 (one-week test-retest)"


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


def test_expected_rtm_by_hand():
    # (1 - r)(mu - x_bar) = (1 - 0.83)(49.4 - 39.0) = 0.17 x 10.4 = 1.768
    assert rtm.expected_rtm(39.0, 49.4, 0.83) == pytest.approx(1.768)
    # above the mean the expected change is downwards: 0.5 x (50 - 60) = -5
    assert rtm.expected_rtm(60.0, 50.0, 0.5) == pytest.approx(-5.0)
    assert rtm.expected_rtm(30.0, 50.0, 1.0) == 0


def test_barnett_equation_1_worked_example():
    # Barnett et al. (2005) example: population mean 60, SD 15, people selected at 40 or
    # below. z = (60 - 40)/15 = 1.3333; phi(z) = 0.39894 exp(-z^2/2) = 0.39894 x 0.41111 =
    # 0.16401; 1 - Phi(z) = 0.09121; C(z) = 1.7981. With r = 0.5: 15 x 0.5 x 1.7981 = 13.49.
    assert rtm.rtm_cutoff(60, 15, 0.5, 40, below=True) == pytest.approx(13.49, abs=0.01)
    # r = 0.8: 15 x 0.2 x 1.7981 = 5.394; selected above 80: the same, downwards
    assert rtm.rtm_cutoff(60, 15, 0.8, 40) == pytest.approx(5.394, abs=0.01)
    assert rtm.rtm_cutoff(60, 15, 0.8, 80, below=False) == pytest.approx(-5.394, abs=0.01)


def test_cutoff_form_equals_baseline_mean_form():
    """Equation (1) is (1 - r)(mu - x_bar) with x_bar the mean of the selected group, the
    mean of a normal truncated at the cut-off (scipy's truncnorm, independently)."""
    mu, sigma, cut, r = 60.0, 15.0, 40.0, 0.6
    xbar = stats.truncnorm.mean(-np.inf, (cut - mu) / sigma, loc=mu, scale=sigma)
    assert rtm.rtm_cutoff(mu, sigma, r, cut) == pytest.approx(rtm.expected_rtm(xbar, mu, r))


def test_bad_reliability_is_a_one_line_error(demo):
    with pytest.raises(InputError, match="0 to 1"):
        rtm.expected_rtm(40, 50, 1.3)
    with pytest.raises(InputError, match="where the test-retest"):
        rtm.regression_to_mean(demo, "wemwbs", "total", retest=0.83)
    with pytest.raises(InputError, match="where the population mean"):
        rtm.regression_to_mean(demo, "wemwbs", "total", norm_mean=50)


def _completer_frame(study, instrument="wemwbs", scale="total"):
    pairs = outcomes.score_pairs(study, instrument, scale).reset_index()
    pairs["participant_id"] = pairs["participant_id"].astype(str)
    people = study.participants.assign(participant_id=lambda d: d["participant_id"].astype(str))
    return pairs.merge(people[["participant_id", "site"]], on="participant_id")


def test_ancova_against_statsmodels_formula(demo):
    table = rtm.ancova_followup(demo, "wemwbs", "total").set_index("quantity")
    frame = _completer_frame(demo)
    frame["site"] = frame["site"].astype(str)
    fit = smf.ols("post ~ pre + C(site)", data=frame).fit()
    slope = table.loc["baseline slope"]
    assert slope["estimate"] == pytest.approx(fit.params["pre"])
    assert slope["se"] == pytest.approx(fit.bse["pre"])
    low, high = fit.conf_int().loc["pre"]
    assert (slope["ci_low"], slope["ci_high"]) == pytest.approx((low, high))
    assert slope["df"] == fit.df_resid and slope["n"] == fit.nobs
    # the slope's test is against 1 (no regression towards the mean)
    ref = fit.t_test("pre = 1")
    assert slope["t"] == pytest.approx(np.asarray(ref.tvalue).item())
    assert slope["p"] == pytest.approx(np.asarray(ref.pvalue).item())
    # predicted change for everyone set to the population mean (49.4, the reference norm)
    mu = 49.4
    at_norm = table.loc["change at population mean"]
    assert at_norm["at"] == mu
    assert at_norm["estimate"] == pytest.approx(fit.predict(frame.assign(pre=mu)).mean() - mu)
    c = np.asarray(fit.model.exog.mean(axis=0))
    c[list(fit.params.index).index("pre")] = mu
    assert at_norm["se"] == pytest.approx(float(np.sqrt(c @ fit.cov_params().to_numpy() @ c)))
    # at the baseline mean the prediction is the raw mean change (OLS passes the means)
    at_mean = table.loc["change at baseline mean"]
    assert at_mean["estimate"] == pytest.approx((frame["post"] - frame["pre"]).mean())
    # and the two differ by (1 - b)(mu - x_bar): the RTM formula with the slope for r
    assert at_mean["estimate"] - at_norm["estimate"] == pytest.approx(
        rtm.expected_rtm(frame["pre"].mean(), mu, slope["estimate"]))


def test_ancova_without_site(demo):
    table = rtm.ancova_followup(demo, "wemwbs", "total", site=False, norm_mean=50.1)
    fit = smf.ols("post ~ pre", data=_completer_frame(demo)).fit()
    row = table.set_index("quantity").loc["baseline slope"]
    assert row["estimate"] == pytest.approx(fit.params["pre"]) and row["sites"] == 0
    assert table["at"].iloc[-1] == 50.1


def test_rtm_table_on_the_demo(demo):
    table = rtm.regression_to_mean(demo, "wemwbs", "total", retest=0.83,
                                   retest_source=TENNANT)
    frame = _completer_frame(demo)
    xbar, change = frame["pre"].mean(), (frame["post"] - frame["pre"]).mean()
    r_study = np.corrcoef(frame["pre"], frame["post"])[0, 1]
    # one row per correlation (given, the study's own) and norm (three in the definition)
    assert len(table) == 6
    assert set(table["norm_mean"]) == {49.4, 50.1, 49.6}
    for _, row in table.iterrows():
        r = 0.83 if row["reliability_kind"] == "test_retest" else r_study
        assert row["reliability"] == pytest.approx(r)
        assert row["baseline_mean"] == pytest.approx(xbar)
        assert row["observed_change"] == pytest.approx(change)
        assert row["expected_rtm"] == pytest.approx((1 - r) * (row["norm_mean"] - xbar))
        assert row["share_of_change"] == pytest.approx(row["expected_rtm"] / change)
    primary = table[table["primary"]]
    assert len(primary) == 1
    p = primary.iloc[0]
    assert p["reliability_kind"] == "test_retest" and p["norm_mean"] == 49.4
    share = round(100 * (1 - 0.83) * (49.4 - xbar) / change)
    assert f"about {share}% of the observed change" in p["sentence"]
    assert table["sentence"].notna().sum() == 1


def test_rtm_uses_the_published_retest_first_then_the_study_correlation(demo):
    # the WEMWBS definition carries the published one-week test-retest (0.83, Tennant et al.
    # 2007) beside its Cronbach's alpha: it is the first correlation, the study's own second
    table = rtm.regression_to_mean(demo, "wemwbs", "total")
    assert list(table["reliability_kind"].unique()) == ["test_retest", "study"]
    primary = table.loc[table["primary"]].iloc[0]
    assert primary["reliability"] == 0.83 and "Tennant" in primary["reliability_source"]
    assert "test-retest reliability of 0.83" in primary["sentence"]


def test_rtm_without_a_published_retest_uses_the_study_correlation():
    # a scale whose definition gives no test-retest value (here a stand-in with none)
    rng = np.random.default_rng(3)
    pre = rng.normal(40, 8, 60)
    table = rtm.regression_to_mean(_toy(pre, pre + 5 + rng.normal(0, 4, 60),
                                        norms=[SimpleNamespace(mean=50.0, source="a survey",
                                                               group="adults",
                                                               reference=True)]), "w", "t")
    assert list(table["reliability_kind"].unique()) == ["study"]
    assert "own baseline-follow-up correlation" in table.loc[table["primary"], "sentence"].iloc[0]


def _toy(pre, post, norms=()):
    n = len(pre)
    ids = [f"P{i}" for i in range(n)]
    scores = pd.DataFrame({"participant_id": ids * 2, "instrument": "w", "scale": "t",
                           "timepoint": ["baseline"] * n + ["followup"] * n,
                           "score": list(pre) + list(post)})
    scale = SimpleNamespace(id="t", reliability=None, retest=None, norms=tuple(norms))
    return SimpleNamespace(
        scores=scores, participants=pd.DataFrame({"participant_id": ids, "site": "A"}),
        timepoints=["baseline", "followup"], min_cell_size=5,
        scale_info=pd.DataFrame({"instrument": ["w"], "scale": ["t"],
                                 "direction": ["higher"]}),
        instruments={"w": SimpleNamespace(scales=[scale])})


def test_rtm_sentences_for_each_case():
    norm = SimpleNamespace(group="everyone", mean=50.0, source="a survey", reference=True)
    rng = np.random.default_rng(1)
    pre = rng.normal(60, 5, 40).round()
    up = pre + 4 + rng.normal(0, 2, 40)
    # started above the mean and improved: RTM pulls the other way
    above = rtm.regression_to_mean(_toy(pre, up, [norm]), "w", "t", retest=0.8,
                                   retest_source="a paper")
    assert "cannot explain" in above.loc[above["primary"], "sentence"].iloc[0]
    # started far below with a small change: RTM could explain it all
    low = pre - 30
    below = rtm.regression_to_mean(_toy(low, low + 1, [norm]), "w", "t", retest=0.5,
                                   retest_source="a paper")
    assert "regression to the mean alone" in below.loc[below["primary"], "sentence"].iloc[0]
    assert below.loc[below["primary"], "share_of_change"].iloc[0] > 1
    # no norm in the definition and none given
    none = rtm.regression_to_mean(_toy(pre, up), "w", "t")
    assert "no population norm" in none.loc[none["primary"], "sentence"].iloc[0]
    # a given norm replaces the definition's
    given = rtm.regression_to_mean(_toy(pre, up, [norm]), "w", "t", norm_mean=55,
                                   norm_source="own survey")
    assert list(given["norm_mean"]) == [55]
    # too few people: withheld
    few = rtm.regression_to_mean(_toy(pre[:3], up[:3], [norm]), "w", "t")
    assert few["expected_rtm"].isna().all() and few["small_group"].all()
    assert rtm.ancova_followup(_toy(pre[:3], up[:3], [norm]), "w", "t").empty
    assert math.isnan(few["baseline_mean"].iloc[0])
