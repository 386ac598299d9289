"""Change between two time points: group change, effect sizes, individual (reliable) change,
attrition checks, service use and person-centred measures.

Every function takes the tidy score table produced by the scoring step and returns a tidy
DataFrame with documented columns. Raw change is always **post minus pre**; whether that is an
improvement follows the scale's ``direction`` ('higher' or 'lower' is better) from
``scale_info``. MYCaW is the one documented exception (see :func:`mycaw_change`).

Inputs (contracts shared with the scoring step)
-----------------------------------------------
scores
    one row per participant x timepoint x instrument x scale with columns
    ``participant_id, timepoint, instrument, scale, score`` (``score`` NaN when not scorable;
    other columns are ignored). String columns may be categoricals. The time-point order comes
    from ``timepoints=[...]`` or from the order of a categorical ``timepoint`` column; the first
    is the baseline. "pre" is the first time point and "post" the last unless ``pre=`` /
    ``post=`` are given.
scale_info
    one row per (instrument, scale) with at least ``instrument, scale, direction``; the
    optional columns ``scale_name, reliability, reliability_source, mid, mid_source, norm_mean,
    norm_sd, norm_source, func_mean, func_sd, dys_mean, dys_sd, clinical_source`` are used
    where present (NaN where unknown).
participants
    ``participant_id`` plus attribute columns (``site`` ...) used for grouping with ``by=``.

References
----------
Lakens D (2013). Calculating and reporting effect sizes to facilitate cumulative science.
    Front Psychol 4:863. doi:10.3389/fpsyg.2013.00863
Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis.
    Wiley (chapter 4, small-sample correction J).
Jacobson NS, Truax P (1991). Clinical significance: a statistical approach to defining
    meaningful change in psychotherapy research. J Consult Clin Psychol 59:12-19.
Steiger JH, Fouladi RT (1997). Noncentrality interval estimation and the evaluation of
    statistical models. In: What if there were no significance tests? Erlbaum, 221-257.
Cumming G, Finch S (2001). A primer on the understanding, use, and calculation of confidence
    intervals that are based on central and noncentral distributions. Educ Psychol Meas
    61:532-574.
Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6:65-70.
Paterson C, Thomas K, Manasse A, Cooke H, Peace G (2007). Measure Yourself Concerns and
    Wellbeing (MYCaW). Complement Ther Med 15:38-45.
Turner-Stokes L (2009). Goal attainment scaling (GAS) in rehabilitation: a practical guide.
    Clin Rehabil 23:362-370.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import special

from spanalysis._memory import with_small_pages
from spanalysis.errors import InputError
SCORE_BLOCKS_ATTR = "spanalysis_score_blocks"  # no longer set by the scoring (issue 18)
_cat_dtype = pd.CategoricalDtype

__all__ = [
    "paired_change", "paired_effect_sizes", "p_adjust_holm",
    "reliable_change_threshold", "reliable_change", "reliable_change_summary",
    "clinical_cutoffs", "completer_comparison", "sensitivity_bocf",
    "service_use_change", "mycaw_change", "gas_summary", "describe_change",
]

_KEYS = ["instrument", "scale"]
_SCORE_COLUMNS = ["participant_id", "timepoint", "instrument", "scale", "score"]
_INFO_OPTIONAL = ["scale_name", "min", "max", "reliability", "reliability_source", "mid",
                  "mid_source", "norm_mean", "norm_sd", "norm_source", "func_mean", "func_sd",
                  "dys_mean", "dys_sd", "clinical_source"]
_NOT_RECORDED = "(not recorded)"
# Statistics withheld (set to NaN) for groups below the minimum cell size.
_WITHHELD = ["pre_mean", "pre_sd", "post_mean", "post_sd", "change_mean", "change_sd",
             "change_ci_low", "change_ci_high", "t", "df", "p", "wilcoxon_W", "wilcoxon_p",
             "d_z", "d_z_ci_low", "d_z_ci_high", "d_av", "g_av"]


# --------------------------------------------------------------------------------------------
# input checks and shaping
# --------------------------------------------------------------------------------------------
def _require_columns(df, columns, what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what} must be a table (pandas DataFrame)", file=what,
                         value=type(df).__name__, expected="a pandas DataFrame")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks required column(s) {', '.join(missing)}", file=what,
                         column=missing[0], expected="columns " + ", ".join(columns))


def _spreadsheet_row(df: pd.DataFrame, label) -> int | None:
    """Spreadsheet row (header = 1) when the table still has its file's 0-based RangeIndex."""
    if isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1:
        return int(label) + 2
    return None


