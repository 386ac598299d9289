"""Service use and person-centred measures: contacts with services before and after
referral, MYCaW change reported the MYCaW way, and Goal Attainment Scaling T-scores.

References
----------
Wilcoxon F (1945). Individual comparisons by ranking methods. Biometrics Bulletin 1:80-83.
Paterson C, Thomas K, Manasse A, Cooke H, Peace G (2007). Measure Yourself Concerns and
    Wellbeing (MYCaW). Complement Ther Med 15:38-45.
Kiresuk TJ, Sherman RE (1968). Goal attainment scaling: a general method for evaluating
    comprehensive community mental health programs. Community Ment Health J 4:443-453.
Turner-Stokes L (2009). Goal attainment scaling (GAS) in rehabilitation: a practical guide.
    Clin Rehabil 23:362-370.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.effects import _wilcoxon
from spanalysis.change.paired import paired_change
from spanalysis.change.pairs import (_KEYS, _SCORE_COLUMNS, _numeric, _require_columns,
                                     _spreadsheet_row, _tidy_scores, _timepoint_order,
                                     check_confidence, check_min_cell)
from spanalysis.errors import InputError

__all__ = ["service_use_change", "mycaw_change", "gas_summary"]


def service_pairs(service_use: pd.DataFrame, file: str = "service_use") -> pd.DataFrame:
    """The service use file checked and one row per person and service: ``service,
    participant_id, before, after`` (NaN where a period is missing). An unknown period, a
    count that is not a whole number of at least 0, or two counts for the same person,
    service and period is an InputError naming the row."""
    _require_columns(service_use, ["participant_id", "service", "period", "count"], file)
    su = service_use[["participant_id", "service", "period", "count"]].copy()
    for c in ("participant_id", "service", "period"):
        su[c] = su[c].astype(str)
    bad = ~su["period"].isin(["before", "after"])
    if bad.any():
        i = bad.idxmax()
        raise InputError("unknown period", file=file, row=_spreadsheet_row(service_use, i),
                         column="period", value=service_use.at[i, "period"],
                         expected="'before' or 'after'")
    counts = _numeric(service_use, "count", file)
    bad = counts.notna() & ((counts < 0) | (counts % 1 != 0))
    if bad.any():
        i = bad.idxmax()
        raise InputError("a count must be a whole number of at least 0", file=file,
                         row=_spreadsheet_row(service_use, i), column="count",
                         value=service_use.at[i, "count"], expected="0, 1, 2, ...")
    su["count"] = counts
    dup = su.duplicated(["participant_id", "service", "period"])
    if dup.any():
        i = dup.idxmax()
        raise InputError("more than one count for the same participant, service and period",
                         file=file, row=_spreadsheet_row(service_use, i),
                         column="participant_id", value=su.at[i, "participant_id"],
                         expected="one row per participant, service and period")
    return (su.pivot(index=["service", "participant_id"], columns="period", values="count")
            .reindex(columns=["before", "after"]).reset_index())


def service_use_change(service_use: pd.DataFrame, min_cell_size: int = 5,
                       file: str = "service_use") -> pd.DataFrame:
    """Counts of service contacts (e.g. GP consultations) before and after referral.

    Parameters
    ----------
    service_use : DataFrame
        Long table ``participant_id, service, period ('before'|'after'), count`` (integer
        >= 0), one row per participant, service and period.
    min_cell_size : int
        Services with fewer complete pairs have statistics withheld and ``small_group=True``.
    file : str
        Name used in error messages.

    Returns
    -------
    DataFrame
        One row per service: ``service, n_pairs`` (people with both periods),
        ``n_unpaired``, ``before_median, before_q1, before_q3, after_median, after_q1,
        after_q3`` (quartiles by linear interpolation, numpy's default),
        ``median_difference`` (median of after - before), ``wilcoxon_W, wilcoxon_p``
        (scipy.stats.wilcoxon defaults: zero differences dropped), ``n_fewer, n_same,
        n_more`` and ``pct_fewer, pct_same, pct_more`` (after compared with before),
        ``small_group``.

    Notes
    -----
    Counts are skewed and bounded at zero, so they are summarised with medians and the
    paired signed-rank test, never as normally distributed (measures reference, "Service
    use"). The median of differences is not the difference of medians.

    References
    ----------
    Wilcoxon F (1945). Biometrics Bulletin 1:80-83.

    Examples
    --------
    >>> su = pd.DataFrame({"participant_id": ["A", "A", "B", "B"],
    ...     "service": "gp_consultations", "period": ["before", "after"] * 2,
    ...     "count": [4, 2, 3, 3]})
    >>> service_use_change(su, min_cell_size=1)[["n_pairs", "median_difference",
    ...     "n_fewer", "n_same"]].to_dict("records")
    [{'n_pairs': 2, 'median_difference': -1.0, 'n_fewer': 1, 'n_same': 1}]
    """
    min_cell_size = check_min_cell(min_cell_size)
    wide = service_pairs(service_use, file)
    complete = wide["before"].notna() & wide["after"].notna()
    services = wide.groupby("service", sort=True).size().index
    w = wide[complete].assign(diff=lambda d: d["after"] - d["before"])
    g = w.groupby("service", sort=True)
    out = pd.DataFrame(index=services)
    out["n_pairs"] = g.size().reindex(services, fill_value=0).astype(int)
    out["n_unpaired"] = wide[~complete].groupby("service").size() \
        .reindex(services, fill_value=0).astype(int)
    for period in ("before", "after"):
        out[f"{period}_median"] = g[period].median()
        out[f"{period}_q1"] = g[period].quantile(0.25)
        out[f"{period}_q3"] = g[period].quantile(0.75)
    out["median_difference"] = g["diff"].median()
    wil = {k: _wilcoxon(v.to_numpy()) for k, v in g["diff"]}
    out["wilcoxon_W"] = pd.Series({k: v[0] for k, v in wil.items()}, dtype=float)
    out["wilcoxon_p"] = pd.Series({k: v[1] for k, v in wil.items()}, dtype=float)
    sign = np.sign(w["diff"])
    for label, value in (("fewer", -1), ("same", 0), ("more", 1)):
        out[f"n_{label}"] = (sign == value).groupby(w["service"]).sum() \
            .reindex(services, fill_value=0).astype(int)
    for label in ("fewer", "same", "more"):
        out[f"pct_{label}"] = 100 * out[f"n_{label}"] / out["n_pairs"].replace(0, np.nan)
    small = out["n_pairs"] < min_cell_size
    for label in ("fewer", "same", "more"):  # nullable so withheld counts stay whole numbers
        out[f"n_{label}"] = out[f"n_{label}"].astype("Int64")
    withheld = [c for c in out.columns if c not in ("n_pairs", "n_unpaired")]
    out.loc[small, withheld] = np.nan
    out["small_group"] = small
    out.index.name = "service"
    return out.reset_index()


def mycaw_change(scores: pd.DataFrame, scale_info=None, instrument: str = "mycaw",
                 confidence: float = 0.95, min_cell_size: int = 5, pre=None, post=None,
                 timepoints=None, participants=None, by=None) -> pd.DataFrame:
    """MYCaW change reported the MYCaW way: baseline minus follow-up (positive = better).

    Parameters
    ----------
    scores : DataFrame
        Tidy scores; rows of ``instrument`` are used (its scales, e.g. concern 1, concern 2,
        wellbeing, each 0-6 with lower = better).
    scale_info : DataFrame, optional
        Used for names and direction when given; otherwise every MYCaW scale is taken as
        lower = better (Paterson et al. 2007).
    instrument : str
        Instrument id of MYCaW in ``scores``.
    confidence, min_cell_size, pre, post, timepoints, participants, by
        As for :func:`paired_change`.

    Returns
    -------
    DataFrame
        All :func:`paired_change` columns (where ``change_mean`` is post - pre as everywhere
        else) plus ``improvement_mean`` = pre - post and its interval
        ``improvement_ci_low, improvement_ci_high`` (= -change_ci_high, -change_ci_low).

    Notes
    -----
    MYCaW authors report change as baseline minus follow-up so that a positive number is an
    improvement (Paterson et al. 2007). The sign convention is the only difference from
    :func:`paired_change`; tests, p-values and |effect sizes| are the same.

    References
    ----------
    Paterson C et al. (2007). Complement Ther Med 15:38-45.

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": list("ABCDE") * 2,
    ...     "timepoint": ["baseline"] * 5 + ["followup"] * 5, "instrument": "mycaw",
    ...     "scale": "concern_1", "score": [5, 6, 4, 5, 6, 3, 4, 3, 2, 4]})
    >>> res = mycaw_change(scores, timepoints=["baseline", "followup"])
    >>> res[["change_mean", "improvement_mean", "improvement"]].to_dict("records")
    [{'change_mean': -2.0, 'improvement_mean': 2.0, 'improvement': 'improved'}]
    """
    _require_columns(scores, _SCORE_COLUMNS, "scores")
    subset = scores[scores["instrument"].astype(str) == instrument]
    if subset.empty:
        raise InputError("no scores for this instrument", file="scores", column="instrument",
                         value=instrument, expected="rows with instrument = " + instrument)
    if scale_info is None:
        scale_info = pd.DataFrame({"instrument": instrument,
                                   "scale": pd.unique(subset["scale"].astype(str)),
                                   "direction": "lower"})
    res = paired_change(subset, scale_info, participants=participants, by=by,
                        confidence=confidence, min_cell_size=min_cell_size, pre=pre, post=post,
                        timepoints=timepoints if timepoints is not None
                        else _timepoint_order(scores, None))
    res["improvement_mean"] = -res["change_mean"]
    res["improvement_ci_low"] = -res["change_ci_high"]
    res["improvement_ci_high"] = -res["change_ci_low"]
    return res


def gas_summary(scores: pd.DataFrame, instrument: str = "gas", timepoint=None,
                timepoints=None, confidence: float = 0.95,
                min_cell_size: int = 5) -> pd.DataFrame:
    """Goal Attainment Scaling T-scores tested against 50 (goals met as expected).

    Parameters
    ----------
    scores : DataFrame
        Tidy scores; rows of ``instrument`` hold GAS T-scores.
    instrument : str
        Instrument id of GAS in ``scores``.
    timepoint : str, optional
        Time point to summarise; default the last in ``timepoints`` (or the categorical order).
    timepoints : list of str, optional
        Ordered time points.
    confidence, min_cell_size
        As for :func:`paired_change`.

    Returns
    -------
    DataFrame
        One row per GAS scale: ``instrument, scale, timepoint, n, mean, sd, ci_low, ci_high``
        (t interval for the mean), ``median``, ``difference_from_50`` (mean - 50),
        ``t, df, p`` (one-sample t-test against 50), ``wilcoxon_W, wilcoxon_p`` (signed-rank
        test of T - 50, scipy defaults), ``small_group``.

    Notes
    -----
    T = 50 + 10 sum(w_i x_i) / sqrt((1 - rho) sum(w_i^2) + rho (sum w_i)^2), rho = 0.3, so
    50 means goals were met exactly as expected (Kiresuk & Sherman 1968; Turner-Stokes 2009).
    t = (mean - 50) / (sd / sqrt(n)), df = n - 1.

    References
    ----------
    Kiresuk TJ, Sherman RE (1968). Community Ment Health J 4:443-453. Turner-Stokes L (2009).
    Clin Rehabil 23:362-370.

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": list("ABCDE"), "timepoint": "followup",
    ...     "instrument": "gas", "scale": "t_score", "score": [50, 55, 60, 45, 65]})
    >>> res = gas_summary(scores, timepoint="followup")
    >>> res[["n", "mean", "difference_from_50", "median"]].to_dict("records")
    [{'n': 5, 'mean': 55.0, 'difference_from_50': 5.0, 'median': 55.0}]
    """
    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    s = _tidy_scores(scores)
    s = s[s["instrument"] == instrument]
    if s.empty:
        raise InputError("no scores for this instrument", file="scores", column="instrument",
                         value=instrument, expected="rows with instrument = " + instrument)
    if timepoint is None:
        order = _timepoint_order(scores, timepoints)
        if order is None:
            raise InputError("which time point holds the GAS scores is unknown",
                             column="timepoint",
                             expected="timepoint=... or timepoints=[...] (last is used)")
        timepoint = order[-1]
    s = s[(s["timepoint"] == str(timepoint)) & s["score"].notna()]
    rows = []
    for (inst, scale), g in s.groupby(_KEYS, sort=True):
        x = g["score"].to_numpy(float)
        n = x.size
        row = {"instrument": inst, "scale": scale, "timepoint": str(timepoint), "n": n}
        small = n < min_cell_size
        stat = dict.fromkeys(["mean", "sd", "ci_low", "ci_high", "median",
                              "difference_from_50", "t", "df", "p", "wilcoxon_W",
                              "wilcoxon_p"], math.nan)
        if not small and n >= 2:
            mean, sd = x.mean(), x.std(ddof=1)
            se = sd / math.sqrt(n)
            tcrit = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (mean - 50) / se if se > 0 else math.nan
            w, wp = _wilcoxon(x - 50)
            stat.update(mean=mean, sd=sd, ci_low=mean - tcrit * se, ci_high=mean + tcrit * se,
                        median=float(np.median(x)), difference_from_50=mean - 50, t=t,
                        df=n - 1.0, p=2 * stats.t.sf(abs(t), n - 1) if np.isfinite(t)
                        else math.nan, wilcoxon_W=w, wilcoxon_p=wp)
        row.update(stat)
        row["small_group"] = small
        rows.append(row)
    return pd.DataFrame(rows, columns=["instrument", "scale", "timepoint", "n", "mean", "sd",
                                       "ci_low", "ci_high", "median", "difference_from_50",
                                       "t", "df", "p", "wilcoxon_W", "wilcoxon_p",
                                       "small_group"])
