"""Service use (counts of contacts before and after referral) in the tidy score format."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from spanalysis.errors import InputError
from spanalysis.instruments.model import STATUSES
from spanalysis.instruments.responses import _codes, _numeric, _val

_STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))


def score_service_use(service_use: pd.DataFrame, timepoints: Sequence[Any], *,
                      source: str | None = None) -> pd.DataFrame:
    """Turn the study's service-use table into the tidy score format.

    Parameters
    ----------
    service_use : DataFrame
        Long table ``participant_id, service, period (before|after), count``.
    timepoints : sequence
        The study's ordered time points (ids, or objects with an ``id`` attribute). ``before``
        is placed at the first, ``after`` at the last.
    source : str, optional
        The file the table came from, named in error messages.

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
    f = source
    for col in ("participant_id", "service", "period", "count"):
        if col not in service_use.columns:
            raise InputError(f"service use has no '{col}' column", file=f, column=col,
                             expected="columns participant_id, service, period, count")
    tps = [getattr(t, "id", t) for t in timepoints]
    if not tps:
        raise InputError("no time points given", expected="the study's ordered time points")
    bad, is_before = _periods(service_use["period"])
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError("unknown period", file=f, row=pos + 2, column="period",
                         value=service_use["period"].iloc[pos], expected="before or after")
    counts = _numeric(service_use["count"], "count", f).astype(float, copy=False)
    blank = np.isnan(counts)
    with np.errstate(invalid="ignore"):
        badc = ~blank & ((counts < 0) | (counts != np.floor(counts)))
    if badc.any():
        pos = int(np.flatnonzero(badc)[0])
        raise InputError("count must be a whole number of events, 0 or more", file=f,
                         row=pos + 2, column="count", value=_val(counts[pos]),
                         expected="a whole number >= 0")
    pid = service_use["participant_id"]
    pid_codes, pid_cats = _codes(pid)
    # an unordered categorical keeps its dtype (the same categories as the questionnaires')
    pid_dtype = (pid.dtype if isinstance(pid.dtype, pd.CategoricalDtype) and not pid.dtype.ordered
                 else pd.CategoricalDtype(pid_cats))
    service = service_use["service"]
    svc_codes, svc_cats = (_codes_by_appearance(service)
                           if isinstance(service.dtype, pd.CategoricalDtype)
                           else _codes(service.astype(str)))
    # (participant, service, period) once each
    key = (pid_codes.astype(np.int64) * len(svc_cats) + svc_codes) * 2 + is_before
    dup = pd.Series(key).duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise InputError("the same participant, service and period appear twice", file=f,
                         row=pos + 2, column="service", value=service_use["service"].iloc[pos],
                         expected="one row per participant, service and period")
    tp_cats = list(dict.fromkeys(str(t) for t in tps))
    tp_code = np.where(is_before, tp_cats.index(str(tps[0])), tp_cats.index(str(tps[-1])))
    n = len(service_use)
    return pd.DataFrame({
        "participant_id": pd.Categorical.from_codes(pid_codes, dtype=pid_dtype),
        "timepoint": pd.Categorical.from_codes(tp_code, categories=tp_cats),
        "instrument": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8),
                                                categories=["service_use"]),
        "scale": pd.Categorical.from_codes(svc_codes, categories=svc_cats),
        "score": counts,
        "items_answered": (~blank).astype(np.int8),   # 1 where a count is recorded
        "items_expected": np.ones(n, dtype=np.int8),
        "status": pd.Categorical.from_codes(
            np.where(blank, STATUSES.index("not_administered"), STATUSES.index("ok")),
            dtype=_STATUS_DTYPE),
    })


def _periods(period: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose period is neither before nor after (as text, trimmed, any case), and the
    rows before referral."""
    if isinstance(period.dtype, pd.CategoricalDtype) and \
            set(map(str, period.cat.categories)) <= {"before", "after"}:
        # as the study loader gives it: read the (two) categories, not every row's text
        codes = period.array.codes
        before = np.flatnonzero(period.cat.categories.astype(str) == "before")
        return codes < 0, np.isin(codes, before)
    text = period.astype("string").str.strip().str.lower()
    bad = ~text.isin(["before", "after"]).fillna(False).to_numpy(dtype=bool)
    return bad, (text == "before").fillna(False).to_numpy(dtype=bool)


def _codes_by_appearance(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """:func:`_codes` of a categorical column as ``_codes(series.astype(str))`` gives them
    (categories as text, in order of first appearance, only those that occur), from the
    column's codes."""
    codes, _ = _codes(series)  # raises for a blank row, as the text would
    order = pd.unique(codes)   # the codes in order of first appearance
    renumber = np.empty(len(series.cat.categories), dtype=np.int32)
    renumber[order] = np.arange(len(order), dtype=np.int32)
    return renumber[codes], pd.Index(series.cat.categories[order].astype(str))
