"""``spanalysis init FILE... --out DIR``: draft a study folder from survey exports.

The exports are copied into ``DIR`` byte for byte (the originals are only read), their columns
recognised (:mod:`spanalysis.study.draft_match`) and ``DIR/study.yaml`` written with the
mapping, a YAML comment on every guess. The command prints what it recognised, what it left
unmapped and what to check, then validates the draft as ``spanalysis validate`` would.

What the study format can say decides what is written:

* an export with an id and a time-point column (a REDCap export, ``wave``, ...) is named in
  ``study.yaml`` as it is, with ``columns:``, ``items:``, ``events:`` and ``missing:``;
* an export the format cannot read as it is gets a **drafted copy** beside the untouched one,
  and ``study.yaml`` names the copy (the message and a comment say so):
  one row per person with one set of items and no time-point column (the copy adds
  ``timepoint``, everyone at the baseline); no id column (the copy adds ``participant_id``,
  the rows numbered 1, 2, ...: the format has no "row number as id"); and one row per person
  holding an instrument's items more than once (the copy has one row per person and time
  point, the k-th set of items at the k-th time point, items under spanalysis's names);
* with no participants export (one with an id column and no items), a minimal
  ``participants.csv`` is drafted from the responses' ids: one site, no referral date (both
  optional in the format).

Nothing is written outside ``DIR``; a ``DIR`` that exists and is not empty is refused. Each
file is written atomically and ``study.yaml`` last; if anything fails, what was written is
removed again.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from spanalysis import instruments as ins
from spanalysis.errors import InputError
from spanalysis.io import atomic_write, detect_encoding, read_table
from spanalysis.study.checks import dates, numbers, text
from spanalysis.study.draft_match import (
    DATE_NAMES,
    ID_NAMES,
    REFERRAL_NAMES,
    SITE_NAMES,
    TIME_NAMES,
    ItemSet,
    build_sets,
    RESPONSE_IDS,
    find_column,
    find_id_by_question,
    find_items,
    squeeze,
)
from spanalysis.study.manifest import MANIFEST_NAME
from spanalysis.study.platforms import PLATFORM_NAMES, recognise

__all__ = ["draft_study", "write_draft", "init_command", "Draft", "DEFAULT_SITE", "timepoint_names"]

#: the one site of a drafted study (the format needs at least one)
DEFAULT_SITE = "Main site"
#: numbers that exports write for "not answered" (taken only when outside every item's range)
_NUMBER_CODES = {-1, -2, -3, -7, -8, -9, -77, -88, -97, -98, -99, -999, 77, 88, 97, 98, 99,
                 777, 888, 999, 9999}
#: text that exports write for "not answered" (compared case-insensitively)
_TEXT_CODES = {"na", "n/a", "nan", "unk", "unknown", "missing", "not answered", "refused",
               "dk", "don't know", "prefer not to say", "-", ".", "none given", "nr"}
_SUPPORTED = (".csv", ".xlsx", ".sav")


def timepoint_names(n: int) -> list[str]:
    """baseline, followup, followup2, followup3, ..."""
    return ["baseline", "followup"][:n] + [f"followup{k}" for k in range(2, n)]


@dataclass
class Export:
    """One export as read, and what was recognised in it."""

    source: Path
    copy_name: str            # its name in the drafted folder
    frame: pd.DataFrame       # every cell as written (text)
    header_rows: int
    platform: str | None
    sets: dict[str, list[ItemSet]] = field(default_factory=dict)
    partial: list[ItemSet] = field(default_factory=list)
    id_column: str | None = None
    id_how: str = "name"     # how the id column was recognised: by its name or question text
    time_column: str | None = None
    date_column: str | None = None


@dataclass
class Draft:
    """What ``init`` will write and say. ``files``: name in the folder -> bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    manifest: str = ""
    recognised: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    noted: set = field(default_factory=set)    # unmapped columns listed with a note
    check: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- reading
