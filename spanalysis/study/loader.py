"""Loading and validating a study: ``load_study(path)`` and ``validate_study(path)``.

Data flows one way: study files -> validated :class:`Study` -> scores -> change and codes ->
integrated tables -> figures and reports. This module is the first step. It reads the files a
``study.yaml`` names, checks each against its rule table (:mod:`spanalysis.study.rules`, read
by :func:`spanalysis.study.checks.check_table`), then checks participant ids across files,
and holds the canonical tables every later step uses. Before the checks, an export's own
names and codes are mapped (:mod:`spanalysis.study.mapping`), a survey platform's id and event
columns recognised (:mod:`spanalysis.study.platforms`), and answer labels and spreadsheet
dates read as people type them (:mod:`spanalysis.study.answers`):

* ``participants``: one row per participant (``site`` an ordered categorical in manifest
  order, ``referral_date`` a date);
* ``responses``: questionnaire items in the canonical **wide** layout, one row per participant
  and time point (``timepoint`` an ordered categorical, items as floats with NaN for a missing
  answer), whichever layout the file used;
* ``service_use``: optional long table of counts before and after referral.

Loading never writes into the study folder.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from spanalysis.errors import InputError, Issue, SpanalysisError, ValidationError
from spanalysis.io import TableRead, read_table
from spanalysis.privacy.identifiers import looks_like_nhs_number
from spanalysis.qual.material import Qualitative, from_refi
from spanalysis.study import rules
from spanalysis.study.answers import (
    excel_serial_dates,
    labels_expected,
    long_labels_to_codes,
)
from spanalysis.study.checks import (
    EXAMPLES_PER_CHECK,
    Messages,
    check_table,
    numbers,
    positions,
    text,
)
from spanalysis.study.manifest import FileSpec, Manifest, read_manifest
from spanalysis.study.mapping import PersonFrame, mapped_frame, person_columns, person_frame
from spanalysis.study.model import Study
from spanalysis.study.platforms import (
    checkbox_reasons,
    event_timepoints,
    partial_responses,
    platform_columns,
    recognise,
    without_repeat_rows,
)

__all__ = ["Study", "load_study", "validate_study", "read_study", "PARTICIPANT_COLUMNS"]

#: participants columns: name -> required (from :data:`spanalysis.study.rules.PARTICIPANTS`)
PARTICIPANT_COLUMNS = {r.column: r.required for r in rules.PARTICIPANTS}
#: columns read as text whatever they look like (identifiers keep leading zeros)
_TEXT_COLUMNS = ["participant_id", "site", "timepoint", "item", "age_band", "gender",
                 "ethnicity", "referral_reasons", "link_worker", "service", "period"]
_ID_EXPECTED = "a participant id from the participants file"
_DATE_COLUMNS = ("referral_date", "completed_date")


def load_study(path: str | Path) -> Study:
    """Read, validate and return the study in folder ``path``.

    Raises
    ------
    ValidationError
        if any error is found; ``err.issues`` lists every error and warning, each naming
        the file, row, column, value found and what was expected.
    """
    study, issues = read_study(path)
    if study is None:
        raise ValidationError(issues)
    return study


def validate_study(path: str | Path) -> list[Issue]:
    """Every error and warning in the study files at ``path`` (an empty list when all is
    well). The crosswalk and meta-inference files are checked by
    :func:`spanalysis.validate_study`, which adds :func:`spanalysis.integrate.check_study`."""
    _, issues = read_study(path)
    return issues


def read_study(path: str | Path) -> tuple[Study | None, list[Issue]]:
    """The study at ``path`` (None when it has errors) and every error and warning found."""
    return _Loader(Path(path)).run()


class _Loader(Messages):
    """Reads one study: each file checked on its own, then the ids across files."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.partial_responses = 0
        self.person: PersonFrame | None = None   # a person-layout responses file, reshaped

    def run(self) -> tuple[Study | None, list[Issue]]:
        try:
            manifest = read_manifest(self.path)
        except ValidationError as exc:
            return None, list(exc.issues)
        except InputError as exc:
            return None, [exc.issue]
        try:
            instruments = self._instruments(manifest)
        except SpanalysisError as exc:
            self.issues += getattr(exc, "issues", None) or [getattr(exc, "issue", None)
                                                            or Issue("error", str(exc))]
            return None, self.issues
        self._check_primary_outcome(manifest, instruments)
        from spanalysis import instruments as ins

        items = ins.item_table(instruments).drop_duplicates("item").set_index("item")
        labels = {it.id: dict(it.labels) for inst in instruments.values() for it in inst.items}
        items["labels"] = [labels.get(i, {}) for i in items.index]
        tables = [self._read(manifest.participants),
                  self._read(manifest.responses, keep_codes=list(items.index),
                             timepoints=manifest.timepoint_ids),
                  self._read(manifest.service_use) if manifest.service_use else None]
        participants = self._participants(manifest, tables[0])
        responses = self._responses(manifest, items, tables[1], instruments)
        service = self._service_use(tables[2])
        if participants is not None:
            self._identifiers(manifest, participants, responses, service)
        qualitative = self._qualitative(manifest, participants)
        if participants is not None:
            self._coverage(manifest, participants)
        if any(i.level == "error" for i in self.issues):
            return None, self.issues
        study = Study(manifest, participants, responses, service, instruments,
                      list(self.issues), qualitative, self.partial_responses)
        return study, self.issues

    def _instruments(self, manifest: Manifest) -> dict:
        from spanalysis import instruments as ins

        return ins.registry(manifest.instruments, custom_paths=manifest.custom_instruments)

    def _check_primary_outcome(self, manifest: Manifest, instruments: dict):
        """The primary outcome names a scale of its instrument (the reports lead with it)."""
        if manifest.primary_outcome is None:
            return
        instrument, scale = manifest.primary_outcome
        known = ([sc.id for sc in instruments[instrument].scales] if instrument in instruments
                 else [])
        if known and scale not in known:
            self.add("error", "the primary outcome is not a scale of its instrument",
                     file="study.yaml", column="primary_outcome.scale", value=scale,
                     expected=f"one of {instrument}'s scales: " + ", ".join(known))

    def _read(self, spec: FileSpec, keep_codes: list[str] = (),
              timepoints: list[str] | None = None) -> TableRead | None:
        """The file of ``spec``, read, with study.yaml's mapping of its own column names and
        "not answered" codes applied (:mod:`spanalysis.study.mapping`), a survey platform's
        own id and event columns taken as spanalysis's (:mod:`spanalysis.study.platforms`)
        and, for the responses (``timepoints`` given), event names made time points."""
        person = timepoints is not None and spec.options.get("layout") == "person"
        names = {**spec.options.get("columns", {}),
                 **({} if person else spec.options.get("items", {}))}
        codes = (person_columns(spec.options) if person
                 else [names.get(c, c) for c in keep_codes])
        try:
            table = read_table(spec.path, label=spec.name, sheet=spec.options.get("sheet"),
                               text_columns=[names.get(c, c) for c in _TEXT_COLUMNS],
                               keep_codes=codes)
        except InputError as exc:
            self.issues.append(exc.issue)
            return None
        self.issues += table.issues
        options = spec.options
        platform = recognise(table.frame.columns, table.header_rows)
        own = platform_columns(platform, table.frame.columns, names if not person else {
            **names, **{f"{k}:{c}": c for k, c in enumerate(codes)}})
        if own:
            options = {**options, "columns": {**options.get("columns", {}), **own}}
        if person:   # one row per participant: reshaped, each cell keeping its file column
            self.person = person_frame(table.frame, options, table.label, self.issues)
            frame = None if self.person is None else self.person.frame
        else:
            frame = mapped_frame(table.frame, options, table.label, self.issues)
        if frame is None:
            return None
        if timepoints is not None:
            if not person and platform == "redcap":
                frame = without_repeat_rows(frame, keep_codes, table.label, self.issues)
            if not person and (platform == "redcap" or options.get("events")):
                frame = event_timepoints(frame, options.get("events"), timepoints,
                                         table.label, self.issues)
            self.partial_responses = partial_responses(table.frame if person else frame) \
                if platform == "qualtrics" else 0
            if self.partial_responses:
                self.add("warning", f"{self.partial_responses} partial response(s) (Finished "
                         "= 0) are kept", file=table.label, column="Finished",
                         value=self.partial_responses, expected="check they are meant to be "
                         "analysed; leave their rows out of the export if not")
        if spec.path.suffix.lower() == ".xlsx":   # dates Excel stored as serial numbers
            for col in _DATE_COLUMNS:
                if col in frame.columns:
                    frame[col] = excel_serial_dates(frame[col])
        return dataclasses.replace(table, frame=frame)

    # -- each file on its own -----------------------------------------------------------
    def _participants(self, manifest: Manifest, table: TableRead | None) -> pd.DataFrame | None:
        """The participants, checked. A single-site study needs no ``site`` column (everyone
        is at its site); without ``referral_date`` the checks that need it are skipped, and
        a warning says so."""
        if table is None:
            return None
        df = checkbox_reasons(table.frame)
        if "site" not in df.columns and len(manifest.sites) == 1:
            df = df.assign(site=manifest.sites[0])
        checks = rules.PARTICIPANTS
        if "referral_date" not in df.columns:
            checks = tuple(r for r in checks if r.column != "referral_date")
            self.add("warning", "no referral_date column: questionnaire dates are not checked "
                     "against the referral, and time to follow-up is not reported",
                     file=table.label, row=1, column="referral_date",
                     expected="a referral_date column (or map yours with files.participants."
                              "columns in study.yaml)")
        if not self.require(table.label, df.columns, rules.required_columns(checks),
                            "participants"):
            return None
        out = pd.DataFrame(check_table(self, table.label, df, checks, sites=manifest.sites),
                           index=df.index)
        if "referral_date" not in out.columns:
            out.insert(2, "referral_date", pd.Series(pd.NaT, index=df.index,
                                                     dtype="datetime64[ns]"))
        for col in df.columns:  # further participant attributes are kept as they are
            if col not in out.columns:
                out[col] = df[col]
        return out

    def _responses(self, manifest: Manifest, items: pd.DataFrame, table: TableRead | None,
                   instruments: dict) -> pd.DataFrame | None:
        """``items``: the study's items (index: item id; min, max, integer). The result's
        index holds each row's 0-based row in the file (a long file: its first row for the
        participant and time point), so later messages name the right row."""
        if table is None:
            return None
        df = table.frame
        if df.empty and self.person is not None:
            self.add("error", "no participant has an answer at any time point in the "
                     "responses file", file=table.label, row=2, expected="one row per "
                     "participant, with the answers in the columns listed under "
                     "files.responses.items in study.yaml")
            return None
        if df.empty:   # a header alone: nothing to score, so nothing a report could show
            self.add("error", "the responses file has a header but no rows", file=table.label,
                     row=2, expected="one row per participant and time point (the "
                     "questionnaire answers)")
            return None
        if self.person is not None:   # reshaped by person_frame: the keys are there
            wide = self._check_wide(table, items, instruments)
        elif manifest.responses_layout == "long":
            if not self.require(table.label, df.columns,
                                ["participant_id", "timepoint", "item", "value"],
                                "responses (long layout)"):
                return None
            wide = self._long_to_wide(table, items)
        else:
            if not self.require(table.label, df.columns, ["participant_id", "timepoint"],
                                "responses"):
                return None
            if "item" in df.columns and "value" in df.columns and not \
                    set(df.columns) & set(items.index):
                self.add("error", "this looks like a long-layout file but study.yaml says wide",
                         file=table.label, row=1, column="item",
                         expected="files.responses.layout: long in study.yaml")
                return None
            wide = self._check_wide(table, items, instruments)
        keys = rules.response_rules(manifest.timepoint_ids, items.iloc[:0])
        wide["timepoint"] = check_table(self, table.label, wide, keys[-1:])["timepoint"]
        return wide

    def _check_wide(self, table: TableRead, items: pd.DataFrame,
                    instruments: dict) -> pd.DataFrame:
        df = table.frame
        unknown = [c for c in df.columns if c not in rules.RESPONSES_KEYS and c not in items.index]
        if self.person is not None:   # named as in the file
            unknown = self.person.unmapped + [
                theirs for names in self.person.columns.values()
                for ours, theirs in names.items()
                if ours not in rules.RESPONSES_KEYS and ours not in items.index]
        if unknown:   # an export's own columns (Duration, Finished, ...): left out, said once
            shown = ", ".join(map(str, unknown[:20])) + (
                f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
            self.add("warning", f"{len(unknown)} column(s) are not items of the study's "
                     "instruments and are left out", file=table.label, row=1, value=shown,
                     expected="item columns of the instruments in study.yaml (e.g. "
                              + ", ".join(list(items.index[:3])) + "); map a column of your "
                              "own to an item with files.responses.items in study.yaml")
        present = [c for c in df.columns if c in items.index]
        checks = rules.response_rules([], items.loc[present])[:-1]  # items, then the date
        if self.person is not None:
            self._person_item_columns(table, instruments)
            checked = self._check_person(table, checks)
        else:
            self._item_columns(table, df.columns, instruments)
            checked = check_table(self, table.label, df, checks)
        out = pd.DataFrame({c: checked[c] for c in present}, index=df.index)
        out.insert(0, "participant_id", df["participant_id"])  # checked with the other ids
        out.insert(1, "timepoint", df["timepoint"])
        out.insert(2, "completed_date", checked.get("completed_date", pd.Series(
            pd.NaT, index=df.index, dtype="datetime64[ns]")))
        return out

    def _item_columns(self, table: TableRead, columns, instruments: dict) -> None:
        """Every item of every instrument has a column (what scoring will need)."""
        from spanalysis import instruments as ins

        for inst in instruments.values():
            if all(sc.method == "count" for sc in inst.scales):
                continue   # service use: scored from its own file
            try:
                ins.check_item_columns(columns, inst, table.label)
            except InputError as exc:
                issue = exc.issue
                self.add("error", issue.message, file=table.label, row=1, column=issue.column,
                         expected=issue.expected)

    def _person_item_columns(self, table: TableRead, instruments: dict) -> None:
        """A person-layout file: every item of every instrument has a column at some time
        point, and a time point holding some of an instrument's items holds them all."""
        from spanalysis import instruments as ins

        columns = self.person.columns
        self._item_columns(table, {c for names in columns.values() for c in names},
                           instruments)
        for inst in instruments.values():
            if all(sc.method == "count" for sc in inst.scales):
                continue
            own = {it.id for it in inst.items}
            for tp, names in columns.items():
                if not own & set(names):
                    continue   # not asked at this time point
                try:
                    ins.check_item_columns(names, inst, table.label)
                except InputError as exc:
                    self.add("error", f"at time point '{tp}': {exc.issue.message}",
                             file=table.label, row=1, column=exc.issue.column,
                             expected=f"a column for every item of {inst.id} under "
                                      f"files.responses.items.{tp} in study.yaml")

    def _check_person(self, table: TableRead, checks) -> dict[str, pd.Series]:
        """The item and date checks of a person-layout file, one time point at a time, each
        rule renamed to the file's column, so messages name the file's own column
        (``WEMWBSa_fu``); the checked columns under spanalysis's names, in the frame's row
        order (cells of a time point without that column stay blank)."""
        df = table.frame
        tp = df["timepoint"].to_numpy()
        out: dict[str, np.ndarray] = {}
        for point, names in self.person.columns.items():
            rows = np.flatnonzero(tp == point)
            if not len(rows):
                continue
            own = {ours: theirs for ours, theirs in names.items() if ours != "participant_id"}
            block = df.iloc[rows][list(own)].rename(columns=own)
            found = check_table(self, table.label, block, [
                dataclasses.replace(r, column=own[r.column]) for r in checks
                if r.column in own])
            for ours, theirs in own.items():
                if theirs not in found:
                    continue
                if ours not in out:
                    out[ours] = (np.full(len(df), np.datetime64("NaT", "ns"))
                                 if ours == "completed_date" else np.full(len(df), np.nan))
                out[ours][rows] = np.asarray(found[theirs], dtype=out[ours].dtype)
        for rule in checks:   # a column only of time points that no one answered
            if rule.column in df.columns and rule.column not in out:
                out[rule.column] = (np.full(len(df), np.datetime64("NaT", "ns"))
                                    if rule.kind == "date" else np.full(len(df), np.nan))
        return {c: pd.Series(v, index=df.index) for c, v in out.items()}

    def _long_to_wide(self, table: TableRead, items: pd.DataFrame) -> pd.DataFrame:
        df, label = table.frame, table.label
        pid, tp, item = text(df["participant_id"]), text(df["timepoint"]), text(df["item"])
        unknown = positions(item, items.index) < 0
        self.flag_rows(label, df, unknown, "item", "not an item of the study's instruments",
                       "an item id such as " + ", ".join(items.index[:3]), values=item)
        key = pd.DataFrame({"p": pid, "t": tp, "i": item})
        dup = key.duplicated(keep=False).to_numpy()
        self.flag_rows(label, df, dup, "item",
                       "the same participant, time point and item appear more than once",
                       "one answer per participant, time point and item", values=item)
        labelled = {i: tuple(lab.items()) for i, lab in items["labels"].items() if lab}
        values, not_number = numbers(long_labels_to_codes(item, df["value"], labelled))
        has_labels = item.isin(list(labelled)).to_numpy()
        self.flag_rows(label, df, not_number & ~unknown & ~has_labels, "value",
                       "answer is not a number", "a number in the item's range",
                       values=df["value"])
        self._long_not_labels(table, items, item, not_number & ~unknown & has_labels)
        bad = self._long_ranges(table, items, item, values, unknown)
        blank = (pid.isna() | tp.isna()).to_numpy()
        self.flag_rows(label, df, pid.isna(), "participant_id", "participant id is blank",
                       _ID_EXPECTED, values=pid)
        self.flag_rows(label, df, tp.isna(), "timepoint", "time point is blank",
                       "a time point from study.yaml", values=tp)
        keep = ~unknown & ~dup & ~blank
        long = pd.DataFrame({"participant_id": pid, "timepoint": tp, "item": item,
                             "value": values.where(~bad)})[keep]
        wide = long.pivot(index=["participant_id", "timepoint"], columns="item", values="value")
        wide.columns.name = None
        order = [c for c in items.index if c in wide.columns]
        wide = wide[order].reset_index()
        wide = wide.merge(self._long_dates(table, pid, tp, keep),
                          on=["participant_id", "timepoint"], how="left")
        # the long file's first row for each (participant, time point) names it in messages
        first_row = (key[keep].reset_index()
                     .drop_duplicates(["p", "t"])
                     .rename(columns={"p": "participant_id", "t": "timepoint", "index": "_row"}))
        wide = wide.merge(first_row[["participant_id", "timepoint", "_row"]],
                          on=["participant_id", "timepoint"], how="left").set_index("_row")
        wide.index.name = None
        return wide[list(rules.RESPONSES_KEYS) + order]

    def _long_not_labels(self, table: TableRead, items: pd.DataFrame, item: pd.Series,
                         bad: np.ndarray) -> None:
        """Answers of a labelled item that are neither a number nor one of its labels (each
        message lists that item's labels)."""
        raw = table.frame["value"]
        for i in np.flatnonzero(bad)[:EXAMPLES_PER_CHECK]:
            row = items.loc[item.iloc[i]]
            self.add("error", f"answer to {item.iloc[i]} is not a number, nor one of its labels",
                     file=table.label, row=int(table.frame.index[i]) + 2, column="value",
                     value=raw.iloc[i], expected=labels_expected(
                         rules.item_expected(row), tuple(row["labels"].items())))
        if bad.sum() > EXAMPLES_PER_CHECK:
            self.add("error", f"{bad.sum() - EXAMPLES_PER_CHECK} more answer(s) that are not a "
                     "number nor a label", file=table.label, column="value")

    def _long_ranges(self, table: TableRead, items: pd.DataFrame, item: pd.Series,
                     values: pd.Series, unknown: np.ndarray) -> np.ndarray:
        """Answers outside their item's range (each message names that item's range)."""
        lo, hi = item.map(items["min"]), item.map(items["max"])
        integer = item.map(items["integer"]).fillna(True).astype(bool)
        bad = (values.notna() & ~unknown & ((values < lo) | (values > hi)
                                            | (integer & (values != np.floor(values))))
               ).to_numpy()
        raw = table.frame["value"]
        for i in np.flatnonzero(bad)[:EXAMPLES_PER_CHECK]:
            self.add("error", f"answer to {item.iloc[i]} is outside the item's range",
                     file=table.label, row=int(table.frame.index[i]) + 2, column="value",
                     value=raw.iloc[i],
                     expected=rules.item_expected(items.loc[item.iloc[i]]))
        if bad.sum() > EXAMPLES_PER_CHECK:
            self.add("error", f"{bad.sum() - EXAMPLES_PER_CHECK} more answer(s) outside their "
                     "item's range", file=table.label, column="value")
        return bad

    def _long_dates(self, table, pid, tp, keep) -> pd.DataFrame:
        """Each (participant, time point)'s first questionnaire date of a long file."""
        if "completed_date" not in table.frame.columns:
            return pd.DataFrame({"participant_id": pd.Series(dtype="str"),
                                 "timepoint": pd.Series(dtype="str"),
                                 "completed_date": pd.Series(dtype="datetime64[ns]")})
        checked = check_table(self, table.label, table.frame, [rules.Rule("completed_date",
                                                                         "date")])
        first = pd.DataFrame({"participant_id": pid, "timepoint": tp,
                              "completed_date": checked["completed_date"]}
                             )[keep].dropna(subset=["completed_date"])
        return first.groupby(["participant_id", "timepoint"], sort=False, dropna=False)[
            "completed_date"].first().reset_index()

    def _service_use(self, table: TableRead | None) -> pd.DataFrame | None:
        if table is None or not self.require(table.label, table.frame.columns,
                                             rules.required_columns(rules.SERVICE_USE),
                                             "service use"):
            return None
        checked = check_table(self, table.label, table.frame, rules.SERVICE_USE)
        return pd.DataFrame(checked, index=table.frame.index)

    # -- participant ids across files ---------------------------------------------------
    def _identifiers(self, manifest: Manifest, participants: pd.DataFrame,
                     responses: pd.DataFrame | None, service: pd.DataFrame | None):
        """The participants' own ids (blank, repeated, NHS numbers), then the ids of the
        responses and service use against them."""
        label = manifest.participants.name
        pid = participants["participant_id"]
        self.flag_rows(label, participants, pid.isna(), "participant_id",
                       "participant id is blank", "a pseudonymous identifier")
        self.flag_rows(label, participants, pid.notna() & pid.duplicated(keep=False),
                       "participant_id", "participant id appears more than once",
                       "one row per participant")
        self.flag_rows(label, participants, _nhs_numbers(pid), "participant_id",
                       "this identifier is a valid NHS number; studies must use pseudonymous "
                       "identifiers", "a pseudonymous study identifier such as 'SP0001'",
                       values="(NHS number withheld)")
        if responses is not None:
            responses["participant_id"] = text(responses["participant_id"])
        ids = _Ids(pid, [None if f is None else f["participant_id"] for f in (responses, service)])
        if responses is not None:
            self._response_ids(manifest, participants, responses, ids, ids.codes[0])
            self._coverage_baseline(manifest, participants, responses, ids, ids.codes[0])
        if service is not None:
            self._service_ids(manifest, service, ids, ids.codes[1])

    def _response_ids(self, manifest: Manifest, participants: pd.DataFrame,
                      responses: pd.DataFrame, ids: "_Ids", codes: np.ndarray):
        """Blank, unknown and duplicated participants in the responses; questionnaire dates
        against the referral date."""
        label = manifest.responses.name
        pid = responses["participant_id"]
        # a person-layout file: a person's rows share their file row, said once, and its
        # columns are named as in the file
        once, id_column = True, "participant_id"
        if self.person is not None:
            once = ~responses.index.duplicated()
            id_column = next(iter(self.person.columns.values()))["participant_id"]
        self.flag_rows(label, responses, pid.isna() & once, id_column,
                       "participant id is blank", _ID_EXPECTED, values=pid)
        self.flag_rows(label, responses, (codes >= 0) & ~ids.known[codes] & once, id_column,
                       "responses for a participant who is not in the participants file",
                       "a participant id listed in " + manifest.participants.name, values=pid)
        if manifest.responses_layout == "wide":
            dup = pid.notna() & responses.duplicated(["participant_id", "timepoint"], keep=False)
            self.flag_rows(label, responses, dup, "timepoint",
                           "the same participant and time point appear on more than one row",
                           "one row per participant and time point",
                           values=responses["timepoint"].astype(object))
        elif self.person is not None:
            dup = pid.notna() & once & responses[once].duplicated(
                "participant_id", keep=False).reindex(responses.index, fill_value=False)
            self.flag_rows(label, responses, dup, id_column,
                           "the same participant appears on more than one row",
                           "one row per participant (layout: person)", values=pid)
        # A follow-up cannot be completed before the referral it follows.
        dates = np.append(participants["referral_date"].to_numpy(dtype="datetime64[ns]"),
                          np.datetime64("NaT", "ns"))
        referral = pd.Series(dates[ids.first_row[codes]],
                             index=responses.index)  # -1 (not a participant) finds NaT
        done = responses["completed_date"]
        early = (done < referral).to_numpy()  # NaT compares False
        later = (responses["timepoint"].cat.codes > 0).to_numpy()
        shown = None
        if early.any():  # formatting dates is slow: only when something is to be reported
            shown = (done.dt.strftime("%Y-%m-%d") + " (referral "
                     + referral.dt.strftime("%Y-%m-%d") + ")")
        for column, rows in self._date_columns(responses):
            self.flag_rows(label, responses, early & later & rows, column,
                           "follow-up questionnaire dated before the participant's referral",
                           "a date on or after the referral date", values=shown)
            self.flag_rows(label, responses, early & ~later & rows, column,
                           "baseline questionnaire dated before the referral (accepted; "
                           "check the dates)", "a date on or after the referral date",
                           values=shown, level="warning")

    def _date_columns(self, responses: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
        """The responses' date column as the file names it, and the rows it holds: one
        column for every row, or a person-layout file's date column of each time point."""
        if self.person is None:
            return [("completed_date", np.ones(len(responses), dtype=bool))]
        tp = responses["timepoint"].astype(object).to_numpy()
        return [(names["completed_date"], tp == point)
                for point, names in self.person.columns.items() if "completed_date" in names]

    def _service_ids(self, manifest: Manifest, service: pd.DataFrame, ids: "_Ids",
                     codes: np.ndarray):
        label = manifest.service_use.name
        pid = service["participant_id"]
        self.flag_rows(label, service, pid.isna(), "participant_id", "participant id is blank",
                       _ID_EXPECTED)
        dup = pid.notna() & service.duplicated(["participant_id", "service", "period"],
                                               keep=False)
        self.flag_rows(label, service, dup, "period",
                       "the same participant, service and period appear more than once",
                       "one count per participant, service and period",
                       values=service["period"].astype(object))
        self.flag_rows(label, service, (codes >= 0) & ~ids.known[codes], "participant_id",
                       "service use for a participant who is not in the participants file",
                       "a participant id listed in " + manifest.participants.name)

    # -- qualitative material -----------------------------------------------------------
    def _qualitative(self, manifest: Manifest, participants) -> Qualitative | None:
        files = manifest.qualitative
        if not files:
            return None
        from spanalysis import qual

        try:
            if "refi_qda" in files:
                project = qual.read_qdpx(files["refi_qda"].path, label=files["refi_qda"].name)
                codebook, sources, segments = from_refi(project, participants)
            else:
                missing = [k for k in ("codebook", "sources", "segments") if k not in files]
                if missing:
                    self.add("error", "qualitative material needs a codebook, sources and "
                             "segments (or a REFI-QDA project)", file="study.yaml",
                             column="files.qualitative", value=", ".join(missing) + " missing",
                             expected="codebook:, sources: and segments: (or refi_qda:)")
                    return None
                codebook = qual.read_codebook(files["codebook"].path, label=files["codebook"].name)
                sources = qual.read_sources(files["sources"].path, label=files["sources"].name)
                segments = qual.read_segments(files["segments"].path, sources, codebook,
                                              label=files["segments"].name)
            names = (qual.read_names(files["names"].path) if "names" in files else [])
        except ValidationError as exc:
            self.issues += exc.issues
            return None
        except InputError as exc:
            self.issues.append(exc.issue)
            return None
        if participants is not None and "refi_qda" not in files:
            self._source_links(manifest, files["sources"].name, sources, participants)
        return Qualitative(codebook, sources, segments, names)

    def _source_links(self, manifest: Manifest, label: str, sources: pd.DataFrame,
                      participants: pd.DataFrame):
        """Sources name known participants and sites; an interview names its participant."""
        pid = sources["participant_id"]
        self.flag_rows(label, sources, pid.notna() & ~pid.isin(participants["participant_id"]),
                       "participant_id", "source for a participant who is not in the "
                       "participants file", "a participant id listed in "
                       + manifest.participants.name)
        unlinked = int(((sources["source_type"] == "interview") & pid.isna()).sum())
        if unlinked:
            self.add("warning", f"{unlinked} interview(s) name no participant: their themes "
                     "are counted by source, but they cannot be set beside anyone's change",
                     file=label, column="participant_id",
                     expected="the interviewed participant's id, to link the strands")
        # a source's site, where it gives none, is its participant's (or the only site)
        site_of = participants.set_index("participant_id")["site"]
        linked = sources["site"].isna() & pid.notna()
        if linked.any():
            sources.loc[linked, "site"] = pid[linked].map(site_of).astype(object)
        if len(manifest.sites) == 1:
            sources["site"] = sources["site"].fillna(manifest.sites[0])
        site = sources["site"]
        self.flag_rows(label, sources, site.notna() & ~site.isin(manifest.sites), "site",
                       "site not declared in study.yaml", "one of " + ", ".join(manifest.sites))

    # -- coverage warnings ----------------------------------------------------------------
    def _coverage(self, manifest: Manifest, participants: pd.DataFrame):
        counts = participants["site"].value_counts().to_dict()
        for site in manifest.sites:
            if counts.get(site, 0) == 0:
                self.add("warning", "a declared site has no participants", file="study.yaml",
                         column="sites", value=site)

    def _coverage_baseline(self, manifest: Manifest, participants: pd.DataFrame,
                           responses: pd.DataFrame, ids: "_Ids", codes: np.ndarray):
        at_baseline = codes[(responses["timepoint"].cat.codes == 0).to_numpy() & (codes >= 0)]
        seen = np.zeros(ids.size + 1, dtype=bool)   # the last slot: code -1 (blank)
        seen[at_baseline] = True
        pid = participants["participant_id"]
        missing = (ids.participants >= 0) & ~seen[ids.participants]
        n = int(missing.sum())
        if n and n == int((ids.participants >= 0).sum()):   # change needs a baseline
            self.add("error", f"no participant has a questionnaire at the baseline "
                     f"('{manifest.baseline}')", file=manifest.responses.name,
                     column="timepoint", expected=f"rows with timepoint '{manifest.baseline}' "
                     "(the first time point in study.yaml)")
        elif n:
            examples = ", ".join(pid[missing].head(5))
            self.add("warning", f"{n} participant(s) have no questionnaire at the baseline "
                     f"(e.g. {examples})", file=manifest.participants.name,
                     column="participant_id")


class _Ids:
    """Participant ids of every file as integers: one code per distinct id, the same in
    every file (``pandas.factorize`` of them all; -1: blank), so the checks across files are
    array lookups. ``known[code]``: the id is in the participants file; ``first_row[code]``:
    its first row there (-1: none). Both have a last slot, which code -1 finds (False, -1)."""

    def __init__(self, participants: pd.Series, others: list[pd.Series | None]):
        columns = [participants] + [c for c in others if c is not None]
        codes, distinct = pd.factorize(pd.concat(columns, ignore_index=True))
        self.size = len(distinct)
        bounds = np.cumsum([0] + [len(c) for c in columns])
        parts = iter([codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
        self.participants = next(parts)
        self.codes = [None if c is None else next(parts) for c in others]
        rows = np.flatnonzero(self.participants >= 0)
        first = np.full(self.size + 1, len(participants), dtype=np.int64)
        np.minimum.at(first, self.participants[rows], rows)   # the first row wins
        self.first_row = np.where(first == len(participants), -1, first)
        self.known = self.first_row >= 0


def _nhs_numbers(pid: pd.Series) -> np.ndarray:
    """Rows whose id is a valid NHS number (checked once per distinct id)."""
    distinct = pd.Series(pid.dropna().unique(), dtype="str")
    flagged = distinct[looks_like_nhs_number(distinct).to_numpy(dtype=bool)]
    return pid.isin(flagged).to_numpy()
