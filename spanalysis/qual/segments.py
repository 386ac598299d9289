"""Qualitative sources (``sources.csv`` + text files) and coded segments (``segments.csv``).

Positions
---------
A segment's ``start`` and ``end`` count Unicode characters (code points) from 0 in the source
text, ``end`` exclusive, exactly as REFI-QDA's ``startPosition``/``endPosition``. So
``text[start:end]`` in Python is the coded passage.

The source text is the file's content decoded as UTF-8 with these decisions:

* a UTF-8 byte order mark is dropped (it is an encoding signature, not text; REFI-QDA says
  the BOM is not part of the text that positions count);
* line ends are kept **as stored**: a Windows ``CRLF`` counts as two characters. Positions
  written by a program that read the file as stored therefore stay right, and a file is
  never silently changed. (Converting CRLF to LF would shift every position after the first
  line end by one per line.)
* no Unicode normalisation is applied (it could change the number of characters).

A blank ``text`` cell in ``segments.csv`` is filled from the source; a non-blank one must
equal ``source_text[start:end]`` exactly, which catches offsets counted a different way
(bytes, UTF-16 units, CRLF as one character) before any analysis uses them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from spanalysis.errors import InputError, Issue, ValidationError
from spanalysis.io import read_table
from spanalysis.privacy.identifiers import looks_like_nhs_number

__all__ = ["SOURCE_COLUMNS", "SEGMENT_COLUMNS", "SOURCE_TYPES", "read_sources",
           "read_segments", "decode_text"]

SOURCE_COLUMNS = ["source_id", "source_name", "source_type", "participant_id", "site", "date",
                  "path"]
SEGMENT_COLUMNS = ["segment_id", "source_id", "coder", "code_id", "start", "end", "text"]
SOURCE_TYPES = ("interview", "observation", "document")
#: columns ``sources.csv`` may leave out: a single-site study needs no site, a source may
#: name no participant (an observation, or an interview not linked), a date may be unknown
OPTIONAL_SOURCE_COLUMNS = ("participant_id", "site", "date", "source_name")
_BOM = "\ufeff"


def decode_text(data: bytes, label: str) -> str:
    """Decode a source file: UTF-8, byte order mark dropped, line ends kept as stored."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"line {line} of the text is not valid UTF-8", file=label,
                         value=data[exc.start:exc.start + 4],
                         expected="a text file saved as UTF-8") from None
    return text[1:] if text.startswith(_BOM) else text


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype("str").str.strip() == "")