def _questions(path: Path, header_rows: int, columns) -> dict[str, str]:
    """Each column's question text: Qualtrics' second header row, or SPSS variable labels."""
    if path.suffix.lower() == ".sav":
        import pyreadstat

        try:
            _, meta = pyreadstat.read_sav(str(path), metadataonly=True)
        except Exception:   # the table itself was read: a file without labels has none
            return {}
        return {str(k).strip(): str(v) for k, v in meta.column_names_to_labels.items() if v}
    if header_rows != 3:
        return {}
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):    # Excel's "Unicode text"
        data = data.decode("utf-16").encode("utf-8")
    decoded, _, _ = detect_encoding(data, path.name)   # None: UTF-8 as it is
    rows = csv.reader(io.StringIO(data.decode("utf-8") if decoded is None else decoded))
    names, wording = next(rows, []), next(rows, [])
    return {str(n).strip(): w for n, w in zip(names, wording) if w and str(w).strip()}


def _read_export(path: Path, copy_name: str, instruments: dict) -> Export:
    """Read ``path`` (twice: once to learn its columns, once with every cell as text, item
    columns keeping their SPSS codes) and recognise its columns."""
    first = read_table(path, label=path.name)
    columns = list(first.frame.columns)
    questions = _questions(path, first.header_rows, columns)
    candidates = find_items(columns, questions, instruments)
    sets, partial = build_sets(candidates, instruments)
    items = [c for ss in sets.values() for s in ss for c in s.columns()]
    table = read_table(path, label=path.name, text_columns=columns, keep_codes=items)
    export = Export(path, copy_name, table.frame, first.header_rows,
                    recognise(columns, first.header_rows), sets, partial)
    taken = set(items)
    export.id_column = find_column(columns, ID_NAMES, taken)
    if export.id_column is None or squeeze(export.id_column) in RESPONSE_IDS:
        # the study's own id asked as a question beats the platform's id of each response
        asked = find_id_by_question(columns, questions, taken)
        if asked is not None:
            export.id_column, export.id_how = asked, "question text"
    taken.add(export.id_column)
    time = find_column(columns, TIME_NAMES, taken)
    if time is not None and text(table.frame[time]).notna().any():
        export.time_column = time
        taken.add(time)
    date = find_column(columns, DATE_NAMES, taken)
    if date is not None and not dates(table.frame[date])[1].any():
        export.date_column = date
    return export


# ----------------------------------------------------------------------------- deciding
def _natural(value: str):
    return [int(p) if p.isdigit() else p.casefold() for p in re.split(r"(\d+)", value)]


def _events(export: Export) -> tuple[dict[str, str], str]:
    """The time-point column's values -> baseline, followup, ...: in number order when every
    value holds a number (``1, 2``, ``T1, T2``, ``wave 3``), else in the order they first
    appear (REDCap lists events in the project's order); and how the order was chosen."""
    written = text(export.frame[export.time_column]).dropna()
    seen = list(dict.fromkeys(written))
    if export.platform != "redcap" and all(re.search(r"\d", v) for v in seen):
        seen, how = sorted(seen, key=_natural), "in number order"
    else:
        how = "in the order they first appear"
    return dict(zip(seen, timepoint_names(len(seen)))), how


def event_label(value: str) -> str:
    """A reader's label for a time-point value as an export writes it: REDCap's arm suffix
    dropped and underscores read as spaces.

    >>> event_label("3_months_arm_1"), event_label("baseline_arm_2"), event_label("T2")
    ('3 months', 'baseline', 'T2')
    """
    label = re.sub(r"_arm_\d+$", "", str(value).strip())
    label = re.sub(r"[_\s]+", " ", label).strip()
    return label or str(value)


def _missing_codes(export: Export, instruments: dict) -> list:
    """Codes for "not answered" found in the item columns: a number outside every item's
    range that exports use as a code (-99, 99, -9, ...), or text such as NA or UNK that is no
    answer label. Numbers come back as numbers, text as written."""
    lows = [it.min for i in export.sets for it in instruments[i].items]
    highs = [it.max for i in export.sets for it in instruments[i].items]
    found: dict[str, object] = {}
    for iid, sets in export.sets.items():
        labels = {str(lab).casefold() for it in instruments[iid].items
                  for lab in it.labels.values()}
        for item_set in sets:
            for column in item_set.columns():
                values, not_number = numbers(export.frame[column])
                for v in values.dropna().unique():
                    if v in _NUMBER_CODES and not any(lo <= v <= hi for lo, hi
                                                      in zip(lows, highs)):
                        found.setdefault(str(v), int(v))
                words = text(export.frame[column])[not_number].dropna().unique()
                for word in words:
                    key = " ".join(word.split()).casefold()
                    if key in _TEXT_CODES and key not in labels:
                        found.setdefault(key, word)
    return sorted(found.values(), key=lambda c: (isinstance(c, str), str(c)))


