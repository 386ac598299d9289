"""Statistical disclosure control for the tables a report shows.

Every count a report shows passes through this module. The rules, in one place:

* **Primary suppression.** A count from 1 to ``k - 1`` (``k`` is the study's
  ``privacy.min_cell_size``, default 5) is shown as ``"<k"`` (e.g. ``"<5"``).
* **Zeros are shown.** A zero is not suppressed: it identifies nobody, and hiding every zero
  would force far more secondary suppression. This is the usual threshold rule for frequency
  tables (Hundepool et al. 2012, ch. 5) and common UK practice (NHS Digital's Hospital
  Episode Statistics suppress 1 to 7, not 0). Limitation: a zero can still support *group
  attribute disclosure* (e.g. every referred person at a site is in one age band); that is a
  question of table design, not of cell suppression.
* **Complementary (secondary) suppression.** A suppressed count must not be recoverable by
  subtraction from a total. We protect **every row total, every column total and the grand
  total, whether or not the table shows them**: a report almost always publishes the overall
  number of people somewhere, and the margins of one table are often cells of another.
  Cells hidden only to protect another cell are shown as ``"[c]"`` ("confidential", the
  symbol of the UK Government Analysis Function guidance on symbols in tables). They are
  always counts of ``k`` or more, so ``"<k"`` would be false for them.
* **Audit.** Two checks are applied until both hold: (1) no row or column (margins
  included) contains exactly one hidden cell; (2) no primary cell can be worked out exactly
  from everything shown (visible cells, totals, "<k" meaning 1..k-1, "[c]" meaning k or
  more): at least two values must remain possible. Check (1) alone is not enough: with zeros
  shown, a row ``1, 1, 0, 30`` with total 32 shown as ``<5, <5, 0, 30`` gives 1 + 1 = 2, so
  both are 1. Check (2) solves two small linear programmes per primary cell (the
  feasibility interval of the audit described by Hundepool et al. 2012, ch. 4; as
  ``ComputeIntervals`` in the R package GaussSuppression). Before those, a few programmes
  with random objectives over the whole table look for a feasible table in which each primary
  cell takes another value; a cell found there is not fixed, which is what its own two
  programmes would conclude, so only the others are solved one by one (the same decisions,
  at national scale a few seconds instead of minutes). Because the constraint matrix of
  a two-way table with margins is totally unimodular, the linear-programme bounds are the
  integer bounds. The guarantee is against exact recovery: a reader may still narrow a "<5"
  down (e.g. to 1..3), as with any threshold rule. Complements are the smallest visible
  non-zero count of the line (zeros are never used). A complement that ends up alone in a
  line protects nothing (the line gives it away) and is shown again.
* **Percentages** of a hidden count, or of a hidden denominator, are hidden too (2 of 40 shown
  as 5.0% would reveal the 2).
* **Rounding** (``privacy.rounding`` in ``study.yaml``, e.g. 5): every count shown is rounded
  to the nearest multiple (halves up), after suppression, and percentages are computed from
  the rounded numerator and denominator. This is NHS Digital's practice for sub-national
  Hospital Episode Statistics (counts of 1 to 7 suppressed, all others rounded to the nearest
  5). Suppression protects each table; rounding also defeats working a suppressed count out
  by subtracting one published table from another (a site report from the whole-study
  report), which no single table's suppression can prevent.

When a table cannot be protected (a small count that equals a total published elsewhere,
e.g. a row ``[3, 0, 0]`` whose row total 3 is published), a :class:`DisclosureWarning`
names the cell, and :func:`protect_counts` lists it in its result (``unprotected``); merge
categories or do not publish that total.

References
----------
Hundepool A, Domingo-Ferrer J, Franconi L, et al. (2012). *Statistical Disclosure Control*.
Wiley. doi:10.1002/9781118348239 (ch. 4 tabular data, cell suppression and auditing;
ch. 5 frequency tables).
Government Analysis Function (2021). *Symbols in tables: definitions and help* ("[c]"
confidential, "[z]" not applicable).
NHS Digital. *Hospital Episode Statistics (HES) Analysis Guide*: small numbers (1 to 7)
suppressed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spanalysis.errors import InputError

__all__ = ["DisclosureWarning", "COMPLEMENTARY_MARKER", "NOT_APPLICABLE_MARKER",
           "primary_marker", "Suppression", "protect_counts", "suppression_pattern",
           "suppress_counts", "suppress_series", "percent_with_suppression",
           "withhold_small_groups", "count_table_html", "suppression_notes", "scan_html_for_small_counts",
           "round_counts"]

#: shown in place of a count hidden only to protect another cell (GSS symbol "[c]")
COMPLEMENTARY_MARKER = "[c]"
#: shown where a percentage has no denominator (0 of 0), GSS symbol "[z]"
NOT_APPLICABLE_MARKER = "[z]"

_TOTAL_LABELS = {"total", "totals", "all", "overall", "grand total"}
_NONE, _PRIMARY, _COMPLEMENTARY = 0, 1, 2
_REASON = np.array(["", "primary", "complementary"], dtype=object)


class DisclosureWarning(UserWarning):
    """A suppressed count can still be worked out exactly (from totals published elsewhere)."""


def primary_marker(k: int) -> str:
    """The text shown for a primary-suppressed count: ``"<k"``."""
    return f"<{k}"


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError("the minimum cell size must be a whole number of 2 or more",
                         column="min_cell_size", value=k, expected="an integer >= 2 (usually 5)")
    return int(k)


def _check_rounding(rounding) -> int | None:
    if rounding is None:
        return None
    if isinstance(rounding, bool) or not isinstance(rounding, (int, np.integer)) \
            or rounding < 2:
        raise InputError("rounding must be a whole number of at least 2, or none",
                         column="rounding", value=rounding, expected="e.g. 5, or leave it out")
    return int(rounding)


def round_counts(values, base: int | None):
    """``values`` rounded to the nearest multiple of ``base``, halves up (``None``: as they
    are). 0 stays 0; 1 and 2 become 0 with base 5, which is why small counts are suppressed
    first and rounded after.

    >>> round_counts([0, 2, 3, 7, 8, 12, 13], 5).tolist()
    [0, 0, 5, 5, 10, 10, 15]
    """
    base = _check_rounding(base)
    values = np.asarray(values)
    if base is None:
        return values
    return (np.floor(values / base + 0.5) * base).astype(np.int64)


def _counts_array(table: pd.DataFrame, label: str | None) -> np.ndarray:
    """Validated non-negative integer counts as an int64 array (never modifies ``table``)."""
    values = table.to_numpy(dtype=object)
    out = np.zeros(values.shape, dtype=np.int64)
    flat = values.ravel()
    numeric = pd.to_numeric(pd.Series(flat, dtype=object), errors="coerce").to_numpy(float)
    # booleans and text are not counts, even when they convert to numbers
    is_bool = np.array([isinstance(v, (bool, np.bool_, str, bytes)) for v in flat], dtype=bool)
    bad = (np.isnan(numeric) | (numeric < 0) | (numeric != np.floor(numeric))
           | ~np.isfinite(numeric) | is_bool)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        i, j = divmod(pos, values.shape[1])
        raise InputError(f"count in row {table.index[i]!r} is not a whole number of 0 or more",
                         file=label, column=str(table.columns[j]), value=flat[pos],
                         expected="a whole number of 0 or more")
    out.ravel()[:] = numeric.astype(np.int64)
    return out


def _is_total_label(lab) -> bool:
    parts = lab if isinstance(lab, tuple) else (lab,)
    return any(isinstance(p, str) and p.strip().casefold() in _TOTAL_LABELS for p in parts)


def _resolve_totals(table: pd.DataFrame, values: np.ndarray, totals: str,
                    label: str | None) -> tuple[bool, bool]:
    """(has total row, has total column); checks that declared totals add up."""
    allowed = ("auto", "none", "row", "column", "both")
    if totals not in allowed:
        raise InputError("unknown 'totals' setting", file=label, value=totals,
                         expected="one of " + ", ".join(allowed))
    nrow, ncol = values.shape
    if totals == "auto":
        has_row = nrow >= 2 and _is_total_label(table.index[-1])
        has_col = ncol >= 2 and _is_total_label(table.columns[-1])
    else:
        has_row, has_col = totals in ("row", "both"), totals in ("column", "both")
    if has_row and nrow < 2 or has_col and ncol < 2:
        raise InputError("a table with a total row/column needs at least one other row/column",
                         file=label, value=values.shape, expected="at least 2 rows/columns")
    body_r = nrow - has_row
    body_c = ncol - has_col
    if has_row:
        sums = values[:body_r].sum(axis=0)
        wrong = np.flatnonzero(sums != values[body_r])
        if wrong.size:
            j = int(wrong[0])
            raise InputError(f"the total row {table.index[body_r]!r} does not equal the sum of "
                             "the rows above it", file=label, column=str(table.columns[j]),
                             value=int(values[body_r, j]), expected=str(int(sums[j])))
    if has_col:
        sums = values[:, :body_c].sum(axis=1)
        wrong = np.flatnonzero(sums != values[:, body_c])
        if wrong.size:
            i = int(wrong[0])
            raise InputError(f"the total column does not equal the sum of the other columns in "
                             f"row {table.index[i]!r}", file=label,
                             column=str(table.columns[body_c]), value=int(values[i, body_c]),
                             expected=str(int(sums[i])))
    return has_row, has_col


@dataclass
class _Problem:
    """A two-way table with margins: ``A`` is (R+1) x (C+1), margins in the last row/col."""

    A: np.ndarray        # values, margins included
    shown: np.ndarray    # cells the table displays
    known: np.ndarray    # cells whose value the reader knows or may know (shown or published)
    lines: list          # (cells as flat indices, coefficients) for each additive constraint


def _build_problem(body: np.ndarray, has_row: bool, has_col: bool) -> _Problem:
    R, C = body.shape
    A = np.zeros((R + 1, C + 1), dtype=np.int64)
    A[:R, :C] = body
    A[:R, C] = body.sum(axis=1)
    A[R, :C] = body.sum(axis=0)
    A[R, C] = body.sum()
    shown = np.zeros(A.shape, dtype=bool)
    shown[:R, :C] = True
    shown[:R, C] = has_col
    shown[R, :C] = has_row
    shown[R, C] = has_row and has_col
    known = shown.copy()
    # Totals assumed published elsewhere. A row total of a one-column table is the cell itself
    # (and a column total of a one-row table likewise), so it is not an extra fact.
    if C >= 2:
        known[:R, C] = True
    if R >= 2:
        known[R, :C] = True
    if R * C >= 2:
        known[R, C] = True
    lines = []
    ncols = C + 1
    for i in range(R + 1):      # sum of row i's cells equals its total (row R: the column totals)
        cells = np.array([i * ncols + j for j in range(C + 1)])
        lines.append((cells, np.r_[np.ones(C), -1.0]))
    for j in range(C + 1):      # sum of column j's cells equals its total
        cells = np.array([i * ncols + j for i in range(R + 1)])
        lines.append((cells, np.r_[np.ones(R), -1.0]))
    flat_known = known.ravel()
    lines = [(cells, coef) for cells, coef in lines if flat_known[cells].all()]
    return _Problem(A, shown, known, lines)


def _audit_lp(prob: _Problem, status: np.ndarray, k: int) -> dict:
    """The audit's linear constraints for a suppression ``status``: the unknowns are the
    hidden cells; each additive line is an equation; "<k" cells lie in 1..k-1, "[c]" cells
    are k or more (they are always chosen among visible non-zero counts, all of which are >= k
    once the small ones are hidden)."""
    flat = prob.A.ravel().astype(float)
    mask = status.ravel() > 0
    hidden = np.flatnonzero(mask)
    var = {int(c): n for n, c in enumerate(hidden)}
    lines = np.zeros((len(prob.lines), flat.size))      # each line's coefficients by cell
    for n, (cells, coef) in enumerate(prob.lines):
        np.add.at(lines[n], cells, coef)
    used = (lines[:, mask] != 0).any(axis=1)            # lines with a hidden cell
    rows = lines[used][:, mask]
    rhs = -(lines[used][:, ~mask] @ flat[~mask])
    st = status.ravel()[hidden]
    bounds = [(1, k - 1) if s == _PRIMARY else (k, None) for s in st]
    return {"hidden": hidden, "var": var, "bounds": bounds,
            "kw": dict(A_eq=rows if len(rows) else None, b_eq=rhs if len(rows) else None,
                       bounds=bounds, method="highs")}


def _feasible_range(prob: _Problem, status: np.ndarray, k: int, cell: int) -> tuple[int, int]:
    """Smallest and largest value of hidden ``cell`` consistent with what the table shows,
    as two linear programmes (HiGHS) over :func:`_audit_lp`'s constraints."""
    from scipy.optimize import linprog

    lp = _audit_lp(prob, status, k)
    objective = np.zeros(len(lp["hidden"]))
    objective[lp["var"][cell]] = 1.0
    lo = linprog(objective, **lp["kw"])
    hi = linprog(-objective, **lp["kw"])
    if lo.status != 0 or hi.status not in (0, 3):  # 3 = unbounded above
        raise RuntimeError(f"disclosure audit failed: {lo.message} / {hi.message}")
    upper = np.inf if hi.status == 3 else -hi.fun
    return int(round(lo.fun)), (upper if upper == np.inf else int(round(upper)))


