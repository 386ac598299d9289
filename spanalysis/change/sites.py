"""Change by site: per-site tables, a random-intercept model and a forest plot.

Participants are nested in sites (practices, link workers), so a pooled mean change that ignores
the sites overstates precision when sites differ. :func:`mixed_model_change` fits
change_ij = mu + u_j + e_ij with u_j ~ N(0, tau^2) (between sites) and e_ij ~ N(0, sigma^2)
(within sites) and reports the ICC = tau^2 / (tau^2 + sigma^2).

References
----------
Seabold S, Perktold J (2010). statsmodels: econometric and statistical modeling with Python.
    Proc 9th Python in Science Conf. (``statsmodels.regression.mixed_linear_model.MixedLM``)
Snijders TAB, Bosker RJ (2012). Multilevel Analysis, 2nd ed. Sage (ch. 3-4: the random
    intercept model and the intraclass correlation).
Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ 322:1479.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from spanalysis.change.paired import paired_change
from spanalysis.change.pairs import _attach_group, _pair_table, _resolve_pre_post, check_confidence
from spanalysis.errors import InputError

__all__ = ["site_change", "mixed_model_change", "forest_plot", "site_variance_lrt",
           "satterthwaite_df", "icc_interval", "icc_bootstrap", "icc_anova",
           "site_estimates", "few_sites_note", "FEW_SITES", "ICC_BOOTSTRAP_RESAMPLES",
           "ICC_BOOTSTRAP_SEED", "ICC_BOOTSTRAP_METHOD", "clear_bootstrap_cache"]

#: fewer sites than this and the between-site variance is not estimated with any precision
FEW_SITES = 5


def site_change(scores: pd.DataFrame, scale_info: pd.DataFrame, participants: pd.DataFrame,
                site_column: str = "site", **kwargs) -> pd.DataFrame:
    """Paired change per site: :func:`spanalysis.change.paired_change` with ``by=site_column``.

    Parameters
    ----------
    scores, scale_info, participants : DataFrame
        As for :func:`~spanalysis.change.paired_change`.
    site_column : str
        Participants column naming the site (default 'site'; 'link_worker' also works).
    **kwargs
        ``confidence, min_cell_size, pre, post, timepoints`` passed on.

    Returns
    -------
    DataFrame
        The paired_change columns with the site in column ``site_column``; sites below
        ``min_cell_size`` have statistics withheld and ``small_group=True``. Holm adjustment
        is across scales within each site.

    Examples
    --------
    >>> import numpy as np
    >>> ids = [f"P{i}" for i in range(12)]
    >>> scores = pd.DataFrame({"participant_id": ids * 2,
    ...     "timepoint": ["baseline"] * 12 + ["followup"] * 12, "instrument": "w",
    ...     "scale": "t", "score": np.r_[np.arange(40, 52), np.arange(40, 52) + 2]})
    >>> people = pd.DataFrame({"participant_id": ids, "site": ["A"] * 8 + ["B"] * 4})
    >>> info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    >>> res = site_change(scores, info, people, timepoints=["baseline", "followup"])
    >>> res[["site", "n_pairs", "small_group"]].to_dict("records")
    [{'site': 'A', 'n_pairs': 8, 'small_group': False}, {'site': 'B', 'n_pairs': 4, 'small_group': True}]
    """
    return paired_change(scores, scale_info, participants=participants, by=site_column,
                         **kwargs)


def mixed_model_change(scores: pd.DataFrame, participants: pd.DataFrame, instrument: str,
                       scale: str, site_column: str = "site", confidence: float = 0.95,
                       reml: bool = True, pre=None, post=None, timepoints=None) -> pd.DataFrame:
    """Pooled change with a random intercept for site, and the between-site ICC.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores (``participant_id, timepoint, instrument, scale, score``).
    participants : DataFrame
        ``participant_id`` and ``site_column``.
    instrument, scale : str
        The scale to model.
    site_column : str
        Grouping column (default 'site').
    confidence : float
        Level of the interval for the pooled change.
    reml : bool
        Restricted maximum likelihood (default, as statsmodels) or ML.
    pre, post, timepoints
        As for :func:`~spanalysis.change.paired_change`.

    Returns
    -------
    DataFrame
        One row: ``instrument, scale, n_participants`` (complete pairs), ``n_sites``,
        ``change_mean`` (the fixed intercept mu: pooled post - pre change), ``se``,
        ``change_ci_low, change_ci_high`` (Wald interval, normal quantiles, as statsmodels'
        ``conf_int``), ``z, p``, ``var_site`` (tau^2), ``var_resid`` (sigma^2), ``icc``,
        ``method`` ('REML' or 'ML'), ``converged``, ``warnings`` (text of every fitting
        warning, statsmodels' ConvergenceWarning included, e.g. a between-site variance
        estimated on the boundary at 0) and ``instead`` (what was done when statsmodels'
        optimisers did not converge: a fall-back optimiser that did, or, when none did,
        :data:`NOT_CONVERGED`; empty otherwise). A model that did not converge is never
        reported as a model estimate. Then, for few sites (issue 23: 5): ``lrt_site,
        p_lrt_site`` (:func:`site_variance_lrt`: ML likelihood-ratio test of tau^2 = 0 with
        the boundary p = 0.5 P(chi2_1 > LR)), ``df_satterthwaite, t, p_satterthwaite,
        change_ci_low_satterthwaite, change_ci_high_satterthwaite`` (the pooled change's t
        test and interval with :func:`satterthwaite_df`, to report in place of the Wald z
        when sites are few), ``icc_ci_low, icc_ci_high, icc_ci_method``
        (:func:`icc_interval`), ``few_sites`` (fewer than :data:`FEW_SITES`) and
        ``few_sites_note`` (:func:`few_sites_note`, empty otherwise); ``icc_boot_ci_low,
        icc_boot_ci_high, icc_boot_method`` (:func:`icc_bootstrap`: the seeded cluster
        bootstrap interval of the ICC beside the F interval, issue 23: 4).

    Notes
    -----
    Model: change_ij = mu + u_j + e_ij, fitted with ``statsmodels`` MixedLM
    (``change ~ 1``, ``groups=site``). ICC = tau^2 / (tau^2 + sigma^2): the share of the
    variation in change that lies between sites (Snijders & Bosker 2012). With few sites the
    Wald interval is too narrow and tau^2 is imprecise; with one site the model is not
    identified and an error is raised. For balanced sites and tau^2 > 0 the REML estimates
    equal the one-way ANOVA (method of moments) estimates.

    References
    ----------
    Snijders TAB, Bosker RJ (2012). Multilevel Analysis. Seabold & Perktold (2010),
    statsmodels.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> ids = [f"P{i}" for i in range(30)]
    >>> pre = rng.normal(45, 8, 30)
    >>> post = pre + np.repeat([1.0, 3.0, 5.0], 10) + rng.normal(0, 2, 30)
    >>> scores = pd.DataFrame({"participant_id": ids * 2,
    ...     "timepoint": ["baseline"] * 30 + ["followup"] * 30, "instrument": "w",
    ...     "scale": "t", "score": np.r_[pre, post]})
    >>> people = pd.DataFrame({"participant_id": ids, "site": np.repeat(["A", "B", "C"], 10)})
    >>> res = mixed_model_change(scores, people, "w", "t", timepoints=["baseline", "followup"])
    >>> int(res["n_sites"].iloc[0]), bool(0 < res["icc"].iloc[0] < 1)
    (3, True)
    """
    import statsmodels.api as sm

    confidence = check_confidence(confidence)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post)
    pairs = pairs[(pairs["instrument"] == str(instrument)) & (pairs["scale"] == str(scale))]
    if pairs.empty:
        raise InputError("no scores for this scale", file="scores", column="scale",
                         value=f"{instrument}/{scale}", expected="a scored instrument and scale")
    data = _attach_group(pairs, participants, site_column)
    data = data[data["pre"].notna() & data["post"].notna()]
    data = data.assign(change=data["post"] - data["pre"]).sort_values(
        [site_column, "participant_id"], kind="stable")
    n_sites = data[site_column].nunique()
    if n_sites < 2 or len(data) < 3:
        raise InputError("a mixed model needs complete pairs from at least two sites",
                         column=site_column, value=f"{len(data)} pairs in {n_sites} site(s)",
                         expected="two or more sites (use paired_change for one site)")
    model = sm.MixedLM(data["change"].to_numpy(float), np.ones((len(data), 1)),
                       groups=data[site_column].to_numpy())
    fit, messages, instead = _fit(model, reml)
    row = {"instrument": str(instrument), "scale": str(scale),
           "n_participants": int(len(data)), "n_sites": int(n_sites)}
    if fit is None:
        row.update(_plain_mean(data["change"].to_numpy(float), confidence))
    else:
        ci = np.asarray(fit.conf_int(alpha=1 - confidence))[0]
        var_site = float(np.asarray(fit.cov_re)[0, 0])
        var_resid = float(fit.scale)
        total = var_site + var_resid
        row.update({"change_mean": float(fit.fe_params[0]), "se": float(fit.bse_fe[0]),
                    "change_ci_low": float(ci[0]), "change_ci_high": float(ci[1]),
                    "z": float(fit.tvalues[0]), "p": float(fit.pvalues[0]),
                    "var_site": var_site, "var_resid": var_resid,
                    "icc": var_site / total if total > 0 else math.nan})
    row.update({"method": "REML" if reml else "ML", "converged": fit is not None,
                "warnings": "; ".join(messages), "instead": instead})
    row.update(_small_cluster_inference(data["change"].to_numpy(float),
                                        data[site_column].to_numpy(), row, confidence))
    return pd.DataFrame([row])


def _small_cluster_inference(y: np.ndarray, groups: np.ndarray, row: dict,
                             confidence: float) -> dict:
    """The columns added for few clusters (issue 23: 5): the likelihood-ratio test of the
    site variance, the Satterthwaite t test and interval of the pooled change, the ICC's F
    interval and the few-sites sentence."""
    from scipy import stats

    lr, p_lr = site_variance_lrt(y, groups)
    out = {"lrt_site": lr, "p_lrt_site": p_lr, "df_satterthwaite": math.nan,
           "t": math.nan, "p_satterthwaite": math.nan, "change_ci_low_satterthwaite": math.nan,
           "change_ci_high_satterthwaite": math.nan}
    if row.get("converged") and np.isfinite(row.get("var_resid", math.nan)):
        df = satterthwaite_df(groups, row["var_site"], row["var_resid"])
        se, mean = row["se"], row["change_mean"]
        if np.isfinite(df) and se > 0:
            q = stats.t.ppf(1 - (1 - confidence) / 2, df)
            out.update(df_satterthwaite=df, t=mean / se,
                       p_satterthwaite=float(2 * stats.t.sf(abs(mean / se), df)),
                       change_ci_low_satterthwaite=mean - q * se,
                       change_ci_high_satterthwaite=mean + q * se)
    low, high = icc_interval(y, groups, confidence)
    boot_low, boot_high = icc_bootstrap(y, groups, confidence)
    out.update(icc_ci_low=low, icc_ci_high=high, icc_ci_method=ICC_CI_METHOD,
               icc_boot_ci_low=boot_low, icc_boot_ci_high=boot_high,
               icc_boot_method=ICC_BOOTSTRAP_METHOD,
               few_sites=row["n_sites"] < FEW_SITES,
               few_sites_note=few_sites_note(row["n_sites"]) or "")
    return out


#: how the ICC interval is computed, for the report
ICC_CI_METHOD = ("F interval of the one-way ANOVA intraclass correlation (Searle 1971; exact "
                 "for equal site sizes, with the average size n0 otherwise), lower end "
                 "clipped at 0")


def site_variance_lrt(y, groups) -> tuple[float, float]:
    """Likelihood-ratio test of the between-site variance (H0: tau^2 = 0).

    ``(LR, p)``: LR = 2 (l1 - l0), l1 the maximum likelihood (ML, not REML) of the random-
    intercept model (statsmodels MixedLM) and l0 that of the model without it (all changes
    iid normal: l0 = -n/2 (log(2 pi s2) + 1), s2 the ML variance). tau^2 = 0 lies on the
    boundary of the parameter space, so LR follows a 50:50 mixture of chi2_0 and chi2_1 and
    p = 0.5 P(chi2_1 > LR) (Self & Liang 1987, J Am Stat Assoc 82:605; Stram & Lee 1994,
    Biometrics 50:1171); p = 1 when LR = 0. NaN when the ML fit does not converge.

    Examples
    --------
    >>> y = np.r_[np.zeros(5), np.ones(5) * 4] + np.tile([-1., 0., 1., 0.5, -0.5], 2)
    >>> lr, p = site_variance_lrt(y, np.repeat(["A", "B"], 5))
    >>> bool(lr > 0 and p < 0.5)
    True
    """
    import statsmodels.api as sm
    from scipy import stats

    y = np.asarray(y, dtype=float)
    n = y.size
    s2 = float(np.mean((y - y.mean()) ** 2))
    l0 = -0.5 * n * (math.log(2 * math.pi * s2) + 1) if s2 > 0 else math.nan
    fit, _, _ = _fit(sm.MixedLM(y, np.ones((n, 1)), groups=np.asarray(groups)), reml=False)
    if fit is None or not np.isfinite(l0):
        return math.nan, math.nan
    lr = max(0.0, 2 * (float(fit.llf) - l0))
    return lr, (1.0 if lr == 0 else float(0.5 * stats.chi2.sf(lr, 1)))


def satterthwaite_df(groups, var_site: float, var_resid: float) -> float:
    """Satterthwaite degrees of freedom for the pooled mean of a random-intercept model.

    var(mu_hat) = V = 1 / S, S = sum_j n_j / lambda_j, lambda_j = sigma^2 + n_j tau^2;
    df = 2 V^2 / (g' A g), g the gradient of V in (tau^2, sigma^2) and A the inverse of the
    expected REML information I_ab = tr(P V_a P V_b) / 2 (Satterthwaite 1946; Giesbrecht &
    Burns 1985, Biometrics 41:477; as lmerTest, Kuznetsova et al. 2017, J Stat Softw 82:13).
    With the compound-symmetric blocks the traces are sums over sites (closed forms in the
    code). For equal site sizes and tau^2 > 0 the result is J - 1, the df of the t test of
    the site means. NaN when it cannot be computed (sigma^2 = 0).

    >>> round(satterthwaite_df(np.repeat(list("ABCD"), 5), 2.0, 3.0), 6)
    3.0
    """
    n = pd.Series(np.asarray(groups)).value_counts().to_numpy(float)
    t2, s2 = float(var_site), float(var_resid)
    if not (s2 > 0 and t2 >= 0):
        return math.nan
    lam = s2 + n * t2
    S = np.sum(n / lam)
    a2, b2 = np.sum(n ** 2 / lam ** 2), np.sum(n / lam ** 2)
    i_tt = 0.5 * (a2 - 2 / S * np.sum(n ** 3 / lam ** 3) + a2 ** 2 / S ** 2)
    i_ts = 0.5 * (b2 - 2 / S * np.sum(n ** 2 / lam ** 3) + a2 * b2 / S ** 2)
    tr_ww = np.sum((n - 1) / s2 ** 2 + 1 / lam ** 2)
    i_ss = 0.5 * (tr_ww - 2 / S * np.sum(n / lam ** 3) + b2 ** 2 / S ** 2)
    info = np.array([[i_tt, i_ts], [i_ts, i_ss]])
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return math.nan
    v = 1 / S
    g = np.array([a2, b2]) / S ** 2
    denom = float(g @ cov @ g)
    return float(2 * v ** 2 / denom) if denom > 0 else math.nan


def icc_interval(y, groups, confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the intraclass correlation from the one-way ANOVA.

    F = MSB / MSW with J - 1 and N - J df; F_L = F / F_{1-a/2}, F_U = F / F_{a/2};
    ICC_L = (F_L - 1) / (F_L + n0 - 1), ICC_U likewise, n0 = (N - sum n_j^2 / N) / (J - 1)
    (Searle 1971, Linear Models, sec. 9.7; exact for equal site sizes, the usual
    approximation otherwise; as Shrout & Fleiss 1979's ICC(1)). Both ends are clipped to
    [0, 1]. NaN when it cannot be computed (one site, or no variation within sites).

    >>> lo, hi = icc_interval(np.r_[1., 2, 3, 5, 6, 7, 2, 3, 4], np.repeat(list("ABC"), 3))
    >>> round(lo, 3), round(hi, 3)
    (0.209, 0.994)
    """
    from scipy import stats

    confidence = check_confidence(confidence)
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "g": np.asarray(groups)})
    agg = frame.groupby("g")["y"].agg(["mean", "count"])
    J, N = len(agg), len(frame)
    if J < 2 or N <= J:
        return math.nan, math.nan
    grand = frame["y"].mean()
    ssb = float(np.sum(agg["count"] * (agg["mean"] - grand) ** 2))
    ssw = float(np.sum((frame["y"] - frame["g"].map(agg["mean"])) ** 2))
    if ssw <= 0:
        return math.nan, math.nan
    f = (ssb / (J - 1)) / (ssw / (N - J))
    n0 = (N - float(np.sum(agg["count"] ** 2)) / N) / (J - 1)
    a = 1 - confidence
    f_l = f / stats.f.ppf(1 - a / 2, J - 1, N - J)
    f_u = f / stats.f.ppf(a / 2, J - 1, N - J)
    clip = lambda v: float(min(1.0, max(0.0, v)))      # noqa: E731
    return clip((f_l - 1) / (f_l + n0 - 1)), clip((f_u - 1) / (f_u + n0 - 1))


