"""The study manifest, ``study.yaml``: what a study is and where its files are.

The format is documented in ``docs/study-format.md``. Unknown keys are errors, so that a typo
such as ``min_cel_size`` never falls back silently to a default. Messages give the line of
``study.yaml`` and the key path (``privacy.min_cell_size``).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spanalysis.errors import InputError, Issue, ValidationError
from spanalysis.io import load_yaml

__all__ = ["Manifest", "FileSpec", "Timepoint", "read_manifest", "MANIFEST_NAME", "LAYOUTS"]

MANIFEST_NAME = "study.yaml"
#: the responses file's layouts: one row per participant and time point (wide), per
#: participant, time point and item (long), or per participant with each time point's items
#: in their own columns (person)
LAYOUTS = ("wide", "long", "person")
# libyaml's C loader when PyYAML was built with it (the wheels are): same results, faster
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class FileSpec:
    """A data file named in the manifest. ``path`` is absolute; ``name`` as written."""

    name: str
    path: Path
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Timepoint:
    id: str
    label: str
    target_days: int | None = None


@dataclass
class Manifest:
    """A parsed, validated ``study.yaml``."""

    root: Path
    id: str
    name: str
    description: str
    timepoints: list[Timepoint]
    instruments: list[str]
    custom_instruments: list[Path]
    sites: list[str]
    min_cell_size: int
    participants: FileSpec
    responses: FileSpec
    responses_layout: str
    service_use: FileSpec | None
    service_window_months: int | None
    qualitative: dict[str, FileSpec]
    primary_outcome: tuple[str, str] | None
    raw: dict
    rounding: int | None = None   # privacy.rounding: counts shown rounded to this multiple

    @property
    def timepoint_ids(self) -> list[str]:
        return [t.id for t in self.timepoints]

    @property
    def baseline(self) -> str:
        return self.timepoints[0].id

    @property
    def final(self) -> str:
        return self.timepoints[-1].id

    def files(self) -> list[FileSpec]:
        """Every input file the study declares (for provenance and checks)."""
        out = [self.participants, self.responses]
        if self.service_use:
            out.append(self.service_use)
        out += list(self.qualitative.values())
        return out


class _Checker:
    """Collects problems in the manifest with the YAML line of each key."""

    def __init__(self, label: str, text: str):
        self.label = label
        self._text = text
        self._lines: dict[tuple, int] | None = None
        self.issues: list[Issue] = []

    @property
    def lines(self) -> dict[tuple, int]:
        """Each key path's line, found when first needed (a manifest without problems,
        the usual case, is not parsed a second time)."""
        if self._lines is None:
            self._lines = _line_map(self._text)
        return self._lines

    def line(self, path: tuple) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, path: tuple, message: str, value: Any = None, expected: str | None = None):
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)
        key = key.replace(".[", "[")
        self.issues.append(Issue("error", f"key '{key}': {message}" if key else message,
                                 file=self.label, row=self.line(path), value=value,
                                 expected=expected))

    def keys(self, mapping: Any, path: tuple, allowed: dict[str, bool]) -> dict:
        """Check a mapping's keys: ``allowed`` maps key -> required."""
        if not isinstance(mapping, dict):
            self.error(path, "should be a mapping of keys to values", value=_kind(mapping),
                       expected="keys such as " + ", ".join(allowed))
            return {}
        for key in mapping:
            if key not in allowed:
                close = _closest(str(key), allowed)
                self.error(path + (key,), "unknown key", value=key,
                           expected=(f"'{close}'? " if close else "") + "one of "
                           + ", ".join(allowed))
        for key, required in allowed.items():
            if required and key not in mapping:
                self.error(path, f"required key '{key}' is missing", expected=f"'{key}:'")
        return mapping


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}.get(
        type(value), type(value).__name__)


def _closest(word: str, options) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return match[0] if match else None