def _is_blank(frame: pd.DataFrame, codes: list) -> pd.DataFrame:
    """Cells that are blank or hold a missing code."""
    as_text = {str(c).strip().casefold() for c in codes}
    numbers_ = {float(c) for c in codes if not isinstance(c, str)}
    out = frame.isna()
    for col in frame.columns:
        written = frame[col].astype("str").str.strip()
        value = pd.to_numeric(written, errors="coerce")
        out[col] = (out[col] | (written == "") | written.str.casefold().isin(as_text)
                    | value.isin(numbers_))
    return out


# ----------------------------------------------------------------------------- YAML
def _q(value) -> str:
    """A YAML scalar: text double-quoted (JSON's escapes are YAML's), numbers as they are."""
    import json

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _comment(note: str) -> str:
    note = " ".join(str(note).split())
    return "  # " + (note if len(note) <= 110 else note[:107] + "...")


def _set_summary(item_set: ItemSet) -> str:
    cols = item_set.columns()
    shown = f"{cols[0]} .. {cols[-1]}" if len(cols) > 2 else ", ".join(cols)
    hows = {m.how for m in item_set.matches.values()}
    how = ("by name" if hows == {"name"} else "by question text" if "guess" not in hows
           else "by question text, some of it only close (guess)")
    return f"{item_set.instrument}: {len(cols)} columns {shown} ({how})"


def _item_lines(item_set: ItemSet, instruments: dict, indent: str, own_names: bool
                ) -> list[str]:
    """``items:`` lines for one set (``own_names``: the file's columns are mapped) or, for a
    drafted copy under spanalysis's names, comments saying where each item came from."""
    inst = instruments[item_set.instrument]
    lines = []
    for k in sorted(item_set.matches):
        match = item_set.matches[k]
        note = {"name": "", "text": f"question text: {match.note}",
                "guess": f"guess: wording only close to '{inst.items[k].stem}': "
                         f"{match.note}"}[match.how]
        if own_names:
            lines.append(f"{indent}{inst.items[k].id}: {_q(match.column)}"
                         + (_comment(note) if note else ""))
        else:
            lines.append(f"{indent}# {inst.items[k].id} <- {match.column}"
                         + (f" ({note})" if note else ""))
    return lines


# ----------------------------------------------------------------------------- drafting
@dataclass
class _Plan:
    """The responses file as study.yaml will name it."""

    path: str
    timepoints: list[str]
    columns: dict[str, str] = field(default_factory=dict)   # spanalysis's name -> column
    events: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)    # time point -> label for readers
    own_names: bool = True      # items mapped to the file's columns (else spanalysis's)
    notes: list[str] = field(default_factory=list)          # comments above the entry
    ids: list[str] = field(default_factory=list)            # each participant, in order
    row_ids: pd.Series | None = None                         # the export's rows' ids


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    out = io.StringIO()
    frame.to_csv(out, index=False)   # cells as read: a drafted input file, not a report
    return out.getvalue().encode("utf-8")


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    stem, ext = (stem, "." + ext) if dot else (name, "")
    candidate, k = name, 2
    while candidate.casefold() in {t.casefold() for t in taken}:
        candidate, k = f"{stem}-{k}{ext}", k + 1
    taken.add(candidate)
    return candidate


def _ids(export: Export, draft: Draft) -> tuple[pd.Series, bool]:
    """Each row's participant id, and whether the rows were numbered (no id column)."""
    frame = export.frame
    if export.id_column is not None:
        return text(frame[export.id_column]), False
    draft.check.append(f"{export.source.name} has no participant id column (looked for "
                       "participant_id, record_id, ResponseId, ID, ...): the rows are numbered "
                       "1, 2, ... in a drafted copy; each row is taken to be one person. Add "
                       "your study's ids if you have them")
    return pd.Series([str(k) for k in range(1, len(frame) + 1)], index=frame.index), True