def check_confidence(confidence) -> float:
    """``confidence`` as a float, or an InputError unless it lies strictly between 0 and 1."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value < 1:
        raise InputError("the confidence level must lie between 0 and 1", column="confidence",
                         value=confidence, expected="a number such as 0.95 or 0.90")
    return value


def check_min_cell(min_cell_size) -> int:
    """``min_cell_size`` as an int, or an InputError unless it is a whole number of at least 1."""
    if isinstance(min_cell_size, bool) or not isinstance(min_cell_size, (int, np.integer)) \
            or min_cell_size < 1:
        raise InputError("min_cell_size must be a whole number of at least 1",
                         column="min_cell_size", value=min_cell_size, expected="e.g. 5")
    return int(min_cell_size)


def _numeric(df: pd.DataFrame, column: str, what: str) -> pd.Series:
    if df[column].dtype == np.float64:  # numbers already (blank = NaN): nothing to check
        return df[column]
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if bad.any():
        label = bad.idxmax()
        raise InputError(f"{what}: '{column}' must be a number", file=what,
                         row=_spreadsheet_row(df, label), column=column,
                         value=df.at[label, column], expected="a number or a blank")
    return values.astype(float)


def _timepoint_order(scores: pd.DataFrame, timepoints) -> list[str] | None:
    if timepoints is not None:
        return [str(t) for t in timepoints]
    if isinstance(scores["timepoint"].dtype, pd.CategoricalDtype):
        return [str(c) for c in scores["timepoint"].cat.categories]
    return None


def _resolve_pre_post(scores, timepoints, pre, post) -> tuple[str, str]:
    order = _timepoint_order(scores, timepoints)
    column = scores["timepoint"]
    if order is not None and isinstance(column.dtype, pd.CategoricalDtype):
        # only categories outside the study's order can be unknown: look for those alone
        # (usually none, so tens of millions of codes are not scanned)
        codes = column.array.codes
        present = [str(c) for k, c in enumerate(column.cat.categories)
                   if str(c) not in order and (codes == k).any()]
    else:
        present = [str(t) for t in pd.unique(column.dropna())]
    if order is None:
        if pre is None or post is None:
            raise InputError("the order of the time points is unknown", file="scores",
                             column="timepoint",
                             expected="timepoints=[...] (first = baseline), a categorical "
                                      "'timepoint' column, or both pre= and post=")
        allowed = set(present)
    else:
        unknown = [t for t in present if t not in order]
        if unknown:
            raise InputError("a time point is not among the study's time points",
                             file="scores", column="timepoint", value=unknown[0],
                             expected="one of " + ", ".join(order))
        if len(order) < 2 and (pre is None or post is None):
            raise InputError("change needs at least two time points", file="scores",
                             column="timepoint", value=", ".join(order),
                             expected="a baseline and a later time point")
        pre = order[0] if pre is None else str(pre)
        post = order[-1] if post is None else str(post)
        allowed = set(order)
    for name, tp in (("pre", pre), ("post", post)):
        if str(tp) not in allowed:
            raise InputError(f"the {name} time point is not in the data", file="scores",
                             column="timepoint", value=tp,
                             expected="one of " + ", ".join(sorted(allowed)))
    if str(pre) == str(post):
        raise InputError("pre and post are the same time point", column="timepoint",
                         value=pre, expected="two different time points")
    return str(pre), str(post)


def _tidy_scores(scores: pd.DataFrame) -> pd.DataFrame:
    _require_columns(scores, _SCORE_COLUMNS, "scores")
    s = scores[_SCORE_COLUMNS].copy()
    for c in ("participant_id", "timepoint", "instrument", "scale"):
        s[c] = s[c].astype(str)  # categoricals -> plain strings so merges and pivots agree
    s["score"] = _numeric(scores, "score", "scores")
    return s


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing; the categorical's own small integer type, not copied)
    and the text of each category."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if not pd.api.types.is_string_dtype(categories.dtype) or \
                pd.api.types.is_object_dtype(categories.dtype):
            categories = categories.astype(str)
        return column.array.codes, categories  # a view, not a copy
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, pd.Index(uniques).astype(str)


_BLOCK = 1 << 20   # score rows per block in _pair_table


def _side_of(timepoints, pre: str, post: str) -> np.ndarray:
    """Per time-point code: 0 for ``pre``, 1 for ``post``, -1 otherwise; one more entry,
    -1, so that code -1 (missing) finds it."""
    return np.array([0 if str(c) == pre else 1 if str(c) == post else -1 for c in timepoints]
                    + [-1], dtype=np.int8)


def _pair_table(scores: pd.DataFrame, pre: str, post: str,
                instruments: list[str] | None = None) -> pd.DataFrame:
    """One row per (instrument, scale, participant) with ``pre`` and ``post`` (NaN if absent).

    Works on integer codes with direct addressing (linear time), because score tables of
    national evaluations run to tens of millions of rows. ``instrument``, ``scale`` and
    ``participant_id`` come back as categoricals.
    """
    _require_columns(scores, _SCORE_COLUMNS, "scores")
    score = _numeric(scores, "score", "scores").to_numpy(dtype=float)
    t_code, t_cats = _codes(scores["timepoint"])
    side = _side_of(t_cats, pre, post)[t_code]
    i_code, i_cats = _codes(scores["instrument"])
    s_code, s_cats = _codes(scores["scale"])
    p_code, p_cats = _codes(scores["participant_id"])
    if (side < 0).any():  # scores at other time points are left out
        keep = np.flatnonzero(side >= 0)
        i_code, s_code, p_code, side, score = (i_code[keep], s_code[keep], p_code[keep],
                                               side[keep], score[keep])
    if (p_code < 0).any():
        raise InputError("a score has no participant_id", file="scores", column="participant_id",
                         expected="a participant id on every row")
    # Rows are taken a block at a time so that the temporaries stay small (fresh memory is
    # slow to touch on virtual machines, and a score table can have tens of millions of rows).
    blocks = [slice(a, a + _BLOCK) for a in range(0, len(score), _BLOCK)]
    # instrument x scale pairs that occur, numbered 0..n_pairs-1
    n_s = len(s_cats) + 1
    present = np.zeros((len(i_cats) + 1) * n_s, dtype=bool)
    for sl in blocks:
        present[i_code[sl].astype(np.int32) * n_s + s_code[sl]] = True
    pair_index = np.cumsum(present) - 1
    n_pairs, n_people = int(present.sum()), len(p_cats) + 1
    # one slot per (scale, participant) and side: slot = (pair * people + person) * 2 + side;
    # the index fits 32 bits for any real study
    wide = np.int32 if 2 * n_pairs * n_people < 2**31 else np.int64
    first_slot = (pair_index * (2 * n_people)).astype(wide)

    def slots(sl: slice) -> np.ndarray:
        k = first_slot[i_code[sl].astype(np.int32) * n_s + s_code[sl]]
        k += p_code[sl].astype(wide) * 2
        k += side[sl]
        return k

    # Each (scale, participant, side) once: a one-byte-per-slot mark, then (only if some
    # slot was hit twice) a count to name the duplicate.
    seen = np.zeros(2 * n_pairs * n_people, dtype=bool)
    values = np.full(2 * n_pairs * n_people, np.nan)
    for sl in blocks:
        k = slots(sl)
        seen[k] = True
        values[k] = score[sl]
    if np.count_nonzero(seen) != len(score):
        key = np.concatenate([slots(sl) for sl in blocks])
        counts = np.bincount(key, minlength=len(seen))
        hit = int(np.flatnonzero(counts[key] > 1)[0])
        keys = [i_cats[i_code[hit]], s_cats[s_code[hit]], p_cats[p_code[hit]],
                pre if side[hit] == 0 else post]
        raise InputError("more than one score for the same participant, time point, "
                         "instrument and scale", file="scores", value=" / ".join(map(str, keys)),
                         expected="one score per participant, time point, instrument and scale")
    occupied = seen.reshape(-1, 2).any(axis=1)
    codes_of_pair = np.flatnonzero(present)  # back to instrument and scale codes
    if instruments is not None:  # only these instruments' scales (whole slot ranges)
        wanted = np.asarray(pd.Index(i_cats).isin([str(i) for i in instruments]))
        drop = ~wanted[codes_of_pair // n_s]
        for k in np.flatnonzero(drop):
            occupied[k * n_people:(k + 1) * n_people] = False
    used = np.flatnonzero(occupied)
    pair_of = used // n_people
    inst = codes_of_pair[pair_of] // n_s
    scale = codes_of_pair[pair_of] % n_s
    # pre and post as one two-column block (pandas keeps it without copying)
    out = pd.DataFrame(values.reshape(-1, 2)[used], columns=["pre", "post"], copy=False)
    out.insert(0, "instrument", pd.Categorical.from_codes(inst, categories=i_cats))
    out.insert(1, "scale", pd.Categorical.from_codes(scale, categories=s_cats))
    # categories known to be unique: pandas need not hash a million ids again
    out.insert(2, "participant_id", pd.Categorical.from_codes(
        used % n_people, dtype=_cat_dtype(p_cats), validate=False))
    return out


def _attach_group(pairs: pd.DataFrame, participants, by: str | None) -> pd.DataFrame:
    if by is None:
        return pairs
    if participants is None:
        raise InputError(f"grouping by '{by}' needs the participants table", column=by,
                         expected="participants=... with a participant_id column")
    _require_columns(participants, ["participant_id", by], "participants")
    people = participants[["participant_id", by]].copy()
    people["participant_id"] = people["participant_id"].astype(str)
    dup = people["participant_id"].duplicated()
    if dup.any():
        label = dup.idxmax()
        raise InputError("duplicate participant_id", file="participants",
                         row=_spreadsheet_row(participants, label), column="participant_id",
                         value=people.at[label, "participant_id"], expected="unique identifiers")
    group = people[by].astype(object)
    people[by] = group.where(group.notna(), _NOT_RECORDED).astype(str)
    out = pairs.merge(people, on="participant_id", how="left", validate="many_to_one")
    unknown = out[by].isna()
    if unknown.any():
        raise InputError("a participant in the scores is not in the participants table",
                         file="participants", column="participant_id",
                         value=out.loc[unknown, "participant_id"].iloc[0],
                         expected="every scored participant listed in participants")
    return out


def _scale_info(scale_info: pd.DataFrame, needed: pd.DataFrame | None = None) -> pd.DataFrame:
    _require_columns(scale_info, ["instrument", "scale", "direction"], "scale_info")
    info = scale_info.copy()
    for c in ("instrument", "scale"):
        info[c] = info[c].astype(str)
    for c in _INFO_OPTIONAL:
        if c not in info.columns:
            info[c] = np.nan
    for c in ("min", "max", "reliability", "mid", "norm_mean", "norm_sd", "func_mean", "func_sd",
              "dys_mean", "dys_sd"):
        info[c] = _numeric(info, c, "scale_info")
    direction = info["direction"].astype(object)
    bad = ~direction.isin(["higher", "lower"])
    if bad.any():
        label = bad.idxmax()
        raise InputError(f"scale '{info.at[label, 'instrument']}/{info.at[label, 'scale']}' "
                         "has no valid direction", file="scale_info", column="direction",
                         value=direction[label], expected="'higher' or 'lower' (is better)")
    info["direction"] = direction.astype(str)
    dup = info.duplicated(_KEYS)
    if dup.any():
        label = dup.idxmax()
        raise InputError("scale listed twice", file="scale_info", column="scale",
                         value=f"{info.at[label, 'instrument']}/{info.at[label, 'scale']}",
                         expected="one row per instrument and scale")
    name = info["scale_name"].astype(object)
    info["scale_name"] = name.where(name.notna(), info["instrument"] + " " + info["scale"])
    if needed is not None:
        have = pd.MultiIndex.from_frame(info[_KEYS])
        want = pd.MultiIndex.from_frame(_distinct_scales(needed))
        missing = want.difference(have)
        if len(missing):
            raise InputError("a scored scale has no entry in scale_info", file="scale_info",
                             column="scale", value="/".join(missing[0]),
                             expected="a row with its direction (higher or lower is better)")
    return info.reset_index(drop=True)


def _distinct_scales(frame: pd.DataFrame) -> pd.DataFrame:
    """The distinct (instrument, scale) rows of ``frame`` (by integer codes when both columns
    are categorical: linear time at millions of rows)."""
    inst, scale = frame["instrument"], frame["scale"]
    if not (isinstance(inst.dtype, pd.CategoricalDtype)
            and isinstance(scale.dtype, pd.CategoricalDtype)):
        return frame[_KEYS].drop_duplicates()
    n_scale = len(scale.cat.categories) + 1
    code = (inst.cat.codes.to_numpy().astype(np.int64) + 1) * n_scale \
        + scale.cat.codes.to_numpy() + 1
    present = np.flatnonzero(np.bincount(code, minlength=(len(inst.cat.categories) + 1)
                                         * n_scale))
    i, sc = present // n_scale - 1, present % n_scale - 1
    name = (lambda cats, c: np.where(c >= 0, np.asarray(cats, dtype=object)[np.maximum(c, 0)],
                                     None))
    return pd.DataFrame({"instrument": name(inst.cat.categories, i),
                         "scale": name(scale.cat.categories, sc)})


def _better_sign(direction) -> np.ndarray:
    """+1 where higher is better, -1 where lower is better."""
    return np.where(np.asarray(direction, dtype=object) == "lower", -1.0, 1.0)


# --------------------------------------------------------------------------------------------
# small building blocks
# --------------------------------------------------------------------------------------------
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
    """Small-sample correction J = 1 - 3 / (4 df - 1) (Borenstein et al. 2009, eq. 4.22)."""
    df = np.asarray(df, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df >= 1, 1.0 - 3.0 / (4.0 * df - 1.0), np.nan)


def _t_ppf(q, df):
    """Quantile of Student's t: scipy.stats.t.ppf computes the same with special.stdtrit.

    The t, normal and chi-squared functions come from :mod:`scipy.special` because importing
    :mod:`scipy.stats` costs about 0.4 s in every report's kernel.
    """
    return special.stdtrit(df, q)


def _t_sf(x, df):
    """Upper tail of Student's t (scipy.stats.t.sf = special.stdtr(df, -x))."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def _norm_ppf(q):
    return special.ndtri(q)