def _line_map(text: str) -> dict[tuple, int]:
    """Map each key path in the YAML document to its 1-based line number."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = path + (key.value,)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    try:
        root = yaml.compose(text, Loader=_SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def read_manifest(study_dir: str | Path) -> Manifest:
    """Read and check ``study.yaml`` in ``study_dir``.

    Raises
    ------
    ValidationError
        listing every problem found (each with the line in ``study.yaml``).
    InputError
        when the folder or the manifest cannot be read at all.
    """
    root, text, data = _read_yaml(Path(study_dir))
    chk = _Checker(MANIFEST_NAME, text)
    top = chk.keys(data, (), {
        "id": True, "name": True, "description": False, "timepoints": True,
        "instruments": True, "custom_instruments": False, "sites": True, "privacy": False,
        "files": True, "primary_outcome": False})
    if not top:
        raise ValidationError(chk.issues)

    study_id = top.get("id")
    if study_id is not None and not (isinstance(study_id, str) and _ID.match(study_id)):
        chk.error(("id",), "not a valid study id", value=study_id,
                  expected="letters, digits, '-' or '_' (e.g. 'demo')")
    name = top.get("name")
    if name is not None and not isinstance(name, str):
        chk.error(("name",), "should be text", value=name)
    timepoints = _timepoints(chk, top.get("timepoints"))
    instruments = _id_list(chk, ("instruments",), top.get("instruments"), "instrument ids",
                           allow_empty=False)
    sites = _sites(chk, top.get("sites"))
    custom = _custom_instruments(chk, root, top.get("custom_instruments"))
    min_cell = _min_cell_size(chk, top.get("privacy"))
    rounding = _rounding(chk, top.get("privacy"), min_cell)
    primary = _primary_outcome(chk, top.get("primary_outcome"), instruments)
    files = _files(chk, root, top.get("files"), [t.id for t in timepoints])
    if chk.issues:
        raise ValidationError(chk.issues)
    return Manifest(root=root, id=study_id, name=name, description=top.get("description") or "",
                    timepoints=timepoints, instruments=instruments, custom_instruments=custom,
                    sites=sites, min_cell_size=min_cell, primary_outcome=primary, raw=data,
                    rounding=rounding, **files)


def _read_yaml(root: Path) -> tuple[Path, str, object]:
    """The study folder, the text of its ``study.yaml`` and the YAML it holds."""
    if root.is_file() and root.name.endswith((".yaml", ".yml")):
        manifest_path, root = root, root.parent
    else:
        manifest_path = root / MANIFEST_NAME
    if not root.is_dir():
        raise InputError("study folder not found", file=str(root),
                         expected="a folder containing study.yaml")
    if not manifest_path.is_file():
        raise InputError("no study manifest in this folder", file=str(manifest_path),
                         expected="a study.yaml file (see docs/study-format.md)")
    label = MANIFEST_NAME
    try:
        text = manifest_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("study.yaml is not UTF-8 text", file=label,
                         value=f"byte {exc.start}", expected="UTF-8") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"study.yaml is not valid YAML: {getattr(exc, 'problem', exc)}",
                         file=label, row=mark.line + 1 if mark else None,
                         expected="YAML as in docs/study-format.md") from None
    return root, text, data


def _custom_instruments(chk: _Checker, root: Path, entries) -> list[Path]:
    custom = []
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, str):
            chk.error(("custom_instruments", i), "should be a file path", value=entry)
            continue
        path = (root / entry).resolve()
        if not path.is_file():
            chk.error(("custom_instruments", i), "instrument definition file not found",
                      value=entry, expected="a YAML file inside the study folder")
        custom.append(path)
    return custom


def _min_cell_size(chk: _Checker, privacy) -> int:
    if privacy is None:
        return 5
    privacy = chk.keys(privacy, ("privacy",), {"min_cell_size": False, "rounding": False})
    if "min_cell_size" not in privacy:
        return 5
    value = privacy["min_cell_size"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        chk.error(("privacy", "min_cell_size"), "not a valid minimum cell size",
                  value=value, expected="a whole number of at least 2 (default 5)")
        return 5
    if value < 2:   # the reports are read outside the research team: something must be withheld
        chk.error(("privacy", "min_cell_size"), "a minimum cell size of 1 withholds nothing "
                  "from the reports, which are read outside the research team", value=value,
                  expected="a whole number of at least 2 (default 5; NHS Digital withholds "
                           "1 to 7)")
        return 5
    return value


def _rounding(chk: _Checker, privacy, min_cell: int) -> int | None:
    """``privacy.rounding``: every count a report shows rounded to this multiple (NHS
    Digital rounds to 5), after small counts are suppressed. The smallest count shown is
    ``min_cell_size``; it must not round to 0."""
    if not isinstance(privacy, dict) or privacy.get("rounding") is None:
        return None
    value = privacy["rounding"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        chk.error(("privacy", "rounding"), "not a valid rounding base", value=value,
                  expected="a whole number of at least 2, e.g. 5 (or leave it out)")
        return None
    if 2 * min_cell < value:
        chk.error(("privacy", "rounding"), f"rounding to {value} would show counts of "
                  f"{min_cell} and more as 0", value=value,
                  expected=f"a min_cell_size of at least {(value + 1) // 2}, or a smaller "
                           "rounding base")
        return None
    return value


def _primary_outcome(chk: _Checker, entry, instruments) -> tuple[str, str] | None:
    if entry is None:
        return None
    po = chk.keys(entry, ("primary_outcome",), {"instrument": True, "scale": True})
    if not (po.get("instrument") and po.get("scale")):
        return None
    primary = (str(po["instrument"]), str(po["scale"]))
    if instruments and primary[0] not in instruments:
        chk.error(("primary_outcome", "instrument"), "not one of the study's instruments",
                  value=primary[0], expected="one of " + ", ".join(instruments))
    return primary


def _files(chk: _Checker, root: Path, entry, timepoints: list[str]) -> dict:
    """The ``files:`` section, as the Manifest's file fields (``timepoints``: the study's
    time point ids, which a person-layout responses file's ``items:`` are keyed by)."""
    files = chk.keys(entry, ("files",), {
        "participants": True, "responses": True, "service_use": False, "qualitative": False})
    participants = _file(chk, root, ("files", "participants"), files.get("participants"),
                         {"path": True, "sheet": False, **_MAPPING_KEYS})
    responses = _file(chk, root, ("files", "responses"), files.get("responses"),
                      {"path": True, "layout": False, "sheet": False, **_MAPPING_KEYS,
                       "items": False, "events": False, "completed_date": False})
    layout = (responses.options.get("layout") if responses else None) or "wide"
    if layout not in LAYOUTS:
        chk.error(("files", "responses", "layout"), "unknown layout", value=layout,
                  expected="'wide', 'long' or 'person'")
    if responses is not None:
        responses = _layout_options(chk, ("files", "responses"), responses, layout, timepoints)
    service, window = None, None
    if files.get("service_use") is not None:
        service = _file(chk, root, ("files", "service_use"), files["service_use"],
                        {"path": True, "sheet": False, "window_months": False,
                         **_MAPPING_KEYS})
        if service is not None:
            window = service.options.get("window_months")
            if window is not None and (isinstance(window, bool) or not isinstance(window, int)
                                       or window < 1):
                chk.error(("files", "service_use", "window_months"), "not a number of months",
                          value=window, expected="a whole number such as 6")
    qual: dict[str, FileSpec] = {}
    if files.get("qualitative") is not None:
        qfiles = chk.keys(files["qualitative"], ("files", "qualitative"), {
            "codebook": False, "sources": False, "segments": False, "names": False,
            "refi_qda": False, "crosswalk": False, "meta_inferences": False})
        for key, spec_entry in qfiles.items():
            spec = _file(chk, root, ("files", "qualitative", key), spec_entry, {"path": True})
            if spec is not None:
                qual[key] = spec
    return {"participants": participants, "responses": responses, "responses_layout": layout,
            "service_use": service, "service_window_months": window, "qualitative": qual}