def _plan_long(export: Export, draft: Draft, taken: set[str]) -> _Plan:
    """One row per person and time point: the time-point column's values are the events."""
    events, how = _events(export)
    plan = _Plan(export.copy_name, list(events.values()), events=events,
                 labels={tp: event_label(value) for value, tp in events.items()})
    plan.notes.append(f"time points: the values of '{export.time_column}' {how} (guess: "
                      "check the order)")
    ids, numbered = _ids(export, draft)
    if numbered:
        name = _unique(export.source.stem + "_with_ids.csv", taken)
        draft.files[name] = _csv_bytes(export.frame.assign(participant_id=ids)[
            ["participant_id"] + list(export.frame.columns)])
        plan.path = name
        plan.notes.append(f"{name}: a copy of {export.copy_name} with a participant_id column "
                          "added (rows numbered 1, 2, ...); the export itself is unchanged")
        draft.check.append("the export has a time-point column but no id column: every "
                           "row became its own participant, so no one has a follow-up")
    else:
        plan.columns["participant_id"] = export.id_column
    plan.columns["timepoint"] = export.time_column
    plan.ids = list(dict.fromkeys(ids.dropna()))
    plan.row_ids = ids
    return plan


def _plan_one_set(export: Export, draft: Draft, taken: set[str]) -> _Plan:
    """One row per person, one set of items, no time-point column: a copy with
    ``timepoint`` added (everyone at the baseline; a person's second row, if ids repeat, at
    the follow-up, and so on)."""
    ids, numbered = _ids(export, draft)
    rank = ids.groupby(ids, dropna=False).cumcount() if not numbered else ids.map(lambda _: 0)
    timepoints = timepoint_names(int(rank.max()) + 1 if len(rank) else 1)
    frame = export.frame.copy()
    added = ["timepoint"]
    frame.insert(0, "timepoint", [timepoints[r] for r in rank])
    if numbered:
        frame.insert(0, "participant_id", ids)
        added.insert(0, "participant_id")
    name = _unique(export.source.stem + "_drafted.csv", taken)
    draft.files[name] = _csv_bytes(frame)
    plan = _Plan(name, timepoints)
    plan.notes.append(f"{name}: a copy of {export.copy_name} with {' and '.join(added)} "
                      "added (the study format needs a time-point column); the export itself "
                      "is unchanged" + (" (its rows 4, 5, ... are the copy's rows 2, 3, ...)"
                                        if export.header_rows == 3 else ""))
    if len(timepoints) > 1:
        plan.notes.append("guess: ids appear more than once, so each person's rows were "
                          "taken as baseline, followup, ... in file order")
    else:
        plan.notes.append("one set of items and no time-point column: everyone is at the "
                          "baseline (guess)")
    if not numbered:
        plan.columns["participant_id"] = export.id_column
    plan.ids = list(dict.fromkeys(ids.dropna()))
    plan.row_ids = ids
    return plan


def _plan_person(export: Export, draft: Draft, taken: set[str], instruments: dict,
                 codes: list) -> _Plan:
    """One row per person with an instrument's items more than once: a copy with one row
    per person and time point, the k-th set of every instrument at the k-th time point
    (a later time point's row is left out when all its answers are blank)."""
    ids, _ = _ids(export, draft)
    n = max(len(s) for s in export.sets.values())
    timepoints = timepoint_names(n)
    pieces = []
    for k, tp in enumerate(timepoints):
        part = pd.DataFrame({"participant_id": ids, "timepoint": tp}, index=export.frame.index)
        answers = []
        for iid, sets in export.sets.items():
            if k >= len(sets):
                continue
            inst = instruments[iid]
            for j, match in sets[k].matches.items():
                part[inst.items[j].id] = export.frame[match.column]
                answers.append(inst.items[j].id)
        if k:
            part = part[~_is_blank(part[answers], codes).all(axis=1)]
        pieces.append(part.assign(_row=part.index, _k=k))
    frame = pd.concat(pieces).sort_values(["_row", "_k"], kind="stable")
    order = ["participant_id", "timepoint"] + [it.id for iid in export.sets
                                               for it in instruments[iid].items
                                               if it.id in frame.columns]
    name = _unique(export.source.stem + "_by_timepoint.csv", taken)
    draft.files[name] = _csv_bytes(frame[order])
    plan = _Plan(name, timepoints, own_names=False)
    plan.notes.append(f"{name}: {export.copy_name} with one row per person and time point "
                      "(the study format has no layout for one row per person holding every "
                      "time point); items under spanalysis's names; the export itself is "
                      "unchanged")
    plan.notes.append("guess: each instrument's sets of items are the time points in column "
                      "order (first set baseline, second followup, ...)")
    plan.ids = list(dict.fromkeys(ids.dropna()))
    plan.row_ids = ids
    if export.id_column is not None:
        plan.notes.append(f"participant_id: the export's '{export.id_column}' (guess, by its "
                          f"{export.id_how})")
    if export.date_column:
        draft.unmapped.append(f"{export.date_column} (a date, but which time point's? map "
                              "completed_date in the drafted copy yourself)")
        draft.noted.add(export.date_column)
        export.date_column = None
    return plan