#: scipy's signed-rank test uses the normal approximation above this many differences
#: (``method="auto"``); :func:`_signed_rank_normal` computes it without scipy
_EXACT_MAX = 50


def _wilcoxon(diffs: np.ndarray) -> tuple[float, float]:
    """scipy's signed-rank test with its defaults; NaN when every difference is zero."""
    diffs = np.asarray(diffs, dtype=float)
    if diffs.size > _EXACT_MAX:
        return _signed_rank_normal(diffs)
    if diffs.size == 0 or np.all(diffs == 0):
        return math.nan, math.nan
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-n normal-approximation warnings
        res = stats.wilcoxon(diffs)
    return float(res.statistic), float(res.pvalue)


_COUNT_MAX = 1 << 20   # largest whole |difference| ranked by counting


def _signed_rank_normal(diffs: np.ndarray) -> tuple[float, float]:
    """Wilcoxon's signed-rank test by the normal approximation, as ``scipy.stats.wilcoxon``
    computes it with its defaults for more than 50 differences: zero differences dropped,
    average ranks for ties with the tie-corrected variance, no continuity correction,
    two-sided; the statistic is the smaller rank sum. NaN, NaN when every difference is
    zero.

    With n non-zero differences, R+ the sum of the ranks of |d| over positive d, and t_j the
    sizes of the groups of tied |d|: z = (R+ - n(n+1)/4) / sqrt((n(n+1)(2n+1) -
    sum(t_j^3 - t_j)/2) / 24), p = 2 (1 - Phi(|z|)) (Hollander & Wolfe 1999, section 3.1;
    scipy.stats.wilcoxon). Questionnaire differences take few distinct values, so the ranks
    are found by counting (whole numbers) or by hashing the values and sorting only the
    distinct ones: linear time, where scipy sorts every difference. Tested against scipy in
    tests/test_change.py.
    """
    ties = positive = None
    if len(diffs):
        low, high = float(diffs.min()), float(diffs.max())
        if -_COUNT_MAX < low and high < _COUNT_MAX:
            whole = diffs.astype(np.int64)
            if (whole == diffs).all():
                # Whole-number differences (sums of item scores): one count per signed
                # value, |d| = v gathers the counts at +v and -v; zeros are left out.
                reach = int(max(-low, high))
                whole += reach
                counts = np.bincount(whole, minlength=2 * reach + 1).astype(float)
                positive = np.concatenate([[0.0], counts[reach + 1:]])
                ties = positive.copy()
                ties[1:] += counts[:reach][::-1]
    if ties is not None:
        ends = np.cumsum(ties)
        avg_rank = ends - (ties - 1.0) / 2.0   # unused values have no ties: weight 0 below
    else:
        nonzero = diffs[diffs != 0]
        codes, distinct = pd.factorize(np.abs(nonzero), sort=False)
        ties = np.bincount(codes, minlength=len(distinct)).astype(float)
        order = np.argsort(distinct, kind="stable")
        ends = np.cumsum(ties[order])            # last rank of each group, in sorted order
        avg_rank = np.empty(len(distinct))
        avg_rank[order] = ends - (ties[order] - 1.0) / 2.0
        positive = np.bincount(codes[nonzero > 0], minlength=len(distinct)).astype(float)
    n = float(ties.sum())
    if n == 0:
        return math.nan, math.nan
    r_plus = float(positive @ avg_rank)
    r_minus = float((ties - positive) @ avg_rank)
    mean = n * (n + 1.0) * 0.25
    se = math.sqrt((n * (n + 1.0) * (2.0 * n + 1.0) - float(np.sum(ties ** 3 - ties)) / 2.0)
                   / 24.0)
    if se == 0:
        return min(r_plus, r_minus), math.nan
    z = (r_plus - mean) / se
    return min(r_plus, r_minus), float(2.0 * special.ndtr(-abs(z)))


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


