"""What a REFI-QDA project says about its sources beyond the coding: their texts when the
project carries none (a folder of ``.txt`` files supplied by the user), their type
(interview, observation, document) and the participant each belongs to.

Used by :func:`spanalysis.qual.refi.read_qdpx`; the rules are described there and in
``docs/study-format.md`` ("REFI-QDA projects").

Source types
------------
In order, the first that gives an answer:

1. a variable of the source (a source ``VariableValue``, an ATLAS.ti attribute Set
   ``type: interview``) or of its case, named ``type``, ``source type``, ``document type``,
   ``doc type`` or ``data type`` (case, spaces, ``_`` and ``-`` ignored), whose value names a
   type (``interview``, ``focus group``, ``observation``, ``field notes``, ``document``,
   ``minutes``, ...; see :func:`type_from_value`);
2. membership of a Set named after a type (``Interviews``, ``Observation notes``,
   ``Documents``): how ATLAS.ti document groups and NVivo folders arrive;
3. the source's name (``Interview 03``, ``Observation notes``, ``Field notes week 2``,
   ``Minutes of steering group``): a guess, listed in a warning;
4. otherwise ``document``, listed in a warning.

Participants
------------
With the study's participant ids: a case whose name is one of them is that participant; else
a case with a variable value that is one of them (exactly one distinct id among its values)
is that participant. Without them: a ``<Case>``'s name is the participant id; a case made up
for a source's attributes (named after the source) takes the value of a variable named
``participant``, ``participant id`` or ``participant_id`` if it has one. A source belongs to
the participant of its first case (in file order).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from spanalysis.errors import InputError, Issue
from spanalysis.qual.segments import SOURCE_TYPES, decode_text

__all__ = ["RefiQdaWarning", "TextFolder", "type_from_value", "type_from_name",
           "is_type_variable", "is_source_variable", "assign_types", "link_participants", "link_sources",
           "missing_issues", "warn_list"]


class RefiQdaWarning(UserWarning):
    """Something in a REFI-QDA project could not be imported as it stands, or was guessed
    (missing texts, source types read from names, cases matching no participant)."""


_TYPE_VARIABLES = {"type", "source type", "sourcetype", "document type", "doc type",
                   "data type", "documenttype"}
_PARTICIPANT_VARIABLES = {"participant", "participant id", "participantid"}
# value of a type variable, or a set name, -> type (searched in this order)
_VALUE_PATTERNS = [
    ("interview", re.compile(r"\binterview|\bfocus ?groups?\b", re.I)),
    ("observation", re.compile(r"\bobserv|\bfield ?notes?\b|\bfieldnotes?\b|\bfield diar",
                               re.I)),
    ("document", re.compile(r"\bdoc(ument)?s?\b|\bdocuments?\b|\bminutes\b|\breports?\b|"
                            r"\bletters?\b|\bleaflets?\b|\bpolic(y|ies)\b|\bmemos?\b|"
                            r"\bagendas?\b|\be-?mails?\b|\bcase notes?\b|\brecords?\b", re.I)),
]
# a source's name -> type: the same words, but a name must use them as words
_NAME_PATTERNS = _VALUE_PATTERNS


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(name).strip().lower())


def is_type_variable(name: str) -> bool:
    """Whether a variable (or attribute) named ``name`` holds the source's type."""
    return _norm(name) in _TYPE_VARIABLES


def is_source_variable(name: str) -> bool:
    """Whether a source's own variable named ``name`` describes the source itself (its type
    or its ``site``) rather than a case: such values become ``source_type`` / ``site``."""
    return is_type_variable(name) or _norm(name) == "site"


def type_from_value(value: str) -> str | None:
    """The source type a type variable's value names (``'Interview'`` -> ``'interview'``,
    ``'Field notes'`` -> ``'observation'``, ``'Minutes'`` -> ``'document'``), or None."""
    text = _norm(value)
    if text in SOURCE_TYPES:
        return text
    for stype, pattern in _VALUE_PATTERNS:
        if pattern.search(text):
            return stype
    return None