#: linear programmes with random objectives tried by :func:`_not_fixed` before the audit
#: falls back to two programmes per cell
_BATCH_TRIES = 6


def _not_fixed(prob: _Problem, status: np.ndarray, k: int, cells: list[int]) -> set[int]:
    """The primary ``cells`` that are certainly not fixed by what the table shows: a feasible
    table (a vertex found by a linear programme with a random objective) in which the cell
    differs from its true value by at least one. The true table is feasible too, so each such
    cell has at least two possible values: exactly what the per-cell audit
    (:func:`_feasible_range`: ``hi > lo``) would conclude, at a few programmes for the whole
    table instead of two per cell. A cell not found here is left to the per-cell audit.

    The vertices are integral (the constraint matrix of a two-way table with margins is
    totally unimodular), so a difference of at least one half is a difference of one.
    """
    from scipy.optimize import linprog

    if not cells:
        return set()
    lp = _audit_lp(prob, status, k)
    var, hidden = lp["var"], lp["hidden"]
    truth = prob.A.ravel()[hidden].astype(float)
    # a finite upper bound for "[c]" cells, so that no objective is unbounded: the largest
    # value any cell of the table can take is the grand total
    bounds = [(lo, hi if hi is not None else float(prob.A.max()) + k) for lo, hi in lp["bounds"]]
    kw = dict(lp["kw"], bounds=bounds)
    rng = np.random.default_rng(0)      # fixed: the same tables give the same programmes
    index = np.array([var[c] for c in cells])
    found: set[int] = set()
    for attempt in range(_BATCH_TRIES):
        open_ = np.array([i for i, c in zip(index, cells) if c not in found])
        if open_.size == 0:
            break
        objective = np.zeros(len(hidden))
        # all up, all down, then random signs: each cell is pushed away from its value
        signs = (np.ones(open_.size) if attempt == 0 else -np.ones(open_.size) if attempt == 1
                 else rng.choice([-1.0, 1.0], size=open_.size))
        objective[open_] = signs * rng.uniform(0.5, 1.5, size=open_.size)
        res = linprog(-objective, **kw)
        if res.status != 0:
            break                           # the per-cell audit will say what is wrong
        moved = np.abs(res.x - truth) >= 0.5
        before = len(found)
        found.update(c for i, c in zip(index, cells) if moved[i])
        if attempt >= 2 and len(found) == before:
            break                           # random signs find no more: audit the rest
    return found


