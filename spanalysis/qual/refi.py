"""REFI-QDA projects (``.qdpx``): read coded projects from NVivo, ATLAS.ti, MAXQDA, QualCoder
and write projects they can open.

A project is a ``dict`` of tidy tables:

``codebook``
    as :func:`~spanalysis.qual.codebook.read_codebook` (one row per code).
``sources``
    ``source_id`` (the source's GUID), ``source_name``, ``text``, ``source_type``,
    ``participant_id``, ``site`` (a source's own ``site`` variable; type and participant:
    :mod:`spanalysis.qual.refi_links`).
``segments``
    one row per coding: ``segment_id`` (the Coding GUID), ``source_id``, ``source_name``,
    ``case``, ``code_id``, ``code_name``, ``coder``, ``start``, ``end``, ``text``. Positions
    count Unicode characters from 0, ``end`` exclusive, so ``text == source_text[start:end]``.
    A coding attached to a whole source (not to a selection) covers the whole text.
``cases``
    one row per case and linked source: ``case``, ``description``, ``source_id``,
    ``source_name`` (a case with no sources has one row with missing source).
``variables``
    one row per case and variable: ``case``, ``variable``, ``value`` (text as written in the
    file), ``type`` (``Text``, ``Boolean``, ``Integer``, ``Float``, ``Date``, ``DateTime``).

Vendor differences handled on import (REFI-QDA README, "Differences between vendors")
---------------------------------------------------------------------------------------
* **UTF-16 positions (NVivo).** NVivo counts positions in UTF-16 code units, so every
  character outside the Basic Multilingual Plane (emoji, some CJK) shifts later positions by
  one. ``offsets='characters'`` or ``'utf16'`` says which is meant; ``offsets='auto'``
  (default) decides from the sources that contain such characters (only there do the two
  readings differ): if a position is impossible as characters (beyond the text) but possible
  as UTF-16 units, UTF-16 is chosen; otherwise each reading is scored by how many selection
  starts and ends fall on a word boundary (not between two letters/digits) and UTF-16 is
  chosen only when it scores strictly higher. Coders select whole words, so the right reading
  almost always wins; ties keep characters (the standard). The choice is made once per
  project (one program wrote it) and reported in ``project["offsets"]``.
* **Byte order mark (NVivo for Windows).** Dropped before positions are counted.
* **CRLF line ends.** Kept as stored; a CRLF counts as two characters (the stored text is what
  positions index). Inline ``PlainTextContent`` is taken as the XML parser returns it: XML
  end-of-line normalisation turns a literal CRLF into LF (XML 1.0, section 2.11).
* **Folder case and strays.** Source files are found under ``Sources/`` or ``sources/``
  (any case); other entries such as ``sources/.root`` are ignored.
* **Project XML name.** The archive must hold exactly one ``*.qde`` file, whatever its name
  (ATLAS.ti writes e.g. ``Trial.qde``).
* **Attributes as Sets (ATLAS.ti 8).** A ``Set`` named ``attribute: value`` whose members are
  sources becomes a variable of each member source's case; a source with no case gets a case
  named after the source. The type is Integer or Float when the value is a number, else Text.
  Sets with other names are ignored.
* **Namespaces.** ``urn:QDA-XML:project:1.0`` and the variants ``...:1:0`` and ``...:0:4``
  (and a document with no namespace) are accepted.
* **Empty ``<Sets/>``** is accepted on import and never written.
* **Inline ``PlainTextContent``** is used when a source has no ``plainTextPath``.
* **No texts, bare ``.qde`` (ATLAS.ti).** A file whose bytes are XML, not ZIP, is read as the
  project XML alone. A source with no text is left out with its codings, and a warning
  counts them; ``texts=`` supplies texts from a folder (see :func:`read_qdpx`).

Untrusted input
---------------
XML is parsed with defusedxml (entity declarations and external references refused). The
archive is never extracted to disk; members are read into memory. Before anything is read the
archive is refused if it has more than ``max_members`` entries, a member path that is
absolute, has a drive letter or a ``..`` component, or a symbolic link, or if the declared
uncompressed sizes add up to more than ``max_size`` bytes; while reading, the bytes actually
decompressed are counted against the same limit (headers can lie). Source paths that point
outside the archive (``relative://``, ``absolute://``) are refused rather than followed.

References
----------
REFI-QDA Standard, QDA-XML 1.0 (18 March 2019), https://www.qdasoftware.org (schema shipped
as ``spanalysis/qual/schema/Project.xsd``, MIT licence).
"""
from __future__ import annotations

import os
import re
import stat
import uuid
import warnings
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from spanalysis.errors import InputError, Issue, ValidationError
from spanalysis.io import atomic_write
from spanalysis.qual.codebook import (
    CODEBOOK_COLUMNS,
    SPANALYSIS_NAMESPACE,
    codes_from_xml,
    codes_to_xml,
    parse_xml,
    validate_codebook,
)
from spanalysis.qual.refi_links import (
    RefiQdaWarning,
    TextFolder,
    is_source_variable,
    link_sources,
    missing_issues,
)
from spanalysis.qual.segments import decode_text

__all__ = ["read_qdpx", "write_qdpx", "schema_path", "PROJECT_NS", "DEFAULT_MAX_SIZE",
           "DEFAULT_MAX_MEMBERS", "RefiQdaWarning"]

PROJECT_NS = "urn:QDA-XML:project:1.0"
PROJECT_NAMESPACES = (PROJECT_NS, "urn:QDA-XML:project:1:0", "urn:QDA-XML:project:0:4", "")
DEFAULT_MAX_SIZE = 200 * 1024 * 1024
DEFAULT_MAX_MEMBERS = 10_000
_CHUNK = 1 << 20
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\}?")
_NUMBER_INT = re.compile(r"[+-]?\d+")
_NUMBER_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_VALUE_TAGS = {"TextValue": "Text", "BooleanValue": "Boolean", "IntegerValue": "Integer",
               "FloatValue": "Float", "DateValue": "Date", "DateTimeValue": "DateTime"}