def type_from_name(name: str) -> str | None:
    """The source type a source's name suggests (``'Interview 03'``), or None."""
    for stype, pattern in _NAME_PATTERNS:
        if pattern.search(str(name)):
            return stype
    return None


def _set_type(set_name: str) -> str | None:
    """The type a Set stands for when its whole name is a type word: ``Interviews``,
    ``Observation notes``, ``Documents`` (not ``gender: female`` nor ``Key moments``)."""
    text = _norm(set_name)
    if re.fullmatch(r"(interviews?|focus groups?|observations?( notes)?|field ?notes|"
                    r"documents?|minutes)", text):
        return type_from_value(text)
    return None


def warn_list(names, limit: int = 10) -> str:
    """``'a', 'b', 'c'`` or ``'a', 'b' and 3 more``."""
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def assign_types(names: list[str], source_vars: list[list[tuple[str, str]]],
                 case_vars: list[list[tuple[str, str]]], sets: list[list[str]],
                 label: str) -> tuple[list[str], list[Issue]]:
    """The type of each source (rules in the module docstring) and the warnings to give.

    ``names[i]`` is source i's name; ``source_vars[i]`` / ``case_vars[i]`` its own and its
    case's ``(variable, value)`` pairs; ``sets[i]`` the names of the Sets it is a member of.
    """
    types, guessed, defaulted, unknown = [], [], [], []
    for name, own, of_case, member_of in zip(names, source_vars, case_vars, sets):
        stype = None
        for variable, value in list(own) + list(of_case):
            if is_type_variable(variable):
                stype = type_from_value(value)
                if stype is None:
                    unknown.append(f"{name} ({variable}: {value})")
                else:
                    break
        if stype is None:
            stype = next((t for t in map(_set_type, member_of) if t), None)
        if stype is None:
            stype = type_from_name(name)
            if stype is not None:
                guessed.append(f"{name} -> {stype}")
        if stype is None:
            stype = "document"
            defaulted.append(name)
        types.append(stype)
    issues = []
    if unknown:
        issues.append(Issue("warning", f"{len(unknown)} source type value(s) name no known "
                            "type, so the type was taken from the name or set to document: "
                            + warn_list(unknown), file=label, column="source type",
                            expected=" or ".join(SOURCE_TYPES)))
    if guessed:
        issues.append(Issue("warning", f"the type of {len(guessed)} source(s) was guessed from "
                            "the name (the project gives no type variable): " +
                            warn_list(guessed), file=label, column="TextSource/@name",
                            expected="a source or case variable 'type' (interview, "
                                     "observation or document) to say so"))
    if defaulted:
        issues.append(Issue("warning", f"{len(defaulted)} source(s) have no type in the "
                            "project or their name and were taken as documents: " +
                            warn_list(defaulted), file=label, column="TextSource/@name",
                            expected="a source or case variable 'type' (interview, "
                                     "observation or document)"))
    return types, issues


