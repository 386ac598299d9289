"""Loading and validating a study: ``load_study(path)`` and ``validate_study(path)``.

Data flows one way: study files -> validated :class:`Study` -> scores -> change and codes ->
integrated tables -> figures and reports. This module is the first step. It reads the files a
``study.yaml`` names, checks them (see the table in ``docs/study-format.md``) and holds the
canonical tables every later step uses:

* ``participants``: one row per participant (``site`` an ordered categorical in manifest
  order, ``referral_date`` a date);
* ``responses``: questionnaire items in the canonical **wide** layout, one row per participant
  and time point (``timepoint`` an ordered categorical, items as floats with NaN for a missing
  answer), whichever layout the file used;
* ``service_use``: optional long table of counts before and after referral.

Loading never writes into the study folder.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .errors import InputError, Issue, SpanalysisError, ValidationError
from .identifiers import looks_like_nhs_number
from .io import TableRead, read_table
from .manifest import FileSpec, Manifest, _site_key, read_manifest

__all__ = ["Study", "load_study", "validate_study", "PARTICIPANT_COLUMNS"]

#: participants columns: name -> required
PARTICIPANT_COLUMNS = {
    "participant_id": True, "site": True, "referral_date": True, "age_band": False,
    "gender": False, "ethnicity": False, "imd_quintile": False, "referral_reasons": False,
    "link_worker": False, "sessions_attended": False,
}
_TEXT_COLUMNS = ["participant_id", "site", "timepoint", "item", "age_band", "gender",
                 "ethnicity", "referral_reasons", "link_worker", "service", "period"]
#: at most this many messages per check and column; the rest are counted in one message
EXAMPLES_PER_CHECK = 10


@dataclass
class Study:
    """A validated study. Build it with :func:`load_study`.

    Attributes
    ----------
    manifest : the parsed ``study.yaml``.
    participants : DataFrame, one row per participant.
    responses : DataFrame, wide layout: ``participant_id, timepoint, completed_date`` and one
        float column per questionnaire item.
    service_use : DataFrame or None: ``participant_id, service, period, count``.
    instruments : dict of instrument id -> :class:`spanalysis.instruments.Instrument`.
    issues : warnings found while loading (errors stop loading).
    """

    manifest: Manifest
    participants: pd.DataFrame
    responses: pd.DataFrame
    service_use: pd.DataFrame | None
    instruments: dict
    issues: list[Issue] = field(default_factory=list)
    qualitative: "Qualitative | None" = None

    # -- descriptive shortcuts -------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.manifest.root

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def sites(self) -> list[str]:
        return list(self.manifest.sites)

    @property
    def timepoints(self) -> list[str]:
        return self.manifest.timepoint_ids

    @property
    def min_cell_size(self) -> int:
        return self.manifest.min_cell_size

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "warning"]

    def input_files(self) -> list[tuple[str, Path, str]]:
        """``(name as in study.yaml, path, SHA-256)`` of every declared input file."""
        files = [("study.yaml", self.manifest.root / "study.yaml")]
        files += [(f.name, f.path) for f in self.manifest.files()]
        files += [(str(p.relative_to(self.manifest.root)) if p.is_relative_to(self.manifest.root)
                   else str(p), p) for p in self.manifest.custom_instruments]
        return [(name, path, _sha256(path)) for name, path in files if path.is_file()]

    # -- derived tables: one source of truth for every notebook and report -----------
    @cached_property
    def scores(self) -> pd.DataFrame:
        """Tidy scores for every instrument (and service use), see
        :func:`spanalysis.instruments.score`."""
        from . import instruments as ins

        parts = [ins.score_all(self.responses, self.instruments)]
        if self.service_use is not None:
            parts.append(ins.score_service_use(self.service_use, self.timepoints))
        scores = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        scores["timepoint"] = pd.Categorical(scores["timepoint"].astype(str),
                                             categories=self.timepoints, ordered=True)
        return scores

    @cached_property
    def scale_info(self) -> pd.DataFrame:
        """One row per scored scale: direction, reliability, MID, norms, and their sources
        (service-use counts included when the study has them)."""
        from . import instruments as ins

        chosen = dict(self.instruments)
        if self.service_use is not None:
            chosen["service_use"] = ins.load("service_use")
        table = ins.scale_table(chosen)
        if self.service_use is not None:
            # services the definition does not name are counts too: lower is better
            known = set(table.loc[table["instrument"] == "service_use", "scale"])
            extra = [sv for sv in self.service_use["service"].dropna().unique() if sv not in known]
            if extra:
                rows = pd.DataFrame({"instrument": "service_use", "scale": extra,
                                     "scale_name": [sv.replace("_", " ") for sv in extra],
                                     "direction": "lower"})
                table = pd.concat([table, rows], ignore_index=True)
        return table

    @cached_property
    def item_info(self) -> pd.DataFrame:
        from . import instruments as ins

        return ins.item_table(self.instruments)

    def for_site(self, site: str | None) -> "Study":
        """The same study restricted to one site (``None`` or ``"all"``: the whole study)."""
        if site in (None, "all"):
            return self
        if site not in self.sites:
            raise InputError("unknown site", value=site,
                             expected="one of " + ", ".join(self.sites) + " or 'all'")
        keep = self.participants["site"] == site
        ids = set(self.participants.loc[keep, "participant_id"])
        sub = Study(self.manifest, self.participants[keep].reset_index(drop=True),
                    self.responses[self.responses["participant_id"].isin(ids)]
                    .reset_index(drop=True),
                    None if self.service_use is None else
                    self.service_use[self.service_use["participant_id"].isin(ids)]
                    .reset_index(drop=True),
                    self.instruments, list(self.issues),
                    None if self.qualitative is None else self.qualitative.for_site(site))
        return sub

    @property
    def interviewed(self) -> set[str]:
        """Participants with at least one interview among the qualitative sources."""
        if self.qualitative is None:
            return set()
        return self.qualitative.interviewed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- loading

def load_study(path: str | Path) -> Study:
    """Read, validate and return the study in folder ``path``.

    Raises
    ------
    ValidationError
        if any error is found; ``err.issues`` lists every error and warning, each naming
        the file, row, column, value found and what was expected.
    """
    study, issues = _Loader(path).run()
    if study is None or any(i.level == "error" for i in issues):
        raise ValidationError(issues)
    return study


def validate_study(path: str | Path) -> list[Issue]:
    """Every error and warning in the study at ``path`` (an empty list when all is well)."""
    _, issues = _Loader(path).run()
    return issues


class _Loader:
    def __init__(self, path):
        self.path = Path(path)
        self.issues: list[Issue] = []

    # -- reporting ----------------------------------------------------------------------
    def add(self, level, message, **where):
        self.issues.append(Issue(level, message, **where))

    def flag_rows(self, table: TableRead, mask: pd.Series, column: str | None, message: str,
                  expected: str | None, values: pd.Series | None = None, level="error"):
        """One issue per flagged row (up to EXAMPLES_PER_CHECK), then a count of the rest."""
        mask = np.asarray(mask, dtype=bool)
        hits = np.flatnonzero(mask)
        if not len(hits):
            return
        if values is None:
            values = table.frame[column] if column in table.frame.columns else None
        for i in hits[:EXAMPLES_PER_CHECK]:
            value = None if values is None else values.iloc[i]
            if value is not None and not isinstance(value, str) and pd.isna(value):
                value = "(blank)"
            self.add(level, message, file=table.label, row=table.row(i), column=column,
                     value=value, expected=expected)
        if len(hits) > EXAMPLES_PER_CHECK:
            self.add(level, f"{len(hits) - EXAMPLES_PER_CHECK} more row(s) with the same problem",
                     file=table.label, column=column, expected=expected)

    # -- main ---------------------------------------------------------------------------
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
        participants = self._participants(manifest)
        responses = self._responses(manifest, instruments, participants)
        service = self._service_use(manifest, participants)
        qualitative = self._qualitative(manifest, participants)
        if participants is not None:
            self._coverage(manifest, participants, responses)
        if any(i.level == "error" for i in self.issues):
            return None, self.issues
        study = Study(manifest, participants, responses, service, instruments,
                      list(self.issues), qualitative)
        return study, self.issues

    def _instruments(self, manifest: Manifest) -> dict:
        from . import instruments as ins

        return ins.registry(manifest.instruments, custom_paths=manifest.custom_instruments)

    def _read(self, spec: FileSpec, **kwargs) -> TableRead | None:
        try:
            table = read_table(spec.path, label=spec.name, sheet=spec.options.get("sheet"),
                               **kwargs)
        except InputError as exc:
            self.issues.append(exc.issue)
            return None
        self.issues += table.issues
        return table

    def _require(self, table: TableRead, required: Iterable[str], what: str) -> bool:
        missing = [c for c in required if c not in table.frame.columns]
        for col in missing:
            self.add("error", f"required column missing from the {what} file", file=table.label,
                     row=1, column=col, expected="columns " + ", ".join(required))
        return not missing

    # -- participants ---------------------------------------------------------------------
    def _participants(self, manifest: Manifest) -> pd.DataFrame | None:
        table = self._read(manifest.participants, text_columns=_TEXT_COLUMNS)
        if table is None:
            return None
        required = [c for c, req in PARTICIPANT_COLUMNS.items() if req]
        if not self._require(table, required, "participants"):
            return None
        df = table.frame
        pid = _text(df["participant_id"])
        self.flag_rows(table, pid.isna(), "participant_id", "participant id is blank",
                       "a pseudonymous identifier")
        dup = pid.duplicated(keep=False) & pid.notna()
        self.flag_rows(table, dup, "participant_id", "participant id appears more than once",
                       "one row per participant")
        self.flag_rows(table, looks_like_nhs_number(pid), "participant_id",
                       "this identifier is a valid NHS number; studies must use pseudonymous "
                       "identifiers", "a pseudonymous study identifier such as 'SP0001'",
                       values=pd.Series(["(NHS number withheld)"] * len(pid)))
        site = _text(df["site"])
        self._check_sites(table, site, manifest.sites)
        referral = self._dates(table, "referral_date", required=True)
        out = pd.DataFrame({"participant_id": pid,
                            "site": pd.Categorical(site.where(site.isin(manifest.sites)),
                                                   categories=manifest.sites, ordered=True),
                            "referral_date": referral})
        for col in ("age_band", "gender", "ethnicity", "referral_reasons", "link_worker"):
            if col in df.columns:
                out[col] = _text(df[col])
        if "imd_quintile" in df.columns:
            out["imd_quintile"] = self._whole_numbers(table, "imd_quintile", 1, 5,
                                                      "a whole number from 1 (most deprived) "
                                                      "to 5")
        if "sessions_attended" in df.columns:
            out["sessions_attended"] = self._whole_numbers(table, "sessions_attended", 0, None,
                                                           "a whole number of sessions, 0 or "
                                                           "more")
        extra = [c for c in df.columns if c not in out.columns]
        for col in extra:  # further participant attributes are kept as they are
            out[col] = df[col]
        self._participant_rows = dict(zip(pid, range(len(pid))))
        return out

    def _check_sites(self, table: TableRead, site: pd.Series, declared: list[str]):
        self.flag_rows(table, site.isna(), "site", "site is blank",
                       "one of the sites in study.yaml")
        known = site.isin(declared) | site.isna()
        if known.all():
            return
        canonical = {_site_key(s): s for s in declared}
        keys = site.map(lambda s: _site_key(s) if isinstance(s, str) else None)
        variant = ~known & keys.isin(list(canonical))
        for i in np.flatnonzero(variant.to_numpy())[:EXAMPLES_PER_CHECK]:
            self.add("error", "site name differs from a declared site only by case or spaces",
                     file=table.label, row=table.row(i), column="site", value=site.iloc[i],
                     expected=repr(canonical[keys.iloc[i]]))
        if variant.sum() > EXAMPLES_PER_CHECK:
            self.add("error", f"{variant.sum() - EXAMPLES_PER_CHECK} more row(s) with a site "
                     "spelled differently", file=table.label, column="site")
        self.flag_rows(table, ~known & ~variant, "site", "site not declared in study.yaml",
                       "one of " + ", ".join(declared))

    def _dates(self, table: TableRead, column: str, required: bool) -> pd.Series:
        raw = table.frame[column]
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = pd.to_datetime(raw).dt.normalize()
            bad = pd.Series(False, index=raw.index)
        else:
            text = _text(raw)
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
            retry = parsed.isna() & text.notna()
            if retry.any():  # UK spreadsheets: day first
                parsed[retry] = pd.to_datetime(text[retry], format="%d/%m/%Y", errors="coerce")
            bad = parsed.isna() & text.notna()
            if getattr(parsed.dt, "tz", None) is not None:
                parsed = parsed.dt.tz_localize(None)
            parsed = parsed.dt.normalize()
        self.flag_rows(table, bad, column, "not a date", "a date such as 2025-03-31 or 31/03/2025")
        if required:
            self.flag_rows(table, raw.isna(), column, "date is blank", "a date")
        return parsed.astype("datetime64[ns]")

    def _whole_numbers(self, table: TableRead, column: str, low, high, expected) -> pd.Series:
        values, not_number = _numeric(table.frame[column])
        self.flag_rows(table, not_number, column, "not a number", expected)
        bad = values.notna() & ((values != np.floor(values)) | (values < low)
                                | ((values > high) if high is not None else False))
        self.flag_rows(table, bad, column, "value out of range", expected)
        return values.where(~bad).astype("Int64")

    # -- responses ------------------------------------------------------------------------
    def _responses(self, manifest: Manifest, instruments: dict,
                   participants: pd.DataFrame | None) -> pd.DataFrame | None:
        from . import instruments as ins

        items = ins.item_table(instruments).drop_duplicates("item").set_index("item")
        table = self._read(manifest.responses, text_columns=_TEXT_COLUMNS,
                           keep_codes=list(items.index))
        if table is None:
            return None
        df = table.frame
        if manifest.responses_layout == "long":
            if not self._require(table, ["participant_id", "timepoint", "item", "value"],
                                 "responses (long layout)"):
                return None
            wide = self._long_to_wide(table, items)
        else:
            if not self._require(table, ["participant_id", "timepoint"], "responses"):
                return None
            if "item" in df.columns and "value" in df.columns and not \
                    set(df.columns) & set(items.index):
                self.add("error", "this looks like a long-layout file but study.yaml says wide",
                         file=table.label, row=1, column="item",
                         expected="files.responses.layout: long in study.yaml")
                return None
            wide = self._check_wide(table, items)
        if wide is None:
            return None
        self._check_response_keys(table, wide, manifest, participants)
        return wide

    def _check_wide(self, table: TableRead, items: pd.DataFrame) -> pd.DataFrame | None:
        df = table.frame
        meta_cols = ["participant_id", "timepoint", "completed_date"]
        unknown = [c for c in df.columns if c not in meta_cols and c not in items.index]
        for col in unknown:
            self.add("error", "column is not an item of the study's instruments",
                     file=table.label, row=1, column=col, value=col,
                     expected="item columns of the instruments listed in study.yaml (e.g. "
                              + ", ".join(list(items.index[:3])) + "); add the instrument to "
                              "study.yaml or remove the column")
        out = pd.DataFrame({"participant_id": _text(df["participant_id"]),
                            "timepoint": _text(df["timepoint"])})
        out["completed_date"] = (self._dates(table, "completed_date", required=False)
                                 if "completed_date" in df.columns
                                 else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]"))
        item_cols = [c for c in df.columns if c in items.index]
        values = {}
        for col in item_cols:
            values[col] = self._item_values(table, df[col], col, items.loc[col], col)
        if values:
            out = pd.concat([out, pd.DataFrame(values, index=df.index)], axis=1)
        return out

    def _item_values(self, table: TableRead, raw: pd.Series, column: str, item,
                     item_id: str, rows: pd.Series | None = None) -> pd.Series:
        values, not_number = _numeric(raw)
        expected = _item_expected(item)
        self.flag_rows(table, not_number, column, f"answer to {item_id} is not a number",
                       expected, values=raw)
        bad = values.notna() & ((values < item["min"]) | (values > item["max"]))
        if bool(item.get("integer", True)):
            bad |= values.notna() & (values != np.floor(values))
        self.flag_rows(table, bad, column, f"answer to {item_id} is outside the item's range",
                       expected, values=raw)
        return values.where(~bad)

    def _long_to_wide(self, table: TableRead, items: pd.DataFrame) -> pd.DataFrame | None:
        df = table.frame
        pid = _text(df["participant_id"])
        tp = _text(df["timepoint"])
        item = _text(df["item"])
        unknown = ~item.isin(items.index)
        self.flag_rows(table, unknown, "item", "not an item of the study's instruments",
                       "an item id such as " + ", ".join(items.index[:3]), values=item)
        key = pd.DataFrame({"p": pid, "t": tp, "i": item})
        dup = key.duplicated(keep=False)
        self.flag_rows(table, dup, "item",
                       "the same participant, time point and item appear more than once",
                       "one answer per participant, time point and item", values=item)
        raw = df["value"]
        values, not_number = _numeric(raw)
        self.flag_rows(table, not_number & ~unknown, "value", "answer is not a number",
                       "a number in the item's range", values=raw)
        lo = item.map(items["min"])
        hi = item.map(items["max"])
        integer = item.map(items["integer"]).fillna(True).astype(bool)
        bad = values.notna() & ~unknown & ((values < lo) | (values > hi)
                                           | (integer & (values != np.floor(values))))
        for i in np.flatnonzero(bad.to_numpy())[:EXAMPLES_PER_CHECK]:
            self.add("error", f"answer to {item.iloc[i]} is outside the item's range",
                     file=table.label, row=table.row(i), column="value", value=raw.iloc[i],
                     expected=_item_expected(items.loc[item.iloc[i]]))
        if bad.sum() > EXAMPLES_PER_CHECK:
            self.add("error", f"{bad.sum() - EXAMPLES_PER_CHECK} more answer(s) outside their "
                     "item's range", file=table.label, column="value")
        blank = pid.isna() | tp.isna()
        self.flag_rows(table, pid.isna(), "participant_id", "participant id is blank",
                       "a participant id from the participants file", values=pid)
        self.flag_rows(table, tp.isna(), "timepoint", "time point is blank",
                       "a time point from study.yaml", values=tp)
        keep = ~unknown & ~dup & ~blank
        long = pd.DataFrame({"participant_id": pid, "timepoint": tp, "item": item,
                             "value": values.where(~bad)})[keep]
        wide = long.pivot(index=["participant_id", "timepoint"], columns="item", values="value")
        wide.columns.name = None
        order = [c for c in items.index if c in wide.columns]
        wide = wide[order].reset_index()
        if "completed_date" in df.columns:
            dates = self._dates(table, "completed_date", required=False)
            first = pd.DataFrame({"participant_id": pid, "timepoint": tp, "completed_date": dates}
                                 )[keep].dropna(subset=["completed_date"])
            first = first.groupby(["participant_id", "timepoint"], sort=False, dropna=False)[
                "completed_date"].first().reset_index()
            wide = wide.merge(first, on=["participant_id", "timepoint"], how="left")
        else:
            wide["completed_date"] = pd.Series(pd.NaT, index=wide.index, dtype="datetime64[ns]")
        # the long file's first row for each (participant, time point) names it in messages
        first_row = (key[keep].reset_index()
                     .drop_duplicates(["p", "t"])
                     .rename(columns={"p": "participant_id", "t": "timepoint", "index": "_row"}))
        wide = wide.merge(first_row[["participant_id", "timepoint", "_row"]],
                          on=["participant_id", "timepoint"], how="left").set_index("_row")
        wide.index.name = None
        cols = ["participant_id", "timepoint", "completed_date"] + order
        return wide[cols]

    def _check_response_keys(self, table: TableRead, wide: pd.DataFrame, manifest: Manifest,
                             participants: pd.DataFrame | None):
        """Time points, duplicates, unknown participants and dates. ``wide.index`` holds the
        source file's 0-based row for each row (so messages name the right row)."""
        rows = _RowView(table, wide)
        tp = wide["timepoint"]
        self.flag_rows(rows, tp.isna(), "timepoint", "time point is blank",
                       "one of " + ", ".join(manifest.timepoint_ids))
        unknown_tp = tp.notna() & ~tp.isin(manifest.timepoint_ids)
        self.flag_rows(rows, unknown_tp, "timepoint", "unknown time point",
                       "one of " + ", ".join(manifest.timepoint_ids), values=tp)
        pid = wide["participant_id"]
        self.flag_rows(rows, pid.isna(), "participant_id", "participant id is blank",
                       "a participant id from the participants file")
        if manifest.responses_layout == "wide":
            dup = wide.duplicated(["participant_id", "timepoint"], keep=False) & pid.notna()
            self.flag_rows(rows, dup, "timepoint",
                           "the same participant and time point appear on more than one row",
                           "one row per participant and time point", values=tp)
        wide["timepoint"] = pd.Categorical(tp.where(~unknown_tp), categories=manifest.timepoint_ids,
                                           ordered=True)
        if participants is None:
            return
        known = pid.isin(participants["participant_id"])
        self.flag_rows(rows, ~known & pid.notna(), "participant_id",
                       "responses for a participant who is not in the participants file",
                       "a participant id listed in " + manifest.participants.name, values=pid)
        # A follow-up cannot be completed before the referral it follows.
        referral = pid.map(participants.set_index("participant_id")["referral_date"]
                           .loc[lambda s: ~s.index.duplicated()])
        done = wide["completed_date"]
        early = done.notna() & referral.notna() & (done < referral)
        later = wide["timepoint"] != manifest.baseline
        shown = done.dt.strftime("%Y-%m-%d") + " (referral " + referral.dt.strftime("%Y-%m-%d") + ")"
        self.flag_rows(rows, early & later, "completed_date",
                       "follow-up questionnaire dated before the participant's referral",
                       "a date on or after the referral date", values=shown)
        self.flag_rows(rows, early & ~later, "completed_date",
                       "baseline questionnaire dated before the referral (accepted; check "
                       "the dates)", "a date on or after the referral date", values=shown,
                       level="warning")

    # -- service use -------------------------------------------------------------------------
    def _service_use(self, manifest: Manifest, participants) -> pd.DataFrame | None:
        if manifest.service_use is None:
            return None
        table = self._read(manifest.service_use, text_columns=_TEXT_COLUMNS)
        if table is None or not self._require(
                table, ["participant_id", "service", "period", "count"], "service use"):
            return None
        df = table.frame
        pid = _text(df["participant_id"])
        service = _text(df["service"])
        period = _text(df["period"])
        self.flag_rows(table, service.isna(), "service", "service is blank",
                       "a service name such as gp_consultations")
        self.flag_rows(table, ~period.isin(["before", "after"]), "period", "unknown period",
                       "'before' or 'after' (referral)", values=period)
        counts = self._whole_numbers(table, "count", 0, None, "a whole number of events, 0 or more")
        dup = pd.DataFrame({"p": pid, "s": service, "t": period}).duplicated(keep=False)
        self.flag_rows(table, dup, "period",
                       "the same participant, service and period appear more than once",
                       "one count per participant, service and period", values=period)
        if participants is not None:
            self.flag_rows(table, ~pid.isin(participants["participant_id"]), "participant_id",
                           "service use for a participant who is not in the participants file",
                           "a participant id listed in " + manifest.participants.name,
                           values=pid)
        return pd.DataFrame({"participant_id": pid, "service": service,
                             "period": pd.Categorical(period, categories=["before", "after"],
                                                      ordered=True),
                             "count": counts})

    # -- qualitative material -----------------------------------------------------------
    def _qualitative(self, manifest: Manifest, participants) -> "Qualitative | None":
        files = manifest.qualitative
        if not files:
            return None
        from . import qual

        try:
            if "refi_qda" in files:
                project = qual.read_qdpx(files["refi_qda"].path, label=files["refi_qda"].name)
                codebook, sources, segments = _from_refi(project, participants)
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
            label = files["sources"].name
            table = TableRead(sources, files["sources"].path, label)
            pid = sources["participant_id"]
            self.flag_rows(table, pid.notna() & ~pid.isin(participants["participant_id"]),
                           "participant_id", "source for a participant who is not in the "
                           "participants file", "a participant id listed in "
                           + manifest.participants.name)
            self.flag_rows(table, (sources["source_type"] == "interview") & pid.isna(),
                           "participant_id", "an interview must name its participant",
                           "the interviewed participant's id")
            site = sources["site"]
            self.flag_rows(table, site.notna() & ~site.isin(manifest.sites), "site",
                           "site not declared in study.yaml", "one of " + ", ".join(manifest.sites))
        return Qualitative(codebook, sources, segments, names)

    # -- coverage warnings ------------------------------------------------------------------
    def _coverage(self, manifest: Manifest, participants: pd.DataFrame, responses):
        counts = participants["site"].value_counts()
        for site in manifest.sites:
            if counts.get(site, 0) == 0:
                self.add("warning", "a declared site has no participants", file="study.yaml",
                         column="sites", value=site)
        if responses is None:
            return
        at_baseline = set(responses.loc[responses["timepoint"] == manifest.baseline,
                                        "participant_id"])
        missing = ~participants["participant_id"].isin(at_baseline)
        n = int(missing.sum())
        if n:
            examples = ", ".join(participants.loc[missing, "participant_id"].head(5))
            self.add("warning", f"{n} participant(s) have no questionnaire at the baseline "
                     f"(e.g. {examples})", file=manifest.participants.name,
                     column="participant_id")