def _timepoints(chk: _Checker, value) -> list[Timepoint]:
    out: list[Timepoint] = []
    if value is None:
        return out
    if not isinstance(value, list) or len(value) < 1:
        chk.error(("timepoints",), "should be a list of time points, baseline first",
                  value=_kind(value), expected="e.g. [baseline, followup]")
        return out
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            entry = {"id": entry}
        entry = chk.keys(entry, ("timepoints", i), {"id": True, "label": False,
                                                     "target_days": False})
        tid = entry.get("id")
        if tid is None:
            continue
        if not isinstance(tid, str) or not _ID.match(tid):
            chk.error(("timepoints", i, "id"), "not a valid time point id", value=tid,
                      expected="letters, digits, '-' or '_'")
            continue
        days = entry.get("target_days")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
            chk.error(("timepoints", i, "target_days"), "not a number of days", value=days,
                      expected="a whole number of days after referral")
            days = None
        if tid in [t.id for t in out]:
            chk.error(("timepoints", i, "id"), "time point listed twice", value=tid)
            continue
        out.append(Timepoint(tid, str(entry.get("label") or tid), days))
    return out


def _id_list(chk, path, value, what, allow_empty=True) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or (not allow_empty and not value):
        chk.error(path, f"should be a list of {what}", value=_kind(value))
        return []
    out, seen = [], set()   # the set: a national study lists thousands of sites
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            chk.error(path + (i,), "should be text", value=item)
        elif item in seen:
            chk.error(path + (i,), "listed twice", value=item)
        else:
            out.append(item)
            seen.add(item)
    return out