SEGMENT_COLUMNS = ["segment_id", "source_id", "source_name", "case", "code_id", "code_name",
                   "coder", "start", "end", "text"]
SOURCE_COLUMNS = ["source_id", "source_name", "text", "source_type", "participant_id", "site"]
CASE_COLUMNS = ["case", "description", "source_id", "source_name", "participant_id"]
MISSING_COLUMNS = ["source_id", "source_name", "codings"]
#: the variable under which :func:`write_qdpx` stores a source's type
SOURCE_TYPE_VARIABLE = "source type"
_SOURCE_VARIABLE = {"source_type": SOURCE_TYPE_VARIABLE, "site": "site"}
VARIABLE_COLUMNS = ["case", "variable", "value", "type"]


def schema_path() -> Path:
    """Path of the QDA-XML 1.0 ``Project.xsd`` shipped with spanalysis."""
    return Path(__file__).with_name("schema") / "Project.xsd"


# --------------------------------------------------------------------------- archive


class _Archive:
    """A checked, read-only view of a ZIP archive; members are read into memory only."""

    def __init__(self, path: Path, label: str, max_size: int, max_members: int):
        self.label, self.max_size = label, max_size
        self.read_so_far = 0
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(f"not a readable .qdpx (ZIP) archive ({exc})", file=label,
                             expected="a REFI-QDA project exported by a QDA program") from None
        infos = self.zip.infolist()
        if len(infos) > max_members:
            raise InputError(f"the archive has {len(infos):,} members, more than the limit of "
                             f"{max_members:,}; refused before reading", file=label,
                             value=len(infos), expected=f"at most {max_members:,} members "
                             "(raise max_members if this project is genuine)")
        declared = 0
        for info in infos:
            self._check_name(info)
            declared += info.file_size
        if declared > max_size:
            raise InputError(f"the archive would expand to {declared:,} bytes, more than the "
                             f"limit of {max_size:,}; refused before reading", file=label,
                             value=declared, expected=f"at most {max_size:,} bytes uncompressed "
                             "(raise max_size if this project is genuine)")
        self.files = {i.filename: i for i in infos if not i.is_dir()}

    def _check_name(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        parts = re.split(r"[\\/]", name)
        mode = info.external_attr >> 16
        reason = None
        if name.startswith(("/", "\\")):
            reason = "an absolute path"
        elif re.match(r"[A-Za-z]:", name):
            reason = "a drive letter"
        elif ".." in parts:
            reason = "a '..' component that escapes the project folder"
        elif "\x00" in name:
            reason = "a NUL character"
        elif stat.S_ISLNK(mode):
            reason = "a symbolic link"
        if info.flag_bits & 0x1:  # bit 0: the member is encrypted (PKWARE APPNOTE 4.4.4)
            raise InputError(f"refused archive member {name!r}: it is encrypted (password "
                             "protected)", file=self.label, value=name,
                             expected="a project exported without a password")
        if reason:
            raise InputError(f"refused archive member {name!r}: its path has {reason}",
                             file=self.label, value=name,
                             expected="member paths inside the archive (no absolute paths, "
                                      "drive letters, '..' or links)")

    def read(self, name: str) -> bytes:
        """Read one member, counting decompressed bytes against the size limit."""
        info = self.files[name]
        chunks, size = [], 0
        try:
            with self.zip.open(info) as handle:
                while True:
                    chunk = handle.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    self.read_so_far += len(chunk)
                    if self.read_so_far > self.max_size or size > info.file_size:
                        raise InputError(
                            f"refused archive member {name!r}: it expands beyond its declared "
                            f"size or the limit of {self.max_size:,} bytes", file=self.label,
                            value=name, expected="an archive whose sizes are honest and "
                                                 "within the limit")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                RuntimeError) as exc:
            raise InputError(f"archive member {name!r} is damaged, unsupported, or its content "
                             f"does not match its declared size ({exc})",
                             file=self.label, value=name,
                             expected="a ZIP archive written by a QDA program") from None
        return b"".join(chunks)


def _find_project_xml(archive: _Archive) -> str:
    names = [n for n in archive.files if n.lower().endswith(".qde")]
    if len(names) != 1:
        raise InputError(f"the archive holds {len(names)} project files (*.qde)",
                         file=archive.label, value=", ".join(names[:5]) or "none",
                         expected="exactly one .qde file (normally project.qde)")
    return names[0]


def _source_files(archive: _Archive) -> dict[str, str]:
    """File name -> member, for files directly in a ``sources`` folder of any case."""
    out = {}
    for name in archive.files:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].lower() == "sources" and parts[1]:
            out[parts[1]] = name
    return out


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


class _Bare:
    """A project XML file on its own (a bare ``.qde``, as ATLAS.ti can export): no archive
    around it, so no source files; read whole, within ``max_size`` bytes."""

    files: dict = {}

    def __init__(self, path: Path, label: str, max_size: int):
        self.label = label
        size = path.stat().st_size
        if size > max_size:
            raise InputError(f"the project XML is {size:,} bytes, more than the limit of "
                             f"{max_size:,}; refused before reading", file=label, value=size,
                             expected=f"at most {max_size:,} bytes (raise max_size if this "
                                      "project is genuine)")
        with open(path, "rb") as handle:
            self.data = handle.read(max_size + 1)
        if len(self.data) > max_size:  # grew after the size was checked
            raise InputError(f"the project XML is more than the limit of {max_size:,} bytes",
                             file=label, expected=f"at most {max_size:,} bytes")


