"""Missing follow-ups (issue 23: 1): Rubin's rules against a hand-worked example and against
statsmodels' own pooling, multiple imputation recovering a known change on simulated data
missing at random where the completers are biased, determinism, completers and BOCF against
the existing attrition table, the tipping point against its closed form, and the baseline
comparison of completers and non-completers against direct counts."""
from __future__ import annotations

import math
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO
from scipy import stats

from spanalysis import load_study
from spanalysis.change import completer_comparison, missing, outcomes
from spanalysis.errors import InputError


@pytest.fixture(scope="module")
def demo():
    return load_study(DEMO)


# --------------------------------------------------------------------------------------------
# Rubin's rules
# --------------------------------------------------------------------------------------------
def test_rubin_rules_hand_worked_example():
    # Worked by hand from Rubin (1987) and Barnard & Rubin (1999) (formulas as in van Buuren,
    # Flexible Imputation of Missing Data, 2nd ed., sections 2.3.2-2.3.6, and R's mice::pool):
    # Q = 1, 2, 3; U = 1, 1, 1; m = 3; nu_com = 10.
    #   Q_bar = 2; W_bar = 1; B = ((1-2)^2 + 0 + (3-2)^2) / 2 = 1
    #   T = 1 + (1 + 1/3) * 1 = 7/3
    #   r = (4/3) / 1 = 4/3; lambda = (4/3) / (7/3) = 4/7
    #   nu_old = (m - 1) / lambda^2 = 2 * 49/16 = 49/8
    #   nu_obs = (11/13) * 10 * (1 - 4/7) = 330/91
    #   nu = (49/8)(330/91) / (49/8 + 330/91) = 16170/7099
    #   fmi = (r + 2/(nu + 3)) / (1 + r)
    res = missing.rubin_pool([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], df_complete=10)
    nu = 16170 / 7099
    assert res["estimate"] == pytest.approx(2.0)
    assert res["within"] == pytest.approx(1.0)
    assert res["between"] == pytest.approx(1.0)
    assert res["total"] == pytest.approx(7 / 3)
    assert res["riv"] == pytest.approx(4 / 3)
    assert res["lambda"] == pytest.approx(4 / 7)
    assert res["df"] == pytest.approx(nu)
    assert res["fmi"] == pytest.approx((4 / 3 + 2 / (nu + 3)) / (7 / 3))
    half = stats.t.ppf(0.975, nu) * math.sqrt(7 / 3)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((2 - half, 2 + half))
    # the large-sample df (nu_com infinite) is Rubin's nu_old
    assert missing.rubin_pool([1.0, 2.0, 3.0], [1.0] * 3)["df"] == pytest.approx(49 / 8)


def test_rubin_rules_match_statsmodels_mice_combine(demo):
    """statsmodels' MICE.combine pools OLS fits by the same rules (without the df): fit the
    intercept-only model of change to each of our imputed data sets and let it pool them."""
    import statsmodels.api as sm
    from statsmodels.imputation.mice import MICE

    imp = missing.impute_followup(demo, "wemwbs", "total")
    x = imp.data["pre"].to_numpy()
    diffs = imp.post - x[:, None]
    exog = np.column_stack([np.ones(len(x)), x - x.mean()])   # two terms: combine needs 2-d
    fits = [sm.OLS(diffs[:, j], exog).fit() for j in range(imp.m)]
    pooled_by_statsmodels = MICE.__new__(MICE)
    pooled_by_statsmodels.results_list = fits
    pooled_by_statsmodels.exog_names = pooled_by_statsmodels.endog_names = None
    pooled_by_statsmodels.model_class = sm.OLS
    ref = pooled_by_statsmodels.combine()
    for k in range(2):
        ours_k = missing.rubin_pool([f.params[k] for f in fits],
                                    [f.cov_params()[k, k] for f in fits], len(x) - 2)
        assert ours_k["estimate"] == pytest.approx(float(ref.params[k]))
        assert ours_k["total"] == pytest.approx(float(ref.cov_params()[k, k]))
        assert ours_k["lambda"] == pytest.approx(float(ref.frac_miss_info[k]))
    ours = missing.rubin_pool(diffs.mean(axis=0), diffs.var(axis=0, ddof=1) / len(diffs),
                              len(diffs) - 1)
    row = missing.missing_comparison(demo, "wemwbs", "total").set_index("method").loc["mi"]
    assert row["change_mean"] == pytest.approx(ours["estimate"])
    assert row["se"] == pytest.approx(ours["se"])


