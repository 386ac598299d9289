"""Tests for spanalysis.change.sites: per-site change, the random-intercept model and the forest plot.

References used: statsmodels MixedLM called directly, the one-way random-effects ANOVA
estimators worked by hand (balanced data), and scipy's paired t-test per site.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from scipy import stats  # noqa: E402

from spanalysis.change.sites import forest_plot, mixed_model_change, site_change  # noqa: E402
from spanalysis.errors import InputError  # noqa: E402

TP = ["baseline", "followup"]
INFO = pd.DataFrame({"instrument": ["wemwbs"], "scale": ["total"], "direction": ["higher"],
                     "scale_name": ["WEMWBS"]})


def study(sizes, site_sd=3.0, resid_sd=4.0, shift=2.0, seed=7):
    """Scores and participants with a true site effect on change."""
    rng = np.random.default_rng(seed)
    ids, sites, pre, post = [], [], [], []
    for j, (site, m) in enumerate(sizes.items()):
        u = rng.normal(0, site_sd)
        base = rng.normal(45, 8, m).round()
        ids += [f"{site[:2].upper()}{i:03d}" for i in range(m)]
        sites += [site] * m
        pre.append(base)
        post.append(base + shift + u + rng.normal(0, resid_sd, m))
    pre, post = np.concatenate(pre), np.concatenate(post)
    n = len(ids)
    scores = pd.DataFrame({"participant_id": ids * 2,
                           "timepoint": ["baseline"] * n + ["followup"] * n,
                           "instrument": "wemwbs", "scale": "total",
                           "score": np.concatenate([pre, post])})
    people = pd.DataFrame({"participant_id": ids, "site": sites})
    change = pd.DataFrame({"participant_id": ids, "site": sites, "change": post - pre})
    return scores, people, change


BALANCED = {"Riverside": 8, "Hillview": 8, "Oakfield": 8, "Marsh": 8, "Northgate": 8}


def test_site_change_is_paired_t_per_site():
    scores, people, change = study(BALANCED)
    res = site_change(scores, INFO, people, timepoints=TP)
    assert sorted(res["site"]) == sorted(BALANCED)
    for site, g in change.groupby("site"):
        row = res[res["site"] == site].iloc[0]
        # change is post - pre, so a one-sample t-test of the changes is the paired t-test
        one = stats.ttest_1samp(g["change"], 0)
        assert row["t"] == pytest.approx(one.statistic)
        assert row["change_mean"] == pytest.approx(g["change"].mean())
        ci = one.confidence_interval(0.95)
        assert [row["change_ci_low"], row["change_ci_high"]] == pytest.approx([ci.low, ci.high])


def test_mixed_model_matches_statsmodels_called_directly():
    sizes = {"Riverside": 12, "Hillview": 7, "Oakfield": 15, "Marsh": 9, "Northgate": 11,
             "Eastbrook": 6}
    scores, people, change = study(sizes, seed=11)
    res = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP).iloc[0]
    fit = smf.mixedlm("change ~ 1", data=change, groups=change["site"]).fit(reml=True)
    assert res["change_mean"] == pytest.approx(fit.fe_params["Intercept"], rel=1e-6)
    assert res["se"] == pytest.approx(fit.bse_fe["Intercept"], rel=1e-5)
    ci = fit.conf_int(alpha=0.05).loc["Intercept"]
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx(list(ci), rel=1e-5)
    var_site = float(fit.cov_re.iloc[0, 0])
    var_resid = float(fit.scale)
    assert res["var_site"] == pytest.approx(var_site, rel=1e-5)
    assert res["var_resid"] == pytest.approx(var_resid, rel=1e-6)
    # ICC by hand from the components: tau^2 / (tau^2 + sigma^2)
    assert res["icc"] == pytest.approx(var_site / (var_site + var_resid), rel=1e-5)
    assert (res["n_sites"], res["n_participants"]) == (6, sum(sizes.values()))
    assert res["method"] == "REML"


def test_mixed_model_equals_anova_estimators_for_balanced_sites():
    scores, people, change = study(BALANCED, site_sd=4.0, resid_sd=3.0, seed=3)
    res = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP).iloc[0]
    k, m = 5, 8
    y = change.groupby("site")["change"]
    grand = change["change"].mean()
    # one-way random-effects ANOVA (Snijders & Bosker 2012, sec. 3.3.1):
    # MSB = m * sum_j (ybar_j - ybar)^2 / (k - 1); MSW = sum_ij (y_ij - ybar_j)^2 / (k (m - 1))
    msb = m * ((y.mean() - grand) ** 2).sum() / (k - 1)
    msw = ((change["change"] - y.transform("mean")) ** 2).sum() / (k * (m - 1))
    tau2 = (msb - msw) / m
    assert tau2 > 0  # REML = ANOVA only away from the boundary
    assert res["var_resid"] == pytest.approx(msw, rel=1e-4)
    assert res["var_site"] == pytest.approx(tau2, rel=1e-3)
    assert res["icc"] == pytest.approx(tau2 / (tau2 + msw), rel=1e-3)
    # balanced: the GLS intercept is the grand mean with variance MSB / (k m)
    assert res["change_mean"] == pytest.approx(grand, rel=1e-8)
    assert res["se"] == pytest.approx(math.sqrt(msb / (k * m)), rel=1e-3)


def test_mixed_model_confidence_level_and_errors():
    scores, people, _ = study(BALANCED, seed=5)
    r90 = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP,
                             confidence=0.90).iloc[0]
    # Wald interval: estimate +/- z_0.95 * se, z_0.95 = 1.644854
    assert r90["change_ci_low"] == pytest.approx(r90["change_mean"] - 1.644854 * r90["se"],
                                                 rel=1e-6)
    one_site = people.assign(site="Riverside")
    with pytest.raises(InputError, match="at least two sites"):
        mixed_model_change(scores, one_site, "wemwbs", "total", timepoints=TP)
    with pytest.raises(InputError, match="no scores"):
        mixed_model_change(scores, people, "gse", "total", timepoints=TP)


def test_small_site_flagged_in_site_table_and_plot():
    sizes = dict(BALANCED, Tiny=3)
    scores, people, _ = study(sizes, seed=9)
    table = site_change(scores, INFO, people, timepoints=TP, min_cell_size=5)
    tiny = table[table["site"] == "Tiny"].iloc[0]
    assert tiny["small_group"] and np.isnan(tiny["change_mean"])
    pooled = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP)
    fig = forest_plot(table, pooled=pooled)
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert "Tiny" in labels and "All sites (pooled)" in labels
        assert "Riverside (n=8)" in labels
        assert any(t.get_text() == "too few to show" for t in ax.texts)
        assert "higher is better" in ax.get_xlabel() and "95% CI" in ax.get_xlabel()
        # sites drawn in order of their mean change (bottom to top)
        shown = table[~table["small_group"]].sort_values("change_mean")
        order = [lab for lab in labels if "(n=" in lab]
        assert order == [f"{s} (n=8)" for s in shown["site"]]
    finally:
        plt.close(fig)


def test_forest_plot_refuses_several_scales():
    scores, people, _ = study(BALANCED)
    table = site_change(scores, INFO, people, timepoints=TP)
    two = pd.concat([table, table.assign(scale="other")], ignore_index=True)
    with pytest.raises(InputError, match="one scale"):
        forest_plot(two)


def test_docstring_examples_run():
    import doctest

    from spanalysis.change import sites
    result = doctest.testmod(sites, optionflags=doctest.NORMALIZE_WHITESPACE)
    plt.close("all")
    assert result.attempted >= 3 and result.failed == 0


def _starved_fit(monkeypatch, fail):
    """MixedLM.fit limited to one iteration (so it cannot converge) for the methods in
    ``fail`` (None = statsmodels' default optimisers)."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    real = MixedLM.fit

    def fit(self, *args, **kwargs):
        method = kwargs.get("method")
        key = None if method is None else method[0]
        if key in fail:
            kwargs["maxiter"] = 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MixedLM, "fit", fit)
    return real


