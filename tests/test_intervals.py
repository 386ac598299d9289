"""Intervals (issue 23: 4): Hedges' g, d_z, d_av and g_av; Wilson intervals for proportions;
bootstrap intervals for Cohen's kappa and Krippendorff's alpha.

References used here, independent of the code under test:

* effect sizes: the noncentral-t interval recomputed from ``scipy.stats.nct.cdf`` by root
  finding (``scipy.optimize.brentq``), not from ``scipy.special.nctdtrinc`` which the package
  uses (the construction of MBESS ``ci.smd`` / ``conf.limits.nct``, Kelley 2007); Hedges &
  Olkin's (1985) large-sample variance of d, (n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2)); and a
  seeded simulation of the coverage of the approximate d_av interval (Algina & Keselman 2003);
* Wilson: ``statsmodels.stats.proportion.proportion_confint(method="wilson")`` and a value
  worked by hand;
* kappa and alpha: ``sklearn.metrics.cohen_kappa_score``, the package's own
  ``krippendorff_alpha`` (checked against Krippendorff's 2011 worked example in
  test_agreement.py; the ``krippendorff`` package is not installed) and
  ``scipy.stats.bootstrap`` (percentile method) as a reference bootstrap.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from spanalysis.change.effects import hedges_g_ci, hedges_j, paired_effect_sizes
from spanalysis.change.paired import completer_comparison, paired_change
from spanalysis.errors import InputError

# scipy.special.nctdtrinc (cdflib's search, used by the package) finds the noncentrality to
# about 1e-6: checked against brentq on the integral of chi2.pdf * norm.cdf, which agrees with
# brentq on nct.cdf to 1e-12.
TOL = 1e-5
PRE = np.array([10, 12, 14, 16, 18], dtype=float)
POST = np.array([12, 13, 17, 18, 21], dtype=float)


def nct_limits(t_obs: float, df: float, confidence: float = 0.95) -> tuple[float, float]:
    """The noncentralities with P(T <= t_obs | ncp) = 1 - alpha/2 (lower) and alpha/2
    (upper), found by brentq on scipy.stats.nct.cdf."""
    alpha = 1 - confidence

    def limit(p):
        return optimize.brentq(lambda ncp: stats.nct.cdf(t_obs, df, ncp) - p,
                               t_obs - 50, t_obs + 50, xtol=1e-12)
    return limit(1 - alpha / 2), limit(alpha / 2)


# ------------------------------------------------------------------------------------------
# effect sizes
# ------------------------------------------------------------------------------------------
def test_dz_interval_is_the_noncentral_t_inversion():
    es = paired_effect_sizes(PRE, POST)
    n = 5
    t_obs = es["d_z"] * math.sqrt(n)            # 2.629503 * 2.236068 = 5.879747
    lo, hi = nct_limits(t_obs, n - 1)
    assert es["d_z_ci_low"] == pytest.approx(lo / math.sqrt(n), abs=TOL)
    assert es["d_z_ci_high"] == pytest.approx(hi / math.sqrt(n), abs=TOL)
    assert es["d_z_ci_low"] < es["d_z"] < es["d_z_ci_high"]


def test_dav_and_gav_intervals_rescale_the_dz_interval():
    # Algina & Keselman (2003): d_av limits = d_z limits * sd_diff / sd_av; J = 0.8 (df 4)
    es = paired_effect_sizes(PRE, POST)
    ratio = math.sqrt(0.7) / ((math.sqrt(10) + math.sqrt(13.7)) / 2)   # 0.836660 / 3.431815
    lo, hi = nct_limits(es["d_z"] * math.sqrt(5), 4)
    assert es["d_av_ci_low"] == pytest.approx(lo / math.sqrt(5) * ratio, abs=TOL)
    assert es["d_av_ci_high"] == pytest.approx(hi / math.sqrt(5) * ratio, abs=TOL)
    assert es["g_av_ci_low"] == pytest.approx(0.8 * es["d_av_ci_low"])
    assert es["g_av_ci_high"] == pytest.approx(0.8 * es["d_av_ci_high"])
    assert es["d_av_ci_low"] < es["d_av"] < es["d_av_ci_high"]
    assert es["g_av_ci_low"] < es["g_av"] < es["g_av_ci_high"]


def test_dav_interval_covers_about_95_percent_in_simulation():
    # bivariate normal, n = 30, SDs 1 and 1.2, r = 0.6, mean change 0.5: the population
    # d_av is 0.5 / 1.1. 4,000 seeded samples; Monte-Carlo SE of the coverage is 0.0034.
    rng = np.random.default_rng(23)
    n, reps, sd1, sd2, r = 30, 4000, 1.0, 1.2, 0.6
    cov = [[sd1 ** 2, r * sd1 * sd2], [r * sd1 * sd2, sd2 ** 2]]
    xy = rng.multivariate_normal([0.0, 0.5], cov, size=(reps, n))
    scores = pd.DataFrame({
        "participant_id": np.tile(np.arange(n), 2 * reps).astype(str),
        "timepoint": np.repeat(np.tile(["pre", "post"], reps), n),
        "instrument": "w",
        "scale": np.repeat(np.arange(reps), 2 * n).astype(str),
        "score": np.concatenate([[xy[k, :, 0], xy[k, :, 1]] for k in range(reps)]).ravel()})
    info = pd.DataFrame({"instrument": "w", "scale": np.arange(reps).astype(str),
                         "direction": "higher"})
    res = paired_change(scores, info, timepoints=["pre", "post"], wilcoxon=False)
    delta = 0.5 / ((sd1 + sd2) / 2)
    covered = ((res["d_av_ci_low"] <= delta) & (delta <= res["d_av_ci_high"])).mean()
    assert 0.93 <= covered <= 0.97, covered
    # d_z's interval is exact under normality
    delta_z = 0.5 / math.sqrt(sd1 ** 2 + sd2 ** 2 - 2 * r * sd1 * sd2)
    covered_z = ((res["d_z_ci_low"] <= delta_z) & (delta_z <= res["d_z_ci_high"])).mean()
    assert 0.935 <= covered_z <= 0.965, covered_z


def test_paired_change_has_the_intervals_and_withholds_them_for_small_groups():
    scores = pd.DataFrame({
        "participant_id": [f"P{i}" for i in range(5)] * 2 + ["Q1", "Q2"] * 2,
        "timepoint": ["pre"] * 5 + ["post"] * 5 + ["pre", "pre", "post", "post"],
        "instrument": "w", "scale": ["t"] * 10 + ["u"] * 4,
        "score": list(PRE) + list(POST) + [1, 2, 3, 5]})
    info = pd.DataFrame({"instrument": "w", "scale": ["t", "u"], "direction": "higher"})
    res = paired_change(scores, info, timepoints=["pre", "post"]).set_index("scale")
    es = paired_effect_sizes(PRE, POST)
    for col in ("d_z_ci_low", "d_z_ci_high", "d_av_ci_low", "d_av_ci_high", "g_av_ci_low",
                "g_av_ci_high"):
        assert res.at["t", col] == pytest.approx(es[col]), col
        assert math.isnan(res.at["u", col]), col          # 2 pairs < min_cell_size 5


def test_paired_effect_sizes_rejects_a_bad_confidence():
    with pytest.raises(InputError, match="confidence"):
        paired_effect_sizes(PRE, POST, confidence=95)


def test_hedges_g_interval_against_noncentral_t_and_hedges_olkin():
    n1, n2, d = 12, 9, 0.8
    j = 1 - 3 / (4 * (n1 + n2 - 2) - 1)               # 1 - 3/75 = 0.96
    assert float(hedges_j(n1 + n2 - 2)) == pytest.approx(0.96)
    root = math.sqrt(n1 * n2 / (n1 + n2))
    lo, hi = nct_limits(d * root, n1 + n2 - 2)
    low, high = hedges_g_ci(d * j, n1, n2)
    assert float(low) == pytest.approx(lo / root * j, abs=TOL)
    assert float(high) == pytest.approx(hi / root * j, abs=TOL)
    # large samples: the normal approximation of Hedges & Olkin (1985, eq. 5.15)
    n1 = n2 = 3000
    g = 0.4 * float(hedges_j(n1 + n2 - 2))
    se = math.sqrt((n1 + n2) / (n1 * n2) + g ** 2 / (2 * (n1 + n2)))
    low, high = hedges_g_ci(g, n1, n2)
    assert float(low) == pytest.approx(g - 1.959964 * se, abs=2e-3)
    assert float(high) == pytest.approx(g + 1.959964 * se, abs=2e-3)
    assert np.isnan(hedges_g_ci(np.nan, 10, 10)[0]) and np.isnan(hedges_g_ci(0.3, 1, 1)[0])


def test_completer_comparison_has_a_hedges_g_interval():
    scores = pd.DataFrame({"participant_id": list("ABCDEFGHIJK") * 2,
                           "timepoint": ["baseline"] * 11 + ["followup"] * 11,
                           "instrument": "w", "scale": "t",
                           "score": [40, 42, 44, 46, 48, 41, 38, 40, 41, 43, 39]
                                    + [45, 44, 47, 49, 50, 43] + [None] * 5})
    row = completer_comparison(scores, timepoints=["baseline", "followup"]).iloc[0]
    low, high = hedges_g_ci(row["hedges_g"], row["n_completers"], row["n_non_completers"])
    assert row["hedges_g_ci_low"] == pytest.approx(float(low))
    assert row["hedges_g_ci_high"] == pytest.approx(float(high))
    assert row["hedges_g_ci_low"] < row["hedges_g"] < row["hedges_g_ci_high"]