def _smallest(candidates: np.ndarray, flat: np.ndarray) -> int | None:
    """The candidate with the smallest count (the first one on ties: np.argmin)."""
    if candidates.size == 0:
        return None
    return int(candidates[np.argmin(flat[candidates])])


def _protect(prob: _Problem, k: int) -> tuple[np.ndarray, list[int]]:
    """Suppression status of every cell of ``prob.A`` and the primary cells left exposed."""
    flat = prob.A.ravel()
    shown = prob.shown.ravel()
    status = np.zeros(flat.shape, dtype=np.int8)
    status[shown & (flat >= 1) & (flat < k)] = _PRIMARY

    banned = np.zeros(flat.shape, dtype=bool)

    def candidates(cells):
        return cells[shown[cells] & (status[cells] == _NONE) & (flat[cells] > 0)
                     & ~banned[cells]]

    def line_rule():
        # A line (row or column, margins included) with exactly one hidden cell gives that
        # cell away by subtraction: hide the smallest visible non-zero count of the line too.
        while True:
            changed = False
            for cells, _ in prob.lines:
                on_show = cells[shown[cells]]
                if np.count_nonzero(status[on_show]) == 1:
                    pick = _smallest(candidates(on_show), flat)
                    if pick is not None:
                        status[pick] = _COMPLEMENTARY
                        changed = True
            if not changed:
                return

    def settle():
        # The line rule, then: a complementary cell left alone in a line (no non-zero cell
        # to pair it with) can be worked out from that line, so hiding it protects nothing.
        # Show it again, never choose it again, and re-apply the rule (which then picks
        # another complement for the line it was meant to protect). The banned set grows,
        # so this ends.
        while True:
            line_rule()
            useless = set()
            for cells, _ in prob.lines:
                on_show = cells[shown[cells]]
                hid = on_show[status[on_show] > 0]
                if hid.size == 1 and status[hid[0]] == _COMPLEMENTARY:
                    useless.add(int(hid[0]))
            if not useless:
                return
            for cell in useless:
                status[cell] = _NONE
                banned[cell] = True

    settle()
    todo = list(np.flatnonzero(status == _PRIMARY))
    exposed: list[int] = []
    certified: set[int] = set()     # cells known not to be fixed (hiding more keeps it so)
    batch_status = None
    while todo:
        cell = todo[0]
        if cell not in certified and not np.array_equal(status, batch_status):
            # a few programmes for every cell still to audit, before two per cell
            batch_status = status.copy()
            certified |= _not_fixed(prob, status.reshape(prob.A.shape), k,
                                    [int(c) for c in todo if c not in certified])
        if cell in certified:
            todo.pop(0)
            continue
        lo, hi = _feasible_range(prob, status.reshape(prob.A.shape), k, cell)
        if hi > lo:
            todo.pop(0)     # hiding more cells only widens ranges: no need to audit again
            continue
        # If hiding every visible non-zero count would not help, the cell is given away by
        # totals published elsewhere: say so rather than hide cells for nothing.
        everything = status.copy()
        everything[candidates(np.arange(flat.size))] = _COMPLEMENTARY
        lo_all, hi_all = _feasible_range(prob, everything.reshape(prob.A.shape), k, cell)
        if hi_all == lo_all:
            exposed.append(cell)
            todo.pop(0)
            continue
        own = np.concatenate([cells for cells, _ in prob.lines if cell in cells] or [[]])
        pick = _smallest(candidates(np.unique(own.astype(np.int64))), flat)
        if pick is None:    # widen: any line that already holds a hidden cell
            near = [cells for cells, _ in prob.lines if np.count_nonzero(status[cells])]
            pool = np.unique(np.concatenate(near)) if near else np.array([], dtype=np.int64)
            pick = _smallest(candidates(pool), flat)
        if pick is None:
            exposed.append(cell)
            todo.pop(0)
            continue
        status[pick] = _COMPLEMENTARY
        settle()
    return status.reshape(prob.A.shape), exposed


