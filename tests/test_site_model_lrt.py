"""Issue 23: 5. The site model with few clusters: the likelihood-ratio test of the site
variance, Satterthwaite degrees of freedom, the ICC interval, shrunken site estimates and the
few-sites sentence, each against statsmodels fitted here, scipy, pingouin or dense matrices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from spanalysis.change import sites


def _data(sizes, tau=2.0, sigma=4.0, seed=3):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"S{j}" for j in range(len(sizes))], sizes)
    u = rng.normal(0, tau, len(sizes))
    y = 3 + np.repeat(u, sizes) + rng.normal(0, sigma, groups.size)
    return y, groups


def _tables(y, groups):
    ids = [f"P{i}" for i in range(len(y))]
    scores = pd.DataFrame({"participant_id": ids * 2,
                           "timepoint": ["baseline"] * len(y) + ["followup"] * len(y),
                           "instrument": "w", "scale": "t",
                           "score": np.r_[np.full(len(y), 40.0), 40.0 + y]})
    return scores, pd.DataFrame({"participant_id": ids, "site": groups})


def test_lrt_against_statsmodels_ml_fits_and_the_boundary_mixture():
    y, g = _data([12, 8, 15, 10, 9, 14])
    lr, p = sites.site_variance_lrt(y, g)
    full = sm.MixedLM(y, np.ones((len(y), 1)), groups=g).fit(reml=False)
    null = sm.OLS(y, np.ones(len(y))).fit()
    want = 2 * (full.llf - null.llf)
    assert lr == pytest.approx(want, rel=1e-6)
    assert p == pytest.approx(0.5 * stats.chi2.sf(want, 1), rel=1e-6)
    # the ML log-likelihood itself, from the multivariate normal density at the estimates
    t2, s2 = float(np.asarray(full.cov_re)[0, 0]), float(full.scale)
    mu = float(full.fe_params[0])
    ll = 0.0
    for site in pd.unique(g):
        yy = y[g == site]
        V = s2 * np.eye(len(yy)) + t2 * np.ones((len(yy), len(yy)))
        ll += stats.multivariate_normal(np.full(len(yy), mu), V).logpdf(yy)
    assert full.llf == pytest.approx(ll, rel=1e-8)


def test_lrt_is_one_when_the_site_variance_is_zero():
    # identical site means: tau^2 on the boundary, LR = 0, p = 1 (the chi2_0 half)
    y = np.tile([-1.0, 0.0, 1.0, 2.0, -2.0], 4)
    lr, p = sites.site_variance_lrt(y, np.repeat(list("ABCD"), 5))
    assert lr == pytest.approx(0, abs=1e-6) and p == pytest.approx(1.0, abs=1e-3)


def test_satterthwaite_balanced_is_the_t_test_of_site_means():
    y, g = _data([10] * 5, tau=3.0)
    fit = sm.MixedLM(y, np.ones((len(y), 1)), groups=g).fit(reml=True)
    t2, s2 = float(np.asarray(fit.cov_re)[0, 0]), float(fit.scale)
    assert t2 > 0
    df = sites.satterthwaite_df(g, t2, s2)
    assert df == pytest.approx(4.0, rel=1e-8)
    means = pd.Series(y).groupby(g).mean()
    ref = stats.ttest_1samp(means, 0)
    scores, people = _tables(y, g)
    row = sites.mixed_model_change(scores, people, "w", "t",
                                   timepoints=["baseline", "followup"]).iloc[0]
    assert row["df_satterthwaite"] == pytest.approx(4.0, rel=1e-6)
    # equal to the optimiser's tolerance (statsmodels' REML fit)
    assert row["p_satterthwaite"] == pytest.approx(ref.pvalue, rel=1e-3)
    ci = ref.confidence_interval(0.95)
    assert row["change_ci_low_satterthwaite"] == pytest.approx(ci.low, rel=1e-3)
    assert row["change_ci_high_satterthwaite"] == pytest.approx(ci.high, rel=1e-3)
    assert row["p_satterthwaite"] > row["p"]          # wider than the Wald z with 5 sites


def test_satterthwaite_closed_form_against_dense_matrices():
    sizes = [3, 7, 12, 5]
    g = np.repeat(list("ABCD"), sizes)
    t2, s2 = 1.7, 4.2
    Z = pd.get_dummies(g).to_numpy(float)
    V = s2 * np.eye(len(g)) + t2 * Z @ Z.T
    W = np.linalg.inv(V)
    X = np.ones((len(g), 1))
    P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    Vs = [Z @ Z.T, np.eye(len(g))]
    info = np.array([[0.5 * np.trace(P @ a @ P @ b) for b in Vs] for a in Vs])
    var = lambda t, s: float(np.linalg.inv(X.T @ np.linalg.inv(          # noqa: E731
        s * np.eye(len(g)) + t * Z @ Z.T) @ X)[0, 0])
    h = 1e-6
    grad = np.array([(var(t2 + h, s2) - var(t2 - h, s2)) / (2 * h),
                     (var(t2, s2 + h) - var(t2, s2 - h)) / (2 * h)])
    want = 2 * var(t2, s2) ** 2 / (grad @ np.linalg.inv(info) @ grad)
    assert sites.satterthwaite_df(g, t2, s2) == pytest.approx(want, rel=1e-5)


def test_icc_interval_against_pingouin_icc1():
    import pingouin as pg

    y, g = _data([6] * 7, tau=3.0)
    lo, hi = sites.icc_interval(y, g, 0.95)
    long = pd.DataFrame({"site": g, "rater": np.tile(np.arange(6), 7), "y": y})
    ref = pg.intraclass_corr(long, targets="site", raters="rater", ratings="y")
    ci = ref.iloc[0]["CI95"]                    # ICC(1,1): one-way random effects
    assert ref.iloc[0]["Type"] in ("ICC1", "ICC(1,1)")
    assert lo == pytest.approx(max(ci[0], 0), abs=0.006)
    assert hi == pytest.approx(ci[1], abs=0.006)
    # and by hand: F = MSB / MSW, ICC_L = (F_L - 1) / (F_L + k - 1)
    means = pd.Series(y).groupby(g).mean()
    msb = 6 * np.sum((means - y.mean()) ** 2) / 6
    msw = np.sum((y - pd.Series(g).map(means).to_numpy()) ** 2) / (42 - 7)
    f_u = (msb / msw) / stats.f.ppf(0.025, 6, 35)
    assert hi == pytest.approx(min(1, (f_u - 1) / (f_u + 5)), rel=1e-9)


def test_shrunken_site_estimates_are_the_blups():
    y, g = _data([4, 9, 20, 6, 12], tau=2.5)
    scores, people = _tables(y, g)
    est = sites.site_estimates(scores, people, "w", "t", min_cell_size=5,
                               timepoints=["baseline", "followup"]).set_index("site")
    fit = sm.MixedLM(y, np.ones((len(y), 1)), groups=g).fit(reml=True)
    mu, s2 = float(fit.fe_params[0]), float(fit.scale)
    t2 = float(np.asarray(fit.cov_re)[0, 0])
    for site, n in zip(["S1", "S2", "S3", "S4"], [9, 20, 6, 12]):
        ybar = y[g == site].mean()
        k = n * t2 / (s2 + n * t2)
        assert est.loc[site, "estimate"] == pytest.approx(mu + k * (ybar - mu), rel=1e-5)
        assert est.loc[site, "se"] == pytest.approx(np.sqrt(t2 * s2 / (s2 + n * t2)),
                                                    rel=1e-6)
        assert est.loc[site, "raw_mean"] == pytest.approx(ybar)
    # the site of 4 is below the cell size: nothing that could give its mean away
    assert est.loc["S0", "small_group"] and np.isnan(est.loc["S0", "estimate"])
    assert np.isnan(est.loc["S0", "raw_mean"])


def test_too_few_sites_get_a_sentence():
    y, g = _data([15, 12, 14], tau=1.0)
    scores, people = _tables(y, g)
    row = sites.mixed_model_change(scores, people, "w", "t",
                                   timepoints=["baseline", "followup"]).iloc[0]
    assert bool(row["few_sites"]) and row["few_sites_note"].startswith("With only 3 sites")
    assert sites.few_sites_note(8) is None
    assert 0 <= row["icc_ci_low"] <= row["icc_ci_high"] <= 1
    assert "Searle" in row["icc_ci_method"]


def test_caterpillar_plot_sorts_sites_and_hides_small_ones():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spanalysis.errors import InputError
    from spanalysis.report.site_figures import caterpillar_plot

    y, g = _data([4, 9, 20, 6, 12], tau=2.5)
    scores, people = _tables(y, g)
    est = sites.site_estimates(scores, people, "w", "t", min_cell_size=5,
                               timepoints=["baseline", "followup"])
    fig = caterpillar_plot(est, scale_name="W", direction="higher",
                           note=sites.few_sites_note(3))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "S0"                                   # withheld, listed first
    shown = est[~est["small_group"]].sort_values("estimate")
    assert labels[1:] == [f"{s} (n={n})" for s, n in zip(shown["site"], shown["n_pairs"])]
    with pytest.raises(InputError):
        caterpillar_plot(est.drop(columns=["pooled"]))
    plt.close("all")


def test_shrunken_estimates_match_statsmodels_and_survive_a_zero_site_variance():
    y, g = _data([9, 20, 6, 12], tau=2.5)
    scores, people = _tables(y, g)
    est = sites.site_estimates(scores, people, "w", "t", min_cell_size=5,
                               timepoints=["baseline", "followup"]).set_index("site")
    fit = sm.MixedLM(y, np.ones((len(y), 1)), groups=g).fit(reml=True)
    mu = float(fit.fe_params[0])
    for site, u in fit.random_effects.items():          # statsmodels' own BLUPs
        assert est.loc[site, "estimate"] == pytest.approx(mu + float(np.asarray(u)[0]),
                                                          rel=1e-5)
    # identical site means: the site variance is estimated as 0, statsmodels cannot predict
    # random effects from it, and every site's shrunken estimate is the pooled mean
    flat = np.tile([-1.0, 0.0, 1.0, 2.0, -2.0], 4)
    scores, people = _tables(flat, np.repeat(list("ABCD"), 5))
    zero = sites.site_estimates(scores, people, "w", "t", min_cell_size=5,
                                timepoints=["baseline", "followup"])
    assert len(zero) == 4
    assert np.allclose(zero["estimate"], zero["pooled"]) and np.allclose(zero["shrinkage"], 0)


def test_caterpillar_alt_text_gives_the_plotted_numbers():
    from spanalysis.report.site_figures import caterpillar_alt

    y, g = _data([4, 9, 20, 6, 12], tau=2.5)
    scores, people = _tables(y, g)
    est = sites.site_estimates(scores, people, "w", "t", min_cell_size=5,
                               timepoints=["baseline", "followup"])
    alt = caterpillar_alt(est, "W total")
    lowest = est.dropna(subset=["estimate"]).sort_values("estimate").iloc[0]
    assert f"{lowest['site']} {lowest['estimate']:.1f} ({lowest['ci_low']:.1f}" in alt
    assert alt.endswith("; 1 site(s) too small to show.") and "S0" not in alt
    assert f"study mean of {est['pooled'].iloc[0]:.1f}" in alt