def test_rubin_rules_refuse_one_imputation():
    with pytest.raises(InputError, match="at least two"):
        missing.rubin_pool([1.0], [1.0])


# --------------------------------------------------------------------------------------------
# multiple imputation on simulated data missing at random
# --------------------------------------------------------------------------------------------
def _simulated(seed: int = 7, n: int = 800):
    """A study-like object: change depends on sessions and site; people with few sessions
    or low baseline scores drop out (missing at random given what is observed), so the
    completers overstate the mean change. The true mean change of everyone is known."""
    rng = np.random.default_rng(seed)
    site = rng.choice(["A", "B", "C"], n)
    sessions = rng.poisson(4, n)
    pre = rng.normal(40, 8, n).round()
    effect = 0.5 + 2.0 * sessions + np.where(site == "C", 2.0, 0.0)
    post_full = (pre + effect + 0.3 * (45 - pre) + rng.normal(0, 4, n)).round()
    logit = 0.2 + 0.7 * (sessions - 4) + 0.04 * (pre - 40)
    observed = rng.random(n) < 1 / (1 + np.exp(-logit))
    ids = [f"P{i:04d}" for i in range(n)]
    scores = pd.DataFrame({
        "participant_id": ids * 2, "instrument": "w", "scale": "t",
        "timepoint": ["baseline"] * n + ["followup"] * n,
        "score": np.r_[pre, np.where(observed, post_full, np.nan)]})
    participants = pd.DataFrame({"participant_id": ids, "site": site,
                                 "sessions_attended": sessions,
                                 "gender": rng.choice(["F", "M"], n)})
    info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"],
                         "mid": [3.0]})
    study = SimpleNamespace(scores=scores, participants=participants,
                            timepoints=["baseline", "followup"], scale_info=info,
                            min_cell_size=5, instruments={}, rounding=None)
    return study, float(np.mean(post_full - pre)), observed


def test_mi_recovers_known_change_where_completers_are_biased():
    study, truth, observed = _simulated()
    assert 0.3 < 1 - observed.mean() < 0.6          # a realistic share lost
    table = missing.missing_comparison(study, "w", "t").set_index("method")
    mi, done, bocf = table.loc["mi"], table.loc["completers"], table.loc["bocf"]
    # the completers are biased upwards by more than a point; BOCF downwards by more
    assert done["change_mean"] - truth > 1.0
    assert truth - bocf["change_mean"] > 2.0
    # MI is within 0.5 points of the truth and its interval covers it
    assert abs(mi["change_mean"] - truth) < 0.5
    assert mi["ci_low"] < truth < mi["ci_high"]
    assert mi["n_analysed"] == 800 and mi["n_completers"] == observed.sum()
    assert 0 < mi["fmi"] < 1 and mi["m"] == 20
    # predictive mean matching (statsmodels' own) is pulled towards the completers here,
    # as the module docstring says: the lost are where completers are few
    pmm = missing.missing_comparison(study, "w", "t", methods="mi", imputation="pmm")
    assert abs(mi["change_mean"] - truth) < pmm["change_mean"].iloc[0] - truth


def test_mi_without_the_auxiliaries_stays_biased():
    """The auxiliaries are what makes MAR work here: imputing from the baseline score alone
    leaves most of the completers' bias in place (a check that they are really used)."""
    study, truth, _ = _simulated()
    alone = missing.missing_comparison(study, "w", "t", auxiliaries=(), methods="mi")
    assert alone["change_mean"].iloc[0] - truth > 0.8


def test_imputed_scores_are_observed_scores():
    """Predictive mean matching: every imputed value is some completer's follow-up score."""
    study, _, observed = _simulated()
    imp = missing.impute_followup(study, "w", "t", m=5, imputation="pmm")
    donors = set(imp.data.loc[imp.data["completer"], "post"])
    assert set(np.unique(imp.post)) <= donors
    kept = imp.data["completer"].to_numpy()
    assert (imp.post[kept] == imp.data["post"].to_numpy()[kept, None]).all()


