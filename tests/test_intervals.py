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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from spanalysis.change.effects import hedges_g_ci, hedges_j, paired_effect_sizes
from spanalysis.change.paired import completer_comparison, paired_change
from spanalysis.change.proportions import proportion_table, wilson_interval
from spanalysis.errors import InputError
from spanalysis.qual import agreement as A

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


# ------------------------------------------------------------------------------------------
# Wilson intervals
# ------------------------------------------------------------------------------------------

def test_wilson_against_statsmodels_and_by_hand():
    count = np.array([0, 1, 5, 12, 81, 15, 40, 263])
    n = np.array([10, 29, 5, 40, 263, 148, 40, 263])
    for conf in (0.95, 0.9):
        low, high = wilson_interval(count, n, conf)
        ref_low, ref_high = proportion_confint(count, n, alpha=1 - conf, method="wilson")
        np.testing.assert_allclose(low, ref_low, atol=1e-12)
        np.testing.assert_allclose(high, ref_high, atol=1e-12)
    # by hand, 0 of 10 at 95%: z^2 = 1.959964^2 = 3.841459; upper = (z^2/n) / (1 + z^2/n)
    # = 0.3841459 / 1.3841459 = 0.277533; lower = 0
    low, high = wilson_interval(0, 10)
    assert float(low) == 0.0 and float(high) == pytest.approx(0.277533, abs=1e-6)
    # Newcombe (1998) Table II: 1 of 29 -> 0.0061 to 0.1718; 15 of 148 -> 0.0624 to 0.1605
    low, high = wilson_interval([1, 15], [29, 148])
    np.testing.assert_allclose(low, [0.0061, 0.0624], atol=5e-5)
    np.testing.assert_allclose(high, [0.1718, 0.1605], atol=5e-5)
    assert np.isnan(wilson_interval(0, 0)[0])
    with pytest.raises(InputError, match="between 0 and its total"):
        wilson_interval(6, 5)


def test_proportion_table_withholds_small_counts_and_complements():
    t = pd.DataFrame({"theme": ["a", "b", "c", "d"], "voiced": [12, 3, 37, 0],
                      "people": [40, 40, 40, 40]})
    out = proportion_table(t, "voiced", "people").set_index("theme")
    assert out.at["a", "percent"] == pytest.approx(30.0)
    low, high = wilson_interval(12, 40)
    assert out.at["a", "percent_ci_low"] == pytest.approx(100 * float(low))
    assert out.at["a", "percent_ci_high"] == pytest.approx(100 * float(high))
    # 3 voiced, and 40 - 37 = 3 did not: both would reveal a count below 5
    assert out.loc[["b", "c"], "percent_withheld"].all()
    assert out.loc[["b", "c"], ["percent", "percent_ci_low", "percent_ci_high"]].isna().all().all()
    assert out.at["d", "percent"] == 0 and not out.at["d", "percent_withheld"]
    kept = proportion_table(t, "voiced", "people", min_cell_size=None)
    assert kept["percent"].notna().all()
    with pytest.raises(InputError, match="lacks a column"):
        proportion_table(t, "count", "people")


# ------------------------------------------------------------------------------------------
# bootstrap kappa and alpha
# ------------------------------------------------------------------------------------------

def test_closed_forms_of_kappa_and_alpha_match_the_general_ones():
    rng = np.random.default_rng(1)
    for m in (2, 3, 4):
        for _ in range(40):
            units = int(rng.integers(5, 60))
            marks = rng.random((m, units)) < rng.uniform(0.05, 0.6)
            counts = np.bincount(marks.sum(axis=0), minlength=m + 1).astype(float)
            alpha = A._alpha_from_counts(counts, m)
            ref = A.krippendorff_alpha(marks.astype(float))
            assert (np.isnan(alpha) and np.isnan(ref)) or alpha == pytest.approx(ref), m
            if m == 2:
                pattern = np.bincount(2 * marks[0] + marks[1], minlength=4).astype(float)
                kappa = A._kappa_from_counts(pattern)
                assert kappa == pytest.approx(A.cohen_kappa(marks[0], marks[1]))
                if len(set(marks[0]) | set(marks[1])) > 1:
                    assert kappa == pytest.approx(cohen_kappa_score(marks[0], marks[1]))


def _per_source_data(n_sources: int, seed: int = 5):
    """Two coders, one unit per source: a filler code both give every source (so that every
    source is compared) and code 'x', which they mostly agree on."""
    rng = np.random.default_rng(seed)
    a = rng.random(n_sources) < 0.4
    b = np.where(rng.random(n_sources) < 0.85, a, ~a)
    ids = [f"S{i:03d}" for i in range(n_sources)]
    rows = [{"source_id": s, "coder": c, "code_id": "filler", "start": 0, "end": 4}
            for s in ids for c in "AB"]
    rows += [{"source_id": s, "coder": c, "code_id": "x", "start": 0, "end": 4}
             for s, ma, mb in zip(ids, a, b) for c, mark in (("A", ma), ("B", mb)) if mark]
    sources = pd.DataFrame({"source_id": ids, "text": ["Some words here."] * n_sources})
    return pd.DataFrame(rows), sources, a, b