def paired_effect_sizes(pre, post) -> dict:
    """Standardised mean differences for a pre/post (within-person) design.

    Parameters
    ----------
    pre, post : array-like of float, same length
        Scores of the same people at the two time points. Pairs with a missing value in either
        are dropped (complete pairs only).

    Returns
    -------
    dict
        ``n`` (complete pairs), ``mean_diff`` (post - pre), ``sd_diff``, ``sd_pre``,
        ``sd_post``, ``r`` (pre-post Pearson correlation), ``d_z``, ``d_av``, ``d_rm``,
        ``hedges_j`` and ``g_av``. SDs use n - 1.

    Notes
    -----
    Following Lakens (2013), with diff = post - pre:

    * d_z = mean(diff) / sd(diff)  (= t / sqrt(n))
    * d_av = mean(diff) / ((sd_pre + sd_post) / 2)
    * d_rm = mean(diff) / sqrt(sd_pre^2 + sd_post^2 - 2 r sd_pre sd_post) * sqrt(2 (1 - r))
    * g_av = d_av * J with J = 1 - 3 / (4 df - 1), df = n - 1 (Borenstein et al. 2009, as
      specified in the project's measures reference; Lakens' spreadsheet instead uses
      1 - 3 / (4 (n1 + n2) - 9), which differs slightly in small samples).

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
    with np.errstate(divide="ignore", invalid="ignore"):
        r = float(np.corrcoef(x, y)[0, 1]) if sd_pre > 0 and sd_post > 0 else math.nan
        d_z = mean_diff / sd_diff
        d_av = mean_diff / ((sd_pre + sd_post) / 2)
        d_rm = (mean_diff / math.sqrt(sd_pre**2 + sd_post**2 - 2 * r * sd_pre * sd_post)
                * math.sqrt(2 * (1 - r))) if np.isfinite(r) else math.nan
    j = float(hedges_j(n - 1))
    return {"n": int(n), "mean_diff": float(mean_diff), "sd_diff": float(sd_diff),
            "sd_pre": float(sd_pre), "sd_post": float(sd_post), "r": r, "d_z": float(d_z),
            "d_av": float(d_av), "d_rm": float(d_rm), "hedges_j": j, "g_av": float(d_av * j)}


# --------------------------------------------------------------------------------------------
# group change
# --------------------------------------------------------------------------------------------
def _paired_stats(pairs: pd.DataFrame | None, info: pd.DataFrame, by: str | None,
                  confidence: float, min_cell_size: int, wilcoxon: bool = True,
                  moments: tuple[pd.DataFrame, dict] | None = None) -> pd.DataFrame:
    """``moments``: the per-scale summaries and differences already computed (as
    :func:`_moments_by_scale` returns them), in which case ``pairs`` is not used."""
    keys = _KEYS + ([by] if by else [])
    fast = moments is not None or (
        by is None and all(isinstance(pairs[k].dtype, pd.CategoricalDtype) for k in keys))
    if fast:  # integer group codes and bincount: linear time at millions of pairs
        out, diffs_of = moments if moments is not None else _moments_by_scale(pairs)
        everyone = out.index
    else:
        everyone = pairs.groupby(keys, sort=True).size().index
        both = pairs["pre"].notna() & pairs["post"].notna()
        c = pairs.loc[both].assign(diff=lambda d: d["post"] - d["pre"])
        out = (c.groupby(keys, sort=True)
               .agg(n_pairs=("diff", "size"), pre_mean=("pre", "mean"), pre_sd=("pre", "std"),
                    post_mean=("post", "mean"), post_sd=("post", "std"),
                    change_mean=("diff", "mean"), change_sd=("diff", "std"))
               .reindex(everyone))
        out["n_pairs"] = out["n_pairs"].fillna(0).astype(int)
        baseline_only = pairs["pre"].notna() & pairs["post"].isna()
        out.insert(1, "n_baseline_only",
                   pairs.loc[baseline_only].groupby(keys).size().reindex(everyone, fill_value=0)
                   .astype(int))
    n = out["n_pairs"].to_numpy(float)
    mean_d = out["change_mean"].to_numpy(float)
    sd_d = out["change_sd"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (n >= 2) & (sd_d > 0)
        se = np.where(ok, sd_d / np.sqrt(n), np.nan)
        df = np.where(n >= 2, n - 1, np.nan)
        t_crit = _t_ppf(1 - (1 - confidence) / 2, df)
        t_val = mean_d / se
        out["change_ci_low"] = mean_d - t_crit * se
        out["change_ci_high"] = mean_d + t_crit * se
        out["t"] = t_val
        out["df"] = df
        out["p"] = 2 * _t_sf(np.abs(t_val), df)
        out["d_z"] = np.where(ok, mean_d / sd_d, np.nan)
        sd_av = (out["pre_sd"].to_numpy(float) + out["post_sd"].to_numpy(float)) / 2
        out["d_av"] = np.where(sd_av > 0, mean_d / sd_av, np.nan)
    out["d_z_ci_low"], out["d_z_ci_high"] = _dz_ci(out["d_z"].to_numpy(), n, confidence)
    out["g_av"] = out["d_av"] * hedges_j(df)
    # Signed-rank test per group: one scipy call per scale x group (few), not per row.
    if not wilcoxon:
        wil = {}
    elif fast:  # one test per scale
        # The normal approximation (more than _EXACT_MAX differences) is numpy alone: two
        # at a time (numpy releases the GIL). scipy's test of a small sample runs in this
        # thread, one at a time: _wilcoxon changes the warning filters, which threads share
        # (warnings.catch_warnings is not thread-safe), so two at once could leave one behind.
        large = [key for key, d in diffs_of.items() if len(d) > _EXACT_MAX]
        with ThreadPoolExecutor(max_workers=2) as pool:
            wil = dict(zip(large, pool.map(lambda key: _wilcoxon(diffs_of[key]), large)))
        wil.update((key, _wilcoxon(d)) for key, d in diffs_of.items() if key not in wil)
    else:
        wil = {k: _wilcoxon(g.to_numpy()) for k, g in c.groupby(keys, sort=True)["diff"]}
    wil = pd.DataFrame.from_dict(wil, orient="index", columns=["wilcoxon_W", "wilcoxon_p"])
    if len(wil):
        wil.index = pd.MultiIndex.from_tuples(wil.index, names=keys)
    wil = wil.reindex(everyone)
    out["wilcoxon_W"] = wil["wilcoxon_W"].to_numpy()
    out["wilcoxon_p"] = wil["wilcoxon_p"].to_numpy()

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
    sign = _better_sign(out["direction"])
    low = out["change_ci_low"].to_numpy() * sign
    high = out["change_ci_high"].to_numpy() * sign
    lo_better = np.where(sign > 0, low, high)   # the CI bound nearest "no change" after flipping
    hi_better = np.where(sign > 0, high, low)
    verdict = np.select([lo_better > 0, hi_better < 0], ["improved", "worsened"], "unclear")
    improvement = pd.Series(verdict, dtype=object)
    improvement[out["small_group"].to_numpy()] = None  # withheld, not "unclear"
    out["improvement"] = improvement.to_numpy()
    out["confidence"] = confidence
    columns = keys + ["n_pairs", "n_baseline_only", "pre_mean", "pre_sd", "post_mean",
                      "post_sd", "change_mean", "change_sd", "change_ci_low", "change_ci_high",
                      "t", "df", "p", "p_holm", "wilcoxon_W", "wilcoxon_p", "d_z",
                      "d_z_ci_low", "d_z_ci_high", "d_av", "g_av", "direction", "improvement",
                      "small_group", "scale_name", "confidence"]
    return out[columns]


def _block_layout(scores: pd.DataFrame, defer: bool = False) -> dict | None:
    """The block structure of a score table built by the scoring (one block of ``rows`` rows
    per scale, the same participants and time points in the same order in every block,
    recorded in ``scores.attrs``), verified against the table itself; None when the table
    does not have it (filtered, reordered or built by hand).

    ``defer``: the checks of the table's codes (all the work) are left to the caller, who
    runs ``layout["verify"]()`` in another thread while it pairs the participants; the
    layout is used only if that returns True."""
    hint = scores.attrs.get(SCORE_BLOCKS_ATTR)
    if not isinstance(hint, dict):
        return None
    n, count = hint.get("rows"), hint.get("blocks")
    if not (isinstance(n, int) and isinstance(count, int) and n > 0 and count > 0
            and len(scores) >= n * count):
        return None
    columns = ("participant_id", "timepoint", "instrument", "scale")
    if not all(c in scores.columns and isinstance(scores[c].dtype, pd.CategoricalDtype)
               for c in columns) or scores["score"].dtype != np.float64:
        return None
    # Categorical.codes is a view (Series.cat.codes would copy tens of millions of codes).
    codes = {c: scores[c].array.codes[: n * count].reshape(count, n) for c in columns}

    def verify() -> bool:
        # the same participants and time points, in the same rows, in every block; one
        # instrument and one scale per block
        return (_same_blocks(codes["participant_id"]) and _same_blocks(codes["timepoint"])
                and all(block.min() == block.max()
                        for c in ("instrument", "scale") for block in codes[c]))

    if not defer and not verify():
        return None
    layout = {"rows": n, "blocks": count, "participant": codes["participant_id"][0],
              "timepoint": codes["timepoint"][0], "instrument": codes["instrument"][:, 0],
              "scale": codes["scale"][:, 0]}
    if defer:
        layout["verify"] = verify
    return layout


def _same_blocks(blocks: np.ndarray) -> bool:
    """Whether every row of ``blocks`` (blocks x rows) equals the first: block by block,
    with one block-sized buffer, so no table-sized temporary is made."""
    same = np.empty(blocks.shape[1], dtype=bool)
    first = blocks[0]
    return all(np.equal(block, first, out=same).all() for block in blocks[1:])


def _pair_blocks(scores: pd.DataFrame, layout: dict, pre: str, post: str,
                 instruments: list[str] | None):
    """For :func:`_block_moments`: the blocks to summarise (as ``(instrument, scale, block)``
    in table order) and the rows of each person with both time points and with a baseline
    only; None when the general path must decide."""
    n, count = layout["rows"], layout["blocks"]
    i_cats = scores["instrument"].cat.categories
    in_blocks = set(i_cats[np.unique(layout["instrument"])].astype(str))
    asked = None if instruments is None else {str(i) for i in instruments}
    if len(scores) > n * count:  # rows after the blocks (service use): only if not asked for
        seen = np.zeros(len(i_cats) + 1, dtype=bool)  # the last slot takes code -1 (blank)
        tail = scores["instrument"].array.codes[n * count:]
        if tail.min() == tail.max():  # one instrument (the service use): no scatter needed
            seen[tail[0]] = True
        else:
            seen[tail] = True
        later = set(i_cats[np.flatnonzero(seen[:-1])].astype(str))
        if asked is None or asked & later:
            return None
    wanted = in_blocks if asked is None else asked & in_blocks
    side_of = _side_of(scores["timepoint"].cat.categories, pre, post)[:-1]
    timepoint = layout["timepoint"]
    person = layout["participant"]
    if (person < 0).any():
        return None
    n_people = len(scores["participant_id"].cat.categories)

    def side_rows(s_: int) -> np.ndarray:
        # the rows at this side's time point: kind="sort" compares with each of the side's
        # codes (usually one); numpy's default builds a lookup table and gathers, 25x slower
        return np.flatnonzero(np.isin(timepoint, np.flatnonzero(side_of == s_), kind="sort"))

    row_of = []
    for s_ in (0, 1):
        rows = side_rows(s_)
        at = np.full(n_people, -1, dtype=np.int64)
        at[person[rows]] = rows
        if np.count_nonzero(at >= 0) != len(rows):
            return None  # the same person twice at one time point: the general path says so
        row_of.append(at)
    # the rows of each person (in category order) with both time points, and of those with
    # a baseline only
    has_pre, has_post = row_of[0] >= 0, row_of[1] >= 0
    if not (has_pre.any() or has_post.any()):
        return None
    # positions first, then gathers: faster than two boolean selections of the same mask
    paired = np.flatnonzero(has_pre & has_post)
    pair_pre, pair_post = row_of[0][paired], row_of[1][paired]
    pre_only = row_of[0][np.flatnonzero(has_pre & ~has_post)]
    if len(pair_pre) > 1 and not (pair_pre[1:] > pair_pre[:-1]).all():
        # The participants are coded in another order than the table's rows (a participants
        # file not sorted as the responses are): the pairs are taken in the order of the
        # baseline rows instead, so that each scale's scores are read in order, not at random.
        rows = side_rows(0)
        post_of_pre = row_of[1][person[rows]]
        with_post = np.flatnonzero(post_of_pre >= 0)
        pair_pre, pair_post = rows[with_post], post_of_pre[with_post]
    order = sorted((int(layout["instrument"][b]), int(layout["scale"][b]), b)
                   for b in range(count) if str(i_cats[layout["instrument"][b]]) in wanted)
    return order, pair_pre, pair_post, pre_only


def _block_moments(scores: pd.DataFrame, pre: str, post: str,
                   instruments: list[str] | None) -> tuple[pd.DataFrame, dict] | None:
    """What :func:`_moments_by_scale` gives for ``_pair_table(scores, ...)``, computed from
    the blocks of a score table with the block structure (see :func:`_block_layout`): the
    participants are paired once, then each scale's scores are taken by those rows. None
    when the structure is absent or the general path must decide (blank or repeated ids,
    or asked-for instruments outside the blocks)."""
    layout = _block_layout(scores, defer=True)
    if layout is None:
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:  # verified while the pairs are found
        verified = pool.submit(layout["verify"])
        pairing = _pair_blocks(scores, layout, pre, post, instruments)
        if not verified.result() or pairing is None:  # pairs of an unverified layout unused
            return None
    n, count = layout["rows"], layout["blocks"]
    score = scores["score"].to_numpy()
    order, pair_pre, pair_post, pre_only = pairing
    i_cats = scores["instrument"].cat.categories
    s_cats = scores["scale"].cat.categories

    def one_scale(block: int):
        values = score[block * n:(block + 1) * n]
        a, z = values[pair_pre], values[pair_post]
        no_a, no_z = np.isnan(a), np.isnan(z)
        baseline_only = len(pre_only) - int(np.count_nonzero(np.isnan(values[pre_only])))
        incomplete = no_a | no_z
        if incomplete.any():  # a blank score at either time point: not a complete pair
            baseline_only += int(np.count_nonzero(no_z)) - int(np.count_nonzero(no_a & no_z))
            # positions, then gathers: faster than two boolean selections of the same mask
            keep = np.flatnonzero(np.logical_not(incomplete, out=incomplete))
            a, z = a[keep], z[keep]
        diff = z - a
        k = len(diff)
        row = [k, baseline_only]
        dev = np.empty(k)
        for x in (a, z, diff):
            mean = x.sum() / k if k else np.nan
            sd = np.nan
            if k > 1:  # two-pass: the sum of squared deviations from the mean
                np.subtract(x, mean, out=dev)
                np.multiply(dev, dev, out=dev)
                sd = math.sqrt(dev.sum() / (k - 1))
            row += [mean, sd]
        return row, diff

    # The scales are independent: two threads (numpy releases the GIL in its loops).
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one_scale, [b for _, _, b in order]))
    columns = ("n_pairs", "n_baseline_only", "pre_mean", "pre_sd", "post_mean", "post_sd",
               "change_mean", "change_sd")
    stats = {c: [row[j] for row, _ in results] for j, c in enumerate(columns)}
    names = [(i_cats[i], s_cats[sc]) for i, sc, _ in order]
    diffs_of = {key: diff for key, (row, diff) in zip(names, results) if row[0]}
    index = pd.MultiIndex.from_tuples(names, names=_KEYS)
    out = pd.DataFrame(stats, index=index)
    out["n_pairs"] = out["n_pairs"].astype(np.int64)
    out["n_baseline_only"] = out["n_baseline_only"].astype(np.int64)
    return out, diffs_of


def _moments_by_scale(pairs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per (instrument, scale): complete pairs, means and SDs (n - 1) of pre, post and their
    difference, and people with a baseline only, as ``groupby(...).agg`` gives them; and the
    differences of each scale (for the signed-rank test). Rows in category order.

    SDs are two-pass (sum of squared deviations from the group mean), as numerically stable
    as pandas' own."""
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
    # the differences of each scale, grouped by a stable counting sort of the small codes
    order = np.argsort(g.astype(np.int16 if k < 2**15 else np.int32), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(n)])
    sorted_diff = diff[order]
    diffs_of = {names[i]: sorted_diff[bounds[i]:bounds[i + 1]] for i in range(k) if n[i]}
    return out, diffs_of


