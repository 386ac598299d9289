"""Proportions with Wilson score intervals: how many people voiced a theme, how many improved.

References
----------
Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    J Am Stat Assoc 22:209-212.
Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison of
    seven methods. Stat Med 17:857-872 (method 3; the worked values of its Table II).
Brown LD, Cai TT, DasGupta A (2001). Interval estimation for a binomial proportion. Stat Sci
    16:101-133 (why Wilson rather than the Wald interval in small samples).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from spanalysis.change.pairs import check_confidence, check_min_cell
from spanalysis.errors import InputError

__all__ = ["wilson_interval", "proportion_table", "count_table_intervals"]


def wilson_interval(count, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion count / n (vectorised).

    Parameters
    ----------
    count, n : int or array-like of int
        Successes and trials (0 <= count <= n).
    confidence : float
        Confidence level (default 0.95).

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)`` as proportions (0 to 1); NaN where n is 0.

    Notes
    -----
    With p = count / n and z = Phi^-1(1 - alpha/2):

    .. math::

        \\frac{p + z^2/(2n) \\pm z \\sqrt{p(1-p)/n + z^2/(4n^2)}}{1 + z^2/n}

    (Wilson 1927; Newcombe 1998, method 3, no continuity correction). It is the same as
    ``statsmodels.stats.proportion.proportion_confint(count, n, method="wilson")``, which
    could be used directly; it is written out here so that n = 0 gives NaN without a
    warning and bad counts stop with an :class:`~spanalysis.errors.InputError`.

    Examples
    --------
    Newcombe (1998), Table II: 81 of 263 gives 0.2553 to 0.3662.

    >>> low, high = wilson_interval(81, 263)
    >>> round(float(low), 4), round(float(high), 4)
    (0.2553, 0.3662)
    """
    confidence = check_confidence(confidence)
    x = np.asarray(count, dtype=float)
    m = np.asarray(n, dtype=float)
    x, m = np.broadcast_arrays(x, m)
    bad = np.isfinite(x) & np.isfinite(m) & ((x < 0) | (x > m) | (x % 1 != 0) | (m % 1 != 0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise InputError("a count must be a whole number between 0 and its total",
                         column="count", value=f"{x.ravel()[i]:g} of {m.ravel()[i]:g}",
                         expected="0 <= count <= n")
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        centre = p + z * z / (2 * m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m))
        denom = 1 + z * z / m
        low = np.where(m > 0, (centre - half) / denom, np.nan)
        high = np.where(m > 0, (centre + half) / denom, np.nan)
    # at count 0 (or n) the limit is exactly 0 (or 1); rounding can leave +-1e-16
    low = np.where((x == 0) & (m > 0), 0.0, low)
    high = np.where((x == m) & (m > 0), 1.0, high)
    return np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)