def test_bootstrap_is_seeded_contains_the_estimate_and_matches_scipy():
    segments, sources, a, b = _per_source_data(60)
    one = A.coding_agreement(segments, sources, unit="source", n_resamples=4000)
    two = A.coding_agreement(segments, sources, unit="source", n_resamples=4000)
    pd.testing.assert_frame_equal(one, two)
    other = A.coding_agreement(segments, sources, unit="source", n_resamples=4000, seed=7)
    row, row7 = one.set_index("code_id").loc["x"], other.set_index("code_id").loc["x"]
    assert row["cohen_kappa_ci_low"] != row7["cohen_kappa_ci_low"]
    assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert row["cohen_kappa_ci_low"] < row["cohen_kappa"] < row["cohen_kappa_ci_high"]
    assert row["krippendorff_ci_low"] < row["krippendorff_alpha_all"] \
        < row["krippendorff_ci_high"]
    assert (row["sources_compared"], row["bootstrap_resamples"], row["confidence"]) == \
        (60, 4000, 0.95)

    # reference: scipy.stats.bootstrap, percentile method, resampling the 60 (unit) pairs
    def kappa(x, y, axis=-1):
        p_o = (x == y).mean(axis=axis)
        pa, pb = x.mean(axis=axis), y.mean(axis=axis)
        p_e = pa * pb + (1 - pa) * (1 - pb)
        return (p_o - p_e) / (1 - p_e)

    def alpha(x, y, axis=-1):
        s = x + y                       # coders giving the code, 0..2; m = 2, n = 2 units
        n = 2 * s.shape[axis]
        n_1 = s.sum(axis=axis)
        return 1 - (n - 1) * (s * (2 - s)).sum(axis=axis) / ((n - n_1) * n_1)

    for stat, name in ((kappa, "cohen_kappa"), (alpha, "krippendorff")):
        ref = stats.bootstrap((a.astype(float), b.astype(float)), stat, paired=True,
                              vectorized=True, n_resamples=4000, method="percentile",
                              rng=np.random.default_rng(11)).confidence_interval
        assert row[f"{name}_ci_low"] == pytest.approx(ref.low, abs=0.03), name
        assert row[f"{name}_ci_high"] == pytest.approx(ref.high, abs=0.03), name


def test_no_interval_from_too_few_sources_or_no_resamples():
    segments, sources, _, _ = _per_source_data(A.MIN_BOOTSTRAP_SOURCES - 1, seed=3)
    out = A.coding_agreement(segments, sources, unit="source")
    assert out[["cohen_kappa_ci_low", "krippendorff_ci_high"]].isna().all().all()
    segments, sources, _, _ = _per_source_data(30)
    out = A.coding_agreement(segments, sources, unit="source", n_resamples=0)
    assert out["krippendorff_ci_low"].isna().all() and (out["bootstrap_resamples"] == 0).all()
    with pytest.raises(InputError, match="resamples"):
        A.coding_agreement(segments, sources, n_resamples=-1)
    with pytest.raises(InputError, match="confidence"):
        A.coding_agreement(segments, sources, confidence=1.5)


def test_demo_agreement_intervals_are_fast_and_reach_the_out_file(tmp_path, capsys):
    from spanalysis.commands import agreement
    from spanalysis.study import load_study

    demo = Path(__file__).resolve().parents[1] / "data" / "demo"
    q = load_study(demo).qualitative
    A.coding_agreement(q.segments, q.sources, n_resamples=0)        # warm up (NLTK)
    start = time.perf_counter()
    bare = A.coding_agreement(q.segments, q.sources, n_resamples=0)
    middle = time.perf_counter()
    full = A.coding_agreement(q.segments, q.sources, seed=99)          # new draws, not cached
    extra = (time.perf_counter() - middle) - (middle - start)
    assert extra < 1.0, f"1,000 resamples took {extra:.2f} s more"
    shown = full.dropna(subset=["krippendorff_ci_low"])
    assert len(shown) >= 5
    assert (shown["krippendorff_ci_low"] <= shown["krippendorff_alpha_all"] + 1e-12).all()
    assert (shown["krippendorff_alpha_all"] <= shown["krippendorff_ci_high"] + 1e-12).all()
    pd.testing.assert_frame_equal(bare.iloc[:, :8], full.iloc[:, :8])
    out = tmp_path / "agreement.csv"
    agreement(demo, out=out)
    header = capsys.readouterr().out.splitlines()[0].split()
    written = pd.read_csv(out)
    for col in ("cohen_kappa_ci_low", "cohen_kappa_ci_high", "krippendorff_ci_low",
                "krippendorff_ci_high", "sources_compared", "bootstrap_resamples",
                "confidence"):
        assert col in written.columns and col in header, col
    pd.testing.assert_frame_equal(written, A.coding_agreement(q.segments, q.sources),
                                  check_dtype=False)