@with_small_pages
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
    if by is None:  # a score table as Study.scores builds it: straight from its blocks
        moments = _block_moments(scores, pre, post, instruments)
        if moments is not None:
            info = _scale_info(scale_info, moments[0].index.to_frame(index=False))
            return _paired_stats(None, info, by, confidence, min_cell_size, wilcoxon,
                                 moments=moments)
    pairs = _pair_table(scores, pre, post, instruments)
    info = _scale_info(scale_info, pairs)
    pairs = _attach_group(pairs, participants, by)
    return _paired_stats(pairs, info, by, confidence, min_cell_size, wilcoxon)


# --------------------------------------------------------------------------------------------
# individual change
# --------------------------------------------------------------------------------------------
def reliable_change_threshold(sd, reliability, confidence: float = 0.95):
    """Smallest raw change that counts as reliable (Jacobson & Truax 1991).

    Parameters
    ----------
    sd : float or array-like
        Standard deviation at baseline (study sample or published norm).
    reliability : float or array-like
        Reliability r_xx of the scale (0 <= r < 1), e.g. Cronbach's alpha or test-retest.
    confidence : float
        0.95 gives the usual z = 1.96.

    Returns
    -------
    float or numpy.ndarray
        z_{1-alpha/2} * S_diff with S_diff = sd * sqrt(2) * sqrt(1 - r_xx).

    Notes
    -----
    SEM = sd sqrt(1 - r); S_diff = sqrt(2 SEM^2) = sd sqrt(2) sqrt(1 - r). A person's change is
    reliable when |change| / S_diff > z_{1-alpha/2} (Jacobson & Truax 1991).

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.

    Examples
    --------
    >>> round(reliable_change_threshold(9, 0.89), 3)
    8.274
    """
    confidence = check_confidence(confidence)
    sd_arr = np.asarray(sd, dtype=float)
    r_arr = np.asarray(reliability, dtype=float)
    if np.any(sd_arr < 0):
        raise InputError("the SD must not be negative", column="sd", value=sd,
                         expected="a positive number")
    if np.any((r_arr < 0) | (r_arr >= 1)):
        raise InputError("the reliability must lie in [0, 1)", column="reliability",
                         value=reliability, expected="a number from 0 up to (not including) 1")
    z = _norm_ppf(1 - (1 - confidence) / 2)
    result = z * sd_arr * np.sqrt(2.0) * np.sqrt(1.0 - r_arr)
    return float(result) if result.ndim == 0 else result