def _open_project(path: Path, label: str, max_size: int, max_members: int):
    """The project as an archive (content starts with a ZIP signature) or a bare XML file
    (content starts with ``<`` after an optional byte order mark and white space): decided
    from the bytes, never from the file name."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if head.startswith(_ZIP_SIGNATURES):
        return _Archive(path, label, max_size, max_members)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or \
            head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return _Bare(path, label, max_size)
    raise InputError("not a readable REFI-QDA project: neither a .qdpx (ZIP) archive nor a "
                     "project XML file (.qde)", file=label, value=head[:16],
                     expected="a REFI-QDA project exported by a QDA program")


# --------------------------------------------------------------------------- reading


def read_qdpx(path: str | os.PathLike, *, offsets: str = "auto",
              max_size: int = DEFAULT_MAX_SIZE, max_members: int = DEFAULT_MAX_MEMBERS,
              label: str | None = None, texts: str | os.PathLike | None = None,
              participant_ids=None) -> dict:
    """Read a REFI-QDA project (``.qdpx`` archive or bare ``.qde`` XML) into tidy tables.

    Parameters
    ----------
    path : str or path-like
        The ``.qdpx`` archive, or the project XML alone (a bare ``.qde``); which one is
        decided from the file's first bytes (a ZIP signature or XML), not its name.
    offsets : {'auto', 'characters', 'utf16'}, default 'auto'
        How selection positions are counted in the file: Unicode characters (the standard)
        or UTF-16 code units (NVivo). ``'auto'`` decides as the module docstring describes.
    max_size : int, default 200 MiB
        Limit on the total uncompressed bytes of the archive (declared and actually read),
        of a bare XML file, and of the texts read from ``texts``.
    max_members : int, default 10,000
        Limit on the number of archive entries.
    label : str, optional
        How the file is named in messages (default: the file name).
    texts : str or path-like, optional
        A folder of ``.txt`` files (UTF-8) holding the texts of sources the project carries
        no text for, each named after its source (``Interview 03.txt``; or the project's own
        file name ``<GUID>.txt``; or the name in another case). The project's own texts win.
    participant_ids : iterable of str, optional
        The study's participant ids: a case named after one, or with a variable whose value
        is one, links its sources to that participant (see
        :mod:`spanalysis.qual.refi_links`). Without them a case's name is the participant.

    Returns
    -------
    dict
        ``codebook``, ``sources`` (``source_id, source_name, text, source_type,
        participant_id, site``), ``segments``, ``cases`` (with ``participant_id``), ``variables``
        (DataFrames, columns in the module docstring), ``missing_texts`` (``source_id,
        source_name, codings``: sources left out for want of a text, and how many codings
        went with them), ``warnings`` (:class:`~spanalysis.errors.Issue` list, each also
        issued as a :class:`RefiQdaWarning`), ``offsets`` (``'characters'`` or ``'utf16'``:
        the reading used) and ``name`` (the project's name).

    Raises
    ------
    InputError
        Unsafe or damaged archive or XML (see "Untrusted input"), a source pointing outside
        the archive with no text supplied, a coding that refers to an unknown code, a
        selection outside its text.

    Notes
    -----
    A source with no text (a ``plainTextPath`` whose file is not in the archive, or neither
    ``plainTextPath`` nor ``PlainTextContent``, e.g. ATLAS.ti's bare ``.qde``) and none in
    ``texts`` is left out of ``sources`` with its codings, which cannot be checked or quoted
    without it; ``missing_texts`` and a warning give the sources and the number of codings.
    Its cases and variables are kept.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> from spanalysis.qual.refi import write_qdpx, read_qdpx
    >>> codebook = pd.DataFrame({"id": ["hope"], "name": ["Offering hope"]})
    >>> sources = pd.DataFrame({"source_id": ["S1"], "source_name": ["Interview 1"],
    ...                         "text": ["It gave me hope again."]})
    >>> segments = pd.DataFrame({"segment_id": ["g1"], "source_id": ["S1"], "coder": ["AB"],
    ...                          "code_id": ["hope"], "start": [11], "end": [15]})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "demo.qdpx"
    >>> _ = write_qdpx({"codebook": codebook, "sources": sources, "segments": segments}, out)
    >>> read_qdpx(out)["segments"][["source_name", "code_name", "coder", "text"]]
       source_name      code_name coder  text
    0  Interview 1  Offering hope    AB  hope
    """
    if offsets not in ("auto", "characters", "utf16"):
        raise InputError("unknown offsets setting", column="offsets", value=offsets,
                         expected="'auto', 'characters' or 'utf16'")
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path),
                         expected="a .qdpx project or a .qde project XML file")
    folder = TextFolder(texts, max_size) if texts is not None else None
    archive = _open_project(path, label, max_size, max_members)
    root, ns, xml_label = _project_root(archive)
    _check_unique_guids(root, xml_label)
    q = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)

    users = {u.get("guid"): (u.get("name") or u.get("id") or u.get("guid"))
             for u in root.iterfind(f"{q('Users')}/{q('User')}")}
    codes_el = root.find(f"{q('CodeBook')}/{q('Codes')}")
    if codes_el is not None:
        codebook, code_of_guid = codes_from_xml(codes_el, ns, xml_label)
    else:
        codebook = pd.DataFrame({c: pd.Series(dtype=object) for c in CODEBOOK_COLUMNS})
        code_of_guid = {}
    variable_defs = {v.get("guid"): (v.get("name"), v.get("typeOfVariable") or "Text")
                     for v in root.iterfind(f"{q('Variables')}/{q('Variable')}")}
    read = _read_sources(root, q, archive, variable_defs, xml_label, folder)
    attributes = list(read["source_vars"]) + _attribute_sets(root, q)
    cases = _read_cases(root, q, variable_defs, read["names"], attributes, xml_label)
    sources, issues = link_sources(root, q, read["sources"], cases, attributes,
                                    participant_ids, xml_label)
    issues = missing_issues(root, q, read["missing"], folder, xml_label) + issues
    segments, chosen = _read_codings(read["selections"], sources, offsets, code_of_guid,
                                     xml_label)
    segments = _label_segments(segments, sources, cases, codebook, code_of_guid, users)
    for issue in issues:
        warnings.warn(str(issue), RefiQdaWarning, stacklevel=2)
    return {"name": root.get("name"), "offsets": chosen, "codebook": codebook,
            "sources": sources, "segments": segments, "cases": cases["cases"],
            "variables": cases["variables"],
            "missing_texts": pd.DataFrame(read["missing"], columns=MISSING_COLUMNS),
            "warnings": issues}


def _project_root(archive):
    """The project XML's root element, its namespace and how the XML is named in messages;
    refused unless it is a REFI-QDA ``<Project>`` in a known namespace."""
    if isinstance(archive, _Bare):
        xml_label, data = archive.label, archive.data
    else:
        qde = _find_project_xml(archive)
        xml_label, data = f"{archive.label}:{qde}", archive.read(qde)
    root = parse_xml(data, xml_label)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if root.tag.rsplit("}", 1)[-1] != "Project" or ns not in PROJECT_NAMESPACES:
        raise InputError("not a REFI-QDA project", file=xml_label, value=root.tag,
                         expected=f"a <Project> element in namespace {PROJECT_NS}")
    return root, ns, xml_label


def _check_unique_guids(root, label: str) -> None:
    """Refuse a project in which two objects (users, codes, sources, selections, codings,
    cases, variables, ...) carry the same ``guid``: REFI-QDA identifies every object by its
    GUID, so a duplicate makes references (``targetGUID``) ambiguous."""
    seen: dict[str, str] = {}
    for element in root.iter():
        guid = element.get("guid")
        if guid is None:
            continue
        kind = element.tag.rsplit("}", 1)[-1]
        key = guid.strip("{}").lower()
        if key in seen:
            raise InputError(f"two objects share one GUID (a {seen[key]} and a {kind})",
                             file=label, column="guid", value=guid,
                             expected="a different GUID for every object in the project")
        seen[key] = kind


def _read_sources(root, q, archive, variable_defs: dict, label: str,
                  texts: TextFolder | None) -> dict:
    """The text sources with a text (``source_id, source_name, text``), their codings as
    read (``src`` the source's row, positions as in the file, ``end`` -1 for a coding of the
    whole source), the variable values attached to sources (source GUID, variable, value,
    type), every source's name by GUID (``names``) and the sources with no text
    (``missing``: GUID, name, number of codings)."""
    source_files = _source_files(archive)
    src_rows, sel_rows, source_vars, missing, names = [], [], [], [], {}
    for source in root.iterfind(f"{q('Sources')}/{q('TextSource')}"):
        guid = source.get("guid")
        name = source.get("name") or guid
        names[guid] = name
        for vv in source.iterfind(q("VariableValue")):
            source_vars.append((guid, *_variable_value(vv, q, variable_defs, label)))
        text = _source_text(source, q, archive, source_files, name, label, texts)
        if text is None:
            codings = len(source.findall(f"{q('PlainTextSelection')}/{q('Coding')}")) + \
                len(source.findall(q("Coding")))
            missing.append((guid, name, codings))
            continue
        sel_rows += _selections(source, q, len(src_rows), text, name, label)
        src_rows.append((guid, name, text))
    sources = pd.DataFrame(src_rows, columns=SOURCE_COLUMNS[:3])
    for col in SOURCE_COLUMNS[:3]:
        sources[col] = sources[col].astype("str")
    selections = pd.DataFrame(sel_rows, columns=["src", "selection", "start", "end",
                                                 "segment_id", "code_guid", "user",
                                                 "is_selection"])
    return {"sources": sources, "selections": selections, "source_vars": source_vars,
            "names": names, "missing": missing}


def _selections(source, q, src_index: int, text: str, name: str, label: str) -> list[tuple]:
    """One row per coding of a source: its selections' codings, then whole-source codings."""
    rows = []
    for sel in source.iterfind(q("PlainTextSelection")):
        sel_user = sel.get("creatingUser")
        try:
            start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
        except (TypeError, ValueError):
            raise InputError("a selection's positions are not whole numbers",
                             file=label, column="PlainTextSelection",
                             value=f"{sel.get('startPosition')}..{sel.get('endPosition')}",
                             expected="startPosition and endPosition integers") from None
        if max(abs(start), abs(end)) > 2 * len(text) + 2:
            # beyond the text however positions are counted (UTF-16 units are at most
            # two per character); caught here, before such a number overflows an array
            raise ValidationError([Issue(
                "error", f"selection {sel.get('guid')} in source {name!r} lies outside "
                "its text", file=label, column="PlainTextSelection",
                value=f"{start}..{end} (text length {len(text)})",
                expected="0 <= startPosition < endPosition <= text length")])
        for coding in sel.iterfind(q("Coding")):
            ref = coding.find(q("CodeRef"))
            rows.append((src_index, sel.get("guid"), start, end, coding.get("guid"),
                         None if ref is None else ref.get("targetGUID"),
                         coding.get("creatingUser") or sel_user, True))
    for coding in source.iterfind(q("Coding")):  # coding of the whole source
        ref = coding.find(q("CodeRef"))
        rows.append((src_index, None, 0, -1, coding.get("guid"),
                     None if ref is None else ref.get("targetGUID"),
                     coding.get("creatingUser") or source.get("creatingUser"), False))
    return rows


def _read_cases(root, q, variable_defs: dict, name_of_source: dict, attributes: list[tuple],
                label: str) -> dict:
    """``cases`` and ``variables`` tables, and the case of each source and selection
    (``case_of_source``, ``case_of_selection``): from ``<Cases>``, then attributes held as
    source variable values and as ATLAS.ti Sets (a source with no case gets one named after
    it: these are listed in ``made_up``). A source's own type or site variable is not a case
    variable (it becomes the source's ``source_type`` or ``site``)."""
    case_rows, var_rows = [], []
    case_of_source: dict[str, str] = {}
    case_of_selection: dict[str, str] = {}
    made_up: set[str] = set()
    for case in root.iterfind(f"{q('Cases')}/{q('Case')}"):
        cname = case.get("name") or case.get("guid")
        description = case.findtext(q("Description")) or ""
        linked = [r.get("targetGUID") for r in case.iterfind(q("SourceRef"))]
        for vv in case.iterfind(q("VariableValue")):
            var_rows.append((cname, *_variable_value(vv, q, variable_defs, label)))
        for ref in case.iterfind(q("SelectionRef")):
            case_of_selection.setdefault(ref.get("targetGUID"), cname)
        if not linked:
            case_rows.append((cname, description, None, None))
        for sid in linked:
            case_of_source.setdefault(sid, cname)
            case_rows.append((cname, description, sid, name_of_source.get(sid)))
    for sid, variable, value, vtype in attributes:
        if sid not in name_of_source or is_source_variable(variable):
            continue
        cname = case_of_source.get(sid)
        if cname is None:  # a case per source, named after the source
            cname = name_of_source[sid]
            case_of_source[sid] = cname
            made_up.add(cname)
            case_rows.append((cname, "", sid, name_of_source[sid]))
        var_rows.append((cname, variable, value, vtype))
    return {"cases": pd.DataFrame(case_rows, columns=CASE_COLUMNS[:4]).astype("str"),
            "variables": pd.DataFrame(var_rows, columns=VARIABLE_COLUMNS).astype("str"),
            "case_of_source": case_of_source, "case_of_selection": case_of_selection,
            "made_up": made_up}


def _attribute_sets(root, q) -> list[tuple[str, str, str, str]]:
    """Attributes carried as Sets (ATLAS.ti 8): ``(source GUID, attribute, value, type)`` for
    each member source of a Set named ``attribute: value``; other Sets are ignored."""
    attributes = []
    for s in root.iterfind(f"{q('Sets')}/{q('Set')}"):
        m = re.fullmatch(r"\s*([^:]+?)\s*:\s*(.*?)\s*", s.get("name") or "")
        members = [r.get("targetGUID") for r in s.iterfind(q("MemberSource"))]
        if not m or not members:
            continue
        value = m.group(2)
        vtype = ("Integer" if _NUMBER_INT.fullmatch(value) else
                 "Float" if _NUMBER_FLOAT.fullmatch(value) else "Text")
        attributes += [(sid, m.group(1), value, vtype) for sid in members]
    return attributes


def _read_codings(segments: pd.DataFrame, sources: pd.DataFrame, offsets: str,
                  code_of_guid: dict, label: str) -> tuple[pd.DataFrame, str]:
    """The codings with positions converted to characters (a whole-source coding ends at the
    end of its text), checked against their texts and the codebook, and the reading of
    positions used (``'characters'`` or ``'utf16'``)."""
    chosen = "characters" if offsets == "auto" else offsets
    if not len(segments):
        return segments, chosen
    texts = sources["text"].tolist()
    whole = ~segments["is_selection"].to_numpy()
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    src = segments["src"].to_numpy()
    start = segments["start"].to_numpy(np.int64).copy()
    end = segments["end"].to_numpy(np.int64).copy()
    end[whole] = lengths[src[whole]]
    if offsets == "auto":
        chosen = _choose_offsets(texts, src[~whole], start[~whole], end[~whole])
    if chosen == "utf16":
        start, end = _utf16_to_characters(texts, src, start, end, whole)
    segments["start"], segments["end"] = start, end
    _check_positions(segments, lengths, sources, label, chosen)
    unknown = ~segments["code_guid"].isin(code_of_guid.keys())
    if unknown.any():
        bad = segments.loc[unknown, "code_guid"].iloc[0]
        raise InputError(f"{int(unknown.sum())} coding(s) refer to a code not in the "
                         "codebook", file=label, column="Coding/CodeRef", value=bad,
                         expected="the GUID of a Code in <CodeBook>")
    return segments, chosen


def _label_segments(segments: pd.DataFrame, sources: pd.DataFrame, cases: dict,
                    codebook: pd.DataFrame, code_of_guid: dict, users: dict) -> pd.DataFrame:
    """The codings as the ``segments`` table (``SEGMENT_COLUMNS``): source, case, code and
    coder named, and the coded text."""
    name_of_source = dict(zip(sources["source_id"], sources["source_name"]))
    code_name = dict(zip(codebook["id"], codebook["name"]))
    texts = sources["text"].tolist()
    segments["source_id"] = sources["source_id"].to_numpy()[segments["src"].to_numpy()] \
        if len(segments) else pd.Series(dtype="str")
    segments["source_name"] = segments["source_id"].map(name_of_source)
    case_sel = segments["selection"].map(cases["case_of_selection"]).astype("str")
    segments["case"] = case_sel.fillna(
        segments["source_id"].map(cases["case_of_source"]).astype("str"))
    segments["code_id"] = segments["code_guid"].map(code_of_guid)
    segments["code_name"] = segments["code_id"].map(code_name)
    segments["coder"] = segments["user"].map(lambda g: users.get(g, g) if g else None) \
        if len(segments) else pd.Series(dtype="str")
    # slicing differs per row; no vectorised pandas form
    segments["text"] = [texts[s][a:b] for s, a, b in
                        zip(segments["src"], segments["start"], segments["end"])]
    segments = segments[SEGMENT_COLUMNS].copy()
    for col in SEGMENT_COLUMNS:
        if col not in ("start", "end"):
            segments[col] = segments[col].astype("str")
    segments["start"] = segments["start"].astype(np.int64)
    segments["end"] = segments["end"].astype(np.int64)
    return segments


def _source_text(source, q, archive, source_files: dict[str, str], name: str, label: str,
                 texts: TextFolder | None) -> str | None:
    """The source's text: its archive member, else its inline ``PlainTextContent``, else the
    folder of texts; None when none has it. A path outside the archive is never followed
    (refused unless the folder of texts has the source)."""
    inline = source.find(q("PlainTextContent"))
    target = source.get("plainTextPath")
    scheme, rest = None, ""
    if target:
        scheme, _, rest = target.partition("://")
        if scheme == "internal":
            member = source_files.get(rest) or (rest if rest in archive.files else None)
            if member is not None:
                return decode_text(archive.read(member), f"{archive.label}:{member}")
    if inline is not None:
        return inline.text or ""
    found = texts.find(name, re.split(r"[\\/]", rest)[-1] or None) if texts else None
    if found is not None:
        return found[0]
    if target and scheme != "internal":
        raise InputError(f"source {name!r} points to a file outside the archive; such "
                         "paths are not followed", file=label, column="plainTextPath",
                         value=target, expected="internal://<GUID>.txt or inline "
                         "PlainTextContent (export the project with its sources), or the "
                         "text in a folder given as texts= / --texts")
    return None


def _variable_value(vv, q, variable_defs: dict, label: str) -> tuple[str, str, str]:
    ref = vv.find(q("VariableRef"))
    guid = None if ref is None else ref.get("targetGUID")
    if guid not in variable_defs:
        raise InputError("a VariableValue refers to an unknown variable", file=label,
                         column="VariableRef", value=guid,
                         expected="the GUID of a Variable in <Variables>")
    name, vtype = variable_defs[guid]
    for child in vv:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in _VALUE_TAGS:
            return name, (child.text or ""), _VALUE_TAGS[tag]
    return name, "", vtype


def _word_char_mask(text: str, positions: np.ndarray) -> np.ndarray:
    """True where ``positions`` fall on a word boundary (not between two letters/digits)."""
    n = len(text)
    out = np.ones(len(positions), dtype=bool)
    for k, p in enumerate(positions):
        if 0 < p < n:
            out[k] = not (text[p - 1].isalnum() and text[p].isalnum())
        elif p < 0 or p > n:
            out[k] = False
    return out


def _utf16_cumulative(text: str) -> np.ndarray:
    """UTF-16 offset of each character index 0..len(text) (non-BMP characters take 2)."""
    cp = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    return np.concatenate([[0], np.cumsum(1 + (cp > 0xFFFF))]).astype(np.int64)


def _has_astral(text: str) -> bool:
    return len(text.encode("utf-16-le")) != 2 * len(text)


def _choose_offsets(texts: list[str], src: np.ndarray, start: np.ndarray,
                    end: np.ndarray) -> str:
    """Decide 'characters' or 'utf16' (rule in the module docstring)."""
    astral = [i for i, t in enumerate(texts) if _has_astral(t)]
    if not astral:
        return "characters"
    score = {"characters": 0, "utf16": 0}
    for i in astral:
        take = src == i
        if not take.any():
            continue
        text, a, b = texts[i], start[take], end[take]
        n, n16 = len(text), len(text.encode("utf-16-le")) // 2
        if (b > n).any() and not (b > n16).any():
            return "utf16"  # impossible as characters, possible as UTF-16 units
        cum = _utf16_cumulative(text)
        a16, b16 = np.searchsorted(cum, a), np.searchsorted(cum, b)
        score["characters"] += int(_word_char_mask(text, a).sum() + _word_char_mask(text, b).sum())
        score["utf16"] += int(_word_char_mask(text, a16).sum() + _word_char_mask(text, b16).sum())
    return "utf16" if score["utf16"] > score["characters"] else "characters"


def _utf16_to_characters(texts, src, start, end, whole):
    start, end = start.copy(), end.copy()
    for i in np.unique(src):
        if not _has_astral(texts[i]):
            continue
        take = (src == i) & ~whole
        cum = _utf16_cumulative(texts[i])
        # a position inside a surrogate pair moves to the next character
        start[take] = np.searchsorted(cum, start[take])
        end[take] = np.searchsorted(cum, end[take])
    return start, end


def _check_positions(segments: pd.DataFrame, lengths: np.ndarray, sources: pd.DataFrame,
                     label: str, chosen: str) -> None:
    start, end = segments["start"].to_numpy(), segments["end"].to_numpy()
    length = lengths[segments["src"].to_numpy()]
    bad = (start < 0) | (end <= start) | (end > length)
    if not bad.any():
        return
    issues = []
    for k in np.flatnonzero(bad)[:50]:
        sname = sources["source_name"].iloc[segments["src"].iloc[k]]
        issues.append(Issue("error", f"selection {segments['selection'].iloc[k]} in source "
                            f"{sname!r} lies outside its text (positions read as {chosen})",
                            file=label, column="PlainTextSelection",
                            value=f"{start[k]}..{end[k]} (text length {length[k]})",
                            expected="0 <= startPosition < endPosition <= text length"))
    raise ValidationError(issues)


# --------------------------------------------------------------------------- writing


def _guid(kind: str, key) -> str:
    return str(uuid.uuid5(SPANALYSIS_NAMESPACE, f"{kind}:{key}"))


def _as_guid(kind: str, value) -> str:
    """Keep a value that already is a GUID; otherwise make a deterministic one from it."""
    value = str(value)
    if _GUID.fullmatch(value):
        return value.strip("{}").lower()
    return _guid(kind, value)


def write_qdpx(project: dict, path: str | os.PathLike, *, name: str | None = None) -> Path:
    """Write a REFI-QDA project (``.qdpx``) that validates against QDA-XML 1.0.

    Parameters
    ----------
    project : dict
        ``codebook`` (codebook table), ``sources`` (``source_id``, ``source_name``, ``text``),
        ``segments`` (``segment_id``, ``source_id``, ``code_id``, ``coder``, ``start``,
        ``end``; other columns are ignored), and optionally ``cases`` (``case``,
        ``description``, ``source_id``) and ``variables`` (``case``, ``variable``, ``value``,
        ``type``).
    path : str or path-like
        Output file; written to a temporary file beside it, then renamed.
    name : str, optional
        Project name (default ``project["name"]`` or the file's stem).

    Returns
    -------
    pathlib.Path

    Notes
    -----
    GUIDs are deterministic (uuid5 of kind and identifier), so writing twice gives identical
    archives. ``source_id`` and ``segment_id`` values that already are GUIDs are kept (so a
    project read with :func:`read_qdpx` keeps its GUIDs); other ids are turned into uuid5
    GUIDs, which is what ``source_id``/``segment_id`` will be when the file is read back.
    Codings with the same source, start and end share one ``PlainTextSelection``. Texts are
    written as ``sources/<GUID>.txt`` (UTF-8, no BOM, line ends as given). No ``<Sets>`` is
    written.
    """
    codebook = project["codebook"]
    sources = project["sources"]
    cases = project.get("cases")
    variables = project.get("variables")
    path = Path(path)
    label = path.name
    codebook = _complete_codebook(codebook, label)
    src_guid = _source_guids(sources, label)

    ns = PROJECT_NS
    ET.register_namespace("", ns)
    q = lambda tag: f"{{{ns}}}{tag}"  # noqa: E731
    project_name = name or project.get("name") or path.stem
    root = ET.Element(q("Project"), {"name": str(project_name), "origin": "spanalysis"})

    segments = project.get("segments")
    if segments is None:
        segments = pd.DataFrame(columns=["segment_id", "source_id", "code_id", "coder",
                                         "start", "end"])
    segments = _check_segments_for_writing(segments, sources, codebook, label)
    coders = [c for c in pd.unique(segments["coder"].dropna())]
    user_guid = {c: _guid("user", c) for c in coders}
    if coders:
        users = ET.SubElement(root, q("Users"))
        for c in coders:
            ET.SubElement(users, q("User"), {"guid": user_guid[c], "name": str(c)})

    book = ET.SubElement(root, q("CodeBook"))
    guid_of_code = codes_to_xml(codebook, book, ns)
    own = [c for c in ("source_type", "site") if c in sources.columns]
    var_guid = _write_variables(root, q, variables, label, source_vars=own)
    _write_cases(root, q, cases, variables, var_guid, src_guid, label)
    members = _write_sources(root, q, sources, segments, src_guid, user_guid, guid_of_code,
                             var_guid)
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    with atomic_write(path, mode="wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member, data in [("project.qde", xml)] + members:
                info = zipfile.ZipInfo(member, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)
    return path


def _complete_codebook(codebook: pd.DataFrame, label: str) -> pd.DataFrame:
    """A copy of the codebook with every codebook column (a minimal ``id, name`` codebook is
    enough: the others get empty values), checked as a codebook."""
    codebook = codebook.copy()
    for col in CODEBOOK_COLUMNS:
        if col not in codebook.columns:
            codebook[col] = ([[] for _ in range(len(codebook))] if col == "keywords" else
                             False if col == "sensitive" else
                             "" if col in ("definition", "inclusion", "exclusion", "example")
                             else None)
        if col in ("id", "name", "parent", "colour"):
            codebook[col] = codebook[col].astype("str")
    validate_codebook(codebook, label=f"{label} (codebook)")
    return codebook


def _source_guids(sources: pd.DataFrame, label: str) -> dict:
    """``source_id -> GUID`` (kept when already a GUID), refusing repeated sources."""
    for col in ("source_id", "text"):
        if col not in sources.columns:
            raise InputError("the sources table lacks a column", file=label, column=col,
                             expected="source_id, source_name, text")
    src_guid = {sid: _as_guid("source", sid) for sid in sources["source_id"]}
    if len(set(src_guid.values())) != len(src_guid) or sources["source_id"].duplicated().any():
        raise InputError("two sources share one source_id", file=label, column="source_id",
                         expected="unique source ids")
    return src_guid


def _write_variables(root, q, variables: pd.DataFrame | None, label: str,
                     source_vars: list[str] = ()) -> dict:
    """The ``<Variables>`` element (one type per variable, and the Text variables
    ``source type`` and ``site`` for the sources' columns ``source_vars``); returns
    ``variable -> GUID``."""
    var_guid, var_type = {}, {}
    if (variables is None or not len(variables)) and not source_vars:
        return var_guid
    pairs = list(zip(variables["variable"], variables["type"])) \
        if variables is not None and len(variables) else []
    pairs += [(_SOURCE_VARIABLE[c], "Text") for c in source_vars]
    for var, vtype in pairs:
        if var_type.setdefault(var, vtype) != vtype:
            raise InputError("a variable has two types", file=label, column="type",
                             value=f"{var}: {var_type[var]} and {vtype}",
                             expected="one type per variable")
        if vtype not in _VALUE_TAGS.values():
            raise InputError("unknown variable type", file=label, column="type",
                             value=vtype, expected=", ".join(_VALUE_TAGS.values()))
    vars_el = ET.SubElement(root, q("Variables"))
    for var in var_type:
        var_guid[var] = _guid("variable", var)
        ET.SubElement(vars_el, q("Variable"), {"guid": var_guid[var], "name": str(var),
                                               "typeOfVariable": var_type[var]})
    return var_guid


def _write_cases(root, q, cases: pd.DataFrame | None, variables: pd.DataFrame | None,
                 var_guid: dict, src_guid: dict, label: str) -> None:
    """The ``<Cases>`` element: each case named in ``cases`` or ``variables`` (in order of
    appearance) with its description, variable values and linked sources."""
    case_names: list[str] = []
    for table in (cases, variables):
        if table is not None and len(table):
            case_names += [c for c in pd.unique(table["case"].dropna()) if c not in case_names]
    if not case_names:
        return
    cases_el = ET.SubElement(root, q("Cases"))
    tag_of_type = {v: k for k, v in _VALUE_TAGS.items()}
    empty = pd.DataFrame(columns=CASE_COLUMNS)
    links_of = dict(tuple(cases.groupby("case", sort=False))) \
        if cases is not None and len(cases) else {}
    values_of = dict(tuple(variables.groupby("case", sort=False))) \
        if variables is not None and len(variables) else {}
    for cname in case_names:
        case_el = ET.SubElement(cases_el, q("Case"), {"guid": _guid("case", cname),
                                                      "name": str(cname)})
        links = links_of.get(cname, empty)
        if "description" in links.columns:
            desc = links["description"].dropna()
            if len(desc) and desc.iloc[0]:
                ET.SubElement(case_el, q("Description")).text = str(desc.iloc[0])
        if cname in values_of:
            vals = values_of[cname]
            for var, value, vtype in zip(vals["variable"], vals["value"], vals["type"]):
                vv = ET.SubElement(case_el, q("VariableValue"))
                ET.SubElement(vv, q("VariableRef"), {"targetGUID": var_guid[var]})
                ET.SubElement(vv, q(tag_of_type[vtype])).text = str(value)
        for sid in links["source_id"].dropna():
            if sid not in src_guid:
                raise InputError("a case links to an unknown source", file=label,
                                 column="source_id", value=sid,
                                 expected="a source_id of the sources table")
            ET.SubElement(case_el, q("SourceRef"), {"targetGUID": src_guid[sid]})


def _write_sources(root, q, sources: pd.DataFrame, segments: pd.DataFrame, src_guid: dict,
                   user_guid: dict, guid_of_code: dict,
                   var_guid: dict | None = None) -> list[tuple[str, bytes]]:
    """The ``<Sources>`` element with selections, codings and each source's ``source_type``
    and ``site`` columns (when present, not blank) as variable values (``var_guid``: variable
    -> GUID); returns the archive members holding the texts (``sources/<GUID>.txt``, UTF-8).

    Segments are ordered by source (in the sources table's order), then start and end;
    equal (source, start, end) share one selection."""
    members: list[tuple[str, bytes]] = []
    sources_el = ET.SubElement(root, q("Sources")) if len(sources) else None
    order = pd.Series(np.arange(len(sources)), index=sources["source_id"])
    seg = segments.assign(_src=segments["source_id"].map(order).to_numpy())
    seg = seg.sort_values(["_src", "start", "end"], kind="stable")
    src_pos = seg["_src"].to_numpy()
    bounds = np.searchsorted(src_pos, np.arange(len(sources) + 1))
    new_sel = np.ones(len(seg), dtype=bool)
    if len(seg):
        new_sel[1:] = ((src_pos[1:] != src_pos[:-1])
                       | (seg["start"].to_numpy()[1:] != seg["start"].to_numpy()[:-1])
                       | (seg["end"].to_numpy()[1:] != seg["end"].to_numpy()[:-1]))
    seg_ids = [_as_guid("segment", x) for x in seg["segment_id"]]
    coder_guids = [user_guid.get(c) if isinstance(c, str) else None for c in seg["coder"]]
    code_guids = [guid_of_code[c] for c in seg["code_id"]]
    starts, ends = seg["start"].tolist(), seg["end"].tolist()
    names = sources["source_name"] if "source_name" in sources.columns else sources["source_id"]
    own = {c: sources[c].tolist() for c in _SOURCE_VARIABLE
           if c in sources.columns and var_guid}
    for k, (sid, sname, text) in enumerate(zip(sources["source_id"], names, sources["text"])):
        guid = src_guid[sid]
        members.append((f"sources/{guid}.txt", str(text).encode("utf-8")))
        src_el = ET.SubElement(sources_el, q("TextSource"), {
            "guid": guid, "name": str(sname if isinstance(sname, str) else sid),
            "plainTextPath": f"internal://{guid}.txt"})
        sel_el = None
        for i in range(bounds[k], bounds[k + 1]):  # building XML: one element per coding
            if new_sel[i]:
                attrs = {"guid": _guid("selection", f"{guid}:{starts[i]}:{ends[i]}"),
                         "startPosition": str(starts[i]), "endPosition": str(ends[i])}
                if coder_guids[i]:
                    attrs["creatingUser"] = coder_guids[i]
                sel_el = ET.SubElement(src_el, q("PlainTextSelection"), attrs)
            cattrs = {"guid": seg_ids[i]}
            if coder_guids[i]:
                cattrs["creatingUser"] = coder_guids[i]
            coding = ET.SubElement(sel_el, q("Coding"), cattrs)
            ET.SubElement(coding, q("CodeRef"), {"targetGUID": code_guids[i]})
        for column, values in own.items():
            value = values[k]
            if isinstance(value, str) and value.strip():
                vv = ET.SubElement(src_el, q("VariableValue"))
                ET.SubElement(vv, q("VariableRef"),
                              {"targetGUID": var_guid[_SOURCE_VARIABLE[column]]})
                ET.SubElement(vv, q("TextValue")).text = value
    return members


def _check_segments_for_writing(segments: pd.DataFrame, sources: pd.DataFrame,
                                codebook: pd.DataFrame, label: str) -> pd.DataFrame:
    required = ["segment_id", "source_id", "code_id", "coder", "start", "end"]
    missing = [c for c in required if c not in segments.columns]
    if missing:
        raise InputError("the segments table lacks a column", file=label, column=missing[0],
                         expected=", ".join(required))
    seg = segments[required].copy()
    if seg["segment_id"].duplicated().any():
        raise InputError("two segments share one segment_id", file=label, column="segment_id",
                         value=seg.loc[seg["segment_id"].duplicated(), "segment_id"].iloc[0],
                         expected="unique segment ids")
    unknown_code = ~seg["code_id"].isin(set(codebook["id"]))
    if unknown_code.any():
        raise InputError("a segment's code is not in the codebook", file=label,
                         column="code_id", value=seg.loc[unknown_code, "code_id"].iloc[0],
                         expected="a code id of the codebook")
    length = pd.Series([len(str(t)) for t in sources["text"]], index=sources["source_id"])
    seg_len = seg["source_id"].map(length)
    if seg_len.isna().any():
        raise InputError("a segment's source is not in the sources table", file=label,
                         column="source_id", value=seg.loc[seg_len.isna(), "source_id"].iloc[0],
                         expected="a source_id of the sources table")
    seg["start"] = pd.to_numeric(seg["start"]).astype(np.int64)
    seg["end"] = pd.to_numeric(seg["end"]).astype(np.int64)
    bad = (seg["start"] < 0) | (seg["end"] <= seg["start"]) | (seg["end"] > seg_len)
    if bad.any():
        row = seg[bad].iloc[0]
        raise InputError("a segment lies outside its source text", file=label, column="start",
                         value=f"{row['segment_id']}: {row['start']}..{row['end']}",
                         expected="0 <= start < end <= length of the text")
    return seg