#: resamples and seed of :func:`icc_bootstrap` (issue 23: 4, at least 1,000 resamples)
ICC_BOOTSTRAP_RESAMPLES = 2000
ICC_BOOTSTRAP_SEED = 20230
#: how the bootstrap interval of the ICC is computed, for the report
ICC_BOOTSTRAP_METHOD = (f"cluster bootstrap: {ICC_BOOTSTRAP_RESAMPLES:,} resamples of the sites "
                        "with replacement, each site with all its people (Davison & Hinkley "
                        "1997, sec. 3.8; Field & Welsh 2007; Ukoumunne et al. 2003); the "
                        "one-way ANOVA ICC of each resample, negative values set to 0; "
                        "percentile limits")


def icc_anova(y, groups) -> float:
    """The one-way ANOVA (method of moments) estimate of the intraclass correlation,
    ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW), n0 = (N - sum n_j^2 / N) / (J - 1) (Searle
    1971, sec. 9.7; Shrout & Fleiss 1979's ICC(1)), negative values set to 0 (a variance is
    not negative). NaN with fewer than two sites or no variation within sites.

    Worked: site means 2, 6, 3, grand mean 11/3; MSB = 3 (25/9 + 49/9 + 4/9) / 2 = 13,
    MSW = 6 / 6 = 1, n0 = 3, so ICC = (13 - 1) / (13 + 2) = 0.8.

    >>> round(icc_anova(np.r_[1., 2, 3, 5, 6, 7, 2, 3, 4], np.repeat(list("ABC"), 3)), 4)
    0.8
    """
    stats_ = _site_sums(np.asarray(y, dtype=float), np.asarray(groups))
    if stats_ is None:
        return math.nan
    n, total, within = stats_
    return float(_icc_from_weights(np.ones((1, n.size)), n, total, within)[0])


