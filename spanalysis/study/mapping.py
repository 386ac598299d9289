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

A **person-layout** file (``layout: person``: one row per participant, each time point's
items in their own columns) lists ``items`` per time point and may name each time point's
date column::

    responses:
      path: survey.csv
      layout: person
      columns: {participant_id: record_id}
      items:
        baseline: {wemwbs_1: WEMWBSa, wemwbs_2: WEMWBSb}
        followup: {wemwbs_1: WEMWBSa_fu, wemwbs_2: WEMWBSb_fu}
      completed_date: {baseline: date_t1, followup: date_t2}

:func:`person_frame` reshapes it into the table of the other layouts, one row per
participant and time point, each row keeping its file row (the frame's index) and, in
:attr:`PersonFrame.columns`, the file's column of each of its cells, so that every message
names the file's own row and column (``WEMWBSa_fu``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spanalysis.errors import Issue

__all__ = ["mapped_frame", "is_missing_code", "person_frame", "PersonFrame", "person_columns"]

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


# ----------------------------------------------------------------------------- person layout
@dataclass
class PersonFrame:
    """A person-layout file as the other layouts' table.

    ``frame``: ``participant_id, timepoint[, completed_date]`` and the items under
    spanalysis's names, one row per participant and time point with an answer, in file order
    (a person's time points in the study's order); its index is each row's 0-based row in
    the file, so a person's rows share it. ``columns``: time point -> spanalysis's name ->
    the file's column (``participant_id`` included). ``unmapped``: the file's columns that
    the mapping does not name."""

    frame: pd.DataFrame
    columns: dict[str, dict[str, str]]
    unmapped: list[str]


def person_columns(options: dict) -> list[str]:
    """Every item and date column a person-layout entry names (the file's own names)."""
    cols = [c for mapping in (options.get("items") or {}).values() for c in mapping.values()]
    return cols + list((options.get("completed_date") or {}).values())


def person_frame(frame: pd.DataFrame, options: dict, label: str,
                 issues: list[Issue]) -> PersonFrame | None:
    """The person-layout ``frame`` (the file as read) reshaped to one row per participant
    and time point: each time point listed under ``options["items"]`` (in the study's
    order) takes its own columns, renamed to spanalysis's names, with its ``missing`` codes
    blanked. A person whose every item of a time point is blank has no row at that time
    point. None (and the problems added to ``issues``) when the mapping names a column the
    file does not have, one column twice, or no participant id column is found."""
    have = {str(c).strip(): c for c in frame.columns}
    pid = str((options.get("columns") or {}).get("participant_id", "participant_id")).strip()
    dates = options.get("completed_date") or {}
    wanted = {tp: {"participant_id": pid, **({"completed_date": dates[tp]} if tp in dates
                                             else {}), **items}
              for tp, items in (options.get("items") or {}).items()}
    if not _person_columns_exist(wanted, have, pid, label, issues):
        return None
    codes = options.get("missing") or []
    blocks = []
    for k, (tp, names) in enumerate(wanted.items()):
        block = pd.DataFrame({ours: frame[have[theirs]] for ours, theirs in names.items()},
                             index=frame.index)
        answers = [c for c in names if c not in ("participant_id", "completed_date")]
        for col in answers + (["completed_date"] if "completed_date" in names else []):
            if codes:
                hit = is_missing_code(block[col], codes)
                if hit.any():
                    block[col] = block[col].where(~hit)
        answered = ~_blank(block[answers]).all(axis=1).to_numpy()
        block.insert(1, "timepoint", tp)
        blocks.append(block[answered].assign(_row=np.flatnonzero(answered), _k=k))
    long = pd.concat(blocks) if blocks else pd.DataFrame(
        columns=["participant_id", "timepoint", "_row", "_k"])
    long = long.sort_values(["_row", "_k"], kind="stable").drop(columns=["_row", "_k"])
    named = {theirs for names in wanted.values() for theirs in names.values()}
    unmapped = [c for c in frame.columns if str(c).strip() not in named]
    return PersonFrame(long, wanted, unmapped)


def _person_columns_exist(wanted: dict, have: dict, pid: str, label: str,
                          issues: list[Issue]) -> bool:
    """Each column the person-layout mapping names is in the file, and each but the
    participant id is named once."""
    ok = True
    if pid not in have:
        issues.append(Issue("error", "required column missing from the responses file",
                            file=label, row=1, column=pid, expected="a participant id column "
                            "(or map yours with files.responses.columns: {participant_id: "
                            "<your id column>} in study.yaml)"))
        ok = False
    used: dict[str, str] = {}
    for tp, names in wanted.items():
        for ours, theirs in names.items():
            if ours == "participant_id":
                continue
            where = f"'{ours}' at {tp}"
            if theirs not in have:
                issues.append(Issue("error", f"study.yaml maps {where} to a column this file "
                                    "does not have", file=label, row=1, column=theirs,
                                    value=theirs, expected="a column of the file's header row "
                                    "(names are matched exactly, case included)"))
                ok = False
            elif theirs in used or theirs == pid:
                issues.append(Issue("error", "study.yaml maps two names to the same column",
                                    file=label, row=1, column=theirs,
                                    value=f"{used.get(theirs, 'participant_id')} and {where}",
                                    expected="one column each"))
                ok = False
            used[theirs] = where
    return ok


def _blank(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells that are empty: missing, or text of spaces only."""
    out = frame.isna()
    for col in frame.columns:
        if not (pd.api.types.is_numeric_dtype(frame[col])
                or pd.api.types.is_bool_dtype(frame[col])):
            out[col] = out[col] | (frame[col].astype("str").str.strip() == "").fillna(False)
    return out
