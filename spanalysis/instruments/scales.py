"""The score of one scale for every row of responses, by the scale's method and missing-item
rule, from its instrument's matrix of answers (one row per response, one column per item).

Each function returns ``(score, items answered, items expected, status code)``, one value per
row (``items expected`` may be a single number when every item of the scale is required);
status codes index :data:`spanalysis.instruments.model.STATUSES`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.instruments.model import STATUSES, Instrument, Scale
from spanalysis.instruments.responses import _val

_ST = {name: code for code, name in enumerate(STATUSES)}
_OK, _PRORATED, _PARTIAL = _ST["ok"], _ST["prorated"], _ST["partial"]
_TOO_FEW, _INCOMPLETE, _NOT_ADMIN = (_ST["too_few_items"], _ST["incomplete_for_lookup"],
                                     _ST["not_administered"])


class Answers:
    """One instrument's answers prepared for its scales.

    ``raw``: answers as recorded (NaN = blank); ``missing``: blank answers; ``zeroed``:
    answers after reverse scoring (``min + max - value`` for reverse-keyed items) with
    blanks as 0, so that a row's sum over items is the total of the answered items. All
    three are column-major (rows x items) matrices.
    """

    def __init__(self, inst: Instrument, raw: np.ndarray):
        self.inst = inst
        self.raw = raw
        self.index = {it.id: j for j, it in enumerate(inst.items)}
        self.missing = np.isnan(raw)
        self.zeroed = np.empty(raw.shape, order="F")
        for j, it in enumerate(inst.items):
            col = (it.min + it.max) - raw[:, j] if it.reverse else raw[:, j]
            self.zeroed[:, j] = np.where(self.missing[:, j], 0.0, col)

    def reversed(self, j: int) -> np.ndarray:
        """Item j's answers after reverse scoring (NaN = blank)."""
        it = self.inst.items[j]
        return (it.min + it.max) - self.raw[:, j] if it.reverse else self.raw[:, j]


def scale_scores(sc: Scale, answers: Answers, wide: pd.DataFrame, cols: list,
                 source: str | None = None):
    """``(score, answered, expected, status)`` of one scale for every row.

    ``wide`` and ``cols`` (each item's column) are used only to name the participant and the
    column in the message about a GAS weight that is not positive."""
    items = answers.inst.items
    idx = [answers.index[i] for i in sc.items]
    optional = np.array([items[j].optional for j in idx])
    n_req = int((~optional).sum())
    m = sc.method
    if len(idx) == 1 and m in ("sum", "mean") and n_req == 1:
        # A single required item (ONS4, MYCaW ratings): the score is the answer itself.
        answered = ~answers.missing[:, idx[0]]
        return (answers.reversed(idx[0]), answered, 1,
                np.where(answered, _OK, _NOT_ADMIN).astype(np.int8))
    if m == "gas_tscore":
        return _gas_scores(sc, answers, idx, optional, n_req, wide, cols, source)
    full = idx == list(range(len(items)))   # every item, in order: no column selection
    miss = answers.missing if full else answers.missing[:, idx]
    n_ans = len(idx) - miss.sum(axis=1, dtype=np.int16)
    if optional.any():   # expected: the required items and the optional ones answered
        n_exp = n_req + (~miss[:, optional]).sum(axis=1, dtype=np.int16)
    else:
        n_exp = n_req
    total = (answers.zeroed if full else answers.zeroed[:, idx]).sum(axis=1)
    rule = sc.missing
    enough = _enough(rule, n_ans, n_exp)
    with np.errstate(invalid="ignore", divide="ignore"):
        if m == "sum" and rule.prorate:   # prorated sum = mean of the answered x expected
            status = _status(n_ans, n_exp, enough, _PRORATED)
            value = np.where(n_ans == n_exp, total, total / n_ans * n_exp)
        elif m == "sum":
            status = _status(n_ans, n_exp, enough, _PARTIAL)
            value = total
        elif m == "mean":
            status = _status(n_ans, n_exp, enough, _PRORATED)
            value = total / n_ans
        elif m == "lookup":
            status = _lookup_status(n_ans, n_exp)
            value = _converted(sc, total)
        elif m == "dichotomise_count":
            status = _status(n_ans, n_exp, enough, _PARTIAL)
            value = _counted(sc, idx, answers.raw)
        else:  # pragma: no cover - 'count' scales are refused before we get here
            raise InputError(f"method '{m}' cannot score questionnaire items")
    value = np.where(status <= _PARTIAL, value, np.nan)   # ok, prorated, partial: a score
    return value, n_ans, n_exp, status


