"""Scores at two time points, paired by person: the shared input checks of the change
statistics, and the table of each person's ``pre`` and ``post`` score on each scale.

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
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from spanalysis.errors import InputError

_KEYS = ["instrument", "scale"]
_SCORE_COLUMNS = ["participant_id", "timepoint", "instrument", "scale", "score"]
_INFO_OPTIONAL = ["scale_name", "min", "max", "reliability", "reliability_source", "mid",
                  "mid_source", "norm_mean", "norm_sd", "norm_source", "func_mean", "func_sd",
                  "dys_mean", "dys_sd", "clinical_source"]
_NOT_RECORDED = "(not recorded)"

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


def _given(value) -> bool:
    """A pre / post value was chosen (None and "" mean the default)."""
    return value is not None and not (isinstance(value, str) and value == "")


def check_pair(timepoints, pre=None, post=None) -> tuple[str, str]:
    """``(pre, post)``: the two time points change is measured between, checked against the
    study's ordered ``timepoints``. None or ``""`` is the default: the first time point for
    ``pre``, the last for ``post``.

    An InputError naming the value and the time points in order: a value that is not one of
    ``timepoints``; ``pre`` not before ``post`` (the same, or later); fewer than two time
    points.

    >>> check_pair(["baseline", "followup", "six_months"])
    ('baseline', 'six_months')
    >>> check_pair(["baseline", "followup", "six_months"], post="followup")
    ('baseline', 'followup')
    >>> check_pair(["baseline", "followup"], pre="followup", post="baseline")
    Traceback (most recent call last):
    ...
    spanalysis.errors.InputError: column 'pre': pre must come before post (found 'followup'; expected a time point before 'baseline', in the study's order: baseline, followup)
    """
    order = [str(t) for t in timepoints]
    listed = ", ".join(order) or "(none)"
    for name, value in (("pre", pre), ("post", post)):
        if _given(value) and str(value) not in order:
            raise InputError(f"the {name} time point is not one of the study's time points",
                             column=name, value=value,
                             expected=f"one of {listed} (in order; the first is the baseline)")
    if len(order) < 2:
        raise InputError("change needs at least two time points", column="timepoints",
                         value=listed, expected="a baseline and a later time point")
    pre = str(pre) if _given(pre) else order[0]
    post = str(post) if _given(post) else order[-1]
    if pre == post:
        raise InputError("pre and post are the same time point", column="post", value=post,
                         expected=f"two different time points, pre first, of: {listed}")
    if order.index(pre) > order.index(post):
        raise InputError("pre must come before post", column="pre", value=pre,
                         expected=f"a time point before '{post}', in the study's order: "
                                  f"{listed}")
    return pre, post


def _resolve_pre_post(scores, timepoints, pre, post) -> tuple[str, str]:
    order = _timepoint_order(scores, timepoints)
    column = scores["timepoint"]
    if order is not None and isinstance(column.dtype, pd.CategoricalDtype):
        # only categories outside the study's order can be unknown: look for those alone
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
        allowed = present
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
        allowed = list(order)
    for name, tp in (("pre", pre), ("post", post)):
        if str(tp) not in allowed:
            raise InputError(f"the {name} time point is not in the data", file="scores",
                             column="timepoint", value=tp,
                             expected="one of " + ", ".join(
                                 sorted(allowed) if order is None else allowed))
    if str(pre) == str(post):
        raise InputError("pre and post are the same time point", column="timepoint",
                         value=pre, expected="two different time points")
    if order is not None and order.index(str(pre)) > order.index(str(post)):
        raise InputError("pre must come before post", column="timepoint", value=pre,
                         expected=f"a time point before '{post}', in the order "
                                  + ", ".join(order))
    return str(pre), str(post)


def _tidy_scores(scores: pd.DataFrame) -> pd.DataFrame:
    _require_columns(scores, _SCORE_COLUMNS, "scores")
    s = scores[_SCORE_COLUMNS].copy()
    for c in ("participant_id", "timepoint", "instrument", "scale"):
        s[c] = s[c].astype(str)  # categoricals -> plain strings so merges and pivots agree
    s["score"] = _numeric(scores, "score", "scores")
    return s


def _codes(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for missing) and the text of each category (a categorical's own
    categories, else the values in order of first appearance)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        if not pd.api.types.is_string_dtype(categories.dtype) or \
                pd.api.types.is_object_dtype(categories.dtype):
            categories = categories.astype(str)
        return column.array.codes, categories
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return codes, pd.Index(uniques).astype(str)



def _side_of(timepoints, pre: str, post: str) -> np.ndarray:
    """Per time-point code: 0 for ``pre``, 1 for ``post``, -1 otherwise; one more entry,
    -1, so that code -1 (missing) finds it."""
    return np.array([0 if str(c) == pre else 1 if str(c) == post else -1 for c in timepoints]
                    + [-1], dtype=np.int8)



def _pair_table(scores: pd.DataFrame, pre: str, post: str,
                instruments: list[str] | None = None) -> pd.DataFrame:
    """One row per (instrument, scale, participant) with ``pre`` and ``post`` (NaN if absent).

    ``instrument``, ``scale`` and ``participant_id`` come back as categoricals (the
    categories of the score table's columns), rows in the order of their categories.
    Scores at other time points are left out; ``instruments``: only these instruments'
    scales.
    """
    _require_columns(scores, _SCORE_COLUMNS, "scores")
    score = _numeric(scores, "score", "scores").to_numpy(dtype=float)
    t_code, t_cats = _codes(scores["timepoint"])
    side = _side_of(t_cats, pre, post)[t_code]
    (i_code, i_cats), (s_code, s_cats), (p_code, p_cats) = (
        _codes(scores[c]) for c in ("instrument", "scale", "participant_id"))
    at = side >= 0   # scores at other time points are left out
    if (p_code[at] < 0).any():
        raise InputError("a score has no participant_id", file="scores", column="participant_id",
                         expected="a participant id on every row")
    # each (instrument, scale) present gets a number ``c`` in category order, each
    # (instrument, scale, participant) a cell c * n_p + participant, each cell two slots (pre,
    # post): counting the scores per slot (np.bincount) finds repeats and the cells present,
    # in the order of the categories, without sorting
    n_s, n_p = len(s_cats), len(p_cats)
    combo = i_code[at].astype(np.int64) * n_s + s_code[at]
    present = np.bincount(combo, minlength=len(i_cats) * n_s) > 0
    combos = np.flatnonzero(present)
    slot = ((np.cumsum(present) - 1)[combo] * n_p + p_code[at]) * 2 + side[at]
    counts = np.bincount(slot, minlength=2 * len(combos) * n_p)
    if counts.max(initial=0) > 1:
        first = np.flatnonzero(at)[np.argmax(counts[slot] > 1)]
        names = [i_cats[i_code[first]], s_cats[s_code[first]], p_cats[p_code[first]],
                 pre if side[first] == 0 else post]
        raise InputError("more than one score for the same participant, time point, "
                         "instrument and scale", file="scores", value=" / ".join(map(str, names)),
                         expected="one score per participant, time point, instrument and scale")
    dense = np.full(len(counts), np.nan)
    dense[slot] = score[at]
    occupied = np.flatnonzero(counts[0::2] + counts[1::2])
    values = dense.reshape(-1, 2)
    if len(occupied) < len(values):   # not everyone has every scale
        values = values[occupied]
    combo, participant = combos[occupied // n_p], occupied % n_p
    if instruments is not None:
        wanted = np.flatnonzero(pd.Index(i_cats).isin([str(i) for i in instruments]))
        keep = np.isin(combo // n_s, wanted)
        combo, participant, values = combo[keep], participant[keep], values[keep]
    return pd.DataFrame({
        "instrument": pd.Categorical.from_codes(combo // n_s, categories=i_cats, validate=False),
        "scale": pd.Categorical.from_codes(combo % n_s, categories=s_cats, validate=False),
        "participant_id": pd.Categorical.from_codes(participant, categories=p_cats,
                                                    validate=False),
        "pre": values[:, 0], "post": values[:, 1]})


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
    """The distinct (instrument, scale) rows of ``frame``, as text."""
    inst, scale = frame["instrument"], frame["scale"]
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in (inst, scale)):
        scales = frame.groupby(_KEYS, observed=True, sort=False).size().index
        return scales.to_frame(index=False).astype(str)
    # categoricals (a pair table's): the pairs of codes present, counted
    i_code, s_code = inst.array.codes, scale.array.codes
    n_s = len(scale.cat.categories)
    known = (i_code >= 0) & (s_code >= 0)
    combo = i_code[known].astype(np.int64) * n_s + s_code[known]
    present = np.flatnonzero(np.bincount(combo, minlength=len(inst.cat.categories) * n_s))
    return pd.DataFrame({"instrument": inst.cat.categories[present // n_s].astype(str),
                         "scale": scale.cat.categories[present % n_s].astype(str)})


def _better_sign(direction) -> np.ndarray:
    """+1 where higher is better, -1 where lower is better."""
    return np.where(np.asarray(direction, dtype=object) == "lower", -1.0, 1.0)
