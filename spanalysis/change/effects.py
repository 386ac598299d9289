"""Effect sizes and tests for change: standardised mean differences and their intervals,
Hedges' small-sample correction, Holm's adjustment, and the signed-rank test.

References
----------
Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative science.
    Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis.
    Wiley (chapter 4, small-sample correction J).
Steiger JH, Fouladi RT (1997). Noncentrality interval estimation and the evaluation of
    statistical models. In: What if there were no significance tests? Erlbaum, 221-257.
Cumming G, Finch S (2001). A primer on the understanding, use, and calculation of confidence
    intervals that are based on central and noncentral distributions. Educ Psychol Meas
    61:532-574.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press (ch. 5:
    the noncentral-t distribution of d and its interval).
Algina J, Keselman HJ (2003). Approximate confidence intervals for effect sizes. Educ Psychol
    Meas 63:537-553 (repeated measures: the noncentral-t interval of the paired t, rescaled).
Ben-Shachar MS, Luedecke D, Makowski D (2020). effectsize: Estimation of effect size indices
    and standardized parameters. JOSS 5:2815 (Hedges' g limits = d limits times J).
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
Wilcoxon F (1945). Individual comparisons by ranking methods. Biometrics Bulletin 1:80-83.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

from spanalysis.change.pairs import check_confidence
from spanalysis.errors import InputError


def p_adjust_holm(pvals) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error rate).

    Parameters
    ----------
    pvals : array-like of float
        p-values; NaN entries (tests not done) are left NaN and do not count in the family.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.

    Notes
    -----
    With the m available p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value is
    p~_(i) = min(1, max_{j<=i} (m - j + 1) p_(j))  (Holm 1979).

    References
    ----------
    Holm S (1979). Scand J Stat 6:65-70.

    Examples
    --------
    >>> p_adjust_holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(pvals, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adjusted = np.minimum(np.maximum.accumulate((m - np.arange(m)) * q[order]), 1.0)
        result = np.empty(m)
        result[order] = adjusted
        out[ok] = result
    return out


def hedges_j(df):
    """Small-sample correction J = 1 - 3 / (4 df - 1) (Borenstein et al. 2009, eq. 4.22).

    NaN below df = 2: at df = 1 (two pairs) J is 0, which would turn any effect into 0
    rather than an estimate (issue 19: 6)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df >= 2, 1.0 - 3.0 / (4.0 * df - 1.0), np.nan)


#: why a paired effect size is NaN, in the order checked
NOT_ESTIMABLE = {
    "d_z": "d_z not estimable: the changes have no variation (SD of the changes 0)",
    "d_av": "d_av and g_av not estimable: the scores have no variation at either time point",
    "g_av": "g_av not estimable: Hedges' correction needs at least 3 pairs (df >= 2)",
}


