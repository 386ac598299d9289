"""Codebooks: the study's ``codebook.yaml`` and REFI-QDA codebook exchange files (``.qdc``).

A codebook is a table with one row per code (see :data:`CODEBOOK_COLUMNS`):

============  ============================================================================
column        meaning
============  ============================================================================
id            short identifier used in ``segments.csv`` (unique)
name          the code's name as researchers read it
parent        ``id`` of the parent code, missing (NaN) for a top-level code
definition    what the code means
inclusion     when to apply it
exclusion     when not to apply it
example       a typical quote
keywords      list of words that often signal the code (list of str, may be empty)
sensitive     True when quotes under this code may distress readers (bool)
colour        display colour ``#RRGGBB``, missing when not given
============  ============================================================================

REFI-QDA ``.qdc`` mapping
-------------------------
QDA-XML codes carry only ``guid``, ``name``, ``isCodable``, ``color``, a ``Description`` and
nested child codes (REFI-QDA 1.0). Nesting becomes ``parent``; the ``Description`` becomes
``definition``. The fields QDA-XML has no place for (id, inclusion, exclusion, example,
keywords, sensitive) are written as labelled lines at the end of the description, after a
blank line::

    Feeling listened to and taken seriously.

    Id: valued
    Inclusion: the participant says someone listened ...
    Keywords: listened; valued
    Sensitive: no

so that other programs show them as readable text and :func:`read_qdc` restores them. Only a
trailing block made entirely of such labelled lines is read back; anything else stays in the
definition. A code without an ``Id:`` line (a codebook written by another program) gets an id
made from its name (lower case, non-alphanumerics to ``_``; ``_2``, ``_3`` ... when two codes
would share an id, in document order).

GUIDs are deterministic: ``uuid5(SPANALYSIS_NAMESPACE, "code:" + id)``, so writing the same
codebook twice gives byte-identical files and other programs keep their links between
versions.
"""
from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pandas as pd
import yaml

from spanalysis.errors import InputError, Issue, ValidationError
from spanalysis.io import atomic_write, load_yaml

__all__ = ["CODEBOOK_COLUMNS", "read_codebook", "validate_codebook", "write_codebook",
           "read_qdc", "write_qdc", "code_guid", "SPANALYSIS_NAMESPACE"]

CODEBOOK_COLUMNS = ["id", "name", "parent", "definition", "inclusion", "exclusion", "example",
                    "keywords", "sensitive", "colour"]
_TEXT_FIELDS = ["definition", "inclusion", "exclusion", "example"]
_ALLOWED_KEYS = set(CODEBOOK_COLUMNS)
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")

#: Namespace for the deterministic GUIDs spanalysis writes into REFI-QDA files
#: (``uuid5(NAMESPACE_URL, "urn:spanalysis:refi-qda")``).
SPANALYSIS_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:spanalysis:refi-qda")

CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: Namespaces accepted on import (REFI-QDA README: variants seen in real files).
CODEBOOK_NAMESPACES = ("urn:QDA-XML:codebook:1.0", "urn:QDA-XML:codebook:1:0",
                       "urn:QDA-XML:codebook:0:4")


def code_guid(code_id: str) -> str:
    """Deterministic REFI-QDA GUID of a code: ``uuid5(SPANALYSIS_NAMESPACE, 'code:' + id)``."""
    return str(uuid.uuid5(SPANALYSIS_NAMESPACE, "code:" + str(code_id)))


# --------------------------------------------------------------------------- YAML