def _site_sums(y: np.ndarray, groups: np.ndarray):
    """Per site: size n_j, sum of the changes, within-site sum of squares (None if < 2
    sites)."""
    codes, _ = pd.factorize(pd.Series(groups), sort=True)
    J = int(codes.max()) + 1 if codes.size else 0
    if J < 2:
        return None
    n = np.bincount(codes, minlength=J).astype(float)
    total = np.bincount(codes, weights=y, minlength=J)
    mean = total / n
    within = np.bincount(codes, weights=(y - mean[codes]) ** 2, minlength=J)
    return n, total, within


def _icc_from_weights(w: np.ndarray, n: np.ndarray, total: np.ndarray,
                      within: np.ndarray) -> np.ndarray:
    """The ANOVA ICC of each row of ``w`` (w[b, j] = copies of site j in resample b), from
    the sites' sufficient statistics; each copy of a site is a cluster of its own."""
    J = w.sum(axis=1)
    N = w @ n
    mean = total / n
    grand = (w @ total) / N
    ssb = np.einsum("bj,j,bj->b", w, n, (mean[None, :] - grand[:, None]) ** 2)
    ssw = w @ within
    with np.errstate(divide="ignore", invalid="ignore"):
        msb, msw = ssb / (J - 1), ssw / (N - J)
        n0 = (N - (w @ n ** 2) / N) / (J - 1)
        icc = (msb - msw) / (msb + (n0 - 1) * msw)
    icc = np.where((J >= 2) & (N > J) & (ssw > 0), icc, np.nan)
    return np.where(np.isfinite(icc), np.clip(icc, 0.0, 1.0), np.nan)