def _wilcoxon(diffs: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.wilcoxon`` with its defaults (zero differences dropped; exact p for up to
    50 differences without ties, else the normal approximation with the tie correction and
    no continuity correction; two-sided; W = the smaller rank sum). NaN, NaN when there is
    no difference or every difference is zero."""
    diffs = np.asarray(diffs, dtype=float)
    if diffs.size == 0 or np.all(diffs == 0):
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-n normal-approximation warnings
        res = stats.wilcoxon(diffs)
    return float(res.statistic), float(res.pvalue)


def _dz_ci(d_z, n, confidence):
    """Noncentral-t confidence interval for d_z (vectorised; NaN where not computable)."""
    d_z = np.asarray(d_z, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1.0 - confidence
    low = np.full(d_z.shape, np.nan)
    high = np.full(d_z.shape, np.nan)
    ok = np.isfinite(d_z) & (n >= 2)
    if ok.any():
        root_n = np.sqrt(n[ok])
        t_obs = d_z[ok] * root_n
        df = n[ok] - 1
        # nctdtrinc(df, p, t) returns the noncentrality delta with P(T <= t | delta) = p.
        low[ok] = special.nctdtrinc(df, 1 - alpha / 2, t_obs) / root_n
        high[ok] = special.nctdtrinc(df, alpha / 2, t_obs) / root_n
    return low, high


def _dav_ci(d_z, n, sd_diff, sd_av, confidence):
    """Approximate interval for d_av (and, times J, for g_av): the d_z interval rescaled by
    sd_diff / sd_av (vectorised; NaN where not computable).

    d_av = mean(diff) / sd_av = d_z * sd_diff / sd_av, so the limits are the noncentral-t
    limits of d_z times that ratio, the ratio being treated as known (Algina & Keselman 2003,
    whose denominator is the root mean square of the two SDs; here it is Lakens' (2013)
    average SD, so that the interval surrounds the d_av the tables show)."""
    low, high = _dz_ci(d_z, n, confidence)
    return _rescale_dz_ci(low, high, sd_diff, sd_av)


def _rescale_dz_ci(low, high, sd_diff, sd_av):
    """d_z limits -> d_av limits (times sd_diff / sd_av; NaN where sd_av is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_av = np.asarray(sd_av, dtype=float)
        ratio = np.where(sd_av > 0, np.asarray(sd_diff, dtype=float) / sd_av, np.nan)
    return np.asarray(low, dtype=float) * ratio, np.asarray(high, dtype=float) * ratio


def _smd_ci(d, n1, n2, confidence):
    """Noncentral-t interval for the standardised difference of two independent means
    (pooled SD), vectorised; NaN where not computable.

    t = d sqrt(n1 n2 / (n1 + n2)) follows a noncentral t with df = n1 + n2 - 2 and
    noncentrality delta sqrt(n1 n2 / (n1 + n2)); the limits are the noncentralities with
    P(T <= t_obs) = 1 - alpha/2 and alpha/2, divided by the same root (Hedges & Olkin 1985,
    ch. 5; Steiger & Fouladi 1997). Hedges' g limits are these times J(df)
    (Ben-Shachar et al. 2020, the R package effectsize)."""
    d = np.asarray(d, dtype=float)
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    d, n1, n2 = np.broadcast_arrays(d, n1, n2)
    low = np.full(d.shape, np.nan)
    high = np.full(d.shape, np.nan)
    ok = np.isfinite(d) & (n1 >= 1) & (n2 >= 1) & (n1 + n2 >= 3)
    if ok.any():
        root = np.sqrt(n1[ok] * n2[ok] / (n1[ok] + n2[ok]))
        df = n1[ok] + n2[ok] - 2
        alpha = 1.0 - confidence
        t_obs = d[ok] * root
        low[ok] = special.nctdtrinc(df, 1 - alpha / 2, t_obs) / root
        high[ok] = special.nctdtrinc(df, alpha / 2, t_obs) / root
    return low, high


def hedges_g_ci(g, n1, n2, confidence: float = 0.95):
    """Confidence interval of Hedges' g for two independent groups (noncentral t).

    Parameters
    ----------
    g : float or array-like
        Hedges' g = d J, d the pooled-SD standardised difference and
        J = 1 - 3 / (4 (n1 + n2 - 2) - 1).
    n1, n2 : int or array-like
        Group sizes.
    confidence : float
        Confidence level (default 0.95).

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)``; NaN where g is NaN or there are fewer than three people (df < 1), or
        where J is not defined (df < 2).

    Notes
    -----
    d = g / J; its interval inverts the noncentral t of t = d sqrt(n1 n2 / (n1 + n2)) with
    df = n1 + n2 - 2 (Hedges & Olkin 1985, ch. 5); the limits are then multiplied by J, as the
    R package effectsize does (Ben-Shachar et al. 2020). Exact under normality and equal
    variances.

    Examples
    --------
    >>> low, high = hedges_g_ci(0.5, 20, 20)
    >>> float(low.round(3)), float(high.round(3))
    (-0.121, 1.115)
    """
    confidence = check_confidence(confidence)
    n1 = np.asarray(n1, dtype=float)
    n2 = np.asarray(n2, dtype=float)
    j = hedges_j(n1 + n2 - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.asarray(g, dtype=float) / j
    low, high = _smd_ci(d, n1, n2, confidence)
    return low * j, high * j


def paired_effect_sizes(pre, post, confidence: float = 0.95) -> dict:
    """Standardised mean differences for a pre/post (within-person) design.

    Parameters
    ----------
    pre, post : array-like of float, same length
        Scores of the same people at the two time points. Pairs with a missing value in either
        are dropped (complete pairs only).
    confidence : float
        Level of the intervals (default 0.95).

    Returns
    -------
    dict
        ``n`` (complete pairs), ``mean_diff`` (post - pre), ``sd_diff``, ``sd_pre``,
        ``sd_post``, ``r`` (pre-post Pearson correlation), ``d_z``, ``d_av``, ``d_rm``,
        ``hedges_j``, ``g_av``, the intervals ``d_z_ci_low, d_z_ci_high, d_av_ci_low,
        d_av_ci_high, g_av_ci_low, g_av_ci_high`` and ``reason`` (why an effect size is NaN, see
        :data:`NOT_ESTIMABLE`; None when all are estimated). SDs use n - 1. An effect size that
        would divide by a zero SD is NaN, as in :func:`~spanalysis.change.paired_change`.

    Notes
    -----
    Following Lakens (2013), with diff = post - pre:

    * d_z = mean(diff) / sd(diff)  (= t / sqrt(n))
    * d_av = mean(diff) / ((sd_pre + sd_post) / 2)
    * d_rm = mean(diff) / sqrt(sd_pre^2 + sd_post^2 - 2 r sd_pre sd_post) * sqrt(2 (1 - r))
    * g_av = d_av * J with J = 1 - 3 / (4 df - 1), df = n - 1 (Borenstein et al. 2009, as
      specified in the project's measures reference; Lakens' spreadsheet instead uses
      1 - 3 / (4 (n1 + n2) - 9), which differs slightly in small samples).

    Intervals: d_z by inverting the noncentral t of the paired t statistic (exact under
    normality; Steiger & Fouladi 1997, Cumming & Finch 2001); d_av by the same limits times
    sd_diff / sd_av (Algina & Keselman 2003, approximate: the SD ratio is treated as known);
    g_av by the d_av limits times J.

    pingouin's ``compute_effsize(x, y, paired=True)`` divides by the root mean square of the
    two SDs, sqrt((sd_pre^2 + sd_post^2) / 2): that is neither d_z nor Lakens' d_av, so it is
    not used here.

    References
    ----------
    Lakens D (2013). Front Psychol 4:863. Borenstein M et al. (2009). Introduction to
    Meta-Analysis, ch. 4.

    Examples
    --------
    >>> es = paired_effect_sizes([10, 12, 14, 16, 18], [12, 13, 17, 18, 21])
    >>> round(es["d_z"], 4), round(es["d_av"], 4), round(es["g_av"], 4)
    (2.6295, 0.6411, 0.5128)
    """
    confidence = check_confidence(confidence)
    x = np.asarray(pre, dtype=float)
    y = np.asarray(post, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InputError("pre and post must be one-dimensional and of the same length",
                         value=f"{x.shape} and {y.shape}", expected="two equal-length vectors")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = x.size
    if n < 2:
        raise InputError("effect sizes need at least two complete pairs", value=n,
                         expected="2 or more pairs")
    diff = y - x
    mean_diff = diff.mean()
    sd_diff = diff.std(ddof=1)
    sd_pre = x.std(ddof=1)
    sd_post = y.std(ddof=1)
    sd_av = (sd_pre + sd_post) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = float(np.corrcoef(x, y)[0, 1]) if sd_pre > 0 and sd_post > 0 else math.nan
        d_z = mean_diff / sd_diff if sd_diff > 0 else math.nan
        d_av = mean_diff / sd_av if sd_av > 0 else math.nan
        d_rm = (mean_diff / math.sqrt(sd_pre**2 + sd_post**2 - 2 * r * sd_pre * sd_post)
                * math.sqrt(2 * (1 - r))) if np.isfinite(r) else math.nan
    j = float(hedges_j(n - 1))
    z_low, z_high = _dz_ci(d_z, n, confidence)
    av_low, av_high = _dav_ci(d_z, n, sd_diff, sd_av, confidence)
    reasons = [NOT_ESTIMABLE[k] for k, missing in
               (("d_z", sd_diff == 0), ("d_av", sd_av == 0), ("g_av", sd_av > 0 and n < 3))
               if missing]
    return {"n": int(n), "mean_diff": float(mean_diff), "sd_diff": float(sd_diff),
            "sd_pre": float(sd_pre), "sd_post": float(sd_post), "r": r, "d_z": float(d_z),
            "d_av": float(d_av), "d_rm": float(d_rm), "hedges_j": j, "g_av": float(d_av * j),
            "d_z_ci_low": float(z_low), "d_z_ci_high": float(z_high),
            "d_av_ci_low": float(av_low), "d_av_ci_high": float(av_high),
            "g_av_ci_low": float(av_low * j), "g_av_ci_high": float(av_high * j),
            "reason": "; ".join(reasons) or None}