def _participants(others: list[Export], plan: _Plan, draft: Draft, taken: set[str],
                  responses: Export | None = None) -> tuple[list[str], list[str]]:
    """The ``participants:`` entry's lines and the study's sites: an export with an id
    column and no items, mapped as it is, or else a ``participants.csv`` drafted from the
    responses' ids (no referral date; the site from a site column of the ``responses``
    export, see :func:`_sites_from_responses`, else one site)."""
    for export in others:
        if export.sets or export.id_column is None:
            continue
        frame, columns = export.frame, list(export.frame.columns)
        mapping = {"participant_id": export.id_column}
        site = find_column(columns, SITE_NAMES, {export.id_column})
        referral = find_column(columns, REFERRAL_NAMES, {export.id_column, site})
        if referral is not None and dates(frame[referral])[1].any():
            draft.check.append(f"{export.copy_name}: '{referral}' looks like the referral "
                               "date but not every cell is a date, so it is not mapped")
            referral = None
        if referral is not None:
            mapping["referral_date"] = referral
        sites = [DEFAULT_SITE]
        if site is not None:
            mapping["site"] = site
            found = list(dict.fromkeys(text(frame[site]).dropna()))
            sites = found or sites
        draft.recognised.append(f"participants: {export.copy_name} (id '{export.id_column}'"
                                + (f", site '{site}'" if site else ", no site column")
                                + (f", referral date '{referral}'" if referral else
                                   ", no referral date") + ")")
        mapping = {k: v for k, v in mapping.items() if k != v}
        lines = ["  participants:", f"    path: {_q(export.copy_name)}"]
        if mapping:
            lines.append("    columns:" + _comment("guess: found by their names"))
            lines += [f"      {k}: {_q(v)}" for k, v in mapping.items()]
        return lines, sites
    name = _unique("participants.csv", taken)
    site_of = None if responses is None else _sites_from_responses(responses, plan, draft)
    if site_of is not None:
        draft.files[name] = _csv_bytes(pd.DataFrame({"participant_id": plan.ids,
                                                     "site": [site_of[i] for i in plan.ids]}))
        sites = list(dict.fromkeys(site_of[i] for i in plan.ids))
        draft.check.append(f"{name} was drafted from the {len(plan.ids)} ids and the sites in "
                           "the responses, with no referral date (so the date checks and time "
                           "to follow-up are skipped); add referral_date and the other "
                           "participant columns if you have them")
        return [f"  participants: {_q(name)}" + _comment(
            "drafted from the responses' ids and sites: no referral date")], sites
    draft.files[name] = _csv_bytes(pd.DataFrame({"participant_id": plan.ids}))
    draft.check.append(f"{name} was drafted from the {len(plan.ids)} ids in the responses: one "
                       f"site ('{DEFAULT_SITE}') and no referral date (so the date checks and "
                       "time to follow-up are skipped); add site, referral_date and the other "
                       "participant columns if you have them")
    return [f"  participants: {_q(name)}" + _comment(
        "drafted from the responses' ids: one site, no referral date")], [DEFAULT_SITE]


#: squeezed column names (or their endings) that hold personal details in survey exports:
#: Qualtrics' RecipientEmail/RecipientFirstName/IPAddress/LocationLatitude, Forms' Email and
#: Name, REDCap's name/dob/address fields
PERSONAL_NAMES = ("email", "emailaddress", "name", "firstname", "lastname", "surname",
                  "fullname", "recipientfirstname", "recipientlastname", "phone", "telephone",
                  "mobile", "address", "postcode", "zipcode", "ipaddress", "dob",
                  "dateofbirth", "birthdate", "nhsnumber", "locationlatitude",
                  "locationlongitude")