def proportion_table(table: pd.DataFrame, count: str, n: str, confidence: float = 0.95,
                     min_cell_size: int | None = 5, prefix: str = "percent") -> pd.DataFrame:
    """``table`` with the percentage ``count / n`` and its Wilson interval added.

    Parameters
    ----------
    table : DataFrame
        Any table with a count column and a total column (e.g. people who voiced a theme
        out of people interviewed; people who improved reliably out of people with both
        scores).
    count, n : str
        The two columns.
    confidence : float
        Confidence level (default 0.95).
    min_cell_size : int or None
        Rows where the count, or the total minus the count, is between 1 and
        ``min_cell_size - 1`` have the percentage and interval withheld (NaN): an interval
        reveals its count. None keeps every row (for tables that are not published).
    prefix : str
        Names of the added columns: ``{prefix}``, ``{prefix}_ci_low``, ``{prefix}_ci_high``
        (percentages, 0 to 100), and ``{prefix}_withheld`` (True where withheld).

    Returns
    -------
    DataFrame
        A copy of ``table`` with the four columns added.

    Examples
    --------
    >>> t = pd.DataFrame({"theme": ["hope", "rare"], "voiced": [12, 2], "people": [40, 40]})
    >>> proportion_table(t, "voiced", "people").round(1).to_dict("records")[0]
    {'theme': 'hope', 'voiced': 12, 'people': 40, 'percent': 30.0, 'percent_ci_low': 18.1, 'percent_ci_high': 45.4, 'percent_withheld': False}
    """
    for col in (count, n):
        if col not in table.columns:
            raise InputError("the table lacks a column", column=col,
                             expected=", ".join(map(str, table.columns)))
    if min_cell_size is not None:
        min_cell_size = check_min_cell(min_cell_size)
    x = pd.to_numeric(table[count], errors="coerce").to_numpy(dtype=float)
    m = pd.to_numeric(table[n], errors="coerce").to_numpy(dtype=float)
    low, high = wilson_interval(x, m, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(m > 0, 100 * x / m, np.nan)
    withheld = np.zeros(len(table), dtype=bool)
    if min_cell_size is not None:
        withheld = (((x > 0) & (x < min_cell_size))
                    | ((m - x > 0) & (m - x < min_cell_size)))
    out = table.copy()
    out[prefix] = np.where(withheld, np.nan, pct)
    out[f"{prefix}_ci_low"] = np.where(withheld, np.nan, 100 * low)
    out[f"{prefix}_ci_high"] = np.where(withheld, np.nan, 100 * high)
    out[f"{prefix}_withheld"] = withheld
    return out


def count_table_intervals(counts: pd.DataFrame, categories, k: int, confidence: float = 0.95,
                          rounding: int | None = None, total: str = "Total") -> pd.DataFrame:
    """Percentages of a published count table's rows with their Wilson intervals, under the
    disclosure rule (issue 23: 4: how many improved or deteriorated reliably, recovered).

    Parameters
    ----------
    counts : DataFrame
        A count table as the report publishes it: one row per scale (the index), one column
        per category and the row total ``total`` last (e.g.
        :func:`spanalysis.change.outcomes.reliable_change_counts`).
    categories : list of str
        The columns to give a percentage of the row total and an interval.
    k : int
        The study's minimum cell size.
    confidence : float
        Confidence level (default 0.95).
    rounding : int or None
        The study's ``privacy.rounding``: when counts are published rounded, no percentage
        or interval is given (an interval of the exact count would undo the rounding), every
        row withheld.
    total : str
        The total column.

    Returns
    -------
    DataFrame
        One row per scale and category: the index name of ``counts`` (``scale``), then
        ``category, percent_people, percent_people_ci_low, percent_people_ci_high`` (0 to
        100) and ``withheld``.
        A row is withheld (NaN) where the count or the rest of the row (total minus count)
        is between 1 and k - 1 (as :func:`proportion_table`), and also wherever the count
        table hides the count or the total (:func:`spanalysis.privacy.disclosure.
        suppression_pattern`, ``totals="column"``: a complementary cell is hidden so that a
        small one cannot be worked out from the total, and an interval would give it back).

    Examples
    --------
    Scale b has 3 people who got worse: that count is suppressed, and so are b's and c's
    "better" counts (complementary suppression), so only scale a keeps its intervals.

    >>> t = pd.DataFrame({"better": [30, 12, 20], "same": [60, 40, 50], "worse": [10, 3, 8]},
    ...                  index=pd.Index(["a", "b", "c"], name="scale"))
    >>> t["Total"] = t.sum(axis=1)
    >>> out = count_table_intervals(t, ["better", "worse"], k=5)
    >>> out.loc[~out["withheld"], ["scale", "category"]].values.tolist()
    [['a', 'better'], ['a', 'worse']]
    >>> [round(float(v), 1) for v in out.iloc[0][["percent_people", "percent_people_ci_low",
    ...                                            "percent_people_ci_high"]]]
    [30.0, 21.9, 39.6]
    """
    import warnings

    from spanalysis.privacy import disclosure

    k = check_min_cell(k)
    name = counts.index.name or "row"
    missing = [c for c in list(categories) + [total] if c not in counts.columns]
    if missing:
        raise InputError("the count table lacks a column", column=str(missing[0]),
                         expected=", ".join(map(str, counts.columns)))
    columns = [name, "category", "percent_people", "percent_people_ci_low",
               "percent_people_ci_high", "withheld"]
    categories = list(categories)
    if not categories or not len(counts):
        return pd.DataFrame(columns=columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", disclosure.DisclosureWarning)
        pattern = disclosure.suppression_pattern(counts, k, totals="column")
    # one row per scale and category, row-major (each scale's categories together)
    x = counts[categories].to_numpy(float).ravel()
    m = np.repeat(counts[total].to_numpy(float), len(categories))
    low, high = wilson_interval(x, m, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(m > 0, 100 * x / m, np.nan)
    small = ((x > 0) & (x < k)) | ((m - x > 0) & (m - x < k))     # as proportion_table
    hidden = (pattern[categories].to_numpy() != "") | \
        (pattern[[total]].to_numpy() != "")
    withheld = small | hidden.ravel() | bool(rounding)
    return pd.DataFrame({
        name: np.repeat(counts.index.to_numpy(object), len(categories)),
        "category": np.tile(np.asarray(categories, dtype=object), len(counts)),
        "percent_people": np.where(withheld, np.nan, pct),
        "percent_people_ci_low": np.where(withheld, np.nan, 100 * low),
        "percent_people_ci_high": np.where(withheld, np.nan, 100 * high),
        "withheld": withheld}, columns=columns)