def clinical_cutoffs(scale_info: pd.DataFrame) -> pd.DataFrame:
    """Jacobson-Truax cut-offs a, b and c for each scale with the needed norms.

    Parameters
    ----------
    scale_info : DataFrame
        ``instrument, scale, direction`` and ``func_mean, func_sd, dys_mean, dys_sd``
        (functional and dysfunctional population means and SDs; NaN where unknown).

    Returns
    -------
    DataFrame
        ``instrument, scale, direction, a, b, c, clinical_source``. A cut-off is NaN when a
        norm it needs is missing.

    Notes
    -----
    For scales where higher = worse (direction 'lower'):
    a = M_dys - 2 SD_dys (two SDs beyond the dysfunctional mean, towards health);
    b = M_func + 2 SD_func (two SDs from the functional mean, towards dysfunction);
    c = (SD_dys M_func + SD_func M_dys) / (SD_dys + SD_func) (where the two distributions are
    equally likely). For higher = better the signs in a and b flip (a = M_dys + 2 SD_dys,
    b = M_func - 2 SD_func); c is unchanged.

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.

    Examples
    --------
    >>> info = pd.DataFrame({"instrument": ["phq9"], "scale": ["total"],
    ...     "direction": ["lower"], "func_mean": [5.0], "func_sd": [4.0],
    ...     "dys_mean": [15.0], "dys_sd": [5.0]})
    >>> clinical_cutoffs(info)[["a", "b", "c"]].round(3).to_dict("records")
    [{'a': 5.0, 'b': 13.0, 'c': 9.444}]
    """
    info = _scale_info(scale_info)
    sign = -_better_sign(info["direction"])  # +1 where higher = worse (the JT convention)
    out = info[_KEYS + ["direction"]].copy()
    out["a"] = info["dys_mean"] - sign * 2 * info["dys_sd"]
    out["b"] = info["func_mean"] + sign * 2 * info["func_sd"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["c"] = ((info["dys_sd"] * info["func_mean"] + info["func_sd"] * info["dys_mean"])
                    / (info["dys_sd"] + info["func_sd"]))
    out["clinical_source"] = info["clinical_source"]
    return out


def _per_scale(value, default: pd.Series, default_source: pd.Series, keys: pd.DataFrame,
               name: str, keywords: dict) -> tuple[pd.Series, pd.Series]:
    """Resolve an SD / reliability / MID choice to one value and one source per scale."""
    if isinstance(value, str):
        if value not in keywords:
            raise InputError(f"unknown choice for {name}", column=name, value=value,
                             expected=" or ".join(repr(k) for k in keywords)
                             + " or a number")
        return default, default_source
    if isinstance(value, Mapping):
        index = pd.MultiIndex.from_frame(keys)
        vals = pd.Series([value.get(k, math.nan) for k in index], dtype=float)
        return vals, pd.Series(np.where(vals.notna(), "given", "not given"), dtype=object)
    if value is None:
        return (pd.Series(np.nan, index=keys.index, dtype=float),
                pd.Series("not used", index=keys.index, dtype=object))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a keyword or a number", column=name, value=value,
                         expected=" or ".join(repr(k) for k in keywords) + " or a number")
    return (pd.Series(number, index=keys.index, dtype=float),
            pd.Series("given", index=keys.index, dtype=object))


