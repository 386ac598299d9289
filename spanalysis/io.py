"""Reading study tables (CSV, XLSX, SPSS .sav, Parquet) and writing outputs safely.

Reading never modifies the file. CSV text encodings are *detected*, never guessed silently:

1. a UTF-8 byte order mark means UTF-8 (the mark is dropped);
2. otherwise text that decodes as UTF-8 is UTF-8 (pure ASCII is a special case);
3. otherwise the text is decoded as Windows-1252, the encoding Excel's "CSV" uses on
   English-language Windows, and a warning says so;
4. bytes that are valid in neither (0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in
   Windows-1252) are an error naming the line.

Rows are numbered as a spreadsheet shows them: the header is row 1 and the first data row
is row 2. Blank lines in a CSV are skipped (as spreadsheets re-saving the file would drop
them), so a file with blank lines between records numbers its rows from the records.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd
import yaml

from spanalysis.errors import InputError, Issue, SpanalysisError

__all__ = ["TableRead", "read_table", "detect_encoding", "atomic_write", "WriteError",
           "write_table", "SUPPORTED_EXTENSIONS", "neutralise_formulas", "StrictYamlLoader",
           "load_yaml"]

SUPPORTED_EXTENSIONS = (".csv", ".xlsx", ".sav", ".parquet")
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class TableRead:
    """A table read from a file, with what the reader noticed.

    ``frame`` has one row per data row, in file order; ``frame.index`` is 0-based and the
    spreadsheet row of index ``i`` is ``i + 2``. ``encoding`` is set for CSV files.
    ``header_rows`` is 3 for a Qualtrics CSV with its question-text and ImportId rows (left
    out of ``frame``, whose index then starts at 2, so row numbers stay the file's own).
    """

    frame: pd.DataFrame
    path: Path
    label: str
    encoding: str | None = None
    issues: list[Issue] = field(default_factory=list)
    header_rows: int = 1

    def row(self, index: int) -> int:
        """Spreadsheet row number (header = 1) of the 0-based data row ``index``."""
        return int(index) + 2


def detect_encoding(data: bytes, label: str) -> tuple[str, str, list[Issue]]:
    """Decode CSV bytes following the rules in the module docstring.

    Returns ``(text, encoding_name, issues)``; ``text`` is ``None`` when the bytes are
    already valid UTF-8 without a byte order mark (nothing to convert). Raises
    :class:`InputError` if the bytes are neither UTF-8 nor Windows-1252.
    """
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM):]
        try:
            return data.decode("utf-8"), "utf-8-sig", []
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise InputError("the file starts with a UTF-8 byte order mark but is not valid UTF-8",
                             file=label, row=line, value=data[exc.start:exc.start + 1],
                             expected="UTF-8 text throughout") from None
    if data.isascii():
        return None, "utf-8", []
    try:
        data.decode("utf-8")
        return None, "utf-8", []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            "the file is neither UTF-8 nor Windows-1252 text",
            file=label, row=line, value=data[exc.start:exc.start + 1],
            expected="a CSV saved as UTF-8 (recommended) or as Excel's Windows CSV") from None
    line = data.count(b"\n", 0, utf8_error.start) + 1
    return text, "cp1252", [Issue(
        "warning", "not valid UTF-8, so the file was read as Windows-1252 (Excel's CSV); "
        "check accented characters and re-save as 'CSV UTF-8' to be sure",
        file=label, row=line, value=data[utf8_error.start:utf8_error.start + 1])]


def read_table(path: str | os.PathLike, *, label: str | None = None,
               text_columns: Iterable[str] = (), keep_codes: Iterable[str] = (),
               sheet: str | int | None = None) -> TableRead:
    """Read one study table, choosing the reader by file extension.

    Parameters
    ----------
    path : path of the file.
    label : how the file is named in messages (default: the file name).
    text_columns : columns that must stay text (identifiers such as ``participant_id``
        keep leading zeros).
    keep_codes : SPSS columns whose value labels must NOT be applied (questionnaire items
        keep their numeric codes); every other labelled column gets its labels.
    sheet : XLSX sheet name or index (default: the first sheet).
    """
    path = Path(path)
    label = label or path.name
    if not path.is_file():
        raise InputError("file not found", file=label, value=str(path),
                         expected="an existing file")
    ext = path.suffix.lower()
    text_columns = list(text_columns)
    if ext == ".csv":
        return _read_csv(path, label, text_columns)
    if ext == ".xlsx":
        return _read_xlsx(path, label, text_columns, sheet)
    if ext == ".sav":
        return _read_sav(path, label, text_columns, set(keep_codes))
    if ext == ".parquet":
        return _read_parquet(path, label, text_columns)
    raise InputError("unsupported file type", file=label, value=path.suffix or "(none)",
                     expected="one of " + ", ".join(SUPPORTED_EXTENSIONS))


def _clean_columns(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    names = [str(c).strip() for c in frame.columns]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise InputError("the header names this column twice", file=label, row=1,
                             column=name, value=name, expected="unique column names")
        seen[name] = i
        if name == "" or name.startswith("Unnamed:"):
            raise InputError("a column has no name in the header", file=label, row=1,
                             value=f"column {i + 1}", expected="a name for every column")
    frame.columns = names
    return frame


#: the most columns a study table may have (a real export has a few hundred at most); a
#: header of a million columns would otherwise take minutes and print a million messages
MAX_COLUMNS = 5_000
#: the most bytes an XLSX workbook may hold once unzipped (a zip bomb or a runaway export
#: would otherwise fill the memory)
MAX_XLSX_UNZIPPED = 1 << 30
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _read_csv(path: Path, label: str, text_columns: list[str]) -> TableRead:
    """Read a CSV file: its encoding detected (UTF-8, UTF-8 with a byte order mark,
    Windows-1252 with a warning, UTF-16 as Excel's "Unicode text" writes it), its header
    checked before pandas sees it (pandas renames a repeated name to ``site.1``), and bytes
    that have no place in text (NUL, a byte order mark inside the file) reported by line."""
    data = path.read_bytes()
    issues: list[Issue] = []
    sep = ","
    if data.startswith(_UTF16_BOMS):
        text = _decode_utf16(data, label)
        data, encoding = text.encode("utf-8"), "utf-16"
        first = text.split("\n", 1)[0]
        sep = "\t" if first.count("\t") > first.count(",") else ","
    else:
        encoding = "utf-8-sig" if data.startswith(_UTF8_BOM) else "utf-8"
        _check_stray_bytes(data, label)
    _check_header(data, label, sep)
    # pandas parses a file by its path almost twice as fast as from memory (BytesIO)
    source = io.BytesIO(data) if encoding == "utf-16" else path
    try:
        frame = _parse_csv(source, path, label, text_columns, sep)
    except UnicodeDecodeError:
        text, encoding, issues = detect_encoding(data, label)
        if text is None:  # pragma: no cover - valid UTF-8 the parser could not decode
            raise InputError("the file could not be decoded", file=label,
                             expected="UTF-8 or Windows-1252 text") from None
        frame = _parse_csv(io.BytesIO(text.encode("utf-8")), path, label, text_columns, sep)
    frame = _clean_columns(frame, label)
    if _qualtrics_header_rows(frame):
        # rows 2 and 3 are Qualtrics' question text and ImportIds: parsed again without them
        # so each column gets its own type, and numbered as the file's rows 4, 5, ...
        again = (io.BytesIO(text.encode("utf-8")) if encoding == "cp1252"
                 else io.BytesIO(data) if encoding == "utf-16" else path)
        frame = _clean_columns(_parse_csv(again, path, label, text_columns, sep,
                                          skiprows=[1, 2]), label)
        frame.index = pd.RangeIndex(2, 2 + len(frame))
        return TableRead(frame, path, label, encoding, issues, header_rows=3)
    return TableRead(frame, path, label, encoding, issues)


def _qualtrics_header_rows(frame: pd.DataFrame) -> bool:
    """Whether the first two data rows are Qualtrics' question text and ImportIds: the second
    row's filled cells are JSON such as ``{"ImportId":"QID1"}``."""
    if len(frame) < 2:
        return False
    second = frame.iloc[1]
    filled = [v for v in second.tolist() if isinstance(v, str) and v.strip()]
    return bool(filled) and len(filled) * 2 >= len(second) and all(
        v.lstrip().startswith('{"ImportId"') for v in filled)


def _decode_utf16(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError as exc:
        raise InputError("the file starts as UTF-16 text but is not valid UTF-16", file=label,
                         value=f"byte {exc.start}", expected="UTF-16 text throughout, or "
                         "save it as 'CSV UTF-8'") from None


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) + 1


def _check_stray_bytes(data: bytes, label: str) -> None:
    """A NUL byte, or a byte order mark after the start, means the file is damaged or two
    files were joined: name the line rather than let the parser blame something else."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError("the file holds a NUL byte (the file may be damaged, or saved as "
                         "UTF-16 without a byte order mark)", file=label,
                         row=_line_of(data, nul), value="byte 0x00",
                         expected="text only; save the file again as 'CSV UTF-8'")
    bom = data.find(_UTF8_BOM, len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0)
    if bom >= 0:
        raise InputError("a byte order mark inside the file (two files joined together?)",
                         file=label, row=_line_of(data, bom), value="bytes EF BB BF",
                         expected="one file: a byte order mark can only come first")


def _check_header(data: bytes, label: str, sep: str) -> None:
    """The header row as written: no name twice, not too many columns."""
    end = data.find(b"\n")
    line = (data if end < 0 else data[:end]).decode("utf-8", errors="replace")
    line = line.lstrip("\ufeff").rstrip("\r")
    try:
        names = next(csv.reader([line], delimiter=sep))
    except (StopIteration, csv.Error):
        return  # an empty file or an odd header: the parser's own errors say so
    if len(names) > MAX_COLUMNS:
        raise InputError("the header has too many columns", file=label, row=1,
                         value=f"{len(names)} columns",
                         expected=f"at most {MAX_COLUMNS} columns")
    seen: set[str] = set()
    for name in (n.strip() for n in names):
        if name and name in seen:
            raise InputError("the header names this column twice", file=label, row=1,
                             column=name, value=name, expected="unique column names")
        seen.add(name)


def _parse_csv(source, path: Path, label: str, text_columns: list[str],
               sep: str = ",", skiprows: list[int] | None = None) -> pd.DataFrame:
    """Parse UTF-8 CSV from ``source`` (a path or a BytesIO of UTF-8 bytes), leaving out the
    file's lines ``skiprows`` (0 = the header)."""
    # pandas' C parser (the same parser as the plain read_csv the benchmark compares
    # against). Columns are inferred; a text column that came out as numbers (identifiers
    # such as 0012) is then re-read as text, which keeps leading zeros. Asking for text up
    # front makes the parser several times slower on large files.
    try:
        with warnings.catch_warnings():
            # A number column with text far down changes type between the parser's pieces;
            # pandas then advises setting dtype. The loader's checks report such cells one by
            # one (file, row, column, value), so the advice would only confuse.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(source, engine="c", encoding="utf-8", sep=sep,
                                skiprows=skiprows)
        raw_names = {str(c).strip(): c for c in frame.columns}
        numeric_text = [raw_names[c] for c in text_columns if c in raw_names
                        and not (pd.api.types.is_string_dtype(frame[raw_names[c]])
                                 or pd.api.types.is_object_dtype(frame[raw_names[c]]))]
        if numeric_text:
            if isinstance(source, io.BytesIO):
                source.seek(0)
            again = pd.read_csv(source, engine="c", encoding="utf-8", sep=sep,
                                usecols=numeric_text, skiprows=skiprows,
                                dtype={c: "str" for c in numeric_text})
            for col in numeric_text:
                frame[col] = again[col]
    except UnicodeDecodeError:  # a ValueError too: left to _read_csv, which detects the encoding
        raise
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", file=label,
                         expected="a header row and data rows") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raw = source.getvalue() if isinstance(source, io.BytesIO) else path.read_bytes()
        raise _csv_structure_error(raw.decode("utf-8"), label, str(exc)) from None
    return frame


