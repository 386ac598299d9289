"""Scoring questionnaire responses into tidy score tables.

Everything here is vectorised over participants: each scale is computed with numpy on the
(participants x items) matrix, never with a Python loop over rows.

The tidy score table has exactly the columns ``participant_id, timepoint, instrument, scale,
score, items_answered, items_expected, status`` (see :func:`score`). String columns are
categoricals, to keep a million-participant table small.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from spanalysis._memory import with_small_pages
from spanalysis._textcodes import STR, all_different, encode_numbered, first_rows
from spanalysis.errors import InputError
from spanalysis.instruments.model import STATUSES, Instrument, Scale, _as_dict, load

__all__ = ["score", "score_all", "gas_tscore", "assign_bands", "score_service_use",
           "SCORE_COLUMNS"]

SCORE_COLUMNS = ["participant_id", "timepoint", "instrument", "scale", "score",
                 "items_answered", "items_expected", "status"]

_ST = {name: code for code, name in enumerate(STATUSES)}
_STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------
def _file(df: pd.DataFrame) -> str | None:
    # The data loader may record where the table came from; messages then name the file.
    return df.attrs.get("file") or df.attrs.get("path")


def _to_wide(responses: pd.DataFrame) -> pd.DataFrame:
    """Return the wide table; a long table (participant_id, timepoint, item, value) is pivoted."""
    if not isinstance(responses, pd.DataFrame):
        raise InputError("responses must be a table (pandas DataFrame)",
                         value=type(responses).__name__, expected="a DataFrame")
    for col in ("participant_id", "timepoint"):
        if col not in responses.columns:
            raise InputError(f"responses have no '{col}' column", file=_file(responses),
                             column=col, expected="columns participant_id, timepoint, then "
                             "item columns (wide) or item, value (long)")
    if {"item", "value"} <= set(responses.columns):
        return _pivot_long(responses)
    return responses


def _pivot_long(long: pd.DataFrame) -> pd.DataFrame:
    keys = ["participant_id", "timepoint", "item"]
    dup = long.duplicated(keys, keep="first")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        rec = long.iloc[pos]
        raise InputError("the same item appears twice for one participant and time point",
                         file=_file(long), row=pos + 2, column="item", value=rec["item"],
                         expected=f"one row per participant, time point and item "
                         f"(participant {rec['participant_id']}, time point "
                         f"{rec['timepoint']})")
    values = _numeric(long["value"], "value", long)
    frame = long[["participant_id", "timepoint", "item"]].assign(value=values)
    wide = frame.pivot(index=["participant_id", "timepoint"], columns="item", values="value")
    wide.columns = [str(c) for c in wide.columns]
    wide = wide.reset_index()
    wide.attrs = dict(long.attrs)
    return wide


def _numeric(col: pd.Series, name: str, df: pd.DataFrame) -> np.ndarray:
    """Column as a numeric numpy array, NaN for blanks; a non-number is an error.

    A float64 column is returned without copying; an integer column (no blanks) is returned
    as it is and converted chunk by chunk where it is used.
    """
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise InputError("responses must be numbers", file=_file(df), column=name,
                         value=str(dtype), expected="numbers (blank = missing)")
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
        return col.to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    conv = pd.to_numeric(col, errors="coerce")
    bad = conv.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        # Blank strings are missing answers, not errors.
        text = col[bad].astype(str).str.strip()
        really = text != ""
        if really.any():
            pos = int(np.flatnonzero(bad)[np.flatnonzero(really.to_numpy())[0]])
            raise InputError("response is not a number", file=_file(df), row=pos + 2,
                             column=name, value=col.iloc[pos],
                             expected="a number (blank = missing)")
    return conv.to_numpy(dtype=float, na_value=np.nan)


def _source_columns(wide: pd.DataFrame, inst: Instrument) -> list[str | None]:
    """The column read for each item (None: an optional item whose column is absent)."""
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
                         f"'{inst.id}': {shown}{alt}", file=_file(wide), column=missing[0],
                         expected=f"columns {', '.join(own)}")
    return out


class _Plan:
    """One instrument prepared for scoring: its source arrays and per-item metadata."""

    def __init__(self, wide: pd.DataFrame, inst: Instrument, checked: dict | None = None):
        """``checked``: columns whose every answer is already known to be valid, each with
        the rule it was checked against, ``(min, max, whole numbers only)`` (the study
        loader's checks, see :attr:`spanalysis.study.Study.scores`). A column is not screened
        again when that rule is at least as strict as the item's."""
        self.inst = inst
        self.wide = wide
        self.cols = _source_columns(wide, inst)
        self.arrays = [None if c is None else _numeric(wide[c], c, wide) for c in self.cols]
        items = inst.items
        self.lo = np.array([it.min for it in items])
        self.hi = np.array([it.max for it in items])
        checked = checked or {}
        self.screened = [c in checked and checked[c][0] >= it.min and checked[c][1] <= it.max
                         and (checked[c][2] or not it.integer)
                         for c, it in zip(self.cols, items)]
        # Whole-number check only where the item needs it and the column can hold fractions.
        self.int_check = np.array([it.integer and a is not None and a.dtype.kind == "f"
                                   for it, a in zip(items, self.arrays)])
        self.index = {it.id: j for j, it in enumerate(items)}
        self.scales = _scorable(inst)
        self._offset = 0   # first row of the chunk being scored (for messages)
        self._rule_tables: dict = {}
        self._scratch1 = np.empty(0)   # reused by the whole-number test
        self._reverse_set = {j for j, it in enumerate(items) if it.reverse}
        # Per scale: item positions, whether they are all the items in order, which are
        # optional, how many are required; lookup tables as arrays.
        self.meta = {}
        self.tables = {}
        for sc in self.scales:
            idx = [self.index[i] for i in sc.items]
            optional = np.array([items[j].optional for j in idx])
            self.meta[sc.id] = (idx, idx == list(range(len(items))), optional,
                                int((~optional).sum()))
            if sc.method == "lookup":
                self.tables[sc.id] = np.array([p[1] for p in sc.lookup])

    def chunk(self, start: int, stop: int, buf: np.ndarray) -> np.ndarray:
        """Rows start:stop as a validated (rows x items) float matrix, answers as recorded."""
        X = self._gather(start, stop, buf[: stop - start])
        if not all(self._passes(j, X[:, j]) for j in range(len(self.arrays))):
            self._first_error(start, X)
        return X

    def prepare(self, start: int, stop: int, missing_buf: np.ndarray,
                zero_buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows start:stop checked, as what the scales need: ``missing`` (blank answers) and
        ``Xz`` (answers after reverse scoring, blanks as 0).

        The work is done column by column straight from the source columns: each column's
        slice stays in cache while it is checked and converted, and no (rows x items)
        matrix of the answers is assembled.
        """
        rows = stop - start
        missing, Xz = missing_buf[:rows], zero_buf[:rows]
        ok = True
        for j, arr in enumerate(self.arrays):
            if arr is None:  # an optional item without a column: never answered
                missing[:, j] = True
                Xz[:, j] = 0.0
                continue
            col = arr[start:stop]
            if not self.screened[j]:
                ok = self._passes(j, col) and ok
            out = Xz[:, j]
            if j in self._reverse_set:
                np.subtract(self.lo[j] + self.hi[j], col, out=out)
                source = out
            else:
                source = col
            np.isnan(source, out=missing[:, j])
            if self.lo[j] >= 0:  # fmax skips NaN: a blank becomes 0, an answer (>= 0) stays
                np.fmax(source, 0.0, out=out)
            else:  # answers may be negative (GAS levels): copy, then blanks to 0
                if source is not out:
                    np.copyto(out, source)
                np.copyto(out, 0.0, where=missing[:, j])
        if not ok:  # name the first offending cell, row first, as chunk() does
            X = np.empty((rows, len(self.arrays)), order="F")
            self._first_error(start, self._gather(start, stop, X))
        return missing, Xz

    def _gather(self, start: int, stop: int, X: np.ndarray) -> np.ndarray:
        """Rows start:stop of every item column into X (rows x items), answers as recorded."""
        for j, arr in enumerate(self.arrays):
            X[:, j] = np.nan if arr is None else arr[start:stop]
        return X

    def answers(self, j: int, start: int, stop: int) -> np.ndarray:
        """Item j's answers on rows start:stop after reverse scoring (float, NaN = blank)."""
        arr = self.arrays[j]
        if arr is None:
            return np.full(stop - start, np.nan)
        col = arr[start:stop]
        if j in self._reverse_set:
            return (self.lo[j] + self.hi[j]) - col.astype(float)
        return col.astype(float, copy=False)

    def raw(self, j: int, start: int, stop: int) -> np.ndarray:
        """Item j's answers on rows start:stop as recorded (NaN = blank)."""
        arr = self.arrays[j]
        return np.full(stop - start, np.nan) if arr is None else arr[start:stop]

    def _passes(self, j: int, col: np.ndarray) -> bool:
        """Fast screen of one column slice: NaN-skipping reductions, no row-sized temporary
        (the whole-number test reuses a scratch buffer). Only a failing chunk is searched."""
        if not len(col):
            return True
        if np.fmin.reduce(col) < self.lo[j] or np.fmax.reduce(col) > self.hi[j]:
            return False
        if self.int_check[j]:
            if len(self._scratch1) < len(col):
                self._scratch1 = np.empty(len(col))
            frac = np.floor(col, out=self._scratch1[: len(col)])
            np.subtract(col, frac, out=frac)
            if np.fmax.reduce(frac) > 0:
                return False
        return True

    def _first_error(self, start: int, X: np.ndarray):
        """Raise for the first offending cell of the chunk X (row first, then item)."""
        with np.errstate(invalid="ignore"):
            bad = (X < self.lo) | (X > self.hi)
            sub = X[:, self.int_check]
            bad[:, self.int_check] |= (sub != np.rint(sub)) & ~np.isnan(sub)
        r, j = (int(v[0]) for v in np.nonzero(bad))
        self._range_error(start + r, j, X[r, j])

    def rule_tables(self, sc: Scale, n_items: int, n_exp: int):
        """:func:`_rule_tables` for one scale, made once per plan."""
        key = (sc.id, n_items, n_exp)
        if key not in self._rule_tables:
            self._rule_tables[key] = _rule_tables(sc, n_items, n_exp)
        return self._rule_tables[key]

    def _range_error(self, row: int, j: int, value: float):
        it = self.inst.items[j]
        rng = f"{_fmt(it.min)} to {_fmt(it.max)}"
        if it.integer:
            rng = "a whole number from " + rng
        rec = self.wide.iloc[row]
        raise InputError(f"response outside the range of item '{it.id}' ({self.inst.id}) for "
                         f"participant {rec['participant_id']} at {rec['timepoint']}",
                         file=_file(self.wide), column=self.cols[j], value=_val(value),
                         expected=rng)


#: ``attrs`` key under which a score table records its layout (rows per block, blocks)
SCORE_BLOCKS_ATTR = "spanalysis_score_blocks"

_CHUNK = 1 << 16   # rows per chunk: keeps temporaries in cache, avoids page-fault churn
_PARALLEL_MIN = 1 << 20   # answers (rows x items) below which scoring stays in one thread


def item_matrix(responses: pd.DataFrame, instrument, *, reverse: bool = True) -> np.ndarray:
    """The (rows x items) matrix of one instrument's answers, validated.

    Parameters
    ----------
    responses : DataFrame
        Wide responses (item columns may be absent only for optional items).
    instrument : Instrument or id
    reverse : bool
        Apply reverse scoring (``min + max - value``) to reverse-keyed items.

    Returns
    -------
    numpy.ndarray of float64, columns in ``instrument.items`` order, NaN = not answered.

    Raises
    ------
    InputError
        A required item column is missing, a value is not a number, outside the item's
        range, or not a whole number where the item needs one. The message names the column,
        the value, the expected range and the participant and time point.
    """
    plan = _Plan(_to_wide(responses), load(instrument))
    n = len(plan.wide)
    X = np.empty((n, len(plan.inst.items)), order="F")
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        plan.chunk(start, stop, X[start:stop])
    return _reverse(X, plan.inst) if reverse else X


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


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _val(v: float) -> int | float:
    """A value as shown in a message: 6 rather than 6.0 or '6'."""
    return int(v) if float(v).is_integer() else float(v)


# --------------------------------------------------------------------------------------------
# Scale computations on one chunk: (score, answered, expected, status code)
# --------------------------------------------------------------------------------------------
_OK, _PRORATED, _PARTIAL = _ST["ok"], _ST["prorated"], _ST["partial"]
_TOO_FEW, _INCOMPLETE, _NOT_ADMIN = (_ST["too_few_items"], _ST["incomplete_for_lookup"],
                                     _ST["not_administered"])


def _either(mask: np.ndarray, yes: int, no: int, dtype=np.int8) -> np.ndarray:
    """``yes`` where ``mask`` is true, else ``no``, as ``dtype``: arithmetic on the mask.
    ``np.where`` with two scalars branches on every element, and is 5 to 30 times slower
    on a mask of mixed values (measured)."""
    out = np.asarray(mask).astype(dtype)
    out *= dtype(yes - no)
    out += dtype(no)
    return out


def _status(n_ans, n_exp, enough, partial_code: int) -> np.ndarray:
    # Later assignments win: too few < partial/prorated < ok < not administered.
    status = _either(enough, partial_code, _TOO_FEW)
    np.putmask(status, n_ans == n_exp, _OK)
    np.putmask(status, n_ans == 0, _NOT_ADMIN)
    return status


def _scale_chunk(sc: Scale, plan: _Plan, start: int, stop: int,
                 missing: np.ndarray, Xz: np.ndarray, cache: dict):
    """Rows start:stop of one scale. missing: blank answers; Xz: answers after reverse
    scoring with blanks as 0 (both from :meth:`_Plan.prepare`); cache: per-chunk results
    shared by scales with the same items (SWEMWBS metric and raw)."""
    idx, full, optional, n_req = plan.meta[sc.id]
    m = sc.method
    if len(idx) == 1 and m in ("sum", "mean") and n_req == 1:
        # A single required item (ONS4, MYCaW ratings): the score is the answer itself.
        answered = ~missing[:, idx[0]]
        status = _either(answered, _OK, _NOT_ADMIN)
        return plan.answers(idx[0], start, stop), answered, 1, status
    if m == "gas_tscore":
        return _gas_chunk(sc, plan, idx, optional, n_req, missing, Xz)
    key = tuple(idx)
    if key in cache:
        ans, n_ans, n_exp, total = cache[key]
    else:
        # Whole-matrix reductions when the scale uses every item (no fancy-index copy).
        miss = missing if full else missing[:, idx]
        n_ans = len(idx) - miss.sum(axis=1, dtype=np.int16)
        ans = None
        if optional.any():
            ans = ~miss
            n_exp = n_req + ans[:, optional].sum(axis=1, dtype=np.int16)
        else:
            n_exp = n_req   # a scalar broadcasts in comparisons and in the output write
        total = (Xz if full else Xz[:, idx]).sum(axis=1)
        cache[key] = ans, n_ans, n_exp, total
    if np.ndim(n_exp) == 0 and m in _BY_TABLE:
        # Every item required: status and the score's divisor and factor depend on the
        # number answered alone, so they are looked up (tables from _rule_tables).
        status_of, divide_by, factor = plan.rule_tables(sc, len(idx), int(n_exp))
        # numpy gathers about three times faster with intp indices than with int16 ones
        # (measured), so the counts are widened once for the three lookups
        k = n_ans.astype(np.intp)
        status = status_of[k]
        if m == "lookup":
            value = _converted(sc, plan, total)
        elif m == "dichotomise_count":
            value = _counted(sc, idx, plan, start, stop)
        elif divide_by is not None:   # mean; sum prorated when items are missing
            value = total / divide_by[k]
        else:
            value = total * 1.0       # a new array: total is shared with other scales
        value *= factor[k]            # NaN where the rule gives no score
        return value, n_ans, n_exp, status
    rule = sc.missing
    enough = _enough(rule, n_ans, n_exp)
    if m == "sum":
        if rule.prorate:
            status = _status(n_ans, n_exp, enough, _PRORATED)
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(n_ans == n_exp, total, total / n_ans * n_exp)
        else:
            status = _status(n_ans, n_exp, enough, _PARTIAL)
            value = total
    elif m == "mean":
        status = _status(n_ans, n_exp, enough, _PRORATED)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = total / n_ans
    elif m == "lookup":
        status = _lookup_status(n_ans, n_exp)
        value = _converted(sc, plan, total)
    elif m == "dichotomise_count":
        value = _counted(sc, idx, plan, start, stop)
        status = _status(n_ans, n_exp, enough, _PARTIAL)
    else:  # pragma: no cover - 'count' scales are refused before we get here
        raise InputError(f"method '{m}' cannot score questionnaire items")
    ok = status <= _PARTIAL    # ok, prorated, partial carry a score
    value = np.where(ok, value, np.nan)
    return value, n_ans, n_exp, status


_BY_TABLE = ("sum", "mean", "lookup", "dichotomise_count")


def _gas_chunk(sc: Scale, plan: "_Plan", idx, optional, n_req: int, missing: np.ndarray,
               Xz: np.ndarray):
    """A chunk of a ``gas_tscore`` scale (see :func:`_gas_rows` for the formula), goal by
    goal: each goal's level and weight are columns of ``Xz`` and ``missing``, so the sums
    are built column by column in a few row-sized buffers, with no (rows x goals) copies.
    A blank level is a goal not set; a blank weight is 1."""
    rows = missing.shape[0]
    widx = [plan.index[w] for w in sc.weights] if sc.weights else None
    num, sw, sw2 = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    n_ans = np.zeros(rows, dtype=np.int16)
    n_exp = np.full(rows, n_req, dtype=np.int16) if optional.any() else n_req
    goal_set, w, term = np.empty(rows, dtype=bool), np.empty(rows), np.empty(rows)
    first_bad = None  # (row, goal) of the first weight <= 0 of a goal set, row first
    for j, i in enumerate(idx):
        np.logical_not(missing[:, i], out=goal_set)
        n_ans += goal_set
        if optional[j]:
            n_exp += goal_set
        if widx is not None:
            np.copyto(w, Xz[:, widx[j]])
            np.copyto(w, 1.0, where=missing[:, widx[j]])   # blank weight = 1
            bad = np.flatnonzero(goal_set & (w <= 0))
            if len(bad) and (first_bad is None or bad[0] < first_bad[0]):
                first_bad = (int(bad[0]), j)
            w *= goal_set
        else:
            np.copyto(w, goal_set)
        np.multiply(w, Xz[:, i], out=term)
        num += term
        sw += w
        np.multiply(w, w, out=term)
        sw2 += term
    if first_bad is not None:
        r, k = first_bad
        rec = plan.wide.iloc[plan._offset + r]
        raise InputError(f"GAS weight must be greater than 0 for participant "
                         f"{rec['participant_id']} at {rec['timepoint']}",
                         file=_file(plan.wide), column=plan.cols[widx[k]],
                         value=_val(Xz[r, widx[k]]), expected="a positive number (blank = 1)")
    value = _gas_sums(num, sw, sw2, sc.rho.value)
    value[n_ans == 0] = np.nan  # no goal set: not administered, no score
    return value, n_ans, n_exp, _either(n_ans == 0, _NOT_ADMIN, _OK)


def _enough(rule, n_ans, n_exp):
    """Whether enough items are answered for a score, by the scale's missing-item rule."""
    if rule.rule == "complete":
        return n_ans == n_exp
    if rule.rule == "min_answered":
        return n_ans >= rule.min_answered
    return (n_exp - n_ans) <= rule.max_missing


def _lookup_status(n_ans, n_exp) -> np.ndarray:
    """Status of a conversion-table score: it needs every item answered."""
    status = _either(n_ans == n_exp, _OK, _INCOMPLETE)
    status[n_ans == 0] = _NOT_ADMIN
    return status


def _rule_tables(sc: Scale, n_items: int, n_exp: int):
    """For a scale whose items are all required (``n_exp`` of them), indexed by the number
    of items answered (0..n_items): the status; the divisor of the item total (None when the
    total is used as it is); the factor applied last (NaN where no score is given).

    The score is ``total / divisor * factor``, the same operations in the same order as
    the row-by-row rules in :func:`_scale_chunk`, so the results are identical: a complete
    sum is ``total / 1 * 1``, a prorated sum ``total / answered * expected``, a mean
    ``total / answered * 1``.
    """
    k = np.arange(n_items + 1)
    rule, m = sc.missing, sc.method
    enough = _enough(rule, k, n_exp)
    if m == "lookup":
        status = _lookup_status(k, n_exp)
    else:
        partial = _PRORATED if m == "mean" or (m == "sum" and rule.prorate) else _PARTIAL
        status = _status(k, n_exp, enough, partial)
    ok = status <= _PARTIAL
    factor = np.where(ok, 1.0, np.nan)
    divide_by = None
    if m == "mean":
        divide_by = np.maximum(k, 1).astype(float)
    elif m == "sum" and rule.prorate:
        prorated = ok & (k != n_exp)
        divide_by = np.where(prorated, k, 1).astype(float)
        factor[prorated] = n_exp
    return status, divide_by, factor


def _converted(sc: Scale, plan: "_Plan", total: np.ndarray) -> np.ndarray:
    """Raw sums through the scale's published conversion table."""
    # The table lists every raw sum once, in order, from its first raw value, so the
    # position is raw - first (incomplete rows are clipped here and get no score).
    conv = plan.tables[sc.id]
    pos = total - sc.lookup[0][0]
    np.clip(pos, 0, len(conv) - 1, out=pos)
    return conv[pos.astype(np.intp)]


def _counted(sc: Scale, idx: list[int], plan: "_Plan", start: int, stop: int) -> np.ndarray:
    """Number of the scale's items answered with one of its ``count_values``."""
    # count_values name answers as recorded, so reverse keying does not apply here. The
    # manual's SPSS COUNT: a missing item simply adds nothing to the count.
    value = np.zeros(stop - start)
    for k, iid in enumerate(sc.items):
        answers = plan.raw(idx[k], start, stop)
        for v in set(sc.count_values[iid]):   # a value or two: comparisons beat np.isin
            value += answers == v        # a blank (NaN) equals nothing
    return value


def _gas_matrix(L: np.ndarray, W: np.ndarray, rho: float) -> np.ndarray:
    """Kiresuk-Sherman T for each row; blank levels (NaN) are goals not set."""
    set_ = ~np.isnan(L)
    return _gas_rows(np.where(set_, L, 0.0), np.where(set_, W, 0.0), rho)


def _gas_rows(x: np.ndarray, w: np.ndarray, rho: float) -> np.ndarray:
    """T = 50 + 10 sum(w x) / sqrt((1 - rho) sum(w^2) + rho (sum w)^2), row by row.

    ``x`` holds levels with unset goals as 0 and ``w`` weights with unset goals as 0, so an
    unset goal adds nothing to any sum. Rows without goals get NaN.
    """
    return _gas_sums((w * x).sum(axis=1), w.sum(axis=1), (w * w).sum(axis=1), rho)


def _gas_sums(num: np.ndarray, sw: np.ndarray, sw2: np.ndarray, rho: float) -> np.ndarray:
    """:func:`_gas_rows` from each row's sums of w x, w and w^2."""
    den = (1 - rho) * sw2 + rho * sw * sw
    np.sqrt(den, out=den)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out *= 10
    out += 50
    out[den == 0] = np.nan
    return out


def gas_tscore(levels: Sequence[float], weights: Sequence[float] | None = None,
               rho: float = 0.3) -> float:
    """Goal Attainment Scaling T-score for one person's goals.

    Parameters
    ----------
    levels : sequence of float
        Attainment of each goal, in {-2, -1, 0, +1, +2}; NaN/None for a goal not set.
    weights : sequence of float, optional
        Positive weight per goal (NaN/None = 1). Default: all 1 (unweighted).
    rho : float
        Assumed correlation between goal scales; 0.3 by convention.

    Returns
    -------
    float
        The T-score, or NaN when no goal is set.

    Notes
    -----
    .. math:: T = 50 + \\frac{10 \\sum w_i x_i}{\\sqrt{(1-\\rho)\\sum w_i^2 + \\rho(\\sum w_i)^2}}

    T is 50 when every goal is met exactly; with equal weights and rho = 0.3, one goal at +1
    gives 60.

    References
    ----------
    Kiresuk TJ, Sherman RE (1968) Community Ment Health J 4:443-453.
    Turner-Stokes L (2009) Clin Rehabil 23:362-370 and erratum (corrected formula).

    Examples
    --------
    >>> from spanalysis.instruments import gas_tscore
    >>> gas_tscore([0, 0, 0])
    50.0
    >>> round(gas_tscore([1]), 6)
    60.0
    """
    L = np.array([np.nan if v is None else v for v in levels], dtype=float)
    if weights is None:
        W = np.ones_like(L)
    else:
        W = np.array([np.nan if v is None else v for v in weights], dtype=float)
        if W.shape != L.shape:
            raise InputError("one weight per goal is needed", value=len(W),
                             expected=f"{len(L)} weights")
        W = np.where(np.isnan(W), 1.0, W)
    set_ = ~np.isnan(L)
    bad = set_ & ~np.isin(L, [-2, -1, 0, 1, 2])
    if bad.any():
        raise InputError("GAS level outside -2..+2", value=_val(L[bad][0]),
                         expected="one of -2, -1, 0, 1, 2")
    if (set_ & (W <= 0)).any():
        raise InputError("GAS weight must be greater than 0", value=_val(W[set_ & (W <= 0)][0]),
                         expected="a positive number")
    if not 0 <= rho < 1:
        raise InputError("rho must be in [0, 1)", value=rho, expected="0 <= rho < 1")
    return float(_gas_matrix(L[None, :], W[None, :], rho)[0])


# --------------------------------------------------------------------------------------------
# Public scoring
# --------------------------------------------------------------------------------------------
def _codes(series: pd.Series, any_width: bool = False) -> tuple[np.ndarray, pd.Index]:
    """Each row's code (int32; with ``any_width``, a categorical's own codes, not copied)
    and the categories; a blank row is an error."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.array.codes  # a view (Series.cat.codes copies)
        if (codes < 0).any():
            pos = int(np.flatnonzero(codes < 0)[0])
            raise InputError(f"blank '{series.name}'", row=pos + 2, column=str(series.name),
                             expected="a value in every row")
        return (codes if any_width else codes.astype(np.int32)), series.cat.categories
    numbered = None
    if series.dtype == STR:  # ids such as SP0000123: read from the buffers, no hashing
        import pyarrow as pa

        arr = pa.array(series, from_pandas=True)
        numbered = encode_numbered(arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr])
    if numbered is not None:  # the same codes and order as factorize gives
        codes, dictionary, _ = numbered
        uniques = pd.array(dictionary, dtype="str")
    else:
        codes, uniques = pd.factorize(series, sort=False)
    if (codes < 0).any():
        pos = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"blank '{series.name}'", row=pos + 2, column=str(series.name),
                         expected="a value in every row")
    return codes.astype(np.int32), pd.Index(uniques)


def _codes_by_appearance(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """:func:`_codes` of a categorical column as ``_codes(series.astype(str))`` gives them
    (categories as text, in order of first appearance, only those that occur), from the
    column's codes: a few short arrays instead of hashing every row's text."""
    codes, _ = _codes(series)  # raises for a blank row, as the text would
    categories = series.cat.categories
    first = first_rows(codes, len(categories))
    order = np.argsort(first, kind="stable")[: np.count_nonzero(first < len(codes))]
    names = pd.Index(categories[order].astype(str))
    if np.array_equal(order, np.arange(len(categories))):
        return codes, names  # every category occurs, first in category order: codes as they are
    renumber = np.empty(len(categories), dtype=np.int32)
    renumber[order] = np.arange(len(order), dtype=np.int32)
    return renumber[codes], names


def _scorable(inst: Instrument) -> list[Scale]:
    return [sc for sc in inst.scales if sc.method != "count"]


def score(responses: pd.DataFrame, instrument) -> pd.DataFrame:
    """Score one instrument for every participant and time point.

    Parameters
    ----------
    responses : DataFrame
        The study's wide responses: ``participant_id``, ``timepoint``, optional
        ``completed_date``, then one float column per item (NaN = not answered). Columns of
        other instruments are ignored. A long table (``participant_id, timepoint, item,
        value``) is accepted and pivoted. For SWEMWBS, when no ``swemwbs_*`` column exists,
        the WEMWBS items 1, 2, 3, 6, 7, 9, 11 are used.
    instrument : Instrument or str
        An :class:`Instrument` or a built-in id / YAML path.

    Returns
    -------
    DataFrame
        One row per (scale, input row), in the order of the instrument's scales and then of
        the input rows. Columns:

        - ``participant_id``, ``timepoint`` (categorical; categories kept from the input
          when it is categorical, else in order of appearance)
        - ``instrument``, ``scale`` (categorical)
        - ``score`` (float; NaN when no score can be given)
        - ``items_answered`` (int8; int16 if a scale has more than 127 items): items of the
          scale answered
        - ``items_expected`` (same type): required items plus optional items answered
        - ``status`` (categorical, categories :data:`STATUSES`): ``ok`` (all expected items
          answered), ``prorated`` (items missing, score from the answered items: prorated
          sum = mean x items, or mean of answered items), ``partial`` (items missing, sum or
          count of the answered items as the instrument's rule says, e.g. De Jong Gierveld
          total with one item missing), ``too_few_items`` (more missing than the rule
          allows: score NaN), ``incomplete_for_lookup`` (a conversion table needs every item:
          score NaN), ``not_administered`` (no item answered: score NaN).

    Raises
    ------
    InputError
        Missing ``participant_id``/``timepoint``; an item column the instrument needs is
        absent; a response is not a number, outside its item's range, or not whole where it
        must be; a non-positive GAS weight; an instrument that is not scored from items
        (service use: see :func:`score_service_use`).

    Notes
    -----
    Reverse-keyed items are scored ``min + max - value`` first. Methods: ``sum``; ``mean``;
    ``lookup`` (raw sum converted through a published table, complete responses only);
    ``dichotomise_count`` (number of items whose answer is among the scale's
    ``count_values``); ``gas_tscore`` (see :func:`gas_tscore`). Missing-item rules are in
    each definition (``docs/instruments.md``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["p1", "p2"], "timepoint": ["baseline"] * 2,
    ...                    "ucla3_1": [1, 3], "ucla3_2": [2, np.nan], "ucla3_3": [3, 3]})
    >>> instruments.score(df, "ucla3")[["participant_id", "score", "status"]]
      participant_id  score         status
    0             p1    6.0             ok
    1             p2    NaN  too_few_items
    """
    inst = load(instrument)
    return score_all(responses, {inst.id: inst})


def score_all(responses: pd.DataFrame, instruments) -> pd.DataFrame:
    """Score several instruments into one tidy table (see :func:`score` for the columns).

    Parameters
    ----------
    responses : DataFrame
        Wide (or long) responses.
    instruments : dict of id -> Instrument, or a list of ids / Instruments
        Instruments scored from questionnaire items. Instruments whose scales are all
        ``count`` (service use) are skipped here: score them with
        :func:`score_service_use`.

    Returns
    -------
    DataFrame
        The rows of every instrument, in the order given; categorical columns share one set
        of categories.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["p1"], "timepoint": ["baseline"],
    ...                    "ons_lonely": [4], "ucla3_1": [1], "ucla3_2": [1], "ucla3_3": [2]})
    >>> instruments.score_all(df, ["ucla3", "ons_lonely"])[["instrument", "scale", "score"]]
       instrument   scale  score
    0       ucla3   total    4.0
    1  ons_lonely  lonely    4.0
    """
    return _score_all(responses, instruments)


def score_study(responses: pd.DataFrame, instruments, service_use: pd.DataFrame | None = None,
                timepoints: Sequence[str] | None = None) -> pd.DataFrame:
    """A study's whole score table: every instrument scored from ``responses`` (see
    :func:`score`), then the service-use counts (:func:`score_service_use`) when given.

    With ``timepoints`` (the study's order), ``timepoint`` is an ordered categorical in that
    order; a time point not in it is blank. This is what :attr:`spanalysis.study.Study.scores`
    holds."""
    append = None if service_use is None else score_service_use(service_use, timepoints)
    return _score_all(responses, instruments, append=append, timepoints=timepoints)


@with_small_pages
def _score_all(responses: pd.DataFrame, instruments, append: pd.DataFrame | None = None,
               timepoints: Sequence[str] | None = None,
               checked: dict | None = None,
               participant_ids: Callable[[], tuple[np.ndarray, pd.Index]] | None = None
               ) -> pd.DataFrame:
    """:func:`score_all`, with the rows of ``append`` (a score table with categorical text
    columns, such as :func:`score_service_use` gives) written after the questionnaire rows:
    one table built once instead of two tables and a copy of both. With ``timepoints`` (the
    study's order), ``timepoint`` is an ordered categorical in that order; a time point not
    in it is blank (as ``set_categories`` would make it), without a second pass over the
    table. ``checked``: columns of ``responses`` already known to be valid (see
    :class:`_Plan`), not screened again. ``participant_ids``: what :func:`_codes` gives for
    ``responses["participant_id"]`` (int32 codes, categories), made by the caller's function
    in the scoring's threads (the study's loader codes); not used for a long table."""
    insts = _as_dict(instruments)
    wide = _to_wide(responses)
    if wide is not responses:
        participant_ids = None
    only_counts = [i for i in insts.values() if not _scorable(i)]
    if only_counts and len(only_counts) == len(insts) and len(insts) == 1:
        raise InputError(f"'{only_counts[0].id}' is not scored from questionnaire items",
                         value=only_counts[0].id,
                         expected="score it with score_service_use(service_use, timepoints)")
    plan_checked = checked if wide is responses else None
    plans = [_Plan(wide, inst, plan_checked) for inst in insts.values() if _scorable(inst)]
    later = append if isinstance(append, _Later) else None
    if later is not None:
        append = None
    if not plans:
        if later is not None:
            append = later.make()
        return _empty_scores() if append is None else append
    n = len(wide)
    m = later.rows if later is not None else 0 if append is None else len(append)
    # categories the appended rows may add to each key column (for the code widths)
    extra = (later.new_categories if later is not None else 0 if append is None else
             max(len(append[c].cat.categories) for c in ("timepoint", "instrument", "scale")))

    blocks = [(k, sc) for k, plan in enumerate(plans) for sc in plan.scales]
    n_blocks = len(blocks)
    # Item counts fit int8 unless a scale has more than 127 items.
    count_dtype = np.int8 if max(len(sc.items) for _, sc in blocks) <= 127 else np.int16
    score_out = np.empty(n_blocks * n + m)
    answered_out = np.empty(n_blocks * n + m, dtype=count_dtype)
    expected_out = np.empty(n_blocks * n + m, dtype=count_dtype)
    status_out = np.empty(n_blocks * n + m, dtype=np.int8)

    # The categories of the key columns and the time-point codes (in the study's order when
    # it is given) are settled first, so that every instrument can write its own blocks of
    # the key columns as well. The appended rows' categories are joined after ours later:
    # joining only adds categories at the end, so our codes stay as they are.
    inst_ids = [plan.inst.id for plan in plans]
    scale_cats = list(dict.fromkeys(sc.id for _, sc in blocks))
    try:
        tp_codes, tp_cats = _codes(wide["timepoint"], any_width=True)
        tp_error = None
    except InputError as exc:  # reported after the id and item checks, as it always was
        tp_codes, tp_cats, tp_error = None, [], exc
    order = None if timepoints is None or tp_error is not None else [str(t) for t in timepoints]

    def in_study_order(categories) -> np.ndarray:
        """Each category's position in the study's order (-1: not in it), then -1 for a
        blank row's code -1: only short code arrays are mapped, not the table."""
        return np.append(pd.Index(order).get_indexer(pd.Index(categories).astype(str)), -1)

    if order is not None:
        position = in_study_order(tp_cats)
        if not np.array_equal(position[:-1], np.arange(len(tp_cats))):  # else codes as they are
            tp_codes = position[tp_codes]
    scale_code = {s: c for c, s in enumerate(scale_cats)}

    def width(count: int, small=np.int8, large=np.int16):
        return small if count + extra < 127 else large

    # a participant category per row at most, so int32 codes unless the table is enormous
    pid_out = np.empty(n_blocks * n + m, dtype=np.int32 if n + m < 2**31 else np.int64)
    tp_out = np.empty(n_blocks * n + m,
                      dtype=width(len(order if order is not None else tp_cats), large=np.int32))
    inst_out = np.empty(n_blocks * n + m, dtype=width(len(inst_ids)))
    scale_out = np.empty(n_blocks * n + m, dtype=width(len(scale_cats)))
    tail = slice(n_blocks * n, n_blocks * n + m)

    def write_tail(rows: pd.DataFrame, pid_cats) -> dict:
        """The appended rows written after ours, their codes mapped to the joined categories
        (returned by column)."""
        if len(rows) != m:  # pragma: no cover - a _Later that does not keep its word
            raise ValueError(f"{len(rows)} rows appended where {m} were announced")
        joined = {}
        for column, ours, out_ in (("participant_id", pid_cats, pid_out),
                                   ("timepoint", tp_cats, tp_out),
                                   ("instrument", inst_ids, inst_out),
                                   ("scale", scale_cats, scale_out),
                                   ("status", list(STATUSES), status_out)):
            categories, lookup = _join_categories(ours, rows[column])
            if column == "timepoint" and order is not None:  # then to the study's order
                lookup = in_study_order(categories)[
                    np.append(np.arange(len(rows[column].cat.categories)), -1)
                    if lookup is None else lookup]
                categories = order
            if len(categories) > np.iinfo(out_.dtype).max:  # pragma: no cover - see width()
                raise ValueError(f"too many categories in the appended '{column}'")
            _map_codes(rows[column], lookup, out_[tail])
            joined[column] = categories
        score_out[tail] = rows["score"].to_numpy(dtype=float)
        answered_out[tail] = rows["items_answered"].to_numpy()
        expected_out[tail] = rows["items_expected"].to_numpy()
        return joined

    # Chunks of rows: every temporary stays small (cache-resident, no page-fault churn) and
    # results go straight into the preallocated output columns. Then the instrument's
    # blocks of the key columns, filled by slice (memcpy/fill), which is far faster than
    # np.tile / np.repeat at tens of millions of rows.
    def run(k: int, plan: _Plan, ids, rows: range):
        """Instrument k's rows ``rows`` (a range of whole chunks)."""
        shape = (min(n, _CHUNK), len(plan.inst.items))
        missing_buf = np.empty(shape, dtype=bool, order="F")
        zero_buf = np.empty(shape, order="F")
        first_block = next(b for b, (kk, _) in enumerate(blocks) if kk == k)
        for start in range(rows.start, rows.stop, _CHUNK):
            stop = min(rows.stop, start + _CHUNK)
            plan._offset = start
            missing, Xz = plan.prepare(start, stop, missing_buf, zero_buf)
            cache: dict = {}
            for b, sc in enumerate(plan.scales):
                v, a, e, st_ = _scale_chunk(sc, plan, start, stop, missing, Xz, cache)
                off = (first_block + b) * n
                score_out[off + start: off + stop] = v
                answered_out[off + start: off + stop] = a
                expected_out[off + start: off + stop] = e
                status_out[off + start: off + stop] = st_
        pid_codes = ids.result()[0] if hasattr(ids, "result") else ids[0]
        if tp_error is not None:
            return
        for b, sc in enumerate(plan.scales):
            off = (first_block + b) * n
            sl = slice(off + rows.start, off + rows.stop)
            pid_out[sl] = pid_codes[rows.start:rows.stop]
            tp_out[sl] = tp_codes[rows.start:rows.stop]
            inst_out[sl] = k
            scale_out[sl] = scale_code[sc.id]

    # Instruments are scored side by side in two threads (numpy releases the GIL in its
    # loops; each task writes its own rows of the output), and the participant ids are
    # encoded meanwhile (submitted first, so a task waiting for them never waits for a task
    # not yet started). Rows to append later (service use) are made in the same threads.
    # Each instrument's rows are split in two halves of whole chunks, so that an instrument
    # slower than its item count suggests (optional items, GAS) does not leave one thread
    # alone at the end; each half has its own plan (a plan notes the chunk it is on).
    # Errors are raised in the order of a one-thread run: the appended rows' first, then a
    # blank id, then the first instrument that has one, its earlier half first.
    joined = None
    if n * sum(len(p.inst.items) for p in plans) < _PARALLEL_MIN:
        if later is not None:
            append = later.make()
        ids = participant_ids() if participant_ids else _codes(wide["participant_id"])
        for k, plan in enumerate(plans):
            run(k, plan, ids, range(n))
        pid_codes, pid_cats = ids
    else:
        middle = (n // 2 + _CHUNK - 1) // _CHUNK * _CHUNK
        halves = [range(0, middle), range(middle, n)] if 0 < middle < n else [range(n)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            ids = (pool.submit(participant_ids) if participant_ids
                   else pool.submit(_codes, wide["participant_id"]))
            by_size = sorted(range(len(plans)), key=lambda k: -len(plans[k].inst.items))
            tasks = [(k, h, rows) for k in by_size for h, rows in enumerate(halves)]
            done = {}
            appended = None
            for i, (k, h, rows) in enumerate(tasks):
                done[k, h] = pool.submit(run, k, plans[k] if h == 0 else
                                         _Plan(wide, plans[k].inst, plan_checked), ids, rows)
                if i == 0 and later is not None:
                    # after the first task: the ids and the appended rows may both wait for
                    # the caller's codes (Study.scores makes them in a side thread), and the
                    # first task, which needs the ids only at its end, keeps a core busy
                    appended = pool.submit(lambda: write_tail(later.make(), ids.result()[1]))
            if appended is not None:
                joined = appended.result()  # its errors first, as when made beforehand
            pid_codes, pid_cats = ids.result()  # then a blank id, as before
            for k in range(len(plans)):
                for h in range(len(halves)):
                    done[k, h].result()
    if tp_error is not None:
        raise tp_error
    if m and joined is None:
        joined = write_tail(append, pid_cats)
    if joined is not None:
        pid_cats, tp_cats = joined["participant_id"], joined["timepoint"]
        inst_ids, scale_cats = joined["instrument"], joined["scale"]
    elif order is not None:
        tp_cats = order

    def cat(codes, categories):
        return pd.Categorical.from_codes(codes, dtype=_cat_dtype(categories), validate=False)

    out = pd.DataFrame({
        "participant_id": cat(pid_out, pid_cats),
        "timepoint": (cat(tp_out, tp_cats) if order is None else pd.Categorical.from_codes(
            tp_out, dtype=pd.CategoricalDtype(order, ordered=True), validate=False)),
        "instrument": cat(inst_out, inst_ids),
        "scale": cat(scale_out, scale_cats),
        "score": score_out,
        "items_answered": answered_out,
        "items_expected": expected_out,
        "status": cat(status_out, list(STATUSES)),
    }, copy=False)
    # The layout (one block of n rows per scale, rows in the responses' order): change
    # statistics can then pair each scale's block directly. It is checked against the table
    # before use, so a table filtered or reordered afterwards is simply treated as any other.
    out.attrs[SCORE_BLOCKS_ATTR] = {"rows": n, "blocks": n_blocks}
    return out


@dataclass(frozen=True)
class _Later:
    """Score rows to append to :func:`_score_all`'s table, made while the questionnaires
    are scored (in the same threads): ``make()`` returns them (a score table with
    categorical key columns, exactly ``rows`` rows, adding at most ``new_categories``
    categories to any key column)."""

    rows: int
    new_categories: int
    make: Callable[[], pd.DataFrame]


def _join_categories(categories, column: pd.Series) -> tuple[pd.Index, np.ndarray | None]:
    """``categories`` followed by those of the categorical ``column`` not among them, and
    where each of the column's categories is in that joint list, with -1 appended for a
    blank row's code -1 (None: the same list, codes unchanged). Each category is looked up
    once, not each row; :func:`_map_codes` then maps the rows."""
    theirs = column.cat.categories
    if theirs is categories:  # the very same categories (the loader's id codes): no compare
        return categories, None
    categories = pd.Index(categories)
    if theirs.equals(categories):  # the same categories
        return categories, None
    extra = theirs[categories.get_indexer(theirs) < 0]
    if len(extra):
        categories = categories.append(extra)
    return categories, np.append(categories.get_indexer(theirs), -1)


def _map_codes(column: pd.Series, lookup: np.ndarray | None, out: np.ndarray) -> None:
    """Write the categorical ``column``'s codes, mapped by a :func:`_join_categories` lookup,
    into ``out`` (no temporary: "wrap" sends a blank's -1 to the lookup's last entry, -1)."""
    codes = column.array.codes  # a view (Series.cat.codes copies)
    if lookup is None:
        out[...] = codes
    else:
        np.take(lookup.astype(out.dtype), codes, out=out, mode="wrap")


def _cat_dtype(categories) -> pd.CategoricalDtype:
    """CategoricalDtype for categories already known to be unique (from factorize or an
    existing categorical): skips pandas' uniqueness check, which hashes every category again
    (a tenth of a second per million participants)."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fast is not None:
        try:
            return fast(pd.Index(categories), False)
        except TypeError:  # pragma: no cover - private API changed; use the public one
            pass
    return pd.CategoricalDtype(categories)


def _empty_scores() -> pd.DataFrame:
    empty = pd.Categorical([])
    return pd.DataFrame({"participant_id": empty, "timepoint": empty, "instrument": empty,
                         "scale": empty, "score": np.array([], dtype=float),
                         "items_answered": np.array([], dtype=np.int8),
                         "items_expected": np.array([], dtype=np.int8),
                         "status": pd.Categorical([], dtype=_STATUS_DTYPE)})


def assign_bands(scores: pd.DataFrame, instruments) -> pd.DataFrame:
    """Add a ``band`` column (the published band each score falls in) to a score table.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score` / :func:`score_all`.
    instruments : dict of id -> Instrument, or a list of ids / Instruments

    Returns
    -------
    DataFrame
        A copy of ``scores`` with ``band`` (categorical; missing where the scale has no
        bands, the score is NaN, or it falls between bands). Bands are inclusive at both
        ends.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis import instruments
    >>> df = pd.DataFrame({"participant_id": ["a", "b"], "timepoint": ["t0", "t0"],
    ...     "ons4_satisfaction": [4, 5], "ons4_worthwhile": [7, 9], "ons4_happy": [6, 8],
    ...     "ons4_anxious": [1, 2]})
    >>> s = instruments.assign_bands(instruments.score(df, "ons4"), ["ons4"])
    >>> s[s.scale == "anxious"].band.tolist()
    ['very low', 'low']
    """
    insts = _as_dict(instruments)
    band = np.full(len(scores), None, dtype=object)
    inst_col = scores["instrument"].astype(str).to_numpy()
    scale_col = scores["scale"].astype(str).to_numpy()
    values = scores["score"].to_numpy(dtype=float)
    labels: list[str] = []
    for inst in insts.values():
        for sc in inst.scales:
            if not sc.bands:
                continue
            mask = (inst_col == inst.id) & (scale_col == sc.id)
            band[mask] = sc.band(values[mask])
            labels += [b.label for b in sc.bands if b.label not in labels]
    out = scores.copy()
    out["band"] = pd.Categorical(band, categories=labels)
    return out


def score_service_use(service_use: pd.DataFrame, timepoints: Sequence[Any]) -> pd.DataFrame:
    """Turn the study's service-use table into the tidy score format.

    Parameters
    ----------
    service_use : DataFrame
        Long table ``participant_id, service, period (before|after), count``.
    timepoints : sequence
        The study's ordered time points (ids, or objects with an ``id`` attribute). ``before``
        is placed at the first, ``after`` at the last.

    Returns
    -------
    DataFrame
        Columns as :func:`score`: ``instrument`` = ``service_use``, ``scale`` = the service
        name, ``score`` = the count, ``items_answered``/``items_expected`` = 1 (0 answered for
        a blank count), ``status`` ``ok`` (or ``not_administered`` for a blank count).
        Direction (lower is better) and method (count) are in the ``service_use`` definition.

    Raises
    ------
    InputError
        A missing column, a period other than before/after, a count that is negative or not
        a whole number, or the same participant, service and period twice.

    Examples
    --------
    >>> import pandas as pd
    >>> from spanalysis.instruments import score_service_use
    >>> su = pd.DataFrame({"participant_id": ["p1", "p1"], "service": ["gp_consultations"] * 2,
    ...                    "period": ["before", "after"], "count": [5, 2]})
    >>> score_service_use(su, ["baseline", "followup"])[["timepoint", "scale", "score"]]
      timepoint             scale  score
    0  baseline  gp_consultations    5.0
    1  followup  gp_consultations    2.0
    """
    f = _file(service_use)
    for col in ("participant_id", "service", "period", "count"):
        if col not in service_use.columns:
            raise InputError(f"service use has no '{col}' column", file=f, column=col,
                             expected="columns participant_id, service, period, count")
    tps = [getattr(t, "id", t) for t in timepoints]
    if not tps:
        raise InputError("no time points given", expected="the study's ordered time points")
    raw_period = service_use["period"]
    if isinstance(raw_period.dtype, pd.CategoricalDtype) and \
            set(map(str, raw_period.cat.categories)) <= {"before", "after"}:
        # as the study loader gives it: look at the (two) categories, not every row
        cats = [str(c) for c in raw_period.cat.categories]
        after_code = np.int8(cats.index("after")) if "after" in cats else np.int8(-2)
        pcodes = raw_period.cat.codes.to_numpy()
        bad = pcodes < 0
        is_before = (pcodes >= 0) & (pcodes != after_code)
    else:
        period = raw_period.astype("string").str.strip().str.lower()
        bad = ~period.isin(["before", "after"]).fillna(False).to_numpy(dtype=bool)
        is_before = (period == "before").fillna(False).to_numpy(dtype=bool)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError("unknown period", file=f, row=pos + 2, column="period",
                         value=service_use["period"].iloc[pos], expected="before or after")
    raw_count = service_use["count"]
    counts = _numeric(raw_count, "count", service_use).astype(float, copy=False)
    blank = np.isnan(counts)
    # an integer column holds whole numbers already: only the sign is left to check
    if pd.api.types.is_integer_dtype(raw_count.dtype) and (
            not len(counts) or np.fmin.reduce(counts) >= 0):
        badc = None
    else:
        with np.errstate(invalid="ignore"):
            badc = ~blank & ((counts < 0) | (counts != np.floor(counts)))
    if badc is not None and badc.any():
        pos = int(np.flatnonzero(badc)[0])
        raise InputError("count must be a whole number of events, 0 or more", file=f,
                         row=pos + 2, column="count", value=_val(counts[pos]),
                         expected="a whole number >= 0")
    pid = service_use["participant_id"]
    pid_codes, pid_cats = _codes(pid)
    # an unordered categorical keeps its dtype (the same categories object as the
    # questionnaires' ids when the study loader's codes are used: joined without comparing)
    pid_dtype = (pid.dtype if isinstance(pid.dtype, pd.CategoricalDtype) and not pid.dtype.ordered
                 else _cat_dtype(pid_cats))
    service = service_use["service"]
    svc_codes, svc_cats = (_codes_by_appearance(service)
                           if isinstance(service.dtype, pd.CategoricalDtype)
                           else _codes(service.astype(str)))
    # (participant, service, period) once each: integer keys, one byte per possible key
    key = pid_codes.astype(np.int64)
    key *= len(svc_cats)
    key += svc_codes
    key *= 2
    key += is_before
    if not all_different(key, 2 * len(pid_cats) * max(len(svc_cats), 1)):
        dup = pd.Series(key).duplicated().to_numpy()
        pos = int(np.flatnonzero(dup)[0])
        raise InputError("the same participant, service and period appear twice", file=f,
                         row=pos + 2, column="service", value=service_use["service"].iloc[pos],
                         expected="one row per participant, service and period")
    tp_cats = list(dict.fromkeys(str(t) for t in tps))
    code_type = np.int8 if len(tp_cats) < 127 else np.int32
    tp_code = _either(is_before, tp_cats.index(str(tps[0])), tp_cats.index(str(tps[-1])),
                      code_type)
    answered = np.logical_not(blank).view(np.int8)  # 1 where a count is recorded
    n = len(service_use)
    return pd.DataFrame({
        # categories from a categorical or factorize are unique: not hashed again
        "participant_id": pd.Categorical.from_codes(pid_codes, dtype=pid_dtype,
                                                    validate=False),
        "timepoint": pd.Categorical.from_codes(tp_code, categories=tp_cats),
        "instrument": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                categories=["service_use"]),
        "scale": pd.Categorical.from_codes(svc_codes, categories=svc_cats),
        "score": counts,
        "items_answered": answered,
        "items_expected": np.ones(n, dtype=np.int8),
        "status": pd.Categorical.from_codes(
            _either(blank, _ST["not_administered"], _ST["ok"]),
            dtype=_STATUS_DTYPE, validate=False),
    }, copy=False)
