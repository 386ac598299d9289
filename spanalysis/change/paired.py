"""Group change between two time points: each scale's mean change with its tests and effect
sizes (complete pairs), the people lost to follow-up (completers against non-completers,
baseline observation carried forward), and a plain sentence about a result.

Every function takes the tidy score table produced by the scoring step and returns a tidy
DataFrame with documented columns. Raw change is always **post minus pre**; whether that is an
improvement follows the scale's ``direction`` ('higher' or 'lower' is better) from
``scale_info``. MYCaW is the one documented exception (see
:func:`spanalysis.change.mycaw_change`).

The inputs (score table, scale information, participants) are described in
:mod:`spanalysis.change.pairs`.

References
----------
Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative science.
    Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis.
    Wiley (chapter 4, small-sample correction J).
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
Welch BL (1947). The generalization of "Student's" problem when several different population
    variances are involved. Biometrika 34:28-35.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.effects import (_dz_ci, _rescale_dz_ci, _smd_ci, _wilcoxon,
                                       hedges_j, p_adjust_holm)
from spanalysis.change.pairs import (_KEYS, _attach_group, _better_sign, _pair_table,
                                     _resolve_pre_post, _scale_info, check_confidence,
                                     check_min_cell)
from spanalysis.privacy.disclosure import round_counts

__all__ = ["paired_change", "completer_comparison", "sensitivity_bocf", "describe_change"]

# Statistics withheld (set to NaN) for groups below the minimum cell size.
_WITHHELD = ["pre_mean", "pre_sd", "post_mean", "post_sd", "change_mean", "change_sd",
             "change_ci_low", "change_ci_high", "t", "df", "p", "wilcoxon_W", "wilcoxon_p",
             "d_z", "d_z_ci_low", "d_z_ci_high", "d_av", "g_av", "d_av_ci_low", "d_av_ci_high",
             "g_av_ci_low", "g_av_ci_high"]


# --------------------------------------------------------------------------------------------
# group change
# --------------------------------------------------------------------------------------------
_COLUMNS = ["n_pairs", "n_baseline_only", "pre_mean", "pre_sd", "post_mean", "post_sd",
            "change_mean", "change_sd", "change_ci_low", "change_ci_high", "t", "df", "p",
            "p_holm", "wilcoxon_W", "wilcoxon_p", "d_z", "d_z_ci_low", "d_z_ci_high", "d_av",
            "g_av", "d_av_ci_low", "d_av_ci_high", "g_av_ci_low", "g_av_ci_high", "direction",
            "improvement", "small_group", "scale_name", "confidence"]


def _paired_stats(pairs: pd.DataFrame, info: pd.DataFrame, by: str | None,
                  confidence: float, min_cell_size: int, wilcoxon: bool = True) -> pd.DataFrame:
    """The :func:`paired_change` table of a pair table (one row per scale and group)."""
    keys = _KEYS + ([by] if by else [])
    out, diffs = _summaries(pairs, keys)
    _add_tests(out, confidence)
    # Signed-rank test per group: one scipy call per scale x group (few), not per row.
    tests = np.array([_wilcoxon(d) for d in diffs] if wilcoxon else [], dtype=float)
    tests = tests.reshape(-1, 2) if len(tests) else np.full((len(out), 2), np.nan)
    out["wilcoxon_W"], out["wilcoxon_p"] = tests[:, 0], tests[:, 1]
    small = out["n_pairs"] < min_cell_size
    out.loc[small, _WITHHELD] = np.nan
    out["small_group"] = small.to_numpy()
    out = out.reset_index()
    out = out.merge(info[_KEYS + ["direction", "scale_name"]], on=_KEYS, how="left")
    # Holm across the scales of the table, separately within each group.
    if by:
        out["p_holm"] = out.groupby(by)["p"].transform(lambda s: p_adjust_holm(s.to_numpy()))
    else:
        out["p_holm"] = p_adjust_holm(out["p"].to_numpy())
    out["improvement"] = _verdict(out)
    out["confidence"] = confidence
    return out[keys + _COLUMNS]


def _summaries(pairs: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, list]:
    """Per scale (and group), in order: complete pairs, people with a baseline only, means
    and SDs (n - 1) of pre, post and their difference; and each row's differences (post -
    pre) of the complete pairs, for the signed-rank test."""
    if keys == _KEYS:
        return _moments_by_scale(pairs)
    both = pairs["pre"].notna() & pairs["post"].notna()
    complete = pairs.loc[both].assign(diff=lambda d: d["post"] - d["pre"])
    everyone = pairs.groupby(keys, sort=True, observed=True).size().index
    out = (complete.groupby(keys, sort=True, observed=True)
           .agg(n_pairs=("diff", "size"), pre_mean=("pre", "mean"), pre_sd=("pre", "std"),
                post_mean=("post", "mean"), post_sd=("post", "std"),
                change_mean=("diff", "mean"), change_sd=("diff", "std"))
           .reindex(everyone))
    out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
    baseline_only = pairs["pre"].notna() & pairs["post"].isna()
    out.insert(1, "n_baseline_only",
               pairs.loc[baseline_only].groupby(keys, observed=True).size()
               .reindex(everyone, fill_value=0).astype(int))
    groups = dict(iter(complete.groupby(keys, sort=True, observed=True)["diff"]))
    diffs = [groups[key].to_numpy() if key in groups else np.empty(0) for key in out.index]
    return out, diffs


def _moments_by_scale(pairs: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """Per (instrument, scale), rows in category order: complete pairs, people with a
    baseline only, and the means and SDs (n - 1) of pre, post and their difference, all
    scales at once by ``np.bincount`` on the scales' codes (each scale's values summed in
    the pairs' order); and each row's differences of the complete pairs.

    SDs are two-pass (sum of squared deviations from the group mean), as numerically stable
    as pandas' own. (pandas' groupby, used with ``by=``, sums with compensation, which can
    differ in the last digit.)"""
    inst, scale = pairs["instrument"], pairs["scale"]
    n_scale = len(scale.cat.categories)
    group = inst.cat.codes.to_numpy().astype(np.int32) * n_scale + scale.cat.codes.to_numpy()
    pre, post = pairs["pre"].to_numpy(dtype=float), pairs["post"].to_numpy(dtype=float)
    size = len(inst.cat.categories) * n_scale
    present = np.bincount(group, minlength=size) > 0
    index = np.cumsum(present) - 1            # group code -> row of the table
    k = int(present.sum())
    row = index[group]
    has_pre, has_post = ~np.isnan(pre), ~np.isnan(post)
    both = has_pre & has_post
    g = row[both]
    x_pre, x_post = pre[both], post[both]
    diff = x_post - x_pre
    n = np.bincount(g, minlength=k)
    stats = {"n_pairs": n,
             "n_baseline_only": np.bincount(row[has_pre & ~has_post], minlength=k)}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, x in (("pre", x_pre), ("post", x_post), ("change", diff)):
            mean = np.bincount(g, weights=x, minlength=k) / n
            squares = np.bincount(g, weights=(x - mean[g]) ** 2, minlength=k)
            stats[f"{name}_mean"] = np.where(n > 0, mean, np.nan)
            stats[f"{name}_sd"] = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
    codes = np.flatnonzero(present)
    names = pd.MultiIndex.from_arrays(
        [inst.cat.categories[codes // n_scale], scale.cat.categories[codes % n_scale]],
        names=_KEYS)
    out = pd.DataFrame({c: stats[c] for c in
                        ("n_pairs", "n_baseline_only", "pre_mean", "pre_sd", "post_mean",
                         "post_sd", "change_mean", "change_sd")}, index=names)
    # each row's differences, in the pairs' order (a stable sort by row keeps it)
    order = np.argsort(g, kind="stable") if (np.diff(g) < 0).any() else slice(None)
    ends = np.cumsum(n)
    return out, np.split(diff[order], ends[:-1])


def _add_tests(out: pd.DataFrame, confidence: float) -> None:
    """The paired t-test, the t interval of the mean change and the effect sizes, added to
    the summaries ``out``.

    t = mean(diff) / (sd(diff) / sqrt(n)), df = n - 1; CI = mean(diff) +/- t_{1-alpha/2, df}
    sd(diff) / sqrt(n); d_z = mean(diff) / sd(diff) with its noncentral-t interval;
    d_av = mean(diff) / ((sd_pre + sd_post) / 2); g_av = d_av J (Lakens 2013; Borenstein et
    al. 2009); the d_av interval is the d_z interval times sd_diff / sd_av and the g_av
    interval that times J (Algina & Keselman 2003; see ``effects._dav_ci``)."""
    n = out["n_pairs"].to_numpy(float)
    mean_d = out["change_mean"].to_numpy(float)
    sd_d = out["change_sd"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (n >= 2) & (sd_d > 0)
        se = np.where(ok, sd_d / np.sqrt(n), np.nan)
        df = np.where(n >= 2, n - 1, np.nan)
        t_crit = stats.t.ppf(1 - (1 - confidence) / 2, df)
        t_val = mean_d / se
        out["change_ci_low"] = mean_d - t_crit * se
        out["change_ci_high"] = mean_d + t_crit * se
        out["t"] = t_val
        out["df"] = df
        out["p"] = 2 * stats.t.sf(np.abs(t_val), df)
        out["d_z"] = np.where(ok, mean_d / sd_d, np.nan)
        sd_av = (out["pre_sd"].to_numpy(float) + out["post_sd"].to_numpy(float)) / 2
        out["d_av"] = np.where(sd_av > 0, mean_d / sd_av, np.nan)
    out["d_z_ci_low"], out["d_z_ci_high"] = _dz_ci(out["d_z"].to_numpy(), n, confidence)
    j = hedges_j(df)
    out["g_av"] = out["d_av"] * j
    av_low, av_high = _rescale_dz_ci(out["d_z_ci_low"].to_numpy(),
                                     out["d_z_ci_high"].to_numpy(), sd_d, sd_av)
    out["d_av_ci_low"], out["d_av_ci_high"] = av_low, av_high
    out["g_av_ci_low"], out["g_av_ci_high"] = av_low * j, av_high * j


def _verdict(out: pd.DataFrame) -> np.ndarray:
    """'improved' / 'worsened' when the whole interval lies on the better / worse side of
    zero (by the scale's direction), 'unclear' otherwise, None when withheld."""
    sign = _better_sign(out["direction"])
    low = out["change_ci_low"].to_numpy() * sign
    high = out["change_ci_high"].to_numpy() * sign
    lo_better = np.where(sign > 0, low, high)   # the CI bound nearest "no change" after flipping
    hi_better = np.where(sign > 0, high, low)
    verdict = np.select([lo_better > 0, hi_better < 0], ["improved", "worsened"], "unclear")
    improvement = pd.Series(verdict, dtype=object)
    improvement[out["small_group"].to_numpy()] = None  # withheld, not "unclear"
    return improvement.to_numpy()


def paired_change(scores: pd.DataFrame, scale_info: pd.DataFrame, participants=None, by=None,
                  confidence: float = 0.95, min_cell_size: int = 5, pre=None, post=None,
                  timepoints=None, wilcoxon: bool = True,
                  instruments: list[str] | None = None) -> pd.DataFrame:
    """Mean change between two time points for each scale (and group), with tests and effect sizes.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores (``participant_id, timepoint, instrument, scale, score``).
    scale_info : DataFrame
        One row per (instrument, scale) with ``direction`` ('higher' or 'lower' is better).
    participants : DataFrame, optional
        Needed when ``by`` is given (``participant_id`` plus the ``by`` column).
    by : str, optional
        A participants column to group by (e.g. ``'site'``). Missing values form the group
        "(not recorded)".
    confidence : float
        Confidence level of all intervals (default 0.95).
    min_cell_size : int
        Groups with fewer complete pairs have every statistic withheld (NaN) and
        ``small_group=True``; counts stay so the table explains itself.
    pre, post : str, optional
        Time points to compare; default first and last of ``timepoints``.
    timepoints : list of str, optional
        Ordered time points; default the categories of a categorical ``timepoint`` column.
    wilcoxon : bool
        Compute the signed-rank test (default True); False leaves ``wilcoxon_W`` and
        ``wilcoxon_p`` empty (the site reports, which do not show it, skip the work).
    instruments : list of str, optional
        Only these instruments' scales (default: every instrument in ``scores``). Cheaper
        than filtering a large score table first.

    Returns
    -------
    DataFrame
        One row per scale (and group), sorted, with columns:

        ``instrument, scale, [by]`` identify the row; ``n_pairs`` people with both scores;
        ``n_baseline_only`` people with a baseline score but none at ``post``;
        ``pre_mean, pre_sd, post_mean, post_sd`` (complete pairs, SD with n - 1);
        ``change_mean`` (post - pre), ``change_sd``, ``change_ci_low, change_ci_high``
        (t interval at ``confidence``); ``t, df, p`` paired t-test; ``p_holm`` Holm-adjusted
        p across the scales in the table, **within each group**; ``wilcoxon_W, wilcoxon_p``
        signed-rank test (scipy defaults: zero differences dropped, exact p for small samples
        without ties, else normal approximation without continuity correction; W = the
        smaller rank sum. ``pingouin.wilcoxon`` adds a continuity correction by default, so
        its p differs slightly unless ``correction=False``); ``d_z`` with its
        noncentral-t interval ``d_z_ci_low, d_z_ci_high``; ``d_av``, ``g_av``;
        ``d_av_ci_low, d_av_ci_high, g_av_ci_low, g_av_ci_high`` (the d_z limits times
        sd_diff / sd_av, and those times J: Algina & Keselman's (2003) approximation);
        ``direction``; ``improvement`` 'improved' / 'worsened' when the whole interval lies on
        the better / worse side of zero, 'unclear' when it includes zero or cannot be
        computed, missing when withheld;
        ``small_group``; ``scale_name``; ``confidence``.

    Notes
    -----
    t = mean(diff) / (sd(diff) / sqrt(n)), df = n - 1; CI = mean(diff) +/- t_{1-alpha/2, df}
    sd(diff) / sqrt(n). Effect sizes as in :func:`paired_effect_sizes` (Lakens 2013).
    The d_z interval inverts the noncentral t distribution: since t = d_z sqrt(n) follows a
    noncentral t with df = n - 1 and noncentrality delta_z sqrt(n), the limits are the
    noncentralities lambda with P(T <= t_obs | lambda) = 1 - alpha/2 and alpha/2, divided by
    sqrt(n) (Steiger & Fouladi 1997; Cumming & Finch 2001). It is exact under normality.
    Complete pairs only: see :func:`sensitivity_bocf` and :func:`completer_comparison` for
    the people lost to follow-up.

    References
    ----------
    Lakens (2013) Front Psychol 4:863; Steiger & Fouladi (1997); Cumming & Finch (2001) Educ
    Psychol Meas 61:532; Holm (1979) Scand J Stat 6:65.

    Examples
    --------
    >>> scores = pd.DataFrame({
    ...     "participant_id": [f"P{i}" for i in range(5)] * 2,
    ...     "timepoint": ["baseline"] * 5 + ["followup"] * 5,
    ...     "instrument": "wemwbs", "scale": "total",
    ...     "score": [40, 42, 44, 46, 48, 42, 43, 47, 48, 51]})
    >>> info = pd.DataFrame({"instrument": ["wemwbs"], "scale": ["total"],
    ...                      "direction": ["higher"]})
    >>> res = paired_change(scores, info, timepoints=["baseline", "followup"])
    >>> res[["n_pairs", "change_mean", "improvement"]].to_dict("records")
    [{'n_pairs': 5, 'change_mean': 2.2, 'improvement': 'improved'}]
    """
    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post, instruments)
    info = _scale_info(scale_info, pairs)
    pairs = _attach_group(pairs, participants, by)
    return _paired_stats(pairs, info, by, confidence, min_cell_size, wilcoxon)