def test_norm_draw_against_its_moments():
    """draw_norm: over many draws, the imputed values have the regression's predicted mean
    and variance sigma^2 (1 + x (X'X)^-1 x') times E[RSS/chi2] = sigma_hat^2 (n-p)/(n-p-2)."""
    rng = np.random.default_rng(5)
    n = 50
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = 2 + 3 * x[:, 1] + rng.normal(0, 2, n)
    x_mis = np.array([[1.0, 0.5]])
    draws = np.array([missing.draw_norm(y, x, x_mis, rng)[0] for _ in range(20000)])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    s2 = float(((y - x @ beta) ** 2).sum() / (n - 2))
    lev = (x_mis @ np.linalg.inv(x.T @ x) @ x_mis.T).item()
    assert draws.mean() == pytest.approx((x_mis @ beta).item(), abs=0.05)
    assert draws.var() == pytest.approx(s2 * (n - 2) / (n - 4) * (1 + lev), rel=0.04)


def test_missing_sessions_are_imputed_in_the_chain():
    study, truth, _ = _simulated()
    people = study.participants.copy()
    people["sessions_attended"] = people["sessions_attended"].astype(float)
    people.loc[people.index[::10], "sessions_attended"] = np.nan
    study.participants = people
    row = missing.missing_comparison(study, "w", "t", methods="mi").iloc[0]
    assert np.isfinite(row["change_mean"]) and abs(row["change_mean"] - truth) < 0.7


