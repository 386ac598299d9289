"""A study's own column names and "not answered" codes, mapped to spanalysis's.

Real exports name their columns their own way (``ResponseId``, ``record_id``, ``Q13_1``,
``WEMWBSa``) and write "not answered" as a code (``-99``, ``-77``, ``NA``). A file's entry in
``study.yaml`` says how to read it::

    files:
      responses:
        path: export.csv
        columns: {participant_id: ResponseId, timepoint: wave, completed_date: EndDate}
        items: {wemwbs_1: WEMWBSa, wemwbs_2: WEMWBSb}
        missing: [-99, -77, "NA"]

``columns`` and ``items`` map spanalysis's name to the file's column; ``missing`` lists the
values that mean "not answered" (a cell holding one becomes blank). The file itself is never
changed: the mapping is applied to the table read from it, before any check. Messages name
the file's own rows; a column is named by spanalysis's name for it (``wemwbs_1``), except in
the mapping's own errors, which name the file's column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from spanalysis.errors import Issue

__all__ = ["mapped_frame", "is_missing_code"]

# id and time point are never blanked by a missing code: a blank id is its own error
_NEVER_MISSING = ("participant_id", "timepoint")


def mapped_frame(frame: pd.DataFrame, options: dict, label: str,
                 issues: list[Issue]) -> pd.DataFrame | None:
    """``frame`` with the file entry's ``columns`` and ``items`` renamed to spanalysis's names
    and its ``missing`` codes blanked; None (and the problems added to ``issues``) when the
    mapping names a column the file does not have, or two names for one column."""
    names = {**(options.get("columns") or {}), **(options.get("items") or {})}
    ok = True
    have = {str(c).strip(): c for c in frame.columns}
    used: dict[str, str] = {}
    for ours, theirs in names.items():
        theirs = str(theirs).strip()
        if theirs not in have:
            issues.append(Issue("error", f"study.yaml maps '{ours}' to a column this file "
                                "does not have", file=label, row=1, column=theirs,
                                value=theirs, expected="a column of the file's header row "
                                "(names are matched exactly, case included)"))
            ok = False
        elif theirs in used:
            issues.append(Issue("error", "study.yaml maps two names to the same column",
                                file=label, row=1, column=theirs,
                                value=f"{used[theirs]} and {ours}", expected="one column each"))
            ok = False
        elif ours in have and ours != theirs and ours not in names.values():
            issues.append(Issue("error", f"the file already has a column '{ours}', and "
                                f"study.yaml maps '{ours}' to another one", file=label, row=1,
                                column=ours, value=theirs,
                                expected=f"map '{ours}' to '{ours}', or rename one of them"))
            ok = False
        used[theirs] = ours
    if not ok:
        return None
    out = frame.rename(columns={have[t]: o for t, o in used.items()})
    codes = options.get("missing") or []
    if codes:
        out = out.copy()
        for col in out.columns:
            if col not in _NEVER_MISSING:
                hit = is_missing_code(out[col], codes)
                if hit.any():
                    out[col] = out[col].where(~hit)
    return out


def is_missing_code(column: pd.Series, codes) -> np.ndarray:
    """Cells of ``column`` holding one of ``codes``: the same number (``-99`` matches -99,
    -99.0 and the text "-99") or the same text, spaces around it ignored."""
    as_text = {str(c).strip() for c in codes}
    numbers = [float(c) for c in codes if _number(c) is not None]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.isin(numbers).to_numpy() if numbers else np.zeros(len(column), bool)
    text = column.astype("str").str.strip()
    hit = text.isin(as_text).fillna(False).to_numpy(dtype=bool)
    if numbers:
        value = pd.to_numeric(text, errors="coerce")
        hit = hit | value.isin(numbers).to_numpy()
    return hit


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