@dataclass
class Qualitative:
    """A study's qualitative material (read by :mod:`spanalysis.qual`).

    Attributes
    ----------
    codebook : one row per code (``id, name, parent, definition, ..., sensitive, colour``).
    sources : one row per source (``source_id, source_name, source_type, participant_id,
        site, date, path, text``).
    segments : one row per coded segment (``segment_id, source_id, coder, code_id, start,
        end, text``), offsets in characters of ``sources.text``.
    names : personal names to redact from any quote a report shows.
    """

    codebook: pd.DataFrame
    sources: pd.DataFrame
    segments: pd.DataFrame
    names: list[str] = field(default_factory=list)

    @property
    def interviewed(self) -> set[str]:
        s = self.sources
        return set(s.loc[(s["source_type"] == "interview") & s["participant_id"].notna(),
                         "participant_id"])

    @property
    def coders(self) -> list[str]:
        return sorted(self.segments["coder"].dropna().unique())

    def for_site(self, site: str) -> "Qualitative":
        keep = self.sources["site"] == site
        ids = set(self.sources.loc[keep, "source_id"])
        return Qualitative(self.codebook, self.sources[keep].reset_index(drop=True),
                           self.segments[self.segments["source_id"].isin(ids)]
                           .reset_index(drop=True), list(self.names))