def read_codebook(path: str | os.PathLike, *, label: str | None = None) -> pd.DataFrame:
    """Read and validate a study's ``codebook.yaml``.

    Parameters
    ----------
    path : str or path-like
        The YAML file: a mapping with one key ``codes`` holding a list of codes, each a
        mapping with the keys in :data:`CODEBOOK_COLUMNS` (``id`` and ``name`` required).
    label : str, optional
        How the file is named in messages (default: the file name).

    Returns
    -------
    pandas.DataFrame
        One row per code, columns :data:`CODEBOOK_COLUMNS` (see the module docstring), in
        file order.

    Raises
    ------
    InputError
        The file is missing or is not YAML of the expected shape.
    ValidationError
        One issue per problem: unknown keys, missing id or name, duplicate ids, unknown
        parents, cycles in the hierarchy, bad colours, wrong types. Each names the file, the
        code's position (``code 3``), its id, the YAML line and the field.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "codebook.yaml").write_text(
    ...     "codes:\\n"
    ...     "  - {id: hope, name: Offering hope, colour: '#1f77b4'}\\n"
    ...     "  - {id: hope_future, name: Looking forward, parent: hope}\\n")
    >>> read_codebook(folder / "codebook.yaml")[["id", "name", "parent"]]
                id             name parent
    0         hope    Offering hope    NaN
    1  hope_future  Looking forward   hope
    """
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path),
                         expected="an existing codebook.yaml")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"line {line} is not valid UTF-8", file=label,
                         value=raw[exc.start:exc.start + 1],
                         expected="a UTF-8 YAML file") from None
    try:
        data = load_yaml(text)   # aliases and repeated keys refused
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # only for line numbers
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"not valid YAML{where}: {problem}", file=label,
                         expected="a YAML mapping with a 'codes:' list") from None
    if not isinstance(data, dict) or "codes" not in data:
        raise InputError("the codebook must be a mapping with a 'codes:' list", file=label,
                         value=type(data).__name__, expected="codes: [...]")
    extra = sorted(set(map(str, data)) - {"codes"})
    if extra:
        raise InputError("unknown top-level key", file=label, column=extra[0], value=extra[0],
                         expected="only 'codes'")
    codes = data["codes"]
    if not isinstance(codes, list) or not codes:
        raise InputError("'codes' must be a non-empty list", file=label, column="codes",
                         value=type(codes).__name__, expected="a list of codes")
    lines = _code_lines(node)
    issues: list[Issue] = []
    records = []
    for pos, entry in enumerate(codes, start=1):
        where = f"code {pos}" + (f" (line {lines[pos - 1]})" if pos - 1 < len(lines) else "")
        if not isinstance(entry, dict):
            issues.append(Issue("error", f"{where} is not a mapping", file=label,
                                value=entry, expected="a mapping such as {id: ..., name: ...}"))
            continue
        records.append((pos, where, entry))
    if issues:
        raise ValidationError(issues)
    for pos, where, entry in records:
        for key in entry:
            if str(key) not in _ALLOWED_KEYS:
                issues.append(Issue("error", f"{where}, id {entry.get('id')!r}: unknown key",
                                    file=label, column=str(key), value=str(key),
                                    expected="one of " + ", ".join(CODEBOOK_COLUMNS)))
    frame = _frame_from_records([e for _, _, e in records], label, [w for _, w, _ in records],
                                issues)
    validate_codebook(frame, label=label, positions=[w for _, w, _ in records], issues=issues)
    return frame


def _code_lines(node) -> list[int]:
    """1-based YAML line of each entry of the ``codes`` list (for messages)."""
    try:
        for key, value in node.value:
            if key.value == "codes":
                return [item.start_mark.line + 1 for item in value.value]
    except (AttributeError, TypeError):
        pass
    return []