def _table_shape(table: pd.DataFrame, totals: str, k: int, label: str | None):
    if not isinstance(table, pd.DataFrame):
        raise InputError("a count table must be a pandas DataFrame", file=label,
                         value=type(table).__name__, expected="DataFrame")
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise InputError("the count table is empty", file=label, value=table.shape,
                         expected="at least one row and one column")
    k = _check_k(k)
    values = _counts_array(table, label)
    has_row, has_col = _resolve_totals(table, values, totals, label)
    body = values[: values.shape[0] - has_row, : values.shape[1] - has_col]
    prob = _build_problem(body, has_row, has_col)
    status, exposed = _protect(prob, k)
    R, C = body.shape
    # Map the (R+1) x (C+1) problem back onto the displayed table.
    rows = list(range(R)) + ([R] if has_row else [])
    cols = list(range(C)) + ([C] if has_col else [])
    sel = np.ix_(rows, cols)
    return k, values, status[sel], exposed, prob, (rows, cols)


def _warn_exposed(table, exposed, prob, positions, label, stacklevel=3):
    """The ``(row, column)`` labels of the ``exposed`` cells (``"(total)"`` for a margin the
    table does not show), with a :class:`DisclosureWarning` naming them when there are any.
    ``stacklevel`` 3 names the line that called the public function calling this."""
    if not exposed:
        return []
    rows, cols = positions
    ncols = prob.A.shape[1]
    where = []
    for cell in exposed:
        i, j = divmod(int(cell), ncols)
        rlab = table.index[rows.index(i)] if i in rows else "(total)"
        clab = table.columns[cols.index(j)] if j in cols else "(total)"
        where.append((rlab, clab))
    named = ", ".join(f"row {r!r} column {c!r}" for r, c in where)
    warnings.warn(f"{label + ': ' if label else ''}the suppressed count(s) at {named} can "
                  "still be worked out from totals published elsewhere; merge categories "
                  "or do not publish those totals", DisclosureWarning, stacklevel=stacklevel)
    return where