# --------------------------------------------------------------------------------------------
# determinism and the cache
# --------------------------------------------------------------------------------------------
def test_same_seed_same_numbers_other_seed_other_numbers():
    study, _, _ = _simulated()
    missing.clear_cache()
    a = missing.impute_followup(study, "w", "t", seed=11).post
    missing.clear_cache()
    b = missing.impute_followup(study, "w", "t", seed=11).post
    c = missing.impute_followup(study, "w", "t", seed=12).post
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_numbers_in_another_process(demo):
    here = missing.missing_comparison(demo, "wemwbs", "total", methods="mi")
    code = ("from spanalysis import load_study; from spanalysis.change import missing;"
            f"print(repr(float(missing.missing_comparison(load_study(r'{DEMO}'), 'wemwbs', "
            "'total', methods='mi')['change_mean'].iloc[0])))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert float(out.stdout.strip()) == here["change_mean"].iloc[0]


def test_demo_mi_is_fast_and_cached(demo):
    missing.clear_cache()
    t0 = time.perf_counter()
    first = missing.missing_comparison(demo, "wemwbs", "total")
    took = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = missing.tipping_point(demo, "wemwbs", "total")
    cached = time.perf_counter() - t0
    assert took < 8, f"20 imputations of the demo took {took:.1f} s"
    assert cached < took
    assert first.loc[0, "change_mean"] == again[1].loc[0, "change_mean_mar"]


def test_site_uses_the_whole_studys_imputations(demo):
    site = demo.sites[0]
    part = demo.for_site(site)
    whole = missing.impute_followup(demo, "wemwbs", "total")
    mine = missing.impute_followup(part, "wemwbs", "total", whole=demo)
    ids = set(part.participants["participant_id"].astype(str))
    keep = whole.data["participant_id"].isin(ids).to_numpy()
    assert np.array_equal(mine.post, whole.post[keep])
    row = missing.missing_comparison(part, "wemwbs", "total", whole=demo, methods="mi")
    assert row["n_analysed"].iloc[0] == keep.sum()


# --------------------------------------------------------------------------------------------
# the demo: completers and BOCF as the existing table, MI side by side
# --------------------------------------------------------------------------------------------
def test_completers_and_bocf_match_the_attrition_table(demo):
    ours = missing.missing_comparison(demo, "wemwbs", "total").set_index("method")
    ref = outcomes.attrition_sensitivity(demo, ["wemwbs"])
    ref = ref[ref["scale"] == "total"].set_index("analysis")
    for method, name in (("completers", "completers"),
                         ("bocf", "baseline observation carried forward")):
        assert ours.loc[method, "n_analysed"] == ref.loc[name, "n_pairs"]
        for a, b in (("change_mean", "change_mean"), ("ci_low", "change_ci_low"),
                     ("ci_high", "change_ci_high"), ("p", "p")):
            assert ours.loc[method, a] == pytest.approx(ref.loc[name, b])
    mi = ours.loc["mi"]
    # the demo's non-completers started lower and came to fewer sessions: under MAR the
    # change is between BOCF and well above zero (the reviewer found about +5.7)
    assert ours.loc["bocf", "change_mean"] < mi["change_mean"]
    assert 4.5 < mi["change_mean"] < 7.0 and mi["ci_low"] > 0
    assert mi["n_analysed"] == ours.loc["bocf", "n_analysed"]
    assert list(ours.index) == ["mi", "completers", "bocf"]


def test_change_by_missing_one_row_per_scale(demo):
    table = missing.change_by_missing(demo, ["wemwbs", "ons4"], missing="completers")
    ref = outcomes.change_table(demo, ["wemwbs", "ons4"])
    assert len(table) == len(ref)
    merged = table.merge(ref, on=["instrument", "scale"])
    assert np.allclose(merged["change_mean_x"], merged["change_mean_y"], equal_nan=True)
    assert set(table["method"]) == {"completers"}


def test_bad_arguments_are_one_line_errors(demo):
    with pytest.raises(InputError, match="unknown way of handling"):
        missing.missing_comparison(demo, "wemwbs", "total", methods="locf")
    with pytest.raises(InputError, match="imputation method"):
        missing.impute_followup(demo, "wemwbs", "total", imputation="hot deck")
    with pytest.raises(InputError, match="imputations"):
        missing.impute_followup(demo, "wemwbs", "total", m=1)
    with pytest.raises(InputError, match="not scored"):
        missing.missing_comparison(demo, "wemwbs", "nonsense")
    with pytest.raises(InputError, match="auxiliary"):
        missing.impute_followup(demo, "wemwbs", "total", auxiliaries=("shoe_size",))
    with pytest.raises(InputError, match="time point"):
        missing.missing_comparison(demo, "wemwbs", "total", pre="month_3")


def test_nobody_missing_gives_the_completers_result():
    study, _, _ = _simulated(n=60)
    scores = study.scores.copy()
    pre = scores["timepoint"] == "baseline"
    scores.loc[~pre, "score"] = scores.loc[pre, "score"].to_numpy() + 2.0
    study.scores = scores
    table = missing.missing_comparison(study, "w", "t").set_index("method")
    assert table.loc["mi", "change_mean"] == pytest.approx(2.0)
    assert table.loc["mi", "n_missing_post"] == 0
    grid, summary = missing.tipping_point(study, "w", "t")
    assert grid.empty and "Everyone was followed up" in summary.loc[0, "sentence"]


def test_small_groups_are_withheld():
    study, _, _ = _simulated(n=60)
    study.min_cell_size = 100
    table = missing.missing_comparison(study, "w", "t")
    assert table["small_group"].all() and table["change_mean"].isna().all()


# --------------------------------------------------------------------------------------------
# tipping point
# --------------------------------------------------------------------------------------------
def test_tipping_point_against_its_closed_form(demo):
    grid, summary = missing.tipping_point(demo, "wemwbs", "total")
    s = summary.iloc[0]
    share = s["n_missing_post"] / s["n_analysed"]
    # the pooled estimate falls by delta x share exactly (shifting only the imputed values)
    assert np.allclose(grid["change_mean"], s["change_mean_mar"] - grid["delta"] * share)
    assert s["tipping_delta_estimate"] == pytest.approx(s["change_mean_mar"] / share)
    assert grid.loc[0, "change_mean"] == pytest.approx(s["change_mean_mar"])
    # at the tipping delta the lower end of the interval is 0, and not before
    imp = missing.impute_followup(demo, "wemwbs", "total")
    x = imp.data["pre"].to_numpy()
    miss = imp.data["post"].isna().to_numpy()[:, None]

    def lower(delta):
        d = imp.post - delta * miss - x[:, None]
        return missing.rubin_pool(d.mean(0), d.var(0, ddof=1) / len(d), len(d) - 1)["ci_low"]

    assert lower(s["tipping_delta_ci"]) == pytest.approx(0, abs=1e-4)
    assert lower(0.99 * s["tipping_delta_ci"]) > 0
    assert 0 < s["tipping_delta_ci"] < s["tipping_delta_estimate"]
    assert s["shift"] == "lower"
    before = grid["delta"] < s["tipping_delta_ci"]
    between = ~before & (grid["delta"] <= s["tipping_delta_estimate"])
    assert not grid.loc[before, "includes_zero"].any()
    assert grid.loc[between, "includes_zero"].all() and between.any()
    assert grid["delta_sd"].iloc[-1] == pytest.approx(grid["delta"].iloc[-1] / s["baseline_sd"])
    assert "points worse" in s["sentence"] and "minimal important difference" in s["sentence"]


def test_tipping_point_for_a_change_already_unclear():
    study, _, _ = _simulated(n=300)
    scores = study.scores.copy()
    pre = scores["timepoint"] == "baseline"
    noise = np.random.default_rng(3).normal(0, 5, pre.sum())
    post = scores.loc[pre, "score"].to_numpy() + noise
    scores.loc[~pre, "score"] = np.where(scores.loc[~pre, "score"].notna(), post, np.nan)
    study.scores = scores
    _, summary = missing.tipping_point(study, "w", "t")
    s = summary.iloc[0]
    if s["ci_low_mar"] <= 0 <= s["ci_high_mar"]:
        assert s["tipping_delta_ci"] == 0 and "no effect" in s["sentence"]


# --------------------------------------------------------------------------------------------
# who was lost
# --------------------------------------------------------------------------------------------
def test_lost_to_follow_up_against_direct_counts(demo):
    table = missing.lost_to_follow_up(demo, "wemwbs", "total")
    pairs = outcomes.score_pairs(demo, "wemwbs", "total")
    scores = demo.scores
    base = scores[(scores["instrument"] == "wemwbs") & (scores["scale"] == "total")
                  & (scores["timepoint"] == "baseline") & scores["score"].notna()]
    ids = set(base["participant_id"].astype(str))
    done = set(pairs.index.astype(str))
    people = table.iloc[0]
    assert (people["completers_n"], people["non_completers_n"]) == (len(done),
                                                                    len(ids - done))
    # the baseline score row agrees with change.completer_comparison
    ref = completer_comparison(demo.scores[demo.scores["instrument"] == "wemwbs"],
                               timepoints=demo.timepoints)
    ref = ref[ref["scale"] == "total"].iloc[0]
    score = table[table["kind"] == "mean"].iloc[0]
    assert score["completers_mean"] == pytest.approx(ref["completers_mean"])
    assert score["non_completers_mean"] == pytest.approx(ref["non_completers_mean"])
    pooled = math.sqrt((ref["completers_sd"] ** 2 + ref["non_completers_sd"] ** 2) / 2)
    assert score["std_difference"] == pytest.approx(ref["difference"] / pooled)
    # each categorical characteristic's levels add up to the group sizes
    counts = table[table["kind"] == "count"].iloc[1:]
    for _, g in counts.groupby("characteristic"):
        assert g["completers_n"].sum() == len(done)
        assert g["non_completers_n"].sum() == len(ids - done)
    # site counts by hand
    p = demo.participants.assign(participant_id=lambda d: d["participant_id"].astype(str))
    site = demo.sites[0]
    at = set(p.loc[p["site"] == site, "participant_id"])
    row = counts[(counts["characteristic"] == "site") & (counts["level"] == site)].iloc[0]
    assert row["completers_n"] == len(at & done)
    assert row["non_completers_n"] == len(at & (ids - done))
    # a level below the minimum cell size keeps its count but not its percentage
    small = table[table["small_group"]]
    assert small["completers_percent"].isna().all()


def test_standardised_difference_of_a_level_by_hand():
    # 30 of 60 completers and 10 of 40 non-completers are women: p1 = .5, p0 = .25,
    # d = .25 / sqrt((.25 + .1875) / 2) = .25 / .467707 = .534522 (Austin 2009)
    row = missing._row("gender", "F", "count", 30, 10, 60, 40, 5)
    assert row["std_difference"] == pytest.approx(0.534522, abs=1e-6)
    assert row["completers_percent"] == pytest.approx(50.0)