def link_participants(cases: list[tuple[str, bool, list[tuple[str, str]]]],
                      participant_ids, label: str) -> tuple[dict[str, str | None], list[Issue]]:
    """The participant of each case: ``cases`` is ``(name, made_up, [(variable, value)])``
    per case (``made_up``: a case invented for a source's attributes); rules in the module
    docstring. Returns ``case -> participant id or None`` and the warnings to give."""
    out: dict[str, str | None] = {}
    unmatched, ambiguous = [], []
    ids = None if participant_ids is None else {str(p).strip() for p in participant_ids}
    for name, made_up, values in cases:
        if name in out:
            continue
        if ids is None:
            named = [v.strip() for var, v in values
                     if _norm(var) in _PARTICIPANT_VARIABLES and v.strip()]
            out[name] = named[0] if made_up and named else (None if made_up else name)
            continue
        if name.strip() in ids:
            out[name] = name.strip()
            continue
        found = sorted({v.strip() for _, v in values if v.strip() in ids})
        out[name] = found[0] if len(found) == 1 else None
        if len(found) > 1:
            ambiguous.append(f"{name} ({', '.join(found)})")
        elif not found:
            unmatched.append(name)
    issues = []
    if ambiguous:
        issues.append(Issue("warning", f"{len(ambiguous)} case(s) have variable values "
                            "naming several participants, so their sources are linked to "
                            "none: " + warn_list(ambiguous), file=label, column="Case",
                            expected="one participant id per case"))
    if unmatched:
        issues.append(Issue("warning", f"{len(unmatched)} case(s) match no participant id "
                            "(by name or by a variable's value), so their sources are linked "
                            "to no participant: " + warn_list(unmatched), file=label,
                            column="Case/@name", expected="a participant id of the study"))
    return out, issues


class TextFolder:
    """The ``.txt`` files of a folder, found by source name (``Interview 03.txt`` for the
    source named ``Interview 03``), else by the project's own file name (``<GUID>.txt``),
    else by name ignoring case. Files are read on demand (UTF-8, byte order mark dropped,
    line ends as stored), within ``max_size`` bytes in all; a file whose real path is outside
    the folder (a symbolic link out) is refused."""

    def __init__(self, folder: str | os.PathLike, max_size: int):
        self.folder = Path(folder)
        self.max_size, self.read_so_far = max_size, 0
        if not self.folder.is_dir():
            raise InputError("the folder of source texts does not exist or is not a folder",
                             file=str(self.folder), column="texts", value=str(self.folder),
                             expected="a folder of .txt files named after the sources")
        self.files = {p.name[:-4]: p for p in sorted(self.folder.iterdir())
                      if p.name.lower().endswith(".txt") and p.is_file()}
        self.folded: dict[str, list[str]] = {}
        for stem in self.files:
            self.folded.setdefault(stem.casefold(), []).append(stem)
        self.used: set[str] = set()

    def find(self, name: str, file_name: str | None = None) -> tuple[str, str] | None:
        """``(text, label)`` of the source called ``name`` (whose project file is
        ``file_name``, e.g. ``<GUID>.txt``), or None when the folder has no text for it."""
        stem = name if name in self.files else None
        if stem is None and file_name and file_name[:-4] in self.files \
                and file_name.lower().endswith(".txt"):
            stem = file_name[:-4]
        if stem is None and len(self.folded.get(name.casefold(), [])) == 1:
            stem = self.folded[name.casefold()][0]
        if stem is None:
            return None
        path = self.files[stem]
        label = f"{self.folder.name}/{path.name}"
        if not path.resolve().is_relative_to(self.folder.resolve()):
            raise InputError("the source text is a link to a file outside the folder of "
                             "texts", file=label, column="texts", value=str(path.resolve()),
                             expected=f"a .txt file inside {self.folder}")
        size = path.stat().st_size
        self.read_so_far += size
        if self.read_so_far > self.max_size:
            raise InputError(f"the source texts add up to more than the limit of "
                             f"{self.max_size:,} bytes", file=label, column="texts",
                             value=size, expected="texts within the limit (raise max_size "
                                                  "if they are genuine)")
        self.used.add(stem)
        return decode_text(path.read_bytes(), label), label

    def unused(self) -> list[str]:
        """The ``.txt`` files that matched no source."""
        return [self.files[s].name for s in self.files if s not in self.used]