def test_a_model_that_does_not_converge_is_refitted_and_says_so(monkeypatch):
    # issue 19: 8. statsmodels' BFGS, L-BFGS and CG stopped after one iteration: the
    # ConvergenceWarning is kept, the model is refitted with Powell's method, and the row says
    # so; its estimates are those of a direct Powell fit.
    import statsmodels.api as sm

    scores, people, change = study(BALANCED)
    real = _starved_fit(monkeypatch, {None})
    res = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP).iloc[0]
    assert "Maximum Likelihood optimization failed to converge" in res["warnings"]
    assert "refitted with powell" in res["instead"] and bool(res["converged"])
    data = change.sort_values(["site", "participant_id"])
    ref = real(sm.MixedLM(data["change"].to_numpy(), np.ones((len(data), 1)),
                          groups=data["site"].to_numpy()), reml=True, method=["powell"])
    assert res["change_mean"] == pytest.approx(float(ref.fe_params[0]))
    assert res["var_site"] == pytest.approx(float(np.asarray(ref.cov_re)[0, 0]))


def test_a_model_that_never_converges_reports_no_model_estimate(monkeypatch):
    # issue 19: 8. Every optimiser starved: no model estimate; the pooled change is the plain
    # mean of the 40 changes with its t interval (scipy), the ICC is not estimated.
    from spanalysis.change.sites import NOT_CONVERGED

    scores, people, change = study(BALANCED)
    _starved_fit(monkeypatch, {None, "powell", "nm"})
    res = mixed_model_change(scores, people, "wemwbs", "total", timepoints=TP).iloc[0]
    assert not res["converged"] and res["instead"] == NOT_CONVERGED
    assert "powell: did not converge" in res["warnings"]
    x = change["change"].to_numpy()
    ci = stats.ttest_1samp(x, 0).confidence_interval(0.95)
    assert res["change_mean"] == pytest.approx(x.mean())
    assert [res["change_ci_low"], res["change_ci_high"]] == pytest.approx([ci.low, ci.high])
    assert math.isnan(res["icc"]) and math.isnan(res["var_site"])