def _sites(chk, value) -> list[str]:
    sites = _id_list(chk, ("sites",), value, "site names", allow_empty=False)
    seen: dict[str, str] = {}
    for i, site in enumerate(sites):
        key = _site_key(site)
        if key in seen:
            chk.error(("sites", i), "site names differ only by case or spaces",
                      value=f"{seen[key]!r} and {site!r}", expected="one spelling per site")
        seen[key] = site
        if key in _RESERVED_SITES:
            chk.error(("sites", i), f"'{site}' cannot be a site name: reports use it for "
                      "the whole study (--sites all, site='all')", value=site,
                      expected="another name, e.g. 'All Saints PCN'")
        scripts = _scripts(site)
        if len(scripts) > 1:
            chk.error(("sites", i), "site name mixes letters of different alphabets "
                      "(look-alike letters such as Latin 'a' and Cyrillic '\u0430')",
                      value=f"{site!r}: " + ", ".join(sorted(scripts)),
                      expected="a name typed in one alphabet")
    return sites


#: words the report runner and notebooks use for "every site" and "no site" (compared as
#: sites are, see _site_key)
_RESERVED_SITES = {"all", "none"}


def _site_key(name: str) -> str:
    """How sites are compared: Unicode compatibility form (NFKC: an accent typed as one
    character or two is the same), runs of spaces as one, case ignored."""
    text = unicodedata.normalize("NFKC", str(name))
    return re.sub(r"\s+", " ", text).strip().casefold()


def _scripts(name: str) -> set[str]:
    """The alphabets of the letters in ``name`` (LATIN, CYRILLIC, GREEK, ...), from their
    Unicode names."""
    return {unicodedata.name(ch, "UNKNOWN").split()[0] for ch in name if ch.isalpha()}


def _file(chk, root: Path, path: tuple, entry, allowed: dict[str, bool]) -> FileSpec | None:
    if entry is None:
        return None
    if isinstance(entry, str):
        entry = {"path": entry}
    entry = chk.keys(entry, path, allowed)
    rel = entry.get("path")
    if rel is None:
        return None
    if not isinstance(rel, str) or not rel.strip():
        chk.error(path + ("path",), "should be a file path", value=rel)
        return None
    full = (root / rel).resolve()
    try:
        full.relative_to(root.resolve())
    except ValueError:
        chk.error(path + ("path",), "points outside the study folder", value=rel,
                  expected="a path inside the study folder")
        return None
    if not full.is_file():
        chk.error(path + ("path",), "file not found", value=rel,
                  expected="an existing file, relative to the study folder")
    options = {k: v for k, v in entry.items() if k != "path"}
    person = options.get("layout") == "person"   # its items and dates: _layout_options
    for key in ("columns", "items"):
        if key in options and not (person and key == "items"):
            options[key] = _name_map(chk, path + (key,), options[key])
    if "missing" in options:
        options["missing"] = _missing_codes(chk, path + ("missing",), options["missing"])
    if "events" in options:
        options["events"] = _events(chk, path + ("events",), options["events"])
    return FileSpec(rel, full, options)