# --------------------------------------------------------------------------------------------
# attrition
# --------------------------------------------------------------------------------------------
def completer_comparison(scores: pd.DataFrame, participants=None, scale_info=None, by=None,
                         confidence: float = 0.95, min_cell_size: int = 5, pre=None, post=None,
                         timepoints=None) -> pd.DataFrame:
    """Baseline scores of people followed up (completers) against those lost to follow-up.

    Parameters
    ----------
    scores : DataFrame
        Tidy scores.
    participants : DataFrame, optional
        Needed when ``by`` is given.
    scale_info : DataFrame, optional
        Adds ``scale_name`` and ``direction`` when given.
    by : str, optional
        Group column from ``participants``.
    confidence, min_cell_size, pre, post, timepoints
        As for :func:`paired_change`. Rows where either group is smaller than
        ``min_cell_size`` have statistics withheld (NaN) and ``small_group=True``.

    Returns
    -------
    DataFrame
        ``instrument, scale, [by], n_completers`` (baseline and post score),
        ``n_non_completers`` (baseline score only), ``completers_mean, completers_sd,
        non_completers_mean, non_completers_sd`` (baseline), ``difference`` (completers minus
        non-completers), ``difference_ci_low, difference_ci_high, t, df, p`` (Welch's
        t-test, ``pingouin.ttest(correction=True)``; the interval is computed unrounded from
        the same df), ``hedges_g`` (pooled-SD d times
        J = 1 - 3 / (4 (n1 + n2) - 9), ``pingouin.compute_effsize(eftype='hedges')``),
        ``small_group``, ``hedges_g_ci_low, hedges_g_ci_high`` (noncentral-t interval of d
        times J, Hedges & Olkin 1985; see :func:`~spanalysis.change.effects.hedges_g_ci`), [``scale_name, direction``].

    Notes
    -----
    Welch: t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2) with Welch-Satterthwaite df. A baseline
    difference suggests that complete-case change may not represent everyone referred.

    References
    ----------
    Welch BL (1947). Biometrika 34:28-35. Hedges LV, Olkin I (1985). Statistical Methods for
    Meta-Analysis. Vallat R (2018). Pingouin: statistics in Python. JOSS 3:1026.

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": list("ABCDEFGHI") * 2,
    ...     "timepoint": ["baseline"] * 9 + ["followup"] * 9, "instrument": "w", "scale": "t",
    ...     "score": [40, 42, 44, 46, 48, 38, 40, 41, 43] + [45, 44, 47, 49, 50] + [None] * 4})
    >>> res = completer_comparison(scores, timepoints=["baseline", "followup"],
    ...                            min_cell_size=4)
    >>> res[["n_completers", "n_non_completers", "difference"]].to_dict("records")
    [{'n_completers': 5, 'n_non_completers': 4, 'difference': 3.5}]
    """
    import pingouin as pg

    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _attach_group(_pair_table(scores, pre, post), participants, by)
    pairs = pairs[pairs["pre"].notna()]
    keys = _KEYS + ([by] if by else [])
    rows = []
    for key, g in pairs.groupby(keys, sort=True):
        done = g["post"].notna()
        x = g.loc[done, "pre"].to_numpy()
        y = g.loc[~done, "pre"].to_numpy()
        row = dict(zip(keys, key))
        row.update(n_completers=x.size, n_non_completers=y.size)
        small = min(x.size, y.size) < min_cell_size
        stat = dict.fromkeys(["completers_mean", "completers_sd", "non_completers_mean",
                              "non_completers_sd", "difference", "difference_ci_low",
                              "difference_ci_high", "t", "df", "p", "hedges_g"], math.nan)
        if not small and min(x.size, y.size) >= 2:
            res = pg.ttest(x, y, correction=True, confidence=confidence)
            dof = float(res["dof"].iloc[0])
            # pingouin rounds its CI to 2 decimals, so the Welch interval is computed here:
            # diff +/- t_{1-alpha/2, dof} sqrt(s1^2/n1 + s2^2/n2).
            half = stats.t.ppf(1 - (1 - confidence) / 2, dof) * math.sqrt(
                x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
            diff = x.mean() - y.mean()
            stat.update(completers_mean=x.mean(), completers_sd=x.std(ddof=1),
                        non_completers_mean=y.mean(), non_completers_sd=y.std(ddof=1),
                        difference=diff, difference_ci_low=diff - half,
                        difference_ci_high=diff + half, t=float(res["T"].iloc[0]),
                        df=dof, p=float(res["p_val"].iloc[0]),
                        hedges_g=float(pg.compute_effsize(x, y, eftype="hedges")))
        row.update(stat)
        row["small_group"] = small
        rows.append(row)
    out = pd.DataFrame(rows, columns=keys + ["n_completers", "n_non_completers",
                                             "completers_mean", "completers_sd",
                                             "non_completers_mean", "non_completers_sd",
                                             "difference", "difference_ci_low",
                                             "difference_ci_high", "t", "df", "p", "hedges_g",
                                             "small_group"])
    n1, n2 = out["n_completers"].to_numpy(float), out["n_non_completers"].to_numpy(float)
    j = hedges_j(n1 + n2 - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_low, g_high = _smd_ci(out["hedges_g"].to_numpy(float) / j, n1, n2, confidence)
    out["hedges_g_ci_low"], out["hedges_g_ci_high"] = g_low * j, g_high * j
    if scale_info is not None:
        info = _scale_info(scale_info, out)
        out = out.merge(info[_KEYS + ["scale_name", "direction"]], on=_KEYS, how="left")
    return out


_ASSUMPTIONS = {
    "completers": "complete cases only: assumes people without follow-up would have changed "
                  "like those with it (missing completely at random)",
    "baseline observation carried forward": "people without follow-up assumed unchanged since "
                  "baseline (change 0); usually conservative for the mean but it understates "
                  "variability",
}


def sensitivity_bocf(scores: pd.DataFrame, scale_info: pd.DataFrame, participants=None,
                     by=None, confidence: float = 0.95, min_cell_size: int = 5, pre=None,
                     post=None, timepoints=None) -> pd.DataFrame:
    """Paired change for completers beside baseline observation carried forward (BOCF).

    Parameters
    ----------
    scores, scale_info, participants, by, confidence, min_cell_size, pre, post, timepoints
        As for :func:`paired_change`.

    Returns
    -------
    DataFrame
        The :func:`paired_change` columns for two analyses per scale (and group), preceded by
        ``analysis`` ('completers' or 'baseline observation carried forward'),
        ``n_carried_forward`` (people whose post score was set to their baseline) and
        ``assumption`` (what the analysis assumes, in words). ``p_holm`` is adjusted within
        each analysis (and group).

    Notes
    -----
    BOCF sets post = pre for everyone with a baseline but no post score, so their change is
    exactly 0; the mean change then equals the completers' mean change times
    n_completers / (n_completers + n_carried_forward).

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": list("ABCDEF") * 2,
    ...     "timepoint": ["baseline"] * 6 + ["followup"] * 6, "instrument": "w",
    ...     "scale": "t", "score": [40, 42, 44, 46, 48, 50, 42, 43, 47, 48, 51, None]})
    >>> info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    >>> res = sensitivity_bocf(scores, info, timepoints=["baseline", "followup"])
    >>> res[["analysis", "n_pairs", "change_mean"]].round(3).to_dict("records")
    [{'analysis': 'completers', 'n_pairs': 5, 'change_mean': 2.2}, {'analysis': 'baseline observation carried forward', 'n_pairs': 6, 'change_mean': 1.833}]
    """
    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post)
    info = _scale_info(scale_info, pairs)
    pairs = _attach_group(pairs, participants, by)
    keys = _KEYS + ([by] if by else [])
    carried = pairs["pre"].notna() & pairs["post"].isna()
    n_carried = pairs.loc[carried].groupby(keys).size()
    bocf = pairs.copy()
    bocf.loc[carried, "post"] = bocf.loc[carried, "pre"]
    parts = []
    for name, data in (("completers", pairs),
                       ("baseline observation carried forward", bocf)):
        res = _paired_stats(data, info, by, confidence, min_cell_size)
        counts = n_carried.reindex(pd.MultiIndex.from_frame(res[keys])) if by else \
            n_carried.reindex(pd.MultiIndex.from_frame(res[_KEYS]))
        res.insert(len(keys), "analysis", name)
        res.insert(len(keys) + 1, "n_carried_forward",
                   0 if name == "completers" else counts.fillna(0).astype(int).to_numpy())
        res.insert(len(keys) + 2, "assumption", _ASSUMPTIONS[name])
        parts.append(res)
    out = pd.concat(parts, ignore_index=True)
    order = {"completers": 0, "baseline observation carried forward": 1}
    out = out.sort_values(keys + ["analysis"], key=lambda s: s.map(order) if s.name ==
                          "analysis" else s, kind="stable")
    return out.reset_index(drop=True)



# --------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:.1f}".replace("-", "\u2212")


def describe_change(row, by: str | None = None, rounding: int | None = None) -> str:
    """One plain-English sentence about a :func:`paired_change` row that never overstates.

    Parameters
    ----------
    row : Mapping or pandas Series
        A row of :func:`paired_change` output.
    by : str, optional
        The group column of that table (e.g. 'site'); its value starts the sentence.
    rounding : int, optional
        The study's ``privacy.rounding``: n is given rounded to this multiple.

    Returns
    -------
    str
        * small group: "... too few people with both measurements to report."
        * interval not computable: "... the change could not be estimated ..."
        * interval including zero: "... no clear evidence of change ..."
        * otherwise "improved" / "worsened" judged by the scale's direction, so a fall on a
          lower-is-better scale is an improvement. Numbers: mean change (post - pre), the
          confidence interval and n. The sentence describes change in the people measured
          and says nothing about cause (a before-after design has no comparison group).

    Examples
    --------
    >>> describe_change({"scale_name": "WEMWBS", "n_pairs": 40, "change_mean": 3.1,
    ...     "change_ci_low": 1.2, "change_ci_high": 5.0, "direction": "higher",
    ...     "small_group": False, "confidence": 0.95})
    'WEMWBS improved on average between the two time points (mean change +3.1 points, 95% CI 1.2 to 5.0; n = 40).'
    >>> describe_change({"scale_name": "WEMWBS", "n_pairs": 43, "change_mean": 3.1,
    ...     "change_ci_low": 1.2, "change_ci_high": 5.0, "direction": "higher",
    ...     "small_group": False, "confidence": 0.95}, rounding=5)[-8:]
    'n = 45).'
    """
    get = row.get if hasattr(row, "get") else (lambda k, d=None: d)
    name = get("scale_name")
    if name is None or (isinstance(name, float) and math.isnan(name)):
        name = f"{get('instrument', '')} {get('scale', '')}".strip()
    subject = f"In {get(by)}, {name}" if by and get(by) is not None else name
    if bool(get("small_group", False)):
        return f"{subject}: too few people with both measurements to report."
    mean = float(get("change_mean", math.nan))
    low = float(get("change_ci_low", math.nan))
    high = float(get("change_ci_high", math.nan))
    n = get("n_pairs")
    if rounding and n is not None and not isinstance(n, str):
        n = int(round_counts([int(n)], rounding)[0])
    level = f"{round(100 * float(get('confidence', 0.95)))}% CI"
    if not (np.isfinite(mean) and np.isfinite(low) and np.isfinite(high)):
        return (f"{subject}: the change could not be estimated from these data "
                f"(n = {n}).")
    numbers = (f"(mean change {'+' if mean > 0 else ''}{_fmt(mean)} points, {level} "
               f"{_fmt(low)} to {_fmt(high)}; n = {n})")
    if low <= 0 <= high:
        return (f"{subject}: no clear evidence of change between the two time points "
                f"{numbers}.")
    lower_better = get("direction") == "lower"
    went_up = low > 0
    improved = went_up != lower_better
    verb = "improved" if improved else "worsened"
    note = " (lower scores are better)" if lower_better else ""
    return f"{subject} {verb} on average between the two time points{note} {numbers}."