def test_forest_and_caterpillar_plots_of_many_sites_are_one_screen_tall():
    """Above MANY_SITES sites both plots draw a thin unlabelled row per site (the site table
    names them) in a figure of fixed height, instead of a labelled row each."""
    import matplotlib.pyplot as plt

    from spanalysis.change import sites as site_module
    from spanalysis.report import site_figures

    rng = np.random.default_rng(5)
    n = 200
    mean = rng.normal(4, 2, n)
    table = pd.DataFrame({"site": [f"S{i:03d}" for i in range(n)], "n_pairs": 30,
                          "change_mean": mean, "change_ci_low": mean - 1.5,
                          "change_ci_high": mean + 1.5, "small_group": False,
                          "scale_name": "WEMWBS", "direction": "higher", "confidence": 0.95})
    table.loc[:4, ["change_mean", "change_ci_low", "change_ci_high"]] = np.nan
    table.loc[:4, "small_group"] = True
    fig = site_module.forest_plot(table, pooled={"change_mean": 4.0, "change_ci_low": 3.6,
                                                 "change_ci_high": 4.4})
    ax = fig.axes[0]
    assert fig.get_size_inches()[1] <= 6
    assert [t.get_text() for t in ax.get_yticklabels()] == []
    assert "195 sites; 5 with too few people not drawn" in ax.get_title()
    # the drawn points are the shown sites' means, sorted
    points = [line for line in ax.get_lines() if line.get_marker() == "s"][0]
    assert np.allclose(points.get_xdata(), np.sort(mean[5:]))
    plt.close(fig)
    estimates = pd.DataFrame({"site": table["site"], "n_pairs": 30, "estimate": mean,
                              "ci_low": mean - 1, "ci_high": mean + 1,
                              "small_group": table["small_group"], "pooled": 4.0,
                              "confidence": 0.95})
    fig = site_figures.caterpillar_plot(estimates, scale_name="WEMWBS", direction="higher")
    ax = fig.axes[0]
    assert fig.get_size_inches()[1] <= 6
    assert [t.get_text() for t in ax.get_yticklabels()] == []
    assert "195 sites (5 with too few people not drawn)" in ax.get_title()
    plt.close(fig)
    alt = site_figures.caterpillar_alt(estimates, "WEMWBS")
    shown = estimates[~estimates["small_group"]].sort_values("estimate")
    assert (f"from {shown['estimate'].iloc[0]:.1f} at {shown['site'].iloc[0]} to "
            f"{shown['estimate'].iloc[-1]:.1f} at {shown['site'].iloc[-1]}, median "
            f"{shown['estimate'].median():.1f}") in alt.replace("\u2212", "-")
    assert "5 site(s) too small to show" in alt and alt.count(";") < 5
    few = site_module.forest_plot(table.iloc[5:15])        # few sites: a labelled row each
    assert len(few.axes[0].get_yticklabels()) == 10
    plt.close(few)


def test_for_site_gives_one_site_study_until_a_table_is_replaced():
    """Every caller of a site report shares one site study (its scores made once); a study
    whose responses were replaced gives a new one, restricted from the new responses."""
    from conftest import DEMO

    from spanalysis.study import load_study

    study = load_study(DEMO)
    site = study.sites[0]
    first = study.for_site(site)
    assert study.for_site(site) is first
    assert study.for_site(study.sites[1]) is not first
    assert first.scores is study.for_site(site).scores
    pid = first.responses["participant_id"].iloc[0]
    n_pid = int((first.responses["participant_id"] == pid).sum())
    study.responses = study.responses[study.responses["participant_id"] != pid]
    again = study.for_site(site)
    assert again is not first
    assert len(again.responses) == len(first.responses) - n_pid
    assert pid not in set(again.responses["participant_id"])