@dataclass(frozen=True)
class Suppression:
    """A count table after disclosure control (:func:`protect_counts`).

    Attributes
    ----------
    shown : DataFrame or Series
        What to display: every cell a string, the count (``"12"``, ``"0"``), ``"<k"`` or
        ``"[c]"`` (as :func:`suppress_counts` returns).
    pattern : DataFrame or Series
        Why each cell is hidden: ``""``, ``"primary"`` or ``"complementary"`` (as
        :func:`suppression_pattern` returns).
    unprotected : tuple of (row, column)
        Labels of the primary cells that can still be worked out exactly from totals
        published elsewhere (``"(total)"`` for a margin the table does not show). Empty when
        the table is protected.
    """

    shown: pd.DataFrame | pd.Series
    pattern: pd.DataFrame | pd.Series
    unprotected: tuple = ()


def _protected(table: pd.DataFrame, k, totals: str, label: str | None,
               stacklevel: int, rounding: int | None = None) -> Suppression:
    """Suppress ``table``, then round what is shown to ``rounding``. ``stacklevel`` is passed
    to :func:`warnings.warn` in :func:`_warn_exposed`: 4 names the line that called the
    public function calling this."""
    rounding = _check_rounding(rounding)
    k, values, status, exposed, prob, positions = _table_shape(table, totals, k, label)
    text = round_counts(values, rounding).astype(str).astype(object)
    text[status == _PRIMARY] = primary_marker(k)
    text[status == _COMPLEMENTARY] = COMPLEMENTARY_MARKER
    shown = pd.DataFrame(text, index=table.index, columns=table.columns, dtype=object)
    pattern = pd.DataFrame(_REASON[status], index=table.index, columns=table.columns)
    where = _warn_exposed(table, exposed, prob, positions, label, stacklevel=stacklevel)
    return Suppression(shown, pattern, tuple(where))


def protect_counts(counts, k: int = 5, *, totals: str = "auto",
                   label: str | None = None, rounding: int | None = None) -> Suppression:
    """Disclosure control of a count table, with everything it found in one result.

    Parameters
    ----------
    counts : DataFrame or Series
        Counts, as for :func:`suppress_counts` (a Series as for :func:`suppress_series`).
    k, totals, label, rounding
        As :func:`suppress_counts` (for a Series, ``totals`` is "auto", "none" or "row").

    Returns
    -------
    Suppression
        ``shown`` (the display strings), ``pattern`` (why each cell is hidden) and
        ``unprotected`` (the primary cells that can still be worked out exactly from totals
        published elsewhere; a :class:`DisclosureWarning` names them too). For a Series,
        ``shown`` and ``pattern`` are Series and each unprotected cell is ``(row, name)``.

    Examples
    --------
    >>> import pandas as pd, warnings
    >>> t = pd.DataFrame([[3, 0, 0], [10, 20, 30]], index=["Hillview", "Riverside"])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DisclosureWarning)
    ...     result = protect_counts(t, k=5)
    >>> result.shown.loc["Hillview"].tolist(), result.unprotected
    (['<5', '0', '0'], (('Hillview', 0),))
    """
    if not isinstance(counts, pd.Series):
        return _protected(counts, k, totals, label, stacklevel=4, rounding=rounding)
    if totals not in ("auto", "none", "row"):
        raise InputError("unknown 'totals' setting", file=label, value=totals,
                         expected="one of auto, none, row")
    name = counts.name if counts.name is not None else "count"
    result = _protected(counts.to_frame(name=name), k, totals, label, stacklevel=4,
                        rounding=rounding)
    return Suppression(result.shown[name].rename(counts.name),
                       result.pattern[name].rename(counts.name), result.unprotected)


def suppression_pattern(table: pd.DataFrame, k: int = 5, *, totals: str = "auto",
                        label: str | None = None) -> pd.DataFrame:
    """Which cells of a count table are suppressed, and why.

    Parameters
    ----------
    table, k, totals, label
        As :func:`suppress_counts`.

    Returns
    -------
    DataFrame
        Same index and columns as ``table``; each cell is ``""`` (shown), ``"primary"`` (a
        count from 1 to k-1) or ``"complementary"`` (hidden so that a primary cell cannot be
        worked out from totals). When a primary cell can still be worked out exactly, a
        :class:`DisclosureWarning` names it; :func:`protect_counts` also returns the list.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"Riverside": [3, 20], "Hillview": [15, 25]}, index=["Yes", "No"])
    >>> suppression_pattern(t, k=5)
                 Riverside       Hillview
    Yes          primary  complementary
    No   complementary  complementary
    """
    return _protected(table, k, totals, label, stacklevel=4).pattern