def personal_columns(columns) -> list:
    """The ``columns`` whose names say they hold personal details (:data:`PERSONAL_NAMES`,
    also as the end of a name: ``RecipientEmail``, ``patient_dob``; ``name`` only alone)."""
    out = []
    for column in columns:
        name = squeeze(column)
        if name and any(name == p or (name.endswith(p) and p != "name")   # not sitename
                        for p in PERSONAL_NAMES):
            out.append(column)
    return out


#: names of a site column in a survey export (squeezed): the participants' file's names and
#: REDCap's data access group, which multi-site REDCap projects use for the site
RESPONSE_SITE_NAMES = SITE_NAMES + ("redcapdataaccessgroup",)


def _sites_from_responses(export: Export, plan: _Plan, draft: Draft) -> dict | None:
    """Each participant's site from a site column of the responses export (found by its
    name, :data:`RESPONSE_SITE_NAMES`), when every participant has exactly one site there
    (blank rows aside); else None, with a note to check when such a column exists."""
    if plan.row_ids is None:
        return None
    taken = {export.id_column, export.time_column, export.date_column}
    column = find_column(export.frame.columns, RESPONSE_SITE_NAMES, taken)
    if column is None:
        return None
    pairs = pd.DataFrame({"id": plan.row_ids.to_numpy(),
                          "site": text(export.frame[column]).to_numpy()}).dropna()
    found = pairs.groupby("id", sort=False)["site"].agg(lambda v: list(dict.fromkeys(v)))
    several = [i for i, v in found.items() if len(v) > 1]
    missing = [i for i in plan.ids if i not in found.index]
    if several or missing:
        draft.check.append(
            f"'{column}' in {export.copy_name} looks like the site, but "
            + (f"{len(several)} participant(s) have more than one value there"
               if several else f"{len(missing)} participant(s) have none")
            + ": it is not mapped; give each participant's site in participants.csv")
        return None
    draft.recognised.append(f"  site: '{column}' ({found.map(len).size} participants, "
                            f"{len({v[0] for v in found})} sites; guess, by its name)")
    draft.unmapped[:] = [u for u in draft.unmapped if u != column]
    return {i: v[0] for i, v in found.items()}


def _responses_lines(export: Export, plan: _Plan, instruments: dict, codes: list
                     ) -> list[str]:
    """The ``responses:`` entry."""
    lines = ["  responses:"] + [f"    # {note}" for note in plan.notes]
    lines += [f"    path: {_q(plan.path)}", "    layout: wide"]
    columns = dict(plan.columns)
    if export.date_column:
        columns["completed_date"] = export.date_column
    columns = {k: v for k, v in columns.items() if k != v}
    if columns:
        lines.append("    columns:")
        for ours, theirs in columns.items():
            note = {"participant_id": f"the participant id (guess, by its {export.id_how})",
                    "timepoint": "the time point (guess, by its name)",
                    "completed_date": "guess: the date the questionnaire was completed"}[ours]
            lines.append(f"      {ours}: {_q(theirs)}" + _comment(note))
    if plan.own_names:
        lines.append("    items:")
        for iid, sets in export.sets.items():
            lines.append("      # " + _set_summary(sets[0]))
            lines += _item_lines(sets[0], instruments, "      ", True)
    else:
        lines.append("    # items, under spanalysis's names in the drafted copy, came from:")
        for k, tp in enumerate(plan.timepoints):
            for iid, sets in export.sets.items():
                if k < len(sets):
                    lines.append(f"    # {tp}: " + _set_summary(sets[k]))
                    if any(m.how != "name" for m in sets[k].matches.values()):
                        lines += _item_lines(sets[k], instruments, "    ", False)
    if plan.events:
        lines.append("    events:" + _comment("guess: check which value is which time point"))
        lines += [f"      {_q(k)}: {v}" for k, v in plan.events.items()]
    if codes:
        lines.append(f"    missing: [{', '.join(_q(c) for c in codes)}]" + _comment(
            "guess: found in the item columns, no answer of any item"))
    return lines