def _layout_options(chk: _Checker, path: tuple, spec: FileSpec, layout: str,
                    timepoints: list[str]) -> FileSpec:
    """The responses entry's keys that depend on its layout. ``layout: person`` (one row per
    participant, each time point's items in their own columns) lists ``items:`` per time
    point (``{baseline: {wemwbs_1: WEMWBSa}, followup: {wemwbs_1: WEMWBSa_fu}}``) and may
    give each time point's date column with ``completed_date: {baseline: date_t1}``; its
    ``columns:`` maps the participant id only, and it has no ``events:``. The other layouts
    map ``completed_date`` with ``columns:``."""
    options = dict(spec.options)
    if layout != "person":
        if "completed_date" in options:
            chk.error(path + ("completed_date",), "a date column per time point is only for "
                      "layout: person", value=_kind(options["completed_date"]),
                      expected="columns: {completed_date: <your date column>}")
        return spec
    example = "e.g. {baseline: {wemwbs_1: WEMWBSa}, followup: {wemwbs_1: WEMWBSa_fu}}"
    items = options.get("items")
    if items is None:
        chk.error(path, "required key 'items' is missing: a person-layout file lists each "
                  "time point's item columns", expected="items: " + example)
        items = {}
    elif not isinstance(items, dict) or not all(isinstance(v, dict) for v in items.values()):
        chk.error(path + ("items",), "with layout: person, items are listed per time point",
                  value=_kind(items), expected=example)
        items = {}
    per_tp = {}
    for tp, mapping in items.items():
        if _known_timepoint(chk, path + ("items", tp), tp, timepoints):
            per_tp[str(tp)] = _name_map(chk, path + ("items", tp), mapping)
            if not per_tp[str(tp)] and mapping == {}:
                chk.error(path + ("items", tp), "names no item column", value="{}",
                          expected="e.g. {wemwbs_1: WEMWBSa_fu}")
    options["items"] = {tp: per_tp[tp] for tp in timepoints if tp in per_tp}
    if "completed_date" in options:
        dates = _text_map(chk, path + ("completed_date",), options["completed_date"],
                          "should map time points to the file's date columns",
                          "e.g. {baseline: date_t1, followup: date_t2}",
                          "should name a column of the file",
                          "the column's name as in the header row")
        options["completed_date"] = {
            tp: col for tp, col in dates.items()
            if _known_timepoint(chk, path + ("completed_date", tp), tp, timepoints)
            and _has_items(chk, path + ("completed_date", tp), tp, per_tp)}
    for key in (set(options.get("columns") or {}) - {"participant_id"}):
        hint = ("give each time point's date with completed_date: {baseline: ..., followup: "
                "...}" if key == "completed_date" else "participant_id only: each time "
                "point's items have their own columns, listed under items:")
        chk.error(path + ("columns", key), "not a column of a person-layout responses file",
                  value=key, expected=hint)
    if "events" in options:
        chk.error(path + ("events",), "a person-layout file has no event column", value=_kind(
            options["events"]), expected="items: listed per time point (and no events:)")
    return FileSpec(spec.name, spec.path, options)


def _known_timepoint(chk: _Checker, path: tuple, tp, timepoints: list[str]) -> bool:
    if str(tp) in timepoints:
        return True
    if timepoints:   # none declared: that is the timepoints: key's own error
        chk.error(path, "not a time point of the study", value=tp,
                  expected="one of the time points in timepoints: " + ", ".join(timepoints))
    return False


def _has_items(chk: _Checker, path: tuple, tp: str, items: dict) -> bool:
    if tp in items:
        return True
    chk.error(path, "a date for a time point with no items", value=tp,
              expected="a time point listed under items: (" + ", ".join(items) + ")")
    return False


def _events(chk: _Checker, path: tuple, value) -> dict[str, str]:
    """``events:``: an export's event names -> the study's time points (REDCap's
    ``baseline_arm_1: baseline``); the time points are checked with the responses."""
    return _text_map(chk, path, value, "should map event names to time points",
                     "e.g. {baseline_arm_1: baseline, 3_month_followup_arm_1: followup}",
                     "should name a time point", "a time point id from timepoints:")


def _text_map(chk: _Checker, path: tuple, value, not_a_map: str, example: str,
              bad_value: str, expected_value: str) -> dict[str, str]:
    """A mapping of text to text from study.yaml (``columns:``, ``items:``, ``events:``),
    keys and values trimmed; an error for anything else, and for a blank or non-text value."""
    if not isinstance(value, dict):
        chk.error(path, not_a_map, value=_kind(value), expected=example)
        return {}
    out = {}
    for key, text in value.items():
        if isinstance(text, bool) or not isinstance(text, (str, int)) or not str(text).strip():
            chk.error(path + (key,), bad_value, value=text, expected=expected_value)
            continue
        out[str(key).strip()] = str(text).strip()
    return out


#: the keys of a file entry that map a study's own export onto spanalysis's names
#: (spanalysis.study.mapping)
_MAPPING_KEYS = {"columns": False, "missing": False}


def _name_map(chk: _Checker, path: tuple, value) -> dict[str, str]:
    """``columns:`` / ``items:``: spanalysis's name -> the file's column."""
    return _text_map(chk, path, value, "should map names to the file's columns",
                     "e.g. {participant_id: ResponseId}", "should name a column of the file",
                     "the column's name as in the header row")


def _missing_codes(chk: _Checker, path: tuple, value) -> list:
    """``missing:``: the values meaning "not answered" (e.g. [-99, -77, "NA"])."""
    codes = value if isinstance(value, list) else [value]
    out = []
    for i, code in enumerate(codes):
        if isinstance(code, bool) or not isinstance(code, (str, int, float)) \
                or not str(code).strip():
            chk.error(path + (i,) if isinstance(value, list) else path,
                      "not a missing-value code", value=code,
                      expected="numbers or text such as -99, -77 or NA")
            continue
        out.append(code)
    return out