def _csv_structure_error(text: str, label: str, message: str) -> InputError:
    """Find the first record whose field count differs from the header's, to name its row."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        return InputError("the file is empty", file=label)
    row = 1
    for record in reader:
        if not record:
            continue
        row += 1
        if len(record) != len(header):
            return InputError("this row has a different number of fields from the header",
                              file=label, row=row, value=f"{len(record)} fields",
                              expected=f"{len(header)} fields, one per header column "
                                       "(check for an unquoted comma)")
    return InputError(f"could not parse the CSV: {message.splitlines()[0]}", file=label)


def _read_xlsx(path: Path, label: str, text_columns: list[str], sheet) -> TableRead:
    _check_unzipped_size(path, label)
    try:
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet,
                              engine="openpyxl", dtype={c: str for c in text_columns})
    except ValueError as exc:
        if "Worksheet" in str(exc) or "sheet" in str(exc).lower():
            raise InputError("sheet not found", file=label, value=sheet,
                             expected="a sheet in the workbook") from None
        raise InputError(f"could not read the workbook: {exc}", file=label) from None
    except Exception as exc:  # zipfile.BadZipFile, openpyxl errors: a damaged workbook
        raise InputError(f"could not read the workbook ({type(exc).__name__})", file=label,
                         expected="an .xlsx file saved by Excel or LibreOffice") from None
    frame = _clean_columns(frame, label)
    _check_uncalculated_formulas(path, label, sheet)
    for col in text_columns:
        if col in frame.columns:
            frame[col] = frame[col].where(frame[col].notna(), None)
    return TableRead(frame, path, label)


def _check_unzipped_size(path: Path, label: str) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # read_excel names a damaged workbook
    if size > MAX_XLSX_UNZIPPED:
        raise InputError("the workbook is too large to read", file=label,
                         value=f"{size / 2**20:.0f} MB unzipped",
                         expected=f"at most {MAX_XLSX_UNZIPPED // 2**20} MB unzipped; "
                                  "export the sheet as CSV instead")


def _check_uncalculated_formulas(path: Path, label: str, sheet) -> None:
    """Formula cells with no saved result (a workbook written by a program that does not
    calculate, such as a script, never opened in Excel) would read as blank: name them."""
    import openpyxl

    def worksheet(book):
        return book.worksheets[0] if sheet is None else (
            book.worksheets[sheet] if isinstance(sheet, int) else book[sheet])

    formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    values = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        found = []
        for row_f, row_v in zip(worksheet(formulas).iter_rows(), worksheet(values).iter_rows()):
            for cell_f, cell_v in zip(row_f, row_v):
                if cell_f.data_type == "f" and cell_v.value is None:
                    found.append(cell_f.coordinate)
        if found:
            shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10
                                             else "")
            raise InputError("formula cells have no saved value (they would read as blank)",
                             file=label, value=shown,
                             expected="open and save the workbook in Excel or LibreOffice so "
                                      "the results are stored, or paste the values")
    finally:
        formulas.close()
        values.close()


def _read_sav(path: Path, label: str, text_columns: list[str], keep_codes: set[str]) -> TableRead:
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except Exception as exc:  # pyreadstat.ReadstatError and friends: a damaged file
        raise InputError(f"could not read the SPSS file ({exc})", file=label,
                         expected="an SPSS .sav file") from None
    frame = _clean_columns(frame, label)
    # Value labels are applied to descriptive columns (gender 1 -> "Female"); item columns
    # keep their numeric codes because scoring needs the codes, not the labels.
    for col, labels in meta.variable_value_labels.items():
        col = col.strip()
        if col in keep_codes or col not in frame.columns:
            continue
        frame[col] = frame[col].map(lambda v, lab=labels: lab.get(v, v) if pd.notna(v) else v)
    for col in text_columns:
        if col in frame.columns:
            frame[col] = frame[col].map(_code_to_text)
    return TableRead(frame, path, label)


def _code_to_text(value):
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _read_parquet(path: Path, label: str, text_columns: list[str]) -> TableRead:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"could not read the Parquet file ({type(exc).__name__})", file=label,
                         expected="a Parquet file") from None
    frame = _clean_columns(frame.reset_index(drop=True), label)
    for col in text_columns:
        if col in frame.columns and not pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(_code_to_text)
    return TableRead(frame, path, label)


# --------------------------------------------------------------------------- writing

class WriteError(SpanalysisError, OSError):
    """An output could not be written (disk full, read-only, a folder in the way): one line
    naming the file and the cause. Also an :class:`OSError`, with its ``errno``."""

    exit_code = 1

    def __init__(self, path: Path, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = Path(path)
        self.cause = cause.strerror or type(cause).__name__

    def __str__(self) -> str:
        return f"could not write {self.path}: {self.cause}"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator:
    """Open a temporary file beside ``path``; on success rename it onto ``path``.

    A crash or exception leaves ``path`` untouched (no half-written or empty file) and
    removes the temporary file. A write that fails (disk full, read-only folder, a folder
    of that name in the way) raises :class:`WriteError` naming ``path`` and the cause.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open applies the umask, so the file gets the usual permissions (mkstemp's 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise WriteError(path, exc) from exc
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(path, exc) from exc
        raise


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutral_text(value):
    """One cell or name: an apostrophe before text that a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def _neutral_labels(labels: pd.Index) -> pd.Index:
    """An index or the header, with formula-like names (and level names) prefixed."""
    if isinstance(labels, pd.MultiIndex):
        out = labels.set_levels([_neutral_labels(level) for level in labels.levels])
    elif pd.api.types.is_object_dtype(labels) or pd.api.types.is_string_dtype(labels):
        out = pd.Index([_neutral_text(v) for v in labels], dtype=labels.dtype)
    else:
        out = labels.copy()
    out.names = [_neutral_text(name) for name in labels.names]
    return out


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe.

    OWASP "CSV injection": text starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return, in every cell, the header (column names) and the index (labels and names).
    Text and category columns are checked; numbers are left alone (a negative number is
    data, not a formula).
    """
    out = frame.copy()
    for i in range(out.shape[1]):
        series = out.iloc[:, i]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        elif not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        text = series.astype("string")
        risky = text.str.startswith(_FORMULA_PREFIXES).fillna(False)
        if risky.any():
            out.isetitem(i, series.astype(object).where(~risky, "'" + text.astype(object)))
    out.columns = _neutral_labels(out.columns)
    out.index = _neutral_labels(out.index)
    return out


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV or Parquet (by extension), atomically.

    CSV output is UTF-8 with formula-like text cells neutralised (see
    :func:`neutralise_formulas`); Parquet keeps the data as is.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".csv":
        with atomic_write(path, newline="") as handle:
            neutralise_formulas(frame).to_csv(handle, index=False)
    elif ext == ".parquet":
        with atomic_write(path, mode="wb") as handle:
            frame.to_parquet(handle, index=False)
    else:
        raise InputError("unsupported output type", file=str(path), value=path.suffix or "(none)",
                         expected=".csv or .parquet")
    return path


# --------------------------------------------------------------------------- YAML
class StrictYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader (libyaml's C parser when installed) that also refuses

    * a key given twice in one mapping (PyYAML silently keeps the last one), and
    * aliases (``&name`` / ``*name``): an "alias bomb" of nested aliases builds a document
      billions of items long from a few lines. No study file needs them.

    Every YAML file the project reads goes through it (see :func:`load_yaml`)."""

    def construct_document(self, node):
        _refuse_aliases(node)
        return super().construct_document(node)


def _refuse_aliases(root) -> None:
    """An alias makes the composer reuse a node object: any node met twice is one."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (&name / *name) are not allowed", node.start_mark)
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


def _construct_unique_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_unique_mapping)


def load_yaml(text: str):
    """The data in YAML ``text``, read by :class:`StrictYamlLoader` (raises
    ``yaml.YAMLError``, with the line in ``problem_mark``)."""
    return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
