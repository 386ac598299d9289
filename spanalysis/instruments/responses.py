"""Reading questionnaire responses for scoring: the wide table, each item's column as numbers,
and the checks that every answer is a number within its item's range.

Every message names the file when the caller says which file the table came from
(``source=``), and the participant and time point of the offending answer.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.instruments.model import Instrument


def _to_wide(responses: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Return the wide table; a long table (participant_id, timepoint, item, value) is pivoted."""
    if not isinstance(responses, pd.DataFrame):
        raise InputError("responses must be a table (pandas DataFrame)",
                         value=type(responses).__name__, expected="a DataFrame")
    for col in ("participant_id", "timepoint"):
        if col not in responses.columns:
            raise InputError(f"responses have no '{col}' column", file=source,
                             column=col, expected="columns participant_id, timepoint, then "
                             "item columns (wide) or item, value (long)")
    if {"item", "value"} <= set(responses.columns):
        return _pivot_long(responses, source)
    return responses


def _pivot_long(long: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """A long table (one row per participant, time point and item) as a wide one."""
    keys = ["participant_id", "timepoint", "item"]
    dup = long.duplicated(keys, keep="first")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        rec = long.iloc[pos]
        raise InputError("the same item appears twice for one participant and time point",
                         file=source, row=pos + 2, column="item", value=rec["item"],
                         expected=f"one row per participant, time point and item "
                         f"(participant {rec['participant_id']}, time point "
                         f"{rec['timepoint']})")
    values = _numeric(long["value"], "value", source)
    frame = long[["participant_id", "timepoint", "item"]].assign(value=values)
    wide = frame.pivot(index=["participant_id", "timepoint"], columns="item", values="value")
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def _numeric(col: pd.Series, name: str, source: str | None = None) -> np.ndarray:
    """Column as a numeric numpy array (NaN for blanks; an integer column stays integer);
    a value that is not a number is an error, a blank text is a missing answer."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise InputError("responses must be numbers", file=source, column=name,
                         value=str(dtype), expected="numbers (blank = missing)")
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
        return col.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(col, errors="coerce")
    bad = conv.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        text = col[bad].astype(str).str.strip()
        really = text != ""
        if really.any():
            pos = int(np.flatnonzero(bad)[np.flatnonzero(really.to_numpy())[0]])
            raise InputError("response is not a number", file=source, row=pos + 2,
                             column=name, value=col.iloc[pos],
                             expected="a number (blank = missing)")
    return conv.to_numpy(dtype=float, na_value=np.nan)


def _source_columns(wide: pd.DataFrame, inst: Instrument,
                    source: str | None = None) -> list[str | None]:
    """The column read for each item (None: an optional item whose column is absent).

    SWEMWBS items are read from the WEMWBS columns they come from when the responses have
    no column of SWEMWBS's own (``derived_from`` in the definition)."""
    cols = set(wide.columns)
    own = inst.item_ids
    if inst.derived_from and not any(i in cols for i in own):
        derived = [inst.derived_from[i] for i in own]
        if all(c in cols for c in derived):
            return derived
    out: list[str | None] = []
    missing = []
    for it in inst.items:
        if it.id in cols:
            out.append(it.id)
        elif it.optional:
            out.append(None)
        else:
            missing.append(it.id)
            out.append(None)
    if missing:
        alt = ""
        if inst.derived_from:
            alt = (" (or, to derive them, all of: "
                   + ", ".join(inst.derived_from[i] for i in own) + ")")
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise InputError(f"the responses have no column for {len(missing)} item(s) of "
                         f"'{inst.id}': {shown}{alt}", file=source, column=missing[0],
                         expected=f"columns {', '.join(own)}")
    return out


def check_item_columns(columns, inst: Instrument, source: str | None = None) -> None:
    """An :class:`~spanalysis.errors.InputError` naming the items of ``inst`` that have no
    column among ``columns`` (SWEMWBS may come from the WEMWBS columns), as scoring would
    raise; nothing when every item can be read. The loader calls it so that ``validate``
    finds what scoring needs."""
    _source_columns(pd.DataFrame(columns=list(columns)), inst, source)


def _item_columns(wide: pd.DataFrame, inst: Instrument,
                  source: str | None = None) -> tuple[list[str | None], list]:
    """Each item's column name and its answers as numbers (None for an absent optional
    item), read and checked to be numbers, but not yet checked against the item ranges."""
    cols = _source_columns(wide, inst, source)
    return cols, [None if c is None else _numeric(wide[c], c, source) for c in cols]


def _answer_matrix(wide: pd.DataFrame, inst: Instrument, cols: list[str | None], arrays: list,
                   source: str | None = None) -> np.ndarray:
    """The (rows x items) matrix of answers as recorded (float, NaN = not answered, one
    column per item, column-major), after checking every answer against its item: within
    the item's range, and a whole number where the item needs one. The first offending
    answer (earliest row, then earliest item) is named."""
    X = np.empty((len(wide), len(inst.items)), order="F")
    for j, arr in enumerate(arrays):
        X[:, j] = np.nan if arr is None else arr
    lo = np.array([it.min for it in inst.items])
    hi = np.array([it.max for it in inst.items])
    whole = np.array([it.integer for it in inst.items], dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = (X < lo) | (X > hi)
        if whole.any():
            sub = X[:, whole]
            bad[:, whole] |= (sub != np.rint(sub)) & ~np.isnan(sub)
    if bad.any():
        r, j = (int(v[0]) for v in np.nonzero(bad))
        _range_error(wide, inst, cols, r, j, X[r, j], source)
    return X


def _range_error(wide: pd.DataFrame, inst: Instrument, cols, row: int, j: int, value: float,
                 source: str | None):
    it = inst.items[j]
    rng = f"{_fmt(it.min)} to {_fmt(it.max)}"
    if it.integer:
        rng = "a whole number from " + rng
    rec = wide.iloc[row]
    raise InputError(f"response outside the range of item '{it.id}' ({inst.id}) for "
                     f"participant {rec['participant_id']} at {rec['timepoint']}",
                     file=source, column=cols[j], value=_val(value), expected=rng)


def _reverse(X: np.ndarray, inst: Instrument) -> np.ndarray:
    """Reverse-score reverse-keyed items (``min + max - value``); X itself is not changed."""
    rev = [j for j, it in enumerate(inst.items) if it.reverse]
    if not rev:
        return X
    out = X.copy()
    for j in rev:
        it = inst.items[j]
        out[:, j] = it.min + it.max - X[:, j]
    return out


def _codes(series: pd.Series, any_width: bool = False) -> tuple[np.ndarray, pd.Index]:
    """Each row's code (int32; with ``any_width``, a categorical's own codes) and the
    categories (a categorical's own, else the values in order of first appearance); a
    blank row is an error."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.array.codes
        categories = series.cat.categories
    else:
        codes, uniques = pd.factorize(series, sort=False)
        categories = pd.Index(uniques)
    if (codes < 0).any():
        pos = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"blank '{series.name}'", row=pos + 2, column=str(series.name),
                         expected="a value in every row")
    return (codes if any_width else codes.astype(np.int32)), categories


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _val(v: float) -> int | float:
    """A value as shown in a message: 6 rather than 6.0 or '6'."""
    return int(v) if float(v).is_integer() else float(v)
