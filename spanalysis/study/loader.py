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

import copy
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from spanalysis._memory import with_small_pages
from spanalysis._textcodes import STR as _STR
from spanalysis._textcodes import all_different as _all_different
from spanalysis._textcodes import encode_numbered as _encode_numbered
from spanalysis._textcodes import string_buffers as _string_buffers
from spanalysis._textcodes import trimmed_no_blank as _trimmed_no_blank
from spanalysis.errors import InputError, Issue, SpanalysisError, ValidationError
from spanalysis.io import TableRead, read_table
from spanalysis.privacy.identifiers import looks_like_nhs_number
from spanalysis.qual.material import Qualitative, from_refi
from spanalysis.study.manifest import FileSpec, Manifest, _site_key, read_manifest

__all__ = ["Study", "load_study", "validate_study", "read_study", "PARTICIPANT_COLUMNS"]

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
_ID_FILES = ["participants", "responses", "service_use"]


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
    #: the loader's integer code of every ``responses`` and ``service_use`` row's participant
    #: (one dictionary for every file) and of the services; used to list the services
    #: without reading the column again (:meth:`_services`); None for studies built otherwise
    _id_codes: dict | None = field(default=None, repr=False, compare=False)

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
        :func:`spanalysis.instruments.score`.

        The scores are made from ``responses`` and ``service_use`` as they are when first
        asked for (an analyst may edit or filter them before), then kept. Answers the
        loader checked are not checked again while their columns are unchanged; to keep
        that knowledge safe, the study holds the checked columns until the scores are made,
        so a first in-place edit of ``study.responses`` before then copies the edited block
        (pandas' copy-on-write)."""
        return self._make_scores()

    def _make_scores(self) -> pd.DataFrame:
        from spanalysis import instruments as ins

        return ins.score_study(self.responses, self.instruments, self.service_use,
                               self.timepoints)

    @cached_property
    def scale_info(self) -> pd.DataFrame:
        """One row per scored scale: direction, reliability, MID, norms, and their sources
        (service-use counts included when the study has them)."""
        from spanalysis import instruments as ins

        chosen = dict(self.instruments)
        if self.service_use is not None:
            chosen["service_use"] = ins.load("service_use")
        table = ins.scale_table(chosen)
        if self.service_use is not None:
            # services the definition does not name are counts too: lower is better
            known = set(table.loc[table["instrument"] == "service_use", "scale"])
            extra = [sv for sv in self._services() if sv not in known]
            if extra:
                rows = pd.DataFrame({"instrument": "service_use", "scale": extra,
                                     "scale_name": [sv.replace("_", " ") for sv in extra],
                                     "direction": "lower"})
                table = pd.concat([table, rows], ignore_index=True)
        return table

    def _as_loaded(self, frame: pd.DataFrame | None, name: str, column: str) -> bool:
        """Whether ``frame[column]`` is still the very Arrow array the loader encoded as
        ``name`` (its codes in ``_id_codes`` then describe it row by row)."""
        source = ((self._id_codes or {}).get("sources") or {}).get(name)
        return (frame is not None and source is not None and column in frame.columns
                and _arrow_source(frame[column]) is source)

    def _services(self) -> list[str]:
        """The services of ``service_use``, in order of first appearance: the loader's list
        while the column is the one it encoded, else read from the column."""
        if self._as_loaded(self.service_use, "service", "service"):
            return [str(v) for v in self._id_codes["service"][1].to_pylist()]
        return [str(v) for v in self.service_use["service"].dropna().unique()]

    @cached_property
    def item_info(self) -> pd.DataFrame:
        from spanalysis import instruments as ins

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
    def crosswalk_path(self) -> Path | None:
        """The study's themes-to-items crosswalk, if ``study.yaml`` declares one."""
        spec = self.manifest.qualitative.get("crosswalk")
        return spec.path if spec else None

    @property
    def meta_inferences_path(self) -> Path | None:
        """The analysts' meta-inferences file, if ``study.yaml`` declares one."""
        spec = self.manifest.qualitative.get("meta_inferences")
        return spec.path if spec else None

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
    """Every error and warning in the study files at ``path`` (an empty list when all is
    well). The crosswalk and meta-inference files are checked by
    :func:`spanalysis.validate_study`, which adds :func:`spanalysis.integrate.check_study`."""
    _, issues = read_study(path)
    return issues


def read_study(path: str | Path) -> tuple[Study | None, list[Issue]]:
    """The study at ``path`` (None when it has errors) and every error and warning found."""
    return _Loader(path).run()


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
        if not mask.any():  # the usual case, and much cheaper than listing the rows
            return
        hits = np.flatnonzero(mask)
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
    @with_small_pages
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
        self._ids = {}
        self._id_codes = None
        participants, responses, service, ids, ids_checked = self._files(manifest, instruments)
        if participants is not None:
            if not ids_checked:
                self._identifiers(manifest, participants, responses, service, ids)
            participants = participants.reset_index(drop=True)
        qualitative = self._qualitative(manifest, participants)
        if participants is not None:
            self._coverage(manifest, participants)
        if any(i.level == "error" for i in self.issues):
            return None, self.issues
        if self._id_codes is not None:  # the columns the codes describe (see Study._as_loaded)
            self._id_codes["sources"] = {
                "responses": _arrow_source(responses["participant_id"]),
                **({} if service is None else {
                    "service_use": _arrow_source(service["participant_id"]),
                    "service": _arrow_source(service["service"])})}
        study = Study(manifest, participants, responses, service, instruments,
                      list(self.issues), qualitative, _id_codes=self._id_codes)
        if any(i.level == "error" for i in self.issues):
            return None, self.issues
        return study, self.issues

    def _child(self) -> "_Loader":
        """A loader sharing this one's state but collecting its own messages, so that checks
        run side by side still report in a fixed order."""
        child = copy.copy(self)
        child.issues = []
        return child

    def _files(self, manifest: Manifest, instruments: dict):
        """Read the participants, responses and service-use files, then check them.

        The files are read one after another (the CSV parser already uses every core); the
        checks of the three files, and the encoding of every participant id, then run side by
        side in two threads (Arrow and numpy release the GIL). With wide responses, the
        checks of ids across files (see :meth:`_identifiers`) follow in the same threads,
        each as soon as what it needs is done. Messages keep file order.

        Returns the three tables, the encoded ids and whether the ids were checked.
        """
        from spanalysis import instruments as ins

        items = ins.item_table(instruments).drop_duplicates("item").set_index("item")
        loaders = [self._child() for _ in range(3)]
        tables = [loaders[0]._read(manifest.participants, text_columns=_TEXT_COLUMNS),
                  loaders[1]._read(manifest.responses, text_columns=_TEXT_COLUMNS,
                                   keep_codes=list(items.index)),
                  (loaders[2]._read(manifest.service_use, text_columns=_TEXT_COLUMNS)
                   if manifest.service_use is not None else None)]
        # The ids checked later are those of the files as read (a long responses file is
        # pivoted first, so its ids are encoded afterwards).
        names = [name for name, table in zip(_ID_FILES, tables)
                 if table is not None and "participant_id" in table.frame.columns
                 and (name != "responses" or manifest.responses_layout == "wide")]
        cross: list[_Loader] = []
        # Longest first (responses, then the ids, participants and service use), so that
        # the two threads finish close together. Tasks are taken in the order given, and
        # each waits only for tasks given before it: one of the two threads always runs.
        with ThreadPoolExecutor(max_workers=2) as pool:
            check_responses = pool.submit(loaders[1]._responses, manifest, items, tables[1])
            ids = (pool.submit(_Ids.with_participants,
                               [tables[_ID_FILES.index(n)].frame["participant_id"]
                                for n in names], names)
                   if "participants" in names else None)
            checks = [pool.submit(loaders[0]._participants, manifest, tables[0]),
                      check_responses,
                      pool.submit(loaders[2]._service_use, manifest, tables[2])]
            if ids is not None and self._ids_with_files(manifest):
                cross = [self._child() for _ in range(3)]

                def participant_ids(participants, encoded):  # futures given before this one
                    return cross[0]._participant_ids(manifest, participants.result(),
                                                     encoded.result(), names)

                def then(check, file, check_ids):
                    found = context.result()
                    if found is not None and check.result() is not None \
                            and file in found["codes"]:
                        check_ids(found, manifest, checks[0].result(), check.result())

                context = pool.submit(participant_ids, checks[0], ids)
                across = [pool.submit(then, checks[1], "responses", cross[1]._response_ids),
                          pool.submit(then, checks[2], "service_use", cross[2]._service_ids)]
            participants, responses, service = (f.result() for f in checks)
            ids = ids.result() if ids is not None else None
            if cross:
                for future in across:
                    future.result()
        for loader in loaders + cross:
            self.issues += loader.issues
        if cross and context.result() is not None:
            self._keep_id_codes(context.result())
        return participants, responses, service, ids, bool(cross)

    def _instruments(self, manifest: Manifest) -> dict:
        from spanalysis import instruments as ins

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
    def _participants(self, manifest: Manifest, table: TableRead | None) -> pd.DataFrame | None:
        if table is None:
            return None
        required = [c for c, req in PARTICIPANT_COLUMNS.items() if req]
        if not self._require(table, required, "participants"):
            return None
        df = table.frame
        self._ids["participants"] = (table, df["participant_id"])
        site_codes = self._check_sites(table, _Coded(df["site"]), manifest.sites)
        referral = self._dates(table, "referral_date", required=True)
        out = pd.DataFrame({"site": pd.Categorical.from_codes(site_codes,
                                                              categories=manifest.sites,
                                                              ordered=True),
                            "referral_date": referral}, index=df.index)
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
        extra = [c for c in df.columns if c not in out.columns and c != "participant_id"]
        for col in extra:  # further participant attributes are kept as they are
            out[col] = df[col]
        return out

    def _check_sites(self, table: TableRead, coded: "_Coded", declared: list[str]) -> np.ndarray:
        """Check the site column; return each row's position in ``declared`` (-1: none)."""
        blank = coded.isna()
        self.flag_rows(table, blank, "site", "site is blank", "one of the sites in study.yaml")
        positions = coded.positions(declared)
        known = (positions >= 0) | blank
        if known.all():
            return positions
        site = coded.text()
        known = pd.Series(known, index=site.index)
        canonical = {_site_key(s): s for s in declared}
        keys = site.map(lambda s: _site_key(s) if isinstance(s, str) else None)
        variant = ~known & keys.isin(list(canonical)).to_numpy()
        for i in np.flatnonzero(variant.to_numpy())[:EXAMPLES_PER_CHECK]:
            self.add("error", "site name differs from a declared site only by case or spaces",
                     file=table.label, row=table.row(i), column="site", value=site.iloc[i],
                     expected=repr(canonical[keys.iloc[i]]))
        if variant.sum() > EXAMPLES_PER_CHECK:
            self.add("error", f"{variant.sum() - EXAMPLES_PER_CHECK} more row(s) with a site "
                     "spelled differently", file=table.label, column="site")
        self.flag_rows(table, ~known & ~variant, "site", "site not declared in study.yaml",
                       "one of " + ", ".join(declared))
        return positions

    def _dates(self, table: TableRead, column: str, required: bool) -> pd.Series:
        raw = table.frame[column]
        if pd.api.types.is_datetime64_any_dtype(raw):
            parsed = pd.to_datetime(raw).dt.normalize()
            bad = pd.Series(False, index=raw.index)
        else:
            # A study's dates take a few hundred distinct values: each is parsed once.
            coded = _Coded(raw)
            distinct, unparsed = _parse_dates(pd.Series(pd.array(coded.dictionary, dtype="str")))
            lookup = np.append(distinct.to_numpy(dtype="datetime64[ns]"),
                               np.datetime64("NaT", "ns"))  # code -1 (blank) finds NaT
            parsed = pd.Series(lookup[coded.codes], index=raw.index)
            unparsed = unparsed.to_numpy(dtype=bool)  # per distinct value: rows only if any
            bad = np.append(unparsed, False)[coded.codes] if unparsed.any() else _NONE
        self.flag_rows(table, bad, column, "not a date", "a date such as 2025-03-31 or 31/03/2025")
        if required:
            self.flag_rows(table, raw.isna(), column, "date is blank", "a date")
        return parsed.astype("datetime64[ns]")

    def _whole_numbers(self, table: TableRead, column: str, low, high, expected) -> pd.Series:
        raw = table.frame[column]
        if raw.dtype.kind in "iu" and len(raw):  # whole numbers already: check the range only
            v = raw.to_numpy()
            if v.min() >= low and (high is None or v.max() <= high):
                return raw.astype("Int64")
        values, not_number = _numeric(raw)
        self.flag_rows(table, not_number, column, "not a number", expected)
        bad = values.notna() & ((values != np.floor(values)) | (values < low)
                                | ((values > high) if high is not None else False))
        self.flag_rows(table, bad, column, "value out of range", expected)
        return values.where(~bad).astype("Int64")

    # -- responses ------------------------------------------------------------------------
    def _responses(self, manifest: Manifest, items: pd.DataFrame,
                   table: TableRead | None) -> pd.DataFrame | None:
        """``items``: the study's items (index: item id; min, max, integer)."""
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
        self._check_response_keys(table, wide, manifest)
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
        item_cols = [c for c in df.columns if c in items.index]
        # The frame as read is kept (no copy of the item block): only columns that hold a
        # bad value or are not yet floats are replaced.
        out = df[[c for c in df.columns if c in item_cols]]
        for col in item_cols:
            checked = self._item_values(table, df[col], col, items.loc[col], col)
            if checked is not None:
                out[col] = checked
        out.insert(0, "participant_id", df["participant_id"])  # checked with the other ids
        out.insert(1, "timepoint", df["timepoint"])  # trimmed and checked with the ids
        out.insert(2, "completed_date",
                   self._dates(table, "completed_date", required=False)
                   if "completed_date" in df.columns
                   else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]"))
        return out

    def _item_values(self, table: TableRead, raw: pd.Series, column: str, item,
                     item_id: str) -> pd.Series | None:
        """Check one item column; return it as floats with bad cells blank, or None when
        the column is already floats and every cell is valid (nothing to replace)."""
        values, not_number = _numeric(raw)
        expected = _item_expected(item)
        self.flag_rows(table, not_number, column, f"answer to {item_id} is not a number",
                       expected, values=raw)
        v = values.to_numpy()
        integer = bool(item.get("integer", True))
        # Fast screen: NaN-skipping reductions, no row masks unless a value fails.
        if _in_range(v, item["min"], item["max"], integer):
            return values if raw.dtype != np.float64 else None
        with np.errstate(invalid="ignore"):
            bad = (v < item["min"]) | (v > item["max"])
            if integer:
                bad |= v != np.floor(v)
        bad &= ~np.isnan(v)
        self.flag_rows(table, bad, column, f"answer to {item_id} is outside the item's range",
                       expected, values=raw)
        if bad.any():
            return values.where(~bad)
        if raw.dtype != np.float64:
            return values
        return None

    def _long_to_wide(self, table: TableRead, items: pd.DataFrame) -> pd.DataFrame | None:
        df = table.frame
        pid = _text(df["participant_id"])
        tp = _text(df["timepoint"])
        coded_item = _Coded(df["item"])
        item = coded_item.text()
        unknown = pd.Series(coded_item.positions(items.index) < 0, index=df.index)
        self.flag_rows(table, unknown, "item", "not an item of the study's instruments",
                       "an item id such as " + ", ".join(items.index[:3]), values=item)
        key = pd.DataFrame({"p": pid, "t": tp, "i": item})
        dup = key.duplicated(keep=False)
        self.flag_rows(table, dup, "item",
                       "the same participant, time point and item appear more than once",
                       "one answer per participant, time point and item", values=item)
        raw = df["value"]
        values, not_number = _numeric(raw)
        if len(not_number):
            not_number = not_number & ~unknown
        self.flag_rows(table, not_number, "value", "answer is not a number",
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

    def _check_response_keys(self, table: TableRead, wide: pd.DataFrame, manifest: Manifest):
        """Time points, duplicates, unknown participants and dates. ``wide.index`` holds the
        source file's 0-based row for each row (so messages name the right row)."""
        rows = _RowView(table, wide)
        tp = _Coded(wide["timepoint"])
        blank = tp.isna()
        self.flag_rows(rows, blank, "timepoint", "time point is blank",
                       "one of " + ", ".join(manifest.timepoint_ids))
        positions = tp.positions(manifest.timepoint_ids)
        unknown_tp = ~blank & (positions < 0)
        if unknown_tp.any():
            self.flag_rows(rows, unknown_tp, "timepoint", "unknown time point",
                           "one of " + ", ".join(manifest.timepoint_ids), values=tp.text())
        self._ids["responses"] = (rows, wide["participant_id"])
        wide["timepoint"] = pd.Categorical.from_codes(positions,
                                                      categories=manifest.timepoint_ids,
                                                      ordered=True)

    def _check_response_ids(self, rows, wide: pd.DataFrame, codes: np.ndarray,
                            ids: "_Ids", manifest: Manifest, participants: pd.DataFrame):
        """Blank, unknown and duplicated participants in the responses; questionnaire dates
        against the referral date. ``codes`` are the participant codes of each row."""
        pid = ids.lazy(codes)
        self.flag_rows(rows, codes < 0, "participant_id", "participant id is blank",
                       "a participant id from the participants file")
        known = ids.in_participants(codes)
        self.flag_rows(rows, ~known & (codes >= 0), "participant_id",
                       "responses for a participant who is not in the participants file",
                       "a participant id listed in " + manifest.participants.name, values=pid)
        tp_codes = wide["timepoint"].cat.codes.to_numpy().astype(np.int64)
        if manifest.responses_layout == "wide":
            dup = ids.duplicated(codes, tp_codes)
            self.flag_rows(rows, dup, "timepoint",
                           "the same participant and time point appear on more than one row",
                           "one row per participant and time point",
                           values=wide["timepoint"].astype(object))
        # A follow-up cannot be completed before the referral it follows.
        row_of = ids.participant_row(codes)
        referral_dates = np.append(participants["referral_date"].to_numpy(dtype="datetime64[ns]"),
                                   np.datetime64("NaT", "ns"))
        referral_np = referral_dates[row_of]  # row -1 (not a participant) finds NaT
        done = wide["completed_date"]
        early = done.to_numpy(dtype="datetime64[ns]") < referral_np  # NaT compares False
        later = (tp_codes > 0)
        shown = None
        if early.any():  # formatting dates is slow: only when something is to be reported
            referral = pd.Series(referral_np, index=wide.index)
            shown = (done.dt.strftime("%Y-%m-%d") + " (referral "
                     + referral.dt.strftime("%Y-%m-%d") + ")")
        self.flag_rows(rows, early & later, "completed_date",
                       "follow-up questionnaire dated before the participant's referral",
                       "a date on or after the referral date", values=shown)
        self.flag_rows(rows, early & ~later, "completed_date",
                       "baseline questionnaire dated before the referral (accepted; check "
                       "the dates)", "a date on or after the referral date", values=shown,
                       level="warning")

    # -- service use -------------------------------------------------------------------------
    def _service_use(self, manifest: Manifest, table: TableRead | None) -> pd.DataFrame | None:
        if table is None or not self._require(
                table, ["participant_id", "service", "period", "count"], "service use"):
            return None
        df = table.frame
        service = _Coded(df["service"])
        period = _Coded(df["period"])
        self.flag_rows(table, service.isna(), "service", "service is blank",
                       "a service name such as gp_consultations")
        positions = period.positions(["before", "after"])
        if (positions < 0).any():
            self.flag_rows(table, positions < 0, "period", "unknown period",
                           "'before' or 'after' (referral)", values=period.text())
        counts = self._whole_numbers(table, "count", 0, None, "a whole number of events, 0 or more")
        self._ids["service_use"] = (table, df["participant_id"])
        self._ids["service_codes"] = (service.codes, service.dictionary)
        return pd.DataFrame({"participant_id": df["participant_id"], "service": service.text(),
                             "period": pd.Categorical.from_codes(
                                 positions, categories=["before", "after"], ordered=True),
                             "count": counts})

    def _check_service_ids(self, table: TableRead, service: pd.DataFrame, codes: np.ndarray,
                           ids: "_Ids", manifest: Manifest):
        pid = ids.lazy(codes)
        self.flag_rows(table, codes < 0, "participant_id", "participant id is blank",
                       "a participant id from the participants file")
        dup = ids.duplicated(codes, self._ids["service_codes"][0],
                             service["period"].cat.codes.to_numpy().astype(np.int64))
        self.flag_rows(table, dup, "period",
                       "the same participant, service and period appear more than once",
                       "one count per participant, service and period",
                       values=service["period"].astype(object))
        self.flag_rows(table, ~ids.in_participants(codes) & (codes >= 0), "participant_id",
                       "service use for a participant who is not in the participants file",
                       "a participant id listed in " + manifest.participants.name, values=pid)

    # -- identifiers across files ---------------------------------------------------------
    @staticmethod
    def _ids_with_files(manifest: Manifest) -> bool:
        """Whether the ids are checked across files by :meth:`_files`, in its threads (wide
        responses, whose ids are encoded with the others'), rather than by
        :meth:`_identifiers` afterwards."""
        return manifest.responses_layout == "wide"

    def _identifiers(self, manifest, participants, responses, service, ids=None):
        """Check participant ids in every file at once: one joint encoding of all ids, then
        integer work (blank, duplicate, not pseudonymous, unknown participant, dates).
        ``ids``: the ids already encoded while the files were checked, used when they are
        those of the same files. (:meth:`_files` runs the same checks itself for wide
        responses.)"""
        names = [n for n in _ID_FILES if n in self._ids]
        if "participants" not in names:
            return
        if ids is None or ids.names != names:
            ids = _Ids([self._ids[n][1] for n in names], names)
        found = self._participant_ids(manifest, participants, ids, names)
        tasks = []
        if responses is not None and "responses" in found["codes"]:
            tasks.append(lambda loader: loader._response_ids(found, manifest, participants,
                                                             responses))
        if service is not None and "service_use" in found["codes"]:
            tasks.append(lambda loader: loader._service_ids(found, manifest, participants,
                                                            service))
        loaders = [self._child() for _ in tasks]
        with ThreadPoolExecutor(max_workers=2) as pool:  # the two files side by side
            for future in [pool.submit(task, loader) for task, loader in zip(tasks, loaders)]:
                future.result()
        for loader in loaders:
            self.issues += loader.issues
        self._keep_id_codes(found)

    def _participant_ids(self, manifest, participants, ids, names) -> dict | None:
        """The participants file's own ids (blank, repeated, NHS numbers), from ``ids``, the
        joint encoding of the files ``names``; the ids become the participants' first
        column. Returns what the checks of the other files need (None without participants)."""
        if participants is None:
            return None
        codes = dict(zip(names, ids.codes))
        table, _ = self._ids["participants"]
        cp = codes["participants"]
        if ids._row is None:  # not yet done while the files were checked
            ids.set_participants(cp)
        pid = ids.lazy(cp)
        self.flag_rows(table, cp < 0, "participant_id", "participant id is blank",
                       "a pseudonymous identifier")
        self.flag_rows(table, ids.duplicated(cp), "participant_id",
                       "participant id appears more than once", "one row per participant",
                       values=pid)
        self.flag_rows(table, ids.nhs_numbers(cp), "participant_id",
                       "this identifier is a valid NHS number; studies must use pseudonymous "
                       "identifiers", "a pseudonymous study identifier such as 'SP0001'",
                       values=_Constant("(NHS number withheld)"))
        participants.insert(0, "participant_id", ids.column(names.index("participants")))
        return {"ids": ids, "names": names, "codes": codes}

    def _response_ids(self, found: dict, manifest, participants, responses):
        """The responses' ids against the participants (see :meth:`_check_response_ids`),
        then as the responses' id column; who has no baseline questionnaire."""
        ids, names, codes = found["ids"], found["names"], found["codes"]
        rows, _ = self._ids["responses"]
        self._check_response_ids(rows, responses, codes["responses"], ids, manifest,
                                 participants)
        responses["participant_id"] = pd.Series(
            ids.column(names.index("responses")).array, index=responses.index)
        self._coverage_baseline(manifest, participants, responses, codes["participants"],
                                codes["responses"], ids)

    def _service_ids(self, found: dict, manifest, participants, service):
        """The service use's ids (see :meth:`_check_service_ids`), then as its id column.
        (``participants`` is unused: the same arguments as :meth:`_response_ids`.)"""
        ids, names, codes = found["ids"], found["names"], found["codes"]
        table, _ = self._ids["service_use"]
        self._check_service_ids(table, service, codes["service_use"], ids, manifest)
        service["participant_id"] = pd.Series(
            ids.column(names.index("service_use")).array, index=service.index)

    def _keep_id_codes(self, found: dict):
        """Keep the responses' (and service use's) id codes for scoring (Study._id_codes)."""
        codes = found["codes"]
        if "responses" in codes:
            service = self._ids.get("service_codes")
            self._id_codes = {"dictionary": found["ids"].dictionary,
                              "responses": codes["responses"],
                              **({"service_use": codes["service_use"], "service": service}
                                 if "service_use" in codes and service is not None else {})}

    # -- qualitative material -----------------------------------------------------------
    def _qualitative(self, manifest: Manifest, participants) -> "Qualitative | None":
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
    def _coverage(self, manifest: Manifest, participants: pd.DataFrame):
        counts = participants["site"].value_counts().to_dict()  # a dict: thousands of sites
        for site in manifest.sites:
            if counts.get(site, 0) == 0:
                self.add("warning", "a declared site has no participants", file="study.yaml",
                         column="sites", value=site)

    def _coverage_baseline(self, manifest, participants, responses, cp, cr, ids):
        at_baseline = cr[(responses["timepoint"].cat.codes.to_numpy() == 0) & (cr >= 0)]
        seen = np.zeros(ids.size, dtype=bool)
        seen[at_baseline] = True
        missing = (cp >= 0) & ~seen[np.maximum(cp, 0)]
        n = int(missing.sum())
        if n:
            examples = ", ".join(participants.loc[missing, "participant_id"].head(5))
            self.add("warning", f"{n} participant(s) have no questionnaire at the baseline "
                     f"(e.g. {examples})", file=manifest.participants.name,
                     column="participant_id")


class _Ids:
    """Participant ids of several files, encoded jointly once.

    Every id is trimmed of surrounding spaces and given an integer code (blank: -1), the same
    code in every file, so that checks across files are integer operations.
    """

    def __init__(self, columns: list[pd.Series], names: list[str] | None = None):
        import pyarrow as pa

        self.names = list(names) if names is not None else None

        arrays = []
        self._text_as_read = []  # whether each column was text already
        for col in columns:
            arr = _arrow_text(col, chunked=True)
            self._text_as_read.append(arr is not None)
            arrays.append(arr if arr is not None else pa.array(_text(col), from_pandas=True))
        # One hash pass over every id of every file; one dictionary for all of them.
        all_codes, self.dictionary, self._clean = _encode_text(arrays)
        self._columns = columns
        bounds = np.cumsum([0] + [len(c) for c in columns])
        self.codes = [all_codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self.size = len(self.dictionary)
        self._row = None

    @classmethod
    def with_participants(cls, columns: list[pd.Series], names: list[str]) -> "_Ids":
        """The ids encoded, and the participants file's rows noted (see set_participants)."""
        ids = cls(columns, names)
        ids.set_participants(ids.codes[names.index("participants")])
        return ids

    def set_participants(self, cp: np.ndarray):
        """Remember which code is on which participants row (the first, if repeated)."""
        # One extra slot at the end: code -1 (blank) indexes it and finds -1.
        # np.minimum.at: the first row wins whatever order numpy assigns repeated indices in
        # (plain fancy assignment makes no promise about that).
        none = np.iinfo(np.int64).max
        row = np.full(self.size + 1, none, dtype=np.int64)
        valid = np.flatnonzero(cp >= 0)
        np.minimum.at(row, cp[valid], valid)
        row[row == none] = -1
        self._row = row

    def participant_row(self, codes: np.ndarray) -> np.ndarray:
        return self._row[codes]

    def in_participants(self, codes: np.ndarray) -> np.ndarray:
        return self.participant_row(codes) >= 0

    def duplicated(self, codes: np.ndarray, *more: np.ndarray) -> np.ndarray:
        """Rows (with an id) whose id, and the given other codes, occur more than once."""
        scales = [int(other.max(initial=0)) + 2 for other in more]
        out = np.zeros(len(codes), dtype=bool)
        if _keys_increase(codes, more, scales):
            return out
        key = _combine_keys(codes.astype(np.int64), more, scales) if more else codes
        valid = codes >= 0
        all_valid = bool(valid.all())
        keys = key if all_valid else key[valid]
        if not len(keys):
            return out
        top = int(keys.max())
        if top < 64 * len(codes) + 1_000_000:
            # linear time when the key range is small; a one-byte-per-key screen first
            if _all_different(keys, top + 1):
                return out
            counts = np.bincount(keys)
            flags = counts[keys] > 1
        else:
            _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
            flags = counts[inverse] > 1
        if all_valid:
            return flags
        out[valid] = flags
        return out

    def nhs_numbers(self, codes: np.ndarray) -> np.ndarray:
        """Rows whose id is a valid NHS number (checked once per distinct id)."""
        # Only ids of 10 digits, perhaps with spaces or dashes, can be NHS numbers: a cheap
        # length screen first, so the full check runs on candidates only. Lengths in bytes,
        # from the offsets (such an id is ASCII, so bytes are characters).
        offsets, _ = _string_buffers(self.dictionary)
        length = np.diff(offsets)
        flags = np.zeros(len(self.dictionary), dtype=bool)
        where = np.flatnonzero((length >= 10) & (length <= 30))
        if len(where):
            candidates = pd.Series(self.dictionary.take(where).to_pandas())
            flags[where] = looks_like_nhs_number(candidates).to_numpy()
        if not flags.any():
            return np.zeros(len(codes), dtype=bool)
        return (codes >= 0) & flags[np.maximum(codes, 0)]

    def column(self, k: int) -> pd.Series:
        """The ids of the ``k``-th column, trimmed, blanks missing (as text)."""
        col = self._columns[k]
        if self._clean and self._text_as_read[k] and pd.api.types.is_string_dtype(col.dtype):
            return pd.Series(col.array, index=pd.RangeIndex(len(col)))  # nothing to change
        return self.decode(self.codes[k])

    def decode(self, codes: np.ndarray) -> pd.Series:
        import pyarrow as pa

        indices = pa.array(codes, mask=codes < 0, type=pa.int64())
        text = pa.DictionaryArray.from_arrays(indices, self.dictionary).cast(pa.large_string())
        return pd.Series(pd.array(text, dtype="str"))

    def lazy(self, codes: np.ndarray) -> "_Lazy":
        return _Lazy(codes, self.dictionary)


def _combine_keys(key: np.ndarray, more, scales: list[int]) -> np.ndarray:
    """One integer key per row, in place in ``key`` (int64, the id codes): each of ``more``
    appended as a digit of base ``scale`` (its values run from -1, hence the + 1)."""
    for other, scale in zip(more, scales):
        key *= scale
        key += other
        key += 1
    return key


def _keys_increase(codes: np.ndarray, more: tuple, scales: list[int]) -> bool:
    """Whether every row has an id and the rows' keys (the id's code, then each of ``more``,
    as :meth:`_Ids.duplicated` combines them) strictly increase, so that no key occurs
    twice. A file sorted by participant, as files usually are, passes (the participants
    file's own codes are 0, 1, 2, ... unless an id repeats). Block by block into reused
    buffers: no table-sized temporary."""
    step = 1 << 16
    key = np.empty(min(len(codes), step), dtype=np.int64)
    rising = np.empty(max(len(key) - 1, 0), dtype=bool)
    last = -1
    for start in range(0, len(codes), step):
        part = codes[start:start + step]
        k = key[:len(part)]
        np.copyto(k, part)
        if k.min() < 0:
            return False  # a blank id: left to the general check
        _combine_keys(k, [other[start:start + step] for other in more], scales)
        if k[0] <= last or not np.greater(k[1:], k[:-1], out=rising[:len(k) - 1]).all():
            return False
        last = int(k[-1])
    return True


class _Lazy:
    """``.iloc[i]`` of an encoded column, decoded only for the rows a message quotes."""

    def __init__(self, codes, dictionary):
        self._codes, self._dictionary = codes, dictionary
        self.iloc = self

    def __getitem__(self, i):
        code = self._codes[i]
        return None if code < 0 else self._dictionary[int(code)].as_py()


class _Constant:
    def __init__(self, value):
        self.value = value
        self.iloc = self

    def __getitem__(self, i):
        return self.value


_SCREEN = 1 << 16   # values per block when screening a column (the block stays in cache)


def _in_range(v: np.ndarray, low: float, high: float, integer: bool) -> bool:
    """Whether every non-NaN value is within ``[low, high]`` (and whole, if ``integer``).

    A fast screen: NaN-skipping reductions over cache-sized blocks, so each column is read
    from memory once and no row-sized temporary is made. Only a column that fails it is
    searched row by row (to name the rows)."""
    scratch = np.empty(min(len(v), _SCREEN))
    for start in range(0, len(v), _SCREEN):
        block = v[start:start + _SCREEN]
        if np.fmin.reduce(block) < low or np.fmax.reduce(block) > high:
            return False
        if integer:
            frac = np.floor(block, out=scratch[:len(block)])
            np.subtract(block, frac, out=frac)
            if np.fmax.reduce(frac) > 0:
                return False
    return True


class _Coded:
    """A text column encoded once: its distinct values (trimmed of surrounding spaces, blank
    = missing) and each row's code (-1: missing). Checks of columns with few distinct values
    (sites, time points, services) then look at each distinct value once."""

    def __init__(self, series: pd.Series):
        import pyarrow as pa

        self.index = series.index
        arr = _arrow_text(series, chunked=True)
        as_text = arr is not None and _is_string_column(series)
        if arr is None:
            arr = pa.array(_text(series), from_pandas=True)
        self.codes, self.dictionary, clean = _encode_text([arr])
        # text already trimmed, with no blank: the column can be kept as it was read
        self._as_read = series if clean and as_text else None

    def isna(self) -> np.ndarray:
        return self.codes < 0

    def positions(self, values) -> np.ndarray:
        """Position of each row's value in ``values`` (-1: absent or missing). When every
        distinct value is at its own position in ``values`` (time points and periods in the
        usual order), these are the codes themselves: not to be modified."""
        import pyarrow as pa
        import pyarrow.compute as pc

        value_set = pa.array([str(v) for v in values], type=self.dictionary.type)
        found = pc.index_in(self.dictionary, value_set=value_set)
        found = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        if np.array_equal(found, np.arange(len(found))):
            return self.codes
        return np.append(found, -1)[self.codes]  # code -1 takes the appended -1

    def text(self) -> pd.Series:
        """The trimmed text of every row (pandas string dtype, missing for blanks)."""
        import pyarrow as pa

        if self._as_read is not None:
            return pd.Series(self._as_read.array, index=self.index)

        indices = pa.array(self.codes, mask=self.codes < 0, type=pa.int64())
        text = pa.DictionaryArray.from_arrays(indices, self.dictionary).cast(
            self.dictionary.type)
        return pd.Series(pd.array(text, dtype="str"), index=self.index)


def _encode_text(arrays: list) -> tuple[np.ndarray, "pa.Array", bool]:
    """Dictionary-encode Arrow text arrays (or chunked arrays) jointly, in one hash pass.

    Each value is trimmed of surrounding spaces (so " a" and "a" share a code) and a blank
    is missing. Returns ``(codes, dictionary, clean)``: int64 codes of every value in order
    (-1: missing), the distinct trimmed values, and whether nothing needed trimming and no
    value was blank (the arrays can then be kept as they were read).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for arr in arrays:
        if arr.type != pa.large_string():
            arr = arr.cast(pa.large_string())
        chunks += arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    numbered = _encode_numbered(chunks)
    if numbered is not None:
        return numbered
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.large_string()))
    original = (encoded.chunk(0).dictionary if encoded.num_chunks  # shared by every chunk
                else pa.array([], type=pa.large_string()))
    codes = np.concatenate([_indices(c) for c in encoded.chunks] or [np.empty(0, np.int64)],
                           dtype=np.int64)
    dictionary = pc.utf8_trim_whitespace(original)
    clean = dictionary.equals(original)
    if not clean:  # values that differ only by surrounding spaces are the same value
        again = pc.dictionary_encode(dictionary)
        remap = _indices(again).astype(np.int64)
        dictionary = again.dictionary
        codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    blank = pc.index(dictionary, "").as_py()
    if blank >= 0:
        codes[codes == blank] = -1
        clean = False
    return codes, dictionary, clean


def _indices(chunk) -> np.ndarray:
    """The indices of a dictionary-encoded Arrow chunk as numpy (null: -1)."""
    indices = chunk.indices
    if indices.null_count:
        indices = indices.fill_null(-1)
    return indices.to_numpy(zero_copy_only=False)


class _RowView:
    """Adapter giving :meth:`_Loader.flag_rows` the source row of each row of a derived table."""

    def __init__(self, table: TableRead, derived: pd.DataFrame):
        self.label = table.label
        self.frame = derived
        self._rows = np.asarray(derived.index)

    def row(self, index: int) -> int:
        return int(self._rows[index]) + 2


# -- vectorised column helpers ------------------------------------------------------------
# Validation must cost little next to parsing (issue 2's benchmark: at most 1.5x a plain
# read). Text columns are Arrow-backed in pandas 3, so text work is done with Arrow compute
# kernels instead of element-wise Python.

def _arrow_text(series: pd.Series, chunked: bool = False):
    """The column as an Arrow string array, or None when it is not text. With ``chunked``,
    a column the parser built in pieces is returned as a ChunkedArray, without a copy."""
    import pyarrow as pa

    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        if isinstance(arr, pa.ChunkedArray) and not chunked:
            return arr.combine_chunks()
        return arr
    return None


def _text(series: pd.Series) -> pd.Series:
    """Text (pandas string dtype) with surrounding spaces removed and blanks as missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _arrow_text(series, chunked=True)
    if arr is not None and _is_string_column(series) and _trimmed_no_blank(arr):
        return pd.Series(series.array, index=series.index)  # nothing to change: no copy
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr is None:
        if pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series):
            arr = pa.array(series.map(lambda v: None if v is None or (isinstance(v, float)
                                                                      and np.isnan(v))
                                      else str(v)), type=pa.string(), from_pandas=True)
        else:  # numbers as identifiers: 12.0 -> "12"
            arr = pa.array(series.map(lambda v: None if pd.isna(v) else
                                      (str(int(v)) if isinstance(v, float) and v.is_integer()
                                       else str(v))), type=pa.string(), from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(arr)
    if pc.any(pc.equal(trimmed, "")).as_py():
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, trimmed.type), trimmed)
    return pd.Series(pd.array(trimmed, dtype="str"), index=series.index)


def _arrow_source(series: pd.Series):
    """The Arrow array holding an Arrow-backed column (the same object for as long as the
    column is not changed, since Arrow arrays are immutable); None for other columns."""
    values = series.array
    if not isinstance(values, pd.arrays.ArrowExtensionArray):
        return None
    return values.__arrow_array__()


def _is_string_column(series: pd.Series) -> bool:
    """A column of pandas' default text dtype (``str``), so it can be returned as it is."""
    return series.dtype == _STR


def _parse_dates(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates written as ISO ``YYYY-MM-DD`` (or ISO date-times) or UK ``DD/MM/YYYY``.

    Returns ``(dates as datetime64[ns] normalised to midnight, mask of unparseable cells)``.
    Arrow's strptime handles the common formats quickly; anything else is tried with pandas'
    ISO 8601 parser.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text, from_pandas=True)
    parsed = pc.strptime(arr, format="%Y-%m-%d", unit="s", error_is_null=True)
    for fmt in ("%d/%m/%Y",):
        if parsed.null_count > arr.null_count:
            parsed = pc.coalesce(parsed, pc.strptime(arr, format=fmt, unit="s",
                                                     error_is_null=True))
    out = pd.Series(parsed.to_numpy(zero_copy_only=False).astype("datetime64[ns]"),
                    index=text.index)
    rest = out.isna() & text.notna()
    if rest.any():  # date-times and other ISO forms
        retry = pd.to_datetime(text[rest], format="ISO8601", errors="coerce")
        if getattr(retry.dt, "tz", None) is not None:
            retry = retry.dt.tz_localize(None)
        out[rest] = retry.dt.normalize().astype("datetime64[ns]")
    return out, out.isna() & text.notna()


_NONE = np.zeros(0, dtype=bool)   # "no row": what a check that finds nothing returns


def _numeric(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers as float, and a mask of cells that hold something that is not a number (a
    column already numeric has none: an empty mask, which flags nothing)."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float), _NONE
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype("float64"), _NONE
    text = _text(raw)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, values.isna() & text.notna()


def _item_expected(item) -> str:
    lo, hi = item["min"], item["max"]
    fmt = (lambda v: str(int(v)) if float(v).is_integer() else str(v))
    kind = "a whole number" if bool(item.get("integer", True)) else "a number"
    return f"{kind} from {fmt(lo)} to {fmt(hi)}, or blank if not answered"