def _from_refi(project: dict, participants) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Map a REFI-QDA project onto the study's tables: a source whose case is named after a
    participant is that participant's interview; the site comes from the participants file."""
    sources = project["sources"].copy()
    segments = project["segments"].copy()
    case_of = (segments.dropna(subset=["case"]).drop_duplicates("source_id")
               .set_index("source_id")["case"]) if "case" in segments else pd.Series(dtype=object)
    sources["participant_id"] = sources["source_id"].map(case_of)
    known = set() if participants is None else set(participants["participant_id"])
    sources.loc[~sources["participant_id"].isin(known), "participant_id"] = None
    sources["source_type"] = np.where(sources["participant_id"].notna(), "interview", "document")
    site = {} if participants is None else participants.set_index("participant_id")["site"]
    sources["site"] = sources["participant_id"].map(site)
    for col in ("date", "path"):
        sources[col] = None
    return project["codebook"], sources, segments[["segment_id", "source_id", "coder", "code_id",
                                                   "start", "end", "text"]]


class _RowView:
    """Adapter giving :meth:`_Loader.flag_rows` the source row of each row of a derived table."""

    def __init__(self, table: TableRead, derived: pd.DataFrame):
        self.label = table.label
        self.frame = derived
        self._rows = np.asarray(derived.index)

    def row(self, index: int) -> int:
        return int(self._rows[index]) + 2


def _text(series: pd.Series) -> pd.Series:
    """Text (pandas string dtype) with surrounding spaces removed and blanks as missing."""
    if not (pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)):
        series = series.map(lambda v: None if pd.isna(v) else
                            (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
    text = series.astype("string").str.strip()
    return text.mask(text == "")


def _numeric(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as float, and a mask of cells that hold something that is not a number."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float), pd.Series(False, index=raw.index)
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype("float64"), pd.Series(False, index=raw.index)
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    values = pd.to_numeric(text.mask(blank), errors="coerce").astype("float64")
    return values, values.isna() & ~blank


def _item_expected(item) -> str:
    lo, hi = item["min"], item["max"]
    fmt = (lambda v: str(int(v)) if float(v).is_integer() else str(v))
    kind = "a whole number" if bool(item.get("integer", True)) else "a number"
    return f"{kind} from {fmt(lo)} to {fmt(hi)}, or blank if not answered"
