"""Service use as counts, and change by the number of sessions attended (dose).

* :func:`service_use_rate_ratio`: contacts (GP consultations, A&E attendances) in a window of
  fixed length before and after referral, as a rate ratio after / before with its interval,
  from a count model with errors robust to overdispersion and to each person being counted
  twice.
* :func:`change_by_sessions`: does change go with the number of sessions attended? The
  change of each scale regressed on sessions (and the baseline score).
* :func:`change_by_session_band`: mean change in bands of sessions, the points of a figure.

The service use table is the one :func:`~spanalysis.change.service_use_change` reads
(``participant_id, service, period ('before'|'after'), count``); the window length is the
study's ``files.service_use.window_months`` (:attr:`Manifest.service_window_months`).

References
----------
Liang KY, Zeger SL (1986). Longitudinal data analysis using generalized linear models.
    Biometrika 73:13-22 (GEE and its robust "sandwich" variance).
Zeger SL, Liang KY (1986). Longitudinal data analysis for discrete and continuous outcomes.
    Biometrics 42:121-130.
Cameron AC, Trivedi PK (2013). Regression Analysis of Count Data, 2nd ed. Cambridge
    University Press (ch. 3: Poisson with robust errors and the NB2 model; overdispersion).
Vickers AJ, Altman DG (2001). Analysing controlled trials with baseline and follow up
    measurements. BMJ 323:1123-1124 (adjusting change for the baseline score).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.pairs import (_KEYS, _better_sign, _numeric, _pair_table,
                                     _require_columns, _resolve_pre_post, _scale_info,
                                     check_confidence, check_min_cell)
from spanalysis.change.person_centred import service_pairs
from spanalysis.errors import InputError

__all__ = ["service_use_rate_ratio", "change_by_sessions", "change_by_session_band",
           "window_text", "SESSION_BANDS"]

_METHODS = {"poisson_gee": "Poisson GEE (independence), robust sandwich errors by person",
            "negative_binomial": "negative binomial (NB2), errors clustered by person"}

RATE_COLUMNS = ["service", "n_pairs", "n_unpaired", "window_months", "window", "before_total",
                "after_total", "before_rate", "after_rate", "crude_rate_ratio", "rate_ratio",
                "rate_ratio_ci_low", "rate_ratio_ci_high", "p", "dispersion", "method",
                "small_group", "confidence"]
_RATE_WITHHELD = ["before_total", "after_total", "before_rate", "after_rate",
                  "crude_rate_ratio", "rate_ratio", "rate_ratio_ci_low", "rate_ratio_ci_high",
                  "p", "dispersion"]


def window_text(window_months) -> str:
    """The window in words: '6 months before and 6 months after referral'.

    >>> window_text(6)
    '6 months before and 6 months after referral'
    >>> window_text(None)
    'window length not stated (files.service_use.window_months in study.yaml)'
    """
    if window_months is None or (isinstance(window_months, float) and math.isnan(window_months)):
        return "window length not stated (files.service_use.window_months in study.yaml)"
    unit = "month" if int(window_months) == 1 else "months"
    return f"{int(window_months)} {unit} before and {int(window_months)} {unit} after referral"



def _fit_rate_ratio(before: np.ndarray, after: np.ndarray, method: str, confidence: float):
    """log rate ratio, its robust SE, and the Pearson dispersion of the Poisson fit."""
    import statsmodels.api as sm

    n = before.size
    y = np.concatenate([before, after])
    x = sm.add_constant(np.repeat([0.0, 1.0], n), prepend=True)
    person = np.tile(np.arange(n), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # perfect fits and domain warnings on tiny data
        if method == "poisson_gee":
            fit = sm.GEE(y, x, groups=person, family=sm.families.Poisson(),
                         cov_struct=sm.cov_struct.Independence()).fit()
        else:
            fit = sm.NegativeBinomial(y, x, loglike_method="nb2").fit(
                disp=0, cov_type="cluster", cov_kwds={"groups": person})
    coef, se = float(fit.params[1]), float(fit.bse[1])
    # Pearson chi2 / df of the Poisson model with a mean for each period (1 = Poisson)
    mu = np.where(np.arange(2 * n) < n, before.mean(), after.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        dispersion = float(np.sum(np.where(mu > 0, (y - mu) ** 2 / mu, 0.0)) / (2 * n - 2))
    return coef, se, dispersion


def service_use_rate_ratio(service_use: pd.DataFrame, window_months: int | None = None,
                           confidence: float = 0.95, min_cell_size: int = 5,
                           method: str = "poisson_gee", file: str = "service_use"
                           ) -> pd.DataFrame:
    """Rate of service contacts after referral against before: the rate ratio and its interval.

    Parameters
    ----------
    service_use : DataFrame
        ``participant_id, service, period ('before'|'after'), count`` (whole numbers >= 0),
        one row per participant, service and period, both windows of the same length.
    window_months : int, optional
        The length of each window (``study.manifest.service_window_months``); stated in the
        ``window`` column and in the rates' unit. None says it is not stated.
    confidence : float
        Confidence level of the interval (default 0.95).
    min_cell_size : int
        Services with fewer people counted in both windows have every statistic withheld
        (NaN) and ``small_group=True``.
    method : {'poisson_gee', 'negative_binomial'}
        The count model (see Notes).
    file : str
        Name used in error messages.

    Returns
    -------
    DataFrame
        One row per service (:data:`RATE_COLUMNS`): ``service``, ``n_pairs`` (people counted
        in both windows; only they are analysed), ``n_unpaired``, ``window_months``,
        ``window`` (in words), ``before_total``, ``after_total`` (contacts), ``before_rate``,
        ``after_rate`` (contacts per person per window), ``crude_rate_ratio`` (after_total /
        before_total), ``rate_ratio`` (exp of the model's period coefficient),
        ``rate_ratio_ci_low``, ``rate_ratio_ci_high``, ``p`` (Wald test of no change),
        ``dispersion`` (Pearson chi-square / df of a Poisson model with one mean per period;
        about 1 for Poisson counts, above 1 when overdispersed), ``method``, ``small_group``,
        ``confidence``.

    Notes
    -----
    Model: log E[count] = b0 + b1 after, so the rate ratio is exp(b1) and the interval
    exp(b1 +/- z_{1-alpha/2} SE(b1)). With everyone counted in both windows of equal length
    both models estimate exp(b1) = after_total / before_total exactly (the crude ratio);
    they differ in the SE.

    * ``'poisson_gee'`` (default): GEE with a Poisson family and an independence working
      correlation, grouped by person; the robust sandwich SE (Liang & Zeger 1986) allows for
      overdispersion and for the two counts of one person being correlated. Here it has the
      closed form SE^2 = sum_i ((a_i - A/n) / A - (b_i - B/n) / B)^2 for before counts b_i
      (total B) and after counts a_i (total A).
    * ``'negative_binomial'``: NB2 maximum likelihood (statsmodels ``NegativeBinomial``) with
      errors clustered by person (Cameron & Trivedi 2013, ch. 3), which carry statsmodels'
      small-sample factor G / (G - 1) (n - 1) / (n - k).

    A before-after comparison has no comparison group: a fall may be regression to the mean
    (people are referred when they are using services most) or a trend, not the effect of
    social prescribing.

    Examples
    --------
    >>> su = pd.DataFrame({"participant_id": list("AABBCCDDEE"), "service": "gp",
    ...                    "period": ["before", "after"] * 5,
    ...                    "count": [4, 2, 3, 3, 6, 4, 2, 1, 5, 5]})
    >>> row = service_use_rate_ratio(su, window_months=6).iloc[0]
    >>> round(float(row.rate_ratio), 4), row.window
    (0.75, '6 months before and 6 months after referral')
    """
    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    if method not in _METHODS:
        raise InputError("unknown count model", column="method", value=method,
                         expected=", ".join(_METHODS))
    wide = service_pairs(service_use, file)
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    rows = []
    for service, g in wide.groupby("service", sort=True):
        both = g["before"].notna() & g["after"].notna()
        before = g.loc[both, "before"].to_numpy(float)
        after = g.loc[both, "after"].to_numpy(float)
        n = int(both.sum())
        row = dict.fromkeys(RATE_COLUMNS, math.nan)
        row.update(service=service, n_pairs=n, n_unpaired=int((~both).sum()),
                   window_months=window_months, window=window_text(window_months),
                   method=_METHODS[method], small_group=n < min_cell_size,
                   confidence=confidence)
        if n >= 2:
            row.update(before_total=before.sum(), after_total=after.sum(),
                       before_rate=before.mean(), after_rate=after.mean())
        if n >= 2 and before.sum() > 0 and after.sum() > 0:
            coef, se, dispersion = _fit_rate_ratio(before, after, method, confidence)
            row.update(crude_rate_ratio=after.sum() / before.sum(), rate_ratio=math.exp(coef),
                       dispersion=dispersion)
            if np.isfinite(se) and se > 0:
                row.update(rate_ratio_ci_low=math.exp(coef - z * se),
                           rate_ratio_ci_high=math.exp(coef + z * se),
                           p=float(2 * stats.norm.sf(abs(coef / se))))
        if row["small_group"]:
            row.update(dict.fromkeys(_RATE_WITHHELD, math.nan))
        rows.append(row)
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


# --------------------------------------------------------------------------------------------
# dose: change by sessions attended
# --------------------------------------------------------------------------------------------
SESSION_COLUMNS = ["instrument", "scale", "n", "sessions_median", "sessions_min",
                   "sessions_max", "slope", "slope_ci_low", "slope_ci_high", "p",
                   "baseline_coef", "intercept", "pre_mean", "r_squared", "adjusted_for",
                   "direction", "improvement_per_session", "scale_name", "small_group",
                   "confidence"]
_SESSION_WITHHELD = ["sessions_median", "sessions_min", "sessions_max", "slope",
                     "slope_ci_low", "slope_ci_high", "p", "baseline_coef", "intercept",
                     "pre_mean", "r_squared", "improvement_per_session"]
#: default bands of sessions for :func:`change_by_session_band` (lower limits), as in
#: :func:`spanalysis.change.quality.engagement`
SESSION_BANDS = (0, 1, 2, 4, 7)


def _sessions_pairs(scores, scale_info, participants, pre, post, timepoints, instruments,
                    sessions: str):
    """Complete pairs with each person's sessions: ``instrument, scale, participant_id, pre,
    post, change, sessions`` (rows without sessions dropped), and the checked scale info."""
    if participants is None:
        raise InputError("change by sessions needs the participants table",
                         column=sessions, expected="participants=... with a sessions column")
    _require_columns(participants, ["participant_id", sessions], "participants")
    pre, post = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre, post, instruments)
    info = _scale_info(scale_info, pairs)
    people = pd.DataFrame({"participant_id": participants["participant_id"].astype(str),
                           "sessions": _numeric(participants, sessions, "participants")})
    people = people.drop_duplicates("participant_id")
    pairs = pairs[pairs["pre"].notna() & pairs["post"].notna()].copy()
    for c in ("instrument", "scale", "participant_id"):
        pairs[c] = pairs[c].astype(str)
    pairs = pairs.merge(people, on="participant_id", how="left")
    pairs = pairs[pairs["sessions"].notna()]
    pairs["change"] = pairs["post"] - pairs["pre"]
    return pairs, info


def change_by_sessions(scores: pd.DataFrame, scale_info: pd.DataFrame, participants,
                       pre=None, post=None, timepoints=None, instruments=None,
                       confidence: float = 0.95, min_cell_size: int = 5,
                       adjust_baseline: bool = True,
                       sessions: str = "sessions_attended") -> pd.DataFrame:
    """Change on each scale by sessions attended: the slope of change on sessions.

    Parameters
    ----------
    scores, scale_info, pre, post, timepoints, instruments
        As for :func:`~spanalysis.change.paired_change`.
    participants : DataFrame
        ``participant_id`` and the ``sessions`` column.
    confidence : float
        Level of the slope's interval (default 0.95).
    min_cell_size : int
        Scales with fewer people (complete pairs with sessions recorded) are withheld.
    adjust_baseline : bool
        Add the baseline score as a covariate (default True; see Notes).
    sessions : str
        The participants column with the number of sessions (default ``sessions_attended``).

    Returns
    -------
    DataFrame
        One row per scale (:data:`SESSION_COLUMNS`): ``instrument, scale, n``, sessions'
        median, min and max, ``slope`` (mean change per extra session, points),
        ``slope_ci_low, slope_ci_high`` (t interval), ``p``, ``baseline_coef`` (NaN when not
        adjusted), ``intercept``, ``pre_mean`` (mean baseline score), ``r_squared``,
        ``adjusted_for`` (in words), ``direction``, ``improvement_per_session`` (the slope
        signed so that positive is better), ``scale_name``, ``small_group``, ``confidence``.
        The fitted change at s sessions for a person with the mean baseline is
        ``intercept + slope * s + baseline_coef * pre_mean`` (without the last term when
        not adjusted).

    Notes
    -----
    Ordinary least squares, change = b0 + b1 sessions + b2 pre + e (classical SEs; the
    interval is b1 +/- t_{1-alpha/2, n-k} SE). Adjusting for the baseline compares people
    who started at the same score, so that regression to the mean (people who start worse
    improve more, and may also attend more) is not read as a dose effect (Vickers & Altman
    2001). An association with sessions is not a dose-response effect of the sessions:
    people who are doing better may simply keep attending.

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": [f"P{i}" for i in range(6)] * 2,
    ...     "timepoint": ["pre"] * 6 + ["post"] * 6, "instrument": "w", "scale": "t",
    ...     "score": [40, 42, 44, 46, 48, 50] + [41, 44, 47, 50, 53, 56]})
    >>> people = pd.DataFrame({"participant_id": [f"P{i}" for i in range(6)],
    ...                        "sessions_attended": [1, 2, 3, 4, 5, 6]})
    >>> info = pd.DataFrame({"instrument": ["w"], "scale": ["t"], "direction": ["higher"]})
    >>> row = change_by_sessions(scores, info, people, timepoints=["pre", "post"],
    ...                          adjust_baseline=False).iloc[0]
    >>> round(float(row.slope), 6), int(row.n)
    (1.0, 6)
    """
    import statsmodels.api as sm

    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    pairs, info = _sessions_pairs(scores, scale_info, participants, pre, post, timepoints,
                                  instruments, sessions)
    rows = []
    k = 3 if adjust_baseline else 2
    for (inst, scale), g in pairs.groupby(_KEYS, sort=True):
        row = dict.fromkeys(SESSION_COLUMNS, math.nan)
        n = len(g)
        s = g["sessions"].to_numpy(float)
        row.update(instrument=inst, scale=scale, n=n, sessions_median=float(np.median(s)),
                   sessions_min=float(s.min()), sessions_max=float(s.max()),
                   pre_mean=float(g["pre"].mean()), small_group=n < min_cell_size,
                   confidence=confidence,
                   adjusted_for="baseline score" if adjust_baseline else "nothing")
        columns = [s] + ([g["pre"].to_numpy(float)] if adjust_baseline else [])
        x = sm.add_constant(np.column_stack(columns), has_constant="add")
        if n > k and np.ptp(s) > 0 and np.linalg.matrix_rank(x) == k:
            fit = sm.OLS(g["change"].to_numpy(float), x).fit()
            low, high = fit.conf_int(alpha=1 - confidence)[1]
            row.update(slope=float(fit.params[1]), slope_ci_low=float(low),
                       slope_ci_high=float(high), p=float(fit.pvalues[1]),
                       intercept=float(fit.params[0]), r_squared=float(fit.rsquared),
                       baseline_coef=float(fit.params[2]) if adjust_baseline else math.nan)
        rows.append(row)
    out = pd.DataFrame(rows, columns=SESSION_COLUMNS).drop(columns=["direction", "scale_name"])
    out = out.merge(info[_KEYS + ["direction", "scale_name"]], on=_KEYS, how="left")
    out["improvement_per_session"] = out["slope"] * _better_sign(out["direction"])
    out.loc[out["small_group"].astype(bool), _SESSION_WITHHELD] = np.nan
    return out[SESSION_COLUMNS]


def change_by_session_band(scores: pd.DataFrame, scale_info: pd.DataFrame, participants,
                           instrument: str, scale: str, bands=SESSION_BANDS, pre=None,
                           post=None, timepoints=None, confidence: float = 0.95,
                           min_cell_size: int = 5,
                           sessions: str = "sessions_attended") -> pd.DataFrame:
    """Mean change of one scale in bands of sessions attended: the points of a dose figure.

    Parameters
    ----------
    instrument, scale : str
        The scale.
    bands : sequence of int
        Lower limits of the bands (default ``0, 1, 2, 4, 7``: 0, 1, 2-3, 4-6, 7+).
    scores, scale_info, participants, pre, post, timepoints, confidence, min_cell_size, sessions
        As for :func:`change_by_sessions`.

    Returns
    -------
    DataFrame
        One row per band: ``band`` (label), ``sessions_low`` (lower limit), ``n``,
        ``change_mean``, ``change_ci_low``, ``change_ci_high`` (t interval),
        ``small_group`` (fewer than ``min_cell_size`` people: statistics withheld).
    """
    confidence = check_confidence(confidence)
    min_cell_size = check_min_cell(min_cell_size)
    bands = [int(b) for b in bands]
    if len(bands) < 1 or any(b2 <= b1 for b1, b2 in zip(bands, bands[1:])):
        raise InputError("session bands must be increasing whole numbers", column="bands",
                         value=bands, expected="e.g. (0, 1, 2, 4, 7)")
    pairs, _ = _sessions_pairs(scores, scale_info, participants, pre, post, timepoints,
                               [instrument], sessions)
    one = pairs[pairs["scale"] == str(scale)]
    labels = []
    for lo, hi in zip(bands, bands[1:] + [None]):
        labels.append(f"{lo}+" if hi is None else str(lo) if hi - lo == 1 else f"{lo}-{hi - 1}")
    band = pd.cut(one["sessions"], bins=bands + [np.inf], right=False, labels=labels)
    rows = []
    for lo, label in zip(bands, labels):
        d = one.loc[band == label, "change"].to_numpy(float)
        n = d.size
        row = {"band": label, "sessions_low": lo, "n": n, "change_mean": math.nan,
               "change_ci_low": math.nan, "change_ci_high": math.nan,
               "small_group": n < min_cell_size}
        if n >= max(2, min_cell_size):
            half = stats.t.ppf(1 - (1 - confidence) / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
            row.update(change_mean=d.mean(), change_ci_low=d.mean() - half,
                       change_ci_high=d.mean() + half)
        rows.append(row)
    return pd.DataFrame(rows)
