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

__all__ = ["wilson_interval", "proportion_table"]


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
    # at count 0 (or n) the limit is exactly 0 (or 1); rounding can leave -1e-17
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
