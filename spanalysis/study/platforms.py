"""Survey platforms' exports, recognised by their headers (never by the file's name) and read
without reshaping by hand (issue 20: 3).

* **Qualtrics** CSV: metadata columns ``StartDate, EndDate, ... Finished, ... ResponseId``,
  often under three header rows (names, question text, ``{"ImportId":"QID1"}``; the reader,
  :func:`spanalysis.io.read_table`, drops the second and third). ``ResponseId`` is the
  participant id unless ``columns:`` maps another; partial responses (``Finished = 0``) are
  kept and counted.
* **REDCap**: the record id comes first (``record_id``), longitudinal projects add
  ``redcap_event_name``, which becomes the time point (``events:`` maps event names to time
  points, otherwise they are taken in the order they first appear); the rows of a repeating
  instrument with no questionnaire answers (``redcap_repeat_instrument`` filled: a session
  log) are left out with a warning; ``redcap_repeat_*``, ``*_complete`` and checkbox columns
  (``reasons___1``) are no items, so they are left out with the extra-columns warning; in the participants file, checkbox columns
  ``referral_reasons___1``, ``referral_reasons___2`` ... become ``referral_reasons``.
* **Microsoft Forms** (XLSX): ``ID, Start time, Completion time, Email, Name, ...``; ``ID`` is
  the participant id.
"""
from __future__ import annotations

import pandas as pd

from spanalysis.errors import Issue

__all__ = ["recognise", "PLATFORM_NAMES", "platform_columns", "partial_responses",
           "event_timepoints", "checkbox_reasons", "without_repeat_rows"]

PLATFORM_NAMES = {"qualtrics": "Qualtrics", "redcap": "REDCap", "forms": "Microsoft Forms"}
_QUALTRICS = {"StartDate", "EndDate", "Finished", "ResponseId"}
_FORMS = ["ID", "Start time", "Completion time"]
_REDCAP = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
           "redcap_data_access_group")


def recognise(columns, header_rows: int = 1) -> str | None:
    """Which platform wrote a file with these header ``columns`` (None: none known).
    ``header_rows``: 3 when the reader found Qualtrics' question-text and ImportId rows."""
    names = [str(c) for c in columns]
    if header_rows == 3 or _QUALTRICS <= set(names):
        return "qualtrics"
    if names[:3] == _FORMS:
        return "forms"
    if names and (names[0] == "record_id" or set(_REDCAP) & set(names)):
        return "redcap"
    return None


def platform_columns(platform: str | None, columns, mapped: dict) -> dict:
    """The platform's own id (and REDCap's event) column as spanalysis's, unless study.yaml
    maps that name or that column, or the file already has spanalysis's column."""
    names = [str(c) for c in columns]
    defaults = {}
    if platform == "qualtrics":
        defaults = {"participant_id": "ResponseId"}
    elif platform == "forms":
        defaults = {"participant_id": "ID"}
    elif platform == "redcap":
        defaults = {"participant_id": names[0] if names else "record_id",
                    "timepoint": "redcap_event_name"}
    taken = set(mapped.values())
    return {ours: theirs for ours, theirs in defaults.items()
            if theirs in names and ours not in mapped and ours not in names
            and theirs not in taken}


def without_repeat_rows(frame: pd.DataFrame, items, label: str,
                        issues: list[Issue]) -> pd.DataFrame:
    """A REDCap responses export without the rows of its repeating instruments that hold no
    questionnaire answers (a session log, a contact record: ``redcap_repeat_instrument`` is
    filled and every item column blank), which share their record and event with the
    questionnaire's own row; a warning counts them. Rows of a repeating instrument that do
    hold answers stay (and are reported if they repeat a participant and time point)."""
    if "redcap_repeat_instrument" not in frame.columns:
        return frame
    repeat = frame["redcap_repeat_instrument"].astype("str").str.strip()
    repeat = repeat.mask(frame["redcap_repeat_instrument"].isna(), "").ne("")
    present = [c for c in items if c in frame.columns]
    answered = frame[present].notna().any(axis=1) if present else False
    dropped = repeat & ~answered
    if not dropped.any():
        return frame
    names = ", ".join(sorted(set(frame.loc[dropped, "redcap_repeat_instrument"].astype(str))))
    issues.append(Issue(
        "warning", f"{int(dropped.sum())} row(s) of REDCap repeating instruments hold no "
        "questionnaire answers and are left out", file=label, column="redcap_repeat_instrument",
        value=names, expected="questionnaire rows; a repeating instrument's rows (session "
        "logs, contacts) belong to another analysis"))
    return frame[~dropped.to_numpy()]


def partial_responses(frame: pd.DataFrame) -> int:
    """Qualtrics responses not finished (``Finished`` 0 or False): kept, and counted."""
    if "Finished" not in frame.columns:
        return 0
    written = frame["Finished"].astype("str").str.strip().str.casefold()
    return int(written.isin(["0", "0.0", "false"]).sum())


def event_timepoints(frame: pd.DataFrame, events: dict | None, timepoints: list[str],
                     label: str, issues: list[Issue]) -> pd.DataFrame:
    """``frame`` with its time-point column's event names (REDCap's ``baseline_arm_1``) as the
    study's time points: by ``events:`` when given; otherwise, when no value is a time point
    and there are as many distinct events as time points, in the order the events first
    appear (a warning says which became which). Each distinct value is looked up once."""
    if "timepoint" not in frame.columns:
        return frame
    written = frame["timepoint"].astype("str").str.strip().mask(frame["timepoint"].isna())
    if events:
        mapping = {str(k).strip(): str(v) for k, v in events.items()}
    else:
        seen = [e for e in written.dropna().unique()]
        if not seen or set(seen) & set(timepoints) or len(seen) != len(timepoints):
            return frame
        mapping = dict(zip(seen, timepoints))
        issues.append(Issue("warning", "event names taken as time points in the order they "
                            "first appear", file=label, column="timepoint",
                            value=", ".join(f"{e} -> {t}" for e, t in mapping.items()),
                            expected="check the order, or say it with files.responses.events "
                                     "in study.yaml"))
    out = frame.copy()
    out["timepoint"] = written.map(mapping).fillna(written)
    return out


#: REDCap writes a ticked checkbox as 1 ("raw") or "Checked" ("labels")
_TICKED = ("1", "1.0", "checked", "true", "yes")


def checkbox_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """A participants file's REDCap checkbox columns ``referral_reasons___<code>`` as one
    ``referral_reasons`` column, the ticked codes separated by ``;`` in column order (a file
    that has ``referral_reasons`` itself is left as it is)."""
    prefix = "referral_reasons___"
    boxes = [c for c in frame.columns if str(c).startswith(prefix)]
    if not boxes or "referral_reasons" in frame.columns:
        return frame
    joined = pd.Series("", index=frame.index, dtype=object)
    for col in boxes:   # one pass per option, never per row
        ticked = frame[col].astype("str").str.strip().str.casefold().isin(_TICKED)
        joined = joined.where(~ticked, joined + ";" + str(col)[len(prefix):])
    reasons = joined.str.lstrip(";")
    out = frame.drop(columns=boxes)
    out.insert(min(frame.columns.get_loc(boxes[0]), len(out.columns)), "referral_reasons",
               reasons.mask(reasons == ""))
    return out