def _frame_from_records(entries: list[dict], label: str, positions: list[str],
                        issues: list[Issue]) -> pd.DataFrame:
    rows = []
    for where, entry in zip(positions, entries):
        row: dict[str, Any] = {}
        code_id = entry.get("id")
        who = f"{where}, id {code_id!r}"
        for key in ("id", "name", "parent", *_TEXT_FIELDS, "colour"):
            value = entry.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                row[key] = None
            elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                row[key] = str(value).strip() if key in ("id", "parent", "colour") else str(value)
            else:
                issues.append(Issue("error", f"{who}: must be text", file=label, column=key,
                                    value=value, expected="text"))
                row[key] = None
        keywords = entry.get("keywords")
        if keywords is None:
            row["keywords"] = []
        elif isinstance(keywords, str):
            row["keywords"] = [k.strip() for k in keywords.split(";") if k.strip()]
        elif isinstance(keywords, list) and all(isinstance(k, (str, int, float)) and
                                                not isinstance(k, bool) for k in keywords):
            row["keywords"] = [str(k).strip() for k in keywords if str(k).strip()]
        else:
            issues.append(Issue("error", f"{who}: keywords must be a list of words",
                                file=label, column="keywords", value=keywords,
                                expected="a list such as [hope, future]"))
            row["keywords"] = []
        sensitive = entry.get("sensitive", False)
        if sensitive is None:
            sensitive = False
        if not isinstance(sensitive, bool):
            issues.append(Issue("error", f"{who}: sensitive must be true or false", file=label,
                                column="sensitive", value=sensitive, expected="true or false"))
            sensitive = False
        row["sensitive"] = sensitive
        rows.append(row)
    return _as_codebook_frame(rows)


def _as_codebook_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)
    for col in ("id", "name", "parent", *_TEXT_FIELDS, "colour"):
        frame[col] = frame[col].astype("str")  # pandas' text dtype; missing stays NaN
    for col in _TEXT_FIELDS:  # free text: missing is simply empty
        frame[col] = frame[col].fillna("")
    frame["keywords"] = frame["keywords"].astype(object)
    frame["sensitive"] = frame["sensitive"].astype(bool)
    return frame