_BOOT_CACHE: dict = {}
_BOOT_CACHE_SIZE = 64


def clear_bootstrap_cache() -> None:
    """Forget the ICC bootstrap intervals kept in this process."""
    _BOOT_CACHE.clear()


def icc_bootstrap(y, groups, confidence: float = 0.95,
                  n_resamples: int = ICC_BOOTSTRAP_RESAMPLES,
                  seed: int = ICC_BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the intraclass correlation (issue 23: 4/5).

    Scheme: the sites are resampled with replacement (J draws from the J sites), each
    drawn site bringing all its people; each copy of a site counts as a cluster. Resampling
    the clusters alone is the scheme that keeps the two variance components' structure:
    resampling people within sites as well adds the within-site variation a second time
    and overstates the between-site variance (Davison & Hinkley 1997, Bootstrap Methods
    and their Application, sec. 3.8; Field & Welsh 2007, J R Stat Soc B 69:369; Ukoumunne
    et al. 2003, Stat Med 22:3805, for the ICC). It is also the scheme of the agreement
    intervals (:mod:`spanalysis.qual.agreement`, whole sources).

    Each resample's ICC is the one-way ANOVA estimate (:func:`icc_anova`), computed for
    all resamples at once from the sites' sizes, sums and within-site sums of squares
    (a resample is a vector of how many copies of each site it holds). The limits are the
    (1 - confidence)/2 and (1 + confidence)/2 quantiles of the resamples' ICCs (percentile
    method, Efron & Tibshirani 1993, ch. 13). Seeded (``seed``), so the same data give the
    same interval; results are cached in the process (the same data, level, count and seed
    are not resampled twice). With few sites (under :data:`FEW_SITES`) the interval is
    as unreliable as any: say so (:func:`few_sites_note`). NaN with fewer than two sites or
    no variation within sites.

    >>> y = np.r_[1., 2, 3, 5, 6, 7, 2, 3, 4, 6, 7, 8]
    >>> lo, hi = icc_bootstrap(y, np.repeat(list("ABCD"), 3))
    >>> bool(0 <= lo <= icc_anova(y, np.repeat(list("ABCD"), 3)) <= hi <= 1)
    True
    """
    confidence = check_confidence(confidence)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 1:
        raise InputError("the number of bootstrap resamples must be a positive whole number",
                         column="n_resamples", value=n_resamples, expected="e.g. 2000")
    y = np.asarray(y, dtype=float)
    groups = np.asarray(groups)
    key = (pd.util.hash_pandas_object(pd.DataFrame({"y": y, "g": groups.astype(str)}),
                                      index=False).to_numpy().tobytes(),
           float(confidence), int(n_resamples), int(seed))
    if key in _BOOT_CACHE:
        return _BOOT_CACHE[key]
    stats_ = _site_sums(y, groups)
    result = (math.nan, math.nan)
    if stats_ is not None and stats_[2].sum() > 0:
        n, total, within = stats_
        J = n.size
        draws = np.random.default_rng(int(seed)).integers(0, J, size=(int(n_resamples), J))
        rows = np.repeat(np.arange(int(n_resamples)), J)
        w = np.bincount(rows * J + draws.ravel(), minlength=int(n_resamples) * J
                        ).reshape(int(n_resamples), J).astype(float)
        icc = _icc_from_weights(w, n, total, within)
        icc = icc[np.isfinite(icc)]
        if icc.size:
            a = 1 - confidence
            lo, hi = np.quantile(icc, [a / 2, 1 - a / 2])
            result = (float(lo), float(hi))
    if len(_BOOT_CACHE) >= _BOOT_CACHE_SIZE:
        _BOOT_CACHE.pop(next(iter(_BOOT_CACHE)))
    _BOOT_CACHE[key] = result
    return result


def few_sites_note(n_sites: int) -> str | None:
    """A sentence for a report when there are too few sites to say anything about the
    variation between them (fewer than :data:`FEW_SITES`), else None. Variance components
    estimated from fewer than five or six groups are too imprecise to interpret (Bolker et
    al. 2009, Trends Ecol Evol 24:127)."""
    n_sites = int(n_sites)
    if n_sites >= FEW_SITES:
        return None
    return (f"With only {n_sites} site{'s' if n_sites != 1 else ''}, the variation between "
            "sites (and the ICC) cannot be estimated with any useful precision: read the "
            "between-site figures as a description of these sites, not as evidence about "
            "how much sites differ.")


def site_estimates(scores: pd.DataFrame, participants: pd.DataFrame, instrument: str,
                   scale: str, site_column: str = "site", confidence: float = 0.95,
                   min_cell_size: int = 5, pre=None, post=None,
                   timepoints=None) -> pd.DataFrame:
    """Each site's shrunken (empirical Bayes) mean change from the random-intercept model,
    for a caterpillar plot.

    One row per site: ``site_column, n_pairs, raw_mean`` (the site's own mean change),
    ``estimate`` = mu + u_j (the BLUP: u_j = tau^2 n_j / (sigma^2 + n_j tau^2) (ybar_j - mu),
    statsmodels' ``random_effects``), ``shrinkage`` (the factor n_j tau^2 / (sigma^2 +
    n_j tau^2)), ``se`` (the conditional SD of u_j, sqrt(tau^2 sigma^2 / (sigma^2 +
    n_j tau^2)), as lme4's ``condVar``; the uncertainty of mu is not added), ``ci_low,
    ci_high`` (estimate -/+ z se), ``small_group`` (fewer than ``min_cell_size`` people: the
    site's numbers are withheld, since the raw mean can be recovered from the estimate),
    ``pooled`` (mu) and ``confidence``. Empty when the model does not converge
    (:func:`mixed_model_change` says why). Snijders & Bosker 2012, sec. 4.8.
    """
    import statsmodels.api as sm
    from scipy import stats

    confidence = check_confidence(confidence)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post)
    pairs = pairs[(pairs["instrument"] == str(instrument)) & (pairs["scale"] == str(scale))]
    data = _attach_group(pairs, participants, site_column)
    data = data[data["pre"].notna() & data["post"].notna()]
    data = data.assign(change=data["post"] - data["pre"])
    cols = [site_column, "n_pairs", "raw_mean", "estimate", "shrinkage", "se", "ci_low",
            "ci_high", "small_group", "pooled", "confidence"]
    if data[site_column].nunique() < 2 or len(data) < 3:
        return pd.DataFrame(columns=cols)
    fit, _, _ = _fit(sm.MixedLM(data["change"].to_numpy(float), np.ones((len(data), 1)),
                                groups=data[site_column].to_numpy()), reml=True)
    if fit is None:
        return pd.DataFrame(columns=cols)
    mu, t2, s2 = float(fit.fe_params[0]), float(np.asarray(fit.cov_re)[0, 0]), float(fit.scale)
    agg = data.groupby(site_column, observed=True)["change"].agg(["count", "mean"])
    n = agg["count"].to_numpy(float)
    out = pd.DataFrame({site_column: agg.index.astype(str), "n_pairs": n.astype(int),
                        "raw_mean": agg["mean"].to_numpy(float)})
    # the BLUP by its formula (what statsmodels' random_effects gives for this model), which
    # also holds when the site variance is estimated as 0: every site at the pooled mean
    # (statsmodels refuses to predict from a singular covariance)
    out["shrinkage"] = n * t2 / (s2 + n * t2)
    out["estimate"] = mu + out["shrinkage"] * (out["raw_mean"] - mu)
    out["se"] = np.sqrt(t2 * s2 / (s2 + n * t2))
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    out["ci_low"], out["ci_high"] = out["estimate"] - z * out["se"], out["estimate"] + z * out["se"]
    out["small_group"] = out["n_pairs"] < min_cell_size
    out.loc[out["small_group"], ["raw_mean", "estimate", "se", "ci_low", "ci_high"]] = np.nan
    out["pooled"], out["confidence"] = mu, confidence
    return out[cols].reset_index(drop=True)


#: optimisers tried after statsmodels' own (BFGS, then L-BFGS, then CG) fail to converge
FALLBACK_OPTIMISERS = ("powell", "nm")

#: what the model row says was done when no optimiser converged
NOT_CONVERGED = ("the model did not converge with any optimiser (statsmodels' BFGS, L-BFGS "
                 "and CG, then Powell and Nelder-Mead): no model estimate is reported; the "
                 "pooled change shown is the plain mean change of all pairs with its t "
                 "interval (sites ignored), and the between-site variance and ICC are not "
                 "estimated")


def _fit(model, reml: bool):
    """The model fitted with statsmodels' optimisers, then each fall-back in turn until one
    converges: ``(fit or None, warning texts, what was done instead)``. Every warning raised
    (statsmodels' ConvergenceWarning among them) is kept, first lines only, in order."""
    messages: list[str] = []
    for method in (None,) + FALLBACK_OPTIMISERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = (model.fit(reml=reml) if method is None
                       else model.fit(reml=reml, method=[method]))
            except (np.linalg.LinAlgError, ValueError) as exc:
                # e.g. "Singular matrix" with a handful of people in a few sites: a fit
                # that fails, treated as one that did not converge
                fit = None
                messages.append(f"{method or 'bfgs, lbfgs, cg'}: the fit failed ({exc})")
        for w in caught:
            text = str(w.message).splitlines()[0]
            if method is not None:
                text = f"{method}: {text}"
            if text not in messages:
                messages.append(text)
        if fit is not None and fit.converged:
            instead = "" if method is None else (
                f"statsmodels' optimisers did not converge; refitted with {method}, "
                "which converged")
            return fit, sorted(messages) if method is None else messages, instead
        if fit is not None:
            messages.append(f"{method or 'bfgs, lbfgs, cg'}: did not converge")
    return None, messages, NOT_CONVERGED


def _plain_mean(change: np.ndarray, confidence: float) -> dict:
    """Mean change of all pairs with its t interval, sites ignored (the fall-back)."""
    from scipy import stats

    n = change.size
    mean = float(change.mean())
    se = float(change.std(ddof=1) / math.sqrt(n))
    t = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
    tval = mean / se if se > 0 else math.nan
    return {"change_mean": mean, "se": se, "change_ci_low": mean - t * se,
            "change_ci_high": mean + t * se, "z": tval,
            "p": float(2 * stats.t.sf(abs(tval), n - 1)) if se > 0 else math.nan,
            "var_site": math.nan, "var_resid": math.nan, "icc": math.nan}


#: above this many sites the forest plot draws each site as a thin unlabelled row (the site
#: table names them): a labelled row each makes a figure 85 inches tall at 200 sites
MANY_SITES = 30


def _axis_words(table: pd.DataFrame) -> tuple[str, str, str]:
    """The scale's name, "higher/lower is better" (or "") and the interval's level."""
    name = (str(table["scale_name"].iloc[0]) if "scale_name" in table.columns and len(table)
            else "score")
    direction = table["direction"].iloc[0] if "direction" in table.columns and len(table) \
        else None
    better = {"higher": "higher is better", "lower": "lower is better"}.get(direction, "")
    level = (f"{round(100 * float(table['confidence'].iloc[0]))}% CI"
             if "confidence" in table.columns and len(table) else "CI")
    return name, better, level


def _forest_many(table, shown, hidden, pooled, ax, title):
    """:func:`forest_plot` for more than :data:`MANY_SITES` sites: one thin row per site,
    sorted by its mean change, no site names, the pooled interval as a band; the sites with
    too few people counted in the title."""
    import matplotlib.pyplot as plt

    fig, ax = (plt.subplots(figsize=(7, 5.5), layout="constrained") if ax is None
               else (ax.figure, ax))
    name, better, level = _axis_words(table)
    if pooled is not None:
        p = pooled.iloc[0] if isinstance(pooled, pd.DataFrame) else pooled
        ax.axvspan(float(p["change_ci_low"]), float(p["change_ci_high"]), color="#0072B2",
                   alpha=0.18, lw=0, label="pooled (random-intercept model), CI")
        ax.axvline(float(p["change_mean"]), color="#0072B2", lw=1.2)
    ys = np.arange(len(shown))
    if len(shown):
        mean = shown["change_mean"].to_numpy(float)
        ax.hlines(ys, shown["change_ci_low"].to_numpy(float),
                  shown["change_ci_high"].to_numpy(float), color="0.35", lw=0.6)
        ax.plot(mean, ys, "s", color="#D55E00", markersize=2.2, label="site mean change with CI")
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks([])
    ax.set_ylabel("Sites, sorted by their mean change (the table names them)")
    ax.set_xlabel(f"Mean change in {name} (follow-up minus baseline; {better}), {level}"
                  if better else f"Mean change in {name} (follow-up minus baseline), {level}")
    heading = title or f"{name}: change by site"
    heading += f" ({len(shown)} sites" + (f"; {len(hidden)} with too few people not drawn)"
                                          if len(hidden) else ")")
    ax.set_title(heading, wrap=True)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8,
              frameon=False)
    return fig


def forest_plot(site_table: pd.DataFrame, pooled=None, ax=None, site_column: str = "site",
                title: str | None = None):
    """Forest plot of per-site mean change with intervals, and the pooled estimate.

    Parameters
    ----------
    site_table : DataFrame
        :func:`site_change` output for **one** scale (filter first).
    pooled : DataFrame or Mapping, optional
        A :func:`mixed_model_change` row (``change_mean, change_ci_low, change_ci_high``),
        drawn as a diamond below the sites.
    ax : matplotlib Axes, optional
        Axes to draw on; a new figure is made otherwise.
    site_column : str
        Column holding the site names.
    title : str, optional
        Defaults to the scale name.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Sites are sorted by their mean change; sites with ``small_group`` are listed at the bottom
    as "too few to show" without an estimate (their statistics are withheld). Markers differ by
    shape as well as colour, the x axis says which direction is better, and a vertical line
    marks no change (Lewis & Clarke 2001).

    Examples
    --------
    >>> table = pd.DataFrame({"site": ["A", "B", "C"], "n_pairs": [20, 15, 3],
    ...     "change_mean": [2.0, 3.5, float("nan")], "change_ci_low": [0.5, 1.0, float("nan")],
    ...     "change_ci_high": [3.5, 6.0, float("nan")], "small_group": [False, False, True],
    ...     "scale_name": "WEMWBS", "direction": "higher", "confidence": 0.95})
    >>> fig = forest_plot(table, pooled={"change_mean": 2.6, "change_ci_low": 1.1,
    ...                                  "change_ci_high": 4.1})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['C', 'All sites (pooled)', 'A (n=20)', 'B (n=15)']
    """
    import matplotlib.pyplot as plt

    needed = [site_column, "n_pairs", "change_mean", "change_ci_low", "change_ci_high",
              "small_group"]
    missing = [c for c in needed if c not in site_table.columns]
    if missing:
        raise InputError("the site table lacks required column(s)", file="site table",
                         column=missing[0], expected="site_change() output")
    scales = site_table[["instrument", "scale"]].drop_duplicates() \
        if {"instrument", "scale"} <= set(site_table.columns) else pd.DataFrame([{}])
    if len(scales) > 1:
        raise InputError("the forest plot shows one scale at a time", file="site table",
                         column="scale", value=", ".join(scales["scale"].astype(str)),
                         expected="rows of a single instrument and scale")
    table = site_table.copy()
    small = table["small_group"].astype(bool)
    shown = table[~small & table["change_mean"].notna()].sort_values("change_mean")
    hidden = table[small | table["change_mean"].isna()].sort_values(site_column)
    rows = len(shown) + len(hidden) + (2 if pooled is not None else 0)
    if len(table) > MANY_SITES:
        return _forest_many(table, shown, hidden, pooled, ax, title)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.42 * max(rows, 1)), layout="constrained")
    else:
        fig = ax.figure
    labels, y = [], 0
    ypos = []
    for _, r in hidden.iloc[::-1].iterrows():  # few rows (one per site)
        ax.text(0.02, y, "too few to show", transform=ax.get_yaxis_transform(),
                va="center", fontsize=9, style="italic", color="0.3")
        labels.append(f"{r[site_column]}")
        ypos.append(y)
        y += 1
    if pooled is not None:
        p = pooled.iloc[0] if isinstance(pooled, pd.DataFrame) else pooled
        m, lo, hi = float(p["change_mean"]), float(p["change_ci_low"]), float(p["change_ci_high"])
        ax.fill([lo, m, hi, m], [y, y + 0.3, y, y - 0.3], color="#0072B2",
                label="pooled (random-intercept model)")
        labels.append("All sites (pooled)")
        ypos.append(y)
        y += 2
    ys = np.arange(y, y + len(shown))
    if len(shown):
        mean = shown["change_mean"].to_numpy(float)
        err = np.vstack([mean - shown["change_ci_low"].to_numpy(float),
                         shown["change_ci_high"].to_numpy(float) - mean])
        ax.errorbar(mean, ys, xerr=err, fmt="s", color="#D55E00", ecolor="0.2", capsize=3,
                    label="site mean change with CI")
        labels += [f"{s} (n={int(n)})" for s, n in zip(shown[site_column], shown["n_pairs"])]
        ypos += list(ys)
    ax.axvline(0, color="0.4", linestyle="--", linewidth=1)
    ax.set_yticks(ypos, labels)
    ax.set_ylim(-1, max(y + len(shown), 1))
    name, better, level = _axis_words(table)
    ax.set_xlabel(f"Mean change in {name} (follow-up minus baseline; {better}), {level}"
                  if better else f"Mean change in {name} (follow-up minus baseline), {level}")
    ax.set_title(title or f"{name}: change by site")
    if len(shown) or pooled is not None:
        # below the axes so it never covers an estimate or a site label
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / max(rows, 1)),
                  ncol=2, fontsize=8, frameon=False)
    return fig
