"""Issue 23: 4/5. The bootstrap interval of the ICC (spanalysis.change.sites.icc_bootstrap).

References used here, independent of the code under test:

* the one-way ANOVA ICC, ICC(1) = (MSB - MSW) / (MSB + (k - 1) MSW), from pingouin's
  ``intraclass_corr`` (ICC1, balanced data) and by hand (Searle 1971 sec. 9.7 with n0 for
  unequal sites);
* the vectorised bootstrap against a plainly written loop over the same resamples (the same
  seed gives the same site draws): each resample's data set built row by row, the copies of
  a site relabelled as clusters of their own, the ICC computed from scratch;
* coverage on simulated random-intercept data with a known ICC (lenient bounds: a percentile
  bootstrap is approximate, Ukoumunne et al. 2003, Stat Med 22:3805).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from spanalysis.change import sites
from spanalysis.errors import SpanalysisError


def _data(sizes, tau=2.0, sigma=4.0, seed=3):
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"S{j}" for j in range(len(sizes))], sizes)
    u = rng.normal(0, tau, len(sizes))
    return 3 + np.repeat(u, sizes) + rng.normal(0, sigma, groups.size), groups


def _icc_by_hand(y, clusters):
    """One-way ANOVA ICC written out: clusters are the distinct labels in ``clusters``."""
    labels = list(dict.fromkeys(clusters))
    J, N = len(labels), len(y)
    grand = sum(y) / N
    ssb = ssw = 0.0
    sizes = []
    for lab in labels:
        values = [v for v, c in zip(y, clusters) if c == lab]
        m = sum(values) / len(values)
        ssb += len(values) * (m - grand) ** 2
        ssw += sum((v - m) ** 2 for v in values)
        sizes.append(len(values))
    msb, msw = ssb / (J - 1), ssw / (N - J)
    n0 = (N - sum(n * n for n in sizes) / N) / (J - 1)
    return max(0.0, (msb - msw) / (msb + (n0 - 1) * msw))


def test_icc_anova_against_pingouin_icc1_and_by_hand():
    import pingouin as pg

    y, g = _data([6] * 7, tau=3.0)
    long = pd.DataFrame({"site": g, "rater": np.tile(np.arange(6), 7), "y": y})
    ref = pg.intraclass_corr(long, targets="site", raters="rater", ratings="y")
    assert ref.iloc[0]["Type"] in ("ICC1", "ICC(1,1)")
    assert sites.icc_anova(y, g) == pytest.approx(max(0.0, ref.iloc[0]["ICC"]), rel=1e-9)
    y2, g2 = _data([4, 9, 20, 6, 12], tau=2.5)          # unequal sites: n0
    assert sites.icc_anova(y2, g2) == pytest.approx(_icc_by_hand(list(y2), list(g2)),
                                                    rel=1e-12)


def test_bootstrap_equals_a_plain_loop_over_the_same_resamples():
    y, g = _data([5, 9, 14, 7, 11, 6], tau=2.0, seed=11)
    B, seed = 1000, 7
    lo, hi = sites.icc_bootstrap(y, g, 0.9, n_resamples=B, seed=seed)
    labels = sorted(set(g))
    draws = np.random.default_rng(seed).integers(0, len(labels), size=(B, len(labels)))
    values = []
    for b in range(B):
        ys, cs = [], []
        for copy, j in enumerate(draws[b]):
            for v in y[g == labels[j]]:
                ys.append(float(v))
                cs.append(f"copy{copy}")
        values.append(_icc_by_hand(ys, cs))
    want = np.quantile(values, [0.05, 0.95])
    assert (lo, hi) == pytest.approx(tuple(want), rel=1e-9, abs=1e-12)
    # deterministic, cached, and another seed gives other draws
    assert sites.icc_bootstrap(y, g, 0.9, n_resamples=B, seed=seed) == (lo, hi)
    assert sites.icc_bootstrap(y, g, 0.9, n_resamples=B, seed=seed + 1) != (lo, hi)


def test_bootstrap_is_fast_and_covers_a_known_icc():
    """200 simulated studies of 30 sites x 20 people with ICC = 0.2 (tau^2 = 1, sigma^2 =
    4): the 95% interval should hold 0.2 in most of them (lenient: 80% to 99.5%), and 200
    intervals of 2,000 resamples take well under a few seconds."""
    true_icc = 1.0 / (1.0 + 4.0)
    hits, start = 0, time.perf_counter()
    for i in range(200):
        y, g = _data([20] * 30, tau=1.0, sigma=2.0, seed=1000 + i)
        lo, hi = sites.icc_bootstrap(y, g, 0.95)
        hits += lo <= true_icc <= hi
    elapsed = time.perf_counter() - start
    assert 0.80 <= hits / 200 <= 0.995, hits
    assert elapsed < 5, elapsed


def test_degenerate_inputs_and_bad_resample_counts():
    assert all(np.isnan(sites.icc_bootstrap([1.0, 2.0, 3.0], ["A"] * 3)))
    assert all(np.isnan(sites.icc_bootstrap([1.0, 1.0, 2.0, 2.0], ["A", "A", "B", "B"])))
    with pytest.raises(SpanalysisError, match="resamples"):
        sites.icc_bootstrap([1.0, 2.0, 3.0, 4.0], list("AABB"), n_resamples=0)


def test_site_model_row_has_both_icc_intervals():
    y, g = _data([15, 12, 14, 20, 9, 11], tau=1.5)
    ids = [f"P{i}" for i in range(len(y))]
    scores = pd.DataFrame({"participant_id": ids * 2,
                           "timepoint": ["baseline"] * len(y) + ["followup"] * len(y),
                           "instrument": "w", "scale": "t",
                           "score": np.r_[np.full(len(y), 40.0), 40.0 + y]})
    people = pd.DataFrame({"participant_id": ids, "site": g})
    row = sites.mixed_model_change(scores, people, "w", "t",
                                   timepoints=["baseline", "followup"]).iloc[0]
    assert (row["icc_boot_ci_low"], row["icc_boot_ci_high"]) == pytest.approx(
        sites.icc_bootstrap(y, g), rel=1e-9)
    assert 0 <= row["icc_boot_ci_low"] <= row["icc_boot_ci_high"] <= 1
    assert "cluster bootstrap" in row["icc_boot_method"]
