"""Two-group comparison of change: people who voiced a theme against interviewed people who
did not (Welch's t-test and interval, Hedges' g, Holm's adjustment), one function for a single
pair of groups and one vectorised over every theme and scale (or item) of a table.

* **Small groups**: when either compared group has fewer than ``min_cell_size`` people, every
  statistic of that comparison is withheld (NaN) and ``small_group`` is True; the group sizes
  stay so the table explains itself.
* ``improvement_*`` columns and ``hedges_g`` are multiplied by -1 where lower is better, so
  positive always means "voicers improved more" (``difference`` and its interval stay raw,
  voiced minus not voiced in post - pre change; :func:`welch_comparison` is not oriented).

References
----------
Welch BL (1947). The generalization of "Student's" problem when several different population
    variances are involved. Biometrika 34:28-35.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press;
    Borenstein M et al. (2009). Introduction to Meta-Analysis, Wiley, ch. 4.
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis import change
from spanalysis.change.family import holm_by_outcome
from spanalysis.integrate.strands import _sign

__all__ = ["welch_comparison"]


def _group_stats(n1, m1, v1, n0, m0, v0, confidence):
    """Vectorised Welch comparison of group 1 against group 0 from counts, means, variances."""
    n1, m1, v1, n0, m0, v0 = (np.asarray(a, dtype=float) for a in (n1, m1, v1, n0, m0, v0))
    q = 1 - (1 - confidence) / 2
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for label, n, m, v in (("voiced", n1, m1, v1), ("not_voiced", n0, m0, v0)):
            se = np.where(n >= 2, np.sqrt(v / n), np.nan)
            tc = stats.t.ppf(q, np.where(n >= 2, n - 1, np.nan))
            out[f"{label}_mean"] = np.where(n >= 1, m, np.nan)
            out[f"{label}_sd"] = np.where(n >= 2, np.sqrt(v), np.nan)
            out[f"{label}_ci_low"] = m - tc * se
            out[f"{label}_ci_high"] = m + tc * se
        ok = (n1 >= 2) & (n0 >= 2)
        a, b = v1 / n1, v0 / n0
        se = np.where(ok, np.sqrt(a + b), np.nan)
        df = np.where(ok, (a + b) ** 2 / (a ** 2 / (n1 - 1) + b ** 2 / (n0 - 1)), np.nan)
        diff = np.where(ok, m1 - m0, np.nan)
        t = np.where(se > 0, diff / se, np.nan)
        tc = stats.t.ppf(q, df)
        out["difference"] = diff
        out["difference_ci_low"] = diff - tc * se
        out["difference_ci_high"] = diff + tc * se
        out["t"] = t
        out["df"] = df
        out["p"] = 2 * stats.t.sf(np.abs(t), df)
        pooled_df = n1 + n0 - 2
        sp = np.sqrt(((n1 - 1) * v1 + (n0 - 1) * v0) / pooled_df)
        d = np.where(ok & (sp > 0), diff / sp, np.nan)
        out["hedges_g"] = d * change.hedges_j(pooled_df)
    return out


def welch_comparison(x, y, confidence: float = 0.95) -> pd.DataFrame:
    """Compare the mean of ``x`` (e.g. change among people who voiced a theme) with ``y``.

    Parameters
    ----------
    x, y : array-like of float
        The two independent groups; NaN values are dropped.
    confidence : float
        Confidence level of the intervals (default 0.95).

    Returns
    -------
    DataFrame
        One row: ``n_x, n_y``, ``mean_x, sd_x, ci_low_x, ci_high_x`` (t interval for each
        mean), the same for y, ``difference`` (mean_x - mean_y), ``difference_ci_low,
        difference_ci_high`` (Welch), ``t, df, p`` (Welch's unequal-variance t-test, two-sided)
        and ``hedges_g`` (same sign as the difference).

    Notes
    -----
    Welch (1947): SE = sqrt(s_x^2/n_x + s_y^2/n_y); t = (mean_x - mean_y) / SE;
    df = SE^4 / ((s_x^2/n_x)^2 / (n_x - 1) + (s_y^2/n_y)^2 / (n_y - 1)) (Welch-Satterthwaite);
    CI = difference +/- t_{1-alpha/2, df} SE. These equal ``pingouin.ttest(x, y,
    correction=True)``.

    Hedges' g = d J with d = (mean_x - mean_y) / s_pooled,
    s_pooled = sqrt(((n_x - 1) s_x^2 + (n_y - 1) s_y^2) / (n_x + n_y - 2)) and
    J = 1 - 3 / (4 (n_x + n_y - 2) - 1) = 1 - 3 / (4 (n_x + n_y) - 9) (Hedges & Olkin 1985;
    Borenstein et al. 2009 eq. 4.22; as ``pingouin.compute_effsize(x, y, eftype='hedges')``).
    The effect size uses the pooled SD even though the test does not assume equal variances,
    as is usual: g describes the size of the difference, Welch protects the test.

    References
    ----------
    Welch BL (1947). Biometrika 34:28-35. Hedges LV, Olkin I (1985). Statistical Methods for
    Meta-Analysis. Borenstein M et al. (2009). Introduction to Meta-Analysis, ch. 4.

    Examples
    --------
    >>> r = welch_comparison([4, 6, 5, 7, 8], [1, 2, 3, 2])
    >>> r[["n_x", "n_y", "difference"]].to_dict("records")
    [{'n_x': 5, 'n_y': 4, 'difference': 4.0}]
    >>> round(float(r["df"].iloc[0]), 3), round(float(r["hedges_g"].iloc[0]), 3)
    (6.194, 2.716)
    """
    confidence = change.check_confidence(confidence)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    var = (lambda a: a.var(ddof=1) if a.size >= 2 else np.nan)
    mean = (lambda a: a.mean() if a.size else np.nan)
    res = _group_stats(x.size, mean(x), var(x), y.size, mean(y), var(y), confidence)
    row = {"n_x": x.size, "n_y": y.size}
    for src, dst in (("voiced", "x"), ("not_voiced", "y")):
        for stat in ("mean", "sd", "ci_low", "ci_high"):
            row[f"{stat}_{dst}"] = float(res[f"{src}_{stat}"])
    for col in ("difference", "difference_ci_low", "difference_ci_high", "t", "df", "p",
                "hedges_g"):
        row[col] = float(res[col])
    return pd.DataFrame([row])


_COMPARE_COLUMNS = ["n_voiced_completers", "n_not_voiced_completers", "voiced_mean",
                    "voiced_sd", "voiced_ci_low", "voiced_ci_high", "not_voiced_mean",
                    "not_voiced_sd", "not_voiced_ci_low", "not_voiced_ci_high", "difference",
                    "difference_ci_low", "difference_ci_high", "t", "df", "p", "hedges_g"]
_WITHHELD = [c for c in _COMPARE_COLUMNS if not c.startswith("n_")]


def _compare(data: pd.DataFrame, keys: list[str], index: pd.MultiIndex, confidence: float,
             min_cell: int) -> pd.DataFrame:
    """Voicers (voiced == 1) against non-voicers per ``keys`` group, vectorised.

    ``data`` has ``keys``, ``voiced`` (0/1) and ``value``; ``index`` lists every group to
    report (groups without data get zero counts)."""
    agg = (data.groupby(keys + ["voiced"], observed=True)["value"]
           .agg(["count", "mean", "var"]).unstack("voiced"))
    agg = agg.reindex(index)

    def col(stat, v):
        return (agg[(stat, v)] if (stat, v) in agg.columns
                else pd.Series(np.nan, index=agg.index)).to_numpy(float)

    n1 = np.nan_to_num(col("count", 1)).astype(int)
    n0 = np.nan_to_num(col("count", 0)).astype(int)
    res = _group_stats(n1, col("mean", 1), col("var", 1), n0, col("mean", 0), col("var", 0),
                       confidence)
    out = pd.DataFrame(index=index)
    out["n_voiced_completers"] = n1
    out["n_not_voiced_completers"] = n0
    for c in _WITHHELD:
        out[c] = res[c]
    # every planned test's p, withheld or not, for the Holm family (issue 19: 9); the
    # callers adjust over it and drop it
    out["p_planned"] = res["p"]
    small = (n1 < min_cell) | (n0 < min_cell)
    out.loc[small, _WITHHELD] = np.nan
    out["small_group"] = small
    return out.reset_index()


def _improvement(out: pd.DataFrame) -> pd.DataFrame:
    """Direction-aware difference and Hedges' g: positive = voicers improved more, on every
    scale (issue 19: 3; on a lower-is-better scale the raw difference is negative then)."""
    sign = _sign(out["direction"])
    out["hedges_g"] = out["hedges_g"].to_numpy() * sign
    lo = out["difference_ci_low"].to_numpy() * sign
    hi = out["difference_ci_high"].to_numpy() * sign
    out["improvement_difference"] = out["difference"].to_numpy() * sign
    out["improvement_ci_low"] = np.fmin(lo, hi)
    out["improvement_ci_high"] = np.fmax(lo, hi)
    return out


def _holm(out: pd.DataFrame, by: list[str] | None, outcomes: list | None = None,
          keys: list | None = None) -> np.ndarray:
    """Holm-adjusted p-values over the whole table, or within each ``by`` group, over every
    planned test (``p_planned``: withheld ones count too), each outcome once when
    ``outcomes`` labels the rows (:func:`spanalysis.change.family.holm_by_outcome`); withheld
    again where ``p`` is."""
    p = out["p_planned"].to_numpy(float)
    labels = list(range(len(out))) if outcomes is None else list(outcomes)
    keys = labels if keys is None else list(keys)
    groups = ([np.arange(len(out))] if not by
              else list(out.groupby(by, sort=False).indices.values()))
    adjusted = np.full(len(out), np.nan)
    for rows in groups:
        adjusted[rows] = holm_by_outcome(p[rows], [labels[i] for i in rows],
                                         [keys[i] for i in rows])
    adjusted[out["p"].isna().to_numpy()] = np.nan
    return adjusted