def validate_codebook(frame: pd.DataFrame, *, label: str = "codebook",
                      positions: list[str] | None = None,
                      issues: list[Issue] | None = None) -> None:
    """Check a codebook table; raise :class:`ValidationError` listing every problem.

    Checks: every column of :data:`CODEBOOK_COLUMNS` present; ``id`` and ``name`` given;
    ids unique and made of letters, digits, ``_ . -``; each ``parent`` is an id in the
    codebook; the hierarchy has no cycles; colours are ``#RRGGBB``.
    """
    issues = [] if issues is None else issues
    missing = [c for c in CODEBOOK_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError("the codebook table lacks a column", file=label, column=missing[0],
                         expected="columns " + ", ".join(CODEBOOK_COLUMNS))
    if positions is None:
        positions = [f"code {i}" for i in range(1, len(frame) + 1)]
    ids = frame["id"]
    who = [f"{p}, id {i!r}" if isinstance(i, str) else p for p, i in zip(positions, ids)]

    def err(mask, column, message, expected):
        for k in mask.to_numpy().nonzero()[0]:
            issues.append(Issue("error", f"{who[k]}: {message}", file=label, column=column,
                                value=frame[column].iloc[k], expected=expected))

    no_id = ids.isna()
    err(no_id, "id", "the code has no id", "a short identifier such as 'hope'")
    bad_id = ~no_id & ~ids.fillna("").str.fullmatch(_ID.pattern)
    err(bad_id, "id", "the id has characters other than letters, digits, _ . -",
        "an identifier such as 'feeling_valued'")
    err(frame["name"].isna(), "name", "the code has no name", "a name")
    dup = ids.notna() & ids.duplicated(keep="first")
    err(dup, "id", "this id is used by an earlier code", "a unique id")
    known = set(ids.dropna())
    parent = frame["parent"]
    err(parent.notna() & ~parent.isin(known), "parent", "the parent is not a code in the codebook",
        "the id of another code, or nothing for a top-level code")
    err(parent.notna() & (parent == ids), "parent", "a code cannot be its own parent",
        "the id of another code")
    colour = frame["colour"]
    err(colour.notna() & ~colour.fillna("").str.fullmatch(_COLOUR.pattern), "colour",
        "the colour is not a #RRGGBB hex colour", "e.g. '#1f77b4'")
    issues.extend(_cycle_issues(frame, label, who))
    if any(i.level == "error" for i in issues):
        raise ValidationError(issues)


def _cycle_issues(frame: pd.DataFrame, label: str, who: list[str]) -> list[Issue]:
    """Codes whose chain of parents returns to itself (a -> b -> a)."""
    parent = dict(zip(frame["id"], frame["parent"]))
    out, reported = [], set()
    for k, start in enumerate(frame["id"]):
        if not isinstance(start, str) or start in reported:
            continue
        seen, node = [], start
        while isinstance(node, str) and node in parent and node not in seen:
            seen.append(node)
            node = parent[node]
        if node == start and len(seen) > 1:
            cycle = seen + [start]
            reported.update(seen)
            out.append(Issue("error", f"{who[k]}: the parents form a cycle", file=label,
                             column="parent", value=" -> ".join(cycle),
                             expected="a tree: following parents must reach a top-level code"))
    return out


def write_codebook(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a codebook table as ``codebook.yaml`` (atomically), readable by :func:`read_codebook`.

    Empty fields are left out; the table is validated first.
    """
    validate_codebook(frame, label=str(path))
    codes = []
    for row in frame[CODEBOOK_COLUMNS].to_dict("records"):
        entry: dict[str, Any] = {"id": row["id"], "name": row["name"]}
        if _present(row["parent"]):
            entry["parent"] = row["parent"]
        for key in _TEXT_FIELDS:
            if _present(row[key]):
                entry[key] = row[key]
        if row["keywords"] is not None and len(row["keywords"]):
            entry["keywords"] = [str(k) for k in row["keywords"]]
        entry["sensitive"] = bool(row["sensitive"])
        if _present(row["colour"]):
            entry["colour"] = row["colour"]
        codes.append(entry)
    path = Path(path)
    with atomic_write(path) as handle:
        yaml.safe_dump({"codes": codes}, handle, sort_keys=False, allow_unicode=True,
                       width=100)
    return path


def _present(value) -> bool:
    return isinstance(value, str) and value != ""


# --------------------------------------------------------------------------- descriptions

_LABELS = {"Id": "id", "Inclusion": "inclusion", "Exclusion": "exclusion", "Example": "example",
           "Keywords": "keywords", "Sensitive": "sensitive"}
_LABEL_LINE = re.compile(r"^(Id|Inclusion|Exclusion|Example|Keywords|Sensitive): ?(.*)$")


def describe_code(row: dict) -> str:
    """QDA-XML ``Description`` text for a codebook row (see the module docstring)."""
    lines = [f"Id: {row['id']}"]
    for label, key in _LABELS.items():
        if key in ("id", "keywords", "sensitive"):
            continue
        value = row.get(key)
        if _present(value):
            # continuation lines are indented so that they cannot look like a label
            lines.append(f"{label}: " + value.replace("\n", "\n  "))
    keywords = row.get("keywords")
    if keywords is not None and len(keywords):
        lines.append("Keywords: " + "; ".join(str(k) for k in keywords))
    lines.append("Sensitive: " + ("yes" if bool(row.get("sensitive")) else "no"))
    definition = row.get("definition") or ""
    block = "\n".join(lines)
    return f"{definition}\n\n{block}" if definition else block


def parse_description(text: str | None) -> dict:
    """Split a QDA-XML ``Description`` into definition and the labelled fields.

    Returns a dict with ``definition`` and whichever of id, inclusion, exclusion, example,
    keywords (list), sensitive (bool) the trailing labelled block gives.
    """
    text = (text or "").replace("\r\n", "\n")
    # the earliest paragraph break after which every line is a labelled (or continuation) line
    starts = [0] + [m.end() for m in re.finditer(r"\n\n", text)]
    for start in starts:
        parsed = _parse_block(text[start:])
        if parsed is not None:
            parsed["definition"] = text[:start].rstrip("\n") if start else ""
            return parsed
    return {"definition": text}


def _parse_block(block: str) -> dict | None:
    lines = block.split("\n")
    if not lines or not _LABEL_LINE.match(lines[0]):
        return None
    out: dict[str, Any] = {}
    current = None
    if lines[-1] == "":  # a trailing newline
        lines = lines[:-1]
    for line in lines:
        m = _LABEL_LINE.match(line)
        if m:
            current = _LABELS[m.group(1)]
            if current in out:
                return None
            out[current] = m.group(2)
        elif line.startswith("  ") and current is not None:
            out[current] += "\n" + line[2:]
        else:
            return None
    if "keywords" in out:
        out["keywords"] = [k.strip() for k in out["keywords"].split(";") if k.strip()]
    if "sensitive" in out:
        out["sensitive"] = out["sensitive"].strip().lower() in ("yes", "true", "1")
    return out


def slug(name: str) -> str:
    """Identifier made from a code name: lower case, runs of other characters to ``_``."""
    s = re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")
    return s or "code"


def unique_ids(ids: list[str]) -> list[str]:
    """Make ids unique in order: the second 'x' becomes 'x_2', the third 'x_3'."""
    seen: dict[str, int] = {}
    used = set(ids)
    out = []
    for i in ids:
        if i not in seen:
            seen[i] = 1
            out.append(i)
            continue
        n = seen[i]
        while True:
            n += 1
            candidate = f"{i}_{n}"
            if candidate not in used:
                break
        seen[i] = n
        used.add(candidate)
        out.append(candidate)
    return out


# --------------------------------------------------------------------------- QDA-XML codes


def codes_from_xml(codes_element, ns: str, label: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Codebook table from a QDA-XML ``<Codes>`` element (nested codes -> parent).

    Returns the table and a mapping GUID -> code id. Shared by ``.qdc`` and ``.qdpx`` import.
    """
    rows: list[dict] = []
    guids: list[str] = []
    parents: list[int | None] = []
    # iterative depth-first walk in document order (no recursion limit on deep trees)
    stack = [(child, None) for child in reversed(list(codes_element.findall(f"{{{ns}}}Code")))]
    while stack:
        element, parent_index = stack.pop()
        guid = element.get("guid")
        name = element.get("name")
        if not guid or name is None:
            raise InputError("a Code lacks its guid or name attribute", file=label,
                             column="Code", value=name or guid, expected="guid and name")
        description = element.findtext(f"{{{ns}}}Description")
        fields = parse_description(description)
        colour = element.get("color")
        if colour and re.fullmatch(r"#[0-9A-Fa-f]{3}", colour):  # #abc -> #aabbcc
            colour = "#" + "".join(c * 2 for c in colour[1:])
        rows.append({"id": fields.get("id"), "name": name, "parent": None,
                     "definition": fields.get("definition", ""),
                     "inclusion": fields.get("inclusion", ""),
                     "exclusion": fields.get("exclusion", ""),
                     "example": fields.get("example", ""),
                     "keywords": fields.get("keywords", []),
                     "sensitive": fields.get("sensitive", False),
                     "colour": colour or None})
        guids.append(guid)
        parents.append(parent_index)
        index = len(rows) - 1
        for child in reversed(list(element.findall(f"{{{ns}}}Code"))):
            stack.append((child, index))
    given = [r["id"] for r in rows]
    ids = unique_ids([g if g else slug(r["name"]) for g, r in zip(given, rows)])
    for row, code_id, parent_index in zip(rows, ids, parents):
        row["id"] = code_id
        row["parent"] = None if parent_index is None else ids[parent_index]
    if len(set(guids)) != len(guids):
        dup = next(g for g in guids if guids.count(g) > 1)
        raise InputError("two codes share one GUID", file=label, column="Code@guid", value=dup,
                         expected="a unique guid per code")
    frame = _as_codebook_frame(rows)
    return frame, dict(zip(guids, ids))


def codes_to_xml(frame: pd.DataFrame, parent_element, ns: str) -> dict[str, str]:
    """Append ``<Codes>`` with nested ``<Code>`` elements; return code id -> GUID."""
    codes = ET.SubElement(parent_element, f"{{{ns}}}Codes")
    records = frame[CODEBOOK_COLUMNS].to_dict("records")
    children: dict[str | None, list[dict]] = {}
    for row in records:
        key = row["parent"] if _present(row["parent"]) else None
        children.setdefault(key, []).append(row)
    guid_of = {row["id"]: code_guid(row["id"]) for row in records}
    stack = [(row, codes) for row in reversed(children.get(None, []))]
    while stack:
        row, holder = stack.pop()
        attrs = {"guid": guid_of[row["id"]], "name": row["name"], "isCodable": "true"}
        if _present(row["colour"]):
            attrs["color"] = row["colour"]
        element = ET.SubElement(holder, f"{{{ns}}}Code", attrs)
        ET.SubElement(element, f"{{{ns}}}Description").text = describe_code(row)
        for child in reversed(children.get(row["id"], [])):
            stack.append((child, element))
    return guid_of


def read_qdc(path: str | os.PathLike, *, label: str | None = None) -> pd.DataFrame:
    """Read a REFI-QDA codebook (``.qdc``).

    Parameters
    ----------
    path : str or path-like
        A QDA-XML codebook. Namespaces ``urn:QDA-XML:codebook:1.0`` and the variants
        ``urn:QDA-XML:codebook:1:0`` and ``urn:QDA-XML:codebook:0:4`` are accepted; an empty
        ``<Sets/>`` is accepted and ignored. The XML is parsed without entity expansion or
        external entities (defusedxml).
    label : str, optional
        How the file is named in messages.

    Returns
    -------
    pandas.DataFrame
        Codebook table (columns :data:`CODEBOOK_COLUMNS`); nesting becomes ``parent``,
        ``Description`` becomes ``definition`` (see the module docstring for the labelled
        fields and how ids are made).

    References
    ----------
    REFI-QDA Standard, QDA-XML 1.0 (18 March 2019), https://www.qdasoftware.org.
    """
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path), expected="a .qdc file")
    root = parse_xml(path.read_bytes(), label)
    ns = _namespace(root.tag)
    if _local(root.tag) != "CodeBook" or ns not in CODEBOOK_NAMESPACES:
        raise InputError("not a REFI-QDA codebook", file=label, value=root.tag,
                         expected="a <CodeBook> element in namespace " + CODEBOOK_NS)
    codes = root.find(f"{{{ns}}}Codes")
    if codes is None:
        raise InputError("the codebook has no <Codes> element", file=label,
                         expected="<CodeBook><Codes>...</Codes></CodeBook>")
    frame, _ = codes_from_xml(codes, ns, label)
    validate_codebook(frame, label=label)
    return frame