def _manifest(study_id: str, sources: list[str], plan: _Plan, instruments_used: list[str],
              sites: list[str], participants: list[str], responses: list[str]) -> str:
    lines = [f"# Drafted by 'spanalysis init' from {', '.join(sources)}.",
             "# Check every line marked 'guess', then run: spanalysis validate <this folder>",
             f"id: {study_id}",
             f"name: {_q('Draft study from ' + ', '.join(sources))}",
             "timepoints:" + _comment("ordered, the baseline first")]
    lines += [f"  - {{id: {tp}, label: {_q(plan.labels[tp])}}}" if plan.labels.get(tp, tp) != tp
              else f"  - id: {tp}" for tp in plan.timepoints]
    lines.append(f"instruments: [{', '.join(instruments_used)}]")
    note = ("guess: one site; rename it, or list every site and map the participants' site "
            "column") if sites == [DEFAULT_SITE] else "the values of the participants' site column"
    lines.append(f"sites: [{', '.join(_q(s) for s in sites)}]" + _comment(note))
    lines += ["files:"] + participants + responses
    return "\n".join(lines) + "\n"


def _study_id(out: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", out.name).strip("-_")
    return name if name and name[0].isalnum() else "draft"


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("the output folder exists and is not empty: init drafts a new study "
                         "folder and never writes over files", file=str(out), column="--out",
                         value=str(out), expected="a folder that does not exist yet, or an "
                                                  "empty one")


def _sources(files) -> list[Path]:
    paths = [Path(f) for f in files]
    if not paths:
        raise InputError("no export given", column="FILE", expected="one or more survey "
                         "exports (.csv, .xlsx or .sav)")
    for path in paths:
        if not path.is_file():
            raise InputError("export not found", file=str(path), value=str(path),
                             expected="an existing .csv, .xlsx or .sav file")
        if path.suffix.lower() not in _SUPPORTED:
            raise InputError("unsupported export type", file=str(path),
                             value=path.suffix or "(none)", expected="one of "
                             + ", ".join(_SUPPORTED))
    return paths


def _instruments() -> dict:
    """The built-in instruments answered item by item (service use has its own file)."""
    out = {}
    for iid in ins.builtin_ids():
        inst = ins.load(iid)
        if not all(sc.method == "count" for sc in inst.scales):
            out[iid] = inst
    return out


def _plan(export: Export, draft: Draft, taken: set[str], instruments: dict, codes: list
          ) -> _Plan:
    """How the responses file is named in study.yaml (see the module's docstring)."""
    most = max(len(s) for s in export.sets.values())
    if export.time_column is not None:
        if most > 1:
            for iid, sets in export.sets.items():
                for extra in sets[1:]:
                    draft.unmapped += extra.columns()
                    draft.check.append(f"{_set_summary(extra)}: a second set of items in a "
                                       "file with a time-point column is not mapped")
            export.sets = {iid: sets[:1] for iid, sets in export.sets.items()}
        return _plan_long(export, draft, taken)
    if most == 1:
        return _plan_one_set(export, draft, taken)
    return _plan_person(export, draft, taken, instruments, codes)


def _recognised(export: Export, plan: _Plan, codes: list) -> list[str]:
    platform = PLATFORM_NAMES.get(export.platform or "", "")
    out = [f"responses: {export.copy_name}" + (f" ({platform} export)" if platform else "")]
    for iid, sets in export.sets.items():
        for k, item_set in enumerate(sets):
            at = plan.timepoints[k] if len(sets) > 1 else (
                "each row's time point" if export.time_column else plan.timepoints[0])
            out.append(f"  {_set_summary(item_set)} -> {at}")
    out.append(f"  participant id: '{export.id_column}'"
               + (f" (by its {export.id_how})" if export.id_how != "name" else "")
               if export.id_column else "  participant id: none (rows numbered)")
    if export.time_column:
        out.append(f"  time point: '{export.time_column}' (" + ", ".join(
            f"{k} -> {v}" for k, v in plan.events.items()) + ")")
    if export.date_column:
        out.append(f"  completed date: '{export.date_column}'")
    if codes:
        out.append("  missing codes: " + ", ".join(map(str, codes)))
    return out


def draft_study(files, out) -> Draft:
    """What ``spanalysis init FILE... --out DIR`` writes and says (nothing written yet).

    Raises
    ------
    InputError
        an export missing or of a type not read, an ``out`` that exists and is not empty,
        or no export holding a recognisable instrument.
    """
    out = Path(out)
    _check_out(out)
    paths = _sources(files)
    instruments = _instruments()
    draft, taken = Draft(), {MANIFEST_NAME}
    exports = []
    for path in paths:
        name = _unique(path.name, taken)
        draft.files[name] = path.read_bytes()   # the export itself, byte for byte
        exports.append(_read_export(path, name, instruments))
    with_items = [e for e in exports if e.sets]
    if not with_items:
        raise InputError("no instrument recognised in " + ", ".join(p.name for p in paths),
                         file=paths[0].name, row=1, expected="item columns named after an "
                         "instrument (WEMWBS1, wemwbs_1, WEMWBSa, gse_1, ...) or headed by an "
                         "item's wording, of: " + ", ".join(instruments))
    export = with_items[0]
    for other in with_items[1:]:
        draft.check.append(f"{other.copy_name} also holds items ({', '.join(other.sets)}): "
                           "it is copied but not used, as a study has one responses file; "
                           "combine the exports into one to analyse them together")
    if export.id_column is not None and export.id_column.casefold() == "responseid":
        draft.check.append("the participant id is Qualtrics' ResponseId, which differs at "
                           "every response: map your study's own id (an embedded-data field) "
                           "if people answered more than once")
    codes = _missing_codes(export, instruments)
    plan = _plan(export, draft, taken, instruments, codes)
    draft.recognised += _recognised(export, plan, codes)
    used = {export.id_column, export.time_column, export.date_column} | {
        c for sets in export.sets.values() for s in sets for c in s.columns()}
    draft.unmapped += [c for c in export.frame.columns if c not in used
                       and c not in draft.noted and c not in draft.unmapped]
    personal = personal_columns(c for c in export.frame.columns if c not in used)
    if personal:
        draft.check.append(
            f"{', '.join(map(str, personal))} in {export.copy_name} "
            f"{'looks' if len(personal) == 1 else 'look'} like personal details "
            "(names, contact details, network addresses, dates of birth, NHS numbers): "
            "spanalysis never reads them, but the copy in the study folder holds them; delete "
            "those columns from the copy if your data agreement asks for it")
    for item_set in export.partial:
        draft.check.append(f"{_set_summary(item_set)}: not every item of "
                           f"{item_set.instrument} was found, so these columns are not mapped")
    participants, sites = _participants([e for e in exports if e is not export], plan, draft,
                                        taken, responses=export)
    if "wemwbs" in export.sets and "swemwbs" not in export.sets:
        draft.check.append("SWEMWBS can be scored from the WEMWBS items: add swemwbs to "
                           "instruments if you report it")
    draft.manifest = _manifest(_study_id(out), [p.name for p in paths], plan,
                               list(export.sets), sites, participants,
                               _responses_lines(export, plan, instruments, codes))
    return draft


def write_draft(draft: Draft, out) -> Path:
    """Write ``draft`` into ``out`` (created if need be; refused if it exists and is not
    empty), each file atomically and ``study.yaml`` last. If anything fails, every file
    written is removed again (and ``out``, when this call created it)."""
    out = Path(out)
    _check_out(out)
    created = not out.exists()
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in list(draft.files.items()) + [(MANIFEST_NAME,
                                                        draft.manifest.encode("utf-8"))]:
            path = out / name
            with atomic_write(path, "wb") as handle:
                handle.write(data)
            written.append(path)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return out


def init_command(files, out) -> int:
    """``spanalysis init FILE... --out DIR``: draft, write, say what was done and validate
    the draft. Returns 0, or 1 when the draft does not pass ``spanalysis validate`` yet."""
    from spanalysis.study.loader import validate_study

    draft = draft_study(files, out)
    write_draft(draft, out)
    print(f"drafted a study in {out}")
    print("recognised:")
    for line in draft.recognised:
        print(f"  {line}")
    if draft.unmapped:
        print(f"left unmapped ({len(draft.unmapped)} column(s)): " + ", ".join(
            map(str, draft.unmapped)))
    print("check:")
    for line in draft.check + ["every line marked 'guess' in study.yaml"]:
        print(f"  - {line}")
    issues = validate_study(out)
    errors = [i for i in issues if i.level == "error"]
    for issue in errors[:20]:
        print(f"error: {issue}")
    print(f"spanalysis validate: {len(errors)} error(s), {len(issues) - len(errors)} "
          f"warning(s)" + ("" if not errors else " - fix study.yaml before analysing"))
    return 1 if errors else 0