def suppress_counts(table: pd.DataFrame, k: int = 5, *, totals: str = "auto",
                    label: str | None = None, return_pattern: bool = False,
                    rounding: int | None = None):
    """Suppress small counts in a count table, with complementary suppression.

    Parameters
    ----------
    table : DataFrame
        Non-negative whole-number counts (rows x columns), optionally with a total row
        (last row) and/or a total column (last column). The input is never modified.
    k : int, default 5
        Minimum cell size (``privacy.min_cell_size`` in ``study.yaml``). Counts 1..k-1 are
        suppressed.
    totals : {"auto", "none", "row", "column", "both"}, default "auto"
        Which margins the table *shows*. ``"auto"`` treats a last row/column labelled
        Total, Totals, All (pandas ``crosstab(margins=True)``), Overall or Grand total as a
        margin. Margins are checked to equal the sums. Whatever is shown, row, column and
        grand totals are protected as if published elsewhere.
    label : str, optional
        Name of the table, used in messages.
    return_pattern : bool, default False
        Also return :func:`suppression_pattern`'s frame (:func:`protect_counts` returns
        both and the cells that could not be protected).
    rounding : int, optional
        ``privacy.rounding``: every count shown is rounded to the nearest multiple (halves
        up) after suppression (see the module docstring).

    Returns
    -------
    DataFrame
        Object dtype, same index and columns; every cell a string: the count (``"12"``,
        ``"0"``), ``"<k"`` for a primary-suppressed count or ``"[c]"`` for a complementary
        one. With ``return_pattern=True``, a tuple ``(display, pattern)``.

    Notes
    -----
    See the module docstring for the rules and their sources. Primary: ``1 <= x <= k-1``.
    Complementary: in every row and column (margins included) with exactly one hidden cell,
    the smallest visible non-zero count is hidden too, repeated until stable; then each
    primary cell is audited by linear programming and more cells are hidden until at least
    two values of it are consistent with the table.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"Riverside": [3, 20], "Hillview": [15, 25]}, index=["Yes", "No"])
    >>> suppress_counts(t, k=5)
        Riverside Hillview
    Yes        <5      [c]
    No        [c]      [c]
    """
    result = _protected(table, k, totals, label, stacklevel=4, rounding=rounding)
    if not return_pattern:
        return result.shown
    return result.shown, result.pattern


def suppress_series(counts: pd.Series, k: int = 5, *, totals: str = "auto",
                    label: str | None = None, return_pattern: bool = False,
                    rounding: int | None = None):
    """Suppress small counts in one column of counts whose total is (or may be) published.

    Parameters
    ----------
    counts : Series
        Non-negative whole-number counts, e.g. people per site. May end with a total entry.
    k : int, default 5
        Minimum cell size.
    totals : {"auto", "none", "row"}, default "auto"
        ``"row"``: the last entry is the total; ``"auto"``: it is when labelled Total, All,
        Overall or Grand total. The total is protected whether or not it is shown.
    label : str, optional
        Name used in messages.
    return_pattern : bool, default False
        Also return the reasons (``""``, ``"primary"``, ``"complementary"``) as a Series.
    rounding : int, optional
        Counts shown rounded to the nearest multiple, as :func:`suppress_counts`.

    Returns
    -------
    Series
        Object dtype strings: counts, ``"<k"`` or ``"[c]"``.

    Notes
    -----
    The one-column case of :func:`suppress_counts`: if one count is hidden, the total
    would give it away, so the next smallest non-zero count is hidden too (and more if the
    hidden counts add up to so little that "[c]" >= k would pin the small one down, as in
    1 and 5 hidden out of a total of 6).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series([3, 12, 40, 55], index=["Hillview", "Riverside", "Lakeside", "Total"])
    >>> suppress_series(s, k=5).tolist()
    ['<5', '[c]', '40', '55']
    """
    if not isinstance(counts, pd.Series):
        raise InputError("counts must be a pandas Series", file=label,
                         value=type(counts).__name__, expected="Series")
    result = protect_counts(counts, k, totals=totals, label=label, rounding=rounding)
    if return_pattern:
        return result.shown, result.pattern
    return result.shown