def reliable_change(scores: pd.DataFrame, scale_info: pd.DataFrame, sd="baseline",
                    reliability="published", mid="published", confidence: float = 0.95,
                    pre=None, post=None, timepoints=None) -> pd.DataFrame:
    """Each person's change judged against the reliable change index and the MID.

    Parameters
    ----------
    scores, scale_info : DataFrame
        As for :func:`paired_change`.
    sd : 'baseline', 'norm', float or mapping
        'baseline' (default): the SD of all baseline scores in the study (everyone with a
        baseline score, including those lost to follow-up); 'norm': ``norm_sd`` from
        ``scale_info``; a number (applied to every scale) or ``{(instrument, scale): sd}``.
    reliability : 'published', float or mapping
        'published' (default): ``reliability`` from ``scale_info``; or a number / mapping.
    mid : 'published', float, mapping or None
        Minimal important difference; 'published' uses ``scale_info.mid``.
    confidence : float
        Sets z in the reliable-change criterion (0.95 -> 1.96).
    pre, post, timepoints
        As for :func:`paired_change`.

    Returns
    -------
    DataFrame
        One row per person with both scores on a scale: ``participant_id, instrument,
        scale, pre, post, change`` (post - pre), ``rci`` = change / S_diff, ``category``
        ('reliable improvement', 'no reliable change', 'reliable deterioration', following
        ``direction``; missing when no SD or reliability is available), ``exceeds_mid``
        (an improvement at least as large as the MID), ``worse_by_mid`` (a deterioration at
        least as large as the MID), ``clinically_significant`` (reliable improvement that
        moved from the dysfunctional to the functional side of cut-off c; missing where no
        functional and dysfunctional norms exist, or the person already started on the
        functional side), and, shown on every row so the choice is never hidden,
        ``sd_used, sd_source, reliability_used, reliability_source, threshold`` (raw change
        needed), ``mid_used, mid_source, cutoff_c, direction, confidence``.

    Notes
    -----
    S_diff = SD sqrt(2) sqrt(1 - r_xx); RC = (x_post - x_pre) / S_diff; reliable when
    |RC| > z_{1-alpha/2} (Jacobson & Truax 1991). The SD and reliability chosen change the
    threshold a lot, which is why both are reported with their source.

    References
    ----------
    Jacobson NS, Truax P (1991). J Consult Clin Psychol 59:12-19.
    Maheswaran H et al. (2012). Health Qual Life Outcomes 10:156 (WEMWBS MID).

    Examples
    --------
    >>> scores = pd.DataFrame({"participant_id": ["A", "B", "A", "B"],
    ...     "timepoint": ["baseline", "baseline", "followup", "followup"],
    ...     "instrument": "wemwbs", "scale": "total", "score": [40., 50., 52., 49.]})
    >>> info = pd.DataFrame({"instrument": ["wemwbs"], "scale": ["total"],
    ...     "direction": ["higher"], "reliability": [0.89], "mid": [3.0]})
    >>> rc = reliable_change(scores, info, sd=9, timepoints=["baseline", "followup"])
    >>> rc[["participant_id", "change", "category", "exceeds_mid"]].to_dict("records")
    [{'participant_id': 'A', 'change': 12.0, 'category': 'reliable improvement', 'exceeds_mid': True}, {'participant_id': 'B', 'change': -1.0, 'category': 'no reliable change', 'exceeds_mid': False}]
    """
    confidence = check_confidence(confidence)
    pre_tp, post_tp = _resolve_pre_post(scores, timepoints, pre, post)
    pairs = _pair_table(scores, pre_tp, post_tp)
    info = _scale_info(scale_info, pairs)
    keys = info[_KEYS]
    baseline = pairs.groupby(_KEYS)["pre"].agg(["std", "count"]).reindex(
        pd.MultiIndex.from_frame(keys))
    base_sd = pd.Series(baseline["std"].to_numpy(), dtype=float)
    base_src = pd.Series([f"study baseline SD (n={int(n)})" for n in baseline["count"]
                          .fillna(0)], dtype=object)
    if isinstance(sd, str) and sd == "norm":
        sd_val = info["norm_sd"]
        sd_src = info["norm_source"].astype(object).where(info["norm_source"].notna(),
                                                         "published norm (source not given)")
    else:
        sd_val, sd_src = _per_scale(sd, base_sd, base_src, keys, "sd", {"baseline": 0,
                                                                        "norm": 0})
    rel_src = info["reliability_source"].astype(object).where(
        info["reliability_source"].notna(), "published (source not given)")
    rel_src = rel_src.where(info["reliability"].notna(), "not available")
    rel_val, rel_src = _per_scale(reliability, info["reliability"], rel_src, keys,
                                  "reliability", {"published": 0})
    mid_src = info["mid_source"].astype(object).where(info["mid_source"].notna(),
                                                      "published (source not given)")
    mid_src = mid_src.where(info["mid"].notna(), "not available")
    mid_val, mid_src = _per_scale(mid, info["mid"], mid_src, keys, "mid", {"published": 0})

    # Validate given values; published values outside the range are also refused.
    for name, vals, lo_ok in (("sd", sd_val, lambda v: v > 0),
                              ("reliability", rel_val, lambda v: (v >= 0) & (v < 1)),
                              ("mid", mid_val, lambda v: v >= 0)):
        bad = vals.notna() & ~lo_ok(vals)
        if bad.any():
            i = bad.idxmax()
            raise InputError(f"{name} for scale {keys.at[i, 'instrument']}/"
                             f"{keys.at[i, 'scale']} is out of range", column=name,
                             value=vals[i], expected={"sd": "a positive number",
                                                      "reliability": "0 <= r < 1",
                                                      "mid": "a number >= 0"}[name])
    params = keys.copy()
    params["sd_used"] = sd_val.to_numpy(float)
    params["sd_source"] = sd_src.to_numpy(object)
    params["reliability_used"] = rel_val.to_numpy(float)
    params["reliability_source"] = rel_src.to_numpy(object)
    s_diff = params["sd_used"] * np.sqrt(2.0) * np.sqrt(1.0 - params["reliability_used"])
    z = _norm_ppf(1 - (1 - confidence) / 2)
    params["threshold"] = z * s_diff
    params["s_diff"] = s_diff
    params["mid_used"] = mid_val.to_numpy(float)
    params["mid_source"] = mid_src.to_numpy(object)
    params["cutoff_c"] = clinical_cutoffs(info)["c"].to_numpy(float)
    params["direction"] = info["direction"].to_numpy(object)

    rc = pairs[pairs["pre"].notna() & pairs["post"].notna()].merge(params, on=_KEYS,
                                                                   how="left")
    rc["change"] = rc["post"] - rc["pre"]
    with np.errstate(divide="ignore", invalid="ignore"):
        rc["rci"] = rc["change"] / rc["s_diff"]
    sign = _better_sign(rc["direction"])
    better = rc["rci"].to_numpy() * sign
    category = np.select([better > z, better < -z], ["reliable improvement",
                                                     "reliable deterioration"],
                         "no reliable change").astype(object)
    category[np.isnan(better)] = None
    rc["category"] = category
    gain = rc["change"].to_numpy() * sign
    has_mid = rc["mid_used"].notna().to_numpy()
    rc["exceeds_mid"] = pd.array(np.where(has_mid, gain >= rc["mid_used"], False),
                                 dtype="boolean")
    rc["worse_by_mid"] = pd.array(np.where(has_mid, -gain >= rc["mid_used"], False),
                                  dtype="boolean")
    rc.loc[~has_mid, ["exceeds_mid", "worse_by_mid"]] = pd.NA
    # Functional side of c: above it when higher is better, below it when lower is better.
    c = rc["cutoff_c"].to_numpy()
    pre_functional = (rc["pre"].to_numpy() - c) * sign > 0
    post_functional = (rc["post"].to_numpy() - c) * sign > 0
    clin = pd.array((category == "reliable improvement") & post_functional, dtype="boolean")
    clin[np.isnan(c) | pre_functional | pd.isna(category)] = pd.NA
    rc["clinically_significant"] = clin
    rc["confidence"] = confidence
    columns = ["participant_id", "instrument", "scale", "pre", "post", "change", "rci",
               "category", "exceeds_mid", "worse_by_mid", "clinically_significant", "sd_used",
               "sd_source", "reliability_used", "reliability_source", "threshold", "mid_used",
               "mid_source", "cutoff_c", "direction", "confidence"]
    return rc[columns].sort_values(_KEYS + ["participant_id"], kind="stable") \
                      .reset_index(drop=True)