def _enough(rule, n_ans, n_exp):
    """Whether enough items are answered for a score, by the scale's missing-item rule."""
    if rule.rule == "complete":
        return n_ans == n_exp
    if rule.rule == "min_answered":
        return n_ans >= rule.min_answered
    return (n_exp - n_ans) <= rule.max_missing


def _status(n_ans, n_exp, enough, partial_code: int) -> np.ndarray:
    """Too few items, else ``partial_code`` (prorated or partial) when items are missing,
    ok when all expected items are answered, not administered when none is."""
    status = np.where(enough, partial_code, _TOO_FEW).astype(np.int8)
    status[n_ans == n_exp] = _OK
    status[n_ans == 0] = _NOT_ADMIN
    return status


def _lookup_status(n_ans, n_exp) -> np.ndarray:
    """Status of a conversion-table score: it needs every item answered."""
    status = np.where(n_ans == n_exp, _OK, _INCOMPLETE).astype(np.int8)
    status[n_ans == 0] = _NOT_ADMIN
    return status


def _converted(sc: Scale, total: np.ndarray) -> np.ndarray:
    """Raw sums through the scale's published conversion table."""
    # The table lists every raw sum once, in order, from its first raw value, so the
    # position is raw - first (incomplete rows are clipped here and get no score).
    conv = np.array([p[1] for p in sc.lookup])
    pos = np.clip(total - sc.lookup[0][0], 0, len(conv) - 1)
    return conv[pos.astype(np.intp)]


def _counted(sc: Scale, idx: list[int], raw: np.ndarray) -> np.ndarray:
    """Number of the scale's items answered with one of its ``count_values``."""
    # count_values name answers as recorded, so reverse keying does not apply here. The
    # manual's SPSS COUNT: a missing item simply adds nothing to the count (a blank, NaN,
    # equals no value).
    value = np.zeros(len(raw))
    for k, iid in enumerate(sc.items):
        value += np.isin(raw[:, idx[k]], list(set(sc.count_values[iid])))
    return value


def _gas_scores(sc: Scale, answers: Answers, idx, optional, n_req: int, wide: pd.DataFrame,
                cols: list, source: str | None):
    """A ``gas_tscore`` scale (see :func:`gas_sums` for the formula), goal by goal: a blank
    level is a goal not set; a blank weight is 1."""
    rows = len(answers.raw)
    missing, zeroed = answers.missing, answers.zeroed
    widx = [answers.index[w] for w in sc.weights] if sc.weights else None
    num, sw, sw2 = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    n_ans = np.zeros(rows, dtype=np.int16)
    n_exp = np.full(rows, n_req, dtype=np.int16) if optional.any() else n_req
    first_bad = None  # (row, goal) of the first weight <= 0 of a goal set, row first
    for j, i in enumerate(idx):
        goal_set = ~missing[:, i]
        n_ans += goal_set
        if optional[j]:
            n_exp += goal_set
        if widx is not None:
            w = np.where(missing[:, widx[j]], 1.0, zeroed[:, widx[j]])   # blank weight = 1
            bad = np.flatnonzero(goal_set & (w <= 0))
            if len(bad) and (first_bad is None or bad[0] < first_bad[0]):
                first_bad = (int(bad[0]), j)
            w = w * goal_set
        else:
            w = goal_set.astype(float)
        num += w * zeroed[:, i]
        sw += w
        sw2 += w * w
    if first_bad is not None:
        r, k = first_bad
        rec = wide.iloc[r]
        raise InputError(f"GAS weight must be greater than 0 for participant "
                         f"{rec['participant_id']} at {rec['timepoint']}",
                         file=source, column=cols[widx[k]],
                         value=_val(zeroed[r, widx[k]]), expected="a positive number (blank = 1)")
    value = gas_sums(num, sw, sw2, sc.rho.value)
    value[n_ans == 0] = np.nan  # no goal set: not administered, no score
    return value, n_ans, n_exp, np.where(n_ans == 0, _NOT_ADMIN, _OK).astype(np.int8)


def gas_sums(num: np.ndarray, sw: np.ndarray, sw2: np.ndarray, rho: float) -> np.ndarray:
    """Kiresuk-Sherman T from each row's sums of w x, w and w^2 (unset goals add nothing):
    T = 50 + 10 sum(w x) / sqrt((1 - rho) sum(w^2) + rho (sum w)^2); NaN without goals.

    Kiresuk TJ, Sherman RE (1968) Community Ment Health J 4:443-453; Turner-Stokes L (2009)
    Clin Rehabil 23:362-370 (corrected formula)."""
    den = np.sqrt((1 - rho) * sw2 + rho * sw * sw)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den * 10 + 50
    out[den == 0] = np.nan
    return out