def _require_columns(frame: pd.DataFrame, required: list[str], label: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError("a required column is missing", file=label, row=1, column=missing[0],
                         expected="columns " + ", ".join(required))


def _issues(mask: pd.Series, frame: pd.DataFrame, column: str, label: str, message: str,
            expected: str, values=None) -> list[Issue]:
    rows = np.flatnonzero(mask.to_numpy(dtype=bool))
    shown = frame[column] if values is None else values
    return [Issue("error", message, file=label, row=int(i) + 2, column=column,
                  value=None if pd.isna(shown.iloc[i]) else shown.iloc[i], expected=expected)
            for i in rows]


def _parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO ``YYYY-MM-DD`` or ``DD/MM/YYYY``; returns (dates, bad mask). Blank is allowed."""
    text = values.astype("str").str.strip()
    blank = _blank(values)
    iso = pd.to_datetime(text.where(text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)),
                         format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(text.where(text.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").fillna(False)),
                        format="%d/%m/%Y", errors="coerce")
    dates = iso.fillna(uk)
    return dates, ~blank & dates.isna()


def read_sources(path: str | os.PathLike, *, label: str | None = None) -> pd.DataFrame:
    """Read ``sources.csv`` and the text of every source.

    Parameters
    ----------
    path : str or path-like
        The sources table (CSV, XLSX, SPSS or Parquet): columns ``source_id, source_name,
        source_type, participant_id, site, date, path`` (``source_name``,
        ``participant_id``, ``site`` and ``date`` may be left out: blank). ``path`` names a UTF-8 ``.txt``
        file relative to the table's folder.
    label : str, optional
        How the file is named in messages (default: the file name).

    Returns
    -------
    pandas.DataFrame
        One row per source, in file order: the columns above (``date`` as datetime64,
        blank cells missing) plus ``text``, the source text with a byte order mark removed
        and line ends kept as stored (see the module docstring).

    Raises
    ------
    InputError, ValidationError
        Missing columns; blank or duplicate ``source_id``; ``source_type`` not one of
        interview, observation, document; a ``participant_id`` that is a valid NHS number;
        an unparseable date; a text file missing or not UTF-8. Each names the file, the
        spreadsheet row (header = row 1) and the column.
    """
    path = Path(path)
    label = label or path.name
    read = read_table(path, label=label, text_columns=SOURCE_COLUMNS)
    frame = read.frame
    _require_columns(frame, [c for c in SOURCE_COLUMNS if c not in OPTIONAL_SOURCE_COLUMNS],
                     label)
    frame = frame.reindex(columns=SOURCE_COLUMNS).copy()  # optional columns left out: blank
    for col in SOURCE_COLUMNS:
        frame[col] = frame[col].astype("str").str.strip()
        frame[col] = frame[col].where(frame[col] != "")
    issues: list[Issue] = []
    for col in ("source_id", "source_type", "path"):
        issues += _issues(frame[col].isna(), frame, col, label, "this cell is blank",
                          "a value")
    issues += _issues(frame["source_id"].notna() & frame["source_id"].duplicated(), frame,
                      "source_id", label, "this source_id is used by an earlier row",
                      "a unique source_id")
    stype = frame["source_type"].str.lower()
    issues += _issues(stype.notna() & ~stype.isin(SOURCE_TYPES), frame, "source_type", label,
                      "unknown source type", " or ".join(SOURCE_TYPES))
    frame["source_type"] = stype
    issues += _issues(looks_like_nhs_number(frame["participant_id"]), frame, "participant_id",
                      label, "this participant_id is a valid NHS number, not a pseudonym",
                      "a pseudonymous identifier")
    dates, bad = _parse_dates(frame["date"])
    issues += _issues(bad, frame, "date", label, "not a date", "YYYY-MM-DD or DD/MM/YYYY")
    frame["source_name"] = frame["source_name"].fillna(frame["source_id"])
    texts: list[str | None] = []
    folder = path.parent
    for i, rel in enumerate(frame["path"]):  # one file read per source: I/O, not arithmetic
        if not isinstance(rel, str):
            texts.append(None)
            continue
        file = (folder / rel).resolve()   # symbolic links followed
        if not file.is_relative_to(folder.resolve()):
            issues.append(Issue("error", "the source's text file is outside the folder of "
                                "sources.csv (its text could end up in published quotes)",
                                file=label, row=i + 2, column="path", value=rel,
                                expected=f"a .txt file inside {folder.name or '.'}/"))
            texts.append(None)
            continue
        if not file.is_file():
            issues.append(Issue("error", "the source's text file does not exist", file=label,
                                row=i + 2, column="path", value=rel,
                                expected=f"a .txt file relative to {folder.name or '.'}/"))
            texts.append(None)
            continue
        try:
            texts.append(decode_text(file.read_bytes(), f"{label} -> {rel}"))
        except InputError as exc:
            issues.append(Issue("error", exc.issue.message, file=label, row=i + 2,
                                column="path", value=rel, expected=exc.issue.expected))
            texts.append(None)
    if any(i.level == "error" for i in issues):
        raise ValidationError(issues + read.issues)
    frame["date"] = dates
    frame["text"] = pd.Series(texts, index=frame.index, dtype="str")
    return frame


def _trim(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_segments(path: str | os.PathLike, sources: pd.DataFrame, codebook: pd.DataFrame,
                  *, label: str | None = None) -> pd.DataFrame:
    """Read and check ``segments.csv`` against the sources and the codebook.

    Parameters
    ----------
    path : str or path-like
        Table with columns ``segment_id, source_id, coder, code_id, start, end, text``.
    sources : pandas.DataFrame
        As returned by :func:`read_sources` (``source_id`` and ``text`` are used).
    codebook : pandas.DataFrame
        As returned by :func:`~spanalysis.qual.codebook.read_codebook` (``id`` is used).
    label : str, optional
        How the file is named in messages.

    Returns
    -------
    pandas.DataFrame
        One row per coded segment, columns :data:`SEGMENT_COLUMNS`; ``start`` and ``end``
        are int64 character offsets (``end`` exclusive); a blank ``text`` is filled with
        ``source_text[start:end]``.

    Raises
    ------
    InputError, ValidationError
        Every problem found, each naming the file, spreadsheet row and column: blank or
        duplicate ``segment_id``; unknown ``source_id``; blank ``coder``; ``code_id`` not in
        the codebook; offsets not whole numbers; not ``0 <= start < end <= len(text)``;
        ``text`` different from the source's slice (both shown, trimmed).
    """
    path = Path(path)
    label = label or path.name
    read = read_table(path, label=label, text_columns=SEGMENT_COLUMNS)
    frame = read.frame
    required = [c for c in SEGMENT_COLUMNS if c != "text"]
    _require_columns(frame, required, label)
    if "text" not in frame.columns:
        frame["text"] = None
    frame = frame[SEGMENT_COLUMNS].copy()
    if frame.empty:   # a header and no rows: sources without coding, which is allowed
        return _no_segments(frame)
    for col in required:
        frame[col] = frame[col].astype("str").str.strip()
        frame[col] = frame[col].where(frame[col] != "")
    frame["text"] = frame["text"].astype("str")
    issues: list[Issue] = []
    for col in ("segment_id", "source_id", "coder", "code_id", "start", "end"):
        issues += _issues(frame[col].isna(), frame, col, label, "this cell is blank",
                          "a value")
    issues += _issues(frame["segment_id"].notna() & frame["segment_id"].duplicated(), frame,
                      "segment_id", label, "this segment_id is used by an earlier row",
                      "a unique segment_id")
    text_of = pd.Series(sources["text"].to_numpy(), index=sources["source_id"].astype("str"))
    known_source = frame["source_id"].isin(text_of.index)
    issues += _issues(frame["source_id"].notna() & ~known_source, frame, "source_id", label,
                      "unknown source", "a source_id listed in sources.csv")
    issues += _issues(frame["code_id"].notna() & ~frame["code_id"].isin(set(codebook["id"])),
                      frame, "code_id", label, "this code is not in the codebook",
                      "the id of a code in codebook.yaml")
    offsets = {}
    for col in ("start", "end"):
        whole = frame[col].str.fullmatch(r"[+-]?\d+").fillna(False).astype(bool)
        issues += _issues(frame[col].notna() & ~whole, frame, col, label,
                          "not a whole number", "a character offset such as 120")
        offsets[col] = pd.to_numeric(frame[col].where(whole), errors="coerce")
    start, end = offsets["start"], offsets["end"]
    length = frame["source_id"].map(text_of.str.len()).where(known_source)
    have = start.notna() & end.notna() & length.notna()
    issues += _issues(have & (start < 0), frame, "start", label, "the offset is negative",
                      "0 or more (offsets count characters from 0)")
    issues += _issues(have & (start >= 0) & (end <= start), frame, "end", label,
                      "the end is not after the start", "end > start (end is exclusive)")
    too_long = have & (end > start) & (end > length)
    issues += _issues(too_long, frame, "end", label, "the end is beyond the source text",
                      "at most the text's length in characters",
                      values=end.astype("Int64").astype("str") + " > length "
                      + length.astype("Int64").astype("str"))
    ok = have & (start >= 0) & (end > start) & (end <= length)
    sliced = pd.Series(pd.NA, index=frame.index, dtype="str")
    if ok.any():
        idx = np.flatnonzero(ok.to_numpy())
        src = frame["source_id"].to_numpy()[idx]
        a = start.to_numpy()[idx].astype(np.int64)
        b = end.to_numpy()[idx].astype(np.int64)
        texts = text_of.reindex(src).to_numpy()
        # string slicing has no vectorised form in pandas (slice bounds differ per row)
        sliced.iloc[idx] = [t[i:j] for t, i, j in zip(texts, a, b)]
    given = frame["text"]
    mismatch = ok & given.notna() & (given != sliced)
    for k in np.flatnonzero(mismatch.to_numpy()):
        issues.append(Issue(
            "error", "the text differs from the source at these offsets", file=label,
            row=int(k) + 2, column="text", value=_trim(given.iloc[k]),
            expected=f"{_trim(sliced.iloc[k])!r} (source[{int(start.iloc[k])}:"
                     f"{int(end.iloc[k])}]; offsets count Unicode characters, CRLF as 2)"))
    if any(i.level == "error" for i in issues):
        raise ValidationError(issues + read.issues)
    frame["start"] = start.astype(np.int64)
    frame["end"] = end.astype(np.int64)
    frame["text"] = given.where(given.notna(), sliced)
    return frame


def _no_segments(frame: pd.DataFrame) -> pd.DataFrame:
    """The segment table with no rows, in the types a read table has (offsets int64)."""
    out = frame.astype({c: "str" for c in SEGMENT_COLUMNS})
    return out.astype({"start": np.int64, "end": np.int64})