def reliable_change_summary(rc: pd.DataFrame, participants=None, by=None,
                            min_cell_size: int = 5) -> pd.DataFrame:
    """Counts and percentages of reliable change per scale (and group).

    Parameters
    ----------
    rc : DataFrame
        Output of :func:`reliable_change`.
    participants : DataFrame, optional
        Needed when ``by`` names a participants column not already in ``rc``.
    by : str, optional
        Group column (e.g. 'site').
    min_cell_size : int
        ``small_group`` flags groups with fewer people (nothing is withheld here: counts are
        suppressed by the reporting layer).

    Returns
    -------
    DataFrame
        ``instrument, scale, [by], n`` (people with both scores), for each category
        ``n_reliable_improvement, pct_reliable_improvement, n_no_reliable_change,
        pct_no_reliable_change, n_reliable_deterioration, pct_reliable_deterioration``,
        ``n_not_classified`` (no SD or reliability), ``n_exceeds_mid, pct_exceeds_mid,
        n_worse_by_mid, pct_worse_by_mid``, ``n_clinical_eligible`` (started on the
        dysfunctional side of c), ``n_clinically_significant, pct_clinically_significant``
        (of the eligible), then the settings ``sd_used, sd_source, reliability_used,
        reliability_source, threshold, mid_used, mid_source, cutoff_c, confidence`` and
        ``small_group``. Percentages are of ``n`` (0-100).

    Examples
    --------
    >>> rc = pd.DataFrame({"participant_id": ["A", "B"], "instrument": "w", "scale": "t",
    ...     "category": ["reliable improvement", "no reliable change"],
    ...     "exceeds_mid": pd.array([True, False], dtype="boolean"),
    ...     "worse_by_mid": pd.array([False, False], dtype="boolean"),
    ...     "clinically_significant": pd.array([pd.NA, pd.NA], dtype="boolean"),
    ...     "sd_used": 9.0, "sd_source": "given", "reliability_used": 0.89,
    ...     "reliability_source": "given", "threshold": 8.27, "mid_used": 3.0,
    ...     "mid_source": "given", "cutoff_c": float("nan"), "confidence": 0.95})
    >>> s = reliable_change_summary(rc, min_cell_size=1)
    >>> s[["n", "n_reliable_improvement", "pct_reliable_improvement"]].to_dict("records")
    [{'n': 2, 'n_reliable_improvement': 1, 'pct_reliable_improvement': 50.0}]
    """
    min_cell_size = check_min_cell(min_cell_size)
    needed = ["participant_id", "instrument", "scale", "category", "exceeds_mid",
              "worse_by_mid", "clinically_significant", "sd_used", "sd_source",
              "reliability_used", "reliability_source", "threshold", "mid_used", "mid_source",
              "cutoff_c", "confidence"]
    _require_columns(rc, needed, "reliable change table")
    data = rc.copy()
    for k in ("participant_id", "instrument", "scale"):
        data[k] = data[k].astype(str)
    if by is not None and by not in data.columns:
        data = _attach_group(data, participants, by)
    keys = _KEYS + ([by] if by else [])
    cats = ["reliable improvement", "no reliable change", "reliable deterioration"]
    flags = pd.DataFrame({f"n_{c.replace(' ', '_')}": (data["category"] == c).astype(int)
                          for c in cats})
    flags["n_not_classified"] = data["category"].isna().astype(int)
    flags["n_exceeds_mid"] = data["exceeds_mid"].fillna(False).astype(int)
    flags["n_worse_by_mid"] = data["worse_by_mid"].fillna(False).astype(int)
    flags["n_clinical_eligible"] = data["clinically_significant"].notna().astype(int)
    flags["n_clinically_significant"] = data["clinically_significant"].fillna(False).astype(int)
    flags[keys] = data[keys]
    grouped = flags.groupby(keys, sort=True)
    counts = grouped.sum()
    counts.insert(0, "n", grouped.size())
    n = counts["n"].astype(float)
    out = counts[["n"]].copy()
    for c in cats:
        col = f"n_{c.replace(' ', '_')}"
        out[col] = counts[col]
        out["pct" + col[1:]] = 100 * counts[col] / n
    out["n_not_classified"] = counts["n_not_classified"]
    for col in ("n_exceeds_mid", "n_worse_by_mid"):
        out[col] = counts[col]
        out["pct" + col[1:]] = 100 * counts[col] / n
    # MID percentages are meaningless where no MID was used.
    no_mid = data.groupby(keys, sort=True)["mid_used"].first().isna()
    out.loc[no_mid, ["pct_exceeds_mid", "pct_worse_by_mid"]] = np.nan
    out["n_clinical_eligible"] = counts["n_clinical_eligible"]
    out["n_clinically_significant"] = counts["n_clinically_significant"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct_clinically_significant"] = (100 * counts["n_clinically_significant"]
                                             / counts["n_clinical_eligible"].replace(0, np.nan))
    settings = data.groupby(keys, sort=True)[["sd_used", "sd_source", "reliability_used",
                                              "reliability_source", "threshold", "mid_used",
                                              "mid_source", "cutoff_c", "confidence"]].first()
    out = out.join(settings)
    out["small_group"] = out["n"] < min_cell_size
    return out.reset_index()


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
        ``small_group``, [``scale_name, direction``].

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
            half = _t_ppf(1 - (1 - confidence) / 2, dof) * math.sqrt(
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
# service use, MYCaW, GAS
# --------------------------------------------------------------------------------------------
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
    wide = su.pivot(index=["service", "participant_id"], columns="period", values="count") \
             .reindex(columns=["before", "after"]).reset_index()
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
            tcrit = _t_ppf(1 - (1 - confidence) / 2, n - 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (mean - 50) / se if se > 0 else math.nan
            w, wp = _wilcoxon(x - 50)
            stat.update(mean=mean, sd=sd, ci_low=mean - tcrit * se, ci_high=mean + tcrit * se,
                        median=float(np.median(x)), difference_from_50=mean - 50, t=t,
                        df=n - 1.0, p=2 * _t_sf(abs(t), n - 1) if np.isfinite(t)
                        else math.nan, wilcoxon_W=w, wilcoxon_p=wp)
        row.update(stat)
        row["small_group"] = small
        rows.append(row)
    return pd.DataFrame(rows, columns=["instrument", "scale", "timepoint", "n", "mean", "sd",
                                       "ci_low", "ci_high", "median", "difference_from_50",
                                       "t", "df", "p", "wilcoxon_W", "wilcoxon_p",
                                       "small_group"])


# --------------------------------------------------------------------------------------------
# words
# --------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    return f"{x:.1f}".replace("-", "\u2212")


def describe_change(row, by: str | None = None) -> str:
    """One plain-English sentence about a :func:`paired_change` row that never overstates.

    Parameters
    ----------
    row : Mapping or pandas Series
        A row of :func:`paired_change` output.
    by : str, optional
        The group column of that table (e.g. 'site'); its value starts the sentence.

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