def write_qdc(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a codebook table as a REFI-QDA ``.qdc`` file (atomically).

    Namespace ``urn:QDA-XML:codebook:1.0``; GUIDs from :func:`code_guid`; no ``<Sets>``
    element is written (an empty one is invalid under the schema).
    """
    validate_codebook(frame, label=str(path))
    ET.register_namespace("", CODEBOOK_NS)
    root = ET.Element(f"{{{CODEBOOK_NS}}}CodeBook", {"origin": "spanalysis"})
    codes_to_xml(frame, root, CODEBOOK_NS)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    path = Path(path)
    with atomic_write(path, mode="wb") as handle:
        handle.write(data)
    return path


# --------------------------------------------------------------------------- XML helpers


def parse_xml(data: bytes, label: str):
    """Parse untrusted XML: no entity expansion, no external entities or DTD fetching."""
    import defusedxml
    import defusedxml.ElementTree as DET

    try:
        return DET.fromstring(data, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise InputError(f"refused unsafe XML ({type(exc).__name__}: entity declarations and "
                         "external references are not allowed)", file=label,
                         value=str(exc)[:80], expected="plain QDA-XML without entities") from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise InputError(f"not well-formed XML (line {line}, column {column})", file=label,
                         value=str(exc)[:80], expected="a QDA-XML document") from None


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