def link_sources(root, q, sources: pd.DataFrame, cases: dict, attributes: list[tuple],
                  participant_ids, label: str) -> tuple[pd.DataFrame, list[Issue]]:
    """Each source's type and participant (rules in :mod:`spanalysis.qual.refi_links`);
    ``cases["cases"]`` gains its ``participant_id`` column. Returns the sources and the
    warnings."""
    table, variables = cases["cases"], cases["variables"]
    values_of: dict[str, list[tuple[str, str]]] = {}
    for cname, var, value in zip(variables["case"], variables["variable"], variables["value"]):
        values_of.setdefault(cname, []).append((var, value))
    order = list(pd.unique(table["case"])) if len(table) else []
    links, issues = link_participants(
        [(c, c in cases["made_up"], values_of.get(c, [])) for c in order], participant_ids,
        label)
    table["participant_id"] = table["case"].map(links).astype("str")
    own: dict[str, list[tuple[str, str]]] = {}
    for sid, var, value, _ in attributes:
        own.setdefault(sid, []).append((var, value))
    member_of: dict[str, list[str]] = {}
    for s in root.iterfind(f"{q('Sets')}/{q('Set')}"):
        for ref in s.iterfind(q("MemberSource")):
            member_of.setdefault(ref.get("targetGUID"), []).append(s.get("name") or "")
    ids = sources["source_id"].tolist()
    case_of = [cases["case_of_source"].get(sid) for sid in ids]
    types, type_issues = assign_types(
        sources["source_name"].tolist(), [own.get(sid, []) for sid in ids],
        [values_of.get(c, []) if c else [] for c in case_of],
        [member_of.get(sid, []) for sid in ids], label)
    sources = sources.copy()
    sources["source_type"] = pd.Series(types, index=sources.index, dtype="str")
    sources["participant_id"] = pd.Series([links.get(c) if c else None for c in case_of],
                                          index=sources.index, dtype="str")
    sources["site"] = pd.Series([next((v.strip() for var, v in own.get(sid, [])
                                       if _norm(var) == "site" and v.strip()), None)
                                 for sid in ids], index=sources.index, dtype="str")
    linked = table.dropna(subset=["source_id", "participant_id"])
    several = linked.groupby("source_id")["participant_id"].nunique()
    several = several[several > 1]
    if len(several):
        name_of = dict(zip(sources["source_id"], sources["source_name"]))
        issues.append(Issue("warning", f"{len(several)} source(s) belong to cases of several "
                            "participants; each is linked to its first case's participant: "
                            + warn_list(name_of.get(s, s) for s in several.index), file=label,
                            column="Case/SourceRef", expected="one participant per source"))
    return sources, type_issues + issues


def missing_issues(root, q, missing: list[tuple], texts: TextFolder | None,
                    label: str) -> list[Issue]:
    """Warnings for sources without a text, non-text sources, and texts matching no
    source."""
    issues = []
    if missing:
        codings = sum(m[2] for m in missing)
        where = "in the project or the folder of texts" if texts else "in the project"
        issues.append(Issue(
            "warning", f"{len(missing)} source(s) have no text {where}, so they and their "
            f"{codings} coding(s) were left out (codings need the texts): "
            + warn_list(m[1] for m in missing), file=label, column="TextSource/@plainTextPath",
            expected="the texts, as .txt files named after the sources (e.g. 'Interview 03.txt')"
                     " in a folder given as texts= (read_qdpx) or --texts (spanalysis qual "
                     "import)"))
    other: dict[str, int] = {}
    for element in root.iterfind(f"{q('Sources')}/*"):
        kind = element.tag.rsplit("}", 1)[-1]
        if kind != "TextSource":
            other[kind] = other.get(kind, 0) + 1
    if other:
        issues.append(Issue("warning", f"{sum(other.values())} source(s) are not text "
                            "sources and were left out with their codings: " +
                            ", ".join(f"{n} {k}" for k, n in other.items()), file=label,
                            column="Sources", expected="TextSource (export PDFs, pictures and "
                                                      "recordings as texts or transcripts)"))
    if texts is not None and texts.unused():
        issues.append(Issue("warning", f"{len(texts.unused())} file(s) in the folder of texts "
                            "match no source without a text and were not used: " +
                            warn_list(texts.unused()), file=str(texts.folder), column="texts",
                            expected="files named after the project's sources"))
    return issues