def percent_with_suppression(counts, k: int = 5, *, of: str = "column", totals: str = "auto",
                             decimals: int = 1, label: str | None = None,
                             rounding: int | None = None) -> pd.DataFrame:
    """Percentages of a count table, hidden wherever they would reveal a suppressed count.

    Parameters
    ----------
    counts : DataFrame or Series
        Counts, as for :func:`suppress_counts` (a Series is treated as one column).
    k : int, default 5
        Minimum cell size.
    of : {"column", "row", "all"}, default "column"
        Denominator: the column total, the row total or the grand total.
    totals : str, default "auto"
        Which margins ``counts`` contains (see :func:`suppress_counts`). Shown margins get
        percentages too (a total row is 100 for ``of="column"``).
    decimals : int, default 1
        Decimal places.
    label : str, optional
        Name used in messages.
    rounding : int, optional
        ``privacy.rounding``: percentages computed from the rounded count and the rounded
        denominator (NHS Digital's practice), so they agree with the counts shown.

    Returns
    -------
    DataFrame (or Series for a Series input)
        Object dtype strings such as ``"37.5"``; ``"[c]"`` where the count or the
        denominator is suppressed; ``"[z]"`` where the denominator is 0.

    Notes
    -----
    :math:`p_{ij} = 100\\,x_{ij} / d_{ij}` with :math:`d_{ij}` the column total
    :math:`\\sum_i x_{ij}`, the row total :math:`\\sum_j x_{ij}` or the grand total. A
    percentage is hidden when :math:`x_{ij}` is hidden (2 of 40 shown as 5.0% gives away
    the 2) and when :math:`d_{ij}` is a hidden cell of the table (percentages of visible
    counts would give the hidden total away).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series([2, 18, 20], index=["Hillview", "Riverside", "Lakeside"])
    >>> percent_with_suppression(s, k=5).tolist()
    ['[c]', '[c]', '50.0']
    """
    is_series = isinstance(counts, pd.Series)
    if is_series:
        if totals not in ("auto", "none", "row"):
            raise InputError("unknown 'totals' setting", file=label, value=totals,
                             expected="one of auto, none, row")
        name = counts.name if counts.name is not None else "count"
        table = counts.to_frame(name=name)
        if of != "column":
            raise InputError("percentages of a single column are of its total", file=label,
                             value=of, expected="of='column'")
    else:
        table = counts
    if of not in ("column", "row", "all"):
        raise InputError("unknown 'of' setting", file=label, value=of,
                         expected="one of column, row, all")
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)) or decimals < 0:
        raise InputError("decimals must be a whole number of 0 or more", file=label,
                         value=decimals, expected="0, 1, 2, ...")
    rounding = _check_rounding(rounding)
    k, values, status, exposed, prob, (rows, cols) = _table_shape(table, totals, k, label)
    _warn_exposed(table, exposed, prob, (rows, cols), label)
    A = round_counts(prob.A, rounding).astype(float)
    R, C = A.shape[0] - 1, A.shape[1] - 1
    full_status = np.zeros(A.shape, dtype=np.int8)
    full_status[np.ix_(rows, cols)] = status
    if of == "column":
        denom = np.broadcast_to(A[R, :], A.shape)
        denom_hidden = np.broadcast_to(full_status[R, :] > 0, A.shape)
    elif of == "row":
        denom = np.broadcast_to(A[:, C][:, None], A.shape)
        denom_hidden = np.broadcast_to((full_status[:, C] > 0)[:, None], A.shape)
    else:
        denom = np.full(A.shape, A[R, C])
        denom_hidden = np.full(A.shape, full_status[R, C] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * A / denom
    text = np.array([f"{p:.{decimals}f}" for p in pct.ravel()], dtype=object).reshape(A.shape)
    text[denom == 0] = NOT_APPLICABLE_MARKER
    text[(full_status > 0) | (denom_hidden & (denom > 0))] = COMPLEMENTARY_MARKER
    out = pd.DataFrame(text[np.ix_(rows, cols)], index=table.index, columns=table.columns,
                       dtype=object)
    if is_series:
        return out[name].rename(counts.name)
    return out


def withhold_small_groups(stats_table: pd.DataFrame, n_col: str, k: int = 5, *,
                          stat_cols=None, totals: str = "auto",
                          label: str | None = None,
                          rounding: int | None = None) -> pd.DataFrame:
    """Withhold the statistics of groups with fewer than ``k`` people.

    Parameters
    ----------
    stats_table : DataFrame
        One row per group (e.g. per site), with a column of group sizes.
    n_col : str
        Column holding each group's number of people.
    k : int, default 5
        Minimum group size.
    stat_cols : list of str, optional
        Statistics to withhold. Default: every column except ``n_col`` and text columns
        (group labels should be in the index or a text column).
    totals : {"auto", "none", "row"}, default "auto"
        Whether the last row is an overall row (see :func:`suppress_series`).
    label : str, optional
        Name used in messages.
    rounding : int, optional
        ``privacy.rounding``: the group sizes shown are rounded to this multiple.

    Returns
    -------
    DataFrame
        A copy: ``n_col`` as display strings (counts, ``"<k"``, ``"[c]"``), ``stat_cols``
        replaced by ``"[c]"`` for withheld groups (object dtype), and a column ``withheld``:
        ``""``, ``"primary"`` (n from 1 to k-1) or ``"complementary"`` (hidden so the small
        group's n cannot be found from the overall n).

    Notes
    -----
    Group sizes get the same protection as :func:`suppress_series` (the overall n is always
    published in a report). Statistics are withheld for every group whose n is hidden: with
    two groups hidden, an overall mean cannot be unpicked into the small group's mean.
    A group of 0 people has no statistics to withhold.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"site": ["Hillview", "Riverside", "Lakeside"],
    ...                   "n": [3, 12, 40], "mean_change": [4.0, 2.5, 3.1]})
    >>> out = withhold_small_groups(t, "n", k=5)
    >>> out[["n", "mean_change", "withheld"]].values.tolist()
    [['<5', '[c]', 'primary'], ['[c]', '[c]', 'complementary'], ['40', 3.1, '']]
    """
    if not isinstance(stats_table, pd.DataFrame):
        raise InputError("the statistics table must be a pandas DataFrame", file=label,
                         value=type(stats_table).__name__, expected="DataFrame")
    if n_col not in stats_table.columns:
        raise InputError("the group-size column is missing", file=label, column=n_col,
                         expected=f"a column named {n_col!r}")
    if stat_cols is None:
        stat_cols = [c for c in stats_table.columns
                     if c != n_col and not pd.api.types.is_string_dtype(stats_table[c])]
    else:
        stat_cols = list(stat_cols)
        missing = [c for c in stat_cols if c not in stats_table.columns]
        if missing:
            raise InputError("a statistics column is missing", file=label,
                             column=str(missing[0]), expected="a column of stats_table")
    shown, reasons = suppress_series(stats_table[n_col], k, totals=totals, label=label,
                                     return_pattern=True, rounding=rounding)
    out = stats_table.copy()
    out[n_col] = shown.to_numpy()
    hide = (reasons != "").to_numpy()
    for col in stat_cols:
        column = out[col].astype(object)
        column[hide] = COMPLEMENTARY_MARKER
        out[col] = column
    out["withheld"] = reasons.to_numpy()
    return out


# ---------------------------------------------------------------------------------------------
# HTML: rendering suppressed tables, and scanning reports for small counts
# ---------------------------------------------------------------------------------------------

def suppression_notes(pattern: pd.DataFrame, k: int, rounding: int | None = None
                      ) -> list[str]:
    """The notes under a protected count table (plain text): what "<k" and "[c]" mean, for
    the markers ``pattern`` (:func:`suppression_pattern`) uses, and the rounding."""
    used = set(pattern.to_numpy().ravel()) - {""}
    notes = []
    if "primary" in used:
        notes.append(f"{primary_marker(k)}: a count from 1 to {k - 1}, not shown to protect "
                     "privacy.")
    if "complementary" in used:
        notes.append(f"{COMPLEMENTARY_MARKER}: not shown so that a small count cannot be "
                     "worked out from the totals.")
    if rounding:
        notes.append(f"Counts are rounded to the nearest {int(rounding)}.")
    return notes


def count_table_html(table: pd.DataFrame, k: int = 5, *, totals: str = "auto",
                     caption: str | None = None, label: str | None = None,
                     rounding: int | None = None, hide=None) -> str:
    """An accessible HTML table of counts with disclosure control applied.

    Parameters
    ----------
    table : DataFrame
        Raw counts (see :func:`suppress_counts`); suppression is applied here, so a table
        rendered by this function never shows a small count.
    k, totals, label, rounding
        As :func:`suppress_counts`.
    caption : str, optional
        Table caption (escaped).
    hide : DataFrame of bool, optional
        Cells to hide as well (shown as ``"[c]"``), with ``table``'s index and columns: the
        cells another published table hides, so that this table cannot be set against it to
        work a hidden count out (a site report's row of the whole-study table by site).
        Hiding more cells never makes a hidden count easier to work out.

    Returns
    -------
    str
        ``<table class="sp-counts" data-k="5">`` with ``<th scope="col">`` headers,
        ``<th scope="row">`` row labels, every count cell ``<td data-count="...">`` (the
        shown value, or ``data-suppressed="primary|complementary"``), all text escaped, and
        a footnote explaining the symbols when any are used. Display it in a notebook with
        ``IPython.display.HTML``. :func:`scan_html_for_small_counts` recognises the class.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n": [3, 12, 40]}, index=["Hillview", "Riverside", "Lakeside"])
    >>> html = count_table_html(t, caption="People referred")
    >>> 'data-suppressed="primary"' in html and "&lt;5" in html
    True
    """
    from html import escape

    display, pattern = suppress_counts(table, k, totals=totals, label=label,
                                       return_pattern=True, rounding=rounding)
    if hide is not None:
        forced = (hide.reindex(index=table.index, columns=table.columns).fillna(False)
                  .astype(bool).to_numpy() & (pattern.to_numpy() == ""))
        display, pattern = display.mask(forced, COMPLEMENTARY_MARKER), pattern.mask(
            forced, "complementary")
    k = _check_k(k)
    out = [f'<table class="sp-counts" data-k="{k}">']
    if caption:
        out.append(f"<caption>{escape(str(caption))}</caption>")
    corner = escape(str(table.index.name)) if table.index.name is not None else ""
    head = "".join(f'<th scope="col">{escape(str(c))}</th>' for c in table.columns)
    out.append(f'<thead><tr><th scope="col">{corner}</th>{head}</tr></thead><tbody>')
    for i, row_label in enumerate(table.index):
        cells = []
        for j in range(table.shape[1]):
            why = pattern.iat[i, j]
            text = escape(display.iat[i, j])
            if why:
                cells.append(f'<td data-count="" data-suppressed="{why}">{text}</td>')
            else:
                cells.append(f'<td data-count="{text}">{text}</td>')
        out.append(f'<tr><th scope="row">{escape(str(row_label))}</th>{"".join(cells)}</tr>')
    out.append("</tbody>")
    notes = [escape(note, quote=False) for note in suppression_notes(pattern, k, rounding)]
    if notes:
        out.append(f'<tfoot><tr><td colspan="{table.shape[1] + 1}">{" ".join(notes)}'
                   "</td></tr></tfoot>")
    out.append("</table>")
    return "".join(out)


# the HTML scan lives in its own module; it is part of this module's interface
from spanalysis.privacy.scan import scan_html_for_small_counts  # noqa: E402
